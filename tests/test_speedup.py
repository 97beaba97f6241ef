"""``--swap speedup:X``: each layer's m on the frontier of seconds saved, confirmed whole.

The seconds come from timers stubbed here (``rung_timing.time_on_runtime`` for each conv and
block alone, ``bench.time_both`` for a whole model): a fake clock that charges each module for
its parameters, and each block inside a whole model a little more than alone (as a real
depthwise pass does), so the prediction and the measurement differ. Nothing asserts on how
fast anything really ran.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from conftest import run_cli
from torch import nn

from sepconv_tui.core.latency import RuntimeTiming, Timing
from sepconv_tui.core.layers import DepthwiseSeparableConv
from sepconv_tui.model.budget.frontier import choose, frontier, frontier_path
from sepconv_tui.model.latency import bench, rung_timing
from sepconv_tui.model.latency.timing_messages import Timed
from sepconv_tui.model.results.sensitivity_result import (
    Frontier,
    FrontierPoint,
    Rung,
    RungTiming,
    Sensitivity,
    read_sensitivity,
)
from sepconv_tui.model.vocabulary.analysis import Cost, SelectionError, parse_selection
from sepconv_tui.model.vocabulary.machine import this_machine

MODELS = Path(__file__).parent / "models"
WIDE = f"{MODELS / 'wide.py'}:build"
SHAPE = ("--input-shape", "1,3,32,32", "--threads", "1")

#: The fake clock: a fixed cost per pass, per parameter, and per block inside a whole model.
BASE_S, PER_PARAM_S, PER_BLOCK_S = 1e-4, 1e-8, 5e-5


def fake_seconds(module: nn.Module, *, whole: bool) -> float:
    """What the fake clock says ``module`` takes (a whole model pays each block's extra pass)."""
    params = sum(parameter.numel() for parameter in module.parameters())
    blocks = sum(isinstance(each, DepthwiseSeparableConv) for each in module.modules())
    return BASE_S + params * PER_PARAM_S + (blocks * PER_BLOCK_S if whole else 0.0)


def timing(seconds: float) -> Timing:
    """A Timing of ``seconds`` (median) with a small IQR."""
    return Timing(seconds, seconds / 100, 5, 1)


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """Both timers stubbed: counts of rung timings and whole-model timings, by cell."""
    counted: dict[str, Any] = {"rungs": 0, "modules": 0, "whole": []}

    def time_on_runtime(runtime: str, modules: Any, **_options: Any) -> Timed:
        counted["rungs"] += 1
        counted["modules"] += len(modules)
        timings = [
            timing(fake_seconds(module, whole=index == len(modules) - 1))
            for index, (_label, module, _x) in enumerate(modules)
        ]
        return Timed(timings=tuple(timings), version="fake 1", ran=("fp32",) * len(timings))

    def time_both(runtime: str, before: Any, after: Any, **options: Any) -> Any:
        precision = str(options["precision"])
        counted["whole"].append((runtime, precision))
        original = fake_seconds(before[1], whole=True) * CELL_FACTOR[0].get(
            (runtime, precision), 1.0
        )
        swapped = fake_seconds(after[1], whole=True) * CELL_FACTOR[1].get((runtime, precision), 1.0)
        result = RuntimeTiming(runtime, timing(original), timing(swapped), "fake 1", 1)
        return result, (precision, precision)

    monkeypatch.setattr(rung_timing, "time_on_runtime", time_on_runtime)
    monkeypatch.setattr(bench, "time_both", time_both)
    # A matrix measures the machine's limits once (seconds): not what these tests are about.
    from sepconv_tui.model.latency import roofline

    monkeypatch.setattr(roofline, "machine_limits", this_machine)
    yield counted


#: (original, swapped) time factors per (runtime, precision) cell: int8 speeds the original up
#: more than the swap (its dense convs gain, the depthwise ones do not), as issue 28 measured.
CELL_FACTOR: tuple[dict[tuple[str, str], float], dict[tuple[str, str], float]] = (
    {("onnxruntime", "fp32"): 0.8, ("onnxruntime", "int8"): 0.3},
    {("onnxruntime", "fp32"): 0.4, ("onnxruntime", "int8"): 0.5},
)


def test_parse_speedup() -> None:
    """speedup:X reads back; X must be above 1."""
    assert str(parse_selection("speedup:2.5")) == "speedup:2.5"
    for text in ("speedup:1", "speedup:x", "speedup:-2", "speedup:nan"):
        with pytest.raises(SelectionError, match="speedup:X needs a speed-up X above 1"):
            parse_selection(text)


def _table() -> Sensitivity:
    """Four layers of one rung each, timed: the whole model 20 s, the layers saving 1–4 s at
    losses that order them c, a, d, b by loss per second."""
    saved = {"a": 3.0, "b": 4.0, "c": 1.0, "d": 2.0}
    loss = {"a": 0.03, "b": 0.2, "c": 0.001, "d": 0.05}
    rungs = tuple(
        Rung(name, 1, 10, 10, agreement=1.0, output_error=loss[name], measured=True)
        for name in saved
    )
    seconds = RungTiming(
        "onnxruntime",
        1,
        "cpu",
        20.0,
        0.1,
        conv_s={name: (saved[name] + 1.0, 0.0) for name in saved},
        block_s={name: {1: (1.0, 0.0)} for name in saved},
    )
    return Sensitivity(rungs, Cost(100, 1000)).with_timing(seconds)


def test_the_seconds_frontier_orders_by_loss_per_second_and_predicts_the_speed_up() -> None:
    """Each step the least output error per second saved (c, a, d, then b), each point's
    predicted speed-up 20 ÷ (20 − the seconds its layers save)."""
    points = frontier_path(_table(), "seconds")
    assert [tuple(point.plan) for point in points] == [
        (),
        ("c",),
        ("a", "c"),
        ("a", "c", "d"),
        ("a", "b", "c", "d"),
    ]
    assert [point.predicted_speed_ratio for point in points[1:]] == pytest.approx(
        [20 / 19, 20 / 16, 20 / 14, 20 / 10]
    )


def test_speedup_keeps_the_first_point_whose_measured_speed_up_reaches_x() -> None:
    """Bisection on the timed points: the prediction (1.43× at point 3) overstates, the
    measurement (each point 0.9 of its prediction) needs point 4; points before the chosen
    one measure below X, and fewer points are timed than the frontier has."""
    timed: list[int] = []
    points = frontier_path(_table(), "seconds")

    def time_point(point: FrontierPoint) -> FrontierPoint:
        timed.append(len(point.multipliers))
        assert point.predicted_speed_ratio is not None
        return replace(point, speed_ratio=point.predicted_speed_ratio * 0.9)

    chosen = choose(points, parse_selection("speedup:1.4"), Cost(100, 1000), time_point=time_point,
                    unit="seconds")  # fmt: skip
    assert chosen.chosen == 4 and chosen.point is not None
    assert chosen.point.speed_ratio is not None and chosen.point.speed_ratio >= 1.4
    before = chosen.points[3].speed_ratio
    assert before is not None and before < 1.4
    assert len(timed) < len(points) - 1 and sorted(timed) == [3, 4]
    assert Frontier.from_dict(json.loads(json.dumps(chosen.to_dict()))) == chosen


def test_the_python_frontier_chooses_speedup_by_the_prediction_and_says_so() -> None:
    """frontier(table, "speedup:X") on a timed table: the first point predicted to reach X,
    nothing timed whole, a note saying so; the frontier names the runtime."""
    chosen = frontier(_table(), "speedup:1.4")
    assert chosen.chosen == 3 and chosen.unit == "seconds" and chosen.runtime == "onnxruntime"
    assert any("the whole model was not timed" in note for note in chosen.notes)


def test_speedup_out_of_reach_says_the_best_measured() -> None:
    """X above the last point's measured speed-up: SelectionError with the best timed."""

    def time_point(point: FrontierPoint) -> FrontierPoint:
        return replace(point, speed_ratio=1.5)

    with pytest.raises(SelectionError, match=r"out of reach on ort: the best is 1\.50× measured"):
        choose(frontier_path(_table(), "seconds"), parse_selection("speedup:3"), Cost(100, 1000),
               time_point=time_point, unit="seconds", timed_on="on ort")  # fmt: skip


def test_a_sensitivity_written_before_the_seconds_still_loads(tmp_path: Path) -> None:
    """A version-1 sensitivity.json without "timing" nor "seconds_saved" loads untimed; a
    timed table reads back with its runtime and seconds."""
    key = {"source": "m"}
    old = {
        "version": 1,
        "key": key,
        "original": Cost(100, 1000).to_dict(),
        "sensitivity": [
            {"name": "a", "depth_multiplier": 1, "agreement": 1.0, "output_error": 0.01,
             "macs_saved": 10, "params_saved": 10},
        ],
    }  # fmt: skip
    (tmp_path / "sensitivity.json").write_text(json.dumps(old))
    table = read_sensitivity(tmp_path, key)
    assert table is not None and table.timing is None
    assert table.rungs[0].seconds_saved is None and table.rungs[0].measured
    timed = Sensitivity(table.rungs, table.original, key=key).with_timing(_table().timing)  # type: ignore[arg-type]
    assert timed.rungs[0].seconds_saved == pytest.approx(3.0)
    timed.save(tmp_path)
    again = read_sensitivity(tmp_path, key)
    assert again == timed and again.timing is not None and again.timing.runtime == "onnxruntime"


CHOICE = re.compile(
    r"speedup:(?P<target>[\d.]+) → .*predicted (?P<predicted>[\d.]+)× faster on \w+ "
    r"\(each layer.s seconds\), measured "
    r"(?P<measured>[\d.]+)× against (?P<against>[^;\[]+?) ?[;\[]"
)


def test_sensitivity_times_every_rung_once_and_a_budget_reuses_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, calls: dict[str, Any]
) -> None:
    """model --sensitivity --runtime eager times each conv and its block at every rung in one
    child (seconds_saved = conv − block, per rung); asked again, and for speedup:X on the
    same data, the seconds are reused: no rung is timed again, only the whole models."""
    data = ("--data", "synthetic:48", "--out", str(tmp_path))
    code, stdout, stderr = run_cli(
        capsys, "model", WIDE, *SHAPE, *data[:2], "--sensitivity", "--runtime", "eager", "--json"
    )
    assert code == 0, stderr
    values = json.loads(stdout)
    rungs = values["sensitivity"]
    timing = values["sensitivity_timing"]
    assert calls["rungs"] == 1 and timing["runtime"] == "eager" and timing["threads"] == 1
    assert calls["modules"] == 4 + len(rungs) + 1  # each conv, each rung's block, the model
    for rung in rungs:
        conv = timing["conv_s"][rung["name"]][0]
        block = timing["block_s"][rung["name"]][str(rung["depth_multiplier"])][0]
        assert rung["seconds_saved"] == pytest.approx(conv - block)
    code, stdout, stderr = run_cli(
        capsys, "model", WIDE, *SHAPE, *data[:2], "--sensitivity", "--runtime", "eager", "--json"
    )
    assert code == 0 and calls["rungs"] == 1, stderr
    code, stdout, stderr = run_cli(
        capsys, "model", WIDE, *SHAPE, *data[:2], "--swap", "speedup:1.3", "--json"
    )
    assert code == 0, stderr
    assert calls["rungs"] == 1 and calls["whole"], stderr
    match = CHOICE.search(stderr)
    assert match is not None, stderr
    assert float(match["measured"]) >= 1.3 and match["against"] == "eager"
    # Untimed, the table says so; on another runtime it is timed again there.
    code, stdout, stderr = run_cli(capsys, "model", WIDE, *SHAPE, *data[:2], "--sensitivity")
    assert code == 0 and "Time saved: each conv and its block timed alone on eager" in stdout
    code, stdout, stderr = run_cli(
        capsys, "model", WIDE, *SHAPE, *data[:2], "--sensitivity", "--runtime",
        "eager_channels_last", "--json",
    )  # fmt: skip
    assert code == 0 and calls["rungs"] == 2
    assert json.loads(stdout)["sensitivity_timing"]["runtime"] == "eager_channels_last"


def test_swap_speedup_records_each_layers_m_and_both_figures(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, calls: dict[str, Any]
) -> None:
    """swap --swap speedup:1.3 without data: the frontier of seconds by the saving alone (no
    weights), the note says nothing was measured on data; the measured speed-up reaches X at
    the chosen point; the plan keeps each layer's m and, under "budget", both speed-ups."""
    code, stdout, stderr = run_cli(
        capsys, "swap", WIDE, *SHAPE, "--swap", "speedup:1.3", "--out", str(tmp_path), "--json"
    )
    assert code == 0, stderr
    match = CHOICE.search(stderr)
    assert match is not None, stderr
    assert float(match["measured"]) >= 1.3
    assert "nothing was measured on data" in stderr
    assert "error" not in match.string.splitlines()[0]  # no loss was known: none is shown
    chosen = dict(
        (name, int(m)) for name, m in re.findall(r"([\w.]+) m=(\d+)", stderr.split("[")[1])
    )
    plan = json.loads((tmp_path / "plan.json").read_text())
    assert chosen and set(json.loads(stdout)["swapped"]) == set(chosen)
    recorded = plan["depth_multiplier"]
    assert recorded == chosen or {recorded} == set(chosen.values())
    budget = plan["budget"]
    assert budget == json.loads(stdout)["budget"] and budget["depth_multiplier"] == chosen
    assert budget["budget"] == "speedup:1.3" and budget["runtime"] == "eager"
    assert budget["measured_speed_ratio"] == pytest.approx(float(match["measured"]), abs=0.01)
    assert budget["predicted_speed_ratio"] > 1


def test_speedup_out_of_reach_exits_2_with_the_best(
    capsys: pytest.CaptureFixture[str], calls: dict[str, Any]
) -> None:
    """speedup:1000: exit 2, one line naming the runtime and the best speed-up measured."""
    code, stdout, stderr = run_cli(capsys, "model", WIDE, *SHAPE, "--swap", "speedup:1000")
    assert code == 2 and stdout == ""
    assert "--swap: speedup:1000 is out of reach on eager: the best is" in stderr
    assert "measured (predicted" in stderr and len(stderr.strip().splitlines()) == 1


def test_baseline_best_measures_x_against_the_originals_best_cell(
    capsys: pytest.CaptureFixture[str], calls: dict[str, Any]
) -> None:
    """--baseline best: each deciding point timed in every cell; X is the swap's best cell
    against the original's best (ONNX Runtime int8 for the original, fp32 for the swap
    here), which the choice names; fewer than same-runtime X, so the swap grows."""
    pytest.importorskip("onnxruntime")
    code, _stdout, stderr = run_cli(
        capsys, "model", WIDE, *SHAPE, "--swap", "speedup:1.2", "--baseline", "best"
    )
    assert code == 0, stderr
    match = CHOICE.search(stderr)
    assert match is not None, stderr
    assert match["against"] == "the original's best cell" and float(match["measured"]) >= 1.2
    assert "best cells: the original onnxruntime int8" in stderr
    assert "the swap onnxruntime fp32" in stderr
    assert ("onnxruntime", "int8") in calls["whole"] and ("eager", "fp32") in calls["whole"]


def test_baseline_best_needs_a_speedup(capsys: pytest.CaptureFixture[str]) -> None:
    """--baseline best with another --swap: exit 2, one line."""
    code, _stdout, stderr = run_cli(capsys, "model", WIDE, *SHAPE, "--baseline", "best")
    assert code == 2 and "--baseline best needs --swap speedup:X" in stderr


def test_the_python_sensitivity_times_its_rungs_on_the_runtime_named(
    calls: dict[str, Any],
) -> None:
    """sensitivity(model, data, runtime="eager", threads=1): each rung's seconds saved is its
    conv's time less its block's, timed in one child; the table says where."""
    import torch

    from sepconv_tui import load_data, sensitivity

    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 16, 3, padding=1),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 4),
    ).eval()  # fmt: skip
    data = load_data("synthetic:40", input_shape=(1, 8, 8, 8))
    table = sensitivity(model, data, runtime="eager", threads=1)
    assert calls["rungs"] == 1 and table.timing is not None
    assert (table.timing.runtime, table.timing.threads) == ("eager", 1)
    for rung in table.rungs:
        conv = table.timing.conv_s[rung.name][0]
        block = table.timing.block_s[rung.name][rung.depth_multiplier][0]
        assert rung.seconds_saved == pytest.approx(conv - block)
    assert sensitivity(model, data).timing is None and calls["rungs"] == 1


def test_fidelity_after_speedup_with_data_reports_on_the_test_split_alone(
    capsys: pytest.CaptureFixture[str], calls: dict[str, Any]
) -> None:
    """fidelity --data --swap speedup:X chose on validation: its figures are on the test
    split (not every sample), with the validation figure that chose it, and of the swap it
    chose reconstructed (as the choice measured it), which a note says."""
    code, stdout, stderr = run_cli(
        capsys, "fidelity", WIDE, *SHAPE, "--data", "synthetic:48", "--swap", "speedup:1.2",
        "--json",
    )  # fmt: skip
    assert code == 0, stderr
    values = json.loads(stdout)
    assert values["split"]["validation"] > 0 and values["evaluated"] == values["split"]["test"]
    assert values["evaluated"] < 48
    assert values["stage"] == "reconstruct" and "and so is the swap measured below" in stderr


def test_max_time_covers_the_timing_too(
    capsys: pytest.CaptureFixture[str], calls: dict[str, Any]
) -> None:
    """model --sensitivity --runtime eager --max-time: time out before the timing, the rungs
    are not timed and the table says so (data no other test kept a table for)."""
    code, stdout, stderr = run_cli(
        capsys, "model", WIDE, *SHAPE, "--data", "synthetic:44", "--sensitivity", "--runtime",
        "eager", "--max-time", "0.001", "--json",
    )  # fmt: skip
    assert code == 0, stderr
    values = json.loads(stdout)
    assert calls["rungs"] == 0 and values["sensitivity_timing"] is None
    assert "time ran out before the rungs were timed on eager" in values["sensitivity_notes"]


def test_the_apps_frontier_request_times_each_rung_on_the_runtime_named(
    calls: dict[str, Any],
) -> None:
    """The Model tab's l after g: the child's frontier, its rungs timed on the session's
    runtime (once: asked again, they are reused), each point with the seconds it saves and the
    speed-up they predict, which the point's line says."""
    from sepconv_tui.model.describe.source import parse_source
    from sepconv_tui.model.swapping.job import ModelJob
    from sepconv_tui.report.sensitivity import point_line
    from sepconv_tui.workers.model_messages import MeasureFrontier
    from sepconv_tui.workers.model_server import measure_frontier

    job = ModelJob(parse_source(WIDE), input_shape=(1, 3, 32, 32), threads=1)
    untimed = measure_frontier(MeasureFrontier(job=job, data="synthetic:40"), lambda _: None)
    assert untimed.sensitivity.timing is None and calls["rungs"] == 0
    request = MeasureFrontier(job=job, data="synthetic:40", seconds_on="eager")
    timed = measure_frontier(request, lambda _: None)
    assert timed.sensitivity.timing is not None and timed.sensitivity.timing.runtime == "eager"
    assert calls["rungs"] == 1
    last = timed.frontier.points[-1]
    assert last.seconds_saved is not None and last.predicted_speed_ratio is not None
    assert "saved, predicted" in point_line(timed.frontier, last)
    again = measure_frontier(request, lambda _: None)
    assert calls["rungs"] == 1 and again.sensitivity.timing == timed.sensitivity.timing
