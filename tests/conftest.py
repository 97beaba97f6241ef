"""Shared test settings, and the digits CNN trained once per session."""

import importlib.util
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

# The first PyTorch measurement imports torch (seconds); don't let hypothesis call that a flake.
settings.register_profile("sepconv", deadline=None, max_examples=60)
settings.load_profile("sepconv")

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
