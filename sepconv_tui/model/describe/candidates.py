"""Which layers of a model a separable block can replace, their geometry, and how to run it.

The one place that decides what a row of the analysis is (a conv, a linear, another conv type),
whether it is a swap candidate and why not, and its geometry as the JSON describes it. torch
is imported inside the functions.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from ...core import analytic
from ..vocabulary.analysis import Cost, ModelAnalysis, ModelLayer, format_axes

if TYPE_CHECKING:
    import torch
    from torch import nn

    from ...core.layers import DepthwiseSeparableConv


def counted_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """Every conv (any dimension or transpose) and linear, by module path."""
    from torch import nn

    return [
        (name, module)
        for name, module in model.named_modules()
        if isinstance(module, (nn.Linear, nn.modules.conv._ConvNd))
    ]


#: timm's weight-standardised convs: the kernel they convolve with is W standardised per output
#: channel (Qiao et al. 2019), and for the Scaled ones also × gain · scale (Brock et al. 2021).
_TIMM_STD = frozenset({"StdConv2d", "StdConv2dSame"})
_TIMM_SCALED_STD = frozenset({"ScaledStdConv2d", "ScaledStdConv2dSame"})


def conv_rank(module: nn.Module) -> int | None:
    """1, 2 or 3 for an nn.Conv1d, Conv2d or Conv3d (or a subclass); None for anything else."""
    from torch import nn

    for rank, conv_class in enumerate((nn.Conv1d, nn.Conv2d, nn.Conv3d), start=1):
        if isinstance(module, conv_class):
            return rank
    return None


def _conv_class(rank: int) -> type[nn.Module]:
    """nn.Conv1d, nn.Conv2d or nn.Conv3d."""
    from torch import nn

    classes: dict[int, type[nn.Module]] = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}
    return classes[rank]


def _known_forward(conv: nn.Module) -> bool:
    """True when we know what ``conv``'s forward computes: a conv of ``effective_weight``.

    nn.Conv1d's, Conv2d's and Conv3d's own forward, our SamePadConv2d, and timm's same-padded
    and weight-standardised convs. Another subclass's forward may do anything to the kernel or
    the input.
    """
    from ...core.layers import TIMM_SAME, SamePadConv2d, forward_class, is_timm_class

    rank = conv_rank(conv)
    assert rank is not None
    base = _conv_class(rank)
    owner = forward_class(conv)
    if owner is base:
        # A subclass may change the conv itself in _conv_forward and keep nn.ConvNd's forward.
        conv_forward = next(cls for cls in type(conv).__mro__ if "_conv_forward" in vars(cls))
        return conv_forward is base
    return issubclass(owner, SamePadConv2d) or is_timm_class(
        owner, TIMM_SAME | _TIMM_STD | _TIMM_SCALED_STD
    )


def effective_weight(conv: nn.Module) -> torch.Tensor:
    """The kernel ``conv``'s forward convolves with: its weight, or timm's standardised one.

    timm's StdConv2d standardises W per output channel before each conv, and ScaledStdConv2d
    then multiplies by gain · scale; a block replacing one must reproduce that kernel (the
    gain, a per-output-channel factor, folds into the pointwise weights), not the raw W.
    """
    import torch.nn.functional as F

    from ...core.layers import forward_class, is_timm_class

    owner = forward_class(conv)
    weight: torch.Tensor = conv.weight  # type: ignore[assignment]
    if not is_timm_class(owner, _TIMM_STD | _TIMM_SCALED_STD):
        return weight
    standardised: Any = conv  # timm's attributes: eps, and gain and scale when Scaled
    scale = None
    if is_timm_class(owner, _TIMM_SCALED_STD):
        scale = (standardised.gain * standardised.scale).view(-1)
    # timm's own formula: batch_norm over each output channel's fan-in, biased variance.
    return F.batch_norm(
        weight.reshape(1, weight.shape[0], -1),
        None,
        None,
        weight=scale,
        training=True,
        momentum=0.0,
        eps=standardised.eps,
    ).reshape_as(weight)


def extra_params(module: nn.Module) -> int:
    """Parameters a conv or linear subclass holds beside weight and bias (timm's ``gain``)."""
    return sum(
        parameter.numel()
        for name, parameter in module.named_parameters(recurse=False)
        if name not in ("weight", "bias")
    )


def candidate_reason(module: nn.Module) -> str | None:
    """Why a layer is not a swap candidate (None when it is one)."""
    from torch import nn

    if isinstance(module, nn.Linear):
        return "linear layer"
    if conv_rank(module) is None:
        return f"{type(module).__name__}, not a Conv1d, Conv2d or Conv3d"
    if not _known_forward(module):
        return f"{type(module).__name__} has its own forward: what it computes is unknown"
    conv: Any = module  # an nn.Conv1d, Conv2d or Conv3d
    if conv.groups > 1 and conv.groups == conv.in_channels:
        return "already depthwise (groups = C_in)"
    if conv.groups > 1:
        return f"grouped (groups = {conv.groups})"
    kernel = tuple(conv.kernel_size)
    if all(size == 1 for size in kernel):
        what = "kernel size 1" if len(kernel) == 1 else f"{format_axes(kernel)} kernel"
        return f"{what} (already pointwise)"  # 1×1 kernel, 1×1×1 kernel
    return None


def geometry(module: nn.Module) -> dict[str, Any]:
    """A conv's or linear's geometry as the JSON describes it."""
    from torch import nn

    if isinstance(module, nn.Linear):
        return {
            "in_channels": module.in_features,
            "out_channels": module.out_features,
            "kernel_size": None,
            "stride": None,
            "padding": None,
            "dilation": None,
            "groups": 1,
            "bias": module.bias is not None,
            "padding_mode": None,
        }
    from ...core.layers import pads_same_at_run_time

    conv: Any = module
    padding = conv.padding if isinstance(conv.padding, str) else tuple(conv.padding)
    rank = conv_rank(module)
    if rank == 2 and pads_same_at_run_time(module):
        padding = analytic.TF_SAME  # conv.padding is 0: the forward pads from the input's size
    return {
        "in_channels": conv.in_channels,
        "out_channels": conv.out_channels,
        "kernel_size": tuple(conv.kernel_size) if rank is not None else None,
        "stride": tuple(conv.stride),
        "padding": padding,
        "dilation": tuple(conv.dilation),
        "groups": conv.groups,
        "bias": conv.bias is not None,
        "padding_mode": conv.padding_mode,
    }


def layer_kind(module: nn.Module) -> str:
    """ "conv" (nn.Conv1d/2d/3d and subclasses), "linear" (nn.Linear) or "other" (another conv
    type: transposed, …)."""
    from torch import nn

    if isinstance(module, nn.Linear):
        return "linear"
    return "conv" if conv_rank(module) is not None else "other"


def own_params(module: nn.Module) -> int:
    """The parameters a layer holds itself (a conv subclass's extra ones too), as PyTorch counts."""
    return sum(parameter.numel() for parameter in module.parameters(recurse=False))


def static_analysis(model: nn.Module, depth_multiplier: int = 1) -> ModelAnalysis:
    """Rows from the modules' attributes alone (no forward: no shapes, MACs 0) to select from."""
    rows = []
    for name, module in counted_layers(model):
        layer_geometry = geometry(module)
        reason = candidate_reason(module)
        separable = None
        if reason is None:
            separable = Cost(
                analytic.separable_params(
                    layer_geometry["in_channels"],
                    layer_geometry["out_channels"],
                    layer_geometry["kernel_size"],
                    layer_geometry["bias"],
                    depth_multiplier,
                ),
                0,
            )
        rows.append(
            ModelLayer(
                name=name,
                kind=layer_kind(module),
                module_type=type(module).__name__,
                input_shape=None,
                output_shape=None,
                calls=0,
                candidate=reason is None,
                reason=reason,
                swap=False,
                standard=Cost(own_params(module), 0),
                separable=separable,
                **layer_geometry,
            )
        )
    return ModelAnalysis(
        source=type(model).__name__,
        input_shape=(),
        output_shape=None,
        layers=tuple(rows),
        other=Cost(0, 0),
        depth_multiplier=depth_multiplier,
    )


def separable_block(
    conv: nn.Module, depth_multiplier: int = 1, *, device: Any = None
) -> DepthwiseSeparableConv:
    """The block replacing ``conv`` (a Conv1d, Conv2d or Conv3d): its rank, channels, geometry,
    padding mode, bias, dtype and device (``device`` overrides where it is built: "meta" to
    count it for free); a conv padding TensorFlow's "SAME" at run time gets a block that does.
    """
    from ...core.layers import DepthwiseSeparableConv

    assert conv_rank(conv) is not None, f"{type(conv).__name__} is not a Conv1d, Conv2d or Conv3d"
    standard: Any = conv  # an nn.Conv1d, Conv2d or Conv3d
    return DepthwiseSeparableConv.from_conv(standard, depth_multiplier, device=device)


@contextmanager
def eval_mode(model: nn.Module) -> Iterator[None]:
    """Run in eval mode, then give every module its own training flag back."""
    modes = {module: module.training for module in model.modules()}
    model.eval()
    try:
        yield
    finally:
        for module, training in modes.items():
            module.training = training


def input_dtype(model: nn.Module) -> torch.dtype:
    """The dtype of the model's first floating parameter (float32 when it has none)."""
    import torch

    for parameter in model.parameters():
        if parameter.is_floating_point():
            return parameter.dtype
    return torch.float32
