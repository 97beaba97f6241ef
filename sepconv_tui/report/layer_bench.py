"""Render a LayerBench: each candidate conv and its block timed alone, per runtime, beside MACs."""

from __future__ import annotations

import csv
import io
import json

from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text

from ..model.results.bench_result import FAR_BELOW, LayerBench, LayerRow
from ..model.vocabulary.runtimes import runtime_label
from .format import format_ratio, format_shape
from .latency import format_seconds
from .runtimes import notes_markdown

#: The mark of a row whose measured speed-up is far below its MAC ratio.
MARK = "▼"


def _speed_text(row: LayerRow, runtime: str) -> Text:
    """The measured speed-up, marked and red when far below the MAC ratio."""
    speed = row.timings[runtime].speed_ratio
    if row.far_below(runtime):
        return Text(f"{MARK} {format_ratio(speed)}", style="bold red")
    return Text(format_ratio(speed), style="green" if speed >= 1 else "red")


def setup_line(result: LayerBench) -> str:
    """The machine, threads, input, the selection and the runtimes' versions."""
    threads = f"{result.threads} thread{'s' if result.threads != 1 else ''}"
    where = f"cpu on {result.machine.caption}" if result.machine is not None else f"cpu, {threads}"
    return (
        f"{where}, each runtime in "
        f"its own process; model input {format_shape(result.input_shape)}; each conv and its "
        "block alone at the input the conv gets in the model (medians)"
    )


def _input_text(row: LayerRow) -> str:
    """The conv's input without the batch, e.g. 64×56×56."""
    return "×".join(str(size) for size in row.input_shape[1:])


def layers_table(result: LayerBench, runtime: str) -> Table:
    """One row per candidate on ``runtime``: input, MAC ratio, conv, block, speed-up, time
    saved; then the whole model, its convs, the rest, and the selection's predicted speed-up."""
    table = Table(
        title=f"{result.source} on {runtime_label(runtime)} ({result.versions[runtime]}): "
        "each candidate conv against its block",
        title_style="bold",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    table.add_column("Layer", overflow="fold", min_width=21)
    table.add_column("Input", no_wrap=True)
    bounded = any(runtime in row.bounds for row in result.rows)
    counted = any(runtime in row.in_model for row in result.rows)
    headings = ["MAC ratio", "Conv", "Block", "Speed-up"]
    headings += ["Bound", "Efficiency"] if bounded else []
    headings += ["Conv in model"] if counted else []
    for heading in (*headings, "Saved"):
        table.add_column(heading, justify="right", no_wrap=True)
    for row in result.rows:
        timing = row.timings[runtime]
        bound_cells = [bound_text(row, runtime), efficiency_text(row, runtime)] if bounded else []
        if counted:
            in_model = row.in_model.get(runtime)
            bound_cells.append("—" if in_model is None else format_seconds(in_model))
        table.add_row(
            row.name + (f" ×{row.calls}" if row.calls > 1 else "") + (" *" if row.swap else ""),
            _input_text(row),
            format_ratio(row.mac_ratio),
            format_seconds(timing.conv.median_s),
            format_seconds(timing.block.median_s),
            _speed_text(row, runtime),
            *bound_cells,
            format_seconds(row.saved_s(runtime)),
        )
    table.add_section()
    predicted = result.predicted_speed_ratio(result.swapped_names, runtime)
    whole = format_seconds(result.model[runtime].median_s)
    table.add_row("Whole model", "", "", whole, "", "", "", style="bold")
    table.add_row("Candidate convs", "", "", format_seconds(result.convs_s(runtime)))
    other = result.other_s(runtime)
    # Negative when the convs alone add up to more than the model (the notes say why).
    table.add_row("Other (model − convs)", "", "", format_seconds(other) if other >= 0 else "—")
    table.add_row("Predicted, * swapped", "", "", "", "", format_ratio(predicted), style="bold")
    return table


def bound_text(row: LayerRow, runtime: str) -> str:
    """The roofline bound on the speed-up ("—" where no peak was measured)."""
    return format_ratio(row.bound_speed_ratio(runtime))


def efficiency_text(row: LayerRow, runtime: str) -> str:
    """Bound time ÷ measured time of the conv and of the block, as percentages."""
    efficiency = row.efficiency(runtime)
    if efficiency is None:
        return "—"
    return f"{efficiency['conv']:.0%} / {efficiency['block']:.0%}"


def notes(result: LayerBench) -> str:
    """What the marks and the figures mean, and which rows fall far below their MACs."""
    marked = {
        runtime: [row.name for row in result.rows if row.far_below(runtime)]
        for runtime in result.runtimes
    }
    lines = [
        f"{MARK}: measured speed-up below {FAR_BELOW:g} × the MAC ratio (MACs overstate what "
        "the swap buys there). *: in --swap "
        f"{result.selection}; ×N: called N times per pass. Predicted: whole model ÷ (whole "
        "model − the time the * layers save, scaled to the whole model when the convs alone add "
        "up to more)."
    ]
    if any(row.in_model for row in result.rows):
        lines.append(
            "Conv in model: the conv's time inside the whole original model, from the runtime's "
            "own counters (PERF_COUNT), apart from the alone-timings: fused with its neighbours "
            "there, and at int8 without a quantize and dequantize of its own."
        )
    if any(row.bounds for row in result.rows):
        lines.append(
            "Bound: the most the swap can speed the layer up on this machine (roofline: each "
            "kernel takes at least max(FLOPs / peak, bytes / bandwidth) at the precision that "
            "ran; the block is two kernels). Efficiency: bound time ÷ measured, conv / block. "
            "A depthwise conv is memory-bound, so the bound sits far below the MAC ratio."
        )
    for runtime, names in marked.items():
        if names:
            lines.append(f"{runtime_label(runtime)}: {', '.join(names)} {MARK}")
        if result.other_s(runtime) < 0:
            lines.append(
                f"{runtime_label(runtime)}: the convs alone add up to more than the whole model: "
                "each pays a call's fixed cost there, which the model pays once (a small model)."
            )
    lines.extend(result.notes)
    return "\n".join(lines)


def render(result: LayerBench) -> Group:
    """Everything ``sepconv-tui bench --model … --per-layer`` prints: a table per runtime."""
    tables = [layers_table(result, runtime) for runtime in result.runtimes]
    return Group(*tables, Text(setup_line(result), style="dim"), Text(notes(result)))


def to_json(result: LayerBench) -> str:
    """The per-layer JSON document."""
    return json.dumps(result.to_dict(), indent=2, ensure_ascii=False)


def to_markdown(result: LayerBench) -> str:
    """The table as Markdown (one row per layer and runtime's columns), then the totals."""
    header = ["Layer", "Input", "MAC ratio"]
    for runtime in result.runtimes:
        label = runtime_label(runtime)
        header += [f"{label} conv", f"{label} block", f"{label} speed-up"]
    lines = ["| " + " | ".join(header) + " |", "|---|---|" + "---:|" * (len(header) - 2)]
    for row in result.rows:
        cells = [
            row.name + (f" ×{row.calls}" if row.calls > 1 else "") + (" *" if row.swap else ""),
            format_shape(row.input_shape),
            format_ratio(row.mac_ratio),
        ]
        for runtime in result.runtimes:
            timing = row.timings[runtime]
            mark = f"{MARK} " if row.far_below(runtime) else ""
            bound = row.bound_speed_ratio(runtime)
            cells += [
                format_seconds(timing.conv.median_s),
                format_seconds(timing.block.median_s),
                f"{mark}{format_ratio(timing.speed_ratio)}"
                + (f" (bound {format_ratio(bound)})" if bound is not None else ""),
            ]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    for runtime in result.runtimes:
        whole = format_seconds(result.model[runtime].median_s)
        lines.append(
            f"- {runtime_label(runtime)}: whole model {whole}, candidate convs "
            f"{format_seconds(result.convs_s(runtime))}, other "
            f"{format_seconds(result.other_s(runtime))}; predicted speed-up of the * layers "
            f"{format_ratio(result.predicted_speed_ratio(result.swapped_names, runtime))}"
        )
    lines += ["", f"_{setup_line(result)}_", ""]
    return "\n".join(lines) + notes_markdown(result.notes)


def to_csv(result: LayerBench) -> str:
    """One CSV row per layer and runtime."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(
        [
            "layer",
            "runtime",
            "calls",
            "swap",
            "mac_ratio",
            "conv_median_s",
            "block_median_s",
            "speed_ratio",
            "saved_s",
            "far_below_mac_ratio",
            "precision",
            "bound_speed_ratio",
            "conv_efficiency",
            "block_efficiency",
            "in_model_s",
        ]
    )
    for row in result.rows:
        for runtime in result.runtimes:
            timing = row.timings[runtime]
            efficiency = row.efficiency(runtime) or {}
            writer.writerow(
                [
                    row.name,
                    runtime,
                    row.calls,
                    row.swap,
                    row.mac_ratio,
                    timing.conv.median_s,
                    timing.block.median_s,
                    timing.speed_ratio,
                    row.saved_s(runtime),
                    row.far_below(runtime),
                    result.cell(runtime).precision,
                    row.bound_speed_ratio(runtime),
                    efficiency.get("conv"),
                    efficiency.get("block"),
                    row.in_model.get(runtime),
                ]
            )
    return buffer.getvalue()
