"""ImageNet-1k's classes, and how a class folder's name is mapped onto one of them.

A folder maps to a class by, in this order: a mapping file the user names (``--class-map``), an
ImageNet WordNet id, or one of the class's names in timm's descriptions. Why names too: folders
are usually named after what they show; a name two classes share (``crane``) is ambiguous and
needs the mapping file. The rules: docs/evaluate.md, 'The folder'.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from zoo.errors import ZooError
from zoo.files import UnreadableFile, display_name, read_regular

__all__ = [
    "MAX_MAPPING_BYTES",
    "ImageNetClass",
    "imagenet_classes",
    "map_folders",
    "read_class_map",
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
