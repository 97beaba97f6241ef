"""Time modules on a runtime in a child process of its own, through the typed protocol (ipc/).

The parent hands the child what it times, never a source to rebuild: the runtime table's
exporter writes each module (saved, or as ONNX) into a temporary folder, and the child
(``timing_server``) loads and times each file with the same thread count. A child per runtime:
ONNX Runtime's spinning threads and torch's pool would slow each other in one process. When
the parent dies (the app's escape kills the process that started the timing), the child ends
by itself; an interrupted or failed call kills it here.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...core.latency import RuntimeTiming
from ...ipc.client import ChildProcess, ChildStopped
from ...progress import OnProgress, Progress
from ..vocabulary.runtimes import Precision, Stage, load_function, runtime_entry
from .timing_messages import Timed, TimedFile, TimeFiles

if TYPE_CHECKING:
    import torch
    from torch import nn

#: The module a timing child runs.
TIMING_SERVER = "sepconv_tui.model.latency.timing_server"

#: What is timed: a label (said in progress), the module, and an input of its shape.
ToTime = tuple[str, "nn.Module", "torch.Tensor"]


def time_on_runtime(
    runtime: str,
    modules: Sequence[ToTime],
    *,
    threads: int,
    min_run_time: float,
    precision: Precision = Precision.FP32,
    per_channel: bool = True,
    calibration: Any = None,
    counters: bool = False,
    progress: OnProgress | None = None,
) -> Timed:
    """Each of ``modules`` timed on ``runtime`` at ``precision`` (one the entry runs) in one
    child process: their timings, in order, the runtime's version and the precision each ran
    at as the runtime reports it. int8 is quantized per channel (``per_channel``) or per
    tensor, calibrated on ``calibration`` (samples) or random inputs. ``counters``: the last
    module's (the whole model's) own modules timed inside it by the runtime's counters, where
    its entry has them. ``progress`` gets the child's ("time",
    one step a module)."""
    entry = runtime_entry(runtime)
    export = load_function(entry.exporter)
    with tempfile.TemporaryDirectory(prefix="sepconv-tui-timing-") as folder:
        files = []
        imports: dict[str, str] = {}
        for index, (label, module, x) in enumerate(modules):
            path = Path(folder) / f"{index}{entry.suffix}"
            imports.update(
                export(
                    module,
                    x,
                    path,
                    label,
                    str(precision),
                    per_channel=per_channel,
                    calibration=calibration,
                )
            )
            files.append(TimedFile(label, str(path), tuple(x.shape)))
        request = TimeFiles(
            runtime,
            entry.timer,
            entry.version,
            tuple(files),
            threads,
            min_run_time,
            precision=str(precision),
            ran=entry.ran or "",
            counters=(entry.counters or "") if counters else "",
            imports=imports,
        )
        process = ChildProcess(
            TIMING_SERVER,
            one_shot=True,
            name=f"the {entry.label} timing process",
            environment={"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)},
        )
        stopped = False
        try:
            reply = process.ask(request, progress)
        except ChildStopped:
            stopped = True  # its log says why: kept for the user to read
            raise
        finally:
            process.close()
            if not stopped and process.log is not None:
                process.log.unlink(missing_ok=True)
    return reply


def time_both(
    runtime: str,
    before: ToTime,
    after: ToTime,
    *,
    threads: int,
    min_run_time: float,
    precision: Precision = Precision.FP32,
    per_channel: bool = True,
    calibration: Any = None,
    progress: OnProgress | None = None,
) -> tuple[RuntimeTiming, tuple[str, ...]]:
    """``before`` and ``after`` (the original and its swap, a conv and its block) timed on
    ``runtime`` at ``precision`` in one child: both sides, the version and the threads, and
    the precision each side ran at."""
    reply = time_on_runtime(
        runtime,
        (before, after),
        threads=threads,
        min_run_time=min_run_time,
        precision=precision,
        per_channel=per_channel,
        calibration=calibration,
        progress=progress,
    )
    first, second = reply.timings
    timing = RuntimeTiming(
        runtime,
        first,
        second,
        reply.version,
        threads,
        channels_last=runtime_entry(runtime).channels_last,
    )
    return timing, reply.ran


def stage_progress(
    progress: OnProgress | None, offset: int, total: int, prefix: str
) -> OnProgress | None:
    """A child's "time" Progress as a step of a longer count: ``offset`` + its done, of
    ``total``, its label after ``prefix``."""
    if progress is None:
        return None

    def step(child: Progress) -> None:
        progress(Progress(str(Stage.TIME), offset + child.done, total, f"{prefix}{child.label}"))

    return step
