"""Runs one latency benchmark in a child process (``python -m sepconv_tui.core.latency``).

A child keeps torch's import and the timed forward passes off the UI's GIL, and escape can
cancel a run at once by killing it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable

from ..core.latency import BenchError, BenchResult
from ..core.spec import LayerSpec


class BenchRun:
    """One benchmark in its own process; ``cancel`` from any thread stops it."""

    def __init__(self, spec: LayerSpec, device: str, threads: int | None) -> None:
        self.request = {"spec": spec.to_dict(), "device": device, "threads": threads}
        self.cancelled = False
        self._process: subprocess.Popen[str] | None = None

    def run(self, on_stage: Callable[[int, str], None]) -> BenchResult | None:
        """Start the child, report its stages, return its result (None when cancelled).

        Raises BenchError with the child's message when it refuses or fails.
        """
        self._process = process = subprocess.Popen(
            [sys.executable, "-m", "sepconv_tui.core.latency"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,  # the UI owns the terminal
            text=True,
        )
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(json.dumps(self.request) + "\n")
        process.stdin.close()
        try:
            for line in process.stdout:
                message = json.loads(line)
                if "stage" in message:
                    on_stage(message["stage"], message["label"])
                elif "result" in message:
                    return BenchResult.from_dict(message["result"])
                elif "error" in message:
                    raise BenchError(message["error"])
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
