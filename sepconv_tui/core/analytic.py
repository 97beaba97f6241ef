"""Closed-form conv arithmetic: parameters, output sizes and MACs, in pure Python."""

from __future__ import annotations

from collections.abc import Sequence
from math import prod

from .figures import ConvFigures, Figures, SeparableFigures
from .spec import LayerSpec


def axis_output_size(size: int, total_padding: int, kernel: int, stride: int, dilation: int) -> int:
    """Output length along one axis padded by ``total_padding`` in all (both sides together):
    floor((size + pad − d·(k − 1) − 1) / s) + 1; zero or less means no output."""
    return (size + total_padding - dilation * (kernel - 1) - 1) // stride + 1


def conv_output_size(size: int, kernel: int, stride: int, padding: int, dilation: int) -> int:
    """Output length along one axis with ``padding`` on each side (the Layer tab's geometry)."""
    return axis_output_size(size, 2 * padding, kernel, stride, dilation)


def conv_output_sizes(
    sizes: Sequence[int],
    kernel: Sequence[int],
    stride: Sequence[int],
    padding: Sequence[int],
    dilation: Sequence[int],
) -> tuple[int, ...]:
    """Output size along every spatial axis (any rank), ``padding`` on each side of each axis."""
    return tuple(
        conv_output_size(size, k, s, p, d)
        for size, k, s, p, d in zip(sizes, kernel, stride, padding, dilation, strict=True)
    )


def conv_figures(
    batch: int,
    in_channels: int,
    out_channels: int,
    sizes: Sequence[int],
    *,
    kernel: Sequence[int],
    stride: Sequence[int] | None = None,
    padding: Sequence[int] | None = None,
    dilation: Sequence[int] | None = None,
    groups: int = 1,
    bias: bool = True,
) -> ConvFigures:
    """Figures of one conv of any rank on an (N, C_in, *sizes) input; no output when an axis
    is ≤ 0. Stride, padding and dilation default to 1, 0 and 1 on every axis."""
    ones, zeros = (1,) * len(sizes), (0,) * len(sizes)
    params = conv_params(in_channels, out_channels, kernel, groups, bias)
    bias_params = out_channels if bias else 0
    out_sizes = conv_output_sizes(
        sizes, kernel, stride or ones, zeros if padding is None else padding, dilation or ones
    )
    if any(size <= 0 for size in out_sizes):
        return ConvFigures(params, bias_params, None, None)
    macs = conv_macs(batch, in_channels, out_channels, out_sizes, kernel, groups)
    return ConvFigures(params, bias_params, macs, (batch, out_channels, *out_sizes))


def figures(spec: LayerSpec) -> Figures:
    """Both sides' figures for ``spec`` by closed-form arithmetic, in its rank."""
    sizes = spec.spatial_size
    standard = conv_figures(
        spec.batch,
        spec.in_channels,
        spec.out_channels,
        sizes,
        kernel=spec.axes("kernel_size"),
        stride=spec.axes("stride"),
        padding=spec.axes("padding"),
        dilation=spec.axes("dilation"),
        bias=spec.bias,
    )
    depthwise = conv_figures(
        spec.batch,
        spec.in_channels,
        spec.depthwise_channels,
        sizes,
        kernel=spec.axes("sep_kernel_size"),
        stride=spec.axes("sep_stride"),
        padding=spec.axes("sep_padding"),
        dilation=spec.axes("sep_dilation"),
        groups=spec.in_channels,
        bias=spec.bias,
    )
    pointwise_kernel = (1,) * spec.dims
    if depthwise.output_shape is None:
        # No depthwise output means nothing for the pointwise conv to read.
        pointwise = ConvFigures(
            conv_params(spec.depthwise_channels, spec.out_channels, pointwise_kernel, 1, spec.bias),
            spec.out_channels if spec.bias else 0,
            None,
            None,
        )
    else:
        pointwise = conv_figures(
            spec.batch,
            spec.depthwise_channels,
            spec.out_channels,
            depthwise.output_shape[2:],
            kernel=pointwise_kernel,
            bias=spec.bias,
        )
    return Figures(standard, SeparableFigures(depthwise, pointwise))


def textbook_ratio(
    out_channels: float, kernel: float, depth_multiplier: float = 1, dims: int = 2
) -> float:
    """Howard et al. (2017): standard ÷ separable cost = 1 / (m · (1/C_out + 1/k^d)).

    ``k^d`` is the kernel's elements per channel (k² in 2-D); for a per-axis kernel pass its
    volume k₁·…·k_d as ``kernel`` with ``dims=1``.
    """
    return 1.0 / (depth_multiplier * (1.0 / out_channels + 1.0 / kernel**dims))


# Per-axis arithmetic for convs found in real models: rectangular kernels, per-axis strides,
# "same"/"valid" padding. An axis pair is (height, width), as nn.Conv2d stores it.
Pair = tuple[int, int]
#: A conv's padding of any rank: one number per axis, "same", "valid", or ``TF_SAME``.
ConvPadding = tuple[int, ...] | str
#: TensorFlow's "SAME" padding, which timm's Conv2dSame computes from each input's size at run
#: time (nn.Conv2d's own "same" is fixed at d·(k − 1) and allows stride 1 only).
TF_SAME = "tf-same"


def tf_same_padding(size: int, kernel: int, stride: int = 1, dilation: int = 1) -> Pair:
    """(before, after) of TensorFlow's "SAME" along one axis; the odd pixel goes after.

    Total max((⌈size / s⌉ − 1)·s + d·(k − 1) + 1 − size, 0): just enough for ⌈size / s⌉ outputs.
    """
    total = max((-(-size // stride) - 1) * stride + dilation * (kernel - 1) + 1 - size, 0)
    return (total // 2, total - total // 2)


def pair(value: int | tuple[int, ...] | list[int]) -> Pair:
    """``value`` as an (h, w) pair: an int applies to both axes."""
    if isinstance(value, int):
        return (value, value)
    if len(value) == 1:
        return (value[0], value[0])
    return (value[0], value[1])


def total_padding(
    padding: ConvPadding, kernel: Sequence[int], dilation: Sequence[int]
) -> tuple[int, ...]:
    """Padding added along each axis (any rank), both sides together ("same" pads d·(k − 1))."""
    if padding == "valid":
        return (0,) * len(kernel)
    if padding == "same":
        return tuple(d * (k - 1) for k, d in zip(kernel, dilation, strict=True))
    if padding == TF_SAME:
        raise ValueError(f"{TF_SAME!r} padding depends on the input size: see tf_same_padding")
    if isinstance(padding, str):
        raise ValueError(f"padding must be 'same', 'valid' or one number per axis, got {padding!r}")
    return tuple(2 * side for side in padding)


def module_output_sizes(
    sizes: Sequence[int],
    kernel: Sequence[int],
    stride: Sequence[int],
    padding: ConvPadding,
    dilation: Sequence[int],
) -> tuple[int, ...]:
    """Output size along every spatial axis (any rank) with padding as a conv module holds it:
    per axis (each side), "same", "valid", or ``TF_SAME`` (from the input size); ≤ 0: none."""
    if padding == TF_SAME:
        totals = tuple(
            sum(tf_same_padding(size, k, s, d))
            for size, k, s, d in zip(sizes, kernel, stride, dilation, strict=True)
        )
    else:
        totals = total_padding(padding, kernel, dilation)
    return tuple(
        axis_output_size(size, pad, k, s, d)
        for size, pad, k, s, d in zip(sizes, totals, kernel, stride, dilation, strict=True)
    )


def conv_params(
    in_channels: int,
    out_channels: int,
    kernel: Sequence[int],
    groups: int = 1,
    bias: bool = True,
) -> int:
    """Parameters of a conv of any rank: C_out · (C_in / groups) · k₁·…·k_d (+ C_out bias)."""
    weights = out_channels * (in_channels // groups) * prod(kernel)
    return weights + (out_channels if bias else 0)


def conv_macs(
    batch: int,
    in_channels: int,
    out_channels: int,
    output_sizes: Sequence[int],
    kernel: Sequence[int],
    groups: int = 1,
) -> int:
    """MACs of a conv of any rank, bias adds not counted:
    N · C_out · (output positions) · (C_in / groups) · k₁·…·k_d."""
    per_output = (in_channels // groups) * prod(kernel)
    return batch * out_channels * prod(output_sizes) * per_output


def separable_params(
    in_channels: int,
    out_channels: int,
    kernel: Sequence[int],
    bias: bool,
    depth_multiplier: int = 1,
) -> int:
    """Parameters of the depthwise (C_in → C_in·m, groups C_in) + 1×1 pointwise block."""
    middle = in_channels * depth_multiplier
    depthwise = conv_params(in_channels, middle, kernel, in_channels, bias)
    return depthwise + conv_params(middle, out_channels, (1,) * len(kernel), 1, bias)


def separable_macs(
    batch: int,
    in_channels: int,
    out_channels: int,
    output_hw: Sequence[int],
    kernel: Sequence[int],
    depth_multiplier: int = 1,
) -> int:
    """MACs of the separable block whose depthwise conv has the replaced conv's geometry."""
    middle = in_channels * depth_multiplier
    depthwise = conv_macs(batch, in_channels, middle, output_hw, kernel, in_channels)
    return depthwise + conv_macs(batch, middle, out_channels, output_hw, (1,) * len(kernel))


def linear_params(in_features: int, out_features: int, bias: bool = True) -> int:
    """Parameters of a Linear layer: in · out (+ out bias)."""
    return in_features * out_features + (out_features if bias else 0)


def linear_macs(input_shape: tuple[int, ...], in_features: int, out_features: int) -> int:
    """MACs of a Linear layer on an input of any rank: every leading element × in · out."""
    rows = 1
    for size in input_shape[:-1]:
        rows *= size
    return rows * in_features * out_features
