"""The table behind the compare chart, its CSV, and the whole measurement store as JSON.

Why a table under every chart: a point's numbers (both input sizes, the protocol, the quality,
the repeatability, the provenance) are read and downloaded there, not only hovered. The columns:
docs/architecture.md, 'The compare page'.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard.compare.choices import KEY

__all__ = ["section"]


def section(frame: pd.DataFrame, store, device: str, view: str) -> None:
    """The chart's rows as a table, with their CSV and the store's JSON to download."""
    st.subheader("The table behind the chart")
    st.dataframe(
        frame,
        key=KEY + "table",
        hide_index=True,
        column_config={
            "top1_source": st.column_config.TextColumn("top-1 source", width="small"),
            "top1_source_url": st.column_config.LinkColumn("source URL", width="small"),
            "eval_px": st.column_config.NumberColumn(
                "accuracy px",
                help="input size the accuracy was measured at (empty: the source does not say)",
            ),
            "resolution_px": st.column_config.NumberColumn(
                "latency px", help="input size the zoo measures latency at"
            ),
            "same_network": st.column_config.CheckboxColumn(
                "same network",
                help="the accuracy was measured on the very timm network the zoo times",
            ),
            "loadable_here": st.column_config.CheckboxColumn(
                "weights here", help="weights for it load offline on this machine"
            ),
            "gmacs": st.column_config.NumberColumn("GMACs", format="%.3f"),
            "latency_ms": st.column_config.NumberColumn("latency ms (median)", format="%.2f"),
            "latency_ms_p90": st.column_config.NumberColumn("p90 ms", format="%.2f"),
            "quality": st.column_config.TextColumn(
                "quality", help="noisy: the machine was busy while it was timed"
            ),
        },
    )
    st.download_button(
        "Download CSV",
        frame.to_csv(index=False).encode("utf-8"),
        file_name=f"effscale-compare-{device}-{view}.csv",
        mime="text/csv",
        key=KEY + "download",
    )
    if store is not None:
        with st.expander("All stored measurements"):
            try:
                st.download_button(
                    "Download the measurement store (JSON)",
                    store.export("json"),
                    file_name="effscale-measurements.json",
                    mime="application/json",
                    key=KEY + "download_store",
                )
            except Exception as exc:  # noqa: BLE001
                st.error(f"Cannot export the store: {exc}")
