"""One deterministic split of the data into fit, validation and test, sized to use it well.

*fit* is what the least squares and distillation learn from, *validation* what choices are
made on (``agreement:X``, early stopping), *test* what every reported figure is measured on:
nothing reported was fitted or chosen on. The splits are contiguous runs of the data's fixed
order, fit first and test last (an image folder interleaves its classes, a .pt file is in the
user's order), so the same data and sizes always give the same samples.

Default sizes: test takes a fifth of the data whatever the mode, so ``f``, ``r`` and ``R``
report on the same samples. Reconstruction needs only ``calibration`` samples to fit, so the
rest is validation (at least a fifth when the data is scarce); distillation trains on what is
left after a fifth for validation too.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ..results.fidelity_result import SplitSizes
from .data import Data, DataError

#: The default share of the data each of test and (with distillation) validation take.
DEFAULT_SHARE = 0.2


@dataclass(frozen=True)
class Split:
    """The data's three disjoint parts."""

    fit: Data
    validation: Data
    test: Data

    @property
    def sizes(self) -> SplitSizes:
        """The sample count of each part."""
        return SplitSizes(len(self.fit), len(self.validation), len(self.test))


def _resolve(value: int | float | None, total: int, name: str) -> int | None:
    """A split size given as a count (≥ 1) or a fraction of ``total`` (0 < f < 1), or None."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise DataError(f"the {name} split must be a count ≥ 1 or a fraction in (0, 1)", field=name)
    if isinstance(value, float) and not value.is_integer():
        if not 0 < value < 1:
            raise DataError(
                f"the {name} split must be a count ≥ 1 or a fraction in (0, 1), got {value!r}",
                field=name,
            )
        return max(1, round(value * total))
    count = int(value)
    if count < 1:
        raise DataError(
            f"the {name} split must be a count ≥ 1 or a fraction in (0, 1), got {value!r}",
            field=name,
        )
    return count


def parse_split_size(text: str, name: str) -> int | float:
    """``--validation``/``--test`` text: a whole number ≥ 1 or a fraction in (0, 1)."""
    cleaned = text.strip()
    try:
        value = int(cleaned)
    except ValueError:
        try:
            share = float(cleaned)
        except ValueError:
            share = float("nan")
        if not 0 < share < 1:
            raise DataError(
                f"the {name} split must be a count ≥ 1 or a fraction in (0, 1), got {text!r}",
                field=name,
            ) from None
        return share
    if value < 1:
        raise DataError(
            f"the {name} split must be a count ≥ 1 or a fraction in (0, 1), got {text!r}",
            field=name,
        )
    return value


def plan_split(
    total: int,
    *,
    calibration: int,
    distill: bool = False,
    validation: int | float | None = None,
    test: int | float | None = None,
    minimum: int = 1,
) -> SplitSizes:
    """The sizes of fit, validation and test for ``total`` samples (see the module's rules).

    ``minimum``: the fewest samples any split may hold (a distributed run needs one per
    process). DataError, one line with each split's got and needs, when the data is too small.
    """
    given_validation = _resolve(validation, total, "validation")
    given_test = _resolve(test, total, "test")
    share = max(minimum, round(DEFAULT_SHARE * total))
    test_size = given_test if given_test is not None else share
    if distill:
        validation_size = given_validation if given_validation is not None else share
        fit_size = max(0, total - test_size - validation_size)
    elif given_validation is not None:
        validation_size = given_validation
        fit_size = max(0, min(calibration, total - test_size - validation_size))
    else:
        # Scarce data: fit gives way first, so validation keeps a fifth too.
        fit_size = max(0, min(calibration, total - test_size - share))
        validation_size = max(0, total - test_size - fit_size)
    sizes = SplitSizes(fit_size, validation_size, test_size)
    if (
        min(fit_size, validation_size, test_size) < minimum
        or fit_size + validation_size + (test_size) > total
    ):
        processes = f" (one per process, {minimum} processes)" if minimum > 1 else ""
        raise DataError(
            f"the data has {total:,} sample{'s' if total != 1 else ''}, too few for three "
            f"splits: fit got {fit_size:,}, validation {validation_size:,}, test "
            f"{test_size:,}; each needs ≥ {minimum}{processes} — give more data or smaller "
            "validation/test splits"
        )
    return sizes


def apply_split(data: Data, sizes: SplitSizes) -> Split:
    """``data`` cut into fit (first), validation and test (last) of ``sizes``."""
    fit = data.head(sizes.fit)
    rest = data.tail(len(data) - sizes.fit)
    validation = rest.head(sizes.validation)
    test = data.tail(sizes.test)
    return Split(
        replace(fit, description=f"{data.description}, fit {sizes.fit}"),
        replace(validation, description=f"{data.description}, validation {sizes.validation}"),
        replace(test, description=f"{data.description}, test {sizes.test}"),
    )
