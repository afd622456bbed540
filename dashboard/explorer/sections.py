"""The explorer page's lower sections: the formula against the official variants, networks of
equal cost, the accuracy estimate, and "measure and compare this configuration"; and why
picking a variant sets φ where it does.

Each takes the state and the network the page has already computed, so a rerun computes the
network once; the tables and figures that depend only on the coefficients are cached
(``st.cache_data``). How they compute: docs/explorer.md.
"""

from __future__ import annotations

from urllib.parse import quote

import streamlit as st

from dashboard.explorer import configs, state
from dashboard.explorer import figures as explorer_figures
from dashboard.explorer import tables as explorer_tables
from dashboard.explorer.state import KEY
from dashboard.measuring import queue, queue_panel
from explorer import (
    PUBLISHED_VARIANTS,
    ScaledNetwork,
    ScalingError,
    compound_multipliers,
    cost_matching_phi,
    from_variant,
    get_variant,
    implied_phi,
)
from explorer.equal_cost import equal_cost_networks
from explorer.estimate import estimate_top1, published_fit


def variant_phi(variant: str, alpha: float, beta: float, gamma: float) -> tuple[float | None, str]:
    """The φ that picking ``variant`` sets (None: φ is left alone), and why, in words.

    φ is where the formula's cost (α·β²·γ²)^φ × B0's MACs equals the variant's exact MACs; the
    published multipliers were picked by hand, so each dimension alone implies another φ.
    """
    name = f"EfficientNet-{variant.upper()}"
    official, net = get_variant(variant), from_variant(variant)
    try:
        exact = cost_matching_phi(net.macs, alpha, beta, gamma)
        constraint = compound_multipliers(1.0, alpha, beta, gamma).constraint
        implied = implied_phi(official, alpha, beta, gamma)
    except ScalingError as exc:
        return None, f"Picking {name} leaves φ as it is: {exc}."
    if exact is None:
        return None, (
            f"Picking {name} leaves φ as it is: with α·β²·γ² = {constraint:.3g} ≤ 1 the formula's "
            "cost does not grow with φ, so no φ matches its cost."
        )
    phi = min(max(round(exact, 2), state.PHI_MIN), state.PHI_MAX)
    if variant == "b0":
        return phi, f"{name} is the base network: φ = 0, every multiplier 1."
    k = PUBLISHED_VARIANTS.index(variant) if variant in PUBLISHED_VARIANTS else None
    head = f"**{name} → φ = {phi:g}**" + ("" if k in (None, phi) else f", not {k}")
    if phi != round(exact, 2):
        head += f" (the match, {exact:.2f}, is off the slider)"

    def shown(value: float | None) -> str:
        return "any" if value is None else f"{value:.2f}"

    return phi, (
        f"{head}: φ is set where the formula's cost, {constraint:.3g}^φ × B0's MACs, equals "
        f"{name}'s exact {net.macs / 1e9:.3g} G MACs. Its published multipliers were picked by "
        f"hand (depth {official.depth_multiplier:g}, width {official.width_multiplier:g}, "
        f"{official.resolution} px), not computed as α^φ, β^φ, γ^φ: alone they would need "
        f"φ = {shown(implied.depth)}, {shown(implied.width)} and {shown(implied.resolution)}. "
        f"So compound mode at φ = {phi:g} is a network of {name}'s cost, not {name} itself "
        "(the official-variant mode shows that)."
    )


@st.cache_data(show_spinner=False)
def _formula_table(alpha: float, beta: float, gamma: float):
    return explorer_tables.formula_vs_official_frame(alpha, beta, gamma)


@st.cache_data(show_spinner=False)
def _paper_vs_exact():
    return explorer_tables.paper_vs_exact_frame()


@st.cache_data(show_spinner=False)
def _table7():
    return explorer_tables.table7_frame()


@st.cache_data(show_spinner=False, max_entries=256)
def _formula_figure(alpha: float, beta: float, gamma: float, phi: float):
    return explorer_figures.formula_figure(alpha, beta, gamma, phi, (state.PHI_MIN, state.PHI_MAX))


def formula_section(current: state.ExplorerState, network: ScaledNetwork) -> None:
    st.subheader("Formula against published B0–B7")
    st.caption(
        "The official B1–B7 width, depth and resolution are hand-rounded, not α^φ, β^φ, γ^φ: "
        "the curves use the coefficients above, the diamonds are the published values "
        "(drawn at φ = 1 … 7)."
    )
    try:
        fig = _formula_figure(current.alpha, current.beta, current.gamma, current.phi)
        frame = _formula_table(current.alpha, current.beta, current.gamma)
    except ScalingError as exc:
        st.error(f"Cannot draw the formula curves: {exc}")
        return
    st.plotly_chart(fig, key=KEY + "formula_chart")
    st.markdown("**Published against formula** (φ = k for Bk; differences in %)")
    st.dataframe(frame.round(3), key=KEY + "formula_table", hide_index=True)
    st.markdown(
        "**Paper Table 2 against the exact count** (params; FLOPs, which are MACs, at the "
        "official resolution; differences in %)"
    )
    st.caption(
        "The paper prints rounded numbers, and some rows are off by more than the rounding: "
        "B2's 9.2M parameters are 9,109,994 (9.1M) exactly, and B4's and B5's 4.2B and 9.9B "
        "FLOPs are 4.39 and 10.27 G MACs. torchvision's published counts equal the exact ones."
    )
    st.dataframe(
        _paper_vs_exact().round(3),
        key=KEY + "paper_table",
        hide_index=True,
        column_config={
            "exact_params": st.column_config.NumberColumn(format="localized"),
            "torchvision_params": st.column_config.NumberColumn(format="localized"),
        },
    )


def equal_cost_section(network: ScaledNetwork) -> None:
    st.subheader("Single-dimension scaling at equal cost")
    st.caption(
        f"For this network's {network.macs:,} MACs: B0 scaled in one dimension only, "
        "to the nearest reachable cost (exact MACs). The paper's Table 7 (about 1.8 G MACs, "
        "v1–v3 accuracies) is shown for reference."
    )
    eq = equal_cost_networks(network.macs)
    st.dataframe(
        explorer_tables.equal_cost_frame(network, eq).round(4),
        key=KEY + "equal_cost_table",
        hide_index=True,
        column_config={
            "params": st.column_config.NumberColumn(format="localized"),
            "macs": st.column_config.NumberColumn("MACs", format="localized"),
        },
    )
    if any(e.at_bound for e in eq):
        st.caption(
            "reachable = False: that dimension alone cannot reach this cost within the "
            "explorer's limits (depth ≤ 16×, width ≤ 16×, 32–4096 px); the row shows the "
            "nearest end."
        )
    st.markdown("**Paper Table 7** (B0 scaled to about 1.8 G MACs; ImageNet top-1, v1–v3)")
    st.dataframe(_table7(), key=KEY + "table7", hide_index=True)


def estimate_section(network: ScaledNetwork) -> None:
    st.subheader("Accuracy estimate (a fit, not a measurement)")
    fit = published_fit()
    est = estimate_top1(network.macs, fit)
    left, right = st.columns([1, 2])
    with left:
        st.metric(
            "Estimated ImageNet top-1",
            f"{est.top1_pct:.1f} % ± {est.loo_rmse_pct:.1f}",
            help="A least-squares line of top-1 against log10(MACs) over the published "
            "B0–B7; ± is the fit's leave-one-out RMSE.",
        )
        st.caption(
            f"Estimate only: {est.source}. Leave-one-out RMSE {est.loo_rmse_pct:.2f} points, "
            f"MAE {est.loo_mae_pct:.2f} points, over {est.n_points} points. Real accuracy "
            "also depends on the training recipe and on which dimension was scaled."
        )
        if est.extrapolated:
            st.warning(
                "Extrapolated: this configuration's MACs lie outside B0–B7's range, where "
                "the fit has no data."
            )
    with right:
        st.plotly_chart(explorer_figures.estimate_figure(fit, est), key=KEY + "estimate_chart")


def measure_section(current: state.ExplorerState, network: ScaledNetwork) -> None:
    """Queue this exact network for a latency measurement and put it on the compare chart."""
    st.subheader("Measure and compare this configuration")
    token = configs.token_of(current)
    st.caption(
        "Queues a latency measurement of this exact network (batch 1, fp32, on this machine's "
        "CPU with the runtime that is usually fastest here) as a background job, and opens it on "
        "the compare chart as a series of its own: its MACs and params at once, its latency "
        "when the job lands, and top-1 as the estimate above (± its leave-one-out error), never "
        "mixed into the published results' Pareto front unless you ask."
    )
    if st.button("Measure and compare this configuration", key=KEY + "measure", type="primary"):
        problems = _submit_configuration(token)
        for problem in problems:
            st.error(f"Refused: {problem}")
        if not problems:
            st.session_state[KEY + "submitted"] = token
    if st.session_state.get(KEY + "submitted") == token:
        st.success(f"Queued {network.label}: it runs in the background (you may leave).")
        st.markdown(
            f"[Open it on the compare chart →](compare?{configs.CONFIG_PARAM}={quote(token)})"
        )


def _submit_configuration(token: str) -> list[str]:
    """Queue the configuration's measurement; the problems (empty: queued)."""
    from zoo import preferred_protocol

    location = queue_panel.store_location()
    store, problem = queue_panel.open_store(location)
    if store is None:
        return [str(problem)]
    try:
        spec = configs.spec_of(configs.parse_token(token))
    except ValueError as exc:  # ZooError included: the zoo cannot build this configuration
        return [str(exc)]
    protocol = preferred_protocol("cpu")  # what the first-run sweep measures with
    _, problems = queue_panel.submit(
        store, [spec], [protocol], requested_by=queue.requester(queue_panel.session_id())
    )
    if not problems and queue_panel.worker_enabled():
        queue_panel.start_worker(location)
        queue_panel.keep_worker(location)
    return problems
