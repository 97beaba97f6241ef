"""The Sweep tab: the exact ratios as one field moves, plotted beside the textbook curve."""

from __future__ import annotations

from math import log2

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Label, Select, Static

from ...core.spec import FIELD_LABELS, LayerSpec, format_axes
from ...core.sweep import SWEEP_POINTS, SweepPoint, sweep, textbook_curve
from ...report import sweep as report
from ...report.layer import kernel_power
from ..export import Export
from ..tab_view import TabViewDefaults

#: The exact ratios at each sweep point: label, Comparison attribute, colour.
EXACT_CURVES = (
    ("param ratio", "param_ratio", "cyan"),
    ("MAC ratio", "mac_ratio", "green"),
)


def textbook_label(dims: int) -> str:
    """The textbook curve's legend: 1/(m·(1/C_out + 1/k²)) in 2-D, k or k³ in 1-D or 3-D."""
    return f"textbook 1/(m·(1/C_out + 1/{kernel_power(dims)}))"


#: Fields swept over powers of two are plotted on a log2 axis.
LOG2_FIELDS = frozenset({"out_channels", "in_channels", "depth_multiplier"})


def describe(spec: LayerSpec) -> str:
    """The base layer in one line: C_in→C_out, k, stride, padding, input (sizes of its rank)."""
    rank = "" if spec.dims == 2 else f"{spec.dims}-D, "
    k, s, p = (
        value if isinstance(value, int) else format_axes(value, spec.dims)
        for value in (spec.kernel_size, spec.stride, spec.padding)
    )
    return (
        f"Base layer (from the Layer tab): {rank}{spec.in_channels}→{spec.out_channels}, "
        f"k={k}, s={s}, p={p}, m={spec.depth_multiplier}, "
        f"input {'×'.join(map(str, spec.spatial_size))}"
    )


class SweepView(TabViewDefaults, Vertical):
    """A plot and a table of the param, MAC and textbook ratios across one field."""

    def __init__(self, base: LayerSpec, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.base = base
        self.points: list[SweepPoint] = []

    def compose(self) -> ComposeResult:
        """Field picker, base layer, plot, table."""
        from textual_plotext import PlotextPlot  # plotext costs start-up time; tab is lazy

        with Horizontal(id="sweep-controls"):
            yield Label("Sweep over", classes="control-label")
            yield Select(
                [(FIELD_LABELS[field], field) for field in SWEEP_POINTS],
                value="out_channels",
                allow_blank=False,
                id="sweep-field",
                compact=True,
            )
        yield Static(id="sweep-base")
        yield PlotextPlot(id="sweep-plot")
        with VerticalScroll(id="sweep-body", can_focus=True):
            yield Static(id="sweep-table")

    def on_mount(self) -> None:
        """Sweep the base layer."""
        self.refresh_sweep()

    @property
    def field(self) -> str:
        """The swept field."""
        value = self.query_one("#sweep-field", Select).value
        assert isinstance(value, str)  # allow_blank=False
        return value

    def take_layer(self, spec: LayerSpec) -> None:
        """Sweep around ``spec`` from now on."""
        if spec != self.base:
            self.base = spec
            if self.is_mounted:
                self.refresh_sweep()

    def refresh_sweep(self) -> None:
        """Recompute the points (closed form) and redraw the plot and table."""
        self.points = sweep(self.field, self.base)
        self.query_one("#sweep-base", Static).update(describe(self.base))
        self.query_one("#sweep-table", Static).update(report.sweep_table(self.points))
        self._plot()

    def _plot(self) -> None:
        """Draw each ratio against the swept value (log2 axis for powers of two)."""
        from textual_plotext import PlotextPlot

        plot = self.query_one("#sweep-plot", PlotextPlot)
        plt = plot.plt
        plt.clear_data()
        plt.clear_figure()
        field = self.field
        log_axis = field in LOG2_FIELDS

        def x_of(value: float) -> float:
            return log2(value) if log_axis else value

        curve = textbook_curve(field, self.base)
        plt.plot(
            [x_of(value) for value, _ in curve],
            [ratio for _, ratio in curve],
            label=textbook_label(self.base.dims),
            color="orange",
            marker="braille",
        )
        values = [point.value for point in self.points]
        xs = [x_of(value) for value in values]
        for label, attribute, color in EXACT_CURVES:
            pairs = [
                (x, getattr(point.comparison, attribute))
                for x, point in zip(xs, self.points, strict=True)
                if getattr(point.comparison, attribute) is not None
            ]
            plt.scatter(  # exact values exist only at the sweep points
                [x for x, _ in pairs],
                [y for _, y in pairs],
                label=label,
                color=color,
                marker="●" if attribute == "mac_ratio" else "■",
            )
        plt.xticks(xs, [str(value) for value in values])
        plt.title(f"× fewer (standard ÷ separable) as {FIELD_LABELS[field]} moves")
        plt.xlabel(FIELD_LABELS[field])
        plot.refresh()

    @on(Select.Changed, "#sweep-field")
    def _field_changed(self, event: Select.Changed) -> None:
        event.stop()
        self.refresh_sweep()

    def export(self) -> Export | None:
        """The sweep as Markdown and JSON."""
        if not self.points:
            return None
        stem = f"sepconv-sweep-{self.field}"
        return Export(
            stem, report.sweep_to_markdown(self.points), report.sweep_to_json(self.points)
        )
