"""Every video classification model torchvision ships reproduces the figures torchvision publishes.

Their Conv3d layers go through the same closed form as the image models' Conv2d layers, over three
spatial axes: ``get_model_weights(name).DEFAULT.meta`` publishes ``num_params`` and ``_ops``
(GMACs of a 16-frame clip at the weights' crop, printed to three decimals), and
``analyze_model`` must give the same parameter count exactly and the same GMACs to that
precision, with the closed form and PyTorch agreeing layer by layer. The transformers (MViT,
Swin3D) build on meta too: their patch-embedding Conv3d is a candidate, their attention goes
through the "other ops" row.
"""

from __future__ import annotations

import pytest
from conftest import run_cli

pytestmark = pytest.mark.slow  # builds every torchvision model

torchvision = pytest.importorskip("torchvision")

NAMES = torchvision.models.list_models(module=torchvision.models.video)


@pytest.mark.parametrize("name", NAMES)
def test_published_figures(name: str) -> None:
    """Params exactly and GMACs to the printed precision, on a 16-frame clip at the crop."""
    from sepconv_tui import analyze_model

    weights = torchvision.models.get_model_weights(name).DEFAULT
    crop = weights.transforms().crop_size
    analysis = analyze_model(f"torchvision:{name}", select="none")
    assert analysis.input_shape == (1, 3, 16, *crop)
    assert analysis.original.params == weights.meta["num_params"]
    assert f"{analysis.original.macs / 1e9:.3f}" == f"{weights.meta['_ops']:.3f}"
    assert analysis.verified == {"params": True, "macs": True, "shapes": True}, analysis.notes
    assert analysis.device == "meta"
    assert analysis.candidates, "every video model has a Conv3d with a kernel larger than 1"
    assert all(len(layer.kernel_size or ()) == 3 for layer in analysis.candidates)


def test_the_video_zoo_is_complete() -> None:
    """The CNNs the issue names are all there, at the crops their weights publish."""
    for name in ("r3d_18", "mc3_18", "r2plus1d_18", "s3d"):
        assert name in NAMES
    assert torchvision.models.get_model_weights("s3d").DEFAULT.transforms().crop_size == [224, 224]


def test_r3d_18_from_the_cli(capsys: pytest.CaptureFixture[str]) -> None:
    """`sepconv-tui model torchvision:r3d_18` prints the published totals, 3-D kernels, the swap."""
    meta = torchvision.models.get_model_weights("r3d_18").DEFAULT.meta
    code, out, err = run_cli(capsys, "model", "torchvision:r3d_18")
    assert code == 0, err
    text = " ".join(out.split())
    assert f"Params: {meta['num_params']:,} (33.37M) →" in text
    assert "MACs: 40,696,553,472 (40.70G) →" in text  # torchvision's 40.697 GFLOPS
    assert "3×7×7 s1×2×2" in text  # the stem, striding H and W only
    assert "3×3×3 s2" in text and "1×1×1 s2" in text
    assert "Swapped 17 of 17 candidate convs" in text
    assert "✔ Closed form and PyTorch" in text
    assert "(1, 3, 16, 112, 112)" in text


def test_a_clip_of_other_frames_and_the_json(capsys: pytest.CaptureFixture[str]) -> None:
    """--input-shape takes five numbers; the JSON keeps every kernel's three axes."""
    import json

    code, out, err = run_cli(
        capsys, "model", "torchvision:r2plus1d_18", "--input-shape", "2,3,8,64,64", "--json"
    )
    assert code == 0, err
    analysis = json.loads(out)
    assert analysis["input_shape"] == [2, 3, 8, 64, 64]
    stem = analysis["layers"][0]
    assert stem["kernel_size"] == [1, 7, 7] and stem["input_shape"] == [2, 3, 8, 64, 64]
    assert analysis["verified"] == {"params": True, "macs": True, "shapes": True}


@pytest.mark.parametrize(
    ("source", "shape", "message"),
    [
        (
            "torchvision:r3d_18",
            "1,3,112,112",
            "--input-shape: (1, 3, 112, 112) has 4 numbers, but stem.0 is a Conv3d, which takes "
            "N×C×D×H×W inputs (5 numbers",
        ),
        (
            "torchvision:resnet18",
            "1,3,16,112,112",
            "--input-shape: (1, 3, 16, 112, 112) has 5 numbers, but conv1 is a Conv2d",
        ),
        ("torchvision:r3d_18", "1,3,16,112,112,2", "--input-shape: must be 3 to 5 whole numbers"),
        ("torchvision:r3d_18", "1,3,0,112,112", "--input-shape: D must be 1–65,536"),
    ],
)
def test_a_shape_of_the_wrong_rank_exits_2(
    capsys: pytest.CaptureFixture[str], source: str, shape: str, message: str
) -> None:
    """A 4-number shape for a 3-D model (and the reverse): exit 2, one line naming the flag."""
    code, out, err = run_cli(capsys, "model", source, "--input-shape", shape)
    assert code == 2 and out == ""
    assert message in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
