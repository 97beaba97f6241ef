"""The timing child: ``python -m sepconv_tui.model.latency.timing_server`` answers one TimeFiles.

It times each file with the timer the request names (its runtime table entry's, chosen by the
parent) and answers Timed, a Progress per file before it. The engine starts one per runtime
(``timing``), so that one runtime's threads never slow another's; the loop (ipc/serve.py) ends
it when its parent dies.
"""

from __future__ import annotations

from ...ipc.serve import Handlers, Report, serve
from ...progress import Progress
from ..vocabulary.runtimes import Stage, load_function
from .timing_messages import Timed, TimeFiles


def time_files(request: TimeFiles, report: Report) -> Timed:
    """Each of the request's files timed on its runtime, in order."""
    if request.imports:
        from ..deploy.timers import import_files

        import_files(request.imports)
    timer = load_function(request.timer)
    ran = load_function(request.ran) if request.ran else None
    timings = []
    precisions = []
    total = len(request.files)
    for index, timed in enumerate(request.files):
        report(Progress(str(Stage.TIME), index, total, timed.label))
        shape, threads = timed.input_shape, request.threads
        timings.append(timer(timed.path, shape, threads, request.min_run_time, request.precision))
        precisions.append(
            str(ran(timed.path, request.precision, threads)) if ran else request.precision
        )
    module_times: dict[str, float] = {}
    if request.counters and total:
        last = request.files[-1]
        module_times = load_function(request.counters)(
            last.path, last.input_shape, request.precision, request.threads
        )
    report(Progress(str(Stage.TIME), total, total, request.files[-1].label if total else ""))
    return Timed(
        tuple(timings), str(load_function(request.version)()), tuple(precisions), module_times
    )


HANDLERS: Handlers = {TimeFiles: time_files}


def main() -> None:
    """Answer requests until standard input closes (or the parent dies)."""
    serve(HANDLERS)


if __name__ == "__main__":
    main()
