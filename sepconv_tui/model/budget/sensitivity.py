"""Sensitivity: every candidate swapped alone at a ladder of m, fitted and measured.

The original's input and output at every candidate are recorded once, on the fit split's first
calibration samples (fewer when they would not fit the memory budget, with a note). Each rung
is then a block started from the conv's SVD whose pointwise conv is fitted by least squares
to those recordings (exactly what ``reconstruct`` does for a layer swapped alone: the block
sees the original's input), and a pass over the validation split with that one layer swapped
measures it. What it saves is closed-form arithmetic. torch is imported inside the functions.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ...errors import UserError
from ...progress import OnProgress, Progress, ignore
from ..latency.rung_timing import timed
from ..measure.distributed import LOCAL, Ranks
from ..measure.fidelity import DEFAULT_BATCH_SIZE
from ..measure.split import Split
from ..recovery.distill import ValidationScore
from ..recovery.least_squares import normal_equations, solve
from ..recovery.reconstruction import record_activations
from ..recovery.settings import DEFAULT_CALIBRATION
from ..results.sensitivity_result import Rung, Sensitivity
from ..vocabulary.analysis import ModelAnalysis, ModelLayer, multiplier_for_energy

if TYPE_CHECKING:
    import torch
    from torch import nn

#: The energies the ladder adds the energy rule's m for (auto:0.9 and auto:0.99).
LADDER_ENERGIES = (0.9, 0.99)
#: Progress stages: "record" once, then "sensitivity" per rung.
STAGES = ("record", "sensitivity")


class SensitivityError(UserError):
    """A sensitivity that cannot be measured as asked."""

    default_field = "sensitivity"


def ladder(layer: ModelLayer) -> tuple[int, ...]:
    """The m each candidate is measured at: 1, 2, 4, … up to the largest m whose block still
    has fewer params (and no more than the rank, where the block is already exact), plus the
    energy rule's m at 0.9 and 0.99 where those save params too."""
    from ...core.spec import FIELD_BOUNDS

    high = FIELD_BOUNDS["depth_multiplier"][1]
    if layer.kept_energy:
        high = min(high, len(layer.kept_energy))
    saving = [m for m in range(1, high + 1) if layer.with_depth_multiplier(m).param_saving > 0]
    if not saving:
        return ()
    largest = saving[-1]
    rungs = {m for m in (1 << power for power in range(7)) if m <= largest} | {largest}
    for energy in LADDER_ENERGIES:
        m = layer.auto_multiplier(energy)
        if m is not None and m <= largest:
            rungs.add(m)
    return tuple(sorted(rungs))


def one_channel_note(layer: ModelLayer) -> str | None:
    """For a conv with one input channel: its block is a rank-m approximation of its C_out
    filters (the depthwise filters are the basis, the pointwise weights the coefficients)."""
    if layer.in_channels != 1:
        return None
    rules = ""
    if layer.kept_energy:
        picks = [
            f"m = {multiplier_for_energy(layer.kept_energy, e)} at {e:g}" for e in LADDER_ENERGIES
        ]
        rules = f"; the energy rule gives {' and '.join(picks)}"
    return (
        f"{layer.name} has one input channel: its separable block is a rank-m approximation "
        f"of its {layer.out_channels} filters (m filters shared by all){rules}"
    )


def _rung(layer: ModelLayer, m: int) -> Rung:
    """``layer`` at ``m`` with what it saves (closed form), not measured yet."""
    at = layer.with_depth_multiplier(m)
    return Rung(layer.name, m, macs_saved=at.mac_saving, params_saved=at.param_saving)


def _record(
    original: nn.Module,
    layers: Sequence[str],
    inputs: torch.Tensor,
    batch_size: int,
) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Each named module's input and output (its first call per batch) over ``inputs``."""
    recorded = record_activations(original, layers, inputs, batch_size, with_inputs=True)
    return {name: (x, y) for name, (x, y) in recorded.items() if x is not None}


def _per_sample_bytes(original: nn.Module, layers: Sequence[str], sample: torch.Tensor) -> int:
    """Bytes one sample's recorded inputs and outputs take at ``layers`` (float32)."""
    recorded = _record(original, layers, sample[:1], 1)
    return sum(4 * (x.numel() + y.numel()) for x, y in recorded.values())


def _budget(budget_bytes: int | None, ranks: Ranks) -> int:
    """The memory budget on ``ranks``'s device, the smallest over the ranks."""
    from ...core.budget import resolve_budget

    device = "cuda" if ranks.device.startswith("cuda") else "cpu"
    return ranks.smallest(resolve_budget(budget_bytes, device))


def fit_block(
    block: nn.Module,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    ranks: Ranks = LOCAL,
    chunk: int = 64,
) -> bool:
    """Fit ``block``'s pointwise conv by least squares so that ``block(inputs)`` ≈ ``targets``,
    in place, chunk by chunk; False (the block left as it was) when the shapes do not line up."""
    import torch

    pointwise: Any = block.pointwise
    depthwise: Any = block.depthwise
    bias = getattr(pointwise, "bias", None) is not None
    gram: torch.Tensor | None = None
    cross: torch.Tensor | None = None
    with torch.no_grad():
        for start in range(0, inputs.shape[0], chunk):
            middle = depthwise(inputs[start : start + chunk])
            target = targets[start : start + chunk]
            if middle.shape[0] != target.shape[0] or middle.shape[2:] != target.shape[2:]:
                return False
            g, c = normal_equations(middle, target, bias)
            gram = g if gram is None else gram + g
            cross = c if cross is None else cross + c
    if gram is None or cross is None:
        return False
    gram, cross = ranks.sum(gram), ranks.sum(cross)
    solution = solve(gram.cpu(), cross.cpu(), bias)
    channels = solution.shape[0] - (1 if bias else 0)
    with torch.no_grad():
        pointwise.weight.copy_(solution[:channels].T.reshape(pointwise.weight.shape))
        if bias:
            pointwise.bias.copy_(solution[channels].to(pointwise.bias))
    return True


def measure_sensitivity(
    original: nn.Module,
    analysis: ModelAnalysis,
    split: Split,
    *,
    key: Mapping[str, Any] | None = None,
    layers: Sequence[str] | None = None,
    calibration: int = DEFAULT_CALIBRATION,
    batch_size: int = DEFAULT_BATCH_SIZE,
    seconds: Mapping[str, Mapping[int, float]] | None = None,
    max_time: float | None = None,
    previous: Sensitivity | None = None,
    progress: OnProgress | None = None,
    cancelled: Callable[[], bool] | None = None,
    ranks: Ranks = LOCAL,
    budget_bytes: int | None = None,
) -> Sensitivity:
    """The layer × m table of ``original`` (weights loaded, on its device) on ``split``.

    ``analysis``: the model's trace (``analyze_model``), for the candidates and their costs;
    with the weights' energies (``with_energies``) the ladder gains the energy rule's m.
    ``layers``: the candidates to measure (default: every candidate that can save params).
    ``seconds``: each layer's measured seconds saved at each m, when the caller timed them.
    ``max_time``: seconds, after which the remaining rungs are left unmeasured (and marked).
    ``previous``: a table for the same model and data whose measured rungs are kept.
    ``split.test`` is not touched.
    """
    import torch

    from ..describe.factorise import has_real_weights, layer_energies
    from ..swapping.swap import svd_blocks, with_blocks

    report = progress if ranks.main and progress is not None else ignore
    started = time.monotonic()
    if has_real_weights(original) and any(not row.kept_energy for row in analysis.candidates):
        analysis = analysis.with_energies(layer_energies(original))  # the ladder's energy rungs
    rows = {layer.name: layer for layer in analysis.candidates}
    names = [
        name
        for name in (layers if layers is not None else list(rows))
        if name in rows and ladder(rows[name])
    ]
    notes: list[str] = []
    for name in names:
        note = one_channel_note(rows[name])
        if note:
            notes.append(note)
    wanted = [_rung(rows[name], m) for name in names for m in ladder(rows[name])]
    if seconds is not None:
        wanted = [
            replace(rung, seconds_saved=seconds.get(rung.name, {}).get(rung.depth_multiplier))
            for rung in wanted
        ]
    kept = {
        (rung.name, rung.depth_multiplier): rung
        for rung in (previous.rungs if previous is not None else ())
        if rung.measured
    }
    todo = [rung for rung in wanted if (rung.name, rung.depth_multiplier) not in kept]
    device = next(iter(original.parameters()), torch.empty(0)).device
    fitting = split.fit
    used = fitting.head(min(calibration, len(fitting)))
    recorded: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
    if todo:
        if len(split.validation) == 0:
            raise SensitivityError("the sensitivity needs a validation split of 1 sample or more")
        inputs = ranks.shard(used).inputs.to(device)
        per_sample = _per_sample_bytes(original, names, inputs)
        budget = _budget(budget_bytes, ranks)
        fits = budget // max(per_sample, 1)
        if fits < 1:
            from ...core.memory import format_bytes

            raise SensitivityError(
                f"one sample's inputs and outputs at the {len(names)} candidates take "
                f"{format_bytes(per_sample)}, over the memory budget of {format_bytes(budget)}",
                field="calibration",
            )
        if fits < inputs.shape[0]:
            notes.append(
                f"fitted on {fits:,} calibration samples, not {inputs.shape[0]:,}: the "
                "original's inputs and outputs at every candidate must fit the memory budget"
            )
            inputs = inputs[:fits]
        report(Progress("record", 0, 1, "the original at every candidate"))
        recorded = _record(original, [rung.name for rung in todo], inputs, batch_size)
        report(Progress("record", 1, 1, "the original at every candidate"))
        calibration_used = int(inputs.shape[0])
        score = ValidationScore(original, split.validation, batch_size, ranks)
        classifier = score.classifier
    else:
        calibration_used = previous.calibration if previous is not None else 0
        classifier = previous.classifier if previous is not None else True
    measured: dict[tuple[str, int], Rung] = dict(kept)
    out_of_time = False
    for index, rung in enumerate(todo, start=1):
        if cancelled is not None and cancelled():
            raise SensitivityError("the sensitivity was cancelled")
        if max_time is not None and time.monotonic() - started > max_time:
            out_of_time = True
            break
        if rung.name not in recorded:
            continue  # never called by the forward: nothing to fit it to
        block = svd_blocks(original, [rung.name], {rung.name: rung.depth_multiplier})
        fitted = block[rung.name].to(device)
        x, y = recorded[rung.name]
        fit_block(fitted, x, y, ranks)
        model = with_blocks(original, {rung.name: fitted})
        check = score.score(model)
        del model
        measured[(rung.name, rung.depth_multiplier)] = replace(
            rung, agreement=check.agreement, output_error=check.output_error, measured=True
        )
        report(Progress("sensitivity", index, len(todo), f"{rung.name} m={rung.depth_multiplier}"))
    recorded.clear()
    rungs = tuple(measured.get((rung.name, rung.depth_multiplier), rung) for rung in wanted)
    missing = sum(not rung.measured for rung in rungs)
    if out_of_time and missing:
        notes.append(
            f"time ran out: {missing} of {len(rungs)} rungs were not measured "
            "(marked “not measured”)"
        )
    return Sensitivity(
        rungs=rungs,
        original=analysis.with_swaps(set()).swapped,
        key=dict(key or {}),
        evaluated=len(split.validation),
        calibration=calibration_used,
        classifier=classifier,
        notes=tuple(notes),
    )


def sensitivity(
    model: nn.Module,
    data: Any,
    *,
    input_shape: tuple[int, ...] | None = None,
    calibration: int = DEFAULT_CALIBRATION,
    validation: int | float | None = None,
    test: int | float | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    max_time: float | None = None,
    runtime: str | None = None,
    threads: int | None = None,
    progress: OnProgress | None = None,
) -> Sensitivity:
    """The layer × m table of ``model`` (its weights loaded) on ``data`` (a ``Data`` from
    ``load_data``, or a ``Split``): each candidate swapped alone at every rung, fitted by
    least squares on the fit split and measured on the validation split. ``runtime`` (a
    name in the runtime table, e.g. "eager"): each conv and its block at every rung are also
    timed alone there (fp32, ``threads``), for the seconds each rung saves."""
    from ..describe.trace import analyze_model
    from ..measure.data import Data
    from ..recovery.recover import split_for

    if isinstance(data, Data):
        split = split_for(
            data, mode="reconstruct", calibration=calibration, validation=validation, test=test
        )
    elif isinstance(data, Split):
        split = data
    else:
        raise SensitivityError("the data must be a Data (load_data) or a Split")
    shape = input_shape or (1, *tuple(split.fit.inputs.shape[1:]))
    analysis = analyze_model(model, input_shape=shape, select="none")
    started = time.monotonic()
    table = measure_sensitivity(
        model,
        analysis,
        split,
        calibration=calibration,
        batch_size=batch_size,
        max_time=max_time,
        progress=progress,
    )
    if runtime is None:
        return table
    if max_time is not None and time.monotonic() - started > max_time:
        note = f"time ran out before the rungs were timed on {runtime}"
        return replace(table, notes=(*table.notes, note))
    return timed(table, model, analysis, runtime=runtime, threads=threads, progress=progress)
