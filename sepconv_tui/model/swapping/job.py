"""One model job, what every command and the app's child start from, and the one build path.

``ModelJob`` holds the parsed source, the weights, the input shape, the plan (which layers to
swap, as names or a rule the model alone resolves, and each one's m), the initialisation, the
device, the threads and the memory budget. A budget (``agreement:X``, ``speedup:X``) is
resolved into layers above the job (the workflow, speedup, the CLI), never inside it.

A job crosses to a child process as a JSON object (``to_dict``/``from_dict``, as
``ipc.wire.nested`` carries it). Only a SOURCE text crosses: a module given in Python stays
in its process.

``build_pair`` is the only code that builds a real model, checks the memory budget, loads the
weights and swaps (or reads a saved swap). torch and the swap are imported inside the
functions: the app, which sends jobs, loads neither.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, replace
from math import prod
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...errors import UserError, first_line
from ..describe.source import ModelSource, ModelSourceError, Shape, parse_source
from ..vocabulary.analysis import (
    BUDGET_RULES,
    AutoDepth,
    DepthChoice,
    ModelAnalysis,
    Selection,
    SelectionError,
    parse_depth_multiplier,
    parse_selection,
    unresolved_budget,
)
from ..vocabulary.plan import INITS, SwapError, SwapResult
from .cache import BuildCache

if TYPE_CHECKING:
    from torch import nn

#: A forward keeps this many of its largest layer's tensors alive at once (residuals, concats).
ACTIVATION_HEADROOM = 3


class MemoryBudgetError(UserError):
    """Building a model and its swapped copy would take more memory than the budget allows."""

    default_field = "memory_budget_mb"


@dataclass(frozen=True)
class ModelJob:
    """What to build and swap: the model, its weights, its input, the plan, where it runs."""

    source: ModelSource | Any  # a parsed SOURCE, or an nn.Module given in Python
    weights: str | None = None  # the original's state_dict file
    input_shape: Shape | None = None  # None: the input the model was published for
    # The plan: which layers (names, or a rule the model alone resolves: saving, all, none,
    # top:N, max-error:X; never a budget) and each one's m (one m, auto:E or {layer: m}).
    selection: Selection = Selection("saving")
    depth_multiplier: DepthChoice | Mapping[str, int] = 1
    init: str = "svd"  # "svd": the blocks from the conv's weights; "random": PyTorch's
    swapped_dir: str | None = None  # a folder a saved swap wrote: its plan and weights instead
    device: str = "cpu"  # where the models run ("auto": CUDA when there is one)
    threads: int | None = None  # torch's intra-op threads (None: its default)
    budget_bytes: int | None = None  # the memory budget (None: a quarter of what is free)

    def __post_init__(self) -> None:
        if isinstance(self.source, str):
            raise TypeError("ModelJob takes a parsed source: parse_source(text) at the edge")
        if self.selection.rule in BUDGET_RULES:
            raise SelectionError(unresolved_budget(self.selection))
        if self.init not in INITS:
            raise SwapError(
                f"the initialisation must be svd or random, got {self.init!r}", field="init"
            )
        if self.weights is not None and not isinstance(self.source, ModelSource):
            raise ModelSourceError(
                "weights apply to a SOURCE text: load them into your module instead",
                field="weights",
            )
        if isinstance(self.depth_multiplier, Mapping):
            # No layer named: every layer at m = 1, said as one m.
            object.__setattr__(self, "depth_multiplier", dict(self.depth_multiplier) or 1)
        else:
            object.__setattr__(
                self, "depth_multiplier", parse_depth_multiplier(self.depth_multiplier)
            )

    @property
    def label(self) -> str:
        """The source as text: the normal SOURCE, or the module's class name."""
        if isinstance(self.source, ModelSource):
            return str(self.source)
        return type(self.source).__name__

    def with_plan(self, selection: Selection, depth_multiplier: Any = None) -> ModelJob:
        """This job swapping ``selection`` (and, given, at ``depth_multiplier``)."""
        if depth_multiplier is None:
            return replace(self, selection=selection)
        return replace(self, selection=selection, depth_multiplier=depth_multiplier)

    def to_dict(self) -> dict[str, Any]:
        """The job as JSON; ModelSourceError for a module given in Python (it stays here)."""
        if not isinstance(self.source, ModelSource):
            raise ModelSourceError(
                f"a model given as a Python object ({self.label}) stays in its process: only "
                "a SOURCE text (torchvision:NAME, timm:NAME, package.module:callable or "
                "path/to/file.py:callable) crosses to another process"
            )
        multiplier = self.depth_multiplier
        return {
            "source": str(self.source),
            "weights": self.weights,
            "input_shape": list(self.input_shape) if self.input_shape is not None else None,
            "selection": str(self.selection),
            "depth_multiplier": (
                dict(multiplier)
                if isinstance(multiplier, Mapping)
                else str(multiplier)
                if isinstance(multiplier, AutoDepth)
                else multiplier
            ),
            "init": self.init,
            "swapped_dir": self.swapped_dir,
            "device": self.device,
            "threads": self.threads,
            "budget_bytes": self.budget_bytes,
        }

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> ModelJob:
        """The inverse of ``to_dict`` (the source parsed here, once)."""
        shape = values.get("input_shape")
        multiplier = values.get("depth_multiplier", 1)
        return cls(
            parse_source(values["source"]),
            weights=values.get("weights"),
            input_shape=tuple(int(size) for size in shape) if shape is not None else None,
            selection=parse_selection(values.get("selection", "saving")),
            depth_multiplier=(
                {str(name): int(m) for name, m in multiplier.items()}
                if isinstance(multiplier, Mapping)
                else parse_depth_multiplier(multiplier)
            ),
            init=values.get("init", "svd"),
            swapped_dir=values.get("swapped_dir"),
            device=values.get("device", "cpu"),
            threads=values.get("threads"),
            budget_bytes=values.get("budget_bytes"),
        )


def estimate_pair_bytes(analysis: ModelAnalysis, *, original_bytes: int, state_dict: bool) -> int:
    """Bytes building and running the pair holds: the strictest of the earlier estimates.

    Both models' parameters in fp32 with the input and the activations (the largest layer's
    input, output and depthwise intermediate, ``ACTIVATION_HEADROOM`` times over), or the
    original twice over in its own dtypes (it and its copy) plus the state_dict read from a
    file, whichever is more.
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
            elements += batch * layer.in_channels * layer.depth_multiplier * spatial
        largest = max(largest, elements)
    activations = prod(analysis.input_shape) + ACTIVATION_HEADROOM * largest
    running = 4 * (weights + activations)
    copies = (3 if state_dict else 2) * original_bytes
    return max(running, copies)


def check_memory(analysis: ModelAnalysis, job: ModelJob, original_bytes: int) -> int:
    """The estimate for ``job``'s pair; MemoryBudgetError when it exceeds the budget."""
    from ...core.budget import resolve_budget
    from ...core.memory import format_bytes

    device = "cuda" if job.device.startswith("cuda") else "cpu"
    budget = resolve_budget(job.budget_bytes, device)
    state_dict = job.weights is not None or job.swapped_dir is not None
    needed = estimate_pair_bytes(analysis, original_bytes=original_bytes, state_dict=state_dict)
    if needed > budget:
        raise MemoryBudgetError(
            f"refusing to allocate about {format_bytes(needed)} for {job.label} (the original, "
            f"its swapped copy{', the state_dict' if state_dict else ''}, the input and the "
            f"activations): over the memory budget of {format_bytes(budget)}; use a smaller "
            "input shape or raise the memory budget"
        )
    return needed


def _saved_plan(job: ModelJob) -> Any:
    """The plan in ``job.swapped_dir``; SwapError (field "swapped") when it holds none."""
    from ..vocabulary.plan import read_plan
    from .swap import PLAN_FILE, SWAPPED_FILE

    assert job.swapped_dir is not None
    folder = Path(job.swapped_dir)
    where = repr(str(job.swapped_dir))  # the CLI puts "--swapped:" before it
    for name in (PLAN_FILE, SWAPPED_FILE):
        if not (folder / name).is_file():
            raise SwapError(
                f"{where} has no {name}: give a folder a saved swap wrote", field="swapped"
            )
    try:
        return read_plan(folder / PLAN_FILE)
    except SwapError as error:
        raise SwapError(f"{where}: {error}", field="swapped") from None


def _plan_of(job: ModelJob) -> tuple[Selection, Any, Any]:
    """(selection, depth multiplier, the saved plan or None) that ``job`` swaps."""
    if job.swapped_dir is None:
        return job.selection, job.depth_multiplier, None
    plan = _saved_plan(job)
    names = Selection("names", patterns=plan.swapped) if plan.swapped else Selection("none")
    return names, plan.depth_multiplier, plan


def as_planned(job: ModelJob) -> ModelJob:
    """``job`` swapping what its saved swap swaps (the plan's layers, m and input), so that
    an analysis of it describes that swap; ``job`` itself without ``swapped_dir``."""
    if job.swapped_dir is None:
        return job
    selection, multipliers, plan = _plan_of(job)
    return replace(
        job,
        selection=selection,
        depth_multiplier=multipliers,
        input_shape=job.input_shape or plan.input_shape,
    )


def _needs_weights(selection: Selection, depth_multiplier: Any) -> bool:
    """True when choosing the layers or their m reads the weights (max-error:X, auto:E)."""
    return selection.rule == "max-error" or isinstance(depth_multiplier, AutoDepth)


def _original(job: ModelJob, analysis: ModelAnalysis, cache: BuildCache | None) -> nn.Module:
    """The original built for real with its weights, after the memory check (kept in
    ``cache`` by what it was built from)."""
    from ..describe.source import build_model, parameter_bytes

    if not isinstance(job.source, ModelSource):
        check_memory(analysis, job, parameter_bytes(job.source))
        return job.source

    def build() -> nn.Module:
        from ..describe.weights import load_weights

        empty = build_model(job.source)
        check_memory(analysis, job, parameter_bytes(empty.module))
        model = build_model(job.source, real=True).module
        if job.weights is not None:
            load_weights(model, job.weights)
        return model

    if cache is None:
        return build()
    return cache.get("original", (str(job.source), job.weights), build)


def build_pair(
    job: ModelJob, cache: BuildCache | None = None
) -> tuple[nn.Module, nn.Module, SwapResult]:
    """(original, swapped, SwapResult) for ``job``: the one path that builds a real model.

    The memory budget is checked on an empty (meta) build first: the original, its swapped
    copy, a state_dict read from a file, the input and the activations must fit it
    (MemoryBudgetError, field "memory_budget_mb", otherwise). Then the original is built on the
    CPU with the weights loaded (or taken from ``cache``) and swapped, or, with
    ``swapped_dir``, the saved plan applied and swapped.pt loaded. The original is not touched:
    the swapped model is a copy.
    """
    from ..describe.trace import analyze_model

    selection, multipliers, plan = _plan_of(job)
    # A saved swap's input is the one it was made at, unless the job says another.
    input_shape = job.input_shape or (plan.input_shape if plan is not None else None)
    analysis = analyze_model(
        job.source,
        input_shape=input_shape,
        select=selection,
        depth_multiplier=multipliers,
        weights=job.weights if _needs_weights(selection, multipliers) else None,
        memory_budget_bytes=job.budget_bytes,
    )
    shape = input_shape if input_shape is not None else analysis.input_shape
    original = _original(job, analysis, cache)
    if plan is None:
        from .swap import swap_convs

        result = swap_convs(
            original,
            selection,
            depth_multiplier=multipliers,
            init=job.init,
            input_shape=shape,
            source=job.label if isinstance(job.source, ModelSource) else None,
        )
        return original, result.model, result
    return _load_saved(job, original, plan, input_shape)


def _load_saved(
    job: ModelJob, original: nn.Module, plan: Any, input_shape: Shape | None
) -> tuple[nn.Module, nn.Module, SwapResult]:
    """The saved swap in ``job.swapped_dir`` on a copy of ``original``."""
    from ..describe.factorise import weight_errors
    from ..describe.weights import read_state_dict
    from .swap import SWAPPED_FILE, apply_plan, count_params

    assert job.swapped_dir is not None
    where = repr(str(job.swapped_dir))
    swapped = apply_plan(copy.deepcopy(original), plan)
    try:
        swapped.load_state_dict(read_state_dict(Path(job.swapped_dir) / SWAPPED_FILE))
    except (RuntimeError, UserError) as error:
        raise SwapError(
            f"{where}: {SWAPPED_FILE} does not fit {job.label} with its plan: {first_line(error)}",
            field="swapped",
        ) from None
    result = SwapResult(
        model=swapped,
        swapped=plan.swapped,
        weight_error=weight_errors(original, swapped, plan.swapped),
        depth_multiplier=plan.depth_multiplier,
        init=plan.init or "svd",
        source=job.label,
        input_shape=input_shape,  # the job's or the plan's: None leaves the data its own
        params={"original": count_params(original), "swapped": count_params(swapped)},
        original=original,
    )
    return original, swapped, result
