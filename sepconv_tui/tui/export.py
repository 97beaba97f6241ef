"""What a view's ``e`` key writes: a file stem, the Markdown and the JSON of what it shows,
and any further files (the Model tab adds a CSV and a swap plan)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Export:
    """One view's figures as ``<stem>.md`` and ``<stem>.json``, plus ``extra`` files."""

    stem: str
    markdown: str
    json: str
    #: (suffix, text) of each further file, written as ``<stem><suffix>``, e.g. (".csv", …).
    extra: tuple[tuple[str, str], ...] = ()
    #: (suffix, folder) of each folder copied as ``<stem><suffix>/`` (a recovered model's files).
    folders: tuple[tuple[str, Path], ...] = ()

    def write(self, directory: Path) -> tuple[Path, Path]:
        """Write every file into ``directory``; return the Markdown and JSON paths (OSError on
        failure)."""
        markdown_path = directory / f"{self.stem}.md"
        json_path = directory / f"{self.stem}.json"
        markdown_path.write_text(self.markdown, encoding="utf-8")
        json_path.write_text(self.json + "\n", encoding="utf-8")
        for suffix, text in self.extra:
            (directory / f"{self.stem}{suffix}").write_text(text, encoding="utf-8")
        for suffix, folder in self.folders:
            shutil.copytree(folder, directory / f"{self.stem}{suffix}", dirs_exist_ok=True)
        return markdown_path, json_path

    @property
    def extra_names(self) -> tuple[str, ...]:
        """The further files' names, for the message that says where everything went."""
        return tuple(f"{self.stem}{suffix}" for suffix, _ in self.extra) + tuple(
            f"{self.stem}{suffix}/" for suffix, _ in self.folders
        )
