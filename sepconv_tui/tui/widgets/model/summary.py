"""The Model tab's summary: the selection's totals, what was measured on it, its timings."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from ....model.results.bench_result import ModelBenchResult
from ....model.vocabulary.analysis import ModelAnalysis
from ....model.vocabulary.runtimes import runtime_label
from ....report import model_fidelity, model_tab
from ....report.format import format_ratio
from ....workers.model_messages import ModelRecovered
from ...model_session import ModelSession

#: Said after a figure measured on another selection, m, data or model.
STALE_NOTE = "  (stale: f, r measure this selection)"
#: Said after per-layer timings of other m, runtime or model.
LAYERS_STALE_NOTE = "  (stale: l times these layers)"


class ModelSummary(Vertical):
    """Four lines of totals; the fidelity and recovery lines; ``b``'s answer."""

    def compose(self) -> ComposeResult:
        """Totals, measured fidelity, timings."""
        yield Static(id="model-summary")
        yield Static(id="model-fidelity")
        yield Static(id="model-bench")

    def show_selection(self, analysis: ModelAnalysis) -> None:
        """The totals of ``analysis``'s selection, the first line bold."""
        lines = model_tab.summary_lines(analysis)
        summary = Text("\n".join(lines))
        summary.stylize("bold", 0, len(lines[0]))
        shown = self.query_one("#model-summary", Static)
        # Four lines that fit the width keep their size: a repaint, not a layout of the
        # screen (which would hold the next key for tens of ms).
        fits = shown.size.width > 0 and all(len(line) < shown.size.width for line in lines)
        shown.update(summary, layout=not fits)

    def show_measured(self, session: ModelSession, *, tradeoff_in_words: bool) -> None:
        """The fidelity and recovery lines (dimmed, marked, when stale); the trade-off in
        words too when there is no room for its chart."""
        lines: list[Text] = []
        fidelity, recovery = session.fidelity, session.recovery
        if fidelity is not None and not session.fidelity_from_recovery:
            line = model_fidelity.fidelity_line(fidelity.value, len(fidelity.value.layers))
            lines.append(self._line(line, session.fidelity_stale, STALE_NOTE))
        if recovery is not None:
            line = model_fidelity.stages_line(recovery.value.stages)
            lines.append(self._line(line, session.recovery_stale, STALE_NOTE))
            onnx = self._onnx_line(recovery.value)
            if onnx:
                lines.append(self._line(onnx, session.recovery_stale, ""))
        predicted, runtime = session.predicted_speed_ratio(), session.layers_runtime
        if predicted is not None and runtime is not None:
            line = (
                f"Per layer on {runtime_label(runtime)}: this selection's predicted speed-up "
                f"{format_ratio(predicted)} (model time ÷ model time less what its layers save)"
            )
            lines.append(self._line(line, session.layers_stale, LAYERS_STALE_NOTE))
        if session.tradeoff is not None and tradeoff_in_words:
            line = model_fidelity.tradeoff_line(session.tradeoff.value, session.budget)
            lines.append(self._line(line, session.tradeoff_stale, ""))
        shown = self.query_one("#model-fidelity", Static)
        shown.update(Text("\n").join(lines))
        shown.display = bool(lines)

    @staticmethod
    def _onnx_line(recovery: ModelRecovered) -> str:
        """What ``e`` writes as ONNX beside the recovered model, or why it writes none."""
        onnx = recovery.onnx
        if onnx is not None:
            return (
                f"swapped.onnx: {onnx['depthwise_nodes']} depthwise Conv nodes, ONNX Runtime "
                f"against PyTorch {onnx['relative_error']:.1e} (relative); e exports it"
            )
        return f"No swapped.onnx: {recovery.onnx_error}" if recovery.onnx_error else ""

    @staticmethod
    def _line(text: str, stale: bool, note: str) -> Text:
        """One measured line, dimmed with ``note`` when ``stale``."""
        return Text(text + (note if stale else ""), style="dim" if stale else "")

    def show_bench(self, result: ModelBenchResult) -> None:
        """``b``'s answer: each side's best deployment and what the swap buys against the
        original's best (the matrix itself is drawn under the table)."""
        self.query_one("#model-bench", Static).update(Text(model_tab.matrix_answer(result)))
