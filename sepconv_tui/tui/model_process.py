"""The client side of the model-analysis process (workers/model_server.py).

The child imports torch, torchvision and timm once and then answers each request; the UI
process never imports them. Requests are answered one at a time, in order. ``cancel`` kills
the child mid-analysis (PyTorch cannot be interrupted otherwise); the next request starts a
fresh one.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from typing import Any

from ..model.analysis import ModelAnalysis, Shape
from ..model.bench import ModelBenchResult
from .bench_process import StagedRun


class ModelProcessError(RuntimeError):
    """The analysis failed or the child stopped; the message is for the user as is."""


class Request:
    """One request's handle: ``cancel`` it from any thread, before or while it runs."""

    def __init__(self, payload: dict[str, Any]) -> None:
        self.payload = payload
        self.cancelled = False


class ModelProcess:
    """One persistent analysis process, started on the first request."""

    def __init__(self) -> None:
        self._process: subprocess.Popen[str] | None = None
        self._lock = threading.Lock()  # one request in flight: the child answers in order
        self._running: Request | None = None
        self._running_process: subprocess.Popen[str] | None = None

    def _started(self) -> subprocess.Popen[str]:
        """The child process, started if it is not running."""
        if self._process is None or self._process.poll() is not None:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "sepconv_tui.workers.model_server"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,  # the UI owns the terminal
                text=True,
            )
        return self._process

    def ask(self, request: Request) -> dict[str, Any] | None:
        """Send ``request`` and wait for the reply; None when it was cancelled.

        Raises ModelProcessError with the child's message when it answers with an error, or
        when it stopped without being cancelled.
        """
        with self._lock:
            if request.cancelled:
                return None
            process = self._started()
            assert process.stdin is not None and process.stdout is not None
            self._running, self._running_process = request, process
            try:
                process.stdin.write(json.dumps(request.payload) + "\n")
                process.stdin.flush()
                line = process.stdout.readline()
            except (OSError, ValueError):  # the pipe closed: killed by cancel, or crashed
                line = ""
            finally:
                self._running = self._running_process = None
            if not line:
                process.kill()
                process.wait()
                if request.cancelled:
                    return None
                raise ModelProcessError("the PyTorch process stopped; press enter to retry")
        reply: dict[str, Any] = json.loads(line)
        if "error" in reply:
            raise ModelProcessError(reply["error"])
        return reply

    def cancel(self, request: Request) -> None:
        """Cancel ``request``: dropped if it waits, its process killed if it runs."""
        request.cancelled = True
        process = self._running_process
        if self._running is request and process is not None and process.poll() is None:
            process.kill()

    def close(self) -> None:
        """Stop the child (the app is closing)."""
        process = self._process
        self._process = None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()


def names_request() -> Request:
    """A request for every model name the installed torchvision and timm can build."""
    return Request({"names": True})


def analysis_request(
    source: str,
    input_shape: Shape | None = None,
    *,
    select: str = "saving",
    depth_multiplier: int = 1,
    weights: str | None = None,
) -> Request:
    """A request to analyse ``source`` (as ``sepconv-tui model`` does)."""
    return Request(
        {
            "analyze": {
                "source": source,
                "input_shape": list(input_shape) if input_shape is not None else None,
                "select": select,
                "depth_multiplier": depth_multiplier,
                "weights": weights,
            }
        }
    )


def analysis_of(reply: dict[str, Any]) -> ModelAnalysis:
    """The ModelAnalysis in an analysis reply."""
    return ModelAnalysis.from_dict(reply["analysis"])


class ModelBenchRun(StagedRun[ModelBenchResult]):
    """One whole-model benchmark (``python -m sepconv_tui.workers.model_server bench``)."""

    def __init__(self, request: dict[str, Any]) -> None:
        command = ["sepconv_tui.workers.model_server", "bench"]
        super().__init__(command, request, ModelBenchResult.from_dict)
