"""Speed and memory of the engine: closed form, meta-device PyTorch, and whole-process start-up.

Run: .venv/bin/python benchmarks/bench_compare.py   (prints a table; not a test)
     .venv/bin/python benchmarks/bench_compare.py --whole-process   (only the CLI process rows)
"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import subprocess
import sys
import time
import timeit
from pathlib import Path

from rich.console import Console
from rich.table import Table

from sepconv_tui import LayerSpec, compare

REFERENCE = LayerSpec()
HUGE = LayerSpec(in_channels=4096, out_channels=4096, height=4096, width=4096)


def per_call_seconds(function, repeat: int = 7) -> float:  # type: ignore[no-untyped-def]
    """Median seconds per call, timeit's autorange in each of ``repeat`` rounds."""
    timer = timeit.Timer(function)
    number, _ = timer.autorange()
    return statistics.median(t / number for t in timer.repeat(repeat, number))


def peak_rss_mb() -> float:
    """This process's peak resident set size so far, in MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def wall_seconds(command: list[str], runs: int = 7) -> float:
    """Median wall time of a whole command."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def interleaved_wall_seconds(commands: list[list[str]], runs: int) -> list[float]:
    """Median wall time of each command, run in turn so machine noise falls on all alike."""
    times: list[list[float]] = [[] for _ in commands]
    for _ in range(runs):
        for command, samples in zip(commands, times, strict=True):
            start = time.perf_counter()
            subprocess.run(command, check=True, capture_output=True)
            samples.append(time.perf_counter() - start)
    return [statistics.median(samples) for samples in times]


def add_whole_process_rows(table: Table, runs: int) -> None:
    """`sepconv-tui compare` (both methods, and closed form only) against importing torch."""
    # The installed console script, as a user runs it; `python -m` would do the same work.
    cli = shutil.which("sepconv-tui", path=str(Path(sys.executable).parent)) or ""
    command = [cli] if cli else [sys.executable, "-m", "sepconv_tui"]
    torch_time, both_time, closed_time = interleaved_wall_seconds(
        [
            [sys.executable, "-c", "import torch"],
            [*command, "compare"],
            [*command, "compare", "--closed-form-only"],
        ],
        runs,
    )
    table.add_row("python -c 'import torch' wall time", f"{torch_time:.2f} s", "")
    table.add_row("sepconv-tui compare wall time (closed form + PyTorch)", f"{both_time:.2f} s", "")
    table.add_row("  ratio to import torch", f"{both_time / torch_time:.2f}×", "≤ 1.6×")
    table.add_row("sepconv-tui compare --closed-form-only wall time", f"{closed_time:.2f} s", "")
    table.add_row("  ratio to import torch", f"{closed_time / torch_time:.2f}×", "")


def main() -> None:
    """Measure and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--whole-process", action="store_true", help="only the CLI process rows")
    parser.add_argument("--runs", type=int, default=7, help="processes per command (median)")
    arguments = parser.parse_args()
    table = Table(title="sepconv-tui engine benchmark")
    table.add_column("measurement")
    table.add_column("result", justify="right")
    table.add_column("target", justify="right")
    if arguments.whole_process:
        add_whole_process_rows(table, arguments.runs)
        Console().print(table)
        return

    closed_form = per_call_seconds(lambda: compare(REFERENCE, method="analytic"))
    table.add_row("closed-form compare, reference layer", f"{closed_form * 1e6:.1f} µs", "≤ 50 µs")

    start = time.perf_counter()
    compare(REFERENCE)  # first call: imports torch, FlopCounterMode's dependencies
    first = time.perf_counter() - start
    table.add_row("first PyTorch compare (torch import + warm-up)", f"{first:.2f} s", "")
    for name, spec in (("reference layer", REFERENCE), ("4096→4096 @ 4096×4096", HUGE)):
        rss_before = peak_rss_mb()
        seconds = per_call_seconds(lambda spec=spec: compare(spec), repeat=5)
        growth = peak_rss_mb() - rss_before
        table.add_row(f"meta-device PyTorch compare, {name}", f"{seconds * 1e3:.2f} ms", "≤ 20 ms")
        table.add_row(f"  peak RSS growth, {name}", f"{growth:.1f} MB", "≤ 50 MB")

    help_time = wall_seconds([sys.executable, "-m", "sepconv_tui", "--help"])
    rich_time = wall_seconds([sys.executable, "-c", "import rich.console"])
    table.add_row("sepconv-tui --help wall time", f"{help_time * 1e3:.0f} ms", "")
    table.add_row("python -c 'import rich.console'", f"{rich_time * 1e3:.0f} ms", "")
    table.add_row("  ratio", f"{help_time / rich_time:.2f}×", "≤ 3×")
    add_whole_process_rows(table, arguments.runs)
    Console().print(table)


if __name__ == "__main__":
    main()
