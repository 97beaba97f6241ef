"""Errors worded once: the engine's messages name no CLI flag; the CLI puts the flag in front."""

from __future__ import annotations

import argparse
import ast
import re
from collections.abc import Callable
from pathlib import Path

import pytest

import sepconv_tui
from sepconv_tui.cli import build_parser
from sepconv_tui.cli.common import ARGUMENT_NAMES, cli_wording
from sepconv_tui.core.latency import check_device
from sepconv_tui.core.spec import parse_int_in_range
from sepconv_tui.errors import UserError
from sepconv_tui.model.describe.source import parse_input_shape, with_resolution
from sepconv_tui.model.measure.distributed import resolve_device
from sepconv_tui.model.measure.split import parse_split_size, plan_split
from sepconv_tui.model.vocabulary.analysis import parse_depth_multiplier, parse_selection
from sepconv_tui.model.vocabulary.runtimes import runtimes_for

PACKAGE = Path(sepconv_tui.__file__).resolve().parent
FLAG = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")


def cli_flags() -> set[str]:
    """Every --flag of every sepconv-tui command."""
    flags: set[str] = set()
    parsers = [build_parser()]
    while parsers:
        parser = parsers.pop()
        for action in parser._actions:
            flags.update(option for option in action.option_strings if option.startswith("--"))
            if isinstance(action, argparse._SubParsersAction):
                parsers.extend(action.choices.values())
    return flags


def engine_strings(path: Path) -> list[tuple[int, str]]:
    """(line, text) of every string literal in ``path`` but its docstrings (f-string parts too)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
        if id(node) not in docstrings
    ]


def test_the_engine_names_no_cli_flag() -> None:
    """No message, note or summary in model/ or core/ names a flag: the app shows them as they
    are, and the CLI adds the flag from the error's field."""
    flags = cli_flags()
    assert {"--data", "--input-shape", "--swap", "--device", "--calibration"} <= flags
    assert len(list((PACKAGE / "model").rglob("*.py"))) > 20
    found = [
        f"{path.relative_to(PACKAGE.parent)}:{line}: {text!r}"
        for folder in ("model", "core")
        for path in sorted((PACKAGE / folder).rglob("*.py"))
        for line, text in engine_strings(path)
        if any(flag in flags for flag in FLAG.findall(text))
    ]
    assert found == []


def engine_fields(path: Path) -> list[tuple[int, str]]:
    """(line, name) of every literal ``field="…"`` and ``default_field = "…"`` in ``path``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        named = (isinstance(node, ast.keyword) and node.arg == "field") or (
            isinstance(node, ast.Assign)
            and any(
                isinstance(target, ast.Name) and target.id == "default_field"
                for target in node.targets
            )
        )
        value = getattr(node, "value", None) if named else None
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            found.append((getattr(node, "lineno", 0), value.value))
    return found


def test_every_field_the_engine_names_is_a_cli_argument() -> None:
    """The flag cli_wording puts in front exists: each field an engine error names is a flag's
    name (or one the CLI words itself, like SOURCE)."""
    flags = cli_flags()
    # LayerSpec.bias comes wrong only through the API or JSON: the CLI's --no-bias is a switch.
    api_only = {"bias"}
    named = {
        field
        for folder in ("model", "core")
        for path in (PACKAGE / folder).rglob("*.py")
        for _line, field in engine_fields(path)
    }
    assert {"data", "input_shape", "swap", "device", "weights"} <= named
    unknown = [
        f"{path.relative_to(PACKAGE.parent)}:{line}: {field}"
        for folder in ("model", "core")
        for path in sorted((PACKAGE / folder).rglob("*.py"))
        for line, field in engine_fields(path)
        if field not in api_only
        and ARGUMENT_NAMES.get(field, "--" + field.replace("_", "-")) not in flags | {None}
    ]
    assert unknown == []


@pytest.mark.parametrize(
    ("raise_it", "flag", "words"),
    [
        (lambda: parse_input_shape("1,3"), "--input-shape", "must be 3 to 5 whole numbers"),
        (lambda: parse_input_shape("1,3,0,8"), "--input-shape", "H must be 1–65,536"),
        (lambda: with_resolution((1, 3, 8, 8), 0), "--resolution", "the resolution must be"),
        (lambda: parse_selection("max:3"), "--swap", "the layers to swap must be saving"),
        (lambda: parse_selection("top:0"), "--swap", "top:N needs a whole number N ≥ 1"),
        (lambda: parse_depth_multiplier("auto:2"), "--depth-multiplier", "auto:E needs"),
        (lambda: parse_split_size("0", "test"), "--test", "the test split must be a count"),
        (
            lambda: plan_split(2, calibration=8),
            "--data",
            "the data has 2 samples, too few for three splits",
        ),
        (lambda: resolve_device("tpu"), "--device", "the device must be one of"),
        (lambda: check_device("tpu"), "--device", "the device must be one of"),
        (lambda: runtimes_for("java", False), "--runtime", "the runtime must be one of"),
        (
            lambda: parse_int_in_range(0, 1, field="steps", what="the number of steps"),
            "--steps",
            "the number of steps must be an integer ≥ 1, got 0",
        ),
    ],
)
def test_the_cli_leads_with_the_flag_the_field_names(
    raise_it: Callable[[], object], flag: str, words: str
) -> None:
    """A sample of engine errors: the message starts with the fault, in words; the CLI's line
    with the flag its field names, then the same words."""
    with pytest.raises(UserError) as raised:
        raise_it()
    message = str(raised.value)
    assert message.startswith(words.split(" ")[0]) and words in message
    assert not FLAG.search(message) and "\n" not in message
    assert cli_wording(raised.value) == f"{flag}: {message}"


def test_the_one_integer_parser_takes_engine_values_too() -> None:
    """Ints pass as they are; bools, floats and text that is no integer are refused."""
    assert parse_int_in_range(3, 1) == 3 and parse_int_in_range("12", 1, 64) == 12
    for bad in (True, 2.5, "2.5", "x", 0, "65"):
        with pytest.raises(UserError, match="must be an integer"):
            parse_int_in_range(bad, 1, 64, field="batch_size")  # type: ignore[arg-type]
