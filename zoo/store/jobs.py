"""Measurement requests as jobs in the store: they outlive the page, the browser and the server
that asked for them.

A job is one configuration and one protocol (``submit``), with its state (``queued``,
``running``, then ``done``, ``failed`` or ``cancelled``), progress, requester, error and result.
Why a lease: a worker takes the oldest job atomically (``claim``) and renews its lease
(``heartbeat``), so a job left ``running`` by a dead worker is taken again once the lease lapses.
The flow: docs/architecture.md, 'How a measurement flows'; leases, targets: 'Notes by module'.
"""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Any

from zoo.errors import ZooError
from zoo.jsontext import strict_dumps
from zoo.models.spec import ModelSpec
from zoo.records.measurement import Measurement
from zoo.records.protocol import Protocol, protocol_key
from zoo.records.runtimes import get_runtime
from zoo.store.database import DuplicateKey
from zoo.store.measurement_store import MeasurementStore

__all__ = [
    "ACTIVE_STATES",
    "JOB_STATES",
    "LEASE_S",
    "Job",
    "cancel",
    "claim",
    "claimable",
    "estimate_seconds",
    "fail_jobs",
    "finish",
    "get_job",
    "heartbeat",
    "jobs",
    "requeue",
    "submit",
    "worker_id",
]

JOB_STATES: tuple[str, ...] = ("queued", "running", "done", "failed", "cancelled")
ACTIVE_STATES: tuple[str, ...] = ("queued", "running")
#: Seconds without a heartbeat after which a running job is considered abandoned and taken
#: again (a worker beats every ``LEASE_S / 5`` seconds). ``EFFSCALE_JOB_LEASE_S`` changes it.
LEASE_S = float(os.environ.get("EFFSCALE_JOB_LEASE_S", "30"))
#: How often a job may be taken again after its worker died before it is failed for good.
MAX_ATTEMPTS = 3
# A submit that loses the race for the unique index reads the winner's job; it can lose again
# only if that job ended in between, and again...
_SUBMIT_TRIES = 5
_COLUMNS = (
    "id, request_key, spec, protocol, label, state, progress, error, requested_by, group_name, "
    "target, worker, attempts, estimate_s, created_at, started_at, finished_at, heartbeat_at, "
    "result"
)


@dataclass(frozen=True)
class Job:
    """One measurement request, as the store holds it."""

    id: int
    request_key: str
    spec: ModelSpec
    protocol: Protocol
    label: str
    state: str
    progress: str
    error: str
    requested_by: str
    group_name: str
    target: str
    worker: str
    attempts: int
    estimate_s: float | None
    created_at: str
    started_at: str | None
    finished_at: str | None
    heartbeat_at: float | None
    result: Measurement | None

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def worker_id() -> str:
    """This process as a worker: ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _job(row: tuple[Any, ...]) -> Job:
    (id_, key, spec, protocol, label, state, progress, error, requested_by, group, target,
     worker, attempts, estimate, created, started, finished, beat, result) = row  # fmt: skip
    measurement = None
    if result:
        try:
            measurement = Measurement.from_dict(json.loads(result))
        except (TypeError, ValueError):
            measurement = None
    return Job(
        id=int(id_),
        request_key=key,
        spec=ModelSpec(**json.loads(spec)),
        protocol=Protocol(**json.loads(protocol)),
        label=label,
        state=state,
        progress=progress,
        error=error,
        requested_by=requested_by,
        group_name=group,
        target=target,
        worker=worker,
        attempts=int(attempts),
        estimate_s=estimate,
        created_at=created,
        started_at=started,
        finished_at=finished,
        heartbeat_at=beat,
        result=measurement,
    )


def request_key(spec: ModelSpec, protocol: Protocol) -> str:
    """What makes two requests the same measurement: the configuration and every protocol
    setting (the device and threads as asked: resolved where the job runs)."""
    return f"{spec.model}@{spec.resolution}:{protocol_key(protocol)}"


def label_of(spec: ModelSpec, protocol: Protocol) -> str:
    """``efficientnet_b0 @224px, openvino, batch 1, fp32``."""
    return f"{spec.label}, {protocol.runtime}, batch {protocol.batch_size}, {protocol.precision}"


def estimate_seconds(store: MeasurementStore, protocol: Protocol) -> float:
    """How long a job will take: the median of the last finished jobs on the same runtime, or
    a default per runtime."""
    rows = store.db.execute(
        "SELECT started_at, finished_at FROM jobs WHERE state = 'done' AND protocol LIKE ? "
        "AND started_at IS NOT NULL AND finished_at IS NOT NULL ORDER BY id DESC LIMIT 20",
        (f'%"runtime": "{protocol.runtime}"%',),
    )
    spans = sorted(
        (datetime.fromisoformat(f) - datetime.fromisoformat(s)).total_seconds() for s, f in rows
    )
    if spans:
        return max(1.0, spans[len(spans) // 2])
    return get_runtime(protocol.runtime).first_estimate_s


def submit(
    store: MeasurementStore,
    spec: ModelSpec,
    protocol: Protocol,
    *,
    requested_by: str = "",
    group: str = "",
    target: str = "",
) -> Job:
    """Queue a measurement (for ``target``: '' for this store's worker, else the node that must
    run it), or join the queued/running job that already asks for it."""
    key = request_key(spec, protocol)
    for _ in range(_SUBMIT_TRIES):
        try:
            with store.db.transaction():
                existing = store.db.execute(
                    f"SELECT {_COLUMNS} FROM jobs WHERE request_key = ? AND target = ? AND state "
                    "IN ('queued', 'running')",
                    (key, target),
                )
                if existing:
                    return _job(existing[0])
                rows = store.db.execute(
                    "INSERT INTO jobs (request_key, spec, protocol, label, state, requested_by, "
                    "group_name, target, estimate_s, created_at) VALUES (?, ?, ?, ?, 'queued', "
                    f"?, ?, ?, ?, ?) RETURNING {_COLUMNS}",
                    (
                        key,
                        strict_dumps(asdict(spec)),
                        strict_dumps(asdict(protocol)),
                        label_of(spec, protocol),
                        requested_by,
                        group,
                        target,
                        estimate_seconds(store, protocol),
                        _now(),
                    ),
                )
            return _job(rows[0])
        except DuplicateKey:
            continue  # another submitter's job won the unique index: join it (read it again)
    raise ZooError(
        f"could not queue {label_of(spec, protocol)}: the same request was submitted and ended "
        f"{_SUBMIT_TRIES} times while we tried; submit it again"
    )


def claimable(store: MeasurementStore, *, target: str = "", lease_s: float = LEASE_S) -> bool:
    """Whether ``claim`` would find a job: a cheap read (no write lock), for a worker to poll."""
    rows = store.db.execute(
        "SELECT 1 FROM jobs WHERE target IN ('', ?) AND (state = 'queued' OR "
        "(state = 'running' AND heartbeat_at < ?)) LIMIT 1",
        (target, time.time() - lease_s),
    )
    return bool(rows)


def claim(
    store: MeasurementStore,
    worker: str,
    *,
    target: str = "",
    lease_s: float = LEASE_S,
    exclusive: bool = False,
) -> Job | None:
    """Take the oldest queued job for ``target`` ('' takes jobs for any worker of this store),
    or one whose worker stopped beating for ``lease_s``: it is now ours (``running``). Atomic:
    two workers never take the same job. ``exclusive``: only jobs for ``target``, never
    untargeted ones (a cluster node takes only what must run on it)."""
    now = time.time()
    with store.db.transaction():
        # An abandoned job that has been taken too often is failed, not taken again.
        store.db.execute(
            "UPDATE jobs SET state = 'failed', finished_at = ?, error = ? WHERE state = "
            "'running' AND heartbeat_at < ? AND attempts >= ?",
            (
                _now(),
                f"its worker stopped {MAX_ATTEMPTS} times while measuring it (a crash, or the "
                "machine killed it: out of memory?)",
                now - lease_s,
                MAX_ATTEMPTS,
            ),
        )
        targets = "target = ?" if exclusive else "target IN ('', ?)"
        rows = store.db.execute(
            f"SELECT id FROM jobs WHERE {targets} AND (state = 'queued' OR (state = 'running' "
            "AND heartbeat_at < ?)) ORDER BY id LIMIT 1" + store.db.skip_locked,
            (target, now - lease_s),
        )
        if not rows:
            return None
        taken = store.db.execute(
            "UPDATE jobs SET state = 'running', worker = ?, heartbeat_at = ?, started_at = ?, "
            "attempts = attempts + 1, progress = 'starting', error = '' WHERE id = ? "
            f"RETURNING {_COLUMNS}",
            (worker, now, _now(), rows[0][0]),
        )
    return _job(taken[0])


def heartbeat(
    store: MeasurementStore, job_id: int, worker: str, progress: str | None = None
) -> bool:
    """Renew our lease on a running job (and say what it is doing). False when the job is no
    longer ours to run: cancelled, or taken by another worker after our lease lapsed."""
    params: tuple[Any, ...]
    if progress is None:
        sql = "UPDATE jobs SET heartbeat_at = ? WHERE id = ? AND worker = ? AND state = 'running'"
        params = (time.time(), job_id, worker)
    else:
        sql = (
            "UPDATE jobs SET heartbeat_at = ?, progress = ? WHERE id = ? AND worker = ? AND "
            "state = 'running'"
        )
        params = (time.time(), progress, job_id, worker)
    return bool(store.db.execute(sql + " RETURNING id", params))


def finish(
    store: MeasurementStore,
    job_id: int,
    worker: str,
    state: str,
    *,
    error: str = "",
    result: Measurement | None = None,
) -> bool:
    """End our running job as ``done``, ``failed`` or ``cancelled``. False when it was not ours
    any more (then another worker owns its end)."""
    if state not in ("done", "failed", "cancelled"):
        raise ZooError(f"a job ends done, failed or cancelled, not {state!r}")
    rows = store.db.execute(
        "UPDATE jobs SET state = ?, error = ?, result = ?, finished_at = ?, progress = '' "
        "WHERE id = ? AND worker = ? AND state = 'running' RETURNING id",
        (
            state,
            error,
            strict_dumps(result.to_dict()) if result is not None else None,
            _now(),
            job_id,
            worker,
        ),
    )
    return bool(rows)


def fail_jobs(store: MeasurementStore, job_ids: list[int], error: str) -> int:
    """End those of ``job_ids`` that are still queued or running as ``failed`` with ``error``,
    whoever held them (their worker is known to be gone: a cluster node that died). How many."""
    if not job_ids:
        return 0
    rows = store.db.execute(
        "UPDATE jobs SET state = 'failed', error = ?, finished_at = ?, progress = '' WHERE id IN "
        f"({', '.join('?' for _ in job_ids)}) AND state IN ('queued', 'running') RETURNING id",
        (error, _now(), *job_ids),
    )
    return len(rows)


def requeue(store: MeasurementStore, job_id: int, worker: str) -> None:
    """Give our running job back to the queue (a worker stopping cleanly mid-job)."""
    store.db.execute(
        "UPDATE jobs SET state = 'queued', worker = '', progress = '', heartbeat_at = NULL, "
        "attempts = attempts - 1 WHERE id = ? AND worker = ? AND state = 'running'",
        (job_id, worker),
    )


def cancel(store: MeasurementStore, job_id: int, requested_by: str | None = None) -> bool:
    """Cancel a queued or running job (only one ``requested_by`` asked for, when given). A
    running job's worker sees it at its next heartbeat and stops the measurement."""
    sql = "UPDATE jobs SET state = 'cancelled', finished_at = ?, progress = '' WHERE id = ? AND "
    sql += "state IN ('queued', 'running')"
    params: tuple[Any, ...] = (_now(), job_id)
    if requested_by is not None:
        sql += " AND requested_by = ?"
        params += (requested_by,)
    return bool(store.db.execute(sql + " RETURNING id", params))


def get_job(store: MeasurementStore, job_id: int) -> Job | None:
    rows = store.db.execute(f"SELECT {_COLUMNS} FROM jobs WHERE id = ?", (job_id,))
    return _job(rows[0]) if rows else None


def jobs(
    store: MeasurementStore,
    *,
    states: tuple[str, ...] | None = None,
    group: str | None = None,
    limit: int = 200,
) -> list[Job]:
    """Jobs, newest first (optionally in ``states``, of one ``group``)."""
    where, params = [], []
    if states:
        where.append(f"state IN ({', '.join('?' for _ in states)})")
        params += list(states)
    if group is not None:
        where.append("group_name = ?")
        params.append(group)
    sql = f"SELECT {_COLUMNS} FROM jobs"
    if where:
        sql += " WHERE " + " AND ".join(where)
    rows = store.db.execute(sql + " ORDER BY id DESC LIMIT ?", (*params, limit))
    return [_job(row) for row in rows]
