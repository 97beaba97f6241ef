"""Repair a swapped model on the user's data: least-squares reconstruction, then distillation.

``reconstruct`` refits each block's pointwise conv (weights and bias; the depthwise filters
from the SVD stay) so that the block reproduces the original conv's outputs. Layers are
fitted in forward order inside one forward pass of the swapped network over the calibration
samples, so each block sees the inputs the already-repaired earlier blocks produce and
corrects what they changed (the "asymmetric" reconstruction of Zhang et al., 2015). The
normal equations AᵀA, AᵀY are accumulated over chunks of samples in float64 with a small
ridge term, so a rank-deficient layer cannot give NaN or huge weights; under torchrun each
rank accumulates its shard and the sums are all-reduced before the solve, so the weights
equal one process's up to the order of the float sums. Each target is dropped once its
layer is fitted, and what the whole fit will hold is checked against the memory budget
before it starts.

``distill`` then trains the swapped model on the original's outputs (softened-logit KL for
classifiers, output MSE otherwise; optionally cross-entropy on the labels mixed in) with
batch norm in eval mode, checks the validation split as it goes, keeps the best weights and
stops when they stop improving (``patience``), at ``steps`` or after ``max_time`` seconds.
Under torchrun the student is wrapped in DistributedDataParallel. Every stage is measured on
the test split only. torch is imported inside the functions.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, NamedTuple

from ..core.budget import resolve_budget
from ..core.spec import parse_int_in_range
from ..progress import OnProgress, Progress, ignore
from .analysis import SwapError
from .candidates import eval_mode
from .data import Data, DataError
from .distributed import LOCAL, Ranks
from .fidelity import (
    DEFAULT_BATCH_SIZE,
    Fidelity,
    classifier_outputs,
    flat_output,
    measure_fidelity,
)
from .fidelity_result import ValidationFigure
from .plan import SwapResult
from .settings import (
    DEFAULT_CALIBRATION,
    DEFAULT_LABEL_WEIGHT,
    DEFAULT_LR,
    DEFAULT_PATIENCE,
    DEFAULT_STEPS,
    RECOVER_MODES,
)
from .split import Split, SplitSizes, apply_split, plan_split

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
#: Validation checks of distillation: at least once per pass over the fit split, and at
#: least every this many steps.
CHECK_EVERY = 50
#: An output error counts as improved only when it falls by this share (agreement ties).
MIN_IMPROVEMENT = 0.01

#: Progress stages: "reconstruct" per layer, "distill" per step, "measure" per sample;
#: the label names the layer, the loss, or the stage being measured.


@dataclass(frozen=True)
class Distillation:
    """How a distillation went: steps taken, where its best validation figure was, why it
    stopped ("patience", "steps" or "time") and how long it took."""

    steps: int
    best_step: int
    best_agreement: float | None  # on the validation split (classifiers)
    best_output_error: float
    stopped: str
    seconds: float
    checks: int

    def to_dict(self) -> dict[str, Any]:
        """The JSON object ``"distill"``."""
        return {
            "steps": self.steps,
            "best_step": self.best_step,
            "best_validation_agreement": self.best_agreement,
            "best_validation_output_error": self.best_output_error,
            "stopped": self.stopped,
            "seconds": round(self.seconds, 3),
            "checks": self.checks,
        }


@dataclass(frozen=True)
class Recovery:
    """The recovered model, its swap, and the test split's fidelity after each stage that ran."""

    result: SwapResult  # its ``model`` is the recovered one
    stages: tuple[Fidelity, ...]  # "svd", then "reconstruct" and "distill" when they ran
    mode: str
    calibration: int  # samples the least squares were fitted on
    split: SplitSizes  # fit, validation, test: every stage is measured on test
    steps: int = 0  # distillation steps taken
    notes: tuple[str, ...] = field(default_factory=tuple)
    distillation: Distillation | None = None
    world_size: int = 1
    device: str = "cpu"

    @property
    def holdout(self) -> int:
        """Samples every stage was measured on (the test split, never fitted nor chosen on)."""
        return self.split.test

    @property
    def model(self) -> nn.Module:
        """The recovered model."""
        return self.result.model

    @property
    def final(self) -> Fidelity:
        """The last stage's fidelity."""
        return self.stages[-1]

    def to_dict(self) -> dict[str, Any]:
        """``DIR/fidelity.json``: the test split's fidelity after each stage."""
        return {
            "format": "sepconv-tui fidelity",
            "version": 1,
            "mode": self.mode,
            "calibration": self.calibration,
            "holdout": self.holdout,
            "split": self.split.to_dict(),
            "world_size": self.world_size,
            "device": self.device,
            "steps": self.steps,
            "distill": None if self.distillation is None else self.distillation.to_dict(),
            "stages": [stage.to_dict() for stage in self.stages],
            "notes": list(self.notes),
        }


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


def _normal_equations(
    depthwise_out: torch.Tensor, target: torch.Tensor, bias: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """AᵀA and AᵀY of the pointwise map depthwise_out → target (channels second, any number
    of spatial axes), accumulated over chunks in float64 on the data's device."""
    import torch

    middle, out = depthwise_out.shape[1], target.shape[1]
    size = middle + (1 if bias else 0)
    device = depthwise_out.device
    gram = torch.zeros(size, size, dtype=torch.float64, device=device)
    cross = torch.zeros(size, out, dtype=torch.float64, device=device)
    for start in range(0, depthwise_out.shape[0], CHUNK):
        a = depthwise_out[start : start + CHUNK].to(torch.float64).movedim(1, -1)
        a = a.reshape(-1, middle)
        y = target[start : start + CHUNK].to(torch.float64).movedim(1, -1).reshape(-1, out)
        if bias:
            a = torch.cat([a, torch.ones(a.shape[0], 1, dtype=torch.float64, device=device)], 1)
        gram += a.T @ a
        cross += a.T @ y
    return gram, cross


def _fit_pointwise(
    pointwise: Any,
    depthwise_out: torch.Tensor,
    target: torch.Tensor,
    ranks: Ranks = LOCAL,
) -> None:
    """Set ``pointwise``'s weights (and bias) to the least-squares map depthwise_out → target,
    the normal equations summed over every rank."""
    import torch

    bias = getattr(pointwise, "bias", None) is not None
    gram, cross = _normal_equations(depthwise_out, target, bias)
    gram, cross = ranks.sum(gram), ranks.sum(cross)
    solution = _solve(gram.cpu(), cross.cpu(), bias)
    middle = depthwise_out.shape[1]
    with torch.no_grad():
        weight = solution[:middle].T.reshape(pointwise.weight.shape)
        pointwise.weight.copy_(weight.to(pointwise.weight))
        if bias:
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


def _model_device(model: nn.Module) -> torch.device:
    """The device ``model``'s parameters are on (the CPU for a model without any)."""
    import torch

    return next(iter(model.parameters()), torch.empty(0)).device


class SampleSizes(NamedTuple):
    """Elements one sample produces: at the named layers, at the largest module output, and
    over every module's output (what a backward pass keeps)."""

    targets: int
    largest: int
    total: int


def sample_sizes(model: nn.Module, layers: list[str], sample: torch.Tensor) -> SampleSizes:
    """What ``model`` produces per sample, measured with one forward of ``sample[:1]``."""
    import torch

    sizes: dict[str, int] = {}
    largest = [int(sample[:1].numel())]
    total = [0]
    modules = dict(model.named_modules())

    def measure(name: str) -> Callable[..., None]:
        def hook(_module: Any, _args: Any, output: Any) -> None:
            if isinstance(output, torch.Tensor):
                elements = int(output[:1].numel())
                largest[0] = max(largest[0], elements)
                total[0] += elements
                if name in layers and name not in sizes:
                    sizes[name] = elements

        return hook

    handles = [
        module.register_forward_hook(measure(name))
        for name, module in modules.items()
        if name  # the model itself: its output is its last module's
    ]
    try:
        with eval_mode(model), torch.no_grad():
            model(sample[:1].to(_model_device(model)))
    finally:
        for handle in handles:
            handle.remove()
    return SampleSizes(sum(sizes.values()), largest[0], total[0])


def reconstruction_bytes(per_sample: SampleSizes, samples: int) -> int:
    """What reconstruction holds at its peak for ``samples`` calibration samples (float32):
    the original's outputs at every swapped conv, and in the swapped pass a block's input,
    its depthwise output and its output at the largest activation's size."""
    return 4 * samples * (per_sample.targets + 3 * per_sample.largest)


def _budget(budget_bytes: int | None, ranks: Ranks) -> int:
    """The memory budget on ``ranks``'s device, the smallest over the ranks (the default is
    a share of each one's free memory, which differs: batch sizes and refusals must not)."""
    budget = resolve_budget(budget_bytes, "cuda" if ranks.device.startswith("cuda") else "cpu")
    return ranks.smallest(budget)


def fit_batch_size(
    model: nn.Module,
    sample: torch.Tensor,
    requested: int,
    budget_bytes: int | None,
    ranks: Ranks = LOCAL,
    *,
    training: bool = False,
) -> int:
    """``requested``, or fewer samples per batch when two models' activations (kept for the
    backward pass when ``training``) would exceed the memory budget; DataError when not
    even one sample fits."""
    from ..core.memory import format_bytes

    sizes = sample_sizes(model, [], sample)
    # Both models' outputs, and in training the student's kept for backward with their grads.
    per_sample = 4 * (2 * sizes.largest + (3 * sizes.total if training else 0))
    budget = _budget(budget_bytes, ranks)
    fits = budget // max(per_sample, 1)
    if fits < 1:
        raise DataError(
            f"one sample's activations need {format_bytes(per_sample)}, over the "
            f"memory budget of {format_bytes(budget)}; raise the memory budget",
            field="batch_size",
        )
    return min(requested, fits)


def check_reconstruction_budget(
    original: nn.Module,
    layers: list[str],
    inputs: torch.Tensor,
    budget_bytes: int | None,
    ranks: Ranks = LOCAL,
    calibration: int | None = None,
) -> int:
    """The bytes reconstruction on ``inputs`` (this rank's calibration samples) will hold;
    DataError naming the ``--calibration`` that fits when that is over the budget (a quarter
    of the free RAM or GPU memory unless ``budget_bytes``)."""
    from ..core.memory import format_bytes

    per_sample = sample_sizes(original, layers, inputs)
    needed = reconstruction_bytes(per_sample, int(inputs.shape[0]))
    budget = _budget(budget_bytes, ranks)
    if needed > budget:
        one = reconstruction_bytes(per_sample, 1)
        fits = (budget // one) * ranks.world_size if one else 0
        asked = calibration if calibration is not None else int(inputs.shape[0])
        advice = (
            f"{fits:,} samples fit" if fits >= 1 else "not one sample fits: raise the memory budget"
        )
        raise DataError(
            f"reconstruction on {asked:,} calibration samples would hold {format_bytes(needed)} "
            f"(the original's outputs at {len(layers)} swapped convs over those samples"
            f"{' of this process' if ranks.distributed else ''}), over the memory budget of "
            f"{format_bytes(budget)}; {advice}",
            field="calibration",
        )
    return needed


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
    inputs = ranks.shard(used).inputs.to(_model_device(original))
    check_reconstruction_budget(original, layers, inputs, budget_bytes, ranks, calibration)
    targets = _original_outputs(original, layers, inputs, batch_size)
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
            _fit_pointwise(modules[name].pointwise, depthwise_out, target, ranks)
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


class ValidationScore:
    """The student against the teacher on the validation split, the teacher's outputs kept."""

    def __init__(self, original: nn.Module, data: Data, batch_size: int, ranks: Ranks) -> None:
        import torch

        self.ranks = ranks
        self.batches: list[tuple[torch.Tensor, torch.Tensor]] = []
        device = _model_device(original)
        shard = ranks.shard(data)
        with eval_mode(original), torch.no_grad():
            for inputs, _labels in shard.batches(batch_size):
                self.batches.append((inputs, flat_output(original(inputs.to(device))).cpu()))
        with eval_mode(original), torch.no_grad():
            probe = original(data.inputs[:1].to(device))
        self.classifier = classifier_outputs(probe) is not None

    def score(self, student: nn.Module) -> tuple[float | None, float]:
        """(top-1 agreement or None, output error) of ``student`` over every rank's shard."""
        import torch

        device = _model_device(student)
        agree = evaluated = 0
        difference = reference = 0.0
        with eval_mode(student), torch.no_grad():
            for inputs, teacher in self.batches:
                output = student(inputs.to(device))
                flat = flat_output(output).cpu()
                difference += float((flat.double() - teacher.double()).pow(2).sum())
                reference += float(teacher.double().pow(2).sum())
                logits = classifier_outputs(output)
                if self.classifier and logits is not None:
                    width = logits.shape[1]
                    top_teacher = teacher[:, :width].argmax(1)
                    agree += int((logits.cpu().argmax(1) == top_teacher).sum())
                evaluated += int(inputs.shape[0])
        agree_sum, evaluated_sum, difference, reference = self.ranks.sum_floats(
            [float(agree), float(evaluated), difference, reference]
        )
        error = math.sqrt(difference / reference) if reference > 0 else 0.0
        agreement = agree_sum / evaluated_sum if self.classifier and evaluated_sum else None
        return agreement, error


def _better(candidate: tuple[float | None, float], best: tuple[float | None, float] | None) -> bool:
    """True when a validation score improves on the best so far: a higher agreement, or the
    same agreement with an output error lower by at least MIN_IMPROVEMENT of it."""
    if best is None:
        return True
    agreement, error = candidate
    best_agreement, best_error = best
    if agreement is not None and best_agreement is not None and agreement != best_agreement:
        return agreement > best_agreement
    return error < best_error * (1 - MIN_IMPROVEMENT)


def distill(
    original: nn.Module,
    swapped: nn.Module,
    data: Data,
    validation: Data | None = None,
    *,
    steps: int = DEFAULT_STEPS,
    lr: float = DEFAULT_LR,
    batch_size: int = DEFAULT_BATCH_SIZE,
    seed: int = 0,
    patience: int = DEFAULT_PATIENCE,
    max_time: float | None = None,
    label_weight: float = DEFAULT_LABEL_WEIGHT,
    check_every: int | None = None,
    progress: OnProgress | None = None,
    ranks: Ranks = LOCAL,
) -> Distillation:
    """Train ``swapped`` (in place) to reproduce ``original``'s outputs on ``data``.

    Softened-logit KL at temperature 2 for classifiers (with ``label_weight`` > 0, that share
    of the loss is cross-entropy on the labels), MSE of the outputs otherwise; Adam; batch
    norm and dropout in eval mode, so the running statistics stay the original's. With a
    ``validation`` split, the student is checked on it every ``check_every`` steps (default:
    once per pass over ``data``, at most every 50), its best weights are kept and restored,
    and training stops after ``patience`` checks without improvement; always at ``steps`` or
    once ``max_time`` seconds have passed. Under a distributed ``ranks`` each rank trains
    on its DistributedSampler order of ``data`` (``batch_size`` split over the ranks) and
    DistributedDataParallel averages the gradients.
    """
    import torch
    import torch.nn.functional as functional
    from torch.utils.data.distributed import DistributedSampler

    started = time.perf_counter()
    progress = progress if ranks.main and progress is not None else ignore
    steps = parse_int_in_range(steps, 1, field="steps", what="the number of steps")
    patience = parse_int_in_range(patience, 1, field="patience", what="the patience")
    if not lr > 0:
        raise DataError(f"the learning rate must be a number > 0, got {lr!r}", field="lr")
    if max_time is not None and not max_time > 0:
        raise DataError(
            f"the time limit must be a number of seconds > 0, got {max_time!r}", field="max_time"
        )
    if not 0 <= label_weight <= 1:
        raise DataError(f"the label weight must be 0–1, got {label_weight!r}", field="label_weight")
    if label_weight > 0 and data.labels is None:
        raise DataError(
            "the label weight mixes cross-entropy on the labels into the loss, but the data "
            "has no labels: give labelled data or a label weight of 0",
            field="label_weight",
        )
    device = _model_device(swapped)
    per_rank = max(1, math.ceil(batch_size / ranks.world_size))
    student: nn.Module = swapped
    if ranks.distributed:
        from torch.nn.parallel import DistributedDataParallel

        ranks.broadcast_module(swapped)
        student = DistributedDataParallel(
            swapped, device_ids=[device.index] if device.type == "cuda" else None
        )
    parameters = [parameter for parameter in swapped.parameters() if parameter.requires_grad]
    optimizer = torch.optim.Adam(parameters, lr=lr)
    sampler: Any = DistributedSampler(
        range(len(data)),  # type: ignore[arg-type]  # a Sequence serves as a Dataset
        num_replicas=ranks.world_size,
        rank=ranks.rank,
        shuffle=True,
        seed=seed,
    )
    epoch = 0

    def order() -> torch.Tensor:
        sampler.set_epoch(epoch)
        return torch.tensor(list(sampler), dtype=torch.int64)

    indices_left = order()
    position = 0
    steps_per_pass = max(1, math.ceil(len(indices_left) / per_rank))
    every = check_every or max(1, min(CHECK_EVERY, steps_per_pass))
    checker = ValidationScore(original, validation, batch_size, ranks) if validation else None
    best: tuple[float | None, float] | None = None
    best_state: dict[str, torch.Tensor] | None = None
    best_step = 0
    since_best = checks = 0
    stopped = "steps"
    taken = 0
    label = ""

    def check(step: int) -> bool:
        """Score the student now; True when patience has run out."""
        nonlocal best, best_state, best_step, since_best, checks, label
        assert checker is not None
        score = checker.score(swapped)
        checks += 1
        if _better(score, best):
            best, best_step, since_best = score, step, 0
            best_state = {
                key: value.detach().clone() for key, value in swapped.state_dict().items()
            }
        else:
            since_best += 1
        assert best is not None
        agreement, error = best
        shown = f"{agreement:.1%}" if agreement is not None else f"error {error:.3g}"
        now = f"{score[0]:.1%}" if score[0] is not None else f"error {score[1]:.3g}"
        label = f"validation {now} (best {shown} at step {best_step})"
        return since_best >= patience

    with eval_mode(original), eval_mode(swapped):
        if checker is not None:
            check(0)
        for step in range(1, steps + 1):
            if position + per_rank > len(indices_left):
                epoch += 1
                indices_left, position = order(), 0
            indices = indices_left[position : position + per_rank]
            position += per_rank
            inputs = data.inputs[indices].to(device)
            with torch.no_grad():
                teacher = original(inputs)
            output = student(inputs)
            teacher_logits, student_logits = (
                classifier_outputs(teacher),
                classifier_outputs(output),
            )
            if teacher_logits is not None and student_logits is not None:
                loss = functional.kl_div(
                    functional.log_softmax(student_logits / TEMPERATURE, dim=1),
                    functional.softmax(teacher_logits / TEMPERATURE, dim=1),
                    reduction="batchmean",
                ) * (TEMPERATURE**2)
                if label_weight > 0 and data.labels is not None:
                    labels = data.labels[indices].to(device)
                    loss = (1 - label_weight) * loss + label_weight * functional.cross_entropy(
                        student_logits, labels
                    )
            else:
                loss = functional.mse_loss(flat_output(output), flat_output(teacher))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            taken = step
            out_of_time = max_time is not None and time.perf_counter() - started >= max_time
            if ranks.distributed and max_time is not None:
                out_of_time = not ranks.all_true(not out_of_time)  # one rank's clock stops all
            due = step % every == 0 or step == steps or out_of_time
            if checker is not None and due and check(step):
                stopped = "patience"
                break
            progress(Progress("distill", step, steps, label or f"loss {float(loss.detach()):.4g}"))
            if out_of_time:
                stopped = "time"
                break
    if best_state is not None:
        swapped.load_state_dict(best_state)
    assert best is not None or checker is None
    return Distillation(
        steps=taken,
        best_step=best_step if checker is not None else taken,
        best_agreement=best[0] if best is not None else None,
        best_output_error=best[1] if best is not None else math.nan,
        stopped=stopped,
        seconds=time.perf_counter() - started,
        checks=checks,
    )


def recover(
    result: SwapResult,
    data: Data,
    *,
    mode: str = "reconstruct",
    calibration: int = DEFAULT_CALIBRATION,
    validation: int | float | None = None,
    test: int | float | None = None,
    holdout: int | None = None,
    steps: int = DEFAULT_STEPS,
    lr: float = DEFAULT_LR,
    patience: int = DEFAULT_PATIENCE,
    max_time: float | None = None,
    label_weight: float = DEFAULT_LABEL_WEIGHT,
    batch_size: int = DEFAULT_BATCH_SIZE,
    original: nn.Module | None = None,
    progress: OnProgress | None = None,
    ranks: Ranks = LOCAL,
    budget_bytes: int | None = None,
    split: Split | None = None,
    chosen: ValidationFigure | None = None,
    notes: tuple[str, ...] = (),
) -> Recovery:
    """Repair ``result``'s swapped model on ``data``; the new model and each stage's fidelity.

    ``data`` is split once (``split_for``): every stage is measured on the test split only;
    the least squares fit the first ``calibration`` samples of the fit split, distillation
    trains on all of it and stops early on the validation split. ``test`` (``holdout`` is its
    older name) and ``validation`` override the sizes (counts or fractions); ``split`` gives
    the split made already. ``mode``: "none" (measure the SVD start only), "reconstruct" or
    "distill" (reconstruct, then distil). The work runs on ``ranks``'s device (and ranks);
    the recovered model comes back on the CPU. ``result.model`` is not touched. ``chosen``:
    the validation figure the selection was picked by, recorded beside the test figures.
    """
    progress = progress or ignore
    if mode not in RECOVER_MODES:
        raise SwapError(
            f"the recovery must be {', '.join(RECOVER_MODES)}, got {mode!r}", field="recover"
        )
    calibration = parse_int_in_range(
        calibration, 1, field="calibration", what="the number of calibration samples"
    )
    batch_size = parse_int_in_range(batch_size, 1, field="batch_size", what="the batch size")
    if mode == "distill":
        steps = parse_int_in_range(steps, 1, field="steps", what="the number of steps")
    source_model = original if original is not None else result.original
    if source_model is None:
        raise SwapError("recovery needs the original model: pass original=")
    if split is None:
        split = split_for(
            data,
            mode=mode,
            calibration=calibration,
            validation=validation,
            test=test if test is not None else holdout,
            ranks=ranks,
        )
    sizes = split.sizes
    layers = list(result.swapped)
    device = ranks.device
    source_device = _model_device(source_model)
    teacher = source_model.to(device)
    model = copy.deepcopy(result.model).to(device)
    multipliers = {name: result.multiplier_for(name) for name in layers}
    weight_errors = dict(result.weight_error)

    def measure(stage: str) -> Fidelity:
        measured = measure_fidelity(
            teacher,
            model,
            split.test,
            layers=layers,
            weight_errors=weight_errors,
            depth_multipliers=multipliers,
            batch_size=batch_size,
            stage=stage,
            progress=progress,
            measuring=stage,
            ranks=ranks,
        )
        return measured.with_context(split=sizes, validation=chosen, notes=notes)

    try:
        stages = [measure("svd")]
        used = 0
        distillation = None
        if mode in ("reconstruct", "distill"):
            used = reconstruct(
                teacher,
                model,
                layers,
                split.fit,
                calibration=calibration,
                batch_size=batch_size,
                progress=progress,
                ranks=ranks,
                budget_bytes=budget_bytes,
            )
            weight_errors = _weight_errors(teacher, model, layers)
            stages.append(measure("reconstruct"))
        if mode == "distill":
            distillation = distill(
                teacher,
                model,
                split.fit,
                split.validation,
                steps=steps,
                lr=lr,
                batch_size=batch_size,
                patience=patience,
                max_time=max_time,
                label_weight=label_weight,
                progress=progress,
                ranks=ranks,
            )
            weight_errors = _weight_errors(teacher, model, layers)
            stages.append(measure("distill"))
    finally:
        source_model.to(source_device)
    # The result keeps the SVD start's weight errors (what plan.json records of the init);
    # each stage's own are in its fidelity's layers.
    recovered = replace(result, model=model.cpu(), original=source_model)
    return Recovery(
        result=recovered,
        stages=tuple(stages),
        mode=mode,
        calibration=used,
        split=sizes,
        steps=distillation.steps if distillation is not None else 0,
        notes=notes,
        distillation=distillation,
        world_size=ranks.world_size,
        device=device,
    )


def split_for(
    data: Data,
    *,
    mode: str,
    calibration: int,
    validation: int | float | None = None,
    test: int | float | None = None,
    ranks: Ranks = LOCAL,
) -> Split:
    """``data`` split for ``mode`` (distillation gets a larger fit split), each part holding
    at least one sample per process."""
    sizes = plan_split(
        len(data),
        calibration=calibration,
        distill=mode == "distill",
        validation=validation,
        test=test,
        minimum=ranks.world_size,
    )
    return apply_split(data, sizes)


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
