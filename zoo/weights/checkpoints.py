"""Read a checkpoint file a user names into a plain state dict, safely.

The file is read once through ``zoo.files`` (a regular file, at most ``MAX_WEIGHTS_BYTES``), its
SHA-256 taken from the very bytes parsed; a PyTorch file is read with
``torch.load(weights_only=True)``, so a pickle that would run code is refused. Why not timm's
``load_state_dict``: it reopens the path by name, recognises safetensors by the file name alone
and prefers EMA weights. Accepted files and wrappers: docs/weights.md, 'The sources, in order'.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from zoo.errors import ZooError
from zoo.files import UnreadableFile, display_name, read_regular

if TYPE_CHECKING:
    import torch

__all__ = [
    "MAX_WEIGHTS_BYTES",
    "one_line",
    "parse_state_dict",
    "read_checkpoint",
    "read_state_dict",
]

#: Weights files larger than this are not read (EfficientNet-L2 in float32 is about 1.9 GB).
MAX_WEIGHTS_BYTES: int = 4 * 1024**3

# Checkpoint wrappers, outermost first: timm.models.load_state_dict's keys (non-EMA before EMA, as
# timm's validate.py loads by default), and PyTorch's tutorial convention "model_state_dict".
_WRAPPER_KEYS = ("state_dict", "model", "model_state_dict", "state_dict_ema", "model_ema")


def one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}"


def _looks_like_safetensors(head: bytes) -> bool:
    # safetensors: an 8-byte little-endian header length, then a JSON object.
    return len(head) >= 9 and head[8:9] == b"{" and int.from_bytes(head[:8], "little") > 1


def read_checkpoint(path: Path) -> tuple[bytes, str]:
    """The file's bytes (bounded, regular files only) and their SHA-256."""
    try:
        data = read_regular(path, MAX_WEIGHTS_BYTES)
    except UnreadableFile as exc:
        if exc.missing:
            raise ZooError(f"weights file not found: {exc.name}") from None
        raise ZooError(
            f"weights file {exc}; accepted: a regular .safetensors or PyTorch state-dict file"
        ) from None
    if not data:
        raise ZooError(f"weights file {display_name(path)} is empty (0 bytes)")
    return data, hashlib.sha256(data).hexdigest()


def parse_state_dict(data: bytes, path: Path) -> dict[str, torch.Tensor]:
    import torch

    name = display_name(path)
    if path.suffix == ".safetensors" or _looks_like_safetensors(data[:16]):
        from safetensors.torch import load

        try:
            loaded: object = load(data)
        except Exception as exc:  # noqa: BLE001 - SafetensorError, OSError, ...
            raise ZooError(
                f"weights file {name} is not a readable safetensors file ({exc})"
            ) from None
    else:
        try:
            with warnings.catch_warnings():
                # Old pickle protocols make torch warn; the outcome is reported below anyway.
                warnings.simplefilter("ignore", UserWarning)
                loaded = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001 - UnpicklingError, RuntimeError, KeyError, ...
            if "Weights only load failed" in str(exc):
                raise ZooError(
                    f"refused {name}: it holds pickled Python objects other than tensors, which "
                    "could run code when loaded (torch.load weights_only=True); save a plain "
                    "state dict (torch.save(model.state_dict(), ...)) or a .safetensors file"
                ) from None
            raise ZooError(
                f"weights file {name} is corrupt, truncated or not a PyTorch/safetensors file "
                f"({one_line(exc)})"
            ) from None
    return _state_dict_from(loaded, name)


def _unusable(tensor: torch.Tensor) -> str | None:
    """Why a tensor cannot be copied into a model's dense float parameters, or None."""
    import torch

    if tensor.is_nested:
        return "nested"
    if tensor.layout is not torch.strided:
        return f"{str(tensor.layout).removeprefix('torch.')} layout"
    if tensor.is_quantized or tensor.is_complex():
        return f"{'quantized' if tensor.is_quantized else 'complex'} {tensor.dtype}"
    if tensor.device.type != "cpu":
        return f"on device {tensor.device.type}"
    return None


def _state_dict_from(loaded: object, name: str) -> dict[str, torch.Tensor]:
    """Unwrap checkpoint wrappers, check every entry is a usable tensor, drop wrapper prefixes."""
    import torch
    from timm.models import clean_state_dict

    for _ in range(3):  # {"state_dict": {...}}, {"model": {"state_dict": ...}}, ...
        if not isinstance(loaded, Mapping) or any(
            isinstance(v, torch.Tensor) for v in loaded.values()
        ):
            break
        inner = next((loaded[k] for k in _WRAPPER_KEYS if isinstance(loaded.get(k), Mapping)), None)
        if inner is None:
            break
        loaded = inner
    if not isinstance(loaded, Mapping) or not loaded:
        raise ZooError(f"weights file {name} does not hold a state dict (a mapping name -> tensor)")
    not_tensors = [k for k, v in loaded.items() if not isinstance(v, torch.Tensor)]
    if not_tensors:
        raise ZooError(
            f"weights file {name} is not a plain state dict: {len(not_tensors)} entries are not "
            f"tensors (e.g. {', '.join(map(str, not_tensors[:3]))})"
        )
    unusable = [f"{k} ({why})" for k, v in loaded.items() if (why := _unusable(v))]
    if unusable:
        raise ZooError(
            f"weights file {name} holds tensors that cannot be loaded into a model "
            f"({len(unusable)}, e.g. {', '.join(unusable[:3])}); accepted: dense real-valued "
            "tensors, such as float32, float16 or bfloat16"
        )
    # timm's clean_state_dict drops DataParallel "module." and torch.compile "_orig_mod." prefixes.
    state = clean_state_dict({str(k): v for k, v in loaded.items()})
    if len(state) != len(loaded):
        raise ZooError(
            f"weights file {name} holds the same tensor names with and without a "
            "module./_orig_mod. prefix; accepted: one state dict"
        )
    return state


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Read a safetensors file or a PyTorch state dict (``weights_only=True``), on CPU.

    Only a regular file is read, at most ``MAX_WEIGHTS_BYTES`` (``zoo.files``: a FIFO or a device
    is refused, never waited on). Checkpoint wrappers (``{"state_dict": ...}``, ``{"model": ...}``,
    EMA copies) and the ``module.`` / ``_orig_mod.`` prefixes of DataParallel and
    ``torch.compile`` are removed. Raises ``ZooError`` for missing, corrupt or unsafe files.
    """
    path = Path(path)
    return parse_state_dict(read_checkpoint(path)[0], path)
