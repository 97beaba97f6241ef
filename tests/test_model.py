"""Whole-model analysis: hand-worked figures, selections, JSON round trip, bad input via the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import run_cli

from sepconv_tui.model.describe.source import ModelSourceError, parse_input_shape, parse_source
from sepconv_tui.model.vocabulary.analysis import (
    ModelAnalysis,
    Selection,
    SelectionError,
    parse_selection,
)

MODELS = Path(__file__).parent / "models"
CUSTOM = f"{MODELS / 'custom_model.py'}:build"
SHAPE = (1, 3, 16, 16)

# Hand-worked on a 1×3×16×16 input; separable = depthwise (C_in → C_in, same geometry) +
# pointwise (C_in → C_out, 1×1), bias on both exactly when the original has one.
#   stem 3→8, 1×7, pad (0, 3), no bias, out 16×16:
#     params 8·3·7 = 168; MACs 8·256·3·7 = 43,008
#     sep params 3·7 + 3·8 = 45; MACs 3·256·7 + 8·256·3 = 5,376 + 6,144 = 11,520
#   same 8→16, 3×3, padding="same", bias, out 16×16:
#     params 16·8·9 + 16 = 1,168; MACs 16·256·8·9 = 294,912
#     sep params (8·9 + 8) + (8·16 + 16) = 224; MACs 8·256·9 + 16·256·8 = 18,432 + 32,768
#   reflect 16→16, 3×3, stride 2, reflect padding 1, no bias, out 8×8:
#     params 16·16·9 = 2,304; MACs 16·64·16·9 = 147,456
#     sep params 16·9 + 16·16 = 400; MACs 16·64·9 + 16·64·16 = 9,216 + 16,384 = 25,600
#   shared 16→16, 3×3, pad 1, no bias, called twice at 8×8: MACs 2 · 147,456 = 294,912
#     sep params 400; MACs 2 · 25,600 = 51,200
#   pointwise 16→32 1×1 + bias: 16·32 + 32 = 544; MACs 32·64·16 = 32,768 (1×1)
#   grouped 32→32 3×3 groups 4: 32·8·9 = 2,304; MACs 32·64·8·9 = 147,456 (grouped)
#   depthwise 32→32 3×3 groups 32: 32·9 = 288; MACs 32·64·9 = 18,432 (depthwise)
#   head Linear 32→10: 330 params, 320 MACs; BatchNorm2d(32): 64 params (other ops)
HAND_WORKED = {
    "stem": ((168, 43_008), (45, 11_520), (1, 8, 16, 16), 1),
    "same": ((1_168, 294_912), (224, 51_200), (1, 16, 16, 16), 1),
    "reflect": ((2_304, 147_456), (400, 25_600), (1, 16, 8, 8), 1),
    "shared": ((2_304, 294_912), (400, 51_200), (1, 16, 8, 8), 2),
    "pointwise": ((544, 32_768), None, (1, 32, 8, 8), 1),
    "grouped": ((2_304, 147_456), None, (1, 32, 8, 8), 1),
    "depthwise": ((288, 18_432), None, (1, 32, 8, 8), 1),
    "head": ((330, 320), None, (1, 10), 1),
}
TOTAL_PARAMS = 168 + 1_168 + 2_304 + 2_304 + 544 + 2_304 + 288 + 330 + 64  # 9,474
TOTAL_MACS = 43_008 + 294_912 + 147_456 + 294_912 + 32_768 + 147_456 + 18_432 + 320  # 979,264


@pytest.fixture(scope="module")
def custom() -> ModelAnalysis:
    """The custom model analysed once with every candidate swapped."""
    from sepconv_tui import analyze_model

    return analyze_model(CUSTOM, input_shape=SHAPE, select="all")


def test_custom_model_matches_hand_worked_figures(custom: ModelAnalysis) -> None:
    """Every row's params, MACs, output shape and calls are the hand-worked ones."""
    assert [layer.name for layer in custom.layers] == list(HAND_WORKED)
    for layer in custom.layers:
        standard, separable, output_shape, calls = HAND_WORKED[layer.name]
        assert (layer.standard.params, layer.standard.macs) == standard, layer.name
        got = (layer.separable.params, layer.separable.macs) if layer.separable else None
        assert got == separable, layer.name
        assert layer.output_shape == output_shape, layer.name
        assert layer.calls == calls, layer.name
    assert custom.original.params == TOTAL_PARAMS == 9_474
    assert custom.original.macs == TOTAL_MACS == 979_264
    assert (custom.other.params, custom.other.macs) == (64, 0)


def test_custom_model_geometry_and_reasons(custom: ModelAnalysis) -> None:
    """Per-axis geometry is kept, and every non-candidate says why."""
    rows = {layer.name: layer for layer in custom.layers}
    assert rows["stem"].kernel_size == (1, 7) and rows["stem"].padding == (0, 3)
    assert rows["same"].padding == "same" and rows["same"].bias
    assert rows["reflect"].padding_mode == "reflect" and rows["reflect"].stride == (2, 2)
    assert [name for name, row in rows.items() if row.candidate] == [
        "stem",
        "same",
        "reflect",
        "shared",
    ]
    assert rows["pointwise"].reason is not None and "1×1" in rows["pointwise"].reason
    assert rows["grouped"].reason == "grouped (groups = 4)"
    assert rows["depthwise"].reason is not None and "depthwise" in rows["depthwise"].reason
    assert rows["head"].kind == "linear" and not rows["head"].candidate


def test_the_two_methods_agree(custom: ModelAnalysis) -> None:
    """Closed form and PyTorch agree on params, MACs and shapes, both sides, on meta."""
    assert custom.verified == {"params": True, "macs": True, "shapes": True}
    assert custom.device == "meta"
    assert custom.input_shape == SHAPE


def test_all_swapped_totals(custom: ModelAnalysis) -> None:
    """Swapping every candidate removes exactly the hand-worked savings."""
    param_saving = (168 - 45) + (1_168 - 224) + (2_304 - 400) * 2
    mac_saving = (43_008 - 11_520) + (294_912 - 51_200) * 2 + (147_456 - 25_600)
    assert custom.swapped.params == TOTAL_PARAMS - param_saving == 4_599
    assert custom.swapped.macs == TOTAL_MACS - mac_saving == 338_496
    assert custom.param_ratio == pytest.approx(9_474 / 4_599)
    assert custom.mac_ratio == pytest.approx(979_264 / 338_496)
    assert custom.swapped_names == {"stem", "same", "reflect", "shared"}


def test_with_swaps_is_arithmetic(custom: ModelAnalysis) -> None:
    """Toggling one row changes the totals by that row's saving, without PyTorch."""
    kept = custom.with_swaps(frozenset({"stem", "same", "reflect"}))
    assert kept.swapped.params == custom.swapped.params + (2_304 - 400)
    assert kept.swapped.macs == custom.swapped.macs + (294_912 - 51_200)
    none = custom.with_swaps(frozenset())
    assert none.swapped == none.original == custom.original
    with pytest.raises(SelectionError, match="not swap candidates: grouped"):
        custom.with_swaps(frozenset({"grouped"}))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("saving", {"stem", "same", "reflect", "shared"}),
        ("all", {"stem", "same", "reflect", "shared"}),
        ("none", set()),
        ("top:1", {"same"}),  # ties with "shared" (243,712 MACs saved): model order wins
        ("top:3", {"same", "shared", "reflect"}),
        ("top:99", {"stem", "same", "reflect", "shared"}),
        ("s*", {"same", "shared", "stem"}),
        ("stem, reflect", {"stem", "reflect"}),
    ],
)
def test_selection_forms(custom: ModelAnalysis, text: str, expected: set[str]) -> None:
    """Each --swap form picks the candidates it says."""
    assert custom.select(text).swapped_names == expected


def test_saving_skips_blocks_with_more_params() -> None:
    """'saving' leaves out a candidate whose block has more params.

    A 4→1 1×2 conv without bias has 8 params; its block 4·2 + 4·1 = 12.
    """
    from torch import nn

    from sepconv_tui import analyze_model

    model = nn.Sequential(nn.Conv2d(4, 1, (1, 2), bias=False), nn.Conv2d(1, 64, 3))
    analysis = analyze_model(model, input_shape=(1, 4, 8, 8))
    first, second = analysis.layers
    assert first.candidate and first.param_saving == 8 - 12 and not first.swap
    assert second.swap


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("top:0", "top:N needs a whole number N ≥ 1"),
        ("top:x", "top:N needs a whole number N ≥ 1"),
        ("max:3", "the layers to swap must be saving, all, none, top:N"),
        ("", "the layers to swap must be saving, all, none, top:N"),
        ("stem,,same", "the layers to swap must be saving"),
    ],
)
def test_malformed_selections(text: str, message: str) -> None:
    """A malformed --swap names the accepted forms."""
    with pytest.raises(SelectionError, match=message):
        parse_selection(text)


def test_selection_text_round_trips() -> None:
    """str(Selection) is the text parse_selection reads back."""
    for text in ("saving", "all", "none", "top:3", "layer1.*,conv1"):
        assert str(parse_selection(text)) == text
    assert parse_selection("top:2") == Selection("top", count=2)


def test_patterns_that_match_no_candidate_are_errors(custom: ModelAnalysis) -> None:
    """A glob matching no candidate is an error naming it (never silently ignored)."""
    with pytest.raises(SelectionError, match="'grouped' matches no candidate.*grouped"):
        custom.select("stem,grouped")
    with pytest.raises(SelectionError, match="'layer9.*' matches no layer"):
        custom.select("layer9.*")


def test_json_round_trip(custom: ModelAnalysis) -> None:
    """to_dict → JSON → from_dict gives the same analysis and the same JSON."""
    document = json.loads(json.dumps(custom.to_dict()))
    rebuilt = ModelAnalysis.from_dict(document)
    assert rebuilt == custom
    assert rebuilt.to_dict() == custom.to_dict()
    assert document["original"] == {"params": 9_474, "macs": 979_264}
    assert document["swapped"] == {"params": 4_599, "macs": 338_496}
    stem = document["layers"][0]
    assert stem["kernel_size"] == [1, 7] and stem["separable"] == {"params": 45, "macs": 11_520}
    assert document["layers"][1]["padding"] == "same"
    assert set(document["verified"]) == {"params", "macs", "shapes"}


def test_markdown_and_csv_carry_the_totals(custom: ModelAnalysis) -> None:
    """Markdown and CSV exports hold the exact totals, before and after."""
    from sepconv_tui.report.model_export import to_csv, to_markdown

    markdown = to_markdown(custom)
    assert "**9,474**" in markdown and "**338,496**" in markdown
    rows = to_csv(custom).splitlines()
    assert rows[-1].startswith("total,total") and "9474,979264,4599,338496" in rows[-1]


def test_model_that_cannot_run_on_meta() -> None:
    """A forward calling .item() runs on real CPU tensors, and the notes say so."""
    from sepconv_tui import analyze_model

    source = f"{MODELS / 'custom_model.py'}:NeedsRealTensors"
    analysis = analyze_model(source, input_shape=SHAPE)
    assert analysis.device == "cpu"
    assert any("real CPU tensors" in note and "item()" in note for note in analysis.notes)
    # Conv2d(3, 4, 3, padding=1): 4·3·9 + 4 = 112 params; 4·256·27 = 27,648 MACs.
    assert (analysis.original.params, analysis.original.macs) == (112, 27_648)
    assert all(analysis.verified.values())


def test_meta_fallback_respects_the_memory_budget() -> None:
    """Over the memory budget, a model meta cannot run is refused, as bench refuses."""
    from sepconv_tui import analyze_model

    source = f"{MODELS / 'custom_model.py'}:NeedsRealTensors"
    with pytest.raises(ModelSourceError, match="over the memory budget"):
        analyze_model(source, input_shape=SHAPE, memory_budget_bytes=1024)


def test_a_module_passed_in_python_is_left_as_it_was() -> None:
    """An nn.Module on the CPU is counted on meta stand-ins; its weights stay where they were."""
    import torch
    from torch import nn

    from sepconv_tui import analyze_model

    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU()).train()
    before = model[0].weight.detach().clone()
    analysis = analyze_model(model, input_shape=(2, 3, 10, 10))
    assert model.training and model[0].weight.device.type == "cpu"
    assert torch.equal(model[0].weight, before)
    # 8·3·9 + 8 = 224 params; 2·8·100·27 = 43,200 MACs.
    assert (analysis.original.params, analysis.original.macs) == (224, 43_200)
    assert analysis.source == "Sequential"


def test_depth_multiplier() -> None:
    """m = 2 doubles the depthwise channels: stem's block is 3·2·7 + 6·8 params."""
    from sepconv_tui import analyze_model

    analysis = analyze_model(CUSTOM, input_shape=SHAPE, depth_multiplier=2)
    stem = analysis.layers[0]
    assert stem.separable is not None
    assert stem.separable.params == 3 * 2 * 7 + 6 * 8
    assert stem.separable.macs == 6 * 256 * 7 + 8 * 256 * 6
    assert all(analysis.verified.values())


def test_timm_source_uses_its_pretrained_input_size() -> None:
    """timm:resnet18 builds without weights at pretrained_cfg's input size and verifies."""
    pytest.importorskip("timm")
    from sepconv_tui import analyze_model

    analysis = analyze_model("timm:resnet18")
    assert analysis.input_shape == (1, 3, 224, 224)
    assert analysis.original.params == 11_689_512
    assert all(analysis.verified.values())


def test_module_source(monkeypatch: pytest.MonkeyPatch) -> None:
    """package.module:callable imports the module and calls the factory."""
    from sepconv_tui import analyze_model

    monkeypatch.syspath_prepend(str(MODELS))
    analysis = analyze_model("custom_model:CustomNet", input_shape=SHAPE, select="none")
    assert analysis.original.params == TOTAL_PARAMS
    assert analysis.swapped_names == frozenset()


def test_parse_source_forms() -> None:
    """Each SOURCE form parses to its kind."""
    assert parse_source("torchvision:resnet18").kind == "torchvision"
    assert parse_source("timm:resnet18").kind == "timm"
    assert parse_source("my_pkg.models:build").kind == "module"
    file_source = parse_source("path/to/net.py:Net")
    assert (file_source.kind, file_source.location, file_source.attribute) == (
        "file",
        "path/to/net.py",
        "Net",
    )
    assert parse_input_shape("2,3,64,48") == (2, 3, 64, 48)


def test_cli_json(capsys: pytest.CaptureFixture[str]) -> None:
    """`model --json` prints the analysis JSON and exits 0."""
    code, out, _ = run_cli(
        capsys, "model", CUSTOM, "--input-shape", "1,3,16,16", "--swap", "all", "--json"
    )
    assert code == 0
    document = json.loads(out)
    assert document["swapped"] == {"params": 4_599, "macs": 338_496}


def test_cli_table(capsys: pytest.CaptureFixture[str]) -> None:
    """The default output is the table with totals in exact and short form."""
    code, out, _ = run_cli(capsys, "model", CUSTOM, "--resolution", "16", "--swap", "top:2")
    assert code == 0
    assert "9,474" in out and "979,264" in out and "✔" in out
    assert "Swapped 2 of 4 candidate convs" in out


def write(tmp_path: Path, text: str) -> str:
    """A model file with ``text``; returns its path."""
    path = tmp_path / "broken_model.py"
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            ("torchvision:resnet5O",),
            "unknown torchvision model 'resnet5O'; did you mean 'resnet50'",
        ),
        (("resnet50",), "SOURCE must be torchvision:NAME, timm:NAME"),
        (("no_such_module_xyz:build",), "module 'no_such_module_xyz' not found"),
        (("missing/file.py:build",), "'missing/file.py' does not exist"),
        ((f"{MODELS / 'custom_model.py'}:nothing_here",), "has no callable 'nothing_here'"),
        ((f"{MODELS / 'custom_model.py'}:NOT_CALLABLE",), "a non-callable 'NOT_CALLABLE'"),
        ((f"{MODELS / 'custom_model.py'}:not_a_module",), "returned int, not a torch.nn.Module"),
        ((f"{MODELS / 'custom_model.py'}:raises",), "RuntimeError: boom from the factory"),
        ((CUSTOM, "--input-shape", "1,3,16"), "--input-shape: (1, 3, 16) has 3 numbers, but stem"),
        ((CUSTOM, "--input-shape", "1,3"), "--input-shape: must be 3 to 5 whole numbers"),
        ((CUSTOM, "--input-shape", "1,3,0,16"), "--input-shape: H must be 1–65,536"),
        ((CUSTOM, "--input-shape", "a,b,c,d"), "--input-shape: must be 3 to 5 whole numbers"),
        ((CUSTOM, "--input-shape", "1,4,16,16"), "the forward fails at input shape"),
        ((CUSTOM, "--input-shape", "1,3,1,1"), "the forward fails at input shape (1, 3, 1, 1)"),
        ((CUSTOM, "--swap", "top:0"), "--swap: top:N needs a whole number"),
        ((CUSTOM, "--swap", "layer9.*"), "--swap: 'layer9.*' matches no layer"),
        ((CUSTOM, "--depth-multiplier", "0"), "--depth-multiplier: the depth multiplier must be"),
    ],
)
def test_cli_bad_input_exits_2(
    capsys: pytest.CaptureFixture[str], arguments: tuple[str, ...], message: str
) -> None:
    """Every bad input: exit 2, one or two lines on stderr naming the problem, no traceback."""
    code, out, err = run_cli(capsys, "model", *arguments)
    assert code == 2
    assert message in err
    assert "Traceback" not in err and out == ""
    assert 1 <= len(err.strip().splitlines()) <= 2


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("raise ImportError('needs a package you lack')\n", "does not import: ImportError"),
        ("def build(:\n", "does not import: SyntaxError"),
    ],
)
def test_cli_file_that_does_not_import(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, text: str, message: str
) -> None:
    """A model file that fails to import: exit 2 with the file's own error."""
    code, _, err = run_cli(capsys, "model", write(tmp_path, text) + ":build")
    assert code == 2 and message in err and "Traceback" not in err


def test_conv_shape_error_names_the_layer(capsys: pytest.CaptureFixture[str]) -> None:
    """A forward failing on meta says which layer and which input (PyTorch's own message)."""
    code, _, err = run_cli(capsys, "model", CUSTOM, "--input-shape", "1,4,16,16")
    assert code == 2 and "in stem (Conv2d(3, 8" in err and "(1, 4, 16, 16)" in err


def test_model_modules_load_no_torch() -> None:
    """The analysis data, the source parser, the measure module and the report import no torch."""
    import subprocess
    import sys

    code = (
        "import sepconv_tui.model.vocabulary.analysis, sepconv_tui.model.describe.source, "
        "sepconv_tui.model.describe.trace, sepconv_tui.report.model_table, sepconv_tui\n"
        "import sys; print('torch' in sys.modules, 'textual' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.split() == ["False", "False"]


def test_a_model_file_loaded_again_keeps_its_classes_until_it_changes(tmp_path: Path) -> None:
    """A long-lived child builds from the same file many times: its classes stay the ones the
    models built before hold, so those still pickle for a timing child (the Model tab's l
    after g said "Can't pickle <class DigitsNet>: it's not the same object"); an edited file
    is imported afresh."""
    import io
    import os

    import torch

    from sepconv_tui.model.describe.source import build_model

    text = (
        "from torch import nn\n"
        "class Net(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.conv = nn.Conv2d(3, 4, 3)\n"
        "    def forward(self, x):\n"
        "        return self.conv(x)\n"
        "def build():\n"
        "    return Net()\n"
    )
    source = write(tmp_path, text) + ":build"
    first = build_model(source, real=True).module
    second = build_model(source, real=True).module
    assert type(first) is type(second)
    torch.save(first, io.BytesIO())  # the first model still pickles
    path = Path(source.rsplit(":", 1)[0])
    path.write_text(text + "# edited\n")
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000))
    assert type(build_model(source, real=True).module) is not type(first)
