"""Models whose constructor loads its own trained weights, as facenet-pytorch's ``ONet()`` does.

The "trained" state_dict is made deterministically (no file, no network): every 3×3 kernel is
separable (each W[:, i] has rank 1), so a swap initialised from it is exact (error ≈ 0), while a
random kernel's error is far from 0. An analysis that shows ≈ 0 used the loaded weights.
"""

from __future__ import annotations

import torch
from torch import nn


def _separable_kernel(generator: torch.Generator, c_out: int, c_in: int) -> torch.Tensor:
    """A C_out × C_in × 3 × 3 kernel whose every W[:, i] has rank 1."""
    columns = torch.randn(c_out, c_in, generator=generator)
    filters = torch.randn(c_in, 3, 3, generator=generator)
    return torch.einsum("oi,ihw->oihw", columns, filters)


def trained_state() -> dict[str, torch.Tensor]:
    """The weights ``OwnWeights`` loads: separable kernels, from a fixed seed."""
    generator = torch.Generator().manual_seed(15)
    return {
        "conv1.weight": _separable_kernel(generator, 8, 3),
        "conv1.bias": torch.randn(8, generator=generator),
        "conv2.weight": _separable_kernel(generator, 16, 8),
        "conv2.bias": torch.randn(16, generator=generator),
        "head.weight": torch.randn(10, 16, generator=generator),
        "head.bias": torch.randn(10, generator=generator),
    }


class OwnWeights(nn.Module):
    """Two 3×3 convs and a head; ``__init__`` loads ``trained_state()``."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.conv2 = nn.Conv2d(8, 16, 3, padding=1)
        self.head = nn.Linear(16, 10)
        self.load_state_dict(trained_state())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Two convs, global average pool, head."""
        x = torch.relu(self.conv2(torch.relu(self.conv1(x))))
        return self.head(x.mean(dim=(2, 3)))


class RandomWeights(OwnWeights):
    """The same network keeping PyTorch's random initialisation (it loads nothing)."""

    def __init__(self) -> None:
        nn.Module.__init__(self)
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.conv2 = nn.Conv2d(8, 16, 3, padding=1)
        self.head = nn.Linear(16, 10)


def build() -> nn.Module:
    """A factory (not the constructor) that loads the weights, the other common pattern."""
    model = RandomWeights()
    model.load_state_dict(trained_state())
    return model
