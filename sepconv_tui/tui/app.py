"""SepConvApp: type a layer, see both sides' figures and the shape verdict, live."""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import suppress
from pathlib import Path

from textual import on
from textual.app import App, ComposeResult, SystemCommand
from textual.content import Content
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Header, Input, TabbedContent, TabPane

from ..core.compare import Comparison
from ..core.presets import PRESETS
from ..core.spec import LayerSpec
from .controller import Controller, FormValues
from .keys import APP_KEYS, TAB_KEYS, bindings, show_tab_key
from .tab_view import OpenLayer, Tab, TabbedViews, TabView, focus_now
from .widgets.params_form import ParamsForm
from .widgets.quiet_footer import QuietFooter
from .widgets.results_view import ResultsView

#: Quiet time (s) after an edit before the tables follow it (see SepConvApp._form_changed).
RENDER_DELAY = 0.1


def network_view(spec: LayerSpec) -> Widget:
    """The Network tab's view (its module loads on first showing, not at start-up)."""
    from .widgets.network_view import NetworkView

    return NetworkView(id="network-view")


def sweep_view(spec: LayerSpec) -> Widget:
    """The Sweep tab's view."""
    from .widgets.sweep_view import SweepView

    return SweepView(spec, id="sweep-view")


def latency_view(spec: LayerSpec) -> Widget:
    """The Latency tab's view."""
    from .widgets.latency_view import LatencyView

    return LatencyView(spec, id="latency-view")


def model_view(spec: LayerSpec) -> Widget:
    """The Model tab's view."""
    from .widgets.model.view import ModelView

    return ModelView(id="model-view")


#: The Layer tab (form and results, composed at start-up) and every tab mounted when first shown.
LAYER_TAB = Tab("layer", "Layer", TAB_KEYS["layer"], lambda spec: ResultsView(id="results"))
TABS = (
    LAYER_TAB,
    Tab("network", "Network", TAB_KEYS["network"], network_view),
    Tab("sweep", "Sweep", TAB_KEYS["sweep"], sweep_view),
    Tab("latency", "Latency", TAB_KEYS["latency"], latency_view),
    Tab("model", "Model", TAB_KEYS["model"], model_view),
)


class SepConvApp(App[None]):
    """Compare a standard Conv2d with its depthwise-separable replacement, keyboard-driven."""

    CSS_PATH = Path(__file__).with_name("app.tcss")  # absolute, so subclasses elsewhere work
    TITLE = "sepconv-tui"
    SUB_TITLE = "standard Conv2d vs depthwise-separable block"

    # The key map (keys.py) is also the help screen's table and the docs' one.
    BINDINGS = bindings((*APP_KEYS, *(show_tab_key(tab.id, tab.title) for tab in TABS)))

    def __init__(self, spec: LayerSpec | None = None, *, export_dir: Path | None = None) -> None:
        super().__init__()
        self.initial_spec = spec if spec is not None else LayerSpec()
        self.export_dir = export_dir if export_dir is not None else Path.cwd()
        self.comparison: Comparison | None = None
        self.field_errors: dict[str, str] = {}
        self._render_timer: Timer | None = None
        #: The form's values this app last took (at start-up, then from each ParamsForm.Changed).
        self._handled_values: FormValues | None = None

    def format_title(self, title: str, sub_title: str) -> Content:
        """ "title — sub title" in the header; one Content, so the spaces around the dash stay."""
        return Content.assemble(f"{title} — ", (sub_title, "dim")) if sub_title else Content(title)

    def compose(self) -> ComposeResult:
        """Header; tabs: the layer (form left, results right), network, sweep, latency; footer."""
        yield Header()
        with TabbedViews(initial="layer", id="tabs"):
            # Form and results sit in the pane itself (horizontal in app.tcss): one container
            # fewer for every key to bubble through.
            with TabPane(LAYER_TAB.label, id=LAYER_TAB.id):
                yield ParamsForm(self.initial_spec, id="form")
                yield ResultsView(id="results")
            # The other tabs' views are mounted when first shown (see _view), not at start-up.
            for tab in TABS[1:]:
                yield TabPane(tab.label, id=tab.id)
        yield Controller()
        yield QuietFooter()

    def on_mount(self) -> None:
        """Show the closed-form figures in the first frame; PyTorch waits for on_ready."""
        self._handled_values = self.form.values
        self._submit(self._handled_values, check=False)
        focus_now(self.form.query_one("#in_channels", Input))

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
        self._show(self.query_one(Controller).submit(values), check=check)

    def _show(self, result: Comparison | dict[str, str], *, check: bool = True) -> None:
        """Show a comparison (then have PyTorch check it), or the field errors."""
        if isinstance(result, dict):
            self.field_errors = result
            self.form.show_errors(result)
            self.results.mark_stale(" ".join(result.values()))
            return
        self.field_errors = {}
        self.form.show_errors({})
        self.comparison = result
        self.sub_title = f"standard Conv{result.spec.dims}d vs depthwise-separable block"
        self.results.show(result)
        if check:
            self.query_one(Controller).cross_check(result)

    @on(ParamsForm.Changed)
    def _form_changed(self, event: ParamsForm.Changed) -> None:
        """Follow an edit: the headline at once, the tables once the typing pauses.

        The closed form takes microseconds and a headline repaint well under a millisecond, but
        the tables lay the screen out again (tens of ms). Done on every key, that holds the event
        loop while a Tab bubbles back to the app, and the keys typed after it reach the field
        that had the focus; so the full render waits for RENDER_DELAY without a key.
        """
        try:
            controller = self.query_one(Controller)
        except NoMatches:  # the app is closing
            return
        self._handled_values = event.values
        result = controller.submit(event.values)
        if isinstance(result, dict):
            self.field_errors = result
        else:
            self.field_errors = {}
            self.comparison = result
            self.results.show_headline(result)
        if self._render_timer is not None:
            self._render_timer.stop()
        self._render_timer = self.set_timer(RENDER_DELAY, lambda: self._render_pending(result))

    def _render_pending(self, result: Comparison | dict[str, str]) -> None:
        """The typing has paused: show everything for the last edit, and check it."""
        self._render_timer = None
        with suppress(NoMatches):  # the app closed during the pause
            self._show(result)

    @property
    def render_pending(self) -> bool:
        """True while an edit is on its way: its Input.Changed or the form's Changed not yet
        handled (each is a message of its own), or the typing's pause not yet over."""
        if self._render_timer is not None:
            return True
        try:
            return self.form.values != self._handled_values
        except NoMatches:  # the app is closing: nothing more will be shown
            return False

    @on(Controller.Checked)
    def _cross_checked(self, event: Controller.Checked) -> None:
        # A check of an older spec can land after a newer edit: keep only the current one.
        if self.comparison is None or event.comparison.spec != self.comparison.spec:
            return
        self.comparison = event.comparison
        self.results.show_check(event.comparison)

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

    @property
    def active_tab(self) -> str:
        """The id of the tab on show."""
        return self.query_one(TabbedContent).active

    async def _view(self, tab_id: str) -> TabView:
        """The view of tab ``tab_id``, mounted on its first showing, given the current layer.

        Edits happen on the Layer tab, so the other views take the layer only when they are
        shown (keeping each edit cheap).
        """
        spec = self.comparison.spec if self.comparison is not None else self.initial_spec
        existing = self.query(f"#{tab_id}-view, #{tab_id} > ResultsView")
        view: Widget
        if existing:
            view = existing.first()
        else:
            tab = next(tab for tab in TABS if tab.id == tab_id)
            view = tab.make_view(spec)
            await self.query_one(f"#{tab_id}", TabPane).mount(view)
        tab_view: TabView = view  # type: ignore[assignment]  # every make_view builds one
        tab_view.take_layer(spec)
        return tab_view

    def _mounted_views(self) -> list[TabView]:
        """The views mounted so far."""
        return [
            view  # type: ignore[misc]
            for tab in TABS
            for view in self.query(f"#{tab.id}-view, #{tab.id} > ResultsView")
        ]

    @on(TabbedContent.TabActivated)
    async def _tab_activated(self, event: TabbedContent.TabActivated) -> None:
        if event.pane.id is not None:
            await self._view(event.pane.id)

    async def action_show_tab(self, tab: str) -> None:
        """Show ``tab`` and focus its body, so its single-letter keys work."""
        self._switch_to(tab)
        await self._focus_body(tab)

    def _switch_to(self, tab: str) -> None:
        """Show ``tab``, its focus to be set by the caller.

        The focus leaves the old tab first. A focused widget that is hidden passes the focus to
        a sibling, which is hidden too; that sibling's TabPane.Focused then makes TabbedContent
        show the old tab again, hiding the new one for a frame, whose focused field in turn
        passes the focus on (F6 ended on the input shape field, or back on the Layer tab).
        """
        tabs = self.query_one(TabbedContent)
        tabs.screen.set_focus(None)
        tabs.active = tab

    async def _focus_body(self, tab: str) -> None:
        """Focus the tab's results or scrollable body, at once.

        (See focus_now: a focus that waited its turn could land after a later tab switch.)
        """
        if tab == LAYER_TAB.id:
            focus_now(self.results)
            return
        await self._view(tab)
        if self.active_tab != tab:
            return  # another key switched tabs while the view mounted: its focus stands
        body = self.query_one(f"#{tab}-body")
        if body.focusable:
            focus_now(body)
        else:  # a container that picks the child to focus (the Model tab's table or source)
            body.focus()

    async def action_escape(self) -> None:
        """Cancel a running benchmark or analysis; otherwise leave the text field for the body."""
        if any(view.cancel() for view in self._mounted_views()):
            return
        await self._focus_body(self.active_tab)

    async def action_bench(self) -> None:
        """Time what the tab shows; from a tab with nothing to time, time the layer."""
        if (await self._view(self.active_tab)).bench():
            return
        self._switch_to("latency")
        await self._focus_body("latency")
        (await self._view("latency")).bench()

    @on(OpenLayer)
    async def _open_layer(self, event: OpenLayer) -> None:
        """A view's layer (e.g. a model's conv) into the form, and the Layer tab on show."""
        self.form.load(event.spec)
        await self.action_show_tab(LAYER_TAB.id)
        self.notify(f"Layer tab: {event.origin}")

    def load_preset(self, spec: LayerSpec) -> None:
        """Fill the form with a preset's layer."""
        self.form.load(spec)

    async def action_export(self) -> None:
        """Write what the active tab shows to files and say where."""
        view = await self._view(self.active_tab)
        export = view.export()
        if export is None:
            self.notify(view.nothing_to_export)
            return
        try:
            markdown_path, json_path = export.write(self.export_dir)
        except OSError as error:
            self.notify(f"Export failed: {error}", severity="error")
            return
        others = ", ".join([json_path.name, *export.extra_names])
        self.notify(f"Exported to {markdown_path} and {others}", title="Export")

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
            "Export",
            "What the tab shows, into the working directory",
            lambda: self.run_worker(self.action_export()),
        )
        yield SystemCommand("Help", "Keys, formulas and the verdict", self.action_help)
        yield SystemCommand(
            "Benchmark latency", "Time both sides' forward passes", self.action_bench
        )
        for tab in TABS:
            yield SystemCommand(
                f"Show tab: {tab.title}",
                f"Switch to the {tab.title} view ({tab.key.upper()})",
                lambda tab_id=tab.id: self.run_worker(self.action_show_tab(tab_id)),
            )
        for preset in PRESETS:
            yield SystemCommand(
                f"Preset: {preset.name}",
                "Fill the form with this published layer",
                lambda spec=preset.spec: self.load_preset(spec),
            )
