"""Every table and figure builder of the dashboard, over the whole range the pages accept.

The explorer page accepts (``dashboard.state``) φ in [-2, 9], α, β, γ in (0, 10], w and d in
[0.05, 16] and 32 … 4096 px. For every accepted value either the explorer refuses the
configuration (``ScalingError``, which the page shows inline) or every builder the page calls
returns a frame or a figure: no other exception. The compare side gets measurement records
with any numbers a store could hold.
"""

from __future__ import annotations

import math
import numbers

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dashboard.classify import figures as classify_figures
from dashboard.compare import figure as compare_fig
from dashboard.compare import reference as compare_reference
from dashboard.compare import series
from dashboard.explorer import figures as explorer_figures
from dashboard.explorer import state
from dashboard.explorer import tables as explorer_tables
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


def drawn(fig) -> list[float]:
    """Every x and y value a figure draws (None is a gap in a line); each must be a finite
    number. A Figure itself is always truthy, so this is what a builder's test checks."""
    values = [
        v
        for trace in fig.data
        for axis in ("x", "y")
        for v in (getattr(trace, axis) or ())
        if v is not None
    ]
    assert all(isinstance(v, numbers.Real) and math.isfinite(v) for v in values), values[:10]
    return values


def build_everything(network, alpha: float, beta: float, gamma: float, phi: float) -> None:
    """What the explorer page draws for a network, table by table, figure by figure."""
    assert isinstance(explorer_tables.stage_frame(network), pd.DataFrame)
    picture = explorer_figures.network_figure(
        network, explorer_figures.network_extent(from_variant("b7"))
    )
    assert drawn(picture)
    try:
        formula = explorer_tables.formula_vs_official_frame(alpha, beta, gamma)
        assert drawn(explorer_figures.formula_figure(alpha, beta, gamma, phi))
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
    assert isinstance(explorer_tables.equal_cost_frame(network, eq), pd.DataFrame)
    fit = published_fit()
    estimate = estimate_top1(network.macs, fit)
    figure = explorer_figures.estimate_figure(fit, estimate)
    assert drawn(figure) and figure.data[-1].y[0] == estimate.top1_pct


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
    assert len(explorer_tables.paper_vs_exact_frame()) == 8
    assert len(explorer_tables.table7_frame()) == 5


stored_numbers = st.none() | st.floats(allow_nan=True, allow_infinity=True) | st.floats(1e-3, 1e5)


@settings(max_examples=150, deadline=None)
@given(
    latencies=st.lists(stored_numbers, min_size=0, max_size=6),
    axis=st.sampled_from(sorted(compare_fig.COMPARE_AXES)),
    batch=st.sampled_from([1, 8, 64]),
)
def test_compare_builders_with_any_stored_numbers(latencies, axis, batch):
    reference = compare_reference.reference_frame()
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
    frame = series.compare_frame(reference, rows)
    assert len(frame) == len(reference)
    overlay = compare_reference.published_gpu_frame(reference)
    figure = compare_fig.compare_figure(frame, axis, overlay, batch_size=batch)
    column = compare_fig.COMPARE_AXES[axis][0]
    plotted = frame[frame[column].notna() & frame["top1_pct"].notna()]
    points = [t for t in figure.data if t.mode == "markers+text"]
    assert sum(len(t.x) for t in points) == len(plotted)


@given(
    labels=st.lists(st.text(max_size=30), min_size=0, max_size=5),
    probabilities=st.lists(st.floats(0, 1), min_size=0, max_size=5),
)
def test_top5_figure_any_labels(labels, probabilities):
    n = min(len(labels), len(probabilities))
    bars = classify_figures.top5_figure(labels[:n], probabilities[:n], "title").data[0]
    assert list(bars.y) == list(labels[:n])[::-1]  # most likely on top
    assert list(bars.x) == [pytest.approx(100 * p) for p in probabilities[:n]][::-1]
