"""Distillation that runs to its gain, checked on a model the tool never saw: a small 1-D CNN
trained here on generated signals (which of 8 templates hides in noise, and where). Swapped at
m = 1, its first conv (one input channel, 13 taps) becomes a rank-1 filter bank that least
squares cannot repair and training can; longer training keeps improving it. Also the rules
that make it so: the validation loss chooses, a minimum budget, a fixed check interval, and a
warm-up then cosine learning rate."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch
from torch import nn

from sepconv_tui.model.measure.data import Data
from sepconv_tui.model.recovery import distill as distill_module
from sepconv_tui.model.recovery.distill import (
    CHECK_EVERY,
    distill,
    minimum_budget,
    schedule_factor,
    warmup_steps,
)
from sepconv_tui.model.recovery.reconstruction import reconstruct
from sepconv_tui.model.recovery.recover import recover
from sepconv_tui.model.swapping.swap import swap_convs

LENGTH, CLASSES, WIDTH = 48, 8, 12


def signals(count: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``count`` N×1×LENGTH signals, each unit noise with one of CLASSES smooth templates
    (fixed, seeded) added at a random place, and the template's index as its label."""
    shapes = nn.functional.avg_pool1d(
        torch.randn(CLASSES, 1, WIDTH + 4, generator=torch.Generator().manual_seed(0)), 5, 1
    )[:, 0, :WIDTH]
    shapes = 8 * shapes / shapes.norm(dim=1, keepdim=True)
    generator = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, CLASSES, (count,), generator=generator)
    inputs = torch.randn(count, LENGTH, generator=generator)
    starts = torch.randint(0, LENGTH - WIDTH, (count,), generator=generator)
    for index in range(count):
        start = int(starts[index])
        inputs[index, start : start + WIDTH] += shapes[labels[index]]
    return inputs[:, None, :], labels


class SignalNet(nn.Module):
    """Three 1-D convs (the first on one channel) with pooling, a max over time, a linear head."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv1d(1, 12, 13, padding=6)
        self.conv2 = nn.Conv1d(12, 16, 5, padding=2)
        self.conv3 = nn.Conv1d(16, 16, 5, padding=2)
        self.head = nn.Linear(16, CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits, N×CLASSES."""
        x = nn.functional.max_pool1d(torch.relu(self.conv1(x)), 2)
        x = nn.functional.max_pool1d(torch.relu(self.conv2(x)), 2)
        return self.head(torch.relu(self.conv3(x)).amax(-1))  # type: ignore[no-any-return]


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> Iterator[None]:
    """One torch thread: these tensors are small, and on a loaded machine a second thread
    waits on the first far longer than it saves."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def signal_cnn() -> tuple[nn.Module, Data]:
    """The CNN trained here (seeded, 12 passes over 1,500 signals) and 1,000 other signals."""
    torch.manual_seed(0)
    inputs, labels = signals(1500, seed=1)
    model = SignalNet()
    optimizer = torch.optim.Adam(model.parameters(), 3e-3)
    for _epoch in range(12):
        order = torch.randperm(len(inputs))
        for start in range(0, len(inputs), 64):
            batch = order[start : start + 64]
            loss = nn.functional.cross_entropy(model(inputs[batch]), labels[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    model.eval()
    test_inputs, test_labels = signals(1000, seed=99)
    with torch.no_grad():
        accuracy = float((model(test_inputs).argmax(1) == test_labels).double().mean())
    assert accuracy > 0.7, f"the CNN should learn the task, got {accuracy:.1%}"
    return model, Data(test_inputs, test_labels, "generated signals")


def test_default_distillation_reaches_a_long_patience_run_on_a_1d_cnn(
    signal_cnn: tuple[nn.Module, Data],
) -> None:
    """Every conv at m = 1: distillation with the default patience, checks and budget ends
    past step 0, beats reconstruction on the test split, and comes within 2 points of a
    patience-1000 run of the same length; the curve is the checks, every CHECK_EVERY steps."""
    model, data = signal_cnn
    runs = {
        patience: recover(
            swap_convs(model, "all"),
            data,
            mode="distill",
            steps=1000,
            calibration=128,
            **({} if patience is None else {"patience": patience}),
        )
        for patience in (None, 1000)
    }
    default, long = runs[None], runs[1000]
    _svd, reconstructed, distilled = default.stages
    run = default.distillation
    assert run is not None and run.best_step > 0
    assert reconstructed.agreement is not None and distilled.agreement is not None
    assert distilled.agreement > reconstructed.agreement + 0.02
    assert distilled.output_error < reconstructed.output_error
    assert distilled.agreement_interval is not None  # reported with its Wilson interval
    assert long.final.agreement is not None
    assert distilled.agreement >= long.final.agreement - 0.02
    steps = [point.step for point in run.curve]
    assert steps == list(range(0, run.steps + 1, CHECK_EVERY))
    assert run.best_loss == min(point.loss for point in run.curve)
    assert run.curve[-1].loss < run.curve[0].loss
    written = default.to_dict()["distill"]
    assert written["curve"] == [
        {"step": point.step, "loss": point.loss, "agreement": point.agreement}
        for point in run.curve
    ]
    assert written["best_validation_loss"] == run.best_loss


def test_no_check_counts_against_the_patience_before_the_minimum_budget(
    signal_cnn: tuple[nn.Module, Data],
) -> None:
    """A learning rate that wrecks the student: no check beats step 0, yet with a patience of
    1 it trains until the minimum budget (here 300 steps: 3 passes of 9 steps are fewer), and
    the first check from there stops it with step 0's weights back."""
    model, data = signal_cnn
    fit, validation = data.head(600), data.tail(200)
    swapped = swap_convs(model, "all").model.eval()
    reconstruct(model, swapped, ["conv1", "conv2", "conv3"], fit, calibration=128)
    start = {key: value.clone() for key, value in swapped.state_dict().items()}
    wrecked = distill(
        model, swapped, fit, validation, steps=2000, lr=5.0, patience=1, check_every=25
    )
    assert wrecked.min_steps == 300 == minimum_budget(2000, 600 // 64)
    assert wrecked.stopped == "patience" and wrecked.steps == 300 and wrecked.best_step == 0
    assert [point.step for point in wrecked.curve] == list(range(0, 301, 25))
    for key, value in swapped.state_dict().items():
        assert torch.equal(value, start[key]), key


def test_the_minimum_budget_is_three_passes_or_300_steps_within_the_ceiling() -> None:
    """max(3 passes, 300 steps), never past the step ceiling."""
    assert minimum_budget(2000, 9) == 300
    assert minimum_budget(2000, 150) == 450
    assert minimum_budget(200, 9) == 200
    assert minimum_budget(400, 150) == 400


def test_the_learning_rate_warms_up_then_follows_a_cosine_over_the_ceiling(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """5% of the ceiling (at most 100 steps) of linear warm-up to the peak, then half a
    cosine towards 0 at the ceiling; distill steps the optimiser along it."""
    steps = 2000
    warmup = warmup_steps(steps)
    assert warmup == 100 and warmup_steps(10) == 1 and warmup_steps(100_000) == 100
    factors = [schedule_factor(step, steps) for step in range(steps)]
    assert factors[0] == pytest.approx(1 / warmup) and factors[warmup - 1] == pytest.approx(1)
    assert all(a < b for a, b in zip(factors[:warmup], factors[1:warmup], strict=False))
    after = factors[warmup - 1 :]
    assert all(a >= b for a, b in zip(after, after[1:], strict=False))
    assert factors[warmup + (steps - warmup) // 2] == pytest.approx(0.5, abs=1e-3)
    assert factors[-1] < 1e-5

    asked: list[tuple[int, int]] = []

    def spy(step: int, ceiling: int) -> float:
        asked.append((step, ceiling))
        return schedule_factor(step, ceiling)

    monkeypatch.setattr(distill_module, "schedule_factor", spy)
    model = nn.Sequential(nn.Conv1d(1, 4, 3, padding=1), nn.Flatten(), nn.Linear(32, 3)).eval()
    swapped = swap_convs(model, "all").model.eval()
    data = Data(torch.randn(32, 1, 8), None, "noise")
    distill(model, swapped, data, steps=12)
    # LambdaLR asks once when built (step 0) and after each of the 12 optimiser steps.
    assert asked == [(step, 12) for step in range(13)]


def test_the_validation_loss_chooses_not_agreement_ties(
    signal_cnn: tuple[nn.Module, Data],
) -> None:
    """The best weights are the lowest validation loss on the curve, whatever the agreement."""
    model, data = signal_cnn
    fit, validation = data.head(600), data.tail(200)
    swapped = swap_convs(model, "all").model.eval()
    reconstruct(model, swapped, ["conv1", "conv2", "conv3"], fit, calibration=128)
    run = distill(model, swapped, fit, validation, steps=100, check_every=10)
    best = min(run.curve, key=lambda point: point.loss)
    assert run.best_step == best.step and run.best_agreement == best.agreement
    assert set(run.to_dict()) >= {"curve", "best_validation_loss", "min_steps", "best_step"}
