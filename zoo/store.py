"""Measurements persisted in an embedded SQLite database.

One row per (model configuration, resolution, protocol, environment fingerprint), enforced by a
UNIQUE constraint (``zoo.protocol.protocol_key`` covers every protocol setting: device, batch,
precision, memory format, threads, warm-up and the iteration and time bounds); re-measuring
with the same protocol replaces the row, another protocol gets a row of its own. The
database runs in WAL mode, so readers never block the writer and a reader never sees half a
row; every ``put`` is its own transaction, so a sweep killed at any point (even SIGKILL) keeps
every row committed before the kill, and SQLite's journal rolls back the one in flight.
``busy_timeout`` makes concurrent writers wait instead of failing. ``synchronous=NORMAL`` in WAL
mode survives a crash of the process; after a power cut the last commits may be lost, never the
database.

Evaluations (``zoo.evaluation.Evaluation``: a model's accuracy on a labelled folder) live in a
table of their own, one row per (model, weights, runtime, data fingerprint); evaluating again
replaces the row. Only complete evaluations are stored: an interrupted one is refused.

Default location: ``zoo.paths.default_store_path()`` (``$EFFSCALE_STORE``, else the user's data
folder). A file that is not an effscale store is refused before anything is written to it.
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import threading
from dataclasses import fields
from pathlib import Path

from zoo.build import ModelSpec
from zoo.environment import resolve_protocol
from zoo.errors import ZooError
from zoo.evaluation import Evaluation
from zoo.paths import default_store_path
from zoo.protocol import Measurement, Protocol, protocol_key

__all__ = ["SCHEMA_VERSION", "MeasurementStore"]

SCHEMA_VERSION = 3
BUSY_TIMEOUT_MS = 30_000
EXPORT_FORMATS = ("csv", "json")

# Version 2: one row per (model, resolution, protocol, environment). Version 1 keyed rows on
# batch, precision, channels_last and device only, so a quick 1-iteration run replaced a proper
# measurement of the same model; ``_migrate`` rebuilds a version-1 table with the new key.
_MEASUREMENTS = """
CREATE TABLE IF NOT EXISTS {name} (
    id INTEGER PRIMARY KEY,
    model TEXT NOT NULL,
    resolution INTEGER NOT NULL,
    batch_size INTEGER NOT NULL,
    precision TEXT NOT NULL,
    channels_last INTEGER NOT NULL,
    device TEXT NOT NULL,
    environment_key TEXT NOT NULL,
    protocol_key TEXT NOT NULL,
    measured_at TEXT NOT NULL,
    record TEXT NOT NULL,  -- the whole Measurement as JSON
    UNIQUE (model, resolution, protocol_key, environment_key)
);
"""

# Version 3 adds the evaluations table (``put_evaluation``); measurements are unchanged.
_EVALUATIONS = """
CREATE TABLE IF NOT EXISTS evaluations (
    id INTEGER PRIMARY KEY,
    model TEXT NOT NULL,
    weights TEXT NOT NULL,
    runtime TEXT NOT NULL,
    data_fingerprint TEXT NOT NULL,
    data_dir TEXT NOT NULL,
    evaluated_at TEXT NOT NULL,
    record TEXT NOT NULL,  -- the whole Evaluation as JSON
    UNIQUE (model, weights, runtime, data_fingerprint)
);
"""

#: ``PRAGMA application_id`` of our stores ("EFFS"): how a file says it is one.
APPLICATION_ID = int.from_bytes(b"EFFS", "big")
# The tables of a version-1 store, made before stores carried our application_id.
_V1_COLUMNS = {
    "schema_version": {"version"},
    "measurements": {
        "id", "model", "resolution", "batch_size", "precision", "channels_last", "device",
        "environment_key", "measured_at", "record",
    },
}  # fmt: skip


def _check_version(path: Path, version: object) -> None:
    if isinstance(version, bool) or not isinstance(version, int):
        raise ZooError(
            f"{path} is not a usable effscale measurement store: its schema version is "
            f"{version!r}, not a whole number; accepted: a store made by effscale, or a new path"
        )
    if version > SCHEMA_VERSION:
        raise ZooError(
            f"measurement store {path} has schema version {version}, newer than this effscale "
            f"understands ({SCHEMA_VERSION}); use another --store path"
        )


def _migrate(conn: sqlite3.Connection, version: int) -> None:
    """Bring a store of an older schema version up to ``SCHEMA_VERSION``, inside the caller's
    transaction (a crash leaves the old version intact)."""
    if version < 2:
        conn.execute(_MEASUREMENTS.format(name="measurements_v2"))
        for row in conn.execute("SELECT * FROM measurements ORDER BY id").fetchall():
            (id_, model, resolution, batch, precision, channels_last, device, env, when, text) = row
            try:
                key = protocol_key(json.loads(text))
            except (TypeError, ValueError, AttributeError):
                key = f"damaged-{id_}"  # kept, and counted as damaged when read
            conn.execute(
                "INSERT OR REPLACE INTO measurements_v2 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (id_, model, resolution, batch, precision, channels_last, device, env, key,
                 when, text),
            )  # fmt: skip
        conn.execute("DROP TABLE measurements")
        conn.execute("ALTER TABLE measurements_v2 RENAME TO measurements")
    if version < 3:
        conn.execute(_EVALUATIONS)
    conn.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION,))


def _recognise(path: Path) -> None:
    """Refuse, without writing a byte, a file that is not an effscale store.

    An empty file or an empty SQLite database becomes a new store; a file with our
    ``application_id``, or with exactly the tables an earlier effscale made, is ours.
    """
    if path.is_dir():
        raise ZooError(
            f"cannot use the measurement store at {path}: it is a directory; accepted: a "
            "writable file path (set --store PATH or EFFSCALE_STORE)"
        )
    if path.stat().st_size == 0:
        return
    foreign = (
        f"{path} is not an effscale measurement store; it was left unchanged. Accepted: a new "
        "path, or a store made by effscale (set --store PATH or EFFSCALE_STORE)"
    )
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise ZooError(f"cannot read the measurement store at {path}: {exc}") from None
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
            versions = conn.execute("SELECT version FROM schema_version").fetchall()
            for (version,) in versions:
                _check_version(path, version)
    except sqlite3.OperationalError as exc:  # cannot be read here (permissions, a read-only disk)
        raise ZooError(
            f"cannot use the measurement store at {path}: {exc}; accepted: a writable file "
            "path (set --store PATH or EFFSCALE_STORE)"
        ) from None
    except sqlite3.DatabaseError as exc:  # not a database at all, or a damaged one
        raise ZooError(f"{foreign} ({exc})") from None
    finally:
        conn.close()


def _read_record(text: object) -> Measurement | None:
    """A stored record as a ``Measurement``; None for one that is damaged or incomplete."""
    try:
        data = json.loads(text)  # type: ignore[arg-type]
        data["from_store"] = True
        return Measurement.from_dict(data)
    except (TypeError, ValueError, KeyError):
        return None


class MeasurementStore:
    """The measurement database. Safe to share between threads; other processes may read and
    write the same file at the same time."""

    def __init__(self, path: str | Path | None = None, *, create: bool = True) -> None:
        """Open (``create``: or make) the store at ``path``.

        An existing file is recognised before anything is written to it: it must be an
        effscale store (our ``application_id``, or the tables an earlier effscale made). Any
        other file, SQLite or not, is refused with a ``ZooError`` and left byte for byte as it
        was. With ``create=False`` a missing store is an error too (nothing is made).
        """
        self.path = Path(path).expanduser() if path is not None else default_store_path()
        self._lock = threading.RLock()
        self.damaged_rows = 0  # records that could not be read back (see ``rows``)
        self.damaged_evaluations = 0  # the same for ``evaluations``
        exists = self.path.exists()
        if not exists and not create:
            raise ZooError(
                f"cannot use the measurement store at {self.path}: there is none; accepted: the "
                "path of an existing store (set --store PATH or EFFSCALE_STORE)"
            )
        if exists:
            _recognise(self.path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False
            )
        except (OSError, sqlite3.Error) as exc:
            raise self._unusable(exc) from None
        try:
            self._conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            mode = self._conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise sqlite3.OperationalError(f"cannot switch to WAL mode (got {mode})")
            self._conn.execute("PRAGMA synchronous = NORMAL")
            with self._conn:
                self._conn.execute("BEGIN IMMEDIATE")  # one process creates or migrates
                self._conn.execute(
                    "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)"
                )
                row = self._conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
                if row[0] is None:
                    self._conn.execute(_MEASUREMENTS.format(name="measurements"))
                    self._conn.execute(_EVALUATIONS)
                    self._conn.execute(
                        "INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,)
                    )
                else:
                    _check_version(self.path, row[0])
                    _migrate(self._conn, row[0])
                self._conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        except sqlite3.Error as exc:
            self._conn.close()
            raise self._unusable(exc) from None
        except ZooError:
            self._conn.close()
            raise

    def _unusable(self, exc: BaseException) -> ZooError:
        return ZooError(
            f"cannot use the measurement store at {self.path}: {exc}; accepted: a writable "
            "file path (set --store PATH or EFFSCALE_STORE)"
        )

    def __enter__(self) -> MeasurementStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def get(self, spec: ModelSpec, protocol: Protocol, environment_key: str) -> Measurement | None:
        """The stored result for this model and protocol in this environment, or None.

        ``protocol`` is resolved here (``auto`` device, default threads) as a measurement
        would resolve it.
        """
        key = protocol_key(resolve_protocol(protocol))
        with self._lock:
            row = self._conn.execute(
                "SELECT record FROM measurements WHERE model = ? AND resolution = ? AND "
                "protocol_key = ? AND environment_key = ?",
                (spec.model, spec.resolution, key, environment_key),
            ).fetchone()
        # A record that cannot be read back is as good as none: measuring again replaces it.
        return None if row is None else _read_record(row[0])

    def put(self, measurement: Measurement) -> None:
        """Insert or replace (same key) one measurement, in its own committed transaction."""
        data = measurement.to_dict()
        data["from_store"] = False
        try:
            with self._lock, self._conn:
                self._conn.execute(
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
                        json.dumps(data),
                    ),
                )
        except sqlite3.Error as exc:
            raise self._unusable(exc) from None

    def rows(self, device: str | None = None) -> list[Measurement]:
        """All stored measurements in insertion order, optionally for one device (``cpu``,
        ``cuda`` for any GPU, or ``cuda:N``). Records that cannot be read back are left out and
        counted in ``damaged_rows``."""
        query = "SELECT record FROM measurements"
        params: tuple[str, ...] = ()
        if device is not None:
            query += " WHERE device = ? OR device LIKE ?"
            params = (device, f"{device}:%")
        with self._lock:
            records = self._conn.execute(query + " ORDER BY id", params).fetchall()
        out = [m for (record,) in records if (m := _read_record(record)) is not None]
        self.damaged_rows = len(records) - len(out)
        return out

    def export(self, fmt: str = "csv") -> str:
        """Every row as CSV (a header line, then one line per row) or as a JSON array."""
        if fmt not in EXPORT_FORMATS:
            raise ZooError(f"export format {fmt!r} is not supported: accepted csv, json")
        records = [m.to_dict() for m in self.rows()]
        if fmt == "json":
            return json.dumps(records, indent=2) + "\n"
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
        try:
            with self._lock, self._conn:
                self._conn.execute(
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
                        json.dumps(evaluation.to_dict(), allow_nan=False),
                    ),
                )
        except sqlite3.Error as exc:
            raise self._unusable(exc) from None

    def evaluations(self, model: str | None = None) -> list[Evaluation]:
        """Stored evaluations in insertion order, optionally of one model. Records that cannot
        be read back are left out and counted in ``damaged_evaluations``."""
        query = "SELECT record FROM evaluations"
        params: tuple[str, ...] = ()
        if model is not None:
            query += " WHERE model = ?"
            params = (model,)
        with self._lock:
            records = self._conn.execute(query + " ORDER BY id", params).fetchall()
        out: list[Evaluation] = []
        for (record,) in records:
            try:
                out.append(Evaluation.from_dict(json.loads(record)))
            except (TypeError, ValueError):  # ZooError is a ValueError
                continue
        self.damaged_evaluations = len(records) - len(out)
        return out
