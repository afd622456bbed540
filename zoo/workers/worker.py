"""The job worker: takes measurement jobs from the store one at a time and runs them.

``python -m zoo worker`` runs one; the dashboard starts one per server (``ensure_worker``); one
worker serves a store at a time. Why it renews the running job's lease from a thread of its own:
a measurement can outlast the lease, and a job whose lease lapses is taken by the next worker.
Measurements go through ``zoo.measure.orchestrate``; when idle on a quiet machine it measures
noisy results again. The flow: docs/architecture.md, 'How a measurement flows, from a click to
the timing loop'; its cost: docs/benchmarks.md, 'The job queue'.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from zoo.errors import ZooError
from zoo.files import create_new, private_dir
from zoo.measure.orchestrate import measure, plan
from zoo.measure.quiet import MAX_OTHERS_CORES, others_cores_now
from zoo.models.spec import ModelSpec
from zoo.paths import STORE_ENV, log_dir, project_root
from zoo.records.measurement import MeasurementError
from zoo.records.protocol import Protocol
from zoo.store.jobs import NORMAL, Job, get_job, jobs, submit, worker_id
from zoo.store.leases import LEASE_S, claim, claimable, finish, heartbeat, lapsed, requeue
from zoo.store.measurement_store import MeasurementStore

__all__ = [
    "enqueue",
    "ensure_worker",
    "remeasure_noisy",
    "run_job",
    "serve",
    "stalled",
    "wait_for",
    "worker_log_path",
]

#: Noisy results are measured again at most this many times (by the worker, when idle).
NOISY_RETRIES = 2
# How often an idle worker looks for a job (``claimable``: a read of an index, tens of
# microseconds on SQLite; a job then starts within this of being queued), and for noisy
# results to measure again (a 0.2 s load probe first).
_POLL_S = 0.02
_NOISY_CHECK_S = 5.0
# How often a serving worker checks that it still holds the store's worker lock.
_LOCK_CHECK_S = 1.0
#: Seconds a worker keeps trying a store that stopped answering (a restarting server) before it
#: gives up. ``EFFSCALE_STORE_DOWN_S`` changes it.
STORE_DOWN_S = float(os.environ.get("EFFSCALE_STORE_DOWN_S", "120"))


def run_job(store: MeasurementStore, job: Job, worker: str, *, lease_s: float = LEASE_S) -> str:
    """Measure ``job`` (ours, ``running``), beating its lease; return how it ended."""
    stop_beating = threading.Event()
    lost = threading.Event()
    status = {"progress": "measuring"}

    def beat() -> None:
        failing_since: float | None = None
        while not stop_beating.wait(lease_s / 5):
            try:
                ours = heartbeat(store, job.id, worker, status["progress"])
                failing_since = None
            except ZooError:  # the store did not answer: try again, until the lease is gone
                failing_since = failing_since or time.monotonic()
                ours = time.monotonic() - failing_since < lease_s
            if not ours:
                lost.set()
                # A real signal, so that a main thread blocked waiting for the measurement
                # process wakes up; the measurement process is then killed. (Run from another
                # thread, the job ends when its measurement does.)
                if main is not None:
                    signal.pthread_kill(main, signal.SIGINT)
                return

    def on_wait() -> None:
        status["progress"] = "waiting for another measurement to finish"

    def on_busy(cores: float, waited_s: float) -> None:
        status["progress"] = (
            f"waiting for a quiet machine (others use {cores:.2f} cores; {waited_s:.0f} s)"
        )

    on_main = threading.current_thread() is threading.main_thread()
    main = threading.main_thread().ident if on_main else None
    heartbeat(store, job.id, worker, "measuring")
    beater = threading.Thread(target=beat, name=f"job-{job.id}-lease", daemon=True)
    beater.start()
    try:
        result = measure(
            job.spec,
            job.protocol,
            store=store,
            on_wait=on_wait,
            on_busy=on_busy,
        )
    except KeyboardInterrupt:
        stop_beating.set()
        if lost.is_set():
            return "cancelled"  # the store already says so (or another worker owns it)
        requeue(store, job.id, worker)  # a person stopped the worker: the job waits for the next
        raise
    except (ZooError, MeasurementError) as exc:
        stop_beating.set()
        finish(store, job.id, worker, "failed", error=str(exc))
        return "failed"
    finally:
        stop_beating.set()
        beater.join()
    if lost.is_set():
        return "cancelled"
    finish(store, job.id, worker, "done", result=result)
    return "done"


def remeasure_noisy(store: MeasurementStore) -> int:
    """Queue a measurement of every noisy stored result measured fewer than ``NOISY_RETRIES``
    times again; how many were queued."""
    queued = 0
    done = jobs(store, states=("done",), limit=1000)
    attempts: dict[str, int] = {}
    for job in done:
        if job.group_name == "remeasure-noisy":
            attempts[job.request_key] = attempts.get(job.request_key, 0) + 1
    latest: dict[str, Job] = {}
    for job in done:  # newest first: the latest result per request
        latest.setdefault(job.request_key, job)
    for key, job in latest.items():
        if job.result is not None and job.result.noisy and attempts.get(key, 0) < NOISY_RETRIES:
            submit(store, job.spec, job.protocol, requested_by="worker", group="remeasure-noisy")
            queued += 1
    return queued


def serve(
    location: str | None,
    *,
    once: bool = False,
    idle_exit_s: float | None = None,
    parent_pid: int | None = None,
    should_stop: Callable[[], bool] | None = None,
    say: Callable[[str], None] = lambda text: None,
) -> int:
    """Serve the store's job queue until stopped: ``once`` after the queue is empty,
    ``idle_exit_s`` after that long without a job, or when ``parent_pid`` is gone (a dashboard
    server that started us). Returns the number of jobs run; 0 at once if another worker serves
    this store."""
    store = MeasurementStore(location)
    me = worker_id()
    ran = 0
    try:
        with store.db.worker_lock() as lock:
            if not lock:
                say(f"another worker already serves {store.printable}")
                return 0
            say(f"worker {me} serves {store.printable}")
            idle_since = last_noisy_check = last_lock_check = time.monotonic()
            down_since: float | None = None
            while True:
                if should_stop is not None and should_stop():
                    break
                if parent_pid is not None and not _alive(parent_pid):
                    say("the process that started this worker is gone: stopping")
                    break
                if time.monotonic() - last_lock_check > _LOCK_CHECK_S:
                    last_lock_check = time.monotonic()
                    if not lock.held():
                        say(
                            "this worker no longer holds the store's worker lock (its server "
                            "restarted, or its file was deleted or replaced): stopping, so that "
                            "one worker serves it"
                        )
                        break
                try:
                    job = claim(store, me) if claimable(store) else None
                except ZooError as exc:  # the store went away: wait for it, boundedly
                    down_since = down_since or time.monotonic()
                    if time.monotonic() - down_since > STORE_DOWN_S:
                        raise
                    say(f"the store did not answer ({exc}); trying again")
                    time.sleep(1.0)
                    continue
                down_since = None
                if job is not None:
                    say(f"job {job.id}: {job.label}")
                    outcome = run_job(store, job, me)
                    say(f"job {job.id}: {outcome}")
                    ran += 1
                    idle_since = time.monotonic()
                    continue
                if once:
                    break
                now = time.monotonic()
                if now - idle_since > 5 and now - last_noisy_check > _NOISY_CHECK_S:
                    last_noisy_check = now
                    quiet = others_cores_now(0.2) <= MAX_OTHERS_CORES
                    if quiet and remeasure_noisy(store):
                        continue
                if idle_exit_s is not None and time.monotonic() - idle_since > idle_exit_s:
                    break
                time.sleep(_POLL_S)
    finally:
        store.close()
    return ran


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()


def worker_log_path() -> Path:
    """Where a worker started by this process writes: a private log folder, named by this
    process (``zoo.paths.log_dir``)."""
    return log_dir() / f"worker-{os.getpid()}.log"


def ensure_worker(location: str | None, *, log: bool = False) -> int | None:
    """Start a worker process for the store at ``location`` unless one already serves it; the
    worker stops when this process does. Returns the new process's id, or None.

    The store reaches the worker through its environment (``EFFSCALE_STORE``), never its
    command line, which every user of the machine can read (a URL may hold a password). It runs
    in a process group of its own, so a Ctrl-C meant for this process does not stop it
    mid-job. ``log``: its output goes to ``worker_log_path()``, else nowhere."""
    import subprocess
    import sys

    store = MeasurementStore(location)
    try:
        with store.db.worker_lock() as free:
            if not free:
                return None
    finally:
        store.close()
    command = [sys.executable, "-m", "zoo", "worker", "--parent-pid", str(os.getpid())]
    env = dict(os.environ)
    if location is not None:
        env[STORE_ENV] = str(location)
    output = subprocess.DEVNULL
    if log:
        private_dir(log_dir())
        path = worker_log_path()
        with contextlib.suppress(FileNotFoundError):
            path.unlink()  # ours (this process's id, a private folder): an earlier run's
        output = create_new(path)
        atexit.register(_remove, path)  # the worker stops with us; its log goes with it
    try:
        process = subprocess.Popen(
            command,
            cwd=str(project_root()),
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    finally:
        if output is not subprocess.DEVNULL:
            os.close(output)
    return process.pid


def enqueue(
    store: MeasurementStore,
    specs: list[ModelSpec],
    protocol: Protocol,
    *,
    requested_by: str = "",
    group: str = "",
    priority: int = NORMAL,
) -> list[Job]:
    """Queue a measurement of each spec, after checking the request as ``measure`` would
    (protocol, device, the memory guard): an absurd configuration is refused here, with the
    memory guard's message, before any job exists."""
    plan(specs, protocol)
    return [
        submit(store, spec, protocol, requested_by=requested_by, group=group, priority=priority)
        for spec in specs
    ]


def stalled(current: list[Job], *, lease_s: float = LEASE_S, queued_s: float = 15.0) -> bool:
    """Whether no worker is running these jobs: one runs under a lapsed lease (its worker died),
    or none runs while one has been queued for ``queued_s`` (none serves the store)."""
    if any(lapsed(job, lease_s) for job in current):
        return True
    if any(job.state == "running" for job in current):
        return False
    now = time.time()
    return any(job.state == "queued" and now - _epoch(job.created_at) > queued_s for job in current)


def _epoch(iso: str) -> float:
    try:
        return datetime.fromisoformat(iso).timestamp()
    except ValueError:
        return time.time()


def wait_for(
    store: MeasurementStore,
    job_ids: list[int],
    *,
    timeout_s: float | None = None,
    on_progress: Callable[[list[Job]], None] | None = None,
    on_stall: Callable[[list[Job]], bool] | None = None,
    poll_s: float = 0.5,
) -> list[Job]:
    """Wait until every job has ended (or ``timeout_s``); the jobs as they are then.
    ``on_stall(jobs)`` is called when no worker is running them (``stalled``); it starts one
    (True) or says why it cannot (False: the wait ends). A store that stops answering is asked
    again for ``STORE_DOWN_S``."""
    started = time.monotonic()
    down_since: float | None = None
    last_stall_check = time.monotonic()
    current: list[Job] = []
    while True:
        try:
            current = [job for job_id in job_ids if (job := get_job(store, job_id)) is not None]
        except ZooError:
            down_since = down_since or time.monotonic()
            if time.monotonic() - down_since > STORE_DOWN_S:
                raise
            time.sleep(poll_s)
            continue
        down_since = None
        if on_progress is not None:
            on_progress(current)
        if all(not job.active for job in current):
            return current
        if timeout_s is not None and time.monotonic() - started > timeout_s:
            return current
        if on_stall is not None and time.monotonic() - last_stall_check > 5.0:
            last_stall_check = time.monotonic()
            if stalled(current) and not on_stall(current):
                return current
        time.sleep(poll_s)
