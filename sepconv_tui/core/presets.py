"""Named layers from published architectures, ready to compare.

Each is the depthwise-separable layer as the paper builds it (BN follows every conv, so no
bias), with the input size it sees at 224×224 (299×299 for Xception). For inverted-residual
blocks (MobileNetV2, EfficientNet) the layer is the depthwise conv on the expanded channels
followed by the 1×1 projection. QuartzNet's layers are 1-D (time-channel separable convs on
1000 frames of 64 mel features, halved by C1's stride: 500 frames).
"""

from __future__ import annotations

from dataclasses import dataclass

from .spec import LayerSpec


@dataclass(frozen=True)
class Preset:
    """A named layer: where it comes from and its LayerSpec."""

    key: str
    name: str
    spec: LayerSpec


def _layer(
    in_channels: int, out_channels: int, size: int, *, kernel: int = 3, stride: int = 1
) -> LayerSpec:
    """A BN-followed (bias-free) 'same'-padded layer on a square input."""
    return LayerSpec(
        in_channels=in_channels,
        out_channels=out_channels,
        kernel_size=kernel,
        stride=stride,
        padding=kernel // 2,
        bias=False,
        height=size,
        width=size,
    )


PRESETS: tuple[Preset, ...] = (
    Preset("reference", "Reference: Conv2d(3, 16, 3, padding=1) on 32×32", LayerSpec()),
    Preset("mobilenet_v1_112", "MobileNetV1 dw/s1 112×112, 32→64", _layer(32, 64, 112)),
    Preset(
        "mobilenet_v1_s2_112",
        "MobileNetV1 dw/s2 112×112→56×56, 64→128",
        _layer(64, 128, 112, stride=2),
    ),
    Preset(
        "mobilenet_v1_s2_28",
        "MobileNetV1 dw/s2 28×28→14×14, 256→512",
        _layer(256, 512, 28, stride=2),
    ),
    Preset("mobilenet_v1_14", "MobileNetV1 14×14×512 (5× in the body)", _layer(512, 512, 14)),
    Preset("mobilenet_v1_7", "MobileNetV1 7×7×1024 (last block)", _layer(1024, 1024, 7)),
    Preset(
        "mobilenet_v2_s2_112",
        "MobileNetV2 dw/s2 112×112→56×56, 96→24 (t=6)",
        _layer(96, 24, 112, stride=2),
    ),
    Preset("mobilenet_v2_14", "MobileNetV2 14×14, 384→96 (t=6)", _layer(384, 96, 14)),
    Preset(
        "efficientnet_b0_stage4",
        "EfficientNet-B0 stage 4, 5×5/s2 56×56→28×28, 144→40",
        _layer(144, 40, 56, kernel=5, stride=2),
    ),
    Preset(
        "efficientnet_b0_stage6",
        "EfficientNet-B0 stage 6, 5×5 14×14, 480→112",
        _layer(480, 112, 14, kernel=5),
    ),
    Preset("xception_middle", "Xception middle flow 728→728 @ 19×19", _layer(728, 728, 19)),
    Preset("xception_exit", "Xception exit flow 1536→2048 @ 10×10", _layer(1536, 2048, 10)),
    Preset(
        "quartznet_b3",
        "QuartzNet B3 (1-D) k51, 512→512 on 500 frames",
        LayerSpec(
            dims=1,
            in_channels=512,
            out_channels=512,
            kernel_size=51,
            padding=25,
            bias=False,
            length=500,
        ),
    ),
    Preset(
        "quartznet_c2",
        "QuartzNet C2 (1-D) k87 dilation 2, 512→512 on 500 frames",
        LayerSpec(
            dims=1,
            in_channels=512,
            out_channels=512,
            kernel_size=87,
            padding=86,
            dilation=2,
            bias=False,
            length=500,
        ),
    ),
)

PRESETS_BY_KEY: dict[str, Preset] = {preset.key: preset for preset in PRESETS}
