"""What a fidelity measurement found, as plain data (no torch): the app and the wire carry it.

``model.fidelity.measure_fidelity`` makes these; the JSON of ``sepconv-tui fidelity --json``
is their ``to_dict``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


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


@dataclass(frozen=True)
class Fidelity:
    """The swapped model against the original on ``evaluated`` samples."""

    evaluated: int
    output_error: float  # ‖y_swapped − y_original‖ / ‖y_original‖ over every sample
    agreement: float | None  # share of samples whose top-1 class is the original's (N×K outputs)
    original_accuracy: float | None  # when the data has labels and the outputs are N×K
    swapped_accuracy: float | None
    layers: tuple[LayerFidelity, ...] = ()
    stage: str | None = None  # "svd", "reconstruct", "distill", or None for a given model

    def to_dict(self) -> dict[str, Any]:
        """The JSON of ``sepconv-tui fidelity --json`` (null where a figure does not apply)."""
        return {
            "stage": self.stage,
            "evaluated": self.evaluated,
            "original": {"accuracy": self.original_accuracy},
            "swapped": {
                "accuracy": self.swapped_accuracy,
                "agreement": self.agreement,
                "output_error": self.output_error,
            },
            "layers": [layer.to_dict() for layer in self.layers],
        }

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> Fidelity:
        """The inverse of ``to_dict``."""
        swapped = values["swapped"]
        return cls(
            evaluated=int(values["evaluated"]),
            output_error=float(swapped["output_error"]),
            agreement=swapped.get("agreement"),
            original_accuracy=values["original"].get("accuracy"),
            swapped_accuracy=swapped.get("accuracy"),
            layers=tuple(LayerFidelity.from_dict(layer) for layer in values.get("layers", [])),
            stage=values.get("stage"),
        )
