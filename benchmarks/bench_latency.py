"""Measured latency of both sides for the published presets: how far speed lags the MAC ratio.

Run: .venv/bin/python benchmarks/bench_latency.py [--threads N] [--device cpu|cuda]
Prints a Markdown table (one `sepconv-tui bench` per preset, in this process).
"""

from __future__ import annotations

import argparse
import platform

import torch

from sepconv_tui.core.latency import benchmark
from sepconv_tui.core.presets import PRESETS
from sepconv_tui.report.format import format_ratio
from sepconv_tui.report.latency import format_seconds


def main() -> None:
    """Time every preset and print the table with the machine it ran on."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    arguments = parser.parse_args()
    rows = []
    threads = 0
    for preset in PRESETS:
        result = benchmark(preset.spec, arguments.device, arguments.threads)
        threads = result.threads
        rows.append(
            f"| {preset.name} | {format_seconds(result.standard.median_s)} "
            f"± {format_seconds(result.standard.iqr_s)} | "
            f"{format_seconds(result.separable.median_s)} ± "
            f"{format_seconds(result.separable.iqr_s)} | {format_ratio(result.speed_ratio)} | "
            f"{format_ratio(result.mac_ratio)} |"
        )
    device = torch.cuda.get_device_name() if arguments.device == "cuda" else platform.processor()
    print(
        f"Device: {arguments.device} ({device or platform.machine()}), {threads} threads, "
        f"torch {torch.__version__}, fp32, batch 1, median ± IQR per forward pass.\n"
    )
    print("| Layer | Standard | Separable | Speed ratio | MAC ratio |")
    print("|---|---:|---:|---:|---:|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
