"""What a view's ``e`` key writes: a file stem, the Markdown and the JSON of what it shows."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Export:
    """One view's figures as Markdown and JSON, to be written as ``<stem>.md`` and ``.json``."""

    stem: str
    markdown: str
    json: str

    def write(self, directory: Path) -> tuple[Path, Path]:
        """Write both files into ``directory``; return their paths (OSError on failure)."""
        markdown_path = directory / f"{self.stem}.md"
        json_path = directory / f"{self.stem}.json"
        markdown_path.write_text(self.markdown, encoding="utf-8")
        json_path.write_text(self.json + "\n", encoding="utf-8")
        return markdown_path, json_path
