"""The Model tab: analyse a whole model, toggle swaps row by row, watch the totals move.

The analysis runs in the model process (workers/model_server.py); toggles are arithmetic on the
returned ModelAnalysis (``with_swaps``/``select``) and every text comes from report/model.py.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.suggester import Suggester, SuggestionReady
from textual.widget import Widget
from textual.widgets import DataTable, Input, Label, Static

from ...core.latency import BenchError
from ...model.analysis import ModelAnalysis, Selection, SelectionError
from ...model.bench import MODEL_MIN_RUN_TIME_S, STAGES, ModelBenchResult
from ...model.layer_spec import LayerFitError, layer_spec
from ...model.plan import plan_from_analysis
from ...model.source import SOURCE_FORMS, ModelSourceError, parse_input_shape, parse_source
from ...report import model as report
from ..export import Export
from ..model_process import (
    ModelBenchRun,
    ModelProcess,
    ModelProcessError,
    Request,
    analysis_of,
    analysis_request,
    names_request,
)
from ..tab_view import OpenLayer, TabViewDefaults

#: Below this many columns the table drops its shape and channel columns, counts go short.
COMPACT_WIDTH = 150
#: Below this many columns it drops the separable params and MACs too (80×24).
NARROW_WIDTH = 100
#: Below this many rows the chart gives its room to the table.
CHART_MIN_HEIGHT = 34
#: Row keys of the two rows that are not layers.
OTHER_ROW, TOTAL_ROW = "__other__", "__total__"
#: What each selection key does, for the table's bindings and the footer.
SELECTION_KEYS = (
    ("a", "all", "All"),
    ("n", "none", "None"),
    ("s", "saving", "Saving"),
    ("t", "top:10", "Top 10"),
)
#: The status line once an analysis is shown (cut at the right edge on narrow terminals).
HINT = "space swap · a all · n none · s saving · t top 10 · enter Layer tab · b time · e export"


class ModelNameSuggester(Suggester):
    """Completes torchvision and timm model names (the list arrives from the model process)."""

    def __init__(self) -> None:
        # No cache: the names arrive after the first keys, which must not stay "no suggestion".
        super().__init__(use_cache=False, case_sensitive=False)
        self.names: list[str] = []

    async def get_suggestion(self, value: str) -> str | None:
        """The first known name starting with ``value`` (casefolded by Textual)."""
        return self.suggest(value)

    def suggest(self, value: str) -> str | None:
        """The first known name starting with ``value``, whatever its case."""
        folded = value.casefold()
        if not folded:
            return None
        return next((name for name in self.names if name.casefold().startswith(folded)), None)


class ModelTable(DataTable[Any]):
    """The per-layer table; its keys change the selection (the view does the work)."""

    BINDINGS = [
        Binding("space", "swap('toggle')", "Swap row"),
        *(Binding(key, f"swap('{rule}')", title) for key, rule, title in SELECTION_KEYS),
    ]

    @dataclass
    class SwapKey(Message):
        """A selection key: "toggle" (the cursor's row) or a rule of ``parse_selection``."""

        rule: str

    def action_swap(self, rule: str) -> None:
        """Ask the view to change the selection."""
        self.post_message(self.SwapKey(rule))


class ModelBody(Vertical):
    """Table and chart. Focusing it (F6, escape) focuses the table, or the source before any
    analysis, so the tab's keys work at once."""

    def focus(self, scroll_visible: bool = True) -> ModelBody:
        """Focus the table when it has rows, else the source field."""
        table = self.query_one(ModelTable)
        target: Widget = table
        if not table.row_count:
            target = self.screen.query_one("#model-source", Input)
        target.focus(scroll_visible)
        return self


def export_stem(source: str) -> str:
    """A file stem for a source: sepconv-model-torchvision-resnet18, …-net.py-build."""
    tail = source.replace("\\", "/").rsplit("/", 1)[-1]
    return "sepconv-model-" + re.sub(r"[^A-Za-z0-9_.]+", "-", tail).strip("-")


class ModelView(TabViewDefaults, Vertical):
    """A model's convs and linears, what swapping each one saves, and the selection's totals."""

    nothing_to_export = "Nothing to export yet: type a model source and press enter."

    @dataclass
    class Analysed(Message):
        """``request`` ended: an analysis, or the error message (neither when cancelled)."""

        request: Request
        analysis: ModelAnalysis | None
        error: str | None = None

    @dataclass
    class BenchStage(Message):
        """``run`` reached stage ``index`` of the whole-model benchmark's STAGES."""

        run: ModelBenchRun
        index: int
        label: str

    @dataclass
    class BenchFinished(Message):
        """``run`` ended: a result, or an error message (neither when it was cancelled)."""

        run: ModelBenchRun
        result: ModelBenchResult | None
        error: str | None = None

    @dataclass
    class NamesLoaded(Message):
        """The model names the installed packages can build, for the suggester."""

        names: list[str]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.analysis: ModelAnalysis | None = None
        self.stale = False
        self.suggester = ModelNameSuggester()
        self._process = ModelProcess()
        self._request: Request | None = None
        self._names_requested = False
        self._layout: tuple[bool, bool] | None = None  # (compact, narrow) of the table as built
        self.bench_result: ModelBenchResult | None = None
        self._weights: str | None = None  # the state_dict the shown analysis was made with
        self._bench_names: frozenset[str] = frozenset()  # the selection bench_result timed
        self._bench_run: ModelBenchRun | None = None
        #: Seconds each model is timed for at least (tests shorten it).
        self.bench_min_run_time = MODEL_MIN_RUN_TIME_S

    def compose(self) -> ComposeResult:
        """Source and input shape; error; status; summary; the table and the chart."""
        from textual_plotext import PlotextPlot  # plotext costs start-up time; the tab is lazy

        with Horizontal(id="model-controls"):
            yield Label("Model", classes="control-label")
            yield Input(
                placeholder="torchvision:resnet18, timm:NAME, path/file.py:build",
                id="model-source",
                suggester=self.suggester,
                compact=True,
            )
            yield Label("Input", classes="control-label")
            yield Input(placeholder="the model's own", id="model-input-shape", compact=True)
            yield Label("Weights", classes="control-label")
            yield Input(placeholder="none (a .pt)", id="model-weights", compact=True)
        yield Static(id="model-error", classes="view-error")
        yield Static(f"Type a model source and press enter: {SOURCE_FORMS}.", id="model-status")
        yield Static(id="model-summary")
        yield Static(id="model-bench")
        with ModelBody(id="model-body"):
            yield ModelTable(id="model-table", cursor_type="row")
            yield PlotextPlot(id="model-chart")

    def on_mount(self) -> None:
        """Size-dependent classes."""
        self._layout_classes()

    def on_unmount(self) -> None:
        """Quitting the app stops the model process (and a running benchmark) too."""
        if self._request is not None:
            self._request.cancelled = True
        if self._bench_run is not None:
            self._bench_run.cancel()
        self._process.close()

    # Requests -----------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """True while an analysis runs."""
        return self._request is not None

    @on(Input.Changed, "#model-source")
    def _source_changed(self, event: Input.Changed) -> None:
        """The first key in the source field fetches the model names (and warms PyTorch)."""
        event.stop()
        if not self._names_requested and event.value.strip():
            self._names_requested = True
            self._load_names()

    @work(thread=True, group="model-names")
    def _load_names(self) -> None:
        """Ask the model process for every model name; post them."""
        try:
            reply = self._process.ask(names_request())
        except ModelProcessError:
            return  # no suggestions; the analysis will report what is missing
        if reply is not None:
            self.post_message(self.NamesLoaded(list(reply["names"])))

    @on(NamesLoaded)
    def _names_loaded(self, event: NamesLoaded) -> None:
        """Suggest from now on, starting with what is typed already."""
        self.suggester.names = event.names
        source_input = self.query_one("#model-source", Input)
        suggestion = self.suggester.suggest(source_input.value)
        if suggestion is not None:
            source_input.post_message(SuggestionReady(source_input.value, suggestion))

    @on(Input.Submitted, "#model-source, #model-input-shape, #model-weights")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.analyse()

    def _field_error(self, field_id: str | None, message: str | None) -> None:
        """Show ``message`` under the inputs (None clears it) and mark the field at fault."""
        for input_id in ("model-source", "model-input-shape", "model-weights"):
            self.query_one(f"#{input_id}", Input).set_class(input_id == field_id, "-invalid")
        error = self.query_one("#model-error", Static)
        error.update(f"⚠ {message}" if message else "")
        error.display = message is not None

    def analyse(self) -> None:
        """Analyse the typed source at the typed input shape (a newer request replaces one
        still running); bad text is reported in place without a round trip."""
        source = self.query_one("#model-source", Input).value.strip()
        shape_text = self.query_one("#model-input-shape", Input).value.strip()
        weights = self.query_one("#model-weights", Input).value.strip() or None
        try:
            if not source:
                raise ModelSourceError(f"type a model source: {SOURCE_FORMS}")
            parse_source(source)
        except ModelSourceError as error:
            self._failed("model-source", str(error))
            return
        try:
            shape = parse_input_shape(shape_text) if shape_text else None
        except ModelSourceError as error:
            self._failed("model-input-shape", str(error).replace("--input-shape", "Input shape"))
            return
        self.cancel()
        self._field_error(None, None)
        self._request = request = analysis_request(source, shape, weights=weights)
        self._status(f"Analysing {source}… (escape cancels)", running=True)
        self.query_one(ModelBody).loading = True
        self._analyse(request)

    @work(thread=True, group="model-analysis")
    def _analyse(self, request: Request) -> None:
        """Run ``request`` in the model process; post its end."""
        try:
            reply = self._process.ask(request)
        except ModelProcessError as error:
            self.post_message(self.Analysed(request, None, str(error)))
            return
        analysis = analysis_of(reply) if reply is not None else None
        self.post_message(self.Analysed(request, analysis))

    @on(Analysed)
    def _analysed(self, event: Analysed) -> None:
        if event.request is not self._request:
            return  # a late answer to a replaced or cancelled request
        self._request = None
        self.query_one(ModelBody).loading = False
        if event.analysis is not None:
            self._weights = event.request.payload["analyze"]["weights"]
            self.show_analysis(event.analysis)
            # From the field just entered to the table, whose keys come next.
            if isinstance(self.app.focused, Input) and self.app.focused in self.query(Input):
                self.query_one(ModelTable).focus()
            return
        message = event.error or "the analysis stopped"
        field = "model-source"
        for flag, input_id, label in (
            ("--input-shape", "model-input-shape", "Input shape"),
            ("--weights", "model-weights", "Weights"),
        ):
            if message.startswith(flag):
                field, message = input_id, message.replace(flag, label, 1)
        self._failed(field, message)

    def cancel(self) -> bool:
        """Cancel a running analysis or benchmark (escape); False when none runs."""
        if self._bench_run is not None:
            self._bench_run.cancel()
            self._bench_run = None
            self._status("Benchmark cancelled.", running=False)
            return True
        request = self._request
        if request is None:
            return False
        self._request = None
        self._process.cancel(request)
        self.query_one(ModelBody).loading = False
        self._status(
            "Cancelled; the last analysis is kept." if self.analysis else "Cancelled.",
            running=False,
        )
        return True

    def _failed(self, field_id: str, message: str) -> None:
        """An error in place; the last good analysis stays, marked stale."""
        self._field_error(field_id, message)
        if self.analysis is None:
            self._status("", running=False)
            return
        self.stale = True
        self.add_class("-stale")
        self._status(
            f"Stale: still showing {self.analysis.source} at "
            f"{report.format_shape(self.analysis.input_shape)}, the last good analysis.",
            running=False,
        )

    def _status(self, text: str, *, running: bool) -> None:
        """The line above the summary: progress, the stale mark, or the keys."""
        status = self.query_one("#model-status", Static)
        status.update(text)
        status.set_class(running, "-running")
        status.set_class(self.stale and not running, "-stale")

    # Showing an analysis ------------------------------------------------------------------

    def show_analysis(self, analysis: ModelAnalysis) -> None:
        """Show ``analysis`` (from the model process, or recorded): summary, table, chart."""
        self.analysis = analysis
        self.stale = False
        self.remove_class("-stale", "-benched")  # timings were for the previous analysis
        self.add_class("-analysed")
        self._field_error(None, None)
        source_input = self.query_one("#model-source", Input)
        if not source_input.value.strip():
            with self.prevent(Input.Changed):
                source_input.value = analysis.source
        shape = ",".join(str(size) for size in analysis.input_shape)
        self.query_one("#model-input-shape", Input).placeholder = shape
        self._status(HINT, running=False)
        self._fill_table()
        self._show_selection()

    @property
    def table_layout(self) -> tuple[bool, bool]:
        """(compact, narrow): which columns the table drops at the view's width."""
        return self.size.width < COMPACT_WIDTH, self.size.width < NARROW_WIDTH

    def _columns(self, analysis: ModelAnalysis) -> list[tuple[str, str]]:
        """The table's columns as built."""
        compact, narrow = self._layout or self.table_layout
        return report.table_columns(analysis, compact=compact, narrow=narrow)

    def _fill_table(self) -> None:
        """Build every row (on a new analysis or a new width), keeping the cursor's layer."""
        analysis = self.analysis
        if analysis is None:
            return
        table = self.query_one(ModelTable)
        cursor = self._cursor_key()
        self._layout = self.table_layout
        compact = self._layout[0]
        columns = self._columns(analysis)
        table.clear(columns=True)
        for key, heading in columns:
            # Headings line up with their cells: counts and ratios to the right.
            left = key in ("layer", "shapes", "kernel", "swap")
            table.add_column(Text(heading, justify="left" if left else "right"), key=key)
        for layer in analysis.layers:
            table.add_row(*report.layer_cells(layer, columns, compact=compact), key=layer.name)
        table.add_row(*report.other_cells(analysis, columns, compact=compact), key=OTHER_ROW)
        table.add_row(*report.total_cells(analysis, columns, compact=compact), key=TOTAL_ROW)
        if cursor is not None and cursor in table.rows:
            table.move_cursor(row=table.get_row_index(cursor), animate=False)

    def _cursor_key(self) -> str | None:
        """The key of the row under the cursor, if any."""
        table = self.query_one(ModelTable)
        if not table.row_count:
            return None
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value

    def _show_selection(self) -> None:
        """Summary and chart of the current selection."""
        analysis = self.analysis
        assert analysis is not None
        lines = report.summary_lines(analysis)
        summary = Text("\n".join(lines))
        summary.stylize("bold", 0, len(lines[0]))
        shown = self.query_one("#model-summary", Static)
        # Four lines that fit the width keep their size: a repaint, not a layout of the
        # screen (which would hold the next key for tens of ms).
        fits = shown.size.width > 0 and all(len(line) < shown.size.width for line in lines)
        shown.update(summary, layout=not fits)
        # Timings of another selection stay visible, dimmed, until b runs again.
        self.set_class(analysis.swapped_names != self._bench_names, "-bench-old")
        self._plot()

    def _plot(self) -> None:
        """MACs per stage (per layer for a small model): as is beside the selection."""
        from textual_plotext import PlotextPlot

        analysis = self.analysis
        plot = self.query_one("#model-chart", PlotextPlot)
        plt = plot.plt
        plt.clear_data()
        plt.clear_figure()
        if analysis is None:
            return
        stages = report.stage_macs(analysis)
        if stages:
            scale, unit = (1e9, "G") if max(s.original for s in stages) >= 1e9 else (1e6, "M")
            # plotext takes a colour per series (textual-plotext's stub says one); the title
            # names them, as a legend would cover the first bars.
            plt.multiple_bar(
                [stage.label for stage in stages],
                [
                    [stage.original / scale for stage in stages],
                    [stage.selected / scale for stage in stages],
                ],
                color=["orange", "green"],  # type: ignore[arg-type]
            )
            per = "stage" if len(stages) < len(analysis.layers) else "layer"
            plt.title(f"{unit}MACs per {per}: as is (orange), with the selection (green)")
        plot.refresh()

    def on_resize(self) -> None:
        """Compact or full columns; the chart only where there is room for it."""
        self._layout_classes()
        if self.analysis is not None and self.table_layout != self._layout:
            self._fill_table()

    def _layout_classes(self) -> None:
        self.set_class(self.size.height < CHART_MIN_HEIGHT, "-short")

    # The selection ------------------------------------------------------------------------

    @on(ModelTable.SwapKey)
    def _swap_key(self, event: ModelTable.SwapKey) -> None:
        event.stop()
        analysis = self.analysis
        if analysis is None:
            return
        if event.rule != "toggle":
            self.select_rule(event.rule)
            return
        name = self._cursor_key()
        layer = next((layer for layer in analysis.layers if layer.name == name), None)
        if layer is None or not layer.candidate:
            why = f"{layer.name}: {layer.reason}" if layer else "this row is not a layer"
            self.notify(f"Not a swap candidate ({why}).", severity="warning")
            return
        self.select(analysis.with_swaps(analysis.swapped_names ^ {layer.name}))

    def select(self, analysis: ModelAnalysis) -> None:
        """Show ``analysis``'s selection: the changed swap marks, the totals, summary, chart."""
        previous = self.analysis
        self.analysis = analysis
        table = self.query_one(ModelTable)
        columns = self._columns(analysis)
        before = previous.swapped_names if previous is not None else frozenset()
        for layer in analysis.layers:
            if (layer.name in before) != layer.swap:
                table.update_cell(layer.name, "swap", report.swap_cell(layer))
        totals = report.total_cells(
            analysis, columns, compact=self._layout is not None and self._layout[0]
        )
        for (key, _), cell in zip(columns, totals, strict=True):
            if cell != "":
                table.update_cell(TOTAL_ROW, key, cell)
        self._show_selection()

    def select_rule(self, rule: str) -> None:
        """Apply a selection rule ("all", "none", "saving", "top:10", names) to the analysis."""
        if self.analysis is None:
            return
        try:
            self.select(self.analysis.select(rule))
        except SelectionError as error:
            self.notify(str(error), severity="warning")

    @on(DataTable.RowSelected, "#model-table")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        """Enter on a conv: open it in the Layer tab, or say why it does not fit there."""
        event.stop()
        analysis = self.analysis
        name = event.row_key.value
        layers = analysis.layers if analysis is not None else ()
        layer = next((layer for layer in layers if layer.name == name), None)
        if analysis is None or layer is None:
            self.notify("Only a layer's row opens in the Layer tab.", severity="warning")
            return
        try:
            spec = layer_spec(layer, analysis.depth_multiplier)
        except LayerFitError as error:
            self.notify(f"Not opened in the Layer tab: {error}.", severity="warning")
            return
        self.post_message(OpenLayer(spec, f"{analysis.source} {layer.name}"))

    # Whole-model latency ------------------------------------------------------------------

    def _selection_text(self, analysis: ModelAnalysis) -> str:
        """The current selection as ``--swap`` text: a rule when one gives it, else the names."""
        swapped = analysis.swapped_names
        for rule in ("saving", "all", "none"):
            if analysis.selected_names(Selection(rule)) == swapped:
                return rule
        return ",".join(sorted(swapped))

    def bench(self) -> bool:
        """Time the original model and the current selection (``b``) in a child process."""
        analysis = self.analysis
        if analysis is None or self.stale:
            self.notify("Analyse a model first (type its source, press enter), then b times it.")
            return True
        if self._bench_run is not None or self.running:
            return True
        self._field_error(None, None)
        run = ModelBenchRun(
            {
                "source": analysis.source,
                "select": self._selection_text(analysis),
                "input_shape": list(analysis.input_shape),
                "depth_multiplier": analysis.depth_multiplier,
                "device": "cpu",
                "threads": None,
                "weights": self._weights,
                "min_run_time": self.bench_min_run_time,
            }
        )
        self._bench_run = run
        self._status("Timing: starting PyTorch… (escape cancels)", running=True)
        self._time_models(run)
        return True

    @property
    def benchmarking(self) -> bool:
        """True while a whole-model benchmark runs."""
        return self._bench_run is not None

    @work(thread=True, group="model-bench")
    def _time_models(self, run: ModelBenchRun) -> None:
        """Run ``run`` in its process; post its stages and its end."""

        def on_stage(index: int, label: str) -> None:
            self.post_message(self.BenchStage(run, index, label))

        try:
            result = run.run(on_stage)
        except BenchError as error:
            self.post_message(self.BenchFinished(run, None, str(error)))
            return
        self.post_message(self.BenchFinished(run, result))

    @on(BenchStage)
    def _bench_stage(self, event: BenchStage) -> None:
        if event.run is self._bench_run:
            self._status(
                f"Timing {event.index + 1}/{len(STAGES)}: {event.label}… (escape cancels)",
                running=True,
            )

    @on(BenchFinished)
    def _bench_finished(self, event: BenchFinished) -> None:
        if event.run is not self._bench_run:
            return  # a late message from a cancelled run
        self._bench_run = None
        if event.result is None:
            self._field_error(None, f"Benchmark: {event.error or 'stopped'}")
            self._status(HINT, running=False)
            return
        self.bench_result = result = event.result
        self._bench_names = self.analysis.swapped_names if self.analysis else frozenset()
        self.remove_class("-bench-old")
        self._status(HINT, running=False)
        self.query_one("#model-bench", Static).update("\n".join(report.bench_lines(result)))
        self.add_class("-benched")

    # Export -------------------------------------------------------------------------------

    def export(self) -> Export | None:
        """Markdown, JSON and CSV of the analysis as selected, and the selection's plan file."""
        analysis = self.analysis
        if analysis is None:
            return None
        plan = json.dumps(plan_from_analysis(analysis), indent=2) + "\n"
        return Export(
            export_stem(analysis.source),
            report.to_markdown(analysis),
            report.to_json(analysis),
            extra=((".csv", report.to_csv(analysis)), ("-plan.json", plan)),
        )
