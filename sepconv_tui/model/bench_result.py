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
from .machine import Machine

#: Seconds each model is timed for at least: a whole model's passes are long and noisy.
MODEL_MIN_RUN_TIME_S = 1.0


def tie(first: Timing, second: Timing) -> bool:
    """True when the two medians lie within each other's IQR (median ± IQR / 2 overlap): the
    difference is the machine's noise, so neither is called faster."""
    return abs(first.median_s - second.median_s) <= (first.iqr_s + second.iqr_s) / 2


def _timing_dict(timing: Timing) -> dict[str, float]:
    """A side of a cell: its median and IQR."""
    return {"median_s": timing.median_s, "iqr_s": timing.iqr_s}


@dataclass(frozen=True)
class MatrixCell:
    """The original and the swapped model on one runtime at one precision, or why not."""

    runtime: str
    asked: str  # the precision asked for
    precision: str  # what ran, as the runtime reports it ("int8", "int8+fp32"); asked if absent
    original: Timing | None = None
    swapped: Timing | None = None
    version: str = ""
    absent: str | None = None  # why this machine cannot run the cell

    @property
    def speed_ratio(self) -> float | None:
        """Original median ÷ swapped median in this cell (None when absent)."""
        if self.original is None or self.swapped is None:
            return None
        return self.original.median_s / self.swapped.median_s

    @property
    def tie(self) -> bool:
        """True when the two sides' medians lie within each other's IQR."""
        return (
            self.original is not None
            and self.swapped is not None
            and tie(self.original, self.swapped)
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of one cell: ``{"runtime", "precision", "absent"}`` when absent."""
        if self.absent is not None or self.original is None or self.swapped is None:
            return {
                "runtime": self.runtime,
                "precision": self.precision,
                "absent": self.absent or "not timed",
            }
        return {
            "runtime": self.runtime,
            "precision": self.precision,
            "asked": self.asked,
            "original": _timing_dict(self.original),
            "swapped": _timing_dict(self.swapped),
            "speed_ratio": self.speed_ratio,
            "tie": self.tie,
            "version": self.version,
        }

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> MatrixCell:
        """The inverse of ``to_dict`` (the sides' run counts are not kept)."""
        if "absent" in values:
            return cls(
                values["runtime"], values["precision"], values["precision"], absent=values["absent"]
            )
        return cls(
            values["runtime"],
            values.get("asked", values["precision"]),
            values["precision"],
            Timing(values["original"]["median_s"], values["original"]["iqr_s"], 0, 0),
            Timing(values["swapped"]["median_s"], values["swapped"]["iqr_s"], 0, 0),
            values.get("version", ""),
        )


@dataclass(frozen=True)
class BestDeployment:
    """The fastest cell of each side, and what the swap buys against the original's best."""

    original: MatrixCell
    swapped: MatrixCell
    original_ties: tuple[MatrixCell, ...]  # other cells tying the original's best
    swapped_ties: tuple[MatrixCell, ...]

    @property
    def original_s(self) -> float:
        """The original's best median."""
        assert self.original.original is not None
        return self.original.original.median_s

    @property
    def swapped_s(self) -> float:
        """The swapped model's best median."""
        assert self.swapped.swapped is not None
        return self.swapped.swapped.median_s

    @property
    def speed_ratio(self) -> float:
        """The original's best ÷ the swapped model's best."""
        return self.original_s / self.swapped_s

    @property
    def tie(self) -> bool:
        """True when the two bests' medians lie within each other's IQR."""
        assert self.original.original is not None and self.swapped.swapped is not None
        return tie(self.original.original, self.swapped.swapped)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object ``"best"``."""

        def side(cell: MatrixCell, seconds: float, ties: Sequence[MatrixCell]) -> dict[str, Any]:
            return {
                "runtime": cell.runtime,
                "precision": cell.precision,
                "median_s": seconds,
                "ties": [{"runtime": each.runtime, "precision": each.precision} for each in ties],
            }

        return {
            "original": side(self.original, self.original_s, self.original_ties),
            "swapped": side(self.swapped, self.swapped_s, self.swapped_ties),
            "speed_ratio": self.speed_ratio,
            "tie": self.tie,
        }


def best_deployment(cells: Sequence[MatrixCell]) -> BestDeployment | None:
    """Each side's fastest cell among those timed, and the cells that tie it (None when no
    cell was timed)."""
    timed = [cell for cell in cells if cell.original is not None and cell.swapped is not None]
    if not timed:
        return None
    original = min(timed, key=lambda cell: cell.original.median_s)  # type: ignore[union-attr]
    swapped = min(timed, key=lambda cell: cell.swapped.median_s)  # type: ignore[union-attr]
    assert original.original is not None and swapped.swapped is not None
    return BestDeployment(
        original,
        swapped,
        tuple(
            cell
            for cell in timed
            if cell is not original and tie(cell.original, original.original)  # type: ignore[arg-type]
        ),
        tuple(
            cell
            for cell in timed
            if cell is not swapped and tie(cell.swapped, swapped.swapped)  # type: ignore[arg-type]
        ),
    )


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
    # With runtimes: every runtime × precision cell asked for (fp32 ones also in runtimes).
    matrix: tuple[MatrixCell, ...] = ()
    machine: Machine | None = None

    @property
    def speed_ratio(self) -> float:
        """Original median ÷ swapped median ("× faster"; below 1 means slower)."""
        return self.original.median_s / self.swapped.median_s

    @property
    def best(self) -> BestDeployment | None:
        """The fastest cell of each side of the matrix (None without one)."""
        return best_deployment(self.matrix)

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
            **self._matrix_dict(),
            "notes": list(self.notes),
            "conventions": {
                "median_s": "seconds per forward pass (batch included), median over timed blocks",
                "speed_ratio": "original median ÷ swapped median",
                "mac_ratio": "original MACs ÷ swapped MACs",
                "dtype": "float32, inference mode, eval(); a matrix cell at its precision",
                "tie": "the medians lie within each other's IQR (median ± IQR/2 overlap)",
                "best": "each side's fastest cell; speed_ratio: original's best ÷ swapped's best",
            },
        }

    def _matrix_dict(self) -> dict[str, Any]:
        """ "matrix", "best" and "machine", where they were measured."""
        values: dict[str, Any] = {}
        if self.matrix:
            values["matrix"] = [cell.to_dict() for cell in self.matrix]
            best = self.best
            values["best"] = best.to_dict() if best is not None else None
        if self.machine is not None:
            values["machine"] = self.machine.to_dict()
        return values

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
            matrix=tuple(MatrixCell.from_dict(cell) for cell in values.get("matrix", ())),
            machine=Machine.from_dict(values["machine"]) if "machine" in values else None,
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
    timings: dict[str, LayerTiming]  # by runtime (a cell key: "onnxruntime:int8")
    # (conv, block) roofline bound in seconds, by cell key, where measured (bench --per-layer)
    bounds: dict[str, tuple[float, float]] = field(default_factory=dict)
    # The conv's seconds inside the whole original, by cell key, from the runtime's own
    # counters (OpenVINO's PERF_COUNT), apart from the alone-timings
    in_model: dict[str, float] = field(default_factory=dict)

    def bound_speed_ratio(self, runtime: str) -> float | None:
        """The most the swap can speed this layer up on ``runtime``: conv bound ÷ block bound."""
        bound = self.bounds.get(runtime)
        return None if bound is None else bound[0] / bound[1]

    def efficiency(self, runtime: str) -> dict[str, float] | None:
        """Bound time ÷ measured time for each side (1 = at the limit)."""
        bound = self.bounds.get(runtime)
        if bound is None:
            return None
        timing = self.timings[runtime]
        return {"conv": bound[0] / timing.conv.median_s, "block": bound[1] / timing.block.median_s}

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
                    **self._bound_dict(runtime),
                    **({"in_model_s": self.in_model[runtime]} if runtime in self.in_model else {}),
                }
                for runtime, timing in self.timings.items()
            },
        }

    def _bound_dict(self, runtime: str) -> dict[str, Any]:
        """The bound's keys of one runtime's object (none where no bound was measured)."""
        bound = self.bounds.get(runtime)
        if bound is None:
            return {}
        return {
            "bound_s": {"conv": bound[0], "block": bound[1]},
            "bound_speed_ratio": self.bound_speed_ratio(runtime),
            "efficiency": self.efficiency(runtime),
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
            {
                runtime: (timing["bound_s"]["conv"], timing["bound_s"]["block"])
                for runtime, timing in values["runtimes"].items()
                if "bound_s" in timing
            },
            {
                runtime: float(timing["in_model_s"])
                for runtime, timing in values["runtimes"].items()
                if "in_model_s" in timing
            },
        )


@dataclass(frozen=True)
class LayerCell:
    """Where a per-layer timing ran: the runtime, the precision asked, and what ran."""

    runtime: str
    asked: str
    precision: str  # as the runtime reports it for the whole model


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
    cells: dict[str, LayerCell] = field(default_factory=dict)  # by key; fp32 when missing
    machine: Machine | None = None

    def cell(self, runtime: str) -> LayerCell:
        """The runtime and precision of a key of ``model`` (fp32 where not recorded)."""
        return self.cells.get(runtime) or LayerCell(runtime.partition(":")[0], "fp32", "fp32")

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
                    "runtime": self.cell(runtime).runtime,
                    "precision": self.cell(runtime).precision,
                    "asked": self.cell(runtime).asked,
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
            **({"machine": self.machine.to_dict()} if self.machine is not None else {}),
            "notes": list(self.notes),
            "conventions": {
                "median_s": "seconds per forward pass, median over timed blocks",
                "speed_ratio": "conv median ÷ block median, each alone at the conv's input",
                "saved_s": "calls × (conv − block): what swapping the layer saves per pass",
                "other_s": "the whole model's median − every candidate conv's (× calls)",
                "predicted_speed_ratio": "model ÷ (model − Σ saved_s of the swapped layers); "
                "when other_s < 0, Σ saved_s is scaled by model ÷ convs_s",
                "far_below_mac_ratio": f"speed_ratio < {FAR_BELOW:g} × mac_ratio",
                "bound_speed_ratio": "roofline: conv bound ÷ block bound, each kernel's bound "
                "max(FLOPs / peak, bytes / bandwidth) at the cell's precision on this machine",
                "efficiency": "bound time ÷ measured time, per side (1: at the limit)",
                "in_model_s": "the conv's seconds inside the whole original model, from the "
                "runtime's own counters (OpenVINO's PERF_COUNT), not timed alone",
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
            {
                name: LayerCell(
                    entry.get("runtime", name.partition(":")[0]),
                    entry.get("asked", "fp32"),
                    entry.get("precision", "fp32"),
                )
                for name, entry in runtimes.items()
            },
            Machine.from_dict(values["machine"]) if "machine" in values else None,
        )
