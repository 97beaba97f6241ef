"""The trade-off a user picks from: the model's MACs against held-out agreement, measured.

Each candidate is first swapped alone (SVD start, then least-squares reconstruction on the
fit split) and measured on the validation split: what it costs in fidelity per MAC it
saves orders the candidates. Then the swap grows along that order, one layer at a time, and
every prefix is swapped, reconstructed and measured again, so each point of the curve is a
real model's figures, not a sum of single-layer estimates. ``agreement:X`` picks the largest
prefix whose validation agreement is ≥ X; what that choice reports is measured afterwards on
the test split, which nothing here touches. torch is imported inside the functions (by what
this calls).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..core.interval import samples_to_resolve
from .analysis import ModelAnalysis, Selection, SelectionError
from .distributed import LOCAL, Runtime
from .fidelity import DEFAULT_BATCH_SIZE, Fidelity, Interval, ValidationFigure, measure_fidelity
from .recover import DEFAULT_CALIBRATION, reconstruct
from .split import Split, SplitSizes

if TYPE_CHECKING:
    from torch import nn

#: progress(stage, done, total, label): "rank" per candidate, then "curve" per prefix.
Progress = Callable[[str, int, int, str], None]


@dataclass(frozen=True)
class TradeoffPoint:
    """The model with the first ``len(swapped)`` layers of the order swapped and reconstructed."""

    swapped: tuple[str, ...]
    params: int
    macs: int
    agreement: float | None  # top-1 agreement with the original (classifier outputs)
    accuracy: float | None  # when the data has labels
    output_error: float
    agreement_interval: Interval | None = None  # 95% Wilson, over the validation split

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of one point."""
        interval = self.agreement_interval
        return {
            "swapped": list(self.swapped),
            "params": self.params,
            "macs": self.macs,
            "agreement": self.agreement,
            "agreement_interval": None if interval is None else list(interval),
            "accuracy": self.accuracy,
            "output_error": self.output_error,
        }

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> TradeoffPoint:
        """The inverse of ``to_dict``."""
        interval = values.get("agreement_interval")
        return cls(
            tuple(values["swapped"]),
            int(values["params"]),
            int(values["macs"]),
            values.get("agreement"),
            values.get("accuracy"),
            float(values["output_error"]),
            None if interval is None else (float(interval[0]), float(interval[1])),
        )


@dataclass(frozen=True)
class Tradeoff:
    """Candidates in the order that costs least fidelity per MAC saved, and the measured curve."""

    order: tuple[str, ...]
    alone: dict[str, float]  # each layer swapped alone: its agreement (or 1 − output error)
    points: tuple[TradeoffPoint, ...]  # points[k]: the first k of ``order`` swapped, k = 0 … n
    evaluated: int  # validation samples each point was measured on
    calibration: int  # samples each reconstruction was fitted on
    split: SplitSizes | None = None  # None in recordings made before the three splits

    @property
    def classifier(self) -> bool:
        """True when the points carry agreement (the outputs are N×K logits)."""
        return all(point.agreement is not None for point in self.points)

    def largest_prefix(self, budget: float) -> tuple[str, ...]:
        """The swap of the longest prefix whose agreement is ≥ ``budget`` (none: nothing)."""
        if not self.classifier:
            raise SelectionError(
                "--swap agreement:X needs a classifier (N×K outputs) to compare top-1 classes"
            )
        best: tuple[str, ...] = ()
        for point in self.points:
            if point.agreement is not None and point.agreement >= budget:
                best = point.swapped
        return best

    def chosen(self, budget: float) -> ValidationFigure | None:
        """The validation figure of ``largest_prefix(budget)`` (None when nothing is picked)."""
        picked = self.largest_prefix(budget)
        point = next((point for point in self.points if point.swapped == picked), None)
        if point is None or point.agreement is None or not picked:
            return None
        return ValidationFigure(point.agreement, point.agreement_interval, self.evaluated, budget)

    def resolution_note(self, budget: float) -> str | None:
        """A sentence when the validation split is too small to tell ``budget`` apart from
        100% agreement (even no disagreement at all leaves its interval reaching below it)."""
        if budget >= 1:
            return (
                f"agreement:{budget:g} asks for every sample to agree; no sample count resolves it"
            )
        needed = samples_to_resolve(budget)
        if self.evaluated >= needed:
            return None
        return (
            f"the validation split's {self.evaluated:,} sample{'s' if self.evaluated != 1 else ''} "
            f"cannot resolve agreement ≥ "
            f"{budget:.1%}: even with no disagreement its 95% interval reaches below it; "
            f"that needs about {needed:,} (give more data or --validation)"
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON the app and ``--json`` carry."""
        return {
            "order": list(self.order),
            "alone": dict(self.alone),
            "points": [point.to_dict() for point in self.points],
            "evaluated": self.evaluated,
            "calibration": self.calibration,
            "split": None if self.split is None else self.split.to_dict(),
        }

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> Tradeoff:
        """The inverse of ``to_dict``."""
        return cls(
            tuple(values["order"]),
            {str(name): float(value) for name, value in values["alone"].items()},
            tuple(TradeoffPoint.from_dict(point) for point in values["points"]),
            int(values["evaluated"]),
            int(values["calibration"]),
            None if values.get("split") is None else SplitSizes.from_dict(values["split"]),
        )


def _ignore(_stage: str, _done: int, _total: int, _label: str) -> None:
    """A progress callback that does nothing."""


def _score(fidelity: Fidelity) -> float:
    """Higher is better: the agreement for classifiers, else 1 − the output error."""
    if fidelity.agreement is not None:
        return fidelity.agreement
    return 1.0 - fidelity.output_error


def measure_tradeoff(
    original: nn.Module,
    analysis: ModelAnalysis,
    split: Split,
    *,
    candidates: list[str] | None = None,
    calibration: int = DEFAULT_CALIBRATION,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Progress | None = None,
    runtime: Runtime = LOCAL,
    budget_bytes: int | None = None,
) -> Tradeoff:
    """Rank ``candidates`` (default: every candidate saving MACs) and measure each prefix.

    ``analysis`` gives each layer's MACs as is and as separable at its depth multiplier (the
    m every swap here uses); each swap is reconstructed on ``split.fit`` and measured on
    ``split.validation`` (``split.test`` is not touched), on ``runtime``'s device and ranks.
    """
    from .swap import swap_convs

    progress = progress if runtime.main and progress is not None else _ignore
    fitting, held_out = split.fit, split.validation
    device = runtime.device
    rows = {layer.name: layer for layer in analysis.candidates}
    names = [
        name
        for name in (candidates if candidates is not None else list(rows))
        if name in rows and rows[name].mac_saving > 0
    ]
    multipliers = {name: rows[name].depth_multiplier for name in rows}
    first = next(iter(original.parameters()), None)
    original_device = first.device if first is not None else None

    def measured(swap: list[str]) -> Fidelity:
        selection = Selection("names", patterns=tuple(swap)) if swap else Selection("none")
        original.cpu()  # swap_convs factorises on the CPU
        result = swap_convs(original, selection, depth_multiplier=multipliers)
        model = result.model.to(device)
        original.to(device)
        if swap:
            reconstruct(
                original,
                model,
                swap,
                fitting,
                calibration=calibration,
                batch_size=batch_size,
                runtime=runtime,
                budget_bytes=budget_bytes,
            )
        return measure_fidelity(
            original, model, held_out, layers=swap, batch_size=batch_size, runtime=runtime
        )

    alone: dict[str, float] = {}
    for index, name in enumerate(names, start=1):
        alone[name] = _score(measured([name]))
        progress("rank", index, len(names), name)
    # Fidelity lost per MAC saved, cheapest first; ties keep the model's order.
    order = sorted(names, key=lambda name: (1.0 - alone[name]) / rows[name].mac_saving)
    baseline = analysis.with_swaps(set())
    points = [TradeoffPoint((), baseline.swapped.params, baseline.swapped.macs, 1.0, None, 0.0)]
    accuracy_original: float | None = None
    for count in range(1, len(order) + 1):
        prefix = order[:count]
        fidelity = measured(prefix)
        accuracy_original = fidelity.original_accuracy
        cost = analysis.with_swaps(set(prefix)).swapped
        points.append(
            TradeoffPoint(
                tuple(prefix),
                cost.params,
                cost.macs,
                fidelity.agreement,
                fidelity.swapped_accuracy,
                fidelity.output_error,
                fidelity.agreement_interval,
            )
        )
        progress("curve", count, len(order), prefix[-1])
    if original_device is not None:
        original.to(original_device)
    if points and accuracy_original is not None:
        points[0] = TradeoffPoint((), points[0].params, points[0].macs, 1.0, accuracy_original, 0.0)
    if len(points) > 1 and points[1].agreement is None:
        points[0] = TradeoffPoint((), points[0].params, points[0].macs, None, None, 0.0)
    return Tradeoff(
        order=tuple(order),
        alone=alone,
        points=tuple(points),
        evaluated=len(held_out),
        calibration=min(calibration, len(fitting)),
        split=split.sizes,
    )
