"""Regenerate screenshots/*.svg from the same app states the snapshot tests pin."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from app_states import STATES  # noqa: E402

SCREENSHOTS = (
    "default",
    "mismatch",
    "help",
    "invalid",
    "preset",
    "small",
    "network",
    "sweep",
    "bench",
)


async def export(name: str) -> Path:
    """Drive a fresh app into state ``name`` and save its SVG."""
    state = STATES[name]
    app = state.make_app()
    async with app.run_test(size=state.size) as pilot:
        await state.run_before(pilot)
        return Path(app.save_screenshot(f"{name}.svg", path=str(ROOT / "screenshots")))


def main() -> None:
    """Export every screenshot the README shows."""
    for name in SCREENSHOTS:
        print(asyncio.run(export(name)))


if __name__ == "__main__":
    main()
