"""A model analysis as the CLI prints it: a torchinfo-like per-layer table, totals, the check."""

from __future__ import annotations

from typing import Any

from rich import box
from rich.console import Group, JustifyMethod
from rich.table import Table
from rich.text import Text

from ..model.vocabulary.analysis import RICH_RENDERERS, ModelAnalysis
from .format import format_shape
from .model_cells import (
    check_message,
    layer_cells,
    other_cells,
    table_columns,
    total_cells,
    totals_message,
)

#: Columns a terminal needs for the wide table; narrower ones get the compact one.
WIDE_COLUMNS = 160


def model_table(analysis: ModelAnalysis, *, compact: bool = False) -> Table:
    """Per conv/linear: shapes, kernel, channels, params and MACs as is and as separable, swap.

    The same columns and cells as the Model tab's table (``table_columns``, ``layer_cells``);
    ``compact`` fits 80 columns: no shapes or channels, counts in short form (11.69M).
    """
    table = Table(
        title=f"{analysis.source} @ {format_shape(analysis.input_shape)}",
        title_style="bold",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    columns = table_columns(analysis, compact=compact)
    for key, heading in columns:
        if key == "layer":  # long module paths fold rather than squeeze the counts
            table.add_column(heading, overflow="fold", min_width=14)
        else:
            justify: JustifyMethod = "left" if key in ("shapes", "kernel", "swap") else "right"
            table.add_column(
                heading, justify=justify, no_wrap=True, min_width=9 if key == "swap" else None
            )
    for layer in analysis.layers:
        table.add_row(*layer_cells(layer, columns, compact=compact))
    table.add_row(*other_cells(analysis, columns, compact=compact))
    table.add_section()
    table.add_row(*total_cells(analysis, columns, compact=compact, label="Total"))
    return table


def render(analysis: ModelAnalysis, *, compact: bool = False) -> Group:
    """Everything the CLI prints for a model: table, totals, cross-check, notes."""
    check_style = "green" if all(analysis.verified.values()) else "red"
    parts: list[Any] = [
        model_table(analysis, compact=compact),
        Text(totals_message(analysis), style="bold"),
        Text(check_message(analysis), style=check_style),
    ]
    parts += [Text("Note: " + note, style="dim") for note in analysis.notes]
    parts.append(
        Text(
            "MACs exclude bias adds (FLOPs = 2 × MACs); other ops: norms, embeddings, "
            "attention matmuls… counted by PyTorch alone. Swap: ✔ swapped, · candidate kept, "
            "else why not. Saving: MACs ÷ separable MACs (p: params, for a layer never called). "
            "Total: as is, then swapped.",
            style="dim",
        )
    )
    return Group(*parts)


# So that a notebook's rich.print(analysis) draws this without the data importing the report.
RICH_RENDERERS[ModelAnalysis] = render
