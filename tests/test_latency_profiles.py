"""The latency model fitted on kept per-part profiles as well as whole-model measurements.

Synthetic truths (``tests.test_latency_model.TRUE``): known coefficients give each part's and
each network's time, so what the fit recovers is checked against numbers it never produced.
"""

from __future__ import annotations

import json
import math

from tests.fakes import fake_measurement
from tests.test_latency_model import TRUE, _model, _points
from zoo.latency.features import part_features
from zoo.latency.fit import Part, fit_latency_model
from zoo.latency.points import fit_from_store
from zoo.latency.saved import load_model, save_model
from zoo.models.spec import spec_for_network
from zoo.records.environment import environment_for
from zoo.records.protocol import Protocol
from zoo.store.measurement_store import MeasurementStore


def _truth(row) -> float:
    return sum(c * x for c, x in zip(TRUE, row, strict=True))


def _parts(points, which) -> list[Part]:
    """Each part of the chosen points at its true time (the fixed per-call cost is no part)."""
    out = []
    for index in which:
        for name, row in part_features(points[index][0], 1, "fp32").items():
            if name != "per call":
                out.append(Part(index, tuple(row), _truth(row)))
    return out


def _fit(points, parts=()):
    return fit_latency_model(
        points, machine="m", host="h", device_name="cpu", runtime="openvino", precision="fp32",
        batch_size=1, parts=list(parts), profiled=tuple(f"p{p}" for p in {q.point for q in parts}),
    )  # fmt: skip


def _distance(model) -> float:
    """How far the fitted coefficients are from the truth (relative, summed)."""
    return sum(abs(c - t) / t for c, t in zip(model.coefficients, TRUE, strict=True))


def test_profiled_parts_pull_a_noisy_fit_towards_the_truth():
    points = _points(8, noise=0.06)
    alone, helped = _fit(points), _fit(points, _parts(points, range(len(points))))
    assert _distance(helped) < _distance(alone)
    assert helped.profiled and not alone.profiled
    # Exact points and exact parts agree: the fit is the truth either way.
    exact = _fit(_points(8), _parts(_points(8), range(8)))
    assert all(
        math.isclose(c, t, rel_tol=1e-5) for c, t in zip(exact.coefficients, TRUE, strict=True)
    )


def test_a_held_out_point_takes_its_profile_with_it():
    # Exact points; wildly wrong parts on point 0 only. Held out, point 0 is predicted from the
    # other (exact) points alone, so at least it lands within 5 %; had its parts stayed in, its
    # prediction would carry their error.
    points = _points(8)
    wrong = [Part(p.point, p.features, p.ms * 50) for p in _parts(points, [0])]
    model = _fit(points, wrong)
    assert model.backtest.within_5_pct >= 100.0 / len(points)
    assert all(c >= 0 for c in model.coefficients)  # non-negative even when pulled


def test_the_store_fit_uses_this_machine_s_kept_profiles(tmp_path, monkeypatch):
    from zoo.profile.saved import save_profile

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    protocol = Protocol(device="cpu", runtime="openvino")
    env = environment_for(protocol)
    points = _points(9, noise=0.03)
    with MeasurementStore(tmp_path / "m.sqlite") as store:
        for net, ms in points:
            spec = spec_for_network(net)
            store.put(fake_measurement(
                spec.model, spec.resolution, env=env.key, host=env.host, runtime="openvino",
                latency_ms_median=ms, quality="clean",
            ))  # fmt: skip
        before = fit_from_store(store, protocol)
        assert before.profiled == ()
        net = points[0][0]
        spec = spec_for_network(net)
        rows = part_features(net, 1, "fp32")
        parts = [{"name": n, "ms": _truth(r) * 1.2, "macs": 1, "bytes": 1, "gflops": None,
                  "intensity": None, "roofline_pct": None}
                 for n, r in rows.items() if n != "per call"]  # fmt: skip
        profiled_ms = sum(p["ms"] for p in parts)
        save_profile({
            "model": spec.model, "resolution": spec.resolution, "runtime": "openvino",
            "precision": "fp32", "threads": env.threads, "whole_ms": profiled_ms / 1.2,
            "profiled_ms": profiled_ms, "gap_pct": 20.0, "parts": parts,
            "ceilings": {"peak_gflops": 300.0, "bandwidth_gbs": 25.0},
        })  # fmt: skip
        after = fit_from_store(store, protocol)
    assert after.profiled == (f"{spec.model}@{spec.resolution}",)
    assert after.coefficients != before.coefficients
    assert load_model(save_model(after)).profiled == after.profiled


def test_a_model_saved_before_profiles_reads_back_with_none(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    path = save_model(_model(_points(8)))
    document = json.loads(path.read_text())
    del document["profiled"]
    path.write_text(json.dumps(document))
    assert load_model(path).profiled == ()
    path.write_text(json.dumps({**document, "profiled": [1]}))
    assert "profiled is not a list of names" in _refusal(path)


def _refusal(path) -> str:
    from zoo.errors import ZooError

    try:
        load_model(path)
    except ZooError as exc:
        return str(exc)
    raise AssertionError("accepted")
