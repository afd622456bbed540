"""Single-dimension scaling at equal cost: the paper's Figure 7 / Table 7 question, asked exactly.

Tan & Le (arXiv 1905.11946, section 4 and Table 7) compare B0 scaled in one dimension only
(depth ×4, width ×2 or resolution ×2) with the compound-scaled B3 at about the same FLOPs
(1.8 B multiply-accumulates). Here the comparison is made for *any* target: for the MACs of the
current compound network we find, by bisection, the depth-only, width-only and resolution-only
networks whose exact MACs (``explorer.network``) come closest.

Why bisection and then a neighbour check: exact MACs are a non-decreasing *step* function of
each multiplier (repeats are rounded up, channels to multiples of 8, resolution to whole pixels),
so no multiplier hits the target exactly. Bisection finds the step where MACs cross the target;
the answer is whichever side of that step is nearer. A target below what one dimension can reach
(every stage already down to one block, channels down to 8, or 32 px) returns the cheapest
network that dimension can make, flagged ``at_bound``.

>>> from explorer import from_variant
>>> eq = equal_cost_networks(from_variant("b3").macs)
>>> eq.depth.network.depth_multiplier > 3, eq.width.network.width_multiplier > 1.7
(True, True)
>>> abs(eq.depth.relative_error) < 0.01, eq.resolution.network.resolution
(True, 480)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from explorer.network import B0_STAGES, ScaledNetwork, scale_network
from explorer.scaling import (
    BASE_RESOLUTION_PX,
    MAX_DEPTH_MULTIPLIER,
    MAX_RESOLUTION_PX,
    MAX_WIDTH_MULTIPLIER,
    MIN_RESOLUTION_PX,
    ScalingError,
    check_positive,
)

#: Smallest multiplier searched. Below about 1/64 every stage has one block and every layer
#: 8 channels, so nothing changes further down; 1e-3 keeps the search short.
MIN_SEARCH_MULTIPLIER = 1e-3
#: Bisection stops when the bracket is this narrow (relative to the multiplier). Step edges are
#: at least 1/(4·d) apart in depth and 8/(1280·w) in width, far wider than this.
_TOLERANCE = 1e-6
_MAX_ITERATIONS = 200


@dataclass(frozen=True)
class EqualCostNetwork:
    """The network scaled in one ``dimension`` only whose MACs are nearest the target."""

    dimension: str  # "depth", "width" or "resolution"
    network: ScaledNetwork
    target_macs: int
    at_bound: bool  # the target is out of reach in this dimension; this is the nearest end

    @property
    def multiplier(self) -> float:
        """The scaled dimension's multiplier (resolution as resolution / 224)."""
        if self.dimension == "depth":
            return self.network.depth_multiplier
        if self.dimension == "width":
            return self.network.width_multiplier
        return self.network.resolution_multiplier

    @property
    def relative_error(self) -> float:
        """(MACs − target) / target: how far the nearest reachable network is from the target."""
        return (self.network.macs - self.target_macs) / self.target_macs


@dataclass(frozen=True)
class EqualCost:
    """Depth-only, width-only and resolution-only networks at one target MACs."""

    target_macs: int
    depth: EqualCostNetwork
    width: EqualCostNetwork
    resolution: EqualCostNetwork

    def __iter__(self):
        return iter((self.depth, self.width, self.resolution))


def _depth_only(d: float) -> ScaledNetwork:
    return scale_network(1.0, d, BASE_RESOLUTION_PX)


def _width_only(w: float) -> ScaledNetwork:
    return scale_network(w, 1.0, BASE_RESOLUTION_PX)


def _bisect_real(
    build: Callable[[float], ScaledNetwork], target: int, low: float, high: float
) -> tuple[ScaledNetwork, bool]:
    """Nearest-MACs network over a real multiplier in [low, high] (MACs non-decreasing in it)."""
    bounds = (low, high)
    net_low, net_high = build(low), build(high)
    if target <= net_low.macs:
        return _roundest_real(build, net_low, low, bounds), target < net_low.macs
    if target >= net_high.macs:
        return _roundest_real(build, net_high, high, bounds), target > net_high.macs
    # Invariant: build(low).macs < target <= build(high).macs.
    low, high = _bisect_edge(build, lambda n: n.macs < target, low, high)
    net_low, net_high = build(low), build(high)
    if _nearer(net_low, net_high, target) is net_low:
        return _roundest_real(build, net_low, low, bounds), False
    return _roundest_real(build, net_high, high, bounds), False


def _bisect_edge(
    build: Callable[[float], ScaledNetwork],
    is_low: Callable[[ScaledNetwork], bool],
    low: float,
    high: float,
) -> tuple[float, float]:
    """Narrow [low, high] around the point where ``is_low`` turns false (true at low)."""
    for _ in range(_MAX_ITERATIONS):
        if high - low <= _TOLERANCE * high:
            break
        mid = math.sqrt(low * high)  # geometric midpoint: multipliers span four decades
        if not low < mid < high:
            mid = (low + high) / 2
        if is_low(build(mid)):
            low = mid
        else:
            high = mid
    return low, high


def _roundest_real(
    build: Callable[[float], ScaledNetwork],
    network: ScaledNetwork,
    x: float,
    bounds: tuple[float, float],
) -> ScaledNetwork:
    """The same network (same MACs) built from the multiplier with the fewest decimals.

    Why: every multiplier on one MACs step builds the same layers, and bisection lands on a
    step edge (B0's depth-only twin would be d = 0.7500001); d = 1 is the same network, said
    plainly.
    """
    macs = network.macs
    # Where the step of ``x`` starts and ends (MACs are non-decreasing in the multiplier).
    # Outer ends of the brackets: a candidate is checked by rebuilding it, so erring wide is safe.
    lower = _bisect_edge(build, lambda n: n.macs < macs, bounds[0], x)[0] if x > bounds[0] else x
    upper = _bisect_edge(build, lambda n: n.macs <= macs, x, bounds[1])[1] if x < bounds[1] else x
    middle = (lower + upper) / 2
    for decimals in range(7):
        candidate = round(middle, decimals)
        if lower <= candidate <= upper:
            rebuilt = build(candidate)
            if rebuilt.macs == macs:
                return rebuilt
    return network


@lru_cache(maxsize=1)
def _depth_steps() -> tuple[tuple[float, float], ...]:
    """The intervals (low, high] of depth multiplier over which every stage keeps the same
    number of blocks: ``ceil(repeats · d)`` only changes at d = k / repeats."""
    edges = {MAX_DEPTH_MULTIPLIER}
    for spec in B0_STAGES:
        top = math.ceil(spec.repeats * MAX_DEPTH_MULTIPLIER)
        edges.update(k / spec.repeats for k in range(1, top + 1))
    ordered = sorted(e for e in edges if MIN_SEARCH_MULTIPLIER < e <= MAX_DEPTH_MULTIPLIER)
    lows = [MIN_SEARCH_MULTIPLIER, *ordered[:-1]]
    return tuple(zip(lows, ordered, strict=True))


def _search_depth(target: int) -> tuple[ScaledNetwork, bool]:
    """Nearest-MACs depth-only network, by bisection over the steps of the block counts.

    Why not over d directly: a deep network costs a millisecond to describe, and the steps are
    known in advance, so each probe is one step (built from a point strictly inside it, away
    from the rounding edges).
    """
    steps = _depth_steps()

    def build(index: int) -> ScaledNetwork:
        low, high = steps[index]
        return _depth_only((low + high) / 2)

    first, last = build(0), build(len(steps) - 1)
    if target <= first.macs:
        return _roundest_in_step(steps[0], first), target < first.macs
    if target >= last.macs:
        return _roundest_in_step(steps[-1], last), target > last.macs
    lo, hi = 0, len(steps) - 1  # build(lo).macs < target <= build(hi).macs
    net_lo, net_hi = first, last
    while hi - lo > 1:
        mid = (lo + hi) // 2
        net_mid = build(mid)
        if net_mid.macs < target:
            lo, net_lo = mid, net_mid
        else:
            hi, net_hi = mid, net_mid
    if _nearer(net_lo, net_hi, target) is net_lo:
        return _roundest_in_step(steps[lo], net_lo), False
    return _roundest_in_step(steps[hi], net_hi), False


def _roundest_in_step(step: tuple[float, float], network: ScaledNetwork) -> ScaledNetwork:
    """The same depth-only network, from the d in (low, high] with the fewest decimals."""
    low, high = step
    middle = (low + high) / 2
    for decimals in range(7):
        for candidate in (round(high, decimals), round(middle, decimals)):
            if low < candidate <= high:
                rebuilt = _depth_only(candidate)
                if rebuilt.macs == network.macs:
                    return rebuilt
    return network


def _bisect_resolution(target: int) -> tuple[ScaledNetwork, bool]:
    """Nearest-MACs network over whole-pixel resolutions at width = depth = 1."""
    low, high = MIN_RESOLUTION_PX, MAX_RESOLUTION_PX
    net_low = scale_network(1.0, 1.0, low)
    net_high = scale_network(1.0, 1.0, high)
    if target <= net_low.macs:
        return net_low, target < net_low.macs
    if target >= net_high.macs:
        return net_high, target > net_high.macs
    while high - low > 1:
        mid = (low + high) // 2
        net_mid = scale_network(1.0, 1.0, mid)
        if net_mid.macs < target:
            low, net_low = mid, net_mid
        else:
            high, net_high = mid, net_mid
    chosen = _nearer(net_low, net_high, target)
    return _roundest_resolution(chosen), False


def _roundest_resolution(network: ScaledNetwork) -> ScaledNetwork:
    """Among the resolutions with the same MACs (odd sizes round up at each stride), the one
    divisible by the highest power of two, as real input sizes are (224, 240, 480)."""
    macs, best = network.macs, network
    for step in (-1, 1):
        r = network.resolution + step
        while MIN_RESOLUTION_PX <= r <= MAX_RESOLUTION_PX:
            candidate = scale_network(1.0, 1.0, r)
            if candidate.macs != macs:
                break
            if _twos(r) > _twos(best.resolution):
                best = candidate
            r += step
    return best


def _twos(n: int) -> int:
    return (n & -n).bit_length() - 1


def _nearer(below: ScaledNetwork, above: ScaledNetwork, target: int) -> ScaledNetwork:
    # Ties go to the cheaper network.
    return below if target - below.macs <= above.macs - target else above


@lru_cache(maxsize=256)
def equal_cost_networks(target_macs: int) -> EqualCost:
    """The depth-only, width-only and resolution-only B0 scalings nearest ``target_macs``.

    >>> from explorer import from_phi
    >>> b0 = from_phi(0)
    >>> eq = equal_cost_networks(b0.macs)   # B0's own cost: every dimension stays at 1
    >>> [(e.dimension, round(e.multiplier, 2), e.network.macs == b0.macs) for e in eq]
    [('depth', 1.0, True), ('width', 1.0, True), ('resolution', 1.0, True)]
    >>> equal_cost_networks(0)
    Traceback (most recent call last):
    ...
    explorer.scaling.ScalingError: target MACs must be > 0 (a finite positive number), got 0.0
    """
    target_f = check_positive("target MACs", target_macs)
    if target_f != int(target_f):
        raise ScalingError(f"target MACs must be a whole number, got {target_macs}")
    target = int(target_f)
    depth, depth_bound = _search_depth(target)
    width, width_bound = _bisect_real(
        _width_only, target, MIN_SEARCH_MULTIPLIER, MAX_WIDTH_MULTIPLIER
    )
    resolution, resolution_bound = _bisect_resolution(target)
    return EqualCost(
        target_macs=target,
        depth=EqualCostNetwork("depth", depth, target, depth_bound),
        width=EqualCostNetwork("width", width, target, width_bound),
        resolution=EqualCostNetwork("resolution", resolution, target, resolution_bound),
    )


__all__ = [
    "EqualCost",
    "EqualCostNetwork",
    "equal_cost_networks",
]
