"""Apply the swap: a model copy whose selected convs are separable blocks, from the old weights.

A standard kernel W (C_out × C_in × kh × kw) and a separable block's effective kernel Ŵ
(Ŵ[:, i] = Σ_r pointwise[:, i·m + r] ⊗ depthwise[i·m + r]) agree exactly when every C_out × (kh·kw)
matrix W[:, i] has rank ≤ m. So the block closest to W in Frobenius norm takes, per input
channel, the top m singular triplets of W[:, i] (Eckart–Young): right singular vectors become
the depthwise filters, σ·u the pointwise weights. torch is imported inside the functions.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import analytic
from .model_analysis import Cost, ModelAnalysis, ModelLayer, Selection, parse_selection
from .model_source import ModelSourceError, Shape
from .spec import FIELD_BOUNDS, range_message
from .swap_plan import INITS, SwapError, SwapPlan, SwapResult

if TYPE_CHECKING:
    import torch
    from torch import nn

    from .layers import DepthwiseSeparableConv


def _check_depth_multiplier(depth_multiplier: Any) -> int:
    """``depth_multiplier`` within its bounds, or SwapError naming the range."""
    low, high = FIELD_BOUNDS["depth_multiplier"]
    if isinstance(depth_multiplier, bool) or not isinstance(depth_multiplier, int):
        depth_multiplier_ok = False
    else:
        depth_multiplier_ok = low <= depth_multiplier <= high
    if not depth_multiplier_ok:
        raise SwapError(
            f"--depth-multiplier must be {range_message('depth_multiplier')}, "
            f"got {depth_multiplier!r}"
        )
    return int(depth_multiplier)


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


def _has_real_weights(module: nn.Module) -> bool:
    """True unless some parameter lives on the meta device."""
    return not any(parameter.is_meta for parameter in module.parameters())


def _candidates(model: nn.Module) -> list[tuple[str, nn.Conv2d]]:
    """Every swap candidate, by module path."""
    from .model_measure import candidate_reason

    return [
        (name, module) for name, module in model.named_modules() if candidate_reason(module) is None
    ]


def layer_errors(model: nn.Module, depth_multiplier: int = 1) -> dict[str, float]:
    """Each candidate conv's ``svd_error``: what a swap initialised from its weights loses."""
    depth_multiplier = _check_depth_multiplier(depth_multiplier)
    if not _has_real_weights(model):
        raise SwapError("the model's weights are on the meta device: errors need real weights")
    return {name: svd_error(conv.weight, depth_multiplier) for name, conv in _candidates(model)}


def _static_analysis(model: nn.Module, depth_multiplier: int) -> ModelAnalysis:
    """Rows from the modules' attributes alone (no forward: no shapes, MACs 0) to select from."""
    from torch import nn

    from .model_measure import _counted_layers, _geometry, candidate_reason

    rows = []
    for name, module in _counted_layers(model):
        geometry = _geometry(module)
        reason = candidate_reason(module)
        params = sum(parameter.numel() for parameter in module.parameters(recurse=False))
        separable = None
        if reason is None:
            separable = Cost(
                analytic.separable_params(
                    geometry["in_channels"],
                    geometry["out_channels"],
                    geometry["kernel_size"],
                    geometry["bias"],
                    depth_multiplier,
                ),
                0,
            )
        rows.append(
            ModelLayer(
                name=name,
                kind=(
                    "linear"
                    if isinstance(module, nn.Linear)
                    else "conv"
                    if isinstance(module, nn.Conv2d)
                    else "other"
                ),
                module_type=type(module).__name__,
                input_shape=None,
                output_shape=None,
                calls=0,
                candidate=reason is None,
                reason=reason,
                swap=False,
                standard=Cost(params, 0),
                separable=separable,
                **geometry,
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


def _replace(model: nn.Module, blocks: dict[nn.Module, nn.Module]) -> None:
    """Put each block where its conv was registered (every place, for a conv used twice)."""
    for module in list(model.modules()):
        for child_name, child in list(module.named_children()):
            if child in blocks:
                setattr(module, child_name, blocks[child])


def _block(conv: nn.Conv2d, depth_multiplier: int) -> DepthwiseSeparableConv:
    """The block replacing ``conv``, in ``conv``'s training mode, PyTorch's default init."""
    from .layers import DepthwiseSeparableConv

    block = DepthwiseSeparableConv.from_conv(conv, depth_multiplier)
    block.train(conv.training)
    return block


def _initialise_from_svd(block: DepthwiseSeparableConv, conv: nn.Conv2d) -> None:
    """Depthwise and pointwise weights from the SVD; depthwise bias 0, pointwise bias = conv's."""
    import torch

    multiplier = block.depthwise.out_channels // block.depthwise.in_channels
    depthwise, pointwise = svd_factors(conv.weight, multiplier)
    with torch.no_grad():
        block.depthwise.weight.copy_(depthwise)
        block.pointwise.weight.copy_(pointwise)
        if block.depthwise.bias is not None:
            block.depthwise.bias.zero_()
        if block.pointwise.bias is not None and conv.bias is not None:
            block.pointwise.bias.copy_(conv.bias)


def _count(model: nn.Module) -> int:
    """Parameters, each shared one once."""
    return sum(parameter.numel() for parameter in model.parameters())


def swap_convs(
    model: nn.Module,
    select: str | Selection = "saving",
    *,
    depth_multiplier: int = 1,
    init: str = "svd",
    input_shape: Shape | None = None,
    source: str | None = None,
) -> SwapResult:
    """A copy of ``model`` with ``select``'s candidate convs as separable blocks.

    ``select`` as in ``analyze_model`` (plus ``max-error:X``: the candidates whose SVD error is
    ≤ X); ``top:N`` ranks by MACs, so it needs ``input_shape``. ``init="svd"`` starts each
    block from the conv's weights (exact when every W[:, i] has rank ≤ m, the closest block
    otherwise); ``"random"`` keeps PyTorch's default initialisation. ``model`` is not touched;
    the copy keeps its device and dtypes. ``source`` is only recorded in the plan.
    """
    selection = parse_selection(select) if isinstance(select, str) else select
    depth_multiplier = _check_depth_multiplier(depth_multiplier)
    if init not in INITS:
        raise SwapError(f"--init must be svd or random, got {init!r}")
    real = _has_real_weights(model)
    if init == "svd" and not real:
        raise SwapError(
            "init='svd' needs the model's weights, but they are on the meta device: build it "
            "for real (or load weights), or use init='random'"
        )
    if input_shape is not None:
        from .model_measure import analyze_model

        analysis = analyze_model(
            model, input_shape=input_shape, select="none", depth_multiplier=depth_multiplier
        )
    elif selection.rule == "top":
        raise SwapError(
            f"--swap {selection} ranks layers by the MACs a swap saves, which needs an input "
            "shape: pass input_shape (--input-shape)"
        )
    else:
        analysis = _static_analysis(model, depth_multiplier)
    if real:
        analysis = analysis.with_errors(layer_errors(model, depth_multiplier))
    analysis = analysis.select(selection)
    if source is not None:
        analysis = replace(analysis, source=source)
    names = [layer.name for layer in analysis.layers if layer.swap]

    swapped_model = copy.deepcopy(model)
    modules = dict(swapped_model.named_modules())
    blocks: dict[nn.Module, nn.Module] = {}
    errors: dict[str, float] = {}
    for name in names:
        conv: Any = modules[name]
        block = _block(conv, depth_multiplier)
        if init == "svd":
            _initialise_from_svd(block, conv)
        if real:
            errors[name] = relative_error(conv.weight, effective_kernel(block))
        blocks[conv] = block
    _replace(swapped_model, blocks)
    return SwapResult(
        model=swapped_model,
        swapped=tuple(names),
        relative_error=errors,
        depth_multiplier=depth_multiplier,
        init=init,
        source=source,
        input_shape=input_shape,
        params={"original": _count(model), "swapped": _count(swapped_model)},
        analysis=analysis if input_shape is not None else None,
    )


def apply_plan(model: nn.Module, plan: SwapPlan | Mapping[str, Any]) -> nn.Module:
    """Replace ``plan``'s convs of ``model`` by blocks, in place; return ``model``.

    The blocks keep PyTorch's default initialisation (the weights come from a state_dict):
    ``apply_plan(build(), plan).load_state_dict(torch.load("swapped.pt"))``. On a model built
    on the meta device, load with ``assign=True``.
    """
    if not isinstance(plan, SwapPlan):
        plan = SwapPlan.from_dict(dict(plan))
    from .model_measure import candidate_reason

    modules = dict(model.named_modules())
    blocks: dict[nn.Module, nn.Module] = {}
    for name in plan.swapped:
        module = modules.get(name)
        if module is None:
            raise SwapError(f"the swap plan names {name!r}, which this model does not have")
        reason = candidate_reason(module)
        if reason is not None:
            raise SwapError(
                f"the swap plan names {name!r}, which is not a swap candidate: {reason}"
            )
        blocks[module] = _block(module, plan.depth_multiplier)
    _replace(model, blocks)
    return model


def _short_list(names: list[str]) -> str:
    """The first three names, and how many more."""
    more = f" and {len(names) - 3} more" if len(names) > 3 else ""
    return ", ".join(names[:3]) + more


def read_state_dict(path: str | Path) -> dict[str, Any]:
    """A state_dict from a file ``torch.load`` reads safely (a {"state_dict": …} checkpoint too)."""
    import torch

    where = f"--weights {str(path)!r}"
    if not Path(path).is_file():
        raise ModelSourceError(f"{where} does not exist")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise ModelSourceError(
            f"{where} is not a state_dict torch.load can read: {first}"
        ) from None
    if isinstance(state, Mapping) and isinstance(state.get("state_dict"), Mapping):
        state = state["state_dict"]
    if not isinstance(state, Mapping) or not all(
        isinstance(value, torch.Tensor) for value in state.values()
    ):
        raise ModelSourceError(f"{where} holds a {type(state).__name__}, not a state_dict")
    return dict(state)


def load_weights(model: nn.Module, path: str | Path, *, assign: bool = False) -> None:
    """Load a state_dict file into ``model``; ModelSourceError when it does not fit."""
    state = read_state_dict(path)
    try:
        result = model.load_state_dict(state, strict=False, assign=assign)
    except RuntimeError as error:
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        detail = lines[1] if len(lines) > 1 else (lines[0] if lines else "")
        raise ModelSourceError(
            f"--weights {str(path)!r} does not fit the model: {detail}"
        ) from None
    if result.missing_keys or result.unexpected_keys:
        parts = []
        if result.missing_keys:
            parts.append(f"missing {_short_list(result.missing_keys)}")
        if result.unexpected_keys:
            parts.append(f"unexpected {_short_list(result.unexpected_keys)}")
        raise ModelSourceError(
            f"--weights {str(path)!r} does not fit the model: {'; '.join(parts)}"
        )


def swap_from_source(
    source: str,
    select: str | Selection = "saving",
    *,
    weights: str | Path | None = None,
    depth_multiplier: int = 1,
    init: str = "svd",
    input_shape: Shape | None = None,
    budget_bytes: int | None = None,
) -> SwapResult:
    """``swap_convs`` on a model built for real from ``source`` (with ``weights`` loaded).

    The input defaults to the one the model was published for. The original, its swapped copy
    and the state_dict must fit the memory budget (``bench``'s: a quarter of the free RAM).
    """
    from .latency import default_budget_bytes
    from .memory import format_bytes
    from .model_source import build_model, parameter_bytes, parse_source

    parsed = parse_source(source)
    empty = build_model(parsed)
    shape = input_shape if input_shape is not None else empty.default_input_shape
    copies = 3 if weights is not None else 2
    needed = copies * parameter_bytes(empty.module)
    budget = budget_bytes if budget_bytes is not None else default_budget_bytes("cpu")
    if needed > budget:
        raise SwapError(
            f"{parsed} needs about {format_bytes(needed)} (the original, its swapped copy"
            f"{' and the state_dict' if weights is not None else ''}): over the memory budget "
            f"of {format_bytes(budget)}"
        )
    del empty
    model = build_model(parsed, real=True).module
    if weights is not None:
        load_weights(model, weights)
    return swap_convs(
        model,
        select,
        depth_multiplier=depth_multiplier,
        init=init,
        input_shape=shape,
        source=str(parsed),
    )
