"""Record the digits CNN's analysis, fidelity, recovery, trade-off, frontier, per-layer
timings (eager fp32; ONNX Runtime int8 with the roofline bound) and ``b``'s matrix for the
Model tab's snapshot tests and screenshots (tests/data/digits_*.json), through the child's own
handler.

Run: .venv/bin/python scripts/record_model_states.py DIGITS_DIR [NAME ...]   (DIGITS_DIR:
make.py's output; NAME: analysis, fidelity, recovery, tradeoff, frontier, layers,
layers_int8 or matrix; default: all)
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

from sepconv_tui.ipc.wire import Request, encode
from sepconv_tui.model.describe.source import parse_source
from sepconv_tui.model.swapping.job import ModelJob
from sepconv_tui.model.vocabulary.analysis import Selection
from sepconv_tui.workers.model_messages import (
    AnalyseModel,
    BenchLayers,
    BenchModel,
    FrontierMeasured,
    MeasureFidelity,
    MeasureFrontier,
    MeasureTradeoff,
    RecoverModel,
)
from sepconv_tui.workers.model_server import HANDLERS

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
#: The source as typed from the repository's root, so the recording names no machine's paths.
SOURCE = "examples/digits/model.py:build"
SWAPPED = ("features.0", "features.10", "features.3", "features.7")


def record(name: str, request: Request) -> None:  # type: ignore[type-arg]
    """Answer ``request`` as the child would and write its reply's wire form."""
    reply = HANDLERS[type(request)](request, lambda _progress: None)
    if isinstance(reply, FrontierMeasured):  # its cache key names this machine's files
        reply = replace(reply, sensitivity=replace(reply.sensitivity, key={}))
    (DATA / f"digits_{name}.json").write_text(encode(reply), encoding="utf-8")
    print(DATA / f"digits_{name}.json")


def main() -> None:
    """Record the replies the snapshot states show (those named after DIGITS_DIR, or all)."""
    folder = Path(sys.argv[1])
    names = set(sys.argv[2:]) or {
        "analysis",
        "fidelity",
        "recovery",
        "tradeoff",
        "frontier",
        "layers",
        "layers_int8",
        "matrix",
    }
    weights, data = str(folder / "digits.pt"), str(folder / "data.pt")
    source = parse_source(SOURCE)
    if "analysis" in names:
        record("analysis", AnalyseModel(ModelJob(source, weights, selection=Selection("all"))))
    job = ModelJob(
        source,
        weights,
        selection=Selection("names", patterns=SWAPPED),
        depth_multiplier=dict.fromkeys(SWAPPED, 1),
    )
    if "fidelity" in names:
        record("fidelity", MeasureFidelity(job=job, data=data))
    if "recovery" in names:
        record("recovery", RecoverModel(job=job, data=data, mode="distill"))
    if "tradeoff" in names:
        record("tradeoff", MeasureTradeoff(job=job, data=data))
    if "frontier" in names:
        record("frontier", MeasureFrontier(job=job, data=data))
    if "layers" in names:  # eager, one thread: the runtime the tab starts with
        layers = replace(job, selection=Selection("all"), threads=1)
        record("layers", BenchLayers(layers))
    if "layers_int8" in names:  # after u u p: ONNX Runtime at int8, with the bound
        layers = replace(job, selection=Selection("all"), threads=1)
        record("layers_int8", BenchLayers(layers, runtime="onnxruntime", precision="int8"))
    if "matrix" in names:  # b: every runtime × precision cell, one thread
        record("matrix", BenchModel(replace(job, threads=1)))


if __name__ == "__main__":
    main()
