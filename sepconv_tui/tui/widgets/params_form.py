"""The layer form: one validated Input per LayerSpec field, the bias and link switches."""

from __future__ import annotations

from dataclasses import dataclass

from textual import events, on
from textual.app import ComposeResult
from textual.containers import Grid, VerticalScroll
from textual.geometry import Size
from textual.message import Message
from textual.reactive import Reactive
from textual.validation import ValidationResult, Validator
from textual.widget import Widget
from textual.widgets import Input, Label, Select, Static, Switch

from ...core.presets import PRESETS, PRESETS_BY_KEY
from ...core.spec import (
    DEFAULT_DEPTH,
    DEFAULT_LENGTH,
    FIELD_BOUNDS,
    FIELD_LABELS,
    SEPARABLE_GEOMETRY,
    SPATIAL_AXES,
    LayerSpec,
)
from ..controller import FormValues, field_error
from ..keys import FORM_KEYS, bindings

STANDARD_FIELDS = ("in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation")
BLOCK_FIELDS = ("depth_multiplier",)
INPUT_FIELDS = ("batch", "height", "width")
#: The rank selector's choices: what the input looks like in each rank.
RANK_OPTIONS = tuple((f"{dims}-D", dims) for dims in SPATIAL_AXES)
#: What a size field the form mounts on first need starts at.
SIZE_DEFAULTS = {"length": DEFAULT_LENGTH, "depth": DEFAULT_DEPTH}


class FieldValidator(Validator):
    """Accepts an integer within the field's bounds; the failure names the field and range."""

    def __init__(self, field: str) -> None:
        super().__init__()
        self.field = field

    def validate(self, value: str) -> ValidationResult:
        """Valid when the core accepts ``value`` for this field."""
        message = field_error(self.field, value)
        return self.success() if message is None else self.failure(message, value)


class NumberInput(Input):
    """An Input for one integer field; up/down step it, shift+up/down double or halve it."""

    BINDINGS = bindings(FORM_KEYS)

    # Input sets its virtual size to its text's length on every keystroke, and Widget's
    # virtual_size lays the whole screen out again when it changes. This Input has a fixed
    # size, so a keystroke need only repaint it: laying out the app's ~100 widgets per key
    # held the event loop long enough for the keys typed after a Tab to overtake it.
    virtual_size: Reactive[Size] = Reactive(Size(0, 0), repaint=True, layout=False)

    def __init__(self, field: str, value: int | str) -> None:
        super().__init__(
            str(value),
            id=field,
            validators=[FieldValidator(field)],
            validate_on=["changed"],
            compact=True,
            select_on_focus=True,
        )
        self.field = field

    async def on_key(self, event: events.Key) -> None:
        """Run the binding of a non-printable key (Tab, Backspace, arrows…) here, in typing order.

        Textual types a printable key into the Input at once, but runs a binding only once the
        key has bubbled through every container up to the app. Whenever that round trip waited
        behind other work, the keys typed next overtook it: digits landed before a Backspace,
        or in the field a Tab was leaving. ``Screen.active_bindings`` names the binding the app
        would run (the focused widget's first; priority bindings never reach this handler), so
        running it here changes only the order, to the one the keys were typed in. A key that
        arrives after the focus has left the form goes on to the widget that has it.

        Textual calls each class's key handler, this one first; ``prevent_default`` skips
        Input's own (which types a printable key) and Widget's (which dispatches bindings).
        """
        focused = self.screen.focused
        # Tab and shift+Tab move the focus in the app's queue (SepConvApp's priority bindings),
        # so a key forwarded here before another field took the focus was typed here. A key
        # binding that leaves the form (escape, F2-F6) runs in this queue, after the keys typed
        # next were forwarded here: those follow the focus out.
        if focused is not None and focused is not self and not isinstance(focused, NumberInput):
            event.prevent_default()
            event.stop()
            focused.post_message(events.Key(event.key, event.character))
            return
        if event.is_printable:
            return  # Input._on_key types it
        active = self.screen.active_bindings.get(event.key)
        if active is None or active.binding.priority or not active.enabled:
            return
        event.prevent_default()  # Input._on_key has nothing left to do
        event.stop()
        await self.app.run_action(active.binding.action, active.node)

    def _set_clamped(self, value: int) -> None:
        """Set the value, kept within the field's bounds."""
        low, high = FIELD_BOUNDS[self.field]
        self.value = str(min(max(value, low), high))
        self.cursor_position = len(self.value)

    def action_step(self, delta: int) -> None:
        """Add ``delta`` to the value."""
        try:
            self._set_clamped(int(self.value) + delta)
        except ValueError:
            self.app.bell()

    def action_scale(self, factor: float) -> None:
        """Multiply the value by ``factor`` (2 doubles, 0.5 halves, rounding down)."""
        try:
            self._set_clamped(int(int(self.value) * factor))
        except ValueError:
            self.app.bell()


def separable_text(spec: LayerSpec) -> dict[str, str]:
    """The depthwise geometry fields' text for ``spec`` (the standard conv's values if linked)."""
    return {
        sep_field: str(getattr(spec, sep_field) or getattr(spec, standard_field))
        for sep_field, standard_field in SEPARABLE_GEOMETRY.items()
    }


def field_widgets(field: str, value: int | str) -> tuple[Label, NumberInput]:
    """The field's label and Input: one row of its section's two-column grid.

    No row container: every widget costs start-up time, and every container between an Input
    and the screen is one more queue a key bubbles through.
    """
    # Under the "Depthwise geometry" heading the separable fields need no "separable" prefix.
    label = FIELD_LABELS[SEPARABLE_GEOMETRY.get(field, field)].capitalize()
    return Label(label, classes="field-label", id=f"{field}-label"), NumberInput(field, value)


def section(title: str, *children: Widget, id: str) -> Grid:
    """A titled two-column grid (label | field) of the form."""
    grid = Grid(*children, classes="section", id=id)
    grid.border_title = title
    return grid


class ParamsForm(VerticalScroll):
    """Every field of a LayerSpec; posts ``ParamsForm.Changed`` whenever one changes."""

    @dataclass
    class Changed(Message):
        """The form's values changed."""

        values: FormValues

    def __init__(self, spec: LayerSpec, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._initial = spec
        self._last_posted: FormValues | None = None
        self._dims = spec.dims  # the rank, also before its selector is mounted

    def compose(self) -> ComposeResult:
        """Standard conv, separable block, input; the preset picker and the depthwise geometry
        (hidden while linked) are mounted after the first frame or when first needed."""
        spec = self._initial
        yield section(
            "Standard conv",
            *(w for field in STANDARD_FIELDS for w in field_widgets(field, getattr(spec, field))),
            Label("Bias", classes="field-label"),
            Switch(spec.bias, id="bias"),
            id="standard-section",
        )
        yield section(
            "Separable block",
            *(w for field in BLOCK_FIELDS for w in field_widgets(field, getattr(spec, field))),
            Label("Same geometry", classes="field-label"),
            Switch(spec.geometry_linked, id="link"),
            id="block-section",
        )
        if not spec.geometry_linked:
            yield self._separable_geometry(separable_text(spec))
        # Only the sizes of this rank: a 1-D layer's length or a 3-D layer's depth is mounted
        # when first needed (then hidden, not removed, when the rank changes back).
        sizes = ("batch", *spec.spatial_axes)
        yield section(
            "Input",
            # The selector replaces this line after the first frame: a Select costs start-up time.
            Label("Rank", classes="field-label"),
            Label(RANK_OPTIONS[spec.dims - 1][0], id="dims-placeholder"),
            *(w for field in sizes for w in field_widgets(field, getattr(spec, field))),
            id="input-section",
        )

    def on_mount(self) -> None:
        """Mount the preset picker and the rank selector once the first frame is on screen."""
        self._last_posted = self.values  # mounting the Inputs changes nothing
        self.call_after_refresh(self._mount_preset_picker)

    def _mount_preset_picker(self) -> None:
        if self.is_attached and not self.query("#preset"):
            options = [(preset.name, preset.key) for preset in PRESETS]
            prompt = "Preset: a published layer…"
            picker = Select(options, prompt=prompt, id="preset", compact=True)
            self.mount(picker, before=0)
        placeholder = self.query("#dims-placeholder")
        if self.is_attached and placeholder:
            selector = Select(
                RANK_OPTIONS, value=self._dims, allow_blank=False, id="dims", compact=True
            )
            self.query_one("#input-section", Grid).mount(selector, after="#dims-placeholder")
            placeholder.remove()

    @staticmethod
    def _separable_geometry(text: dict[str, str]) -> Grid:
        """The depthwise conv's own geometry, each field holding ``text[field]``."""
        widgets = (w for field in SEPARABLE_GEOMETRY for w in field_widgets(field, text[field]))
        return section("Depthwise geometry", *widgets, id="separable-geometry")

    def _show_separable_geometry(self, text: dict[str, str] | None) -> None:
        """Show the depthwise geometry holding ``text`` (mounted the first time), or hide it."""
        existing = self.query("#separable-geometry")
        if text is None:
            existing.set(display=False)
        elif not existing:
            self.mount(self._separable_geometry(text), before="#input-section")
        else:
            with self.prevent(Input.Changed):
                for field, value in text.items():
                    sep_input = self.query_one(f"#{field}", NumberInput)
                    sep_input.value = value
                    sep_input.cursor_position = len(value)  # drop any old selection
            existing.set(display=True)

    @property
    def dims(self) -> int:
        """The rank the selector shows."""
        return self._dims

    def _show_rank(self, dims: int, sizes: LayerSpec | None = None) -> None:
        """Show the input sizes of rank ``dims`` (mounting a missing one, at its size in
        ``sizes`` if given), hide the others."""
        grid = self.query_one("#input-section", Grid)
        for field in ("length", "depth", "height", "width"):
            wanted = field in SPATIAL_AXES[dims]
            widgets = self.query(f"#{field}-label, #{field}")
            if not widgets and wanted:
                # After the batch row: the order of length and depth never shows (one at most).
                size = getattr(sizes, field, None) if sizes is not None else None
                label, number_input = field_widgets(field, size or SIZE_DEFAULTS[field])
                grid.mount(label, number_input, after="#batch")
            else:
                widgets.set(display=wanted)

    @property
    def values(self) -> FormValues:
        """The current text of every field, both switches and the rank."""
        return FormValues(
            {number_input.field: number_input.value for number_input in self.query(NumberInput)},
            bias=self.query_one("#bias", Switch).value,
            linked=self.query_one("#link", Switch).value,
            dims=self.dims,
        )

    def _post_changed(self) -> None:
        """Post Changed once per distinct set of values (mounting Inputs posts one each)."""
        values = self.values
        if values != self._last_posted:
            self._last_posted = values
            self.post_message(self.Changed(values))

    def load(self, spec: LayerSpec) -> None:
        """Fill every field from ``spec`` and post one Changed."""
        with self.prevent(Input.Changed, Switch.Changed, Select.Changed):
            self._dims = spec.dims
            for selector in self.query("#dims").results(Select):
                selector.value = spec.dims
            self._show_rank(spec.dims, spec)
            for number_input in self.query(NumberInput):
                value = getattr(spec, number_input.field)
                if number_input.field in SEPARABLE_GEOMETRY:
                    continue  # below, with the geometry's visibility
                if value is None or (spec.dims == 1 and number_input.field in INPUT_FIELDS[1:]):
                    continue  # a size this rank has not: it keeps its text, hidden
                number_input.value = str(value)
                number_input.cursor_position = len(number_input.value)  # drop any old selection
            self.query_one("#bias", Switch).value = spec.bias
            self.query_one("#link", Switch).value = spec.geometry_linked
        self._show_separable_geometry(None if spec.geometry_linked else separable_text(spec))
        self._post_changed()

    def toggle_link(self) -> None:
        """Flip the link switch (its Changed handler does the rest)."""
        self.query_one("#link", Switch).toggle()

    def show_errors(self, errors: dict[str, str]) -> None:
        """Show each field's message below its section (mounting its line the first time);
        clear the others.

        Below the section, not the field: a grid sizes an auto row by one column's width, so a
        message spanning both columns would leave blank rows under it.
        """
        for number_input in self.query(NumberInput):
            field = number_input.field
            message = errors.get(field, "")
            number_input.set_class(bool(message), "-invalid")
            error_line = next(self.query(f"#{field}-error").results(Static), None)
            if error_line is None and message:
                # markup=False: the message quotes what was typed, "[/" included.
                error_line = Static(id=f"{field}-error", classes="field-error", markup=False)
                self.mount(error_line, after=self._last_line_of(number_input))
            if error_line is not None and str(error_line.content) != message:
                error_line.update(message)  # an update lays the screen out again: only if new
                error_line.display = bool(message)

    def _last_line_of(self, number_input: NumberInput) -> Widget:
        """The section of ``number_input``, or the last error line already below it."""
        section_grid = number_input.parent
        assert isinstance(section_grid, Widget)
        below = section_grid
        for sibling in self.children[self.children.index(section_grid) + 1 :]:
            if not sibling.has_class("field-error"):
                break
            below = sibling
        return below

    @on(Input.Changed)
    def _input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self._post_changed()

    @on(Switch.Changed, "#bias")
    def _bias_changed(self, event: Switch.Changed) -> None:
        event.stop()
        self._post_changed()

    @on(Switch.Changed, "#link")
    def _link_changed(self, event: Switch.Changed) -> None:
        event.stop()
        if event.value:
            self._show_separable_geometry(None)
        else:
            # Unlinking starts from the standard conv's geometry, so the layer stays valid.
            standard = {
                sep_field: self.query_one(f"#{standard_field}", NumberInput).value
                for sep_field, standard_field in SEPARABLE_GEOMETRY.items()
            }
            self._show_separable_geometry(standard)
        self._post_changed()

    @on(Select.Changed, "#dims")
    def _rank_chosen(self, event: Select.Changed) -> None:
        event.stop()
        if isinstance(event.value, int) and event.value != self._dims:
            self._dims = event.value
            self._show_rank(event.value)
            self._post_changed()

    @on(Select.Changed, "#preset")
    def _preset_chosen(self, event: Select.Changed) -> None:
        event.stop()
        if isinstance(event.value, str):
            self.load(PRESETS_BY_KEY[event.value].spec)
