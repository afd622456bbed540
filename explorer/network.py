"""The scaled network: B0's stage table (paper Table 1) scaled by width, depth and resolution.

Following timm and torchvision, the network is a 7-row table of ``StageSpec`` scaled *before*
any layer exists: ``scale_network`` returns a ``ScaledNetwork`` with per-stage channels, repeats,
resolutions, parameters and multiply-accumulates (MACs), computed exactly and without torch.

What is counted (the same convention as ptflops' aten backend, the paper and timm's "GMACs"):

* parameters: every learnable tensor of timm's ``EfficientNet`` (conv weights, BatchNorm weight
  and bias, SE conv weights and biases, classifier weight and bias); BatchNorm running
  statistics are buffers, not parameters (Keras counts them, hence its larger numbers);
* MACs: one per weight element per output position of every convolution (stem, expansion,
  depthwise, SE reduce/expand, projection, head), plus one per output element of a biased layer,
  plus the classifier (in × out + out). BatchNorm, activations, the SE gating multiply, pooling
  and residual additions are not counted. FLOPs, where shown, are 2 × MACs.
"""

from __future__ import annotations

from dataclasses import dataclass

from explorer.scaling import (
    BASE_RESOLUTION_PX,
    MAX_DEPTH_MULTIPLIER,
    MAX_RESOLUTION_PX,
    MAX_WIDTH_MULTIPLIER,
    MIN_MULTIPLIER,
    MIN_RESOLUTION_PX,
    ScalingError,
    check_positive,
    make_divisible,
    round_channels,
    round_repeats,
)

NUM_CLASSES = 1000
STEM_CHANNELS = 32  # paper Table 1, stage 1: Conv3x3, 32 channels, stride 2
HEAD_CHANNELS = 1280  # paper Table 1, stage 9: Conv1x1 & Pooling & FC, 1280 channels
IMAGE_CHANNELS = 3


@dataclass(frozen=True)
class StageSpec:
    """One row of B0 (paper Table 1; tf ``_DEFAULT_BLOCKS_ARGS``; timm ``arch_def``)."""

    block: str  # "MBConv1" (depthwise-separable, no expansion) or "MBConv6" (inverted residual)
    kernel: int
    stride: int  # of the stage's first block; the others have stride 1
    expand_ratio: int
    se_ratio: float  # squeeze-excitation reduction, relative to the block's *input* channels
    out_channels: int
    repeats: int


#: EfficientNet-B0 (paper Table 1, stages 2–8).
B0_STAGES: tuple[StageSpec, ...] = (
    StageSpec("MBConv1", 3, 1, 1, 0.25, 16, 1),
    StageSpec("MBConv6", 3, 2, 6, 0.25, 24, 2),
    StageSpec("MBConv6", 5, 2, 6, 0.25, 40, 2),
    StageSpec("MBConv6", 3, 2, 6, 0.25, 80, 3),
    StageSpec("MBConv6", 5, 1, 6, 0.25, 112, 3),
    StageSpec("MBConv6", 5, 2, 6, 0.25, 192, 4),
    StageSpec("MBConv6", 3, 1, 6, 0.25, 320, 1),
)


@dataclass(frozen=True)
class LayerCost:
    params: int
    macs: int


@dataclass(frozen=True)
class ScaledStage:
    """One stage of a scaled network, with its cost summed over all its blocks."""

    index: int  # 1-based stage number among the 7 MBConv stages (paper Table 1 stages 2–8)
    block: str
    kernel: int
    stride: int
    expand_ratio: int
    se_ratio: float
    in_channels: int
    out_channels: int
    repeats: int
    input_resolution: int
    output_resolution: int
    params: int
    macs: int
    # Largest activation the stage holds at once, in elements per image (the expanded tensor):
    # the zoo uses it to estimate memory before building anything.
    peak_activation_elements: int


@dataclass(frozen=True)
class ScaledNetwork:
    """An EfficientNet scaled by width, depth and resolution, described exactly."""

    phi: float | None  # None unless built from φ with α, β, γ
    alpha: float | None
    beta: float | None
    gamma: float | None
    variant: str | None  # "b0" … "l2" when this is an official configuration
    depth_multiplier: float
    width_multiplier: float
    resolution_multiplier: float  # resolution / 224
    resolution: int  # input pixels (square)
    stem_channels: int
    head_channels: int
    num_classes: int
    stages: tuple[ScaledStage, ...]
    stem: LayerCost
    head: LayerCost  # 1×1 conv + BatchNorm
    classifier: LayerCost
    params: int
    macs: int
    peak_activation_elements: int

    @property
    def flops(self) -> int:
        """FLOPs as hardware people count them: 2 × MACs."""
        return 2 * self.macs

    @property
    def total_blocks(self) -> int:
        return sum(stage.repeats for stage in self.stages)

    @property
    def label(self) -> str:
        if self.variant:
            return f"efficientnet-{self.variant}"
        if self.phi is not None:
            return f"phi={self.phi:g} (a={self.alpha:g}, b={self.beta:g}, g={self.gamma:g})"
        return f"w={self.width_multiplier:g} d={self.depth_multiplier:g} r={self.resolution}px"


def _conv_out(size: int, stride: int) -> int:
    # "same"-style padding (timm's symmetric k//2 padding and TF SAME agree here): ceil(size/s).
    return -(-size // stride)


def _bn(channels: int) -> int:
    return 2 * channels  # weight and bias; running mean/var are buffers


def _se_cost(channels: int, reduced: int) -> LayerCost:
    # Two biased 1×1 convs on a 1×1 pooled map: weights + one MAC per biased output.
    params = channels * reduced + reduced + reduced * channels + channels
    return LayerCost(params=params, macs=params)


def _block_cost(
    spec: StageSpec, in_ch: int, out_ch: int, stride: int, size_in: int
) -> tuple[LayerCost, int, int]:
    """Params, MACs, output size and peak activation (elements) of one block."""
    size_out = _conv_out(size_in, stride)
    area_in, area_out = size_in * size_in, size_out * size_out
    k2 = spec.kernel * spec.kernel
    if spec.expand_ratio == 1:
        # Depthwise-separable block (timm DepthwiseSeparableConv): dw → BN → SE → pw → BN.
        reduced = round(in_ch * (spec.se_ratio / 1.0))
        se = _se_cost(in_ch, reduced)
        params = in_ch * k2 + _bn(in_ch) + se.params + in_ch * out_ch + _bn(out_ch)
        macs = in_ch * k2 * area_out + se.macs + in_ch * out_ch * area_out
        peak = in_ch * area_in + in_ch * area_out
    else:
        # Inverted residual (timm InvertedResidual): pw expand → BN → dw → BN → SE → pw → BN.
        # timm derives SE width from the block input: rd_ratio = se_ratio / expand_ratio applied
        # to the expanded channels; the float operations are kept identical to timm's.
        mid = make_divisible(in_ch * float(spec.expand_ratio))
        reduced = round(mid * (spec.se_ratio / float(spec.expand_ratio)))
        se = _se_cost(mid, reduced)
        params = (
            in_ch * mid + _bn(mid) + mid * k2 + _bn(mid) + se.params + mid * out_ch + _bn(out_ch)
        )
        macs = in_ch * mid * area_in + mid * k2 * area_out + se.macs + mid * out_ch * area_out
        peak = mid * area_in + mid * area_out
    return LayerCost(params, macs), size_out, peak


def _check_multipliers(width: float, depth: float, resolution: int) -> None:
    if not MIN_MULTIPLIER <= width <= MAX_WIDTH_MULTIPLIER:
        raise ScalingError(
            f"width multiplier {width:.6g} is out of range: accepted "
            f"{MIN_MULTIPLIER:g} to {MAX_WIDTH_MULTIPLIER:g} (B7 is 2.0, L2 is 4.3)"
        )
    if not MIN_MULTIPLIER <= depth <= MAX_DEPTH_MULTIPLIER:
        raise ScalingError(
            f"depth multiplier {depth:.6g} is out of range: accepted "
            f"{MIN_MULTIPLIER:g} to {MAX_DEPTH_MULTIPLIER:g} (B7 is 3.1, L2 is 5.3)"
        )
    if not MIN_RESOLUTION_PX <= resolution <= MAX_RESOLUTION_PX:
        raise ScalingError(
            f"resolution {resolution} px is out of range: accepted {MIN_RESOLUTION_PX} to "
            f"{MAX_RESOLUTION_PX} px (B0 is 224, B7 is 600)"
        )


def scale_network(
    width_multiplier: float,
    depth_multiplier: float,
    resolution: int,
    *,
    phi: float | None = None,
    alpha: float | None = None,
    beta: float | None = None,
    gamma: float | None = None,
    variant: str | None = None,
    num_classes: int = NUM_CLASSES,
) -> ScaledNetwork:
    """Scale B0 by explicit width and depth multipliers at ``resolution`` pixels.

    >>> b0 = scale_network(1.0, 1.0, 224)
    >>> b0.params, b0.total_blocks, [s.out_channels for s in b0.stages]
    (5288548, 16, [16, 24, 40, 80, 112, 192, 320])
    """
    width = check_positive("width multiplier", width_multiplier)
    depth = check_positive("depth multiplier", depth_multiplier)
    if isinstance(resolution, bool) or not isinstance(resolution, int):
        res_float = check_positive("resolution", resolution)
        if res_float != int(res_float):
            raise ScalingError(f"resolution must be a whole number of pixels, got {resolution}")
        resolution = int(res_float)
    _check_multipliers(width, depth, resolution)
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ScalingError(f"num_classes must be a positive integer, got {num_classes!r}")

    stem_ch = round_channels(STEM_CHANNELS, width)
    size = _conv_out(resolution, 2)
    stem = LayerCost(
        params=IMAGE_CHANNELS * stem_ch * 9 + _bn(stem_ch),
        macs=IMAGE_CHANNELS * stem_ch * 9 * size * size,
    )
    peak = IMAGE_CHANNELS * resolution * resolution + stem_ch * size * size

    stages: list[ScaledStage] = []
    in_ch = stem_ch
    for index, spec in enumerate(B0_STAGES, start=1):
        out_ch = round_channels(spec.out_channels, width)
        repeats = round_repeats(spec.repeats, depth)
        size_in = size
        params = macs = stage_peak = 0
        block_in = in_ch
        for block_index in range(repeats):
            stride = spec.stride if block_index == 0 else 1
            cost, size, block_peak = _block_cost(spec, block_in, out_ch, stride, size)
            params += cost.params
            macs += cost.macs
            stage_peak = max(stage_peak, block_peak)
            block_in = out_ch
        stages.append(
            ScaledStage(
                index=index,
                block=spec.block,
                kernel=spec.kernel,
                stride=spec.stride,
                expand_ratio=spec.expand_ratio,
                se_ratio=spec.se_ratio,
                in_channels=in_ch,
                out_channels=out_ch,
                repeats=repeats,
                input_resolution=size_in,
                output_resolution=size,
                params=params,
                macs=macs,
                peak_activation_elements=stage_peak,
            )
        )
        peak = max(peak, stage_peak)
        in_ch = out_ch

    head_ch = round_channels(HEAD_CHANNELS, width)
    head = LayerCost(params=in_ch * head_ch + _bn(head_ch), macs=in_ch * head_ch * size * size)
    peak = max(peak, (in_ch + head_ch) * size * size)
    classifier = LayerCost(
        params=head_ch * num_classes + num_classes, macs=head_ch * num_classes + num_classes
    )
    return ScaledNetwork(
        phi=phi,
        alpha=alpha,
        beta=beta,
        gamma=gamma,
        variant=variant,
        depth_multiplier=depth,
        width_multiplier=width,
        resolution_multiplier=resolution / BASE_RESOLUTION_PX,
        resolution=resolution,
        stem_channels=stem_ch,
        head_channels=head_ch,
        num_classes=num_classes,
        stages=tuple(stages),
        stem=stem,
        head=head,
        classifier=classifier,
        params=stem.params + sum(s.params for s in stages) + head.params + classifier.params,
        macs=stem.macs + sum(s.macs for s in stages) + head.macs + classifier.macs,
        peak_activation_elements=peak,
    )


def network_summary(network: ScaledNetwork) -> dict[str, object]:
    """A JSON-ready dict: the CLI's output schema, also used by the dashboard and the zoo."""
    return {
        "label": network.label,
        "variant": network.variant,
        "phi": network.phi,
        "alpha": network.alpha,
        "beta": network.beta,
        "gamma": network.gamma,
        "depth_multiplier": network.depth_multiplier,
        "width_multiplier": network.width_multiplier,
        "resolution_multiplier": network.resolution_multiplier,
        "resolution": network.resolution,
        "stem_channels": network.stem_channels,
        "head_channels": network.head_channels,
        "num_classes": network.num_classes,
        "total_blocks": network.total_blocks,
        "params": network.params,
        "macs": network.macs,
        "flops": network.flops,
        "peak_activation_elements": network.peak_activation_elements,
        "stem": {"params": network.stem.params, "macs": network.stem.macs},
        "head": {"params": network.head.params, "macs": network.head.macs},
        "classifier": {"params": network.classifier.params, "macs": network.classifier.macs},
        "stages": [
            {
                "stage": s.index,
                "block": s.block,
                "kernel": s.kernel,
                "stride": s.stride,
                "expand_ratio": s.expand_ratio,
                "se_ratio": s.se_ratio,
                "in_channels": s.in_channels,
                "out_channels": s.out_channels,
                "repeats": s.repeats,
                "input_resolution": s.input_resolution,
                "output_resolution": s.output_resolution,
                "params": s.params,
                "macs": s.macs,
            }
            for s in network.stages
        ],
    }
