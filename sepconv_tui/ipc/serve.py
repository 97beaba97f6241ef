"""The loop every child process runs: read a request line, answer it, until the input closes.

Each server is a handler table: the request's class → the function that answers it. Anything
the user can cause arrives as a UserError and goes back as Failed with its field; the child
never dies of an error, so the next request still gets an answer. A child whose parent dies
(killed to cancel a timing it started, say) ends by itself, even in the middle of a request:
nothing waits for its answer.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from ..errors import UserError, first_line
from ..progress import OnProgress, Progress
from .wire import PARENT_VARIABLE, Failed, Message, Reply, Request, decode, encode

#: Writes one Progress line to the parent (the engine's own callback type).
Report = OnProgress
#: Answers one request (writing Progress as it goes); raises what went wrong.
Handler = Callable[[Any, Report], Reply]
#: A server: which function answers each kind of request.
Handlers = Mapping[type[Request[Any]], Handler]
#: Seconds between a child's looks at its parent.
POLL_S = 0.1


def send(message: Message | Progress) -> None:
    """One message line to the parent, at once (it reads as the child goes)."""
    sys.stdout.write(encode(message))
    sys.stdout.flush()


def answer(line: str, handlers: Handlers, plain: tuple[type[Exception], ...] = ()) -> Message:
    """The reply to one request line: its handler's, or Failed with the error's field.

    A UserError keeps its message and field; an error of a ``plain`` type its first line;
    any other (a model's own code can raise anything) its type and first line.
    """
    try:
        request = decode(line)
        handler = handlers.get(type(request)) if isinstance(request, Request) else None
        if handler is None:
            raise ValueError(f"this process does not answer {request.kind}")
        return handler(request, send)
    except UserError as error:
        return Failed(str(error), error.field)
    except plain as error:
        return Failed(first_line(error))
    except Exception as error:  # report, never die: the next request still gets an answer
        return Failed(first_line(error, with_type=True))


def watch_parent(parent: int) -> None:
    """End this process as soon as ``parent`` is no longer its parent (it died)."""
    while os.getppid() == parent:
        time.sleep(POLL_S)
    os._exit(1)


def serve(handlers: Handlers, plain: tuple[type[Exception], ...] = ()) -> None:
    """Answer request lines from standard input until it closes (``plain``: see answer);
    end at once when the parent named in PARENT_VARIABLE dies."""
    parent = os.environ.get(PARENT_VARIABLE)
    if parent is not None and parent.isdigit():
        threading.Thread(target=watch_parent, args=(int(parent),), daemon=True).start()
    for line in sys.stdin:
        send(answer(line, handlers, plain))
