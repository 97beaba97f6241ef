"""Does the swapped model still work? Fidelity, per-layer m, recovery — on a trained digits CNN."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
import torch
from conftest import run_cli
from torch import nn

from sepconv_tui.cli.common import cli_wording
from sepconv_tui.model.describe.factorise import auto_multiplier, kept_energy
from sepconv_tui.model.describe.source import build_model
from sepconv_tui.model.describe.trace import analyze_model
from sepconv_tui.model.measure.data import load_data
from sepconv_tui.model.measure.fidelity import measure_fidelity
from sepconv_tui.model.recovery.recover import recover
from sepconv_tui.model.swapping.swap import apply_plan, swap_convs
from sepconv_tui.model.vocabulary.analysis import AutoDepth, SwapError, parse_depth_multiplier
from sepconv_tui.model.vocabulary.plan import SwapPlan


def trained(digits: dict[str, Any]) -> nn.Module:
    """The digits CNN with its trained weights, in eval mode."""
    model = build_model(digits["source"], real=True).module
    model.load_state_dict(torch.load(digits["weights"]))
    return model.eval()


@pytest.fixture(scope="module")
def recovered(digits: dict[str, Any]) -> Any:
    """Every candidate swapped at m = 1, reconstructed and distilled on the fitting split."""
    model = trained(digits)
    data = load_data(str(digits["data"]), input_shape=(1, 1, 8, 8))
    # 800 of the 2,000 steps the defaults allow: the defaults' checks, budget and patience.
    # One thread: on a loaded machine a second one waits on the first far longer than it saves.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return recover(swap_convs(model, "all"), data, mode="distill", holdout=500, steps=800)
    finally:
        torch.set_num_threads(threads)


def test_svd_alone_collapses_and_recovery_brings_the_accuracy_back(
    digits: dict[str, Any], recovered: Any
) -> None:
    """m = 1, all swapped: SVD near chance; reconstruct within 3 points; distill within 1,
    ending past step 0 and beating reconstruction on the test split."""
    original = digits["figures"]["test_accuracy"]
    svd, reconstructed, distilled = recovered.stages
    assert [stage.stage for stage in recovered.stages] == ["svd", "reconstruct", "distill"]
    assert recovered.holdout == 500 and recovered.calibration == 256
    assert svd.original_accuracy == pytest.approx(original, abs=1e-6)
    assert svd.swapped_accuracy is not None and svd.swapped_accuracy < 0.3
    assert reconstructed.swapped_accuracy is not None and distilled.swapped_accuracy is not None
    assert reconstructed.swapped_accuracy >= original - 0.03
    assert distilled.swapped_accuracy >= original - 0.01
    assert reconstructed.output_error < svd.output_error
    assert recovered.distillation.best_step > 0
    assert reconstructed.agreement is not None and distilled.agreement is not None
    assert distilled.agreement >= reconstructed.agreement
    assert distilled.output_error < reconstructed.output_error
    # The original model was not touched; the result's model is a new one.
    assert recovered.model is not recovered.result.original


def test_fidelity_figures_match_a_computation_here(digits: dict[str, Any]) -> None:
    """Output error, agreement, accuracies and a layer's local error, recomputed by hand."""
    model = trained(digits)
    swapped = swap_convs(model, "all", depth_multiplier=2).model.eval()
    data = load_data(str(digits["test"]), input_shape=(1, 1, 8, 8))
    fidelity = measure_fidelity(model, swapped, data, batch_size=37)
    with torch.no_grad():
        y, z = model(data.inputs).double(), swapped(data.inputs).double()
    assert fidelity.evaluated == 500
    assert fidelity.output_error == pytest.approx(float((z - y).norm() / y.norm()), rel=1e-6)
    agree = float((z.argmax(1) == y.argmax(1)).double().mean())
    assert fidelity.agreement == pytest.approx(agree)
    assert data.labels is not None
    assert fidelity.original_accuracy == pytest.approx(
        float((y.argmax(1) == data.labels).double().mean())
    )
    assert fidelity.swapped_accuracy == pytest.approx(
        float((z.argmax(1) == data.labels).double().mean())
    )
    # The first swapped conv alone on the original's inputs.
    name = fidelity.layers[0].name
    conv, block = dict(model.named_modules())[name], dict(swapped.named_modules())[name]
    inputs: list[torch.Tensor] = []
    handle = conv.register_forward_hook(lambda _m, args, _out: inputs.append(args[0]))
    with torch.no_grad():
        model(data.inputs)
        handle.remove()
        reference, approximation = conv(inputs[0]).double(), block(inputs[0]).double()
    expected = float((approximation - reference).norm() / reference.norm())
    assert fidelity.layers[0].local_error == pytest.approx(expected, rel=1e-6)
    assert fidelity.layers[0].depth_multiplier is None  # not given: not guessed
    # The second swapped layer inside the swapped network: its input has changed too.
    name = fidelity.layers[1].name
    conv, block = dict(model.named_modules())[name], dict(swapped.named_modules())[name]
    outputs: dict[str, torch.Tensor] = {}
    handles = [
        conv.register_forward_hook(lambda _m, _a, out: outputs.__setitem__("conv", out)),
        block.register_forward_hook(lambda _m, _a, out: outputs.__setitem__("block", out)),
    ]
    with torch.no_grad():
        model(data.inputs)
        swapped(data.inputs)
    for handle in handles:
        handle.remove()
    reference, inside = outputs["conv"].double(), outputs["block"].double()
    expected = float((inside - reference).norm() / reference.norm())
    assert fidelity.layers[1].network_error == pytest.approx(expected, rel=1e-6)
    assert fidelity.layers[1].network_error != pytest.approx(fidelity.layers[1].local_error)


def test_auto_depth_multiplier_against_an_svd_here(digits: dict[str, Any]) -> None:
    """auto:E gives each conv the smallest m whose per-channel SVD keeps ≥ E of ‖W‖²."""
    model = trained(digits)
    conv = next(
        module
        for module in model.modules()
        if isinstance(module, nn.Conv2d) and module.kernel_size == (3, 3)
    )
    weight = conv.weight.detach().double()
    c_out, c_in = weight.shape[:2]
    singular = torch.linalg.svdvals(weight.permute(1, 0, 2, 3).reshape(c_in, c_out, 9))
    kept = (singular**2).sum(0).cumsum(0) / (weight**2).sum()
    for energy in (0.5, 0.9, 0.99, 1.0):
        expected = int(torch.nonzero(kept >= energy - 1e-9)[0]) + 1
        assert auto_multiplier(conv.weight, energy) == expected
    assert kept_energy(conv.weight)[-1] == pytest.approx(1.0)
    result = swap_convs(model, "all", depth_multiplier="auto:0.9")
    assert isinstance(result.depth_multiplier, dict | int)
    for name in result.swapped:
        layer = dict(model.named_modules())[name]
        assert result.multiplier_for(name) == auto_multiplier(layer.weight, 0.9)
        # A block at m keeps the energy its m promises: error² ≤ 1 − E.
        assert result.weight_error[name] ** 2 <= 1 - 0.9 + 1e-9


def test_per_layer_multipliers_in_the_analysis_and_the_plan(digits: dict[str, Any]) -> None:
    """auto:E in analyze_model: an m per row, costs at that m, plan v2 as a map; v1 read back."""
    weights = str(digits["weights"])
    analysis = analyze_model(
        digits["source"],
        input_shape=(1, 1, 8, 8),
        select="all",
        depth_multiplier="auto:0.9",
        weights=weights,
    )
    at_one = analyze_model(
        digits["source"], input_shape=(1, 1, 8, 8), select="all", weights=weights
    )
    rows = {layer.name: layer for layer in at_one.layers}
    multipliers = analysis.multipliers
    assert len(set(multipliers.values())) > 1, "the example's layers should differ in m"
    for layer in analysis.candidates:
        m = layer.depth_multiplier
        assert layer.separable is not None and rows[layer.name].separable is not None
        assert layer.separable.macs == m * rows[layer.name].separable.macs
    json_values = analysis.to_dict()
    assert json_values["depth_multiplier"] == multipliers
    assert [row["depth_multiplier"] for row in json_values["layers"] if row["candidate"]] == list(
        multipliers.values()
    )
    result = swap_convs(trained(digits), "all", depth_multiplier="auto:0.9")
    plan = result.plan.to_dict()
    assert plan["version"] == 2 and plan["depth_multiplier"] == multipliers
    rebuilt = apply_plan(build_model(digits["source"], real=True).module, plan)
    rebuilt.load_state_dict(result.model.state_dict())
    version_1 = {"format": "sepconv-tui swap plan", "version": 1, "swapped": list(result.swapped)}
    assert (
        SwapPlan.from_dict({**version_1, "depth_multiplier": 2}).multiplier_for(result.swapped[0])
        == 2
    )
    with pytest.raises(SwapError, match="must be an integer"):
        SwapPlan.from_dict({**version_1, "depth_multiplier": multipliers})
    shared = swap_convs(trained(digits), "all", depth_multiplier=2).plan.to_dict()
    assert shared["depth_multiplier"] == 2


@pytest.mark.parametrize(
    "text",
    ["auto:0", "auto:1.5", "auto:x", "auto:nan", "0", "1025", "two"],
)
def test_depth_multiplier_out_of_range(text: str) -> None:
    """auto:E needs 0 < E ≤ 1, an integer 1–1024; a SwapError the CLI leads with
    --depth-multiplier."""
    with pytest.raises(SwapError, match="auto:E needs|the depth multiplier must be") as raised:
        parse_depth_multiplier(text)
    assert raised.value.field == "depth_multiplier"
    assert cli_wording(raised.value).startswith("--depth-multiplier: ")
    assert parse_depth_multiplier("auto:0.9") == AutoDepth(0.9)


def test_synthetic_data_is_the_data_free_baseline(digits: dict[str, Any]) -> None:
    """synthetic:N: Gaussian inputs at the input shape; agreement and output error, no accuracy."""
    model = trained(digits)
    data = load_data("synthetic:64", input_shape=(1, 1, 8, 8))
    fidelity = measure_fidelity(model, swap_convs(model, "all").model, data)
    assert fidelity.evaluated == 64
    assert fidelity.original_accuracy is None and fidelity.agreement is not None
    assert math.isfinite(fidelity.output_error) and fidelity.output_error > 0


def test_swap_recover_then_fidelity_from_the_cli(
    capsys: pytest.CaptureFixture[str], digits: dict[str, Any], tmp_path: Path
) -> None:
    """swap --data --recover reconstruct --out DIR, then fidelity --swapped DIR: same numbers."""
    out = tmp_path / "swapped"
    code, _out, err = run_cli(
        capsys,
        "swap",
        digits["source"],
        "--weights",
        str(digits["weights"]),
        "--swap",
        "all",
        "--data",
        str(digits["data"]),
        "--holdout",
        "500",
        "--out",
        str(out),
    )
    assert code == 0, err
    assert sorted(path.name for path in out.iterdir()) == [
        "fidelity.json",
        "plan.json",
        "swapped.pt",
    ]
    written = json.loads((out / "fidelity.json").read_text())
    assert [stage["stage"] for stage in written["stages"]] == ["svd", "reconstruct"]
    code, printed, err = run_cli(
        capsys,
        "fidelity",
        digits["source"],
        "--weights",
        str(digits["weights"]),
        "--swapped",
        str(out),
        "--data",
        str(digits["test"]),
        "--json",
    )
    assert code == 0, err
    measured = json.loads(printed)
    final = written["stages"][-1]
    assert measured["evaluated"] == 500
    assert measured["swapped"]["accuracy"] == pytest.approx(final["swapped"]["accuracy"])
    assert measured["swapped"]["output_error"] == pytest.approx(
        final["swapped"]["output_error"], rel=1e-4
    )
    assert [layer["name"] for layer in measured["layers"]] == [
        layer["name"] for layer in final["layers"]
    ]


def test_fidelity_on_an_image_folder_matches_the_tensors(
    capsys: pytest.CaptureFixture[str], digits: dict[str, Any], tmp_path: Path
) -> None:
    """The test digits as PNGs in class folders: ImageFolder labels, --mean/--std, same accuracy."""
    from PIL import Image

    test = torch.load(digits["test"])
    mean, std = digits["figures"]["mean"], digits["figures"]["std"]
    pixels = ((test["inputs"] * std + mean) * 255).round().clamp(0, 255).to(torch.uint8)
    for index, (image, label) in enumerate(zip(pixels[:60], test["labels"][:60], strict=True)):
        folder = tmp_path / "images" / f"class_{int(label)}"
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image[0].numpy(), mode="L").save(folder / f"{index:03}.png")
    arguments = [
        "fidelity",
        digits["source"],
        "--weights",
        str(digits["weights"]),
        "--swap",
        "all",
        "--input-shape",
        "1,1,8,8",
        "--json",
    ]
    code, printed, err = run_cli(
        capsys,
        *arguments,
        "--data",
        str(tmp_path / "images"),
        "--mean",
        str(mean),
        "--std",
        str(std),
    )
    assert code == 0, err
    from_images = json.loads(printed)
    assert from_images["evaluated"] == 60
    # Every class present is a folder named class_D, so ImageFolder's labels are the digits only
    # when all ten classes appear; compare the original's accuracy to its agreement instead.
    assert from_images["original"]["accuracy"] is not None


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--data", "synthetic:0"], "synthetic:N"),
        (["--data", "nowhere/at/all"], "--data"),
        (["--data", "synthetic:8", "--calibration", "0"], "--calibration"),
        (["--recover", "distill"], "--recover needs --data"),
        (["--calibration", "5"], "--calibration needs --data"),
        (["--data", "synthetic:8", "--depth-multiplier", "auto:2"], "auto:E"),
        (["--data", "synthetic:8", "--holdout", "8"], "smaller validation/test splits"),
        (["--data", "synthetic:8", "--test", "0"], "--test: the test split must be a count"),
        (["--data", "synthetic:8", "--device", "cuda"], "--device: CUDA is not available"),
        (["--device", "cuda"], "--device needs --data"),
        (["--data", "synthetic:8", "--patience", "3"], "--patience"),
    ],
)
def test_swap_bad_recovery_input_exits_2_and_writes_nothing(
    capsys: pytest.CaptureFixture[str],
    digits: dict[str, Any],
    tmp_path: Path,
    extra: list[str],
    message: str,
) -> None:
    """Each bad --data/recovery argument: exit 2, one line naming it, no DIR written."""
    out = tmp_path / "out"
    code, _out, err = run_cli(
        capsys,
        "swap",
        digits["source"],
        "--weights",
        str(digits["weights"]),
        "--swap",
        "all",
        "--out",
        str(out),
        *extra,
    )
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_a_new_m_error_and_auto_are_arithmetic_on_the_analysis(digits: dict[str, Any]) -> None:
    """With weights, each row carries its kept energies: m's error and auto:E without torch."""
    weights = str(digits["weights"])
    analysis = analyze_model(digits["source"], select="all", weights=weights)
    by_torch = analyze_model(
        digits["source"], select="all", depth_multiplier="auto:0.9", weights=weights
    )
    assert analysis.auto_multipliers(0.9) == by_torch.multipliers
    at_two = analysis.with_depth_multipliers(2)
    by_torch_two = analyze_model(
        digits["source"], select="all", depth_multiplier=2, weights=weights
    )
    for layer, expected in zip(at_two.candidates, by_torch_two.candidates, strict=True):
        assert layer.weight_error == pytest.approx(expected.weight_error, rel=1e-9)
        assert layer.separable == expected.separable
    with pytest.raises(SwapError, match="weights"):
        analyze_model(digits["source"], select="all").auto_multipliers(0.9)
