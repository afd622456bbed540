"""Calibration images for int8: any folder of images, the ones used picked evenly across it,
identified by a digest of their bytes, decoded and preprocessed for one input size.

Why a digest: a quantized artefact is only as good as the images its ranges came from, so the
digest is part of the protocol's key and of the artefact's cache key; a folder that changed since
it was named is calibrated again, never trusted. Why never the evaluated images: an accuracy
measured on the images that set the ranges flatters int8 (docs/precision.md).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from zoo.errors import ZooError
from zoo.runtimes.equivalence import centre_crop

if TYPE_CHECKING:
    import numpy as np
    from PIL.Image import Image

__all__ = [
    "DEFAULT_IMAGES",
    "CalibrationSet",
    "CalibrationSource",
    "calibration_digest",
    "calibration_files",
    "check_unchanged",
    "load_calibration",
    "pick_evenly",
]

#: Images a calibration uses (NNCF's and ONNX Runtime's usual subset); fewer with a warning.
DEFAULT_IMAGES = 300
#: What counts as an image file here (by extension; a file that does not decode is skipped).
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"})
#: Larger images are refused before decoding (a decompression bomb in a folder someone shared).
MAX_PIXELS = 50_000_000


@dataclass(frozen=True)
class CalibrationSet:
    """Decoded calibration images (N×3×r×r float32) and what they are."""

    images: np.ndarray
    digest: str
    used: int
    skipped: tuple[str, ...]  # files that could not be decoded, with why
    warnings: tuple[str, ...]


def pick_evenly(items: list, limit: int) -> list:
    """``limit`` items spread evenly over ``items`` (all of them when there are fewer): a folder
    sorted by class gives every class its share.

    >>> pick_evenly(list(range(10)), 3)
    [0, 3, 6]
    >>> pick_evenly([1, 2], 5)
    [1, 2]
    """
    if len(items) <= limit:
        return list(items)
    return [items[i * len(items) // limit] for i in range(limit)]


def calibration_files(folder: str | os.PathLike[str], limit: int = DEFAULT_IMAGES) -> list[Path]:
    """The image files (by extension, regular files, links not followed) under ``folder``,
    sorted, then ``limit`` of them picked evenly; ``ZooError`` for a folder without any."""
    root = Path(folder)
    if not root.is_dir():
        raise ZooError(
            f"calibration folder {str(root)!r} is not a folder: accepted a folder of images"
        )
    suffixes = IMAGE_SUFFIXES
    found = []
    for top, dirs, files in os.walk(root, followlinks=False):
        dirs.sort()
        for name in sorted(files):
            path = Path(top) / name
            if path.suffix.lower() in suffixes and path.is_file() and not path.is_symlink():
                found.append(path)
    if not found:
        raise ZooError(
            f"calibration folder {str(root)!r} holds no image file: accepted a folder (sub-folders "
            f"too) of {', '.join(sorted(suffixes))} files"
        )
    return pick_evenly(found, limit)


def _digest(files: list[Path], root: Path | None) -> str:
    digest = hashlib.sha256(f"images={len(files)}".encode())
    for path in files:
        name = path.relative_to(root) if root is not None else Path(path.name)
        digest.update(str(name).encode("utf-8", "surrogateescape") + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class CalibrationSource:
    """The image files a calibration uses, their digest, and a line saying what they are."""

    files: tuple[Path, ...]
    digest: str
    described: str
    root: Path | None = None  # the folder the files' names in the digest are relative to

    @classmethod
    def of_folder(
        cls, folder: str | os.PathLike[str], limit: int = DEFAULT_IMAGES
    ) -> CalibrationSource:
        """``limit`` images picked evenly from ``folder``."""
        files = calibration_files(folder, limit)
        described = f"{len(files)} images picked evenly from {os.fspath(folder)}"
        return cls(tuple(files), _digest(files, Path(folder)), described, Path(folder))

    @classmethod
    def of_files(cls, files: list[Path], described: str) -> CalibrationSource:
        """Exactly ``files`` (a seeded split of an evaluated folder)."""
        return cls(tuple(files), _digest(files, None), described)

    def load(
        self, resolution: int, prepare: Callable[[Image], np.ndarray] | None = None
    ) -> CalibrationSet:
        """The images decoded (checked against the digest first) and preprocessed."""
        return _decode(self, resolution, prepare)


def calibration_digest(folder: str | os.PathLike[str], limit: int = DEFAULT_IMAGES) -> str:
    """A digest of the images a calibration of ``folder`` uses: their paths and bytes (16 hex)."""
    return CalibrationSource.of_folder(folder, limit).digest


def check_unchanged(folder: str, digest: str) -> None:
    """``ZooError`` when ``folder``'s images are not the ones ``digest`` was taken of."""
    now = calibration_digest(folder)
    if now != digest:
        raise ZooError(
            f"the calibration folder {folder!r} changed since it was named (digest {digest} then, "
            f"{now} now): not trusted; accepted: ask again, and it is calibrated on what it holds"
        )


def _decode_one(path: Path) -> Image:
    """One file as upright RGB, its declared size checked before decoding."""
    from PIL import Image as PILImage
    from PIL import ImageOps

    with PILImage.open(path) as opened:
        if opened.width * opened.height > MAX_PIXELS:
            raise ZooError(f"{opened.width}×{opened.height} px is over {MAX_PIXELS:,} pixels")
        return ImageOps.exif_transpose(opened).convert("RGB")


def load_calibration(folder: str, digest: str, resolution: int) -> CalibrationSet:
    """The calibration images of ``folder`` (checked against ``digest``), centre-cropped at
    ``resolution`` as the equivalence check's photos are."""
    check_unchanged(folder, digest)
    return CalibrationSource.of_folder(folder).load(resolution)


def _decode(
    source: CalibrationSource, resolution: int, prepare: Callable[[Image], np.ndarray] | None
) -> CalibrationSet:
    import numpy as np

    now = _digest(list(source.files), source.root)
    if now != source.digest:
        raise ZooError(
            f"the calibration images changed since they were chosen (digest {source.digest} "
            f"then, {now} now): not trusted; accepted: ask again"
        )
    images, skipped = [], []
    for path in source.files:
        try:
            image = _decode_one(path)
        except (OSError, ValueError, ZooError) as exc:  # PIL: UnidentifiedImageError is OSError
            skipped.append(f"{path.name}: {exc}")
            continue
        images.append(prepare(image) if prepare else centre_crop(image, resolution))
    if not images:
        raise ZooError(
            f"no calibration image could be decoded ({skipped[0]}): accepted readable images"
        )
    warnings = []
    if len(images) < DEFAULT_IMAGES:
        warnings.append(
            f"calibrated on {len(images)} images ({DEFAULT_IMAGES} recommended): int8 ranges "
            "from few images may clip what others need"
        )
    return CalibrationSet(
        np.ascontiguousarray(np.stack(images).astype(np.float32)),
        source.digest,
        len(images),
        tuple(skipped),
        tuple(warnings),
    )
