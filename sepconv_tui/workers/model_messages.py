"""What the Model tab asks workers/model_server.py, and its replies.

Importing this module loads no torch and none of the engine's measuring modules: the results
travel as plain data classes (model.vocabulary.analysis, model.latency.bench,
model.results.fidelity_result, model.results.tradeoff_result, model.results.sensitivity_result;
an ONNX export as its JSON object).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..core.latency import MIN_RUN_TIME_S
from ..ipc.wire import Reply, Request, nested, nested_tuple
from ..model.results.bench_result import MODEL_MIN_RUN_TIME_S, LayerBench, ModelBenchResult
from ..model.results.fidelity_result import Fidelity
from ..model.results.recovery_result import CurvePoint
from ..model.results.sensitivity_result import Frontier, Sensitivity
from ..model.results.tradeoff_result import Tradeoff
from ..model.swapping.job import ModelJob
from ..model.vocabulary.analysis import ModelAnalysis


@dataclass(frozen=True)
class ModelNames(Reply):
    """Every model name the installed torchvision and timm can build."""

    kind = "model_names"
    names: list[str]


@dataclass(frozen=True)
class ListModels(Request[ModelNames]):
    """Ask for ModelNames (``model.describe.source.model_names``)."""

    kind = "list_models"
    reply = ModelNames


@dataclass(frozen=True)
class ModelAnalysed(Reply):
    """A whole model's analysis."""

    kind = "model_analysed"
    analysis: ModelAnalysis = nested(ModelAnalysis)


@dataclass(frozen=True)
class AnalyseModel(Request[ModelAnalysed]):
    """Analyse the job's model as ``sepconv-tui model`` does
    (``model.describe.trace.analyze_model``): its source, input, weights and selection."""

    kind = "analyse_model"
    reply = ModelAnalysed
    job: ModelJob = nested(ModelJob)


@dataclass(frozen=True)
class ModelBenched(Reply):
    """The original and the swapped model's measured forward-pass times in every cell (the
    matrix, its best of each side, the machine)."""

    kind = "model_benched"
    result: ModelBenchResult = nested(ModelBenchResult)


@dataclass(frozen=True)
class BenchModel(Request[ModelBenched]):
    """Time the job's original and its swap in every runtime × precision cell this machine
    can run (``model.latency.bench.benchmark_model``, as ``bench --runtime all --precision all``
    does), with Progress; with ``data``, each timed cell's two models also measured on its
    test split (as ``bench --data``)."""

    kind = "bench_model"
    reply = ModelBenched
    job: ModelJob = nested(ModelJob)
    min_run_time: float = MODEL_MIN_RUN_TIME_S
    data: str | None = None


@dataclass(frozen=True)
class LayersBenched(Reply):
    """Every candidate conv and its block timed alone, and the whole original, on a runtime."""

    kind = "layers_benched"
    result: LayerBench = nested(LayerBench)


@dataclass(frozen=True)
class BenchLayers(Request[LayersBenched]):
    """Time each candidate conv against its block (``model.latency.bench.benchmark_layers``) on
    ``runtime`` at ``precision``, with each layer's roofline bound (this machine's limits
    measured once, then cached), with a Progress per layer."""

    kind = "bench_layers"
    reply = LayersBenched
    job: ModelJob = nested(ModelJob)  # its selection, and each candidate's m
    runtime: str = "eager"  # a name in the runtime table (model.vocabulary.runtimes)
    precision: str = "fp32"  # one of the precisions that runtime runs
    min_run_time: float = MIN_RUN_TIME_S


@dataclass(frozen=True)
class Warmed(Reply):
    """torch and the fidelity engine are imported: the next request starts at once."""

    kind = "warmed"


@dataclass(frozen=True)
class WarmUp(Request[Warmed]):
    """Import torch and the workflows now (the first key in the Data field sends it)."""

    kind = "warm_up"
    reply = Warmed


@dataclass(frozen=True, kw_only=True)
class ModelWork:
    """What fidelity, recovery and the trade-off start from (``model.workflow.Workflow``):
    the job (the model, its weights, the swapped layers and each candidate's m, the device,
    threads and memory budget) and the data."""

    job: ModelJob = nested(ModelJob)
    data: str
    holdout: int | None = None


@dataclass(frozen=True)
class FidelityMeasured(Reply):
    """The swap against the original on the held-out samples."""

    kind = "fidelity_measured"
    fidelity: Fidelity = nested(Fidelity)


@dataclass(frozen=True)
class MeasureFidelity(ModelWork, Request[FidelityMeasured]):
    """``Workflow.fidelity(held_out_only=True)``, with a Progress per batch."""

    kind = "measure_fidelity"
    reply = FidelityMeasured


@dataclass(frozen=True)
class ModelRecovered(Reply):
    """A recovery's held-out fidelity after each stage; the model is saved in ``out_dir``."""

    kind = "model_recovered"
    mode: str
    stages: tuple[Fidelity, ...] = nested_tuple(Fidelity)
    calibration: int = 0
    holdout: int = 0
    steps: int = 0
    out_dir: str | None = None
    # out_dir/swapped.onnx as ``model.deploy.export.ExportedModel.to_dict`` gives it
    # (model.deploy.export is measuring code the app does not load): path, relative_error,
    # depthwise_nodes, …
    onnx: dict[str, Any] | None = None
    onnx_error: str | None = None  # why swapped.onnx was not written (no [deploy], an op)
    curve: tuple[CurvePoint, ...] = nested_tuple(CurvePoint, default=())  # distillation's


@dataclass(frozen=True)
class RecoverModel(ModelWork, Request[ModelRecovered]):
    """``Workflow.recover`` (``mode`` "reconstruct" or "distill"), then ``model.swapping.swap.save``
    into ``out_dir`` (when given) and ``model.deploy.export.export_swap`` beside it (when the
    [deploy] extra is installed), with a Progress per layer, step and batch."""

    kind = "recover_model"
    reply = ModelRecovered
    mode: str = "reconstruct"
    out_dir: str | None = None


@dataclass(frozen=True)
class TradeoffMeasured(Reply):
    """MACs against held-out agreement as the swap grows."""

    kind = "tradeoff_measured"
    tradeoff: Tradeoff = nested(Tradeoff)


@dataclass(frozen=True)
class MeasureTradeoff(ModelWork, Request[TradeoffMeasured]):
    """``Workflow.tradeoff`` (each candidate ranked alone, then every prefix), with Progress."""

    kind = "measure_tradeoff"
    reply = TradeoffMeasured


@dataclass(frozen=True)
class FrontierMeasured(Reply):
    """The sensitivity table (layer × m) and its frontier in MACs, the point that keeps
    agreement ≥ the budget measured whole (``chosen``)."""

    kind = "frontier_measured"
    sensitivity: Sensitivity = nested(Sensitivity)
    frontier: Frontier = nested(Frontier)


@dataclass(frozen=True)
class MeasureFrontier(ModelWork, Request[FrontierMeasured]):
    """``Workflow.resolve`` of agreement:``budget``: the sensitivity (measured, or reused when
    kept for this model and data), its frontier, the deciding points measured by bisection;
    with ``seconds_on``, each rung also timed on that runtime (or its timings reused)."""

    kind = "measure_frontier"
    reply = FrontierMeasured
    budget: float = 0.99
    seconds_on: str | None = None  # a name in the runtime table: ``l`` after ``g``
