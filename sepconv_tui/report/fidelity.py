"""Render fidelity: the swapped model against the original on data, and a recovery's stages."""

from __future__ import annotations

import csv
import io
import json
from typing import TYPE_CHECKING, Any

from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text

from ..model.fidelity_result import Fidelity, LayerFidelity
from .swap import format_error

if TYPE_CHECKING:  # recover is the engine's measuring code: the app must not load it
    from ..model.recover import Recovery

#: What each recovery stage is called in tables.
STAGE_NAMES = {"svd": "SVD only", "reconstruct": "reconstructed", "distill": "distilled"}


def format_share(value: float | None) -> str:
    """A share as a percentage with one decimal, e.g. 99.4%, or a dash."""
    return "—" if value is None else f"{100 * value:.1f}%"


def _error_text(error: float | None) -> Text:
    """An output error, green below 0.1, red above 0.5."""
    if error is None:
        return Text("—", style="dim")
    style = "green" if error <= 0.1 else "red" if error > 0.5 else "yellow"
    return Text(format_error(error), style=style)


def summary_rows(fidelity: Fidelity) -> list[tuple[str, str, str]]:
    """(figure, original, swapped) rows of the summary table."""
    rows = []
    if fidelity.original_accuracy is not None:
        rows.append(
            (
                "Accuracy",
                format_share(fidelity.original_accuracy),
                format_share(fidelity.swapped_accuracy),
            )
        )
    if fidelity.agreement is not None:
        rows.append(("Top-1 agreement", "100.0%", format_share(fidelity.agreement)))
    rows.append(("Output error", "0", format_error(fidelity.output_error)))
    return rows


def layers_table(layers: tuple[LayerFidelity, ...], title: str | None = None) -> Table:
    """One row per swapped layer: m, weight error, output error alone and in the network."""
    table = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    table.add_column("Layer", overflow="fold", min_width=14)
    table.add_column("m", justify="right", no_wrap=True)
    table.add_column("Weight err", justify="right", no_wrap=True)
    table.add_column("Out err", justify="right", no_wrap=True)
    table.add_column("Net err", justify="right", no_wrap=True)
    for layer in layers:
        table.add_row(
            layer.name,
            "—" if layer.depth_multiplier is None else str(layer.depth_multiplier),
            format_error(layer.weight_error),
            _error_text(layer.local_error),
            _error_text(layer.network_error),
        )
    return table


def render(fidelity: Fidelity) -> Group:
    """The summary (original against swapped) and the per-layer table."""
    summary = Table(
        title=f"Fidelity on {fidelity.evaluated:,} samples",
        title_style="bold",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    summary.add_column("")
    summary.add_column("Original", justify="right")
    summary.add_column("Swapped", justify="right")
    for row in summary_rows(fidelity):
        summary.add_row(*row)
    parts: list[Any] = [summary]
    if fidelity.layers:
        parts.append(layers_table(fidelity.layers))
    return Group(*parts)


def to_json(fidelity: Fidelity) -> str:
    """``Fidelity.to_dict()`` as indented JSON."""
    return json.dumps(fidelity.to_dict(), indent=2)


def to_markdown(fidelity: Fidelity) -> str:
    """The summary and the per-layer table as Markdown."""
    lines = [
        f"Fidelity on {fidelity.evaluated:,} samples",
        "",
        "| | Original | Swapped |",
        "|---|---:|---:|",
    ]
    lines += [
        f"| {name} | {original} | {swapped} |" for name, original, swapped in summary_rows(fidelity)
    ]
    if fidelity.layers:
        lines += ["", "| Layer | m | Weight err | Out err | Net err |", "|---|---:|---:|---:|---:|"]
        lines += [
            f"| {layer.name} | {layer.depth_multiplier or '—'} | "
            f"{format_error(layer.weight_error)} | {format_error(layer.local_error)} | "
            f"{format_error(layer.network_error)} |"
            for layer in fidelity.layers
        ]
    return "\n".join(lines) + "\n"


def to_csv(fidelity: Fidelity) -> str:
    """One row per swapped layer, then a totals row (layer "model")."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(
        [
            "layer",
            "depth_multiplier",
            "weight_error",
            "local_error",
            "network_error",
            "output_error",
            "agreement",
            "original_accuracy",
            "swapped_accuracy",
        ]
    )
    for layer in fidelity.layers:
        writer.writerow(
            [
                layer.name,
                layer.depth_multiplier,
                layer.weight_error,
                layer.local_error,
                layer.network_error,
                "",
                "",
                "",
                "",
            ]
        )
    writer.writerow(
        [
            "model",
            "",
            "",
            "",
            "",
            fidelity.output_error,
            fidelity.agreement,
            fidelity.original_accuracy,
            fidelity.swapped_accuracy,
        ]
    )
    return buffer.getvalue()


def stages_table(recovery: Recovery) -> Table:
    """One column per stage that ran: accuracy or agreement, and the output error."""
    first = recovery.stages[0]
    table = Table(
        title=(
            f"Held-out fidelity ({recovery.holdout:,} samples never fitted; "
            f"least squares on {recovery.calibration:,})"
        ),
        title_style="bold",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    table.add_column("")
    table.add_column("Original", justify="right")
    for stage in recovery.stages:
        table.add_column(STAGE_NAMES.get(stage.stage or "", stage.stage or ""), justify="right")
    if first.original_accuracy is not None:
        table.add_row(
            "Accuracy",
            format_share(first.original_accuracy),
            *[format_share(stage.swapped_accuracy) for stage in recovery.stages],
        )
    if first.agreement is not None:
        table.add_row(
            "Top-1 agreement",
            "100.0%",
            *[format_share(stage.agreement) for stage in recovery.stages],
        )
    table.add_row(
        "Output error", "0", *[format_error(stage.output_error) for stage in recovery.stages]
    )
    return table


def layers_before_after(recovery: Recovery) -> Table:
    """Per swapped layer, the network output error after each stage."""
    table = Table(
        title="Per layer: output error in the network",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    table.add_column("Layer", overflow="fold", min_width=14)
    table.add_column("m", justify="right")
    for stage in recovery.stages:
        table.add_column(STAGE_NAMES.get(stage.stage or "", stage.stage or ""), justify="right")
    for index, layer in enumerate(recovery.stages[0].layers):
        table.add_row(
            layer.name,
            "—" if layer.depth_multiplier is None else str(layer.depth_multiplier),
            *[_error_text(stage.layers[index].network_error) for stage in recovery.stages],
        )
    return table


def render_recovery(recovery: Recovery) -> Group:
    """The stages table and the per-layer before/after table."""
    return Group(stages_table(recovery), layers_before_after(recovery))
