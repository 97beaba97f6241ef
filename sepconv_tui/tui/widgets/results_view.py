"""The results: ratio headline, verdict, cross-check line and the report's Rich table."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from ...core.compare import Comparison
from ...report import layer as report
from ...report.memory import memory_table

#: Below this many columns the results use the report's compact table.
COMPACT_WIDTH = 72


class ResultsView(VerticalScroll, can_focus=True):
    """Renders a Comparison with the report's renderables; never computes anything itself."""

    comparison: Comparison | None = None

    def compose(self) -> ComposeResult:
        """Headline, verdict, cross-check, staleness note, table, FLOPs, memory."""
        yield Static(id="ratio")
        yield Static(id="verdict")
        yield Static(id="check")
        yield Static(id="stale")
        yield Static(id="table")
        yield Static(id="flops")
        yield Static(id="memory")

    def show(self, comparison: Comparison) -> None:
        """Display ``comparison`` and clear any staleness."""
        self.query_one("#ratio", Static).update(report.ratio_message(comparison))
        verdict = self.query_one("#verdict", Static)
        verdict.update(report.verdict_message(comparison))
        verdict.set_class(comparison.shapes_match, "-match")
        verdict.set_class(not comparison.shapes_match, "-mismatch")
        check = self.query_one("#check", Static)
        check.update(report.verification_message(comparison))
        check.set_class(comparison.verified is None, "-pending")
        check.set_class(comparison.is_verified, "-agree")
        check.set_class(comparison.verified is not None and not comparison.is_verified, "-disagree")
        self.comparison = comparison
        self._update_table()
        self.query_one("#flops", Static).update(report.flops_message(comparison))
        self.query_one("#memory", Static).update(memory_table(comparison.memory))
        self.mark_stale(None)

    def mark_stale(self, reason: str | None) -> None:
        """Keep the last result on screen, dimmed, with ``reason``; None clears it."""
        self.set_class(reason is not None, "-stale")
        stale = self.query_one("#stale", Static)
        stale.update(f"⚠ Showing the last valid layer. {reason}" if reason else "")
        stale.display = reason is not None

    def _update_table(self) -> None:
        """Render the table, compact when the view is narrow."""
        if self.comparison is not None:
            compact = self.size.width < COMPACT_WIDTH
            table = report.figures_table(self.comparison, compact=compact)
            self.query_one("#table", Static).update(table)

    def on_resize(self) -> None:
        """Switch between the full and the compact table."""
        self._update_table()
