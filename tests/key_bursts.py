"""Bursts of keys posted the way the terminal driver delivers them, for tests and bench_app.py.

``pilot.press`` waits for each key to be handled, so it cannot show a key overtaking a focus
change; posting ``events.Key`` to the app a few ms apart from a thread, as the driver does, can.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from textual import events
from textual.app import App, ComposeResult
from textual.widgets import Footer, Header, Input, Static

from sepconv_tui.core.spec import LayerSpec

#: What the driver puts in ``Key.character`` for the keys the bursts use.
CHARACTERS = {
    "tab": "\t",
    "shift+tab": None,
    "backspace": "\x7f",
    **{f"f{number}": None for number in range(1, 13)},  # function keys type nothing
}

#: The form's text fields in focus order from in channels (the default focus).
FIELDS = ("in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation")


@dataclass(frozen=True)
class Burst:
    """Keys typed in one go, and the fields' values they must leave behind."""

    keys: tuple[str, ...]
    expected: dict[str, str]


#: From the default state (focus in in_channels; Tab selects a field's whole text).
BURSTS = (
    # Issue 9's report: out channels 64, kernel size 5.
    Burst(
        ("tab", "backspace", "backspace", "6", "4", "tab", "backspace", "5"),
        {"out_channels": "64", "kernel_size": "5"},
    ),
    # Forward, then back three fields with shift+tab, typing at both ends.
    Burst(
        ("tab", "backspace", "2", "shift+tab", "shift+tab", "shift+tab", "backspace", "8"),
        {"stride": "2", "in_channels": "8"},
    ),
    # Four fields forward without typing, then a digit.
    Burst(("tab", "tab", "tab", "tab", "backspace", "backspace", "2"), {"padding": "2"}),
)

#: The layer the three bursts leave in the form.
FINAL_SPEC = LayerSpec(in_channels=8, out_channels=64, kernel_size=5, stride=2, padding=2)


def key_event(key: str) -> events.Key:
    """The Key event the terminal driver would post for ``key``."""
    return events.Key(key, CHARACTERS.get(key, key))


async def post_keys(app: App[None], keys: tuple[str, ...], gap: float) -> None:
    """Post ``keys`` to ``app`` ``gap`` seconds apart from another thread, as the terminal
    driver's input thread does: a busy event loop does not slow the typing down."""

    def type_keys() -> None:
        for key in keys:
            app.post_message(key_event(key))  # thread-safe
            time.sleep(gap)

    await asyncio.to_thread(type_keys)


def field_values(app: App[None], fields: list[str] | tuple[str, ...]) -> dict[str, str]:
    """The text of each named Input."""
    return {field: app.query_one(f"#{field}", Input).value for field in fields}


class BareForm(App[None]):
    """The control: plain Inputs with the form's ids and values, no work on any edit."""

    def compose(self) -> ComposeResult:
        """Header, one Input per field, a static line, footer."""
        yield Header()
        defaults = LayerSpec()
        for field in FIELDS:
            yield Input(str(getattr(defaults, field)), id=field)
        yield Static("ratio", id="ratio")
        yield Footer()
