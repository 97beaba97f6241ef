"""Sweeps: every point equals compare() at that value, and the CLI's JSON shape."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace

import pytest

from sepconv_tui import LayerSpec, compare
from sepconv_tui.core.sweep import SWEEP_POINTS, sweep


@pytest.mark.parametrize("field", list(SWEEP_POINTS))
def test_points_equal_compare_and_pytorch(field: str) -> None:
    """Each point's ratios are compare()'s at that value; PyTorch agrees; ≥ 8 points."""
    points = sweep(field)
    assert len(points) >= 8
    for point in points:
        spec = replace(LayerSpec(), **{field: point.value})
        if field == "kernel_size":
            spec = replace(spec, padding=point.value // 2)
        checked = compare(spec)
        assert checked.is_verified
        assert point.comparison.param_ratio == checked.param_ratio
        assert point.comparison.mac_ratio == checked.mac_ratio
        assert point.comparison.shapes_match


def test_textbook_curve_equals_the_mac_ratio_over_out_channels() -> None:
    """With linked geometry the exact MAC ratio is Howard et al.'s formula at every point."""
    for point in sweep("out_channels"):
        assert point.comparison.mac_ratio == pytest.approx(point.comparison.textbook_ratio)


def test_cli_sweep_json() -> None:
    """`sepconv-tui sweep --over out_channels --json`: points keyed by the swept field."""
    result = subprocess.run(
        [sys.executable, "-m", "sepconv_tui", "sweep", "--over", "out_channels", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    points = json.loads(result.stdout)["points"]
    assert [p["out_channels"] for p in points] == [2**n for n in range(11)]
    assert {"param_ratio", "mac_ratio", "textbook_ratio"} <= set(points[0])
    assert round(points[4]["param_ratio"], 2) == 4.77
