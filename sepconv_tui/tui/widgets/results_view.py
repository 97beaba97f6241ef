"""The results: ratio headline, verdict, cross-check line and the report's Rich table."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.content import Content
from textual.widgets import Static

from ...core.compare import Comparison
from ...report import layer as report
from ...report.memory import memory_table
from ..export import Export
from ..tab_view import TabViewDefaults

#: Below this many columns the results use the report's compact table.
COMPACT_WIDTH = 72


def update_in_place(static: Static, text: str) -> None:
    """Show ``text``; lay the screen out again only when the number of lines changes.

    A layout pass measures every widget again, the Rich tables included (tens of ms), where a
    repaint of one line costs well under one.
    """
    width = static.content_size.width
    old_lines = len(Content(str(static.content)).wrap(width)) if width else 0
    static.update(text, layout=not width or len(Content(text).wrap(width)) != old_lines)


class ResultsView(TabViewDefaults, VerticalScroll, can_focus=True):
    """Renders a Comparison with the report's renderables; never computes anything itself."""

    comparison: Comparison | None = None

    def compose(self) -> ComposeResult:
        """Headline, verdict, cross-check, staleness note, table, FLOPs, memory."""
        yield Static(id="ratio", markup=False)
        yield Static(id="verdict", markup=False)
        yield Static(id="check", markup=False)
        yield Static(id="stale", markup=False)  # its reason quotes what was typed
        yield Static(id="table")
        yield Static(id="flops")
        yield Static(id="memory")

    def show_headline(self, comparison: Comparison) -> None:
        """The ratio and the verdict alone: cheap enough to follow every keystroke."""
        update_in_place(self.query_one("#ratio", Static), report.ratio_message(comparison))
        verdict = self.query_one("#verdict", Static)
        update_in_place(verdict, report.verdict_message(comparison))
        verdict.set_class(comparison.shapes_match, "-match")
        verdict.set_class(not comparison.shapes_match, "-mismatch")

    def show(self, comparison: Comparison) -> None:
        """Display ``comparison`` and clear any staleness."""
        self.show_headline(comparison)
        self.comparison = comparison
        self.show_check(comparison)
        self._update_table()
        self.query_one("#flops", Static).update(report.flops_message(comparison))
        self.query_one("#memory", Static).update(memory_table(comparison.memory))
        self.mark_stale(None)

    def show_check(self, comparison: Comparison) -> None:
        """The cross-check line: pending, both methods agree, or where they differ.

        PyTorch's check changes nothing else on screen, so it repaints this line alone.
        """
        self.comparison = comparison
        check = self.query_one("#check", Static)
        update_in_place(check, report.verification_message(comparison))
        check.set_class(comparison.verified is None, "-pending")
        check.set_class(comparison.is_verified, "-agree")
        check.set_class(comparison.verified is not None and not comparison.is_verified, "-disagree")

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

    def export(self) -> Export | None:
        """The comparison on show as Markdown and JSON."""
        if self.comparison is None:
            return None
        spec = self.comparison.spec
        # One number when every axis agrees (as in the form), else each axis: k3x7x7.
        kernel, stride = (
            str(values[0]) if len(set(values)) == 1 else "x".join(map(str, values))
            for values in (spec.axes("kernel_size"), spec.axes("stride"))
        )
        stem = (
            f"sepconv-{spec.in_channels}to{spec.out_channels}-k{kernel}-s{stride}"
            f"-{'x'.join(map(str, spec.spatial_size))}"
        )
        return Export(stem, report.to_markdown(self.comparison), report.to_json(self.comparison))

    def on_resize(self) -> None:
        """Switch between the full and the compact table."""
        self._update_table()
