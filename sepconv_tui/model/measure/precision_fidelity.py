"""Fidelity at a precision: both models deployed as a user would run them, measured against the
fp32 original on the test split.

Each model (the original and the swapped one) is exported to ONNX (checked against PyTorch),
then for int8 quantized to a static QDQ file calibrated on the fit split (never the test
split), and run on the test split in the runtime asked for (int8 in ONNX Runtime, bf16 as
OpenVINO's precision hint, unless another runtime is named); fp32 in eager runs PyTorch itself.
Each is labelled with the precision its runtime reports it ran. Its top-1 agreement with the
fp32 original, the relative error of its first output against the fp32 original's, and its
accuracy when the data has labels come with 95% Wilson intervals over the samples run.
``MatrixFidelity`` does the same for every cell of the deployment matrix (``bench --data``),
running the very file each cell's timing ran. torch, numpy and the runtimes are imported
inside the functions.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...core.interval import wilson_interval
from ...progress import OnProgress, Progress
from ..deploy.deploy_precision import FP32, INT8, RUNTIME_LABELS, check_precision, runtime_for
from ..deploy.export import CHECK_SAMPLES, export_onnx
from ..deploy.onnx_run import require_runtime, run_file
from ..deploy.quantize import MAX_CALIBRATION, quantize_onnx
from ..describe.candidates import eval_mode
from ..describe.source import Shape
from ..results.bench_result import MatrixData
from ..results.fidelity_result import AtPrecision, InContext, SplitSizes, ValidationFigure
from ..results.sensitivity_result import FrontierPoint
from ..vocabulary.runtimes import load_function, runtime_entry
from .data import check_labels
from .fidelity import DEFAULT_BATCH_SIZE
from .split import Split

if TYPE_CHECKING:
    import torch
    from torch import nn

    from ..latency.timing import ToTime

#: The runtimes that run PyTorch itself (fp32 only).
EAGER_RUNTIMES = ("eager", "eager_channels_last")


@dataclass(frozen=True)
class PrecisionFidelity(InContext):
    """Both models at one precision in one runtime, and the fp32 original they are held to."""

    precision: str  # asked for
    runtime: str
    original: AtPrecision
    swapped: AtPrecision
    fp32_original: AtPrecision  # PyTorch fp32: agreement 1 by definition, its accuracy
    calibration: str | None = None  # int8: "256 samples" of the fit split
    per_channel: bool | None = None  # int8: one scale per output channel (else per tensor)
    split: SplitSizes | None = None
    validation: ValidationFigure | None = None
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The JSON of ``sepconv-tui fidelity --precision P --json``."""
        return {
            "precision": self.precision,
            "runtime": self.runtime,
            "evaluated": self.fp32_original.evaluated,
            "split": None if self.split is None else self.split.to_dict(),
            "original": self.original.to_dict(),
            "swapped": self.swapped.to_dict(),
            "fp32_original": {**self.fp32_original.to_dict(), "runtime": "eager"},
            "int8": None
            if self.calibration is None
            else {"calibration": self.calibration, "per_channel": self.per_channel},
            "validation": None if self.validation is None else self.validation.to_dict(),
            "notes": list(self.notes),
            "conventions": {
                "agreement": "share of test samples whose top-1 class is the fp32 original's",
                "output_error": "‖y − y_fp32 original‖ / ‖y_fp32 original‖ (first output)",
            },
        }


def _first_output(output: Any) -> torch.Tensor:
    """A model's first output tensor (the one an ONNX file's first output is)."""
    import torch
    from torch.utils._pytree import tree_flatten

    leaves = [leaf for leaf in tree_flatten(output)[0] if isinstance(leaf, torch.Tensor)]
    if not leaves:
        raise TypeError("the model returned no tensor")
    return leaves[0]


def eager_outputs(
    model: nn.Module, inputs: torch.Tensor, batch_size: int, channels_last: bool = False
) -> Any:
    """``model``'s first output on ``inputs`` in PyTorch (float32 numpy)."""
    import torch

    rows = []
    with eval_mode(model), torch.no_grad():
        for start in range(0, len(inputs), batch_size):
            chunk = inputs[start : start + batch_size]
            if channels_last and chunk.dim() in (4, 5):
                memory = torch.channels_last if chunk.dim() == 4 else torch.channels_last_3d
                chunk = chunk.contiguous(memory_format=memory)
            rows.append(_first_output(model(chunk)).float().cpu())
    return torch.cat(rows).numpy()


def figures_against(outputs: Any, reference: Any, labels: Any, ran: str) -> AtPrecision:
    """``outputs`` (the first rows of ``reference``'s samples) against ``reference``."""
    import numpy

    count = int(outputs.shape[0])
    expected = reference[:count].astype(numpy.float64)
    got = outputs.astype(numpy.float64)
    norm = float(numpy.sum(expected**2))
    difference = float(numpy.sum((got - expected) ** 2))
    if norm:
        error = float(numpy.sqrt(difference / norm))
    else:
        error = 0.0 if difference == 0.0 else float("inf")
    classifier = count > 0 and got.ndim == 2 and got.shape[1] >= 2
    agreement = accuracy = None
    agreement_interval = accuracy_interval = None
    if classifier:
        top = got.argmax(axis=1)
        same = int(numpy.sum(top == expected.argmax(axis=1)))
        agreement, agreement_interval = same / count, wilson_interval(same, count)
        if labels is not None:
            correct = int(numpy.sum(top == labels[:count]))
            accuracy, accuracy_interval = correct / count, wilson_interval(correct, count)
    return AtPrecision(
        ran, count, error, agreement, agreement_interval, accuracy, accuracy_interval
    )


@dataclass(frozen=True)
class _Deployed:
    """One model's first output as deployed at a precision, what ran, and how it was made."""

    outputs: Any  # numpy, one row per sample run
    ran: str
    calibration: str | None = None
    notes: tuple[str, ...] = ()


def _deployed_outputs(
    model: nn.Module,
    inputs: torch.Tensor,
    split: Split,
    *,
    precision: str,
    runtime: str,
    input_shape: Shape,
    swapped_layers: tuple[str, ...] = (),
    per_channel: bool = True,
    threads: int | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    kind: str = "swapped",
    label: str = "the model",
) -> _Deployed:
    """``model`` run on ``inputs`` as deployed: PyTorch for eager, else exported (checked),
    quantized on ``split.fit`` for int8, and run in ``runtime`` at ``precision``."""
    import numpy

    if runtime in EAGER_RUNTIMES:
        channels_last = runtime == "eager_channels_last"
        return _Deployed(eager_outputs(model, inputs, batch_size, channels_last), FP32)
    notes: list[str] = []
    calibration = None
    with tempfile.TemporaryDirectory(prefix="sepconv-precision-") as folder:
        exported = export_onnx(
            model,
            Path(folder) / f"{kind}.onnx",
            input_shape=input_shape,
            samples=inputs[:CHECK_SAMPLES],
            swapped=swapped_layers,
            kind=kind,
            label=label,
        )
        notes.extend(exported.notes)
        path = exported.path
        if precision == INT8:
            quantized = quantize_onnx(
                path,
                Path(folder) / f"{kind}-int8.onnx",
                samples=split.fit.inputs,
                per_channel=per_channel,
                label=label,
            )
            calibration = f"{quantized.calibration} of the fit split"
            notes.extend(note for note in quantized.notes if note not in notes)
            path = quantized.path
        array = numpy.ascontiguousarray(inputs.numpy(), dtype=numpy.float32)
        ran = run_file(path, array, runtime=runtime, precision=precision, threads=threads)
    return _Deployed(ran.outputs, ran.ran, calibration, tuple(notes))


def precision_rescorer(
    original: nn.Module,
    split: Split,
    *,
    precision: str,
    runtime: str | None = None,
    input_shape: Shape,
    per_channel: bool = True,
    threads: int | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> Callable[[Any, FrontierPoint], FrontierPoint]:
    """What holds a frontier point to its swapped model at ``precision``: the model deployed
    (int8 calibrated on the fit split) and measured on the validation split against the fp32
    original; the point's agreement, output error and accuracy become those."""
    runtime = runtime_for(precision, runtime)
    if runtime not in EAGER_RUNTIMES:
        require_runtime(runtime)
    validation = split.validation
    inputs = validation.inputs.float()
    labels = None if validation.labels is None else validation.labels.numpy()
    reference: list[Any] = []  # the fp32 original's outputs, computed at the first point

    def rescore(model: Any, point: FrontierPoint) -> FrontierPoint:
        if not reference:
            reference.append(eager_outputs(original, inputs, batch_size))
        deployed = _deployed_outputs(
            model,
            inputs,
            split,
            precision=precision,
            runtime=runtime,
            input_shape=input_shape,
            swapped_layers=tuple(point.plan),
            per_channel=per_channel,
            threads=threads,
            batch_size=batch_size,
        )
        figures = figures_against(deployed.outputs, reference[0], labels, deployed.ran)
        return replace(
            point,
            agreement=figures.agreement,
            agreement_interval=figures.agreement_interval,
            output_error=figures.output_error,
            accuracy=figures.accuracy,
        )

    return rescore


def measure_at_precision(
    original: nn.Module,
    swapped: nn.Module,
    split: Split,
    *,
    precision: str,
    runtime: str | None = None,
    input_shape: Shape,
    swapped_layers: tuple[str, ...] = (),
    per_channel: bool = True,
    threads: int | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: OnProgress | None = None,
    label: str = "the model",
) -> PrecisionFidelity:
    """Both models run at ``precision`` in ``runtime`` (default: the precision's own) on
    ``split``'s test part, against the fp32 original there; int8 is calibrated on its fit
    part. PrecisionError when the runtime cannot run the precision, OpenVinoError without
    OpenVINO, ExportError or QuantizeError naming what a model cannot take."""
    check_precision(precision)
    runtime = runtime_for(precision, runtime)
    if runtime not in EAGER_RUNTIMES:
        require_runtime(runtime)
    test = split.test
    inputs = test.inputs.float()
    labels = None if test.labels is None else test.labels.numpy()
    steps = 3
    if progress is not None:
        progress(Progress("measure", 0, steps, "fp32 original (PyTorch)"))
    reference = eager_outputs(original, inputs, batch_size)
    if reference.ndim == 2 and reference.shape[1] >= 2:
        check_labels(test, int(reference.shape[1]))
    fp32 = figures_against(reference, reference, labels, FP32)
    results: dict[str, AtPrecision] = {}
    calibration: str | None = None
    notes: list[str] = []
    for step, (kind, model) in enumerate((("original", original), ("swapped", swapped)), 1):
        if progress is not None:
            progress(Progress("measure", step, steps, f"{kind} at {precision}"))
        deployed = _deployed_outputs(
            model,
            inputs,
            split,
            precision=precision,
            runtime=runtime,
            input_shape=input_shape,
            swapped_layers=swapped_layers if kind == "swapped" else (),
            per_channel=per_channel,
            threads=threads,
            batch_size=batch_size,
            kind=kind,
            label=label if kind == "original" else f"the swapped {label}",
        )
        results[kind] = figures_against(deployed.outputs, reference, labels, deployed.ran)
        calibration = deployed.calibration or calibration
        notes.extend(note for note in deployed.notes if note not in notes)
    if progress is not None:
        progress(Progress("measure", steps, steps, f"{RUNTIME_LABELS[runtime]} at {precision}"))
    return PrecisionFidelity(
        precision,
        runtime,
        results["original"],
        results["swapped"],
        fp32,
        calibration=calibration,
        per_channel=per_channel if precision == INT8 else None,
        notes=tuple(notes),
    )


class MatrixFidelity:
    """Each model in each cell of the deployment matrix, on a split's test part, against the
    fp32 original there (PyTorch eager, NCHW): PyTorch itself for the eager cells, else the
    file the cell's timing ran (the runtime table's exporter, which hands back this process's
    earlier export of the module; int8 calibrated on the fit part) run in the cell's runtime
    at its precision. The benchmark's ``CellFidelity``."""

    def __init__(
        self,
        original: nn.Module,
        split: Split,
        *,
        data: str,
        threads: int | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
    ) -> None:
        test = split.test
        self._inputs = test.inputs.float()
        self._labels = None if test.labels is None else test.labels.numpy()
        self._threads = threads
        self._batch_size = batch_size
        self._reference = eager_outputs(original, self._inputs, batch_size)
        if self._reference.ndim == 2 and self._reference.shape[1] >= 2:
            check_labels(test, int(self._reference.shape[1]))
        self.calibration = split.fit.inputs
        self.data = MatrixData(
            data,
            split.sizes,
            f"{min(len(split.fit), MAX_CALIBRATION)} samples of the fit split",
            figures_against(self._reference, self._reference, self._labels, FP32),
        )

    def measure(
        self, runtime: str, precision: str, to_time: ToTime, *, per_channel: bool
    ) -> AtPrecision:
        """``to_time``'s module as ``runtime`` runs it at ``precision`` on the test split."""
        label, module, x = to_time
        if runtime in EAGER_RUNTIMES:
            channels_last = runtime == "eager_channels_last"
            outputs = eager_outputs(module, self._inputs, self._batch_size, channels_last)
            return figures_against(outputs, self._reference, self._labels, FP32)
        import numpy

        entry = runtime_entry(runtime)
        export = load_function(entry.exporter)
        with tempfile.TemporaryDirectory(prefix="sepconv-matrix-") as folder:
            path = Path(folder) / f"model{entry.suffix}"
            export(
                module,
                x,
                path,
                label,
                str(precision),
                per_channel=per_channel,
                calibration=self.calibration,
            )
            array = numpy.ascontiguousarray(self._inputs.numpy(), dtype=numpy.float32)
            ran = run_file(
                path, array, runtime=runtime, precision=str(precision), threads=self._threads
            )
        return figures_against(ran.outputs, self._reference, self._labels, ran.ran)
