"""One way for a tab to run a request in a child process: start, progress, reply, failure,
cancel, and "is this still the current call?" answered in one place.

A ChildRunner belongs to one widget (a RunsChildren) and one kind of work (an analysis, a
benchmark, …). ``start`` sends a request from a thread worker (``@work``'s machinery,
``exclusive`` in the runner's group); the worker posts what comes back to the widget as
ChildEvent messages, and the runner hands each one to its callbacks on the UI thread, unless
the call has been replaced or cancelled since: a late line is dropped here, not in each tab.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic

from textual.message import Message
from textual.widget import Widget

from ..errors import UserError, first_line
from ..ipc.client import Call, ChildProcess
from ..ipc.wire import Reply, ReplyType, Request
from ..progress import Progress

_groups = itertools.count()


@dataclass
class ChildEvent(Message):
    """What a runner's worker brings back: a Progress, the reply, or the error."""

    runner: ChildRunner[Any]
    call: Call[Any]
    progress: Progress | None = None
    reply: Reply | None = None
    error: UserError | None = None


class RunsChildren:
    """A widget that owns ChildRunners: their events reach their runner."""

    def on_child_event(self, event: ChildEvent) -> None:
        """Hand the event to the runner that sent it."""
        event.stop()
        event.runner.deliver(event)


class ChildRunner(Generic[ReplyType]):
    """Requests of one kind for ``owner``, one at a time in ``process``: a newer one replaces
    (cancels) the one running.

    ``process`` is the ChildProcess to ask. ``on_reply``, ``on_error`` and ``on_progress``
    run on the UI thread for the current call only; a cancelled call calls none of them.
    """

    def __init__(
        self,
        owner: Widget,
        process: ChildProcess,
        *,
        on_reply: Callable[[ReplyType], None],
        on_error: Callable[[UserError], None],
        on_progress: Callable[[Progress], None] | None = None,
    ) -> None:
        self.owner = owner
        self.process = process
        self.on_reply = on_reply
        self.on_error = on_error
        self.on_progress = on_progress
        self.call: Call[ReplyType] | None = None
        self._group = f"child-runner-{next(_groups)}"

    @property
    def running(self) -> bool:
        """True while a call runs (or waits its turn in its process)."""
        return self.call is not None

    @property
    def request(self) -> Request[ReplyType] | None:
        """What the running call asked, or None."""
        return self.call.request if self.call is not None else None

    def start(self, request: Request[ReplyType]) -> Call[ReplyType]:
        """Send ``request`` (cancelling the call that runs); its events come back later."""
        self.cancel()
        call = self.process.call(request)
        self.call = call
        self.owner.run_worker(
            lambda: self._wait(call),
            name=request.kind,
            group=self._group,
            thread=True,
            exclusive=True,
            exit_on_error=False,
        )
        return call

    def _wait(self, call: Call[ReplyType]) -> None:
        """In the worker thread: run ``call``, post its progress and its end."""

        def progress(line: Progress) -> None:
            self.owner.post_message(ChildEvent(self, call, progress=line))

        try:
            reply = call.wait(progress)
        except UserError as error:
            self.owner.post_message(ChildEvent(self, call, error=error))
            return
        except Exception as error:  # a broken reply: said like any other failure
            self.owner.post_message(ChildEvent(self, call, error=UserError(first_line(error))))
            return
        if reply is not None:  # None: cancelled, nothing to say
            self.owner.post_message(ChildEvent(self, call, reply=reply))

    def deliver(self, event: ChildEvent) -> None:
        """On the UI thread: hand ``event`` to the callbacks if its call is still current."""
        if event.call is not self.call:
            return  # a late line from a replaced or cancelled call
        if event.progress is not None:
            if self.on_progress is not None:
                self.on_progress(event.progress)
            return
        self.call = None
        if event.error is not None:
            self.on_error(event.error)
        elif event.reply is not None:
            self.on_reply(event.reply)  # type: ignore[arg-type]  # the call's own reply type

    def cancel(self) -> bool:
        """Cancel the running call (its process is killed); False when none runs."""
        call, self.call = self.call, None
        if call is None:
            return False
        call.cancel()
        return True

    def close(self) -> None:
        """Cancel what runs and stop the process (the widget is going away)."""
        self.cancel()
        self.process.close()
