"""Output written to a pipe or a file is never cut: every name and figure of a wide table whole.

Rich gives a console that is not a terminal 80 columns: ``bench --per-layer | tee log`` cropped
the last column mid-unit ("258 µ") and ``model … | cat`` folded layer names mid-word. Each
command runs in process with stdout captured (not a terminal); what it printed must hold every
word the same report holds when drawn 5,000 columns wide.
"""

from __future__ import annotations

import io
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from conftest import run_cli
from rich.console import Console
from rich.table import Table
from rich.text import Text

from sepconv_tui.report import console as report_console
from sepconv_tui.report.console import print_report

LONG_NAMES = f"{Path(__file__).parent / 'models' / 'long_names.py'}:build"
SHAPE = ("--input-shape", "1,3,16,16")
QUICK = ("--threads", "1", "--min-run-time", "0.01")
#: The longest layer name of LONG_NAMES: 81 characters, more than a pipe's 80 columns.
LONGEST = "encoder_backbone_feature_extraction_stage.second_spatial_convolution_downsampling"


def words(text: str) -> Counter[str]:
    """The words of ``text``, however it is wrapped or padded."""
    return Counter(text.split())


def wide(renderables: list[Any]) -> str:
    """The renderables drawn 5,000 columns wide: nothing can be cut there."""
    console = Console(file=io.StringIO(), width=5_000)
    for renderable in renderables:
        console.print(renderable)
    return console.file.getvalue()  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "arguments",
    [
        pytest.param(("model", LONG_NAMES, *SHAPE), id="model"),
        pytest.param(("swap", LONG_NAMES, *SHAPE, "--swap", "all", "--out", "{tmp}"), id="swap"),
        pytest.param(
            ("fidelity", LONG_NAMES, *SHAPE, "--swap", "all", "--data", "synthetic:32"),
            id="fidelity",
        ),
        pytest.param(
            ("bench", "--model", LONG_NAMES, *SHAPE, "--swap", "all", "--per-layer", *QUICK),
            id="bench-per-layer",
        ),
        pytest.param(("network", "xception"), id="network"),
    ],
)
def test_a_piped_table_keeps_every_name_and_figure(
    arguments: tuple[str, ...],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """Each word of the report (names, counts, times with their units) is in what was piped,
    and no line of it is a fragment of a longer name."""
    printed: list[Any] = []

    def spy(renderable: Any, console: Console | None = None) -> None:
        printed.append(renderable)
        print_report(renderable, console)

    monkeypatch.setattr(report_console, "print_report", spy)
    code, out, err = run_cli(capsys, *(part.format(tmp=tmp_path) for part in arguments))
    assert code == 0, err
    assert printed, "the command printed no report"
    missing = words(wide(printed)) - words(out)
    assert not missing, f"cut or folded when piped: {sorted(missing)[:10]}"
    if arguments[0] != "network":
        assert LONGEST in out


def test_prose_keeps_the_reading_width_and_a_table_its_own() -> None:
    """Off a terminal a sentence wraps near the console's width, but not inside a word; a table
    wider than that is drawn whole."""
    table = Table("Layer", "Time")
    table.add_row("a." * 60 + "conv", "258 µs")
    sentence = Text("word " * 40 + LONGEST)
    file = io.StringIO()
    print_report(table, Console(file=file, width=80))
    print_report(sentence, Console(file=file, width=80))
    lines = file.getvalue().splitlines()
    assert any("a." * 60 + "conv" in line and "258 µs" in line for line in lines)
    assert LONGEST in [line.strip() for line in lines]  # wider than 80, on a line of its own
    assert max(len(line.rstrip()) for line in lines if "word" in line) <= len(LONGEST)
