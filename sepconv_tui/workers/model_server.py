"""A child process that analyses models for the app: one JSON request per stdin line.

``python -m sepconv_tui.workers.model_server`` answers, one line each:

- ``{"names": true}`` → ``{"names": ["torchvision:alexnet", …, "timm:…"]}`` (``model_names``);
- ``{"analyze": {"source", "input_shape": [N, C, H, W] | null, "select", "depth_multiplier",
  "weights": path | null}}`` → ``{"analysis": ModelAnalysis.to_dict()}``;
- anything that fails → ``{"error": message}`` (the engine's message, with its suggestion).

It ends at end of input. ``python -m sepconv_tui.workers.model_server bench`` instead reads one
request ``{"source", "select", "input_shape", "depth_multiplier", "device", "threads",
"weights", "min_run_time"}`` and times the original and the swapped model
(``core.model_bench.benchmark_model``), writing ``{"stage": i, "label": …}`` lines, then
``{"result": ModelBenchResult.to_dict()}`` or ``{"error": message}``.

The app keeps one analysis process running so that torch, torchvision and timm are
imported once, off the UI process (whose GIL a torch import would hold for seconds); it kills
the process to cancel an analysis and starts a fresh one for the next request.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from ..errors import first_line


def answer(line: str) -> dict[str, Any]:
    """The reply to one request line."""
    from ..model.analysis import SelectionError
    from ..model.plan import SwapError
    from ..model.source import ModelSourceError

    try:
        request = json.loads(line)
        if request.get("names"):
            from ..model.source import model_names

            return {"names": model_names()}
        options = request["analyze"]
        from ..model.trace import analyze_model

        shape = options.get("input_shape")
        analysis = analyze_model(
            options["source"],
            input_shape=tuple(shape) if shape is not None else None,
            select=options.get("select", "saving"),
            depth_multiplier=int(options.get("depth_multiplier", 1)),
            weights=options.get("weights"),
        )
        return {"analysis": analysis.to_dict()}
    except (ModelSourceError, SelectionError, SwapError) as error:
        return {"error": str(error)}
    except Exception as error:  # a model's own code can raise anything: report, never die
        return {"error": f"{type(error).__name__}: {first_line(error)}"}


def _write(message: dict[str, Any]) -> None:
    """One JSON line to the parent."""
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def bench(request: dict[str, Any]) -> dict[str, Any]:
    """Time one whole-model benchmark, writing its stages; the result or the error message."""
    from ..core.latency import BenchError
    from ..model.analysis import SelectionError
    from ..model.bench import MODEL_MIN_RUN_TIME_S, benchmark_model
    from ..model.plan import SwapError
    from ..model.source import ModelSourceError

    shape = request.get("input_shape")
    try:
        result = benchmark_model(
            request["source"],
            select=request.get("select", "saving"),
            input_shape=tuple(shape) if shape is not None else None,
            depth_multiplier=int(request.get("depth_multiplier", 1)),
            device=request.get("device", "cpu"),
            threads=request.get("threads"),
            weights=request.get("weights"),
            min_run_time=float(request.get("min_run_time", MODEL_MIN_RUN_TIME_S)),
            progress=lambda index, stage: _write({"stage": index, "label": stage}),
        )
    except (BenchError, ModelSourceError, SelectionError, SwapError) as error:
        return {"error": first_line(error)}
    except Exception as error:  # a model's own code can raise anything: report, never die
        return {"error": f"{type(error).__name__}: {first_line(error)}"}
    return {"result": result.to_dict()}


def main() -> None:
    """Answer requests until standard input closes (``bench``: time one request)."""
    if sys.argv[1:] == ["bench"]:
        _write(bench(json.loads(sys.stdin.readline())))
        return
    for line in sys.stdin:
        _write(answer(line))


if __name__ == "__main__":
    main()
