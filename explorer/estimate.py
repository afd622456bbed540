"""An ImageNet top-1 *estimate* for any scaled configuration, from its MACs alone.

The only accuracies we have for compound-scaled networks are the eight published ones
(Tan & Le, arXiv 1905.11946v5, Table 2: B0–B7). Across them top-1 rises roughly linearly in
log(cost), so we fit a least-squares line ``top1_pct = intercept + slope · log10(MACs)`` and read
it at the configuration's exact MACs. It is an estimate of what training *might* reach with the
paper's recipe, not a measurement; its honesty is its leave-one-out error (each published point
predicted by a line fitted to the other seven), which is reported with every estimate. The real
curve bends (returns diminish with cost), so the line overshoots at both ends: its leave-one-out
residuals are about −2.0 points at B0 and −1.6 at B7, +1 in the middle (RMSE 1.07 points).

Which points, and why:

* accuracy: the paper's **v5** Table 2 (the AutoAugment checkpoints that timm's ``.aa_in1k``
  ports and Keras quote), from ``data/paper_table2.csv``: the B0–B7 points of the compare page's
  "Paper (Table 2)" accuracy view (``data.accuracy.ESTIMATE_VIEW``);
* cost: the explorer's **exact** MACs at each official width, depth and resolution
  (``from_variant``), not the paper's rounded "FLOPs" (4.2 B printed for B4 against an exact
  4.39 B), so that the estimate and the network it is read for count MACs the same way.

>>> fit = published_fit()
>>> fit.n_points, round(fit.slope, 1), round(fit.loo_rmse_pct, 2)
(8, 3.4, 1.07)
>>> from explorer import from_variant
>>> est = estimate_top1(from_variant("b3").macs)
>>> round(est.top1_pct, 1), est.extrapolated
(80.7, False)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import data  # the project's loader: standard library only
from data.accuracy import ESTIMATE_VIEW, get_view
from explorer.configs import from_variant
from explorer.scaling import ScalingError, check_positive
from explorer.variants import PUBLISHED_VARIANTS

#: Variants whose published accuracy the fit uses, in order: all of Table 2's.
FIT_VARIANTS: tuple[str, ...] = PUBLISHED_VARIANTS
#: Which arXiv version of Table 2 the accuracies come from (see the module docstring).
FIT_ARXIV_VERSION = "v5"


@dataclass(frozen=True)
class FitPoint:
    variant: str
    macs: int
    top1_pct: float


@dataclass(frozen=True)
class LineFit:
    """``top1_pct ≈ intercept + slope · log10(macs)``, with its leave-one-out errors."""

    intercept: float
    slope: float
    points: tuple[FitPoint, ...]
    loo_residuals_pct: tuple[float, ...]  # published − predicted-without-that-point, per point
    loo_rmse_pct: float
    loo_mae_pct: float
    source: str

    @property
    def n_points(self) -> int:
        return len(self.points)

    @property
    def macs_range(self) -> tuple[int, int]:
        return min(p.macs for p in self.points), max(p.macs for p in self.points)

    def predict(self, macs: float) -> float:
        return self.intercept + self.slope * math.log10(macs)


@dataclass(frozen=True)
class AccuracyEstimate:
    """An estimated top-1 for one configuration: a fit, not a measurement."""

    top1_pct: float
    loo_rmse_pct: float  # leave-one-out RMSE of the fit over the published points
    loo_mae_pct: float
    n_points: int
    source: str
    extrapolated: bool  # MACs outside the range of the published points (B0 … B7)
    macs: int


def fit_line(xs: Sequence[float], ys: Sequence[float]) -> tuple[float, float]:
    """Ordinary least squares ``y = a + b·x``; returns ``(a, b)``.

    >>> fit_line([0, 1, 2], [1, 3, 5])
    (1.0, 2.0)
    """
    n = len(xs)
    if n != len(ys) or n < 2:
        raise ScalingError(f"a line needs at least 2 (x, y) pairs of equal length, got {n}")
    mean_x, mean_y = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mean_x) ** 2 for x in xs)
    if sxx == 0:
        raise ScalingError("a line needs at least 2 distinct x values")
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=False)) / sxx
    return mean_y - slope * mean_x, slope


def fit_points(points: Sequence[FitPoint], source: str) -> LineFit:
    """Fit the line over ``points`` and compute its leave-one-out residuals (needs ≥ 3 points)."""
    if len(points) < 3:
        raise ScalingError(f"leave-one-out needs at least 3 points, got {len(points)}")
    xs = [math.log10(p.macs) for p in points]
    ys = [p.top1_pct for p in points]
    intercept, slope = fit_line(xs, ys)
    residuals = []
    for i in range(len(points)):
        a, b = fit_line(xs[:i] + xs[i + 1 :], ys[:i] + ys[i + 1 :])
        residuals.append(ys[i] - (a + b * xs[i]))
    return LineFit(
        intercept=intercept,
        slope=slope,
        points=tuple(points),
        loo_residuals_pct=tuple(residuals),
        loo_rmse_pct=math.sqrt(sum(r * r for r in residuals) / len(residuals)),
        loo_mae_pct=sum(abs(r) for r in residuals) / len(residuals),
        source=source,
    )


@lru_cache(maxsize=1)
def published_fit() -> LineFit:
    """The fit over B0–B7: paper v5 Table 2 top-1 against the explorer's exact MACs."""
    top1 = {
        str(row["arch"]): float(row["top1_pct"])
        for row in data.load_rows("paper_table2")
        if row["arxiv_version"] == FIT_ARXIV_VERSION
    }
    points = []
    for variant in FIT_VARIANTS:
        arch = f"efficientnet_{variant}"
        if arch not in top1:
            raise ScalingError(f"paper_table2 has no {FIT_ARXIV_VERSION} row for {arch}")
        points.append(FitPoint(variant, from_variant(variant).macs, top1[arch]))
    source = (
        f"least-squares line of top-1 against log10(MACs) over EfficientNet-B0–B7 of the "
        f"“{get_view(ESTIMATE_VIEW).label}” set: "
        f"top-1 from arXiv 1905.11946{FIT_ARXIV_VERSION} Table 2 (data/paper_table2.csv), "
        f"MACs computed exactly by the explorer at the official width, depth and resolution"
    )
    return fit_points(points, source)


def estimate_top1(macs: int, fit: LineFit | None = None) -> AccuracyEstimate:
    """The fitted top-1 at ``macs`` (exact MACs of a configuration), with the fit's LOO error.

    >>> est = estimate_top1(10**8)          # far below B0: an extrapolation
    >>> est.extrapolated, est.n_points
    (True, 8)
    >>> estimate_top1(-1)
    Traceback (most recent call last):
    ...
    explorer.scaling.ScalingError: MACs must be > 0 (a finite positive number), got -1.0
    """
    value = check_positive("MACs", macs)
    fit = fit or published_fit()
    low, high = fit.macs_range
    return AccuracyEstimate(
        top1_pct=fit.predict(value),
        loo_rmse_pct=fit.loo_rmse_pct,
        loo_mae_pct=fit.loo_mae_pct,
        n_points=fit.n_points,
        source=fit.source,
        extrapolated=not low <= value <= high,
        macs=int(value),
    )


__all__ = [
    "FIT_ARXIV_VERSION",
    "FIT_VARIANTS",
    "AccuracyEstimate",
    "FitPoint",
    "LineFit",
    "estimate_top1",
    "fit_line",
    "fit_points",
    "published_fit",
]
