"""The three ways to ask for a network, and the φ whose compound cost matches a network.

* ``from_phi``: the paper's compound scaling (Tan & Le 2019, section 3.3, equation 3): depth
  α^φ, width β^φ, resolution round(224·γ^φ);
* ``from_multipliers``: explicit width and depth multipliers at a resolution;
* ``from_variant``: an official configuration (B0 … B7, B8, L2) at its published resolution.

``cost_matching_phi`` answers the reverse question: at which φ does the compound formula with
given α, β, γ cost what a network costs? MACs grow by (α·β²·γ²)^φ over B0, so
φ = log(MACs / MACs_B0) / log(α·β²·γ²).
"""

from __future__ import annotations

import math

from explorer.network import ScaledNetwork, scale_network
from explorer.scaling import (
    BASE_RESOLUTION_PX,
    MAX_RESOLUTION_PX,
    MIN_RESOLUTION_PX,
    PAPER_ALPHA,
    PAPER_BETA,
    PAPER_GAMMA,
    ScalingError,
    check_positive,
    compound_multipliers,
    scaled_resolution,
)
from explorer.variants import get_variant

__all__ = ["cost_matching_phi", "from_multipliers", "from_phi", "from_variant"]


def from_phi(
    phi: float,
    alpha: float = PAPER_ALPHA,
    beta: float = PAPER_BETA,
    gamma: float = PAPER_GAMMA,
) -> ScaledNetwork:
    """The network for compound coefficient φ: depth α^φ, width β^φ, resolution round(224·γ^φ).

    >>> from_phi(1.0).resolution  # α, β, γ default to the paper's 1.2, 1.1, 1.15
    258
    """
    m = compound_multipliers(phi, alpha, beta, gamma)
    return scale_network(
        m.width,
        m.depth,
        _resolution_from_multiplier(m.resolution),
        phi=m.phi,
        alpha=m.alpha,
        beta=m.beta,
        gamma=m.gamma,
    )


def _resolution_from_multiplier(multiplier: float) -> int:
    # Check before rounding so that an enormous multiplier is an error, not an OverflowError.
    low = MIN_RESOLUTION_PX / BASE_RESOLUTION_PX
    high = MAX_RESOLUTION_PX / BASE_RESOLUTION_PX
    if not low <= multiplier <= high:
        raise ScalingError(
            f"resolution multiplier {multiplier:.6g} gives {BASE_RESOLUTION_PX * multiplier:.6g} "
            f"px: accepted {MIN_RESOLUTION_PX} to {MAX_RESOLUTION_PX} px (multiplier {low:.3g} "
            f"to {high:.3g})"
        )
    return scaled_resolution(multiplier)


def from_multipliers(
    width: float,
    depth: float,
    resolution: int | None = None,
    *,
    resolution_multiplier: float | None = None,
) -> ScaledNetwork:
    """The network for explicit width and depth multipliers, at ``resolution`` pixels or at
    ``round(224 × resolution_multiplier)`` (give one of the two; neither means 224).

    >>> from_multipliers(width=1.1, depth=1.2, resolution=260).params
    9109994
    """
    if resolution is not None and resolution_multiplier is not None:
        raise ScalingError("give either resolution (pixels) or resolution_multiplier, not both")
    if resolution_multiplier is not None:
        resolution = _resolution_from_multiplier(
            check_positive("resolution multiplier", resolution_multiplier)
        )
    return scale_network(width, depth, BASE_RESOLUTION_PX if resolution is None else resolution)


def from_variant(name: str) -> ScaledNetwork:
    """An official configuration (``b0`` … ``b7``, ``b8``, ``l2``) at its published resolution.

    >>> from_variant("b7").params  # equals torchvision's published count
    66347960
    """
    v = get_variant(name)
    return scale_network(v.width_multiplier, v.depth_multiplier, v.resolution, variant=v.variant)


def cost_matching_phi(
    macs: int,
    alpha: float = PAPER_ALPHA,
    beta: float = PAPER_BETA,
    gamma: float = PAPER_GAMMA,
) -> float | None:
    """The φ at which the compound formula costs ``macs``: log(macs / B0's) / log(α·β²·γ²).

    ``None`` when α·β²·γ² ≤ 1: the formula's cost then does not grow with φ, so no φ (or every
    φ) matches.

    >>> round(cost_matching_phi(from_variant("b3").macs), 2)  # B3 costs what φ ≈ 2.38 costs
    2.38
    >>> cost_matching_phi(from_variant("b3").macs, 1.0, 1.0, 1.0) is None
    True
    """
    constraint = compound_multipliers(1.0, alpha, beta, gamma).constraint
    if constraint <= 1.0:
        return None
    macs = check_positive("MACs", macs)
    return math.log(macs / from_variant("b0").macs) / math.log(constraint)
