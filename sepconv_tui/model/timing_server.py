"""The timing child: ``python -m sepconv_tui.model.timing_server`` answers one TimeFiles.

It times each file with its runtime's timer (the runtime table's entry) and answers Timed, a
Progress per file before it. The engine starts one per runtime (``timing``), so that one
runtime's threads never slow another's; the loop (ipc/serve.py) ends it when its parent dies.
"""

from __future__ import annotations

from ..errors import UserError
from ..ipc.serve import Handlers, Report, serve
from ..progress import Progress
from .runtimes import Stage, load_timer, runtime_entry, runtime_version
from .timing_messages import Timed, TimeFiles


def time_files(request: TimeFiles, report: Report) -> Timed:
    """Each of the request's files timed on its runtime, in order."""
    entry = runtime_entry(request.runtime)
    if request.precision not in entry.precisions:
        raise UserError(f"{entry.label} does not run {request.precision}", field="precision")
    if request.imports:
        from .timers import import_files

        import_files(request.imports)
    timer = load_timer(entry)
    timings = []
    total = len(request.files)
    for index, timed in enumerate(request.files):
        report(Progress(str(Stage.TIME), index, total, timed.label))
        timings.append(timer(timed.path, timed.input_shape, request.threads, request.min_run_time))
    report(Progress(str(Stage.TIME), total, total, request.files[-1].label if total else ""))
    return Timed(tuple(timings), runtime_version(entry))


HANDLERS: Handlers = {TimeFiles: time_files}


def main() -> None:
    """Answer requests until standard input closes (or the parent dies)."""
    serve(HANDLERS)


if __name__ == "__main__":
    main()
