"""Shared test settings, the CLI runners, and the digits CNN trained once per session.

Test modules import the runners as ``from conftest import run_cli`` (pytest puts tests/ on
sys.path, as it does for app_states and key_bursts).
"""

import importlib.util
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from sepconv_tui.cli import main

# The first PyTorch measurement imports torch (seconds); don't let hypothesis call that a flake.
settings.register_profile("sepconv", deadline=None, max_examples=60)
settings.load_profile("sepconv")


def run_cli(capsys: pytest.CaptureFixture[str], *arguments: str) -> tuple[int, str, str]:
    """Run ``sepconv-tui ARGUMENTS`` in this process: (exit code, stdout, stderr)."""
    try:
        code = main(list(arguments))
    except SystemExit as exit_:  # argparse's own errors
        code = int(exit_.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def run_cli_process(*arguments: str) -> subprocess.CompletedProcess[str]:
    """Run ``python -m sepconv_tui ARGUMENTS`` in a process of its own (a real pipe for stdout)."""
    return subprocess.run(
        [sys.executable, "-m", "sepconv_tui", *arguments],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="session", autouse=True)
def temporary_cache(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The user's cache directory (where the roofline limits are kept) is a temporary one:
    measured once per session, never written to the home of whoever runs the tests."""
    import os

    before = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("cache"))
    yield
    if before is None:
        os.environ.pop("XDG_CACHE_HOME", None)
    else:
        os.environ["XDG_CACHE_HOME"] = before


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every ONNX test (marked ``deploy``) is ``slow`` too, so ``make test-fast`` skips it."""
    for item in items:
        if item.get_closest_marker("deploy") is not None:
            item.add_marker(pytest.mark.slow)


DIGITS_EXAMPLE = Path(__file__).parent.parent / "examples" / "digits"
#: SOURCE of the digits CNN, as a user types it.
DIGITS_SOURCE = f"{DIGITS_EXAMPLE / 'model.py'}:build"


@pytest.fixture(scope="session")
def digits(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The digits CNN trained once per session (seeded): its folder, files and figures."""
    spec = importlib.util.spec_from_file_location("digits_make", DIGITS_EXAMPLE / "make.py")
    assert spec is not None and spec.loader is not None
    make = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make)
    folder = tmp_path_factory.mktemp("digits")
    figures = make.make(folder)
    return {
        "dir": folder,
        "source": DIGITS_SOURCE,
        "weights": folder / "digits.pt",
        "data": folder / "data.pt",
        "test": folder / "test.pt",
        "figures": figures,
    }


@pytest.fixture(autouse=True)
def _sensitivity_cache(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sensitivity tables are kept under $XDG_CACHE_HOME: a folder of the test session's own,
    not the user's ~/.cache (and child processes inherit it)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.getbasetemp() / "cache"))
