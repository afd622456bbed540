"""What only the PostgreSQL store has: URLs checked at the boundary, passwords from where libpq
finds them and never shown or stored, a database of another application refused untouched,
concurrent creators and submitters, a dropped connection. Against a real server
(``postgres_server``, 127.0.0.1 only); the store's shared contract is in test_zoo_store.py and
test_jobs.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg
import pytest

from harness.pgserver import PASSWORD, PASSWORD_USER
from tests.fakes import fake_measurement
from zoo.errors import ZooError
from zoo.measure import orchestrate
from zoo.models.spec import spec_from_phi
from zoo.records.protocol import Protocol
from zoo.store.jobs import jobs, submit
from zoo.store.measurement_store import MeasurementStore
from zoo.store.schema import SCHEMA_VERSION, TABLE_COLUMNS
from zoo.store.url import parse_store_url, redact
from zoo.workers.worker import enqueue, serve

ROOT = Path(__file__).resolve().parent.parent
QUICK = Protocol(device="cpu", warmup_iters=0, min_iters=2, max_iters=2, max_seconds=0.1)


@pytest.mark.parametrize(
    "url, expected",
    [
        ("mysql://me@db.example/zoo", "scheme 'mysql' is not supported"),
        ("sqlite:///tmp/m.sqlite", "scheme 'sqlite' is not supported"),
        ("postgresql:///zoo", "the host is missing"),
        ("postgresql://me@db.example:99999/zoo", "port is not a number"),
        ("postgresql://me@db.example:5x/zoo", "port is not a number"),
        ("postgresql://me@db.example:5432", "database name is missing"),
        ("postgresql://me@db.example:5432/", "database name is missing"),
        ("postgresql://me@db.example/zoo/extra", "not a name"),
        ("postgresql://me@db.example/zoo?password=pw", "'password' is not accepted"),
        ("postgresql://me@db.example/zoo?sslmode", "not NAME=VALUE"),
        ("postgresql://me:pw@[::1/zoo", "not a URL"),
    ],
)
def test_bad_urls_are_one_line_naming_what_is_accepted(url, expected):
    with pytest.raises(ZooError) as caught:
        MeasurementStore(url)
    message = str(caught.value)
    assert expected in message and "accepted: postgresql://USER@HOST[:PORT]/DBNAME" in message
    assert "\n" not in message and ":pw@" not in message


def test_good_urls_pass_as_given():
    for url in (
        "postgresql://me@db.example/zoo",
        "postgres://me:pw@10.0.0.5:6543/zoo?sslmode=require&connect_timeout=3",
        "postgresql://me@[2001:db8::1]:5432/zoo",
    ):
        assert parse_store_url(url).url == url


def test_the_cli_never_prints_the_password(tmp_path):
    url = "postgresql://me:hunter2-secret@127.0.0.1:1/zoo"  # nothing listens on port 1
    for command in (["export"], ["measure", "--variant", "b0", "--device", "cpu"]):
        out = subprocess.run(
            [sys.executable, "-m", "zoo", *command, "--store", url],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert out.returncode == 2, out.stderr
        assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr
        assert "hunter2" not in out.stderr + out.stdout
        assert "postgresql://me:***@127.0.0.1:1/zoo" in out.stderr


def _password_url(server, database: str) -> str:
    return server.url(database, user=PASSWORD_USER)


def test_passwords_come_from_the_url_the_environment_or_a_pgpass_file(
    postgres_server, tmp_path, monkeypatch
):
    database = postgres_server.create_database().rsplit("/", 1)[1]
    bare = _password_url(postgres_server, database)  # no password in it
    monkeypatch.delenv("PGPASSWORD", raising=False)
    monkeypatch.setenv("PGPASSFILE", str(tmp_path / "none"))
    with pytest.raises(ZooError, match="cannot use the measurement store") as caught:
        MeasurementStore(bare)
    assert PASSWORD not in str(caught.value)

    with_password = bare.replace(f"{PASSWORD_USER}@", f"{PASSWORD_USER}:{PASSWORD}@")
    with MeasurementStore(with_password) as store:
        store.put(fake_measurement())
        assert PASSWORD not in repr(store) + store.printable

    monkeypatch.setenv("PGPASSWORD", PASSWORD)
    with MeasurementStore(bare) as store:
        assert len(store.rows()) == 1
    monkeypatch.delenv("PGPASSWORD")

    pgpass = tmp_path / "pgpass"
    pgpass.write_text(f"127.0.0.1:{postgres_server.port}:{database}:{PASSWORD_USER}:{PASSWORD}\n")
    pgpass.chmod(0o600)
    monkeypatch.setenv("PGPASSFILE", str(pgpass))
    with MeasurementStore(bare) as store:
        assert len(store.rows()) == 1

    wrong = bare.replace(f"{PASSWORD_USER}@", f"{PASSWORD_USER}:wrong-Passw0rd@")
    with pytest.raises(ZooError, match="password authentication failed") as caught:
        MeasurementStore(wrong)
    assert "wrong-Passw0rd" not in str(caught.value) and "\n" not in str(caught.value)


def test_results_and_jobs_never_carry_the_store_url(postgres_server, tmp_path, monkeypatch):
    """A real (tiny) measurement run as a job through a URL with a password: no column of any
    table holds the URL or the password; the worker's messages show it redacted."""
    database = postgres_server.create_database().rsplit("/", 1)[1]
    url = _password_url(postgres_server, database).replace(
        f"{PASSWORD_USER}@", f"{PASSWORD_USER}:{PASSWORD}@"
    )
    monkeypatch.setenv("EFFSCALE_LOCK", str(tmp_path / "lock"))
    monkeypatch.setattr(orchestrate, "QUIET_WAIT_S", 0.0)
    with MeasurementStore(url) as store:
        enqueue(store, [spec_from_phi(-3.0)], QUICK, requested_by="test")
        said: list[str] = []
        assert serve(url, once=True, say=said.append) == 1
        (job,) = jobs(store)
        assert job.state == "done" and job.result is not None
        assert job.result.host and job.result.node == ""  # measured for itself
        assert said and all(PASSWORD not in line for line in said)
        assert any(redact(url) in line for line in said)
    with postgres_server.admin(database) as conn:
        for table in TABLE_COLUMNS:
            for row in conn.execute(f"SELECT * FROM {table}"):
                text = json.dumps([str(v) for v in row])
                assert PASSWORD not in text and "postgresql://" not in text, table


FOREIGN = {
    "other app's measurements": [
        "CREATE TABLE measurements (id INTEGER, value REAL)",
        "INSERT INTO measurements VALUES (1, 2.5)",
    ],
    "our table names, other columns": [
        "CREATE TABLE schema_version (v TEXT)",
        "CREATE TABLE measurements (model TEXT)",
    ],
    "our columns, not our mark": ["CREATE TABLE schema_version (version INTEGER NOT NULL)"],
    "another app's jobs": ["CREATE TABLE jobs (id SERIAL, payload JSONB)"],
}


def _snapshot(server, database: str) -> list[tuple]:
    with server.admin(database) as conn:
        return conn.execute(
            "SELECT table_name, column_name, data_type FROM information_schema.columns WHERE "
            "table_schema = 'public' ORDER BY 1, 2"
        ).fetchall()


@pytest.mark.parametrize("name", sorted(FOREIGN))
def test_a_foreign_database_is_refused_and_left_unchanged(postgres_server, name):
    url = postgres_server.create_database()
    database = url.rsplit("/", 1)[1]
    with postgres_server.admin(database) as conn:
        for statement in FOREIGN[name]:
            conn.execute(statement)
    before = _snapshot(postgres_server, database)
    with pytest.raises(ZooError, match="not an effscale measurement store; it was left unchanged"):
        MeasurementStore(url)
    assert _snapshot(postgres_server, database) == before
    if name == "other app's measurements":
        with postgres_server.admin(database) as conn:
            assert conn.execute("SELECT * FROM measurements").fetchall() == [(1, 2.5)]


def test_other_tables_in_the_database_are_left_alone(postgres_server):
    url = postgres_server.create_database()
    with postgres_server.admin(url.rsplit("/", 1)[1]) as conn:
        conn.execute("CREATE TABLE invoices (id INTEGER)")
        conn.execute("INSERT INTO invoices VALUES (7)")
    with MeasurementStore(url) as store:
        store.put(fake_measurement())
    with MeasurementStore(url) as store:  # and it is recognised as ours afterwards
        assert len(store.rows()) == 1
        assert store.db.execute("SELECT id FROM invoices") == [(7,)]


def test_the_recognised_columns_are_the_ones_a_store_has(postgres_server):
    url = postgres_server.create_database()
    MeasurementStore(url).close()
    found: dict[str, set[str]] = {}
    for table, column, _ in _snapshot(postgres_server, url.rsplit("/", 1)[1]):
        found.setdefault(table, set()).add(column)
    assert found == TABLE_COLUMNS


def test_many_processes_creating_one_store_at_once(postgres_server):
    """CREATE TABLE IF NOT EXISTS alone is not safe against a concurrent creator on
    PostgreSQL: the store serializes its creation."""
    url = postgres_server.create_database()
    code = (
        "import sys\nfrom zoo import MeasurementStore\n"
        "from tests.fakes import fake_measurement\n"
        "with MeasurementStore(sys.argv[1]) as s:\n    s.put(fake_measurement(model=sys.argv[2]))\n"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, url, f"m{i}"], cwd=ROOT, stderr=subprocess.PIPE
        )
        for i in range(6)
    ]
    errors = [p.communicate(timeout=120)[1].decode() for p in procs]
    assert [p.returncode for p in procs] == [0] * 6, errors
    with MeasurementStore(url) as store:
        assert sorted(m.model for m in store.rows()) == [f"m{i}" for i in range(6)]
        assert store.db.execute("SELECT version FROM schema_version") == [(SCHEMA_VERSION,)]


def test_a_submit_that_loses_the_race_joins_the_winner(postgres_server):
    """Two submitters both find no active job and both insert: the unique index on active
    requests lets one through; the other reads the winner's job instead of failing."""
    url = postgres_server.create_database()
    spec = spec_from_phi(-3.0)
    with MeasurementStore(url) as store:
        template = submit(store, spec_from_phi(-2.0), QUICK)  # a row to copy the columns from
    winner = psycopg.connect(url)  # not autocommit: its insert stays uncommitted for now
    from zoo.store.jobs import request_key

    (winner_id,) = winner.execute(
        "INSERT INTO jobs (request_key, spec, protocol, label, state, created_at) SELECT %s, "
        "spec, protocol, label, 'queued', created_at FROM jobs WHERE id = %s RETURNING id",
        (request_key(spec, QUICK), template.id),
    ).fetchone()
    joined: list[int] = []
    with MeasurementStore(url) as loser:
        thread = threading.Thread(target=lambda: joined.append(submit(loser, spec, QUICK).id))
        thread.start()
        time.sleep(0.5)  # the loser found nothing and now waits on the unique index
        assert thread.is_alive() and not joined
        winner.commit()
        thread.join(timeout=30)
    winner.close()
    assert joined == [winner_id]


def test_a_dropped_connection_is_opened_again(postgres_server):
    url = postgres_server.create_database()
    with MeasurementStore(url) as store:
        store.put(fake_measurement())
        (pid,) = store.db.execute("SELECT pg_backend_pid()")[0]
        with postgres_server.admin() as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        answers = []
        for _ in range(2):  # the statement that meets the dropped connection fails, cleanly
            try:
                answers.append(len(store.rows()))
            except ZooError as exc:
                assert "cannot use the measurement store" in str(exc)
        assert answers[-1] == 1


def test_the_store_url_can_come_from_the_environment(postgres_server, monkeypatch):
    url = postgres_server.create_database()
    monkeypatch.setenv("EFFSCALE_STORE", url)
    with MeasurementStore() as store:
        assert store.printable == url and store.path is None
        store.put(fake_measurement())
    out = subprocess.run(
        [sys.executable, "-m", "zoo", "export", "--format", "json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "EFFSCALE_STORE": url},
    )
    assert out.returncode == 0, out.stderr
    assert [r["model"] for r in json.loads(out.stdout)] == ["efficientnet_b0"]


# --------------------------------------------------------------------------- a server restart


@pytest.fixture
def own_server():
    """A server of this test's own, to restart without disturbing the session's."""
    from harness.pgserver import start_server

    server = start_server()
    yield server
    server.stop()


def _restart(server) -> None:
    out = server._ctl("restart", "-m", "fast", "-w", "-t", "60", "-l", str(server.base / "log"))
    assert out.returncode == 0, out.stderr


def test_a_server_restart_costs_nothing_but_the_reconnect(own_server, tmp_path, monkeypatch):
    """An open store (a page's, a worker's, a waiting CLI's) goes on after the server restarts:
    reads, writes, transactions and the lease, each on a new connection, none failing."""
    from zoo.store.leases import claim, heartbeat

    monkeypatch.setenv("EFFSCALE_LOCK", str(tmp_path / "lock"))
    url = own_server.create_database()
    with MeasurementStore(url) as store:
        first = submit(store, spec_from_phi(-3.0), QUICK, requested_by="a")
        taken = claim(store, "w")
        _restart(own_server)
        assert heartbeat(store, taken.id, "w", "measuring")  # the lease survives
        _restart(own_server)
        assert [j.id for j in jobs(store)] == [first.id]  # a read
        _restart(own_server)
        second = submit(store, spec_from_phi(-2.0), QUICK, requested_by="b")  # a transaction
        assert second.id != first.id and len(jobs(store)) == 2
        _restart(own_server)
        assert store.rows() == [] and store.revision()[0] == 0


def test_after_a_restart_the_worker_that_lost_its_lock_stops(own_server, tmp_path):
    """The worker's advisory lock dies with its session: the worker notices and stops serving,
    so that the worker started next is the only one."""
    url = own_server.create_database()
    env = {**os.environ, "EFFSCALE_LOCK": str(tmp_path / "lock"), "EFFSCALE_STORE": url}
    first = subprocess.Popen(
        [sys.executable, "-m", "zoo", "worker"], cwd=ROOT, env=env, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        with MeasurementStore(url) as store:
            deadline = time.monotonic() + 60
            while not store.db.execute("SELECT 1 FROM pg_locks WHERE locktype = 'advisory'"):
                assert time.monotonic() < deadline and first.poll() is None
                time.sleep(0.1)
        _restart(own_server)
        first.wait(timeout=60)
        assert first.returncode == 0
        assert "no longer holds the store's worker lock" in first.stderr.read()
    finally:
        if first.poll() is None:
            first.kill()
    with MeasurementStore(url) as store:
        enqueue(store, [spec_from_phi(-3.0)], QUICK, requested_by="test")
        assert serve(url, once=True) == 1  # the next worker serves the store alone
