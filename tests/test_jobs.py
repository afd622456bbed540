"""The job queue: requests outlive the page; one worker per store; leases, not guesses.

Stand-in measurements (``zoo.measure.orchestrate.measure_isolated`` replaced by a stub in this process) test
the queue's logic quickly; the kill test runs real workers and real (tiny) measurements. Every
test runs against both backends (``store_location``: SQLite, a real PostgreSQL server).
"""

from __future__ import annotations

import json
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
from zoo.store.jobs import BACKGROUND, NORMAL, cancel, get_job, jobs, submit
from zoo.store.leases import claim, fail_jobs, finish, heartbeat
from zoo.store.measurement_store import MeasurementStore
from zoo.store.url import is_url
from zoo.workers.worker import enqueue, run_job, serve

ROOT = Path(__file__).resolve().parent.parent
QUICK = Protocol(device="cpu", warmup_iters=0, min_iters=2, max_iters=2, max_seconds=0.1)


def stub_result(seconds: float = 0.0):
    calls: list[str] = []

    def stub(spec, protocol, digests=None) -> dict:
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


def test_what_someone_waits_for_runs_before_the_background_and_joining_raises_priority(store):
    background = [
        submit(store, spec_from_phi(phi), QUICK, requested_by="sweep", priority=BACKGROUND).id
        for phi in (-3.0, -2.9)
    ]
    asked = submit(store, spec_from_phi(-2.8), QUICK, requested_by="you").id
    # someone now asks for the second background job: it moves up to the normal priority
    joined = submit(store, spec_from_phi(-2.9), QUICK, requested_by="you")
    assert joined.id == background[1] and joined.priority == NORMAL
    # joining at a lower priority never lowers it
    assert submit(store, spec_from_phi(-2.8), QUICK, priority=BACKGROUND).priority == NORMAL
    order = []
    while (job := claim(store, "w")) is not None:
        order.append(job.id)
    assert order == [background[1], asked, background[0]]  # priority, then age


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
    def broken(spec, protocol, digests=None):
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


# --------------------------------------------------------------------------- hardening, second pass


def test_a_job_is_cancelled_only_when_nobody_who_asked_still_wants_it(store):
    """Two sessions ask for B4; the first withdraws: it runs on for the second, who then sees
    it cancelled only when it withdraws too. Asking again after withdrawing counts again."""
    first = submit(store, spec_from_phi(-3.0), QUICK, requested_by="session A")
    submit(store, spec_from_phi(-3.0), QUICK, requested_by="session B")
    assert get_job(store, first.id).requesters == ("session A", "session B")
    assert cancel(store, first.id, "session A") == "withdrawn"
    assert get_job(store, first.id).state == "queued"
    assert get_job(store, first.id).requesters == ("session B",)
    assert cancel(store, first.id, "session A") == ""  # withdrawn already: nothing to do
    assert cancel(store, first.id, "session C") == ""  # never asked: cannot cancel
    assert cancel(store, first.id, "session B") == "cancelled"
    assert get_job(store, first.id).state == "cancelled"
    # everyone who asked sees what happened
    assert [j.id for j in jobs(store, requested_by="session A")] == [first.id]
    again = submit(store, spec_from_phi(-3.0), QUICK, requested_by="session A")
    assert again.id != first.id and again.requesters == ("session A",)


def test_stopping_the_sweep_withdraws_only_the_sweeps_requests(store):
    joined = submit(store, spec_from_phi(-3.0), QUICK, requested_by="first-run sweep")
    alone = submit(store, spec_from_phi(-2.0), QUICK, requested_by="first-run sweep")
    submit(store, spec_from_phi(-3.0), QUICK, requested_by="dashboard session x")
    assert cancel(store, joined.id, "first-run sweep") == "withdrawn"
    assert cancel(store, alone.id, "first-run sweep") == "cancelled"
    assert get_job(store, joined.id).state == "queued"


def _unreadable_job(store: MeasurementStore) -> int:
    """A queued job whose request has a field this version does not know (a newer one wrote
    it), queued before a good one."""
    job = submit(store, spec_from_phi(-3.0), QUICK, requested_by="newer")
    spec = store.db.execute("SELECT spec FROM jobs WHERE id = ?", (job.id,))[0][0]
    store.db.execute(
        "UPDATE jobs SET spec = ? WHERE id = ?", (spec[:-1] + ', "new_field": 1}', job.id)
    )
    return job.id


def test_an_unreadable_job_row_is_skipped_named_and_failed_never_fatal(store, monkeypatch):
    bad = _unreadable_job(store)
    good = submit(store, spec_from_phi(-2.0), QUICK, requested_by="test").id
    assert [j.id for j in jobs(store)] == [good] and store.unreadable_jobs == [bad]
    assert get_job(store, bad) is None
    monkeypatch.setattr(orchestrate, "measure_isolated", stub_result())
    assert serve(store.location, once=True) == 1  # the worker goes on to the good one
    states = dict(store.db.execute("SELECT id, state FROM jobs"))
    assert states == {bad: "failed", good: "done"}
    (error,) = store.db.execute("SELECT error FROM jobs WHERE id = ?", (bad,))[0]
    assert "cannot read the job's request" in error


def test_the_cli_lists_jobs_around_an_unreadable_row(store, tmp_path):
    bad = _unreadable_job(store)
    submit(store, spec_from_phi(-2.0), QUICK, requested_by="test")
    out = subprocess.run(
        [sys.executable, "-m", "zoo", "jobs", "list", "--store", store.location],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "queued" in out.stdout and f"ids {bad}" in out.stderr


def test_a_worker_whose_store_file_vanished_stops_serving(tmp_path, monkeypatch):
    """Deleting the SQLite file under a serving worker: the worker notices (its lock guards a
    file nobody uses) and stops, so a worker of the new store can start."""
    monkeypatch.setenv("EFFSCALE_LOCK", str(tmp_path / "lock"))
    path = tmp_path / "m.sqlite"
    MeasurementStore(path).close()
    said: list[str] = []
    worker = threading.Thread(target=serve, args=(str(path),), kwargs={"say": said.append})
    worker.start()
    time.sleep(0.5)
    for leftover in tmp_path.glob("m.sqlite*"):
        if not leftover.name.endswith(".worker.lock"):
            leftover.unlink()
    worker.join(timeout=10)
    assert not worker.is_alive() and "no longer holds the store's worker lock" in said[-1]
    assert serve(str(path), once=True) == 0  # the new store's worker gets the lock


def test_stalled_jobs_are_told_apart_from_slow_ones(store):
    from zoo.workers.worker import stalled

    job = submit(store, spec_from_phi(-3.0), QUICK)
    assert not stalled([get_job(store, job.id)])  # just queued
    store.db.execute("UPDATE jobs SET created_at = '2020-01-01T00:00:00+00:00' WHERE id = ?",
                     (job.id,))  # fmt: skip
    assert stalled([get_job(store, job.id)])  # queued long, nothing runs: no worker
    running = claim(store, "w", lease_s=30)
    assert not stalled([running], lease_s=30)
    time.sleep(0.2)
    assert stalled([get_job(store, job.id)], lease_s=0.1)  # its worker stopped beating


@pytest.mark.model
def test_measure_queue_notices_its_worker_died_and_finishes(tmp_path):
    """``kill -9`` of the worker mid-job: the waiting CLI sees the lapsed lease, starts another
    worker and prints the results, instead of waiting for ever."""
    import signal

    path = tmp_path / "m.sqlite"
    env = {**os.environ, "EFFSCALE_LOCK": str(tmp_path / "lock"), "EFFSCALE_JOB_LEASE_S": "3",
           "EFFSCALE_QUIET_WAIT_S": "0", "HF_HUB_OFFLINE": "1"}  # fmt: skip
    cli = subprocess.Popen(
        [sys.executable, "-m", "zoo", "measure", "--phi", "-3", "-2.8", "--device", "cpu",
         "--queue", "--iters", "20", "--warmup", "1", "--max-seconds", "1.5", "--store",
         str(path), "--format", "json", "--no-progress"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        worker = None
        while time.monotonic() < deadline and worker is None:
            time.sleep(0.05)
            if path.exists():
                with MeasurementStore(path) as store:
                    worker = next((j.worker for j in jobs(store) if j.state == "running"), None)
        assert worker, "no job started"
        os.kill(int(worker.rpartition(":")[2]), signal.SIGKILL)
        out, err = cli.communicate(timeout=240)
    finally:
        if cli.poll() is None:
            cli.kill()
    assert cli.returncode == 0, err
    assert "no worker was running this store's jobs" in err and "started another" in err
    assert len(json.loads(out)) == 2


@pytest.mark.model
def test_ctrl_c_on_measure_queue_withdraws_its_jobs_and_spares_the_worker(tmp_path):
    """Ctrl-C (SIGINT to the command's process group) ends ``measure --queue`` with 130 and
    withdraws its requests (nobody else asked: cancelled); the worker it started runs in a
    group of its own, so the signal never reaches it mid-job."""
    import signal

    path = tmp_path / "m.sqlite"
    env = {**os.environ, "EFFSCALE_LOCK": str(tmp_path / "lock"), "EFFSCALE_QUIET_WAIT_S": "0",
           "HF_HUB_OFFLINE": "1"}  # fmt: skip
    cli = subprocess.Popen(
        [sys.executable, "-m", "zoo", "measure", "--phi", "-3", "-2.9", "-2.8", "--device",
         "cpu", "--queue", "--iters", "50", "--max-seconds", "5", "--store", str(path),
         "--no-progress"],
        cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        worker = None
        while time.monotonic() < deadline and worker is None:
            time.sleep(0.05)
            if path.exists():
                with MeasurementStore(path) as store:
                    worker = next((j.worker for j in jobs(store) if j.state == "running"), None)
        assert worker, "no job started"
        worker_pid = int(worker.rpartition(":")[2])
        assert os.getpgid(worker_pid) != cli.pid  # a process group of its own
        os.killpg(cli.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        _, err = cli.communicate(timeout=60)
    finally:
        if cli.poll() is None:
            cli.kill()
    assert cli.returncode == 130 and "requests were withdrawn" in err
    with MeasurementStore(path) as store:
        states = sorted(j.state for j in jobs(store))
    assert states.count("cancelled") >= 2 and "queued" not in states, states
