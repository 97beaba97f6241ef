"""Models the ONNX exporter cannot take, for tests/test_export.py (input 1×3×16×16)."""

from __future__ import annotations

import torch
from torch import nn


class SpectralHead(nn.Module):
    """A head taking the singular values of its input: aten._linalg_svd has no ONNX function."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The singular values of each channel's feature map."""
        return torch.linalg.svdvals(x).flatten(1)


class SvdNet(nn.Module):
    """A swappable conv, then a head the exporter cannot convert."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.head = nn.Sequential(SpectralHead())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Conv, then the spectral head."""
        return self.head(self.conv(x))


def svd_net() -> nn.Module:
    """The factory a SOURCE names: unexportable.py:svd_net."""
    return SvdNet()
