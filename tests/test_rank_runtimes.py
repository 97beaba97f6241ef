"""1-D and 3-D models where they run: ONNX export, bench --runtime, --per-layer, speedup:X.

tests/models/ranks.py's small models (a Conv1d sequence net, a Conv3d clip net). Channels-last
is NDHWC in 3-D and refused in 1-D (``--runtime all`` leaves it out with a note). Short timings
on one thread: what is reported, never how fast anything is.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import torch
from conftest import run_cli
from torch import nn

from sepconv_tui.core.latency import channels_last_input, to_channels_last
from sepconv_tui.model.results.bench_result import LayerBench, ModelBenchResult

RANKS = Path(__file__).parent / "models" / "ranks.py"
SEQUENCE = f"{RANKS}:sequence"  # Conv1d, input N×8×8
CLIP = f"{RANKS}:clip"  # Conv3d, input N×3×4×8×8
QUICK = ("--threads", "1", "--min-run-time", "0.01")
NOT_1D = "not 1-D: PyTorch has no channels-last layout for N×C×L tensors"


def test_channels_last_puts_each_tensor_in_its_own_ranks_layout() -> None:
    """A module holding a Conv2d and a Conv3d: the 4-D weight NHWC, the 5-D one NDHWC, the
    rest untouched (``.to(memory_format=…)`` refuses one of the two); inputs by their rank."""
    module = nn.ModuleDict(
        {"flat": nn.Conv2d(4, 4, 3), "clip": nn.Conv3d(4, 4, 3), "line": nn.Conv1d(4, 4, 3)}
    )
    with pytest.raises(RuntimeError):
        nn.Conv3d(4, 4, 3).to(memory_format=torch.channels_last)
    converted: nn.ModuleDict = to_channels_last(module)  # type: ignore[assignment]
    flat, clip, line = (converted[name] for name in ("flat", "clip", "line"))
    assert flat.weight.is_contiguous(memory_format=torch.channels_last)
    assert not flat.weight.is_contiguous()
    assert clip.weight.is_contiguous(memory_format=torch.channels_last_3d)
    assert not clip.weight.is_contiguous()
    assert line.weight.is_contiguous() and line.bias.is_contiguous()
    assert channels_last_input(torch.ones(1, 2, 3, 4, 5)).is_contiguous(
        memory_format=torch.channels_last_3d
    )
    assert channels_last_input(torch.ones(1, 2, 3, 4)).is_contiguous(
        memory_format=torch.channels_last
    )
    assert channels_last_input(torch.ones(1, 2, 3)).is_contiguous()


def test_3d_model_in_channels_last_computes_what_it_does_in_ncdhw() -> None:
    """The clip net's logits are the same in NDHWC as in NCDHW: the layout changes the memory
    order, not the arithmetic."""
    from sepconv_tui.model.describe.source import build_model

    torch.manual_seed(0)
    model = build_model(CLIP, real=True).module.eval()
    x = torch.randn(2, 3, 4, 8, 8)
    with torch.no_grad():
        expected = model(x)
        got = to_channels_last(model)(channels_last_input(x))
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)


def test_3d_model_bench_channels_last_in_process_and_isolated(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """bench --model CLIP --channels-last, in this process and as --runtime eager: both time
    the model in NDHWC (a 5-D input once refused, then crashed in the child)."""
    code, stdout, stderr = run_cli(
        capsys, "bench", "--model", CLIP, "--swap", "all", "--channels-last", "--json", *QUICK
    )
    assert code == 0, stderr
    document = json.loads(stdout)
    assert document["channels_last"] is True and document["input_shape"] == [1, 3, 4, 8, 8]
    assert document["swapped_count"] == 2 and document["notes"] == []
    code, stdout, stderr = run_cli(
        capsys, "bench", "--model", CLIP, "--swap", "all", "--runtime", "eager",
        "--channels-last", "--json", *QUICK,
    )  # fmt: skip
    assert code == 0, stderr
    document = json.loads(stdout)
    assert list(document["runtimes"]) == ["eager_channels_last"]
    assert document["runtimes"]["eager_channels_last"]["speed_ratio"] > 0
    assert ModelBenchResult.from_dict(document).to_dict() == document


@pytest.mark.parametrize(
    "arguments",
    [
        ("bench", "--model", SEQUENCE, "--channels-last", *QUICK),
        ("bench", "--model", SEQUENCE, "--runtime", "eager", "--channels-last", *QUICK),
        ("bench", "--model", SEQUENCE, "--per-layer", "--channels-last", *QUICK),
        ("model", SEQUENCE, "--swap", "speedup:2", "--runtime", "eager_channels_last"),
        (
            "bench",
            "--dims",
            "1",
            "--in-channels",
            "8",
            "--out-channels",
            "8",
            "--kernel-size",
            "3",
            "--length",
            "16",
            "--runtime",
            "eager",
            "--channels-last",
            *QUICK,
        ),
    ],  # fmt: skip
    ids=["bench", "bench-runtime", "per-layer", "speedup", "one-layer"],
)
def test_1d_channels_last_alone_is_refused_in_one_line(
    capsys: pytest.CaptureFixture[str], arguments: tuple[str, ...]
) -> None:
    """Channels-last asked for alone on 1-D convs: exit 2, one line saying why, nothing timed."""
    code, stdout, stderr = run_cli(capsys, *arguments)
    assert code == 2 and stdout == ""
    assert NOT_1D in stderr and len(stderr.strip().splitlines()) == 1


def test_per_layer_on_1d_and_3d_models(capsys: pytest.CaptureFixture[str]) -> None:
    """--per-layer: a row per candidate at its N×C×L or N×C×D×H×W input; 3-D in channels-last."""
    code, stdout, stderr = run_cli(
        capsys, "bench", "--model", SEQUENCE, "--swap", "all", "--per-layer", "--json", *QUICK
    )
    assert code == 0, stderr
    document = json.loads(stdout)
    rows = {row["name"]: row["input_shape"] for row in document["layers"]}
    assert rows == {"features.0": [1, 32, 8], "features.3": [1, 32, 8], "features.7": [1, 32, 4]}
    assert LayerBench.from_dict(document).to_dict() == document
    code, stdout, stderr = run_cli(
        capsys, "bench", "--model", CLIP, "--swap", "all", "--per-layer", "--runtime", "eager",
        "--channels-last", "--json", *QUICK,
    )  # fmt: skip
    assert code == 0, stderr
    document = json.loads(stdout)
    rows = {row["name"]: row["input_shape"] for row in document["layers"]}
    assert rows == {"stem": [1, 3, 4, 8, 8], "spatial": [1, 8, 4, 4, 4]}
    assert list(document["runtimes"]) == ["eager_channels_last"]


def test_3d_speedup_on_channels_last_runs_and_says_what_it_reached(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """model CLIP --swap speedup:1000 --runtime eager_channels_last: every layer timed in
    NDHWC, then one line naming the runtime (no tiny model is 1000× faster)."""
    code, stdout, stderr = run_cli(
        capsys, "model", CLIP, "--swap", "speedup:1000", "--runtime", "eager_channels_last",
        "--threads", "1",
    )  # fmt: skip
    assert code == 2 and stdout == ""
    assert "--swap: speedup:1000 is out of reach on eager_channels_last" in stderr
    assert len(stderr.strip().splitlines()) == 1


# ONNX Runtime: the [deploy] extra ----------------------------------------------------------


@pytest.mark.deploy
@pytest.mark.parametrize(
    ("source", "shape", "swapped"),
    [(SEQUENCE, [1, 8, 8], 3), (CLIP, [1, 3, 4, 8, 8], 2)],
    ids=["1-D", "3-D"],
)
def test_export_1d_and_3d_models(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    source: str,
    shape: list[int],
    swapped: int,
) -> None:
    """export --swap all: the file ONNX Runtime runs equals PyTorch, every swapped layer a
    depthwise Conv node of its rank; the file's input is the model's N×C×L or N×C×D×H×W."""
    pytest.importorskip("onnxruntime", reason="the [deploy] extra")
    onnx = pytest.importorskip("onnx", reason="the [deploy] extra")
    out = tmp_path / "model.onnx"
    code, stdout, stderr = run_cli(
        capsys, "export", source, "--swap", "all", "--out", str(out), "--json"
    )
    assert code == 0, stderr
    document = json.loads(stdout)
    assert document["passed"] is True and len(document["swapped"]) == swapped
    (file,) = document["files"]
    assert file["input_shape"] == shape and file["relative_error"] <= 1e-4
    assert file["depthwise_nodes"] == file["swapped_layers"] == swapped
    graph = onnx.load(str(out)).graph
    kernels = [
        list(attribute.ints)
        for node in graph.node
        if node.op_type == "Conv"
        for attribute in node.attribute
        if attribute.name == "kernel_shape"
    ]
    assert kernels and all(len(kernel) == len(shape) - 2 for kernel in kernels)


#: OpenVINO where its extra is installed: --runtime all times it too.
OPENVINO = ["openvino"] if importlib.util.find_spec("openvino") is not None else []


@pytest.mark.deploy
def test_runtime_all_on_1d_and_3d_models(capsys: pytest.CaptureFixture[str]) -> None:
    """--runtime all: the 3-D model on every runtime; the 1-D one on all but channels-last, with
    the note (table and JSON) saying why channels-last was left out."""
    pytest.importorskip("onnxruntime", reason="the [deploy] extra")
    code, stdout, stderr = run_cli(
        capsys, "bench", "--model", CLIP, "--swap", "all", "--runtime", "all", "--json", *QUICK
    )
    assert code == 0, stderr
    document = json.loads(stdout)
    assert list(document["runtimes"]) == ["eager", "eager_channels_last", "onnxruntime", *OPENVINO]
    assert document["notes"] == []
    code, stdout, stderr = run_cli(
        capsys, "bench", "--model", SEQUENCE, "--swap", "all", "--runtime", "all", "--json",
        *QUICK,
    )  # fmt: skip
    assert code == 0, stderr
    document = json.loads(stdout)
    assert list(document["runtimes"]) == ["eager", "onnxruntime", *OPENVINO]
    (note,) = document["notes"]
    assert note.startswith("eager channels-last not timed") and NOT_1D in note
    assert ModelBenchResult.from_dict(document).to_dict() == document
    code, stdout, stderr = run_cli(
        capsys, "bench", "--model", SEQUENCE, "--swap", "all", "--runtime", "all", "--per-layer",
        *QUICK,
    )  # fmt: skip
    assert code == 0, stderr
    assert "eager channels-last not timed" in " ".join(stdout.split())
    assert "ONNX Runtime" in stdout
