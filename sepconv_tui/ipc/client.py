"""The parent's side of every child process: ``python -m <module>``, one request at a time.

torch runs in the children (workers/, and the engine's timing children), never in the app:
importing it holds the GIL for about a second at a time, which would freeze the UI. A child
answers a request (ipc/wire.py) with Progress lines, then the reply or Failed, which arrives
here as the UserError it carries; ``cancel`` kills the child, as PyTorch cannot be interrupted
otherwise, and the next request starts a fresh one. A child's stderr goes to a log file: when it
dies, ChildStopped names it. The child imports this very package (its root leads PYTHONPATH)
and ends by itself when this process dies (ipc/serve.py watches PARENT_VARIABLE).
"""

from __future__ import annotations

import atexit
import os
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Mapping
from contextlib import suppress
from pathlib import Path
from typing import Any, Generic, cast

from ..errors import UserError
from ..progress import Progress
from .wire import PARENT_VARIABLE, Failed, Message, ReplyType, Request, decode, encode


def child_environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment for a child: this package's root first on PYTHONPATH (so
    the child runs this very code), this process's id in PARENT_VARIABLE, and ``extra``."""
    environment = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])
    environment["PYTHONPATH"] = os.pathsep.join(
        [root, *filter(None, [environment.get("PYTHONPATH")])]
    )
    environment[PARENT_VARIABLE] = str(os.getpid())
    environment.update(extra or {})
    return environment


class ChildStopped(UserError):
    """The child process died without answering (a crash, or killed from outside)."""


class Call(Generic[ReplyType]):
    """One request to one child process: ``wait`` for it in a worker thread, ``cancel`` it
    from any thread, before or while it runs."""

    def __init__(self, process: ChildProcess, request: Request[ReplyType]) -> None:
        self.process = process
        self.request = request
        self.cancelled = False

    def wait(self, on_progress: Callable[[Progress], None] | None = None) -> ReplyType | None:
        """Run the request and return its reply; None when it was cancelled.

        Raises the UserError the child answers with (Failed), or ChildStopped when the child
        dies without being cancelled.
        """
        return self.process.run(self, on_progress)

    def cancel(self) -> None:
        """Drop the request if it waits its turn; kill its process if it runs."""
        self.process.cancel(self)


class ChildProcess:
    """``python -m module``, started on the first request; ``one_shot`` ends it after each.

    ``name`` says what the process is ("the PyTorch process"), ``retry`` how to try again
    after it died ("press enter to retry"): ChildStopped says both and names the log.
    ``environment`` adds variables to the child's (a timing child's thread count).
    """

    def __init__(
        self,
        module: str,
        *,
        one_shot: bool = False,
        name: str = "the PyTorch process",
        retry: str = "",
        environment: Mapping[str, str] | None = None,
    ) -> None:
        self.module = module
        self.environment = dict(environment or {})
        self.one_shot = one_shot
        self.name = name
        self.retry = retry
        self._process: subprocess.Popen[str] | None = None
        self._lock = threading.Lock()  # one request in flight: the child answers in order
        self._running: Call[Any] | None = None
        self._log: Path | None = None

    @property
    def popen(self) -> subprocess.Popen[str] | None:
        """The OS process last started (None before the first request, or after close)."""
        return self._process

    @property
    def answering(self) -> Call[Any] | None:
        """The call the child is answering now (None between requests)."""
        return self._running

    @property
    def log(self) -> Path | None:
        """The file the child's stderr goes to (None before the first start)."""
        return self._log

    def call(self, request: Request[ReplyType]) -> Call[ReplyType]:
        """A handle for ``request`` in this process (nothing is sent before ``wait``)."""
        return Call(self, request)

    def ask(
        self,
        request: Request[ReplyType],
        on_progress: Callable[[Progress], None] | None = None,
    ) -> ReplyType:
        """Send ``request``, wait for its reply (a request no one can cancel)."""
        reply = self.call(request).wait(on_progress)
        assert reply is not None  # only a cancelled call has none
        return reply

    def _started(self) -> subprocess.Popen[str]:
        """The child process, started if it is not running (its stderr appended to the log)."""
        if self._process is None or self._process.poll() is not None:
            if self._log is None:
                stem = self.module.rsplit(".", 1)[-1]
                handle, name = tempfile.mkstemp(prefix=f"sepconv-tui-{stem}-", suffix=".log")
                os.close(handle)
                self._log = Path(name)
                atexit.register(self._drop_empty_log)  # a process never closed leaves none
            with self._log.open("a") as log:  # the child keeps its own descriptor
                self._process = subprocess.Popen(
                    [sys.executable, "-m", self.module],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=log,  # the UI owns the terminal; a crash's traceback lands here
                    text=True,
                    env=child_environment(self.environment),
                )
        return self._process

    def stopped(self) -> ChildStopped:
        """What to say when the child died: that it stopped, its log, how to retry."""
        log = f" (its log: {self._log})" if self._log is not None else ""
        retry = f"; {self.retry}" if self.retry else ""
        return ChildStopped(f"{self.name} stopped{log}{retry}")

    def run(
        self,
        call: Call[ReplyType],
        on_progress: Callable[[Progress], None] | None = None,
    ) -> ReplyType | None:
        """Send ``call``'s request, report its progress, return its reply (see Call.wait)."""
        with self._lock:
            self._running = call
            try:
                if call.cancelled:  # before its turn came
                    return None
                process = self._started()
                if call.cancelled:  # while the child started: cancel may have missed it
                    process.kill()
                message = self._exchange(process, call.request, on_progress)
            finally:
                self._running = None
            if message is None or self.one_shot:
                self._end(process)
                for pipe in (process.stdin, process.stdout):  # here, where no thread reads them
                    if pipe is not None:
                        with suppress(OSError):  # a broken pipe to a killed child
                            pipe.close()
            if message is None:  # the pipe closed: killed by cancel, or died
                if call.cancelled:
                    return None
                raise self.stopped()
        if isinstance(message, Failed):
            raise UserError(message.message, field=message.field)
        if not isinstance(message, call.request.reply):
            raise UserError(f"{self.module} answered {call.request.kind} with {message.kind}")
        return cast(ReplyType, message)

    def _exchange(
        self,
        process: subprocess.Popen[str],
        request: Request[ReplyType],
        on_progress: Callable[[Progress], None] | None,
    ) -> Message | None:
        """Write ``request``; read lines until its answer (None when the child stops)."""
        assert process.stdin is not None and process.stdout is not None
        try:
            process.stdin.write(encode(request))
            process.stdin.flush()
            for line in process.stdout:
                message = decode(line)
                if not isinstance(message, Progress):
                    return message
                if on_progress is not None:
                    on_progress(message)
        except (OSError, ValueError):  # the pipe closed mid-line, or not a message: stopped
            pass
        return None

    def cancel(self, call: Call[ReplyType]) -> None:
        """Cancel ``call``: dropped if it waits, its process killed if it runs."""
        call.cancelled = True
        process = self._process
        if self._running is call and process is not None and process.poll() is None:
            process.kill()

    @staticmethod
    def _end(process: subprocess.Popen[str]) -> None:
        """Stop ``process`` and reap it (its pipes close with it)."""
        if process.poll() is None:
            process.kill()
        process.wait()

    def close(self) -> None:
        """Stop the child (the app is closing); a request it was answering ends as cancelled.

        An empty log goes with it; one with something in it stays for the user to read.
        """
        process, self._process = self._process, None
        running = self._running
        if running is not None:
            running.cancelled = True
        if process is not None:
            self._end(process)
        self._drop_empty_log()

    def _drop_empty_log(self) -> None:
        """Delete the log if the child wrote nothing to it."""
        with suppress(OSError):
            if self._log is not None and not self._log.stat().st_size:
                self._log.unlink()
