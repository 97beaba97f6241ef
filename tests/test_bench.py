"""Memory figures and measured latency: sizes against real tensors, the budget, the bench JSON."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from sepconv_tui import LayerSpec, compare
from sepconv_tui.core.latency import BenchError, BenchResult, benchmark, estimate_bytes
from sepconv_tui.core.layers import separable_block, standard_conv
from sepconv_tui.core.memory import DTYPE_BYTES
from sepconv_tui.report import latency as latency_report

SPECS = [
    LayerSpec(),
    LayerSpec(in_channels=8, out_channels=12, kernel_size=5, stride=2, padding=1, dilation=2),
    LayerSpec(in_channels=4, out_channels=6, depth_multiplier=3, bias=False, batch=2),
]


@pytest.mark.parametrize("spec", SPECS)
def test_memory_matches_real_tensors_at_every_dtype(spec: LayerSpec) -> None:
    """Weight and activation bytes equal the nbytes of real modules and outputs in each dtype."""
    memory = compare(spec).memory
    dtypes = {"fp32": torch.float32, "fp16": torch.float16, "int8": torch.int8}
    for name, dtype in dtypes.items():
        standard, separable = standard_conv(spec), separable_block(spec)
        x = torch.zeros(spec.input_shape)
        with torch.no_grad():
            middle = separable.depthwise(x)
            outputs = {"standard": standard(x), "separable": separable.pointwise(middle)}
        for side, module in (("standard", standard), ("separable", separable)):
            side_memory = getattr(memory, side)
            weight_bytes = sum(p.to(dtype).nbytes for p in module.parameters())
            activations = [x, outputs[side]] + ([middle] if side == "separable" else [])
            activation_bytes = sum(t.to(dtype).nbytes for t in activations)
            assert side_memory.weight_bytes(name) == weight_bytes
            assert side_memory.activation_bytes(name) == activation_bytes
    assert DTYPE_BYTES == {"fp32": 4, "fp16": 2, "int8": 1}


def test_reference_memory_in_json() -> None:
    """The reference layer: 448 and 94 weights, fp32 bytes, the depthwise intermediate."""
    memory = compare(LayerSpec()).to_dict()["memory"]
    assert memory["standard"]["bytes"]["fp32"]["weights"] == 448 * 4
    assert memory["separable"]["bytes"]["int8"]["weights"] == 94
    assert memory["separable"]["elements"]["intermediate"] == 3 * 32 * 32
    assert memory["standard"]["elements"]["intermediate"] == 0


@pytest.mark.parametrize("spec", SPECS)
def test_benchmark_times_both_sides_and_its_estimate_is_exact(spec: LayerSpec) -> None:
    """Medians are positive, the estimate equals what the run allocated, ratios as defined."""
    result = benchmark(spec, threads=1, min_run_time=0.01)
    assert result.standard.median_s > 0 and result.separable.median_s > 0
    assert result.speed_ratio == result.standard.median_s / result.separable.median_s
    assert result.mac_ratio == compare(spec).mac_ratio
    assert result.allocated_bytes == result.estimated_bytes == estimate_bytes(spec)
    assert result.threads == 1
    assert BenchResult.from_dict(json.loads(latency_report.to_json(result))) == result


def test_budget_refusal_happens_before_allocating() -> None:
    """A tiny budget refuses with the size and the budget named, before torch allocates."""
    spec = LayerSpec(in_channels=512, out_channels=512, height=224, width=224)
    with pytest.raises(BenchError, match=r"refusing to allocate 402\.02 MiB.*1\.00 KiB"):
        benchmark(spec, budget_bytes=1024)


def test_layer_without_output_is_refused() -> None:
    """A kernel wider than the padded input cannot be timed; the reason says why."""
    with pytest.raises(BenchError, match="cannot time"):
        benchmark(LayerSpec(kernel_size=15, padding=0, height=8, width=8), budget_bytes=10**9)


def test_speed_message_explains_divergence() -> None:
    """Speed far below the MAC ratio, or far above it, each get their explanation."""
    measured = benchmark(LayerSpec(), threads=1, min_run_time=0.01).to_dict()

    def with_separable_median(median_s: float) -> str:
        separable = {**measured["separable"], "median_s": median_s}
        return latency_report.speed_message(
            BenchResult.from_dict({**measured, "separable": separable})
        )

    standard_s = measured["standard"]["median_s"]
    assert "runs 1.00× faster" in with_separable_median(standard_s)
    assert "memory traffic" in with_separable_median(standard_s)
    assert "runs 2.00× slower" in with_separable_median(2 * standard_s)
    assert "1.75 KiB of fp32 weights" in with_separable_median(standard_s / 20)
    assert with_separable_median(standard_s / 5.76).endswith("fewer MACs.")  # as predicted


def run_bench(*arguments: str) -> subprocess.CompletedProcess[str]:
    """``python -m sepconv_tui bench`` with ``arguments``."""
    return subprocess.run(
        [sys.executable, "-m", "sepconv_tui", "bench", *arguments],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_bench_json_has_the_documented_keys() -> None:
    """--json: standard.median_s, separable.median_s, speed_ratio, mac_ratio, device, threads."""
    result = run_bench("--json", "--threads", "1")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["standard"]["median_s"] > 0 and document["separable"]["median_s"] > 0
    assert document["speed_ratio"] == pytest.approx(
        document["standard"]["median_s"] / document["separable"]["median_s"]
    )
    assert document["mac_ratio"] == pytest.approx(442368 / 76800)
    assert (document["device"], document["threads"]) == ("cpu", 1)


def test_bench_refusal_and_absent_cuda_exit_2_with_one_line() -> None:
    """Over budget, or cuda on a machine without it: exit 2, one line, no traceback."""
    refused = run_bench("--memory-budget-mb", "1", "--height", "4096", "--width", "4096")
    assert refused.returncode == 2
    assert refused.stderr.count("\n") == 1 and "memory budget of 1.00 MiB" in refused.stderr
    if not torch.cuda.is_available():
        cuda = run_bench("--device", "cuda")
        assert cuda.returncode == 2
        assert "CUDA is not available" in cuda.stderr and "Traceback" not in cuda.stderr
