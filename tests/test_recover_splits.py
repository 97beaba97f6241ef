"""Figures on data the tool never touched: agreement:X on validation, reported on test; early
stopping; the device and the memory budget; torchrun with two processes against one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from conftest import run_cli

from sepconv_tui.core.interval import wilson_interval
from sepconv_tui.model.budget.frontier import frontier_path
from sepconv_tui.model.describe.source import build_model, parse_source
from sepconv_tui.model.measure.data import load_data
from sepconv_tui.model.measure.distributed import LOCAL
from sepconv_tui.model.recovery.distill import ValidationScore, distill
from sepconv_tui.model.recovery.reconstruction import reconstruct
from sepconv_tui.model.swapping.job import ModelJob
from sepconv_tui.model.swapping.swap import swap_convs
from sepconv_tui.model.vocabulary.analysis import parse_selection
from sepconv_tui.model.workflow import Workflow

ROOT = Path(__file__).resolve().parent.parent
TINY = f"{Path(__file__).parent / 'models' / 'tiny_classifier.py'}:build"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The tiny classifier with seeded weights (its batch norm given real statistics) and
    400 seeded labelled samples whose labels are its own top-1 with a share flipped."""
    folder = tmp_path_factory.mktemp("tiny")
    torch.manual_seed(3)
    model = build_model(TINY, real=True).module
    generator = torch.Generator().manual_seed(4)
    inputs = torch.randn(400, 3, 8, 8, generator=generator)
    model.train()
    with torch.no_grad():
        model(inputs)  # batch norm's running statistics, as training would leave them
    model.eval()
    with torch.no_grad():
        labels = model(inputs).argmax(1)
    flipped = torch.rand(400, generator=generator) < 0.1
    labels[flipped] = (labels[flipped] + 1) % 10
    torch.save(model.state_dict(), folder / "tiny.pt")
    torch.save({"inputs": inputs, "labels": labels}, folder / "data.pt")
    return {"dir": folder, "weights": folder / "tiny.pt", "data": folder / "data.pt"}


def tiny_job(tiny: dict[str, Any]) -> ModelJob:
    """The tiny classifier with its trained weights, as a job."""
    return ModelJob(parse_source(TINY), weights=str(tiny["weights"]))


def trained(tiny: dict[str, Any]) -> torch.nn.Module:
    """The tiny classifier with its weights, in eval mode."""
    model = build_model(TINY, real=True).module
    model.load_state_dict(torch.load(tiny["weights"]))
    return model.eval()


def test_agreement_is_chosen_on_validation_and_reported_on_test(tiny: dict[str, Any]) -> None:
    """agreement:X picks the frontier point with the most MACs saved whose *validation*
    agreement ≥ X (each layer at its own m); the figures reported are the chosen swap's on the
    *test* split (recomputed here), with their intervals, and the validation figure sits beside
    them."""
    # The first step of the frontier (one layer alone) keeps its table figure: a budget it meets.
    table = Workflow(tiny_job(tiny), str(tiny["data"]), calibration=64).sensitivity()
    ((name, m),) = frontier_path(table)[1].multipliers
    (rung,) = [rung for rung in table.rungs_of(name) if rung.depth_multiplier == m]
    assert rung.agreement is not None
    budget = rung.agreement
    flow = Workflow(
        tiny_job(tiny),
        str(tiny["data"]),
        budget=parse_selection(f"agreement:{budget}"),
        calibration=64,
    )
    chosen = flow.resolve()
    point = chosen.frontier.point
    assert point is not None and point.multipliers, "the budget should pick at least one layer"
    assert point.measured and point.agreement is not None and point.agreement >= budget
    assert chosen.sensitivity is not None
    assert chosen.frontier.evaluated == chosen.sensitivity.evaluated

    recovery = flow.recover("reconstruct")
    assert set(recovery.result.swapped) == set(point.plan)
    assert {name: recovery.result.multiplier_for(name) for name in point.plan} == point.plan
    final = recovery.final
    assert final.validation is not None
    assert final.validation.agreement == pytest.approx(point.agreement)
    assert final.validation.evaluated == chosen.frontier.evaluated
    assert final.validation.budget == pytest.approx(budget)
    # The test figures, by hand: the recovered model against the original on the last samples.
    data = load_data(str(tiny["data"]), input_shape=(1, 3, 8, 8))
    test = data.tail(recovery.split.test)
    original = trained(tiny)
    with torch.no_grad():
        agree = int(
            (recovery.model.eval()(test.inputs).argmax(1) == original(test.inputs).argmax(1)).sum()
        )
    assert final.evaluated == len(test) == recovery.split.test
    assert final.agreement == pytest.approx(agree / len(test))
    assert final.agreement_interval == pytest.approx(wilson_interval(agree, len(test)))
    written = recovery.to_dict()
    assert written["split"] == recovery.split.to_dict()
    assert sum(written["split"].values()) == 400
    stage = written["stages"][-1]
    assert stage["swapped"]["agreement_interval"] == pytest.approx(list(final.agreement_interval))
    assert stage["validation"]["agreement"] == pytest.approx(point.agreement)


def test_a_validation_split_too_small_for_the_budget_is_said(tiny: dict[str, Any]) -> None:
    """agreement:0.999 needs ~3,800 validation samples; the note says so and how many."""
    flow = Workflow(
        tiny_job(tiny),
        str(tiny["data"]),
        budget=parse_selection("agreement:0.999"),
        calibration=64,
    )
    fidelity = flow.fidelity()
    assert any(
        "cannot resolve agreement ≥ 99.9%" in note and "3,838" in note for note in fidelity.notes
    )
    assert fidelity.split is not None and fidelity.evaluated == fidelity.split.test


def _state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {key: value.clone() for key, value in model.state_dict().items()}


def test_early_stopping_stops_and_restores_the_best_weights(tiny: dict[str, Any]) -> None:
    """A learning rate that wrecks the student: no check beats the start, so distillation
    stops after `patience` checks and hands back the start's weights unchanged. A sane one
    improves, and what it hands back scores its best validation figure."""
    original = trained(tiny)
    data = load_data(str(tiny["data"]), input_shape=(1, 3, 8, 8))
    fit, validation = data.head(240), data.tail(160).head(80)
    swapped = swap_convs(original, "all").model.eval()
    reconstruct(original, swapped, ["conv1", "conv2"], fit, calibration=64)
    start = _state(swapped)
    wrecked = distill(
        original,
        swapped,
        fit,
        validation,
        steps=500,
        lr=5.0,
        patience=2,
        check_every=5,
        min_steps=0,
    )
    assert wrecked.stopped == "patience" and wrecked.steps == 10 and wrecked.best_step == 0
    for key, value in swapped.state_dict().items():
        assert torch.equal(value, start[key]), key

    result = distill(
        original, swapped, fit, validation, steps=60, lr=3e-3, patience=50, check_every=5
    )
    assert result.stopped == "steps" and result.steps == 60 and result.best_step > 0
    assert result.checks == 13  # the start, then every 5 steps
    check = ValidationScore(original, validation, 64, LOCAL).score(swapped)
    assert check.loss == pytest.approx(result.best_loss)
    assert check.agreement == pytest.approx(result.best_agreement)
    assert check.output_error == pytest.approx(result.best_output_error)
    # The best weights are the lowest validation loss on the curve.
    assert min(point.loss for point in result.curve) == pytest.approx(result.best_loss)

    timed = distill(original, swapped, fit, validation, steps=10_000, max_time=0.001)
    assert timed.stopped == "time" and timed.steps < 10_000


def test_swap_json_and_fidelity_json_carry_the_validation_curve(
    capsys: pytest.CaptureFixture[str], tiny: dict[str, Any], tmp_path: Path
) -> None:
    """swap --recover distill --json: the plan, and under "fidelity" what fidelity.json holds,
    with distillation's curve (step, loss, agreement at each check: step 0, every 50, last)."""
    out = tmp_path / "out"
    code, printed, err = run_cli(
        capsys,
        "swap",
        TINY,
        "--weights",
        str(tiny["weights"]),
        "--swap",
        "all",
        "--data",
        str(tiny["data"]),
        "--recover",
        "distill",
        "--steps",
        "120",
        "--out",
        str(out),
        "--json",
    )
    assert code == 0, err
    shown = json.loads(printed)
    written = json.loads((out / "fidelity.json").read_text())
    assert shown["swapped"] == json.loads((out / "plan.json").read_text())["swapped"]
    assert shown["fidelity"] == written
    curve = written["distill"]["curve"]
    assert [point["step"] for point in curve] == [0, 50, 100, 120]
    assert all(set(point) == {"step", "loss", "agreement"} for point in curve)
    assert all(point["loss"] >= 0 and 0 <= point["agreement"] <= 1 for point in curve)
    best = min(curve, key=lambda point: point["loss"])
    assert written["distill"]["best_step"] == best["step"]
    assert written["distill"]["best_validation_loss"] == best["loss"]


def test_device_cuda_without_cuda_is_one_line_exit_2(
    capsys: pytest.CaptureFixture[str], tiny: dict[str, Any]
) -> None:
    """--device cuda on a machine without CUDA: exit 2 and one line, as bench says it."""
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    for command in ("fidelity", "model"):
        code, _out, err = run_cli(
            capsys,
            command,
            TINY,
            "--weights",
            str(tiny["weights"]),
            "--swap",
            "agreement:0.9" if command == "model" else "all",
            "--data",
            str(tiny["data"]),
            "--device",
            "cuda",
        )
        assert code == 2, err
        assert err.count("\n") == 1 and "--device: CUDA is not available" in err
    code, _out, err = run_cli(
        capsys, "fidelity", TINY, "--data", str(tiny["data"]), "--device", "tpu"
    )
    assert code == 2 and "--device" in err


def test_reconstruction_over_the_memory_budget_names_the_calibration_that_fits(
    capsys: pytest.CaptureFixture[str], tiny: dict[str, Any], tmp_path: Path
) -> None:
    """--memory-budget-mb 1: 256 calibration samples of the tiny model's targets do not fit;
    exit 2 naming the count that does, and that count then runs."""
    out = tmp_path / "out"
    arguments = [
        "swap",
        TINY,
        "--weights",
        str(tiny["weights"]),
        "--swap",
        "all",
        "--data",
        str(tiny["data"]),
        "--memory-budget-mb",
        "1",
        "--out",
        str(out),
    ]
    code, _out, err = run_cli(capsys, *arguments)
    assert code == 2 and err.count("\n") == 1, err
    assert "--calibration: reconstruction on 256 calibration samples would hold" in err
    assert "over the memory budget" in err
    fits = int(err.split("; ")[-1].split(" samples fit")[0].replace(",", ""))
    # The estimate: (targets + 3 × the largest activation) per sample, float32.
    per_sample = 4 * ((12 + 16) * 64 + 3 * 16 * 64)
    assert fits == 2**20 // per_sample
    assert not out.exists()
    code, _out, err = run_cli(capsys, *arguments, "--calibration", str(fits))
    assert code == 0, err


def _torchrun(processes: int, out: Path, *extra: str) -> str:
    """``torchrun --standalone --nproc_per_node=N -m sepconv_tui swap …`` on the CPU (gloo)."""
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc_per_node={processes}",
        "-m",
        "sepconv_tui",
    ]
    if processes == 1:
        command = [sys.executable, "-m", "sepconv_tui"]  # no torchrun: one plain process
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [*command, *extra, "--out", str(out)] if "swap" in extra else [*command, *extra],
        capture_output=True,
        text=True,
        env=environment,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


@pytest.mark.slow  # torchrun
def test_two_torchrun_processes_give_one_process_model_and_fidelity(
    tiny: dict[str, Any], tmp_path: Path
) -> None:
    """torchrun with 2 CPU processes (gloo): each takes its shard of every split, the normal
    equations and counts are all-reduced, rank 0 writes — the same weights (to float
    summation order) and the same fidelity as one process; fidelity.json says world_size 2."""
    swap = [
        "swap",
        TINY,
        "--weights",
        str(tiny["weights"]),
        "--swap",
        "all",
        "--data",
        str(tiny["data"]),
        "--recover",
        "reconstruct",
        "--calibration",
        "101",
    ]
    _torchrun(1, tmp_path / "one", *swap)
    _torchrun(2, tmp_path / "two", *swap)
    one, two = (torch.load(tmp_path / name / "swapped.pt") for name in ("one", "two"))
    assert one.keys() == two.keys()
    for key in one:
        assert torch.allclose(one[key], two[key], rtol=1e-5, atol=1e-6), key
    fidelity_one, fidelity_two = (
        json.loads((tmp_path / name / "fidelity.json").read_text()) for name in ("one", "two")
    )
    assert fidelity_one["world_size"] == 1 and fidelity_two["world_size"] == 2
    assert fidelity_one["split"] == fidelity_two["split"]
    for stage_one, stage_two in zip(fidelity_one["stages"], fidelity_two["stages"], strict=True):
        assert stage_one["evaluated"] == stage_two["evaluated"] == fidelity_one["split"]["test"]
        assert stage_two["world_size"] == 2
        for side in ("original", "swapped"):
            assert stage_one[side]["accuracy"] == stage_two[side]["accuracy"]
        assert stage_one["swapped"]["agreement"] == stage_two["swapped"]["agreement"]
        assert stage_one["swapped"]["output_error"] == pytest.approx(
            stage_two["swapped"]["output_error"], rel=1e-5
        )
    # Distillation under DistributedDataParallel: it runs, checks validation, and rank 0 writes.
    _torchrun(2, tmp_path / "distilled", *swap[:-4], "--recover", "distill", "--steps", "12")
    distilled = json.loads((tmp_path / "distilled" / "fidelity.json").read_text())
    assert [stage["stage"] for stage in distilled["stages"]] == ["svd", "reconstruct", "distill"]
    assert distilled["world_size"] == 2 and 1 <= distilled["distill"]["steps"] <= 12
    assert distilled["distill"]["checks"] >= 2  # the start, and at least the last step
    # fidelity under torchrun: rank 0 alone prints, the counts summed over both.
    measure = [
        "fidelity",
        TINY,
        "--weights",
        str(tiny["weights"]),
        "--swapped",
        str(tmp_path / "two"),
        "--data",
        str(tiny["data"]),
        "--json",
    ]
    alone = json.loads(_torchrun(1, tmp_path, *measure))
    together = json.loads(_torchrun(2, tmp_path, *measure))
    assert together["world_size"] == 2 and together["evaluated"] == alone["evaluated"] == 400
    assert together["swapped"]["agreement"] == alone["swapped"]["agreement"]
    assert together["swapped"]["output_error"] == pytest.approx(
        alone["swapped"]["output_error"], rel=1e-5
    )


_UNEQUAL_BUDGETS = """
import sys
import torch
from sepconv_tui.model.recovery import recovery_memory
from sepconv_tui.model.measure.distributed import Ranks

ranks = Ranks.start("cpu")
# Each rank sees its own free memory; here rank 1 sees far less than rank 0.
memory = recovery_memory
memory.resolve_budget = lambda _bytes, _device="cpu": 10 * 16384 if ranks.rank else 10**9
model = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU())
batch = memory.fit_batch_size(model, torch.zeros(1, 3, 8, 8), 64, None, ranks, training=True)
with open(f"{sys.argv[1]}/rank{ranks.rank}", "w") as handle:
    handle.write(str(batch))
ranks.stop()
"""


@pytest.mark.slow  # torchrun
def test_ranks_with_unequal_free_memory_agree_on_one_batch_size(tmp_path: Path) -> None:
    """Under torchrun the default budget (a share of free memory) is each rank's own: they
    take the smallest, so every rank runs the same batches (and the same DDP steps)."""
    script = tmp_path / "unequal.py"
    script.write_text(_UNEQUAL_BUDGETS)
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    result = subprocess.run(
        [*command, "--nproc_per_node=2", str(script), str(tmp_path)],
        capture_output=True,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)},
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    # Rank 1's budget holds 10 samples (4 bytes × (2 × 512 outputs + 3 × 1,024 kept for the
    # backward pass) each); rank 0's would hold all 64 asked for.
    sizes = [int((tmp_path / f"rank{rank}").read_text()) for rank in (0, 1)]
    assert sizes == [10, 10], sizes


def test_tables_and_the_tab_lines_show_intervals_and_the_split(
    capsys: pytest.CaptureFixture[str], tiny: dict[str, Any]
) -> None:
    """The CLI table: `share [lo–hi]` and n, the split in the title; the Model tab's line the
    same figures; a fidelity recorded before the splits reads as it always did."""
    from sepconv_tui.model.measure.fidelity import Fidelity
    from sepconv_tui.report import model_fidelity

    code, printed, err = run_cli(
        capsys,
        "fidelity",
        TINY,
        "--weights",
        str(tiny["weights"]),
        "--swap",
        "all",
        "--data",
        str(tiny["data"]),
        "--test",
        "100",
    )
    assert code == 0, err
    flat = " ".join(printed.split())  # Rich wraps the title at the terminal's width
    assert "Fidelity on 100 test samples (split fit 220 · validation 80 · test 100)" in flat
    code, markdown, err = run_cli(
        capsys,
        "fidelity",
        TINY,
        "--weights",
        str(tiny["weights"]),
        "--swap",
        "all",
        "--data",
        str(tiny["data"]),
        "--test",
        "100",
        "--markdown",
    )
    measured = json.loads(
        run_cli(
            capsys,
            "fidelity",
            TINY,
            "--weights",
            str(tiny["weights"]),
            "--swap",
            "all",
            "--data",
            str(tiny["data"]),
            "--test",
            "100",
            "--json",
        )[1]
    )
    low, high = measured["swapped"]["agreement_interval"]
    share = measured["swapped"]["agreement"]
    shown = f"{100 * share:.1f}% [{100 * low:.1f}–{100 * high:.1f}]"
    assert f"| Top-1 agreement | 100.0% | {shown} | 100 |" in markdown
    assert shown in flat
    fidelity = Fidelity.from_dict(measured)
    line = model_fidelity.fidelity_line(fidelity, 2)
    assert line.startswith("Test split (100 samples, 2 swapped): accuracy")
    assert shown in line and line.endswith("split fit 220 · validation 80 · test 100")
    old = {key: value for key, value in measured.items() if key not in ("split", "world_size")}
    old["swapped"] = {
        key: measured["swapped"][key] for key in ("accuracy", "agreement", "output_error")
    }
    old["original"] = {"accuracy": measured["original"]["accuracy"]}
    recorded = Fidelity.from_dict(old)
    assert recorded.agreement_interval is None and recorded.split is None
    assert model_fidelity.fidelity_line(recorded, 2).startswith("Held out (100 samples")
    assert "[" not in model_fidelity.fidelity_line(recorded, 2)
