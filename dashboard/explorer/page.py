"""Explorer page: for any φ and α, β, γ (or explicit width, depth, resolution) the exact scaled
network, its cost and a drawing, instantly; the state lives in the URL.

Why it never imports torch, timm or the zoo (a test checks): the page must answer as the slider
moves. What it shows and how it computes: docs/explorer.md.
"""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

from dashboard.explorer import figures as explorer_figures
from dashboard.explorer import sections, state
from dashboard.explorer import tables as explorer_tables
from dashboard.explorer.prediction import prediction_section
from dashboard.explorer.profile_view import profile_section
from dashboard.explorer.state import KEY
from explorer import (
    ScaledNetwork,
    ScalingError,
    compound_multipliers,
    from_multipliers,
    from_phi,
    from_variant,
    official_variant_names,
)
from explorer.rounding import rounding_note, rounding_report


@st.cache_data(show_spinner=False)
def _drawing_frame() -> tuple[float, float]:
    # Fixed at the largest network the slider reaches with the paper's α, β, γ (φ = 9, larger
    # than B7), so moving φ grows the boxes in place; only a larger network widens the frame.
    return explorer_figures.network_extent(from_phi(state.PHI_MAX))


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
    # φ at which the compound formula costs what this variant costs (why: the caption below
    # the slider, from the same function).
    phi, _ = sections.variant_phi(saved.variant, saved.alpha, saved.beta, saved.gamma)
    if phi is not None:
        changes["phi"] = phi
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


def _count(value: float) -> str:
    for unit, scale in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(value) >= scale:
            return f"{value / scale:.3g} {unit}"
    return f"{value:.3g}"


def _metric(column, label: str, shown: str, value: float, base: float, help: str | None = None):
    """A headline number and its change against B0. Unchanged: the grey words "same as B0" and
    no arrow (Streamlit draws a green up arrow for any text delta); changed: a grey arrow, since
    a larger network is neither better nor worse."""
    if value == base or (isinstance(value, float) and abs(value - base) < 5e-4 * abs(base)):
        column.metric(label, shown, "same as B0", delta_color="off", delta_arrow="off", help=help)
        return
    change = 100.0 * (value / base - 1.0)
    text = f"{change:+.1f} % vs B0" if abs(change) >= 0.05 else f"{change:+.3f} % vs B0"
    column.metric(label, shown, text, delta_color="off", help=help)


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
            "value whose compound cost matches the variant's MACs (why: under the slider).",
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
    if mode != "explicit" and current.variant != "b0":
        # Why the variant's φ is what it is, under the slider, while φ is the variant's.
        variant_phi, why = sections.variant_phi(
            current.variant, current.alpha, current.beta, current.gamma
        )
        if mode == "variant" or current.phi == variant_phi:
            st.caption(why)

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
    prediction_section(network)
    profile_section(network)
    sections.formula_section(current, network)
    sections.equal_cost_section(network)
    sections.estimate_section(network)
    sections.measure_section(current, network)


def _network(current: state.ExplorerState) -> ScaledNetwork:
    if current.mode == "variant":
        return from_variant(current.variant)
    if current.mode == "explicit":
        return from_multipliers(current.width, current.depth, current.resolution)
    return from_phi(current.phi, current.alpha, current.beta, current.gamma)


def _headline(network: ScaledNetwork, b0: ScaledNetwork) -> None:
    st.subheader(network.label)
    row1 = st.columns(4)
    for column, label, value in (
        (row1[0], "Depth multiplier", network.depth_multiplier),
        (row1[1], "Width multiplier", network.width_multiplier),
        (row1[2], "Resolution multiplier", network.resolution_multiplier),
    ):
        _metric(column, label, f"{value:.3f}", float(value), 1.0)
    _metric(row1[3], "Resolution", f"{network.resolution} px", network.resolution, b0.resolution)
    row2 = st.columns(4)
    _metric(
        row2[0],
        "Params",
        _count(network.params),
        network.params,
        b0.params,
        help=f"{network.params:,} parameters (exact)",
    )
    _metric(
        row2[1],
        "MACs",
        _count(network.macs),
        network.macs,
        b0.macs,
        help=f"{network.macs:,} multiply-accumulates (exact)",
    )
    _metric(
        row2[2],
        "FLOPs (= 2 × MACs)",
        _count(network.flops),
        network.flops,
        b0.flops,
        help=f"{network.flops:,} FLOPs, counted as 2 × MACs",
    )
    _metric(
        row2[3],
        "Total blocks",
        f"{network.total_blocks}",
        network.total_blocks,
        b0.total_blocks,
        help="blocks summed over the seven stages (B0 has 16)",
    )
    note = rounding_note(rounding_report(network))
    if note:
        st.info(f"**Rounding:** {note}")


def _picture_and_table(network: ScaledNetwork) -> None:
    st.caption(
        f"The frame is sized for φ = {state.PHI_MAX:g} with the paper's α, β, γ and stays fixed: "
        "a larger φ draws larger boxes, and only a larger network widens the frame. Hover a box "
        "for all its numbers, including what rounding did to its repeats and channels."
    )
    st.plotly_chart(
        explorer_figures.network_figure(network, _drawing_frame()),
        key=KEY + "network_chart",
    )
    st.markdown("**Per-stage table**")
    st.dataframe(
        explorer_tables.stage_frame(network),
        key=KEY + "stage_table",
        hide_index=True,
        column_config={
            "out_channels_exact": st.column_config.NumberColumn(
                "w × B0 channels", format="%.2f", help="before rounding to a multiple of 8"
            ),
            "repeats_exact": st.column_config.NumberColumn(
                "d × B0 repeats", format="%.3f", help="before rounding up (ceil)"
            ),
            "params": st.column_config.NumberColumn(format="localized"),
            "macs": st.column_config.NumberColumn("MACs", format="localized"),
            "macs_share_pct": st.column_config.NumberColumn("MACs share %", format="%.1f"),
        },
    )
