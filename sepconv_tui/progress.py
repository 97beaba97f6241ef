"""How far long work has got: one shape for the engine's callbacks, the wire to the app's child
processes, the CLI's bars and the Model tab's progress row. No torch, no Rich, no Textual."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True)
class Progress:
    """``done`` of ``total`` steps of ``stage`` ("bench", "measure", "reconstruct", "distill",
    "rank", "curve"); ``label`` says what is being done (a layer, a loss, a stage's name)."""

    #: Its name on the wire between the app and a child process (ipc/wire.py).
    kind: ClassVar[str] = "progress"
    stage: str
    done: int
    total: int
    label: str = ""


#: What long work calls as it goes.
OnProgress = Callable[[Progress], None]


def ignore(_progress: Progress) -> None:
    """An OnProgress that does nothing."""
