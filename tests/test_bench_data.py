"""bench --model … --data (issue 28 §3): every matrix cell's two models measured on the test
split against the fp32 original, the levers said in words, the best deployment among the cells
keeping --min-agreement, and the bad input refused."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from conftest import run_cli

from sepconv_tui.core.latency import Timing
from sepconv_tui.model.results.bench_result import (
    MatrixCell,
    MatrixData,
    ModelBenchResult,
    best_deployment,
    levers,
)
from sepconv_tui.model.results.fidelity_result import AtPrecision, SplitSizes

QUICK = ("--threads", "1", "--min-run-time", "0.01")


def figures(agreement: float, accuracy: float | None = None) -> AtPrecision:
    """A side's fidelity with ``agreement`` (and ``accuracy``) on 100 samples."""
    return AtPrecision("fp32", 100, 0.0, agreement, (0.0, 1.0), accuracy, None)


def cell(asked: str, original: float, swapped: float, agrees: tuple[float, float]) -> MatrixCell:
    """A timed cell at ``asked`` with both sides' medians and agreements."""
    return MatrixCell(
        "onnxruntime",
        asked,
        asked,
        Timing(original, 0.0, 3, 1),
        Timing(swapped, 0.0, 3, 1),
        original_fidelity=figures(agrees[0], agrees[0]),
        swapped_fidelity=figures(agrees[1], agrees[1] - 0.01),
    )


def test_best_within_keeps_each_sides_fastest_cell_meeting_the_agreement() -> None:
    """The swapped model's fastest cell loses too much agreement: best_within takes the next;
    the levers are each kind's fastest cell against the original's fastest fp32 cell."""
    cells = [
        cell("fp32", 10e-3, 4e-3, (1.0, 0.995)),
        cell("int8", 5e-3, 2e-3, (0.999, 0.90)),
    ]
    best = best_deployment(cells, 0.99)
    assert best is not None
    assert best.original is cells[1] and best.swapped is cells[0]
    assert best.speed_ratio == pytest.approx(5e-3 / 4e-3)
    assert best_deployment(cells, 0.999999) is None  # no swapped cell keeps it
    data = MatrixData("d.pt", SplitSizes(1, 1, 100), "1 sample", figures(1.0, 1.0))
    found = levers(cells, data)
    assert found is not None and found.baseline is cells[0] and found.points_of == "accuracy"
    by_name = {lever.name: lever for lever in found.levers}
    assert set(by_name) == {"int8 alone", "swap alone", "swap + int8"}
    assert by_name["int8 alone"].speed_ratio == pytest.approx(2.0)
    assert by_name["swap alone"].speed_ratio == pytest.approx(2.5)
    assert by_name["swap + int8"].points == pytest.approx(100 * (0.89 - 1.0))
    assert not any(lever.tie for lever in found.levers)  # no IQR: every difference counts


def check_cells(document: dict[str, Any]) -> list[dict[str, Any]]:
    """Every timed cell's two sides carry test-split figures whose intervals hold them; the
    eager fp32 original agrees with itself; the measured cells, returned."""
    test = document["data"]["split"]["test"]
    assert document["data"]["evaluated"] == test and document["data"]["labels"] is True
    assert document["data"]["fp32_original"]["agreement"] == 1.0
    timed = [each for each in document["matrix"] if "absent" not in each]
    assert timed
    for each in timed:
        for side in ("original", "swapped"):
            figures = each[side]
            assert figures["evaluated"] == test
            for name in ("agreement", "accuracy"):
                low, high = figures[f"{name}_interval"]
                assert 0 <= low <= figures[name] <= high <= 1
        if each["runtime"] == "eager" and each["precision"] == "fp32":
            assert each["original"]["agreement"] == 1.0
    return timed


def expected_best_within(timed: list[dict[str, Any]], side: str, at_least: float) -> Any:
    """The fastest cell of ``side`` among those keeping ``at_least``, or None."""
    keeping = [each for each in timed if each[side]["agreement"] >= at_least]
    if not keeping:
        return None
    fastest = min(keeping, key=lambda each: each[side]["median_s"])
    return (fastest["runtime"], fastest["precision"])


def check_best_within(document: dict[str, Any], timed: list[dict[str, Any]]) -> None:
    """best_within is each side's fastest cell among those meeting the threshold."""
    within = document["best_within"]
    for side in ("original", "swapped"):
        expected = expected_best_within(timed, side, within["min_agreement"])
        got = within[side]
        assert (None if got is None else (got["runtime"], got["precision"])) == expected
    if within["original"] is None or within["swapped"] is None:
        assert within["speed_ratio"] is None
    else:
        assert within["speed_ratio"] == pytest.approx(
            within["original"]["median_s"] / within["swapped"]["median_s"]
        )


def test_bench_data_in_eager_measures_every_cell_and_answers_in_words(
    capsys: pytest.CaptureFixture[str], digits: dict[str, Any]
) -> None:
    """--runtime eager (both layouts) --data on the trained digits CNN: each cell's figures,
    best_within, the swap-alone lever; Markdown and CSV carry the columns and the answer."""
    model = ("--model", digits["source"], "--weights", str(digits["weights"]))
    given = (*model, "--swap", "features.0", "--runtime", "eager", "--data", str(digits["data"]))
    code, stdout, err = run_cli(
        capsys, "bench", *given, "--min-agreement", "0.05", "--json", *QUICK
    )
    assert code == 0, err
    document = json.loads(stdout)
    timed = check_cells(document)
    assert [each["runtime"] for each in timed] == ["eager"]
    check_best_within(document, timed)
    assert document["best_within"]["min_agreement"] == 0.05
    found = document["levers"]
    assert found["points_of"] == "accuracy"
    assert [lever["lever"] for lever in found["levers"]] == ["swap alone"]
    # The app's child sends it as JSON: the figures come back whole.
    again = ModelBenchResult.from_dict(document).to_dict()
    assert json.loads(json.dumps(again)) == document
    code, stdout, err = run_cli(capsys, "bench", *given, "--markdown", *QUICK)
    assert code == 0, err
    assert "agreement (original · swapped)" in stdout and "accuracy (original · swapped)" in stdout
    assert "in points of test accuracy" in stdout and "- swap alone (eager NCHW · fp32)" in stdout
    assert "Keeping top-1 agreement ≥ 99.0%" in stdout  # the default threshold
    code, stdout, err = run_cli(capsys, "bench", *given, "--csv", *QUICK)
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(stdout)))
    assert rows[0]["original_agreement"] == "1.0" and rows[0]["swapped_accuracy"]


@pytest.mark.deploy
@pytest.mark.openvino
def test_bench_data_matrix_measures_each_cell_as_it_runs(
    capsys: pytest.CaptureFixture[str], digits: dict[str, Any]
) -> None:
    """--runtime all --precision all --data: every timed cell measured (int8 calibrated on the
    fit split), best_within the fastest cell keeping the agreement, the three levers."""
    pytest.importorskip("onnxruntime", reason="the [deploy] extra")
    pytest.importorskip("openvino", reason="the [openvino] extra")
    code, stdout, err = run_cli(
        capsys, "bench", "--model", digits["source"], "--weights", str(digits["weights"]),
        "--swap", "features.0", "--runtime", "all", "--precision", "all",
        "--data", str(digits["data"]), "--json", *QUICK,
    )  # fmt: skip
    assert code == 0, err
    document = json.loads(stdout)
    timed = check_cells(document)
    assert len(timed) >= 6  # bf16 may be absent on a CPU without bf16 kernels
    assert document["data"]["int8_calibration"] == "256 samples of the fit split"
    assert any("calibrated on 256 samples of the fit split" in note for note in document["notes"])
    check_best_within(document, timed)
    assert document["best_within"]["min_agreement"] == 0.99
    int8 = next(each for each in timed if each["asked"] == "int8")
    assert int8["original"]["precision"].split("+")[0] == "int8"
    assert int8["original"]["agreement"] >= 0.95  # int8 keeps the original's answers
    names = [lever["lever"] for lever in document["levers"]["levers"]]
    assert names[1] == "swap alone" and names[0].endswith(" alone")
    assert names[2].startswith("swap + ")


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (("--data", "nope.pt", "--runtime", "eager"), "--data: 'nope.pt': no such file"),
        (("--data", "{digits}", "--runtime", "eager", "--min-agreement", "2"), "--min-agreement"),
        (("--data", "{digits}", "--runtime", "eager", "--min-agreement", "0"), "--min-agreement"),
        (("--min-agreement", "0.9", "--runtime", "eager"), "--min-agreement needs --data DATA"),
        (("--data", "{digits}"), "--data measures each cell of the matrix: add --runtime"),
        (("--data", "{wide}", "--runtime", "eager"), "its samples are 1×16×16"),
        (
            ("--data", "{digits}", "--runtime", "eager", "--swap", "agreement:0.99"),
            "then --swapped DIR measures it here",
        ),
    ],
)
def test_bad_data_input_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str],
    digits: dict[str, Any],
    tmp_path: Path,
    arguments: tuple[str, ...],
    expected: str,
) -> None:
    """An unknown data file, data that does not fit the model's input, --min-agreement out of
    (0, 1] or without --data, --data without the matrix: one line, exit 2, nothing on stdout."""
    import torch

    wide = tmp_path / "wide.pt"
    torch.save({"inputs": torch.zeros(40, 1, 16, 16), "labels": torch.zeros(40).long()}, wide)
    filled = [
        text.replace("{digits}", str(digits["data"])).replace("{wide}", str(wide))
        for text in arguments
    ]
    code, stdout, err = run_cli(
        capsys, "bench", "--model", digits["source"], "--weights", str(digits["weights"]),
        *filled, *QUICK,
    )  # fmt: skip
    assert code == 2
    assert stdout == "" and len(err.strip().splitlines()) == 1
    assert expected in err and "Traceback" not in err
    assert sorted(path.name for path in tmp_path.iterdir()) == ["wide.pt"]


def test_the_apps_b_with_data_measures_each_cell_and_says_the_levers(
    digits: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Model tab's b with its data field filled: the model child's matrix measures each
    timed cell's two models on the test split (as bench --data), and the tab's panel and answer
    show each side's agreement and the levers (eager only here: the other cells are the
    CLI tests')."""
    from sepconv_tui.model.describe.source import parse_source
    from sepconv_tui.model.swapping.job import ModelJob
    from sepconv_tui.model.vocabulary import runtimes
    from sepconv_tui.model.vocabulary.analysis import Selection
    from sepconv_tui.report.model_tab import matrix_answer, matrix_panel
    from sepconv_tui.workers.model_messages import BenchModel
    from sepconv_tui.workers.model_server import bench_model

    monkeypatch.setattr(runtimes, "runtimes_for", lambda _text: ("eager",))
    job = ModelJob(
        parse_source(digits["source"]),
        weights=str(digits["weights"]),
        selection=Selection("names", patterns=("features.0",)),
        threads=1,
    )
    request = BenchModel(job, min_run_time=0.01, data=str(digits["data"]))
    result = bench_model(request, lambda _line: None).result
    assert result.data is not None and result.data.data == str(digits["data"])
    (timed,) = [each for each in result.matrix if each.original is not None]
    assert timed.original_fidelity is not None and timed.original_fidelity.agreement == 1.0
    assert timed.swapped_fidelity is not None
    from rich.console import Console

    console = Console(width=120, record=True)
    console.print(matrix_panel(result))
    shown = console.export_text()
    assert "Agreement" in shown and "100.0% · " in shown
    assert "swap alone (eager NCHW · fp32)" in matrix_answer(result)
    plain = bench_model(BenchModel(job, min_run_time=0.01), lambda _line: None).result
    assert plain.data is None and "swap alone" not in matrix_answer(plain)
