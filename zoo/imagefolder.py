"""A labelled image folder (one sub-folder per class), mapped onto ImageNet-1k's classes.

Why: a practitioner's own photos are the test set that matters to them, and they usually sit in
folders named after what they show. timm's ``validate.py`` reads such a folder (ImageFolder), but
only with folder names that sort into ImageNet's order; here each folder is matched to an
ImageNet-1k class by name, and a folder that matches nothing, or more than one class, is an error
naming it, before any model is loaded.

Layout: ``DIR/<class folder>/.../<image>``. A class folder maps to an ImageNet-1k index, tried
in this order:

1. a mapping file the user names (``--class-map FILE``): a JSON object, or a CSV with two
   columns (an optional header), from folder name to an index 0-999 or a WordNet id;
2. the folder name is an ImageNet-1k WordNet id (``n02123045``), from timm's ``ImageNetInfo``;
3. the folder name is one of a class's names in timm's ImageNet descriptions, which list
   synonyms separated by commas (``tabby, tabby cat``: ``tabby`` or ``Tabby_Cat`` both match),
   compared case-insensitively with underscores as spaces. Nineteen names belong to two classes
   (``crane`` the bird and the machine): those folders are ambiguous and need the mapping file.

Walking (``scan_folder``), so that a big or odd folder never hangs, loops or surprises:

- images are recognised by extension (``zoo.images.accepted_extensions``); other files are
  counted and ignored; hidden files and folders (a leading dot) are skipped;
- a class folder may be a symbolic link (datasets are often assembled that way) and so may
  folders inside it, but every directory is read once, keyed by its device and inode: a link
  back to an enclosing folder (a loop), or to a folder already read, is skipped and noted;
- a directory that cannot be listed is noted, never fatal; a file that cannot be read or
  decoded is the evaluation's business (counted and listed there), never the walk's;
- the order is deterministic: class folders by name, files by path.

``--limit N`` takes a stratified sample, deterministic and proportional: each class's share is in
proportion to its size (largest remainder, ties to the earlier class), every class gets at least
one image when N allows, and within each class the first files by path are taken. The accuracy
of the sample then estimates that of the whole folder without favouring the classes whose names
sort first (the first N files by path would all be of the first classes).

The data's fingerprint (``data_fingerprint``) is SHA-256 over the sorted (relative path, ImageNet
index, SHA-256 of the file's bytes) of every evaluated image. The bytes are hashed as they are
read for decoding, so the content hash costs no second read (``bench/evaluate.py`` reports it
with the decode cost); it survives copying the folder and changes when any image, its class or
the selection (``--limit``) does.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import io
import json
import os
import re
import stat
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from zoo.errors import ZooError
from zoo.files import UnreadableFile, display_name, read_regular
from zoo.images import accepted_extensions

__all__ = [
    "MAX_MAPPING_BYTES",
    "ClassFolder",
    "ImageNetClass",
    "LabelledFolder",
    "LabelledImage",
    "data_fingerprint",
    "imagenet_classes",
    "map_folders",
    "read_class_map",
    "scan_folder",
    "stratified_counts",
]

#: A mapping file larger than this is refused (1000 classes fit in well under 100 kB).
MAX_MAPPING_BYTES: int = 1 << 20
_WNID = re.compile(r"n\d{8}")
_HOW = (
    "accepted: ImageNet WordNet ids (n02123045), ImageNet class names (tabby, golden retriever), "
)
_HOW += "or --class-map FILE mapping folder names to an index 0-999 or a WordNet id"


@dataclass(frozen=True)
class ImageNetClass:
    """One ImageNet-1k class: index, WordNet id and timm's description (comma-separated names)."""

    index: int
    wnid: str
    label: str


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


# --------------------------------------------------------------------------- ImageNet classes


@functools.lru_cache(maxsize=1)
def imagenet_classes() -> tuple[ImageNetClass, ...]:
    """The 1000 ImageNet-1k classes from timm's bundled metadata (the classifier's labels too)."""
    from timm.data import ImageNetInfo

    info = ImageNetInfo("imagenet-1k")
    wnids = info.label_names()
    return tuple(
        ImageNetClass(index=i, wnid=str(wnid), label=info.index_to_description(i))
        for i, wnid in enumerate(wnids)
    )


def _normalise(name: str) -> str:
    """Lower case, underscores as spaces, runs of blanks as one space.

    >>> _normalise("  Golden_Retriever ")
    'golden retriever'
    """
    return " ".join(name.replace("_", " ").lower().split())


@functools.lru_cache(maxsize=1)
def _by_wnid() -> dict[str, int]:
    return {c.wnid: c.index for c in imagenet_classes()}


@functools.lru_cache(maxsize=1)
def _by_name() -> dict[str, tuple[int, ...]]:
    names: dict[str, list[int]] = {}
    for c in imagenet_classes():
        for synonym in {_normalise(c.label), *(_normalise(s) for s in c.label.split(","))}:
            if synonym and c.index not in names.setdefault(synonym, []):
                names[synonym].append(c.index)
    return {name: tuple(indices) for name, indices in names.items()}


def _index_of(value: object, where: str) -> int:
    """A mapping value (an index 0-999, as a number or digits, or a WordNet id) as an index."""
    classes = imagenet_classes()
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and value.strip().isdigit():
        number = int(value.strip())
    elif isinstance(value, str) and _WNID.fullmatch(value.strip()):
        wnid = value.strip()
        if wnid not in _by_wnid():
            raise ZooError(f"{where}: {wnid} is not an ImageNet-1k WordNet id")
        return _by_wnid()[wnid]
    else:
        raise ZooError(
            f"{where}: {value!r} is neither a class index 0-{len(classes) - 1} nor a WordNet id "
            "(n01440764)"
        )
    if not 0 <= number < len(classes):
        raise ZooError(f"{where}: class index {number} is outside 0-{len(classes) - 1}")
    return number


def read_class_map(path: str | os.PathLike[str]) -> dict[str, int]:
    """A mapping file as {folder name: ImageNet index}: a JSON object or a two-column CSV.

    Values are indices 0-999 (numbers or digits) or WordNet ids. A CSV's first row is a header
    when its second cell is neither. Raises ``ZooError`` naming the file and the bad entry.
    """
    name = display_name(path)
    try:
        raw = read_regular(path, MAX_MAPPING_BYTES)
    except UnreadableFile as exc:
        raise ZooError(
            f"class map {exc.name} cannot be read ({exc.reason}); accepted: a JSON object or a "
            "two-column CSV file mapping folder names to an index 0-999 or a WordNet id"
        ) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ZooError(f"class map {name} is not UTF-8 text") from None
    entries: list[tuple[str, object, str]] = []
    if text.lstrip().startswith("{"):
        try:
            document = json.loads(text)
        except ValueError as exc:
            raise ZooError(f"class map {name} is not valid JSON ({exc})") from None
        entries = [(str(k), v, f"class map {name}, key {k!r}") for k, v in document.items()]
    elif text.lstrip().startswith("["):
        raise ZooError(f"class map {name}: a JSON list; accepted: a JSON object {{folder: class}}")
    else:
        rows = [r for r in csv.reader(io.StringIO(text)) if any(cell.strip() for cell in r)]
        for number, row in enumerate(rows, start=1):
            where = f"class map {name}, row {number}"
            if len(row) != 2:
                raise ZooError(f"{where}: {len(row)} columns; accepted: folder,class")
            folder, value = row[0].strip(), row[1].strip()
            is_class = value.isdigit() or _WNID.fullmatch(value) is not None
            if number == 1 and not is_class:
                continue  # a header row
            entries.append((folder, value, where))
    mapping: dict[str, int] = {}
    for folder, value, where in entries:
        if folder in mapping:
            raise ZooError(f"{where}: folder {folder!r} is mapped twice")
        mapping[folder] = _index_of(value, where)
    if not mapping:
        raise ZooError(f"class map {name} maps no folder; accepted: folder,class rows")
    return mapping


def map_folders(
    names: Sequence[str], class_map: Mapping[str, int] | None = None
) -> dict[str, tuple[int, str]]:
    """{folder name: (ImageNet index, how it matched)} for every name, or one ``ZooError``
    listing every folder that maps to no class or to several.

    >>> map_folders(["n02123045", "Golden_Retriever", "tabby cat"])
    {'n02123045': (281, 'WordNet id'), 'Golden_Retriever': (207, 'class name'), 'tabby cat': (281, 'class name')}
    """
    class_map = class_map or {}
    classes = imagenet_classes()
    found: dict[str, tuple[int, str]] = {}
    problems: list[str] = []
    for name in names:
        if name in class_map:
            found[name] = (class_map[name], "class map")
        elif name in _by_wnid():
            found[name] = (_by_wnid()[name], "WordNet id")
        elif len(indices := _by_name().get(_normalise(name), ())) == 1:
            found[name] = (indices[0], "class name")
        elif indices:
            options = "; ".join(f"{i} {classes[i].wnid} ({classes[i].label})" for i in indices)
            problems.append(f"{display_name(name)!r} is ambiguous ({options})")
        else:
            problems.append(f"{display_name(name)!r} matches no class")
    if problems:
        shown = ", ".join(problems[:20]) + (
            f", and {len(problems) - 20} more" if problems[20:] else ""
        )
        raise ZooError(
            f"{len(problems)} class folder{'s map' if len(problems) > 1 else ' maps'} to no single "
            f"ImageNet-1k class: {shown}; {_HOW}"
        )
    return found


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
