"""Model families: the one taxonomy that names a timm architecture's family.

Each family has a ``key`` (the lower-case timm name prefix the zoo records with a measurement,
e.g. ``tf_efficientnet``) and a ``label`` (the name charts and tables show, e.g.
``EfficientNet (TF port)``). Several keys may share a label (MobileNetV2 and V3 are both drawn as
``MobileNet``). Matching is by the longest prefix, so ``tf_efficientnet_lite0`` is a Lite model,
not a TF-ported EfficientNet.

>>> family_key("tf_efficientnet_lite0"), family_label("tf_efficientnet_lite0")
('tf_efficientnet_lite', 'EfficientNet-Lite')
>>> family_key("mobilenetv3_large_100"), family_label("mobilenetv3_large_100")
('mobilenetv3', 'MobileNet')
>>> family_key("vit_tiny_patch16_224"), family_label("vit_tiny_patch16_224")
('vit', 'vit')
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["FAMILIES", "Family", "family_key", "family_label", "family_labels"]


@dataclass(frozen=True)
class Family:
    key: str  # lower-case timm architecture-name prefix
    label: str  # display name


# Longest prefix first (``family_key`` takes the first match).
FAMILIES: tuple[Family, ...] = (
    Family("tf_efficientnetv2", "EfficientNetV2"),
    Family("tf_efficientnet_lite", "EfficientNet-Lite"),
    Family("tf_efficientnet", "EfficientNet (TF port)"),
    Family("efficientnetv2", "EfficientNetV2"),
    Family("efficientnet_lite", "EfficientNet-Lite"),
    Family("efficientnet", "EfficientNet"),
    Family("mobilenetv2", "MobileNet"),
    Family("mobilenetv3", "MobileNet"),
    Family("regnetx", "RegNetX"),
    Family("regnety", "RegNetY"),
    Family("resnet", "ResNet"),
    Family("convnext", "ConvNeXt"),
)


def _family(arch: str) -> Family | None:
    return next((f for f in FAMILIES if arch.startswith(f.key)), None)


def family_key(arch: str) -> str:
    """The family key of a timm architecture name: a known prefix, else its leading letters."""
    family = _family(arch)
    if family is not None:
        return family.key
    match = re.match(r"[a-z]+", arch)
    return match.group() if match else arch


def family_label(arch: str) -> str:
    """The display name of ``arch``'s family (its key when the family is not a known one)."""
    family = _family(arch)
    return family.label if family is not None else family_key(arch)


def family_labels() -> tuple[str, ...]:
    """Every known label once, in taxonomy order (for stable colours).

    >>> family_labels()[:3]
    ('EfficientNetV2', 'EfficientNet-Lite', 'EfficientNet (TF port)')
    """
    return tuple(dict.fromkeys(f.label for f in FAMILIES))
