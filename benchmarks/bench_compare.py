"""Speed and memory of the engine: closed form, meta-device PyTorch, and `--help` start-up.

Run: .venv/bin/python benchmarks/bench_compare.py   (prints a table; not a test)
"""

from __future__ import annotations

import resource
import statistics
import subprocess
import sys
import time
import timeit

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


def main() -> None:
    """Measure and print the table."""
    table = Table(title="sepconv-tui engine benchmark")
    table.add_column("measurement")
    table.add_column("result", justify="right")
    table.add_column("target", justify="right")

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
    Console().print(table)


if __name__ == "__main__":
    main()
