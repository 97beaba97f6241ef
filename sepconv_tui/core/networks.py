"""Whole published networks, built twice: separable (as published) and with standard convs.

MobileNetV1 (Howard et al. 2017, arXiv 1704.04861, Table 1): a 3×3 stem conv, 13
depthwise-separable blocks, 7×7 average pool and a 1024·α → 1000 classifier with bias; batch
norm (2 parameters per channel) after every conv, whose own bias is off. The "standard"
variant is the paper's "Conv MobileNet": each depthwise + pointwise pair becomes one full
3×3 conv of the same stride and widths. Table 1 prints s2 for the 13th depthwise layer, but
the feature map must stay 7×7 for the 7×7 pool (and only stride 1 reproduces Table 4), so it
is stride 1 here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from .analytic import conv_macs, conv_output_size, conv_params

#: MobileNetV1 body after the stem: (output channels at α = 1, depthwise stride).
MOBILENET_V1_BLOCKS: tuple[tuple[int, int], ...] = (
    (64, 1),
    (128, 2),
    (128, 1),
    (256, 2),
    (256, 1),
    (512, 2),
    (512, 1),
    (512, 1),
    (512, 1),
    (512, 1),
    (512, 1),
    (1024, 2),
    (1024, 1),  # Table 1 prints s2; stride 1 keeps the 7×7 map the pool needs
)
MOBILENET_V1_STEM = 32
CLASSES = 1000
NETWORKS = ("mobilenet_v1",)
#: α: greater than the first, at most the second.
WIDTH_MULTIPLIER_RANGE = (0.0, 4.0)
#: Input height and width, inclusive.
RESOLUTION_RANGE = (32, 4096)


def parse_width_multiplier(text: str) -> float:
    """α from ``text``, or ValueError naming the accepted range."""
    low, high = WIDTH_MULTIPLIER_RANGE
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not low < value <= high:  # also rejects NaN
        raise ValueError(
            f"must be a number greater than {low:g} and at most {high:g}, got {text!r}"
        )
    return value


def parse_resolution(text: str) -> int:
    """The input size from ``text``, or ValueError naming the accepted range."""
    low, high = RESOLUTION_RANGE
    try:
        value = int(text)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise ValueError(f"must be an integer from {low} to {high}, got {text!r}")
    return value


@dataclass(frozen=True)
class BlockConfig:
    """One block of a network: its channels, kernel and stride."""

    name: str
    kind: str  # "stem" (standard conv in both variants), "block" (the swapped pair), "classifier"
    in_channels: int
    out_channels: int
    kernel_size: int = 3
    stride: int = 1


@dataclass(frozen=True)
class NetworkRow:
    """One row of the per-layer table: a block's input and both variants' figures."""

    name: str
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    standard_params: int
    standard_macs: int
    separable_params: int
    separable_macs: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready row."""
        values = asdict(self)
        values["input_shape"] = list(self.input_shape)
        values["output_shape"] = list(self.output_shape)
        return values


@dataclass(frozen=True)
class NetworkTotals:
    """One variant's totals."""

    params: int
    macs: int


@dataclass(frozen=True)
class NetworkReport:
    """A network's per-layer table and totals for both variants."""

    name: str
    width_multiplier: float
    resolution: int
    rows: tuple[NetworkRow, ...]
    verified: dict[str, bool] | None = None

    @property
    def standard(self) -> NetworkTotals:
        """Totals with every separable pair replaced by a standard conv."""
        return NetworkTotals(
            sum(row.standard_params for row in self.rows),
            sum(row.standard_macs for row in self.rows),
        )

    @property
    def separable(self) -> NetworkTotals:
        """Totals of the published (separable) network."""
        return NetworkTotals(
            sum(row.separable_params for row in self.rows),
            sum(row.separable_macs for row in self.rows),
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON document: totals per variant, ratios, and the per-layer rows."""
        standard, separable = self.standard, self.separable
        return {
            "network": self.name,
            "width_multiplier": self.width_multiplier,
            "resolution": self.resolution,
            "standard": asdict(standard),
            "separable": asdict(separable),
            "param_ratio": standard.params / separable.params,
            "mac_ratio": standard.macs / separable.macs,
            "verified": self.verified,
            "layers": [row.to_dict() for row in self.rows],
            "conventions": {
                "params": "trainable parameters, batch-norm weight and bias included",
                "macs": "conv and classifier multiply-accumulates; bias adds, BN, ReLU, pool not",
            },
        }


def scaled(channels: int, width_multiplier: float) -> int:
    """Channels thinned by α, as the paper defines it (at least one)."""
    return max(1, int(channels * width_multiplier))


def mobilenet_v1_blocks(width_multiplier: float = 1.0) -> list[BlockConfig]:
    """MobileNetV1's stem, 13 blocks and classifier at width multiplier α."""
    stem = scaled(MOBILENET_V1_STEM, width_multiplier)
    blocks = [BlockConfig("conv1 3×3/s2", "stem", 3, stem, 3, 2)]
    in_channels = stem
    for index, (channels, stride) in enumerate(MOBILENET_V1_BLOCKS, start=1):
        out_channels = scaled(channels, width_multiplier)
        blocks.append(
            BlockConfig(
                f"block{index} {in_channels}→{out_channels}/s{stride}",
                "block",
                in_channels,
                out_channels,
                3,
                stride,
            )
        )
        in_channels = out_channels
    blocks.append(BlockConfig(f"fc {in_channels}→{CLASSES}", "classifier", in_channels, CLASSES))
    return blocks


def _bn(channels: int) -> int:
    """Batch-norm parameters (weight and bias) for ``channels``."""
    return 2 * channels


def network_report(
    name: str = "mobilenet_v1", width_multiplier: float = 1.0, resolution: int = 224
) -> NetworkReport:
    """The closed-form per-layer table and totals of a network, both variants."""
    if name not in NETWORKS:
        raise ValueError(f"unknown network {name!r}; known: {', '.join(NETWORKS)}")
    rows: list[NetworkRow] = []
    size = resolution
    for block in mobilenet_v1_blocks(width_multiplier):
        c_in, c_out, k, stride = (
            block.in_channels,
            block.out_channels,
            block.kernel_size,
            block.stride,
        )
        input_shape: tuple[int, ...] = (1, c_in, size, size)
        if block.kind == "classifier":
            params = c_in * c_out + c_out
            macs = c_in * c_out
            rows.append(NetworkRow(block.name, (1, c_in), (1, c_out), params, macs, params, macs))
            continue
        out = conv_output_size(size, k, stride, k // 2, 1)
        standard_params = conv_params(c_in, c_out, k, 1, False) + _bn(c_out)
        standard_macs = conv_macs(1, c_in, c_out, out, out, k, 1)
        if block.kind == "stem":
            separable_params, separable_macs = standard_params, standard_macs
        else:
            separable_params = (
                conv_params(c_in, c_in, k, c_in, False)
                + _bn(c_in)
                + conv_params(c_in, c_out, 1, 1, False)
                + _bn(c_out)
            )
            separable_macs = conv_macs(1, c_in, c_in, out, out, k, c_in) + conv_macs(
                1, c_in, c_out, out, out, 1, 1
            )
        rows.append(
            NetworkRow(
                block.name,
                input_shape,
                (1, c_out, out, out),
                standard_params,
                standard_macs,
                separable_params,
                separable_macs,
            )
        )
        size = out
    return NetworkReport(name, width_multiplier, resolution, tuple(rows))
