"""The explorer's "predicted on this machine" section: the current configuration's latency from
this machine's latency model (``python -m zoo calibrate`` fits it), labelled predicted, with the
interval and back-test behind it, and split over the network's parts.

Why a prediction and not a measurement here: it answers on every slider move (microseconds),
where a measurement takes seconds to minutes. How the model works: docs/latency-model.md.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard.explorer.profile_view import how_measured, kept_profiles
from dashboard.explorer.state import KEY
from explorer import ScaledNetwork

__all__ = ["prediction_section"]


def _models() -> list:
    """This host's saved latency models, read on every rerun (a few small files, about a
    millisecond): a calibration that lands shows at once."""
    from zoo import host_name, saved_models

    found, _ = saved_models()
    host = host_name()
    return [m for m in found if m.host == host]


def _label(model) -> str:
    return f"{model.runtime} {model.precision}, batch {model.batch_size}"


def prediction_section(network: ScaledNetwork) -> None:
    """The predicted latency, its interval and back-test, and the per-part table."""
    from zoo import predict_document

    st.subheader("Predicted latency on this machine")
    models = _models()
    if not models:
        st.info(
            "No latency model for this machine yet. `python -m zoo calibrate --runtime openvino` "
            "measures a designed set of about 20 configurations (as background jobs, minutes) "
            "and fits one; then this shows what any configuration will cost here, predicted "
            "before it is measured, and where the time goes."
        )
        return
    by_label = {_label(m): m for m in models}
    choice = st.selectbox("Runtime (latency model)", list(by_label), key=KEY + "predict_model")
    model = by_label[choice]
    document = predict_document(model, network)
    low, high = document["interval_ms"]
    test = document["backtest"]
    st.metric(
        f"Predicted latency, {choice}",
        f"{document['predicted_ms']:.2f} ms",
        help="predicted, not measured: this machine's latency model on the network's exact "
        "per-part operator counts",
    )
    st.caption(
        f"**Predicted**, not measured, on {model.device_name} (fitted {model.fitted_at} on "
        f"{test['points']} measured configurations). 80 % of the fit's held-out measurements "
        f"fell within {low:.2f}–{high:.2f} ms around a prediction like this one; leave-one-out "
        f"back-test: {test['within_10_pct']:.0f} % within ±10 %, {test['within_5_pct']:.0f} % "
        f"within ±5 %, MAPE {test['mape_pct']:.1f} %."
    )
    parts = document["parts_ms"]
    total = sum(parts.values()) or 1.0
    profile = kept_profiles(network).get(f"{model.runtime} {model.precision}")
    measured = {p["name"]: p["ms"] for p in profile["parts"]} if profile else {}
    frame = pd.DataFrame(
        {
            "part": list(parts),
            "time ms": [round(measured.get(p, v), 3) for p, v in parts.items()],
            "from": [
                f"measured ({how_measured(profile)})" if p in measured else "predicted"
                for p in parts
            ],
            "predicted ms": [round(v, 3) for v in parts.values()],
            "share % (predicted)": [round(100.0 * v / total, 1) for v in parts.values()],
        }
    )
    st.dataframe(frame, hide_index=True, key=KEY + "predicted_parts")
