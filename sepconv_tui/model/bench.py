"""Whole-model latency: real forward passes of a model and of its swapped copy.

The analysis (on meta, free) gives the swap and the shapes; the memory a run needs (both models'
fp32 weights, the input, and the largest layer's activations) is estimated from it and refused
over the budget before anything is allocated. Both models are then built for real (random
weights unless a state_dict is given: the values do not change the time), moved to the device,
and timed as ``bench`` times a single layer. torch is imported inside the functions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from math import prod
from pathlib import Path
from typing import Any

from ..core.budget import resolve_budget
from ..core.latency import (
    BenchError,
    Timing,
    check_device,
    time_forward,
)
from ..core.memory import format_bytes
from ..progress import OnProgress, Progress, ignore
from .analysis import ModelAnalysis, Selection
from .source import Shape

#: What a whole-model benchmark goes through, in order.
STAGES = (
    "analysing the model",
    "building both models",
    "timing the original",
    "timing the swapped model",
)
#: Seconds each model is timed for at least: a whole model's passes are long and noisy.
MODEL_MIN_RUN_TIME_S = 1.0
#: Live tensors in a forward beyond the current layer's (a residual branch, a concatenation).
ACTIVATION_HEADROOM = 3


@dataclass(frozen=True)
class ModelBenchResult:
    """The original and the swapped model timed on one device, beside their MAC ratio."""

    source: str
    input_shape: Shape
    selection: str
    swapped_count: int
    candidates: int
    depth_multiplier: int | dict[str, int]  # shared, or each swapped layer's
    device: str
    threads: int
    channels_last: bool
    original: Timing
    swapped: Timing
    mac_ratio: float | None
    param_ratio: float | None
    estimated_bytes: int
    budget_bytes: int
    torch_version: str

    @property
    def speed_ratio(self) -> float:
        """Original median ÷ swapped median ("× faster"; below 1 means slower)."""
        return self.original.median_s / self.swapped.median_s

    def to_dict(self) -> dict[str, Any]:
        """The JSON document of ``sepconv-tui bench --model --json``."""
        return {
            "source": self.source,
            "input_shape": list(self.input_shape),
            "swap": self.selection,
            "swapped_count": self.swapped_count,
            "candidates": self.candidates,
            "depth_multiplier": self.depth_multiplier,
            "original": asdict(self.original),
            "swapped": asdict(self.swapped),
            "speed_ratio": self.speed_ratio,
            "mac_ratio": self.mac_ratio,
            "param_ratio": self.param_ratio,
            "device": self.device,
            "threads": self.threads,
            "channels_last": self.channels_last,
            "memory": {"estimated_bytes": self.estimated_bytes, "budget_bytes": self.budget_bytes},
            "torch": self.torch_version,
            "conventions": {
                "median_s": "seconds per forward pass (batch included), median over timed blocks",
                "speed_ratio": "original median ÷ swapped median",
                "mac_ratio": "original MACs ÷ swapped MACs",
                "dtype": "float32, inference mode, eval()",
            },
        }

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ModelBenchResult:
        """The inverse of ``to_dict``."""
        return cls(
            source=values["source"],
            input_shape=tuple(values["input_shape"]),
            selection=values["swap"],
            swapped_count=values["swapped_count"],
            candidates=values["candidates"],
            depth_multiplier=values["depth_multiplier"],
            device=values["device"],
            threads=values["threads"],
            channels_last=values["channels_last"],
            original=Timing.from_dict(values["original"]),
            swapped=Timing.from_dict(values["swapped"]),
            mac_ratio=values["mac_ratio"],
            param_ratio=values["param_ratio"],
            estimated_bytes=values["memory"]["estimated_bytes"],
            budget_bytes=values["memory"]["budget_bytes"],
            torch_version=values["torch"],
        )


def estimate_model_bytes(analysis: ModelAnalysis) -> int:
    """fp32 bytes a run holds: both models' parameters, the input, and the activations.

    Activations: the largest layer's input, output and (when swapped) depthwise intermediate,
    ``ACTIVATION_HEADROOM`` times over for tensors a forward keeps alive (residuals, concats).
    Buffers (a norm's running statistics) are counted as the other ops' parameters once more.
    """
    weights = analysis.original.params + analysis.swapped.params + analysis.other.params
    largest = 0
    for layer in analysis.layers:
        if layer.input_shape is None or layer.output_shape is None:
            continue
        elements = prod(layer.input_shape) + prod(layer.output_shape)
        if layer.swap and layer.output_shape:
            batch = layer.input_shape[0] if len(layer.input_shape) == 4 else 1
            depthwise = layer.in_channels * layer.depth_multiplier * prod(layer.output_shape[-2:])
            elements += batch * depthwise
        largest = max(largest, elements)
    activations = prod(analysis.input_shape) + ACTIVATION_HEADROOM * largest
    return 4 * (weights + activations)


def check_model_budget(analysis: ModelAnalysis, budget_bytes: int) -> int:
    """The estimate for ``analysis``; BenchError when it exceeds ``budget_bytes``."""
    estimate = estimate_model_bytes(analysis)
    if estimate > budget_bytes:
        raise BenchError(
            f"refusing to allocate about {format_bytes(estimate)} (both models' weights, input "
            f"and activations in fp32): over the memory budget of {format_bytes(budget_bytes)}; "
            "use a smaller --input-shape or raise --memory-budget-mb"
        )
    return estimate


def benchmark_model(
    source: str,
    *,
    select: str | Selection = "saving",
    input_shape: Shape | None = None,
    depth_multiplier: int | Mapping[str, int] = 1,
    device: str = "cpu",
    threads: int | None = None,
    channels_last: bool = False,
    weights: str | Path | None = None,
    budget_bytes: int | None = None,
    min_run_time: float = MODEL_MIN_RUN_TIME_S,
    progress: OnProgress | None = None,
) -> ModelBenchResult:
    """Time real forward passes of ``source`` and of its swapped copy (fp32, inference).

    ``depth_multiplier``: one m, or each layer's (``{layer: m}``).
    """
    report = progress or ignore
    check_device(device)
    report(Progress("bench", 0, len(STAGES), STAGES[0]))
    from .trace import analyze_model

    analysis = analyze_model(
        source,
        input_shape=input_shape,
        select=select,
        depth_multiplier=depth_multiplier,
        weights=weights,
    )
    budget = resolve_budget(budget_bytes, device)
    estimate = check_model_budget(analysis, budget)

    import torch

    from .source import build_model
    from .swap import load_weights, swap_convs

    report(Progress("bench", 1, len(STAGES), STAGES[1]))
    torch.manual_seed(0)
    original = build_model(source, real=True).module
    if weights is not None:
        load_weights(original, weights)
    names = tuple(sorted(analysis.swapped_names))
    swapped = swap_convs(
        original,
        Selection("names", patterns=names),
        depth_multiplier=depth_multiplier,
        init="svd" if weights is not None else "random",
    ).model
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    shape = analysis.input_shape
    x = torch.randn(shape, device=device)
    if channels_last and len(shape) == 4:
        x = x.contiguous(memory_format=torch.channels_last)
    models = []
    for model in (original, swapped):
        model = model.to(device).eval()
        if channels_last:
            model = model.to(memory_format=memory_format)
        models.append(model)
    threads = threads if threads is not None else torch.get_num_threads()
    report(Progress("bench", 2, len(STAGES), STAGES[2]))
    original_timing = time_forward(models[0], x, threads, min_run_time)
    report(Progress("bench", 3, len(STAGES), STAGES[3]))
    swapped_timing = time_forward(models[1], x, threads, min_run_time)
    return ModelBenchResult(
        source=analysis.source,
        input_shape=shape,
        selection=str(select),
        swapped_count=len(names),
        candidates=len(analysis.candidates),
        depth_multiplier=analysis.multiplier_json(),
        device=device,
        threads=threads,
        channels_last=channels_last,
        original=original_timing,
        swapped=swapped_timing,
        mac_ratio=analysis.mac_ratio,
        param_ratio=analysis.param_ratio,
        estimated_bytes=estimate,
        budget_bytes=budget,
        torch_version=torch.__version__,
    )
