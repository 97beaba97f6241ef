"""What the app and its child processes say to each other: one small dataclass a message.

Both sides import this module; the wire is JSON lines, each ``{"kind": …, …fields}``. The app
writes one Request; the child answers with any number of Progress lines, then the request's
reply, or Failed. A new request is one dataclass here and one handler in its server: the
client, the loop and the wire stay as they are. Importing this module loads no torch.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import MISSING, dataclass, field, fields
from typing import Any, ClassVar, Generic, TypeVar

from ..core.figures import Figures
from ..core.latency import BenchResult
from ..core.spec import LayerSpec
from ..model.analysis import ModelAnalysis, Shape
from ..model.bench import MODEL_MIN_RUN_TIME_S, ModelBenchResult
from ..model.fidelity import Fidelity
from ..model.tradeoff import Tradeoff


class Message:
    """Base of every message; ``kind`` names it on the wire (its subclasses register by it)."""

    kind: ClassVar[str]
    kinds: ClassVar[dict[str, type[Message]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "kind" in cls.__dict__:
            Message.kinds[cls.kind] = cls


class Reply(Message):
    """A request's answer (the base of each request's own reply type)."""


ReplyType = TypeVar("ReplyType", bound=Reply)


class Request(Message, Generic[ReplyType]):
    """A message from the app; the child answers with Progress, then a ``reply`` or Failed."""

    reply: ClassVar[type[Reply]]


@dataclass(frozen=True)
class Progress(Message):
    """How far a request has got: ``done`` of ``total`` steps of ``stage``; ``label`` says what.

    One shape for every long request: a benchmark's stages, a fit's layers, a training step.
    """

    kind = "progress"
    stage: str
    done: int
    total: int
    label: str


@dataclass(frozen=True)
class Failed(Message):
    """The request failed: the message is for the user as is; ``field`` names what is at fault.

    ``field`` is ``UserError.field`` ("source", "input_shape", "weights", …), or None.
    """

    kind = "failed"
    message: str
    field: str | None = None


def _nested(kind: Any, *, default: Any = MISSING) -> Any:
    """A field holding one of the data classes with ``to_dict``/``from_dict``."""
    return field(default=default, metadata={"encode": kind.to_dict, "decode": kind.from_dict})


def _shape(default: Any = MISSING) -> Any:
    """A field holding a shape (a tuple on this side, a list or null on the wire)."""
    return field(
        default=default,
        metadata={
            "encode": list,
            "decode": lambda value: tuple(int(size) for size in value),
        },
    )


# The Layer and Network tabs (workers/measure_server.py) ------------------------------------


@dataclass(frozen=True)
class Measured(Reply):
    """PyTorch's figures of a layer."""

    kind = "measured"
    figures: Figures = _nested(Figures)


@dataclass(frozen=True)
class MeasureLayer(Request[Measured]):
    """Measure both sides of ``spec`` with PyTorch (``core.measure.figures``)."""

    kind = "measure_layer"
    reply = Measured
    spec: LayerSpec = _nested(LayerSpec)


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
    result: BenchResult = _nested(BenchResult)


@dataclass(frozen=True)
class BenchLayer(Request[LayerBenched]):
    """Time both sides of ``spec`` (``core.latency.benchmark``), with a Progress per stage."""

    kind = "bench_layer"
    reply = LayerBenched
    spec: LayerSpec = _nested(LayerSpec)
    device: str = "cpu"
    threads: int | None = None
    budget_bytes: int | None = None
    channels_last: bool = False


# The Model tab (workers/model_server.py) -----------------------------------------------------


@dataclass(frozen=True)
class ModelNames(Reply):
    """Every model name the installed torchvision and timm can build."""

    kind = "model_names"
    names: list[str]


@dataclass(frozen=True)
class ListModels(Request[ModelNames]):
    """Ask for ModelNames (``model.source.model_names``)."""

    kind = "list_models"
    reply = ModelNames


@dataclass(frozen=True)
class ModelAnalysed(Reply):
    """A whole model's analysis."""

    kind = "model_analysed"
    analysis: ModelAnalysis = _nested(ModelAnalysis)


@dataclass(frozen=True)
class AnalyseModel(Request[ModelAnalysed]):
    """Analyse ``source`` as ``sepconv-tui model`` does (``model.trace.analyze_model``)."""

    kind = "analyse_model"
    reply = ModelAnalysed
    source: str
    input_shape: Shape | None = _shape(None)
    select: str = "saving"
    depth_multiplier: int = 1
    weights: str | None = None


@dataclass(frozen=True)
class ModelBenched(Reply):
    """The original and the swapped model's measured forward-pass times."""

    kind = "model_benched"
    result: ModelBenchResult = _nested(ModelBenchResult)


@dataclass(frozen=True)
class BenchModel(Request[ModelBenched]):
    """Time the original and the selection (``model.bench.benchmark_model``), with Progress."""

    kind = "bench_model"
    reply = ModelBenched
    source: str
    select: str
    input_shape: Shape | None = _shape(None)
    depth_multiplier: int = 1
    device: str = "cpu"
    threads: int | None = None
    weights: str | None = None
    min_run_time: float = MODEL_MIN_RUN_TIME_S
    multipliers: dict[str, int] = field(default_factory=dict)  # per layer, after +/- or m


@dataclass(frozen=True)
class Warmed(Reply):
    """torch and the fidelity engine are imported: the next request starts at once."""

    kind = "warmed"


@dataclass(frozen=True)
class WarmUp(Request[Warmed]):
    """Import torch and the workflows now (the first key in the Data field sends it)."""

    kind = "warm_up"
    reply = Warmed


def _fidelities(default: Any = MISSING) -> Any:
    """A field holding a tuple of Fidelity (a list of their dicts on the wire)."""
    return field(
        default=default,
        metadata={
            "encode": lambda stages: [stage.to_dict() for stage in stages],
            "decode": lambda stages: tuple(Fidelity.from_dict(stage) for stage in stages),
        },
    )


@dataclass(frozen=True)
class ModelWork:
    """What fidelity, recovery and the trade-off start from (``model.workflow.Workflow``):
    the model, its weights, the data, the swapped layers and each candidate's m."""

    source: str
    data: str
    weights: str | None = None
    input_shape: Shape | None = _shape(None)
    swap: tuple[str, ...] = field(default=(), metadata={"encode": list, "decode": tuple})
    multipliers: dict[str, int] = field(default_factory=dict)
    holdout: int | None = None
    threads: int | None = None  # torch's intra-op threads in the child (None: its default)


@dataclass(frozen=True)
class FidelityMeasured(Reply):
    """The swap against the original on the held-out samples."""

    kind = "fidelity_measured"
    fidelity: Fidelity = _nested(Fidelity)


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
    stages: tuple[Fidelity, ...] = _fidelities()
    calibration: int = 0
    holdout: int = 0
    steps: int = 0
    out_dir: str | None = None


@dataclass(frozen=True)
class RecoverModel(ModelWork, Request[ModelRecovered]):
    """``Workflow.recover`` (``mode`` "reconstruct" or "distill"), then ``model.swap.save``
    into ``out_dir`` (when given), with a Progress per layer, step and batch."""

    kind = "recover_model"
    reply = ModelRecovered
    mode: str = "reconstruct"
    out_dir: str | None = None


@dataclass(frozen=True)
class TradeoffMeasured(Reply):
    """MACs against held-out agreement as the swap grows."""

    kind = "tradeoff_measured"
    tradeoff: Tradeoff = _nested(Tradeoff)


@dataclass(frozen=True)
class MeasureTradeoff(ModelWork, Request[TradeoffMeasured]):
    """``Workflow.tradeoff`` (each candidate ranked alone, then every prefix), with Progress."""

    kind = "measure_tradeoff"
    reply = TradeoffMeasured


# The wire --------------------------------------------------------------------------------


def encode(message: Message) -> str:
    """``message`` as one JSON line (with its newline)."""
    wire: dict[str, Any] = {"kind": message.kind}
    for each in fields(message):  # type: ignore[arg-type]  # every concrete message is one
        value = getattr(message, each.name)
        convert: Callable[[Any], Any] | None = each.metadata.get("encode")
        wire[each.name] = convert(value) if convert is not None and value is not None else value
    return json.dumps(wire) + "\n"


def decode(line: str) -> Message:
    """The message one JSON line holds; ValueError when it is not one."""
    try:
        wire = json.loads(line)
        kind = Message.kinds[wire.pop("kind")]
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise ValueError(f"not a message: {line[:80]!r}") from error
    values: dict[str, Any] = {}
    for each in fields(kind):  # type: ignore[arg-type]
        if each.name not in wire:
            continue  # the dataclass's default, or its TypeError naming what is missing
        value = wire[each.name]
        convert: Callable[[Any], Any] | None = each.metadata.get("decode")
        values[each.name] = convert(value) if convert is not None and value is not None else value
    try:
        return kind(**values)
    except TypeError as error:
        raise ValueError(f"not a {kind.kind} message: {error}") from error
