"""The swap plan: which convs of a model become separable blocks, as JSON anyone can rebuild from.

Plain data, no torch: ``model.swapping.swap`` writes a plan when it swaps
(``SwapResult.to_dict()``) and reads one back (``apply_plan``); the app writes one from its
selection alone (``plan_from_analysis``), without weights. The JSON::

    {"format": "sepconv-tui swap plan", "version": 2,
     "source": "torchvision:resnet18" | null,   # what to build the original from
     "input_shape": [1, 3, 224, 224] | null,     # the input the selection was made at
     "depth_multiplier": 1 | {"conv1": 2, "layer1.0.conv1": 1, ...},  # shared, or per layer
     "init": "svd" | "random" | null,            # null: written without weights
     "swapped": ["conv1", "layer1.0.conv1", ...],
     "weight_error": {"conv1": 0.41, ...} | null,  # ‖W − Ŵ‖/‖W‖ ("relative_error" before)
     "params": {"original": 11689512, "swapped": 1946107} | null}

Only ``swapped`` and ``depth_multiplier`` decide the architecture; the rest is provenance.
Version 2 writes ``depth_multiplier`` as an integer when every swapped layer shares it and as
``{layer: m}`` otherwise; version 1 (always an integer) is still read.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .analysis import ModelAnalysis, Shape, SwapError, check_depth_multiplier

if TYPE_CHECKING:
    from torch import nn

PLAN_FORMAT = "sepconv-tui swap plan"
PLAN_VERSION = 2
#: Versions ``SwapPlan.from_dict`` reads.
READABLE_VERSIONS = (1, 2)
#: What ``init`` accepts, in the order the CLI lists them.
INITS = ("svd", "random")


@dataclass(frozen=True)
class SwapPlan:
    """Which candidate convs are swapped, with what depth multiplier, and where it came from."""

    swapped: tuple[str, ...]
    depth_multiplier: int | dict[str, int] = 1  # shared, or each swapped layer's
    source: str | None = None
    input_shape: Shape | None = None
    init: str | None = None
    weight_error: dict[str, float] | None = None
    params: dict[str, int] | None = None  # {"original": …, "swapped": …}
    extra: dict[str, Any] = field(default_factory=dict)  # keys a newer writer added, kept

    def multiplier_for(self, name: str) -> int:
        """The depth multiplier of swapped layer ``name``."""
        if isinstance(self.depth_multiplier, dict):
            return self.depth_multiplier[name]
        return self.depth_multiplier

    def to_dict(self) -> dict[str, Any]:
        """The plan JSON (see the module docstring)."""
        return {
            "format": PLAN_FORMAT,
            "version": PLAN_VERSION,
            "source": self.source,
            "input_shape": list(self.input_shape) if self.input_shape is not None else None,
            "depth_multiplier": compact_multipliers(self.swapped, self.depth_multiplier),
            "init": self.init,
            "swapped": list(self.swapped),
            "weight_error": dict(self.weight_error) if self.weight_error else None,
            "params": dict(self.params) if self.params else None,
            **self.extra,
        }

    @classmethod
    def from_dict(cls, values: Any) -> SwapPlan:
        """A plan from its JSON; SwapError naming the first field that is wrong."""
        if not isinstance(values, dict):
            raise SwapError(f"a swap plan is a JSON object, got {type(values).__name__}")
        if values.get("format", PLAN_FORMAT) != PLAN_FORMAT:
            raise SwapError(f"not a swap plan: format is {values.get('format')!r}")
        version = values.get("version", PLAN_VERSION)
        if version not in READABLE_VERSIONS:
            raise SwapError(
                f"swap plan version {version!r}: this sepconv-tui reads versions 1 and 2"
            )
        swapped = values.get("swapped")
        if not isinstance(swapped, list) or not all(isinstance(n, str) for n in swapped):
            raise SwapError("swap plan: 'swapped' must be a list of layer names")
        multiplier = _plan_multipliers(values, swapped, allow_map=version >= 2)
        init = values.get("init")
        if init is not None and init not in INITS:
            raise SwapError(f"swap plan: 'init' must be svd, random or null, got {init!r}")
        return cls(
            swapped=tuple(swapped),
            depth_multiplier=multiplier,
            source=_optional_str(values, "source"),
            input_shape=_optional_shape(values),
            init=init,
            weight_error=_optional_errors(values),
            params=values.get("params") or None,
            extra={key: value for key, value in values.items() if key not in _KNOWN_KEYS},
        )


def with_budget(plan: dict[str, Any], budget: dict[str, Any] | None) -> dict[str, Any]:
    """The plan JSON with the budget's choice under "budget" (as it is without one; a reader
    keeps the key as an extra)."""
    return plan if budget is None else {**plan, "budget": budget}


def compact_multipliers(
    swapped: tuple[str, ...] | list[str], multipliers: int | dict[str, int]
) -> int | dict[str, int]:
    """An int when every swapped layer has the same m, else ``{layer: m}`` of the swapped ones."""
    if isinstance(multipliers, int):
        return multipliers
    values = {multipliers[name] for name in swapped}
    if len(values) == 1:
        return values.pop()
    if not values:
        return 1
    return {name: multipliers[name] for name in swapped}


def _plan_multipliers(
    values: dict[str, Any], swapped: list[str], *, allow_map: bool
) -> int | dict[str, int]:
    """``depth_multiplier`` of a plan: an int, or (version 2) a map covering every swapped layer."""
    raw = values.get("depth_multiplier", 1)
    where = "swap plan: 'depth_multiplier'"
    if isinstance(raw, dict) and allow_map:
        missing = [name for name in swapped if name not in raw]
        if missing:
            raise SwapError(f"{where} gives no m for {', '.join(missing[:3])}")
        return {name: check_depth_multiplier(raw[name], f"{where} of {name!r}") for name in swapped}
    forms = "an integer or a {layer: m} map" if allow_map else "an integer"
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise SwapError(f"{where} must be {forms}, got {raw!r}")
    return check_depth_multiplier(raw, where)


_KNOWN_KEYS = {
    "format",
    "version",
    "source",
    "input_shape",
    "depth_multiplier",
    "init",
    "swapped",
    "weight_error",
    "relative_error",  # what plans written before named weight_error: read, not kept
    "params",
}


def _optional_str(values: dict[str, Any], key: str) -> str | None:
    """``values[key]`` when it is a string or absent/null; SwapError otherwise."""
    value = values.get(key)
    if value is not None and not isinstance(value, str):
        raise SwapError(f"swap plan: {key!r} must be a string or null, got {value!r}")
    return value


def _optional_shape(values: dict[str, Any]) -> Shape | None:
    """``input_shape`` as a tuple of positive ints, or None."""
    shape = values.get("input_shape")
    if shape is None:
        return None
    if (
        not isinstance(shape, list)
        or not shape
        or not all(isinstance(size, int) and not isinstance(size, bool) for size in shape)
        or any(size < 1 for size in shape)
    ):
        raise SwapError(f"swap plan: 'input_shape' must be whole numbers ≥ 1, got {shape!r}")
    return tuple(shape)


def _optional_errors(values: dict[str, Any]) -> dict[str, float] | None:
    """``weight_error`` (``relative_error`` in plans written before) as {name: finite number
    ≥ 0}, or None."""
    errors = values.get("weight_error", values.get("relative_error"))
    if errors is None:
        return None
    if not isinstance(errors, dict) or not all(
        isinstance(value, (int, float)) and math.isfinite(value) and value >= 0
        for value in errors.values()
    ):
        raise SwapError("swap plan: 'weight_error' must map layer names to numbers ≥ 0")
    return {str(name): float(value) for name, value in errors.items()}


def read_plan(path: str | Path) -> SwapPlan:
    """Read a plan JSON file; SwapError saying what is wrong with it."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise SwapError(f"cannot read swap plan {str(path)!r}: {error.strerror}") from None
    try:
        values = json.loads(text)
    except json.JSONDecodeError as error:
        raise SwapError(f"swap plan {str(path)!r} is not JSON: {error}") from None
    return SwapPlan.from_dict(values)


def plan_from_analysis(analysis: ModelAnalysis) -> dict[str, Any]:
    """The plan JSON of an analysis's current selection (no weights needed).

    ``weight_error`` is filled when every swapped layer carries its error.
    """
    swapped = [layer for layer in analysis.layers if layer.swap]
    errors = {layer.name: layer.weight_error for layer in swapped}
    known_errors = (
        {name: error for name, error in errors.items() if error is not None}
        if swapped and all(error is not None for error in errors.values())
        else None
    )
    plan = SwapPlan(
        swapped=tuple(layer.name for layer in swapped),
        depth_multiplier={layer.name: layer.depth_multiplier for layer in swapped},
        source=analysis.source,
        input_shape=analysis.input_shape,
        init=None,
        weight_error=known_errors,
        params={"original": analysis.original.params, "swapped": analysis.swapped.params},
    )
    return plan.to_dict()


@dataclass(frozen=True)
class SwapResult:
    """A swapped copy of a model, which layers were swapped, and each one's weight error."""

    model: nn.Module
    swapped: tuple[str, ...]
    weight_error: dict[str, float]  # ‖W − Ŵ‖_F / ‖W‖_F of each swapped layer as initialised
    depth_multiplier: int | dict[str, int] = 1  # shared, or each swapped layer's
    init: str = "svd"
    source: str | None = None
    input_shape: Shape | None = None
    params: dict[str, int] | None = None  # {"original": …, "swapped": …}
    analysis: ModelAnalysis | None = None  # with the swaps and errors, when an input was given
    # The model it was swapped from (not a copy), for fidelity and recovery; not in the plan.
    original: nn.Module | None = field(default=None, repr=False, compare=False)

    def multiplier_for(self, name: str) -> int:
        """The depth multiplier of swapped layer ``name``."""
        return self.plan.multiplier_for(name)

    @property
    def plan(self) -> SwapPlan:
        """The plan that rebuilds this model's architecture."""
        return SwapPlan(
            swapped=self.swapped,
            depth_multiplier=self.depth_multiplier,
            source=self.source,
            input_shape=self.input_shape,
            init=self.init,
            weight_error=dict(self.weight_error),
            params=self.params,
        )

    def to_dict(self) -> dict[str, Any]:
        """The plan JSON (``DIR/plan.json`` of ``sepconv-tui swap``)."""
        return self.plan.to_dict()
