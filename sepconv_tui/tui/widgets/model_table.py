"""The Model tab's per-layer table: one row a conv or linear, then other ops and the totals."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable

from ...model.analysis import ModelAnalysis
from ...report import model as report

#: Row keys of the two rows that are not layers.
OTHER_ROW, TOTAL_ROW = "__other__", "__total__"
#: What each selection key does, for the table's bindings and the footer.
SELECTION_KEYS = (
    ("a", "all", "All"),
    ("n", "none", "None"),
    ("s", "saving", "Saving"),
    ("t", "top:10", "Top 10"),
)
#: (compact, narrow): which columns the table drops (see report.table_columns).
TableLayout = tuple[bool, bool]


class ModelTable(DataTable[Any]):
    """The per-layer table; its keys change the selection (the view does the work)."""

    BINDINGS = [
        # DataTable's home and end scroll sideways (they move a column cursor); a row table's
        # user expects the first and the last row, as ctrl+home and ctrl+end give.
        Binding("home", "scroll_top", "First row", show=False),
        Binding("end", "scroll_bottom", "Last row", show=False),
        Binding("space", "swap('toggle')", "Swap row"),
        *(Binding(key, f"swap('{rule}')", title) for key, rule, title in SELECTION_KEYS),
    ]

    @dataclass
    class SwapKey(Message):
        """A selection key: "toggle" (the cursor's row) or a rule of ``parse_selection``."""

        rule: str

    #: The layout the rows were built for (None before the first analysis).
    built_for: TableLayout | None = None

    def action_swap(self, rule: str) -> None:
        """Ask the view to change the selection."""
        self.post_message(self.SwapKey(rule))

    @property
    def cursor_key(self) -> str | None:
        """The key of the row under the cursor (a layer's name), if any."""
        if not self.row_count:
            return None
        return self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value

    def columns_of(self, analysis: ModelAnalysis, layout: TableLayout) -> list[tuple[str, str]]:
        """The (key, heading) columns of ``analysis`` at ``layout``."""
        compact, narrow = layout
        return report.table_columns(analysis, compact=compact, narrow=narrow)

    def fill(self, analysis: ModelAnalysis, layout: TableLayout) -> None:
        """Build every row (a new analysis or a new width), keeping the cursor's layer."""
        cursor = self.cursor_key
        self.built_for = layout
        compact = layout[0]
        columns = self.columns_of(analysis, layout)
        self.clear(columns=True)
        for key, heading in columns:
            # Headings line up with their cells: counts and ratios to the right.
            left = key in ("layer", "shapes", "kernel", "swap")
            self.add_column(Text(heading, justify="left" if left else "right"), key=key)
        for layer in analysis.layers:
            self.add_row(*report.layer_cells(layer, columns, compact=compact), key=layer.name)
        self.add_row(*report.other_cells(analysis, columns, compact=compact), key=OTHER_ROW)
        self.add_row(*report.total_cells(analysis, columns, compact=compact), key=TOTAL_ROW)
        if cursor is not None and cursor in self.rows:
            self.move_cursor(row=self.get_row_index(cursor), animate=False)

    def show_selection(self, previous: ModelAnalysis | None, analysis: ModelAnalysis) -> None:
        """Update the swap marks that changed since ``previous`` and the totals row."""
        layout = self.built_for or (False, False)
        columns = self.columns_of(analysis, layout)
        before = previous.swapped_names if previous is not None else frozenset()
        for layer in analysis.layers:
            if (layer.name in before) != layer.swap:
                self.update_cell(layer.name, "swap", report.swap_cell(layer))
        totals = report.total_cells(analysis, columns, compact=layout[0])
        for (key, _), cell in zip(columns, totals, strict=True):
            if cell != "":
                self.update_cell(TOTAL_ROW, key, cell)
