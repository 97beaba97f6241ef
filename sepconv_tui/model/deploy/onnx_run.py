"""Run an exported ONNX file on samples in ONNX Runtime or OpenVINO, at a precision, and say
which precision ran (as the runtime reports it, never as asked).

ONNX Runtime runs the file as it is (fp32, or int8 where it fuses a QDQ file's pairs);
OpenVINO compiles it with its inference precision hint set explicitly (``openvino_timer``).
A file that takes any batch runs ``RUN_BATCH`` samples at a time; one exported at a fixed batch
takes whole batches of it (a remainder is left out, and the count says so). numpy, onnxruntime
and openvino are imported inside the functions.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .export import onnx_batch, onnx_session, require_deploy
from .openvino_timer import compile_model, ran_precision, require_openvino
from .quantize import onnxruntime_ran

#: Samples per run for a file whose batch is dynamic.
RUN_BATCH = 64


@dataclass(frozen=True)
class FileOutputs:
    """A file's first output on the samples it ran, and the precision its runtime ran."""

    outputs: Any  # numpy array, one row per sample run
    ran: str  # "int8", "int8+fp32", "bf16", "fp32"
    samples: int


def _chunks(inputs: Any, fixed_batch: int | None) -> Iterator[Any]:
    """``inputs`` in the batches the file takes."""
    batch = fixed_batch or RUN_BATCH
    stop = len(inputs) // batch * batch if fixed_batch else len(inputs)
    for start in range(0, stop, batch):
        yield inputs[start : start + batch]


def require_runtime(runtime: str) -> None:
    """A UserError naming the extra unless what running an exported file in ``runtime`` needs
    imports: the ONNX exporter and ONNX Runtime (``[deploy]``), and OpenVINO for it."""
    require_deploy()
    if runtime == "openvino":
        require_openvino()


def run_file(
    path: str | Path, inputs: Any, *, runtime: str, precision: str, threads: int | None = None
) -> FileOutputs:
    """``path``'s first output on ``inputs`` (N × the input's per-sample shape, float32 numpy)
    in ``runtime`` ("onnxruntime" or "openvino") asked to run ``precision``."""
    import numpy

    fixed_batch = onnx_batch(path)
    rows: list[Any] = []
    if runtime == "openvino":
        require_openvino()
        compiled = compile_model(path, precision, threads or 0)
        request = compiled.create_infer_request()
        for chunk in _chunks(inputs, fixed_batch):
            request.infer({0: chunk})
            rows.append(numpy.array(request.get_output_tensor(0).data, copy=True))
        ran = ran_precision(compiled).label
    else:
        require_deploy()
        session = onnx_session(path, threads)
        name = session.get_inputs()[0].name
        for chunk in _chunks(inputs, fixed_batch):
            rows.append(session.run(None, {name: chunk})[0])
        ran = onnxruntime_ran(path, threads or 1).label
    outputs = numpy.concatenate(rows) if rows else numpy.zeros((0,), numpy.float32)
    return FileOutputs(outputs, ran, int(outputs.shape[0]) if rows else 0)
