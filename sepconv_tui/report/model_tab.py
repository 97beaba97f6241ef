"""The Model tab's own text: the summary above its table, the MACs per stage, ``b``'s matrix."""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import Group
from rich.table import Table
from rich.text import Text

from ..model.results.bench_result import ModelBenchResult
from ..model.vocabulary.analysis import ModelAnalysis
from .format import format_ratio, format_shape
from .latency import format_seconds
from .model_cells import both_counts, multiplier_range
from .model_matrix import answer_lines, buys_text, cell_name, sides_text


def summary_lines(analysis: ModelAnalysis) -> list[str]:
    """The Model tab's summary: model and input, params and MACs as is → selected, the check.

    Exact figures with thousands separators beside the short form (11,689,512 (11.69M)), both
    "× fewer" ratios, how many candidates are swapped, and whether the two methods agree.
    """
    original, swapped = analysis.original, analysis.swapped
    output = format_shape(analysis.output_shape) if analysis.output_shape else "no tensor"
    agree = analysis.verified and all(analysis.verified.values())
    differing = ", ".join(name for name, ok in analysis.verified.items() if not ok)
    return [
        f"{analysis.source}  {format_shape(analysis.input_shape)} → {output}, "
        f"{multiplier_range(analysis)}",
        f"Params {both_counts(original.params)} → {both_counts(swapped.params)}: "
        f"{format_ratio(analysis.param_ratio)} fewer",
        f"MACs   {both_counts(original.macs)} → {both_counts(swapped.macs)}: "
        f"{format_ratio(analysis.mac_ratio)} fewer",
        f"Swapped {len(analysis.swapped_names)} of {len(analysis.candidates)} candidates  "
        + (
            "✔ closed form and PyTorch agree"
            if agree
            else f"✘ closed form and PyTorch differ on {differing or 'nothing checked'}"
        ),
    ]


@dataclass(frozen=True)
class StageMacs:
    """One bar pair of the Model tab's chart: a stage's MACs as is and with the selection."""

    label: str
    original: int
    selected: int


#: Up to this many convs and linears, the chart shows one bar pair per layer.
PER_LAYER_BARS = 12
#: The chart groups by the shortest name prefix that gives at most this many stages.
MAX_STAGES = 20


def _prefix(name: str, depth: int) -> str:
    """The first ``depth`` dotted parts of a module path."""
    return ".".join(name.split(".")[:depth])


def stage_macs(analysis: ModelAnalysis) -> list[StageMacs]:
    """MACs per stage (per layer for a small model), as is and with the selection.

    A stage is a module-path prefix ("layer1", "features.3"): the shortest depth that splits
    the model into several stages without exceeding MAX_STAGES; layers never called are left
    out, and so are the other ops (PyTorch counts them for the model as a whole).
    """
    layers = [layer for layer in analysis.layers if layer.calls]
    if len(layers) <= PER_LAYER_BARS:
        groups = [layer.name for layer in layers]
        key = {layer.name: layer.name for layer in layers}
    else:
        deepest = max(len(layer.name.split(".")) for layer in layers)
        chosen = 1
        for depth in range(1, deepest + 1):
            count = len({_prefix(layer.name, depth) for layer in layers})
            if count > MAX_STAGES:
                break
            chosen = depth
            if count >= 4:
                break
        key = {layer.name: _prefix(layer.name, chosen) for layer in layers}
        groups = list(dict.fromkeys(key.values()))
    original = dict.fromkeys(groups, 0)
    selected = dict.fromkeys(groups, 0)
    for layer in layers:
        original[key[layer.name]] += layer.standard.macs
        selected[key[layer.name]] += layer.cost.macs
    return [StageMacs(group, original[group], selected[group]) for group in groups]


def matrix_panel(result: ModelBenchResult) -> Group:
    """``b``'s matrix, compact for the tab: one line per runtime · precision cell, both sides'
    medians and what the swap buys there (bench --model's wording), each side's best in bold
    green; under it, why the absent cells are absent (alike reasons once) and how it was
    timed."""
    threads = f"{result.threads} thread{'s' if result.threads != 1 else ''}"
    table = Table(
        title="b: every runtime · precision (medians)",
        title_style="bold",
        box=None,
        pad_edge=False,
        collapse_padding=False,
    )
    table.add_column("Runtime · precision", no_wrap=True)
    table.add_column("Original", justify="right", no_wrap=True)
    table.add_column("Swapped", justify="right", no_wrap=True)
    table.add_column("Swap buys", justify="right", no_wrap=True)
    if result.data is not None:  # b with data: each side's agreement with the fp32 original
        table.add_column("Agreement", justify="right", no_wrap=True)
    best = result.best
    absent: dict[str, list[str]] = {}  # reason → the cells it keeps out
    for cell in result.matrix:
        if cell.original is None or cell.swapped is None:
            table.add_row(Text(cell_name(cell), style="dim"), Text("absent", style="dim"))
            absent.setdefault(cell.absent or "not timed", []).append(cell_name(cell))
            continue
        table.add_row(
            cell_name(cell),
            Text(
                format_seconds(cell.original.median_s),
                style=BEST if best is not None and cell is best.original else "",
            ),
            Text(
                format_seconds(cell.swapped.median_s),
                style=BEST if best is not None and cell is best.swapped else "",
            ),
            buys_text(cell),
            *([sides_text(cell, "agreement")] if result.data is not None else []),
        )
    reasons = [
        Text(f"{', '.join(cells)} absent: {reason}", style="dim")
        for reason, cells in absent.items()
    ]
    how = Text(
        f"{result.swapped_count} of {result.candidates} swapped, {threads}, each cell in its own "
        "process; a tie: the medians lie within each other's IQR",
        style="dim",
    )
    return Group(table, *reasons, how)


#: The style of each side's best cell in ``b``'s matrix.
BEST = "bold green"


def matrix_answer(result: ModelBenchResult) -> str:
    """``b``'s answer for the summary: each side's best deployment and what the swap buys
    against the original's best, as bench --model words it (and, were it measured on data,
    lever by lever)."""
    return "\n".join(answer_lines(result))
