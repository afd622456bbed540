"""The scaling explorer: the exact EfficientNet for any φ and α, β, γ, computed without torch.

Standard library only (no torch, timm, pandas or streamlit). This package only re-exports; the
three ways to ask live in ``explorer.configs``:

>>> from explorer import from_phi, from_multipliers, from_variant
>>> from_phi(1.0).resolution            # α, β, γ default to the paper's 1.2, 1.1, 1.15
258
>>> from_multipliers(width=1.1, depth=1.2, resolution=260).params
9109994
>>> from_variant("b7").params            # equals torchvision's published count
66347960
"""

from __future__ import annotations

from explorer.configs import cost_matching_phi, from_multipliers, from_phi, from_variant
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
    PUBLISHED_VARIANTS,
    ImpliedPhi,
    OfficialVariant,
    get_variant,
    implied_phi,
    official_variant_names,
    official_variants,
)

__all__ = [
    "BASE_RESOLUTION_PX",
    "B0_STAGES",
    "MAX_RESOLUTION_PX",
    "MIN_RESOLUTION_PX",
    "PUBLISHED_VARIANTS",
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
    "check_positive",
    "compound_multipliers",
    "cost_matching_phi",
    "from_multipliers",
    "from_phi",
    "from_variant",
    "get_variant",
    "implied_phi",
    "network_summary",
    "official_variant_names",
    "official_variants",
    "round_channels",
    "round_repeats",
    "scale_network",
    "scaled_resolution",
]
