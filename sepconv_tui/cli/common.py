"""What every subcommand shares: exit codes, the one-line parser, argument types, output."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any, NoReturn

from ..core.spec import FIELD_BOUNDS, parse_int_in_range
from ..errors import UserError

EXIT_MATCH = 0
EXIT_MISMATCH = 1
EXIT_BAD_ARGUMENTS = 2


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line on stderr (no usage block) and exit 2."""

    def error(self, message: str) -> NoReturn:
        """Print ``prog: error: message`` and exit with the bad-arguments code."""
        self.exit(EXIT_BAD_ARGUMENTS, f"{self.prog}: error: {message}\n")


def bounded_int(field: str) -> Callable[[str], int]:
    """An argparse ``type`` accepting an integer within ``field``'s bounds."""

    low, high = FIELD_BOUNDS[field]
    parse = argument_type(lambda text: parse_int_in_range(text, low, high, field=field))

    parse.__name__ = field  # argparse names the type in some messages
    return parse


def add_format_arguments(parser: argparse.ArgumentParser) -> None:
    """--json / --markdown / --csv, mutually exclusive (default: Rich tables)."""
    formats = parser.add_mutually_exclusive_group()
    for name in ("json", "markdown", "csv"):
        formats.add_argument(
            f"--{name}",
            dest="format",
            action="store_const",
            const=name,
            help=f"print {name.upper() if name != 'markdown' else 'Markdown'} instead of tables",
        )


def argument_type(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    """An argparse ``type`` from a core parser whose ValueError names the accepted range."""

    def convert(text: str) -> Any:
        try:
            return parse(text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    return convert


def float_in_range(
    low: float, high: float, *, unit: str = "", low_open: bool = False
) -> Callable[[str], float]:
    """A parser of a number from ``low`` (excluded when ``low_open``) to ``high``; its
    ValueError says the range ("must be 0.001–60 seconds, got 'x'")."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = float("nan")
        inside = (low < value if low_open else low <= value) and value <= high
        if not inside:  # nan fails both comparisons
            accepted = f"> {low:g} and ≤ {high:g}" if low_open else f"{low:g}–{high:g}"
            raise ValueError(f"must be {accepted}{unit}, got {text!r}")
        return value

    return parse


def emit(output_format: str | None, **renderers: Callable[[], Any]) -> None:
    """Print with the renderer named by --json/--markdown/--csv, or the Rich one by default."""
    if output_format is None:
        from ..report.console import print_report

        print_report(renderers["rich"]())
        return
    text = str(renderers[output_format]())
    print(text, end="" if text.endswith("\n") else "\n")


def emit_report(output_format: str | None, report_module: Any, value: Any) -> None:
    """``emit`` with a report module's four renderers (to_json, to_markdown, to_csv, render)."""
    emit(
        output_format,
        json=lambda: report_module.to_json(value),
        markdown=lambda: report_module.to_markdown(value),
        csv=lambda: report_module.to_csv(value),
        rich=lambda: report_module.render(value),
    )


#: The CLI's name of each field an error can name, where it is not ``--field-name``; None:
#: the message names it already (SOURCE, the positional argument).
ARGUMENT_NAMES: dict[str, str | None] = {"source": None}


def cli_wording(error: UserError | str) -> str:
    """An error as the CLI says it: led by the argument at fault (``--data: …``), as the
    engine words its messages for every front end; one that names a flag already is as is."""
    text = str(error)
    if isinstance(error, str) or error.field is None:
        return text
    name = ARGUMENT_NAMES.get(error.field, "--" + error.field.replace("_", "-"))
    if name is None or text.startswith(("--", name)):
        return text
    return f"{name}: {text}"


def fail(command: str, error: UserError | str) -> int:
    """Print ``sepconv-tui COMMAND: error: …`` once on stderr; return the bad-arguments code."""
    print(f"sepconv-tui {command}: error: {cli_wording(error)}", file=sys.stderr)
    return EXIT_BAD_ARGUMENTS
