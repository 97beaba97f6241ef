"""The child process that measures layers with PyTorch for the Layer, Network and Latency tabs.

``python -m sepconv_tui.workers.measure_server`` answers, one request line at a time
(workers/layer_messages.py): MeasureLayer → Measured (``core.measure.figures``),
VerifyNetwork → NetworkVerified (``core.measure.verify_network``), BenchLayer → a Progress per
stage, then LayerBenched (``core.latency.benchmark``); anything that fails → Failed. It ends at
end of input. The app runs it so that importing torch (about a second at a time under the GIL)
never freezes the UI thread; a benchmark gets a process of its own, which escape kills.
"""

from __future__ import annotations

from ..ipc.serve import Handlers, Report, serve
from .layer_messages import (
    BenchLayer,
    LayerBenched,
    Measured,
    MeasureLayer,
    NetworkVerified,
    VerifyNetwork,
)


def measure_layer(request: MeasureLayer, report: Report) -> Measured:
    """PyTorch's figures of the layer (torch is imported by the first request)."""
    from ..core import measure

    return Measured(measure.figures(request.spec))


def verify_network(request: VerifyNetwork, report: Report) -> NetworkVerified:
    """Which of a published network's totals PyTorch confirms."""
    from ..core import measure
    from ..core.networks import network_report

    network = network_report(request.name, request.width_multiplier, request.resolution)
    verified = measure.verify_network(network).verified
    assert verified is not None  # verify_network sets it
    return NetworkVerified(verified)


def bench_layer(request: BenchLayer, report: Report) -> LayerBenched:
    """Both sides of the layer timed, with a Progress per stage."""
    from ..core.latency import benchmark

    result = benchmark(
        request.spec,
        request.device,
        request.threads,
        request.budget_bytes,
        progress=report,
        channels_last=request.channels_last,
    )
    return LayerBenched(result)


HANDLERS: Handlers = {
    MeasureLayer: measure_layer,
    VerifyNetwork: verify_network,
    BenchLayer: bench_layer,
}


def main() -> None:
    """Answer requests until standard input closes."""
    # torch's RuntimeErrors (no CUDA, out of memory): their first line.
    serve(HANDLERS, plain=(RuntimeError,))


if __name__ == "__main__":
    main()
