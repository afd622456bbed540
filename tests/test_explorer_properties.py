"""Property-based tests: any floats in, a valid network or a clear ScalingError out.

Invariants of a valid network: channels are multiples of 8 (>= 8), repeats >= 1, resolutions
shrink by the strides, params and MACs are monotone in width and depth. Nothing else may be
raised, and nothing may hang (hypothesis' deadline bounds each example).
"""

import contextlib
import io
import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from explorer import ScalingError, from_multipliers, from_phi
from explorer.cli import main

any_float = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from(
    [0.0, -0.0, 1e-320, 1e308, -1e308, 1.0, 2.0]
)
FAST = settings(max_examples=300, deadline=200, suppress_health_check=[HealthCheck.too_slow])


def assert_valid(net):
    assert net.stem_channels % 8 == 0 and net.stem_channels >= 8
    assert net.head_channels % 8 == 0 and net.head_channels >= 8
    size = net.stages[0].input_resolution
    assert size == math.ceil(net.resolution / 2)
    for stage in net.stages:
        assert stage.out_channels % 8 == 0 and stage.out_channels >= 8
        assert stage.repeats >= 1
        assert stage.input_resolution == size
        size = math.ceil(size / stage.stride)
        assert stage.output_resolution == size
        assert stage.params > 0 and stage.macs > 0
    assert net.params > 0 and net.macs > 0


@FAST
@given(phi=any_float, alpha=any_float, beta=any_float, gamma=any_float)
def test_any_phi_and_coefficients(phi, alpha, beta, gamma):
    try:
        net = from_phi(phi, alpha, beta, gamma)
    except ScalingError as exc:
        assert str(exc)  # a message, naming the problem
        return
    assert_valid(net)


@FAST
@given(width=any_float, depth=any_float, resolution=any_float)
def test_any_explicit_multipliers(width, depth, resolution):
    try:
        net = from_multipliers(width, depth, resolution_multiplier=resolution)
    except ScalingError as exc:
        assert str(exc)
        return
    assert_valid(net)


@FAST
@given(resolution=st.integers(min_value=-(10**6), max_value=10**6) | any_float)
def test_any_resolution_in_pixels(resolution):
    try:
        net = from_multipliers(1.0, 1.0, resolution)
    except ScalingError:
        return
    assert_valid(net)


@settings(max_examples=150, deadline=400)
@given(
    width=st.floats(0.05, 8.0),
    extra_width=st.floats(0.0, 2.0),
    depth=st.floats(0.05, 8.0),
    extra_depth=st.floats(0.0, 2.0),
    resolution=st.integers(32, 1024),
)
def test_cost_is_monotone_in_width_and_depth(width, extra_width, depth, extra_depth, resolution):
    base = from_multipliers(width, depth, resolution)
    wider = from_multipliers(width + extra_width, depth, resolution)
    deeper = from_multipliers(width, depth + extra_depth, resolution)
    assert wider.params >= base.params and wider.macs >= base.macs
    assert deeper.params >= base.params and deeper.macs >= base.macs


token = st.sampled_from(["nan", "inf", "-inf", "0", "-1", "1e308", "1.5", "x", "", "1e-320"])


@settings(max_examples=120, deadline=1000)
@given(
    flag=st.sampled_from(
        [
            "--phi",
            "--alpha",
            "--beta",
            "--gamma",
            "--width",
            "--depth",
            "--resolution",
            "--resolution-multiplier",
            "--variant",
        ]
    ),
    value=token | st.floats().map(repr) | st.text(max_size=8),
)
def test_cli_any_value_is_ok_or_exit_2(flag, value):
    args = [flag, value, "--format", "json"]
    if flag in ("--alpha", "--beta", "--gamma"):
        args = ["--phi", "1", *args]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = main(args)
        except SystemExit as exc:  # argparse usage errors
            status = exc.code
    assert status in (0, 2)
    if status == 2:
        assert "Traceback" not in err.getvalue()
        assert len([line for line in err.getvalue().splitlines() if line.strip()]) == 1


# --------------------------------------------------------------------------- good inputs succeed
# The tests above would pass if everything were refused; these show that the documented ranges
# (explorer.scaling: multipliers up to 16, 32 to 4096 px, bases in [1e-6, 1e6]) are accepted.

in_range_coefficient = st.floats(1.0, 1.4)


@FAST
@given(phi=st.floats(-3.0, 7.0), alpha=in_range_coefficient, beta=in_range_coefficient,
       gamma=in_range_coefficient)  # fmt: skip
def test_phi_and_bases_in_the_documented_ranges_give_a_network(phi, alpha, beta, gamma):
    # 1.4**7 = 10.5 <= 16 and 224 * 1.4**±7 stays within 32 … 4096 px: all of this is valid.
    assert_valid(from_phi(phi, alpha, beta, gamma))


@FAST
@given(width=st.floats(1e-3, 16.0), depth=st.floats(1e-3, 16.0),
       resolution=st.integers(32, 4096))  # fmt: skip
def test_multipliers_and_resolutions_in_the_documented_ranges_give_a_network(
    width, depth, resolution
):
    assert_valid(from_multipliers(width, depth, resolution))


@settings(max_examples=60, deadline=1000)
@given(
    flag=st.sampled_from(["--phi", "--width", "--depth"]),
    value=st.floats(0.1, 3.0).map(lambda x: f"{x:.3f}"),
)
def test_cli_valid_values_exit_0_with_json(flag, value):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main([flag, value, "--format", "json"])
    assert status == 0, err.getvalue()
    assert out.getvalue().strip().startswith(("[", "{"))
