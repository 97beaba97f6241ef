"""Whole published networks, built twice: separable (as published) and with standard convs.

Every separable conv is swapped for one full conv of the same kernel, stride and widths in the
"standard" variant; stems, 1×1 residual convs, pools and classifiers stay as they are.

MobileNetV1 (Howard et al. 2017, arXiv 1704.04861, Table 1): a 3×3 stem conv, 13
depthwise-separable blocks (BN and ReLU between depthwise and pointwise), 7×7 average pool and
a 1024·α → 1000 classifier with bias; batch norm (2 parameters per channel) after every conv,
whose own bias is off. Its "standard" variant is the paper's "Conv MobileNet". Table 1 prints
s2 for the 13th depthwise layer, but the feature map must stay 7×7 for the 7×7 pool (and only
stride 1 reproduces Table 4), so it is stride 1 here.

Xception (Chollet 2017, arXiv 1610.02357, Figure 5): two valid 3×3 stem convs, entry flow of
three residual blocks (two separable convs, a 3×3/s2 max pool, a 1×1/s2 conv on the shortcut),
a middle flow of eight blocks of three 728-wide separable convs, the exit flow, global average
pool and a 2048 → 1000 classifier with bias. Its separable convs have no BN between depthwise
and pointwise; BN follows every conv. Table 3 counts 22,855,952 parameters.

QuartzNet BxR (Kriman et al. 2020, arXiv 1910.10261, Table 1) is 1-D: see ``quartznet_blocks``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from .analytic import conv_macs, conv_output_size, conv_params
from .spec import parse_int_in_range

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
    return parse_int_in_range(text, *RESOLUTION_RANGE)


@dataclass(frozen=True)
class BlockConfig:
    """One row of a network: a conv, a separable conv (the swapped part), a pool or the FC."""

    name: str
    # "conv" (conv + BN (+ ReLU), same in both variants), "separable" (swapped), "pool",
    # "classifier" (flatten + linear), "head" (a kernel-1 conv with bias, no BN: QuartzNet's C4)
    kind: str
    in_channels: int
    out_channels: int
    input_size: int  # the input's size along every spatial axis (square inputs in 2-D)
    kernel_size: int = 3
    stride: int = 1
    padding: int | None = None  # None: "same" for odd kernels, d · (k // 2)
    bn_between: bool = True  # separable: BN and ReLU between depthwise and pointwise
    dims: int = 2  # spatial rank: 1 for audio (N×C×T), 2 for images
    dilation: int = 1
    activation: bool = True  # conv: a ReLU after the BN (not on a residual 1×1 conv)

    @property
    def conv_padding(self) -> int:
        """The padding, with None read as d · (k // 2)."""
        return self.dilation * (self.kernel_size // 2) if self.padding is None else self.padding

    @property
    def output_size(self) -> int:
        """The output's size along each spatial axis (1 for the classifier)."""
        if self.kind == "classifier":
            return 1
        return conv_output_size(
            self.input_size, self.kernel_size, self.stride, self.conv_padding, self.dilation
        )


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
    resolution: int  # input height and width, or a 1-D network's length
    rows: tuple[NetworkRow, ...]
    verified: dict[str, bool] | None = None

    @property
    def dims(self) -> int:
        """The network's spatial rank (from its first row's input)."""
        return len(self.rows[0].input_shape) - 2

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


def mobilenet_v1_blocks(width_multiplier: float = 1.0, resolution: int = 224) -> list[BlockConfig]:
    """MobileNetV1's stem, 13 blocks and classifier at width multiplier α."""
    stem = scaled(MOBILENET_V1_STEM, width_multiplier)
    blocks = [BlockConfig("conv1 3×3/s2", "conv", 3, stem, resolution, 3, 2)]
    in_channels = stem
    for index, (channels, stride) in enumerate(MOBILENET_V1_BLOCKS, start=1):
        out_channels = scaled(channels, width_multiplier)
        name = f"block{index} {in_channels}→{out_channels}/s{stride}"
        blocks.append(
            BlockConfig(
                name, "separable", in_channels, out_channels, blocks[-1].output_size, 3, stride
            )
        )
        in_channels = out_channels
    blocks.append(BlockConfig(f"fc {in_channels}→{CLASSES}", "classifier", in_channels, CLASSES, 1))
    return blocks


def _xception_residual_block(
    name: str, in_channels: int, widths: tuple[int, int], size: int
) -> list[BlockConfig]:
    """Two separable convs, a 3×3/s2 max pool, and the 1×1/s2 conv on the shortcut."""
    first, second = widths
    return [
        BlockConfig(
            f"{name} sep {in_channels}→{first}",
            "separable",
            in_channels,
            first,
            size,
            bn_between=False,
        ),
        BlockConfig(
            f"{name} sep {first}→{second}", "separable", first, second, size, bn_between=False
        ),
        BlockConfig(f"{name} maxpool 3×3/s2", "pool", second, second, size, 3, 2),
        BlockConfig(
            f"{name} shortcut 1×1/s2 {in_channels}→{second}",
            "conv",
            in_channels,
            second,
            size,
            1,
            2,
        ),
    ]


def xception_blocks(width_multiplier: float = 1.0, resolution: int = 299) -> list[BlockConfig]:
    """Xception's entry, middle and exit flows and classifier (α must be 1: not defined)."""
    _refuse_width_multiplier("xception", width_multiplier)
    blocks = [BlockConfig("conv1 3×3/s2 valid", "conv", 3, 32, resolution, 3, 2, padding=0)]
    blocks.append(BlockConfig("conv2 3×3 valid", "conv", 32, 64, blocks[-1].output_size, padding=0))
    in_channels = 64
    for index, width in enumerate((128, 256, 728), start=2):  # entry flow
        size = blocks[-1].output_size
        blocks += _xception_residual_block(f"block{index}", in_channels, (width, width), size)
        in_channels = width
    for index in range(5, 13):  # middle flow: identity shortcuts
        size = blocks[-1].output_size
        for repeat in range(1, 4):
            blocks.append(
                BlockConfig(
                    f"block{index} sep{repeat} 728→728",
                    "separable",
                    728,
                    728,
                    size,
                    bn_between=False,
                )
            )
    size = blocks[-1].output_size
    blocks += _xception_residual_block("block13", 728, (728, 1024), size)  # exit flow
    size = blocks[-1].output_size
    blocks.append(
        BlockConfig("block14 sep 1024→1536", "separable", 1024, 1536, size, bn_between=False)
    )
    blocks.append(
        BlockConfig("block14 sep 1536→2048", "separable", 1536, 2048, size, bn_between=False)
    )
    blocks.append(BlockConfig(f"fc 2048→{CLASSES}", "classifier", 2048, CLASSES, 1))
    return blocks


def _refuse_width_multiplier(name: str, width_multiplier: float) -> None:
    """ValueError unless α is 1: only MobileNetV1's paper defines a width multiplier."""
    if width_multiplier != 1.0:
        raise ValueError(f"the width multiplier is defined for mobilenet_v1 only; use 1 for {name}")


#: QuartzNet's B1…B5: (kernel width, output channels), Kriman et al. 2020, Table 1.
QUARTZNET_BLOCKS: tuple[tuple[int, int], ...] = (
    (33, 256),
    (39, 256),
    (51, 512),
    (63, 512),
    (75, 512),
)
#: Time-channel separable convs per block (the R of BxR).
QUARTZNET_REPEATS = 5
#: Mel filterbank features per frame: the input channels.
QUARTZNET_FEATURES = 64
#: Output labels: 28 characters (space, a–z, apostrophe) and the CTC blank.
QUARTZNET_CLASSES = 29
#: Default input length in frames: 10 s of audio at the 10 ms hop of the paper's features.
QUARTZNET_FRAMES = 1000


def quartznet_blocks(
    times_repeated: int, width_multiplier: float = 1.0, length: int = QUARTZNET_FRAMES
) -> list[BlockConfig]:
    """QuartzNet Bx5 on 64 mel features × ``length`` frames; B = 5 · ``times_repeated``.

    Kriman et al. 2020 (arXiv 1910.10261), Table 1, as NVIDIA NeMo builds it (the paper's
    code): C1 (k 33, stride 2, 256 channels, separable); B1…B5, each repeated
    ``times_repeated`` times (1, 2 or 3 for 5x5, 10x5, 15x5), of R = 5 time-channel separable
    convs (kernels 33, 39, 51, 63, 75; channels 256, 256, 512, 512, 512); C2 (k 87, dilation
    2, 512, separable); C3 (k 1, 1024); C4 (k 1, 29 labels). Assumptions, each needed to
    reproduce the published 6.7M, 12.8M and 18.9M (this gives 6,713,181, 12,818,781 and
    18,924,381):

    - a time-channel separable conv is a depthwise conv (groups = channels in) then a
      pointwise conv, both without bias, and one batch norm after the pair (none between);
    - every repeated block has a residual of its own: a 1×1 conv (no bias) and a batch norm
      on the block's input, added before the last ReLU, also where input and output widths
      are equal (B1's 256 → 256);
    - the first sub-block of a block changes the width (256 → 512 at B3's first repeat);
    - batch norm has 2 parameters per channel; C4 has a bias and no batch norm;
    - convs pad "same": d · (k − 1) / 2 on each side, so only C1's stride shortens the time.

    In the "standard" variant every separable conv is one full Conv1d of the same kernel,
    stride and dilation (the Jasper-style network); residual 1×1 convs, C3 and C4 stay.
    Dropout and the residual adds have no parameters and no MACs counted.
    """
    blocks = [
        BlockConfig(
            "C1 sep k33/s2",
            "separable",
            QUARTZNET_FEATURES,
            256,
            length,
            33,
            2,
            bn_between=False,
            dims=1,
        )
    ]
    in_channels = 256
    for index, (kernel, channels) in enumerate(QUARTZNET_BLOCKS, start=1):
        for repeat in range(1, times_repeated + 1):
            block_input, size = in_channels, blocks[-1].output_size
            for conv in range(1, QUARTZNET_REPEATS + 1):
                blocks.append(
                    BlockConfig(
                        f"B{index}.{repeat} sep{conv} k{kernel} {in_channels}→{channels}",
                        "separable",
                        in_channels,
                        channels,
                        size,
                        kernel,
                        bn_between=False,
                        dims=1,
                    )
                )
                in_channels = channels
            blocks.append(
                BlockConfig(
                    f"B{index}.{repeat} residual k1 {block_input}→{channels}",
                    "conv",
                    block_input,
                    channels,
                    size,
                    1,
                    dims=1,
                    activation=False,
                )
            )
    size = blocks[-1].output_size
    blocks += [
        BlockConfig(
            "C2 sep k87 d2", "separable", 512, 512, size, 87, bn_between=False, dims=1, dilation=2
        ),
        BlockConfig("C3 k1 512→1024", "conv", 512, 1024, size, 1, dims=1),
        BlockConfig(
            f"C4 k1 1024→{QUARTZNET_CLASSES}", "head", 1024, QUARTZNET_CLASSES, size, 1, dims=1
        ),
    ]
    return blocks


def _quartznet(times_repeated: int) -> Callable[[float, int], list[BlockConfig]]:
    """The builder of QuartzNet (5 · ``times_repeated``)x5, refusing α ≠ 1."""

    def build(width_multiplier: float, length: int) -> list[BlockConfig]:
        _refuse_width_multiplier(f"quartznet{5 * times_repeated}x5", width_multiplier)
        return quartznet_blocks(times_repeated, width_multiplier, length)

    return build


@dataclass(frozen=True)
class Network:
    """A published network: how to build its rows, its default input and its source."""

    title: str
    default_resolution: int
    blocks: Callable[[float, int], list[BlockConfig]]


NETWORKS: dict[str, Network] = {
    "mobilenet_v1": Network("MobileNetV1", 224, mobilenet_v1_blocks),
    "xception": Network("Xception", 299, xception_blocks),
    "quartznet5x5": Network("QuartzNet 5x5 (1-D)", QUARTZNET_FRAMES, _quartznet(1)),
    "quartznet10x5": Network("QuartzNet 10x5 (1-D)", QUARTZNET_FRAMES, _quartznet(2)),
    "quartznet15x5": Network("QuartzNet 15x5 (1-D)", QUARTZNET_FRAMES, _quartznet(3)),
}


def network_blocks(
    name: str, width_multiplier: float = 1.0, resolution: int | None = None
) -> list[BlockConfig]:
    """The rows of network ``name`` (ValueError for an unknown name or an α it does not define)."""
    if name not in NETWORKS:
        raise ValueError(f"unknown network {name!r}; known: {', '.join(NETWORKS)}")
    network = NETWORKS[name]
    size = resolution if resolution is not None else network.default_resolution
    return network.blocks(width_multiplier, size)


def _bn(channels: int) -> int:
    """Batch-norm parameters (weight and bias) for ``channels``."""
    return 2 * channels


def block_row(block: BlockConfig) -> NetworkRow:
    """A block's closed-form params and MACs in both variants."""
    c_in, c_out, k, size, dims = (
        block.in_channels,
        block.out_channels,
        block.kernel_size,
        block.input_size,
        block.dims,
    )
    if block.kind == "classifier":
        params = c_in * c_out + c_out
        macs = c_in * c_out
        return NetworkRow(block.name, (1, c_in), (1, c_out), params, macs, params, macs)
    out = block.output_size
    input_shape, output_shape = (1, c_in, *(size,) * dims), (1, c_out, *(out,) * dims)
    if block.kind == "pool":
        return NetworkRow(block.name, input_shape, output_shape, 0, 0, 0, 0)
    kernel, out_sizes, pointwise = (k,) * dims, (out,) * dims, (1,) * dims
    if block.kind == "head":
        params = conv_params(c_in, c_out, kernel, 1, True)
        macs = conv_macs(1, c_in, c_out, out_sizes, kernel, 1)
        return NetworkRow(block.name, input_shape, output_shape, params, macs, params, macs)
    standard_params = conv_params(c_in, c_out, kernel, 1, False) + _bn(c_out)
    standard_macs = conv_macs(1, c_in, c_out, out_sizes, kernel, 1)
    if block.kind == "conv":
        separable_params, separable_macs = standard_params, standard_macs
    else:
        separable_params = (
            conv_params(c_in, c_in, kernel, c_in, False)
            + (_bn(c_in) if block.bn_between else 0)
            + conv_params(c_in, c_out, pointwise, 1, False)
            + _bn(c_out)
        )
        separable_macs = conv_macs(1, c_in, c_in, out_sizes, kernel, c_in) + conv_macs(
            1, c_in, c_out, out_sizes, pointwise, 1
        )
    return NetworkRow(
        block.name,
        input_shape,
        output_shape,
        standard_params,
        standard_macs,
        separable_params,
        separable_macs,
    )


def network_report(
    name: str = "mobilenet_v1", width_multiplier: float = 1.0, resolution: int | None = None
) -> NetworkReport:
    """The closed-form per-layer table and totals of a network, both variants."""
    blocks = network_blocks(name, width_multiplier, resolution)
    rows = tuple(block_row(block) for block in blocks)
    return NetworkReport(name, width_multiplier, blocks[0].input_size, rows)
