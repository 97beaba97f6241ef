"""The Model tab's session without an app: selection, m, staleness as one comparison."""

from __future__ import annotations

import json

import pytest
from app_states import RESNET18_ANALYSIS
from model_states import DIGITS_WEIGHTS, recorded, recorded_analysis

from sepconv_tui.errors import UserError
from sepconv_tui.model.vocabulary.analysis import ModelAnalysis, Selection
from sepconv_tui.tui.model_session import ModelSession, SessionError
from sepconv_tui.workers.model_messages import BenchModel, FidelityMeasured, LayersBenched


def digits_session(data: str = "digits/data.pt") -> ModelSession:
    """A session showing the recorded digits analysis (every candidate swapped, m = 1)."""
    session = ModelSession()
    session.weights, session.data = DIGITS_WEIGHTS, data
    session.show_analysis(recorded_analysis())
    return session


def test_a_result_goes_stale_when_what_it_was_measured_of_changes_and_back() -> None:
    """A fidelity is of the selection, each swapped layer's m and the data: change any one,
    it is stale; change it back, it is current again. A trade-off ignores the selection."""
    session = digits_session()
    session.record(recorded("fidelity"))
    session.record(recorded("tradeoff"))
    assert not session.fidelity_stale and not session.tradeoff_stale
    analysis = session.analysis
    assert analysis is not None
    session.analysis = session.stepped("features.3", 1)
    assert session.fidelity_stale and session.tradeoff_stale
    session.analysis = session.stepped("features.3", -1)
    assert not session.fidelity_stale and not session.tradeoff_stale
    session.analysis = session.toggled("features.3")
    assert session.fidelity_stale and not session.tradeoff_stale
    session.analysis = analysis
    session.data = "synthetic:8"
    assert session.fidelity_stale and session.tradeoff_stale


def test_a_recovery_is_the_fidelity_too_and_another_model_drops_both() -> None:
    """A recovery's last stage is the fidelity shown; a new analysis of the same model keeps
    them (stale or not), of another model drops them, and timings always go."""
    session = digits_session()
    session.record(recorded("recovery"))
    assert session.fidelity_from_recovery and session.fidelity is not None
    session.show_analysis(recorded_analysis())
    assert session.recovery is not None and not session.recovery_stale
    other = recorded_analysis()
    session.show_analysis(type(other).from_dict({**other.to_dict(), "source": "x.py:build"}))
    assert session.fidelity is None and session.recovery is None


def test_m_cycles_1_2_auto_and_auto_needs_the_weights() -> None:
    """m: 1 → 2 → auto:0.9 → 1 on the swapped layers; without kept energies auto is an error."""
    session = digits_session()
    analysis, names, choice = session.cycled()
    assert choice == 2 and {analysis.multipliers[name] for name in names} == {2}
    session.analysis = analysis
    analysis, _names, choice = session.cycled()
    assert choice == 0.9 and analysis.multipliers == recorded_analysis().auto_multipliers(0.9)
    session.analysis = analysis
    analysis, _names, choice = session.cycled()
    assert choice == 1 and set(analysis.multipliers.values()) == {1}
    without_weights = ModelSession()
    without_weights.show_analysis(
        ModelAnalysis.from_dict(json.loads(RESNET18_ANALYSIS.read_text()))
    )
    without_weights.analysis = without_weights.cycled()[0]  # → 2
    with pytest.raises(UserError, match="give the model's weights"):
        without_weights.cycled()  # → auto:0.9


def test_keys_that_cannot_act_say_why() -> None:
    """No analysis, a row that is no candidate, bad data, nothing swapped: SessionError or
    the data's own error, each a UserError the view shows."""
    empty = ModelSession()
    with pytest.raises(SessionError, match="Analyse a model first"):
        empty.work_fields(swapped=True, threads=1)
    session = digits_session()
    with pytest.raises(SessionError, match="this row is not a layer"):
        session.toggled("__total__")
    session.data = "synthetic:0"
    with pytest.raises(UserError) as raised:
        session.work_fields(swapped=True, threads=1)
    assert raised.value.field == "data"
    session.data = "synthetic:8"
    session.analysis = session.analysis.select("none")  # type: ignore[union-attr]
    with pytest.raises(SessionError, match="Nothing is swapped"):
        session.work_fields(swapped=True, threads=1)
    fields = session.work_fields(swapped=False, threads=1)
    assert fields["data"] == "synthetic:8" and fields["job"].selection == Selection("none")


def test_the_selection_as_swap_text_and_the_bench_request() -> None:
    """A rule when one gives the selection, else the names; b asks for each layer's m."""
    session = digits_session()
    assert session.selection_text() == "saving"  # every candidate saves: the first rule
    session.analysis = session.toggled("features.3")
    assert session.selection_text() == "features.0,features.10,features.7"
    request = session.bench_request(0.1)
    assert isinstance(request, BenchModel) and request.job.weights == DIGITS_WEIGHTS
    assert str(request.job.selection) == "features.0,features.10,features.7"
    assert request.job.depth_multiplier == session.analysis.multipliers  # type: ignore[union-attr]


def test_a_result_kept_as_of_the_state_it_was_asked_for() -> None:
    """A reply recorded ``of`` the state when it was asked is stale if the state moved since."""
    session = digits_session()
    asked_of = session.selection_key()
    session.analysis = session.stepped("features.3", 1)
    fidelity = recorded("fidelity")
    assert isinstance(fidelity, FidelityMeasured)
    session.record(fidelity, asked_of)
    assert session.fidelity_stale


def test_weights_and_data_come_back_with_their_source() -> None:
    """The fields of the source shown are remembered; untouched, another's come back."""
    session = digits_session()
    session.remember("a.py:build", "a.pt", "a/")
    session.remember(session.analysis.source, "w.pt", "d/")  # type: ignore[union-attr]
    assert session.recalled("a.py:build", "w.pt", "d/") == ("a.pt", "a/")
    assert session.recalled("a.py:build", "typed.pt", "d/") == ("typed.pt", "d/")


def test_layer_timings_are_of_every_candidates_m_and_the_runtime_not_the_selection() -> None:
    """``l``'s timings go stale when a candidate's m, the runtime or the model changes, not
    when the selection does (every candidate is timed); the predicted speed-up is the
    engine's LayerBench arithmetic of the selection now on screen."""
    session = digits_session()
    reply = recorded("layers")
    assert isinstance(reply, LayersBenched)
    session.record(reply)
    assert not session.layers_stale and session.layers_runtime == "eager"
    analysis = session.analysis
    assert analysis is not None
    bench = reply.result
    assert session.predicted_speed_ratio() == bench.predicted_speed_ratio(
        analysis.swapped_names, "eager"
    )
    session.analysis = session.toggled("features.3")
    assert not session.layers_stale
    assert session.predicted_speed_ratio() == bench.predicted_speed_ratio(
        analysis.swapped_names - {"features.3"}, "eager"
    )
    session.analysis = session.stepped("features.3", 1)
    assert session.layers_stale  # + on a layer: its block is another one now
    session.analysis = session.stepped("features.3", -1)
    assert not session.layers_stale
    assert session.cycled_runtime() == "eager_channels_last"
    assert session.layers_stale
    assert session.cycled_runtime() == "onnxruntime"
    assert session.cycled_runtime() == "openvino"
    assert session.cycled_runtime() == "eager"
    assert not session.layers_stale
    request = session.layers_request(0.01)
    assert request.runtime == "eager"
    assert request.job.depth_multiplier == session.analysis.multipliers


def test_the_device_is_part_of_what_fidelity_and_the_trade_off_are_of() -> None:
    """A fidelity measured on cpu is stale once the Device field says cuda; the request
    carries the device and the memory budget."""
    session = digits_session()
    session.record(recorded("fidelity"))
    session.record(recorded("tradeoff"))
    session.device = "cuda"
    assert session.fidelity_stale and session.tradeoff_stale
    session.budget_bytes = 64 * 1024 * 1024
    fields = session.work_fields(swapped=True, threads=1)
    assert fields["job"].device == "cuda" and fields["job"].budget_bytes == 64 * 1024 * 1024
    session.device = "cpu"
    assert not session.fidelity_stale and not session.tradeoff_stale


def test_the_latency_axis_needs_a_trade_off_and_layer_timings() -> None:
    """``x`` says what is missing; with both, each point's x is the engine's predicted
    latency of its swap."""
    session = digits_session()
    with pytest.raises(SessionError, match=r"a trade-off \(g\) and layer timings \(l\)"):
        session.toggled_latency_axis()
    session.record(recorded("tradeoff"))
    with pytest.raises(SessionError, match=r"measure layer timings \(l\) first"):
        session.toggled_latency_axis()
    reply = recorded("layers")
    assert isinstance(reply, LayersBenched)
    session.record(reply)
    assert session.latency_axis_points() is None  # MACs until x
    assert session.toggled_latency_axis()
    plotted = session.latency_axis_points()
    assert plotted is not None and session.tradeoff is not None
    points, selected, runtime = plotted
    assert runtime == "eager"
    assert points == [
        reply.result.predicted_latency_s(point.swapped, "eager")
        for point in session.tradeoff.value.points
    ]
    assert session.analysis is not None
    assert selected == reply.result.predicted_latency_s(session.analysis.swapped_names, "eager")


def test_b_carries_the_data_its_cells_are_measured_on() -> None:
    """b sends the data field (each cell's fidelity is measured on it), and a matrix is of
    that data: another data text makes it stale; no data sends none; data that is not one is
    refused on its field before any work."""
    session = digits_session()
    assert session.bench_request(0.1).data == "digits/data.pt"
    key = session.bench_key()
    session.data = "synthetic:8"
    assert session.bench_key() != key and session.bench_request(0.1).data == "synthetic:8"
    session.data = "  "
    assert session.bench_request(0.1).data is None
    session.data = "synthetic:zero"
    with pytest.raises(UserError) as raised:
        session.bench_request(0.1)
    assert raised.value.field == "data"
