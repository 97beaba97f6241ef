"""Memory per side: weight and activation bytes at fp32 / fp16 / int8, from the figures.

Weights are the parameter count; activations are the tensors a forward pass holds: the
input, the depthwise output that the pointwise conv reads (separable side only) and the
output. Both come from a Figures, so the closed form and PyTorch each give their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import prod
from typing import Any

from .figures import Figures, Shape

#: Bytes per element of each storage type people deploy convs in.
DTYPE_BYTES: dict[str, int] = {"fp32": 4, "fp16": 2, "int8": 1}


def _elements(shape: Shape | None) -> int:
    """Elements in a tensor of ``shape`` (0 when there is no tensor)."""
    return prod(shape) if shape is not None else 0


@dataclass(frozen=True)
class SideMemory:
    """One side's tensors in elements; multiply by DTYPE_BYTES for bytes."""

    weights: int
    input: int
    intermediate: int  # the depthwise output (0 for the standard conv)
    output: int

    @property
    def activations(self) -> int:
        """Elements of every activation a forward pass holds (input, intermediate, output)."""
        return self.input + self.intermediate + self.output

    def weight_bytes(self, dtype: str = "fp32") -> int:
        """Bytes of the weights (and biases) stored as ``dtype``."""
        return self.weights * DTYPE_BYTES[dtype]

    def activation_bytes(self, dtype: str = "fp32") -> int:
        """Bytes of the activations stored as ``dtype``."""
        return self.activations * DTYPE_BYTES[dtype]

    def total_bytes(self, dtype: str = "fp32") -> int:
        """Weights plus activations, as ``dtype``."""
        return self.weight_bytes(dtype) + self.activation_bytes(dtype)

    def to_dict(self) -> dict[str, Any]:
        """Elements per tensor, and bytes per storage type."""
        return {
            "elements": {
                "weights": self.weights,
                "input": self.input,
                "intermediate": self.intermediate,
                "output": self.output,
            },
            "bytes": {
                dtype: {
                    "weights": self.weight_bytes(dtype),
                    "activations": self.activation_bytes(dtype),
                    "total": self.total_bytes(dtype),
                }
                for dtype in DTYPE_BYTES
            },
        }


@dataclass(frozen=True)
class Memory:
    """Both sides' memory."""

    standard: SideMemory
    separable: SideMemory

    def to_dict(self) -> dict[str, Any]:
        """The JSON ``memory`` object."""
        return {
            "bytes_per_element": dict(DTYPE_BYTES),
            "standard": self.standard.to_dict(),
            "separable": self.separable.to_dict(),
        }


def memory(input_shape: Shape, figures: Figures) -> Memory:
    """Both sides' memory for an input of ``input_shape``."""
    input_elements = _elements(input_shape)
    return Memory(
        SideMemory(
            figures.standard.params,
            input_elements,
            0,
            _elements(figures.standard.output_shape),
        ),
        SideMemory(
            figures.separable.params,
            input_elements,
            _elements(figures.separable.depthwise.output_shape),
            _elements(figures.separable.output_shape),
        ),
    )


def format_bytes(count: int) -> str:
    """``count`` bytes in binary units: 1.75 KiB, 3.00 MiB."""
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{count:,} B" if unit == "B" else f"{value:,.2f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")
