"""The store's schema: its tables, its version, how an older store is migrated, and how a
location that is not an effscale store is recognised and refused before anything is written.

``open_database`` turns a ``--store`` / ``EFFSCALE_STORE`` value into a database (``zoo.store.database``):
a PostgreSQL URL or an SQLite path; ``ensure_schema`` creates or migrates the tables. The store
itself (``zoo.store.measurement_store.MeasurementStore``) reads and writes rows.
"""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

from zoo.errors import ZooError
from zoo.paths import STORE_ENV, default_store_path
from zoo.records.protocol import protocol_key
from zoo.store.database import Database
from zoo.store.postgres import PostgresDatabase
from zoo.store.sqlite import APPLICATION_ID, SQLiteDatabase
from zoo.store.url import is_url

__all__ = ["SCHEMA_VERSION", "TABLE_COLUMNS", "ensure_schema", "open_database"]

SCHEMA_VERSION = 5

# Version 2: one row per (model, resolution, protocol, environment). Version 1 keyed rows on
# batch, precision, channels_last and device only, so a quick 1-iteration run replaced a proper
# measurement of the same model; ``_migrate`` rebuilds a version-1 table with the new key.
_MEASUREMENTS = """
CREATE TABLE IF NOT EXISTS {{name}} (
    id {id},
    model TEXT NOT NULL,
    resolution INTEGER NOT NULL,
    batch_size INTEGER NOT NULL,
    precision TEXT NOT NULL,
    channels_last INTEGER NOT NULL,
    device TEXT NOT NULL,
    environment_key TEXT NOT NULL,
    protocol_key TEXT NOT NULL,
    measured_at TEXT NOT NULL,
    record TEXT NOT NULL,
    UNIQUE (model, resolution, protocol_key, environment_key)
)
"""
# Version 3 adds the evaluations table (``put_evaluation``); measurements are unchanged.
_EVALUATIONS = """
CREATE TABLE IF NOT EXISTS evaluations (
    id {id},
    model TEXT NOT NULL,
    weights TEXT NOT NULL,
    runtime TEXT NOT NULL,
    data_fingerprint TEXT NOT NULL,
    data_dir TEXT NOT NULL,
    evaluated_at TEXT NOT NULL,
    record TEXT NOT NULL,
    UNIQUE (model, weights, runtime, data_fingerprint)
)
"""
# Version 4 adds the job queue (``zoo.store.jobs``). One active (queued or running) job per request
# key: asking twice for the same measurement joins the first request.
_JOBS = (
    """
CREATE TABLE IF NOT EXISTS jobs (
    id {id},
    request_key TEXT NOT NULL,
    spec TEXT NOT NULL,
    protocol TEXT NOT NULL,
    label TEXT NOT NULL,
    state TEXT NOT NULL,
    progress TEXT NOT NULL DEFAULT '',
    error TEXT NOT NULL DEFAULT '',
    requested_by TEXT NOT NULL DEFAULT '',
    group_name TEXT NOT NULL DEFAULT '',
    target TEXT NOT NULL DEFAULT '',
    worker TEXT NOT NULL DEFAULT '',
    attempts INTEGER NOT NULL DEFAULT 0,
    estimate_s {float},
    created_at TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT,
    heartbeat_at {float},
    result TEXT
)
""",
    "CREATE INDEX IF NOT EXISTS jobs_by_state ON jobs (state, id)",
    "CREATE UNIQUE INDEX IF NOT EXISTS jobs_one_active ON jobs (request_key, target) "
    "WHERE state IN ('queued', 'running')",
)
# Version 5: everyone who asked for a job (a job is cancelled only when nobody who asked still
# wants it), a job's priority (background sweeps run after what someone waits for), and the
# digests of the artefacts the runtimes use, kept where the artefacts' writer (anyone who can
# write the cache folder) cannot rewrite them too.
_V5 = (
    "ALTER TABLE jobs ADD COLUMN priority INTEGER NOT NULL DEFAULT 0",
    """
CREATE TABLE IF NOT EXISTS job_requests (
    job_id BIGINT NOT NULL,
    requested_by TEXT NOT NULL,
    asked_at TEXT NOT NULL,
    withdrawn_at TEXT,
    UNIQUE (job_id, requested_by)
)
""",
    """
CREATE TABLE IF NOT EXISTS artifact_digests (
    host TEXT NOT NULL,
    path TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    recorded_at TEXT NOT NULL,
    UNIQUE (host, path)
)
""",
)
# The columns of each table at ``SCHEMA_VERSION``: what a PostgreSQL database must hold under our
# table names to be recognised as a store (tests check this against a new store's tables).
TABLE_COLUMNS = {
    "schema_version": {"version"},
    "measurements": {
        "id", "model", "resolution", "batch_size", "precision", "channels_last", "device",
        "environment_key", "protocol_key", "measured_at", "record",
    },
    "evaluations": {
        "id", "model", "weights", "runtime", "data_fingerprint", "data_dir", "evaluated_at",
        "record",
    },
    "jobs": {
        "id", "request_key", "spec", "protocol", "label", "state", "progress", "error",
        "requested_by", "group_name", "target", "worker", "attempts", "estimate_s", "created_at",
        "started_at", "finished_at", "heartbeat_at", "result", "priority",
    },
    "job_requests": {"job_id", "requested_by", "asked_at", "withdrawn_at"},
    "artifact_digests": {"host", "path", "sha256", "size_bytes", "recorded_at"},
}  # fmt: skip
# What a PostgreSQL store says it is (a comment on its schema_version table), as SQLite files
# carry our application_id: another application's schema_version table is not ours.
_POSTGRES_MARK = "effscale measurement store"
# The tables of a version-1 store, made before stores carried our application_id.
_V1_COLUMNS = {
    "schema_version": {"version"},
    "measurements": {
        "id", "model", "resolution", "batch_size", "precision", "channels_last", "device",
        "environment_key", "measured_at", "record",
    },
}  # fmt: skip


def _check_version(where: str, version: object) -> None:
    if isinstance(version, bool) or not isinstance(version, int):
        raise ZooError(
            f"{where} is not a usable effscale measurement store: its schema version is "
            f"{version!r}, not a whole number; accepted: a store made by effscale, or a new path"
        )
    if version > SCHEMA_VERSION:
        raise ZooError(
            f"measurement store {where} has schema version {version}, newer than this effscale "
            f"understands ({SCHEMA_VERSION}); use another --store"
        )


def _recognise_sqlite(conn: sqlite3.Connection, path: Path) -> None:
    """Refuse, without writing a byte, an SQLite file that is not an effscale store: ours carry
    our application_id, or exactly the tables an earlier effscale made (version 1)."""
    foreign = (
        f"{path} is not an effscale measurement store; it was left unchanged. Accepted: a new "
        "path, or a store made by effscale (set --store PATH or EFFSCALE_STORE)"
    )
    try:
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        tables = {
            name: {col[1] for col in conn.execute(f"PRAGMA table_info('{name}')")}
            for (name,) in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        }
        if app_id not in (0, APPLICATION_ID) or (app_id == 0 and tables and tables != _V1_COLUMNS):
            raise ZooError(f"{foreign} (found tables: {', '.join(sorted(tables)) or 'none'})")
        if tables:
            for (version,) in conn.execute("SELECT version FROM schema_version").fetchall():
                _check_version(str(path), version)
    except sqlite3.OperationalError:
        raise  # cannot be read here: the database layer says so
    except sqlite3.DatabaseError as exc:  # not a database at all, or a damaged one
        raise ZooError(f"{foreign} ({exc})") from None


def _recognise_postgres(db: Database) -> None:
    """Refuse, before anything is written, a PostgreSQL database whose tables under our names
    are not an effscale store's (another application's, or a store of another effscale
    version than this one can read). Other tables in the database are none of our business."""
    found: dict[str, set[str]] = {}
    for table, column in db.execute(
        "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = "
        f"current_schema() AND table_name IN ({', '.join('?' for _ in TABLE_COLUMNS)})",
        tuple(TABLE_COLUMNS),
    ):
        found.setdefault(table, set()).add(column)
    if not found:
        return  # a new store: made by the caller
    ((mark,),) = db.execute(
        "SELECT obj_description(to_regclass(quote_ident(current_schema()) || "
        "'.schema_version'), 'pg_class')"
    )
    foreign = (
        f"{db.printable} is not an effscale measurement store; it was left unchanged (found "
        f"tables: {', '.join(sorted(found))}). Accepted: a database without tables named "
        f"{', '.join(TABLE_COLUMNS)}, or a store made by effscale"
    )
    if mark != _POSTGRES_MARK or found.get("schema_version") != TABLE_COLUMNS["schema_version"]:
        raise ZooError(foreign)
    for (version,) in db.execute("SELECT version FROM schema_version"):
        _check_version(db.printable, version)
    for table, columns in found.items():
        if columns != TABLE_COLUMNS[table]:
            raise ZooError(f"{foreign}; its table {table} has other columns")


def open_database(location: str | Path | None, *, create: bool = True) -> Database:
    """The database ``location`` names: a PostgreSQL URL, or an SQLite file path (default:
    ``$EFFSCALE_STORE``, a path or a URL, else the per-user store). A bad URL, or a database
    that is not ours, is a ``ZooError`` naming what is accepted."""
    if location is None and is_url(os.environ.get(STORE_ENV)):
        location = os.environ[STORE_ENV]
    if is_url(location):
        return PostgresDatabase(str(location), recognise=_recognise_postgres)
    path = Path(location).expanduser() if location is not None else default_store_path()
    return SQLiteDatabase(path, create=create, recognise=_recognise_sqlite)


def _migrate(db: Database, version: int) -> None:
    """Bring a store of an older schema version up to ``SCHEMA_VERSION`` (inside the caller's
    transaction: a crash leaves the old version intact)."""
    if version < 2:  # only SQLite stores were ever version 1
        db.execute(db.ddl(_MEASUREMENTS).format(name="measurements_v2"))
        for row in db.execute("SELECT * FROM measurements ORDER BY id"):
            (id_, model, resolution, batch, precision, channels_last, device, env, when, text) = row
            try:
                key = protocol_key(json.loads(text))
            except (TypeError, ValueError, AttributeError):
                key = f"damaged-{id_}"  # kept, and counted as damaged when read
            db.execute(
                "INSERT OR REPLACE INTO measurements_v2 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (id_, model, resolution, batch, precision, channels_last, device, env, key,
                 when, text),
            )  # fmt: skip
        db.execute("DROP TABLE measurements")
        db.execute("ALTER TABLE measurements_v2 RENAME TO measurements")
    if version < 3:
        db.execute(db.ddl(_EVALUATIONS))
    if version < 4:
        for statement in _JOBS:
            db.execute(db.ddl(statement))
    if version < 5:
        for statement in _V5:
            db.execute(db.ddl(statement))
        # Who asked for the jobs of a version-4 store: their first (and only known) requester.
        db.execute(
            "INSERT INTO job_requests (job_id, requested_by, asked_at) SELECT id, requested_by, "
            "created_at FROM jobs"
        )
    db.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION,))


def ensure_schema(db: Database) -> None:
    """Create the schema in an empty database, or check and migrate an existing one, in one
    transaction that one process at a time runs (``Database.serialize``)."""
    with db.transaction():  # one process creates or migrates
        db.serialize()
        db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        (version,) = db.execute("SELECT MAX(version) FROM schema_version")[0]
        if version is None:
            db.execute(db.ddl(_MEASUREMENTS).format(name="measurements"))
            db.execute(db.ddl(_EVALUATIONS))
            for statement in (*_JOBS, *_V5):
                db.execute(db.ddl(statement))
            db.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))
            if db.dialect == "postgresql":
                db.execute(f"COMMENT ON TABLE schema_version IS '{_POSTGRES_MARK}'")
        else:
            _check_version(db.printable, version)
            _migrate(db, version)
        if db.dialect == "sqlite":
            db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
