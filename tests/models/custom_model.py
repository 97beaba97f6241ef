"""A small model with the convs real models use, for hand-worked figures in tests/test_model.py.

Input 1×3×16×16. Candidates: stem (1×7), same (padding="same", bias), reflect (reflect padding,
stride 2) and shared (called twice). Not candidates: pointwise (1×1), grouped (groups 4),
depthwise (groups = C_in), and the Linear head.
"""

from __future__ import annotations

import torch
from torch import nn


class CustomNet(nn.Module):
    """Rectangular, "same", reflect-padded and twice-called convs, and non-candidates."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 8, (1, 7), padding=(0, 3), bias=False)
        self.same = nn.Conv2d(8, 16, 3, padding="same")
        self.reflect = nn.Conv2d(16, 16, 3, stride=2, padding=1, padding_mode="reflect", bias=False)
        self.shared = nn.Conv2d(16, 16, 3, padding=1, bias=False)
        self.pointwise = nn.Conv2d(16, 32, 1)
        self.grouped = nn.Conv2d(32, 32, 3, padding=1, groups=4, bias=False)
        self.depthwise = nn.Conv2d(32, 32, 3, padding=1, groups=32, bias=False)
        self.norm = nn.BatchNorm2d(32)
        self.head = nn.Linear(32, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Stem to head; ``shared`` runs twice."""
        x = self.reflect(self.same(self.stem(x)))
        x = self.shared(self.shared(x))
        x = self.norm(self.depthwise(self.grouped(self.pointwise(x))))
        return self.head(x.mean(dim=(2, 3)))


def build() -> nn.Module:
    """The factory a SOURCE names: custom_model.py:build."""
    return CustomNet()


class NeedsRealTensors(nn.Module):
    """A forward with data-dependent control flow (``.item()``), which meta tensors cannot run."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Branch on a value computed from the data."""
        y = self.conv(x)
        if y.abs().sum().item() >= 0:
            y = y * 2
        return y


def not_a_module() -> int:
    """A factory returning something that is not a model."""
    return 42


def raises() -> nn.Module:
    """A factory that fails with its own message."""
    raise RuntimeError("boom from the factory")


NOT_CALLABLE = 3
