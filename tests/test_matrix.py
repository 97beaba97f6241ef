"""The deployment matrix (issue 28): original and swapped in every runtime × precision cell, the
best of each side, the machine, the roofline bound per layer, and the bad input refused."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import run_cli

from sepconv_tui.model.results.bench_result import MatrixCell, ModelBenchResult, best_deployment
from sepconv_tui.model.vocabulary.runtimes import (
    RUNTIME_TABLE,
    RuntimeEntry,
    matrix_cells,
    precision_choices,
)
from sepconv_tui.report import model_bench

TINY = f"{Path(__file__).parent / 'models' / 'tiny_classifier.py'}:build"
QUICK = ("--threads", "1", "--min-run-time", "0.01")
#: Every cell the table's runtimes run, in its order.
CELLS = [
    ("eager", "fp32"),
    ("eager_channels_last", "fp32"),
    ("onnxruntime", "fp32"),
    ("onnxruntime", "int8"),
    ("openvino", "fp32"),
    ("openvino", "bf16"),
    ("openvino", "int8"),
]


def test_the_table_says_which_cells_each_runtime_runs() -> None:
    """--precision reads the table; all is every cell; a runtime named alone with a precision
    it does not run is refused on "precision"; among all it is left out with a note."""
    assert precision_choices() == ("fp32", "bf16", "int8", "all")
    cells, notes = matrix_cells(tuple(RUNTIME_TABLE), None)
    assert [(runtime, str(precision)) for runtime, precision in cells] == CELLS
    cells, notes = matrix_cells(tuple(RUNTIME_TABLE), "int8")  # type: ignore[arg-type]
    assert [runtime for runtime, _ in cells] == ["onnxruntime", "openvino"]
    assert "eager NCHW not timed: it runs fp32, not int8" in notes
    with pytest.raises(Exception, match="eager NCHW runs fp32, not int8") as refused:
        matrix_cells(("eager",), "int8")  # type: ignore[arg-type]
    assert refused.value.field == "precision"  # type: ignore[attr-defined]


def timing(median: float, iqr: float = 0.0) -> Any:
    """A Timing of ``median`` seconds."""
    from sepconv_tui.core.latency import Timing

    return Timing(median, iqr, 3, 1)


def test_best_is_the_fastest_cell_of_each_side_and_a_tie_is_no_win() -> None:
    """Each side's best is its fastest cell; medians within each other's IQR tie."""
    cells = [
        MatrixCell("onnxruntime", "fp32", "fp32", timing(20e-3), timing(3.5e-3)),
        MatrixCell("onnxruntime", "int8", "int8", timing(6e-3), timing(3.6e-3)),
        MatrixCell("openvino", "int8", "int8", timing(2e-3, 0.2e-3), timing(1.9e-3, 0.2e-3)),
        MatrixCell("openvino", "bf16", "bf16", absent="no bf16 kernels"),
    ]
    best = best_deployment(cells)
    assert best is not None
    assert best.original is cells[2] and best.swapped is cells[2]
    assert best.speed_ratio == pytest.approx(2e-3 / 1.9e-3) and best.tie
    assert cells[2].tie and not cells[0].tie
    assert cells[3].to_dict() == {
        "runtime": "openvino",
        "precision": "bf16",
        "absent": "no bf16 kernels",
    }


@pytest.fixture(scope="module")
def matrix(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """``bench --model TINY --swap all --runtime all --precision all --json``, run once."""
    pytest.importorskip("onnxruntime", reason="the [deploy] extra (make test installs it)")
    pytest.importorskip("openvino", reason="the [openvino] extra (make test installs it)")
    # run_cli reads capsys, which a module-scoped fixture has not: the output is caught here.
    import contextlib
    import io

    from sepconv_tui.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(
            [
                "bench",
                "--model",
                TINY,
                "--swap",
                "all",
                "--runtime",
                "all",
                "--precision",
                "all",
                "--json",
                *QUICK,
            ]
        )
    assert code == 0, err.getvalue()
    return dict(json.loads(out.getvalue()))


@pytest.mark.deploy
@pytest.mark.openvino
def test_the_matrix_times_every_cell_and_names_the_best(matrix: dict[str, Any]) -> None:
    """Every cell is in the matrix (timed, or absent with why); "best" is each side's fastest
    cell and its ratio; "runtimes" keeps the fp32 cells; the machine carries its limits."""
    cells = matrix["matrix"]
    assert [(cell["runtime"], cell.get("asked", cell["precision"])) for cell in cells] == CELLS
    timed = [cell for cell in cells if "absent" not in cell]
    assert len(timed) >= 5  # bf16 may be absent on a CPU without bf16 kernels
    for cell in timed:
        assert cell["speed_ratio"] == pytest.approx(
            cell["original"]["median_s"] / cell["swapped"]["median_s"]
        )
        # Labelled with what ran: the asked precision leads the label.
        assert cell["precision"].split("+")[0] == cell["asked"]
    best = matrix["best"]
    fastest = min(timed, key=lambda cell: cell["original"]["median_s"])
    assert (best["original"]["runtime"], best["original"]["precision"]) == (
        fastest["runtime"],
        fastest["precision"],
    )
    assert best["original"]["median_s"] == fastest["original"]["median_s"]
    swapped = min(cell["swapped"]["median_s"] for cell in timed)
    assert best["swapped"]["median_s"] == swapped
    assert best["speed_ratio"] == pytest.approx(fastest["original"]["median_s"] / swapped)
    assert set(matrix["runtimes"]) == {"eager", "eager_channels_last", "onnxruntime", "openvino"}
    machine = matrix["machine"]
    assert machine["cpu"] and machine["threads"] == 1 and machine["cores"] >= 1
    assert machine["peak_flops"]["fp32"] > 0 and machine["bandwidth_bytes_s"] > 0
    assert "onnxruntime" in machine["versions"]
    assert any("random inputs" in note for note in matrix["notes"])
    text = model_bench.to_markdown(ModelBenchResult.from_dict(matrix))
    assert "| runtime · precision | original | swapped | the swap buys |" in text
    assert "best original: " in text and "the original's best" in text
    assert machine["cpu"] in text  # the caption names the machine


@pytest.mark.deploy
def test_one_layer_at_every_precision_a_runtime_runs(capsys: pytest.CaptureFixture[str]) -> None:
    """One layer, --precision all on ONNX Runtime: fp32 under its name, int8 under
    "onnxruntime:" and the precision that ran; the machine recorded."""
    pytest.importorskip("onnxruntime", reason="the [deploy] extra (make test installs it)")
    code, stdout, stderr = run_cli(
        capsys, "bench", "--in-channels", "8", "--runtime", "onnxruntime", "--precision", "all",
        "--json", *QUICK,
    )  # fmt: skip
    assert code == 0, stderr
    document = json.loads(stdout)
    first, second = document["runtimes"]
    assert first == "onnxruntime" and second.startswith("onnxruntime:int8")
    assert document["machine"]["threads"] == 1


@pytest.mark.deploy
def test_without_openvino_all_lists_its_cells_absent(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A user without the [openvino] extra: --runtime all times the rest and lists OpenVINO's
    cells absent, naming the extra; --runtime openvino alone is one line, exit 2."""
    pytest.importorskip("onnxruntime", reason="the [deploy] extra (make test installs it)")
    entry = RUNTIME_TABLE["openvino"]
    missing = RuntimeEntry(**{**entry.__dict__, "packages": ("no_such_openvino",)})
    monkeypatch.setitem(RUNTIME_TABLE, "openvino", missing)
    code, stdout, stderr = run_cli(
        capsys,
        "bench",
        "--model",
        TINY,
        "--runtime",
        "all",
        "--precision",
        "fp32",
        "--json",
        *QUICK,
    )
    assert code == 0, stderr
    cells = {cell["runtime"]: cell for cell in json.loads(stdout)["matrix"]}
    assert "pip install 'sepconv-tui[openvino]'" in cells["openvino"]["absent"]
    assert "absent" not in cells["onnxruntime"] and "openvino" not in json.loads(stdout)["runtimes"]
    code, stdout, stderr = run_cli(
        capsys, "bench", "--model", TINY, "--runtime", "openvino", *QUICK
    )
    assert code == 2 and stdout == ""
    assert stderr.count("\n") == 1 and "--runtime: OpenVINO needs the no_such_openvino" in stderr


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (("--precision", "fp16"), "argument --precision: invalid choice: 'fp16'"),
        (("--runtime", "tensorrt"), "argument --runtime: invalid choice: 'tensorrt'"),
        (("--runtime", "eager", "--precision", "int8"), "--precision: eager NCHW runs fp32"),
        (("--runtime", "onnxruntime", "--precision", "bf16"), "--precision: ONNX Runtime runs"),
        (("--precision", "int8"), "--precision int8 needs --runtime"),
        (("--per-tensor",), "--per-tensor needs --runtime"),
        (("--runtime", "onnxruntime", "--per-tensor"), "--per-tensor quantizes int8"),
    ],
    ids=[
        "unknown-precision",
        "unknown-runtime",
        "eager-int8",
        "onnxruntime-bf16",
        "no-runtime",
        "per-tensor",
        "per-tensor-fp32",
    ],
)
def test_bad_precisions_are_one_line(
    arguments: tuple[str, ...], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """An unknown precision or runtime, or a precision the runtime does not run: one line
    naming the argument, exit 2, nothing on stdout."""
    code, stdout, stderr = run_cli(capsys, "bench", "--model", TINY, *arguments, *QUICK)
    assert code == 2 and stdout == ""
    assert stderr.count("\n") == 1 and message in stderr, stderr
    code, stdout, stderr = run_cli(capsys, "bench", "--in-channels", "4", *arguments, *QUICK)
    assert code == 2 and stdout == "" and message in stderr, stderr


@pytest.mark.deploy
def test_a_model_the_quantizer_cannot_take_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The quantizer refusing the model: one line naming the op and the layer, exit 2."""
    pytest.importorskip("onnxruntime", reason="the [deploy] extra (make test installs it)")
    import onnxruntime.quantization

    def refuse(*arguments: Any, **keywords: Any) -> None:
        raise RuntimeError("Could not find an implementation for Conv(11) node with name 'x'")

    monkeypatch.setattr(onnxruntime.quantization, "quantize_static", refuse)
    code, stdout, stderr = run_cli(
        capsys,
        "bench",
        "--model",
        TINY,
        "--runtime",
        "onnxruntime",
        "--precision",
        "int8",
        *QUICK,
    )
    assert code == 2 and stdout == ""
    assert stderr.count("\n") == 1 and "cannot quantize" in stderr and "Conv" in stderr, stderr


@pytest.mark.deploy
@pytest.mark.openvino
def test_per_layer_gives_the_bound_beside_the_measurement(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """bench --per-layer at int8 on every runtime that runs it: each layer's roofline bound,
    never above its MAC ratio, the efficiency (bound ÷ measured) per side, OpenVINO's in-model
    counters apart, the note on int8 layers alone, and the machine with its limits."""
    pytest.importorskip("onnxruntime", reason="the [deploy] extra (make test installs it)")
    pytest.importorskip("openvino", reason="the [openvino] extra (make test installs it)")
    code, stdout, stderr = run_cli(
        capsys, "bench", "--model", TINY, "--swap", "all", "--per-layer", "--runtime", "all",
        "--precision", "int8", "--json", *QUICK,
    )  # fmt: skip
    assert code == 0, stderr
    values = json.loads(stdout)
    assert {key: entry["precision"].split("+")[0] for key, entry in values["runtimes"].items()} == {
        "onnxruntime:int8": "int8",
        "openvino:int8": "int8",
    }
    for layer in values["layers"]:
        for entry in layer["runtimes"].values():
            assert 0 < entry["bound_speed_ratio"] <= layer["mac_ratio"]
            assert entry["efficiency"]["conv"] == pytest.approx(
                entry["bound_s"]["conv"] / entry["conv"]["median_s"]
            )
    assert any("in_model_s" in layer["runtimes"]["openvino:int8"] for layer in values["layers"])
    assert values["machine"]["bandwidth_bytes_s"] > 0
    assert any("dequantized at the edges" in note for note in values["notes"])
    assert any("eager NCHW not timed" in note for note in values["notes"])
