"""App states pinned by the snapshot tests and exported by scripts/export_screenshots.py."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from textual.pilot import Pilot
from textual.widgets import Input, Select

from sepconv_tui.core.spec import LayerSpec
from sepconv_tui.errors import UserError
from sepconv_tui.ipc.client import Call, ChildProcess
from sepconv_tui.ipc.wire import Failed, decode
from sepconv_tui.tui.app import SepConvApp
from sepconv_tui.workers import model_messages  # noqa: F401  # registers the replies

#: Seconds a test waits for a state (a child's answer on a loaded 2-core machine) before it
#: fails; the one patience every wait in the tests uses.
PATIENCE = 300.0
#: How often a waiting test looks again.
POLL_S = 0.02


async def until(pilot: Pilot, condition: Callable[[], bool], what: str) -> None:
    """Wait until ``condition`` holds (never for a fixed time), then for the screen."""
    deadline = time.monotonic() + PATIENCE
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        await asyncio.sleep(POLL_S)
    await pilot.pause()


async def settle(pilot: Pilot) -> None:
    """Wait until the last edit is fully shown, every worker (the PyTorch cross-check, a child
    process's call) has finished and what it posted is handled, and the screen is drawn."""
    await pilot.pause()
    app = pilot.app
    await until(
        pilot,
        lambda: (
            not getattr(app, "render_pending", False)
            and all(worker.is_finished for worker in app.workers)
        ),
        "the app to settle",
    )
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
    pinned: bool = True  # False: timings on screen, so a screenshot but no snapshot test

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
        still_cursor(pilot.app)  # type: ignore[arg-type]  # lazily mounted tabs' Inputs too
        await pilot.pause()


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


async def _rank_1d(pilot: Pilot) -> None:
    """The issue's 1-D layer, chosen with the rank selector and typed."""
    pilot.app.query_one("#dims", Select).value = 1
    await settle(pilot)
    await type_into(pilot, "in_channels", "256")
    await type_into(pilot, "out_channels", "256")
    await type_into(pilot, "kernel_size", "11")
    await type_into(pilot, "padding", "5")
    await type_into(pilot, "length", "400")


async def _rank_3d(pilot: Pilot) -> None:
    """A 3-D layer: the rank selector adds Depth above Height and Width."""
    pilot.app.query_one("#dims", Select).value = 3
    await settle(pilot)
    await type_into(pilot, "in_channels", "64")
    await type_into(pilot, "out_channels", "64")
    await type_into(pilot, "height", "56")
    await type_into(pilot, "width", "56")


async def _sweep_3d(pilot: Pilot) -> None:
    await _rank_3d(pilot)
    await settle(pilot)
    await pilot.press("f4")
    await settle(pilot)
    pilot.app.query_one("#sweep-field", Select).value = "kernel_size"


async def _network(pilot: Pilot) -> None:
    await pilot.press("f3")


async def _network_thin(pilot: Pilot) -> None:
    await pilot.press("f3")
    await settle(pilot)
    await type_into(pilot, "width-multiplier", "0.5")
    await type_into(pilot, "resolution", "160")


async def _network_invalid(pilot: Pilot) -> None:
    await pilot.press("f3")
    await settle(pilot)
    await type_into(pilot, "width-multiplier", "0")


async def _sweep(pilot: Pilot) -> None:
    await pilot.press("f4")


async def _sweep_kernel(pilot: Pilot) -> None:
    await pilot.press("f4")
    await settle(pilot)
    pilot.app.query_one("#sweep-field", Select).value = "kernel_size"


async def _latency(pilot: Pilot) -> None:
    await pilot.press("f5")


async def _bench(pilot: Pilot) -> None:
    await pilot.press("escape", "b")
    app = pilot.app
    await until(  # the benchmark runs in a child process: wait for its result
        pilot,
        lambda: (
            bool(app.query("#latency-view"))
            and not app.query_one("#latency-view").has_class("-running")
        ),
        "the benchmark",
    )


#: A recorded `sepconv-tui model torchvision:resnet18 --json` (no torch, no timings on screen).
RESNET18_ANALYSIS = Path(__file__).with_name("data") / "resnet18_analysis.json"


async def _model(pilot: Pilot) -> None:
    """The Model tab showing the recorded resnet18 analysis, its table focused."""
    from sepconv_tui.model.vocabulary.analysis import ModelAnalysis
    from sepconv_tui.tui.widgets.model.view import ModelView

    await pilot.press("f6")
    await settle(pilot)
    analysis = ModelAnalysis.from_dict(json.loads(RESNET18_ANALYSIS.read_text()))
    pilot.app.query_one(ModelView).show_analysis(analysis)
    await pilot.press("escape")  # from the source field to the table


async def _model_top(pilot: Pilot) -> None:
    await _model(pilot)
    await pilot.press("t")


#: The model process's recorded answer to analysing torchvision:resnet5O.
RESNET5O_FAILED = Path(__file__).with_name("data") / "resnet5O_failed.json"


class RecordedChild(ChildProcess):
    """A model process that answers every request with one recorded line, starting nothing:
    a snapshot shows a real reply, never a real child's timing."""

    def __init__(self, line: str) -> None:
        super().__init__("recorded")
        self.line = line

    def run(self, call: Call[Any], on_progress: Any = None) -> Any:
        """The recorded reply (a Failed one raises the UserError it carries, as a child's)."""
        message = decode(self.line)
        if isinstance(message, Failed):
            raise UserError(message.message, field=message.field)
        return message


async def _model_error(pilot: Pilot) -> None:
    from sepconv_tui.tui.widgets.model.view import ModelView

    await _model(pilot)
    view = pilot.app.query_one(ModelView)
    recorded = RecordedChild(RESNET5O_FAILED.read_text())
    view._analysis.process = view._names.process = recorded  # what typing and enter ask
    await type_into(pilot, "model-source", "torchvision:resnet5O")
    await pilot.press("enter")


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
        AppState(
            "rank_1d",
            "1-D: Conv1d(256, 256, 11, padding=5) on 1×256×400; Length replaces Height and Width.",
            steps=_rank_1d,
        ),
        AppState("rank_3d", "3-D: Conv3d(64, 64, 3) on 16×56×56; Depth added.", steps=_rank_3d),
        AppState(
            "sweep_3d",
            "The Sweep tab follows a 3-D layer: odd kernels against 1/(m·(1/C_out + 1/k³)).",
            steps=_sweep_3d,
        ),
        AppState("network", "MobileNetV1, both variants, checked by PyTorch.", steps=_network),
        AppState(
            "network_small",
            "The Network tab at 80×24: compact table.",
            size=(80, 24),
            steps=_network,
        ),
        AppState("network_thin", "MobileNetV1 at α = 0.5, 160×160.", steps=_network_thin),
        AppState(
            "network_invalid",
            "α = 0: the field's range, last network kept.",
            steps=_network_invalid,
        ),
        AppState("sweep", "Sweep over out channels, beside the textbook curve.", steps=_sweep),
        AppState("sweep_kernel", "Sweep over odd kernel sizes.", steps=_sweep_kernel),
        AppState("latency", "The Latency tab before a run: memory per dtype.", steps=_latency),
        AppState(
            "bench",
            "A measured benchmark (b) of a MobileNetV1 layer, 256→256 on 28×28.",
            spec=LayerSpec(in_channels=256, out_channels=256, height=28, width=28, bias=False),
            steps=_bench,
            pinned=False,
        ),
        AppState(
            "model",
            "The Model tab: resnet18 analysed; its default selection (those that save "
            "parameters) swaps every candidate.",
            steps=_model,
        ),
        AppState("model_top", "After t: the top 10 convs by MACs saved swapped.", steps=_model_top),
        AppState(
            "model_error",
            "A misspelt model: the engine's suggestion under the field, the last analysis stale.",
            steps=_model_error,
        ),
        AppState(
            "model_small", "The Model tab at 80×24: compact columns.", size=(80, 24), steps=_model
        ),
        AppState(
            "model_wide", "The Model tab at 160×50: every column.", size=(160, 50), steps=_model
        ),
    )
}
