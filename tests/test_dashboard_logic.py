"""The dashboard's plain-value logic: URL state, frames and figures (no streamlit runtime)."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dashboard import plotting
from dashboard.classify import figures as classify_figures
from dashboard.compare import figure as compare_fig
from dashboard.compare import reference as compare_reference
from dashboard.compare import series
from dashboard.explorer import figures as explorer_figures
from dashboard.explorer import state
from dashboard.explorer import tables as explorer_tables
from data import accuracy
from explorer import from_multipliers, from_phi, from_variant, official_variant_names
from explorer.equal_cost import equal_cost_networks
from explorer.estimate import estimate_top1, published_fit

ROOT = Path(__file__).resolve().parent.parent

# ----------------------------------------------------------------------------- state


def test_defaults_are_the_paper():
    assert state.DEFAULT_STATE.alpha == 1.2
    assert state.DEFAULT_STATE.beta == 1.1
    assert state.DEFAULT_STATE.gamma == 1.15
    assert state.DEFAULT_STATE.phi == 0.0
    assert state.parse_query_params({}) == (state.DEFAULT_STATE, [])


def test_good_values_are_read():
    parsed, warnings = state.parse_query_params(
        {
            "mode": "explicit",
            "phi": "3.14159",
            "alpha": "1.3",
            "variant": "EfficientNet-B5",
            "w": "1.25",
            "d": ["2.0", "9"],
            "r": "300",
        }
    )
    assert warnings == []
    assert parsed.mode == "explicit"
    assert parsed.phi == 3.14  # the slider's step
    assert parsed.alpha == 1.3
    assert parsed.variant == "b5"
    assert (parsed.width, parsed.depth, parsed.resolution) == (1.25, 2.0, 300)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"phi": "nan"}, "phi"),
        ({"phi": "inf"}, "phi"),
        ({"phi": "-3"}, "phi"),
        ({"phi": "1e308"}, "phi"),
        ({"alpha": "0"}, "alpha"),
        ({"beta": "-1.1"}, "beta"),
        ({"gamma": "11"}, "gamma"),
        ({"mode": "drop table"}, "mode"),
        ({"variant": "b9"}, "variant"),
        ({"w": "0"}, "width"),
        ({"d": "17"}, "depth"),
        ({"r": "299.5"}, "resolution"),
        ({"r": "5000"}, "resolution"),
        ({"phi": "1" * 100}, "phi"),
        ({"phi": []}, "phi"),
    ],
)
def test_bad_values_fall_back_with_a_warning(params, field):
    parsed, warnings = state.parse_query_params(params)
    assert getattr(parsed, field) == getattr(state.DEFAULT_STATE, field)
    if params[next(iter(params))] != []:
        assert len(warnings) == 1
        assert "ignored" in warnings[0]


def test_unknown_parameters_are_not_ours():
    assert state.parse_query_params({"utm_source": "x", "page": "compare"}) == (
        state.DEFAULT_STATE,
        [],
    )


def test_a_mapping_that_raises_is_survived():
    class Hostile(dict):
        def keys(self):
            raise RuntimeError("boom")

    parsed, warnings = state.parse_query_params(Hostile(phi="2"))
    assert parsed == state.DEFAULT_STATE and warnings


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["mode", "phi", "alpha", "beta", "gamma", "variant", "w", "d", "r", "x"]),
        st.one_of(st.text(max_size=80), st.lists(st.text(max_size=10), max_size=3)),
        max_size=6,
    )
)
def test_parsing_never_raises_and_stays_in_range(params):
    parsed, warnings = state.parse_query_params(params)
    assert parsed.mode in state.MODES
    assert parsed.variant in official_variant_names()
    assert state.PHI_MIN <= parsed.phi <= state.PHI_MAX
    for value in (parsed.alpha, parsed.beta, parsed.gamma):
        assert 0 < value <= state.COEFFICIENT_MAX
    assert state.RESOLUTION_MIN <= parsed.resolution <= state.RESOLUTION_MAX
    assert all(isinstance(w, str) and len(w) < 300 for w in warnings)


def test_round_trip():
    s = state.ExplorerState(
        mode="phi", phi=2.37, alpha=1.25, beta=1.05, gamma=1.2, variant="b3", width=1.5
    )
    assert state.parse_query_params(state.to_query_params(s)) == (s, [])
    assert state.to_query_params(state.DEFAULT_STATE) == {}


# ----------------------------------------------------------------------------- tables


def test_stage_frame_adds_up_to_the_network():
    net = from_phi(2.5)
    frame = explorer_tables.stage_frame(net)
    assert list(frame["stage"]) == ["stem", "1", "2", "3", "4", "5", "6", "7", "head", "fc"]
    assert frame["params"].sum() == net.params
    assert frame["macs"].sum() == net.macs
    assert frame["macs_share_pct"].sum() == pytest.approx(100.0)


def test_formula_table_b1_row_matches_the_reference():
    # TF efficientnet_builder.py params_dict: formula at φ=1 gives (w 1.10, d 1.20, 258 px); official B1 is (1.0, 1.1, 240).
    row = explorer_tables.formula_vs_official_frame(1.2, 1.1, 1.15).set_index("variant").loc["B1"]
    assert (row.official_width, row.official_depth, row.official_px) == (1.0, 1.1, 240)
    assert round(row.formula_width, 2) == 1.10 and round(row.formula_depth, 2) == 1.20
    assert row.formula_px == 258
    assert row.depth_diff_pct == pytest.approx(100 * (1.1 / 1.2 - 1))


def test_equal_cost_frame():
    net = from_variant("b3")
    frame = explorer_tables.equal_cost_frame(net, equal_cost_networks(net.macs))
    assert list(frame["scaling"]) == ["compound", "depth only", "width only", "resolution only"]
    assert frame["macs_vs_target_pct"].iloc[0] == 0
    assert frame["reachable"].all()


def test_table7_is_the_paper():
    frame = explorer_tables.table7_frame()
    assert list(frame["scaling"]) == ["baseline", "depth", "width", "resolution", "compound"]
    assert frame.set_index("scaling").loc["compound", "top1_pct"] == 81.1


def test_reference_frame_has_every_reference_point_with_macs():
    frame = compare_reference.reference_frame()
    assert len(frame) == len(accuracy.view_points(accuracy.DEFAULT_VIEW).points)
    assert frame["gmacs"].notna().all()
    b3 = frame.set_index("model").loc["tf_efficientnet_b3"]
    assert b3.gmacs == pytest.approx(from_variant("b3").macs / 1e9)
    assert b3.macs_source == "explorer (exact)"


@pytest.mark.parametrize("view", [v.key for v in accuracy.VIEWS])
def test_reference_frame_is_one_view(view):
    frame = compare_reference.reference_frame(view)
    points = accuracy.view_points(view).points
    assert list(frame["model"]) == [p.arch for p in points]  # one row per architecture
    assert list(frame["top1_pct"]) == [p.top1_pct for p in points]
    assert list(frame["checkpoint"]) == [p.checkpoint for p in points]
    assert list(frame["resolution_px"]) == [p.measure_px for p in points]
    assert set(frame["view"]) == {accuracy.get_view(view).label}
    assert frame["top1_source_url"].str.startswith("https://").all()
    assert list(frame.columns) == list(compare_reference.REFERENCE_COLUMNS)
    if view != "best":
        assert set(frame["training_data"]) == {"ImageNet-1k only"}


def test_reference_frame_costs_are_the_measured_networks():
    # The paper prints B3 at 12M params and 1.8B FLOPs; the chart places the network the zoo
    # times (B3 at its official 300 px): the explorer's exact counts.
    b3 = compare_reference.reference_frame("paper").set_index("model").loc["efficientnet_b3"]
    net = from_variant("b3")
    assert (b3.eval_px, b3.resolution_px) == (300, 300)
    assert b3.params_m == pytest.approx(net.params / 1e6)
    assert b3.gmacs == pytest.approx(net.macs / 1e9)
    # ResNet-152 has no exact count here: the MACs are the paper's printed 11B, said so.
    r152 = compare_reference.reference_frame("paper").set_index("model").loc["resnet152"]
    assert r152.gmacs == 11 and "input size not stated" in r152.macs_source
    assert pd.isna(r152.eval_px) and r152.resolution_px == 224


def test_views_change_the_pareto_front():
    # On the MACs axis, every row of a view has a cost: the fronts differ between views.
    def front(view):
        frame = compare_reference.reference_frame(view)
        mask = plotting.pareto_mask(list(frame["gmacs"]), list(frame["top1_pct"]))
        return set(frame[mask]["model"])

    fronts = {v.key: front(v.key) for v in accuracy.VIEWS}
    assert fronts["paper"] != fronts["timm-in1k"]
    assert fronts["best"] != fronts["timm-in1k"]
    assert "tf_efficientnet_b7" in fronts["best"]  # Noisy Student (JFT) tops the best view


@pytest.mark.parametrize(
    ("params", "view", "n_warnings"),
    [
        ({}, "timm-in1k", 0),
        ({"acc": "paper"}, "paper", 0),
        ({"acc": ["KERAS", "paper"]}, "keras", 0),
        ({"acc": " best "}, "best", 0),
        ({"acc": "torchvision", "phi": "2"}, "torchvision", 0),
        ({"acc": "timm"}, "timm-in1k", 1),
        ({"acc": "<script>alert(1)</script>"}, "timm-in1k", 1),
        ({"acc": "paper" * 40}, "timm-in1k", 1),
        ({"acc": []}, "timm-in1k", 0),
        ({"acc": ""}, "timm-in1k", 1),
    ],
)
def test_accuracy_view_from_query(params, view, n_warnings):
    assert compare_reference.accuracy_view_from_query(params)[0] == view
    warnings = compare_reference.accuracy_view_from_query(params)[1]
    assert len(warnings) == n_warnings
    assert all("ignored acc=" in w and len(w) < 300 for w in warnings)


def test_accuracy_view_from_a_hostile_mapping():
    class Hostile(dict):
        def get(self, key, default=None):
            raise RuntimeError("boom")

    view, warnings = compare_reference.accuracy_view_from_query(Hostile(acc="paper"))
    assert view == accuracy.DEFAULT_VIEW and warnings


@settings(max_examples=100, deadline=None)
@given(st.one_of(st.text(max_size=80), st.lists(st.text(max_size=10), max_size=3)))
def test_accuracy_view_parsing_never_raises(value):
    view, warnings = compare_reference.accuracy_view_from_query({"acc": value})
    assert view in {v.key for v in accuracy.VIEWS}
    assert len(warnings) <= 1


def _measurement(model, resolution, latency, when="2026-01-01T00:00:00+00:00", **extra):
    row = {
        "model": model,
        "resolution": resolution,
        "latency_ms_median": latency,
        "latency_ms_p90": latency + 1,
        "throughput_ips": 1000 / latency,
        "batch_size": 1,
        "precision": "fp32",
        "device": "cpu",
        "device_name": "cpu",
        "channels_last": True,
        "iterations": 10,
        "threads": 2,
        "torch_version": "2.14.1",
        "measured_at": when,
        "macs": 1,
    }
    row.update(extra)
    return row


def test_compare_frame_joins_the_newest_measurement_at_the_reference_resolution():
    ref = compare_reference.reference_frame()
    frame = series.compare_frame(
        ref,
        [
            _measurement("efficientnet_b0", 224, 10.0, "2026-01-01T00:00:00+00:00"),
            _measurement("efficientnet_b0", 224, 8.0, "2026-02-01T00:00:00+00:00"),
            _measurement("efficientnet_b0", 512, 1.0, "2026-03-01T00:00:00+00:00"),
            _measurement("resnet50.a1_in1k", 224, 20.0),
            _measurement("not_in_reference", 224, 1.0),
        ],
    ).set_index("model")
    assert frame.loc["efficientnet_b0", "latency_ms"] == 8.0
    assert frame.loc["resnet50", "latency_ms"] == 20.0
    assert "batch 1, fp32, channels_last" in frame.loc["resnet50", "protocol"]
    assert frame["latency_ms"].notna().sum() == 2
    assert list(frame.reset_index().columns) == list(series.COMPARE_COLUMNS)


def test_published_gpu_latency_is_inverse_throughput():
    gpu = compare_reference.published_gpu_frame(compare_reference.reference_frame()).set_index(
        "model"
    )
    row = gpu.loc["efficientnet_b0"]
    assert row.ms_per_image == pytest.approx(1000 / row.throughput_ips)
    assert row.resolution_px == 224 and row.device == "RTX 4090"


def test_pareto_mask():
    assert plotting.pareto_mask([1, 2, 3], [1, 2, 3]) == [True, True, True]
    assert plotting.pareto_mask([1, 2, 3], [3, 2, 1]) == [True, False, False]
    assert plotting.pareto_mask([1, 1], [5, 5]) == [True, True]  # ties dominate nobody
    assert plotting.pareto_mask([], []) == []


# ----------------------------------------------------------------------------- figures


def test_network_figure_is_drawn_to_scale_in_a_fixed_frame():
    frame = explorer_figures.network_extent(from_phi(state.PHI_MAX))
    net = from_phi(3.0)
    fig = explorer_figures.network_figure(net, frame)
    boxes = fig.data[0]
    channels = [net.stem_channels] + [s.out_channels for s in net.stages]
    pixels = [net.stages[0].input_resolution] + [s.output_resolution for s in net.stages]
    # A fixed slot per box; width ∝ √channels and height ∝ √px on one scale for all boxes.
    assert list(boxes.x) == list(range(8))
    assert list(boxes.y) == pytest.approx([math.sqrt(p) for p in pixels])
    ratios = [w * w / c for w, c in zip(boxes.width, channels, strict=True)]
    assert ratios == pytest.approx([ratios[0]] * 8)
    assert max(boxes.width) < 1  # no box spills into its neighbour's slot
    # One divider line (three points: two ends and a break) between consecutive blocks.
    assert len(fig.data[1].x) == 3 * (net.total_blocks - len(net.stages))
    outline = next(t for t in fig.data if t.name.startswith("B0"))
    assert outline.opacity < boxes.opacity and outline.line.dash == "dash"
    # Fixed frame: B0 in the same axes, its boxes smaller, and still not a sliver: its tallest
    # box reaches half the frame and every box is at least a tenth of its slot wide.
    b0 = explorer_figures.network_figure(from_phi(0), frame)
    assert b0.layout.yaxis.range == fig.layout.yaxis.range
    assert b0.layout.xaxis.range == fig.layout.xaxis.range
    assert all(a > b for a, b in zip(boxes.width[1:], b0.data[0].width[1:], strict=True))
    assert all(a > b for a, b in zip(boxes.y, b0.data[0].y, strict=True))
    assert max(b0.data[0].y) > 0.5 * b0.layout.yaxis.range[1]
    assert min(b0.data[0].width) > 0.1
    # The outline is B0's boxes, in both pictures.
    assert list(outline.x) == list(next(t for t in b0.data if t.name.startswith("B0")).x)


def test_a_network_larger_than_the_frame_widens_it():
    frame = explorer_figures.network_extent(from_phi(state.PHI_MAX))
    big = explorer_figures.network_figure(from_multipliers(6.0, 1.0, 2048), frame)
    assert max(big.data[0].y) <= big.layout.yaxis.range[1]
    assert max(big.data[0].width) < 1


def test_network_labels_name_every_stage_and_what_changed_from_b0():
    net = from_phi(0.01)
    labels = [a.text for a in explorer_figures.network_figure(net).layout.annotations]
    assert len(labels) == 8 and labels[0].startswith("<b>Stem</b>")
    for label, s in zip(labels[1:], net.stages, strict=True):
        assert label.startswith(f"<b>Stage {s.index}</b> {s.block}")
        assert f"×{s.repeats} blocks" in label and "(B0 " in label  # one more block than B0
        assert f"{s.out_channels} ch<br>" in label  # channels unchanged: no "(B0 …)"
    b0_labels = [a.text for a in explorer_figures.network_figure(from_phi(0)).layout.annotations]
    assert not any("(B0 " in label for label in b0_labels)
    assert all(a.font.size >= 11 for a in explorer_figures.network_figure(net).layout.annotations)


def test_formula_figure_has_curves_and_official_points():
    fig = explorer_figures.formula_figure(1.2, 1.1, 1.15, 2.0)
    names = [t.name for t in fig.data]
    assert names[:3] == ["depth α^φ", "width β^φ", "resolution γ^φ"]
    official_depth = next(t for t in fig.data if t.name == "official depth")
    assert list(official_depth.y) == [
        from_variant(v).depth_multiplier for v in ("b0", "b1", "b2", "b3", "b4", "b5", "b6", "b7")
    ]


def test_estimate_and_compare_figures_build():
    est = estimate_top1(from_phi(2).macs)
    fig = explorer_figures.estimate_figure(published_fit(), est)
    assert fig.data[-1].y[0] == est.top1_pct
    ref = compare_reference.reference_frame()
    frame = series.compare_frame(ref, [_measurement("efficientnet_b0", 224, 10.0)])
    latency = compare_fig.compare_figure(
        frame, "latency", compare_reference.published_gpu_frame(ref)
    )
    assert latency.layout.xaxis.type == "log"
    assert sum(len(t.x) for t in latency.data if t.mode == "markers+text") == 1
    assert any(accuracy.get_view(accuracy.ESTIMATE_VIEW).label in str(t.name) for t in fig.data)
    top5 = classify_figures.top5_figure(["tabby", "tiger cat"], [0.6, 0.3], "t")
    assert list(top5.data[0].y) == ["tiger cat", "tabby"]


def _hovers(fig) -> dict[str, str]:
    """Hover text per model name (the bold first line)."""
    out = {}
    for trace in fig.data:
        for text in trace.hovertext or ():
            out[text.split("</b>")[0].removeprefix("<b>")] = text
    return out


def test_compare_hover_states_source_training_data_and_what_was_measured():
    frame = series.compare_frame(
        compare_reference.reference_frame("paper"), [_measurement("efficientnet_b3", 300, 40.0)]
    )
    fig = compare_fig.compare_figure(frame, "macs")
    b3 = _hovers(fig)["efficientnet_b3"]
    assert "paper Table 2 (arXiv v5)" in b3 and "EfficientNet-B3" in b3
    assert "training data: ImageNet-1k only" in b3
    assert "accuracy and latency both at 300 px" in b3
    assert "different network" in b3 and "timm's efficientnet_b3" in b3
    assert "latency 40.00 ms" in b3
    r50 = _hovers(fig)["resnet50"]
    assert "input size the source does not state; latency measured at 224 px" in r50
    title = fig.layout.legend.title.text
    assert "Paper (Table 2)" in title and "ImageNet-1k only" in title
    # timm's own checkpoints are the network the zoo times.
    timm = _hovers(
        compare_fig.compare_figure(
            series.compare_frame(compare_reference.reference_frame(), []), "macs"
        )
    )
    assert "different network" not in timm["efficientnet_b3"]
    assert "efficientnet_b3.ra2_in1k" in timm["efficientnet_b3"]


def test_compare_hover_names_a_resolution_mismatch():
    frame = series.compare_frame(compare_reference.reference_frame(), [])
    frame.loc[frame["model"] == "efficientnet_b3", "resolution_px"] = 300  # not 288
    b3 = _hovers(compare_fig.compare_figure(frame, "params"))["efficientnet_b3"]
    assert "accuracy measured at 288 px; latency measured at 300 px" in b3


def test_best_view_labels_extra_data_in_legend_and_markers():
    fig = compare_fig.compare_figure(
        series.compare_frame(compare_reference.reference_frame("best"), []), "macs"
    )
    names = [str(t.name) for t in fig.data if t.mode == "markers+text"]
    assert any("JFT-300M extra data" in n for n in names)
    assert any("ImageNet-12k pre-training" in n for n in names)
    symbols = {
        n.rpartition(" · ")[2]: t.marker.symbol
        for n, t in zip(names, [t for t in fig.data if t.mode == "markers+text"], strict=True)
    }
    assert len(set(symbols.values())) == len(symbols)  # one marker per training data
    assert "JFT-300M" in fig.layout.legend.title.text
    hovers = _hovers(fig)
    assert "training data: JFT-300M extra data (Noisy Student)" in hovers["tf_efficientnet_b7"]


# ----------------------------------------------------------------------------- boundaries


def test_dashboard_logic_and_explorer_page_import_no_torch():
    code = (
        "import sys, importlib, pathlib\n"
        "for path in sorted(pathlib.Path('dashboard').rglob('*.py')):\n"
        "    importlib.import_module('.'.join(path.with_suffix('').parts).removesuffix('.__init__'))\n"
        "bad = sorted({'torch', 'timm', 'zoo'} & set(sys.modules))\n"
        "print(bad)\n"
        "sys.exit(1 if bad else 0)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr[-2000:]


def test_streamlit_config():
    import tomllib

    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["headless"] is True
    assert config["server"]["fileWatcherType"] == "none"
    assert config["server"]["maxUploadSize"] == 10
    assert config["browser"]["gatherUsageStats"] is False
    assert config["client"]["showErrorDetails"] in (False, "none")


def test_paper_table2_against_exact_counts_shows_the_differences():
    from dashboard.explorer.tables import paper_vs_exact_frame

    frame = paper_vs_exact_frame().set_index("variant")
    # Printed in the paper's Table 2 (arXiv 1905.11946): B2 9.2M params, B4 4.2B and B5 9.9B
    # FLOPs; exact counts equal torchvision's published ones (torchvision efficientnet.py).
    assert frame.loc["B2", "paper_params_m"] == 9.2
    assert frame.loc["B2", "exact_params"] == 9_109_994
    assert frame.loc["B4", "paper_gmacs"] == 4.2
    assert frame.loc["B4", "macs_diff_pct"] > 4.0
    assert frame.loc["B5", "paper_gmacs"] == 9.9
    assert frame.loc["B5", "macs_diff_pct"] > 3.0
    assert (frame["exact_params"] == frame["torchvision_params"]).all()
    assert frame.loc["B7", "torchvision_params"] == 66_347_960


def test_the_url_round_trips_every_float_exactly():
    # Hardening: the URL kept 6 significant digits, so a shared link gave another network.
    from hypothesis import given
    from hypothesis import strategies as hs

    @given(
        alpha=hs.floats(0.01, 10.0),
        width=hs.floats(state.WIDTH_MIN, state.WIDTH_MAX),
        mode=hs.sampled_from(["phi", "explicit"]),
    )
    def check(alpha, width, mode):
        original = state.ExplorerState(mode=mode, alpha=alpha, width=width)
        parsed, warnings = state.parse_query_params(state.to_query_params(original))
        assert warnings == [] and parsed == original

    check()
