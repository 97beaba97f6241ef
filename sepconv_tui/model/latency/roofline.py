"""The limit: how fast a conv and its separable block could run on this machine at best.

Each kernel's time is at least max(FLOPs / peak FLOP/s, bytes / memory bandwidth) (the
roofline). The peak is measured per precision, in the runtime that runs that precision (a
large matmul: torch for fp32, OpenVINO for bf16, ONNX Runtime's MatMulInteger for int8), never
scaled from fp32; the bandwidth by a streaming copy. They are measured once per machine and
thread count, in a few seconds, and kept as JSON under the user's cache directory.

A conv's bytes are its input read, its output written and its weights. The block runs as two
kernels, so its bound is the depthwise conv's plus the pointwise conv's: the depthwise output is
written by one and read by the other (counted twice). A k×k depthwise conv does 2·k² FLOPs per
output element and moves about 2 elements for it (one read, one written): k² / s FLOP per byte at
``s`` bytes per element, 2.25 for 3×3 at fp32. That is far below any CPU's ridge point
R = peak / bandwidth (tens to hundreds of FLOP per byte), so it is memory-bound, and faster
arithmetic (VNNI, AMX, bf16) speeds up the dense conv and leaves the depthwise conv where it
was. In time units of one MAC at peak per output position and input channel (stride 1,
weights left out), each kernel costs the larger of its MACs and its traffic s·R·(elements
moved per position) / (2·C_in):

    conv       max(k²·C_out,  s·R·(C_in + C_out) / (2·C_in))
    depthwise  max(m·k²,      s·R·(1 + m) / 2)
    pointwise  max(m·C_out,   s·R·(m·C_in + C_out) / (2·C_in))
    bound speed-up = conv / (depthwise + pointwise);  MAC ratio = k²·C_out / (m·k² + m·C_out)

With C_in = C_out = C and m = 1: bound = max(k²·C, s·R) / (max(k², s·R) + max(C, s·R)). Once
s·R > k² (a 3×3 depthwise conv is memory-bound whenever the ridge is above 9 / s FLOP per
byte) the depthwise conv costs s·R instead of k², and once s·R > C the pointwise conv does too:
int8 on VNNI or AMX raises the peak, not the bandwidth, so R grows and the bound falls further
below the MAC ratio. ``bound_speed_ratio`` is never above the MAC ratio where the block has
fewer MACs (tests check it).

torch, onnx, onnxruntime and openvino are imported inside the functions that measure.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...core.analytic import conv_macs, conv_params
from ...core.figures import ConvFigures, Figures, SeparableFigures
from ...core.spec import LayerSpec
from ...errors import UserError
from ..deploy.precision import ELEMENT_BYTES
from ..vocabulary.analysis import ModelLayer
from ..vocabulary.machine import Machine, this_machine

#: The precisions a peak is measured for, and the runtime that runs each one.
PEAK_RUNTIMES = {"fp32": "torch", "bf16": "openvino", "int8": "onnxruntime"}
#: The square matmul the peaks are measured on: large enough to run at the kernels' peak,
#: small enough for a second or so at one thread.
MATMUL_SIZE = 1536
#: Bytes copied per streaming pass: far beyond the caches, so the copy runs at memory speed.
STREAM_BYTES = 256 * 2**20
#: Each measurement runs for at least this long (seconds).
MEASURE_S = 0.3
#: The cache file under the cache directory.
CACHE_FILE = "roofline.json"
#: Bumped when what is measured (or how) changes, so older cached figures are not reused.
CACHE_VERSION = 1


class RooflineError(UserError):
    """A bound that cannot be given: a precision with no measured peak, a layer without shapes."""

    default_field = "precision"


@dataclass(frozen=True)
class Limits:
    """This machine's measured peaks (FLOP/s per precision) and memory bandwidth."""

    threads: int
    peak_flops: Mapping[str, float]
    bandwidth_bytes_s: float
    absent: Mapping[str, str]  # precision → why its peak was not measured

    def peak(self, precision: str) -> float:
        """The peak FLOP/s at ``precision``; RooflineError saying why when it was not measured."""
        if precision in self.peak_flops:
            return self.peak_flops[precision]
        reason = self.absent.get(precision, "not measured")
        raise RooflineError(f"no peak FLOP/s at {precision} on this machine: {reason}")

    def to_dict(self) -> dict[str, Any]:
        """The JSON object kept in the cache."""
        return {
            "threads": self.threads,
            "peak_flops": dict(self.peak_flops),
            "bandwidth_bytes_s": self.bandwidth_bytes_s,
            "absent": dict(self.absent),
        }

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> Limits:
        """The inverse of ``to_dict``."""
        return cls(
            int(values["threads"]),
            {key: float(value) for key, value in values["peak_flops"].items()},
            float(values["bandwidth_bytes_s"]),
            dict(values["absent"]),
        )


# Measuring -----------------------------------------------------------------------------------


def _timed(call: Callable[[], Any]) -> float:
    """The median seconds of one ``call``, timed as every runtime here is timed."""
    from ..deploy.timers import blocked_autorange  # the project's one timing loop

    return blocked_autorange(call, MEASURE_S).median_s


def _matmul_flops(size: int) -> float:
    """FLOPs of one size × size by size × size matmul (a multiply and an add per MAC)."""
    return 2.0 * size**3


def peak_fp32(threads: int, size: int | None = None) -> float:
    """fp32 FLOP/s of a large torch matmul at ``threads`` threads."""
    size = size or MATMUL_SIZE
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        generator = torch.Generator().manual_seed(0)
        a = torch.randn(size, size, generator=generator)
        b = torch.randn(size, size, generator=generator)
        out = torch.empty(size, size)
        with torch.inference_mode():
            seconds = _timed(lambda: torch.mm(a, b, out=out))
    finally:
        torch.set_num_threads(before)
    return _matmul_flops(size) / seconds


def peak_bf16(threads: int, size: int | None = None) -> float:
    """bf16 FLOP/s of a large matmul compiled by OpenVINO with the bf16 hint; RooflineError
    when OpenVINO ran it at another precision (a CPU without bf16 kernels)."""
    size = size or MATMUL_SIZE
    import numpy
    import openvino
    from openvino import opset13

    from ..deploy.openvino_timer import compile_model, node_precisions

    weights = numpy.random.default_rng(0).standard_normal((size, size)).astype(numpy.float32)
    left = opset13.parameter([size, size], numpy.float32, name="a")
    product = opset13.matmul(left, opset13.constant(weights), False, False)
    compiled = compile_model(openvino.Model([product], [left], "peak"), "bf16", threads)
    ran = {precision for kind, precision in node_precisions(compiled) if kind != "Reorder"}
    if "bf16" not in ran:
        raise RooflineError(
            f"OpenVINO ran the bf16 matmul at {', '.join(sorted(ran)) or 'no precision'}: "
            "this CPU has no bf16 kernels"
        )
    request = compiled.create_infer_request()
    feed = {0: numpy.ones((size, size), numpy.float32)}
    return _matmul_flops(size) / _timed(lambda: request.infer(feed))


def peak_int8(threads: int, size: int | None = None) -> float:
    """int8 operations per second of ONNX Runtime's MatMulInteger (uint8 × int8 → int32) on a
    large matmul, at ``threads`` threads (a multiply-add counts as 2, as for FLOPs)."""
    size = size or MATMUL_SIZE
    import numpy
    import onnx
    from onnx import TensorProto, helper

    from ..deploy.export import onnx_session

    rng = numpy.random.default_rng(0)
    weights = rng.integers(-127, 128, (size, size), dtype=numpy.int8)
    graph = helper.make_graph(
        [helper.make_node("MatMulInteger", ["a", "b", "a_zero"], ["y"])],
        "peak",
        [helper.make_tensor_value_info("a", TensorProto.UINT8, [size, size])],
        [helper.make_tensor_value_info("y", TensorProto.INT32, [size, size])],
        [
            onnx.numpy_helper.from_array(weights, "b"),
            onnx.numpy_helper.from_array(numpy.array(128, numpy.uint8), "a_zero"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "peak.onnx"
        onnx.save(model, str(path))
        session = onnx_session(path, threads)
    feed = {"a": rng.integers(0, 256, (size, size), dtype=numpy.uint8)}
    return _matmul_flops(size) / _timed(lambda: session.run(None, feed))


def stream_bandwidth(threads: int, nbytes: int | None = None) -> float:
    """Bytes per second of a streaming copy (each byte read once and written once) of
    ``nbytes`` at ``threads`` threads."""
    nbytes = nbytes or STREAM_BYTES
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        source = torch.ones(nbytes // 4)
        destination = torch.empty_like(source)
        seconds = _timed(lambda: destination.copy_(source))
    finally:
        torch.set_num_threads(before)
    return 2.0 * source.nbytes / seconds


#: How each precision's peak is measured, and the package each one needs.
PEAKS: dict[str, tuple[Callable[[int], float], str]] = {
    "fp32": (peak_fp32, "torch"),
    "bf16": (peak_bf16, "openvino"),
    "int8": (peak_int8, "onnxruntime"),
}


def measure_limits(threads: int, precisions: Sequence[str] = tuple(PEAKS)) -> Limits:
    """Measure each precision's peak and the bandwidth now, at ``threads`` threads; a precision
    whose runtime is missing (or cannot run it here) is absent, with the reason."""
    import importlib

    bandwidth = stream_bandwidth(threads)
    peaks: dict[str, float] = {}
    absent: dict[str, str] = {}
    for precision in precisions:
        measure, package = PEAKS[precision]
        try:
            importlib.import_module(package)
        except ImportError:
            absent[precision] = f"{package} is not installed"
            continue
        try:
            peaks[precision] = measure(threads)
        except RooflineError as error:
            absent[precision] = error.message
    return Limits(threads, peaks, bandwidth, absent)


# The cache -----------------------------------------------------------------------------------


def cache_directory() -> Path:
    """The user's cache directory for sepconv-tui: $XDG_CACHE_HOME/sepconv-tui, else
    ~/.cache/sepconv-tui."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "sepconv-tui"


def cache_key(machine: Machine) -> str:
    """What cached limits are valid for: the CPU, its flags, the threads and the versions of
    the runtimes that measured them."""
    versions = ",".join(f"{name}={version}" for name, version in sorted(machine.versions.items()))
    return f"v{CACHE_VERSION}|{machine.cpu}|{','.join(machine.flags)}|{machine.threads}|{versions}"


def _read_cache(path: Path) -> dict[str, Any]:
    """The cache file's entries ({} when missing or unreadable: it is measured again)."""
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return entries if isinstance(entries, dict) else {}


def machine_limits(
    threads: int,
    *,
    cache_dir: str | Path | None = None,
    refresh: bool = False,
    measure: Callable[[int], Limits] = measure_limits,
) -> Machine:
    """This machine with its limits at ``threads`` threads: read from the cache, or measured
    now (``refresh``: always) and written there whole (a rename, so no half-written file)."""
    machine = this_machine(threads)
    folder = Path(cache_dir) if cache_dir is not None else cache_directory()
    path = folder / CACHE_FILE
    key = cache_key(machine)
    entries = _read_cache(path)
    limits: Limits | None = None
    if not refresh and key in entries:
        try:
            limits = Limits.from_dict(entries[key])
        except (KeyError, TypeError, ValueError):
            limits = None
    if limits is None:
        limits = measure(threads)
        entries[key] = {**limits.to_dict(), "measured": time.strftime("%Y-%m-%dT%H:%M:%S")}
        try:
            folder.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(prefix=f".{CACHE_FILE}.", dir=folder)
            with os.fdopen(handle, "w", encoding="utf-8") as file:
                json.dump(entries, file, indent=1)
            os.replace(temporary, path)
        except OSError:  # a read-only home: the figures are still good for this run
            pass
    return machine.with_limits(limits.peak_flops, limits.bandwidth_bytes_s, limits.absent)


def limits_of(machine: Machine) -> Limits:
    """The limits a machine record carries; RooflineError when they were not measured."""
    if machine.bandwidth_bytes_s is None:
        raise RooflineError("this machine's limits were not measured")
    return Limits(
        machine.threads, machine.peak_flops, machine.bandwidth_bytes_s, machine.peak_absent
    )


# Bounds --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KernelCost:
    """One kernel's arithmetic and memory traffic."""

    flops: int
    bytes: int

    def time_s(self, peak_flops: float, bandwidth_bytes_s: float) -> float:
        """The roofline time: max(FLOPs / peak, bytes / bandwidth)."""
        return max(self.flops / peak_flops, self.bytes / bandwidth_bytes_s)


def _elements(shape: Sequence[int]) -> int:
    """Elements in a tensor of ``shape``."""
    count = 1
    for size in shape:
        count *= size
    return count


def kernel_cost(
    input_shape: Sequence[int], conv: ConvFigures, element_bytes: int
) -> KernelCost | None:
    """A conv's FLOPs (2 × MACs) and bytes (input read + output written + weights and bias);
    None when it has no output."""
    if conv.macs is None or conv.output_shape is None:
        return None
    moved = _elements(input_shape) + _elements(conv.output_shape) + conv.params
    return KernelCost(2 * conv.macs, element_bytes * moved)


@dataclass(frozen=True)
class LayerBound:
    """A conv's and its block's roofline times at one precision on one machine."""

    name: str
    precision: str
    conv: KernelCost
    depthwise: KernelCost
    pointwise: KernelCost
    conv_s: float
    block_s: float  # the depthwise bound plus the pointwise bound (two kernels)
    mac_ratio: float
    depthwise_memory_bound: bool  # its bytes / bandwidth is above its FLOPs / peak

    @property
    def bound_speed_ratio(self) -> float:
        """The most the swap can speed this layer up: conv bound ÷ block bound."""
        return self.conv_s / self.block_s

    def efficiency(self, conv_measured_s: float, block_measured_s: float) -> dict[str, float]:
        """Bound time ÷ measured time for each side (1 = at the limit)."""
        return {"conv": self.conv_s / conv_measured_s, "block": self.block_s / block_measured_s}

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of one layer's bound."""
        return {
            "name": self.name,
            "precision": self.precision,
            "conv_bound_s": self.conv_s,
            "block_bound_s": self.block_s,
            "bound_speed_ratio": self.bound_speed_ratio,
            "mac_ratio": self.mac_ratio,
            "depthwise_memory_bound": self.depthwise_memory_bound,
            "flops": {
                "conv": self.conv.flops,
                "depthwise": self.depthwise.flops,
                "pointwise": self.pointwise.flops,
            },
            "bytes": {
                "conv": self.conv.bytes,
                "depthwise": self.depthwise.bytes,
                "pointwise": self.pointwise.bytes,
            },
        }


def figures_bound(
    name: str,
    input_shape: Sequence[int],
    figures: Figures,
    precision: str,
    limits: Limits,
) -> LayerBound:
    """The bound of a conv and its block, given both sides' closed-form figures."""
    peak, bandwidth = limits.peak(precision), limits.bandwidth_bytes_s
    element_bytes = ELEMENT_BYTES[precision]
    separable = figures.separable
    conv = kernel_cost(input_shape, figures.standard, element_bytes)
    depthwise = kernel_cost(input_shape, separable.depthwise, element_bytes)
    middle = separable.depthwise.output_shape
    pointwise = None if middle is None else kernel_cost(middle, separable.pointwise, element_bytes)
    if conv is None or depthwise is None or pointwise is None:
        raise RooflineError(f"{name} has no output to bound")
    block_s = depthwise.time_s(peak, bandwidth) + pointwise.time_s(peak, bandwidth)
    return LayerBound(
        name=name,
        precision=precision,
        conv=conv,
        depthwise=depthwise,
        pointwise=pointwise,
        conv_s=conv.time_s(peak, bandwidth),
        block_s=block_s,
        mac_ratio=conv.flops / (depthwise.flops + pointwise.flops),
        depthwise_memory_bound=depthwise.bytes / bandwidth >= depthwise.flops / peak,
    )


def spec_bound(spec: LayerSpec, precision: str, limits: Limits) -> LayerBound:
    """The bound of one LayerSpec's standard conv and separable block (the one-layer bench)."""
    from ...core.analytic import figures

    return figures_bound("the layer", spec.input_shape, figures(spec), precision, limits)


def layer_figures(layer: ModelLayer) -> Figures:
    """A candidate conv's and its block's closed-form figures at the shapes it was traced at
    (the block at the layer's own m, with the conv's geometry)."""
    if layer.input_shape is None or layer.output_shape is None or layer.kernel_size is None:
        raise RooflineError(f"layer {layer.name!r} was never called: no shapes to bound")
    batch, in_channels = layer.input_shape[0], layer.input_shape[1]
    out_sizes = tuple(layer.output_shape[2:])
    kernel, bias = tuple(layer.kernel_size), layer.bias
    middle = in_channels * layer.depth_multiplier
    pointwise_kernel = (1,) * len(kernel)

    def conv(c_in: int, c_out: int, k: Sequence[int], groups: int) -> ConvFigures:
        return ConvFigures(
            conv_params(c_in, c_out, k, groups, bias),
            c_out if bias else 0,
            conv_macs(batch, c_in, c_out, out_sizes, k, groups),
            (batch, c_out, *out_sizes),
        )

    return Figures(
        conv(in_channels, layer.out_channels, kernel, layer.groups),
        SeparableFigures(
            conv(in_channels, middle, kernel, in_channels),
            conv(middle, layer.out_channels, pointwise_kernel, 1),
        ),
    )


def layer_bound(layer: ModelLayer, precision: str, limits: Limits) -> LayerBound:
    """The bound of a model's candidate conv and its separable block at ``precision``."""
    figures = layer_figures(layer)
    assert layer.input_shape is not None  # layer_figures refused a layer without shapes
    return figures_bound(layer.name, layer.input_shape, figures, precision, limits)


def model_bounds(
    layers: Sequence[ModelLayer], precision: str, limits: Limits
) -> dict[str, LayerBound]:
    """Each swapped candidate's bound at ``precision`` (``bench --per-layer``'s column), by
    name; layers the forward never called are left out (they have no shapes)."""
    return {
        layer.name: layer_bound(layer, precision, limits)
        for layer in layers
        if layer.candidate and layer.swap and layer.input_shape is not None
    }
