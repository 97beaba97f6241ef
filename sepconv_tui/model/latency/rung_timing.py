"""The seconds each rung of a sensitivity table saves: every candidate's conv and its block at
each rung's m timed alone on one runtime, at fp32, in one child process (``timing``), with the
whole original beside them (what a speed-up is predicted against). The weights do not change
the time, so the blocks are built from the convs' shapes alone. torch is imported inside.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...core.latency import MIN_RUN_TIME_S
from ...progress import OnProgress
from ..results.sensitivity_result import RungTiming, Sensitivity
from ..vocabulary.analysis import ModelAnalysis
from ..vocabulary.machine import cpu_description
from ..vocabulary.runtimes import check_runtimes, runtimes_for_ranks
from .timing import ToTime, time_on_runtime

if TYPE_CHECKING:
    from torch import nn


def this_cpu() -> str:
    """The CPU model a timing runs on (a table timed on another is timed again)."""
    return cpu_description()[0]


def timing_threads(threads: int | None) -> int:
    """``threads``, or torch's default (what the timing child is given)."""
    import torch

    return threads if threads is not None else torch.get_num_threads()


def check_timing_runtime(runtime: str, analysis: ModelAnalysis) -> None:
    """BenchError unless ``runtime`` is in the table, installed, and has a layout for the
    model's convs (channels-last has none for 1-D)."""
    check_runtimes((runtime,), "cpu", None)
    ranks = {
        len(layer.kernel_size)
        for layer in analysis.layers
        if layer.kind == "conv" and layer.kernel_size is not None
    }
    runtimes_for_ranks((runtime,), ranks)


def time_rungs(
    original: nn.Module,
    analysis: ModelAnalysis,
    table: Sensitivity,
    *,
    runtime: str,
    threads: int | None = None,
    min_run_time: float = MIN_RUN_TIME_S,
    progress: OnProgress | None = None,
) -> RungTiming:
    """Every layer of ``table``'s conv and its block at each of its rungs' m, and the whole
    ``original``, timed on ``runtime`` (one child, fp32, ``threads``); ``progress`` gets "time",
    a step per module. Layers the forward never calls (no input shape) are left untimed."""
    import torch

    from ...core.layers import DepthwiseSeparableConv

    check_timing_runtime(runtime, analysis)
    count = timing_threads(threads)
    shapes = {layer.name: layer.input_shape for layer in analysis.candidates}
    modules = dict(original.named_modules())
    generator = torch.Generator().manual_seed(0)
    to_time: list[ToTime] = []
    where: list[tuple[str, int | None]] = []  # (layer, m) per module; None: the conv
    for name in table.layers:
        shape = shapes.get(name)
        if shape is None or name not in modules:
            continue
        x = torch.randn(tuple(shape), generator=generator)
        conv = modules[name].eval()
        to_time.append((f"{name} conv", conv, x))
        where.append((name, None))
        for rung in table.rungs_of(name):
            block = DepthwiseSeparableConv.from_conv(conv, rung.depth_multiplier).eval()
            to_time.append((f"{name} m={rung.depth_multiplier}", block, x))
            where.append((name, rung.depth_multiplier))
    whole = torch.randn(tuple(analysis.input_shape), generator=generator)
    to_time.append(("the whole model", original.eval(), whole))
    reply = time_on_runtime(
        runtime, to_time, threads=count, min_run_time=min_run_time, progress=progress
    )
    conv_s: dict[str, tuple[float, float]] = {}
    block_s: dict[str, dict[int, tuple[float, float]]] = {}
    for (name, m), timing in zip(where, reply.timings, strict=False):
        pair = (timing.median_s, timing.iqr_s)
        if m is None:
            conv_s[name] = pair
        else:
            block_s.setdefault(name, {})[m] = pair
    model = reply.timings[-1]
    return RungTiming(
        runtime=str(runtime),
        threads=count,
        cpu=this_cpu(),
        model_s=model.median_s,
        model_iqr_s=model.iqr_s,
        conv_s=conv_s,
        block_s=block_s,
    )


def timed(
    table: Sensitivity,
    original: nn.Module,
    analysis: ModelAnalysis,
    *,
    runtime: str,
    threads: int | None = None,
    min_run_time: float = MIN_RUN_TIME_S,
    progress: OnProgress | None = None,
) -> Sensitivity:
    """``table`` with its seconds on ``runtime``: kept when they were measured there (same
    threads, same CPU), else timed now."""
    timing = table.timing
    if timing is not None and timing.matches(runtime, timing_threads(threads), this_cpu()):
        return table
    measured = time_rungs(
        original,
        analysis,
        table,
        runtime=runtime,
        threads=threads,
        min_run_time=min_run_time,
        progress=progress,
    )
    return table.with_timing(measured)
