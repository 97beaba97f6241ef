"""Render a BenchResult: the latency table, the speed-vs-MACs sentence, JSON / Markdown / CSV."""

from __future__ import annotations

import csv
import io
import json

from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text

from ..core.compare import compare
from ..core.latency import BenchResult, Timing
from ..core.memory import format_bytes
from .format import format_ratio
from .layer import kernel_power

#: A measured speed-up below this fraction of the MAC ratio (or above its inverse multiple)
#: earns an explanation.
DIVERGENCE = 0.5


def format_seconds(seconds: float) -> str:
    """A duration in the unit that keeps three significant digits: 412 µs, 3.21 ms, 1.20 s."""
    if seconds < 1e-3:
        return f"{seconds * 1e6:.3g} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds:.3g} s"


def _rows(result: BenchResult) -> list[tuple[str, Timing]]:
    """(side, timing) for both sides."""
    return [("Standard conv", result.standard), ("Separable block", result.separable)]


def setup_line(result: BenchResult) -> str:
    """Device, threads, input and the memory the run took against its budget."""
    spec = result.spec
    shape = "×".join(str(size) for size in spec.input_shape)
    layout = ", channels-last" if result.channels_last else ""
    return (
        f"{result.device}, {result.threads} thread{'s' if result.threads != 1 else ''}, "
        f"fp32 input {shape}{layout}, torch {result.torch_version}; tensors "
        f"{format_bytes(result.allocated_bytes)} (estimated {format_bytes(result.estimated_bytes)}"
        f", budget {format_bytes(result.budget_bytes)})"
    )


def speed_message(result: BenchResult) -> str:
    """The measured speed ratio beside the MAC ratio, and why when they diverge."""
    speed, macs = result.speed_ratio, result.mac_ratio
    if speed >= 1:
        message = f"Measured: the separable block runs {format_ratio(speed)} faster"
        message += f"; it does {format_ratio(macs)} fewer MACs."
    else:
        message = f"Measured: the separable block runs {format_ratio(1 / speed)} slower"
        message += f", though it does {format_ratio(macs)} fewer MACs."
    if speed < DIVERGENCE * macs:
        message += (
            " Time falls far less than MACs: a depthwise conv does only "
            f"{kernel_power(result.spec.dims)} MACs per value it reads, so it is bound by memory "
            "traffic rather than arithmetic, and the second kernel launch and the intermediate "
            "tensor cost time too."
        )
    elif speed > macs / DIVERGENCE:
        weights = compare(result.spec, method="analytic").memory.standard.weight_bytes("fp32")
        message += (
            f" Time falls further than MACs: the standard conv's {format_bytes(weights)} of "
            "fp32 weights outgrow the caches, so it too runs below its arithmetic peak."
        )
    return message


def timings_table(title: str, heading: str, rows: list[tuple[str, Timing]], caption: str) -> Table:
    """Median, IQR and runs × loops, one row per timed thing (a side, a model)."""
    table = Table(title=title, title_style="bold", box=box.ROUNDED, caption=caption)
    table.add_column(heading)
    for column in ("Median", "IQR", "Runs × loops"):
        table.add_column(column, justify="right", no_wrap=True)
    for name, timing in rows:
        table.add_row(
            name,
            format_seconds(timing.median_s),
            format_seconds(timing.iqr_s),
            f"{timing.runs} × {timing.loops_per_run}",
        )
    return table


def timings_markdown(
    heading: str, rows: list[tuple[str, Timing]], setup: str, conclusion: str
) -> str:
    """The timings table as Markdown, then the setup line and the speed sentence."""
    lines = [f"| {heading} | Median | IQR | Runs × loops |", "|---|---:|---:|---:|"]
    for name, timing in rows:
        lines.append(
            f"| {name} | {format_seconds(timing.median_s)} | {format_seconds(timing.iqr_s)} | "
            f"{timing.runs} × {timing.loops_per_run} |"
        )
    lines += ["", f"_{setup}_", "", f"**{conclusion}**", ""]
    return "\n".join(lines)


def latency_table(result: BenchResult) -> Table:
    """Median, IQR and runs of both sides."""
    title = "Measured latency (forward pass)"
    return timings_table(title, "Side", _rows(result), setup_line(result))


def render(result: BenchResult) -> Group:
    """Everything ``sepconv-tui bench`` prints."""
    return Group(latency_table(result), Text(speed_message(result), style="bold"))


def to_json(result: BenchResult) -> str:
    """The bench JSON document."""
    return json.dumps(result.to_dict(), indent=2, ensure_ascii=False)


def to_markdown(result: BenchResult) -> str:
    """The latency table and the speed sentence as Markdown."""
    return timings_markdown("Side", _rows(result), setup_line(result), speed_message(result))


def to_csv(result: BenchResult) -> str:
    """One CSV row per side, with the shared setup in every row."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["side", "median_s", "iqr_s", "runs", "loops_per_run", "device", "threads"])
    for side, timing in _rows(result):
        writer.writerow(
            [
                side,
                timing.median_s,
                timing.iqr_s,
                timing.runs,
                timing.loops_per_run,
                result.device,
                result.threads,
            ]
        )
    return buffer.getvalue()
