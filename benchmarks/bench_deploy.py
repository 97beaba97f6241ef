"""Swap, quantize, or both (issue 28): whole models in every runtime × precision cell, original
against swapped, measured with sepconv-tui's modules and again without them.

For each model every candidate conv is swapped at m = 1 (random weights: the values do not change
the time). Both sides are exported (``export.export_onnx``), quantized to static int8 QDQ
(``quantize.quantize_onnx``, per-channel and per-tensor, calibrated on 16 seeded random inputs)
and timed: ONNX Runtime at fp32 and int8, OpenVINO at fp32, bf16 and int8
(``openvino_timer.time_openvino``, the precision that ran as OpenVINO reports it). Each cell is
timed in a fresh process of its own at the same thread count. The same cells are then measured
without the tool: plain ``torch.onnx.export``, ``quantize_static``, an ONNX Runtime session, an
OpenVINO ``compile_model``, timed with ``timeit``. The two agree within 30% where the tool is
right. The table quotes the machine (``roofline.machine_limits``: CPU, kernel flags, peak FLOP/s
per precision, bandwidth). A shared machine is noisy: each child runs ``--repeats`` times,
the tool's and the plain runs interleaved, and the lowest median is kept.

Run: PYTHONPATH=. .venv/bin/python benchmarks/bench_deploy.py [--models resnet18,mobilenet_v2]
     [--threads 1] [--min-run-time 0.5] [--repeats 2] [--json out.json]
Needs the [deploy] and [openvino] extras and torchvision. Prints Markdown; not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import timeit
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MODELS = ("resnet18", "mobilenet_v2", "vgg16")
#: (row label, runtime, precision asked, file suffix)
CELLS = (
    ("ONNX Runtime fp32", "onnxruntime", "fp32", ""),
    ("ONNX Runtime int8 (static QDQ, per-channel)", "onnxruntime", "int8", "-int8"),
    ("ONNX Runtime int8 (per-tensor)", "onnxruntime", "int8", "-int8-tensor"),
    ("OpenVINO fp32 (hint f32)", "openvino", "fp32", ""),
    ("OpenVINO bf16 (hint bf16)", "openvino", "bf16", ""),
    ("OpenVINO int8 (the same QDQ file)", "openvino", "int8", "-int8"),
)
INPUT_SHAPE = (1, 3, 224, 224)
CALIBRATION = 16


# The child: one cell, one side, one tool ---------------------------------------------------


def child_tool(task: dict[str, Any]) -> dict[str, Any]:
    """The cell timed with sepconv-tui's modules."""
    if task["runtime"] == "openvino":
        from sepconv_tui.model.deploy.openvino_timer import time_openvino

        timed = time_openvino(task["path"], task["precision"], task["threads"], task["seconds"])
        return {"median_s": timed.timing.median_s, "ran": timed.ran.label}
    import numpy

    from sepconv_tui.model.deploy.export import onnx_session
    from sepconv_tui.model.deploy.quantize import onnxruntime_ran
    from sepconv_tui.model.deploy.timers import blocked_autorange

    session = onnx_session(task["path"], task["threads"])
    x = numpy.random.default_rng(0).standard_normal(INPUT_SHAPE).astype(numpy.float32)
    feed = {session.get_inputs()[0].name: x}
    timing = blocked_autorange(lambda: session.run(None, feed), task["seconds"])
    ran = onnxruntime_ran(task["path"], task["threads"])
    return {"median_s": timing.median_s, "ran": ran.label}


def child_plain(task: dict[str, Any]) -> dict[str, Any]:
    """The cell timed as a user would without the tool: the runtimes' own APIs and timeit."""
    import numpy

    x = numpy.random.default_rng(0).standard_normal(INPUT_SHAPE).astype(numpy.float32)
    if task["runtime"] == "openvino":
        import openvino

        hint = {"fp32": "f32", "bf16": "bf16", "int8": "f32"}[task["precision"]]
        compiled = openvino.Core().compile_model(
            task["path"],
            "CPU",
            {"INFERENCE_PRECISION_HINT": hint, "INFERENCE_NUM_THREADS": task["threads"]},
        )
        request = compiled.create_infer_request()

        def call() -> Any:
            return request.infer({0: x})
    else:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = task["threads"]
        session = onnxruntime.InferenceSession(
            task["path"], options, providers=["CPUExecutionProvider"]
        )
        name = session.get_inputs()[0].name

        def call() -> Any:
            return session.run(None, {name: x})

    timer = timeit.Timer(call)
    for _ in range(3):
        call()
    number, total = timer.autorange()
    repeats = max(3, int(task["seconds"] / max(total, 1e-9)) + 1)
    times = sorted(t / number for t in timer.repeat(repeat=min(repeats, 50), number=number))
    return {"median_s": times[len(times) // 2], "ran": task["precision"]}


def run_child(task: dict[str, Any]) -> dict[str, Any]:
    """One timing in a fresh process with ``threads`` threads everywhere."""
    threads = str(task["threads"])
    environment = {
        **os.environ,
        "OMP_NUM_THREADS": threads,
        "MKL_NUM_THREADS": threads,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    done = subprocess.run(
        [sys.executable, __file__, "--child", json.dumps(task)],
        capture_output=True,
        text=True,
        env=environment,
        check=False,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        tail = done.stderr.strip().splitlines()[-1:] or ["no message"]
        return {"error": tail[0]}
    return dict(json.loads(lines[-1]))


# The parent: files, then every cell ---------------------------------------------------------


def plain_files(model: Any, x: Any, folder: Path, stem: str) -> None:
    """``stem``.onnx and its int8 files, written with torch.onnx.export and quantize_static."""
    import numpy
    import torch
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    path = folder / f"plain-{stem}.onnx"
    torch.onnx.export(model, (x,), str(path), dynamo=True, verbose=False)
    prepared = folder / f"plain-{stem}.pre.onnx"
    quant_pre_process(str(path), str(prepared))
    rng = numpy.random.default_rng(0)
    samples = rng.standard_normal((CALIBRATION, *INPUT_SHAPE[1:])).astype(numpy.float32)

    class Reader(CalibrationDataReader):
        def __init__(self, name: str) -> None:
            self.batches = iter([{name: sample[None]} for sample in samples])

        def get_next(self) -> dict[str, Any] | None:
            return next(self.batches, None)

    import onnx

    name = onnx.load(str(path), load_external_data=False).graph.input[0].name
    for suffix, per_channel in (("-int8", True), ("-int8-tensor", False)):
        quantize_static(
            str(prepared),
            str(folder / f"plain-{stem}{suffix}.onnx"),
            Reader(name),
            quant_format=QuantFormat.QDQ,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            per_channel=per_channel,
        )


def tool_files(model: Any, folder: Path, stem: str, swapped: tuple[str, ...]) -> None:
    """``stem``.onnx and its int8 files, written with sepconv-tui's export and quantize."""
    from sepconv_tui.model.deploy.export import export_onnx
    from sepconv_tui.model.deploy.quantize import quantize_onnx

    path = folder / f"{stem}.onnx"
    export_onnx(model, path, input_shape=INPUT_SHAPE, swapped=swapped, label=stem)
    quantize_onnx(path, folder / f"{stem}-int8.onnx", random_count=CALIBRATION)
    quantize_onnx(path, folder / f"{stem}-int8-tensor.onnx", per_channel=False)


def bounds_table(name: str, machine: Any) -> None:
    """Each candidate's MAC ratio beside its roofline bound at every measured precision."""
    from sepconv_tui.model.describe.trace import analyze_model
    from sepconv_tui.model.latency.roofline import limits_of, model_bounds

    analysis = analyze_model(f"torchvision:{name}", input_shape=INPUT_SHAPE, select="all")
    limits = limits_of(machine)
    precisions = list(limits.peak_flops)
    bounds = {p: model_bounds(analysis.layers, p, limits) for p in precisions}
    print(f"\n### {name}: the limit per layer (roofline bound of conv ÷ block)\n")
    print("| layer | MAC ratio | " + " | ".join(f"bound {p}" for p in precisions) + " |")
    print("|---|---:|" + "---:|" * len(precisions))
    for layer in bounds[precisions[0]]:
        first = bounds[precisions[0]][layer]
        cells = " | ".join(f"{bounds[p][layer].bound_speed_ratio:.2f}×" for p in precisions)
        print(f"| {layer} | {first.mac_ratio:.2f}× | {cells} |")


def lowest(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the lowest median (an error when every run failed)."""
    timed = [run for run in runs if "median_s" in run]
    return min(timed, key=lambda run: run["median_s"]) if timed else runs[-1]


def model_table(name: str, threads: int, seconds: float, repeats: int) -> dict[str, Any]:
    """Every cell of ``name``, both sides, both tools; printed as one Markdown table."""
    import logging
    import shutil

    import torch

    from sepconv_tui.model.describe.source import build_model
    from sepconv_tui.model.swapping.swap import swap_convs

    logging.getLogger().setLevel(logging.ERROR)  # the quantizer's advice on the root logger
    torch.manual_seed(0)
    original = build_model(f"torchvision:{name}", real=True).module.eval()
    result = swap_convs(original, "all", depth_multiplier=1, init="random")
    swapped = result.model.eval()
    x = torch.randn(INPUT_SHAPE, generator=torch.Generator().manual_seed(0))
    folder = Path(tempfile.mkdtemp(prefix=f"bench-deploy-{name}-"))
    started = time.perf_counter()
    tool_files(original, folder, "original", ())
    tool_files(swapped, folder, "swapped", tuple(result.swapped))
    plain_files(original, x, folder, "original")
    plain_files(swapped, x, folder, "swapped")
    prepared = time.perf_counter() - started
    rows = []
    print(
        f"\n### {name}: {len(result.swapped)} candidates swapped at m = 1, {threads} thread"
        f"{'s' if threads != 1 else ''} (files in {prepared:.0f} s)\n"
    )
    print(
        "| runtime · precision (ran) | original | swapped | the swap buys "
        "| without the tool: original | swapped | buys | tool ÷ plain (orig, swap) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for label, runtime, precision, suffix in CELLS:
        cell: dict[str, Any] = {"label": label, "runtime": runtime, "precision": precision}
        runs: dict[str, list[dict[str, Any]]] = {}
        for _ in range(repeats):
            for side in ("original", "swapped"):
                for tool, prefix in (("tool", ""), ("plain", "plain-")):
                    task = {
                        "tool": tool,
                        "runtime": runtime,
                        "precision": precision,
                        "path": str(folder / f"{prefix}{side}{suffix}.onnx"),
                        "threads": threads,
                        "seconds": seconds,
                    }
                    runs.setdefault(f"{tool}_{side}", []).append(run_child(task))
        cell.update({key: lowest(results) for key, results in runs.items()})
        rows.append(cell)
        print(format_row(cell), flush=True)
    best = best_cells(rows)
    if best is not None:
        (o_label, o_time), (s_label, s_time) = best
        print(
            f"\nBest original: {o_label}, {o_time * 1e3:.2f} ms. Best swapped: {s_label}, "
            f"{s_time * 1e3:.2f} ms. Against the original's best, the swap buys "
            f"**{o_time / s_time:.2f}×**."
        )
    shutil.rmtree(folder, ignore_errors=True)
    return {"model": name, "swapped": len(result.swapped), "rows": rows}


def ms(result: dict[str, Any]) -> str:
    """A cell's median in ms, or its error."""
    if "error" in result:
        return f"failed: {result['error'][:40]}"
    return f"{result['median_s'] * 1e3:.2f} ms"


def ratio(before: dict[str, Any], after: dict[str, Any]) -> str:
    """before ÷ after, or a dash."""
    if "median_s" not in before or "median_s" not in after:
        return "–"
    return f"{before['median_s'] / after['median_s']:.2f}×"


def format_row(cell: dict[str, Any]) -> str:
    """One Markdown row: the tool's figures, the plain figures, and how they compare."""
    tool_o, tool_s = cell["tool_original"], cell["tool_swapped"]
    plain_o, plain_s = cell["plain_original"], cell["plain_swapped"]
    ran = {tool_o.get("ran"), tool_s.get("ran")} - {None}
    label = cell["label"] + (f" → ran {'/'.join(sorted(ran))}" if ran else "")
    return (
        f"| {label} | {ms(tool_o)} | {ms(tool_s)} | {ratio(tool_o, tool_s)} "
        f"| {ms(plain_o)} | {ms(plain_s)} | {ratio(plain_o, plain_s)} "
        f"| {ratio(tool_o, plain_o)}, {ratio(tool_s, plain_s)} |"
    )


def best_cells(rows: list[dict[str, Any]]) -> tuple[tuple[str, float], tuple[str, float]] | None:
    """The fastest tool cell of each side: (label, median) for the original and the swapped."""
    sides = []
    for side in ("original", "swapped"):
        timed = [
            (row["label"], row[f"tool_{side}"]["median_s"])
            for row in rows
            if "median_s" in row[f"tool_{side}"]
        ]
        if not timed:
            return None
        sides.append(min(timed, key=lambda pair: pair[1]))
    return sides[0], sides[1]


def main() -> int:
    """Parse the options; print the machine and one table per model."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="resnet18")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--min-run-time", type=float, default=0.5)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--json", help="also write every figure to this file")
    parser.add_argument("--bounds", default="resnet18", help="models whose layer bounds to show")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        task = json.loads(options.child)
        result = child_tool(task) if task["tool"] == "tool" else child_plain(task)
        print(json.dumps(result))
        return 0
    from sepconv_tui.model.latency.roofline import machine_limits

    machine = machine_limits(options.threads)
    print(f"Machine: {machine.caption}")
    print(f"Versions: {', '.join(f'{k} {v}' for k, v in machine.versions.items())}")
    peaks = ", ".join(f"{p} {flops / 1e9:.0f} G/s" for p, flops in machine.peak_flops.items())
    absent = "; ".join(f"{p}: {why}" for p, why in machine.peak_absent.items())
    bandwidth = (machine.bandwidth_bytes_s or 0) / 1e9
    print(
        f"Peaks: {peaks}{f' (absent: {absent})' if absent else ''}; bandwidth {bandwidth:.1f} GB/s"
    )
    for name in filter(None, options.bounds.split(",")):
        bounds_table(name, machine)
    tables = [
        model_table(name, options.threads, options.min_run_time, options.repeats)
        for name in filter(None, options.models.split(","))
    ]
    if options.json:
        document = {"machine": machine.to_dict(), "models": tables}
        Path(options.json).write_text(json.dumps(document, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
