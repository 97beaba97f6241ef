"""The help screen: keys, the formulas with the current numbers, what the verdict means."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

from ...core.compare import Comparison
from ...report import layer as report

KEYS = """\
| Key | Does |
|---|---|
| F2 … F6 | Layer / Network / Sweep / Latency / Model tab |
| enter (Model tab) | in a field: analyse the model; on the table: open the conv in the Layer tab |
| space a n s t | on the Model table: swap the row / all / none / those saving params / top 10 |
| + / - (Model table) | the row's depth multiplier m one up / down (figures follow at once) |
| m (Model table) | the whole selection at m = 1, then 2, then auto:0.9 (needs the weights) |
| f (Model table) | the selection's fidelity on the Data's held-out part, overall and per layer |
| r / R (Model table) | recover the selection: reconstruct / reconstruct, then distill |
| g (Model table) | the trade-off curve; swap the most layers keeping ≥ 99% validation agreement |
| l (Model table) | time each conv against its block on the runtime: Speed-up (▼ ≪ MACs) |
| u (Model table) | the runtime l times on: eager, eager channels-last, ONNX Runtime |
| x (Model table) | the trade-off chart against measured latency instead of MACs (after g and l) |
| Device (Model tab) | where f, r/R and g run: cpu, cuda or auto |
| b | time both sides of the current layer (Latency tab) |
| tab / shift+tab | next / previous field |
| up / down | step the focused number by 1 |
| shift+up / shift+down | double / halve it (the natural move for channel counts) |
| ctrl+l | link / unlink the separable block's geometry |
| ctrl+r | back to the reference experiment |
| escape | cancel a benchmark, f, r, g or l; else leave the text field (then e, b, q and ? work) |
| e | export what the tab shows into the working directory (after r: the recovered model too) |
| F1 or ? | this help (escape closes it) |
| ctrl+p | command palette: every action and the presets |
| ctrl+q (or q outside a text field) | quit |
"""

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


class HelpScreen(ModalScreen[None]):
    """Keys, formulas with the current numbers substituted, and the verdict explained."""

    BINDINGS = [Binding("escape,f1,question_mark,q", "dismiss", "Close help")]

    def __init__(self, comparison: Comparison) -> None:
        super().__init__()
        self.comparison = comparison

    def compose(self) -> ComposeResult:
        """One scrollable Markdown document."""
        document = "\n\n".join(
            [
                "# sepconv-tui help",
                "## Keys",
                KEYS,
                "## Formulas, with this layer's numbers",
                report.formulas_markdown(self.comparison),
                "## What you see",
                VERDICT,
            ]
        )
        with VerticalScroll(id="help-body"):
            yield Markdown(document)
