"""Safe image decoding for classification and for dashboard uploads.

Every image a user hands us is untrusted bytes, so ``decode_image`` turns them into one RGB
``PIL.Image.Image`` or raises ``ImageError`` saying what is wrong with *that* image, and a caller
classifying many reports it and goes on with the others. Formats, caps and conversions:
docs/weights.md, 'Images'; the reason for each rule: docs/architecture.md, 'Notes by module'.
"""

from __future__ import annotations

import functools
import io
from pathlib import Path
from typing import TYPE_CHECKING

from zoo.errors import ZooError
from zoo.files import UnreadableFile, display_name, read_regular

if TYPE_CHECKING:
    from PIL import Image as PILImage

__all__ = [
    "ACCEPTED_FORMATS",
    "MAX_FILE_BYTES",
    "MAX_PIXELS",
    "ImageError",
    "accepted_extensions",
    "decode_image",
    "describe_source",
    "to_upright_rgb",
]

#: Pillow format names that ``decode_image`` parses; anything else is refused.
ACCEPTED_FORMATS: tuple[str, ...] = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF")

#: Files larger than this are not read at all (a 50-MP JPEG is about 25 MB).
MAX_FILE_BYTES: int = 256 * 1024 * 1024

#: Default cap on the pixel count declared in an image header: 50 MP admits 48-MP phone photos
#: and stays below Pillow's own warning threshold (about 89.5 MP).
MAX_PIXELS: int = 50_000_000

# Magic numbers of common formats we refuse, so the message can name them.
_KNOWN_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"%PDF", "PDF"),
    (b"8BPS", "PSD"),
    (b"SIMPLE  =", "FITS"),
    (b"\x00\x00\x01\x00", "ICO"),
    (b"qoif", "QOI"),
    (b"\xff\x0a", "JPEG XL"),
    (b"\x00\x00\x00\x0cJXL ", "JPEG XL"),
    (b"PK\x03\x04", "ZIP"),
    (b"\x1f\x8b", "GZIP"),
)


class ImageError(ZooError):
    """One image cannot be decoded: the message says why (format, truncation, size, ...)."""


def _accepted() -> str:
    return ", ".join(ACCEPTED_FORMATS)


@functools.lru_cache(maxsize=1)
def accepted_extensions() -> frozenset[str]:
    """File-name extensions (lower case, with the dot) that Pillow registers for the
    ``ACCEPTED_FORMATS``: how a folder walk recognises image files without opening them.

    >>> sorted(e for e in accepted_extensions() if e.startswith(".j"))
    ['.jfif', '.jpe', '.jpeg', '.jpg']
    """
    from PIL import Image

    return frozenset(
        extension.lower()
        for extension, fmt in Image.registered_extensions().items()
        if fmt in ACCEPTED_FORMATS
    )


def describe_source(data: bytes | Path | str) -> str:
    """A short name for an image source, for messages and result records."""
    if isinstance(data, bytes | bytearray | memoryview):
        return f"<{len(data)} bytes>"
    return display_name(data)


def _sniff_format(head: bytes) -> str | None:
    """Name a refused format from its first bytes, or None when unknown."""
    for magic, name in _KNOWN_SIGNATURES:
        if head.startswith(magic):
            return name
    if head[4:8] == b"ftyp":
        brand = head[8:12].decode("ascii", "replace").strip()
        if brand.startswith(("heic", "heix", "hevc", "mif1", "msf1")):
            return "HEIC"
        if brand.startswith(("avif", "avis")):
            return "AVIF"
        return f"ISO media ({brand})"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith(b"<svg") or (text.startswith(b"<?xml") and b"<svg" in text):
        return "SVG"
    if text.startswith((b"<!doctype html", b"<html")):
        return "HTML"
    if text.startswith(b"<?xml"):
        return "XML"
    return None


def _read_source(data: bytes | Path | str) -> bytes:
    if isinstance(data, bytes | bytearray | memoryview):
        return bytes(data)
    try:
        return read_regular(data, MAX_FILE_BYTES)
    except UnreadableFile as exc:
        raise ImageError(str(exc)) from None


def decode_image(
    data: bytes | Path | str,
    *,
    max_pixels: int = MAX_PIXELS,
    target_size: int | None = None,
) -> PILImage.Image:
    """Decode untrusted image bytes (or a file) into an upright RGB image.

    ``max_pixels`` caps the width × height declared in the header (checked before decoding).
    ``target_size``, when given, lets a large JPEG be decoded at 1/2, 1/4 or 1/8 scale as long as
    both sides stay at least ``target_size`` pixels. Raises ``ImageError`` naming the problem.
    """
    from PIL import Image

    if max_pixels < 1:
        raise ZooError(f"max_pixels must be a positive integer, got {max_pixels}")
    if target_size is not None and target_size < 1:
        raise ZooError(f"target_size must be a positive integer or None, got {target_size}")

    raw = _read_source(data)
    if not raw:
        raise ImageError("empty file (0 bytes): not an image")

    try:
        image = Image.open(io.BytesIO(raw), formats=list(ACCEPTED_FORMATS))
    except Image.DecompressionBombError as exc:
        raise ImageError(f"declared size is over the pixel cap ({exc})") from None
    except Image.UnidentifiedImageError:
        sniffed = _sniff_format(raw[:512])
        what = (
            f"unsupported format {sniffed}" if sniffed else "not an image or an unsupported format"
        )
        raise ImageError(f"{what} (accepted: {_accepted()})") from None
    except Exception as exc:  # noqa: BLE001 - a corrupt header can raise anything; report it
        raise ImageError(f"corrupt image header ({type(exc).__name__}: {exc})") from None

    try:
        decoded = _decode_opened(image, max_pixels=max_pixels, target_size=target_size)
        if decoded is image and getattr(image, "n_frames", 1) > 1:
            decoded = image.copy()  # detach the frame from the multi-frame reader
    except ImageError:
        image.close()
        raise
    except Image.DecompressionBombError as exc:
        image.close()
        raise ImageError(f"declared size is over the pixel cap ({exc})") from None
    except MemoryError:
        image.close()
        raise ImageError("not enough memory to decode this image") from None
    except Exception as exc:  # noqa: BLE001 - decoder errors on untrusted data vary by format
        image.close()
        message = str(exc)
        if "truncated" in message.lower() or isinstance(exc, EOFError):
            raise ImageError(
                f"truncated {image.format} file ({message or 'unexpected end'})"
            ) from None
        raise ImageError(f"corrupt {image.format} data ({type(exc).__name__}: {message})") from None
    if decoded is not image:
        image.close()  # free the reader; the returned image owns its own pixels
    return decoded


def _decode_opened(
    image: PILImage.Image, *, max_pixels: int, target_size: int | None
) -> PILImage.Image:
    width, height = image.size
    if width < 1 or height < 1:
        raise ImageError(f"invalid image size {width}×{height}")
    if width * height > max_pixels:
        raise ImageError(
            f"{width}×{height} = {width * height:,} pixels is over the pixel cap "
            f"{max_pixels:,} ({image.format})"
        )
    if getattr(image, "n_frames", 1) > 1:
        image.seek(0)  # animations: classify the first frame
    if image.format == "JPEG" and target_size is not None:
        # DCT-domain downscaling: decodes a 12-MP JPEG several times faster, never below the
        # size the resize needs, so the transform still only shrinks the image.
        image.draft(None, (target_size, target_size))
    image.load()
    return to_upright_rgb(image)


def to_upright_rgb(image: PILImage.Image) -> PILImage.Image:
    """Apply EXIF orientation and convert any mode to RGB (see the module docstring)."""
    return _to_rgb(_apply_exif_orientation(image))


def _apply_exif_orientation(image: PILImage.Image) -> PILImage.Image:
    from PIL import ImageOps

    try:
        orientation = image.getexif().get(0x0112, 1)
    except Exception:  # noqa: BLE001 - a broken EXIF block must not lose the picture
        return image
    if orientation in (2, 3, 4, 5, 6, 7, 8):
        return ImageOps.exif_transpose(image)
    return image


def _on_white(image: PILImage.Image) -> PILImage.Image:
    """Composite an RGBA image on a white background."""
    from PIL import Image

    background = Image.new("RGB", image.size, (255, 255, 255))
    background.paste(image, mask=image.getchannel("A"))
    return background


def _scale_to_8bit(image: PILImage.Image) -> PILImage.Image:
    """16/32-bit integer and float grayscale to 8-bit L by scaling, not clipping."""
    import numpy as np
    from PIL import Image

    array = np.asarray(image)
    if image.mode == "F":
        values = np.nan_to_num(array.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
        # Float images are either in [0, 1] or in 8-bit units.
        peak = 1.0 if values.max(initial=0.0) <= 1.0 else 255.0
        scaled = np.clip(values / peak * 255.0, 0, 255)
    else:
        # 16-bit PNG/TIFF data: 0..65535 maps to 0..255 (65535 / 257 = 255).
        scaled = np.clip(array.astype(np.float64), 0, 65535) / 257.0
    return Image.fromarray(np.rint(scaled).astype(np.uint8), mode="L")


def _cmyk_to_rgb(image: PILImage.Image) -> PILImage.Image:
    profile = image.info.get("icc_profile")
    if profile:
        try:
            from PIL import ImageCms

            source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
            srgb = ImageCms.createProfile("sRGB")
            converted = ImageCms.profileToProfile(image, source, srgb, outputMode="RGB")
            if converted is not None:
                return converted
        except Exception:  # noqa: BLE001 - a broken profile: fall back to the plain formula
            pass
    return image.convert("RGB")


def _to_rgb(image: PILImage.Image) -> PILImage.Image:
    mode = image.mode
    if mode == "RGB":
        return image
    if mode == "CMYK":
        return _cmyk_to_rgb(image)
    if mode.startswith("I") or mode == "F":
        return _scale_to_8bit(image).convert("RGB")
    if mode == "P":
        has_alpha = "transparency" in image.info or image.palette.mode == "RGBA"
        return _on_white(image.convert("RGBA")) if has_alpha else image.convert("RGB")
    if mode in ("RGBA", "LA", "PA", "La", "RGBa"):
        return _on_white(image.convert("RGBA"))
    if mode in ("L", "1") and "transparency" in image.info:
        return _on_white(image.convert("RGBA"))
    return image.convert("RGB")  # L, 1, YCbCr, LAB, HSV, RGBX, ...
