"""The Model tab: analyse a whole model, toggle swaps row by row, watch the totals move.

The tab's state is a ModelSession (tui/model_session.py); this view composes the widgets of
this package (form, progress, summary, table, charts), renders the session into them, and
forwards keys to it. PyTorch work runs in child processes (workers/model_server.py) through
ChildRunners: the analysis here; a benchmark, per-layer timings, and fidelity, recovery or
the trade-off in measure.py (MeasureActions, a mix-in of the view). ``e``'s files are built
in export.py.

Top to bottom: compose, the form, the analysis, showing the session, the selection, export.
"""

from __future__ import annotations

import os

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.suggester import SuggestionReady
from textual.widget import Widget
from textual.widgets import DataTable, Input

from ....core.latency import MIN_RUN_TIME_S
from ....errors import UserError
from ....model.describe.layer_spec import LayerFitError, layer_spec
from ....model.describe.source import (
    SOURCE_FORMS,
    ModelSourceError,
    parse_input_shape,
    parse_source,
)
from ....model.results.bench_result import MODEL_MIN_RUN_TIME_S
from ....model.swapping.job import ModelJob
from ....model.vocabulary.analysis import ModelAnalysis
from ....report.format import format_shape
from ....report.model_fidelity import curve_plot
from ....workers.model_messages import AnalyseModel, ListModels, ModelAnalysed, ModelNames
from ...export import Export
from ...keys import MODEL_VIEW_KEYS, bindings
from ...model_process import model_process
from ...model_session import ModelSession
from ...runner import ChildRunner, RunsChildren
from ...tab_view import OpenLayer, TabViewDefaults, focus_now
from .charts import ModelCharts
from .export import export_stem as export_stem  # the tests' name for it, from the view
from .export import model_export
from .form import ModelForm
from .measure import MeasureActions
from .progress import ModelProgress, hint
from .suggester import ModelNameSuggester
from .summary import ModelSummary
from .table import ModelTable

#: Below this many columns the table drops its shape and channel columns, counts go short.
COMPACT_WIDTH = 150
#: What ``l``'s columns (Speed-up, Bound, Efficiency) add to that: with them the full columns
#: need this many more, or Swap would leave the screen.
LAYERS_WIDTH = 30
#: Below this many columns it drops the separable params and MACs too (80×24).
NARROW_WIDTH = 100
#: Below this many rows the chart gives its room to the table.
CHART_MIN_HEIGHT = 34


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


class ModelView(RunsChildren, MeasureActions, TabViewDefaults, Vertical):
    """A model's convs and linears, what swapping each one saves, and the selection's totals."""

    nothing_to_export = "Nothing to export yet: type a model source and press enter."

    BINDINGS = bindings(MODEL_VIEW_KEYS)

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.session = ModelSession()
        self.suggester = ModelNameSuggester()
        #: Seconds each model is timed for at least (tests shorten it).
        self.bench_min_run_time = MODEL_MIN_RUN_TIME_S
        #: Seconds each conv and block is timed for at least by ``l`` (tests shorten it).
        self.layers_min_run_time = MIN_RUN_TIME_S
        #: torch's threads in the fidelity process (None: torch's default, one per core). One
        #: core is left to the app: on 2 shared cores, torch's two threads made a key typed
        #: during R wait up to 0.7 s and distilling take 70 s; with one, 0.1 s and 8 s.
        self.work_threads: int | None = max(1, (os.cpu_count() or 2) - 1)
        self.session.layer_threads = self.work_threads  # ``l`` times where f, r and g run
        analysis_process = model_process()
        self._analysis: ChildRunner[ModelAnalysed] = ChildRunner(
            self, analysis_process, on_reply=self._analysed, on_error=self._failed
        )
        self._names: ChildRunner[ModelNames] = ChildRunner(
            self, analysis_process, on_reply=self._names_loaded, on_error=lambda error: None
        )  # no suggestions on an error: the analysis will say what is missing
        self._init_measuring()  # f, r, g, b and l's runners (measure.py)
        self._asked: AnalyseModel | None = None  # the analysis request that runs
        self._names_asked = False

    def compose(self) -> ComposeResult:
        """Form; status and progress; summary; the table and the charts."""
        yield ModelForm(self.suggester, id="model-form")
        yield ModelProgress(
            f"Type a model source and press enter: {SOURCE_FORMS}.", id="model-progress-area"
        )
        yield ModelSummary(id="model-summary-area")
        with ModelBody(id="model-body"):
            yield ModelTable(id="model-table", cursor_type="row")
            yield ModelCharts(id="model-charts")

    def on_mount(self) -> None:
        """Size-dependent classes."""
        self._layout_classes()

    def on_unmount(self) -> None:
        """Quitting the app stops the model processes (and a running benchmark) too."""
        self._analysis.close()
        self._names.close()
        self._close_measuring()

    # What the session holds, as the view's readers knew it ---------------------------------

    @property
    def analysis(self) -> ModelAnalysis | None:
        """The analysis shown (None before the first)."""
        return self.session.analysis

    @property
    def stale(self) -> bool:
        """True when the last analysis failed and the one shown is of other inputs."""
        return self.session.stale

    @property
    def running(self) -> bool:
        """True while an analysis runs."""
        return self._analysis.running

    # The form -------------------------------------------------------------------------------

    @property
    def form(self) -> ModelForm:
        """The source, input shape, weights and data fields."""
        return self.query_one(ModelForm)

    @on(Input.Changed, "#model-source")
    def _source_changed(self, event: Input.Changed) -> None:
        """The first key in the source field fetches the model names (and warms PyTorch)."""
        event.stop()
        if not self._names_asked and event.value.strip():
            self._names_asked = True
            self._names.start(ListModels())

    def _names_loaded(self, reply: ModelNames) -> None:
        """Suggest from now on, starting with what is typed already."""
        self.suggester.names = reply.names
        source_input = self.query_one("#model-source", Input)
        suggestion = self.suggester.suggest(source_input.value)
        if suggestion is not None:
            source_input.post_message(SuggestionReady(source_input.value, suggestion))

    @on(Input.Changed, "#model-data")
    def _data_changed(self, event: Input.Changed) -> None:
        """The first key in the Data field has the fidelity process import torch meanwhile."""
        event.stop()
        if event.value.strip():
            self._warm_up()

    @on(Input.Submitted, "#model-source, #model-input-shape, #model-weights, #model-data")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.analyse()

    def remember(self, source: str) -> None:
        """Remember the weights and data fields as ``source``'s."""
        self.session.remember(source, self.form.weights, self.form.data)

    def _recall(self, source: str) -> None:
        """Another source than the last one: its weights and data as last entered come back,
        unless the user has typed new ones since; then remember what the fields hold."""
        form = self.form
        weights, data = self.session.recalled(source, form.weights, form.data)
        if (weights, data) != (form.weights, form.data):
            form.fill(weights, data)
        self.remember(source)

    # The analysis ---------------------------------------------------------------------------

    def analyse(self) -> None:
        """Analyse the typed source at the typed input shape (a newer request replaces one
        still running); bad text is reported in place without a round trip."""
        form = self.form
        source, shape_text = form.source, form.text("model-input-shape")
        try:
            if not source:
                raise ModelSourceError(f"type a model source: {SOURCE_FORMS}")
            parsed = parse_source(source)
            shape = parse_input_shape(shape_text) if shape_text else None
        except UserError as error:
            self._failed(error)
            return
        self.cancel()
        form.show_error(None)
        job = ModelJob(parsed, weights=form.weights or None, input_shape=shape)
        self._asked = AnalyseModel(job)
        self._analysis.start(self._asked)
        self._status(f"Analysing {source}… (escape cancels)", running=True)
        self.query_one(ModelBody).loading = True

    def _analysed(self, reply: ModelAnalysed) -> None:
        """The analysis arrived: show it, the fields' weights and data remembered."""
        self.query_one(ModelBody).loading = False
        asked = self._asked
        assert asked is not None
        self._recall(asked.job.label)
        self.session.weights = asked.job.weights
        self.show_analysis(reply.analysis)
        # From the field just entered to the table, whose keys come next.
        if isinstance(self.app.focused, Input) and self.app.focused in self.query(Input):
            focus_now(self.query_one(ModelTable))

    def _failed(self, error: UserError) -> None:
        """An error under the input its field names; the last good analysis stays, stale."""
        self.query_one(ModelBody).loading = False
        self.form.show_error(error)
        analysis = self.session.analysis
        if analysis is None:
            self._status("", running=False)
            return
        self.session.stale = True
        self.add_class("-stale")
        self._status(
            f"Stale: still showing {analysis.source} at "
            f"{format_shape(analysis.input_shape)}, the last good analysis.",
            running=False,
        )

    def cancel(self) -> bool:
        """Cancel a running analysis, benchmark, fidelity, recovery or trade-off (escape);
        False when none runs."""
        if self._cancel_measuring() or self._stop_browsing():
            return True
        if not self._analysis.cancel():
            return False
        self.query_one(ModelBody).loading = False
        said = "Cancelled; the last analysis is kept." if self.session.analysis else "Cancelled."
        self._status(said)
        return True

    def _status(self, text: str, *, running: bool = False) -> None:
        """The line above the summary: progress, the stale mark, or the keys."""
        self.query_one(ModelProgress).status(text, running=running, stale=self.session.stale)

    def _show_hint(self) -> None:
        """The status line's keys, led by where ``l`` times (the runtime · precision)."""
        self._status(hint(self.session.deployment))

    def _progress(self, label: str | None, done: int = 0, total: int | None = None) -> None:
        """The progress row: ``label`` and a bar of ``done`` of ``total`` (None hides it)."""
        self.set_class(label is not None, "-working")
        if label is not None:
            self.query_one(ModelProgress).bar(label, done, total)

    # Showing the session --------------------------------------------------------------------

    def show_analysis(self, analysis: ModelAnalysis) -> None:
        """Show ``analysis`` (from the model process, or recorded): summary, table, chart."""
        self.session.show_analysis(analysis)
        self.remove_class("-stale", "-benched")  # timings were for the previous analysis
        self.add_class("-analysed")
        self.form.show_error(None)
        source_input = self.query_one("#model-source", Input)
        if not source_input.value.strip():
            with self.prevent(Input.Changed):
                source_input.value = analysis.source
        shape = ",".join(str(size) for size in analysis.input_shape)
        self.query_one("#model-input-shape", Input).placeholder = shape
        self._show_hint()
        self._fill_table()
        self._show_selection()

    @property
    def table_layout(self) -> tuple[bool, bool]:
        """(compact, narrow): which columns the table drops at the view's width (and with
        ``l``'s columns shown)."""
        width = self.size.width
        compact = COMPACT_WIDTH + (LAYERS_WIDTH if self.session.layers is not None else 0)
        return width < compact, width < NARROW_WIDTH

    def _fill_table(self) -> None:
        """Build every row (on a new analysis, width or fidelity)."""
        session = self.session
        if session.analysis is not None:
            self._sync_fields()
            fidelity = session.fidelity.value if session.fidelity is not None else None
            layers = session.layers.value if session.layers is not None else None
            self.query_one(ModelTable).fill(
                session.analysis,
                self.table_layout,
                fidelity,
                session.fidelity_stale,
                layers,
                session.layers_stale,
            )

    def _show_selection(self) -> None:
        """Summary and chart of the current selection; the timings dimmed when of another."""
        analysis = self.session.analysis
        assert analysis is not None
        self.query_one(ModelSummary).show_selection(analysis)
        self.set_class(self.session.bench_stale, "-bench-old")
        self.query_one(ModelCharts).show_selection(analysis)
        self._show_measured()

    def _show_measured(self) -> None:
        """The fidelity lines, the trade-off, the table's measured columns (stale or not)."""
        session = self.session
        if session.analysis is None:
            return
        self._sync_fields()
        short = self.has_class("-short")
        charted = session.tradeoff is not None or session.frontier is not None
        self.set_class(charted, "-tradeoff")
        curve = curve_plot(session.recovery.value.curve) if session.recovery else None
        self.set_class(curve is not None and not charted, "-recovery")
        self.query_one(ModelSummary).show_measured(session, tradeoff_in_words=short)
        if session.frontier is not None:
            self.query_one(ModelCharts).show_frontier(session, draw=not short)
        elif session.tradeoff is not None:
            self.query_one(ModelCharts).show_tradeoff(session, draw=not short)
        elif curve is not None and not short:
            self.query_one(ModelCharts).show_recovery(curve, stale=session.recovery_stale)
        table = self.query_one(ModelTable)
        if table.built_measured:
            table.show_fidelity(session.analysis, session.fidelity_stale)
        table.show_layers(session.analysis, session.layers_stale)

    def _sync_fields(self) -> None:
        """The session's data and device as the form holds them now (results are kept with
        what they were measured of, so a changed field marks them stale)."""
        self.session.data = self.form.data
        self.session.device = self.form.device

    def on_resize(self) -> None:
        """Compact or full columns; the chart only where there is room for it."""
        self._layout_classes()
        if self.session.analysis is None:
            return
        if self.table_layout != self.query_one(ModelTable).built_for:
            self._fill_table()
        self._show_measured()  # the trade-off in words where the chart has no room

    def _layout_classes(self) -> None:
        self.set_class(self.size.height < CHART_MIN_HEIGHT, "-short")

    # The selection and each layer's m: arithmetic on the analysis, no child ------------------

    @on(ModelTable.SwapKey)
    def _swap_key(self, event: ModelTable.SwapKey) -> None:
        event.stop()
        if self.session.analysis is None:
            return
        if event.rule != "toggle":
            self.select_rule(event.rule)
            return
        try:
            self.select(self.session.toggled(self.query_one(ModelTable).cursor_key))
        except UserError as error:
            self.notify(error.message, severity="warning")

    def select_rule(self, rule: str) -> None:
        """Apply a selection rule ("all", "none", "saving", "top:10", names) to the analysis."""
        if self.session.analysis is None:
            return
        try:
            self.select(self.session.analysis.select(rule))
        except UserError as error:
            self.notify(error.message, severity="warning")

    def select(self, analysis: ModelAnalysis, changed: set[str] | None = None) -> None:
        """Show ``analysis``: the rows of the layers ``changed`` (whose m moved), the swap
        marks, the totals, summary and chart."""
        previous = self.session.analysis
        self.session.analysis = analysis
        table = self.query_one(ModelTable)
        for layer in analysis.layers:
            if changed and layer.name in changed:
                table.show_layer(layer)
        table.show_selection(previous, analysis)
        self._show_selection()

    def action_multiplier(self, step: int) -> None:
        """``+``/``-``: the cursor's layer one m up or down; its figures follow at once."""
        if self.session.analysis is None:
            return
        name = self.query_one(ModelTable).cursor_key
        try:
            self.select(self.session.stepped(name, step), {name} if name else None)
        except UserError as error:
            self.notify(error.message, severity="warning")

    def action_cycle_multiplier(self) -> None:
        """``m``: every swapped layer (every candidate when none is) at 1, then 2, then auto:0.9."""
        if self.session.analysis is None:
            return
        try:
            analysis, names, choice = self.session.cycled()
        except UserError as error:
            self.form.show_error(error, default="model-weights")
            return
        self.form.show_error(None)
        self.select(analysis, names)
        said = f"auto:{choice:g} (each layer's smallest m keeping {choice:.0%} of ‖W‖²)"
        self.notify(f"Depth multiplier {choice if isinstance(choice, int) else said}")

    @on(DataTable.RowSelected, "#model-table")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        """Enter on a conv: open it in the Layer tab, or say why it does not fit there."""
        event.stop()
        analysis, layer = self.session.analysis, self.session.layer(event.row_key.value)
        if analysis is None or layer is None:
            self.notify("Only a layer's row opens in the Layer tab.", severity="warning")
            return
        try:
            spec = layer_spec(layer, layer.depth_multiplier)
        except LayerFitError as error:
            self.notify(f"Not opened in the Layer tab: {error}.", severity="warning")
            return
        self.post_message(OpenLayer(spec, f"{analysis.source} {layer.name}"))

    # Measuring (measure.py) and exporting (export.py) ------------------------------------------

    def export(self) -> Export | None:
        """The analysis as selected and what was measured of it, as files (``e``; export.py)."""
        return model_export(self.session)
