"""Render fidelity: the swapped model against the original on data, and a recovery's stages.

Every share is shown with its 95% Wilson interval when it was measured with one
(``97.5% [95.4–98.7]``) and the sample count it is over; the split the figures come from and
the validation figure that chose a selection are said beside them."""

from __future__ import annotations

import csv
import io
import json
import math
from typing import TYPE_CHECKING, Any

from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text

from ..model.results.fidelity_result import (
    Fidelity,
    Interval,
    LayerFidelity,
    SplitSizes,
    ValidationFigure,
)
from ..model.vocabulary.plan import with_budget
from .swap import format_error
from .swap import to_json as plan_json

if TYPE_CHECKING:  # torch-free, but the app's report of a fidelity needs neither
    from ..model.results.recovery_result import Distillation, Recovery
    from ..model.vocabulary.plan import SwapResult

#: What each recovery stage is called in tables.
STAGE_NAMES = {"svd": "SVD only", "reconstruct": "reconstructed", "distill": "distilled"}


def format_share(value: float | None) -> str:
    """A share as a percentage with one decimal, e.g. 99.4%, or a dash."""
    return "—" if value is None else f"{100 * value:.1f}%"


def format_interval(interval: Interval | None) -> str:
    """A 95% interval as percentages, e.g. [95.4–98.7], or nothing."""
    if interval is None:
        return ""
    low, high = interval
    return f"[{100 * low:.1f}–{100 * high:.1f}]"


def format_share_interval(value: float | None, interval: Interval | None) -> str:
    """A share with its interval when it has one: 97.5% [95.4–98.7]."""
    text = format_share(value)
    return f"{text} {format_interval(interval)}" if value is not None and interval else text


def split_text(split: SplitSizes | None) -> str:
    """ "split fit 938 · validation 359 · test 500", or nothing."""
    return "" if split is None else f"split {split}"


def validation_text(validation: ValidationFigure) -> str:
    """The figure a selection was chosen by: "99.7% [98.4–99.9] on 359 validation samples"."""
    budget = f" (≥ {format_share(validation.budget)})" if validation.budget is not None else ""
    return (
        f"{format_share_interval(validation.agreement, validation.interval)} on "
        f"{validation.evaluated:,} validation samples{budget}"
    )


def distillation_text(distillation: Distillation) -> str:
    """How distillation went, in one line: steps, why it stopped, and the best check (chosen
    by the validation loss; its agreement or output error beside it)."""
    why = {
        "patience": "validation stopped improving",
        "steps": "reached the step ceiling",
        "time": "reached the time limit",
    }.get(distillation.stopped, distillation.stopped)
    figure = (
        f"agreement {format_share(distillation.best_agreement)}"
        if distillation.best_agreement is not None
        else f"output error {format_error(distillation.best_output_error)}"
    )
    loss = f"loss {distillation.best_loss:.4g}, " if not math.isnan(distillation.best_loss) else ""
    return (
        f"Distilled {distillation.steps:,} steps in {distillation.seconds:.1f} s ({why}); "
        f"kept the best weights (step {distillation.best_step:,}, validation {loss}{figure})"
    )


def _error_text(error: float | None) -> Text:
    """An output error, green below 0.1, red above 0.5."""
    if error is None:
        return Text("—", style="dim")
    style = "green" if error <= 0.1 else "red" if error > 0.5 else "yellow"
    return Text(format_error(error), style=style)


def summary_rows(fidelity: Fidelity) -> list[tuple[str, str, str, str]]:
    """(figure, original, swapped, n) rows of the summary table."""
    rows = []
    count = f"{fidelity.evaluated:,}"
    if fidelity.original_accuracy is not None:
        rows.append(
            (
                "Accuracy",
                format_share_interval(
                    fidelity.original_accuracy, fidelity.original_accuracy_interval
                ),
                format_share_interval(
                    fidelity.swapped_accuracy, fidelity.swapped_accuracy_interval
                ),
                count,
            )
        )
    if fidelity.agreement is not None:
        rows.append(
            (
                "Top-1 agreement",
                "100.0%",
                format_share_interval(fidelity.agreement, fidelity.agreement_interval),
                count,
            )
        )
    if fidelity.validation is not None:
        rows.append(
            (
                "Agreement, validation (chose it)",
                "100.0%",
                format_share_interval(fidelity.validation.agreement, fidelity.validation.interval),
                f"{fidelity.validation.evaluated:,}",
            )
        )
    rows.append(("Output error", "0", format_error(fidelity.output_error), count))
    return rows


def _title(fidelity: Fidelity) -> str:
    """ "Fidelity on 500 test samples (split fit 938 · validation 359 · test 500)"."""
    if fidelity.split is None:
        return f"Fidelity on {fidelity.evaluated:,} samples"
    return f"Fidelity on {fidelity.evaluated:,} test samples ({split_text(fidelity.split)})"


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
    summary = Table(title=_title(fidelity), title_style="bold", box=box.SIMPLE_HEAD, pad_edge=False)
    summary.add_column("")
    summary.add_column("Original", justify="right")
    summary.add_column("Swapped", justify="right")
    summary.add_column("n", justify="right")
    for row in summary_rows(fidelity):
        summary.add_row(*row)
    parts: list[Any] = [summary]
    if fidelity.layers:
        parts.append(layers_table(fidelity.layers))
    parts += [Text(f"Note: {note}", style="yellow") for note in fidelity.notes]
    return Group(*parts)


def to_json(fidelity: Fidelity) -> str:
    """``Fidelity.to_dict()`` as indented JSON."""
    return json.dumps(fidelity.to_dict(), indent=2)


def to_markdown(fidelity: Fidelity) -> str:
    """The summary and the per-layer table as Markdown."""
    lines = [_title(fidelity), "", "| | Original | Swapped | n |", "|---|---:|---:|---:|"]
    lines += [
        f"| {name} | {original} | {swapped} | {count} |"
        for name, original, swapped, count in summary_rows(fidelity)
    ]
    if fidelity.layers:
        lines += ["", "| Layer | m | Weight err | Out err | Net err |", "|---|---:|---:|---:|---:|"]
        lines += [
            f"| {layer.name} | {layer.depth_multiplier or '—'} | "
            f"{format_error(layer.weight_error)} | {format_error(layer.local_error)} | "
            f"{format_error(layer.network_error)} |"
            for layer in fidelity.layers
        ]
    lines += [f"\nNote: {note}" for note in fidelity.notes]
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
            "agreement_low",
            "agreement_high",
            "swapped_accuracy_low",
            "swapped_accuracy_high",
            "evaluated",
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
                *[""] * 9,
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
            *(fidelity.agreement_interval or ("", "")),
            *(fidelity.swapped_accuracy_interval or ("", "")),
            fidelity.evaluated,
        ]
    )
    return buffer.getvalue()


def stages_table(recovery: Recovery) -> Table:
    """One column per stage that ran: accuracy or agreement with intervals, and output error."""
    first = recovery.stages[0]
    split = recovery.split
    table = Table(
        title=(
            f"Test fidelity ({recovery.holdout:,} samples never fitted nor chosen on; "
            f"{split_text(split)}; least squares on {recovery.calibration:,})"
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
            format_share_interval(first.original_accuracy, first.original_accuracy_interval),
            *[
                format_share_interval(stage.swapped_accuracy, stage.swapped_accuracy_interval)
                for stage in recovery.stages
            ],
        )
    if first.agreement is not None:
        table.add_row(
            "Top-1 agreement",
            "100.0%",
            *[
                format_share_interval(stage.agreement, stage.agreement_interval)
                for stage in recovery.stages
            ],
        )
    table.add_row(
        "Output error", "0", *[format_error(stage.output_error) for stage in recovery.stages]
    )
    return table


def recovery_notes(recovery: Recovery) -> list[str]:
    """The lines under the stages table: the validation figure that chose the selection,
    how distillation went, the ranks, and any note."""
    lines = []
    validation = recovery.final.validation
    if validation is not None:
        lines.append(f"Chosen on validation: agreement {validation_text(validation)}")
    if recovery.distillation is not None:
        lines.append(distillation_text(recovery.distillation))
    if recovery.world_size > 1:
        lines.append(f"Measured by {recovery.world_size} processes (torchrun), {recovery.device}")
    lines += [f"Note: {note}" for note in recovery.notes]
    return lines


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
    """The stages table, what chose and stopped it, and the per-layer before/after table."""
    lines = [Text(line) for line in recovery_notes(recovery)]
    return Group(stages_table(recovery), *lines, layers_before_after(recovery))


def swap_json(
    result: SwapResult, recovery: Recovery | None, budget: dict[str, Any] | None = None
) -> str:
    """``swap --json``: the plan JSON (with the ``budget`` choice, as plan.json has it), and
    after a recovery what ``fidelity.json`` holds (each stage, how distillation went and its
    validation curve) under ``"fidelity"``."""
    if recovery is None and budget is None:
        return plan_json(result)
    values = with_budget(result.to_dict(), budget)
    if recovery is not None:
        values["fidelity"] = recovery.to_dict()
    return json.dumps(values, indent=2)
