"""Render an ExportResult: each ONNX file, its check against PyTorch, and its depthwise convs."""

from __future__ import annotations

import json

from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text

from ..core.memory import format_bytes
from ..model.export import ExportedModel, ExportResult
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


def notes(result: ExportResult) -> list[Text]:
    """Each file's notes (a fixed batch), once each, as dim lines."""
    lines = dict.fromkeys(note for file in result.files for note in file.notes)
    return [Text(f"note: {line}", style="dim") for line in lines]


def render(result: ExportResult) -> Group:
    """Everything ``sepconv-tui export`` prints."""
    style = "bold" if result.passed else "bold red"
    return Group(files_table(result), Text(summary(result), style=style), *notes(result))


def to_json(result: ExportResult) -> str:
    """The export JSON document."""
    return json.dumps(result.to_dict(), indent=2, ensure_ascii=False)
