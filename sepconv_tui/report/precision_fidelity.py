"""Render fidelity at a precision: the fp32 original, then the original and the swapped model at
the precision, each held to the fp32 original on the test split (shares with 95% intervals)."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text

from ..model.deploy.deploy_precision import RUNTIME_LABELS
from ..model.measure.precision_fidelity import PrecisionFidelity
from ..model.results.fidelity_result import AtPrecision
from .fidelity import format_share_interval, validation_text
from .swap import format_error

COLUMNS = ("Model", "Runtime", "Ran", "Accuracy", "Agreement", "Output error", "Samples")


def _rows(result: PrecisionFidelity) -> list[tuple[str, str, AtPrecision]]:
    """(model, runtime label, figures) of the three rows, fp32 original first."""
    runtime = RUNTIME_LABELS.get(result.runtime, result.runtime)
    return [
        ("original fp32", RUNTIME_LABELS["eager"], result.fp32_original),
        (f"original {result.precision}", runtime, result.original),
        (f"swapped {result.precision}", runtime, result.swapped),
    ]


def _cells(model: str, runtime: str, figures: AtPrecision) -> list[str]:
    """One row's texts."""
    return [
        model,
        runtime,
        figures.ran,
        format_share_interval(figures.accuracy, figures.accuracy_interval),
        format_share_interval(figures.agreement, figures.agreement_interval),
        format_error(figures.output_error),
        f"{figures.evaluated:,}",
    ]


def _caption(result: PrecisionFidelity) -> str:
    """The split, the int8 calibration and what chose the selection, in one caption."""
    parts = [
        "agreement and output error against the fp32 original; "
        "Ran: the precision the runtime reports it ran"
    ]
    if result.split is not None:
        parts.append(f"on the test split ({result.split})")
    if result.calibration is not None:
        scales = "per channel" if result.per_channel else "per tensor"
        parts.append(f"int8 {scales}, calibrated on {result.calibration}")
    if result.validation is not None:
        parts.append(f"chosen on {validation_text(result.validation)}")
    return "; ".join(parts)


def table(result: PrecisionFidelity) -> Table:
    """The three rows: fp32 original, original and swapped at the precision."""
    runtime = RUNTIME_LABELS.get(result.runtime, result.runtime)
    rendered = Table(
        title=f"Fidelity at {result.precision} ({runtime})",
        title_style="bold",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
        caption=_caption(result),
    )
    for column in COLUMNS:
        rendered.add_column(column, no_wrap=column != "Runtime", justify="left")
    for row in _rows(result):
        rendered.add_row(*_cells(*row))
    return rendered


def render(result: PrecisionFidelity) -> Group:
    """Everything ``sepconv-tui fidelity --precision P`` prints."""
    notes = [Text(f"note: {note}", style="dim") for note in result.notes]
    return Group(table(result), *notes)


def to_json(result: PrecisionFidelity) -> str:
    """The JSON document."""
    return json.dumps(result.to_dict(), indent=2, ensure_ascii=False)


def to_markdown(result: PrecisionFidelity) -> str:
    """The three rows as a Markdown table, the caption and notes below."""
    lines = [
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "|".join("---" for _ in COLUMNS) + "|",
    ]
    lines += ["| " + " | ".join(_cells(*row)) + " |" for row in _rows(result)]
    lines += ["", _caption(result)]
    lines += [f"- note: {note}" for note in result.notes]
    return "\n".join(lines) + "\n"


def to_csv(result: PrecisionFidelity) -> str:
    """One CSV row per model, plain numbers."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(
        ["model", "precision", "runtime", "ran", "accuracy", "agreement", "output_error", "n"]
    )
    for model, _runtime, figures in _rows(result):
        values: list[Any] = [
            model.split()[0],
            model.split()[1],
            "eager" if figures is result.fp32_original else result.runtime,
            figures.ran,
            figures.accuracy,
            figures.agreement,
            figures.output_error,
            figures.evaluated,
        ]
        writer.writerow(["" if value is None else value for value in values])
    return buffer.getvalue()
