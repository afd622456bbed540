"""The bundled photos: every file has a licence row saying public domain or CC0, and they are small."""

from __future__ import annotations

import pytest

import data
from data.samples import PHOTOS_DIR, sample_photos
from zoo.classify.images import accepted_extensions, decode_image

MAX_BYTES = 200 * 1024


def test_every_bundled_photo_has_a_public_domain_or_cc0_licence_row():
    images = sorted(
        p.name for p in PHOTOS_DIR.iterdir() if p.suffix.lower() in accepted_extensions()
    )
    rows = {str(r["file"]): r for r in data.load_rows("sample_photos")}
    assert images and sorted(rows) == images  # no photo without a row, no row without a photo
    for name, row in rows.items():
        licence = str(row["licence"]).lower()
        assert licence in ("public domain", "cc0-1.0"), name
        statement = str(row["licence_statement"]).lower()
        assert "public domain" in statement or "cc0" in statement, name
        assert row["author"] and str(row["source_url"]).startswith("https://"), name


def test_only_photos_and_their_notes_live_in_the_folder():
    allowed = accepted_extensions() | {".csv", ".md"}
    assert {p.suffix.lower() for p in PHOTOS_DIR.iterdir()} <= allowed


@pytest.mark.parametrize("photo", sample_photos(), ids=lambda p: p.file)
def test_each_photo_is_a_modest_decodable_jpeg(photo):
    raw = photo.path.read_bytes()
    assert len(raw) < MAX_BYTES and raw[:3] == b"\xff\xd8\xff"
    image = decode_image(raw)
    assert image.mode == "RGB" and min(image.size) >= 256 and max(image.size) <= 1024
    assert photo.licence in photo.credit and photo.author in photo.credit


def test_the_photos_ship_with_the_package():
    from pathlib import Path

    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    config = tomllib.loads((Path(data.__file__).parent.parent / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["data"]
    assert {"photos/*.jpg", "photos/*.csv"} <= set(patterns)
