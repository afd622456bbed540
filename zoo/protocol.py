"""The value types of a measurement: how to measure (``Protocol``) and what came out
(``LatencyStats``, ``Measurement``), with the validation every entry point shares.

A leaf module: it imports nothing of ours but the error type, so that the store, the memory guard,
the worker and the orchestration can all use these records without importing each other. The
protocol in words is in ``docs/benchmarks.md``; ``zoo.measure`` carries it out.
"""

from __future__ import annotations

import hashlib
import json
import math
import statistics
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any, Literal

from zoo.errors import ZooError

__all__ = [
    "DEVICE_CHOICES",
    "MAX_BATCH_SIZE",
    "PRECISIONS",
    "PROTOCOL_FIELDS",
    "RUNTIMES",
    "RUNTIME_CHOICES",
    "RUNTIME_DEVICES",
    "RUNTIME_PACKAGES",
    "RUNTIME_PRECISIONS",
    "LatencyStats",
    "Measurement",
    "MeasurementError",
    "PeakMemoryKind",
    "Protocol",
    "check_batch_size",
    "check_runtime",
    "check_whole_number",
    "cpu_precision_message",
    "protocol_key",
    "summarize_latencies",
]

#: Numeric precisions a measurement can run in: fp32, or bf16/fp16 autocast (CUDA only).
PRECISIONS: tuple[str, ...] = ("fp32", "bf16", "fp16")
#: Larger batches are typing mistakes; the memory guard refuses most of the range below anyway.
MAX_BATCH_SIZE = 1_000_000
DEVICE_CHOICES = "auto, cpu, cuda, cuda:N"
PeakMemoryKind = Literal["cuda_max_allocated", "worker_peak_rss"]


def check_whole_number(name: str, value: object, low: int, high: int) -> int:
    """``value`` if it is an int (not a bool) within ``[low, high]``, else ``ZooError``.

    >>> check_whole_number("threads", 2, 1, 4096)
    2
    """
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ZooError(f"{name} must be a whole number from {low} to {high}, got {value!r}")
    return value


def check_batch_size(batch_size: object) -> int:
    """The one batch-size rule (CLI, protocol and memory guard alike)."""
    return check_whole_number("batch size", batch_size, 1, MAX_BATCH_SIZE)


def cpu_precision_message(precision: str) -> str:
    return (
        f"precision {precision!r} is not supported on CPU: accepted fp32 on CPU; bf16 and fp16 "
        "(autocast) need a CUDA device"
    )


#: Inference runtimes a protocol measures with: PyTorch eager, ``torch.compile``, ONNX Runtime
#: (CPU execution provider), OpenVINO (CPU) and TensorRT (through torch-tensorrt, CUDA).
RUNTIMES: tuple[str, ...] = ("eager", "compile", "onnxruntime", "openvino", "tensorrt")
#: What the CLI and the dashboard accept: a runtime, or ``best`` (each runtime available for the
#: device, the fastest verified one reported, all of them stored).
RUNTIME_CHOICES: tuple[str, ...] = (*RUNTIMES, "best")
#: The device types each runtime runs on here. ONNX Runtime's CUDA provider (onnxruntime-gpu)
#: cannot be installed beside the CPU package (both are the module ``onnxruntime``): not offered.
RUNTIME_DEVICES: dict[str, tuple[str, ...]] = {
    "eager": ("cpu", "cuda"),
    "compile": ("cpu", "cuda"),
    "onnxruntime": ("cpu",),
    "openvino": ("cpu",),
    "tensorrt": ("cuda",),
}
#: The precisions each runtime is measured in (reduced precision needs CUDA in every case).
RUNTIME_PRECISIONS: dict[str, tuple[str, ...]] = {
    "eager": PRECISIONS,
    "compile": PRECISIONS,
    "onnxruntime": ("fp32",),
    "openvino": ("fp32",),
    "tensorrt": PRECISIONS,
}


#: The PyPI distribution each runtime needs beyond torch (``requirements.txt`` has the CPU ones;
#: ``requirements-gpu.txt`` the GPU one). Its version is part of the environment's key.
RUNTIME_PACKAGES: dict[str, str] = {
    "onnxruntime": "onnxruntime",
    "openvino": "openvino",
    "tensorrt": "torch-tensorrt",
}


def check_runtime(runtime: object, device: str, precision: str) -> str:
    """``runtime`` if it can run on ``device`` (``auto`` passes) in ``precision``, else a
    ``ZooError`` naming what is accepted.

    >>> check_runtime("openvino", "cpu", "fp32")
    'openvino'
    >>> check_runtime("tensorrt", "cpu", "fp32")
    Traceback (most recent call last):
    ...
    zoo.errors.ZooError: runtime 'tensorrt' does not run on cpu: accepted on cpu: eager, compile, onnxruntime, openvino
    """
    if runtime not in RUNTIMES:
        raise ZooError(
            f"runtime {runtime!r} is not supported: accepted {', '.join(RUNTIME_CHOICES)}"
        )
    kind = "cuda" if device.startswith("cuda") else device
    if kind != "auto" and kind not in RUNTIME_DEVICES[runtime]:
        accepted = ", ".join(r for r in RUNTIMES if kind in RUNTIME_DEVICES[r])
        raise ZooError(
            f"runtime {runtime!r} does not run on {kind}: accepted on {kind}: {accepted}"
        )
    if precision not in RUNTIME_PRECISIONS[runtime]:
        raise ZooError(
            f"runtime {runtime!r} is measured in {', '.join(RUNTIME_PRECISIONS[runtime])} here, "
            f"not {precision}: accepted runtimes for {precision}: "
            f"{', '.join(r for r in RUNTIMES if precision in RUNTIME_PRECISIONS[r])}"
        )
    return runtime


def _is_device(device: object) -> bool:
    return isinstance(device, str) and (
        device in ("auto", "cpu", "cuda") or (device.startswith("cuda:") and device[5:].isdigit())
    )


@dataclass(frozen=True)
class Protocol:
    """How to measure. Validated on creation; ``zoo.environment.resolve_protocol`` fixes ``auto``
    and the thread count."""

    device: str = "auto"  # "auto", "cpu", "cuda" or "cuda:N"
    batch_size: int = 1
    precision: str = "fp32"  # "fp32"; "bf16"/"fp16" are autocast, CUDA only
    channels_last: bool = True
    warmup_iters: int = 3
    min_iters: int = 5
    max_iters: int = 50
    max_seconds: float = 10.0  # stop timing after this much timed work, once min_iters are done
    threads: int | None = None  # CPU intra-op threads; None: the physical cores we may use
    runtime: str = "eager"  # one of RUNTIMES

    def __post_init__(self) -> None:
        if not _is_device(self.device):
            raise ZooError(f"device {self.device!r} is not supported: accepted {DEVICE_CHOICES}")
        check_batch_size(self.batch_size)
        if self.precision not in PRECISIONS:
            raise ZooError(
                f"precision {self.precision!r} is not supported: accepted {', '.join(PRECISIONS)}"
            )
        if self.device == "cpu" and self.precision != "fp32":
            raise ZooError(cpu_precision_message(self.precision))
        if not isinstance(self.channels_last, bool):
            raise ZooError(f"channels_last must be True or False, got {self.channels_last!r}")
        check_whole_number("warm-up iterations", self.warmup_iters, 0, 10_000)
        check_whole_number("minimum iterations", self.min_iters, 1, 100_000)
        check_whole_number("maximum iterations", self.max_iters, self.min_iters, 100_000)
        seconds = self.max_seconds
        if (
            isinstance(seconds, bool)
            or not isinstance(seconds, int | float)
            or not math.isfinite(seconds)
            or seconds <= 0
        ):
            raise ZooError(f"max_seconds must be a number > 0, got {seconds!r}")
        if self.threads is not None:
            check_whole_number("threads", self.threads, 1, 4096)
        check_runtime(self.runtime, self.device, self.precision)


#: The fields of a protocol, in order: what two measurements must share to be comparable.
PROTOCOL_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Protocol))
# Fields added after schema version 2, with the value every earlier measurement had: at that
# value they are left out of the key, so keys stored before the field existed stay valid.
_LATER_FIELDS: dict[str, object] = {"runtime": "eager"}


def protocol_key(values: Protocol | Mapping[str, Any]) -> str:
    """A short, stable key of a protocol's settings: of a ``Protocol`` (resolved: concrete
    device and threads) or of a measurement record (which carries the same fields).

    Two measurements with the same key and environment were taken the same way; a 1-iteration
    run and a 50-iteration run of the same model are different results, never one replacing
    the other.

    >>> p = Protocol(device="cpu", threads=2)
    >>> protocol_key(p) == protocol_key({**asdict(p), "model": "x", "iterations": 7})
    True
    >>> protocol_key(p) == protocol_key(Protocol(device="cpu", threads=2, max_iters=5))
    False
    """
    data = asdict(values) if isinstance(values, Protocol) else values
    canonical = []
    for name in PROTOCOL_FIELDS:
        value = data.get(name, _LATER_FIELDS.get(name))
        if name in _LATER_FIELDS and value == _LATER_FIELDS[name]:
            continue
        if name == "max_seconds" and value is not None:
            value = float(value)  # 10 and 10.0 are one protocol
        canonical.append(value)
    text = json.dumps(canonical, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


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
    runtime: str = "eager"
    runtime_version: str = ""  # the runtime package's version ("" for eager: torch_version)
    runtime_precision: str = ""  # the precision the runtime reports it ran in (OpenVINO: f32)
    export_s: float | None = None  # ONNX export (0 when the cached artefact was used)
    compile_s: float | None = None  # session creation, compile_model, torch.compile, TRT build
    artifact_cached: bool | None = None  # whether the export came from the on-disk cache
    # Equivalence with eager fp32 on the same weights and inputs (zoo.equivalence).
    verified: bool = True
    equiv_max_abs: float | None = None
    equiv_max_rel: float | None = None  # max |runtime − eager| / max |eager|
    equiv_top1_pct: float | None = None  # top-1 agreement on the check inputs, %
    equiv_inputs: str = ""  # what the check ran on
    # Was the machine quiet while timing (zoo.quality)? "" for rows from before the verdict.
    quality: str = ""  # "clean" or "noisy"
    quality_reason: str = ""
    others_cores: float | None = None  # CPU the rest of the machine used, in cores
    cpu_share: float | None = None  # this run's CPU time / (wall time × threads)
    spread: float | None = None  # (p90 − median) / median
    # Which machine (a shared store holds many; "" for rows from before these were recorded).
    host: str = ""  # the host name
    node: str = ""  # the cluster node's name it was measured as (zoo.cluster), else ""
    gpu_driver: str = ""  # the NVIDIA driver's version on CUDA

    @property
    def noisy(self) -> bool:
        return self.quality == "noisy"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Measurement:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})
