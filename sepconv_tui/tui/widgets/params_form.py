"""The layer form: one validated Input per LayerSpec field, the bias and link switches."""

from __future__ import annotations

from dataclasses import dataclass

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.validation import ValidationResult, Validator
from textual.widgets import Input, Label, Select, Static, Switch

from ...core.presets import PRESETS, PRESETS_BY_KEY
from ...core.spec import FIELD_BOUNDS, FIELD_LABELS, SEPARABLE_GEOMETRY, LayerSpec
from ..controller import FormValues, field_error

STANDARD_FIELDS = ("in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation")
BLOCK_FIELDS = ("depth_multiplier",)
INPUT_FIELDS = ("batch", "height", "width")


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

    BINDINGS = [
        Binding("up", "step(1)", "+1", show=False),
        Binding("down", "step(-1)", "−1", show=False),
        Binding("shift+up", "scale(2)", "×2", show=False),
        Binding("shift+down", "scale(0.5)", "÷2", show=False),
    ]

    def __init__(self, field: str, value: int) -> None:
        super().__init__(
            str(value),
            id=field,
            validators=[FieldValidator(field)],
            validate_on=["changed"],
            compact=True,
            select_on_focus=True,
        )
        self.field = field

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


def field_row(field: str, value: int) -> Vertical:
    """A label, the field's Input, and the (hidden until needed) error message below."""
    # Under the "Depthwise geometry" heading the separable fields need no "separable" prefix.
    label = FIELD_LABELS[SEPARABLE_GEOMETRY.get(field, field)].capitalize()
    return Vertical(
        Horizontal(
            Label(label, classes="field-label"),
            NumberInput(field, value),
            classes="field-row",
        ),
        Static("", id=f"{field}-error", classes="field-error"),
        classes="field",
    )


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

    def compose(self) -> ComposeResult:
        """Preset picker, standard conv, separable block, input, linked geometry."""
        spec = self._initial
        yield Select(
            [(preset.name, preset.key) for preset in PRESETS],
            prompt="Preset: a published layer…",
            id="preset",
            compact=True,
        )
        yield Label("Standard conv", classes="section")
        for field in STANDARD_FIELDS:
            yield field_row(field, getattr(spec, field))
        yield Horizontal(
            Label("Bias", classes="field-label"), Switch(spec.bias, id="bias"), classes="switch-row"
        )
        yield Label("Separable block", classes="section")
        for field in BLOCK_FIELDS:
            yield field_row(field, getattr(spec, field))
        yield Horizontal(
            Label("Same geometry", classes="field-label"),
            Switch(spec.geometry_linked, id="link"),
            classes="switch-row",
        )
        with Vertical(id="separable-geometry"):
            yield Label("Depthwise geometry", classes="subsection")
            for sep_field, standard_field in SEPARABLE_GEOMETRY.items():
                value = getattr(spec, sep_field)
                yield field_row(
                    sep_field, value if value is not None else getattr(spec, standard_field)
                )
        yield Label("Input", classes="section")
        for field in INPUT_FIELDS:
            yield field_row(field, getattr(spec, field))

    def on_mount(self) -> None:
        """Show the separable geometry only when it is unlinked."""
        self._show_separable_geometry(not self.query_one("#link", Switch).value)

    def _show_separable_geometry(self, show: bool) -> None:
        self.query_one("#separable-geometry").display = show

    @property
    def values(self) -> FormValues:
        """The current text of every field and both switches."""
        return FormValues(
            {number_input.field: number_input.value for number_input in self.query(NumberInput)},
            bias=self.query_one("#bias", Switch).value,
            linked=self.query_one("#link", Switch).value,
        )

    def _post_changed(self) -> None:
        """Post Changed once per distinct set of values (mounting Inputs posts one each)."""
        values = self.values
        if values != self._last_posted:
            self._last_posted = values
            self.post_message(self.Changed(values))

    def load(self, spec: LayerSpec) -> None:
        """Fill every field from ``spec`` and post one Changed."""
        with self.prevent(Input.Changed, Switch.Changed):
            for number_input in self.query(NumberInput):
                value = getattr(spec, number_input.field)
                if value is None:  # linked: prefill with the standard conv's value
                    value = getattr(spec, SEPARABLE_GEOMETRY[number_input.field])
                number_input.value = str(value)
                number_input.cursor_position = len(number_input.value)  # drop any old selection
            self.query_one("#bias", Switch).value = spec.bias
            self.query_one("#link", Switch).value = spec.geometry_linked
        self._show_separable_geometry(not spec.geometry_linked)
        self._post_changed()

    def toggle_link(self) -> None:
        """Flip the link switch (its Changed handler does the rest)."""
        self.query_one("#link", Switch).toggle()

    def show_errors(self, errors: dict[str, str]) -> None:
        """Show each field's message under it; clear the others."""
        for number_input in self.query(NumberInput):
            message = errors.get(number_input.field, "")
            error_label = self.query_one(f"#{number_input.field}-error", Static)
            error_label.update(message)
            error_label.display = bool(message)
            number_input.set_class(bool(message), "-invalid")

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
        if not event.value:
            # Unlinking starts from the standard conv's geometry, so the layer stays valid.
            with self.prevent(Input.Changed):
                for sep_field, standard_field in SEPARABLE_GEOMETRY.items():
                    standard_value = self.query_one(f"#{standard_field}", Input).value
                    self.query_one(f"#{sep_field}", Input).value = standard_value
        self._show_separable_geometry(not event.value)
        self._post_changed()

    @on(Select.Changed, "#preset")
    def _preset_chosen(self, event: Select.Changed) -> None:
        event.stop()
        if isinstance(event.value, str):
            self.load(PRESETS_BY_KEY[event.value].spec)
