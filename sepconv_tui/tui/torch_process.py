"""The Layer, Network and Latency tabs' PyTorch work, done by workers/measure_server.py.

One measurement process starts on the first request and then answers each measurement in
about a millisecond; a benchmark runs in a process of its own, so that escape can kill it
without losing the measurer's warm torch.
"""

from __future__ import annotations

from dataclasses import replace

from ..core.figures import Figures
from ..core.measure import MeasurementError
from ..core.networks import NetworkReport
from ..core.spec import LayerSpec
from ..workers.messages import BenchLayer, LayerBenched, MeasureLayer, VerifyNetwork
from .child_process import Call, ChildError, ChildProcess

MEASURE_SERVER = "sepconv_tui.workers.measure_server"

_measurer = ChildProcess(
    MEASURE_SERVER, stopped="the PyTorch process stopped; edit a field to retry"
)


def measure_figures(spec: LayerSpec) -> Figures:
    """``measure.figures(spec)``, computed by the child process."""
    try:
        return _measurer.ask(MeasureLayer(spec)).figures
    except ChildError as error:
        raise MeasurementError(error.message) from error


def verify_network(report: NetworkReport) -> NetworkReport:
    """``measure.verify_network(report)``, computed by the child process."""
    request = VerifyNetwork(report.name, report.width_multiplier, report.resolution)
    try:
        verified = _measurer.ask(request).verified
    except ChildError as error:
        raise MeasurementError(error.message) from error
    return replace(report, verified=verified)


def layer_bench(spec: LayerSpec, device: str, threads: int | None) -> Call[LayerBenched]:
    """A latency benchmark of ``spec`` (``sepconv-tui bench``), in a process of its own."""
    process = ChildProcess(
        MEASURE_SERVER, one_shot=True, stopped="the benchmark process stopped without a result"
    )
    return process.call(BenchLayer(spec, device, threads))
