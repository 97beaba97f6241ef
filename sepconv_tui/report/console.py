"""Print a report: at a terminal's width, or, piped or redirected, each table whole.

Rich gives a console that is not a terminal 80 columns, so a wide table written to a pipe or a
file lost its last column's digits ("258 µ") or folded its names ("layer2.0.downs" / "ample.0").
There, each table takes the width its content needs; prose keeps the reading width, and no
word (a layer name) is folded.
"""

from __future__ import annotations

from typing import Any

from rich.cells import cell_len
from rich.console import Console, Group
from rich.measure import Measurement
from rich.text import Text

#: The widest a measurement may ask for; a renderable that asks this much fills any width
#: it is given (a rule, an expanding panel) and gets the reading width instead.
MEASURE_LIMIT = 100_000


def parts(renderable: Any) -> list[Any]:
    """A Group's renderables, flattened; anything else alone."""
    if isinstance(renderable, Group):
        return [part for child in renderable.renderables for part in parts(child)]
    return [renderable]


def content_width(console: Console, renderable: Any) -> int:
    """The columns ``renderable`` needs to show every cell whole (its widest line unwrapped)."""
    options = console.options.update_width(MEASURE_LIMIT)
    return Measurement.get(console, options, renderable).maximum


def longest_word(text: str | Text) -> int:
    """The cells of the longest word of ``text`` (a layer name in a sentence)."""
    return max((cell_len(word) for word in str(text).split()), default=0)


def part_width(console: Console, part: Any, reading: int) -> int:
    """The width to print ``part`` at, off a terminal: prose at ``reading`` (wider only for a
    word longer than that, which would be folded), a table whole."""
    if isinstance(part, (str, Text)):
        return max(reading, longest_word(part))
    needed = content_width(console, part)
    return reading if needed >= MEASURE_LIMIT else max(reading, needed)


def print_report(renderable: Any, console: Console | None = None) -> None:
    """Print ``renderable`` on ``console`` (stdout's by default), no table cut when piped."""
    console = console if console is not None else Console()
    if console.is_terminal:
        console.print(renderable)
        return
    reading = console.width
    try:
        for part in parts(renderable):
            console.width = part_width(console, part, reading)
            console.print(part)
    finally:
        console.width = reading
