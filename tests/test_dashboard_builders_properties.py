"""Every table and figure builder of the dashboard, over the whole range the pages accept.

The explorer page accepts (``dashboard.state``) φ in [-2, 9], α, β, γ in (0, 10], w and d in
[0.05, 16] and 32 … 4096 px. For every accepted value either the explorer refuses the
configuration (``ScalingError``, which the page shows inline) or every builder the page calls
returns a frame or a figure: no other exception. The compare side gets measurement records
with any numbers a store could hold.
"""

from __future__ import annotations

import math

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dashboard import figures, state, tables
from explorer import ScalingError, from_multipliers, from_phi, from_variant
from explorer.equal_cost import equal_cost_networks
from explorer.estimate import estimate_top1, published_fit
from tests.fakes import fake_measurement

SWEEP = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])

phis = st.floats(state.PHI_MIN, state.PHI_MAX)
# (0, 10]: tiny, near 1, and large bases, as the URL and the number inputs accept them.
coefficients = st.floats(
    state.COEFFICIENT_MIN, state.COEFFICIENT_MAX, exclude_min=True
) | st.sampled_from([1e-300, 1e-6, 0.2, 0.3, 0.41, 1.0, state.COEFFICIENT_MAX])
widths = st.floats(state.WIDTH_MIN, state.WIDTH_MAX)
depths = st.floats(state.DEPTH_MIN, state.DEPTH_MAX)
resolutions = st.integers(state.RESOLUTION_MIN, state.RESOLUTION_MAX)


def build_everything(network, alpha: float, beta: float, gamma: float, phi: float) -> None:
    """What the explorer page draws for a network, table by table, figure by figure."""
    assert isinstance(tables.stage_frame(network), pd.DataFrame)
    assert figures.network_figure(network, figures.network_extent(from_variant("b7")))
    try:
        formula = tables.formula_vs_official_frame(alpha, beta, gamma)
        assert figures.formula_figure(alpha, beta, gamma, phi)
    except ScalingError:
        # Bases the explorer refuses (below 1e-6): the page says "Cannot draw the formula
        # curves: …" instead of the two.
        assert min(alpha, beta, gamma) < 1e-6
    else:
        assert len(formula) == 8
        for column in ("depth_diff_pct", "width_diff_pct", "resolution_diff_pct"):
            values = formula[column].dropna()
            assert all(math.isfinite(v) for v in values), column
    eq = equal_cost_networks(network.macs)
    assert isinstance(tables.equal_cost_frame(network, eq), pd.DataFrame)
    fit = published_fit()
    assert figures.estimate_figure(fit, estimate_top1(network.macs, fit))


@SWEEP
@given(phi=phis, alpha=coefficients, beta=coefficients, gamma=coefficients)
def test_compound_mode_builders(phi, alpha, beta, gamma):
    try:
        network = from_phi(phi, alpha, beta, gamma)
    except ScalingError:
        network = from_phi(0.0)  # the page says the configuration is invalid; tables still run
    build_everything(network, alpha, beta, gamma, phi)


@SWEEP
@given(width=widths, depth=depths, resolution=resolutions, gamma=coefficients)
def test_explicit_mode_builders(width, depth, resolution, gamma):
    build_everything(from_multipliers(width, depth, resolution), 1.2, 1.1, gamma, 0.0)


def test_fixed_tables_build():
    assert len(tables.paper_vs_exact_frame()) == 8
    assert len(tables.table7_frame()) == 5


numbers = st.none() | st.floats(allow_nan=True, allow_infinity=True) | st.floats(1e-3, 1e5)


@settings(max_examples=150, deadline=None)
@given(
    latencies=st.lists(numbers, min_size=0, max_size=6),
    axis=st.sampled_from(sorted(figures.COMPARE_AXES)),
    batch=st.sampled_from([1, 8, 64]),
)
def test_compare_builders_with_any_stored_numbers(latencies, axis, batch):
    reference = tables.reference_frame()
    models = list(reference["model"])[: len(latencies)]
    rows = [
        fake_measurement(
            model=model,
            resolution=int(reference.loc[reference["model"] == model, "resolution_px"].iloc[0]),
            latency_ms_median=latency,
            latency_ms_p90=latency,
            throughput_ips=latency,
        ).to_dict()
        for model, latency in zip(models, latencies, strict=False)
    ]
    frame = tables.compare_frame(reference, rows)
    assert len(frame) == len(reference)
    overlay = tables.published_gpu_frame(reference)
    assert figures.compare_figure(frame, axis, overlay, batch_size=batch)


@given(
    labels=st.lists(st.text(max_size=30), min_size=0, max_size=5),
    probabilities=st.lists(st.floats(0, 1), min_size=0, max_size=5),
)
def test_top5_figure_any_labels(labels, probabilities):
    n = min(len(labels), len(probabilities))
    assert figures.top5_figure(labels[:n], probabilities[:n], "title")
