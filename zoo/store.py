"""Measurements persisted in an embedded SQLite database.

One row per (model configuration, resolution, batch, precision, channels_last, device,
environment fingerprint), enforced by a UNIQUE constraint; re-measuring replaces the row. The
database runs in WAL mode, so readers never block the writer and a reader never sees half a
row; every ``put`` is its own transaction, so a sweep killed at any point (even SIGKILL) keeps
every row committed before the kill, and SQLite's journal rolls back the one in flight.
``busy_timeout`` makes concurrent writers wait instead of failing. ``synchronous=NORMAL`` in WAL
mode survives a crash of the process; after a power cut the last commits may be lost, never the
database.

Default location: ``$EFFSCALE_STORE`` if set, else ``$XDG_DATA_HOME/effscale/measurements.sqlite``
or ``~/.local/share/effscale/measurements.sqlite``.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sqlite3
import threading
from dataclasses import fields
from pathlib import Path

from zoo.build import ModelSpec
from zoo.environment import resolve_device
from zoo.errors import ZooError
from zoo.protocol import Measurement, Protocol

__all__ = ["SCHEMA_VERSION", "MeasurementStore", "default_store_path"]

SCHEMA_VERSION = 1
BUSY_TIMEOUT_MS = 30_000
EXPORT_FORMATS = ("csv", "json")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS measurements (
    id INTEGER PRIMARY KEY,
    model TEXT NOT NULL,
    resolution INTEGER NOT NULL,
    batch_size INTEGER NOT NULL,
    precision TEXT NOT NULL,
    channels_last INTEGER NOT NULL,
    device TEXT NOT NULL,
    environment_key TEXT NOT NULL,
    measured_at TEXT NOT NULL,
    record TEXT NOT NULL,  -- the whole Measurement as JSON
    UNIQUE (model, resolution, batch_size, precision, channels_last, device, environment_key)
);
"""


def default_store_path() -> Path:
    """``$EFFSCALE_STORE``, else the per-user data folder (XDG)."""
    override = os.environ.get("EFFSCALE_STORE")
    if override:
        return Path(override).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base).expanduser() / "effscale" / "measurements.sqlite"


class MeasurementStore:
    """The measurement database. Safe to share between threads; other processes may read and
    write the same file at the same time."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path).expanduser() if path is not None else default_store_path()
        self._lock = threading.RLock()
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
                self._conn.executescript(_SCHEMA)
                row = self._conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
                if row[0] is None:
                    self._conn.execute(
                        "INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,)
                    )
                elif row[0] > SCHEMA_VERSION:
                    raise ZooError(
                        f"measurement store {self.path} has schema version {row[0]}, newer than "
                        f"this effscale understands ({SCHEMA_VERSION}); use another --store path"
                    )
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

        ``protocol.device`` should be resolved (``cpu``/``cuda:0``); ``auto`` is resolved here.
        """
        device = protocol.device
        if device == "auto" or device == "cuda":
            device = resolve_device(device)
        with self._lock:
            row = self._conn.execute(
                "SELECT record FROM measurements WHERE model = ? AND resolution = ? AND "
                "batch_size = ? AND precision = ? AND channels_last = ? AND device = ? AND "
                "environment_key = ?",
                (
                    spec.model,
                    spec.resolution,
                    protocol.batch_size,
                    protocol.precision,
                    int(protocol.channels_last),
                    device,
                    environment_key,
                ),
            ).fetchone()
        if row is None:
            return None
        data = json.loads(row[0])
        data["from_store"] = True
        return Measurement.from_dict(data)

    def put(self, measurement: Measurement) -> None:
        """Insert or replace (same key) one measurement, in its own committed transaction."""
        data = measurement.to_dict()
        data["from_store"] = False
        try:
            with self._lock, self._conn:
                self._conn.execute(
                    "INSERT INTO measurements (model, resolution, batch_size, precision, "
                    "channels_last, device, environment_key, measured_at, record) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (model, resolution, batch_size, precision, channels_last, "
                    "device, environment_key) DO UPDATE SET "
                    "measured_at = excluded.measured_at, record = excluded.record",
                    (
                        measurement.model,
                        measurement.resolution,
                        measurement.batch_size,
                        measurement.precision,
                        int(measurement.channels_last),
                        measurement.device,
                        measurement.environment_key,
                        measurement.measured_at,
                        json.dumps(data),
                    ),
                )
        except sqlite3.Error as exc:
            raise self._unusable(exc) from None

    def rows(self, device: str | None = None) -> list[Measurement]:
        """All stored measurements in insertion order, optionally for one device (``cpu``,
        ``cuda`` for any GPU, or ``cuda:N``)."""
        query = "SELECT record FROM measurements"
        params: tuple[str, ...] = ()
        if device is not None:
            query += " WHERE device = ? OR device LIKE ?"
            params = (device, f"{device}:%")
        with self._lock:
            records = self._conn.execute(query + " ORDER BY id", params).fetchall()
        out = []
        for (record,) in records:
            data = json.loads(record)
            data["from_store"] = True
            out.append(Measurement.from_dict(data))
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
