"""Progress in words: what each stage of long work is called, for the CLI's bars on stderr and
the Model tab's progress row (one table, so the two front ends name a stage alike)."""

from __future__ import annotations

from ..progress import Progress

#: Each stage: (the CLI bar's title, the tab's short word).
STAGES = {
    "reconstruct": ("Least squares, layer by layer", "Reconstructing"),
    "distill": ("Distilling from the original", "Distilling"),
    "measure": ("Measuring held-out fidelity", "Measuring"),
    "rank": ("Each layer swapped alone", "Ranking each layer alone"),
    "curve": ("Growing the swap, measured", "Measuring the curve"),
    "time": ("Each layer timed alone", "Timing each layer alone"),
    "confirm": ("Timing the swapped model", "Confirming the speed-up"),
    "bench": ("Timing", "Timing"),
    "record": ("Recording the original at every candidate", "Recording the original"),
    "sensitivity": ("Each layer alone at each m", "Sensitivity"),
    "frontier": ("Measuring frontier points whole", "Measuring the frontier"),
    "limits": ("Measuring this machine's peaks and bandwidth", "Measuring this machine's limits"),
}


def bar_title(progress: Progress) -> str:
    """A stage's bar title on the CLI ("measure" bars name what they measure)."""
    title = STAGES.get(progress.stage, (progress.stage, progress.stage))[0]
    return f"{title} ({progress.label})" if progress.stage == "measure" else title


def progress_text(progress: Progress) -> str:
    """A fidelity, recovery, trade-off or speed-up Progress in the Model tab's words."""
    stage = STAGES.get(progress.stage, (progress.stage, progress.stage))[1]
    count = f"{progress.done}/{progress.total}"
    if progress.stage == "measure":
        return f"{stage} {progress.label}: {count} samples"
    if progress.stage == "distill":
        return f"{stage}: step {count} ({progress.label})"
    if progress.stage == "bench":  # its labels say what is timed ("timing on … at …")
        return f"{progress.label[:1].upper()}{progress.label[1:]} ({count})"
    if progress.stage == "confirm":
        return f"{stage}: {progress.label} ({count})"
    if progress.stage == "sensitivity":
        return f"{stage}: {progress.label} ({count} rungs)"
    if progress.stage == "frontier":
        return f"{stage}: {progress.label} (point {progress.done})"
    if progress.stage == "record":
        return f"{stage}…"
    if progress.stage == "limits":
        return f"{stage} at {progress.label} (once, then cached)…"
    return f"{stage}: {progress.label} ({count} layers)"
