"""Compound scaling: the paper's multipliers and the rounding rules that turn them into layers.

Tan & Le, "EfficientNet: Rethinking Model Scaling for CNNs" (ICML 2019, arXiv 1905.11946),
section 3.3, equation 3: depth ``d = α^φ``, width ``w = β^φ``, resolution ``r = γ^φ`` subject to
``α·β²·γ² ≈ 2`` with ``α, β, γ ≥ 1``. FLOPs of a convolutional network grow with ``d·w²·r²``, so
the total cost grows by ``(α·β²·γ²)^φ``. The paper's grid search gave α=1.2, β=1.1, γ=1.15,
whose product α·β²·γ² is 1.92, not 2: we show the real value rather than the rounded one.

The rounding rules are those of the TensorFlow reference code (``round_filters`` and
``round_repeats`` in ``efficientnet_model.py``), which timm reproduces (``round_channels`` /
``make_divisible`` and ``_scale_stage_depth(depth_trunc='ceil')``). We follow timm's exact
floating-point operations so that the channel counts agree with a built timm model bit for bit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: The coefficients found by the paper's grid search at φ = 1 on B0 (section 3.3).
PAPER_ALPHA = 1.2
PAPER_BETA = 1.1
PAPER_GAMMA = 1.15
#: B0's input resolution (paper Table 1).
BASE_RESOLUTION_PX = 224
#: Channels are multiples of this (TF ``depth_divisor``, which despite its name scales *width*).
CHANNEL_DIVISOR = 8

# Bounds beyond which a configuration is refused as absurd (not a useful network to describe,
# and big enough to make a build or a chart meaningless). B7 is w=2.0, d=3.1, 600 px; L2 is
# w=4.3, d=5.3, 800 px.
MAX_WIDTH_MULTIPLIER = 16.0
MAX_DEPTH_MULTIPLIER = 16.0
MIN_RESOLUTION_PX = 32  # the network downsamples by 32: below this the last stages see < 1 px
MAX_RESOLUTION_PX = 4096
# A multiplier below this is a numerical accident, not a network (channels bottom out at 8 and
# repeats at 1 long before).
MIN_MULTIPLIER = 1e-6
# α, β, γ may be any positive number in principle; beyond these bounds α·β²·γ² is no longer a
# representable float (found by property-based tests), and no such base makes sense anyway.
MIN_COEFFICIENT = 1e-6
MAX_COEFFICIENT = 1e6


class ScalingError(ValueError):
    """An input the explorer refuses; the message names the value and the accepted range."""


def check_finite(name: str, value: float) -> float:
    """Return ``value`` as a float, or raise ``ScalingError`` if it is not a finite real number.

    >>> check_finite("phi", 2)
    2.0
    >>> check_finite("phi", float("nan"))
    Traceback (most recent call last):
    ...
    explorer.scaling.ScalingError: phi must be a finite number, got nan
    """
    if isinstance(value, bool):
        raise ScalingError(f"{name} must be a number, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise ScalingError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise ScalingError(f"{name} must be a finite number, got {number}")
    return number


def check_positive(name: str, value: float) -> float:
    """Return ``value`` as a float if it is finite and > 0, else raise ``ScalingError``.

    >>> check_positive("alpha", 1.2)
    1.2
    >>> check_positive("alpha", 0)
    Traceback (most recent call last):
    ...
    explorer.scaling.ScalingError: alpha must be > 0 (a finite positive number), got 0.0
    """
    number = check_finite(name, value)
    if number <= 0:
        raise ScalingError(f"{name} must be > 0 (a finite positive number), got {number}")
    return number


def check_coefficient(name: str, value: float) -> float:
    """A compound-scaling base (α, β or γ): finite, > 0 and within [1e-6, 1e6].

    >>> check_coefficient("gamma", 1.15)
    1.15
    >>> check_coefficient("gamma", 1e300)
    Traceback (most recent call last):
    ...
    explorer.scaling.ScalingError: gamma=1e+300 is out of range: accepted 1e-06 to 1e+06 (the paper uses 1.2, 1.1, 1.15)
    """
    number = check_positive(name, value)
    if not MIN_COEFFICIENT <= number <= MAX_COEFFICIENT:
        raise ScalingError(
            f"{name}={number:g} is out of range: accepted {MIN_COEFFICIENT:g} to "
            f"{MAX_COEFFICIENT:g} (the paper uses 1.2, 1.1, 1.15)"
        )
    return number


def _power(name: str, base: float, phi: float) -> float:
    """``base ** phi`` without overflow: a too-large result is a ``ScalingError``, not a crash."""
    exponent = phi * math.log(base)
    if exponent > 700:  # exp(709) is the largest double
        raise ScalingError(
            f"{name}^phi = exp({exponent:.3g}) overflows: phi={phi} is far outside any useful "
            f"network (multipliers must stay <= {MAX_WIDTH_MULTIPLIER:g})"
        )
    return math.exp(exponent) if exponent != 0 else 1.0


@dataclass(frozen=True)
class CompoundMultipliers:
    """The paper's equation 3 evaluated at one φ."""

    phi: float
    alpha: float
    beta: float
    gamma: float
    depth: float  # α^φ
    width: float  # β^φ
    resolution: float  # γ^φ
    constraint: float  # α·β²·γ² (the paper asks for ≈ 2)
    flops_factor: float  # (α·β²·γ²)^φ: predicted growth of MACs over B0


def compound_multipliers(
    phi: float,
    alpha: float = PAPER_ALPHA,
    beta: float = PAPER_BETA,
    gamma: float = PAPER_GAMMA,
) -> CompoundMultipliers:
    """Depth, width and resolution multipliers for any real φ (negative and fractional too).

    >>> m = compound_multipliers(1)
    >>> round(m.depth, 3), round(m.width, 3), round(m.resolution, 3)
    (1.2, 1.1, 1.15)
    >>> round(m.constraint, 5)  # the paper's constants give 1.92, not 2
    1.92027
    >>> round(compound_multipliers(-1).width, 4)
    0.9091
    """
    phi = check_finite("phi", phi)
    alpha = check_coefficient("alpha", alpha)
    beta = check_coefficient("beta", beta)
    gamma = check_coefficient("gamma", gamma)
    constraint = alpha * beta**2 * gamma**2
    return CompoundMultipliers(
        phi=phi,
        alpha=alpha,
        beta=beta,
        gamma=gamma,
        depth=_power("alpha", alpha, phi),
        width=_power("beta", beta, phi),
        resolution=_power("gamma", gamma, phi),
        constraint=constraint,
        flops_factor=_power("alpha*beta^2*gamma^2", constraint, phi),
    )


def make_divisible(
    value: float, divisor: int = CHANNEL_DIVISOR, min_value: int | None = None, round_limit=0.9
) -> int:
    """Round ``value`` to the nearest multiple of ``divisor``, never losing more than 10 %.

    Why the 10 % rule: plain rounding to a multiple of 8 can remove up to 4 channels, which is a
    large fraction of a narrow layer; the reference code adds one more multiple of the divisor
    whenever rounding down would drop below 90 % of the requested width.

    >>> make_divisible(35.2), make_divisible(12), make_divisible(3)
    (32, 16, 8)
    """
    min_value = min_value or divisor
    new_value = max(min_value, int(value + divisor / 2) // divisor * divisor)
    if new_value < round_limit * value:
        new_value += divisor
    return new_value


def round_channels(channels: int, width_multiplier: float) -> int:
    """Scale a channel count by the width multiplier and round it (TF ``round_filters``).

    >>> round_channels(32, 1.2), round_channels(1280, 2.0), round_channels(16, 0.5)
    (40, 2560, 8)
    """
    if not width_multiplier:
        return channels
    return make_divisible(channels * width_multiplier)


def round_repeats(repeats: int, depth_multiplier: float) -> int:
    """Scale a stage's block count by the depth multiplier, rounding *up*.

    Why ceil: the reference code never drops a block, so any multiplier above 1 adds a block to
    every stage (B1's d=1.1 turns B0's 16 blocks into 23, as many as B2 has).

    >>> round_repeats(2, 1.1), round_repeats(3, 1.4), round_repeats(4, 0.1)
    (3, 5, 1)
    """
    return int(math.ceil(repeats * depth_multiplier))


def scaled_resolution(resolution_multiplier: float, base_px: int = BASE_RESOLUTION_PX) -> int:
    """Input resolution in pixels for a resolution multiplier: the nearest integer to 224·r.

    The published B1–B7 resolutions (240, 260, 300, 380, 456, 528, 600) are hand-picked, not
    224·γ^φ; for any other configuration we use this plain rule and say so.

    >>> scaled_resolution(1.15), scaled_resolution(1.0)
    (258, 224)
    """
    return int(round(base_px * resolution_multiplier))
