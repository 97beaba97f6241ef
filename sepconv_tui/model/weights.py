"""Read a state_dict file and load it into a model, with one-line messages for what is wrong.

torch is imported inside the functions.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .source import ModelSourceError

if TYPE_CHECKING:
    from torch import nn


def _short_list(names: list[str]) -> str:
    """The first three names, and how many more."""
    more = f" and {len(names) - 3} more" if len(names) > 3 else ""
    return ", ".join(names[:3]) + more


def read_state_dict(path: str | Path) -> dict[str, Any]:
    """A state_dict from a file ``torch.load`` reads safely (a {"state_dict": …} checkpoint too)."""
    import torch

    where = f"--weights {str(path)!r}"
    if not Path(path).is_file():
        raise ModelSourceError(f"{where} does not exist")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise ModelSourceError(
            f"{where} is not a state_dict torch.load can read: {first}"
        ) from None
    if isinstance(state, Mapping) and isinstance(state.get("state_dict"), Mapping):
        state = state["state_dict"]
    if not isinstance(state, Mapping) or not all(
        isinstance(value, torch.Tensor) for value in state.values()
    ):
        raise ModelSourceError(f"{where} holds a {type(state).__name__}, not a state_dict")
    return dict(state)


def load_weights(model: nn.Module, path: str | Path, *, assign: bool = False) -> None:
    """Load a state_dict file into ``model``; ModelSourceError when it does not fit."""
    state = read_state_dict(path)
    try:
        result = model.load_state_dict(state, strict=False, assign=assign)
    except RuntimeError as error:
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        detail = lines[1] if len(lines) > 1 else (lines[0] if lines else "")
        raise ModelSourceError(
            f"--weights {str(path)!r} does not fit the model: {detail}"
        ) from None
    if result.missing_keys or result.unexpected_keys:
        parts = []
        if result.missing_keys:
            parts.append(f"missing {_short_list(result.missing_keys)}")
        if result.unexpected_keys:
            parts.append(f"unexpected {_short_list(result.unexpected_keys)}")
        raise ModelSourceError(
            f"--weights {str(path)!r} does not fit the model: {'; '.join(parts)}"
        )
