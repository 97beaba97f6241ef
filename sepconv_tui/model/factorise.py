"""Factorise a conv's kernel into a depthwise and a pointwise conv: the per-channel SVD.

A standard kernel W (C_out × C_in × kh × kw) and a separable block's effective kernel Ŵ
(Ŵ[:, i] = Σ_r pointwise[:, i·m + r] ⊗ depthwise[i·m + r]) agree exactly when every C_out × (kh·kw)
matrix W[:, i] has rank ≤ m. So the block closest to W in Frobenius norm takes, per input
channel, the top m singular triplets of W[:, i] (Eckart–Young): right singular vectors become
the depthwise filters, σ·u the pointwise weights. The kept energy Σ_{r≤m} σ²_r / ‖W‖²_F = 1 − error²
picks m for ``auto:E``. torch is imported inside the functions.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from .analysis import SwapError, check_depth_multiplier
from .candidates import candidate_reason

if TYPE_CHECKING:
    import torch
    from torch import nn

    from ..core.layers import DepthwiseSeparableConv


def _per_channel_svd(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """U (C_in, C_out, r), S (C_in, r), Vh (C_in, r, kh·kw) of each W[:, i], in float64."""
    import torch

    c_out, c_in, kernel_h, kernel_w = weight.shape
    # float64 so that a rank-m kernel comes back to within rounding of float32; MPS has none.
    device = "cpu" if weight.device.type == "mps" else weight.device
    matrices = weight.detach().to(device=device, dtype=torch.float64)
    matrices = matrices.permute(1, 0, 2, 3).reshape(c_in, c_out, kernel_h * kernel_w)
    u, s, vh = torch.linalg.svd(matrices, full_matrices=False)
    return u, s, vh


def svd_factors(weight: torch.Tensor, depth_multiplier: int = 1) -> tuple[Any, Any]:
    """The depthwise (C_in·m, 1, kh, kw) and pointwise (C_out, C_in·m, 1, 1) weights closest to W.

    Per input channel i the top m singular triplets of W[:, i]; when m exceeds the rank
    min(C_out, kh·kw) the extra filters are zero. Returned in ``weight``'s dtype and device.
    """
    import torch

    c_out, c_in, kernel_h, kernel_w = weight.shape
    u, s, vh = _per_channel_svd(weight)
    keep = min(depth_multiplier, s.shape[1])
    depthwise = torch.zeros(
        c_in, depth_multiplier, kernel_h * kernel_w, dtype=torch.float64, device=s.device
    )
    depthwise[:, :keep] = vh[:, :keep]
    pointwise = torch.zeros(c_out, c_in, depth_multiplier, dtype=torch.float64, device=s.device)
    pointwise[:, :, :keep] = (u[:, :, :keep] * s[:, None, :keep]).permute(1, 0, 2)
    return (
        depthwise.reshape(c_in * depth_multiplier, 1, kernel_h, kernel_w).to(weight),
        pointwise.reshape(c_out, c_in * depth_multiplier, 1, 1).to(weight),
    )


def effective_kernel(block: DepthwiseSeparableConv) -> torch.Tensor:
    """The standard kernel (C_out, C_in, kh, kw) that ``block``'s two convs compute together."""
    import torch

    depthwise = block.depthwise.weight.detach()
    pointwise = block.pointwise.weight.detach()
    c_in = block.depthwise.in_channels
    multiplier = depthwise.shape[0] // c_in
    depthwise = depthwise.reshape(c_in, multiplier, *depthwise.shape[2:])
    pointwise = pointwise.reshape(pointwise.shape[0], c_in, multiplier)
    return torch.einsum("oim,imhw->oihw", pointwise, depthwise)


def relative_error(weight: torch.Tensor, approximation: torch.Tensor) -> float:
    """‖W − Ŵ‖_F / ‖W‖_F (0 when both are zero), in float64."""
    import torch

    original = weight.detach().to(torch.float64)
    norm = float(torch.linalg.vector_norm(original))
    difference = float(torch.linalg.vector_norm(original - approximation.to(original)))
    if norm == 0:
        return 0.0 if difference == 0 else math.inf
    return difference / norm


def svd_error(weight: torch.Tensor, depth_multiplier: int = 1) -> float:
    """The relative error of the best block: √(Σ discarded σ²) / √(Σ σ²) over every W[:, i]."""
    _u, s, _vh = _per_channel_svd(weight)
    energy = float((s**2).sum())
    discarded = float((s[:, depth_multiplier:] ** 2).sum())
    return math.sqrt(discarded / energy) if energy > 0 else 0.0


def has_real_weights(module: nn.Module) -> bool:
    """True unless some parameter lives on the meta device."""
    return not any(parameter.is_meta for parameter in module.parameters())


def candidate_convs(model: nn.Module) -> list[tuple[str, nn.Conv2d]]:
    """Every swap candidate, by module path."""
    return [
        (name, module) for name, module in model.named_modules() if candidate_reason(module) is None
    ]


def layer_errors(model: nn.Module, depth_multiplier: int = 1) -> dict[str, float]:
    """Each candidate conv's ``svd_error``: what a swap initialised from its weights loses."""
    depth_multiplier = check_depth_multiplier(depth_multiplier)
    if not has_real_weights(model):
        raise SwapError("the model's weights are on the meta device: errors need real weights")
    return {name: svd_error(conv.weight, depth_multiplier) for name, conv in candidate_convs(model)}
