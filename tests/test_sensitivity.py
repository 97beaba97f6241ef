"""Sensitivity (layer × m) and the frontier: the table against single-layer reconstructions,
per-layer m against every single-m choice, the budgets, and an outside check on a 1-D CNN
trained here on a generated signal task."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path
from typing import Any

import pytest
import torch
from conftest import run_cli
from torch import nn

from sepconv_tui import frontier, sensitivity
from sepconv_tui.model.budget.frontier import frontier_path, plan_measurer
from sepconv_tui.model.measure.data import Data
from sepconv_tui.model.measure.fidelity import measure_fidelity
from sepconv_tui.model.measure.split import Split, apply_split
from sepconv_tui.model.recovery.reconstruction import reconstruct
from sepconv_tui.model.results.fidelity_result import SplitSizes
from sepconv_tui.model.results.sensitivity_result import (
    FrontierPoint,
    Sensitivity,
    describe_multipliers,
)
from sepconv_tui.model.swapping.swap import swap_convs


def _ranked(generator: torch.Generator, rank: int, c_out: int, taps: int) -> torch.Tensor:
    """A C_out × taps matrix of exactly ``rank`` equal singular values."""
    left = torch.linalg.qr(torch.randn(c_out, rank, generator=generator))[0]
    right = torch.linalg.qr(torch.randn(taps, rank, generator=generator))[0]
    return left @ right.T


class TwoConvs(nn.Module):
    """Two 3×3 convs, 16 → 16: ``a`` of rank 1 per input channel (exact at m = 1), ``b`` of
    rank 4 with equal singular values (exact at m = 4, far off below), and a random head."""

    def __init__(self) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(0)
        self.a = nn.Conv2d(16, 16, 3, padding=1, bias=False)
        self.b = nn.Conv2d(16, 16, 3, padding=1, bias=False)
        self.pool = nn.AdaptiveAvgPool2d(2)
        self.head = nn.Linear(64, 10)
        with torch.no_grad():
            for conv, rank in ((self.a, 1), (self.b, 4)):
                for channel in range(16):
                    kernel = _ranked(generator, rank, 16, 9).reshape(16, 3, 3)
                    conv.weight[:, channel] = kernel
            self.head.weight.copy_(torch.randn(10, 64, generator=generator))
            self.head.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits, N×10."""
        features = torch.relu(self.b(torch.relu(self.a(x))))
        return self.head(torch.flatten(self.pool(features), 1))


@pytest.fixture(scope="module")
def two_convs() -> tuple[TwoConvs, Split, Sensitivity]:
    """The model, 900 Gaussian inputs split 300/400/200, and its sensitivity table."""
    model = TwoConvs().eval()
    inputs = torch.randn(900, 16, 8, 8, generator=torch.Generator().manual_seed(1))
    split = apply_split(Data(inputs, None, "gaussian"), SplitSizes(300, 400, 200))
    return model, split, sensitivity(model, split, calibration=300)


def test_each_rung_equals_that_layer_swapped_alone_and_reconstructed(
    two_convs: tuple[TwoConvs, Split, Sensitivity],
) -> None:
    """Every rung's validation figures are those of the model with that one layer swapped
    at that m, reconstructed by ``reconstruct`` on the same samples and measured whole."""
    model, split, table = two_convs
    assert table.complete and table.evaluated == 400 and table.calibration == 300
    assert [rung.depth_multiplier for rung in table.rungs_of("b")] == [1, 2, 4, 5]
    for rung in table.rungs:
        swapped = swap_convs(
            model, rung.name, depth_multiplier={rung.name: rung.depth_multiplier}
        ).model
        reconstruct(model, swapped, [rung.name], split.fit, calibration=300)
        alone = measure_fidelity(model, swapped, split.validation, layers=[rung.name])
        assert rung.output_error == pytest.approx(alone.output_error, rel=1e-4, abs=1e-6)
        assert rung.agreement == pytest.approx(alone.agreement, abs=1 / 400)
    # Closed form: b at m = 4 keeps 4 of 9 taps' worth of depthwise filters per channel.
    (b4,) = [rung for rung in table.rungs_of("b") if rung.depth_multiplier == 4]
    assert b4.params_saved == 16 * 16 * 9 - (16 * 4 * 9 + 16 * 4 * 16)
    assert table.rungs_of("b")[0].output_error > 0.3 > b4.output_error


def test_agreement_budget_chooses_per_layer_m_that_beats_every_single_m(
    two_convs: tuple[TwoConvs, Split, Sensitivity],
) -> None:
    """agreement:0.99 picks a at m = 1 and b at m = 4: more MACs saved than any subset of the
    layers at one shared m that keeps 99% (each of those measured whole here)."""
    model, split, table = two_convs
    chosen = frontier(table, "agreement:0.99", model=model, data=split)
    point = chosen.point
    assert point is not None and point.plan == {"a": 1, "b": 4}
    assert point.measured and point.agreement is not None and point.agreement >= 0.99
    assert describe_multipliers(point.plan) == "per-layer m 1–4"
    # Bisection: not every point of the frontier was measured.
    assert sum(p.measured for p in chosen.points) < len(chosen.points)
    measure = plan_measurer(model, split)
    saved = {(rung.name, rung.depth_multiplier): rung.macs_saved for rung in table.rungs}
    best_single = 0
    for m in (1, 2, 4, 5):
        for size in (1, 2):
            for names in itertools.combinations(("a", "b"), size):
                plan = tuple((name, m) for name in names)
                measured = measure(FrontierPoint(plan, 0, 0, 0.0))
                assert measured.agreement is not None
                if measured.agreement >= 0.99:
                    best_single = max(best_single, sum(saved[step] for step in plan))
    assert chosen.original.macs - point.macs > best_single


def test_macs_and_params_budgets_reach_their_ratio_with_the_least_loss(
    two_convs: tuple[TwoConvs, Split, Sensitivity],
) -> None:
    """macs:X and params:X: the first frontier point with X× fewer, measured; out of reach
    is a SelectionError saying the best there is."""
    model, split, table = two_convs
    for budget, ratio in (("macs:1.5", "mac_ratio"), ("params:1.5", "param_ratio")):
        chosen = frontier(table, budget, model=model, data=split)
        point = chosen.point
        assert point is not None and point.measured
        assert getattr(chosen, ratio)(point) >= 1.5
        earlier = chosen.points[: chosen.chosen]
        assert all(getattr(chosen, ratio)(p) < 1.5 for p in earlier)
    from sepconv_tui.model.vocabulary.analysis import SelectionError

    with pytest.raises(SelectionError, match=r"out of reach: the most the frontier gives is"):
        frontier(table, "macs:50", model=model, data=split)


def test_the_frontier_path_only_ever_saves_more(
    two_convs: tuple[TwoConvs, Split, Sensitivity],
) -> None:
    """Each step swaps a layer or lowers its m: the MACs fall at every step, from nothing
    swapped to every layer at its lowest rung."""
    _model, _split, table = two_convs
    points = frontier_path(table)
    assert points[0].multipliers == () and points[0].macs == table.original.macs
    assert all(later.macs < earlier.macs for earlier, later in itertools.pairwise(points))
    assert points[-1].plan == {"a": 1, "b": 1}


def test_max_time_leaves_rungs_marked_not_measured(
    two_convs: tuple[TwoConvs, Split, Sensitivity],
) -> None:
    """A time limit that runs out marks the rungs left, says so, and the next call measures
    only those."""
    model, split, _table = two_convs
    from sepconv_tui.model.budget.sensitivity import measure_sensitivity
    from sepconv_tui.model.describe.trace import analyze_model

    analysis = analyze_model(model, input_shape=(1, 16, 8, 8), select="none")
    partial = measure_sensitivity(model, analysis, split, max_time=1e-9)
    assert partial.unmeasured == len(partial.rungs) > 0
    assert any("not measured" in note for note in partial.notes)
    finished = measure_sensitivity(model, analysis, split, previous=partial)
    assert finished.complete


def _signals(count: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Noisy sine bursts, 1×128, whose class is the frequency band (3 classes)."""
    generator = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 3, (count,), generator=generator)
    frequency = (0.04 + 0.05 * labels + 0.01 * torch.rand(count, generator=generator))[:, None]
    phase = 2 * math.pi * torch.rand(count, 1, generator=generator)
    time = torch.arange(128.0)[None, :]
    clean = torch.sin(2 * math.pi * frequency * time + phase)
    noisy = clean + 0.4 * torch.randn(count, 128, generator=generator)
    return noisy[:, None, :], labels


def _signal_cnn() -> nn.Module:
    """A small 1-D CNN: a one-channel 15-tap conv first, two wider ones after."""
    return nn.Sequential(
        nn.Conv1d(1, 16, 15, padding=7),
        nn.ReLU(),
        nn.MaxPool1d(2),
        nn.Conv1d(16, 32, 7, padding=3),
        nn.ReLU(),
        nn.MaxPool1d(2),
        nn.Conv1d(32, 32, 5, padding=2),
        nn.ReLU(),
        nn.AdaptiveAvgPool1d(1),
        nn.Flatten(),
        nn.Linear(32, 3),
    )


@pytest.fixture(scope="module")
def signal_cnn() -> tuple[nn.Module, Split]:
    """The 1-D CNN trained here (seeded, a few seconds) and 1,500 new signals to split."""
    torch.manual_seed(0)
    model = _signal_cnn()
    inputs, labels = _signals(2000, seed=0)
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    for step in range(300):
        batch = slice((step * 64) % 1936, (step * 64) % 1936 + 64)
        loss = nn.functional.cross_entropy(model(inputs[batch]), labels[batch])
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    model.eval()
    new_inputs, new_labels = _signals(1500, seed=1)
    split = apply_split(Data(new_inputs, new_labels, "signals"), SplitSizes(300, 600, 600))
    with torch.no_grad():
        accuracy = float((model(split.test.inputs).argmax(1) == split.test.labels).float().mean())
    assert accuracy > 0.9, f"the signal CNN did not learn its task ({accuracy:.1%})"
    return model, split


def test_outside_check_on_a_1d_cnn_trained_here(signal_cnn: tuple[nn.Module, Split]) -> None:
    """On a model the tool never fitted: the one-channel conv is named as a rank-m
    approximation with its energy rule's m; agreement:0.98 chooses per-layer m on validation,
    and the same swap, rebuilt and reconstructed, holds on the test split (its Wilson
    interval reaches 0.98)."""
    model, split = signal_cnn
    table = sensitivity(model, split, calibration=300)
    assert table.complete
    (note,) = [note for note in table.notes if note.startswith("0 has one input channel")]
    assert "rank-m approximation of its 16 filters" in note and "energy rule gives m =" in note
    chosen = frontier(table, "agreement:0.98", model=model, data=split)
    point = chosen.point
    assert point is not None and point.multipliers and point.agreement is not None
    assert point.agreement >= 0.98
    plan = point.plan
    swapped = swap_convs(model, ",".join(plan), depth_multiplier=plan).model
    reconstruct(model, swapped, list(plan), split.fit, calibration=300)
    test = measure_fidelity(model, swapped, split.test, layers=list(plan))
    assert test.agreement_interval is not None and test.agreement_interval[1] >= 0.98
    assert chosen.mac_ratio(point) is not None and chosen.mac_ratio(point) > 1.2  # type: ignore[operator]


def _digits(digits: dict[str, Any]) -> list[str]:
    """SOURCE, --weights and --data of the digits CNN."""
    return [digits["source"], "--weights", str(digits["weights"]), "--data", str(digits["data"])]


def test_model_sensitivity_prints_the_table_and_its_json(
    digits: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    """``model --data D --sensitivity``: the layer × m table, and in JSON each rung with the
    keys DESIGN.md names."""
    code, out, err = run_cli(capsys, "model", *_digits(digits), "--sensitivity")
    assert code == 0, err
    assert "Sensitivity: each candidate swapped alone at each m" in out
    code, out, err = run_cli(capsys, "model", *_digits(digits), "--sensitivity", "--json")
    assert code == 0, err
    rows = json.loads(out)["sensitivity"]
    names = {row["name"] for row in rows}
    assert names == {"features.0", "features.3", "features.7", "features.10"}
    keys = {"name", "depth_multiplier", "agreement", "output_error", "macs_saved"}
    assert all(keys | {"params_saved", "seconds_saved"} <= set(row) for row in rows)
    assert all(row["measured"] and row["output_error"] >= 0 for row in rows)


def test_macs_budget_on_digits_reaches_x_with_per_layer_m(
    digits: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    """``--swap macs:3 --data D``: each layer's m chosen on the frontier (reusing the kept
    sensitivity), the model X times lighter, the choice said on stderr without a dict."""
    code, out, err = run_cli(capsys, "model", *_digits(digits), "--swap", "macs:3", "--json")
    assert code == 0, err
    values = json.loads(out)
    assert values["mac_ratio"] >= 3
    assert values["frontier"]["budget"] == "macs:3"
    chosen = values["frontier"]["points"][values["frontier"]["chosen"]]
    assert chosen["measured"] and chosen["depth_multiplier"]
    assert "macs:3 →" in err and "{" not in err.split("[")[0]


def test_agreement_budget_swap_on_digits_keeps_the_table_beside_the_outputs(
    digits: dict[str, Any], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """``swap --swap agreement:0.99 --data D --out DIR``: the plan records each layer's m, the
    test figures are reported with the validation figure that chose them, and DIR holds
    sensitivity.json."""
    out_dir = tmp_path / "out"
    code, out, err = run_cli(
        capsys, "swap", *_digits(digits), "--swap", "agreement:0.99", "--out", str(out_dir)
    )
    assert code == 0, err
    assert "Chosen on validation: agreement" in out
    plan = json.loads((out_dir / "plan.json").read_text())
    assert plan["swapped"]
    saved = json.loads((out_dir / "sensitivity.json").read_text())
    assert saved["key"]["source"] == digits["source"] and saved["sensitivity"]
    assert "{'" not in out


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("--swap", "macs:0"), "macs:X needs a number X above 1"),
        (("--swap", "macs:abc"), "macs:X needs a number X above 1"),
        (("--swap", "params:-2"), "params:X needs a number X above 1"),
        (("--swap", "macs:100"), "out of reach: the most the frontier gives is"),
        (("--sensitivity",), "--sensitivity needs --data DATA"),
        (("--max-time", "5"), "--max-time needs --data DATA"),
        (("--swap", "agreement:0.9"), "needs --data DATA"),
    ],
)
def test_bad_budgets_exit_2_with_one_line(
    digits: dict[str, Any],
    capsys: pytest.CaptureFixture[str],
    extra: tuple[str, ...],
    message: str,
) -> None:
    """Malformed, unreachable or data-less budgets: exit 2, one line, no traceback."""
    code, _out, err = run_cli(
        capsys, "model", digits["source"], "--weights", str(digits["weights"]), *extra
    )
    assert code == 2
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0], err


def test_macs_budget_without_data_chooses_by_the_weights_and_says_so(
    digits: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    """``--swap macs:2`` without --data: per-layer m from each layer's SVD weight error,
    nothing measured, and a note saying so."""
    code, out, err = run_cli(
        capsys, "model", digits["source"], "--weights", str(digits["weights"]),
        "--swap", "macs:2", "--json",
    )  # fmt: skip
    assert code == 0, err
    assert json.loads(out)["mac_ratio"] >= 2
    assert "chosen without data, by each layer's SVD weight error" in err
    assert "sum of the layers' SVD weight errors" in err and "single-layer" not in err


def test_the_frontier_reply_crosses_the_wire_as_it_went(
    two_convs: tuple[TwoConvs, Split, Sensitivity],
) -> None:
    """The app's g reply (the table and its frontier) survives the child's JSON lines."""
    from sepconv_tui.ipc.wire import decode, encode
    from sepconv_tui.workers.model_messages import FrontierMeasured

    _model, _split, table = two_convs
    reply = FrontierMeasured(table, frontier(table))
    assert decode(encode(reply)) == reply


def test_an_unreachable_budget_leaves_no_output_folder(
    digits: dict[str, Any], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """swap with an X out of reach exits 2 and leaves no --out folder behind (the sensitivity
    table it measured stays in the cache, not in a folder the run made)."""
    out_dir = tmp_path / "never"
    code, _out, err = run_cli(
        capsys,
        "swap",
        digits["source"],
        "--weights",
        str(digits["weights"]),
        "--data",
        str(digits["data"]),
        "--swap",
        "macs:100",
        "--out",
        str(out_dir),
    )
    assert code == 2 and "out of reach" in err
    assert not out_dir.exists()


def test_fidelity_with_a_budget_measures_the_swap_it_chose(
    digits: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    """fidelity --swap agreement:X chose on reconstructed points, so it measures the chosen swap
    reconstructed: its test agreement is near X (the SVD swap alone read about 10%), and a note
    on stderr says which swap the figures are."""
    code, out, err = run_cli(
        capsys,
        "fidelity",
        digits["source"],
        "--weights",
        str(digits["weights"]),
        "--data",
        str(digits["data"]),
        "--swap",
        "agreement:0.99",
        "--json",
    )
    assert code == 0, err
    assert "and so is the swap measured below" in err
    measured = json.loads(out)
    assert measured["swapped"]["agreement"] > 0.95 and measured["validation"]["agreement"] >= 0.99
