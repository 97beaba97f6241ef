"""LayerSpec: the layer being compared, validated field by field."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from ..errors import UserError

#: Accepted range (inclusive) of every integer field. The UI, the CLI and LayerSpec share it.
FIELD_BOUNDS: dict[str, tuple[int, int]] = {
    "in_channels": (1, 2**20),
    "out_channels": (1, 2**20),
    "kernel_size": (1, 1024),
    "stride": (1, 1024),
    "padding": (0, 1024),
    "dilation": (1, 1024),
    "depth_multiplier": (1, 1024),
    "batch": (1, 2**16),
    "height": (1, 2**16),
    "width": (1, 2**16),
    "sep_kernel_size": (1, 1024),
    "sep_stride": (1, 1024),
    "sep_padding": (0, 1024),
    "sep_dilation": (1, 1024),
}

#: Human labels for the fields, used in messages and forms.
FIELD_LABELS: dict[str, str] = {
    "in_channels": "in channels",
    "out_channels": "out channels",
    "kernel_size": "kernel size",
    "stride": "stride",
    "padding": "padding",
    "dilation": "dilation",
    "depth_multiplier": "depth multiplier",
    "batch": "batch",
    "height": "height",
    "width": "width",
    "bias": "bias",
    "sep_kernel_size": "separable kernel size",
    "sep_stride": "separable stride",
    "sep_padding": "separable padding",
    "sep_dilation": "separable dilation",
}

#: The separable block's own geometry fields, each mirroring a standard conv field.
SEPARABLE_GEOMETRY: dict[str, str] = {
    "sep_kernel_size": "kernel_size",
    "sep_stride": "stride",
    "sep_padding": "padding",
    "sep_dilation": "dilation",
}


class SpecError(UserError):
    """A LayerSpec field holds a value outside its accepted range (``str`` is "field: message")."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message, field=field)
        self.args = (f"{field}: {message}",)

    def __str__(self) -> str:
        """ "field: message", as the CLI prints it."""
        return f"{self.field}: {self.message}"


def range_message(field: str) -> str:
    """Describe the accepted range of an integer field, e.g. 'an integer from 1 to 1024'."""
    low, high = FIELD_BOUNDS[field]
    return f"an integer from {low} to {high}"


def parse_int_in_range(text: str, low: int, high: int, *, field: str | None = None) -> int:
    """The integer ``text`` holds if it is from ``low`` to ``high``; else a UserError (a
    ValueError) naming the range and ``field``. The one integer parser of the CLI and the app."""
    try:
        value = int(text)
    except ValueError:
        raise UserError(
            f"must be an integer from {low} to {high}, got {text!r}", field=field
        ) from None
    if not low <= value <= high:
        raise UserError(f"must be an integer from {low} to {high}, got {value}", field=field)
    return value


def check_field(field: str, value: Any) -> int:
    """Return ``value`` as an int if it is within ``field``'s bounds, else raise SpecError."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise SpecError(f"must be {range_message(field)}, got {value!r}", field=field)
    low, high = FIELD_BOUNDS[field]
    if not low <= value <= high:
        raise SpecError(f"must be {range_message(field)}, got {value}", field=field)
    return value


@dataclass(frozen=True)
class LayerSpec:
    """One Conv2d layer and its input; the defaults are the reference experiment."""

    in_channels: int = 3
    out_channels: int = 16
    kernel_size: int = 3
    stride: int = 1
    padding: int = 1
    dilation: int = 1
    bias: bool = True
    depth_multiplier: int = 1
    batch: int = 1
    height: int = 32
    width: int = 32
    # The separable block's own geometry; None means "same as the standard conv".
    sep_kernel_size: int | None = None
    sep_stride: int | None = None
    sep_padding: int | None = None
    sep_dilation: int | None = None

    def __post_init__(self) -> None:
        for spec_field in fields(self):
            value = getattr(self, spec_field.name)
            if spec_field.name == "bias":
                if not isinstance(value, bool):
                    raise SpecError(f"must be true or false, got {value!r}", field="bias")
            elif value is not None or spec_field.name not in SEPARABLE_GEOMETRY:
                check_field(spec_field.name, value)

    @property
    def separable_kernel_size(self) -> int:
        """Kernel size of the depthwise conv."""
        return self.kernel_size if self.sep_kernel_size is None else self.sep_kernel_size

    @property
    def separable_stride(self) -> int:
        """Stride of the depthwise conv."""
        return self.stride if self.sep_stride is None else self.sep_stride

    @property
    def separable_padding(self) -> int:
        """Padding of the depthwise conv."""
        return self.padding if self.sep_padding is None else self.sep_padding

    @property
    def separable_dilation(self) -> int:
        """Dilation of the depthwise conv."""
        return self.dilation if self.sep_dilation is None else self.sep_dilation

    @property
    def geometry_linked(self) -> bool:
        """True when the separable block uses exactly the standard conv's geometry."""
        return all(
            getattr(self, sep) in (None, getattr(self, std))
            for sep, std in SEPARABLE_GEOMETRY.items()
        )

    @property
    def depthwise_channels(self) -> int:
        """Channels out of the depthwise conv: C_in · depth multiplier."""
        return self.in_channels * self.depth_multiplier

    @property
    def input_shape(self) -> tuple[int, int, int, int]:
        """The input tensor's shape (N, C_in, H, W)."""
        return (self.batch, self.in_channels, self.height, self.width)

    def to_dict(self) -> dict[str, Any]:
        """Every field, as plain JSON-ready values."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> LayerSpec:
        """Build a spec from a mapping, ignoring keys that are not fields."""
        names = {spec_field.name for spec_field in fields(cls)}
        return cls(**{key: value for key, value in values.items() if key in names})
