"""The Model tab's fidelity text: its extra table columns, the held-out summary lines, the
recovery's stages and the trade-off curve in words (torch-free, like every report module).

A fidelity measured on the three splits says so ("Test split (500 samples …)") and gives
each share its 95% interval; one recorded before them reads as it always did."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from rich.text import Text

from ..model.results.fidelity_result import Fidelity, LayerFidelity
from ..model.results.recovery_result import CurvePoint
from ..model.results.tradeoff_result import Tradeoff, TradeoffPoint
from ..model.vocabulary.analysis import ModelAnalysis, ModelLayer
from .fidelity import (
    STAGE_NAMES,
    format_interval,
    format_share,
    format_share_interval,
    split_text,
    validation_text,
)
from .format import format_short
from .model_cells import table_columns
from .swap import format_error

#: The columns the fidelity adds to the Model tab's table, and where.
M_COLUMN = ("m", "m")
FIDELITY_COLUMNS = (("out_err", "Out err"), ("net_err", "Net err"))


def tab_columns(
    analysis: ModelAnalysis, *, compact: bool, narrow: bool, measured: bool
) -> list[tuple[str, str]]:
    """The Model tab's columns: ``table_columns`` with m before Saving and, once a fidelity is
    ``measured``, Out err and Net err before Swap.

    Those three are what a user picks by, so the wide ones go first to make room: the
    separable params (the summary has their total) and the channels (the shapes say as much),
    at ``narrow`` (80 columns) the weight error (the
    output errors tell layers apart where it cannot), the standard params and the kernel.
    """
    columns = table_columns(analysis, compact=compact, narrow=narrow)
    if measured:
        dropped = {"sep_params", "channels"}
        if narrow:
            dropped |= {"error", "params", "kernel"}
        columns = [column for column in columns if column[0] not in dropped]
    keys = [key for key, _ in columns]
    columns.insert(keys.index("saving"), M_COLUMN)
    if measured:
        at = [key for key, _ in columns].index("swap")
        columns[at:at] = list(FIDELITY_COLUMNS)
    return columns


def error_text(error: float | None, *, stale: bool = False) -> Text:
    """An output error, right-aligned: green ≤ 0.1, yellow to 0.5, red above; dim when stale."""
    if error is None:
        return Text("—", style="dim", justify="right")
    style = "green" if error <= 0.1 else "red" if error > 0.5 else "yellow"
    return Text(format_error(error), style="dim" if stale else style, justify="right")


def multiplier_cell(layer: ModelLayer) -> Text:
    """A candidate's m (bold when not 1), or a dash."""
    if not layer.candidate:
        return Text("—", style="dim", justify="right")
    return Text(
        str(layer.depth_multiplier),
        style="bold" if layer.depth_multiplier != 1 else "",
        justify="right",
    )


def fidelity_cells(layer: LayerFidelity | None, *, stale: bool) -> dict[str, Text]:
    """The Out err and Net err cells of a row (dashes for a layer that was not measured)."""
    return {
        "out_err": error_text(layer.local_error if layer else None, stale=stale),
        "net_err": error_text(layer.network_error if layer else None, stale=stale),
    }


def _figure(fidelity: Fidelity) -> tuple[str, float | None, float | None]:
    """(name, original, swapped) of the figure a user judges by: accuracy, else agreement."""
    if fidelity.original_accuracy is not None:
        return "accuracy", fidelity.original_accuracy, fidelity.swapped_accuracy
    if fidelity.agreement is not None:
        return "top-1 agreement", 1.0, fidelity.agreement
    return "", None, None


def _interval(fidelity: Fidelity) -> str:
    """The interval of ``_figure``'s swapped share, with a leading space (or nothing)."""
    name = _figure(fidelity)[0]
    interval = (
        fidelity.swapped_accuracy_interval if name == "accuracy" else fidelity.agreement_interval
    )
    return f" {format_interval(interval)}" if interval is not None and name else ""


def _where(fidelity: Fidelity) -> str:
    """ "Held out" (a recording made before the splits) or "Test split"."""
    return "Held out" if fidelity.split is None else "Test split"


def fidelity_line(fidelity: Fidelity, swapped: int) -> str:
    """One line: the test split's accuracy (or agreement) with its interval and the output
    error, original → swapped; the split and the validation figure when there are."""
    name, original, after = _figure(fidelity)
    parts = [f"{_where(fidelity)} ({fidelity.evaluated:,} samples, {swapped} swapped):"]
    if name:
        parts.append(
            f"{name} {format_share(original)} → {format_share(after)}{_interval(fidelity)},"
        )
    if name == "accuracy" and fidelity.agreement is not None:
        agreement = format_share_interval(fidelity.agreement, fidelity.agreement_interval)
        parts.append(f"agreement {agreement},")
    parts.append(f"output error 0 → {format_error(fidelity.output_error)}")
    return " ".join(parts) + _context(fidelity)


def _context(fidelity: Fidelity) -> str:
    """ "; chosen on validation …; split fit … · validation … · test …" (or nothing)."""
    tail = ""
    if fidelity.validation is not None:
        tail += f"; chosen on validation: {validation_text(fidelity.validation)}"
    if fidelity.split is not None:
        tail += f"; {split_text(fidelity.split)}"
    return tail


def _stage_figure(stage: Fidelity, name: str) -> str:
    """A stage's swapped share with its interval, or its output error where there is none."""
    if not name:
        return format_error(stage.output_error)
    return format_share(_figure(stage)[2]) + _interval(stage)


def stages_line(stages: Sequence[Fidelity]) -> str:
    """One line: each recovery stage's accuracy (or agreement) and output error, in order."""
    if not stages:
        return ""
    name, original, _after = _figure(stages[0])
    steps = [
        f"{STAGE_NAMES.get(stage.stage or '', stage.stage or '?')} {_stage_figure(stage, name)}"
        for stage in stages
    ]
    errors = " → ".join(format_error(stage.output_error) for stage in stages)
    where = "held out" if stages[0].split is None else "test"
    held_out = f"{stages[0].evaluated:,} {where}"
    head = f"Recovered ({held_out}, {name} {format_share(original)} as is): " if name else ""
    line = (head or f"Recovered ({held_out}): ") + " → ".join(steps) + f"; output error {errors}"
    return line + _context(stages[-1])


def point_score(point: TradeoffPoint) -> float | None:
    """What the trade-off plots for a point: its agreement, else 1 − its output error."""
    if point.agreement is not None:
        return point.agreement
    return 1.0 - point.output_error


def tradeoff_line(tradeoff: Tradeoff, budget: float) -> str:
    """The measured curve in words (the chart's content where there is no room for it)."""
    what = "agreement" if tradeoff.classifier else "1 − output error"
    points = " · ".join(
        f"{format_short(point.macs)} {format_share(point_score(point))}"
        for point in tradeoff.points
    )
    picked = len(tradeoff.largest_prefix(budget)) if tradeoff.classifier else None
    tail = f"; g swaps {picked} (≥ {format_share(budget)})" if picked is not None else ""
    if tradeoff.split is not None:
        tail += f"; on {tradeoff.evaluated:,} validation samples"
        note = tradeoff.resolution_note(budget) if tradeoff.classifier and budget < 1 else None
        tail += f"; {note}" if note else ""
    return f"Trade-off, MACs {what} as layers join: {points}{tail}"


class CurvePlot(NamedTuple):
    """Distillation's validation curve as the Model tab draws it: the steps checked, the
    loss at each, the agreement in percent (empty for a model that is no classifier), the
    step whose weights were kept, and the title."""

    steps: list[int]
    losses: list[float]
    agreements: list[float]
    best_step: int
    title: str


def curve_plot(curve: Sequence[CurvePoint]) -> CurvePlot | None:
    """What the recovery chart plots of ``curve`` (None when distillation did not run)."""
    if not curve:
        return None
    best = min(curve, key=lambda point: point.loss)
    classifier = all(point.agreement is not None for point in curve)
    agreements = [100 * (point.agreement or 0.0) for point in curve] if classifier else []
    what = "loss (cyan), agreement % (green, right)" if classifier else "loss (cyan)"
    return CurvePlot(
        [point.step for point in curve],
        [point.loss for point in curve],
        agreements,
        best.step,
        f"Distillation, validation {what}; kept step {best.step:,}",
    )
