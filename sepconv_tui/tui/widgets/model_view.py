"""The Model tab: analyse a whole model, toggle swaps row by row, watch the totals move.

The analysis runs in the model process (workers/model_server.py); toggles are arithmetic on the
returned ModelAnalysis (``with_swaps``/``select``) and every text comes from report/model.py.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.suggester import SuggestionReady
from textual.widget import Widget
from textual.widgets import DataTable, Input, Label, Static

from ...model.analysis import ModelAnalysis, Selection, SelectionError
from ...model.bench import MODEL_MIN_RUN_TIME_S, ModelBenchResult
from ...model.layer_spec import LayerFitError, layer_spec
from ...model.plan import plan_from_analysis
from ...model.source import SOURCE_FORMS, ModelSourceError, parse_input_shape, parse_source
from ...report import model as report
from ...workers.messages import (
    AnalyseModel,
    BenchModel,
    ListModels,
    ModelAnalysed,
    ModelBenched,
    Progress,
)
from ..child_process import Call, ChildError
from ..export import Export
from ..model_process import model_bench, model_process
from ..tab_view import OpenLayer, TabViewDefaults, focus_now
from .model_chart import ModelChart
from .model_suggester import ModelNameSuggester
from .model_table import ModelTable

#: Below this many columns the table drops its shape and channel columns, counts go short.
COMPACT_WIDTH = 150
#: Below this many columns it drops the separable params and MACs too (80×24).
NARROW_WIDTH = 100
#: Below this many rows the chart gives its room to the table.
CHART_MIN_HEIGHT = 34
#: The status line once an analysis is shown (cut at the right edge on narrow terminals).
HINT = "space swap · a all · n none · s saving · t top 10 · enter Layer tab · b time · e export"
#: The input each error field of the engine (UserError.field) belongs under. An error that
#: names none of them (a model's own code raising, the process stopping) is the source's.
FIELD_INPUTS = {
    "source": "model-source",
    "input_shape": "model-input-shape",
    "weights": "model-weights",
}


class ModelBody(Vertical):
    """Table and chart. Focusing it (F6, escape) focuses the table, or the source before any
    analysis, so the tab's keys work at once."""

    def focus(self, scroll_visible: bool = True) -> ModelBody:
        """Focus the table when it has rows, else the source field (at once: focus_now)."""
        table = self.query_one(ModelTable)
        target: Widget = table
        if not table.row_count:
            target = self.screen.query_one("#model-source", Input)
        focus_now(target)
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
        """``call`` ended: an analysis, or the error (neither when cancelled)."""

        call: Call[ModelAnalysed]
        analysis: ModelAnalysis | None
        error: ChildError | None = None

    @dataclass
    class BenchStage(Message):
        """``run`` reached a stage of the whole-model benchmark."""

        run: Call[ModelBenched]
        progress: Progress

    @dataclass
    class BenchFinished(Message):
        """``run`` ended: a result, or an error message (neither when it was cancelled)."""

        run: Call[ModelBenched]
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
        self._process = model_process()
        self._analysis_call: Call[ModelAnalysed] | None = None
        self._names_requested = False
        self.bench_result: ModelBenchResult | None = None
        self._weights: str | None = None  # the state_dict the shown analysis was made with
        self._bench_names: frozenset[str] = frozenset()  # the selection bench_result timed
        self._bench_run: Call[ModelBenched] | None = None
        #: Seconds each model is timed for at least (tests shorten it).
        self.bench_min_run_time = MODEL_MIN_RUN_TIME_S

    def compose(self) -> ComposeResult:
        """Source and input shape; error; status; summary; the table and the chart."""
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
            yield ModelChart(id="model-chart")

    def on_mount(self) -> None:
        """Size-dependent classes."""
        self._layout_classes()

    def on_unmount(self) -> None:
        """Quitting the app stops the model process (and a running benchmark) too."""
        if self._analysis_call is not None:
            self._analysis_call.cancelled = True
        if self._bench_run is not None:
            self._bench_run.cancel()
        self._process.close()

    # Requests -----------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """True while an analysis runs."""
        return self._analysis_call is not None

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
            reply = self._process.ask(ListModels())
        except ChildError:
            return  # no suggestions; the analysis will report what is missing
        self.post_message(self.NamesLoaded(reply.names))

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
            self._failed(error.field, str(error))
            return
        try:
            shape = parse_input_shape(shape_text) if shape_text else None
        except ModelSourceError as error:  # the text of that field, whatever field it names
            self._failed("input_shape", str(error))
            return
        self.cancel()
        self._field_error(None, None)
        request = AnalyseModel(source, shape, weights=weights)
        self._analysis_call = call = self._process.call(request)
        self._status(f"Analysing {source}… (escape cancels)", running=True)
        self.query_one(ModelBody).loading = True
        self._analyse(call)

    @work(thread=True, group="model-analysis")
    def _analyse(self, call: Call[ModelAnalysed]) -> None:
        """Run ``call`` in the model process; post its end."""
        try:
            reply = call.wait()
        except ChildError as error:
            self.post_message(self.Analysed(call, None, error))
            return
        self.post_message(self.Analysed(call, reply.analysis if reply is not None else None))

    @on(Analysed)
    def _analysed(self, event: Analysed) -> None:
        if event.call is not self._analysis_call:
            return  # a late answer to a replaced or cancelled request
        self._analysis_call = None
        self.query_one(ModelBody).loading = False
        if event.analysis is not None:
            request = event.call.request
            assert isinstance(request, AnalyseModel)  # the only request _analyse makes
            self._weights = request.weights
            self.show_analysis(event.analysis)
            # From the field just entered to the table, whose keys come next.
            if isinstance(self.app.focused, Input) and self.app.focused in self.query(Input):
                focus_now(self.query_one(ModelTable))
            return
        error = event.error
        self._failed(
            error.field if error else None, error.message if error else "the analysis stopped"
        )

    def cancel(self) -> bool:
        """Cancel a running analysis or benchmark (escape); False when none runs."""
        if self._bench_run is not None:
            self._bench_run.cancel()
            self._bench_run = None
            self._status("Benchmark cancelled.", running=False)
            return True
        call = self._analysis_call
        if call is None:
            return False
        self._analysis_call = None
        call.cancel()
        self.query_one(ModelBody).loading = False
        self._status(
            "Cancelled; the last analysis is kept." if self.analysis else "Cancelled.",
            running=False,
        )
        return True

    def _failed(self, field: str | None, message: str) -> None:
        """An error under the input ``field`` names; the last good analysis stays, marked stale."""
        self._field_error(FIELD_INPUTS.get(field or "", "model-source"), message)
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

    def _fill_table(self) -> None:
        """Build every row (on a new analysis or a new width)."""
        if self.analysis is not None:
            self.query_one(ModelTable).fill(self.analysis, self.table_layout)

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
        self.query_one(ModelChart).show(analysis)

    def on_resize(self) -> None:
        """Compact or full columns; the chart only where there is room for it."""
        self._layout_classes()
        if self.analysis is not None and self.table_layout != self.query_one(ModelTable).built_for:
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
        name = self.query_one(ModelTable).cursor_key
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
        self.query_one(ModelTable).show_selection(previous, analysis)
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
        run = model_bench(
            BenchModel(
                analysis.source,
                self._selection_text(analysis),
                analysis.input_shape,
                analysis.depth_multiplier,
                weights=self._weights,
                min_run_time=self.bench_min_run_time,
            )
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
    def _time_models(self, run: Call[ModelBenched]) -> None:
        """Run ``run`` in its process; post its stages and its end."""

        def on_progress(progress: Progress) -> None:
            self.post_message(self.BenchStage(run, progress))

        try:
            reply = run.wait(on_progress)
        except ChildError as error:
            self.post_message(self.BenchFinished(run, None, error.message))
            return
        self.post_message(self.BenchFinished(run, reply.result if reply is not None else None))

    @on(BenchStage)
    def _bench_stage(self, event: BenchStage) -> None:
        if event.run is self._bench_run:
            done, total, label = event.progress.done, event.progress.total, event.progress.label
            self._status(f"Timing {done + 1}/{total}: {label}… (escape cancels)", running=True)

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
