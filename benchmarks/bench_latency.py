"""Measured latency of both sides for the published presets, and of whole models all swapped.

Run: .venv/bin/python benchmarks/bench_latency.py [--threads N] [--device cpu|cuda]
[--only layers|models]
Prints Markdown tables: one `sepconv-tui bench` per preset, then one `sepconv-tui bench --model
M --swap all` per model, NCHW and channels-last (all in this process).
"""

from __future__ import annotations

import argparse
import platform

import torch

from sepconv_tui.core.latency import benchmark
from sepconv_tui.core.presets import PRESETS
from sepconv_tui.model.describe.source import parse_source
from sepconv_tui.model.latency.bench import benchmark_model
from sepconv_tui.model.results.bench_result import MODEL_MIN_RUN_TIME_S
from sepconv_tui.model.swapping.job import ModelJob
from sepconv_tui.model.vocabulary.analysis import Selection
from sepconv_tui.report.format import format_ratio
from sepconv_tui.report.latency import format_seconds

#: Whole models timed with every candidate conv swapped.
MODELS = ("resnet18", "resnet50", "vgg16", "mobilenet_v2")


def machine_line(device: str, threads: int) -> str:
    """The device, threads and torch a table was measured with."""
    name = torch.cuda.get_device_name() if device == "cuda" else platform.processor()
    return (
        f"Device: {device} ({name or platform.machine()}), {threads} threads, "
        f"torch {torch.__version__}, fp32, batch 1, median ± IQR per forward pass."
    )


def bench_models(device: str, threads: int | None, min_run_time: float) -> None:
    """Time each model and its all-swapped copy, NCHW and channels-last; print the table."""
    rows = []
    used_threads = 0
    for name in MODELS:
        for channels_last in (False, True):
            job = ModelJob(
                parse_source(f"torchvision:{name}"),
                selection=Selection("all"),
                device=device,
                threads=threads,
            )
            result = benchmark_model(job, channels_last=channels_last, min_run_time=min_run_time)
            used_threads = result.threads
            rows.append(
                f"| {name} ({result.swapped_count}/{result.candidates} swapped) | "
                f"{'channels-last' if channels_last else 'NCHW'} | "
                f"{format_seconds(result.original.median_s)} ± "
                f"{format_seconds(result.original.iqr_s)} | "
                f"{format_seconds(result.swapped.median_s)} ± "
                f"{format_seconds(result.swapped.iqr_s)} | {format_ratio(result.speed_ratio)} | "
                f"{format_ratio(result.mac_ratio)} | {format_ratio(result.param_ratio)} |"
            )
    print(machine_line(device, used_threads) + "\n")
    print("| Model | Layout | Original | Swapped | Speed ratio | MAC ratio | Param ratio |")
    print("|---|---|---:|---:|---:|---:|---:|")
    print("\n".join(rows))


def main() -> None:
    """Time every preset and whole model; print the tables with the machine they ran on."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--only", choices=["layers", "models"], default=None)
    parser.add_argument("--model-min-run-time", type=float, default=MODEL_MIN_RUN_TIME_S)
    arguments = parser.parse_args()
    if arguments.only != "models":
        bench_layers(arguments.device, arguments.threads)
    if arguments.only is None:
        print()
    if arguments.only != "layers":
        bench_models(arguments.device, arguments.threads, arguments.model_min_run_time)


def bench_layers(device: str, threads: int | None) -> None:
    """Time every preset's two sides; print the table."""
    rows = []
    used_threads = 0
    for preset in PRESETS:
        result = benchmark(preset.spec, device, threads)
        used_threads = result.threads
        rows.append(
            f"| {preset.name} | {format_seconds(result.standard.median_s)} "
            f"± {format_seconds(result.standard.iqr_s)} | "
            f"{format_seconds(result.separable.median_s)} ± "
            f"{format_seconds(result.separable.iqr_s)} | {format_ratio(result.speed_ratio)} | "
            f"{format_ratio(result.mac_ratio)} |"
        )
    print(machine_line(device, used_threads) + "\n")
    print("| Layer | Standard | Separable | Speed ratio | MAC ratio |")
    print("|---|---:|---:|---:|---:|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
