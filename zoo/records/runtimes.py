"""The inference runtimes a protocol can name: one record per runtime, one getter.

Plain data, so that a request is checked without importing any runtime. Adding a runtime is a
module in ``zoo/runtimes/`` with a ``build_runner(source, protocol)`` and one row in
``_RUNTIMES`` (docs/architecture.md, "Adding a runtime"); the CLI, the protocol checks,
classification and the dashboard all read this table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from zoo.errors import ZooError

__all__ = [
    "BEST",
    "REFERENCE_RUNTIME",
    "RUNTIMES",
    "RUNTIME_CHOICES",
    "RuntimeInfo",
    "base_runtime",
    "classify_runtimes",
    "device_kind",
    "get_runtime",
    "profiled_runtimes",
    "runtimes_for",
]


@dataclass(frozen=True)
class RuntimeInfo:
    """Everything the zoo knows about one runtime (a short comment per field)."""

    name: str
    precisions: Mapping[str, tuple[str, ...]]  # device kind ("cpu", "cuda") → what it measures in
    module: str  # the module in ``zoo.runtimes`` whose ``build_runner`` makes its runner
    package: str | None = None  # the PyPI distribution it needs beyond torch (versioned in keys)
    install_from: str = "requirements.txt"  # which requirements file lists that package
    exports_onnx: bool = False  # runs the ONNX export (made first, in a process of its own)
    compiles: bool = False  # builds for minutes before its first timed call
    classifies: bool = False  # classification and evaluation can run on it
    reference: bool = False  # eager fp32 on it is what every other runtime is checked against
    keeps_layout: bool = False  # takes the model as built (NCHW), not in channels_last
    preference: int | None = None  # rank when no runtime is named (lower first); None: never
    kernel_cache: str | None = None  # its own compiled-kernel cache's folder in the zoo's cache
    first_estimate_s: float = 30.0  # a job's seconds before any like it was timed (queue ETA)
    profiler: str | None = None  # its own per-layer profiler (zoo profile); None: not profiled
    parts_alone: bool = False  # its profiler slows its kernels: zoo profile times each part alone

    @property
    def devices(self) -> tuple[str, ...]:
        return tuple(self.precisions)


_AUTOCAST = ("fp32", "bf16", "fp16")
_RUNTIMES: tuple[RuntimeInfo, ...] = (
    RuntimeInfo("eager", {"cpu": ("fp32", "bf16"), "cuda": _AUTOCAST}, "eager", classifies=True,
                reference=True, preference=2, first_estimate_s=15.0, profiler="torch.profiler"),
    RuntimeInfo("compile", {"cpu": ("fp32",), "cuda": _AUTOCAST}, "compile", compiles=True,
                first_estimate_s=120.0, kernel_cache="inductor"),
    RuntimeInfo("onnxruntime", {"cpu": ("fp32", "int8")}, "onnxruntime", package="onnxruntime",
                exports_onnx=True, classifies=True, preference=1, first_estimate_s=25.0,
                profiler="ONNX Runtime's profiling", parts_alone=True),
    RuntimeInfo("openvino", {"cpu": ("fp32", "bf16", "int8")}, "openvino", package="openvino",
                exports_onnx=True, classifies=True, preference=0, first_estimate_s=25.0,
                kernel_cache="openvino", profiler="OpenVINO's performance counters"),
    RuntimeInfo("tensorrt", {"cuda": _AUTOCAST}, "tensorrt", package="torch-tensorrt",
                install_from="requirements-gpu.txt", compiles=True, keeps_layout=True),
)  # fmt: skip
_BY_NAME = {r.name: r for r in _RUNTIMES}

#: Every runtime, in the order ``best`` measures them.
RUNTIMES: tuple[str, ...] = tuple(_BY_NAME)
#: Not one runtime: each available one measured, the fastest verified one reported.
BEST = "best"
RUNTIME_CHOICES: tuple[str, ...] = (*RUNTIMES, BEST)
#: The runtime every other one is checked against (and the default).
REFERENCE_RUNTIME: str = next(r.name for r in _RUNTIMES if r.reference)


def device_kind(device: str) -> str:
    """``cpu``, ``cuda`` (for ``cuda`` and ``cuda:N``) or ``auto``.

    >>> device_kind("cuda:1"), device_kind("cpu")
    ('cuda', 'cpu')
    """
    return "cuda" if device.startswith("cuda") else device


def get_runtime(name: object) -> RuntimeInfo:
    """The record of runtime ``name``, or a ``ZooError`` naming the accepted ones.

    >>> get_runtime("eager").reference
    True
    """
    info = _BY_NAME.get(name) if isinstance(name, str) else None
    if info is None:
        raise ZooError(f"runtime {name!r} is not supported: accepted {', '.join(RUNTIME_CHOICES)}")
    return info


def runtimes_for(device: str, precision: str | None = None) -> tuple[str, ...]:
    """The runtimes that run on ``device`` (``auto``: any) in ``precision`` (None: any), in table
    order."""
    kind = device_kind(device)
    return tuple(
        r.name
        for r in _RUNTIMES
        if (kind == "auto" or kind in r.precisions)
        and (
            precision is None
            or any(precision in p for k, p in r.precisions.items() if kind in ("auto", k))
        )
    )


def profiled_runtimes() -> tuple[str, ...]:
    """The runtimes ``zoo profile`` can split into layers (those with a ``profiler``)."""
    return tuple(r.name for r in _RUNTIMES if r.profiler is not None)


def base_runtime(device: str, precision: str) -> str:
    """The reference runtime when it runs ``precision`` on ``device``, else the first that does
    (int8 on a CPU: no eager int8); the protocol a search over runtimes starts from.

    >>> base_runtime("cpu", "fp32"), base_runtime("cpu", "int8")
    ('eager', 'onnxruntime')
    """
    offered = runtimes_for(device, precision)
    return REFERENCE_RUNTIME if REFERENCE_RUNTIME in offered or not offered else offered[0]


def classify_runtimes() -> tuple[str, ...]:
    """The runtimes classification and evaluation can use."""
    return tuple(r.name for r in _RUNTIMES if r.classifies)
