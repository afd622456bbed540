"""Tests for the ``data`` package: schemas, loader errors and golden reference numbers.

Golden values are typed from the primary sources each table names in ``data/README.md`` (the
paper's tables, timm's results CSVs, torchvision's weight definitions, the Keras Applications
page), never read back from the CSV files under test.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import data
from data import DataError, Table, load_frame, load_rows, read_table
from zoo.build import PEER_MODELS

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
    assert table.filename == f"{name}.csv"
    for row in rows:
        assert tuple(row) == table.column_names
        for column in ("source", "source_url", "retrieved"):
            assert isinstance(row[column], str) and row[column], (name, column, row)
        assert str(row["source_url"]).startswith("https://")


def test_every_csv_in_the_folder_is_declared() -> None:
    on_disk = {path.name for path in data.DATA_DIR.glob("*.csv")}
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


# Every model the zoo offers for the chart: B0-B7 (timm's and the TF ports) and its peers.
REFERENCE_ARCHS = (
    *(f"efficientnet_b{i}" for i in range(8)),
    *(f"tf_efficientnet_b{i}" for i in range(8)),
    *PEER_MODELS,
)


def test_reference_points_cover_every_zoo_arch() -> None:
    rows = load_rows("reference_points")
    archs = [row["arch"] for row in rows]
    assert len(archs) == len(set(archs))
    assert set(REFERENCE_ARCHS) <= set(archs)
    # No accuracy was copied for tf_efficientnet_lite* (see data/README.md), so there is no point.
    assert not any(str(arch).startswith("tf_efficientnet_lite") for arch in archs)


@pytest.mark.parametrize(
    ("arch", "checkpoint", "resolution", "top1"),
    [
        ("efficientnet_b0", "efficientnet_b0.ra_in1k", 224, 77.698),
        ("tf_efficientnet_b6", "tf_efficientnet_b6.aa_in1k", 528, 84.124),
        ("tf_efficientnet_b7", "tf_efficientnet_b7.aa_in1k", 600, 84.424),
        ("resnet50", "resnet50.tv_in1k", 224, 76.156),
        ("convnext_tiny", "convnext_tiny.fb_in1k", 224, 82.066),
    ],
)
def test_reference_points_golden(arch: str, checkpoint: str, resolution: int, top1: float) -> None:
    row = _row(load_rows("reference_points"), arch=arch)
    assert (row["checkpoint"], row["resolution_px"], row["top1_pct"]) == (
        checkpoint,
        resolution,
        top1,
    )


def test_reference_points_b6_b7_use_paper_v5() -> None:
    rows = load_rows("reference_points")
    for arch, resolution, top1 in (("efficientnet_b6", 528, 84.0), ("efficientnet_b7", 600, 84.3)):
        row = _row(rows, arch=arch)
        assert (row["resolution_px"], row["top1_pct"]) == (resolution, top1)
        assert "1905.11946v5" in str(row["source"])


def test_reference_points_agree_with_their_source_tables() -> None:
    timm = load_rows("timm_imagenet")
    for point in load_rows("reference_points"):
        if "results-imagenet.csv" not in str(point["source"]):
            continue
        row = _row(timm, model=point["checkpoint"], resolution_px=point["resolution_px"])
        assert row["arch"] == point["arch"]
        assert (row["top1_pct"], row["top5_pct"], row["params_m"]) == (
            point["top1_pct"],
            point["top5_pct"],
            point["params_m"],
        )


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
