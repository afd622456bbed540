"""A figure that repeats (issue 26): the timed loop runs in rounds with a speed probe between them;
rounds at a slow speed level are set aside, never averaged in; rounds that disagree, or a machine
that never reached its fast level, make the result noisy with the reason."""

from __future__ import annotations

import json
import time

import pytest

from zoo.cli.report import format_measurements
from zoo.errors import ZooError
from zoo.measure import rounds as rounds_module
from zoo.measure.quiet import verdict
from zoo.measure.rounds import (
    AGREE,
    AGREE_ENV,
    SLOW_LEVEL,
    reference_level,
    remember_probes,
    time_rounds,
)
from zoo.records.protocol import Protocol, protocol_key

FAST_S, SLOW_S = 0.002, 0.003  # the two speed levels, 1.5× apart


class Machine:
    """A fake machine whose speed level changes on a schedule of rounds: each probe reports the
    level, each call sleeps as long as the level makes it."""

    def __init__(self, levels: list[float]) -> None:
        self.levels = levels  # one per probe taken (the level of the round that follows)
        self.probes = 0
        self.level = levels[0]

    def probe(self) -> float:
        self.level = self.levels[min(self.probes, len(self.levels) - 1)]
        self.probes += 1
        return 3.0 * self.level

    def call(self) -> None:
        end = time.perf_counter() + FAST_S * self.level
        while time.perf_counter() < end:  # busy, like a forward (and not time.sleep)
            pass


@pytest.fixture(autouse=True)
def short_pauses(monkeypatch):
    monkeypatch.setattr(rounds_module, "SLOW_PAUSE_S", 0.01)
    monkeypatch.setattr(rounds_module, "SLOW_WAIT_S", 0.05)


def protocol(**options) -> Protocol:
    base = dict(device="cpu", warmup_iters=1, min_iters=20, max_iters=20, max_seconds=5.0)
    return Protocol(**{**base, **options})


def test_each_round_is_scaled_to_the_reference_speed_and_kept_as_timed_too():
    machine = Machine([1.2])  # 1.2× slower than the reference all along: acceptable, scaled
    result, _ = time_rounds(machine.call, protocol(rounds=4), probe=machine.probe, reference_ms=3.0)
    assert result.steady and result.level == pytest.approx(1.2)
    assert result.median_s == pytest.approx(FAST_S, rel=0.1)  # at the reference speed
    assert result.measured_median_s == pytest.approx(1.2 * FAST_S, rel=0.1)  # as timed
    assert max(result.samples) < 1.2 * FAST_S  # every sample scaled alike


def test_rounds_at_a_slow_level_are_set_aside_never_averaged_in():
    # A probe before the first round and after each (and after each pause); the machine runs
    # at the level of the last probe. Rounds 3 and 4 see the slow level 1.6.
    machine = Machine([1.0, 1.0, 1.0, 1.6, 1.6, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0])
    result, probes = time_rounds(
        machine.call, protocol(rounds=5), probe=machine.probe, reference_ms=3.0
    )
    assert result.steady and result.set_aside >= 1
    assert all(r.level is not None and r.level <= SLOW_LEVEL for r in result.used)
    assert result.median_s == pytest.approx(FAST_S, rel=0.1)
    assert len(probes) == len(result.used) + 2 * result.set_aside + 1


def test_after_a_slow_round_the_next_waits_for_the_slow_level_to_pass(monkeypatch):
    slept: list[float] = []
    monkeypatch.setattr(rounds_module.time, "sleep", slept.append)
    machine = Machine([1.0, 1.6, 1.6, 1.0])  # slow around the first rounds, then fast again
    result, _ = time_rounds(machine.call, protocol(rounds=3), probe=machine.probe, reference_ms=3.0)
    assert slept and slept[0] == 0.01 and slept == sorted(slept)  # pauses, doubling
    assert result.steady and result.set_aside >= 1 and len(result.used) == 3


def test_a_machine_steady_at_its_reference_takes_the_planned_rounds_only():
    machine = Machine([1.0])
    result, probes = time_rounds(machine.call, protocol(rounds=4), probe=machine.probe)
    assert (len(result.used), result.set_aside, result.steady) == (4, 0, True)
    assert len(probes) == 5 and result.spread < AGREE
    assert sum(len(r.samples) for r in result.used) == 20  # the protocol's iterations, shared


def test_a_machine_slow_against_its_record_runs_extra_rounds_then_says_so():
    machine = Machine([1.5])  # slow all along, against a reference taken at the fast level
    result, _ = time_rounds(machine.call, protocol(rounds=2), probe=machine.probe, reference_ms=3.0)
    assert not result.steady and result.level == pytest.approx(1.5)
    assert len(result.used) == 2 * rounds_module.EXTRA_ROUNDS  # tried, then used all it had
    # not scaled: a level this far off would extrapolate (a B3 once read 12x too fast so)
    assert result.median_s == pytest.approx(result.measured_median_s)
    slow = verdict(1.0, 1.9, 0.0, 2, 0.05, False, slow_level=result.level)
    assert slow.quality == "noisy" and "slower speed level" in slow.reason


def test_a_slow_model_gets_the_rounds_its_time_budget_fills_but_at_least_two():
    p = Protocol(device="cpu", rounds=8, min_iters=5, max_iters=50, max_seconds=10.0)
    assert rounds_module._planned(p, call_s=0.005) == 8  # B0: as asked
    assert rounds_module._planned(p, call_s=0.5) == 6  # 10 s fill six rounds of 3
    assert rounds_module._planned(p, call_s=3.0) == 2  # B7 at 600 px: two, not eight
    assert rounds_module._planned(p, call_s=None) == 8  # no warm-up to judge by
    assert rounds_module._planned(Protocol(device="cpu", max_iters=5), call_s=0.001) == 1


def test_rounds_that_disagree_are_noisy_with_the_reason_and_agreeing_ones_clean():
    disagree = verdict(1.0, 1.9, 0.0, 2, 0.05, False, rounds_spread=1.3)
    assert disagree.quality == "noisy" and "rounds disagree" in disagree.reason
    assert "1.30×" in disagree.reason
    agree = verdict(1.0, 1.9, 0.0, 2, 0.05, False, rounds_spread=1.04)
    assert agree.quality == "clean", agree.reason


def test_an_operator_may_accept_more_disagreement_and_a_bad_setting_is_refused(monkeypatch):
    monkeypatch.delenv(AGREE_ENV, raising=False)
    assert verdict(1.0, 1.9, 0.0, 2, 0.05, False, rounds_spread=1.2).quality == "noisy"
    monkeypatch.setenv(AGREE_ENV, "1.3")  # read when judged (in the measuring process)
    relaxed = verdict(1.0, 1.9, 0.0, 2, 0.05, False, rounds_spread=1.2)
    assert relaxed.quality == "clean", relaxed.reason
    still = verdict(1.0, 1.9, 0.0, 2, 0.05, False, rounds_spread=1.35)
    assert still.quality == "noisy" and "accepted ≤ 1.30×" in still.reason
    for bad in ("fast", "0.9", "3", "nan"):
        monkeypatch.setenv(AGREE_ENV, bad)
        with pytest.raises(ZooError, match=rf"{AGREE_ENV}=.*1\.0 to 2\.0"):
            verdict(1.0, 1.9, 0.0, 2, 0.05, False, rounds_spread=1.0)


def test_a_protocol_too_short_for_two_rounds_is_one_run_without_a_probe():
    def never() -> float:
        raise AssertionError("a single run takes no probe")

    result, probes = time_rounds(lambda: None, protocol(min_iters=3, max_iters=5), probe=never)
    assert (len(result.used), probes, result.level) == (1, [], None)
    assert len(result.samples) >= 3


def test_every_round_has_enough_samples_to_take_a_median():
    # 20 rounds asked for 20 iterations: rounds of one sample are not made.
    machine = Machine([1.0])
    result, _ = time_rounds(machine.call, protocol(rounds=20), probe=machine.probe)
    assert all(len(r.samples) >= rounds_module.MIN_ROUND_SAMPLES for r in result.used)


def test_the_fast_level_comes_from_the_machine_s_own_record_and_a_bad_file_is_ignored(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert reference_level(2) is None  # nothing recorded yet in this test's data dir
    remember_probes(2, [3.0] * 5 + [4.0] * 30)
    assert reference_level(2) == pytest.approx(3.0, rel=0.1)  # a low percentile: the fast level
    assert reference_level(1) is None  # kept per thread count
    path = rounds_module._probe_file()
    path.write_text("not json")
    assert reference_level(2) is None
    path.write_text(json.dumps({"2": ["x", -1, None, 3.0] * 20, "1": "oops"}))
    assert reference_level(2) == pytest.approx(3.0)  # only the positive numbers count
    remember_probes(2, [float(i) for i in range(1, 1000)])
    assert len(json.loads(path.read_text())["2"]) == rounds_module._KEPT


@pytest.mark.parametrize("bad", [0, -1, 1001, 2.5, True, "5"])
def test_the_rounds_of_a_protocol_are_a_whole_number_from_1_to_1000(bad):
    with pytest.raises(ZooError, match="rounds"):
        Protocol(device="cpu", rounds=bad)
    assert Protocol(device="cpu", rounds=1).rounds == 1  # and good ones pass
    assert Protocol(device="cpu", rounds=1000).rounds == 1000


def test_a_protocol_of_one_round_keeps_the_key_results_had_before_rounds():
    one = Protocol(device="cpu", threads=2, rounds=1)
    old_key = protocol_key({k: v for k, v in vars(one).items() if k != "rounds"})
    assert protocol_key(one) == old_key
    assert protocol_key(Protocol(device="cpu", threads=2)) != old_key  # rounds=5 is new


def test_the_report_shows_rounds_used_set_aside_and_their_spread():
    from tests.fakes import fake_measurement

    row = fake_measurement(rounds_used=5, rounds_set_aside=2, round_spread=1.04)
    old = fake_measurement()
    text = format_measurements([row, old], "table")
    header, new, before = text.splitlines()[:3]
    at = header.index("rounds") + len("rounds")
    assert new[:at].endswith("5+2 slow ±2%")
    assert before[:at].endswith(" -")  # a single run from before rounds


def test_the_reference_is_the_fast_level_s_typical_probe_not_its_luckiest(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    one_level = [2.9 + 0.005 * i for i in range(100)]  # 2.9 … 3.4 ms: one level, wandering
    remember_probes(2, one_level)
    assert reference_level(2) == pytest.approx(3.15, abs=0.03)  # its middle: figures as timed
    two_levels = [3.0 + 0.001 * i for i in range(100)] + [3.9 + 0.001 * i for i in range(100)]
    remember_probes(1, two_levels)
    assert reference_level(1) == pytest.approx(3.05, abs=0.03)  # the fast level's middle
