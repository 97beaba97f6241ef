"""Render a ModelBenchResult: both models' latency, speed beside MACs, JSON / Markdown / CSV."""

from __future__ import annotations

import csv
import io
import json

from rich.console import Group
from rich.table import Table
from rich.text import Text

from ..core.latency import Timing
from ..core.memory import format_bytes
from ..model.results.bench_result import ModelBenchResult
from ..model.vocabulary.analysis import describe_multipliers
from .format import format_ratio, format_shape
from .latency import timings_markdown, timings_table
from .model_matrix import answer_lines, matrix_csv, matrix_markdown, matrix_table
from .runtimes import (
    notes_markdown,
    notes_text,
    runtimes_csv,
    runtimes_markdown,
    runtimes_table,
    speed_sentence,
)

MODEL_SIDES = ("Original", "Swapped")


def _rows(result: ModelBenchResult) -> list[tuple[str, Timing]]:
    """(side, timing) for both models."""
    return [("Original", result.original), ("Swapped", result.swapped)]


def setup_line(result: ModelBenchResult) -> str:
    """Device, threads, layout, input, the swap and the memory estimate against its budget."""
    layout = "channels-last" if result.channels_last else "NCHW"
    multiplier = result.depth_multiplier
    shown = f"m = {multiplier}" if isinstance(multiplier, int) else describe_multipliers(multiplier)
    return (
        f"{result.device}, {result.threads} thread{'s' if result.threads != 1 else ''}, fp32 "
        f"{layout} input {format_shape(result.input_shape)}, torch {result.torch_version}; "
        f"--swap {result.selection}: {result.swapped_count} of {result.candidates} candidates "
        f"({shown}); estimated {format_bytes(result.estimated_bytes)}, "
        f"budget {format_bytes(result.budget_bytes)}"
    )


def speed_message(result: ModelBenchResult) -> str:
    """The measured speed ratio beside the MAC and param ratios."""
    speed = result.speed_ratio
    if speed >= 1:
        message = f"Measured: the swapped model runs {format_ratio(speed)} faster"
    else:
        message = f"Measured: the swapped model runs {format_ratio(1 / speed)} slower"
    return (
        message + f"; it does {format_ratio(result.mac_ratio)} fewer MACs and has "
        f"{format_ratio(result.param_ratio)} fewer params."
    )


def latency_table(result: ModelBenchResult) -> Table:
    """Median, IQR and runs of both models."""
    title = f"{result.source}: measured latency (forward pass)"
    return timings_table(title, "Model", _rows(result), setup_line(result))


def runtimes_setup_line(result: ModelBenchResult) -> str:
    """Threads, input and the swap of a run on several runtimes, each in its own process."""
    multiplier = result.depth_multiplier
    shown = f"m = {multiplier}" if isinstance(multiplier, int) else describe_multipliers(multiplier)
    threads = f"{result.threads} thread{'s' if result.threads != 1 else ''}"
    where = f"cpu on {result.machine.caption}" if result.machine is not None else f"cpu, {threads}"
    return (
        f"{where} each, fp32 input {format_shape(result.input_shape)}, each runtime in its "
        "own process; --swap "
        f"{result.selection}: {result.swapped_count} of {result.candidates} candidates ({shown})"
    )


def shows_matrix(result: ModelBenchResult) -> bool:
    """True when the matrix view says more than the runtimes table: a cell at another precision
    than fp32, one absent, or fidelity measured on data."""
    return result.data is not None or any(
        cell.asked != "fp32" or cell.absent is not None for cell in result.matrix
    )


def render(result: ModelBenchResult) -> Group:
    """Everything ``sepconv-tui bench --model`` prints."""
    if shows_matrix(result):
        return Group(
            matrix_table(result),
            *(
                Text(line, style="bold" if index == 0 else "")
                for index, line in enumerate(answer_lines(result))
            ),
            *notes_text(result.notes),
        )
    if result.runtimes:
        table = runtimes_table(
            f"{result.source}: measured latency by runtime (forward pass)",
            MODEL_SIDES,
            result.runtimes,
            result.mac_ratio,
            runtimes_setup_line(result),
        )
        sentence = speed_sentence("the swapped model", result.runtimes, result.mac_ratio)
        return Group(table, Text(sentence, style="bold"), *notes_text(result.notes))
    return Group(latency_table(result), Text(speed_message(result), style="bold"))


def to_json(result: ModelBenchResult) -> str:
    """The whole-model bench JSON document."""
    return json.dumps(result.to_dict(), indent=2, ensure_ascii=False)


def to_markdown(result: ModelBenchResult) -> str:
    """The latency table and the speed sentence as Markdown."""
    if shows_matrix(result):
        return matrix_markdown(result) + notes_markdown(result.notes)
    if result.runtimes:
        sentence = speed_sentence("the swapped model", result.runtimes, result.mac_ratio)
        table = runtimes_markdown(MODEL_SIDES, result.runtimes, result.mac_ratio)
        setup = runtimes_setup_line(result)
        return f"{table}\n_{setup}_\n\n**{sentence}**\n" + notes_markdown(result.notes)
    return timings_markdown("Model", _rows(result), setup_line(result), speed_message(result))


def to_csv(result: ModelBenchResult) -> str:
    """One CSV row per model, with the shared setup in every row (per runtime, with runtimes;
    per cell, with the matrix)."""
    if shows_matrix(result):
        return matrix_csv(result)
    if result.runtimes:
        return runtimes_csv(MODEL_SIDES, result.runtimes, result.mac_ratio)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(
        ["model", "median_s", "iqr_s", "runs", "loops_per_run", "device", "threads", "layout"]
    )
    for side, timing in _rows(result):
        writer.writerow(
            [
                side.lower(),
                timing.median_s,
                timing.iqr_s,
                timing.runs,
                timing.loops_per_run,
                result.device,
                result.threads,
                "channels_last" if result.channels_last else "nchw",
            ]
        )
    return buffer.getvalue()
