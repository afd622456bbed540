"""The evaluation transform's resize + centre crop as one Pillow resize of the crop region only.

Why: it makes batch-1 classification of a large photo cheap (``zoo.classify.classifier``). It
samples where resize-then-crop would, so it differs from timm's transform only by rounding
(``FusedResizeCrop`` says how far).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch
    from PIL import Image as PILImage

__all__ = ["FusedResizeCrop"]


class FusedResizeCrop:
    """torchvision ``Resize(short side, PIL filter)`` + ``CenterCrop`` as one ``Image.resize(box=)``.

    Pillow maps output pixel ``i`` to source position ``box_left + (i + 0.5) * scale`` and clamps
    the filter to the *whole* image, so resizing only the crop's pre-image with the same scale
    samples where resize-then-crop would. Output sizes and crop offsets are computed the way
    torchvision computes them (``int`` truncation, ``round`` to even). The result differs from
    the timm transform only by floating-point rounding: at most 1/255, in under 0.1 % of values
    (tests/test_classify.py checks it).
    """

    def __init__(self, short_px: int, crop_hw: tuple[int, int], resample: int, rest: list) -> None:
        self.short_px = short_px
        self.crop_hw = crop_hw
        self.resample = resample
        self.support = {3: 2.0, 2: 1.0}[resample]  # filter half-width at scale 1 (Pillow)
        self.rest = rest  # ToTensor, Normalize, ...

    @classmethod
    def from_transform(cls, transform: Any) -> FusedResizeCrop | None:
        from torchvision import transforms as T
        from torchvision.transforms.functional import InterpolationMode

        steps = list(getattr(transform, "transforms", []))
        if len(steps) < 2 or type(steps[0]) is not T.Resize or type(steps[1]) is not T.CenterCrop:
            return None
        resize, crop = steps[0], steps[1]
        size = resize.size
        if isinstance(size, list | tuple):
            if len(size) != 1:
                return None
            size = size[0]
        filters = {InterpolationMode.BICUBIC: 3, InterpolationMode.BILINEAR: 2}  # PIL constants
        if resize.max_size is not None or resize.interpolation not in filters:
            return None
        crop_h, crop_w = crop.size
        if crop_h > size or crop_w > size:
            return None  # CenterCrop would pad
        return cls(int(size), (crop_h, crop_w), filters[resize.interpolation], steps[2:])

    def normalisation(self) -> tuple[torch.Tensor, torch.Tensor] | None:
        """(mean, std) as (3, 1, 1) tensors when the rest is exactly to-tensor + normalise."""
        import torch
        from timm.data.transforms import MaybeToTensor
        from torchvision import transforms as T

        if len(self.rest) != 2 or type(self.rest[0]) not in (T.ToTensor, MaybeToTensor):
            return None
        normalise = self.rest[1]
        if type(normalise) is not T.Normalize or normalise.inplace:
            return None
        mean = torch.as_tensor(normalise.mean, dtype=torch.float32).view(-1, 1, 1)
        std = torch.as_tensor(normalise.std, dtype=torch.float32).view(-1, 1, 1)
        return (mean, std) if mean.numel() == std.numel() == 3 else None

    def __call__(self, image: PILImage.Image) -> torch.Tensor:
        return self.finish(self.crop(image))

    def finish(self, image: Any) -> torch.Tensor:
        """The steps after the crop (to-tensor, normalise, ...)."""
        for step in self.rest:
            image = step(image)
        return image

    def crop(self, image: PILImage.Image) -> PILImage.Image:
        """Resize + centre crop as one Pillow resize of the crop region (8-bit RGB)."""
        width, height = image.size
        short, long = (width, height) if width <= height else (height, width)
        new_long = int(self.short_px * long / short)
        new_w, new_h = (self.short_px, new_long) if width <= height else (new_long, self.short_px)
        crop_h, crop_w = self.crop_hw
        top = int(round((new_h - crop_h) / 2.0))
        left = int(round((new_w - crop_w) / 2.0))
        scale_x, scale_y = width / new_w, height / new_h
        x0, x1 = left * scale_x, (left + crop_w) * scale_x
        y0, y1 = top * scale_y, (top + crop_h) * scale_y
        # Pillow resizes horizontally first and rounds the intermediate to 8 bits; given a 2-D
        # box it may pick another order, so run the two passes explicitly, in Pillow's order.
        # The horizontal pass only needs the rows the vertical filter will read.
        reach = self.support * max(scale_y, 1.0) + 1.0
        row_first = max(0, math.floor(y0 - reach))
        row_last = min(height, math.ceil(y1 + reach))
        rows = row_last - row_first
        strip = image if rows == height else image.crop((0, row_first, width, row_last))
        strip = strip.resize((crop_w, rows), self.resample, box=(x0, 0, x1, rows))
        box = (0, y0 - row_first, crop_w, y1 - row_first)
        return strip.resize((crop_w, crop_h), self.resample, box=box)
