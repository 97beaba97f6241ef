"""Small 1-D and 3-D CNNs for the rank tests (tests/test_model_ranks.py).

``sequence``: the 8×8 digits read as sequences, 8 rows (channels) of 8 steps, N×8×8 in,
10 classes out; it publishes that input as timm does, so no --input-shape is needed.
``clip``: a video-like model on N×3×4×8×8 clips, with a 3×3×3 and a 1×3×3 conv to swap, a
1×1×1 conv that is already pointwise, and a grouped one.
"""

from __future__ import annotations

import torch
from torch import nn


def _conv1d(in_channels: int, out_channels: int, kernel: int) -> list[nn.Module]:
    """A "same" Conv1d, batch norm and ReLU (the conv's bias is BN's job)."""
    return [
        nn.Conv1d(in_channels, out_channels, kernel, padding=kernel // 2, bias=False),
        nn.BatchNorm1d(out_channels),
        nn.ReLU(inplace=True),
    ]


class SequenceNet(nn.Module):
    """A pointwise stem to 32 channels, Conv1d k5 and k3 at length 8, pool, k3 at 4, linear head.

    The stem lifts the 8 rows to 32 channels so that every swapped conv has many input
    channels, as examples/digits/model.py explains for its 2-D twin.
    """

    pretrained_cfg = {"input_size": (8, 8)}

    def __init__(self, width: int = 32) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv1d(8, width, 1), nn.BatchNorm1d(width), nn.ReLU())
        self.features = nn.Sequential(
            *_conv1d(width, width, 5),
            *_conv1d(width, width, 3),
            nn.MaxPool1d(2),
            *_conv1d(width, 2 * width, 3),
            nn.AdaptiveAvgPool1d(1),
        )
        self.head = nn.Linear(2 * width, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits, N×10."""
        return self.head(torch.flatten(self.features(self.stem(x)), 1))


def sequence() -> nn.Module:
    """The factory a SOURCE names: ranks.py:sequence."""
    return SequenceNet()


class ClipNet(nn.Module):
    """Conv3d 3×3×3 (stride 1×2×2), 1×3×3, a 1×1×1 and a grouped conv, pooled, linear head."""

    pretrained_cfg = {"input_size": (3, 4, 8, 8)}

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv3d(3, 8, 3, stride=(1, 2, 2), padding=1)
        self.spatial = nn.Conv3d(8, 16, (1, 3, 3), padding=(0, 1, 1), bias=False)
        self.pointwise = nn.Conv3d(16, 16, 1)
        self.grouped = nn.Conv3d(16, 16, 3, padding=1, groups=4, bias=False)
        self.head = nn.Linear(16, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits, N×5."""
        x = torch.relu(self.spatial(torch.relu(self.stem(x))))
        x = self.grouped(self.pointwise(x))
        return self.head(x.mean(dim=(2, 3, 4)))


def clip() -> nn.Module:
    """The factory a SOURCE names: ranks.py:clip."""
    return ClipNet()
