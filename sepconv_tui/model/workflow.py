"""The whole-model workflows from a ModelJob, as the CLI and the app's child run them.

Each builds the pair (``job.build_pair``: the original with its weights, the swap made or
read from a saved one), loads the data with the source's preprocessing, and hands over to
``fidelity``, ``recover`` or ``tradeoff``: one path, so ``sepconv-tui fidelity`` and the Model
tab's ``f`` cannot drift apart. torch is imported inside the functions (by what they call).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from ..progress import OnProgress
from .budget.frontier import BudgetChoice, MeasurePoint, resolve_budget
from .budget.sensitivity import measure_sensitivity
from .budget.tradeoff import Tradeoff, measure_tradeoff
from .deploy.deploy_precision import PrecisionError
from .describe.source import ModelSource
from .latency.bench import benchmark_model
from .latency.rung_timing import this_cpu, timed, timing_threads
from .measure.data import Data, DataError, load_data
from .measure.distributed import LOCAL, Ranks
from .measure.fidelity import DEFAULT_BATCH_SIZE, Fidelity, measure_fidelity
from .measure.precision_fidelity import (
    MatrixFidelity,
    PrecisionFidelity,
    measure_at_precision,
    precision_rescorer,
)
from .measure.split import Split
from .recovery.recover import recover, split_for
from .recovery.recovery_memory import fit_batch_size
from .recovery.settings import (
    DEFAULT_CALIBRATION,
    DEFAULT_LABEL_WEIGHT,
    DEFAULT_LR,
    DEFAULT_PATIENCE,
    DEFAULT_STEPS,
)
from .results.bench_result import DEFAULT_MIN_AGREEMENT, MODEL_MIN_RUN_TIME_S, ModelBenchResult
from .results.fidelity_result import SplitSizes, ValidationFigure
from .results.recovery_result import Recovery
from .results.sensitivity_result import (
    Sensitivity,
    cached_sensitivity,
    file_stamp,
    keep_sensitivity,
)
from .swapping.cache import BuildCache
from .swapping.job import ModelJob, build_pair
from .vocabulary.analysis import BUDGET_RULES, ModelAnalysis, Selection, SelectionError
from .vocabulary.plan import SwapResult
from .vocabulary.runtimes import Precision


@dataclass(frozen=True)
class Choice:
    """A selection made now: the layers (and each one's m, when a budget chose them), the
    validation figure that chose them, and notes."""

    selection: Selection
    validation: ValidationFigure | None = None
    notes: tuple[str, ...] = ()
    depth_multiplier: Mapping[str, int] | None = None


@dataclass(frozen=True)
class Workflow:
    """What every workflow starts from: the job (model, weights, swap) and the data."""

    job: ModelJob
    data: str
    # agreement:X, macs:X or params:X: the layers and each one's m are chosen on the frontier
    # first (the job's own selection is then not read); None: the job's selection as it is.
    budget: Selection | None = None
    data_options: Mapping[str, Any] = field(default_factory=dict)  # mean, std, limit
    holdout: int | None = None  # the test split's size (its older name)
    calibration: int = DEFAULT_CALIBRATION
    batch_size: int = DEFAULT_BATCH_SIZE
    validation: int | float | None = None  # the validation split's size, or share
    test: int | float | None = None  # the test split's size, or share
    ranks: Ranks = LOCAL  # the device, and the ranks under torchrun
    #: Keeps the built original and the loaded data for the next workflow of the same ones
    #: (the app's child holds one); None builds and loads them afresh.
    cache: BuildCache | None = field(default=None, compare=False)
    #: Folders the outputs go to: the sensitivity table is kept there too (and in the cache).
    outputs: tuple[str, ...] = ()
    #: Seconds the sensitivity may take; the rungs left are marked not measured.
    max_time: float | None = None
    #: The budget already resolved (``resolve``), so that the work after it does not again.
    chosen: BudgetChoice | None = field(default=None, compare=False)
    #: agreement:X is held to the swapped model deployed at this precision (int8: quantized
    #: on the fit split), in ``runtime`` (None: the precision's own); fp32: PyTorch's.
    precision: str = "fp32"
    runtime: str | None = None
    per_channel: bool = True
    #: The runtime the sensitivity's rungs are timed on, for their seconds saved (speedup:X
    #: orders its frontier by them); None: not timed.
    seconds_on: str | None = None

    def __post_init__(self) -> None:
        if self.budget is not None and not (
            self.budget.on_frontier or self.budget.rule == "speedup"
        ):
            raise SelectionError(
                "a workflow resolves agreement:X, macs:X, params:X and speedup:X, not "
                f"{self.budget}"
            )

    @property
    def test_size(self) -> int | float | None:
        """``test``, or ``holdout`` when only that was given."""
        return self.test if self.test is not None else self.holdout

    @property
    def reconstructs(self) -> bool:
        """True when a budget chooses the swap here: its points were measured with each block
        reconstructed, so the chosen swap is measured (and reported) reconstructed too."""
        return self.chooses and self.budget is not None and self.budget.rule in BUDGET_RULES

    @property
    def chooses(self) -> bool:
        """True when the layers are chosen here (a budget), not read from a saved swap."""
        return self.budget is not None and self.job.swapped_dir is None

    def split(self, data: Data, mode: str = "reconstruct") -> Split:
        """``data`` split for ``mode`` (``recover``'s rule), at least a sample per rank each."""
        return split_for(
            data,
            mode=mode,
            calibration=self.calibration,
            validation=self.validation,
            test=self.test_size,
            ranks=self.ranks,
        )

    def _swapped(
        self, selection: Selection, depth_multiplier: Mapping[str, int] | None = None
    ) -> SwapResult:
        """The job's original (kept in ``cache``) with ``selection`` swapped now (at each
        layer's m, when given)."""
        job = replace(self.job, selection=selection, swapped_dir=None)
        if depth_multiplier is not None:
            job = replace(job, depth_multiplier=dict(depth_multiplier))
        _original, _swapped, result = build_pair(job, self.cache)
        return result

    def swap(self, progress: OnProgress | None = None, *, mode: str = "reconstruct") -> SwapResult:
        """The swap: read from the job's saved swap, or made now (``agreement:X`` measured
        first)."""
        return self._swap(self.choose(progress, mode=mode))

    def _swap(self, choice: Choice) -> SwapResult:
        """The swap of ``choice`` (or the saved one the job names)."""
        if self.job.swapped_dir is not None:
            _original, _swapped, result = build_pair(self.job, self.cache)
            return result
        return self._swapped(choice.selection, choice.depth_multiplier)

    def choose(self, progress: OnProgress | None = None, *, mode: str = "reconstruct") -> Choice:
        """The selection, a budget resolved on the frontier to the layers and the m it picks
        (with the validation figure that picked them, and its notes)."""
        if not self.chooses:
            return Choice(self.job.selection)
        chosen = self.chosen if self.chosen is not None else self.resolve(progress, mode=mode)
        return Choice(chosen.selection, chosen.validation, chosen.notes, chosen.multipliers)

    def _original(self, mode: str) -> tuple[SwapResult, Split]:
        """The original (nothing swapped, with its analysis) and the data's split."""
        result = self._swapped(Selection("none"))
        if result.original is None or result.analysis is None:
            raise SelectionError("the sensitivity needs the model's input shape")
        return result, self.split(self.load(result), mode)

    def sensitivity_key(self, result: SwapResult, split: Split) -> dict[str, Any]:
        """What a sensitivity table was measured for: the model, its weights, the data and
        how it is read, the split and the calibration (files by size and time too)."""
        return {
            "source": self.job.label,
            "weights": self.job.weights,
            "weights_file": file_stamp(self.job.weights),
            "input_shape": list(result.input_shape or ()),
            "data": self.data,
            "data_file": file_stamp(self.data),
            "data_options": {name: str(value) for name, value in self.data_options.items()},
            "split": split.sizes.to_dict(),
            "calibration": self.calibration,
        }

    def sensitivity(
        self,
        progress: OnProgress | None = None,
        *,
        mode: str = "reconstruct",
        cancelled: Callable[[], bool] | None = None,
    ) -> Sensitivity:
        """The layer × m table on the validation split, reused when one was kept for the
        same model and data (and kept when measured now); its rungs timed on ``seconds_on``
        (the seconds reused when they were timed there on this machine)."""
        started = time.monotonic()
        result, split = self._original(mode)
        key = self.sensitivity_key(result, split)
        table = cached_sensitivity(key, self.outputs)
        if table is not None and table.complete:
            timed = self._timed(table, result, progress, started)
            if self.ranks.main and (timed is not table or self.outputs):
                keep_sensitivity(timed, self.outputs)  # beside this run's outputs too
            return timed
        assert result.original is not None and result.analysis is not None
        original = result.original.to(self.ranks.device)
        try:
            batch_size, _lowered = self.batch_size_for(original, split.validation)
            table = measure_sensitivity(
                original,
                result.analysis,
                split,
                key=key,
                calibration=self.calibration,
                batch_size=batch_size,
                max_time=self.max_time,
                previous=table,
                progress=progress,
                cancelled=cancelled,
                ranks=self.ranks,
                budget_bytes=self.job.budget_bytes,
            )
        finally:
            original.cpu()
        table = self._timed(table, result, progress, started)
        if self.ranks.main:
            keep_sensitivity(table, self.outputs)
        return table

    def _timed(
        self, table: Sensitivity, result: SwapResult, progress: OnProgress | None, started: float
    ) -> Sensitivity:
        """``table`` with its rungs' seconds on ``seconds_on`` (as it is when None, or when
        ``max_time`` ran out before the timing, which a note says)."""
        if self.seconds_on is None:
            return table
        timing = table.timing
        if timing is not None and timing.matches(
            self.seconds_on, timing_threads(self.job.threads), this_cpu()
        ):
            return table
        if self.max_time is not None and time.monotonic() - started > self.max_time:
            note = f"time ran out before the rungs were timed on {self.seconds_on}"
            return replace(table, notes=(*table.notes, note))
        assert result.original is not None and result.analysis is not None
        return timed(
            table,
            result.original.cpu(),
            result.analysis,
            runtime=self.seconds_on,
            threads=self.job.threads,
            progress=progress,
        )

    def resolve(
        self,
        progress: OnProgress | None = None,
        *,
        mode: str = "reconstruct",
        cancelled: Callable[[], bool] | None = None,
        time_point: MeasurePoint | None = None,
        baseline: str = "same",
    ) -> BudgetChoice:
        """The budget resolved on the frontier of the sensitivity table (measured or reused),
        its deciding points measured whole on the validation split (speedup:X: its rungs
        timed on ``seconds_on``, its points' whole models timed by ``time_point`` against
        ``baseline``)."""
        assert self.budget is not None
        table = self.sensitivity(progress, mode=mode, cancelled=cancelled)
        result, split = self._original(mode)
        assert result.original is not None and result.analysis is not None
        original = result.original.to(self.ranks.device)
        try:
            batch_size, _lowered = self.batch_size_for(original, split.validation)
            rescore = self._rescorer(original, split, batch_size)
            chosen = resolve_budget(
                self.budget,
                result.analysis,
                table=table,
                original=original,
                split=split,
                seconds=table.timing if self.budget.rule == "speedup" else None,
                time_point=time_point,
                baseline=baseline,
                calibration=self.calibration,
                batch_size=batch_size,
                ranks=self.ranks,
                budget_bytes=self.job.budget_bytes,
                progress=progress,
                rescore=rescore,
            )
        finally:
            original.cpu()
        if rescore is None:
            return chosen
        note = (
            f"{self.budget} held to the swapped model's {self.precision} agreement with the "
            "fp32 original on the validation split"
        )
        return replace(chosen, notes=(*chosen.notes, note))

    def _rescorer(self, original: Any, split: Split, batch_size: int) -> Any:
        """What holds ``agreement:X`` to the swapped model at ``precision`` (None at fp32
        in PyTorch, and for the other budgets)."""
        assert self.budget is not None
        if self.budget.rule != "agreement" or (
            self.precision == "fp32" and self.runtime in (None, "eager")
        ):
            return None
        if self.ranks.distributed:
            raise PrecisionError(
                f"measuring at {self.precision} runs in one process, not under torchrun"
            )
        shape = (1, *(int(size) for size in split.validation.inputs.shape[1:]))
        return precision_rescorer(
            original.cpu(),
            split,
            precision=self.precision,
            runtime=self.runtime,
            input_shape=shape,
            per_channel=self.per_channel,
            threads=self.job.threads,
            batch_size=batch_size,
        )

    def names(self, progress: OnProgress | None = None) -> Selection:
        """The selection, with ``agreement:X`` resolved to the layers it picks."""
        return self.choose(progress).selection

    def batch_size_for(
        self, original: Any, data: Data, *, training: bool = False
    ) -> tuple[int, tuple[str, ...]]:
        """The batch size within the device's memory budget, and a note when it was lowered."""
        fitted = fit_batch_size(
            original,
            data.inputs[:1],
            self.batch_size,
            self.job.budget_bytes,
            self.ranks,
            training=training,
        )
        if fitted == self.batch_size:
            return fitted, ()
        return fitted, (
            f"batch size {self.batch_size} lowered to {fitted} to fit the memory budget",
        )

    def load(self, result: SwapResult) -> Data:
        """The data, preprocessed for the model ``result`` was swapped from (kept in
        ``cache`` for the same data, source, input and options)."""
        input_shape = result.input_shape or self.job.input_shape
        options = dict(self.data_options)
        if self.job.budget_bytes is not None:
            options.setdefault("budget_bytes", self.job.budget_bytes)
        source = self.job.source if isinstance(self.job.source, ModelSource) else None

        def build() -> Data:
            return load_data(
                self.data,
                input_shape=input_shape,
                source=source,
                model=result.original,
                **options,
            )

        if self.cache is None:
            return build()
        key = tuple(sorted((name, str(value)) for name, value in options.items()))
        return self.cache.get("data", (self.data, self.job.label, input_shape, key), build)

    def fidelity(
        self, progress: OnProgress | None = None, *, held_out_only: bool = False
    ) -> Fidelity:
        """The swap against the original on the test split.

        ``agreement:X`` is chosen on the validation split first. When nothing is chosen and
        no test size is given, every sample is test (nothing was fitted or chosen on it);
        ``held_out_only`` takes the test split ``recover`` measures on instead. A budget
        chosen on the frontier measured each point reconstructed, so the chosen swap is
        measured reconstructed too (its figures are the ones the budget promised).
        """
        if self.reconstructs:
            return self.recover("reconstruct", progress=progress).final
        choice = self.choose(progress)
        result = self._swap(choice)
        data = self.load(result)
        if self.chooses or held_out_only or self.test_size is not None:
            split = self.split(data)
            test, sizes = split.test, split.sizes
        else:
            test, sizes = data, SplitSizes(0, 0, len(data))
        assert result.original is not None
        ranks = self.ranks
        original = result.original.to(ranks.device)
        swapped = result.model.to(ranks.device)
        try:
            batch_size, lowered = self.batch_size_for(original, test)
            measured = measure_fidelity(
                original,
                swapped,
                test,
                layers=list(result.swapped),
                weight_errors=result.weight_error,
                depth_multipliers={name: result.multiplier_for(name) for name in result.swapped},
                batch_size=batch_size,
                stage="svd" if self.job.swapped_dir is None else None,
                progress=progress,
                ranks=ranks,
            )
        finally:
            original.cpu()
            swapped.cpu()
        return measured.with_context(
            split=sizes, validation=choice.validation, notes=choice.notes + lowered
        )

    def fidelity_at(
        self,
        precision: str,
        runtime: str | None = None,
        *,
        per_channel: bool = True,
        progress: OnProgress | None = None,
    ) -> PrecisionFidelity:
        """Both models at ``precision`` in ``runtime`` (default: the precision's own) against
        the fp32 original on the test split; int8 calibrated on the fit split. A budget chosen
        on the frontier is measured reconstructed, as it was chosen (``fidelity``'s rule)."""
        if self.ranks.distributed:
            raise PrecisionError(
                f"measuring at {precision} runs in one process, not under torchrun"
            )
        choice = self.choose(progress)
        if self.reconstructs:
            result = self.recover("reconstruct", progress=progress).result
        else:
            result = self._swap(choice)
        data = self.load(result)
        split = self.split(data)
        assert result.original is not None
        given = result.input_shape or self.job.input_shape
        # The data's own sample shape, at the batch the model was given (a model fixing its
        # batch is exported at it).
        input_shape = (given[0] if given else 1, *(int(size) for size in data.inputs.shape[1:]))
        measured = measure_at_precision(
            result.original.cpu(),
            result.model.cpu(),
            split,
            precision=precision,
            runtime=runtime,
            input_shape=input_shape,
            swapped_layers=tuple(result.swapped),
            per_channel=per_channel,
            threads=self.job.threads,
            batch_size=self.batch_size,
            progress=progress,
            label=self.job.label,
        )
        return measured.with_context(
            split=split.sizes, validation=choice.validation, notes=choice.notes
        )

    def bench(
        self,
        runtimes: Sequence[str],
        precision: Precision | None = Precision.FP32,
        *,
        per_channel: bool = True,
        min_run_time: float = MODEL_MIN_RUN_TIME_S,
        min_agreement: float = DEFAULT_MIN_AGREEMENT,
        progress: OnProgress | None = None,
    ) -> ModelBenchResult:
        """The deployment matrix (``runtimes`` × ``precision``, None: every one) with each
        timed cell's two models measured on the test split against the fp32 original (int8
        calibrated on the fit split), and "best_within" the cells keeping ``min_agreement``.
        The job's own selection is timed (a budget is not chosen here)."""
        if self.ranks.distributed:
            raise PrecisionError("the matrix is timed in one process, not under torchrun")

        def measurer(result: SwapResult) -> MatrixFidelity:
            assert result.original is not None
            data = self.load(result)
            timed = tuple(int(size) for size in (result.input_shape or ())[1:])
            sample = tuple(int(size) for size in data.inputs.shape[1:])
            if timed and sample != timed:
                # The timed files take the timed shape only: the cell could not run the data.
                raise DataError(
                    f"{self.data!r}: its samples are {'×'.join(map(str, sample))}, but the "
                    f"model is timed at {'×'.join(map(str, timed))} per sample: time it at "
                    "the data's input shape, or give data of the model's"
                )
            split = self.split(data)
            return MatrixFidelity(
                result.original,
                split,
                data=self.data,
                threads=self.job.threads,
                batch_size=self.batch_size,
            )

        return benchmark_model(
            self.job,
            runtimes=runtimes,
            precision=precision,
            per_channel=per_channel,
            min_run_time=min_run_time,
            fidelity=measurer,
            min_agreement=min_agreement,
            progress=progress,
        )

    def recover(
        self,
        mode: str = "reconstruct",
        *,
        steps: int = DEFAULT_STEPS,
        lr: float = DEFAULT_LR,
        patience: int = DEFAULT_PATIENCE,
        max_time: float | None = None,
        label_weight: float = DEFAULT_LABEL_WEIGHT,
        progress: OnProgress | None = None,
    ) -> Recovery:
        """The swap, repaired on the fit split, each stage measured on the test split."""
        choice = self.choose(progress, mode=mode)
        result = self._swap(choice)
        data = self.load(result)
        assert result.original is not None
        with_device = result.original.to(self.ranks.device)
        try:
            batch_size, lowered = self.batch_size_for(with_device, data, training=mode == "distill")
        finally:
            with_device.cpu()
        return recover(
            result,
            data,
            mode=mode,
            calibration=self.calibration,
            steps=steps,
            lr=lr,
            patience=patience,
            max_time=max_time,
            label_weight=label_weight,
            batch_size=batch_size,
            progress=progress,
            ranks=self.ranks,
            budget_bytes=self.job.budget_bytes,
            split=self.split(data, mode),
            chosen=choice.validation,
            notes=choice.notes + lowered,
        )

    def tradeoff(
        self, progress: OnProgress | None = None, *, mode: str = "reconstruct"
    ) -> tuple[Tradeoff, ModelAnalysis]:
        """MACs against validation agreement as the swap grows (``measure_tradeoff``), and the
        analysis it ranked from."""
        result = self._swapped(Selection("none"))
        if result.original is None or result.analysis is None:
            raise SelectionError("the trade-off needs the model's input shape")
        data = self.load(result)
        original = result.original.to(self.ranks.device)
        try:
            batch_size, _lowered = self.batch_size_for(original, data)
            tradeoff = measure_tradeoff(
                original,
                result.analysis,
                self.split(data, mode),
                calibration=self.calibration,
                batch_size=batch_size,
                progress=progress,
                ranks=self.ranks,
                budget_bytes=self.job.budget_bytes,
            )
        finally:
            original.cpu()
        return tradeoff, result.analysis
