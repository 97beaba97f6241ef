"""``--swap speedup:X``: the layers picked by measured time saved, predicted and confirmed.

The choice itself is arithmetic on per-layer times, tested here with injected times (where the
MAC ratio ranks the layers differently from the clock); the end-to-end tests time a small model
whose wide convs save time and check what is said and swapped, not how fast anything ran.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import run_cli

from sepconv_tui.core.latency import Timing
from sepconv_tui.model.analysis import SelectionError, parse_selection
from sepconv_tui.model.bench_result import LayerBench, LayerRow, LayerTiming
from sepconv_tui.model.speedup import SpeedupChoice, choose_by_speed, rank_by_speed

MODELS = Path(__file__).parent / "models"
WIDE = f"{MODELS / 'wide.py'}:build"


def row(name: str, mac_ratio: float, conv_s: float, block_s: float, calls: int = 1) -> LayerRow:
    """A candidate with injected conv and block medians on "onnxruntime"."""
    timings = {"onnxruntime": LayerTiming(Timing(conv_s, 0.0, 5, 1), Timing(block_s, 0.0, 5, 1))}
    return LayerRow(name, (1, 64, 56, 56), calls, 1, mac_ratio, False, timings)


def layers(whole_s: float = 20.0) -> LayerBench:
    """A model of ``whole_s`` whose stem has the best MAC ratio and saves the least time, as
    resnet18's 7×7 stem does on ONNX Runtime; layer4 is slower swapped."""
    rows = (
        row("stem", 27.75, 2.0, 1.0),  # saves 1
        row("layer1", 8.0, 4.0, 1.0),  # saves 3
        row("layer2", 8.0, 3.0, 1.0, calls=2),  # saves 4 (two calls)
        row("layer3", 7.0, 2.5, 0.5),  # saves 2
        row("layer4", 8.0, 1.0, 1.5),  # slower swapped: never picked
    )
    return LayerBench(
        "m", (1, 3, 224, 224), "none", 2, rows, {"onnxruntime": Timing(whole_s, 0, 5, 1)},
        {"onnxruntime": "onnxruntime 1"}, "torch",
    )  # fmt: skip


def test_parse_speedup() -> None:
    """speedup:X reads back; X must be above 1."""
    assert str(parse_selection("speedup:2.5")) == "speedup:2.5"
    for text in ("speedup:1", "speedup:x", "speedup:-2", "speedup:nan"):
        with pytest.raises(SelectionError, match="speedup:X needs a speed-up X above 1"):
            parse_selection(text)


def test_without_data_the_fewest_layers_by_time_saved_reach_x() -> None:
    """Largest time saved first (not MAC ratio: the stem comes last), the shortest prefix
    whose predicted T ÷ (T − saved) reaches X; a slower block is never taken."""
    bench = layers()
    assert rank_by_speed(bench, "onnxruntime") == ("layer2", "layer1", "layer3", "stem")
    choice = choose_by_speed(bench, 1.5, "onnxruntime")
    # 20 / (20 − 4) = 1.25 < 1.5; 20 / (20 − 7) = 1.54 ≥ 1.5.
    assert choice.chosen == ("layer2", "layer1")
    assert choice.predicted == pytest.approx(20 / 13)
    assert choice.best == pytest.approx(20 / 10) and choice.ranking == "time saved"
    assert SpeedupChoice.from_dict(choice.to_dict()) == choice


def test_with_data_the_ranking_is_agreement_lost_per_time_saved() -> None:
    """With each layer's agreement alone, the order is (1 − agreement) / time saved: a layer
    that costs little fidelity comes first even when it saves less time."""
    alone = {"stem": 0.999, "layer1": 0.90, "layer2": 0.80, "layer3": 0.99, "layer4": 1.0}
    bench = layers()
    # lost per second: stem 0.001, layer1 0.0333, layer2 0.05, layer3 0.005.
    assert rank_by_speed(bench, "onnxruntime", alone) == ("stem", "layer3", "layer1", "layer2")
    choice = choose_by_speed(bench, 1.5, "onnxruntime", alone)
    # stem + layer3 save 3 (1.18×), + layer1 saves 6: 20 / 14 = 1.43×, + layer2: 20 / 10 = 2×.
    assert choice.chosen == ("stem", "layer3", "layer1", "layer2")
    assert choice.ranking == "agreement lost per time saved" and choice.alone == alone


def test_out_of_reach_says_the_best_speedup_there_is() -> None:
    """X above what every time-saving layer gives: SelectionError with the best speed-up; a
    runtime where no block is faster says so."""
    with pytest.raises(SelectionError, match=r"the best is 2\.00×, swapping the 4 candidates"):
        choose_by_speed(layers(), 3.0, "onnxruntime")
    slow = LayerBench(
        "m", (1, 3, 8, 8), "none", 1, (row("a", 8.0, 1.0, 2.0),),
        {"onnxruntime": Timing(5, 0, 5, 1)}, {"onnxruntime": "o"}, "t",
    )  # fmt: skip
    with pytest.raises(SelectionError, match="no candidate's block runs faster than its conv"):
        choose_by_speed(slow, 1.1, "onnxruntime")


SUMMARY = re.compile(
    r"--swap speedup:(?P<target>[\d.]+) on eager: (?P<count>\d+) of 4 candidates by "
    r"(?P<ranking>[a-z ]+), predicted (?P<predicted>[\d.]+)× \(from each layer's time\), "
    r"measured (?P<measured>[\d.]+)× \(the whole model timed\)"
)


def test_model_speedup_picks_the_prefix_and_confirms_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """model --swap speedup:1.2 on one thread: the wide convs save time, so X is reached; the
    table swaps exactly the layers the sentence counts, with both figures said."""
    code, stdout, stderr = run_cli(
        capsys, "model", WIDE, "--input-shape", "1,3,32,32", "--swap", "speedup:1.2",
        "--threads", "1", "--json",
    )  # fmt: skip
    assert code == 0, stderr
    match = SUMMARY.search(stderr)
    assert match is not None, stderr
    assert float(match["predicted"]) >= 1.2 and float(match["measured"]) > 0
    assert match["ranking"] == "time saved"
    swapped = [layer["name"] for layer in json.loads(stdout)["layers"] if layer["swap"]]
    assert len(swapped) == int(match["count"]) >= 1
    assert set(swapped) <= {"body.0", "body.2", "body.4", "stem"}


def test_model_speedup_out_of_reach_exits_2_with_the_best(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """speedup:1000: exit 2, one line naming the runtime and the best speed-up measured."""
    code, stdout, stderr = run_cli(
        capsys, "model", WIDE, "--input-shape", "1,3,32,32", "--swap", "speedup:1000",
        "--threads", "1",
    )  # fmt: skip
    assert code == 2 and stdout == ""
    assert "--swap: speedup:1000 cannot be reached on eager: the best is" in stderr
    assert len(stderr.strip().splitlines()) == 1


def test_swap_speedup_with_data_ranks_by_agreement(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """swap --swap speedup:1.2 --data: ranked by agreement per time saved; the plan swaps
    the layers the sentence counts."""
    code, stdout, stderr = run_cli(
        capsys, "swap", WIDE, "--input-shape", "1,3,32,32", "--swap", "speedup:1.2",
        "--threads", "1", "--data", "synthetic:48", "--out", str(tmp_path), "--json",
    )  # fmt: skip
    assert code == 0, stderr
    match = SUMMARY.search(stderr)
    assert match is not None, stderr
    assert match["ranking"] == "agreement lost per time saved"
    assert len(json.loads(stdout)["swapped"]) == int(match["count"])
