"""zoo.images: a generated corpus of good and bad images, each decoded or refused with a reason."""

from __future__ import annotations

import contextlib
import io
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, features

from zoo.errors import ZooError
from zoo.images import ACCEPTED_FORMATS, MAX_PIXELS, ImageError, decode_image

os.environ["HF_HUB_OFFLINE"] = "1"

HAS_WEBP = features.check("webp")


# --------------------------------------------------------------------------- corpus builders


def _save(image: Image.Image, fmt: str, **params: object) -> bytes:
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
    return _save(stored, "JPEG", quality=92, exif=exif.tobytes())


def sixteen_bit_png() -> bytes:
    ramp = np.tile(np.linspace(0, 65535, 256).round().astype(np.uint16), (32, 1))
    return _save(Image.fromarray(ramp), "PNG")


def animated(fmt: str) -> bytes:
    frames = [Image.new("RGB", (48, 32), color) for color in ("red", "lime", "blue")]
    params: dict[str, object] = {"save_all": True, "append_images": frames[1:], "duration": 100}
    if fmt == "WEBP":
        params["lossless"] = True
    return _save(frames[0], fmt, **params)


def bad_input_corpus() -> dict[str, tuple[bytes, str | None]]:
    """name -> (bytes, expected error substring or None when it must decode)."""
    cat = photo()
    jpeg = _save(cat, "JPEG", quality=90)
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
        "cmyk.jpg": (_save(cat.convert("CMYK"), "JPEG", quality=90), None),
        "rgba.png": (_save(rgba, "PNG"), None),
        "palette.png": (_save(palette, "PNG", transparency=0), None),
        "gray.png": (_save(cat.convert("L"), "PNG"), None),
        "anim.gif": (animated("GIF"), None),
        "exif-rotated.jpg": (exif_rotated_jpeg(cat), None),
        "one-pixel.png": (_save(Image.new("RGB", (1, 1), (10, 200, 30)), "PNG"), None),
        "strip.png": (_save(Image.new("RGB", (10_000, 20), (90, 120, 200)), "PNG"), None),
        "bmp.bmp": (_save(cat, "BMP"), None),
        "tiff.tif": (_save(cat, "TIFF"), None),
    }
    if HAS_WEBP:
        corpus["anim.webp"] = (animated("WEBP"), None)
    return corpus


@pytest.fixture(scope="module")
def corpus() -> dict[str, tuple[bytes, str | None]]:
    return bad_input_corpus()


# --------------------------------------------------------------------------- tests


def test_every_corpus_item_decodes_or_gives_a_clear_error(corpus):
    for name, (raw, expected_error) in corpus.items():
        if expected_error is None:
            image = decode_image(raw)
            assert image.mode == "RGB", name
            assert image.size[0] >= 1 and image.size[1] >= 1, name
        else:
            with pytest.raises(ImageError, match=expected_error):
                decode_image(raw)


def test_image_error_is_a_zoo_error_and_names_the_accepted_formats(corpus):
    assert issubclass(ImageError, ZooError) and issubclass(ImageError, ValueError)
    with pytest.raises(ImageError) as info:
        decode_image(corpus["text.jpg"][0])
    for fmt in ACCEPTED_FORMATS:
        assert fmt in str(info.value)
    assert ACCEPTED_FORMATS == ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF")


def test_pixel_cap_is_checked_from_the_header_before_decoding(corpus):
    # 81 MP declared but almost no data: refused for its size, not reported as truncated.
    with pytest.raises(ImageError, match=r"9000×9000 = 81,000,000 pixels is over the pixel cap"):
        decode_image(corpus["over-cap.png"][0])
    assert 9_000 * 9_000 > MAX_PIXELS >= 4000 * 3000 * 4  # a 48-MP photo is accepted


def test_a_small_cap_refuses_a_normal_image():
    raw = _save(Image.new("RGB", (200, 200)), "PNG")
    with pytest.raises(ImageError, match="over the pixel cap 10,000"):
        decode_image(raw, max_pixels=10_000)
    assert decode_image(raw, max_pixels=40_000).size == (200, 200)


def test_pillow_bomb_protection_stays_on_even_with_a_huge_cap(corpus):
    assert Image.MAX_IMAGE_PIXELS is not None and Image.MAX_IMAGE_PIXELS < 100_000 * 100_000
    with pytest.raises(ImageError, match="pixel cap"):
        decode_image(corpus["bomb.png"][0], max_pixels=10**12)


def test_sixteen_bit_png_is_scaled_not_clipped(corpus):
    image = decode_image(corpus["16bit.png"][0])
    row = np.asarray(image)[0, :, 0].astype(int)
    assert row[0] == 0 and row[-1] == 255
    assert abs(row[128] - 128) <= 1  # clipping would give 255 here
    assert np.all(np.diff(row) >= 0)


def test_cmyk_jpeg_becomes_the_right_colour():
    cyan = Image.new("CMYK", (32, 32), (255, 0, 0, 0))
    image = decode_image(_save(cyan, "JPEG", quality=95))
    red, green, blue = image.getpixel((16, 16))
    assert red < 40 and green > 215 and blue > 215


def test_transparency_is_composited_on_white(corpus):
    rgba = decode_image(corpus["rgba.png"][0])
    assert rgba.getpixel((10, 10)) == (255, 0, 0)
    assert rgba.getpixel((50, 10)) == (255, 255, 255)  # transparent black shows as white
    half = Image.new("RGBA", (4, 4), (255, 0, 0, 128))
    red, green, blue = decode_image(_save(half, "PNG")).getpixel((1, 1))
    assert red == 255 and 120 <= green <= 135 and green == blue
    palette = decode_image(corpus["palette.png"][0])
    assert palette.getpixel((5, 5)) == (255, 0, 0)
    assert palette.getpixel((35, 5)) == (255, 255, 255)
    la = Image.new("LA", (4, 4), (0, 0))
    assert decode_image(_save(la, "PNG")).getpixel((0, 0)) == (255, 255, 255)


def test_grayscale_becomes_three_equal_channels(corpus):
    pixels = np.asarray(decode_image(corpus["gray.png"][0]))
    assert pixels.shape == (300, 451, 3)
    assert np.array_equal(pixels[..., 0], pixels[..., 1])
    assert np.array_equal(pixels[..., 1], pixels[..., 2])


@pytest.mark.parametrize(
    "name",
    [
        "anim.gif",
        pytest.param(
            "anim.webp", marks=pytest.mark.skipif(not HAS_WEBP, reason="no WebP in Pillow")
        ),
    ],
)
def test_animations_give_their_first_frame(corpus, name):
    image = decode_image(corpus[name][0])
    red, green, blue = image.getpixel((10, 10))
    assert red > 200 and green < 50 and blue < 50
    assert image.size == (48, 32)


def test_exif_orientation_is_applied(corpus):
    image = decode_image(corpus["exif-rotated.jpg"][0])
    assert image.size == (451, 300)  # stored as 300 × 451
    upright = np.asarray(photo()).astype(int)
    assert np.abs(np.asarray(image).astype(int) - upright).mean() < 6


def test_tiny_and_extreme_shapes_decode(corpus):
    assert decode_image(corpus["one-pixel.png"][0]).getpixel((0, 0)) == (10, 200, 30)
    assert decode_image(corpus["strip.png"][0]).size == (10_000, 20)


def test_large_jpeg_is_decoded_at_reduced_size_never_below_the_target():
    raw = _save(photo((4000, 3000)), "JPEG", quality=85)
    assert decode_image(raw).size == (4000, 3000)
    assert decode_image(raw, target_size=256).size == (500, 375)  # 1/8 scale
    assert decode_image(raw, target_size=400).size == (1000, 750)  # 1/8 would give 375 < 400
    small = _save(photo((640, 480)), "JPEG", quality=85)
    assert decode_image(small, target_size=256).size == (640, 480)  # 1/2 would give 240


def test_paths_and_missing_files(tmp_path: Path, corpus):
    good = tmp_path / "cat.png"
    good.write_bytes(_save(photo(), "PNG"))
    assert decode_image(good).size == (451, 300)
    assert decode_image(str(good)).size == (451, 300)
    with pytest.raises(ImageError, match="no such file"):
        decode_image(tmp_path / "missing.jpg")
    with pytest.raises(ImageError, match="directory"):
        decode_image(tmp_path)


def test_bad_arguments_are_refused():
    with pytest.raises(ZooError, match="max_pixels"):
        decode_image(b"x", max_pixels=0)
    with pytest.raises(ZooError, match="target_size"):
        decode_image(b"x", target_size=0)


def test_the_process_stays_usable_after_every_failure(corpus):
    for raw, _ in corpus.values():
        with contextlib.suppress(ImageError):
            decode_image(raw)
    assert decode_image(_save(photo(), "JPEG")).size == (451, 300)


def test_oversized_files_are_not_read(tmp_path: Path, monkeypatch):
    import zoo.images

    path = tmp_path / "big.png"
    path.write_bytes(_save(photo(), "PNG"))
    monkeypatch.setattr(zoo.images, "MAX_FILE_BYTES", 1000)
    with pytest.raises(ImageError, match="over the file size cap 1,000 bytes"):
        decode_image(path)
