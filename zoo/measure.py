"""Measure a model's latency, throughput and peak memory with a stated protocol.

The protocol (``Protocol``; described in words in ``docs/benchmarks.md``):

1. device ``auto`` is CUDA when present, else CPU; the CPU thread count is set explicitly
   (default: the physical cores this process may use) and recorded;
2. precision fp32, or bf16/fp16 *autocast* on CUDA (weights stay fp32); channels_last memory
   format for model and input unless turned off;
3. a fresh model with random weights, input ``randn(batch, 3, r, r)``, all under
   ``torch.inference_mode()``;
4. ``warmup_iters`` untimed forwards, then timed forwards until ``max_iters`` or, once
   ``min_iters`` are done, ``max_seconds`` of timed work; on CUDA every timed step is
   bracketed by ``torch.cuda.synchronize()`` (before t0 and before t1), so each sample is
   the wall time of one complete forward;
5. report the median, p90 (linear interpolation), mean and sample standard deviation of the
   per-batch latency in ms, the number of timed iterations, and throughput in images/s
   (``batch_size × iterations / total timed seconds``).

Every measurement runs in a worker process forked for it from a helper that has already imported
torch and timm (so it starts in milliseconds), and the peak memory is that process's own: on
CUDA ``torch.cuda.max_memory_allocated`` (``cuda_max_allocated``: weights + activations +
workspaces the caching allocator handed out); on CPU the worker's peak resident set size
(``worker_peak_rss``: ``getrusage(RUSAGE_SELF).ru_maxrss``, which includes the torch runtime;
``worker_rss_before_build_mb`` is the same process just before the model was built, so the
difference is the model's share). Runs are serialized by a thread lock and an inter-process
file lock (``lock_path()``: one per user and machine), so two measurements never time each
other.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, fields, replace
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from zoo.build import ModelSpec
from zoo.errors import ZooError
from zoo.memory import check_fits

if TYPE_CHECKING:
    import torch

    from zoo.store import MeasurementStore

__all__ = [
    "MAX_BATCH_SIZE",
    "PRECISIONS",
    "Environment",
    "LatencyStats",
    "Measurement",
    "MeasurementError",
    "Protocol",
    "cpu_model",
    "environment_for",
    "lock_path",
    "measure",
    "measurement_in_progress",
    "resolve_device",
    "resolve_protocol",
    "shutdown_worker",
    "summarize_latencies",
    "sweep",
    "time_forward",
]

PRECISIONS: tuple[str, ...] = ("fp32", "bf16", "fp16")
#: Larger batches are typing mistakes; the memory guard refuses most of the range below anyway.
MAX_BATCH_SIZE = 1_000_000
PeakMemoryKind = Literal["cuda_max_allocated", "worker_peak_rss"]


@dataclass(frozen=True)
class Protocol:
    """How to measure. Validated on creation; ``resolve_protocol`` fixes ``auto`` and threads."""

    device: str = "auto"  # "auto", "cpu", "cuda" or "cuda:N"
    batch_size: int = 1
    precision: str = "fp32"  # "fp32"; "bf16"/"fp16" are autocast, CUDA only
    channels_last: bool = True
    warmup_iters: int = 3
    min_iters: int = 5
    max_iters: int = 50
    max_seconds: float = 10.0  # stop timing after this much timed work, once min_iters are done
    threads: int | None = None  # CPU intra-op threads; None: the physical cores we may use

    def __post_init__(self) -> None:
        device = self.device
        if not isinstance(device, str) or not (
            device in ("auto", "cpu", "cuda")
            or (device.startswith("cuda:") and device[5:].isdigit())
        ):
            raise ZooError(f"device {device!r} is not supported: accepted auto, cpu, cuda, cuda:N")
        _check_int("batch size", self.batch_size, 1, MAX_BATCH_SIZE)
        if self.precision not in PRECISIONS:
            raise ZooError(
                f"precision {self.precision!r} is not supported: accepted {', '.join(PRECISIONS)}"
            )
        if device == "cpu" and self.precision != "fp32":
            raise ZooError(_cpu_precision_message(self.precision))
        if not isinstance(self.channels_last, bool):
            raise ZooError(f"channels_last must be True or False, got {self.channels_last!r}")
        _check_int("warm-up iterations", self.warmup_iters, 0, 10_000)
        _check_int("minimum iterations", self.min_iters, 1, 100_000)
        _check_int("maximum iterations", self.max_iters, self.min_iters, 100_000)
        seconds = self.max_seconds
        if (
            isinstance(seconds, bool)
            or not isinstance(seconds, int | float)
            or not math.isfinite(seconds)
            or seconds <= 0
        ):
            raise ZooError(f"max_seconds must be a number > 0, got {seconds!r}")
        if self.threads is not None:
            _check_int("threads", self.threads, 1, 4096)


def _check_int(name: str, value: object, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ZooError(f"{name} must be a whole number from {low} to {high}, got {value!r}")


def _cpu_precision_message(precision: str) -> str:
    return (
        f"precision {precision!r} is not supported on CPU: accepted fp32 on CPU; bf16 and fp16 "
        "(autocast) need a CUDA device"
    )


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


@dataclass(frozen=True)
class Environment:
    """Where a measurement runs; its ``key`` is part of the store's unique key."""

    device: str  # resolved: "cpu" or "cuda:N"
    device_name: str
    cpu_model: str
    threads: int
    torch_version: str
    timm_version: str

    @property
    def key(self) -> str:
        text = json.dumps(asdict(self), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Measurement:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


# --------------------------------------------------------------------------- environment


def _cuda_present() -> bool:
    """Whether CUDA can be used, without importing torch when there is plainly no NVIDIA GPU."""
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) in ("", "-1"):
        return False
    if not (Path("/proc/driver/nvidia/version").exists() or any(Path("/dev").glob("nvidia[0-9]*"))):
        return False
    import torch

    return bool(torch.cuda.is_available())


def resolve_device(device: str) -> str:
    """``auto`` → ``cuda:0`` when CUDA is usable, else ``cpu``; ``cuda`` → ``cuda:0``."""
    if device == "auto":
        return "cuda:0" if _cuda_present() else "cpu"
    if device.startswith("cuda"):
        if not _cuda_present():
            raise ZooError(f"device {device!r} is not available here: accepted auto, cpu")
        import torch

        count = torch.cuda.device_count()
        index = 0 if device == "cuda" else int(device.split(":", 1)[1])
        if index >= count:
            raise ZooError(
                f"device {device!r} is not available here: accepted auto, cpu, cuda:0 … "
                f"cuda:{count - 1}"
            )
        return f"cuda:{index}"
    if device != "cpu":
        raise ZooError(f"device {device!r} is not supported: accepted auto, cpu, cuda, cuda:N")
    return device


def cpu_model() -> str:
    """The CPU's marketing name (``/proc/cpuinfo`` on Linux)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def default_threads() -> int:
    """Physical cores this process may run on (torch's own default), or ``OMP_NUM_THREADS``."""
    env = os.environ.get("OMP_NUM_THREADS", "")
    if env.isdigit() and int(env) > 0:
        return int(env)
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        usable = os.cpu_count() or 1
    import psutil

    logical = psutil.cpu_count(logical=True) or usable
    physical = psutil.cpu_count(logical=False) or logical
    # With SMT, torch uses one thread per physical core; scale the usable set the same way.
    return max(1, round(usable * physical / logical))


def _package_version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def resolve_protocol(protocol: Protocol) -> Protocol:
    """``protocol`` with a concrete device and thread count; bf16/fp16 on CPU is refused."""
    device = resolve_device(protocol.device)
    if device == "cpu" and protocol.precision != "fp32":
        raise ZooError(_cpu_precision_message(protocol.precision))
    threads = protocol.threads or default_threads()
    return replace(protocol, device=device, threads=threads)


def environment_for(protocol: Protocol) -> Environment:
    """The environment a (resolved) protocol measures in. Needs torch only on CUDA."""
    resolved = resolve_protocol(protocol)  # idempotent: "cuda" and "cuda:0" give one key
    cpu = cpu_model()
    device_name = cpu
    if resolved.device.startswith("cuda"):
        import torch

        device_name = torch.cuda.get_device_name(torch.device(resolved.device))
    assert resolved.threads is not None
    return Environment(
        device=resolved.device,
        device_name=device_name,
        cpu_model=cpu,
        threads=resolved.threads,
        torch_version=_package_version("torch"),
        timm_version=_package_version("timm"),
    )


# --------------------------------------------------------------------------- timing


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


def _autocast(device: str, precision: str) -> contextlib.AbstractContextManager[object]:
    if precision == "fp32":
        return contextlib.nullcontext()
    import torch

    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return torch.autocast(device_type="cuda", dtype=dtype)


def time_forward(model: torch.nn.Module, example: torch.Tensor, protocol: Protocol) -> LatencyStats:
    """Time ``model(example)`` with ``protocol`` (warm-up, bounded timed loop, CUDA sync).

    The caller prepares the model and input (device, channels_last) and the thread count;
    ``protocol.device`` must be resolved.
    """
    import torch

    on_cuda = protocol.device.startswith("cuda")

    def sync() -> None:
        if on_cuda:
            torch.cuda.synchronize(protocol.device)

    samples: list[float] = []
    with torch.inference_mode(), _autocast(protocol.device, protocol.precision):
        for _ in range(protocol.warmup_iters):
            model(example)
        sync()
        timed = 0.0
        while len(samples) < protocol.max_iters:
            sync()
            t0 = time.perf_counter()
            model(example)
            sync()
            elapsed = time.perf_counter() - t0
            samples.append(elapsed)
            timed += elapsed
            if len(samples) >= protocol.min_iters and timed >= protocol.max_seconds:
                break
    return summarize_latencies(samples, protocol.batch_size)


def _measure_here(spec: ModelSpec, protocol: Protocol) -> dict[str, Any]:
    """Build, count and time ``spec`` in this process (the worker). Returns plain numbers."""
    import resource

    import psutil
    import torch

    from zoo.build import build_model
    from zoo.complexity import count_complexity

    assert protocol.threads is not None
    torch.set_num_threads(protocol.threads)
    complexity = count_complexity(spec)  # meta device: no real memory
    device = torch.device(protocol.device)
    on_cuda = device.type == "cuda"
    rss_before = psutil.Process().memory_info().rss
    if on_cuda:
        # As timm's benchmark.py: let cuDNN pick the fastest kernels (during the warm-up).
        torch.backends.cudnn.benchmark = True
        torch.cuda.reset_peak_memory_stats(device)
    torch.manual_seed(0)
    model = build_model(spec, device=protocol.device)
    example = torch.randn(protocol.batch_size, 3, spec.resolution, spec.resolution, device=device)
    if protocol.channels_last:
        model = model.to(memory_format=torch.channels_last)
        example = example.contiguous(memory_format=torch.channels_last)
    stats = time_forward(model, example, protocol)
    if on_cuda:
        peak_bytes = torch.cuda.max_memory_allocated(device)
        kind: PeakMemoryKind = "cuda_max_allocated"
        before_mb = None
    else:
        # ru_maxrss is in KiB on Linux (bytes on macOS).
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        peak_bytes = peak if sys.platform == "darwin" else peak * 1024
        kind = "worker_peak_rss"
        before_mb = rss_before / 2**20
    return {
        "params": complexity.params,
        "macs": complexity.macs,
        "macs_backend": complexity.backend,
        **{k: v for k, v in asdict(stats).items() if k != "total_s"},
        "peak_memory_mb": peak_bytes / 2**20,
        "peak_memory_kind": kind,
        "worker_rss_before_build_mb": before_mb,
    }


# --------------------------------------------------------------------------- worker process


def _die_with_parent() -> None:
    """Ask Linux to SIGKILL this process when its parent dies (best effort, Linux only)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _serve() -> None:
    """The worker helper: import torch once, then fork one child per job read from stdin.

    Each job is one JSON line ``{"spec": ..., "protocol": ...}``; the answer is one JSON line
    on stdout. The helper itself never runs a model (nor initializes CUDA), so forking it is
    safe, and each child's peak memory is its own.
    """
    # Not PR_SET_PDEATHSIG here: it fires when the *thread* that started us exits (a
    # dashboard's script thread), not the process. Poll for the parent instead.
    parent = os.getppid()
    child = [0]

    def watch_parent() -> None:
        while True:
            time.sleep(0.2)
            if os.getppid() != parent:
                if child[0]:
                    with contextlib.suppress(OSError):
                        os.kill(child[0], signal.SIGKILL)
                os._exit(1)

    threading.Thread(target=watch_parent, daemon=True).start()
    out = sys.stdout
    sys.stdout = sys.stderr  # stray prints must not corrupt the answer stream
    import psutil  # noqa: F401
    import ptflops  # noqa: F401
    import timm  # noqa: F401
    import torch  # noqa: F401

    import zoo.complexity  # noqa: F401

    for line in sys.stdin:
        if not line.strip():
            continue
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: measure, answer, exit without cleanup
            os.close(read_fd)
            # Tied to the thread that forked us: the helper's main thread, which lives as long
            # as the helper, so this is reliable here.
            _die_with_parent()
            os.dup2(2, 1)  # output from C libraries must not reach the answer stream either
            try:
                job = json.loads(line)
                spec = ModelSpec(**job["spec"])
                protocol = Protocol(**job["protocol"])
                answer = {"ok": True, "result": _measure_here(spec, protocol)}
            except BaseException as exc:  # report everything, including CUDA OOM
                answer = {"ok": False, "type": type(exc).__name__, "error": str(exc)}
            with os.fdopen(write_fd, "w") as pipe:
                pipe.write(json.dumps(answer))
            os._exit(0)
        child[0] = pid
        os.close(write_fd)
        with os.fdopen(read_fd) as pipe:
            text = pipe.read()
        _, status = os.waitpid(pid, 0)
        child[0] = 0
        if not text:
            code = os.waitstatus_to_exitcode(status)
            how = f"killed by signal {-code}" if code < 0 else f"exited with status {code}"
            text = json.dumps(
                {"ok": False, "type": "WorkerDied", "error": f"measurement process {how}"}
            )
        out.write(text.replace("\n", " ") + "\n")
        out.flush()


class _Worker:
    """The parent's handle on the worker helper (started on first use, reused after)."""

    def __init__(self) -> None:
        root = str(Path(__file__).resolve().parent.parent)
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        # Kept open for the helper's lifetime (closed in close()): its last line explains a crash.
        self._stderr = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, "-c", "from zoo.measure import _serve; _serve()"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            bufsize=1,
            env=env,
            cwd=root,
        )

    def stderr_tail(self) -> str:
        self._stderr.seek(0)
        lines = [line for line in self._stderr.read().splitlines() if line.strip()]
        return lines[-1] if lines else ""

    def run(self, spec: ModelSpec, protocol: Protocol) -> dict[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        job = json.dumps({"spec": asdict(spec), "protocol": asdict(protocol)})
        try:
            self.process.stdin.write(job + "\n")
            self.process.stdin.flush()
            line = self.process.stdout.readline()
        except BrokenPipeError:
            line = ""
        if not line:
            raise MeasurementError(f"the measurement helper stopped: {self.stderr_tail()}")
        answer = json.loads(line)
        if answer["ok"]:
            return answer["result"]
        error = " ".join(str(answer["error"]).split())  # one line, even for CUDA's OOM text
        message = f"{spec.model} at {spec.resolution}px: {error}"
        if answer["type"] in ("ZooError", "ValueError"):
            raise ZooError(message)
        raise MeasurementError(f"measurement failed ({answer['type']}): {message}")

    def close(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(OSError):
                assert self.process.stdin is not None
                self.process.stdin.close()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()
        self._stderr.close()


_WORKER: _Worker | None = None
_ATEXIT_REGISTERED = False


def _run_in_worker(spec: ModelSpec, protocol: Protocol) -> dict[str, Any]:
    global _WORKER, _ATEXIT_REGISTERED
    if _WORKER is None or _WORKER.process.poll() is not None:
        if not _ATEXIT_REGISTERED:
            import atexit

            atexit.register(shutdown_worker)
            _ATEXIT_REGISTERED = True
        if _WORKER is not None:
            shutdown_worker()
        _WORKER = _Worker()
    try:
        return _WORKER.run(spec, protocol)
    except (ZooError, MeasurementError):
        if _WORKER is not None and _WORKER.process.poll() is not None:
            shutdown_worker()  # the helper itself died: the next run starts a new one
        raise
    except BaseException:
        # Interrupted mid-answer: the helper's state is unknown, so start afresh next time.
        shutdown_worker(kill=True)
        raise


def shutdown_worker(kill: bool = False) -> None:
    """Stop the worker helper (it is restarted by the next measurement)."""
    global _WORKER
    worker, _WORKER = _WORKER, None
    if worker is not None:
        if kill and worker.process.poll() is None:
            worker.process.kill()
        worker.close()


# --------------------------------------------------------------------------- locking

_THREAD_LOCK = threading.Lock()


def lock_path() -> Path:
    """The inter-process lock file: ``$EFFSCALE_LOCK``, else one per user in the temp folder.

    One lock for the whole machine, not one per store: two runs writing to different stores
    would still time each other.
    """
    override = os.environ.get("EFFSCALE_LOCK")
    if override:
        return Path(override).expanduser()
    uid = os.getuid() if hasattr(os, "getuid") else 0
    return Path(tempfile.gettempdir()) / f"effscale-measure-{uid}.lock"


@contextlib.contextmanager
def _measurement_lock(on_wait: Callable[[], None] | None) -> Iterator[bool]:
    """Hold the thread lock and the file lock; call ``on_wait`` once if we had to wait."""
    waited = False

    def waiting() -> None:
        nonlocal waited
        if not waited and on_wait is not None:
            on_wait()
        waited = True

    if not _THREAD_LOCK.acquire(blocking=False):
        waiting()
        _THREAD_LOCK.acquire()
    try:
        try:
            import fcntl
        except ImportError:  # not POSIX: the thread lock alone
            yield waited
            return
        with open(lock_path(), "a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                waiting()
                fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield waited
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
    finally:
        _THREAD_LOCK.release()


def measurement_in_progress(store: MeasurementStore | None = None) -> bool:
    """Whether a measurement is running now, in this process or in any other on this machine
    (the dashboard shows "another measurement is running, waiting"). ``store`` is accepted for
    symmetry and ignored: the lock is machine-wide."""
    return _THREAD_LOCK.locked() or lock_file_held(lock_path())


def lock_file_held(path: Path) -> bool:
    """Whether some process holds the measurement lock file at ``path`` (a non-blocking probe)."""
    try:
        import fcntl
    except ImportError:
        return False
    if not path.exists():
        return False
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
    return False


# --------------------------------------------------------------------------- public entry points


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _measure_one(
    spec: ModelSpec,
    protocol: Protocol,
    env: Environment,
    store: MeasurementStore | None,
    remeasure: bool,
    on_wait: Callable[[], None] | None,
) -> Measurement:
    with _measurement_lock(on_wait) as waited:
        if waited and store is not None and not remeasure:
            stored = store.get(spec, protocol, env.key)  # measured while we waited
            if stored is not None:
                return stored
        result = _run_in_worker(spec, protocol)
    assert protocol.threads is not None
    measurement = Measurement(
        model=spec.model,
        resolution=spec.resolution,
        params=result["params"],
        macs=result["macs"],
        macs_backend=result["macs_backend"],
        batch_size=protocol.batch_size,
        precision=protocol.precision,
        device=env.device,
        device_name=env.device_name,
        channels_last=protocol.channels_last,
        latency_ms_median=result["latency_ms_median"],
        latency_ms_p90=result["latency_ms_p90"],
        latency_ms_mean=result["latency_ms_mean"],
        latency_ms_std=result["latency_ms_std"],
        throughput_ips=result["throughput_ips"],
        iterations=result["iterations"],
        warmup_iters=protocol.warmup_iters,
        peak_memory_mb=result["peak_memory_mb"],
        peak_memory_kind=result["peak_memory_kind"],
        cpu_model=env.cpu_model,
        threads=protocol.threads,
        torch_version=env.torch_version,
        timm_version=env.timm_version,
        measured_at=_now(),
        from_store=False,
        family=spec.family,
        kind=spec.kind,
        worker_rss_before_build_mb=result["worker_rss_before_build_mb"],
        latency_ms_min=result["latency_ms_min"],
        min_iters=protocol.min_iters,
        max_iters=protocol.max_iters,
        max_seconds=float(protocol.max_seconds),
        environment_key=env.key,
    )
    if store is not None:
        store.put(measurement)  # its own transaction: a kill after this keeps the row
    return measurement


def sweep(
    specs: Iterable[ModelSpec],
    protocol: Protocol = Protocol(),
    *,
    store: MeasurementStore | None,
    remeasure: bool = False,
    on_result: Callable[[Measurement], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    on_wait: Callable[[], None] | None = None,
) -> list[Measurement]:
    """Measure each spec in order, returning stored results instead unless ``remeasure``.

    Everything is validated before anything runs (protocol, device, and that each model to
    measure fits in memory), so bad input stores nothing. Each finished row is committed at
    once; ``should_stop()`` is checked between models; ``on_result`` sees each result, stored or
    new, in order; ``on_wait`` is called if another measurement holds the lock.
    """
    specs = list(specs)
    resolved = resolve_protocol(protocol)
    env = environment_for(resolved)
    stored: dict[int, Measurement] = {}
    for index, spec in enumerate(specs):
        row = None if remeasure or store is None else store.get(spec, resolved, env.key)
        if row is not None:
            stored[index] = row
        else:
            check_fits(spec, resolved.batch_size, resolved.precision, resolved.device)
    results: list[Measurement] = []
    for index, spec in enumerate(specs):
        if index in stored:
            result = stored[index]
        else:
            if should_stop is not None and should_stop():
                break
            result = _measure_one(spec, resolved, env, store, remeasure, on_wait)
        results.append(result)
        if on_result is not None:
            on_result(result)
    return results


def measure(
    spec: ModelSpec,
    protocol: Protocol = Protocol(),
    *,
    store: MeasurementStore | None = None,
    remeasure: bool = False,
    on_wait: Callable[[], None] | None = None,
) -> Measurement:
    """Measure one model (or return its stored result, ``from_store=True``, unless
    ``remeasure``). Refuses, before allocating anything, a model or batch that will not fit."""
    return sweep([spec], protocol, store=store, remeasure=remeasure, on_wait=on_wait)[0]
