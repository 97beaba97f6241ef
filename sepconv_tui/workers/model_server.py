"""The child process that analyses, times and measures whole models for the Model tab.

``python -m sepconv_tui.workers.model_server`` answers, one request line at a time
(workers/model_messages.py), by its handler table: ListModels → ModelNames
(``model.describe.source.model_names``), AnalyseModel → ModelAnalysed
(``model.describe.trace.analyze_model``), BenchModel → a Progress per runtime × precision cell,
then ModelBenched (the matrix, ``model.latency.bench.benchmark_model``); BenchLayers → a
Progress per layer, then LayersBenched (``model.latency.bench.benchmark_layers``, with roofline
bounds); both measure this machine's limits first when the cache has none (a Progress
"limits"); MeasureFidelity, RecoverModel and MeasureTradeoff → Progress as they go, then
FidelityMeasured, ModelRecovered (the model saved by ``model.swapping.swap.save``, and as ONNX by
``model.deploy.export.export_swap`` when the [deploy] extra is installed) and TradeoffMeasured
(``model.workflow.Workflow`` on the request's device and memory budget); anything that
fails → Failed, with the field of a UserError. It ends at end of input. What a request
built (the model with its weights, the loaded data) stays in CACHE for the next request made
from the same.

The app keeps one analysis process running, and one for fidelity, recovery and the
trade-off, so that torch, torchvision and timm are imported once, off the UI process (whose
GIL a torch import would hold for seconds); it kills the process to cancel and starts a fresh
one for the next request. A benchmark, whole-model or per layer, gets a process of its own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..ipc.serve import Handlers, Report, serve
from ..model.swapping.cache import BuildCache
from .model_messages import (
    AnalyseModel,
    BenchLayers,
    BenchModel,
    FidelityMeasured,
    FrontierMeasured,
    LayersBenched,
    ListModels,
    MeasureFidelity,
    MeasureFrontier,
    MeasureTradeoff,
    ModelAnalysed,
    ModelBenched,
    ModelNames,
    ModelRecovered,
    ModelWork,
    RecoverModel,
    TradeoffMeasured,
    Warmed,
    WarmUp,
)

if TYPE_CHECKING:
    from ..model.workflow import Workflow

#: The model built and the data loaded by the last request, for the next one of the same
#: (a second f, r or g on one model and image folder decodes nothing again).
CACHE = BuildCache()


def workflow(request: ModelWork) -> Workflow:
    """The engine's Workflow for ``request``: its job (the swap by name, each candidate's own
    m) on the job's device (DeviceError, field "device", when that cannot run here), threads
    and memory budget."""
    from ..model.measure.distributed import Ranks, resolve_device
    from ..model.workflow import Workflow

    job = request.job
    ranks = Ranks(resolve_device(job.device))
    if job.threads is not None:
        import torch

        torch.set_num_threads(job.threads)
    return Workflow(job, request.data, holdout=request.holdout, cache=CACHE, ranks=ranks)


def warm_up(request: WarmUp, report: Report) -> Warmed:
    """Import torch and the engine now, before the first real request."""
    from ..model import workflow as _workflow  # noqa: F401  # imports torch and the engine

    return Warmed()


def measure_fidelity(request: MeasureFidelity, report: Report) -> FidelityMeasured:
    """The swap against the original on the held-out samples."""
    return FidelityMeasured(workflow(request).fidelity(report, held_out_only=True))


def recover_model(request: RecoverModel, report: Report) -> ModelRecovered:
    """Reconstruct (and distill) the swap; save it into ``out_dir`` when given, with
    swapped.onnx beside it (or the reason there is none: the reply carries either)."""
    recovery = workflow(request).recover(request.mode, progress=report)
    onnx: dict[str, Any] | None = None
    onnx_error: str | None = None
    if request.out_dir is not None:
        from ..model.deploy.export import ExportError, export_swap, require_deploy
        from ..model.swapping.swap import save

        save(recovery.result, request.out_dir, fidelity=recovery.to_dict())
        try:
            require_deploy()
            onnx = export_swap(recovery.result, request.out_dir).to_dict()
        except ExportError as error:  # the recovery stands; the summary says why no ONNX
            onnx_error = error.message
    return ModelRecovered(
        recovery.mode,
        recovery.stages,
        recovery.calibration,
        recovery.holdout,
        recovery.steps,
        request.out_dir,
        onnx,
        onnx_error,
        recovery.curve,
    )


def measure_tradeoff(request: MeasureTradeoff, report: Report) -> TradeoffMeasured:
    """MACs against held-out agreement as the swap grows."""
    tradeoff, _analysis = workflow(request).tradeoff(report)
    return TradeoffMeasured(tradeoff)


def measure_frontier(request: MeasureFrontier, report: Report) -> FrontierMeasured:
    """The sensitivity and its frontier, the point keeping agreement ≥ the budget measured
    (each rung timed on ``seconds_on`` when given, so each point says the seconds it saves)."""
    from dataclasses import replace

    from ..model.vocabulary.analysis import Selection

    budget = Selection("agreement", min_agreement=request.budget)
    made = replace(workflow(request), budget=budget, seconds_on=request.seconds_on)
    chosen = made.resolve(report)
    assert chosen.sensitivity is not None
    return FrontierMeasured(chosen.sensitivity, chosen.frontier)


def list_models(request: ListModels, report: Report) -> ModelNames:
    """Every model name the installed packages can build."""
    from ..model.describe.source import model_names

    return ModelNames(model_names())


def analyse_model(request: AnalyseModel, report: Report) -> ModelAnalysed:
    """The model analysed as ``sepconv-tui model`` analyses it."""
    from ..model.describe.trace import analyze_model

    job = request.job
    analysis = analyze_model(
        job.source,
        input_shape=job.input_shape,
        select=job.selection,
        depth_multiplier=job.depth_multiplier,
        weights=job.weights,
    )
    return ModelAnalysed(analysis)


def measured_limits(threads: int | None, report: Report) -> None:
    """This machine's roofline limits at ``threads`` (torch's default: None) in the cache,
    measured now (a few seconds, said by a Progress) when they are not there yet."""
    import torch

    from ..model.latency.roofline import machine_limits, measure_limits
    from ..progress import Progress

    def measure(count: int) -> Any:
        report(Progress("limits", 0, 1, f"{count} thread{'s' if count != 1 else ''}"))
        return measure_limits(count)

    machine_limits(threads if threads is not None else torch.get_num_threads(), measure=measure)


def bench_model(request: BenchModel, report: Report) -> ModelBenched:
    """The original and the selection timed in every runtime × precision cell (as ``bench
    --runtime all --precision all``; a timing process per cell), with a Progress per cell."""
    from ..model.latency.bench import benchmark_model
    from ..model.vocabulary.runtimes import runtimes_for

    measured_limits(request.job.threads, report)
    if request.data is not None:  # the levers, measured on the data's test split
        from ..model.workflow import Workflow

        measured = Workflow(request.job, request.data, cache=CACHE).bench(
            runtimes_for("all"), None, min_run_time=request.min_run_time, progress=report
        )
        return ModelBenched(measured)
    result = benchmark_model(
        request.job,
        runtimes=runtimes_for("all"),
        precision=None,
        min_run_time=request.min_run_time,
        progress=report,
    )
    return ModelBenched(result)


def bench_layers(request: BenchLayers, report: Report) -> LayersBenched:
    """Each candidate conv against its block, alone, on the request's runtime at its
    precision (a timing process of this one's, which ends itself when this one is killed to
    cancel), with a Progress per layer, and each layer's roofline bound."""
    from ..model.latency.bench import benchmark_layers
    from ..model.vocabulary.runtimes import parse_precision

    measured_limits(request.job.threads, report)
    result = benchmark_layers(
        request.job,
        (request.runtime,),
        precision=parse_precision(request.precision),
        bounds=True,
        min_run_time=request.min_run_time,
        progress=report,
    )
    return LayersBenched(result)


HANDLERS: Handlers = {
    ListModels: list_models,
    AnalyseModel: analyse_model,
    BenchModel: bench_model,
    BenchLayers: bench_layers,
    WarmUp: warm_up,
    MeasureFidelity: measure_fidelity,
    RecoverModel: recover_model,
    MeasureTradeoff: measure_tradeoff,
    MeasureFrontier: measure_frontier,
}


def main() -> None:
    """Answer requests until standard input closes."""
    serve(HANDLERS)


if __name__ == "__main__":
    main()
