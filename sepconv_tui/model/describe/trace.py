"""Analyse a whole model: every Conv2d and Linear by closed form and by PyTorch, and the swap.

One forward on the meta device (no memory) with forward hooks on the convs and linears records
the shapes each saw; ``FlopCounterMode`` counts the same forward per module and in total. The
closed form (``core.analytic``) recomputes each layer from its attributes and those shapes; the
two are compared layer by layer. torch is imported inside the functions.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...core import analytic
from ...core.analytic import conv_macs, conv_params, module_output_sizes, separable_macs
from ...errors import first_line
from ..vocabulary.analysis import (
    AutoDepth,
    Cost,
    ModelAnalysis,
    ModelLayer,
    Selection,
    parse_depth_multiplier,
    parse_selection,
)
from .candidates import (
    candidate_reason,
    conv_rank,
    counted_layers,
    eval_mode,
    extra_params,
    geometry,
    input_dtype,
    layer_kind,
    own_params,
    separable_block,
)
from .factorise import has_real_weights, layer_energies, resolve_multipliers
from .source import (
    INPUT_EXAMPLES,
    BuiltModel,
    ModelSource,
    ModelSourceError,
    Shape,
    build_model,
    input_form,
    parameter_bytes,
    parse_source,
    published_input_shape,
)
from .weights import load_weights

if TYPE_CHECKING:
    import torch
    from torch import nn


class _MetaUnsupported(Exception):
    """The forward cannot run on meta tensors (data-dependent control flow, ``.item()``)."""


@dataclass
class _Forward:
    """What one forward pass recorded."""

    calls: dict[str, list[tuple[Shape, Shape | None]]]  # layer → (input, output) per call
    flops: dict[str, dict[Any, int]]  # FlopCounterMode's counts by module path
    total_flops: int
    output_shape: Shape | None


@dataclass
class _Checks:
    """Closed form against PyTorch, and the first few differences for the notes."""

    params: bool = True
    macs: bool = True
    shapes: bool = True
    differences: list[str] = field(default_factory=list)

    def compare(self, what: str, layer: str, closed: Any, measured: Any) -> None:
        """Record whether the two methods agree on ``what`` for ``layer``."""
        if closed == measured:
            return
        setattr(self, what, False)
        if len(self.differences) < 3:
            self.differences.append(f"{layer} {what}: closed form {closed}, PyTorch {measured}")


def _tracker_names(model: nn.Module) -> dict[nn.Module, str]:
    """Each module's name as FlopCounterMode's ModuleTracker gives it (root class, then paths)."""
    names: dict[nn.Module, str] = {model: type(model).__name__}
    seen: set[nn.Module] = set()

    def visit(module: nn.Module) -> None:
        if module in seen:
            return
        for child_name, child in module.named_children():
            names[child] = f"{names[module]}.{child_name}"
            visit(child)
        seen.add(module)

    visit(model)
    return names


def _is_meta_failure(error: BaseException) -> bool:
    """True for errors a meta tensor causes, which real tensors would not."""
    return isinstance(error, NotImplementedError) or "meta" in str(error).lower()


def _forward(model: nn.Module, input_shape: Shape, device: str) -> _Forward:
    """Run ``model`` once on ``device`` with hooks and FlopCounterMode; record what it did."""
    import torch
    from torch.func import functional_call
    from torch.utils._pytree import tree_flatten
    from torch.utils.flop_counter import FlopCounterMode

    calls: dict[str, list[tuple[Shape, Shape | None]]] = {}
    # Layers whose forward is running (name, module, input shape), to say where an error arose.
    entered: list[tuple[str, nn.Module, Shape]] = []
    handles = []
    for name, module in counted_layers(model):
        calls[name] = []

        def enter(module: Any, args: Any, name: str = name) -> None:
            shape = tuple(args[0].shape) if args and isinstance(args[0], torch.Tensor) else ()
            entered.append((name, module, shape))

        def record(_module: Any, args: Any, output: Any, name: str = name) -> None:
            entered.pop()
            if args and isinstance(args[0], torch.Tensor):
                out = tuple(output.shape) if isinstance(output, torch.Tensor) else None
                calls[name].append((tuple(args[0].shape), out))

        handles.append(module.register_forward_pre_hook(enter))
        handles.append(module.register_forward_hook(record))
    dtype = input_dtype(model)
    if device == "meta":
        x = torch.empty(input_shape, device="meta", dtype=dtype)
    else:
        x = torch.randn(input_shape, dtype=dtype, generator=torch.Generator().manual_seed(0))
    # A real module the caller passed runs on meta stand-ins of its tensors: nothing is
    # copied and the module is left as it was.
    substitutes: dict[str, torch.Tensor] | None = None
    if device == "meta":
        tensors = {**dict(model.named_parameters()), **dict(model.named_buffers())}
        if any(tensor.device.type != "meta" for tensor in tensors.values()):
            substitutes = {
                name: torch.empty_like(tensor, device="meta") for name, tensor in tensors.items()
            }
    counter = FlopCounterMode(display=False)
    try:
        with eval_mode(model), counter, torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if substitutes is not None:
                output = functional_call(model, substitutes, (x,))
            else:
                output = model(x)
    except Exception as error:
        if entered:
            _check_rank(*entered[-1], input_shape)
        if device == "meta" and _is_meta_failure(error):
            raise _MetaUnsupported(first_line(error)) from error
        where = ""
        if entered:
            name, module, shape = entered[-1]
            where = f"\nin {name} ({module!r} on input {shape})"
        raise ModelSourceError(
            f"the forward fails at input shape {tuple(input_shape)}: {first_line(error)}{where}"
        ) from None
    finally:
        for handle in handles:
            handle.remove()
    tensors_out = [leaf for leaf in tree_flatten(output)[0] if isinstance(leaf, torch.Tensor)]
    return _Forward(
        calls,
        counter.get_flop_counts(),
        counter.get_total_flops(),
        tuple(tensors_out[0].shape) if tensors_out else None,
    )


def _check_rank(name: str, module: nn.Module, shape: Shape, input_shape: Shape) -> None:
    """ModelSourceError naming the input shape when the forward failed in a conv that got the
    model's input rank but takes another (a 4-number shape reaching a Conv3d)."""
    rank = conv_rank(module)
    if rank is None or len(shape) != len(input_shape) or len(input_shape) == rank + 2:
        return
    raise ModelSourceError(
        f"{tuple(input_shape)} has {len(input_shape)} numbers, but {name} is a "
        f"{type(module).__name__}, which takes {input_form(rank)} inputs ({rank + 2} numbers, "
        f"e.g. {INPUT_EXAMPLES[rank]})",
        field="input_shape",
    )


def _conv_call(
    geometry: dict[str, Any], input_shape: Shape, depth_multiplier: int
) -> tuple[int, int, Shape]:
    """Closed form of one call of a conv of any rank: its MACs, the separable block's, and the
    output shape, on a batched (N, C, *spatial) or unbatched (C, *spatial) input."""
    kernel = geometry["kernel_size"]
    rank = len(kernel)
    batch = input_shape[0] if len(input_shape) == rank + 2 else 1
    output_size = module_output_sizes(
        input_shape[-rank:],
        kernel,
        geometry["stride"],
        geometry["padding"],
        geometry["dilation"],
    )
    c_in, c_out, groups = geometry["in_channels"], geometry["out_channels"], geometry["groups"]
    macs = conv_macs(batch, c_in, c_out, output_size, kernel, groups)
    separable = separable_macs(batch, c_in, c_out, output_size, kernel, depth_multiplier)
    output_shape = (*input_shape[: -(rank + 1)], c_out, *output_size)
    return macs, separable, output_shape


class _SeparableCounter:
    """PyTorch's count of each candidate's separable block, built on meta (cached by geometry)."""

    def __init__(self, depth_multiplier: int) -> None:
        self.depth_multiplier = depth_multiplier
        self.cache: dict[tuple[Any, ...], tuple[int, int, list[Shape]]] = {}

    def measure(self, conv: nn.Module, input_shapes: list[Shape]) -> tuple[int, int, list[Shape]]:
        """Params, MACs over the calls, and output shapes of ``conv``'s replacement."""
        import torch
        from torch.utils.flop_counter import FlopCounterMode

        weight: Any = conv.weight
        key = (repr(conv), weight.dtype, tuple(input_shapes))
        if key not in self.cache:
            block = separable_block(conv, self.depth_multiplier, device="meta")
            params = sum(parameter.numel() for parameter in block.parameters())
            macs, shapes = 0, []
            for shape in input_shapes:
                counter = FlopCounterMode(display=False)
                with counter, torch.no_grad():
                    x = torch.empty(shape, device="meta", dtype=weight.dtype)
                    shapes.append(tuple(block(x).shape))
                macs += counter.get_total_flops() // 2
            self.cache[key] = (params, macs, shapes)
        return self.cache[key]


def _layers(
    model: nn.Module, forward: _Forward, depth_multiplier: int, checks: _Checks
) -> tuple[list[ModelLayer], int, int]:
    """One row per conv and linear; also the parameters and MACs PyTorch gives all rows."""
    from torch import nn

    tracker_names = _tracker_names(model)
    separable_counter = _SeparableCounter(depth_multiplier)
    rows: list[ModelLayer] = []
    measured_params = measured_macs = 0
    for name, module in counted_layers(model):
        calls = forward.calls[name]
        layer_geometry = geometry(module)
        torch_params = own_params(module)
        counts = forward.flops.get(tracker_names.get(module, ""), {})
        torch_macs = sum(counts.values()) // 2 if calls else 0
        measured_params += torch_params
        measured_macs += torch_macs
        reason = candidate_reason(module)
        kind = layer_kind(module)
        separable: Cost | None = None
        if isinstance(module, nn.Linear):
            params = analytic.linear_params(
                module.in_features, module.out_features, layer_geometry["bias"]
            ) + extra_params(module)
            macs = sum(
                analytic.linear_macs(shape, module.in_features, module.out_features)
                for shape, _ in calls
            )
            closed_shapes = [(*shape[:-1], module.out_features) for shape, _ in calls]
        elif kind == "conv":
            kernel = layer_geometry["kernel_size"]
            c_in, c_out = layer_geometry["in_channels"], layer_geometry["out_channels"]
            # A subclass's own parameters (ScaledStdConv2d's gain) count as PyTorch counts them.
            params = conv_params(
                c_in, c_out, kernel, layer_geometry["groups"], layer_geometry["bias"]
            ) + extra_params(module)
            per_call = [_conv_call(layer_geometry, shape, depth_multiplier) for shape, _ in calls]
            macs = sum(call[0] for call in per_call)
            closed_shapes = [call[2] for call in per_call]
            if reason is None:
                separable = Cost(
                    analytic.separable_params(
                        c_in, c_out, kernel, layer_geometry["bias"], depth_multiplier
                    ),
                    sum(call[1] for call in per_call),
                )
                block_params, block_macs, block_shapes = separable_counter.measure(
                    module, [shape for shape, _ in calls]
                )
                checks.compare("params", f"{name} (separable)", separable.params, block_params)
                checks.compare("macs", f"{name} (separable)", separable.macs, block_macs)
                checks.compare("shapes", f"{name} (separable)", closed_shapes, block_shapes)
        else:
            # Other conv types are listed with PyTorch's figures; the closed form skips them.
            params, macs = torch_params, torch_macs
            closed_shapes = [output for _, output in calls]  # type: ignore[misc]
        checks.compare("params", name, params, torch_params)
        checks.compare("macs", name, macs, torch_macs)
        checks.compare("shapes", name, closed_shapes, [output for _, output in calls])
        rows.append(
            ModelLayer(
                name=name,
                kind=kind,
                module_type=type(module).__name__,
                input_shape=calls[0][0] if calls else None,
                output_shape=calls[0][1] if calls else None,
                calls=len(calls),
                candidate=reason is None,
                reason=reason,
                swap=False,
                standard=Cost(params, macs),
                separable=separable,
                **layer_geometry,
            )
        )
    return rows, measured_params, measured_macs


def _check_input_shape(shape: Any) -> Shape:
    """A tuple of positive ints, or ModelSourceError."""
    try:
        values = tuple(int(size) for size in shape)
    except (TypeError, ValueError):
        raise ModelSourceError(f"input_shape must be whole numbers, got {shape!r}") from None
    if not values or any(size < 1 for size in values) or values != tuple(shape):
        raise ModelSourceError(f"input_shape must be whole numbers ≥ 1, got {tuple(shape)!r}")
    return values


def _materialise(
    source: ModelSource | None,
    built: BuiltModel,
    input_shape: Shape,
    why: str,
    budget_bytes: int | None,
) -> nn.Module:
    """The model with real CPU tensors, refused over the memory budget (as ``bench`` does)."""
    from math import prod

    from ...core.budget import resolve_budget
    from ...core.memory import format_bytes

    model = built.module
    on_meta = any(tensor.is_meta for tensor in [*model.parameters(), *model.buffers()])
    if on_meta and source is None:
        raise ModelSourceError(
            f"the forward cannot run on the meta device ({why}) and this module's weights are "
            "on meta: pass a module built on the CPU"
        )
    needed = 4 * prod(input_shape) + (parameter_bytes(model) if on_meta else 0)
    budget = resolve_budget(budget_bytes)
    if needed > budget:
        raise ModelSourceError(
            f"the forward cannot run on the meta device ({why}); on the CPU it needs at least "
            f"{format_bytes(needed)} (weights and input, fp32), over the memory budget of "
            f"{format_bytes(budget)}"
        )
    if not on_meta:
        return model
    assert source is not None
    return build_model(source, real=True).module


def _with_own_weights(
    source: ModelSource, built: BuiltModel, budget_bytes: int | None
) -> BuiltModel:
    """``source`` built for real when its factory loads its own weights, which meta dropped.

    Its errors are then its trained weights'. The model and the state_dict its factory loads
    must fit the memory budget; over it, the meta build comes back with a note saying why.
    """
    from ...core.budget import resolve_budget
    from ...core.memory import format_bytes

    why = (
        f"{source} loads its own weights ({built.weights_loader}.load_state_dict ran in its build)"
    )
    needed = 2 * parameter_bytes(built.module)
    budget = resolve_budget(budget_bytes)
    if needed > budget:
        note = (
            f"{why}; building it for real needs about {format_bytes(needed)}, over the memory "
            f"budget of {format_bytes(budget)}: no errors (save its state_dict and give that "
            "as the weights)"
        )
        return replace(built, notes=(*built.notes, note))
    real = build_model(source, real=True)
    return replace(real, notes=(*real.notes, f"{why}: errors are those weights'"))


def analyze_model(
    source: str | ModelSource | nn.Module,
    *,
    input_shape: Shape | None = None,
    select: str | Selection = "saving",
    depth_multiplier: int | str | AutoDepth | Mapping[str, int] = 1,
    memory_budget_bytes: int | None = None,
    weights: str | Path | None = None,
) -> ModelAnalysis:
    """Every conv and linear of ``source`` by closed form and PyTorch, with ``select`` swapped.

    ``source``: "torchvision:NAME", "timm:NAME", "package.module:callable",
    "path/to/file.py:callable", or an ``nn.Module`` (left as it was). ``input_shape`` defaults to
    the input the model was published for. ``weights``: a state_dict file for a SOURCE string;
    each candidate's ``error`` is then the relative error of a swap initialised from it (SVD),
    which ``select="max-error:X"`` needs. ``depth_multiplier``: one m for every candidate, a
    ``{layer: m}`` map, or ``"auto:E"`` (each layer's smallest m keeping a fraction E of its
    kernel's energy; needs weights). Bad input raises a UserError (ModelSourceError, …).
    """
    from torch import nn

    selection = parse_selection(select) if isinstance(select, str) else select
    choice = (
        dict(depth_multiplier)
        if isinstance(depth_multiplier, Mapping)
        else parse_depth_multiplier(depth_multiplier)
    )
    # The trace counts every block at one m; per-layer m are applied after, by arithmetic.
    base_multiplier = choice if isinstance(choice, int) else 1
    parsed: ModelSource | None = None
    if isinstance(source, nn.Module):
        if weights is not None:
            raise ModelSourceError(
                "weights= applies to a SOURCE string: load them into your module instead"
            )
        label = type(source).__name__
        built = BuiltModel(source, published_input_shape(source))
    else:
        parsed = parse_source(source) if isinstance(source, str) else source
        label = str(parsed)
        built = build_model(parsed)
    if weights is not None:
        # Assigned onto the meta build: the only memory is the state_dict's own.
        load_weights(built.module, weights, assign=True)
    elif parsed is not None and built.weights_loader is not None:
        built = _with_own_weights(parsed, built, memory_budget_bytes)
    # The errors need trained weights: a --weights file's, or those the factory loads itself.
    trained = weights is not None or (
        built.weights_loader is not None and has_real_weights(built.module)
    )
    # One SVD per conv: its kept energies give the error at any m and auto:E's m.
    energies: dict[str, list[float]] = {}
    if trained or (isinstance(choice, AutoDepth) and has_real_weights(built.module)):
        energies = layer_energies(built.module)
    multipliers: dict[str, int] = {}
    if isinstance(choice, Mapping):
        multipliers = resolve_multipliers(built.module, choice)
    shape = (
        _check_input_shape(input_shape) if input_shape is not None else built.default_input_shape
    )
    notes = list(built.notes)
    model, device = built.module, "meta"
    try:
        forward = _forward(model, shape, "meta")
    except _MetaUnsupported as error:
        model = _materialise(parsed, built, shape, str(error), memory_budget_bytes)
        forward = _forward(model, shape, "cpu")
        device = "cpu"
        notes.append(f"ran on real CPU tensors: the forward cannot run on meta ({error})")
    checks = _Checks()
    rows, row_params, row_macs = _layers(model, forward, base_multiplier, checks)
    total_params = sum(parameter.numel() for parameter in model.parameters())
    uncalled = [row.name for row in rows if row.calls == 0]
    if uncalled:
        listed = ", ".join(uncalled[:3]) + (
            f" and {len(uncalled) - 3} more" if len(uncalled) > 3 else ""
        )
        notes.append(
            f"{len(uncalled)} layers not called as modules by this forward ({listed}): "
            "parameters counted; MACs of any functional use are in other ops"
        )
    notes += [f"closed form ≠ PyTorch: {difference}" for difference in checks.differences]
    analysis = ModelAnalysis(
        source=label,
        input_shape=shape,
        output_shape=forward.output_shape,
        layers=tuple(rows),
        other=Cost(total_params - row_params, forward.total_flops // 2 - row_macs),
        depth_multiplier=base_multiplier,
        device=device,
        verified={"params": checks.params, "macs": checks.macs, "shapes": checks.shapes},
        notes=tuple(notes),
    )
    rows_at_base = tuple(
        row if row.separable is None else replace(row, depth_multiplier=base_multiplier)
        for row in analysis.layers
    )
    analysis = replace(analysis, layers=rows_at_base)
    analysis = analysis.with_energies(energies)
    if isinstance(choice, AutoDepth):
        multipliers = analysis.auto_multipliers(choice.energy)
    if multipliers:
        analysis = analysis.with_depth_multipliers(multipliers)
    return analysis.select(selection)
