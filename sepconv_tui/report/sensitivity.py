"""The sensitivity table (layer × m) and the frontier: Rich tables, lines, Markdown and JSON.

Plain data in (``model.results.sensitivity_result``), nothing measured here.
"""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from ..model.results.sensitivity_result import Frontier, FrontierPoint, Rung, Sensitivity
from .format import format_count, format_ratio

NOT_MEASURED = "not measured"


def _share(value: float | None) -> str:
    """A share as a percentage with two decimals, or "—"."""
    return "—" if value is None else f"{value:.2%}"


def _error(value: float | None) -> str:
    """A relative error with four decimals, or "—"."""
    return "—" if value is None else f"{value:.4f}"


def _seconds(value: float | None) -> str:
    """Seconds saved in µs or ms, or "—" when the block was not timed."""
    if value is None:
        return "—"
    if abs(value) < 1e-3:
        return f"{value * 1e6:.0f} µs"
    return f"{value * 1e3:.2f} ms"


def rung_cells(rung: Rung) -> list[str]:
    """One row of the table: layer, m, agreement, output error, what it saves."""
    figures = (
        [_share(rung.agreement), _error(rung.output_error)]
        if rung.measured
        else [NOT_MEASURED, NOT_MEASURED]
    )
    return [
        rung.name,
        str(rung.depth_multiplier),
        *figures,
        format_count(rung.macs_saved),
        format_count(rung.params_saved),
        _seconds(rung.seconds_saved),
    ]


HEADERS = ("Layer", "m", "Agreement", "Output error", "MACs saved", "Params saved", "Time saved")


def title(table: Sensitivity) -> str:
    """What the table is, and on how many samples."""
    return (
        f"Sensitivity: each candidate swapped alone at each m, reconstructed on "
        f"{table.calibration:,} fit samples, measured on {table.evaluated:,} validation samples"
    )


def sensitivity_table(table: Sensitivity) -> Table:
    """The layer × m table, a layer's rungs together."""
    rich_table = Table(title=title(table), title_justify="left")
    for index, header in enumerate(HEADERS):
        rich_table.add_column(header, justify="left" if index == 0 else "right", no_wrap=index == 0)
    previous = None
    for rung in table.rungs:
        cells = rung_cells(rung)
        if rung.name == previous:
            cells[0] = ""
        previous = rung.name
        rich_table.add_row(*cells, style="dim" if not rung.measured else "")
    return rich_table


def timing_line(table: Sensitivity) -> str:
    """Where the seconds saved were timed, or that they were not."""
    timing = table.timing
    if timing is None:
        return "Time saved: not timed (the rungs are timed on a runtime when one is named)"
    threads = f"{timing.threads} thread{'s' if timing.threads != 1 else ''}"
    return (
        f"Time saved: each conv and its block timed alone on {timing.runtime} at fp32, "
        f"{threads}, {timing.cpu} (the whole original: {_seconds(timing.model_s)})"
    )


def render(table: Sensitivity) -> Group:
    """The table and its notes."""
    parts: list[Any] = [sensitivity_table(table), Text(timing_line(table), style="dim")]
    parts += [Text("Note: " + note, style="dim") for note in table.notes]
    if not table.classifier:
        parts.append(Text("Agreement: — (the outputs are not a classifier's)", style="dim"))
    return Group(*parts)


def to_markdown(table: Sensitivity) -> str:
    """The table as GitHub Markdown, the notes below it."""
    lines = [
        f"**{title(table)}**",
        "",
        "| " + " | ".join(HEADERS) + " |",
        "|---|" + "---:|" * (len(HEADERS) - 1),
    ]
    lines += ["| " + " | ".join(rung_cells(rung)) + " |" for rung in table.rungs]
    lines += ["", timing_line(table), "", *(f"Note: {note}" for note in table.notes)]
    return "\n".join(lines).rstrip() + "\n"


def point_line(frontier: Frontier, point: FrontierPoint) -> str:
    """A point's plan and figures: "3 layers, per-layer m 1–4: 2.49× fewer MACs, …"."""
    saving = (
        f"{format_ratio(frontier.mac_ratio(point))} fewer MACs, "
        f"{format_ratio(frontier.param_ratio(point))} fewer params"
    )
    if point.seconds_saved is not None:
        saving += f", {_seconds(point.seconds_saved)} saved"
    if point.predicted_speed_ratio is not None and frontier.unit == "seconds":
        saving += (
            f", predicted {format_ratio(point.predicted_speed_ratio)} faster on "
            f"{frontier.runtime} (each layer's seconds)"
        )
        if point.speed_ratio is not None:
            against = (
                "the original's best cell" if frontier.baseline == "best" else frontier.runtime
            )
            saving += f", measured {format_ratio(point.speed_ratio)} against {against}"
    elif point.predicted_speed_ratio is not None:  # the rungs timed (l after g in the app)
        saving += f", predicted {format_ratio(point.predicted_speed_ratio)} faster"
    if point.measured:
        interval = (
            f" (95% {point.agreement_interval[0]:.2%}–{point.agreement_interval[1]:.2%})"
            if point.agreement_interval
            else ""
        )
        agreement = (
            f"agreement {_share(point.agreement)}{interval}, "
            if point.agreement is not None
            else ""
        )
        measured = f"; validation {agreement}output error {_error(point.output_error)}"
    elif frontier.evaluated:
        measured = (
            f"; sum of the single-layer errors {_error(point.predicted_error)} (a prediction, "
            "not measured)"
        )
    elif point.predicted_error:
        measured = f"; sum of the layers' SVD weight errors {_error(point.predicted_error)}"
    else:
        measured = ""  # chosen by the saving alone: no loss was known, none is shown
    return f"{point.summary}: {saving}{measured}"


def choice_line(frontier: Frontier) -> str:
    """What a budget chose on the frontier, and how many points were measured whole."""
    point = frontier.point
    if point is None:
        return f"{frontier.budget}: nothing chosen"
    layers = ", ".join(f"{name} m={m}" for name, m in point.multipliers)
    measured = sum(p.measured for p in frontier.points)
    timed = sum(p.speed_ratio is not None for p in frontier.points)
    return (
        f"{frontier.budget} → {point_line(frontier, point)}"
        + (f" [{layers}]" if layers else "")
        + f"; {measured} of {len(frontier.points)} frontier points measured whole"
        + (f", {timed} timed whole" if frontier.unit == "seconds" else "")
        + best_cells(point)
    )


def best_cells(point: FrontierPoint) -> str:
    """``--baseline best``: which cell was each side's best ("" otherwise)."""
    best = point.best
    if not best:
        return ""

    def cell(side: str) -> str:
        values = best[side]
        return f"{values['runtime']} {values['precision']} {_seconds(values['median_s'])}"

    return f"; best cells: the original {cell('original')}, the swap {cell('swapped')}"


def frontier_table(frontier: Frontier) -> Table:
    """Every point of the frontier, the chosen one marked."""
    rich_table = Table(
        title=f"Frontier ({frontier.unit}): each step the least predicted loss per unit saved",
        title_justify="left",
    )
    for header in ("#", "Plan", "MACs", "Params", "Predicted error", "Agreement", "Output error"):
        rich_table.add_column(header, justify="left" if header == "Plan" else "right")
    for index, point in enumerate(frontier.points):
        rich_table.add_row(
            ("▶ " if index == frontier.chosen else "") + str(index),
            point.summary,
            format_ratio(frontier.mac_ratio(point)),
            format_ratio(frontier.param_ratio(point)),
            _error(point.predicted_error),
            _share(point.agreement) if point.measured else "",
            _error(point.output_error) if point.measured else "",
            style="bold" if index == frontier.chosen else "",
        )
    return rich_table
