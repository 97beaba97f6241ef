"""bench --runtime and --per-layer: each runtime in its own process, its JSON, the per-layer rows.

Few, short timings (--min-run-time 0.01, one thread): these tests check what is reported and
how the figures relate, never how fast anything is.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from conftest import run_cli
from rich.console import Console

from sepconv_tui.core.latency import BenchResult, Timing
from sepconv_tui.model.bench import LayerBench, LayerRow, LayerTiming, ModelBenchResult
from sepconv_tui.model.runtime import BenchCancelled, run_isolated
from sepconv_tui.report import layer_bench as layer_bench_report

MODELS = Path(__file__).parent / "models"
CUSTOM = f"{MODELS / 'custom_model.py'}:build"
QUICK = ("--threads", "1", "--min-run-time", "0.01")


def check_runtime_entry(entry: dict, before: str, after: str, runtime: str) -> None:
    """One runtime's JSON: both sides timed, its ratio, its version, one thread."""
    assert entry["runtime"] == runtime and entry["threads"] == 1
    assert entry["channels_last"] is (runtime == "eager_channels_last")
    for side in (before, after):
        assert entry[side]["median_s"] > 0 and entry[side]["iqr_s"] >= 0
        assert entry[side]["runs"] >= 1 and entry[side]["loops_per_run"] >= 1
    assert entry["speed_ratio"] == pytest.approx(
        entry[before]["median_s"] / entry[after]["median_s"]
    )
    library = "onnxruntime" if runtime == "onnxruntime" else "torch"
    assert entry["version"].startswith(f"{library} ")


@pytest.mark.deploy
def test_bench_model_runtime_all_json(capsys: pytest.CaptureFixture[str]) -> None:
    """bench --model --runtime all --json: eager NCHW, eager channels-last and ONNX Runtime,
    each with both models, its speed ratio and version; the top level is eager's; round trip."""
    pytest.importorskip("onnxruntime")
    code, stdout, stderr = run_cli(
        capsys, "bench", "--model", CUSTOM, "--input-shape", "1,3,16,16", "--swap", "all",
        "--runtime", "all", "--json", *QUICK,
    )  # fmt: skip
    assert code == 0, stderr
    document = json.loads(stdout)
    runtimes = document["runtimes"]
    assert list(runtimes) == ["eager", "eager_channels_last", "onnxruntime"]
    for name, entry in runtimes.items():
        check_runtime_entry(entry, "original", "swapped", name)
    assert document["original"] == runtimes["eager"]["original"]
    assert document["mac_ratio"] == pytest.approx(2.893, abs=1e-3)
    assert ModelBenchResult.from_dict(document).to_dict() == document


def test_bench_model_runtime_eager_channels_last(capsys: pytest.CaptureFixture[str]) -> None:
    """--runtime eager --channels-last times eager in NHWC only, in a child process."""
    code, stdout, stderr = run_cli(
        capsys, "bench", "--model", CUSTOM, "--input-shape", "1,3,16,16", "--swap", "same",
        "--runtime", "eager", "--channels-last", "--json", *QUICK,
    )  # fmt: skip
    assert code == 0, stderr
    document = json.loads(stdout)
    assert list(document["runtimes"]) == ["eager_channels_last"]
    check_runtime_entry(
        document["runtimes"]["eager_channels_last"], "original", "swapped", "eager_channels_last"
    )
    assert document["channels_last"] is True and document["swapped_count"] == 1


@pytest.mark.deploy
def test_one_layer_bench_runtime_json(capsys: pytest.CaptureFixture[str]) -> None:
    """bench --runtime all for one layer: every runtime's standard and separable timings."""
    pytest.importorskip("onnxruntime")
    code, stdout, stderr = run_cli(
        capsys, "bench", "--in-channels", "8", "--runtime", "all", "--json", *QUICK
    )
    assert code == 0, stderr
    document = json.loads(stdout)
    assert list(document["runtimes"]) == ["eager", "eager_channels_last", "onnxruntime"]
    for name, entry in document["runtimes"].items():
        check_runtime_entry(entry, "standard", "separable", name)
    assert document["memory"]["allocated_bytes"] > 0
    assert BenchResult.from_dict(document).to_dict() == document
    # The table names each runtime beside the MAC ratio.
    code, stdout, _ = run_cli(capsys, "bench", "--in-channels", "8", "--runtime", "eager", *QUICK)
    assert code == 0 and "eager NCHW" in stdout and "MAC ratio" in stdout


def test_runtime_refusals(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """--per-layer without --model, --runtime on cuda, and ONNX Runtime without the [deploy]
    extra: exit 2, one line each."""
    code, _, err = run_cli(capsys, "bench", "--per-layer")
    assert code == 2 and "--per-layer needs --model SOURCE" in err
    code, _, err = run_cli(capsys, "bench", "--runtime", "eager", "--device", "cuda")
    assert code == 2 and "--runtime times on the CPU" in err
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    code, _, err = run_cli(
        capsys, "bench", "--model", CUSTOM, "--input-shape", "1,3,16,16", "--runtime",
        "onnxruntime",
    )  # fmt: skip
    assert code == 2 and "[deploy]" in err and len(err.strip().splitlines()) == 1


def test_per_layer_has_a_row_for_every_candidate(capsys: pytest.CaptureFixture[str]) -> None:
    """--per-layer: one row per candidate at the input the analysis recorded (the shared conv
    with its two calls), the selection marked, and the model's other time = whole − convs."""
    code, stdout, stderr = run_cli(
        capsys, "bench", "--model", CUSTOM, "--input-shape", "1,3,16,16", "--swap",
        "same,shared", "--per-layer", "--json", *QUICK,
    )  # fmt: skip
    assert code == 0, stderr
    document = json.loads(stdout)
    rows = {row["name"]: row for row in document["layers"]}
    assert list(rows) == ["stem", "same", "reflect", "shared"]
    assert rows["shared"]["calls"] == 2 and rows["shared"]["input_shape"] == [1, 16, 8, 8]
    assert rows["same"]["input_shape"] == [1, 8, 16, 16]
    assert [name for name, row in rows.items() if row["swap"]] == ["same", "shared"]
    assert rows["same"]["mac_ratio"] == pytest.approx(5.76, abs=0.01)
    eager = document["runtimes"]["eager"]
    convs = sum(
        row["calls"] * row["runtimes"]["eager"]["conv"]["median_s"] for row in rows.values()
    )
    assert eager["other_s"] == pytest.approx(eager["model"]["median_s"] - convs)
    for row in rows.values():
        timing = row["runtimes"]["eager"]
        assert timing["speed_ratio"] == pytest.approx(
            timing["conv"]["median_s"] / timing["block"]["median_s"]
        )
        assert timing["saved_s"] == pytest.approx(
            row["calls"] * (timing["conv"]["median_s"] - timing["block"]["median_s"])
        )
    assert LayerBench.from_dict(document).to_dict() == document
    code, stdout, _ = run_cli(
        capsys, "bench", "--model", CUSTOM, "--input-shape", "1,3,16,16", "--per-layer", *QUICK
    )
    assert code == 0 and "Other (model − convs)" in stdout and "shared ×2" in stdout


def timing(seconds: float) -> Timing:
    """A Timing with median ``seconds``."""
    return Timing(seconds, 0.0, 5, 1)


def test_predicted_speed_ratio_and_marks_are_arithmetic_on_the_rows() -> None:
    """Injected times: predicted = T ÷ (T − Σ calls × (conv − block)); a row whose speed-up is
    below half its MAC ratio is marked; other = T − Σ calls × conv."""
    rows = (
        LayerRow("a", (1, 3, 8, 8), 1, 1, 8.0, True, {"eager": LayerTiming(timing(4), timing(1))}),
        LayerRow("b", (1, 3, 8, 8), 2, 1, 8.0, False, {"eager": LayerTiming(timing(2), timing(1))}),
    )
    bench = LayerBench("m", (1, 3, 8, 8), "a", 1, rows, {"eager": timing(10)}, {"eager": "t"}, "t")
    assert bench.convs_s("eager") == 8 and bench.other_s("eager") == 2
    assert bench.predicted_speed_ratio({"a"}, "eager") == pytest.approx(10 / 7)
    assert bench.predicted_speed_ratio({"a", "b"}, "eager") == pytest.approx(10 / 5)
    assert bench.predicted_latency_s(("a", "b"), "eager") == pytest.approx(5)
    assert not rows[0].far_below("eager") and rows[1].far_below("eager")


def test_convs_adding_up_to_more_than_the_model_still_predict_a_finite_speed_up() -> None:
    """Convs alone 12 s against a 10 s model (each call's fixed cost, a busy machine): other is
    negative, shown as —, and the saving is scaled by 10/12 rather than running past zero."""
    rows = (
        LayerRow("a", (1, 3, 8, 8), 1, 1, 8.0, True, {"eager": LayerTiming(timing(8), timing(1))}),
        LayerRow("b", (1, 3, 8, 8), 1, 1, 8.0, True, {"eager": LayerTiming(timing(4), timing(1))}),
    )
    model = {"eager": timing(10)}
    bench = LayerBench("m", (1, 3, 8, 8), "all", 1, rows, model, {"eager": "t"}, "t")
    assert bench.other_s("eager") == pytest.approx(-2)
    assert bench.predicted_latency_s({"a", "b"}, "eager") == pytest.approx(10 * 2 / 12)
    assert bench.predicted_speed_ratio({"a", "b"}, "eager") == pytest.approx(6)
    assert bench.predicted_speed_ratio((), "eager") == pytest.approx(1)
    text = Console(width=200, record=True)
    text.print(layer_bench_report.render(bench))
    output = text.export_text()
    assert "inf" not in output and "add up to more than the whole model" in output


def test_a_cancelled_timing_kills_its_child() -> None:
    """cancelled() turning true while the child times: BenchCancelled, and the call returns."""
    seen: list[str] = []
    task = {
        "kind": "layers",
        "runtime": "eager",
        "source": CUSTOM,
        "weights": None,
        "layers": [{"name": "same", "input_shape": [1, 8, 16, 16], "multiplier": 1}] * 50,
        "input_shape": [1, 3, 16, 16],
        "threads": 1,
        "min_run_time": 0.05,
    }
    with pytest.raises(BenchCancelled):
        run_isolated(
            task,
            progress=lambda progress: seen.append(progress.label),
            cancelled=lambda: bool(seen),
        )
    assert seen  # it was cancelled once it had started, not before


def test_result_and_report_modules_load_neither_torch_nor_onnx() -> None:
    """The data the app's child sends back (LayerBench, SpeedupChoice, ExportResult) and their
    reports import no torch, onnx, onnxruntime or Textual."""
    import subprocess

    code = (
        "import sepconv_tui.model.bench, sepconv_tui.model.speedup, sepconv_tui.model.export, "
        "sepconv_tui.model.runtime, sepconv_tui.report.layer_bench, "
        "sepconv_tui.report.runtimes, sepconv_tui.report.export, sepconv_tui.cli\n"
        "import sys; print(*(name in sys.modules for name in "
        "('torch', 'onnx', 'onnxruntime', 'textual')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.split() == ["False"] * 4


@pytest.mark.deploy
def test_per_layer_on_onnx_runtime(capsys: pytest.CaptureFixture[str]) -> None:
    """--per-layer --runtime onnxruntime: every candidate exported and timed alone in ONNX
    Runtime, with the runtime's version and the whole model's split."""
    pytest.importorskip("onnxruntime")
    code, stdout, stderr = run_cli(
        capsys, "bench", "--model", CUSTOM, "--input-shape", "1,3,16,16", "--per-layer",
        "--runtime", "onnxruntime", "--json", *QUICK,
    )  # fmt: skip
    assert code == 0, stderr
    document = json.loads(stdout)
    assert [row["name"] for row in document["layers"]] == ["stem", "same", "reflect", "shared"]
    assert all(list(row["runtimes"]) == ["onnxruntime"] for row in document["layers"])
    entry = document["runtimes"]["onnxruntime"]
    assert entry["version"].startswith("onnxruntime ") and entry["model"]["median_s"] > 0
