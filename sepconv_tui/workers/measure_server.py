"""The child process that measures layers with PyTorch for the Layer, Network and Latency tabs.

``python -m sepconv_tui.workers.measure_server`` answers, one request line at a time
(workers/messages.py): MeasureLayer → Measured (``core.measure.figures``), VerifyNetwork →
NetworkVerified (``core.measure.verify_network``), BenchLayer → a Progress per stage, then
LayerBenched (``core.latency.benchmark``); anything that fails → Failed. It ends at end of input.
The app runs it so that importing torch (about a second at a time under the GIL) never freezes
the UI thread; a benchmark gets a process of its own, which escape kills.
"""

from __future__ import annotations

from .messages import (
    BenchLayer,
    LayerBenched,
    Measured,
    MeasureLayer,
    NetworkVerified,
    Progress,
    Reply,
    Request,
    VerifyNetwork,
)
from .serve import Report, serve


def handle(request: Request[Reply], report: Report) -> Reply:
    """Answer one request (torch is imported by the first one that needs it)."""
    from ..core import measure

    if isinstance(request, MeasureLayer):
        return Measured(measure.figures(request.spec))
    if isinstance(request, VerifyNetwork):
        from ..core.networks import network_report

        network = network_report(request.name, request.width_multiplier, request.resolution)
        verified = measure.verify_network(network).verified
        assert verified is not None  # verify_network sets it
        return NetworkVerified(verified)
    if isinstance(request, BenchLayer):
        from ..core.latency import STAGES, benchmark

        result = benchmark(
            request.spec,
            request.device,
            request.threads,
            request.budget_bytes,
            progress=lambda index, label: report(Progress("bench", index, len(STAGES), label)),
            channels_last=request.channels_last,
        )
        return LayerBenched(result)
    raise ValueError(f"the measure server does not answer {request.kind}")


def main() -> None:
    """Answer requests until standard input closes."""
    # torch's RuntimeErrors (no CUDA, out of memory) and MeasurementError: their first line.
    serve(handle, plain=(RuntimeError,))


if __name__ == "__main__":
    main()
