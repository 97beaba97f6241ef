"""The Model tab's per-layer table: one row a conv or linear, then other ops and the totals."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual.message import Message
from textual.widgets import DataTable

from ....model.results.bench_result import LayerBench
from ....model.results.fidelity_result import Fidelity, LayerFidelity
from ....model.vocabulary.analysis import ModelAnalysis, ModelLayer
from ....report import model_cells, model_fidelity
from ....report.format import format_ratio
from ....report.layer_bench import MARK, bound_text, efficiency_text
from ...keys import MODEL_TABLE_KEYS, bindings

#: Row keys of the two rows that are not layers.
OTHER_ROW, TOTAL_ROW = "__other__", "__total__"
#: (compact, narrow): which columns the table drops (see model_cells.table_columns).
TableLayout = tuple[bool, bool]
#: The columns a row's cells come from besides model_cells.layer_cells.
OWN_COLUMNS = {"m", "out_err", "net_err", "speedup", "bound", "efficiency"}
#: The measured speed-up's column (after ``l``), before Swap; dropped at narrow widths.
SPEEDUP_COLUMN = ("speedup", "Speed-up")
#: Beside it, the roofline bound on the speed-up, where ``l`` measured a bound; the efficiency
#: (conv / block) goes last, after Swap, so that a table wider than the screen cuts it and
#: not the selection's marks (bench --per-layer shows both).
BOUND_COLUMN = ("bound", "Bound")
EFFICIENCY_COLUMN = ("efficiency", "Efficiency")


def _timed_row(layers: LayerBench | None, name: str) -> Any:
    """Layer ``name``'s row of ``layers`` (None: not timed)."""
    return next((row for row in layers.rows if row.name == name), None) if layers else None


def bounded(layers: LayerBench | None) -> bool:
    """True when ``l``'s timings carry a roofline bound for some row."""
    return layers is not None and any(layers.runtimes[0] in row.bounds for row in layers.rows)


def bound_cells(layers: LayerBench | None, name: str, *, stale: bool) -> dict[str, str | Text]:
    """Layer ``name``'s roofline bound on the speed-up ("4.83×") and its efficiency, conv /
    block ("45% / 60%"), as bench --per-layer words them ("—" where no peak was measured),
    dimmed when ``stale``; "" for a row not timed."""
    row = _timed_row(layers, name)
    if layers is None or row is None:
        return {"bound": "", "efficiency": ""}
    runtime = layers.runtimes[0]
    style = "dim" if stale else ""
    return {
        "bound": Text(bound_text(row, runtime), style=style, justify="right"),
        "efficiency": Text(efficiency_text(row, runtime), style=style, justify="right"),
    }


def speedup_cell(layers: LayerBench | None, name: str, *, stale: bool) -> str | Text:
    """Layer ``name``'s measured speed-up (conv ÷ block, alone) on the timed runtime, marked
    ▼ and red when far below its MAC ratio, dimmed when ``stale``; "" for a row not timed."""
    row = _timed_row(layers, name)
    if layers is None or row is None:
        return ""
    runtime = layers.runtimes[0]
    speed = row.timings[runtime].speed_ratio
    if row.far_below(runtime):
        text, style = f"{MARK} {format_ratio(speed)}", "bold red"
    else:
        text, style = format_ratio(speed), "green" if speed >= 1 else "red"
    return Text(text, style="dim" if stale else style, justify="right")


class ModelTable(DataTable[Any]):
    """The per-layer table; its keys change the selection (the view does the work)."""

    # DataTable's home and end scroll sideways (they move a column cursor); a row table's
    # user expects the first and the last row, as ctrl+home and ctrl+end give.
    BINDINGS = bindings(MODEL_TABLE_KEYS)

    @dataclass
    class SwapKey(Message):
        """A selection key: "toggle" (the cursor's row) or a rule of ``parse_selection``."""

        rule: str

    #: The layout the rows were built for (None before the first analysis).
    built_for: TableLayout | None = None
    #: Whether the rows were built with the fidelity's columns.
    built_measured: bool = False
    #: The fidelity the rows show (None: none measured) and whether it is stale.
    fidelity: Fidelity | None = None
    fidelity_stale: bool = False
    #: The per-layer timings the rows show (None: none measured) and whether they are stale.
    layer_bench: LayerBench | None = None
    layers_stale: bool = False

    def action_swap(self, rule: str) -> None:
        """Ask the view to change the selection."""
        self.post_message(self.SwapKey(rule))

    @property
    def cursor_key(self) -> str | None:
        """The key of the row under the cursor (a layer's name), if any."""
        if not self.row_count:
            return None
        return self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value

    def columns_of(
        self, analysis: ModelAnalysis, layout: TableLayout, measured: bool | None = None
    ) -> list[tuple[str, str]]:
        """The (key, heading) columns of ``analysis`` at ``layout`` (with the fidelity's when
        ``measured``; by default as the rows were built)."""
        compact, narrow = layout
        if measured is None:
            measured = self.built_measured
        columns = model_fidelity.tab_columns(
            analysis, compact=compact, narrow=narrow, measured=measured
        )
        if self.layer_bench is not None and not narrow:
            at = [key for key, _ in columns].index("swap")
            columns.insert(at, SPEEDUP_COLUMN)
            if bounded(self.layer_bench):
                columns.insert(at + 1, BOUND_COLUMN)
                columns.append(EFFICIENCY_COLUMN)
        return columns

    def _measured_layer(self, name: str) -> LayerFidelity | None:
        """The fidelity shown of layer ``name``, if it was measured."""
        if self.fidelity is None:
            return None
        return next((layer for layer in self.fidelity.layers if layer.name == name), None)

    def row_cells(
        self, layer: ModelLayer, columns: list[tuple[str, str]], compact: bool
    ) -> list[str | Text]:
        """One layer's cells in ``columns`` order: the report's, then m and the fidelity's."""
        base = [column for column in columns if column[0] not in OWN_COLUMNS]
        values = dict(
            zip(
                (key for key, _ in base),
                model_cells.layer_cells(layer, base, compact=compact),
                strict=True,
            )
        )
        values["m"] = model_fidelity.multiplier_cell(layer)
        # A layer kept as is, or at another m than measured, has no figure of its own here.
        measured = self._measured_layer(layer.name) if layer.swap else None
        stale = self.fidelity_stale or (
            measured is not None and measured.depth_multiplier != layer.depth_multiplier
        )
        values.update(model_fidelity.fidelity_cells(measured, stale=stale))
        values["speedup"] = speedup_cell(self.layer_bench, layer.name, stale=self.layers_stale)
        values.update(bound_cells(self.layer_bench, layer.name, stale=self.layers_stale))
        return [values[key] for key, _ in columns]

    def fill(
        self,
        analysis: ModelAnalysis,
        layout: TableLayout,
        fidelity: Fidelity | None = None,
        stale: bool = False,
        layers: LayerBench | None = None,
        layers_stale: bool = False,
    ) -> None:
        """Build every row (a new analysis, width, fidelity or per-layer timing), keeping the
        cursor's layer."""
        cursor = self.cursor_key
        self.built_for = layout
        self.built_measured = fidelity is not None
        self.fidelity, self.fidelity_stale = fidelity, stale
        self.layer_bench, self.layers_stale = layers, layers_stale
        compact = layout[0]
        columns = self.columns_of(analysis, layout)
        self.clear(columns=True)
        for key, heading in columns:
            # Headings line up with their cells: counts and ratios to the right.
            left = key in ("layer", "shapes", "kernel", "swap")
            self.add_column(Text(heading, justify="left" if left else "right"), key=key)
        for layer in analysis.layers:
            self.add_row(*self.row_cells(layer, columns, compact), key=layer.name)
        self.add_row(*model_cells.other_cells(analysis, columns, compact=compact), key=OTHER_ROW)
        self.add_row(*model_cells.total_cells(analysis, columns, compact=compact), key=TOTAL_ROW)
        if cursor is not None and cursor in self.rows:
            self.move_cursor(row=self.get_row_index(cursor), animate=False)

    def show_selection(self, previous: ModelAnalysis | None, analysis: ModelAnalysis) -> None:
        """Update the swap marks that changed since ``previous`` and the totals row."""
        layout = self.built_for or (False, False)
        columns = self.columns_of(analysis, layout)
        before = previous.swapped_names if previous is not None else frozenset()
        for layer in analysis.layers:
            if (layer.name in before) != layer.swap:
                if self.built_measured:  # its output errors show only while it is swapped
                    self.show_layer(layer, columns)
                else:
                    self.update_cell(layer.name, "swap", model_cells.swap_cell(layer))
        totals = model_cells.total_cells(analysis, columns, compact=layout[0])
        for (key, _), cell in zip(columns, totals, strict=True):
            if cell != "":
                self.update_cell(TOTAL_ROW, key, cell)

    def show_layer(self, layer: ModelLayer, columns: list[tuple[str, str]] | None = None) -> None:
        """Update every cell of ``layer``'s row (its m changed, or its swap)."""
        layout = self.built_for or (False, False)
        if columns is None:
            columns = [(str(key.value), "") for key in self.columns]
        cells = self.row_cells(layer, columns, layout[0])
        for (key, _), cell in zip(columns, cells, strict=True):
            self.update_cell(layer.name, key, cell)

    def show_fidelity(self, analysis: ModelAnalysis, stale: bool) -> None:
        """Restyle the fidelity's cells as fresh or ``stale`` (the rows are built already)."""
        if stale == self.fidelity_stale:
            return
        self.fidelity_stale = stale
        columns = [(str(key.value), "") for key in self.columns]
        for layer in analysis.layers:
            if layer.swap and self._measured_layer(layer.name) is not None:
                self.show_layer(layer, columns)

    def show_layers(self, analysis: ModelAnalysis, stale: bool) -> None:
        """Restyle the Speed-up and Bound cells as fresh or ``stale`` (the rows are built
        already)."""
        if stale == self.layers_stale or self.layer_bench is None:
            return
        self.layers_stale = stale
        keys = {str(key.value) for key in self.columns}
        if "speedup" not in keys:
            return  # dropped at this width
        for layer in analysis.layers:
            self.update_cell(
                layer.name, "speedup", speedup_cell(self.layer_bench, layer.name, stale=stale)
            )
            cells = bound_cells(self.layer_bench, layer.name, stale=stale)
            for key in keys & set(cells):
                self.update_cell(layer.name, key, cells[key])
