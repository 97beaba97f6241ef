"""``sepconv-tui export``: the swapped model (and the original) as ONNX, checked in ONNX Runtime.

Exit 0 when every file written matches PyTorch within 1e-4 (relative), 1 when one does not (it
is not written), 2 on bad input, a model the exporter cannot take, or missing packages.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from ..errors import UserError
from .common import EXIT_MATCH, EXIT_MISMATCH, fail
from .model import (
    add_data_arguments,
    add_input_shape_argument,
    add_model_arguments,
    read_model_arguments,
    resolve_speedup_arguments,
    workflow,
)

if TYPE_CHECKING:
    from ..model.measure.data import Data
    from ..model.swapping.job import ModelJob


def add_export_parser(subcommands: Any) -> None:
    """The ``export`` subcommand."""
    export_parser = subcommands.add_parser(
        "export",
        help="write the swapped model as ONNX, checked against PyTorch in ONNX Runtime",
        description="Export the swapped model (a swap `sepconv-tui swap --out DIR` wrote, or "
        "--swap made now) through torch.onnx.export(dynamo=True), then run it in ONNX Runtime "
        "on the sample inputs (--data when given, else random at the input shape) and compare "
        "with PyTorch: the relative error is printed, and above 1e-4 the file is not written "
        "and the exit code is 1. Each swapped layer is a Conv node with group = C_in and a "
        "1×1 Conv. The file takes any batch size (a model that fixes its batch is exported at "
        "it, with a note). --precision int8 writes the static int8 file beside it. "
        "Needs the [deploy] extra (onnx, onnxscript, onnxruntime). Exit 2 on bad "
        "input or a model the exporter cannot take (the op and the layer are named).",
    )
    add_model_arguments(export_parser, weights_help="the original's state_dict")
    add_input_shape_argument(export_parser)
    export_parser.add_argument(
        "--swapped",
        metavar="DIR",
        help="the swap `sepconv-tui swap --out DIR` wrote (default: --swap made now by SVD)",
    )
    export_parser.add_argument(
        "--format", dest="export_format", choices=["onnx"], default="onnx", help="onnx"
    )
    export_parser.add_argument("--out", metavar="FILE", required=True, help="the ONNX file")
    export_parser.add_argument(
        "--original",
        action="store_true",
        help="also write the original model beside FILE, as NAME.original.onnx",
    )
    from ..model.deploy.deploy_precision import PRECISIONS

    export_parser.add_argument(
        "--precision",
        choices=list(PRECISIONS),
        default="fp32",
        help="fp32 (default) writes FILE; int8 also writes FILE's static int8 QDQ file beside "
        "it as NAME-int8.onnx (calibrated on --data's fit split, else on random inputs), "
        "with its agreement with fp32 measured on --data's test split; bf16 is a runtime "
        "setting (OpenVINO), not a file",
    )
    export_parser.add_argument(
        "--per-tensor",
        action="store_true",
        help="int8 with one scale per weight tensor (default: one per output channel)",
    )
    add_data_arguments(export_parser, required=False)
    export_parser.add_argument(
        "--json", dest="format", action="store_const", const="json", help="print JSON"
    )


def _data(arguments: argparse.Namespace, job: ModelJob) -> Data | None:
    """--data loaded for the model's input (None without it): without --input-shape, the
    channels are the model's first conv's (built on meta, no memory)."""
    if arguments.data is None:
        return None
    from ..model.describe.source import build_model
    from ..model.measure.data import load_data
    from .model import data_options

    model = None if job.input_shape is not None else build_model(job.source).module
    return load_data(
        arguments.data,
        input_shape=job.input_shape,
        source=job.source,
        model=model,
        **data_options(arguments),
    )


def run_export(arguments: argparse.Namespace) -> int:
    """Export, check, print; return the exit code."""
    try:
        given = read_model_arguments(arguments)
        if arguments.swapped is not None and arguments.swap != "saving":
            return fail("export", "--swap and --swapped DIR exclude each other")
        from ..model.deploy.deploy_precision import check_file_precision
        from ..model.deploy.export import failure_message, require_deploy
        from ..model.deploy.precision_export import export_at_precision

        check_file_precision(arguments.precision)
        require_deploy()
        from .progress import stderr_progress

        with stderr_progress() as progress:
            given, _chosen = resolve_speedup_arguments(arguments, given, progress, workflow)
        job = given.ready()
        data = _data(arguments, job)
        split = None
        if data is not None and arguments.precision != "fp32":
            split = workflow(arguments, given).split(data)
        result = export_at_precision(
            job,
            arguments.out,
            precision=arguments.precision,
            samples=None if data is None else data.inputs,
            sample_source="random" if data is None else data.description,
            original=arguments.original,
            calibration=None if split is None else split.fit.inputs,
            comparison=None if split is None else split.test.inputs,
            comparison_source="" if split is None else split.test.description,
            per_channel=not arguments.per_tensor,
        )
    except UserError as error:
        return fail("export", error)
    from ..report import export as export_report

    if arguments.format == "json":
        print(export_report.to_json(result))
    else:
        from ..report.console import print_report

        print_report(export_report.render(result))
    message = failure_message(result.export)
    if message is not None:
        print(f"sepconv-tui export: {message}", file=sys.stderr)
        return EXIT_MISMATCH
    return EXIT_MATCH
