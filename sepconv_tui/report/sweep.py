"""Render a sweep: the exact ratios per point beside the textbook ratio; JSON / CSV / Markdown."""

from __future__ import annotations

import csv
import io
import json

from rich import box
from rich.table import Table

from ..core.sweep import SweepPoint
from .format import format_count, format_ratio


def sweep_table(points: list[SweepPoint]) -> Table:
    """The exact param and MAC ratios at each point beside the textbook ratio."""
    field = points[0].field if points else "value"
    table = Table(title=f"Sweep over {field}", title_style="bold", box=box.ROUNDED)
    table.add_column(field, justify="right")
    for heading in ("Std params", "Sep params", "Param ratio", "MAC ratio", "Textbook"):
        table.add_column(heading, justify="right", no_wrap=True)
    for point in points:
        comparison = point.comparison
        table.add_row(
            str(point.value),
            format_count(comparison.standard.params),
            format_count(comparison.separable.params),
            format_ratio(comparison.param_ratio),
            format_ratio(comparison.mac_ratio),
            format_ratio(comparison.textbook_ratio),
        )
    return table


def sweep_to_json(points: list[SweepPoint]) -> str:
    """``{"points": [...]}``, each point keyed by the swept field."""
    return json.dumps({"points": [point.to_dict() for point in points]}, indent=2)


def sweep_to_csv(points: list[SweepPoint]) -> str:
    """One CSV row per point."""
    rows = [point.to_dict() for point in points]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def sweep_to_markdown(points: list[SweepPoint]) -> str:
    """The sweep table as Markdown."""
    field = points[0].field
    lines = [
        f"| {field} | Std params | Sep params | Param ratio | MAC ratio | Textbook |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for point in points:
        c = point.comparison
        lines.append(
            f"| {point.value} | {format_count(c.standard.params)} | "
            f"{format_count(c.separable.params)} | {format_ratio(c.param_ratio)} | "
            f"{format_ratio(c.mac_ratio)} | {format_ratio(c.textbook_ratio)} |"
        )
    return "\n".join(lines) + "\n"
