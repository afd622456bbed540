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


def wrap(text: str, width: int = 70) -> str:
    """``text`` broken into hover lines of at most ``width`` characters (never cut).

    >>> wrap("timm results-imagenet.csv (timm own evaluation, 2024)", 30)
    'timm results-imagenet.csv<br>(timm own evaluation, 2024)'
    """
    lines, line = [], ""
    for word in str(text).split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    return "<br>".join([*lines, line]) if line or lines else ""


# Label placement: plot area assumed (px), one character's width and a line's height at size 10.
_AREA, _CHAR, _LINE = (1200.0, 400.0), 6.0, 13.0
# Where a label may go, in plotly's words, with the offset of its box's centre (px, up is +).
_PLACES = ("top center", "bottom center", "middle right", "middle left", "top right", "top left")


def _box(place: str, x: float, y: float, width: float) -> tuple[float, float, float, float]:
    dx = {"center": 0.0, "right": width / 2 + 7, "left": -(width / 2 + 7)}[place.split()[1]]
    dy = {"top": _LINE, "bottom": -_LINE, "middle": 0.0}[place.split()[0]]
    if place in ("top right", "top left"):
        dx = dx * 0.7
    cx, cy = x + dx, y + dy
    return cx - width / 2, cy - _LINE / 2, cx + width / 2, cy + _LINE / 2


def _overlap(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return w * h if w > 0 and h > 0 else 0.0


def label_positions(xs: Sequence[float], ys: Sequence[float], labels: Sequence[str]) -> list[str]:
    """A text position per point (log x, linear y) so that labels overlap each other and the
    markers as little as possible: greedily, the first place that is free, else the least
    covered one.

    >>> label_positions([1.0, 1.001, 10.0], [80.0, 80.0, 75.0], ["b0", "b1", "b7"])
    ['top center', 'bottom center', 'top center']
    """
    if not xs:
        return []
    logs = [math.log10(max(float(x), 1e-12)) for x in xs]
    lo_x, hi_x = min(logs), max(logs)
    lo_y, hi_y = min(ys), max(ys)
    span_x, span_y = max(hi_x - lo_x, 0.3), max(hi_y - lo_y, 2.0)
    px = [((lx - lo_x) / span_x * _AREA[0], (y - lo_y) / span_y * _AREA[1]) for lx, y in
          zip(logs, ys, strict=True)]  # fmt: skip
    markers = [(x - 6, y - 6, x + 6, y + 6) for x, y in px]
    taken: list[tuple[float, float, float, float]] = []
    out = []
    for i, ((x, y), label) in enumerate(zip(px, labels, strict=True)):
        width = _CHAR * len(label)
        others = markers[:i] + markers[i + 1 :]
        best, best_cost = _PLACES[0], math.inf
        for place in _PLACES:
            box = _box(place, x, y, width)
            cost = sum(_overlap(box, t) for t in taken) + sum(_overlap(box, m) for m in others)
            if cost < best_cost:
                best, best_cost = place, cost
            if cost == 0:
                break
        taken.append(_box(best, x, y, width))
        out.append(best)
    return out
