"""How long a queued measurement will take, from what this store has seen: the fixed cost of a
job on its runtime (process, export, compile, check) plus its timed loop, whose length follows
the protocol's bounds and a latency scaled from earlier measurements by MACs.

Why MACs: a job's time is not one number per runtime (EfficientNet-L2 at 800 px takes minutes
where B0 takes seconds); the queue's ETA and the per-visitor cap need the difference. An
estimate, labelled as one wherever it is shown.
"""

from __future__ import annotations

import json
import statistics
from datetime import datetime

from zoo.models.spec import ModelSpec, network_for
from zoo.records.protocol import Protocol
from zoo.records.runtimes import get_runtime
from zoo.store.measurement_store import MeasurementStore

__all__ = ["estimate_seconds", "gmacs_of"]

# Jobs of the runtime looked at (newest first).
_RECENT = 30
#: Seconds per GMAC per image before this store has timed anything on a runtime: about what
#: eager PyTorch takes on one core of a current server CPU (B0: 20 ms).
FIRST_S_PER_GMAC = 0.05


def gmacs_of(spec: ModelSpec) -> float:
    """The network's GMACs per image: exact from the explorer for EfficientNets, else counted
    on the meta device (no memory; a fraction of a second, cached)."""
    network = network_for(spec)
    if network is not None:
        return network.macs / 1e9
    from zoo.models.complexity import count_complexity

    return count_complexity(spec).macs / 1e9


def _loop_seconds(latency_s: float, protocol: Protocol) -> float:
    """The timed loop's length for a latency: warm-up, then iterations bounded by count and by
    ``max_seconds``; plus the equivalence check's few forwards."""
    iterations = min(protocol.max_iters, max(protocol.min_iters, protocol.max_seconds / latency_s))
    return (protocol.warmup_iters + iterations + 8) * latency_s


def estimate_seconds(
    store: MeasurementStore, protocol: Protocol, spec: ModelSpec | None = None
) -> float:
    """Seconds a job will take: with ``spec``, a fixed cost per job (the median, over recent
    finished jobs on this runtime, of their time beyond the loop) plus the loop at a latency
    scaled by MACs from those jobs (no history: ``FIRST_S_PER_GMAC`` and the runtime's first
    estimate); without ``spec``, their median time."""
    rows = store.db.execute(
        "SELECT started_at, finished_at, result FROM jobs WHERE state = 'done' AND protocol "
        "LIKE ? AND started_at IS NOT NULL AND finished_at IS NOT NULL AND result IS NOT NULL "
        f"ORDER BY id DESC LIMIT {_RECENT}",
        (f'%"runtime": "{protocol.runtime}"%',),
    )
    spans, per_gmac, overheads = [], [], []
    for started, finished, result in rows:
        span = (datetime.fromisoformat(finished) - datetime.fromisoformat(started)).total_seconds()
        spans.append(span)
        try:
            record = json.loads(result)
            latency_s = float(record["latency_ms_median"]) / 1000
            gmacs = float(record["macs"]) / 1e9 * int(record["batch_size"])
        except (TypeError, ValueError, KeyError):
            continue
        if latency_s > 0 and gmacs > 0 and not record.get("from_store"):
            per_gmac.append(latency_s / gmacs)
            overheads.append(max(0.0, span - _loop_seconds(latency_s, protocol)))
    if spec is None:
        if not spans:
            return get_runtime(protocol.runtime).first_estimate_s
        return max(1.0, statistics.median(spans))
    if per_gmac:
        s_per_gmac, overhead = statistics.median(per_gmac), statistics.median(overheads)
    else:
        s_per_gmac, overhead = FIRST_S_PER_GMAC, get_runtime(protocol.runtime).first_estimate_s
    latency_s = s_per_gmac * gmacs_of(spec) * protocol.batch_size
    return max(1.0, overhead + _loop_seconds(latency_s, protocol))
