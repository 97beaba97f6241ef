"""The fit / validation / test split and the Wilson intervals every share carries."""

from __future__ import annotations

import math

import pytest
import torch

from sepconv_tui.core.interval import samples_to_resolve, wilson_interval
from sepconv_tui.model.measure.data import Data, DataError
from sepconv_tui.model.measure.split import SplitSizes, apply_split, parse_split_size, plan_split


def numbered(count: int) -> Data:
    """``count`` samples whose single value is their index, labelled index mod 3."""
    inputs = torch.arange(count, dtype=torch.float32).view(count, 1, 1, 1)
    return Data(inputs, torch.arange(count) % 3, f"numbered {count}")


def test_reconstruction_fits_on_calibration_and_gives_the_rest_to_validation() -> None:
    """Reconstruction: fit = --calibration, test a fifth, validation the rest — all used."""
    sizes = plan_split(1797, calibration=256)
    assert sizes == SplitSizes(256, 1182, 359)
    assert sizes.fit + sizes.validation + sizes.test == 1797
    # Scarce data: fit gives way, validation keeps a fifth.
    assert plan_split(200, calibration=256) == SplitSizes(120, 40, 40)


def test_distillation_gets_a_larger_fit_split_and_the_same_test() -> None:
    """Distillation: a fifth each to validation and test, the rest (most) to fit; the test
    split is the same samples as reconstruction's, so f, r and R report on the same ones."""
    distill = plan_split(1797, calibration=256, distill=True)
    assert distill == SplitSizes(1079, 359, 359)
    assert distill.test == plan_split(1797, calibration=256).test


def test_overrides_by_count_and_by_fraction() -> None:
    """--test 500 and --validation 0.1 (a fraction of all the data)."""
    assert plan_split(1797, calibration=256, test=500) == SplitSizes(256, 1041, 500)
    assert plan_split(1000, calibration=256, distill=True, validation=0.1, test=300) == (
        SplitSizes(600, 100, 300)
    )
    assert parse_split_size("500", "test") == 500
    assert parse_split_size("0.25", "test") == 0.25
    for bad in ("0", "1.5", "-3", "x", "1.0"):
        with pytest.raises(DataError, match="the test split must be a count"):
            parse_split_size(bad, "test")


def test_the_splits_are_disjoint_contiguous_and_deterministic() -> None:
    """Every sample in exactly one split: fit first, test last; the same every time."""
    data = numbered(50)
    for distill in (False, True):
        sizes = plan_split(len(data), calibration=8, distill=distill)
        split = apply_split(data, sizes)
        parts = [split.fit, split.validation, split.test]
        values = [part.inputs.flatten().tolist() for part in parts]
        assert sorted(sum(values, [])) == list(range(50))  # disjoint, and nothing lost
        assert values[2] == list(range(50 - sizes.test, 50))  # test is the tail
        assert split.sizes == sizes
        again = apply_split(data, plan_split(len(data), calibration=8, distill=distill))
        assert torch.equal(again.validation.inputs, split.validation.inputs)
        assert split.test.labels is not None and split.test.labels.tolist() == [
            value % 3 for value in values[2]
        ]


def test_too_little_data_says_what_each_split_got_and_needs() -> None:
    """One line: each split's count and what it needs."""
    with pytest.raises(DataError) as caught:
        plan_split(2, calibration=256)
    message = str(caught.value)
    assert "fit got" in message and "validation" in message and "test" in message
    assert "fit got 0, validation 1, test 1;" in message
    assert "each needs ≥ 1 —" in message and "\n" not in message
    with pytest.raises(DataError, match=r"needs ≥ 2 \(one per process, 2 processes\)"):
        plan_split(5, calibration=256, minimum=2)
    with pytest.raises(DataError, match="fit got 0"):
        plan_split(10, calibration=4, distill=True, validation=5, test=5)


def test_wilson_interval_against_a_hand_computation() -> None:
    """39 of 40 (97.5%): centre and half-width from the formula, by hand."""
    z = 1.959963984540054
    n, k = 40, 39
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    low, high = wilson_interval(k, n)  # type: ignore[misc]
    assert (low, high) == pytest.approx((centre - half, centre + half))
    assert (round(low, 4), round(high, 4)) == (0.8712, 0.9956)  # published tables' figures
    # The example: 351 of 360 digits is 97.5% [95.3–98.7].
    low, high = wilson_interval(351, 360)  # type: ignore[misc]
    assert f"{100 * low:.1f}–{100 * high:.1f}" == "95.3–98.7"
    assert wilson_interval(0, 10)[0] == 0.0  # type: ignore[index]
    assert wilson_interval(10, 10)[1] == 1.0  # type: ignore[index]
    assert wilson_interval(0, 0) is None
    with pytest.raises(ValueError):
        wilson_interval(11, 10)


def test_samples_to_resolve_a_budget() -> None:
    """No disagreement in n samples: the interval's low end n / (n + z²) reaches X only from
    z²·X / (1 − X) samples on (about 3.8 / (1 − X))."""
    needed = samples_to_resolve(0.99)
    assert needed == 381
    assert wilson_interval(needed, needed)[0] >= 0.99  # type: ignore[index]
    assert wilson_interval(needed - 1, needed - 1)[0] < 0.99  # type: ignore[index]
    assert samples_to_resolve(0.9) == 35
