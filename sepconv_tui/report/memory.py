"""Render a Memory: a Rich table of weight and activation bytes per side and storage type."""

from __future__ import annotations

from dataclasses import dataclass

from rich import box
from rich.table import Table

from ..core.memory import DTYPE_BYTES, Memory, SideMemory, format_bytes

ACTIVATIONS_NOTE = (
    "Activations: input + output, plus the depthwise output the pointwise conv reads "
    "(separable side)."
)


@dataclass(frozen=True)
class MemoryRow:
    """One row: a side's weights or activations, in elements."""

    label: str
    elements: int


def memory_rows(memory: Memory) -> list[MemoryRow]:
    """Weights and activations of the standard conv, then of the separable block."""

    def rows(name: str, side: SideMemory) -> list[MemoryRow]:
        return [
            MemoryRow(f"{name} weights", side.weights),
            MemoryRow(f"{name} activations", side.activations),
        ]

    return rows("Standard", memory.standard) + rows("Separable", memory.separable)


def memory_table(memory: Memory) -> Table:
    """Bytes of each side's weights and activations at fp32, fp16 and int8."""
    table = Table(title="Memory", title_style="bold", box=box.ROUNDED, caption=ACTIVATIONS_NOTE)
    table.add_column("Tensors")
    for dtype in DTYPE_BYTES:
        table.add_column(dtype, justify="right", no_wrap=True)
    for index, row in enumerate(memory_rows(memory)):
        table.add_row(
            row.label,
            *(format_bytes(row.elements * size) for size in DTYPE_BYTES.values()),
            end_section=index == 1,
        )
    return table


def memory_markdown(memory: Memory) -> str:
    """The memory table as Markdown (exact bytes)."""
    dtypes = list(DTYPE_BYTES)
    lines = [
        "| Tensors | " + " | ".join(f"{dtype} bytes" for dtype in dtypes) + " |",
        "|---|" + "---:|" * len(dtypes),
    ]
    for row in memory_rows(memory):
        cells = " | ".join(f"{row.elements * DTYPE_BYTES[dtype]:,}" for dtype in dtypes)
        lines.append(f"| {row.label} | {cells} |")
    return "\n".join(lines + ["", f"_{ACTIVATIONS_NOTE}_", ""])
