"""App states pinned by the snapshot tests and exported by scripts/export_screenshots.py."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from textual.pilot import Pilot
from textual.widgets import Input, Select

from sepconv_tui.core.spec import LayerSpec
from sepconv_tui.tui.app import SepConvApp


async def settle(pilot: Pilot) -> None:
    """Wait until every worker (the PyTorch cross-check) has finished and the screen is drawn."""
    await pilot.pause()
    for _ in range(1500):
        if all(worker.is_finished for worker in pilot.app.workers):
            break
        await asyncio.sleep(0.02)
    await pilot.pause()


def still_cursor(app: SepConvApp) -> None:
    """Switch every Input's cursor blink off, so pictures do not depend on timing."""
    for number_input in app.query(Input):
        number_input.cursor_blink = False


async def type_into(pilot: Pilot, field_id: str, text: str) -> None:
    """Replace a field's text by typing, as a user would."""
    number_input = pilot.app.query_one(f"#{field_id}", Input)
    number_input.focus()
    await pilot.pause()
    number_input.value = ""
    await pilot.press(*text)


@dataclass(frozen=True)
class AppState:
    """A named state: terminal size, starting layer, and the keys that lead there."""

    name: str
    description: str
    size: tuple[int, int] = (120, 40)
    spec: LayerSpec = field(default_factory=LayerSpec)
    steps: Callable[[Pilot], Awaitable[None]] | None = None

    def make_app(self) -> SepConvApp:
        """A fresh app at this state's starting layer."""
        return SepConvApp(self.spec)

    async def run_before(self, pilot: Pilot) -> None:
        """Drive the app into this state and wait for it to settle."""
        still_cursor(pilot.app)  # type: ignore[arg-type]
        await settle(pilot)
        if self.steps is not None:
            await self.steps(pilot)
        await settle(pilot)


async def _edit(pilot: Pilot) -> None:
    await type_into(pilot, "out_channels", "64")
    await type_into(pilot, "kernel_size", "5")
    await type_into(pilot, "padding", "2")


async def _mismatch(pilot: Pilot) -> None:
    await pilot.press("ctrl+l")
    await type_into(pilot, "sep_padding", "0")


async def _invalid(pilot: Pilot) -> None:
    await type_into(pilot, "in_channels", "abc")


async def _help(pilot: Pilot) -> None:
    await pilot.press("f1")


async def _preset(pilot: Pilot) -> None:
    pilot.app.query_one("#preset", Select).value = "mobilenet_v1_14"


STATES: dict[str, AppState] = {
    state.name: state
    for state in (
        AppState("default", "The reference experiment: 448 vs 94 parameters, green verdict."),
        AppState(
            "edited", "After typing 64 out channels and a 5×5 kernel with padding 2.", steps=_edit
        ),
        AppState(
            "mismatch", "Unlinked geometry, depthwise padding 0: red verdict.", steps=_mismatch
        ),
        AppState("invalid", "Text in a field: marked invalid, last result kept.", steps=_invalid),
        AppState("help", "The help screen over the reference experiment.", steps=_help),
        AppState("preset", "The MobileNetV1 14×14×512 preset.", steps=_preset),
        AppState("small", "The reference experiment at 80×24.", size=(80, 24)),
    )
}
