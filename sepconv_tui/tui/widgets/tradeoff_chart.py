"""The Model tab's trade-off chart: MACs against held-out agreement as layers join the swap."""

from __future__ import annotations

from textual_plotext import PlotextPlot

from ...model.tradeoff import Tradeoff
from ...report.model_fidelity import point_score


class TradeoffChart(PlotextPlot):
    """The measured curve (cheapest layers first), the budget, and the current selection."""

    def show(self, tradeoff: Tradeoff | None, selected_macs: int | None, budget: float) -> None:
        """Plot ``tradeoff`` (None: empty), a line at ``budget`` and one at ``selected_macs``."""
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        if tradeoff is None or not tradeoff.points:
            self.refresh()
            return
        points = tradeoff.points
        scale, unit = (1e9, "G") if points[0].macs >= 1e9 else (1e6, "M")
        macs = [point.macs / scale for point in points]
        scores = [100 * (point_score(point) or 0.0) for point in points]
        plt.plot(macs, scores, marker="dot", color="cyan")
        plt.scatter(macs, scores, marker="●", color="cyan")
        what = "agreement" if tradeoff.classifier else "1 − output error"
        if tradeoff.classifier:
            plt.hline(100 * budget, color="orange")
        if selected_macs is not None:
            plt.vline(selected_macs / scale, color="green")
        plt.xlabel(f"{unit}MACs")
        plt.title(f"Held-out {what} % (green: selected, orange: g)")
        self.refresh()
