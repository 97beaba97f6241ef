"""The figures one method produces for both sides: params, MACs and output shapes per conv."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Shape = tuple[int, ...]


@dataclass(frozen=True)
class ConvFigures:
    """One convolution's figures; ``macs`` and ``output_shape`` are None when it has no output."""

    params: int
    bias_params: int
    macs: int | None
    output_shape: Shape | None

    @property
    def weight_params(self) -> int:
        """Parameters in the weight tensor alone."""
        return self.params - self.bias_params

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ConvFigures:
        """The inverse of ``to_dict``."""
        shape = values["output_shape"]
        return cls(
            values["params"],
            values["bias_params"],
            values["macs"],
            tuple(shape) if shape is not None else None,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready figures."""
        return {
            "params": self.params,
            "weight_params": self.weight_params,
            "bias_params": self.bias_params,
            "macs": self.macs,
            "output_shape": list(self.output_shape) if self.output_shape is not None else None,
        }


@dataclass(frozen=True)
class SeparableFigures:
    """The depthwise-separable block: a depthwise conv followed by a 1×1 pointwise conv."""

    depthwise: ConvFigures
    pointwise: ConvFigures

    @property
    def params(self) -> int:
        """Parameters of both convs."""
        return self.depthwise.params + self.pointwise.params

    @property
    def bias_params(self) -> int:
        """Bias parameters of both convs."""
        return self.depthwise.bias_params + self.pointwise.bias_params

    @property
    def weight_params(self) -> int:
        """Weight parameters of both convs."""
        return self.params - self.bias_params

    @property
    def macs(self) -> int | None:
        """MACs of both convs, or None when the block produces no output."""
        if self.depthwise.macs is None or self.pointwise.macs is None:
            return None
        return self.depthwise.macs + self.pointwise.macs

    @property
    def output_shape(self) -> Shape | None:
        """The block's output shape (the pointwise conv's)."""
        return self.pointwise.output_shape

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready figures, with the two parts nested."""
        return {
            "params": self.params,
            "weight_params": self.weight_params,
            "bias_params": self.bias_params,
            "macs": self.macs,
            "output_shape": list(self.output_shape) if self.output_shape is not None else None,
            "depthwise": self.depthwise.to_dict(),
            "pointwise": self.pointwise.to_dict(),
        }


@dataclass(frozen=True)
class Figures:
    """Both sides' figures, as one method (closed form or PyTorch) found them."""

    standard: ConvFigures
    separable: SeparableFigures

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready figures of both sides."""
        return {"standard": self.standard.to_dict(), "separable": self.separable.to_dict()}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Figures:
        """The inverse of ``to_dict``."""
        separable = values["separable"]
        return cls(
            ConvFigures.from_dict(values["standard"]),
            SeparableFigures(
                ConvFigures.from_dict(separable["depthwise"]),
                ConvFigures.from_dict(separable["pointwise"]),
            ),
        )
