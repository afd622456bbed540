"""Single-dimension scaling at equal cost (explorer/equal_cost.py) against the paper's Table 7."""

from __future__ import annotations

import subprocess
import sys

import pytest

import data
from explorer import ScalingError, from_phi, from_variant, scale_network
from explorer.equal_cost import equal_cost_networks


def _table7() -> dict[str, dict]:
    return {str(row["scaling"]): row for row in data.load_rows("paper_table7")}


def test_b3_cost_matches_paper_table7_multipliers():
    # Table 7 puts depth x4, width x2 and resolution x2 at about B3's 1.8 B MACs. Our exact
    # counter with the ceil/round-to-8 rules lands close to those multipliers.
    rows = _table7()
    eq = equal_cost_networks(from_variant("b3").macs)
    assert eq.depth.multiplier == pytest.approx(float(rows["depth"]["depth_multiplier"]), rel=0.15)
    assert eq.width.multiplier == pytest.approx(float(rows["width"]["width_multiplier"]), rel=0.15)
    assert eq.resolution.multiplier == pytest.approx(
        float(rows["resolution"]["resolution_multiplier"]), rel=0.15
    )
    for e in eq:
        assert not e.at_bound
        assert abs(e.relative_error) < 0.05


def test_single_dimension_really_is_single():
    eq = equal_cost_networks(from_phi(2.5).macs)
    assert eq.depth.network.width_multiplier == 1.0 and eq.depth.network.resolution == 224
    assert eq.width.network.depth_multiplier == 1.0 and eq.width.network.resolution == 224
    assert eq.resolution.network.width_multiplier == 1.0
    assert eq.resolution.network.depth_multiplier == 1.0


def test_b0_target_gives_b0_in_every_dimension():
    b0 = from_variant("b0")
    eq = equal_cost_networks(b0.macs)
    assert (eq.depth.multiplier, eq.width.multiplier, eq.resolution.network.resolution) == (
        1.0,
        1.0,
        224,
    )
    assert all(e.network.macs == b0.macs for e in eq)


@pytest.mark.parametrize("phi", [-2.0, -0.5, 0.7, 1.0, 3.3, 6.0])
def test_nearest_step_is_chosen(phi):
    target = from_phi(phi).macs
    eq = equal_cost_networks(target)
    error = abs(eq.resolution.network.macs - target)
    r = eq.resolution.network.resolution
    for other in (r - 1, r + 1):
        # The next resolution either builds the same network or is no nearer to the target.
        assert abs(scale_network(1.0, 1.0, other).macs - target) >= error
    for e in (eq.depth, eq.width):
        if e.at_bound:
            continue
        m = e.multiplier
        for factor in (0.97, 1.03):
            if e.dimension == "depth":
                neighbour = scale_network(1.0, m * factor, 224)
            else:
                neighbour = scale_network(m * factor, 1.0, 224)
            assert abs(neighbour.macs - target) >= abs(e.network.macs - target)


def test_out_of_reach_is_flagged_not_raised():
    # Depth alone cannot reach B7's cost within the explorer's depth limit (16x).
    eq = equal_cost_networks(from_variant("b7").macs)
    assert eq.depth.at_bound and eq.depth.relative_error < -0.5
    assert not eq.width.at_bound
    # Far below B0: depth bottoms out at one block per stage.
    tiny = equal_cost_networks(from_phi(-4).macs)
    assert tiny.depth.at_bound
    assert tiny.depth.network.total_blocks == 7


@pytest.mark.parametrize("bad", [0, -5, float("nan"), float("inf"), 1.5, "big"])
def test_bad_targets_raise_scaling_error(bad):
    with pytest.raises(ScalingError):
        equal_cost_networks(bad)


def test_stdlib_only():
    code = (
        "import sys, explorer.equal_cost, explorer.estimate;"
        "bad = {'torch', 'timm', 'pandas', 'numpy', 'streamlit'} & set(sys.modules);"
        "print(sorted(bad)); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
