"""The one interface every runtime is turned into (``Runner``), what it is built from
(``RunnerSource``), and ``build_runner``: the registry's getter for a runtime's implementation.

Each runtime's code is a module of this wing named in its ``zoo.records.runtimes`` row; its
package is imported only when its runner is built, and a missing one is a ``ZooError`` naming
what to install. The settings per runtime are in docs/benchmarks.md.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zoo.errors import ZooError
from zoo.records.protocol import Protocol
from zoo.records.runtimes import get_runtime

if TYPE_CHECKING:
    import numpy as np
    import torch

__all__ = [
    "Runner",
    "RunnerSource",
    "autocast",
    "build_runner",
    "missing_package",
    "profile_layers",
    "require",
    "require_profiler",
    "time_parts",
    "torch_runner",
    "torch_sync",
]


@dataclass
class Runner:
    """A runtime ready to run: ``call()`` one timed step, ``predict(batch)`` float32 logits for
    a batch of the protocol's size, ``info`` what ran (version, precision it reports, build
    time)."""

    runtime: str
    call: Callable[[], object]
    predict: Callable[[np.ndarray], np.ndarray]
    sync: Callable[[], None] = lambda: None
    batches_per_call: int = 1  # OpenVINO's throughput mode runs several batches per step
    info: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RunnerSource:
    """What a runner is built from: the eager model and its example input (on the device, in
    channels_last where the protocol asks) for PyTorch-based runtimes, or the ONNX export and
    a numpy example for those that run it."""

    example: Any  # torch.Tensor, or np.ndarray for the ONNX runtimes
    model: torch.nn.Module | None = None
    onnx_path: Path | None = None
    key_parts: dict[str, Any] = field(default_factory=dict)  # what makes the model what it is
    description: str = ""  # for the artefact cache's listing
    onnx_sha256: str = ""  # the export's digest (keys the int8 artefacts made from it)
    # int8: the calibration images, prepared as the model expects (None: the protocol's folder,
    # centre-cropped and normalised as the check inputs are)
    calibration: Callable[[], Any] | None = None

    def calibration_set(self, protocol: Protocol) -> Callable[[], Any]:
        """What int8 calibrates on: ``calibration``, or the protocol's folder at the example's
        input size."""
        if self.calibration is not None:
            return self.calibration
        from zoo.runtimes.calibration import load_calibration

        folder, digest = protocol.calibration_dir, protocol.calibration
        if not folder or not digest:
            raise ZooError("int8 needs calibration images: give --calibration DIR")
        size = int(self.example.shape[-1])
        return lambda: load_calibration(folder, digest, size)


def missing_package(runtime: str) -> str | None:
    """Why ``runtime`` cannot run here for want of its package, or None."""
    info = get_runtime(runtime)
    if info.package is None:
        return None
    if importlib.util.find_spec(info.package.replace("-", "_")) is None:
        hint = info.install_from + ("; make run" if info.install_from == "requirements.txt" else "")
        return (
            f"runtime {runtime!r} needs the package {info.package}, which is not installed: "
            f"pip install {info.package} ({hint} installs it)"
        )
    return None


def require(runtime: str) -> None:
    reason = missing_package(runtime)
    if reason:
        raise ZooError(reason)


def build_runner(runtime: str, source: RunnerSource, protocol: Protocol) -> Runner:
    """``runtime``'s runner for ``source`` under ``protocol``: its module's ``build_runner``."""
    require(runtime)
    if not protocol.device.startswith("cuda"):
        from zoo.records.environment import check_cpu_precision

        check_cpu_precision(protocol.precision)
    module = importlib.import_module(f"zoo.runtimes.{get_runtime(runtime).module}")
    return module.build_runner(source, protocol)


def require_profiler(runtime: str) -> None:
    """A ``ZooError`` naming the runtimes that can be profiled, unless ``runtime`` is one."""
    from zoo.records.runtimes import profiled_runtimes

    if get_runtime(runtime).profiler is None:
        raise ZooError(
            f"runtime {runtime!r} has no profiler whose layers map onto the network's modules "
            f"(torch.compile and TensorRT fuse across them); accepted: "
            f"{', '.join(profiled_runtimes())}"
        )


def profile_layers(
    runtime: str, source: RunnerSource, protocol: Protocol, calls: int
) -> list[tuple[str, float]]:
    """(layer, ms per call) in execution order from ``runtime``'s own profiler (its registry
    row's ``profiler``): module names for eager, graph node names for the ONNX runtimes."""
    require_profiler(runtime)
    require(runtime)
    if not protocol.device.startswith("cuda"):
        from zoo.records.environment import check_cpu_precision

        check_cpu_precision(protocol.precision)
    module = importlib.import_module(f"zoo.runtimes.{get_runtime(runtime).module}")
    return module.profile_layers(source, protocol, calls)


def time_parts(
    runtime: str,
    source: RunnerSource,
    protocol: Protocol,
    part_of: Callable[[str], str | None],
    timer: Callable[[Callable[[], object]], float],
) -> dict[str, float]:
    """Each part of the network run alone and timed by ``timer`` (part → ms), for a runtime whose
    profiler slows the kernels it times (its registry row's ``parts_alone``)."""
    if not get_runtime(runtime).parts_alone:
        raise ZooError(f"runtime {runtime!r} profiles its parts in place, not alone")
    module = importlib.import_module(f"zoo.runtimes.{get_runtime(runtime).module}")
    return module.time_parts(source, protocol, part_of, timer)


# --------------------------------------------------------------------------- PyTorch helpers


def autocast(device: str, precision: str) -> contextlib.AbstractContextManager[object]:
    """bf16/fp16 autocast for ``precision`` (on the CPU bf16 only, where the CPU computes it
    in hardware: ``zoo.records.environment.check_cpu_precision``); nothing for fp32."""
    if precision == "fp32":
        return contextlib.nullcontext()
    import torch

    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    kind = "cuda" if device.startswith("cuda") else "cpu"
    return torch.autocast(device_type=kind, dtype=dtype)


def torch_sync(device: str) -> Callable[[], None]:
    """What waits for the device to finish (nothing on a CPU)."""
    if not device.startswith("cuda"):
        return lambda: None
    import torch

    return lambda: torch.cuda.synchronize(device)


def torch_runner(
    runtime: str,
    module: Callable[..., torch.Tensor],
    example: torch.Tensor,
    protocol: Protocol,
    *,
    with_autocast: bool = True,
) -> Runner:
    """A runner around a PyTorch callable (a model, a compiled one, an engine's module)."""
    import torch

    precision = protocol.precision if with_autocast else "fp32"  # an engine has its own

    def call() -> object:
        with torch.inference_mode(), autocast(protocol.device, precision):
            return module(example)

    def predict(batch: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(batch).to(example.device)
        if protocol.channels_last and with_autocast:
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.inference_mode(), autocast(protocol.device, precision):
            return module(x).float().cpu().numpy()

    info = {"runtime_version": "", "runtime_precision": protocol.precision}
    return Runner(runtime, call, predict, torch_sync(protocol.device), info=info)
