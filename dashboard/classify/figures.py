"""The classify page's chart: the top-k classes as horizontal bars, most likely on top.

A plain function returning a plotly figure, so that it is tested without a browser
(docs/architecture.md, 'The dashboard, by feature').
"""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go


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
