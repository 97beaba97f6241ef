"""Closed-form conv arithmetic: parameters, output sizes and MACs, in pure Python."""

from __future__ import annotations

from .figures import ConvFigures, Figures, SeparableFigures
from .spec import LayerSpec


def conv_output_size(size: int, kernel: int, stride: int, padding: int, dilation: int) -> int:
    """Output length along one axis; zero or less means the conv produces no output."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def conv_params(in_channels: int, out_channels: int, kernel: int, groups: int, bias: bool) -> int:
    """Parameters of a square-kernel Conv2d: C_out · (C_in / groups) · k² (+ C_out bias)."""
    return out_channels * (in_channels // groups) * kernel * kernel + (out_channels if bias else 0)


def conv_macs(
    batch: int,
    in_channels: int,
    out_channels: int,
    out_height: int,
    out_width: int,
    kernel: int,
    groups: int,
) -> int:
    """Multiply-accumulates of a Conv2d, bias adds not counted: N·C_out·H'·W'·(C_in/groups)·k²."""
    return batch * out_channels * out_height * out_width * (in_channels // groups) * kernel**2


def conv_figures(
    batch: int,
    in_channels: int,
    out_channels: int,
    height: int,
    width: int,
    *,
    kernel: int,
    stride: int = 1,
    padding: int = 0,
    dilation: int = 1,
    groups: int = 1,
    bias: bool = True,
) -> ConvFigures:
    """Figures of one Conv2d on an (N, C_in, H, W) input; no output when a side is ≤ 0."""
    params = conv_params(in_channels, out_channels, kernel, groups, bias)
    bias_params = out_channels if bias else 0
    out_height = conv_output_size(height, kernel, stride, padding, dilation)
    out_width = conv_output_size(width, kernel, stride, padding, dilation)
    if out_height <= 0 or out_width <= 0:
        return ConvFigures(params, bias_params, None, None)
    macs = conv_macs(batch, in_channels, out_channels, out_height, out_width, kernel, groups)
    return ConvFigures(params, bias_params, macs, (batch, out_channels, out_height, out_width))


def figures(spec: LayerSpec) -> Figures:
    """Both sides' figures for ``spec`` by closed-form arithmetic."""
    standard = conv_figures(
        spec.batch,
        spec.in_channels,
        spec.out_channels,
        spec.height,
        spec.width,
        kernel=spec.kernel_size,
        stride=spec.stride,
        padding=spec.padding,
        dilation=spec.dilation,
        bias=spec.bias,
    )
    depthwise = conv_figures(
        spec.batch,
        spec.in_channels,
        spec.depthwise_channels,
        spec.height,
        spec.width,
        kernel=spec.separable_kernel_size,
        stride=spec.separable_stride,
        padding=spec.separable_padding,
        dilation=spec.separable_dilation,
        groups=spec.in_channels,
        bias=spec.bias,
    )
    if depthwise.output_shape is None:
        # No depthwise output means nothing for the pointwise conv to read.
        pointwise = ConvFigures(
            conv_params(spec.depthwise_channels, spec.out_channels, 1, 1, spec.bias),
            spec.out_channels if spec.bias else 0,
            None,
            None,
        )
    else:
        _, _, mid_height, mid_width = depthwise.output_shape
        pointwise = conv_figures(
            spec.batch,
            spec.depthwise_channels,
            spec.out_channels,
            mid_height,
            mid_width,
            kernel=1,
            bias=spec.bias,
        )
    return Figures(standard, SeparableFigures(depthwise, pointwise))


def textbook_ratio(out_channels: float, kernel: float, depth_multiplier: float = 1) -> float:
    """Howard et al. (2017): standard ÷ separable cost = 1 / (m · (1/C_out + 1/k²))."""
    return 1.0 / (depth_multiplier * (1.0 / out_channels + 1.0 / kernel**2))
