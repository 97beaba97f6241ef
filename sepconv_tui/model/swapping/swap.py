"""Apply the swap: a model copy whose selected convs are separable blocks, from the old weights.

A standard kernel W (C_out × C_in × k₁ × … × k_d, in 1-D, 2-D or 3-D) and a separable block's
effective kernel Ŵ (Ŵ[:, i] = Σ_r pointwise[:, i·m + r] ⊗ depthwise[i·m + r]) agree exactly when
every C_out × (k₁·…·k_d) matrix W[:, i] has rank ≤ m. So the block closest to W in Frobenius
norm takes, per input channel, the top m singular triplets of W[:, i] (Eckart–Young): right
singular vectors become the depthwise filters, σ·u the pointwise weights. torch is imported
inside the functions.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..describe.candidates import (
    candidate_reason,
    effective_weight,
    separable_block,
    static_analysis,
)
from ..describe.factorise import (
    has_real_weights,
    layer_errors,
    resolve_multipliers,
    svd_factors,
    weight_errors,
)
from ..describe.source import Shape
from ..describe.weights import load_weights  # noqa: F401  # bench.py's import, until the ipc branch's build_pair
from ..vocabulary.analysis import AutoDepth, Selection, parse_depth_multiplier, parse_selection
from ..vocabulary.plan import (
    INITS,
    SwapError,
    SwapPlan,
    SwapResult,
    compact_multipliers,
    with_budget,
)

if TYPE_CHECKING:
    from torch import nn

    from ...core.layers import DepthwiseSeparableConv


def _replace(model: nn.Module, blocks: dict[nn.Module, nn.Module]) -> None:
    """Put each block where its conv was registered (every place, for a conv used twice)."""
    for module in list(model.modules()):
        for child_name, child in list(module.named_children()):
            if child in blocks:
                setattr(module, child_name, blocks[child])


def svd_blocks(
    model: nn.Module, names: Iterable[str], multipliers: Mapping[str, int]
) -> dict[str, nn.Module]:
    """Each named conv's block at its m, initialised from the conv's SVD: one factorisation
    each, for a caller that swaps many subsets of them (the trade-off)."""
    modules: dict[str, Any] = dict(model.named_modules())
    blocks: dict[str, nn.Module] = {}
    for name in names:
        block = _block(modules[name], multipliers[name])
        _initialise_from_svd(block, modules[name])
        blocks[name] = block
    return blocks


def with_blocks(model: nn.Module, blocks: Mapping[str, nn.Module]) -> nn.Module:
    """A copy of ``model`` with each named conv replaced by a copy of its block in ``blocks``."""
    swapped = copy.deepcopy(model)
    modules = dict(swapped.named_modules())
    _replace(swapped, {modules[name]: copy.deepcopy(block) for name, block in blocks.items()})
    return swapped


def _block(conv: nn.Module, depth_multiplier: int) -> DepthwiseSeparableConv:
    """The block replacing ``conv`` (any rank), in its training mode, PyTorch's default init."""
    block = separable_block(conv, depth_multiplier)
    block.train(conv.training)
    return block


def _initialise_from_svd(block: DepthwiseSeparableConv, conv: nn.Module) -> None:
    """Depthwise and pointwise weights from the SVD; depthwise bias 0, pointwise bias = conv's."""
    import torch

    multiplier = block.depthwise.out_channels // block.depthwise.in_channels
    # The kernel the conv's forward uses (timm's StdConv2d standardises its weight).
    depthwise, pointwise = svd_factors(effective_weight(conv), multiplier)
    with torch.no_grad():
        block.depthwise.weight.copy_(depthwise)
        block.pointwise.weight.copy_(pointwise)
        if block.depthwise.bias is not None:
            block.depthwise.bias.zero_()
        if block.pointwise.bias is not None and conv.bias is not None:
            block.pointwise.bias.copy_(conv.bias)


def count_params(model: nn.Module) -> int:
    """Parameters, each shared one once."""
    return sum(parameter.numel() for parameter in model.parameters())


def swap_convs(
    model: nn.Module,
    select: str | Selection = "saving",
    *,
    depth_multiplier: int | str | AutoDepth | Mapping[str, int] = 1,
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
    ``depth_multiplier``: one m, ``{layer: m}`` (m = 1 for layers it omits), or ``"auto:E"``.
    """
    selection = parse_selection(select) if isinstance(select, str) else select
    choice = (
        dict(depth_multiplier)
        if isinstance(depth_multiplier, Mapping)
        else parse_depth_multiplier(depth_multiplier)
    )
    if init not in INITS:
        raise SwapError(f"the initialisation must be svd or random, got {init!r}", field="init")
    real = has_real_weights(model)
    if init == "svd" and not real:
        raise SwapError(
            "init='svd' needs the model's weights, but they are on the meta device: build it "
            "for real (or load weights), or use init='random'"
        )
    multipliers = resolve_multipliers(model, choice)
    if input_shape is not None:
        from ..describe.trace import analyze_model

        analysis = analyze_model(
            model, input_shape=input_shape, select="none", depth_multiplier=multipliers
        )
    elif selection.rule == "top":
        raise SwapError(
            f"{selection} ranks layers by the MACs a swap saves, which needs the model's input "
            "shape",
            field="input_shape",
        )
    else:
        analysis = static_analysis(model).with_depth_multipliers(multipliers)
    if real:
        analysis = analysis.with_errors(layer_errors(model, multipliers))
    analysis = analysis.select(selection)
    if source is not None:
        analysis = replace(analysis, source=source)
    names = [layer.name for layer in analysis.layers if layer.swap]

    swapped_model = copy.deepcopy(model)
    modules = dict(swapped_model.named_modules())
    blocks: dict[nn.Module, nn.Module] = {}
    for name in names:
        conv: Any = modules[name]
        block = _block(conv, multipliers[name])
        if init == "svd":
            _initialise_from_svd(block, conv)
        blocks[conv] = block
    _replace(swapped_model, blocks)
    return SwapResult(
        model=swapped_model,
        swapped=tuple(names),
        weight_error=weight_errors(model, swapped_model, names) if real else {},
        depth_multiplier=compact_multipliers(names, multipliers),
        init=init,
        source=source,
        input_shape=input_shape,
        params={"original": count_params(model), "swapped": count_params(swapped_model)},
        analysis=analysis if input_shape is not None else None,
        original=model,
    )


def apply_plan(model: nn.Module, plan: SwapPlan | Mapping[str, Any]) -> nn.Module:
    """Replace ``plan``'s convs of ``model`` by blocks, in place; return ``model``.

    The blocks keep PyTorch's default initialisation (the weights come from a state_dict):
    ``apply_plan(build(), plan).load_state_dict(torch.load("swapped.pt"))``. On a model built
    on the meta device, load with ``assign=True``.
    """
    if not isinstance(plan, SwapPlan):
        plan = SwapPlan.from_dict(dict(plan))
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
        blocks[module] = _block(module, plan.multiplier_for(name))
    _replace(model, blocks)
    return model


#: The files ``save`` writes into its folder.
SWAPPED_FILE, PLAN_FILE, FIDELITY_FILE = "swapped.pt", "plan.json", "fidelity.json"


def save(
    result: SwapResult,
    out_dir: str | Path,
    *,
    fidelity: dict[str, Any] | None = None,
    budget: dict[str, Any] | None = None,
) -> list[Path]:
    """Write DIR/swapped.pt (the state_dict), DIR/plan.json (with ``budget``, the choice that
    picked its layers and their m, under "budget" when given) and, given, DIR/fidelity.json.

    Each file is written under a temporary name and renamed into place once whole, so an
    interrupted save (ctrl-c, a full disk) leaves no half-written file behind. Returns the paths.
    SwapError when ``out_dir`` is a file or cannot be created.
    """
    import json
    import tempfile

    import torch

    folder = Path(out_dir)
    if folder.exists() and not folder.is_dir():
        raise SwapError(f"{str(out_dir)!r} is a file, not a folder", field="out")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise SwapError(f"{str(out_dir)!r}: {error.strerror}", field="out") from None
    contents: list[tuple[str, Any]] = [
        (SWAPPED_FILE, result.model.state_dict()),
        (PLAN_FILE, json.dumps(with_budget(result.to_dict(), budget), indent=2) + "\n"),
    ]
    if fidelity is not None:
        contents.append((FIDELITY_FILE, json.dumps(fidelity, indent=2) + "\n"))
    staged: list[tuple[Path, Path]] = []
    try:
        for name, content in contents:
            handle, temporary_name = tempfile.mkstemp(prefix=f".{name}.", dir=folder)
            os.close(handle)
            staged.append((Path(temporary_name), folder / name))
            if isinstance(content, str):
                Path(temporary_name).write_text(content, encoding="utf-8")
            else:
                torch.save(content, temporary_name)
        for temporary, final in staged:
            readable_as_umask_allows(temporary)
            os.replace(temporary, final)
    except OSError as error:
        raise SwapError(f"{str(out_dir)!r}: {error.strerror or error}", field="out") from None
    finally:
        for temporary, _final in staged:
            temporary.unlink(missing_ok=True)
    return [final for _temporary, final in staged]


def readable_as_umask_allows(path: Path) -> None:
    """Give a file made by ``mkstemp`` (private, 0600) the mode any other output gets."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)
