"""Command line: no subcommand opens the app; ``compare`` prints the comparison headlessly.

Neither torch nor Textual is imported at module level, so ``--help`` and ``compare`` start fast.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from .. import __version__
from ..core.latency import parse_threads
from ..core.networks import NETWORKS, parse_resolution, parse_width_multiplier
from ..core.spec import FIELD_BOUNDS, LayerSpec, SpecError, parse_int_in_range, range_message
from ..core.sweep import SWEEP_POINTS

EXIT_MATCH = 0
EXIT_MISMATCH = 1
EXIT_BAD_ARGUMENTS = 2

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
}


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line on stderr (no usage block) and exit 2."""

    def error(self, message: str) -> NoReturn:
        """Print ``prog: error: message`` and exit with the bad-arguments code."""
        self.exit(EXIT_BAD_ARGUMENTS, f"{self.prog}: error: {message}\n")


def bounded_int(field: str) -> Callable[[str], int]:
    """An argparse ``type`` accepting an integer within ``field``'s bounds."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"must be {range_message(field)}, got {text!r}"
            ) from None
        low, high = FIELD_BOUNDS[field]
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be {range_message(field)}, got {value}")
        return value

    parse.__name__ = field  # argparse names the type in some messages
    return parse


def add_layer_arguments(parser: argparse.ArgumentParser) -> None:
    """Add one flag per LayerSpec field; defaults are the reference experiment."""
    defaults = LayerSpec()
    group = parser.add_argument_group("layer (defaults: the reference experiment)")
    for flag, field in LAYER_FLAGS.items():
        default = getattr(defaults, field)
        low, high = FIELD_BOUNDS[field]
        if field.startswith("sep_"):
            standard_flag = "--" + field.removeprefix("sep_").replace("_", "-")
            help_text = f"depthwise conv's own value ({low}–{high}; default: {standard_flag})"
        else:
            help_text = f"{low}–{high} (default: {default})"
        group.add_argument(
            flag, dest=field, type=bounded_int(field), default=default, help=help_text
        )
    group.add_argument(
        "--no-bias", dest="bias", action="store_false", help="convs without bias (default: bias)"
    )


def spec_from_arguments(arguments: argparse.Namespace) -> LayerSpec:
    """The LayerSpec the parsed layer flags describe."""
    values = {field: getattr(arguments, field) for field in LAYER_FLAGS.values()}
    return LayerSpec(bias=arguments.bias, **values)


def add_format_arguments(parser: argparse.ArgumentParser) -> None:
    """--json / --markdown / --csv, mutually exclusive (default: Rich tables)."""
    formats = parser.add_mutually_exclusive_group()
    for name in ("json", "markdown", "csv"):
        formats.add_argument(
            f"--{name}",
            dest="format",
            action="store_const",
            const=name,
            help=f"print {name.upper() if name != 'markdown' else 'Markdown'} instead of tables",
        )


def build_parser() -> argparse.ArgumentParser:
    """The whole command line: the app's flags and the subcommands."""
    parser = OneLineParser(
        prog="sepconv-tui",
        description=(
            "Compare a standard Conv2d with a depthwise-separable block (depthwise conv, "
            "then 1×1 pointwise): parameters, MACs, output shapes and a shape-match verdict, "
            "by closed form and by PyTorch. Without a subcommand, open the terminal app "
            "prefilled with the layer flags."
        ),
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    add_layer_arguments(parser)
    subcommands = parser.add_subparsers(
        dest="command", metavar="COMMAND", parser_class=OneLineParser
    )
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
        help="input height and width (32–4096; default: the paper's, 224 or 299)",
    )
    add_format_arguments(network_parser)
    sweep_parser = subcommands.add_parser(
        "sweep",
        help="the exact ratios as one field moves, beside the textbook curve",
        description="Exact param and MAC ratios (standard ÷ separable) at each value of one "
        "field, beside the textbook 1/(m·(1/C_out + 1/k²)). Other fields from the layer flags.",
    )
    sweep_parser.add_argument("--over", choices=list(SWEEP_POINTS), required=True)
    add_layer_arguments(sweep_parser)
    add_format_arguments(sweep_parser)
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
    add_format_arguments(bench_parser)
    add_model_parser(subcommands)
    add_swap_parser(subcommands)
    return parser


#: --swap's help, shared by ``model``, ``swap`` and ``bench --model``.
SWAP_HELP = (
    "saving (default: every candidate whose block has fewer params), all, none, "
    "top:N (the N saving the most MACs), max-error:X (those whose SVD error is ≤ X; needs "
    "weights), or layer names and globs: 'layer1.*,conv1'"
)
SOURCE_HELP = "torchvision:NAME, timm:NAME, package.module:callable or path/to/file.py:callable"
INPUT_SHAPE_HELP = "input shape (default: the one the model was published for, else 1,3,224,224)"


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """SOURCE, --swap and --depth-multiplier, as ``model`` and ``swap`` take them."""
    parser.add_argument("source", metavar="SOURCE", help=SOURCE_HELP)
    parser.add_argument("--swap", default="saving", help=SWAP_HELP)
    parser.add_argument(
        "--depth-multiplier",
        type=bounded_int("depth_multiplier"),
        default=1,
        help=f"the separable blocks' m, {range_message('depth_multiplier')} (default: 1)",
    )


def add_bench_model_arguments(bench_parser: argparse.ArgumentParser) -> None:
    """``bench --model SOURCE`` and the flags that go with it."""
    group = bench_parser.add_argument_group("whole model (--model)")
    group.add_argument(
        "--model",
        metavar="SOURCE",
        help=f"time this model and its swapped copy: {SOURCE_HELP}",
    )
    group.add_argument("--swap", help=SWAP_HELP)
    group.add_argument(
        "--input-shape",
        metavar="N,C,H,W",
        help=INPUT_SHAPE_HELP,
    )
    group.add_argument(
        "--weights",
        metavar="STATE_DICT",
        help="load this state_dict (default: random weights, which time the same)",
    )
    # Seconds each side is timed for; tests shorten it (not a user-facing knob).
    group.add_argument(
        "--min-run-time",
        type=argument_type(lambda text: _positive_seconds(text)),
        default=None,
        help=argparse.SUPPRESS,
    )


def _positive_seconds(text: str) -> float:
    """A duration in seconds, 0.001–60; ValueError otherwise."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.001 <= value <= 60:
        raise ValueError(f"must be 0.001–60 seconds, got {text!r}")
    return value


def add_swap_parser(subcommands: Any) -> None:
    """The ``swap`` subcommand: write the swapped model's state_dict and its plan."""
    swap_parser = subcommands.add_parser(
        "swap",
        help="build the swapped model from the original's weights; write swapped.pt and plan.json",
        description="Replace the selected convs of a model by depthwise-separable blocks "
        "initialised from the original weights (per input channel, the top singular triplets "
        "of the conv's kernel: exact when its rank allows, the closest block otherwise). "
        "Writes DIR/swapped.pt (the state_dict) and DIR/plan.json, and prints each swapped "
        "conv's relative weight error. Exit 2 on bad input.",
    )
    add_model_arguments(swap_parser)
    swap_parser.add_argument(
        "--weights",
        metavar="STATE_DICT",
        help="the original's state_dict (default: the model's own random initialisation)",
    )
    swap_parser.add_argument(
        "--init",
        choices=["svd", "random"],
        default="svd",
        help="svd: from the original weights (default); random: PyTorch's initialisation",
    )
    swap_parser.add_argument(
        "--input-shape",
        metavar="N,C,H,W",
        help=INPUT_SHAPE_HELP,
    )
    swap_parser.add_argument(
        "--out", metavar="DIR", required=True, help="where to write swapped.pt and plan.json"
    )
    swap_parser.add_argument(
        "--json", dest="format", action="store_const", const="json", help="print the plan JSON"
    )


def add_model_parser(subcommands: Any) -> None:
    """The ``model`` subcommand: a whole model's convs, which to swap, and the totals."""
    model_parser = subcommands.add_parser(
        "model",
        help="a whole model's convs: which to swap for separable blocks, and what it gains",
        description="Every Conv2d and Linear of a model, by closed form and PyTorch (on the "
        "meta device: no weights, no memory), the swap candidates, and the model's params and "
        "MACs before and after the selected swaps. Exit 2 on bad input.",
    )
    add_model_arguments(model_parser)
    shape_group = model_parser.add_mutually_exclusive_group()
    shape_group.add_argument(
        "--input-shape",
        metavar="N,C,H,W",
        help=INPUT_SHAPE_HELP,
    )
    shape_group.add_argument(
        "--resolution",
        type=argument_type(lambda text: parse_int_in_range(text, 1, 65536)),
        help="input height and width, 1–65536 (other axes as published)",
    )
    add_format_arguments(model_parser)


def argument_type(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    """An argparse ``type`` from a core parser whose ValueError names the accepted range."""

    def convert(text: str) -> Any:
        try:
            return parse(text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    return convert


def run_network(arguments: argparse.Namespace) -> int:
    """Print a network's per-layer table and totals; return the exit code."""
    from ..core.measure import verify_network
    from ..core.networks import network_report as build_report
    from ..report import network as network_report

    try:
        closed_form = build_report(arguments.name, arguments.width_multiplier, arguments.resolution)
    except ValueError as error:
        print(f"sepconv-tui network: error: {error}", file=sys.stderr)
        return EXIT_BAD_ARGUMENTS
    report = verify_network(closed_form)
    emit_report(arguments.format, network_report, report)
    return EXIT_MATCH


def emit(output_format: str | None, **renderers: Callable[[], Any]) -> None:
    """Print with the renderer named by --json/--markdown/--csv, or the Rich one by default."""
    if output_format is None:
        from rich.console import Console

        Console().print(renderers["rich"]())
        return
    text = str(renderers[output_format]())
    print(text, end="" if text.endswith("\n") else "\n")


def emit_report(output_format: str | None, report_module: Any, value: Any) -> None:
    """``emit`` with a report module's four renderers (to_json, to_markdown, to_csv, render)."""
    emit(
        output_format,
        json=lambda: report_module.to_json(value),
        markdown=lambda: report_module.to_markdown(value),
        csv=lambda: report_module.to_csv(value),
        rich=lambda: report_module.render(value),
    )


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
    from ..core.latency import MIN_RUN_TIME_S, BenchError, benchmark
    from ..report import latency as latency_report

    if arguments.model is not None:
        return run_bench_model(arguments)
    for flag in ("swap", "input_shape", "weights"):
        if getattr(arguments, flag) is not None:
            option = "--" + flag.replace("_", "-")
            print(f"sepconv-tui bench: error: {option} needs --model SOURCE", file=sys.stderr)
            return EXIT_BAD_ARGUMENTS
    budget = arguments.memory_budget_mb
    try:
        result = benchmark(
            spec_from_arguments(arguments),
            arguments.device,
            arguments.threads,
            budget * 1024 * 1024 if budget is not None else None,
            min_run_time=arguments.min_run_time or MIN_RUN_TIME_S,
            channels_last=arguments.channels_last,
        )
    except BenchError as error:
        print(f"sepconv-tui bench: error: {error}", file=sys.stderr)
        return EXIT_BAD_ARGUMENTS
    emit_report(arguments.format, latency_report, result)
    return EXIT_MATCH


def run_bench_model(arguments: argparse.Namespace) -> int:
    """Time a whole model and its swapped copy; return the exit code."""
    from ..core.latency import BenchError
    from ..model.analysis import SelectionError, parse_selection
    from ..model.plan import SwapError
    from ..model.source import ModelSourceError, parse_input_shape, parse_source

    budget = arguments.memory_budget_mb
    try:
        selection = parse_selection(arguments.swap or "saving")
        source = parse_source(arguments.model)
        input_shape = None
        if arguments.input_shape is not None:
            input_shape = parse_input_shape(arguments.input_shape)
        from ..model.bench import MODEL_MIN_RUN_TIME_S, benchmark_model

        result = benchmark_model(
            str(source),
            select=selection,
            input_shape=input_shape,
            depth_multiplier=arguments.depth_multiplier,
            device=arguments.device,
            threads=arguments.threads,
            channels_last=arguments.channels_last,
            weights=arguments.weights,
            budget_bytes=budget * 1024 * 1024 if budget is not None else None,
            min_run_time=arguments.min_run_time or MODEL_MIN_RUN_TIME_S,
        )
    except (BenchError, ModelSourceError, SelectionError, SwapError) as error:
        print(f"sepconv-tui bench: error: {error}", file=sys.stderr)
        return EXIT_BAD_ARGUMENTS
    from ..report import model_bench as model_bench_report

    emit_report(arguments.format, model_bench_report, result)
    return EXIT_MATCH


def run_swap(arguments: argparse.Namespace) -> int:
    """Swap a model's convs from its weights, write swapped.pt and plan.json; return the code."""
    from pathlib import Path

    from ..model.analysis import SelectionError, parse_selection
    from ..model.plan import SwapError
    from ..model.source import ModelSourceError, parse_input_shape, parse_source

    out = Path(arguments.out)
    try:
        selection = parse_selection(arguments.swap)
        source = parse_source(arguments.source)
        input_shape = None
        if arguments.input_shape is not None:
            input_shape = parse_input_shape(arguments.input_shape)
        if out.exists() and not out.is_dir():
            raise SwapError(f"--out {arguments.out!r} is a file, not a folder")
        from ..model.swap import swap_from_source

        result = swap_from_source(
            str(source),
            selection,
            weights=arguments.weights,
            depth_multiplier=arguments.depth_multiplier,
            init=arguments.init,
            input_shape=input_shape,
        )
        from ..report import swap as swap_report

        written = [str(out / "swapped.pt"), str(out / "plan.json")]
        import torch

        out.mkdir(parents=True, exist_ok=True)
        torch.save(result.model.state_dict(), written[0])
        Path(written[1]).write_text(swap_report.to_json(result) + "\n", encoding="utf-8")
    except (ModelSourceError, SelectionError, SwapError) as error:
        print(f"sepconv-tui swap: error: {error}", file=sys.stderr)
        return EXIT_BAD_ARGUMENTS
    except OSError as error:
        print(f"sepconv-tui swap: error: --out {arguments.out!r}: {error}", file=sys.stderr)
        return EXIT_BAD_ARGUMENTS
    if arguments.format == "json":
        print(swap_report.to_json(result))
    else:
        from rich.console import Console

        Console().print(swap_report.render(result, written))
        if arguments.weights is None and result.init == "svd":
            # A freshly built model has random kernels, which are far from separable: say so, or
            # the errors read as what the swap does to a trained model.
            print(
                "No --weights: the original weights are PyTorch's default initialisation, so "
                "these errors are a random kernel's, not a trained model's."
            )
    return EXIT_MATCH


def run_model(arguments: argparse.Namespace) -> int:
    """Analyse a whole model and print its table and totals; return the exit code."""
    import shutil

    from ..model.analysis import SelectionError, parse_selection
    from ..model.source import (
        ModelSourceError,
        build_model,
        parse_input_shape,
        parse_source,
        with_resolution,
    )

    try:
        selection = parse_selection(arguments.swap)
        source = parse_source(arguments.source)
        input_shape = None
        if arguments.input_shape is not None:
            input_shape = parse_input_shape(arguments.input_shape)
        elif arguments.resolution is not None:
            default_shape = build_model(source).default_input_shape
            input_shape = with_resolution(default_shape, arguments.resolution)
        from ..model.trace import analyze_model

        analysis = analyze_model(
            str(source),
            input_shape=input_shape,
            select=selection,
            depth_multiplier=arguments.depth_multiplier,
        )
    except (ModelSourceError, SelectionError) as error:
        print(f"sepconv-tui model: error: {error}", file=sys.stderr)
        return EXIT_BAD_ARGUMENTS
    from ..report import model as model_report

    compact = shutil.get_terminal_size().columns < model_report.WIDE_COLUMNS
    emit(
        arguments.format,
        json=lambda: model_report.to_json(analysis),
        markdown=lambda: model_report.to_markdown(analysis),
        csv=lambda: model_report.to_csv(analysis),
        rich=lambda: model_report.render(analysis, compact=compact),
    )
    return EXIT_MATCH


def run_app(arguments: argparse.Namespace) -> int:
    """Open the terminal app prefilled with the layer flags."""
    from ..tui.app import SepConvApp

    SepConvApp(spec_from_arguments(arguments)).run()
    return EXIT_MATCH


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``sepconv-tui`` command."""
    parser = build_parser()
    arguments = parser.parse_args(argv)
    try:
        if arguments.command == "compare":
            return run_compare(arguments)
        if arguments.command == "sweep":
            return run_sweep(arguments)
        if arguments.command == "network":
            return run_network(arguments)
        if arguments.command == "bench":
            return run_bench(arguments)
        if arguments.command == "model":
            return run_model(arguments)
        if arguments.command == "swap":
            return run_swap(arguments)
        return run_app(arguments)
    except SpecError as error:
        print(f"{parser.prog}: error: {error}", file=sys.stderr)
        return EXIT_BAD_ARGUMENTS
    except KeyboardInterrupt:
        return 130
