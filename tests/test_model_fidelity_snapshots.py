"""Snapshot tests of the Model tab's fidelity states (model_states.py: recorded digits replies,
fixed size, no blinking cursor, no timings on screen)."""

from __future__ import annotations

import pytest
from model_states import MODEL_STATES


class TestModelFidelitySnapshots:
    """What f, r/R, +, g and a bad Data field look like, at 120×40, 80×24 and 160×50."""

    @pytest.mark.parametrize("name", list(MODEL_STATES))
    def test_state(self, snap_compare, name: str) -> None:  # type: ignore[no-untyped-def]
        """The app in state ``name`` (see MODEL_STATES for each one's description)."""
        state = MODEL_STATES[name]
        assert snap_compare(state.make_app(), terminal_size=state.size, run_before=state.run_before)
