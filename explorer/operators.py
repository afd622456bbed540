"""Where a scaled network's work lies: per part (stem, stages 1–7, head) and per operator kind,
its MACs, weights and activation traffic, exactly and without torch.

Why kinds and bytes, not MACs alone: a depthwise convolution or a squeeze-excitation does few
MACs per byte it moves, so on real hardware MACs predict latency badly (docs/latency-model.md).
Inference runtimes fold BatchNorm and fuse activations into the convolution before them, so
neither is an operator here; the SE gating multiply and residual additions move bytes only.
"""

from __future__ import annotations

from dataclasses import dataclass

from explorer.network import ScaledNetwork, StageSpec, _conv_out, _se_cost
from explorer.scaling import make_divisible

#: The operator kinds, in the order tables show them.
OPERATOR_KINDS = ("conv", "pointwise", "depthwise", "se", "other")
#: What each kind is.
KIND_MEANING = {
    "conv": "dense 3×3 convolution (the stem)",
    "pointwise": "1×1 convolutions (expansion, projection, head) and the classifier",
    "depthwise": "depthwise k×k convolutions",
    "se": "squeeze-excitation (pool, two 1×1 convolutions, gating multiply)",
    "other": "residual additions and the global pooling",
}
#: Bytes per element a precision moves (int8 weights and activations are one byte each).
BYTES_PER_ELEMENT = {"fp32": 4, "bf16": 2, "fp16": 2, "int8": 1}

__all__ = [
    "BYTES_PER_ELEMENT",
    "KIND_MEANING",
    "OPERATOR_KINDS",
    "OperatorCost",
    "operator_costs",
    "part_names",
]


@dataclass(frozen=True)
class OperatorCost:
    """One operator kind within one part of the network, summed over its layers (per image)."""

    part: str  # "stem", "stage 1" … "stage 7", "head"
    kind: str  # one of OPERATOR_KINDS
    layers: int
    macs: int
    weight_elements: int
    activation_elements: int  # elements read and written (inputs + outputs)

    def bytes_moved(self, precision: str = "fp32", batch: int = 1) -> int:
        """Weights once plus activations per image, at ``precision``'s element size."""
        size = BYTES_PER_ELEMENT[precision]
        return size * (self.weight_elements + batch * self.activation_elements)


class _Tally:
    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], list[int]] = {}

    def add(self, part: str, kind: str, macs: int, weights: int, activations: int) -> None:
        row = self.rows.setdefault((part, kind), [0, 0, 0, 0])
        row[0] += 1
        row[1] += macs
        row[2] += weights
        row[3] += activations

    def costs(self) -> tuple[OperatorCost, ...]:
        return tuple(OperatorCost(p, k, *values) for (p, k), values in self.rows.items())


def _block(
    tally: _Tally, part: str, spec: StageSpec, in_ch: int, out_ch: int, stride: int, size: int
) -> int:
    """One MBConv block's operators (the same channel arithmetic as ``explorer.network``)."""
    size_out = _conv_out(size, stride)
    area_in, area_out = size * size, size_out * size_out
    k2 = spec.kernel * spec.kernel
    mid = in_ch
    if spec.expand_ratio != 1:
        mid = make_divisible(in_ch * float(spec.expand_ratio))
        tally.add(part, "pointwise", in_ch * mid * area_in, in_ch * mid, (in_ch + mid) * area_in)
        reduced = round(mid * (spec.se_ratio / float(spec.expand_ratio)))
    else:
        reduced = round(in_ch * (spec.se_ratio / 1.0))
    tally.add(part, "depthwise", mid * k2 * area_out, mid * k2, mid * (area_in + area_out))
    se = _se_cost(mid, reduced)
    # Pool reads the map; the gate multiply reads it and writes it; the two convs are tiny.
    tally.add(part, "se", se.macs, se.params, 3 * mid * area_out + 2 * (mid + reduced))
    project = mid * out_ch
    tally.add(part, "pointwise", project * area_out, project, (mid + out_ch) * area_out)
    if stride == 1 and in_ch == out_ch:
        tally.add(part, "other", 0, 0, 3 * out_ch * area_out)
    return size_out


def operator_costs(network: ScaledNetwork) -> tuple[OperatorCost, ...]:
    """Every (part, kind) of ``network`` with its layers, MACs, weights and activations.

    >>> from explorer.configs import from_variant
    >>> b0 = from_variant("b0")
    >>> sum(c.macs for c in operator_costs(b0)) == b0.macs
    True
    """
    from explorer.network import B0_STAGES, IMAGE_CHANNELS

    tally = _Tally()
    res, stem = network.resolution, network.stem_channels
    size = _conv_out(res, 2)
    tally.add(
        "stem", "conv", network.stem.macs, IMAGE_CHANNELS * stem * 9,
        IMAGE_CHANNELS * res * res + stem * size * size,
    )  # fmt: skip
    in_ch = stem
    for spec, stage in zip(B0_STAGES, network.stages, strict=True):
        part = f"stage {stage.index}"
        for block in range(stage.repeats):
            stride = spec.stride if block == 0 else 1
            size = _block(tally, part, spec, in_ch, stage.out_channels, stride, size)
            in_ch = stage.out_channels
    head = network.head_channels
    tally.add("head", "pointwise", network.head.macs, in_ch * head, (in_ch + head) * size * size)
    tally.add("head", "other", 0, 0, head * size * size + head)
    classes = network.num_classes
    tally.add(
        "head", "pointwise", network.classifier.macs, head * classes + classes, head + classes
    )
    return tally.costs()


def part_names(network: ScaledNetwork) -> tuple[str, ...]:
    """The parts in network order: stem, stage 1 … stage 7, head."""
    return ("stem", *(f"stage {s.index}" for s in network.stages), "head")
