"""PyTorch measurement: meta-device modules, ``numel``, forward shapes and FlopCounterMode.

torch is imported inside the functions, so importing this module costs nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .figures import ConvFigures, Figures, SeparableFigures
from .spec import LayerSpec

if TYPE_CHECKING:
    import torch
    from torch import nn


class MeasurementError(RuntimeError):
    """PyTorch could not build or run the layer (e.g. a tensor too large for int64 sizes)."""


def _is_empty_output_error(error: RuntimeError) -> bool:
    """True for the error torch raises when a conv's output would have a side ≤ 0."""
    text = str(error)
    return "too small" in text or "Kernel size can't be greater than actual input size" in text


def _run_conv(conv: nn.Conv2d, x: torch.Tensor | None) -> tuple[ConvFigures, torch.Tensor | None]:
    """Count ``conv``'s parameters and run it on ``x`` under FlopCounterMode."""
    from torch.utils.flop_counter import FlopCounterMode

    params = sum(parameter.numel() for parameter in conv.parameters())
    bias_params = conv.bias.numel() if conv.bias is not None else 0
    if x is None:
        return ConvFigures(params, bias_params, None, None), None
    counter = FlopCounterMode(display=False)
    try:
        with counter:
            y = conv(x)
    except RuntimeError as error:
        if _is_empty_output_error(error):
            return ConvFigures(params, bias_params, None, None), None
        raise MeasurementError(str(error).splitlines()[0]) from error
    # FlopCounterMode counts a multiply and an add per MAC (FLOPs = 2 × MACs), no bias adds.
    macs = counter.get_total_flops() // 2
    return ConvFigures(params, bias_params, macs, tuple(y.shape)), y


def figures(spec: LayerSpec) -> Figures:
    """Both sides' figures for ``spec``, measured by PyTorch on the meta device (no memory)."""
    import torch

    from .layers import separable_block, standard_conv

    try:
        with torch.device("meta"):
            standard = standard_conv(spec)
            separable = separable_block(spec)
            x = torch.empty(spec.input_shape)
    except RuntimeError as error:
        raise MeasurementError(str(error).splitlines()[0]) from error
    standard_figures, _ = _run_conv(standard, x)
    depthwise_figures, middle = _run_conv(separable.depthwise, x)
    pointwise_figures, _ = _run_conv(separable.pointwise, middle)
    return Figures(standard_figures, SeparableFigures(depthwise_figures, pointwise_figures))


def warm_up() -> None:
    """Pay torch's one-off import and first-use costs now (≈ 3 s), e.g. in a worker thread."""
    figures(LayerSpec())
