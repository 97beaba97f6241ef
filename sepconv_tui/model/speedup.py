"""``--swap speedup:X``: each layer's m on the frontier of measured seconds, confirmed by timing
the whole swapped model.

Every candidate's conv and its block at every rung's m are timed alone on the runtime
(``rung_timing``: one child, fp32; with data, kept in the sensitivity table and reused), so the
frontier steps by the least increase in validation output error per second saved (without
data, by each layer's SVD weight error, and a note says nothing was measured on data). The sum
of seconds only predicts: the points the choice depends on are timed whole, by bisection along
the frontier, against the ``baseline``: the original on the same runtime, or (``"best"``) the
original's best cell against the swap's best over every runtime × precision this machine runs.
The weights do not change the time, so the timed models are built without them. torch is
imported inside what this calls.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from ..core.latency import MIN_RUN_TIME_S
from ..errors import UserError
from ..progress import OnProgress, Progress, ignore
from .budget.frontier import BudgetChoice, MeasurePoint, resolve_budget, unmeasured_table
from .latency.bench import benchmark_model
from .latency.rung_timing import check_timing_runtime, time_rungs
from .results.bench_result import MODEL_MIN_RUN_TIME_S
from .results.sensitivity_result import FrontierPoint
from .swapping.job import build_pair
from .vocabulary.analysis import Selection, SelectionError
from .vocabulary.runtimes import Stage, runtime_names

if TYPE_CHECKING:
    from .swapping.job import ModelJob
    from .workflow import Workflow

#: What speedup:X's X is measured against: the original on the same runtime, or the
#: original's fastest runtime × precision cell against the swapped model's fastest.
BASELINES = ("same", "best")


def whole_model_timer(
    job: ModelJob,
    runtime: str,
    *,
    baseline: str = "same",
    min_run_time: float = MODEL_MIN_RUN_TIME_S,
    progress: OnProgress | None = None,
) -> MeasurePoint:
    """What times a frontier point: ``job``'s model swapped at the point's m (no weights: the
    time does not depend on them) against the original, on ``runtime`` at fp32, or with
    ``baseline="best"`` in every runtime × precision cell (the best cells kept in the point)."""
    report = progress if progress is not None else ignore
    timing_job = replace(job, weights=None, swapped_dir=None, init="random")
    count = [0]

    def time_point(point: FrontierPoint) -> FrontierPoint:
        plan = point.plan
        count[0] += 1
        # How many points the bisection times is not known ahead: each one completes a bar.
        report(Progress(str(Stage.CONFIRM), count[0], count[0], point.summary))
        selection = Selection("names", patterns=tuple(plan)) if plan else Selection("none")
        planned = timing_job.with_plan(selection, dict(plan))
        if baseline == "best":
            result = benchmark_model(
                planned, runtimes=runtime_names(), precision=None, min_run_time=min_run_time
            )
            best = result.best
            if best is None:
                raise SelectionError("no runtime × precision cell could time the model here")
            return replace(point, speed_ratio=best.speed_ratio, best=best.to_dict())
        result = benchmark_model(planned, runtimes=(runtime,), min_run_time=min_run_time)
        return replace(point, speed_ratio=result.runtimes[runtime].speed_ratio)

    return time_point


def resolve_speedup(
    job: ModelJob,
    budget: Selection,
    *,
    runtime: str = "eager",
    baseline: str = "same",
    workflow: Workflow | None = None,
    mode: str = "reconstruct",
    min_run_time: float = MIN_RUN_TIME_S,
    model_min_run_time: float = MODEL_MIN_RUN_TIME_S,
    progress: OnProgress | None = None,
) -> BudgetChoice:
    """``speedup:X`` (``budget``) on ``job``'s model: each layer's m on the frontier of seconds
    saved on ``runtime`` (the job's threads), the deciding points timed whole against
    ``baseline`` ("same" or "best"); the point with the least loss whose measured speed-up is
    ≥ X. With ``workflow`` (data): the sensitivity table's frontier (its rungs timed once and
    kept), the chosen point measured reconstructed on the validation split of ``mode``
    (recover's rule: distillation keeps a larger one). SelectionError when X is out
    of reach (saying the best there is). The job's own selection is not read.

    ``progress`` gets the sensitivity's stages (with data), "time" per module timed alone,
    then "confirm" per point timed whole."""
    if budget.rule != "speedup" or budget.min_speedup is None:
        raise SelectionError(f"resolve_speedup needs a speedup:X selection, got {budget}")
    if baseline not in BASELINES:
        raise UserError(
            f"the baseline must be one of {', '.join(BASELINES)}, got {baseline!r}",
            field="baseline",
        )
    from .describe.trace import analyze_model

    analysis = analyze_model(
        job.source,
        input_shape=job.input_shape,
        select="none",
        weights=job.weights,
        memory_budget_bytes=job.budget_bytes,
    )
    check_timing_runtime(runtime, analysis)  # before any measuring
    time_point = whole_model_timer(
        job, runtime, baseline=baseline, min_run_time=model_min_run_time, progress=progress
    )
    if workflow is not None:
        timed_workflow = replace(workflow, budget=budget, seconds_on=runtime, chosen=None)
        return timed_workflow.resolve(progress, mode=mode, time_point=time_point, baseline=baseline)
    # The original alone, without weights (they do not change the time; the blocks are made
    # per rung from the convs' shapes).
    original, _swapped, _result = build_pair(
        replace(job, weights=None, swapped_dir=None, init="random").with_plan(Selection("none"))
    )
    seconds = time_rungs(
        original,
        analysis,
        unmeasured_table(analysis),
        runtime=runtime,
        threads=job.threads,
        min_run_time=min_run_time,
        progress=progress,
    )
    return resolve_budget(
        budget, analysis, seconds=seconds, time_point=time_point, baseline=baseline
    )
