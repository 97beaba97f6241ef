"""The engine: the reference experiment, the closed form against PyTorch, verdicts and JSON."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sepconv_tui import LayerSpec, SpecError, compare
from sepconv_tui.core import analytic, measure
from sepconv_tui.core.spec import FIELD_BOUNDS
from sepconv_tui.report import layer as report


def test_reference_experiment_reproduces_448_vs_94() -> None:
    """Conv2d(3, 16, 3, padding=1) vs the separable block on 1×3×32×32."""
    comparison = compare(LayerSpec())
    assert comparison.standard.params == 448
    assert comparison.separable.depthwise.params == 30
    assert comparison.separable.pointwise.params == 64
    assert comparison.separable.params == 94
    assert f"{comparison.param_ratio:.2f}" == "4.77"
    assert comparison.standard.output_shape == (1, 16, 32, 32)
    assert comparison.separable.output_shape == (1, 16, 32, 32)
    assert comparison.separable.depthwise.output_shape == (1, 3, 32, 32)
    assert comparison.shapes_match
    assert comparison.reasons == ()
    assert comparison.is_verified


def test_reference_modules_match_the_real_thing() -> None:
    """The public DepthwiseSeparableConv runs on real tensors with the reference signature."""
    import torch

    from sepconv_tui import DepthwiseSeparableConv

    block = DepthwiseSeparableConv(3, 16, kernel_size=3, padding=1)
    standard = torch.nn.Conv2d(3, 16, kernel_size=3, padding=1)
    x = torch.randn(1, 3, 32, 32)
    assert block(x).shape == standard(x).shape == (1, 16, 32, 32)
    assert sum(p.numel() for p in standard.parameters()) == 448
    assert sum(p.numel() for p in block.parameters()) == 94
    assert block.depthwise.groups == 3 and block.pointwise.kernel_size == (1, 1)


def test_textbook_ratio_equals_mac_ratio_for_linked_geometry() -> None:
    """Howard et al.'s 1/(1/C_out + 1/k²) is the exact MAC ratio when outputs are equal."""
    comparison = compare(LayerSpec(), method="analytic")
    assert comparison.mac_ratio == pytest.approx(comparison.textbook_ratio)
    assert comparison.textbook_ratio == pytest.approx(1 / (1 / 16 + 1 / 9))


layer_specs = st.builds(
    LayerSpec,
    in_channels=st.integers(1, 48),
    out_channels=st.integers(1, 48),
    kernel_size=st.integers(1, 7),
    stride=st.integers(1, 4),
    padding=st.integers(0, 4),
    dilation=st.integers(1, 3),
    bias=st.booleans(),
    depth_multiplier=st.integers(1, 4),
    batch=st.integers(1, 8),
    height=st.integers(1, 40),
    width=st.integers(1, 40),
    sep_kernel_size=st.none() | st.integers(1, 7),
    sep_stride=st.none() | st.integers(1, 4),
    sep_padding=st.none() | st.integers(0, 4),
    sep_dilation=st.none() | st.integers(1, 3),
)


@given(layer_specs)
def test_closed_form_equals_pytorch(spec: LayerSpec) -> None:
    """Params, shapes and MACs by arithmetic equal PyTorch's on random layers."""
    closed_form = analytic.figures(spec)
    measured = measure.figures(spec)
    assert closed_form == measured
    assert compare(spec).is_verified


@given(layer_specs)
def test_verdict_and_reasons_agree(spec: LayerSpec) -> None:
    """A red verdict always carries a reason naming an axis or the side without output."""
    comparison = compare(spec, method="analytic")
    assert comparison.shapes_match == (comparison.reasons == ())
    message = report.verdict_message(comparison)
    if not comparison.shapes_match:
        assert "mismatch" in message
        assert all("differs" in r or "cannot produce output" in r for r in comparison.reasons)


def test_unlinked_padding_gives_a_height_and_width_mismatch() -> None:
    """sep_padding 0 shrinks the separable output to 30×30."""
    comparison = compare(LayerSpec(sep_padding=0))
    assert not comparison.shapes_match
    assert comparison.separable.output_shape == (1, 16, 30, 30)
    assert any("height differs: standard 32, separable 30" in r for r in comparison.reasons)


def test_a_kernel_larger_than_the_input_is_a_red_verdict_not_an_error() -> None:
    """No output on a side: macs and shape are None, the reason says which side."""
    comparison = compare(LayerSpec(kernel_size=7, padding=0, height=5, width=5))
    assert comparison.standard.output_shape is None
    assert comparison.mac_ratio is None
    assert not comparison.shapes_match
    assert "standard conv cannot produce output" in comparison.reasons[0]
    assert comparison.to_dict()["standard"]["macs"] is None
    assert comparison.is_verified  # PyTorch agrees that there is no output


def test_huge_layer_costs_nothing_on_meta() -> None:
    """A 4096 → 4096 layer on 4096×4096 is measured on the meta device."""
    comparison = compare(LayerSpec(in_channels=4096, out_channels=4096, height=4096, width=4096))
    assert comparison.is_verified
    assert comparison.standard.params == 4096 * 4096 * 9 + 4096


def test_a_layer_too_large_for_torch_is_reported_not_raised() -> None:
    """Sizes past int64 make PyTorch fail; the comparison says so and keeps the closed form."""
    spec = LayerSpec(in_channels=2**20, batch=2**16, height=2**16, width=2**16)
    comparison = compare(spec)
    assert comparison.verified is not None and comparison.verified.params is None
    assert "PyTorch could not measure" in comparison.notes[0]
    assert comparison.standard.params > 0


@pytest.mark.parametrize(
    ("field", "value"),
    [("in_channels", 0), ("height", 2**16 + 1), ("padding", -1), ("kernel_size", 1025)],
)
def test_spec_errors_name_the_field_and_range(field: str, value: int) -> None:
    """Out-of-range values raise SpecError naming the field and its bounds."""
    with pytest.raises(SpecError) as caught:
        LayerSpec(**{field: value})
    low, high = FIELD_BOUNDS[field]
    assert caught.value.field == field
    assert f"from {low} to {high}" in str(caught.value)


def test_json_has_the_design_keys() -> None:
    """The JSON document carries every key DESIGN.md promises."""
    document = json.loads(report.to_json(compare()))
    assert set(document["spec"]) >= set(LayerSpec().to_dict())
    assert document["standard"]["output_shape"] == [1, 16, 32, 32]
    for part in ("depthwise", "pointwise"):
        assert set(document["separable"][part]) >= {"params", "macs", "output_shape"}
    assert document["separable"]["depthwise"]["output_shape"] == [1, 3, 32, 32]
    assert document["verified"] == {"params": True, "shapes": True, "macs": True}
    assert round(document["param_ratio"], 2) == 4.77
    assert document["mac_ratio"] == pytest.approx(document["textbook_ratio"])
    assert document["shapes_match"] is True and document["reasons"] == []
    closed_form_only = compare(method="analytic").to_dict()
    assert closed_form_only["verified"] is None


def test_markdown_and_csv_carry_the_same_figures() -> None:
    """Markdown and CSV show the table's numbers and shapes as tuples."""
    comparison = compare()
    markdown = report.to_markdown(comparison)
    assert "| 448 |" in markdown and "| 94 |" in markdown and "4.77×" in markdown
    rows = report.to_csv(comparison).splitlines()
    assert rows[0] == "layer,params,bias_params,macs,flops,output_shape"
    assert rows[1].endswith('448,16,442368,884736,"(1, 16, 32, 32)"')
    assert rows[-1].startswith("Separable total,94,19,76800,153600")


def _per_axis(
    values: st.SearchStrategy[int], dims: int
) -> st.SearchStrategy[int | tuple[int, ...]]:
    """One number for every axis, or one per axis."""
    return values | st.tuples(*[values] * dims)


def rank_specs(dims: int) -> st.SearchStrategy[LayerSpec]:
    """Random layers of rank ``dims``, per-axis geometry and unlinked separable geometry
    included."""
    side = {2: 40, 3: 12}.get(dims, 0)
    sizes = (
        {"length": st.integers(1, 120)}
        if dims == 1
        else {axis: st.integers(1, side) for axis in ("depth", "height", "width")[3 - dims :]}
    )
    return st.builds(
        LayerSpec,
        dims=st.just(dims),
        in_channels=st.integers(1, 24),
        out_channels=st.integers(1, 24),
        kernel_size=_per_axis(st.integers(1, 7), dims),
        stride=_per_axis(st.integers(1, 3), dims),
        padding=_per_axis(st.integers(0, 3), dims),
        dilation=_per_axis(st.integers(1, 3), dims),
        bias=st.booleans(),
        depth_multiplier=st.integers(1, 3),
        batch=st.integers(1, 4),
        sep_kernel_size=st.none() | _per_axis(st.integers(1, 7), dims),
        sep_stride=st.none() | _per_axis(st.integers(1, 3), dims),
        sep_padding=st.none() | _per_axis(st.integers(0, 3), dims),
        sep_dilation=st.none() | _per_axis(st.integers(1, 3), dims),
        **sizes,
    )


@given(st.sampled_from([1, 2, 3]).flatmap(rank_specs))
def test_closed_form_equals_pytorch_in_every_rank(spec: LayerSpec) -> None:
    """Params, shapes and MACs by arithmetic equal PyTorch's Conv1d / Conv2d / Conv3d on random
    layers, rectangular (per-axis) 2-D geometry included."""
    closed_form = analytic.figures(spec)
    assert closed_form == measure.figures(spec)
    assert len(spec.input_shape) == spec.dims + 2
    if closed_form.standard.output_shape is not None:
        assert len(closed_form.standard.output_shape) == spec.dims + 2


@pytest.mark.parametrize(
    ("spec", "kernel_elements"),
    [
        (LayerSpec(dims=1, in_channels=256, out_channels=256, kernel_size=11, length=400), 11),
        (LayerSpec(dims=3, kernel_size=3, depth=16, height=56, width=56), 27),
        (LayerSpec(dims=3, kernel_size=(3, 7, 7), padding=(1, 3, 3), depth=8), 147),
    ],
)
def test_textbook_ratio_uses_k_to_the_d(spec: LayerSpec, kernel_elements: int) -> None:
    """1 / (m·(1/C_out + 1/k^d)): k in 1-D, k³ (or k₁·k₂·k₃) in 3-D; with linked geometry both
    sides have the same outputs, so it is the exact MAC ratio."""
    comparison = compare(spec, method="analytic")
    expected = 1 / (1 / spec.out_channels + 1 / kernel_elements)
    assert comparison.textbook_ratio == pytest.approx(expected)
    assert comparison.mac_ratio == pytest.approx(expected)


def test_1d_and_3d_comparisons_are_verified_and_shaped_by_rank() -> None:
    """The issue's layers: N×C×L and N×C×D×H×W outputs, both methods agreeing."""
    one = compare(LayerSpec(dims=1, in_channels=256, out_channels=256, kernel_size=11, length=400))
    assert one.standard.output_shape == (1, 256, 392)  # padding 1: 400 + 2 − 10
    assert one.is_verified and one.shapes_match
    three = compare(LayerSpec(dims=3, in_channels=64, out_channels=64, depth=16))
    assert three.standard.output_shape == (1, 64, 16, 32, 32)
    assert three.separable.depthwise.params == 64 * 27 + 64
    assert three.is_verified


def test_per_axis_values_normalise_and_round_trip_through_json() -> None:
    """(3, 3) is the layer 3 is; a per-axis kernel survives to_dict / from_dict as a list."""
    assert LayerSpec(kernel_size=(3, 3)) == LayerSpec()
    spec = LayerSpec(dims=3, kernel_size=(3, 7, 7), stride=(1, 2, 2), depth=8)
    document = json.loads(json.dumps(spec.to_dict()))
    assert document["kernel_size"] == [3, 7, 7]
    assert document["dims"] == 3 and document["depth"] == 8 and document["length"] is None
    assert LayerSpec.from_dict(document) == spec
    one = LayerSpec(dims=1, length=100)
    assert one.to_dict()["height"] is None and one.to_dict()["length"] == 100
    assert LayerSpec.from_dict(one.to_dict()) == one
    assert LayerSpec().to_dict() | {"dims": 2, "length": None, "depth": None} == (
        LayerSpec().to_dict()
    )


def test_separable_block_builds_every_rank() -> None:
    """DepthwiseSeparableConv: Conv1d / Conv3d parts from the rank or the kernel's length."""
    import torch

    from sepconv_tui import DepthwiseSeparableConv

    one = DepthwiseSeparableConv(8, 16, 5, 2, dims=1)
    assert isinstance(one.depthwise, torch.nn.Conv1d) and one(torch.randn(2, 8, 30)).shape == (
        2,
        16,
        30,
    )
    three = DepthwiseSeparableConv(4, 6, (3, 5, 5), (1, 2, 2), stride=(1, 2, 2))
    assert isinstance(three.pointwise, torch.nn.Conv3d)
    assert three(torch.randn(1, 4, 8, 16, 16)).shape == (1, 6, 8, 8, 8)
    conv = torch.nn.Conv3d(4, 6, (3, 7, 7), stride=(1, 2, 2), padding=(1, 3, 3), bias=False)
    swapped = DepthwiseSeparableConv.from_conv(conv, 2)
    assert swapped.depthwise.kernel_size == (3, 7, 7) and swapped.depthwise.out_channels == 8
    x = torch.randn(1, 4, 8, 16, 16)
    assert swapped(x).shape == conv(x).shape


@pytest.mark.parametrize(
    ("values", "field", "words"),
    [
        ({"dims": 4}, "dims", "from 1 to 3"),
        ({"dims": 0}, "dims", "from 1 to 3"),
        ({"length": 10}, "length", "only a 1-D layer"),
        ({"dims": 1, "depth": 4}, "depth", "only a 3-D layer"),
        ({"dims": 1, "height": 20}, "height", "no height"),
        ({"kernel_size": (3, 3, 3)}, "kernel_size", "one number or 2"),
        ({"dims": 3, "kernel_size": (3, 3)}, "kernel_size", "one number or 3"),
        ({"dims": 1, "stride": (1, 1)}, "stride", "one number or 1"),
        ({"dims": 3, "padding": (1, 1, -1)}, "padding", "from 0 to"),
    ],
)
def test_bad_rank_values_name_their_field(
    values: dict[str, object], field: str, words: str
) -> None:
    """A rank outside 1–3, a size the rank lacks, a per-axis value of the wrong length."""
    with pytest.raises(SpecError) as raised:
        LayerSpec(**values)  # type: ignore[arg-type]
    assert raised.value.field == field
    assert words in str(raised.value)


@pytest.mark.parametrize(
    ("arguments", "words"),
    [
        ({"kernel_size": (3, 3), "dims": 3}, "kernel_size must be one number or 3"),
        ({"kernel_size": 3, "stride": (1, 2), "dims": 1}, "stride must be one number or 1"),
        ({"kernel_size": (3, 3, 3), "padding": (1, 1)}, "padding must be one number or 3"),
        ({"kernel_size": 3, "dims": 4}, "dims must be 1, 2 or 3"),
    ],
)
def test_separable_block_refuses_a_wrong_number_of_axes(
    arguments: dict[str, object], words: str
) -> None:
    """DepthwiseSeparableConv names the argument whose per-axis value has the wrong length."""
    from sepconv_tui import DepthwiseSeparableConv

    with pytest.raises(ValueError, match=words.replace("(", r"\(")):
        DepthwiseSeparableConv(4, 8, **arguments)  # type: ignore[arg-type]
