"""What a measurement produced: the latency statistics and the stored record.

A leaf of value types (no torch, no I/O) so that the store, the queue, the dashboard and the
timing code share one record; the fields are described in docs/benchmarks.md.
"""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass, fields
from typing import Any, Literal

from zoo.records.runtimes import REFERENCE_RUNTIME

__all__ = [
    "LatencyStats",
    "Measurement",
    "MeasurementError",
    "PeakMemoryKind",
    "summarize_latencies",
]

PeakMemoryKind = Literal["cuda_max_allocated", "worker_peak_rss"]


class MeasurementError(RuntimeError):
    """A measurement that ran and failed (out of memory on the device, a crashed process)."""


@dataclass(frozen=True)
class LatencyStats:
    """Per-batch latencies of the timed iterations, summarized."""

    latency_ms_median: float
    latency_ms_p90: float
    latency_ms_mean: float
    latency_ms_std: float  # sample standard deviation; 0 for a single iteration
    throughput_ips: float  # images per second over the timed iterations
    iterations: int
    total_s: float
    latency_ms_min: float = 0.0  # the fastest iteration: least disturbed by background load


def summarize_latencies(seconds: list[float], batch_size: int) -> LatencyStats:
    """Median, p90, mean, std (ms) and throughput (images/s) of per-batch latencies.

    >>> s = summarize_latencies([0.010, 0.012, 0.011, 0.020], batch_size=2)
    >>> round(s.latency_ms_median, 3), round(s.latency_ms_p90, 3), round(s.throughput_ips, 1)
    (11.5, 17.6, 150.9)
    """
    if not seconds:
        raise ValueError("no timed iterations")
    ms = [s * 1000.0 for s in seconds]
    total_s = sum(seconds)
    p90 = ms[0] if len(ms) == 1 else statistics.quantiles(ms, n=10, method="inclusive")[8]
    return LatencyStats(
        latency_ms_median=statistics.median(ms),
        latency_ms_p90=p90,
        latency_ms_mean=statistics.fmean(ms),
        latency_ms_std=statistics.stdev(ms) if len(ms) > 1 else 0.0,
        throughput_ips=batch_size * len(ms) / total_s if total_s > 0 else float("inf"),
        iterations=len(ms),
        total_s=total_s,
        latency_ms_min=min(ms),
    )


@dataclass(frozen=True)
class Measurement:
    """One measured (or stored) result, with its protocol and environment."""

    model: str
    resolution: int
    params: int
    macs: int
    macs_backend: str
    batch_size: int
    precision: str
    device: str
    device_name: str
    channels_last: bool
    latency_ms_median: float
    latency_ms_p90: float
    latency_ms_mean: float
    latency_ms_std: float
    throughput_ips: float
    iterations: int
    warmup_iters: int
    peak_memory_mb: float
    peak_memory_kind: str  # "cuda_max_allocated" | "worker_peak_rss"
    cpu_model: str
    threads: int
    torch_version: str
    timm_version: str
    measured_at: str  # ISO 8601, UTC
    from_store: bool = False
    family: str = ""
    kind: str = ""
    worker_rss_before_build_mb: float | None = None  # CPU: the worker before building the model
    latency_ms_min: float = 0.0
    min_iters: int = 0
    max_iters: int = 0
    max_seconds: float = 0.0
    environment_key: str = ""
    # The runtime (rows from before runtimes existed are eager, verified by definition).
    runtime: str = REFERENCE_RUNTIME
    runtime_version: str = ""  # the runtime package's version ("" for eager: torch_version)
    runtime_precision: str = ""  # the precision the runtime reports it ran in (OpenVINO: f32)
    quantize_s: float | None = None  # int8: the quantization's seconds (0: from the cache)
    calibration: str | None = None  # int8: the calibration images' digest (the protocol's)
    export_s: float | None = None  # ONNX export (0 when the cached artefact was used)
    compile_s: float | None = None  # session creation, compile_model, torch.compile, TRT build
    artifact_cached: bool | None = None  # whether the export came from the on-disk cache
    # Equivalence with eager fp32 on the same weights and inputs (zoo.runtimes.equivalence).
    verified: bool = True
    equiv_max_abs: float | None = None
    equiv_max_rel: float | None = None  # max |runtime − eager| / max |eager|
    equiv_top1_pct: float | None = None  # top-1 agreement on the check inputs, %
    equiv_inputs: str = ""  # what the check ran on
    # Was the machine quiet while timing (zoo.measure.quiet)? "" for rows from before the verdict.
    quality: str = ""  # "clean" or "noisy"
    quality_reason: str = ""
    others_cores: float | None = None  # CPU the rest of the machine used, in cores
    cpu_share: float | None = None  # this run's CPU time / (wall time × threads)
    spread: float | None = None  # (p90 − median) / median
    # Which machine (a shared store holds many; "" for rows from before these were recorded).
    host: str = ""  # the host name
    node: str = ""  # the cluster node's name it was measured as (zoo.workers.ray_dispatch), else ""
    gpu_driver: str = ""  # the NVIDIA driver's version on CUDA
    # Repeatability (zoo.measure.rounds); rows from before rounds were a single run. With a probe
    # the latency statistics are at the machine's reference speed (each round scaled by its
    # probe); ``latency_ms_measured`` is the median as timed.
    rounds: int = 1  # the protocol's rounds
    rounds_used: int = 0  # rounds the figure comes from
    rounds_set_aside: int = 0  # rounds at a slow level (over SLOW_LEVEL), not used
    round_spread: float | None = None  # the slowest used round's median over the fastest's
    speed_level: float | None = None  # the used rounds' probe over the reference (median)
    probe_ms: float | None = None  # the machine's reference level for the probe, in ms
    latency_ms_measured: float | None = None  # the median as timed, before scaling

    @property
    def noisy(self) -> bool:
        return self.quality == "noisy"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Measurement:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})
