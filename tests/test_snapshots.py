"""Snapshot tests: each pins one app state from app_states.py (fixed size, no blinking cursor)."""

from __future__ import annotations

import pytest
from app_states import STATES


class TestAppSnapshots:
    """What the app looks like in the states README.md, docs/ and the issues name."""

    @pytest.mark.parametrize("name", [name for name, state in STATES.items() if state.pinned])
    def test_state(self, snap_compare, name: str) -> None:  # type: ignore[no-untyped-def]
        """The app in state ``name`` (see STATES for each one's description)."""
        state = STATES[name]
        assert snap_compare(state.make_app(), terminal_size=state.size, run_before=state.run_before)
