"""The explorer's plotly figures: the scaled network drawn over B0's outline, the α^φ, β^φ, γ^φ
curves against the official variants, and the accuracy estimate's fit. MACs are
multiply-accumulates.

Plain functions returning figures, so that they are tested without a browser over the whole
accepted range. Why √ scales in the drawing: on linear ones B0's 16-channel and 7 px stages are
slivers. How the numbers are computed and how to read the drawing: docs/explorer.md.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import plotly.graph_objects as go

from dashboard.explorer.state import PHI_MAX, PHI_MIN
from data import accuracy
from explorer import (
    BASE_RESOLUTION_PX,
    PUBLISHED_VARIANTS,
    ScaledNetwork,
    compound_multipliers,
    from_variant,
    get_variant,
)
from explorer.estimate import AccuracyEstimate, LineFit
from explorer.rounding import rounding_report

_BOX_SHARE = 0.84  # the frame's widest box takes this share of its slot
_FONT_PX = 12  # every text of the drawing (legible on a 1400 px wide page)
_PX_TICKS = (7, 14, 28, 56, 112, 224, 448, 896, 1792)
_STEM, _STAGE, _EDGE, _B0, _GREY = "#9a9a9a", "#1f77b4", "#0b3c5d", "#303030", "#8a8a8a"
#: The B0 outline is fainter than the network drawn over it (a test compares the two).
NETWORK_OPACITY, B0_OPACITY = 0.9, 0.55


def _parts(network: ScaledNetwork) -> list[tuple[int, int, int]]:
    """(output channels, output px, blocks) of the stem and the seven stages, in order."""
    stem = (network.stem_channels, network.stages[0].input_resolution, 1)
    return [stem, *((s.out_channels, s.output_resolution, s.repeats) for s in network.stages)]


def network_extent(network: ScaledNetwork) -> tuple[float, float]:
    """(most channels, largest feature map in px) among ``network``'s boxes: a frame it fits."""
    parts = _parts(network)
    return float(max(p[0] for p in parts)), float(max(p[1] for p in parts))


def _geometry(network: ScaledNetwork, frame: tuple[float, float]) -> list[tuple[float, ...]]:
    """(x0, x1, height) of each box: slot i is centred on x = i, width ∝ √channels, height
    ∝ √px (the y axis is labelled in px)."""
    boxes = []
    for i, (channels, px, _) in enumerate(_parts(network)):
        half = _BOX_SHARE * math.sqrt(channels / frame[0]) / 2
        boxes.append((i - half, i + half, math.sqrt(px)))
    return boxes


def _versus(value: int, base: int) -> str:
    return "" if value == base else f' <span style="color:{_GREY}">(B0 {base})</span>'


def _label(network: ScaledNetwork, b0: ScaledNetwork, i: int) -> str:
    """The text under box ``i``: what it is, kernel, expansion, blocks, channels, px."""
    if i == 0:
        px, b0_px = network.stages[0].input_resolution, b0.stages[0].input_resolution
        lines = [
            "<b>Stem</b> Conv3x3",
            "k3×3 · stride 2",
            "×1 layer",
            f"{network.stem_channels} ch" + _versus(network.stem_channels, b0.stem_channels),
            f"{px}×{px} px" + _versus(px, b0_px),
        ]
    else:
        s, b = network.stages[i - 1], b0.stages[i - 1]
        px = s.output_resolution
        lines = [
            f"<b>Stage {s.index}</b> {s.block}",
            f"k{s.kernel}×{s.kernel} · expand {s.expand_ratio}",
            f"×{s.repeats} block{'s' if s.repeats > 1 else ''}" + _versus(s.repeats, b.repeats),
            f"{s.out_channels} ch" + _versus(s.out_channels, b.out_channels),
            f"{px}×{px} px" + _versus(px, b.output_resolution),
        ]
    return "<br>".join(lines)


def _hover(network: ScaledNetwork) -> list[str]:
    """Every box's full detail, with what rounding did to its repeats and channels."""
    report = rounding_report(network)
    px = network.stages[0].input_resolution
    texts = [
        f"<b>Stem</b>: Conv3x3, stride 2<br>channels 3 → {network.stem_channels} "
        f"(w × 32 = {report.stem.exact:.1f}, rounded to a multiple of 8)"
        f"<br>resolution {network.resolution} → {px} px"
        f"<br>params {network.stem.params:,} · MACs {network.stem.macs:,}"
    ]
    for s, r in zip(network.stages, report.stages, strict=True):
        texts.append(
            f"<b>Stage {s.index}</b>: {s.block} (expand {s.expand_ratio}, SE {s.se_ratio:g})"
            f"<br>kernel {s.kernel}×{s.kernel}, stride {s.stride} (first block)"
            f"<br>{s.repeats} blocks = ceil({r.repeats.multiplier:.4g} × {r.repeats.base} = "
            f"{r.repeats.exact:.3f})"
            f"<br>channels {s.in_channels} → {s.out_channels} "
            f"(w × {r.channels.base} = {r.channels.exact:.1f}, rounded to a multiple of 8)"
            f"<br>resolution {s.input_resolution} → {s.output_resolution} px"
            f"<br>params {s.params:,} · MACs {s.macs:,}"
        )
    return texts


def network_figure(network: ScaledNetwork, frame: tuple[float, float] | None = None) -> go.Figure:
    """The network as eight labelled boxes (stem, stages 1–7) over B0's dashed outline.

    Each box sits in a fixed slot; its width grows with √channels, its height with √feature-map
    size, and it holds one slab per block. ``frame`` (most channels, largest px) fixes both
    scales, so a larger φ draws larger boxes; a network larger than the frame widens it.
    """
    b0 = from_variant("b0")
    extents = [network_extent(network), network_extent(b0), *([frame] if frame else [])]
    frame = (max(e[0] for e in extents), max(e[1] for e in extents))
    boxes, outline = _geometry(network, frame), _geometry(b0, frame)
    fig = go.Figure(
        go.Bar(
            x=list(range(len(boxes))),
            y=[h for _, _, h in boxes],
            width=[x1 - x0 for x0, x1, _ in boxes],
            hovertext=_hover(network),
            hoverinfo="text",
            marker={
                "color": [_STEM] + [_STAGE] * (len(boxes) - 1),
                "line": {"color": _EDGE, "width": 1},
            },
            opacity=NETWORK_OPACITY,
            name="this configuration",
        )
    )
    xs: list[float | None] = []  # one white line between consecutive blocks of a stage
    ys: list[float | None] = []
    for (x0, x1, h), (_, _, blocks) in zip(boxes, _parts(network), strict=True):
        for k in range(1, blocks):
            xs += [x0 + (x1 - x0) * k / blocks] * 2 + [None]
            ys += [0.0, h, None]
    fig.add_trace(
        go.Scatter(
            x=xs,
            y=ys,
            mode="lines",
            line={"color": "white", "width": 1.2},
            hoverinfo="skip",
            showlegend=False,
            name="blocks",
        )
    )
    xs, ys = [], []
    for x0, x1, h in outline:
        xs += [x0, x0, x1, x1, x0, None]
        ys += [0.0, h, h, 0.0, 0.0, None]
    fig.add_trace(
        go.Scatter(
            x=xs,
            y=ys,
            mode="lines",
            line={"color": _B0, "width": 2, "dash": "dash"},
            opacity=B0_OPACITY,
            hoverinfo="skip",
            name="B0 (dashed outline)",
        )
    )
    for i in range(len(boxes)):
        fig.add_annotation(
            x=i,
            y=0,
            yanchor="top",
            yshift=-6,
            showarrow=False,
            align="center",
            text=_label(network, b0, i),
            font={"size": _FONT_PX},
        )
    ticks = [t for t in _PX_TICKS if t <= frame[1]]
    fig.update_layout(
        title={
            "text": f"<b>{network.label}</b>: {network.total_blocks} blocks, "
            f"{network.resolution}×{network.resolution} px input, head {network.head_channels} ch",
            "x": 0.01,
            "font": {"size": 15},
            "subtitle": {
                "text": "width ∝ √channels, height ∝ √feature-map size, one slab per block; "
                "dashed: B0; the frame stays fixed as φ moves",
                "font": {"size": _FONT_PX},
            },
        },
        font={"size": _FONT_PX},
        height=520,
        margin={"l": 60, "r": 10, "t": 75, "b": 100},
        legend={
            "x": 0.995,
            "xanchor": "right",
            "y": 0.99,
            "yanchor": "top",
            "bgcolor": "rgba(255,255,255,0.85)",
            "font": {"size": _FONT_PX},
        },
        xaxis={
            "range": [-0.5, len(boxes) - 0.5],
            "showticklabels": False,
            "showgrid": False,
            "zeroline": False,
            "fixedrange": True,
        },
        yaxis={
            "range": [0, math.sqrt(frame[1]) * 1.04],
            "tickvals": [math.sqrt(t) for t in ticks],
            "ticktext": [str(t) for t in ticks],
            "title": "output feature map (px, √ scale)",
            "fixedrange": True,
            "tickfont": {"size": _FONT_PX},
        },
    )
    return fig


def formula_figure(
    alpha: float,
    beta: float,
    gamma: float,
    phi: float,
    phi_range: tuple[float, float] = (PHI_MIN, PHI_MAX),
    variants: Sequence[str] = PUBLISHED_VARIANTS,
) -> go.Figure:
    """α^φ, β^φ, γ^φ over φ with the official B0–B7 multipliers at φ = 0 … 7."""
    lo, hi = phi_range
    steps = 110
    phis = [lo + (hi - lo) * i / steps for i in range(steps + 1)]
    depth, width, res = [], [], []
    for p in phis:
        m = compound_multipliers(p, alpha, beta, gamma)
        depth.append(m.depth)
        width.append(m.width)
        res.append(m.resolution)
    colours = {"depth": "#1f77b4", "width": "#ff7f0e", "resolution": "#2ca02c"}
    fig = go.Figure()
    for name, values, symbol in (
        ("depth α^φ", depth, "depth"),
        ("width β^φ", width, "width"),
        ("resolution γ^φ", res, "resolution"),
    ):
        fig.add_trace(
            go.Scatter(
                x=phis,
                y=values,
                mode="lines",
                name=name,
                line={"color": colours[symbol]},
            )
        )
    official = [get_variant(v) for v in variants]
    ks = list(range(len(official)))
    for name, values, symbol in (
        ("official depth", [v.depth_multiplier for v in official], "depth"),
        ("official width", [v.width_multiplier for v in official], "width"),
        (
            "official resolution",
            [v.resolution / BASE_RESOLUTION_PX for v in official],
            "resolution",
        ),
    ):
        fig.add_trace(
            go.Scatter(
                x=ks,
                y=values,
                mode="markers+text",
                name=name,
                text=[v.variant.upper() for v in official],
                textposition="top center",
                textfont={"size": 9},
                marker={
                    "color": colours[symbol],
                    "size": 9,
                    "symbol": "diamond",
                    "line": {"color": "black", "width": 1},
                },
            )
        )
    fig.add_vline(x=phi, line_dash="dot", line_color="black", annotation_text=f"φ={phi:g}")
    fig.update_layout(
        height=360,
        margin={"l": 50, "r": 10, "t": 30, "b": 40},
        xaxis_title="compound coefficient φ (official Bk drawn at φ = k)",
        yaxis_title="multiplier relative to B0",
        legend={"orientation": "h", "y": -0.25},
    )
    return fig


def estimate_figure(fit: LineFit, estimate: AccuracyEstimate) -> go.Figure:
    """Published B0–B7 top-1 against MACs, the fitted line, and the current estimate.

    The points are the fit's: the compare page's "Paper (Table 2)" set (``ESTIMATE_VIEW``).
    """
    lo, hi = fit.macs_range
    lo = min(lo, estimate.macs) / 1.3
    hi = max(hi, estimate.macs) * 1.3
    xs = [lo * (hi / lo) ** (i / 40) for i in range(41)]
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=[p.macs / 1e9 for p in fit.points],
            y=[p.top1_pct for p in fit.points],
            mode="markers+text",
            text=[p.variant.upper() for p in fit.points],
            textposition="top left",
            name=f"{accuracy.get_view(accuracy.ESTIMATE_VIEW).label}: B0–B7, arXiv v5",
            marker={"size": 9, "color": "#1f77b4"},
        )
    )
    fig.add_trace(
        go.Scatter(
            x=[x / 1e9 for x in xs],
            y=[fit.predict(x) for x in xs],
            mode="lines",
            name="least-squares fit",
            line={"dash": "dash", "color": "#7f7f7f"},
        )
    )
    fig.add_trace(
        go.Scatter(
            x=[estimate.macs / 1e9],
            y=[estimate.top1_pct],
            mode="markers",
            name="this configuration (estimate)",
            marker={"size": 13, "color": "#d62728", "symbol": "star"},
            error_y={"type": "constant", "value": estimate.loo_rmse_pct, "visible": True},
        )
    )
    fig.update_layout(
        height=320,
        margin={"l": 50, "r": 10, "t": 30, "b": 40},
        xaxis={"type": "log", "title": "GMACs (multiply-accumulates; FLOPs = 2 × MACs)"},
        yaxis_title="ImageNet top-1 (%)",
        legend={"orientation": "h", "y": -0.3},
    )
    return fig
