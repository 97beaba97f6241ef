"""The client side of the PyTorch measurement process (workers/measure_server.py).

Importing torch holds the GIL for about a second at a time, so a torch import in a thread
freezes the UI; in a child process it costs the UI nothing. The child starts on the first
request and then answers each measurement in about a millisecond.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from dataclasses import replace
from typing import Any

from ..core.figures import Figures
from ..core.measure import MeasurementError
from ..core.networks import NetworkReport
from ..core.spec import LayerSpec

_process: subprocess.Popen[str] | None = None
_lock = threading.Lock()


def _running_process() -> subprocess.Popen[str]:
    """The measurement process, started if it is not running."""
    global _process
    if _process is None or _process.poll() is not None:
        _process = subprocess.Popen(
            [sys.executable, "-m", "sepconv_tui.workers.measure_server"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,  # the UI owns the terminal
            text=True,
        )
    return _process


def _ask(request: dict[str, Any]) -> dict[str, Any]:
    """Send one request to the child process and return its reply."""
    with _lock:  # one request in flight: the child answers in order
        process = _running_process()
        assert process.stdin is not None and process.stdout is not None
        try:
            process.stdin.write(json.dumps(request) + "\n")
            process.stdin.flush()
            line = process.stdout.readline()
        except OSError as error:
            raise MeasurementError(f"the PyTorch process stopped ({error})") from error
        if not line:
            raise MeasurementError("the PyTorch process stopped; edit a field to retry")
    reply: dict[str, Any] = json.loads(line)
    if "error" in reply:
        raise MeasurementError(reply["error"])
    return reply


def measure_figures(spec: LayerSpec) -> Figures:
    """``measure.figures(spec)``, computed by the child process."""
    return Figures.from_dict(_ask(spec.to_dict())["figures"])


def verify_network(report: NetworkReport) -> NetworkReport:
    """``measure.verify_network(report)``, computed by the child process."""
    request = {
        "network": {
            "name": report.name,
            "width_multiplier": report.width_multiplier,
            "resolution": report.resolution,
        }
    }
    return replace(report, verified=_ask(request)["verified"])
