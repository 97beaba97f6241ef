"""The Network tab: a published network built with separable blocks and with standard convs."""

from __future__ import annotations

from dataclasses import dataclass

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Input, Label, Select, Static
from textual.worker import get_current_worker

from ...core.measure import MeasurementError
from ...core.networks import (
    NETWORKS,
    NetworkReport,
    parse_resolution,
    parse_width_multiplier,
)
from ...core.networks import network_report as build_report
from ...report import network as network_report
from ..export import Export
from ..tab_view import TabViewDefaults
from ..torch_process import verify_network

#: Below this many columns the per-layer table drops its input-shape column.
COMPACT_WIDTH = 100
PARAMETER_LABELS = {"width-multiplier": "Width multiplier α", "resolution": "Resolution"}


class NetworkView(TabViewDefaults, Vertical):
    """Per-layer params and MACs of both variants, totals, and the PyTorch cross-check."""

    @dataclass
    class Checked(Message):
        """PyTorch has verified ``report`` block by block."""

        report: NetworkReport

    report: NetworkReport | None = None

    def compose(self) -> ComposeResult:
        """Network, α and resolution; errors; summary, check line and the per-layer table."""
        with Horizontal(id="network-controls"):
            yield Label("Network", classes="control-label")
            yield Select(
                [(network.title, name) for name, network in NETWORKS.items()],
                value="mobilenet_v1",
                allow_blank=False,
                id="network-name",
                compact=True,
            )
            yield Label("Width α", classes="control-label")
            yield Input("1.0", id="width-multiplier", compact=True)
            yield Label("Resolution", classes="control-label")
            yield Input("224", id="resolution", type="integer", compact=True)
        yield Static(id="network-error", classes="view-error")
        yield Static(id="network-summary")
        yield Static(id="network-check")
        with VerticalScroll(id="network-body", can_focus=True):
            yield Static(id="network-table")
            yield Static(id="network-notes")

    def on_mount(self) -> None:
        """Show the published network at α = 1, 224×224."""
        self.refresh_report()

    def _parsed(self) -> tuple[str, float, int] | dict[str, str]:
        """(name, α, resolution), or {input id: message} for each bad input."""
        errors: dict[str, str] = {}
        values: dict[str, float | int] = {}
        for input_id, parse in (
            ("width-multiplier", parse_width_multiplier),
            ("resolution", parse_resolution),
        ):
            text = self.query_one(f"#{input_id}", Input).value.strip()
            try:
                values[input_id] = parse(text)
            except ValueError as error:
                errors[input_id] = f"{PARAMETER_LABELS[input_id]} {error}."
        if errors:
            return errors
        name = self.query_one("#network-name", Select).value
        assert isinstance(name, str)  # allow_blank=False
        return name, float(values["width-multiplier"]), int(values["resolution"])

    def refresh_report(self) -> None:
        """Recompute the closed-form report (or show what is wrong); check it with PyTorch."""
        parsed = self._parsed()
        error = self.query_one("#network-error", Static)
        for input_id in PARAMETER_LABELS:
            self.query_one(f"#{input_id}", Input).set_class(
                isinstance(parsed, dict) and input_id in parsed, "-invalid"
            )
        if isinstance(parsed, dict):
            error.update("⚠ " + " ".join(parsed.values()) + " Showing the last valid network.")
            error.display = True
            return
        try:
            report = build_report(*parsed)
        except ValueError as problem:  # e.g. α for a network that does not define it
            self.query_one("#width-multiplier", Input).set_class(True, "-invalid")
            error.update(f"⚠ Width multiplier α: {problem}. Showing the last valid network.")
            error.display = True
            return
        error.display = False
        self.show(report)
        self.cross_check(report)

    def show(self, report: NetworkReport) -> None:
        """Display ``report``: summary, check line and table."""
        self.report = report
        self.query_one("#network-summary", Static).update(network_report.totals_message(report))
        check = self.query_one("#network-check", Static)
        check.update(network_report.check_message(report))
        check.set_class(report.verified is None, "-pending")
        check.set_class(report.verified is not None and all(report.verified.values()), "-agree")
        self._update_table()
        self.query_one("#network-notes", Static).update(network_report.notes(report))

    def _update_table(self) -> None:
        """Render the per-layer table, compact when the view is narrow."""
        if self.report is not None:
            compact = self.size.width < COMPACT_WIDTH
            table = network_report.network_table(self.report, compact=compact)
            self.query_one("#network-table", Static).update(table)

    def on_resize(self) -> None:
        """Switch between the full and the compact table."""
        self._update_table()

    @work(thread=True, exclusive=True, group="network-check")
    def cross_check(self, report: NetworkReport) -> None:
        """Have PyTorch (in the measurement process) verify ``report``; post Checked."""
        try:
            checked = verify_network(report)
        except MeasurementError:
            return  # the check line stays "pending"; the closed form is still shown
        if not get_current_worker().is_cancelled:
            self.post_message(self.Checked(checked))

    @on(Checked)
    def _checked(self, event: Checked) -> None:
        if self.report is not None and event.report.rows == self.report.rows:
            self.show(event.report)

    @on(Input.Changed)
    def _parameters_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.refresh_report()

    @on(Select.Changed, "#network-name")
    def _network_changed(self, event: Select.Changed) -> None:
        """A new network starts at its paper's input size and α = 1."""
        event.stop()
        if isinstance(event.value, str):
            with self.prevent(Input.Changed):
                self.query_one("#width-multiplier", Input).value = "1.0"
                resolution = NETWORKS[event.value].default_resolution
                self.query_one("#resolution", Input).value = str(resolution)
        self.refresh_report()

    def export(self) -> Export | None:
        """The shown network as Markdown and JSON."""
        report = self.report
        if report is None:
            return None
        stem = f"sepconv-{report.name}-a{report.width_multiplier:g}-{report.resolution}"
        return Export(stem, network_report.to_markdown(report), network_report.to_json(report))
