"""A runtime that is not one: its timer reads only the file it is given (tests/test_runtime_table.py
registers it in the runtime table to show that a runtime is one entry)."""

from __future__ import annotations

import os
from collections.abc import Sequence

from sepconv_tui.core.latency import Timing


def time_fake(
    path: str, shape: Sequence[int], threads: int, min_run_time: float, precision: str
) -> Timing:
    """A "time" of one nanosecond per byte of the file: a bigger module is slower."""
    return Timing(os.path.getsize(path) * 1e-9, 0.0, 3, threads)


def fake_version() -> str:
    """What the fake runtime calls itself."""
    return "fake 0.1"
