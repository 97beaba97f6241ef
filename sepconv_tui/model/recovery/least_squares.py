"""The least-squares solver of reconstruction: the pointwise map from a block's depthwise
output to a target, by ridge-regularised normal equations in float64.

AᵀA and AᵀY are accumulated over chunks of samples (``normal_equations``; sums of them may be
added over chunks or over processes), then ``solve`` takes argmin ‖A X − Y‖² + λ‖X‖² with a
small ridge relative to AᵀA's mean diagonal, so a rank-deficient fit gives no NaN nor huge
weights. ``fit_linear`` does both for tensors held at once; ``fit_pointwise`` writes the
result into a 1×1 conv. torch is imported inside the functions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

from ..measure.distributed import LOCAL, Ranks

if TYPE_CHECKING:
    import torch

#: The ridge term, relative to the mean diagonal of AᵀA: small enough to leave a well-posed
#: fit as it is, large enough that a rank-deficient one stays finite.
RIDGE = 1e-4
#: Samples per chunk of the normal equations (bounds the reshaped copies, not the result).
CHUNK = 16


class LinearMap(NamedTuple):
    """A fitted channel map: ``weight`` (out × in) and ``bias`` (out, or None), float64."""

    weight: torch.Tensor
    bias: torch.Tensor | None


def normal_equations(
    inputs: torch.Tensor, target: torch.Tensor, bias: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """AᵀA and AᵀY of the channel map inputs → target (N × C × any spatial axes, channels
    second), accumulated over chunks in float64 on the data's device; with ``bias``, A has a
    last column of ones."""
    import torch

    middle, out = inputs.shape[1], target.shape[1]
    size = middle + (1 if bias else 0)
    device = inputs.device
    gram = torch.zeros(size, size, dtype=torch.float64, device=device)
    cross = torch.zeros(size, out, dtype=torch.float64, device=device)
    for start in range(0, inputs.shape[0], CHUNK):
        a = inputs[start : start + CHUNK].to(torch.float64).movedim(1, -1).reshape(-1, middle)
        y = target[start : start + CHUNK].to(torch.float64).movedim(1, -1).reshape(-1, out)
        if bias:
            a = torch.cat([a, torch.ones(a.shape[0], 1, dtype=torch.float64, device=device)], 1)
        gram += a.T @ a
        cross += a.T @ y
    return gram, cross


def solve(gram: torch.Tensor, cross: torch.Tensor, bias: bool) -> torch.Tensor:
    """argmin ‖A X − Y‖² + λ‖X‖² (the bias row unpenalised) from AᵀA and AᵀY, in float64:
    the (in [+ 1]) × out solution, the bias row last."""
    import torch

    size = gram.shape[0]
    features = size - 1 if bias else size
    scale = float(torch.diagonal(gram)[:features].mean()) if features else 0.0
    penalty = torch.zeros(size, dtype=gram.dtype, device=gram.device)
    penalty[:features] = RIDGE * scale if scale > 0 else RIDGE
    if bias:
        penalty[-1] = 1e-12 * max(scale, 1.0)  # keeps a never-varying input solvable
    system = gram + torch.diag(penalty)
    try:
        return torch.linalg.solve(system, cross)
    except RuntimeError:
        return torch.linalg.lstsq(system, cross).solution


def fit_linear(
    inputs: torch.Tensor, target: torch.Tensor, *, bias: bool = True, ranks: Ranks = LOCAL
) -> LinearMap:
    """The least-squares channel map inputs → target (channels second, any spatial axes),
    the normal equations summed over every rank of ``ranks``; solved on the CPU."""
    gram, cross = normal_equations(inputs, target, bias)
    gram, cross = ranks.sum(gram), ranks.sum(cross)
    solution = solve(gram.cpu(), cross.cpu(), bias)
    middle = inputs.shape[1]
    return LinearMap(solution[:middle].T, solution[middle] if bias else None)


def fit_pointwise(
    pointwise: Any,
    depthwise_out: torch.Tensor,
    target: torch.Tensor,
    ranks: Ranks = LOCAL,
) -> None:
    """Set ``pointwise``'s weights (and bias) to the least-squares map depthwise_out → target,
    the normal equations summed over every rank."""
    import torch

    has_bias = getattr(pointwise, "bias", None) is not None
    fitted = fit_linear(depthwise_out, target, bias=has_bias, ranks=ranks)
    with torch.no_grad():
        pointwise.weight.copy_(fitted.weight.reshape(pointwise.weight.shape).to(pointwise.weight))
        if fitted.bias is not None:
            pointwise.bias.copy_(fitted.bias.to(pointwise.bias))
