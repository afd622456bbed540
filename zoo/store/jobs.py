"""Measurement requests as jobs in the store: they outlive the page, the browser and the server
that asked for them.

A job is one configuration and one protocol (``submit``), its state (``queued``, ``running``,
then ``done``, ``failed`` or ``cancelled``), progress, error, result, and everyone who asked for
it (``job_requests``): asking again joins the job; withdrawing cancels it only when nobody who
asked still wants it. Why the rows are read defensively: a shared store may hold jobs a newer
version wrote. Workers' side: ``zoo.store.leases``; the flow: docs/architecture.md.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Any

from zoo.errors import ZooError
from zoo.jsontext import strict_dumps
from zoo.models.spec import ModelSpec
from zoo.records.measurement import Measurement
from zoo.records.protocol import Protocol, protocol_key
from zoo.store.database import DuplicateKey
from zoo.store.estimates import estimate_seconds
from zoo.store.measurement_store import MeasurementStore

__all__ = [
    "ACTIVE_STATES",
    "BACKGROUND",
    "COLUMNS",
    "JOB_STATES",
    "Job",
    "NORMAL",
    "cancel",
    "get_job",
    "jobs",
    "read_jobs",
    "submit",
    "worker_id",
]

JOB_STATES: tuple[str, ...] = ("queued", "running", "done", "failed", "cancelled")
ACTIVE_STATES: tuple[str, ...] = ("queued", "running")
# A submit that loses the race for the unique index reads the winner's job; it can lose again
# only if that job ended in between, and again...
_SUBMIT_TRIES = 5
#: The columns of a job row, in the order ``read_jobs`` reads them.
COLUMNS = (
    "id, request_key, spec, protocol, label, state, progress, error, requested_by, group_name, "
    "target, worker, attempts, estimate_s, created_at, started_at, finished_at, heartbeat_at, "
    "result, priority"
)
#: Job priorities: a worker takes the highest first, then the oldest. What someone asked for
#: runs before the first-run sweep's background views.
NORMAL, BACKGROUND = 0, -10


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
    requested_by: str  # who asked first
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
    requesters: tuple[str, ...] = ()  # everyone who asked and still wants it
    priority: int = NORMAL  # higher runs first (``NORMAL``, ``BACKGROUND``)

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def worker_id() -> str:
    """This process as a worker: ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _parse(row: tuple[Any, ...], requesters: tuple[str, ...]) -> Job:
    """A job row as a ``Job``; ``TypeError``/``ValueError`` for one this version cannot read
    (an unknown field in its request, written by another effscale)."""
    (id_, key, spec, protocol, label, state, progress, error, requested_by, group, target,
     worker, attempts, estimate, created, started, finished, beat, result, priority) = row  # fmt: skip
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
        requesters=requesters,
        priority=int(priority),
    )


def _requesters(store: MeasurementStore, ids: Iterable[int]) -> dict[int, tuple[str, ...]]:
    """Who still wants each of ``ids``, in the order they asked."""
    ids = list(ids)
    if not ids:
        return {}
    rows = store.db.execute(
        "SELECT job_id, requested_by FROM job_requests WHERE withdrawn_at IS NULL AND job_id IN "
        f"({', '.join('?' for _ in ids)}) ORDER BY asked_at, requested_by",
        ids,
    )
    found: dict[int, list[str]] = {}
    for job_id, who in rows:
        found.setdefault(int(job_id), []).append(str(who))
    return {k: tuple(v) for k, v in found.items()}


def read_jobs(store: MeasurementStore, rows: list[tuple[Any, ...]]) -> list[Job]:
    """The readable jobs among ``rows``; the others are counted and named in
    ``store.unreadable_jobs`` (their ids), never fatal."""
    wanted = _requesters(store, (row[0] for row in rows))
    out: list[Job] = []
    unreadable: list[int] = []
    for row in rows:
        try:
            out.append(_parse(row, wanted.get(int(row[0]), ())))
        except (TypeError, ValueError, KeyError):
            unreadable.append(int(row[0]))
    store.unreadable_jobs = unreadable
    return out


def request_key(spec: ModelSpec, protocol: Protocol) -> str:
    """What makes two requests the same measurement: the configuration and every protocol
    setting (the device and threads as asked: resolved where the job runs)."""
    return f"{spec.model}@{spec.resolution}:{protocol_key(protocol)}"


def label_of(spec: ModelSpec, protocol: Protocol) -> str:
    """``efficientnet_b0 @224px, openvino, batch 1, fp32``."""
    return f"{spec.label}, {protocol.runtime}, batch {protocol.batch_size}, {protocol.precision}"


def _ask(store: MeasurementStore, job_id: int, requested_by: str) -> None:
    """Record that ``requested_by`` wants ``job_id`` (again, if it had withdrawn)."""
    store.db.execute(
        "INSERT INTO job_requests (job_id, requested_by, asked_at) VALUES (?, ?, ?) "
        "ON CONFLICT (job_id, requested_by) DO UPDATE SET withdrawn_at = NULL",
        (job_id, requested_by, now_iso()),
    )


def submit(
    store: MeasurementStore,
    spec: ModelSpec,
    protocol: Protocol,
    *,
    requested_by: str = "",
    group: str = "",
    target: str = "",
    priority: int = NORMAL,
) -> Job:
    """Queue a measurement (for ``target``: '' for this store's worker, else the node that must
    run it), or join the queued/running job that already asks for it (raising its priority to
    ``priority`` when that is higher: a background job someone now waits for moves up)."""
    key = request_key(spec, protocol)

    def once() -> int:
        existing = store.db.execute(
            "SELECT id FROM jobs WHERE request_key = ? AND target = ? AND state IN "
            "('queued', 'running')",
            (key, target),
        )
        if existing:
            job_id = int(existing[0][0])
            store.db.execute(
                "UPDATE jobs SET priority = ? WHERE id = ? AND priority < ?",
                (priority, job_id, priority),
            )
        else:
            ((job_id,),) = store.db.execute(
                "INSERT INTO jobs (request_key, spec, protocol, label, state, requested_by, "
                "group_name, target, estimate_s, created_at, priority) VALUES (?, ?, ?, ?, "
                "'queued', ?, ?, ?, ?, ?, ?) RETURNING id",
                (
                    key,
                    strict_dumps(asdict(spec)),
                    strict_dumps(asdict(protocol)),
                    label_of(spec, protocol),
                    requested_by,
                    group,
                    target,
                    estimate_seconds(store, protocol, spec),
                    now_iso(),
                    priority,
                ),
            )
        _ask(store, int(job_id), requested_by)
        return int(job_id)

    for _ in range(_SUBMIT_TRIES):
        try:
            job_id = store.db.atomic(once)
        except DuplicateKey:
            continue  # another submitter's job won the unique index: join it (read it again)
        job = get_job(store, job_id)
        if job is not None:
            return job
    raise ZooError(
        f"could not queue {label_of(spec, protocol)}: the same request was submitted and ended "
        f"{_SUBMIT_TRIES} times while we tried; submit it again"
    )


def cancel(store: MeasurementStore, job_id: int, requested_by: str | None = None) -> str:
    """Withdraw ``requested_by``'s request for a queued or running job, and cancel the job when
    nobody who asked still wants it: ``"cancelled"``, ``"withdrawn"`` (others still want it), or
    ``""`` (it had ended, or ``requested_by`` never asked). Without ``requested_by`` (an
    operator's ``python -m zoo jobs cancel``) the job is cancelled outright. A running job's
    worker sees it at its next heartbeat and stops the measurement."""

    def once() -> str:
        if requested_by is not None:
            withdrawn = store.db.execute(
                "UPDATE job_requests SET withdrawn_at = ? WHERE job_id = ? AND requested_by = ? "
                "AND withdrawn_at IS NULL RETURNING job_id",
                (now_iso(), job_id, requested_by),
            )
            if not withdrawn:
                return ""
            wanted = store.db.execute(
                "SELECT 1 FROM job_requests WHERE job_id = ? AND withdrawn_at IS NULL LIMIT 1",
                (job_id,),
            )
            if wanted:
                active = store.db.execute(
                    "SELECT 1 FROM jobs WHERE id = ? AND state IN ('queued', 'running')",
                    (job_id,),
                )
                return "withdrawn" if active else ""
        ended = store.db.execute(
            "UPDATE jobs SET state = 'cancelled', finished_at = ?, progress = '' WHERE id = ? "
            "AND state IN ('queued', 'running') RETURNING id",
            (now_iso(), job_id),
        )
        return "cancelled" if ended else ""

    return store.db.atomic(once)


def get_job(store: MeasurementStore, job_id: int) -> Job | None:
    """The job, or None when there is none or it cannot be read."""
    rows = store.db.execute(f"SELECT {COLUMNS} FROM jobs WHERE id = ?", (job_id,))
    found = read_jobs(store, rows)
    return found[0] if found else None


def jobs(
    store: MeasurementStore,
    *,
    states: tuple[str, ...] | None = None,
    group: str | None = None,
    requested_by: str | None = None,
    limit: int = 200,
) -> list[Job]:
    """Jobs, newest first (optionally in ``states``, of one ``group``, wanted by
    ``requested_by``). Rows this version cannot read are left out and named in
    ``store.unreadable_jobs``."""
    where, params = [], []
    if states:
        where.append(f"state IN ({', '.join('?' for _ in states)})")
        params += list(states)
    if group is not None:
        where.append("group_name = ?")
        params.append(group)
    if requested_by is not None:
        where.append("id IN (SELECT job_id FROM job_requests WHERE requested_by = ?)")
        params.append(requested_by)
    sql = f"SELECT {COLUMNS} FROM jobs"
    if where:
        sql += " WHERE " + " AND ".join(where)
    rows = store.db.execute(sql + " ORDER BY id DESC LIMIT ?", (*params, limit))
    return read_jobs(store, rows)
