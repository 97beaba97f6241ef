"""A Rich progress bar on stderr for the long steps of ``swap --data`` and ``fidelity``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from ..progress import OnProgress, Progress
from ..report.progress import bar_title


@contextmanager
def stderr_progress() -> Iterator[OnProgress]:
    """A callback that draws one bar per stage on stderr (nothing when stderr is not a terminal
    Rich can draw on); the bars go when the block ends."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, TaskID, TextColumn
    from rich.progress import Progress as Bars

    console = Console(stderr=True)
    bars = Bars(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[label]}"),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )
    tasks: dict[str, TaskID] = {}

    def update(progress: Progress) -> None:
        stage, done, total, label = progress.stage, progress.done, progress.total, progress.label
        key = f"{stage}:{label}" if stage == "measure" else stage
        if key not in tasks:
            tasks[key] = bars.add_task(bar_title(progress), total=total, label="")
        bars.update(
            tasks[key], completed=done, total=total, label="" if stage == "measure" else label
        )

    with bars:
        yield update
