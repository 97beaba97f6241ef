"""Command line: no subcommand opens the app; the subcommands print tables, JSON, Markdown or CSV.

Neither torch nor Textual is imported at module level, so ``--help`` and ``compare`` start fast.
The layer commands live in ``cli.layer``, the whole-model ones in ``cli.model``; ``COMMANDS``
is the one table that adds and dispatches them.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any

from .. import __version__
from ..core.spec import SpecError
from . import export, layer, model
from .common import EXIT_BAD_ARGUMENTS, EXIT_MATCH, OneLineParser
from .layer import LAYER_FLAGS, add_layer_arguments, spec_from_arguments

__all__ = ["COMMANDS", "LAYER_FLAGS", "build_parser", "main"]

#: Each subcommand: how to add its parser, and what runs it.
COMMANDS: dict[str, tuple[Callable[[Any], None], Callable[[argparse.Namespace], int]]] = {
    "compare": (layer.add_compare_parser, layer.run_compare),
    "network": (layer.add_network_parser, layer.run_network),
    "sweep": (layer.add_sweep_parser, layer.run_sweep),
    "bench": (layer.add_bench_parser, layer.run_bench),
    "model": (model.add_model_parser, model.run_model),
    "swap": (model.add_swap_parser, model.run_swap),
    "fidelity": (model.add_fidelity_parser, model.run_fidelity),
    "export": (export.add_export_parser, export.run_export),
}


def build_parser() -> argparse.ArgumentParser:
    """The whole command line: the app's flags and the subcommands."""
    parser = OneLineParser(
        prog="sepconv-tui",
        description=(
            "Compare a standard conv (Conv1d, Conv2d or Conv3d: --dims) with a "
            "depthwise-separable block (depthwise conv, then 1×1 pointwise): parameters, MACs, "
            "output shapes and a shape-match verdict, by closed form and by PyTorch. Without a "
            "subcommand, open the terminal app prefilled with the layer flags."
        ),
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    add_layer_arguments(parser)
    subcommands = parser.add_subparsers(
        dest="command", metavar="COMMAND", parser_class=OneLineParser
    )
    for add_parser, _run in COMMANDS.values():
        add_parser(subcommands)
    return parser


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
        if arguments.command in COMMANDS:
            _add_parser, run = COMMANDS[arguments.command]
            return run(arguments)
        return run_app(arguments)
    except SpecError as error:
        print(f"{parser.prog}: error: {error}", file=sys.stderr)
        return EXIT_BAD_ARGUMENTS
    except KeyboardInterrupt:
        # Files are written whole or not at all (model.swapping.swap.save), so stopping is safe.
        print(f"{parser.prog}: stopped", file=sys.stderr)
        return 130
