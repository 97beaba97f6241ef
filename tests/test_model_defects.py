"""Issue 15's model-side defects: conv subclasses with extra parameters (timm's ScaledStdConv2d),
padding computed at run time (timm's Conv2dSame), constructors that load their own weights, and
one-line messages for a --weights file torch.load refuses."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from sepconv_tui.model.source import ModelSourceError
from sepconv_tui.model.weights import read_state_dict


class _Whole(nn.Module):
    """A module saved whole (not its state_dict), which a weights-only load refuses."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 1, 1)


@pytest.mark.parametrize(
    ("write", "expected"),
    [
        (lambda path: torch.save(_Whole(), path), "._Whole, which a safe load refuses"),
        (lambda path: path.write_text("hello"), "is not a file torch.save wrote"),
        (lambda path: path.write_bytes(b""), "is empty, not a state_dict"),
    ],
    ids=["whole-model", "text", "empty"],
)
def test_a_weights_file_torch_load_refuses_is_named_in_one_line(
    tmp_path: Path, write: object, expected: str
) -> None:
    """PyTorch's paragraph on weights_only becomes one line saying what the file is not."""
    path = tmp_path / "weights.pt"
    write(path)  # type: ignore[operator]
    with pytest.raises(ModelSourceError) as caught:
        read_state_dict(path)
    message = str(caught.value)
    assert expected in message
    assert "\n" not in message and "weights_only" not in message
    assert caught.value.field == "weights"


def test_a_truncated_checkpoint_is_named_in_one_line(tmp_path: Path) -> None:
    """A torch.save zip cut short says so, not miniz's internals."""
    path = tmp_path / "weights.pt"
    torch.save({"w": torch.ones(64)}, path)
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(ModelSourceError, match="truncated or corrupted"):
        read_state_dict(path)
