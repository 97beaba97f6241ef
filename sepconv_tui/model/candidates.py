"""Which layers of a model a separable block can replace, their geometry, and how to run it.

The one place that decides what a row of the analysis is (a conv, a linear, another conv type),
whether it is a swap candidate and why not, and its geometry as the JSON describes it. torch
is imported inside the functions.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from ..core import analytic
from .analysis import Cost, ModelAnalysis, ModelLayer

if TYPE_CHECKING:
    import torch
    from torch import nn


def counted_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """Every conv (any dimension or transpose) and linear, by module path."""
    from torch import nn

    return [
        (name, module)
        for name, module in model.named_modules()
        if isinstance(module, (nn.Linear, nn.modules.conv._ConvNd))
    ]


def candidate_reason(module: nn.Module) -> str | None:
    """Why a layer is not a swap candidate (None when it is one)."""
    from torch import nn

    if isinstance(module, nn.Linear):
        return "linear layer"
    if not isinstance(module, nn.Conv2d):
        return f"{type(module).__name__}, not a Conv2d"
    if module.groups > 1 and module.groups == module.in_channels:
        return "already depthwise (groups = C_in)"
    if module.groups > 1:
        return f"grouped (groups = {module.groups})"
    if tuple(module.kernel_size) == (1, 1):
        return "1×1 kernel (already pointwise)"
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
    conv: Any = module
    padding = conv.padding if isinstance(conv.padding, str) else tuple(conv.padding)
    is_2d = isinstance(module, nn.Conv2d)
    return {
        "in_channels": conv.in_channels,
        "out_channels": conv.out_channels,
        "kernel_size": analytic.pair(conv.kernel_size) if is_2d else None,
        "stride": tuple(conv.stride),
        "padding": padding,
        "dilation": tuple(conv.dilation),
        "groups": conv.groups,
        "bias": conv.bias is not None,
        "padding_mode": conv.padding_mode,
    }


def layer_kind(module: nn.Module) -> str:
    """ "conv" (nn.Conv2d and subclasses), "linear" (nn.Linear) or "other" (another conv type)."""
    from torch import nn

    if isinstance(module, nn.Linear):
        return "linear"
    return "conv" if isinstance(module, nn.Conv2d) else "other"


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
