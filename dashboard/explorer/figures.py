"""The explorer's plotly figures: the scaled network drawn to scale, the α^φ, β^φ, γ^φ curves
against the official variants, and the accuracy estimate's fit. MACs are multiply-accumulates.

Plain functions returning figures, so that they are tested without a browser over the whole
accepted range. How the numbers are computed: docs/explorer.md.
"""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go

from dashboard.explorer.state import PHI_MAX, PHI_MIN
from data import accuracy
from explorer import (
    BASE_RESOLUTION_PX,
    PUBLISHED_VARIANTS,
    ScaledNetwork,
    compound_multipliers,
    get_variant,
)
from explorer.estimate import AccuracyEstimate, LineFit

_GAP = 24  # horizontal gap between stage boxes, in channel units


def _box_layout(network: ScaledNetwork) -> list[dict[str, object]]:
    """Stem + seven stages as boxes: width = output channels, height = output resolution."""
    boxes: list[dict[str, object]] = [
        {
            "name": "stem",
            "channels": network.stem_channels,
            "px": network.stages[0].input_resolution,
            "repeats": 1,
            "text": "stem",
        }
    ]
    for s in network.stages:
        boxes.append(
            {
                "name": f"stage {s.index}",
                "channels": s.out_channels,
                "px": s.output_resolution,
                "repeats": s.repeats,
                "text": f"×{s.repeats}",
                "detail": f"{s.block} k{s.kernel}, stride {s.stride}",
                "macs": s.macs,
                "params": s.params,
            }
        )
    x = 0.0
    for box in boxes:
        box["x0"] = x
        x += float(box["channels"])  # type: ignore[arg-type]
        box["x1"] = x
        x += _GAP
    return boxes


def network_extent(network: ScaledNetwork) -> tuple[float, float]:
    """(total drawn width in channel units, tallest box in pixels) of ``network``'s picture."""
    boxes = _box_layout(network)
    return float(boxes[-1]["x1"]), float(max(b["px"] for b in boxes))  # type: ignore[arg-type]


def network_figure(network: ScaledNetwork, frame: tuple[float, float] | None = None) -> go.Figure:
    """The network drawn to scale: one box per stage, width by channels, height by resolution.

    Each stage box is split into as many slabs as it has blocks (repeats). ``frame`` fixes the
    axes (width in channels, height in pixels) so that moving φ visibly grows or shrinks the
    picture instead of being re-fitted to the same size.
    """
    boxes = _box_layout(network)
    width, height = frame or network_extent(network)
    width = max(width, float(boxes[-1]["x1"]))  # type: ignore[arg-type]
    height = max(height, float(max(b["px"] for b in boxes)))  # type: ignore[arg-type]
    centres = [(float(b["x0"]) + float(b["x1"])) / 2 for b in boxes]  # type: ignore[arg-type]
    heights = [float(b["px"]) for b in boxes]  # type: ignore[arg-type]
    hover = [
        f"{b['name']}<br>{b['channels']} channels × {b['px']}×{b['px']} px"
        f"<br>{b['repeats']} block(s)"
        + (
            f"<br>{b['detail']}<br>{b['macs']:,} MACs, {b['params']:,} params"
            if "macs" in b
            else ""
        )
        for b in boxes
    ]
    fig = go.Figure(
        go.Bar(
            x=centres,
            y=heights,
            base=[-h / 2 for h in heights],
            width=[float(b["channels"]) for b in boxes],  # type: ignore[arg-type]
            text=[str(b["text"]) for b in boxes],
            textposition="inside",
            insidetextanchor="middle",
            hovertext=hover,
            hoverinfo="text",
            marker={
                "color": ["#7f7f7f"] + ["#1f77b4"] * (len(boxes) - 1),
                "line": {"color": "#0b3c5d", "width": 1},
            },
            name="stages",
        )
    )
    # Block boundaries inside each stage: one vertical line between consecutive repeats.
    xs: list[float | None] = []
    ys: list[float | None] = []
    for b in boxes:
        n = int(b["repeats"])  # type: ignore[arg-type]
        x0, x1, h = float(b["x0"]), float(b["x1"]), float(b["px"])  # type: ignore[arg-type]
        for k in range(1, n):
            x = x0 + (x1 - x0) * k / n
            xs += [x, x, None]
            ys += [-h / 2, h / 2, None]
    fig.add_trace(
        go.Scatter(
            x=xs,
            y=ys,
            mode="lines",
            line={"color": "white", "width": 1},
            hoverinfo="skip",
            showlegend=False,
        )
    )
    fig.update_layout(
        title=(
            f"{network.label}: {network.total_blocks} blocks, {network.resolution} px input "
            "(box width = channels, height = feature-map size, slabs = blocks)"
        ),
        title_font_size=13,
        showlegend=False,
        height=400,
        margin={"l": 50, "r": 10, "t": 40, "b": 40},
        bargap=0,
        xaxis={
            "range": [-_GAP, width + _GAP],
            "title": "output channels (stages side by side)",
            "tickvals": centres,
            "ticktext": [str(b["name"]).replace("stage ", "S") for b in boxes],
        },
        yaxis={"range": [-height / 2 * 1.05, height / 2 * 1.05], "title": "feature map (px)"},
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
