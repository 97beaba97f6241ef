"""OpenVINO: an exported file timed at an explicit precision, labelled with what ran."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import run_cli

pytest.importorskip("onnxruntime", reason="the [deploy] extra (make test installs it)")
pytest.importorskip("openvino", reason="the [openvino] extra (make test installs it)")

from sepconv_tui.model.deploy.export import export_onnx  # noqa: E402
from sepconv_tui.model.deploy.onnx_names import module_names  # noqa: E402
from sepconv_tui.model.deploy.openvino_timer import (  # noqa: E402
    OpenVinoError,
    time_openvino,
    time_openvino_file,
)
from sepconv_tui.model.deploy.precision import RanPrecision  # noqa: E402
from sepconv_tui.model.deploy.quantize import quantize_onnx  # noqa: E402
from sepconv_tui.model.vocabulary.machine import this_machine  # noqa: E402
from sepconv_tui.model.vocabulary.runtimes import RUNTIME_TABLE  # noqa: E402

pytestmark = [pytest.mark.deploy, pytest.mark.openvino]


def tiny_model() -> Any:
    """A conv, its separable block, and a linear head: a dense conv, a depthwise one, a 1×1."""
    import torch
    from torch import nn

    from sepconv_tui.core.layers import DepthwiseSeparableConv

    torch.manual_seed(0)
    conv = nn.Conv2d(16, 32, 3, padding=1)
    return nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1),
        nn.ReLU(),
        DepthwiseSeparableConv.from_conv(conv, 1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(32, 10),
    ).eval()


@pytest.fixture(scope="module")
def tiny_onnx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny model exported (and checked) at 1×3×16×16."""
    path = tmp_path_factory.mktemp("tiny") / "tiny.onnx"
    export_onnx(tiny_model(), path, input_shape=(1, 3, 16, 16))
    return path


def test_fp32_is_asked_for_and_reported_as_run(tiny_onnx: Path) -> None:
    """The f32 hint set explicitly: every conv and matmul ran at fp32 (OpenVINO says so), the
    timing has a median and IQR, and the counters name the PyTorch modules."""
    timed = time_openvino(tiny_onnx, "fp32", 1, 0.05, counters=True)
    assert timed.asked == "fp32" and timed.ran.label == "fp32"
    assert timed.timing.median_s > 0 and timed.timing.iqr_s >= 0
    assert timed.threads == 1 and timed.version.startswith("openvino ")
    modules = timed.module_times()
    assert {"0", "2.depthwise", "2.pointwise", "6"} <= set(modules)
    kernels = {counter.module: counter.exec_type for counter in timed.counters}
    assert "f32" in kernels["2.depthwise"].lower()
    values = timed.to_dict()
    assert values["precision"] == "fp32" and values["runtime"] == "openvino"
    assert time_openvino_file(str(tiny_onnx), (1, 3, 16, 16), 1, 0.02, "fp32").median_s > 0
    with pytest.raises(OpenVinoError, match="ran the int8 request at fp32"):
        time_openvino_file(str(tiny_onnx), (1, 3, 16, 16), 1, 0.02, "int8")
    assert values["counters"] and "exec_type" in values["counters"][0]


def test_bf16_is_labelled_with_what_ran(tiny_onnx: Path) -> None:
    """Asked for bf16: bf16 where this CPU has bf16 kernels, and labelled fp32 where it does not
    (OpenVINO falls back silently; the label never repeats the request)."""
    timed = time_openvino(tiny_onnx, "bf16", 1, 0.05)
    assert timed.asked == "bf16"
    has_bf16 = {"avx512_bf16", "amx_bf16"} & set(this_machine(1).flags)
    assert ("bf16" in timed.ran.nodes) == bool(has_bf16)
    assert timed.to_dict()["precision"] == timed.ran.label


def test_the_qdq_file_runs_in_int8(tiny_onnx: Path, tmp_path: Path) -> None:
    """The int8 QDQ file from ONNX Runtime's quantizer runs its convs in int8 in OpenVINO."""
    quantized = quantize_onnx(tiny_onnx, tmp_path / "tiny-int8.onnx")
    timed = time_openvino(quantized.path, "int8", 1, 0.05, counters=True)
    assert "int8" in timed.ran.nodes
    assert timed.ran.label.split("+")[0] == "int8"
    assert any(counter.module == "2.pointwise" for counter in timed.counters)


def test_the_label_lists_mixed_precisions_most_first() -> None:
    """Mixed precisions read "int8+fp32", most nodes first."""
    ran = RanPrecision.from_nodes(["int8", "fp32", "int8"])
    assert ran.label == "int8+fp32" and ran.nodes == {"int8": 2, "fp32": 1}
    assert RanPrecision.from_counts({}).label == "none"


def test_module_names_come_from_the_exporters_name_scopes(tiny_onnx: Path) -> None:
    """Each Conv and Gemm node of the export maps to its module path."""
    names = module_names(tiny_onnx)
    assert sorted(set(names.values()) & {"0", "2.depthwise", "2.pointwise", "6"}) == [
        "0",
        "2.depthwise",
        "2.pointwise",
        "6",
    ]


def test_missing_openvino_names_the_extra(tiny_onnx: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without openvino: one line naming the package and the extra."""
    monkeypatch.setitem(sys.modules, "openvino", None)
    with pytest.raises(OpenVinoError, match=r"pip install 'sepconv-tui\[openvino\]'") as raised:
        time_openvino(tiny_onnx, "fp32", 1, 0.05)
    assert raised.value.field == "runtime"


def test_openvino_is_one_entry_in_the_runtime_table(capsys: pytest.CaptureFixture[str]) -> None:
    """One entry in the table, OpenVINO times a conv and its block, each exported to ONNX by
    the table's exporter and timed at fp32 in a child of its own."""
    entry = RUNTIME_TABLE["openvino"]
    assert entry.extra == "openvino" and [str(each) for each in entry.precisions] == [
        "fp32",
        "bf16",
        "int8",
    ]
    code, stdout, stderr = run_cli(
        capsys, "bench", "--in-channels", "8", "--runtime", "openvino", "--threads", "1", "--json"
    )
    assert code == 0, stderr
    timed = json.loads(stdout)["runtimes"]["openvino"]
    assert timed["version"].startswith("openvino ")
    assert timed["standard"]["median_s"] > 0 and timed["separable"]["median_s"] > 0
