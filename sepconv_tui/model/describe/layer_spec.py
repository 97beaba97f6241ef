"""A conv of an analysed model as the Layer tab's LayerSpec, or why it does not fit that form.

The Layer tab describes a square (cubic in 3-D) geometry (one kernel size, stride, padding and
dilation for every axis) on an N×C×L, N×C×H×W or N×C×D×H×W input; a model's conv may be
rectangular, grouped, never called, or padded "same" (TensorFlow's, unevenly). Plain data, no
torch.
"""

from __future__ import annotations

from ...core.analytic import TF_SAME, tf_same_padding
from ...core.spec import LayerSpec, SpecError
from ...errors import UserError
from ..vocabulary.analysis import ModelLayer


class LayerFitError(UserError):
    """A model's layer that the Layer tab's form cannot describe; the message says why."""


def _one(values: tuple[int, ...] | None, what: str, name: str) -> int:
    """The single value of a per-axis pair, or LayerFitError when the axes differ."""
    if not values:
        raise LayerFitError(f"{name} has no {what}")
    if len(set(values)) != 1:
        shown = "×".join(str(value) for value in values)
        raise LayerFitError(
            f"{name} has {what} {shown}: the Layer tab takes one {what} for every axis"
        )
    return values[0]


def _tf_same(layer: ModelLayer, kernel: int, stride: int, dilation: int) -> int:
    """TensorFlow "SAME" padding at the layer's input as one int, when it pads evenly."""
    assert layer.input_shape is not None
    height, width = layer.input_shape[-2:]
    pads = sorted({tf_same_padding(size, kernel, stride, dilation) for size in (height, width)})
    if len(pads) == 1 and pads[0][0] == pads[0][1]:
        return pads[0][0]
    shown = ", ".join(f"{before} before and {after} after" for before, after in pads)
    raise LayerFitError(
        f"{layer.name} pads TensorFlow 'same' unevenly at {height}×{width} ({shown}): the "
        "Layer tab pads both sides equally"
    )


def _padding(layer: ModelLayer, kernel: int, stride: int, dilation: int) -> int:
    """The layer's padding as one int ("valid" is 0; "same" the padding it works out to)."""
    padding = layer.padding
    if padding == "valid":
        return 0
    if padding == TF_SAME:
        return _tf_same(layer, kernel, stride, dilation)
    if padding == "same":
        total = dilation * (kernel - 1)
        if total % 2:
            raise LayerFitError(
                f"{layer.name} pads 'same' unevenly (kernel {kernel}, dilation {dilation}): "
                "the Layer tab pads both sides equally"
            )
        return total // 2
    assert not isinstance(padding, str)
    return _one(padding, "padding", layer.name)


def layer_spec(layer: ModelLayer, depth_multiplier: int = 1) -> LayerSpec:
    """The LayerSpec of ``layer`` at the input it first saw; LayerFitError saying why not."""
    if layer.kind != "conv":
        what = "a linear layer" if layer.kind == "linear" else f"a {layer.module_type}"
        raise LayerFitError(f"{layer.name} is {what}, not a Conv2d")
    if layer.groups != 1:
        raise LayerFitError(
            f"{layer.name} is grouped (groups={layer.groups}): the Layer tab compares a "
            "standard conv (groups=1)"
        )
    if layer.input_shape is None or not 3 <= len(layer.input_shape) <= 5:
        raise LayerFitError(
            f"{layer.name} was not called on an N×C×L, N×C×H×W or N×C×D×H×W input by the forward"
        )
    kernel = _one(layer.kernel_size, "kernel size", layer.name)
    stride = _one(layer.stride, "stride", layer.name)
    dilation = _one(layer.dilation, "dilation", layer.name)
    padding = _padding(layer, kernel, stride, dilation)
    batch, _, *sizes = layer.input_shape
    # The input's spatial sizes by rank: (length,), (height, width) or (depth, height, width).
    rank_sizes: dict[str, int] = (
        {"length": sizes[0]}
        if len(sizes) == 1
        else dict(zip(("depth", "height", "width")[-len(sizes) :], sizes, strict=True))
    )
    try:
        return LayerSpec(
            in_channels=layer.in_channels,
            out_channels=layer.out_channels,
            kernel_size=kernel,
            stride=stride,
            padding=padding,
            dilation=dilation,
            bias=layer.bias,
            depth_multiplier=depth_multiplier,
            batch=batch,
            dims=len(sizes),
            **rank_sizes,
        )
    except SpecError as error:
        raise LayerFitError(f"{layer.name}: the Layer tab's {error}") from None
