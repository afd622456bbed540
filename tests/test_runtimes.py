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
from pathlib import Path

import pytest
import torch

from tests.golden import TORCHVISION_EFFICIENTNET
from zoo.cli.main import main
from zoo.errors import ZooError
from zoo.files import file_sha256
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


def _swap_exports(b0, other, protocol) -> tuple[Path, str]:
    """Another model's export in B0's place with its ``meta.json``: the cache's own record
    matches the swapped file, as a poisoned cache's would. (B0's file, the wrong digest.)"""
    entries = {e.description.split(" of ")[1].split(" @")[0]: e for e in list_artifacts()}
    wrong, right = entries[other.model], entries["efficientnet_b0"]
    shutil.copyfile(wrong.path, right.path)
    shutil.copyfile(wrong.path.parent / "meta.json", right.path.parent / "meta.json")
    return right.path, file_sha256(wrong.path)


def test_a_swapped_export_is_never_measured(cache, tmp_path):
    """With a store, the swapped export is not the one whose digest the store recorded: it is
    rebuilt before use. Without one, it fails the check against eager fp32 (on random images
    drawn fresh, that a poisoned graph cannot know), and is rebuilt from scratch once."""
    b0, other = spec_from_variant("b0"), spec_from_multipliers(0.9, 0.9, 224)  # same input
    protocol = Protocol(**QUICK, runtime="onnxruntime")
    with MeasurementStore(tmp_path / "m.sqlite") as store:
        first = measure(b0, protocol, store=store)
        measure(other, protocol, store=store)
        path, wrong = _swap_exports(b0, other, protocol)
        again = measure(b0, protocol, store=store, remeasure=True)
        assert again.verified and again.artifact_cached is False  # rebuilt, not trusted
        assert file_sha256(path) != wrong and first.verified
    path, wrong = _swap_exports(b0, other, protocol)
    alone = measure(b0, protocol)  # no store: the cache's record is all there is
    assert alone.verified and alone.artifact_cached is False and file_sha256(path) != wrong


def test_a_damaged_kernel_cache_is_rebuilt_not_trusted(cache, tmp_path):
    """OpenVINO's compiled blobs damaged in place: with a store, files it did not record are
    removed before use; without one, the failed check rebuilds from scratch. Either way a
    verified figure, never "max relative difference inf"."""
    from zoo.runtimes.artifacts import runtime_cache_files

    spec = spec_from_variant("b0")
    protocol = Protocol(**QUICK, runtime="openvino")
    with MeasurementStore(tmp_path / "m.sqlite") as store:
        assert measure(spec, protocol, store=store).verified
        blobs = runtime_cache_files("openvino")
        assert blobs, "OpenVINO cached nothing"
        for blob in blobs:
            blob.write_bytes(b"\0" * blob.stat().st_size)
        again = measure(spec, protocol, store=store, remeasure=True)
        assert again.verified and again.equiv_max_rel <= FP32_MAX_REL
    for blob in runtime_cache_files("openvino"):
        blob.write_bytes(b"\0" * blob.stat().st_size)
    alone = measure(spec, protocol)
    assert alone.verified and alone.equiv_max_rel <= FP32_MAX_REL


def test_a_runtime_that_still_disagrees_when_rebuilt_is_failed(monkeypatch):
    """The check fails, everything is rebuilt from scratch, the check fails again: reported
    failed with the numbers, never stored; the rebuild was asked for."""
    from zoo.measure import orchestrate

    calls: list[tuple] = []

    def fake_run(target, args, *, what, timeout_s):
        calls.append((target.__name__, args[-1] if target.__name__ == "prepare_onnx" else None))
        if target.__name__ == "prepare_onnx":
            return {"onnx_path": "", "artifact_cached": False}
        return {"verified": False, "verify_reason": "fp32: max relative difference 0.5",
                "equiv_max_abs": 1.0, "equiv_top1_pct": 10.0, "equiv_inputs": "x"}  # fmt: skip

    monkeypatch.setattr(orchestrate, "run_isolated", fake_run)
    spec = spec_from_variant("b0")
    with pytest.raises(VerificationError, match="also when rebuilt from scratch"):
        orchestrate.measure_isolated(spec, Protocol(**QUICK, runtime="onnxruntime", threads=1))
    assert calls == [("prepare_onnx", False), ("measure_in_process", None),
                     ("prepare_onnx", True), ("measure_in_process", None)]  # fmt: skip


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
