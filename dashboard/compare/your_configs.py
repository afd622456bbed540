"""Your own configurations on the compare chart (``?cfg=`` in the URL, from the explorer): their
exact cost, their latency once measured, and top-1 as the explorer's estimate.

The URL carries them so that a designed network can be shared and reopened; the tokens are
``dashboard.explorer.configs``'s (format: docs/architecture.md, 'Notes by module'). How they are
drawn: README.md, 'How to read the chart'.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd
import streamlit as st

from dashboard.compare import measure_panel
from dashboard.compare.choices import KEY
from dashboard.compare.series import protocol_label
from dashboard.explorer import configs

if TYPE_CHECKING:
    from zoo import MeasurementStore, Protocol

__all__ = ["from_url", "latencies", "section"]


def from_url() -> list[configs.UserConfig]:
    """The configurations in the URL (``?cfg=``, repeated), read once per session; the page
    keeps the URL in step as they are removed."""
    state_key = KEY + "configs"
    if state_key not in st.session_state:
        found, warnings = configs.parse_params(st.query_params.get_all(configs.CONFIG_PARAM))
        st.session_state[state_key] = found
        st.session_state[KEY + "config_warnings"] = warnings
    for warning in st.session_state.get(KEY + "config_warnings", []):
        st.warning(f"URL: {warning}")
    current: list[configs.UserConfig] = st.session_state[state_key]
    tokens = [c.token for c in current]
    if st.query_params.get_all(configs.CONFIG_PARAM) != tokens:
        st.query_params[configs.CONFIG_PARAM] = tokens
    return current


def latencies(user_configs: list[configs.UserConfig], measurements: list[dict]) -> dict[str, dict]:
    """The chart series' newest measurement of each configuration (clean before noisy), by
    token."""
    if not user_configs or not measurements:
        return {}
    by_model: dict[tuple[str, int], dict] = {}
    for m in measurements:
        key = (str(m.get("model")), int(m.get("resolution") or 0))
        old = by_model.get(key)
        rank = (m.get("quality") != "noisy", str(m.get("measured_at", "")))
        if old is None or rank >= (old.get("quality") != "noisy", str(old.get("measured_at", ""))):
            by_model[key] = m
    out: dict[str, dict] = {}
    for config in user_configs:
        spec = configs.spec_of(config)
        m = by_model.get((spec.model, spec.resolution))
        if m is not None:
            out[config.token] = {**m, "protocol": protocol_label(m)}
    return out


def section(
    store: MeasurementStore | None,
    user_configs: list[configs.UserConfig],
    user: pd.DataFrame,
    protocols: list[Protocol],
) -> None:
    """The table of your configurations, a button to measure those without a latency, and a
    way to remove them from the chart."""
    if not user_configs:
        return
    st.subheader("Your configurations")
    st.caption(
        "From the explorer (“Measure and compare this configuration”); they are in this page's "
        "URL, so a link shares them. Top-1 is the explorer's estimate (a line fitted to the "
        "published B0–B7 top-1 against log MACs; ± its leave-one-out RMSE), not a measurement."
    )
    shown = user[["label", "token", "params_m", "gmacs", "resolution_px", "top1_estimate_pct",
                  "top1_loo_rmse_pct", "latency_ms", "quality", "runtime"]]  # fmt: skip
    st.dataframe(
        shown,
        hide_index=True,
        key=KEY + "user_table",
        column_config={
            "top1_estimate_pct": st.column_config.NumberColumn("top-1 estimate %", format="%.1f"),
            "top1_loo_rmse_pct": st.column_config.NumberColumn("± LOO RMSE", format="%.2f"),
            "gmacs": st.column_config.NumberColumn("GMACs", format="%.3f"),
            "params_m": st.column_config.NumberColumn("params (M)", format="%.2f"),
            "latency_ms": st.column_config.NumberColumn("latency ms", format="%.2f"),
        },
    )
    left, right = st.columns(2)
    unmeasured = [
        c for c, lat in zip(user_configs, user["latency_ms"], strict=True) if pd.isna(lat)
    ]
    with left:
        if (
            store is not None
            and unmeasured
            and st.button(
                f"Measure {len(unmeasured)} unmeasured configuration(s) with this protocol",
                key=KEY + "measure_configs",
            )
        ):
            measure_panel.submit(store, [configs.spec_of(c) for c in unmeasured], protocols)
    with right:
        drop = st.multiselect(
            "Remove from the chart",
            [c.token for c in user_configs],
            format_func={c.token: c.label for c in user_configs}.__getitem__,
            key=KEY + "drop_configs",
        )
        if drop and st.button("Remove", key=KEY + "remove_configs"):
            st.session_state[KEY + "configs"] = [c for c in user_configs if c.token not in drop]
            del st.session_state[KEY + "drop_configs"]
            st.rerun()
