"""Factorise a conv's kernel into a depthwise and a pointwise conv: the per-channel SVD.

A standard kernel W (C_out × C_in × k₁ × … × k_d, for a conv of d = 1, 2 or 3 spatial axes) and a
separable block's effective kernel Ŵ (Ŵ[:, i] = Σ_r pointwise[:, i·m + r] ⊗ depthwise[i·m + r])
agree exactly when every C_out × (k₁·…·k_d) matrix W[:, i] has rank ≤ m. So the block closest
to W in Frobenius norm takes, per input channel, the top m singular triplets of W[:, i]
(Eckart–Young): right singular vectors become the depthwise filters, σ·u the pointwise weights.
The kept energy Σ_{r≤m} σ²_r / ‖W‖²_F = 1 − error² picks m for ``auto:E``.
torch is imported inside the functions.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from ..vocabulary.analysis import (
    AutoDepth,
    DepthChoice,
    SwapError,
    check_depth_multiplier,
    error_from_energy,
    multiplier_for_energy,
)
from .candidates import candidate_reason, effective_weight

if TYPE_CHECKING:
    import torch
    from torch import nn

    from ...core.layers import DepthwiseSeparableConv


def _per_channel_svd(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """U (C_in, C_out, r), S (C_in, r), Vh (C_in, r, k₁·…·k_d) of each W[:, i], in float64."""
    import torch

    c_out, c_in = weight.shape[:2]
    # float64 so that a rank-m kernel comes back to within rounding of float32; MPS has none.
    device = "cpu" if weight.device.type == "mps" else weight.device
    matrices = weight.detach().to(device=device, dtype=torch.float64)
    matrices = matrices.transpose(0, 1).reshape(c_in, c_out, -1)
    u, s, vh = torch.linalg.svd(matrices, full_matrices=False)
    return u, s, vh


def svd_factors(weight: torch.Tensor, depth_multiplier: int = 1) -> tuple[Any, Any]:
    """The depthwise (C_in·m, 1, k₁, …, k_d) and pointwise (C_out, C_in·m, 1, …, 1) weights
    closest to W, for a conv of any rank.

    Per input channel i the top m singular triplets of W[:, i]; when m exceeds the rank
    min(C_out, k₁·…·k_d) the extra filters are zero. Returned in ``weight``'s dtype and device.
    """
    import torch

    c_out, c_in, *kernel = weight.shape
    u, s, vh = _per_channel_svd(weight)
    keep = min(depth_multiplier, s.shape[1])
    depthwise = torch.zeros(
        c_in, depth_multiplier, math.prod(kernel), dtype=torch.float64, device=s.device
    )
    depthwise[:, :keep] = vh[:, :keep]
    pointwise = torch.zeros(c_out, c_in, depth_multiplier, dtype=torch.float64, device=s.device)
    pointwise[:, :, :keep] = (u[:, :, :keep] * s[:, None, :keep]).permute(1, 0, 2)
    return (
        depthwise.reshape(c_in * depth_multiplier, 1, *kernel).to(weight),
        pointwise.reshape(c_out, c_in * depth_multiplier, *[1] * len(kernel)).to(weight),
    )


def effective_kernel(block: DepthwiseSeparableConv) -> torch.Tensor:
    """The standard kernel (C_out, C_in, k₁, …, k_d) that ``block``'s two convs compute together."""
    import torch

    depthwise = block.depthwise.weight.detach()
    pointwise = block.pointwise.weight.detach()
    c_in = block.depthwise.in_channels
    multiplier = depthwise.shape[0] // c_in
    depthwise = depthwise.reshape(c_in, multiplier, *depthwise.shape[2:])
    pointwise = pointwise.reshape(pointwise.shape[0], c_in, multiplier)
    return torch.einsum("oim,im...->oi...", pointwise, depthwise)


def relative_error(weight: torch.Tensor, approximation: torch.Tensor) -> float:
    """‖W − Ŵ‖_F / ‖W‖_F (0 when both are zero), in float64."""
    import torch

    original = weight.detach().to(torch.float64)
    norm = float(torch.linalg.vector_norm(original))
    difference = float(torch.linalg.vector_norm(original - approximation.to(original)))
    if norm == 0:
        return 0.0 if difference == 0 else math.inf
    return difference / norm


def weight_errors(
    original: nn.Module, swapped: nn.Module, names: Iterable[str]
) -> dict[str, float]:
    """Each swapped layer's weight error: ‖W − Ŵ‖_F / ‖W‖_F of the original conv's kernel
    against the kernel its block in ``swapped`` computes (the one place it is computed)."""
    import torch

    convs: dict[str, Any] = dict(original.named_modules())
    blocks: dict[str, Any] = dict(swapped.named_modules())
    with torch.no_grad():
        return {
            name: relative_error(effective_weight(convs[name]), effective_kernel(blocks[name]))
            for name in names
        }


def svd_error(weight: torch.Tensor, depth_multiplier: int = 1) -> float:
    """The relative error of the best block: √(Σ discarded σ²) / √(Σ σ²) over every W[:, i]."""
    return error_from_energy(kept_energy(weight), depth_multiplier)


def has_real_weights(module: nn.Module) -> bool:
    """True unless some parameter lives on the meta device."""
    return not any(parameter.is_meta for parameter in module.parameters())


def candidate_convs(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """Every swap candidate (a Conv1d, Conv2d or Conv3d), by module path."""
    return [
        (name, module) for name, module in model.named_modules() if candidate_reason(module) is None
    ]


def layer_errors(
    model: nn.Module, depth_multiplier: int | Mapping[str, int] = 1
) -> dict[str, float]:
    """Each candidate conv's ``svd_error`` at its m: what a swap initialised from it loses.

    ``depth_multiplier``: one m for all, or each layer's (layers it does not name get m = 1).
    """
    if not has_real_weights(model):
        raise SwapError("the model's weights are on the meta device: errors need real weights")
    errors = {}
    for name, conv in candidate_convs(model):
        multiplier = (
            depth_multiplier.get(name, 1)
            if isinstance(depth_multiplier, Mapping)
            else depth_multiplier
        )
        errors[name] = svd_error(effective_weight(conv), check_depth_multiplier(multiplier))
    return errors


def layer_energies(model: nn.Module) -> dict[str, list[float]]:
    """Each candidate's ``kept_energy`` (of the kernel its forward uses)."""
    if not has_real_weights(model):
        raise SwapError("the model's weights are on the meta device: energies need real weights")
    return {name: kept_energy(effective_weight(conv)) for name, conv in candidate_convs(model)}


def kept_energy(weight: torch.Tensor) -> list[float]:
    """Fraction of ‖W‖²_F the best block keeps at m = 1, 2, … up to the rank min(C_out, ∏k)."""
    _u, s, _vh = _per_channel_svd(weight)
    per_rank = (s**2).sum(dim=0)  # Σ over input channels of σ²_r, r = 1 … rank
    total = float(per_rank.sum())
    if total == 0:
        return [1.0] * per_rank.shape[0]
    return [float(kept) / total for kept in per_rank.cumsum(dim=0)]


def auto_multiplier(weight: torch.Tensor, energy: float) -> int:
    """The smallest m whose per-channel SVD keeps a fraction ``energy`` of ‖W‖²_F (E = 1 − error²).

    Capped at the rank min(C_out, k₁·…·k_d), where the block is exact, and at the largest m allowed.
    """
    return multiplier_for_energy(kept_energy(weight), energy)


def resolve_multipliers(
    model: nn.Module, choice: DepthChoice | Mapping[str, int], names: Iterable[str] | None = None
) -> dict[str, int]:
    """Each candidate's m (``names`` only, when given) under ``choice``: an int, auto:E or a map.

    ``auto:E`` needs real weights (SwapError otherwise); a map gives m = 1 to layers it omits.
    """
    candidates = dict(candidate_convs(model))
    wanted = list(candidates) if names is None else [name for name in names if name in candidates]
    if isinstance(choice, Mapping):
        return {name: check_depth_multiplier(choice.get(name, 1)) for name in wanted}
    if isinstance(choice, AutoDepth):
        if not has_real_weights(model):
            raise SwapError(
                f"{choice} picks each layer's m from its weights: give the model's weights",
                field="depth_multiplier",
            )
        return {
            name: auto_multiplier(effective_weight(candidates[name]), choice.energy)
            for name in wanted
        }
    multiplier = check_depth_multiplier(choice)
    return {name: multiplier for name in wanted}
