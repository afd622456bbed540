"""Inference runtimes (ONNX Runtime, OpenVINO, torch.compile next to eager) on this CPU, offline.

Each runtime measures B0 and a peer, its outputs checked against eager fp32 on the same weights
(the figures are stored with the measurement); the ONNX export is cached and reused; a damaged
cached file is rebuilt, a wrong one is refused by the equivalence check; bad runtime requests
are one line. Timing ratios (cache reuse, speed-ups) are in ``bench/runtimes.py``, not here.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil

import pytest
import torch

from tests.golden import TORCHVISION_EFFICIENTNET
from zoo.cli.main import main
from zoo.errors import ZooError
from zoo.measure.orchestrate import VerificationError, available_runtimes, measure, sweep_best
from zoo.models.spec import spec_from_multipliers, spec_from_timm, spec_from_variant
from zoo.records.protocol import Protocol
from zoo.runtimes.artifacts import list_artifacts
from zoo.runtimes.equivalence import FP32_MAX_REL
from zoo.runtimes.onnx_export import export_onnx
from zoo.runtimes.runner import missing_package
from zoo.store.measurement_store import MeasurementStore

QUICK = dict(device="cpu", warmup_iters=1, min_iters=3, max_iters=3, max_seconds=0.5)
PEER = ("mobilenetv3_large_100", 160)  # a peer, at 160 px to keep it quick
PEER_PARAMS = 5_483_032  # timm's published count for mobilenetv3_large_100 (5.48 M)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """A private, empty artefact cache and measurement lock for each test."""
    monkeypatch.setenv("EFFSCALE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("EFFSCALE_LOCK", str(tmp_path / "lock"))
    return tmp_path / "cache"


def specs():
    return [spec_from_variant("b0"), spec_from_timm(*PEER)]


def run_cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = main(list(argv))
        except SystemExit as exc:
            status = int(exc.code or 0)
    return status, out.getvalue(), err.getvalue()


def test_the_cpu_runtimes_are_available_here():
    assert available_runtimes("cpu") == ("eager", "onnxruntime", "openvino", "compile")


@pytest.mark.parametrize("runtime", ["onnxruntime", "openvino"])
def test_onnx_runtimes_measure_b0_and_a_peer_verified(cache, tmp_path, runtime):
    with MeasurementStore(tmp_path / "m.sqlite") as store:
        b0, peer = (measure(s, Protocol(**QUICK, runtime=runtime), store=store) for s in specs())
        stored = store.rows()
    assert b0.params == TORCHVISION_EFFICIENTNET["b0"][0] and peer.params == PEER_PARAMS
    for m in (b0, peer):
        assert m.runtime == runtime and m.latency_ms_median > 0 and m.verified
        assert m.equiv_max_rel <= FP32_MAX_REL and m.equiv_top1_pct == 100.0
        assert "random images" in m.equiv_inputs
        assert m.runtime_version and m.compile_s > 0 and m.export_s is not None
        # OpenVINO would run in bf16 on a CPU with bf16 units: it is told f32, and says so.
        assert m.runtime_precision == ("f32" if runtime == "openvino" else "fp32")
    assert b0.artifact_cached is False and b0.export_s > 0  # a fresh cache: exported now
    assert {(m.model, m.runtime) for m in stored} == {(s.model, runtime) for s in specs()}


def test_the_export_is_shared_and_reused(cache, tmp_path):
    spec = spec_from_variant("b0")
    first = measure(spec, Protocol(**QUICK, runtime="onnxruntime"))
    second = measure(spec, Protocol(**QUICK, runtime="openvino"))  # the same ONNX file
    assert first.artifact_cached is False and second.artifact_cached is True
    assert second.export_s == 0.0
    assert [e.kind for e in list_artifacts()] == ["onnx"]


def test_a_damaged_cached_export_is_rebuilt_not_trusted(cache):
    spec = spec_from_variant("b0")
    measure(spec, Protocol(**QUICK, runtime="onnxruntime"))
    (entry,) = list_artifacts()
    entry.path.write_bytes(entry.path.read_bytes()[:1000])  # truncated
    again = measure(spec, Protocol(**QUICK, runtime="onnxruntime"))
    assert again.artifact_cached is False and again.verified
    assert list_artifacts()[0].size_bytes == entry.size_bytes


def test_a_wrong_cached_export_is_refused_by_the_equivalence_check(cache, tmp_path):
    # Another model's export in B0's place, with a checksum that matches the swapped file: the
    # cache cannot tell, the comparison with eager fp32 must.
    b0, other = spec_from_variant("b0"), spec_from_multipliers(0.9, 0.9, 224)  # same input
    protocol = Protocol(**QUICK, runtime="onnxruntime")
    measure(b0, protocol)
    measure(other, protocol)
    entries = {e.description.split(" of ")[1].split(" @")[0]: e for e in list_artifacts()}
    wrong, right = entries[other.model], entries["efficientnet_b0"]
    shutil.copyfile(wrong.path, right.path)
    shutil.copyfile(wrong.path.parent / "meta.json", right.path.parent / "meta.json")
    with MeasurementStore(tmp_path / "m.sqlite") as store:
        with pytest.raises(VerificationError, match="differ from eager fp32.*max abs"):
            measure(b0, protocol, store=store, remeasure=True)
        assert store.rows() == []  # never stored


@pytest.mark.slow
def test_compile_measures_an_efficientnet_and_a_peer_verified(cache):
    # A shallow EfficientNet (every block kind, 8 blocks) and a small peer: Inductor's compile
    # time grows with the kernels to generate, and B0 alone took 20 s of it.
    for spec in (spec_from_multipliers(0.5, 0.3, 96), spec_from_timm("resnet10t", 96)):
        m = measure(spec, Protocol(**QUICK, runtime="compile"))
        assert m.runtime == "compile" and m.verified and m.equiv_max_rel <= FP32_MAX_REL
        assert m.compile_s > 0 and m.latency_ms_median > 0


def test_best_keeps_every_runtime_and_reports_the_fastest_verified(cache, tmp_path):
    with MeasurementStore(tmp_path / "m.sqlite") as store:
        result = sweep_best(
            [spec_from_timm(*PEER)],
            Protocol(**QUICK),
            store=store,
            runtimes=("eager", "onnxruntime", "openvino"),
        )
        stored = {m.runtime for m in store.rows()}
    assert stored == {"eager", "onnxruntime", "openvino"} and not result.failures
    (best,) = result.best
    assert best.latency_ms_median == min(m.latency_ms_median for m in result.measurements)
    status, out, _ = run_cli(
        "measure", "--model", PEER[0], "--resolution", str(PEER[1]), "--runtime", "best",
        "--device", "cpu", "--iters", "3", "--warmup", "1", "--max-seconds", "0.5",
        "--store", str(tmp_path / "m.sqlite"), "--format", "json",
    )  # fmt: skip
    assert status == 0
    (printed,) = json.loads(out)
    assert printed["runtime"] in stored and printed["from_store"] is True


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["--runtime", "tvm"], "accepted eager, compile, onnxruntime, openvino, tensorrt, best"),
        (["--runtime", "tensorrt", "--device", "cpu"], "does not run on cpu"),
        (["--runtime", "onnxruntime", "--device", "cuda"], "does not run on cuda"),
    ],
)
def test_bad_runtime_requests_are_one_line(tmp_path, argv, expected):
    status, out, err = run_cli(
        "measure", "--variant", "b0", *argv, "--store", str(tmp_path / "m.sqlite")
    )
    assert status == 2 and out == "" and err.count("\n") == 1 and expected in err


def test_a_missing_runtime_package_is_named(monkeypatch, tmp_path):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "openvino" else real(name)
    )
    assert "pip install openvino" in missing_package("openvino")
    assert "openvino" not in available_runtimes("cpu")
    status, _, err = run_cli(
        "measure", "--variant", "b0", "--device", "cpu", "--runtime", "openvino",
        "--store", str(tmp_path / "m.sqlite"),
    )  # fmt: skip
    assert status == 2 and "needs the package openvino" in err and err.count("\n") == 1


def test_an_export_that_fails_names_the_operator(cache):
    class Spectral(torch.nn.Module):
        def forward(self, x):
            return torch.fft.rfft2(x).abs().mean(dim=(2, 3))

    with pytest.raises(ZooError, match="operator aten::fft_rfft2"):
        export_onnx(Spectral(), torch.randn(1, 3, 32, 32), {"model": "spectral"}, description="x")
    assert list_artifacts() == []  # nothing half-written is kept
