"""Render a swap: each swapped conv's relative weight error, the totals, and the plan JSON."""

from __future__ import annotations

import json
from typing import Any

from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text

from ..model.vocabulary.analysis import ModelLayer, describe_multipliers
from ..model.vocabulary.plan import SwapResult
from .format import format_count, format_ratio, format_short
from .model_cells import format_kernel, format_saving, format_stride

#: Errors at or below this are shown green (the block nearly reproduces the conv), above
#: ``LARGE_ERROR`` red (the swapped layer will need retraining).
SMALL_ERROR = 0.1
LARGE_ERROR = 0.5


def format_error(error: float | None) -> str:
    """A relative error with three significant digits, e.g. 0.412, 3.1e-08, or a dash."""
    return "—" if error is None else f"{error:.3g}"


def _error_text(error: float | None) -> Text:
    """The error, coloured by how much of the weights it loses."""
    if error is None:
        return Text("—", style="dim")
    style = "green" if error <= SMALL_ERROR else "red" if error > LARGE_ERROR else "yellow"
    return Text(format_error(error), style=style)


def _layers(result: SwapResult) -> dict[str, ModelLayer]:
    """The analysis rows of the swapped layers, by name (empty without an analysis)."""
    if result.analysis is None:
        return {}
    return {layer.name: layer for layer in result.analysis.layers if layer.swap}


def swap_table(result: SwapResult) -> Table:
    """One row per swapped conv: geometry, params before and after, MAC saving, error."""
    title = f"{result.source or 'model'}: {len(result.swapped)} convs swapped"
    table = Table(
        title=title,
        title_style="bold",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    table.add_column("Layer", overflow="fold", min_width=14)
    table.add_column("Kernel", no_wrap=True)
    table.add_column("C_in → C_out", justify="right", no_wrap=True)
    table.add_column("Params", justify="right", no_wrap=True)
    table.add_column("Sep params", justify="right", no_wrap=True)
    table.add_column("Saving", justify="right", no_wrap=True)
    table.add_column("Weight err", justify="right", no_wrap=True)
    rows = _layers(result)
    for name in result.swapped:
        layer = rows.get(name)
        error = _error_text(result.weight_error.get(name))
        if layer is None:
            table.add_row(name, "", "", "", "", "", error)
            continue
        table.add_row(
            name,
            (format_kernel(layer) + " " + format_stride(layer)).strip(),
            f"{layer.in_channels} → {layer.out_channels}",
            format_short(layer.standard.params),
            format_short(layer.separable.params) if layer.separable else "—",
            format_saving(layer),
            error,
        )
    return table


def error_summary(result: SwapResult) -> str:
    """Mean and largest relative error over the swapped convs, or why there are none."""
    errors = result.weight_error
    if not result.swapped:
        return "No conv swapped: nothing to initialise."
    if not errors:
        return "No errors: the model's weights are not real (meta)."
    worst = max(errors, key=lambda name: errors[name])
    mean = sum(errors.values()) / len(errors)
    how = (
        "SVD of the original weights (best block in Frobenius norm)"
        if result.init == "svd"
        else "PyTorch's random initialisation"
    )
    return (
        f"Relative weight error ‖W − Ŵ‖/‖W‖ with {how}: mean {format_error(mean)}, "
        f"largest {format_error(errors[worst])} ({worst})"
    )


def totals_message(result: SwapResult) -> str:
    """Params (and MACs, with an analysis) before → after, and how many convs were swapped."""
    lines = []
    if result.params:
        before, after = result.params["original"], result.params["swapped"]
        lines.append(
            f"Params: {format_count(before)} → {format_count(after)}, "
            f"{format_ratio(before / after if after else None)} fewer"
        )
    analysis = result.analysis
    if analysis is not None:
        lines.append(
            f"MACs:   {format_count(analysis.original.macs)} → "
            f"{format_count(analysis.swapped.macs)}, {format_ratio(analysis.mac_ratio)} fewer"
        )
        lines.append(
            f"Swapped {len(result.swapped)} of {len(analysis.candidates)} candidate convs "
            f"({describe_multipliers(result.depth_multiplier)}, init {result.init})"
        )
    else:
        lines.append(
            f"Swapped {len(result.swapped)} convs "
            f"({describe_multipliers(result.depth_multiplier)}, init {result.init})"
        )
    return "\n".join(lines)


def render(result: SwapResult, written: list[str] | None = None) -> Group:
    """Everything ``sepconv-tui swap`` prints: table, totals, errors, the files written."""
    parts: list[Any] = [
        swap_table(result),
        Text(totals_message(result), style="bold"),
        Text(error_summary(result)),
    ]
    if written:
        parts.append(Text("Wrote " + " and ".join(written), style="dim"))
    parts.append(
        Text(
            "Weight err: ‖W − Ŵ‖_F / ‖W‖_F of the block's effective kernel; 0 reproduces the "
            "conv exactly. Saving: MACs ÷ separable MACs. Restore with apply_plan(build(), "
            "plan).load_state_dict(torch.load('swapped.pt')).",
            style="dim",
        )
    )
    return Group(*parts)


def to_json(result: SwapResult) -> str:
    """The plan JSON (what ``plan.json`` holds)."""
    return json.dumps(result.to_dict(), indent=2)
