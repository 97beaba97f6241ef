"""Speed and memory of recovery, and what it buys on a real trained CNN.

1. resnet18 (random weights: no pretrained weights offline), every candidate swapped at m = 1,
   ``synthetic:64`` at 224×224: least-squares reconstruction time ÷ one forward pass of the
   original over the same 64 inputs (target ≤ 4×; the floor is about 2×: one pass of each
   model), and the process's peak RSS against its RSS with both models built, beside what
   the memory check estimated before it started.
2. The digits CNN (examples/digits, trained here, seeded), as docs/recovery.md's commands run it
   (``--data data.pt --test 500``): original / SVD only / reconstruct / distill on the test
   split with 95% Wilson intervals and the split; the distillation's steps,
   stop and time; ``agreement:0.99``'s test figure with its interval, beside the validation
   figure that chose it.
3. The same ``swap --recover reconstruct`` on digits in one process and under ``torchrun
   --nproc_per_node=2`` (gloo, CPU): wall time of each whole command, and the largest weight
   difference between the two models.

Run: .venv/bin/python benchmarks/bench_recover.py [--rounds 3] [--skip-resnet]
(prints tables; not a test). On a loaded 2-core machine set OMP_NUM_THREADS=1: OpenMP's
threads then fight other processes for the cores and small-model training slows ~10×.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from sepconv_tui.model.describe.source import build_model, parse_source
from sepconv_tui.model.describe.trace import analyze_model
from sepconv_tui.model.measure.data import load_data
from sepconv_tui.model.recovery.reconstruction import reconstruct
from sepconv_tui.model.recovery.recovery_memory import check_reconstruction_budget
from sepconv_tui.model.swapping.job import ModelJob
from sepconv_tui.model.swapping.swap import swap_convs
from sepconv_tui.model.vocabulary.analysis import Selection, parse_selection
from sepconv_tui.model.workflow import Workflow
from sepconv_tui.report.fidelity import format_share_interval

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
    estimate = check_reconstruction_budget(original, names, data.inputs, budget_bytes=2**62)
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
    print("| | |\n|---|---:|")
    print(f"| one forward of the original | {forward:.2f} s |")
    print(f"| reconstruction (all layers) | {fit:.2f} s |")
    print(f"| ratio (target ≤ 4×, floor ≈ 2×) | **{fit / forward:.2f}×** |")
    print(
        f"| RSS with both models built / peak | {built_rss / 2**20:.0f} MiB / "
        f"{peak_rss_bytes() / 2**20:.0f} MiB |"
    )
    print(
        f"| estimated before starting (checked against the budget) | {estimate / 2**20:.0f} MiB |"
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


def digits_table(folder: Path, figures: dict[str, float]) -> None:
    """docs/recovery.md's table: original / SVD only / reconstruct / distill on the test split."""
    source = f"{DIGITS / 'model.py'}:build"
    job = ModelJob(
        parse_source(source), weights=str(folder / "digits.pt"), selection=Selection("all")
    )
    flow = Workflow(job, str(folder / "data.pt"), test=500)
    analysis = analyze_model(source, select="all")
    timings = {}
    recoveries = {}
    for mode in ("none", "reconstruct", "distill"):
        start = time.perf_counter()
        recoveries[mode] = flow.recover(mode)
        timings[mode] = time.perf_counter() - start
    distilled = recoveries["distill"]
    stages = distilled.stages
    split = distilled.split
    print(
        f"digits CNN (examples/digits), {len(distilled.result.swapped)} convs swapped at m = 1; "
        f"--data data.pt --test 500: split fit {split.fit} · validation {split.validation} · "
        f"test {split.test} (reconstruction alone: fit {recoveries['reconstruct'].split.fit} · "
        f"validation {recoveries['reconstruct'].split.validation} · test "
        f"{recoveries['reconstruct'].split.test}); trained in {figures['seconds']} s"
    )
    print(
        "| | Accuracy [95%] | Agreement [95%] | n | Output error | Params | MACs | Time |\n"
        "|---|---:|---:|---:|---:|---:|---:|---:|"
    )
    original_cost, swapped_cost = analysis.original, analysis.swapped
    first = stages[0]
    accuracy = format_share_interval(first.original_accuracy, first.original_accuracy_interval)
    print(
        f"| original | {accuracy} "
        f"| 100% | {first.evaluated} | 0 | {original_cost.params:,} | {original_cost.macs:,} | — |"
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
            f"| {names[stage.stage]} | "
            f"{format_share_interval(stage.swapped_accuracy, stage.swapped_accuracy_interval)} | "
            f"{format_share_interval(stage.agreement, stage.agreement_interval)} | "
            f"{stage.evaluated} | {stage.output_error:.3f} | {swapped_cost.params:,} | "
            f"{swapped_cost.macs:,} | {times[stage.stage]:.1f} s |"
        )
    print("(time: the whole recovery for that mode, test-split measurements included)")
    run = distilled.distillation
    assert run is not None
    gap = (first.original_accuracy or 0) - (stages[-1].swapped_accuracy or 0)
    print(
        f"distillation: {run.steps} steps (ceiling 2000), stopped by {run.stopped}, "
        f"best at step {run.best_step} (validation loss {run.best_loss:.4g}, agreement "
        f"{run.best_agreement:.1%}), "
        f"{run.checks} validation checks, {run.seconds:.1f} s; test accuracy "
        f"{gap * 100:.1f} points below the original's"
    )
    chosen = Workflow(
        job, str(folder / "data.pt"), budget=parse_selection("agreement:0.99"), test=500
    ).recover("reconstruct")
    final = chosen.final
    assert final.validation is not None
    accuracy = format_share_interval(final.swapped_accuracy, final.swapped_accuracy_interval)
    print(
        f"agreement:0.99 → {len(chosen.result.swapped)} of 4 convs swapped "
        f"({', '.join(chosen.result.swapped)}); test agreement "
        f"{format_share_interval(final.agreement, final.agreement_interval)} on {final.evaluated}, "
        f"test accuracy {accuracy}"
        f"; chosen on validation at "
        f"{format_share_interval(final.validation.agreement, final.validation.interval)} on "
        f"{final.validation.evaluated}"
    )
    for note in final.notes:
        print(f"note: {note}")
    print()


def torchrun_wall_time(folder: Path) -> None:
    """The same reconstruction in one process and under torchrun with two (gloo)."""
    source = f"{DIGITS / 'model.py'}:build"
    work = [
        "swap",
        source,
        "--weights",
        str(folder / "digits.pt"),
        "--swap",
        "all",
        "--data",
        str(folder / "data.pt"),
        "--test",
        "500",
        "--calibration",
        "1000",
        "--recover",
        "reconstruct",
    ]
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    launches = {
        "1 process": [sys.executable, "-m", "sepconv_tui"],
        "torchrun, 2 processes": [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node=2",
            "-m",
            "sepconv_tui",
        ],
    }
    walls = {}
    for name, launch in launches.items():
        out = folder / name.replace(" ", "_").replace(",", "")
        start = time.perf_counter()
        subprocess.run(
            [*launch, *work, "--out", str(out)], env=environment, check=True, capture_output=True
        )
        walls[name] = (time.perf_counter() - start, out)
    one = torch.load(walls["1 process"][1] / "swapped.pt")
    two = torch.load(walls["torchrun, 2 processes"][1] / "swapped.pt")
    difference = max(float((one[key] - two[key]).abs().max()) for key in one)
    print("`swap --recover reconstruct --calibration 1000` on digits (4 convs), whole command:")
    print("| launch | wall |\n|---|---:|")
    for name, (wall, _out) in walls.items():
        print(f"| {name} | {wall:.1f} s |")
    print(f"largest weight difference between the two models: {difference:.2g}")


def main() -> int:
    """Both parts, as Markdown tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--skip-resnet", action="store_true")
    arguments = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    if not arguments.skip_resnet:
        resnet_ratio(arguments.rounds)
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        figures = _make_digits(folder)
        digits_table(folder, figures)
        torchrun_wall_time(folder)
    return 0


if __name__ == "__main__":
    sys.exit(main())
