"""A tiny classifier for fast recovery tests: 3×8×8 in, two 3×3 convs (one with batch norm),
a linear head over 10 classes. ``pretrained_cfg`` publishes its input, as timm models do."""

from __future__ import annotations

import torch
from torch import nn


class TinyClassifier(nn.Module):
    """3×3 conv, batch norm, ReLU, 3×3 conv, ReLU, average pool, linear."""

    pretrained_cfg = {"input_size": (3, 8, 8)}

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 12, 3, padding=1, bias=False)
        self.norm = nn.BatchNorm2d(12)
        self.conv2 = nn.Conv2d(12, 16, 3, padding=1)
        self.head = nn.Linear(16, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits, N×10."""
        x = torch.relu(self.norm(self.conv1(x)))
        x = torch.relu(self.conv2(x))
        return self.head(x.mean(dim=(2, 3)))


def build() -> nn.Module:
    """The factory a SOURCE names: tiny_classifier.py:build."""
    return TinyClassifier()
