"""SepConvApp: type a layer, see both sides' figures and the shape verdict, live."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from textual import on
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Footer, Header, Input

from .. import report
from ..core.compare import Comparison
from ..core.presets import PRESETS
from ..core.spec import LayerSpec
from .controller import Controller, FormValues
from .widgets.params_form import ParamsForm
from .widgets.results_view import ResultsView


class SepConvApp(App[None]):
    """Compare a standard Conv2d with its depthwise-separable replacement, keyboard-driven."""

    CSS_PATH = Path(__file__).with_name("app.tcss")  # absolute, so subclasses elsewhere work
    TITLE = "sepconv-tui"
    SUB_TITLE = "standard Conv2d vs depthwise-separable block"

    BINDINGS = [
        Binding("ctrl+q", "quit", "Quit", priority=True),
        Binding("q", "quit", "Quit", show=False),
        Binding("f1", "help", "Help"),
        Binding("question_mark", "help", "Help", show=False),
        Binding("ctrl+r", "reference", "Reference"),
        Binding("ctrl+l", "toggle_link", "Link geometry"),
        Binding("e", "export", "Export"),
        Binding("escape", "leave_form", "Results"),
    ]

    def __init__(self, spec: LayerSpec | None = None, *, export_dir: Path | None = None) -> None:
        super().__init__()
        self.initial_spec = spec if spec is not None else LayerSpec()
        self.export_dir = export_dir if export_dir is not None else Path.cwd()
        self.comparison: Comparison | None = None
        self.field_errors: dict[str, str] = {}

    def compose(self) -> ComposeResult:
        """Header, the form (left) and the results (right), footer."""
        yield Header()
        with Horizontal(id="layer-view"):
            yield ParamsForm(self.initial_spec, id="form")
            yield ResultsView(id="results")
        yield Controller()
        yield Footer()

    def on_mount(self) -> None:
        """Show the closed-form figures in the first frame; PyTorch waits for on_ready."""
        self._submit(self.form.values, check=False)
        self.form.query_one("#in_channels", Input).focus()

    def on_ready(self) -> None:
        """After the first frame: start the PyTorch cross-check (in its own process)."""
        if self.comparison is not None:
            self.query_one(Controller).cross_check(self.comparison)

    @property
    def form(self) -> ParamsForm:
        """The layer form."""
        return self.query_one(ParamsForm)

    @property
    def results(self) -> ResultsView:
        """The results view."""
        return self.query_one(ResultsView)

    def _submit(self, values: FormValues, *, check: bool = True) -> None:
        """Show the closed-form result of ``values`` now (or the field errors)."""
        result = self.query_one(Controller).submit(values, check=check)
        if isinstance(result, dict):
            self.field_errors = result
            self.form.show_errors(result)
            self.results.mark_stale(" ".join(result.values()))
            return
        self.field_errors = {}
        self.form.show_errors({})
        self.comparison = result
        self.results.show(result)

    @on(ParamsForm.Changed)
    def _form_changed(self, event: ParamsForm.Changed) -> None:
        self._submit(event.values)

    @on(Controller.Checked)
    def _cross_checked(self, event: Controller.Checked) -> None:
        # A check of an older spec can land after a newer edit: keep only the current one.
        if self.comparison is None or event.comparison.spec != self.comparison.spec:
            return
        self.comparison = event.comparison
        self.results.show(event.comparison)
        if self.field_errors:  # the form is invalid again: the result stays marked stale
            self.results.mark_stale(" ".join(self.field_errors.values()))

    def action_help(self) -> None:
        """Show the help screen for the current comparison."""
        from .widgets.help_screen import HelpScreen  # Markdown costs start-up time; load on use

        if self.comparison is not None and not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.comparison))

    def action_reference(self) -> None:
        """Back to the reference experiment."""
        self.form.load(LayerSpec())
        self.notify("Reference experiment: Conv2d(3, 16, 3, padding=1) on 1×3×32×32")

    def action_toggle_link(self) -> None:
        """Link or unlink the separable block's geometry."""
        self.form.toggle_link()

    def action_leave_form(self) -> None:
        """Move focus to the results, so single-letter keys work."""
        self.results.focus()

    def load_preset(self, spec: LayerSpec) -> None:
        """Fill the form with a preset's layer."""
        self.form.load(spec)

    def action_export(self) -> None:
        """Write the current comparison to Markdown and JSON files and say where."""
        if self.comparison is None:
            return
        spec = self.comparison.spec
        stem = (
            f"sepconv-{spec.in_channels}to{spec.out_channels}-k{spec.kernel_size}"
            f"-s{spec.stride}-{spec.height}x{spec.width}"
        )
        markdown_path = self.export_dir / f"{stem}.md"
        json_path = self.export_dir / f"{stem}.json"
        try:
            markdown_path.write_text(report.to_markdown(self.comparison), encoding="utf-8")
            json_path.write_text(report.to_json(self.comparison) + "\n", encoding="utf-8")
        except OSError as error:
            self.notify(f"Export failed: {error}", severity="error")
            return
        self.notify(f"Exported to {markdown_path} and {json_path.name}", title="Export")

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """Textual's commands, every action of this app, and the presets."""
        yield from super().get_system_commands(screen)
        yield SystemCommand(
            "Reference experiment", "Conv2d(3, 16, 3, p=1) on 32×32", self.action_reference
        )
        yield SystemCommand(
            "Toggle linked geometry",
            "Give the separable block its own geometry",
            self.action_toggle_link,
        )
        yield SystemCommand(
            "Export", "Markdown and JSON in the working directory", self.action_export
        )
        yield SystemCommand("Help", "Keys, formulas and the verdict", self.action_help)
        for preset in PRESETS:
            yield SystemCommand(
                f"Preset: {preset.name}",
                "Fill the form with this published layer",
                lambda spec=preset.spec: self.load_preset(spec),
            )
