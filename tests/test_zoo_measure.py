"""zoo.measure: the protocol's validation, real CPU measurements, the store round trip, the lock.

The real measurements use tiny models (φ = -3, about 150 px) or B0 with a few iterations; the
b0 … b7 sweep is marked slow. CUDA tests skip without CUDA.
"""

import threading
import time
from dataclasses import replace

import psutil
import pytest
import torch

from zoo import ZooError
from zoo.measure import isolation, locking
from zoo.measure.locking import measurement_in_progress
from zoo.measure.orchestrate import measure, measure_isolated, sweep
from zoo.measure.timing import time_forward
from zoo.models.spec import spec_from_phi, spec_from_timm, spec_from_variant
from zoo.records.environment import environment_for, resolve_protocol
from zoo.records.measurement import Measurement, MeasurementError, summarize_latencies
from zoo.records.protocol import Protocol
from zoo.store.measurement_store import MeasurementStore

QUICK = Protocol(device="cpu", warmup_iters=1, min_iters=3, max_iters=3)
REQUIRED = (
    "model", "resolution", "params", "macs", "batch_size", "precision", "device",
    "latency_ms_median", "latency_ms_p90", "throughput_ips", "peak_memory_mb",
)  # fmt: skip


@pytest.mark.parametrize(
    "options, match",
    [
        ({"batch_size": 0}, "batch size"),
        ({"batch_size": -1}, "batch size"),
        ({"batch_size": 10**9}, "batch size"),
        ({"precision": "int4"}, "accepted fp32, bf16, fp16, int8"),
        ({"device": "cpu", "precision": "int8", "runtime": "openvino"}, "--calibration DIR"),
        ({"device": "cpu", "precision": "fp16"}, "not supported on CPU"),
        ({"device": "cpu", "precision": "fp16"}, "fp16 needs a CUDA device"),
        ({"device": "tpu"}, "accepted auto, cpu, cuda"),
        ({"min_iters": 10, "max_iters": 5}, "maximum iterations"),
        ({"warmup_iters": -1}, "warm-up"),
        ({"max_seconds": 0}, "max_seconds"),
        ({"threads": 0}, "threads"),
    ],
)
def test_protocol_validation(options, match):
    with pytest.raises(ZooError, match=match):
        Protocol(**options)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only refusal")
def test_auto_device_on_cpu_refuses_half_precision():
    resolved = resolve_protocol(Protocol())
    assert resolved.device == "cpu" and resolved.threads >= 1
    with pytest.raises(ZooError, match="not supported on CPU"):
        resolve_protocol(Protocol(precision="fp16"))


def test_summary_statistics():
    s = summarize_latencies([0.004, 0.001, 0.002, 0.003], batch_size=8)
    assert s.latency_ms_median == pytest.approx(2.5)
    assert s.latency_ms_p90 == pytest.approx(3.7)
    assert s.latency_ms_mean == pytest.approx(2.5)
    assert s.latency_ms_std == pytest.approx(1.2909944)
    assert s.throughput_ips == pytest.approx(8 * 4 / 0.010)
    assert s.latency_ms_min == pytest.approx(1.0)
    assert summarize_latencies([0.002], 1).latency_ms_std == 0.0


def test_time_forward_counts_and_bounds():
    calls = []

    def model(x):
        calls.append(1)
        return x

    protocol = Protocol(device="cpu", warmup_iters=2, min_iters=3, max_iters=7, max_seconds=1e-9)
    stats = time_forward(model, torch.zeros(1), protocol)
    assert stats.iterations == 3  # stopped by time once min_iters were done
    assert len(calls) == 2 + 3
    stats = time_forward(model, torch.zeros(1), replace(protocol, max_seconds=60.0))
    assert stats.iterations == 7  # stopped by count


def test_environment_records_versions():
    env = environment_for(QUICK)
    assert env.device == "cpu" and env.threads >= 1
    assert env.torch_version.startswith("2.") and env.timm_version
    assert env.cpu_model == env.device_name
    assert len(env.key) == 16
    assert (
        environment_for(replace(QUICK, threads=1)).key
        != environment_for(replace(QUICK, threads=2)).key
    )


def test_real_measurement_is_stored_and_returned_from_store(tmp_path):
    store = MeasurementStore(tmp_path / "m.sqlite")
    spec = spec_from_variant("b0")
    first = measure(spec, QUICK, store=store)
    record = first.to_dict()
    for key in REQUIRED:
        assert record[key] is not None
    assert not first.from_store
    assert first.params == 5_288_548 and first.macs_backend == "aten"
    assert first.iterations == 3 and first.warmup_iters == 1
    assert 0 < first.latency_ms_min <= first.latency_ms_median <= first.latency_ms_p90 * 1.0001
    assert first.throughput_ips > 0 and first.latency_ms_std >= 0
    assert first.peak_memory_kind == "worker_peak_rss"
    assert first.peak_memory_mb > first.worker_rss_before_build_mb > 50
    assert first.channels_last and first.precision == "fp32" and first.device == "cpu"
    assert first.measured_at.endswith("+00:00")

    start = time.perf_counter()
    again = measure(spec, QUICK, store=store)
    assert time.perf_counter() - start < 1.0
    assert again.from_store and replace(again, from_store=False) == first

    fresh = measure(spec, QUICK, store=store, remeasure=True)
    assert not fresh.from_store
    assert len(store.rows()) == 1  # replaced, not duplicated
    assert store.rows()[0].latency_ms_median == fresh.latency_ms_median
    store.close()


def test_sweep_stops_between_models_and_reports_each(tmp_path):
    store = MeasurementStore(tmp_path / "m.sqlite")
    specs = [spec_from_phi(-3.0), spec_from_phi(-2.75), spec_from_phi(-2.5)]
    seen: list[Measurement] = []
    results = sweep(
        specs, QUICK, store=store, on_result=seen.append, should_stop=lambda: len(seen) >= 1
    )
    assert [m.model for m in results] == [specs[0].model] == [m.model for m in seen]
    assert len(store.rows()) == 1
    seen.clear()
    results = sweep(specs[:2], QUICK, store=store, on_result=seen.append)
    assert [m.from_store for m in results] == [True, False]
    assert seen == results
    store.close()


def test_sweep_validates_everything_before_running(tmp_path):
    store = MeasurementStore(tmp_path / "m.sqlite")
    specs = [spec_from_phi(-3.0), spec_from_variant("b7")]
    with pytest.raises(ZooError, match="needs ~"):
        sweep(specs, replace(QUICK, batch_size=100_000), store=store)
    assert store.rows() == []
    store.close()


def test_timm_peer_measures(tmp_path):
    spec = spec_from_timm("mobilenetv3_large_100", resolution=96)
    m = measure(spec, replace(QUICK, channels_last=False))
    assert m.model == "mobilenetv3_large_100" and m.family == "mobilenetv3"
    assert m.params == 5_483_032 and not m.channels_last and m.resolution == 96


def test_worker_outlives_the_thread_that_started_it():
    # A dashboard measures from short-lived script threads: the helper must not die with them.
    isolation.shutdown()
    thread = threading.Thread(target=lambda: measure(spec_from_phi(-3.0), QUICK))
    thread.start()
    thread.join()
    pid = isolation.server_pid()
    time.sleep(0.5)
    assert psutil.pid_exists(pid)
    measure(spec_from_phi(-3.0), QUICK)
    assert isolation.server_pid() == pid


def test_a_failed_run_is_a_measurement_error_and_the_helper_survives():
    from dataclasses import replace as dc_replace

    measure(spec_from_phi(-3.0), QUICK)  # the helper is running
    pid = isolation.server_pid()
    broken = dc_replace(spec_from_timm("resnet18"), model="no_such_timm_model")
    with pytest.raises(MeasurementError, match="no_such_timm_model") as info:
        measure_isolated(broken, resolve_protocol(QUICK))
    assert "\n" not in str(info.value)
    assert isolation.server_pid() == pid and psutil.pid_exists(pid)


def test_measurement_lock_reports_waiting(monkeypatch, tmp_path):
    monkeypatch.setenv("EFFSCALE_LOCK", str(tmp_path / "lock"))  # not the machine-wide one
    assert locking.lock_path() == tmp_path / "lock"
    assert not measurement_in_progress()
    entered = threading.Event()
    release = threading.Event()

    def holder():
        with locking.measurement_lock(None):
            entered.set()
            release.wait(10)

    thread = threading.Thread(target=holder)
    thread.start()
    assert entered.wait(10)
    assert measurement_in_progress()
    waits: list[str] = []
    timer = threading.Timer(0.2, release.set)
    timer.start()
    with locking.measurement_lock(lambda: waits.append("waiting")) as waited:
        assert waited
    assert waits == ["waiting"]
    thread.join()
    assert not measurement_in_progress()


def test_file_lock_is_seen_by_other_processes(monkeypatch, tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    monkeypatch.setenv("EFFSCALE_LOCK", str(tmp_path / "lock"))  # inherited by the child
    root = Path(__file__).resolve().parent.parent
    code = (
        "from zoo.measure.locking import measurement_in_progress; print(measurement_in_progress())"
    )
    with locking.measurement_lock(None):
        out = subprocess.run(
            [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True
        )
    assert out.stdout.strip() == "True"
    assert not measurement_in_progress()


@pytest.mark.slow
def test_b0_to_b7_sweep_on_cpu_then_from_store(tmp_path):
    store = MeasurementStore(tmp_path / "m.sqlite")
    specs = [spec_from_variant(f"b{i}") for i in range(8)]
    protocol = Protocol(device="cpu", warmup_iters=1, min_iters=3, max_iters=3)
    results = sweep(specs, protocol, store=store)
    assert [m.params for m in results] == [
        5_288_548, 7_794_184, 9_109_994, 12_233_232,
        19_341_616, 30_389_784, 43_040_704, 66_347_960,
    ]  # fmt: skip
    assert not any(m.from_store for m in results)
    assert len(store.rows("cpu")) == 8
    start = time.perf_counter()
    again = sweep(specs, protocol, store=store)
    assert time.perf_counter() - start < 1.0
    assert all(m.from_store for m in again)
    store.close()


cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


@pytest.mark.cuda
@cuda
def test_cuda_bf16_measurement(tmp_path):
    store = MeasurementStore(tmp_path / "m.sqlite")
    protocol = Protocol(device="cuda", precision="bf16", batch_size=8, min_iters=3, max_iters=5)
    m = measure(spec_from_variant("b0"), protocol, store=store)
    assert m.device.startswith("cuda") and m.precision == "bf16"
    assert m.peak_memory_kind == "cuda_max_allocated" and m.peak_memory_mb > 20
    assert m.device_name == torch.cuda.get_device_name(0)
    assert measure(spec_from_variant("b0"), protocol, store=store).from_store
    store.close()


@pytest.mark.cuda
@cuda
def test_cuda_auto_device_and_memory_guard():
    assert resolve_protocol(Protocol()).device == "cuda:0"
    with pytest.raises(ZooError, match="needs ~"):
        measure(spec_from_variant("b7"), Protocol(device="cuda", batch_size=100_000))
