"""What a recovery returns: how distillation went (with its validation curve) and each
stage's test fidelity. Plain data, no torch: the report and the app read these without the
engine (``recover`` builds them)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..vocabulary.plan import SwapResult
from .fidelity_result import Fidelity, SplitSizes

if TYPE_CHECKING:
    from torch import nn


@dataclass(frozen=True)
class CurvePoint:
    """One validation check of distillation: the step, the distillation loss on the
    validation split, and the top-1 agreement there (None for a model that is no classifier)."""

    step: int
    loss: float
    agreement: float | None

    def to_dict(self) -> dict[str, Any]:
        """``{"step", "loss", "agreement"}``, one entry of ``"curve"``."""
        return {"step": self.step, "loss": self.loss, "agreement": self.agreement}

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> CurvePoint:
        """The inverse of ``to_dict``."""
        agreement = values.get("agreement")
        return cls(
            int(values["step"]),
            float(values["loss"]),
            None if agreement is None else float(agreement),
        )


@dataclass(frozen=True)
class Distillation:
    """How a distillation went: steps taken, where its best validation loss was (and the
    agreement and output error there), why it stopped ("patience", "steps" or "time"), how
    long it took, and the validation curve."""

    steps: int
    best_step: int
    best_agreement: float | None  # on the validation split (classifiers)
    best_output_error: float
    stopped: str
    seconds: float
    checks: int
    best_loss: float = math.nan  # the distillation loss on the validation split
    min_steps: int = 0  # no check counted against patience before this step
    curve: tuple[CurvePoint, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object ``"distill"``."""
        return {
            "steps": self.steps,
            "best_step": self.best_step,
            "best_validation_agreement": self.best_agreement,
            "best_validation_output_error": self.best_output_error,
            "best_validation_loss": None if math.isnan(self.best_loss) else self.best_loss,
            "stopped": self.stopped,
            "seconds": round(self.seconds, 3),
            "checks": self.checks,
            "min_steps": self.min_steps,
            "curve": [point.to_dict() for point in self.curve],
        }


@dataclass(frozen=True)
class Recovery:
    """The recovered model, its swap, and the test split's fidelity after each stage that ran."""

    result: SwapResult  # its ``model`` is the recovered one
    stages: tuple[Fidelity, ...]  # "svd", then "reconstruct" and "distill" when they ran
    mode: str
    calibration: int  # samples the least squares were fitted on
    split: SplitSizes  # fit, validation, test: every stage is measured on test
    steps: int = 0  # distillation steps taken
    notes: tuple[str, ...] = field(default_factory=tuple)
    distillation: Distillation | None = None
    world_size: int = 1
    device: str = "cpu"

    @property
    def holdout(self) -> int:
        """Samples every stage was measured on (the test split, never fitted nor chosen on)."""
        return self.split.test

    @property
    def model(self) -> nn.Module:
        """The recovered model."""
        return self.result.model

    @property
    def final(self) -> Fidelity:
        """The last stage's fidelity."""
        return self.stages[-1]

    @property
    def curve(self) -> tuple[CurvePoint, ...]:
        """Distillation's validation curve (empty when it did not run)."""
        return () if self.distillation is None else self.distillation.curve

    def to_dict(self) -> dict[str, Any]:
        """``DIR/fidelity.json``: the test split's fidelity after each stage."""
        return {
            "format": "sepconv-tui fidelity",
            "version": 1,
            "mode": self.mode,
            "calibration": self.calibration,
            "holdout": self.holdout,
            "split": self.split.to_dict(),
            "world_size": self.world_size,
            "device": self.device,
            "steps": self.steps,
            "distill": None if self.distillation is None else self.distillation.to_dict(),
            "stages": [stage.to_dict() for stage in self.stages],
            "notes": list(self.notes),
        }
