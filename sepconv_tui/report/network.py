"""Render a NetworkReport: a Rich per-layer table with totals, and JSON / Markdown / CSV."""

from __future__ import annotations

import csv
import io
import json

from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text

from ..core.networks import NetworkReport
from .format import format_count, format_ratio, format_shape

#: What each network's paper publishes, to read the totals against.
PAPER_NOTES = {
    "mobilenet_v1": "Howard et al. 2017, Table 4 (α = 1, 224): Conv MobileNet 29.3M params, "
    "4866M mult-adds; MobileNet 4.2M params, 569M mult-adds.",
    "xception": "Chollet 2017, Table 3: Xception 22,855,952 parameters (MACs not published). "
    "Standard: each separable conv swapped for a full 3×3 conv.",
    **{
        f"quartznet{blocks}x5": f"Kriman et al. 2020, Table 1 / Section 3: QuartzNet {blocks}x5 "
        f"has {millions}M parameters (on 64 mel features; MACs not published). Standard: each "
        "time-channel separable conv swapped for a full Conv1d (the Jasper-style network)."
        for blocks, millions in ((5, "6.7"), (10, "12.8"), (15, "18.9"))
    },
}


def _title(report: NetworkReport) -> str:
    """E.g. mobilenet_v1 α=1.0 @ 224×224, or quartznet5x5 α=1 @ length 1000 for a 1-D one."""
    size = report.resolution
    where = f"length {size}" if report.dims == 1 else f"{size}×{size}"
    return f"{report.name} α={report.width_multiplier:g} @ {where}"


def _millions(value: int) -> str:
    """A count in millions with two decimals, e.g. 4.23M."""
    return f"{value / 1e6:.2f}M"


def network_table(report: NetworkReport, *, compact: bool = False) -> Table:
    """Per block: input shape, and params / MACs of the standard and separable variants.

    ``compact`` fits about 80 columns: no input-shape column, lighter borders.
    """
    table = Table(
        title=_title(report),
        title_style="bold",
        box=box.SIMPLE_HEAD if compact else box.ROUNDED,
        pad_edge=not compact,
        caption="Input shapes: in a wider view, or in the export." if compact else None,
    )
    table.add_column("Layer", ratio=1)  # wraps first when the terminal is narrow
    if not compact:
        table.add_column("Input shape", ratio=1)
    standard, separable = report.standard, report.separable
    totals = (standard.params, standard.macs, separable.params, separable.macs)
    headings = ("Std params", "Std MACs", "Sep params", "Sep MACs")
    for heading, total in zip(headings, totals, strict=True):
        # The totals are the widest numbers; never squeeze a count into an ellipsis.
        width = max(len(heading), len(format_count(total)))
        table.add_column(heading, justify="right", no_wrap=True, min_width=width)
    for row in report.rows:
        table.add_row(
            row.name,
            *([] if compact else [format_shape(row.input_shape)]),
            format_count(row.standard_params),
            format_count(row.standard_macs),
            format_count(row.separable_params),
            format_count(row.separable_macs),
        )
    standard, separable = report.standard, report.separable
    table.add_section()
    table.add_row(
        "Total",
        *([] if compact else [""]),
        format_count(standard.params),
        format_count(standard.macs),
        format_count(separable.params),
        format_count(separable.macs),
        style="bold",
    )
    return table


def totals_message(report: NetworkReport) -> str:
    """Totals in millions and the ratios."""
    standard, separable = report.standard, report.separable
    return (
        f"Standard convs: {_millions(standard.params)} params, {_millions(standard.macs)} MACs · "
        f"separable (published): {_millions(separable.params)} params, "
        f"{_millions(separable.macs)} MACs · "
        f"{format_ratio(standard.params / separable.params)} fewer params, "
        f"{format_ratio(standard.macs / separable.macs)} fewer MACs"
    )


def check_message(report: NetworkReport) -> str:
    """Whether PyTorch agrees with the closed form, block by block (or that it is pending)."""
    if report.verified is None:
        return "… PyTorch cross-check pending (figures are closed-form)"
    if all(report.verified.values()):
        return "✔ Closed form and PyTorch agree on every block's params, MACs and shape"
    differing = [name for name, ok in report.verified.items() if not ok]
    return "✘ Closed form and PyTorch differ on " + ", ".join(differing)


def summary_message(report: NetworkReport) -> str:
    """Totals, ratios and, once PyTorch has run, the cross-check."""
    if report.verified is None:
        return totals_message(report)
    return totals_message(report) + "\n" + check_message(report)


def notes(report: NetworkReport) -> str:
    """The counting conventions and what the paper publishes."""
    return (
        "Params include batch norm; MACs count convs and the classifier (no bias adds, pools "
        "or residual adds). " + PAPER_NOTES.get(report.name, "")
    )


def render(report: NetworkReport) -> Group:
    """Everything the CLI prints for a network."""
    return Group(
        network_table(report),
        Text(summary_message(report), style="bold"),
        Text(notes(report), style="dim"),
    )


def to_json(report: NetworkReport) -> str:
    """The network as JSON."""
    return json.dumps(report.to_dict(), indent=2, ensure_ascii=False)


def to_markdown(report: NetworkReport) -> str:
    """The per-layer table and totals as Markdown."""
    lines = [
        f"### {_title(report)}",
        "",
        "| Layer | Input shape | Std params | Std MACs | Sep params | Sep MACs |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for row in report.rows:
        lines.append(
            f"| {row.name} | `{format_shape(row.input_shape)}` | "
            f"{format_count(row.standard_params)} | {format_count(row.standard_macs)} | "
            f"{format_count(row.separable_params)} | {format_count(row.separable_macs)} |"
        )
    standard, separable = report.standard, report.separable
    lines += [
        f"| **Total** | | **{format_count(standard.params)}** | **{format_count(standard.macs)}** "
        f"| **{format_count(separable.params)}** | **{format_count(separable.macs)}** |",
        "",
        summary_message(report),
        "",
    ]
    return "\n".join(lines)


def to_csv(report: NetworkReport) -> str:
    """One CSV row per block."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(
        [
            "layer",
            "input_shape",
            "standard_params",
            "standard_macs",
            "separable_params",
            "separable_macs",
        ]
    )
    for row in report.rows:
        writer.writerow(
            [
                row.name,
                format_shape(row.input_shape),
                row.standard_params,
                row.standard_macs,
                row.separable_params,
                row.separable_macs,
            ]
        )
    return buffer.getvalue()
