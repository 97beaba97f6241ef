"""README.md and docs/: every relative link and image resolves, and every flag of every
``sepconv-tui …`` command line is one that its subcommand's ``--help`` lists."""

from __future__ import annotations

import argparse
import re
from functools import cache
from pathlib import Path

import pytest

from sepconv_tui.cli import build_parser

ROOT = Path(__file__).parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
#: The front page stays a front page.
README_MAX_LINES = 250

LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#{1,6} (.+)$", re.M)
FENCE = re.compile(r"^[ \t]*```[^\n]*\n(.*?)^[ \t]*```", re.M | re.S)
INLINE_CODE = re.compile(r"`([^`]+)`")
#: ``sepconv-tui`` or ``-m sepconv_tui`` (under torchrun), then the rest of the command.
COMMAND = re.compile(r"(?:^|[\s$])(?:sepconv-tui|-m sepconv_tui)((?:\s[^\n]*)?)$")
FLAG = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")


def page_id(page: Path) -> str:
    """The page's path from the repository root, for test ids."""
    return str(page.relative_to(ROOT))


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"`", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    """The anchors of a page's headings (outside code blocks)."""
    text = FENCE.sub("", page.read_text())
    return {slug(heading) for heading in HEADING.findall(text)}


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_every_relative_link_and_image_resolves(page: Path) -> None:
    """A relative link names a file that exists, and its #anchor a heading of that file."""
    broken = []
    for target in LINK.findall(FENCE.sub("", page.read_text())):
        if re.match(r"[a-z]+:", target):  # https:, mailto:
            continue
        path_part, _, anchor = target.partition("#")
        resolved = (page.parent / path_part).resolve() if path_part else page
        if not resolved.exists() or (
            anchor and resolved.suffix == ".md" and anchor not in anchors(resolved)
        ):
            broken.append(target)
    assert not broken, f"{page_id(page)}: links that resolve to nothing: {broken}"


def test_the_readme_is_a_front_page() -> None:
    """At most 250 lines; it links every page of the guide."""
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= README_MAX_LINES
    for page in PAGES[1:]:
        if page.name != "README.md":
            assert f"docs/{page.name}" in text, f"README.md does not link docs/{page.name}"


def command_lines(page: Path) -> list[str]:
    """Every ``sepconv-tui …`` command written in ``page``: code-block lines (with their
    continuation lines joined) and inline code spans."""
    text = page.read_text()
    found = []
    for block in FENCE.findall(text):
        block = re.sub(r"\\\n\s*", " ", block)  # shell continuation
        block = re.sub(r"\n\s+(?=\[)", " ", block)  # a synopsis's [--flag …] lines
        for line in block.splitlines():
            found.append(line.split(" #")[0])  # a comment after a command
    prose = FENCE.sub("", text)
    found += [" ".join(span.split()) for span in INLINE_CODE.findall(prose)]
    return [line for line in found if COMMAND.search(line)]


@cache
def parsers() -> dict[str | None, argparse.ArgumentParser]:
    """The top-level parser (key None) and each subcommand's."""
    parser = build_parser()
    found: dict[str | None, argparse.ArgumentParser] = {None: parser}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            found.update(action.choices)
    return found


def flags_of(parser: argparse.ArgumentParser) -> set[str]:
    """Every option string ``--help`` lists for ``parser``."""
    return {option for action in parser._actions for option in action.option_strings}


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_every_flag_of_every_command_line_exists(page: Path) -> None:
    """Each ``--flag`` after ``sepconv-tui SUBCOMMAND`` is one that subcommand accepts."""
    unknown = []
    for line in command_lines(page):
        match = COMMAND.search(line)
        assert match is not None
        rest = match.group(1).split()
        first = rest[0].rstrip(":") if rest else None
        if first is not None and first.startswith(":"):
            continue  # an error message, "sepconv-tui: error: …"
        command = first if first in parsers() else None
        known = flags_of(parsers()[command])
        unknown += [
            f"{command or '(app)'} {flag}"
            for flag in FLAG.findall(" ".join(rest))
            if flag not in known
        ]
    assert not unknown, f"{page_id(page)}: flags the CLI does not have: {sorted(set(unknown))}"


def test_the_checks_see_the_commands() -> None:
    """The parsing finds the guide's commands: a broken pattern would pass everything."""
    lines = [line for page in PAGES for line in command_lines(page)]
    assert len(lines) > 40
    assert any("--per-layer" in line for line in lines)
    assert any("-m sepconv_tui swap" in line for line in lines)  # under torchrun
