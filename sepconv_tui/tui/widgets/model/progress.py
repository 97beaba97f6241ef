"""The Model tab's status line and progress bar: what runs, how far it got, or the keys."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Label, ProgressBar, Static


def hint(deployment: str) -> str:
    """The status line once an analysis is shown: where ``l`` times first (``deployment``,
    "ONNX Runtime · int8", which u and p change), then the keys (cut at the right edge on
    narrow terminals)."""
    return (
        f"l per layer on {deployment} (u runtime, p precision) · b every runtime × precision · "
        "space swap · a n s t · +/- m · m 1/2/auto · f fidelity · r/R recover · g frontier · "
        "x latency axis · enter Layer tab · e export"
    )


class ModelProgress(Vertical):
    """The status line; under it, while measuring, a label and a bar (the view's ``-working``
    class shows them)."""

    def __init__(self, status: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._first_status = status

    def compose(self) -> ComposeResult:
        """Status line, progress label and bar."""
        yield Static(self._first_status, id="model-status")
        with Horizontal(id="model-progress"):
            yield Label(id="model-progress-label")
            yield ProgressBar(id="model-progress-bar", show_eta=False)

    def status(self, text: str, *, running: bool, stale: bool = False) -> None:
        """The status line: progress (``running``), the stale mark (``stale``), or the keys."""
        line = self.query_one("#model-status", Static)
        line.update(text)
        line.set_class(running, "-running")
        line.set_class(stale and not running, "-stale")

    def bar(self, label: str, done: int = 0, total: int | None = None) -> None:
        """The progress row: ``label`` and a bar of ``done`` of ``total``."""
        # A fixed width (app.tcss) and no layout: a relayout of the screen on every step
        # would hold a key typed meanwhile for tens of ms.
        self.query_one("#model-progress-label", Label).update(label, layout=False)
        self.query_one("#model-progress-bar", ProgressBar).update(total=total, progress=done)
