"""The job queue: requests outlive the page; one worker per store; leases, not guesses.

Stand-in measurements (``zoo.measure.orchestrate.measure_isolated`` replaced by a stub in this process) test
the queue's logic quickly; the kill test runs real workers and real (tiny) measurements. Every
test runs against both backends (``store_location``: SQLite, a real PostgreSQL server).
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.fakes import kill_group, start_group
from zoo.errors import ZooError
from zoo.measure import orchestrate
from zoo.models.spec import spec_from_phi, spec_from_variant
from zoo.records.protocol import Protocol
from zoo.store.database import is_url
from zoo.store.jobs import cancel, claim, fail_jobs, finish, get_job, heartbeat, jobs, submit
from zoo.store.measurement_store import MeasurementStore
from zoo.workers.worker import enqueue, run_job, serve

ROOT = Path(__file__).resolve().parent.parent
QUICK = Protocol(device="cpu", warmup_iters=0, min_iters=2, max_iters=2, max_seconds=0.1)


def stub_result(seconds: float = 0.0):
    calls: list[str] = []

    def stub(spec, protocol) -> dict:
        calls.append(spec.model)
        time.sleep(seconds)
        return {
            "params": 1, "macs": 1, "macs_backend": "aten", "latency_ms_median": 1.0,
            "latency_ms_p90": 1.0, "latency_ms_mean": 1.0, "latency_ms_std": 0.0,
            "throughput_ips": 1000.0, "iterations": 2, "latency_ms_min": 1.0,
            "peak_memory_mb": 1.0, "peak_memory_kind": "worker_peak_rss",
            "worker_rss_before_build_mb": 1.0, "quality": "clean",
        }  # fmt: skip

    stub.calls = calls  # type: ignore[attr-defined]
    return stub


@pytest.fixture
def store(tmp_path, monkeypatch, store_location):
    monkeypatch.setenv("EFFSCALE_LOCK", str(tmp_path / "lock"))
    monkeypatch.setattr(orchestrate, "QUIET_WAIT_S", 0.0)
    with MeasurementStore(store_location) as opened:
        yield opened


def test_asking_twice_joins_the_first_request(store):
    first = submit(store, spec_from_phi(-3.0), QUICK, requested_by="a")
    again = submit(store, spec_from_phi(-3.0), QUICK, requested_by="b")
    other = submit(store, spec_from_phi(-2.0), QUICK)
    assert again.id == first.id and other.id != first.id
    assert [j.state for j in jobs(store)] == ["queued", "queued"]


def test_claims_are_exclusive_and_in_order(store):
    ids = [submit(store, spec_from_phi(phi), QUICK).id for phi in (-3.0, -2.9, -2.8, -2.7)]
    taken: list[int] = []

    def take(name: str) -> None:
        while (job := claim(store, name)) is not None:
            taken.append(job.id)

    threads = [threading.Thread(target=take, args=(f"w{i}",)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(taken) == ids  # each job taken exactly once


def test_a_lapsed_lease_is_taken_again_and_the_old_worker_loses_it(store):
    job = submit(store, spec_from_phi(-3.0), QUICK)
    mine = claim(store, "w1", lease_s=0.2)
    assert mine.id == job.id and mine.attempts == 1
    assert claim(store, "w2", lease_s=30) is None  # beating: not taken
    time.sleep(0.3)
    theirs = claim(store, "w2", lease_s=0.2)
    assert theirs.id == job.id and theirs.attempts == 2 and theirs.worker == "w2"
    assert not heartbeat(store, job.id, "w1")  # w1 learns it lost the job
    assert not finish(store, job.id, "w1", "done")
    assert finish(store, job.id, "w2", "failed", error="x")


def test_a_job_abandoned_too_often_is_failed_with_the_reason(store):
    job = submit(store, spec_from_phi(-3.0), QUICK)
    for attempt in range(3):
        assert claim(store, f"w{attempt}", lease_s=0.05) is not None
        time.sleep(0.1)
    assert claim(store, "w9", lease_s=0.05) is None
    ended = get_job(store, job.id)
    assert ended.state == "failed" and "stopped 3 times" in ended.error


def test_the_worker_runs_the_queue_and_a_result_is_never_measured_twice(store, monkeypatch):
    stub = stub_result()
    monkeypatch.setattr(orchestrate, "measure_isolated", stub)
    specs = [spec_from_phi(-3.0), spec_from_phi(-2.0)]
    enqueue(store, specs, QUICK, requested_by="test")
    assert serve(store.location, once=True) == 2
    assert [j.state for j in jobs(store)] == ["done", "done"]
    assert all(j.result is not None and not j.result.from_store for j in jobs(store))
    enqueue(store, specs, QUICK)  # the same again: served from the store
    serve(store.location, once=True)
    assert stub.calls == [specs[0].model, specs[1].model]
    assert all(j.result.from_store for j in jobs(store)[:2])


def test_an_absurd_request_is_refused_at_submission(store):
    with pytest.raises(ZooError, match="needs ~"):
        enqueue(store, [spec_from_variant("b7")], Protocol(device="cpu", batch_size=500_000))
    assert jobs(store) == []


def test_a_failing_measurement_fails_its_job_with_the_reason(store, monkeypatch):
    def broken(spec, protocol):
        raise orchestrate.MeasurementError("measurement failed (WorkerDied): process killed")

    monkeypatch.setattr(orchestrate, "measure_isolated", broken)
    job = submit(store, spec_from_phi(-3.0), QUICK)
    assert run_job(store, claim(store, "w"), "w") == "failed"
    assert "WorkerDied" in get_job(store, job.id).error
    if store.path is not None:
        conn = sqlite3.connect(store.path)
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


@pytest.mark.model
def test_cancelling_a_running_job_stops_its_measurement(store, monkeypatch):
    monkeypatch.setattr(orchestrate, "measure_isolated", stub_result(seconds=30))
    job = submit(store, spec_from_phi(-3.0), QUICK, requested_by="me")
    taken = claim(store, "w", lease_s=0.5)
    assert not cancel(store, job.id, requested_by="someone else")  # only one's own jobs
    threading.Timer(0.3, lambda: cancel(store, job.id, requested_by="me")).start()
    started = time.monotonic()
    assert run_job(store, taken, "w", lease_s=0.5) == "cancelled"
    assert time.monotonic() - started < 10
    assert get_job(store, job.id).state == "cancelled"


def test_one_worker_per_store(store, monkeypatch):
    monkeypatch.setattr(orchestrate, "measure_isolated", stub_result(seconds=0.5))
    submit(store, spec_from_phi(-3.0), QUICK)
    results: list[int] = []
    first = threading.Thread(target=lambda: results.append(serve(store.location, once=True)))
    first.start()
    time.sleep(0.2)
    messages: list[str] = []
    assert serve(store.location, once=True, say=messages.append) == 0
    first.join()
    assert results == [1] and "another worker already serves" in messages[0]


def _worker(store: str, env: dict[str, str]) -> subprocess.Popen:
    command = [sys.executable, "-m", "zoo", "worker", "--store", store, "--idle-exit", "2"]
    return start_group(command, ROOT, env)


@pytest.mark.model
@pytest.mark.slow
def test_a_killed_worker_leaves_a_queue_the_next_one_finishes(tmp_path, store_location):
    path = store_location
    env = {**os.environ, "EFFSCALE_LOCK": str(tmp_path / "lock"), "EFFSCALE_JOB_LEASE_S": "3",
           "EFFSCALE_QUIET_WAIT_S": "0", "HF_HUB_OFFLINE": "1"}  # fmt: skip
    specs = [spec_from_phi(phi) for phi in (-3.0, -2.8, -2.6, -2.4)]
    protocol = Protocol(device="cpu", warmup_iters=1, min_iters=3, max_iters=20, max_seconds=1.5)
    with MeasurementStore(path) as store:
        submitted = enqueue(store, specs, protocol)
    first = _worker(path, env)
    try:
        with MeasurementStore(path) as store:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:  # kill it while it measures the second job
                states = {j.id: j.state for j in jobs(store)}
                if states.get(submitted[1].id) == "running":
                    break
                time.sleep(0.05)
            assert states.get(submitted[1].id) == "running", states
    finally:
        kill_group(first)  # SIGKILL to its process group: no clean-up runs
    second = _worker(path, env)
    try:
        second.wait(timeout=300)
    finally:
        if second.poll() is None:
            kill_group(second)
    if not is_url(path):
        conn = sqlite3.connect(path)
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        conn.close()
    with MeasurementStore(path) as store:
        ended = {j.id: j for j in jobs(store)}
        rows = store.rows()
    assert [ended[j.id].state for j in submitted] == ["done"] * 4  # no job lost
    assert ended[submitted[1].id].attempts == 2  # taken again after the lease lapsed
    assert len(rows) == 4 and len({m.model for m in rows}) == 4  # none measured twice


def test_targeted_jobs_go_to_their_node_only(store):
    """A cluster node's worker takes its own jobs only; the store's worker never takes them."""
    mine = submit(store, spec_from_phi(-3.0), QUICK, target="node-a")
    theirs = submit(store, spec_from_phi(-3.0), QUICK, target="node-b")
    anyone = submit(store, spec_from_phi(-2.0), QUICK)
    assert len({mine.id, theirs.id, anyone.id}) == 3  # the same request on two nodes: two jobs
    assert submit(store, spec_from_phi(-3.0), QUICK, target="node-a").id == mine.id
    assert claim(store, "a", target="node-a", exclusive=True).id == mine.id
    assert claim(store, "a", target="node-a", exclusive=True) is None  # never the untargeted
    assert claim(store, "w").id == anyone.id  # the store's worker: untargeted only
    assert claim(store, "w") is None
    assert claim(store, "b", target="node-b", exclusive=True).id == theirs.id


def test_jobs_of_a_gone_worker_are_failed_with_the_reason(store):
    finished = submit(store, spec_from_phi(-3.0), QUICK, target="n")
    running = submit(store, spec_from_phi(-2.0), QUICK, target="n")
    queued = submit(store, spec_from_phi(-1.0), QUICK, target="n")
    assert claim(store, "w", target="n", exclusive=True).id == finished.id  # the oldest first
    finish(store, finished.id, "w", "done")
    assert claim(store, "w", target="n", exclusive=True).id == running.id
    assert fail_jobs(store, [finished.id, running.id, queued.id], "node n died") == 2
    states = [get_job(store, j.id).state for j in (finished, running, queued)]
    assert states == ["done", "failed", "failed"]  # what had ended keeps its end
    assert get_job(store, running.id).error == "node n died"
    assert fail_jobs(store, [], "nothing") == 0
