"""The Model tab's measuring keys, each in a child process: fidelity (``f``), recovery
(``r``/``R``), the sensitivity and its frontier (``g``, then ←/→ along it and enter to apply
a point), the whole model in every runtime × precision cell (``b``), per-layer latency with
its roofline bound (``l``) on the runtime (``u``) at the precision (``p``), and the
trade-off's latency axis (``x``).

MeasureActions is a mix-in of ModelView: the keys' actions, the replies and failures of
their ChildRunners, and the start, cancel and close of those runners.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual.widgets import Input

from ....errors import UserError
from ....ipc.wire import Reply
from ....model.results.bench_result import ModelBenchResult
from ....model.vocabulary.analysis import ModelAnalysis
from ....model.vocabulary.runtimes import runtime_label
from ....progress import Progress
from ....report import fidelity as fidelity_report
from ....report import sensitivity as sensitivity_report
from ....report.progress import progress_text
from ....workers.model_messages import (
    FrontierMeasured,
    LayersBenched,
    MeasureFidelity,
    MeasureFrontier,
    ModelBenched,
    ModelRecovered,
    ModelWork,
    RecoverModel,
    Warmed,
    WarmUp,
)
from ...model_process import model_bench_process, model_layers_process, model_work_process
from ...model_session import Key, Measured, ModelSession, SessionError
from ...runner import ChildRunner
from .charts import ModelCharts
from .form import ModelForm
from .summary import ModelSummary

if TYPE_CHECKING:
    from textual.widget import Widget

    _Base = Widget
else:
    _Base = object


#: What ``b`` does, in its status line.
BENCH_LABEL = "Timing the model and its swap in every runtime × precision"


class MeasureActions(_Base):
    """Mix-in of ModelView: the keys that measure the analysis shown, in child processes."""

    if TYPE_CHECKING:  # what ModelView provides
        session: ModelSession
        work_threads: int | None
        bench_min_run_time: float
        layers_min_run_time: float

        @property
        def form(self) -> ModelForm: ...
        @property
        def running(self) -> bool: ...
        def remember(self, source: str) -> None: ...
        def select(self, analysis: ModelAnalysis, changed: set[str] | None = None) -> None: ...
        def _status(self, text: str, *, running: bool = False) -> None: ...
        def _progress(self, label: str | None, done: int = 0, total: int | None = None) -> None: ...
        def _fill_table(self) -> None: ...
        def _show_measured(self) -> None: ...
        def _sync_fields(self) -> None: ...
        def _show_hint(self) -> None: ...

    def _init_measuring(self) -> None:
        """The runners of the fidelity process, the benchmark and the per-layer timing."""
        work_process = model_work_process()
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
            on_progress=self._bench_progress,
        )
        self._layers: ChildRunner[LayersBenched] = ChildRunner(
            self,
            model_layers_process(),
            on_reply=self._layers_done,
            on_error=self._layers_failed,
            on_progress=lambda line: self._progress(progress_text(line), line.done, line.total),
        )
        self._layers_of: Key = ()  # what the running per-layer timing is of
        self._work_of: Key = ()  # what the running fidelity, recovery or trade-off is of
        self._bench_of: Key = ()  # what the running benchmark times
        self._warmed = False
        self._recovered_root: Path | None = None
        self._recoveries = 0

    def _warm_up(self) -> None:
        """Have the fidelity process import torch meanwhile (once)."""
        if not self._warmed:
            self._warmed = True
            self._warm.start(WarmUp())

    def _cancel_measuring(self) -> bool:
        """Cancel a running fidelity, recovery, trade-off, benchmark or per-layer timing;
        False when none runs."""
        session = self.session
        if self._work.cancel():
            self._progress(None)
            kept = session.fidelity is not None or session.recovery is not None
            self._status("Cancelled; the last result is kept." if kept else "Cancelled.")
            return True
        if self._bench.cancel():
            self._progress(None)
            said = "; the last matrix is kept" if session.bench is not None else ""
            self._status(f"Benchmark cancelled{said}.")
            return True
        if self._layers.cancel():
            self._progress(None)
            said = "; the last timings are kept" if session.layers is not None else ""
            self._status(f"Layer timing cancelled{said}.")
            return True
        return False

    def _close_measuring(self) -> None:
        """Stop the measuring processes; remove the recovered models' folders."""
        for runner in (self._work, self._warm, self._bench, self._layers):
            runner.close()
        if self._recovered_root is not None:
            shutil.rmtree(self._recovered_root, ignore_errors=True)

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
        self.remember(fields["job"].label)
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
        """``g``: the sensitivity and its frontier (measured in the child, or reused), drawn;
        ←/→ move along it, enter applies a point's per-layer m to the rows. A recorded
        trade-off (no frontier) keeps its pick: the largest prefix within the budget."""
        self._sync_fields()
        session = self.session
        if session.frontier is not None and not session.frontier_stale:
            session.browse_frontier()
            self._show_frontier()
            return
        if session.tradeoff is not None and not session.tradeoff_stale:
            self._pick()
            return
        fields = self._work_fields(swapped=False)
        if fields is not None:
            request = MeasureFrontier(**fields, budget=session.budget)
            self._start_work(request, "Sensitivity and frontier")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """←/→ and enter act on the frontier only while it is browsed from the table (in a
        field they keep their own meaning)."""
        if action in ("frontier_step", "frontier_apply"):
            in_field = isinstance(self.screen.focused, Input)
            return self.session.frontier_at is not None and not in_field
        return True

    def action_frontier_step(self, step: int) -> None:
        """←/→: the next point along the frontier (less or more saved)."""
        self.session.move_on_frontier(step)
        self._show_frontier()

    def action_frontier_apply(self) -> None:
        """enter: the browsed point's layers swapped at its m (the rows' m follow)."""
        point = self.session.frontier_point
        previous = self.session.analysis
        analysis = self.session.apply_frontier_point()
        # The rows whose m moved are redrawn (the point sets each layer's own m).
        before = {layer.name: layer for layer in previous.layers} if previous else {}
        self.select(
            analysis, {layer.name for layer in analysis.layers if before.get(layer.name) != layer}
        )
        self.refresh_bindings()  # ←/→ and enter leave the footer
        if point is not None:
            self.notify(f"g: applied {point.summary}")

    def _stop_browsing(self) -> bool:
        """escape: stop browsing the frontier (the selection stays); False when not."""
        if not self.session.stop_browsing():
            return False
        self.refresh_bindings()  # ←/→ and enter leave the footer
        self._show_measured()
        self._show_hint()
        return True

    def _show_frontier(self) -> None:
        """The frontier chart with the browsed point, and that point's plan and figures."""
        session = self.session
        point = session.frontier_point
        self._show_measured()
        self.refresh_bindings()  # the footer shows ←/→ and enter while browsing
        if point is None or session.frontier is None:
            return
        frontier = session.frontier.value.frontier
        self._status(
            f"{session.frontier_at}/{len(frontier.points) - 1} "
            f"{sensitivity_report.point_line(frontier, point)}  ←/→ move, enter applies, "
            "escape stops"
        )

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
        self._work_of = self.session.key_for(request.reply)  # type: ignore[attr-defined]
        self._work.start(request)  # type: ignore[arg-type]  # every ModelWork is a Request
        self._status(f"{label}: starting PyTorch… (escape cancels)", running=True)
        self._progress(f"{label}: starting PyTorch…")

    def show_work(self, reply: Reply, of: Key | None = None) -> None:
        """Show a fidelity, recovery or trade-off (from the child, or recorded) as measured
        ``of`` that state (by default: the selection, m and data now on screen)."""
        self._sync_fields()
        self.session.record(reply, of)
        if isinstance(reply, ModelRecovered):
            self.notify("Recovered: e writes the recovered model beside the other exports.")
        self._fill_table()
        if isinstance(reply, FrontierMeasured):
            self._show_frontier()
            for note in reply.sensitivity.notes:
                self.notify(note, severity="information")
        else:
            self._show_measured()

    def _work_done(self, reply: Reply) -> None:
        """A fidelity, recovery or trade-off arrived: kept as of the state it was asked for."""
        self._progress(None)
        self._show_hint()
        self.show_work(reply, self._work_of)
        if isinstance(reply, FrontierMeasured):
            self._show_frontier()  # over the hint: the point and how to move
        if isinstance(reply, ModelRecovered) and reply.onnx_error:
            self.notify(f"No swapped.onnx: {reply.onnx_error}", severity="warning")

    def _work_failed(self, error: UserError) -> None:
        """Said under the field at fault (the data's, unless it names another)."""
        self._progress(None)
        self._show_hint()
        self.form.show_error(error, default="model-data")
        self._show_measured()

    # The matrix: the whole model in every runtime × precision cell (b) ---------------------

    def bench(self) -> bool:
        """``b``: time the original model and the current selection in every runtime ×
        precision cell this machine can run (the model child, then a timing child per cell;
        escape cancels); with data, each cell's two models measured on its test split too."""
        self._sync_fields()
        try:
            request = self.session.bench_request(self.bench_min_run_time)
        except SessionError as error:
            self.notify(error.message)
            return True
        except UserError as error:  # data that is not one: said under its field
            self.form.show_error(error, default="model-data")
            return True
        if self.benchmarking or self.running:
            return True
        self.form.show_error(None)
        self._bench_of = self.session.bench_key()
        self._bench.start(request)
        self._status(f"{BENCH_LABEL}: starting PyTorch… (escape cancels)", running=True)
        self._progress(f"{BENCH_LABEL}: starting PyTorch…")
        return True

    def _bench_progress(self, line: Progress) -> None:
        """A cell (or the machine's limits) under way: the status line and the bar."""
        self._status(f"{BENCH_LABEL}… (escape cancels)", running=True)
        self._progress(progress_text(line), line.done, line.total)

    @property
    def bench_result(self) -> ModelBenchResult | None:
        """The last whole-model benchmark shown (None before the first)."""
        return self.session.bench.value if self.session.bench is not None else None

    def _benched(self, reply: ModelBenched) -> None:
        """The matrix and the answer, as of the selection they were asked for."""
        self._progress(None)
        self.show_bench(reply, self._bench_of)

    def show_bench(self, reply: ModelBenched, of: Key | None = None) -> None:
        """Show ``b``'s matrix (from the child, or recorded) as measured ``of`` that selection
        (by default: the one now on screen): the answer in the summary, the matrix beside
        the chart."""
        self.session.bench = Measured(reply.result, self.session.bench_key() if of is None else of)
        self.set_class(self.session.bench_stale, "-bench-old")
        self._show_hint()
        self.query_one(ModelSummary).show_bench(reply.result)
        self.query_one(ModelCharts).show_matrix(reply.result)
        self.add_class("-benched")

    def _bench_failed(self, error: UserError) -> None:
        """Said above the status line; the last matrix stays."""
        self._progress(None)
        self.form.show_error(f"Benchmark: {error.message}")
        self._show_hint()

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
        label = f"Timing each layer on {self.session.deployment}"
        self._status(f"{label}: starting PyTorch… (escape cancels)", running=True)
        self._progress(f"{label}: starting PyTorch…")

    def _layers_done(self, reply: LayersBenched) -> None:
        """The per-layer timings, as of the model, m and runtime they were asked for."""
        self._progress(None)
        self._show_hint()
        self.show_layers(reply, self._layers_of)
        if self.session.rungs_untimed and not self.working:
            self._time_rungs()

    def _time_rungs(self) -> None:
        """After ``l``, with a frontier on hand: every rung of its sensitivity timed on the
        session's runtime at fp32 (in the fidelity process, which keeps the table), so each
        frontier point says the seconds it saves and the speed-up they predict."""
        fields = self._work_fields(swapped=False)
        if fields is None:
            return
        runtime = self.session.runtime
        request = MeasureFrontier(**fields, budget=self.session.budget, seconds_on=runtime)
        self._start_work(request, f"Timing each rung of the frontier on {runtime_label(runtime)}")

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
        self._show_hint()
        self.form.show_error(f"Per-layer timing: {error.message}")

    def action_cycle_runtime(self) -> None:
        """``u``: the runtime ``l`` times on, in the runtime table's order (eager → eager
        channels-last → ONNX Runtime → OpenVINO); the precision stays where the new runtime
        runs it, else fp32 again, said; a runtime that is not installed says what it needs."""
        session = self.session
        if session.analysis is None:
            return
        before = session.precision
        runtime = session.cycled_runtime()
        self._deployment_changed()
        said = f"l times on {session.deployment}"
        if session.precision != before:
            runs = ", ".join(session.precisions())
            said += f" ({runtime_label(runtime)} runs {runs}, not {before})"
        missing = session.runtime_missing()
        if missing is not None:
            self.notify(f"{said}: {missing}", severity="warning")
        else:
            self.notify(said)

    def action_cycle_precision(self) -> None:
        """``p``: the precision ``l`` times at, among those the runtime runs."""
        session = self.session
        if session.analysis is None:
            return
        try:
            session.cycled_precision()
        except SessionError as error:
            self.notify(error.message, severity="warning")
            return
        self._deployment_changed()
        self.notify(f"l times on {session.deployment}")

    def _deployment_changed(self) -> None:
        """The runtime or precision changed: timings of another are stale; the status line
        names the new one (unless it says something else now)."""
        self._show_measured()
        busy = self.working or self.benchmarking or self.timing_layers or self.running
        if not (busy or self.session.stale or self.session.frontier_at is not None):
            self._show_hint()

    def action_latency_axis(self) -> None:
        """``x``: the trade-off chart against measured latency, or MACs again."""
        try:
            latency = self.session.toggled_latency_axis()
        except SessionError as error:
            self.notify(error.message, severity="warning")
            return
        self._show_measured()
        self.notify("Trade-off against measured latency" if latency else "Trade-off against MACs")
