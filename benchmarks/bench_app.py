"""App responsiveness: first frame, edit latency, fastest safe typing pace, keys during torch load.

Run: .venv/bin/python benchmarks/bench_app.py   (prints a table; not a test)

Each measurement runs in a fresh process, so torch is not yet imported, as for a real user.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import time

RUNS = 7


def report_line(*values: object) -> None:
    """Write one line to the real stdout (Textual redirects ``print`` while an app runs)."""
    os.write(1, (" ".join(str(value) for value in values) + "\n").encode())


def child_first_frame(kind: str) -> None:
    """Print seconds from process start (BENCH_START) to the first frame, then exit."""
    start = float(os.environ["BENCH_START"])
    from textual.app import App, ComposeResult
    from textual.widgets import Footer, Header, Input, Static, Switch

    if kind == "bare":

        class Bare(App[None]):
            """The same skeleton with no sepconv_tui and no torch."""

            def compose(self) -> ComposeResult:
                yield Header()
                for index in range(14):
                    yield Input(str(index))
                yield Switch()
                yield Switch()
                yield Static("ratio", id="ratio")
                yield Static("verdict", id="verdict")
                yield Footer()

            def on_ready(self) -> None:
                report_line(time.time() - start, "ratio")
                self.exit()

        Bare().run(headless=True)
        return

    if kind == "bare-tree":
        from rich.table import Table
        from textual.containers import Horizontal, VerticalScroll
        from textual.widgets import Label, TabbedContent, TabPane

        def table(columns: int, rows: int) -> Table:
            """A Rich table the size of the app's figures or memory table."""
            grid = Table(*(f"column {index}" for index in range(columns)), title="Table")
            for row in range(rows):
                grid.add_row(*(f"{row * 1_000_003 + column:,}" for column in range(columns)))
            return grid

        class BareTree(App[None]):
            """The app's widget tree and table sizes, with no sepconv_tui code and no torch."""

            CSS = "#form { width: 32; } .row { height: auto; } .row Label { width: 17; }"

            def compose(self) -> ComposeResult:
                yield Header()
                with TabbedContent():
                    with TabPane("Layer F2"), Horizontal():
                        with VerticalScroll(id="form"):
                            for section in range(3):
                                yield Label(f"Section {section}")
                            for index in range(10):
                                yield Horizontal(
                                    Label(f"Field {index}"), Input(str(index)), classes="row"
                                )
                            for index in range(2):
                                yield Horizontal(Label(f"Switch {index}"), Switch(), classes="row")
                        with VerticalScroll():
                            for line in ("ratio " * 15, "verdict", "check", "stale"):
                                yield Static(line)
                            yield Static(table(5, 4))
                            yield Static("flops " * 30)
                            yield Static(table(4, 4))
                    for title in ("Network F3", "Sweep F4", "Latency F5", "Model F6"):
                        yield TabPane(title)
                yield Footer()

            def on_ready(self) -> None:
                report_line(time.time() - start, "ratio")
                self.exit()

        BareTree().run(headless=True)
        return

    from sepconv_tui.tui.app import SepConvApp

    class Timed(SepConvApp):
        """SepConvApp reporting its first frame."""

        def on_ready(self) -> None:
            ratio = str(self.query_one("#ratio", Static).render())
            report_line(time.time() - start, "4.77×" in ratio)
            self.exit()

    Timed().run(headless=True)
    os._exit(0)  # don't wait for the cross-check thread that on_ready started


def child_edit_latency() -> None:
    """Print the median ms from setting a field to the updated #ratio."""
    from textual.widgets import Input, Static

    from sepconv_tui.tui.app import SepConvApp

    async def run() -> None:
        app = SepConvApp()
        async with app.run_test() as pilot:
            await pilot.pause()
            field = app.query_one("#out_channels", Input)
            ratio = app.query_one("#ratio", Static)
            latencies = []
            for value in range(17, 77):
                before = str(ratio.render())
                start = time.perf_counter()
                field.value = str(value)
                while str(ratio.render()) == before:
                    await asyncio.sleep(0)
                latencies.append(time.perf_counter() - start)
            report_line(statistics.median(latencies) * 1e3, max(latencies) * 1e3)

    asyncio.run(run())
    os._exit(0)


def child_keys_during_load() -> None:
    """Press keys until the first PyTorch check is back; print the worst handling time in ms."""
    from textual.widgets import Input

    from sepconv_tui.tui.app import SepConvApp

    async def run() -> None:
        app = SepConvApp()
        async with app.run_test() as pilot:
            field = app.query_one("#out_channels", Input)
            field.focus()
            await pilot.pause()
            latencies = []
            deadline = time.perf_counter() + 10
            while not app.comparison or not app.comparison.verified:
                before = field.value
                start = time.perf_counter()
                app.simulate_key("up")  # as the terminal driver would deliver it
                while field.value == before:
                    await asyncio.sleep(0)
                latencies.append(time.perf_counter() - start)
                await asyncio.sleep(0.05)
                if time.perf_counter() > deadline:
                    break
            report_line(max(latencies) * 1e3, statistics.median(latencies) * 1e3, len(latencies))

    asyncio.run(run())
    os._exit(0)


#: Key gaps tried, slowest first (seconds); the fastest at which every burst lands is reported.
PACES = (0.05, 0.03, 0.02, 0.01, 0.005, 0.003, 0.002, 0.001)
PACE_REPEATS = 3


def child_typing_pace(kind: str) -> None:
    """Print the smallest key gap (ms) at which every burst of tests/key_bursts.py lands right."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(__file__)), "tests"))
    from key_bursts import BURSTS, BareForm, field_values, post_keys

    from sepconv_tui.tui.app import SepConvApp

    async def all_land(gap: float) -> bool:
        app = SepConvApp() if kind == "app" else BareForm()
        async with app.run_test() as pilot:
            await asyncio.sleep(0.5)  # past start-up and the first PyTorch check
            await pilot.pause()
            for burst in BURSTS:
                await post_keys(app, burst.keys, gap)
                await asyncio.sleep(0.3)  # past the app's pause before the tables follow
                await pilot.pause()
                if field_values(app, list(burst.expected)) != burst.expected:
                    return False
        return True

    async def run() -> None:
        safe = None
        for gap in PACES:
            results = [await all_land(gap) for _ in range(PACE_REPEATS)]
            if not all(results):
                break
            safe = gap
        report_line("none" if safe is None else safe * 1e3)

    asyncio.run(run())
    os._exit(0)


def run_child(*arguments: str) -> list[str]:
    """Run this script as a child in a fresh interpreter; return its last output line's words."""
    environment = dict(os.environ, BENCH_START=repr(time.time()))
    result = subprocess.run(
        [sys.executable, __file__, "--child", *arguments],
        capture_output=True,
        text=True,
        env=environment,
        check=True,
    )
    return result.stdout.strip().splitlines()[-1].split()


def main() -> None:
    """Measure and print the table."""
    from rich.console import Console
    from rich.table import Table

    app_times, bare_times, tree_times = [], [], []
    for _ in range(RUNS):  # interleaved, so machine noise hits all alike
        seconds, shows_figures = run_child("first-frame", "app")
        assert shows_figures == "True", "the first frame must already show the closed-form figures"
        app_times.append(float(seconds))
        bare_times.append(float(run_child("first-frame", "bare")[0]))
        tree_times.append(float(run_child("first-frame", "bare-tree")[0]))
    app_first, bare_first = statistics.median(app_times), statistics.median(bare_times)
    tree_first = statistics.median(tree_times)
    edit_median, edit_max = map(float, run_child("edit-latency"))
    key_max, key_median, key_count = run_child("keys-during-load")
    app_pace = run_child("typing-pace", "app")[0]
    bare_pace = run_child("typing-pace", "bare")[0]

    table = Table(title=f"sepconv-tui app benchmark (median of {RUNS} fresh processes)")
    table.add_column("measurement")
    table.add_column("result", justify="right")
    table.add_column("target", justify="right")
    table.add_row("process start → first frame with figures (app)", f"{app_first * 1e3:.0f} ms", "")
    table.add_row(
        "process start → first frame (bare Textual skeleton)", f"{bare_first * 1e3:.0f} ms", ""
    )
    table.add_row("  ratio app / bare", f"{app_first / bare_first:.2f}×", "≤ 1.5×")
    table.add_row(
        "process start → first frame (the app's widget tree, plain Textual)",
        f"{tree_first * 1e3:.0f} ms",
        "",
    )
    table.add_row("  ratio app / the same tree", f"{app_first / tree_first:.2f}×", "")
    table.add_row(
        "edit → updated #ratio, median (max) of 60",
        f"{edit_median:.1f} ms ({edit_max:.1f})",
        "≤ 50 ms",
    )
    table.add_row(
        f"fastest key gap with no key lost, {PACE_REPEATS}× each burst (app)",
        f"{app_pace} ms",
        "≤ bare",
    )
    table.add_row("  the same, bare Textual app with plain Inputs", f"{bare_pace} ms", "")
    table.add_row(
        f"keypress handled while torch loads, worst of {key_count} (median)",
        f"{float(key_max):.0f} ms ({float(key_median):.0f})",
        "≤ 100 ms",
    )
    Console().print(table)


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        {
            "first-frame": lambda: child_first_frame(sys.argv[3]),
            "edit-latency": child_edit_latency,
            "keys-during-load": child_keys_during_load,
            "typing-pace": lambda: child_typing_pace(sys.argv[3]),
        }[sys.argv[2]]()
    else:
        main()
