"""The top-1 estimate (explorer/estimate.py), checked against an independent numpy fit."""

from __future__ import annotations

import math

import numpy as np
import pytest

import data
from explorer import ScalingError, from_variant
from explorer.estimate import FitPoint, estimate_top1, fit_line, fit_points, published_fit

VARIANTS = ["b0", "b1", "b2", "b3", "b4", "b5", "b6", "b7"]


def _published() -> tuple[np.ndarray, np.ndarray]:
    top1 = {
        r["arch"]: r["top1_pct"]
        for r in data.load_rows("paper_table2")
        if r["arxiv_version"] == "v5"
    }
    ys = np.array([top1[f"efficientnet_{v}"] for v in VARIANTS], dtype=float)
    xs = np.log10([from_variant(v).macs for v in VARIANTS])
    return xs, ys


def test_fit_matches_numpy_polyfit_and_loo():
    xs, ys = _published()
    slope, intercept = np.polyfit(xs, ys, 1)
    fit = published_fit()
    assert fit.slope == pytest.approx(slope, rel=1e-9)
    assert fit.intercept == pytest.approx(intercept, rel=1e-9)
    residuals = []
    for i in range(len(xs)):
        keep = np.arange(len(xs)) != i
        b, a = np.polyfit(xs[keep], ys[keep], 1)
        residuals.append(ys[i] - (a + b * xs[i]))
    residuals = np.array(residuals)
    assert fit.loo_rmse_pct == pytest.approx(math.sqrt(np.mean(residuals**2)), rel=1e-9)
    assert fit.loo_mae_pct == pytest.approx(np.mean(np.abs(residuals)), rel=1e-9)
    assert fit.n_points == 8


def test_fit_is_close_with_torchvision_macs():
    # The same fit over torchvision's independently published GMACs gives nearly the same line.
    tv = {r["arch"]: r["gflops_macs"] for r in data.load_rows("torchvision_weights")}
    _, ys = _published()
    xs = np.log10([tv[f"efficientnet_{v}"] * 1e9 for v in VARIANTS])
    slope, _ = np.polyfit(xs, ys, 1)
    assert published_fit().slope == pytest.approx(slope, rel=0.05)


def test_estimate_fields_and_range():
    b4 = estimate_top1(from_variant("b4").macs)
    assert 80 < b4.top1_pct < 85
    assert not b4.extrapolated
    assert b4.loo_rmse_pct == published_fit().loo_rmse_pct
    assert "Table 2" in b4.source and "v5" in b4.source
    assert estimate_top1(from_variant("b7").macs * 3).extrapolated
    assert estimate_top1(from_variant("b0").macs // 2).extrapolated


def test_estimate_increases_with_macs():
    values = [estimate_top1(10**k).top1_pct for k in (8, 9, 10, 11)]
    assert values == sorted(values)


@pytest.mark.parametrize("bad", [0, -1, float("nan"), float("inf"), None, "x"])
def test_bad_macs_raise(bad):
    with pytest.raises(ScalingError):
        estimate_top1(bad)


def test_fit_helpers_refuse_degenerate_input():
    with pytest.raises(ScalingError):
        fit_line([1.0], [2.0])
    with pytest.raises(ScalingError):
        fit_line([1.0, 1.0], [2.0, 3.0])
    with pytest.raises(ScalingError):
        fit_points([FitPoint("a", 10, 1.0), FitPoint("b", 100, 2.0)], "test")
