"""The wire between a parent and its child processes: JSON lines, one message each.

Each line is ``{"kind": …, …fields}``. The app writes one Request; the child answers with any
number of Progress lines, then the request's reply, or Failed. Every message class registers
itself by its ``kind`` when its module is imported, so a side decodes what it has imported:
the app's servers' own messages live in workers/ (layer_messages.py, model_messages.py), the
engine's timing messages in model/latency/timing_messages.py. A new request is one dataclass
there and one row in its server's handler table; the client, the loop and this codec stay as
they are.
Importing this module loads no torch and none of the engine.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import MISSING, dataclass, field, fields
from typing import Any, ClassVar, Generic, TypeVar

from ..progress import Progress

#: The environment variable naming a child's parent process; the child ends when it is gone.
PARENT_VARIABLE = "SEPCONV_TUI_PARENT_PID"


class Message:
    """Base of every message; ``kind`` names it on the wire (its subclasses register by it)."""

    kind: ClassVar[str]
    kinds: ClassVar[dict[str, type[Message]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "kind" in cls.__dict__:
            Message.kinds[cls.kind] = cls


class Reply(Message):
    """A request's answer (the base of each request's own reply type)."""


ReplyType = TypeVar("ReplyType", bound=Reply)


class Request(Message, Generic[ReplyType]):
    """A message from the app; the child answers with Progress, then a ``reply`` or Failed."""

    reply: ClassVar[type[Reply]]


# The engine's own Progress travels as it is: a child forwards what its work reports.
Message.kinds[Progress.kind] = Progress  # type: ignore[assignment]


@dataclass(frozen=True)
class Failed(Message):
    """The request failed: the message is for the user as is; ``field`` names what is at fault.

    ``field`` is ``UserError.field`` ("source", "input_shape", "weights", …), or None.
    """

    kind = "failed"
    message: str
    field: str | None = None


def nested(kind: Any, *, default: Any = MISSING) -> Any:
    """A field holding one of the data classes with ``to_dict``/``from_dict``."""
    return field(default=default, metadata={"encode": kind.to_dict, "decode": kind.from_dict})


def nested_tuple(kind: Any, *, default: Any = MISSING) -> Any:
    """A field holding a tuple of such data classes (a list of their dicts on the wire)."""
    return field(
        default=default,
        metadata={
            "encode": lambda values: [value.to_dict() for value in values],
            "decode": lambda values: tuple(kind.from_dict(value) for value in values),
        },
    )


def shape(default: Any = MISSING) -> Any:
    """A field holding a shape (a tuple on this side, a list or null on the wire)."""
    return field(
        default=default,
        metadata={
            "encode": list,
            "decode": lambda value: tuple(int(size) for size in value),
        },
    )


def encode(message: Message | Progress) -> str:
    """``message`` as one JSON line (with its newline)."""
    wire: dict[str, Any] = {"kind": message.kind}
    for each in fields(message):  # type: ignore[arg-type]  # every concrete message is one
        value = getattr(message, each.name)
        convert: Callable[[Any], Any] | None = each.metadata.get("encode")
        wire[each.name] = convert(value) if convert is not None and value is not None else value
    return json.dumps(wire) + "\n"


def decode(line: str) -> Message | Progress:
    """The message one JSON line holds; ValueError when it is not one."""
    try:
        wire = json.loads(line)
        kind = Message.kinds[wire.pop("kind")]
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise ValueError(f"not a message: {line[:80]!r}") from error
    values: dict[str, Any] = {}
    for each in fields(kind):  # type: ignore[arg-type]
        if each.name not in wire:
            continue  # the dataclass's default, or its TypeError naming what is missing
        value = wire[each.name]
        convert: Callable[[Any], Any] | None = each.metadata.get("decode")
        values[each.name] = convert(value) if convert is not None and value is not None else value
    try:
        return kind(**values)
    except TypeError as error:
        raise ValueError(f"not a {kind.kind} message: {error}") from error
