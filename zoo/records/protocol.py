"""How to measure: the ``Protocol`` record, its validation, and the key that tells two
protocols apart.

A leaf (it reads only the runtime table) so that the store, the memory guard, the queue and the
orchestration share it without importing each other; the protocol in words is in
docs/benchmarks.md.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

from zoo.errors import ZooError
from zoo.records.runtimes import (
    REFERENCE_RUNTIME,
    device_kind,
    get_runtime,
    runtimes_for,
)

__all__ = [
    "DEVICE_CHOICES",
    "MAX_BATCH_SIZE",
    "PRECISIONS",
    "PROTOCOL_FIELDS",
    "QUANTIZED",
    "Protocol",
    "check_batch_size",
    "check_precision",
    "check_runtime",
    "check_whole_number",
    "precisions_on",
    "protocol_key",
]

#: Numeric precisions a measurement can name; which runtime offers which, on which device, is
#: the runtime table's (``zoo.records.runtimes``).
PRECISIONS: tuple[str, ...] = ("fp32", "bf16", "fp16", "int8")
#: Precisions whose weights and activations are quantized: they need calibration images.
QUANTIZED: tuple[str, ...] = ("int8",)
#: Larger batches are typing mistakes; the memory guard refuses most of the range below anyway.
MAX_BATCH_SIZE = 1_000_000
DEVICE_CHOICES = "auto, cpu, cuda, cuda:N"


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


def precisions_on(device: str) -> tuple[str, ...]:
    """The precisions some runtime offers on ``device`` (``auto``: on any), in ``PRECISIONS``
    order.

    >>> precisions_on("cpu")
    ('fp32', 'bf16', 'int8')
    """
    return tuple(p for p in PRECISIONS if runtimes_for(device, p))


def check_precision(precision: object, device: str) -> str:
    """``precision`` if some runtime measures in it on ``device``, else a ``ZooError`` naming
    what that device accepts.

    >>> check_precision("fp16", "cpu")
    Traceback (most recent call last):
    ...
    zoo.errors.ZooError: precision 'fp16' is not supported on CPU: accepted fp32, bf16, int8 on CPU; fp16 needs a CUDA device
    """
    if precision not in PRECISIONS:
        raise ZooError(
            f"precision {precision!r} is not supported: accepted {', '.join(PRECISIONS)}"
        )
    kind = device_kind(device)
    if kind == "cpu" and precision not in precisions_on("cpu"):
        cuda_only = [p for p in precisions_on("cuda") if p not in precisions_on("cpu")]
        raise ZooError(
            f"precision {precision!r} is not supported on CPU: accepted "
            f"{', '.join(precisions_on('cpu'))} on CPU; {', '.join(cuda_only)} "
            + ("needs" if len(cuda_only) == 1 else "need")
            + " a CUDA device"
        )
    return str(precision)


def check_runtime(runtime: object, device: str, precision: str) -> str:
    """``runtime`` if it can run on ``device`` (``auto`` passes) in ``precision``, else a
    ``ZooError`` naming what is accepted.

    >>> check_runtime('openvino', 'cpu', 'fp32')
    'openvino'
    >>> check_runtime('tensorrt', 'cpu', 'fp32')
    Traceback (most recent call last):
    ...
    zoo.errors.ZooError: runtime 'tensorrt' does not run on cpu: accepted on cpu: eager, compile, onnxruntime, openvino
    """
    info = get_runtime(runtime)
    kind = device_kind(device)
    if kind != "auto" and kind not in info.precisions:
        accepted = ", ".join(runtimes_for(kind))
        raise ZooError(
            f"runtime {runtime!r} does not run on {kind}: accepted on {kind}: {accepted}"
        )
    offered = sorted(
        {p for k, ps in info.precisions.items() if kind in ("auto", k) for p in ps},
        key=PRECISIONS.index,
    )
    if precision not in offered:
        raise ZooError(
            f"runtime {runtime!r} is measured in {', '.join(offered)} here, not {precision}: "
            f"accepted runtimes for {precision}: {', '.join(runtimes_for(kind, precision))}"
        )
    return info.name


def _is_device(device: object) -> bool:
    return isinstance(device, str) and (
        device in ("auto", "cpu", "cuda") or (device.startswith("cuda:") and device[5:].isdigit())
    )


@dataclass(frozen=True)
class Protocol:
    """How to measure. Validated on creation; ``zoo.records.environment.resolve_protocol`` fixes
    ``auto`` and the thread count."""

    device: str = "auto"  # "auto", "cpu", "cuda" or "cuda:N"
    batch_size: int = 1
    precision: str = "fp32"  # one of PRECISIONS the runtime offers on the device
    channels_last: bool = True
    warmup_iters: int = 3
    min_iters: int = 5
    max_iters: int = 50
    max_seconds: float = 10.0  # stop timing after this much timed work, once min_iters are done
    threads: int | None = None  # CPU intra-op threads; None: the physical cores we may use
    runtime: str = REFERENCE_RUNTIME  # one of ``zoo.records.runtimes.RUNTIMES``
    rounds: int = 8  # the timed iterations split into rounds, a speed probe around each
    calibration: str | None = None  # int8: the calibration images' content digest (in the key)
    calibration_dir: str | None = None  # int8: where they are (not in the key: the digest is)

    def __post_init__(self) -> None:
        if not _is_device(self.device):
            raise ZooError(f"device {self.device!r} is not supported: accepted {DEVICE_CHOICES}")
        check_batch_size(self.batch_size)
        check_precision(self.precision, self.device)
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
        check_whole_number("rounds", self.rounds, 1, 1000)
        if self.precision in QUANTIZED and not (self.calibration and self.calibration_dir):
            raise ZooError(
                f"precision {self.precision} needs calibration images: give --calibration DIR "
                "(a folder of images, 300 are used; never the images you evaluate on)"
            )
        if self.precision not in QUANTIZED and (self.calibration or self.calibration_dir):
            raise ZooError(
                f"calibration images are for int8 only, not {self.precision}: accepted "
                "--calibration with --precision int8"
            )


#: The fields of a protocol, in order: what two measurements must share to be comparable.
PROTOCOL_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Protocol))
# Fields added after schema version 2, with the value every earlier measurement had: at that
# value they are left out of the key, so keys stored before the field existed stay valid.
_LATER_FIELDS: dict[str, object] = {
    "runtime": REFERENCE_RUNTIME,
    "rounds": 1,
    "calibration": None,
    "calibration_dir": None,
}
#: Fields that say where, not what: left out of the key (the calibration digest is in it).
_NOT_KEYED = ("calibration_dir",)


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
        if name in _NOT_KEYED:
            continue
        value = data.get(name, _LATER_FIELDS.get(name))
        if name in _LATER_FIELDS and value == _LATER_FIELDS[name]:
            continue
        if name == "max_seconds" and value is not None:
            value = float(value)  # 10 and 10.0 are one protocol
        canonical.append(value)
    text = json.dumps(canonical, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
