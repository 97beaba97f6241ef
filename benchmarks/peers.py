"""sepconv-tui against the tools people use instead: torchinfo, fvcore, ptflops and thop.

Layers: for four layers, each tool measures both sides (the standard conv and the separable
block) in its own process. The table shows the whole-process wall time (median of --runs), the
peak RSS, and the params / MACs / output shape each tool reports, marked ✔ or ✘ against
sepconv-tui's closed form under that tool's own convention (bias adds counted or not).

Whole models: for four torchvision models, each tool counts the model (built with
weights=None on the CPU, one image at the weights' crop size) in its own process, and
sepconv-tui runs `sepconv-tui model torchvision:NAME --json`. Params and MACs are marked ✔ or ✘
against torchvision's published figures (meta["num_params"], meta["_ops"] in GMACs).

Run:  .venv/bin/pip install -c constraints.txt -e '.[bench]'
      .venv/bin/python benchmarks/peers.py [--runs 3] [--layers reference,...] [--models vgg16,...]
Prints Markdown tables (see benchmarks/README.md for what each column means).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from importlib.metadata import version
from typing import Any

from sepconv_tui.cli import LAYER_FLAGS
from sepconv_tui.core.compare import Comparison, compare
from sepconv_tui.core.memory import format_bytes
from sepconv_tui.core.spec import LayerSpec
from sepconv_tui.report.format import format_count, format_shape

LAYERS: dict[str, tuple[str, LayerSpec]] = {
    "reference": ("reference 3→16 @ 32×32", LayerSpec()),
    "512x14": (
        "512→512 @ 14×14",
        LayerSpec(in_channels=512, out_channels=512, height=14, width=14),
    ),
    "256x512": (
        "256→256 @ 512×512",
        LayerSpec(in_channels=256, out_channels=256, height=512, width=512),
    ),
    "strided": (
        "32→64 s2 d2 m2 no bias @ 56×56",
        LayerSpec(
            in_channels=32,
            out_channels=64,
            stride=2,
            padding=2,
            dilation=2,
            depth_multiplier=2,
            bias=False,
            height=56,
            width=56,
        ),
    ),
}


@dataclass(frozen=True)
class Tool:
    """A counting tool: its name and what its MAC figure includes."""

    name: str
    convention: str
    counts_bias_adds: bool  # its "MACs" include one add per output element per bias


TOOLS: dict[str, Tool] = {
    "sepconv-closed": Tool("sepconv-tui (closed form)", "MACs, no bias adds", False),
    "sepconv-torch": Tool("sepconv-tui (closed form + PyTorch meta)", "MACs, no bias adds", False),
    "torchinfo": Tool("torchinfo 1.8", "mult-adds incl. bias adds; real forward", True),
    "fvcore": Tool("fvcore", '"flops" = MACs, no bias adds; traced forward', False),
    "ptflops": Tool("ptflops", "MACs incl. bias adds; real forward", True),
    "thop": Tool("thop", "MACs, no bias adds; params summed over submodules only", False),
    "sepconv-model": Tool("sepconv-tui model", "", False),
}

#: Which tools run on layers and which on whole models (`sepconv-tui model` takes no layer, and
#: `compare` takes no model).
LAYER_TOOLS = ("sepconv-closed", "sepconv-torch", "torchinfo", "fvcore", "ptflops", "thop")
MODEL_TOOLS = ("sepconv-model", "torchinfo", "fvcore", "ptflops", "thop")

MODELS = ("resnet50", "efficientnet_b0", "vgg16", "convnext_large")
IMPORT_FLOOR = "import torch, torchvision"

#: What each tool's whole-model figures count, which is why most differ from torchvision's
#: published GMACs (conv and matmul multiply-adds only, bias adds not counted).
MODEL_CONVENTIONS: dict[str, str] = {
    "sepconv-model": (
        "MACs of conv + matmul, no bias adds: closed form per Conv2d/Linear, checked by "
        "FlopCounterMode; meta device, no weights"
    ),
    "torchinfo": (
        "mult-adds incl. bias adds; other layers: params × batch (a Linear on a 4-D input: "
        "one position); real forward"
    ),
    "fvcore": '"flops" = MACs of conv, matmul, norms, pooling; traced forward; skips',
    "ptflops": "MACs incl. bias adds, norms, activations, pooling; real forward",
    "thop": (
        "MACs incl. norms and activations; params only of modules it has a rule for; real forward"
    ),
}


def measure_with(tool: str, spec: LayerSpec) -> dict[str, Any]:
    """Child side: ``tool``'s params, MACs and output shape for both sides of ``spec``."""
    import torch

    from sepconv_tui.core.layers import separable_block, standard_conv

    sides = {"standard": standard_conv(spec).eval(), "separable": separable_block(spec).eval()}
    figures: dict[str, Any] = {}
    for side, module in sides.items():
        shape: list[int] | None = None
        if tool == "torchinfo":
            from torchinfo import summary

            stats = summary(module, input_size=spec.input_shape, verbose=0)
            params, macs = stats.total_params, stats.total_mult_adds
            shape = list(stats.summary_list[0].output_size)
        elif tool == "fvcore":
            from fvcore.nn import FlopCountAnalysis, parameter_count

            analysis = FlopCountAnalysis(module, torch.randn(spec.input_shape))
            analysis.unsupported_ops_warnings(False)
            analysis.uncalled_modules_warnings(False)
            params, macs = parameter_count(module)[""], analysis.total()
        elif tool == "ptflops":
            from ptflops import get_model_complexity_info

            macs, params = get_model_complexity_info(
                module,
                tuple(spec.input_shape[1:]),
                as_strings=False,
                print_per_layer_stat=False,
                verbose=False,
            )
        elif tool == "thop":
            from thop import profile

            macs, params = profile(module, inputs=(torch.randn(spec.input_shape),), verbose=False)
        else:
            raise ValueError(f"unknown tool {tool!r}")
        figures[side] = {"params": int(params), "macs": int(macs), "shape": shape}
    return figures


def crop_size(name: str) -> int:
    """The crop size torchvision's default weights for model ``name`` were evaluated at."""
    from torchvision import models

    return int(models.get_model_weights(name).DEFAULT.transforms().crop_size[0])


def measure_model_with(tool: str, name: str) -> dict[str, Any]:
    """Child side: ``tool``'s params and MACs for torchvision model ``name`` (batch 1, CPU)."""
    import torch
    from torchvision import models

    model = models.get_model(name, weights=None).eval()
    image = torch.randn(1, 3, crop_size(name), crop_size(name))
    skipped: list[str] = []
    if tool == "torchinfo":
        from torchinfo import summary

        stats = summary(model, input_size=tuple(image.shape), verbose=0)
        params, macs = stats.total_params, stats.total_mult_adds
    elif tool == "fvcore":
        from fvcore.nn import FlopCountAnalysis, parameter_count

        analysis = FlopCountAnalysis(model, image)
        analysis.unsupported_ops_warnings(False)
        analysis.uncalled_modules_warnings(False)
        params, macs = parameter_count(model)[""], analysis.total()
        skipped = sorted(op.removeprefix("aten::") for op in analysis.unsupported_ops())
    elif tool == "ptflops":
        from ptflops import get_model_complexity_info

        macs, params = get_model_complexity_info(
            model,
            tuple(image.shape[1:]),
            as_strings=False,
            print_per_layer_stat=False,
            verbose=False,
        )
    elif tool == "thop":
        from thop import profile

        macs, params = profile(model, inputs=(image,), verbose=False)
    else:
        raise ValueError(f"unknown tool {tool!r}")
    return {"params": int(params), "macs": int(macs), "skipped": skipped}


def warm_analysis_seconds(name: str, repeats: int = 5) -> list[float]:
    """Child side: seconds of each of ``repeats`` `analyze_model` calls after a warm-up call."""
    from sepconv_tui import analyze_model

    analyze_model(f"torchvision:{name}")  # pays for torch's, torchvision's first-use costs
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        analyze_model(f"torchvision:{name}")
        seconds.append(time.perf_counter() - start)
    return seconds


def sepconv_command(tool: str, spec: LayerSpec) -> list[str]:
    """The `sepconv-tui compare --json` command a user would run for ``spec``."""
    command = [sys.executable, "-m", "sepconv_tui", "compare", "--json"]
    if tool == "sepconv-closed":
        command.append("--closed-form-only")
    for flag, field in LAYER_FLAGS.items():
        value = getattr(spec, field)
        if value is not None:
            command += [flag, str(value)]
    if not spec.bias:
        command.append("--no-bias")
    return command


def figures_from_compare(document: dict[str, Any]) -> dict[str, Any]:
    """Both sides' params, MACs and shape from `compare --json`."""
    return {
        side: {
            "params": document[side]["params"],
            "macs": document[side]["macs"],
            "shape": document[side]["output_shape"],
        }
        for side in ("standard", "separable")
    }


@dataclass(frozen=True)
class Run:
    """One tool on one layer or model: wall times, peak RSS, and what it reported."""

    seconds: list[float]
    peak_rss_bytes: int
    figures: dict[str, Any]


#: A tiny launcher (python -S, ~8 MB) that spawns the measured command and reports its wall
#: time, peak RSS and exit code. A process's peak RSS starts at its parent's peak, so the
#: measured command must not be spawned by this script (which has imported sepconv_tui).
LAUNCHER = """
import os, sys, time
start = time.perf_counter()
pid = os.posix_spawn(sys.argv[1], sys.argv[1:], os.environ)
_, status, usage = os.wait4(pid, 0)
sys.stderr.write(f"\\n@@ {time.perf_counter() - start} {usage.ru_maxrss} "
                 f"{os.waitstatus_to_exitcode(status)}\\n")
"""


def run_once(command: list[str]) -> tuple[float, int, str]:
    """Wall seconds, peak RSS (bytes) and stdout of one whole process."""
    launched = subprocess.run(
        [sys.executable, "-S", "-c", LAUNCHER, *command],
        capture_output=True,
        text=True,
        check=True,
    )
    seconds, max_rss_kib, exit_code = launched.stderr.rsplit("@@ ", 1)[1].split()
    if int(exit_code) not in (0, 1):  # compare exits 1 on a shape mismatch
        raise RuntimeError(f"{' '.join(command)} failed:\n{launched.stderr}")
    return float(seconds), int(max_rss_kib) * 1024, launched.stdout  # Linux reports KiB


def run_command(command: list[str], runs: int) -> Run:
    """``runs`` fresh processes of ``command``: wall times, peak RSS, the JSON it printed."""
    seconds, peak, output = [], 0, ""
    for _ in range(runs):
        wall, rss, output = run_once(command)
        seconds.append(wall)
        peak = max(peak, rss)
    return Run(seconds, peak, json.loads(output) if output.strip() else {})


def run_tool(tool: str, key: str, runs: int) -> Run:
    """Run ``tool`` on layer ``key`` ``runs`` times, each in a fresh process."""
    spec = LAYERS[key][1]
    if tool.startswith("sepconv"):
        command = sepconv_command(tool, spec)
    else:
        command = [sys.executable, __file__, "--child", tool, "--layer", key]
    run = run_command(command, runs)
    if tool.startswith("sepconv"):
        return Run(run.seconds, run.peak_rss_bytes, figures_from_compare(run.figures))
    return run


def model_command(tool: str, name: str) -> list[str]:
    """The command that runs ``tool`` on torchvision model ``name`` and prints JSON."""
    if tool == "sepconv-model":
        return [sys.executable, "-m", "sepconv_tui", "model", f"torchvision:{name}", "--json"]
    return [sys.executable, __file__, "--child", tool, "--model", name]


def run_model_tool(tool: str, name: str, runs: int) -> Run:
    """Run ``tool`` on torchvision model ``name`` ``runs`` times, each in a fresh process."""
    run = run_command(model_command(tool, name), runs)
    if tool == "sepconv-model":
        original = run.figures["original"]
        figures = {"params": original["params"], "macs": original["macs"]}
        return Run(run.seconds, run.peak_rss_bytes, figures)
    return run


def interleaved(commands: list[list[str]], runs: int) -> list[Run]:
    """``runs`` rounds of one fresh process per command in turn: wall times and peak RSS.

    Taking turns spreads the shared machine's noisy spells over every command alike, which
    matters for a ratio of two whole-process times.
    """
    seconds: list[list[float]] = [[] for _ in commands]
    peaks = [0] * len(commands)
    for _ in range(runs):
        for index, command in enumerate(commands):
            wall, rss, _ = run_once(command)
            seconds[index].append(wall)
            peaks[index] = max(peaks[index], rss)
    return [Run(times, peak, {}) for times, peak in zip(seconds, peaks, strict=True)]


def expected(comparison: Comparison, side: str, tool: Tool) -> dict[str, Any]:
    """What ``tool`` should report for ``side`` under its own convention."""
    figures = comparison.standard if side == "standard" else comparison.separable
    macs = figures.macs or 0
    if tool.counts_bias_adds:
        if side == "standard":
            outputs = [comparison.standard.output_shape]
        else:
            outputs = [comparison.separable.depthwise.output_shape, figures.output_shape]
        for shape in outputs:
            if comparison.spec.bias and shape is not None:
                macs += shape[0] * shape[2] * shape[3] * shape[1]  # one add per output element
    return {"params": figures.params, "macs": macs, "shape": figures.output_shape}


def mark(value: Any, want: Any, text: str) -> str:
    """``text`` with ✔ when ``value`` equals ``want``, else ✘."""
    return f"{text} {'✔' if value == want else '✘'}"


def table_row(layer: str, tool: Tool, run: Run, comparison: Comparison) -> str:
    """One Markdown row."""
    cells = [layer, tool.name, f"{statistics.median(run.seconds):.2f} s"]
    cells.append(format_bytes(run.peak_rss_bytes))
    for figure in ("params", "macs"):
        for side in ("standard", "separable"):
            value = run.figures[side][figure]
            want = expected(comparison, side, tool)[figure]
            cells.append(mark(value, want, format_count(value)))
    shape = run.figures["standard"]["shape"]
    if shape is None:
        cells.append("not reported")
    else:
        wanted = [expected(comparison, side, tool)["shape"] for side in ("standard", "separable")]
        got = [tuple(run.figures[side]["shape"]) for side in ("standard", "separable")]
        cells.append(mark(got, wanted, format_shape(tuple(shape))))
    cells.append(tool.convention)
    return "| " + " | ".join(cells) + " |"


@dataclass(frozen=True)
class Published:
    """torchvision's published figures for a model's default weights."""

    params: int
    gmacs: float  # meta["_ops"]: conv and matmul multiply-adds, in billions
    decimals: int  # how many decimals torchvision prints it with
    crop: int


def published(name: str) -> Published:
    """The figures torchvision publishes for model ``name``'s default weights."""
    from torchvision import models

    weights = models.get_model_weights(name).DEFAULT
    gmacs = float(weights.meta["_ops"])
    decimals = len(repr(gmacs).partition(".")[2])
    return Published(weights.meta["num_params"], gmacs, decimals, crop_size(name))


def model_row(name: str, tool: str, run: Run, want: Published) -> str:
    """One Markdown row: a tool's whole-model figures against torchvision's published ones."""
    gmacs = round(run.figures["macs"] / 1e9, want.decimals)
    convention = MODEL_CONVENTIONS[tool]
    if tool == "fvcore":
        convention += " " + (", ".join(run.figures["skipped"]) or "nothing")
    cells = [
        f"{name} @ {want.crop}²",
        TOOLS[tool].name,
        f"{statistics.median(run.seconds):.2f} s",
        format_bytes(run.peak_rss_bytes),
        mark(run.figures["params"], want.params, format_count(run.figures["params"])),
        mark(gmacs, want.gmacs, f"{gmacs:.{want.decimals}f}"),
        convention,
    ]
    return "| " + " | ".join(cells) + " |"


def print_layer_table(layers: list[str], tools: list[str], runs: int) -> None:
    """Run ``tools`` on ``layers`` and print the layer table and the 256×512 target ratios."""
    print(
        "| Layer | Tool | Wall | Peak RSS | Std params | Sep params | Std MACs | Sep MACs "
        "| Output shape | Convention |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---|---|")
    results: dict[tuple[str, str], Run] = {}
    for key in layers:
        label, spec = LAYERS[key]
        comparison = compare(spec, method="analytic")
        for tool_key in tools:
            run = run_tool(tool_key, key, runs)
            results[key, tool_key] = run
            print(table_row(label, TOOLS[tool_key], run, comparison), flush=True)
    if ("256x512", "torchinfo") in results:
        reference = results["256x512", "torchinfo"]
        print("\nTargets on 256→256 @ 512×512 (sepconv-tui ÷ torchinfo):\n")
        for tool_key in ("sepconv-closed", "sepconv-torch"):
            if ("256x512", tool_key) in results:
                print(
                    f"- {TOOLS[tool_key].name}: "
                    + ratios(results["256x512", tool_key], reference, 0.35, 0.25)
                )


def ratios(
    run: Run, reference: Run, time_target: float | None = None, rss_target: float | None = None
) -> str:
    """``run``'s median wall time and peak RSS as fractions of ``reference``'s, with targets."""
    time_ratio = statistics.median(run.seconds) / statistics.median(reference.seconds)
    rss_ratio = run.peak_rss_bytes / reference.peak_rss_bytes
    time_text = f"time {time_ratio:.3f}×"
    rss_text = f"peak RSS {rss_ratio:.3f}×"
    if time_target is not None:
        time_text += f" (target ≤ {time_target}×)"
    if rss_target is not None:
        rss_text += f" (target ≤ {rss_target}×)"
    return f"{time_text}, {rss_text}"


def whole_process(run: Run) -> str:
    """``run``'s median wall time and peak RSS, e.g. "3.61 s, 1.08 GiB"."""
    return f"{statistics.median(run.seconds):.2f} s, {format_bytes(run.peak_rss_bytes)}"


def print_model_targets(names: list[str], tools: list[str], runs: int) -> None:
    """The issue's whole-model targets: convnext_large against torchinfo, warm resnet50."""
    versus = "convnext_large" in names and {"sepconv-model", "torchinfo"} <= set(tools)
    warm = "resnet50" in names and "sepconv-model" in tools
    if not (versus or warm):
        return
    print("\nTargets:\n")
    if versus:
        commands = [
            model_command(tool, "convnext_large") for tool in ("sepconv-model", "torchinfo")
        ]
        # The floor any torch-based counter pays before it counts anything.
        commands.append([sys.executable, "-c", IMPORT_FLOOR])
        sepconv, torchinfo, floor = interleaved(commands, runs)
        print(
            f"- convnext_large, `sepconv-tui model` ({whole_process(sepconv)}) ÷ torchinfo's "
            f"`summary` ({whole_process(torchinfo)}), median of {runs} interleaved rounds: "
            + ratios(sepconv, torchinfo, 0.6, 0.5)
        )
        print(
            f'- the floor, `python -c "{IMPORT_FLOOR}"` alone ({whole_process(floor)}) ÷ '
            f"torchinfo's: {ratios(floor, torchinfo)}"
        )
    if warm:
        command = [sys.executable, __file__, "--child", "warm", "--model", "resnet50"]
        seconds = run_command(command, 1).figures["seconds"]
        print(
            "- resnet50 analysed in a warm process (`sepconv_tui.analyze_model`, after one "
            f"warm-up call): median {statistics.median(seconds) * 1000:.0f} ms, slowest "
            f"{max(seconds) * 1000:.0f} ms of {len(seconds)} (target ≤ 300 ms)"
        )


def print_model_table(names: list[str], tools: list[str], runs: int) -> None:
    """Run ``tools`` on whole models; print the table and the whole-model targets."""
    print("| Model | Tool | Wall | Peak RSS | Params | GMACs | Convention |")
    print("|---|---|---:|---:|---:|---:|---|")
    for name in names:
        want = published(name)
        cells = [f"{name} @ {want.crop}²", "torchvision (published)", "", ""]
        cells += [format_count(want.params), f"{want.gmacs:.{want.decimals}f}"]
        cells.append('meta["num_params"], meta["_ops"]: conv + matmul MACs, no bias adds')
        print("| " + " | ".join(cells) + " |", flush=True)
        for tool in tools:
            print(model_row(name, tool, run_model_tool(tool, name, runs), want), flush=True)
    print_model_targets(names, tools, runs)


def classification_models(requested: str) -> tuple[str, ...]:
    """The four default models, plus torchvision's classification models if others are asked."""
    if all(name in MODELS for name in requested.split(",") if name):
        return MODELS  # spares the parent torchvision's import
    import torchvision

    return tuple(torchvision.models.list_models(module=torchvision.models))  # classification


def parse_keys(
    parser: argparse.ArgumentParser, option: str, text: str, accepted: tuple[str, ...]
) -> list[str]:
    """The comma-separated keys of ``option``, each one of ``accepted`` (else exit 2)."""
    keys = [key for key in text.split(",") if key]
    unknown = [key for key in keys if key not in accepted]
    if unknown:
        listed = (
            ", ".join(accepted)
            if len(accepted) <= 10
            else "a name from " + ", ".join([*accepted[:3], "…", accepted[-1]])
        )
        parser.error(f"{option}: unknown {', '.join(unknown)}; accepted: {listed}")
    return keys


def main() -> None:
    """Run every tool on every layer and model; print the Markdown tables and target ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="processes per tool and layer/model")
    parser.add_argument(
        "--layers", default=",".join(LAYERS), help="comma-separated layer keys ('' for none)"
    )
    parser.add_argument(
        "--models",
        default=",".join(MODELS),
        help="comma-separated torchvision models ('' for none)",
    )
    parser.add_argument("--tools", default=",".join(TOOLS), help="comma-separated tool keys")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--layer", help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.child == "warm":
        print(json.dumps({"seconds": warm_analysis_seconds(arguments.model)}))
        return
    if arguments.child and arguments.model:
        print(json.dumps(measure_model_with(arguments.child, arguments.model)))
        return
    if arguments.child:
        print(json.dumps(measure_with(arguments.child, LAYERS[arguments.layer][1])))
        return
    if arguments.runs < 1:
        parser.error(f"--runs: {arguments.runs} is not a count; accepted: 1 or more")
    layers = parse_keys(parser, "--layers", arguments.layers, tuple(LAYERS))
    models = parse_keys(
        parser, "--models", arguments.models, classification_models(arguments.models)
    )
    tools = parse_keys(parser, "--tools", arguments.tools, tuple(TOOLS))

    print(
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, torch {version('torch')}; median of {arguments.runs} "
        "processes per cell.\n"
    )
    if layers:
        print_layer_table(layers, [tool for tool in tools if tool in LAYER_TOOLS], arguments.runs)
    if layers and models:
        print()
    if models:
        print_model_table(models, [tool for tool in tools if tool in MODEL_TOOLS], arguments.runs)


if __name__ == "__main__":
    main()
