"""AppTest of the compare page, from a small temporary measurement store."""

from __future__ import annotations

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from dashboard.compare import reference as compare_reference
from dashboard.compare import series
from tests.fakes import fake_measurement
from tests.plotly_json import read_chart, values
from zoo.measure import isolation
from zoo.store import measurement_store as store_mod

PAGE = "from dashboard.compare.page import render\nrender()\n"
TIMEOUT = 120


def _fake(model: str, resolution: int, latency_ms: float, **changes) -> object:
    """A synthetic stored row (numbers made up for the test; the page only displays them)."""
    return fake_measurement(
        model,
        resolution,
        latency_ms_median=latency_ms,
        latency_ms_p90=latency_ms * 1.1,
        latency_ms_mean=latency_ms * 1.02,
        latency_ms_std=0.1,
        throughput_ips=1000.0 / latency_ms,
        iterations=20,
        peak_memory_mb=300.0,
        env="test",
        **changes,
    )


@pytest.fixture
def store_path(tmp_path, monkeypatch):
    path = tmp_path / "measurements.sqlite"
    store = store_mod.MeasurementStore(path)
    store.put(_fake("efficientnet_b0", 224, 12.5))
    store.put(_fake("mobilenetv3_large_100", 224, 6.0))
    store.put(_fake("resnet50", 224, 30.0))
    # Not this protocol, or not the reference resolution: must not appear on the batch-1 chart.
    store.put(_fake("efficientnet_b1", 240, 99.0, batch_size=8))
    store.put(_fake("efficientnet_b2", 999, 99.0))
    store.close()
    monkeypatch.setenv("EFFSCALE_STORE", str(path))
    return path


def _table(at: AppTest):
    for element in at.dataframe:
        if "latency_ms" in element.value.columns:
            return element.value
    raise AssertionError("no compare table")


def test_renders_latency_points_from_the_store(store_path):
    at = AppTest.from_string(PAGE, default_timeout=TIMEOUT).run()
    assert not at.exception
    assert not at.error
    table = _table(at)
    measured = table[table["latency_ms"].notna()].set_index("model")["latency_ms"]
    assert measured.to_dict() == {
        "efficientnet_b0": 12.5,
        "resnet50": 30.0,
        "mobilenetv3_large_100": 6.0,
    }
    chart = read_chart(at)
    xs = sorted(
        x
        for trace in chart["data"]
        if trace.get("mode") == "markers+text"
        for x in values(trace["x"])
    )
    assert xs == [6.0, 12.5, 30.0]
    assert chart["layout"]["xaxis"]["type"] == "log"
    names = [trace.get("name") for trace in chart["data"]]
    assert "Pareto front" in names
    hover = " ".join(h for trace in chart["data"] for h in trace.get("hovertext") or [])
    assert "batch 1, fp32" in hover and "results-imagenet.csv" in hover
    assert at.get("download_button")


def test_axes_and_published_overlay(store_path):
    at = AppTest.from_string(PAGE, default_timeout=TIMEOUT).run()
    at.toggle(key="compare_overlay").set_value(True).run()
    names = [t.get("name") for t in read_chart(at)["data"]]
    assert any("published RTX 4090" in str(n) for n in names)
    at.radio(key="compare_axis").set_value("macs").run()
    assert not at.exception
    chart = read_chart(at)
    points = sum(len(values(t["x"])) for t in chart["data"] if t.get("mode") == "markers+text")
    assert points == len(_table(at))  # every reference model has MACs and a top-1
    assert "GMACs" in chart["layout"]["xaxis"]["title"]["text"]
    at.radio(key="compare_axis").set_value("params").run()
    assert "parameters" in read_chart(at)["layout"]["xaxis"]["title"]["text"]


def test_batch_choice_filters_the_points(store_path):
    at = AppTest.from_string(PAGE, default_timeout=TIMEOUT).run()
    at.selectbox(key="compare_batch").set_value(8).run()
    assert not at.exception
    measured = _table(at).dropna(subset=["latency_ms"])
    assert list(measured["model"]) == ["efficientnet_b1"]


def test_unwritable_store_runs_without_persistence(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("EFFSCALE_STORE", str(blocker / "sub" / "m.sqlite"))
    at = AppTest.from_string(PAGE, default_timeout=TIMEOUT).run()
    assert not at.exception
    assert any("without persistence" in i.value for i in at.info)
    assert _table(at)["latency_ms"].isna().all()


@pytest.mark.model
@pytest.mark.slow
def test_measuring_a_missing_point_queues_a_job_a_worker_runs_and_the_chart_draws(
    tmp_path, monkeypatch
):
    # One real, small measurement (MobileNetV3 at batch 1 on CPU, a few seconds): the button
    # queues a job (nothing is measured in the page's script), a worker runs it, and the page
    # draws the point it stored.
    from zoo.store import jobs as jobs_mod
    from zoo.workers.worker import serve

    path = tmp_path / "m.sqlite"
    monkeypatch.setenv("EFFSCALE_STORE", str(path))
    at = AppTest.from_string(PAGE, default_timeout=300).run()
    at.selectbox(key="compare_runtime").set_value("eager").run()  # one runtime, one job
    at.multiselect(key="compare_models").set_value(["mobilenetv3_large_100"]).run()
    at.button(key="compare_start").click().run()
    assert not at.exception
    assert not at.error
    assert any("Queued 1 measurement job" in s.value for s in at.success)
    with store_mod.MeasurementStore(path) as store:
        (job,) = jobs_mod.jobs(store)
        assert (job.state, job.spec.model, job.protocol.runtime) == (
            "queued",
            "mobilenetv3_large_100",
            "eager",
        )
        assert job.requested_by == "dashboard session " + at.session_state["queue_session"]
        assert _table(at)["latency_ms"].isna().all()  # queued, not measured by the page
    try:
        assert serve(str(path), once=True) == 1
    finally:
        isolation.shutdown()
    at.run()
    measured = _table(at).dropna(subset=["latency_ms"])
    assert list(measured["model"]) == ["mobilenetv3_large_100"]
    assert measured["latency_ms"].iloc[0] > 0
    rows = store_mod.MeasurementStore(path).rows(device="cpu")
    assert [m.model for m in rows] == ["mobilenetv3_large_100"]


def test_protocols_are_never_mixed_on_one_chart(tmp_path, monkeypatch):
    # Hardening finding 7: a 1-thread, 1-iteration run must not replace a proper point.
    path = tmp_path / "m.sqlite"
    with store_mod.MeasurementStore(path) as store:
        store.put(_fake("efficientnet_b0", 224, 12.5, threads=2, measured_at="2026-01-01"))
        store.put(_fake("resnet50", 224, 30.0, threads=2, measured_at="2026-01-01"))
        quick = dict(threads=1, max_iters=1, min_iters=1, measured_at="2026-06-01")
        store.put(_fake("efficientnet_b0", 224, 99.0, **quick))
    monkeypatch.setenv("EFFSCALE_STORE", str(path))
    at = AppTest.from_string(PAGE, default_timeout=TIMEOUT).run()
    assert not at.exception
    table = _table(at).set_index("model")
    # the series with the most models is shown first: the proper 2-thread points
    assert table.loc["efficientnet_b0", "latency_ms"] == 12.5
    assert table.loc["resnet50", "latency_ms"] == 30.0
    choice = at.selectbox(key="compare_series")
    assert len(choice.options) == 2
    choice.set_value(1).run()
    table = _table(at).set_index("model")
    assert table.loc["efficientnet_b0", "latency_ms"] == 99.0
    assert pd.isna(table.loc["resnet50", "latency_ms"])  # not borrowed from the other protocol
    assert "1 threads" in table.loc["efficientnet_b0", "protocol"]


def test_compare_frame_refuses_a_mix_of_protocols():

    rows = [
        _fake("efficientnet_b0", 224, 12.5).to_dict(),
        _fake("resnet50", 224, 30.0, threads=1).to_dict(),
    ]
    with pytest.raises(ValueError, match="several protocols"):
        series.compare_frame(compare_reference.reference_frame(), rows)
    assert [len(rows) for _, rows in series.split_series(rows)] == [1, 1]


# --- the accuracy source (one view at a time, in the URL) -----------------------------------

# Substrings that name extra training data in a checkpoint (ImageNet-12k/21k/22k, JFT, SWAG),
# typed here rather than read from data.accuracy.
EXTRA_DATA_TAGS = ("in12k", "in21k", "in22k", "jft", "swag")
# arXiv 1905.11946v5 Table 2, ImageNet top-1 of EfficientNet-B0 ... B7.
PAPER_V5_TOP1 = {
    "efficientnet_b0": 77.1,
    "efficientnet_b1": 79.1,
    "efficientnet_b2": 80.1,
    "efficientnet_b3": 81.6,
    "efficientnet_b4": 82.9,
    "efficientnet_b5": 83.6,
    "efficientnet_b6": 84.0,
    "efficientnet_b7": 84.3,
}


def _plotted(at: AppTest) -> list[tuple[float, float]]:
    return sorted(
        (x, y)
        for trace in read_chart(at)["data"]
        if trace.get("mode") == "markers+text"
        for x, y in zip(values(trace["x"]), values(trace["y"]), strict=True)
    )


def _front(at: AppTest) -> list[tuple[float, float]]:
    trace = next(t for t in read_chart(at)["data"] if t.get("name") == "Pareto front")
    return list(zip(values(trace["x"]), values(trace["y"]), strict=True))


def _hover(at: AppTest) -> str:
    return " ".join(h for trace in read_chart(at)["data"] for h in trace.get("hovertext") or [])


def _url_view(at: AppTest) -> str:
    value = at.query_params["acc"]
    return value[0] if isinstance(value, list) else value


def test_default_view_is_like_for_like(store_path):
    at = AppTest.from_string(PAGE, default_timeout=TIMEOUT).run()
    assert not at.exception
    assert at.radio(key="compare_view").value == "timm-in1k"
    assert _url_view(at) == "timm-in1k"
    table = _table(at)
    for checkpoint in table["checkpoint"]:
        assert not any(tag in checkpoint.lower() for tag in EXTRA_DATA_TAGS), checkpoint
    assert set(table["training_data"]) == {"ImageNet-1k only"}
    # timm's only efficientnet_b5 weights were pre-trained on ImageNet-12k: no B5 point here.
    assert "efficientnet_b5" not in set(table["model"])
    at.radio(key="compare_axis").set_value("macs").run()
    assert len(_plotted(at)) == len(table)  # every row is plotted, none with extra data
    hover = _hover(at)
    assert "training data: ImageNet-1k only" in hover
    assert not any(tag in hover.lower() for tag in EXTRA_DATA_TAGS)
    legend = read_chart(at)["layout"]["legend"]["title"]["text"]
    assert "timm, ImageNet-1k only" in legend and "timm evaluation" in legend
    assert any("not drawn in this view, and why" in e.label for e in at.expander)


def test_paper_view_from_the_url_shows_table_2_v5(store_path):
    at = AppTest.from_string(PAGE, default_timeout=TIMEOUT)
    at.query_params["acc"] = "paper"
    at.run()
    assert not at.exception and not at.warning
    assert at.radio(key="compare_view").value == "paper"
    table = _table(at).set_index("model")
    for model, top1 in PAPER_V5_TOP1.items():
        assert table.loc[model, "top1_pct"] == top1
        assert "1905.11946v5" in table.loc[model, "top1_source"]
    assert table.loc["resnet50", "top1_pct"] == 76.0  # the paper's own peer row
    at.radio(key="compare_axis").set_value("macs").run()
    plotted_y = {y for _, y in _plotted(at)}
    assert set(PAPER_V5_TOP1.values()) <= plotted_y
    assert "different network" in _hover(at)  # the paper's model, timm's build
    assert _url_view(at) == "paper"


def test_switching_views_changes_the_front_and_the_url(store_path):
    at = AppTest.from_string(PAGE, default_timeout=TIMEOUT).run()
    at.radio(key="compare_axis").set_value("macs").run()
    timm_front = _front(at)
    at.radio(key="compare_view").set_value("paper").run()
    assert not at.exception
    assert _url_view(at) == "paper"
    paper_front = _front(at)
    assert paper_front != timm_front
    assert {y for _, y in paper_front} <= {*PAPER_V5_TOP1.values(), 76.0, 77.8}
    # The latency axis too: the stored B0, MobileNetV3 and ResNet-50 points (224 px).
    at.radio(key="compare_axis").set_value("latency").run()
    paper_latency_front = _front(at)
    at.radio(key="compare_view").set_value("timm-in1k").run()
    assert _url_view(at) == "timm-in1k"
    assert _front(at) != paper_latency_front
    assert _front(at) == [(6.0, 75.784), (12.5, 77.698)]  # MobileNetV3, then B0 (timm's ra_in1k)


def test_best_view_labels_extra_data_on_every_point(store_path):
    at = AppTest.from_string(PAGE, default_timeout=TIMEOUT)
    at.query_params["acc"] = "best"
    at.run()
    at.radio(key="compare_axis").set_value("params").run()
    assert not at.exception
    table = _table(at).set_index("model")
    assert table.loc["efficientnet_b5", "checkpoint"] == "efficientnet_b5.sw_in12k_ft_in1k"
    assert table.loc["efficientnet_b5", "training_data"] == "ImageNet-12k pre-training"
    traces = [t for t in read_chart(at)["data"] if t.get("mode") == "markers+text"]
    for trace in traces:
        for text in trace["hovertext"]:
            assert "training data: " in text
    names = [t["name"] for t in traces]
    assert any("JFT-300M extra data" in n for n in names)
    assert any("ImageNet-12k pre-training" in n for n in names)


def test_a_bad_view_in_the_url_falls_back_with_a_warning(store_path):
    at = AppTest.from_string(PAGE, default_timeout=TIMEOUT)
    at.query_params["acc"] = "<img src=x onerror=alert(1)>"
    at.query_params["phi"] = "2.5"  # another page's parameter: left alone
    at.run()
    assert not at.exception
    assert any("ignored acc=" in w.value for w in at.warning)
    assert at.radio(key="compare_view").value == "timm-in1k"
    assert _url_view(at) == "timm-in1k"
    assert at.query_params["phi"] in ("2.5", ["2.5"])


def test_runtime_choice_and_best_never_show_an_unverified_point(tmp_path, monkeypatch):
    path = tmp_path / "m.sqlite"
    ort = dict(runtime="onnxruntime", runtime_version="1.32.0", environment_key="test-ort")
    with store_mod.MeasurementStore(path) as store:
        store.put(_fake("efficientnet_b0", 224, 20.0))
        store.put(_fake("efficientnet_b0", 224, 8.0, **ort))
        store.put(_fake("resnet50", 224, 40.0))
        # Faster, but its outputs differed from eager fp32's: never a point.
        store.put(_fake("resnet50", 224, 1.0, verified=False, **ort))
    monkeypatch.setenv("EFFSCALE_STORE", str(path))
    at = AppTest.from_string(PAGE, default_timeout=TIMEOUT).run()
    assert not at.exception
    assert at.selectbox(key="compare_runtime").value == "best"
    table = _table(at).set_index("model")
    assert table.loc["efficientnet_b0", "latency_ms"] == 8.0
    assert table.loc["efficientnet_b0", "runtime"] == "onnxruntime"
    assert table.loc["resnet50", "latency_ms"] == 40.0  # the eager point, not the failed one
    assert "onnxruntime 1.32.0" in table.loc["efficientnet_b0", "protocol"]
    at.selectbox(key="compare_runtime").set_value("onnxruntime").run()
    table = _table(at).set_index("model")
    assert table.loc["efficientnet_b0", "latency_ms"] == 8.0
    assert pd.isna(table.loc["resnet50", "latency_ms"])
    at.selectbox(key="compare_runtime").set_value("eager").run()
    assert _table(at).set_index("model").loc["efficientnet_b0", "latency_ms"] == 20.0


# --- "top-1 on your data" (python -m zoo evaluate) ------------------------------------------


@pytest.fixture
def evaluated_store(tmp_path, monkeypatch):
    """Latencies for B0 (a chart model) and Lite0 (not one), and evaluations of both on one
    folder, plus an evaluation of B0 on another folder (numbers made up; displayed only)."""
    from tests.fakes import fake_evaluation

    path = tmp_path / "measurements.sqlite"
    with store_mod.MeasurementStore(path) as store:
        store.put(_fake("efficientnet_b0", 256, 12.5))  # at the evaluated size
        store.put(_fake("efficientnet_b0", 224, 11.0))  # at the published view's size
        store.put(_fake("tf_efficientnet_lite0", 224, 8.0))
        store.put_evaluation(fake_evaluation("tf_efficientnet_lite0", top1_pct=61.0))
        store.put_evaluation(
            fake_evaluation(
                "efficientnet_b0.ra_in1k", top1_pct=70.0, input_px=256, params=5_288_548
            )
        )
        store.put_evaluation(
            fake_evaluation("efficientnet_b0", fingerprint="e" * 64, data_dir="/data/other")
        )
    monkeypatch.setenv("EFFSCALE_STORE", str(path))
    return path


def test_no_evaluations_no_choice(store_path):
    at = AppTest.from_string(PAGE, default_timeout=TIMEOUT).run()
    assert not at.exception
    assert not [r for r in at.radio if r.key == "compare_accuracy_axis"]


def test_top1_on_your_data_is_a_y_axis_choice(evaluated_store):
    at = AppTest.from_string(PAGE, default_timeout=TIMEOUT).run()
    assert not at.exception
    choice = at.radio(key="compare_accuracy_axis")
    assert choice.value == "published"
    labels = list(choice.options)  # as shown
    assert labels[0] == "published top-1 (timm, ImageNet-1k only)"
    assert labels[1] == "top-1 on your data: /data/my-photos: 20 images, 2 models"
    assert labels[2] == "top-1 on your data: /data/other: 20 images, 1 model"
    # published: B0 at the view's 224 px, Lite0 absent (no published accuracy here)
    published = _table(at).set_index("model")
    assert published.loc["efficientnet_b0", "latency_ms"] == 11.0
    assert "tf_efficientnet_lite0" not in published.index
    choice.set_value("f" * 64).run()
    assert not at.exception
    chart = read_chart(at)
    points = {
        text: (x, y)
        for trace in chart["data"]
        if trace.get("mode") == "markers+text"
        for text, x, y in zip(trace["text"], values(trace["x"]), values(trace["y"]), strict=True)
    }
    assert points == {"b0": (12.5, 70.0), "tf-lite0": (8.0, 61.0)}
    title = chart["layout"]["yaxis"]["title"]["text"]
    assert title == "top-1 on your data (%): /data/my-photos, 20 images"
    assert (
        "/data/my-photos (20 images, fingerprint ffffffffffff)"
        in (chart["layout"]["legend"]["title"]["text"])
    )
    hover = " ".join(h for trace in chart["data"] for h in trace.get("hovertext") or [])
    assert "top-1 on your data 70.00 %" in hover and "published ImageNet top-1" in hover
    table = _table(at).set_index("model")
    assert table.loc["efficientnet_b0", "own_top1_pct"] == 70.0
    assert table.loc["efficientnet_b0", "resolution_px"] == 256
    assert table.loc["tf_efficientnet_lite0", "family"] == "EfficientNet-Lite"
    assert table.loc["tf_efficientnet_lite0", "params_m"] == pytest.approx(4.652008)
    # the published GPU overlay carries published accuracies: not on this axis
    at.toggle(key="compare_overlay").set_value(True).run()
    names = [t.get("name") for t in read_chart(at)["data"]]
    assert not any("published RTX 4090" in str(n) for n in names)


def test_every_compare_setting_round_trips_through_the_url(evaluated_store):
    at = AppTest.from_string(PAGE, default_timeout=TIMEOUT)
    settings = {
        "acc": "paper",
        "x": "params",
        "y": "f" * 64,
        "device": "cpu",
        "batch": "8",
        "precision": "fp32",
        "runtime": "eager",
        "overlay": "1",
    }
    for name, value in settings.items():
        at.query_params[name] = value
    at.run()
    assert not at.exception and not at.warning
    assert at.radio(key="compare_view").value == "paper"
    assert at.radio(key="compare_axis").value == "params"
    assert at.radio(key="compare_accuracy_axis").value == "f" * 64
    assert at.selectbox(key="compare_batch").value == 8
    assert at.selectbox(key="compare_runtime").value == "eager"
    assert at.toggle(key="compare_overlay").value is True
    # the page writes back what it shows: the same link reproduces the view
    for name, value in settings.items():
        if name not in ("device", "precision"):  # defaults are left out (short links)
            assert at.query_params[name] in (value, [value]), name
    # a change is written back; a setting back at its default leaves the URL
    at.radio(key="compare_axis").set_value("macs").run()
    at.selectbox(key="compare_batch").set_value(1).run()
    assert at.query_params["x"] in ("macs", ["macs"])
    assert "batch" not in at.query_params


def test_a_bad_setting_in_the_url_is_ignored_with_what_is_accepted(store_path):
    at = AppTest.from_string(PAGE, default_timeout=TIMEOUT)
    at.query_params["batch"] = "7"
    at.query_params["runtime"] = "<script>"
    at.query_params["x"] = "latency"
    at.run()
    assert not at.exception
    warned = " ".join(w.value for w in at.warning)
    assert "ignored batch='7': accepted 1, 8, 32, 64" in warned
    assert "ignored runtime='<script>'" in warned and "eager" in warned
    assert at.selectbox(key="compare_batch").value == 1  # defaults kept
    assert at.radio(key="compare_axis").value == "latency"


def test_measure_what_this_view_is_missing_queues_exactly_the_missing_points(store_path):
    from dashboard.compare.reference import reference_frame
    from zoo.store import jobs as jobs_mod

    at = AppTest.from_string(PAGE, default_timeout=TIMEOUT)
    at.query_params["acc"] = "paper"
    at.query_params["runtime"] = "eager"
    at.run()
    paper = reference_frame("paper")
    have = {"efficientnet_b0", "resnet50"}  # the fixture's rows at the paper's sizes (224 px)
    missing = [
        (m, px)
        for m, px in zip(paper["model"], paper["resolution_px"], strict=True)
        if m not in have
    ]
    # the count and the estimate before anyone confirms
    button = at.button(key="compare_measure_view")
    assert f"{len(missing)} jobs, about" in button.label and "(an estimate)" in button.label
    assert any(f"This view lacks {len(missing)} points" in m.value for m in at.markdown)
    button.click().run()
    assert not at.exception
    with store_mod.MeasurementStore(store_path) as store:
        queued = jobs_mod.jobs(store)
    assert sorted((j.spec.model, j.spec.resolution) for j in queued) == sorted(missing)
    assert {j.protocol.runtime for j in queued} == {"eager"}
    assert {(j.protocol.batch_size, j.protocol.precision) for j in queued} == {(1, "fp32")}
    # asked again: everything is queued or measured, nothing is queued twice
    at.run()
    assert not [b for b in at.button if b.key == "compare_measure_view"]


def test_the_own_data_axis_draws_macs_before_any_latency(tmp_path, monkeypatch):
    from tests.fakes import fake_evaluation

    path = tmp_path / "m.sqlite"
    with store_mod.MeasurementStore(path) as store:
        store.put_evaluation(fake_evaluation("tf_efficientnet_lite0", top1_pct=61.0))
    monkeypatch.setenv("EFFSCALE_STORE", str(path))
    at = AppTest.from_string(PAGE, default_timeout=TIMEOUT).run()
    at.radio(key="compare_accuracy_axis").set_value("f" * 64).run()
    assert not at.exception
    chart = read_chart(at)
    assert chart["layout"]["xaxis"]["title"]["text"].startswith("GMACs")
    texts = [t for trace in chart["data"] for t in trace.get("text") or []]
    assert texts == ["tf-lite0"]  # drawn at its MACs at the evaluated 224 px
    (x,) = [x for trace in chart["data"] if trace.get("text") for x in values(trace["x"])]
    assert x == pytest.approx(0.40, abs=0.03)  # Lite0 at 224 px: about 0.4 GMACs


# --- a reduced precision: the accuracy it costs, measured, or marked as not measured --------


def test_an_int8_point_is_drawn_at_the_published_top1_plus_the_drop_measured_on_your_images(
    tmp_path, monkeypatch
):
    from data.accuracy import DEFAULT_VIEW, view_points
    from tests.fakes import fake_evaluation

    px = {p.arch: p.measure_px for p in view_points(DEFAULT_VIEW).points}
    published = {p.arch: p.top1_pct for p in view_points(DEFAULT_VIEW).points}
    int8 = {"precision": "int8", "runtime": "openvino", "calibration": "c" * 16}
    path = tmp_path / "measurements.sqlite"
    with store_mod.MeasurementStore(path) as store:
        store.put(_fake("efficientnet_b0", px["efficientnet_b0"], 4.0, **int8))
        store.put(_fake("resnet50", px["resnet50"], 9.0, **int8))
        store.put(_fake("efficientnet_b0", px["efficientnet_b0"], 6.0))  # fp32, eager
        store.put_evaluation(
            fake_evaluation(
                "efficientnet_b0",
                runtime="openvino",
                precision="int8",
                top1_pct=68.0,
                reference_top1_pct=70.5,
                images_evaluated=250,
                agreement_pct=93.0,
                agreement_images=250,
            )
        )
    monkeypatch.setenv("EFFSCALE_STORE", str(path))
    at = AppTest.from_string(PAGE, default_timeout=TIMEOUT).run()
    at.selectbox(key="compare_precision").set_value("int8").run()
    at.selectbox(key="compare_runtime").set_value("openvino").run()
    assert not at.exception
    chart = read_chart(at)
    points = {
        text: (x, y, symbol)
        for trace in chart["data"]
        if trace.get("mode") == "markers+text"
        for text, x, y, symbol in zip(
            trace["text"],
            values(trace["x"]),
            values(trace["y"]),
            trace["marker"]["symbol"],
            strict=True,
        )
    }
    # B0: published fp32 top-1 − 2.5 pt, measured on 250 of your images; its own marker not used
    assert points["b0"][:2] == (4.0, pytest.approx(published["efficientnet_b0"] - 2.5))
    assert points["b0"][2] != "x"
    # ResNet-50: no int8 evaluation: the fp32 number, drawn with the "not measured" marker
    assert points["resnet50"][:2] == (9.0, pytest.approx(published["resnet50"]))
    assert points["resnet50"][2] == "x"
    hover = " ".join(h for trace in chart["data"] for h in trace.get("hovertext") or [])
    assert "adjusted: -2.5 pt measured on 250 of your images" in hover
    assert "int8 accuracy not measured: the published fp32 top-1 is drawn" in hover
    captions = " ".join(c.value for c in at.caption)
    assert "At int8: 1 of" in captions
    # fp32: the published numbers, no adjustment, no marker
    at.selectbox(key="compare_precision").set_value("fp32").run()
    at.selectbox(key="compare_runtime").set_value("eager").run()
    chart = read_chart(at)
    ys = {
        text: y
        for trace in chart["data"]
        if trace.get("mode") == "markers+text"
        for text, y in zip(trace["text"], values(trace["y"]), strict=True)
    }
    assert ys["b0"] == pytest.approx(published["efficientnet_b0"])
