"""The help screen: keys, the formulas with the current numbers, what the verdict means."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

from ...core.compare import Comparison
from ...report import layer as report
from ..keys import HELP_KEYS, bindings, help_table

VERDICT = """\
**Verdict.** Green ✔ means the separable block's output has exactly the standard conv's shape,
so it can replace it in a network. Red ✘ *mismatch* names the axis and sizes that differ, or
the side whose kernel spans more than its padded input (no output at all). With the geometry
linked the shapes always match; unlink it (ctrl+l) to give the depthwise conv its own kernel,
stride, padding or dilation.

**Cross-check.** Every figure is computed by closed-form arithmetic at once, then by PyTorch
(meta-device modules, `numel`, forward shapes, `FlopCounterMode`) in the background:
*pending* until PyTorch answers, ✔ when both agree.
"""


def help_document(comparison: Comparison) -> str:
    """The help in Markdown: the key map's table, the formulas with ``comparison``'s numbers,
    what the verdict means."""
    return "\n\n".join(
        [
            "# sepconv-tui help",
            "## Keys",
            help_table(),
            "## Formulas, with this layer's numbers",
            report.formulas_markdown(comparison),
            "## What you see",
            VERDICT,
        ]
    )


class HelpScreen(ModalScreen[None]):
    """Keys, formulas with the current numbers substituted, and the verdict explained."""

    BINDINGS = bindings(HELP_KEYS)

    def __init__(self, comparison: Comparison) -> None:
        super().__init__()
        self.comparison = comparison

    def compose(self) -> ComposeResult:
        """One scrollable Markdown document."""
        with VerticalScroll(id="help-body"):
            yield Markdown(help_document(self.comparison))
