"""Generated image corpora shared by the tests and the load benchmark (no files on disk).

``bad_input_corpus()`` is the classification issue's upload corpus: a copy of the generator in
``tests/test_images.py`` originally; the image tests import it from here). Each item is
``name -> (bytes, expected error substring or None when it must decode)``.

``load_photos(n)`` makes ``n`` distinct real photos (crops, flips and rotations of
scikit-image's cat, coffee and astronaut samples) as JPEG or PNG bytes, for load tests.

``photo_variants`` and ``labelled_folder`` make a labelled image folder (one sub-folder per class)
from the bundled photos (``data/photos``), for the evaluation tests and ``bench/evaluate.py``.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from PIL import Image, features

HAS_WEBP = features.check("webp")

__all__ = [
    "HAS_WEBP",
    "animated",
    "bad_input_corpus",
    "exif_rotated_jpeg",
    "labelled_folder",
    "load_photos",
    "photo",
    "photo_variants",
    "png_header_only",
    "save",
    "sixteen_bit_png",
]


def save(image: Image.Image, fmt: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return (
        struct.pack(">I", len(payload))
        + kind
        + payload
        + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF)
    )


def png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG whose header declares width × height (a decompression bomb's shape)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )


def photo(size: tuple[int, int] = (451, 300)) -> Image.Image:
    """scikit-image's cat photo (chelsea), resized."""
    from skimage import data

    image = Image.fromarray(data.chelsea())
    return image if image.size == size else image.resize(size, Image.Resampling.BICUBIC)


def exif_rotated_jpeg(display: Image.Image) -> bytes:
    """A JPEG stored rotated 90° counter-clockwise with EXIF orientation 6 to display it upright."""
    stored = display.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    return save(stored, "JPEG", quality=92, exif=exif.tobytes())


def sixteen_bit_png() -> bytes:
    ramp = np.tile(np.linspace(0, 65535, 256).round().astype(np.uint16), (32, 1))
    return save(Image.fromarray(ramp), "PNG")


def animated(fmt: str) -> bytes:
    frames = [Image.new("RGB", (48, 32), color) for color in ("red", "lime", "blue")]
    params: dict[str, object] = {"save_all": True, "append_images": frames[1:], "duration": 100}
    if fmt == "WEBP":
        params["lossless"] = True
    return save(frames[0], fmt, **params)


def bad_input_corpus() -> dict[str, tuple[bytes, str | None]]:
    """name -> (bytes, expected error substring or None when it must decode)."""
    cat = photo()
    jpeg = save(cat, "JPEG", quality=90)
    rgba = Image.new("RGBA", (64, 64), (0, 0, 0, 0))  # transparent black
    rgba.paste((255, 0, 0, 255), (0, 0, 32, 64))
    palette = Image.new("P", (40, 40), 0)
    palette.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    palette.paste(1, (0, 0, 20, 40))
    corpus: dict[str, tuple[bytes, str | None]] = {
        "zero-byte.jpg": (b"", "empty file"),
        "truncated.jpg": (jpeg[: len(jpeg) // 2], "truncated"),
        "text.jpg": (b"hello, I am not a picture\n" * 20, "not an image"),
        "bomb.png": (png_header_only(100_000, 100_000), "pixel cap"),
        "over-cap.png": (png_header_only(9_000, 9_000), "pixel cap"),
        "svg.jpg": (
            b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" '
            b'height="10"><rect width="10" height="10"/></svg>',
            "unsupported format SVG",
        ),
        "doc.pdf": (
            b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n",
            "unsupported format PDF",
        ),
        "16bit.png": (sixteen_bit_png(), None),
        "cmyk.jpg": (save(cat.convert("CMYK"), "JPEG", quality=90), None),
        "rgba.png": (save(rgba, "PNG"), None),
        "palette.png": (save(palette, "PNG", transparency=0), None),
        "gray.png": (save(cat.convert("L"), "PNG"), None),
        "anim.gif": (animated("GIF"), None),
        "exif-rotated.jpg": (exif_rotated_jpeg(cat), None),
        "one-pixel.png": (save(Image.new("RGB", (1, 1), (10, 200, 30)), "PNG"), None),
        "strip.png": (save(Image.new("RGB", (10_000, 20), (90, 120, 200)), "PNG"), None),
        "bmp.bmp": (save(cat, "BMP"), None),
        "tiff.tif": (save(cat, "TIFF"), None),
    }
    if HAS_WEBP:
        corpus["anim.webp"] = (animated("WEBP"), None)
    return corpus


def load_photos(n: int, seed: int = 0) -> list[tuple[str, bytes, str]]:
    """``n`` distinct photos as ``(file name, bytes, MIME type)``: random crops, flips and quarter
    turns of scikit-image's cat, coffee and astronaut, alternately JPEG and PNG, 160–400 px."""
    from skimage import data

    sources = [Image.fromarray(data.chelsea()), Image.fromarray(data.coffee()),
               Image.fromarray(data.astronaut())]  # fmt: skip
    rng = np.random.default_rng(seed)
    out: list[tuple[str, bytes, str]] = []
    for i in range(n):
        image = sources[i % len(sources)]
        w, h = image.size
        cw, ch = int(w * rng.uniform(0.6, 1.0)), int(h * rng.uniform(0.6, 1.0))
        x, y = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
        crop = image.crop((x, y, x + cw, y + ch))
        if rng.random() < 0.5:
            crop = crop.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        side = int(rng.integers(160, 401))
        crop = crop.resize((side, max(1, side * ch // cw)), Image.Resampling.BILINEAR)
        if i % 2:
            out.append((f"photo{i:03d}.png", save(crop, "PNG"), "image/png"))
        else:
            out.append((f"photo{i:03d}.jpg", save(crop, "JPEG", quality=88), "image/jpeg"))
    return out


def photo_variants(
    path: Path, n: int, seed: int = 0, *, sides: tuple[int, int] = (200, 640)
) -> list[bytes]:
    """``n`` distinct JPEGs of one photo: random crops (60-100 % of each side), mirror images,
    widths drawn from ``sides``, JPEG quality 80-92."""
    source = Image.open(path)
    source.load()
    source = source.convert("RGB")
    rng = np.random.default_rng(seed)
    out = []
    w, h = source.size
    for _ in range(n):
        cw, ch = int(w * rng.uniform(0.6, 1.0)), int(h * rng.uniform(0.6, 1.0))
        x, y = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
        crop = source.crop((x, y, x + cw, y + ch))
        if rng.random() < 0.5:
            crop = crop.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        side = int(rng.integers(sides[0], sides[1] + 1))
        crop = crop.resize((side, max(1, side * ch // cw)), Image.Resampling.BICUBIC)
        out.append(save(crop, "JPEG", quality=int(rng.integers(80, 93))))
    return out


def labelled_folder(
    root: Path, classes: Mapping[str, tuple[str, int]], seed: int = 0, **options: object
) -> Path:
    """``root/<folder>/NNN.jpg`` for each ``folder: (bundled photo file, count)``."""
    from data.samples import PHOTOS_DIR

    for number, (folder, (photo_file, count)) in enumerate(classes.items()):
        target = root / folder
        target.mkdir(parents=True, exist_ok=True)
        variants = photo_variants(PHOTOS_DIR / photo_file, count, seed + number, **options)  # type: ignore[arg-type]
        for i, raw in enumerate(variants):
            (target / f"{i:03d}.jpg").write_bytes(raw)
    return root
