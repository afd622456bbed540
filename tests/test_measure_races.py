"""Hardening finding 6: an identical request that waits for a running measurement must not
measure it again, whoever finishes first and however the two interleave."""

from __future__ import annotations

import threading
import time

from zoo.measure import orchestrate
from zoo.measure.orchestrate import measure
from zoo.models.spec import spec_from_phi
from zoo.records.protocol import Protocol
from zoo.store.measurement_store import MeasurementStore

QUICK = Protocol(device="cpu", warmup_iters=0, min_iters=1, max_iters=1)


class SlowStub:
    """Stands in for the measuring process: takes ``seconds`` and counts its calls."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.calls = 0

    def __call__(self, spec, protocol, digests=None) -> dict:
        self.calls += 1
        time.sleep(self.seconds)
        return {
            "params": 1, "macs": 1, "macs_backend": "aten", "latency_ms_median": 1.0,
            "latency_ms_p90": 1.0, "latency_ms_mean": 1.0, "latency_ms_std": 0.0,
            "throughput_ips": 1000.0, "iterations": 1, "latency_ms_min": 1.0,
            "peak_memory_mb": 1.0, "peak_memory_kind": "worker_peak_rss",
            "worker_rss_before_build_mb": 1.0,
        }  # fmt: skip


class SlowWriteStore(MeasurementStore):
    """A store whose writes take a while (a busy disk): the window in which a waiting request
    could look for the result before it has landed."""

    def put(self, measurement) -> None:
        time.sleep(0.2)
        super().put(measurement)


def _concurrent(tmp_path, monkeypatch, stagger_s: float, count: int = 4):
    monkeypatch.setenv("EFFSCALE_LOCK", str(tmp_path / "lock"))
    stub = SlowStub(0.3)
    monkeypatch.setattr(orchestrate, "measure_isolated", stub)
    path = tmp_path / "m.sqlite"
    results = []

    def one() -> None:
        with SlowWriteStore(path) as store:
            results.append(measure(spec_from_phi(-3.0), QUICK, store=store))

    threads = []
    for _ in range(count):
        threads.append(threading.Thread(target=one))
        threads[-1].start()
        time.sleep(stagger_s)
    for thread in threads:
        thread.join()
    with MeasurementStore(path) as store:
        rows = store.rows()
    return stub, results, rows


def test_identical_waiting_requests_get_the_first_result(tmp_path, monkeypatch):
    for stagger in (0.0, 0.05, 0.29, 0.31):  # before, during and right at the end of the first
        stub, results, rows = _concurrent(tmp_path / str(stagger), monkeypatch, stagger)
        assert stub.calls == 1, stagger
        assert len(rows) == 1
        assert sum(not r.from_store for r in results) == 1
        assert {r.measured_at for r in results} == {rows[0].measured_at}


def test_remeasure_measures_each_time(tmp_path, monkeypatch):
    monkeypatch.setenv("EFFSCALE_LOCK", str(tmp_path / "lock"))
    stub = SlowStub(0.0)
    monkeypatch.setattr(orchestrate, "measure_isolated", stub)
    with MeasurementStore(tmp_path / "m.sqlite") as store:
        measure(spec_from_phi(-3.0), QUICK, store=store)
        measure(spec_from_phi(-3.0), QUICK, store=store, remeasure=True)
    assert stub.calls == 2
