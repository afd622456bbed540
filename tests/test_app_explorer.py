"""AppTest of the explorer page: widgets by key, numbers against the explorer's own."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from streamlit.proto.Metric_pb2 import Metric as MetricProto
from streamlit.testing.v1 import AppTest

from explorer import from_multipliers, from_phi, from_variant
from tests.plotly_json import read_chart, values

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "app.py")
PAGE = "from dashboard.explorer.page import render\nrender()\n"
TIMEOUT = 60


def _page() -> AppTest:
    return AppTest.from_string(PAGE, default_timeout=TIMEOUT)


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def _count(value: float) -> str:
    # The page's own formatting rule, restated: 3 significant digits with a unit.
    for unit, scale in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if value >= scale:
            return f"{value / scale:.3g} {unit}"
    return f"{value:.3g}"


def _frame(at: AppTest, column: str):
    """The first dataframe that has ``column`` (non-widget dataframes carry no key)."""
    for element in at.dataframe:
        if column in element.value.columns:
            return element.value
    raise AssertionError(f"no dataframe with a {column!r} column")


def _check_against(at: AppTest, net) -> None:
    metrics = _metrics(at)
    assert metrics["Depth multiplier"] == f"{net.depth_multiplier:.3f}"
    assert metrics["Width multiplier"] == f"{net.width_multiplier:.3f}"
    assert metrics["Resolution"] == f"{net.resolution} px"
    assert metrics["Params"] == _count(net.params)
    assert metrics["MACs"] == _count(net.macs)
    assert metrics["FLOPs (= 2 × MACs)"] == _count(2 * net.macs)
    assert metrics["Total blocks"] == str(net.total_blocks)
    table = _frame(at, "stage")
    stages = table[table["stage"].isin([str(i) for i in range(1, 8)])]
    assert list(stages["out_channels"]) == [s.out_channels for s in net.stages]
    assert list(stages["repeats"]) == [s.repeats for s in net.stages]
    assert list(stages["macs"]) == [s.macs for s in net.stages]
    assert int(table["params"].sum()) == net.params
    assert int(table["macs"].sum()) == net.macs


def test_app_opens_on_the_explorer_with_b0():
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    assert not at.exception
    _check_against(at, from_phi(0.0))


def test_moving_phi_changes_table_and_metrics():
    at = _page().run()
    before = _frame(at, "stage").copy()
    at.slider(key="explorer_phi").set_value(3.0).run()
    assert not at.exception
    _check_against(at, from_phi(3.0))
    assert not _frame(at, "stage").equals(before)
    assert at.query_params["phi"] in ("3", ["3"])
    at.slider(key="explorer_phi").set_value(-1.5).run()
    _check_against(at, from_phi(-1.5))


def test_custom_coefficients_follow_the_formula():
    at = _page().run()
    at.number_input(key="explorer_alpha").set_value(1.3).run()
    at.slider(key="explorer_phi").set_value(2.0).run()
    assert not at.exception
    _check_against(at, from_phi(2.0, 1.3, 1.1, 1.15))
    constraint = _metrics(at)["Constraint α·β²·γ²"]
    assert constraint == f"{1.3 * 1.1**2 * 1.15**2:.4f}"


@pytest.mark.parametrize(
    ("name", "value", "phi"),
    [("explorer_alpha", 0.0, 0.0), ("explorer_beta", 0.0, 2.0), ("explorer_alpha", 10.0, 9.0)],
)
def test_invalid_coefficients_show_an_error_not_an_exception(name, value, phi):
    at = _page().run()
    at.slider(key="explorer_phi").set_value(phi).run()
    at.number_input(key=name).set_value(value).run()
    assert not at.exception
    assert at.error, "an invalid coefficient must show st.error"
    assert "Invalid" in at.error[0].value


def test_variant_mode_and_starting_point():
    at = _page().run()
    at.selectbox(key="explorer_variant").set_value("b4").run()
    # Choosing a variant moves φ to the cost-equivalent value and fills the explicit fields.
    assert at.slider(key="explorer_phi").value > 3.5
    at.radio(key="explorer_mode").set_value("variant").run()
    assert not at.exception
    _check_against(at, from_variant("b4"))
    at.radio(key="explorer_mode").set_value("explicit").run()
    assert at.number_input(key="explorer_resolution").value == 380
    _check_against(at, from_variant("b4"))
    at.number_input(key="explorer_width").set_value(1.25).run()
    _check_against(at, from_multipliers(1.25, 1.8, 380))


def test_state_comes_from_the_url():
    at = _page()
    at.query_params["phi"] = "2.5"
    at.query_params["variant"] = "b2"
    at.run()
    assert not at.exception
    assert at.slider(key="explorer_phi").value == 2.5
    _check_against(at, from_phi(2.5))


@pytest.mark.parametrize(
    "params",
    [
        {"phi": "nan"},
        {"phi": "1e999", "alpha": "-3"},
        {"mode": "<script>alert(1)</script>", "r": "3.5"},
        {"phi": "9" * 5000},
        {"gamma": "0", "w": "abc", "d": ["2", "3"], "variant": "b99"},
    ],
)
def test_hostile_url_falls_back_to_defaults_with_a_warning(params):
    at = _page()
    for key, value in params.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception
    assert not at.error
    assert any("URL" in w.value for w in at.warning)


def test_sections_render():
    at = _page().run()
    at.slider(key="explorer_phi").set_value(3.0).run()
    eq = _frame(at, "macs_vs_target_pct")
    assert list(eq["scaling"]) == ["compound", "depth only", "width only", "resolution only"]
    assert eq["macs"].iloc[0] == from_phi(3.0).macs
    assert _frame(at, "resolution_multiplier").shape[0] == 5  # the paper's Table 7
    paper = _frame(at, "exact_params")  # the paper's Table 2 against the exact counts
    assert list(paper["exact_params"]) == [from_variant(f"b{i}").params for i in range(8)]
    assert "Estimated ImageNet top-1" in _metrics(at)
    assert any("Estimate only" in c.value for c in at.caption)
    charts = at.get("plotly_chart")
    assert len(charts) == 3


def test_explorer_page_imports_no_torch():
    # The whole app (app.py routes to all three pages) opened on its default page, the explorer.
    code = (
        "import sys\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        "from streamlit.testing.v1 import AppTest\n"
        f"at = AppTest.from_file({APP!r}, default_timeout=60).run()\n"
        "at.slider(key='explorer_phi').set_value(2.0).run()\n"
        "assert not at.exception, at.exception\n"
        # The predicted-latency section reads this machine's latency model through the zoo's
        # pure-Python parts (records, specs, the latency wing): never torch, timm or a runtime.
        "light = ('zoo', 'zoo.errors', 'zoo.files', 'zoo.jsontext', 'zoo.paths', 'zoo.models',\n"
        "         'zoo.models.spec', 'zoo.latency', 'zoo.records', 'zoo.profile',\n"
        "         'zoo.profile.saved')\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'timm', 'openvino',\n"
        "    'onnxruntime') or (m.split('.')[0] == 'zoo' and m not in light\n"
        "    and not m.startswith(('zoo.latency.', 'zoo.records.'))))\n"
        "print(bad)\n"
        "sys.exit(1 if bad else 0)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert result.returncode == 0, result.stdout + result.stderr[-2000:]


def test_values_survive_mode_and_page_switches():
    # Streamlit forgets the value of a widget a run does not draw; the page keeps its own copy.
    script = (
        "import streamlit as st\n"
        "from dashboard.explorer.page import render\n"
        "if st.session_state.get('show_explorer', True):\n"
        "    render()\n"
        "else:\n"
        "    st.write('another page')\n"
    )
    at = AppTest.from_string(script, default_timeout=TIMEOUT).run()
    at.slider(key="explorer_phi").set_value(2.5).run()
    at.number_input(key="explorer_alpha").set_value(1.3).run()
    at.radio(key="explorer_mode").set_value("explicit").run()
    at.number_input(key="explorer_width").set_value(1.3).run()
    at.radio(key="explorer_mode").set_value("phi").run()  # the w/d/r inputs are not drawn
    at.slider(key="explorer_phi").set_value(2.0).run()
    at.session_state["show_explorer"] = False  # another page
    at.run()
    at.session_state["show_explorer"] = True
    at.run()
    assert not at.exception and not at.error
    assert at.slider(key="explorer_phi").value == 2.0
    assert at.number_input(key="explorer_alpha").value == 1.3
    _check_against(at, from_phi(2.0, 1.3, 1.1, 1.15))
    at.radio(key="explorer_mode").set_value("explicit").run()
    assert at.number_input(key="explorer_width").value == 1.3
    _check_against(at, from_multipliers(1.3, 1.0, 224))


# ------------------------------------------------------- the drawing, the deltas, the notes

HEADLINE = (
    "Depth multiplier",
    "Width multiplier",
    "Resolution multiplier",
    "Resolution",
    "Params",
    "MACs",
    "FLOPs (= 2 × MACs)",
    "Total blocks",
)
MIN_FONT_PX = 11


def _network_chart(at: AppTest) -> dict:
    for index in range(len(at.get("plotly_chart"))):
        chart = read_chart(at, index)
        if any(str(t.get("name", "")).startswith("B0") for t in chart["data"]):
            return chart
    raise AssertionError("no network drawing with a B0 outline on the page")


@pytest.mark.parametrize("phi", [0.01, 3.0])
def test_network_drawing_is_labelled_legibly_over_a_fainter_b0(phi):
    at = _page().run()
    at.slider(key="explorer_phi").set_value(phi).run()
    assert not at.exception
    chart = _network_chart(at)
    layout = chart["layout"]
    labels = [a["text"] for a in layout["annotations"]]
    for s in from_phi(phi).stages:
        px = s.output_resolution
        expected = (
            f"Stage {s.index}</b> {s.block}",
            f"k{s.kernel}×{s.kernel} · expand {s.expand_ratio}",
            f"×{s.repeats} block",
            f"{s.out_channels} ch",
            f"{px}×{px} px",
        )
        assert any(all(part in label for part in expected) for label in labels), (s, labels)
    assert any(f"{from_phi(phi).stem_channels} ch" in label for label in labels if "Stem" in label)
    sizes = [a["font"]["size"] for a in layout["annotations"]]
    sizes += [layout["font"]["size"], layout["title"]["font"]["size"]]
    sizes.append(layout["title"]["subtitle"]["font"]["size"])
    assert min(sizes) >= MIN_FONT_PX
    network = next(t for t in chart["data"] if t["type"] == "bar")
    outline = next(t for t in chart["data"] if str(t.get("name", "")).startswith("B0"))
    assert outline["opacity"] < network["opacity"]
    assert outline["line"]["dash"] == "dash"
    # Stage 7 (slot 7) is drawn wider than B0's outline of it at φ = 3, as wide at φ = 0.01
    # (320 channels both).
    b0_xs = [x for x in values(outline["x"]) if x is not None]
    b0_stage7 = max(b0_xs) - min(x for x in b0_xs if x > 6.5)
    stage7 = values(network["width"])[-1]
    if phi == 3.0:
        assert stage7 > 1.05 * b0_stage7
    else:
        assert stage7 == pytest.approx(b0_stage7)


def _headline_deltas(at: AppTest) -> dict[str, object]:
    return {m.label: m.proto for m in at.metric if m.label in HEADLINE}


def test_unchanged_metrics_show_no_arrow_and_changed_ones_no_green():
    up, none = MetricProto.MetricDirection.UP, MetricProto.MetricDirection.NONE
    at = _page().run()
    deltas = _headline_deltas(at)
    assert set(deltas) == set(HEADLINE)
    for label, proto in deltas.items():  # B0: nothing changed
        assert proto.direction == none, label
        assert proto.color != MetricProto.MetricColor.GREEN, label
        assert proto.delta == "same as B0", label
    at.slider(key="explorer_phi").set_value(0.01).run()
    deltas = _headline_deltas(at)
    # 224 × 1.15^0.01 rounds to 224 px; the 16 blocks become 23.
    assert deltas["Resolution"].direction == none
    assert deltas["Total blocks"].direction == up
    assert deltas["Total blocks"].delta == f"{100 * (23 / 16 - 1):+.1f} % vs B0"
    at.slider(key="explorer_phi").set_value(3.0).run()
    for label, proto in _headline_deltas(at).items():
        assert proto.direction == up, label
        assert proto.color == MetricProto.MetricColor.GRAY, label


def _rounding_notes(at: AppTest) -> list[str]:
    return [i.value for i in at.info if "Rounding" in i.value]


def test_rounding_note_explains_the_jump_at_phi_001_only():
    at = _page().run()
    assert _rounding_notes(at) == []
    at.slider(key="explorer_phi").set_value(0.01).run()
    notes = _rounding_notes(at)
    assert len(notes) == 1
    assert "Stages 1–7 gained a whole block each" in notes[0]
    assert "ceil(1.0018 × 2 = 2.004) = 3" in notes[0]
    assert "23 blocks" in notes[0]
    at.slider(key="explorer_phi").set_value(0.0).run()
    assert _rounding_notes(at) == []


def test_picking_b7_says_why_phi_is_not_7():
    at = _page().run()
    at.selectbox(key="explorer_variant").set_value("b7").run()
    phi = at.slider(key="explorer_phi").value
    assert 7.0 < phi < 7.1
    why = [c.value for c in at.caption if "EfficientNet-B7 → φ" in c.value]
    assert len(why) == 1
    assert f"φ = {phi:g}**, not 7" in why[0]
    assert "picked by hand" in why[0] and "depth 3.1, width 2, 600 px" in why[0]
    at.slider(key="explorer_phi").set_value(3.0).run()  # φ no longer the variant's
    assert not [c.value for c in at.caption if "EfficientNet-B7 → φ" in c.value]


def test_the_explorer_predicts_latency_from_this_machine_s_model_labelled_predicted(
    tmp_path, monkeypatch
):
    from tests.test_latency_model import _model, _points
    from zoo.latency.saved import save_model
    from zoo.records.environment import host_name

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    assert any("python -m zoo calibrate" in info.value for info in at.info)
    model = _model(_points(12, noise=0.03))
    save_model(type(model)(**{**model.__dict__, "host": host_name()}))
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.slider(key="explorer_phi").set_value(2.0).run()
    assert not at.exception
    shown = [m for m in at.metric if m.label.startswith("Predicted latency")]
    assert len(shown) == 1 and shown[0].value.endswith(" ms")
    predicted = model.predict_ms(from_phi(2.0))
    assert float(shown[0].value.split()[0]) == pytest.approx(predicted, abs=0.01)
    assert any("**Predicted**, not measured" in c.value for c in at.caption)


def test_a_profiled_configuration_shows_measured_stage_times_and_its_roofline(
    tmp_path, monkeypatch
):
    from explorer.operators import operator_costs
    from tests.test_latency_model import _model, _points
    from zoo.latency.saved import save_model
    from zoo.models.spec import spec_for_network
    from zoo.profile.ceilings import Ceilings
    from zoo.profile.saved import save_profile
    from zoo.profile.stages import profile_document
    from zoo.records.environment import host_name

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    net = from_phi(2.0)
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.slider(key="explorer_phi").set_value(2.0).run()
    hint = [c.value for c in at.caption if "Not profiled on this machine yet" in c.value]
    assert len(hint) == 1 and "python -m zoo profile --phi 2 --alpha 1.2" in hint[0]
    charts_before = len(at.get("plotly_chart"))
    model = _model(_points(12, noise=0.03))
    save_model(type(model)(**{**model.__dict__, "host": host_name()}))
    costs = {(c.part, c.kind): (c.macs, c.bytes_moved()) for c in operator_costs(net)}
    placed = [(part, kind, 0.5, True) for part, kind in costs]
    document = profile_document(placed, costs, 10.0, Ceilings("fp32", 300.0, 25.0, "fp", "t"))
    save_profile({
        "model": spec_for_network(net).model, "resolution": net.resolution,
        "runtime": "openvino", "precision": "fp32", "runtime_precision": "f32",
        "profiler": "OpenVINO's performance counters", "threads": 2, "calls": 30,
        "profiled_at": "2026-12-06T00:00:00Z", **document,
    })  # fmt: skip
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.slider(key="explorer_phi").set_value(2.0).run()
    assert not at.exception
    assert any("**Measured** with OpenVINO's performance counters" in c.value for c in at.caption)
    frames = [f.value for f in at.dataframe if "from" in f.value.columns]
    assert len(frames) == 1
    from zoo.latency.features import CALL_PART

    rows = frames[0][frames[0]["part"] != CALL_PART]  # the per-call overhead has no stage
    assert set(rows["from"]) == {"measured (OpenVINO's performance counters)"}
    stem = frames[0][frames[0]["part"] == "stem"]
    assert float(stem["time ms"].iloc[0]) == pytest.approx(document["parts"][0]["ms"], abs=1e-3)
    assert len(at.get("plotly_chart")) == charts_before + 1  # the roofline
    # Another configuration has no profile: its times stay predicted, labelled so.
    at.slider(key="explorer_phi").set_value(1.0).run()
    frames = [f.value for f in at.dataframe if "from" in f.value.columns]
    assert set(frames[0]["from"]) == {"predicted"}
    assert any("Not profiled on this machine yet" in c.value for c in at.caption)


def test_a_profile_timed_stage_by_stage_says_so_not_just_its_profiler():
    from dashboard.explorer.profile_view import how_measured

    plain = {"profiler": "OpenVINO's performance counters", "parts_timed": "each part: the sum"}
    alone = {"profiler": "ONNX Runtime's profiling", "parts_timed": "each part run alone (…)"}
    assert how_measured(plain) == "OpenVINO's performance counters"
    assert how_measured({"profiler": "torch.profiler"}) == "torch.profiler"  # older kept files
    assert how_measured(alone) == (
        "each stage run alone (split by kind with ONNX Runtime's profiling)"
    )
