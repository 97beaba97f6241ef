"""A model whose candidates differ in what a swap buys, for tests/test_speedup.py.

Input 1×3×32×32. The stem (3 → 32, 3×3) has few input channels: its block saves few MACs and
little time. The three 64 → 64 3×3 convs save about 8× their MACs, so swapping them pays.
"""

from __future__ import annotations

import torch
from torch import nn


class WideNet(nn.Module):
    """A thin stem, then three wide 3×3 convs, pooled into a linear head."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 64, 3, padding=1)
        self.body = nn.Sequential(
            nn.Conv2d(64, 64, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(64, 64, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(64, 64, 3, padding=1),
        )
        self.head = nn.Linear(64, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits, N×10."""
        return self.head(self.body(torch.relu(self.stem(x))).mean(dim=(2, 3)))


def build() -> nn.Module:
    """The factory a SOURCE names: wide.py:build."""
    return WideNet()
