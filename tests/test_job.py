"""The model job and the one build path: the wire round trip, the memory check, the cache, and
a scan that no other module builds a real model or swaps."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import torch

from sepconv_tui.model.describe.source import ModelSourceError, SourceKind, parse_source
from sepconv_tui.model.swapping.cache import BuildCache
from sepconv_tui.model.swapping.job import MemoryBudgetError, ModelJob, build_pair
from sepconv_tui.model.swapping.swap import save
from sepconv_tui.model.vocabulary.analysis import (
    AutoDepth,
    Selection,
    SelectionError,
    parse_selection,
)

MODELS = Path(__file__).parent / "models"
CUSTOM = f"{MODELS / 'custom_model.py'}:build"
SHAPE = (1, 3, 16, 16)
PACKAGE = Path(__file__).parent.parent / "sepconv_tui"


def test_source_kinds_format_as_their_value() -> None:
    """A source kind prints as its value on every Python (3.11 changed ``(str, Enum)``)."""
    assert str(SourceKind.TORCHVISION) == "torchvision" and f"{SourceKind.TIMM}" == "timm"
    assert parse_source("torchvision:resnet18").kind is SourceKind.TORCHVISION
    assert parse_source(CUSTOM).kind is SourceKind.FILE
    assert parse_source("pkg.mod:build").kind is SourceKind.MODULE
    assert str(parse_source("timm:resnet18")) == "timm:resnet18"


def test_a_job_round_trips_through_the_wire_codec() -> None:
    """to_dict → JSON → from_dict gives the same job, and a message carries it nested."""
    import json

    from sepconv_tui.ipc.wire import decode, encode
    from sepconv_tui.workers.model_messages import MeasureFidelity

    jobs = [
        ModelJob(
            parse_source(CUSTOM),
            weights="w.pt",
            input_shape=SHAPE,
            selection=Selection("names", patterns=("conv1", "block.*")),
            depth_multiplier={"conv1": 2, "block.0": 1},
            init="random",
            device="cuda",
            threads=2,
            budget_bytes=1 << 20,
        ),
        ModelJob(parse_source("torchvision:resnet18"), depth_multiplier=AutoDepth(0.9)),
        ModelJob(
            parse_source("timm:resnet18"), selection=parse_selection("top:3"), swapped_dir="d"
        ),
    ]
    for job in jobs:
        assert ModelJob.from_dict(json.loads(json.dumps(job.to_dict()))) == job
    request = MeasureFidelity(job=jobs[0], data="synthetic:8")
    assert decode(encode(request)) == request


def test_a_module_stays_in_its_process_and_budgets_stay_above_the_job() -> None:
    """A module given in Python does not cross; agreement:X and speedup:X are not a plan."""
    module = torch.nn.Conv2d(3, 8, 3)
    with pytest.raises(ModelSourceError, match="stays in its process"):
        ModelJob(module).to_dict()
    with pytest.raises(SelectionError, match="resolve|needs the data"):
        ModelJob(parse_source(CUSTOM), selection=parse_selection("agreement:0.9"))
    with pytest.raises(SelectionError, match="resolve|needs the data"):
        ModelJob(parse_source(CUSTOM), selection=parse_selection("speedup:1.5"))
    with pytest.raises(TypeError, match="parse_source"):
        ModelJob(CUSTOM)


def test_build_pair_swaps_and_keeps_the_original_in_the_cache() -> None:
    """The original is built once per (source, weights); each job's swap is a fresh copy."""
    cache = BuildCache()
    job = ModelJob(parse_source(CUSTOM), input_shape=SHAPE, selection=Selection("all"))
    original, swapped, result = build_pair(job, cache)
    assert result.model is swapped and result.original is original
    assert result.swapped and result.input_shape == SHAPE and result.source == str(job.source)
    again, swapped_again, _ = build_pair(job.with_plan(Selection("none")), cache)
    assert again is original and swapped_again is not swapped
    assert cache.builds == {"original": 1}
    assert not any(
        isinstance(module, type(swapped.get_submodule(result.swapped[0])))
        for module in original.modules()
    )


def test_build_pair_refuses_over_the_memory_budget_naming_the_field() -> None:
    """Over the budget: MemoryBudgetError naming the field, before anything is built."""
    cache = BuildCache()
    job = ModelJob(parse_source(CUSTOM), input_shape=(1, 3, 512, 512), budget_bytes=1 << 20)
    with pytest.raises(MemoryBudgetError, match="over the memory budget of 1.00 MiB") as error:
        build_pair(job, cache)
    assert error.value.field == "memory_budget_mb"
    assert cache.builds == {}


def test_build_pair_reads_a_saved_swap(tmp_path: Path) -> None:
    """swapped_dir: the saved plan applied and swapped.pt loaded, outputs as saved."""
    from dataclasses import replace

    job = ModelJob(parse_source(CUSTOM), input_shape=SHAPE, selection=Selection("all"))
    torch.manual_seed(0)
    _original, swapped, result = build_pair(job)
    save(result, tmp_path / "out")
    torch.manual_seed(0)  # the same random original: no weights file
    loaded_original, loaded, loaded_result = build_pair(
        replace(job, swapped_dir=str(tmp_path / "out"))
    )
    assert loaded_result.swapped == result.swapped
    assert loaded_result.weight_error == pytest.approx(result.weight_error)
    x = torch.randn(SHAPE)
    with torch.no_grad():
        assert torch.allclose(loaded(x), swapped(x), atol=1e-5)


def test_one_export_parses_the_source_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``sepconv-tui export`` parses SOURCE at the edge, once."""
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    from sepconv_tui.cli import main
    from sepconv_tui.model.describe import source

    calls: list[str] = []
    parse = source.parse_source

    def counting(text: str) -> source.ModelSource:
        calls.append(text)
        return parse(text)

    monkeypatch.setattr(source, "parse_source", counting)
    for module in (
        "sepconv_tui.cli.model",
        "sepconv_tui.model.describe.trace",
        "sepconv_tui.model.measure.data",
        "sepconv_tui.model.swapping.job",
    ):
        imported = __import__(module, fromlist=["parse_source"])
        if hasattr(imported, "parse_source"):
            monkeypatch.setattr(imported, "parse_source", counting)
    code = main(["export", CUSTOM, "--input-shape", "1,3,16,16", "--out", str(tmp_path / "m.onnx")])
    assert code == 0
    assert calls == [CUSTOM]


# The build path: the only module that builds a real model, loads weights into one, or swaps.
BUILD_PATH = {"model/swapping/job.py"}
# Modules that do so for now, each with why. Nothing else may.
ALLOWED = {
    # The analysis, not a pair: a forward the meta device cannot run is traced on real CPU
    # tensors (no weights loaded, no swap, its own input budget). It sits below job.py in the
    # chain, so it cannot call build_pair.
    "model/describe/trace.py",
}


def _builds(tree: ast.AST) -> list[str]:
    """What a module's code calls that builds a real model, loads weights into one or swaps
    (weights assigned onto a meta build, ``assign=True``, allocate no model: not counted)."""
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
        keywords = {keyword.arg: keyword.value for keyword in node.keywords}
        real, assign = keywords.get("real"), keywords.get("assign")
        if name == "build_model" and isinstance(real, ast.Constant) and real.value is True:
            found.append("build_model(real=True)")
        elif name == "load_weights" and isinstance(assign, ast.Constant) and assign.value:
            continue
        elif name in ("swap_convs", "apply_plan", "load_weights"):
            found.append(f"{name}(")
    return found


def test_only_the_build_path_builds_a_real_model_or_swaps() -> None:
    """A scan of sepconv_tui/: build_model(real=True), swap_convs, apply_plan and
    load_weights are called from the build path alone (and the allow-list above)."""
    offenders = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        where = path.relative_to(PACKAGE).as_posix()
        if where in BUILD_PATH | ALLOWED:
            continue
        found = _builds(ast.parse(path.read_text(encoding="utf-8")))
        if found:
            offenders[where] = found
    assert offenders == {}
    # The scan sees what it looks for: the build path itself is found by it.
    job = PACKAGE / "model" / "swapping" / "job.py"
    assert _builds(ast.parse(job.read_text(encoding="utf-8")))


def test_the_cli_names_the_memory_budget_flag(capsys: pytest.CaptureFixture[str]) -> None:
    """fidelity over --memory-budget-mb: exit 2, one line led by the flag, nothing built."""
    from sepconv_tui.cli import main

    code = main(
        [
            "fidelity",
            CUSTOM,
            "--input-shape",
            "1,3,512,512",
            "--data",
            "synthetic:4",
            "--memory-budget-mb",
            "1",
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "error: --memory-budget-mb: refusing to allocate about" in err
    assert "over the memory budget of 1.00 MiB" in err
