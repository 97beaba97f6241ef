"""PyTorch measurement: meta-device modules, ``numel``, forward shapes and PyTorch's FLOP formulas.

One layer (``figures``) runs each conv on the meta device and applies the FLOP formula torch
registers for ``aten.convolution`` to the tensors it really ran on. A whole network
(``network_rows``) runs under FlopCounterMode, whose first use imports ``torch._dynamo``
(≈ 1 s): worth it for a network's many ops, not for a single layer's three convs.

torch is imported inside the functions, so importing this module costs nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import UserError
from .figures import ConvFigures, Figures, SeparableFigures
from .networks import NetworkReport
from .spec import LayerSpec

if TYPE_CHECKING:
    import torch
    from torch import nn


class MeasurementError(UserError):
    """PyTorch could not build or run the layer (e.g. a tensor too large for int64 sizes)."""


def _is_empty_output_error(error: RuntimeError) -> bool:
    """True for the error torch raises when a conv's output would have a side ≤ 0."""
    text = str(error)
    return "too small" in text or "Kernel size can't be greater than actual input size" in text


def _conv_macs(conv: nn.modules.conv._ConvNd, x: torch.Tensor, y: torch.Tensor) -> int:
    """MACs by PyTorch's own ``aten.convolution`` FLOP formula, on the tensors ``conv`` ran on."""
    import torch
    from torch.utils.flop_counter import flop_registry

    formula = flop_registry[torch.ops.aten.convolution]
    # The arguments Conv2d.forward hands aten.convolution, which FlopCounterMode would pass
    # the formula itself; the formula reads the input, weight and output shapes.
    flops: int = formula(
        x,
        conv.weight,
        conv.bias,
        conv.stride,
        conv.padding,
        conv.dilation,
        False,  # transposed
        (0,) * len(conv.stride),  # output_padding
        conv.groups,
        out_val=y,
    )
    # The formula counts a multiply and an add per MAC (FLOPs = 2 × MACs), no bias adds.
    return flops // 2


def _run_conv(
    conv: nn.modules.conv._ConvNd, x: torch.Tensor | None
) -> tuple[ConvFigures, torch.Tensor | None]:
    """Count ``conv``'s parameters, run it on ``x`` and apply torch's FLOP formula."""
    params = sum(parameter.numel() for parameter in conv.parameters())
    bias_params = conv.bias.numel() if conv.bias is not None else 0
    if x is None:
        return ConvFigures(params, bias_params, None, None), None
    try:
        y = conv(x)
    except RuntimeError as error:
        if _is_empty_output_error(error):
            return ConvFigures(params, bias_params, None, None), None
        raise MeasurementError(str(error).splitlines()[0]) from error
    return ConvFigures(params, bias_params, _conv_macs(conv, x, y), tuple(y.shape)), y


def figures(spec: LayerSpec) -> Figures:
    """Both sides' figures for ``spec`` (any rank), measured by PyTorch on the meta device."""
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


def network_rows(report: NetworkReport) -> list[tuple[int, int, int, int, tuple[int, ...]]]:
    """Per block on the meta device: std params, std MACs, sep params, sep MACs, output shape."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from .layers import network_block
    from .networks import network_blocks

    measured = []
    blocks = network_blocks(report.name, report.width_multiplier, report.resolution)
    for block, row in zip(blocks, report.rows, strict=True):
        figures: list[int] = []
        shape: tuple[int, ...] = ()
        for variant in ("standard", "separable"):
            with torch.device("meta"):
                module = network_block(block, variant).eval()
                x = torch.empty(row.input_shape)
            counter = FlopCounterMode(display=False)
            with counter, torch.no_grad():
                shape = tuple(module(x).shape)
            figures += [sum(p.numel() for p in module.parameters()), counter.get_total_flops() // 2]
        measured.append((figures[0], figures[1], figures[2], figures[3], shape))
    return measured


def verify_network(report: NetworkReport) -> NetworkReport:
    """The report with ``verified`` set: PyTorch against the closed form, block by block."""
    from dataclasses import replace

    measured = network_rows(report)
    pairs = list(zip(report.rows, measured, strict=True))
    verified = {
        "params": all(
            (row.standard_params, row.separable_params) == (m[0], m[2]) for row, m in pairs
        ),
        "macs": all((row.standard_macs, row.separable_macs) == (m[1], m[3]) for row, m in pairs),
        "shapes": all(row.output_shape == m[4] for row, m in pairs),
    }
    return replace(report, verified=verified)
