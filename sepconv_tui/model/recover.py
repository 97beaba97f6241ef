"""Repair a swapped model on the user's data: least-squares reconstruction, then distillation.

``reconstruct`` refits each block's pointwise conv (weights and bias; the depthwise filters
from the SVD stay) so that the block reproduces the original conv's outputs. Layers are
fitted in forward order inside one forward pass of the swapped network over the calibration
samples, so each block sees the inputs the already-repaired earlier blocks produce and
corrects what they changed (the "asymmetric" reconstruction of Zhang et al., 2015). The
normal equations AᵀA, AᵀY are accumulated over chunks of samples in float64 with a small
ridge term, so a rank-deficient layer cannot give NaN or huge weights. ``distill`` then trains
the swapped model on the original's outputs (softened-logit KL for classifiers, output MSE
otherwise) with batch norm in eval mode. torch is imported inside the functions.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from ..progress import OnProgress, Progress, ignore
from .analysis import SwapError
from .candidates import eval_mode
from .data import Data, DataError, split
from .fidelity import (
    DEFAULT_BATCH_SIZE,
    Fidelity,
    classifier_outputs,
    flat_output,
    measure_fidelity,
)
from .plan import SwapResult
from .settings import DEFAULT_CALIBRATION, DEFAULT_LR, DEFAULT_STEPS, RECOVER_MODES

if TYPE_CHECKING:
    import torch
    from torch import nn

#: The stages a recovery measures, in order.
STAGES = ("svd", "reconstruct", "distill")
#: The ridge term, relative to the mean diagonal of AᵀA: small enough to leave a well-posed
#: fit as it is, large enough that a rank-deficient one stays finite.
RIDGE = 1e-4
#: The softmax temperature of the distillation loss.
TEMPERATURE = 2.0
#: Samples per chunk of the normal equations (bounds the reshaped copies, not the result).
CHUNK = 16

#: Progress stages: "reconstruct" per layer, "distill" per step, "measure" per sample;
#: the label names the layer, the loss, or the stage being measured.


@dataclass(frozen=True)
class Recovery:
    """The recovered model, its swap, and the held-out fidelity after each stage that ran."""

    result: SwapResult  # its ``model`` is the recovered one
    stages: tuple[Fidelity, ...]  # "svd", then "reconstruct" and "distill" when they ran
    mode: str
    calibration: int  # samples the least squares were fitted on
    holdout: int  # samples every stage was measured on (never fitted)
    steps: int = 0  # distillation steps taken
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def model(self) -> nn.Module:
        """The recovered model."""
        return self.result.model

    @property
    def final(self) -> Fidelity:
        """The last stage's fidelity."""
        return self.stages[-1]

    def to_dict(self) -> dict[str, Any]:
        """``DIR/fidelity.json``: the held-out fidelity after each stage."""
        return {
            "format": "sepconv-tui fidelity",
            "version": 1,
            "mode": self.mode,
            "calibration": self.calibration,
            "holdout": self.holdout,
            "steps": self.steps,
            "stages": [stage.to_dict() for stage in self.stages],
            "notes": list(self.notes),
        }


def check_positive(value: int, flag: str) -> int:
    """``value`` when it is a whole number ≥ 1; DataError naming ``flag`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise DataError(f"{flag} must be a whole number ≥ 1, got {value!r}", field=flag[2:])
    return value


def _solve(gram: torch.Tensor, cross: torch.Tensor, bias: bool) -> torch.Tensor:
    """argmin ‖A X − Y‖² + λ‖X‖² (the bias row unpenalised) from AᵀA and AᵀY, in float64."""
    import torch

    size = gram.shape[0]
    features = size - 1 if bias else size
    scale = float(torch.diagonal(gram)[:features].mean()) if features else 0.0
    penalty = torch.zeros(size, dtype=gram.dtype)
    penalty[:features] = RIDGE * scale if scale > 0 else RIDGE
    if bias:
        penalty[-1] = 1e-12 * max(scale, 1.0)  # keeps a never-varying input solvable
    system = gram + torch.diag(penalty)
    try:
        return torch.linalg.solve(system, cross)
    except RuntimeError:
        return torch.linalg.lstsq(system, cross).solution


def _fit_pointwise(pointwise: nn.Conv2d, depthwise_out: torch.Tensor, target: torch.Tensor) -> None:
    """Set ``pointwise``'s weights (and bias) to the least-squares map depthwise_out → target."""
    import torch

    middle, out = depthwise_out.shape[1], target.shape[1]
    bias = pointwise.bias is not None
    size = middle + (1 if bias else 0)
    gram = torch.zeros(size, size, dtype=torch.float64)
    cross = torch.zeros(size, out, dtype=torch.float64)
    for start in range(0, depthwise_out.shape[0], CHUNK):
        a = depthwise_out[start : start + CHUNK].to(torch.float64)
        a = a.permute(0, 2, 3, 1).reshape(-1, middle)
        y = target[start : start + CHUNK].to(torch.float64).permute(0, 2, 3, 1).reshape(-1, out)
        if bias:
            a = torch.cat([a, torch.ones(a.shape[0], 1, dtype=torch.float64)], dim=1)
        gram += a.T @ a
        cross += a.T @ y
    solution = _solve(gram, cross, bias)
    with torch.no_grad():
        weight = solution[:middle].T.reshape(out, middle, 1, 1)
        pointwise.weight.copy_(weight.to(pointwise.weight))
        if bias:
            assert pointwise.bias is not None
            pointwise.bias.copy_(solution[middle].to(pointwise.bias))


def _original_outputs(
    original: nn.Module, layers: list[str], inputs: torch.Tensor, batch_size: int
) -> dict[str, torch.Tensor]:
    """Each named conv's output (its first call) over every sample, batch by batch."""
    import torch

    modules = dict(original.named_modules())
    collected: dict[str, list[torch.Tensor]] = {name: [] for name in layers}
    seen: set[str] = set()
    handles = []
    for name in layers:

        def hook(_module: Any, _args: Any, output: Any, name: str = name) -> None:
            if name not in seen:  # a conv called twice is fitted on its first call
                seen.add(name)
                collected[name].append(output.detach().clone())

        handles.append(modules[name].register_forward_hook(hook))
    try:
        with eval_mode(original), torch.no_grad():
            for start in range(0, inputs.shape[0], batch_size):
                seen.clear()
                original(inputs[start : start + batch_size])
    finally:
        for handle in handles:
            handle.remove()
    return {name: torch.cat(outputs) for name, outputs in collected.items() if outputs}


def reconstruct(
    original: nn.Module,
    swapped: nn.Module,
    layers: list[str],
    data: Data,
    *,
    calibration: int = DEFAULT_CALIBRATION,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: OnProgress | None = None,
) -> int:
    """Refit each named block's pointwise conv of ``swapped``, in place; return samples used.

    The original's outputs come from batched passes; the swapped network then runs once over
    all ``calibration`` samples, and each block is fitted when the forward reaches it.
    """
    import torch

    progress = progress or ignore
    calibration = check_positive(calibration, "--calibration")
    inputs = data.head(min(calibration, len(data))).inputs
    targets = _original_outputs(original, layers, inputs, batch_size)
    modules = dict(swapped.named_modules())
    fitted: list[str] = []
    handles = []
    for name in layers:
        if name not in targets:
            continue  # never called by the forward: nothing to fit it to

        def fit(_module: Any, args: Any, name: str = name) -> None:
            if name in fitted:
                return
            target = targets[name]
            depthwise_out = args[0].detach()
            if (
                depthwise_out.shape[0] != target.shape[0]
                or depthwise_out.shape[2:] != (target.shape[2:])
            ):
                return  # the block sees another input than the conv did: leave the SVD start
            _fit_pointwise(modules[name].pointwise, depthwise_out, target)
            fitted.append(name)
            progress(Progress("reconstruct", len(fitted), len(layers), name))

        handles.append(modules[name].pointwise.register_forward_pre_hook(fit))
    try:
        with eval_mode(swapped), torch.no_grad():
            swapped(inputs)
    finally:
        for handle in handles:
            handle.remove()
    return int(inputs.shape[0])


def distill(
    original: nn.Module,
    swapped: nn.Module,
    data: Data,
    *,
    steps: int = DEFAULT_STEPS,
    lr: float = DEFAULT_LR,
    batch_size: int = DEFAULT_BATCH_SIZE,
    seed: int = 0,
    progress: OnProgress | None = None,
) -> int:
    """Train ``swapped`` (in place) to reproduce ``original``'s outputs; return the steps taken.

    Softened-logit KL at temperature 2 for classifiers, MSE of the outputs otherwise; Adam;
    batch norm and dropout in eval mode, so the running statistics stay the original's.
    """
    import torch
    import torch.nn.functional as functional

    progress = progress or ignore
    steps = check_positive(steps, "--steps")
    if not lr > 0:
        raise DataError(f"--lr must be a number > 0, got {lr!r}", field="lr")
    parameters = [parameter for parameter in swapped.parameters() if parameter.requires_grad]
    optimizer = torch.optim.Adam(parameters, lr=lr)
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(data), generator=generator)
    position = 0
    with eval_mode(original), eval_mode(swapped):
        for step in range(1, steps + 1):
            if position + batch_size > len(order):
                order, position = torch.randperm(len(data), generator=generator), 0
            indices = order[position : position + batch_size]
            position += batch_size
            inputs = data.inputs[indices]
            with torch.no_grad():
                teacher = original(inputs)
            student = swapped(inputs)
            teacher_logits, student_logits = (
                classifier_outputs(teacher),
                classifier_outputs(student),
            )
            if teacher_logits is not None and student_logits is not None:
                loss = functional.kl_div(
                    functional.log_softmax(student_logits / TEMPERATURE, dim=1),
                    functional.softmax(teacher_logits / TEMPERATURE, dim=1),
                    reduction="batchmean",
                ) * (TEMPERATURE**2)
            else:
                loss = functional.mse_loss(flat_output(student), flat_output(teacher))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            progress(Progress("distill", step, steps, f"loss {float(loss.detach()):.4g}"))
    return steps


def recover(
    result: SwapResult,
    data: Data,
    *,
    mode: str = "reconstruct",
    calibration: int = DEFAULT_CALIBRATION,
    holdout: int | None = None,
    steps: int = DEFAULT_STEPS,
    lr: float = DEFAULT_LR,
    batch_size: int = DEFAULT_BATCH_SIZE,
    original: nn.Module | None = None,
    progress: OnProgress | None = None,
) -> Recovery:
    """Repair ``result``'s swapped model on ``data``; the new model and each stage's fidelity.

    ``data`` is split once: the last ``holdout`` samples (default 10%, at most 1,000) are only
    measured; the rest is fitted (``calibration`` samples for the least squares, all of it
    for distillation). ``mode``: "none" (measure the SVD start only), "reconstruct" or
    "distill" (reconstruct, then ``steps`` of distillation). ``result.model`` is not touched.
    """
    progress = progress or ignore
    if mode not in RECOVER_MODES:
        raise SwapError(
            f"--recover must be {', '.join(RECOVER_MODES)}, got {mode!r}", field="recover"
        )
    calibration = check_positive(calibration, "--calibration")
    batch_size = check_positive(batch_size, "--batch-size")
    if mode == "distill":
        steps = check_positive(steps, "--steps")
    source_model = original if original is not None else result.original
    if source_model is None:
        raise SwapError("recovery needs the original model: pass original=")
    fitting, held_out = split(data, holdout)
    layers = list(result.swapped)
    model = copy.deepcopy(result.model)
    multipliers = {name: result.multiplier_for(name) for name in layers}
    weight_errors = dict(result.weight_error)

    def measure(stage: str) -> Fidelity:
        return measure_fidelity(
            source_model,
            model,
            held_out,
            layers=layers,
            weight_errors=weight_errors,
            depth_multipliers=multipliers,
            batch_size=batch_size,
            stage=stage,
            progress=progress,
            measuring=stage,
        )

    stages = [measure("svd")]
    used = taken = 0
    if mode in ("reconstruct", "distill"):
        used = reconstruct(
            source_model,
            model,
            layers,
            fitting,
            calibration=calibration,
            batch_size=batch_size,
            progress=progress,
        )
        weight_errors = _weight_errors(source_model, model, layers)
        stages.append(measure("reconstruct"))
    if mode == "distill":
        taken = distill(
            source_model,
            model,
            fitting,
            steps=steps,
            lr=lr,
            batch_size=batch_size,
            progress=progress,
        )
        weight_errors = _weight_errors(source_model, model, layers)
        stages.append(measure("distill"))
    # The result keeps the SVD start's weight errors (what plan.json records of the init);
    # each stage's own are in its fidelity's layers.
    recovered = replace(result, model=model, original=source_model)
    return Recovery(
        result=recovered,
        stages=tuple(stages),
        mode=mode,
        calibration=used,
        holdout=len(held_out),
        steps=taken,
    )


def _weight_errors(original: nn.Module, swapped: nn.Module, layers: list[str]) -> dict[str, float]:
    """‖W − Ŵ‖_F / ‖W‖_F of each block's effective kernel against the original conv's kernel."""
    from .candidates import effective_weight
    from .factorise import effective_kernel, relative_error

    originals = dict(original.named_modules())
    blocks = dict(swapped.named_modules())
    return {
        name: relative_error(effective_weight(originals[name]), effective_kernel(blocks[name]))
        for name in layers
    }
