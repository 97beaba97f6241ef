"""Where the swap pays: whole models on PyTorch eager (NCHW, channels-last) and ONNX Runtime,
and resnet18 layer by layer (issue 22).

For each model and thread count, every candidate conv is swapped at m = 1 (random weights: the
values do not change the time) and the original and the swapped model are timed on each
runtime, each runtime in a fresh process of its own with the same threads
(``sepconv_tui.model.latency.bench.benchmark_model(runtimes=…)``). The table gives the MAC ratio and
each runtime's measured speed ratio (original median ÷ swapped median). Then resnet18's
candidate convs, each against its block alone at its input in the network
(``benchmark_layers``), on eager and ONNX Runtime.

Run: .venv/bin/python benchmarks/bench_runtime.py [--models resnet18,vgg16] [--threads 1,2]
     [--min-run-time 1.0] [--per-layer resnet18|''] [--runtimes eager,onnxruntime]
Needs the [deploy] extra. Prints Markdown tables; not a test.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

MODELS = ("resnet18", "resnet50", "vgg16", "mobilenet_v2")


def cpu_name() -> str:
    """The CPU's model name, from /proc/cpuinfo where there is one."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def model_rows(models: list[str], threads: list[int], runtimes: list[str], seconds: float) -> None:
    """One Markdown row per model and thread count: MAC ratio and each runtime's speed ratio."""
    from sepconv_tui.model.describe.source import parse_source
    from sepconv_tui.model.latency.bench import benchmark_model
    from sepconv_tui.model.swapping.job import ModelJob
    from sepconv_tui.model.vocabulary.analysis import Selection
    from sepconv_tui.model.vocabulary.runtimes import runtime_label

    print("| model | MAC ratio | " + " | ".join(runtime_label(name) for name in runtimes) + " |")
    print("|---|---:|" + "---:|" * len(runtimes))
    for name in models:
        for count in threads:
            started = time.perf_counter()
            job = ModelJob(
                parse_source(f"torchvision:{name}"), selection=Selection("all"), threads=count
            )
            result = benchmark_model(job, min_run_time=seconds, runtimes=tuple(runtimes))
            ratios = {runtime: timing.speed_ratio for runtime, timing in result.runtimes.items()}
            best = max(ratios, key=lambda runtime: ratios[runtime])
            cells = [
                f"**{ratios[runtime]:.2f}×**" if runtime == best else f"{ratios[runtime]:.2f}×"
                for runtime in runtimes
            ]
            print(
                f"| {name}, {count} thread{'s' if count != 1 else ''} | "
                f"{result.mac_ratio:.2f}× | " + " | ".join(cells) + " |",
                flush=True,
            )
            print(
                f"<!-- {name} {count}t: "
                + ", ".join(
                    f"{runtime} {timing.before.median_s * 1e3:.1f} → "
                    f"{timing.after.median_s * 1e3:.1f} ms"
                    for runtime, timing in result.runtimes.items()
                )
                + f"; {time.perf_counter() - started:.0f} s -->",
                flush=True,
            )


def per_layer_rows(name: str, runtimes: list[str], seconds: float) -> None:
    """One Markdown row per candidate conv of ``name``: its MAC ratio and, per runtime, the
    conv's and the block's median and the measured speed-up; then the whole model's split."""
    from sepconv_tui.model.describe.source import parse_source
    from sepconv_tui.model.latency.bench import benchmark_layers
    from sepconv_tui.model.swapping.job import ModelJob
    from sepconv_tui.model.vocabulary.analysis import Selection

    job = ModelJob(parse_source(f"torchvision:{name}"), selection=Selection("all"), threads=1)
    result = benchmark_layers(job, tuple(runtimes), min_run_time=seconds)
    header = ["layer", "input", "MAC ratio"]
    for runtime in runtimes:
        header += [f"{runtime} conv", f"{runtime} block", f"{runtime} speed-up"]
    print("| " + " | ".join(header) + " |")
    print("|---|---|" + "---:|" * (len(header) - 2))
    for row in result.rows:
        cells = [
            row.name + (f" ×{row.calls}" if row.calls > 1 else ""),
            "×".join(str(size) for size in row.input_shape[1:]),
            f"{row.mac_ratio:.2f}×" if row.mac_ratio else "—",
        ]
        for runtime in runtimes:
            timing = row.timings[runtime]
            cells += [
                f"{timing.conv.median_s * 1e3:.3f} ms",
                f"{timing.block.median_s * 1e3:.3f} ms",
                f"{timing.speed_ratio:.2f}×",
            ]
        print("| " + " | ".join(cells) + " |", flush=True)
    print()
    for runtime in runtimes:
        print(
            f"- {runtime}: whole model {result.model[runtime].median_s * 1e3:.1f} ms, its "
            f"candidate convs {result.convs_s(runtime) * 1e3:.1f} ms, other "
            f"{result.other_s(runtime) * 1e3:.1f} ms; every candidate swapped, predicted "
            f"{result.predicted_speed_ratio(result.swapped_names, runtime):.2f}×"
        )


def main() -> None:
    """Print the whole-model table and the per-layer table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(MODELS), help="torchvision names")
    parser.add_argument("--threads", default="1,2", help="thread counts, comma-separated")
    from sepconv_tui.model.vocabulary.runtimes import runtime_names

    names = ",".join(runtime_names())
    parser.add_argument("--runtimes", default=names, help=f"of {names}")
    parser.add_argument("--min-run-time", type=float, default=1.0, help="seconds per model side")
    parser.add_argument(
        "--per-layer", default="resnet18", help="the model timed layer by layer ('' skips it)"
    )
    parser.add_argument(
        "--layer-min-run-time", type=float, default=0.3, help="seconds per conv or block"
    )
    arguments = parser.parse_args()
    import onnxruntime
    import torch

    print(
        f"{cpu_name()}, {os.cpu_count()} cores; Python {sys.version.split()[0]}, torch "
        f"{torch.__version__}, onnxruntime {onnxruntime.__version__}; batch 1, fp32, random "
        "weights, every candidate swapped at m = 1, each runtime in its own process\n"
    )
    models = [name for name in arguments.models.split(",") if name]
    threads = [int(count) for count in arguments.threads.split(",") if count]
    runtimes = [name for name in arguments.runtimes.split(",") if name]
    if models:
        model_rows(models, threads, runtimes, arguments.min_run_time)
    if arguments.per_layer:
        from sepconv_tui.model.vocabulary.runtimes import runtime_entry

        layer_runtimes = [name for name in runtimes if not runtime_entry(name).channels_last]
        print(f"\n{arguments.per_layer}, 1 thread, each candidate conv against its block alone:\n")
        per_layer_rows(arguments.per_layer, layer_runtimes, arguments.layer_min_run_time)


if __name__ == "__main__":
    main()
