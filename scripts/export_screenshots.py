"""Regenerate screenshots/*.svg from the same app states the snapshot tests pin."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from app_states import STATES as LAYER_STATES  # noqa: E402
from model_states import MODEL_STATES  # noqa: E402

STATES = {**LAYER_STATES, **MODEL_STATES}

SCREENSHOTS = (
    "default",
    "mismatch",
    "help",
    "invalid",
    "preset",
    "small",
    "rank_1d",
    "network",
    "sweep",
    "bench",
    "model",
    "model_top",
    "model_error",
    "model_small",
    "model_fidelity",
    "model_recovered",
    "model_stale",
    "model_tradeoff",
    "model_bad_data",
    "model_tradeoff_small",
    "model_tradeoff_wide",
    "model_layers",
    "model_latency_chart",
    "model_matrix",
    "model_layers_int8",
)


async def export(name: str) -> Path:
    """Drive a fresh app into state ``name`` and save its SVG."""
    state = STATES[name]
    app = state.make_app()
    async with app.run_test(size=state.size) as pilot:
        await state.run_before(pilot)
        return Path(app.save_screenshot(f"{name}.svg", path=str(ROOT / "screenshots")))


def main() -> None:
    """Export every screenshot README.md and docs/ show (``--only NAME`` …: just those)."""
    names = list(SCREENSHOTS)
    if "--only" in sys.argv:
        names = sys.argv[sys.argv.index("--only") + 1 :]
        unknown = [name for name in names if name not in STATES]
        if not names or unknown:
            sys.exit(f"--only takes state names from tests/app_states.py, got {unknown or names}")
    for name in names:
        print(asyncio.run(export(name)))


if __name__ == "__main__":
    main()
