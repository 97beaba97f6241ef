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
