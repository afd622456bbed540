"""Profiles on disk: one JSON file per (machine, model, resolution, runtime, precision) in a
private folder of the data folder, written whole, and read back as untrusted input (a file
someone else could have written): checked field by field, ignored when it is not ours.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any

from zoo.errors import ZooError
from zoo.files import UnreadableFile, private_dir, read_regular, write_replacing
from zoo.jsontext import strict_dumps
from zoo.paths import data_dir
from zoo.records.environment import cpu_model, host_name

__all__ = ["MAX_BYTES", "load_profile", "profile_path", "save_profile"]

#: A profile is a few kilobytes; anything far larger is not one.
MAX_BYTES = 512 * 1024
_FORMAT = "effscale profile 1"


def profile_path(model: str, resolution: int, runtime: str, precision: str) -> Path:
    """Where this machine's profile of that model on that runtime is kept."""
    key = "|".join((cpu_model(), host_name(), model, str(int(resolution)), runtime, precision))
    return data_dir() / "profiles" / f"{hashlib.sha256(key.encode()).hexdigest()[:24]}.json"


def save_profile(document: dict[str, Any]) -> Path:
    """Keep ``document`` (``zoo.profile.run.profile``'s) for the explorer; its path."""
    path = profile_path(
        document["model"], document["resolution"], document["runtime"], document["precision"]
    )
    private_dir(path.parent)
    write_replacing(path, strict_dumps({"format": _FORMAT, **document}).encode(), mode=0o600)
    return path


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _checked(data: object, model: str, resolution: int, runtime: str, precision: str) -> bool:
    if not isinstance(data, dict) or data.get("format") != _FORMAT:
        return False
    same = (data.get("model"), data.get("resolution"), data.get("runtime"), data.get("precision"))
    if same != (model, resolution, runtime, precision):
        return False
    if not all(_number(data.get(k)) for k in ("whole_ms", "profiled_ms", "gap_pct")):
        return False
    parts = data.get("parts")
    if not isinstance(parts, list) or not parts:
        return False
    for part in parts:
        if not isinstance(part, dict) or not isinstance(part.get("name"), str):
            return False
        if not all(_number(part.get(k)) and part[k] >= 0 for k in ("ms", "macs", "bytes")):
            return False
        rates = (part.get(k) for k in ("gflops", "intensity", "roofline_pct"))
        if not all(v is None or (_number(v) and v >= 0) for v in rates):
            return False
    ceilings = data.get("ceilings")
    return isinstance(ceilings, dict) and all(
        _number(ceilings.get(k)) and ceilings[k] > 0 for k in ("peak_gflops", "bandwidth_gbs")
    )


def load_profile(
    model: str, resolution: int, runtime: str, precision: str
) -> dict[str, Any] | None:
    """This machine's kept profile for that key, or None (none kept, or not a valid one)."""
    try:
        path = profile_path(model, resolution, runtime, precision)
        data = json.loads(read_regular(path, MAX_BYTES))
    except (UnreadableFile, ValueError, RecursionError, ZooError):
        return None
    return data if _checked(data, model, resolution, runtime, precision) else None
