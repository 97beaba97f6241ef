"""sepconv-tui against the tools people use instead: torchinfo, fvcore, ptflops and thop.

For four layers, each tool measures both sides (the standard conv and the separable block) in
its own process. The table shows the whole-process wall time (median of --runs), the peak RSS,
and the params / MACs / output shape each tool reports, marked ✔ or ✘ against sepconv-tui's
closed form under that tool's own convention (bias adds counted or not).

Run:  .venv/bin/pip install -c constraints.txt -e '.[bench]'
      .venv/bin/python benchmarks/peers.py [--runs 3] [--layers reference,...]
Prints a Markdown table (see benchmarks/README.md for what each column means).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
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
    """One tool on one layer: wall times, peak RSS, and what it reported."""

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


def run_tool(tool: str, key: str, runs: int) -> Run:
    """Run ``tool`` on layer ``key`` ``runs`` times, each in a fresh process."""
    spec = LAYERS[key][1]
    if tool.startswith("sepconv"):
        command = sepconv_command(tool, spec)
    else:
        command = [sys.executable, __file__, "--child", tool, "--layer", key]
    seconds, peak, output = [], 0, ""
    for _ in range(runs):
        wall, rss, output = run_once(command)
        seconds.append(wall)
        peak = max(peak, rss)
    document = json.loads(output)
    figures = figures_from_compare(document) if tool.startswith("sepconv") else document
    return Run(seconds, peak, figures)


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


def main() -> None:
    """Run every tool on every layer and print the Markdown table and the target ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="processes per tool and layer")
    parser.add_argument("--layers", default=",".join(LAYERS), help="comma-separated layer keys")
    parser.add_argument("--tools", default=",".join(TOOLS), help="comma-separated tool keys")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--layer", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.child:
        print(json.dumps(measure_with(arguments.child, LAYERS[arguments.layer][1])))
        return

    print(
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, torch {version('torch')}; median of {arguments.runs} "
        "processes per cell.\n"
    )
    print(
        "| Layer | Tool | Wall | Peak RSS | Std params | Sep params | Std MACs | Sep MACs "
        "| Output shape | Convention |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---|---|")
    results: dict[tuple[str, str], Run] = {}
    for key in arguments.layers.split(","):
        label, spec = LAYERS[key]
        comparison = compare(spec, method="analytic")
        for tool_key in arguments.tools.split(","):
            run = run_tool(tool_key, key, arguments.runs)
            results[key, tool_key] = run
            print(table_row(label, TOOLS[tool_key], run, comparison), flush=True)
    if ("256x512", "torchinfo") in results:
        reference = results["256x512", "torchinfo"]
        print("\nTargets on 256→256 @ 512×512 (sepconv-tui ÷ torchinfo):\n")
        for tool_key in ("sepconv-closed", "sepconv-torch"):
            if ("256x512", tool_key) in results:
                run = results["256x512", tool_key]
                time_ratio = statistics.median(run.seconds) / statistics.median(reference.seconds)
                rss_ratio = run.peak_rss_bytes / reference.peak_rss_bytes
                print(
                    f"- {TOOLS[tool_key].name}: time {time_ratio:.3f}× (target ≤ 0.35×), "
                    f"peak RSS {rss_ratio:.3f}× (target ≤ 0.25×)"
                )


if __name__ == "__main__":
    main()
