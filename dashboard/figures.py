"""plotly figures for the dashboard, built from plain values (no streamlit, no torch).

Every axis that shows a cost names its unit: MACs are multiply-accumulates (the paper's and
timm's "FLOPs"); FLOPs, where shown, are 2 × MACs.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

import pandas as pd
import plotly.graph_objects as go

import data
from dashboard.state import PHI_MAX, PHI_MIN
from data import accuracy
from explorer import (
    BASE_RESOLUTION_PX,
    PUBLISHED_VARIANTS,
    ScaledNetwork,
    compound_multipliers,
    get_variant,
)
from explorer.estimate import AccuracyEstimate, LineFit

# plotly's D3 colours, in the order of ``data.family_labels()``.
_PALETTE = (
    "#9467bd",
    "#bcbd22",
    "#17becf",
    "#1f77b4",
    "#2ca02c",
    "#e377c2",
    "#ff7f0e",
    "#d62728",
    "#8c564b",
    "#7f7f7f",
)
#: One colour per model family label, stable across charts.
FAMILY_COLOURS: dict[str, str] = dict(zip(data.family_labels(), _PALETTE, strict=False))
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


#: x-axis choices of the compare scatter: column, title, log axis.
COMPARE_AXES: dict[str, tuple[str, str]] = {
    "latency": ("latency_ms", "latency (ms, median, this machine; log scale)"),
    "macs": ("gmacs", "GMACs per image (multiply-accumulates; log scale)"),
    "params": ("params_m", "parameters (millions; log scale)"),
}


def compare_figure(
    frame: pd.DataFrame,
    axis: str = "latency",
    overlay: pd.DataFrame | None = None,
    *,
    batch_size: int = 1,
    accuracy_column: str = "top1_pct",
    user: pd.DataFrame | None = None,
    user_in_pareto: bool = False,
) -> go.Figure:
    """Top-1 against latency, MACs or params (log x), coloured by family, Pareto front drawn.

    ``user`` (``dashboard.configs.user_frame``) adds the user's own configurations as a series
    of their own: top-1 is the explorer's *estimate*, drawn with its leave-one-out RMSE as a
    vertical error bar and labelled so; they join the Pareto front only when ``user_in_pareto``.
    A point measured on a busy machine (``quality`` "noisy") is drawn hollow and says why. The
    axes are fitted to what is drawn.

    ``accuracy_column`` is the y axis: the published ``top1_pct`` of the accuracy view, or
    ``own_top1_pct``, the top-1 on the user's labelled folder (``tables.own_accuracy_reference``),
    in which case the axis, the legend and every hover name that folder and its image count.

    ``frame`` holds one accuracy view (``tables.reference_frame``): the Pareto front is computed
    over its plotted points only. The legend's title names the view, its sources and its training
    data; a point with extra training data has its own marker and legend entry. Each hover names
    the source, checkpoint, training data and recipe, and says when the accuracy and the latency
    are not from the same network at the same input size. ``overlay``
    (``tables.published_gpu_frame``) adds timm's published GPU throughput as a separate series,
    in ms per image within a large AMP batch.
    """
    from dashboard.tables import pareto_mask

    column, title = COMPARE_AXES[axis]
    if axis == "latency" and batch_size != 1:
        title = f"latency per batch of {batch_size} (ms, median, this machine; log scale)"
    y = accuracy_column
    own = y != "top1_pct"
    points = frame[frame[column].notna() & frame[y].notna()]
    mixed = points["training_data"].nunique() > 1
    fig = go.Figure()
    for (family, training), group in points.groupby(["family", "training_data"], sort=False):
        fig.add_trace(
            go.Scatter(
                x=group[column],
                y=group[y],
                mode="markers+text",
                name=f"{family} · {training}" if mixed else str(family),
                text=[_short(m) for m in group["model"]],
                textposition="top center",
                textfont={"size": 9},
                hovertext=[_compare_hover(r, own) for r in group.itertuples()],
                hoverinfo="text",
                marker={
                    "size": 10,
                    "color": FAMILY_COLOURS.get(str(family), "#333333"),
                    "symbol": [
                        TRAINING_DATA_SYMBOLS.get(str(training), "circle")
                        + ("-open" if noisy else "")
                        for noisy in _noisy(group)
                    ],
                    "line": {"width": 2, "color": FAMILY_COLOURS.get(str(family), "#333333")},
                },
            )
        )
    mine = pd.DataFrame()
    if user is not None and not own and column in user.columns:
        mine = user[user[column].notna()]
    if not mine.empty:
        fig.add_trace(
            go.Scatter(
                x=mine[column],
                y=mine["top1_estimate_pct"],
                error_y={
                    "type": "data",
                    "array": list(mine["top1_loo_rmse_pct"]),
                    "visible": True,
                    "color": USER_COLOUR,
                },
                mode="markers+text",
                name="your configurations (top-1: explorer estimate ± leave-one-out RMSE)",
                text=list(mine["label"]),
                textposition="bottom center",
                textfont={"size": 9, "color": USER_COLOUR},
                hovertext=[_user_hover(r, axis) for r in mine.itertuples()],
                hoverinfo="text",
                marker={
                    "size": 12,
                    "color": USER_COLOUR,
                    "symbol": ["star-open" if q == "noisy" else "star" for q in mine["quality"]],
                    "line": {"width": 2, "color": USER_COLOUR},
                },
            )
        )
    ranked = points[[column, y]].rename(columns={y: "_y"})
    if user_in_pareto and not mine.empty:
        ranked = pd.concat(
            [
                ranked,
                mine[[column, "top1_estimate_pct"]].rename(columns={"top1_estimate_pct": "_y"}),
            ]
        )
    if len(ranked) >= 2:
        mask = pareto_mask(list(ranked[column]), list(ranked["_y"]))
        front = ranked[mask].sort_values(column).rename(columns={"_y": y})
        fig.add_trace(
            go.Scatter(
                x=front[column],
                y=front[y],
                mode="lines",
                name="Pareto front"
                + (" (with your estimates)" if user_in_pareto and not mine.empty else ""),
                line={"color": "black", "dash": "dot", "shape": "hv"},
                hoverinfo="skip",
            )
        )
    # The published overlay carries published accuracies: it belongs to that y axis only.
    if overlay is not None and not overlay.empty and axis == "latency" and not own:
        hover = [
            f"<b>{r.model}</b> (published)<br>{r.ms_per_image:.3f} ms/image = 1000 / "
            f"{r.throughput_ips:.0f} img/s<br>batch {r.batch_size}, {r.resolution_px} px, "
            f"{r.device}, {r.precision}<br>{str(r.source)[:80]}"
            for r in overlay.itertuples()
        ]
        fig.add_trace(
            go.Scatter(
                x=overlay["ms_per_image"],
                y=overlay["top1_pct"],
                mode="markers",
                name="published RTX 4090 AMP throughput (ms/image in a large batch)",
                hovertext=hover,
                hoverinfo="text",
                marker={"size": 8, "symbol": "x", "color": "#555555"},
            )
        )
    xs, ys = _drawn_values(fig)
    if not xs:
        fig.add_annotation(
            text="nothing to draw on this axis yet",
            showarrow=False,
            xref="paper",
            yref="paper",
            x=0.5,
            y=0.5,
        )
    fig.update_layout(
        height=480,
        margin={"l": 50, "r": 10, "t": 30, "b": 40},
        xaxis={"type": "log", "title": title, **_log_range(xs)},
        yaxis=_linear_range(ys),
        # The folder is named even before any of its models has a latency to plot.
        yaxis_title=_own_data_title(frame[frame[y].notna()]) if own else "ImageNet top-1 (%)",
        legend={
            "orientation": "h",
            "y": -0.2,
            "title": {
                "text": _own_legend_title(frame[frame[y].notna()]) if own else _legend_title(points)
            },
        },
    )
    return fig


#: The colour of the user's own configurations (not a family colour).
USER_COLOUR = "#e6007e"


def _noisy(points: pd.DataFrame) -> list[bool]:
    if "quality" not in points.columns:
        return [False] * len(points)
    return [q == "noisy" for q in points["quality"]]


def _drawn_values(fig: go.Figure) -> tuple[list[float], list[float]]:
    """Every x and y drawn (y widened by its error bar), to fit the axes to."""
    xs: list[float] = []
    ys: list[float] = []
    for trace in fig.data:
        if trace.x is None or trace.y is None:
            continue
        errors = list(trace.error_y.array) if trace.error_y and trace.error_y.array else None
        for i, (x, y) in enumerate(zip(trace.x, trace.y, strict=True)):
            if not (_is_number(x) and _is_number(y)) or x <= 0:
                continue
            xs.append(float(x))
            spread = float(errors[i]) if errors and _is_number(errors[i]) else 0.0
            ys += [float(y) - spread, float(y) + spread]
    return xs, ys


def _log_range(xs: list[float]) -> dict[str, object]:
    """A log axis range around ``xs`` (plotly's log ranges are in decades), with a margin."""
    if not xs:
        return {"range": [0, 1]}
    low, high = math.log10(min(xs)), math.log10(max(xs))
    pad = max(0.08, (high - low) * 0.08)
    return {"range": [low - pad, high + pad]}


def _linear_range(ys: list[float]) -> dict[str, object]:
    if not ys:
        return {"range": [0, 100]}
    low, high = min(ys), max(ys)
    pad = max(0.5, (high - low) * 0.08)
    return {"range": [low - pad, high + pad * 2]}  # room for the labels above the points


def _user_hover(r: Any, axis: str) -> str:  # r: one user_frame row
    lines = [
        f"<b>{r.label}</b> (your configuration; {r.token})",
        f"top-1 {r.top1_estimate_pct:.1f} % ± {r.top1_loo_rmse_pct:.1f}: an ESTIMATE (explorer "
        "fit of top-1 against log MACs over the published B0–B7; ± is its leave-one-out RMSE)",
    ]
    if r.extrapolated:
        lines.append("extrapolated: its MACs lie outside B0–B7's range")
    lines.append(
        f"params {r.params_m:.2f} M, {r.gmacs:.3f} GMACs (explorer, exact), {r.resolution_px} px"
    )
    if _is_number(r.latency_ms):
        lines.append(f"latency {r.latency_ms:.2f} ms (p90 {_num(r.latency_ms_p90)}), {r.runtime}")
        if r.quality == "noisy":
            lines.append("NOISY: measured while the machine was busy")
        lines.append(str(r.protocol))
    else:
        lines.append("latency: not measured yet")
    return "<br>".join(lines)


def _own_data_title(points: pd.DataFrame) -> str:
    """The y-axis title of "top-1 on your data": which folder, how many images."""
    if points.empty:
        return "top-1 on your data (%)"
    return (
        f"top-1 on your data (%): {points['own_folder'].iloc[0]}, "
        f"{int(points['own_images'].max())} images"
    )


def _own_legend_title(points: pd.DataFrame) -> str:
    if points.empty:
        return ""
    fingerprint = str(points["own_fingerprint"].iloc[0])[:12]
    return (
        f"<b>top-1 on your data</b>: {points['own_folder'].iloc[0]} "
        f"({int(points['own_images'].max())} images, fingerprint {fingerprint}); "
        "python -m zoo evaluate"
    )


#: Marker symbol per training data, so that extra data never looks like ImageNet-1k only.
TRAINING_DATA_SYMBOLS: dict[str, str] = dict(
    zip(
        accuracy.TRAINING_DATA,
        ("circle", "diamond", "square", "star", "triangle-up"),
        strict=True,
    )
)
# Whose network an accuracy was measured on, where it is not timm's (hover wording).
_NETWORK_OF: dict[str, str] = {
    accuracy.PAPER_V5: "the paper's own model",
    accuracy.PAPER_V1_V3: "the paper's own model",
    accuracy.TORCHVISION: "torchvision's model",
    accuracy.KERAS: "the Keras model",
}


def _legend_title(points: pd.DataFrame) -> str:
    """The legend title, "<view>: <sources>; <training data>" of the plotted points."""
    if points.empty:
        return ""
    parts = [
        ", ".join(dict.fromkeys(str(v) for v in points[c]))
        for c in ("view", "accuracy_source", "training_data")
    ]
    return f"<b>{parts[0]}</b>: {parts[1]}; {parts[2]}"


def _px_line(eval_px: object, measure_px: object) -> str:
    if eval_px is None or pd.isna(eval_px):
        return (
            "accuracy measured at an input size the source does not state; "
            f"latency measured at {measure_px} px"
        )
    if int(eval_px) != int(measure_px):  # type: ignore[call-overload]
        return f"accuracy measured at {eval_px} px; latency measured at {measure_px} px"
    return f"accuracy and latency both at {measure_px} px"


def _compare_hover(r: Any, own: bool = False) -> str:  # r: one DataFrame.itertuples() row
    top5 = f", top-5 {r.top5_pct:.2f} %" if _is_number(r.top5_pct) else ""
    lines = [f"<b>{r.model}</b> ({r.family})"]
    if own:
        own5 = f", top-5 {r.own_top5_pct:.2f} %" if _is_number(r.own_top5_pct) else ""
        published = f"{r.top1_pct:.2f} %" if _is_number(r.top1_pct) else "none in this view"
        lines += [
            f"top-1 on your data {r.own_top1_pct:.2f} %{own5} on {r.own_images} images of "
            f"{r.own_folder}",
            f"weights: {str(r.own_weights)[:90]}",
            f"published ImageNet top-1 ({r.view}): {published}",
            f"accuracy and latency both at {r.resolution_px} px",
        ]
        lines.append(f"params {_num_m(r.params_m)}, {_gmacs(r.gmacs)} GMACs")
        return "<br>".join(lines + _latency_lines(r))
    lines += [
        f"top-1 {r.top1_pct:.2f} %{top5}",
        f"accuracy: {r.accuracy_source}, {r.checkpoint}",
        f"training data: {r.training_data}; recipe: {r.recipe}",
        _px_line(r.eval_px, r.resolution_px),
    ]
    if not r.same_network:
        owner = _NETWORK_OF.get(str(r.accuracy_source), str(r.accuracy_source))
        lines.append(f"different network: the accuracy is {owner}'s, the latency timm's {r.model}")
    lines.append(f"source: {str(r.top1_source)[:90]}")
    lines.append(f"params {r.params_m:.2f} M, {_gmacs(r.gmacs)} GMACs ({r.macs_source})")
    return "<br>".join(lines + _latency_lines(r))


def _latency_lines(r: Any) -> list[str]:
    """The hover's latency lines: the figure, its protocol and its quality, or "not measured"."""
    if pd.isna(r.latency_ms):
        return ["latency: not measured"]
    return [
        f"latency {r.latency_ms:.2f} ms (p90 {_num(r.latency_ms_p90)})",
        f"batch {r.batch_size}, {r.precision}, {r.device}<br>{r.protocol}",
        *_quality_lines(r),
    ]


def _quality_lines(r: Any) -> list[str]:
    if getattr(r, "quality", None) != "noisy":
        return []
    return [f"NOISY: measured while the machine was busy ({getattr(r, 'quality_reason', '')})"]


def _is_number(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and value == value


def _short(model: str) -> str:
    return model.replace("efficientnet_", "").replace("tf_", "tf-")


def _num_m(value: object) -> str:
    return f"{value:.2f} M" if _is_number(value) else "? M"


def _num(value: object) -> str:
    return f"{value:.2f} ms" if _is_number(value) else "n/a"


def _gmacs(value: object) -> str:
    return f"{value:.3g}" if _is_number(value) else "?"


def top5_figure(labels: Sequence[str], probabilities: Sequence[float], title: str) -> go.Figure:
    """A horizontal bar chart of the top-k classes, most likely on top."""
    fig = go.Figure(
        go.Bar(
            x=[100.0 * p for p in probabilities][::-1],
            y=list(labels)[::-1],
            orientation="h",
            text=[f"{100.0 * p:.1f} %" for p in probabilities][::-1],
            textposition="auto",
            marker={"color": "#1f77b4"},
        )
    )
    fig.update_layout(
        title=title,
        title_font_size=12,
        height=230,
        margin={"l": 10, "r": 10, "t": 30, "b": 30},
        xaxis={"title": "probability (%)", "range": [0, 100]},
    )
    return fig


def machines_figure(
    frame: pd.DataFrame,
    axis: str = "latency",
    *,
    batch_size: int = 1,
    accuracy_column: str = "top1_pct",
) -> go.Figure:
    """Several machines on one chart (``tables.overlay_frame``): a colour per machine, a marker
    per model family, and each machine's Pareto front dotted in its colour. The hover names the
    machine, its device and CPU, and the protocol."""
    from dashboard.tables import MACHINE_COLUMN, pareto_mask

    column, title = COMPARE_AXES[axis]
    if axis == "latency":
        title = "latency (ms, median, each machine; log scale)"
        if batch_size != 1:
            title = f"latency per batch of {batch_size} (ms, median, each machine; log scale)"
    y = accuracy_column
    points = frame[frame[column].notna() & frame[y].notna()]
    symbols = ("circle", "square", "diamond", "triangle-up", "cross", "x", "star", "hexagon")
    family_symbol = {f: symbols[i % len(symbols)] for i, f in enumerate(points["family"].unique())}
    fig = go.Figure()
    for i, (machine, group) in enumerate(points.groupby(MACHINE_COLUMN, sort=False)):
        colour = _PALETTE[i % len(_PALETTE)]
        fig.add_trace(
            go.Scatter(
                x=group[column],
                y=group[y],
                mode="markers+text",
                name=f"{machine} · {group['device'].iloc[0]}",
                legendgroup=str(machine),
                text=[_short(m) for m in group["model"]],
                textposition="top center",
                textfont={"size": 9, "color": colour},
                hovertext=[
                    f"<b>{machine}</b>: {r.device}; CPU {r.cpu_model}<br>"
                    + _compare_hover(r, y != "top1_pct")
                    for r in group.itertuples()
                ],
                hoverinfo="text",
                marker={
                    "size": 10,
                    "color": colour,
                    "symbol": [family_symbol[f] for f in group["family"]],
                },
            )
        )
        if len(group) >= 2:
            front = group[pareto_mask(list(group[column]), list(group[y]))].sort_values(column)
            fig.add_trace(
                go.Scatter(
                    x=front[column],
                    y=front[y],
                    mode="lines",
                    name=f"{machine}: Pareto front",
                    legendgroup=str(machine),
                    showlegend=False,
                    line={"color": colour, "dash": "dot", "shape": "hv"},
                    hoverinfo="skip",
                )
            )
    fig.update_layout(
        height=480,
        margin={"l": 50, "r": 10, "t": 30, "b": 40},
        xaxis={"type": "log", "title": title},
        yaxis_title="ImageNet top-1 (%)" if y == "top1_pct" else "top-1 on your data (%)",
        legend={"orientation": "h", "y": -0.2, "title": {"text": "machine"}},
    )
    return fig


__all__ = [
    "COMPARE_AXES",
    "FAMILY_COLOURS",
    "TRAINING_DATA_SYMBOLS",
    "compare_figure",
    "estimate_figure",
    "formula_figure",
    "machines_figure",
    "network_extent",
    "network_figure",
    "top5_figure",
]
