"""int8 by ONNX Runtime's static quantization of an exported ONNX file, and how far it moves
the outputs.

QDQ format (QuantizeLinear / DequantizeLinear pairs around each quantized op, which ONNX
Runtime and OpenVINO both fuse into int8 kernels), uint8 activations, int8 weights, per output
channel by default (per tensor to compare: the literature has per-tensor int8 collapsing
MobileNets, whose depthwise filters differ in range by orders of magnitude). The activation
ranges are calibrated on the samples given (the fit split, never the test split) or, without
data, on seeded random inputs, which a note says: scales fitted on noise are not the ones a
deployment would use. Agreement with fp32 is measured on samples, never assumed.

onnx and onnxruntime are imported inside the functions; they are the ``[deploy]`` extra.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
import weakref
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...errors import UserError, first_line
from .onnx_names import module_names
from .precision import RanPrecision

#: The packages quantization needs, installed by ``pip install 'sepconv-tui[deploy]'``.
QUANTIZE_PACKAGES = ("onnx", "onnxruntime")
#: Random inputs the ranges are calibrated on when no samples are given.
RANDOM_CALIBRATION = 16
#: Samples calibrated on at most (the first ones): ranges settle long before.
MAX_CALIBRATION = 256
#: Samples per run when comparing files whose batch is dynamic.
COMPARE_BATCH = 64
#: ONNX op types that carry weights; quantized or not, each is counted.
WEIGHTED_OPS = ("Conv", "ConvTranspose", "Gemm", "MatMul")


#: ONNX Runtime's compute ops after its graph optimisations, by the precision they compute in:
#: a QDQ pair it fused runs as an integer op, one it could not stays a float op between them.
ONNXRUNTIME_INT8_OPS = frozenset(
    {
        "QLinearConv",
        "ConvInteger",
        "MatMulInteger",
        "QLinearMatMul",
        "MatMulIntegerToFloat",
        "QGemm",
        "DynamicQuantizeMatMul",
    }
)
ONNXRUNTIME_FLOAT_OPS = frozenset(
    {"Conv", "FusedConv", "ConvTranspose", "Gemm", "FusedGemm", "MatMul", "FusedMatMul"}
)


class QuantizeError(UserError):
    """A model that cannot be quantized, or packages that are missing; the message says which."""

    default_field = "source"


def require_quantize() -> None:
    """QuantizeError naming the ``[deploy]`` extra unless onnx and onnxruntime load."""
    import importlib

    missing = []
    for package in QUANTIZE_PACKAGES:
        try:
            importlib.import_module(package)
        except ImportError:
            missing.append(package)
    if missing:
        raise QuantizeError(
            f"int8 needs the {' and '.join(missing)} package{'s' if len(missing) > 1 else ''}: "
            "pip install 'sepconv-tui[deploy]'",
            field="precision",
        )


@dataclass(frozen=True)
class QuantizedModel:
    """One int8 QDQ file: how it was calibrated and which ops were quantized."""

    path: str
    source_path: str
    per_channel: bool
    calibration: str  # "16 random inputs" or "64 samples"
    calibration_samples: int
    quantized_ops: dict[str, int]  # op type → nodes whose weights were quantized
    float_ops: dict[str, int]  # op type → weighted nodes left in float
    file_bytes: int
    notes: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of one int8 file."""
        return {
            "path": self.path,
            "source": self.source_path,
            "precision": "int8",
            "format": "QDQ",
            "activations": "uint8",
            "weights": "int8",
            "per_channel": self.per_channel,
            "calibration": self.calibration,
            "calibration_samples": self.calibration_samples,
            "quantized_ops": dict(self.quantized_ops),
            "float_ops": dict(self.float_ops),
            "bytes": self.file_bytes,
            "notes": list(self.notes),
        }


def _graph_input(path: str | Path) -> tuple[str, list[int | None]]:
    """The ONNX file's first input: its name and dims (None where symbolic)."""
    import onnx

    graph = onnx.load(str(path), load_external_data=False).graph
    initialisers = {initialiser.name for initialiser in graph.initializer}
    first = next(value for value in graph.input if value.name not in initialisers)
    dims = [
        dim.dim_value if dim.HasField("dim_value") else None
        for dim in first.type.tensor_type.shape.dim
    ]
    return first.name, dims


def _as_array(samples: Any) -> Any:
    """``samples`` (a torch tensor or anything numpy takes) as a float32 numpy array."""
    import numpy

    if hasattr(samples, "detach"):
        samples = samples.detach().cpu().numpy()
    return numpy.ascontiguousarray(samples, dtype=numpy.float32)


def batches(samples: Any, batch: int) -> Iterator[Any]:
    """``samples`` in whole batches of ``batch`` (a remainder is dropped: a file exported at a
    fixed batch takes no other)."""
    for start in range(0, samples.shape[0] - batch + 1, batch):
        yield samples[start : start + batch]


def _reader(name: str, chunks: Sequence[Any]) -> Any:
    """An ONNX Runtime CalibrationDataReader over ``chunks`` fed as input ``name``."""
    from onnxruntime.quantization import CalibrationDataReader

    class Reader(CalibrationDataReader):
        """Hands the quantizer one batch per call, then None."""

        def __init__(self) -> None:
            self._chunks = iter(chunks)

        def get_next(self) -> dict[str, Any] | None:
            chunk = next(self._chunks, None)
            return None if chunk is None else {name: chunk}

    return Reader()


def _calibration_chunks(
    path: str | Path, samples: Any, random_count: int, seed: int
) -> tuple[str, list[Any], str, tuple[str, ...]]:
    """(input name, calibration batches, what they were, notes)."""
    import numpy

    name, dims = _graph_input(path)
    batch = dims[0] if dims and dims[0] else 1
    if samples is None:
        sample_shape = [dim for dim in dims[1:] if dim is not None]
        if len(sample_shape) < len(dims) - 1:
            raise QuantizeError(
                "the model's input has dynamic sizes: calibrate it on samples", field="data"
            )
        rng = numpy.random.default_rng(seed)
        count = max(random_count, batch)
        array = rng.standard_normal((count, *sample_shape)).astype(numpy.float32)
        note = (
            f"calibrated on {count} random inputs, not data: the int8 ranges fit noise, so give "
            "samples of the data it will see for figures to deploy on"
        )
        return name, list(batches(array, batch)), f"{count} random inputs", (note,)
    array = _as_array(samples)[:MAX_CALIBRATION]
    chunks = list(batches(array, batch))
    if not chunks:
        raise QuantizeError(
            f"calibration needs at least {batch} samples, got {array.shape[0]}", field="data"
        )
    return name, chunks, f"{len(chunks) * batch} samples", ()


def _op_counts(path: str | Path) -> tuple[dict[str, int], dict[str, int]]:
    """(quantized, float) weighted op types of a QDQ file: a weighted node is quantized when
    its weight comes out of a DequantizeLinear node."""
    import onnx

    graph = onnx.load(str(path), load_external_data=False).graph
    dequantized = {node.output[0] for node in graph.node if node.op_type == "DequantizeLinear"}
    quantized: dict[str, int] = {}
    kept: dict[str, int] = {}
    for node in graph.node:
        if node.op_type not in WEIGHTED_OPS or len(node.input) < 2:
            continue
        counts = quantized if node.input[1] in dequantized else kept
        counts[node.op_type] = counts.get(node.op_type, 0) + 1
    return quantized, kept


#: How ONNX Runtime names an op it cannot run: "domain:Op(-1) is not a registered function/op",
#: "Could not find an implementation for Op(13) node with name 'n'".
UNRUNNABLE_OP = re.compile(
    r"(?:[\w.]*:)?(\w+)\(-?\d+\) is not a registered|implementation for (\w+)\(-?\d+\)"
)


def _failure_message(error: BaseException, path: str | Path, label: str) -> str:
    """One line for a model the quantizer cannot take: the op, its node and its module."""
    import onnx

    text = str(error)
    nodes = list(onnx.load(str(path), load_external_data=False).graph.node)
    match = UNRUNNABLE_OP.search(text)
    op = (match.group(1) or match.group(2)) if match else None
    # The node the message names (longest names first: "conv_1" is not "conv"), else the
    # first node of the op it names.
    named = [node for node in sorted(nodes, key=lambda node: -len(node.name)) if node.name]
    node = next((node for node in named if node.name in text), None) or next(
        (node for node in nodes if node.op_type == op), None
    )
    if node is None:
        return f"cannot quantize {label} to int8: {first_line(error)}"
    module = module_names(path).get(node.name)
    where = f" in layer {module!r}" if module else ""
    reason = "ONNX Runtime has no kernel for it" if match else first_line(error)
    return (
        f"cannot quantize {label} to int8: its {node.op_type} op (node {node.name!r}{where}) "
        f"cannot be calibrated: {reason}"
    )


def quantize_onnx(
    source: str | Path,
    out: str | Path,
    *,
    samples: Any = None,
    per_channel: bool = True,
    random_count: int = RANDOM_CALIBRATION,
    seed: int = 0,
    label: str = "the model",
) -> QuantizedModel:
    """Write ``source`` (an fp32 ONNX file) to ``out`` as static int8 QDQ, calibrated on
    ``samples`` (N × the input's per-sample shape; at most ``MAX_CALIBRATION`` are used) or on
    ``random_count`` seeded random inputs (with a note). The file is renamed into place whole;
    QuantizeError naming the op when the quantizer cannot take the model."""
    require_quantize()
    name, chunks, calibration, notes = _calibration_chunks(source, samples, random_count, seed)
    # The quantizer logs its advice through the root logger; the figures and notes say it here.
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        return _quantize(source, out, name, chunks, calibration, notes, per_channel, label)
    finally:
        root.setLevel(level)


def _quantize(
    source: str | Path,
    out: str | Path,
    name: str,
    chunks: list[Any],
    calibration: str,
    notes: tuple[str, ...],
    per_channel: bool,
    label: str,
) -> QuantizedModel:
    """quantize_onnx's work, once the calibration batches are made."""
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    destination = Path(out)
    folder = destination.parent
    if destination.is_dir():
        raise QuantizeError(f"{str(out)!r} is a folder, not a file", field="out")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as failure:
        raise QuantizeError(f"{str(out)!r}: {failure.strerror or failure}", field="out") from None
    with tempfile.TemporaryDirectory(dir=folder) as scratch:
        prepared = Path(scratch) / "prepared.onnx"
        try:  # shape inference and folding first, as ONNX Runtime recommends
            quant_pre_process(str(source), str(prepared), skip_symbolic_shape=False)
        except Exception:
            prepared = Path(source)
            notes = (*notes, "quantized without pre-processing: its shape inference failed")
        temporary = Path(scratch) / destination.name
        try:
            quantize_static(
                str(prepared),
                str(temporary),
                _reader(name, chunks),
                quant_format=QuantFormat.QDQ,
                activation_type=QuantType.QUInt8,
                weight_type=QuantType.QInt8,
                per_channel=per_channel,
            )
        except UserError:
            raise
        except Exception as error:
            raise QuantizeError(_failure_message(error, source, label)) from None
        quantized, kept = _op_counts(temporary)
        if not quantized:
            raise QuantizeError(
                f"cannot quantize {label} to int8: none of its {', '.join(WEIGHTED_OPS)} "
                "nodes was quantized"
            )
        if kept:
            listed = ", ".join(f"{count} {op}" for op, count in kept.items())
            notes = (*notes, f"left in float: {listed}")
        file_bytes = temporary.stat().st_size
        try:
            os.replace(temporary, destination)
        except OSError as failure:
            raise QuantizeError(
                f"{str(out)!r}: {failure.strerror or failure}", field="out"
            ) from None
    return QuantizedModel(
        path=str(destination),
        source_path=str(source),
        per_channel=per_channel,
        calibration=calibration,
        calibration_samples=sum(int(chunk.shape[0]) for chunk in chunks),
        quantized_ops=quantized,
        float_ops=kept,
        file_bytes=file_bytes,
        notes=notes,
    )


@dataclass(frozen=True)
class OutputAgreement:
    """How closely one ONNX file's outputs follow another's on the same samples."""

    samples: int
    agreement: float | None  # share of samples with the same top-1 class (None: not a classifier)
    relative_error: float  # ‖y − y_reference‖ / ‖y_reference‖ over all samples

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of one comparison."""
        return {
            "samples": self.samples,
            "agreement": self.agreement,
            "relative_error": self.relative_error,
        }


def compare_onnx(
    reference: str | Path, candidate: str | Path, samples: Any, threads: int = 1
) -> OutputAgreement:
    """``candidate``'s first output against ``reference``'s on ``samples`` (in whole batches of
    the reference's input batch): top-1 agreement (for an N × classes output) and relative error."""
    import numpy

    from .export import onnx_session

    require_quantize()
    array = _as_array(samples)
    _, dims = _graph_input(reference)
    # A file with a fixed batch takes whole batches of it; one with a dynamic batch takes
    # COMPARE_BATCH samples at a time, and the rest.
    fixed = bool(dims and dims[0])
    batch = int(dims[0]) if fixed and dims[0] else COMPARE_BATCH
    chunks = (
        batches(array, batch)
        if fixed
        else (array[start : start + batch] for start in range(0, array.shape[0], batch))
    )
    sessions = [onnx_session(path, threads) for path in (reference, candidate)]
    names = [session.get_inputs()[0].name for session in sessions]
    same = total = 0
    difference = norm = 0.0
    classifier = True
    for chunk in chunks:
        expected, got = (
            session.run(None, {name: chunk})[0].astype(numpy.float64)
            for session, name in zip(sessions, names, strict=True)
        )
        difference += float(numpy.sum((got - expected) ** 2))
        norm += float(numpy.sum(expected**2))
        classifier = classifier and expected.ndim == 2 and expected.shape[1] > 1
        if classifier:
            same += int(numpy.sum(expected.argmax(axis=1) == got.argmax(axis=1)))
        total += int(chunk.shape[0])
    if total == 0:
        raise QuantizeError(f"comparison needs at least {batch} samples", field="data")
    if norm:
        relative = float(numpy.sqrt(difference / norm))
    else:
        relative = 0.0 if difference == 0.0 else float("inf")
    return OutputAgreement(total, same / total if classifier else None, relative)


def onnxruntime_ran(path: str | Path, threads: int = 1) -> RanPrecision:
    """The precision ONNX Runtime runs ``path``'s convs and matmuls at, read from the graph it
    optimised (all optimisations, as timed): integer ops (QLinearConv, …) where it fused the
    QDQ pairs, float ops where it did not."""
    require_quantize()
    import onnx
    import onnxruntime

    with tempfile.TemporaryDirectory() as folder:
        optimised = Path(folder) / "optimised.onnx"
        # Built here, not by export.onnx_session: only this one saves its optimised graph.
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.optimized_model_filepath = str(optimised)
        options.log_severity_level = 3
        onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        nodes = onnx.load(str(optimised), load_external_data=False).graph.node
        return RanPrecision.from_nodes(
            "int8" if node.op_type in ONNXRUNTIME_INT8_OPS else "fp32"
            for node in nodes
            if node.op_type in ONNXRUNTIME_INT8_OPS | ONNXRUNTIME_FLOAT_OPS
        )


def onnxruntime_ran_label(path: str, precision: str, threads: int) -> str:
    """The runtime table's ``ran`` for ONNX Runtime: the label of what it runs ``path`` at."""
    return onnxruntime_ran(path, threads).label


#: Files this process already exported, by module (weakly: gone with it), then by what makes
#: the file (the module's structure, the input shape, int8 or not, per channel or not). The
#: matrix hands the same module to several cells, and the export is what takes long.
_EXPORTED: weakref.WeakKeyDictionary[Any, dict[tuple[Any, ...], bytes]] = (
    weakref.WeakKeyDictionary()
)


def _exported(module: Any, key: tuple[Any, ...], path: Path, write: Any) -> None:
    """``path`` written by ``write(path)``, or copied from this process's earlier export of
    the same ``module`` and ``key``."""
    try:
        files = _EXPORTED.setdefault(module, {})
    except TypeError:  # not weakly referable: exported each time
        write(path)
        return
    key = (repr(module), *key)
    if key not in files:
        write(path)
        files[key] = Path(path).read_bytes()
    else:
        Path(path).write_bytes(files[key])


def _fingerprint(samples: Any) -> str | None:
    """What identifies calibration ``samples`` (the ones used: the first MAX_CALIBRATION),
    None for random inputs."""
    if samples is None:
        return None
    import hashlib

    return hashlib.sha1(_as_array(samples)[:MAX_CALIBRATION].tobytes()).hexdigest()


def export_onnx_at(
    module: Any,
    x: Any,
    path: Path,
    label: str,
    precision: str,
    *,
    per_channel: bool = True,
    calibration: Any = None,
) -> dict[str, str]:
    """The runtime table's ONNX exporter: ``module`` exported to ``path`` at fp32 (a float
    precision is the runtime's to run), or for int8 exported, then quantized to static QDQ
    (``per_channel`` or per tensor), calibrated on ``calibration`` (samples: the fit split)
    or, without them, on random inputs of ``x``'s shape. A module exported before in this
    process with the same calibration is copied from then (so the fidelity of a matrix cell
    runs the very file its timing ran)."""
    from .timers import export_onnx_file

    shape = tuple(x.shape)

    def fp32(target: Path) -> None:
        _exported(
            module, (shape,), target, lambda out: export_onnx_file(module, x, out, label, "fp32")
        )

    if precision != "int8":
        fp32(path)
        return {}

    def int8(target: Path) -> None:
        with tempfile.TemporaryDirectory(dir=Path(target).parent) as scratch:
            source = Path(scratch) / "fp32.onnx"
            fp32(source)
            quantize_onnx(source, target, samples=calibration, per_channel=per_channel, label=label)

    _exported(module, (shape, "int8", per_channel, _fingerprint(calibration)), path, int8)
    return {}
