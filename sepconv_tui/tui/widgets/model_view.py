"""The Model tab: analyse a whole model, toggle swaps row by row, watch the totals move.

The analysis runs in the model process (workers/model_server.py); toggles are arithmetic on the
returned ModelAnalysis (``with_swaps``/``select``) and every text comes from report/model.py.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.suggester import SuggestionReady
from textual.widget import Widget
from textual.widgets import DataTable, Input, Label, ProgressBar, Static

from ...errors import UserError
from ...model.analysis import ModelAnalysis, Selection, SelectionError
from ...model.bench import MODEL_MIN_RUN_TIME_S, ModelBenchResult
from ...model.data import parse_data
from ...model.fidelity import Fidelity
from ...model.layer_spec import LayerFitError, layer_spec
from ...model.plan import plan_from_analysis
from ...model.source import SOURCE_FORMS, ModelSourceError, parse_input_shape, parse_source
from ...model.tradeoff import Tradeoff
from ...report import fidelity as fidelity_report
from ...report import model as report
from ...report import model_fidelity
from ...workers.messages import (
    AnalyseModel,
    BenchModel,
    FidelityMeasured,
    ListModels,
    MeasureFidelity,
    MeasureTradeoff,
    ModelAnalysed,
    ModelBenched,
    ModelRecovered,
    ModelWork,
    Progress,
    RecoverModel,
    Reply,
    TradeoffMeasured,
    WarmUp,
)
from ..child_process import Call, ChildError
from ..export import Export
from ..model_process import model_bench, model_process, model_work_process
from ..tab_view import OpenLayer, TabViewDefaults, focus_now
from .model_chart import ModelChart
from .model_suggester import ModelNameSuggester
from .model_table import ModelTable
from .tradeoff_chart import TradeoffChart

#: Below this many columns the table drops its shape and channel columns, counts go short.
COMPACT_WIDTH = 150
#: Below this many columns it drops the separable params and MACs too (80×24).
NARROW_WIDTH = 100
#: Below this many rows the chart gives its room to the table.
CHART_MIN_HEIGHT = 34
#: The status line once an analysis is shown (cut at the right edge on narrow terminals).
HINT = (
    "space swap · a n s t · +/- m · m 1/2/auto · f fidelity · r/R recover · g pick · "
    "enter Layer tab · b time · e export"
)
#: The input each error field of the engine (UserError.field) belongs under. An error that
#: names none of them (a model's own code raising, the process stopping) is the source's.
FIELD_INPUTS = {
    "source": "model-source",
    "input_shape": "model-input-shape",
    "weights": "model-weights",
    "data": "model-data",
    "calibration": "model-data",
    "holdout": "model-data",
    "depth_multiplier": "model-weights",  # auto:E needs the weights: the fix goes there
}
INPUTS = ("model-source", "model-input-shape", "model-weights", "model-data")
#: What ``m`` cycles the selection through.
MULTIPLIER_CYCLE: tuple[int | float, ...] = (1, 2, 0.9)  # a float: auto:E
#: The agreement ``g`` keeps by default.
DEFAULT_BUDGET = 0.99
#: What each stage of the child's Progress is called on screen.
STAGE_LABELS = {
    "measure": "Measuring",
    "reconstruct": "Reconstructing",
    "distill": "Distilling",
    "rank": "Ranking each layer alone",
    "curve": "Measuring the curve",
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

    BINDINGS = [
        Binding("f", "fidelity", "Fidelity"),
        Binding("r", "recover('reconstruct')", "Recover"),
        Binding("R", "recover('distill')", "Distill", show=False),
        Binding("g", "pick", "Pick ≥99%"),
        Binding("m", "cycle_multiplier", "m", show=False),
        Binding("plus,equals_sign", "multiplier(1)", "m+1", show=False),
        Binding("minus", "multiplier(-1)", "m-1", show=False),
    ]

    @dataclass
    class WorkStage(Message):
        """``call`` (fidelity, recovery or trade-off) reached ``progress``."""

        call: Call[Any]
        progress: Progress

    @dataclass
    class WorkFinished(Message):
        """``call`` ended: its reply, or the error (neither when cancelled)."""

        call: Call[Any]
        reply: Reply | None
        error: ChildError | None = None

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
        self._work_process = model_work_process()
        self._work_call: Call[Any] | None = None
        self._warmed = False
        #: The last fidelity measured, recovery run and trade-off measured, each with the
        #: state (``_work_key``) it was for: when that changes, it shows as stale.
        self.fidelity: Fidelity | None = None
        self._fidelity_key: tuple[Any, ...] | None = None
        self.recovery: ModelRecovered | None = None
        self._recovery_key: tuple[Any, ...] | None = None
        self.tradeoff: Tradeoff | None = None
        self._tradeoff_key: tuple[Any, ...] | None = None
        self._pick_after_tradeoff = False
        #: The agreement ``g`` keeps.
        self.budget = DEFAULT_BUDGET
        #: torch's threads in the fidelity process (None: torch's default, one per core). One
        #: core is left to the app: on 2 shared cores, torch's two threads made a key typed
        #: during R wait up to 0.7 s and distilling take 70 s; with one, 0.1 s and 8 s.
        self.work_threads: int | None = max(1, (os.cpu_count() or 2) - 1)
        #: Each source's weights and data as last entered, so they come back with the source.
        self.remembered: dict[str, tuple[str, str]] = {}
        self._recovered_root: Path | None = None
        self._recoveries = 0
        self._work_state: tuple[Any, ...] | None = None  # what the running request is of

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
        with Horizontal(id="model-controls-data"):
            yield Label("Weights", classes="control-label")
            yield Input(placeholder="none (a .pt)", id="model-weights", compact=True)
            yield Label("Data", classes="control-label")
            yield Input(placeholder="dir/, x.pt or synthetic:N", id="model-data", compact=True)
        # Messages quote what was typed (a path with "[" in it): shown as text, not markup.
        yield Static(id="model-error", classes="view-error", markup=False)
        yield Static(f"Type a model source and press enter: {SOURCE_FORMS}.", id="model-status")
        with Horizontal(id="model-progress"):
            yield Label(id="model-progress-label")
            yield ProgressBar(id="model-progress-bar", show_eta=False)
        yield Static(id="model-summary")
        yield Static(id="model-fidelity")
        yield Static(id="model-bench")
        with ModelBody(id="model-body"):
            yield ModelTable(id="model-table", cursor_type="row")
            with Horizontal(id="model-charts"):
                yield ModelChart(id="model-chart")
                yield TradeoffChart(id="model-tradeoff")

    def on_mount(self) -> None:
        """Size-dependent classes."""
        self._layout_classes()

    def on_unmount(self) -> None:
        """Quitting the app stops the model process (and a running benchmark) too."""
        if self._analysis_call is not None:
            self._analysis_call.cancelled = True
        if self._bench_run is not None:
            self._bench_run.cancel()
        if self._work_call is not None:
            self._work_call.cancelled = True
        self._process.close()
        self._work_process.close()
        if self._recovered_root is not None:
            shutil.rmtree(self._recovered_root, ignore_errors=True)

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

    @on(Input.Changed, "#model-data")
    def _data_changed(self, event: Input.Changed) -> None:
        """The first key in the Data field starts the fidelity process (torch imports there)."""
        event.stop()
        if not self._warmed and event.value.strip():
            self._warmed = True
            self._warm_up()

    @work(thread=True, group="model-warm")
    def _warm_up(self) -> None:
        """Have the fidelity process import torch while the user types the data."""
        with suppress(ChildError):  # the first real request starts it again and says why
            self._work_process.ask(WarmUp())

    @on(Input.Submitted, "#model-source, #model-input-shape, #model-weights, #model-data")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.analyse()

    def _field_error(self, field_id: str | None, message: str | None) -> None:
        """Show ``message`` under the inputs (None clears it) and mark the field at fault."""
        for input_id in INPUTS:
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
            self._recall(request.source)
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

    def _recall(self, source: str) -> None:
        """Another source than the last one: its weights and data as last entered come back,
        unless the user has typed new ones since; then remember what the fields hold."""
        previous = self.analysis.source if self.analysis is not None else None
        weights = self.query_one("#model-weights", Input)
        data = self.query_one("#model-data", Input)
        if previous is not None and previous != source and source in self.remembered:
            untouched = self.remembered.get(previous, ("", ""))
            if (weights.value.strip(), data.value.strip()) == untouched:
                weights.value, data.value = self.remembered[source]
        self.remember(source)

    def remember(self, source: str) -> None:
        """Remember the weights and data fields as ``source``'s."""
        self.remembered[source] = (
            self.query_one("#model-weights", Input).value.strip(),
            self.query_one("#model-data", Input).value.strip(),
        )

    def cancel(self) -> bool:
        """Cancel a running analysis, benchmark, fidelity, recovery or trade-off (escape);
        False when none runs."""
        if self._work_call is not None:
            work_call, self._work_call = self._work_call, None
            work_call.cancel()
            self._pick_after_tradeoff = False
            self._progress(None)
            kept = " the last result is kept" if self.fidelity or self.recovery else ""
            self._status(f"Cancelled;{kept}." if kept else "Cancelled.", running=False)
            return True
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
        """Show ``analysis`` (from the model process, or recorded): summary, table, chart.

        Fidelity, recovery and trade-off of another model (or weights) are dropped; of the
        same one they stay, marked stale when the selection differs.
        """
        previous = self.analysis
        if previous is None or (previous.source, previous.input_shape) != (
            analysis.source,
            analysis.input_shape,
        ):
            self.fidelity = self.recovery = self.tradeoff = None
            self._fidelity_key = self._recovery_key = self._tradeoff_key = None
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
        """Build every row (on a new analysis, width or fidelity)."""
        if self.analysis is not None:
            self.query_one(ModelTable).fill(
                self.analysis, self.table_layout, self.fidelity, self.fidelity_stale
            )

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
        self._show_fidelity()

    def on_resize(self) -> None:
        """Compact or full columns; the chart only where there is room for it."""
        self._layout_classes()
        if self.analysis is not None and self.table_layout != self.query_one(ModelTable).built_for:
            self._fill_table()
        if self.analysis is not None:
            self._show_fidelity()  # the trade-off in words where the chart has no room

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

    # Depth multipliers: arithmetic on the analysis, no child ---------------------------------

    def action_multiplier(self, step: int) -> None:
        """``+``/``-``: the cursor's layer one m up or down; its figures follow at once."""
        analysis = self.analysis
        if analysis is None:
            return
        name = self.query_one(ModelTable).cursor_key
        layer = next((layer for layer in analysis.layers if layer.name == name), None)
        if layer is None or not layer.candidate:
            self.notify("+ and - change a swap candidate's depth multiplier.", severity="warning")
            return
        try:
            changed = analysis.with_depth_multipliers({layer.name: layer.depth_multiplier + step})
        except UserError as error:
            self.notify(str(error), severity="warning")
            return
        self.set_multipliers(changed, {layer.name})

    def action_cycle_multiplier(self) -> None:
        """``m``: every swapped layer (every candidate when none is) at 1, then 2, then auto:0.9."""
        analysis = self.analysis
        if analysis is None:
            return
        names = set(analysis.swapped_names or {layer.name for layer in analysis.candidates})
        shared = {analysis.multipliers[name] for name in names}
        current = self._cycle_position(analysis, names, shared)
        choice = MULTIPLIER_CYCLE[(current + 1) % len(MULTIPLIER_CYCLE)]
        try:
            if isinstance(choice, float):
                chosen = analysis.auto_multipliers(choice)
                multipliers = {name: chosen[name] for name in names}
            else:
                multipliers = dict.fromkeys(names, choice)
            changed = analysis.with_depth_multipliers(multipliers)
        except UserError as error:
            self._field_error(FIELD_INPUTS.get(error.field or "", "model-weights"), str(error))
            return
        self._field_error(None, None)
        self.set_multipliers(changed, set(names))
        said = f"auto:{choice:g} (each layer's smallest m keeping {choice:.0%} of ‖W‖²)"
        self.notify(f"Depth multiplier {choice if isinstance(choice, int) else said}")

    def _cycle_position(self, analysis: ModelAnalysis, names: set[str], shared: set[int]) -> int:
        """Where the layers ``names`` stand in MULTIPLIER_CYCLE (-1: at none of its steps)."""
        for index, choice in enumerate(MULTIPLIER_CYCLE):
            if isinstance(choice, int) and shared == {choice}:
                return index
            if isinstance(choice, float):
                try:
                    auto = analysis.auto_multipliers(choice)
                except UserError:
                    continue
                if all(auto[name] == analysis.multipliers[name] for name in names):
                    # auto:0.9 can give m = 1 everywhere: then the next step is 2, as after 1
                    return index if shared != {1} else 0
        return -1

    def set_multipliers(self, analysis: ModelAnalysis, names: set[str]) -> None:
        """Show ``analysis``, whose layers ``names`` have a new m: their rows, totals, summary."""
        previous = self.analysis
        self.analysis = analysis
        table = self.query_one(ModelTable)
        for layer in analysis.layers:
            if layer.name in names:
                table.show_layer(layer)
        table.show_selection(previous, analysis)
        self._show_selection()

    # Fidelity, recovery, trade-off: in the fidelity process -----------------------------------

    @property
    def working(self) -> bool:
        """True while a fidelity, recovery or trade-off runs."""
        return self._work_call is not None

    def _data_text(self) -> str:
        """The Data field's text."""
        return self.query_one("#model-data", Input).value.strip()

    def _fidelity_state(self) -> tuple[Any, ...] | None:
        """What a fidelity is of: model, weights, data, and each swapped layer with its m."""
        analysis = self.analysis
        if analysis is None:
            return None
        multipliers = analysis.multipliers
        swapped = tuple((name, multipliers[name]) for name in sorted(analysis.swapped_names))
        return (analysis.source, self._weights, self._data_text(), analysis.input_shape, swapped)

    def _tradeoff_state(self) -> tuple[Any, ...] | None:
        """What a trade-off is of: model, weights, data, and every candidate's m."""
        analysis = self.analysis
        if analysis is None:
            return None
        multipliers = tuple(sorted(analysis.multipliers.items()))
        data = self._data_text()
        return (analysis.source, self._weights, data, analysis.input_shape, multipliers)

    @property
    def fidelity_stale(self) -> bool:
        """True when the fidelity shown is of another selection, m, data or model."""
        return self.fidelity is not None and self._fidelity_key != self._fidelity_state()

    @property
    def recovery_stale(self) -> bool:
        """True when the recovery shown is of another selection, m, data or model."""
        return self.recovery is not None and self._recovery_key != self._fidelity_state()

    @property
    def tradeoff_stale(self) -> bool:
        """True when the trade-off shown is of other m, data or model."""
        return self.tradeoff is not None and self._tradeoff_key != self._tradeoff_state()

    def _work_fields(self, *, swapped: bool) -> dict[str, Any] | None:
        """The fields of a fidelity process request, or None (having said what is missing)."""
        analysis = self.analysis
        if analysis is None or self.stale:
            self.notify("Analyse a model first (type its source, press enter), then f, r or g.")
            return None
        if self.running:
            return None
        data = self._data_text()
        try:
            parse_data(data)
        except UserError as error:
            self._field_error("model-data", str(error))
            return None
        if swapped and not analysis.swapped_names:
            self.notify("Nothing is swapped: space, a, s, t or g swaps layers first.")
            return None
        self._field_error(None, None)
        self.remember(analysis.source)
        return {
            "source": analysis.source,
            "data": data,
            "weights": self._weights,
            "input_shape": analysis.input_shape,
            "swap": tuple(sorted(analysis.swapped_names)),
            "multipliers": analysis.multipliers,
            "threads": self.work_threads,
        }

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
        if self.tradeoff is not None and not self.tradeoff_stale:
            self._pick()
            return
        fields = self._work_fields(swapped=False)
        if fields is None:
            return
        self._start_work(MeasureTradeoff(**fields), "Trade-off")
        self._pick_after_tradeoff = True

    def _pick(self) -> None:
        """Select the trade-off's largest prefix within the budget."""
        analysis, tradeoff = self.analysis, self.tradeoff
        assert analysis is not None and tradeoff is not None
        try:
            names = tradeoff.largest_prefix(self.budget)
        except UserError as error:
            self.notify(str(error), severity="warning")
            return
        self.select(analysis.with_swaps(set(names)))
        self.notify(
            f"g: {len(names)} of {len(tradeoff.order)} layers swapped, the most that keep "
            f"≥ {fidelity_report.format_share(self.budget)} held-out agreement"
        )

    def _start_work(self, request: ModelWork, label: str) -> None:
        """Send ``request`` to the fidelity process (replacing one that runs)."""
        if self._work_call is not None:
            self._work_call.cancel()
        self._pick_after_tradeoff = False
        call: Call[Any] = self._work_process.call(request)  # type: ignore[arg-type]
        self._work_call = call
        tradeoff = isinstance(request, MeasureTradeoff)
        self._work_state = self._tradeoff_state() if tradeoff else self._fidelity_state()
        self._status(f"{label}: starting PyTorch… (escape cancels)", running=True)
        self._progress(f"{label}: starting PyTorch…")
        self._run_work(call)

    @work(thread=True, group="model-work")
    def _run_work(self, call: Call[Any]) -> None:
        """Run ``call`` in the fidelity process; post its progress and its end."""

        def on_progress(progress: Progress) -> None:
            self.post_message(self.WorkStage(call, progress))

        try:
            reply = call.wait(on_progress)
        except ChildError as error:
            self.post_message(self.WorkFinished(call, None, error))
            return
        self.post_message(self.WorkFinished(call, reply))

    def _progress(self, label: str | None, done: int = 0, total: int | None = None) -> None:
        """The progress row: ``label`` and a bar of ``done`` of ``total`` (None hides it)."""
        self.set_class(label is not None, "-working")
        if label is None:
            return
        # A fixed width (app.tcss) and no layout: a relayout of the screen on every step
        # would hold a key typed meanwhile for tens of ms.
        self.query_one("#model-progress-label", Label).update(label, layout=False)
        self.query_one("#model-progress-bar", ProgressBar).update(total=total, progress=done)

    @on(WorkStage)
    def _work_stage(self, event: WorkStage) -> None:
        if event.call is not self._work_call:
            return  # a late line from a replaced or cancelled request
        progress = event.progress
        stage = STAGE_LABELS.get(progress.stage, progress.stage)
        count = f"{progress.done}/{progress.total}"
        if progress.stage == "measure":
            text = f"{stage} {progress.label}: {count} samples"
        elif progress.stage == "distill":
            text = f"{stage}: step {count} ({progress.label})"
        else:
            text = f"{stage}: {progress.label} ({count} layers)"
        self._progress(text, progress.done, progress.total)

    @on(WorkFinished)
    def _work_finished(self, event: WorkFinished) -> None:
        if event.call is not self._work_call:
            return
        self._work_call = None
        self._progress(None)
        self._status(HINT, running=False)
        reply, state = event.reply, self._work_state
        if event.error is not None:
            field = FIELD_INPUTS.get(event.error.field or "", "model-data")
            self._field_error(field, event.error.message)
            self._show_fidelity()
            return
        if reply is not None:
            self.show_work(reply, state)

    def show_work(self, reply: Reply, state: tuple[Any, ...] | None = None) -> None:
        """Show a fidelity, recovery or trade-off (from the fidelity process, or recorded) as
        being of ``state`` (by default: the selection, m and data now on screen)."""
        if isinstance(reply, FidelityMeasured):
            self.fidelity, self._fidelity_key = reply.fidelity, state or self._fidelity_state()
        elif isinstance(reply, ModelRecovered):
            state = state or self._fidelity_state()
            self.recovery, self._recovery_key = reply, state
            self.fidelity, self._fidelity_key = reply.stages[-1], state
            self.notify("Recovered: e writes the recovered model beside the other exports.")
        elif isinstance(reply, TradeoffMeasured):
            self.tradeoff = reply.tradeoff
            self._tradeoff_key = state or self._tradeoff_state()
            if self._pick_after_tradeoff:
                self._pick_after_tradeoff = False
                self._pick()
        self._fill_table()
        self._show_fidelity()

    def _show_fidelity(self) -> None:
        """The fidelity lines under the summary, the table's stale marks, the trade-off."""
        analysis = self.analysis
        if analysis is None:
            return
        lines: list[Text] = []
        stale_note = "  (stale: f, r measure this selection)"
        recovery, fidelity = self.recovery, self.fidelity
        from_recovery = recovery is not None and fidelity is recovery.stages[-1]
        if fidelity is not None and not from_recovery:
            stale = self.fidelity_stale
            line = model_fidelity.fidelity_line(fidelity, len(fidelity.layers))
            lines.append(Text(line + (stale_note if stale else ""), style="dim" if stale else ""))
        if recovery is not None:
            stale = self.recovery_stale
            line = model_fidelity.stages_line(recovery.stages)
            lines.append(Text(line + (stale_note if stale else ""), style="dim" if stale else ""))
        tradeoff = self.tradeoff
        chart = self.query_one(TradeoffChart)
        self.set_class(tradeoff is not None, "-tradeoff")
        if tradeoff is not None:
            stale = self.tradeoff_stale
            if self.has_class("-short"):  # no room for the chart: the curve in words
                line = model_fidelity.tradeoff_line(tradeoff, self.budget)
                lines.append(Text(line, style="dim" if stale else ""))
            else:
                chart.show(tradeoff, analysis.swapped.macs, self.budget)
            chart.set_class(stale, "-stale")
        shown = self.query_one("#model-fidelity", Static)
        shown.update(Text("\n").join(lines))
        shown.display = bool(lines)
        table = self.query_one(ModelTable)
        if table.built_measured:
            table.show_fidelity(analysis, self.fidelity_stale)

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
            spec = layer_spec(layer, layer.depth_multiplier)
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
                multipliers=analysis.multipliers,
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
        """Markdown, JSON and CSV of the analysis as selected, and the selection's plan file;
        the fidelity measured, and the recovered model's folder (swapped.pt, plan.json,
        fidelity.json: what ``sepconv-tui fidelity --swapped`` reads)."""
        analysis = self.analysis
        if analysis is None:
            return None
        plan = json.dumps(plan_from_analysis(analysis), indent=2) + "\n"
        extra = [(".csv", report.to_csv(analysis)), ("-plan.json", plan)]
        if self.fidelity is not None:
            extra.append(("-fidelity.json", fidelity_report.to_json(self.fidelity) + "\n"))
        folders = []
        if self.recovery is not None and self.recovery.out_dir is not None:
            folders.append(("-recovered", Path(self.recovery.out_dir)))
        return Export(
            export_stem(analysis.source),
            report.to_markdown(analysis),
            report.to_json(analysis),
            extra=tuple(extra),
            folders=tuple(folders),
        )
