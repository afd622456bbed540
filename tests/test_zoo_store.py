"""zoo.store: the measurement store's contract (keys, export, concurrency, crash safety), run
against both backends (``store_location``: a new SQLite file, a new database on a real PostgreSQL
server); what only SQLite has (WAL, file modes, the version-1 migration) stays SQLite-only."""

import contextlib
import csv
import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from tests.fakes import fake_evaluation, group_alive, start_group
from tests.fakes import fake_measurement as fake
from zoo import ZooError
from zoo.models.spec import spec_from_phi, spec_from_variant
from zoo.paths import default_store_path
from zoo.records.protocol import Protocol
from zoo.store.measurement_store import MeasurementStore
from zoo.store.schema import SCHEMA_VERSION
from zoo.store.url import is_url

ROOT = Path(__file__).resolve().parent.parent


def test_put_get_roundtrip_and_unique_key(store_location):
    with MeasurementStore(store_location) as store:
        spec = spec_from_variant("b0")
        protocol = Protocol(device="cpu")
        assert store.get(spec, protocol, "env1") is None
        store.put(fake())
        got = store.get(spec, protocol, "env1")
        assert got == replace(fake(), from_store=True)
        assert store.get(spec, protocol, "env2") is None  # another environment
        assert store.get(spec, replace(protocol, batch_size=2), "env1") is None
        assert store.get(spec, replace(protocol, channels_last=False), "env1") is None
        store.put(fake(latency_ms_median=9.0))  # same key: replaced, not duplicated
        assert len(store.rows()) == 1
        assert store.get(spec, protocol, "env1").latency_ms_median == 9.0


def test_rows_filter_by_device(store_location):
    with MeasurementStore(store_location) as store:
        store.put(fake())
        store.put(fake(device="cuda:0", precision="bf16"))
        store.put(fake(device="cuda:1"))
        assert [m.device for m in store.rows("cpu")] == ["cpu"]
        assert [m.device for m in store.rows("cuda")] == ["cuda:0", "cuda:1"]
        assert [m.device for m in store.rows("cuda:1")] == ["cuda:1"]
        assert len(store.rows()) == 3 and all(m.from_store for m in store.rows())
        assert store.devices() == ["cpu", "cuda:0", "cuda:1"]


def test_export_csv_and_json(store_location):
    with MeasurementStore(store_location) as store:
        store.put(fake())
        store.put(fake(model="resnet50", resolution=288))
        records = json.loads(store.export("json"))
        assert [r["model"] for r in records] == ["efficientnet_b0", "resnet50"]
        rows = list(csv.DictReader(io.StringIO(store.export("csv"))))
        assert rows[1]["model"] == "resnet50" and rows[1]["resolution"] == "288"
        assert {"latency_ms_median", "throughput_ips", "peak_memory_mb"} <= set(rows[0])
        with pytest.raises(ZooError, match="accepted csv, json"):
            store.export("xml")


def test_schema_and_wal(tmp_path):
    path = tmp_path / "m.sqlite"
    MeasurementStore(path).close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
    conn.execute("UPDATE schema_version SET version = 99")
    conn.commit()
    conn.close()
    with pytest.raises(ZooError, match="schema version 99"):
        MeasurementStore(path)


def test_a_newer_schema_version_is_refused(store_location):
    with MeasurementStore(store_location) as store:
        store.db.execute("UPDATE schema_version SET version = 99")
    with pytest.raises(ZooError, match="schema version 99, newer"):
        MeasurementStore(store_location)


def test_unusable_location_is_a_clear_error(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(ZooError, match="cannot use the measurement store"):
        MeasurementStore(blocker / "m.sqlite")
    with pytest.raises(ZooError, match="writable"):
        MeasurementStore(tmp_path)  # a folder, not a database file


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root ignores modes")
def test_read_only_database_is_a_clear_error(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    MeasurementStore(folder / "m.sqlite").close()
    for p in folder.iterdir():
        p.chmod(0o444)
    folder.chmod(0o555)
    try:
        with pytest.raises(ZooError, match="cannot use the measurement store"):
            MeasurementStore(folder / "m.sqlite").put(fake())
    finally:
        folder.chmod(0o755)


def test_default_path(monkeypatch, tmp_path):
    monkeypatch.setenv("EFFSCALE_STORE", str(tmp_path / "x.sqlite"))
    assert default_store_path() == tmp_path / "x.sqlite"
    monkeypatch.delenv("EFFSCALE_STORE")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert default_store_path() == tmp_path / "data" / "effscale" / "measurements.sqlite"
    monkeypatch.delenv("XDG_DATA_HOME")
    assert default_store_path() == Path.home() / ".local/share/effscale/measurements.sqlite"


WRITER = """
import sys
from tests.fakes import fake_measurement as fake
from zoo.store.measurement_store import MeasurementStore
store = MeasurementStore(sys.argv[1])
for i in range(int(sys.argv[2])):
    store.put(fake(model=f"m{i}"))
store.close()
"""


def test_concurrent_readers_and_writers_do_not_corrupt(store_location):
    path = store_location
    MeasurementStore(path).close()
    count = 150
    writer = subprocess.Popen([sys.executable, "-c", WRITER, path, str(count)], cwd=ROOT)
    store = MeasurementStore(path)
    seen: list[list[int]] = [[], []]
    errors: list[BaseException] = []
    stop = threading.Event()

    def read(counts):
        reader = MeasurementStore(path)  # its own connection, like another process
        try:
            while not stop.is_set():
                rows = reader.rows() if len(counts) % 2 else store.rows()
                assert all(r.model[0] in "mt" and r.params == 5_288_548 for r in rows)
                counts.append(len(rows))
        except BaseException as exc:
            errors.append(exc)
        finally:
            reader.close()

    def write():  # a second writer in this process, sharing the connection across threads
        try:
            for i in range(50):
                store.put(fake(model=f"t{i}", device="cuda:0"))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=read, args=(c,)) for c in seen]
    threads.append(threading.Thread(target=write))
    for t in threads:
        t.start()
    assert writer.wait(timeout=120) == 0
    stop.set()
    for t in threads:
        t.join()
    assert not errors
    for counts in seen:  # each reader saw the table only grow, one committed row at a time
        assert counts and counts == sorted(counts) and counts[-1] <= count + 50
    if not is_url(path):
        conn = sqlite3.connect(path)
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        conn.close()
    assert store.db.execute("SELECT COUNT(*) FROM measurements") == [(count + 50,)]
    store.close()


def _row_models(location: str) -> list[str]:
    """The models stored so far, read without making a store where there is none yet."""
    if is_url(location):
        import psycopg

        with psycopg.connect(location) as conn:
            try:
                return [r[0] for r in conn.execute("SELECT model FROM measurements ORDER BY id")]
            except psycopg.errors.UndefinedTable:
                return []
    conn = sqlite3.connect(location, timeout=30)
    try:
        return [r[0] for r in conn.execute("SELECT model FROM measurements ORDER BY id")]
    except sqlite3.OperationalError:  # the table does not exist yet
        return []
    finally:
        conn.close()


@pytest.mark.model
def test_sigkill_mid_sweep_keeps_finished_rows_and_restart_skips_them(store_location):
    path = store_location
    phis = ["-3", "-2.75", "-2.5", "-2.25"]
    command = [
        sys.executable, "-m", "zoo", "measure", "--phi", *phis, "--device", "cpu",
        "--iters", "2", "--warmup", "0", "--store", path, "--format", "json",
        "--no-progress",
    ]  # fmt: skip
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = start_group(command, ROOT, env)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not _row_models(path) and proc.poll() is None:
            time.sleep(0.05)
        assert proc.poll() is None, "the sweep finished before it could be killed"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        # the measurement helper and its child die with their parent (PR_SET_PDEATHSIG)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and group_alive(proc.pid):
            time.sleep(0.1)
        assert not group_alive(proc.pid)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    if not is_url(path):
        conn = sqlite3.connect(path)
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        conn.close()
    done = _row_models(path)
    assert 1 <= len(done) < len(phis)
    assert len(done) == len(set(done))  # each finished row exactly once

    out = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    records = json.loads(out.stdout)
    expected = [spec_from_phi(float(p)).model for p in phis]
    assert [r["model"] for r in records] == expected
    assert [r["from_store"] for r in records] == [m in done for m in expected]
    assert sorted(_row_models(path)) == sorted(expected)


def test_another_protocol_never_replaces_a_measurement(store_location):
    # Hardening finding 7: a 1-thread, 1-iteration run replaced a proper point (schema 1 keyed
    # rows on batch, precision, channels_last and device only).
    with MeasurementStore(store_location) as store:
        store.put(fake())
        store.put(fake(latency_ms_median=99.0, max_iters=1, min_iters=1))
        store.put(fake(latency_ms_median=98.0, threads=1))
        assert len(store.rows()) == 3
        proper = store.get(spec_from_variant("b0"), Protocol(device="cpu"), "env1")
        assert proper.latency_ms_median == fake().latency_ms_median


def test_a_version_1_store_is_migrated_keeping_every_row(tmp_path):
    path = tmp_path / "v1.sqlite"
    conn = sqlite3.connect(path)
    conn.executescript(
        "CREATE TABLE schema_version (version INTEGER NOT NULL);"
        "INSERT INTO schema_version VALUES (1);"
        "CREATE TABLE measurements (id INTEGER PRIMARY KEY, model TEXT NOT NULL,"
        " resolution INTEGER NOT NULL, batch_size INTEGER NOT NULL, precision TEXT NOT NULL,"
        " channels_last INTEGER NOT NULL, device TEXT NOT NULL, environment_key TEXT NOT NULL,"
        " measured_at TEXT NOT NULL, record TEXT NOT NULL, UNIQUE (model, resolution,"
        " batch_size, precision, channels_last, device, environment_key));"
    )
    for i, model in enumerate(("efficientnet_b0", "resnet50")):
        m = fake(model=model)
        conn.execute(
            "INSERT INTO measurements VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (i + 1, m.model, m.resolution, m.batch_size, m.precision, 1, m.device,
             m.environment_key, m.measured_at, json.dumps(m.to_dict())),
        )  # fmt: skip
    conn.commit()
    conn.close()
    with MeasurementStore(path) as store:
        assert [m.model for m in store.rows()] == ["efficientnet_b0", "resnet50"]
        assert store.get(spec_from_variant("b0"), Protocol(device="cpu"), "env1") is not None
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
    columns = {row[1] for row in conn.execute("PRAGMA table_info('measurements')")}
    assert "protocol_key" in columns
    conn.close()


# --- evaluations (schema 3) -------------------------------------------------------------------


def test_evaluations_round_trip_and_replace_on_the_same_data(store_location):
    from tests.fakes import fake_evaluation

    with MeasurementStore(store_location) as store:
        assert store.evaluations() == []
        store.put_evaluation(fake_evaluation())
        store.put_evaluation(fake_evaluation("tf_efficientnet_lite1", input_px=240))
        store.put_evaluation(fake_evaluation(fingerprint="a" * 64, top1_pct=50.0))
        assert [e.model for e in store.evaluations()] == [
            "tf_efficientnet_lite0",
            "tf_efficientnet_lite1",
            "tf_efficientnet_lite0",
        ]
        assert store.evaluations("tf_efficientnet_lite1") == [
            fake_evaluation("tf_efficientnet_lite1", input_px=240)
        ]
        # the same model, weights, runtime and data: replaced, not added
        store.put_evaluation(fake_evaluation(top1_pct=80.0, evaluated_at="2026-11-30"))
        lite0 = store.evaluations("tf_efficientnet_lite0")
        assert [(e.data_fingerprint[0], e.top1_pct) for e in lite0] == [("f", 80.0), ("a", 50.0)]
        assert store.rows() == []  # measurements untouched


def test_a_partial_evaluation_is_never_stored(store_location):
    from tests.fakes import fake_evaluation

    with MeasurementStore(store_location) as store:
        with pytest.raises(ZooError, match="interrupted .* never stored"):
            store.put_evaluation(fake_evaluation(complete=False))
        assert store.evaluations() == []


def test_damaged_evaluation_records_are_skipped_and_counted(store_location):
    from tests.fakes import fake_evaluation

    path = store_location
    with MeasurementStore(path) as store:
        store.put_evaluation(fake_evaluation())
        store.put_evaluation(fake_evaluation("resnet50"))
        # damaged by someone else, not through the store
        store.db.execute("UPDATE evaluations SET record = '{\"model\": 1}' WHERE id = 1")
    with MeasurementStore(path) as store:
        assert [e.model for e in store.evaluations()] == ["resnet50"]
        assert store.damaged_evaluations == 1


def test_a_version_2_store_is_migrated_to_3_keeping_its_measurements(tmp_path):
    from tests.fakes import fake_evaluation
    from zoo.store.sqlite import APPLICATION_ID

    path = tmp_path / "v2.sqlite"
    conn = sqlite3.connect(path)
    conn.executescript(
        "CREATE TABLE schema_version (version INTEGER NOT NULL);"
        "INSERT INTO schema_version VALUES (2);"
        "CREATE TABLE measurements (id INTEGER PRIMARY KEY, model TEXT NOT NULL,"
        " resolution INTEGER NOT NULL, batch_size INTEGER NOT NULL, precision TEXT NOT NULL,"
        " channels_last INTEGER NOT NULL, device TEXT NOT NULL, environment_key TEXT NOT NULL,"
        " protocol_key TEXT NOT NULL, measured_at TEXT NOT NULL, record TEXT NOT NULL,"
        " UNIQUE (model, resolution, protocol_key, environment_key));"
        f"PRAGMA application_id = {APPLICATION_ID};"
    )
    m = fake()
    conn.execute(
        "INSERT INTO measurements VALUES (1, ?, ?, ?, ?, 1, ?, ?, 'k', ?, ?)",
        (m.model, m.resolution, m.batch_size, m.precision, m.device, m.environment_key,
         m.measured_at, json.dumps(m.to_dict())),
    )  # fmt: skip
    conn.commit()
    conn.close()
    with MeasurementStore(path) as store:
        assert [r.model for r in store.rows()] == ["efficientnet_b0"]
        store.put_evaluation(fake_evaluation())
        assert len(store.evaluations()) == 1
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert tables == {
        "schema_version",
        "measurements",
        "evaluations",
        "jobs",
        "job_requests",
        "artifact_digests",
    }
    conn.close()


def test_an_evaluation_row_stays_small_however_many_images_failed(store_location):
    """100,000 unreadable files: the row the compare page reads keeps 20 of them and the whole
    count, not 8 MB of per-image detail."""
    from zoo.records.evaluation import FailedImage
    from zoo.store.measurement_store import STORED_FAILURES

    failures = tuple(FailedImage(f"cat/{i:06d}.jpg", "empty file") for i in range(100_000))
    evaluation = fake_evaluation(images_found=100_020, images_selected=100_020,
                                 images_failed=100_000, failures=failures)  # fmt: skip
    with MeasurementStore(store_location) as store:
        store.put_evaluation(evaluation)
        (size,) = store.db.execute("SELECT length(record) FROM evaluations")[0]
        (stored,) = store.evaluations()
    assert size < 20_000 and STORED_FAILURES == 20
    assert len(stored.failures) == 20 and stored.images_failed == 100_000
