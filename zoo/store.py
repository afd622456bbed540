"""The measurement store: results, evaluations and the job queue, in SQLite or PostgreSQL.

``MeasurementStore(location)`` opens what ``--store`` / ``EFFSCALE_STORE`` name: a file path
(default: ``zoo.paths.default_store_path()``) for an embedded SQLite database, or a URL
``postgresql://user@host:port/dbname`` for a shared PostgreSQL server (``zoo.db``). The schema
is the same on both, created on first use and checked on every open (``SCHEMA_VERSION``; an
older store is migrated in place, inside one transaction).

* **measurements**: one row per (model configuration, resolution, protocol, environment
  fingerprint), enforced by a UNIQUE constraint (``zoo.protocol.protocol_key`` covers every
  protocol setting: runtime, device, batch, precision, memory format, threads, warm-up and the
  iteration and time bounds); re-measuring with the same protocol replaces the row, another
  protocol gets a row of its own. Every ``put`` is its own transaction, so a sweep killed at any
  point keeps every row committed before the kill.
* **evaluations** (``zoo.evaluation.Evaluation``: a model's accuracy on a labelled folder): one
  row per (model, weights, runtime, data fingerprint); only complete evaluations are stored.
* **jobs** (``zoo.jobs``): measurement requests, taken one at a time by a worker.

A location that is not an effscale store is refused before anything is written to it.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sqlite3
from dataclasses import fields
from pathlib import Path

from zoo.build import ModelSpec
from zoo.db import Database, is_url, redact
from zoo.db_postgres import PostgresDatabase
from zoo.db_sqlite import APPLICATION_ID, SQLiteDatabase
from zoo.environment import resolve_protocol
from zoo.errors import ZooError
from zoo.evaluation import Evaluation
from zoo.jsontext import strict_dumps
from zoo.paths import STORE_ENV, default_store_path
from zoo.protocol import Measurement, Protocol, protocol_key

__all__ = ["SCHEMA_VERSION", "MeasurementStore", "open_database"]

SCHEMA_VERSION = 4
EXPORT_FORMATS = ("csv", "json")

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
# Version 4 adds the job queue (``zoo.jobs``). One active (queued or running) job per request
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
# The columns of each table at ``SCHEMA_VERSION``: what a PostgreSQL database must hold under our
# table names to be recognised as a store (tests check this against a new store's tables).
_COLUMNS = {
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
        "started_at", "finished_at", "heartbeat_at", "result",
    },
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
        f"current_schema() AND table_name IN ({', '.join('?' for _ in _COLUMNS)})",
        tuple(_COLUMNS),
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
        f"{', '.join(_COLUMNS)}, or a store made by effscale"
    )
    if mark != _POSTGRES_MARK or found.get("schema_version") != _COLUMNS["schema_version"]:
        raise ZooError(foreign)
    for (version,) in db.execute("SELECT version FROM schema_version"):
        _check_version(db.printable, version)
    for table, columns in found.items():
        if columns != _COLUMNS[table]:
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
    db.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION,))


def _read_record(text: object) -> Measurement | None:
    """A stored record as a ``Measurement``; None for one that is damaged or incomplete."""
    try:
        data = json.loads(text)  # type: ignore[arg-type]
        data["from_store"] = True
        return Measurement.from_dict(data)
    except (TypeError, ValueError, KeyError):
        return None


class MeasurementStore:
    """The measurement database. Safe to share between threads; other processes (and, with
    PostgreSQL, other machines) may read and write it at the same time."""

    def __init__(self, location: str | Path | None = None, *, create: bool = True) -> None:
        """Open (``create``: or make) the store at ``location`` (a path or a PostgreSQL URL).

        An existing SQLite file is recognised before anything is written to it: a file that is
        not an effscale store is refused with a ``ZooError`` and left byte for byte as it was.
        With ``create=False`` a missing SQLite store is an error too (nothing is made).
        """
        self.db = open_database(location, create=create)
        # What opens this store again (a worker, a cluster node): the path, or the URL as given
        # (it may carry a password: never print it; ``printable`` is for messages).
        self.location = self.db.location
        self.path = getattr(self.db, "path", None)  # the SQLite file, None for a server
        self.printable = self.db.printable
        self.damaged_rows = 0  # records that could not be read back (see ``rows``)
        self.damaged_evaluations = 0  # the same for ``evaluations``
        try:
            with self.db.transaction():  # one process creates or migrates
                self.db.serialize()
                self.db.execute(
                    "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)"
                )
                (version,) = self.db.execute("SELECT MAX(version) FROM schema_version")[0]
                if version is None:
                    self.db.execute(self.db.ddl(_MEASUREMENTS).format(name="measurements"))
                    self.db.execute(self.db.ddl(_EVALUATIONS))
                    for statement in _JOBS:
                        self.db.execute(self.db.ddl(statement))
                    self.db.execute(
                        "INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,)
                    )
                    if self.db.dialect == "postgresql":
                        self.db.execute(f"COMMENT ON TABLE schema_version IS '{_POSTGRES_MARK}'")
                else:
                    _check_version(self.printable, version)
                    _migrate(self.db, version)
                if self.db.dialect == "sqlite":
                    self.db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        except BaseException:
            self.db.close()
            raise

    def __enter__(self) -> MeasurementStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.db.close()

    def __repr__(self) -> str:
        return f"MeasurementStore({redact(self.printable)!r})"

    def get(self, spec: ModelSpec, protocol: Protocol, environment_key: str) -> Measurement | None:
        """The stored result for this model and protocol in this environment, or None.

        ``protocol`` is resolved here (``auto`` device, default threads) as a measurement
        would resolve it.
        """
        key = protocol_key(resolve_protocol(protocol))
        rows = self.db.execute(
            "SELECT record FROM measurements WHERE model = ? AND resolution = ? AND "
            "protocol_key = ? AND environment_key = ?",
            (spec.model, spec.resolution, key, environment_key),
        )
        # A record that cannot be read back is as good as none: measuring again replaces it.
        return _read_record(rows[0][0]) if rows else None

    def put(self, measurement: Measurement) -> None:
        """Insert or replace (same key) one measurement, in its own committed transaction."""
        data = measurement.to_dict()
        data["from_store"] = False
        self.db.execute(
            "INSERT INTO measurements (model, resolution, batch_size, precision, "
            "channels_last, device, environment_key, protocol_key, measured_at, record) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (model, resolution, protocol_key, environment_key) DO UPDATE "
            "SET measured_at = excluded.measured_at, record = excluded.record",
            (
                measurement.model,
                measurement.resolution,
                measurement.batch_size,
                measurement.precision,
                int(measurement.channels_last),
                measurement.device,
                measurement.environment_key,
                protocol_key(data),
                measurement.measured_at,
                strict_dumps(data),
            ),
        )

    def rows(self, device: str | None = None) -> list[Measurement]:
        """All stored measurements in insertion order, optionally for one device (``cpu``,
        ``cuda`` for any GPU, or ``cuda:N``). Records that cannot be read back are left out and
        counted in ``damaged_rows``."""
        query = "SELECT record FROM measurements"
        params: tuple[str, ...] = ()
        if device is not None:
            query += " WHERE device = ? OR device LIKE ?"
            params = (device, f"{device}:%")
        records = self.db.execute(query + " ORDER BY id", params)
        out = [m for (record,) in records if (m := _read_record(record)) is not None]
        self.damaged_rows = len(records) - len(out)
        return out

    def devices(self) -> list[str]:
        """The devices the stored measurements were taken on (``cpu``, ``cuda:0``, ...), sorted:
        a shared store holds other machines' devices too."""
        return sorted(d for (d,) in self.db.execute("SELECT DISTINCT device FROM measurements"))

    def revision(self) -> tuple[int, str]:
        """What changes whenever a measurement lands or is replaced: (rows, newest time). Cheap,
        for a page that polls the store."""
        rows = self.db.execute("SELECT COUNT(*), MAX(measured_at) FROM measurements")
        count, newest = rows[0] if rows else (0, None)
        return int(count or 0), str(newest or "")

    def export(self, fmt: str = "csv") -> str:
        """Every row as CSV (a header line, then one line per row) or as a JSON array."""
        if fmt not in EXPORT_FORMATS:
            raise ZooError(f"export format {fmt!r} is not supported: accepted csv, json")
        records = [m.to_dict() for m in self.rows()]
        if fmt == "json":
            return strict_dumps(records, indent=2) + "\n"
        buffer = io.StringIO()
        writer = csv.DictWriter(
            buffer, fieldnames=[f.name for f in fields(Measurement)], lineterminator="\n"
        )
        writer.writeheader()
        writer.writerows(records)
        return buffer.getvalue()

    # ---- evaluations (zoo.evaluate): a model's accuracy on a labelled folder

    def put_evaluation(self, evaluation: Evaluation) -> None:
        """Insert or replace (same model, weights, runtime and data fingerprint) one complete
        evaluation, in its own committed transaction. A partial one raises ``ZooError``."""
        if not evaluation.complete:
            raise ZooError(
                f"the evaluation of {evaluation.model} was interrupted "
                f"({evaluation.images_evaluated + evaluation.images_failed} of "
                f"{evaluation.images_selected} images): a partial result is never stored"
            )
        self.db.execute(
            "INSERT INTO evaluations (model, weights, runtime, data_fingerprint, "
            "data_dir, evaluated_at, record) VALUES (?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (model, weights, runtime, data_fingerprint) DO UPDATE "
            "SET data_dir = excluded.data_dir, evaluated_at = excluded.evaluated_at, "
            "record = excluded.record",
            (
                evaluation.model,
                evaluation.weights,
                evaluation.runtime,
                evaluation.data_fingerprint,
                evaluation.data_dir,
                evaluation.evaluated_at,
                strict_dumps(evaluation.to_dict()),
            ),
        )

    def evaluations(self, model: str | None = None) -> list[Evaluation]:
        """Stored evaluations in insertion order, optionally of one model. Records that cannot
        be read back are left out and counted in ``damaged_evaluations``."""
        query = "SELECT record FROM evaluations"
        params: tuple[str, ...] = ()
        if model is not None:
            query += " WHERE model = ?"
            params = (model,)
        records = self.db.execute(query + " ORDER BY id", params)
        out: list[Evaluation] = []
        for (record,) in records:
            try:
                out.append(Evaluation.from_dict(json.loads(record)))
            except (TypeError, ValueError):  # ZooError is a ValueError
                continue
        self.damaged_evaluations = len(records) - len(out)
        return out
