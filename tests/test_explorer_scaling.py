"""Compound multipliers, rounding rules and validation (explorer/scaling.py)."""

import math

import pytest

from explorer import ScalingError, compound_multipliers, round_channels, round_repeats
from explorer.scaling import make_divisible


def test_paper_coefficients_constraint_is_1_92_not_2():
    m = compound_multipliers(1.0)
    # 1.2 * 1.1**2 * 1.15**2 = 1.920270 (paper section 3.3, derived)
    assert m.constraint == pytest.approx(1.92027, abs=1e-5)
    assert m.flops_factor == pytest.approx(m.constraint)


@pytest.mark.parametrize(
    "phi, depth, width, res_px",
    # Equation 3 by hand: a pure alpha^phi rule gives phi=1: d 1.200, w 1.100, res 258; ...
    [
        (1, 1.200, 1.100, 258),
        (2, 1.440, 1.210, 296),
        (3, 1.728, 1.331, 341),
        (4, 2.074, 1.464, 392),
        (5, 2.488, 1.611, 451),
        (6, 2.986, 1.772, 518),
        (7, 3.583, 1.949, 596),
    ],
)
def test_formula_matches_reference_table(phi, depth, width, res_px):
    from explorer import from_phi

    m = compound_multipliers(phi)
    assert m.depth == pytest.approx(depth, abs=5e-4)
    assert m.width == pytest.approx(width, abs=5e-4)
    assert from_phi(phi).resolution == res_px


@pytest.mark.parametrize("phi, factor", [(1, 1.92), (2, 3.69), (3, 7.08), (4, 13.60), (7, 96.28)])
def test_flops_factor(phi, factor):
    assert compound_multipliers(phi).flops_factor == pytest.approx(factor, abs=0.01)


def test_negative_and_fractional_phi():
    m = compound_multipliers(-1.5, 1.3, 1.2, 1.1)
    assert m.depth == pytest.approx(1.3**-1.5)
    assert m.width == pytest.approx(1.2**-1.5)
    assert m.resolution == pytest.approx(1.1**-1.5)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf"), "x", None, True])
def test_phi_must_be_finite(bad):
    with pytest.raises(ScalingError, match="phi"):
        compound_multipliers(bad)


@pytest.mark.parametrize("name", ["alpha", "beta", "gamma"])
@pytest.mark.parametrize("bad", [0, -1.2, float("nan"), float("inf")])
def test_coefficients_must_be_positive_finite(name, bad):
    with pytest.raises(ScalingError, match=name):
        compound_multipliers(1.0, **{name: bad})


def test_overflow_is_a_clear_error():
    with pytest.raises(ScalingError, match="overflow"):
        compound_multipliers(1e308)


def test_round_channels_never_loses_more_than_10_percent():
    for channels in (16, 24, 32, 40, 80, 112, 192, 320, 1280):
        for multiplier in [x / 100 for x in range(10, 500, 7)]:
            rounded = round_channels(channels, multiplier)
            assert rounded % 8 == 0
            assert rounded >= 8
            assert rounded >= 0.9 * channels * multiplier


def test_make_divisible_examples_from_tf_rule():
    # TF round_filters: int(f + 4) // 8 * 8, +8 if below 90 % (tensorflow/tpu efficientnet_model.py)
    assert make_divisible(32 * 1.1) == 32  # 35.2 -> 32 (>= 31.68)
    assert make_divisible(16 * 1.1) == 16
    assert make_divisible(40 * 1.1) == 48  # 44 -> 48
    assert make_divisible(1280 * 1.4) == 1792


def test_round_repeats_is_ceil():
    assert [round_repeats(r, 1.1) for r in (1, 2, 2, 3, 3, 4, 1)] == [2, 3, 3, 4, 4, 5, 2]
    assert all(round_repeats(r, 1e-6) == 1 for r in (1, 2, 3, 4))
    assert math.ceil(3 * 3.1) == round_repeats(3, 3.1) == 10
