"""Render what ``export`` wrote: each ONNX file, its check against PyTorch, its depthwise convs,
and each int8 file with its agreement with fp32."""

from __future__ import annotations

import json
from typing import Any

from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text

from ..core.memory import format_bytes
from ..model.deploy.export import ExportedModel, ExportResult
from ..model.deploy.precision_export import PrecisionExport
from .format import format_shape


def _check_text(file: ExportedModel, tolerance: float) -> Text:
    """The relative error, green within the tolerance, red beyond it."""
    passed = file.relative_error <= tolerance
    return Text(f"{file.relative_error:.2e}", style="green" if passed else "bold red")


def files_table(result: ExportResult) -> Table:
    """One row per file: the model, its path, the check, its Conv and depthwise Conv nodes."""
    table = Table(
        title=f"{result.source}: ONNX export (--swap {result.swap})",
        title_style="bold",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
        caption=(
            f"checked in ONNX Runtime {result.onnxruntime_version} against torch "
            f"{result.torch_version} on {result.sample_source} inputs; allowed relative "
            f"error {result.tolerance:g}"
        ),
    )
    table.add_column("Model", no_wrap=True)
    table.add_column("File", overflow="fold", min_width=24)
    table.add_column("Input", no_wrap=True)
    table.add_column("Batch", no_wrap=True)
    table.add_column("Rel. error", justify="right", no_wrap=True)
    table.add_column("Conv nodes", justify="right", no_wrap=True)
    table.add_column("group = C_in", justify="right", no_wrap=True)
    table.add_column("Size", justify="right", no_wrap=True)
    for file in result.files:
        table.add_row(
            file.model,
            file.path if file.relative_error <= result.tolerance else f"{file.path} (not written)",
            format_shape(file.input_shape),
            "any" if file.dynamic_batch else f"{file.input_shape[0]} only",
            _check_text(file, result.tolerance),
            str(file.conv_nodes),
            str(file.depthwise_nodes),
            format_bytes(file.file_bytes),
        )
    return table


def summary(result: ExportResult) -> str:
    """One sentence: the swapped layers found as depthwise Conv nodes, and the verdict."""
    swapped = next((file for file in result.files if file.model == "swapped"), None)
    found = (
        f"{swapped.swapped_layers} of {len(result.swapped)} swapped layers are a Conv with "
        "group = C_in in the graph. "
        if swapped is not None
        else ""
    )
    if result.passed:
        return found + "ONNX Runtime reproduces PyTorch's outputs."
    return found + "ONNX Runtime does not reproduce PyTorch's outputs: nothing failing was written."


def int8_table(result: PrecisionExport) -> Table:
    """One row per int8 file: its path, calibration, quantized ops and agreement with fp32."""
    table = Table(
        title="int8 (static QDQ: uint8 activations, int8 weights)",
        title_style="bold",
        caption=f"agreement with the fp32 file on {result.int8[0].compared_on}"
        if result.int8
        else None,
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    table.add_column("Model", no_wrap=True)
    table.add_column("File", overflow="fold", min_width=24)
    table.add_column("Scales", no_wrap=True)
    table.add_column("Calibrated on", no_wrap=True)
    table.add_column("int8 ops", justify="right", no_wrap=True)
    table.add_column("Agreement", justify="right", no_wrap=True)
    table.add_column("Rel. error", justify="right", no_wrap=True)
    table.add_column("Size", justify="right", no_wrap=True)
    for file in result.int8:
        quantized = file.quantized
        agreement = file.agreement
        table.add_row(
            file.model,
            quantized.path,
            "per channel" if quantized.per_channel else "per tensor",
            quantized.calibration,
            str(sum(quantized.quantized_ops.values())),
            "–"
            if agreement.agreement is None
            else f"{agreement.agreement:.2%} of {agreement.samples:,}",
            f"{agreement.relative_error:.2e}",
            format_bytes(quantized.file_bytes),
        )
    return table


def notes(result: PrecisionExport) -> list[Text]:
    """Each file's notes (a fixed batch, int8 calibration), once each, as dim lines."""
    lines = dict.fromkeys(
        [note for file in result.export.files for note in file.notes] + list(result.notes)
    )
    return [Text(f"note: {line}", style="dim") for line in lines]


def render(result: PrecisionExport) -> Group:
    """Everything ``sepconv-tui export`` prints."""
    style = "bold" if result.passed else "bold red"
    parts: list[Any] = [files_table(result.export), Text(summary(result.export), style=style)]
    if result.int8:
        parts.append(int8_table(result))
    return Group(*parts, *notes(result))


def to_json(result: PrecisionExport) -> str:
    """The export JSON document."""
    return json.dumps(result.to_dict(), indent=2, ensure_ascii=False)
