"""The compare page's measurement queue: the server's worker, the first-run sweep, a live panel.

Why measuring never runs in a page's script: a request becomes a job in the store
(``zoo.store.jobs``) that a worker process runs, so it outlives the tab, the page and the server.
One worker per server (``EFFSCALE_DASHBOARD_WORKER=0``: none); a first visit with an empty store
queues a small sweep (``EFFSCALE_AUTO_SWEEP=0``: none); ``live`` polls the store and reruns the
page when a result lands. How often: docs/benchmarks.md, 'The job queue'; the rest:
docs/architecture.md, 'Notes by module'.
"""

from __future__ import annotations

import os
import time
import uuid
from datetime import datetime, timezone
from typing import TYPE_CHECKING

import streamlit as st

from dashboard.measuring import queue

if TYPE_CHECKING:
    from zoo import Job, MeasurementStore, ModelSpec, Protocol

KEY = "queue_"

#: What one visitor may have queued at once: jobs, and seconds of estimated work.
MAX_JOBS_ENV = "EFFSCALE_VISITOR_MAX_JOBS"
MAX_QUEUE_S_ENV = "EFFSCALE_VISITOR_MAX_QUEUE_S"
#: ``0``: the dashboard starts no worker (one runs elsewhere: ``python -m zoo worker``).
WORKER_ENV = "EFFSCALE_DASHBOARD_WORKER"
_RECHECK_S = 15.0  # how often a page makes sure a worker serves its store while jobs wait
_last_check: dict[str | None, float] = {}


@st.cache_resource(show_spinner=False)
def open_store(location: str | None) -> tuple[MeasurementStore | None, str | None]:
    """The measurement store (one per server, shared by its sessions and pages); (store,
    problem): store is None when the location cannot be used."""
    from zoo import MeasurementStore

    try:
        return MeasurementStore(location), None
    except ValueError as exc:  # ZooError for an unwritable place; say so
        return None, f"measurement store unavailable ({exc}); running without persistence"


def store_location() -> str | None:
    """Where the dashboard's store is: ``EFFSCALE_STORE``, else the zoo's default."""
    from zoo import STORE_ENV

    return os.environ.get(STORE_ENV) or None


def session_id() -> str:
    """This browser session's id (who asked, for "cancel your own jobs")."""
    return st.session_state.setdefault(KEY + "session", uuid.uuid4().hex[:12])


def worker_enabled() -> bool:
    return os.environ.get(WORKER_ENV, "1").strip() != "0"


def worker_log() -> str:
    """Where this server's worker writes (a private folder of the zoo's; removed at exit)."""
    from zoo import worker_log_path

    return str(worker_log_path())


@st.cache_resource(show_spinner=False)
def start_worker(location: str | None) -> int | None:
    """Start this server's worker for the store (once per server, not per session); its pid, or
    None where another worker already serves the store."""
    return _ensure(location)


def _ensure(location: str | None) -> int | None:
    from zoo import ensure_worker

    _last_check[location] = time.monotonic()
    try:
        return ensure_worker(location, log=True)
    except Exception:  # noqa: BLE001 - the page still shows the queue; the panel says no worker
        return None


def keep_worker(location: str | None) -> None:
    """While jobs wait: make sure a worker serves the store (it may have crashed), at most every
    ``_RECHECK_S`` seconds."""
    if not worker_enabled():
        return
    if time.monotonic() - _last_check.get(location, 0.0) >= _RECHECK_S:
        _ensure(location)


def visitor_limits() -> tuple[int, float]:
    """(jobs, seconds of estimated work) one visitor may have queued at once: the operator's
    ``EFFSCALE_VISITOR_MAX_JOBS`` and ``EFFSCALE_VISITOR_MAX_QUEUE_S``, else 20 and 30 minutes."""

    def number(name: str, default: float) -> float:
        try:
            value = float(os.environ.get(name, default))
        except ValueError:
            return default
        return value if value > 0 else default

    return int(number(MAX_JOBS_ENV, 20)), number(MAX_QUEUE_S_ENV, 600.0)


def submit(
    store: MeasurementStore,
    specs: list[ModelSpec],
    protocols: list[Protocol],
    *,
    requested_by: str,
    group: str = "",
) -> tuple[list[int], list[str]]:
    """Queue ``specs`` under each protocol; (job ids, problems). A request the memory guard or
    the protocol refuses is refused here, with its message, before any job exists; so is one
    past what a visitor may have queued (``visitor_limits``: count and estimated time). The
    first-run sweep is the server's own, not a visitor's."""
    from zoo import ACTIVE_STATES, enqueue, estimate_seconds, jobs, plan

    max_jobs, max_s = visitor_limits()
    mine = [
        j
        for j in jobs(store, states=ACTIVE_STATES, requested_by=requested_by, limit=500)
        if requested_by in j.requesters
    ]
    count, queued_s = len(mine), sum(j.estimate_s or 0.0 for j in mine)
    capped = requested_by.startswith(queue.SESSION_PREFIX)
    ids: list[int] = []
    problems: list[str] = []
    for protocol in protocols:
        for spec in specs:
            what = f"{spec.label} on {protocol.runtime}"
            try:
                plan([spec], protocol)  # the memory guard and the protocol speak first
                if capped:
                    seconds = estimate_seconds(store, protocol, spec)
                    if count + 1 > max_jobs or queued_s + seconds > max_s:
                        problems.append(
                            f"{what}: not queued: you have {count} job(s) queued, about "
                            f"{queue.duration(queued_s)} of work, and this one is estimated at "
                            f"{queue.duration(seconds)}; accepted up to {max_jobs} jobs and "
                            f"{queue.duration(max_s)} per visitor (the operator sets "
                            f"{MAX_JOBS_ENV} and {MAX_QUEUE_S_ENV})"
                        )
                        continue
                queued = enqueue(store, [spec], protocol, requested_by=requested_by, group=group)
            except Exception as exc:  # noqa: BLE001 - ZooError: an absurd request, said so
                problems.append(f"{what}: {exc}")
                continue
            ids += [job.id for job in queued]
            if capped:
                count += 1
                queued_s += queued[0].estimate_s or 0.0
    return ids, problems


def signature(store: MeasurementStore) -> tuple[object, ...]:
    """What, when it changes, means the page must redraw: a measurement landed or was replaced,
    or the set of active jobs changed."""
    from zoo import ACTIVE_STATES, jobs

    active = jobs(store, states=ACTIVE_STATES, limit=500)
    return store.revision(), tuple(sorted(j.id for j in active))


def live(store: MeasurementStore, location: str | None, seen: tuple[object, ...]) -> None:
    """The queue panel, polling the store; reruns the page when ``seen`` is out of date."""
    from zoo import ACTIVE_STATES, jobs

    active = bool(jobs(store, states=ACTIVE_STATES, limit=1))
    st.fragment(run_every=2.0 if active else 10.0)(_panel)(store, location, seen)


def _panel(store: MeasurementStore, location: str | None, seen: tuple[object, ...]) -> None:
    from zoo import ACTIVE_STATES, jobs

    if signature(store) != seen:
        st.rerun()  # a point landed or the queue changed: redraw the chart and tables
    session = session_id()
    now = datetime.now(timezone.utc)
    active = jobs(store, states=ACTIVE_STATES, limit=500)
    unreadable = list(store.unreadable_jobs)
    st.subheader("Measurement queue")
    if unreadable:
        st.caption(
            f"{len(unreadable)} queued job row(s) could not be read (written by another effscale "
            "version?); the worker fails them with the reason."
        )
    if not active:
        st.caption(
            "Nothing queued. Measurements you ask for here (or from the explorer, or with "
            "`python -m zoo measure --queue`) run in a worker process one at a time and land on "
            "the chart by themselves; you can leave the page meanwhile."
        )
    else:
        active = fresh_estimates(store, active)
        st.caption(
            "They run one at a time, highest priority first, and outlive this tab: close it and "
            "come back. Estimates come from the measured times of this store's recent jobs."
        )
        st.dataframe(queue.queue_frame(active, session, now), hide_index=True, key=KEY + "active")
        mine = [j for j in active if queue.wanted_by(j, session)]
        if mine:
            cols = st.columns(min(len(mine), 6))
            for i, job in enumerate(mine[:6]):
                if cols[i].button(f"Cancel job {job.id}", key=f"{KEY}cancel_{job.id}"):
                    _cancel(store, job.id, session)
            if len(mine) > 6 and st.button(
                f"Cancel all {len(mine)} of your jobs", key=KEY + "cancel_all"
            ):
                for job in mine:
                    _cancel(store, job.id, session)
    _ended_for(store, session)


def _cancel(store: MeasurementStore, job_id: int, session: str) -> None:
    """Withdraw this session's request: the job is cancelled only if nobody else wants it."""
    from zoo import cancel

    outcome = cancel(store, job_id, queue.requester(session))
    if outcome == "withdrawn":
        st.info(f"Job {job_id}: your request is withdrawn; others asked for it too, so it runs on.")
    elif not outcome:
        st.info(f"Job {job_id} had already ended.")


def _ended_for(store: MeasurementStore, session: str) -> None:
    """What happened to the jobs this session asked for that did not end well."""
    from zoo import jobs

    for job in jobs(store, states=("failed", "cancelled"), requested_by=queue.requester(session),
                    limit=5):  # fmt: skip
        if job.state == "failed":
            st.error(f"Job {job.id} ({job.label}) failed: {job.error}")
        elif queue.requester(session) in job.requesters:  # not withdrawn by us: by an operator
            st.warning(f"Job {job.id} ({job.label}) was cancelled by an operator.")


def progress(store: MeasurementStore, location: str | None, seen: tuple[object, ...]) -> None:
    """Above the chart: how far the queue is and how long it has to go (the first-run sweep's
    part first), polling the store and rerunning the page when ``seen`` is out of date."""
    from zoo import ACTIVE_STATES, jobs

    active = bool(jobs(store, states=ACTIVE_STATES, limit=1))
    st.fragment(run_every=2.0 if active else 10.0)(_progress)(store, location, seen)


def _progress(store: MeasurementStore, location: str | None, seen: tuple[object, ...]) -> None:
    from zoo import ACTIVE_STATES, jobs

    if signature(store) != seen:
        st.rerun()  # a point landed or the queue changed: redraw the chart and tables
    active = jobs(store, states=ACTIVE_STATES, limit=500)
    if not active:
        return
    keep_worker(location)
    now = datetime.now(timezone.utc)
    active = fresh_estimates(store, active)
    running = [j for j in active if j.state == "running"]
    sweep = [j for j in active if j.group_name == queue.SWEEP_GROUP]
    left, right = st.columns([6, 1])
    with left:
        if sweep:
            ended, total, failed = queue.sweep_progress(
                jobs(store, group=queue.SWEEP_GROUP, limit=500)
            )
            ahead = [j for j in active if j.group_name != queue.SWEEP_MORE_GROUP]
            st.progress(
                ended / total if total else 0.0,
                text=f"First visit on this machine: measuring the chart's {total} networks on "
                f"{sweep[0].protocol.runtime}, {ended} done"
                + (f" ({failed} failed)" if failed else "")
                + f", about {queue.duration(queue.eta_s(ahead, now))} to go (an estimate)",
            )
        else:
            label = running[0].label if running else "waiting for the worker"
            st.progress(
                0.0 if not running else 0.5,
                text=f"{len(active)} measurement(s) queued; now: {label}; all done in about "
                f"{queue.duration(queue.eta_s(active, now))} (an estimate). The chart updates "
                "as they land; the queue is below.",
            )
        if not running and _oldest_wait_s(active, now) > 20:
            st.warning(_no_worker_hint(location))
    with right:
        if sweep and st.button(
            "Stop the sweep",
            key=KEY + "stop_sweep",
            help="Withdraw the sweep's requests (the other views' too): jobs nobody else asked "
            "for are cancelled. Set EFFSCALE_AUTO_SWEEP=0 to never sweep.",
        ):
            from zoo import cancel

            for job in active:
                if job.group_name in (queue.SWEEP_GROUP, queue.SWEEP_MORE_GROUP):
                    cancel(store, job.id, queue.SWEEP_REQUESTER)
            st.rerun()


_estimates: dict[tuple[object, ...], dict[int, float]] = {}


def fresh_estimates(store: MeasurementStore, active: list[Job]) -> list[Job]:
    """``active`` with each job's estimate taken again from the store's history as it is now
    (the one made at submit time knew less), cached until a job ends or starts."""
    from dataclasses import replace

    from zoo import estimate_seconds

    key = (id(store), store.revision(), tuple((j.id, j.state) for j in active))
    if key not in _estimates:
        _estimates.clear()
        _estimates[key] = {j.id: estimate_seconds(store, j.protocol, j.spec) for j in active}
    found = _estimates[key]
    return [replace(j, estimate_s=found.get(j.id, j.estimate_s)) for j in active]


def _oldest_wait_s(active, now) -> float:
    return max(
        (
            (now - datetime.fromisoformat(j.created_at)).total_seconds()
            for j in active
            if j.state == "queued"
        ),
        default=0.0,
    )


def _no_worker_hint(location: str | None) -> str:
    """What to do when no job starts. The store is named by how it was given, never by its
    location: a visitor must not read a store URL (it may hold a password)."""
    from zoo import STORE_ENV

    where = f" with {STORE_ENV} set as for this dashboard" if location else ""
    if not worker_enabled():
        return (
            f"No job has started: this dashboard starts no worker ({WORKER_ENV}=0). Run "
            f"`python -m zoo worker` on this machine{where}."
        )
    return (
        "No job has started yet: the worker may be waiting for the measurement lock or a quiet "
        f"machine, or it failed to start (its log: {worker_log()}). `python -m zoo worker` "
        f"runs one by hand{where}."
    )


__all__ = [
    "WORKER_ENV",
    "open_store",
    "store_location",
    "keep_worker",
    "live",
    "progress",
    "session_id",
    "signature",
    "start_worker",
    "submit",
]
