"""timm's pretrained weights on the Hugging Face Hub: where they are, whether the local cache
has them, and a download when the machine is online.

Offline (``HF_HUB_OFFLINE``) nothing is contacted; without a network one short TCP connect
(``HUB_TIMEOUT_S``) says so in seconds instead of a client's long retries.
"""

from __future__ import annotations

import os

__all__ = ["HUB_TIMEOUT_S", "hub_cached_file", "hub_download", "hub_location", "hub_offline"]

#: Seconds to wait for the Hugging Face Hub when online; offline we never wait.
HUB_TIMEOUT_S: float = 5.0


def hub_offline() -> bool:
    truthy = {"1", "true", "yes", "on"}
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in truthy:
        return True
    try:
        from huggingface_hub import constants

        return bool(constants.HF_HUB_OFFLINE)
    except Exception:  # noqa: BLE001 - an unusual huggingface_hub: treat as online
        return False


def _reachable() -> bool:
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


def hub_location(model_name: str) -> tuple[str, str | None, tuple[str, ...]] | None:
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


def hub_cached_file(model_name: str) -> str | None:
    location = hub_location(model_name)
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


def hub_download(model_name: str) -> tuple[str | None, str]:
    """Download timm's weights when online. Returns (path or None, a note on what happened)."""
    location = hub_location(model_name)
    if location is None:
        return None, f"timm has no Hugging Face Hub weights for {model_name}"
    if hub_offline():
        return None, "HF_HUB_OFFLINE is set, so the Hugging Face Hub was not contacted"
    if not _reachable():
        return None, "the Hugging Face Hub is unreachable (no network?)"
    from huggingface_hub import hfhub_download

    repo_id, revision, files = location
    note = ""
    for filename in files:
        try:
            path = hfhub_download(
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
