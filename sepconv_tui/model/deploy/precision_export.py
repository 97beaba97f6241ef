"""Export at a precision: the checked fp32 ONNX file, and for int8 its static QDQ file beside it
(``swapped.onnx`` → ``swapped-int8.onnx``), with the int8 file's agreement with the fp32 one
measured on samples, never assumed.

The int8 ranges are calibrated on the samples given (the data's fit split) or on seeded random
inputs (``quantize`` says so in a note); the agreement is measured on other samples (the data's
test split), or on random inputs, which a note says tell little about data. torch, onnx and
onnxruntime are imported inside the functions they are called from.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..swapping.job import ModelJob
from .deploy_precision import FP32, check_file_precision, precision_path
from .export import ExportResult, export_source
from .quantize import OutputAgreement, QuantizedModel, compare_onnx, quantize_onnx

if TYPE_CHECKING:
    import torch

#: Random inputs the int8 file is compared with the fp32 one on, without data.
RANDOM_COMPARISON = 64


@dataclass(frozen=True)
class Int8File:
    """One int8 file: how it was quantized, and how often it gives the fp32 file's answer."""

    model: str  # "swapped" or "original"
    quantized: QuantizedModel
    agreement: OutputAgreement  # against the fp32 file, on ``compared_on``
    compared_on: str  # "the test split (359 samples)" or "64 random inputs"

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of one int8 file."""
        return {
            "model": self.model,
            **self.quantized.to_dict(),
            "agreement_with_fp32": {**self.agreement.to_dict(), "on": self.compared_on},
        }


@dataclass(frozen=True)
class PrecisionExport:
    """What ``sepconv-tui export --precision P`` wrote: the fp32 files, and P's beside them."""

    export: ExportResult
    precision: str = FP32
    int8: tuple[Int8File, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        """True when every fp32 file passed its check against PyTorch."""
        return self.export.passed

    def to_dict(self) -> dict[str, Any]:
        """The JSON document of ``sepconv-tui export --json``."""
        return {
            **self.export.to_dict(),
            "precision": self.precision,
            "int8": [file.to_dict() for file in self.int8],
            "precision_notes": list(self.notes),
        }


def _random_inputs(shape: tuple[int, ...], count: int) -> Any:
    """``count`` seeded random inputs of ``shape``'s per-sample shape (float32 numpy)."""
    import numpy

    rng = numpy.random.default_rng(1)
    return rng.standard_normal((count, *shape[1:])).astype(numpy.float32)


def export_at_precision(
    job: ModelJob,
    out: str | Path,
    *,
    precision: str = FP32,
    samples: torch.Tensor | None = None,
    sample_source: str = "random",
    original: bool = False,
    calibration: torch.Tensor | None = None,
    comparison: torch.Tensor | None = None,
    comparison_source: str = "",
    per_channel: bool = True,
) -> PrecisionExport:
    """``export_source`` (each fp32 file checked against PyTorch), then for int8 each file that
    passed quantized beside it, calibrated on ``calibration`` (None: random inputs, noted) and
    compared with its fp32 file on ``comparison`` (None: random inputs, noted)."""
    check_file_precision(precision)
    result = export_source(
        job, out, samples=samples, sample_source=sample_source, original=original
    )
    if precision == FP32:
        return PrecisionExport(result)
    notes: list[str] = []
    if comparison is None:
        shape = result.files[0].input_shape
        comparison = _random_inputs(shape, RANDOM_COMPARISON)
        comparison_source = f"{RANDOM_COMPARISON} random inputs"
        notes.append(
            "the int8 files' agreement with fp32 is measured on random inputs: give data for "
            "a figure about the inputs the model will see"
        )
    files = []
    for file in result.files:
        if file.relative_error > result.tolerance:
            continue  # not written: nothing to quantize
        target = precision_path(file.path, precision)
        label = job.label if file.model == "original" else f"the swapped {job.label}"
        quantized = quantize_onnx(
            file.path, target, samples=calibration, per_channel=per_channel, label=label
        )
        agreement = compare_onnx(file.path, target, comparison)
        files.append(Int8File(file.model, quantized, agreement, comparison_source))
        notes.extend(note for note in quantized.notes if note not in notes)
    return PrecisionExport(result, precision, tuple(files), tuple(notes))
