"""A child process that analyses models for the app: one JSON request per stdin line.

``python -m sepconv_tui.core.model_server`` answers, one line each:

- ``{"names": true}`` → ``{"names": ["torchvision:alexnet", …, "timm:…"]}`` (``model_names``);
- ``{"analyze": {"source", "input_shape": [N, C, H, W] | null, "select", "depth_multiplier",
  "weights": path | null}}`` → ``{"analysis": ModelAnalysis.to_dict()}``;
- anything that fails → ``{"error": message}`` (the engine's message, with its suggestion).

It ends at end of input. The app keeps one running so that torch, torchvision and timm are
imported once, off the UI process (whose GIL a torch import would hold for seconds); it kills
the process to cancel an analysis and starts a fresh one for the next request.
"""

from __future__ import annotations

import json
import sys
from typing import Any


def _first_line(error: BaseException) -> str:
    """The error's first line, prefixed with its type when it is not one of ours."""
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def answer(line: str) -> dict[str, Any]:
    """The reply to one request line."""
    from .model_analysis import SelectionError
    from .model_source import ModelSourceError
    from .swap_plan import SwapError

    try:
        request = json.loads(line)
        if request.get("names"):
            from .model_source import model_names

            return {"names": model_names()}
        options = request["analyze"]
        from .model_measure import analyze_model

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
        return {"error": f"{type(error).__name__}: {_first_line(error)}"}


def main() -> None:
    """Answer requests until standard input closes."""
    for line in sys.stdin:
        sys.stdout.write(json.dumps(answer(line)) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
