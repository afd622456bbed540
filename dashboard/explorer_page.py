"""Explorer page: drag φ (or pick a variant, or type w/d/r) and see the exact scaled EfficientNet.

Layout only: the numbers come from ``explorer`` (standard library), the frames from
``dashboard.tables`` and the figures from ``dashboard.figures``. This module must not import
torch, timm or the zoo, so the page opens fast (a test checks it); "Measure and compare this
configuration" imports the zoo when clicked, to queue the job.
"""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import quote

import streamlit as st

from dashboard import configs, figures, queue, queue_panel, state, tables
from explorer import (
    ScaledNetwork,
    ScalingError,
    compound_multipliers,
    cost_matching_phi,
    from_multipliers,
    from_phi,
    from_variant,
    official_variant_names,
)
from explorer.equal_cost import equal_cost_networks
from explorer.estimate import estimate_top1, published_fit

KEY = "explorer_"  # every widget key on this page starts with it


# --------------------------------------------------------------------------- cached values


@st.cache_data(show_spinner=False)
def _formula_table(alpha: float, beta: float, gamma: float):
    return tables.formula_vs_official_frame(alpha, beta, gamma)


@st.cache_data(show_spinner=False)
def _paper_vs_exact():
    return tables.paper_vs_exact_frame()


@st.cache_data(show_spinner=False)
def _table7():
    return tables.table7_frame()


@st.cache_data(show_spinner=False)
def _drawing_frame() -> tuple[float, float]:
    # The picture's axes are fixed at B7's size, so B0 looks small and φ = 7 fills the frame.
    return figures.network_extent(from_variant("b7"))


@st.cache_data(show_spinner=False, max_entries=256)
def _formula_figure(alpha: float, beta: float, gamma: float, phi: float):
    return figures.formula_figure(alpha, beta, gamma, phi, (state.PHI_MIN, state.PHI_MAX))


# --------------------------------------------------------------------------- state


_FIELDS = ("mode", "variant", "phi", "alpha", "beta", "gamma", "width", "depth", "resolution")
_SAVED = KEY + "saved"  # the page's state as a plain ExplorerState (not a widget value)


def _saved() -> state.ExplorerState:
    return st.session_state[_SAVED]


def _init_session() -> None:
    """Keep the page's state outside the widgets and give each widget its value before drawing.

    Why: Streamlit forgets a widget's value when a run does not draw it (on another page, or the
    w/d/r inputs outside explicit mode), and may then bring back an old value. So the state
    lives in one plain ``ExplorerState`` (read from the URL on a session's first run); every
    run copies it into the widget keys before the widgets exist, and each widget's
    ``on_change`` copies the user's change back (Streamlit's documented pattern for keeping
    widget values across pages).
    """
    if _SAVED not in st.session_state:
        parsed, warnings = state.parse_query_params(
            {key: st.query_params.get_all(key) for key in st.query_params}
        )
        st.session_state[KEY + "query_warnings"] = warnings
        st.session_state[_SAVED] = replace(
            parsed, phi=min(max(parsed.phi, state.PHI_MIN), state.PHI_MAX)
        )
    saved = _saved()
    for name in _FIELDS:
        st.session_state[KEY + name] = getattr(saved, name)


def _store(name: str) -> None:
    """on_change of the widget for ``name``: the user's value becomes the page's state."""
    value = st.session_state[KEY + name]
    if name == "resolution":
        value = int(value)
    elif name in ("phi", "alpha", "beta", "gamma", "width", "depth"):
        value = float(value)
    st.session_state[_SAVED] = replace(_saved(), **{name: value})


def _on_variant_change() -> None:
    """Use the chosen variant as a starting point for the other two modes."""
    _store("variant")
    saved = _saved()
    try:
        net = from_variant(saved.variant)
    except ScalingError:
        return
    changes: dict[str, object] = {
        "width": net.width_multiplier,
        "depth": net.depth_multiplier,
        "resolution": net.resolution,
    }
    # φ at which the compound formula costs what this variant costs.
    try:
        phi = cost_matching_phi(net.macs, saved.alpha, saved.beta, saved.gamma)
    except ScalingError:
        phi = None
    if phi is not None:
        changes["phi"] = min(max(round(phi, 2), state.PHI_MIN), state.PHI_MAX)
    st.session_state[_SAVED] = replace(saved, **changes)


def _current_state() -> state.ExplorerState:
    return _saved()


def _sync_url(current: state.ExplorerState) -> None:
    """Write this page's keys to the URL (and drop those at their default); other pages' keys,
    such as the compare page's ``acc``, are left alone."""
    wanted = state.to_query_params(current)
    for key in state.QUERY_KEYS:
        if key in wanted and st.query_params.get(key) != wanted[key]:
            st.query_params[key] = wanted[key]
        elif key not in wanted and key in st.query_params:
            del st.query_params[key]


# --------------------------------------------------------------------------- formatting


def _count(value: float) -> str:
    for unit, scale in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(value) >= scale:
            return f"{value / scale:.3g} {unit}"
    return f"{value:.3g}"


def _delta(value: float, base: float) -> str:
    if base == 0:
        return ""
    change = 100.0 * (value / base - 1.0)
    if abs(change) < 0.05:
        return "= B0"
    return f"{change:+.1f} % vs B0"


# --------------------------------------------------------------------------- page


def render() -> None:
    _init_session()
    st.title("Compound-scaling explorer")
    st.caption(
        "EfficientNet-B0 scaled by depth d = α^φ, width w = β^φ and resolution r = γ^φ "
        "(Tan & Le 2019, eq. 3), with the reference code's exact rounding. Every number is "
        "computed exactly, without building a model. MACs are multiply-accumulates "
        '(the paper\'s "FLOPs"); FLOPs are shown as 2 × MACs.'
    )
    for warning in st.session_state.pop(KEY + "query_warnings", []):
        st.warning(f"URL: {warning}")  # once: the URL is only read on the first run

    top = st.columns([2, 1])
    with top[0]:
        st.radio(
            "Mode",
            state.MODES,
            format_func=state.MODE_LABELS.__getitem__,
            horizontal=True,
            key=KEY + "mode",
            on_change=_store,
            args=("mode",),
        )
    with top[1]:
        st.selectbox(
            "Official variant (starting point)",
            official_variant_names(),
            format_func=lambda v: f"EfficientNet-{v.upper()}",
            key=KEY + "variant",
            on_change=_on_variant_change,
            help="Picking a variant also fills the explicit w/d/r fields and sets φ to the "
            "value whose compound cost matches the variant's MACs.",
        )
    mode = st.session_state[KEY + "mode"]

    controls = st.columns([3, 1, 1, 1])
    with controls[0]:
        st.slider(
            "Compound coefficient φ",
            min_value=state.PHI_MIN,
            max_value=state.PHI_MAX,
            step=state.PHI_STEP,
            key=KEY + "phi",
            on_change=_store,
            args=("phi",),
            disabled=mode != "phi",
        )
    for column, name, symbol, helptext in (
        (controls[1], "alpha", "α (depth)", "depth base; the paper's grid search gave 1.2"),
        (controls[2], "beta", "β (width)", "width base; the paper's grid search gave 1.1"),
        (controls[3], "gamma", "γ (resolution)", "resolution base; the paper's gave 1.15"),
    ):
        with column:
            st.number_input(
                symbol,
                min_value=state.COEFFICIENT_MIN,
                max_value=state.COEFFICIENT_MAX,
                step=0.01,
                format="%.3f",
                key=KEY + name,
                on_change=_store,
                args=(name,),
                help=helptext,
                disabled=mode != "phi",
            )
    if mode == "explicit":
        inputs = (
            ("width", "width multiplier w", state.WIDTH_MIN, state.WIDTH_MAX, 0.05, "%.3f"),
            ("depth", "depth multiplier d", state.DEPTH_MIN, state.DEPTH_MAX, 0.05, "%.3f"),
            ("resolution", "resolution (px)", state.RESOLUTION_MIN, state.RESOLUTION_MAX, 8, None),
        )
        for column, (name, label, low, high, step, number_format) in zip(
            st.columns(len(inputs)), inputs, strict=True
        ):
            with column:
                st.number_input(
                    label,
                    min_value=low,
                    max_value=high,
                    step=step,
                    format=number_format,
                    key=KEY + name,
                    on_change=_store,
                    args=(name,),
                )

    current = _current_state()
    _sync_url(current)

    # The constraint and the FLOPs factor, live (they only depend on α, β, γ and φ).
    try:
        m = compound_multipliers(current.phi, current.alpha, current.beta, current.gamma)
    except ScalingError as exc:
        m = None
        if mode == "phi":
            st.error(f"Invalid coefficients: {exc}")
            return
    if mode == "phi" and m is not None:
        info = st.columns(3)
        info[0].metric(
            "Constraint α·β²·γ²",
            f"{m.constraint:.4f}",
            help="The paper asks for ≈ 2 (its α, β, γ give 1.92); MACs grow by this per unit φ.",
        )
        info[1].metric("FLOPs factor (α·β²·γ²)^φ", f"{m.flops_factor:.3f}×")
        info[2].metric("α^φ, β^φ, γ^φ", f"{m.depth:.3f}, {m.width:.3f}, {m.resolution:.3f}")
        if min(current.alpha, current.beta, current.gamma) < 1.0:
            st.warning("The paper requires α, β, γ ≥ 1 (scaling up never removes capacity).")
        elif abs(m.constraint - 2.0) > 0.5:
            st.warning(
                f"α·β²·γ² = {m.constraint:.3f} is far from the paper's ≈ 2: one unit of φ no "
                "longer doubles the cost."
            )

    try:
        network = _network(current)
    except ScalingError as exc:
        st.error(f"Invalid configuration: {exc}")
        return
    b0 = from_variant("b0")
    _headline(network, b0)
    _picture_and_table(network)
    _formula_section(current, network)
    _equal_cost_section(network)
    _estimate_section(network)
    _measure_section(current, network)


def _network(current: state.ExplorerState) -> ScaledNetwork:
    if current.mode == "variant":
        return from_variant(current.variant)
    if current.mode == "explicit":
        return from_multipliers(current.width, current.depth, current.resolution)
    return from_phi(current.phi, current.alpha, current.beta, current.gamma)


def _headline(network: ScaledNetwork, b0: ScaledNetwork) -> None:
    st.subheader(network.label)
    row1 = st.columns(4)
    row1[0].metric(
        "Depth multiplier",
        f"{network.depth_multiplier:.3f}",
        _delta(network.depth_multiplier, 1.0),
    )
    row1[1].metric(
        "Width multiplier",
        f"{network.width_multiplier:.3f}",
        _delta(network.width_multiplier, 1.0),
    )
    row1[2].metric(
        "Resolution multiplier",
        f"{network.resolution_multiplier:.3f}",
        _delta(network.resolution_multiplier, 1.0),
    )
    row1[3].metric(
        "Resolution",
        f"{network.resolution} px",
        _delta(network.resolution, b0.resolution),
    )
    row2 = st.columns(4)
    row2[0].metric(
        "Params",
        _count(network.params),
        _delta(network.params, b0.params),
        help=f"{network.params:,} parameters (exact)",
    )
    row2[1].metric(
        "MACs",
        _count(network.macs),
        _delta(network.macs, b0.macs),
        help=f"{network.macs:,} multiply-accumulates (exact)",
    )
    row2[2].metric(
        "FLOPs (= 2 × MACs)",
        _count(network.flops),
        _delta(network.flops, b0.flops),
        help=f"{network.flops:,} FLOPs, counted as 2 × MACs",
    )
    row2[3].metric(
        "Total blocks", f"{network.total_blocks}", _delta(network.total_blocks, b0.total_blocks)
    )


def _picture_and_table(network: ScaledNetwork) -> None:
    st.plotly_chart(
        figures.network_figure(network, _drawing_frame()),
        key=KEY + "network_chart",
    )
    st.markdown("**Per-stage table**")
    st.dataframe(
        tables.stage_frame(network),
        key=KEY + "stage_table",
        hide_index=True,
        column_config={
            "params": st.column_config.NumberColumn(format="localized"),
            "macs": st.column_config.NumberColumn("MACs", format="localized"),
            "macs_share_pct": st.column_config.NumberColumn("MACs share %", format="%.1f"),
        },
    )


def _formula_section(current: state.ExplorerState, network: ScaledNetwork) -> None:
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


def _equal_cost_section(network: ScaledNetwork) -> None:
    st.subheader("Single-dimension scaling at equal cost")
    st.caption(
        f"For this network's {network.macs:,} MACs: B0 scaled in one dimension only, "
        "to the nearest reachable cost (exact MACs). The paper's Table 7 (about 1.8 G MACs, "
        "v1–v3 accuracies) is shown for reference."
    )
    eq = equal_cost_networks(network.macs)
    st.dataframe(
        tables.equal_cost_frame(network, eq).round(4),
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


def _estimate_section(network: ScaledNetwork) -> None:
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
        st.plotly_chart(figures.estimate_figure(fit, est), key=KEY + "estimate_chart")


def _measure_section(current: state.ExplorerState, network: ScaledNetwork) -> None:
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
    from zoo.measure import preferred_runtime
    from zoo.protocol import Protocol

    location = queue_panel.store_location()
    store, problem = queue_panel.open_store(location)
    if store is None:
        return [str(problem)]
    try:
        spec = configs.spec_of(configs.parse_token(token))
    except ValueError as exc:  # ZooError included: the zoo cannot build this configuration
        return [str(exc)]
    protocol = Protocol(device="cpu", batch_size=1, runtime=preferred_runtime("cpu"))
    _, problems = queue_panel.submit(
        store, [spec], [protocol], requested_by=queue.requester(queue_panel.session_id())
    )
    if not problems and queue_panel.worker_enabled():
        queue_panel.start_worker(location)
        queue_panel.keep_worker(location)
    return problems
