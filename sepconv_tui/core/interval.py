"""How far a measured proportion can be trusted: the Wilson score interval, and the sample size
that can tell a budget apart from 100%.

A share of n samples (agreement, accuracy) is a binomial proportion; its 95% Wilson score
interval (Wilson 1927) stays inside [0, 1] and keeps its coverage at shares near 1, where the
normal approximation collapses to a point. Pure arithmetic: no torch.
"""

from __future__ import annotations

import math

#: The two-sided 95% quantile of the standard normal distribution.
Z95 = 1.959963984540054


def wilson_interval(successes: int, total: int, z: float = Z95) -> tuple[float, float] | None:
    """The Wilson score interval of ``successes`` out of ``total`` (None when ``total`` is 0)."""
    if total <= 0:
        return None
    if not 0 <= successes <= total:
        raise ValueError(f"successes must be 0–{total}, got {successes}")
    share = successes / total
    z2 = z * z
    centre = (share + z2 / (2 * total)) / (1 + z2 / total)
    half = (z / (1 + z2 / total)) * math.sqrt(
        share * (1 - share) / total + z2 / (4 * total * total)
    )
    # The exact ends at 0 and n successes, without rounding drift past them.
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == total else min(1.0, centre + half)
    return (low, high)


def samples_to_resolve(budget: float, z: float = Z95) -> int:
    """The fewest samples whose 95% interval, with no failure at all, stays at or above
    ``budget``: n / (n + z²) ≥ X ⟺ n ≥ z²·X / (1 − X) (about 3.8 / (1 − X))."""
    if budget <= 0:
        return 1
    if budget >= 1:
        raise ValueError(f"a budget below 1 can be resolved, got {budget}")
    return max(1, math.ceil(z * z * budget / (1 - budget) - 1e-9))
