"""The child processes' side, in this process: handler tables, and what the child keeps."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sepconv_tui.ipc.serve import answer
from sepconv_tui.ipc.wire import Failed, Message, Request, decode, encode
from sepconv_tui.model.describe.source import parse_source
from sepconv_tui.model.latency.timing_server import HANDLERS as TIMING_HANDLERS
from sepconv_tui.model.swapping.cache import BuildCache
from sepconv_tui.model.swapping.job import ModelJob
from sepconv_tui.model.vocabulary.analysis import Selection
from sepconv_tui.progress import Progress
from sepconv_tui.workers import model_server
from sepconv_tui.workers.measure_server import HANDLERS as MEASURE_HANDLERS
from sepconv_tui.workers.model_messages import (
    FidelityMeasured,
    LayersBenched,
    MeasureFidelity,
    MeasureTradeoff,
    ModelRecovered,
    TradeoffMeasured,
)
from sepconv_tui.workers.model_server import HANDLERS as MODEL_HANDLERS


def test_every_request_kind_has_one_handler_in_one_server() -> None:
    """Each Request class is answered by exactly one server's table."""
    requests = {kind for kind in Message.kinds.values() if issubclass(kind, Request)}
    servers = (MODEL_HANDLERS, MEASURE_HANDLERS, TIMING_HANDLERS)
    assert requests == set().union(*servers)
    assert sum(len(server) for server in servers) == len(requests)


def test_the_child_keeps_the_model_and_the_data_for_the_next_request(
    digits: dict[str, Any],
) -> None:
    """f twice, then g, on one model and one data file: built and loaded once; other data
    drops the loaded data (and only that), and the figures are those of a fresh child."""
    cache = model_server.CACHE = BuildCache()
    lines: list[Progress] = []
    job = ModelJob(
        parse_source(digits["source"]),
        weights=str(digits["weights"]),
        selection=Selection("names", patterns=("features.3",)),
        depth_multiplier={"features.3": 1},
        threads=1,
    )
    request = MeasureFidelity(job=job, data=str(digits["data"]))
    first = MODEL_HANDLERS[MeasureFidelity](request, lines.append)
    second = MODEL_HANDLERS[MeasureFidelity](request, lines.append)
    assert isinstance(first, FidelityMeasured) and first == second
    tradeoff = MODEL_HANDLERS[MeasureTradeoff](
        MeasureTradeoff(job=job, data=str(digits["data"])),
        lines.append,
    )
    assert isinstance(tradeoff, TradeoffMeasured)
    assert cache.builds == {"original": 1, "data": 1}
    other = MeasureFidelity(job=job, data="synthetic:64")
    MODEL_HANDLERS[MeasureFidelity](other, lines.append)
    assert cache.builds == {"original": 1, "data": 2}
    model_server.CACHE = BuildCache()
    fresh = MODEL_HANDLERS[MeasureFidelity](request, lines.append)
    assert fresh == first
    assert lines and all(isinstance(line, Progress) for line in lines)


def test_the_tradeoff_factorises_each_candidate_once(
    digits: dict[str, Any], monkeypatch: Any
) -> None:
    """Every candidate ranked alone and every prefix measured: one SVD of each candidate."""
    from sepconv_tui.model.swapping import swap

    factorised: list[int] = []
    real = swap.svd_factors

    def counted(*args: Any) -> Any:
        factorised.append(1)
        return real(*args)

    monkeypatch.setattr(swap, "svd_factors", counted)
    model_server.CACHE = BuildCache()
    job = ModelJob(parse_source(digits["source"]), weights=str(digits["weights"]), threads=1)
    request = MeasureTradeoff(job=job, data=str(digits["data"]))
    reply = MODEL_HANDLERS[MeasureTradeoff](request, lambda _line: None)
    assert isinstance(reply, TradeoffMeasured)
    assert len(reply.tradeoff.order) == 4 and len(factorised) == 4


def test_per_layer_timings_and_the_onnx_export_cross_the_wire_as_they_are() -> None:
    """A LayersBenched (the recorded digits one) and a ModelRecovered carrying swapped.onnx's
    figures, or the reason there is none, decode to what was encoded."""
    layers = decode((Path(__file__).with_name("data") / "digits_layers.json").read_text())
    assert isinstance(layers, LayersBenched)
    assert decode(encode(layers)) == layers
    assert layers.result.runtimes == ("eager",)
    onnx = {"path": "x/swapped.onnx", "relative_error": 3e-7, "depthwise_nodes": 4}
    for recovered in (
        ModelRecovered("reconstruct", (), out_dir="x", onnx=onnx),
        ModelRecovered("reconstruct", (), out_dir="x", onnx_error="ONNX needs the onnx package"),
    ):
        assert decode(encode(recovered)) == recovered


def test_the_work_request_carries_the_device_and_the_child_names_a_bad_one() -> None:
    """MeasureFidelity on device "gpu": DeviceError, field "device", before any model is built."""
    job = ModelJob(parse_source("examples/digits/model.py:build"), device="gpu")
    request = MeasureFidelity(job=job, data="synthetic:8")
    failed = answer(encode(request), MODEL_HANDLERS)
    assert isinstance(failed, Failed)
    assert failed.field == "device" and "'gpu'" in failed.message
