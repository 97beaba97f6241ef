"""What a fidelity measurement found, as plain data (no torch): the app and the wire carry it.

``model.measure.fidelity.measure_fidelity`` makes these; the JSON of ``sepconv-tui fidelity --json``
is their ``to_dict``. The data's split sizes live here too (``model.measure.split`` cuts the data by
them), so a result names its split without loading the data code.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, TypeVar


@dataclass(frozen=True)
class SplitSizes:
    """How many samples each split holds (fit first, then validation, then test)."""

    fit: int
    validation: int
    test: int

    def to_dict(self) -> dict[str, int]:
        """The JSON object ``"split"``."""
        return {"fit": self.fit, "validation": self.validation, "test": self.test}

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> SplitSizes:
        """The inverse of ``to_dict``."""
        return cls(int(values["fit"]), int(values["validation"]), int(values["test"]))

    def __str__(self) -> str:
        """ "fit 256 · validation 1,182 · test 359"."""
        return f"fit {self.fit:,} · validation {self.validation:,} · test {self.test:,}"


@dataclass(frozen=True)
class LayerFidelity:
    """One swapped layer: its m, weight error, and output errors alone and in the network."""

    name: str
    depth_multiplier: int | None
    weight_error: float | None  # ‖W − Ŵ‖_F / ‖W‖_F of the block's effective kernel
    local_error: float | None  # ‖block(x) − conv(x)‖ / ‖conv(x)‖, x the original's input
    network_error: float | None  # the block's output in the swapped network against conv's

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of one layer."""
        return {
            "name": self.name,
            "depth_multiplier": self.depth_multiplier,
            "weight_error": self.weight_error,
            "local_error": self.local_error,
            "network_error": self.network_error,
        }

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> LayerFidelity:
        """The inverse of ``to_dict``."""
        return cls(
            values["name"],
            values.get("depth_multiplier"),
            values.get("weight_error"),
            values.get("local_error"),
            values.get("network_error"),
        )


Interval = tuple[float, float]


def _interval(values: Any) -> Interval | None:
    """A JSON [lo, hi] as a tuple (None stays None)."""
    return None if values is None else (float(values[0]), float(values[1]))


@dataclass(frozen=True)
class ValidationFigure:
    """The agreement a selection was chosen by, on the validation split (never reported as
    the result: the test split's figures are)."""

    agreement: float
    interval: Interval | None
    evaluated: int
    budget: float | None = None  # the X of ``agreement:X`` it was chosen against

    def to_dict(self) -> dict[str, Any]:
        """The JSON object ``"validation"``."""
        return {
            "agreement": self.agreement,
            "agreement_interval": None if self.interval is None else list(self.interval),
            "evaluated": self.evaluated,
            "budget": self.budget,
        }

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> ValidationFigure:
        """The inverse of ``to_dict``."""
        return cls(
            float(values["agreement"]),
            _interval(values.get("agreement_interval")),
            int(values["evaluated"]),
            values.get("budget"),
        )


@dataclass(frozen=True)
class AtPrecision:
    """One model run at a precision, against the fp32 original on the test split."""

    ran: str  # the precision its runtime reports it ran: "int8", "int8+fp32", "bf16", …
    evaluated: int
    output_error: float  # ‖y − y_fp32 original‖ / ‖y_fp32 original‖ (first output)
    agreement: float | None  # share of samples whose top-1 class is the fp32 original's
    agreement_interval: Interval | None
    accuracy: float | None  # when the data has labels
    accuracy_interval: Interval | None

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of one model at the precision."""
        return {
            "precision": self.ran,
            "evaluated": self.evaluated,
            "accuracy": self.accuracy,
            "accuracy_interval": None
            if self.accuracy_interval is None
            else list(self.accuracy_interval),
            "agreement": self.agreement,
            "agreement_interval": None
            if self.agreement_interval is None
            else list(self.agreement_interval),
            "output_error": self.output_error,
        }

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> AtPrecision:
        """The inverse of ``to_dict``."""
        return cls(
            str(values["precision"]),
            int(values["evaluated"]),
            float(values["output_error"]),
            values.get("agreement"),
            _interval(values.get("agreement_interval")),
            values.get("accuracy"),
            _interval(values.get("accuracy_interval")),
        )


Measured = TypeVar("Measured", bound="InContext")


class InContext:
    """A result measured on the test split of a split: ``with_context`` adds the split, the
    validation figure that chose the selection and notes (its data classes hold the fields)."""

    split: SplitSizes | None
    validation: ValidationFigure | None
    notes: tuple[str, ...]

    def with_context(
        self: Measured,
        *,
        split: SplitSizes | None = None,
        validation: ValidationFigure | None = None,
        notes: tuple[str, ...] = (),
    ) -> Measured:
        """This result with the split it was measured on, its validation figure and notes."""
        return replace(  # type: ignore[type-var]  # every subclass is a data class
            self,
            split=split if split is not None else self.split,
            validation=validation if validation is not None else self.validation,
            notes=self.notes + tuple(note for note in notes if note not in self.notes),
        )


@dataclass(frozen=True)
class Fidelity(InContext):
    """The swapped model against the original on ``evaluated`` samples."""

    evaluated: int
    output_error: float  # ‖y_swapped − y_original‖ / ‖y_original‖ over every sample
    agreement: float | None  # share of samples whose top-1 class is the original's (N×K outputs)
    original_accuracy: float | None  # when the data has labels and the outputs are N×K
    swapped_accuracy: float | None
    layers: tuple[LayerFidelity, ...] = ()
    stage: str | None = None  # "svd", "reconstruct", "distill", or None for a given model
    # 95% Wilson intervals over ``evaluated`` samples (None where the figure is, and in
    # recordings made before they were measured).
    agreement_interval: Interval | None = None
    original_accuracy_interval: Interval | None = None
    swapped_accuracy_interval: Interval | None = None
    split: SplitSizes | None = None  # the data's split; the figures are on its test part
    validation: ValidationFigure | None = None  # what chose the selection, when one was chosen
    world_size: int = 1  # processes that measured it (torchrun)
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The JSON of ``sepconv-tui fidelity --json`` (null where a figure does not apply)."""

        def listed(interval: Interval | None) -> list[float] | None:
            return None if interval is None else list(interval)

        return {
            "stage": self.stage,
            "evaluated": self.evaluated,
            "split": None if self.split is None else self.split.to_dict(),
            "world_size": self.world_size,
            "original": {
                "accuracy": self.original_accuracy,
                "accuracy_interval": listed(self.original_accuracy_interval),
            },
            "swapped": {
                "accuracy": self.swapped_accuracy,
                "accuracy_interval": listed(self.swapped_accuracy_interval),
                "agreement": self.agreement,
                "agreement_interval": listed(self.agreement_interval),
                "output_error": self.output_error,
            },
            "validation": None if self.validation is None else self.validation.to_dict(),
            "layers": [layer.to_dict() for layer in self.layers],
            "notes": list(self.notes),
        }

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> Fidelity:
        """The inverse of ``to_dict`` (what a recording made before a field existed lacks
        is None)."""
        swapped = values["swapped"]
        original = values["original"]
        split = values.get("split")
        validation = values.get("validation")
        return cls(
            evaluated=int(values["evaluated"]),
            output_error=float(swapped["output_error"]),
            agreement=swapped.get("agreement"),
            original_accuracy=original.get("accuracy"),
            swapped_accuracy=swapped.get("accuracy"),
            layers=tuple(LayerFidelity.from_dict(layer) for layer in values.get("layers", [])),
            stage=values.get("stage"),
            agreement_interval=_interval(swapped.get("agreement_interval")),
            original_accuracy_interval=_interval(original.get("accuracy_interval")),
            swapped_accuracy_interval=_interval(swapped.get("accuracy_interval")),
            split=None if split is None else SplitSizes.from_dict(split),
            validation=None if validation is None else ValidationFigure.from_dict(validation),
            world_size=int(values.get("world_size", 1)),
            notes=tuple(values.get("notes", ())),
        )


def resolution_note(budget: float, evaluated: int) -> str | None:
    """A sentence when ``evaluated`` validation samples are too few to tell agreement
    ``budget`` apart from 100% (even no disagreement leaves the interval reaching below it)."""
    if budget >= 1:
        return f"agreement:{budget:g} asks for every sample to agree; no sample count resolves it"
    from ...core.interval import samples_to_resolve  # arithmetic: the app never calls this

    needed = samples_to_resolve(budget)
    if evaluated >= needed:
        return None
    return (
        f"the validation split's {evaluated:,} sample{'s' if evaluated != 1 else ''} "
        f"cannot resolve agreement ≥ "
        f"{budget:.1%}: even with no disagreement its 95% interval reaches below it; "
        f"that needs about {needed:,} (give more data or a larger validation split)"
    )
