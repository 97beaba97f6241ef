"""A Footer that rebuilds only when the keys it shows change."""

from __future__ import annotations

from textual.screen import Screen
from textual.widgets import Footer

ShownKey = tuple[str, str, str, bool]


def shown_keys(screen: Screen) -> tuple[ShownKey, ...]:
    """The (key, description, action, enabled) of every binding the footer would show."""
    return tuple(
        (binding.key, binding.description, binding.action, enabled)
        for _node, binding, enabled, _tooltip in screen.active_bindings.values()
        if binding.show
    )


class QuietFooter(Footer):
    """Textual's Footer, minus the rebuild on every focus move that leaves its keys as they are.

    Footer recomposes (mounts a new widget per key, then lays the screen out again) whenever the
    bindings may have changed, i.e. on every Tab. Under a burst of keys that work delays the
    Tab's focus change, and the keys typed after it land in the field the focus just left.
    """

    _shown: tuple[ShownKey, ...] | None = None

    def bindings_changed(self, screen: Screen) -> None:
        """Recompose only when the shown keys differ from the last ones."""
        shown = shown_keys(screen)
        if shown == self._shown and self._bindings_ready:
            return
        self._shown = shown
        super().bindings_changed(screen)
