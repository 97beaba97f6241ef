"""The headless CLI through a subprocess: output, formats and exit codes 0 / 1 / 2."""

from __future__ import annotations

import json

import pytest
from conftest import run_cli_process


def test_default_compare_shows_the_reference_experiment() -> None:
    """Exit 0 and the reference figures in the Rich tables."""
    result = run_cli_process("compare")
    assert result.returncode == 0, result.stderr
    for figure in ("448", "94", "4.77", "(1, 16, 32, 32)", "Shapes match"):
        assert figure in result.stdout


def test_separable_padding_zero_is_a_mismatch_with_exit_1() -> None:
    """--sep-padding 0 gives the red verdict, saying which axes differ."""
    result = run_cli_process("compare", "--sep-padding", "0")
    assert result.returncode == 1
    assert "mismatch" in result.stdout and "height differs" in result.stdout


def test_json_output_and_mismatch_reason_on_stderr() -> None:
    """--json parses; a mismatch also prints the verdict on stderr."""
    result = run_cli_process("compare", "--json", "--sep-stride", "2")
    assert result.returncode == 1
    document = json.loads(result.stdout)
    assert document["shapes_match"] is False
    assert document["separable"]["output_shape"] == [1, 16, 16, 16]
    assert "mismatch" in result.stderr


def test_every_flag_reaches_the_spec() -> None:
    """Each layer flag lands in the JSON spec."""
    result = run_cli_process(
        "compare", "--json", "--in-channels", "8", "--out-channels", "24", "--kernel-size", "5",
        "--stride", "2", "--padding", "2", "--dilation", "1", "--depth-multiplier", "2",
        "--no-bias", "--batch", "4", "--height", "20", "--width", "30",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["spec"] | {
        "in_channels": 8, "out_channels": 24, "kernel_size": 5, "stride": 2, "padding": 2,
        "dilation": 1, "depth_multiplier": 2, "bias": False, "batch": 4, "height": 20, "width": 30,
    } == document["spec"]  # fmt: skip
    assert document["standard"]["output_shape"] == [4, 24, 10, 15]
    assert document["verified"] == {"params": True, "shapes": True, "macs": True}


@pytest.mark.parametrize("flag", ["--markdown", "--csv"])
def test_other_formats(flag: str) -> None:
    """Markdown and CSV print the figures."""
    result = run_cli_process("compare", flag)
    assert result.returncode == 0
    assert "448" in result.stdout and "(1, 16, 32, 32)" in result.stdout


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (("--in-channels", "0"), "--in-channels: must be an integer from 1 to 1048576, got 0"),
        (("--height", "abc"), "--height: must be an integer from 1 to 65536, got 'abc'"),
        (("--kernel-size", "2000"), "--kernel-size: must be an integer from 1 to 1024"),
        (("--padding", "-1"), "--padding: must be an integer from 0 to 1024"),
        (("--json", "--csv"), "not allowed with argument"),
        (("--frobnicate",), "unrecognized arguments"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(arguments: tuple[str, ...], expected: str) -> None:
    """Bad arguments: exit 2, one line on stderr naming the argument and range, no traceback."""
    result = run_cli_process("compare", *arguments)
    assert result.returncode == 2
    assert expected in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_version() -> None:
    """--version prints the package version."""
    from sepconv_tui import __version__

    result = run_cli_process("--version")
    assert result.returncode == 0 and __version__ in result.stdout


@pytest.mark.parametrize(
    ("rank_flags", "output_shape"),
    [
        (("--dims", "1", "--length", "400"), "(1, 256, 392)"),
        (("--dims", "3", "--depth", "16"), "(1, 256, 8, 24, 24)"),
        ((), "(1, 256, 24, 24)"),
    ],
)
def test_compare_in_every_rank(rank_flags: tuple[str, ...], output_shape: str) -> None:
    """The issue's commands: both methods' figures and a verdict in 1-D, 2-D and 3-D."""
    channels = ("--in-channels", "256", "--out-channels", "256", "--kernel-size", "11")
    result = run_cli_process("compare", *channels, *rank_flags)
    assert result.returncode == 0, result.stderr
    dims = rank_flags[1] if rank_flags else "2"
    text = " ".join(result.stdout.split())  # Rich wraps at the terminal's width
    assert f"Standard Conv{dims}d" in text
    assert "Shapes match: both " + output_shape in text
    assert "Closed form and PyTorch agree" in text
    assert {"1": "1/k)", "2": "1/k²)", "3": "1/k³)"}[dims] in text


def test_json_carries_the_rank() -> None:
    """JSON spec: dims, length and depth; a 3-D output shape has five axes."""
    result = run_cli_process(
        "compare", "--json", "--dims", "3", "--depth", "8", "--kernel-size", "3"
    )
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert (document["spec"]["dims"], document["spec"]["depth"]) == (3, 8)
    assert document["spec"]["length"] is None
    assert document["standard"]["output_shape"] == [1, 16, 8, 32, 32]
    assert document["verified"] == {"params": True, "shapes": True, "macs": True}


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (("compare", "--length", "400"), "--length"),
        (("compare", "--dims", "1", "--depth", "4"), "--depth"),
        (("compare", "--depth", "4"), "--depth"),
        (("compare", "--dims", "4"), "--dims"),
        (("compare", "--dims", "1", "--height", "20"), "--height"),
        (("compare", "--dims", "1", "--width", "32"), "--width"),
        (("sweep", "--over", "kernel_size", "--length", "9"), "--length"),
        (("bench", "--dims", "1", "--channels-last"), "channels-last"),
    ],
)
def test_rank_mismatches_exit_2_naming_the_argument(
    arguments: tuple[str, ...], expected: str
) -> None:
    """A size the rank has not, or a rank outside 1–3: exit 2, one line naming the flag."""
    result = run_cli_process(*arguments)
    assert result.returncode == 2
    assert expected in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_sweep_and_bench_run_in_1d_and_3d() -> None:
    """A kernel sweep of a 1-D layer is exact against k (not k²); bench times a 3-D layer."""
    result = run_cli_process(
        "sweep", "--over", "kernel_size", "--dims", "1", "--length", "64", "--json"
    )
    assert result.returncode == 0, result.stderr
    points = json.loads(result.stdout)
    points = points["points"] if isinstance(points, dict) else points
    for point in points:
        assert point["mac_ratio"] == pytest.approx(point["textbook_ratio"])
    seven = next(point for point in points if point["kernel_size"] == 7)
    assert seven["textbook_ratio"] == pytest.approx(1 / (1 / 16 + 1 / 7))
    bench = run_cli_process(
        "bench", "--dims", "3", "--depth", "4", "--height", "8", "--width", "8", "--json",
        "--min-run-time", "0.01",
    )  # fmt: skip
    assert bench.returncode == 0, bench.stderr
    document = json.loads(bench.stdout)
    assert document["spec"]["dims"] == 3 and document["speed_ratio"] > 0


def test_the_cli_leads_an_engine_message_with_the_argument_it_names() -> None:
    """The engine words a message for every front end (no flags); the CLI puts the argument
    before it; a message naming a flag already, SOURCE's and a field-less one stay as they are."""
    from sepconv_tui.cli.common import cli_wording
    from sepconv_tui.errors import UserError
    from sepconv_tui.model.measure.data_spec import DataError, parse_data

    with pytest.raises(DataError) as raised:
        parse_data("synthetic:0")
    assert "--" not in str(raised.value) and raised.value.field == "data"
    assert cli_wording(raised.value) == f"--data: {raised.value}"
    assert cli_wording(UserError("must be ≥ 1", field="batch_size")) == "--batch-size: must be ≥ 1"
    legacy = UserError("--weights 'x.pt' does not exist", field="weights")
    assert cli_wording(legacy) == str(legacy)
    assert cli_wording(UserError("SOURCE must be …", field="source")) == "SOURCE must be …"
    assert cli_wording(UserError("no field")) == "no field"


def test_each_stage_is_named_in_one_table_for_the_cli_and_the_tab() -> None:
    """One Progress, worded from one table: the CLI's bar title and the tab's progress row."""
    from sepconv_tui.progress import Progress
    from sepconv_tui.report.progress import STAGES, bar_title, progress_text

    measuring = Progress("measure", 3, 30, "reconstruct")
    assert bar_title(measuring) == "Measuring held-out fidelity (reconstruct)"
    assert progress_text(measuring) == "Measuring reconstruct: 3/30 samples"
    distilling = Progress("distill", 5, 300, "loss 0.25")
    assert bar_title(distilling) == STAGES["distill"][0]
    assert progress_text(distilling) == "Distilling: step 5/300 (loss 0.25)"
    assert (
        progress_text(Progress("rank", 1, 4, "conv1"))
        == "Ranking each layer alone: conv1 (1/4 layers)"
    )
