"""Distillation: train the swapped model on the original's outputs until the validation
split stops improving.

The loss is softened-logit KL at temperature 2 for classifiers (optionally with cross-entropy
on the labels mixed in) and output MSE otherwise; Adam, with a short linear warm-up and then
cosine decay over the step ceiling; batch norm and dropout in eval mode. The student is
checked on the validation split every ``CHECK_EVERY`` steps, by the same loss there: that
continuous objective chooses the best weights and decides when to stop (top-1 agreement is
discrete, ties for many checks and dips after the first steps, so it is reported, not chosen
on). No check counts against the patience before a minimum budget (three passes over the fit
split or 300 steps, whichever is more). Under torchrun the student is wrapped in
DistributedDataParallel. torch is imported inside the functions.
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Any, NamedTuple

from ...core.spec import parse_int_in_range
from ...progress import OnProgress, Progress, ignore
from ..describe.candidates import eval_mode
from ..measure.data import Data, DataError
from ..measure.distributed import LOCAL, Ranks
from ..measure.fidelity import DEFAULT_BATCH_SIZE, classifier_outputs, flat_output
from ..results.recovery_result import CurvePoint, Distillation
from .recovery_memory import model_device
from .settings import (
    CHECK_EVERY,
    DEFAULT_LABEL_WEIGHT,
    DEFAULT_LR,
    DEFAULT_PATIENCE,
    DEFAULT_STEPS,
    MIN_PASSES,
    MIN_STEPS,
)

if TYPE_CHECKING:
    import torch
    from torch import nn

#: The softmax temperature of the distillation loss.
TEMPERATURE = 2.0
#: A validation loss resets the patience only when it falls by this share of the loss that
#: last reset it (the best weights are the lowest loss, however small the fall).
MIN_IMPROVEMENT = 1e-3
#: The warm-up: this share of the step ceiling, at most WARMUP_STEPS steps, at least one.
WARMUP_SHARE = 0.05
WARMUP_STEPS = 100


def warmup_steps(steps: int) -> int:
    """Steps of linear warm-up before the cosine decay, for a ceiling of ``steps``."""
    return max(1, min(WARMUP_STEPS, math.ceil(WARMUP_SHARE * steps)))


def schedule_factor(step: int, steps: int) -> float:
    """The learning rate's share of its peak at optimiser ``step`` (0-based) of ``steps``:
    linear warm-up to 1, then half a cosine down towards 0 at the step ceiling."""
    warmup = warmup_steps(steps)
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, steps - warmup)
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


def minimum_budget(steps: int, steps_per_pass: int) -> int:
    """The step before which no check counts against the patience: MIN_PASSES passes over the
    fit split or MIN_STEPS, whichever is more, and never past the ceiling ``steps``."""
    return min(steps, max(MIN_STEPS, MIN_PASSES * steps_per_pass))


def distillation_loss(
    student: Any,
    teacher_logits: torch.Tensor | None,
    teacher_flat: torch.Tensor,
    labels: torch.Tensor | None = None,
    label_weight: float = 0.0,
) -> torch.Tensor:
    """The loss per sample, averaged over the batch: softened-logit KL (× T²) when both are
    classifiers (``label_weight`` of it cross-entropy on ``labels``), else the outputs' MSE."""
    import torch.nn.functional as functional

    student_logits = classifier_outputs(student)
    if teacher_logits is not None and student_logits is not None:
        loss = functional.kl_div(
            functional.log_softmax(student_logits / TEMPERATURE, dim=1),
            functional.softmax(teacher_logits / TEMPERATURE, dim=1),
            reduction="batchmean",
        ) * (TEMPERATURE**2)
        if label_weight > 0 and labels is not None:
            loss = (1 - label_weight) * loss + label_weight * functional.cross_entropy(
                student_logits, labels
            )
        return loss
    return functional.mse_loss(flat_output(student), teacher_flat)


class Check(NamedTuple):
    """One validation check: the distillation loss, top-1 agreement (None for a model that is
    no classifier) and output error ‖y_student − y_teacher‖ / ‖y_teacher‖."""

    loss: float
    agreement: float | None
    output_error: float


class ValidationScore:
    """The student against the teacher on the validation split, the teacher's outputs kept."""

    def __init__(
        self,
        original: nn.Module,
        data: Data,
        batch_size: int,
        ranks: Ranks,
        label_weight: float = 0.0,
    ) -> None:
        import torch

        self.ranks = ranks
        self.label_weight = label_weight
        #: Per batch: inputs, labels, the teacher's logits (classifiers) and flat outputs.
        self.batches: list[
            tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None, torch.Tensor]
        ] = []
        device = model_device(original)
        shard = ranks.shard(data)
        with eval_mode(original), torch.no_grad():
            for inputs, labels in shard.batches(batch_size):
                output = original(inputs.to(device))
                logits = classifier_outputs(output)
                self.batches.append(
                    (
                        inputs,
                        labels,
                        None if logits is None else logits.cpu(),
                        flat_output(output).cpu(),
                    )
                )
            probe = original(data.inputs[:1].to(device))
        self.classifier = classifier_outputs(probe) is not None

    def score(self, student: nn.Module) -> Check:
        """``student``'s loss, agreement and output error over every rank's shard."""
        import torch

        device = model_device(student)
        agree = evaluated = 0
        difference = reference = loss_sum = 0.0
        with eval_mode(student), torch.no_grad():
            for inputs, labels, teacher_logits, teacher in self.batches:
                output = student(inputs.to(device))
                flat = flat_output(output).cpu()
                difference += float((flat.double() - teacher.double()).pow(2).sum())
                reference += float(teacher.double().pow(2).sum())
                loss = distillation_loss(
                    _to_cpu(output), teacher_logits, teacher, labels, self.label_weight
                )
                loss_sum += float(loss) * int(inputs.shape[0])
                logits = classifier_outputs(output)
                if self.classifier and logits is not None and teacher_logits is not None:
                    top_teacher = teacher_logits.argmax(1)
                    agree += int((logits.cpu().argmax(1) == top_teacher).sum())
                evaluated += int(inputs.shape[0])
        agree_sum, evaluated_sum, difference, reference, loss_sum = self.ranks.sum_floats(
            [float(agree), float(evaluated), difference, reference, loss_sum]
        )
        error = math.sqrt(difference / reference) if reference > 0 else 0.0
        agreement = agree_sum / evaluated_sum if self.classifier and evaluated_sum else None
        loss_mean = loss_sum / evaluated_sum if evaluated_sum else math.nan
        return Check(loss_mean, agreement, error)


def _to_cpu(output: Any) -> Any:
    """A model's output (a tensor, or a tuple, list or dict of them) on the CPU."""
    from torch.utils._pytree import tree_map

    return tree_map(lambda leaf: leaf.cpu() if hasattr(leaf, "cpu") else leaf, output)


def _check_settings(
    data: Data,
    *,
    steps: int,
    patience: int,
    lr: float,
    max_time: float | None,
    label_weight: float,
) -> tuple[int, int]:
    """``steps`` and ``patience`` as integers; DataError for a setting out of range."""
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
    return steps, patience


class _Best:
    """The best validation check so far, its weights, and the patience it has left."""

    def __init__(self, patience: int, min_steps: int) -> None:
        self.patience = patience
        self.min_steps = min_steps
        self.check: Check | None = None
        self.step = 0
        self.state: dict[str, Any] | None = None
        self.anchor = math.inf  # the loss that last reset the patience
        self.since = 0  # checks without improvement, counted from min_steps on

    def update(self, check: Check, step: int, model: nn.Module) -> bool:
        """Take ``check`` at ``step`` (keeping ``model``'s weights when it is the lowest loss
        yet); True when the patience has run out."""
        if self.check is None or check.loss < self.check.loss:
            self.check, self.step = check, step
            self.state = {key: value.detach().clone() for key, value in model.state_dict().items()}
        if check.loss < self.anchor * (1 - MIN_IMPROVEMENT) or self.anchor == math.inf:
            self.anchor, self.since = check.loss, 0
        elif step >= self.min_steps:
            self.since += 1
        return self.since >= self.patience

    def label(self, check: Check) -> str:
        """The progress bar's text: this check's figures and the best's."""
        assert self.check is not None
        now = f"loss {check.loss:.4g}"
        if check.agreement is not None:
            now += f" · {check.agreement:.1%}"
        return f"validation {now} (best {self.check.loss:.4g} at step {self.step})"


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
    check_every: int = CHECK_EVERY,
    min_steps: int | None = None,
    progress: OnProgress | None = None,
    ranks: Ranks = LOCAL,
) -> Distillation:
    """Train ``swapped`` (in place) to reproduce ``original``'s outputs on ``data``.

    ``distillation_loss`` with Adam at ``lr``, warmed up and then cosine-decayed over
    ``steps`` (``schedule_factor``); batch norm and dropout in eval mode, so the running
    statistics stay the original's. With a ``validation`` split, the student is checked on it
    at step 0 and every ``check_every`` steps by the same loss; the weights of the lowest
    validation loss are kept and restored, and training stops after ``patience`` checks
    without improvement, none counted before ``min_steps`` (default ``minimum_budget``).
    Always at ``steps`` or once ``max_time`` seconds have passed. Under a distributed
    ``ranks`` each rank trains on its DistributedSampler order of ``data`` (``batch_size``
    split over the ranks) and DistributedDataParallel averages the gradients.
    """
    import torch
    from torch.utils.data.distributed import DistributedSampler

    started = time.perf_counter()
    progress = progress if ranks.main and progress is not None else ignore
    steps, patience = _check_settings(
        data, steps=steps, patience=patience, lr=lr, max_time=max_time, label_weight=label_weight
    )
    check_every = max(1, check_every)
    device = model_device(swapped)
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
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: schedule_factor(step, steps)
    )
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
    steps_per_pass = max(1, len(indices_left) // per_rank)
    budget = minimum_budget(steps, steps_per_pass) if min_steps is None else min_steps
    checker = (
        ValidationScore(original, validation, batch_size, ranks, label_weight)
        if validation
        else None
    )
    best = _Best(patience, budget)
    curve: list[CurvePoint] = []
    stopped = "steps"
    taken = 0
    label = ""

    def check(step: int) -> bool:
        """Score the student now; True when the patience has run out."""
        nonlocal label
        assert checker is not None
        score = checker.score(swapped)
        curve.append(CurvePoint(step, score.loss, score.agreement))
        done = best.update(score, step, swapped)
        label = best.label(score)
        return done

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
            labels = (
                data.labels[indices].to(device)
                if label_weight > 0 and data.labels is not None
                else None
            )
            loss = distillation_loss(
                student(inputs),
                classifier_outputs(teacher),
                flat_output(teacher),
                labels,
                label_weight,
            )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            taken = step
            out_of_time = max_time is not None and time.perf_counter() - started >= max_time
            if ranks.distributed and max_time is not None:
                out_of_time = not ranks.all_true(not out_of_time)  # one rank's clock stops all
            due = step % check_every == 0 or step == steps or out_of_time
            if checker is not None and due and check(step):
                stopped = "patience"
                break
            progress(Progress("distill", step, steps, label or f"loss {float(loss.detach()):.4g}"))
            if out_of_time:
                stopped = "time"
                break
    if best.state is not None:
        swapped.load_state_dict(best.state)
    chosen = best.check
    return Distillation(
        steps=taken,
        best_step=best.step if checker is not None else taken,
        best_agreement=chosen.agreement if chosen is not None else None,
        best_output_error=chosen.output_error if chosen is not None else math.nan,
        stopped=stopped,
        seconds=time.perf_counter() - started,
        checks=len(curve),
        best_loss=chosen.loss if chosen is not None else math.nan,
        min_steps=budget,
        curve=tuple(curve),
    )
