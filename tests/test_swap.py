"""Applying the swap: the copy, SVD initialisation, plans, the swap CLI and bench --model."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from conftest import run_cli
from torch import nn

from sepconv_tui.core.layers import DepthwiseSeparableConv
from sepconv_tui.model.describe.factorise import effective_kernel
from sepconv_tui.model.describe.trace import analyze_model
from sepconv_tui.model.results.bench_result import ModelBenchResult
from sepconv_tui.model.swapping.swap import apply_plan, layer_errors, swap_convs
from sepconv_tui.model.vocabulary.analysis import SelectionError, parse_selection
from sepconv_tui.model.vocabulary.plan import SwapError, SwapPlan, plan_from_analysis

MODELS = Path(__file__).parent / "models"
CUSTOM = f"{MODELS / 'custom_model.py'}:build"
SHAPE = (1, 3, 16, 16)


def custom_model() -> nn.Module:
    """tests/models/custom_model.py's CustomNet with seeded random weights."""
    from sepconv_tui.model.describe.source import build_model

    torch.manual_seed(0)
    return build_model(CUSTOM, real=True).module


def low_rank_conv(rank: int, dtype: torch.dtype) -> nn.Conv2d:
    """A 3×5 conv, stride (2, 1), reflect padding, bias, each W[:, i] of rank ``rank``."""
    generator = torch.Generator().manual_seed(rank)
    c_in, c_out = 4, 6
    conv = nn.Conv2d(
        c_in, c_out, (3, 5), stride=(2, 1), padding=(1, 2), padding_mode="reflect", dtype=dtype
    )
    left = torch.randn(c_in, c_out, rank, generator=generator, dtype=dtype)
    right = torch.randn(c_in, rank, 15, generator=generator, dtype=dtype)
    with torch.no_grad():
        conv.weight.copy_((left @ right).permute(1, 0, 2).reshape(c_out, c_in, 3, 5))
    return conv


def truncated_svd(weight: torch.Tensor, rank: int) -> torch.Tensor:
    """The test's own best rank-``rank`` approximation of each W[:, i] (float64)."""
    c_out, c_in, height, width = weight.shape
    approximation = torch.empty(c_out, c_in, height * width, dtype=torch.float64)
    for channel in range(c_in):
        matrix = weight[:, channel].reshape(c_out, -1).double()
        u, s, vh = torch.linalg.svd(matrix, full_matrices=False)
        approximation[:, channel] = u[:, :rank] @ torch.diag(s[:rank]) @ vh[:rank]
    return approximation.reshape(weight.shape)


def test_the_original_is_untouched_and_the_copy_keeps_dtype_and_training() -> None:
    """swap_convs copies: the original's modules and weights stay; the copy keeps its dtype."""
    model = custom_model().double().train()
    before = {name: tensor.clone() for name, tensor in model.state_dict().items()}
    result = swap_convs(model, "all")
    assert isinstance(model.stem, nn.Conv2d) and isinstance(model.shared, nn.Conv2d)
    assert all(torch.equal(before[name], tensor) for name, tensor in model.state_dict().items())
    swapped = result.model
    assert result.swapped == ("stem", "same", "reflect", "shared")
    assert all(
        isinstance(getattr(swapped, name), DepthwiseSeparableConv) for name in result.swapped
    )
    assert isinstance(swapped.pointwise, nn.Conv2d)  # a 1×1 conv is not a candidate
    assert {parameter.dtype for parameter in swapped.parameters()} == {torch.float64}
    assert swapped.stem.training and swapped.stem.depthwise.training
    assert swapped.reflect.depthwise.padding_mode == "reflect"


@pytest.mark.parametrize("select", ["all", "saving", "stem,shared", "top:2"])
def test_parameter_count_and_output_shape_match_the_analysis(select: str) -> None:
    """The swapped model has exactly the params the analysis predicts, and the same output."""
    model = custom_model()
    result = swap_convs(model, select, depth_multiplier=2, input_shape=SHAPE)
    analysis = analyze_model(CUSTOM, input_shape=SHAPE, select=select, depth_multiplier=2)
    assert set(result.swapped) == analysis.swapped_names
    assert sum(p.numel() for p in result.model.parameters()) == analysis.swapped.params
    assert result.params == {
        "original": analysis.original.params,
        "swapped": analysis.swapped.params,
    }
    x = torch.randn(SHAPE)
    with torch.no_grad():
        assert result.model(x).shape == model(x).shape


@pytest.mark.parametrize("rank", [1, 2])
def test_low_rank_weights_are_reproduced_exactly(rank: int) -> None:
    """Rank-m weights with depth multiplier m: the block's output equals the conv's (1e-5)."""
    for dtype in (torch.float32, torch.float64):
        model = nn.Sequential(low_rank_conv(rank, dtype), nn.ReLU())
        result = swap_convs(model, "all", depth_multiplier=rank)
        x = torch.randn(2, 4, 11, 13, dtype=dtype)
        with torch.no_grad():
            expected, actual = model(x), result.model(x)
        assert actual.shape == expected.shape == (2, 6, 6, 13)
        torch.testing.assert_close(actual, expected, atol=1e-5, rtol=1e-5)
        assert result.weight_error["0"] < 1e-6
        block = result.model[0]
        assert torch.count_nonzero(block.depthwise.bias) == 0
        assert torch.equal(block.pointwise.bias, model[0].bias)


def test_fewer_terms_than_the_rank_is_not_exact() -> None:
    """Rank-2 weights with m = 1 leave an error, and the output differs."""
    model = nn.Sequential(low_rank_conv(2, torch.float64))
    result = swap_convs(model, "all", depth_multiplier=1)
    assert result.weight_error["0"] > 0.01
    x = torch.randn(1, 4, 9, 9, dtype=torch.float64)
    with torch.no_grad():
        assert not torch.allclose(result.model(x), model(x), atol=1e-5)


@pytest.mark.parametrize("depth_multiplier", [1, 2, 3])
def test_errors_match_an_svd_computed_here(depth_multiplier: int) -> None:
    """Each reported error is ‖W − Ŵ‖/‖W‖ for the test's own truncated SVD, and the block's
    effective kernel is that Ŵ."""
    model = custom_model()
    result = swap_convs(model, "all", depth_multiplier=depth_multiplier)
    errors = layer_errors(model, depth_multiplier)
    for name in result.swapped:
        weight = getattr(model, name).weight.detach()
        best = truncated_svd(weight, depth_multiplier)
        expected = float((weight.double() - best).norm() / weight.double().norm())
        assert result.weight_error[name] == pytest.approx(expected, rel=1e-5)
        assert errors[name] == pytest.approx(expected, rel=1e-6)
        block_kernel = effective_kernel(getattr(result.model, name)).double()
        torch.testing.assert_close(block_kernel, best, atol=1e-5, rtol=1e-4)
    # stem is 3→8 with 1×7 kernels: each W[:, i] is 8×7, rank ≤ 7, so m = 3 is not exact.
    assert 0 < result.weight_error["stem"] < 1


def test_random_init_and_meta_weights() -> None:
    """init="random" leaves PyTorch's weights (error near or above 1); meta needs "random"."""
    model = custom_model()
    result = swap_convs(model, "all", init="random")
    assert all(error > 0.5 for error in result.weight_error.values())
    from sepconv_tui.model.describe.source import build_model

    empty = build_model(CUSTOM).module
    with pytest.raises(SwapError, match="meta device"):
        swap_convs(empty, "all")
    on_meta = swap_convs(empty, "all", init="random")
    assert on_meta.weight_error == {} and on_meta.model.stem.depthwise.weight.is_meta


def test_max_error_selection() -> None:
    """max-error:X swaps exactly the candidates whose SVD error is ≤ X; it needs weights."""
    model = nn.Sequential(low_rank_conv(1, torch.float64), nn.Conv2d(6, 6, 3))
    errors = layer_errors(model)
    assert errors["0"] < 1e-6 < errors["1"]
    assert swap_convs(model, "max-error:0.01").swapped == ("0",)
    assert swap_convs(model, "max-error:1").swapped == ("0", "1")
    assert str(parse_selection("max-error:0.3")) == "max-error:0.3"
    for text in ("max-error:x", "max-error:1.5", "max-error:-0.1", "max-error:nan"):
        with pytest.raises(SelectionError, match="max-error:X needs a number X from 0 to 1"):
            parse_selection(text)
    with pytest.raises(SelectionError, match="needs each candidate's error"):
        analyze_model(CUSTOM, input_shape=SHAPE, select="max-error:0.3")
    with pytest.raises(SwapError, match="needs the model's input shape") as caught:
        swap_convs(model, "top:1")
    assert caught.value.field == "input_shape"


def test_plan_from_an_analysis_rebuilds_the_architecture() -> None:
    """The app's plan (no weights) rebuilds the model the analysis describes; bad plans say why."""
    analysis = analyze_model(CUSTOM, input_shape=SHAPE, select="stem,reflect")
    plan = plan_from_analysis(analysis)
    assert plan["swapped"] == ["stem", "reflect"] and plan["init"] is None
    assert plan["weight_error"] is None and plan["input_shape"] == list(SHAPE)
    assert SwapPlan.from_dict(json.loads(json.dumps(plan))).to_dict() == plan
    rebuilt = apply_plan(custom_model(), plan)
    assert sum(p.numel() for p in rebuilt.parameters()) == analysis.swapped.params
    with pytest.raises(SwapError, match="'head', which is not a swap candidate: linear"):
        apply_plan(custom_model(), {**plan, "swapped": ["head"]})
    with pytest.raises(SwapError, match="'nope', which this model does not have"):
        apply_plan(custom_model(), {**plan, "swapped": ["nope"]})
    with pytest.raises(SwapError, match="depth_multiplier"):
        SwapPlan.from_dict({**plan, "depth_multiplier": 0})


def test_analysis_with_weights_carries_each_layer_error(tmp_path: Path) -> None:
    """analyze_model(weights=…) fills each candidate's error, and max-error selects by it."""
    model = custom_model()
    torch.save(model.state_dict(), tmp_path / "weights.pt")
    analysis = analyze_model(
        CUSTOM, input_shape=SHAPE, select="max-error:1", weights=tmp_path / "weights.pt"
    )
    errors = layer_errors(model)
    for layer in analysis.layers:
        assert layer.weight_error == (
            pytest.approx(errors[layer.name]) if layer.candidate else None
        )
    assert analysis.swapped_names == {layer.name for layer in analysis.candidates}
    assert plan_from_analysis(analysis)["weight_error"] == pytest.approx(errors)


def test_swap_cli_round_trip(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """swap writes swapped.pt and plan.json; apply_plan + load_state_dict restores the SVD
    blocks of the original weights, and the printed errors are the plan's."""
    original = custom_model()
    torch.save(original.state_dict(), tmp_path / "original.pt")
    out = tmp_path / "out"
    code, stdout, stderr = run_cli(
        capsys,
        *("swap", CUSTOM, "--weights", str(tmp_path / "original.pt"), "--swap", "all"),
        *("--depth-multiplier", "2", "--input-shape", "1,3,16,16", "--out", str(out)),
    )
    assert code == 0, stderr
    plan = json.loads((out / "plan.json").read_text())
    assert plan["swapped"] == ["stem", "same", "reflect", "shared"]
    assert (plan["depth_multiplier"], plan["init"], plan["source"]) == (2, "svd", CUSTOM)
    for error in plan["weight_error"].values():
        assert f"{error:.3g}" in stdout  # the table shows each layer's error
    restored = apply_plan(custom_model(), plan)
    restored.load_state_dict(torch.load(out / "swapped.pt", weights_only=True))
    for name in plan["swapped"]:
        weight = getattr(original, name).weight.detach()
        torch.testing.assert_close(
            effective_kernel(getattr(restored, name)).double(),
            truncated_svd(weight, 2),
            atol=1e-5,
            rtol=1e-4,
        )
    assert torch.equal(restored.head.weight, original.head.weight)
    code, stdout, _ = run_cli(
        capsys,
        "swap",
        CUSTOM,
        "--input-shape",
        "1,3,16,16",
        "--out",
        str(out),
        "--json",
        "--swap",
        "stem",
    )
    assert code == 0 and json.loads(stdout)["swapped"] == ["stem"]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (("swap", "torchvision:resnet5O", "--out", "x"), "did you mean 'resnet50'"),
        (("swap", CUSTOM, "--swap", "max-error:2", "--out", "x"), "max-error:X needs a number"),
        (("swap", CUSTOM, "--weights", "missing.pt", "--out", "x"), "does not exist"),
        (("swap", CUSTOM, "--init", "zeros", "--out", "x"), "--init"),
        (("swap", CUSTOM, "--input-shape", "1,3", "--out", "x"), "--input-shape: must be 3 to 5"),
        (("bench", "--swap", "all"), "--swap needs --model"),
        (("bench", "--model", CUSTOM, "--swap", "top:0"), "top:N needs a whole number"),
    ],
)
def test_bad_input_exits_2(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    arguments: tuple[str, ...],
    message: str,
) -> None:
    """Bad input to swap and bench --model: exit 2, one or two lines, no traceback."""
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli(capsys, *arguments)
    assert code == 2 and message in err and "Traceback" not in err
    assert 1 <= len(err.strip().splitlines()) <= 2 and out == ""


def test_weights_that_do_not_fit(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """A state_dict for another model names the keys that are missing or unexpected."""
    torch.save(nn.Linear(2, 2).state_dict(), tmp_path / "other.pt")
    code, _, err = run_cli(
        capsys, "swap", CUSTOM, "--weights", str(tmp_path / "other.pt"), "--out", str(tmp_path)
    )
    assert code == 2 and "does not fit the model: missing stem.weight" in err
    assert "unexpected weight, bias" in err


def test_bench_model_json(capsys: pytest.CaptureFixture[str]) -> None:
    """bench --model --json: both models timed, the documented keys, the analysis's MAC ratio."""
    code, stdout, stderr = run_cli(
        capsys,
        *("bench", "--model", CUSTOM, "--input-shape", "1,3,16,16", "--swap", "all"),
        *("--threads", "1", "--channels-last", "--json", "--min-run-time", "0.01"),
    )
    assert code == 0, stderr
    document = json.loads(stdout)
    for side in ("original", "swapped"):
        assert document[side]["median_s"] > 0 and document[side]["iqr_s"] >= 0
    assert document["speed_ratio"] == pytest.approx(
        document["original"]["median_s"] / document["swapped"]["median_s"]
    )
    analysis = analyze_model(CUSTOM, input_shape=SHAPE, select="all")
    assert document["mac_ratio"] == pytest.approx(analysis.mac_ratio)
    assert (document["device"], document["threads"], document["channels_last"]) == ("cpu", 1, True)
    assert document["swapped_count"] == 4
    assert ModelBenchResult.from_dict(document).to_dict() == document


def test_bench_model_memory_refusal(capsys: pytest.CaptureFixture[str]) -> None:
    """A model over the budget is refused before it is built: exit 2, sizes named."""
    code, out, err = run_cli(
        capsys,
        "bench",
        "--model",
        CUSTOM,
        "--input-shape",
        "1,3,512,512",
        "--memory-budget-mb",
        "1",
    )
    assert code == 2 and out == ""
    assert "refusing to allocate about" in err and "memory budget of 1.00 MiB" in err
    assert len(err.strip().splitlines()) == 1


def test_single_layer_bench_channels_last(capsys: pytest.CaptureFixture[str]) -> None:
    """bench --channels-last times a single layer in NHWC and says so in the JSON."""
    code, stdout, stderr = run_cli(
        capsys, "bench", "--channels-last", "--json", "--threads", "1", "--min-run-time", "0.01"
    )
    assert code == 0, stderr
    document = json.loads(stdout)
    assert document["channels_last"] is True and math.isfinite(document["speed_ratio"])


def test_plan_and_report_modules_load_no_torch() -> None:
    """The plan, the whole-model bench's data and both reports import no torch."""
    import subprocess
    import sys

    code = (
        "import sepconv_tui.model.vocabulary.plan, sepconv_tui.model.latency.bench, "
        "sepconv_tui.model.swapping.swap, sepconv_tui.report.swap, sepconv_tui.report.model_bench\n"
        "import sys; print('torch' in sys.modules, 'textual' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.split() == ["False", "False"]


def test_a_plan_written_before_with_relative_error_still_loads() -> None:
    """Plans name the weight error ``weight_error``; one written before, ``relative_error``,
    reads the same and is written back under the new name."""
    from sepconv_tui.model.vocabulary.plan import SwapPlan

    old = {"format": "sepconv-tui swap plan", "version": 2, "swapped": ["conv1"],
           "depth_multiplier": 1, "relative_error": {"conv1": 0.41}}  # fmt: skip
    plan = SwapPlan.from_dict(old)
    assert plan.weight_error == {"conv1": 0.41} and "relative_error" not in plan.extra
    written = plan.to_dict()
    assert written["weight_error"] == {"conv1": 0.41} and "relative_error" not in written


def test_saved_files_get_the_mode_any_other_output_gets(tmp_path: Path) -> None:
    """swap.save stages each file with mkstemp (private, 0600) for an atomic rename; the files
    it leaves are as readable as the umask allows, not private."""
    import os

    from sepconv_tui.model.swapping.swap import save

    result = swap_convs(custom_model(), "all", input_shape=(1, 3, 16, 16))
    umask = os.umask(0o022)
    try:
        written = save(result, tmp_path / "out")
    finally:
        os.umask(umask)
    assert written and all(path.stat().st_mode & 0o777 == 0o644 for path in written)
