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
from ..errors import UserError
from ..ipc.client import ChildProcess
from ..workers.layer_messages import MeasureLayer, VerifyNetwork

MEASURE_SERVER = "sepconv_tui.workers.measure_server"

_measurer = ChildProcess(MEASURE_SERVER, retry="edit a field to retry")


def measure_figures(spec: LayerSpec) -> Figures:
    """``measure.figures(spec)``, computed by the child process."""
    try:
        return _measurer.ask(MeasureLayer(spec)).figures
    except UserError as error:
        raise MeasurementError(error.message) from error


def verify_network(report: NetworkReport) -> NetworkReport:
    """``measure.verify_network(report)``, computed by the child process."""
    request = VerifyNetwork(report.name, report.width_multiplier, report.resolution)
    try:
        verified = _measurer.ask(request).verified
    except UserError as error:
        raise MeasurementError(error.message) from error
    return replace(report, verified=verified)


def bench_process() -> ChildProcess:
    """The process a layer's benchmark (``sepconv-tui bench``) runs in: one per run."""
    return ChildProcess(
        MEASURE_SERVER, one_shot=True, name="the benchmark process", retry="press b to retry"
    )
