"""Cached artefacts (ONNX exports, runtimes' kernel caches) trusted only with a digest the store
recorded after they passed the equivalence check.

Why the store: anyone who can write the cache folder can rewrite a file and the record beside
it together (a poisoned graph with a matching ``meta.json`` was measured as verified); the store
is out of that reach. Without a store (the Python API's ``store=None``) only the cache's own
record is checked. What is kept and when: docs/benchmarks.md, 'Runtimes'.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from zoo.files import UnreadableFile, file_sha256
from zoo.paths import artifact_dir
from zoo.records.runtimes import get_runtime
from zoo.runtimes.artifacts import discard, runtime_cache_files

if TYPE_CHECKING:
    from zoo.store.measurement_store import MeasurementStore

__all__ = ["Digests"]


class Digests:
    """The digests the store keeps for this host's cache; ``store=None``: none kept."""

    def __init__(self, store: MeasurementStore | None, host: str) -> None:
        self.store = store
        self.host = host

    @staticmethod
    def _relative(path: Path) -> str:
        return str(path.relative_to(artifact_dir()))

    def vouches_for(self, path: Path, sha256: str) -> bool:
        """Whether the store recorded exactly this content at ``path`` (no store: trusted)."""
        if self.store is None:
            return True
        recorded = self.store.artifact_digest(self.host, self._relative(path))
        return recorded is not None and recorded[0] == sha256

    def record(self, path: Path, sha256: str, size_bytes: int) -> None:
        if self.store is not None:
            self.store.put_artifact_digest(self.host, self._relative(path), sha256, size_bytes)

    def trusted_export(self, prepared: dict[str, Any]) -> bool:
        """Whether an export ``prepare_onnx`` handed back may be used: built just now, or found
        in the cache with the digest the store recorded."""
        if not prepared.get("onnx_path"):
            return True
        return not prepared["artifact_cached"] or self.vouches_for(
            Path(prepared["onnx_path"]), prepared["onnx_sha256"]
        )

    def clean_kernel_cache(self, runtime: str) -> int:
        """Remove the files of ``runtime``'s kernel cache the store does not vouch for (the
        runtime builds them again); how many. Without a store nothing is removed."""
        name = get_runtime(runtime).kernel_cache
        if name is None or self.store is None:
            return 0
        removed = 0
        for path in runtime_cache_files(name):
            try:
                trusted = self.vouches_for(path, file_sha256(path))
            except UnreadableFile:
                trusted = False
            if not trusted:
                discard(path)
                removed += 1
        return removed

    def record_verified(self, runtime: str, prepared: dict[str, Any] | None) -> None:
        """After a measurement passed its check: record the export and the kernel cache."""
        if prepared is not None and prepared.get("onnx_path"):
            path = Path(prepared["onnx_path"])
            self.record(path, prepared["onnx_sha256"], prepared["onnx_size"])
        name = get_runtime(runtime).kernel_cache
        if name is None or self.store is None:
            return
        for path in runtime_cache_files(name):
            try:
                self.record(path, file_sha256(path), path.stat().st_size)
            except (UnreadableFile, OSError):
                continue

    def forget_and_discard(self, runtime: str, prepared: dict[str, Any] | None) -> None:
        """Rebuild from scratch next time: the export and the runtime's kernel cache go."""
        if prepared is not None and prepared.get("onnx_path"):
            discard(Path(prepared["onnx_path"]))
        name = get_runtime(runtime).kernel_cache
        if name is not None:
            for path in runtime_cache_files(name):
                discard(path)
