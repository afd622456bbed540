"""The compare chart's predicted compound-scaling curve and its budget questions (AppTest).

The golden values are computed here from the explorer (``from_phi``) and the saved latency
model's own ``predict_ms``, never read back from the page's frame.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from dashboard.compare.scaling_curve import best_within, fastest_above, phis
from explorer import from_phi
from explorer.estimate import estimate_top1
from tests.fakes import fake_measurement
from tests.plotly_json import read_chart, values
from zoo.store import measurement_store as store_mod

PAGE = "from dashboard.compare.page import render\nrender()\n"
TIMEOUT = 120
CURVE = "compound scaling"


def _fake(model: str, resolution: int, latency_ms: float, env: str, **changes) -> object:
    """A synthetic stored row (made-up latency; the page only displays it)."""
    return fake_measurement(
        model, resolution, latency_ms_median=latency_ms, latency_ms_p90=latency_ms * 1.1,
        env=env, quality="clean", **changes,
    )  # fmt: skip


@pytest.fixture
def calibrated(tmp_path, monkeypatch):
    """A store with three reference points and one curve configuration (φ = 1) measured here,
    and an eager fp32 latency model for this machine; the model."""
    from tests.test_latency_model import _model, _points
    from zoo import spec_from_phi
    from zoo.latency.saved import save_model
    from zoo.records.environment import environment_for, host_name
    from zoo.records.protocol import Protocol

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    env = environment_for(Protocol(device="cpu", runtime="eager"))
    fitted = _model(_points(12, noise=0.03), machine=env.key, runtime="eager")
    model = type(fitted)(**{**fitted.__dict__, "host": host_name()})
    save_model(model)
    path = tmp_path / "m.sqlite"
    with store_mod.MeasurementStore(path) as store:
        for name, latency in (("efficientnet_b0", 12.5), ("resnet50", 30.0)):
            store.put(_fake(name, 224, latency, env.key, host=host_name()))
        on_curve = spec_from_phi(1.0)
        store.put(_fake(on_curve.model, on_curve.resolution, 20.0, env.key, host=host_name()))
    monkeypatch.setenv("EFFSCALE_STORE", str(path))
    return model, path


def _curve(chart: dict) -> dict:
    (trace,) = [t for t in chart["data"] if CURVE in str(t.get("name"))]
    return trace


def test_the_chart_draws_the_predicted_curve_with_its_measured_point(calibrated):
    model, _ = calibrated
    at = AppTest.from_string(PAGE, default_timeout=TIMEOUT).run()
    assert not at.exception and not at.error
    chart = read_chart(at)
    trace = _curve(chart)
    xs, ys = values(trace["x"]), values(trace["y"])
    assert len(xs) == len(phis()) == 161
    at_b0 = phis().index(0.0)
    assert xs[at_b0] == pytest.approx(model.predict_ms(from_phi(0.0)))
    assert ys[at_b0] == pytest.approx(estimate_top1(from_phi(0.0).macs).top1_pct)
    assert "predicted" in trace["hovertext"][at_b0] and "estimate" in trace["hovertext"][at_b0]
    (measured,) = [t for t in chart["data"] if "measured here" in str(t.get("name"))]
    assert values(measured["x"]) == [20.0]
    predicted = model.predict_ms(from_phi(1.0))
    assert f"predicted {predicted:.2f} ms" in measured["hovertext"][0]
    # The x axis is fitted to the curve too (log decades).
    low, high = chart["layout"]["xaxis"]["range"]
    assert low <= math.log10(min(xs)) and high >= math.log10(max(xs))


def test_the_budget_questions_answer_from_the_curve_and_queue_the_answer(calibrated):
    from zoo.store import jobs as jobs_mod

    model, path = calibrated
    at = AppTest.from_string(PAGE, default_timeout=TIMEOUT).run()
    budget = model.predict_ms(from_phi(2.0)) + 0.001
    at.number_input(key="compare_budget_ms").set_value(budget).run()
    assert not at.exception
    # Golden: the largest φ whose prediction fits (top-1's estimate rises with MACs, so with φ).
    expected = max(p for p in phis() if model.predict_ms(from_phi(p)) <= budget)
    assert expected == 2.0
    answers = [m.value for m in at.markdown if m.value.startswith("**φ = ")]
    assert answers[0].startswith("**φ = 2**") and "**predicted**" in answers[0]
    at.button(key="compare_budget_measure").click().run()
    with store_mod.MeasurementStore(path) as store:
        (job,) = [j for j in jobs_mod.jobs(store) if j.spec.phi is not None]
    # One job: the runtime the curve was predicted for (the chart's runtime is 'best').
    assert job.spec.phi == 2.0 and job.protocol.runtime == "eager"
    # The floor: the fastest φ whose estimate reaches it.
    floor = estimate_top1(from_phi(1.0).macs).top1_pct - 0.001
    at.number_input(key="compare_top1_floor").set_value(round(floor, 3)).run()
    answers = [m.value for m in at.markdown if m.value.startswith("**φ = ")]
    assert answers[1].startswith("**φ = 1**")
    # φ = 1 was measured: its answer shows the measurement against the prediction.
    assert any("Measured here: 20.00 ms" in c.value for c in at.caption)
    at.number_input(key="compare_top1_floor").set_value(99.0).run()
    assert any("None on the curve" in i.value for i in at.info)


def test_without_a_latency_model_the_page_names_the_calibrate_command(tmp_path, monkeypatch):
    from zoo.records.environment import environment_for
    from zoo.records.protocol import Protocol

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    path = tmp_path / "m.sqlite"
    env = environment_for(Protocol(device="cpu", runtime="eager"))
    with store_mod.MeasurementStore(path) as store:
        store.put(_fake("efficientnet_b0", 224, 12.5, env.key))
    monkeypatch.setenv("EFFSCALE_STORE", str(path))
    at = AppTest.from_string(PAGE, default_timeout=TIMEOUT).run()
    assert not at.exception
    assert not [t for t in read_chart(at)["data"] if CURVE in str(t.get("name"))]
    assert any("python -m zoo calibrate" in c.value for c in at.caption)
    assert not at.number_input


def _frame(points: list[tuple[float, float]]) -> pd.DataFrame:
    return pd.DataFrame(points, columns=["predicted_ms", "top1_estimate_pct"])


def test_budget_answers_pick_the_best_row_and_say_none_when_nothing_fits():
    frame = _frame([(2.0, 70.0), (5.0, 76.0), (9.0, 79.0), (20.0, 82.0)])
    assert best_within(frame, 9.0)["top1_estimate_pct"] == 79.0
    assert best_within(frame, 100.0)["top1_estimate_pct"] == 82.0
    assert best_within(frame, 1.9) is None
    assert fastest_above(frame, 76.0)["predicted_ms"] == 5.0
    assert fastest_above(frame, 60.0)["predicted_ms"] == 2.0
    assert fastest_above(frame, 82.1) is None
