"""Precision as an axis of export and fidelity: int8 files with their agreement stated, both
models measured at a precision against the fp32 original, and the refusals."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import run_cli

from sepconv_tui.model.deploy.deploy_precision import (
    PrecisionError,
    check_file_precision,
    precision_path,
    runtime_for,
)

MODELS = Path(__file__).parent / "models"
CUSTOM = f"{MODELS / 'custom_model.py'}:build"


def test_files_at_a_precision_add_it_to_the_name_and_fp32_keeps_it() -> None:
    """swapped.onnx at fp32, swapped-int8.onnx at int8."""
    assert precision_path("out/swapped.onnx", "fp32") == Path("out/swapped.onnx")
    assert precision_path("out/swapped.onnx", "int8") == Path("out/swapped-int8.onnx")
    assert precision_path("m.original.onnx", "int8") == Path("m.original-int8.onnx")


def test_each_precision_runs_in_its_runtime_unless_one_is_named() -> None:
    """int8 in ONNX Runtime, bf16 in OpenVINO, fp32 in eager; a runtime that cannot run the
    precision is refused on the runtime, an unknown precision on the precision."""
    assert runtime_for("int8") == "onnxruntime" and runtime_for("bf16") == "openvino"
    assert runtime_for("fp32") == "eager" and runtime_for("int8", "openvino") == "openvino"
    with pytest.raises(PrecisionError) as raised:
        runtime_for("int8", "eager")
    assert raised.value.field == "runtime" and "runs fp32, not int8" in raised.value.message
    with pytest.raises(PrecisionError) as raised:
        runtime_for("fp16")
    assert raised.value.field == "precision"
    with pytest.raises(PrecisionError, match="runtime setting") as raised:
        check_file_precision("bf16")
    assert raised.value.field == "precision"


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (("export", CUSTOM, "--precision", "bf16"), "--precision: bf16 is not a file format"),
        (("fidelity", CUSTOM, "--precision", "int8", "--runtime", "eager"), "--runtime: "),
        (("fidelity", CUSTOM, "--precision", "fp16"), "--precision"),
    ],
)
def test_bad_precisions_get_one_line_naming_the_argument(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, arguments: tuple[str, ...], expected: str
) -> None:
    """bf16 export, int8 on eager, an unknown precision: exit 2, one line, nothing written."""
    out = tmp_path / "x.onnx"
    extra = ("--out", str(out)) if arguments[0] == "export" else ("--data", "synthetic:8")
    code, stdout, err = run_cli(capsys, *arguments, "--input-shape", "1,3,16,16", *extra)
    assert code == 2 and stdout == ""
    assert expected in err
    assert list(tmp_path.iterdir()) == []
    if "fp16" not in arguments:  # argparse's own refusal prints its usage first
        assert len(err.strip().splitlines()) == 1


@pytest.mark.deploy
def test_missing_openvino_is_refused_before_any_work(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """bf16 runs in OpenVINO: without it, one line naming the runtime and the extra, exit 2."""
    pytest.importorskip("onnxruntime", reason="the [deploy] extra")
    monkeypatch.setitem(sys.modules, "openvino", None)
    code, stdout, err = run_cli(
        capsys, "fidelity", CUSTOM, "--input-shape", "1,3,16,16", "--data", "synthetic:8",
        "--precision", "bf16",
    )  # fmt: skip
    assert code == 2 and stdout == ""
    assert err.count("\n") == 1 and "--runtime: OpenVINO needs the openvino package" in err
    assert "[openvino]" in err


@pytest.mark.deploy
def test_int8_export_writes_the_file_beside_fp32_with_its_agreement(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """export --precision int8: swapped.onnx (checked) and swapped-int8.onnx (calibrated on
    random inputs, which a note says), whose agreement with fp32 is measured and stated."""
    pytest.importorskip("onnxruntime", reason="the [deploy] extra")
    out = tmp_path / "swapped.onnx"
    code, stdout, err = run_cli(
        capsys, "export", CUSTOM, "--swap", "all", "--input-shape", "1,3,16,16",
        "--out", str(out), "--precision", "int8", "--json",
    )  # fmt: skip
    assert code == 0, err
    document = json.loads(stdout)
    assert document["precision"] == "int8" and document["passed"] is True
    (int8,) = document["int8"]
    assert int8["path"] == str(tmp_path / "swapped-int8.onnx") and int8["model"] == "swapped"
    assert int8["per_channel"] is True and int8["calibration"] == "16 random inputs"
    agreement = int8["agreement_with_fp32"]
    assert agreement["samples"] == 64 and agreement["on"] == "64 random inputs"
    assert 0.0 <= agreement["agreement"] <= 1.0 and agreement["relative_error"] > 0
    assert any("random inputs" in note for note in document["precision_notes"])
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "swapped-int8.onnx",
        "swapped.onnx",
    ]


@pytest.mark.deploy
def test_fidelity_at_int8_measures_both_models_against_the_fp32_original(
    capsys: pytest.CaptureFixture[str], digits: dict[str, Any]
) -> None:
    """fidelity --precision int8 on the trained digits CNN: both models run as int8 QDQ files
    in ONNX Runtime, calibrated on the fit split, measured on the test split against the fp32
    original, with accuracy and agreement intervals; int8 keeps the original's answers."""
    pytest.importorskip("onnxruntime", reason="the [deploy] extra")
    code, stdout, err = run_cli(
        capsys, "fidelity", digits["source"], "--weights", str(digits["weights"]),
        "--data", str(digits["data"]), "--swap", "features.0", "--precision", "int8",
        "--json",
    )  # fmt: skip
    assert code == 0, err
    document = json.loads(stdout)
    assert document["precision"] == "int8" and document["runtime"] == "onnxruntime"
    test = document["split"]["test"]
    assert document["int8"] == {"calibration": "256 samples of the fit split", "per_channel": True}
    for side in ("original", "swapped", "fp32_original"):
        figures = document[side]
        assert figures["evaluated"] == test
        assert figures["accuracy"] is not None and len(figures["accuracy_interval"]) == 2
        assert figures["agreement_interval"][0] <= figures["agreement"]
    assert document["original"]["precision"] == "int8"
    assert document["swapped"]["precision"].split("+")[0] == "int8"
    assert document["fp32_original"]["agreement"] == 1.0
    assert document["original"]["agreement"] >= 0.98
    assert abs(document["original"]["accuracy"] - document["fp32_original"]["accuracy"]) <= 0.02
    code, stdout, _ = run_cli(
        capsys, "fidelity", digits["source"], "--weights", str(digits["weights"]),
        "--data", str(digits["data"]), "--swap", "features.0", "--precision", "int8",
        "--markdown",
    )  # fmt: skip
    assert code == 0
    assert "| original fp32 |" in stdout and "| swapped int8 |" in stdout


@pytest.mark.deploy
@pytest.mark.openvino
def test_fidelity_at_bf16_runs_openvino_and_labels_what_ran(
    capsys: pytest.CaptureFixture[str], digits: dict[str, Any]
) -> None:
    """fidelity --precision bf16: both models in OpenVINO with the bf16 hint, each labelled
    with the precision OpenVINO reports it ran (bf16 only where this CPU has bf16 kernels)."""
    pytest.importorskip("openvino", reason="the [openvino] extra")
    from sepconv_tui.model.vocabulary.machine import this_machine

    code, stdout, err = run_cli(
        capsys, "fidelity", digits["source"], "--weights", str(digits["weights"]),
        "--data", str(digits["data"]), "--swap", "features.0", "--precision", "bf16",
        "--json",
    )  # fmt: skip
    assert code == 0, err
    document = json.loads(stdout)
    assert document["precision"] == "bf16" and document["runtime"] == "openvino"
    has_bf16 = bool({"avx512_bf16", "amx_bf16"} & set(this_machine(1).flags))
    for side in ("original", "swapped"):
        assert ("bf16" in document[side]["precision"]) == has_bf16
        assert 0.0 <= document[side]["agreement"] <= 1.0
    assert document["original"]["agreement"] >= 0.98  # bf16 keeps the original's answers


@pytest.mark.deploy
def test_agreement_budgets_at_int8_are_held_to_the_int8_swapped_model(
    digits: dict[str, Any],
) -> None:
    """--swap agreement:X --precision int8: each frontier point measured is scored by its
    swapped model quantized (calibrated on fit) against the fp32 original on validation; the
    original itself scores its int8 agreement, and fp32 in PyTorch rescores nothing."""
    pytest.importorskip("onnxruntime", reason="the [deploy] extra")
    import torch

    from sepconv_tui.model.describe.source import build_model, parse_source
    from sepconv_tui.model.describe.weights import load_weights
    from sepconv_tui.model.measure.data import Data
    from sepconv_tui.model.measure.precision_fidelity import precision_rescorer
    from sepconv_tui.model.measure.split import Split
    from sepconv_tui.model.results.sensitivity_result import FrontierPoint
    from sepconv_tui.model.swapping.job import ModelJob
    from sepconv_tui.model.vocabulary.analysis import parse_selection
    from sepconv_tui.model.workflow import Workflow

    model = build_model(digits["source"], real=True).module
    load_weights(model, digits["weights"])
    model.eval()
    data = torch.load(digits["data"])
    whole = Data(data["inputs"], data["labels"], "digits")
    split = Split(whole.head(128), whole.head(300).tail(172), whole.tail(100))
    rescore = precision_rescorer(model, split, precision="int8", input_shape=(1, 1, 8, 8))
    point = FrontierPoint((), 1, 1, 0.0, measured=True, agreement=1.0, output_error=0.0)
    scored = rescore(model, point)
    assert scored.agreement is not None and scored.agreement >= 0.98
    assert scored.output_error is not None and 0 < scored.output_error < 0.1
    assert scored.agreement_interval is not None and scored.accuracy is not None
    budget = parse_selection("agreement:0.99")
    job = ModelJob(parse_source(digits["source"]), weights=str(digits["weights"]))
    plain = Workflow(job, str(digits["data"]), budget=budget)
    assert plain._rescorer(model, split, 64) is None  # fp32 in PyTorch: the frontier's own
    at_int8 = Workflow(job, str(digits["data"]), budget=budget, precision="int8")
    assert at_int8._rescorer(model, split, 64) is not None


@pytest.mark.deploy
def test_int8_export_on_data_calibrates_on_fit_and_compares_on_test(
    capsys: pytest.CaptureFixture[str], digits: dict[str, Any], tmp_path: Path
) -> None:
    """export --data --precision int8 (no --input-shape: the data's channels are the model's):
    calibrated on the fit split, its agreement with fp32 measured on the test split."""
    pytest.importorskip("onnxruntime", reason="the [deploy] extra")
    code, stdout, err = run_cli(
        capsys, "export", digits["source"], "--weights", str(digits["weights"]),
        "--swap", "features.0", "--data", str(digits["data"]), "--precision", "int8",
        "--out", str(tmp_path / "swapped.onnx"), "--json",
    )  # fmt: skip
    assert code == 0, err
    document = json.loads(stdout)
    (int8,) = document["int8"]
    assert int8["calibration"] == "256 samples" and document["precision_notes"] == []
    agreement = int8["agreement_with_fp32"]
    assert agreement["on"].endswith("test 359") and agreement["samples"] == 359
    assert agreement["agreement"] >= 0.97


@pytest.mark.deploy
def test_fidelity_at_int8_with_a_budget_measures_the_swap_it_chose(
    capsys: pytest.CaptureFixture[str], digits: dict[str, Any]
) -> None:
    """fidelity --swap agreement:X --precision int8 chose on reconstructed points held to int8,
    so the swapped model measured at int8 is that swap reconstructed (the SVD swap alone agrees
    on about a tenth of the digits)."""
    pytest.importorskip("onnxruntime", reason="the [deploy] extra")
    code, stdout, err = run_cli(
        capsys, "fidelity", digits["source"], "--weights", str(digits["weights"]),
        "--data", str(digits["data"]), "--swap", "agreement:0.99", "--precision", "int8",
        "--json",
    )  # fmt: skip
    assert code == 0, err
    assert "and so is the swap measured below" in err
    document = json.loads(stdout)
    assert document["precision"] == "int8" and document["validation"]["agreement"] >= 0.99
    assert document["swapped"]["agreement"] > 0.95
