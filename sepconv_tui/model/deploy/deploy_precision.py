"""Which runtime runs a model at which precision, and what an exported file at a precision is
called. No torch here.

The precisions a deployed model is measured at: fp32 everywhere, int8 as a static QDQ file
(``quantize``) in ONNX Runtime or OpenVINO, bf16 as OpenVINO's inference precision hint on the
fp32 file (bf16 is how a runtime computes, not what a file holds). Each precision has a runtime
it runs in unless one is named: fp32 in PyTorch eager, int8 in ONNX Runtime, bf16 in OpenVINO.

This table stands beside the runtime table (``runtimes``) until that table's entries carry
these precisions and OpenVINO; it then reads them from there.
"""

from __future__ import annotations

from pathlib import Path

from ...errors import UserError

FP32 = "fp32"
BF16 = "bf16"
INT8 = "int8"
#: Every precision a model can be measured at, in the order help and tables list them.
PRECISIONS = (FP32, BF16, INT8)
#: The runtimes that run each precision (runtime names as the runtime table has them).
RUNTIMES_FOR = {
    FP32: ("eager", "eager_channels_last", "onnxruntime", "openvino"),
    BF16: ("openvino",),
    INT8: ("onnxruntime", "openvino"),
}
#: Where each precision runs when no runtime is named.
DEFAULT_RUNTIME = {FP32: "eager", BF16: "openvino", INT8: "onnxruntime"}
#: How tables name the runtimes (the runtime table's labels, and OpenVINO's).
RUNTIME_LABELS = {
    "eager": "PyTorch eager",
    "eager_channels_last": "PyTorch eager channels-last",
    "onnxruntime": "ONNX Runtime",
    "openvino": "OpenVINO",
}
#: Precisions a file holds (bf16 is a runtime's setting: its file stays fp32).
FILE_PRECISIONS = (FP32, INT8)


class PrecisionError(UserError):
    """A precision that is unknown, or that the runtime named cannot run."""

    default_field = "precision"


def check_precision(precision: str) -> str:
    """``precision`` when it is one of ``PRECISIONS``; PrecisionError listing them otherwise."""
    if precision not in PRECISIONS:
        raise PrecisionError(
            f"the precision must be one of {', '.join(PRECISIONS)}, got {precision!r}"
        )
    return precision


def runtime_for(precision: str, runtime: str | None = None) -> str:
    """The runtime that runs ``precision``: ``runtime`` when given and able to, else the
    precision's default; PrecisionError (field "runtime") when ``runtime`` cannot run it."""
    check_precision(precision)
    if runtime is None:
        return DEFAULT_RUNTIME[precision]
    if runtime not in RUNTIME_LABELS:
        raise PrecisionError(
            f"the runtime must be one of {', '.join(RUNTIME_LABELS)}, got {runtime!r}",
            field="runtime",
        )
    if runtime not in RUNTIMES_FOR[precision]:
        runs = ", ".join(each for each in PRECISIONS if runtime in RUNTIMES_FOR[each])
        runners = " or ".join(RUNTIME_LABELS[each] for each in RUNTIMES_FOR[precision])
        raise PrecisionError(
            f"{RUNTIME_LABELS[runtime]} runs {runs}, not {precision}: {precision} runs in "
            f"{runners}",
            field="runtime",
        )
    return runtime


def check_file_precision(precision: str) -> str:
    """``precision`` when a file can hold it; PrecisionError saying bf16 is a runtime's
    setting (its file stays fp32) otherwise."""
    check_precision(precision)
    if precision not in FILE_PRECISIONS:
        raise PrecisionError(
            f"{precision} is not a file format: it is a runtime setting (OpenVINO's inference "
            f"precision), so the exported file stays fp32 and OpenVINO runs it at {precision}"
        )
    return precision


def precision_path(path: str | Path, precision: str) -> Path:
    """The file of ``path``'s model at ``precision``: fp32 keeps the name (swapped.onnx), the
    others add the precision (swapped-int8.onnx)."""
    destination = Path(path)
    if precision == FP32:
        return destination
    return destination.with_name(f"{destination.stem}-{precision}{destination.suffix or '.onnx'}")
