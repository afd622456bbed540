"""Exported and compiled models cached on disk: built once, checked on every use, never trusted
when damaged.

Why: an ONNX export takes seconds and a TensorRT engine minutes, and each is the same for the
same model, weights, shape, precision and versions, so it is built once under a key hashing all
of them (``artifact_key``) and its SHA-256 is checked on every use. A build writes a temporary
name and renames it into place under a per-key file lock: two processes asking at once build it
once, and a killed build leaves nothing. Where it lives: docs/benchmarks.md, 'Runtimes'.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from zoo.errors import ZooError
from zoo.paths import artifact_dir

__all__ = [
    "Artifact",
    "CachedEntry",
    "artifact_key",
    "cached_file",
    "clear_artifacts",
    "discard",
    "list_artifacts",
    "runtime_cache_dir",
    "runtime_cache_files",
]

_META = "meta.json"
_CHUNK = 1 << 20
#: The file that says a folder is the zoo's cache: ``clear`` touches nothing without it.
MARKER = ".effscale-cache"
_RUNTIME_CACHES = "runtime-caches"


@dataclass(frozen=True)
class Artifact:
    """A cached file ready to use: built now (``cached=False``, ``build_s`` its cost) or found
    intact in the cache; its digest, for a record kept where the cache's writer cannot reach."""

    path: Path
    key: str
    cached: bool
    build_s: float
    sha256: str = ""
    size_bytes: int = 0


@dataclass(frozen=True)
class CachedEntry:
    """One entry of the cache, as ``python -m zoo cache list`` shows it."""

    kind: str
    key: str
    path: Path
    size_bytes: int
    created: str
    description: str


def artifact_key(**parts: Any) -> str:
    """A stable key for everything that determines an artefact (JSON-serialisable parts).

    >>> artifact_key(model="b0", batch=1) == artifact_key(batch=1, model="b0")
    True
    """
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _intact(path: Path, meta_path: Path) -> bool:
    try:
        meta = json.loads(meta_path.read_text())
        return (
            path.is_file()
            and not path.is_symlink()
            and path.stat().st_size == meta["size_bytes"]
            and _sha256(path) == meta["sha256"]
        )
    except (OSError, ValueError, KeyError, TypeError):
        return False


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    try:
        import fcntl
    except ImportError:  # not POSIX: no cross-process lock
        yield
        return
    fd = os.open(folder / ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _looks_like_ours(root: Path) -> bool:
    """Whether ``root`` holds only what the zoo writes (a cache from before the mark existed):
    its kernel caches, and entry folders each with the zoo's record or lock."""
    for child in root.iterdir():
        if child.name in (MARKER, _RUNTIME_CACHES) and not child.is_symlink():
            continue
        if child.is_symlink() or not child.is_dir():
            return False
        for entry in child.iterdir():
            if not (entry / _META).exists() and not (entry / ".lock").exists():
                return False
    return True


def _root() -> Path:
    """The cache folder, made and marked as the zoo's when it is new (or holds only what the
    zoo writes)."""
    root = artifact_dir()
    try:
        if root.is_symlink() or (root.exists() and not root.is_dir()):
            raise OSError(0, "it is a symbolic link or not a folder")
        fresh = not root.exists() or _looks_like_ours(root)
        root.mkdir(parents=True, exist_ok=True)
        if fresh and not (root / MARKER).exists():
            (root / MARKER).write_text("effscale's cache of exported and compiled models\n")
    except OSError as exc:
        raise ZooError(
            f"cannot use the artefact cache at {root}: {exc.strerror or exc}; accepted: a "
            "writable folder of its own (set EFFSCALE_CACHE)"
        ) from None
    return root


def cached_file(
    kind: str,
    key: str,
    filename: str,
    build: Callable[[Path], None],
    *,
    description: str = "",
    rebuild: bool = False,
) -> Artifact:
    """The artefact ``kind/key/filename``: from the cache when it is there and intact (and not
    ``rebuild``), else made by ``build(path)`` (which writes the file at ``path``) and recorded.

    A file that is present but damaged (its SHA-256 or size differs from the record, the record
    is missing or unreadable) is rebuilt, never used.
    """
    folder = _root() / kind / key
    path = folder / filename
    meta_path = folder / _META
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ZooError(
            f"cannot use the artefact cache at {artifact_dir()}: {exc.strerror or exc}; accepted: "
            "a writable folder (set EFFSCALE_CACHE)"
        ) from None
    with _locked(folder):
        if not rebuild and _intact(path, meta_path):
            meta = json.loads(meta_path.read_text())
            return Artifact(path, key, True, 0.0, str(meta["sha256"]), int(meta["size_bytes"]))
        for stale in (path, meta_path):
            stale.unlink(missing_ok=True)
        partial = folder / f".{filename}.{os.getpid()}.partial"
        started = time.perf_counter()
        try:
            build(partial)
            build_s = time.perf_counter() - started
            meta = {
                "sha256": _sha256(partial),
                "size_bytes": partial.stat().st_size,
                "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "build_s": round(build_s, 3),
                "description": description,
            }
            os.replace(partial, path)
            meta_partial = folder / f".{_META}.partial"
            meta_partial.write_text(json.dumps(meta, indent=2))
            os.replace(meta_partial, meta_path)
        finally:
            partial.unlink(missing_ok=True)
    return Artifact(path, key, False, build_s, str(meta["sha256"]), int(meta["size_bytes"]))


def runtime_cache_dir(name: str) -> Path:
    """A folder for a runtime's own compiled-kernel cache (``inductor``, ``openvino``)."""
    folder = _root() / _RUNTIME_CACHES / name
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def runtime_cache_files(name: str) -> list[Path]:
    """The regular files of a runtime's kernel cache (links are not followed, and removed)."""
    folder = artifact_dir() / _RUNTIME_CACHES / name
    if not folder.is_dir() or folder.is_symlink():
        return []
    files = []
    for path in sorted(folder.rglob("*")):
        if path.is_symlink():
            path.unlink(missing_ok=True)  # never the zoo's: a planted link
        elif path.is_file():
            files.append(path)
    return files


def discard(path: Path) -> None:
    """Remove one artefact (its whole entry, record included) or one kernel-cache file."""
    root = artifact_dir()
    entry = path.parent if (path.parent / _META).exists() else path
    if root not in entry.parents:
        raise ZooError(f"{path} is not in the artefact cache {root}")
    if entry.is_dir() and not entry.is_symlink():
        shutil.rmtree(entry, ignore_errors=True)
    else:
        entry.unlink(missing_ok=True)


def list_artifacts() -> list[CachedEntry]:
    """Every recorded artefact in the cache, newest first."""
    root = artifact_dir()
    entries = []
    for meta_path in root.glob(f"*/*/{_META}"):
        try:
            meta = json.loads(meta_path.read_text())
        except (OSError, ValueError):
            continue
        files = [p for p in meta_path.parent.iterdir() if p.name not in (_META, ".lock")]
        if not files or not isinstance(meta, dict):
            continue
        entries.append(
            CachedEntry(
                kind=meta_path.parent.parent.name,
                key=meta_path.parent.name,
                path=files[0],
                size_bytes=sum(p.stat().st_size for p in files if p.is_file()),
                created=str(meta.get("created", "")),
                description=str(meta.get("description", "")),
            )
        )
    return sorted(entries, key=lambda e: e.created, reverse=True)


def clear_artifacts() -> tuple[int, int]:
    """Delete what the zoo cached (entries with its record, its runtimes' kernel caches), and
    nothing else: (files removed, bytes freed). A folder without the zoo's mark, or that is a
    link, is refused (``ZooError``) and left as it was."""
    root = artifact_dir()
    if not root.exists() and not root.is_symlink():
        return 0, 0
    if (
        root.is_symlink()
        or not root.is_dir()
        or not ((root / MARKER).is_file() or _looks_like_ours(root))
    ):
        raise ZooError(
            f"{root} is not the zoo's artefact cache (no {MARKER} in it, or not a folder of its "
            "own): nothing was removed; accepted: the folder the zoo made (EFFSCALE_CACHE)"
        )
    ours = [p.parent for p in root.glob(f"*/*/{_META}") if p.parent.parent.name != _RUNTIME_CACHES]
    ours += [p for p in (root / _RUNTIME_CACHES).glob("*") if p.is_dir() and not p.is_symlink()]
    count = size = 0
    for entry in ours:
        for path in entry.rglob("*"):
            if path.is_file() and not path.is_symlink():
                count += 1
                size += path.stat().st_size
        shutil.rmtree(entry, ignore_errors=True)
    for folder in [*(p.parent for p in ours), root / _RUNTIME_CACHES]:
        with contextlib.suppress(OSError):
            folder.rmdir()  # only if the entries were all it held
    return count, size
