"""The Model tab's deployment keys: ``p`` (the precision ``l`` times at), ``u`` with it (and a
runtime that is not installed), ``b`` (every runtime × precision cell: the matrix and the
answer) and ``l``'s roofline bound. Recorded digits replies where the picture is the point,
real children where the child is."""

from __future__ import annotations

import io
import json
from dataclasses import replace
from pathlib import Path

import pytest
from app_states import settle, type_into, until
from model_states import _digits, recorded
from rich.console import Console
from rich.text import Text
from textual.widgets import Static

from sepconv_tui.model.results.bench_result import MatrixCell, ModelBenchResult
from sepconv_tui.model.vocabulary import runtimes
from sepconv_tui.model.vocabulary.runtimes import runtime_names
from sepconv_tui.report import model_tab
from sepconv_tui.report.layer_bench import bound_text, efficiency_text
from sepconv_tui.report.model_matrix import answer
from sepconv_tui.tui.app import SepConvApp
from sepconv_tui.tui.model_session import ModelSession, SessionError
from sepconv_tui.tui.widgets.model.table import ModelTable
from sepconv_tui.tui.widgets.model.view import ModelView
from sepconv_tui.workers.model_messages import LayersBenched, ModelBenched

TINY = f"{Path(__file__).parent / 'models' / 'tiny_classifier.py'}:build"


def text_of(app: SepConvApp, selector: str) -> str:
    """The plain text a Static shows (a Rich renderable rendered at 200 columns)."""
    content = app.query_one(selector, Static).content
    if isinstance(content, str):
        return content
    console = Console(width=200, record=True, file=io.StringIO())
    console.print(content)
    return console.export_text()


def notified(app: SepConvApp) -> str:
    """Every notification shown, one a line."""
    return "\n".join(str(each.message) for each in app._notifications)


def recorded_matrix() -> ModelBenchResult:
    """The digits CNN timed in every cell, one thread (tests/data/digits_matrix.json)."""
    reply = recorded("matrix")
    assert isinstance(reply, ModelBenched)
    return reply.result


def at(session: ModelSession, runtime: str) -> None:
    """``u`` until the session's runtime is ``runtime``."""
    while session.runtime != runtime:
        session.cycled_runtime()


# The session: p, and u keeping or dropping the precision ------------------------------------


def test_p_cycles_the_precisions_the_runtime_runs_and_u_keeps_one_it_runs() -> None:
    """p goes fp32 → int8 → fp32 on ONNX Runtime and through bf16 on OpenVINO; eager runs
    fp32 only (said); u keeps int8 from ONNX Runtime to OpenVINO, and falls back to fp32 from
    OpenVINO's bf16 to eager."""
    session = ModelSession()
    assert session.precision == "fp32"
    with pytest.raises(SessionError, match="eager NCHW runs fp32 only"):
        session.cycled_precision()
    at(session, "onnxruntime")
    assert [session.cycled_precision() for _ in range(2)] == ["int8", "fp32"]
    session.cycled_precision()
    assert session.cycled_runtime() == "openvino" and session.precision == "int8"
    assert session.deployment == "OpenVINO · int8"
    assert [session.cycled_precision() for _ in range(3)] == ["fp32", "bf16", "int8"]
    session.cycled_precision()
    session.cycled_precision()
    assert session.precision == "bf16"
    assert session.cycled_runtime() == runtime_names()[0] and session.precision == "fp32"


def test_timings_at_another_precision_are_stale_and_l_asks_for_the_precision() -> None:
    """The per-layer timings are kept with the precision they were measured at: p makes
    them stale, p back makes them current; l's request carries the runtime and precision."""
    session = ModelSession()
    reply = recorded("layers_int8")
    assert isinstance(reply, LayersBenched)
    session.show_analysis(recorded("analysis").analysis)  # type: ignore[attr-defined]
    at(session, "onnxruntime")
    session.cycled_precision()
    session.record(reply)
    assert not session.layers_stale
    session.cycled_precision()
    assert session.layers_stale
    session.cycled_precision()
    assert not session.layers_stale
    request = session.layers_request(0.01)
    assert (request.runtime, request.precision) == ("onnxruntime", "int8")


# The tab: u, p and the status line ----------------------------------------------------------


async def test_u_reaching_openvino_without_it_says_what_it_needs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With the openvino package hidden (the runtime table's availability check says it is
    missing), u on OpenVINO says "needs the openvino package"; the status line names the
    runtime · precision l times at, and u from ONNX Runtime int8 keeps int8 there."""
    real = runtimes.missing_packages

    def hidden(packages: tuple[str, ...], *, find_only: bool = False) -> list[str]:
        return ["openvino"] if "openvino" in packages else real(packages, find_only=find_only)

    monkeypatch.setattr(runtimes, "missing_packages", hidden)
    app = SepConvApp()
    async with app.run_test(size=(140, 40)) as pilot:
        view = await _digits(pilot)
        status = "#model-status"
        assert "l per layer on eager NCHW · fp32" in text_of(app, status)
        await pilot.press("p")
        assert "eager NCHW runs fp32 only" in notified(app)
        await pilot.press("u", "u", "p")
        assert view.session.deployment == "ONNX Runtime · int8"
        assert "l per layer on ONNX Runtime · int8" in text_of(app, status)
        app.clear_notifications()
        await pilot.press("u")
        assert view.session.deployment == "OpenVINO · int8"
        said = notified(app)
        assert "l times on OpenVINO · int8" in said
        assert "OpenVINO needs the openvino package" in said
        assert "l per layer on OpenVINO · int8" in text_of(app, status)
        app.clear_notifications()
        await pilot.press("p", "p", "u")  # OpenVINO int8 → fp32 → bf16; eager: fp32, said
        assert view.session.deployment == "eager NCHW · fp32"
        assert "eager NCHW runs fp32, not bf16" in notified(app)


# b: the matrix and the answer ----------------------------------------------------------------


async def test_a_recorded_matrix_shows_every_cell_and_the_clis_answer(tmp_path: Path) -> None:
    """b's matrix in the MACs chart's place: a line per cell with both medians and what the
    swap buys (bench --model's words); the summary says each side's best and the swap against
    the original's best, worded as the CLI words it; e writes it as bench --json does; another
    selection dims it."""
    app = SepConvApp(export_dir=tmp_path)
    async with app.run_test(size=(140, 45)) as pilot:
        view = await _digits(pilot)
        result = recorded_matrix()
        view.show_bench(ModelBenched(result))
        await pilot.pause()
        panel = app.query_one("#model-matrix", Static)
        assert panel.display and panel.region.width > 0
        shown = text_of(app, "#model-matrix")
        for cell in result.matrix:
            line = next(line for line in shown.splitlines() if model_tab.cell_name(cell) in line)
            assert model_tab.buys_text(cell) in line
        best = result.best
        assert best is not None
        summary = " ".join(text_of(app, "#model-bench").split())
        assert " ".join(answer(best).split()) in summary
        assert not view.has_class("-bench-old")
        await pilot.press("e")  # the matrix as bench --runtime all --precision all --json
        await until(pilot, lambda: any(tmp_path.glob("*-bench.json")), "the export")
        (written,) = tmp_path.glob("*-bench.json")
        assert json.loads(written.read_text()) == result.to_dict()
        await pilot.press("n")
        assert view.has_class("-bench-old") and view.session.bench_stale


def test_an_absent_cell_says_why_in_the_matrix() -> None:
    """A cell this machine cannot run is listed as absent, its reason under the matrix (once
    for the cells it keeps out)."""
    result = recorded_matrix()
    why = "OpenVINO needs the openvino package: pip install 'sepconv-tui[openvino]'"
    cells = tuple(
        MatrixCell(cell.runtime, cell.asked, cell.asked, absent=why)
        if cell.runtime == "openvino"
        else cell
        for cell in result.matrix
    )
    console = Console(width=66, record=True, file=io.StringIO())
    console.print(model_tab.matrix_panel(replace(result, matrix=cells)))
    shown = console.export_text()
    assert "OpenVINO · bf16" in shown and "absent" in shown
    cells_out = "OpenVINO · fp32, OpenVINO · bf16, OpenVINO · int8"
    assert " ".join(f"{cells_out} absent: {why}".split()) in " ".join(shown.split())


# l: the bound beside the measured speed-up -----------------------------------------------------


async def test_l_at_int8_shows_the_bound_and_the_efficiency_as_bench_per_layer() -> None:
    """Recorded l on ONNX Runtime int8: a Bound column beside Speed-up and Efficiency last
    (after Swap, which a wide table must not push off the screen), each cell the CLI's
    figure; p (another precision) dims them."""
    reply = recorded("layers_int8")
    assert isinstance(reply, LayersBenched)
    key = reply.result.runtimes[0]
    assert key == "onnxruntime:int8"
    app = SepConvApp()
    async with app.run_test(size=(160, 45)) as pilot:
        view = await _digits(pilot)
        await pilot.press("u", "u", "p")
        view.show_layers(reply)
        await pilot.pause()
        table = app.query_one(ModelTable)
        for row in reply.result.rows:
            bound, efficiency = (table.get_cell(row.name, key) for key in ("bound", "efficiency"))
            assert isinstance(bound, Text) and isinstance(efficiency, Text)
            assert bound.plain == bound_text(row, key)
            assert efficiency.plain == efficiency_text(row, key)
            assert bound.style != "dim"
        await pilot.press("p")
        assert view.session.layers_stale
        first = reply.result.rows[0].name
        assert table.get_cell(first, "bound").style == "dim"
        assert table.get_cell(first, "efficiency").style == "dim"
    app = SepConvApp()
    async with app.run_test(size=(120, 40)) as pilot:
        view = await _digits(pilot)
        view.show_layers(reply)
        await pilot.pause()
        table = app.query_one(ModelTable)
        columns = [str(column.value) for column in table.columns]
        assert columns[columns.index("speedup") + 1] == "bound"
        assert columns[-2:] == ["swap", "efficiency"]
        # Swap, the last but one, ends within the screen at 120 columns
        up_to_swap = sum(column.get_render_width(table) for column in table.ordered_columns[:-1])
        assert up_to_swap <= table.scrollable_content_region.width


# Real children: b and l on a tiny model --------------------------------------------------------


@pytest.mark.deploy
async def test_b_times_every_cell_of_a_tiny_model_in_real_children() -> None:
    """b on tests/models/tiny_classifier.py: progress with a bar, then every runtime ×
    precision cell (timed, or absent with the reason) and the answer in the summary."""
    app = SepConvApp()
    async with app.run_test(size=(140, 45)) as pilot:
        await pilot.press("f6")
        await settle(pilot)
        view = app.query_one(ModelView)
        view.bench_min_run_time = 0.01  # the timings' precision is not under test
        await type_into(pilot, "model-source", TINY)
        await pilot.press("enter")
        await until(pilot, lambda: view.analysis is not None and not view.running, "analysis")
        await pilot.press("a", "b")
        assert view.benchmarking and "every runtime × precision" in text_of(app, "#model-status")
        assert app.query_one("#model-progress").display
        await until(pilot, lambda: not view.benchmarking, "the matrix")
        result = view.bench_result
        assert result is not None, text_of(app, "#model-error")
        cells = {(cell.runtime, cell.asked) for cell in result.matrix}
        expected = {
            (name, str(precision))
            for name in runtime_names()
            for precision in runtimes.runtime_entry(name).precisions
        }
        assert cells == expected
        assert all(cell.absent or cell.speed_ratio for cell in result.matrix)
        assert "best original:" in text_of(app, "#model-bench")
        assert not app.query_one("#model-progress").display
        assert "absent" in text_of(app, "#model-matrix") or all(
            cell.absent is None for cell in result.matrix
        )


async def test_a_matrix_measured_on_data_shows_each_cells_agreement_in_full() -> None:
    """b with data: the panel grows an Agreement column (original · swapped) and widens to keep
    every cell whole; the summary says the levers. Without data it keeps its width."""
    from sepconv_tui.model.results.bench_result import MatrixData
    from sepconv_tui.model.results.fidelity_result import AtPrecision, SplitSizes

    def figures(agreement: float) -> AtPrecision:
        return AtPrecision("fp32", 359, 0.0, agreement, (agreement - 0.01, 1.0), None, None)

    plain = recorded_matrix()
    cells = tuple(
        replace(cell, original_fidelity=figures(1.0), swapped_fidelity=figures(0.103))
        if cell.original is not None
        else cell
        for cell in plain.matrix
    )
    data = MatrixData("digits/data.pt", SplitSizes(256, 1182, 359), "256 samples", figures(1.0))
    measured = replace(plain, matrix=cells, data=data)
    app = SepConvApp()
    async with app.run_test(size=(150, 50)) as pilot:
        view = await _digits(pilot)
        view.show_bench(ModelBenched(plain))
        await pilot.pause()
        panel = app.query_one("#model-matrix", Static)
        narrow = panel.region.width
        assert not panel.has_class("-with-data")
        view.show_bench(ModelBenched(measured))
        await until(pilot, lambda: panel.region.width > narrow, "the wider panel")
        shown = text_of(app, "#model-matrix")
        assert "Agreement" in shown and "…" not in shown
        assert shown.count("100.0% · 10.3%") == sum(cell.original is not None for cell in cells)
        assert "swap alone" in " ".join(text_of(app, "#model-bench").split())
