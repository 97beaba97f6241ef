"""Measured latency: real forward passes of both sides with torch.utils.benchmark.

Before anything is allocated, the memory a run needs (fp32 weights, input and every output)
is estimated in closed form and refused over a budget (default: a quarter of the free RAM, or
of the free GPU memory for cuda). torch is imported inside the functions. The app runs it in
its measurement process (``workers/measure_server.py``).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import UserError
from ..progress import OnProgress, Progress, ignore
from .budget import resolve_budget
from .compare import compare
from .memory import DTYPE_BYTES, format_bytes
from .spec import LayerSpec, parse_int_in_range

if TYPE_CHECKING:
    import torch
    from torch import nn

DEVICES = ("cpu", "cuda")
#: What a benchmark goes through, in order; progress callbacks get an index into this.
STAGES = (
    "building both sides",
    "timing the standard conv",
    "timing the separable block",
)
#: torch.utils.benchmark runs each side for at least this long (seconds) by default.
MIN_RUN_TIME_S = 0.2
WARM_UP_RUNS = 3

#: Intra-op threads a benchmark accepts.
THREADS_RANGE = (1, 1024)


def parse_threads(text: str) -> int | None:
    """None (torch's default) for empty ``text``, else 1–1024; ValueError naming the range."""
    if not text.strip():
        return None
    return parse_int_in_range(text, *THREADS_RANGE)


class BenchError(UserError):
    """A benchmark that cannot or should not run: no such device, over the memory budget."""


@dataclass(frozen=True)
class Timing:
    """One side's forward-pass time: median and interquartile range over the timed runs."""

    median_s: float
    iqr_s: float
    runs: int  # timed blocks
    loops_per_run: int  # forward passes per block

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of one timing."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Timing:
        """The inverse of ``to_dict``."""
        return cls(**values)


#: Why 1-D convs get no channels-last timing: PyTorch has that layout for 4-D and 5-D tensors.
CHANNELS_LAST_1D = (
    "channels-last memory format is for 2-D and 3-D convs (NHWC, NDHWC), not 1-D: PyTorch has "
    "no channels-last layout for N×C×L tensors"
)


@dataclass(frozen=True)
class RuntimeTiming:
    """Both sides timed on one runtime, in a process of their own, and that runtime's version."""

    runtime: str  # a name in the runtime table (model/vocabulary/runtimes.py)
    before: Timing  # the standard conv, or the original model
    after: Timing  # the separable block, or the swapped model
    version: str  # e.g. "torch 2.14.1", "onnxruntime 1.32.0"
    threads: int
    channels_last: bool = False  # the runtime's layout: input and weights channels-last

    @property
    def speed_ratio(self) -> float:
        """Before median ÷ after median ("× faster"; below 1 means slower)."""
        return self.before.median_s / self.after.median_s

    def to_dict(self, before: str, after: str) -> dict[str, Any]:
        """The JSON object of one runtime, its sides named ``before`` and ``after``."""
        return {
            "runtime": self.runtime,
            "channels_last": self.channels_last,
            before: asdict(self.before),
            after: asdict(self.after),
            "speed_ratio": self.speed_ratio,
            "version": self.version,
            "threads": self.threads,
        }

    @classmethod
    def from_dict(cls, values: dict[str, Any], before: str, after: str) -> RuntimeTiming:
        """The inverse of ``to_dict``."""
        return cls(
            values["runtime"],
            Timing.from_dict(values[before]),
            Timing.from_dict(values[after]),
            values["version"],
            values["threads"],
            bool(values.get("channels_last", False)),
        )


@dataclass(frozen=True)
class BenchResult:
    """Both sides timed on one device, with the MAC ratio they should follow and the memory."""

    spec: LayerSpec
    device: str
    threads: int
    standard: Timing
    separable: Timing
    mac_ratio: float
    estimated_bytes: int
    allocated_bytes: int  # what the run's tensors actually took
    budget_bytes: int
    torch_version: str
    channels_last: bool = False  # input and weights channels-last (NHWC, or NDHWC in 3-D)
    # With --runtime: each runtime timed in its own process (standard and separable above are
    # the first's); empty when timed here, in this process.
    runtimes: dict[str, RuntimeTiming] = field(default_factory=dict)
    notes: tuple[str, ...] = ()  # e.g. a runtime of --runtime all left out, and why
    # With runtimes: the machine they ran on (model.vocabulary.machine's record, as its JSON
    # object).
    machine: dict[str, Any] | None = None

    @property
    def speed_ratio(self) -> float:
        """Standard median ÷ separable median ("× faster"; below 1 means slower)."""
        return self.standard.median_s / self.separable.median_s

    def to_dict(self) -> dict[str, Any]:
        """The JSON document of ``sepconv-tui bench --json``."""
        return {
            "spec": self.spec.to_dict(),
            "device": self.device,
            "threads": self.threads,
            "channels_last": self.channels_last,
            "standard": asdict(self.standard),
            "separable": asdict(self.separable),
            "speed_ratio": self.speed_ratio,
            "mac_ratio": self.mac_ratio,
            "memory": {
                "estimated_bytes": self.estimated_bytes,
                "allocated_bytes": self.allocated_bytes,
                "budget_bytes": self.budget_bytes,
            },
            "torch": self.torch_version,
            "runtimes": {
                name: timing.to_dict("standard", "separable")
                for name, timing in self.runtimes.items()
            },
            **({"machine": self.machine} if self.machine is not None else {}),
            "notes": list(self.notes),
            "conventions": {
                "median_s": "seconds per forward pass (batch included), median over timed blocks",
                "speed_ratio": "standard median ÷ separable median",
                "mac_ratio": "standard MACs ÷ separable MACs",
                "dtype": "float32, inference mode",
            },
        }

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> BenchResult:
        """The inverse of ``to_dict``."""
        memory = values["memory"]
        return cls(
            LayerSpec.from_dict(values["spec"]),
            values["device"],
            values["threads"],
            Timing.from_dict(values["standard"]),
            Timing.from_dict(values["separable"]),
            values["mac_ratio"],
            memory["estimated_bytes"],
            memory["allocated_bytes"],
            memory["budget_bytes"],
            values["torch"],
            values.get("channels_last", False),
            {
                name: RuntimeTiming.from_dict(timing, "standard", "separable")
                for name, timing in values.get("runtimes", {}).items()
            },
            tuple(values.get("notes", ())),
            values.get("machine"),
        )


def estimate_bytes(spec: LayerSpec) -> int:
    """fp32 bytes a run holds: both sides' weights, the input and every output."""
    memory = compare(spec, method="analytic").memory
    standard, separable = memory.standard, memory.separable
    elements = (
        standard.weights
        + standard.input
        + standard.output
        + separable.weights
        + separable.intermediate
        + separable.output
    )
    return elements * DTYPE_BYTES["fp32"]


def check_device(device: str) -> None:
    """Raise BenchError unless ``device`` can run here."""
    if device not in DEVICES:
        raise BenchError(
            f"the device must be one of {', '.join(DEVICES)}, got {device!r}", field="device"
        )
    if device == "cuda":
        import torch

        if not torch.cuda.is_available():
            build = torch.version.cuda
            why = (
                f"this torch {torch.__version__} is a CPU-only build"
                if build is None
                else "no CUDA GPU is visible"
            )
            raise BenchError(f"CUDA is not available ({why}); use the cpu device", field="device")


def check_budget(spec: LayerSpec, budget_bytes: int) -> int:
    """The estimate for ``spec``; BenchError when it exceeds ``budget_bytes`` or has no output."""
    comparison = compare(spec, method="analytic")
    if comparison.standard.output_shape is None or comparison.separable.output_shape is None:
        raise BenchError("cannot time this layer: " + "; ".join(comparison.reasons))
    estimate = estimate_bytes(spec)
    if estimate > budget_bytes:
        raise BenchError(
            f"refusing to allocate {format_bytes(estimate)} (weights, input and outputs in "
            f"fp32): over the memory budget of {format_bytes(budget_bytes)}; use a smaller "
            "layer or raise the memory budget"
        )
    return estimate


def to_channels_last(module: nn.Module) -> nn.Module:
    """``module`` with every 4-D parameter and buffer channels-last (NHWC) and every 5-D one
    channels-last-3d (NDHWC), in place; ``.to(memory_format=…)`` takes one layout for all,
    which a Conv3d's 5-D weight (or a Conv2d's 4-D one, for channels_last_3d) refuses."""
    import itertools

    for tensor in itertools.chain(module.parameters(), module.buffers()):
        layout = _channels_last_layout(tensor.dim())
        if layout is not None:
            tensor.data = tensor.data.contiguous(memory_format=layout)
    return module


def channels_last_input(x: torch.Tensor) -> torch.Tensor:
    """``x`` channels-last when 4-D (NHWC) or 5-D (NDHWC); any other rank as it is."""
    layout = _channels_last_layout(x.dim())
    return x if layout is None else x.contiguous(memory_format=layout)


def _channels_last_layout(dims: int) -> torch.memory_format | None:
    """torch's channels-last layout for a tensor of ``dims`` dimensions (None: there is none)."""
    import torch

    return {4: torch.channels_last, 5: torch.channels_last_3d}.get(dims)


def time_forward(module: nn.Module, x: Any, threads: int, min_run_time: float) -> Timing:
    """Warm ``module`` up, then time it with Timer.blocked_autorange."""
    import logging

    import torch

    # Importing torch.utils.benchmark loads cpp_extension, which logs "No CUDA runtime is found"
    # on a CUDA build without a GPU: noise on stderr, as the run is on the CPU anyway.
    logging.getLogger("torch.utils.cpp_extension").setLevel(logging.ERROR)
    from torch.utils import benchmark

    started = time.perf_counter()
    with torch.inference_mode():
        for _ in range(WARM_UP_RUNS):
            module(x)
            if time.perf_counter() - started > min_run_time:
                break  # a slow layer is warm after one pass; don't triple its wait
    timer = benchmark.Timer(
        stmt="with torch.inference_mode(): module(x)",
        globals={"module": module, "x": x, "torch": torch},
        num_threads=threads,
    )
    measurement = timer.blocked_autorange(min_run_time=min_run_time)
    return Timing(
        measurement.median, measurement.iqr, len(measurement.times), measurement.number_per_run
    )


def benchmark(
    spec: LayerSpec,
    device: str = "cpu",
    threads: int | None = None,
    budget_bytes: int | None = None,
    *,
    min_run_time: float = MIN_RUN_TIME_S,
    progress: OnProgress | None = None,
    channels_last: bool = False,
) -> BenchResult:
    """Time real forward passes of both sides of ``spec`` on ``device`` (fp32, inference).

    ``channels_last`` puts the input and both sides' weights in NHWC memory format (NDHWC for
    a 3-D layer), where PyTorch's CPU depthwise kernels behave very differently.
    """
    stages = len(STAGES)
    report = progress or ignore
    if channels_last and spec.dims == 1:
        raise BenchError(CHANNELS_LAST_1D, field="channels_last")
    check_device(device)
    budget = resolve_budget(budget_bytes, device)
    estimate = check_budget(spec, budget)

    import torch

    from .layers import separable_block, standard_conv

    threads = threads if threads is not None else torch.get_num_threads()
    report(Progress("bench", 0, stages, STAGES[0]))
    torch.manual_seed(0)
    with torch.device(device):
        standard = standard_conv(spec).eval()
        separable = separable_block(spec).eval()
        x = torch.randn(spec.input_shape)
    if channels_last:
        to_channels_last(standard)  # in place
        to_channels_last(separable)
        x = channels_last_input(x)
    with torch.inference_mode():
        outputs = [standard(x), separable.depthwise(x)]
        outputs.append(separable.pointwise(outputs[1]))
    tensors = [*standard.parameters(), *separable.parameters(), x, *outputs]
    allocated = sum(tensor.nbytes for tensor in tensors)
    del outputs
    report(Progress("bench", 1, stages, STAGES[1]))
    standard_timing = time_forward(standard, x, threads, min_run_time)
    report(Progress("bench", 2, stages, STAGES[2]))
    separable_timing = time_forward(separable, x, threads, min_run_time)
    mac_ratio = compare(spec, method="analytic").mac_ratio
    assert mac_ratio is not None  # check_budget refused layers without output
    return BenchResult(
        spec,
        device,
        threads,
        standard_timing,
        separable_timing,
        mac_ratio,
        estimate,
        allocated,
        budget,
        torch.__version__,
        channels_last,
    )
