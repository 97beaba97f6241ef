"""Fast typing: every key lands in the field it was typed into, in the app as in a bare app."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from app_states import settle, still_cursor, until
from key_bursts import BURSTS, FINAL_SPEC, BareForm, field_values, post_keys
from textual.app import App
from textual.widgets import Input, Static

from sepconv_tui import compare
from sepconv_tui.tui.app import SepConvApp

#: Seconds between keys: a fast typist's burst or key repeat is ~30 ms a key; the app gets 5 ms.
APP_KEY_GAP = 0.005
#: The control, a plain Textual app, at a steady typist's pace. A plain Input types a digit at
#: once but deletes on Backspace only after the key's round trip to the app and back, so on a busy
#: machine it loses keys at a few ms a key (bench_app.py measures the fastest safe pace of both).
#: At 30 ms it lost a Backspace once while a second `make test` loaded both cores: plain Textual's
#: own ordering, which no test here can fix, so the control types at 100 ms.
CONTROL_KEY_GAP = 0.1


@pytest.mark.parametrize(
    ("make_app", "gap"),
    [(SepConvApp, APP_KEY_GAP), (BareForm, CONTROL_KEY_GAP)],
    ids=["app", "bare-control"],
)
async def test_bursts_of_keys_land_where_they_were_typed(
    make_app: Callable[[], App[None]], gap: float
) -> None:
    """Tab, shift+Tab, Backspace and digits a few ms apart: every field ends as typed."""
    app = make_app()
    async with app.run_test() as pilot:
        await settle(pilot)
        if isinstance(app, SepConvApp):
            still_cursor(app)
        for burst in BURSTS:
            await post_keys(app, burst.keys, gap)
            await settle(pilot)
            assert field_values(app, list(burst.expected)) == burst.expected, burst.keys
        if isinstance(app, SepConvApp):
            expected = compare(FINAL_SPEC, method="analytic")
            ratio = str(app.query_one("#ratio", Static).render())
            assert ratio.startswith(f"{expected.param_ratio:.2f}× fewer parameters")
            assert app.comparison is not None and app.comparison.spec == FINAL_SPEC
            assert not app.query_one("#results").has_class("-stale")


async def test_the_headline_follows_each_key_before_the_tables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Within a burst #ratio follows every edit; the tables follow once the typing pauses."""
    import sepconv_tui.tui.app as app_module

    app = SepConvApp()
    async with app.run_test() as pilot:
        await settle(pilot)
        table_before = app.query_one("#table", Static).content
        # A pause longer than any test: "the typing has not paused yet" holds however slow the
        # machine, instead of racing a 100 ms timer.
        monkeypatch.setattr(app_module, "RENDER_DELAY", 3600.0)
        await post_keys(app, ("tab", "backspace", "6", "4"), 0)
        await pilot.pause()
        await until(  # the keys are handled: the field reads 64
            pilot,
            lambda: "(448 → " not in str(app.query_one("#ratio", Static).render()),
            "the headline to follow the keys",
        )
        assert app.render_pending
        assert "(448 → " not in str(app.query_one("#ratio", Static).render())
        assert app.query_one("#table", Static).content is table_before
        # The next key restarts the pause, now a short one: the tables follow it.
        monkeypatch.setattr(app_module, "RENDER_DELAY", 0.01)
        await post_keys(app, ("backspace", "2"), 0)
        await until(  # the keys are handled, then the pause has passed
            pilot,
            lambda: (
                "(448 → " not in str(app.query_one("#ratio", Static).render())
                and app.query_one("#out_channels", Input).value == "62"
            ),
            "the second burst",
        )
        await settle(pilot)
        assert not app.render_pending
        assert app.query_one("#table", Static).content is not table_before
