"""The trade-off a user picks from: the model's MACs against held-out agreement, measured.

Each candidate is first swapped alone (SVD start, then least-squares reconstruction on the
fit split) and measured on the validation split: what it costs in fidelity per MAC it
saves orders the candidates. Then the swap grows along that order, one layer at a time, and
every prefix is swapped, reconstructed and measured again, so each point of the curve is a
real model's figures, not a sum of single-layer estimates. ``agreement:X`` picks the largest
prefix whose validation agreement is ≥ X; what that choice reports is measured afterwards on
the test split, which nothing here touches. torch is imported inside the functions (by what
this calls).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...progress import OnProgress, Progress, ignore
from ..measure.distributed import LOCAL, Ranks
from ..measure.fidelity import DEFAULT_BATCH_SIZE, Fidelity, measure_fidelity
from ..measure.split import Split
from ..recovery.reconstruction import reconstruct
from ..recovery.settings import DEFAULT_CALIBRATION
from ..results.tradeoff_result import Tradeoff, TradeoffPoint
from ..vocabulary.analysis import ModelAnalysis

if TYPE_CHECKING:
    from torch import nn

#: Progress stages: "rank" per candidate, then "curve" per prefix.


def _score(fidelity: Fidelity) -> float:
    """Higher is better: the agreement for classifiers, else 1 − the output error."""
    if fidelity.agreement is not None:
        return fidelity.agreement
    return 1.0 - fidelity.output_error


def measure_tradeoff(
    original: nn.Module,
    analysis: ModelAnalysis,
    split: Split,
    *,
    candidates: list[str] | None = None,
    calibration: int = DEFAULT_CALIBRATION,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: OnProgress | None = None,
    ranks: Ranks = LOCAL,
    budget_bytes: int | None = None,
) -> Tradeoff:
    """Rank ``candidates`` (default: every candidate saving MACs) and measure each prefix.

    ``analysis`` gives each layer's MACs as is and as separable at its depth multiplier (the
    m every swap here uses); each swap is reconstructed on ``split.fit`` and measured on
    ``split.validation`` (``split.test`` is not touched), on ``ranks``'s device and ranks.
    """
    from ..swapping.swap import svd_blocks, with_blocks

    progress = progress if ranks.main and progress is not None else ignore
    fitting, held_out = split.fit, split.validation
    device = ranks.device
    rows = {layer.name: layer for layer in analysis.candidates}
    names = [
        name
        for name in (candidates if candidates is not None else list(rows))
        if name in rows and rows[name].mac_saving > 0
    ]
    multipliers = {name: rows[name].depth_multiplier for name in rows}
    first = next(iter(original.parameters()), None)
    original_device = first.device if first is not None else None
    # Each candidate factorised once (on the CPU); every model measured below is the original
    # with copies of some of these blocks (swap_convs would factorise every candidate again).
    original.cpu()
    blocks = {
        name: block.to(device) for name, block in svd_blocks(original, names, multipliers).items()
    }
    original.to(device)

    def measured(swap: list[str]) -> Fidelity:
        model = with_blocks(original, {name: blocks[name] for name in swap})
        if swap:
            reconstruct(
                original,
                model,
                swap,
                fitting,
                calibration=calibration,
                batch_size=batch_size,
                ranks=ranks,
                budget_bytes=budget_bytes,
            )
        return measure_fidelity(
            original, model, held_out, layers=swap, batch_size=batch_size, ranks=ranks
        )

    alone: dict[str, float] = {}
    for index, name in enumerate(names, start=1):
        alone[name] = _score(measured([name]))
        progress(Progress("rank", index, len(names), name))
    # Fidelity lost per MAC saved, cheapest first; ties keep the model's order.
    order = sorted(names, key=lambda name: (1.0 - alone[name]) / rows[name].mac_saving)
    baseline = analysis.with_swaps(set())
    points = [TradeoffPoint((), baseline.swapped.params, baseline.swapped.macs, 1.0, None, 0.0)]
    accuracy_original: float | None = None
    for count in range(1, len(order) + 1):
        prefix = order[:count]
        fidelity = measured(prefix)
        accuracy_original = fidelity.original_accuracy
        cost = analysis.with_swaps(set(prefix)).swapped
        points.append(
            TradeoffPoint(
                tuple(prefix),
                cost.params,
                cost.macs,
                fidelity.agreement,
                fidelity.swapped_accuracy,
                fidelity.output_error,
                fidelity.agreement_interval,
            )
        )
        progress(Progress("curve", count, len(order), prefix[-1]))
    if original_device is not None:
        original.to(original_device)
    if points and accuracy_original is not None:
        points[0] = TradeoffPoint((), points[0].params, points[0].macs, 1.0, accuracy_original, 0.0)
    if len(points) > 1 and points[1].agreement is None:
        points[0] = TradeoffPoint((), points[0].params, points[0].macs, None, None, 0.0)
    return Tradeoff(
        order=tuple(order),
        alone=alone,
        points=tuple(points),
        evaluated=len(held_out),
        calibration=min(calibration, len(fitting)),
        split=split.sizes,
    )
