"""The explorer's "where the time goes" section: the current configuration's kept profile
(``python -m zoo profile`` measures it), per stage, labelled measured with its profiler, and its
roofline: each stage's arithmetic intensity against the GFLOP/s it achieved, under this
machine's measured peak and memory-bandwidth ceilings.

Why only a kept profile: profiling runs the model (seconds), so the page reads what the command
left (a few small files) and never runs it. docs/profile.md.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from dashboard.explorer.state import KEY
from explorer import ScaledNetwork

__all__ = ["kept_profiles", "profile_command", "profile_section", "roofline_figure"]

_RUNTIMES = ("openvino", "onnxruntime", "eager")
_PRECISIONS = ("fp32", "bf16", "int8")


def kept_profiles(network: ScaledNetwork) -> dict[str, dict[str, Any]]:
    """{"runtime precision": profile} kept on this machine for ``network``."""
    from zoo import load_profile, spec_for_network

    model = spec_for_network(network).model
    found = {}
    for runtime in _RUNTIMES:
        for precision in _PRECISIONS:
            document = load_profile(model, network.resolution, runtime, precision)
            if document is not None:
                found[f"{runtime} {precision}"] = document
    return found


def how_measured(document: dict[str, Any]) -> str:
    """How a kept profile's stage times were taken: by the runtime's profiler, or (where that
    profiler slows the kernels it times) each stage run alone, split by kind by the profiler."""
    if "run alone" in str(document.get("parts_timed", "")):
        return f"each stage run alone (split by kind with {document['profiler']})"
    return str(document["profiler"])


def profile_command(network: ScaledNetwork) -> str:
    """The command that profiles ``network``."""
    if network.phi is not None:
        which = (
            f"--phi {network.phi:g} --alpha {network.alpha:g} --beta {network.beta:g} "
            f"--gamma {network.gamma:g}"
        )
    else:
        which = (
            f"--width {network.width_multiplier:g} --depth {network.depth_multiplier:g} "
            f"--resolution {network.resolution}"
        )
    return f"python -m zoo profile {which} --runtime openvino"


def roofline_figure(document: dict[str, Any]) -> go.Figure:
    """Stages as points (intensity, achieved GFLOP/s) under the two measured ceilings."""
    ceilings = document["ceilings"]
    peak, bandwidth = ceilings["peak_gflops"], ceilings["bandwidth_gbs"]
    rated = [p for p in document["parts"] if p.get("intensity") and p.get("gflops")]
    low = min([0.05, *(p["intensity"] / 2 for p in rated)])
    high = max([4 * peak / bandwidth, *(p["intensity"] * 2 for p in rated)])
    ridge = peak / bandwidth
    figure = go.Figure()
    figure.add_trace(
        go.Scatter(
            x=[low, ridge, high],
            y=[low * bandwidth, peak, peak],
            mode="lines",
            name=f"ceiling: {bandwidth:.1f} GB/s memory, {peak:.0f} GFLOP/s peak (measured)",
            line={"color": "#7f7f7f", "dash": "dash"},
            hoverinfo="skip",
        )
    )
    figure.add_trace(
        go.Scatter(
            x=[p["intensity"] for p in rated],
            y=[p["gflops"] for p in rated],
            mode="markers+text",
            text=[p["name"] for p in rated],
            textposition="top center",
            name="stages (measured)",
            marker={"size": [8 + 30 * p["share_pct"] / 100 for p in rated], "color": "#1f77b4"},
            customdata=[[p["ms"], p["share_pct"], p["roofline_pct"]] for p in rated],
            hovertemplate="%{text}: %{y:.1f} GFLOP/s at %{x:.2f} FLOP/byte<br>"
            "%{customdata[0]:.2f} ms (%{customdata[1]:.0f} %), %{customdata[2]:.0f} % of the "
            "roofline<extra></extra>",
        )
    )
    figure.update_xaxes(type="log", title="arithmetic intensity (FLOP per byte moved)")
    figure.update_yaxes(type="log", title="achieved GFLOP/s (measured)")
    figure.update_layout(height=420, margin={"t": 30}, legend={"orientation": "h", "y": -0.25})
    return figure


def _table(document: dict[str, Any]) -> pd.DataFrame:
    def fmt(value: float | None, digits: int) -> float | None:
        return None if value is None else round(value, digits)

    return pd.DataFrame(
        {
            "part": [p["name"] for p in document["parts"]],
            "time ms (measured)": [round(p["ms"], 3) for p in document["parts"]],
            "share %": [round(p["share_pct"], 1) for p in document["parts"]],
            "GFLOP/s": [fmt(p["gflops"], 1) for p in document["parts"]],
            "GB/s": [fmt(p["gbs"], 2) for p in document["parts"]],
            "FLOP/byte": [fmt(p["intensity"], 2) for p in document["parts"]],
            "% of roofline": [fmt(p["roofline_pct"], 0) for p in document["parts"]],
        }
    )


def profile_section(network: ScaledNetwork) -> None:
    """The kept profile's table and roofline, or the command that makes one."""
    st.subheader("Where the time goes (profiled on this machine)")
    found = kept_profiles(network)
    if not found:
        st.caption(
            "Not profiled on this machine yet. `" + profile_command(network) + "` runs it with "
            "the runtime's own profiler (seconds) and keeps the result for this page: time per "
            "stage and operator kind, and a roofline against this machine's measured ceilings."
        )
        return
    choice = st.selectbox("Profile", list(found), key=KEY + "profile_choice")
    document = found[choice]
    st.caption(
        f"**Measured** with {how_measured(document)} on {document['runtime']} "
        f"({document['runtime_precision']}), batch 1, {document['threads']} threads, "
        f"{document['calls']} calls, {document['profiled_at']}. The stages sum to "
        f"{document['profiled_ms']:.2f} ms against {document['whole_ms']:.2f} ms for the whole "
        f"model ({document['gap_pct']:+.1f} %). Above 100 % of the roofline: the stage's data "
        "stayed in cache, so the memory ceiling (a copy from memory) did not bind."
    )
    st.dataframe(_table(document), hide_index=True, key=KEY + "profile_parts")
    st.plotly_chart(roofline_figure(document), key=KEY + "roofline")
