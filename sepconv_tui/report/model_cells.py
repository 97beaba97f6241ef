"""A model analysis's words and table cells, shared by the CLI table, the exports and the tab."""

from __future__ import annotations

from rich.text import Text

from ..model.vocabulary.analysis import ModelAnalysis, ModelLayer, describe_multipliers, format_axes
from .format import format_count, format_ratio, format_shape, format_short


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


def swap_cell(layer: ModelLayer) -> Text:
    """✔ swapped, · candidate kept, or in a word why it is not a candidate."""
    if layer.swap:
        return Text("✔", style="bold green")
    if layer.candidate:
        return Text("·", style="dim")
    return Text(short_reason(layer), style="dim")


def shape_cell(layer: ModelLayer) -> str:
    """Input → output shape (× calls when more than one), or 'not called'."""
    if layer.input_shape is None:
        return "not called"
    calls = f" ×{layer.calls}" if layer.calls > 1 else ""
    return f"{format_shape(layer.input_shape)} → {format_shape(layer.output_shape)}{calls}"


def both_counts(value: int) -> str:
    """Exact and short: 11,689,512 (11.69M)."""
    return f"{format_count(value)} ({format_short(value)})"


def totals_message(analysis: ModelAnalysis) -> str:
    """Params and MACs before → after, with the ratios and the candidates swapped."""
    original, swapped = analysis.original, analysis.swapped
    return (
        f"Params: {both_counts(original.params)} → {both_counts(swapped.params)}, "
        f"{format_ratio(analysis.param_ratio)} fewer\n"
        f"MACs:   {both_counts(original.macs)} → {both_counts(swapped.macs)}, "
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
        "shapes": Text(shape_cell(layer), style=style),
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
