"""A model whose forward hard-codes its batch of 1, for tests/test_export.py (input 1×3×8×8)."""

from __future__ import annotations

import torch
from torch import nn


class BatchOfOne(nn.Module):
    """A conv, then a head that flattens everything into one row: it takes batch 1 only."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.head = nn.Linear(4 * 8 * 8, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Conv, then the whole batch as one row (a batch of 2 no longer fits the head)."""
        return self.head(self.conv(x).reshape(1, -1))


def build() -> nn.Module:
    """The factory a SOURCE names: fixed_batch.py:build."""
    return BatchOfOne()
