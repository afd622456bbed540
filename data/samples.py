"""The photos bundled for trying classification without a photo at hand, with their licences.

Why bundled: a first visitor of the classify page, or a test, needs real photos with known
content and no download. Each file in ``data/photos/`` has a row in ``photos/photos.csv`` (the
``sample_photos`` table, validated by the one loader) naming its author, licence (public domain
or CC0 only), the licence's own words and its source; a test checks that every photo has one.

Standard library only; nothing is read until asked.

>>> [p.file for p in sample_photos()][:2]
['cat.jpg', 'espresso.jpg']
>>> sample_photos()[0].path.is_file()
True
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .schema import DATA_DIR, load_rows

__all__ = ["PHOTOS_DIR", "SamplePhoto", "sample_photos"]

#: Where the bundled photos live (next to their licence table).
PHOTOS_DIR: Path = DATA_DIR / "photos"


@dataclass(frozen=True)
class SamplePhoto:
    """One bundled photo: its file and what ``photos/photos.csv`` says about it."""

    file: str
    title: str
    subject: str
    author: str
    licence: str
    source_url: str

    @property
    def path(self) -> Path:
        return PHOTOS_DIR / self.file

    @property
    def credit(self) -> str:
        """A one-line credit, e.g. ``Chelsea the cat, Stefan van der Walt, CC0-1.0``."""
        return f"{self.title}, {self.author}, {self.licence}"


def sample_photos() -> tuple[SamplePhoto, ...]:
    """The bundled photos in the table's order."""
    return tuple(
        SamplePhoto(
            file=str(row["file"]),
            title=str(row["title"]),
            subject=str(row["subject"]),
            author=str(row["author"]),
            licence=str(row["licence"]),
            source_url=str(row["source_url"]),
        )
        for row in load_rows("sample_photos")
    )
