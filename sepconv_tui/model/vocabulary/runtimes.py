"""Where a model is timed: one table, one entry per runtime.

Every front end reads the table: the CLI's ``--runtime`` choices and help, the labels in tables
and on screen, the dependency checks, and the Model tab's ``u``. An entry's timer and exporter
are dotted paths (``module:function``), imported only when a timing runs, so reading the table
loads no torch. Adding a runtime is adding an entry (and, for a new precision, a Precision).

- The exporter runs in the parent: ``exporter(module, x, path, label, precision, *,
  per_channel, calibration)`` writes what the timing child times (a saved module, an ONNX
  file; int8 calibrated on ``calibration`` samples, or random inputs when None) to ``path``
  and returns the files defining the classes a saved module needs (name → file).
- The timer runs in the timing child, a process per runtime with the same threads:
  ``timer(path, input_shape, threads, min_run_time, precision) -> Timing``; ``version()``
  names the library there. The child is sent both paths, so it needs no entry of its own.
- ``precision`` is one of the entry's ``precisions``, checked in the parent. int8 is a static
  QDQ file (``quantize``) that the ONNX exporter writes when asked for it.
- ``ran`` (optional) runs in the child after the timer: ``ran(path, precision, threads) -> str``,
  the precision the runtime reports it ran the file at (a cell is labelled with it, never with
  the one asked for). Without it, what was asked is what ran (eager runs fp32 as told).
- ``counters`` (optional) runs in the child on the last file (the whole model, per layer):
  each module's seconds inside it from the runtime's own counters (OpenVINO's PERF_COUNT).
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

from ...core.latency import CHANNELS_LAST_1D, BenchError
from ...errors import UserError


class Runtime(str, Enum):
    """The runtimes this package ships (the table may hold more)."""

    EAGER = "eager"
    EAGER_CHANNELS_LAST = "eager_channels_last"
    ONNXRUNTIME = "onnxruntime"
    OPENVINO = "openvino"

    def __str__(self) -> str:
        """The value, as JSON and labels have it (3.11 formats a mixed-in Enum by name)."""
        return self.value


class Precision(str, Enum):
    """The arithmetic a runtime computes in."""

    FP32 = "fp32"
    BF16 = "bf16"
    INT8 = "int8"

    def __str__(self) -> str:
        """The value, as JSON and labels have it."""
        return self.value


class Stage(str, Enum):
    """The Progress stage words of a timing: a whole model, each layer, the confirmation."""

    BENCH = "bench"
    TIME = "time"
    CONFIRM = "confirm"

    def __str__(self) -> str:
        """The value, as Progress carries it on the wire."""
        return self.value


#: "all": every runtime in the table.
ALL = "all"


@dataclass(frozen=True)
class RuntimeEntry:
    """One runtime: its names, what it needs, what it takes, and how it is timed."""

    name: str  # in JSON, --runtime (speedup) and the app, e.g. "eager_channels_last"
    label: str  # in tables and on screen, e.g. "eager channels-last"
    choice: str  # the bench --runtime word that selects it ("eager" for both eager layouts)
    family: str  # what the choice times, e.g. "PyTorch eager"
    layout: str  # the memory layout of its input and weights, e.g. "NCHW"
    timer: str  # "module:function" run in the timing child
    exporter: str  # "module:function" run in the parent: writes what the child times
    version: str  # "module:function" naming the library and its version, in the child
    suffix: str  # of the exported file
    extra: str | None = None  # the pip extra that provides it (None: the base install)
    packages: tuple[str, ...] = ()  # what it imports, checked before a timing starts
    ranks: frozenset[int] = frozenset({1, 2, 3})  # the conv ranks it has a layout for
    rank_note: str = ""  # why it has none for the other ranks
    precisions: tuple[Precision, ...] = (Precision.FP32,)
    channels_last: bool = False  # the layout a user asks for with channels-last
    ran: str | None = None  # "module:function" reporting the precision that ran, in the child
    # "module:function" giving each module's seconds inside the whole model, from the runtime's
    # own counters: ``counters(path, input_shape, precision, threads) -> {module: seconds}``
    counters: str | None = None


def load_function(dotted: str) -> Callable[..., Any]:
    """The function ``module:function`` names (its module imported now)."""
    module, _, function = dotted.partition(":")
    loaded: Callable[..., Any] = getattr(importlib.import_module(module), function)
    return loaded


TIMERS = "sepconv_tui.model.deploy.timers"
OPENVINO = "sepconv_tui.model.deploy.openvino_timer"
QUANTIZE = "sepconv_tui.model.deploy.quantize"

#: Every runtime, in the order ``all`` times them and ``u`` cycles them.
RUNTIME_TABLE: dict[str, RuntimeEntry] = {
    entry.name: entry
    for entry in (
        RuntimeEntry(
            name=Runtime.EAGER,
            label="eager NCHW",
            choice="eager",
            family="PyTorch eager",
            layout="NCHW",
            timer=f"{TIMERS}:time_eager",
            exporter=f"{TIMERS}:save_module",
            version=f"{TIMERS}:torch_version",
            suffix=".pt",
        ),
        RuntimeEntry(
            name=Runtime.EAGER_CHANNELS_LAST,
            label="eager channels-last",
            choice="eager",
            family="PyTorch eager",
            layout="channels-last",
            timer=f"{TIMERS}:time_eager_channels_last",
            exporter=f"{TIMERS}:save_module",
            version=f"{TIMERS}:torch_version",
            suffix=".pt",
            ranks=frozenset({2, 3}),
            rank_note=CHANNELS_LAST_1D,
            channels_last=True,
        ),
        RuntimeEntry(
            name=Runtime.ONNXRUNTIME,
            label="ONNX Runtime",
            choice="onnxruntime",
            family="ONNX Runtime",
            layout="NCHW",
            timer=f"{TIMERS}:time_onnxruntime",
            exporter=f"{QUANTIZE}:export_onnx_at",
            version=f"{TIMERS}:onnxruntime_version",
            suffix=".onnx",
            extra="deploy",
            packages=("onnx", "onnxscript", "onnxruntime"),
            precisions=(Precision.FP32, Precision.INT8),
            ran=f"{QUANTIZE}:onnxruntime_ran_label",
        ),
        RuntimeEntry(
            name=Runtime.OPENVINO,
            label="OpenVINO",
            choice="openvino",
            family="OpenVINO",
            layout="NCHW",
            timer=f"{OPENVINO}:time_openvino_file",
            exporter=f"{QUANTIZE}:export_onnx_at",
            version=f"{OPENVINO}:openvino_version",
            suffix=".onnx",
            extra="openvino",
            packages=("onnx", "onnxscript", "onnxruntime", "openvino"),
            precisions=(Precision.FP32, Precision.BF16, Precision.INT8),
            ran=f"{OPENVINO}:openvino_ran_label",
            counters=f"{OPENVINO}:openvino_module_times",
        ),
    )
}


def runtime_names() -> tuple[str, ...]:
    """Every runtime's name, in the table's order (plain strings: argparse shows them)."""
    return tuple(str(name) for name in RUNTIME_TABLE)


def runtime_entry(name: str) -> RuntimeEntry:
    """The entry named ``name``; BenchError (field "runtime") listing the names otherwise."""
    entry = RUNTIME_TABLE.get(name)
    if entry is None:
        raise BenchError(
            f"runtime must be one of {', '.join(RUNTIME_TABLE)}, got {name!r}", field="runtime"
        )
    return entry


def runtime_label(name: str) -> str:
    """How tables and the app name ``name`` (the name itself when the table has no entry); a
    cell key ("onnxruntime:int8", ``cell_key``) reads "ONNX Runtime int8"."""
    runtime, _, precision = name.partition(":")
    entry = RUNTIME_TABLE.get(runtime)
    label = entry.label if entry is not None else runtime
    return f"{label} {precision}" if precision else label


def cell_key(runtime: str, precision: Precision | str) -> str:
    """A cell's key where results are kept by runtime: the runtime's name at fp32 (as
    before precisions), "runtime:precision" otherwise."""
    return runtime if str(precision) == Precision.FP32 else f"{runtime}:{precision}"


def cell_label(runtime: str, precision: Precision | str) -> str:
    """ "ONNX Runtime int8": a cell in tables and notes."""
    return f"{runtime_label(runtime)} {precision}"


def runtime_choices() -> tuple[str, ...]:
    """The words ``bench --runtime`` takes: each entry's choice once, then "all"."""
    return (*dict.fromkeys(entry.choice for entry in RUNTIME_TABLE.values()), ALL)


def entries_for_choice(choice: str) -> tuple[RuntimeEntry, ...]:
    """The entries a ``--runtime`` word selects between (by layout), in the table's order."""
    return tuple(entry for entry in RUNTIME_TABLE.values() if entry.choice == choice)


def runtimes_for(choice: str, channels_last: bool = False) -> tuple[str, ...]:
    """The runtimes ``choice`` times: "all" every one; else the entry of that choice in the
    layout asked for (its only one when it has a single layout)."""
    if choice == ALL:
        return runtime_names()
    entries = entries_for_choice(choice)
    if not entries:
        raise BenchError(
            f"the runtime must be one of {', '.join(runtime_choices())}, got {choice!r}",
            field="runtime",
        )
    matching = [entry for entry in entries if entry.channels_last == channels_last]
    return ((matching or list(entries))[0].name,)


def runtimes_for_ranks(
    runtimes: Sequence[str], ranks: Collection[int]
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``runtimes`` that have a layout for convs of spatial ``ranks``, and a note on each left
    out (so ``all`` times the rest); BenchError when none is left."""
    kept: list[str] = []
    notes: list[str] = []
    for name in runtimes:
        entry = runtime_entry(name)
        if not ranks or set(ranks) & entry.ranks:
            kept.append(name)
        else:
            notes.append(f"{entry.label} not timed: {entry.rank_note}")
    if not kept:
        entry = runtime_entry(runtimes[0])
        raise BenchError(
            entry.rank_note, field="channels_last" if entry.channels_last else "runtime"
        )
    return tuple(kept), tuple(notes)


def missing_packages(packages: Sequence[str], *, find_only: bool = False) -> list[str]:
    """Those of ``packages`` that do not import here (``find_only``: that are not installed,
    found without importing them: the app's process asks so, and stays light)."""
    missing = []
    for package in packages:
        if find_only:
            if importlib.util.find_spec(package) is None:
                missing.append(package)
            continue
        try:
            importlib.import_module(package)
        except ImportError:
            missing.append(package)
    return missing


def require_packages(
    what: str, packages: Sequence[str], extra: str | None, field: str, error: type[UserError]
) -> None:
    """``error`` naming ``extra`` unless ``packages`` import ("ONNX needs the onnx package:
    pip install 'sepconv-tui[deploy]'")."""
    missing = missing_packages(packages)
    if missing:
        install = f": pip install 'sepconv-tui[{extra}]'" if extra else ""
        plural = "s" if len(missing) > 1 else ""
        raise error(f"{what} needs the {', '.join(missing)} package{plural}{install}", field=field)


def check_runtimes(
    runtimes: Sequence[str],
    device: str,
    precision: Precision | None = Precision.FP32,
    *,
    missing_ok: bool = False,
) -> None:
    """BenchError unless ``runtimes`` are in the table, at least one, timed on the CPU, run
    ``precision`` (None: not checked here, ``matrix_cells`` does) and their packages import
    (``missing_ok``: those that do not are left to ``missing_reason``)."""
    unknown = [name for name in runtimes if name not in RUNTIME_TABLE]
    if unknown or not runtimes:
        raise BenchError(
            f"runtime must be one of {', '.join(RUNTIME_TABLE)}, "
            f"got {', '.join(unknown) or 'none'}",
            field="runtime",
        )
    if device != "cpu":
        raise BenchError(
            "the runtimes are timed on the CPU (ONNX Runtime's CPU provider, eager beside "
            "it): use the cpu device",
            field="runtime",
        )
    for name in runtimes:
        entry = RUNTIME_TABLE[name]
        if precision is not None and precision not in entry.precisions:
            runs = ", ".join(str(each) for each in entry.precisions)
            raise BenchError(f"{entry.label} runs {runs}, not {precision}", field="precision")
        if not missing_ok:
            require_packages(entry.label, entry.packages, entry.extra, "runtime", BenchError)


#: One cell of the deployment matrix: a runtime and the precision asked of it.
Cell = tuple[str, Precision]


def precision_choices() -> tuple[str, ...]:
    """The words ``--precision`` takes: each precision some entry runs, then "all"."""
    runs = {precision for entry in RUNTIME_TABLE.values() for precision in entry.precisions}
    return (*(str(precision) for precision in Precision if precision in runs), ALL)


def precision_runtimes(precision: Precision) -> tuple[str, ...]:
    """The labels of the entries that run ``precision``, in the table's order."""
    return tuple(entry.label for entry in RUNTIME_TABLE.values() if precision in entry.precisions)


def parse_precision(word: str) -> Precision | None:
    """``word`` as a Precision (None for "all"); BenchError (field "precision") listing the
    words otherwise."""
    if word == ALL:
        return None
    try:
        return Precision(word)
    except ValueError:
        raise BenchError(
            f"precision must be one of {', '.join(precision_choices())}, got {word!r}",
            field="precision",
        ) from None


def matrix_cells(
    runtimes: Sequence[str], precision: Precision | None
) -> tuple[tuple[Cell, ...], tuple[str, ...]]:
    """The cells ``runtimes`` × ``precision`` (None: every precision each runs), in the
    table's order, and a note on each runtime left out for not running it; BenchError (field
    "precision") when a runtime named alone does not run it, or none does."""
    cells: list[Cell] = []
    notes: list[str] = []
    for name in runtimes:
        entry = runtime_entry(name)
        if precision is None:
            cells += [(name, each) for each in entry.precisions]
        elif precision in entry.precisions:
            cells.append((name, precision))
        else:
            runs = ", ".join(str(each) for each in entry.precisions)
            if len(runtimes) == 1:
                raise BenchError(f"{entry.label} runs {runs}, not {precision}", field="precision")
            notes.append(f"{entry.label} not timed: it runs {runs}, not {precision}")
    if not cells:
        raise BenchError(f"none of the runtimes runs {precision}", field="precision")
    return tuple(cells), tuple(notes)


def missing_reason(name: str, *, find_only: bool = False) -> str | None:
    """Why runtime ``name`` cannot run here (its packages missing, and the extra that brings
    them), or None when it can (``find_only``: see ``missing_packages``)."""
    entry = runtime_entry(name)
    missing = missing_packages(entry.packages, find_only=find_only)
    if not missing:
        return None
    install = f": pip install 'sepconv-tui[{entry.extra}]'" if entry.extra else ""
    plural = "s" if len(missing) > 1 else ""
    return f"{entry.label} needs the {', '.join(missing)} package{plural}{install}"
