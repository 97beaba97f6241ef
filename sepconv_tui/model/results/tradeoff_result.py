"""A measured trade-off, as plain data (no torch): the app and the wire carry it.

``model.budget.tradeoff.measure_tradeoff`` makes it; ``largest_prefix`` is what ``agreement:X`` and
the Model tab's ``g`` pick from it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..vocabulary.analysis import SelectionError
from .fidelity_result import Interval, SplitSizes, ValidationFigure, resolution_note


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
                "agreement:X needs a classifier (N×K outputs) to compare top-1 classes",
                field="swap",
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
        return resolution_note(budget, self.evaluated)

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
