"""A whole model's convs and linears, what a separable swap of each would cost, and selections.

Plain data, no torch, no Rich: ``model.describe.trace`` fills it, ``report.model_table`` renders it,
and the app rebuilds it from JSON (``ModelAnalysis.from_dict``) and toggles swaps by arithmetic
(``with_swaps``) without going back to PyTorch.
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from ...core.analytic import separable_params
from ...core.spec import FIELD_BOUNDS, range_message
from ...errors import UserError

Shape = tuple[int, ...]

#: The selections the frontier resolves, choosing each layer's m under one whole-model budget.
FRONTIER_RULES = ("agreement", "macs", "params")

#: What ``--swap`` accepts, for messages.
SELECTION_FORMS = (
    "saving, all, none, top:N, max-error:X, agreement:X, macs:X, params:X, speedup:X, or "
    "comma-separated layer names and globs"
)


def error_from_energy(kept_energy: Sequence[float], depth_multiplier: int) -> float:
    """The best block's weight error ‖W − Ŵ‖_F / ‖W‖_F at ``depth_multiplier``, from the share
    of ‖W‖²_F it keeps at m = 1, 2, … (``factorise.kept_energy``): √(1 − kept)."""
    kept = kept_energy[min(depth_multiplier, len(kept_energy)) - 1]
    return math.sqrt(max(0.0, 1.0 - kept))


def multiplier_for_energy(kept_energy: Sequence[float], energy: float) -> int:
    """auto:E: the smallest m whose block keeps a fraction ``energy`` of ‖W‖²_F, capped at the
    rank (where the block is exact) and at the largest m allowed."""
    high = FIELD_BOUNDS["depth_multiplier"][1]
    for multiplier, kept in enumerate(kept_energy[:high], start=1):
        if kept >= energy - 1e-9:  # so that E = 1 stops at the full rank despite rounding
            return multiplier
    return min(len(kept_energy), high)


def describe_multipliers(multipliers: int | Mapping[str, int]) -> str:
    """ "depth multiplier 2" when every swapped layer shares m, else "per-layer m 9–71"."""
    if isinstance(multipliers, int):
        return f"depth multiplier {multipliers}"
    values = set(multipliers.values())
    if len(values) <= 1:
        return f"depth multiplier {values.pop() if values else 1}"
    return f"per-layer m {min(values)}–{max(values)}"


class SelectionError(UserError):
    """A ``--swap`` selection that is malformed or names no candidate."""

    default_field = "swap"


class SwapError(UserError):
    """A swap or a plan that cannot be carried out; the message is for the user as is."""


#: What ``--depth-multiplier`` accepts, for messages.
DEPTH_MULTIPLIER_FORMS = f"{range_message('depth_multiplier')}, or auto:E with 0 < E ≤ 1"


@dataclass(frozen=True)
class AutoDepth:
    """``auto:E``: each layer's smallest m whose per-channel SVD keeps a fraction E of ‖W‖²_F."""

    energy: float

    def __str__(self) -> str:
        """The text ``parse_depth_multiplier`` reads back."""
        return f"auto:{self.energy:g}"


#: One m for every swapped layer, a rule that picks each layer's, or each layer's own.
DepthChoice = int | AutoDepth


def check_depth_multiplier(value: Any, where: str = "the depth multiplier") -> int:
    """``value`` as an int from 1 to 64 (FIELD_BOUNDS), or SwapError naming ``where``."""
    low, high = FIELD_BOUNDS["depth_multiplier"]
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise SwapError(
            f"{where} must be {range_message('depth_multiplier')}, got {value!r}",
            field="depth_multiplier",
        )
    return value


def parse_depth_multiplier(value: Any) -> DepthChoice:
    """``--depth-multiplier`` text (or an int, or AutoDepth) → DepthChoice; SwapError otherwise."""
    if isinstance(value, AutoDepth):
        value = str(value)
    if isinstance(value, str):
        cleaned = value.strip()
        if cleaned.startswith("auto:"):
            try:
                energy = float(cleaned.removeprefix("auto:"))
            except ValueError:
                energy = -1.0
            if not 0 < energy <= 1:  # nan fails too
                raise SwapError(
                    f"auto:E needs a number E with 0 < E ≤ 1, got {value!r}",
                    field="depth_multiplier",
                )
            return AutoDepth(energy)
        if cleaned.lstrip("-").isdigit():
            return check_depth_multiplier(int(cleaned))
        raise SwapError(
            f"the depth multiplier must be {DEPTH_MULTIPLIER_FORMS}, got {value!r}",
            field="depth_multiplier",
        )
    return check_depth_multiplier(value)


@dataclass(frozen=True)
class Cost:
    """Parameters and multiply-accumulates (over every call; bias adds not counted)."""

    params: int
    macs: int

    def to_dict(self) -> dict[str, int]:
        """``{"params": …, "macs": …}``."""
        return {"params": self.params, "macs": self.macs}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Cost:
        """The inverse of ``to_dict``."""
        return cls(int(values["params"]), int(values["macs"]))


def format_axes(values: tuple[int, ...]) -> str:
    """Per-axis values as a kernel is written: 3, 3×3, 3×7×7."""
    return "×".join(str(value) for value in values)


def _tuple(value: Any) -> Any:
    """A JSON list back to a tuple (strings and None unchanged)."""
    return tuple(value) if isinstance(value, list) else value


def _list(value: Any) -> Any:
    """A tuple to a JSON list (strings and None unchanged)."""
    return list(value) if isinstance(value, tuple) else value


@dataclass(frozen=True)
class ModelLayer:
    """One conv or linear of a model: geometry, shapes seen, cost as is and as separable."""

    name: str  # the module path, e.g. "layer1.0.conv1"
    kind: str  # "conv" (nn.Conv1d/2d/3d), "linear" (nn.Linear) or "other" (another conv type)
    module_type: str  # the class name, e.g. "Conv2d"
    in_channels: int  # in_features for a linear
    out_channels: int  # out_features for a linear
    kernel_size: tuple[int, ...] | None  # one entry per spatial axis; None for a linear or other
    stride: tuple[int, ...] | None
    padding: tuple[int, ...] | str | None  # per axis, "same", "valid" or "tf-same"
    dilation: tuple[int, ...] | None
    groups: int
    bias: bool
    padding_mode: str | None
    input_shape: Shape | None  # of the first call; None when the forward never called it
    output_shape: Shape | None
    calls: int
    candidate: bool
    reason: str | None  # why it is not a candidate (None for a candidate)
    swap: bool
    standard: Cost
    separable: Cost | None  # the replacement block's cost; None unless a candidate
    weight_error: float | None = None  # ‖W − Ŵ‖_F / ‖W‖_F of the SVD-initialised block
    depth_multiplier: int = 1  # this layer's m (the separable cost is at this m)
    # With weights: the fraction of ‖W‖²_F the best block keeps at m = 1, 2, … (up to the rank),
    # so that a new m's error and auto:E are arithmetic: error(m) = √(1 − kept[m − 1]).
    kept_energy: tuple[float, ...] | None = None

    @property
    def param_saving(self) -> int:
        """Parameters a swap removes (negative when the block is larger)."""
        return self.standard.params - self.separable.params if self.separable else 0

    @property
    def mac_saving(self) -> int:
        """MACs a swap removes over every call (negative when the block costs more)."""
        return self.standard.macs - self.separable.macs if self.separable else 0

    @property
    def cost(self) -> Cost:
        """What the layer costs in the model as selected (separable when swapped)."""
        return self.separable if self.swap and self.separable is not None else self.standard

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of one layer."""
        return {
            "name": self.name,
            "kind": self.kind,
            "module_type": self.module_type,
            "in_channels": self.in_channels,
            "out_channels": self.out_channels,
            "kernel_size": _list(self.kernel_size),
            "stride": _list(self.stride),
            "padding": _list(self.padding),
            "dilation": _list(self.dilation),
            "groups": self.groups,
            "bias": self.bias,
            "padding_mode": self.padding_mode,
            "input_shape": _list(self.input_shape),
            "output_shape": _list(self.output_shape),
            "calls": self.calls,
            "candidate": self.candidate,
            "reason": self.reason,
            "swap": self.swap,
            "standard": self.standard.to_dict(),
            "separable": self.separable.to_dict() if self.separable is not None else None,
            "weight_error": self.weight_error,
            "depth_multiplier": self.depth_multiplier,
            "kept_energy": list(self.kept_energy) if self.kept_energy is not None else None,
        }

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ModelLayer:
        """The inverse of ``to_dict``."""
        separable = values["separable"]
        return cls(
            name=values["name"],
            kind=values["kind"],
            module_type=values["module_type"],
            in_channels=values["in_channels"],
            out_channels=values["out_channels"],
            kernel_size=_tuple(values["kernel_size"]),
            stride=_tuple(values["stride"]),
            padding=_tuple(values["padding"]),
            dilation=_tuple(values["dilation"]),
            groups=values["groups"],
            bias=values["bias"],
            padding_mode=values["padding_mode"],
            input_shape=_tuple(values["input_shape"]),
            output_shape=_tuple(values["output_shape"]),
            calls=values["calls"],
            candidate=values["candidate"],
            reason=values["reason"],
            swap=values["swap"],
            standard=Cost.from_dict(values["standard"]),
            separable=Cost.from_dict(separable) if separable is not None else None,
            weight_error=values.get("weight_error", values.get("error")),  # "error" before
            depth_multiplier=int(values.get("depth_multiplier", 1)),
            kept_energy=_tuple(values.get("kept_energy")),
        )

    def error_at(self, depth_multiplier: int) -> float | None:
        """The SVD start's weight error at ``depth_multiplier``, when the energies are known."""
        return error_from_energy(self.kept_energy, depth_multiplier) if self.kept_energy else None

    def auto_multiplier(self, energy: float) -> int | None:
        """The smallest m keeping a fraction ``energy`` of ‖W‖²_F (None without the energies)."""
        return multiplier_for_energy(self.kept_energy, energy) if self.kept_energy else None

    def with_depth_multiplier(self, depth_multiplier: int) -> ModelLayer:
        """The row with its separable block at ``depth_multiplier`` (arithmetic only).

        The block's MACs are linear in m (both convs scale with C_in·m), so the new MACs are
        the old ones × m_new / m_old exactly; the params come from the closed form.
        """
        if self.separable is None or depth_multiplier == self.depth_multiplier:
            return replace(self, depth_multiplier=depth_multiplier)
        assert self.kernel_size is not None
        params = separable_params(
            self.in_channels, self.out_channels, self.kernel_size, self.bias, depth_multiplier
        )
        macs = self.separable.macs // self.depth_multiplier * depth_multiplier
        extra = self.separable.params - separable_params(
            self.in_channels, self.out_channels, self.kernel_size, self.bias, self.depth_multiplier
        )
        return replace(
            self,
            depth_multiplier=depth_multiplier,
            separable=Cost(params + extra, macs),
            weight_error=self.error_at(depth_multiplier),
        )


@dataclass(frozen=True)
class Selection:
    """Which candidates to swap: a rule ("saving", "all", "none", "top") or name patterns."""

    rule: str  # "saving" | "all" | "none" | "top" | "max-error" | "names" | a budget
    count: int | None = None  # N of top:N
    patterns: tuple[str, ...] = ()  # layer names or globs, for rule "names"
    max_error: float | None = None  # X of max-error:X
    min_agreement: float | None = None  # X of agreement:X
    min_speedup: float | None = None  # X of speedup:X (measured whole-model speed-up)
    min_ratio: float | None = None  # X of macs:X or params:X (X× fewer for the whole model)

    @property
    def on_frontier(self) -> bool:
        """Whether the frontier resolves it: each layer's m chosen under one whole-model budget."""
        return self.rule in FRONTIER_RULES

    def __str__(self) -> str:
        """The text ``parse_selection`` reads back."""
        if self.rule == "top":
            return f"top:{self.count}"
        if self.rule == "max-error":
            return f"max-error:{self.max_error:g}"
        if self.rule == "agreement":
            return f"agreement:{self.min_agreement:g}"
        if self.rule == "speedup":
            return f"speedup:{self.min_speedup:g}"
        if self.rule in ("macs", "params"):
            return f"{self.rule}:{self.min_ratio:g}"
        if self.rule == "names":
            return ",".join(self.patterns)
        return self.rule


#: Selection rules that are budgets, measured on data or a runtime before the layers are
#: known: resolved above a model job (the workflow, speedup, the CLI), never inside it.
BUDGET_RULES = (*FRONTIER_RULES, "speedup")


def unresolved_budget(selection: Selection) -> str:
    """What a budget given where layers are needed says: what resolves it."""
    if selection.rule == "agreement":
        return (
            f"{selection} measures the model on data: it needs the data (and the model's weights)"
        )
    if selection.rule in FRONTIER_RULES:
        return (
            f"{selection} chooses each layer's m along the frontier of the measured "
            "sensitivity, which the swap resolves before it selects"
        )
    return (
        f"{selection} times each layer at each m where it runs, then the whole model at the "
        "points it depends on: the model, swap, fidelity and export commands resolve it "
        "(model.speedup)"
    )


def parse_selection(text: str) -> Selection:
    """``--swap`` text → Selection; SelectionError naming what is accepted."""
    cleaned = text.strip()
    if cleaned in ("saving", "all", "none"):
        return Selection(cleaned)
    if cleaned.startswith("top:"):
        count_text = cleaned.removeprefix("top:").strip()
        if not count_text.isdigit() or int(count_text) < 1:
            raise SelectionError(f"top:N needs a whole number N ≥ 1, got {text!r}")
        return Selection("top", count=int(count_text))
    if cleaned.startswith("max-error:"):
        return Selection("max-error", max_error=_parse_fraction(text, cleaned, "max-error"))
    if cleaned.startswith("agreement:"):
        return Selection("agreement", min_agreement=_parse_fraction(text, cleaned, "agreement"))
    if cleaned.startswith("speedup:"):
        try:
            speedup = float(cleaned.removeprefix("speedup:").strip())
        except ValueError:
            speedup = 0.0
        if not 1 < speedup <= 1000:  # nan fails too
            raise SelectionError(
                f"speedup:X needs a speed-up X above 1 and at most 1000, got {text!r}"
            )
        return Selection("speedup", min_speedup=speedup)
    for rule in ("macs", "params"):
        if cleaned.startswith(f"{rule}:"):
            return Selection(rule, min_ratio=_parse_ratio(text, cleaned, rule))
    # A "rule:value" form that is not top:N or max-error:X is a typo or a form this version lacks.
    if ":" in cleaned:
        raise SelectionError(f"the layers to swap must be {SELECTION_FORMS}; got {text!r}")
    patterns = tuple(part.strip() for part in cleaned.split(","))
    if not cleaned or any(not pattern for pattern in patterns):
        raise SelectionError(f"the layers to swap must be {SELECTION_FORMS}; got {text!r}")
    return Selection("names", patterns=patterns)


def _parse_ratio(text: str, cleaned: str, rule: str) -> float:
    """X of "macs:X" or "params:X": X× fewer, above 1 and at most 1000; SelectionError otherwise."""
    try:
        value = float(cleaned.removeprefix(f"{rule}:").strip())
    except ValueError:
        value = 0.0
    if not 1 < value <= 1000:  # nan fails too
        raise SelectionError(
            f"{rule}:X needs a number X above 1 and at most 1000 (X times fewer {rule} for the "
            f"whole model), got {text!r}"
        )
    return value


def _parse_fraction(text: str, cleaned: str, rule: str) -> float:
    """X of "max-error:X" or "agreement:X": a number from 0 to 1; SelectionError otherwise."""
    value_text = cleaned.removeprefix(f"{rule}:").strip()
    try:
        value = float(value_text)
    except ValueError:
        value = -1.0
    # A relative error of the best approximation, or a share of samples, lies in [0, 1];
    # nan fails the comparison too.
    if not 0 <= value <= 1:
        raise SelectionError(f"{rule}:X needs a number X from 0 to 1, got {text!r}")
    return value


def _ratio(before: int, after: int) -> float | None:
    """before ÷ after ("× fewer"), None when after is 0."""
    return before / after if after else None


@dataclass(frozen=True)
class ModelAnalysis:
    """A model's conv/linear rows, the ops the closed form does not model, and the totals."""

    source: str
    input_shape: Shape
    output_shape: Shape | None  # the first tensor the forward returned
    layers: tuple[ModelLayer, ...]
    other: Cost  # everything else, counted by PyTorch alone: norms, attention matmuls, …
    depth_multiplier: int = 1  # the m a layer gets unless chosen per layer (see ``multipliers``)
    device: str = "meta"  # where the forward ran: "meta", or "cpu" for models meta cannot run
    verified: dict[str, bool] = field(default_factory=dict)  # params, macs, shapes
    notes: tuple[str, ...] = ()

    @property
    def swapped_names(self) -> frozenset[str]:
        """The layers the current selection swaps."""
        return frozenset(layer.name for layer in self.layers if layer.swap)

    @property
    def candidates(self) -> tuple[ModelLayer, ...]:
        """The layers a separable block can replace."""
        return tuple(layer for layer in self.layers if layer.candidate)

    @property
    def original(self) -> Cost:
        """The model as it is."""
        return Cost(
            sum(layer.standard.params for layer in self.layers) + self.other.params,
            sum(layer.standard.macs for layer in self.layers) + self.other.macs,
        )

    @property
    def swapped(self) -> Cost:
        """The model with the selected layers swapped."""
        return Cost(
            sum(layer.cost.params for layer in self.layers) + self.other.params,
            sum(layer.cost.macs for layer in self.layers) + self.other.macs,
        )

    @property
    def param_ratio(self) -> float | None:
        """Original ÷ swapped parameters ("× fewer")."""
        return _ratio(self.original.params, self.swapped.params)

    @property
    def mac_ratio(self) -> float | None:
        """Original ÷ swapped MACs ("× fewer")."""
        return _ratio(self.original.macs, self.swapped.macs)

    def with_swaps(self, names: frozenset[str] | set[str]) -> ModelAnalysis:
        """The analysis with exactly ``names`` swapped; ValueError for a non-candidate name."""
        candidate_names = {layer.name for layer in self.candidates}
        unknown = sorted(set(names) - candidate_names)
        if unknown:
            raise SelectionError(
                f"not swap candidates: {', '.join(unknown[:5])}"
                + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else "")
            )
        layers = tuple(
            layer if layer.swap == (layer.name in names) else replace(layer, swap=not layer.swap)
            for layer in self.layers
        )
        return replace(self, layers=layers)

    @property
    def multipliers(self) -> dict[str, int]:
        """Each candidate's depth multiplier."""
        return {layer.name: layer.depth_multiplier for layer in self.candidates}

    @property
    def shared_multiplier(self) -> int | None:
        """The m every swapped layer (every candidate, when none is) shares; None if they differ."""
        layers = [layer for layer in self.candidates if layer.swap] or list(self.candidates)
        values = {layer.depth_multiplier for layer in layers}
        if not values:
            return self.depth_multiplier
        return values.pop() if len(values) == 1 else None

    def multiplier_json(self) -> int | dict[str, int]:
        """``depth_multiplier`` as JSON and plans write it: an int when shared, else per layer."""
        shared = self.shared_multiplier
        if shared is not None:
            return shared
        return {layer.name: layer.depth_multiplier for layer in self.candidates if layer.swap}

    def with_depth_multipliers(self, multipliers: dict[str, int] | int) -> ModelAnalysis:
        """The analysis with each named candidate's block at its m (an int: every candidate's).

        Arithmetic only; a layer whose m changes loses its weight error (it was for the old m).
        """
        if isinstance(multipliers, int):
            multipliers = {layer.name: multipliers for layer in self.candidates}
        unknown = sorted(set(multipliers) - {layer.name for layer in self.candidates})
        if unknown:
            raise SwapError(
                f"depth multipliers for layers that are not candidates: {', '.join(unknown[:5])}",
                field="depth_multiplier",
            )
        layers = tuple(
            layer.with_depth_multiplier(check_depth_multiplier(multipliers[layer.name]))
            if layer.name in multipliers
            else layer
            for layer in self.layers
        )
        return replace(self, layers=layers)

    def auto_multipliers(self, energy: float) -> dict[str, int]:
        """Each candidate's m under auto:``energy``; SwapError when the weights' energies are
        unknown (the analysis was made without weights)."""
        multipliers = {}
        for layer in self.candidates:
            multiplier = layer.auto_multiplier(energy)
            if multiplier is None:
                raise SwapError(
                    f"auto:{energy:g} picks each layer's m from its weights: "
                    "give the model's weights",
                    field="depth_multiplier",
                )
            multipliers[layer.name] = multiplier
        return multipliers

    def with_energies(self, energies: dict[str, list[float]]) -> ModelAnalysis:
        """The analysis with each named candidate's kept-energy fractions (and so its error)."""
        layers = []
        for layer in self.layers:
            if layer.name in energies:
                layer = replace(layer, kept_energy=tuple(energies[layer.name]))
                layer = replace(layer, weight_error=layer.error_at(layer.depth_multiplier))
            layers.append(layer)
        return replace(self, layers=tuple(layers))

    def with_errors(self, errors: dict[str, float]) -> ModelAnalysis:
        """The analysis with each named layer's ``error`` set (others keep theirs).

        ``errors`` maps layer names to the relative error ‖W − Ŵ‖_F / ‖W‖_F of the separable
        block initialised from the layer's weights (``model.describe.factorise.layer_errors``
        computes them).
        """
        unknown = sorted(set(errors) - {layer.name for layer in self.layers})
        if unknown:
            raise SelectionError(f"errors for layers this model lacks: {', '.join(unknown[:5])}")
        layers = tuple(
            replace(layer, weight_error=float(errors[layer.name]))
            if layer.name in errors
            else layer
            for layer in self.layers
        )
        return replace(self, layers=layers)

    def selected_names(self, selection: Selection) -> frozenset[str]:
        """The candidate names ``selection`` picks; SelectionError for a pattern matching none."""
        candidates = self.candidates
        if selection.rule == "none":
            return frozenset()
        if selection.rule == "all":
            return frozenset(layer.name for layer in candidates)
        if selection.rule == "saving":
            return frozenset(layer.name for layer in candidates if layer.param_saving > 0)
        if selection.rule == "top":
            # Ties keep the model's order, so the same model always gives the same pick.
            ranked = sorted(candidates, key=lambda layer: -layer.mac_saving)
            return frozenset(layer.name for layer in ranked[: selection.count])
        if selection.rule in BUDGET_RULES:
            raise SelectionError(unresolved_budget(selection))
        if selection.rule == "max-error":
            if any(layer.weight_error is None for layer in candidates):
                raise SelectionError(
                    f"{selection} needs each candidate's error, which needs the model's weights"
                )
            threshold = selection.max_error if selection.max_error is not None else 0.0
            return frozenset(
                layer.name
                for layer in candidates
                if layer.weight_error is not None and layer.weight_error <= threshold
            )
        names: set[str] = set()
        for pattern in selection.patterns:
            matched = {
                layer.name for layer in candidates if fnmatch.fnmatchcase(layer.name, pattern)
            }
            if not matched:
                raise SelectionError(self._no_match_message(pattern))
            names |= matched
        return frozenset(names)

    def _no_match_message(self, pattern: str) -> str:
        """Why ``pattern`` picks nothing: a non-candidate layer, or no such layer."""
        for layer in self.layers:
            if fnmatch.fnmatchcase(layer.name, pattern):
                return f"{pattern!r} matches no candidate: {layer.name} is not one ({layer.reason})"
        close = [layer.name for layer in self.candidates[:3]]
        return (
            f"{pattern!r} matches no layer of this model; candidates are named like "
            + ", ".join(close)
        )

    def select(self, selection: Selection | str) -> ModelAnalysis:
        """The analysis with ``selection``'s candidates swapped (text is parsed first)."""
        if isinstance(selection, str):
            selection = parse_selection(selection)
        return self.with_swaps(self.selected_names(selection))

    def to_dict(self) -> dict[str, Any]:
        """The JSON of ``sepconv-tui model --json``."""
        original, swapped = self.original, self.swapped
        return {
            "source": self.source,
            "input_shape": list(self.input_shape),
            "output_shape": _list(self.output_shape),
            "depth_multiplier": self.multiplier_json(),
            "device": self.device,
            "original": original.to_dict(),
            "swapped": swapped.to_dict(),
            "param_ratio": self.param_ratio,
            "mac_ratio": self.mac_ratio,
            "candidates": len(self.candidates),
            "swapped_count": len(self.swapped_names),
            "other_ops": self.other.to_dict(),
            "layers": [layer.to_dict() for layer in self.layers],
            "verified": dict(self.verified),
            "notes": list(self.notes),
        }

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ModelAnalysis:
        """The inverse of ``to_dict`` (derived totals are recomputed, not read)."""
        return cls(
            source=values["source"],
            input_shape=tuple(values["input_shape"]),
            output_shape=_tuple(values["output_shape"]),
            layers=tuple(ModelLayer.from_dict(layer) for layer in values["layers"]),
            other=Cost.from_dict(values["other_ops"]),
            depth_multiplier=(
                values["depth_multiplier"] if isinstance(values["depth_multiplier"], int) else 1
            ),
            device=values["device"],
            verified=dict(values["verified"]),
            notes=tuple(values["notes"]),
        )

    def __rich__(self) -> Any:
        """The CLI's table and summary once ``report.model_table`` is loaded (``sepconv_tui`` loads
        it for ``analyze_model``); a one-line summary before. The report layer registers
        itself in RICH_RENDERERS so that this plain-data module never imports it."""
        renderer = RICH_RENDERERS.get(type(self))
        if renderer is not None:
            return renderer(self)
        return (
            f"{self.source}: {self.original.params:,} → {self.swapped.params:,} params, "
            f"{len(self.swapped_names)} of {len(self.candidates)} candidates swapped"
        )


#: How ``__rich__`` draws each plain-data type; filled by the report modules when imported.
RICH_RENDERERS: dict[type, Callable[[Any], Any]] = {}
