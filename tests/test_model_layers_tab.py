"""The Model tab's per-layer latency (``l``, ``u``, ``x``) and its device field: recorded
digits replies where the picture is the point, real children where the child is."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from app_states import settle, type_into, until
from model_states import _digits, _tradeoff, recorded
from rich.text import Text
from textual.widgets import Input, Static

from sepconv_tui.model.vocabulary.runtimes import runtime_label
from sepconv_tui.report.format import format_ratio
from sepconv_tui.tui.app import SepConvApp
from sepconv_tui.tui.widgets.model.table import ModelTable
from sepconv_tui.tui.widgets.model.view import ModelView
from sepconv_tui.workers.model_messages import LayersBenched

TINY = f"{Path(__file__).parent / 'models' / 'tiny_classifier.py'}:build"


def text_of(app: SepConvApp, selector: str) -> str:
    """The plain text a Static shows."""
    return str(app.query_one(selector, Static).render())


def speedup(app: SepConvApp, row: str) -> Any:
    """The Speed-up cell of layer ``row`` (a Text, or "" for a row not timed)."""
    return app.query_one(ModelTable).get_cell(row, "speedup")


def notified(app: SepConvApp) -> str:
    """Every notification shown, one a line."""
    return "\n".join(str(each.message) for each in app._notifications)


def recorded_layers() -> LayersBenched:
    """The digits CNN's layers timed on eager, one thread (tests/data/digits_layers.json)."""
    reply = recorded("layers")
    assert isinstance(reply, LayersBenched)
    return reply


async def test_recorded_timings_fill_the_speed_up_column_and_go_stale_after_plus(
    tmp_path: Path,
) -> None:
    """The Speed-up column shows each row's measured ratio (▼ where far below its MACs), the
    summary the selection's predicted speed-up; + on a row marks both stale, - makes them
    current again; e exports them as bench --per-layer --json writes them."""
    app = SepConvApp(export_dir=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        view = await _digits(pilot)
        reply = recorded_layers()
        view.show_layers(reply)
        await pilot.pause()
        bench = reply.result
        for row in bench.rows:
            cell = speedup(app, row.name)
            assert isinstance(cell, Text)
            assert format_ratio(row.timings["eager"].speed_ratio) in cell.plain
            assert cell.plain.startswith("▼") == row.far_below("eager")
        assert speedup(app, "head") == ""
        predicted = bench.predicted_speed_ratio(view.analysis.swapped_names, "eager")  # type: ignore[union-attr]
        shown = text_of(app, "#model-fidelity")
        assert f"predicted speed-up {format_ratio(predicted)}" in shown
        assert "stale" not in shown

        table = app.query_one(ModelTable)
        table.move_cursor(row=table.get_row_index("features.3"), animate=False)
        await pilot.press("plus")
        assert view.session.layers_stale
        assert "(stale: l times these layers)" in text_of(app, "#model-fidelity")
        assert speedup(app, "features.0").style == "dim"
        await pilot.press("minus")
        assert not view.session.layers_stale
        assert "stale" not in text_of(app, "#model-fidelity").split("Per layer")[1]
        assert speedup(app, "features.0").style != "dim"

        await pilot.press("e")
        await pilot.pause()
        (written,) = tmp_path.glob("*-layers.json")
        assert json.loads(written.read_text()) == bench.to_dict()


async def test_the_speed_up_column_goes_first_at_80_columns() -> None:
    """At 80 columns the table drops Speed-up with the other wide columns; the summary keeps
    the predicted speed-up."""
    app = SepConvApp()
    async with app.run_test(size=(80, 24)) as pilot:
        view = await _digits(pilot)
        view.show_layers(recorded_layers())
        await pilot.pause()
        keys = {str(key.value) for key in app.query_one(ModelTable).columns}
        assert "speedup" not in keys and "swap" in keys
        assert "predicted speed-up" in text_of(app, "#model-fidelity")


async def test_x_says_what_is_missing_then_plots_latency_and_u_cycles_the_runtime() -> None:
    """x before g and l names both; after both, the trade-off plots measured latency (and
    back); u moves l to eager channels-last, so the eager timings shown go stale."""
    app = SepConvApp()
    async with app.run_test(size=(120, 40)) as pilot:
        view = await _digits(pilot)
        await pilot.press("x")
        assert "a trade-off (g) and layer timings (l)" in notified(app)
        assert not view.session.latency_axis
    app = SepConvApp()
    async with app.run_test(size=(120, 40)) as pilot:
        await _tradeoff(pilot)
        view = app.query_one(ModelView)
        view.show_layers(recorded_layers())
        await pilot.press("x")
        assert view.session.latency_axis and view.session.latency_axis_points() is not None
        await pilot.press("x")
        assert not view.session.latency_axis
        await pilot.press("u")
        assert view.session.runtime == "eager_channels_last" and view.session.layers_stale
        assert f"l times on {runtime_label('eager_channels_last')}" in notified(app)


async def test_a_device_that_cannot_run_is_named_under_the_device_field(
    digits: dict[str, Any],
) -> None:
    """f with Device "gpu": the child's DeviceError (field "device") under the Device field,
    the fidelity shown kept."""
    app = SepConvApp()
    async with app.run_test(size=(120, 40)) as pilot:
        view = await _digits(pilot)
        view.session.weights = str(digits["weights"])
        view.show_work(recorded("fidelity"))
        shown = view.session.fidelity
        for field_id, text in (("model-data", str(digits["data"])), ("model-device", "gpu")):
            field = app.query_one(f"#{field_id}", Input)
            with field.prevent(Input.Changed):
                field.value = text
        await pilot.press("f")
        await until(pilot, lambda: not view.working, "the device error")
        error = text_of(app, "#model-error")
        assert "'gpu'" in error and "cpu, cuda, auto" in error
        assert app.query_one("#model-device", Input).has_class("-invalid")
        assert not app.query_one("#model-data", Input).has_class("-invalid")
        assert view.session.fidelity is shown


async def test_l_times_each_layer_of_a_tiny_model_in_a_real_child() -> None:
    """l on tests/models/tiny_classifier.py: a progress row, then a Speed-up for each conv
    and the predicted speed-up in the summary."""
    app = SepConvApp()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f6")
        await settle(pilot)
        view = app.query_one(ModelView)
        view.layers_min_run_time = 0.01
        await type_into(pilot, "model-source", TINY)
        await pilot.press("enter")
        await until(pilot, lambda: view.analysis is not None and not view.running, "analysis")
        await pilot.press("a", "l")
        assert view.timing_layers and app.query_one("#model-progress").display
        await until(pilot, lambda: view.session.layers is not None, "the layer timings")
        assert not view.timing_layers and not app.query_one("#model-progress").display
        layers = view.session.layers.value  # type: ignore[union-attr]
        assert {row.name for row in layers.rows} == {"conv1", "conv2"}
        for name in ("conv1", "conv2"):
            assert "×" in speedup(app, name).plain
            # the roofline bound beside it: this machine's limits, measured once (cached)
            bound = app.query_one(ModelTable).get_cell(name, "bound")
            assert "×" in bound.plain
        assert "predicted speed-up" in text_of(app, "#model-fidelity")


def children(pid: int) -> list[int]:
    """The processes ``pid`` started and that still run (Linux's /proc; [] without it)."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children", encoding="utf-8") as listing:
            return [int(child) for child in listing.read().split()]
    except OSError:
        return []


def ended(pid: int) -> bool:
    """True once process ``pid`` is gone (or a zombie no one reaped yet)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as stat:
            return stat.read().split(") ", 1)[1][0] == "Z"
    except OSError:
        return True


async def test_escape_cancels_l_and_kills_its_child() -> None:
    """escape while l runs: the child is killed, and so is the timing process it started (it
    ends when its parent dies); the status says so, no timings appear."""
    app = SepConvApp()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f6")
        await settle(pilot)
        view = app.query_one(ModelView)
        view.layers_min_run_time = 600.0  # far longer than any test waits
        await type_into(pilot, "model-source", TINY)
        await pilot.press("enter")
        await until(pilot, lambda: view.analysis is not None and not view.running, "analysis")
        await pilot.press("l")
        process = view._layers.process
        await until(pilot, lambda: process._running is not None, "the child to take l")
        child = process._process
        assert child is not None
        timing: list[int] = []

        def started() -> bool:
            timing[:] = children(child.pid)
            return bool(timing)

        if Path("/proc/self/task").exists():  # the timing process, the model child's child
            await until(pilot, started, "l's timing process")
        await pilot.press("escape")
        assert not view.timing_layers
        assert "Layer timing cancelled" in text_of(app, "#model-status")
        assert not app.query_one("#model-progress").display
        await until(pilot, lambda: child.poll() is not None, "the child to end")
        await until(pilot, lambda: all(ended(pid) for pid in timing), "the timing process to end")
        assert view.session.layers is None


async def test_l_after_g_times_each_rung_of_the_frontier_on_the_runtime(
    monkeypatch: Any,
) -> None:
    """With g's frontier on hand, l's timings arriving start the frontier again with each rung
    timed on the session's runtime (the fidelity process keeps the table); a frontier whose
    rungs are timed on that runtime asks nothing more, and none is asked without a frontier."""
    from dataclasses import replace

    from sepconv_tui.model.results.sensitivity_result import RungTiming
    from sepconv_tui.workers.model_messages import FrontierMeasured, MeasureFrontier

    app = SepConvApp()
    async with app.run_test(size=(120, 40)) as pilot:
        view = await _digits(pilot)
        started: list[Any] = []
        monkeypatch.setattr(view._work, "start", started.append)
        view._layers_done(recorded_layers())  # no frontier yet: nothing more
        assert started == []
        frontier = recorded("frontier")
        assert isinstance(frontier, FrontierMeasured)
        view.show_work(frontier)
        view._layers_done(recorded_layers())
        (request,) = started
        assert isinstance(request, MeasureFrontier)
        assert request.seconds_on == view.session.runtime and request.data == view.session.data
        assert "Timing each rung of the frontier" in text_of(app, "#model-status")
        timing = RungTiming(view.session.runtime, 1, "cpu", 1e-3, 1e-5, {}, {})
        timed = replace(frontier, sensitivity=replace(frontier.sensitivity, timing=timing))
        view._work_done(timed)
        view._layers_done(recorded_layers())
        assert len(started) == 1
