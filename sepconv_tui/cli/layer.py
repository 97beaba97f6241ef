"""The one-layer subcommands: ``compare``, ``network``, ``sweep`` and ``bench``."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..core.latency import parse_threads
from ..core.networks import NETWORKS, parse_resolution, parse_width_multiplier
from ..core.spec import (
    DEFAULT_DEPTH,
    DEFAULT_LENGTH,
    FIELD_BOUNDS,
    LayerSpec,
    SpecError,
    parse_int_in_range,
)
from ..core.sweep import SWEEP_POINTS
from .common import (
    EXIT_MATCH,
    EXIT_MISMATCH,
    add_format_arguments,
    argument_type,
    bounded_int,
    emit,
    emit_report,
    fail,
)
from .model import add_bench_model_arguments, run_bench_model
from .runtime import add_runtime_arguments, run_layer_runtimes, selected_runtimes

#: CLI flag → LayerSpec field, in the order they appear in --help.
LAYER_FLAGS: dict[str, str] = {
    "--in-channels": "in_channels",
    "--out-channels": "out_channels",
    "--kernel-size": "kernel_size",
    "--stride": "stride",
    "--padding": "padding",
    "--dilation": "dilation",
    "--depth-multiplier": "depth_multiplier",
    "--batch": "batch",
    "--height": "height",
    "--width": "width",
    "--sep-kernel-size": "sep_kernel_size",
    "--sep-stride": "sep_stride",
    "--sep-padding": "sep_padding",
    "--sep-dilation": "sep_dilation",
    "--dims": "dims",
    "--length": "length",
    "--depth": "depth",
}
#: Flags whose default is "not given" (None), so that a rank without that axis can refuse them.
_RANK_SIZE_HELP = {
    "height": "input height, 2-D and 3-D layers",
    "width": "input width, 2-D and 3-D layers",
    "length": f"input length of a 1-D layer (N×C×L; default {DEFAULT_LENGTH})",
    "depth": f"input depth of a 3-D layer (N×C×D×H×W; default {DEFAULT_DEPTH})",
}


def add_layer_arguments(parser: argparse.ArgumentParser) -> None:
    """Add one flag per LayerSpec field; defaults are the reference experiment.

    Kernel, stride, padding and dilation are one number here (cubic, square or one length
    alike); the Python API takes them per axis.
    """
    defaults = LayerSpec()
    group = parser.add_argument_group("layer (defaults: the reference experiment)")
    for flag, field in LAYER_FLAGS.items():
        default = getattr(defaults, field)
        low, high = FIELD_BOUNDS[field]
        if field.startswith("sep_"):
            standard_flag = "--" + field.removeprefix("sep_").replace("_", "-")
            help_text = f"depthwise conv's own value ({low}–{high}; default: {standard_flag})"
        elif field in _RANK_SIZE_HELP:
            help_text = f"{low}–{high}: {_RANK_SIZE_HELP[field]}"
            if field in ("height", "width"):
                help_text += f" (default: {default})"
            default = None  # not given: the rank decides
        elif field == "dims":
            help_text = "spatial rank: 1 (Conv1d), 2 (Conv2d) or 3 (Conv3d) (default: 2)"
        else:
            help_text = f"{low}–{high} (default: {default})"
        group.add_argument(
            flag, dest=field, type=bounded_int(field), default=default, help=help_text
        )
    group.add_argument(
        "--no-bias", dest="bias", action="store_false", help="convs without bias (default: bias)"
    )


def spec_from_arguments(arguments: argparse.Namespace) -> LayerSpec:
    """The LayerSpec the parsed layer flags describe; SpecError naming the flag at fault."""
    values = {field: getattr(arguments, field) for field in LAYER_FLAGS.values()}
    given = {field: value for field, value in values.items() if value is not None}
    if given.get("dims") == 1:
        # LayerSpec sees a height of 32 as its default; the flag given at all is a mistake.
        for side in ("height", "width"):
            if side in given:
                raise SpecError(
                    f"a 1-D layer has no {side}; its input is N×C×L: give --length",
                    field=f"--{side}",
                )
    try:
        return LayerSpec(bias=arguments.bias, **given)
    except SpecError as error:
        flag = "--" + error.field.replace("_", "-") if error.field else "layer"
        raise SpecError(error.message, field=flag) from None


def add_compare_parser(subcommands: Any) -> None:
    """``compare``: one layer's comparison."""
    compare_parser = subcommands.add_parser(
        "compare",
        help="print the comparison (exit 0: shapes match, 1: they differ, 2: bad arguments)",
        description="Print the comparison. Exit 0 when the shapes match, 1 when they differ "
        "or a side cannot produce output, 2 on bad arguments.",
    )
    add_layer_arguments(compare_parser)
    add_format_arguments(compare_parser)
    compare_parser.add_argument(
        "--closed-form-only",
        action="store_true",
        help="skip the PyTorch cross-check (no torch import)",
    )


def add_network_parser(subcommands: Any) -> None:
    """``network``: a published network both ways."""
    network_parser = subcommands.add_parser(
        "network",
        help="a whole published network, standard convs vs separable blocks",
        description="Per-layer params and MACs of a published network built with separable "
        "blocks (as published) and with standard convs, by closed form and PyTorch.",
    )
    network_parser.add_argument("name", choices=list(NETWORKS), help="the network")
    network_parser.add_argument(
        "--width-multiplier",
        type=argument_type(parse_width_multiplier),
        default=1.0,
        help="α: thins every layer (0 < α ≤ 4; default 1; mobilenet_v1 only)",
    )
    network_parser.add_argument(
        "--resolution",
        type=argument_type(parse_resolution),
        default=None,
        help="input height and width, or a 1-D network's length in frames (32–4096; "
        "default: the paper's, 224 or 299; 1000 frames for quartznet)",
    )
    add_format_arguments(network_parser)


def add_sweep_parser(subcommands: Any) -> None:
    """``sweep``: the ratios as one field moves."""
    sweep_parser = subcommands.add_parser(
        "sweep",
        help="the exact ratios as one field moves, beside the textbook curve",
        description="Exact param and MAC ratios (standard ÷ separable) at each value of one "
        "field, beside the textbook 1/(m·(1/C_out + 1/kᵈ)) (k² in 2-D). Other fields from "
        "the layer flags, --dims included.",
    )
    sweep_parser.add_argument("--over", choices=list(SWEEP_POINTS), required=True)
    add_layer_arguments(sweep_parser)
    add_format_arguments(sweep_parser)


def add_bench_parser(subcommands: Any) -> None:
    """``bench``: time both sides of a layer, or a whole model with --model."""
    bench_parser = subcommands.add_parser(
        "bench",
        help="time real forward passes of both sides (torch.utils.benchmark)",
        description="Time both sides' forward passes (fp32, inference) with "
        "torch.utils.benchmark's blocked_autorange: median and IQR, the measured speed ratio "
        "beside the MAC ratio. Refuses a layer whose weights, input and outputs would exceed "
        "the memory budget. With --model, times a whole model and its swapped copy instead "
        "(the layer flags then only give --depth-multiplier). Exit 2 on bad arguments, an "
        "absent device or a refusal.",
    )
    add_layer_arguments(bench_parser)
    bench_parser.add_argument(
        "--device", choices=["cpu", "cuda"], default="cpu", help="where to run (default: cpu)"
    )
    bench_parser.add_argument(
        "--threads",
        type=argument_type(parse_threads),
        default=None,
        help="intra-op threads, 1–1024 (default: torch's, usually the core count)",
    )
    bench_parser.add_argument(
        "--memory-budget-mb",
        type=argument_type(lambda text: parse_int_in_range(text, 1, 16_777_216)),
        default=None,
        help="refuse layers needing more (default: a quarter of the free RAM or GPU memory)",
    )
    bench_parser.add_argument(
        "--channels-last",
        action="store_true",
        help="NHWC memory format for the input and weights (default: NCHW)",
    )
    add_bench_model_arguments(bench_parser)
    add_runtime_arguments(bench_parser)
    add_format_arguments(bench_parser)


def run_network(arguments: argparse.Namespace) -> int:
    """Print a network's per-layer table and totals; return the exit code."""
    from ..core.measure import verify_network
    from ..core.networks import network_report as build_report
    from ..report import network as network_report

    try:
        closed_form = build_report(arguments.name, arguments.width_multiplier, arguments.resolution)
    except ValueError as error:
        return fail("network", str(error))
    report = verify_network(closed_form)
    emit_report(arguments.format, network_report, report)
    return EXIT_MATCH


def run_sweep(arguments: argparse.Namespace) -> int:
    """Print a sweep in the chosen format; return the exit code."""
    from ..core.sweep import sweep
    from ..report import sweep as sweep_report

    points = sweep(arguments.over, spec_from_arguments(arguments))
    emit(
        arguments.format,
        json=lambda: sweep_report.sweep_to_json(points),
        markdown=lambda: sweep_report.sweep_to_markdown(points),
        csv=lambda: sweep_report.sweep_to_csv(points),
        rich=lambda: sweep_report.sweep_table(points),
    )
    return EXIT_MATCH


def run_compare(arguments: argparse.Namespace) -> int:
    """Print one comparison in the chosen format; return the exit code."""
    from ..core.compare import compare
    from ..report import layer as report

    comparison = compare(
        spec_from_arguments(arguments),
        method="analytic" if arguments.closed_form_only else "both",
    )
    emit_report(arguments.format, report, comparison)
    if comparison.shapes_match:
        return EXIT_MATCH
    if arguments.format is not None:
        print(report.verdict_message(comparison), file=sys.stderr)
    return EXIT_MISMATCH


def run_bench(arguments: argparse.Namespace) -> int:
    """Time both sides and print the latency table; return the exit code."""
    from ..core.latency import MIN_RUN_TIME_S, benchmark
    from ..errors import UserError
    from ..report import latency as latency_report

    if arguments.model is not None:
        return run_bench_model(arguments)
    for flag in ("swap", "input_shape", "weights", "swapped", "data"):
        if getattr(arguments, flag) is not None:
            option = "--" + flag.replace("_", "-")
            return fail("bench", f"{option} needs --model SOURCE")
    if arguments.runtime is not None or arguments.per_layer:
        return run_layer_runtimes(arguments, spec_from_arguments(arguments))
    budget = arguments.memory_budget_mb
    try:
        selected_runtimes(arguments)  # refuses a precision other than fp32 here
        result = benchmark(
            spec_from_arguments(arguments),
            arguments.device,
            arguments.threads,
            budget * 1024 * 1024 if budget is not None else None,
            min_run_time=arguments.min_run_time or MIN_RUN_TIME_S,
            channels_last=arguments.channels_last,
        )
    except UserError as error:
        return fail("bench", error)
    emit_report(arguments.format, latency_report, result)
    return EXIT_MATCH
