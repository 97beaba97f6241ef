"""compare(spec): both methods, the ratios, the shape verdict and why."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from . import analytic
from .figures import ConvFigures, Figures, SeparableFigures
from .memory import Memory, memory
from .spec import LayerSpec

Method = Literal["both", "analytic"]


@dataclass(frozen=True)
class Verification:
    """Whether the closed form and PyTorch agree, figure by figure (None: PyTorch could not run)."""

    params: bool | None
    shapes: bool | None
    macs: bool | None

    @property
    def all_agree(self) -> bool:
        """True when every figure was checked and agrees."""
        return self.params is True and self.shapes is True and self.macs is True

    def to_dict(self) -> dict[str, bool | None]:
        """JSON-ready flags."""
        return {"params": self.params, "shapes": self.shapes, "macs": self.macs}


@dataclass(frozen=True)
class Comparison:
    """A standard conv against its depthwise-separable replacement, with the verdict."""

    spec: LayerSpec
    figures: Figures
    measured: Figures | None = None
    verified: Verification | None = None
    reasons: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def standard(self) -> ConvFigures:
        """The standard conv's closed-form figures."""
        return self.figures.standard

    @property
    def separable(self) -> SeparableFigures:
        """The separable block's closed-form figures."""
        return self.figures.separable

    @property
    def shapes_match(self) -> bool:
        """True when both sides produce output of the same shape."""
        standard_shape = self.standard.output_shape
        return standard_shape is not None and standard_shape == self.separable.output_shape

    @property
    def param_ratio(self) -> float:
        """Standard params ÷ separable params ("× fewer")."""
        return self.standard.params / self.separable.params

    @property
    def mac_ratio(self) -> float | None:
        """Standard MACs ÷ separable MACs, or None when a side has no output."""
        standard_macs, separable_macs = self.standard.macs, self.separable.macs
        if standard_macs is None or separable_macs is None or separable_macs == 0:
            return None
        return standard_macs / separable_macs

    @property
    def textbook_ratio(self) -> float:
        """Howard et al.'s 1 / (m · (1/C_out + 1/k^d)), with the standard conv's kernel: k^d its
        elements per channel (k₁·…·k_d for a per-axis kernel)."""
        spec = self.spec
        return analytic.textbook_ratio(
            spec.out_channels, spec.kernel_volume, spec.depth_multiplier, dims=1
        )

    @property
    def memory(self) -> Memory:
        """Weight and activation sizes of both sides (from the closed-form figures)."""
        return memory(self.spec.input_shape, self.figures)

    @property
    def is_verified(self) -> bool:
        """True when PyTorch ran and agreed with the closed form on every figure."""
        return self.verified is not None and self.verified.all_agree

    def to_dict(self) -> dict[str, Any]:
        """The JSON document described in DESIGN.md."""
        return {
            "spec": self.spec.to_dict(),
            "standard": self.standard.to_dict(),
            "separable": self.separable.to_dict(),
            "param_ratio": self.param_ratio,
            "mac_ratio": self.mac_ratio,
            "textbook_ratio": self.textbook_ratio,
            "shapes_match": self.shapes_match,
            "memory": self.memory.to_dict(),
            "reasons": list(self.reasons),
            "verified": self.verified.to_dict() if self.verified is not None else None,
            "notes": list(self.notes),
            "conventions": {
                "macs": "multiply-accumulates; bias adds not counted",
                "flops": "2 × MACs",
            },
        }


def _no_output_reason(spec: LayerSpec, side: str, sep: str) -> str:
    """Say why a conv produces no output: its dilated kernel spans more than the padded input.

    ``sep`` is "" for the standard conv's geometry and "sep_" for the depthwise conv's.
    """
    kernel, padding, dilation = (
        spec.axes(sep + name) for name in ("kernel_size", "padding", "dilation")
    )
    spans = [d * (k - 1) + 1 for k, d in zip(kernel, dilation, strict=True)]
    too_small = [
        f"{axis} {size} + 2·{pad} = {size + 2 * pad}"
        for axis, size, pad, span in zip(
            spec.spatial_axes, spec.spatial_size, padding, spans, strict=True
        )
        if size + 2 * pad < span
    ]
    if len(set(spans)) == 1:
        # One kernel on every axis: the message of the square (and cubic) layer.
        span_text = f"{spans[0]} (kernel {kernel[0]}, dilation {dilation[0]})"
    else:
        span_text = (
            f"{'×'.join(map(str, spans))} (kernel {'×'.join(map(str, kernel))}, "
            f"dilation {'×'.join(map(str, dilation))})"
        )
    return (
        f"the {side} cannot produce output: its kernel spans {span_text} "
        "but the padded input is only " + " and ".join(too_small)
    )


def mismatch_reasons(spec: LayerSpec, figures: Figures) -> tuple[str, ...]:
    """Why the two sides' outputs differ, axis by axis; empty when the shapes match."""
    standard_shape = figures.standard.output_shape
    separable_shape = figures.separable.output_shape
    reasons: list[str] = []
    if standard_shape is None:
        reasons.append(_no_output_reason(spec, "standard conv", ""))
    if separable_shape is None:
        reasons.append(_no_output_reason(spec, "separable block (depthwise conv)", "sep_"))
    if standard_shape is not None and separable_shape is not None:
        axes = ("batch", "channels", *spec.spatial_axes)
        for axis, standard_size, separable_size in zip(
            axes, standard_shape, separable_shape, strict=True
        ):
            if standard_size != separable_size:
                reasons.append(
                    f"output {axis} differs: standard {standard_size}, separable {separable_size}"
                )
    return tuple(reasons)


def verify(closed_form: Figures, measured: Figures) -> Verification:
    """Compare the two methods' figures for every conv."""
    pairs = [
        (closed_form.standard, measured.standard),
        (closed_form.separable.depthwise, measured.separable.depthwise),
        (closed_form.separable.pointwise, measured.separable.pointwise),
    ]
    return Verification(
        params=all(a.params == b.params and a.bias_params == b.bias_params for a, b in pairs),
        shapes=all(a.output_shape == b.output_shape for a, b in pairs),
        macs=all(a.macs == b.macs for a, b in pairs),
    )


def compare(spec: LayerSpec | None = None, method: Method = "both") -> Comparison:
    """Compare ``spec``'s standard conv with its separable block, by closed form and PyTorch.

    ``method="analytic"`` skips PyTorch (instant, no torch import); ``verified`` is then None.
    """
    spec = spec if spec is not None else LayerSpec()
    closed_form = analytic.figures(spec)
    reasons = mismatch_reasons(spec, closed_form)
    if method == "analytic":
        return Comparison(spec, closed_form, reasons=reasons)
    return cross_check(Comparison(spec, closed_form, reasons=reasons))


def cross_check(
    comparison: Comparison, measurer: Callable[[LayerSpec], Figures] | None = None
) -> Comparison:
    """Add PyTorch's measurement to a closed-form comparison and say whether they agree.

    ``measurer`` defaults to ``measure.figures`` in this process (the app passes one that
    runs it in a child process).
    """
    from . import measure

    try:
        measured = (measurer or measure.figures)(comparison.spec)
    except measure.MeasurementError as error:
        note = f"PyTorch could not measure this layer ({error}); the figures are closed-form only"
        return Comparison(
            comparison.spec,
            comparison.figures,
            None,
            Verification(None, None, None),
            comparison.reasons,
            (*comparison.notes, note),
        )
    return Comparison(
        comparison.spec,
        comparison.figures,
        measured,
        verify(comparison.figures, measured),
        comparison.reasons,
        comparison.notes,
    )
