"""The memory budget every run that allocates checks against: a quarter of what is free.

Shared by the layer benchmark, the whole-model code (materialising, swapping, data) and the
app's children, so that each refuses work the same way.
"""

from __future__ import annotations

import os


def free_ram_bytes() -> int:
    """Memory the kernel says is available (MemAvailable), or free pages where it has none."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def default_budget_bytes(device: str) -> int:
    """A quarter of the free RAM (cpu) or of the free GPU memory (cuda)."""
    if device == "cuda":
        import torch

        free, _total = torch.cuda.mem_get_info()
        return free // 4
    return free_ram_bytes() // 4


def resolve_budget(budget_bytes: int | None, device: str = "cpu") -> int:
    """``budget_bytes`` when given, else ``default_budget_bytes(device)``."""
    return budget_bytes if budget_bytes is not None else default_budget_bytes(device)
