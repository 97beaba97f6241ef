"""The two PyTorch sides of the comparison: a standard conv and a depthwise-separable block,
in 1-D, 2-D or 3-D.

This module imports torch at load time; import it lazily (from inside a function).
"""

from __future__ import annotations

from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from .analytic import TF_SAME, pair, tf_same_padding
from .networks import BlockConfig
from .spec import LayerSpec

IntPair = int | tuple[int, int]
#: One number for every axis, or one per axis (any rank).
IntAxes = int | tuple[int, ...]
Padding = int | tuple[int, ...] | str
PaddingMode = Literal["zeros", "reflect", "replicate", "circular"]

#: PyTorch's conv class of each spatial rank.
CONV_CLASSES: dict[int, type[nn.Conv1d | nn.Conv2d | nn.Conv3d]] = {
    1: nn.Conv1d,
    2: nn.Conv2d,
    3: nn.Conv3d,
}
BATCH_NORM_CLASSES: dict[int, type[nn.BatchNorm1d | nn.BatchNorm2d | nn.BatchNorm3d]] = {
    1: nn.BatchNorm1d,
    2: nn.BatchNorm2d,
    3: nn.BatchNorm3d,
}


def rank_of(kernel_size: IntAxes, dims: int | None) -> int:
    """The spatial rank: ``dims`` if given, else the kernel tuple's length, else 2."""
    if dims is not None:
        if dims not in CONV_CLASSES:
            raise ValueError(f"dims must be 1, 2 or 3, got {dims!r}")
        return dims
    return len(kernel_size) if isinstance(kernel_size, tuple) else 2


#: timm's Conv2d subclasses that pad TensorFlow's "SAME" from the input size in every forward,
#: and those that do when their ``same_pad`` flag says so (built with a 'same' meta cannot fix).
TIMM_SAME = frozenset({"Conv2dSame", "Conv2dSameExport"})
_TIMM_SAME_IF_FLAGGED = frozenset({"StdConv2dSame", "ScaledStdConv2dSame"})


class SamePadConv2d(nn.Conv2d):
    """A Conv2d that pads TensorFlow's "SAME" from each input's size, as timm's Conv2dSame does.

    The total padding of an axis is max((⌈size / s⌉ − 1)·s + d·(k − 1) + 1 − size, 0), the odd
    pixel at the bottom or right: the output is ⌈size / s⌉ whatever the input.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: IntPair,
        *,
        stride: IntPair = 1,
        dilation: IntPair = 1,
        groups: int = 1,
        bias: bool = True,
        device: Any = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride=stride,
            padding=0,
            dilation=dilation,
            groups=groups,
            bias=bias,
            device=device,
            dtype=dtype,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Pad for this input's size, then convolve without padding."""
        kernel, stride, dilation = pair(self.kernel_size), pair(self.stride), pair(self.dilation)
        top, bottom = tf_same_padding(int(x.shape[-2]), kernel[0], stride[0], dilation[0])
        left, right = tf_same_padding(int(x.shape[-1]), kernel[1], stride[1], dilation[1])
        return self._conv_forward(F.pad(x, (left, right, top, bottom)), self.weight, self.bias)


def forward_class(module: nn.Module) -> type:
    """The class whose ``forward`` ``module`` runs (the first in its MRO to define one)."""
    return next(cls for cls in type(module).__mro__ if "forward" in vars(cls))


def is_timm_class(cls: type, names: frozenset[str]) -> bool:
    """True when ``cls`` is one of timm's classes called ``names`` (any timm version's module)."""
    return cls.__name__ in names and cls.__module__.partition(".")[0] == "timm"


def pads_same_at_run_time(conv: nn.Module) -> bool:
    """True for a conv whose forward pads TensorFlow's "SAME" from each input's size."""
    owner = forward_class(conv)
    if issubclass(owner, SamePadConv2d) or is_timm_class(owner, TIMM_SAME):
        return True
    return is_timm_class(owner, _TIMM_SAME_IF_FLAGGED) and bool(getattr(conv, "same_pad", False))


class DepthwiseSeparableConv(nn.Module):
    """A depthwise conv (``groups=in_channels``) followed by a pointwise (kernel 1) conv.

    One class for every rank: ``dims`` 1, 2 or 3 builds Conv1d, Conv2d or Conv3d parts (by
    default the kernel tuple's length, else 2). Kernel, stride, padding and dilation take an
    int or one value per axis, and padding may be ``"same"`` or ``"valid"``, exactly as PyTorch's
    convs take them, or (2-D only) ``"tf-same"`` (TensorFlow's "SAME", computed from each
    input's size, as timm's Conv2dSame pads): the depthwise conv carries the geometry of the
    conv it replaces, the pointwise conv only mixes channels.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: IntAxes,
        padding: Padding = 0,
        *,
        stride: IntAxes = 1,
        dilation: IntAxes = 1,
        bias: bool = True,
        depth_multiplier: int = 1,
        padding_mode: PaddingMode = "zeros",
        dims: int | None = None,
        device: Any = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        rank = rank_of(kernel_size, dims)
        per_axis = {"kernel_size": kernel_size, "stride": stride, "dilation": dilation}
        per_axis["padding"] = padding if isinstance(padding, tuple) else 0
        for name, value in per_axis.items():
            if isinstance(value, tuple) and len(value) != rank:
                raise ValueError(
                    f"{name} must be one number or {rank} (one per axis of a {rank}-D block), "
                    f"got {value!r}"
                )
        # Any: torch types each rank's arguments as tuples of exactly its rank's length.
        conv_class: Any = CONV_CLASSES[rank]
        self.depthwise: nn.Conv1d | nn.Conv2d | nn.Conv3d
        if padding == TF_SAME:
            if rank != 2:
                raise ValueError(f"padding {TF_SAME!r} is for 2-D convs, not {rank}-D")
            if padding_mode != "zeros":
                raise ValueError(f"padding {TF_SAME!r} pads zeros, not {padding_mode!r}")
            self.depthwise = SamePadConv2d(
                in_channels,
                in_channels * depth_multiplier,
                pair(kernel_size),
                stride=pair(stride),
                dilation=pair(dilation),
                groups=in_channels,
                bias=bias,
                device=device,
                dtype=dtype,
            )
        else:
            self.depthwise = conv_class(
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
        self.pointwise = conv_class(
            in_channels * depth_multiplier,
            out_channels,
            1,
            bias=bias,
            device=device,
            dtype=dtype,
        )

    @classmethod
    def from_conv(
        cls,
        conv: nn.Conv1d | nn.Conv2d | nn.Conv3d,
        depth_multiplier: int = 1,
        *,
        device: Any = None,
    ) -> DepthwiseSeparableConv:
        """The block that replaces ``conv`` (1-D, 2-D or 3-D): same rank, channels, geometry,
        bias, dtype and device.

        A conv that pads TensorFlow's "SAME" at run time (timm's Conv2dSame) gets a depthwise
        conv that pads the same way. ``device`` overrides where the block is built (e.g.
        "meta" to count it for free).
        """
        padding: Padding
        if pads_same_at_run_time(conv):
            padding = TF_SAME
        elif isinstance(conv.padding, str):
            padding = conv.padding
        else:
            padding = tuple(conv.padding)
        return cls(
            conv.in_channels,
            conv.out_channels,
            tuple(conv.kernel_size),
            padding,
            stride=tuple(conv.stride),
            dilation=tuple(conv.dilation),
            bias=conv.bias is not None,
            depth_multiplier=depth_multiplier,
            padding_mode=conv.padding_mode,
            dims=len(conv.kernel_size),
            device=conv.weight.device if device is None else device,
            dtype=conv.weight.dtype,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Depthwise, then pointwise."""
        return self.pointwise(self.depthwise(x))


def standard_conv(spec: LayerSpec) -> nn.Conv1d | nn.Conv2d | nn.Conv3d:
    """The standard (``groups=1``) conv of ``spec``'s rank that ``spec`` describes."""
    conv_class: Any = CONV_CLASSES[spec.dims]  # see DepthwiseSeparableConv.__init__
    return conv_class(
        spec.in_channels,
        spec.out_channels,
        spec.axes("kernel_size"),
        stride=spec.axes("stride"),
        padding=spec.axes("padding"),
        dilation=spec.axes("dilation"),
        bias=spec.bias,
    )


def separable_block(spec: LayerSpec) -> DepthwiseSeparableConv:
    """The depthwise-separable block that replaces ``spec``'s standard conv."""
    return DepthwiseSeparableConv(
        spec.in_channels,
        spec.out_channels,
        spec.axes("sep_kernel_size"),
        spec.axes("sep_padding"),
        stride=spec.axes("sep_stride"),
        dilation=spec.axes("sep_dilation"),
        bias=spec.bias,
        depth_multiplier=spec.depth_multiplier,
        dims=spec.dims,
    )


def network_block(block: BlockConfig, variant: str) -> nn.Module:
    """One row of a network as PyTorch modules, in the "standard" or "separable" variant."""
    if block.kind == "classifier":
        return nn.Sequential(nn.Flatten(), nn.Linear(block.in_channels, block.out_channels))
    k, stride, padding = block.kernel_size, block.stride, block.conv_padding
    if block.kind == "pool":
        return nn.MaxPool2d(k, stride, padding)
    conv: Any = CONV_CLASSES[block.dims]  # see DepthwiseSeparableConv.__init__
    batch_norm = BATCH_NORM_CLASSES[block.dims]
    c_in, c_out, dilation = block.in_channels, block.out_channels, block.dilation
    if block.kind == "head":
        return conv(c_in, c_out, k, stride, padding, dilation)
    if block.kind == "conv" or variant == "standard":
        activation = [nn.ReLU(inplace=True)] if block.activation else []
        return nn.Sequential(
            conv(c_in, c_out, k, stride, padding, dilation, bias=False),
            batch_norm(c_out),
            *activation,
        )
    between: list[nn.Module] = [batch_norm(c_in), nn.ReLU(inplace=True)] if block.bn_between else []
    return nn.Sequential(
        conv(c_in, c_in, k, stride, padding, dilation, groups=c_in, bias=False),
        *between,
        conv(c_in, c_out, 1, bias=False),
        batch_norm(c_out),
        nn.ReLU(inplace=True),
    )
