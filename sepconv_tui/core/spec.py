"""LayerSpec: the layer being compared (1-D, 2-D or 3-D), validated field by field."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from math import prod
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
    "dims": (1, 3),
    "length": (1, 2**20),
    "depth": (1, 2**16),
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
    "dims": "rank",
    "length": "length",
    "depth": "depth",
}

#: The separable block's own geometry fields, each mirroring a standard conv field.
SEPARABLE_GEOMETRY: dict[str, str] = {
    "sep_kernel_size": "kernel_size",
    "sep_stride": "stride",
    "sep_padding": "padding",
    "sep_dilation": "dilation",
}

#: Fields that take one number (every axis alike) or one per spatial axis.
PER_AXIS_FIELDS = ("kernel_size", "stride", "padding", "dilation", *SEPARABLE_GEOMETRY)

#: The input's spatial axes in each rank, outermost first (N×C×L, N×C×H×W, N×C×D×H×W).
SPATIAL_AXES: dict[int, tuple[str, ...]] = {
    1: ("length",),
    2: ("height", "width"),
    3: ("depth", "height", "width"),
}
#: A 1-D layer's length and a 3-D layer's depth when none is given.
DEFAULT_LENGTH = 32
DEFAULT_DEPTH = 16
#: The height and width a LayerSpec has by default (a 1-D layer has neither).
_DEFAULT_SIDE = 32

#: One number for every spatial axis, or one per axis (outermost first, as PyTorch takes them).
Axes = int | tuple[int, ...]


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


def parse_int_in_range(
    text: str | int,
    low: int,
    high: int | None = None,
    *,
    field: str | None = None,
    what: str | None = None,
) -> int:
    """The integer ``text`` holds (or is) if it is from ``low`` to ``high`` (no limit when
    None); else a UserError (a ValueError) naming the range, ``field`` and, when given, ``what``
    the number is. The one integer parser of the CLI, the app and the engine's arguments."""
    accepted = f"an integer from {low} to {high}" if high is not None else f"an integer ≥ {low}"
    subject = f"{what} must be" if what else "must be"
    if isinstance(text, bool) or not isinstance(text, str | int):
        raise UserError(f"{subject} {accepted}, got {text!r}", field=field)
    try:
        value = int(text)
    except ValueError:
        raise UserError(f"{subject} {accepted}, got {text!r}", field=field) from None
    if value < low or (high is not None and value > high):
        raise UserError(f"{subject} {accepted}, got {value}", field=field)
    return value


def check_field(field: str, value: Any) -> int:
    """Return ``value`` as an int if it is within ``field``'s bounds, else raise SpecError."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise SpecError(f"must be {range_message(field)}, got {value!r}", field=field)
    low, high = FIELD_BOUNDS[field]
    if not low <= value <= high:
        raise SpecError(f"must be {range_message(field)}, got {value}", field=field)
    return value


def check_axes(field: str, value: Any, dims: int) -> Axes:
    """``value`` as one int (all axes alike) or a ``dims``-tuple of ints, else SpecError.

    A sequence whose entries are all equal becomes that one int, so (3, 3) and 3 are one layer.
    """
    if isinstance(value, list | tuple):
        if len(value) != dims:
            raise SpecError(
                f"must be one number or {dims} (one per axis of a {dims}-D layer), "
                f"got {len(value)}: {tuple(value)!r}",
                field=field,
            )
        values = tuple(check_field(field, item) for item in value)
        return values[0] if len(set(values)) == 1 else values
    return check_field(field, value)


def axes_of(value: Axes, dims: int) -> tuple[int, ...]:
    """``value`` per axis: an int repeated ``dims`` times, or the tuple itself."""
    return (value,) * dims if isinstance(value, int) else value


def format_axes(value: Axes, dims: int) -> str:
    """A kernel-like value as people write it: 3×3, 11, 3×7×7."""
    return "×".join(str(size) for size in axes_of(value, dims))


@dataclass(frozen=True)
class LayerSpec:
    """One conv layer (1-D, 2-D or 3-D) and its input; the defaults are the reference experiment.

    ``dims`` is the spatial rank: 1 reads an N×C×``length`` input, 2 (the default) N×C×H×W,
    3 N×C×``depth``×H×W. Kernel, stride, padding and dilation take one number (every axis
    alike) or one per axis, outermost first as PyTorch takes them.
    """

    in_channels: int = 3
    out_channels: int = 16
    kernel_size: Axes = 3
    stride: Axes = 1
    padding: Axes = 1
    dilation: Axes = 1
    bias: bool = True
    depth_multiplier: int = 1
    batch: int = 1
    height: int = _DEFAULT_SIDE
    width: int = _DEFAULT_SIDE
    # The separable block's own geometry; None means "same as the standard conv".
    sep_kernel_size: Axes | None = None
    sep_stride: Axes | None = None
    sep_padding: Axes | None = None
    sep_dilation: Axes | None = None
    dims: int = 2
    length: int | None = None  # 1-D only: the input is N×C×length
    depth: int | None = None  # 3-D only: the input is N×C×depth×H×W

    def __post_init__(self) -> None:
        dims = check_field("dims", self.dims)
        for spec_field in fields(self):
            name, value = spec_field.name, getattr(self, spec_field.name)
            if name == "bias":
                if not isinstance(value, bool):
                    raise SpecError(f"must be true or false, got {value!r}", field="bias")
            elif name in PER_AXIS_FIELDS:
                if value is not None or name not in SEPARABLE_GEOMETRY:
                    # Frozen: normalising (3, 3) to 3 goes through object.__setattr__.
                    object.__setattr__(self, name, check_axes(name, value, dims))
            elif name not in ("length", "depth"):
                check_field(name, value)
        self._check_rank_sizes(dims)

    def _check_rank_sizes(self, dims: int) -> None:
        """Length only in 1-D, depth only in 3-D, no height or width in 1-D; fill defaults."""
        if self.length is not None and dims != 1:
            raise SpecError(
                f"only a 1-D layer (dims 1) has a length; a {dims}-D layer's input is "
                f"N×C×{'×'.join(axis[0].upper() for axis in SPATIAL_AXES[dims])}",
                field="length",
            )
        if self.depth is not None and dims != 3:
            raise SpecError(
                f"only a 3-D layer (dims 3) has a depth; this one has dims {dims}", field="depth"
            )
        if dims == 1:
            for side in ("height", "width"):
                if getattr(self, side) != _DEFAULT_SIDE:
                    raise SpecError(
                        f"a 1-D layer has no {side}; its input is N×C×L: give length", field=side
                    )
            if self.length is None:
                object.__setattr__(self, "length", DEFAULT_LENGTH)
        if dims == 3 and self.depth is None:
            object.__setattr__(self, "depth", DEFAULT_DEPTH)
        for name in ("length", "depth"):
            if getattr(self, name) is not None:
                check_field(name, getattr(self, name))

    def axes(self, field: str) -> tuple[int, ...]:
        """A per-axis field's value on each spatial axis (the separable ones resolved)."""
        standard = SEPARABLE_GEOMETRY.get(field, field)
        value = getattr(self, field)
        return axes_of(getattr(self, standard) if value is None else value, self.dims)

    @property
    def spatial_axes(self) -> tuple[str, ...]:
        """The input's spatial axes, outermost first: ("length",), ("height", "width"), …."""
        return SPATIAL_AXES[self.dims]

    @property
    def spatial_size(self) -> tuple[int, ...]:
        """The input's size along each spatial axis."""
        return tuple(getattr(self, axis) for axis in self.spatial_axes)

    @property
    def kernel_volume(self) -> int:
        """Kernel elements per channel: k^d, or k₁·…·k_d for a per-axis kernel."""
        return prod(self.axes("kernel_size"))

    @property
    def separable_kernel_size(self) -> Axes:
        """Kernel size of the depthwise conv."""
        return self.kernel_size if self.sep_kernel_size is None else self.sep_kernel_size

    @property
    def separable_stride(self) -> Axes:
        """Stride of the depthwise conv."""
        return self.stride if self.sep_stride is None else self.sep_stride

    @property
    def separable_padding(self) -> Axes:
        """Padding of the depthwise conv."""
        return self.padding if self.sep_padding is None else self.sep_padding

    @property
    def separable_dilation(self) -> Axes:
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
    def input_shape(self) -> tuple[int, ...]:
        """The input tensor's shape: (N, C_in, L), (N, C_in, H, W) or (N, C_in, D, H, W)."""
        return (self.batch, self.in_channels, *self.spatial_size)

    def to_dict(self) -> dict[str, Any]:
        """Every field, as plain JSON-ready values (per-axis values as lists; a 1-D layer's
        height and width null)."""
        values = asdict(self)
        for name in PER_AXIS_FIELDS:
            if isinstance(values[name], tuple):
                values[name] = list(values[name])
        if self.dims == 1:
            values["height"] = values["width"] = None
        return values

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> LayerSpec:
        """Build a spec from a mapping, ignoring keys that are not fields (and null sides)."""
        names = {spec_field.name for spec_field in fields(cls)}
        return cls(
            **{
                key: value
                for key, value in values.items()
                if key in names and not (key in ("height", "width") and value is None)
            }
        )
