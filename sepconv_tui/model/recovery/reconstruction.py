"""Reconstruction: refit each swapped block's pointwise conv (weights and bias; the
depthwise filters from the SVD stay) so that the block reproduces the original conv's outputs.

Layers are fitted in forward order inside one forward pass of the swapped network over the
calibration samples, so each block sees the inputs the already-repaired earlier blocks produce
and corrects what they changed (the "asymmetric" reconstruction of Zhang et al., 2015). The
solver is ``least_squares``; under torchrun each rank accumulates its shard and the sums are
all-reduced before the solve, so the weights equal one process's up to the order of the float
sums. Each target is dropped once its layer is fitted, and what the whole fit will hold is
checked against the memory budget before it starts. torch is imported inside the functions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ...core.spec import parse_int_in_range
from ...progress import OnProgress, Progress, ignore
from ..describe.candidates import eval_mode
from ..measure.data import Data
from ..measure.distributed import LOCAL, Ranks
from ..measure.fidelity import DEFAULT_BATCH_SIZE
from .least_squares import fit_pointwise
from .recovery_memory import check_reconstruction_budget, model_device
from .settings import DEFAULT_CALIBRATION

if TYPE_CHECKING:
    import torch
    from torch import nn


def record_activations(
    original: nn.Module,
    layers: Sequence[str],
    inputs: torch.Tensor,
    batch_size: int,
    *,
    with_inputs: bool = False,
) -> dict[str, tuple[torch.Tensor | None, torch.Tensor]]:
    """Each named module's output (its first call per batch) over ``inputs``, batch by batch,
    and its input too when ``with_inputs`` (the sensitivity fits each layer alone on both)."""
    import torch

    modules = dict(original.named_modules())
    collected: dict[str, tuple[list[torch.Tensor], list[torch.Tensor]]] = {
        name: ([], []) for name in layers
    }
    seen: set[str] = set()
    handles = []
    for name in layers:

        def hook(_module: Any, args: Any, output: Any, name: str = name) -> None:
            if name in seen or not isinstance(output, torch.Tensor):
                return  # a conv called twice is fitted on its first call
            if with_inputs and not args:
                return
            seen.add(name)
            if with_inputs:
                collected[name][0].append(args[0].detach().clone())
            collected[name][1].append(output.detach().clone())

        handles.append(modules[name].register_forward_hook(hook))
    try:
        with eval_mode(original), torch.no_grad():
            for start in range(0, inputs.shape[0], batch_size):
                seen.clear()
                original(inputs[start : start + batch_size])
    finally:
        for handle in handles:
            handle.remove()
    return {
        name: (torch.cat(xs) if xs else None, torch.cat(ys))
        for name, (xs, ys) in collected.items()
        if ys
    }


def reconstruct(
    original: nn.Module,
    swapped: nn.Module,
    layers: list[str],
    data: Data,
    *,
    calibration: int = DEFAULT_CALIBRATION,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: OnProgress | None = None,
    ranks: Ranks = LOCAL,
    budget_bytes: int | None = None,
) -> int:
    """Refit each named block's pointwise conv of ``swapped``, in place; return samples used.

    The first ``calibration`` samples of ``data`` are used (under a distributed ``ranks``,
    this rank's shard of them). The original's outputs come from batched passes; the swapped
    network then runs once over them, and each block is fitted when the forward reaches it,
    its target dropped once fitted. Both models run on the device their parameters are on.
    DataError before any work when the fit would exceed the memory budget.
    """
    import torch

    progress = progress if ranks.main and progress is not None else ignore
    calibration = parse_int_in_range(
        calibration, 1, field="calibration", what="the number of calibration samples"
    )
    used = data.head(min(calibration, len(data)))
    inputs = ranks.shard(used).inputs.to(model_device(original))
    check_reconstruction_budget(original, layers, inputs, budget_bytes, ranks, calibration)
    targets = {
        name: output
        for name, (_, output) in record_activations(original, layers, inputs, batch_size).items()
    }
    modules = dict(swapped.named_modules())
    fitted: list[str] = []
    handles = []
    for name in layers:
        if name not in targets:
            continue  # never called by the forward: nothing to fit it to

        def fit(_module: Any, args: Any, name: str = name) -> None:
            if name in fitted or name not in targets:
                return
            target = targets[name]
            depthwise_out = args[0].detach()
            if (
                depthwise_out.shape[0] != target.shape[0]
                or depthwise_out.shape[2:] != (target.shape[2:])
            ):
                return  # the block sees another input than the conv did: leave the SVD start
            fit_pointwise(modules[name].pointwise, depthwise_out, target, ranks)
            del targets[name]  # the peak falls as the forward goes
            fitted.append(name)
            progress(Progress("reconstruct", len(fitted), len(layers), name))

        handles.append(modules[name].pointwise.register_forward_pre_hook(fit))
    try:
        with eval_mode(swapped), torch.no_grad():
            swapped(inputs)
    finally:
        for handle in handles:
            handle.remove()
        targets.clear()
    return len(used)
