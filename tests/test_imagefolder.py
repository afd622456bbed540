"""zoo.imagefolder: class folders mapped onto ImageNet-1k, walking without loops, --limit, fingerprint.

Golden class indices are typed from ImageNet-1k's published class list (LOC_synset_mapping.txt,
the order timm bundles): n01440764 tench is 0, n02123045 tabby is 281, n02099601 golden retriever
is 207, n07920052 espresso is 967, n04485082 tripod is 872, n03773504 missile is 657, n04008634
projectile is 744, n02012849 crane (the bird) is 134, n03126707 crane (the machine) is 517.
"""

from __future__ import annotations

import json
import os

import pytest

from tests.special_files import needs_posix
from zoo.classify.imagefolder import data_fingerprint, scan_folder, stratified_counts
from zoo.classify.imagenet_classes import imagenet_classes, map_folders, read_class_map
from zoo.errors import ZooError

JPEG = b"\xff\xd8\xff\xe0 not decoded by the walk"


def _tree(root, files: dict[str, bytes]):
    for relative, content in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return root


# --------------------------------------------------------------------------- class mapping


def test_imagenet_classes_are_timms_1000():
    classes = imagenet_classes()
    assert len(classes) == 1000
    assert (classes[0].wnid, classes[0].label.split(",")[0]) == ("n01440764", "tench")
    assert classes[281].wnid == "n02123045" and classes[281].label == "tabby, tabby cat"


@pytest.mark.parametrize(
    ("folder", "index", "how"),
    [
        ("n02123045", 281, "WordNet id"),
        ("tabby", 281, "class name"),
        ("tabby cat", 281, "class name"),  # the second synonym
        ("Tabby_Cat", 281, "class name"),  # case and underscores do not matter
        ("  golden   retriever ", 207, "class name"),
        ("tabby, tabby cat", 281, "class name"),  # the whole description
        ("n03773504", 657, "WordNet id"),
    ],
)
def test_folder_names_map_by_wordnet_id_or_any_synonym(folder, index, how):
    assert map_folders([folder]) == {folder: (index, how)}


def test_ambiguous_and_unknown_folders_are_one_error_naming_all_of_them():
    with pytest.raises(ZooError) as caught:
        map_folders(["tabby", "crane", "cats", "missile", "n99999999"])
    message = str(caught.value)
    assert message.startswith("4 class folders map to no single ImageNet-1k class")
    assert "'crane' is ambiguous (134 n02012849" in message and "517 n03126707" in message
    assert "'missile' is ambiguous (657 n03773504" in message and "744 n04008634" in message
    assert "'cats' matches no class" in message and "'n99999999' matches no class" in message
    assert "--class-map FILE" in message and "'tabby'" not in message


def test_a_class_map_resolves_what_names_cannot(tmp_path):
    path = tmp_path / "map.json"
    path.write_text(json.dumps({"crane": "n03126707", "cats": 281, "missile": "657"}))
    mapping = read_class_map(path)
    assert mapping == {"crane": 517, "cats": 281, "missile": 657}
    assert map_folders(["crane", "cats", "missile", "espresso"], mapping) == {
        "crane": (517, "class map"),
        "cats": (281, "class map"),
        "missile": (657, "class map"),
        "espresso": (967, "class name"),
    }


@pytest.mark.parametrize(
    "text",
    ["folder,class\ncats,281\nrockets,n03773504\n", "cats,n02123045\nrockets,657\n\n"],
)
def test_csv_class_maps_with_or_without_a_header(tmp_path, text):
    path = tmp_path / "map.csv"
    path.write_text(text)
    assert read_class_map(path) == {"cats": 281, "rockets": 657}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"cats": 1000}', "class index 1000 is outside 0-999"),
        ('{"cats": true}', "neither a class index"),
        ('{"cats": "tabby"}', "neither a class index"),
        ('{"cats": "n99999999"}', "not an ImageNet-1k WordNet id"),
        ("[1, 2]", "a JSON list"),
        ("{not json", "not valid JSON"),
        ("cats,281,extra\n", "3 columns"),
        ("cats,281\ncats,282\n", "mapped twice"),
        ("folder,class\n", "maps no folder"),
    ],
)
def test_bad_class_maps_name_the_file_and_the_entry(tmp_path, content, message):
    path = tmp_path / "map.txt"
    path.write_text(content)
    with pytest.raises(ZooError, match=message):
        read_class_map(path)


@needs_posix
def test_a_class_map_that_is_a_fifo_is_refused_at_once(tmp_path):
    fifo = tmp_path / "map.json"
    os.mkfifo(fifo)
    with pytest.raises(ZooError, match="named pipe"):
        read_class_map(fifo)


# --------------------------------------------------------------------------- walking


def test_images_are_found_by_extension_in_nested_folders_in_a_fixed_order(tmp_path):
    root = _tree(
        tmp_path,
        {
            "tabby/b.JPG": JPEG,
            "tabby/a.png": JPEG,
            "tabby/more/c.webp": JPEG,
            "tabby/notes.txt": b"x",
            "tabby/.hidden.jpg": JPEG,
            "tabby/.cache/d.jpg": JPEG,
            "n07920052/e.jpeg": JPEG,
            "n07920052/Thumbs.db": b"x",
            "loose.jpg": JPEG,
            ".git/f.jpg": JPEG,
        },
    )
    folder = scan_folder(root)
    assert [c.name for c in folder.classes] == ["n07920052", "tabby"]
    assert [(c.index, c.images, c.matched_by) for c in folder.classes] == [
        (967, 1, "WordNet id"),
        (281, 3, "class name"),
    ]
    assert [i.name for i in folder.images] == [
        "n07920052/e.jpeg",
        "tabby/a.png",
        "tabby/b.JPG",
        "tabby/more/c.webp",
    ]
    assert [i.index for i in folder.images] == [967, 281, 281, 281]
    assert folder.found == 4 and folder.ignored_files == 2
    assert folder.notes == ("1 image directly in the data folder (not in a class folder) left out",)


def test_symlink_loops_and_duplicate_links_are_read_once(tmp_path):
    root = _tree(tmp_path / "data", {"tabby/a.jpg": JPEG, "espresso/b.jpg": JPEG})
    (root / "tabby" / "loop").symlink_to(root / "tabby")  # a loop into itself
    (root / "tabby" / "up").symlink_to(root)  # a loop through the data folder
    (root / "tabby" / "other").symlink_to(root / "espresso")  # another class's folder
    (root / "tripod").symlink_to(root)  # a class folder that is the data folder
    outside = _tree(tmp_path / "elsewhere", {"c.jpg": JPEG, "deep/d.jpg": JPEG})
    (root / "n04485082").symlink_to(outside)  # a linked class folder is followed
    (outside / "deep" / "back").symlink_to(outside)
    folder = scan_folder(root)
    assert [i.name for i in folder.images] == [
        "espresso/b.jpg",
        "n04485082/c.jpg",
        "n04485082/deep/d.jpg",
        "tabby/a.jpg",
    ]
    skipped = [n for n in folder.notes if n.startswith("skipped")]
    assert len(skipped) == 5, folder.notes
    assert any("tripod" in n for n in skipped) and any("tabby/loop" in n for n in skipped)


def test_an_empty_class_folder_is_noted_and_needs_no_mapping(tmp_path):
    root = _tree(tmp_path, {"tabby/a.jpg": JPEG, "whatever/readme.md": b"x"})
    folder = scan_folder(root)
    assert [c.name for c in folder.classes] == ["tabby"]
    assert "class folder whatever holds no images; left out" in folder.notes


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({}, "no class sub-folders, 0 loose images"),
        ({"a.jpg": JPEG, "b.png": JPEG}, "no class sub-folders, 2 loose images"),
        ({"tabby/a.txt": b"x", "tabby/b.csv": b"y"}, "1 class folders, 0 loose images, 2 other"),
    ],
)
def test_folders_without_images_in_class_folders_are_refused(tmp_path, files, message):
    with pytest.raises(ZooError, match="no images to evaluate") as caught:
        scan_folder(_tree(tmp_path, files))
    assert message in str(caught.value) and ".jpg" in str(caught.value)


def test_a_missing_path_or_a_file_is_refused(tmp_path):
    with pytest.raises(ZooError, match="cannot be read"):
        scan_folder(tmp_path / "nope")
    (tmp_path / "file.jpg").write_bytes(JPEG)
    with pytest.raises(ZooError, match="is not a folder"):
        scan_folder(tmp_path / "file.jpg")


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root reads anything")
def test_a_folder_that_cannot_be_listed_is_noted(tmp_path):
    root = _tree(tmp_path, {"tabby/a.jpg": JPEG, "tabby/locked/b.jpg": JPEG})
    (root / "tabby" / "locked").chmod(0)
    try:
        folder = scan_folder(root)
    finally:
        (root / "tabby" / "locked").chmod(0o755)
    assert [i.name for i in folder.images] == ["tabby/a.jpg"]
    assert any(n.startswith("cannot list tabby/locked") for n in folder.notes)


def test_non_utf8_folder_and_file_names_are_printable(tmp_path):
    root = tmp_path
    tabby = os.fsencode(root / "tabby")
    os.makedirs(tabby)
    with open(os.path.join(tabby, b"caf\xe9.jpg"), "wb") as handle:
        handle.write(JPEG)
    folder = scan_folder(root)
    (image,) = folder.images
    assert image.name == "tabby/caf\\xe9.jpg"
    assert os.path.exists(image.path)


# --------------------------------------------------------------------------- --limit


@pytest.mark.parametrize(
    ("sizes", "limit", "expected"),
    [
        ([100, 10, 1], 11, [9, 1, 1]),  # one each first, then by size
        ([100, 10, 1], 3, [1, 1, 1]),
        ([100, 10, 1], 2, [2, 0, 0]),  # fewer than the classes: by size
        ([5, 5, 5], 2, [1, 1, 0]),  # ties go to the earlier class
        ([5, 5, 5], 7, [3, 2, 2]),
        ([3, 2], 5, [3, 2]),
        ([3, 2], 99, [3, 2]),
        ([0, 4], 2, [0, 2]),
    ],
)
def test_stratified_counts(sizes, limit, expected):
    counts = stratified_counts(sizes, limit)
    assert counts == expected
    assert sum(counts) == min(limit, sum(sizes))
    assert all(0 <= c <= s for c, s in zip(counts, sizes, strict=True))


def test_limit_takes_a_deterministic_stratified_sample(tmp_path):
    files = {f"n01440764/{i:03d}.jpg": JPEG for i in range(30)}
    files.update({f"tabby/{i:03d}.jpg": JPEG for i in range(10)})
    root = _tree(tmp_path, files)
    folder = scan_folder(root, limit=8)
    assert folder.found == 40 and len(folder.images) == 8 and folder.limit == 8
    names = [i.name for i in folder.images]
    assert names == [f"n01440764/{i:03d}.jpg" for i in range(6)] + [
        "tabby/000.jpg",
        "tabby/001.jpg",
    ]
    assert [i.name for i in scan_folder(root, limit=8).images] == names
    assert [c.images for c in folder.classes] == [30, 10]  # what the folder holds


@pytest.mark.parametrize("limit", [0, -3, True, 2.5])
def test_bad_limits_are_refused(tmp_path, limit):
    with pytest.raises(ZooError, match="--limit must be a whole number"):
        scan_folder(tmp_path, limit=limit)


def test_fingerprint_depends_on_names_classes_and_content_only():
    base = [("tabby/a.jpg", 281, "aa"), ("espresso/b.jpg", 967, "bb")]
    same = data_fingerprint(reversed(base))
    assert data_fingerprint(base) == same and len(same) == 64
    assert data_fingerprint([("tabby/a.jpg", 282, "aa"), base[1]]) != same  # relabelled
    assert data_fingerprint([("tabby/a.jpg", 281, "ab"), base[1]]) != same  # edited
    assert data_fingerprint([("tabby/c.jpg", 281, "aa"), base[1]]) != same  # renamed
    assert data_fingerprint(base[:1]) != same  # a subset (--limit)
