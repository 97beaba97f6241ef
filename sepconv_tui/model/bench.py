"""Whole-model latency: real forward passes of a model and of its swapped copy.

The analysis (on meta, free) gives the swap and the shapes; the memory a run needs (both models'
fp32 weights, the input, and the largest layer's activations) is estimated from it and refused
over the budget before anything is allocated. Both models are then built for real (random
weights unless a state_dict is given: the values do not change the time), moved to the device,
and timed as ``bench`` times a single layer. torch is imported inside the functions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from math import prod
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.budget import resolve_budget
from ..core.compare import compare
from ..core.latency import (
    MIN_RUN_TIME_S,
    RUNTIMES,
    BenchError,
    BenchResult,
    RuntimeTiming,
    Timing,
    check_budget,
    check_device,
    runtimes_for_ranks,
    time_forward,
)
from ..core.memory import format_bytes
from ..core.spec import LayerSpec
from ..progress import OnProgress, Progress, ignore
from .analysis import ModelAnalysis, Selection
from .source import Shape

if TYPE_CHECKING:  # runtime starts child processes: the app, which shows results, needs it not
    from .runtime import Cancelled

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
    # With runtimes: each timed in its own process (original and swapped above are the
    # first's); empty when both models were timed here, in this process.
    runtimes: dict[str, RuntimeTiming] = field(default_factory=dict)
    notes: tuple[str, ...] = ()  # e.g. a runtime of --runtime all left out, and why

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
            "runtimes": {
                name: timing.to_dict("original", "swapped")
                for name, timing in self.runtimes.items()
            },
            "notes": list(self.notes),
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
            runtimes={
                name: RuntimeTiming.from_dict(timing, "original", "swapped")
                for name, timing in values.get("runtimes", {}).items()
            },
            notes=tuple(values.get("notes", ())),
        )


def _check_runtimes(runtimes: Sequence[str], device: str) -> None:
    """BenchError unless ``runtimes`` are known, at least one, and timed on the CPU."""
    unknown = [runtime for runtime in runtimes if runtime not in RUNTIMES]
    if unknown or not runtimes:
        raise BenchError(
            f"runtime must be one of {', '.join(RUNTIMES)}, got {', '.join(unknown) or 'none'}",
            field="runtime",
        )
    if device != "cpu":
        raise BenchError(
            "the runtimes are timed on the CPU (ONNX Runtime's CPU provider, eager beside "
            "it): use the cpu device",
            field="runtime",
        )
    if "onnxruntime" in runtimes:
        from .export import require_deploy

        require_deploy()


def conv_ranks(analysis: ModelAnalysis) -> frozenset[int]:
    """The spatial ranks of the model's convs (1, 2, 3): what channels-last can mean for it."""
    return frozenset(
        len(layer.kernel_size)
        for layer in analysis.layers
        if layer.kind == "conv" and layer.kernel_size is not None
    )


def _runtime_timing(runtime: str, answer: Mapping[str, Any], threads: int) -> RuntimeTiming:
    """A child's answer (``run_model_task``, ``run_layer_task``) as a RuntimeTiming."""
    return RuntimeTiming(
        runtime,
        Timing.from_dict(answer["before"]),
        Timing.from_dict(answer["after"]),
        answer["version"],
        threads,
    )


def _model_task(
    analysis: ModelAnalysis, weights: str | Path | None, threads: int, min_run_time: float
) -> dict[str, Any]:
    """What a runtime's child needs to build and time the original and its swap."""
    return {
        "kind": "model",
        "source": analysis.source,
        "weights": str(weights) if weights is not None else None,
        "names": sorted(analysis.swapped_names),
        "multipliers": {
            layer.name: layer.depth_multiplier for layer in analysis.candidates if layer.swap
        },
        "input_shape": list(analysis.input_shape),
        "threads": threads,
        "min_run_time": min_run_time,
    }


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
            rank = len(layer.kernel_size or (1, 1))  # spatial axes: 1-D, 2-D or 3-D convs
            batch = layer.input_shape[0] if len(layer.input_shape) == rank + 2 else 1
            spatial = prod(layer.output_shape[-rank:])
            depthwise = layer.in_channels * layer.depth_multiplier * spatial
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
            "use a smaller input shape or raise the memory budget"
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
    runtimes: Sequence[str] | None = None,
    cancelled: Cancelled | None = None,
) -> ModelBenchResult:
    """Time real forward passes of ``source`` and of its swapped copy (fp32, inference).

    ``depth_multiplier``: one m, or each layer's (``{layer: m}``). ``runtimes`` (of RUNTIMES):
    time on each, every one in a process of its own with the same threads, on the CPU; the
    progress stages are then "analysing the model" and "timing on RUNTIME" for each.
    ``cancelled`` is polled meanwhile (BenchCancelled when it turns true).
    """
    report = progress or ignore
    check_device(device)
    if runtimes is not None:
        _check_runtimes(runtimes, device)
    stages = len(STAGES) if runtimes is None else 1 + len(runtimes)
    report(Progress("bench", 0, stages, STAGES[0]))
    from .trace import analyze_model

    analysis = analyze_model(
        source,
        input_shape=input_shape,
        select=select,
        depth_multiplier=depth_multiplier,
        weights=weights,
    )
    notes: tuple[str, ...] = ()
    if runtimes is not None:
        runtimes, notes = runtimes_for_ranks(runtimes, conv_ranks(analysis))
    elif channels_last:
        runtimes_for_ranks(("eager_channels_last",), conv_ranks(analysis))
    budget = resolve_budget(budget_bytes, device)
    estimate = check_model_budget(analysis, budget)

    import torch

    if runtimes is not None:
        from .runtime import run_isolated

        threads = threads if threads is not None else torch.get_num_threads()
        task = _model_task(analysis, weights, threads, min_run_time)
        timings: dict[str, RuntimeTiming] = {}
        for index, runtime in enumerate(runtimes, start=1):
            report(Progress("bench", index, stages, f"timing on {runtime}"))
            answer = run_isolated({**task, "runtime": runtime}, cancelled=cancelled)
            timings[runtime] = _runtime_timing(runtime, answer, threads)
        first = timings[runtimes[0]]
        return ModelBenchResult(
            source=analysis.source,
            input_shape=analysis.input_shape,
            selection=str(select),
            swapped_count=len(analysis.swapped_names),
            candidates=len(analysis.candidates),
            depth_multiplier=analysis.multiplier_json(),
            device=device,
            threads=threads,
            channels_last=runtimes[0] == "eager_channels_last",
            original=first.before,
            swapped=first.after,
            mac_ratio=analysis.mac_ratio,
            param_ratio=analysis.param_ratio,
            estimated_bytes=estimate,
            budget_bytes=budget,
            torch_version=torch.__version__,
            runtimes=timings,
            notes=notes,
        )

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
    shape = analysis.input_shape
    x = torch.randn(shape, device=device)
    if channels_last:
        from .runtime import channels_last_input, to_channels_last

        x = channels_last_input(x)
    models = []
    for model in (original, swapped):
        model = model.to(device).eval()
        if channels_last:
            model = to_channels_last(model)
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


def benchmark_layer_runtimes(
    spec: LayerSpec,
    runtimes: Sequence[str],
    *,
    threads: int | None = None,
    budget_bytes: int | None = None,
    min_run_time: float = MIN_RUN_TIME_S,
    progress: OnProgress | None = None,
    cancelled: Cancelled | None = None,
) -> BenchResult:
    """One layer's standard conv and separable block timed on each of ``runtimes`` (CPU), each
    runtime in a process of its own with the same threads; the first runtime's timings are
    the result's ``standard`` and ``separable``, every one's are in ``runtimes``."""
    report = progress or ignore
    _check_runtimes(runtimes, "cpu")
    runtimes, notes = runtimes_for_ranks(runtimes, {spec.dims})
    budget = resolve_budget(budget_bytes, "cpu")
    estimate = check_budget(spec, budget)
    mac_ratio = compare(spec, method="analytic").mac_ratio
    assert mac_ratio is not None  # check_budget refused layers without output

    import torch

    from .runtime import run_isolated

    threads = threads if threads is not None else torch.get_num_threads()
    task = {"kind": "layer", "spec": spec.to_dict(), "threads": threads}
    task["min_run_time"] = min_run_time
    timings: dict[str, RuntimeTiming] = {}
    allocated = 0
    for index, runtime in enumerate(runtimes):
        report(Progress("bench", index, len(runtimes), f"timing on {runtime}"))
        answer = run_isolated({**task, "runtime": runtime}, cancelled=cancelled)
        timings[runtime] = _runtime_timing(runtime, answer, threads)
        allocated = max(allocated, int(answer["allocated_bytes"]))
    first = timings[runtimes[0]]
    return BenchResult(
        spec,
        "cpu",
        threads,
        first.before,
        first.after,
        mac_ratio,
        estimate,
        allocated,
        budget,
        torch.__version__,
        runtimes[0] == "eager_channels_last",
        timings,
        notes,
    )


# Per layer, measured: each candidate conv and its block alone, on a runtime ------------------

#: A row whose measured speed-up is below this fraction of its MAC ratio is marked.
FAR_BELOW = 0.5


@dataclass(frozen=True)
class LayerTiming:
    """One conv and its separable block, each alone at the conv's input, on one runtime."""

    conv: Timing
    block: Timing

    @property
    def speed_ratio(self) -> float:
        """Conv median ÷ block median ("× faster")."""
        return self.conv.median_s / self.block.median_s

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of one layer on one runtime."""
        return {
            "conv": asdict(self.conv),
            "block": asdict(self.block),
            "speed_ratio": self.speed_ratio,
        }

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> LayerTiming:
        """The inverse of ``to_dict``."""
        return cls(Timing.from_dict(dict(values["conv"])), Timing.from_dict(dict(values["block"])))


@dataclass(frozen=True)
class LayerRow:
    """A candidate conv: where it runs in the model, its MAC ratio, and its times by runtime."""

    name: str
    input_shape: Shape  # of its first call, as the analysis recorded it
    calls: int  # forward calls per pass of the model (a shared conv runs more than once)
    depth_multiplier: int
    mac_ratio: float | None  # conv MACs ÷ block MACs
    swap: bool  # picked by the selection
    timings: dict[str, LayerTiming]  # by runtime

    def saved_s(self, runtime: str) -> float:
        """Seconds a swap of this layer saves per model pass on ``runtime`` (every call)."""
        timing = self.timings[runtime]
        return self.calls * (timing.conv.median_s - timing.block.median_s)

    def far_below(self, runtime: str) -> bool:
        """True when the measured speed-up is below FAR_BELOW × the MAC ratio."""
        return (
            self.mac_ratio is not None
            and self.timings[runtime].speed_ratio < FAR_BELOW * self.mac_ratio
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of one row."""
        return {
            "name": self.name,
            "input_shape": list(self.input_shape),
            "calls": self.calls,
            "depth_multiplier": self.depth_multiplier,
            "mac_ratio": self.mac_ratio,
            "swap": self.swap,
            "runtimes": {
                runtime: {
                    **timing.to_dict(),
                    "saved_s": self.saved_s(runtime),
                    "far_below_mac_ratio": self.far_below(runtime),
                }
                for runtime, timing in self.timings.items()
            },
        }

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> LayerRow:
        """The inverse of ``to_dict``."""
        return cls(
            values["name"],
            tuple(values["input_shape"]),
            int(values["calls"]),
            int(values["depth_multiplier"]),
            values["mac_ratio"],
            bool(values["swap"]),
            {
                runtime: LayerTiming.from_dict(timing)
                for runtime, timing in values["runtimes"].items()
            },
        )


@dataclass(frozen=True)
class LayerBench:
    """Every candidate conv and its block timed alone, and the whole original, per runtime.

    Torch-free plain data: the app's child sends it as JSON (``to_dict``/``from_dict``), and
    ``predicted_speed_ratio`` answers "what would swapping these layers buy here" by arithmetic.
    """

    source: str
    input_shape: Shape
    selection: str
    threads: int
    rows: tuple[LayerRow, ...]
    model: dict[str, Timing]  # the whole original model's pass, by runtime
    versions: dict[str, str]  # by runtime, e.g. "onnxruntime 1.32.0"
    torch_version: str
    notes: tuple[str, ...] = ()  # e.g. a runtime of --runtime all left out, and why

    @property
    def runtimes(self) -> tuple[str, ...]:
        """The runtimes timed, in order."""
        return tuple(self.model)

    def convs_s(self, runtime: str) -> float:
        """The candidate convs' share of a model pass on ``runtime`` (each timed alone)."""
        return sum(row.calls * row.timings[runtime].conv.median_s for row in self.rows)

    def other_s(self, runtime: str) -> float:
        """The model's time outside its candidate convs: whole model minus its convs."""
        return self.model[runtime].median_s - self.convs_s(runtime)

    def predicted_latency_s(self, names: Sequence[str] | frozenset[str], runtime: str) -> float:
        """A pass's predicted time with ``names`` swapped: the whole model less what they save
        (what the Model tab's trade-off chart plots against agreement instead of MACs).

        When the convs timed alone add up to more than the whole model (each call alone pays a
        fixed cost the model pays once, or the machine was busy), the saving is scaled by
        whole ÷ (convs + other ≥ 0), so the prediction stays a positive time.
        """
        whole = self.model[runtime].median_s
        parts = max(self.other_s(runtime), 0.0) + self.convs_s(runtime)
        saved = sum(row.saved_s(runtime) for row in self.rows if row.name in names)
        return whole * (parts - saved) / parts if parts > 0 else whole

    def predicted_speed_ratio(self, names: Sequence[str] | frozenset[str], runtime: str) -> float:
        """Whole-model speed-up predicted for swapping ``names``: T ÷ (T − Σ time saved)."""
        return self.model[runtime].median_s / self.predicted_latency_s(names, runtime)

    @property
    def swapped_names(self) -> frozenset[str]:
        """The rows the selection picks."""
        return frozenset(row.name for row in self.rows if row.swap)

    def to_dict(self) -> dict[str, Any]:
        """The JSON document of ``sepconv-tui bench --model … --per-layer --json``."""
        return {
            "source": self.source,
            "input_shape": list(self.input_shape),
            "swap": self.selection,
            "threads": self.threads,
            "runtimes": {
                runtime: {
                    "version": self.versions[runtime],
                    "model": asdict(self.model[runtime]),
                    "convs_s": self.convs_s(runtime),
                    "other_s": self.other_s(runtime),
                    "predicted_speed_ratio": self.predicted_speed_ratio(
                        self.swapped_names, runtime
                    ),
                }
                for runtime in self.runtimes
            },
            "layers": [row.to_dict() for row in self.rows],
            "torch": self.torch_version,
            "notes": list(self.notes),
            "conventions": {
                "median_s": "seconds per forward pass, median over timed blocks",
                "speed_ratio": "conv median ÷ block median, each alone at the conv's input",
                "saved_s": "calls × (conv − block): what swapping the layer saves per pass",
                "other_s": "the whole model's median − every candidate conv's (× calls)",
                "predicted_speed_ratio": "model ÷ (model − Σ saved_s of the swapped layers); "
                "when other_s < 0, Σ saved_s is scaled by model ÷ convs_s",
                "far_below_mac_ratio": f"speed_ratio < {FAR_BELOW:g} × mac_ratio",
            },
        }

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> LayerBench:
        """The inverse of ``to_dict``."""
        runtimes = values["runtimes"]
        return cls(
            values["source"],
            tuple(values["input_shape"]),
            values["swap"],
            int(values["threads"]),
            tuple(LayerRow.from_dict(row) for row in values["layers"]),
            {name: Timing.from_dict(dict(entry["model"])) for name, entry in runtimes.items()},
            {name: entry["version"] for name, entry in runtimes.items()},
            values["torch"],
            tuple(values.get("notes", ())),
        )


def benchmark_layers(
    source: str,
    runtimes: Sequence[str] = ("eager",),
    *,
    select: str | Selection = "saving",
    input_shape: Shape | None = None,
    depth_multiplier: int | Mapping[str, int] = 1,
    threads: int | None = None,
    weights: str | Path | None = None,
    device: str = "cpu",
    budget_bytes: int | None = None,
    min_run_time: float = MIN_RUN_TIME_S,
    progress: OnProgress | None = None,
    cancelled: Cancelled | None = None,
) -> LayerBench:
    """Time every candidate conv of ``source`` and its block alone at the input the analysis
    recorded, and the whole original, on each runtime (a process each, the same threads).

    ``progress`` ("time") counts timed layers over every runtime; ``cancelled`` is
    polled meanwhile (BenchCancelled when it turns true: the child is killed).
    """
    check_device(device)
    _check_runtimes(runtimes, device)
    from .trace import analyze_model

    analysis = analyze_model(
        source,
        input_shape=input_shape,
        select=select,
        depth_multiplier=depth_multiplier,
        weights=weights,
    )
    check_model_budget(analysis, resolve_budget(budget_bytes, device))
    runtimes, notes = runtimes_for_ranks(runtimes, conv_ranks(analysis))
    candidates = [layer for layer in analysis.candidates if layer.input_shape is not None]
    if not candidates:
        raise BenchError(f"{analysis.source} has no swap candidate its forward calls")

    import torch

    from .runtime import run_isolated

    threads = threads if threads is not None else torch.get_num_threads()
    layers = [
        {
            "name": layer.name,
            "input_shape": list(layer.input_shape or ()),
            "multiplier": layer.depth_multiplier,
        }
        for layer in candidates
    ]
    task = {
        "kind": "layers",
        "source": analysis.source,
        "weights": str(weights) if weights is not None else None,
        "layers": layers,
        "input_shape": list(analysis.input_shape),
        "threads": threads,
        "min_run_time": min_run_time,
    }
    steps = len(layers) + 1
    answers: dict[str, dict[str, Any]] = {}
    for index, runtime in enumerate(runtimes):

        def step(child: Progress, offset: int = index * steps, name: str = runtime) -> None:
            if progress is not None:
                done, total = offset + child.done, len(runtimes) * steps
                progress(Progress("time", done, total, f"{name}: {child.label}"))

        answers[runtime] = run_isolated(
            {**task, "runtime": runtime}, progress=step, cancelled=cancelled
        )
    rows = tuple(
        LayerRow(
            name=layer.name,
            input_shape=tuple(layer.input_shape or ()),
            calls=layer.calls,
            depth_multiplier=layer.depth_multiplier,
            mac_ratio=(
                layer.standard.macs / layer.separable.macs
                if layer.separable is not None and layer.separable.macs
                else None
            ),
            swap=layer.swap,
            timings={
                runtime: LayerTiming.from_dict(answers[runtime]["rows"][layer.name])
                for runtime in runtimes
            },
        )
        for layer in candidates
    )
    return LayerBench(
        source=analysis.source,
        input_shape=analysis.input_shape,
        selection=str(select),
        threads=threads,
        rows=rows,
        model={runtime: Timing.from_dict(dict(answers[runtime]["model"])) for runtime in runtimes},
        versions={runtime: answers[runtime]["version"] for runtime in runtimes},
        torch_version=torch.__version__,
        notes=notes,
    )
