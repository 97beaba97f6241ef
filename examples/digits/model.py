"""A small CNN for scikit-learn's 8×8 handwritten digits (1×8×8 in, 10 classes out).

SOURCE for sepconv-tui: ``examples/digits/model.py:build``; ``make.py`` trains it.

The stem is a 1×1 conv: a 3×3 conv on one input channel is a swap candidate, but at depth
multiplier 1 its block keeps a single spatial filter for every output channel, which no refit
of the pointwise weights can undo. Lifting the pixel to 48 channels first leaves every 3×3
conv with C_in ≥ 48, so the separable blocks can, once refitted, do nearly what the convs did
(wider inputs mean more depthwise filters per output: 32 channels lost about 2.6 points of
held-out accuracy to least-squares reconstruction at m = 1, 48 about 1).
"""

from __future__ import annotations

import torch
from torch import nn


def _conv(in_channels: int, out_channels: int) -> list[nn.Module]:
    """A 3×3 "same" conv, batch norm and ReLU (the conv's bias is BN's job)."""
    return [
        nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    ]


class DigitsNet(nn.Module):
    """1×1 stem, two 3×3 convs at 8×8, max-pool, two 3×3 convs at 4×4, pool, linear head."""

    #: The input it was trained on, published as timm does, so that sepconv-tui needs no
    #: --input-shape for it.
    pretrained_cfg = {"input_size": (1, 8, 8)}

    def __init__(self, width: int = 48) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(1, width, 1), nn.BatchNorm2d(width), nn.ReLU(inplace=True)
        )
        self.features = nn.Sequential(
            *_conv(width, width),
            *_conv(width, width),
            nn.MaxPool2d(2),
            *_conv(width, 2 * width),
            *_conv(2 * width, 2 * width),
            nn.AdaptiveAvgPool2d(1),
        )
        self.head = nn.Linear(2 * width, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits, N×10."""
        return self.head(torch.flatten(self.features(self.stem(x)), 1))


def build() -> nn.Module:
    """The digits CNN, untrained (make.py's ``digits.pt`` holds its trained weights)."""
    return DigitsNet()
