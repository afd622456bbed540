"""The calibration set: which configurations a new machine measures so that the latency model
can be fitted, spread over φ, width, depth and resolution, under a size cap.

Why a design and not the official B0–B7: eight points on one curve leave width, depth and
resolution confounded (they all grow together); a low-discrepancy spread over the three, plus
a few points of the paper's compound curve, pins each feature down (docs/latency-model.md).
"""

from __future__ import annotations

from explorer import ScaledNetwork, from_multipliers, from_phi

#: The ranges the design spreads over (B0 is 1.0, 1.0, 224; B3 1.2, 1.4, 300).
WIDTH_RANGE = (0.5, 1.6)
DEPTH_RANGE = (0.5, 2.2)
RESOLUTION_RANGE = (128, 320)
#: The compound curve's φ the design always includes (the paper's α, β, γ).
CURVE_PHIS = (-1.0, 0.0, 1.0)
#: The default size cap, in GMACs per image (B3 is 1.83).
DEFAULT_MAX_GMACS = 2.0
_PRIMES = (2, 3, 5)

__all__ = [
    "CURVE_PHIS",
    "DEFAULT_MAX_GMACS",
    "DEPTH_RANGE",
    "RESOLUTION_RANGE",
    "WIDTH_RANGE",
    "calibration_design",
    "halton",
]


def halton(index: int, base: int) -> float:
    """The ``index``-th (from 1) element of the van der Corput sequence in ``base``."""
    result, fraction = 0.0, 1.0
    while index > 0:
        fraction /= base
        result += fraction * (index % base)
        index //= base
    return result


def _spread(index: int, skip: int) -> ScaledNetwork:
    u, v, w = (halton(index + skip, base) for base in _PRIMES)
    width = WIDTH_RANGE[0] + u * (WIDTH_RANGE[1] - WIDTH_RANGE[0])
    depth = DEPTH_RANGE[0] + v * (DEPTH_RANGE[1] - DEPTH_RANGE[0])
    low, high = RESOLUTION_RANGE
    resolution = int(round((low + w * (high - low)) / 8) * 8)
    return from_multipliers(round(width, 3), round(depth, 3), resolution)


def calibration_design(
    count: int, max_gmacs: float = DEFAULT_MAX_GMACS, *, skip: int = 0
) -> list[ScaledNetwork]:
    """``count`` distinct networks of at most ``max_gmacs`` GMACs: the compound curve's
    ``CURVE_PHIS`` first, then a Halton spread over width, depth and resolution (``skip``
    shifts the spread: another, disjoint set of the same kind, for testing a model)."""
    if count < 1:
        raise ValueError(f"count must be at least 1, got {count}")
    chosen: list[ScaledNetwork] = []
    seen: set[tuple[float, float, int]] = set()

    def take(net: ScaledNetwork) -> None:
        key = (net.width_multiplier, net.depth_multiplier, net.resolution)
        if net.macs <= max_gmacs * 1e9 and key not in seen and len(chosen) < count:
            seen.add(key)
            chosen.append(net)

    if skip == 0:
        for phi in CURVE_PHIS:
            take(from_phi(phi))
    index = 1
    while len(chosen) < count and index < 100 * count:
        take(_spread(index, skip))
        index += 1
    return chosen
