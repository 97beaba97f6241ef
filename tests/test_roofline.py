"""The machine record and the roofline limit: flags, the cache, and bounds against the MACs."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from sepconv_tui.core.analytic import figures
from sepconv_tui.core.spec import LayerSpec
from sepconv_tui.model.latency import roofline
from sepconv_tui.model.latency.roofline import (
    Limits,
    RooflineError,
    layer_bound,
    machine_limits,
    model_bounds,
    spec_bound,
)
from sepconv_tui.model.vocabulary.machine import (
    Machine,
    kernel_flags,
    parse_cpuinfo,
    this_machine,
)

X86_CPUINFO = """processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) Platinum 8480+
flags\t\t: fpu sse avx2 avx512f avx512_vnni avx512_bf16 amx_tile amx_bf16 amx_int8
processor\t: 1
model name\t: Intel(R) Xeon(R) Platinum 8480+
flags\t\t: fpu sse avx2
"""
ARM_CPUINFO = """processor\t: 0
BogoMIPS\t: 243.75
Features\t: fp asimd evtstrm aes crc32 asimddp sve i8mm bf16
CPU implementer\t: 0x41
"""
#: A 1-thread machine in the shape of the one the issue was measured on (figures rounded).
SERVER = Limits(1, {"fp32": 1.4e11, "bf16": 6e11, "int8": 1e12}, 1e10, {})


def test_cpuinfo_gives_the_model_and_the_kernel_flags_in_order() -> None:
    """x86: the first CPU's model name and flags; only the kernel-deciding flags are kept."""
    name, flags = parse_cpuinfo(X86_CPUINFO)
    assert name == "Intel(R) Xeon(R) Platinum 8480+"
    assert kernel_flags(flags) == (
        "avx2",
        "avx512f",
        "avx512_vnni",
        "avx512_bf16",
        "amx_bf16",
        "amx_int8",
    )


def test_arm_features_are_its_flags() -> None:
    """ARM lists "Features", and has no model name there."""
    name, flags = parse_cpuinfo(ARM_CPUINFO)
    assert name is None
    assert kernel_flags(flags) == ("asimd", "asimddp", "sve", "bf16", "i8mm")


def test_the_machine_record_has_the_design_keys_and_round_trips() -> None:
    """``"machine"`` carries cpu, flags, cores, threads, versions, peak_flops and bandwidth."""
    machine = this_machine(1).with_limits({"fp32": 1e11}, 1e10, {"bf16": "openvino is missing"})
    values = machine.to_dict()
    assert set(values) == {
        "cpu",
        "flags",
        "cores",
        "threads",
        "versions",
        "peak_flops",
        "bandwidth_bytes_s",
        "peak_absent",
    }
    assert values["threads"] == 1 and values["cores"] >= 1 and values["cpu"]
    assert "torch" in values["versions"]
    assert Machine.from_dict(json.loads(json.dumps(values))) == machine
    assert "threads" in machine.caption


def test_the_machine_record_loads_no_torch() -> None:
    """Versions come from package metadata: describing the machine imports nothing heavy."""
    code = (
        "import sys; from sepconv_tui.model.vocabulary.machine import this_machine; "
        "this_machine(1); "
        "print(sorted({'torch', 'onnxruntime', 'openvino'} & set(sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def fake_measure(calls: list[int]) -> Callable[[int], Limits]:
    """A measurement that counts its calls and gives fixed figures."""

    def measure(threads: int) -> Limits:
        calls.append(threads)
        return Limits(threads, {"fp32": 1e11}, 1e10, {"int8": "onnxruntime is not installed"})

    return measure


def test_limits_are_measured_once_per_thread_count_and_cached(tmp_path: Path) -> None:
    """The first call measures and writes the cache; the next reads it; another thread count or
    ``refresh`` measures again; an unreadable cache is measured over."""
    calls: list[int] = []
    measure = fake_measure(calls)
    first = machine_limits(1, cache_dir=tmp_path, measure=measure)
    assert first.peak_flops == {"fp32": 1e11} and first.bandwidth_bytes_s == 1e10
    assert first.peak_absent == {"int8": "onnxruntime is not installed"}
    assert machine_limits(1, cache_dir=tmp_path, measure=measure) == first
    assert calls == [1]
    machine_limits(2, cache_dir=tmp_path, measure=measure)
    machine_limits(1, cache_dir=tmp_path, measure=measure, refresh=True)
    assert calls == [1, 2, 1]
    cache = tmp_path / roofline.CACHE_FILE
    assert len(json.loads(cache.read_text())) == 2
    cache.write_text("{not json")
    machine_limits(1, cache_dir=tmp_path, measure=measure)
    assert calls == [1, 2, 1, 1]
    assert [path.name for path in tmp_path.iterdir()] == [roofline.CACHE_FILE]


def test_the_cache_lives_under_the_users_cache_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """$XDG_CACHE_HOME/sepconv-tui, where a test points it at a temporary folder."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    machine_limits(1, measure=fake_measure([]))
    assert (tmp_path / "sepconv-tui" / roofline.CACHE_FILE).exists()


def test_a_precision_without_a_peak_says_why() -> None:
    """No peak at int8: the bound refuses, quoting the reason it was not measured."""
    limits = Limits(1, {"fp32": 1e11}, 1e10, {"int8": "onnxruntime is not installed"})
    with pytest.raises(RooflineError, match="int8 .*onnxruntime is not installed"):
        spec_bound(LayerSpec(), "int8", limits)


linked_specs = st.builds(
    LayerSpec,
    in_channels=st.integers(1, 256),
    out_channels=st.integers(1, 256),
    kernel_size=st.sampled_from([1, 3, 5, 7]),
    stride=st.integers(1, 2),
    padding=st.integers(0, 3),
    bias=st.booleans(),
    depth_multiplier=st.integers(1, 4),
    batch=st.integers(1, 4),
    height=st.integers(7, 64),
    width=st.integers(7, 64),
)


@given(
    spec=linked_specs,
    peak=st.floats(1e9, 1e13),
    bandwidth=st.floats(1e9, 1e11),
    precision=st.sampled_from(["fp32", "bf16", "int8"]),
)
def test_the_bound_is_never_above_the_mac_ratio(
    spec: LayerSpec, peak: float, bandwidth: float, precision: str
) -> None:
    """Wherever the block has fewer MACs, the roofline speed-up is at most the MAC ratio: the
    block's memory traffic only adds to its time."""
    sides = figures(spec)
    assume(sides.standard.macs is not None and sides.separable.macs is not None)
    assert sides.standard.macs is not None and sides.separable.macs is not None
    mac_ratio = sides.standard.macs / sides.separable.macs
    assume(mac_ratio >= 1)
    bound = spec_bound(spec, precision, Limits(1, {precision: peak}, bandwidth, {}))
    assert bound.mac_ratio == pytest.approx(mac_ratio)
    assert bound.bound_speed_ratio <= mac_ratio * (1 + 1e-9)


def test_a_memory_bound_depthwise_conv_puts_the_bound_far_below_the_mac_ratio() -> None:
    """resnet18's layer1 conv (64 → 64, 3×3, 56×56): the depthwise conv is memory-bound, so at
    int8 (a high peak, the same bandwidth) the bound is under half the MAC ratio, as the closed
    form max(k²·C, s·R) / (max(k², s·R) + max(C, s·R)) says (R = peak / bandwidth, s bytes)."""
    spec = LayerSpec(in_channels=64, out_channels=64, height=56, width=56)
    fp32, int8 = (spec_bound(spec, precision, SERVER) for precision in ("fp32", "int8"))
    assert fp32.depthwise_memory_bound and int8.depthwise_memory_bound
    assert int8.mac_ratio == pytest.approx(9 * 64 / (9 + 64))
    assert int8.bound_speed_ratio < int8.mac_ratio / 2
    assert int8.bound_speed_ratio < fp32.bound_speed_ratio < fp32.mac_ratio
    for bound, element_bytes in ((fp32, 4), (int8, 1)):
        traffic = element_bytes * SERVER.peak(bound.precision) / SERVER.bandwidth_bytes_s
        closed_form = max(9 * 64, traffic) / (max(9, traffic) + max(64, traffic))
        assert bound.bound_speed_ratio == pytest.approx(closed_form, rel=0.03)
    values = int8.to_dict()
    assert values["bound_speed_ratio"] == int8.bound_speed_ratio
    assert values["bytes"]["depthwise"] == 64 * 56 * 56 * 2 + 64 * 9 + 64


def test_a_models_layer_is_bounded_as_the_layer_alone() -> None:
    """A traced candidate's bound equals the one-layer bound of the same geometry."""
    from torch import nn

    from sepconv_tui.model.describe.trace import analyze_model

    model = nn.Sequential(nn.Conv2d(8, 32, 3, padding=1, stride=2), nn.ReLU())
    analysis = analyze_model(model, input_shape=(2, 8, 20, 20), select="all")
    layer = next(layer for layer in analysis.layers if layer.candidate)
    spec = LayerSpec(in_channels=8, out_channels=32, stride=2, batch=2, height=20, width=20)
    ours, alone = layer_bound(layer, "fp32", SERVER), spec_bound(spec, "fp32", SERVER)
    assert (ours.conv, ours.depthwise, ours.pointwise) == (
        alone.conv,
        alone.depthwise,
        alone.pointwise,
    )
    assert ours.name == "0"
    assert list(model_bounds(analysis.layers, "fp32", SERVER)) == ["0"]


@pytest.mark.deploy
@pytest.mark.openvino
def test_the_limits_are_measured_in_each_precisions_runtime(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """fp32 in torch, int8 in ONNX Runtime, bf16 in OpenVINO (absent, with the reason, where this
    CPU runs it at f32); a runtime that is not installed leaves its precision absent."""
    pytest.importorskip("onnxruntime")
    pytest.importorskip("openvino")
    monkeypatch.setattr(roofline, "MATMUL_SIZE", 256)
    monkeypatch.setattr(roofline, "STREAM_BYTES", 32 * 2**20)
    monkeypatch.setattr(roofline, "MEASURE_S", 0.02)
    monkeypatch.setitem(roofline.PEAKS, "int8", (roofline.PEAKS["int8"][0], "no_such_runtime"))
    limits = roofline.measure_limits(1)
    assert limits.bandwidth_bytes_s > 1e8
    assert limits.peak_flops["fp32"] > 1e8
    assert limits.absent["int8"] == "no_such_runtime is not installed"
    assert ("bf16" in limits.peak_flops) != ("bf16" in limits.absent)
    monkeypatch.setitem(roofline.PEAKS, "int8", (roofline.peak_int8, "onnxruntime"))
    assert roofline.measure_limits(1, ("int8",)).peak_flops["int8"] > 1e8


@pytest.mark.openvino
def test_bf16_is_absent_where_openvino_runs_it_at_f32(monkeypatch: pytest.MonkeyPatch) -> None:
    """A CPU without bf16 kernels: OpenVINO compiles the bf16 matmul at f32, so bf16 has no
    peak, and the reason says what ran (the peak is never scaled from fp32)."""
    pytest.importorskip("openvino")
    from sepconv_tui.model.deploy import openvino_timer

    monkeypatch.setattr(
        openvino_timer, "node_precisions", lambda compiled: [("FullyConnected", "fp32")]
    )
    monkeypatch.setattr(roofline, "MATMUL_SIZE", 64)
    monkeypatch.setattr(roofline, "STREAM_BYTES", 2**20)
    monkeypatch.setattr(roofline, "MEASURE_S", 0.01)
    limits = roofline.measure_limits(1, ("fp32", "bf16"))
    assert "bf16" not in limits.peak_flops
    assert limits.absent["bf16"] == (
        "OpenVINO ran the bf16 matmul at fp32: this CPU has no bf16 kernels"
    )
    machine = this_machine(1).with_limits(limits.peak_flops, 1e10, limits.absent)
    assert roofline.limits_of(machine).absent == limits.absent
    with pytest.raises(RooflineError, match="no bf16 kernels"):
        spec_bound(LayerSpec(), "bf16", roofline.limits_of(machine))
