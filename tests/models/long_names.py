"""A small CNN whose module paths are long, so every table that names its layers is wide.

Input 1×3×16×16; tests/test_piped_output.py pipes each command's table and checks that no name
or figure is cut.
"""

from __future__ import annotations

import torch
from torch import nn


class FeatureExtractionStage(nn.Module):
    """Two 3×3 convs with names longer than an 80-column table leaves them."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.first_spatial_convolution_with_padding = nn.Conv2d(channels, 16, 3, padding=1)
        self.second_spatial_convolution_downsampling = nn.Conv2d(16, 16, 3, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Both convs with a ReLU between."""
        first = torch.relu(self.first_spatial_convolution_with_padding(x))
        return self.second_spatial_convolution_downsampling(first)


class LongNames(nn.Module):
    """An encoder stage, then a linear classifier."""

    def __init__(self) -> None:
        super().__init__()
        self.encoder_backbone_feature_extraction_stage = FeatureExtractionStage(3)
        self.classification_head_fully_connected = nn.Linear(16, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits, N×10."""
        features = self.encoder_backbone_feature_extraction_stage(x).mean(dim=(2, 3))
        return self.classification_head_fully_connected(features)


def build() -> nn.Module:
    """The factory a SOURCE names: long_names.py:build."""
    return LongNames()
