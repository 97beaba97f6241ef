"""``bench --runtime`` and ``bench --model … --per-layer``: timings where the model will run.

Each runtime is timed in a process of its own with the same threads (``model.latency.timing``).
The choices, the help and the labels read the runtime table (``model.vocabulary.runtimes``).
"""

from __future__ import annotations

import argparse
from typing import Any

from ..core.latency import parse_threads
from ..core.spec import LayerSpec
from ..errors import UserError
from ..model.vocabulary.runtimes import (
    ALL,
    RUNTIME_TABLE,
    Precision,
    entries_for_choice,
    parse_precision,
    precision_choices,
    precision_runtimes,
    runtime_choices,
    runtime_names,
    runtimes_for,
)
from .common import EXIT_MATCH, argument_type, emit_report, fail


def _extra(extra: str | None) -> str:
    """ "the [deploy] extra", or "" for the base install."""
    return f"the [{extra}] extra" if extra else ""


def _and(words: list[str]) -> str:
    """ "a, b and c"."""
    return ", ".join(words[:-1]) + " and " + words[-1] if len(words) > 1 else "".join(words)


def _choice_help(choice: str) -> str:
    """What one --runtime word times, from its entries: "PyTorch eager (NCHW, or
    channels-last with --channels-last)", "ONNX Runtime (the [deploy] extra)"."""
    entries = entries_for_choice(choice)
    layouts = [entry.layout for entry in entries]
    notes = []
    if len(layouts) > 1:
        notes.append(f"{', '.join(layouts[:-1])}, or {layouts[-1]} with --channels-last")
    notes += [_extra(extra) for extra in dict.fromkeys(entry.extra for entry in entries) if extra]
    return entries[0].family + (f" ({'; '.join(notes)})" if notes else "")


def runtime_help() -> str:
    """--runtime's help, from the runtime table."""
    choices = [_choice_help(choice) for choice in runtime_choices() if choice != ALL]
    every = _and([entry.label for entry in RUNTIME_TABLE.values()])
    return (
        f"time on {', '.join(choices)}, or {ALL} ({every}); each runtime in its own process "
        "with the same threads. Default: eager, in this process"
    )


def precision_help() -> str:
    """--precision's help, from the runtime table: which runtimes run each precision."""
    runs = [
        f"{choice} ({_and(list(precision_runtimes(Precision(choice))))})"
        for choice in precision_choices()
        if choice != ALL
    ]
    return (
        f"the arithmetic to time at, with --runtime: {', '.join(runs)}, or {ALL} (every cell "
        "the runtimes run; a cell this machine cannot run is listed absent, with why). int8 is "
        "static QDQ (uint8 activations, int8 weights, per channel), calibrated on random "
        "inputs (on the fit split of --data, with it); a cell is labelled with the precision "
        "the runtime reports it ran. Default: fp32"
    )


def add_runtime_arguments(bench_parser: argparse.ArgumentParser) -> None:
    """--runtime, --precision, --per-tensor and --per-layer."""
    group = bench_parser.add_argument_group("where it runs")
    group.add_argument("--runtime", choices=list(runtime_choices()), help=runtime_help())
    group.add_argument(
        "--precision", choices=list(precision_choices()), default="fp32", help=precision_help()
    )
    group.add_argument(
        "--per-tensor",
        action="store_true",
        help="int8 with one scale per weight tensor instead of one per output channel (to "
        "compare: per-tensor int8 can collapse depthwise convs)",
    )
    group.add_argument(
        "--per-layer",
        action="store_true",
        help="with --model: every candidate conv and its block alone at its input in the "
        "model, on the runtime (default eager): measured speed-up beside the MAC ratio, and "
        "the model's time outside its convs",
    )


def selected_runtimes(arguments: argparse.Namespace) -> tuple[str, ...] | None:
    """The runtimes --runtime names (None without it); UserError when --precision other than
    fp32, or --per-tensor, comes without it (eager in this process runs fp32 only)."""
    if arguments.runtime is None:
        if arguments.precision != Precision.FP32 or arguments.per_tensor:
            flag = "--per-tensor" if arguments.per_tensor else f"--precision {arguments.precision}"
            raise UserError(
                f"{flag} needs --runtime (in this process, eager runs fp32 only)",
                field="precision",
            )
        return None
    return runtimes_for(arguments.runtime, arguments.channels_last)


def selected_precision(arguments: argparse.Namespace) -> Precision | None:
    """The precision --precision names (None: all); UserError for --per-tensor without int8."""
    precision = parse_precision(arguments.precision)
    if arguments.per_tensor and precision not in (Precision.INT8, None):
        raise UserError(
            f"--per-tensor quantizes int8: use --precision int8 or all, not {precision}",
            field="per_tensor",
        )
    return precision


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
        from ..model.latency.bench import benchmark_layer_runtimes

        result = benchmark_layer_runtimes(
            spec,
            runtimes,
            precision=selected_precision(arguments),
            per_channel=not arguments.per_tensor,
            threads=arguments.threads,
            budget_bytes=_budget(arguments),
            min_run_time=arguments.min_run_time or MIN_RUN_TIME_S,
        )
    except UserError as error:
        return fail("bench", error)
    from ..report import runtimes as runtimes_report

    emit_report(arguments.format, runtimes_report, result)
    return EXIT_MATCH


def bench_job(arguments: argparse.Namespace, selection: Any, source: Any, shape: Any) -> Any:
    """``bench --model``'s ModelJob: SOURCE, --swap, --depth-multiplier, --input-shape,
    --weights, --swapped, --device, --threads and --memory-budget-mb."""
    from ..model.swapping.job import ModelJob

    return ModelJob(
        source,
        weights=arguments.weights,
        swapped_dir=arguments.swapped,
        input_shape=shape,
        selection=selection,
        depth_multiplier=arguments.depth_multiplier,
        device=arguments.device,
        threads=arguments.threads,
        budget_bytes=_budget(arguments),
    )


def run_per_layer(arguments: argparse.Namespace, selection: Any, source: Any, shape: Any) -> int:
    """``bench --model SOURCE --per-layer [--runtime R]``; return the exit code."""
    from ..core.latency import MIN_RUN_TIME_S

    try:
        runtimes = (
            runtimes_for(arguments.runtime, arguments.channels_last)
            if arguments.runtime is not None
            else runtimes_for(runtime_names()[0], arguments.channels_last)
        )
        from ..model.latency.bench import benchmark_layers

        result = benchmark_layers(
            bench_job(arguments, selection, source, shape),
            runtimes,
            precision=selected_precision(arguments),
            per_channel=not arguments.per_tensor,
            bounds=True,
            min_run_time=arguments.min_run_time or MIN_RUN_TIME_S,
        )
    except UserError as error:
        return fail("bench", error)
    from ..report import layer_bench

    emit_report(arguments.format, layer_bench, result)
    return EXIT_MATCH


def speedup_runtime_help() -> str:
    """``--runtime``'s help where speedup:X times, from the runtime table."""
    names = []
    for index, entry in enumerate(RUNTIME_TABLE.values()):
        notes = [note for note in ("default" if index == 0 else "", _extra(entry.extra)) if note]
        names.append(f"{entry.name} ({', '.join([entry.label, *notes])})")
    return (
        "where speedup:X times each layer at each m and the model (and model --sensitivity "
        f"its rungs): {', '.join(names)}"
    )


def add_speedup_arguments(parser: argparse.ArgumentParser) -> None:
    """--runtime, --threads and --baseline: where ``--swap speedup:X`` times the layers, and
    what its X is measured against."""
    group = parser.add_argument_group("--swap speedup:X (timed where it runs)")
    names = runtime_names()
    group.add_argument(
        "--runtime", choices=list(names), default=names[0], help=speedup_runtime_help()
    )
    group.add_argument(
        "--threads",
        type=argument_type(parse_threads),
        default=None,
        help="intra-op threads speedup:X times with, 1–1024 (default: torch's)",
    )
    group.add_argument(
        "--baseline",
        choices=["same", "best"],
        default="same",
        help="what speedup:X's X is measured against: same (default), the original on "
        "--runtime; best, the original's fastest runtime × precision cell against the swapped "
        "model's fastest, over every cell this machine runs",
    )
