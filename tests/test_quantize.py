"""int8: an exported model quantized (static QDQ), its agreement with fp32 measured; bad input."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

onnx = pytest.importorskip("onnx", reason="the [deploy] extra (make test installs it)")
pytest.importorskip("onnxruntime", reason="the [deploy] extra")

from sepconv_tui.model.deploy.export import export_onnx  # noqa: E402
from sepconv_tui.model.deploy.quantize import (  # noqa: E402
    QuantizeError,
    compare_onnx,
    onnxruntime_ran,
    quantize_onnx,
)

pytestmark = pytest.mark.deploy


def small_model() -> Any:
    """Two 3×3 convs, a pool and a linear head, seeded."""
    import torch
    from torch import nn

    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(16, 32, 3, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(32, 10),
    ).eval()


@pytest.fixture(scope="module")
def small_onnx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small model exported (and checked) at 1×3×16×16."""
    path = tmp_path_factory.mktemp("small") / "small.onnx"
    export_onnx(small_model(), path, input_shape=(1, 3, 16, 16))
    return path


def test_random_calibration_quantizes_every_weighted_op_and_says_so(
    small_onnx: Path, tmp_path: Path
) -> None:
    """QDQ, per-channel by default: both convs and the linear layer get int8 weights; the note
    says the ranges were fitted on random inputs; the outputs' agreement is measured."""
    import numpy

    out = tmp_path / "small-int8.onnx"
    quantized = quantize_onnx(small_onnx, out)
    assert out.exists() and quantized.path == str(out)
    assert quantized.quantized_ops == {"Conv": 2, "Gemm": 1} and quantized.float_ops == {}
    assert quantized.per_channel and quantized.calibration == "16 random inputs"
    assert any("random inputs" in note for note in quantized.notes)
    ops = {node.op_type for node in onnx.load(str(out)).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear", "Conv"} <= ops
    samples = numpy.random.default_rng(1).standard_normal((64, 3, 16, 16)).astype("float32")
    agreement = compare_onnx(small_onnx, out, samples)
    assert agreement.samples == 64
    assert agreement.agreement is not None and 0.0 <= agreement.agreement <= 1.0
    assert 0.0 < agreement.relative_error < 0.5  # int8 moves the outputs, a little
    assert compare_onnx(small_onnx, small_onnx, samples[:8]).relative_error == 0.0
    assert quantized.to_dict()["per_channel"] is True
    # What ONNX Runtime runs, read from the graph it optimised: QLinearConv and QGemm, not the
    # float ops between QDQ pairs; the fp32 file runs at fp32.
    assert onnxruntime_ran(out).label == "int8"
    assert onnxruntime_ran(small_onnx).nodes == {"fp32": 3}


def test_per_tensor_is_an_option(small_onnx: Path, tmp_path: Path) -> None:
    """per_channel=False: one scale per weight tensor (the weights' scale is a scalar)."""
    from onnx import numpy_helper

    out = tmp_path / "small-int8-tensor.onnx"
    quantized = quantize_onnx(small_onnx, out, per_channel=False)
    assert not quantized.per_channel
    graph = onnx.load(str(out)).graph
    scales = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    weight_scales = [
        scales[node.input[1]]
        for node in graph.node
        if node.op_type == "DequantizeLinear" and node.input[0].endswith("weight_quantized")
    ]
    assert weight_scales and all(scale.size == 1 for scale in weight_scales)


def test_the_digits_cnn_keeps_its_answers_at_int8(digits: dict[str, Any], tmp_path: Path) -> None:
    """The trained digits CNN, calibrated on its fit split, measured on its test split: the
    agreement with fp32 is computed (and printed), and the int8 model keeps nearly every answer
    (the issue measured 99.72% accuracy at both precisions)."""
    import torch

    from sepconv_tui.model.describe.source import build_model
    from sepconv_tui.model.describe.weights import load_weights

    model = build_model(digits["source"], real=True).module
    load_weights(model, digits["weights"])
    model.eval()
    fp32 = tmp_path / "digits.onnx"
    export_onnx(model, fp32, input_shape=(1, 1, 8, 8))
    data = torch.load(digits["data"])
    test = torch.load(digits["test"])
    fit = data["inputs"][:256]
    quantized = quantize_onnx(fp32, tmp_path / "digits-int8.onnx", samples=fit)
    assert quantized.calibration == "256 samples" and quantized.notes == ()
    agreement = compare_onnx(fp32, quantized.path, test["inputs"])
    print(f"digits int8 vs fp32 on {agreement.samples} test samples: {agreement}")
    assert agreement.samples == len(test["labels"])
    assert agreement.agreement is not None and agreement.agreement >= 0.98


def unrunnable_onnx(path: Path) -> Path:
    """A Conv followed by an op of a domain ONNX Runtime has no kernels for."""
    import numpy
    from onnx import TensorProto, helper, numpy_helper

    weight = numpy.ones((4, 3, 3, 3), numpy.float32)
    graph = helper.make_graph(
        [
            helper.make_node("Conv", ["x", "w"], ["y"], name="the_conv", pads=[1, 1, 1, 1]),
            helper.make_node("Mystery", ["y"], ["z"], name="mystery_node", domain="custom.ops"),
        ],
        "bad",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, [1, 4, 8, 8])],
        [numpy_helper.from_array(weight, "w")],
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("custom.ops", 1)]
    )
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def test_a_model_the_quantizer_cannot_take_names_the_op(tmp_path: Path) -> None:
    """One line naming the op (and its node); nothing written."""
    out = tmp_path / "bad-int8.onnx"
    with pytest.raises(QuantizeError) as raised:
        quantize_onnx(unrunnable_onnx(tmp_path / "bad.onnx"), out)
    assert "Mystery" in raised.value.message
    assert raised.value.field == "source"
    assert "\n" not in raised.value.message and "--" not in raised.value.message
    assert not out.exists()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["bad.onnx"]


def test_missing_onnxruntime_names_the_extra(
    small_onnx: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without onnxruntime: the error names the package and the extra, not a flag."""
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(
        QuantizeError, match=r"onnxruntime package: pip install 'sepconv-tui\[deploy\]'"
    ):
        quantize_onnx(small_onnx, tmp_path / "x.onnx")
    assert not (tmp_path / "x.onnx").exists()


def test_a_file_with_a_dynamic_batch_is_quantized_and_compared(tmp_path: Path) -> None:
    """An export whose batch axis is dynamic (traced at batch 2 with a named dimension):
    calibrated one sample at a time, compared 64 at a time and then the rest."""
    import numpy
    import torch

    model = small_model()
    batch = torch.export.Dim("batch", min=1)
    program = torch.export.export(
        model, (torch.randn(2, 3, 16, 16),), dynamic_shapes=({0: batch},), strict=False
    )
    fp32 = tmp_path / "dynamic.onnx"
    torch.onnx.export(program, (torch.randn(2, 3, 16, 16),), dynamo=True).save(str(fp32))
    quantized = quantize_onnx(fp32, tmp_path / "dynamic-int8.onnx")
    assert quantized.calibration_samples == 16
    samples = numpy.random.default_rng(2).standard_normal((70, 3, 16, 16)).astype("float32")
    assert compare_onnx(fp32, quantized.path, samples).samples == 70
