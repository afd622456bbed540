"""``python -m zoo evaluate``: outputs, storing, bad input (one line, exit 2), Ctrl-C (exit 130).

The accuracy itself is checked against a direct computation in test_evaluate.py; here the CLI's
numbers are checked against the library's on the same folder.
"""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from harness.corpus import labelled_folder
from zoo.cli.main import main
from zoo.store.jobs import jobs
from zoo.store.measurement_store import MeasurementStore

pytestmark = pytest.mark.usefixtures("no_hub_cache")

ROOT = Path(__file__).resolve().parent.parent
MODEL = "tf_efficientnet_lite0"
CLASSES = {
    "tabby": ("cat.jpg", 3),
    "n07920052": ("espresso.jpg", 3),
    "tripod": ("cameraman.jpg", 2),
}


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> Path:
    root = labelled_folder(tmp_path_factory.mktemp("labelled"), CLASSES, seed=3)
    (root / "tabby" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    return root


def _evaluate(argv: list[str], capsys) -> tuple[int, str, str]:
    status = main(["evaluate", *argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_json_output_is_strict_complete_and_stored(photos, tmp_path, capsys):
    store = tmp_path / "m.sqlite"
    status, out, err = _evaluate(
        [str(photos), "--model", MODEL, "--format", "json", "--store", str(store)], capsys
    )
    assert status == 0
    (record,) = json.loads(out, parse_constant=lambda c: pytest.fail(f"non-strict JSON {c}"))
    assert record["complete"] is True and record["model"] == MODEL
    assert (record["images_evaluated"], record["images_failed"]) == (8, 1)
    assert record["failures"] == [
        {"image": "tabby/broken.jpg", "error": record["failures"][0]["error"]}
    ]
    assert (
        "truncated" in record["failures"][0]["error"] or "corrupt" in record["failures"][0]["error"]
    )
    assert [c["folder"] for c in record["per_class"]] == ["n07920052", "tabby", "tripod"]
    assert {"top1_pct", "top5_pct", "images_per_s", "confusions", "data_fingerprint"} <= set(record)
    with MeasurementStore(store) as opened:
        (stored,) = opened.evaluations()
        (job,) = jobs(opened)
    assert stored.to_dict() == record
    # its latency is queued for the compare page's own-data axis, at the evaluated input size
    assert (job.spec.model, job.spec.resolution) == (MODEL, record["input_px"])
    assert (job.state, job.protocol.batch_size, job.group_name) == ("queued", 1, "evaluate")
    assert "queued the latency of" in err and "top-1 on your data" in err
    # asked again: already queued, not twice; --no-latency queues nothing
    _evaluate([str(photos), "--model", MODEL, "--store", str(store)], capsys)
    other = tmp_path / "other.sqlite"
    _evaluate([str(photos), "--model", MODEL, "--store", str(other), "--no-latency"], capsys)
    with MeasurementStore(store) as opened, MeasurementStore(other) as unqueued:
        assert len(jobs(opened)) == 1 and jobs(unqueued) == []


def test_table_and_csv_outputs(photos, capsys):
    status, out, _ = _evaluate([str(photos), "--model", MODEL, "--no-store"], capsys)
    assert status == 0
    assert out.startswith(f"model: {MODEL} (eager, fp32, 224 px)")
    assert "3 classes, 9 of 9 images" in out and "top-1 " in out and "images/s" in out
    assert "tabby/broken.jpg:" in out and "1 image could not be evaluated" in out
    assert "967 espresso" in out
    status, out, _ = _evaluate(
        [str(photos), "--model", MODEL, "--no-store", "--format", "csv"], capsys
    )
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["folder"] for r in rows] == ["(all)", "n07920052", "tabby", "tripod"]
    assert rows[0]["images"] == "8" and rows[0]["images_failed"] == "1"
    assert rows[1]["imagenet_index"] == "967" and float(rows[1]["top1_pct"]) == 100.0


def test_two_models_each_with_its_own_preprocessing(photos, capsys):
    argv = [str(photos), "--model", MODEL, "tf_efficientnet_lite2", "--no-store"]
    status, out, _ = _evaluate([*argv, "--format", "json", "--limit", "3"], capsys)
    assert status == 0
    lite0, lite2 = json.loads(out)
    assert (lite0["input_px"], lite2["input_px"]) == (224, 260)
    assert lite0["data_fingerprint"] == lite2["data_fingerprint"]
    assert lite0["images_selected"] == 3 and lite0["limit"] == 3


def test_a_class_map_file(photos, tmp_path, capsys):
    mapping = tmp_path / "map.csv"
    mapping.write_text("folder,class\ntabby,n02123159\n")  # call them tiger cats instead
    status, out, _ = _evaluate(
        [str(photos), "--model", MODEL, "--no-store", "--format", "json", "--class-map",
         str(mapping)],
        capsys,
    )  # fmt: skip
    assert status == 0
    tabby = next(c for c in json.loads(out)[0]["per_class"] if c["folder"] == "tabby")
    assert tabby["index"] == 282


def _tree(root: Path, files: dict[str, bytes]) -> Path:
    for relative, content in files.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_bytes(content)
    return root


@pytest.mark.parametrize(
    ("case", "extra", "message"),
    [
        ("empty", [], "no images to evaluate"),
        ("non-images", [], "2 other files"),
        ("unmapped", [], "2 class folders map to no single ImageNet-1k class: 'cats'"),
        ("missing", [], "cannot be read"),
        ("good", ["--runtime", "compile"], "runtime 'compile' cannot classify: accepted "
         "eager, onnxruntime, openvino"),
        ("good", ["--limit", "0"], "--limit must be a whole number"),
        ("good", ["--batch-size", "0"], "--batch-size must be from 1 to 1024"),
        ("good", ["--model", "resnet50", "--weights", "w.pth"], "--weights applies to one model"),
        ("good", ["--model", "tf_efficientnet_lit0"], "did you mean tf_efficientnet_lite0"),
        ("good", ["--model", "tf_efficientnet_lite1", "efficientnet_b0"],
         "no ImageNet weights available for efficientnet_b0"),
        ("good", ["--class-map", "/nonexistent.json"], "cannot be read"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line_exit_2_and_nothing_stored(tmp_path, capsys, case, extra, message):
    folders = {
        "empty": {},
        "non-images": {"tabby/a.txt": b"x", "tabby/b.pdf": b"%PDF"},
        "unmapped": {"cats/a.jpg": b"x", "crane/b.jpg": b"x", "tabby/c.jpg": b"x"},
        "good": {"tabby/a.jpg": b"x"},
    }
    root = tmp_path / "data"
    root.mkdir()
    if case != "missing":
        _tree(root, folders[case])
    else:
        root = tmp_path / "nope"
    store = tmp_path / "m.sqlite"
    argv = [str(root), "--model", MODEL, *extra, "--store", str(store)]
    status, out, err = _evaluate(argv, capsys)
    assert status == 2, err
    assert out == "" and err.count("\n") == 1 and message in err, err
    assert not store.exists()  # refused before the store was even opened


def test_a_foreign_store_is_refused_before_any_evaluation(photos, tmp_path, capsys):
    foreign = tmp_path / "notes.db"
    foreign.write_bytes(b"not a database at all\n" * 20)
    status, out, err = _evaluate([str(photos), "--model", MODEL, "--store", str(foreign)], capsys)
    assert status == 2 and out == "" and "not an effscale measurement store" in err


def test_every_image_failing_gives_exit_status_1(tmp_path, capsys):
    root = _tree(tmp_path / "data", {"tabby/a.jpg": b"not a jpeg", "tabby/b.png": b""})
    status, out, _ = _evaluate(
        [str(root), "--model", MODEL, "--no-store", "--format", "json"], capsys
    )
    assert status == 1
    (record,) = json.loads(out)
    assert record["images_evaluated"] == 0 and record["top1_pct"] is None
    assert record["images_failed"] == 2


def test_a_huge_folder_with_limit_reads_only_the_sample(tmp_path, capsys):
    tiny = (ROOT / "data" / "photos" / "espresso.jpg").read_bytes()
    files = {
        f"{cls}/{i:04d}.jpg": tiny for cls in ("n07920052", "tabby", "tripod") for i in range(400)
    }
    root = _tree(tmp_path / "data", files)
    status, out, _ = _evaluate(
        [str(root), "--model", MODEL, "--no-store", "--format", "json", "--limit", "7"], capsys
    )
    assert status == 0
    (record,) = json.loads(out)
    assert (record["images_found"], record["images_selected"]) == (1200, 7)
    assert [c["images"] for c in record["per_class"]] == [3, 2, 2]


def test_ctrl_c_prints_a_partial_result_exits_130_and_stores_nothing(tmp_path):
    root = labelled_folder(tmp_path / "data", {"n07920052": ("espresso.jpg", 40)}, seed=5)
    store = tmp_path / "m.sqlite"
    command = [
        sys.executable, "-m", "zoo", "evaluate", str(root), "--model", MODEL, "--batch-size",
        "2", "--threads", "1", "--format", "json", "--store", str(store),
    ]  # fmt: skip
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    proc = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    seen, out = bytearray(), bytearray()

    def drain(stream, into: bytearray) -> None:
        # One reader per pipe, and nobody else reads it: communicate() would race this thread
        # for stderr and could take the closing message away from `seen`.
        while chunk := os.read(stream.fileno(), 4096):
            into.extend(chunk)

    readers = [
        threading.Thread(target=drain, args=(proc.stderr, seen), daemon=True),
        threading.Thread(target=drain, args=(proc.stdout, out), daemon=True),
    ]
    for reader in readers:
        reader.start()
    try:
        deadline = time.monotonic() + 240
        while b"top-1" not in seen and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)  # the progress bar shows top-1 once a batch has landed
        assert proc.poll() is None, seen.decode(errors="replace")
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    for reader in readers:
        reader.join(timeout=30)
    assert proc.returncode == 130, seen.decode(errors="replace")
    (record,) = json.loads(out)
    assert record["complete"] is False
    assert 2 <= record["images_evaluated"] < 40 and record["images_selected"] == 40
    assert "partial result is marked complete=false" in seen.decode(errors="replace")
    with MeasurementStore(store) as opened:
        assert opened.evaluations() == []
