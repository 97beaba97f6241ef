"""Render timings on several runtimes: one row per runtime, the measured speed-up beside MACs.

Used by ``bench --runtime`` for one layer (a BenchResult) and for a whole model (a
ModelBenchResult); each runtime was timed in a process of its own with the same threads.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence

from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text

from ..core.latency import BenchResult, RuntimeTiming
from ..model.vocabulary.machine import Machine
from ..model.vocabulary.runtimes import runtime_label
from .format import format_ratio
from .latency import format_seconds


def _median(timing_median: float, timing_iqr: float) -> str:
    """ "3.21 ms ± 40.1 µs" (median, IQR)."""
    return f"{format_seconds(timing_median)} ± {format_seconds(timing_iqr)}"


def runtimes_table(
    title: str,
    sides: tuple[str, str],
    runtimes: Mapping[str, RuntimeTiming],
    mac_ratio: float | None,
    caption: str,
) -> Table:
    """One row per runtime: both sides' median ± IQR, the measured speed-up, the MAC ratio."""
    table = Table(
        title=title,
        title_style="bold",
        box=box.SIMPLE_HEAD,
        caption=f"median ± IQR; {caption}",
        pad_edge=False,
        collapse_padding=True,
    )
    table.add_column("Runtime", min_width=19, no_wrap=True)
    table.add_column(sides[0], justify="right", no_wrap=True)
    table.add_column(sides[1], justify="right", no_wrap=True)
    table.add_column("Speed-up", justify="right", no_wrap=True)
    table.add_column("MAC ratio", justify="right", no_wrap=True)
    best = max(runtimes.values(), key=lambda timing: timing.speed_ratio, default=None)
    for name, timing in runtimes.items():
        table.add_row(
            f"{runtime_label(name)}\n[dim]{timing.version}[/dim]",
            _median(timing.before.median_s, timing.before.iqr_s),
            _median(timing.after.median_s, timing.after.iqr_s),
            Text(
                format_ratio(timing.speed_ratio),
                style="bold green" if timing is best and len(runtimes) > 1 else "",
            ),
            format_ratio(mac_ratio),
        )
    return table


def speed_sentence(
    what: str, runtimes: Mapping[str, RuntimeTiming], mac_ratio: float | None
) -> str:
    """Where ``what`` gains most and least, against its MAC ratio."""
    ordered = sorted(runtimes.items(), key=lambda item: -item[1].speed_ratio)
    parts = []
    for name, timing in ordered:
        speed = timing.speed_ratio
        faster = speed >= 1
        verb = f"{format_ratio(speed if faster else 1 / speed)} {'faster' if faster else 'slower'}"
        parts.append(f"{verb} on {runtime_label(name)}")
    return (
        f"Measured: {what} runs "
        + ", ".join(parts)
        + (f"; it does {format_ratio(mac_ratio)} fewer MACs.")
    )


def notes_text(notes: Sequence[str]) -> list[Text]:
    """A result's notes (a runtime left out, and why), one dim line each."""
    return [Text(note, style="dim") for note in notes]


def notes_markdown(notes: Sequence[str]) -> str:
    """A result's notes as Markdown paragraphs ("" without notes)."""
    return "".join(f"\n{note}\n" for note in notes)


def runtimes_markdown(
    sides: tuple[str, str], runtimes: Mapping[str, RuntimeTiming], mac_ratio: float | None
) -> str:
    """The runtimes table as Markdown."""
    lines = [
        f"| Runtime | {sides[0]} median | IQR | {sides[1]} median | IQR | Speed-up | MAC ratio |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, timing in runtimes.items():
        lines.append(
            f"| {runtime_label(name)} ({timing.version}) | "
            f"{format_seconds(timing.before.median_s)} | {format_seconds(timing.before.iqr_s)} | "
            f"{format_seconds(timing.after.median_s)} | {format_seconds(timing.after.iqr_s)} | "
            f"{format_ratio(timing.speed_ratio)} | {format_ratio(mac_ratio)} |"
        )
    return "\n".join(lines) + "\n"


def runtimes_csv(
    sides: tuple[str, str], runtimes: Mapping[str, RuntimeTiming], mac_ratio: float | None
) -> str:
    """One CSV row per runtime."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    first, second = (side.lower().replace(" ", "_") for side in sides)
    writer.writerow(
        [
            "runtime",
            "version",
            "threads",
            f"{first}_median_s",
            f"{first}_iqr_s",
            f"{second}_median_s",
            f"{second}_iqr_s",
            "speed_ratio",
            "mac_ratio",
        ]
    )
    for name, timing in runtimes.items():
        writer.writerow(
            [
                name,
                timing.version,
                timing.threads,
                timing.before.median_s,
                timing.before.iqr_s,
                timing.after.median_s,
                timing.after.iqr_s,
                timing.speed_ratio,
                mac_ratio,
            ]
        )
    return buffer.getvalue()


# One layer (``bench --runtime``): the report-module interface ``emit_report`` takes ----------

LAYER_SIDES = ("Standard", "Separable")


def _layer_caption(result: BenchResult) -> str:
    """Threads and input of a one-layer run on several runtimes."""
    shape = "×".join(str(size) for size in result.spec.input_shape)
    threads = f"{result.threads} thread{'s' if result.threads != 1 else ''}"
    where = (
        f"cpu on {Machine.from_dict(result.machine).caption}"
        if result.machine is not None
        else f"cpu, {threads}"
    )
    return f"{where} each, fp32 input {shape}; each runtime in its own process"


def render(result: BenchResult) -> Group:
    """Everything ``sepconv-tui bench --runtime`` prints for one layer."""
    table = runtimes_table(
        "Measured latency by runtime (forward pass)",
        LAYER_SIDES,
        result.runtimes,
        result.mac_ratio,
        _layer_caption(result),
    )
    sentence = speed_sentence("the separable block", result.runtimes, result.mac_ratio)
    return Group(table, Text(sentence, style="bold"), *notes_text(result.notes))


def to_json(result: BenchResult) -> str:
    """The bench JSON document, with ``runtimes``."""
    return json.dumps(result.to_dict(), indent=2, ensure_ascii=False)


def to_markdown(result: BenchResult) -> str:
    """The runtimes table, the setup and the sentence as Markdown."""
    sentence = speed_sentence("the separable block", result.runtimes, result.mac_ratio)
    table = runtimes_markdown(LAYER_SIDES, result.runtimes, result.mac_ratio)
    return f"{table}\n_{_layer_caption(result)}_\n\n**{sentence}**\n" + notes_markdown(result.notes)


def to_csv(result: BenchResult) -> str:
    """One CSV row per runtime."""
    return runtimes_csv(LAYER_SIDES, result.runtimes, result.mac_ratio)
