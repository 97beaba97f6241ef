"""The child process that analyses and times whole models for the Model tab.

``python -m sepconv_tui.workers.model_server`` answers, one request line at a time
(workers/messages.py): ListModels → ModelNames (``model.source.model_names``), AnalyseModel →
ModelAnalysed (``model.trace.analyze_model``), BenchModel → a Progress per stage, then
ModelBenched (``model.bench.benchmark_model``); MeasureFidelity, RecoverModel and
MeasureTradeoff → Progress as they go, then FidelityMeasured, ModelRecovered (the model saved
by ``model.swap.save``) and TradeoffMeasured (``model.workflow.Workflow``); anything that fails
→ Failed, with the field of a UserError (the engine's message, with its suggestion). It ends at
end of input.

The app keeps one analysis process running, and one for fidelity, recovery and the
trade-off, so that torch, torchvision and timm are imported
once, off the UI process (whose GIL a torch import would hold for seconds); it kills the
process to cancel an analysis and starts a fresh one for the next request. A benchmark gets a
process of its own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .messages import (
    AnalyseModel,
    BenchModel,
    FidelityMeasured,
    ListModels,
    MeasureFidelity,
    MeasureTradeoff,
    ModelAnalysed,
    ModelBenched,
    ModelNames,
    ModelRecovered,
    ModelWork,
    Progress,
    RecoverModel,
    Reply,
    Request,
    TradeoffMeasured,
    Warmed,
    WarmUp,
)
from .serve import Report, serve

if TYPE_CHECKING:
    from ..model.workflow import Workflow


def workflow(request: ModelWork) -> Workflow:
    """The engine's Workflow for ``request``: its swap by name, each candidate's own m."""
    from ..model.analysis import Selection
    from ..model.workflow import Workflow

    if request.threads is not None:
        import torch

        torch.set_num_threads(request.threads)
    return Workflow(
        request.source,
        request.data,
        weights=request.weights,
        selection=(
            Selection("names", patterns=tuple(request.swap)) if request.swap else Selection("none")
        ),
        depth_multiplier=dict(request.multipliers) or 1,
        input_shape=request.input_shape,
        holdout=request.holdout,
    )


def handle_work(request: Request[Reply], report: Report) -> Reply | None:
    """Answer a fidelity, recovery or trade-off request (None: not one of them)."""

    def progress(stage: str, done: int, total: int, label: str) -> None:
        report(Progress(stage, done, total, label))

    if isinstance(request, WarmUp):
        from ..model import workflow as _workflow  # noqa: F401  # imports torch and the engine

        return Warmed()
    if isinstance(request, MeasureFidelity):
        fidelity = workflow(request).fidelity(progress, held_out_only=True)
        return FidelityMeasured(fidelity)
    if isinstance(request, RecoverModel):
        recovery = workflow(request).recover(request.mode, progress=progress)
        if request.out_dir is not None:
            from ..model.swap import save

            save(recovery.result, request.out_dir, fidelity=recovery.to_dict())
        return ModelRecovered(
            recovery.mode,
            recovery.stages,
            recovery.calibration,
            recovery.holdout,
            recovery.steps,
            request.out_dir,
        )
    if isinstance(request, MeasureTradeoff):
        tradeoff, _analysis = workflow(request).tradeoff(progress)
        return TradeoffMeasured(tradeoff)
    return None


def handle(request: Request[Reply], report: Report) -> Reply:
    """Answer one request (torch is imported by the first one that needs it)."""
    work = handle_work(request, report)
    if work is not None:
        return work
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
            depth_multiplier=dict(request.multipliers) or request.depth_multiplier,
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
