"""The two PyTorch sides of the comparison: a standard Conv2d and a depthwise-separable block.

This module imports torch at load time; import it lazily (from inside a function).
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from torch import nn

from .networks import BlockConfig
from .spec import LayerSpec

IntPair = int | tuple[int, int]
Padding = int | tuple[int, int] | str
PaddingMode = Literal["zeros", "reflect", "replicate", "circular"]


class DepthwiseSeparableConv(nn.Module):
    """A depthwise conv (``groups=in_channels``) followed by a 1×1 pointwise conv.

    Kernel, stride, padding and dilation take an int or an (h, w) pair, and padding may be
    ``"same"`` or ``"valid"``, exactly as ``nn.Conv2d`` takes them: the depthwise conv carries
    the geometry of the conv it replaces, the pointwise conv only mixes channels.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: IntPair,
        padding: Padding = 0,
        *,
        stride: IntPair = 1,
        dilation: IntPair = 1,
        bias: bool = True,
        depth_multiplier: int = 1,
        padding_mode: PaddingMode = "zeros",
        device: Any = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.depthwise = nn.Conv2d(
            in_channels,
            in_channels * depth_multiplier,
            kernel_size,
            stride=stride,
            padding=padding,
            dilation=dilation,
            groups=in_channels,
            bias=bias,
            padding_mode=padding_mode,
            device=device,
            dtype=dtype,
        )
        self.pointwise = nn.Conv2d(
            in_channels * depth_multiplier,
            out_channels,
            1,
            bias=bias,
            device=device,
            dtype=dtype,
        )

    @classmethod
    def from_conv(
        cls, conv: nn.Conv2d, depth_multiplier: int = 1, *, device: Any = None
    ) -> DepthwiseSeparableConv:
        """The block that replaces ``conv``: same channels, geometry, bias, dtype and device.

        ``device`` overrides where the block is built (e.g. "meta" to count it for free).
        """
        padding: Padding = (
            conv.padding if isinstance(conv.padding, str) else (conv.padding[0], conv.padding[1])
        )
        return cls(
            conv.in_channels,
            conv.out_channels,
            (conv.kernel_size[0], conv.kernel_size[1]),
            padding,
            stride=(conv.stride[0], conv.stride[1]),
            dilation=(conv.dilation[0], conv.dilation[1]),
            bias=conv.bias is not None,
            depth_multiplier=depth_multiplier,
            padding_mode=conv.padding_mode,
            device=conv.weight.device if device is None else device,
            dtype=conv.weight.dtype,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Depthwise, then pointwise."""
        return self.pointwise(self.depthwise(x))


def standard_conv(spec: LayerSpec) -> nn.Conv2d:
    """The standard (``groups=1``) Conv2d that ``spec`` describes."""
    return nn.Conv2d(
        spec.in_channels,
        spec.out_channels,
        spec.kernel_size,
        stride=spec.stride,
        padding=spec.padding,
        dilation=spec.dilation,
        bias=spec.bias,
    )


def separable_block(spec: LayerSpec) -> DepthwiseSeparableConv:
    """The depthwise-separable block that replaces ``spec``'s standard conv."""
    return DepthwiseSeparableConv(
        spec.in_channels,
        spec.out_channels,
        spec.separable_kernel_size,
        spec.separable_padding,
        stride=spec.separable_stride,
        dilation=spec.separable_dilation,
        bias=spec.bias,
        depth_multiplier=spec.depth_multiplier,
    )


def network_block(block: BlockConfig, variant: str) -> nn.Module:
    """One row of a network as PyTorch modules, in the "standard" or "separable" variant."""
    if block.kind == "classifier":
        return nn.Sequential(nn.Flatten(), nn.Linear(block.in_channels, block.out_channels))
    k, stride, padding = block.kernel_size, block.stride, block.conv_padding
    if block.kind == "pool":
        return nn.MaxPool2d(k, stride, padding)
    c_in, c_out = block.in_channels, block.out_channels
    if block.kind == "conv" or variant == "standard":
        return nn.Sequential(
            nn.Conv2d(c_in, c_out, k, stride, padding, bias=False),
            nn.BatchNorm2d(c_out),
            nn.ReLU(inplace=True),
        )
    between: list[nn.Module] = (
        [nn.BatchNorm2d(c_in), nn.ReLU(inplace=True)] if block.bn_between else []
    )
    return nn.Sequential(
        nn.Conv2d(c_in, c_in, k, stride, padding, groups=c_in, bias=False),
        *between,
        nn.Conv2d(c_in, c_out, 1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )
