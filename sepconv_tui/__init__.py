"""sepconv-tui: a standard Conv2d against a depthwise-separable block, by two methods."""

from __future__ import annotations

from typing import Any

from .core.compare import Comparison, compare
from .core.spec import LayerSpec, SpecError

__version__ = "0.1.0"

__all__ = [
    "Comparison",
    "DepthwiseSeparableConv",
    "LayerSpec",
    "SpecError",
    "analyze_model",
    "compare",
]


def analyze_model(source: Any, **options: Any) -> Any:
    """A whole model's convs, swap candidates and totals (``core.model_measure.analyze_model``).

    A thin wrapper, so that ``import sepconv_tui`` does not import torch.
    """
    from .core.model_measure import analyze_model as analyze

    return analyze(source, **options)


def __getattr__(name: str) -> Any:
    """Load the torch module lazily, so ``import sepconv_tui`` does not import torch."""
    if name == "DepthwiseSeparableConv":
        from .core.layers import DepthwiseSeparableConv

        return DepthwiseSeparableConv
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
