"""Official EfficientNet configurations (b0 … b7, b8, l2) and how they differ from α^φ, β^φ, γ^φ.

The coefficients come from ``data/efficientnet_coefficients.csv`` (the TensorFlow reference
``efficientnet_builder.params_dict``). The published B1–B7 multipliers and resolutions were
rounded by hand: they are *not* α^φ, β^φ, γ^φ at integer φ (B1 keeps width 1.0, for example).
``implied_phi`` shows, per dimension, the φ that the formula would need to reach each value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import data  # the project's loader: standard library only
from explorer.scaling import (
    BASE_RESOLUTION_PX,
    PAPER_ALPHA,
    PAPER_BETA,
    PAPER_GAMMA,
    ScalingError,
    check_positive,
)

#: The official variants whose ImageNet top-1 the paper publishes (Table 2): B0 … B7. B8 and L2
#: are official configurations too, but without a Table 2 row.
PUBLISHED_VARIANTS: tuple[str, ...] = ("b0", "b1", "b2", "b3", "b4", "b5", "b6", "b7")


@dataclass(frozen=True)
class OfficialVariant:
    variant: str  # "b0" … "b8", "l2"
    width_multiplier: float
    depth_multiplier: float
    resolution: int
    dropout_rate: float
    source: str
    source_url: str


@lru_cache(maxsize=1)
def official_variants() -> tuple[OfficialVariant, ...]:
    """All official configurations, in order (read once from the data package).

    >>> [v.variant for v in official_variants()][:3]
    ['b0', 'b1', 'b2']
    """
    return tuple(
        OfficialVariant(
            variant=str(row["variant"]),
            width_multiplier=float(row["width_coefficient"]),
            depth_multiplier=float(row["depth_coefficient"]),
            resolution=int(row["resolution_px"]),
            dropout_rate=float(row["dropout_rate"]),
            source=str(row["source"]),
            source_url=str(row["source_url"]),
        )
        for row in data.load_rows("efficientnet_coefficients")
    )


def official_variant_names() -> tuple[str, ...]:
    """The names of all official configurations, in order.

    >>> official_variant_names()
    ('b0', 'b1', 'b2', 'b3', 'b4', 'b5', 'b6', 'b7', 'b8', 'l2')
    """
    return tuple(v.variant for v in official_variants())


def normalize_variant_name(name: str) -> str:
    """Accept ``b3``, ``B3``, ``efficientnet-b3`` and ``efficientnet_b3``; return ``b3``.

    >>> normalize_variant_name("EfficientNet-B3")
    'b3'
    """
    if not isinstance(name, str):
        raise ScalingError(f"variant must be a name such as 'b0', got {name!r}")
    key = name.strip().lower()
    for prefix in ("efficientnet-", "efficientnet_", "tf_efficientnet_"):
        if key.startswith(prefix):
            key = key[len(prefix) :]
    return key


def get_variant(name: str) -> OfficialVariant:
    """The official configuration called ``name``; unknown names list the accepted ones.

    >>> get_variant("b4").resolution
    380
    >>> get_variant("b9")
    Traceback (most recent call last):
    ...
    explorer.scaling.ScalingError: unknown variant 'b9': accepted b0, b1, b2, b3, b4, b5, b6, b7, b8, l2
    """
    key = normalize_variant_name(name)
    variants = official_variants()
    for variant in variants:
        if variant.variant == key:
            return variant
    accepted = ", ".join(v.variant for v in variants)
    raise ScalingError(f"unknown variant {name!r}: accepted {accepted}")


@dataclass(frozen=True)
class ImpliedPhi:
    """The φ at which α^φ, β^φ and γ^φ would reach an official variant's values."""

    variant: str
    depth: float | None  # None when the multiplier is 1 and the coefficient is 1 (any φ fits)
    width: float | None
    resolution: float | None


def implied_phi(
    variant: OfficialVariant,
    alpha: float = PAPER_ALPHA,
    beta: float = PAPER_BETA,
    gamma: float = PAPER_GAMMA,
) -> ImpliedPhi:
    """Per-dimension φ implied by an official variant (they disagree: B1 is 0.52 / 0 / 0.49).

    >>> p = implied_phi(get_variant("b1"))
    >>> round(p.depth, 2), round(p.width, 2), round(p.resolution, 2)
    (0.52, 0.0, 0.49)
    """

    def solve(value: float, coefficient: float) -> float | None:
        coefficient = check_positive("coefficient", coefficient)
        if coefficient == 1.0:
            return None
        return math.log(value) / math.log(coefficient)

    return ImpliedPhi(
        variant=variant.variant,
        depth=solve(variant.depth_multiplier, alpha),
        width=solve(variant.width_multiplier, beta),
        resolution=solve(variant.resolution / BASE_RESOLUTION_PX, gamma),
    )
