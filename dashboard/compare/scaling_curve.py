"""The compare chart's predicted compound-scaling curve, and the two budget questions it answers.

Along φ from −1 upward (the paper's α, β, γ), each network's *estimated* top-1 (the explorer's
line over the published B0–B7) against its latency *predicted* by this machine's latency model
for the chosen runtime, precision and batch (``python -m zoo calibrate`` fits it); the curve's
configurations measured here are drawn on it. The budget questions read the same curve, and a
click queues the answer's measurement to confirm it. docs/latency-model.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from dashboard.compare.choices import KEY, CompareChoice
from explorer import PAPER_ALPHA, PAPER_BETA, PAPER_GAMMA, ScaledNetwork, from_phi
from explorer.estimate import estimate_top1, published_fit

if TYPE_CHECKING:
    from zoo import MeasurementStore, Protocol

__all__ = ["Curve", "best_within", "budget_section", "curve_for", "curve_traces", "fastest_above"]

#: The curve's φ grid: from −1 (smaller than B0) to 7 (B7's φ), every 0.05.
PHI_LOW, PHI_HIGH, PHI_STEP = -1.0, 7.0, 0.05
CURVE_COLOUR = "#009e73"
_PAPER = (PAPER_ALPHA, PAPER_BETA, PAPER_GAMMA)


@dataclass(frozen=True)
class Curve:
    """The predicted curve (one row per φ), the measured configurations on it, and what it is
    predicted by (one latency model per runtime)."""

    frame: pd.DataFrame
    measured: pd.DataFrame
    models: tuple[Any, ...]


def phis() -> list[float]:
    """The grid's φ values, rounded to the step (so each is a clean, repeatable name)."""
    count = round((PHI_HIGH - PHI_LOW) / PHI_STEP)
    return [round(PHI_LOW + i * PHI_STEP, 2) for i in range(count + 1)]


def _predicted(models: tuple[Any, ...], network: ScaledNetwork) -> tuple[float, Any]:
    """The fastest prediction among ``models`` (one model unless the runtime is 'best')."""
    return min(((m.predict_ms(network), m) for m in models), key=lambda pair: pair[0])


def _row(models: tuple[Any, ...], phi: float, gmacs_range, fit) -> dict[str, object]:
    network = from_phi(phi)
    predicted, model = _predicted(models, network)
    low, high = model.interval_ms(predicted)
    estimate = estimate_top1(network.macs, fit)
    gmacs = network.macs / 1e9
    inside = gmacs_range is not None and gmacs_range[0] * 0.95 <= gmacs <= gmacs_range[1] * 1.05
    return {
        "phi": phi,
        "width": network.width_multiplier,
        "depth": network.depth_multiplier,
        "resolution_px": network.resolution,
        "gmacs": gmacs,
        "top1_estimate_pct": estimate.top1_pct,
        "top1_loo_rmse_pct": estimate.loo_rmse_pct,
        "predicted_ms": predicted,
        "low_ms": low,
        "high_ms": high,
        "runtime": model.runtime,
        "calibrated": inside,
    }


def _curve_frame(models: tuple[Any, ...]) -> pd.DataFrame:
    from zoo import calibrated_gmacs

    ranges = [r for r in (calibrated_gmacs(m) for m in models) if r is not None]
    gmacs_range = (min(r[0] for r in ranges), max(r[1] for r in ranges)) if ranges else None
    fit = published_fit()
    return pd.DataFrame([_row(models, phi, gmacs_range, fit) for phi in phis()])


@st.cache_data(show_spinner=False, max_entries=16)
def _cached_frame(key: tuple, _models: tuple[Any, ...]) -> pd.DataFrame:
    """``_curve_frame``, once per set of fitted models (``key`` names them and their fits)."""
    return _curve_frame(_models)


def _on_curve(m: dict) -> float | None:
    """The φ of a stored measurement's network when it is on the curve (paper α, β, γ)."""
    from zoo import spec_from_name

    spec = spec_from_name(str(m.get("model")), int(m.get("resolution") or 0))
    if spec is None or spec.phi is None or not PHI_LOW <= spec.phi <= PHI_HIGH:
        return None
    coefficients = (spec.alpha, spec.beta, spec.gamma)
    if any(not math.isclose(a, b) for a, b in zip(coefficients, _PAPER, strict=True)):
        return None
    return spec.phi


def measured_frame(models: tuple[Any, ...], measurements: list[dict]) -> pd.DataFrame:
    """This machine's measurements of curve configurations with the models' protocol (the
    newest clean one per φ and runtime), beside what the model predicts for them."""
    keys = {(m.machine, m.runtime, m.precision, m.batch_size): m for m in models}
    fit, found = published_fit(), {}
    for m in measurements:
        key = (m.get("environment_key"), m.get("runtime"), m.get("precision"), m.get("batch_size"))
        phi = _on_curve(m) if key in keys and m.get("latency_ms_median") else None
        if phi is None:
            continue
        old = found.get((phi, key))
        rank = (m.get("quality") == "clean", str(m.get("measured_at", "")))
        if old is None or rank >= (old[0].get("quality") == "clean", old[1]):
            found[(phi, key)] = (m, rank[1])
    rows = []
    for (phi, key), (m, _) in sorted(found.items(), key=lambda item: item[0][0]):
        network = from_phi(phi)
        predicted = keys[key].predict_ms(network)
        measured = float(m["latency_ms_median"])
        rows.append({
            "phi": phi, "latency_ms": measured, "predicted_ms": predicted,
            "error_pct": 100.0 * (predicted - measured) / measured, "runtime": key[1],
            "quality": m.get("quality"),
            "top1_estimate_pct": estimate_top1(network.macs, fit).top1_pct,
        })  # fmt: skip
    columns = ["phi", "latency_ms", "predicted_ms", "error_pct", "runtime", "quality",
               "top1_estimate_pct"]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


def curve_for(
    choice: CompareChoice, protocols: list[Protocol], measurements: list[dict]
) -> Curve | None:
    """The curve for the chart's runtime, precision and batch on this machine, or None (and a
    line naming the calibrate command) when this machine has no latency model for them."""
    from zoo import model_for

    models = tuple(m for m in (model_for(p) for p in protocols) if m is not None)
    if not models:
        runtime = protocols[0].runtime if len(protocols) == 1 else "openvino"
        st.caption(
            f"No latency model for {choice.runtime} {choice.precision}, batch {choice.batch} on "
            f"this machine, so no predicted compound-scaling curve: `python -m zoo calibrate "
            f"--runtime {runtime} --precision {choice.precision}` fits one (background jobs)."
        )
        return None
    key = tuple((m.machine, m.runtime, m.precision, m.batch_size, m.fitted_at) for m in models)
    key += (tuple(m.coefficients for m in models),)
    frame = _cached_frame(key, models)
    return Curve(frame, measured_frame(models, measurements), models)


def _hover(r: Any) -> str:
    where = "within" if r.calibrated else "<b>outside</b>"
    return (
        f"<b>φ={r.phi:g}</b> (α {PAPER_ALPHA}, β {PAPER_BETA}, γ {PAPER_GAMMA}): width ×{r.width:.3f},"
        f" depth ×{r.depth:.3f}, {r.resolution_px} px, {r.gmacs:.3f} GMACs<br>"
        f"<b>predicted</b> {r.predicted_ms:.2f} ms ({r.runtime} latency model; 80 % of held-out "
        f"measurements within {r.low_ms:.2f}–{r.high_ms:.2f}), {where} the calibrated range<br>"
        f"top-1 <b>estimate</b> {r.top1_estimate_pct:.1f} % ± {r.top1_loo_rmse_pct:.2f} (line over "
        "the published B0–B7 against log MACs; not a measurement)"
    )


def curve_traces(curve: Curve) -> list[go.Scatter]:
    """The curve (solid where calibrated, dotted where extrapolated) and its measured points."""
    frame = curve.frame
    hover = [_hover(r) for r in frame.itertuples()]
    inside = frame["calibrated"]
    traces = [
        go.Scatter(
            x=frame["predicted_ms"], y=frame["top1_estimate_pct"], mode="lines",
            name="compound scaling φ −1…7, predicted latency (extrapolated: dotted)",
            line={"color": CURVE_COLOUR, "dash": "dot", "width": 1}, hovertext=hover,
            hoverinfo="text",
        ),
        go.Scatter(
            x=frame["predicted_ms"].where(inside), y=frame["top1_estimate_pct"].where(inside),
            mode="lines", name="… within the calibrated range (top-1: estimate)",
            line={"color": CURVE_COLOUR, "width": 3}, hovertext=hover, hoverinfo="text",
        ),
    ]  # fmt: skip
    measured = curve.measured
    if not measured.empty:
        traces.append(
            go.Scatter(
                x=measured["latency_ms"], y=measured["top1_estimate_pct"], mode="markers",
                name="curve configurations measured here (latency measured, top-1 estimate)",
                marker={"size": 11, "symbol": "diamond", "color": CURVE_COLOUR},
                hovertext=[
                    f"<b>φ={r.phi:g}</b> measured {r.latency_ms:.2f} ms ({r.runtime}, "
                    f"{r.quality}); predicted {r.predicted_ms:.2f} ms ({r.error_pct:+.1f} %)"
                    for r in measured.itertuples()
                ],
                hoverinfo="text",
            )
        )  # fmt: skip
    return traces


def best_within(frame: pd.DataFrame, max_ms: float) -> pd.Series | None:
    """The curve's row with the highest estimated top-1 predicted within ``max_ms``."""
    fits = frame[frame["predicted_ms"] <= max_ms]
    return None if fits.empty else fits.loc[fits["top1_estimate_pct"].idxmax()]


def fastest_above(frame: pd.DataFrame, min_top1: float) -> pd.Series | None:
    """The curve's row predicted fastest among those with an estimated top-1 of ``min_top1``
    or more."""
    fits = frame[frame["top1_estimate_pct"] >= min_top1]
    return None if fits.empty else fits.loc[fits["predicted_ms"].idxmin()]


def _answer_text(row: pd.Series) -> str:
    outside = "" if row["calibrated"] else " (**extrapolated**: outside the calibrated range)"
    return (
        f"**φ = {row['phi']:g}**: width ×{row['width']:.3f}, depth ×{row['depth']:.3f}, "
        f"{row['resolution_px']} px, {row['gmacs']:.2f} GMACs; **predicted** "
        f"{row['predicted_ms']:.2f} ms on {row['runtime']} (80 %: {row['low_ms']:.2f}–"
        f"{row['high_ms']:.2f}){outside}; top-1 **estimate** {row['top1_estimate_pct']:.1f} % "
        f"± {row['top1_loo_rmse_pct']:.2f}."
    )


def _confirm(store, curve: Curve, row: pd.Series, protocols: list[Protocol], key: str) -> None:
    """The answer's measurement if it has landed, else a button that queues it."""
    from zoo import spec_from_phi

    done = curve.measured[curve.measured["phi"] == row["phi"]]
    if not done.empty:
        for m in done.itertuples():
            st.caption(
                f"Measured here: {m.latency_ms:.2f} ms on {m.runtime} ({m.quality}); the "
                f"prediction was {m.predicted_ms:.2f} ms ({m.error_pct:+.1f} %)."
            )
        return
    if store is None:
        st.caption("No measurement store is open, so it cannot be measured from here.")
        return
    if st.button(f"Measure φ = {row['phi']:g} to confirm", key=KEY + key):
        from dashboard.compare import measure_panel

        predicted_by = {m.runtime for m in curve.models}  # not every runtime of 'best'
        chosen = [p for p in protocols if p.runtime in predicted_by]
        measure_panel.submit(store, [spec_from_phi(float(row["phi"]))], chosen)


def budget_section(
    store: MeasurementStore | None, curve: Curve | None, protocols: list[Protocol]
) -> None:
    """The two budget questions, answered from the predicted curve, each with its measurement."""
    if curve is None:
        return
    frame = curve.frame
    st.subheader("Budget questions on this machine (predicted)")
    st.caption(
        "Answered from the green curve: latency **predicted** by this machine's latency model "
        f"({', '.join(f'{m.runtime} {m.precision}, batch {m.batch_size}' for m in curve.models)})"
        ", top-1 **estimated** from the network's MACs, along compound scaling with the paper's "
        "α, β, γ. A click measures the answer (a background job) so you can see the prediction "
        "confirmed or not."
    )
    fastest = float(frame["predicted_ms"].min())
    left, right = st.columns(2)
    with left:
        budget = st.number_input(
            "Latency budget (ms)", min_value=0.01, max_value=1e6, step=1.0, key=KEY + "budget_ms",
            value=float(math.ceil(frame.loc[frame["phi"] == 1.0, "predicted_ms"].iloc[0])),
        )  # fmt: skip
        row = best_within(frame, budget)
        st.markdown(f"Highest estimated top-1 within {budget:g} ms:")
        if row is None:
            st.info(f"None on the curve: the fastest, φ = {PHI_LOW:g}, is predicted at "
                    f"{fastest:.2f} ms.")  # fmt: skip
        else:
            st.markdown(_answer_text(row))
            _confirm(store, curve, row, protocols, "budget_measure")
    with right:
        floor = st.number_input(
            "Top-1 floor (%)", min_value=0.0, max_value=100.0, value=80.0, step=0.5,
            key=KEY + "top1_floor",
        )  # fmt: skip
        row = fastest_above(frame, floor)
        st.markdown(f"Fastest network with an estimated top-1 of {floor:g} % or more:")
        if row is None:
            best = float(frame["top1_estimate_pct"].max())
            st.info(f"None on the curve: its highest estimate is {best:.1f} % (φ = {PHI_HIGH:g}).")
        else:
            st.markdown(_answer_text(row))
            _confirm(store, curve, row, protocols, "floor_measure")
