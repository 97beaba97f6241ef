"""Whole networks: MobileNetV1 against the paper's published tables, and the two methods."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from sepconv_tui.core.measure import verify_network
from sepconv_tui.core.networks import network_report


def test_mobilenet_v1_matches_table_4() -> None:
    """Howard et al. 2017, Table 4: Conv MobileNet 29.3M / 4866M; MobileNet 4.2M / 569M."""
    report = network_report("mobilenet_v1")
    assert round(report.standard.params / 1e6, 1) == 29.3
    assert report.standard.macs / 1e6 == pytest.approx(4866, rel=1e-3)
    assert round(report.separable.params / 1e6, 1) == 4.2
    assert round(report.separable.macs / 1e6) == 569


@pytest.mark.parametrize(
    ("width_multiplier", "million_params", "million_macs"),
    [(1.0, 4.2, 569), (0.75, 2.6, 325), (0.5, 1.3, 149), (0.25, 0.5, 41)],
)
def test_width_multiplier_matches_table_6(
    width_multiplier: float, million_params: float, million_macs: int
) -> None:
    """Table 6: α thins every layer, the classifier's input included."""
    report = network_report("mobilenet_v1", width_multiplier=width_multiplier)
    assert round(report.separable.params / 1e6, 1) == million_params
    assert round(report.separable.macs / 1e6) == million_macs


@pytest.mark.parametrize(
    ("resolution", "million_macs"), [(224, 569), (192, 418), (160, 290), (128, 186)]
)
def test_resolution_matches_table_7(resolution: int, million_macs: int) -> None:
    """Table 7: the resolution scales the MACs, not the parameters (4.2M throughout)."""
    report = network_report("mobilenet_v1", resolution=resolution)
    assert report.separable.macs / 1e6 == pytest.approx(million_macs, abs=1)
    assert round(report.separable.params / 1e6, 1) == 4.2


def test_thirteenth_depthwise_layer_has_stride_1() -> None:
    """The 7×7 map survives to the pool: the last block's input and output are 7×7."""
    rows = network_report("mobilenet_v1").rows
    assert rows[-2].input_shape == (1, 1024, 7, 7)
    assert rows[-2].output_shape == (1, 1024, 7, 7)


@pytest.mark.parametrize(("width_multiplier", "resolution"), [(1.0, 224), (0.5, 160)])
def test_closed_form_equals_pytorch(width_multiplier: float, resolution: int) -> None:
    """Every block's params, MACs and output shape agree with a meta-device PyTorch model."""
    report = verify_network(network_report("mobilenet_v1", width_multiplier, resolution))
    assert report.verified == {"params": True, "macs": True, "shapes": True}


def test_cli_json_layers_sum_to_the_totals() -> None:
    """`sepconv-tui network mobilenet_v1 --json`: per-layer sums equal the totals."""
    result = subprocess.run(
        [sys.executable, "-m", "sepconv_tui", "network", "mobilenet_v1", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    for variant in ("standard", "separable"):
        for figure in ("params", "macs"):
            layer_sum = sum(layer[f"{variant}_{figure}"] for layer in document["layers"])
            assert layer_sum == document[variant][figure]
    assert document["verified"] == {"params": True, "macs": True, "shapes": True}
    assert len(document["layers"]) == 15


@pytest.mark.parametrize(
    "arguments",
    [
        ("resnet50",),
        ("mobilenet_v1", "--width-multiplier", "0"),
        ("mobilenet_v1", "--resolution", "8"),
    ],
)
def test_cli_bad_arguments_exit_2(arguments: tuple[str, ...]) -> None:
    """Unknown networks and out-of-range α or resolution: exit 2, one line."""
    result = subprocess.run(
        [sys.executable, "-m", "sepconv_tui", "network", *arguments],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1


def test_xception_matches_table_3_exactly() -> None:
    """Chollet 2017, Table 3: Xception has 22,855,952 parameters (BN's γ and β included)."""
    report = network_report("xception")
    assert report.resolution == 299
    assert report.separable.params == 22_855_952
    assert report.rows[-2].output_shape == (1, 2048, 10, 10)  # the exit flow's last map


def test_xception_shortcuts_meet_their_pools() -> None:
    """Each 1×1/s2 shortcut's output has the pooled main path's shape, so the add is valid."""
    rows = network_report("xception").rows
    for index, row in enumerate(rows):
        if "shortcut" in row.name:
            assert rows[index - 1].name.endswith("maxpool 3×3/s2")
            assert row.output_shape == rows[index - 1].output_shape


def test_xception_closed_form_equals_pytorch() -> None:
    """Every row of Xception (pools and shortcuts included) agrees with PyTorch on meta."""
    report = verify_network(network_report("xception"))
    assert report.verified == {"params": True, "macs": True, "shapes": True}


def test_width_multiplier_is_refused_where_the_paper_does_not_define_it() -> None:
    """Xception has no α: the CLI says so in one line and exits 2."""
    result = subprocess.run(
        [sys.executable, "-m", "sepconv_tui", "network", "xception", "--width-multiplier", "0.5"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "defined for mobilenet_v1 only" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_half_width_at_160_matches_the_papers_smallest_listing() -> None:
    """Howard et al. 2017, Table 8 (0.50 MobileNet-160): 76M mult-adds, 1.32M parameters."""
    report = network_report("mobilenet_v1", 0.5, 160)
    assert report.separable.macs / 1e6 == pytest.approx(76, abs=1)  # 76.52M, printed as 76
    # 1,331,592 with batch norm's 10,944 parameters; 1,320,648 (1.32M) without them.
    assert report.separable.params / 1e6 == pytest.approx(1.32, abs=0.015)


@pytest.mark.parametrize(
    ("name", "million_params", "exact_params"),
    [
        ("quartznet5x5", 6.7, 6_713_181),
        ("quartznet10x5", 12.8, 12_818_781),
        ("quartznet15x5", 18.9, 18_924_381),
    ],
)
def test_quartznet_matches_the_papers_parameters(
    name: str, million_params: float, exact_params: int
) -> None:
    """Kriman et al. 2020: QuartzNet 5x5, 10x5 and 15x5 have 6.7M, 12.8M and 18.9M parameters."""
    report = network_report(name)
    assert round(report.separable.params / 1e6, 1) == million_params
    assert report.separable.params == exact_params  # the docstring's assumptions, pinned
    # Every time-channel separable conv made a full Conv1d: far larger (the Jasper-style net).
    assert report.standard.params > 40 * report.separable.params


def test_quartznet_structure_follows_table_1() -> None:
    """64 mel features in, C1 halves the time, B1…B5 keep it, 29 labels out; 5 convs per block."""
    rows = network_report("quartznet15x5", resolution=1000).rows
    assert rows[0].input_shape == (1, 64, 1000)
    assert rows[0].output_shape == (1, 256, 500)
    assert rows[-1].output_shape == (1, 29, 500)
    assert sum("residual" in row.name for row in rows) == 15
    assert sum(" sep" in row.name and row.name.startswith("B") for row in rows) == 75
    b3_first = next(row for row in rows if row.name.startswith("B3.1 sep1"))
    assert b3_first.input_shape == (1, 256, 500) and b3_first.output_shape == (1, 512, 500)


@pytest.mark.parametrize("name", ["quartznet5x5", "quartznet10x5"])
def test_quartznet_closed_form_equals_pytorch(name: str) -> None:
    """Every row of QuartzNet, both variants, agrees with Conv1d modules on the meta device."""
    report = verify_network(network_report(name, resolution=256))
    assert report.verified == {"params": True, "macs": True, "shapes": True}


def test_cli_quartznet_json_and_refused_width_multiplier() -> None:
    """`network quartznet5x5 --json` is 1-D; α is refused in one line with exit 2."""
    command = [sys.executable, "-m", "sepconv_tui", "network", "quartznet5x5"]
    result = subprocess.run([*command, "--json"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["separable"]["params"] == 6_713_181
    assert document["layers"][0]["input_shape"] == [1, 64, 1000]
    refused = subprocess.run(
        [*command, "--width-multiplier", "0.5"], capture_output=True, text=True, timeout=60
    )
    assert refused.returncode == 2
    assert "use 1 for quartznet5x5" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1


def test_quartznet_presets_are_rows_of_the_network() -> None:
    """The 1-D presets are QuartzNet 15x5's B3 and C2 separable convs, figure for figure."""
    from sepconv_tui.core.compare import compare
    from sepconv_tui.core.presets import PRESETS_BY_KEY

    rows = {row.name: row for row in network_report("quartznet15x5").rows}
    for key, row_name in (
        ("quartznet_b3", "B3.2 sep3 k51 512→512"),
        ("quartznet_c2", "C2 sep k87 d2"),
    ):
        comparison = compare(PRESETS_BY_KEY[key].spec, method="analytic")
        row = rows[row_name]
        # The network's rows count batch norm (2 per output channel); the layer has no bias.
        assert comparison.separable.params + 2 * 512 == row.separable_params
        assert comparison.standard.params + 2 * 512 == row.standard_params
        assert (comparison.separable.macs, comparison.standard.macs) == (
            row.separable_macs,
            row.standard_macs,
        )
        assert comparison.separable.output_shape == row.output_shape
