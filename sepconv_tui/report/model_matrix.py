"""Render the deployment matrix: original and swapped in every runtime × precision cell, the best
deployment of each side, and what the swap buys against the original's best.

Used by ``bench --model … --runtime R --precision P`` (``model_bench``); the caption names the
machine, since a figure without its machine cannot be compared with anything.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from rich import box
from rich.table import Table
from rich.text import Text

from ..model.bench_result import BestDeployment, MatrixCell, ModelBenchResult
from ..model.runtimes import runtime_label
from .format import format_ratio
from .latency import format_seconds


def cell_name(cell: MatrixCell) -> str:
    """ "ONNX Runtime · int8": a cell by its runtime and the precision that ran."""
    return f"{runtime_label(cell.runtime)} · {cell.precision}"


def _side(median_s: float, iqr_s: float) -> str:
    """ "3.21 ms ± 40.1 µs"."""
    return f"{format_seconds(median_s)} ± {format_seconds(iqr_s)}"


def buys_text(cell: MatrixCell) -> str:
    """What the swap buys in one cell: "5.61×", "tie (1.02×)", "0.90× (slower)"."""
    ratio = cell.speed_ratio
    if ratio is None:
        return "—"
    if cell.tie:
        return f"tie ({format_ratio(ratio)})"
    return format_ratio(ratio) + ("" if ratio >= 1 else " (slower)")


def caption(result: ModelBenchResult) -> str:
    """The machine, the threads and how the cells were timed."""
    machine = result.machine.caption if result.machine is not None else "this machine"
    return (
        f"median ± IQR on {machine}; input {'×'.join(str(size) for size in result.input_shape)}; "
        f"--swap {result.selection}: {result.swapped_count} of {result.candidates} candidates; "
        "each cell in its own process with the same threads; a tie: the medians lie within "
        "each other's IQR"
    )


def _best_side(cell: MatrixCell, seconds: float, ties: Sequence[MatrixCell]) -> str:
    """ "OpenVINO · int8 (1.99 ms)", with the cells that tie it."""
    tied = f", tied with {', '.join(cell_name(each) for each in ties)}" if ties else ""
    return f"{cell_name(cell)} ({format_seconds(seconds)}{tied})"


def answer(best: BestDeployment | None) -> str:
    """The closing line: each side's best and the swap's gain against the original's best."""
    if best is None:
        return "No cell could be timed on this machine."
    ratio = best.speed_ratio
    if best.tie:
        gain = f"a tie against the original's best ({format_ratio(ratio)}, within the IQR)"
    elif ratio >= 1:
        gain = f"the swap buys {format_ratio(ratio)} against the original's best"
    else:
        gain = f"the swap is {format_ratio(1 / ratio)} slower than the original's best"
    return (
        f"best original: {_best_side(best.original, best.original_s, best.original_ties)}; "
        f"best swapped: {_best_side(best.swapped, best.swapped_s, best.swapped_ties)}; {gain}"
    )


def matrix_table(result: ModelBenchResult) -> Table:
    """One row per runtime · precision cell: both sides, what the swap buys; the best of each
    side in bold; an absent cell says why."""
    table = Table(
        title=f"{result.source}: swap, quantize, or both (forward pass)",
        title_style="bold",
        box=box.SIMPLE_HEAD,
        caption=caption(result),
        pad_edge=False,
        collapse_padding=True,
    )
    table.add_column("Runtime · precision", min_width=22, no_wrap=True)
    table.add_column("Original", justify="right", no_wrap=True)
    table.add_column("Swapped", justify="right", no_wrap=True)
    table.add_column("The swap buys", justify="right", no_wrap=True)
    best = result.best
    for cell in result.matrix:
        if cell.original is None or cell.swapped is None:
            table.add_row(
                Text(cell_name(cell), style="dim"), Text(f"absent: {cell.absent}", style="dim")
            )
            continue
        original = Text(
            _side(cell.original.median_s, cell.original.iqr_s),
            style="bold green" if best is not None and cell is best.original else "",
        )
        swapped = Text(
            _side(cell.swapped.median_s, cell.swapped.iqr_s),
            style="bold green" if best is not None and cell is best.swapped else "",
        )
        table.add_row(
            f"{cell_name(cell)}\n[dim]{cell.version}[/dim]", original, swapped, buys_text(cell)
        )
    return table


def matrix_markdown(result: ModelBenchResult) -> str:
    """The matrix as Markdown, the caption and the answer."""
    lines = ["| runtime · precision | original | swapped | the swap buys |", "|---|---:|---:|---:|"]
    for cell in result.matrix:
        if cell.original is None or cell.swapped is None:
            lines.append(f"| {cell_name(cell)} | absent: {cell.absent} | | |")
            continue
        lines.append(
            f"| {cell_name(cell)} | {format_seconds(cell.original.median_s)} | "
            f"{format_seconds(cell.swapped.median_s)} | {buys_text(cell)} |"
        )
    return "\n".join(lines) + f"\n\n_{caption(result)}_\n\n**{answer(result.best)}**\n"


def matrix_csv(result: ModelBenchResult) -> str:
    """One CSV row per cell (absent ones with the reason)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(
        [
            "runtime",
            "precision",
            "original_median_s",
            "original_iqr_s",
            "swapped_median_s",
            "swapped_iqr_s",
            "speed_ratio",
            "tie",
            "absent",
        ]
    )
    for cell in result.matrix:
        if cell.original is None or cell.swapped is None:
            writer.writerow([cell.runtime, cell.precision, "", "", "", "", "", "", cell.absent])
            continue
        writer.writerow(
            [
                cell.runtime,
                cell.precision,
                cell.original.median_s,
                cell.original.iqr_s,
                cell.swapped.median_s,
                cell.swapped.iqr_s,
                cell.speed_ratio,
                cell.tie,
                "",
            ]
        )
    return buffer.getvalue()
