"""The timed loop in rounds, a speed probe around each, so that a figure repeats on a machine
whose speed drifts for reasons no process can see.

Why: on a shared virtual machine a median moved by up to 1.4× between runs, every run rated
clean. A fixed kernel (``probe_ms``) timed around each round gives that round's speed level
against the machine's reference (a low percentile of its recorded probes); each round is scaled
to the reference level, rounds far off it are set aside. docs/benchmarks.md, 'Rounds'.
"""

from __future__ import annotations

import json
import math
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from zoo.errors import ZooError
from zoo.paths import data_dir
from zoo.records.protocol import Protocol

__all__ = [
    "AGREE",
    "AGREE_ENV",
    "MIN_ROUND_SAMPLES",
    "SLOW_LEVEL",
    "RoundsResult",
    "agree_limit",
    "probe_ms",
    "reference_level",
    "remember_probes",
    "time_rounds",
]

#: A round whose probe ran slower than this factor of the reference is set aside: scaling it
#: would extrapolate (two levels about 1.3× apart were seen here).
SLOW_LEVEL = 1.25
#: Scaled rounds used for a figure must agree: the slowest within this factor of the fastest,
#: else the result is flagged.
AGREE = 1.10
#: An operator whose machine is noisier may accept more (read when a result is judged, in the
#: measuring process): a factor from 1.0 to ``_AGREE_MAX``.
AGREE_ENV, _AGREE_MAX = "EFFSCALE_ROUNDS_AGREE", 2.0
#: Rounds at an acceptable level wanted before a measurement stops (fewer when the protocol
#: allows fewer rounds in all).
NEEDED = 3
#: At most this many times the planned rounds are run while waiting for acceptable ones.
EXTRA_ROUNDS = 3
#: After a round at a slow level the next waits this long, doubling, up to ``SLOW_WAIT_S`` in
#: all: the rounds spread over time, for the slow level to pass.
SLOW_PAUSE_S, SLOW_WAIT_S = 0.25, 8.0
#: A round's median is taken over at least this many samples; a protocol whose iterations
#: cannot fill two such rounds is timed as one run.
MIN_ROUND_SAMPLES = 3
#: Before 20 probes are recorded, this many are taken at once to set the reference level.
_CALIBRATION = 20
# The probe: a 384×384 fp32 matmul, 10 times, best of 3 (about 3 ms on a 2-core server CPU).
_PROBE_N, _PROBE_REPS, _PROBE_TRIES = 384, 10, 3
# Probes kept per thread count; the fast level's probes: within _FAST_CLUSTER × their 10th
# percentile (one level's probes wander about ±5 %; two levels were 1.3× apart).
_KEPT, _PERCENTILE, _FAST_CLUSTER = 400, 10, 1.15


@dataclass(frozen=True)
class Round:
    samples: tuple[float, ...]  # seconds per batch, as timed
    level: float | None  # the probes around it (their mean) over the reference (None: no probe)
    scaled: bool = True  # False: used as timed (a level too far off to scale by)

    @property
    def median_s(self) -> float:
        return statistics.median(self.samples)

    @property
    def scale(self) -> float:
        """What turns this round's times into times at the reference level."""
        return 1.0 / self.level if self.level and self.scaled else 1.0


@dataclass(frozen=True)
class RoundsResult:
    """The rounds a figure was taken from, and what was set aside."""

    used: tuple[Round, ...]
    set_aside: int  # rounds at a slow level, not used
    steady: bool  # whether enough rounds ran at an acceptable level (else all are used)
    reference_ms: float | None  # the reference level the probes were compared with

    @property
    def samples(self) -> list[float]:
        """Every used sample, scaled to the reference level."""
        return [s * r.scale for r in self.used for s in r.samples]

    @property
    def median_s(self) -> float:
        """The figure: the median of the used rounds' medians, each at the reference level."""
        return statistics.median(r.median_s * r.scale for r in self.used)

    @property
    def measured_median_s(self) -> float:
        """The same, unscaled: the median of the used rounds' medians as timed."""
        return statistics.median(r.median_s for r in self.used)

    @property
    def spread(self) -> float:
        """The slowest used round over the fastest, scaled (1.0: they agree exactly)."""
        medians = [r.median_s * r.scale for r in self.used]
        return max(medians) / max(min(medians), 1e-12)

    @property
    def level(self) -> float | None:
        """The speed level the rounds ran at: their median probe over the reference."""
        levels = [r.level for r in self.used if r.level is not None]
        return statistics.median(levels) if levels else None


def agree_limit() -> float:
    """How far the used rounds may disagree: ``AGREE``, or ``EFFSCALE_ROUNDS_AGREE`` when set."""
    raw = os.environ.get(AGREE_ENV, "").strip()
    if not raw:
        return AGREE
    try:
        limit = float(raw)
    except ValueError:
        limit = math.nan
    if not 1.0 <= limit <= _AGREE_MAX:
        raise ZooError(
            f"{AGREE_ENV}={raw!r} is not accepted: the slowest round's median over the fastest's, "
            f"a number from 1.0 to {_AGREE_MAX} (default {AGREE})"
        )
    return limit


def probe_ms(threads: int) -> float:
    """Milliseconds of the fixed reference kernel on ``threads`` threads (best of 3)."""
    import torch

    torch.set_num_threads(threads)
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(_PROBE_N, _PROBE_N, generator=generator)
    b = torch.randn(_PROBE_N, _PROBE_N, generator=generator)
    best = math.inf
    for _ in range(_PROBE_TRIES):
        start = time.perf_counter()
        for _ in range(_PROBE_REPS):
            torch.mm(a, b)
        best = min(best, time.perf_counter() - start)
    return best * 1000


def _probe_file() -> Path:
    return data_dir() / "speed-probes.json"


def _read() -> dict[str, list[float]]:
    try:
        data = json.loads(_probe_file().read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {
        str(k): [float(v) for v in vs if isinstance(v, int | float) and v > 0]
        for k, vs in data.items()
        if isinstance(vs, list)
    }


def reference_level(threads: int, *, calibrate: bool = False) -> float | None:
    """This machine's reference level for the probe on ``threads`` threads: the median of its
    recorded probes at the fast level (within ``_FAST_CLUSTER`` × their 10th percentile); None
    before 20 were recorded (``calibrate``: take them now instead)."""
    kept = _read().get(str(threads), [])
    if len(kept) < _CALIBRATION:
        if not calibrate:
            return None
        fresh = [probe_ms(threads) for _ in range(_CALIBRATION)]
        remember_probes(threads, fresh)
        kept = kept + fresh
    low = statistics.quantiles(kept, n=100, method="inclusive")[_PERCENTILE - 1]
    return statistics.median(p for p in kept if p <= low * _FAST_CLUSTER)


def remember_probes(threads: int, values: list[float]) -> None:
    """Add a measurement's probes to the machine's record (the newest ``_KEPT`` are kept)."""
    if not values:
        return
    data = _read()
    data[str(threads)] = (data.get(str(threads), []) + list(values))[-_KEPT:]
    path = _probe_file()
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{os.getpid()}")
        partial.write_text(json.dumps(data))
        os.replace(partial, path)
    except OSError:
        pass  # a record we cannot keep costs only the reference level of later runs


def _round(
    call: Callable[[], object],
    sync: Callable[[], None],
    batches_per_call: int,
    min_iters: int,
    max_iters: int,
    seconds: float,
) -> list[float]:
    samples: list[float] = []
    timed = 0.0
    while len(samples) < max_iters:
        sync()
        t0 = time.perf_counter()
        call()
        sync()
        elapsed = time.perf_counter() - t0
        samples.append(elapsed / batches_per_call)
        timed += elapsed
        if len(samples) >= min_iters and timed >= seconds:
            break
    return samples


def _acceptable(level: float | None) -> bool:
    return level is None or level <= SLOW_LEVEL


def _planned(protocol: Protocol, call_s: float | None) -> int:
    """Rounds for this protocol: as asked, each of at least ``MIN_ROUND_SAMPLES`` iterations,
    and (a slow model) no more than its time budget fills, but two where the iterations allow."""
    by_iters = protocol.max_iters // MIN_ROUND_SAMPLES
    planned = min(protocol.rounds, by_iters)
    if call_s and call_s > 0:
        planned = min(planned, max(2, int(protocol.max_seconds / (MIN_ROUND_SAMPLES * call_s))))
    return max(1, min(planned, by_iters))


def time_rounds(
    call: Callable[[], object],
    protocol: Protocol,
    *,
    sync: Callable[[], None] = lambda: None,
    batches_per_call: int = 1,
    probe: Callable[[], float] | None = None,
    reference_ms: float | None = None,
) -> tuple[RoundsResult, list[float]]:
    """Warm up, then time the protocol's rounds (``_planned``; its iteration and time bounds
    shared between them), ``probe`` timed before the first and after each. Rounds whose probes
    ran over ``SLOW_LEVEL`` × the reference (``reference_ms``, else this run's best probe) are
    set aside, the next one waiting a little (``SLOW_PAUSE_S``, doubling, ``SLOW_WAIT_S`` in
    all); while fewer than ``NEEDED`` are acceptable, more are run, up to ``EXTRA_ROUNDS`` × as
    many; when still too few, every round is used as timed (not scaled). One round is a plain
    run: no probe. Returns the rounds and every probe taken."""
    call_s = None
    for _ in range(protocol.warmup_iters):
        started = time.perf_counter()
        call()
        sync()
        call_s = (time.perf_counter() - started) / max(batches_per_call, 1)
    sync()
    planned = _planned(protocol, call_s)
    if planned == 1:
        probe = None
    max_per = max(1, math.ceil(protocol.max_iters / planned))
    min_per = max(1, math.ceil(protocol.min_iters / planned))
    if planned > 1:
        min_per = min(max_per, max(min_per, MIN_ROUND_SAMPLES))
    seconds = protocol.max_seconds / planned
    needed = min(NEEDED, planned)
    probes: list[float] = [probe()] if probe else []
    rounds: list[tuple[list[float], float | None]] = []
    levels: list[float | None] = []
    good: list[int] = []
    reference = reference_ms
    pause, waited = SLOW_PAUSE_S, 0.0
    while True:
        if probe and levels and not _acceptable(levels[-1]) and waited < SLOW_WAIT_S:
            wait = min(pause, SLOW_WAIT_S - waited)  # let the slow level pass, then look again
            time.sleep(wait)
            waited, pause = waited + wait, pause * 2
            call()  # untimed: caches and clocks cool during a pause
            sync()
            probes.append(probe())
        samples = _round(call, sync, batches_per_call, min_per, max_per, seconds)
        around = None
        if probe:
            probes.append(probe())
            around = (probes[-2] + probes[-1]) / 2  # the probes right before and right after
        rounds.append((samples, around))
        reference = reference_ms or (min(probes) if probes else None)
        levels = [None if p is None or not reference else p / reference for _, p in rounds]
        good = [i for i, level in enumerate(levels) if _acceptable(level)]
        if len(rounds) >= planned and (
            len(good) >= needed or len(rounds) >= planned * EXTRA_ROUNDS
        ):
            break
    steady = len(good) >= needed
    if steady:
        used = tuple(Round(tuple(rounds[i][0]), levels[i]) for i in good)
    else:  # every round, as timed: scaling by a level this far off would extrapolate
        used = tuple(
            Round(tuple(r[0]), level, False) for r, level in zip(rounds, levels, strict=True)
        )
    chosen = good if steady else list(range(len(rounds)))
    return RoundsResult(used, len(rounds) - len(chosen), steady, reference), probes
