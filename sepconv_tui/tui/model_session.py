"""What the Model tab shows, as plain data: the analysis, its selection and each layer's m, and
every result measured on it, each kept with the state it was measured for.

No Textual here (an import contract says so): the tab's widgets render a ModelSession and its
keys call its methods, and tests drive it without an app. "Stale" is one comparison: a
result's ``of`` against the session's key of the same kind now.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from ..errors import UserError
from ..ipc.wire import Reply
from ..model.describe.source import parse_source
from ..model.measure.data_spec import parse_data
from ..model.results.bench_result import LayerBench, ModelBenchResult
from ..model.results.fidelity_result import Fidelity
from ..model.results.sensitivity_result import FrontierPoint
from ..model.results.tradeoff_result import Tradeoff
from ..model.swapping.job import ModelJob
from ..model.vocabulary.analysis import ModelAnalysis, ModelLayer, Selection, parse_selection
from ..model.vocabulary.runtimes import (
    Precision,
    missing_reason,
    runtime_entry,
    runtime_label,
    runtime_names,
)
from ..workers.model_messages import (
    BenchLayers,
    BenchModel,
    FidelityMeasured,
    FrontierMeasured,
    LayersBenched,
    ModelRecovered,
    TradeoffMeasured,
)

#: What ``m`` cycles the selection through.
MULTIPLIER_CYCLE: tuple[int | float, ...] = (1, 2, 0.9)  # a float: auto:E
#: The agreement ``g`` keeps by default.
DEFAULT_BUDGET = 0.99
#: The device recovery runs on when the Device field is empty.
DEFAULT_DEVICE = "cpu"

Result = TypeVar("Result")
#: The state a result was measured for (see ModelSession's ``*_key`` methods).
Key = tuple[Any, ...]


class SessionError(UserError):
    """A key that cannot act on what the tab shows (no analysis yet, not a candidate, …)."""


@dataclass(frozen=True)
class Measured(Generic[Result]):
    """A result and the state it was measured ``of``."""

    value: Result
    of: Key


class ModelSession:
    """The Model tab's state: the analysis shown, the data typed, what was measured on them."""

    def __init__(self) -> None:
        self.analysis: ModelAnalysis | None = None
        #: The state_dict the analysis was made with.
        self.weights: str | None = None
        #: The Data field's text (the view keeps it current).
        self.data = ""
        #: True when the last analysis failed: the one shown is of other inputs.
        self.stale = False
        self.fidelity: Measured[Fidelity] | None = None
        self.recovery: Measured[ModelRecovered] | None = None
        self.tradeoff: Measured[Tradeoff] | None = None
        #: The sensitivity and its frontier (``g``), and the point ←/→ show (None: not
        #: browsing it; enter applies that point, escape stops).
        self.frontier: Measured[FrontierMeasured] | None = None
        self.frontier_at: int | None = None
        self.bench: Measured[ModelBenchResult] | None = None
        #: Each candidate conv against its block, timed alone (``l``).
        self.layers: Measured[LayerBench] | None = None
        #: The Device field's text: where fidelity, recovery and the trade-off run.
        self.device = DEFAULT_DEVICE
        #: Bytes recovery may hold (None: the engine's default, a quarter of free memory).
        self.budget_bytes: int | None = None
        #: The runtime ``l`` times on (``u`` cycles it) and the precision (``p`` cycles the
        #: ones that runtime runs).
        self.runtime = runtime_names()[0]
        self.precision = str(Precision.FP32)
        #: torch's threads where ``l`` times (None: torch's default).
        self.layer_threads: int | None = None
        #: True when the trade-off chart plots measured latency instead of MACs (``x``).
        self.latency_axis = False
        #: The agreement ``g`` keeps.
        self.budget = DEFAULT_BUDGET
        #: Each source's weights and data as last entered, so they come back with the source.
        self.remembered: dict[str, tuple[str, str]] = {}

    # What a result is of ------------------------------------------------------------------

    def _model_key(self) -> Key:
        analysis = self.analysis
        assert analysis is not None
        return (analysis.source, self.weights, analysis.input_shape)

    def _swapped(self) -> Key:
        """Each swapped layer with its m."""
        analysis = self.analysis
        assert analysis is not None
        multipliers = analysis.multipliers
        return tuple((name, multipliers[name]) for name in sorted(analysis.swapped_names))

    def _multipliers(self) -> Key:
        """Every candidate's m."""
        assert self.analysis is not None
        return tuple(sorted(self.analysis.multipliers.items()))

    def selection_key(self) -> Key:
        """What a fidelity or recovery is of: model, weights, data, device, each swapped
        layer's m."""
        if self.analysis is None:
            return ()
        return (*self._model_key(), self.data, self.device, self._swapped())

    def candidates_key(self) -> Key:
        """What a trade-off is of: model, weights, data, device and every candidate's m."""
        if self.analysis is None:
            return ()
        return (*self._model_key(), self.data, self.device, self._multipliers())

    def frontier_key(self) -> Key:
        """What a frontier is of: model, weights, data and device (it chooses every m)."""
        if self.analysis is None:
            return ()
        return (*self._model_key(), self.data, self.device)

    def layers_key(self) -> Key:
        """What per-layer timings are of: model, weights, every candidate's m, the runtime,
        the precision and the threads (not the selection: every candidate is timed)."""
        if self.analysis is None:
            return ()
        return (
            *self._model_key(),
            self._multipliers(),
            self.runtime,
            self.precision,
            self.layer_threads,
        )

    def bench_key(self) -> Key:
        """What a benchmark is of: model, weights, each swapped layer's m and the data (each
        cell's fidelity is measured on it)."""
        if self.analysis is None:
            return ()
        return (*self._model_key(), self._swapped(), self.data.strip())

    @property
    def fidelity_stale(self) -> bool:
        """True when the fidelity shown is of another selection, m, data or model."""
        return self.fidelity is not None and self.fidelity.of != self.selection_key()

    @property
    def recovery_stale(self) -> bool:
        """True when the recovery shown is of another selection, m, data or model."""
        return self.recovery is not None and self.recovery.of != self.selection_key()

    @property
    def tradeoff_stale(self) -> bool:
        """True when the trade-off shown is of other m, data or model."""
        return self.tradeoff is not None and self.tradeoff.of != self.candidates_key()

    @property
    def frontier_stale(self) -> bool:
        """True when the frontier shown is of another model, weights, data or device."""
        return self.frontier is not None and self.frontier.of != self.frontier_key()

    @property
    def bench_stale(self) -> bool:
        """True when the timings shown are of another selection or m."""
        return self.bench is not None and self.bench.of != self.bench_key()

    @property
    def layers_stale(self) -> bool:
        """True when the per-layer timings shown are of other m, runtime, precision, threads or
        model."""
        return self.layers is not None and self.layers.of != self.layers_key()

    def key_for(self, reply_type: type[Reply]) -> Key:
        """The key a reply of ``reply_type`` is kept with when it is measured now."""
        if reply_type is TradeoffMeasured:
            return self.candidates_key()
        if reply_type is FrontierMeasured:
            return self.frontier_key()
        if reply_type is LayersBenched:
            return self.layers_key()
        return self.selection_key()

    # Showing ------------------------------------------------------------------------------

    def show_analysis(self, analysis: ModelAnalysis) -> None:
        """``analysis`` from now on. Results of another model (source, input) are dropped; of
        the same one they stay, marked stale when they differ. Timings always go."""
        previous = self.analysis
        if previous is None or (previous.source, previous.input_shape) != (
            analysis.source,
            analysis.input_shape,
        ):
            self.fidelity = self.recovery = self.tradeoff = None
            self.layers = self.frontier = None
            self.frontier_at = None
        self.analysis = analysis
        self.stale = False
        self.bench = None

    def record(self, reply: Reply, of: Key | None = None) -> None:
        """Keep a fidelity, recovery, trade-off or per-layer timing as measured ``of`` (by
        default: now)."""
        of = self.key_for(type(reply)) if of is None else of
        if isinstance(reply, FidelityMeasured):
            self.fidelity = Measured(reply.fidelity, of)
        elif isinstance(reply, ModelRecovered):
            self.recovery = Measured(reply, of)
            self.fidelity = Measured(reply.stages[-1], of)
        elif isinstance(reply, TradeoffMeasured):
            self.tradeoff = Measured(reply.tradeoff, of)
        elif isinstance(reply, FrontierMeasured):
            self.frontier = Measured(reply, of)
            self.frontier_at = reply.frontier.chosen or 0
        elif isinstance(reply, LayersBenched):
            self.layers = Measured(reply.result, of)

    @property
    def fidelity_from_recovery(self) -> bool:
        """True when the fidelity shown is the recovery's last stage (one line says both)."""
        recovery, fidelity = self.recovery, self.fidelity
        return (
            recovery is not None
            and fidelity is not None
            and fidelity.value is recovery.value.stages[-1]
        )

    # The selection and each layer's m --------------------------------------------------------

    def need_analysis(self, then: str) -> ModelAnalysis:
        """The analysis keys act on; SessionError when there is none (or it is stale)."""
        if self.analysis is None or self.stale:
            raise SessionError(f"Analyse a model first (type its source, press enter), {then}.")
        return self.analysis

    def layer(self, name: str | None) -> ModelLayer | None:
        """The analysed layer called ``name`` (None for the other rows)."""
        layers = self.analysis.layers if self.analysis is not None else ()
        return next((layer for layer in layers if layer.name == name), None)

    def candidate(self, name: str | None, what: str) -> ModelLayer:
        """The swap candidate ``name``; SessionError saying ``what`` needs one otherwise."""
        layer = self.layer(name)
        if layer is None or not layer.candidate:
            why = f"{layer.name}: {layer.reason}" if layer else "this row is not a layer"
            raise SessionError(f"{what} ({why}).")
        return layer

    def toggled(self, name: str | None) -> ModelAnalysis:
        """The analysis with candidate ``name`` swapped or not, the other way round."""
        layer = self.candidate(name, "Not a swap candidate")
        analysis = self.analysis
        assert analysis is not None
        return analysis.with_swaps(analysis.swapped_names ^ {layer.name})

    def stepped(self, name: str | None, step: int) -> ModelAnalysis:
        """The analysis with candidate ``name``'s m ``step`` up (or down)."""
        layer = self.layer(name)
        if layer is None or not layer.candidate:
            raise SessionError("+ and - change a swap candidate's depth multiplier.")
        analysis = self.analysis
        assert analysis is not None
        return analysis.with_depth_multipliers({layer.name: layer.depth_multiplier + step})

    def cycle_targets(self) -> set[str]:
        """The layers ``m`` sets: the swapped ones, or every candidate when none is."""
        analysis = self.analysis
        assert analysis is not None
        return set(analysis.swapped_names or {layer.name for layer in analysis.candidates})

    def cycle_position(self, names: set[str]) -> int:
        """Where the layers ``names`` stand in MULTIPLIER_CYCLE (-1: at none of its steps)."""
        analysis = self.analysis
        assert analysis is not None
        shared = {analysis.multipliers[name] for name in names}
        for index, choice in enumerate(MULTIPLIER_CYCLE):
            if isinstance(choice, int) and shared == {choice}:
                return index
            if isinstance(choice, float):
                try:
                    auto = analysis.auto_multipliers(choice)
                except UserError:
                    continue
                if all(auto[name] == analysis.multipliers[name] for name in names):
                    # auto:0.9 can give m = 1 everywhere: then the next step is 2, as after 1
                    return index if shared != {1} else 0
        return -1

    def cycled(self) -> tuple[ModelAnalysis, set[str], int | float]:
        """``m``'s next step: the analysis, the layers whose m changed, the choice made
        (an int, or a float E for auto:E). A UserError when auto:E needs the weights."""
        analysis = self.analysis
        assert analysis is not None
        names = self.cycle_targets()
        choice = MULTIPLIER_CYCLE[(self.cycle_position(names) + 1) % len(MULTIPLIER_CYCLE)]
        if isinstance(choice, float):
            chosen = analysis.auto_multipliers(choice)
            multipliers = {name: chosen[name] for name in names}
        else:
            multipliers = dict.fromkeys(names, choice)
        return analysis.with_depth_multipliers(multipliers), names, choice

    def selection_text(self) -> str:
        """The selection as ``--swap`` text: a rule when one gives it, else the names."""
        analysis = self.analysis
        assert analysis is not None
        swapped = analysis.swapped_names
        for rule in ("saving", "all", "none"):
            if analysis.selected_names(Selection(rule)) == swapped:
                return rule
        return ",".join(sorted(swapped))

    def picked(self) -> tuple[str, ...]:
        """The trade-off's largest prefix within the budget (SelectionError for a model with
        no classes to agree on)."""
        assert self.tradeoff is not None
        return self.tradeoff.value.largest_prefix(self.budget)

    # The frontier (g) -------------------------------------------------------------------------

    @property
    def frontier_point(self) -> FrontierPoint | None:
        """The frontier point ←/→ are on (None when not browsing)."""
        if self.frontier is None or self.frontier_at is None:
            return None
        return self.frontier.value.frontier.points[self.frontier_at]

    def browse_frontier(self) -> FrontierPoint:
        """Start browsing the frontier at the budget's point; SessionError without one."""
        if self.frontier is None or self.frontier_stale:
            raise SessionError("g measures the frontier first")
        self.frontier_at = self.frontier.value.frontier.chosen or 0
        return self.frontier.value.frontier.points[self.frontier_at]

    def move_on_frontier(self, step: int) -> FrontierPoint:
        """The point ``step`` along the frontier (→: more saved), kept within its ends."""
        if self.frontier is None or self.frontier_at is None:
            raise SessionError("g shows the frontier first")
        points = self.frontier.value.frontier.points
        self.frontier_at = max(0, min(len(points) - 1, self.frontier_at + step))
        return points[self.frontier_at]

    def apply_frontier_point(self) -> ModelAnalysis:
        """The analysis with the browsed point's layers swapped at its m (others unswapped,
        their m kept); browsing ends."""
        point = self.frontier_point
        if point is None or self.analysis is None:
            raise SessionError("g shows the frontier first")
        self.frontier_at = None
        plan = point.plan
        return self.analysis.with_depth_multipliers(plan).with_swaps(set(plan))

    def stop_browsing(self) -> bool:
        """Stop browsing the frontier; False when not browsing."""
        browsing = self.frontier_at is not None
        self.frontier_at = None
        return browsing

    @property
    def rungs_untimed(self) -> bool:
        """True when a current frontier is on hand whose rungs are not timed on the session's
        runtime (``l`` then times them too, so each point says the seconds it saves)."""
        if self.frontier is None or self.frontier_stale:
            return False
        timing = self.frontier.value.sensitivity.timing
        return timing is None or timing.runtime != self.runtime

    # Per-layer timings -------------------------------------------------------------------------

    @property
    def layers_runtime(self) -> str | None:
        """The runtime the per-layer timings shown were measured on (None: none measured)."""
        return self.layers.value.runtimes[0] if self.layers is not None else None

    def predicted_speed_ratio(self) -> float | None:
        """The selection's whole-model speed-up the per-layer timings predict (the engine's
        LayerBench.predicted_speed_ratio), or None before ``l``."""
        runtime = self.layers_runtime
        if self.analysis is None or self.layers is None or runtime is None:
            return None
        return self.layers.value.predicted_speed_ratio(self.analysis.swapped_names, runtime)

    @property
    def deployment(self) -> str:
        """Where ``l`` times, as the screen names it: "ONNX Runtime · int8"."""
        return f"{runtime_label(self.runtime)} · {self.precision}"

    def runtime_missing(self) -> str | None:
        """Why the session's runtime cannot run here ("OpenVINO needs the openvino package:
        …"), found without importing it; None when it can."""
        return missing_reason(self.runtime, find_only=True)

    def cycled_runtime(self) -> str:
        """``u``: the next runtime ``l`` times on, in the runtime table's order (kept as the
        session's). The precision stays when the new runtime runs it, else it is fp32 again
        (``precision`` says which; ``runtime_missing`` says when the runtime is missing)."""
        cycle = runtime_names()
        index = cycle.index(self.runtime) if self.runtime in cycle else -1
        self.runtime = cycle[(index + 1) % len(cycle)]
        if self.precision not in self.precisions():
            self.precision = str(Precision.FP32)
        return self.runtime

    def precisions(self) -> tuple[str, ...]:
        """The precisions the session's runtime runs, in the runtime table's order."""
        return tuple(str(precision) for precision in runtime_entry(self.runtime).precisions)

    def cycled_precision(self) -> str:
        """``p``: the next precision the session's runtime runs (fp32 → … → fp32);
        SessionError when it runs one only."""
        cycle = self.precisions()
        if len(cycle) < 2:
            raise SessionError(
                f"{runtime_label(self.runtime)} runs {cycle[0]} only: u picks a runtime that "
                "runs others."
            )
        index = cycle.index(self.precision) if self.precision in cycle else -1
        self.precision = cycle[(index + 1) % len(cycle)]
        return self.precision

    def toggled_latency_axis(self) -> bool:
        """``x``: the trade-off chart between MACs and measured latency; SessionError saying
        what is missing unless both a trade-off and per-layer timings are shown."""
        missing = [
            what
            for what, result in (
                ("a trade-off (g)", self.tradeoff),
                ("layer timings (l)", self.layers),
            )
            if result is None
        ]
        if missing:
            raise SessionError(
                f"x plots latency against agreement: measure {' and '.join(missing)} first."
            )
        self.latency_axis = not self.latency_axis
        return self.latency_axis

    def latency_axis_points(self) -> tuple[list[float], float, str] | None:
        """What the trade-off chart plots on its x axis instead of MACs: each point's and the
        selection's predicted pass time (the engine's LayerBench.predicted_latency_s) and the
        runtime timed; None while it plots MACs."""
        runtime = self.layers_runtime
        tradeoff, layers, analysis = self.tradeoff, self.layers, self.analysis
        if not self.latency_axis or runtime is None or None in (tradeoff, layers, analysis):
            return None
        assert tradeoff is not None and layers is not None and analysis is not None
        bench = layers.value
        points = [
            bench.predicted_latency_s(point.swapped, runtime) for point in tradeoff.value.points
        ]
        return points, bench.predicted_latency_s(analysis.swapped_names, runtime), runtime

    def layers_request(self, min_run_time: float) -> BenchLayers:
        """The request that times every candidate against its block (``l``)."""
        self.need_analysis("then l times its layers")
        return BenchLayers(
            self.job(parse_selection(self.selection_text()), threads=self.layer_threads),
            runtime=self.runtime,
            precision=self.precision,
            min_run_time=min_run_time,
        )

    # Requests -------------------------------------------------------------------------------

    def job(self, selection: Selection, **settings: Any) -> ModelJob:
        """The analysed model with this session's weights, input and each candidate's m,
        swapping ``selection``; ``settings``: the job's device, threads, memory budget."""
        analysis = self.analysis
        assert analysis is not None  # the requests check need_analysis first
        return ModelJob(
            parse_source(analysis.source),
            weights=self.weights,
            input_shape=analysis.input_shape,
            selection=selection,
            depth_multiplier=analysis.multipliers or analysis.depth_multiplier,
            **settings,
        )

    def work_fields(self, *, swapped: bool, threads: int | None) -> dict[str, Any]:
        """The fields of a fidelity, recovery or trade-off request (ModelWork): the job and
        the data; a UserError when something is missing (field "data" when the data text is
        not one)."""
        analysis = self.need_analysis("then f, r or g")
        parse_data(self.data)
        if swapped and not analysis.swapped_names:
            raise SessionError("Nothing is swapped: space, a, s, t or g swaps layers first.")
        names = tuple(sorted(analysis.swapped_names))
        selection = Selection("names", patterns=names) if names else Selection("none")
        job = self.job(
            selection, threads=threads, device=self.device, budget_bytes=self.budget_bytes
        )
        return {"job": job, "data": self.data}

    def bench_request(self, min_run_time: float) -> BenchModel:
        """The request that times the original and this selection in every runtime ×
        precision cell this machine can run (``b``; the matrix ``bench --runtime all
        --precision all`` times)."""
        self.need_analysis("then b times it")
        data = self.data.strip()
        if data:
            parse_data(data)  # a UserError (field "data") before any work
        return BenchModel(
            self.job(parse_selection(self.selection_text()), threads=self.layer_threads),
            min_run_time=min_run_time,
            data=data or None,
        )

    # Weights and data per source ----------------------------------------------------------

    def remember(self, source: str, weights: str, data: str) -> None:
        """Remember ``weights`` and ``data`` as ``source``'s."""
        self.remembered[source] = (weights, data)

    def recalled(self, source: str, weights: str, data: str) -> tuple[str, str]:
        """The weights and data to show for ``source`` about to be shown: its remembered ones
        when the fields still hold the previous source's (the user typed nothing new)."""
        previous = self.analysis.source if self.analysis is not None else None
        untouched = (weights, data) == self.remembered.get(previous or "", ("", ""))
        if previous not in (None, source) and source in self.remembered and untouched:
            return self.remembered[source]
        return weights, data
