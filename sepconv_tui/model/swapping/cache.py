"""What a long-lived process built, kept for its next request: the built model and the loaded
data, each keyed by what it was built from (source, weights, input; the data's text and
options). A new key of the same kind drops the old entry first, so one of each is held.

The Model tab's child keeps one across ``f``, ``r`` and ``g``, so a second key on the same
model and image folder does not build and decode them again. No torch here.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, TypeVar

Built = TypeVar("Built")


class BuildCache:
    """One entry per kind ("original", "data"): its key and what was built from it."""

    def __init__(self) -> None:
        self._entries: dict[str, tuple[Hashable, Any]] = {}
        #: How many times each kind was built (not found): what tests and benchmarks read.
        self.builds: dict[str, int] = {}

    def get(self, kind: str, key: Hashable, build: Callable[[], Built]) -> Built:
        """The ``kind`` built from ``key``: kept, or built now (the older one dropped first,
        so two never sit in memory together)."""
        held = self._entries.get(kind)
        if held is not None and held[0] == key:
            return held[1]
        self._entries.pop(kind, None)
        value = build()
        self._entries[kind] = (key, value)
        self.builds[kind] = self.builds.get(kind, 0) + 1
        return value

    def clear(self) -> None:
        """Drop everything held."""
        self._entries.clear()
