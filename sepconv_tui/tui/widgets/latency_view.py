"""The Latency tab: measured forward-pass times of both sides, and both sides' memory."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Input, Label, ProgressBar, Select, Static

from ...core.compare import compare
from ...core.latency import STAGES, BenchResult, parse_threads
from ...core.spec import LayerSpec
from ...errors import UserError
from ...progress import Progress
from ...report import latency as latency_report
from ...report.memory import memory_markdown, memory_table
from ...workers.layer_messages import BenchLayer, LayerBenched
from ..export import Export
from ..runner import ChildRunner, RunsChildren
from ..tab_view import TabViewDefaults
from ..torch_process import bench_process


class LatencyView(RunsChildren, TabViewDefaults, Vertical):
    """Runs ``sepconv-tui bench`` for the Layer tab's layer in a worker; escape cancels."""

    nothing_to_export = "Nothing to export yet: press b to run the benchmark first."

    def __init__(self, spec: LayerSpec, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.spec = spec
        self.result: BenchResult | None = None
        self._runner: ChildRunner[LayerBenched] = ChildRunner(
            self,
            bench_process(),
            on_reply=self._finished,
            on_error=self._failed,
            on_progress=self._stage,
        )

    def compose(self) -> ComposeResult:
        """Layer line, device / threads / run, progress, the timing and memory tables."""
        yield Static(id="latency-layer")
        with Horizontal(id="latency-controls"):
            yield Label("Device", classes="control-label")
            yield Select(
                [("cpu", "cpu"), ("cuda", "cuda")],
                value="cpu",
                allow_blank=False,
                id="device",
                compact=True,
            )
            yield Label("Threads", classes="control-label")
            yield Input(
                placeholder="torch's default",
                id="threads",
                type="integer",
                compact=True,
            )
            yield Button("Run (b)", id="run-bench", variant="primary", compact=True)
        yield Static(id="latency-error", classes="view-error")
        with Horizontal(id="bench-progress-row"):
            yield ProgressBar(total=len(STAGES), show_eta=False, id="bench-progress")
            yield Static("Press b to time both sides.", id="bench-status")
        with VerticalScroll(id="latency-body", can_focus=True):
            yield Static(id="latency-table")
            yield Static(id="speed")
            yield Static(id="memory-table")

    def on_mount(self) -> None:
        """Describe the layer and show its memory."""
        self._show_layer()

    @property
    def running(self) -> bool:
        """True while a benchmark runs."""
        return self._runner.running

    def take_layer(self, spec: LayerSpec) -> None:
        """Time ``spec`` from now on; a result for another layer is marked as such."""
        self.spec = spec
        if self.is_mounted:
            self._show_layer()

    def _show_layer(self) -> None:
        """The layer line and its memory table."""
        spec = self.spec
        line = (
            f"Layer (from the Layer tab): Conv{spec.dims}d({spec.in_channels}, "
            f"{spec.out_channels}, {spec.kernel_size}, stride={spec.stride}, "
            f"padding={spec.padding}) vs separable, "
            f"input {'×'.join(map(str, spec.input_shape))}"
        )
        if self.result is not None and self.result.spec != spec:
            line += "  ·  the timings below are for an earlier layer"
        self.query_one("#latency-layer", Static).update(line)
        self.query_one("#memory-table", Static).update(
            memory_table(compare(spec, method="analytic").memory)
        )

    def _show_error(self, message: str | None) -> None:
        error = self.query_one("#latency-error", Static)
        error.update(f"⚠ {message}" if message else "")
        error.display = message is not None

    def start(self) -> None:
        """Start a benchmark of the current layer (unless one is running)."""
        if self.running:
            return
        try:
            threads = parse_threads(self.query_one("#threads", Input).value)
        except ValueError as error:
            self._show_error(f"Threads {error} (empty: torch's default).")
            return
        self._show_error(None)
        device = self.query_one("#device", Select).value
        assert isinstance(device, str)  # allow_blank=False
        self._runner.start(BenchLayer(self.spec, device, threads))
        self.query_one("#bench-progress", ProgressBar).update(progress=0)
        self.query_one("#bench-status", Static).update("Starting PyTorch… (escape cancels)")
        self.set_class(True, "-running")

    def bench(self) -> bool:
        """Time the layer (``b``)."""
        self.start()
        return True

    def cancel(self) -> bool:
        """Cancel a running benchmark; False when none runs."""
        if not self._runner.cancel():
            return False
        self.set_class(False, "-running")
        self.query_one("#bench-status", Static).update("Cancelled; the last result is kept.")
        return True

    def on_unmount(self) -> None:
        """Quitting the app stops a running benchmark's process too."""
        self._runner.close()

    def _stage(self, progress: Progress) -> None:
        """The benchmark reached a stage: the bar and the status line follow."""
        self.query_one("#bench-progress", ProgressBar).update(progress=progress.done)
        self.query_one("#bench-status", Static).update(
            f"{progress.label.capitalize()}… (escape cancels)"
        )

    def _failed(self, error: UserError) -> None:
        """The benchmark failed: the message above, the last result kept."""
        self.set_class(False, "-running")
        self._show_error(error.message)
        self.query_one("#bench-status", Static).update("Not run; the last result is kept.")

    def _finished(self, reply: LayerBenched) -> None:
        """The timings and the speed line; the layer line says whose they are."""
        self.set_class(False, "-running")
        self.result = reply.result
        self.query_one("#bench-progress", ProgressBar).update(progress=len(STAGES))
        self.query_one("#bench-status", Static).update("Done.")
        self.query_one("#latency-table", Static).update(latency_report.latency_table(self.result))
        self.query_one("#speed", Static).update(latency_report.speed_message(self.result))
        self.add_class("-measured")
        self._show_layer()

    @on(Button.Pressed, "#run-bench")
    def _run_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.start()

    def export(self) -> Export | None:
        """The last benchmark, with its layer's memory table, as Markdown; the bench JSON."""
        result = self.result
        if result is None:
            return None
        spec = result.spec
        stem = f"sepconv-bench-{spec.in_channels}to{spec.out_channels}-{result.device}"
        memory = memory_markdown(compare(spec, method="analytic").memory)
        markdown = latency_report.to_markdown(result) + "\n### Memory\n\n" + memory
        return Export(stem, markdown, latency_report.to_json(result))
