"""What every chart shares: the family colours and training-data markers, axis ranges fitted to
what is drawn, number formats, and the Pareto front (one pure function, ``pareto_mask``).

One home, so that a family or a training set looks the same on every chart; the front is computed
within the plotted view only. The dashboard's parts: docs/architecture.md, 'The dashboard, by
feature'.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import plotly.graph_objects as go

import data
from data import accuracy

# plotly's D3 colours, in the order of ``data.family_labels()``.
PALETTE = (
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
FAMILY_COLOURS: dict[str, str] = dict(zip(data.family_labels(), PALETTE, strict=False))


#: Marker symbol per training data, so that extra data never looks like ImageNet-1k only.
TRAINING_DATA_SYMBOLS: dict[str, str] = dict(
    zip(
        accuracy.TRAINING_DATA,
        ("circle", "diamond", "square", "star", "triangle-up"),
        strict=True,
    )
)


def drawn_values(fig: go.Figure) -> tuple[list[float], list[float]]:
    """Every x and y drawn (y widened by its error bar), to fit the axes to."""
    xs: list[float] = []
    ys: list[float] = []
    for trace in fig.data:
        if trace.x is None or trace.y is None:
            continue
        errors = list(trace.error_y.array) if trace.error_y and trace.error_y.array else None
        for i, (x, y) in enumerate(zip(trace.x, trace.y, strict=True)):
            if not (is_number(x) and is_number(y)) or x <= 0:
                continue
            xs.append(float(x))
            spread = float(errors[i]) if errors and is_number(errors[i]) else 0.0
            ys += [float(y) - spread, float(y) + spread]
    return xs, ys


def log_range(xs: list[float]) -> dict[str, object]:
    """A log axis range around ``xs`` (plotly's log ranges are in decades), with a margin."""
    if not xs:
        return {"range": [0, 1]}
    low, high = math.log10(min(xs)), math.log10(max(xs))
    pad = max(0.08, (high - low) * 0.08)
    return {"range": [low - pad, high + pad]}


def linear_range(ys: list[float]) -> dict[str, object]:
    if not ys:
        return {"range": [0, 100]}
    low, high = min(ys), max(ys)
    pad = max(0.5, (high - low) * 0.08)
    return {"range": [low - pad, high + pad * 2]}  # room for the labels above the points


def is_number(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and value == value


def short_name(model: str) -> str:
    return model.replace("efficientnet_", "").replace("tf_", "tf-")


def format_params_m(value: object) -> str:
    return f"{value:.2f} M" if is_number(value) else "? M"


def format_ms(value: object) -> str:
    return f"{value:.2f} ms" if is_number(value) else "n/a"


def format_gmacs(value: object) -> str:
    return f"{value:.3g}" if is_number(value) else "?"


def pareto_mask(x: Sequence[float], y: Sequence[float]) -> list[bool]:
    """True for points no other point beats on both axes (lower x and higher y).

    >>> pareto_mask([1, 2, 3, 2.5], [70, 80, 79, 81])
    [True, True, False, True]
    """
    points = list(zip(x, y, strict=True))
    mask = []
    for i, (xi, yi) in enumerate(points):
        dominated = any(
            (xj <= xi and yj >= yi) and (xj < xi or yj > yi)
            for j, (xj, yj) in enumerate(points)
            if j != i
        )
        mask.append(not dominated)
    return mask
