"""``python -m zoo measure`` / ``export``: outputs, and bad input as one line with exit status 2.

Most cases run ``zoo.cli.main.main`` in-process (fast); one runs the real module in a subprocess.
"""

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from zoo.cli.main import main
from zoo.store.measurement_store import MeasurementStore

ROOT = Path(__file__).resolve().parent.parent
QUICK = ["--device", "cpu", "--iters", "2", "--warmup", "0", "--no-progress"]


def run(capsys, *argv):
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def nothing_stored(path: Path) -> bool:
    if not path.exists():
        return True
    with MeasurementStore(path) as store:
        return store.rows() == []


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["--model", "resnet5"], "did you mean resnet50"),
        (["--model", "efficientnet_b3", "--model", "mobilenetv9_100"], "unknown model"),
        (["--variant", "b9"], "accepted b0, b1"),
        (["--variant", "b0", "--batch-size", "0"], "batch size must be"),
        (["--variant", "b0", "--batch-size", "-1"], "batch size must be"),
        (["--variant", "b0", "--device", "cpu", "--precision", "fp16"], "not supported on CPU"),
        (
            ["--variant", "b0", "--device", "cpu", "--precision", "int8"],
            "accepted runtimes for int8",
        ),
        (["--variant", "b0", "--runtime", "openvino", "--precision", "int8"], "--calibration DIR"),
        (["--variant", "b0", "--precision", "int4"], "accepted fp32, bf16, fp16, int8"),
        (["--variant", "b0", "--device", "cpu", "--calibration", "x"], "for int8 only"),
        (["--variant", "b0", "b7", "--batch-size", "100000"], "try a smaller batch"),
        (["--model", "resnet50", "--batch-size", "900000"], "needs ~"),
        (["--phi", "nan"], "finite"),
        (["--device", "cpu"], "nothing to measure"),
        (["--variant", "b0", "--iters", "0"], "iterations"),
        (["--variant", "b0", "--device", "cpu", "--threads", "4096"], "accepted 1 to"),
        (["--phi", "1", "--resolution", "300"], "has its own resolution"),
        (["--width", "1.2"], "--width and --depth go together"),
        (["--depth", "1.2", "--resolution", "300"], "--width and --depth go together"),
        (["--width", "0", "--depth", "1"], "width"),
        (["--width", "1", "--depth", "1", "--resolution", "9999"], "resolution"),
        (["--variant", "b0", "--rounds", "0"], "rounds must be a whole number from 1 to 1000"),
    ],
)
def test_bad_input_is_one_line_exit_2_nothing_stored(capsys, tmp_path, argv, expected):
    store = tmp_path / "m.sqlite"
    status, out, err = run(capsys, "measure", *argv, "--store", str(store))
    assert status == 2
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("error: ")
    assert expected in err
    assert nothing_stored(store)


SHARED = "postgresql://zoo@127.0.0.1:1/zoo"  # checked, never reached: nothing listens on port 1


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["--nodes", "gpu=t4"], "--nodes applies to --ray"),
        (["--ray", "somewhere"], "Ray address 'somewhere' is not usable: accepted HOST:PORT"),
        (["--ray", "127.0.0.1:1", "--nodes", "gpu"], "accepted all, or LABEL=VALUE"),
        (["--ray", "127.0.0.1:1", "--nodes", "gpu=t 4"], "accepted all, or LABEL=VALUE"),
        (["--ray", "127.0.0.1:1", "--queue"], "cannot be combined with --queue"),
        (["--ray", "127.0.0.1:1", "--remeasure"], "cannot be combined with --remeasure"),
        (["--ray", "127.0.0.1:1", "--store", "x.sqlite"], "needs a store every node can reach"),
        (
            ["--ray", "127.0.0.1:1", "--store", SHARED.replace("zoo@", "zoo:pw@")],
            "carries a password",
        ),
        (
            ["--ray", "127.0.0.1:1", "--store", SHARED],
            "cannot reach the Ray cluster at 127.0.0.1:1",
        ),
    ],
)
def test_bad_cluster_requests_are_one_line_exit_2_nothing_stored(capsys, tmp_path, argv, expected):
    status, out, err = run(capsys, "measure", "--variant", "b0", *QUICK, *argv)
    assert status == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("error: ") and expected in err, err
    assert ":pw@" not in err


def test_argparse_errors_are_exit_2(capsys, tmp_path):
    with pytest.raises(SystemExit) as info:
        main(["measure", "--variant", "b0", "--batch-size", "two"])
    assert info.value.code == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_measure_json_table_csv_and_remeasure(capsys, tmp_path):
    store = str(tmp_path / "m.sqlite")
    args = ["measure", "--phi", "-3", "-2.75", "--store", store, *QUICK]
    status, out, err = run(capsys, *args, "--format", "json")
    assert status == 0, err
    records = json.loads(out)
    assert [r["model"] for r in records] == [
        "efficientnet_phi-3_a1.2_b1.1_g1.15",
        "efficientnet_phi-2.75_a1.2_b1.1_g1.15",
    ]
    for key in (
        "model", "resolution", "params", "macs", "batch_size", "precision", "device",
        "latency_ms_median", "latency_ms_p90", "throughput_ips", "peak_memory_mb",
    ):  # fmt: skip
        assert records[0][key] is not None
    assert [r["from_store"] for r in records] == [False, False]

    status, out, _ = run(capsys, *args, "--format", "table")
    assert status == 0
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["model", "res", "params"]
    assert lines[1].startswith("efficientnet_phi-3") and lines[1].rstrip().endswith("stored")
    assert lines[-1].startswith("# ") and "threads" in lines[-1]

    status, out, _ = run(capsys, *args, "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["from_store"] for r in rows] == ["True", "True"]

    status, out, _ = run(capsys, *args, "--format", "json", "--remeasure")
    assert [r["from_store"] for r in json.loads(out)] == [False, False]
    with MeasurementStore(store) as s:
        assert len(s.rows()) == 2

    status, out, _ = run(capsys, "export", "--format", "json", "--store", store)
    assert status == 0 and len(json.loads(out)) == 2
    status, out, _ = run(capsys, "export", "--format", "csv", "--store", store)
    assert len(list(csv.DictReader(io.StringIO(out)))) == 2


def test_module_entry_point_and_progress_bar(tmp_path):
    store = tmp_path / "m.sqlite"
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    command = [sys.executable, "-m", "zoo", "measure", "--phi", "-3", "-2.5", "--store",
               str(store), "--device", "cpu", "--iters", "2", "--warmup", "0",
               "--format", "json"]  # fmt: skip
    out = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert len(json.loads(out.stdout)) == 2
    assert "model" in out.stderr  # tqdm's bar ("… model/s") went to stderr
    bad = subprocess.run(
        [sys.executable, "-m", "zoo", "measure", "--variant", "b0", "--batch-size", "0",
         "--store", str(store)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr.strip().count("\n") == 0 and "batch size" in bad.stderr


def test_export_of_unusable_store_is_exit_2(capsys, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    status, _, err = run(capsys, "export", "--store", str(blocker / "m.sqlite"))
    assert status == 2 and "cannot use the measurement store" in err


def test_failed_measurement_is_exit_1_one_line(capsys, tmp_path, monkeypatch):
    from zoo.cli import measure as cli_measure
    from zoo.records.measurement import MeasurementError

    def failing_sweep(*args, **kwargs):
        raise MeasurementError("measurement failed (OutOfMemoryError): b0: no memory")

    monkeypatch.setattr(cli_measure, "run_plan", failing_sweep)
    status, out, err = run(capsys, "measure", "--variant", "b0", "--store", str(tmp_path / "m"))
    assert status == 1 and out == ""
    assert err.count("\n") == 1 and "OutOfMemoryError" in err


def test_resolution_applies_to_variants(capsys, tmp_path):
    status, out, _ = run(
        capsys, "measure", "--variant", "b0", "--resolution", "160", *QUICK,
        "--store", str(tmp_path / "m.sqlite"), "--format", "json",
    )  # fmt: skip
    assert status == 0
    (record,) = json.loads(out)
    assert record["model"] == "efficientnet_b0" and record["resolution"] == 160


def test_measure_explicit_width_depth_resolution_as_the_explorer_and_compare_page_name_it(
    capsys, tmp_path
):
    from dashboard.explorer.configs import parse_token, spec_of

    store = str(tmp_path / "m.sqlite")
    argv = ["--width", "0.5", "--depth", "0.3", "--resolution", "96", "--rounds", "2"]
    status, out, err = run(
        capsys,
        "measure",
        *argv,
        "--store",
        store,
        "--format",
        "json",
        "--device",
        "cpu",
        "--iters",
        "6",
        "--warmup",
        "0",
        "--no-progress",
    )
    assert status == 0, err
    (record,) = json.loads(out)
    page = spec_of(parse_token("wdr:0.5:0.3:96"))  # the compare page's cfg=wdr:0.5:0.3:96
    assert (record["model"], record["resolution"]) == (page.model, 96)
    assert record["rounds"] == 2 and record["rounds_used"] >= 2
    assert record["round_spread"] >= 1.0
