"""Speed and memory of whole-model analysis: resnet50 in a warm process, and a whole CLI process.

Targets (issue 10): ``analyze_model("torchvision:resnet50")`` ≤ 300 ms once torch and
torchvision are imported; ``sepconv-tui model torchvision:convnext_large`` whole-process wall
time and peak RSS (compared with torchinfo's summary in benchmarks/peers.py).

Run: .venv/bin/python benchmarks/bench_model.py [--runs 7]   (prints a table; not a test)
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

#: The launcher benchmarks/peers.py uses: a small `python -S` process that spawns the measured
#: command and reports its wall time, peak RSS (os.wait4's rusage) and exit code. A child's peak
#: RSS starts at its parent's, so the measured command must not be spawned by this script.
LAUNCHER = """
import os, sys, time
start = time.perf_counter()
pid = os.posix_spawn(sys.argv[1], sys.argv[1:], os.environ)
_, status, usage = os.wait4(pid, 0)
sys.stderr.write(f"\\n@@ {time.perf_counter() - start} {usage.ru_maxrss} "
                 f"{os.waitstatus_to_exitcode(status)}\\n")
"""


def whole_process(command: list[str]) -> tuple[float, int]:
    """Wall seconds and peak RSS (bytes) of one whole process."""
    launched = subprocess.run(
        [sys.executable, "-S", "-c", LAUNCHER, *command], capture_output=True, text=True
    )
    seconds, max_rss_kib, exit_code = launched.stderr.rsplit("@@ ", 1)[1].split()
    if int(exit_code) != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{launched.stderr}")
    return float(seconds), int(max_rss_kib) * 1024  # Linux reports KiB


def warm_analysis_seconds(source: str, runs: int) -> list[float]:
    """Seconds per ``analyze_model(source)`` after one warm-up call in this process."""
    from sepconv_tui import analyze_model

    analyze_model(source)  # imports torch and torchvision, first-use costs
    seconds = []
    for _ in range(runs):
        start = time.perf_counter()
        analyze_model(source)
        seconds.append(time.perf_counter() - start)
    return seconds


def main() -> None:
    """Print the warm analysis times and the whole-process rows."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="runs per measurement")
    arguments = parser.parse_args()
    print(f"{os.cpu_count()} cores, Python {sys.version.split()[0]}; median of {arguments.runs}\n")
    print("| Measurement | Median | Min | Max | Peak RSS | Target |")
    print("|---|---:|---:|---:|---:|---|")
    for name in ("resnet50", "efficientnet_b0", "convnext_large"):
        seconds = warm_analysis_seconds(f"torchvision:{name}", arguments.runs)
        target = "≤ 300 ms" if name == "resnet50" else ""
        print(
            f"| analyze_model(torchvision:{name}), warm | "
            f"{statistics.median(seconds) * 1000:.0f} ms | {min(seconds) * 1000:.0f} ms | "
            f"{max(seconds) * 1000:.0f} ms | | {target} |",
            flush=True,
        )
    command = [sys.executable, "-m", "sepconv_tui", "model", "torchvision:convnext_large", "--json"]
    walls, peaks = [], []
    for _ in range(arguments.runs):
        wall, peak = whole_process(command)
        walls.append(wall)
        peaks.append(peak)
    print(
        f"| `sepconv-tui model torchvision:convnext_large --json`, whole process | "
        f"{statistics.median(walls):.2f} s | {min(walls):.2f} s | {max(walls):.2f} s | "
        f"{max(peaks) / 2**20:.0f} MiB | ≤ 0.6× torchinfo time, ≤ 0.5× its RSS (peers.py) |"
    )


if __name__ == "__main__":
    main()
