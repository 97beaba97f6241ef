"""What the Layer, Network and Latency tabs ask workers/measure_server.py, and its replies.

Importing this module loads no torch: the results travel as the core's plain data classes.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..core.figures import Figures
from ..core.latency import BenchResult
from ..core.spec import LayerSpec
from ..ipc.wire import Reply, Request, nested


@dataclass(frozen=True)
class Measured(Reply):
    """PyTorch's figures of a layer."""

    kind = "measured"
    figures: Figures = nested(Figures)


@dataclass(frozen=True)
class MeasureLayer(Request[Measured]):
    """Measure both sides of ``spec`` with PyTorch (``core.measure.figures``)."""

    kind = "measure_layer"
    reply = Measured
    spec: LayerSpec = nested(LayerSpec)


@dataclass(frozen=True)
class NetworkVerified(Reply):
    """Which of a network's totals PyTorch confirms (``NetworkReport.verified``)."""

    kind = "network_verified"
    verified: dict[str, bool]


@dataclass(frozen=True)
class VerifyNetwork(Request[NetworkVerified]):
    """Have PyTorch build and count a published network (``core.measure.verify_network``)."""

    kind = "verify_network"
    reply = NetworkVerified
    name: str
    width_multiplier: float
    resolution: int


@dataclass(frozen=True)
class LayerBenched(Reply):
    """A layer's measured forward-pass times."""

    kind = "layer_benched"
    result: BenchResult = nested(BenchResult)


@dataclass(frozen=True)
class BenchLayer(Request[LayerBenched]):
    """Time both sides of ``spec`` (``core.latency.benchmark``), with a Progress per stage."""

    kind = "bench_layer"
    reply = LayerBenched
    spec: LayerSpec = nested(LayerSpec)
    device: str = "cpu"
    threads: int | None = None
    budget_bytes: int | None = None
    channels_last: bool = False
