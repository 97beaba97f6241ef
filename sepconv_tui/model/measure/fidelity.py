"""Does the swapped model still compute what the original did? Measured on the user's data.

Both models run in eval mode on every sample; forward hooks on the swapped layers record, per
layer, the block's output error on the original's inputs (``local_error``: the block alone)
and inside the swapped network (``network_error``: what the earlier swaps add), beside the
final outputs' relative error, top-1 agreement for classifiers and both accuracies when the
data has labels. Sums of squares are accumulated over batches, so memory stays one batch's
activations. Agreement and accuracy carry their 95% Wilson interval over the samples
evaluated; under torchrun each rank measures its shard and the counts and sums are
all-reduced, so every rank holds the whole data's figures. torch is imported inside the
functions.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ...core.interval import wilson_interval
from ...progress import OnProgress, Progress
from ..describe.candidates import eval_mode
from ..results.fidelity_result import Fidelity, LayerFidelity
from .data import Data, check_labels
from .distributed import LOCAL, Ranks

if TYPE_CHECKING:
    import torch
    from torch import nn


#: Samples a batch holds unless the caller says otherwise.
DEFAULT_BATCH_SIZE = 64


class _SquaredErrors:
    """Σ‖a − b‖² and Σ‖b‖² accumulated over batches, in float64."""

    def __init__(self) -> None:
        self.difference = 0.0
        self.reference = 0.0

    def state(self) -> list[float]:
        """The two sums, to add over processes."""
        return [self.difference, self.reference]

    def restore(self, values: list[float]) -> None:
        """Set the two sums (after they were added over processes)."""
        self.difference, self.reference = values

    def add(self, approximation: torch.Tensor, reference: torch.Tensor) -> None:
        """Add one batch's outputs."""
        import torch

        reference64 = reference.detach().to(torch.float64)
        self.difference += float(
            (approximation.detach().to(torch.float64) - reference64).pow(2).sum()
        )
        self.reference += float(reference64.pow(2).sum())

    @property
    def relative(self) -> float | None:
        """√(Σ‖a − b‖² / Σ‖b‖²); None before any batch, inf against an all-zero reference."""
        if self.reference == 0:
            return None if self.difference == 0 else math.inf
        return math.sqrt(self.difference / self.reference)


def flat_output(output: Any) -> torch.Tensor:
    """A model's output as one N×D tensor: tuple and dict outputs concatenated in order."""
    import torch
    from torch.utils._pytree import tree_flatten

    leaves = [leaf for leaf in tree_flatten(output)[0] if isinstance(leaf, torch.Tensor)]
    if not leaves:
        raise TypeError("the model returned no tensor")
    batch = leaves[0].shape[0] if leaves[0].dim() else 1
    return torch.cat([leaf.reshape(batch, -1) for leaf in leaves], dim=1)


def classifier_outputs(output: Any) -> torch.Tensor | None:
    """The N×K logits of a classifier (a 2-D first output with K ≥ 2), else None."""
    import torch
    from torch.utils._pytree import tree_flatten

    leaves = [leaf for leaf in tree_flatten(output)[0] if isinstance(leaf, torch.Tensor)]
    if leaves and leaves[0].dim() == 2 and leaves[0].shape[1] >= 2:
        return leaves[0]
    return None


def _hook_outputs(
    model: nn.Module, names: list[str], record: Callable[[str, Any, Any], None]
) -> list[Any]:
    """Forward hooks calling ``record(name, input, output)`` on each named module."""
    modules = dict(model.named_modules())
    handles = []
    for name in names:

        def hook(_module: Any, args: Any, output: Any, name: str = name) -> None:
            record(name, args[0] if args else None, output)

        handles.append(modules[name].register_forward_hook(hook))
    return handles


def measure_fidelity(
    original: nn.Module,
    swapped: nn.Module,
    data: Data,
    *,
    layers: list[str] | None = None,
    weight_errors: Mapping[str, float] | None = None,
    depth_multipliers: Mapping[str, int] | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    stage: str | None = None,
    progress: OnProgress | None = None,
    measuring: str = "fidelity",
    ranks: Ranks = LOCAL,
) -> Fidelity:
    """``swapped`` against ``original`` on every sample of ``data``, in total and per layer.

    ``layers``: the swapped layers' names (default: every module of ``swapped`` that has a
    ``depthwise`` and a ``pointwise`` conv where ``original`` has a module of the same name).
    Both models run in eval mode and are left in the modes they had, on the device their
    parameters are on (each batch is moved there). Under a distributed ``ranks`` this rank
    measures its shard and the figures are summed over every rank. DataError when the labels
    exceed the model's classes. ``progress`` hears of each batch as stage "measure", labelled
    ``measuring`` (on the main rank, counting every rank's samples).
    """
    import torch

    device = next(iter(original.parameters()), torch.empty(0)).device
    whole, total = data, len(data)
    data = ranks.shard(data)

    originals = dict(original.named_modules())
    swapped_modules = dict(swapped.named_modules())
    if layers is None:
        layers = [
            name
            for name, module in swapped_modules.items()
            if hasattr(module, "depthwise") and hasattr(module, "pointwise") and name in originals
        ]
    local = {name: _SquaredErrors() for name in layers}
    network = {name: _SquaredErrors() for name in layers}
    outputs = _SquaredErrors()
    agree = correct_original = correct_swapped = 0
    classifier = True
    evaluated = 0
    # The original's output of each layer for the current batch, per call, for network_error.
    targets: dict[str, list[Any]] = {}
    seen: dict[str, int] = {}

    def record_original(name: str, x: Any, y: Any) -> None:
        # A clone: an in-place activation after the conv would change it under us.
        targets.setdefault(name, []).append(y.detach().clone())
        # .forward, not the call: the block's own hook below must see only the swapped pass.
        local[name].add(swapped_modules[name].forward(x), y)

    def record_swapped(name: str, _x: Any, z: Any) -> None:
        call = seen.get(name, 0)
        seen[name] = call + 1
        calls = targets.get(name, [])
        if call < len(calls) and calls[call].shape == z.shape:
            network[name].add(z, calls[call])

    handles = _hook_outputs(original, layers, record_original)
    handles += _hook_outputs(swapped, layers, record_swapped)
    try:
        with eval_mode(original), eval_mode(swapped), torch.no_grad():
            for batch, labels in data.batches(batch_size):
                targets.clear()
                seen.clear()
                inputs = batch.to(device)
                reference = original(inputs)
                approximation = swapped(inputs)
                outputs.add(flat_output(approximation), flat_output(reference))
                logits_original = classifier_outputs(reference)
                logits_swapped = classifier_outputs(approximation)
                if logits_original is None or logits_swapped is None:
                    classifier = False
                else:
                    top_original = logits_original.argmax(dim=1).cpu()
                    top_swapped = logits_swapped.argmax(dim=1).cpu()
                    agree += int((top_original == top_swapped).sum())
                    if labels is not None:
                        if evaluated == 0:  # once: the labels against the model's classes
                            check_labels(whole, logits_original.shape[1])
                        correct_original += int((top_original == labels).sum())
                        correct_swapped += int((top_swapped == labels).sum())
                evaluated += inputs.shape[0]
                if progress is not None and ranks.main:
                    done = min(evaluated * ranks.world_size, total)
                    progress(Progress("measure", done, total, measuring))
    finally:
        for handle in handles:
            handle.remove()
    if ranks.distributed:
        sums = [*outputs.state()]
        for name in layers:
            sums += local[name].state() + network[name].state()
        counts = [agree, correct_original, correct_swapped, evaluated, 0 if classifier else 1]
        summed = ranks.sum_floats(sums + [float(count) for count in counts])
        outputs.restore(summed[:2])
        for index, name in enumerate(layers):
            local[name].restore(summed[2 + 4 * index : 4 + 4 * index])
            network[name].restore(summed[4 + 4 * index : 6 + 4 * index])
        agree, correct_original, correct_swapped, evaluated, not_classifier = (
            round(value) for value in summed[len(sums) :]
        )
        classifier = not_classifier == 0
    labelled = classifier and data.labels is not None and evaluated > 0
    agreeing = classifier and evaluated > 0
    return Fidelity(
        evaluated=evaluated,
        output_error=outputs.relative or 0.0,
        agreement=agree / evaluated if agreeing else None,
        original_accuracy=correct_original / evaluated if labelled else None,
        swapped_accuracy=correct_swapped / evaluated if labelled else None,
        agreement_interval=wilson_interval(agree, evaluated) if agreeing else None,
        original_accuracy_interval=(
            wilson_interval(correct_original, evaluated) if labelled else None
        ),
        swapped_accuracy_interval=(
            wilson_interval(correct_swapped, evaluated) if labelled else None
        ),
        world_size=ranks.world_size,
        layers=tuple(
            LayerFidelity(
                name=name,
                depth_multiplier=(depth_multipliers or {}).get(name),
                weight_error=(weight_errors or {}).get(name),
                local_error=local[name].relative,
                network_error=network[name].relative,
            )
            for name in layers
        ),
        stage=stage,
    )
