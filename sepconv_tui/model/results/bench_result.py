"""What a whole-model timing found: torch-free plain data the app's child sends as JSON.

``ModelBenchResult``: the original and its swap timed (``bench.benchmark_model``);
``LayerBench``: every candidate conv and its block timed alone (``bench.benchmark_layers``),
with the arithmetic that predicts a swap's speed-up from those rows. No torch is imported.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from ...core.latency import RuntimeTiming, Timing
from ..vocabulary.analysis import Shape
from ..vocabulary.machine import Machine
from .fidelity_result import AtPrecision, SplitSizes

#: Seconds each model is timed for at least: a whole model's passes are long and noisy.
MODEL_MIN_RUN_TIME_S = 1.0
#: With data, "best_within" keeps the cells whose top-1 agreement with the fp32 original is
#: at least this.
DEFAULT_MIN_AGREEMENT = 0.99


def tie(first: Timing, second: Timing) -> bool:
    """True when the two medians lie within each other's IQR (median ± IQR / 2 overlap): the
    difference is the machine's noise, so neither is called faster."""
    return abs(first.median_s - second.median_s) <= (first.iqr_s + second.iqr_s) / 2


def _timing_dict(timing: Timing, figures: AtPrecision | None = None) -> dict[str, Any]:
    """A side of a cell: its median and IQR, and with data its fidelity on the test split."""
    return {
        "median_s": timing.median_s,
        "iqr_s": timing.iqr_s,
        **(figures.to_dict() if figures is not None else {}),
    }


def _figures(side: Mapping[str, Any]) -> AtPrecision | None:
    """A side's fidelity, where it was measured."""
    return AtPrecision.from_dict(side) if "evaluated" in side else None


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
    # With data: each side run in this cell on the test split, against the fp32 original
    original_fidelity: AtPrecision | None = None
    swapped_fidelity: AtPrecision | None = None

    def fidelity(self, side: str) -> AtPrecision | None:
        """The fidelity of ``side`` ("original" or "swapped") in this cell, where measured."""
        return self.original_fidelity if side == "original" else self.swapped_fidelity

    def timing(self, side: str) -> Timing | None:
        """The timing of ``side`` ("original" or "swapped") in this cell (None when absent)."""
        return self.original if side == "original" else self.swapped

    def keeps(self, side: str, min_agreement: float) -> bool:
        """True when ``side`` was measured here with top-1 agreement ≥ ``min_agreement``."""
        figures = self.fidelity(side)
        return (
            figures is not None
            and figures.agreement is not None
            and figures.agreement >= min_agreement
        )

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
            "original": _timing_dict(self.original, self.original_fidelity),
            "swapped": _timing_dict(self.swapped, self.swapped_fidelity),
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
            original_fidelity=_figures(values["original"]),
            swapped_fidelity=_figures(values["swapped"]),
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


def fastest(
    cells: Sequence[MatrixCell], side: str, min_agreement: float | None = None
) -> tuple[MatrixCell, tuple[MatrixCell, ...]] | None:
    """``side``'s fastest cell among those timed (and, given ``min_agreement``, whose top-1
    agreement with the fp32 original is at least that), with the others of them that tie it;
    None when no cell qualifies."""
    timed = [
        cell
        for cell in cells
        if cell.original is not None
        and cell.swapped is not None
        and (min_agreement is None or cell.keeps(side, min_agreement))
    ]
    if not timed:
        return None
    best = min(timed, key=lambda cell: cell.timing(side).median_s)  # type: ignore[union-attr]
    best_timing = best.timing(side)
    assert best_timing is not None
    ties = tuple(
        cell
        for cell in timed
        if cell is not best and tie(cell.timing(side), best_timing)  # type: ignore[arg-type]
    )
    return best, ties


def best_deployment(
    cells: Sequence[MatrixCell], min_agreement: float | None = None
) -> BestDeployment | None:
    """Each side's fastest cell among those timed (given ``min_agreement``, among those where
    that side keeps top-1 agreement ≥ it), and the cells that tie it (None when a side has
    no such cell)."""
    original = fastest(cells, "original", min_agreement)
    swapped = fastest(cells, "swapped", min_agreement)
    if original is None or swapped is None:
        return None
    return BestDeployment(original[0], swapped[0], original[1], swapped[1])


@dataclass(frozen=True)
class MatrixData:
    """What the matrix's fidelity was measured on: the data, its split, how int8 was
    calibrated."""

    data: str
    split: SplitSizes
    calibration: str  # "256 samples of the fit split"
    fp32_original: AtPrecision  # PyTorch eager fp32 on the test split: what cells are held to

    @property
    def labels(self) -> bool:
        """True when the data has labels (accuracy is measured, not only agreement)."""
        return self.fp32_original.accuracy is not None

    def to_dict(self) -> dict[str, Any]:
        """The JSON object ``"data"``."""
        return {
            "data": self.data,
            "split": self.split.to_dict(),
            "evaluated": self.split.test,
            "labels": self.labels,
            "int8_calibration": self.calibration,
            "fp32_original": {**self.fp32_original.to_dict(), "runtime": "eager"},
        }

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> MatrixData:
        """The inverse of ``to_dict``."""
        return cls(
            values["data"],
            SplitSizes.from_dict(values["split"]),
            values["int8_calibration"],
            AtPrecision.from_dict(values["fp32_original"]),
        )


@dataclass(frozen=True)
class Lever:
    """One way to make the fp32 original faster, at its fastest measured cell: a lower
    precision alone, the swap alone, or both; what it buys and what it costs."""

    name: str  # "int8 alone", "swap alone", "swap + int8"
    cell: MatrixCell
    side: str  # "original" or "swapped"
    speed_ratio: float  # the fp32 original's fastest cell ÷ this one
    points: float | None  # percentage points of accuracy (or agreement) against the fp32 original
    tie: bool = False  # the two medians lie within each other's IQR: no win

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of one lever."""
        timing = self.cell.timing(self.side)
        assert timing is not None
        return {
            "lever": self.name,
            "model": self.side,
            "runtime": self.cell.runtime,
            "precision": self.cell.precision,
            "median_s": timing.median_s,
            "speed_ratio": self.speed_ratio,
            "tie": self.tie,
            "points": self.points,
        }


@dataclass(frozen=True)
class Levers:
    """The answer in words: each lever against the fp32 original at its fastest fp32 cell."""

    baseline: MatrixCell  # the original's fastest fp32 cell
    points_of: str  # "accuracy" (the data has labels) or "agreement"
    levers: tuple[Lever, ...]

    def to_dict(self) -> dict[str, Any]:
        """The JSON object ``"levers"``."""
        assert self.baseline.original is not None
        return {
            "baseline": {
                "runtime": self.baseline.runtime,
                "precision": self.baseline.precision,
                "median_s": self.baseline.original.median_s,
            },
            "points_of": self.points_of,
            "levers": [lever.to_dict() for lever in self.levers],
        }


def _points(figures: AtPrecision | None, data: MatrixData) -> float | None:
    """``figures`` against the fp32 original in percentage points: of accuracy with labels,
    else of agreement (the fp32 original agrees with itself: 100%)."""
    if figures is None:
        return None
    if data.labels:
        if figures.accuracy is None or data.fp32_original.accuracy is None:
            return None
        return 100 * (figures.accuracy - data.fp32_original.accuracy)
    return None if figures.agreement is None else 100 * (figures.agreement - 1)


def levers(cells: Sequence[MatrixCell], data: MatrixData) -> Levers | None:
    """Each lever at the fastest cell of its kind (measured on data): a precision other than
    fp32 alone (the original), the swap alone (the swapped model at fp32), both (the swapped
    model at another precision), each against the original's fastest fp32 cell; None without
    a timed fp32 cell."""
    measured = [
        cell
        for cell in cells
        if cell.original_fidelity is not None and cell.swapped_fidelity is not None
    ]
    fp32 = [cell for cell in measured if cell.asked == "fp32"]
    lower = [cell for cell in measured if cell.asked != "fp32"]
    found = fastest(fp32, "original")
    if found is None:
        return None
    baseline = found[0]
    assert baseline.original is not None
    kinds = []
    quantized = fastest(lower, "original")
    if quantized is not None:
        kinds.append((f"{quantized[0].asked} alone", quantized[0], "original"))
    swap = fastest(fp32, "swapped")
    if swap is not None:
        kinds.append(("swap alone", swap[0], "swapped"))
    both = fastest(lower, "swapped")
    if both is not None:
        kinds.append((f"swap + {both[0].asked}", both[0], "swapped"))
    result = []
    for name, cell, side in kinds:
        timing = cell.timing(side)
        assert timing is not None
        result.append(
            Lever(
                name,
                cell,
                side,
                baseline.original.median_s / timing.median_s,
                _points(cell.fidelity(side), data),
                tie(baseline.original, timing),
            )
        )
    return Levers(baseline, "accuracy" if data.labels else "agreement", tuple(result))


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
    # With data: what each cell's fidelity was measured on, and the agreement "best_within"
    # keeps
    data: MatrixData | None = None
    min_agreement: float | None = None

    @property
    def speed_ratio(self) -> float:
        """Original median ÷ swapped median ("× faster"; below 1 means slower)."""
        return self.original.median_s / self.swapped.median_s

    @property
    def best(self) -> BestDeployment | None:
        """The fastest cell of each side of the matrix (None without one)."""
        return best_deployment(self.matrix)

    @property
    def levers(self) -> Levers | None:
        """Each lever against the fp32 original (None without data)."""
        return None if self.data is None else levers(self.matrix, self.data)

    @property
    def best_within(self) -> BestDeployment | None:
        """The fastest cell of each side among those keeping top-1 agreement with the fp32
        original ≥ ``min_agreement`` (None without data, or when a side has no such cell)."""
        if self.min_agreement is None:
            return None
        return best_deployment(self.matrix, self.min_agreement)

    def _best_within_dict(self) -> dict[str, Any]:
        """The JSON object ``"best_within"``: as ``"best"``, among the cells keeping the
        agreement; a side without one is null, and so is the ratio."""
        assert self.min_agreement is not None
        best = self.best_within
        if best is not None:
            return {"min_agreement": self.min_agreement, **best.to_dict()}
        sides: dict[str, Any] = {}
        for side in ("original", "swapped"):
            found = fastest(self.matrix, side, self.min_agreement)
            if found is None:
                sides[side] = None
                continue
            cell, ties = found
            timing = cell.timing(side)
            assert timing is not None
            sides[side] = {
                "runtime": cell.runtime,
                "precision": cell.precision,
                "median_s": timing.median_s,
                "ties": [{"runtime": each.runtime, "precision": each.precision} for each in ties],
            }
        return {"min_agreement": self.min_agreement, **sides, "speed_ratio": None, "tie": None}

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
                **(
                    {
                        "agreement": "share of test samples whose top-1 class is the fp32 "
                        "original's (PyTorch eager), each side run in the cell",
                        "best_within": "as best, among the cells where that side's agreement "
                        "≥ min_agreement",
                    }
                    if self.data is not None
                    else {}
                ),
            },
        }

    def _matrix_dict(self) -> dict[str, Any]:
        """ "matrix", "best" and "machine", where they were measured."""
        values: dict[str, Any] = {}
        if self.matrix:
            values["matrix"] = [cell.to_dict() for cell in self.matrix]
            best = self.best
            values["best"] = best.to_dict() if best is not None else None
        if self.data is not None:
            values["data"] = self.data.to_dict()
            found = self.levers
            values["levers"] = found.to_dict() if found is not None else None
        if self.min_agreement is not None:
            values["best_within"] = self._best_within_dict()
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
            data=MatrixData.from_dict(values["data"]) if "data" in values else None,
            min_agreement=values.get("best_within", {}).get("min_agreement"),
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
