"""Behaviour of the app through Pilot: assertions on state, not on pixels."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from app_states import settle, type_into, until
from hypothesis import given
from hypothesis import strategies as st
from textual.command import CommandList
from textual.widgets import Input, Select, Static, Switch

from sepconv_tui import compare
from sepconv_tui.core.presets import PRESETS_BY_KEY
from sepconv_tui.core.spec import FIELD_BOUNDS, LayerSpec
from sepconv_tui.report import layer as report
from sepconv_tui.tui.app import SepConvApp
from sepconv_tui.tui.widgets.help_screen import HelpScreen


def text_of(app: SepConvApp, selector: str) -> str:
    """The plain text a Static shows."""
    return str(app.query_one(selector, Static).render())


async def test_starts_at_the_reference_experiment() -> None:
    """Ratio 4.77×, green verdict, and both methods agree once the worker is done."""
    app = SepConvApp()
    async with app.run_test() as pilot:
        assert "4.77× fewer parameters" in text_of(app, "#ratio")
        assert "5.76×" in text_of(app, "#ratio")
        await settle(pilot)
        verdict = app.query_one("#verdict")
        assert verdict.has_class("-match") and not verdict.has_class("-mismatch")
        assert "(1, 16, 32, 32)" in text_of(app, "#verdict")
        assert "agree" in text_of(app, "#check")
        assert app.comparison is not None and app.comparison.is_verified


async def test_first_frame_shows_closed_form_with_the_check_pending() -> None:
    """Before the PyTorch worker answers, the closed-form figures are shown and marked pending."""
    app = SepConvApp()
    async with app.run_test() as pilot:
        await settle(pilot)
        first = app.query_one("#check")
        assert "4.77×" in text_of(app, "#ratio")
        assert first.has_class("-pending") or first.has_class("-agree")
        await settle(pilot)
        assert app.query_one("#check").has_class("-agree")


async def test_editing_updates_the_ratio() -> None:
    """Typing a new out-channels value updates the headline to compare()'s figure."""
    app = SepConvApp()
    async with app.run_test() as pilot:
        await type_into(pilot, "out_channels", "64")
        await settle(pilot)
        expected = compare(LayerSpec(out_channels=64), method="analytic")
        assert f"{expected.param_ratio:.2f}× fewer parameters" in text_of(app, "#ratio")
        assert app.comparison is not None and app.comparison.spec.out_channels == 64


async def test_bad_value_marks_the_field_and_keeps_the_last_result() -> None:
    """Text in a field: -invalid, a message with the range, last result kept and marked stale."""
    app = SepConvApp()
    async with app.run_test() as pilot:
        await type_into(pilot, "in_channels", "abc")
        await settle(pilot)
        field = app.query_one("#in_channels", Input)
        assert field.has_class("-invalid")
        message = text_of(app, "#in_channels-error")
        assert "In channels" in message and "from 1 to 1048576" in message
        assert "4.77× fewer parameters" in text_of(app, "#ratio")
        assert app.query_one("#results").has_class("-stale")
        await type_into(pilot, "in_channels", "3")
        await settle(pilot)
        assert not field.has_class("-invalid")
        assert not app.query_one("#results").has_class("-stale")


async def test_zero_and_over_the_bound_are_invalid() -> None:
    """0 and bound + 1 are rejected with the accepted range."""
    app = SepConvApp()
    async with app.run_test() as pilot:
        await type_into(pilot, "stride", "0")
        await settle(pilot)
        assert app.query_one("#stride").has_class("-invalid")
        await type_into(pilot, "stride", "1")
        await type_into(pilot, "height", str(FIELD_BOUNDS["height"][1] + 1))
        await settle(pilot)
        assert app.query_one("#height").has_class("-invalid")
        assert "from 1 to 65536" in text_of(app, "#height-error")


async def test_unlinking_and_padding_zero_gives_the_red_verdict() -> None:
    """ctrl+l reveals the separable geometry; padding 0 there is a height/width mismatch."""
    app = SepConvApp()
    async with app.run_test() as pilot:
        # Mounted when first unlinked: nothing of it before.
        assert not any(geometry.display for geometry in app.query("#separable-geometry"))
        await pilot.press("ctrl+l")
        await settle(pilot)
        assert app.query_one("#separable-geometry").display
        assert app.query_one("#sep_padding", Input).value == "1"  # prefilled from the standard
        await type_into(pilot, "sep_padding", "0")
        await settle(pilot)
        verdict = app.query_one("#verdict")
        assert verdict.has_class("-mismatch")
        assert "mismatch" in text_of(app, "#verdict")
        assert "height differs: standard 32, separable 30" in text_of(app, "#verdict")
        await pilot.press("ctrl+l")
        await settle(pilot)
        assert app.query_one("#verdict").has_class("-match")


async def test_arrow_keys_step_and_shift_arrows_double_and_halve() -> None:
    """up/down ±1, shift+up ×2, shift+down ÷2, clamped to the bounds."""
    app = SepConvApp()
    async with app.run_test() as pilot:
        app.query_one("#out_channels", Input).focus()
        await pilot.press("up", "shift+up", "shift+up")
        assert app.query_one("#out_channels", Input).value == "68"
        await pilot.press("shift+down", "down")
        assert app.query_one("#out_channels", Input).value == "33"
        app.query_one("#padding", Input).focus()
        await pilot.press("down", "down", "down")
        assert app.query_one("#padding", Input).value == "0"


async def test_preset_from_the_select_fills_the_form() -> None:
    """Choosing a preset fills every field with its layer."""
    app = SepConvApp()
    async with app.run_test() as pilot:
        await settle(pilot)  # the picker is mounted after the first frame
        app.query_one("#preset", Select).value = "xception_middle"
        await settle(pilot)
        assert app.query_one("#in_channels", Input).value == "728"
        assert app.query_one("#height", Input).value == "19"
        assert app.query_one("#bias", Switch).value is False
        assert app.comparison is not None
        assert app.comparison.spec == PRESETS_BY_KEY["xception_middle"].spec


def palette_offers(app: SepConvApp, text: str) -> bool:
    """True when the command palette's first hit says ``text`` (its search has found it)."""
    hits = app.screen.query(CommandList)
    if not hits or not hits.first().option_count:
        return False
    return text in str(hits.first().get_option_at_index(0).prompt)


async def test_preset_from_the_command_palette() -> None:
    """ctrl+p, type a preset's name, enter: the form holds that layer."""
    app = SepConvApp()
    async with app.run_test() as pilot:
        await pilot.press("ctrl+p")
        await settle(pilot)
        await pilot.press(*"EfficientNet-B0 stage 6")
        await until(pilot, lambda: palette_offers(app, "EfficientNet-B0 stage 6"), "the preset")
        await pilot.press("enter")
        await settle(pilot)
        assert app.query_one("#kernel_size", Input).value == "5"
        assert app.query_one("#in_channels", Input).value == "480"


async def test_ctrl_r_goes_back_to_the_reference() -> None:
    """After edits, ctrl+r restores the reference experiment."""
    app = SepConvApp(LayerSpec(in_channels=64, height=7, width=7))
    async with app.run_test() as pilot:
        await pilot.press("ctrl+r")
        await settle(pilot)
        assert app.comparison is not None and app.comparison.spec == LayerSpec()
        assert "4.77×" in text_of(app, "#ratio")


async def test_help_screen_shows_formulas_with_the_numbers() -> None:
    """F1 opens help with the current numbers substituted; escape closes it."""
    app = SepConvApp()
    async with app.run_test() as pilot:
        await pilot.press("f1")
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen)
        assert app.comparison is not None
        assert "16·3·3² + 16 = 448" in report.formulas_markdown(app.comparison)
        await pilot.press("escape")
        await settle(pilot)
        assert not isinstance(app.screen, HelpScreen)
        await pilot.press("escape", "question_mark")  # ? works once focus left the form
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen)


async def test_export_writes_markdown_and_json_that_parse(tmp_path: Path) -> None:
    """escape then e writes both files into the export directory and notifies."""
    app = SepConvApp(export_dir=tmp_path)
    async with app.run_test() as pilot:
        await settle(pilot)
        await pilot.press("escape", "e")
        await settle(pilot)
        json_files = list(tmp_path.glob("*.json"))
        markdown_files = list(tmp_path.glob("*.md"))
        assert len(json_files) == 1 and len(markdown_files) == 1
        document = json.loads(json_files[0].read_text())
        assert document["standard"]["params"] == 448 and document["shapes_match"] is True
        assert "| 94 |" in markdown_files[0].read_text()


async def test_q_types_in_a_field_and_quits_outside_it() -> None:
    """q in a text field is text (the field turns invalid); outside a field q quits."""
    app = SepConvApp()
    async with app.run_test() as pilot:
        await type_into(pilot, "batch", "q")
        await settle(pilot)
        assert app.is_running
        assert app.query_one("#batch").has_class("-invalid")
        await pilot.press("escape", "q")
        await settle(pilot)
        assert not app.is_running


async def test_cli_flags_prefill_the_form() -> None:
    """The app starts from the spec the CLI flags describe."""
    app = SepConvApp(LayerSpec(in_channels=32, height=112, width=112))
    async with app.run_test() as pilot:
        await settle(pilot)  # mounted and drawn, however loaded the machine
        assert app.query_one("#in_channels", Input).value == "32"
        assert app.query_one("#height", Input).value == "112"


FIELDS = ["in_channels", "out_channels", "kernel_size", "padding", "batch", "height"]


@given(field=st.sampled_from(FIELDS), text=st.text(max_size=8))
def test_random_text_never_crashes_and_keeps_the_result(field: str, text: str) -> None:
    """Any text in any field: no crash; an invalid value is marked and the result survives."""

    async def scenario() -> None:
        app = SepConvApp()
        async with app.run_test() as pilot:
            app.query_one(f"#{field}", Input).value = text
            await settle(pilot)
            try:
                low, high = FIELD_BOUNDS[field]
                accepted = low <= int(text) <= high
            except ValueError:
                accepted = False
            marked = app.query_one(f"#{field}").has_class("-invalid")
            assert marked == (not accepted)
            if marked:
                assert "4.77×" in text_of(app, "#ratio")
                assert app.query_one("#results").has_class("-stale")
            else:
                assert app.comparison is not None
                assert getattr(app.comparison.spec, field) == int(text)
            assert app.comparison is not None

    asyncio.run(scenario())


def shown(app: SepConvApp, field: str) -> bool:
    """True when the form has ``field`` mounted and on display (its label too)."""
    widgets = list(app.query(f"#{field}, #{field}-label"))
    return bool(widgets) and all(widget.display for widget in widgets)


async def test_rank_selector_switches_the_input_sizes_and_the_layer() -> None:
    """1-D shows Length instead of Height and Width; 3-D adds Depth; 2-D is the reference again."""
    app = SepConvApp()
    async with app.run_test() as pilot:
        await settle(pilot)
        assert not app.query("#length") and not app.query("#depth")  # mounted when first needed
        app.query_one("#dims", Select).value = 1
        await settle(pilot)
        assert shown(app, "length") and not shown(app, "height") and not shown(app, "width")
        await type_into(pilot, "length", "400")
        await settle(pilot)
        assert app.comparison is not None
        assert app.comparison.spec == LayerSpec(dims=1, length=400)
        assert app.comparison.is_verified
        assert "(1, 16, 400)" in text_of(app, "#verdict")
        assert "1/k)" in text_of(app, "#ratio")
        app.query_one("#dims", Select).value = 3
        await settle(pilot)
        assert shown(app, "depth") and shown(app, "height") and not shown(app, "length")
        assert app.comparison.spec == LayerSpec(dims=3)
        assert "(1, 16, 16, 32, 32)" in text_of(app, "#verdict")
        assert "1/k³)" in text_of(app, "#ratio")
        app.query_one("#dims", Select).value = 2
        await settle(pilot)
        assert not shown(app, "depth") and shown(app, "height")
        assert app.comparison.spec == LayerSpec()


async def test_a_bad_length_is_marked_and_the_last_layer_kept() -> None:
    """A length of 0 in 1-D: the field's message, the last good 1-D result stays."""
    app = SepConvApp(LayerSpec(dims=1, length=50))
    async with app.run_test() as pilot:
        await settle(pilot)
        assert app.query_one("#dims", Select).value == 1 and shown(app, "length")
        await type_into(pilot, "length", "0")
        await settle(pilot)
        assert app.query_one("#length", Input).has_class("-invalid")
        assert "Length must be an integer from 1" in app.field_errors["length"]
        assert app.comparison is not None and app.comparison.spec == LayerSpec(dims=1, length=50)


async def test_sweep_latency_and_help_follow_the_rank() -> None:
    """The Sweep and Latency tabs take the 3-D layer; the help's formulas show k³."""
    app = SepConvApp()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        app.query_one("#dims", Select).value = 3
        await settle(pilot)
        await pilot.press("f4")
        await settle(pilot)
        assert "3-D" in text_of(app, "#sweep-base") and "16×32×32" in text_of(app, "#sweep-base")
        await pilot.press("f5")
        await settle(pilot)
        assert "Conv3d(3, 16, 3" in text_of(app, "#latency-layer")
        await pilot.press("f2", "f1")
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen)
        assert "(C_in/groups)·k³" in report.formulas_markdown(app.screen.comparison)
        assert app.screen.comparison.spec.dims == 3


async def test_loading_a_layer_sets_the_rank() -> None:
    """A 1-D layer loaded into the form (a preset or a model's conv) moves the selector; ctrl+r
    brings the reference back in 2-D."""
    app = SepConvApp()
    async with app.run_test() as pilot:
        await settle(pilot)
        app.form.load(
            LayerSpec(dims=1, in_channels=64, out_channels=256, kernel_size=33, length=500)
        )
        await settle(pilot)
        assert app.query_one("#dims", Select).value == 1
        assert app.query_one("#length", Input).value == "500"
        assert app.comparison is not None and app.comparison.spec.length == 500
        await pilot.press("escape", "ctrl+r")
        await settle(pilot)
        assert app.query_one("#dims", Select).value == 2 and not shown(app, "length")
        assert app.comparison.spec == LayerSpec()


def test_a_1d_or_3d_model_conv_opens_in_its_rank() -> None:
    """A model's Conv1d or Conv3d becomes the Layer tab's LayerSpec of that rank."""
    from dataclasses import replace

    from sepconv_tui.model.describe.layer_spec import layer_spec
    from sepconv_tui.model.vocabulary.analysis import ModelAnalysis

    recorded = Path(__file__).with_name("data") / "resnet18_analysis.json"
    analysis = ModelAnalysis.from_dict(json.loads(recorded.read_text()))
    conv1 = next(layer for layer in analysis.layers if layer.name == "conv1")
    one = replace(
        conv1,
        kernel_size=(33,),  # type: ignore[arg-type]  # i23model widens ModelLayer to any rank
        stride=(2,),
        padding=(16,),
        dilation=(1,),
        input_shape=(1, 3, 400),
    )
    assert layer_spec(one) == LayerSpec(
        dims=1, out_channels=64, kernel_size=33, stride=2, padding=16, bias=False, length=400
    )
    three = replace(
        conv1,
        kernel_size=(3, 3, 3),  # type: ignore[arg-type]
        stride=(1, 1, 1),
        padding=(1, 1, 1),
        dilation=(1, 1, 1),
        input_shape=(1, 3, 16, 112, 112),
    )
    spec = layer_spec(three)
    assert (spec.dims, spec.input_shape, spec.kernel_size) == (3, (1, 3, 16, 112, 112), 3)


async def test_a_1d_preset_switches_the_rank() -> None:
    """Choosing QuartzNet's B3 preset shows a 1-D layer of 500 frames, checked by PyTorch."""
    app = SepConvApp()
    async with app.run_test() as pilot:
        await settle(pilot)
        app.query_one("#preset", Select).value = "quartznet_b3"
        await settle(pilot)
        assert app.query_one("#dims", Select).value == 1
        assert shown(app, "length") and not shown(app, "height")
        assert app.comparison is not None
        assert app.comparison.spec == PRESETS_BY_KEY["quartznet_b3"].spec
        assert app.comparison.is_verified and "(1, 512, 500)" in text_of(app, "#verdict")
