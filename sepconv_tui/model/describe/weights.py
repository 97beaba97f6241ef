"""Read a state_dict file and load it into a model, with one-line messages for what is wrong.

torch is imported inside the functions.
"""

from __future__ import annotations

import re
import warnings
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


#: The class or function a weights-only load refused, in PyTorch's message.
_REFUSED_GLOBAL = re.compile(r"Unsupported global: GLOBAL (\S+)")


def _not_a_state_dict(error: BaseException) -> str:
    """What a file ``torch.load(weights_only=True)`` failed on is not, in one line.

    PyTorch's own message runs to a paragraph on ``weights_only`` and allow-lists; the user
    needs to know which kind of file this is not, and what to save instead.
    """
    text = str(error)
    if "Weights only load failed" in text:
        refused = _REFUSED_GLOBAL.search(text)
        what = f"pickles {refused.group(1)}" if refused else "pickles Python objects"
        return (
            f"is not a state_dict of tensors: it {what}, which a safe load refuses "
            "(save model.state_dict() instead)"
        )
    if isinstance(error, RuntimeError) and "zip archive" in text:
        return "is not a complete file torch.save wrote (truncated or corrupted)"
    return "is not a file torch.save wrote"


def read_state_dict(path: str | Path) -> dict[str, Any]:
    """A state_dict from a file ``torch.load`` reads safely (a {"state_dict": …} checkpoint too)."""
    import torch

    where = repr(str(path))  # the CLI puts "--weights:" before it, the app its Weights field
    if not Path(path).is_file():
        raise ModelSourceError(f"{where} does not exist", field="weights")
    if Path(path).stat().st_size == 0:
        raise ModelSourceError(f"{where} is empty, not a state_dict", field="weights")
    try:
        with warnings.catch_warnings():
            # torch warns about pickle protocols on the way to the error the message below gives.
            warnings.simplefilter("ignore")
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise ModelSourceError(f"{where} {_not_a_state_dict(error)}", field="weights") from None
    if isinstance(state, Mapping) and isinstance(state.get("state_dict"), Mapping):
        state = state["state_dict"]
    if not isinstance(state, Mapping) or not all(
        isinstance(value, torch.Tensor) for value in state.values()
    ):
        raise ModelSourceError(
            f"{where} holds a {type(state).__name__}, not a state_dict", field="weights"
        )
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
            f"{str(path)!r} does not fit the model: {detail}", field="weights"
        ) from None
    if result.missing_keys or result.unexpected_keys:
        parts = []
        if result.missing_keys:
            parts.append(f"missing {_short_list(result.missing_keys)}")
        if result.unexpected_keys:
            parts.append(f"unexpected {_short_list(result.unexpected_keys)}")
        raise ModelSourceError(
            f"{str(path)!r} does not fit the model: {'; '.join(parts)}", field="weights"
        )
