"""A model analysis as files: JSON, a GitHub Markdown table, CSV."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from ..model.vocabulary.analysis import ModelAnalysis
from .format import format_count, format_ratio, format_shape
from .model_cells import (
    check_message,
    format_kernel,
    format_saving,
    format_stride,
    shape_cell,
    totals_message,
)


def to_json(analysis: ModelAnalysis) -> str:
    """The analysis as indented JSON (``ModelAnalysis.to_dict``)."""
    return json.dumps(analysis.to_dict(), indent=2)


def to_markdown(analysis: ModelAnalysis) -> str:
    """A GitHub Markdown table with the totals and the cross-check below it."""
    lines = [
        f"### {analysis.source} @ {format_shape(analysis.input_shape)}",
        "",
        "| Layer | Input → output | Kernel | C_in → C_out | Params | MACs | Sep params "
        "| Sep MACs | Saving | Swap |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for layer in analysis.layers:
        separable = layer.separable
        mark = "✔" if layer.swap else ("·" if layer.candidate else layer.reason or "")
        lines.append(
            f"| {layer.name} | {shape_cell(layer)} | "
            f"{(format_kernel(layer) + ' ' + format_stride(layer)).strip()} | "
            f"{layer.in_channels} → {layer.out_channels} | {format_count(layer.standard.params)} | "
            f"{format_count(layer.standard.macs)} | "
            f"{format_count(separable.params) if separable else '—'} | "
            f"{format_count(separable.macs) if separable else '—'} | "
            f"{format_saving(layer)} | {mark} |"
        )
    other, original, swapped = analysis.other, analysis.original, analysis.swapped
    lines.append(
        f"| other ops (PyTorch) | | | | {format_count(other.params)} | "
        f"{format_count(other.macs)} | | | | |"
    )
    lines.append(
        f"| **Total** | | | | **{format_count(original.params)}** | "
        f"**{format_count(original.macs)}** | **{format_count(swapped.params)}** | "
        f"**{format_count(swapped.macs)}** | **{format_ratio(analysis.mac_ratio)}** | "
        f"{len(analysis.swapped_names)}/{len(analysis.candidates)} |"
    )
    lines += ["", *totals_message(analysis).splitlines(), "", check_message(analysis)]
    lines += [f"- {note}" for note in analysis.notes]
    return "\n".join(lines) + "\n"


#: CSV columns, one row per layer plus "other ops" and the totals.
CSV_COLUMNS = (
    "name",
    "kind",
    "module_type",
    "input_shape",
    "output_shape",
    "calls",
    "kernel_size",
    "stride",
    "padding",
    "dilation",
    "groups",
    "bias",
    "in_channels",
    "out_channels",
    "params",
    "macs",
    "separable_params",
    "separable_macs",
    "candidate",
    "reason",
    "swap",
)


def _cell(value: Any) -> Any:
    """A CSV cell: tuples as 1x3x224x224, None as empty."""
    if value is None:
        return ""
    if isinstance(value, tuple):
        return "x".join(str(part) for part in value)
    return value


def to_csv(analysis: ModelAnalysis) -> str:
    """One CSV row per layer, then "other ops" and the totals (as is and swapped)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for layer in analysis.layers:
        separable = layer.separable
        writer.writerow(
            [
                _cell(value)
                for value in (
                    layer.name,
                    layer.kind,
                    layer.module_type,
                    layer.input_shape,
                    layer.output_shape,
                    layer.calls,
                    layer.kernel_size,
                    layer.stride,
                    layer.padding,
                    layer.dilation,
                    layer.groups,
                    layer.bias,
                    layer.in_channels,
                    layer.out_channels,
                    layer.standard.params,
                    layer.standard.macs,
                    separable.params if separable else None,
                    separable.macs if separable else None,
                    layer.candidate,
                    layer.reason,
                    layer.swap,
                )
            ]
        )
    other, original, swapped = analysis.other, analysis.original, analysis.swapped
    writer.writerow(
        ["other ops", "other", *[""] * 12, other.params, other.macs, "", "", "", "", ""]
    )
    writer.writerow(
        [
            "total",
            "total",
            *[""] * 12,
            original.params,
            original.macs,
            swapped.params,
            swapped.macs,
            "",
            "",
            len(analysis.swapped_names),
        ]
    )
    return buffer.getvalue()
