"""Issue 15's model-side defects: conv subclasses with extra parameters (timm's ScaledStdConv2d),
padding computed at run time (timm's Conv2dSame), constructors that load their own weights, and
one-line messages for a --weights file torch.load refuses."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from sepconv_tui.model.describe.source import ModelSourceError
from sepconv_tui.model.describe.weights import read_state_dict


class _Whole(nn.Module):
    """A module saved whole (not its state_dict), which a weights-only load refuses."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 1, 1)


@pytest.mark.parametrize(
    ("write", "expected"),
    [
        (lambda path: torch.save(_Whole(), path), "._Whole, which a safe load refuses"),
        (lambda path: path.write_text("hello"), "is not a file torch.save wrote"),
        (lambda path: path.write_bytes(b""), "is empty, not a state_dict"),
    ],
    ids=["whole-model", "text", "empty"],
)
def test_a_weights_file_torch_load_refuses_is_named_in_one_line(
    tmp_path: Path, write: object, expected: str
) -> None:
    """PyTorch's paragraph on weights_only becomes one line saying what the file is not."""
    path = tmp_path / "weights.pt"
    write(path)  # type: ignore[operator]
    with pytest.raises(ModelSourceError) as caught:
        read_state_dict(path)
    message = str(caught.value)
    assert expected in message
    assert "\n" not in message and "weights_only" not in message
    assert caught.value.field == "weights"


def test_a_truncated_checkpoint_is_named_in_one_line(tmp_path: Path) -> None:
    """A torch.save zip cut short says so, not miniz's internals."""
    path = tmp_path / "weights.pt"
    torch.save({"w": torch.ones(64)}, path)
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(ModelSourceError, match="truncated or corrupted"):
        read_state_dict(path)


# --- timm's Conv2dSame: TensorFlow "SAME" padding computed from each input's size -------------


@pytest.mark.parametrize("size", [1, 7, 8, 15, 16, 224, 225])
@pytest.mark.parametrize(
    ("kernel", "stride", "dilation"), [(3, 1, 1), (3, 2, 1), (4, 2, 1), (5, 2, 2), (1, 3, 1)]
)
def test_tf_same_padding_is_timms(size: int, kernel: int, stride: int, dilation: int) -> None:
    """The closed form pads as timm's get_same_padding does, and gives ⌈size / s⌉ outputs."""
    from timm.layers.padding import get_same_padding

    from sepconv_tui.core.analytic import TF_SAME, module_output_sizes, tf_same_padding

    before, after = tf_same_padding(size, kernel, stride, dilation)
    assert before + after == get_same_padding(size, kernel, stride, dilation)
    assert after - before in (0, 1)
    # the closed form the trace uses, on a square input (TF_SAME pads each axis from its size)
    out = module_output_sizes(
        (size, size), (kernel, kernel), (stride, stride), TF_SAME, (dilation, dilation)
    )
    assert out == (-(-size // stride),) * 2


@pytest.mark.parametrize(
    ("kernel", "stride", "dilation"), [(3, 2, 1), (4, 2, 1), (5, 1, 2), (3, 3, 1)]
)
def test_a_separable_block_pads_like_conv2dsame(kernel: int, stride: int, dilation: int) -> None:
    """A block from a Conv2dSame pads the same way: with an exact factorisation the outputs agree
    on odd and even, square and oblong inputs (a symmetric padding would shift them)."""
    from timm.layers import Conv2dSame

    from sepconv_tui.core.layers import DepthwiseSeparableConv, SamePadConv2d
    from sepconv_tui.model.describe.factorise import svd_factors

    torch.manual_seed(0)
    conv = Conv2dSame(3, 5, kernel, stride=stride, dilation=dilation)
    block = DepthwiseSeparableConv.from_conv(conv, depth_multiplier=min(5, kernel * kernel))
    assert isinstance(block.depthwise, SamePadConv2d)
    depthwise, pointwise = svd_factors(conv.weight, min(5, kernel * kernel))
    with torch.no_grad():
        block.depthwise.weight.copy_(depthwise)
        block.depthwise.bias.zero_()
        block.pointwise.weight.copy_(pointwise)
        block.pointwise.bias.copy_(conv.bias)
    for height, width in [(15, 15), (16, 17), (9, 24)]:
        x = torch.randn(2, 3, height, width)
        torch.testing.assert_close(block(x), conv(x), atol=1e-5, rtol=1e-5)


class _TimmConvs(nn.Module):
    """timm's run-time-padded and weight-standardised convs, and a subclass of unknown forward."""

    def __init__(self) -> None:
        from timm.layers import Conv2dSame, ScaledStdConv2d, ScaledStdConv2dSame, StdConv2d

        super().__init__()
        self.same = Conv2dSame(3, 8, 3, stride=2)  # 15 → 8: pads 1 after only
        self.std = StdConv2d(8, 16, 3, padding=1)
        self.scaled = ScaledStdConv2d(16, 16, 3)
        self.scaled_same = ScaledStdConv2dSame(16, 8, 4, stride=2)
        self.own = _OwnForward(8, 8, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Each conv in turn."""
        return self.own(self.scaled_same(self.scaled(self.std(self.same(x)))))


class _OwnForward(nn.Conv2d):
    """A Conv2d subclass whose forward does something of its own to the kernel."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Convolve with the kernel's absolute value."""
        return self._conv_forward(x, self.weight.abs(), self.bias)


def test_timm_conv_subclasses_agree_by_both_methods() -> None:
    """Conv2dSame's run-time padding is in the closed form; ScaledStdConv2d's gain is counted as
    PyTorch counts it; the total is PyTorch's numel sum; every check passes."""
    from sepconv_tui.model.describe.trace import analyze_model

    model = _TimmConvs()
    analysis = analyze_model(model, input_shape=(1, 3, 15, 15), select="all")
    assert analysis.verified == {"params": True, "macs": True, "shapes": True}, analysis.notes
    assert analysis.original.params == sum(p.numel() for p in model.parameters())
    rows = {layer.name: layer for layer in analysis.layers}
    assert rows["same"].padding == "tf-same" and rows["same"].output_shape == (1, 8, 8, 8)
    assert rows["scaled_same"].padding == "tf-same"
    assert rows["std"].padding == (1, 1)
    assert rows["scaled"].standard.params == 16 * 16 * 9 + 16 + 16  # weight, bias, gain
    # Weight-standardised convs are candidates: the block reproduces the kernel they use.
    assert {name for name, row in rows.items() if row.candidate} == {
        "same",
        "std",
        "scaled",
        "scaled_same",
    }
    assert rows["own"].reason == "_OwnForward has its own forward: what it computes is unknown"


def test_the_svd_factorises_the_kernel_a_standardised_conv_uses() -> None:
    """For a (Scaled)StdConv2d, errors and factors come from the standardised, gained kernel:
    at full rank the block then reproduces the conv's output exactly."""
    from timm.layers import ScaledStdConv2d, StdConv2d

    from sepconv_tui.core.layers import DepthwiseSeparableConv
    from sepconv_tui.model.describe.candidates import effective_weight
    from sepconv_tui.model.describe.factorise import layer_errors, svd_error, svd_factors

    torch.manual_seed(0)
    model = nn.Sequential(StdConv2d(3, 4, 3, padding=1), ScaledStdConv2d(4, 6, 3))
    with torch.no_grad():
        model[1].gain.uniform_(0.5, 2.0)
        model[0].weight.add_(3.0)  # a mean that standardisation removes
    errors = layer_errors(model)
    for index, conv in enumerate(model):
        assert errors[str(index)] == pytest.approx(svd_error(effective_weight(conv)))
        assert errors[str(index)] != pytest.approx(svd_error(conv.weight))
        rank = min(conv.out_channels, 9)
        block = DepthwiseSeparableConv.from_conv(conv, rank)
        depthwise, pointwise = svd_factors(effective_weight(conv), rank)
        with torch.no_grad():
            block.depthwise.weight.copy_(depthwise)
            block.depthwise.bias.zero_() if block.depthwise.bias is not None else None
            block.pointwise.weight.copy_(pointwise)
            if conv.bias is not None:
                block.pointwise.bias.copy_(conv.bias)
        x = torch.randn(2, conv.in_channels, 9, 10)
        torch.testing.assert_close(block(x), conv(x), atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize(
    ("name", "numel"), [("nfnet_l0", 35_074_488), ("tf_efficientnet_b0", 5_288_548)]
)
def test_timm_models_the_issue_names_verify(name: str, numel: int) -> None:
    """nfnet_l0 (ScaledStdConv2d) totals PyTorch's 35.07M, tf_efficientnet_b0 (Conv2dSame) has
    its 112×112 stem; closed form and PyTorch agree on both."""
    from sepconv_tui.model.describe.trace import analyze_model

    analysis = analyze_model(f"timm:{name}", select="all")
    assert analysis.verified == {"params": True, "macs": True, "shapes": True}, analysis.notes
    assert analysis.original.params == numel


def test_a_tf_same_conv_opens_in_the_layer_tab_only_when_it_pads_evenly() -> None:
    """TensorFlow 'same' pads 0 before and 1 after at 224 px, stride 2: the Layer tab's one
    padding cannot say that; at stride 1 it pads 1 each side, which it can."""
    from timm.layers import Conv2dSame

    from sepconv_tui.model.describe.layer_spec import LayerFitError, layer_spec
    from sepconv_tui.model.describe.trace import analyze_model

    model = nn.Sequential(Conv2dSame(3, 8, 3, stride=2), Conv2dSame(8, 8, 3))
    rows = analyze_model(model, input_shape=(1, 3, 224, 224)).layers
    with pytest.raises(LayerFitError, match="0 before and 1 after"):
        layer_spec(rows[0])
    assert layer_spec(rows[1]).padding == 1


# --- a constructor that loads its own trained weights ----------------------------------------

OWN = str(Path(__file__).parent / "models" / "own_weights.py")


@pytest.mark.parametrize("factory", ["OwnWeights", "build"])
def test_a_model_that_loads_its_own_weights_shows_their_errors(factory: str) -> None:
    """Without --weights, the errors are the loaded (separable, so ≈ 0) kernels', not missing."""
    from sepconv_tui.model.describe.trace import analyze_model

    analysis = analyze_model(f"{OWN}:{factory}", input_shape=(1, 3, 16, 16))
    errors = [layer.weight_error for layer in analysis.candidates]
    assert len(errors) == 2 and all(error is not None and error < 1e-6 for error in errors)
    assert any("loads its own weights" in note for note in analysis.notes)


def test_a_model_that_loads_nothing_has_no_errors_without_weights() -> None:
    """Random weights are not analysed as if trained: no error column, no note."""
    from sepconv_tui.model.describe.trace import analyze_model

    analysis = analyze_model(f"{OWN}:RandomWeights", input_shape=(1, 3, 16, 16))
    assert all(layer.weight_error is None for layer in analysis.layers)
    assert not any("own weights" in note for note in analysis.notes)


def test_own_weights_over_the_memory_budget_say_why_there_are_no_errors() -> None:
    """Building for real must fit the budget; over it the analysis still comes, with a note."""
    from sepconv_tui.model.describe.trace import analyze_model

    analysis = analyze_model(
        f"{OWN}:OwnWeights", input_shape=(1, 3, 16, 16), memory_budget_bytes=100
    )
    assert all(layer.weight_error is None for layer in analysis.layers)
    assert any("over the memory budget" in note for note in analysis.notes)


def test_swapping_a_model_with_its_own_weights_starts_from_them() -> None:
    """The swap builds for real, so the constructor's weights are the ones factorised."""
    from sepconv_tui.model.describe.source import parse_source
    from sepconv_tui.model.swapping.job import ModelJob, build_pair
    from sepconv_tui.model.vocabulary.analysis import Selection

    job = ModelJob(
        parse_source(f"{OWN}:OwnWeights"), selection=Selection("all"), input_shape=(1, 3, 16, 16)
    )
    _original, _swapped, result = build_pair(job)
    assert result.weight_error and max(result.weight_error.values()) < 1e-6


def test_a_swap_of_standardised_convs_reproduces_the_network() -> None:
    """swap_convs factorises the kernel a (Scaled)StdConv2d uses, and its errors measure that:
    at full rank the swapped network computes what the original does and the errors are 0."""
    from sepconv_tui.model.swapping.swap import swap_convs

    torch.manual_seed(0)
    model = _TimmConvs().eval()
    with torch.no_grad():
        model.scaled.gain.uniform_(0.5, 2.0)
    result = swap_convs(model, "same,std,scaled,scaled_same", depth_multiplier=9)
    x = torch.randn(1, 3, 15, 15)
    with torch.no_grad():
        torch.testing.assert_close(result.model.eval()(x), model(x), atol=1e-4, rtol=1e-4)
    assert max(result.weight_error.values()) < 1e-6
