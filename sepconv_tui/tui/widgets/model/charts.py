"""The Model tab's charts, side by side under the table: MACs per stage (as is and selected),
and, once measured, the trade-off (MACs, or after ``l`` and ``x`` the measured latency, against
validation agreement) or ``g``'s frontier (MACs against the predicted and measured fidelity,
the browsed point marked) in its place; after ``R``, distillation's validation curve; after
``b``, the runtime × precision matrix in the MACs chart's place, beside the others."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Static
from textual_plotext import PlotextPlot

from ....model.results.bench_result import ModelBenchResult
from ....model.results.sensitivity_result import Frontier
from ....model.results.tradeoff_result import Tradeoff
from ....model.vocabulary.analysis import ModelAnalysis
from ....model.vocabulary.runtimes import runtime_label
from ....report import model_tab
from ....report.model_fidelity import CurvePlot, point_score
from ...model_session import ModelSession


class ModelChart(PlotextPlot):
    """Two bars a stage: the model as is (orange) beside it with the selection (green)."""

    def show(self, analysis: ModelAnalysis | None) -> None:
        """Plot ``analysis``'s stages (None: an empty chart)."""
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        if analysis is None:
            return
        stages = model_tab.stage_macs(analysis)
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


class TradeoffChart(PlotextPlot):
    """The measured curve (cheapest layers first), the budget, and the current selection."""

    def show(
        self,
        tradeoff: Tradeoff | None,
        selected_macs: int | None,
        budget: float,
        latency: tuple[list[float], float, str] | None = None,
    ) -> None:
        """Plot ``tradeoff`` (None: empty), a line at ``budget`` and one at ``selected_macs``;
        with ``latency`` (each point's predicted pass time, the selection's, the runtime's
        name) against that time instead of MACs."""
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        if tradeoff is None or not tradeoff.points:
            self.refresh()
            return
        points = tradeoff.points
        if latency is not None:
            seconds, selected, runtime = latency
            scale, unit = (1e-3, "ms") if max(seconds) >= 1e-3 else (1e-6, "µs")
            xs = [each / scale for each in seconds]
            selected_x: float | None = selected / scale
            xlabel = f"predicted {unit} per pass ({runtime_label(runtime)}, measured per layer)"
        else:
            scale, unit = (1e9, "G") if points[0].macs >= 1e9 else (1e6, "M")
            xs = [point.macs / scale for point in points]
            selected_x = selected_macs / scale if selected_macs is not None else None
            xlabel = f"{unit}MACs"
        scores = [100 * (point_score(point) or 0.0) for point in points]
        plt.plot(xs, scores, marker="dot", color="cyan")
        plt.scatter(xs, scores, marker="●", color="cyan")
        what = "agreement" if tradeoff.classifier else "1 − output error"
        if tradeoff.classifier:
            plt.hline(100 * budget, color="orange")
        if selected_x is not None:
            plt.vline(selected_x, color="green")
        plt.xlabel(xlabel)
        where = "Held-out" if tradeoff.split is None else "Validation"
        plt.title(f"{where} {what} % (green: selected, orange: g)")
        self.refresh()


def show_frontier(chart: PlotextPlot, frontier: Frontier, at: int | None, budget: float) -> None:
    """Plot ``frontier`` on ``chart``: 1 − the predicted error along it, the measured
    agreement where a point was measured whole, the budget, and the point at ``at``."""
    plt = chart.plt
    plt.clear_data()
    plt.clear_figure()
    points = frontier.points
    if not points:
        chart.refresh()
        return
    scale, unit = (1e9, "G") if frontier.original.macs >= 1e9 else (1e6, "M")
    xs = [point.macs / scale for point in points]
    predicted = [100 * (1 - point.predicted_error) for point in points]
    plt.plot(xs, predicted, marker="dot", color="cyan")
    measured = [point for point in points if point.measured and point.agreement is not None]
    if measured:
        plt.scatter(
            [point.macs / scale for point in measured],
            [100 * (point.agreement or 0.0) for point in measured],
            marker="●",
            color="green",
        )
        plt.hline(100 * budget, color="orange")
    if at is not None:
        plt.vline(points[at].macs / scale, color="green")
    plt.xlabel(f"{unit}MACs")
    plt.title("Frontier: 1 − predicted error % (cyan), measured agreement % (●)")
    chart.refresh()


class RecoveryChart(PlotextPlot):
    """Distillation's validation curve: the loss at each check (and the agreement, on the
    right axis, for a classifier), with a line at the step whose weights were kept."""

    def show(self, plot: CurvePlot | None) -> None:
        """Plot ``plot`` (None: an empty chart)."""
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        if plot is not None:
            plt.plot(plot.steps, plot.losses, marker="dot", color="cyan")
            if plot.agreements:
                plt.plot(plot.steps, plot.agreements, marker="dot", color="green", yside="right")
            plt.vline(plot.best_step, color="orange")
            plt.xlabel("step")
            plt.title(plot.title)
        self.refresh()


class MatrixPanel(Static):
    """``b``'s matrix: original and swapped in every runtime · precision cell, in the MACs
    chart's place, beside the trade-off or the curve (the view's ``-benched`` class shows
    it)."""

    def show(self, result: ModelBenchResult) -> None:
        """The matrix of ``result`` (wider with data: its Agreement column)."""
        self.set_class(result.data is not None, "-with-data")
        self.update(model_tab.matrix_panel(result))


class ModelCharts(Horizontal):
    """The charts; the view's ``-tradeoff`` class shows the trade-off in the MACs chart's
    place, ``-benched`` the matrix in its place too (beside the trade-off or the curve)."""

    def compose(self) -> ComposeResult:
        """The MACs chart, the trade-off chart, the recovery curve and the matrix."""
        yield ModelChart(id="model-chart")
        yield TradeoffChart(id="model-tradeoff")
        yield RecoveryChart(id="model-recovery")
        yield MatrixPanel(id="model-matrix")

    def show_matrix(self, result: ModelBenchResult) -> None:
        """``b``'s matrix."""
        self.query_one(MatrixPanel).show(result)

    def show_selection(self, analysis: ModelAnalysis) -> None:
        """The MACs chart of ``analysis``'s selection."""
        self.query_one(ModelChart).show(analysis)

    def show_recovery(self, plot: CurvePlot | None, *, stale: bool) -> None:
        """Distillation's validation curve (dimmed when ``stale``)."""
        chart = self.query_one(RecoveryChart)
        chart.show(plot)
        chart.set_class(stale, "-stale")

    def show_tradeoff(self, session: ModelSession, *, draw: bool = True) -> None:
        """The session's trade-off (dimmed when stale), the budget and the selection's MACs
        (not ``draw``: only marked, where the chart has no room)."""
        tradeoff, analysis = session.tradeoff, session.analysis
        chart = self.query_one(TradeoffChart)
        if draw and tradeoff is not None and analysis is not None:
            latency = session.latency_axis_points()
            chart.show(tradeoff.value, analysis.swapped.macs, session.budget, latency)
        chart.set_class(session.tradeoff_stale, "-stale")

    def show_frontier(self, session: ModelSession, *, draw: bool = True) -> None:
        """``g``'s frontier (dimmed when stale) with the browsed point, in the trade-off's
        place (not ``draw``: where the chart has no room)."""
        chart = self.query_one(TradeoffChart)
        frontier = session.frontier
        if draw and frontier is not None:
            show_frontier(chart, frontier.value.frontier, session.frontier_at, session.budget)
        chart.set_class(session.frontier_stale, "-stale")
