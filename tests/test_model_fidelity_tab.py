"""The Model tab keeps the model working: data, f, r/R, +/-, m, g and e, on the digits CNN."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from app_states import RESNET18_ANALYSIS, settle, type_into, until
from model_states import DIGITS_DATA, DIGITS_SOURCE, _digits, recorded, recorded_analysis
from textual.pilot import Pilot
from textual.widgets import Input, Static

from sepconv_tui.ipc.wire import decode, encode
from sepconv_tui.model.describe.source import parse_source
from sepconv_tui.model.results.fidelity_result import Fidelity, LayerFidelity
from sepconv_tui.model.swapping.job import ModelJob
from sepconv_tui.model.vocabulary.analysis import ModelAnalysis, Selection
from sepconv_tui.report import model_fidelity
from sepconv_tui.tui.app import SepConvApp
from sepconv_tui.tui.widgets.model.table import ModelTable
from sepconv_tui.tui.widgets.model.view import ModelView
from sepconv_tui.tui.widgets.quiet_footer import shown_keys
from sepconv_tui.workers.model_messages import (
    FidelityMeasured,
    MeasureFidelity,
    ModelRecovered,
    RecoverModel,
    TradeoffMeasured,
)


def text_of(app: SepConvApp, selector: str) -> str:
    """The plain text a Static shows."""
    return str(app.query_one(selector, Static).render())


def cell(app: SepConvApp, row: str, column: str) -> str:
    """A table cell's plain text."""
    return str(app.query_one(ModelTable).get_cell(row, column))


async def cursor_to(pilot: Pilot, name: str) -> None:
    """Move the table's cursor to layer ``name``'s row."""
    table = pilot.app.query_one(ModelTable)
    table.move_cursor(row=table.get_row_index(name), animate=False)
    await pilot.pause()


@pytest.mark.deploy  # r writes swapped.onnx too
async def test_a_user_types_model_weights_data_then_f_r_plus_minus_g_e(
    digits: dict[str, Any], tmp_path: Path
) -> None:
    """The whole path against a real child: f measures, r recovers, +/- mark it stale and back,
    g picks the largest prefix keeping 99%, e writes the recovered model's folder."""
    app = SepConvApp(export_dir=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f6")
        await settle(pilot)
        view = app.query_one(ModelView)
        await type_into(pilot, "model-source", digits["source"])
        await type_into(pilot, "model-weights", str(digits["weights"]))
        await type_into(pilot, "model-data", str(digits["data"]))
        await pilot.press("enter")
        await until(pilot, lambda: view.analysis is not None and not view.running, "the analysis")
        assert app.focused is app.query_one(ModelTable)
        await pilot.press("a")

        await pilot.press("f")
        assert view.working
        await until(pilot, lambda: view.session.fidelity is not None and not view.working, "f")
        fidelity = view.session.fidelity.value  # type: ignore[union-attr]
        assert fidelity is not None and fidelity.evaluated == 359  # the test split: the last fifth
        assert fidelity.original_accuracy is not None and fidelity.original_accuracy > 0.95
        assert fidelity.swapped_accuracy is not None and fidelity.swapped_accuracy < 0.5
        assert {layer.name for layer in fidelity.layers} == set(view.analysis.swapped_names)  # type: ignore[union-attr]
        shown = text_of(app, "#model-fidelity")
        assert "Test split (359 samples, 4 swapped): accuracy" in shown and "→" in shown
        assert "split fit 256 · validation 1,182 · test 359" in shown
        assert cell(app, "features.3", "out_err") not in ("", "—")

        await pilot.press("r")
        await until(pilot, lambda: view.session.recovery is not None and not view.working, "r")
        recovery = view.session.recovery.value  # type: ignore[union-attr]
        assert recovery is not None and [stage.stage for stage in recovery.stages] == [
            "svd",
            "reconstruct",
        ]
        reconstructed = recovery.stages[-1].swapped_accuracy
        assert reconstructed is not None and reconstructed > 0.9
        assert "SVD only" in text_of(app, "#model-fidelity")
        assert "reconstructed" in text_of(app, "#model-fidelity")
        assert not view.session.fidelity_stale
        # make test installs the [deploy] extra: r writes swapped.onnx beside swapped.pt
        assert recovery.onnx is not None and recovery.onnx_error is None
        assert recovery.onnx["depthwise_nodes"] >= 4 and recovery.onnx["relative_error"] < 1e-4
        assert "swapped.onnx: " in text_of(app, "#model-fidelity")

        await cursor_to(pilot, "features.3")
        before = cell(app, "features.3", "sep_macs")
        await pilot.press("plus")
        assert view.analysis is not None
        assert view.analysis.multipliers["features.3"] == 2
        assert cell(app, "features.3", "m") == "2"
        assert cell(app, "features.3", "sep_macs") != before
        assert view.session.fidelity_stale and "stale" in text_of(app, "#model-fidelity")
        await pilot.press("minus")
        assert view.analysis.multipliers["features.3"] == 1
        assert not view.session.fidelity_stale  # the same selection and m as measured again

        await pilot.press("g")
        await until(pilot, lambda: view.session.frontier is not None and not view.working, "g")
        frontier = view.session.frontier.value.frontier  # type: ignore[union-attr]
        chosen = frontier.point
        assert chosen is not None and chosen.measured and (chosen.agreement or 0) >= 0.99
        assert view.session.frontier_at == frontier.chosen
        assert app.query_one("#model-tradeoff").display
        assert chosen.summary in text_of(app, "#model-status")
        await pilot.press("left")  # along the frontier, not the table's columns
        assert view.session.frontier_at == (frontier.chosen or 0) - 1 or frontier.chosen == 0
        await pilot.press("right", "enter")
        assert view.session.frontier_at is None
        assert view.analysis.swapped_names == set(chosen.plan)
        assert {name: view.analysis.multipliers[name] for name in chosen.plan} == chosen.plan

        await pilot.press("e")
        await pilot.pause()
        folders = list(tmp_path.glob("*-recovered"))
        assert len(folders) == 1
        assert {path.name for path in folders[0].iterdir()} == {
            "swapped.pt",
            "swapped.onnx",
            "plan.json",
            "fidelity.json",
        }
        saved = json.loads((folders[0] / "fidelity.json").read_text())
        assert [stage["stage"] for stage in saved["stages"]] == ["svd", "reconstruct"]
        assert list(tmp_path.glob("*-fidelity.json"))


async def test_escape_cancels_a_running_distillation_and_keeps_the_last_result(
    digits: dict[str, Any],
) -> None:
    """R starts distilling (a bar per stage); escape kills it: the fidelity shown stays."""
    app = SepConvApp()
    async with app.run_test(size=(120, 40)) as pilot:
        view = await _digits(pilot)
        view.session.weights = str(digits["weights"])
        data = app.query_one("#model-data", Input)
        data.value = str(digits["data"])
        view.show_work(recorded("fidelity"))
        await pilot.pause()
        source = app.query_one("#model-source", Input)
        with source.prevent(Input.Changed):
            source.value = digits["source"]
        view.session.analysis = replace(view.analysis, source=digits["source"])  # type: ignore[arg-type]
        shown = view.session.fidelity
        await pilot.press("R")
        label = app.query_one("#model-progress-label")
        await until(pilot, lambda: "Distilling" in str(label.render()), "the distillation")
        assert app.query_one("#model-progress").display
        await pilot.press("escape")
        assert not view.working
        assert "Cancelled" in text_of(app, "#model-status")
        assert view.session.fidelity is shown and view.session.recovery is None
        assert not app.query_one("#model-progress").display


async def test_bad_data_is_named_under_the_data_field_and_the_fidelity_stays(
    digits: dict[str, Any],
) -> None:
    """synthetic:0 is caught before any child; a missing file by the child: both under Data."""
    app = SepConvApp()
    async with app.run_test(size=(120, 40)) as pilot:
        view = await _digits(pilot)
        view.session.weights = str(digits["weights"])
        view.session.analysis = replace(view.analysis, source=digits["source"])  # type: ignore[arg-type]
        view.show_work(recorded("fidelity"))
        shown = view.session.fidelity
        data = app.query_one("#model-data", Input)
        for text, expected, child in (
            ("synthetic:0", "synthetic:N needs a whole number", False),
            ("", "no data given", False),
            (str(digits["dir"] / "missing.pt"), "missing.pt", True),
        ):
            with data.prevent(Input.Changed):
                data.value = text
            await pilot.press("f")
            assert view.working is child
            await until(pilot, lambda: not view.working, "the child's answer")
            assert data.has_class("-invalid"), text
            assert expected in text_of(app, "#model-error"), text
            assert view.session.fidelity is shown
        with data.prevent(Input.Changed):
            data.value = str(digits["data"])
        await pilot.press("f")
        await until(pilot, lambda: not view.working, "f")
        assert not data.has_class("-invalid")
        assert view.session.fidelity is not shown and not view.session.fidelity_stale


async def test_m_cycles_the_selection_through_1_2_and_auto() -> None:
    """m: every swapped layer at 2, then at auto:0.9 (from the recorded kept energies), then 1;
    arithmetic only, so the totals follow at once."""
    app = SepConvApp()
    async with app.run_test(size=(120, 40)) as pilot:
        view = await _digits(pilot)
        analysis = view.analysis
        assert analysis is not None
        names = analysis.swapped_names
        await pilot.press("m")
        assert {view.analysis.multipliers[name] for name in names} == {2}  # type: ignore[union-attr]
        assert view.analysis.swapped.params > analysis.swapped.params  # type: ignore[union-attr]
        await pilot.press("m")
        auto = analysis.auto_multipliers(0.9)
        assert view.analysis.multipliers == auto  # type: ignore[union-attr]
        assert cell(app, "features.10", "m") == str(auto["features.10"])
        await pilot.press("m")
        assert set(view.analysis.multipliers.values()) == {1}  # type: ignore[union-attr]


async def test_auto_without_weights_says_so_under_the_weights_field() -> None:
    """resnet18 analysed without weights: auto:0.9 cannot be worked out; + and - still can."""
    app = SepConvApp()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f6")
        await settle(pilot)
        view = app.query_one(ModelView)
        view.show_analysis(ModelAnalysis.from_dict(json.loads(RESNET18_ANALYSIS.read_text())))
        await pilot.press("escape")
        await pilot.press("m", "m")  # 1 → 2 → auto:0.9, which needs the weights
        assert app.query_one("#model-weights", Input).has_class("-invalid")
        assert "give the model's weights" in text_of(app, "#model-error")
        assert set(view.analysis.multipliers.values()) == {2}  # type: ignore[union-attr]
        await cursor_to(pilot, "layer1.0.conv1")
        await pilot.press("minus")
        assert view.analysis.multipliers["layer1.0.conv1"] == 1  # type: ignore[union-attr]
        assert "per-layer m 1–2" in text_of(app, "#model-summary")


def fabricated_fidelity(analysis: ModelAnalysis) -> Fidelity:
    """A fidelity of every swapped layer with wide figures, to size the columns with."""
    layers = tuple(
        LayerFidelity(layer.name, 1, 0.812345, 0.123456, 0.654321)
        for layer in analysis.layers
        if layer.swap
    )
    return Fidelity(500, 0.5, 0.9, 0.95, 0.9, layers, "svd")


async def test_every_column_fits_at_80_and_160_columns_with_the_fidelity() -> None:
    """resnet18's longest names with m, Out err and Net err: no sideways scrolling at 80×24
    (weight error, params and kernel dropped) nor at 160×50 (channels, separable params)."""
    analysis = ModelAnalysis.from_dict(json.loads(RESNET18_ANALYSIS.read_text()))
    layouts = (
        ((80, 24), {"error", "params", "kernel", "sep_params"}),
        ((160, 50), {"channels", "sep_params"}),
    )
    for size, dropped in layouts:
        app = SepConvApp()
        async with app.run_test(size=size) as pilot:
            await pilot.press("f6")
            await settle(pilot)
            view = app.query_one(ModelView)
            view.show_analysis(analysis)
            view.show_work(FidelityMeasured(fabricated_fidelity(analysis)))
            await settle(pilot)
            table = app.query_one(ModelTable)
            keys = {str(key.value) for key in table.columns}
            assert {"m", "out_err", "net_err", "swap", "layer", "saving"} <= keys, size
            assert not keys & dropped, size
            assert table.virtual_size.width <= table.size.width, size


def test_tab_columns_put_m_before_saving_and_the_errors_before_swap() -> None:
    """Column order and what goes at each width (torch-free report helpers)."""
    analysis = recorded_analysis()
    plain = [
        key
        for key, _ in model_fidelity.tab_columns(
            analysis, compact=False, narrow=False, measured=False
        )
    ]
    assert plain.index("m") == plain.index("saving") - 1 and "out_err" not in plain
    measured = [
        key
        for key, _ in model_fidelity.tab_columns(analysis, compact=True, narrow=True, measured=True)
    ]
    assert measured[-3:] == ["out_err", "net_err", "swap"]
    assert "error" not in measured and "params" not in measured


def test_the_work_messages_come_back_from_the_wire_as_they_went() -> None:
    """Requests with their tuples and dicts, and the recorded replies, survive JSON."""
    job = ModelJob(
        parse_source("m.py:build"),
        selection=Selection("names", patterns=("a", "b")),
        depth_multiplier={"a": 2, "b": 1},
    )
    request = MeasureFidelity(job=job, data="x.pt")
    assert decode(encode(request)) == request
    recover = RecoverModel(job=job, data="synthetic:8", mode="distill", out_dir="/tmp/x")
    assert decode(encode(recover)) == recover
    for name, kind in (
        ("fidelity", FidelityMeasured),
        ("recovery", ModelRecovered),
        ("tradeoff", TradeoffMeasured),
    ):
        reply = recorded(name)
        assert isinstance(reply, kind) and decode(encode(reply)) == reply


async def test_weights_and_data_come_back_with_their_source() -> None:
    """Another source, then the first again: its weights and data as last entered return,
    unless the user typed new ones in between."""
    app = SepConvApp()
    async with app.run_test(size=(120, 40)) as pilot:
        view = await _digits(pilot)
        view.remember(DIGITS_SOURCE)
        weights = app.query_one("#model-weights", Input)
        data = app.query_one("#model-data", Input)
        view._recall("torchvision:resnet18")  # as an analysis of resnet18 arriving does
        view.session.analysis = replace(view.analysis, source="torchvision:resnet18")  # type: ignore[arg-type]
        weights.value, data.value = "", "synthetic:16"
        view.remember("torchvision:resnet18")
        view._recall(DIGITS_SOURCE)
        assert (weights.value, data.value) == ("digits/digits.pt", DIGITS_DATA)


async def test_g_frontier_left_right_move_along_it_and_enter_applies_a_point() -> None:
    """With g's recorded frontier: the status shows the budget's point; ← and → move along the
    frontier (not the table's columns), enter swaps the point's layers at its m, and escape
    stops browsing with the selection kept. The footer names g's frontier, and ←/→ and enter
    only while it is browsed."""
    app = SepConvApp()
    async with app.run_test(size=(120, 40)) as pilot:
        view = await _digits(pilot)

        def footer() -> set[str]:
            return {description for _key, description, _action, _on in shown_keys(app.screen)}

        browsing = {"Less saved", "More saved", "Apply point's m"}
        assert "Frontier" in footer() and not browsing & footer()
        reply = recorded("frontier")
        view.show_work(reply)
        await pilot.pause()
        assert browsing <= footer()
        frontier = view.session.frontier.value.frontier  # type: ignore[union-attr]
        assert frontier.chosen is not None and view.session.frontier_at == frontier.chosen
        assert app.query_one("#model-tradeoff").display
        assert frontier.points[frontier.chosen].summary in text_of(app, "#model-status")
        table = app.query_one(ModelTable)
        column = table.cursor_column
        await pilot.press("left", "left")
        assert view.session.frontier_at == max(0, frontier.chosen - 2)
        assert table.cursor_column == column
        await pilot.press("right")
        point = frontier.points[view.session.frontier_at]  # type: ignore[index]
        assert point.summary in text_of(app, "#model-status")
        await pilot.press("enter")
        assert view.session.frontier_at is None
        await until(pilot, lambda: not browsing & footer(), "the footer without ←/→ and enter")
        assert view.analysis is not None and view.analysis.swapped_names == set(point.plan)
        assert {name: view.analysis.multipliers[name] for name in point.plan} == point.plan
        # The rows show each layer's own m, not only the totals.
        assert {name: cell(app, name, "m") for name in point.plan} == {
            name: str(m) for name, m in point.plan.items()
        }
        await pilot.press("g", "escape")  # browse again, then stop: the selection stays
        assert view.session.frontier_at is None
        assert view.analysis.swapped_names == set(point.plan)


async def test_after_r_distillation_s_validation_curve_takes_the_chart_s_place() -> None:
    """R's reply carries the curve: the recovery chart shows it in the MACs chart's place;
    the trade-off, once measured, takes that place; r (no distillation) leaves the MACs."""
    app = SepConvApp()
    async with app.run_test(size=(120, 40)) as pilot:
        view = await _digits(pilot)
        reply = recorded("recovery")
        assert isinstance(reply, ModelRecovered) and reply.curve
        plot = model_fidelity.curve_plot(reply.curve)
        assert plot is not None and plot.steps == [point.step for point in reply.curve]
        assert plot.best_step == min(reply.curve, key=lambda point: point.loss).step
        assert f"kept step {plot.best_step:,}" in plot.title
        view.show_work(reply)
        await pilot.pause()
        assert app.query_one("#model-recovery").display
        assert not app.query_one("#model-chart").display
        view.show_work(recorded("tradeoff"))
        await pilot.pause()
        assert app.query_one("#model-tradeoff").display
        assert not app.query_one("#model-recovery").display

    app = SepConvApp()
    async with app.run_test(size=(120, 40)) as pilot:
        view = await _digits(pilot)
        view.show_work(replace(reply, mode="reconstruct", curve=()))
        await pilot.pause()
        assert model_fidelity.curve_plot(()) is None
        assert app.query_one("#model-chart").display
        assert not app.query_one("#model-recovery").display
