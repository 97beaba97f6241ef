"""What the engine asks a timing child (``timing_server``), and its reply.

One request per child: the runtime, the files to time (each with its input shape), the threads
and how long to time each. The child answers with a Progress per file, then every file's Timing
and the runtime's version. Importing this module loads no torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ...core.latency import Timing
from ...ipc.wire import Reply, Request, nested_tuple, shape
from ..vocabulary.analysis import Shape
from ..vocabulary.runtimes import Precision


@dataclass(frozen=True)
class TimedFile:
    """One thing to time: the file an exporter wrote, and the input shape it runs at."""

    label: str  # said in progress, e.g. "the original", a layer's name
    path: str
    input_shape: Shape = shape()

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of one file."""
        return {"label": self.label, "path": self.path, "input_shape": list(self.input_shape)}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TimedFile:
        """The inverse of ``to_dict``."""
        return cls(values["label"], values["path"], tuple(values["input_shape"]))


def words(default: tuple[str, ...] = ()) -> Any:
    """A field holding a tuple of strings (a list on the wire)."""
    return field(default=default, metadata={"encode": list, "decode": tuple})


@dataclass(frozen=True)
class Timed(Reply):
    """Each file's forward-pass time, in the request's order, the runtime's version, and the
    precision each file ran at as the runtime reports it."""

    kind = "timed"
    timings: tuple[Timing, ...] = nested_tuple(Timing)
    version: str = ""
    ran: tuple[str, ...] = words()
    # The last file's modules, seconds each inside it, from the runtime's counters (or none).
    module_times: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class TimeFiles(Request[Timed]):
    """Time each file with ``timer`` (``module:function``, the runtime table entry's), one
    after the other, in this one process; ``version`` names the runtime; ``imports`` are the
    files defining classes a saved module needs."""

    kind = "time_files"
    reply = Timed
    runtime: str
    timer: str
    version: str
    files: tuple[TimedFile, ...] = nested_tuple(TimedFile)
    threads: int = 1
    min_run_time: float = 0.2
    precision: str = Precision.FP32.value  # one of the entry's, checked by the parent
    ran: str = ""  # "module:function" reporting the precision that ran ("": as asked)
    counters: str = ""  # "module:function" giving the last file's module times ("": none)
    imports: dict[str, str] = field(default_factory=dict)
