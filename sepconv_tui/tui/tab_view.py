"""The small interface every tab's view offers the app, so a new tab is one entry in TABS."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from textual import on
from textual.message import Message
from textual.widget import Widget
from textual.widgets import TabbedContent, TabPane

from ..core.spec import LayerSpec
from .export import Export


class TabView(Protocol):
    """A tab's view: it takes the Layer tab's layer, exports what it shows, cancels its work."""

    def take_layer(self, spec: LayerSpec) -> None:
        """The Layer tab's current layer (on the tab's first showing and every later one)."""

    nothing_to_export: str

    def export(self) -> Export | None:
        """What the view shows, as files for ``e``; None when it shows nothing yet."""

    def cancel(self) -> bool:
        """Stop the view's running work (escape); False when nothing runs."""

    def bench(self) -> bool:
        """Time what the view shows (``b``); False when the view has nothing to time."""


class TabViewDefaults:
    """Mix-in with the protocol's do-nothing answers, for views that need only some of it."""

    #: What ``e`` says while ``export`` has nothing.
    nothing_to_export = "Nothing to export yet."

    def take_layer(self, spec: LayerSpec) -> None:
        """Ignore the layer: the view has its own input."""

    def cancel(self) -> bool:
        """Nothing to cancel."""
        return False

    def bench(self) -> bool:
        """Nothing to time."""
        return False


def focus_now(widget: Widget) -> None:
    """Focus ``widget`` before the next message is handled.

    Widget.focus waits its turn in the app's queue: a key queued before it (F2 right after F6)
    would switch tabs first, and the late focus, landing in a hidden pane, would make
    TabbedContent show that pane again (TabPane.Focused).
    """
    widget.screen.set_focus(widget)


class TabbedViews(TabbedContent):
    """TabbedContent that shows the pane a widget was focused in only while it still is."""

    @on(TabPane.Focused)
    def _show_only_while_focused(self, event: TabPane.Focused) -> None:
        """Show the pane of the focus, unless the focus has left it since (a later switch).

        The message comes a few queues after the focus: with F2, F6, F2 typed at once, the
        Model tab's focus would otherwise show the Model tab again after the last F2.
        Textual runs this handler before TabbedContent's own (which shows the pane), and
        ``prevent_default`` skips that one.
        """
        focused = self.screen.focused
        if focused is None or event.tab_pane not in focused.ancestors:
            event.prevent_default()


@dataclass
class OpenLayer(Message):
    """A view asks the app to open ``spec`` in the Layer tab (``origin`` says where it is from)."""

    spec: LayerSpec
    origin: str


@dataclass(frozen=True)
class Tab:
    """One tab: its id, title, key, and how to build its view (imported on first showing)."""

    id: str
    title: str
    key: str
    make_view: Callable[[LayerSpec], Widget]

    @property
    def label(self) -> str:
        """The tab's title with its key, e.g. "Network F3"."""
        return f"{self.title} {self.key.upper()}"
