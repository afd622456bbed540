"""Estimate a model's memory before building it, and refuse what will not fit.

Why before: a refused request allocates nothing, since the estimate needs only the explorer's
numbers or a forward on the ``meta`` device. It errs on the large side: weights, plus
activations (the largest set of tensors alive at once × batch × bytes per element ×
``ACTIVATION_FACTOR``), plus a runtime allowance, against the memory the process can use now.
The terms and the measured factor: docs/benchmarks.md, 'Refusing what will not fit'; what the
factor covers: docs/architecture.md, 'Notes by module'.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from zoo.errors import ZooError
from zoo.models.build import build_model, check_runs
from zoo.models.spec import ModelSpec, network_for
from zoo.records.environment import resolve_device
from zoo.records.protocol import PRECISIONS, check_batch_size

__all__ = [
    "ACTIVATION_FACTOR",
    "MemoryEstimate",
    "available_memory_bytes",
    "check_fits",
    "estimate_memory",
    "peak_activation_elements",
]

#: Safety factor on the analytic activation peak (see the module docstring). Measured: B0 at
#: batch 128 on CPU grew the worker by 1.55 GiB (channels_last) and 1.68 GiB (NCHW) over its
#: size before the build, against an analytic peak of 0.72 GiB (1,505,280 elements × 128 × 4
#: bytes): a factor of 2.2–2.3, so 2.5.
ACTIVATION_FACTOR = 2.5
#: Allowance for the measuring process itself: torch + timm imported (CPU), or a CUDA context.
RUNTIME_BYTES = {"cpu": 768 * 2**20, "cuda": 1024 * 2**20}
# Bytes per activation element: fp32, or half-precision activations under autocast.
_BYTES_PER_ELEMENT = {precision: 4 if precision == "fp32" else 2 for precision in PRECISIONS}
_UNLIMITED = 2**60  # cgroup v1 reports "no limit" as a huge number close to 2**63


@dataclass(frozen=True)
class MemoryEstimate:
    """Bytes a measurement would need (``total_bytes``) against what is available now."""

    weights_bytes: int
    activations_bytes: int
    total_bytes: int  # weights + activations + runtime allowance
    available_bytes: int
    fits: bool
    runtime_bytes: int = 0
    batch_size: int = 1
    device: str = "cpu"


@functools.lru_cache(maxsize=128)
def _timm_peak(spec: ModelSpec) -> tuple[int, int]:
    """(params, peak activation elements per image) from a forward on the meta device."""
    import torch

    model = build_model(spec, device="meta")
    params = sum(p.numel() for p in model.parameters())
    peak = 0

    def hook(module: torch.nn.Module, inputs: tuple[object, ...], output: object) -> None:
        nonlocal peak
        size = sum(t.numel() for t in inputs if isinstance(t, torch.Tensor))
        if isinstance(output, torch.Tensor):
            size += output.numel()
        peak = max(peak, size)

    handles = [m.register_forward_hook(hook) for m in model.modules() if not list(m.children())]
    try:
        check_runs(model, spec)
    finally:
        for handle in handles:
            handle.remove()
    return params, peak


def peak_activation_elements(spec: ModelSpec) -> tuple[int, int]:
    """(params, largest activation elements alive at once per image) for ``spec``."""
    net = network_for(spec)
    if net is not None:
        return net.params, net.peak_activation_elements
    return _timm_peak(spec)


def _read_int(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _inactive_file(stat: Path, key: str) -> int:
    try:
        for line in stat.read_text().splitlines():
            name, _, value = line.partition(" ")
            if name == key and value.strip().isdigit():
                return int(value)
    except OSError:
        pass
    return 0


def _cgroup_available_bytes(root: Path = Path("/sys/fs/cgroup")) -> int | None:
    """Limit minus usage of this container's memory cgroup (v2, then v1); None if unlimited.

    Reclaimable page cache (inactive files) counts as available, as it does for psutil.
    """
    candidates = (
        (root / "memory.max", root / "memory.current", root / "memory.stat", "inactive_file"),
        (
            root / "memory" / "memory.limit_in_bytes",
            root / "memory" / "memory.usage_in_bytes",
            root / "memory" / "memory.stat",
            "total_inactive_file",
        ),
    )
    for limit_path, usage_path, stat_path, key in candidates:
        limit = _read_int(limit_path)
        usage = _read_int(usage_path)
        if limit is None or usage is None or limit >= _UNLIMITED:
            continue
        return max(0, limit - usage + _inactive_file(stat_path, key))
    return None


def available_memory_bytes(device: str) -> int:
    """Bytes this process can still use on ``device`` (``cpu``, ``cuda`` or ``cuda:N``)."""
    if device.startswith("cuda"):
        import torch

        index = torch.device(device).index
        free, _total = torch.cuda.mem_get_info(0 if index is None else index)
        return int(free)
    import psutil

    available = int(psutil.virtual_memory().available)
    cgroup = _cgroup_available_bytes()
    return available if cgroup is None else min(available, cgroup)


def estimate_memory(
    spec: ModelSpec, batch_size: int, precision: str = "fp32", device: str = "cpu"
) -> MemoryEstimate:
    """Estimate the memory to measure ``spec`` at ``batch_size`` (no model is built for
    EfficientNets; timm peers are traced on the meta device).

    >>> from zoo.models.spec import spec_from_variant
    >>> e = estimate_memory(spec_from_variant("b0"), 1, "fp32", "cpu")
    >>> e.weights_bytes == 5288548 * 4, e.fits
    (True, True)
    """
    batch_size = check_batch_size(batch_size)
    if precision not in PRECISIONS:
        raise ZooError(
            f"precision {precision!r} is not supported: accepted {', '.join(PRECISIONS)}"
        )
    if device == "auto":
        device = resolve_device(device)
    device_type = "cuda" if device.startswith("cuda") else "cpu"
    params, peak_elements = peak_activation_elements(spec)
    element_bytes = _BYTES_PER_ELEMENT[precision]
    weights = params * (4 if precision == "fp32" else 4 + element_bytes)
    activations = int(peak_elements * batch_size * element_bytes * ACTIVATION_FACTOR)
    runtime = RUNTIME_BYTES[device_type]
    total = weights + activations + runtime
    available = available_memory_bytes(device)
    return MemoryEstimate(
        weights_bytes=weights,
        activations_bytes=activations,
        total_bytes=total,
        available_bytes=available,
        fits=total <= available,
        runtime_bytes=runtime,
        batch_size=batch_size,
        device=device,
    )


def format_bytes(count: int) -> str:
    """``1.5 GiB``, ``20.2 MiB``: binary units, three significant digits.

    >>> format_bytes(3 * 2**30), format_bytes(21 * 2**20)
    ('3 GiB', '21 MiB')
    """
    for unit, size in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if count >= size:
            return f"{count / size:.3g} {unit}"
    return f"{count} B"


def check_fits(
    spec: ModelSpec, batch_size: int, precision: str = "fp32", device: str = "cpu"
) -> MemoryEstimate:
    """The estimate when it fits; otherwise ``ZooError`` saying what it needs and what is free."""
    est = estimate_memory(spec, batch_size, precision, device)
    if not est.fits:
        raise ZooError(
            f"{spec.model} at {spec.resolution}px needs ~{format_bytes(est.total_bytes)} on "
            f"{est.device} (weights {format_bytes(est.weights_bytes)} + activations "
            f"{format_bytes(est.activations_bytes)} at batch {est.batch_size} + runtime "
            f"{format_bytes(est.runtime_bytes)}), but only {format_bytes(est.available_bytes)} "
            "is available; try a smaller batch/resolution"
        )
    return est
