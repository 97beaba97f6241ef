"""The Model tab's response times: source entered → table shown, and toggle → summary updated.

Run: .venv/bin/python benchmarks/bench_model_tab.py [SOURCE ...]   (prints a table; not a test)

"cold": the source is pasted and entered at once, so the child process starts and imports
torch for this request; "warm": the child is running (the model names were fetched while the
user typed), the usual case. Toggles are timed from the key press to the summary's new text,
through Pilot (the whole key path, less Pilot's own cost of pressing an unbound key), and as
the handler alone.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from app_states import settle  # noqa: E402
from textual.pilot import Pilot  # noqa: E402
from textual.widgets import Input, Static  # noqa: E402

from sepconv_tui.tui.app import SepConvApp  # noqa: E402
from sepconv_tui.tui.widgets.model_table import ModelTable  # noqa: E402
from sepconv_tui.tui.widgets.model_view import ModelView  # noqa: E402

TOGGLES = 21


def report_line(*values: object) -> None:
    """Write one line to the real stdout (Textual redirects ``print`` while an app runs)."""
    os.write(1, (" ".join(str(value) for value in values) + "\n").encode())


async def entered_to_table(pilot: Pilot, view: ModelView, source: str) -> float:
    """Seconds from enter in the source field to the analysis's rows in the table."""
    source_input = pilot.app.query_one("#model-source", Input)
    source_input.focus()
    source_input.value = source
    await pilot.pause()
    previous = view.analysis
    start = time.perf_counter()
    await pilot.press("enter")
    table = pilot.app.query_one(ModelTable)
    while view.analysis is previous or not table.row_count:
        await asyncio.sleep(0.001)
    return time.perf_counter() - start


async def toggle_times(pilot: Pilot, view: ModelView) -> tuple[list[float], list[float]]:
    """Key press → summary updated, and the handler alone, for TOGGLES presses of space."""
    await pilot.press("escape")  # to the table
    await pilot.pause()
    summary = pilot.app.query_one("#model-summary", Static)
    table = pilot.app.query_one(ModelTable)
    candidate = next(layer.name for layer in view.analysis.layers if layer.candidate)  # type: ignore[union-attr]
    table.move_cursor(row=table.get_row_index(candidate), animate=False)
    await pilot.pause()
    pressed: list[float] = []
    for _ in range(TOGGLES):
        before = str(summary.render())
        start = time.perf_counter()
        await pilot.press("space")
        while str(summary.render()) == before:
            await asyncio.sleep(0.0005)
        pressed.append(time.perf_counter() - start)
    idle: list[float] = []  # Pilot's own cost of a key press: a key nothing is bound to
    for _ in range(TOGGLES):
        start = time.perf_counter()
        await pilot.press("x")
        idle.append(time.perf_counter() - start)
    pressed = [max(0.0, seconds - statistics.median(idle)) for seconds in pressed]
    handler: list[float] = []
    for _ in range(TOGGLES):
        analysis = view.analysis
        assert analysis is not None
        start = time.perf_counter()
        view.select(analysis.with_swaps(analysis.swapped_names ^ {candidate}))
        handler.append(time.perf_counter() - start)
        await pilot.pause()
    return pressed, handler


async def measure(source: str, cold: bool) -> None:
    """One fresh app: enter ``source`` (cold or warm child), then time toggles."""
    app = SepConvApp()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f6")
        await settle(pilot)
        view = app.query_one(ModelView)
        if not cold:
            await pilot.press("t")  # a key in the field fetches the names: the child warms up
            await settle(pilot)
        seconds = await entered_to_table(pilot, view, source)
        rows = len(view.analysis.layers) if view.analysis else 0
        pressed, handler = await toggle_times(pilot, view)
        report_line(
            f"{source:28} {'cold' if cold else 'warm':5} {rows:5d} {seconds:10.3f} "
            f"{statistics.median(pressed) * 1e3:14.1f} {statistics.median(handler) * 1e3:12.2f}"
        )


def main() -> None:
    """Print the table for each source given (resnet18 and resnet50 by default)."""
    sources = sys.argv[1:] or ["torchvision:resnet18", "torchvision:resnet50"]
    report_line(
        f"{'source':28} {'child':5} {'rows':>5} {'enter→table':>10} {'key→summary ms':>14} "
        f"{'handler ms':>12}"
    )
    for index, source in enumerate(sources):
        for cold in (True, False) if index == 0 else (False,):
            asyncio.run(measure(source, cold))


if __name__ == "__main__":
    main()
