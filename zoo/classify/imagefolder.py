"""A labelled image folder (one sub-folder per class), mapped onto ImageNet-1k's classes.

Why: a practitioner's photos usually sit in folders named after what they show, and timm's
ImageFolder takes only names that sort into ImageNet's order; here each folder is matched to a
class by name (``zoo.classify.imagenet_classes``), and one that matches none or several is an
error before any model is loaded. The walk never hangs or loops (``scan_folder``); ``--limit``
takes a stratified sample; ``data_fingerprint`` hashes the content. The rules: docs/evaluate.md,
'The folder', 'What is reported' and 'The fingerprint, and storing'.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from zoo.classify.imagenet_classes import imagenet_classes, map_folders
from zoo.classify.images import accepted_extensions
from zoo.errors import ZooError
from zoo.files import display_name

__all__ = [
    "ClassFolder",
    "LabelledFolder",
    "LabelledImage",
    "data_fingerprint",
    "scan_folder",
    "stratified_counts",
]


@dataclass(frozen=True)
class ClassFolder:
    """A class folder of the data and the ImageNet-1k class it stands for."""

    name: str  # the folder's name, printable
    index: int
    wnid: str
    label: str
    matched_by: str  # "class map", "WordNet id" or "class name"
    images: int  # images found in it (before --limit)


@dataclass(frozen=True)
class LabelledImage:
    """One image to evaluate and its true ImageNet-1k index."""

    path: str  # the filesystem path (may hold undecodable bytes as surrogate escapes)
    name: str  # printable, relative to the data folder
    folder: str  # its class folder's printable name
    index: int


@dataclass(frozen=True)
class LabelledFolder:
    """What ``scan_folder`` found: the classes, the images to evaluate, and what it skipped."""

    root: str  # printable absolute path
    classes: tuple[ClassFolder, ...]
    images: tuple[LabelledImage, ...]  # the selection (all of them without a limit)
    found: int  # images in the folder before --limit
    limit: int | None
    ignored_files: int  # files that are not images by their extension
    notes: tuple[str, ...]  # skipped links and folders, unreadable folders, empty classes


# --------------------------------------------------------------------------- walking


def _dir_key(status: os.stat_result) -> tuple[int, int]:
    return status.st_dev, status.st_ino


def _relative(path: str, root: str) -> str:
    return display_name(os.path.relpath(path, root))


def _walk_class(
    top: str, root: str, seen: set[tuple[int, int]], notes: list[str]
) -> tuple[list[str], int]:
    """Image files under ``top`` (depth first, names sorted) and the count of other files."""
    images: list[str] = []
    ignored = 0
    extensions = accepted_extensions()
    pending = [top]
    while pending:
        directory = pending.pop()
        try:
            with os.scandir(directory) as listing:
                entries = sorted(listing, key=lambda e: e.name)
        except OSError as exc:
            notes.append(f"cannot list {_relative(directory, root)} ({exc.strerror or exc})")
            continue
        subdirectories: list[str] = []
        for entry in entries:
            if entry.name.startswith("."):
                continue
            try:
                is_dir = entry.is_dir()  # follows a symbolic link
            except OSError:
                is_dir = False
            if is_dir:
                try:
                    key = _dir_key(entry.stat())
                except OSError as exc:
                    notes.append(f"cannot read {_relative(entry.path, root)} ({exc.strerror})")
                    continue
                if key in seen:
                    notes.append(
                        f"skipped {_relative(entry.path, root)}: a link to a folder already read "
                        "(a loop, or the same folder twice)"
                    )
                    continue
                seen.add(key)
                subdirectories.append(entry.path)
            elif os.path.splitext(entry.name)[1].lower() in extensions:
                images.append(entry.path)  # read (or refused) later: FIFOs and broken links too
            else:
                ignored += 1
        pending.extend(reversed(subdirectories))
    return images, ignored


def _class_folders(
    root: str, seen: set[tuple[int, int]], notes: list[str]
) -> tuple[list[tuple[str, str]], int]:
    """(name, path) of the class folders in ``root`` by name, and the count of loose images."""
    try:
        with os.scandir(root) as listing:
            entries = sorted(listing, key=lambda e: e.name)
    except OSError as exc:
        raise ZooError(
            f"cannot list the data folder {display_name(root)} ({exc.strerror})"
        ) from None
    folders: list[tuple[str, str]] = []
    loose = 0
    extensions = accepted_extensions()
    for entry in entries:
        if entry.name.startswith("."):
            continue
        try:
            is_dir = entry.is_dir()
            key = _dir_key(entry.stat()) if is_dir else None
        except OSError:
            is_dir, key = False, None
        if not is_dir:
            loose += os.path.splitext(entry.name)[1].lower() in extensions
            continue
        if key in seen:
            notes.append(
                f"skipped class folder {display_name(entry.name)}: a link to a folder already "
                "read (the data folder itself, or another class folder)"
            )
            continue
        assert key is not None
        seen.add(key)
        folders.append((entry.name, entry.path))
    return folders, loose


def stratified_counts(sizes: Sequence[int], limit: int | None) -> list[int]:
    """How many images each class gives to a sample of ``limit`` (see the module docstring):
    shares in proportion to the class sizes (largest remainder, ties to the earlier class), then
    at least one image per class when ``limit`` allows, taken from the largest shares.

    >>> stratified_counts([100, 10, 1], 11)
    [9, 1, 1]
    >>> stratified_counts([5, 5, 5], 2)
    [1, 1, 0]
    >>> stratified_counts([3, 2], None)
    [3, 2]
    """
    total = sum(sizes)
    if limit is None or limit >= total:
        return list(sizes)
    counts = [(limit * s) // total for s in sizes]
    remainders = [(limit * s) % total for s in sizes]
    order = sorted(range(len(sizes)), key=lambda i: (-remainders[i], i))
    for i in order[: limit - sum(counts)]:
        counts[i] += 1
    if limit >= sum(1 for s in sizes if s):
        for i, size in enumerate(sizes):
            if size and not counts[i]:
                donor = max(range(len(sizes)), key=lambda j: (counts[j], -j))
                counts[donor] -= 1
                counts[i] = 1
    return counts


def _check_limit(limit: int | None) -> None:
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise ZooError(f"--limit must be a whole number of images, at least 1; got {limit!r}")


def scan_folder(
    root: str | os.PathLike[str],
    *,
    class_map: Mapping[str, int] | None = None,
    limit: int | None = None,
) -> LabelledFolder:
    """Find the class folders and images under ``root`` and map the classes (module docstring).

    Raises ``ZooError`` for a missing or non-directory root, a folder with no images in class
    folders, and class folders that map to no single ImageNet-1k class (all of them named).
    """
    _check_limit(limit)
    path = os.fspath(root)
    shown = display_name(os.path.abspath(path))
    try:
        status = os.stat(path)
    except OSError as exc:
        raise ZooError(f"data folder {shown} cannot be read ({exc.strerror})") from None
    if not stat.S_ISDIR(status.st_mode):
        raise ZooError(
            f"data folder {shown} is not a folder; accepted: a folder with one sub-folder of "
            "images per class"
        )
    notes: list[str] = []
    seen = {_dir_key(status)}
    folders, loose = _class_folders(path, seen, notes)
    found: list[tuple[str, list[str]]] = []
    ignored = 0
    for name, folder_path in folders:
        images, other = _walk_class(folder_path, path, seen, notes)
        ignored += other
        if images:
            found.append((name, sorted(images)))
        else:
            notes.append(f"class folder {display_name(name)} holds no images; left out")
    if loose:
        notes.append(
            f"{loose} image{'s' if loose > 1 else ''} directly in the data folder "
            "(not in a class folder) left out"
        )
    if not found:
        extensions = ", ".join(sorted(accepted_extensions()))
        what = f"{len(folders)} class folders" if folders else "no class sub-folders"
        raise ZooError(
            f"no images to evaluate in {shown}: {what}, {loose} loose images, {ignored} other "
            f"files; accepted: DIR/<class>/<image> with extensions {extensions}"
        )
    mapped = map_folders([name for name, _ in found], class_map)
    classes = imagenet_classes()
    counts = stratified_counts([len(images) for _, images in found], limit)
    selected: list[LabelledImage] = []
    class_folders: list[ClassFolder] = []
    for (name, images), count in zip(found, counts, strict=True):
        index, how = mapped[name]
        shown_name = display_name(name)
        class_folders.append(
            ClassFolder(
                shown_name, index, classes[index].wnid, classes[index].label, how, len(images)
            )
        )
        selected.extend(
            LabelledImage(path=p, name=_relative(p, path), folder=shown_name, index=index)
            for p in images[:count]
        )
    return LabelledFolder(
        root=shown,
        classes=tuple(class_folders),
        images=tuple(selected),
        found=sum(len(images) for _, images in found),
        limit=limit,
        ignored_files=ignored,
        notes=tuple(notes),
    )


def data_fingerprint(items: Iterable[tuple[str, int, str | None]]) -> str:
    """SHA-256 over sorted (relative name, ImageNet index, content SHA-256 or None) triples.

    >>> data_fingerprint([("b.jpg", 1, "ab"), ("a.jpg", 0, None)]) == data_fingerprint(
    ...     [("a.jpg", 0, None), ("b.jpg", 1, "ab")])
    True
    """
    digest = hashlib.sha256()
    for name, index, content in sorted(items, key=lambda item: item[0]):
        digest.update(f"{name}\0{index}\0{content or 'unreadable'}\n".encode("utf-8", "replace"))
    return digest.hexdigest()
