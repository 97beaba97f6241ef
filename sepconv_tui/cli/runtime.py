"""``bench --runtime`` and ``bench --model … --per-layer``: timings where the model will run.

Each runtime is timed in a process of its own with the same threads (``model.runtime``).
"""

from __future__ import annotations

import argparse
from typing import Any

from ..core.latency import RUNTIME_CHOICES, RUNTIMES, parse_threads, runtimes_for
from ..core.spec import LayerSpec
from ..errors import UserError
from .common import EXIT_MATCH, argument_type, emit_report, fail


def add_runtime_arguments(bench_parser: argparse.ArgumentParser) -> None:
    """--runtime and --per-layer."""
    group = bench_parser.add_argument_group("where it runs")
    group.add_argument(
        "--runtime",
        choices=list(RUNTIME_CHOICES),
        help="time on PyTorch eager (NCHW, or channels-last with --channels-last), ONNX Runtime "
        "(the [deploy] extra), or all (eager NCHW, eager channels-last and ONNX Runtime); each "
        "runtime in its own process with the same threads. Default: eager, in this process",
    )
    group.add_argument(
        "--per-layer",
        action="store_true",
        help="with --model: every candidate conv and its block alone at its input in the "
        "model, on the runtime (default eager): measured speed-up beside the MAC ratio, and "
        "the model's time outside its convs",
    )


def selected_runtimes(arguments: argparse.Namespace) -> tuple[str, ...] | None:
    """The runtimes --runtime names (None without it)."""
    if arguments.runtime is None:
        return None
    return runtimes_for(arguments.runtime, arguments.channels_last)


def _budget(arguments: argparse.Namespace) -> int | None:
    """--memory-budget-mb in bytes."""
    budget = arguments.memory_budget_mb
    return budget * 1024 * 1024 if budget is not None else None


def run_layer_runtimes(arguments: argparse.Namespace, spec: LayerSpec) -> int:
    """``bench --runtime R`` for one layer; return the exit code."""
    from ..core.latency import MIN_RUN_TIME_S

    if arguments.per_layer:
        return fail("bench", "--per-layer needs --model SOURCE")
    try:
        runtimes = selected_runtimes(arguments)
        assert runtimes is not None
        if arguments.device != "cpu":
            return fail("bench", "--runtime times on the CPU: use --device cpu")
        from ..model.bench import benchmark_layer_runtimes

        result = benchmark_layer_runtimes(
            spec,
            runtimes,
            threads=arguments.threads,
            budget_bytes=_budget(arguments),
            min_run_time=arguments.min_run_time or MIN_RUN_TIME_S,
        )
    except UserError as error:
        return fail("bench", error)
    from ..report import runtimes as runtimes_report

    emit_report(arguments.format, runtimes_report, result)
    return EXIT_MATCH


def run_per_layer(arguments: argparse.Namespace, selection: Any, source: Any, shape: Any) -> int:
    """``bench --model SOURCE --per-layer [--runtime R]``; return the exit code."""
    from ..core.latency import MIN_RUN_TIME_S

    try:
        runtimes = selected_runtimes(arguments) or (
            ("eager_channels_last",) if arguments.channels_last else ("eager",)
        )
        from ..model.bench import benchmark_layers

        result = benchmark_layers(
            str(source),
            runtimes,
            select=selection,
            input_shape=shape,
            depth_multiplier=arguments.depth_multiplier,
            threads=arguments.threads,
            weights=arguments.weights,
            device=arguments.device,
            budget_bytes=_budget(arguments),
            min_run_time=arguments.min_run_time or MIN_RUN_TIME_S,
        )
    except UserError as error:
        return fail("bench", error)
    from ..report import layer_bench

    emit_report(arguments.format, layer_bench, result)
    return EXIT_MATCH


def add_speedup_arguments(parser: argparse.ArgumentParser) -> None:
    """--runtime and --threads: where ``--swap speedup:X`` times the layers."""
    group = parser.add_argument_group("--swap speedup:X (timed where it runs)")
    group.add_argument(
        "--runtime",
        choices=list(RUNTIMES),
        default="eager",
        help="where speedup:X times each layer and the model: eager (NCHW, default), "
        "eager_channels_last or onnxruntime (the [deploy] extra)",
    )
    group.add_argument(
        "--threads",
        type=argument_type(parse_threads),
        default=None,
        help="intra-op threads speedup:X times with, 1–1024 (default: torch's)",
    )
