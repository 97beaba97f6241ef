"""The whole-model workflows from a SOURCE string, as the CLI and the app's child run them.

Each builds the original for real (weights loaded), makes or reads the swap, loads the data
with the source's preprocessing, and hands over to ``fidelity``, ``recover`` or
``tradeoff``: one path, so ``sepconv-tui fidelity`` and the Model tab's ``f`` cannot drift
apart. torch is imported inside the functions (by what they call).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..progress import OnProgress
from .analysis import DepthChoice, ModelAnalysis, Selection, SelectionError, parse_selection
from .cache import BuildCache
from .data import Data, load_data, split
from .fidelity import DEFAULT_BATCH_SIZE, Fidelity, measure_fidelity
from .plan import SwapResult
from .recover import DEFAULT_CALIBRATION, DEFAULT_LR, DEFAULT_STEPS, Recovery, recover
from .source import Shape
from .swap import load_swapped, original_from_source, swap_convs
from .tradeoff import Tradeoff, measure_tradeoff


@dataclass(frozen=True)
class Workflow:
    """What every workflow starts from: the model, its weights, the swap and the data."""

    source: str
    data: str
    weights: str | None = None
    selection: Selection | str = "saving"
    depth_multiplier: DepthChoice | Mapping[str, int] = 1
    input_shape: Shape | None = None
    init: str = "svd"
    swapped_dir: str | Path | None = None  # a folder ``swap --out`` wrote, instead of swapping
    data_options: Mapping[str, Any] = field(default_factory=dict)  # mean, std, limit
    holdout: int | None = None
    calibration: int = DEFAULT_CALIBRATION
    batch_size: int = DEFAULT_BATCH_SIZE
    #: Keeps the built original and the loaded data for the next workflow of the same ones
    #: (the app's child holds one); None builds and loads them afresh.
    cache: BuildCache | None = field(default=None, compare=False)

    def _swapped(self, selection: Selection | str, *, init: str = "svd") -> SwapResult:
        """``swap_convs`` on the original built from the source (kept in ``cache``)."""

        def build() -> tuple[Any, Shape, str]:
            return original_from_source(
                self.source, weights=self.weights, input_shape=self.input_shape
            )

        key = (self.source, self.weights, self.input_shape)
        model, shape, name = self.cache.get("original", key, build) if self.cache else build()
        return swap_convs(
            model,
            selection,
            depth_multiplier=self.depth_multiplier,
            init=init,
            input_shape=shape,
            source=name,
        )

    def swap(self, progress: OnProgress | None = None) -> SwapResult:
        """The swap: read from ``swapped_dir``, or made now (``agreement:X`` measured first)."""
        if self.swapped_dir is not None:
            _original, _swapped, result = load_swapped(
                self.source, self.swapped_dir, weights=self.weights, input_shape=self.input_shape
            )
            return result
        return self._swapped(self.names(progress), init=self.init)

    def names(self, progress: OnProgress | None = None) -> Selection:
        """The selection, with ``agreement:X`` resolved to the layers it picks."""
        selection = (
            parse_selection(self.selection) if isinstance(self.selection, str) else self.selection
        )
        if selection.rule != "agreement":
            return selection
        tradeoff, _analysis = self.tradeoff(progress)
        assert selection.min_agreement is not None
        names = tradeoff.largest_prefix(selection.min_agreement)
        return Selection("names", patterns=names) if names else Selection("none")

    def load(self, result: SwapResult) -> Data:
        """The data, preprocessed for the model ``result`` was swapped from (kept in
        ``cache`` for the same data, source, input and options)."""
        input_shape = result.input_shape or self.input_shape

        def build() -> Data:
            return load_data(
                self.data,
                input_shape=input_shape,
                source=self.source,
                model=result.original,
                **dict(self.data_options),
            )

        if self.cache is None:
            return build()
        options = tuple(sorted((name, str(value)) for name, value in self.data_options.items()))
        return self.cache.get("data", (self.data, self.source, input_shape, options), build)

    def fidelity(
        self, progress: OnProgress | None = None, *, held_out_only: bool = False
    ) -> Fidelity:
        """The swap against the original on every sample (``held_out_only``: the last
        ``holdout`` samples, the ones ``recover`` measures on)."""
        result = self.swap(progress)
        data = self.load(result)
        if held_out_only:
            _fitting, data = split(data, self.holdout)
        assert result.original is not None
        return measure_fidelity(
            result.original,
            result.model,
            data,
            layers=list(result.swapped),
            weight_errors=result.weight_error,
            depth_multipliers={name: result.multiplier_for(name) for name in result.swapped},
            batch_size=self.batch_size,
            stage="svd" if self.swapped_dir is None else None,
            progress=progress,
        )

    def recover(
        self,
        mode: str = "reconstruct",
        *,
        steps: int = DEFAULT_STEPS,
        lr: float = DEFAULT_LR,
        progress: OnProgress | None = None,
    ) -> Recovery:
        """The swap, repaired on the data (``recover``'s stages and split)."""
        result = self.swap(progress)
        return recover(
            result,
            self.load(result),
            mode=mode,
            calibration=self.calibration,
            holdout=self.holdout,
            steps=steps,
            lr=lr,
            batch_size=self.batch_size,
            progress=progress,
        )

    def tradeoff(self, progress: OnProgress | None = None) -> tuple[Tradeoff, ModelAnalysis]:
        """MACs against held-out agreement as the swap grows (``measure_tradeoff``), and the
        analysis it ranked from."""
        result = self._swapped("none")
        if result.original is None or result.analysis is None:
            raise SelectionError("the trade-off needs the model's input shape")
        tradeoff = measure_tradeoff(
            result.original,
            result.analysis,
            self.load(result),
            holdout=self.holdout,
            calibration=self.calibration,
            batch_size=self.batch_size,
            progress=progress,
        )
        return tradeoff, result.analysis
