"""What ``--data`` (the Model tab's Data field) says, checked without opening anything.

``parse_data`` is a syntax check only: no file is read and torch is not imported, so the app
checks the field in place before it asks a child process to load the samples.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...errors import UserError

#: What the data may be, for messages.
DATA_FORMS = (
    "a folder of images (class sub-folders, or images directly in it), a .pt file (a float "
    "tensor N×C×H×W, {'inputs': …, 'labels': …} or (inputs, labels)) or synthetic:N"
)


class DataError(UserError):
    """Data that cannot be used as given; the message says why and what is accepted (the CLI
    puts ``--data:`` before it, the app shows it under the Data field)."""

    default_field = "data"


@dataclass(frozen=True)
class DataSpec:
    """A parsed ``--data``: ``synthetic`` with a sample count, or a path to read."""

    kind: str  # "synthetic" | "path"
    count: int | None = None  # samples, for "synthetic"
    path: str | None = None  # for "path"

    def __str__(self) -> str:
        """The text this was parsed from (normalised)."""
        return f"synthetic:{self.count}" if self.kind == "synthetic" else str(self.path)


def parse_data(text: str) -> DataSpec:
    """The data's text (``--data``, the Data field) → DataSpec (a syntax check only: no file is
    opened, torch not imported)."""
    cleaned = text.strip()
    if not cleaned:
        raise DataError(f"no data given: give {DATA_FORMS}")
    if cleaned.startswith("synthetic:"):
        count_text = cleaned.removeprefix("synthetic:").strip()
        if not count_text.isdigit() or int(count_text) < 1:
            raise DataError(f"synthetic:N needs a whole number of samples N ≥ 1, got {text!r}")
        return DataSpec("synthetic", count=int(count_text))
    return DataSpec("path", path=cleaned)
