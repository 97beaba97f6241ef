"""The Model tab's chart: MACs per stage (per layer for a small model), as is and selected."""

from __future__ import annotations

from textual_plotext import PlotextPlot

from ...model.analysis import ModelAnalysis
from ...report import model as report


class ModelChart(PlotextPlot):
    """Two bars a stage: the model as is (orange) beside it with the selection (green)."""

    def show(self, analysis: ModelAnalysis | None) -> None:
        """Plot ``analysis``'s stages (None: an empty chart)."""
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        if analysis is None:
            return
        stages = report.stage_macs(analysis)
        if stages:
            scale, unit = (1e9, "G") if max(s.original for s in stages) >= 1e9 else (1e6, "M")
            # plotext takes a colour per series (textual-plotext's stub says one); the title
            # names them, as a legend would cover the first bars.
            plt.multiple_bar(
                [stage.label for stage in stages],
                [
                    [stage.original / scale for stage in stages],
                    [stage.selected / scale for stage in stages],
                ],
                color=["orange", "green"],  # type: ignore[arg-type]
            )
            per = "stage" if len(stages) < len(analysis.layers) else "layer"
            # Short enough for half the width, where the trade-off chart sits beside it
            # (plotext drops a title that does not fit).
            plt.title(f"{unit}MACs per {per}: as is (orange), selected (green)")
        self.refresh()
