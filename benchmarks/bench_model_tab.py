"""The Model tab's response times: source entered → table shown, and toggle → summary updated;
on the trained digits CNN, f and r (key → first figures shown) and a key typed while a
recovery runs (key → handled, target ≤ 50 ms); and a first and a second f on resnet18 with a
folder of a few hundred photos (crops of scikit-learn's two sample images: nothing downloads),
where the second finds the model and the decoded images kept in the child.

Run: .venv/bin/python benchmarks/bench_model_tab.py [SOURCE ...] [--digits DIR] [--photos-only]
(prints tables; not a test. Without --digits DIR, examples/digits/make.py trains one, ~25 s.)

"cold": the source is pasted and entered at once, so the child process starts and imports
torch for this request; "warm": the child is running (the model names were fetched while the
user typed), the usual case. Toggles are timed from the key press to the summary's new text,
through Pilot (the whole key path, less Pilot's own cost of pressing an unbound key), and as
the handler alone.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from app_states import settle  # noqa: E402
from textual import events  # noqa: E402
from textual.pilot import Pilot  # noqa: E402
from textual.widgets import Input, Static  # noqa: E402

from sepconv_tui.tui.app import SepConvApp  # noqa: E402
from sepconv_tui.tui.widgets.model.table import ModelTable  # noqa: E402
from sepconv_tui.tui.widgets.model.view import ModelView  # noqa: E402

TOGGLES = 21
ROOT = Path(__file__).resolve().parent.parent
#: The longest a key typed during a recovery may wait to be handled.
KEY_TARGET_S = 0.050


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


def press(app: SepConvApp, key: str) -> None:
    """Post ``key`` as the terminal driver does (Pilot's press also waits for the app to be
    idle, which it is not while a recovery's progress streams in)."""
    character = " " if key == "space" else key if len(key) == 1 else None
    app.post_message(events.Key(key, character))


async def wait_for(condition: object, timeout: float = 120.0) -> float:
    """Poll ``condition()`` every ms; the seconds until it held."""
    start = time.perf_counter()
    while not condition():  # type: ignore[operator]
        if time.perf_counter() - start > timeout:
            raise TimeoutError("the Model tab did not answer")
        await asyncio.sleep(0.001)
    return time.perf_counter() - start


async def digits_times(folder: Path, threads: int | None) -> None:
    """f and r on the digits CNN (key → first figures), and keys while R distills."""
    app = SepConvApp()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f6")
        await settle(pilot)
        view = app.query_one(ModelView)
        view.work_threads = threads
        for field_id, text in (
            ("model-source", f"{ROOT / 'examples' / 'digits' / 'model.py'}:build"),
            ("model-weights", str(folder / "digits.pt")),
            ("model-data", str(folder / "data.pt")),
        ):
            app.query_one(f"#{field_id}", Input).value = text  # the data field warms the child
        await pilot.pause()
        await pilot.press("enter")
        await wait_for(lambda: view.analysis is not None and not view.running)
        await settle(pilot)  # the warm-up too: the usual case, the user typed the data first
        await pilot.press("escape", "a")
        fidelity = app.query_one("#model-fidelity", Static)
        times: dict[str, float] = {}
        for key, done in (
            ("f", lambda: view.session.fidelity is not None and not view.working),
            ("r", lambda: view.session.recovery is not None and not view.working),
        ):
            before = str(fidelity.render())
            start = time.perf_counter()
            press(app, key)
            await wait_for(
                lambda done=done, before=before: done() and str(fidelity.render()) != before
            )
            times[key] = time.perf_counter() - start
        # Keys while distilling: a toggle each (of a candidate's row), timed key → summary.
        summary = app.query_one("#model-summary", Static)
        table = app.query_one(ModelTable)
        table.move_cursor(row=table.get_row_index("features.3"), animate=False)
        await pilot.pause()
        await pilot.press("R")
        label = app.query_one("#model-progress-label")
        await wait_for(lambda: "Distilling" in str(label.render()))
        pressed: list[float] = []
        while view.working and len(pressed) < TOGGLES:
            before = str(summary.render())
            start = time.perf_counter()
            press(app, "space")
            await wait_for(lambda before=before: str(summary.render()) != before)
            pressed.append(time.perf_counter() - start)
        distilled = await wait_for(lambda: not view.working)
        worst = max(pressed) if pressed else float("nan")
        verdict = "ok" if pressed and worst <= KEY_TARGET_S else "OVER"
        report_line(
            f"{str(threads or 'default'):>8} {times['f']:8.2f} {times['r']:8.2f} "
            f"{len(pressed):5d} {statistics.median(pressed) * 1e3:9.1f} {worst * 1e3:8.1f} "
            f"{verdict:>5}  (distill ended {distilled:.1f} s after the last key)"
        )


#: Photos in the image folder (a few hundred, as a user's calibration set would be).
PHOTOS = 300
#: Each photo's side, before the model's own preprocessing (resize 256, crop 224).
PHOTO_SIDE = 320


def photo_folder() -> Path:
    """A folder of PHOTOS JPEG crops of scikit-learn's two sample photos (no download)."""
    import numpy as np
    from PIL import Image
    from sklearn.datasets import load_sample_images

    folder = Path(tempfile.mkdtemp(prefix="sepconv-photos-"))
    images = load_sample_images().images  # two 427×640 RGB photos
    generator = np.random.default_rng(0)
    for index in range(PHOTOS):
        image = images[index % len(images)]
        top = int(generator.integers(0, image.shape[0] - PHOTO_SIDE))
        left = int(generator.integers(0, image.shape[1] - PHOTO_SIDE))
        crop = image[top : top + PHOTO_SIDE, left : left + PHOTO_SIDE]
        Image.fromarray(crop).save(folder / f"photo-{index:03d}.jpg", quality=90)
    return folder


async def repeated_f(source: str, folder: Path) -> None:
    """Key → figures shown for a first f (the child builds the model, decodes the folder)
    and a second f on the same model and folder (both kept in the child)."""
    app = SepConvApp()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f6")
        await settle(pilot)
        view = app.query_one(ModelView)
        app.query_one("#model-source", Input).value = source
        app.query_one("#model-data", Input).value = str(folder)  # warms the fidelity child
        await pilot.pause()
        await pilot.press("enter")
        await wait_for(lambda: view.analysis is not None and not view.running, 600)
        await settle(pilot)  # the warm-up too: torch is imported in both children
        await pilot.press("escape", "a")
        times: list[float] = []
        for _ in range(2):
            before = view.session.fidelity
            start = time.perf_counter()
            press(app, "f")
            await wait_for(lambda before=before: view.session.fidelity is not before, 600)
            times.append(time.perf_counter() - start)
            await settle(pilot)
        report_line(
            f"{source:28} {PHOTOS:7d} {times[0]:10.2f} {times[1]:10.2f} {times[0] / times[1]:8.1f}×"
        )


def digits_folder() -> Path:
    """``--digits DIR`` from the command line, or a freshly trained one in a temp folder."""
    if "--digits" in sys.argv:
        return Path(sys.argv[sys.argv.index("--digits") + 1])
    folder = Path(tempfile.mkdtemp(prefix="digits-"))
    subprocess.run(
        [sys.executable, str(ROOT / "examples" / "digits" / "make.py"), str(folder)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return folder


def main() -> None:
    """Print the table for each source given (resnet18 and resnet50 by default), the digits
    CNN's f, r and keys-while-recovering table, and the first and second f on photos."""
    arguments = sys.argv[1:]
    if "--photos-only" in arguments:  # the image-folder table alone
        arguments.remove("--photos-only")
        report_line(f"{'source':28} {'photos':>7} {'1st f s':>10} {'2nd f s':>10} {'faster':>9}")
        photos = photo_folder()
        try:
            asyncio.run(repeated_f(arguments[0] if arguments else "torchvision:resnet18", photos))
        finally:
            shutil.rmtree(photos, ignore_errors=True)
        return
    if "--digits" in arguments:
        at = arguments.index("--digits")
        arguments = arguments[:at] + arguments[at + 2 :]
    sources = arguments or ["torchvision:resnet18", "torchvision:resnet50"]
    report_line(
        f"{'source':28} {'child':5} {'rows':>5} {'enter→table':>10} {'key→summary ms':>14} "
        f"{'handler ms':>12}"
    )
    for index, source in enumerate(sources):
        for cold in (True, False) if index == 0 else (False,):
            asyncio.run(measure(source, cold))
    folder = digits_folder()
    report_line(
        f"\ndigits CNN: {'threads':>8} {'f→fig s':>8} {'r→fig s':>8} {'keys':>5} "
        f"{'median ms':>9} {'max ms':>8} {'≤50ms':>5}"
    )
    for threads in (None, 1):  # torch's default, and one thread (two cores shared here)
        asyncio.run(digits_times(folder, threads))
    report_line(
        f"\nimage folder: {'source':28} {'photos':>7} {'1st f s':>10} {'2nd f s':>10} {'faster':>9}"
    )
    photos = photo_folder()
    try:
        asyncio.run(repeated_f("torchvision:resnet18", photos))
    finally:
        shutil.rmtree(photos, ignore_errors=True)


if __name__ == "__main__":
    main()
