"""What the latency model sees of a network: per part (stem, stages, head), the work of each
operator kind from the explorer's exact network (``explorer.operators``), never MACs alone.

Why these five: dense and pointwise convolutions run near the machine's compute ceiling, a
depthwise convolution, SE and the residual additions near its memory ceiling, and each layer
costs a runtime some fixed dispatch time (docs/latency-model.md, 'Features').
"""

from __future__ import annotations

from explorer import ScaledNetwork
from explorer.operators import operator_costs, part_names

#: The features, in the model's order: a call's fixed cost, then per image: dense and pointwise
#: GMACs, depthwise GMACs, the megabytes moved (weights once, activations per image), and the
#: number of layers.
FEATURES = ("call", "dense_gmacs", "depthwise_gmacs", "mbytes", "layers")
#: The part a call's fixed cost is shown under in per-part tables.
CALL_PART = "per call"

__all__ = [
    "CALL_PART",
    "FEATURES",
    "network_features",
    "part_features",
]


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
