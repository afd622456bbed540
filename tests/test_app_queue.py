"""AppTests of measurements as jobs on the dashboard: the first-run sweep, the queue panel, your
own configuration from the explorer to the compare chart, noisy points.

Nothing here measures: the pages only queue jobs (the worker is off under test, see conftest),
and measured rows are synthetic (``tests.fakes``). The real worker is exercised in
``test_jobs.py``, the page-to-worker-to-chart path in ``test_app_compare.py`` and the browser
test.
"""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from dashboard.explorer import configs
from data.accuracy import DEFAULT_VIEW, view_points
from explorer import from_phi
from explorer.estimate import estimate_top1, published_fit
from tests.fakes import fake_measurement
from tests.plotly_json import read_chart, values
from zoo.models.spec import spec_from_phi
from zoo.store import jobs as jobs_mod
from zoo.store import measurement_store as store_mod

COMPARE = "from dashboard.compare.page import render\nrender()\n"
EXPLORER = "from dashboard.explorer.page import render\nrender()\n"
TIMEOUT = 120


@pytest.fixture
def path(tmp_path, monkeypatch):
    location = tmp_path / "m.sqlite"
    monkeypatch.setenv("EFFSCALE_STORE", str(location))
    return location


def _trace(at: AppTest, prefix: str) -> dict | None:
    return next(
        (t for t in read_chart(at)["data"] if str(t.get("name", "")).startswith(prefix)), None
    )


def _jobs(location) -> list:
    with store_mod.MeasurementStore(location) as store:
        return jobs_mod.jobs(store)


def _fake(model: str, resolution: int, latency_ms: float, **changes):
    return fake_measurement(
        model, resolution, latency_ms_median=latency_ms, runtime="openvino", **changes
    )


def test_a_first_visit_queues_every_view_default_first_and_draws_macs_meanwhile(path, monkeypatch):
    from dashboard.compare.reference import reference_frame
    from dashboard.measuring.queue import SWEEP_GROUP, SWEEP_MORE_GROUP
    from data.accuracy import VIEWS
    from zoo.store.jobs import BACKGROUND, NORMAL

    monkeypatch.setenv("EFFSCALE_AUTO_SWEEP", "1")
    at = AppTest.from_string(COMPARE, default_timeout=TIMEOUT).run()
    assert not at.exception
    assert not at.error
    queued = sorted(_jobs(path), key=lambda j: j.id)
    first = [j for j in queued if j.group_name == SWEEP_GROUP]
    later = [j for j in queued if j.group_name == SWEEP_MORE_GROUP]
    assert len(first) + len(later) == len(queued)

    def pairs(view: str) -> set[tuple[str, int]]:
        return {(str(p.arch), int(p.measure_px)) for p in view_points(view).points}

    # exactly the default view's networks at its input sizes (all fit in this machine's memory)
    assert {(j.spec.model, j.spec.resolution) for j in first} == pairs(DEFAULT_VIEW)
    # then, in the background, every other view's networks the default one lacks
    others = set().union(*(pairs(v.key) for v in VIEWS)) - pairs(DEFAULT_VIEW)
    assert {(j.spec.model, j.spec.resolution) for j in later} == others
    assert {j.priority for j in first} == {NORMAL} and {j.priority for j in later} == {BACKGROUND}
    # cheapest first, so that half of the chart lands soon
    gmacs = reference_frame(DEFAULT_VIEW).set_index("model")["gmacs"]
    costs = [gmacs[j.spec.model] for j in first]
    assert costs == sorted(costs)
    assert {j.state for j in queued} == {"queued"}
    assert {(j.protocol.batch_size, j.protocol.device) for j in queued} == {(1, "cpu")}
    # on the fastest available runtime (OpenVINO is installed by the requirements)
    assert {j.protocol.runtime for j in queued} == {"openvino"}
    # the progress is above the chart, with its estimate
    bars = [str(p.proto.text) for p in at.get("progress")]
    assert any(f"the chart's {len(first)} networks" in t and "to go" in t for t in bars), bars
    # never an empty chart: MACs until half of the sweep has landed, axes fitted to them
    assert any("MACs until half" in i.value for i in at.info)
    chart = read_chart(at)
    assert chart["layout"]["xaxis"]["title"]["text"].startswith("GMACs")
    low, high = chart["layout"]["xaxis"]["range"]
    xs = [x for t in chart["data"] if t.get("mode") != "lines" for x in values(t["x"])]
    assert 10**low < min(xs) and max(xs) < 10**high
    assert high - low < 3  # decades, not 0.1 ms to 1,000,000 ms
    ylow, yhigh = chart["layout"]["yaxis"]["range"]
    assert 50 < ylow < 80 and 80 < yhigh < 95

    # a second visit (another session) does not queue it again
    AppTest.from_string(COMPARE, default_timeout=TIMEOUT).run()
    assert len(_jobs(path)) == len(queued)
    # Stop cancels the rest of the sweep, other views too, and it is not queued again
    at.button(key="queue_stop_sweep").click().run()
    assert {j.state for j in _jobs(path)} == {"cancelled"}
    AppTest.from_string(COMPARE, default_timeout=TIMEOUT).run()
    assert len(_jobs(path)) == len(queued)


def test_the_sweep_can_be_turned_off_and_is_not_needed_once_measured(path, monkeypatch):
    at = AppTest.from_string(COMPARE, default_timeout=TIMEOUT).run()  # conftest: sweep off
    assert not at.exception
    assert _jobs(path) == []
    monkeypatch.setenv("EFFSCALE_AUTO_SWEEP", "1")
    with store_mod.MeasurementStore(path) as store:
        store.put(_fake("efficientnet_b0", 224, 7.0))
    at = AppTest.from_string(COMPARE, default_timeout=TIMEOUT).run()
    assert _jobs(path) == []  # the machine has a measurement already
    # latency on the x axis now that there is one
    assert read_chart(at)["layout"]["xaxis"]["title"]["text"].startswith("latency")


def test_every_session_sees_the_queue_and_cancels_only_its_own_jobs(path):
    from zoo.models.spec import spec_from_timm
    from zoo.records.protocol import Protocol

    with store_mod.MeasurementStore(path) as store:
        other = jobs_mod.submit(
            store,
            spec_from_timm("resnet50"),
            Protocol(runtime="eager"),
            requested_by="dashboard session someone-else",
        )
    at = AppTest.from_string(COMPARE, default_timeout=TIMEOUT).run()
    at.selectbox(key="compare_runtime").set_value("eager").run()
    at.multiselect(key="compare_models").set_value(["efficientnet_b0"]).run()
    at.button(key="compare_start").click().run()
    assert not at.exception
    mine = next(j for j in _jobs(path) if j.id != other.id)
    at.run()
    queue = next(d.value for d in at.dataframe if "asked by" in d.value.columns)
    who = dict(zip(queue["job"], queue["asked by"], strict=True))
    assert who == {other.id: "another dashboard session", mine.id: "you"}
    assert queue["estimate"].str.endswith(" s").all()
    buttons = [b.key for b in at.button]
    assert f"queue_cancel_{mine.id}" in buttons
    assert f"queue_cancel_{other.id}" not in buttons
    at.button(key=f"queue_cancel_{mine.id}").click().run()
    states = {j.id: j.state for j in _jobs(path)}
    assert states == {other.id: "queued", mine.id: "cancelled"}


def test_an_absurd_request_is_refused_at_submission_with_the_memory_guards_message(path):
    at = AppTest.from_string(EXPLORER, default_timeout=TIMEOUT)
    at.query_params.update({"mode": "explicit", "w": "16", "d": "16", "r": "4096"})
    at.run()
    at.button(key="explorer_measure").click().run()
    assert not at.exception
    assert any("Refused" in e.value and "GiB is available" in e.value for e in at.error)
    assert _jobs(path) == []


def test_your_configuration_goes_from_the_explorer_to_the_compare_chart(path):
    explorer = AppTest.from_string(EXPLORER, default_timeout=TIMEOUT)
    explorer.query_params.update({"phi": "2.5", "alpha": "1.3", "beta": "1.05", "gamma": "1.1"})
    explorer.run()
    explorer.button(key="explorer_measure").click().run()
    assert not explorer.exception
    assert not explorer.error
    expected = spec_from_phi(2.5, 1.3, 1.05, 1.1)
    (job,) = _jobs(path)
    assert (job.spec.model, job.spec.resolution, job.protocol.batch_size) == (
        expected.model,
        expected.resolution,
        1,
    )
    link = next(m.value for m in explorer.markdown if "compare?cfg=" in m.value)
    token = link.split("compare?cfg=")[1].rstrip(")").replace("%3A", ":")
    assert token == "phi:2.5:1.3:1.05:1.1"

    # The compare page, opened from that link: MACs at once, the estimate with its band.
    compare = AppTest.from_string(COMPARE, default_timeout=TIMEOUT)
    compare.query_params["cfg"] = token
    compare.run()
    assert not compare.exception
    network = from_phi(2.5, 1.3, 1.05, 1.1)
    estimate = estimate_top1(network.macs, published_fit())
    trace = _trace(compare, "your configurations")
    assert trace is not None and "estimate" in trace["name"]
    assert values(trace["x"]) == [pytest.approx(network.macs / 1e9)]  # MACs axis until measured
    assert values(trace["y"]) == [pytest.approx(estimate.top1_pct)]
    assert values(trace["error_y"]["array"]) == [pytest.approx(estimate.loo_rmse_pct)]
    assert "ESTIMATE" in trace["hovertext"][0]
    assert compare.query_params["cfg"] in (token, [token])  # shareable

    # Once the worker lands its latency, it is on the latency axis; not in the Pareto front
    # unless asked.
    with store_mod.MeasurementStore(path) as store:
        store.put(_fake("efficientnet_b0", 224, 9.0))
        store.put(_fake(expected.model, expected.resolution, 0.5))  # faster than anything
    compare.run()
    trace = _trace(compare, "your configurations")
    assert values(trace["x"]) == [0.5]
    front = _trace(compare, "Pareto front")
    assert front is None or 0.5 not in values(front["x"])
    compare.toggle(key="compare_user_pareto").set_value(True).run()
    front = _trace(compare, "Pareto front")
    assert 0.5 in values(front["x"]) and "with your estimates" in front["name"]


def test_bad_configurations_in_the_url_are_named_and_the_good_ones_kept(path):
    at = AppTest.from_string(COMPARE, default_timeout=TIMEOUT)
    at.query_params["cfg"] = ["wdr:1.2:1.4:300", "phi:nan:1:1:1", "<script>", "b3"]
    at.run()
    assert not at.exception
    warnings = " ".join(w.value for w in at.warning)
    assert "phi='nan' is not a finite number" in warnings
    assert "'<script>' is not a configuration" in warnings
    assert at.query_params["cfg"] == ["wdr:1.2:1.4:300", "b3"]
    assert _trace(at, "your configurations")["text"] == [
        "w=1.2 d=1.4 r=300",
        "EfficientNet-B3 (yours)",
    ]


def test_a_noisy_point_is_drawn_hollow_and_said_so(path):
    with store_mod.MeasurementStore(path) as store:
        store.put(_fake("efficientnet_b0", 224, 9.0, quality="clean"))
        store.put(
            _fake(
                "resnet50",
                224,
                700.0,
                quality="noisy",
                quality_reason="other processes used 0.98 of 2 cores",
            )
        )
    at = AppTest.from_string(COMPARE, default_timeout=TIMEOUT).run()
    assert not at.exception
    assert any("provisional" in w.value and "busy" in w.value for w in at.warning)
    symbols = {}
    for trace in read_chart(at)["data"]:
        for model, symbol, hover in zip(
            trace.get("text") or [],
            (trace.get("marker") or {}).get("symbol") or [],
            trace.get("hovertext") or [],
            strict=False,
        ):
            symbols[model] = (symbol, hover)
    # hollow, labelled "?" (provisional) and the hover says why
    assert symbols["resnet50 ?"][0].endswith("-open") and "PROVISIONAL" in symbols["resnet50 ?"][1]
    assert "other processes used 0.98 of 2 cores" in symbols["resnet50 ?"][1]
    assert not symbols["b0"][0].endswith("-open")
    # on the MACs axis latency quality is not what is drawn: no hollow point, no "?"
    at.radio(key="compare_axis").set_value("macs").run()
    traces = read_chart(at)["data"]
    labels = [t for trace in traces for t in trace.get("text") or []]
    assert "resnet50" in labels and "resnet50 ?" not in labels
    symbols = [s for trace in traces for s in (trace.get("marker") or {}).get("symbol") or []]
    assert symbols and not any(str(s).endswith("-open") for s in symbols)


def test_configuration_tokens_round_trip_and_refuse_bad_input():
    for token in ("phi:2.5:1.2:1.1:1.15", "wdr:1.2:1.4:300", "b7", "phi:-1:1.2:1.1:1.15"):
        assert configs.parse_token(token).token == token
    assert configs.parse_token("EFFICIENTNET_B3").token == "b3"
    for bad, why in (
        ("phi:1:2", "is not a configuration"),
        ("wdr:1:1:9999", "r=9999 is outside"),
        ("phi:1:0:1:1", "alpha=0 is outside"),
        ("x" * 100, "at most 64 characters"),
        ("b99", "is not a configuration"),
    ):
        with pytest.raises(ValueError, match=why):
            configs.parse_token(bad)


def test_a_visitor_can_queue_only_so_much(path, monkeypatch):
    """One visitor's queue is capped by count and by estimated time: EfficientNet-L2 at 800 px
    on three runtimes is refused past the cap, with the figures and the operator's settings."""
    from dashboard.measuring import queue, queue_panel
    from zoo.models.spec import spec_from_variant
    from zoo.records.protocol import Protocol

    runtimes = ["eager", "onnxruntime", "openvino"]
    protocols = [Protocol(device="cpu", runtime=r) for r in runtimes]
    me = queue.requester("visitor")
    with store_mod.MeasurementStore(path) as store:
        ids, problems = queue_panel.submit(
            store, [spec_from_variant("l2")], protocols, requested_by=me
        )
        assert len(ids) == 1 and len(problems) == 2
        assert all("accepted up to 20 jobs and 10 min 0 s per visitor" in p for p in problems)
        assert all("EFFSCALE_VISITOR_MAX_QUEUE_S" in p for p in problems)
        monkeypatch.setenv("EFFSCALE_VISITOR_MAX_JOBS", "3")
        small = [spec_from_phi(-3.0 + i / 10) for i in range(4)]
        ids, problems = queue_panel.submit(store, small, protocols[:1], requested_by=me)
        assert len(ids) == 2 and len(problems) == 2  # 1 (L2) + 2 = the cap of 3
        # the server's own sweep is not a visitor
        ids, problems = queue_panel.submit(
            store, small, protocols[:1], requested_by=queue.SWEEP_REQUESTER
        )
        assert len(ids) == 4 and not problems
