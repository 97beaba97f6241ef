"""A model source whose build never ends: the analysis child is busy with it until killed."""

from __future__ import annotations

import threading

from torch import nn


def build() -> nn.Module:
    """Wait forever (a test kills the process building it)."""
    threading.Event().wait()
    return nn.Identity()  # never reached
