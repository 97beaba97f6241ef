"""The single-layer PyTorch measurement: torch's conv formula, and no torch._dynamo on the way."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from sepconv_tui import LayerSpec
from sepconv_tui.core import analytic, measure

# (conv arguments, input shape): plain, strided, dilated, grouped, depthwise with a multiplier,
# rectangular and asymmetric geometry, a 1×1 pointwise conv, a batch of several images.
CONVS = [
    ({"in_channels": 3, "out_channels": 16, "kernel_size": 3, "padding": 1}, (1, 3, 32, 32)),
    ({"in_channels": 8, "out_channels": 12, "kernel_size": 5, "stride": 2}, (2, 8, 31, 29)),
    (
        {"in_channels": 6, "out_channels": 6, "kernel_size": 3, "dilation": 3, "padding": 2},
        (1, 6, 20, 20),
    ),
    ({"in_channels": 12, "out_channels": 18, "kernel_size": 3, "groups": 3}, (3, 12, 9, 11)),
    (
        {"in_channels": 4, "out_channels": 12, "kernel_size": 3, "groups": 4, "bias": False},
        (1, 4, 15, 15),
    ),
    (
        {"in_channels": 5, "out_channels": 7, "kernel_size": (3, 5), "stride": (2, 1)},
        (1, 5, 17, 13),
    ),
    ({"in_channels": 32, "out_channels": 64, "kernel_size": 1}, (4, 32, 7, 7)),
]


@pytest.mark.parametrize(("arguments", "input_shape"), CONVS)
def test_formula_macs_equal_flop_counter_modes(
    arguments: dict[str, object], input_shape: tuple[int, ...]
) -> None:
    """torch's conv formula on the real tensors gives FlopCounterMode's count, and its shape."""
    with torch.device("meta"):
        conv = nn.Conv2d(**arguments)  # type: ignore[arg-type]
        x = torch.empty(input_shape)
    figures, y = measure._run_conv(conv, x)
    counter = FlopCounterMode(display=False)
    with counter:
        expected = conv(x)
    assert y is not None
    assert figures.macs == counter.get_total_flops() // 2
    assert figures.output_shape == tuple(expected.shape)
    assert figures.params == sum(p.numel() for p in conv.parameters())


@pytest.mark.parametrize(
    "spec",
    [
        LayerSpec(),
        LayerSpec(in_channels=8, out_channels=12, kernel_size=5, stride=2, dilation=2, batch=3),
        LayerSpec(in_channels=6, out_channels=10, depth_multiplier=3, bias=False, sep_stride=2),
    ],
)
def test_figures_match_the_closed_form(spec: LayerSpec) -> None:
    """Both methods still agree on strided, dilated and depth-multiplied layers."""
    assert measure.figures(spec) == analytic.figures(spec)


def test_a_side_without_output_has_no_macs() -> None:
    """A kernel wider than the padded input gives None, not an error or a formula on nothing."""
    figures = measure.figures(LayerSpec(kernel_size=7, padding=0, height=5, width=5))
    assert figures.standard.macs is None and figures.standard.output_shape is None
    assert figures.standard.params == 16 * 3 * 49 + 16


def test_figures_do_not_import_dynamo() -> None:
    """One layer's measurement stays off torch._dynamo (FlopCounterMode would load it)."""
    probe = (
        "import sys\n"
        "from sepconv_tui import LayerSpec\n"
        "from sepconv_tui.core import measure\n"
        "figures = measure.figures(LayerSpec(stride=2, dilation=2))\n"
        "assert figures.standard.macs, figures\n"
        "print('torch._dynamo' in sys.modules, 'torch' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )
    assert result.stdout.split() == ["False", "True"]
