"""A runtime is one entry in the runtime table: a fake one, registered by a test, shows up in
``--runtime``, ``--help``, the labels, the Model tab's ``u``, and is timed in its own child."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from conftest import run_cli

from sepconv_tui.model.vocabulary.runtimes import (
    RUNTIME_TABLE,
    Precision,
    Runtime,
    RuntimeEntry,
    Stage,
    check_runtimes,
    runtime_choices,
    runtime_label,
    runtimes_for,
    runtimes_for_ranks,
)
from sepconv_tui.tui.model_session import ModelSession

FAKE = RuntimeEntry(
    name="fake",
    label="Fake RT",
    choice="fake",
    family="Fake Runtime",
    layout="NCHW",
    timer="fake_runtime:time_fake",
    exporter="sepconv_tui.model.deploy.timers:save_module",
    version="fake_runtime:fake_version",
    suffix=".pt",
    extra="fake",
)


@pytest.fixture
def fake_runtime(monkeypatch: pytest.MonkeyPatch) -> RuntimeEntry:
    """FAKE in the runtime table; its timer's module importable in the timing child."""
    monkeypatch.setitem(RUNTIME_TABLE, FAKE.name, FAKE)
    here = str(Path(__file__).parent)
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(filter(None, [here, os.environ.get("PYTHONPATH")]))
    )
    return FAKE


def test_the_enums_read_as_their_values() -> None:
    """Runtime, Precision and Stage format as their values (3.11 formats a mixed-in Enum by
    name otherwise), so JSON, labels and progress stay as they were."""
    assert f"{Runtime.EAGER}" == str(Runtime.EAGER) == "eager"
    assert json.dumps({Runtime.ONNXRUNTIME: Precision.FP32}) == '{"onnxruntime": "fp32"}'
    assert f"{Stage.TIME}" == "time" and Runtime.EAGER_CHANNELS_LAST == "eager_channels_last"
    assert list(RUNTIME_TABLE) == ["eager", "eager_channels_last", "onnxruntime", "openvino"]
    assert runtime_choices() == ("eager", "onnxruntime", "openvino", "all")


def test_the_table_decides_layouts_and_ranks() -> None:
    """eager with channels-last picks the channels-last entry; a 1-D model leaves it out of
    all with its note, and refuses it alone."""
    assert runtimes_for("eager", channels_last=True) == ("eager_channels_last",)
    assert runtimes_for("onnxruntime", channels_last=True) == ("onnxruntime",)
    kept, notes = runtimes_for_ranks(runtimes_for("all"), {1})
    assert kept == ("eager", "onnxruntime", "openvino")
    assert "eager channels-last not timed" in notes[0]
    with pytest.raises(Exception, match="not 1-D") as refused:
        runtimes_for_ranks(("eager_channels_last",), {1})
    assert refused.value.field == "channels_last"  # type: ignore[attr-defined]


def test_a_fake_runtime_is_in_the_choices_the_help_and_the_labels(
    fake_runtime: RuntimeEntry, capsys: pytest.CaptureFixture[str]
) -> None:
    """Registered, it is a --runtime choice of bench (and of speedup:X), named in --help, in
    "all", and labelled in tables."""
    assert runtime_choices() == ("eager", "onnxruntime", "openvino", "fake", "all")
    assert runtimes_for("all")[-1] == "fake" and runtime_label("fake") == "Fake RT"
    code, stdout, _ = run_cli(capsys, "bench", "--help")
    assert code == 0
    text = " ".join(stdout.split())
    assert "fake" in text and "Fake Runtime (the [fake] extra)" in text and "Fake RT" in text
    code, stdout, _ = run_cli(capsys, "model", "--help")
    assert code == 0 and "fake (Fake RT, the [fake] extra)" in " ".join(stdout.split())


def test_the_model_tab_u_cycles_to_a_fake_runtime(fake_runtime: RuntimeEntry) -> None:
    """``u`` (ModelSession.cycled_runtime) goes through every entry, the fake one last."""
    session = ModelSession()
    seen = [session.runtime] + [session.cycled_runtime() for _ in range(5)]
    assert seen == ["eager", "eager_channels_last", "onnxruntime", "openvino", "fake", "eager"]


def test_a_fake_runtime_is_timed_in_a_child_of_its_own(
    fake_runtime: RuntimeEntry, capsys: pytest.CaptureFixture[str]
) -> None:
    """bench --runtime fake for one layer: the table's exporter saves both sides, the child
    times them with the fake timer, and the JSON and the table carry it by name and label."""
    code, stdout, stderr = run_cli(
        capsys, "bench", "--in-channels", "8", "--runtime", "fake", "--threads", "1", "--json"
    )
    assert code == 0, stderr
    document = json.loads(stdout)
    entry = document["runtimes"]["fake"]
    assert entry["version"] == "fake 0.1" and entry["channels_last"] is False
    assert entry["standard"]["median_s"] > entry["separable"]["median_s"] > 0
    code, stdout, _ = run_cli(capsys, "bench", "--in-channels", "8", "--runtime", "fake")
    assert code == 0 and "Fake RT" in stdout


def test_a_runtime_says_what_it_needs_and_what_it_runs(
    fake_runtime: RuntimeEntry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A runtime whose packages are missing names its extra; one asked for a precision it
    does not run says which it runs."""
    monkeypatch.setitem(
        RUNTIME_TABLE, "fake", RuntimeEntry(**{**FAKE.__dict__, "packages": ("no_such_pkg",)})
    )
    with pytest.raises(
        Exception, match=r"Fake RT needs the no_such_pkg package: pip install 'sepconv-tui\[fake\]'"
    ):
        check_runtimes(("fake",), "cpu")
    monkeypatch.setitem(
        RUNTIME_TABLE, "fake", RuntimeEntry(**{**FAKE.__dict__, "precisions": ("bf16",)})
    )
    with pytest.raises(Exception, match="Fake RT runs bf16, not fp32"):
        check_runtimes(("fake",), "cpu")


@pytest.mark.parametrize("command", ["fidelity", "swap", "model"])
def test_a_bad_runtime_lists_the_names_as_typed(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """--runtime bogus names the choices as a user types them, never an enum's repr."""
    code, _out, err = run_cli(capsys, command, "torchvision:resnet18", "--runtime", "bogus")
    assert code == 2 and "'onnxruntime'" in err and "<Runtime" not in err
