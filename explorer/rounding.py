"""Where rounding makes a scaled network differ from its multipliers, stage by stage.

Why: the reference code rounds each stage's repeats *up* (``ceil(d × r)``) and each width to a
multiple of 8 (never more than 10 % below the request), so a tiny φ can add a block to every
stage: φ = 0.01 turns B0's 16 blocks into 23 while d × 16 is 16.03. ``rounding_report`` says
what each quantity asked for and what it got; ``rounding_note`` says it in one paragraph when
rounding makes a big jump. The rules: docs/explorer.md, "Rounding jumps".
"""

from __future__ import annotations

from dataclasses import dataclass

from explorer.network import B0_STAGES, HEAD_CHANNELS, STEM_CHANNELS, ScaledNetwork
from explorer.scaling import BASE_RESOLUTION_PX

#: A stage's repeats are a jump when ``ceil`` adds at least this many blocks to d × r.
REPEATS_JUMP_BLOCKS = 0.5
#: Channels are a jump when rounding to a multiple of 8 adds at least this much to w × c.
CHANNELS_JUMP_PCT = 10.0
_EPS = 1e-9  # w = 1/1.1 asks for 14.5454… and gets 16: exactly +10 %, give or take a bit


@dataclass(frozen=True)
class Rounded:
    """One rounded quantity: B0's value, the exact multiplier × B0's value, and the result."""

    name: str  # "stage 3 repeats", "stem channels", …
    base: int  # B0's value
    multiplier: float  # d for repeats, w for channels
    exact: float  # multiplier × base, before rounding
    rounded: int  # what the network has

    @property
    def added(self) -> float:
        """What rounding added (negative: removed), in blocks or channels."""
        return self.rounded - self.exact

    @property
    def added_pct(self) -> float:
        """What rounding added, in % of the exact value."""
        return 100.0 * (self.rounded / self.exact - 1.0)


@dataclass(frozen=True)
class StageRounding:
    stage: int  # 1 … 7
    repeats: Rounded
    channels: Rounded  # output channels

    @property
    def repeats_jump(self) -> bool:
        return self.repeats.added >= REPEATS_JUMP_BLOCKS - _EPS


@dataclass(frozen=True)
class RoundingReport:
    """Every rounded quantity of a network against its exact multipliers (and B0's values)."""

    depth_multiplier: float
    width_multiplier: float
    stem: Rounded
    stages: tuple[StageRounding, ...]
    head: Rounded
    resolution: Rounded | None  # 224 × γ^φ → pixels; None when pixels were given

    @property
    def blocks(self) -> Rounded:
        """All blocks: d × 16 against the sum of the rounded-up repeats."""
        base = sum(s.repeats.base for s in self.stages)
        return Rounded(
            "blocks",
            base,
            self.depth_multiplier,
            self.depth_multiplier * base,
            sum(s.repeats.rounded for s in self.stages),
        )

    @property
    def repeat_jumps(self) -> tuple[StageRounding, ...]:
        """Stages whose ``ceil`` added half a block or more."""
        return tuple(s for s in self.stages if s.repeats_jump)

    @property
    def channel_jumps(self) -> tuple[Rounded, ...]:
        """Widths that rounding to a multiple of 8 raised by 10 % or more."""
        widths = (self.stem, *(s.channels for s in self.stages), self.head)
        return tuple(c for c in widths if c.added_pct >= CHANNELS_JUMP_PCT - _EPS)


def rounding_report(network: ScaledNetwork) -> RoundingReport:
    """What each stage's repeats and channels asked for (d × r, w × c) and what they got.

    >>> from explorer import scale_network
    >>> r = rounding_report(scale_network(1.2, 1.2, 224))
    >>> [(s.repeats.exact, s.repeats.rounded) for s in r.stages][:2]
    [(1.2, 2), (2.4, 3)]
    """
    d, w = network.depth_multiplier, network.width_multiplier
    stages = tuple(
        StageRounding(
            stage=scaled.index,
            repeats=Rounded(
                f"stage {scaled.index} repeats", spec.repeats, d, d * spec.repeats, scaled.repeats
            ),
            channels=Rounded(
                f"stage {scaled.index} channels",
                spec.out_channels,
                w,
                w * spec.out_channels,
                scaled.out_channels,
            ),
        )
        for spec, scaled in zip(B0_STAGES, network.stages, strict=True)
    )
    resolution = None
    if network.phi is not None and network.gamma is not None:
        r = network.gamma**network.phi
        resolution = Rounded(
            "resolution", BASE_RESOLUTION_PX, r, BASE_RESOLUTION_PX * r, network.resolution
        )
    return RoundingReport(
        depth_multiplier=d,
        width_multiplier=w,
        stem=Rounded("stem channels", STEM_CHANNELS, w, w * STEM_CHANNELS, network.stem_channels),
        stages=stages,
        head=Rounded("head channels", HEAD_CHANNELS, w, w * HEAD_CHANNELS, network.head_channels),
        resolution=resolution,
    )


def _stage_list(numbers: list[int]) -> str:
    """``[1, 2, 3, 4]`` → "Stages 1–4", ``[2, 5]`` → "Stages 2 and 5", ``[3]`` → "Stage 3"."""
    if len(numbers) == 1:
        return f"Stage {numbers[0]}"
    if len(numbers) >= 3 and numbers == list(range(numbers[0], numbers[-1] + 1)):
        return f"Stages {numbers[0]}–{numbers[-1]}"
    return "Stages " + ", ".join(map(str, numbers[:-1])) + f" and {numbers[-1]}"


def _repeats_sentence(report: RoundingReport) -> str:
    jumps = report.repeat_jumps
    d = report.depth_multiplier
    stages = _stage_list([s.stage for s in jumps])
    # The example: a stage of two or more blocks where there is one ("× 1" says little).
    example = max(jumps, key=lambda s: (s.repeats.base > 1, s.repeats.added)).repeats
    rule = (
        f"repeats are rounded up, never to the nearest: ceil({d:.5g} × {example.base} = "
        f"{example.exact:.4g}) = {example.rounded}"
    )
    if d > 1 and all(s.repeats.rounded == s.repeats.base + 1 for s in jumps):
        asked = sorted(s.repeats.exact - s.repeats.base for s in jumps)
        low, high = f"{asked[0]:.2g}", f"{asked[-1]:.2g}"
        span = low if low == high else f"{low}–{high}"
        each = " each" if len(jumps) > 1 else ""
        text = (
            f"{stages} gained a whole block{each} over B0 where the depth multiplier asks for "
            f"only {span} more: {rule}, so any depth above 1 (any φ > 0 when α > 1) adds it"
        )
    else:
        verb = "is" if len(jumps) == 1 else "are"
        text = f"{stages} {verb} rounded up by half a block or more: {rule}"
    blocks = report.blocks
    return (
        f"{text}. The network has {blocks.rounded} blocks where {d:.5g} × {blocks.base} = "
        f"{blocks.exact:.2f}; each added block brings its own params and MACs."
    )


def _channels_sentence(report: RoundingReport) -> str:
    jumps = report.channel_jumps
    shown = ", ".join(
        f"{c.name.removesuffix(' channels')} asks for {c.exact:.4g} and gets {c.rounded} "
        f"({c.added_pct:+.0f} %)"
        for c in jumps[:3]
    )
    more = f" (and {len(jumps) - 3} more)" if len(jumps) > 3 else ""
    return (
        "Channels are rounded to a multiple of 8 (at least 8), never more than 10 % below the "
        f"request: {shown}{more}."
    )


def rounding_note(report: RoundingReport) -> str | None:
    """One plain-language paragraph on the big rounding jumps, or None when there are none.

    >>> from explorer import scale_network
    >>> print(rounding_note(rounding_report(scale_network(1.0, 1.0, 224))))
    None
    """
    sentences = []
    if report.repeat_jumps:
        sentences.append(_repeats_sentence(report))
    if report.channel_jumps:
        sentences.append(_channels_sentence(report))
    return " ".join(sentences) or None


__all__ = [
    "CHANNELS_JUMP_PCT",
    "REPEATS_JUMP_BLOCKS",
    "Rounded",
    "RoundingReport",
    "StageRounding",
    "rounding_note",
    "rounding_report",
]
