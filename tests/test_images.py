"""zoo.images: a generated corpus of good and bad images, each decoded or refused with a reason."""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from harness.corpus import HAS_WEBP, bad_input_corpus, photo, save
from tests.special_files import needs_posix, special_paths
from zoo.classify.images import ACCEPTED_FORMATS, MAX_PIXELS, ImageError, decode_image
from zoo.errors import ZooError

os.environ["HF_HUB_OFFLINE"] = "1"


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
    raw = save(Image.new("RGB", (200, 200)), "PNG")
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
    image = decode_image(save(cyan, "JPEG", quality=95))
    red, green, blue = image.getpixel((16, 16))
    assert red < 40 and green > 215 and blue > 215


def test_transparency_is_composited_on_white(corpus):
    rgba = decode_image(corpus["rgba.png"][0])
    assert rgba.getpixel((10, 10)) == (255, 0, 0)
    assert rgba.getpixel((50, 10)) == (255, 255, 255)  # transparent black shows as white
    half = Image.new("RGBA", (4, 4), (255, 0, 0, 128))
    red, green, blue = decode_image(save(half, "PNG")).getpixel((1, 1))
    assert red == 255 and 120 <= green <= 135 and green == blue
    palette = decode_image(corpus["palette.png"][0])
    assert palette.getpixel((5, 5)) == (255, 0, 0)
    assert palette.getpixel((35, 5)) == (255, 255, 255)
    la = Image.new("LA", (4, 4), (0, 0))
    assert decode_image(save(la, "PNG")).getpixel((0, 0)) == (255, 255, 255)


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
    raw = save(photo((4000, 3000)), "JPEG", quality=85)
    assert decode_image(raw).size == (4000, 3000)
    assert decode_image(raw, target_size=256).size == (500, 375)  # 1/8 scale
    assert decode_image(raw, target_size=400).size == (1000, 750)  # 1/8 would give 375 < 400
    small = save(photo((640, 480)), "JPEG", quality=85)
    assert decode_image(small, target_size=256).size == (640, 480)  # 1/2 would give 240


def test_paths_and_missing_files(tmp_path: Path, corpus):
    good = tmp_path / "cat.png"
    good.write_bytes(save(photo(), "PNG"))
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
    assert decode_image(save(photo(), "JPEG")).size == (451, 300)


def test_oversized_files_are_not_read(tmp_path: Path, monkeypatch):
    from zoo.classify import images as zoo_images

    path = tmp_path / "big.png"
    path.write_bytes(save(photo(), "PNG"))
    monkeypatch.setattr(zoo_images, "MAX_FILE_BYTES", 1000)
    with pytest.raises(ImageError, match="over the file size cap 1,000 bytes"):
        decode_image(path)


@needs_posix
@pytest.mark.timeout(30)
def test_paths_that_are_not_regular_files_are_refused_without_blocking(tmp_path: Path):
    # A FIFO used to block in open(); /dev/zero used to be read until memory ran out.
    for path, kind in special_paths(tmp_path).values():
        with pytest.raises(ImageError, match=re.escape(f"is a {kind}, not a regular file")):
            decode_image(path)
        with pytest.raises(ImageError, match=re.escape(f"is a {kind}")):
            decode_image(str(path), target_size=224)


def test_file_names_in_errors_are_printable(tmp_path: Path):
    missing = os.fsdecode(os.fsencode(tmp_path) + b"/caf\xe9\n.jpg")
    with pytest.raises(ImageError) as info:
        decode_image(missing)
    message = str(info.value)
    assert message.endswith("caf\\xe9\\x0a.jpg: no such file")
    message.encode("utf-8")  # no lone surrogate left
