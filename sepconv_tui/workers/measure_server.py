"""A child process that answers PyTorch measurements: one JSON spec per stdin line.

``python -m sepconv_tui.workers.measure_server`` reads ``LayerSpec.to_dict()`` lines and writes
``{"figures": Figures.to_dict()}`` or ``{"error": message}`` lines; a line
``{"network": {"name", "width_multiplier", "resolution"}}`` gets ``{"verified": {...}}``
(``measure.verify_network``). It ends at end of input.
The app runs it so that importing torch (about a second at a time under the GIL) never
freezes the UI thread.
"""

from __future__ import annotations

import json
import sys

from ..core import measure
from ..core.networks import network_report
from ..core.spec import LayerSpec, SpecError


def answer(line: str) -> dict[str, object]:
    """The reply to one request line."""
    try:
        request = json.loads(line)
        if "network" in request:
            network = request["network"]
            report = network_report(
                network["name"], network["width_multiplier"], network["resolution"]
            )
            return {"verified": measure.verify_network(report).verified}
        spec = LayerSpec.from_dict(request)
        return {"figures": measure.figures(spec).to_dict()}
    except (KeyError, ValueError, SpecError, measure.MeasurementError) as error:
        return {"error": str(error)}


def main() -> None:
    """Answer requests until standard input closes."""
    for line in sys.stdin:
        sys.stdout.write(json.dumps(answer(line)) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
