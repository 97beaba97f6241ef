"""Whole-model latency: real forward passes of a model and of its swapped copy, and of each
candidate conv and its block alone.

A ``ModelJob`` says what to time; ``job.build_pair`` builds it (the memory budget checked on an
empty build first). Both models are then timed here (``time_forward``, on the job's device), or
on each runtime of the runtime table in a child process of its own (``timing``), which gets the
modules to time and never a source to rebuild. torch is imported inside the functions; the
results are plain data (``bench_result``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Protocol

from ...core.budget import resolve_budget
from ...core.compare import compare
from ...core.latency import (
    MIN_RUN_TIME_S,
    BenchError,
    BenchResult,
    RuntimeTiming,
    Timing,
    channels_last_input,
    check_budget,
    check_device,
    time_forward,
    to_channels_last,
)
from ...core.spec import LayerSpec
from ...errors import UserError
from ...progress import OnProgress, Progress, ignore
from ..deploy.quantize import RANDOM_CALIBRATION
from ..results.bench_result import (
    MODEL_MIN_RUN_TIME_S,
    LayerBench,
    LayerCell,
    LayerRow,
    LayerTiming,
    MatrixCell,
    MatrixData,
    ModelBenchResult,
)
from ..results.fidelity_result import AtPrecision
from ..swapping.job import ModelJob, as_planned, build_pair, estimate_pair_bytes
from ..vocabulary.analysis import ModelAnalysis, ModelLayer, Selection
from ..vocabulary.machine import this_machine
from ..vocabulary.plan import SwapResult
from ..vocabulary.runtimes import (
    Cell,
    Precision,
    Runtime,
    Stage,
    cell_key,
    cell_label,
    check_runtimes,
    matrix_cells,
    missing_reason,
    runtime_entry,
    runtimes_for_ranks,
)
from .timing import ToTime, stage_progress, time_both, time_on_runtime
from .timing_messages import Timed

if TYPE_CHECKING:
    import torch
    from torch import nn

    from .roofline import Limits


#: What a whole-model benchmark goes through, in order.
STAGES = (
    "analysing the model",
    "building both models",
    "timing the original",
    "timing the swapped model",
)


class CellFidelity(Protocol):
    """What measures each model in each timed cell of the matrix on data
    (``precision_fidelity.MatrixFidelity``): the samples int8 is calibrated on, what they
    are, and a model's figures on the test split as the cell runs it."""

    calibration: Any  # the fit split's inputs
    data: MatrixData

    def measure(
        self, runtime: str, precision: str, to_time: ToTime, *, per_channel: bool
    ) -> AtPrecision:
        """``to_time``'s module run as ``runtime`` at ``precision`` runs it (the file the timing
        ran), against the fp32 original on the test split."""
        ...


def conv_ranks(analysis: ModelAnalysis) -> frozenset[int]:
    """The spatial ranks of the model's convs (1, 2, 3): what channels-last can mean for it."""
    return frozenset(
        len(layer.kernel_size)
        for layer in analysis.layers
        if layer.kind == "conv" and layer.kernel_size is not None
    )


def _analyse(job: ModelJob) -> ModelAnalysis:
    """``job``'s model analysed on meta (free): its candidates, shapes and MACs (of the saved
    swap's layers and m, when the job names one)."""
    from ..describe.trace import analyze_model

    job = as_planned(job)

    return analyze_model(
        job.source,
        input_shape=job.input_shape,
        select=job.selection,
        depth_multiplier=job.depth_multiplier,
        weights=job.weights,
        memory_budget_bytes=job.budget_bytes,
    )


def _for_timing(job: ModelJob) -> ModelJob:
    """``job`` as timing builds it: random blocks without weights (the values do not change
    the time, and an SVD per layer would)."""
    return job if job.weights is not None else replace(job, init="random")


def _threads(threads: int | None) -> int:
    """``threads``, or torch's default."""
    import torch

    return threads if threads is not None else torch.get_num_threads()


def _input(shape: Sequence[int], device: str = "cpu") -> torch.Tensor:
    """A seeded random fp32 input of ``shape`` on ``device``."""
    import torch

    return torch.randn(tuple(shape), generator=torch.Generator().manual_seed(0)).to(device)


def _time_here(
    before: nn.Module,
    after: nn.Module,
    x: torch.Tensor,
    *,
    threads: int,
    min_run_time: float,
    channels_last: bool,
    report: OnProgress,
    stages: Sequence[str],
) -> tuple[Timing, Timing]:
    """Both modules timed in this process, on ``x``'s device (channels-last when asked),
    with a Progress before each (``stages``: its two labels)."""
    if channels_last:
        x = channels_last_input(x)
    timings = []
    for index, module in enumerate((before, after)):
        module = module.to(x.device).eval()
        if channels_last:
            module = to_channels_last(module)
        report(Progress(str(Stage.BENCH), 2 + index, len(STAGES), stages[index]))
        timings.append(time_forward(module, x, threads, min_run_time))
    return timings[0], timings[1]


def benchmark_model(
    job: ModelJob,
    *,
    runtimes: Sequence[str] | None = None,
    precision: Precision | None = Precision.FP32,
    per_channel: bool = True,
    channels_last: bool = False,
    min_run_time: float = MODEL_MIN_RUN_TIME_S,
    fidelity: Callable[[SwapResult], CellFidelity] | None = None,
    min_agreement: float | None = None,
    progress: OnProgress | None = None,
) -> ModelBenchResult:
    """Time real forward passes of ``job``'s model and of its swapped copy (inference).

    Here, at fp32 on the job's device (``channels_last``: NHWC input and weights), or with
    ``runtimes`` (names in the runtime table) in every cell of runtime × ``precision`` (None:
    every precision each runs; int8 ``per_channel`` or per tensor), every cell in a process of
    its own with the same threads, on the CPU; the progress stages are then "analysing the
    model" and "timing on RUNTIME at PRECISION" for each. A cell this machine cannot run (its
    runtime not installed, among several; a precision its CPU lacks) is kept, absent, with
    the reason; with several cells the machine record carries its measured limits.

    ``fidelity`` (with ``runtimes``): what measures each model in each timed cell on data,
    made from the built pair before any timing (it reads the data). Both models are then
    built with their weights (the swap by SVD, as ``fidelity`` measures it), int8 is
    calibrated on its samples, and "best_within" keeps the cells whose agreement is at least
    ``min_agreement``.
    """
    report = progress or ignore
    check_device(job.device)
    cells: tuple[Cell, ...] = ()
    notes: tuple[str, ...] = ()
    if fidelity is not None and runtimes is None:
        raise BenchError("fidelity on data is measured in each cell of runtimes", field="data")
    if runtimes is not None:
        check_runtimes(runtimes, job.device, None, missing_ok=len(runtimes) > 1)
        cells, notes = matrix_cells(runtimes, precision)
    elif precision not in (Precision.FP32, None):
        raise BenchError(f"{precision} runs on a runtime: eager runs fp32 only", field="precision")
    stages = len(STAGES) if runtimes is None else 1 + len(cells)
    report(Progress(str(Stage.BENCH), 0, stages, STAGES[0]))
    analysis = _analyse(job)
    if runtimes is not None:
        kept, rank_notes = runtimes_for_ranks(runtimes, conv_ranks(analysis))
        cells = tuple(cell for cell in cells if cell[0] in kept)
        notes = (*notes, *rank_notes)
    elif channels_last:
        runtimes_for_ranks((Runtime.EAGER_CHANNELS_LAST,), conv_ranks(analysis))
    if runtimes is None:
        report(Progress(str(Stage.BENCH), 1, stages, STAGES[1]))
    # With data the swap's values matter: it is built as fidelity measures it.
    original, swapped, result = build_pair(job if fidelity is not None else _for_timing(job))
    measurer = fidelity(result) if fidelity is not None else None
    threads = _threads(job.threads)
    x = _input(analysis.input_shape, job.device if runtimes is None else "cpu")
    timings: dict[str, RuntimeTiming] = {}
    matrix: tuple[MatrixCell, ...] = ()
    if runtimes is None:
        before, after = _time_here(
            original,
            swapped,
            x,
            threads=threads,
            min_run_time=min_run_time,
            channels_last=channels_last,
            report=report,
            stages=STAGES[2:],
        )
        machine = this_machine(threads)
    else:
        matrix = _time_cells(
            cells,
            ("the original", original.eval(), x),
            ("the swap", swapped.eval(), x),
            threads=threads,
            min_run_time=min_run_time,
            per_channel=per_channel,
            report=lambda index, label: report(Progress(str(Stage.BENCH), index, stages, label)),
            fidelity=measurer,
        )
        timed = [cell for cell in matrix if cell.absent is None]
        if not timed:
            raise BenchError(
                "no runtime could time the model here: "
                + "; ".join(cell.absent or "" for cell in matrix),
                field="runtime",
            )
        timings = {
            cell.runtime: _runtime_timing(cell, threads)
            for cell in timed
            if cell.asked == Precision.FP32
        }
        first = next(iter(timings.values()), None) or _runtime_timing(timed[0], threads)
        before, after, channels_last = first.before, first.after, first.channels_last
        if any(cell.asked == Precision.INT8 for cell in matrix):
            notes = (*notes, INT8_NOTE if measurer is None else _int8_data_note(measurer.data))
        # The limits (measured once per machine and threads, then cached) come with a matrix;
        # one cell (speedup:X's confirmation) is not held up by their first measurement.
        if len(cells) > 1:
            from .roofline import machine_limits

            machine = machine_limits(threads)
        else:
            machine = this_machine(threads)
    import torch

    from ..describe.source import parameter_bytes

    state_dict = job.weights is not None or job.swapped_dir is not None
    return ModelBenchResult(
        source=analysis.source,
        input_shape=analysis.input_shape,
        selection=str(as_planned(job).selection),
        swapped_count=len(result.swapped),
        candidates=len(analysis.candidates),
        depth_multiplier=analysis.multiplier_json(),
        device=job.device,
        threads=threads,
        channels_last=channels_last,
        original=before,
        swapped=after,
        mac_ratio=analysis.mac_ratio,
        param_ratio=analysis.param_ratio,
        estimated_bytes=estimate_pair_bytes(
            analysis, original_bytes=parameter_bytes(original), state_dict=state_dict
        ),
        budget_bytes=resolve_budget(job.budget_bytes, job.device),
        torch_version=torch.__version__,
        runtimes=timings,
        notes=notes,
        matrix=matrix,
        machine=machine,
        data=measurer.data if measurer is not None else None,
        min_agreement=min_agreement if measurer is not None else None,
    )


#: What an int8 cell says about its calibration (the data path is ``fidelity``'s).
INT8_NOTE = (
    f"int8: static QDQ (uint8 activations, int8 weights), calibrated on {RANDOM_CALIBRATION} "
    "random inputs, not data: the timing does not depend on the ranges, the accuracy does"
)


def _int8_data_note(data: MatrixData) -> str:
    """What an int8 cell says about its calibration on data."""
    return (
        f"int8: static QDQ (uint8 activations, int8 weights), calibrated on "
        f"{data.calibration}; each cell's fidelity runs the file its timing ran"
    )


def _runtime_timing(cell: MatrixCell, threads: int) -> RuntimeTiming:
    """A timed cell as the runtimes table has it (``"runtimes"``, fp32)."""
    assert cell.original is not None and cell.swapped is not None
    entry = runtime_entry(cell.runtime)
    return RuntimeTiming(
        cell.runtime,
        cell.original,
        cell.swapped,
        cell.version,
        threads,
        channels_last=entry.channels_last,
    )


def _ran_label(ran: Sequence[str]) -> str:
    """One label for both sides of a cell: theirs when they agree, else "a / b"."""
    return ran[0] if len(set(ran)) == 1 else " / ".join(ran)


def _time_cells(
    cells: Sequence[Cell],
    before: ToTime,
    after: ToTime,
    *,
    threads: int,
    min_run_time: float,
    per_channel: bool,
    report: Callable[[int, str], None],
    fidelity: CellFidelity | None = None,
) -> tuple[MatrixCell, ...]:
    """Both sides timed in every cell, a child process each; a cell whose runtime is missing,
    or whose precision this CPU cannot run (the timer says so, field "precision"), is absent
    with the reason. With ``fidelity``, int8 is calibrated on its samples and each timed
    cell's two models are then measured on its test split."""
    matrix = []
    for index, (runtime, precision) in enumerate(cells, start=1):
        asked = str(precision)
        missing = missing_reason(runtime)
        if missing is not None:
            matrix.append(MatrixCell(runtime, asked, asked, absent=missing))
            continue
        report(index, f"timing on {runtime} at {precision}")
        try:
            timing, ran = time_both(
                runtime,
                before,
                after,
                threads=threads,
                min_run_time=min_run_time,
                precision=precision,
                per_channel=per_channel,
                calibration=fidelity.calibration if fidelity is not None else None,
            )
        except UserError as error:
            if error.field != "precision" or len(cells) == 1:
                raise
            matrix.append(MatrixCell(runtime, asked, asked, absent=error.message))
            continue
        cell = MatrixCell(
            runtime, asked, _ran_label(ran), timing.before, timing.after, timing.version
        )
        if fidelity is not None:
            report(index, f"measuring on {runtime} at {precision} on the test split")
            cell = replace(
                cell,
                original_fidelity=fidelity.measure(runtime, asked, before, per_channel=per_channel),
                swapped_fidelity=fidelity.measure(runtime, asked, after, per_channel=per_channel),
            )
        matrix.append(cell)
    return tuple(matrix)


def benchmark_layer_runtimes(
    spec: LayerSpec,
    runtimes: Sequence[str],
    *,
    precision: Precision | None = Precision.FP32,
    per_channel: bool = True,
    threads: int | None = None,
    budget_bytes: int | None = None,
    min_run_time: float = MIN_RUN_TIME_S,
    progress: OnProgress | None = None,
) -> BenchResult:
    """One layer's standard conv and separable block timed in each cell of ``runtimes`` ×
    ``precision`` (CPU; None: every precision each runs), each in a process of its own with
    the same threads; the first cell's timings are the result's ``standard`` and
    ``separable``, every one's are in ``runtimes``, keyed by runtime at fp32 and by
    "runtime:precision that ran" otherwise. A cell this machine cannot run is a note."""
    report = progress or ignore
    check_runtimes(runtimes, "cpu", None, missing_ok=len(runtimes) > 1)
    cells, notes = matrix_cells(runtimes, precision)
    kept, rank_notes = runtimes_for_ranks(runtimes, {spec.dims})
    cells = tuple(cell for cell in cells if cell[0] in kept)
    notes = (*notes, *rank_notes)
    budget = resolve_budget(budget_bytes, "cpu")
    estimate = check_budget(spec, budget)
    mac_ratio = compare(spec, method="analytic").mac_ratio
    assert mac_ratio is not None  # check_budget refused layers without output

    import torch

    from ...core.layers import separable_block, standard_conv

    threads = _threads(threads)
    torch.manual_seed(0)
    standard, separable = standard_conv(spec).eval(), separable_block(spec).eval()
    x = _input(spec.input_shape)
    with torch.inference_mode():
        outputs = [standard(x), separable.depthwise(x)]
        outputs.append(separable.pointwise(outputs[1]))
    tensors = [*standard.parameters(), *separable.parameters(), x, *outputs]
    allocated = sum(tensor.nbytes for tensor in tensors)
    del outputs
    matrix = _time_cells(
        cells,
        ("the conv", standard, x),
        ("the block", separable, x),
        threads=threads,
        min_run_time=min_run_time,
        per_channel=per_channel,
        report=lambda index, label: report(
            Progress(str(Stage.BENCH), index - 1, len(cells), label)
        ),
    )
    timings: dict[str, RuntimeTiming] = {}
    for cell in matrix:
        if cell.absent is not None:
            notes = (*notes, f"{cell_label(cell.runtime, cell.asked)} absent: {cell.absent}")
            continue
        key = cell_key(cell.runtime, cell.precision)
        timings[key] = replace(_runtime_timing(cell, threads), runtime=key)
    if any(cell.asked == Precision.INT8 for cell in matrix):
        notes = (*notes, INT8_NOTE)
    if not timings:
        raise BenchError("no runtime could time the layer here: " + "; ".join(notes))
    first = next(iter(timings.values()))
    return BenchResult(
        spec,
        "cpu",
        threads,
        first.before,
        first.after,
        mac_ratio,
        estimate,
        allocated,
        budget,
        torch.__version__,
        first.channels_last,
        timings,
        notes,
        this_machine(threads).to_dict(),
    )


def benchmark_layers(
    job: ModelJob,
    runtimes: Sequence[str] = (Runtime.EAGER,),
    *,
    precision: Precision | None = Precision.FP32,
    per_channel: bool = True,
    bounds: bool = False,
    min_run_time: float = MIN_RUN_TIME_S,
    progress: OnProgress | None = None,
) -> LayerBench:
    """Time every candidate conv of ``job``'s model and its block alone at the input the
    analysis recorded, and the whole original, in each cell of runtime × ``precision`` (None:
    every precision each runs), a process each with the same threads.

    ``progress`` ("time") counts timed layers over every cell. The job's selection marks
    the rows it swaps; every candidate is timed. ``bounds``: each row also gets its roofline
    bound per cell, from this machine's measured limits (cached), and the machine carries them.
    """
    from ...core.layers import DepthwiseSeparableConv

    check_device(job.device)
    check_runtimes(runtimes, job.device, None, missing_ok=len(runtimes) > 1)
    cells, notes = matrix_cells(runtimes, precision)
    analysis = _analyse(job)
    kept, rank_notes = runtimes_for_ranks(runtimes, conv_ranks(analysis))
    notes = (*notes, *rank_notes)
    cells = tuple(cell for cell in cells if cell[0] in kept)
    candidates = [layer for layer in analysis.candidates if layer.input_shape is not None]
    if not candidates:
        raise BenchError(f"{analysis.source} has no swap candidate its forward calls")
    # The original alone is timed: its swap is not built (its blocks are made per layer).
    original, _, _ = build_pair(_for_timing(job).with_plan(Selection("none")))
    original = original.eval()
    threads = _threads(job.threads)
    modules = dict(original.named_modules())
    to_time: list[ToTime] = []
    for layer in candidates:
        conv = modules[layer.name]
        block = DepthwiseSeparableConv.from_conv(conv, layer.depth_multiplier).eval()
        x = _input(layer.input_shape or ())
        to_time += [(layer.name, conv, x), (layer.name, block, x)]
    to_time.append(("the whole model", original, _input(analysis.input_shape)))
    steps = len(to_time)
    answers: dict[str, Timed] = {}
    ran_by_key: dict[str, LayerCell] = {}
    for index, (runtime, asked) in enumerate(cells):
        key = cell_key(runtime, asked)
        missing = missing_reason(runtime)
        if missing is not None:
            notes = (*notes, f"{cell_label(runtime, asked)} absent: {missing}")
            continue
        try:
            answers[key] = time_on_runtime(
                runtime,
                to_time,
                threads=threads,
                min_run_time=min_run_time,
                precision=asked,
                per_channel=per_channel,
                counters=True,
                progress=stage_progress(
                    progress, index * steps, len(cells) * steps, f"{cell_label(runtime, asked)}: "
                ),
            )
        except UserError as error:
            if error.field != "precision" or len(cells) == 1:
                raise
            notes = (*notes, f"{cell_label(runtime, asked)} absent: {error.message}")
            continue
        ran_by_key[key] = LayerCell(runtime, str(asked), _ran_label(answers[key].ran[-1:]))
    if not answers:
        raise BenchError("no runtime could time the layers here: " + "; ".join(notes))
    if any(cell.asked == Precision.INT8 for cell in ran_by_key.values()):
        notes = (
            *notes,
            INT8_NOTE,
            "int8, each layer alone: its input is quantized and its output dequantized at the "
            "edges, which the layer pays alone and the whole int8 model pays once between "
            "fused layers (the alone-timings overstate int8 layers)",
        )
    limits = None
    if bounds:
        from .roofline import limits_of, machine_limits

        machine = machine_limits(threads)
        limits = limits_of(machine)
    else:
        machine = this_machine(threads)
    rows = tuple(
        LayerRow(
            name=layer.name,
            input_shape=tuple(layer.input_shape or ()),
            calls=layer.calls,
            depth_multiplier=layer.depth_multiplier,
            mac_ratio=(
                layer.standard.macs / layer.separable.macs
                if layer.separable is not None and layer.separable.macs
                else None
            ),
            swap=layer.swap,
            timings={
                key: LayerTiming(*answer.timings[2 * position : 2 * position + 2])
                for key, answer in answers.items()
            },
            bounds=_bounds(layer, ran_by_key, limits),
            in_model={
                key: answer.module_times[layer.name]
                for key, answer in answers.items()
                if layer.name in answer.module_times
            },
        )
        for position, layer in enumerate(candidates)
    )
    if limits is not None:
        notes = (*notes, *_bound_notes(ran_by_key, limits))
    import torch

    return LayerBench(
        source=analysis.source,
        input_shape=analysis.input_shape,
        selection=str(job.selection),
        threads=threads,
        rows=rows,
        model={key: answer.timings[-1] for key, answer in answers.items()},
        versions={key: answer.version for key, answer in answers.items()},
        torch_version=torch.__version__,
        notes=notes,
        cells=ran_by_key,
        machine=machine,
    )


def _bound_precision(cell: LayerCell) -> str:
    """The precision a cell's bound is taken at: what ran most (its label's first part)."""
    return cell.precision.split("+")[0].split(" / ")[0]


def _bounds(
    layer: ModelLayer, cells: Mapping[str, LayerCell], limits: Limits | None
) -> dict[str, tuple[float, float]]:
    """(conv bound, block bound) in seconds per cell key, where this machine has a peak at
    the cell's precision (none without ``limits``)."""
    if limits is None:
        return {}
    from .roofline import RooflineError, layer_bound

    bounds = {}
    for key, cell in cells.items():
        try:
            bound = layer_bound(layer, _bound_precision(cell), limits)
        except (RooflineError, KeyError):
            continue
        bounds[key] = (bound.conv_s, bound.block_s)
    return bounds


def _bound_notes(cells: Mapping[str, LayerCell], limits: Limits) -> list[str]:
    """A note per cell whose precision has no measured peak (so no bound)."""
    notes = []
    for cell in cells.values():
        precision = _bound_precision(cell)
        if precision not in limits.peak_flops:
            why = limits.absent.get(precision, "its peak was not measured")
            notes.append(f"{cell_label(cell.runtime, cell.asked)}: no bound at {precision}: {why}")
    return notes
