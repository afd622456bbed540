"""The measurement store: results, evaluations and the job queue, in SQLite or PostgreSQL.

``MeasurementStore(location)`` opens what ``--store`` or ``EFFSCALE_STORE`` name (a file path or a
``postgresql://`` URL); one schema on both, created on first use, checked and migrated on open
(``zoo.store.schema``). Why one row per (configuration, resolution, protocol key, environment):
a measurement taken another way never replaces one. Every ``put`` is its own transaction, so a
killed sweep keeps each committed row; a location that is not an effscale store is refused
untouched. Details: docs/benchmarks.md, 'The store'; docs/reliability.md, 'Faults'.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import fields, replace
from datetime import datetime, timezone
from pathlib import Path

from zoo.errors import ZooError
from zoo.jsontext import strict_dumps
from zoo.models.spec import ModelSpec
from zoo.records.environment import resolve_protocol
from zoo.records.evaluation import Evaluation
from zoo.records.measurement import Measurement
from zoo.records.protocol import Protocol, protocol_key
from zoo.store.schema import ensure_schema, open_database
from zoo.store.url import redact

__all__ = ["MeasurementStore"]

EXPORT_FORMATS = ("csv", "json")
#: Failed images an evaluation row keeps (the CLI prints them all; the row holds the count).
STORED_FAILURES = 20


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


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
        self.unreadable_jobs: list[int] = []  # job rows the last listing could not read
        try:
            ensure_schema(self.db)
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

    # ---- evaluations (zoo.classify.evaluate): a model's accuracy on a labelled folder

    def put_evaluation(self, evaluation: Evaluation) -> None:
        """Insert or replace (same model, weights, runtime and data fingerprint) one complete
        evaluation, in its own committed transaction. A partial one raises ``ZooError``. The
        row keeps the first ``STORED_FAILURES`` failed images (their count is complete): the
        compare page reads every row on each load, and 100k unreadable files must not make
        it a 8 MB read."""
        if not evaluation.complete:
            raise ZooError(
                f"the evaluation of {evaluation.model} was interrupted "
                f"({evaluation.images_evaluated + evaluation.images_failed} of "
                f"{evaluation.images_selected} images): a partial result is never stored"
            )
        evaluation = replace(evaluation, failures=evaluation.failures[:STORED_FAILURES])
        self.db.execute(
            "INSERT INTO evaluations (model, weights, runtime, data_fingerprint, "
            "data_dir, evaluated_at, record) VALUES (?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (model, weights, runtime, data_fingerprint) DO UPDATE "
            "SET data_dir = excluded.data_dir, evaluated_at = excluded.evaluated_at, "
            "record = excluded.record",
            (
                evaluation.model,
                evaluation.weights,
                evaluation.forward_key,
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

    # ---- artefact digests: kept here, out of reach of whoever can write the cache folder

    def artifact_digest(self, host: str, path: str) -> tuple[str, int] | None:
        """(SHA-256, size) recorded for the artefact at ``path`` (relative to the cache) on
        ``host``, or None."""
        rows = self.db.execute(
            "SELECT sha256, size_bytes FROM artifact_digests WHERE host = ? AND path = ?",
            (host, path),
        )
        return (str(rows[0][0]), int(rows[0][1])) if rows else None

    def put_artifact_digest(self, host: str, path: str, sha256: str, size_bytes: int) -> None:
        """Record (or replace) the digest of an artefact that passed its check."""
        self.db.execute(
            "INSERT INTO artifact_digests (host, path, sha256, size_bytes, recorded_at) VALUES "
            "(?, ?, ?, ?, ?) ON CONFLICT (host, path) DO UPDATE SET sha256 = excluded.sha256, "
            "size_bytes = excluded.size_bytes, recorded_at = excluded.recorded_at",
            (host, path, sha256, size_bytes, _now()),
        )
