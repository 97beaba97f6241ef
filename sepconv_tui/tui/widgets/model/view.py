"""The Model tab: analyse a whole model, toggle swaps row by row, watch the totals move.

The tab's state is a ModelSession (tui/model_session.py); this view composes the widgets of
this package (form, progress, summary, table, charts), renders the session into them, and
forwards keys to it. PyTorch work runs in child processes (workers/model_server.py) through
ChildRunners: an analysis, a benchmark, per-layer timings, and fidelity, recovery or the
trade-off.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.suggester import SuggestionReady
from textual.widget import Widget
from textual.widgets import DataTable, Input

from ....core.latency import MIN_RUN_TIME_S
from ....errors import UserError
from ....model.analysis import ModelAnalysis
from ....model.bench import MODEL_MIN_RUN_TIME_S, ModelBenchResult
from ....model.layer_spec import LayerFitError, layer_spec
from ....model.plan import plan_from_analysis
from ....model.source import SOURCE_FORMS, ModelSourceError, parse_input_shape, parse_source
from ....report import fidelity as fidelity_report
from ....report import layer_bench as layer_bench_report
from ....report import model as report
from ....report.progress import bench_text, progress_text
from ....report.runtimes import runtime_label
from ....workers.model_messages import (
    AnalyseModel,
    LayersBenched,
    ListModels,
    MeasureFidelity,
    MeasureTradeoff,
    ModelAnalysed,
    ModelBenched,
    ModelNames,
    ModelRecovered,
    ModelWork,
    RecoverModel,
    TradeoffMeasured,
    Warmed,
    WarmUp,
)
from ....workers.wire import Reply
from ...export import Export
from ...model_process import (
    model_bench_process,
    model_layers_process,
    model_process,
    model_work_process,
)
from ...model_session import Key, Measured, ModelSession, SessionError
from ...runner import ChildRunner, RunsChildren
from ...tab_view import OpenLayer, TabViewDefaults, focus_now
from .charts import ModelCharts
from .form import ModelForm
from .progress import ModelProgress
from .suggester import ModelNameSuggester
from .summary import ModelSummary
from .table import ModelTable

#: Below this many columns the table drops its shape and channel columns, counts go short.
COMPACT_WIDTH = 150
#: Below this many columns it drops the separable params and MACs too (80×24).
NARROW_WIDTH = 100
#: Below this many rows the chart gives its room to the table.
CHART_MIN_HEIGHT = 34
#: The status line once an analysis is shown (cut at the right edge on narrow terminals).
HINT = (
    "space swap · a n s t · +/- m · m 1/2/auto · f fidelity · r/R recover · g pick · "
    "l per layer · u runtime · x latency axis · enter Layer tab · b time · e export"
)


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


class ModelView(RunsChildren, TabViewDefaults, Vertical):
    """A model's convs and linears, what swapping each one saves, and the selection's totals."""

    nothing_to_export = "Nothing to export yet: type a model source and press enter."

    BINDINGS = [
        Binding("f", "fidelity", "Fidelity"),
        Binding("r", "recover('reconstruct')", "Recover"),
        Binding("R", "recover('distill')", "Distill", show=False),
        Binding("g", "pick", "Pick ≥99%"),
        Binding("l", "layers", "Per layer", show=False),
        Binding("u", "cycle_runtime", "Runtime", show=False),
        Binding("x", "latency_axis", "Latency axis", show=False),
        Binding("m", "cycle_multiplier", "m", show=False),
        Binding("plus,equals_sign", "multiplier(1)", "m+1", show=False),
        Binding("minus", "multiplier(-1)", "m-1", show=False),
    ]

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
        analysis_process, work_process = model_process(), model_work_process()
        self._analysis: ChildRunner[ModelAnalysed] = ChildRunner(
            self, analysis_process, on_reply=self._analysed, on_error=self._failed
        )
        self._names: ChildRunner[ModelNames] = ChildRunner(
            self, analysis_process, on_reply=self._names_loaded, on_error=lambda error: None
        )  # no suggestions on an error: the analysis will say what is missing
        self._work: ChildRunner[Reply] = ChildRunner(
            self,
            work_process,
            on_reply=self._work_done,
            on_error=self._work_failed,
            on_progress=lambda line: self._progress(progress_text(line), line.done, line.total),
        )
        self._warm: ChildRunner[Warmed] = ChildRunner(
            self, work_process, on_reply=lambda reply: None, on_error=lambda error: None
        )  # a failure here is said by the first real request, which starts the child again
        self._bench: ChildRunner[ModelBenched] = ChildRunner(
            self,
            model_bench_process(),
            on_reply=self._benched,
            on_error=self._bench_failed,
            on_progress=lambda line: self._status(bench_text(line), running=True),
        )
        self._layers: ChildRunner[LayersBenched] = ChildRunner(
            self,
            model_layers_process(),
            on_reply=self._layers_done,
            on_error=self._layers_failed,
            on_progress=lambda line: self._progress(progress_text(line), line.done, line.total),
        )
        self._layers_of: Key = ()  # what the running per-layer timing is of
        self._asked: AnalyseModel | None = None  # the analysis request that runs
        self._work_of: Key = ()  # what the running fidelity, recovery or trade-off is of
        self._bench_of: Key = ()  # what the running benchmark times
        self._names_asked = False
        self._warmed = False
        self._pick_after_tradeoff = False
        self._recovered_root: Path | None = None
        self._recoveries = 0

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
        runners = (self._analysis, self._names, self._work, self._warm, self._bench, self._layers)
        for runner in runners:
            runner.close()
        if self._recovered_root is not None:
            shutil.rmtree(self._recovered_root, ignore_errors=True)

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

    @property
    def working(self) -> bool:
        """True while a fidelity, recovery or trade-off runs."""
        return self._work.running

    @property
    def timing_layers(self) -> bool:
        """True while ``l`` times the layers."""
        return self._layers.running

    @property
    def benchmarking(self) -> bool:
        """True while a whole-model benchmark runs."""
        return self._bench.running

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
        if not self._warmed and event.value.strip():
            self._warmed = True
            self._warm.start(WarmUp())

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
            parse_source(source)
            shape = parse_input_shape(shape_text) if shape_text else None
        except UserError as error:
            self._failed(error)
            return
        self.cancel()
        form.show_error(None)
        self._asked = AnalyseModel(source, shape, weights=form.weights or None)
        self._analysis.start(self._asked)
        self._status(f"Analysing {source}… (escape cancels)", running=True)
        self.query_one(ModelBody).loading = True

    def _analysed(self, reply: ModelAnalysed) -> None:
        """The analysis arrived: show it, the fields' weights and data remembered."""
        self.query_one(ModelBody).loading = False
        asked = self._asked
        assert asked is not None
        self._recall(asked.source)
        self.session.weights = asked.weights
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
            f"{report.format_shape(analysis.input_shape)}, the last good analysis.",
            running=False,
        )

    def cancel(self) -> bool:
        """Cancel a running analysis, benchmark, fidelity, recovery or trade-off (escape);
        False when none runs."""
        session = self.session
        if self._work.cancel():
            self._pick_after_tradeoff = False
            self._progress(None)
            kept = session.fidelity is not None or session.recovery is not None
            self._status("Cancelled; the last result is kept." if kept else "Cancelled.")
            return True
        if self._bench.cancel():
            self._status("Benchmark cancelled.")
            return True
        if self._layers.cancel():
            self._progress(None)
            said = "; the last timings are kept" if session.layers is not None else ""
            self._status(f"Layer timing cancelled{said}.")
            return True
        if not self._analysis.cancel():
            return False
        self.query_one(ModelBody).loading = False
        self._status("Cancelled; the last analysis is kept." if session.analysis else "Cancelled.")
        return True

    def _status(self, text: str, *, running: bool = False) -> None:
        """The line above the summary: progress, the stale mark, or the keys."""
        self.query_one(ModelProgress).status(text, running=running, stale=self.session.stale)

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
        self._status(HINT)
        self._fill_table()
        self._show_selection()

    def show_work(self, reply: Reply, of: Key | None = None) -> None:
        """Show a fidelity, recovery or trade-off (from the child, or recorded) as measured
        ``of`` that state (by default: the selection, m and data now on screen)."""
        self._sync_fields()
        self.session.record(reply, of)
        if isinstance(reply, ModelRecovered):
            self.notify("Recovered: e writes the recovered model beside the other exports.")
        if isinstance(reply, TradeoffMeasured) and self._pick_after_tradeoff:
            self._pick_after_tradeoff = False
            self._pick()
        self._fill_table()
        self._show_measured()

    @property
    def table_layout(self) -> tuple[bool, bool]:
        """(compact, narrow): which columns the table drops at the view's width."""
        return self.size.width < COMPACT_WIDTH, self.size.width < NARROW_WIDTH

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
        self.set_class(session.tradeoff is not None, "-tradeoff")
        self.query_one(ModelSummary).show_measured(session, tradeoff_in_words=short)
        if session.tradeoff is not None:
            self.query_one(ModelCharts).show_tradeoff(session, draw=not short)
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

    # Fidelity, recovery, trade-off: in the fidelity process ----------------------------------

    def _work_fields(self, *, swapped: bool) -> dict[str, Any] | None:
        """The fields of a fidelity process request, or None (having said what is missing)."""
        self._sync_fields()
        try:
            self.session.need_analysis("then f, r or g")
            if self.running:
                return None
            fields = self.session.work_fields(swapped=swapped, threads=self.work_threads)
        except SessionError as error:
            self.notify(error.message)
            return None
        except UserError as error:
            self.form.show_error(error, default="model-data")
            return None
        self.form.show_error(None)
        self.remember(fields["source"])
        return fields

    def action_fidelity(self) -> None:
        """``f``: the current selection against the original on the data's held-out part."""
        fields = self._work_fields(swapped=True)
        if fields is not None:
            self._start_work(MeasureFidelity(**fields), "Fidelity")

    def action_recover(self, mode: str) -> None:
        """``r`` / ``R``: reconstruct (or reconstruct and distill) the current selection."""
        fields = self._work_fields(swapped=True)
        if fields is None:
            return
        if self._recovered_root is None:
            self._recovered_root = Path(tempfile.mkdtemp(prefix="sepconv-tui-recovered-"))
        self._recoveries += 1
        # A folder per run: a cancelled one cannot spoil the last good one's files.
        out_dir = self._recovered_root / str(self._recoveries)
        request = RecoverModel(**fields, mode=mode, out_dir=str(out_dir))
        self._start_work(request, "Reconstructing" if mode == "reconstruct" else "Distilling")

    def action_pick(self) -> None:
        """``g``: swap the largest prefix of the trade-off whose agreement stays ≥ the budget
        (the trade-off is measured first when there is none of this model, m and data)."""
        self._sync_fields()
        if self.session.tradeoff is not None and not self.session.tradeoff_stale:
            self._pick()
            return
        fields = self._work_fields(swapped=False)
        if fields is not None:
            self._start_work(MeasureTradeoff(**fields), "Trade-off")
            self._pick_after_tradeoff = True

    def _pick(self) -> None:
        """Select the trade-off's largest prefix within the budget."""
        session = self.session
        assert session.analysis is not None and session.tradeoff is not None
        try:
            names = session.picked()
        except UserError as error:
            self.notify(error.message, severity="warning")
            return
        self.select(session.analysis.with_swaps(set(names)))
        tradeoff = session.tradeoff.value
        # Chosen on the validation split (a recording from before the splits: held out).
        where = "validation" if tradeoff.split is not None else "held-out"
        note = tradeoff.resolution_note(session.budget) if tradeoff.split is not None else None
        self.notify(
            f"g: {len(names)} of {len(tradeoff.order)} layers swapped, the most that keep "
            f"≥ {fidelity_report.format_share(session.budget)} {where} agreement"
            + (f". {note}" if note else "")
        )

    def _start_work(self, request: ModelWork, label: str) -> None:
        """Send ``request`` to the fidelity process (replacing one that runs)."""
        self._pick_after_tradeoff = False
        self._work_of = self.session.key_for(request.reply)  # type: ignore[attr-defined]
        self._work.start(request)  # type: ignore[arg-type]  # every ModelWork is a Request
        self._status(f"{label}: starting PyTorch… (escape cancels)", running=True)
        self._progress(f"{label}: starting PyTorch…")

    def _work_done(self, reply: Reply) -> None:
        """A fidelity, recovery or trade-off arrived: kept as of the state it was asked for."""
        self._progress(None)
        self._status(HINT)
        self.show_work(reply, self._work_of)
        if isinstance(reply, ModelRecovered) and reply.onnx_error:
            self.notify(f"No swapped.onnx: {reply.onnx_error}", severity="warning")

    def _work_failed(self, error: UserError) -> None:
        """Said under the field at fault (the data's, unless it names another)."""
        self._pick_after_tradeoff = False
        self._progress(None)
        self._status(HINT)
        self.form.show_error(error, default="model-data")
        self._show_measured()

    # Whole-model latency ----------------------------------------------------------------------

    def bench(self) -> bool:
        """Time the original model and the current selection (``b``) in a child process."""
        try:
            request = self.session.bench_request(self.bench_min_run_time)
        except SessionError as error:
            self.notify(error.message)
            return True
        if self.benchmarking or self.running:
            return True
        self.form.show_error(None)
        self._bench_of = self.session.bench_key()
        self._bench.start(request)
        self._status("Timing: starting PyTorch… (escape cancels)", running=True)
        return True

    @property
    def bench_result(self) -> ModelBenchResult | None:
        """The last whole-model benchmark shown (None before the first)."""
        return self.session.bench.value if self.session.bench is not None else None

    def _benched(self, reply: ModelBenched) -> None:
        """The timings, as of the selection they were asked for."""
        self.session.bench = Measured(reply.result, self._bench_of)
        self.remove_class("-bench-old")
        self._status(HINT)
        self.query_one(ModelSummary).show_bench(reply.result)
        self.add_class("-benched")

    def _bench_failed(self, error: UserError) -> None:
        """Said above the status line; the last timings stay."""
        self.form.show_error(f"Benchmark: {error.message}")
        self._status(HINT)

    # Per-layer latency ---------------------------------------------------------------------

    def action_layers(self) -> None:
        """``l``: time every candidate conv against its block, alone, on the session's runtime
        (in a child process; escape cancels)."""
        try:
            request = self.session.layers_request(self.layers_min_run_time)
        except SessionError as error:
            self.notify(error.message)
            return
        if self.running:
            return
        self.form.show_error(None)
        self._layers_of = self.session.layers_key()
        self._layers.start(request)
        label = f"Timing each layer on {runtime_label(request.runtime)}"
        self._status(f"{label}: starting PyTorch… (escape cancels)", running=True)
        self._progress(f"{label}: starting PyTorch…")

    def _layers_done(self, reply: LayersBenched) -> None:
        """The per-layer timings, as of the model, m and runtime they were asked for."""
        self._progress(None)
        self._status(HINT)
        self.show_layers(reply, self._layers_of)

    def show_layers(self, reply: LayersBenched, of: Key | None = None) -> None:
        """Show per-layer timings (from the child, or recorded) as measured ``of`` that state
        (by default: the model, m and runtime now on screen)."""
        self.session.record(reply, of)
        self._fill_table()
        self._show_measured()

    def _layers_failed(self, error: UserError) -> None:
        """Said above the status line (onnxruntime without the [deploy] extra names it); the
        last timings stay."""
        self._progress(None)
        self._status(HINT)
        self.form.show_error(f"Per-layer timing: {error.message}")

    def action_cycle_runtime(self) -> None:
        """``u``: the runtime ``l`` times on, eager → eager channels-last → ONNX Runtime."""
        if self.session.analysis is None:
            return
        runtime = self.session.cycled_runtime()
        self._show_measured()  # timings of another runtime are stale now
        self.notify(f"l times on {runtime_label(runtime)}")

    def action_latency_axis(self) -> None:
        """``x``: the trade-off chart against measured latency, or MACs again."""
        try:
            latency = self.session.toggled_latency_axis()
        except SessionError as error:
            self.notify(error.message, severity="warning")
            return
        self._show_measured()
        self.notify("Trade-off against measured latency" if latency else "Trade-off against MACs")

    # Export -----------------------------------------------------------------------------------

    def export(self) -> Export | None:
        """Markdown, JSON and CSV of the analysis as selected, and the selection's plan file;
        the fidelity measured, the per-layer timings, and the recovered model's folder
        (swapped.pt, swapped.onnx, plan.json, fidelity.json: what ``sepconv-tui fidelity
        --swapped`` reads)."""
        session = self.session
        analysis = session.analysis
        if analysis is None:
            return None
        plan = json.dumps(plan_from_analysis(analysis), indent=2) + "\n"
        extra = [(".csv", report.to_csv(analysis)), ("-plan.json", plan)]
        if session.fidelity is not None:
            extra.append(("-fidelity.json", fidelity_report.to_json(session.fidelity.value) + "\n"))
        if session.layers is not None:  # l's timings, as ``bench --per-layer --json`` writes them
            extra.append(("-layers.json", layer_bench_report.to_json(session.layers.value) + "\n"))
        folders = []
        recovery = session.recovery.value if session.recovery is not None else None
        if recovery is not None and recovery.out_dir is not None:
            folders.append(("-recovered", Path(recovery.out_dir)))
        return Export(
            export_stem(analysis.source),
            report.to_markdown(analysis),
            report.to_json(analysis),
            extra=tuple(extra),
            folders=tuple(folders),
        )
