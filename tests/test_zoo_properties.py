"""Property-based tests of the zoo: any arguments in, a result or one clear error line out.

``python -m zoo measure`` and ``python -m zoo classify`` run in-process (``zoo.cli.main``) with
hypothesis choosing every argument, including NaN, infinities, negatives, zero, huge numbers
and junk strings. The exit status must be 0 or 2 (1 for classify when every image failed),
never a traceback; an error is one line on stderr. Timing is the only part replaced: the
measuring worker is a stub, so accepted requests are cheap, while the memory guard
(``zoo.memory.check_fits``) stays real and must refuse absurd requests before anything is
built. The spec and memory-estimate functions get random multipliers directly.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import time

import psutil  # noqa: E402
import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from zoo.cli.main import main
from zoo.errors import ZooError
from zoo.measure import isolation, orchestrate
from zoo.measure.memory import check_fits, estimate_memory
from zoo.models.spec import ModelSpec, spec_from_multipliers, spec_from_phi, spec_from_variant
from zoo.records.protocol import Protocol

SPECIAL_FLOATS = ["nan", "-nan", "inf", "-inf", "1e308", "-1e308", "1e-320", "0", "-0", "1e400"]
number_text = (
    st.floats(-3.0, 3.0).map(repr)  # often valid: accepted requests get exercised too
    | st.sampled_from(SPECIAL_FLOATS)
    | st.floats(allow_nan=True, allow_infinity=True).map(repr)
    | st.integers(-(10**12), 10**12).map(str)
    | st.text(max_size=12)
)
int_text = (
    st.integers(1, 64).map(str)
    | st.integers(-(10**7), 10**7).map(str)
    | st.sampled_from(["0", "-1", "1", "2", "1000000", "1000001", "10**9", "1.5", "", "nan"])
    | st.text(max_size=6)
)
# Valid names sometimes (cheap ones, so an accepted request is quick), junk otherwise.
MODEL_NAMES = ["resnet18", "mobilenetv2_100", "efficientnet_b0", "tf_efficientnet_lite0"]
model_text = st.sampled_from(MODEL_NAMES) | st.text(max_size=30)
SETTINGS = settings(
    max_examples=150,
    deadline=None,  # bounded below per example instead (first traces are slow on a busy CPU)
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
EXAMPLE_SECONDS = 60.0


class StubWorker:
    """Stands in for the measuring worker: numbers without building or timing anything."""

    def __init__(self) -> None:
        self.calls: list[tuple[ModelSpec, Protocol]] = []

    def __call__(self, spec: ModelSpec, protocol: Protocol, digests=None) -> dict:
        self.calls.append((spec, protocol))
        return {
            "params": 1,
            "macs": 1,
            "macs_backend": "stub",
            "latency_ms_median": 1.0,
            "latency_ms_p90": 1.0,
            "latency_ms_mean": 1.0,
            "latency_ms_std": 0.0,
            "throughput_ips": 1000.0 * protocol.batch_size,
            "iterations": protocol.min_iters,
            "latency_ms_min": 1.0,
            "peak_memory_mb": 1.0,
            "peak_memory_kind": "worker_peak_rss",
            "worker_rss_before_build_mb": 1.0,
        }


@pytest.fixture(scope="module")
def stub_worker():
    stub = StubWorker()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(orchestrate, "measure_isolated", stub)
        yield stub


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return str(tmp_path_factory.mktemp("props") / "m.sqlite")


def run_cli(argv: list[str]) -> tuple[int, str, str, float]:
    out, err = io.StringIO(), io.StringIO()
    started = time.perf_counter()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = main(argv)
        except SystemExit as exc:  # argparse usage errors
            status = exc.code
    return status, out.getvalue(), err.getvalue(), time.perf_counter() - started


def assert_clean_failure(status: int, out: str, err: str) -> None:
    assert status == 2, (status, err)
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert out == ""


@SETTINGS
@given(
    data=st.data(),
    which=st.sampled_from(["phi", "variant", "model"]),
    flags=st.sets(
        st.sampled_from(
            [
                "--alpha",
                "--beta",
                "--gamma",
                "--batch-size",
                "--iters",
                "--warmup",
                "--max-seconds",
                "--threads",
                "--precision",
                "--device",
                "--resolution",
            ]
        ),
        max_size=4,
    ),  # fmt: skip
)
@pytest.mark.model
def test_measure_cli_any_arguments(stub_worker, store, data, which, flags):
    if which == "phi":
        argv = ["measure", "--phi", data.draw(number_text, label="phi")]
    elif which == "variant":
        variant = st.sampled_from(["b0", "b3", "b7", "l2", "B1", "efficientnet_b2"])
        argv = ["measure", "--variant", data.draw(variant | st.text(max_size=8), label="v")]
    else:
        argv = ["measure", "--model", data.draw(model_text, label="model")]
    for flag in sorted(flags):
        if flag in ("--alpha", "--beta", "--gamma", "--max-seconds"):
            value = data.draw(number_text, label=flag)
        elif flag == "--precision":
            value = data.draw(
                st.sampled_from(["fp32", "bf16", "fp16", "int8"]) | st.text(max_size=5)
            )
        elif flag == "--device":
            value = data.draw(
                st.sampled_from(["cpu", "auto", "cuda", "cuda:0", "cuda:99", "mps", "cpu:0"])
                | st.text(max_size=8)
            )
        else:
            value = data.draw(int_text, label=flag)
        argv += [flag, value]
    if "--device" not in flags:
        argv += ["--device", "cpu"]
    argv += ["--store", store, "--format", "json", "--no-progress"]
    # argparse reads "-1" or "--x" values as options; those are usage errors, which is fine.
    calls_before = len(stub_worker.calls)
    status, out, err, seconds = run_cli(argv)
    assert seconds < EXAMPLE_SECONDS, argv
    assert status in (0, 2), (argv, status, err)
    event(f"exit status {status}")
    if status == 2:
        assert_clean_failure(status, out, err)
        assert len(stub_worker.calls) == calls_before  # refused before anything was measured
        return
    assert "Traceback" not in err
    for spec, protocol in stub_worker.calls[calls_before:]:
        # what reached the worker is valid and passed the memory guard
        assert 32 <= spec.resolution <= 4096
        assert protocol.batch_size >= 1
        assert protocol.device == "cpu" or protocol.device.startswith("cuda:")
        assert check_fits(spec, protocol.batch_size, protocol.precision, protocol.device).fits


@settings(max_examples=30, deadline=None)
@given(
    phi=st.floats(-3.0, 1.0).map(lambda x: f"{x:.2f}"),
    batch=st.integers(1, 8),
    iters=st.integers(1, 20),
)
@pytest.mark.model
def test_measure_cli_valid_requests_succeed(stub_worker, store, phi, batch, iters):
    # The test above accepts exit 2 for anything; here every request is valid and must measure.
    argv = ["measure", "--phi", phi, "--batch-size", str(batch), "--iters", str(iters),
            "--device", "cpu", "--remeasure", "--store", store, "--format", "json"]  # fmt: skip
    calls_before = len(stub_worker.calls)
    status, out, err, _ = run_cli(argv)
    assert status == 0, err
    assert len(stub_worker.calls) == calls_before + 1
    assert json.loads(out)[0]["batch_size"] == batch


@settings(max_examples=40, deadline=None)
@given(
    variant=st.sampled_from(["b0", "b4", "b7", "b8", "l2"]),
    batch=st.integers(200_000, 1_000_000),
    resolution=st.none() | st.integers(1024, 4096),
)
def test_absurd_requests_are_refused_by_the_memory_guard_without_allocating(
    stub_worker, store, variant, batch, resolution
):
    process = psutil.Process()
    before = process.memory_info().rss
    argv = ["measure", "--variant", variant, "--batch-size", str(batch), "--device", "cpu"]
    if resolution is not None:
        argv += ["--resolution", str(resolution)]
    calls_before = len(stub_worker.calls)
    status, out, err, _ = run_cli([*argv, "--store", store])
    assert_clean_failure(status, out, err)
    assert "needs ~" in err and "is available" in err
    assert len(stub_worker.calls) == calls_before
    assert process.memory_info().rss - before < 64 * 2**20  # nothing was built


def test_the_real_worker_is_never_reached_for_an_absurd_request(tmp_path):
    # Without the stub: the refusal happens in this process, before the worker is started.
    isolation.shutdown()
    status, out, err, _ = run_cli(
        ["measure", "--variant", "b7", "--batch-size", "1000000", "--device", "cpu",
         "--store", str(tmp_path / "m.sqlite")]
    )  # fmt: skip
    assert_clean_failure(status, out, err)
    assert isolation.server_pid() is None


# --------------------------------------------------------------------------- classify


@pytest.fixture(scope="module")
def cat_file(tmp_path_factory):
    from PIL import Image

    path = tmp_path_factory.mktemp("classify") / "cat.png"
    try:
        from skimage import data

        Image.fromarray(data.chelsea()).resize((120, 80)).save(path)
    except ImportError:
        Image.new("RGB", (120, 80), (120, 90, 60)).save(path)
    return str(path)


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    model=st.just("tf_efficientnet_lite0")
    | st.sampled_from(["tf_efficientnet_lite0", "efficientnet_b0", "resnet50",
                           "tf_efficientnet_lite0.bogus_tag", "tf_efficientnet_lit0"])
    | st.text(max_size=30),
    top=st.none() | int_text,
    weights=st.none() | st.sampled_from(["/nonexistent/w.pth", "", ".", "/dev/null", "/etc"]),
    fmt=st.sampled_from(["json", "table"]),
)  # fmt: skip
def test_classify_cli_any_arguments(cat_file, model, top, weights, fmt):
    argv = ["classify", cat_file, "--model", model, "--format", fmt]
    if top is not None:
        argv += ["--top", top]
    if weights is not None:
        argv += ["--weights", weights]
    status, out, err, seconds = run_cli(argv)
    assert seconds < EXAMPLE_SECONDS, argv
    assert status in (0, 2), (argv, status, err)  # one good image: never "every image failed"
    event(f"exit status {status}")
    if status == 2:
        assert_clean_failure(status, out, err)
    else:
        assert "Traceback" not in err and out


# --------------------------------------------------------------------------- specs and memory

any_float = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from(
    [0.0, -0.0, 1e-320, 1e308, -1e308, 0.05, 16.0, 16.000001]
)


@settings(max_examples=300, deadline=2000)
@given(width=any_float, depth=any_float, resolution=st.integers(-(10**6), 10**6) | any_float)
def test_spec_from_multipliers_any_floats(width, depth, resolution):
    try:
        spec = spec_from_multipliers(width, depth, resolution)
    except ZooError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    assert 32 <= spec.resolution <= 4096 and isinstance(spec.resolution, int)
    assert math.isfinite(spec.width_multiplier) and spec.width_multiplier > 0
    assert math.isfinite(spec.depth_multiplier) and spec.depth_multiplier > 0


@settings(max_examples=300, deadline=2000)
@given(phi=any_float, alpha=any_float, beta=any_float, gamma=any_float)
def test_spec_from_phi_any_floats(phi, alpha, beta, gamma):
    try:
        spec = spec_from_phi(phi, alpha, beta, gamma)
    except ZooError as exc:
        assert str(exc)
        return
    assert spec.model.startswith("efficientnet_phi") and 32 <= spec.resolution <= 4096


@settings(max_examples=100, deadline=2000)
@given(
    width=st.floats(1e-3, 16.0),
    depth=st.floats(1e-3, 16.0),
    resolution=st.integers(32, 4096),
    phi=st.floats(-3.0, 7.0),
    coefficient=st.floats(1.0, 1.4),
)
def test_specs_in_the_documented_ranges_are_accepted(width, depth, resolution, phi, coefficient):
    # The tests above would pass if every spec were refused: inside the explorer's documented
    # ranges (multipliers up to 16, 32 … 4096 px) a spec must be made.
    spec = spec_from_multipliers(width, depth, resolution)
    assert spec.resolution == resolution and spec.kind == "efficientnet"
    spec = spec_from_phi(phi, coefficient, coefficient, coefficient)
    assert spec.phi == phi and 32 <= spec.resolution <= 4096


@settings(max_examples=200, deadline=2000)
@given(
    width=st.floats(0.05, 16.0),
    depth=st.floats(0.05, 16.0),
    resolution=st.integers(32, 4096),
    batch=st.integers(1, 10**6) | st.integers(-5, 0) | st.sampled_from([1.5, True, None, "2"]),
)
def test_memory_estimate_is_a_number_or_a_clear_error(width, depth, resolution, batch):
    spec = spec_from_multipliers(width, depth, resolution)
    try:
        est = estimate_memory(spec, batch, "fp32", "cpu")
    except ZooError as exc:
        assert "batch size" in str(exc)
        assert isinstance(batch, bool) or not isinstance(batch, int) or batch < 1
        return
    assert est.total_bytes == est.weights_bytes + est.activations_bytes + est.runtime_bytes
    assert est.weights_bytes > 0 and est.activations_bytes > 0
    assert est.fits == (est.total_bytes <= est.available_bytes)
    if batch > 1:
        smaller = estimate_memory(spec, batch - 1, "fp32", "cpu")
        assert smaller.activations_bytes <= est.activations_bytes


@settings(max_examples=150, deadline=2000)
@given(
    width=st.floats(0.05, 8.0),
    extra_width=st.floats(0.0, 2.0),
    depth=st.floats(0.05, 8.0),
    extra_depth=st.floats(0.0, 2.0),
    resolution=st.integers(32, 1024),
    batch=st.integers(1, 256),
)
def test_memory_estimate_is_monotone_in_width_depth_and_resolution(
    width, extra_width, depth, extra_depth, resolution, batch
):
    def total(w: float, d: float, r: int) -> int:
        est = estimate_memory(spec_from_multipliers(w, d, r), batch, "fp32", "cpu")
        return est.weights_bytes + est.activations_bytes

    base = total(width, depth, resolution)
    assert total(width + extra_width, depth, resolution) >= base
    assert total(width, depth + extra_depth, resolution) >= base
    assume(resolution + 8 <= 4096)
    assert total(width, depth, resolution + 8) >= base


@settings(max_examples=60, deadline=2000)
@given(variant=st.sampled_from(["b0", "b1", "b2", "b3", "b4", "b5", "b6", "b7", "b8", "l2"]))
def test_variants_fit_at_batch_1_or_are_refused_clearly(variant):
    spec = spec_from_variant(variant)
    try:
        est = check_fits(spec, 1, "fp32", "cpu")
    except ZooError as exc:
        assert "needs ~" in str(exc)
        return
    assert est.fits
