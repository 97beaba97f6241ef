"""sepconv-tui: a standard Conv2d against a depthwise-separable block, by two methods.

The workflow, importable from here without loading torch until first used::

    from sepconv_tui import analyze_model, swap_convs, apply_plan, DepthwiseSeparableConv
"""

from __future__ import annotations

import importlib
from typing import Any

from .core.compare import Comparison, compare
from .core.spec import LayerSpec, SpecError
from .errors import UserError

__version__ = "0.1.0"

#: Public names loaded on first use (their modules import torch), and where they live.
_LAZY = {
    "DepthwiseSeparableConv": "sepconv_tui.core.layers",
    "swap_convs": "sepconv_tui.model.swapping.swap",
    "apply_plan": "sepconv_tui.model.swapping.swap",
    "save": "sepconv_tui.model.swapping.swap",
    "ModelJob": "sepconv_tui.model.swapping.job",
    "build_pair": "sepconv_tui.model.swapping.job",
    "measure_fidelity": "sepconv_tui.model.measure.fidelity",
    "recover": "sepconv_tui.model.recovery.recover",
    "load_data": "sepconv_tui.model.measure.data",
    "sensitivity": "sepconv_tui.model.budget.sensitivity",
    "frontier": "sepconv_tui.model.budget.frontier",
}

__all__ = [
    "Comparison",
    "DepthwiseSeparableConv",
    "LayerSpec",
    "ModelJob",
    "SpecError",
    "UserError",
    "analyze_model",
    "apply_plan",
    "build_pair",
    "compare",
    "frontier",
    "load_data",
    "measure_fidelity",
    "recover",
    "save",
    "sensitivity",
    "swap_convs",
]


def analyze_model(source: Any, **options: Any) -> Any:
    """A whole model's convs, swap candidates and totals (``model.describe.trace.analyze_model``).

    A thin wrapper, so that ``import sepconv_tui`` does not import torch; it also loads the
    report layer, so that ``rich.print(analysis)`` draws the CLI's table in a notebook.
    """
    from .model.describe.trace import analyze_model as analyze
    from .report import model_table as _registers_the_renderer  # noqa: F401

    return analyze(source, **options)


def __getattr__(name: str) -> Any:
    """Load a torch-using public name lazily, so ``import sepconv_tui`` does not import torch."""
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
