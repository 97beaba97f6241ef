"""The sensitivity table and the frontier as plain data: what the CLI prints, the JSON carries,
``sensitivity.json`` keeps and the app draws. No torch (``model.budget.sensitivity`` and
``model.budget.frontier`` measure them)."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..vocabulary.analysis import Cost, describe_multipliers

#: The file a sensitivity is kept in, beside the outputs.
SENSITIVITY_FILE = "sensitivity.json"
#: Its format; a file of another version is measured again, not read.
SENSITIVITY_VERSION = 1

#: What each frontier unit is called, for messages and the JSON.
UNITS = ("macs", "params", "seconds")


@dataclass(frozen=True)
class Rung:
    """One candidate swapped alone at one m, reconstructed, on the validation split."""

    name: str
    depth_multiplier: int
    macs_saved: int  # whole-model MACs the swap removes (closed form)
    params_saved: int
    agreement: float | None = None  # top-1 agreement with the original (classifiers)
    output_error: float | None = None  # ‖y_swapped − y_original‖ / ‖y_original‖
    seconds_saved: float | None = None  # measured, when the caller timed the block at this m
    measured: bool = False  # False: time ran out before this rung (its figures are None)

    @property
    def loss(self) -> float | None:
        """What the frontier ranks by: the output error (continuous, unlike agreement)."""
        return self.output_error

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of one rung (DESIGN.md's "sensitivity" entries)."""
        return {
            "name": self.name,
            "depth_multiplier": self.depth_multiplier,
            "agreement": self.agreement,
            "output_error": self.output_error,
            "macs_saved": self.macs_saved,
            "params_saved": self.params_saved,
            "seconds_saved": self.seconds_saved,
            "measured": self.measured,
        }

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> Rung:
        """The inverse of ``to_dict``."""
        return cls(
            name=str(values["name"]),
            depth_multiplier=int(values["depth_multiplier"]),
            macs_saved=int(values["macs_saved"]),
            params_saved=int(values["params_saved"]),
            agreement=_optional_float(values.get("agreement")),
            output_error=_optional_float(values.get("output_error")),
            seconds_saved=_optional_float(values.get("seconds_saved")),
            measured=bool(values.get("measured", values.get("output_error") is not None)),
        )


def _optional_float(value: Any) -> float | None:
    """``value`` as a float, None kept."""
    return None if value is None else float(value)


@dataclass(frozen=True)
class RungTiming:
    """Each candidate's conv and its block at every rung timed alone on one runtime (fp32, in
    a child process of its own), and the whole original: where, on what, with how many threads.
    A table timed on one runtime is not reused for another (``matches``)."""

    runtime: str
    threads: int
    cpu: str  # the machine's CPU model: a timing elsewhere is not this one
    model_s: float  # the whole original's median
    model_iqr_s: float
    conv_s: Mapping[str, tuple[float, float]]  # layer → (median, IQR) of the conv alone
    block_s: Mapping[str, Mapping[int, tuple[float, float]]]  # layer → m → the block's

    def matches(self, runtime: str, threads: int, cpu: str) -> bool:
        """Whether these seconds were measured on ``runtime`` with ``threads`` on ``cpu``."""
        return (self.runtime, self.threads, self.cpu) == (runtime, threads, cpu)

    def saved(self, name: str, m: int) -> float | None:
        """Seconds ``name``'s block at ``m`` saves per pass against its conv (None: not timed)."""
        conv = self.conv_s.get(name)
        block = self.block_s.get(name, {}).get(m)
        return None if conv is None or block is None else conv[0] - block[0]

    def to_dict(self) -> dict[str, Any]:
        """The JSON object ``"timing"`` of ``sensitivity.json``."""
        return {
            "runtime": self.runtime,
            "threads": self.threads,
            "cpu": self.cpu,
            "model_s": self.model_s,
            "model_iqr_s": self.model_iqr_s,
            "conv_s": {name: list(pair) for name, pair in self.conv_s.items()},
            "block_s": {
                name: {str(m): list(pair) for m, pair in rungs.items()}
                for name, rungs in self.block_s.items()
            },
        }

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> RungTiming:
        """The inverse of ``to_dict``."""
        return cls(
            runtime=str(values["runtime"]),
            threads=int(values["threads"]),
            cpu=str(values["cpu"]),
            model_s=float(values["model_s"]),
            model_iqr_s=float(values["model_iqr_s"]),
            conv_s={str(name): _pair(pair) for name, pair in values["conv_s"].items()},
            block_s={
                str(name): {int(m): _pair(pair) for m, pair in rungs.items()}
                for name, rungs in values["block_s"].items()
            },
        )


def _pair(values: Sequence[Any]) -> tuple[float, float]:
    """(median, IQR) from its JSON list."""
    return float(values[0]), float(values[1])


@dataclass(frozen=True)
class Sensitivity:
    """The layer × m table: every candidate alone at every rung of its ladder."""

    rungs: tuple[Rung, ...]
    original: Cost  # the whole model as it is
    key: Mapping[str, Any] = field(default_factory=dict)  # source, weights, data, split
    evaluated: int = 0  # validation samples each rung was measured on
    calibration: int = 0  # fit samples each rung was reconstructed on
    classifier: bool = True  # whether agreement applies (top-1 of a class output)
    notes: tuple[str, ...] = ()
    timing: RungTiming | None = None  # the seconds saved, where they were measured

    def with_timing(self, timing: RungTiming) -> Sensitivity:
        """This table with every rung's seconds saved from ``timing`` (one runtime's)."""
        rungs = tuple(
            replace(rung, seconds_saved=timing.saved(rung.name, rung.depth_multiplier))
            for rung in self.rungs
        )
        return replace(self, rungs=rungs, timing=timing)

    @property
    def layers(self) -> tuple[str, ...]:
        """The candidates, in the model's order."""
        return tuple(dict.fromkeys(rung.name for rung in self.rungs))

    def rungs_of(self, name: str) -> tuple[Rung, ...]:
        """``name``'s rungs, by m."""
        return tuple(rung for rung in self.rungs if rung.name == name)

    @property
    def complete(self) -> bool:
        """Whether every rung was measured."""
        return all(rung.measured for rung in self.rungs)

    @property
    def unmeasured(self) -> int:
        """Rungs time ran out before."""
        return sum(not rung.measured for rung in self.rungs)

    def to_dict(self) -> dict[str, Any]:
        """``sensitivity.json`` and the ``--json`` extras."""
        return {
            "version": SENSITIVITY_VERSION,
            "key": dict(self.key),
            "original": self.original.to_dict(),
            "evaluated": self.evaluated,
            "calibration": self.calibration,
            "classifier": self.classifier,
            "sensitivity": [rung.to_dict() for rung in self.rungs],
            "notes": list(self.notes),
            "timing": self.timing.to_dict() if self.timing is not None else None,
        }

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> Sensitivity:
        """The inverse of ``to_dict``."""
        return cls(
            rungs=tuple(Rung.from_dict(rung) for rung in values["sensitivity"]),
            original=Cost.from_dict(values["original"]),
            key=dict(values.get("key", {})),
            evaluated=int(values.get("evaluated", 0)),
            calibration=int(values.get("calibration", 0)),
            classifier=bool(values.get("classifier", True)),
            notes=tuple(values.get("notes", ())),
            # Tables written before the seconds were timed have none: they load untimed.
            timing=RungTiming.from_dict(timing) if (timing := values.get("timing")) else None,
        )

    def save(self, folder: str | Path) -> Path:
        """Write ``folder/sensitivity.json`` whole (a temporary file renamed over it)."""
        path = Path(folder) / SENSITIVITY_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        temporary.write_text(json.dumps(self.to_dict(), indent=2) + "\n")
        temporary.replace(path)
        return path


def read_sensitivity(folder: str | Path, key: Mapping[str, Any]) -> Sensitivity | None:
    """``folder/sensitivity.json`` when it was measured for ``key`` (else None: measure again)."""
    path = Path(folder) / SENSITIVITY_FILE
    try:
        values = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(values, dict) or values.get("version") != SENSITIVITY_VERSION:
        return None
    if values.get("key") != json.loads(json.dumps(dict(key))):
        return None
    try:
        return Sensitivity.from_dict(values)
    except (KeyError, TypeError, ValueError):
        return None


@dataclass(frozen=True)
class FrontierPoint:
    """One plan on the frontier: each swapped layer's m, its whole-model cost, the sum of its
    layers' single-layer losses (a prediction) and, once measured whole, its figures."""

    multipliers: tuple[tuple[str, int], ...]  # (layer, m) in the model's order
    params: int  # whole model, swapped as this point says
    macs: int
    predicted_error: float  # the sum of the single-layer output errors
    seconds_saved: float | None = None  # the sum of the layers' measured seconds saved
    measured: bool = False
    agreement: float | None = None  # measured whole, on validation
    agreement_interval: tuple[float, float] | None = None
    output_error: float | None = None
    accuracy: float | None = None
    # speedup:X: the model's time ÷ (its time − the seconds saved), from each layer's timing
    predicted_speed_ratio: float | None = None
    speed_ratio: float | None = None  # the whole swapped model timed against the baseline
    best: Mapping[str, Any] | None = None  # the best cells timed (``--baseline best``)

    @property
    def plan(self) -> dict[str, int]:
        """``{layer: m}`` of the swapped layers."""
        return dict(self.multipliers)

    @property
    def summary(self) -> str:
        """ "3 layers, per-layer m 2–8" (or "nothing swapped")."""
        if not self.multipliers:
            return "nothing swapped"
        count = len(self.multipliers)
        return f"{count} layer{'s' if count != 1 else ''}, {describe_multipliers(self.plan)}"

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of one point."""
        return {
            "depth_multiplier": self.plan,
            "params": self.params,
            "macs": self.macs,
            "predicted_error": self.predicted_error,
            "seconds_saved": self.seconds_saved,
            "measured": self.measured,
            "agreement": self.agreement,
            "agreement_interval": (
                list(self.agreement_interval) if self.agreement_interval else None
            ),
            "output_error": self.output_error,
            "accuracy": self.accuracy,
            "predicted_speed_ratio": self.predicted_speed_ratio,
            "measured_speed_ratio": self.speed_ratio,
            "best": dict(self.best) if self.best is not None else None,
        }

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> FrontierPoint:
        """The inverse of ``to_dict``."""
        interval = values.get("agreement_interval")
        return cls(
            multipliers=tuple((str(k), int(v)) for k, v in values["depth_multiplier"].items()),
            params=int(values["params"]),
            macs=int(values["macs"]),
            predicted_error=float(values["predicted_error"]),
            seconds_saved=_optional_float(values.get("seconds_saved")),
            measured=bool(values.get("measured", False)),
            agreement=_optional_float(values.get("agreement")),
            agreement_interval=(float(interval[0]), float(interval[1])) if interval else None,
            output_error=_optional_float(values.get("output_error")),
            accuracy=_optional_float(values.get("accuracy")),
            predicted_speed_ratio=_optional_float(values.get("predicted_speed_ratio")),
            speed_ratio=_optional_float(values.get("measured_speed_ratio")),
            best=values.get("best"),
        )


@dataclass(frozen=True)
class Frontier:
    """Plans from nothing swapped to the most saving, each step the cheapest in predicted
    loss per unit saved; the points a budget depended on measured whole."""

    unit: str  # "macs", "params" or "seconds": what a step's saving is counted in
    original: Cost
    points: tuple[FrontierPoint, ...]
    chosen: int | None = None  # the index a budget chose
    budget: str | None = None  # the budget's text, e.g. "agreement:0.99"
    notes: tuple[str, ...] = ()
    evaluated: int = 0  # validation samples each measured point ran on
    runtime: str | None = None  # seconds: where the layers and the points were timed
    baseline: str | None = None  # seconds: "same" (that runtime) or "best" (every cell's best)

    @property
    def point(self) -> FrontierPoint | None:
        """The chosen point."""
        return self.points[self.chosen] if self.chosen is not None else None

    def mac_ratio(self, point: FrontierPoint) -> float | None:
        """Original ÷ ``point``'s MACs ("× fewer")."""
        return self.original.macs / point.macs if point.macs else None

    def param_ratio(self, point: FrontierPoint) -> float | None:
        """Original ÷ ``point``'s params ("× fewer")."""
        return self.original.params / point.params if point.params else None

    def choice_record(self) -> dict[str, Any] | None:
        """What a plan keeps of the budget that chose it: the budget, where its seconds were
        timed, and the chosen point (each layer's m, predicted and measured figures)."""
        point = self.point
        if point is None:
            return None
        return {
            "budget": self.budget,
            "unit": self.unit,
            "runtime": self.runtime,
            "baseline": self.baseline,
            **point.to_dict(),
        }

    def to_dict(self) -> dict[str, Any]:
        """The JSON of ``--json``'s "frontier"."""
        return {
            "unit": self.unit,
            "budget": self.budget,
            "original": self.original.to_dict(),
            "chosen": self.chosen,
            "evaluated": self.evaluated,
            "points": [point.to_dict() for point in self.points],
            "notes": list(self.notes),
            "runtime": self.runtime,
            "baseline": self.baseline,
        }

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> Frontier:
        """The inverse of ``to_dict``."""
        return cls(
            unit=str(values["unit"]),
            original=Cost.from_dict(values["original"]),
            points=tuple(FrontierPoint.from_dict(point) for point in values["points"]),
            chosen=values.get("chosen"),
            budget=values.get("budget"),
            notes=tuple(values.get("notes", ())),
            evaluated=int(values.get("evaluated", 0)),
            runtime=values.get("runtime"),
            baseline=values.get("baseline"),
        )


def cache_folder() -> Path:
    """Where sensitivity tables are kept between runs: $XDG_CACHE_HOME/sepconv-tui (default
    ~/.cache/sepconv-tui)/sensitivity, one file per key."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "sepconv-tui" / "sensitivity"


def key_folder(key: Mapping[str, Any]) -> Path:
    """The cache folder of the table measured for ``key``."""
    digest = hashlib.sha256(json.dumps(dict(key), sort_keys=True).encode()).hexdigest()[:16]
    return cache_folder() / digest


def file_stamp(path: str | Path | None) -> list[int] | None:
    """A file's size and modification time, so that a changed file is measured again."""
    if path is None:
        return None
    try:
        status = Path(path).stat()
    except OSError:
        return None
    return [status.st_size, status.st_mtime_ns]


def cached_sensitivity(
    key: Mapping[str, Any], folders: Sequence[str | Path] = ()
) -> Sensitivity | None:
    """The table measured for ``key``, from ``folders`` (outputs) or the cache, if any."""
    for folder in (*folders, key_folder(key)):
        table = read_sensitivity(folder, key)
        if table is not None:
            return table
    return None


def keep_sensitivity(table: Sensitivity, folders: Sequence[str | Path] = ()) -> None:
    """Write ``table`` to the cache and to each of ``folders``; an unwritable cache is skipped
    (the table is only a saving of time)."""
    for folder in (key_folder(table.key), *folders):
        try:
            table.save(folder)
        except OSError:
            if Path(folder) in [Path(other) for other in folders]:
                raise
