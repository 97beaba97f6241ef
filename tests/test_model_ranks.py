"""Whole models in 1-D and 3-D: Conv1d and Conv3d candidates, the n-d SVD, swap, recovery, CLI.

tests/models/ranks.py holds a 1-D CNN (the digits read as 8 rows of 8: N×8×8) and a small 3-D
one (N×3×4×8×8 clips); the video zoo (tests/test_video_zoo.py) covers torchvision's 3-D models.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
import torch
from conftest import run_cli
from torch import nn

from sepconv_tui.model.describe.factorise import effective_kernel, svd_factors
from sepconv_tui.model.describe.source import build_model, parse_source
from sepconv_tui.model.describe.trace import analyze_model
from sepconv_tui.model.measure.data import load_data
from sepconv_tui.model.measure.fidelity import measure_fidelity
from sepconv_tui.model.recovery.reconstruction import reconstruct
from sepconv_tui.model.swapping.job import ModelJob, build_pair
from sepconv_tui.model.swapping.swap import apply_plan, save, swap_convs
from sepconv_tui.model.vocabulary.plan import SwapPlan
from sepconv_tui.report.model_cells import format_kernel, short_reason

MODELS = Path(__file__).parent / "models"
SEQUENCE = f"{MODELS / 'ranks.py'}:sequence"
CLIP = f"{MODELS / 'ranks.py'}:clip"
#: The digits held out of training, as in examples/digits/make.py.
TEST_SIZE = 500


def _weight_error(weight: torch.Tensor, approximation: torch.Tensor) -> float:
    """‖W − Ŵ‖_F / ‖W‖_F, computed here."""
    weight64 = weight.detach().double()
    return float((weight64 - approximation.detach().double()).norm() / weight64.norm())


# --- the SVD over any number of axes ---------------------------------------------------------

CONVS = [
    pytest.param(lambda: nn.Conv1d(6, 10, 5, padding=2), id="conv1d-k5"),
    pytest.param(lambda: nn.Conv1d(4, 3, 7, stride=2, bias=False), id="conv1d-k7-cout3"),
    pytest.param(lambda: nn.Conv3d(4, 12, (2, 3, 3), padding=1), id="conv3d-2x3x3"),
    pytest.param(lambda: nn.Conv3d(3, 30, 3, dilation=(1, 2, 2), bias=False), id="conv3d-3x3x3"),
]


@pytest.mark.parametrize("make", CONVS)
def test_svd_is_exact_at_m_equal_to_the_kernel_volume(make: Any) -> None:
    """m = k₁·…·k_d: the block's kernel is W to rounding, and so is its output on real data."""
    torch.manual_seed(0)
    conv = make()
    volume = math.prod(conv.kernel_size)
    result = swap_convs(nn.Sequential(conv), "all", depth_multiplier=volume)
    block = result.model[0]
    assert type(block.depthwise) is type(conv) and type(block.pointwise) is type(conv)
    assert block.depthwise.kernel_size == conv.kernel_size
    assert block.pointwise.kernel_size == (1,) * len(conv.kernel_size)
    assert _weight_error(conv.weight, effective_kernel(block)) < 1e-6
    x = torch.randn(2, conv.in_channels, *[9] * len(conv.kernel_size))
    with torch.no_grad():
        assert torch.allclose(block(x), conv(x), atol=1e-5)


@pytest.mark.parametrize("make", CONVS)
def test_svd_at_m_1_is_each_channels_best_rank_1_matrix(make: Any) -> None:
    """m = 1: per input channel, σ₁·u₁·v₁ᵀ of the C_out × ∏k matrix, by torch.linalg.svd here."""
    torch.manual_seed(1)
    conv = make()
    weight = conv.weight.detach().double()
    c_out, c_in = weight.shape[:2]
    expected = torch.empty_like(weight)
    for channel in range(c_in):
        matrix = weight[:, channel].reshape(c_out, -1)
        u, s, vh = torch.linalg.svd(matrix, full_matrices=False)
        expected[:, channel] = (s[0] * torch.outer(u[:, 0], vh[0])).reshape(weight[:, 0].shape)
    depthwise, pointwise = svd_factors(conv.weight, 1)
    assert depthwise.shape == (c_in, 1, *conv.kernel_size)
    assert pointwise.shape == (c_out, c_in, *[1] * len(conv.kernel_size))
    block = swap_convs(nn.Sequential(conv), "all").model[0]
    assert torch.allclose(effective_kernel(block).double(), expected, atol=1e-6)
    # Eckart–Young: the error is what the discarded singular values hold.
    discarded = sum(
        float((torch.linalg.svdvals(weight[:, i].reshape(c_out, -1))[1:] ** 2).sum())
        for i in range(c_in)
    )
    assert _weight_error(conv.weight, effective_kernel(block)) == pytest.approx(
        math.sqrt(discarded) / float(weight.norm()), rel=1e-6
    )


# --- the analysis ----------------------------------------------------------------------------


def test_a_1d_model_by_both_methods() -> None:
    """Conv1d rows: shapes, params and MACs by hand; the pointwise stem is no candidate."""
    analysis = analyze_model(SEQUENCE, select="all")
    assert analysis.input_shape == (1, 8, 8)
    assert analysis.verified == {"params": True, "macs": True, "shapes": True}, analysis.notes
    rows = {layer.name: layer for layer in analysis.layers}
    candidates = [layer.name for layer in analysis.candidates]
    assert candidates == ["features.0", "features.3", "features.7"]
    assert rows["stem.0"].reason == "kernel size 1 (already pointwise)"
    assert short_reason(rows["stem.0"]) == "pointwise"
    assert format_kernel(rows["features.0"]) == "5"
    first = rows["features.0"]
    assert first.kernel_size == (5,)
    assert first.input_shape == first.output_shape == (1, 32, 8)
    assert first.standard.params == 32 * 32 * 5
    assert first.standard.macs == 32 * 8 * 32 * 5
    # Depthwise 32 filters of 5, pointwise 32 × 32; MACs over 8 outputs, no bias on either.
    assert first.separable is not None
    assert first.separable.params == 32 * 5 + 32 * 32
    assert first.separable.macs == 8 * (32 * 5 + 32 * 32)
    last = rows["features.7"]
    assert last.output_shape == (1, 64, 4) and last.separable is not None
    assert last.separable.macs == 4 * (32 * 3 + 32 * 64)


def test_a_3d_model_rows_and_table(capsys: pytest.CaptureFixture[str]) -> None:
    """Conv3d rows: 3×3×3 s1×2×2 and 1×3×3 candidates; 1×1×1 and grouped convs are not."""
    analysis = analyze_model(CLIP, select="all", depth_multiplier=2)
    assert analysis.input_shape == (1, 3, 4, 8, 8)
    assert analysis.verified == {"params": True, "macs": True, "shapes": True}, analysis.notes
    rows = {layer.name: layer for layer in analysis.layers}
    stem = rows["stem"]
    assert stem.output_shape == (1, 8, 4, 4, 4) and stem.stride == (1, 2, 2)
    # m = 2: depthwise 3 → 6 channels of 27 weights (+ 6 bias), pointwise 6 → 8 (+ 8 bias).
    assert stem.separable is not None and stem.separable.params == 6 * 27 + 6 + 6 * 8 + 8
    assert stem.separable.macs == 64 * (6 * 27 + 6 * 8)
    assert rows["pointwise"].reason == "1×1×1 kernel (already pointwise)"
    assert rows["grouped"].reason == "grouped (groups = 4)"
    code, out, err = run_cli(capsys, "model", CLIP, "--swap", "all")
    assert code == 0, err
    text = " ".join(out.split())
    assert "3×3×3 s1×2×2" in text and "1×3×3" in text and "1×1×1" in text
    assert "Swapped 2 of 2 candidate convs" in text


@pytest.mark.parametrize(("source", "shape"), [(SEQUENCE, [1, 8, 16]), (CLIP, [1, 3, 4, 16, 16])])
def test_resolution_sets_the_length_or_height_and_width(
    capsys: pytest.CaptureFixture[str], source: str, shape: list[int]
) -> None:
    """--resolution R: a 1-D input's length, a 3-D input's H and W (the frames stay)."""
    code, out, err = run_cli(capsys, "model", source, "--resolution", "16", "--json")
    assert code == 0, err
    assert json.loads(out)["input_shape"] == shape


def test_a_per_layer_m_is_arithmetic_in_3d() -> None:
    """with_depth_multipliers on a 3-D row matches a fresh trace at that m."""
    base = analyze_model(CLIP, select="all")
    changed = base.with_depth_multipliers({"stem": 3, "spatial": 2})
    fresh = analyze_model(CLIP, select="all", depth_multiplier={"stem": 3, "spatial": 2})
    assert changed.swapped == fresh.swapped


# --- a trained 1-D CNN -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def sequences(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The 1-D CNN trained (seeded, a few seconds) on the digits read as 8 rows of 8 steps."""
    from sklearn.datasets import load_digits

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        bunch = load_digits()
        inputs = torch.tensor(bunch.images, dtype=torch.float32) / 16.0  # N×8×8: rows × columns
        labels = torch.tensor(bunch.target, dtype=torch.int64)
        order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(0))
        inputs, labels = inputs[order], labels[order]
        fit, test = slice(0, -TEST_SIZE), slice(-TEST_SIZE, None)
        inputs = (inputs - inputs[fit].mean()) / inputs[fit].std()
        torch.manual_seed(0)
        model = build_model(SEQUENCE, real=True).module
        optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
        generator = torch.Generator().manual_seed(0)
        model.train()
        for _epoch in range(12):
            permutation = torch.randperm(len(labels) - TEST_SIZE, generator=generator)
            for start in range(0, len(permutation), 64):
                index = permutation[start : start + 64]
                loss = nn.functional.cross_entropy(model(inputs[fit][index]), labels[fit][index])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
        model.eval()
        with torch.no_grad():
            accuracy = float((model(inputs[test]).argmax(1) == labels[test]).float().mean())
    finally:
        torch.set_num_threads(threads)
    folder = tmp_path_factory.mktemp("sequences")
    torch.save(model.state_dict(), folder / "sequence.pt")
    torch.save({"inputs": inputs[fit].contiguous(), "labels": labels[fit]}, folder / "fit.pt")
    torch.save({"inputs": inputs[test].contiguous(), "labels": labels[test]}, folder / "test.pt")
    return {"dir": folder, "model": model, "accuracy": accuracy}


def test_the_1d_cnn_learns_the_digits(sequences: dict[str, Any]) -> None:
    """The fixture's model is a real classifier (so agreement below means something)."""
    assert sequences["accuracy"] > 0.95


def test_a_trained_1d_cnn_swapped_then_reconstructed(sequences: dict[str, Any]) -> None:
    """m = 1, every candidate swapped: the SVD start loses most agreement; least squares on the
    pointwise Conv1d (fitted on the training digits) brings it back, on held-out digits."""
    model = sequences["model"]
    fit = load_data(str(sequences["dir"] / "fit.pt"), input_shape=(1, 8, 8))
    test = load_data(str(sequences["dir"] / "test.pt"), input_shape=(1, 8, 8))
    result = swap_convs(model, "all")
    assert result.swapped == ("features.0", "features.3", "features.7")
    svd_only = measure_fidelity(model, result.model, test)
    reconstruct(model, result.model, list(result.swapped), fit, calibration=256)
    reconstructed = measure_fidelity(model, result.model, test)
    assert svd_only.agreement is not None and reconstructed.agreement is not None
    assert svd_only.agreement < 0.5
    assert reconstructed.agreement >= 0.9
    assert reconstructed.agreement > svd_only.agreement + 0.4
    assert reconstructed.output_error < svd_only.output_error / 2
    assert [layer.name for layer in reconstructed.layers] == list(result.swapped)


def test_swap_then_fidelity_on_a_1d_model_from_the_cli(
    capsys: pytest.CaptureFixture[str], sequences: dict[str, Any], tmp_path: Path
) -> None:
    """`swap` writes the plan and state_dict; `fidelity --swapped` rebuilds and measures them."""
    weights = str(sequences["dir"] / "sequence.pt")
    out = tmp_path / "swapped"
    code, printed, err = run_cli(
        capsys, "swap", SEQUENCE, "--weights", weights, "--swap", "all", "--out", str(out)
    )
    assert code == 0, err
    plan = json.loads((out / "plan.json").read_text())
    assert plan["swapped"] == ["features.0", "features.3", "features.7"]
    assert plan["input_shape"] == [1, 8, 8]
    code, printed, err = run_cli(
        capsys,
        *("fidelity", SEQUENCE, "--weights", weights, "--swapped", str(out)),
        *("--data", str(sequences["dir"] / "test.pt"), "--json"),
    )
    assert code == 0, err
    measured = json.loads(printed)
    assert measured["evaluated"] == TEST_SIZE
    assert [layer["name"] for layer in measured["layers"]] == plan["swapped"]
    # The same numbers as the swap measured in Python.
    model = sequences["model"]
    swapped = swap_convs(model, "all").model.eval()
    test = load_data(str(sequences["dir"] / "test.pt"), input_shape=(1, 8, 8))
    expected = measure_fidelity(model, swapped, test)
    assert measured["swapped"]["output_error"] == pytest.approx(expected.output_error, rel=1e-4)


def test_synthetic_data_takes_the_models_rank(sequences: dict[str, Any]) -> None:
    """synthetic:N follows the input shape: N×8×8 for the 1-D model, N×3×4×8×8 for the clip."""
    assert load_data("synthetic:5", input_shape=(1, 8, 8)).inputs.shape == (5, 8, 8)
    assert load_data("synthetic:3", input_shape=(1, 3, 4, 8, 8)).inputs.shape == (3, 3, 4, 8, 8)


# --- plan, save and load in 3-D --------------------------------------------------------------


def test_a_3d_swap_saved_and_loaded_back(tmp_path: Path) -> None:
    """save → build_pair of the saved swap, and apply_plan, rebuild the 3-D swap; outputs agree
    with the swap's."""
    torch.manual_seed(0)
    original = build_model(CLIP, real=True).module.eval()
    weights = tmp_path / "clip.pt"
    torch.save(original.state_dict(), weights)
    result = swap_convs(original, "all", depth_multiplier={"stem": 4, "spatial": 2})
    save(result, tmp_path / "out")
    saved = ModelJob(parse_source(CLIP), weights=str(weights), swapped_dir=str(tmp_path / "out"))
    rebuilt_original, swapped, loaded = build_pair(saved)
    x = torch.randn(2, 3, 4, 8, 8)
    with torch.no_grad():
        assert torch.allclose(swapped.eval()(x), result.model.eval()(x), atol=1e-6)
        assert torch.allclose(rebuilt_original.eval()(x), original(x), atol=1e-6)
    assert loaded.swapped == ("stem", "spatial")
    plan = SwapPlan.from_dict(json.loads((tmp_path / "out" / "plan.json").read_text()))
    on_meta = apply_plan(build_model(CLIP).module, plan)
    assert isinstance(on_meta.stem.depthwise, nn.Conv3d)
    assert on_meta.stem.depthwise.out_channels == 12  # m = 4 on 3 channels
    assert on_meta.spatial.depthwise.out_channels == 16  # m = 2 on 8


# --- bad input -------------------------------------------------------------------------------


def test_bad_rank_input_exits_2(
    capsys: pytest.CaptureFixture[str], sequences: dict[str, Any], tmp_path: Path
) -> None:
    """A 4-number shape for a 1-D model, image-shaped tensors for it, an image folder: exit 2,
    one line naming the argument."""
    images = tmp_path / "images.pt"
    torch.save(torch.zeros(4, 8, 8, 8), images)
    (tmp_path / "folder").mkdir()
    weights = str(sequences["dir"] / "sequence.pt")
    cases = [
        (
            ("model", SEQUENCE, "--input-shape", "1,8,8,8"),
            "--input-shape: (1, 8, 8, 8) has 4 numbers, but stem.0 is a Conv1d, which takes N×C×L",
        ),
        (
            ("fidelity", SEQUENCE, "--weights", weights, "--data", str(images)),
            "the inputs have shape (4, 8, 8, 8) (rank 4); this model takes N×C×L (rank 3)",
        ),
        (
            ("fidelity", SEQUENCE, "--weights", weights, "--data", str(tmp_path / "folder")),
            "is a folder of images, but the model takes inputs of shape (1, 8, 8)",
        ),
        (
            ("model", CLIP, "--input-shape", "1,3,8,8"),
            "--input-shape: (1, 3, 8, 8) has 4 numbers, but stem is a Conv3d",
        ),
    ]
    for arguments, message in cases:
        code, out, err = run_cli(capsys, *arguments)
        assert code == 2, (arguments, err)
        assert message in err, err
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_bench_model_on_1d_and_3d_models(capsys: pytest.CaptureFixture[str]) -> None:
    """bench --model times a 1-D and a 3-D model and their swaps; --channels-last is 2-D and
    3-D only (tests/test_rank_runtimes.py times the 3-D model in NDHWC)."""
    for source in (SEQUENCE, CLIP):
        code, out, err = run_cli(
            capsys,
            *("bench", "--model", source, "--swap", "all", "--threads", "1"),
            *("--json", "--min-run-time", "0.01"),
        )
        assert code == 0, err
        document = json.loads(out)
        assert document["swapped"]["median_s"] > 0 and document["original"]["median_s"] > 0
    code, out, err = run_cli(capsys, "bench", "--model", SEQUENCE, "--channels-last")
    assert code == 2 and "channels-last memory format is for 2-D and 3-D convs" in err


# --- the Model tab ---------------------------------------------------------------------------


async def test_the_model_tab_analyses_a_video_model() -> None:
    """torchvision:r3d_18 in the Model tab (analysed in the child): the published totals, 3-D
    kernels in the table, every Conv3d swapped."""
    from app_states import settle, type_into
    from textual.widgets import Static

    from sepconv_tui.tui.app import SepConvApp
    from sepconv_tui.tui.widgets.model.table import ModelTable

    app = SepConvApp()
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.press("f6")
        await settle(pilot)
        await type_into(pilot, "model-source", "torchvision:r3d_18")
        await pilot.press("enter")
        await settle(pilot)
        summary = str(app.query_one("#model-summary", Static).render())
        assert "33,371,472 (33.37M)" in summary, summary
        assert "Swapped 17 of 17" in summary
        table = app.query_one(ModelTable)
        assert str(table.get_cell("stem.0", "kernel")) == "3×7×7 s1×2×2"
        assert str(table.get_cell("layer2.0.downsample.0", "swap")) == "1×1×1"


def test_a_module_passed_in_python_takes_its_published_input() -> None:
    """analyze_model(module): a module publishing its input (pretrained_cfg) is traced at it."""
    analysis = analyze_model(build_model(CLIP).module, select="all")
    assert analysis.input_shape == (1, 3, 4, 8, 8)
    assert analysis.verified == {"params": True, "macs": True, "shapes": True}
