"""Every classification model torchvision ships reproduces the figures torchvision publishes.

For each model, ``get_model_weights(name).DEFAULT.meta`` publishes ``num_params`` and ``_ops``
(GMACs at the weights' crop size, printed to three decimals). ``analyze_model`` must give the
same parameter count exactly and the same GMACs to that precision, with the closed form and
PyTorch agreeing layer by layer. All of them are tested, the transformers (ViT, Swin, MaxViT)
included: their patch-embedding and MBConv convs go through the closed form, their attention
matmuls through the "other ops" row, and the published totals cover both.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow  # builds every torchvision model

torchvision = pytest.importorskip("torchvision")

NAMES = torchvision.models.list_models(module=torchvision.models)


@pytest.mark.parametrize("name", NAMES)
def test_published_figures(name: str) -> None:
    """Params exactly and GMACs to the printed precision, at the default weights' crop size."""
    from sepconv_tui import analyze_model

    meta = torchvision.models.get_model_weights(name).DEFAULT.meta
    analysis = analyze_model(f"torchvision:{name}", select="none")
    assert analysis.original.params == meta["num_params"]
    assert f"{analysis.original.macs / 1e9:.3f}" == f"{meta['_ops']:.3f}"
    assert analysis.verified == {"params": True, "macs": True, "shapes": True}, analysis.notes
    assert analysis.device == "meta"


def test_the_zoo_is_complete() -> None:
    """No model is skipped silently: the list holds the CNN families people swap in."""
    for family in ("resnet50", "efficientnet_b0", "inception_v3", "regnet_y_128gf", "vgg16"):
        assert family in NAMES
    assert len(NAMES) >= 80
