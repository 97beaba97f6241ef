"""The child process that analyses and times whole models for the Model tab.

``python -m sepconv_tui.workers.model_server`` answers, one request line at a time
(workers/messages.py): ListModels → ModelNames (``model.source.model_names``), AnalyseModel →
ModelAnalysed (``model.trace.analyze_model``), BenchModel → a Progress per stage, then
ModelBenched (``model.bench.benchmark_model``); anything that fails → Failed, with the field
of a UserError (the engine's message, with its suggestion). It ends at end of input.

The app keeps one analysis process running so that torch, torchvision and timm are imported
once, off the UI process (whose GIL a torch import would hold for seconds); it kills the
process to cancel an analysis and starts a fresh one for the next request. A benchmark gets a
process of its own.
"""

from __future__ import annotations

from .messages import (
    AnalyseModel,
    BenchModel,
    ListModels,
    ModelAnalysed,
    ModelBenched,
    ModelNames,
    Progress,
    Reply,
    Request,
)
from .serve import Report, serve


def handle(request: Request[Reply], report: Report) -> Reply:
    """Answer one request (torch is imported by the first one that needs it)."""
    if isinstance(request, ListModels):
        from ..model.source import model_names

        return ModelNames(model_names())
    if isinstance(request, AnalyseModel):
        from ..model.trace import analyze_model

        analysis = analyze_model(
            request.source,
            input_shape=request.input_shape,
            select=request.select,
            depth_multiplier=request.depth_multiplier,
            weights=request.weights,
        )
        return ModelAnalysed(analysis)
    if isinstance(request, BenchModel):
        from ..model.bench import STAGES, benchmark_model

        result = benchmark_model(
            request.source,
            select=request.select,
            input_shape=request.input_shape,
            depth_multiplier=request.depth_multiplier,
            device=request.device,
            threads=request.threads,
            weights=request.weights,
            min_run_time=request.min_run_time,
            progress=lambda index, label: report(Progress("bench", index, len(STAGES), label)),
        )
        return ModelBenched(result)
    raise ValueError(f"the model server does not answer {request.kind}")


def main() -> None:
    """Answer requests until standard input closes."""
    serve(handle)


if __name__ == "__main__":
    main()
