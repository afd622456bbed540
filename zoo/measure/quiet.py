"""Was the machine quiet while we timed? A verdict measured during every run, and a bounded wait
for a quiet machine before timing.

Why: with two threads on two cores one descheduled thread stalls every parallel region (measured
here: another process keeping one core busy turned B0's 30 ms into 1,680 ms, and the result
looked like any other). A noisy run has its reason stored, is flagged in every output and is
never served from the store as clean. The figures and thresholds: docs/architecture.md, 'Notes
by module'.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass

from zoo.measure.rounds import SLOW_LEVEL, agree_limit

__all__ = [
    "MAX_OTHERS_CORES",
    "MAX_SPREAD",
    "MIN_CPU_SHARE",
    "LoadProbe",
    "Quality",
    "others_cores_now",
    "verdict",
    "wait_for_quiet",
]

MAX_OTHERS_CORES = 0.25
#: Below this much CPU time taken by others a loop is not called noisy, however short it was:
#: in a 60 ms loop, 20 ms of a neighbour's bookkeeping is 0.3 cores and changes nothing.
MIN_OTHERS_CPU_S = 0.1
MIN_CPU_SHARE = 0.3
MAX_SPREAD = 1.0


@dataclass(frozen=True)
class Quality:
    """The verdict on one timed loop, with the figures it rests on."""

    quality: str  # "clean" or "noisy"
    reason: str
    others_cores: float
    cpu_share: float
    spread: float

    def as_fields(self) -> dict[str, object]:
        return {
            "quality": self.quality,
            "quality_reason": self.reason,
            "others_cores": self.others_cores,
            "cpu_share": self.cpu_share,
            "spread": self.spread,
        }


def _busy(times: object) -> float:
    """Busy seconds in a psutil ``cpu_times`` result (everything but idle and iowait)."""
    fields = getattr(times, "_fields", ())
    return sum(
        getattr(times, f) for f in fields if f not in ("idle", "iowait", "guest", "guest_nice")
    )


class LoadProbe:
    """CPU counters around a stretch of work: ``start()``, the work, ``stop()``."""

    def start(self) -> LoadProbe:
        import psutil

        self._process = psutil.Process()
        self._own = sum(self._process.cpu_times()[:2])
        self._system = _busy(psutil.cpu_times())
        self._wall = time.perf_counter()
        return self

    def stop(self) -> tuple[float, float, float]:
        """(wall seconds, this process's CPU seconds, the others' CPU seconds)."""
        import psutil

        wall = time.perf_counter() - self._wall
        own = sum(self._process.cpu_times()[:2]) - self._own
        system = _busy(psutil.cpu_times()) - self._system
        return wall, own, max(0.0, system - own)


def verdict(
    wall_s: float,
    own_cpu_s: float,
    others_cpu_s: float,
    threads: int,
    spread: float,
    on_cuda: bool,
    *,
    rounds_spread: float | None = None,
    slow_level: float | None = None,
) -> Quality:
    """Clean or noisy, and why. ``rounds_spread``: the used rounds' slowest median over their
    fastest, scaled (they must agree within ``agree_limit()``); ``slow_level``: set when too few
    rounds ran at an acceptable speed level, the level they ran at.

    >>> verdict(1.0, 1.8, 0.05, 2, 0.1, False).quality
    'clean'
    >>> q = verdict(1.0, 0.1, 0.9, 2, 0.2, False)
    >>> q.quality, q.reason
    ('noisy', 'other processes used 0.90 cores (accepted ≤ 0.25); this run got 5% of its 2 threads (accepted ≥ 30%)')
    """
    wall_s = max(wall_s, 1e-9)
    others = others_cpu_s / wall_s
    share = own_cpu_s / (wall_s * max(threads, 1))
    reasons = []
    if not on_cuda:
        if others > MAX_OTHERS_CORES and others_cpu_s > MIN_OTHERS_CPU_S:
            reasons.append(
                f"other processes used {others:.2f} cores (accepted ≤ {MAX_OTHERS_CORES})"
            )
        if share < MIN_CPU_SHARE:
            reasons.append(
                f"this run got {share:.0%} of its {threads} threads (accepted ≥ {MIN_CPU_SHARE:.0%})"
            )
    if spread > MAX_SPREAD:
        reasons.append(f"p90 is {1 + spread:.1f}× the median (accepted ≤ {1 + MAX_SPREAD:.1f}×)")
    if slow_level is not None:
        reasons.append(
            f"the machine stayed at a slower speed level: its probe ran {slow_level:.2f}× its "
            f"reference (accepted ≤ {SLOW_LEVEL:.2f}×)"
        )
    agree = agree_limit()
    if rounds_spread is not None and rounds_spread > agree:
        reasons.append(
            f"its rounds disagree: the slowest round's median (scaled to the reference speed) "
            f"is {rounds_spread:.2f}× the fastest's (accepted ≤ {agree:.2f}×)"
        )
    return Quality(
        quality="noisy" if reasons else "clean",
        reason="; ".join(reasons) or "quiet machine, steady samples",
        others_cores=others,
        cpu_share=share,
        spread=spread,
    )


def others_cores_now(seconds: float = 1.0) -> float:
    """Cores the rest of the machine is using, measured over ``seconds`` (this process's own CPU
    time excluded: it is idle while it waits; its idle fork server counts for nothing)."""
    import psutil

    me = psutil.Process(os.getpid())
    start_own, start_system = sum(me.cpu_times()[:2]), _busy(psutil.cpu_times())
    t0 = time.perf_counter()
    time.sleep(seconds)
    wall = time.perf_counter() - t0
    own = sum(me.cpu_times()[:2]) - start_own
    return max(0.0, (_busy(psutil.cpu_times()) - start_system) - own) / wall


def wait_for_quiet(
    max_wait_s: float,
    on_busy: Callable[[float, float], None] | None = None,
    *,
    probe_s: float = 0.5,
) -> float:
    """Wait, at most ``max_wait_s``, until others use ≤ ``MAX_OTHERS_CORES`` cores; return the
    last figure. ``on_busy(cores, waited_s)`` is told each time the machine is found busy."""
    started = time.monotonic()
    while True:
        cores = others_cores_now(probe_s)
        waited = time.monotonic() - started
        if cores <= MAX_OTHERS_CORES or waited >= max_wait_s:
            return cores
        if on_busy is not None:
            on_busy(cores, waited)
