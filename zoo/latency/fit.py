"""The latency model itself: non-negative coefficients per feature, fitted to measured
latencies by least squares on the *relative* error, and back-tested by leave-one-out.

Why non-negative and relative: every feature costs time (a negative coefficient would be a fit
to noise), and a user asks "within 10 %?", which weighs a 2 ms and a 200 ms network alike.
The interval and back-test: docs/latency-model.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from explorer import ScaledNetwork
from zoo.errors import ZooError
from zoo.latency.features import network_features, part_features

#: Fewer points than this give no model (five coefficients and a held-out point need more).
MIN_POINTS = 7
#: How much one profiled part's equation weighs against a whole-model measurement's.
PART_WEIGHT = 0.5

__all__ = [
    "MIN_POINTS",
    "PART_WEIGHT",
    "BackTest",
    "Part",
    "LatencyModel",
    "fit_latency_model",
    "solve",
]


@dataclass(frozen=True)
class BackTest:
    """Leave-one-out: each point predicted by a model fitted without it."""

    points: int
    within_10_pct: float  # share of held-out points within ±10 %, in %
    within_5_pct: float
    mape_pct: float  # mean absolute percentage error
    low: float  # the 10th percentile of the held-out relative errors (e.g. -0.06)
    high: float  # the 90th


@dataclass(frozen=True)
class Part:
    """One profiled part of a calibration point: its features and measured ms (``point``: the
    index of the whole-model measurement it belongs to, held out with it in the back-test)."""

    point: int
    features: tuple[float, ...]
    ms: float


@dataclass(frozen=True)
class LatencyModel:
    """Milliseconds per unit of each feature, for one (machine, runtime, precision, batch)."""

    machine: str  # the environment key of the measurements (CPU, threads, versions)
    host: str
    device_name: str
    runtime: str
    precision: str
    batch_size: int
    coefficients: tuple[float, ...]
    backtest: BackTest
    models: tuple[str, ...] = field(default=())  # what it was fitted on (name@px)
    fitted_at: str = ""
    profiled: tuple[str, ...] = field(default=())  # of those, whose per-part profile was used

    def predict_ms(self, network: ScaledNetwork) -> float:
        """The predicted median latency of one call (``batch_size`` images), in ms."""
        row = network_features(network, self.batch_size, self.precision)
        return sum(c * x for c, x in zip(self.coefficients, row, strict=True))

    def interval_ms(self, predicted_ms: float) -> tuple[float, float]:
        """Where 80 % of held-out measurements fell around a prediction of ``predicted_ms``:
        the measured value m satisfies (predicted - m) / m in [low, high]."""
        return predicted_ms / (1 + self.backtest.high), predicted_ms / (1 + self.backtest.low)

    def parts_ms(self, network: ScaledNetwork) -> dict[str, float]:
        """The prediction split over the parts (the call's fixed cost is a part of its own)."""
        rows = part_features(network, self.batch_size, self.precision)
        return {
            part: sum(c * x for c, x in zip(self.coefficients, row, strict=True))
            for part, row in rows.items()
        }


def solve(
    rows: list[list[float]], latencies: list[float], parts: list[Part] = ()
) -> tuple[float, ...]:
    """Non-negative least squares on the relative error: min Σ ((x·c − y) / y)², c ≥ 0; each
    profiled part adds ``PART_WEIGHT`` · (x_p·c − y_p) / y, relative to its whole point's y."""
    import numpy as np
    from scipy.optimize import nnls

    x = np.asarray(rows, dtype=float)
    y = np.asarray(latencies, dtype=float)
    a, b = x / y[:, None], np.ones_like(y)
    if parts:
        whole = np.asarray([latencies[p.point] for p in parts])
        weight = PART_WEIGHT / whole
        a = np.vstack([a, np.asarray([p.features for p in parts]) * weight[:, None]])
        b = np.concatenate([b, np.asarray([p.ms for p in parts]) * weight])
    scale = np.abs(a).max(axis=0)
    scale[scale == 0] = 1.0
    coefficients, _ = nnls(a / scale, b)
    return tuple(float(c) for c in coefficients / scale)


def _backtest(rows: list[list[float]], latencies: list[float], parts: list[Part] = ()) -> BackTest:
    errors = []
    for held in range(len(rows)):
        keep = [i for i in range(len(rows)) if i != held]
        renumber = {old: new for new, old in enumerate(keep)}
        kept_parts = [Part(renumber[p.point], p.features, p.ms) for p in parts if p.point != held]
        c = solve([rows[i] for i in keep], [latencies[i] for i in keep], kept_parts)
        predicted = sum(a * b for a, b in zip(c, rows[held], strict=True))
        errors.append((predicted - latencies[held]) / latencies[held])
    ordered = sorted(errors)

    def quantile(q: float) -> float:
        position = q * (len(ordered) - 1)
        low, high = math.floor(position), math.ceil(position)
        return ordered[low] + (ordered[high] - ordered[low]) * (position - low)

    n = len(errors)
    return BackTest(
        points=n,
        within_10_pct=100.0 * sum(abs(e) <= 0.10 for e in errors) / n,
        within_5_pct=100.0 * sum(abs(e) <= 0.05 for e in errors) / n,
        mape_pct=100.0 * sum(abs(e) for e in errors) / n,
        low=quantile(0.1),
        high=quantile(0.9),
    )


def fit_latency_model(
    points: list[tuple[ScaledNetwork, float]],
    *,
    machine: str,
    host: str,
    device_name: str,
    runtime: str,
    precision: str,
    batch_size: int,
    models: tuple[str, ...] = (),
    fitted_at: str = "",
    parts: list[Part] = (),
    profiled: tuple[str, ...] = (),
) -> LatencyModel:
    """Fit to ``points`` (network, measured median ms), at least ``MIN_POINTS`` of them, and to
    the profiled ``parts`` of some of them (``profiled`` names those)."""
    if len(points) < MIN_POINTS:
        raise ZooError(
            f"a latency model needs at least {MIN_POINTS} measured EfficientNet configurations "
            f"for {runtime} {precision} batch {batch_size}; this store has {len(points)}: run "
            f"python -m zoo calibrate --runtime {runtime}"
        )
    rows = [network_features(net, batch_size, precision) for net, _ in points]
    latencies = [ms for _, ms in points]
    if any(not (math.isfinite(ms) and ms > 0) for ms in latencies):
        raise ZooError("a latency model needs positive, finite latencies")
    return LatencyModel(
        machine=machine,
        host=host,
        device_name=device_name,
        runtime=runtime,
        precision=precision,
        batch_size=batch_size,
        coefficients=solve(rows, latencies, list(parts)),
        backtest=_backtest(rows, latencies, list(parts)),
        models=models,
        fitted_at=fitted_at,
        profiled=profiled,
    )
