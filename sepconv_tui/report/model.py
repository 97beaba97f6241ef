"""Render a ModelAnalysis: a torchinfo-like per-layer table with the swap; JSON / Markdown / CSV."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from typing import Any

from rich import box
from rich.console import Group, JustifyMethod
from rich.table import Table
from rich.text import Text

from ..model.analysis import (
    RICH_RENDERERS,
    ModelAnalysis,
    ModelLayer,
    describe_multipliers,
    format_axes,
)
from ..model.bench import ModelBenchResult
from .format import format_count, format_ratio, format_shape, format_short
from .latency import format_seconds
from .model_bench import speed_message


def format_kernel(layer: ModelLayer) -> str:
    """E.g. 3×3, 1×7, 3×7×7, 11 (1-D), or a dash for a linear."""
    return "—" if layer.kernel_size is None else format_axes(layer.kernel_size)


def format_stride(layer: ModelLayer) -> str:
    """E.g. s2 (every axis), s1×2, s1×2×2, or nothing for stride 1 and linears."""
    stride = layer.stride
    if not stride or all(step == 1 for step in stride):
        return ""
    return "s" + (str(stride[0]) if len(set(stride)) == 1 else format_axes(stride))


def format_saving(layer: ModelLayer) -> str:
    """What a swap saves: the MAC ratio (or the param ratio for an uncalled layer)."""
    if layer.separable is None:
        return "—"
    if layer.calls and layer.separable.macs:
        return format_ratio(layer.standard.macs / layer.separable.macs)
    return format_ratio(layer.standard.params / layer.separable.params) + " p"


#: Columns a terminal needs for the wide table; narrower ones get the compact one.
WIDE_COLUMNS = 160


def short_reason(layer: ModelLayer) -> str:
    """Why a layer is not a candidate, in a word: 1×1, depthwise, grouped, linear, other."""
    reason = layer.reason or ""
    if reason.endswith("(already pointwise)"):
        kernel = reason.partition(" ")[0]
        return kernel if "×" in kernel else "pointwise"  # 1×1, 1×1×1; a 1-D kernel size 1
    for start, word in (
        ("already depthwise", "depthwise"),
        ("grouped", "grouped"),
        ("linear", "linear"),
    ):
        if reason.startswith(start):
            return word
    return "other"


def _swap_mark(layer: ModelLayer) -> Text:
    """✔ swapped, · candidate kept, or in a word why it is not a candidate."""
    if layer.swap:
        return Text("✔", style="bold green")
    if layer.candidate:
        return Text("·", style="dim")
    return Text(short_reason(layer), style="dim")


def _shape_cell(layer: ModelLayer) -> str:
    """Input → output shape, or 'not called'."""
    if layer.input_shape is None:
        return "not called"
    calls = f" ×{layer.calls}" if layer.calls > 1 else ""
    return f"{format_shape(layer.input_shape)} → {format_shape(layer.output_shape)}{calls}"


def model_table(analysis: ModelAnalysis, *, compact: bool = False) -> Table:
    """Per conv/linear: shapes, kernel, channels, params and MACs as is and as separable, swap.

    The same columns and cells as the Model tab's table (``table_columns``, ``layer_cells``);
    ``compact`` fits 80 columns: no shapes or channels, counts in short form (11.69M).
    """
    table = Table(
        title=f"{analysis.source} @ {format_shape(analysis.input_shape)}",
        title_style="bold",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    columns = table_columns(analysis, compact=compact)
    for key, heading in columns:
        if key == "layer":  # long module paths fold rather than squeeze the counts
            table.add_column(heading, overflow="fold", min_width=14)
        else:
            justify: JustifyMethod = "left" if key in ("shapes", "kernel", "swap") else "right"
            table.add_column(
                heading, justify=justify, no_wrap=True, min_width=9 if key == "swap" else None
            )
    for layer in analysis.layers:
        table.add_row(*layer_cells(layer, columns, compact=compact))
    table.add_row(*other_cells(analysis, columns, compact=compact))
    table.add_section()
    table.add_row(*total_cells(analysis, columns, compact=compact, label="Total"))
    return table


def _both(value: int) -> str:
    """Exact and short: 11,689,512 (11.69M)."""
    return f"{format_count(value)} ({format_short(value)})"


def totals_message(analysis: ModelAnalysis) -> str:
    """Params and MACs before → after, with the ratios and the candidates swapped."""
    original, swapped = analysis.original, analysis.swapped
    return (
        f"Params: {_both(original.params)} → {_both(swapped.params)}, "
        f"{format_ratio(analysis.param_ratio)} fewer\n"
        f"MACs:   {_both(original.macs)} → {_both(swapped.macs)}, "
        f"{format_ratio(analysis.mac_ratio)} fewer\n"
        f"Swapped {len(analysis.swapped_names)} of {len(analysis.candidates)} candidate convs "
        f"({multiplier_range(analysis)})"
    )


def multiplier_range(analysis: ModelAnalysis) -> str:
    """ "depth multiplier 2" when the swapped layers share m; else "per-layer m 9–25" (auto:E,
    or ``+``/``-`` in the tab, gave each its own)."""
    shared = analysis.shared_multiplier
    if shared is not None:
        return f"depth multiplier {shared}"
    return describe_multipliers(
        {layer.name: layer.depth_multiplier for layer in analysis.candidates if layer.swap}
    )


def check_message(analysis: ModelAnalysis) -> str:
    """Whether the closed form and PyTorch agree on every layer."""
    where = "meta device" if analysis.device == "meta" else "CPU"
    if analysis.verified and all(analysis.verified.values()):
        return (
            "✔ Closed form and PyTorch (numel, FlopCounterMode on the "
            f"{where}) agree on every layer's params, MACs and shapes, both sides"
        )
    differing = [name for name, ok in analysis.verified.items() if not ok]
    return "✘ Closed form and PyTorch differ on " + ", ".join(differing) + " (see notes)"


def render(analysis: ModelAnalysis, *, compact: bool = False) -> Group:
    """Everything the CLI prints for a model: table, totals, cross-check, notes."""
    check_style = "green" if all(analysis.verified.values()) else "red"
    parts: list[Any] = [
        model_table(analysis, compact=compact),
        Text(totals_message(analysis), style="bold"),
        Text(check_message(analysis), style=check_style),
    ]
    parts += [Text("Note: " + note, style="dim") for note in analysis.notes]
    parts.append(
        Text(
            "MACs exclude bias adds (FLOPs = 2 × MACs); other ops: norms, embeddings, "
            "attention matmuls… counted by PyTorch alone. Swap: ✔ swapped, · candidate kept, "
            "else why not. Saving: MACs ÷ separable MACs (p: params, for a layer never called). "
            "Total: as is, then swapped.",
            style="dim",
        )
    )
    return Group(*parts)


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
            f"| {layer.name} | {_shape_cell(layer)} | "
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


# The Model tab: the summary above its table, the table's cells, and the MACs per stage.


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
        f"Params {_both(original.params)} → {_both(swapped.params)}: "
        f"{format_ratio(analysis.param_ratio)} fewer",
        f"MACs   {_both(original.macs)} → {_both(swapped.macs)}: "
        f"{format_ratio(analysis.mac_ratio)} fewer",
        f"Swapped {len(analysis.swapped_names)} of {len(analysis.candidates)} candidates  "
        + (
            "✔ closed form and PyTorch agree"
            if agree
            else f"✘ closed form and PyTorch differ on {differing or 'nothing checked'}"
        ),
    ]


def has_errors(analysis: ModelAnalysis) -> bool:
    """True when the analysis carries weight errors (it was made with the model's weights)."""
    return any(layer.weight_error is not None for layer in analysis.layers)


def table_columns(
    analysis: ModelAnalysis, *, compact: bool, narrow: bool = False
) -> list[tuple[str, str]]:
    """(key, heading) of each column of the Model tab's table.

    ``compact`` drops the shape and channel columns (and counts go short); ``narrow`` (80
    columns) drops the separable params and MACs too: the summary above has their totals.
    """
    columns = [("layer", "Layer")]
    if not compact:
        columns += [("shapes", "Input → output")]
    columns += [("kernel", "Kernel")]
    if not compact:
        columns += [("channels", "C_in → C_out")]
    columns += [("params", "Params"), ("macs", "MACs")]
    if not narrow:
        columns += [("sep_params", "Sep params"), ("sep_macs", "Sep MACs")]
    columns += [("saving", "Saving")]
    if has_errors(analysis):
        columns += [("error", "Error")]
    columns += [("swap", "Swap")]
    return columns


def swap_cell(layer: ModelLayer) -> Text:
    """The swap mark of a row: ✔ swapped, · candidate kept, else in a word why not."""
    return _swap_mark(layer)


def _right(text: str, style: str = "") -> Text:
    """A right-aligned cell (counts line up in a DataTable)."""
    return Text(text, style=style, justify="right")


def _error_cell(layer: ModelLayer) -> Text:
    """A layer's relative weight error, e.g. 0.412, or a dash."""
    return _right("—" if layer.weight_error is None else f"{layer.weight_error:.3f}")


def layer_cells(
    layer: ModelLayer, columns: list[tuple[str, str]], *, compact: bool
) -> list[str | Text]:
    """One row of the Model tab's table, cell by cell in ``columns`` order."""
    count = format_short if compact else format_count
    separable = layer.separable
    style = "" if layer.calls else "dim"
    values: dict[str, str | Text] = {
        "layer": Text(layer.name, style=style),
        "shapes": Text(_shape_cell(layer), style=style),
        "kernel": (format_kernel(layer) + " " + format_stride(layer)).strip(),
        "channels": _right(f"{layer.in_channels} → {layer.out_channels}"),
        "params": _right(count(layer.standard.params), style),
        "macs": _right(count(layer.standard.macs), style),
        "sep_params": _right(count(separable.params) if separable else "—", style),
        "sep_macs": _right(count(separable.macs) if separable else "—", style),
        "saving": _right(format_saving(layer), style),
        "error": _error_cell(layer),
        "swap": swap_cell(layer),
    }
    return [values[key] for key, _ in columns]


def other_cells(analysis: ModelAnalysis, columns: list[tuple[str, str]], *, compact: bool) -> list:
    """The "other ops" row: what PyTorch counts outside the convs and linears."""
    count = format_short if compact else format_count
    values = {
        "layer": Text("other ops (PyTorch)", style="italic"),
        "params": _right(count(analysis.other.params)),
        "macs": _right(count(analysis.other.macs)),
    }
    return [values.get(key, "") for key, _ in columns]


def total_cells(
    analysis: ModelAnalysis,
    columns: list[tuple[str, str]],
    *,
    compact: bool,
    label: str = "Total (as is, selected)",
) -> list:
    """The totals row: params and MACs as is, then with the selection, the MAC ratio, k/n."""
    count = format_short if compact else format_count
    original, swapped = analysis.original, analysis.swapped
    values = {
        "layer": Text(label, style="bold"),
        "params": _right(count(original.params), "bold"),
        "macs": _right(count(original.macs), "bold"),
        "sep_params": _right(count(swapped.params), "bold"),
        "sep_macs": _right(count(swapped.macs), "bold"),
        "saving": _right(format_ratio(analysis.mac_ratio), "bold"),
        "swap": Text(f"{len(analysis.swapped_names)}/{len(analysis.candidates)}", style="bold"),
    }
    return [values.get(key, "") for key, _ in columns]


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


def bench_lines(result: ModelBenchResult) -> list[str]:
    """Two lines for the Model tab: both models' median (and IQR), then the speed beside MACs."""
    layout = "channels-last" if result.channels_last else "NCHW"
    threads = f"{result.threads} thread{'s' if result.threads != 1 else ''}"
    return [
        f"Timed ({result.device}, {threads}, fp32 {layout}, {result.swapped_count} of "
        f"{result.candidates} swapped): original {format_seconds(result.original.median_s)} "
        f"(IQR {format_seconds(result.original.iqr_s)}), swapped "
        f"{format_seconds(result.swapped.median_s)} (IQR {format_seconds(result.swapped.iqr_s)})",
        speed_message(result),
    ]


# So that a notebook's rich.print(analysis) draws this without the data importing the report.
RICH_RENDERERS[ModelAnalysis] = render
