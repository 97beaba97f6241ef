"""The Network, Sweep and Latency tabs through Pilot: what they show, bad input, export, cancel."""

from __future__ import annotations

import json
from pathlib import Path

from app_states import settle, type_into, until
from textual.pilot import Pilot
from textual.widgets import Input, ProgressBar, Select, Static

from sepconv_tui import LayerSpec
from sepconv_tui.core.latency import STAGES
from sepconv_tui.core.networks import network_report
from sepconv_tui.core.sweep import sweep
from sepconv_tui.report import sweep as sweep_report
from sepconv_tui.tui.app import SepConvApp
from sepconv_tui.tui.widgets.latency_view import LatencyView
from sepconv_tui.tui.widgets.network_view import NetworkView
from sepconv_tui.tui.widgets.sweep_view import SweepView


def text_of(app: SepConvApp, selector: str) -> str:
    """The plain text a Static shows."""
    return str(app.query_one(selector, Static).render())


async def show(pilot: Pilot, key: str) -> None:
    """Press a tab's key and wait until it has mounted and every worker is done."""
    await pilot.press(key)
    await settle(pilot)


async def test_network_tab_shows_mobilenet_v1_checked_by_pytorch() -> None:
    """F3: the paper's network at α = 1, 224, verified block by block by PyTorch."""
    app = SepConvApp()
    async with app.run_test(size=(120, 40)) as pilot:
        await show(pilot, "f3")
        assert app.active_tab == "network"
        view = app.query_one(NetworkView)
        assert view.report is not None
        assert (view.report.standard.params, view.report.separable.params) == (29294088, 4231976)
        assert view.report.verified == {"params": True, "macs": True, "shapes": True}
        assert "agree" in text_of(app, "#network-check")
        assert "29.29M params" in text_of(app, "#network-summary")


async def test_network_parameters_and_bad_input_keep_the_last_report() -> None:
    """α and resolution follow the paper's Table 6/7; α = 0 names the range and keeps the table."""
    app = SepConvApp()
    async with app.run_test(size=(120, 40)) as pilot:
        await show(pilot, "f3")
        await type_into(pilot, "width-multiplier", "0.5")
        await type_into(pilot, "resolution", "160")
        await settle(pilot)
        view = app.query_one(NetworkView)
        expected = network_report("mobilenet_v1", 0.5, 160)
        assert view.report is not None and view.report.rows == expected.rows
        await type_into(pilot, "width-multiplier", "0")
        await pilot.pause()
        error = text_of(app, "#network-error")
        assert "Width multiplier α must be a number greater than 0 and at most 4" in error
        assert app.query_one("#width-multiplier", Input).has_class("-invalid")
        assert view.report.rows == expected.rows  # the last good network stays


async def test_choosing_xception_starts_at_its_paper_input() -> None:
    """Picking Xception sets 299×299 and α = 1 and shows its 22,855,952 parameters."""
    app = SepConvApp()
    async with app.run_test(size=(120, 40)) as pilot:
        await show(pilot, "f3")
        await type_into(pilot, "width-multiplier", "0.5")
        app.query_one("#network-name", Select).value = "xception"
        await settle(pilot)
        view = app.query_one(NetworkView)
        assert app.query_one("#resolution", Input).value == "299"
        assert view.report is not None and view.report.name == "xception"
        assert view.report.separable.params == 22_855_952
        assert view.report.verified == {"params": True, "macs": True, "shapes": True}
        await type_into(pilot, "width-multiplier", "0.75")
        await pilot.pause()
        assert "defined for mobilenet_v1 only" in text_of(app, "#network-error")
        assert view.report.name == "xception" and view.report.width_multiplier == 1.0


async def test_sweep_tab_follows_the_layer_tab_and_the_field() -> None:
    """F4 sweeps the Layer tab's layer; a new field or a new layer recomputes the points."""
    app = SepConvApp()
    async with app.run_test(size=(120, 40)) as pilot:
        await type_into(pilot, "in_channels", "32")
        await show(pilot, "f4")
        view = app.query_one(SweepView)
        base = LayerSpec(in_channels=32)
        assert [p.to_dict() for p in view.points] == [
            p.to_dict() for p in sweep("out_channels", base)
        ]
        app.query_one("#sweep-field", Select).value = "kernel_size"
        await pilot.pause()
        assert [p.value for p in view.points] == [1, 3, 5, 7, 9, 11, 13, 15]
        await pilot.press("f2")
        await type_into(pilot, "out_channels", "64")
        await show(pilot, "f4")  # the sweep takes the layer when it is shown
        assert view.base == LayerSpec(in_channels=32, out_channels=64)
        assert [p.to_dict() for p in view.points] == [
            p.to_dict() for p in sweep("kernel_size", view.base)
        ]


async def test_export_writes_what_each_tab_shows(tmp_path: Path) -> None:
    """e on the Network and Sweep tabs writes their JSON, equal to the CLI's documents."""
    app = SepConvApp(export_dir=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await show(pilot, "f3")
        await pilot.press("e")
        exported = json.loads((tmp_path / "sepconv-mobilenet_v1-a1-224.json").read_text())
        assert exported["standard"] == {"params": 29294088, "macs": 4867293184}
        assert exported["verified"] == {"params": True, "macs": True, "shapes": True}
        await show(pilot, "f4")
        await pilot.press("e")
        exported = json.loads((tmp_path / "sepconv-sweep-out_channels.json").read_text())
        assert exported == json.loads(
            sweep_report.sweep_to_json(sweep("out_channels", LayerSpec()))
        )
        await show(pilot, "f5")
        await pilot.press("e")  # nothing measured yet: a notice, no file
        assert not list(tmp_path.glob("sepconv-bench-*"))


async def wait_for_bench(pilot: Pilot, view: LatencyView) -> None:
    """Wait until the benchmark process has answered."""
    await until(pilot, lambda: not view.running, "the benchmark")


async def test_b_times_both_sides_and_export_writes_the_bench_json(tmp_path: Path) -> None:
    """b runs the benchmark in a worker; the progress bar fills; e writes the bench JSON."""
    app = SepConvApp(export_dir=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("escape", "b")
        await pilot.pause()
        view = app.query_one(LatencyView)
        await type_into(pilot, "in_channels", "4")  # the UI keeps responding while it runs
        await pilot.press("f5")
        await wait_for_bench(pilot, view)
        await pilot.pause()
        assert view.result is not None and view.result.spec == LayerSpec()
        assert view.result.standard.median_s > 0 and view.result.separable.median_s > 0
        assert app.query_one("#bench-progress", ProgressBar).progress == len(STAGES)
        assert "5.76× fewer MACs" in text_of(app, "#speed")
        assert "earlier layer" in text_of(app, "#latency-layer")  # in_channels is now 4
        await pilot.press("e")
        exported = json.loads((tmp_path / "sepconv-bench-3to16-cpu.json").read_text())
        assert set(exported) >= {"standard", "separable", "speed_ratio", "mac_ratio", "device"}
        assert exported["threads"] >= 1


async def test_escape_cancels_a_running_benchmark() -> None:
    """escape during a run stops it; nothing is shown as a result."""
    app = SepConvApp()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("escape", "b")
        await pilot.pause()
        view = app.query_one(LatencyView)
        assert view.running
        await pilot.press("escape")
        assert not view.running
        assert "Cancelled" in text_of(app, "#bench-status")
        await settle(pilot)  # its worker has ended: anything it posted has been handled
        assert view.result is None


async def test_bad_threads_and_absent_cuda_are_messages_not_tracebacks() -> None:
    """Threads 0 names the range; cuda on a CPU-only build says so; the app keeps running."""
    app = SepConvApp()
    async with app.run_test(size=(120, 40)) as pilot:
        await show(pilot, "f5")
        await type_into(pilot, "threads", "0")
        await pilot.press("escape", "b")
        await pilot.pause()
        assert "Threads must be an integer from 1 to 1024" in text_of(app, "#latency-error")
        view = app.query_one(LatencyView)
        assert not view.running
        import torch

        if not torch.cuda.is_available():
            app.query_one("#threads", Input).value = ""
            app.query_one("#device", Select).value = "cuda"
            await pilot.press("escape", "b")
            await pilot.pause()
            await wait_for_bench(pilot, view)
            await pilot.pause()
            assert "CUDA is not available" in text_of(app, "#latency-error")
            assert view.result is None


async def test_quitting_during_a_benchmark_stops_its_process() -> None:
    """The benchmark's child process does not outlive the app."""
    app = SepConvApp()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("escape", "b")
        await pilot.pause()
        run = app.query_one(LatencyView)._runner.call
        assert run is not None
        await until(pilot, lambda: run.process.popen is not None, "the benchmark's process")
        process = run.process.popen
    assert process is not None
    process.wait(timeout=10)  # killed: it ends at once instead of finishing the benchmark
    assert process.returncode != 0
