"""What the latency model sees of a network: per part (stem, stages, head), the work of each
operator kind from the explorer's exact network (``explorer.operators``), never MACs alone.

Why these five: dense and pointwise convolutions run near the machine's compute ceiling, a
depthwise convolution, SE and the residual additions near its memory ceiling, and each layer
costs a runtime some fixed dispatch time (docs/latency-model.md, 'Features').
"""

from __future__ import annotations

import re

from explorer import ScaledNetwork, from_multipliers, from_variant
from explorer.operators import operator_costs, part_names
from zoo.models.spec import ModelSpec

#: The features, in the model's order: a call's fixed cost, then per image: dense and pointwise
#: GMACs, depthwise GMACs, the megabytes moved (weights once, activations per image), and the
#: number of layers.
FEATURES = ("call", "dense_gmacs", "depthwise_gmacs", "mbytes", "layers")
#: The part a call's fixed cost is shown under in per-part tables.
CALL_PART = "per call"

_VARIANT = re.compile(r"efficientnet_(b[0-8]|l2)")
_PHI = re.compile(
    r"efficientnet_phi(?P<phi>[-0-9.e+]+)_a(?P<a>[0-9.e+-]+)_b(?P<b>[0-9.e+-]+)_g(?P<g>[0-9.e+-]+)"
)
_MULTIPLIERS = re.compile(r"efficientnet_w(?P<w>[0-9.e+-]+)_d(?P<d>[0-9.e+-]+)")

__all__ = [
    "CALL_PART",
    "FEATURES",
    "network_features",
    "network_of",
    "network_of_spec",
    "part_features",
]


def network_of(model: str, resolution: int) -> ScaledNetwork | None:
    """The explorer's network for a stored model name (``zoo.models.spec``'s names) at
    ``resolution``; None for a timm peer or a name the explorer did not make."""
    from explorer import from_phi

    try:
        if match := _VARIANT.fullmatch(model):
            net = from_variant(match.group(1))
        elif match := _PHI.fullmatch(model):
            net = from_phi(*(float(match.group(k)) for k in ("phi", "a", "b", "g")))
        elif match := _MULTIPLIERS.fullmatch(model):
            net = from_multipliers(float(match.group("w")), float(match.group("d")), resolution)
        else:
            return None
        if net.resolution != resolution:
            net = from_multipliers(net.width_multiplier, net.depth_multiplier, resolution)
    except ValueError:
        return None
    return net


def network_of_spec(spec: ModelSpec) -> ScaledNetwork | None:
    """The explorer's network for ``spec`` (None for a timm peer)."""
    if spec.width_multiplier is None or spec.depth_multiplier is None:
        return None
    return from_multipliers(spec.width_multiplier, spec.depth_multiplier, spec.resolution)


def part_features(network: ScaledNetwork, batch: int, precision: str) -> dict[str, list[float]]:
    """Each part's feature vector for one call of ``batch`` images (the call's fixed cost is its
    own part, ``CALL_PART``)."""
    parts = {name: [0.0] * len(FEATURES) for name in part_names(network)}
    for cost in operator_costs(network):
        row = parts[cost.part]
        if cost.kind == "depthwise":
            row[2] += batch * cost.macs / 1e9
        else:
            row[1] += batch * cost.macs / 1e9
        row[3] += (cost.bytes_moved(precision, batch)) / 1e6
        row[4] += cost.layers
    parts[CALL_PART] = [1.0] + [0.0] * (len(FEATURES) - 1)
    return parts


def network_features(network: ScaledNetwork, batch: int, precision: str) -> list[float]:
    """The whole network's feature vector for one call of ``batch`` images."""
    total = [0.0] * len(FEATURES)
    for row in part_features(network, batch, precision).values():
        total = [a + b for a, b in zip(total, row, strict=True)]
    return total
