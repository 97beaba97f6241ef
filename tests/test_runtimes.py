"""bench --runtime and --per-layer: each runtime in its own process, its JSON, the per-layer rows.

Few, short timings (--min-run-time 0.01, one thread): these tests check what is reported and
how the figures relate, never how fast anything is.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import run_cli
from rich.console import Console

from sepconv_tui.core.latency import BenchResult, Timing
from sepconv_tui.ipc.client import ChildProcess
from sepconv_tui.model.latency.timing import TIMING_SERVER
from sepconv_tui.model.latency.timing_messages import TimedFile, TimeFiles
from sepconv_tui.model.results.bench_result import (
    LayerBench,
    LayerRow,
    LayerTiming,
    ModelBenchResult,
)
from sepconv_tui.model.vocabulary.runtimes import RUNTIME_TABLE
from sepconv_tui.progress import Progress
from sepconv_tui.report import layer_bench as layer_bench_report

MODELS = Path(__file__).parent / "models"
CUSTOM = f"{MODELS / 'custom_model.py'}:build"
QUICK = ("--threads", "1", "--min-run-time", "0.01")


#: What --runtime all times here: OpenVINO where its extra is installed.
ALL_INSTALLED = ["eager", "eager_channels_last", "onnxruntime"] + (
    ["openvino"] if importlib.util.find_spec("openvino") is not None else []
)


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
    library = runtime if runtime in ("onnxruntime", "openvino") else "torch"
    assert entry["version"].startswith(f"{library} ")


@pytest.mark.deploy
def test_bench_model_runtime_all_json(capsys: pytest.CaptureFixture[str]) -> None:
    """bench --model --runtime all --json: eager NCHW, eager channels-last, ONNX Runtime and
    OpenVINO (where installed), each with both models, its speed ratio and version; the top
    level is eager's; round trip."""
    pytest.importorskip("onnxruntime")
    code, stdout, stderr = run_cli(
        capsys, "bench", "--model", CUSTOM, "--input-shape", "1,3,16,16", "--swap", "all",
        "--runtime", "all", "--json", *QUICK,
    )  # fmt: skip
    assert code == 0, stderr
    document = json.loads(stdout)
    runtimes = document["runtimes"]
    assert list(runtimes) == ALL_INSTALLED
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
    assert list(document["runtimes"]) == ALL_INSTALLED
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


def saved_conv(folder: Path) -> TimedFile:
    """A small conv saved as the eager exporter saves it, to time in a child."""
    import torch
    from torch import nn

    from sepconv_tui.model.deploy.timers import save_module

    path = folder / "conv.pt"
    conv = nn.Conv2d(8, 8, 3, padding=1)
    imports = save_module(conv, torch.ones(1, 8, 16, 16), path, "c", "fp32")
    assert imports == {}  # torch's own class: nothing to import first
    return TimedFile("conv", str(path), (1, 8, 16, 16))


def eager_request(files: tuple[TimedFile, ...], seconds: float) -> TimeFiles:
    """Time ``files`` on eager NCHW, one thread, ``seconds`` each."""
    entry = RUNTIME_TABLE["eager"]
    return TimeFiles("eager", entry.timer, entry.version, files, 1, seconds)


def test_a_timing_child_times_the_file_it_is_given(tmp_path: Path) -> None:
    """The timing server answers TimeFiles with one Timing per file, in order, and the
    runtime's version, a Progress per file before it."""
    timed = saved_conv(tmp_path)
    process = ChildProcess(TIMING_SERVER, one_shot=True)
    seen: list[Progress] = []
    try:
        reply = process.ask(eager_request((timed, timed), 0.01), seen.append)
    finally:
        process.close()
    assert len(reply.timings) == 2 and all(timing.median_s > 0 for timing in reply.timings)
    assert reply.version.startswith("torch ")
    assert [progress.done for progress in seen] == [0, 1, 2]
    assert {progress.stage for progress in seen} == {"time"}


def test_cancelling_a_timing_kills_its_child(tmp_path: Path) -> None:
    """Call.cancel while the child times (the app's escape, in the process that started it):
    the call returns None and the child is gone."""
    timed = saved_conv(tmp_path)
    process = ChildProcess(TIMING_SERVER, one_shot=True)
    call = process.call(eager_request((timed,) * 100, 0.05))
    started = threading.Event()
    replies: list[object] = []
    waiter = threading.Thread(
        target=lambda: replies.append(call.wait(lambda progress: started.set()))
    )
    waiter.start()
    assert started.wait(timeout=120), "the child never started timing"
    child = process.popen
    call.cancel()
    waiter.join(timeout=60)
    assert not waiter.is_alive() and replies == [None]
    assert child is not None and child.wait(timeout=60) is not None
    process.close()


PARENT = """
import sys
from sepconv_tui.ipc.client import ChildProcess
from sepconv_tui.model.vocabulary.runtimes import RUNTIME_TABLE
from sepconv_tui.model.vocabulary.runtimes import RUNTIME_TABLE
from sepconv_tui.model.latency.timing_messages import TimedFile, TimeFiles
process = ChildProcess("sepconv_tui.model.latency.timing_server")
timed = TimedFile("conv", sys.argv[1], (1, 8, 16, 16))
def started(progress):
    print(process.popen.pid, flush=True)
entry = RUNTIME_TABLE["eager"]
process.ask(TimeFiles("eager", entry.timer, entry.version, (timed,) * 1000, 1, 0.05), started)
"""


def alive(pid: int) -> bool:
    """True while process ``pid`` runs (a zombie, dead but not reaped, counts as ended)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as stat:
            return stat.read().split(") ", 1)[1][0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_a_timing_child_ends_when_its_parent_dies(tmp_path: Path) -> None:
    """The process that started a timing is killed (the app's escape kills the model child):
    the timing child, mid-request, ends by itself."""
    import subprocess

    timed = saved_conv(tmp_path)
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, timed.path], stdout=subprocess.PIPE, text=True
    )
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    assert alive(child)
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 60
    while alive(child):
        assert time.monotonic() < deadline, "the timing child outlived its parent"
        time.sleep(0.05)


def test_result_and_report_modules_load_neither_torch_nor_onnx() -> None:
    """The data the app's child sends back (LayerBench, ExportResult), the speedup resolver
    and their reports import no torch, onnx, onnxruntime or Textual."""
    import subprocess

    code = (
        "import sepconv_tui.model.latency.bench, sepconv_tui.model.speedup, "
        "sepconv_tui.model.deploy.export, sepconv_tui.model.deploy.timers, "
        "sepconv_tui.model.latency.timing, sepconv_tui.model.latency.timing_server, "
        "sepconv_tui.model.vocabulary.runtimes, sepconv_tui.report.layer_bench, "
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


def test_a_module_that_does_not_pickle_is_refused_in_words(tmp_path: Path) -> None:
    """A class defined inside a function cannot reach a timing child: one BenchError naming
    what could not be handed over, no traceback."""
    import torch
    from torch import nn

    from sepconv_tui.core.latency import BenchError
    from sepconv_tui.model.deploy.timers import save_module

    class Local(nn.Module):
        """Defined here, so pickle cannot name it."""

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            """The identity."""
            return x

    with pytest.raises(BenchError, match="cannot hand the model to a timing process"):
        save_module(Local(), torch.ones(1), tmp_path / "m.pt", "the model", "fp32")
