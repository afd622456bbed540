"""The timed loop, and one whole measurement inside the current process.

``time_forward`` is the protocol's steps 3–5 (``docs/benchmarks.md``): warm-up, then a timed loop
bounded by iterations and seconds, with ``torch.cuda.synchronize`` around every CUDA step so each
sample is the wall time of one complete forward. ``measure_in_process`` builds the model, counts
it and times it; ``zoo.isolation`` runs it in a fresh process so that its peak memory is its own.
"""

from __future__ import annotations

import contextlib
import sys
import time
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from zoo.build import ModelSpec, build_model
from zoo.complexity import count_complexity
from zoo.protocol import LatencyStats, PeakMemoryKind, Protocol, summarize_latencies

if TYPE_CHECKING:
    import torch

__all__ = ["measure_in_process", "time_forward"]


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


def measure_in_process(spec: ModelSpec, protocol: Protocol) -> dict[str, Any]:
    """Build, count and time ``spec`` in this process. Returns plain numbers.

    ``protocol`` must be resolved (a concrete device and thread count). The peak memory is this
    process's own: run it in a fresh process (``zoo.isolation``) for it to mean anything.
    """
    import resource

    import psutil
    import torch

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
