"""The compare scatter: top-1 against latency, MACs or params (log x), coloured by family, the
Pareto front within the plotted view, the user's configurations with their estimate band, and a
hover that names source, checkpoint, training data, input sizes and the latency's protocol."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from dashboard.compare.own_data import own_data_title, own_legend_title
from dashboard.compare.precision_accuracy import NOT_MEASURED, PRECISION_NOTE
from dashboard.plotting import (
    FAMILY_COLOURS,
    TRAINING_DATA_SYMBOLS,
    drawn_values,
    format_gmacs,
    format_ms,
    format_params_m,
    is_number,
    label_positions,
    linear_range,
    log_range,
    pareto_mask,
    short_name,
    wrap,
)
from data import accuracy

#: x-axis choices of the compare scatter: column, title, log axis.
COMPARE_AXES: dict[str, tuple[str, str]] = {
    "latency": ("latency_ms", "latency (ms, median, this machine; log scale)"),
    "macs": ("gmacs", "GMACs per image (multiply-accumulates; log scale)"),
    "params": ("params_m", "parameters (millions; log scale)"),
}


#: The colour of the user's own configurations (not a family colour).
USER_COLOUR = "#e6007e"


def compare_figure(
    frame: pd.DataFrame,
    axis: str = "latency",
    overlay: pd.DataFrame | None = None,
    *,
    batch_size: int = 1,
    accuracy_column: str = "top1_pct",
    user: pd.DataFrame | None = None,
    user_in_pareto: bool = False,
    extra: Sequence[go.Scatter] = (),
) -> go.Figure:
    """Top-1 against latency, MACs or params (log x), coloured by family, Pareto front drawn.

    ``user`` (``dashboard.explorer.configs.user_frame``) adds the user's own configurations as a series
    of their own: top-1 is the explorer's *estimate*, drawn with its leave-one-out RMSE as a
    vertical error bar and labelled so; they join the Pareto front only when ``user_in_pareto``.
    A point measured on a busy machine (``quality`` "noisy") is drawn hollow and says why. The
    axes are fitted to what is drawn.

    ``accuracy_column`` is the y axis: the published ``top1_pct`` of the accuracy view, or
    ``own_top1_pct``, the top-1 on the user's labelled folder (``own_data.own_accuracy_reference``),
    in which case the axis, the legend and every hover name that folder and its image count.

    ``frame`` holds one accuracy view (``reference.reference_frame``): the Pareto front is computed
    over its plotted points only. The legend's title names the view, its sources and its training
    data; a point with extra training data has its own marker and legend entry. Each hover names
    the source, checkpoint, training data and recipe, and says when the accuracy and the latency
    are not from the same network at the same input size. ``overlay``
    (``reference.published_gpu_frame``) adds timm's published GPU throughput as a separate series,
    in ms per image within a large AMP batch. ``extra`` traces (the predicted scaling curve) are
    drawn too and fitted into the axes.
    """

    column, title = COMPARE_AXES[axis]
    if axis == "latency" and batch_size != 1:
        title = f"latency per batch of {batch_size} (ms, median, this machine; log scale)"
    y = accuracy_column
    own = y != "top1_pct"
    points = frame[frame[column].notna() & frame[y].notna()]
    mixed = points["training_data"].nunique() > 1
    fig = go.Figure()
    # Where each label goes: beside its point, clear of the others' labels where there is room.
    placed = label_positions(
        list(points[column]), list(points[y]), [short_name(m) for m in points["model"]]
    )
    position = dict(zip(points.index, placed, strict=True))
    on_latency = axis == "latency"
    for (family, training), group in points.groupby(["family", "training_data"], sort=False):
        provisional = _noisy(group) if on_latency else [False] * len(group)
        fig.add_trace(
            go.Scatter(
                x=group[column],
                y=group[y],
                mode="markers+text",
                name=f"{family} · {training}" if mixed else str(family),
                text=[
                    short_name(m) + (" ?" if p else "")
                    for m, p in zip(group["model"], provisional, strict=True)
                ],
                textposition=[position[i] for i in group.index],
                textfont={"size": 10},
                hovertext=[compare_hover(r, own) for r in group.itertuples()],
                hoverinfo="text",
                marker={
                    "size": 10,
                    "color": FAMILY_COLOURS.get(str(family), "#333333"),
                    "symbol": [
                        (
                            NOT_MEASURED_SYMBOL
                            if state == NOT_MEASURED
                            else TRAINING_DATA_SYMBOLS.get(str(training), "circle")
                        )
                        + ("-open" if noisy else "")
                        for noisy, state in zip(provisional, _precision_states(group), strict=True)
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
            f"{r.device}, {r.precision}<br>{wrap(str(r.source))}"
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
    if overlay is not None and not overlay.empty and axis == "latency" and not own:
        title = (
            "ms (log scale): this machine's median latency (coloured points); published RTX 4090 "
            "AMP, ms per image in a large batch (grey ×)"
        )
    for trace in extra:
        fig.add_trace(trace)
    xs, ys = drawn_values(fig)
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
        xaxis={"type": "log", "title": title, **log_range(xs)},
        yaxis=linear_range(ys),
        # The folder is named even before any of its models has a latency to plot.
        yaxis_title=own_data_title(frame[frame[y].notna()]) if own else "ImageNet top-1 (%)",
        legend={
            "orientation": "h",
            "y": -0.2,
            "title": {
                "text": own_legend_title(frame[frame[y].notna()]) if own else _legend_title(points)
            },
        },
    )
    return fig


def _noisy(points: pd.DataFrame) -> list[bool]:
    if "quality" not in points.columns:
        return [False] * len(points)
    return [q == "noisy" for q in points["quality"]]


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
    if is_number(r.latency_ms):
        lines.append(
            f"latency {r.latency_ms:.2f} ms (p90 {format_ms(r.latency_ms_p90)}), {r.runtime}"
        )
        if r.quality == "noisy":
            lines.append("NOISY: measured while the machine was busy")
        lines.append(str(r.protocol))
    else:
        lines.append("latency: not measured yet")
    return "<br>".join(lines)


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


#: A point whose accuracy at the chosen precision was never measured (fp32's is drawn).
NOT_MEASURED_SYMBOL = "x"


def _precision_states(group: pd.DataFrame) -> list[str]:
    if "precision_accuracy" not in group.columns:
        return [""] * len(group)
    return [str(v) for v in group["precision_accuracy"]]


def compare_hover(r: Any, own: bool = False) -> str:  # r: one DataFrame.itertuples() row
    top5 = f", top-5 {r.top5_pct:.2f} %" if is_number(r.top5_pct) else ""
    lines = [f"<b>{r.model}</b> ({r.family})"]
    note = getattr(r, PRECISION_NOTE, "")
    if note and not own:
        lines.append(wrap(str(note)))
        top5 = ""  # the published top-5 is fp32's
    if own:
        own5 = f", top-5 {r.own_top5_pct:.2f} %" if is_number(r.own_top5_pct) else ""
        published = f"{r.top1_pct:.2f} %" if is_number(r.top1_pct) else "none in this view"
        lines += [
            f"top-1 on your data {r.own_top1_pct:.2f} %{own5} on {r.own_images} images of "
            f"{r.own_folder}",
            f"weights: {wrap(str(r.own_weights))}",
            f"published ImageNet top-1 ({r.view}): {published}",
            f"accuracy and latency both at {r.resolution_px} px",
        ]
        lines.append(f"params {format_params_m(r.params_m)}, {format_gmacs(r.gmacs)} GMACs")
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
    lines.append(f"source: {wrap(str(r.top1_source))}")
    lines.append(f"params {r.params_m:.2f} M, {format_gmacs(r.gmacs)} GMACs ({r.macs_source})")
    return "<br>".join(lines + _latency_lines(r))


def _latency_lines(r: Any) -> list[str]:
    """The hover's latency lines: the figure, its protocol and its quality, or "not measured"."""
    if pd.isna(r.latency_ms):
        return ["latency: not measured"]
    return [
        f"latency {r.latency_ms:.2f} ms (p90 {format_ms(r.latency_ms_p90)})",
        *_repeat_lines(r),
        f"batch {int(r.batch_size)}, {r.precision}, {r.device}<br>{r.protocol}",
        *_quality_lines(r),
    ]


def _repeat_lines(r: Any) -> list[str]:
    """How the figure repeats: its rounds, their spread, the speed level they ran at."""
    used, spread = getattr(r, "rounds_used", None), getattr(r, "round_spread", None)
    if not is_number(used) or not is_number(spread):
        return []
    line = f"median of {int(used)} rounds, within ±{(spread - 1) * 50:.0f}% of each other"
    level, timed = getattr(r, "speed_level", None), getattr(r, "latency_ms_measured", None)
    if is_number(level) and is_number(timed):
        line += (
            f"<br>scaled to this machine's reference speed: timed {timed:.2f} ms while a speed "
            f"probe ran {level:.2f}× its reference"
        )
    return [line]


def _quality_lines(r: Any) -> list[str]:
    if getattr(r, "quality", None) != "noisy":
        return []
    reason = wrap(str(getattr(r, "quality_reason", "")))
    return [f"PROVISIONAL (noisy, labelled “?”): {reason}; the worker measures it again"]
