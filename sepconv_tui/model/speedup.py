"""``--swap speedup:X``: the swap that makes the model X times faster where it runs, measured.

Every candidate conv and its block are timed alone on the runtime (``bench.benchmark_layers``),
so what a swap saves is a measurement, not a MAC count. Without data, the layers saving the most
time come first and the fewest that reach X are taken. With data, the candidates are ranked as
``agreement:X`` ranks them (each swapped alone, reconstructed, measured on held-out data) but by
fidelity lost per second saved, and the shortest prefix of that order reaching X is taken. The
prediction (the whole model's time less what the chosen layers save) is then confirmed by timing
the whole swapped model on the same runtime; both figures are kept. torch is imported inside
what this calls.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from ..core.latency import MIN_RUN_TIME_S
from ..progress import OnProgress, Progress, ignore
from .analysis import Selection, SelectionError
from .bench import benchmark_layers, benchmark_model
from .bench_result import MODEL_MIN_RUN_TIME_S, LayerBench
from .runtimes import Stage

if TYPE_CHECKING:
    from .job import ModelJob
    from .workflow import Workflow


@dataclass(frozen=True)
class SpeedupChoice:
    """The layers ``speedup:X`` picked on a runtime, the predicted and the measured speed-up."""

    target: float
    runtime: str
    ranking: str  # "time saved" (no data) or "agreement per time saved" (with data)
    order: tuple[str, ...]  # candidates that save time, best first
    chosen: tuple[str, ...]  # the shortest prefix of ``order`` predicted to reach ``target``
    predicted: float  # whole model ÷ (whole model − what ``chosen`` saves), per-layer times
    measured: float | None  # the whole swapped model timed against the original
    best: float  # the predicted speed-up of every layer that saves time
    saved_s: dict[str, float]  # per candidate: seconds its swap saves per pass
    alone: dict[str, float] | None  # with data: each layer's agreement swapped alone

    @property
    def selection(self) -> Selection:
        """The chosen layers as a selection by name."""
        return Selection("names", patterns=self.chosen) if self.chosen else Selection("none")

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of the choice."""
        return {
            "target": self.target,
            "runtime": self.runtime,
            "ranking": self.ranking,
            "order": list(self.order),
            "chosen": list(self.chosen),
            "predicted_speed_ratio": self.predicted,
            "measured_speed_ratio": self.measured,
            "best_predicted_speed_ratio": self.best,
            "saved_s": dict(self.saved_s),
            "alone": dict(self.alone) if self.alone is not None else None,
        }

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> SpeedupChoice:
        """The inverse of ``to_dict``."""
        alone = values.get("alone")
        return cls(
            float(values["target"]),
            values["runtime"],
            values["ranking"],
            tuple(values["order"]),
            tuple(values["chosen"]),
            float(values["predicted_speed_ratio"]),
            values.get("measured_speed_ratio"),
            float(values["best_predicted_speed_ratio"]),
            {str(name): float(value) for name, value in values["saved_s"].items()},
            {str(name): float(value) for name, value in alone.items()} if alone else None,
        )

    def summary(self) -> str:
        """One sentence with both figures."""
        measured = (
            f", measured {self.measured:.2f}× (the whole model timed)"
            if self.measured is not None
            else ""
        )
        short = (
            f"; the measurement falls short of {self.target:g}× (timed alone, the layers save "
            "more than inside the model): ask for more"
            if self.measured is not None and self.measured < self.target
            else ""
        )
        return (
            f"speedup:{self.target:g} on {self.runtime}: {len(self.chosen)} of "
            f"{len(self.saved_s)} candidates by {self.ranking}, predicted {self.predicted:.2f}× "
            f"(from each layer's time){measured}{short}"
        )


def rank_by_speed(
    layers: LayerBench, runtime: str, alone: Mapping[str, float] | None = None
) -> tuple[str, ...]:
    """Candidates that save time on ``runtime``, best first: most time saved, or (``alone``
    given) least agreement lost per second saved; ties keep the model's order."""
    saving = [row for row in layers.rows if row.saved_s(runtime) > 0]
    if alone is None:
        ordered = sorted(saving, key=lambda row: -row.saved_s(runtime))
    else:
        known = [row for row in saving if row.name in alone]
        ordered = sorted(known, key=lambda row: (1.0 - alone[row.name]) / row.saved_s(runtime))
    return tuple(row.name for row in ordered)


def choose_by_speed(
    layers: LayerBench,
    target: float,
    runtime: str,
    alone: Mapping[str, float] | None = None,
) -> SpeedupChoice:
    """The shortest prefix of ``rank_by_speed`` whose predicted speed-up reaches ``target``;
    SelectionError saying the best speed-up there is when none does. Arithmetic only."""
    order = rank_by_speed(layers, runtime, alone)
    saved = {row.name: row.saved_s(runtime) for row in layers.rows}
    best = layers.predicted_speed_ratio(order, runtime)
    ranking = "time saved" if alone is None else "agreement lost per time saved"
    for count in range(1, len(order) + 1):
        predicted = layers.predicted_speed_ratio(order[:count], runtime)
        if predicted >= target:
            return SpeedupChoice(
                target, runtime, ranking, order, order[:count], predicted, None, best, saved,
                dict(alone) if alone is not None else None,
            )  # fmt: skip
    if not order:
        raise SelectionError(
            f"speedup:{target:g} cannot be reached on {runtime}: no candidate's block "
            "runs faster than its conv there (the model stays at 1.00×)"
        )
    raise SelectionError(
        f"speedup:{target:g} cannot be reached on {runtime}: the best is {best:.2f}×, "
        f"swapping the {len(order)} candidate{'s' if len(order) != 1 else ''} whose block runs "
        "faster than its conv"
    )


def resolve_speedup(
    job: ModelJob,
    budget: Selection,
    *,
    runtime: str = "eager",
    workflow: Workflow | None = None,
    min_run_time: float = MIN_RUN_TIME_S,
    model_min_run_time: float = MODEL_MIN_RUN_TIME_S,
    progress: OnProgress | None = None,
) -> SpeedupChoice:
    """``speedup:X`` (``budget``) on ``job``'s model: time each candidate on ``runtime`` with
    the job's threads, rank (by agreement per time saved when ``workflow`` brings data), pick
    the shortest prefix predicted to reach X, then time the whole swapped model to confirm.
    SelectionError when X is out of reach. The job's own selection is not read.

    ``progress`` gets "time" per layer timed, then "rank"/"curve" from the trade-off (with
    data), then "confirm"."""
    if budget.rule != "speedup" or budget.min_speedup is None:
        raise SelectionError(f"resolve_speedup needs a speedup:X selection, got {budget}")
    report = progress or ignore
    layers = benchmark_layers(
        job.with_plan(Selection("none")), (runtime,), min_run_time=min_run_time, progress=report
    )
    alone = None
    if workflow is not None:
        tradeoff, _analysis = workflow.tradeoff(progress)
        alone = tradeoff.alone
    choice = choose_by_speed(layers, budget.min_speedup, runtime, alone)
    report(Progress(str(Stage.CONFIRM), 0, 1, "the whole swapped model"))
    confirmed = benchmark_model(
        replace(job.with_plan(choice.selection), threads=layers.threads),
        runtimes=(runtime,),
        min_run_time=model_min_run_time,
    )
    report(Progress(str(Stage.CONFIRM), 1, 1, "the whole swapped model"))
    return replace(choice, measured=confirmed.runtimes[runtime].speed_ratio)
