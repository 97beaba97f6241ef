"""Runs one benchmark in a child process that reports its stages, then its result.

A child keeps torch's import and the timed forward passes off the UI's GIL, and escape can
cancel a run at once by killing it. The child reads one JSON request and writes JSON lines:
``{"stage", "label"}`` as it goes, then ``{"result"}`` or ``{"error"}``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from ..core.latency import BenchError, BenchResult
from ..core.spec import LayerSpec

Result = TypeVar("Result")


class StagedRun(Generic[Result]):
    """One run of ``python -m <module>`` in its own process; ``cancel`` from any thread stops it."""

    def __init__(
        self,
        command: list[str],
        request: dict[str, Any],
        read_result: Callable[[dict[str, Any]], Result],
    ) -> None:
        self.command = command
        self.request = request
        self.read_result = read_result
        self.cancelled = False
        self._process: subprocess.Popen[str] | None = None

    def run(self, on_stage: Callable[[int, str], None]) -> Result | None:
        """Start the child, report its stages, return its result (None when cancelled).

        Raises BenchError with the child's message when it refuses or fails.
        """
        self._process = process = subprocess.Popen(
            [sys.executable, "-m", *self.command],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,  # the UI owns the terminal
            text=True,
        )
        assert process.stdin is not None and process.stdout is not None
        if self.cancelled:  # cancelled while starting
            process.kill()
        try:
            process.stdin.write(json.dumps(self.request) + "\n")
            process.stdin.close()
            for line in process.stdout:
                message = json.loads(line)
                if "stage" in message:
                    on_stage(message["stage"], message["label"])
                elif "result" in message:
                    return self.read_result(message["result"])
                elif "error" in message:
                    raise BenchError(message["error"])
        except OSError:  # the pipe closed: killed by cancel
            pass
        finally:
            process.stdout.close()
            process.wait()
        if self.cancelled:
            return None
        raise BenchError("the benchmark process stopped without a result")

    def cancel(self) -> None:
        """Stop the run now."""
        self.cancelled = True
        if self._process is not None and self._process.poll() is None:
            self._process.kill()


class BenchRun(StagedRun[BenchResult]):
    """One layer's latency benchmark (``python -m sepconv_tui.core.latency``)."""

    def __init__(self, spec: LayerSpec, device: str, threads: int | None) -> None:
        request = {"spec": spec.to_dict(), "device": device, "threads": threads}
        super().__init__(["sepconv_tui.core.latency"], request, BenchResult.from_dict)
