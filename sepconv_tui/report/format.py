"""Number, shape and ratio formats shared by every view's report."""

from __future__ import annotations

from ..core.figures import Shape


def format_count(value: int | None) -> str:
    """An exact count with thousands separators, or a dash when there is none."""
    return "—" if value is None else f"{value:,}"


def format_shape(shape: Shape | None) -> str:
    """A shape as a Python tuple, e.g. (1, 16, 32, 32), or 'no output'."""
    return "no output" if shape is None else str(tuple(shape))


def format_ratio(ratio: float | None) -> str:
    """A "× fewer" ratio with two decimals, e.g. 4.77×."""
    return "—" if ratio is None else f"{ratio:.2f}×"


def format_short(value: int) -> str:
    """A count in short form: 11.69M, 1.81G, 9.41K, 512."""
    for size, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "K")):
        if abs(value) >= size:
            return f"{value / size:.2f}{suffix}"
    return str(value)
