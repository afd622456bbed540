"""The latency model: the operator breakdown against a live timm model, names back to networks,
the design, the fit on known coefficients, saved models read as untrusted files, and the
``predict`` command (issue: see where the time goes, and predict it)."""

from __future__ import annotations

import json
import math
import random

import pytest

from explorer import from_multipliers, from_phi, from_variant
from explorer.operators import OPERATOR_KINDS, operator_costs, part_names
from zoo.cli.main import main
from zoo.errors import ZooError
from zoo.latency.design import DEFAULT_MAX_GMACS, calibration_design
from zoo.latency.features import FEATURES, network_features
from zoo.latency.fit import MIN_POINTS, fit_latency_model, solve
from zoo.latency.saved import load_model, model_path, save_model, saved_models
from zoo.models.spec import (
    network_for,
    spec_from_multipliers,
    spec_from_name,
    spec_from_phi,
    spec_from_timm,
    spec_from_variant,
)
from zoo.records.environment import environment_for
from zoo.records.protocol import Protocol

TRUE = (0.4, 3.0, 40.0, 0.08, 0.01)  # ms per call, per dense GMAC, per dw GMAC, per MB, per layer


def _points(count: int, noise: float = 0.0) -> list:
    rng = random.Random(3)
    nets = calibration_design(count)
    return [
        (net, sum(c * x for c, x in zip(TRUE, network_features(net, 1, "fp32"), strict=True))
         * (1 + rng.uniform(-noise, noise)))
        for net in nets
    ]  # fmt: skip


def _model(points: list, machine: str = "0123456789abcdef", runtime: str = "openvino"):
    return fit_latency_model(
        points, machine=machine, host="h", device_name="cpu", runtime=runtime,
        precision="fp32", batch_size=1, models=("a@224",), fitted_at="2026-12-06T00:00:00+00:00",
    )  # fmt: skip


@pytest.mark.model
def test_the_breakdown_matches_a_live_timm_model_conv_by_conv():
    import timm
    import torch

    found = dict.fromkeys(("depthwise", "se", "dense"), 0)

    def counter(name: str):
        def hook(module, _, output):
            area = output.shape[-1] * output.shape[-2]
            if ".se." in name:  # a biased 1×1 conv on a 1×1 map: one MAC per weight and bias
                found["se"] += module.weight.numel() + module.bias.numel()
            elif module.groups > 1 and module.groups == module.in_channels:
                found["depthwise"] += module.weight.numel() * area
            else:
                found["dense"] += module.weight.numel() * area

        return hook

    for variant, px in (("b0", 224), ("b3", 300)):
        found.update(dict.fromkeys(found, 0))
        model = timm.create_model(f"efficientnet_{variant}", pretrained=False).eval()
        for name, module in model.named_modules():
            if isinstance(module, torch.nn.Conv2d):
                module.register_forward_hook(counter(name))
        with torch.no_grad():
            model(torch.zeros(1, 3, px, px))
        net = from_variant(variant)
        costs = operator_costs(net)
        assert found["depthwise"] == sum(c.macs for c in costs if c.kind == "depthwise")
        assert found["se"] == sum(c.macs for c in costs if c.kind == "se")
        dense = sum(c.macs for c in costs if c.kind in ("conv", "pointwise"))
        assert found["dense"] == dense - net.classifier.macs  # the classifier is a Linear


@pytest.mark.parametrize("variant", ["b0", "b3", "b7", "l2"])
def test_the_breakdown_adds_up_to_the_network(variant):
    net = from_variant(variant)
    costs = operator_costs(net)
    assert sum(c.macs for c in costs) == net.macs
    assert {c.kind for c in costs} <= set(OPERATOR_KINDS)
    assert [p for p in part_names(net) if any(c.part == p for c in costs)] == list(part_names(net))
    assert all(c.bytes_moved("int8") * 4 == c.bytes_moved("fp32") for c in costs)


def network_of(model: str, resolution: int):
    spec = spec_from_name(model, resolution)
    return None if spec is None else network_for(spec)


def test_stored_names_lead_back_to_the_explorer_network():
    rng = random.Random(0)
    for _ in range(40):
        phi, w, d = rng.uniform(-1, 3), rng.uniform(0.4, 2), rng.uniform(0.4, 3)
        r = rng.randrange(96, 600)
        for spec, net in (
            (spec_from_phi(phi, 1.2, 1.1, 1.15), from_phi(phi, 1.2, 1.1, 1.15)),
            (spec_from_multipliers(w, d, r), from_multipliers(w, d, r)),
        ):
            assert spec_from_name(spec.model, spec.resolution).model == spec.model
            back = network_of(spec.model, spec.resolution)
            assert back is not None and back.macs == net.macs and back.params == net.params
    b3 = network_of(spec_from_variant("b3", 256).model, 256)
    assert b3.resolution == 256 and b3.width_multiplier == 1.2
    assert network_of(spec_from_timm("resnet50").model, 224) is None
    assert network_of("efficientnet_phi1e999_a1_b1_g1", 224) is None


def test_the_design_is_spread_distinct_and_under_the_cap():
    design = calibration_design(20)
    assert len(design) == 20 and design[1].phi == 0.0
    keys = {(n.width_multiplier, n.depth_multiplier, n.resolution) for n in design}
    assert len(keys) == 20 and all(n.macs <= DEFAULT_MAX_GMACS * 1e9 for n in design)
    assert len({n.resolution for n in design}) >= 10
    assert len({round(n.depth_multiplier, 1) for n in design}) >= 8
    other = calibration_design(10, skip=1000)
    assert not keys & {(n.width_multiplier, n.depth_multiplier, n.resolution) for n in other}
    assert all(n.macs <= 0.5e9 for n in calibration_design(12, 0.5))


def test_the_fit_recovers_known_coefficients_and_backtests_itself():
    exact = _model(_points(12))
    assert all(math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9) for a, b in
               zip(exact.coefficients, TRUE, strict=True))  # fmt: skip
    assert exact.backtest.within_10_pct == 100.0 and exact.backtest.mape_pct < 1e-6
    noisy = _model(_points(20, noise=0.04))
    assert noisy.backtest.points == 20 and noisy.backtest.within_10_pct >= 90.0
    assert 1.0 < noisy.backtest.mape_pct < 8.0 and noisy.backtest.low < 0 < noisy.backtest.high
    net = from_variant("b1")
    parts = noisy.parts_ms(net)
    assert math.isclose(sum(parts.values()), noisy.predict_ms(net), rel_tol=1e-9)
    low, high = noisy.interval_ms(noisy.predict_ms(net))
    assert low < noisy.predict_ms(net) < high
    assert all(c >= 0 for c in solve([[1, 2], [1, 3], [1, 4]], [5.0, 4.0, 3.0]))


def test_too_few_points_name_the_calibrate_command():
    with pytest.raises(ZooError, match="python -m zoo calibrate --runtime openvino"):
        _model(_points(MIN_POINTS - 1))


def test_a_saved_model_is_read_back_and_a_tampered_one_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    model = _model(_points(10, noise=0.02))
    path = save_model(model)
    assert load_model(path) == model and saved_models() == ([model], [])
    document = json.loads(path.read_text())
    for change, why in (
        ({"coefficients": [1, 2, 3, -4, 5]}, "below 0"),
        ({"features": ["call"]}, "other features"),
        ({"coefficients": [1, 2, 3, "x", 5]}, "not a finite number"),
        ({"format": "something else"}, "not a latency model"),
        ({"batch_size": 0}, "batch_size"),
    ):
        path.write_text(json.dumps({**document, **change}))
        with pytest.raises(ZooError, match=why):
            load_model(path)
        assert saved_models()[0] == [] and path.name in saved_models()[1][0]
    path.write_text("x" * 300_000)
    with pytest.raises(ZooError, match="over the file size cap"):
        load_model(path)
    with pytest.raises(ZooError, match="plain name"):
        model_path("../x", "openvino", "fp32", 1)
    assert FEATURES[0] == "call"


def test_predict_says_how_to_calibrate_then_predicts_with_its_backtest(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert main(["predict", "--variant", "b3", "--runtime", "openvino"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "python -m zoo calibrate --runtime openvino" in err
    machine = environment_for(Protocol(device="cpu", runtime="openvino")).key
    save_model(_model(_points(12, noise=0.03), machine=machine))
    assert main(["predict", "--phi", "1.5", "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    net = from_phi(1.5)
    truth = sum(c * x for c, x in zip(TRUE, network_features(net, 1, "fp32"), strict=True))
    assert abs(document["predicted_ms"] / truth - 1) < 0.10
    low, high = document["interval_ms"]
    assert low < document["predicted_ms"] < high and document["backtest"]["points"] == 12
    assert document["prediction_took_ms"] < 5.0 and "stage 7" in document["parts_ms"]
    assert main(["predict", "--width", "1.1", "--depth", "1.2", "--resolution", "240"]) == 0
    assert "predicted" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["predict", "--variant", "b3", "--phi", "1"], "predict one configuration"),
        (["predict", "--width", "1.1"], "predict one configuration"),
        (["predict", "--phi", "1", "--resolution", "300"], "does not apply to --phi"),
        (["predict", "--variant", "b99"], "b99"),
        (["predict", "--width", "50", "--depth", "1"], "width multiplier"),
        (["calibrate", "--configs", "0"], "--configs must be from 1"),
        (["calibrate", "--budget-minutes", "-1"], "--budget-minutes must be above 0"),
    ],
)
def test_bad_latency_arguments_exit_2_with_one_line(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err
