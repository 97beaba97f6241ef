"""Form values → LayerSpec or field errors → closed-form comparison now, PyTorch check later."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from textual import work
from textual.message import Message
from textual.widget import Widget
from textual.worker import get_current_worker

from ..core.compare import Comparison, compare, cross_check
from ..core.spec import (
    FIELD_LABELS,
    SEPARABLE_GEOMETRY,
    SPATIAL_AXES,
    LayerSpec,
    SpecError,
    check_field,
)
from .torch_process import measure_figures

#: The input sizes some rank has and another has not.
_RANK_SIZES = frozenset({"length", "depth", "height", "width"})


@dataclass(frozen=True)
class FormValues:
    """What the form holds: every integer field as typed, the bias and link switches, the rank."""

    text: Mapping[str, str]
    bias: bool = True
    linked: bool = True
    dims: int = 2


def parse_field(field: str, text: str) -> int:
    """The integer ``text`` holds for ``field``, or SpecError saying why and the range."""
    value: object
    try:
        value = int(text.strip())
    except ValueError:
        value = text  # check_field rejects it with the accepted range
    return check_field(field, value)


def field_error(field: str, text: str) -> str | None:
    """A user-facing message for a bad value (label, reason, accepted range), or None."""
    try:
        parse_field(field, text)
    except SpecError as error:
        return f"{FIELD_LABELS[field].capitalize()} {error.message}."
    return None


def parse_form(values: FormValues) -> LayerSpec | dict[str, str]:
    """A LayerSpec of the form's rank, or {field: message} for every field that is not valid."""
    numbers: dict[str, int] = {}
    errors: dict[str, str] = {}
    for field, text in values.text.items():
        if values.linked and field in SEPARABLE_GEOMETRY:
            continue  # linked: the separable block uses the standard conv's geometry
        if field in _RANK_SIZES and field not in SPATIAL_AXES[values.dims]:
            continue  # a size of another rank, hidden
        message = field_error(field, text)
        if message is None:
            numbers[field] = parse_field(field, text)
        else:
            errors[field] = message
    if errors:
        return errors
    return LayerSpec(bias=values.bias, dims=values.dims, **numbers)


class Controller(Widget):
    """Turns form values into comparisons: closed form at once, the PyTorch check in a worker."""

    DEFAULT_CSS = "Controller { display: none; }"

    @dataclass
    class Checked(Message):
        """PyTorch has cross-checked a comparison (``comparison.verified`` is set)."""

        comparison: Comparison

    def submit(self, values: FormValues) -> Comparison | dict[str, str]:
        """The closed-form comparison for ``values`` at once (or {field: message});
        ``cross_check`` has PyTorch check it later."""
        parsed = parse_form(values)
        if isinstance(parsed, dict):
            return parsed
        return compare(parsed, method="analytic")

    @work(thread=True, exclusive=True, group="cross-check")
    def cross_check(self, comparison: Comparison) -> None:
        """Have PyTorch (in its own process) measure the layer; post the checked comparison."""
        checked = cross_check(comparison, measure_figures)
        if not get_current_worker().is_cancelled:
            self.post_message(self.Checked(checked))
