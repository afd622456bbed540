"""The scaling explorer: the exact EfficientNet for any φ and α, β, γ, computed without torch.

Standard library only (no torch, timm, pandas or streamlit). Three ways to ask:

>>> from explorer import from_phi, from_multipliers, from_variant
>>> from_phi(1.0).resolution            # α, β, γ default to the paper's 1.2, 1.1, 1.15
258
>>> from_multipliers(width=1.1, depth=1.2, resolution=260).params
9109994
>>> from_variant("b7").params            # equals torchvision's published count
66347960
"""

from __future__ import annotations

from explorer.network import (
    B0_STAGES,
    ScaledNetwork,
    ScaledStage,
    StageSpec,
    network_summary,
    scale_network,
)
from explorer.scaling import (
    BASE_RESOLUTION_PX,
    MAX_RESOLUTION_PX,
    MIN_RESOLUTION_PX,
    PAPER_ALPHA,
    PAPER_BETA,
    PAPER_GAMMA,
    CompoundMultipliers,
    ScalingError,
    check_positive,
    compound_multipliers,
    round_channels,
    round_repeats,
    scaled_resolution,
)
from explorer.variants import (
    ImpliedPhi,
    OfficialVariant,
    get_variant,
    implied_phi,
    official_variants,
)


def from_phi(
    phi: float,
    alpha: float = PAPER_ALPHA,
    beta: float = PAPER_BETA,
    gamma: float = PAPER_GAMMA,
) -> ScaledNetwork:
    """The network for compound coefficient φ: depth α^φ, width β^φ, resolution round(224·γ^φ)."""
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
    low, high = MIN_RESOLUTION_PX / BASE_RESOLUTION_PX, MAX_RESOLUTION_PX / BASE_RESOLUTION_PX
    if not low <= multiplier <= high:
        raise ScalingError(
            f"resolution multiplier {multiplier:.6g} gives {224 * multiplier:.6g} px: accepted "
            f"{MIN_RESOLUTION_PX} to {MAX_RESOLUTION_PX} px (multiplier {low:.3g} to {high:.3g})"
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
    ``round(224 × resolution_multiplier)`` (give one of the two; neither means 224)."""
    if resolution is not None and resolution_multiplier is not None:
        raise ScalingError("give either resolution (pixels) or resolution_multiplier, not both")
    if resolution_multiplier is not None:
        resolution = _resolution_from_multiplier(
            check_positive("resolution multiplier", resolution_multiplier)
        )
    return scale_network(
        width, depth, BASE_RESOLUTION_PX if resolution is None else resolution
    )


def from_variant(name: str) -> ScaledNetwork:
    """An official configuration (``b0`` … ``b7``, ``b8``, ``l2``) at its published resolution."""
    v = get_variant(name)
    return scale_network(
        v.width_multiplier, v.depth_multiplier, v.resolution, variant=v.variant
    )


__all__ = [
    "B0_STAGES",
    "CompoundMultipliers",
    "ImpliedPhi",
    "OfficialVariant",
    "PAPER_ALPHA",
    "PAPER_BETA",
    "PAPER_GAMMA",
    "ScaledNetwork",
    "ScaledStage",
    "ScalingError",
    "StageSpec",
    "compound_multipliers",
    "from_multipliers",
    "from_phi",
    "from_variant",
    "get_variant",
    "implied_phi",
    "network_summary",
    "official_variants",
    "round_channels",
    "round_repeats",
    "scale_network",
    "scaled_resolution",
]
