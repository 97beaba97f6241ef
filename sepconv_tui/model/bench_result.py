"""What a whole-model timing found: torch-free plain data the app's child sends as JSON.

``ModelBenchResult``: the original and its swap timed (``bench.benchmark_model``);
``LayerBench``: every candidate conv and its block timed alone (``bench.benchmark_layers``),
with the arithmetic that predicts a swap's speed-up from those rows. No torch is imported.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from ..core.latency import RuntimeTiming, Timing
from .analysis import Shape

#: Seconds each model is timed for at least: a whole model's passes are long and noisy.
MODEL_MIN_RUN_TIME_S = 1.0


@dataclass(frozen=True)
class ModelBenchResult:
    """The original and the swapped model timed on one device, beside their MAC ratio."""

    source: str
    input_shape: Shape
    selection: str
    swapped_count: int
    candidates: int
    depth_multiplier: int | dict[str, int]  # shared, or each swapped layer's
    device: str
    threads: int
    channels_last: bool
    original: Timing
    swapped: Timing
    mac_ratio: float | None
    param_ratio: float | None
    estimated_bytes: int
    budget_bytes: int
    torch_version: str
    # With runtimes: each timed in its own process (original and swapped above are the
    # first's); empty when both models were timed here, in this process.
    runtimes: dict[str, RuntimeTiming] = field(default_factory=dict)
    notes: tuple[str, ...] = ()  # e.g. a runtime of --runtime all left out, and why

    @property
    def speed_ratio(self) -> float:
        """Original median ÷ swapped median ("× faster"; below 1 means slower)."""
        return self.original.median_s / self.swapped.median_s

    def to_dict(self) -> dict[str, Any]:
        """The JSON document of ``sepconv-tui bench --model --json``."""
        return {
            "source": self.source,
            "input_shape": list(self.input_shape),
            "swap": self.selection,
            "swapped_count": self.swapped_count,
            "candidates": self.candidates,
            "depth_multiplier": self.depth_multiplier,
            "original": asdict(self.original),
            "swapped": asdict(self.swapped),
            "speed_ratio": self.speed_ratio,
            "mac_ratio": self.mac_ratio,
            "param_ratio": self.param_ratio,
            "device": self.device,
            "threads": self.threads,
            "channels_last": self.channels_last,
            "memory": {"estimated_bytes": self.estimated_bytes, "budget_bytes": self.budget_bytes},
            "torch": self.torch_version,
            "runtimes": {
                name: timing.to_dict("original", "swapped")
                for name, timing in self.runtimes.items()
            },
            "notes": list(self.notes),
            "conventions": {
                "median_s": "seconds per forward pass (batch included), median over timed blocks",
                "speed_ratio": "original median ÷ swapped median",
                "mac_ratio": "original MACs ÷ swapped MACs",
                "dtype": "float32, inference mode, eval()",
            },
        }

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ModelBenchResult:
        """The inverse of ``to_dict``."""
        return cls(
            source=values["source"],
            input_shape=tuple(values["input_shape"]),
            selection=values["swap"],
            swapped_count=values["swapped_count"],
            candidates=values["candidates"],
            depth_multiplier=values["depth_multiplier"],
            device=values["device"],
            threads=values["threads"],
            channels_last=values["channels_last"],
            original=Timing.from_dict(values["original"]),
            swapped=Timing.from_dict(values["swapped"]),
            mac_ratio=values["mac_ratio"],
            param_ratio=values["param_ratio"],
            estimated_bytes=values["memory"]["estimated_bytes"],
            budget_bytes=values["memory"]["budget_bytes"],
            torch_version=values["torch"],
            runtimes={
                name: RuntimeTiming.from_dict(timing, "original", "swapped")
                for name, timing in values.get("runtimes", {}).items()
            },
            notes=tuple(values.get("notes", ())),
        )


# Per layer, measured: each candidate conv and its block alone, on a runtime ------------------

#: A row whose measured speed-up is below this fraction of its MAC ratio is marked.
FAR_BELOW = 0.5


@dataclass(frozen=True)
class LayerTiming:
    """One conv and its separable block, each alone at the conv's input, on one runtime."""

    conv: Timing
    block: Timing

    @property
    def speed_ratio(self) -> float:
        """Conv median ÷ block median ("× faster")."""
        return self.conv.median_s / self.block.median_s

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of one layer on one runtime."""
        return {
            "conv": asdict(self.conv),
            "block": asdict(self.block),
            "speed_ratio": self.speed_ratio,
        }

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> LayerTiming:
        """The inverse of ``to_dict``."""
        return cls(Timing.from_dict(dict(values["conv"])), Timing.from_dict(dict(values["block"])))


@dataclass(frozen=True)
class LayerRow:
    """A candidate conv: where it runs in the model, its MAC ratio, and its times by runtime."""

    name: str
    input_shape: Shape  # of its first call, as the analysis recorded it
    calls: int  # forward calls per pass of the model (a shared conv runs more than once)
    depth_multiplier: int
    mac_ratio: float | None  # conv MACs ÷ block MACs
    swap: bool  # picked by the selection
    timings: dict[str, LayerTiming]  # by runtime

    def saved_s(self, runtime: str) -> float:
        """Seconds a swap of this layer saves per model pass on ``runtime`` (every call)."""
        timing = self.timings[runtime]
        return self.calls * (timing.conv.median_s - timing.block.median_s)

    def far_below(self, runtime: str) -> bool:
        """True when the measured speed-up is below FAR_BELOW × the MAC ratio."""
        return (
            self.mac_ratio is not None
            and self.timings[runtime].speed_ratio < FAR_BELOW * self.mac_ratio
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of one row."""
        return {
            "name": self.name,
            "input_shape": list(self.input_shape),
            "calls": self.calls,
            "depth_multiplier": self.depth_multiplier,
            "mac_ratio": self.mac_ratio,
            "swap": self.swap,
            "runtimes": {
                runtime: {
                    **timing.to_dict(),
                    "saved_s": self.saved_s(runtime),
                    "far_below_mac_ratio": self.far_below(runtime),
                }
                for runtime, timing in self.timings.items()
            },
        }

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> LayerRow:
        """The inverse of ``to_dict``."""
        return cls(
            values["name"],
            tuple(values["input_shape"]),
            int(values["calls"]),
            int(values["depth_multiplier"]),
            values["mac_ratio"],
            bool(values["swap"]),
            {
                runtime: LayerTiming.from_dict(timing)
                for runtime, timing in values["runtimes"].items()
            },
        )


@dataclass(frozen=True)
class LayerBench:
    """Every candidate conv and its block timed alone, and the whole original, per runtime.

    Torch-free plain data: the app's child sends it as JSON (``to_dict``/``from_dict``), and
    ``predicted_speed_ratio`` answers "what would swapping these layers buy here" by arithmetic.
    """

    source: str
    input_shape: Shape
    selection: str
    threads: int
    rows: tuple[LayerRow, ...]
    model: dict[str, Timing]  # the whole original model's pass, by runtime
    versions: dict[str, str]  # by runtime, e.g. "onnxruntime 1.32.0"
    torch_version: str
    notes: tuple[str, ...] = ()  # e.g. a runtime of --runtime all left out, and why

    @property
    def runtimes(self) -> tuple[str, ...]:
        """The runtimes timed, in order."""
        return tuple(self.model)

    def convs_s(self, runtime: str) -> float:
        """The candidate convs' share of a model pass on ``runtime`` (each timed alone)."""
        return sum(row.calls * row.timings[runtime].conv.median_s for row in self.rows)

    def other_s(self, runtime: str) -> float:
        """The model's time outside its candidate convs: whole model minus its convs."""
        return self.model[runtime].median_s - self.convs_s(runtime)

    def predicted_latency_s(self, names: Sequence[str] | frozenset[str], runtime: str) -> float:
        """A pass's predicted time with ``names`` swapped: the whole model less what they save
        (what the Model tab's trade-off chart plots against agreement instead of MACs).

        When the convs timed alone add up to more than the whole model (each call alone pays a
        fixed cost the model pays once, or the machine was busy), the saving is scaled by
        whole ÷ (convs + other ≥ 0), so the prediction stays a positive time.
        """
        whole = self.model[runtime].median_s
        parts = max(self.other_s(runtime), 0.0) + self.convs_s(runtime)
        saved = sum(row.saved_s(runtime) for row in self.rows if row.name in names)
        return whole * (parts - saved) / parts if parts > 0 else whole

    def predicted_speed_ratio(self, names: Sequence[str] | frozenset[str], runtime: str) -> float:
        """Whole-model speed-up predicted for swapping ``names``: T ÷ (T − Σ time saved)."""
        return self.model[runtime].median_s / self.predicted_latency_s(names, runtime)

    @property
    def swapped_names(self) -> frozenset[str]:
        """The rows the selection picks."""
        return frozenset(row.name for row in self.rows if row.swap)

    def to_dict(self) -> dict[str, Any]:
        """The JSON document of ``sepconv-tui bench --model … --per-layer --json``."""
        return {
            "source": self.source,
            "input_shape": list(self.input_shape),
            "swap": self.selection,
            "threads": self.threads,
            "runtimes": {
                runtime: {
                    "version": self.versions[runtime],
                    "model": asdict(self.model[runtime]),
                    "convs_s": self.convs_s(runtime),
                    "other_s": self.other_s(runtime),
                    "predicted_speed_ratio": self.predicted_speed_ratio(
                        self.swapped_names, runtime
                    ),
                }
                for runtime in self.runtimes
            },
            "layers": [row.to_dict() for row in self.rows],
            "torch": self.torch_version,
            "notes": list(self.notes),
            "conventions": {
                "median_s": "seconds per forward pass, median over timed blocks",
                "speed_ratio": "conv median ÷ block median, each alone at the conv's input",
                "saved_s": "calls × (conv − block): what swapping the layer saves per pass",
                "other_s": "the whole model's median − every candidate conv's (× calls)",
                "predicted_speed_ratio": "model ÷ (model − Σ saved_s of the swapped layers); "
                "when other_s < 0, Σ saved_s is scaled by model ÷ convs_s",
                "far_below_mac_ratio": f"speed_ratio < {FAR_BELOW:g} × mac_ratio",
            },
        }

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> LayerBench:
        """The inverse of ``to_dict``."""
        runtimes = values["runtimes"]
        return cls(
            values["source"],
            tuple(values["input_shape"]),
            values["swap"],
            int(values["threads"]),
            tuple(LayerRow.from_dict(row) for row in values["layers"]),
            {name: Timing.from_dict(dict(entry["model"])) for name, entry in runtimes.items()},
            {name: entry["version"] for name, entry in runtimes.items()},
            values["torch"],
            tuple(values.get("notes", ())),
        )
