"""The frontier: per-layer m chosen under one whole-model budget, from the sensitivity table.

From nothing swapped, each step either swaps another layer at one of its rungs or lowers a
swapped layer's m, whichever adds the least validation output error (the sum of single-layer
errors, a prediction) per unit saved: whole-model MACs for ``agreement:`` and ``macs:``,
params for ``params:``, measured seconds for ``speedup:``. The prediction only orders the
steps: the points a budget's choice depends on are reconstructed whole and measured on the
validation split, found by bisection along the frontier. The path is arithmetic; measuring a
point imports torch (inside the functions).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from ...errors import UserError
from ...progress import OnProgress, Progress, ignore
from ..measure.distributed import LOCAL, Ranks
from ..measure.fidelity import DEFAULT_BATCH_SIZE
from ..measure.split import Split
from ..recovery.settings import DEFAULT_CALIBRATION
from ..results.fidelity_result import ValidationFigure, resolution_note
from ..results.sensitivity_result import Frontier, FrontierPoint, Rung, RungTiming, Sensitivity
from ..vocabulary.analysis import Cost, ModelAnalysis, Selection, SelectionError, parse_selection

if TYPE_CHECKING:
    from torch import nn

#: The unit each budget's steps are counted in.
UNIT_OF_RULE = {"agreement": "macs", "macs": "macs", "params": "params", "speedup": "seconds"}


def _saving(rung: Rung, unit: str) -> float | None:
    """What ``rung`` saves in ``unit`` (None when it was not timed)."""
    if unit == "macs":
        return float(rung.macs_saved)
    if unit == "params":
        return float(rung.params_saved)
    return rung.seconds_saved


def measured_loss(rung: Rung) -> float | None:
    """The rung's validation output error (None when not measured)."""
    return rung.output_error if rung.measured else None


def frontier_path(
    table: Sensitivity,
    unit: str = "macs",
    loss: Callable[[Rung], float | None] = measured_loss,
) -> tuple[FrontierPoint, ...]:
    """Every point of the frontier, from nothing swapped to the most saving in ``unit``.

    A step's price is its increase in ``loss`` (summed over the swapped layers) per unit it
    saves; the cheapest is taken, ties going to the larger saving, then the model's order.
    Rungs without a loss or a saving in ``unit`` are left out. Arithmetic only.
    """
    usable: dict[str, list[tuple[Rung, float, float]]] = {}
    for rung in table.rungs:
        saving, cost = _saving(rung, unit), loss(rung)
        if saving is not None and saving > 0 and cost is not None:
            usable.setdefault(rung.name, []).append((rung, saving, cost))
    order = {name: index for index, name in enumerate(table.layers)}
    state: dict[str, tuple[Rung, float, float]] = {}
    points = [_point(table, state)]
    while True:
        best: tuple[tuple[float, float, int], str, tuple[Rung, float, float]] | None = None
        for name, options in usable.items():
            _now, saved_now, loss_now = state.get(name, (None, 0.0, 0.0))
            for option in options:
                _rung, saving, cost = option
                gained = saving - saved_now
                if gained <= 0:
                    continue
                price = ((cost - loss_now) / gained, -gained, order[name])
                if best is None or price < best[0]:
                    best = (price, name, option)
        if best is None:
            return tuple(points)
        state[best[1]] = best[2]
        points.append(_point(table, state))


def _point(table: Sensitivity, state: Mapping[str, tuple[Rung, float, float]]) -> FrontierPoint:
    """The plan ``state`` holds, with its cost and predicted loss (not measured)."""
    rungs = [state[name][0] for name in table.layers if name in state]
    seconds = [rung.seconds_saved for rung in rungs]
    saved = (
        sum(s for s in seconds if s is not None) if all(s is not None for s in seconds) else None
    )
    model_s = table.timing.model_s if table.timing is not None else None
    return FrontierPoint(
        multipliers=tuple((rung.name, rung.depth_multiplier) for rung in rungs),
        params=table.original.params - sum(rung.params_saved for rung in rungs),
        macs=table.original.macs - sum(rung.macs_saved for rung in rungs),
        predicted_error=sum(state[name][2] for name in state),
        seconds_saved=saved,
        predicted_speed_ratio=(
            _ratio(model_s, model_s - saved) if model_s is not None and saved is not None else None
        ),
    )


def weight_error_loss(analysis: ModelAnalysis) -> Callable[[Rung], float | None]:
    """Without data: a rung's loss is its layer's SVD weight error at that m (from the
    weights' energies), or 0 when the weights are unknown (the saving alone then decides)."""
    rows = {layer.name: layer for layer in analysis.candidates}

    def loss(rung: Rung) -> float:
        row = rows.get(rung.name)
        error = row.error_at(rung.depth_multiplier) if row is not None else None
        return error if error is not None else 0.0

    return loss


def unmeasured_table(analysis: ModelAnalysis) -> Sensitivity:
    """The ladder of every candidate with what each rung saves, nothing measured: the
    frontier's rungs when there is no data."""
    from .sensitivity import ladder

    rungs = []
    for layer in analysis.candidates:
        for m in ladder(layer):
            at = layer.with_depth_multiplier(m)
            rungs.append(Rung(layer.name, m, at.mac_saving, at.param_saving))
    return Sensitivity(rungs=tuple(rungs), original=analysis.with_swaps(set()).swapped)


#: Measures one plan whole on validation: the point with its figures filled in.
MeasurePoint = Callable[[FrontierPoint], FrontierPoint]
#: Scores a point's reconstructed model again (e.g. at int8): (model, measured point) → point.
Rescore = Callable[[Any, FrontierPoint], FrontierPoint]


def plan_measurer(
    original: nn.Module,
    split: Split,
    *,
    calibration: int = DEFAULT_CALIBRATION,
    batch_size: int = DEFAULT_BATCH_SIZE,
    ranks: Ranks = LOCAL,
    budget_bytes: int | None = None,
    progress: OnProgress | None = None,
    rescore: Rescore | None = None,
) -> MeasurePoint:
    """A MeasurePoint for ``original``: the plan's blocks from the SVD, reconstructed together
    on ``split.fit`` (as the swap will be), then measured on ``split.validation`` (and
    ``rescore``d, when given: its figures are the ones the budget is held to)."""
    from ..measure.fidelity import measure_fidelity
    from ..recovery.reconstruction import reconstruct
    from ..swapping.swap import svd_blocks, with_blocks

    report = progress if progress is not None else ignore
    count = [0]

    def measure(point: FrontierPoint) -> FrontierPoint:
        plan = point.plan
        names = list(plan)
        count[0] += 1
        # How many points bisection measures is not known ahead: each one completes a bar.
        report(Progress("frontier", count[0], count[0], point.summary))
        model = with_blocks(original, svd_blocks(original, names, plan))
        if names:
            reconstruct(
                original,
                model,
                names,
                split.fit,
                calibration=calibration,
                batch_size=batch_size,
                ranks=ranks,
                budget_bytes=budget_bytes,
            )
        fidelity = measure_fidelity(
            original, model, split.validation, layers=names, batch_size=batch_size, ranks=ranks
        )
        measured = replace(
            point,
            measured=True,
            agreement=fidelity.agreement,
            agreement_interval=fidelity.agreement_interval,
            output_error=fidelity.output_error,
            accuracy=fidelity.swapped_accuracy,
        )
        return measured if rescore is None else rescore(model, measured)

    return measure


def _score(point: FrontierPoint) -> float:
    """Higher is better: the measured agreement, or 1 − the output error for other outputs."""
    if point.agreement is not None:
        return point.agreement
    return 1.0 - (point.output_error or 0.0)


def _ratio(before: float, after: float) -> float:
    """before ÷ after, infinite when after is 0."""
    return before / after if after > 0 else float("inf")


def choose(
    points: Sequence[FrontierPoint],
    selection: Selection,
    original: Cost,
    *,
    measure: MeasurePoint | None = None,
    time_point: MeasurePoint | None = None,
    unit: str = "macs",
    evaluated: int = 0,
    timed_on: str = "",
) -> Frontier:
    """The point ``selection`` (a budget) picks on ``points``, measuring what it depends on.

    ``agreement:X``: the point with the most MACs saved whose measured agreement is ≥ X, by
    bisection (nothing swapped when none is). ``macs:X`` / ``params:X``: the first point (the
    least predicted loss) with X× fewer. ``speedup:X``: the first point whose whole swapped
    model, timed (``time_point``), is X times faster, by bisection (without ``time_point``, by
    the predicted speed-up). SelectionError giving the best there is when X is out of reach.
    Without ``measure``, the chosen point's loss is the prediction alone. ``timed_on`` says
    where the seconds were timed, for the message when X is out of reach.
    """
    points = list(points)
    notes: list[str] = []
    budget = str(selection)

    def measured(index: int) -> FrontierPoint:
        if not points[index].measured and measure is not None:
            points[index] = measure(points[index])
        return points[index]

    if selection.rule == "agreement":
        if measure is None:
            raise SelectionError(f"{budget} measures each swap on data: it needs the data")
        target = selection.min_agreement if selection.min_agreement is not None else 1.0
        low, high = 0, len(points) - 1
        if high > 0 and _score(measured(high)) >= target:
            low = high
        while high - low > 1:
            middle = (low + high) // 2
            if _score(measured(middle)) >= target:
                low = middle
            else:
                high = middle
        chosen = low
        if chosen == 0:
            measured(0)
            notes.append(f"{budget}: no swap keeps the validation agreement ≥ {target:g}")
    elif selection.rule == "speedup":
        chosen = _fastest_enough(points, selection, time_point, timed_on)
        if measure is not None:
            measured(chosen)
    elif selection.rule in ("macs", "params"):
        chosen = _reaching(points, selection, original)
        if measure is not None:
            measured(chosen)
    else:
        raise SelectionError(f"{budget} is not a budget the frontier resolves")
    return Frontier(
        unit=unit,
        original=original,
        points=tuple(points),
        chosen=chosen,
        budget=budget,
        notes=tuple(notes),
        evaluated=evaluated,
    )


def _reaching(points: Sequence[FrontierPoint], selection: Selection, original: Cost) -> int:
    """The first point reaching ``selection``'s ratio; SelectionError with the best there is."""
    target = selection.min_ratio
    assert target is not None
    if selection.rule == "macs":

        def ratio(point: FrontierPoint) -> float:
            return _ratio(original.macs, point.macs)

        what = "fewer MACs"
    else:

        def ratio(point: FrontierPoint) -> float:
            return _ratio(original.params, point.params)

        what = "fewer params"
    for index, point in enumerate(points):
        if ratio(point) >= target - 1e-12:
            return index
    best = max(range(len(points)), key=lambda index: ratio(points[index]))
    top = points[best]
    raise SelectionError(
        f"{selection} is out of reach: the most the frontier gives is {ratio(top):.2f}× {what} "
        f"({top.summary})"
    )


def _fastest_enough(
    points: list[FrontierPoint],
    selection: Selection,
    time_point: MeasurePoint | None,
    timed_on: str = "",
) -> int:
    """speedup:X: the first point whose whole model runs X times faster, timed by
    ``time_point`` where the bisection needs it (each timed point kept in ``points``), or by
    the prediction without it. The points' speed-ups are taken to grow along the frontier;
    the prediction's first point reaching X is timed first. SelectionError with the best."""
    target = selection.min_speedup
    assert target is not None
    if any(point.predicted_speed_ratio is None for point in points[1:]):
        raise SelectionError(f"{selection} needs each layer's seconds saved: time the rungs first")

    def ratio(index: int) -> float:
        if index == 0:
            return 1.0  # nothing swapped
        if time_point is None:
            return points[index].predicted_speed_ratio or 1.0
        if points[index].speed_ratio is None:
            points[index] = time_point(points[index])
        return points[index].speed_ratio or 1.0

    last = len(points) - 1
    predicted = next(
        (
            index
            for index, point in enumerate(points)
            if index and (point.predicted_speed_ratio or 0.0) >= target
        ),
        last,
    )
    low, high = 0, last
    probe = predicted
    if last == 0 or ratio(probe) < target:
        low = probe
        if probe != last and ratio(last) >= target:
            high = last
        else:
            raise _out_of_reach(points, selection, time_point is not None, timed_on)
    else:
        high = probe
    while high - low > 1:
        middle = (low + high) // 2
        if ratio(middle) >= target:
            high = middle
        else:
            low = middle
    return high


def _out_of_reach(
    points: Sequence[FrontierPoint], selection: Selection, timed: bool, timed_on: str = ""
) -> SelectionError:
    """speedup:X out of reach: the fastest point timed (or predicted), and what it is."""
    where = f" {timed_on}" if timed_on else ""
    if len(points) < 2:
        return SelectionError(
            f"{selection} is out of reach{where}: no candidate's block runs faster than its "
            "conv there (the model stays at 1.00×)"
        )
    if timed:
        known = [point for point in points if point.speed_ratio is not None]
        top = max(known, key=lambda point: point.speed_ratio or 0.0)
        how = f"{top.speed_ratio:.2f}× measured (predicted {top.predicted_speed_ratio:.2f}×)"
    else:
        top = max(points[1:], key=lambda point: point.predicted_speed_ratio or 0.0)
        how = f"{top.predicted_speed_ratio:.2f}× predicted"
    return SelectionError(f"{selection} is out of reach{where}: the best is {how}, {top.summary}")


def _split_of(data: Any, calibration: int) -> Split | None:
    """``data`` as the split ``sensitivity`` measured on (None stays None)."""
    if data is None or isinstance(data, Split):
        return data
    from ..recovery.recover import split_for

    return split_for(data, mode="reconstruct", calibration=calibration)


def frontier(
    table: Sensitivity,
    budget: str | Selection | None = None,
    *,
    model: nn.Module | None = None,
    data: Any = None,
    unit: str | None = None,
    calibration: int = DEFAULT_CALIBRATION,
    batch_size: int = DEFAULT_BATCH_SIZE,
    ranks: Ranks = LOCAL,
    budget_bytes: int | None = None,
    progress: OnProgress | None = None,
) -> Frontier:
    """The frontier of ``table`` (``sensitivity(...)``), and the point ``budget`` chooses.

    ``budget``: ``"agreement:X"``, ``"macs:X"``, ``"params:X"`` or ``"speedup:X"`` (None: the
    path alone, in ``unit``, default MACs). With ``model`` (the original, weights loaded) and
    ``data`` (what the table was measured on: the same ``Data``, split by the same rule, or
    the ``Split``), the points the choice depends on are reconstructed and measured whole on
    the validation split. ``speedup:X`` needs the table timed (``sensitivity(...,
    runtime=...)``); here it is chosen on the predicted speed-up (``speedup:X`` from the CLI
    times the whole model at the points it depends on).
    """
    split = _split_of(data, calibration)
    selection = parse_selection(budget) if isinstance(budget, str) else budget
    if selection is not None and selection.rule not in UNIT_OF_RULE:
        raise SelectionError(
            f"{selection} is not a budget: agreement:X, macs:X, params:X, speedup:X"
        )
    chosen_unit = unit or (UNIT_OF_RULE[selection.rule] if selection is not None else "macs")
    if chosen_unit not in UNIT_OF_RULE.values():
        raise UserError(f"the frontier's unit must be macs, params or seconds, got {chosen_unit!r}")
    points = frontier_path(table, chosen_unit)
    timing = table.timing if chosen_unit == "seconds" else None
    runtime = timing.runtime if timing is not None else None
    if selection is None:
        return Frontier(
            chosen_unit, table.original, points, evaluated=table.evaluated, runtime=runtime
        )
    measure = None
    if model is not None and split is not None:
        measure = plan_measurer(
            model,
            split,
            calibration=calibration,
            batch_size=batch_size,
            ranks=ranks,
            budget_bytes=budget_bytes,
            progress=progress,
        )
    chosen = choose(
        points,
        selection,
        table.original,
        measure=measure,
        unit=chosen_unit,
        evaluated=len(split.validation) if split is not None else table.evaluated,
    )
    if measure is None:
        note = f"{selection} chosen on the predicted loss alone: no point was measured whole"
        chosen = replace(chosen, notes=(*chosen.notes, note))
    if selection.rule == "speedup":
        note = f"{selection} chosen on the predicted speed-up: the whole model was not timed"
        chosen = replace(chosen, notes=(*chosen.notes, note))
    return replace(chosen, runtime=runtime, baseline="same" if runtime is not None else None)


@dataclass(frozen=True)
class BudgetChoice:
    """A budget resolved: each chosen layer's m, the frontier that chose it, the table it was
    built from (None without data) and notes for the user."""

    budget: Selection
    multipliers: dict[str, int]
    frontier: Frontier
    sensitivity: Sensitivity | None = None
    notes: tuple[str, ...] = ()

    @property
    def selection(self) -> Selection:
        """The chosen layers by name (or none)."""
        if not self.multipliers:
            return Selection("none")
        return Selection("names", patterns=tuple(self.multipliers))

    @property
    def validation(self) -> ValidationFigure | None:
        """The chosen point's measured validation agreement (None when not measured or not a
        classifier, or when nothing is swapped)."""
        point = self.frontier.point
        if point is None or not point.measured or point.agreement is None:
            return None
        if not point.multipliers:
            return None
        return ValidationFigure(
            point.agreement,
            point.agreement_interval,
            self.frontier.evaluated,
            self.budget.min_agreement if self.budget.rule == "agreement" else None,
        )


def resolve_budget(
    selection: Selection,
    analysis: ModelAnalysis,
    *,
    table: Sensitivity | None = None,
    original: nn.Module | None = None,
    split: Split | None = None,
    seconds: RungTiming | None = None,
    time_point: MeasurePoint | None = None,
    baseline: str = "same",
    calibration: int = DEFAULT_CALIBRATION,
    batch_size: int = DEFAULT_BATCH_SIZE,
    ranks: Ranks = LOCAL,
    budget_bytes: int | None = None,
    progress: OnProgress | None = None,
    rescore: Rescore | None = None,
) -> BudgetChoice:
    """``selection`` (agreement:X, macs:X, params:X or speedup:X) resolved to each layer's m
    (``rescore``: what measures each point's reconstructed model again, e.g. at int8).

    With the sensitivity ``table``, ``original`` (weights loaded) and the ``split`` the table
    was measured on: the table's frontier, the points the choice depends on measured whole on
    validation. Without them, macs:X, params:X and speedup:X follow the frontier of each
    layer's SVD weight error (the saving alone when the weights are unknown), and say so.
    speedup:X needs ``seconds`` (each rung timed on one runtime) and ``time_point`` (the whole
    model timed at a point, against the ``baseline`` it names: "same" runtime or "best" cell).
    """
    unit = UNIT_OF_RULE.get(selection.rule)
    if unit is None:
        raise SelectionError(f"{selection} is not a budget the frontier resolves here")
    if unit == "seconds" and seconds is None:
        raise SelectionError(f"{selection} needs each layer's seconds saved: time the rungs first")
    runtime = seconds.runtime if seconds is not None and unit == "seconds" else None
    speed_baseline = baseline if runtime is not None else None
    timed_on = ""
    if runtime is not None:
        timed_on = (
            f"on {runtime}"
            if baseline == "same"
            else f"against the original's best runtime × precision (layers timed on {runtime})"
        )
    if table is None or original is None or split is None:
        if selection.rule == "agreement":
            raise SelectionError(f"{selection} measures each swap on data: it needs the data")
        known = all(layer.kept_energy for layer in analysis.candidates)
        ladders = unmeasured_table(analysis)
        if seconds is not None:
            ladders = ladders.with_timing(seconds)
        points = frontier_path(ladders, unit, weight_error_loss(analysis))
        chosen = choose(
            points,
            selection,
            ladders.original,
            time_point=time_point,
            unit=unit,
            timed_on=timed_on,
        )
        how = "each layer's SVD weight error" if known else "the saving alone"
        note = f"{selection} chosen without data, by {how}: nothing was measured on data"
        plan = chosen.point.plan if chosen.point else {}
        chosen = replace(chosen, runtime=runtime, baseline=speed_baseline)
        return BudgetChoice(selection, plan, chosen, None, (note,))
    if seconds is not None:
        table = table.with_timing(seconds)
    measure = plan_measurer(
        original,
        split,
        calibration=calibration,
        batch_size=batch_size,
        ranks=ranks,
        budget_bytes=budget_bytes,
        progress=progress,
        rescore=rescore,
    )
    chosen = choose(
        frontier_path(table, unit),
        selection,
        table.original,
        measure=measure,
        time_point=time_point,
        unit=unit,
        evaluated=len(split.validation),
        timed_on=timed_on,
    )
    notes = [*table.notes, *chosen.notes]
    if table.unmeasured:
        notes.append(f"the frontier leaves out {table.unmeasured} rungs that time ran out before")
    if selection.rule == "agreement" and selection.min_agreement is not None:
        resolution = resolution_note(selection.min_agreement, len(split.validation))
        if resolution:
            notes.append(resolution)
    plan = chosen.point.plan if chosen.point is not None else {}
    chosen = replace(chosen, runtime=runtime, baseline=speed_baseline)
    return BudgetChoice(selection, plan, chosen, table, tuple(notes))
