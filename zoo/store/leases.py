"""The worker's side of the job queue: take a job (``claim``), keep the lease on it
(``heartbeat``), and end it (``finish``, ``requeue``, ``fail_jobs``).

Why a lease: a worker takes the oldest job atomically and renews its lease every few seconds,
so a job left ``running`` by a dead worker is taken again once the lease lapses (at most
``MAX_ATTEMPTS`` times). A row this version cannot read is failed with the reason, never taken.
Leases and targets: docs/architecture.md, 'Notes by module'.
"""

from __future__ import annotations

import os
import time
from typing import Any

from zoo.errors import ZooError
from zoo.jsontext import strict_dumps
from zoo.records.measurement import Measurement
from zoo.store.jobs import COLUMNS, Job, now_iso, read_jobs
from zoo.store.measurement_store import MeasurementStore

__all__ = [
    "LEASE_S",
    "MAX_ATTEMPTS",
    "claim",
    "claimable",
    "fail_jobs",
    "finish",
    "heartbeat",
    "lapsed",
    "requeue",
]

#: Seconds without a heartbeat after which a running job is considered abandoned and taken
#: again (a worker beats every ``LEASE_S / 5`` seconds). ``EFFSCALE_JOB_LEASE_S`` changes it.
LEASE_S = float(os.environ.get("EFFSCALE_JOB_LEASE_S", "30"))
#: How often a job may be taken again after its worker died before it is failed for good.
MAX_ATTEMPTS = 3
# Candidates looked at in one claim: unreadable rows ahead of a good one are failed on the way.
_CANDIDATES = 20


def lapsed(job: Job, lease_s: float = LEASE_S, now: float | None = None) -> bool:
    """Whether ``job`` runs under a lease its worker stopped renewing (the worker died)."""
    now = time.time() if now is None else now
    return job.state == "running" and (job.heartbeat_at or 0.0) < now - lease_s


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
    """Take the queued job of the highest priority, then the oldest, for ``target`` ('' takes jobs for any worker of this store),
    or one whose worker stopped beating for ``lease_s``: it is now ours (``running``). Atomic:
    two workers never take the same job. ``exclusive``: only jobs for ``target``, never
    untargeted ones (a cluster node takes only what must run on it)."""
    now = time.time()

    def once() -> Job | None:
        # An abandoned job that has been taken too often is failed, not taken again.
        store.db.execute(
            "UPDATE jobs SET state = 'failed', finished_at = ?, error = ? WHERE state = "
            "'running' AND heartbeat_at < ? AND attempts >= ?",
            (
                now_iso(),
                f"its worker stopped {MAX_ATTEMPTS} times while measuring it (a crash, or the "
                "machine killed it: out of memory?)",
                now - lease_s,
                MAX_ATTEMPTS,
            ),
        )
        targets = "target = ?" if exclusive else "target IN ('', ?)"
        candidates = store.db.execute(
            f"SELECT id FROM jobs WHERE {targets} AND (state = 'queued' OR (state = 'running' "
            f"AND heartbeat_at < ?)) ORDER BY priority DESC, id LIMIT {_CANDIDATES}"
            + store.db.skip_locked,
            (target, now - lease_s),
        )
        for (job_id,) in candidates:
            taken = store.db.execute(
                "UPDATE jobs SET state = 'running', worker = ?, heartbeat_at = ?, started_at = "
                "?, attempts = attempts + 1, progress = 'starting', error = '' WHERE id = ? "
                f"RETURNING {COLUMNS}",
                (worker, now, now_iso(), job_id),
            )
            readable = read_jobs(store, taken)
            if readable:
                return readable[0]
            store.db.execute(
                "UPDATE jobs SET state = 'failed', finished_at = ?, progress = '', error = ? "
                "WHERE id = ?",
                (
                    now_iso(),
                    "this effscale cannot read the job's request (another version wrote it, or "
                    "it is damaged): failed, not measured; accepted: a job written by this "
                    "version",
                    job_id,
                ),
            )
        return None

    return store.db.atomic(once)


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
            now_iso(),
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
        (error, now_iso(), *job_ids),
    )
    return len(rows)


def requeue(store: MeasurementStore, job_id: int, worker: str) -> None:
    """Give our running job back to the queue (a worker stopping cleanly mid-job)."""
    store.db.execute(
        "UPDATE jobs SET state = 'queued', worker = '', progress = '', heartbeat_at = NULL, "
        "attempts = attempts - 1 WHERE id = ? AND worker = ? AND state = 'running'",
        (job_id, worker),
    )
