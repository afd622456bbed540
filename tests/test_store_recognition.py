"""A file that is not our store is recognised before anything is written to it, and refused.

Hardening finding 3: a database of another application with a ``measurements`` table was
switched to WAL and given our ``schema_version`` table before the CLI crashed on it; a stored
record missing a field and a text ``schema_version`` gave tracebacks too.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.fakes import fake_measurement
from zoo.errors import ZooError
from zoo.store.measurement_store import MeasurementStore

ROOT = Path(__file__).resolve().parent.parent


def _sqlite(path: Path, script: str) -> Path:
    conn = sqlite3.connect(path)
    conn.executescript(script)
    conn.commit()
    conn.close()
    return path


FOREIGN = {
    "other app's measurements": "CREATE TABLE measurements (id INTEGER, value REAL);"
    "INSERT INTO measurements VALUES (1, 2.5);",
    "other app in WAL": "PRAGMA journal_mode = WAL; CREATE TABLE notes (t TEXT);",
    "another application_id": "PRAGMA application_id = 42; CREATE TABLE t (x);",
    "our table names, other columns": "CREATE TABLE schema_version (v TEXT);"
    "CREATE TABLE measurements (model TEXT);",
}


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("name", sorted(FOREIGN))
def test_foreign_sqlite_files_are_refused_and_left_unchanged(tmp_path, name):
    path = _sqlite(tmp_path / "other.db", FOREIGN[name])
    before = _digest(path)
    with pytest.raises(ZooError, match="not an effscale measurement store"):
        MeasurementStore(path)
    assert _digest(path) == before
    assert not Path(f"{path}-wal").exists() or name == "other app in WAL"


@pytest.mark.parametrize(
    "content",
    [b"not a database at all\n" * 50, b"SQLite format 3\x00" + b"\xff" * 200, bytes(range(256))],
)
def test_non_database_files_are_refused_and_left_unchanged(tmp_path, content):
    path = tmp_path / "junk.sqlite"
    path.write_bytes(content)
    with pytest.raises(ZooError):
        MeasurementStore(path)
    assert path.read_bytes() == content


def test_cli_refuses_a_foreign_store_with_one_line_and_exit_2(tmp_path):
    path = _sqlite(tmp_path / "other.db", FOREIGN["other app's measurements"])
    before = _digest(path)
    for command in (["export"], ["measure", "--variant", "b0", "--device", "cpu"]):
        out = subprocess.run(
            [sys.executable, "-m", "zoo", *command, "--store", str(path)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert out.returncode == 2, out.stderr
        assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr
        assert "not an effscale measurement store" in out.stderr
    assert _digest(path) == before


def test_text_schema_version_is_refused(tmp_path):
    path = tmp_path / "m.sqlite"
    MeasurementStore(path).close()
    conn = sqlite3.connect(path)
    conn.execute("UPDATE schema_version SET version = 'one'")
    conn.commit()
    conn.close()
    with pytest.raises(ZooError, match="not a whole number"):
        MeasurementStore(path)


def test_damaged_records_are_skipped_counted_and_remeasurable(tmp_path):
    path = tmp_path / "m.sqlite"
    with MeasurementStore(path) as store:
        store.put(fake_measurement(model="efficientnet_b0"))
        store.put(fake_measurement(model="resnet50"))
    conn = sqlite3.connect(path)
    record = json.loads(conn.execute("SELECT record FROM measurements WHERE id = 1").fetchone()[0])
    del record["latency_ms_median"]  # a field missing
    conn.execute("UPDATE measurements SET record = ? WHERE id = 1", (json.dumps(record),))
    conn.execute("UPDATE measurements SET record = 'not json' WHERE id = 2")
    conn.commit()
    conn.close()
    with MeasurementStore(path) as store:
        assert store.rows() == [] and store.damaged_rows == 2
        from zoo.models.spec import spec_from_variant
        from zoo.records.protocol import Protocol

        assert store.get(spec_from_variant("b0"), Protocol(device="cpu"), "env1") is None
        store.put(fake_measurement(model="efficientnet_b0"))  # measured again: replaced
        assert [m.model for m in store.rows()] == ["efficientnet_b0"]
        assert store.damaged_rows == 1
    out = subprocess.run(
        [sys.executable, "-m", "zoo", "export", "--format", "json", "--store", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0 and len(json.loads(out.stdout)) == 1
    assert "1 stored rows could not be read" in out.stderr


def test_empty_file_and_empty_database_become_stores(tmp_path):
    empty = tmp_path / "empty.sqlite"
    empty.write_bytes(b"")
    blank = _sqlite(tmp_path / "blank.sqlite", "")
    for path in (empty, blank):
        with MeasurementStore(path) as store:
            store.put(fake_measurement())
            assert len(store.rows()) == 1
        with MeasurementStore(path) as store:  # and it is recognised as ours afterwards
            assert len(store.rows()) == 1


def test_export_does_not_create_a_missing_store(tmp_path):
    missing = tmp_path / "no" / "such" / "m.sqlite"
    out = subprocess.run(
        [sys.executable, "-m", "zoo", "export", "--store", str(missing)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 2 and "there is none" in out.stderr
    assert not (tmp_path / "no").exists()


def test_compare_page_runs_without_persistence_on_a_foreign_store(tmp_path, monkeypatch):
    path = _sqlite(tmp_path / "other.db", FOREIGN["other app's measurements"])
    before = _digest(path)
    monkeypatch.setenv("EFFSCALE_STORE", str(path))
    at = AppTest.from_string(
        "from dashboard.compare.page import render\nrender()\n", default_timeout=120
    ).run()
    assert not at.exception
    assert any("running without persistence" in str(i.value) for i in at.info)
    assert _digest(path) == before
