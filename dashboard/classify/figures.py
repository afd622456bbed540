"""The classify page's chart: the top-k classes as horizontal bars, most likely on top.

Why labels are shortened here and never by the browser: an ImageNet description such as
"punching bag, punch bag, punching ball, punchball" clipped by a narrow margin read "unching bag".
Each bar shows the class's first name (cut with "…" past ``MAX_LABEL_CHARS``), its hover the full
description, and the left margin fits the longest label. A plain function returning a plotly
figure, tested without a browser (docs/architecture.md, 'The dashboard, by feature').
"""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go

#: The longest label a bar shows; a longer first name ends with "…" (the hover has it whole).
MAX_LABEL_CHARS = 24
#: Pixels of left margin per label character (12 px tick font) and around the labels.
CHAR_PX = 7
LABEL_PAD_PX = 12


def short_label(description: str) -> str:
    """The class's first name, e.g. "punching bag" for "punching bag, punch bag, …", cut with
    "…" when longer than ``MAX_LABEL_CHARS``."""
    first = description.split(",")[0].strip() or description.strip()
    if len(first) <= MAX_LABEL_CHARS:
        return first
    return first[: MAX_LABEL_CHARS - 1].rstrip() + "…"


def top5_figure(labels: Sequence[str], probabilities: Sequence[float], title: str) -> go.Figure:
    """A horizontal bar chart of the top-k classes, most likely on top: the bars' categories are
    the full descriptions, their tick texts the short labels."""
    full = list(labels)[::-1]
    shown = [short_label(label) for label in full]
    percents = [100.0 * p for p in probabilities][::-1]
    fig = go.Figure(
        go.Bar(
            x=percents,
            y=full,
            orientation="h",
            text=[f"{p:.1f} %" for p in percents],
            textposition="auto",
            hovertext=full,
            hovertemplate="%{hovertext}: %{x:.1f} %<extra></extra>",
            marker={"color": "#1f77b4"},
        )
    )
    longest = max((len(label) for label in shown), default=0)
    fig.update_layout(
        title=title,
        title_font_size=12,
        height=230,
        margin={"l": LABEL_PAD_PX + CHAR_PX * longest, "r": 10, "t": 30, "b": 30},
        xaxis={"title": "probability (%)", "range": [0, 100]},
        yaxis={
            "type": "category",  # a label such as "7" stays a class, not a number
            "tickmode": "array",
            "tickvals": full,
            "ticktext": shown,
            "tickfont": {"size": 12},
            "automargin": True,
        },
    )
    return fig
