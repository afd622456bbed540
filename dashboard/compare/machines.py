"""Several machines in one store: which machine a point is from, the device and runtime
choices they add, each machine's series side by side, and the overlay chart (a colour per
machine, each with its own Pareto front)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import pandas as pd
import plotly.graph_objects as go

from dashboard.compare.figure import COMPARE_AXES, compare_hover
from dashboard.compare.series import compare_frame, machine_of, runtime_of, split_series
from dashboard.plotting import PALETTE, pareto_mask, short_name

#: The compare table's column that names the machine of each point (a shared store holds many).
MACHINE_COLUMN = "machine"


def machines(measurements: Iterable[Mapping[str, object]]) -> list[tuple[str, str]]:
    """The machines among ``measurements`` as (machine, label): the one with the most models
    first, then by name. The label names its device and how many models it has.

    >>> machines([{"host": "a", "model": "m1", "device_name": "CPU X"},
    ...           {"host": "b", "model": "m1", "device_name": "T4"},
    ...           {"host": "b", "model": "m2", "device_name": "T4"}])
    [('b', 'b · T4 (2 models)'), ('a', 'a · CPU X (1 model)')]
    """
    models: dict[str, set[str]] = {}
    devices: dict[str, str] = {}
    for m in measurements:
        key = machine_of(m)
        models.setdefault(key, set()).add(str(m.get("model")))
        devices.setdefault(key, str(m.get("device_name") or m.get("device") or ""))
    ordered = sorted(models, key=lambda k: (-len(models[k]), k))
    return [
        (
            key,
            f"{key}{' · ' + devices[key] if devices[key] and devices[key] != key else ''} "
            f"({len(models[key])} model{'s' if len(models[key]) != 1 else ''})",
        )
        for key in ordered
    ]


def device_choices(here: Sequence[str], stored: Iterable[str]) -> tuple[str, ...]:
    """The compare page's devices: this machine's, then the device kinds other machines'
    measurements in the store were taken on (``cuda:1`` counts as ``cuda``).

    >>> device_choices(("cpu",), ["cpu", "cuda:0", "cuda:1"])
    ('cpu', 'cuda')
    """
    kinds = ("cuda" if str(d).startswith("cuda") else str(d) for d in stored)
    return tuple(dict.fromkeys([*here, *kinds]))


def runtime_choices(
    here: Sequence[str], measurements: Iterable[Mapping[str, object]]
) -> tuple[str, ...]:
    """The runtime choices: this machine's, then those of stored measurements (another machine
    may have measured one that is not installed here, TensorRT on a GPU node).

    >>> runtime_choices(('best', 'eager'), [{'runtime': 'tensorrt'}, {'runtime': 'eager'}])
    ('best', 'eager', 'tensorrt')
    """
    return tuple(dict.fromkeys([*here, *(runtime_of(m) for m in measurements)]))


def of_machines(
    measurements: Iterable[Mapping[str, object]], chosen: Iterable[str]
) -> list[Mapping[str, object]]:
    """The measurements taken on the ``chosen`` machines (``machine_of``)."""
    wanted = set(chosen)
    return [m for m in measurements if machine_of(m) in wanted]


def overlay_frame(
    reference: pd.DataFrame,
    measurements: Iterable[Mapping[str, object]],
    chosen: Sequence[str],
    *,
    any_runtime: bool = False,
) -> pd.DataFrame:
    """The chosen machines side by side: per machine its largest series (``split_series``: one
    protocol on one machine, never a mix), joined with the reference like ``compare_frame``,
    measured rows only, stacked in the order chosen. ``machine`` says whose each row is."""
    measurements = list(measurements)
    frames = []
    for machine in chosen:
        series = split_series(of_machines(measurements, [machine]), any_runtime=any_runtime)
        if not series:
            continue
        frame = compare_frame(reference, series[0][1], any_runtime=any_runtime)
        frames.append(frame[frame["latency_ms"].notna()])
    if not frames:
        return compare_frame(reference, [], any_runtime=any_runtime).iloc[0:0]
    return pd.concat(frames, ignore_index=True)


def machines_figure(
    frame: pd.DataFrame,
    axis: str = "latency",
    *,
    batch_size: int = 1,
    accuracy_column: str = "top1_pct",
) -> go.Figure:
    """Several machines on one chart (``overlay_frame``): a colour per machine, a marker
    per model family, and each machine's Pareto front dotted in its colour. The hover names the
    machine, its device and CPU, and the protocol."""

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
        colour = PALETTE[i % len(PALETTE)]
        fig.add_trace(
            go.Scatter(
                x=group[column],
                y=group[y],
                mode="markers+text",
                name=f"{machine} · {group['device'].iloc[0]}",
                legendgroup=str(machine),
                text=[short_name(m) for m in group["model"]],
                textposition="top center",
                textfont={"size": 9, "color": colour},
                hovertext=[
                    f"<b>{machine}</b>: {r.device}; CPU {r.cpu_model}<br>"
                    + compare_hover(r, y != "top1_pct")
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
