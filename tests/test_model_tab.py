"""The Model tab: a real analysis in the child process, toggles, the Layer tab, errors, export."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from app_states import RESNET18_ANALYSIS, settle, type_into, until
from key_bursts import post_keys
from textual.pilot import Pilot
from textual.widgets import Input, Static

from sepconv_tui.core import analytic
from sepconv_tui.core.figures import Figures
from sepconv_tui.core.spec import LayerSpec
from sepconv_tui.errors import UserError
from sepconv_tui.ipc.serve import Report, answer
from sepconv_tui.ipc.wire import Failed, Message, Reply, decode, encode
from sepconv_tui.model.describe.layer_spec import LayerFitError, layer_spec
from sepconv_tui.model.describe.source import ModelSourceError, parse_source
from sepconv_tui.model.swapping.job import ModelJob
from sepconv_tui.model.vocabulary.analysis import ModelAnalysis, parse_selection
from sepconv_tui.model.vocabulary.plan import SwapPlan
from sepconv_tui.progress import Progress
from sepconv_tui.report import model_cells
from sepconv_tui.report import model_tab as tab_report
from sepconv_tui.tui.app import SepConvApp
from sepconv_tui.tui.runner import ChildEvent
from sepconv_tui.tui.widgets.model.table import TOTAL_ROW, ModelTable
from sepconv_tui.tui.widgets.model.view import ModelView, export_stem
from sepconv_tui.workers.layer_messages import BenchLayer, Measured, MeasureLayer, VerifyNetwork
from sepconv_tui.workers.model_messages import (
    AnalyseModel,
    BenchModel,
    ListModels,
    ModelAnalysed,
    ModelNames,
)

RESNET18_PARAMS = 11_689_512
RESNET18_ALL_SWAPPED = 1_946_107


def job(source: str, **fields: Any) -> ModelJob:
    """A model job on ``source`` (parsed here, as the app parses what is typed)."""
    return ModelJob(parse_source(source), **fields)


def measure_figures_stub() -> Figures:
    """Closed-form figures of the reference layer, standing in for PyTorch's."""
    return analytic.figures(LayerSpec())


def recorded() -> ModelAnalysis:
    """The recorded resnet18 analysis (default selection: every candidate)."""
    return ModelAnalysis.from_dict(json.loads(RESNET18_ANALYSIS.read_text()))


def text_of(app: SepConvApp, selector: str) -> str:
    """The plain text a Static shows."""
    return str(app.query_one(selector, Static).render())


async def model_tab(pilot: Pilot, analysis: ModelAnalysis | None = None) -> ModelView:
    """Show the Model tab (with ``analysis`` fed in, no child process) and return its view."""
    await pilot.press("f6")
    await settle(pilot)
    view = pilot.app.query_one(ModelView)
    if analysis is not None:
        view.show_analysis(analysis)
        await pilot.press("escape")  # to the table
        await pilot.pause()
    return view


async def cursor_to(pilot: Pilot, name: str) -> None:
    """Move the table's cursor to the row of layer ``name``."""
    table = pilot.app.query_one(ModelTable)
    table.move_cursor(row=table.get_row_index(name), animate=False)
    await pilot.pause()


async def test_resnet18_analysed_in_the_child_then_toggled_by_keys() -> None:
    """Typing torchvision:resnet18 + enter: 11,689,512 params; a → 1.95M, n → as is, space."""
    app = SepConvApp()
    async with app.run_test(size=(120, 40)) as pilot:
        view = await model_tab(pilot)
        assert app.focused is app.query_one("#model-source")  # nothing analysed: type first
        await type_into(pilot, "model-source", "torchvision:resnet1")
        await settle(pilot)  # the names arrive from the child: the field suggests
        assert app.query_one("#model-source", Input)._suggestion.startswith("torchvision:resnet1")
        await pilot.press("8", "enter")
        await settle(pilot)
        analysis = view.analysis
        assert analysis is not None and analysis.source == "torchvision:resnet18"
        assert analysis.original.params == RESNET18_PARAMS
        assert analysis.verified == {"params": True, "macs": True, "shapes": True}
        assert "11,689,512 (11.69M)" in text_of(app, "#model-summary")
        table = app.query_one(ModelTable)
        assert table.row_count == len(analysis.layers) + 2  # other ops, totals

        await pilot.press("escape")
        assert app.focused is table
        await pilot.press("n")
        assert view.analysis is not None
        assert view.analysis.swapped == view.analysis.original
        assert "Swapped 0 of 17" in text_of(app, "#model-summary")
        await pilot.press("a")
        assert view.analysis.swapped.params == RESNET18_ALL_SWAPPED
        assert "1,946,107 (1.95M)" in text_of(app, "#model-summary")
        assert "Swapped 17 of 17" in text_of(app, "#model-summary")

        await cursor_to(pilot, "layer1.0.conv2")
        await pilot.press("space")
        assert view.analysis.swapped_names == analysis.swapped_names - {"layer1.0.conv2"}
        assert "Swapped 16 of 17" in text_of(app, "#model-summary")
        assert str(table.get_cell("layer1.0.conv2", "swap")) == "·"
        await pilot.press("space")
        assert "layer1.0.conv2" in view.analysis.swapped_names
        assert str(table.get_cell("layer1.0.conv2", "swap")) == "✔"


async def test_bad_source_shows_the_suggestion_and_keeps_the_last_analysis() -> None:
    """torchvision:resnet5O: the engine's "did you mean 'resnet50'" in place, resnet18 stale."""
    app = SepConvApp()
    async with app.run_test(size=(120, 40)) as pilot:
        view = await model_tab(pilot, recorded())
        await type_into(pilot, "model-source", "torchvision:resnet5O")
        await pilot.press("enter")
        await settle(pilot)
        assert "did you mean 'resnet50'" in text_of(app, "#model-error")
        assert app.query_one("#model-source").has_class("-invalid")
        assert view.stale and view.has_class("-stale")
        assert view.analysis is not None and view.analysis.source == "torchvision:resnet18"
        assert "Stale" in text_of(app, "#model-status")


async def test_bad_text_is_caught_before_any_child_process() -> None:
    """A source without a form and a malformed input shape are reported in place at once."""
    app = SepConvApp()
    async with app.run_test(size=(120, 40)) as pilot:
        view = await model_tab(pilot)
        await type_into(pilot, "model-source", "resnet18")
        await pilot.press("enter")
        assert "SOURCE must be torchvision:NAME" in text_of(app, "#model-error")
        assert not view.running and view.analysis is None
        await type_into(pilot, "model-source", "torchvision:resnet18")
        await type_into(pilot, "model-input-shape", "1,3")
        await pilot.press("enter")
        # The engine's words, under the Input field: no CLI flag in them.
        message = text_of(app, "#model-error")
        assert "must be 3 to 5 whole numbers" in message and "--" not in message
        assert app.query_one("#model-input-shape").has_class("-invalid")
        assert not view.running


async def test_escape_cancels_a_running_analysis() -> None:
    """Escape while the child works: nothing shown, the status says cancelled, no late result."""
    app = SepConvApp()
    async with app.run_test(size=(120, 40)) as pilot:
        view = await model_tab(pilot)
        await type_into(pilot, "model-source", "torchvision:resnet18")
        await pilot.press("enter")
        assert view.running
        await pilot.press("escape")
        assert not view.running
        assert "Cancelled" in text_of(app, "#model-status")
        await settle(pilot)
        assert view.analysis is None


async def test_enter_opens_a_conv_in_the_layer_tab() -> None:
    """Enter on layer2.0.conv1 fills the form with its geometry and input; on fc it says why not."""
    app = SepConvApp()
    async with app.run_test(size=(120, 40)) as pilot:
        await model_tab(pilot, recorded())
        await cursor_to(pilot, "fc")
        await pilot.press("enter")
        await pilot.pause()
        assert app.active_tab == "model"
        await cursor_to(pilot, "layer2.0.conv1")
        await pilot.press("enter")
        await settle(pilot)
        assert app.active_tab == "layer"
        assert app.comparison is not None
        assert app.comparison.spec == LayerSpec(
            in_channels=64,
            out_channels=128,
            kernel_size=3,
            stride=2,
            padding=1,
            bias=False,
            height=56,
            width=56,
        )


async def test_export_writes_markdown_json_csv_and_the_plan(tmp_path: Path) -> None:
    """e: the four files of what the tab shows; the plan names exactly the swapped convs."""
    app = SepConvApp(export_dir=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        view = await model_tab(pilot, recorded())
        await pilot.press("t", "e")
        await pilot.pause()
        assert view.analysis is not None
        stem = tmp_path / "sepconv-model-torchvision-resnet18"
        exported = json.loads(stem.with_suffix(".json").read_text())
        assert exported == view.analysis.to_dict() and exported["swapped_count"] == 10
        plan = SwapPlan.from_dict(json.loads(Path(f"{stem}-plan.json").read_text()))
        assert set(plan.swapped) == view.analysis.swapped_names
        assert plan.source == "torchvision:resnet18" and plan.input_shape == (1, 3, 224, 224)
        rows = list(csv.reader(io.StringIO(stem.with_suffix(".csv").read_text())))
        assert rows[-1][0] == "total" and int(rows[-1][-1]) == 10
        assert "| conv1 |" in stem.with_suffix(".md").read_text()


async def test_narrow_terminal_gets_compact_columns() -> None:
    """At 80×24 the table drops shapes, channels and the separable columns, and the chart."""
    app = SepConvApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await model_tab(pilot, recorded())
        keys = [column.value for column in app.query_one(ModelTable).columns]
        assert keys == ["layer", "kernel", "params", "macs", "m", "saving", "swap"]
        assert not app.query_one("#model-charts").display  # the chart and the trade-off


def test_layer_spec_of_a_model_conv_and_why_not() -> None:
    """A square conv becomes its LayerSpec; rectangular, grouped and linear layers say why not."""
    analysis = recorded()
    layers = {layer.name: layer for layer in analysis.layers}
    assert layer_spec(layers["conv1"]) == LayerSpec(
        in_channels=3,
        out_channels=64,
        kernel_size=7,
        stride=2,
        padding=3,
        bias=False,
        height=224,
        width=224,
    )
    with pytest.raises(LayerFitError, match="not a Conv2d"):
        layer_spec(layers["fc"])
    with pytest.raises(LayerFitError, match="kernel size 1×7"):
        layer_spec(replace(layers["conv1"], kernel_size=(1, 7)))
    with pytest.raises(LayerFitError, match="groups=2"):
        layer_spec(replace(layers["conv1"], groups=2))
    same = replace(layers["layer1.0.conv1"], padding="same")
    assert layer_spec(same).padding == 1


def test_summary_and_stages_follow_the_selection() -> None:
    """Exact and short figures, both ratios, k of n; the stages add up to the layers' MACs."""
    analysis = recorded().select("none")
    lines = tab_report.summary_lines(analysis)
    assert "11,689,512 (11.69M) → 11,689,512 (11.69M): 1.00× fewer" in lines[1]
    assert "Swapped 0 of 17 candidates" in lines[3] and "agree" in lines[3]
    stages = tab_report.stage_macs(analysis)
    assert [stage.label for stage in stages] == [
        "conv1",
        "layer1",
        "layer2",
        "layer3",
        "layer4",
        "fc",
    ]
    assert sum(stage.original for stage in stages) == analysis.original.macs - analysis.other.macs
    swapped = analysis.select("all")
    assert sum(stage.selected for stage in tab_report.stage_macs(swapped)) == (
        swapped.swapped.macs - swapped.other.macs
    )
    assert "6.01× fewer" in tab_report.summary_lines(swapped)[1]


def test_export_stem_names_the_source() -> None:
    """Files are named after the model, without the path of a file source."""
    assert export_stem("torchvision:resnet18") == "sepconv-model-torchvision-resnet18"
    assert export_stem("models/my_net.py:build") == "sepconv-model-my_net.py-build"


async def test_escape_cancels_a_running_benchmark() -> None:
    """Escape during b stops the child; no result arrives later."""
    app = SepConvApp()
    async with app.run_test(size=(120, 40)) as pilot:
        view = await model_tab(pilot, recorded())
        await pilot.press("b")
        assert view.benchmarking
        await pilot.press("escape")
        assert not view.benchmarking
        await settle(pilot)
        assert view.bench_result is None
        assert "cancelled" in text_of(app, "#model-status")


async def test_a_model_file_with_weights_shows_each_layers_error(tmp_path: Path) -> None:
    """A file.py:callable source and a state_dict: the table gains the SVD error column."""
    import torch

    from sepconv_tui.model.describe.source import build_model

    torch.manual_seed(0)
    source = "tests/models/custom_model.py:build"
    weights = tmp_path / "custom.pt"
    torch.save(build_model(source, real=True).module.state_dict(), weights)
    app = SepConvApp()
    async with app.run_test(size=(160, 50)) as pilot:
        view = await model_tab(pilot)
        await type_into(pilot, "model-source", source)
        await type_into(pilot, "model-weights", str(weights))
        await pilot.press("enter")
        await settle(pilot)
        assert view.analysis is not None and view.analysis.source == source
        errors = {layer.name: layer.weight_error for layer in view.analysis.candidates}
        assert set(errors) == {"stem", "same", "reflect", "shared"}
        assert all(error is not None and 0 < error < 1 for error in errors.values())
        table = app.query_one(ModelTable)
        assert "error" in [column.value for column in table.columns]
        assert str(table.get_cell("stem", "error")) == f"{errors['stem']:.3f}"
        await type_into(pilot, "model-weights", str(tmp_path / "missing.pt"))
        await pilot.press("enter")
        await settle(pilot)
        assert app.query_one("#model-weights").has_class("-invalid")
        assert "does not exist" in text_of(app, "#model-error") and view.stale


async def test_home_and_end_go_to_the_first_and_the_last_row() -> None:
    """End: the totals row (not the last column); home: conv1 again (not the first column)."""
    app = SepConvApp()
    async with app.run_test(size=(120, 40)) as pilot:
        await model_tab(pilot, recorded())
        table = app.query_one(ModelTable)
        await cursor_to(pilot, "layer2.0.conv1")
        await pilot.press("end")
        assert table.cursor_key == TOTAL_ROW
        await pilot.press("home")
        assert table.cursor_key == "conv1"
        assert table.scroll_x == 0


async def test_keys_typed_at_once_across_tabs_end_where_the_last_one_says() -> None:
    """F6 then F2 in one burst, as a fast user types them: the Layer tab, its results focused;
    F6 alone: the Model tab, its source field focused; the last key's tab wins every time."""
    app = SepConvApp()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await post_keys(app, ("f6", "f2"), 0)
        await settle(pilot)
        assert app.active_tab == "layer" and app.focused is app.query_one("#results")
        await post_keys(app, ("f6",), 0)
        await settle(pilot)
        assert app.active_tab == "model" and app.focused is app.query_one("#model-source")
        await post_keys(app, ("f2", "f6", "f2"), 0)  # the Model tab mounted: no wait for it
        await settle(pilot)
        assert app.active_tab == "layer" and app.focused is app.query_one("#results")


async def test_an_error_goes_under_the_field_its_field_attribute_names() -> None:
    """A Failed reply's field, not its text, picks the input; an unnamed field is the source's."""
    app = SepConvApp()
    async with app.run_test(size=(120, 40)) as pilot:
        view = await model_tab(pilot)
        for field, input_id in (
            ("weights", "model-weights"),
            ("input_shape", "model-input-shape"),
            (None, "model-source"),
        ):
            # A request the child never sees, answered here as the child would answer it.
            runner = view._analysis
            runner.call = call = runner.process.call(AnalyseModel(job("torchvision:resnet18")))
            view.post_message(ChildEvent(runner, call, error=UserError("it failed", field=field)))
            await pilot.pause()
            assert "it failed" in text_of(app, "#model-error")
            inputs = ("model-source", "model-input-shape", "model-weights")
            invalid = [name for name in inputs if app.query_one(f"#{name}").has_class("-invalid")]
            assert invalid == [input_id]


@pytest.mark.parametrize(
    "message",
    [
        MeasureLayer(LayerSpec(in_channels=8)),
        Measured(measure_figures_stub()),
        VerifyNetwork("mobilenet_v1", 0.5, 160),
        BenchLayer(LayerSpec(), "cpu", 2),
        ListModels(),
        ModelNames(["torchvision:resnet18"]),
        AnalyseModel(job("torchvision:resnet18", input_shape=(1, 3, 64, 64), weights="w.pt")),
        ModelAnalysed(recorded()),
        BenchModel(
            job(
                "torchvision:resnet18",
                input_shape=(1, 3, 224, 224),
                selection=parse_selection("top:3"),
                depth_multiplier=2,
            ),
            min_run_time=0.1,
        ),
        Progress("bench", 1, 3, "timing the original model"),
        Failed("'x.pt' does not exist", "weights"),
    ],
    ids=lambda message: message.kind,
)
def test_each_message_comes_back_from_the_wire_as_it_went(message: Message) -> None:
    """encode → one JSON line → decode gives an equal message, for every kind both sides use."""
    line = encode(message)
    assert line.endswith("\n") and line.count("\n") == 1
    assert decode(line) == message


def test_a_user_error_in_a_child_answers_failed_with_its_field() -> None:
    """The server loop keeps UserError.field; other errors name their type and no field."""

    def analyse(request: AnalyseModel, report: Report) -> Reply:
        raise ModelSourceError("'x.pt' does not exist", field="weights")

    def names(request: ListModels, report: Report) -> Reply:
        raise KeyError("boom")

    handlers = {AnalyseModel: analyse, ListModels: names}
    with_weights = encode(AnalyseModel(job("torchvision:resnet18", weights="x.pt")))
    assert answer(with_weights, handlers) == Failed("'x.pt' does not exist", "weights")
    assert answer(encode(ListModels()), handlers) == Failed("KeyError: 'boom'", None)
    for line in ("not json\n", encode(MeasureLayer(LayerSpec()))):  # not a message; not its
        failed = answer(line, handlers)
        assert isinstance(failed, Failed) and failed.field is None


async def test_a_child_that_dies_is_named_with_its_log_and_the_next_enter_starts_a_new_one() -> (
    None
):
    """The analysis process killed from outside mid-request: the error says it stopped and
    names its log; enter again starts a fresh process, whose analysis arrives."""
    app = SepConvApp()
    async with app.run_test(size=(120, 40)) as pilot:
        view = await model_tab(pilot)
        await type_into(pilot, "model-source", "tests/models/stuck_model.py:build")
        await pilot.press("enter")
        process, runner = view._analysis.process, view._analysis
        await until(  # the model names, asked first, have their answer: the analysis runs
            pilot,
            lambda: (
                runner.call is not None
                and process.answering is runner.call
                and process.popen is not None
            ),
            "the analysis to run",
        )
        first = process.popen
        assert first is not None and view.running  # building a model that never finishes
        first.kill()
        await until(pilot, lambda: not view.running, "the runner to hear of the death")
        error = text_of(app, "#model-error")
        assert "stopped" in error and str(process.log) in error and "press enter" in error
        assert process.log is not None and process.log.exists()
        assert view.analysis is None
        await type_into(pilot, "model-source", "tests/models/custom_model.py:build")
        await pilot.press("enter")
        await until(pilot, lambda: view.analysis is not None, "the analysis by a new process")
        assert process.popen is not first
        assert view.analysis is not None and view.analysis.source.endswith("custom_model.py:build")
        assert not app.query_one("#model-error").display


def test_the_cli_totals_say_per_layer_m_and_its_range_after_auto() -> None:
    """auto:0.9 gives the digits CNN's layers their own m: the totals line says "per-layer m"
    and the range (it said "depth multiplier 1"); a shared m is said as before."""
    from model_states import recorded_analysis

    analysis = recorded_analysis()
    assert "(depth multiplier 1)" in model_cells.totals_message(analysis)
    auto = analysis.with_depth_multipliers(analysis.auto_multipliers(0.9))
    values = [auto.multipliers[name] for name in auto.swapped_names]
    assert len(set(values)) > 1
    assert f"(per-layer m {min(values)}–{max(values)})" in model_cells.totals_message(auto)
