"""What a chart lacks (``zoo.measure.coverage``), what a view needs (``zoo.models.views``) and
``python -m zoo measure --view``: exactly the missing points, nothing already stored or queued,
what will not fit refused by name."""

from __future__ import annotations

import pytest

from data.accuracy import VIEWS, view_points
from tests.fakes import fake_measurement
from zoo.cli.main import main
from zoo.errors import ZooError
from zoo.measure.coverage import coverage
from zoo.models.spec import spec_from_phi, spec_from_variant
from zoo.models.views import VIEW_KEYS, view_specs
from zoo.records.environment import environment_for, resolve_protocol
from zoo.records.protocol import Protocol
from zoo.store.jobs import submit
from zoo.store.measurement_store import MeasurementStore


def test_a_view_s_specs_are_its_networks_at_the_sizes_its_accuracies_were_measured_at():
    assert tuple(v.key for v in VIEWS) == VIEW_KEYS
    for key in VIEW_KEYS:
        wanted = [(p.arch, p.measure_px) for p in view_points(key).points]
        assert [(s.model, s.resolution) for s in view_specs(key)] == wanted
    paper = {s.model: s.resolution for s in view_specs("paper")}
    assert paper["efficientnet_b7"] == 600 and paper["efficientnet_b3"] == 300  # Table 2's
    with pytest.raises(ZooError, match="accepted paper, timm-in1k"):
        view_specs("imagenet")


def test_coverage_sorts_a_chart_s_networks_by_what_is_known_of_them(tmp_path, monkeypatch):
    from zoo.measure import memory

    # a small machine: 1 GB free holds the tiny networks (~0.8 GB with the runtime), not B7 at
    # 600 px (~1.2 GB)
    monkeypatch.setattr(memory, "available_memory_bytes", lambda device: 1000 * 2**20)
    protocol = Protocol(device="cpu")
    env = environment_for(resolve_protocol(protocol))
    stored, noisy, queued, missing = (spec_from_phi(phi) for phi in (-3.0, -2.9, -2.8, -2.7))
    huge = spec_from_variant("b7")
    with MeasurementStore(tmp_path / "m.sqlite") as store:
        store.put(fake_measurement(stored.model, stored.resolution, env=env.key))
        store.put(fake_measurement(noisy.model, noisy.resolution, env=env.key, quality="noisy"))
        submit(store, queued, protocol, requested_by="someone")
        found = coverage(store, [stored, noisy, queued, missing, huge, stored], protocol)
    assert found.measured == (stored,)
    assert found.noisy == (noisy,)
    assert found.queued == (queued,)
    assert found.missing == (missing,)
    assert found.to_queue == (missing, noisy)
    assert [s for s, _ in found.refused] == [huge] and "available" in found.refused[0][1]
    assert found.missing_s > 0  # an estimate for the two to queue


def test_measure_view_names_what_does_not_fit_and_refuses_an_unknown_view(capsys, tmp_path):
    store = str(tmp_path / "m.sqlite")
    status = main(["measure", "--view", "imagenet", "--store", store])
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1 and "accepted paper, timm-in1k" in err
    # a batch no machine holds: every network of the view skipped by name, then one error
    status = main(["measure", "--view", "keras", "--batch-size", "100000", "--store", store])
    err = capsys.readouterr().err
    assert status == 2
    skipped = [line for line in err.splitlines() if line.startswith("skipped ")]
    assert len(skipped) == len(view_specs("keras"))
    assert "tf_efficientnet_b7 @600px (in --view)" in err
    assert err.splitlines()[-1].startswith("error: nothing to measure")
