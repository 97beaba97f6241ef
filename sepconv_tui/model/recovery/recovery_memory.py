"""What recovery will hold in memory, measured before it starts: per-sample activation sizes,
the bytes reconstruction keeps, the batch size two models fit at, and the refusal (naming the
calibration that fits) when reconstruction would exceed the memory budget."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

from ...core.budget import resolve_budget
from ..describe.candidates import eval_mode
from ..measure.data import DataError
from ..measure.distributed import LOCAL, Ranks

if TYPE_CHECKING:
    import torch
    from torch import nn


def model_device(model: nn.Module) -> torch.device:
    """The device ``model``'s parameters are on (the CPU for a model without any)."""
    import torch

    return next(iter(model.parameters()), torch.empty(0)).device


class SampleSizes(NamedTuple):
    """Elements one sample produces: at the named layers, at the largest module output, and
    over every module's output (what a backward pass keeps)."""

    targets: int
    largest: int
    total: int


def sample_sizes(model: nn.Module, layers: list[str], sample: torch.Tensor) -> SampleSizes:
    """What ``model`` produces per sample, measured with one forward of ``sample[:1]``."""
    import torch

    sizes: dict[str, int] = {}
    largest = [int(sample[:1].numel())]
    total = [0]
    modules = dict(model.named_modules())

    def measure(name: str) -> Callable[..., None]:
        def hook(_module: Any, _args: Any, output: Any) -> None:
            if isinstance(output, torch.Tensor):
                elements = int(output[:1].numel())
                largest[0] = max(largest[0], elements)
                total[0] += elements
                if name in layers and name not in sizes:
                    sizes[name] = elements

        return hook

    handles = [
        module.register_forward_hook(measure(name))
        for name, module in modules.items()
        if name  # the model itself: its output is its last module's
    ]
    try:
        with eval_mode(model), torch.no_grad():
            model(sample[:1].to(model_device(model)))
    finally:
        for handle in handles:
            handle.remove()
    return SampleSizes(sum(sizes.values()), largest[0], total[0])


def reconstruction_bytes(per_sample: SampleSizes, samples: int) -> int:
    """What reconstruction holds at its peak for ``samples`` calibration samples (float32):
    the original's outputs at every swapped conv, and in the swapped pass a block's input,
    its depthwise output and its output at the largest activation's size."""
    return 4 * samples * (per_sample.targets + 3 * per_sample.largest)


def _budget(budget_bytes: int | None, ranks: Ranks) -> int:
    """The memory budget on ``ranks``'s device, the smallest over the ranks (the default is
    a share of each one's free memory, which differs: batch sizes and refusals must not)."""
    budget = resolve_budget(budget_bytes, "cuda" if ranks.device.startswith("cuda") else "cpu")
    return ranks.smallest(budget)


def fit_batch_size(
    model: nn.Module,
    sample: torch.Tensor,
    requested: int,
    budget_bytes: int | None,
    ranks: Ranks = LOCAL,
    *,
    training: bool = False,
) -> int:
    """``requested``, or fewer samples per batch when two models' activations (kept for the
    backward pass when ``training``) would exceed the memory budget; DataError when not
    even one sample fits."""
    from ...core.memory import format_bytes

    sizes = sample_sizes(model, [], sample)
    # Both models' outputs, and in training the student's kept for backward with their grads.
    per_sample = 4 * (2 * sizes.largest + (3 * sizes.total if training else 0))
    budget = _budget(budget_bytes, ranks)
    fits = budget // max(per_sample, 1)
    if fits < 1:
        raise DataError(
            f"one sample's activations need {format_bytes(per_sample)}, over the "
            f"memory budget of {format_bytes(budget)}; raise the memory budget",
            field="batch_size",
        )
    return min(requested, fits)


def check_reconstruction_budget(
    original: nn.Module,
    layers: list[str],
    inputs: torch.Tensor,
    budget_bytes: int | None,
    ranks: Ranks = LOCAL,
    calibration: int | None = None,
) -> int:
    """The bytes reconstruction on ``inputs`` (this rank's calibration samples) will hold;
    DataError naming the ``--calibration`` that fits when that is over the budget (a quarter
    of the free RAM or GPU memory unless ``budget_bytes``)."""
    from ...core.memory import format_bytes

    per_sample = sample_sizes(original, layers, inputs)
    needed = reconstruction_bytes(per_sample, int(inputs.shape[0]))
    budget = _budget(budget_bytes, ranks)
    if needed > budget:
        one = reconstruction_bytes(per_sample, 1)
        fits = (budget // one) * ranks.world_size if one else 0
        asked = calibration if calibration is not None else int(inputs.shape[0])
        advice = (
            f"{fits:,} samples fit" if fits >= 1 else "not one sample fits: raise the memory budget"
        )
        raise DataError(
            f"reconstruction on {asked:,} calibration samples would hold {format_bytes(needed)} "
            f"(the original's outputs at {len(layers)} swapped convs over those samples"
            f"{' of this process' if ranks.distributed else ''}), over the memory budget of "
            f"{format_bytes(budget)}; {advice}",
            field="calibration",
        )
    return needed
