"""The measurement queue as the dashboard shows it: who asked, how far along, how long to go.

Plain Python over ``zoo.store.jobs.Job`` values (no streamlit, no torch): the queue panel
(``dashboard.measuring.queue_panel``) turns the store's jobs into these rows. Estimates come from the store
(``zoo.store.estimates.estimate_seconds``: from this store's finished jobs, scaled by MACs), so an
ETA is measured times, not a guess built into the page.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from zoo import Job

#: The group of the compare page's automatic first-run sweep (``zoo.store.jobs.submit(group=...)``).
SWEEP_GROUP = "first-run sweep"
#: The group of the sweep's background part: the other accuracy views' networks.
SWEEP_MORE_GROUP = "first-run sweep, other views"
#: ``requested_by`` of the first-run sweep: the server asked, not a person.
SWEEP_REQUESTER = "dashboard first-run sweep"
#: The prefix of a dashboard session's ``requested_by``; the rest is the session's id.
SESSION_PREFIX = "dashboard session "

#: Columns of ``queue_frame``.
QUEUE_COLUMNS: tuple[str, ...] = (
    "job",
    "what",
    "state",
    "now",
    "asked by",
    "for",
    "estimate",
)


def requester(session: str) -> str:
    """The ``requested_by`` of jobs a dashboard session submits."""
    return SESSION_PREFIX + session


def _asker(requested_by: str, session: str) -> str:
    if requested_by == requester(session):
        return "you"
    if requested_by == SWEEP_REQUESTER:
        return "first-run sweep"
    if requested_by.startswith(SESSION_PREFIX):
        return "another dashboard session"
    if requested_by == "worker":
        return "worker (re-measuring a noisy result)"
    if requested_by == "cli" or requested_by.startswith("cli "):
        return "python -m zoo measure --queue"
    return requested_by or "unknown"


def wanted_by(job: Job, session: str) -> bool:
    """Whether the viewing session asked for ``job`` and still wants it."""
    return requester(session) in job.requesters


def who(job: Job, session: str) -> str:
    """Everyone who asked for ``job`` and still wants it, as the viewing session reads it.

    >>> from types import SimpleNamespace as J
    >>> who(J(requesters=("dashboard session a", SWEEP_REQUESTER), requested_by=""), "a")
    'you, first-run sweep'
    """
    askers = job.requesters or (job.requested_by,)
    names = list(dict.fromkeys(_asker(a, session) for a in askers))
    return ", ".join(sorted(names, key=lambda n: n != "you"))


def _seconds_since(iso: str | None, now: datetime) -> float | None:
    if not iso:
        return None
    try:
        then = datetime.fromisoformat(iso)
    except ValueError:
        return None
    if then.tzinfo is None:
        then = then.replace(tzinfo=timezone.utc)
    return max(0.0, (now - then).total_seconds())


def remaining_s(job: Job, now: datetime) -> float:
    """Seconds ``job`` still needs: its estimate, less what it has run (never below 10 % of the
    estimate while it runs: an overdue job is not about to finish just because it is late)."""
    estimate = float(job.estimate_s or 30.0)
    if job.state != "running":
        return estimate
    elapsed = _seconds_since(job.started_at, now) or 0.0
    return max(estimate - elapsed, 0.1 * estimate)


def eta_s(jobs: Iterable[Job], now: datetime) -> float:
    """Seconds until every active job in ``jobs`` has run (one worker: they run one at a time)."""
    return sum(remaining_s(job, now) for job in jobs if job.active)


def duration(seconds: float | None) -> str:
    """``42 s``, ``3 min 5 s``, ``1 h 2 min``.

    >>> duration(42.4), duration(185), duration(3720), duration(None)
    ('42 s', '3 min 5 s', '1 h 2 min', '')
    """
    if seconds is None:
        return ""
    s = int(round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60} s"
    return f"{s // 3600} h {s % 3600 // 60} min"


def queue_frame(jobs: Sequence[Job], session: str, now: datetime) -> pd.DataFrame:
    """One row per job, in the order the worker takes them (running first, then by priority,
    then oldest)."""
    ordered = sorted(jobs, key=lambda j: (j.state != "running", -j.priority, j.id))
    rows = []
    for job in ordered:
        if job.state == "running":
            since = _seconds_since(job.started_at, now)
            doing = job.progress or "running"
            for_ = f"running {duration(since)}"
        else:
            doing = job.progress or job.state
            for_ = f"queued {duration(_seconds_since(job.created_at, now))}"
        rows.append(
            {
                "job": job.id,
                "what": job.label,
                "state": job.state,
                "now": doing,
                "asked by": who(job, session),
                "for": for_,
                "estimate": duration(job.estimate_s),
            }
        )
    return pd.DataFrame(rows, columns=list(QUEUE_COLUMNS))


def sweep_progress(jobs: Iterable[Job]) -> tuple[int, int, int]:
    """(ended, total, failed) over the first-run sweep's jobs."""
    sweep = [j for j in jobs if j.group_name == SWEEP_GROUP]
    ended = sum(1 for j in sweep if not j.active)
    failed = sum(1 for j in sweep if j.state == "failed")
    return ended, len(sweep), failed


__all__ = [
    "QUEUE_COLUMNS",
    "SESSION_PREFIX",
    "SWEEP_GROUP",
    "SWEEP_MORE_GROUP",
    "SWEEP_REQUESTER",
    "duration",
    "eta_s",
    "queue_frame",
    "remaining_s",
    "requester",
    "sweep_progress",
    "wanted_by",
    "who",
]
