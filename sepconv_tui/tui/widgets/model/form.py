"""The Model tab's form: source, input shape, weights, data and device, and the error line
under them."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Input, Label, Static

from ....errors import UserError
from .suggester import ModelNameSuggester

#: The input each field an error names (UserError.field) belongs under.
FIELD_INPUTS = {
    "source": "model-source",
    "input_shape": "model-input-shape",
    "weights": "model-weights",
    "data": "model-data",
    "calibration": "model-data",
    "holdout": "model-data",
    "depth_multiplier": "model-weights",  # auto:E needs the weights: the fix goes there
    "device": "model-device",
}
INPUTS = ("model-source", "model-input-shape", "model-weights", "model-data", "model-device")


class ModelForm(Vertical):
    """What the analysis and the measurements start from, as typed."""

    def __init__(self, suggester: ModelNameSuggester, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.suggester = suggester

    def compose(self) -> ComposeResult:
        """Two rows of labelled inputs; the error line."""
        with Horizontal(id="model-controls"):
            yield Label("Model", classes="control-label")
            yield Input(
                placeholder="torchvision:resnet18, timm:NAME, path/file.py:build",
                id="model-source",
                suggester=self.suggester,
                compact=True,
            )
            yield Label("Input", classes="control-label")
            yield Input(placeholder="the model's own", id="model-input-shape", compact=True)
        with Horizontal(id="model-controls-data"):
            yield Label("Weights", classes="control-label")
            yield Input(placeholder="none (a .pt)", id="model-weights", compact=True)
            yield Label("Data", classes="control-label")
            yield Input(placeholder="dir/, x.pt or synthetic:N", id="model-data", compact=True)
            yield Label("Device", classes="control-label")
            yield Input(placeholder="cpu", id="model-device", compact=True)
        # Messages quote what was typed (a path with "[" in it): shown as text, not markup.
        yield Static(id="model-error", classes="view-error", markup=False)

    def text(self, input_id: str) -> str:
        """What input ``input_id`` holds, stripped."""
        return self.query_one(f"#{input_id}", Input).value.strip()

    @property
    def source(self) -> str:
        """The source field's text."""
        return self.text("model-source")

    @property
    def weights(self) -> str:
        """The weights field's text."""
        return self.text("model-weights")

    @property
    def data(self) -> str:
        """The data field's text."""
        return self.text("model-data")

    @property
    def device(self) -> str:
        """The device field's text ("cpu" when empty)."""
        return self.text("model-device") or "cpu"

    def fill(self, weights: str, data: str) -> None:
        """Put ``weights`` and ``data`` into their fields."""
        self.query_one("#model-weights", Input).value = weights
        self.query_one("#model-data", Input).value = data

    def show_error(self, error: UserError | str | None, default: str = "model-source") -> None:
        """Show ``error`` under the inputs (None clears it); a UserError marks the input its
        field names (else ``default``) invalid, a plain message none."""
        if isinstance(error, UserError):
            input_id: str | None = FIELD_INPUTS.get(error.field or "", default)
            message: str | None = error.message
        else:
            input_id, message = None, error  # said, but no one field is at fault
        for each in INPUTS:
            self.query_one(f"#{each}", Input).set_class(each == input_id, "-invalid")
        line = self.query_one("#model-error", Static)
        line.update(f"⚠ {message}" if message else "")
        line.display = message is not None
