"""The explorer's tables as pandas frames: the network stage by stage, the formula against the
official variants, single-dimension networks of equal cost, the paper's printed costs.

Plain functions, tested without a browser over the whole accepted range: a difference with
nothing to compare against is ``None``, never a crash. How they compute: docs/explorer.md.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd

import data
from explorer import (
    PUBLISHED_VARIANTS,
    ScaledNetwork,
    compound_multipliers,
    from_variant,
    get_variant,
    implied_phi,
    scaled_resolution,
)
from explorer.equal_cost import EqualCost
from explorer.rounding import rounding_report


def stage_frame(network: ScaledNetwork) -> pd.DataFrame:
    """The per-stage table: stem, the seven MBConv stages, head and classifier, with what the
    multipliers asked for before rounding (``out_channels_exact``, ``repeats_exact``)."""
    rows: list[dict[str, object]] = [
        {
            "stage": "stem",
            "block": "Conv3x3",
            "kernel": 3,
            "stride": 2,
            "expand": None,
            "in_channels": 3,
            "out_channels": network.stem_channels,
            "repeats": 1,
            "input_px": network.resolution,
            "output_px": network.stages[0].input_resolution,
            "params": network.stem.params,
            "macs": network.stem.macs,
        }
    ]
    for s in network.stages:
        rows.append(
            {
                "stage": str(s.index),
                "block": s.block,
                "kernel": s.kernel,
                "stride": s.stride,
                "expand": s.expand_ratio,
                "in_channels": s.in_channels,
                "out_channels": s.out_channels,
                "repeats": s.repeats,
                "input_px": s.input_resolution,
                "output_px": s.output_resolution,
                "params": s.params,
                "macs": s.macs,
            }
        )
    last = network.stages[-1]
    rows.append(
        {
            "stage": "head",
            "block": "Conv1x1",
            "kernel": 1,
            "stride": 1,
            "expand": None,
            "in_channels": last.out_channels,
            "out_channels": network.head_channels,
            "repeats": 1,
            "input_px": last.output_resolution,
            "output_px": last.output_resolution,
            "params": network.head.params,
            "macs": network.head.macs,
        }
    )
    rows.append(
        {
            "stage": "fc",
            "block": "Linear",
            "kernel": None,
            "stride": None,
            "expand": None,
            "in_channels": network.head_channels,
            "out_channels": network.num_classes,
            "repeats": 1,
            "input_px": 1,
            "output_px": 1,
            "params": network.classifier.params,
            "macs": network.classifier.macs,
        }
    )
    frame = pd.DataFrame(rows)
    # What the multipliers asked for before rounding (w × B0's channels, d × B0's repeats).
    report = rounding_report(network)
    asked_channels = [report.stem.exact, *(s.channels.exact for s in report.stages)]
    asked_repeats = [None, *(s.repeats.exact for s in report.stages), None, None]
    frame["macs_share_pct"] = 100.0 * frame["macs"] / network.macs
    # Last, so the counts stay in view at 1400 px (the grid draws only the visible columns).
    frame["out_channels_exact"] = [*asked_channels, report.head.exact, None]
    frame["repeats_exact"] = asked_repeats
    return frame


def _diff_pct(official: float, formula: float) -> float | None:
    """How far the official value is from the formula's, in %; None where the formula gives
    nothing to compare with (a resolution that rounds to 0 px for a tiny γ, say).

    >>> _diff_pct(1.1, 1.0), _diff_pct(240, 0)
    (10.000000000000009, None)
    """
    ratio = official / formula if formula else math.inf
    return 100.0 * (ratio - 1) if math.isfinite(ratio) else None


def formula_vs_official_frame(
    alpha: float, beta: float, gamma: float, variants: Sequence[str] = PUBLISHED_VARIANTS
) -> pd.DataFrame:
    """Official B0–B7 against α^φ, β^φ, γ^φ at φ = 0 … 7, with the per-dimension implied φ.

    Why integer φ: the paper names B1–B7 as φ = 1 … 7 steps but publishes hand-rounded values,
    so the table shows how far each is from the formula.
    """
    rows = []
    for phi, name in enumerate(variants):
        v = get_variant(name)
        m = compound_multipliers(phi, alpha, beta, gamma)
        implied = implied_phi(v, alpha, beta, gamma)
        formula_px = scaled_resolution(m.resolution)
        rows.append(
            {
                "variant": name.upper(),
                "phi": phi,
                "official_depth": v.depth_multiplier,
                "formula_depth": m.depth,
                "depth_diff_pct": _diff_pct(v.depth_multiplier, m.depth),
                "official_width": v.width_multiplier,
                "formula_width": m.width,
                "width_diff_pct": _diff_pct(v.width_multiplier, m.width),
                "official_px": v.resolution,
                "formula_px": formula_px,
                "resolution_diff_pct": _diff_pct(v.resolution, formula_px),
                "implied_phi_depth": implied.depth,
                "implied_phi_width": implied.width,
                "implied_phi_resolution": implied.resolution,
            }
        )
    return pd.DataFrame(rows)


def equal_cost_frame(compound: ScaledNetwork, eq: EqualCost) -> pd.DataFrame:
    """Compound network next to its depth-only, width-only and resolution-only twins."""
    rows = []
    for label, net, at_bound in (
        ("compound", compound, False),
        ("depth only", eq.depth.network, eq.depth.at_bound),
        ("width only", eq.width.network, eq.width.at_bound),
        ("resolution only", eq.resolution.network, eq.resolution.at_bound),
    ):
        rows.append(
            {
                "scaling": label,
                "depth_multiplier": net.depth_multiplier,
                "width_multiplier": net.width_multiplier,
                "resolution_px": net.resolution,
                "total_blocks": net.total_blocks,
                "params": net.params,
                "macs": net.macs,
                "macs_vs_target_pct": 100.0 * (net.macs / eq.target_macs - 1),
                "reachable": not at_bound,
            }
        )
    return pd.DataFrame(rows)


def paper_vs_exact_frame() -> pd.DataFrame:
    """The paper's printed Table 2 params and FLOPs (which are MACs) against the exact counts.

    The exact counts are the explorer's at the official resolution; torchvision's published
    parameter counts are shown too (they are equal). The paper rounds, and for some rows it is
    off by more than its rounding (B2's 9.2M parameters, B4's 4.2B and B5's 9.9B FLOPs): the
    differences are shown, not hidden.
    """
    paper = data.load_frame("paper_table2")
    paper = paper[paper["arxiv_version"] == "v5"].set_index("arch")
    torchvision = data.load_frame("torchvision_weights")
    torchvision = torchvision[torchvision["weights"].str.endswith("IMAGENET1K_V1")]
    tv_params = dict(zip(torchvision["arch"], torchvision["params"], strict=True))
    rows = []
    for name in PUBLISHED_VARIANTS:
        net = from_variant(name)
        printed = paper.loc[f"efficientnet_{name}"]
        rows.append(
            {
                "variant": name.upper(),
                "resolution_px": net.resolution,
                "paper_params_m": printed["params_m"],
                "exact_params": net.params,
                "params_diff_pct": 100.0 * (net.params / 1e6 / printed["params_m"] - 1),
                "torchvision_params": tv_params.get(f"efficientnet_{name}"),
                "paper_gmacs": printed["paper_flops_b"],
                "exact_gmacs": net.macs / 1e9,
                "macs_diff_pct": 100.0 * (net.macs / 1e9 / printed["paper_flops_b"] - 1),
            }
        )
    return pd.DataFrame(rows)


def table7_frame() -> pd.DataFrame:
    """The paper's Table 7 (B0 scaled in one dimension vs compound, about 1.8 B MACs)."""
    frame = data.load_frame("paper_table7")
    return frame[
        [
            "scaling",
            "depth_multiplier",
            "width_multiplier",
            "resolution_multiplier",
            "paper_flops_b",
            "top1_pct",
        ]
    ].rename(columns={"paper_flops_b": "paper_gmacs"})
