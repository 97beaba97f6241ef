"""Export a model to ONNX through ``torch.onnx.export(…, dynamo=True)``, checked in ONNX Runtime.

The file is written under a temporary name beside its destination, loaded in ONNX Runtime, run
on the sample inputs and compared with PyTorch's outputs; only when the relative error is at
most ``MAX_RELATIVE_ERROR`` is it renamed into place, so a file that exists was checked. A
file takes any batch size: it is traced at batch 2 with a named batch dimension
(``torch.export`` fixes a dimension of size 1) and checked at batch 1 and 3; a model whose
forward fixes its batch is exported at that batch, and a note says so. A swapped model's ONNX
holds its blocks as they are: per swapped layer a Conv node with
``group = C_in`` (the depthwise conv) and a 1×1 Conv, counted here from the graph. A model the
exporter cannot take raises ExportError naming the op and the layer. torch, onnx and
onnxruntime are imported inside the functions; they are the ``[deploy]`` extra.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...errors import UserError, first_line
from ..describe.source import Shape
from ..swapping.job import ModelJob, build_pair
from ..swapping.swap import readable_as_umask_allows
from ..vocabulary.plan import SwapResult
from ..vocabulary.runtimes import RUNTIME_TABLE, Runtime, require_packages

if TYPE_CHECKING:
    import torch
    from torch import nn

#: Outputs of the ONNX model and of PyTorch may differ by at most this (relative, Frobenius).
MAX_RELATIVE_ERROR = 1e-4
#: Samples of --data an export is checked on at most (the first ones).
CHECK_SAMPLES = 16
#: Formats ``export`` writes.
FORMATS = ("onnx",)


class ExportError(UserError):
    """A model that cannot be exported, or packages that are missing; the message says which."""

    default_field = "source"


def require_deploy() -> None:
    """ExportError naming the extra unless what ONNX Runtime's entry in the runtime table
    needs (onnx, onnxscript and onnxruntime, the ``[deploy]`` extra) loads."""
    entry = RUNTIME_TABLE[Runtime.ONNXRUNTIME]
    require_packages("ONNX", entry.packages, entry.extra, "format", ExportError)


@dataclass(frozen=True)
class ExportedModel:
    """One ONNX file: what it holds and how closely ONNX Runtime reproduces PyTorch on it."""

    path: str
    model: str  # "swapped" or "original"
    relative_error: float  # ‖y_onnx − y_torch‖ / ‖y_torch‖ over the checked samples
    samples: int
    input_shape: Shape
    conv_nodes: int
    depthwise_nodes: int  # Conv nodes whose group equals their input channels (> 1)
    swapped_layers: int  # swapped layers with their own group = C_in Conv node in the graph
    file_bytes: int
    dynamic_batch: bool = False  # the input's batch axis is free (else fixed at input_shape's)
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of one file."""
        return {
            "path": self.path,
            "model": self.model,
            "relative_error": self.relative_error,
            "samples": self.samples,
            "input_shape": list(self.input_shape),
            "conv_nodes": self.conv_nodes,
            "depthwise_nodes": self.depthwise_nodes,
            "swapped_layers": self.swapped_layers,
            "bytes": self.file_bytes,
            "dynamic_batch": self.dynamic_batch,
            "notes": list(self.notes),
        }

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ExportedModel:
        """The inverse of ``to_dict``."""
        return cls(
            values["path"],
            values["model"],
            float(values["relative_error"]),
            int(values["samples"]),
            tuple(values["input_shape"]),
            int(values["conv_nodes"]),
            int(values["depthwise_nodes"]),
            int(values["swapped_layers"]),
            int(values["bytes"]),
            bool(values.get("dynamic_batch", False)),
            tuple(values.get("notes", ())),
        )


@dataclass(frozen=True)
class ExportResult:
    """What ``sepconv-tui export`` wrote (or would have), and whether each file passed."""

    source: str
    swap: str  # the selection, or "DIR" the swap was read from
    swapped: tuple[str, ...]
    files: tuple[ExportedModel, ...]
    sample_source: str  # "random" or the data's description
    torch_version: str
    onnxruntime_version: str
    tolerance: float = MAX_RELATIVE_ERROR

    @property
    def passed(self) -> bool:
        """True when every file's outputs are within ``tolerance`` of PyTorch's."""
        return all(file.relative_error <= self.tolerance for file in self.files)

    def to_dict(self) -> dict[str, Any]:
        """The JSON document of ``sepconv-tui export --json``."""
        return {
            "source": self.source,
            "swap": self.swap,
            "swapped": list(self.swapped),
            "files": [file.to_dict() for file in self.files],
            "samples": self.sample_source,
            "tolerance": self.tolerance,
            "passed": self.passed,
            "torch": self.torch_version,
            "onnxruntime": self.onnxruntime_version,
            "conventions": {
                "relative_error": "‖ONNX Runtime outputs − PyTorch outputs‖ / ‖PyTorch outputs‖",
                "depthwise_nodes": "Conv nodes with group = input channels > 1",
            },
        }

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ExportResult:
        """The inverse of ``to_dict``."""
        return cls(
            values["source"],
            values["swap"],
            tuple(values["swapped"]),
            tuple(ExportedModel.from_dict(file) for file in values["files"]),
            values["samples"],
            values["torch"],
            values["onnxruntime"],
            float(values["tolerance"]),
        )


def _exception_chain(error: BaseException) -> list[BaseException]:
    """``error`` and every exception it was raised from or during, outermost first."""
    chain: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def _layer_in_traceback(error: BaseException, names: dict[int, str]) -> str | None:
    """The innermost module of the model whose code was running when ``error`` was raised."""
    found = None
    for link in _exception_chain(error):
        traceback = link.__traceback__
        while traceback is not None:
            owner = traceback.tb_frame.f_locals.get("self")
            if owner is not None and id(owner) in names:
                found = names[id(owner)]
            traceback = traceback.tb_next
    return found


def _root_message(error: BaseException) -> str:
    """The first line of the innermost exception in ``error``'s chain (its type when empty),
    without torch's symbolic-shape details."""
    return first_line(_exception_chain(error)[-1]).split(" (unhinted")[0].rstrip(". ")


def _named(layer: str | None) -> str:
    """``layer 'name'`` (the root module is ``the model's own forward``)."""
    if layer is None:
        return "the model"
    return f"layer {layer!r}" if layer else "the model's own forward"


def _trace_message(error: BaseException, names: dict[int, str], label: str) -> str:
    """One line for a forward torch.export cannot trace: the reason and the layer."""
    reason = _root_message(error)
    where = _layer_in_traceback(error, names)
    if where is None:
        match = re.search(r"Caused by: \(([^)]*)\)", str(error))
        where_text = f"the model at {match.group(1)}" if match else "the model"
    else:
        where_text = _named(where)
    return f"cannot export {label} to ONNX: torch.export cannot trace {where_text}: {reason}"


def _node_layer(
    program: Any, node_name: str | None, op: str | None
) -> tuple[str | None, str | None]:
    """(op, layer) of the node named ``node_name`` (else the first calling ``op``), looked up in
    ``program`` and, as the converter sees it, in its decomposition to core ATen ops."""

    def graphs() -> Any:
        yield program.graph
        try:
            yield program.run_decompositions().graph
        except Exception:  # a program that does not decompose: only its own names are known
            return

    for graph in graphs():
        for node in graph.nodes:
            named = node_name is not None and node.name == node_name
            calls = op is not None and str(node.target).startswith(f"{op}.")
            if named or calls:
                stack = node.meta.get("nn_module_stack") or {}
                layer = list(stack.values())[-1][0] if stack else None
                return op or str(node.target).removesuffix(".default"), layer
    return op, None


def _conversion_message(error: BaseException, program: Any, label: str) -> str:
    """One line for an op the ONNX converter has no function for: the op and its layer."""
    text = "\n".join(str(link) for link in _exception_chain(error))
    op_match = re.search(r"OpOverload\(op='([^']+)'", text)
    node_match = re.search(r"translating node %(\w+)", text)
    op, layer = _node_layer(
        program,
        node_match.group(1) if node_match else None,
        op_match.group(1) if op_match else None,
    )
    if op is None:
        return f"cannot export {label} to ONNX: {_root_message(error)}"
    return f"cannot export {label} to ONNX: {op} in {_named(layer)} has no ONNX conversion"


#: The batch an export with a dynamic batch axis is traced at: torch.export specialises a
#: dimension of size 1 to the constant 1, so a batch-1 sample would fix the file's batch.
TRACE_BATCH = 2
#: The larger batch a file with a dynamic batch axis is checked at, beside batch 1.
CHECK_BATCH = 3


def _trace(model: nn.Module, sample: torch.Tensor, names: dict[int, str], label: str) -> Any:
    """``torch.export.export`` of ``model`` at ``sample``'s shape; ExportError naming the
    layer when it cannot be traced."""
    import torch

    try:
        return torch.export.export(model, (sample,), strict=False)
    except Exception as error:
        raise ExportError(_trace_message(error, names, label)) from None


def _convert(program: Any, sample: torch.Tensor, label: str) -> Any:
    """The ONNXProgram of a traced ``program``; ExportError naming the op and the layer."""
    import torch

    try:
        return torch.onnx.export(program, (sample,), dynamo=True, verbose=False)
    except Exception as error:
        raise ExportError(_conversion_message(error, program, label)) from None


def _dynamic_program(model: nn.Module, sample: torch.Tensor) -> Any | None:
    """The ONNXProgram of ``model`` with a named batch dimension (traced at ``TRACE_BATCH``
    when ``sample`` holds one), or None when the model fixes its batch (or will not trace)."""
    import torch

    traced = torch.cat([sample] * TRACE_BATCH) if sample.shape[0] == 1 else sample
    batch = torch.export.Dim("batch", min=1)
    try:
        program = torch.export.export(model, (traced,), dynamic_shapes=({0: batch},), strict=False)
        return torch.onnx.export(program, (traced,), dynamo=True, verbose=False)
    except Exception:  # a model that hard-codes its batch: the caller exports it fixed
        return None


def export_program(
    model: nn.Module, sample: torch.Tensor, label: str, *, dynamic_batch: bool = False
) -> Any:
    """``torch.onnx.export(…, dynamo=True)`` of ``model`` (an ONNXProgram); ExportError naming
    the op and the layer when it cannot be exported.

    ``dynamic_batch``: the input's batch axis is left free, so the file takes any batch; a
    model that hard-codes its batch is exported at ``sample``'s (``onnx_batch`` reads which
    one a file got). Otherwise the file takes ``sample``'s shape only.
    """
    import contextlib
    import io
    import warnings

    names = {id(module): name for name, module in model.named_modules()}
    # The exporter reports its steps on stdout and prints the graph it failed on to stderr;
    # the CLI's stdout is the table or the JSON and its stderr one line, so that chatter goes.
    chatter = io.StringIO()
    with (
        warnings.catch_warnings(),
        contextlib.redirect_stdout(chatter),
        contextlib.redirect_stderr(chatter),
    ):
        warnings.simplefilter("ignore")
        if dynamic_batch:
            dynamic = _dynamic_program(model, sample)
            if dynamic is not None:
                return dynamic
        program = _trace(model, sample, names, label)
        return _convert(program, sample, label)


def onnx_batch(path: str | Path) -> int | None:
    """The batch an ONNX file's first input takes: None when its batch axis is dynamic."""
    import onnx

    graph = onnx.load(str(path), load_external_data=False).graph
    initialisers = {initialiser.name for initialiser in graph.initializer}
    first = next(value for value in graph.input if value.name not in initialisers)
    dims = first.type.tensor_type.shape.dim
    return int(dims[0].dim_value) if dims and dims[0].HasField("dim_value") else None


def _onnx_graph_counts(path: Path, swapped: dict[str, int]) -> tuple[int, int, int]:
    """(Conv nodes, depthwise Conv nodes, swapped layers found as a group = C_in Conv)."""
    import onnx

    graph = onnx.load(str(path), load_external_data=False).graph
    shapes = {initializer.name: tuple(initializer.dims) for initializer in graph.initializer}
    convs = depthwise = 0
    found: set[str] = set()
    for node in graph.node:
        if node.op_type != "Conv":
            continue
        convs += 1
        group = next(
            (onnx.helper.get_attribute_value(a) for a in node.attribute if a.name == "group"), 1
        )
        weight = node.input[1] if len(node.input) > 1 else ""
        shape = shapes.get(weight)
        # A depthwise Conv: one input channel per group, as many groups as input channels.
        if group > 1 and shape is not None and shape[1] == 1:
            depthwise += 1
        for layer, in_channels in swapped.items():
            if group == in_channels and weight.startswith(f"{layer}.depthwise"):
                found.add(layer)
    return convs, depthwise, len(found)


def onnx_session(path: str | Path, threads: int | None = None) -> Any:
    """An ONNX Runtime CPU session with all graph optimisations, on ``threads`` intra-op
    threads (None: ONNX Runtime's default) and one inter-op thread: the one place a session
    is made, for checking an export and for timing one (``timers``) alike."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    if threads is not None:
        options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3  # warnings about unused initialisers are noise here
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _chunks(samples: torch.Tensor, fixed_batch: int | None) -> list[torch.Tensor]:
    """``samples`` as the batches a file is checked at: whole batches of its fixed batch; for
    a dynamic batch, the first sample alone and the rest ``CHECK_BATCH`` at a time."""
    if fixed_batch is not None:
        count = samples.shape[0] // fixed_batch * fixed_batch
        return list(samples[:count].split(fixed_batch))
    return [samples[:1], *samples[1:].split(CHECK_BATCH)]


def _relative_error(
    path: Path, model: nn.Module, samples: torch.Tensor, fixed_batch: int | None
) -> float:
    """‖ONNX Runtime − PyTorch‖ / ‖PyTorch‖ over ``samples``, in the batches ``_chunks`` cuts."""
    import numpy
    import torch

    session = onnx_session(path)
    name = session.get_inputs()[0].name
    difference = reference = 0.0
    with torch.inference_mode():
        for chunk in _chunks(samples, fixed_batch):
            chunk = chunk.contiguous()
            expected = model(chunk)
            if not isinstance(expected, torch.Tensor):
                expected = next(iter(torch.utils._pytree.tree_leaves(expected)))
            got = session.run(None, {name: chunk.numpy()})[0]
            expected_array = expected.double().numpy()
            difference += float(numpy.sum((got.astype(numpy.float64) - expected_array) ** 2))
            reference += float(numpy.sum(expected_array**2))
    if reference == 0.0:
        return 0.0 if difference == 0.0 else float("inf")
    return float(numpy.sqrt(difference / reference))


def export_onnx(
    model: nn.Module,
    out: str | Path,
    *,
    input_shape: Shape,
    samples: torch.Tensor | None = None,
    swapped: Sequence[str] = (),
    kind: str = "swapped",
    label: str = "the model",
) -> ExportedModel:
    """Write ``model`` to ``out`` as ONNX at ``input_shape``, checked in ONNX Runtime.

    The check runs ``samples`` (default: one random batch at ``input_shape``; else as many
    whole batches of it as there are, at most ``CHECK_SAMPLES`` samples) through both. The file
    is renamed into place whole, after the check; above ``MAX_RELATIVE_ERROR`` nothing is left
    and ExportError says by how much it missed (``export_checked`` keeps the figure instead).
    """
    exported = export_checked(
        model,
        out,
        input_shape=input_shape,
        samples=samples,
        swapped=swapped,
        kind=kind,
        label=label,
    )
    if exported.relative_error > MAX_RELATIVE_ERROR:
        raise ExportError(_mismatch_message(exported))
    return exported


def _mismatch_message(exported: ExportedModel) -> str:
    """What a file failing the check says."""
    return (
        f"the {exported.model} model's ONNX outputs differ from PyTorch's by "
        f"{exported.relative_error:.2e} (relative), over the {MAX_RELATIVE_ERROR:g} allowed: "
        f"{exported.path} was not written"
    )


def export_checked(
    model: nn.Module,
    out: str | Path,
    *,
    input_shape: Shape,
    samples: torch.Tensor | None = None,
    swapped: Sequence[str] = (),
    kind: str = "swapped",
    label: str = "the model",
) -> ExportedModel:
    """``export_onnx`` that reports a failed check instead of raising: the file is written
    only when it passes, and the result carries the error either way."""
    import torch

    require_deploy()
    model = model.eval()
    destination = Path(out)
    folder = destination.parent if str(destination.parent) else Path(".")
    if destination.is_dir():
        raise ExportError(f"{str(out)!r} is a folder, not a file", field="out")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ExportError(f"{str(out)!r}: {error.strerror}", field="out") from None
    shape = tuple(input_shape)
    batch = shape[0]
    # Enough random samples to check a dynamic batch at 1 and at CHECK_BATCH.
    random_shape = (max(batch, 1 + CHECK_BATCH), *shape[1:])
    if samples is None or samples.shape[0] < batch:
        generator = torch.Generator().manual_seed(0)
        samples = torch.randn(random_shape, generator=generator)
    else:
        samples = samples[: max(batch, min(CHECK_SAMPLES, samples.shape[0]))].float()
    program = export_program(model, samples[:batch].contiguous(), label, dynamic_batch=True)
    modules: dict[str, Any] = dict(model.named_modules())
    swapped_channels = {
        name: int(modules[name].depthwise.in_channels)
        for name in swapped
        if hasattr(modules.get(name), "depthwise")
    }
    handle, temporary_name = tempfile.mkstemp(prefix=f".{destination.name}.", dir=folder)
    os.close(handle)
    temporary = Path(temporary_name)
    try:
        program.save(str(temporary))
        convs, depthwise, found = _onnx_graph_counts(temporary, swapped_channels)
        fixed_batch = onnx_batch(temporary)
        if fixed_batch is not None:
            samples = samples[: max(fixed_batch, samples.shape[0] // fixed_batch * fixed_batch)]
        relative = _relative_error(temporary, model, samples, fixed_batch)
        file_bytes = temporary.stat().st_size
        if relative <= MAX_RELATIVE_ERROR:
            readable_as_umask_allows(temporary)
            os.replace(temporary, destination)
    except OSError as failure:
        raise ExportError(f"{str(out)!r}: {failure.strerror or failure}", field="out") from None
    finally:
        temporary.unlink(missing_ok=True)
    return ExportedModel(
        path=str(destination),
        model=kind,
        relative_error=relative,
        samples=int(samples.shape[0]),
        input_shape=shape,
        conv_nodes=convs,
        depthwise_nodes=depthwise,
        swapped_layers=found,
        file_bytes=file_bytes,
        dynamic_batch=fixed_batch is None,
        notes=() if fixed_batch is None else (fixed_batch_note(fixed_batch),),
    )


def fixed_batch_note(batch: int) -> str:
    """What a file exported at a fixed batch says: it takes that batch only."""
    return (
        f"exported at a fixed batch of {batch}: the model's forward does not trace with a free "
        f"batch size (it hard-codes its batch, or branches on it), so the file takes batches "
        f"of {batch} only"
    )


def original_path(out: str | Path) -> Path:
    """Where ``--original`` writes the original beside FILE: ``name.original.onnx``."""
    destination = Path(out)
    return destination.with_name(f"{destination.stem}.original{destination.suffix or '.onnx'}")


def export_source(
    job: ModelJob,
    out: str | Path,
    *,
    samples: torch.Tensor | None = None,
    sample_source: str = "random",
    original: bool = False,
) -> ExportResult:
    """Build ``job``'s pair (its saved swap, or the swap made now) and export the swapped model
    to ``out`` (with ``original``, the original beside it), each file checked.

    Files failing the check are not written; the result says by how much they missed.
    """
    import onnxruntime
    import torch

    require_deploy()
    original_model, swapped_model, result = build_pair(job)
    shape = job.input_shape or result.input_shape
    assert shape is not None  # build_pair records the input it swapped at
    files = [
        export_checked(
            swapped_model,
            out,
            input_shape=shape,
            samples=samples,
            swapped=result.swapped,
            label=f"the swapped {job.label}",
        )
    ]
    if original:
        files.append(
            export_checked(
                original_model,
                original_path(out),
                input_shape=shape,
                samples=samples,
                kind="original",
                label=job.label,
            )
        )
    return ExportResult(
        source=job.label,
        swap=str(job.swapped_dir) if job.swapped_dir is not None else str(job.selection),
        swapped=tuple(result.swapped),
        files=tuple(files),
        sample_source=sample_source,
        torch_version=torch.__version__,
        onnxruntime_version=onnxruntime.__version__,
    )


#: The file ``swap --onnx`` (and the Model tab's ``e``) writes beside swapped.pt.
ONNX_FILE = "swapped.onnx"


def export_swap(result: SwapResult, folder: str | Path) -> ExportedModel:
    """Write ``result``'s swapped model as DIR/swapped.onnx beside swapped.pt, checked (at
    its recorded input shape, else the source's published one); ExportError when it cannot be
    exported or fails the check (nothing is written then)."""
    from ..describe.source import build_model

    shape = result.input_shape
    if shape is None:
        if result.source is None:
            raise ExportError("the swap records no input shape to export it at")
        shape = build_model(result.source).default_input_shape
    return export_onnx(
        result.model,
        Path(folder) / ONNX_FILE,
        input_shape=shape,
        swapped=result.swapped,
        label=f"the swapped {result.source or 'model'}",
    )


def failure_message(result: ExportResult) -> str | None:
    """The one line saying which files failed the check (None when all passed)."""
    failed = [file for file in result.files if file.relative_error > result.tolerance]
    return "; ".join(_mismatch_message(file) for file in failed) or None
