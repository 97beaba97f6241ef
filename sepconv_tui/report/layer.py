"""Render a Comparison: Rich renderables for the CLI and the app, and JSON / Markdown / CSV."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass

from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text

from ..core.analytic import conv_output_size
from ..core.compare import Comparison
from ..core.figures import ConvFigures, SeparableFigures, Shape
from ..core.spec import format_axes
from .format import format_count, format_ratio, format_shape
from .memory import memory_markdown, memory_table

CONVENTION = (
    "MACs = multiply-accumulates, bias adds not counted; FLOPs = 2 × MACs "
    "(torchinfo and ptflops add bias adds; fvcore calls MACs 'flops')."
)


#: k^d as the formulas print it: k for 1-D, k² for 2-D, k³ for 3-D.
_POWER = {1: "", 2: "²", 3: "³"}


def kernel_power(dims: int) -> str:
    """ "k", "k²" or "k³": the kernel's elements per channel in a ``dims``-D layer."""
    return "k" + _POWER[dims]


def textbook_formula(dims: int, depth_multiplier: int) -> str:
    """Howard et al.'s ratio as text: 1/(1/C_out + 1/k²), with m when it is not 1."""
    k = kernel_power(dims)
    return f"1/(1/C_out + 1/{k})" if depth_multiplier == 1 else f"1/(m·(1/C_out + 1/{k}))"


@dataclass(frozen=True)
class TableRow:
    """One row of the figures table: a conv, or the separable block's total."""

    layer: str
    kind: str  # "standard", "depthwise", "pointwise" or "total"

    @property
    def is_part(self) -> bool:
        """True for the depthwise and pointwise rows (the parts of the separable block)."""
        return self.kind in ("depthwise", "pointwise")

    params: int
    bias_params: int
    macs: int | None
    output_shape: Shape | None

    @property
    def flops(self) -> int | None:
        """FLOPs = 2 × MACs."""
        return None if self.macs is None else 2 * self.macs


def table_rows(comparison: Comparison) -> list[TableRow]:
    """The figures table as plain rows: standard conv, depthwise, pointwise, separable total."""
    spec = comparison.spec
    dims, channels = spec.dims, spec.depthwise_channels
    k = format_axes(spec.kernel_size, dims)
    k_sep = format_axes(spec.separable_kernel_size, dims)
    one = format_axes(1, dims)
    standard, separable = comparison.standard, comparison.separable
    labelled: list[tuple[str, str, ConvFigures | SeparableFigures]] = [
        (f"Standard conv {k}, {spec.in_channels}→{spec.out_channels}", "standard", standard),
        (
            f"Depthwise {k_sep} g={spec.in_channels}, {spec.in_channels}→{channels}",
            "depthwise",
            separable.depthwise,
        ),
        (f"Pointwise {one}, {channels}→{spec.out_channels}", "pointwise", separable.pointwise),
        ("Separable total", "total", separable),
    ]
    return [
        TableRow(label, kind, part.params, part.bias_params, part.macs, part.output_shape)
        for label, kind, part in labelled
    ]


#: Short row labels for narrow terminals.
_COMPACT_LABELS = {"standard": "Std", "depthwise": " dw", "pointwise": " pw", "total": "Sep"}


def figures_table(comparison: Comparison, *, compact: bool = False) -> Table:
    """Parameters (bias shown), MACs and output shapes of the standard conv and the block.

    ``compact`` fits about 50 columns: short labels and the bias counts in the caption.
    """
    rows = table_rows(comparison)
    table = Table(
        title="Standard vs separable"
        if compact
        else f"Standard Conv{comparison.spec.dims}d vs depthwise-separable block",
        title_style="bold",
        box=box.SIMPLE_HEAD if compact else box.ROUNDED,
        pad_edge=not compact,
    )
    table.add_column("Layer")
    table.add_column("Params", justify="right", no_wrap=True)
    if compact:
        table.caption = (
            f"Std = standard conv; dw + pw = Sep, the separable block. Bias params: "
            f"standard {format_count(rows[0].bias_params)}, separable "
            f"{format_count(rows[-1].bias_params)}"
        )
    else:
        table.add_column("Bias", justify="right")
    table.add_column("MACs", justify="right", no_wrap=True)
    table.add_column("Output shape", no_wrap=True)
    for row in rows:
        if compact:
            label = _COMPACT_LABELS[row.kind]
            bias_cells: list[str] = []
        else:
            label = f"  {row.layer}" if row.is_part else row.layer
            bias_cells = [format_count(row.bias_params)]
        table.add_row(
            label,
            format_count(row.params),
            *bias_cells,
            format_count(row.macs),
            format_shape(row.output_shape),
            style="dim" if row.is_part else "bold",
            end_section=row.kind == "standard",
        )
    return table


def ratio_message(comparison: Comparison) -> str:
    """The headline: parameter ratio (two decimals), MAC ratio and the textbook ratio beside it."""
    standard_params = format_count(comparison.standard.params)
    separable_params = format_count(comparison.separable.params)
    parts = [
        f"{format_ratio(comparison.param_ratio)} fewer parameters "
        f"({standard_params} → {separable_params})"
    ]
    if comparison.mac_ratio is not None:
        parts.append(f"{format_ratio(comparison.mac_ratio)} fewer MACs")
    formula = textbook_formula(comparison.spec.dims, comparison.spec.depth_multiplier)
    parts.append(f"textbook {formula} = {format_ratio(comparison.textbook_ratio)}")
    return " · ".join(parts)


def flops_message(comparison: Comparison) -> str:
    """FLOPs of both sides, with the counting convention."""
    standard, separable = comparison.standard.macs, comparison.separable.macs
    standard_flops = None if standard is None else 2 * standard
    separable_flops = None if separable is None else 2 * separable
    return (
        f"FLOPs: standard {format_count(standard_flops)} · separable "
        f"{format_count(separable_flops)}. {CONVENTION}"
    )


def verdict_message(comparison: Comparison) -> str:
    """✔ when the output shapes match, else ✘ 'mismatch' and why."""
    standard_shape = comparison.standard.output_shape
    separable_shape = comparison.separable.output_shape
    if comparison.shapes_match:
        return f"✔ Shapes match: both {format_shape(standard_shape)}"
    if standard_shape is not None and separable_shape is not None:
        shapes = (
            f"standard {format_shape(standard_shape)} vs separable {format_shape(separable_shape)}"
        )
        return f"✘ Shape mismatch: {shapes}; " + "; ".join(comparison.reasons)
    return "✘ Shape mismatch: " + "; ".join(comparison.reasons)


def verification_message(comparison: Comparison) -> str:
    """Whether the closed form and PyTorch agree: pending, ✔ or ✘ naming the figures."""
    verified = comparison.verified
    if verified is None:
        return "… PyTorch cross-check pending (figures above are closed-form)"
    if verified.params is None:
        return "? " + "; ".join(comparison.notes)
    if verified.all_agree:
        return "✔ Closed form and PyTorch agree on params, shapes and MACs"
    differing = [name for name, ok in verified.to_dict().items() if not ok]
    return "✘ Closed form and PyTorch differ on " + ", ".join(differing)


def verdict_text(comparison: Comparison) -> Text:
    """The verdict, bold green or bold red."""
    style = "bold green" if comparison.shapes_match else "bold red"
    return Text(verdict_message(comparison), style=style)


def verification_text(comparison: Comparison) -> Text:
    """The cross-check line, green when both methods agree."""
    message = verification_message(comparison)
    if comparison.verified is None or comparison.verified.params is None:
        return Text(message, style="yellow")
    return Text(message, style="green" if comparison.is_verified else "bold red")


def render(comparison: Comparison) -> Group:
    """Everything the CLI prints for one comparison."""
    return Group(
        figures_table(comparison),
        Text(ratio_message(comparison), style="bold"),
        Text(flops_message(comparison), style="dim"),
        verdict_text(comparison),
        verification_text(comparison),
        Text(),
        memory_table(comparison.memory),
    )


def to_json(comparison: Comparison) -> str:
    """The comparison as the JSON document of DESIGN.md."""
    return json.dumps(comparison.to_dict(), indent=2, ensure_ascii=False)


def to_markdown(comparison: Comparison) -> str:
    """The comparison as a Markdown table plus the ratio, verdict and cross-check lines."""
    lines = [
        "| Layer | Params | Bias | MACs | FLOPs | Output shape |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for row in table_rows(comparison):
        lines.append(
            f"| {row.layer} | {format_count(row.params)} | {format_count(row.bias_params)} | "
            f"{format_count(row.macs)} | {format_count(row.flops)} | "
            f"`{format_shape(row.output_shape)}` |"
        )
    lines += [
        "",
        f"**{ratio_message(comparison)}**",
        "",
        f"{verdict_message(comparison)}",
        "",
        verification_message(comparison),
        "",
        f"_{CONVENTION}_",
        "",
        "### Memory",
        "",
        memory_markdown(comparison.memory),
    ]
    return "\n".join(lines)


def to_csv(comparison: Comparison) -> str:
    """The figures table as CSV, one row per conv plus the separable total."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["layer", "params", "bias_params", "macs", "flops", "output_shape"])
    for row in table_rows(comparison):
        writer.writerow(
            [
                row.layer,
                row.params,
                row.bias_params,
                "" if row.macs is None else row.macs,
                "" if row.flops is None else row.flops,
                "" if row.output_shape is None else format_shape(row.output_shape),
            ]
        )
    return buffer.getvalue()


def _output_size_line(
    name: str, size: int, kernel: int, stride: int, padding: int, dilation: int
) -> str:
    """out = ⌊(H + 2p − d·(k−1) − 1)/s⌋ + 1 with the numbers substituted."""
    out = conv_output_size(size, kernel, stride, padding, dilation)
    result = str(out) if out > 0 else f"{out} → no output"
    formula = f"⌊({size} + 2·{padding} − {dilation}·({kernel}−1) − 1) / {stride}⌋ + 1"
    return f"{name:<11} {formula} = {result}"


#: The symbol of each spatial axis in the formulas.
_AXIS_SYMBOLS = {"length": "L", "depth": "D", "height": "H", "width": "W"}


def _output_size_lines(comparison: Comparison) -> list[str]:
    """Each output axis's formula with the numbers substituted, both sides.

    One axis stands for the rest when every axis has the same size and geometry (the square
    layer: "width likewise").
    """
    spec = comparison.spec
    standard_geometry = [
        spec.axes(name) for name in ("kernel_size", "stride", "padding", "dilation")
    ]
    separable_geometry = [
        spec.axes(name) for name in ("sep_kernel_size", "sep_stride", "sep_padding", "sep_dilation")
    ]
    geometry: list[tuple[str, int, tuple[int, ...], tuple[int, ...]]] = [
        (
            axis,
            size,
            tuple(values[index] for values in standard_geometry),
            tuple(values[index] for values in separable_geometry),
        )
        for index, (axis, size) in enumerate(zip(spec.spatial_axes, spec.spatial_size, strict=True))
    ]
    alike = len({values[1:] for values in geometry}) == 1
    shown = geometry[-2:-1] if alike and spec.dims == 2 else geometry
    pointwise = format_axes(1, spec.dims) if spec.dims > 1 else "kernel-1"
    lines: list[str] = []
    for axis, size, (k, s, p, d), (k_sep, s_sep, p_sep, d_sep) in shown:
        symbol = _AXIS_SYMBOLS[axis]
        others = [name for name in spec.spatial_axes if name != axis]
        likewise = f" ({' and '.join(others)} likewise)" if alike and others else ""
        if lines:
            lines.append("")
        lines += [
            f"Output {axis}: ⌊({symbol} + 2p − d·(k−1) − 1) / s⌋ + 1{likewise}",
            _output_size_line("  standard", size, k, s, p, d),
            _output_size_line("  separable", size, k_sep, s_sep, p_sep, d_sep)
            + f" (the {pointwise} pointwise keeps it)",
        ]
        if alike:
            break
    return lines


def formulas_markdown(comparison: Comparison) -> str:
    """The closed-form formulas with this comparison's numbers substituted, as Markdown.

    In d dimensions the kernel has k^d elements per channel (k₁·…·k_d per axis).
    """
    spec = comparison.spec
    c_in, c_out, m = spec.in_channels, spec.out_channels, spec.depth_multiplier
    dims, batch, mid = spec.dims, spec.batch, spec.depthwise_channels
    k_power = kernel_power(dims)
    count = format_count
    standard, depthwise, pointwise = (
        comparison.standard,
        comparison.separable.depthwise,
        comparison.separable.pointwise,
    )
    bias_note = "" if spec.bias else " (no bias)"
    positions = "·".join(f"{_AXIS_SYMBOLS[axis]}'" for axis in spec.spatial_axes)

    def kernel_text(field: str) -> str:
        """k² for a cubic kernel, 3·7·7 for a per-axis one."""
        sizes = spec.axes(field)
        if len(set(sizes)) == 1:
            return f"{sizes[0]}{_POWER[dims]}"
        return "·".join(map(str, sizes))

    def plus_bias(channels: int) -> str:
        return f" + {channels}" if spec.bias else ""

    def spatial(figures: ConvFigures) -> str:
        shape = figures.output_shape
        return positions if shape is None else "·".join(map(str, shape[2:]))

    k, k_sep, one = kernel_text("kernel_size"), kernel_text("sep_kernel_size"), f"1{_POWER[dims]}"
    lines = [
        "```text",
        f"Parameters{bias_note}: C_out·(C_in/groups)·{k_power} (+ C_out bias)",
        f"  standard   {c_out}·{c_in}·{k}{plus_bias(c_out)} = {count(standard.params)}",
        f"  depthwise  {mid}·1·{k_sep}{plus_bias(mid)} = {count(depthwise.params)}",
        f"  pointwise  {c_out}·{mid}·{one}{plus_bias(c_out)} = {count(pointwise.params)}",
        f"  ratio      {count(standard.params)} / {count(comparison.separable.params)}"
        f" = {format_ratio(comparison.param_ratio)} fewer",
        "",
        *_output_size_lines(comparison),
        "",
        f"MACs = N·C_out·{positions}·(C_in/groups)·{k_power} (bias adds not counted; "
        "FLOPs = 2 × MACs)",
        f"  standard   {batch}·{c_out}·{spatial(standard)}·{c_in}·{k} = {count(standard.macs)}",
        f"  depthwise  {batch}·{mid}·{spatial(depthwise)}·1·{k_sep} = "
        f"{format_count(depthwise.macs)}",
        f"  pointwise  {batch}·{c_out}·{spatial(pointwise)}·{mid}·{one} = "
        f"{format_count(pointwise.macs)}",
        f"  ratio      {format_ratio(comparison.mac_ratio)} fewer",
        "",
        f"Textbook (Howard et al. 2017): 1 / (m·(1/C_out + 1/{k_power}))",
        f"  1 / ({m}·(1/{c_out} + 1/{k if '·' not in k else f'({k})'})) = "
        f"{format_ratio(comparison.textbook_ratio)} fewer",
        "```",
    ]
    return "\n".join(lines)
