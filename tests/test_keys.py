"""One key map (sepconv_tui/tui/keys.py): the bindings, the help screen and docs/app.md agree."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from textual.binding import Binding

from sepconv_tui.core.compare import compare
from sepconv_tui.core.spec import LayerSpec
from sepconv_tui.tui import keys
from sepconv_tui.tui.app import TABS, SepConvApp
from sepconv_tui.tui.widgets.help_screen import HelpScreen, help_document
from sepconv_tui.tui.widgets.model.table import ModelTable
from sepconv_tui.tui.widgets.model.view import ModelView
from sepconv_tui.tui.widgets.params_form import NumberInput

DOCS_APP = Path(__file__).parent.parent / "docs" / "app.md"
#: docs/app.md's key table sits between these two lines.
START, END = "<!-- keys: generated from sepconv_tui/tui/keys.py -->", "<!-- keys: end -->"


def described(binding: Binding) -> tuple[str, str, str, bool, bool]:
    """What a binding is: keys, action, footer label, shown, priority."""
    return binding.key, binding.action, binding.description, binding.show, binding.priority


@pytest.mark.parametrize(
    ("widget", "expected"),
    [
        (
            SepConvApp,
            (*keys.APP_KEYS, *(keys.show_tab_key(tab.id, tab.title) for tab in TABS)),
        ),
        (NumberInput, keys.FORM_KEYS),
        (ModelTable, keys.MODEL_TABLE_KEYS),
        (ModelView, keys.MODEL_VIEW_KEYS),
        (HelpScreen, keys.HELP_KEYS),
    ],
    ids=["app", "form", "model-table", "model-view", "help"],
)
def test_each_widgets_bindings_are_the_key_maps(widget: type, expected: tuple) -> None:
    """A widget class's BINDINGS are its group of the key map, one for one."""
    bound = [described(binding) for binding in widget.BINDINGS]
    assert bound == [described(key.binding()) for key in expected]


def test_every_bound_key_is_in_the_tables_and_every_listed_key_works() -> None:
    """The tables name every key a binding takes, and no key that nothing answers."""
    listed = {name for row in keys.HELP_ROWS for name in row.names}
    assert keys.bound_keys() - listed == set()
    assert listed - keys.bound_keys() == set(keys.UNBOUND_KEYS)
    assert {tab.key for tab in TABS} == set(keys.TAB_KEYS.values())


def test_the_help_screen_shows_the_key_maps_table() -> None:
    """The help screen's Keys section is ``help_table()``; the docs-only rows stay out of it."""
    brief = keys.help_table()
    assert "## Keys\n\n" + brief in help_document(compare(LayerSpec(), method="analytic"))
    assert all(f"| {row.shown} |" in brief for row in keys.HELP_ROWS if row.in_help)
    assert not any(f"| {row.shown} |" in brief for row in keys.HELP_ROWS if not row.in_help)


def test_the_docs_key_table_is_the_key_maps() -> None:
    """docs/app.md's key table is ``help_table(docs=True)`` (paste it from the message)."""
    text = DOCS_APP.read_text()
    match = re.search(re.escape(START) + r"\n(.*?)" + re.escape(END), text, re.S)
    assert match, f"docs/app.md lacks the lines {START!r} … {END!r}"
    expected = keys.help_table(docs=True)
    assert match.group(1) == expected, "docs/app.md's key table differs; it is:\n" + expected
