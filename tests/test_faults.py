"""Faults: sweeps killed with SIGKILL, a full or read-only store location, hostile weights files.

- Kill trials (seeded random kill points): a real ``python -m zoo measure`` sweep is SIGKILLed
  again and again and restarted on the same store until it completes; after every kill the
  database passes ``PRAGMA integrity_check`` and every row committed before the kill is there
  exactly once ("rows lost" counts the others and must be 0). A cheaper writer that only
  commits rows is killed at random moments too, to land kills inside SQLite's write path.
- Disk full and read-only: a tiny tmpfs (mounted here when we run as root; skipped otherwise),
  filled up or remounted read-only: the store raises one clear ``ZooError``, committed rows
  survive, and the dashboard's compare page still renders, saying it runs without persistence.
- Weights files: what tests/test_weights.py does not already cover, through the CLI.
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.fakes import fake_measurement, group_alive, kill_group, start_group
from zoo.errors import ZooError
from zoo.models.spec import spec_from_phi

ROOT = Path(__file__).resolve().parent.parent
SEED = 20261129
ENV = {**os.environ, "HF_HUB_OFFLINE": "1"}


# --------------------------------------------------------------------------- helpers


def _rows(path: Path) -> list[str]:
    if not path.exists():
        return []
    conn = sqlite3.connect(path, timeout=30)
    try:
        return [r[0] for r in conn.execute("SELECT model FROM measurements ORDER BY id")]
    except sqlite3.OperationalError:  # no table yet
        return []
    finally:
        conn.close()


def _integrity(path: Path) -> str:
    conn = sqlite3.connect(path, timeout=30)
    try:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        conn.close()


# --------------------------------------------------------------------------- kill trials

PHIS = ["-3", "-2.9", "-2.8", "-2.7", "-2.6", "-2.5", "-2.4", "-2.3", "-2.2", "-2.1"]
SWEEP = [sys.executable, "-m", "zoo", "measure", "--phi", *PHIS, "--device", "cpu",
         "--threads", "1", "--iters", "2", "--warmup", "0", "--format", "json", "--no-progress"]  # fmt: skip
KILL_TRIALS = 4


def test_sweep_killed_at_random_points_then_completes(tmp_path):
    """Kill the sweep ``KILL_TRIALS`` times at seeded random points; restart it each time."""
    rng = random.Random(SEED)
    store = tmp_path / "m.sqlite"
    command = [*SWEEP, "--store", str(store)]
    env = {**ENV, "EFFSCALE_LOCK": str(tmp_path / "measure.lock")}
    trials: list[dict] = []
    attempts = 0
    while len(trials) < KILL_TRIALS and attempts < KILL_TRIALS + 4:
        attempts += 1
        before = _rows(store)
        remaining = len(PHIS) - len(before)
        assert remaining > 1, "ran out of rows to kill between; use more --phi values"
        # Kill point: after 0-2 more rows have landed (0: while Python, torch or the worker
        # start), plus 0-400 ms: anywhere in startup, timing, or the store write.
        more = rng.randint(0, min(2, remaining - 2))
        extra_s = rng.uniform(0.0, 0.4)
        proc = start_group(command, ROOT, env)
        try:
            deadline = time.monotonic() + 120
            while (
                len(_rows(store)) < len(before) + more
                and proc.poll() is None
                and time.monotonic() < deadline
            ):
                time.sleep(0.02)
            time.sleep(extra_s)
            seen = _rows(store)  # committed before the kill
            finished_first = proc.poll() is not None
            os.killpg(proc.pid, signal.SIGKILL)
        finally:
            kill_group(proc)
        assert not group_alive(proc.pid), "the measurement helper outlived the sweep"
        if finished_first:
            continue  # not a kill; try another point
        assert _integrity(store) == "ok"
        after = _rows(store)
        lost = [m for m in seen if m not in after]
        assert lost == [], f"rows lost: {lost}"
        assert len(after) == len(set(after)), f"duplicated rows: {after}"
        trials.append({"kill_after_rows": len(seen), "rows_after": len(after), "lost": 0})
    assert len(trials) >= KILL_TRIALS, trials

    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    records = json.loads(done.stdout)
    expected = [spec_from_phi(float(p)).model for p in PHIS]
    assert [r["model"] for r in records] == expected
    stored_before = set(after)
    assert [r["from_store"] for r in records] == [m in stored_before for m in expected]
    final = _rows(store)
    assert sorted(final) == sorted(expected) and len(final) == len(set(final))
    assert _integrity(store) == "ok"
    print(f"kill trials: {trials}; rows lost: 0; final rows: {len(final)}")


WRITER = """
import sys
from tests.fakes import fake_measurement
from zoo.store.measurement_store import MeasurementStore

store = MeasurementStore(sys.argv[1])
start = int(sys.argv[2])
for i in range(start, start + 100000):
    store.put(fake_measurement(f"w{i}"))
    print(i, flush=True)  # after the commit: this row is durable
"""


WRITER_KILLS = 6


def test_writer_killed_inside_the_write_path_loses_nothing(tmp_path):
    """Many kills at random moments of a loop that only commits rows (no model work), so that
    kills land inside SQLite's transaction and WAL writes."""
    rng = random.Random(SEED + 1)
    store = tmp_path / "w.sqlite"
    next_row = 0
    total_acknowledged = 0
    for _ in range(WRITER_KILLS):
        proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(store), str(next_row)], cwd=ROOT, env=ENV,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True,
        )  # fmt: skip
        assert proc.stdout is not None
        acknowledged = []
        first = proc.stdout.readline()  # imports done, the first row committed
        assert first.strip(), "the writer did not start"
        acknowledged.append(int(first))
        time.sleep(rng.uniform(0.0, 0.5))
        os.killpg(proc.pid, signal.SIGKILL)
        rest = proc.stdout.read()
        kill_group(proc)
        acknowledged += [int(line) for line in rest.split()]
        assert _integrity(store) == "ok"
        rows = _rows(store)
        assert len(rows) == len(set(rows))
        missing = [i for i in acknowledged if f"w{i}" not in set(rows)]
        assert missing == [], f"acknowledged rows lost: {missing}"
        next_row = max(int(m[1:]) for m in rows) + 1
        total_acknowledged += len(acknowledged)
    assert next_row > WRITER_KILLS
    print(
        f"writer kills: {WRITER_KILLS}; acknowledged rows: {total_acknowledged}; rows lost: 0; "
        f"rows in the store: {len(_rows(store))}"
    )


# --------------------------------------------------------------------------- disk full, read-only


@pytest.fixture
def tiny_fs(tmp_path):
    """A 256 KiB tmpfs mounted at tmp_path/mnt (needs root and mount rights; skipped without)."""
    if shutil.which("mount") is None or shutil.which("umount") is None:
        pytest.skip("no mount command here")
    mount_point = tmp_path / "mnt"
    mount_point.mkdir()
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount_point)],
        capture_output=True, text=True,
    )  # fmt: skip
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], capture_output=True)


def _remount_read_only(mount_point: Path) -> None:
    subprocess.run(["mount", "-o", "remount,ro", str(mount_point)], check=True)


def test_disk_full_is_a_clear_error_and_keeps_committed_rows(tiny_fs):
    from zoo.store.measurement_store import MeasurementStore

    path = tiny_fs / "m.sqlite"
    committed = []
    with MeasurementStore(path) as store:
        big = "x" * 4000  # rows of ~4 KB fill 256 KiB quickly
        with pytest.raises(ZooError) as info:
            for i in range(1000):
                store.put(fake_measurement(f"full{i}-{big}"))
                committed.append(f"full{i}-{big}")
        message = str(info.value)
    assert "cannot use the measurement store" in message and "\n" not in message
    assert "full" in message.lower() or "disk" in message.lower() or "space" in message.lower()
    assert len(committed) >= 3
    assert _integrity(path) == "ok"
    rows = _rows(path)
    assert rows == committed  # every acknowledged row, nothing else, once


def test_read_only_location_is_a_clear_error(tiny_fs):
    from zoo.store.measurement_store import MeasurementStore

    existing = tiny_fs / "m.sqlite"
    with MeasurementStore(existing) as store:
        store.put(fake_measurement("before-ro"))
    _remount_read_only(tiny_fs)
    # A new store there cannot be created; an existing one cannot be written.
    with pytest.raises(ZooError, match="cannot use the measurement store"):
        MeasurementStore(tiny_fs / "new.sqlite")
    try:
        store = MeasurementStore(existing)
    except ZooError as exc:
        assert "cannot use the measurement store" in str(exc)
    else:
        with store, pytest.raises(ZooError, match="cannot use the measurement store"):
            store.put(fake_measurement("after-ro"))


def test_measure_cli_with_an_unusable_store_is_one_line_exit_2(tiny_fs, capsys):
    from zoo.cli.main import main

    _remount_read_only(tiny_fs)
    status = main(["measure", "--phi", "-3", "--device", "cpu", "--iters", "1", "--warmup", "0",
                   "--store", str(tiny_fs / "m.sqlite")])  # fmt: skip
    out, err = capsys.readouterr()
    assert status == 2 and out == ""
    assert err.count("\n") == 1 and "cannot use the measurement store" in err


COMPARE = "from dashboard.compare.page import render\nrender()\n"


def _compare_page_with_store(path: Path, monkeypatch):
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("EFFSCALE_STORE", str(path))
    st.cache_resource.clear()  # the page caches its store per path; start clean
    at = AppTest.from_string(COMPARE, default_timeout=120).run()
    return at


@pytest.mark.parametrize("where", ["read-only tmpfs", "under a regular file"])
def test_compare_page_runs_without_persistence(where, request, tmp_path, monkeypatch):
    if where == "read-only tmpfs":
        tiny_fs = request.getfixturevalue("tiny_fs")
        _remount_read_only(tiny_fs)
        path = tiny_fs / "m.sqlite"
    else:
        blocker = tmp_path / "a-file"
        blocker.write_text("not a folder")
        path = blocker / "m.sqlite"
    at = _compare_page_with_store(path, monkeypatch)
    assert not at.exception, at.exception
    notes = [i.value for i in at.info]
    assert any("running without persistence" in n and str(path) in n for n in notes), notes
    assert at.get("plotly_chart"), "the chart still renders"
    assert at.radio(key="compare_axis").value  # and the controls work
    at.radio(key="compare_axis").set_value("macs").run()
    assert not at.exception


def test_compare_page_with_a_full_disk_still_renders(tiny_fs, monkeypatch):
    from zoo.store.measurement_store import MeasurementStore

    path = tiny_fs / "m.sqlite"
    with MeasurementStore(path) as store, contextlib.suppress(ZooError):
        for i in range(1000):
            store.put(fake_measurement(f"fill{i}-{'y' * 4000}"))
    at = _compare_page_with_store(path, monkeypatch)
    assert not at.exception, at.exception
    assert at.get("plotly_chart")


# --------------------------------------------------------------------------- weights files


class _WritesMarker:
    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (os.system, (f"touch {self.path}",))


@pytest.fixture(scope="module")
def cat_image(tmp_path_factory) -> Path:
    from PIL import Image

    path = tmp_path_factory.mktemp("img") / "cat.png"
    Image.new("RGB", (64, 48), (120, 90, 60)).save(path)
    return path


def _classify_with_weights(cat_image: Path, weights: Path, capsys) -> tuple[int, str, str]:
    from zoo.cli.main import main

    status = main(["classify", str(cat_image), "--model", "tf_efficientnet_lite0",
                   "--weights", str(weights)])  # fmt: skip
    out, err = capsys.readouterr()
    return status, out, err


@pytest.mark.parametrize("suffix", [".pth", ".bin", ".safetensors", ".ckpt"])
def test_cli_refuses_a_pickle_that_runs_a_shell_command(tmp_path, cat_image, capsys, suffix):
    import torch

    marker = tmp_path / "pwned"
    path = tmp_path / f"evil{suffix}"
    if suffix == ".ckpt":  # plain pickle, not torch's zip container
        with path.open("wb") as stream:
            pickle.dump({"state_dict": {"w": _WritesMarker(str(marker))}}, stream)
    else:
        torch.save({"conv_stem.weight": torch.zeros(1), "x": _WritesMarker(str(marker))}, path)
    status, out, err = _classify_with_weights(cat_image, path, capsys)
    assert status == 2 and out == "" and err.count("\n") == 1, err
    assert "refused" in err or "not a readable safetensors" in err or "corrupt" in err
    assert not marker.exists(), "the pickle's code ran"


def _safetensors_with_header(header: dict | bytes, claimed_len: int | None = None) -> bytes:
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    n = len(raw) if claimed_len is None else claimed_len
    return n.to_bytes(8, "little") + raw


@pytest.mark.parametrize(
    "name, content",
    [
        ("huge-header-length", _safetensors_with_header(b"{}", claimed_len=2**62)),
        (
            "tensor-past-the-end",
            _safetensors_with_header(
                {
                    "conv_stem.weight": {
                        "dtype": "F32",
                        "shape": [100000, 100000],
                        "data_offsets": [0, 40_000_000_000],
                    }
                }
            ),
        ),  # fmt: skip
        ("header-not-json", _safetensors_with_header(b"{\x00\xff garbage")),
        ("header-is-a-list", _safetensors_with_header(b"[1, 2, 3]")),
        ("zip-bomb-ish", b"PK\x03\x04" + b"\x00" * 200),
        ("random-bytes", random.Random(SEED).randbytes(4096)),
    ],
)
def test_cli_refuses_corrupt_weights_without_a_big_allocation(
    tmp_path, cat_image, capsys, name, content
):
    import psutil

    path = tmp_path / f"{name}.safetensors"
    path.write_bytes(content)
    before = psutil.Process().memory_info().rss
    status, out, err = _classify_with_weights(cat_image, path, capsys)
    assert status == 2 and out == "" and err.count("\n") == 1, (name, err)
    assert "Traceback" not in err
    assert psutil.Process().memory_info().rss - before < 256 * 2**20, name


def test_cli_refuses_a_truncated_state_dict(tmp_path, cat_image, capsys):
    from zoo.weights.sources import available_weights, load_pretrained

    if available_weights("tf_efficientnet_lite0") is None:
        pytest.skip("no offline weights for tf_efficientnet_lite0")

    model, _ = load_pretrained("tf_efficientnet_lite0")
    import torch

    whole = tmp_path / "whole.pth"
    torch.save(model.state_dict(), whole)
    for fraction in (0.9, 0.5, 0.01):
        cut = tmp_path / f"cut{fraction}.pth"
        cut.write_bytes(whole.read_bytes()[: int(whole.stat().st_size * fraction)])
        status, out, err = _classify_with_weights(cat_image, cut, capsys)
        assert status == 2 and out == "" and err.count("\n") == 1, err
        assert "corrupt, truncated" in err
