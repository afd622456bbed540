"""This machine's two ceilings, measured: peak GFLOP/s (a dense square matmul through PyTorch's
CPU kernels, per precision) and memory bandwidth (a streaming copy far larger than the caches),
kept with the machine's fingerprint (CPU model, host, threads) in the data folder.

The stored file is read as untrusted input: a row that is not a pair of positive numbers is
measured again, never used. Why these two: a stage's attainable speed is
min(peak, intensity × bandwidth) (Williams et al., "Roofline", CACM 2009).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from zoo.errors import ZooError
from zoo.files import UnreadableFile, private_dir, read_regular, write_replacing
from zoo.jsontext import strict_dumps
from zoo.paths import data_dir
from zoo.records.environment import cpu_model, host_name

__all__ = ["Ceilings", "ceilings_for", "measure_ceilings"]

_MATMUL_N = 2048  # 17 GFLOP per product: long enough to reach the peak, short enough to repeat
_COPY_ELEMENTS = 1 << 26  # 256 MiB of fp32 per side: far beyond any last-level cache
_TRIES = 5
_MAX_BYTES = 64 * 1024
_DTYPES = {"fp32": "float32", "bf16": "bfloat16"}


@dataclass(frozen=True)
class Ceilings:
    """Peak GFLOP/s at one precision and memory bandwidth in GB/s (10⁹ bytes), measured."""

    precision: str
    peak_gflops: float
    bandwidth_gbs: float
    fingerprint: str
    measured_at: str

    @property
    def ridge(self) -> float:
        """The FLOP per byte above which a kernel can reach the peak."""
        return self.peak_gflops / self.bandwidth_gbs

    def attainable_gflops(self, intensity: float) -> float:
        return min(self.peak_gflops, intensity * self.bandwidth_gbs)


def _fingerprint(threads: int) -> str:
    return f"{cpu_model()} | {host_name()} | {threads} threads"


def measure_ceilings(threads: int, precision: str = "fp32") -> Ceilings:
    """Best of several tries of each: ``2 n³`` FLOP per matmul, 2 × 256 MiB moved per copy."""
    import torch

    if precision not in _DTYPES:
        raise ValueError(f"no peak for {precision!r}; accepted: {', '.join(_DTYPES)}")
    torch.set_num_threads(threads)
    dtype = getattr(torch, _DTYPES[precision])
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(_MATMUL_N, _MATMUL_N, generator=generator).to(dtype)
    b = torch.randn(_MATMUL_N, _MATMUL_N, generator=generator).to(dtype)
    torch.mm(a, b)
    best_mm = math.inf
    for _ in range(_TRIES):
        start = time.perf_counter()
        torch.mm(a, b)
        best_mm = min(best_mm, time.perf_counter() - start)
    source = torch.ones(_COPY_ELEMENTS)
    target = torch.empty_like(source)
    target.copy_(source)
    best_copy = math.inf
    for _ in range(_TRIES):
        start = time.perf_counter()
        target.copy_(source)
        best_copy = min(best_copy, time.perf_counter() - start)
    return Ceilings(
        precision,
        2 * _MATMUL_N**3 / best_mm / 1e9,
        2 * source.numel() * source.element_size() / best_copy / 1e9,
        _fingerprint(threads),
        time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    )


def _path() -> Path:
    return data_dir() / "ceilings.json"


def _stored() -> dict[str, dict[str, object]]:
    try:
        data = json.loads(read_regular(_path(), _MAX_BYTES))
    except (UnreadableFile, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _valid(row: object, key: str, precision: str) -> Ceilings | None:
    if not isinstance(row, dict):
        return None
    numbers = [row.get("peak_gflops"), row.get("bandwidth_gbs")]
    if not all(isinstance(v, int | float) and math.isfinite(v) and v > 0 for v in numbers):
        return None
    when = row.get("measured_at")
    fingerprint = key.rpartition(" @ ")[0]
    return Ceilings(precision, float(numbers[0]), float(numbers[1]), fingerprint, str(when))


def ceilings_for(threads: int, precision: str = "fp32", *, remeasure: bool = False) -> Ceilings:
    """This machine's ceilings on ``threads`` threads: stored, or measured now and stored."""
    key = f"{_fingerprint(threads)} @ {precision}"
    stored = _stored()
    found = None if remeasure else _valid(stored.get(key), key, precision)
    if found is not None:
        return found
    found = measure_ceilings(threads, precision)
    stored[key] = {k: v for k, v in asdict(found).items() if k not in ("precision", "fingerprint")}
    try:
        private_dir(_path().parent)
        write_replacing(_path(), strict_dumps(stored, indent=1).encode(), mode=0o600)
    except (OSError, ZooError):
        pass  # ceilings we cannot keep are measured again next time
    return found
