"""Whole-model latency: real forward passes of a model and of its swapped copy, and of each
candidate conv and its block alone.

A ``ModelJob`` says what to time; ``job.build_pair`` builds it (the memory budget checked on an
empty build first). Both models are then timed here (``time_forward``, on the job's device), or
on each runtime of the runtime table in a child process of its own (``timing``), which gets the
modules to time and never a source to rebuild. torch is imported inside the functions; the
results are plain data (``bench_result``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from ..core.budget import resolve_budget
from ..core.compare import compare
from ..core.latency import (
    MIN_RUN_TIME_S,
    BenchError,
    BenchResult,
    RuntimeTiming,
    Timing,
    channels_last_input,
    check_budget,
    check_device,
    time_forward,
    to_channels_last,
)
from ..core.spec import LayerSpec
from ..progress import OnProgress, Progress, ignore
from .analysis import ModelAnalysis, Selection
from .bench_result import (
    MODEL_MIN_RUN_TIME_S,
    LayerBench,
    LayerRow,
    LayerTiming,
    ModelBenchResult,
)
from .job import ModelJob, build_pair, estimate_pair_bytes
from .runtimes import Runtime, Stage, check_runtimes, runtimes_for_ranks
from .timing import ToTime, stage_progress, time_both, time_on_runtime

if TYPE_CHECKING:
    import torch
    from torch import nn


#: What a whole-model benchmark goes through, in order.
STAGES = (
    "analysing the model",
    "building both models",
    "timing the original",
    "timing the swapped model",
)


def conv_ranks(analysis: ModelAnalysis) -> frozenset[int]:
    """The spatial ranks of the model's convs (1, 2, 3): what channels-last can mean for it."""
    return frozenset(
        len(layer.kernel_size)
        for layer in analysis.layers
        if layer.kind == "conv" and layer.kernel_size is not None
    )


def _analyse(job: ModelJob) -> ModelAnalysis:
    """``job``'s model analysed on meta (free): its candidates, shapes and MACs."""
    from .trace import analyze_model

    return analyze_model(
        job.source,
        input_shape=job.input_shape,
        select=job.selection,
        depth_multiplier=job.depth_multiplier,
        weights=job.weights,
        memory_budget_bytes=job.budget_bytes,
    )


def _for_timing(job: ModelJob) -> ModelJob:
    """``job`` as timing builds it: random blocks without weights (the values do not change
    the time, and an SVD per layer would)."""
    return job if job.weights is not None else replace(job, init="random")


def _threads(threads: int | None) -> int:
    """``threads``, or torch's default."""
    import torch

    return threads if threads is not None else torch.get_num_threads()


def _input(shape: Sequence[int], device: str = "cpu") -> torch.Tensor:
    """A seeded random fp32 input of ``shape`` on ``device``."""
    import torch

    return torch.randn(tuple(shape), generator=torch.Generator().manual_seed(0)).to(device)


def _time_here(
    before: nn.Module,
    after: nn.Module,
    x: torch.Tensor,
    *,
    threads: int,
    min_run_time: float,
    channels_last: bool,
    report: OnProgress,
    stages: Sequence[str],
) -> tuple[Timing, Timing]:
    """Both modules timed in this process, on ``x``'s device (channels-last when asked),
    with a Progress before each (``stages``: its two labels)."""
    if channels_last:
        x = channels_last_input(x)
    timings = []
    for index, module in enumerate((before, after)):
        module = module.to(x.device).eval()
        if channels_last:
            module = to_channels_last(module)
        report(Progress(str(Stage.BENCH), 2 + index, len(STAGES), stages[index]))
        timings.append(time_forward(module, x, threads, min_run_time))
    return timings[0], timings[1]


def benchmark_model(
    job: ModelJob,
    *,
    runtimes: Sequence[str] | None = None,
    channels_last: bool = False,
    min_run_time: float = MODEL_MIN_RUN_TIME_S,
    progress: OnProgress | None = None,
) -> ModelBenchResult:
    """Time real forward passes of ``job``'s model and of its swapped copy (fp32, inference).

    Here, on the job's device (``channels_last``: NHWC input and weights), or with
    ``runtimes`` (names in the runtime table) on each, every one in a process of its own with
    the same threads, on the CPU; the progress stages are then "analysing the model" and
    "timing on RUNTIME" for each.
    """
    report = progress or ignore
    check_device(job.device)
    if runtimes is not None:
        check_runtimes(runtimes, job.device)
    stages = len(STAGES) if runtimes is None else 1 + len(runtimes)
    report(Progress(str(Stage.BENCH), 0, stages, STAGES[0]))
    analysis = _analyse(job)
    notes: tuple[str, ...] = ()
    if runtimes is not None:
        runtimes, notes = runtimes_for_ranks(runtimes, conv_ranks(analysis))
    elif channels_last:
        runtimes_for_ranks((Runtime.EAGER_CHANNELS_LAST,), conv_ranks(analysis))
    if runtimes is None:
        report(Progress(str(Stage.BENCH), 1, stages, STAGES[1]))
    original, swapped, result = build_pair(_for_timing(job))
    threads = _threads(job.threads)
    x = _input(analysis.input_shape, job.device if runtimes is None else "cpu")
    timings: dict[str, RuntimeTiming] = {}
    if runtimes is None:
        before, after = _time_here(
            original,
            swapped,
            x,
            threads=threads,
            min_run_time=min_run_time,
            channels_last=channels_last,
            report=report,
            stages=STAGES[2:],
        )
    else:
        for index, runtime in enumerate(runtimes, start=1):
            report(Progress(str(Stage.BENCH), index, stages, f"timing on {runtime}"))
            timings[runtime] = time_both(
                runtime,
                ("the original", original.eval(), x),
                ("the swap", swapped.eval(), x),
                threads=threads,
                min_run_time=min_run_time,
            )
        first = timings[runtimes[0]]
        before, after, channels_last = first.before, first.after, first.channels_last
    import torch

    from .source import parameter_bytes

    state_dict = job.weights is not None or job.swapped_dir is not None
    return ModelBenchResult(
        source=analysis.source,
        input_shape=analysis.input_shape,
        selection=str(job.selection),
        swapped_count=len(result.swapped),
        candidates=len(analysis.candidates),
        depth_multiplier=analysis.multiplier_json(),
        device=job.device,
        threads=threads,
        channels_last=channels_last,
        original=before,
        swapped=after,
        mac_ratio=analysis.mac_ratio,
        param_ratio=analysis.param_ratio,
        estimated_bytes=estimate_pair_bytes(
            analysis, original_bytes=parameter_bytes(original), state_dict=state_dict
        ),
        budget_bytes=resolve_budget(job.budget_bytes, job.device),
        torch_version=torch.__version__,
        runtimes=timings,
        notes=notes,
    )


def benchmark_layer_runtimes(
    spec: LayerSpec,
    runtimes: Sequence[str],
    *,
    threads: int | None = None,
    budget_bytes: int | None = None,
    min_run_time: float = MIN_RUN_TIME_S,
    progress: OnProgress | None = None,
) -> BenchResult:
    """One layer's standard conv and separable block timed on each of ``runtimes`` (CPU), each
    runtime in a process of its own with the same threads; the first runtime's timings are
    the result's ``standard`` and ``separable``, every one's are in ``runtimes``."""
    report = progress or ignore
    check_runtimes(runtimes, "cpu")
    runtimes, notes = runtimes_for_ranks(runtimes, {spec.dims})
    budget = resolve_budget(budget_bytes, "cpu")
    estimate = check_budget(spec, budget)
    mac_ratio = compare(spec, method="analytic").mac_ratio
    assert mac_ratio is not None  # check_budget refused layers without output

    import torch

    from ..core.layers import separable_block, standard_conv

    threads = _threads(threads)
    torch.manual_seed(0)
    standard, separable = standard_conv(spec).eval(), separable_block(spec).eval()
    x = _input(spec.input_shape)
    with torch.inference_mode():
        outputs = [standard(x), separable.depthwise(x)]
        outputs.append(separable.pointwise(outputs[1]))
    tensors = [*standard.parameters(), *separable.parameters(), x, *outputs]
    allocated = sum(tensor.nbytes for tensor in tensors)
    del outputs
    timings: dict[str, RuntimeTiming] = {}
    for index, runtime in enumerate(runtimes):
        report(Progress(str(Stage.BENCH), index, len(runtimes), f"timing on {runtime}"))
        timings[runtime] = time_both(
            runtime,
            ("the conv", standard, x),
            ("the block", separable, x),
            threads=threads,
            min_run_time=min_run_time,
        )
    first = timings[runtimes[0]]
    return BenchResult(
        spec,
        "cpu",
        threads,
        first.before,
        first.after,
        mac_ratio,
        estimate,
        allocated,
        budget,
        torch.__version__,
        first.channels_last,
        timings,
        notes,
    )


def benchmark_layers(
    job: ModelJob,
    runtimes: Sequence[str] = (Runtime.EAGER,),
    *,
    min_run_time: float = MIN_RUN_TIME_S,
    progress: OnProgress | None = None,
) -> LayerBench:
    """Time every candidate conv of ``job``'s model and its block alone at the input the
    analysis recorded, and the whole original, on each runtime (a process each, the same
    threads).

    ``progress`` ("time") counts timed layers over every runtime. The job's selection marks
    the rows it swaps; every candidate is timed.
    """
    from ..core.layers import DepthwiseSeparableConv

    check_device(job.device)
    check_runtimes(runtimes, job.device)
    analysis = _analyse(job)
    runtimes, notes = runtimes_for_ranks(runtimes, conv_ranks(analysis))
    candidates = [layer for layer in analysis.candidates if layer.input_shape is not None]
    if not candidates:
        raise BenchError(f"{analysis.source} has no swap candidate its forward calls")
    # The original alone is timed: its swap is not built (its blocks are made per layer).
    original, _, _ = build_pair(_for_timing(job).with_plan(Selection("none")))
    original = original.eval()
    threads = _threads(job.threads)
    modules = dict(original.named_modules())
    to_time: list[ToTime] = []
    for layer in candidates:
        conv = modules[layer.name]
        block = DepthwiseSeparableConv.from_conv(conv, layer.depth_multiplier).eval()
        x = _input(layer.input_shape or ())
        to_time += [(layer.name, conv, x), (layer.name, block, x)]
    to_time.append(("the whole model", original, _input(analysis.input_shape)))
    steps = len(to_time)
    answers: dict[str, tuple[tuple[Timing, ...], str]] = {}
    for index, runtime in enumerate(runtimes):
        answers[runtime] = time_on_runtime(
            runtime,
            to_time,
            threads=threads,
            min_run_time=min_run_time,
            progress=stage_progress(progress, index * steps, len(runtimes) * steps, f"{runtime}: "),
        )
    rows = tuple(
        LayerRow(
            name=layer.name,
            input_shape=tuple(layer.input_shape or ()),
            calls=layer.calls,
            depth_multiplier=layer.depth_multiplier,
            mac_ratio=(
                layer.standard.macs / layer.separable.macs
                if layer.separable is not None and layer.separable.macs
                else None
            ),
            swap=layer.swap,
            timings={
                runtime: LayerTiming(*answers[runtime][0][2 * position : 2 * position + 2])
                for runtime in runtimes
            },
        )
        for position, layer in enumerate(candidates)
    )
    import torch

    return LayerBench(
        source=analysis.source,
        input_shape=analysis.input_shape,
        selection=str(job.selection),
        threads=threads,
        rows=rows,
        model={runtime: answers[runtime][0][-1] for runtime in runtimes},
        versions={runtime: answers[runtime][1] for runtime in runtimes},
        torch_version=torch.__version__,
        notes=notes,
    )
