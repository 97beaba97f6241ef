"""ONNX export: the file ONNX Runtime runs equals PyTorch, depthwise Conv nodes, refusals."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch
from conftest import run_cli

from sepconv_tui.model.deploy import export as export_module

onnx = pytest.importorskip("onnx", reason="the [deploy] extra (make test installs it)")
onnxruntime = pytest.importorskip("onnxruntime", reason="the [deploy] extra")

pytestmark = pytest.mark.deploy

MODELS = Path(__file__).parent / "models"
CUSTOM = f"{MODELS / 'custom_model.py'}:build"
SHAPE = "1,3,16,16"


def depthwise_nodes_by_layer(path: Path) -> dict[str, int]:
    """Conv nodes whose group equals their weight's input channels × group (depthwise), by the
    layer their weight belongs to — read from the graph with onnx itself."""
    graph = onnx.load(str(path)).graph
    shapes = {item.name: tuple(item.dims) for item in graph.initializer}
    counts: dict[str, int] = {}
    for node in graph.node:
        if node.op_type != "Conv":
            continue
        group = next((a.i for a in node.attribute if a.name == "group"), 1)
        weight = node.input[1]
        if group > 1 and shapes[weight][1] == 1:
            layer = weight.removesuffix(".weight").removesuffix(".depthwise")
            counts[layer] = counts.get(layer, 0) + 1
    return counts


def test_exported_swapped_model_runs_in_onnx_runtime_as_pytorch_does(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """export --swap all: ONNX Runtime's outputs on fresh inputs equal the swapped PyTorch
    model's (rebuilt from a swap DIR), and --json carries the same figure the check printed."""
    swap_dir = tmp_path / "swap"
    code, _, err = run_cli(
        capsys, "swap", CUSTOM, "--swap", "all", "--input-shape", SHAPE, "--out", str(swap_dir)
    )
    assert code == 0, err
    out = tmp_path / "model.onnx"
    code, stdout, err = run_cli(
        capsys, "export", CUSTOM, "--swapped", str(swap_dir), "--out", str(out), "--json"
    )
    assert code == 0, err
    document = json.loads(stdout)
    assert document["passed"] is True and document["swapped"] == [
        "stem",
        "same",
        "reflect",
        "shared",
    ]
    (file,) = document["files"]
    assert file["relative_error"] <= 1e-4 and file["input_shape"] == [1, 3, 16, 16]

    from sepconv_tui.model.describe.source import parse_source
    from sepconv_tui.model.swapping.job import ModelJob, build_pair

    _original, swapped, _result = build_pair(
        ModelJob(parse_source(CUSTOM), swapped_dir=str(swap_dir))
    )
    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    x = torch.randn(1, 3, 16, 16, generator=torch.Generator().manual_seed(7))
    with torch.inference_mode():
        expected = swapped.eval()(x)
    got = torch.from_numpy(session.run(None, {session.get_inputs()[0].name: x.numpy()})[0])
    assert torch.linalg.norm(got - expected) / torch.linalg.norm(expected) < 1e-5


def test_each_swapped_layer_is_a_group_c_in_conv_node(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """The swapped ONNX holds a depthwise Conv (group = C_in) per swapped layer — shared, called
    twice, has two — and the original only its own depthwise conv; both are counted alike."""
    out = tmp_path / "net.onnx"
    code, stdout, err = run_cli(
        capsys, "export", CUSTOM, "--swap", "all", "--input-shape", SHAPE, "--out", str(out),
        "--original", "--json",
    )  # fmt: skip
    assert code == 0, err
    swapped_counts = depthwise_nodes_by_layer(out)
    assert swapped_counts == {"stem": 1, "same": 1, "reflect": 1, "shared": 2, "depthwise": 1}
    original = tmp_path / "net.original.onnx"
    assert depthwise_nodes_by_layer(original) == {"depthwise": 1}
    files = {file["model"]: file for file in json.loads(stdout)["files"]}
    assert files["swapped"]["depthwise_nodes"] == 6 and files["swapped"]["swapped_layers"] == 4
    assert files["original"]["depthwise_nodes"] == 1 and files["original"]["swapped_layers"] == 0
    # 8 convs in the original; each of the 4 swapped (shared twice) becomes 2 Conv nodes.
    assert files["original"]["conv_nodes"] == 8 and files["swapped"]["conv_nodes"] == 13


def test_swap_onnx_writes_swapped_onnx_beside_swapped_pt(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """swap --onnx: DIR holds swapped.pt, plan.json and the checked swapped.onnx."""
    code, stdout, err = run_cli(
        capsys, "swap", CUSTOM, "--swap", "same,reflect", "--input-shape", SHAPE, "--onnx",
        "--out", str(tmp_path),
    )  # fmt: skip
    assert code == 0, err
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "plan.json",
        "swapped.onnx",
        "swapped.pt",
    ]
    assert depthwise_nodes_by_layer(tmp_path / "swapped.onnx") == {
        "same": 1,
        "reflect": 1,
        "depthwise": 1,
    }
    assert "swapped.onnx: ONNX Runtime's outputs equal PyTorch's to" in stdout
    assert "2 swapped layers are a Conv with group = C_in" in stdout


@pytest.mark.parametrize(
    ("factory", "expected"),
    [
        (
            f"{MODELS / 'unexportable.py'}:svd_net",
            "aten._linalg_svd in layer 'head.0' has no ONNX conversion",
        ),
        (
            f"{MODELS / 'custom_model.py'}:NeedsRealTensors",
            "torch.export cannot trace the model's own forward: Could not guard on "
            "data-dependent expression",
        ),
    ],
)
def test_an_unexportable_model_gets_one_line_naming_the_op_and_layer(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, factory: str, expected: str
) -> None:
    """An op with no ONNX function names itself and its layer; a forward torch.export cannot
    trace says so; exit 2, one line, no file."""
    out = tmp_path / "x.onnx"
    code, stdout, err = run_cli(
        capsys, "export", factory, "--swap", "all", "--input-shape", SHAPE, "--out", str(out)
    )
    assert code == 2 and stdout == ""
    assert len(err.strip().splitlines()) == 1 and expected in err
    assert list(tmp_path.iterdir()) == []


def test_a_file_failing_the_check_is_not_written_and_exits_1(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Outputs further than 1e-4 from PyTorch's: exit 1, the figure and "not written" said,
    and nothing (not even the temporary file) left in the folder."""
    monkeypatch.setattr(export_module, "_relative_error", lambda *_args: 3e-3)
    out = tmp_path / "x.onnx"
    code, stdout, err = run_cli(
        capsys, "export", CUSTOM, "--swap", "all", "--input-shape", SHAPE, "--out", str(out)
    )
    assert code == 1
    assert "3.00e-03" in stdout and "3.00e-03 (relative), over the 0.0001 allowed" in err
    assert "was not written" in err and list(tmp_path.iterdir()) == []


def test_missing_packages_name_the_deploy_extra(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without onnxruntime, export and swap --onnx say to install the [deploy] extra; exit 2,
    nothing written."""
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    code, _, err = run_cli(
        capsys, "export", CUSTOM, "--swap", "all", "--input-shape", SHAPE,
        "--out", str(tmp_path / "x.onnx"),
    )  # fmt: skip
    assert code == 2 and "onnxruntime package: pip install 'sepconv-tui[deploy]'" in err
    code, _, err = run_cli(
        capsys, "swap", CUSTOM, "--swap", "all", "--onnx", "--out", str(tmp_path / "d")
    )
    assert code == 2 and "[deploy]" in err and not (tmp_path / "d").exists()


def test_data_samples_are_what_the_check_runs_on(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """export --data FILE.pt: the check runs on the data's first samples, batch by batch."""
    torch.save(torch.randn(5, 3, 16, 16), tmp_path / "inputs.pt")
    code, stdout, err = run_cli(
        capsys, "export", CUSTOM, "--swap", "all", "--input-shape", SHAPE,
        "--data", str(tmp_path / "inputs.pt"), "--out", str(tmp_path / "x.onnx"), "--json",
    )  # fmt: skip
    assert code == 0, err
    document = json.loads(stdout)
    assert document["files"][0]["samples"] == 5 and "inputs.pt" in document["samples"]


def test_swapped_onnx_takes_any_batch(tmp_path: Path) -> None:
    """swap --onnx's swapped.onnx (traced at batch 2 with a named batch axis) runs in ONNX
    Runtime at batch 1 and 5 and says so; the check ran at batch 1 and a larger batch."""
    from sepconv_tui.model.describe.source import parse_input_shape, parse_source
    from sepconv_tui.model.swapping.job import ModelJob, build_pair
    from sepconv_tui.model.vocabulary.analysis import Selection

    job = ModelJob(
        parse_source(CUSTOM),
        input_shape=parse_input_shape(SHAPE),
        selection=Selection("all"),
    )
    _original, swapped, result = build_pair(job)
    exported = export_module.export_swap(result, tmp_path)
    assert exported.dynamic_batch and exported.notes == ()
    assert exported.to_dict()["dynamic_batch"] is True
    assert export_module.ExportedModel.from_dict(exported.to_dict()) == exported
    session = onnxruntime.InferenceSession(exported.path, providers=["CPUExecutionProvider"])
    for batch in (1, 5):
        x = torch.randn(batch, 3, 16, 16, generator=torch.Generator().manual_seed(batch))
        with torch.inference_mode():
            expected = swapped.eval()(x)
        got = torch.from_numpy(session.run(None, {session.get_inputs()[0].name: x.numpy()})[0])
        assert got.shape == expected.shape
        assert torch.linalg.norm(got - expected) / torch.linalg.norm(expected) < 1e-5


def test_a_model_fixing_its_batch_is_exported_at_that_batch_with_a_note(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A forward that hard-codes batch 1 cannot take a named batch axis: the file is exported
    at batch 1, checked there, and the JSON and the table say so."""
    source = f"{MODELS / 'fixed_batch.py'}:build"
    out = tmp_path / "x.onnx"
    code, stdout, err = run_cli(
        capsys, "export", source, "--swap", "all", "--input-shape", "1,3,8,8",
        "--out", str(out), "--json",
    )  # fmt: skip
    assert code == 0, err
    (file,) = json.loads(stdout)["files"]
    assert file["dynamic_batch"] is False
    assert file["notes"] == [export_module.fixed_batch_note(1)]
    assert "exported at a fixed batch of 1" in file["notes"][0]
    assert export_module.onnx_batch(out) == 1
