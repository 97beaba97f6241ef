"""Time an exported ONNX file in OpenVINO (CPU), with its precision set explicitly and the
precision that ran read back from the runtime.

OpenVINO picks its own inference precision unless told: bf16 where the CPU has AMX or
AVX512-BF16, f16 on ARM. A figure called fp32 must ask for f32, and a cell is labelled with
what OpenVINO reports it ran (each compute node's runtime precision in the compiled model),
never with what was asked: a CPU without bf16 kernels runs a bf16 request at f32, silently.
An int8 request compiles a QDQ file (``quantize``) with the f32 hint: the quantized convs run
in int8 and anything left in float stays f32, so the label says both.

Its performance counters (``PERF_COUNT``) give each node's time and the kernel that ran
(``exec_type``, e.g. ``brgconv_avx512_amx_I8``): a second view of a whole model, beside the
alone-timings, mapped to module names through the name scopes the ONNX exporter records.
openvino and onnx are imported inside the functions; openvino is the ``[openvino]`` extra.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ...core.latency import Timing
from ...errors import UserError
from .onnx_names import module_names
from .precision import RanPrecision

#: The extra that installs OpenVINO: ``pip install 'sepconv-tui[openvino]'``.
OPENVINO_EXTRA = "openvino"
#: The ``INFERENCE_PRECISION_HINT`` each precision asks for. int8 comes from the QDQ file itself;
#: the hint keeps what is left in float at f32, so a bf16 default cannot slip in unseen.
PRECISION_HINTS = {"fp32": "f32", "bf16": "bf16", "int8": "f32"}
#: OpenVINO's names for the precisions a node ran at, in this project's words.
RAN_PRECISIONS = {"f32": "fp32", "bf16": "bf16", "f16": "fp16", "i8": "int8", "u8": "int8"}
#: Node types of the compiled model that do the arithmetic: their precision is what ran.
COMPUTE_TYPES = frozenset(
    {"Convolution", "GroupConvolution", "Deconvolution", "FullyConnected", "MatMul"}
)


class OpenVinoError(UserError):
    """OpenVINO missing, or a precision it cannot be asked for; the message says which."""

    default_field = "runtime"


def require_openvino() -> None:
    """OpenVinoError naming the ``[openvino]`` extra unless openvino imports."""
    try:
        import openvino  # noqa: F401
    except ImportError:
        raise OpenVinoError(
            f"OpenVINO needs the openvino package: pip install 'sepconv-tui[{OPENVINO_EXTRA}]'"
        ) from None


def openvino_version() -> str:
    """ "openvino 2026.4.1", the version that compiles and times."""
    import openvino

    return f"openvino {openvino.__version__.split('-')[0]}"


def compile_model(model: Any, precision: str, threads: int, *, perf_count: bool = False) -> Any:
    """``model`` (an ONNX path or an ``openvino.Model``) compiled for the CPU at ``precision``'s
    hint with ``threads`` inference threads, one stream, latency mode."""
    import openvino

    if precision not in PRECISION_HINTS:
        raise OpenVinoError(f"OpenVINO runs {', '.join(PRECISION_HINTS)}, not {precision!r}")
    config = {
        "INFERENCE_PRECISION_HINT": PRECISION_HINTS[precision],
        "INFERENCE_NUM_THREADS": threads,
        "NUM_STREAMS": 1,
        "PERFORMANCE_HINT": "LATENCY",
        "PERF_COUNT": perf_count,
    }
    source = str(model) if isinstance(model, (str, Path)) else model
    return openvino.Core().compile_model(source, "CPU", config)


def _info(op: Any, key: str) -> str:
    """One runtime-info entry of a compiled model's node, as text ("" when absent)."""
    info = op.get_rt_info()
    return str(info[key].astype(str)) if key in info else ""


def node_precisions(compiled: Any) -> list[tuple[str, str]]:
    """(layer type, precision in this project's words) of every node of the compiled model."""
    return [
        (
            _info(op, "layerType"),
            RAN_PRECISIONS.get(_info(op, "runtimePrecision"), _info(op, "runtimePrecision")),
        )
        for op in compiled.get_runtime_model().get_ordered_ops()
    ]


def ran_precision(compiled: Any) -> RanPrecision:
    """What ``compiled`` runs its convs and matmuls at."""
    return RanPrecision.from_nodes(
        precision for kind, precision in node_precisions(compiled) if kind in COMPUTE_TYPES
    )


@dataclass(frozen=True)
class NodeCounter:
    """One executed node of a compiled model: its time in one inference and the kernel."""

    node: str
    layer_type: str
    exec_type: str  # the kernel, e.g. "brgconv_avx512_amx_I8", "jit_avx512_dw_f32"
    real_time_s: float
    module: str | None  # the PyTorch module it came from, when the names allow


def node_counters(compiled: Any, request: Any, modules: Mapping[str, str]) -> list[NodeCounter]:
    """The executed nodes of ``request``'s last inference (compiled with ``PERF_COUNT``),
    each mapped to a module through the ONNX nodes OpenVINO fused into it."""
    fused = {
        op.get_friendly_name(): _info(op, "originalLayersNames").split(",")
        for op in compiled.get_runtime_model().get_ordered_ops()
    }
    counters = []
    for info in request.get_profiling_info():
        if info.status != info.Status.EXECUTED:
            continue
        originals = fused.get(info.node_name, []) + [info.node_name]
        # OpenVINO names the nodes it splits "onnx_node/WithoutBiases"; the ONNX name leads.
        module = next(
            (modules[name.split("/")[0]] for name in originals if name.split("/")[0] in modules),
            None,
        )
        counters.append(
            NodeCounter(
                info.node_name,
                info.node_type,
                info.exec_type,
                info.real_time.total_seconds(),
                module,
            )
        )
    return counters


@dataclass(frozen=True)
class OpenVinoTiming:
    """One ONNX file timed in OpenVINO: what was asked, what ran, and the per-node counters."""

    timing: Timing
    asked: str  # the precision asked for
    ran: RanPrecision  # the precision OpenVINO reports it ran
    threads: int
    version: str
    counters: tuple[NodeCounter, ...] = ()

    def module_times(self) -> dict[str, float]:
        """Seconds per PyTorch module in one inference, summed over its nodes (counters)."""
        times: dict[str, float] = {}
        for counter in self.counters:
            if counter.module is not None:
                times[counter.module] = times.get(counter.module, 0.0) + counter.real_time_s
        return times

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of one OpenVINO cell."""
        return {
            "runtime": "openvino",
            "precision": self.ran.label,
            "asked": self.asked,
            "nodes_by_precision": dict(self.ran.nodes),
            **asdict(self.timing),
            "threads": self.threads,
            "version": self.version,
            "counters": [asdict(counter) for counter in self.counters],
        }


def _input_array(compiled: Any, input_shape: Sequence[int] | None) -> Any:
    """A seeded random input for the compiled model's first input (``input_shape`` when its
    shape is dynamic)."""
    import numpy

    shape_info = compiled.inputs[0].partial_shape
    shape: Sequence[int]
    if shape_info.is_static:
        shape = [int(size) for size in shape_info.to_shape()]
    elif input_shape is not None:
        shape = input_shape
    elif all(size.is_static for size in list(shape_info)[1:]):
        # Only the batch is free (an export that takes any batch): time one sample.
        shape = [1, *(size.get_length() for size in list(shape_info)[1:])]
    else:
        raise OpenVinoError(
            f"the model's input shape {shape_info} is dynamic: give an input shape",
            field="input_shape",
        )
    return numpy.random.default_rng(0).standard_normal(tuple(shape)).astype(numpy.float32)


#: Inferences run with ``PERF_COUNT`` before the counters are read (the first ones warm up).
COUNTER_RUNS = 5


def time_openvino(
    path: str | Path,
    precision: str,
    threads: int,
    min_run_time: float,
    *,
    input_shape: Sequence[int] | None = None,
    counters: bool = False,
) -> OpenVinoTiming:
    """``path`` (ONNX) timed in OpenVINO at ``precision`` and ``threads``, as every runtime is
    timed here (blocked runs, median and IQR); ``counters`` adds each node's time and kernel
    from a second compile with ``PERF_COUNT`` (timed apart: counting slows each node)."""
    from .timers import blocked_autorange  # the project's one timing loop

    require_openvino()
    compiled = compile_model(path, precision, threads)
    x = _input_array(compiled, input_shape)
    request = compiled.create_infer_request()
    timing = blocked_autorange(lambda: request.infer({0: x}), min_run_time)
    counted: list[NodeCounter] = []
    if counters:
        profiled = compile_model(path, precision, threads, perf_count=True)
        profile_request = profiled.create_infer_request()
        for _ in range(COUNTER_RUNS):
            profile_request.infer({0: x})
        counted = node_counters(profiled, profile_request, module_names(path))
    return OpenVinoTiming(
        timing,
        precision,
        ran_precision(compiled),
        threads,
        openvino_version(),
        tuple(counted),
    )


def time_openvino_file(
    path: str, shape: Sequence[int], threads: int, min_run_time: float, precision: str
) -> Timing:
    """The runtime table's timer (``timer(path, input_shape, threads, min_run_time,
    precision)``): ``path`` in OpenVINO with ``precision``'s hint; OpenVinoError unless every
    conv and matmul ran at ``precision`` (most of them: "int8+fp32" is int8 with a layer left
    in float), so a figure is labelled with what ran (``openvino_ran_label``)."""
    timed = time_openvino(path, str(precision), threads, min_run_time, input_shape=shape)
    if timed.ran.label.split("+")[0] != precision:
        raise OpenVinoError(
            f"OpenVINO ran the {precision} request at {timed.ran.label}", field="precision"
        )
    return timed.timing


def openvino_ran_label(path: str, precision: str, threads: int) -> str:
    """The runtime table's ``ran`` for OpenVINO: what it runs ``path``'s convs and matmuls at
    with ``precision``'s hint, as it reports it."""
    return ran_precision(compile_model(path, precision, threads)).label


def openvino_module_times(
    path: str, shape: Sequence[int], precision: str, threads: int
) -> dict[str, float]:
    """The runtime table's ``counters`` for OpenVINO: seconds per PyTorch module in one
    inference of ``path`` (at input ``shape``) at ``precision``, from its PERF_COUNT counters."""
    compiled = compile_model(path, precision, threads, perf_count=True)
    x = _input_array(compiled, shape)
    request = compiled.create_infer_request()
    for _ in range(COUNTER_RUNS):
        request.infer({0: x})
    modules = module_names(path)
    fused = {
        op.get_friendly_name(): _info(op, "originalLayersNames").split(",")
        for op in compiled.get_runtime_model().get_ordered_ops()
    }
    times: dict[str, float] = {}
    for info in request.get_profiling_info():
        if info.status != info.Status.EXECUTED:
            continue
        # A node OpenVINO fused (conv, batch norm, add, ReLU) counts for each module in it: a
        # conv's time in the model is its fused node's.
        names = {name.split("/")[0] for name in [*fused.get(info.node_name, []), info.node_name]}
        for module in {modules[name] for name in names if name in modules}:
            times[module] = times.get(module, 0.0) + info.real_time.total_seconds()
    return times
