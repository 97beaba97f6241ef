"""The Model tab's fidelity states (recorded digits CNN replies, no child process), pinned by
tests/test_model_fidelity_snapshots.py and exported by scripts/export_screenshots.py."""

from __future__ import annotations

import json
from pathlib import Path

from app_states import AppState, settle
from textual.pilot import Pilot
from textual.widgets import Input

from sepconv_tui.ipc.wire import Reply, decode
from sepconv_tui.model.vocabulary.analysis import ModelAnalysis
from sepconv_tui.tui.widgets.model.view import ModelView
from sepconv_tui.workers import model_messages  # noqa: F401  # registers the replies

DATA = Path(__file__).with_name("data")
#: What the recordings were made from (scripts/record_model_states.py), as a user types it.
DIGITS_SOURCE = "examples/digits/model.py:build"
DIGITS_WEIGHTS, DIGITS_DATA = "digits/digits.pt", "digits/data.pt"


def recorded_analysis() -> ModelAnalysis:
    """The digits CNN analysed with its weights, every candidate swapped at m = 1."""
    reply = decode((DATA / "digits_analysis.json").read_text())
    return reply.analysis  # type: ignore[attr-defined,no-any-return]


def recorded(name: str) -> Reply:
    """A recorded reply: "fidelity", "recovery", "tradeoff", "frontier", "layers",
    "layers_int8" or "matrix"."""
    reply = decode((DATA / f"digits_{name}.json").read_text())
    assert isinstance(reply, Reply)
    return reply


def recorded_json(name: str) -> dict:  # type: ignore[type-arg]
    """A recorded reply's wire form, as a dict."""
    return json.loads((DATA / f"digits_{name}.json").read_text())  # type: ignore[no-any-return]


async def _digits(pilot: Pilot) -> ModelView:
    """The Model tab showing the recorded digits analysis, fields filled, table focused."""
    await pilot.press("f6")
    await settle(pilot)
    await pilot.wait_for_scheduled_animations()  # the tab's underline slides
    view = pilot.app.query_one(ModelView)
    for field_id, text in (
        ("model-source", DIGITS_SOURCE),
        ("model-weights", DIGITS_WEIGHTS),
        ("model-data", DIGITS_DATA),
    ):
        field = pilot.app.query_one(f"#{field_id}", Input)
        with field.prevent(Input.Changed):  # no names to fetch, no process to warm
            field.value = text
    view.session.weights = DIGITS_WEIGHTS  # what the recorded analysis was made with
    view.show_analysis(recorded_analysis())
    await pilot.press("escape")  # to the table
    await pilot.pause()
    return view


async def _fidelity(pilot: Pilot) -> None:
    """After f: every conv swapped at m = 1, SVD only: 99.4% → 10.0%."""
    view = await _digits(pilot)
    view.show_work(recorded("fidelity"))


async def _recovered(pilot: Pilot) -> None:
    """After R: SVD only → reconstructed → distilled."""
    view = await _digits(pilot)
    view.show_work(recorded("recovery"))
    pilot.app.clear_notifications()


async def _stale(pilot: Pilot) -> None:
    """After f, then + on features.3 (m 1 → 2): the figures follow, the fidelity is stale."""
    view = await _digits(pilot)
    view.show_work(recorded("fidelity"))
    await pilot.pause()
    await pilot.press("down", "down", "plus")


async def _tradeoff(pilot: Pilot) -> None:
    """After g: the curve measured, the largest prefix keeping ≥ 99% agreement selected."""
    view = await _digits(pilot)
    view.show_work(recorded("recovery"))
    view.show_work(recorded("tradeoff"))
    view.action_pick()
    await pilot.pause()
    pilot.app.clear_notifications()


async def _bad_data(pilot: Pilot) -> None:
    """f with synthetic:0: the message (no CLI flag in it) under Data, the fidelity kept."""
    view = await _digits(pilot)
    view.show_work(recorded("fidelity"))
    field = pilot.app.query_one("#model-data", Input)
    with field.prevent(Input.Changed):
        field.value = "synthetic:0"
    await pilot.pause()
    await pilot.press("f")


async def _layers(pilot: Pilot) -> None:
    """After f and l: the measured Speed-up column (▼: far below the MAC ratio) and the
    selection's predicted speed-up, eager, one thread."""
    view = await _digits(pilot)
    view.show_work(recorded("fidelity"))
    view.show_layers(recorded("layers"))  # type: ignore[arg-type]
    await pilot.pause()


async def _latency_chart(pilot: Pilot) -> None:
    """After g, l and x: the trade-off against each prefix's predicted latency, not MACs."""
    await _tradeoff(pilot)
    view = pilot.app.query_one(ModelView)
    view.show_layers(recorded("layers"))  # type: ignore[arg-type]
    await pilot.press("x")
    await pilot.pause()
    pilot.app.clear_notifications()


async def _matrix(pilot: Pilot) -> None:
    """After b: original and swapped in every runtime × precision cell in the MACs chart's
    place, the best of each side and what the swap buys against the original's best in the
    summary."""
    view = await _digits(pilot)
    view.show_bench(recorded("matrix"))  # type: ignore[arg-type]
    await pilot.pause()


async def _layers_int8(pilot: Pilot) -> None:
    """After u u p and l: each layer on ONNX Runtime at int8, the roofline bound and the
    efficiency beside the measured speed-up; the status line names ONNX Runtime · int8."""
    view = await _digits(pilot)
    await pilot.press("u", "u", "p")
    view.show_layers(recorded("layers_int8"))  # type: ignore[arg-type]
    await pilot.pause()
    pilot.app.clear_notifications()


class ModelState(AppState):
    """An AppState that also waits for every animation (the tab underline, the progress bar)
    before the picture is taken."""

    async def run_before(self, pilot: Pilot) -> None:
        """Drive the app into this state; wait until nothing moves."""
        await super().run_before(pilot)
        await pilot.wait_for_scheduled_animations()
        await pilot.pause()


MODEL_STATES: dict[str, AppState] = {
    state.name: state
    for state in (
        ModelState("model_fidelity", _fidelity.__doc__ or "", steps=_fidelity),
        ModelState("model_recovered", _recovered.__doc__ or "", steps=_recovered),
        ModelState("model_stale", _stale.__doc__ or "", steps=_stale),
        ModelState("model_tradeoff", _tradeoff.__doc__ or "", steps=_tradeoff),
        ModelState("model_bad_data", _bad_data.__doc__ or "", steps=_bad_data),
        ModelState("model_layers", _layers.__doc__ or "", steps=_layers),
        ModelState("model_latency_chart", _latency_chart.__doc__ or "", steps=_latency_chart),
        ModelState("model_matrix", _matrix.__doc__ or "", steps=_matrix),
        ModelState("model_layers_int8", _layers_int8.__doc__ or "", steps=_layers_int8),
        ModelState(
            "model_layers_int8_wide",
            "After u u p and l at 160×50: Bound and Efficiency beside the measured speed-up.",
            size=(160, 50),
            steps=_layers_int8,
        ),
        ModelState(
            "model_tradeoff_small",
            "The trade-off at 80×24: the curve in words, narrow columns.",
            size=(80, 24),
            steps=_tradeoff,
        ),
        ModelState(
            "model_tradeoff_wide",
            "The trade-off at 160×50: every column, both charts.",
            size=(160, 50),
            steps=_tradeoff,
        ),
    )
}
