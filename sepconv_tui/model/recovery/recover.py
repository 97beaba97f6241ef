"""Repair a swapped model on the user's data: least-squares reconstruction, then distillation.

``recover`` splits the data once (fit, validation, test), measures the SVD start on the test
split, reconstructs each block on the fit split (``reconstruction``), optionally distils on it
with early stopping on the validation split (``distill``), and measures each stage on the test
split only. The result types are in ``recovery_result``, the solver in ``least_squares`` and
the memory sizing in ``recovery_memory``. torch is imported inside the functions.
"""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import TYPE_CHECKING

from ...core.spec import parse_int_in_range
from ...progress import OnProgress, ignore
from ..measure.data import Data
from ..measure.distributed import LOCAL, Ranks
from ..measure.fidelity import DEFAULT_BATCH_SIZE, Fidelity, measure_fidelity
from ..measure.split import Split, apply_split, plan_split
from ..results.fidelity_result import ValidationFigure
from ..results.recovery_result import Recovery
from ..vocabulary.analysis import SwapError
from ..vocabulary.plan import SwapResult
from .distill import distill
from .reconstruction import reconstruct
from .recovery_memory import model_device
from .settings import (
    DEFAULT_CALIBRATION,
    DEFAULT_LABEL_WEIGHT,
    DEFAULT_LR,
    DEFAULT_PATIENCE,
    DEFAULT_STEPS,
    RECOVER_MODES,
)

if TYPE_CHECKING:
    from torch import nn


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
    source_device = model_device(source_model)
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
    from ..describe.candidates import effective_weight
    from ..describe.factorise import effective_kernel, relative_error

    originals = dict(original.named_modules())
    blocks = dict(swapped.named_modules())
    return {
        name: relative_error(effective_weight(originals[name]), effective_kernel(blocks[name]))
        for name in layers
    }
