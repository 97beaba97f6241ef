"""What the user got wrong: one base for every error whose message is meant for them as is."""

from __future__ import annotations


class UserError(ValueError):
    """A value the user gave that cannot be used: ``field`` names it, the message says why.

    ``field`` is the argument's name as the CLI's flags and the app's fields know it
    (``"source"``, ``"weights"``, ``"input_shape"``, ``"data"``, a LayerSpec field, …), or None
    when no one field is at fault. The CLI prints the message once; the app shows it under the
    widget that ``field`` names.
    """

    #: The field a subclass's errors belong to unless the raiser names another.
    default_field: str | None = None

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field if field is not None else self.default_field


def first_line(error: BaseException, *, with_type: bool = False) -> str:
    """The first non-empty line of an error's message (its class name when it has none).

    ``with_type`` prefixes the class name ("RuntimeError: boom"), for errors raised by the
    user's own code, where the type says as much as the message.
    """
    lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
    if not lines:
        return type(error).__name__
    return f"{type(error).__name__}: {lines[0]}" if with_type else lines[0]
