"""What a runtime reports it ran, as one label, and the bytes each precision moves.

The precisions a cell can ask for are ``runtimes.Precision``; these are the ones that ran.

A cell of the deployment matrix is labelled with the precision the runtime ran, never the one
asked for: OpenVINO runs a bf16 request at f32 on a CPU without bf16 kernels, and ONNX Runtime
runs a QDQ pair it cannot fuse in float. Both report per node; ``RanPrecision`` sums those
reports into one label. No torch here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

#: Bytes per element a kernel moves at each precision (int8: uint8 activations, int8 weights).
ELEMENT_BYTES = {"fp32": 4, "bf16": 2, "fp16": 2, "int8": 1}


@dataclass(frozen=True)
class RanPrecision:
    """The precision a compiled model's compute nodes ran at, as its runtime reports it."""

    label: str  # "fp32", "bf16", "int8", or mixed: "int8+fp32" (most nodes first)
    nodes: Mapping[str, int]  # precision → compute nodes that ran at it

    @classmethod
    def from_counts(cls, counts: Mapping[str, int]) -> RanPrecision:
        """From compute nodes per precision: the label lists them, most nodes first."""
        ordered = sorted(
            (key for key, count in counts.items() if count),
            key=lambda precision: (-counts[precision], precision),
        )
        return cls("+".join(ordered) or "none", {key: counts[key] for key in ordered})

    @classmethod
    def from_nodes(cls, precisions: Iterable[str]) -> RanPrecision:
        """From one precision per compute node."""
        counts: dict[str, int] = {}
        for precision in precisions:
            counts[precision] = counts.get(precision, 0) + 1
        return cls.from_counts(counts)
