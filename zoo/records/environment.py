"""Where a measurement runs: the device it resolves to, the thread count, and the fingerprint
(``Environment``) whose key is part of the store's unique key.

Why a fingerprint: the same protocol on another CPU, GPU, driver, thread count, torch or timm
version is a different measurement, so a result taken elsewhere never replaces one taken here.
The host name is recorded but not keyed; a cluster node's name is keyed. What is keyed and why:
docs/architecture.md, 'Notes by module'; node names: docs/scale-out.md, 'Start the cluster'.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import socket
from dataclasses import asdict, dataclass, replace
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from zoo.errors import ZooError
from zoo.records.protocol import DEVICE_CHOICES, Protocol, check_precision, check_runtime
from zoo.records.runtimes import get_runtime

__all__ = [
    "BF16_FLAGS",
    "INT8_FLAGS",
    "NODE_ENV",
    "Environment",
    "check_cpu_precision",
    "cpu_flags",
    "cpu_model",
    "cuda_present",
    "default_threads",
    "environment_for",
    "gpu_driver_version",
    "host_name",
    "node_name",
    "package_version",
    "resolve_device",
    "resolve_protocol",
    "runtime_version",
    "usable_cpus",
]


@dataclass(frozen=True)
class Environment:
    """Where a measurement runs; its ``key`` is part of the store's unique key."""

    device: str  # resolved: "cpu" or "cuda:N"
    device_name: str
    cpu_model: str
    threads: int
    torch_version: str
    timm_version: str
    runtime_version: str = ""  # the runtime package's version ("" for torch's own runtimes)
    host: str = ""  # the machine's host name: recorded, not part of the key
    node: str = ""  # the cluster node's name it measured as ("" when measuring for itself)
    gpu_driver: str = ""  # the NVIDIA driver's version on CUDA ("" on a CPU)

    @property
    def key(self) -> str:
        """A short fingerprint of everything but the host name. Fields added after the first
        version are left out while empty, so the keys stored before them stay valid.

        >>> Environment("cpu", "Intel(R) Xeon(R) CPU", "Intel(R) Xeon(R) CPU", 2, "2.14.1",
        ...             "1.0.31", host="box-a").key
        'caccf616c5a8303d'
        """
        data = asdict(self)
        del data["host"]
        for later in _LATER_FIELDS:
            if not data[later]:
                del data[later]
        text = json.dumps(data, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


# Fields added to the key after the first version: left out of it while empty.
_LATER_FIELDS = ("runtime_version", "node", "gpu_driver")
#: The name this process measures under as a cluster node (set by ``zoo.workers.ray_dispatch`` on each node;
#: a user may set it too, to keep two alike machines' rows apart in a shared store).
NODE_ENV = "EFFSCALE_NODE"
_NODE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}")


def node_name() -> str:
    """``$EFFSCALE_NODE`` ("" when unset); a name with other characters is a ``ZooError``."""
    name = os.environ.get(NODE_ENV, "")
    if name and not _NODE_NAME.fullmatch(name):
        raise ZooError(
            f"{NODE_ENV}={name!r} is not a usable node name: accepted up to 128 letters, digits "
            "and . _ : @ - (starting with a letter or digit)"
        )
    return name


def host_name() -> str:
    """This machine's host name."""
    return socket.gethostname() or platform.node() or "unknown host"


def gpu_driver_version(proc_text: str | None = None) -> str:
    """The NVIDIA kernel driver's version (``/proc/driver/nvidia/version``), or "".

    >>> gpu_driver_version("NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.15  Tue "
    ...                    "Mar  5 22:23:56 UTC 2024\\nGCC version:  gcc version 12.2.0")
    '550.54.15'
    >>> gpu_driver_version("NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  570.86.10  "
    ...                    "Release Build")
    '570.86.10'
    """
    if proc_text is None:
        try:
            proc_text = Path("/proc/driver/nvidia/version").read_text()
        except OSError:
            return ""
    first = proc_text.splitlines()[0] if proc_text else ""
    found = re.search(r"Kernel Module(?: for \S+)?\s+(\d+(?:\.\d+)+)", first)
    return found.group(1) if found else ""


def cuda_present() -> bool:
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
        return "cuda:0" if cuda_present() else "cpu"
    if isinstance(device, str) and device.startswith("cuda"):
        if not cuda_present():
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
        raise ZooError(f"device {device!r} is not supported: accepted {DEVICE_CHOICES}")
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


#: CPU flags (``/proc/cpuinfo``) any one of which gives bf16 arithmetic in hardware.
BF16_FLAGS: tuple[str, ...] = ("avx512_bf16", "amx_bf16")
#: CPU flags that give fast int8 dot products (without them int8 still runs, more slowly).
INT8_FLAGS: tuple[str, ...] = ("avx512_vnni", "avx_vnni", "amx_int8")


def cpu_flags(cpuinfo: str | None = None) -> frozenset[str]:
    """The CPU's feature flags (``/proc/cpuinfo``; empty where there is none).

    >>> sorted(cpu_flags("model name : x86\\nflags : sse avx512_bf16"))
    ['avx512_bf16', 'sse']
    """
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            return frozenset()
    flags: set[str] = set()
    for line in cpuinfo.splitlines():
        name, _, value = line.partition(":")
        if name.strip() == "flags":
            flags.update(value.split())
    return frozenset(flags)


def check_cpu_precision(precision: str, flags: frozenset[str] | None = None) -> None:
    """``ZooError`` when this CPU cannot compute in ``precision`` in hardware (bf16 without
    ``BF16_FLAGS``: emulation would time something no deployment runs), naming the flags.

    >>> check_cpu_precision("bf16", frozenset({"avx2"}))
    Traceback (most recent call last):
    ...
    zoo.errors.ZooError: bf16 on the CPU needs one of the CPU flags avx512_bf16, amx_bf16; this CPU has none of them: accepted fp32 or int8 here
    """
    flags = cpu_flags() if flags is None else flags
    if precision == "bf16" and not flags & set(BF16_FLAGS):
        raise ZooError(
            f"bf16 on the CPU needs one of the CPU flags {', '.join(BF16_FLAGS)}; this CPU has "
            "none of them: accepted fp32 or int8 here"
        )


def usable_cpus() -> int:
    """Logical CPUs this process may run on (its affinity mask on Linux)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def default_threads() -> int:
    """Physical cores this process may run on (torch's own default), or ``OMP_NUM_THREADS``."""
    env = os.environ.get("OMP_NUM_THREADS", "")
    if env.isdigit() and int(env) > 0:
        return int(env)
    usable = usable_cpus()
    import psutil

    logical = psutil.cpu_count(logical=True) or usable
    physical = psutil.cpu_count(logical=False) or logical
    # With SMT, torch uses one thread per physical core; scale the usable set the same way.
    return max(1, round(usable * physical / logical))


def package_version(name: str) -> str:
    """The installed version of a distribution, or ``not installed``."""
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def resolve_protocol(protocol: Protocol) -> Protocol:
    """``protocol`` with a concrete device and thread count; a precision or runtime the
    resolved device does not offer is refused."""
    device = resolve_device(protocol.device)
    check_precision(protocol.precision, device)
    check_runtime(protocol.runtime, device, protocol.precision)
    threads = protocol.threads or default_threads()
    usable = usable_cpus()
    if threads > usable:
        # More threads than CPUs time the scheduler, not the model: refuse rather than store it.
        raise ZooError(
            f"threads {threads} is more than the {usable} CPUs this process may use: accepted 1 "
            f"to {usable}"
        )
    return replace(protocol, device=device, threads=threads)


def environment_for(protocol: Protocol) -> Environment:
    """The environment a (resolved) protocol measures in. Needs torch only on CUDA."""
    resolved = resolve_protocol(protocol)  # idempotent: "cuda" and "cuda:0" give one key
    cpu = cpu_model()
    device_name = cpu
    driver = ""
    if resolved.device.startswith("cuda"):
        import torch

        device_name = torch.cuda.get_device_name(torch.device(resolved.device))
        driver = gpu_driver_version()
    assert resolved.threads is not None
    return Environment(
        device=resolved.device,
        device_name=device_name,
        cpu_model=cpu,
        threads=resolved.threads,
        torch_version=package_version("torch"),
        timm_version=package_version("timm"),
        runtime_version=runtime_version(resolved.runtime),
        host=host_name(),
        node=node_name(),
        gpu_driver=driver,
    )


def runtime_version(runtime: str) -> str:
    """The version of the package ``runtime`` needs ("" for torch's own runtimes)."""
    package = get_runtime(runtime).package
    return package_version(package) if package else ""
