"""The Model tab's ``e``: the analysis as selected, and what was measured of it, as files."""

from __future__ import annotations

import json
import re
from pathlib import Path

from ....model.vocabulary.plan import plan_from_analysis
from ....report import fidelity as fidelity_report
from ....report import layer_bench as layer_bench_report
from ....report import model_bench as model_bench_report
from ....report import model_export as model_report
from ...export import Export
from ...model_session import ModelSession


def export_stem(source: str) -> str:
    """A file stem for a source: sepconv-model-torchvision-resnet18, …-net.py-build."""
    tail = source.replace("\\", "/").rsplit("/", 1)[-1]
    return "sepconv-model-" + re.sub(r"[^A-Za-z0-9_.]+", "-", tail).strip("-")


def model_export(session: ModelSession) -> Export | None:
    """Markdown, JSON and CSV of the analysis as selected, and the selection's plan file;
    the fidelity measured, the per-layer timings, ``b``'s matrix, and the recovered model's folder
    (swapped.pt, swapped.onnx, plan.json, fidelity.json: what ``sepconv-tui fidelity
    --swapped`` reads). None before the first analysis."""
    analysis = session.analysis
    if analysis is None:
        return None
    plan = json.dumps(plan_from_analysis(analysis), indent=2) + "\n"
    extra = [(".csv", model_report.to_csv(analysis)), ("-plan.json", plan)]
    if session.fidelity is not None:
        extra.append(("-fidelity.json", fidelity_report.to_json(session.fidelity.value) + "\n"))
    if session.layers is not None:  # l's timings, as ``bench --per-layer --json`` writes them
        extra.append(("-layers.json", layer_bench_report.to_json(session.layers.value) + "\n"))
    if session.bench is not None:  # b's matrix, as ``bench --runtime all --json`` writes it
        extra.append(("-bench.json", model_bench_report.to_json(session.bench.value) + "\n"))
    folders = []
    recovery = session.recovery.value if session.recovery is not None else None
    if recovery is not None and recovery.out_dir is not None:
        folders.append(("-recovered", Path(recovery.out_dir)))
    return Export(
        export_stem(analysis.source),
        model_report.to_markdown(analysis),
        model_report.to_json(analysis),
        extra=tuple(extra),
        folders=tuple(folders),
    )
