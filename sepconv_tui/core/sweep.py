"""Sweeps: how the exact ratios move with one field, beside the textbook 1/C_out + 1/k^d curve
(k² in 2-D), in the base layer's rank."""

from __future__ import annotations

from dataclasses import dataclass, replace
from math import log2
from typing import Any

from . import analytic
from .compare import Comparison, compare
from .spec import LayerSpec

#: The values each sweepable field takes.
SWEEP_POINTS: dict[str, tuple[int, ...]] = {
    "out_channels": tuple(2**power for power in range(11)),  # 1 … 1024
    "in_channels": tuple(2**power for power in range(11)),
    "kernel_size": (1, 3, 5, 7, 9, 11, 13, 15),
    "depth_multiplier": tuple(2**power for power in range(8)),  # 1 … 128
}


@dataclass(frozen=True)
class SweepPoint:
    """One point of a sweep: the swept value and the comparison there."""

    field: str
    value: int
    comparison: Comparison

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready point, keyed by the swept field's name."""
        comparison = self.comparison
        return {
            self.field: self.value,
            "param_ratio": comparison.param_ratio,
            "mac_ratio": comparison.mac_ratio,
            "textbook_ratio": comparison.textbook_ratio,
            "standard_params": comparison.standard.params,
            "separable_params": comparison.separable.params,
            "standard_macs": comparison.standard.macs,
            "separable_macs": comparison.separable.macs,
            "shapes_match": comparison.shapes_match,
        }


def sweep(field: str, base: LayerSpec | None = None) -> list[SweepPoint]:
    """Closed-form comparisons of ``base`` with ``field`` set to each of its sweep values.

    A kernel sweep sets a cubic (square in 2-D) kernel and keeps 'same' padding
    (k // 2 · dilation, per axis) so both outputs keep their size.
    """
    if field not in SWEEP_POINTS:
        raise ValueError(f"cannot sweep {field!r}; choose one of {', '.join(SWEEP_POINTS)}")
    base = base if base is not None else LayerSpec()
    points = []
    for value in SWEEP_POINTS[field]:
        spec = replace(base, **{field: value})  # type: ignore[arg-type]
        if field == "kernel_size":
            padding = tuple((value // 2) * dilation for dilation in base.axes("dilation"))
            spec = replace(spec, padding=padding)
        points.append(SweepPoint(field, value, compare(spec, method="analytic")))
    return points


def textbook_curve(field: str, base: LayerSpec, samples: int = 200) -> list[tuple[float, float]]:
    """(value, textbook ratio) at ``samples`` values across the field's sweep range.

    Powers-of-two fields are sampled evenly in log2, kernels evenly; the ratio is the
    paper's 1 / (m · (1/C_out + 1/k^d)) evaluated at non-integer values too, as a curve
    (a swept kernel is cubic; an unswept per-axis kernel counts its k₁·…·k_d elements).
    """
    values = SWEEP_POINTS[field]
    low, high = values[0], values[-1]
    curve = []
    for index in range(samples):
        fraction = index / (samples - 1)
        if field == "kernel_size":
            value = low + fraction * (high - low)
        else:
            value = 2 ** (fraction * log2(high / low)) * low
        out_channels = value if field == "out_channels" else base.out_channels
        kernel_volume = value**base.dims if field == "kernel_size" else base.kernel_volume
        multiplier = value if field == "depth_multiplier" else base.depth_multiplier
        ratio = analytic.textbook_ratio(out_channels, kernel_volume, multiplier, dims=1)
        curve.append((value, ratio))
    return curve
