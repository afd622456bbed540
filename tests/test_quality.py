"""A busy machine is noticed: a measurement taken while another process hogs a core is flagged
noisy, is not served from the store as clean, and once the hog stops the figure measured again
is within 20 % of a quiet run (issue: honest under a busy machine)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from zoo.measure import orchestrate
from zoo.measure.orchestrate import measure
from zoo.measure.quiet import MAX_OTHERS_CORES, others_cores_now, verdict
from zoo.measure.rounds import AGREE_ENV
from zoo.models.spec import spec_from_variant
from zoo.records.protocol import Protocol
from zoo.store.measurement_store import MeasurementStore

PROTOCOL = Protocol(device="cpu", warmup_iters=2, min_iters=10, max_iters=200, max_seconds=3.0)
HOG = "while True: pass"


@pytest.fixture
def hog():
    processes = []

    def start() -> None:
        processes.append(subprocess.Popen([sys.executable, "-c", HOG]))

    def stop() -> None:
        while processes:
            process = processes.pop()
            process.kill()
            process.wait()

    yield start, stop
    stop()


@pytest.mark.slow
def test_a_hogged_measurement_is_noisy_never_served_clean_and_remeasured(
    tmp_path, monkeypatch, hog
):
    start_hog, stop_hog = hog
    monkeypatch.setattr(orchestrate, "QUIET_WAIT_S", 2.0)  # give up waiting quickly
    # The subject here is the others-cores rule; the rounds' own agreement rule (1.10x) has its
    # tests in test_rounds.py, and this VM's noise alone spread a quiet B0 1.11x and 1.19x on CI.
    # An environment variable, not a patch: the verdict is given in the measuring process.
    monkeypatch.setenv(AGREE_ENV, "1.30")
    monkeypatch.setenv("EFFSCALE_LOCK", str(tmp_path / "lock"))
    spec = spec_from_variant("b0")
    for _ in range(4):  # not stored: the baseline (this VM has its own noise: a few tries)
        quiet = measure(spec, PROTOCOL)
        if quiet.quality == "clean":
            break
    assert quiet.quality == "clean", quiet.quality_reason
    with MeasurementStore(tmp_path / "m.sqlite") as store:
        start_hog()
        assert others_cores_now(1.0) > 0.5
        busy = measure(spec, PROTOCOL, store=store)
        assert busy.noisy and "other processes used" in busy.quality_reason
        assert busy.others_cores > MAX_OTHERS_CORES  # the hog shares two cores with us
        again = measure(spec, PROTOCOL, store=store)  # stored, but noisy: measured again
        assert not again.from_store and again.noisy
        stop_hog()
        for _ in range(4):  # measured again until clean (this VM's own noise: a few tries)
            clean = measure(spec, PROTOCOL, store=store)
            assert not clean.from_store
            if clean.quality == "clean":
                break
        assert clean.quality == "clean", clean.quality_reason
        assert abs(clean.latency_ms_median / quiet.latency_ms_median - 1) <= 0.20
        served = measure(spec, PROTOCOL, store=store)  # now clean: served from the store
        assert served.from_store and served.quality == "clean"


def test_the_verdict_rules():
    assert verdict(2.0, 3.9, 0.1, 2, 0.1, on_cuda=False).quality == "clean"
    assert verdict(2.0, 3.9, 2.0, 2, 0.1, on_cuda=False).quality == "noisy"  # others busy
    assert verdict(2.0, 0.2, 0.0, 2, 0.1, on_cuda=False).quality == "noisy"  # starved
    assert verdict(2.0, 3.9, 0.0, 2, 3.0, on_cuda=False).quality == "noisy"  # unsteady
    assert verdict(2.0, 0.2, 2.0, 2, 0.1, on_cuda=True).quality == "clean"  # CPU says little


def test_a_short_loop_is_not_called_noisy_for_a_few_milliseconds_of_neighbours():
    # 20 ms of someone else's CPU in a 60 ms loop is 0.33 cores, and changes nothing.
    assert verdict(0.06, 0.11, 0.02, 2, 0.1, on_cuda=False).quality == "clean"
    assert verdict(0.6, 1.1, 0.2, 2, 0.1, on_cuda=False).quality == "noisy"
