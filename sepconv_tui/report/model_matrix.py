"""Render the deployment matrix: original and swapped in every runtime × precision cell, the best
deployment of each side, and what the swap buys against the original's best.

Used by ``bench --model … --runtime R --precision P`` (``model_bench``); the caption names the
machine, since a figure without its machine cannot be compared with anything. With ``--data``
each cell also shows both models' agreement with the fp32 original (and accuracy with labels)
on the test split, and the answer is said lever by lever: a lower precision alone, the swap
alone, both, and the best deployment among the cells keeping ``--min-agreement``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from rich import box
from rich.table import Table
from rich.text import Text

from ..model.results.bench_result import (
    BestDeployment,
    Levers,
    MatrixCell,
    ModelBenchResult,
    fastest,
)
from ..model.results.fidelity_result import AtPrecision
from ..model.vocabulary.runtimes import runtime_label
from .fidelity import format_share, format_share_interval, split_text
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
    """The machine, the threads and how the cells were timed (and measured, with data)."""
    machine = result.machine.caption if result.machine is not None else "this machine"
    measured = ""
    if result.data is not None:
        what = "agreement with the fp32 original (PyTorch eager) and accuracy"
        if not result.data.labels:
            what = "agreement with the fp32 original (PyTorch eager); no labels, so no accuracy"
        measured = (
            f"; original · swapped {what}, each run in the cell, on the test split of "
            f"{result.data.data} ({split_text(result.data.split)}); int8 calibrated on "
            f"{result.data.calibration}"
        )
    return (
        f"median ± IQR on {machine}; input {'×'.join(str(size) for size in result.input_shape)}; "
        f"--swap {result.selection}: {result.swapped_count} of {result.candidates} candidates; "
        "each cell in its own process with the same threads; a tie: the medians lie within "
        f"each other's IQR{measured}"
    )


def _share(figures: AtPrecision | None, what: str) -> str:
    """A side's agreement or accuracy in a cell ("99.4%"), or a dash."""
    return format_share(None if figures is None else getattr(figures, what))


def sides_text(cell: MatrixCell, what: str) -> str:
    """Both sides' agreement or accuracy in a cell: "100.0% · 98.9%"."""
    return f"{_share(cell.original_fidelity, what)} · {_share(cell.swapped_fidelity, what)}"


def _points(points: float | None) -> str:
    """ "−0.5" (percentage points, signed), or a dash."""
    return "—" if points is None else f"{points:+.1f}".replace("-", "−")


def lever_lines(found: Levers | None, result: ModelBenchResult) -> list[str]:
    """The answer lever by lever: "int8 alone (OpenVINO · int8): 3.20× at −0.0 points"."""
    if result.data is None:
        return []
    if found is None:
        return ["No fp32 cell was measured: the levers need the original at fp32."]
    baseline = found.baseline
    assert baseline.original is not None
    reference = result.data.fp32_original
    held = (
        f"points of test accuracy (the fp32 original's: "
        f"{format_share_interval(reference.accuracy, reference.accuracy_interval)})"
        if found.points_of == "accuracy"
        else "points of top-1 agreement with the fp32 original"
    )
    lines = [
        f"Against the original at fp32 in its fastest cell ({cell_name(baseline)}, "
        f"{format_seconds(baseline.original.median_s)}), on {reference.evaluated:,} test "
        f"samples, in {held}:"
    ]
    for lever in found.levers:
        lines.append(
            f"  {lever.name} ({cell_name(lever.cell)}): {format_ratio(lever.speed_ratio)}"
            f"{' (a tie, within the IQR)' if lever.tie else ''} at {_points(lever.points)} points"
        )
    return lines


def best_within_line(result: ModelBenchResult) -> str | None:
    """The best deployment among the cells keeping --min-agreement (None without data)."""
    if result.min_agreement is None:
        return None
    keeping = f"top-1 agreement ≥ {format_share(result.min_agreement)}"
    best = result.best_within
    if best is not None:
        return f"Keeping {keeping}: {answer(best)}"
    sides = {"original": "the original", "swapped": "the swapped model"}
    said = " nor ".join(
        words
        for side, words in sides.items()
        if fastest(result.matrix, side, result.min_agreement) is None
    )
    return f"Keeping {keeping}: no cell keeps it for {said}, so there is no best within it"


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
    data = result.data is not None
    if data:
        table.add_column("Agreement", justify="right", no_wrap=True)
        if result.data is not None and result.data.labels:
            table.add_column("Accuracy", justify="right", no_wrap=True)
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
            f"{cell_name(cell)}\n[dim]{cell.version}[/dim]",
            original,
            swapped,
            buys_text(cell),
            *_fidelity_cells(result, cell),
        )
    return table


def _fidelity_cells(result: ModelBenchResult, cell: MatrixCell) -> list[str]:
    """A cell's agreement (and accuracy, with labels) texts, none without data."""
    if result.data is None:
        return []
    texts = [sides_text(cell, "agreement")]
    if result.data.labels:
        texts.append(sides_text(cell, "accuracy"))
    return texts


def answer_lines(result: ModelBenchResult) -> list[str]:
    """Every line under the matrix: the best of each side, and with data the levers and the
    best keeping --min-agreement."""
    lines = [answer(result.best), *lever_lines(result.levers, result)]
    within = best_within_line(result)
    return lines if within is None else [*lines, within]


def matrix_markdown(result: ModelBenchResult) -> str:
    """The matrix as Markdown, the caption and the answer."""
    head = ["runtime · precision", "original", "swapped", "the swap buys"]
    if result.data is not None:
        head.append("agreement (original · swapped)")
        if result.data.labels:
            head.append("accuracy (original · swapped)")
    lines = [
        "| " + " | ".join(head) + " |",
        "|---|" + "|".join("---:" for _ in head[1:]) + "|",
    ]
    for cell in result.matrix:
        if cell.original is None or cell.swapped is None:
            blanks = " |" * (len(head) - 2)
            lines.append(f"| {cell_name(cell)} | absent: {cell.absent} |{blanks}")
            continue
        texts = [
            cell_name(cell),
            format_seconds(cell.original.median_s),
            format_seconds(cell.swapped.median_s),
            buys_text(cell),
            *_fidelity_cells(result, cell),
        ]
        lines.append("| " + " | ".join(texts) + " |")
    answers = answer_lines(result)
    said = f"**{answers[0]}**\n" + "".join(
        f"\n{line.strip()}" if not line.startswith("  ") else f"\n- {line.strip()}"
        for line in answers[1:]
    )
    return "\n".join(lines) + f"\n\n_{caption(result)}_\n\n{said}\n"


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
            *(_FIDELITY_COLUMNS if result.data is not None else ()),
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
                *(_fidelity_values(cell) if result.data is not None else ()),
            ]
        )
    return buffer.getvalue()


#: With data, each side's figures on the test split, per CSV row.
_FIDELITY_COLUMNS = tuple(
    f"{side}_{name}"
    for side in ("original", "swapped")
    for name in (
        "agreement",
        "agreement_low",
        "agreement_high",
        "accuracy",
        "accuracy_low",
        "accuracy_high",
    )
)


def _fidelity_values(cell: MatrixCell) -> list[float | str]:
    """A cell's ``_FIDELITY_COLUMNS`` (empty where not measured)."""
    values: list[float | str] = []
    for figures in (cell.original_fidelity, cell.swapped_fidelity):
        for share, interval in (
            (None, None) if figures is None else (figures.agreement, figures.agreement_interval),
            (None, None) if figures is None else (figures.accuracy, figures.accuracy_interval),
        ):
            values += [
                "" if share is None else share,
                *(("", "") if interval is None else interval),
            ]
    return values
