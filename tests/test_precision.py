"""Reduced precision on the CPU: what a protocol accepts, calibration folders identified by their
bytes, bf16 refused where the CPU cannot, int8 measured and evaluated with its agreement.

The model tests run real quantizers (ONNX Runtime, NNCF) on real exports; the accuracy figures
they check are the zoo's own bookkeeping (fp32 beside int8 on the same images), never golden.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from harness.corpus import labelled_folder
from zoo.errors import ZooError
from zoo.records.environment import check_cpu_precision, cpu_flags
from zoo.records.protocol import Protocol, protocol_key
from zoo.runtimes.calibration import CalibrationSource, calibration_digest, load_calibration

ROOT = Path(__file__).resolve().parent.parent
PHOTOS = ROOT / "data" / "photos"


@pytest.fixture
def calib(tmp_path) -> Path:
    folder = tmp_path / "calib"
    folder.mkdir()
    for name in ("rocket.jpg", "astronaut.jpg", "cameraman.jpg"):
        shutil.copy(PHOTOS / name, folder / name)
    return folder


def test_int8_needs_calibration_and_calibration_is_for_int8_only(calib):
    with pytest.raises(ZooError, match="int8 needs calibration images: give --calibration"):
        Protocol(device="cpu", runtime="openvino", precision="int8")
    with pytest.raises(ZooError, match="for int8 only"):
        Protocol(device="cpu", calibration="ab", calibration_dir=str(calib))
    with pytest.raises(ZooError, match="accepted runtimes for int8: onnxruntime, openvino"):
        Protocol(device="cpu", precision="int8", calibration="ab", calibration_dir="/x")
    good = Protocol(
        device="cpu",
        runtime="onnxruntime",
        precision="int8",
        calibration="ab",
        calibration_dir="/x",
    )
    assert good.precision == "int8"
    assert Protocol(device="cpu", runtime="openvino", precision="bf16").precision == "bf16"


def test_the_key_holds_the_images_digest_not_their_path(calib):
    base = dict(device="cpu", threads=2, runtime="openvino", precision="int8")
    a = Protocol(**base, calibration="d1", calibration_dir="/a")
    assert protocol_key(a) == protocol_key(Protocol(**base, calibration="d1", calibration_dir="/b"))
    assert protocol_key(a) != protocol_key(Protocol(**base, calibration="d2", calibration_dir="/a"))
    # an fp32 key is what it was before calibration existed
    fp32 = Protocol(device="cpu", threads=2)
    assert protocol_key(fp32) == protocol_key({**fp32.__dict__, "calibration": None})


def test_a_calibration_folder_is_its_images_bytes(calib, tmp_path):
    first = calibration_digest(calib)
    assert calibration_digest(calib) == first
    (calib / "notes.txt").write_text("not an image")  # ignored: not an image by extension
    assert calibration_digest(calib) == first
    shutil.copy(PHOTOS / "cat.jpg", calib / "cat.jpg")
    second = calibration_digest(calib)
    assert second != first
    (calib / "cat.jpg").write_bytes((PHOTOS / "espresso.jpg").read_bytes())  # same name
    assert calibration_digest(calib) != second
    with pytest.raises(ZooError, match="changed since it was named"):
        load_calibration(str(calib), second, 64)
    loaded = load_calibration(str(calib), calibration_digest(calib), 64)
    assert loaded.images.shape == (4, 3, 64, 64) and loaded.used == 4
    assert loaded.warnings and "300 recommended" in loaded.warnings[0]
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "a.txt").write_text("x")
    with pytest.raises(ZooError, match="holds no image file"):
        calibration_digest(empty)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "a.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    with pytest.raises(ZooError, match="no calibration image could be decoded"):
        CalibrationSource.of_folder(broken).load(32)


def test_bf16_on_a_cpu_without_bf16_units_names_the_flags():
    with pytest.raises(ZooError, match="avx512_bf16, amx_bf16"):
        check_cpu_precision("bf16", frozenset({"avx2", "avx512f"}))
    check_cpu_precision("bf16", frozenset({"avx512_bf16"}))
    check_cpu_precision("int8", frozenset())
    assert isinstance(cpu_flags(), frozenset)


def _has_bf16() -> bool:
    return bool(cpu_flags() & {"avx512_bf16", "amx_bf16"})


@pytest.mark.model
def test_int8_on_both_runtimes_and_bf16_are_measured_and_say_what_ran(calib, tmp_path, capsys):
    from zoo.cli.main import main

    store = tmp_path / "store.sqlite"
    common = ["--model", "resnet18", "--resolution", "96", "--iters", "5", "--rounds", "1"]
    common += ["--store", str(store), "--format", "json", "--no-progress"]
    for runtime in ("onnxruntime", "openvino"):
        argv = ["measure", *common, "--runtime", runtime, "--precision", "int8"]
        assert main([*argv, "--calibration", str(calib)]) == 0
        (row,) = json.loads(capsys.readouterr().out)
        assert row["precision"] == "int8" and row["verified"]
        assert row["runtime_precision"].startswith("int8")
        assert row["calibration"] == calibration_digest(calib)
        assert row["quantize_s"] > 0  # quantized now, then cached
        assert main([*argv, "--calibration", str(calib), "--remeasure"]) == 0
        assert json.loads(capsys.readouterr().out)[0]["quantize_s"] == 0.0
    # without calibration images: one line naming the flag
    assert main(["measure", *common, "--runtime", "openvino", "--precision", "int8"]) == 2
    assert "--calibration DIR" in capsys.readouterr().err
    if _has_bf16():
        assert main(["measure", *common, "--runtime", "openvino", "--precision", "bf16"]) == 0
        (row,) = json.loads(capsys.readouterr().out)
        assert row["runtime_precision"] == "bf16" and row["verified"]


@pytest.mark.model
def test_evaluate_int8_stores_top1_agreement_and_fp32_on_the_same_images(calib, tmp_path, capsys):
    from zoo.cli.main import main
    from zoo.store.measurement_store import MeasurementStore

    photos = labelled_folder(
        tmp_path / "pets", {"tabby": ("cat.jpg", 6), "n07920052": ("espresso.jpg", 6)}, seed=1
    )
    store = tmp_path / "store.sqlite"
    base = ["evaluate", str(photos), "--model", "tf_efficientnet_lite0", "--store", str(store)]
    base += ["--no-progress", "--no-latency", "--format", "json"]
    assert (
        main([*base, "--runtime", "openvino", "--precision", "int8", "--calibration", str(calib)])
        == 0
    )
    (row,) = json.loads(capsys.readouterr().out)
    assert row["precision"] == "int8" and row["images_evaluated"] == 12
    assert row["agreement_images"] == 12 and 0 <= row["agreement_pct"] <= 100
    assert row["reference_top1_pct"] is not None and "picked evenly" in row["calibration"]
    # calibration inside the evaluated folder: refused
    assert (
        main(
            [
                *base,
                "--runtime",
                "openvino",
                "--precision",
                "int8",
                "--calibration",
                str(photos / "tabby"),
            ]
        )
        == 2
    )
    assert "overlaps the evaluated folder" in capsys.readouterr().err
    # no --calibration: a seeded share of the folder calibrates and is not evaluated
    assert main([*base, "--runtime", "onnxruntime", "--precision", "int8"]) == 0
    captured = capsys.readouterr()
    (split,) = json.loads(captured.out)
    assert split["images_evaluated"] == 12 - round(12 * 0.2)
    assert (
        "seeded split" in split["calibration"] and "calibrating on a seeded split" in captured.err
    )
    # an fp32 and an int8 evaluation of one model on one folder are two rows
    assert main([*base]) == 0
    capsys.readouterr()
    with MeasurementStore(store) as s:
        kinds = sorted((e.runtime, e.precision) for e in s.evaluations())
    assert ("eager", "fp32") in kinds and ("openvino", "int8") in kinds
