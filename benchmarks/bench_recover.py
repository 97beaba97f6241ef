"""Speed and memory of recovery, and what it buys on a real trained CNN.

1. resnet18 (random weights: no pretrained weights offline), every candidate swapped at m = 1,
   ``synthetic:64`` at 224×224: least-squares reconstruction time ÷ one forward pass of the
   original over the same 64 inputs (target ≤ 4×; the floor is about 2×: one pass of each
   model), and the process's peak RSS against its RSS with both models built. Interleaved
   rounds, so the shared machine's noise weighs on both alike.
2. The digits CNN (examples/digits, trained here, seeded): original / SVD only / reconstruct /
   distill — held-out accuracy, agreement, output error, params, MACs and time: the README's
   table.

Run: .venv/bin/python benchmarks/bench_recover.py [--rounds 3] [--skip-resnet]
(prints tables; not a test). On a loaded 2-core machine set OMP_NUM_THREADS=1: OpenMP's
threads then fight other processes for the cores and small-model training slows ~10×.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

from sepconv_tui.model.data import load_data, split
from sepconv_tui.model.recover import reconstruct, recover
from sepconv_tui.model.source import build_model
from sepconv_tui.model.swap import swap_convs
from sepconv_tui.model.trace import analyze_model

ROOT = Path(__file__).resolve().parent.parent
DIGITS = ROOT / "examples" / "digits"


def peak_rss_bytes() -> int:
    """This process's peak resident set size so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def current_rss_bytes() -> int:
    """This process's resident set size now."""
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize()


def resnet_ratio(rounds: int) -> None:
    """Reconstruction ÷ one forward of the original, resnet18, synthetic:64 at 224."""
    torch.manual_seed(0)
    original = build_model("torchvision:resnet18", real=True).module.eval()
    data = load_data("synthetic:64", input_shape=(1, 3, 224, 224))
    result = swap_convs(original, "all")
    names = list(result.swapped)
    built_rss = current_rss_bytes()
    forwards, fits = [], []
    for _ in range(rounds):
        start = time.perf_counter()
        with torch.no_grad():
            for inputs, _labels in data.batches(64):
                original(inputs)
        forwards.append(time.perf_counter() - start)
        swapped = swap_convs(original, "all").model
        start = time.perf_counter()
        reconstruct(original, swapped, names, data, calibration=64, batch_size=64)
        fits.append(time.perf_counter() - start)
    forward, fit = statistics.median(forwards), statistics.median(fits)
    print(
        f"resnet18, {len(names)} convs swapped at m = 1, synthetic:64 at 224×224, {rounds} rounds"
    )
    print(f"| one forward of the original | {forward:.2f} s |")
    print(f"| reconstruction (all layers) | {fit:.2f} s |")
    print(f"| ratio (target ≤ 4×, floor ≈ 2×) | **{fit / forward:.2f}×** |")
    print(
        f"| RSS with both models built / peak | {built_rss / 2**20:.0f} MiB / "
        f"{peak_rss_bytes() / 2**20:.0f} MiB |"
    )
    print()


def _make_digits(folder: Path) -> dict[str, float]:
    """Train the digits CNN into ``folder`` (examples/digits/make.py)."""
    sys.path.insert(0, str(DIGITS))
    try:
        import make  # type: ignore[import-not-found]
    finally:
        sys.path.pop(0)
    return make.make(folder)


def digits_table() -> None:
    """The README's table: original / SVD only / reconstruct / distill on the digits CNN."""
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        figures = _make_digits(folder)
        source = f"{DIGITS / 'model.py'}:build"
        original = build_model(source, real=True).module
        original.load_state_dict(torch.load(folder / "digits.pt"))
        original.eval()
        data = load_data(str(folder / "data.pt"), input_shape=(1, 1, 8, 8))
        fitting, held_out = split(data, 500)
        analysis = analyze_model(source, select="all")
        result = swap_convs(original, "all")
        timings = {}
        recoveries = {}
        for mode in ("none", "reconstruct", "distill"):
            start = time.perf_counter()
            recoveries[mode] = recover(result, data, mode=mode, holdout=500)
            timings[mode] = time.perf_counter() - start
        stages = recoveries["distill"].stages
        print(
            f"digits CNN (examples/digits), {len(result.swapped)} convs swapped at m = 1; "
            f"{len(held_out)} held-out digits (never trained on or fitted), least squares "
            f"on {min(256, len(fitting))}, distillation on {len(fitting)}; trained in "
            f"{figures['seconds']} s"
        )
        print(
            "| | Accuracy | Agreement | Output error | Params | MACs | Time |\n"
            "|---|---:|---:|---:|---:|---:|---:|"
        )
        original_cost, swapped_cost = analysis.original, analysis.swapped
        print(
            f"| original | {stages[0].original_accuracy:.1%} | 100% | 0 | "
            f"{original_cost.params:,} | {original_cost.macs:,} | — |"
        )
        times = {
            "svd": timings["none"],
            "reconstruct": timings["reconstruct"],
            "distill": timings["distill"],
        }
        names = {"svd": "SVD only", "reconstruct": "reconstruct", "distill": "distill"}
        for stage in stages:
            assert stage.stage is not None
            print(
                f"| {names[stage.stage]} | {stage.swapped_accuracy:.1%} | "
                f"{stage.agreement:.1%} | {stage.output_error:.3f} | {swapped_cost.params:,} | "
                f"{swapped_cost.macs:,} | {times[stage.stage]:.1f} s |"
            )
        print("(time: the whole `recover` call for that mode, held-out measurements included)")


def main() -> int:
    """Both parts, as Markdown tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--skip-resnet", action="store_true")
    arguments = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    if not arguments.skip_resnet:
        resnet_ratio(arguments.rounds)
    digits_table()
    return 0


if __name__ == "__main__":
    sys.exit(main())
