"""Where the time goes: module places on live timm models, layer names back to modules, part
costs against ptflops and the explorer, the profile document's arithmetic, ceilings and kept
profiles read as untrusted files, and ``zoo profile`` on real runtimes (issue: see where the time
goes, and predict it)."""

from __future__ import annotations

import json
import math

import pytest

from explorer import from_variant
from zoo.cli.main import main
from zoo.errors import ZooError
from zoo.models.complexity import count_complexity
from zoo.models.spec import spec_from_timm, spec_from_variant
from zoo.profile import ceilings as ceilings_module
from zoo.profile.ceilings import Ceilings, ceilings_for
from zoo.profile.costs import part_costs
from zoo.profile.layers import Place, module_of_layer, module_places, place_layers
from zoo.profile.saved import load_profile, profile_path, save_profile
from zoo.profile.stages import profile_document, rate_row
from zoo.records.runtimes import profiled_runtimes

CEILINGS = Ceilings("fp32", 100.0, 10.0, "test machine", "now")


def _timm(name: str):
    import timm

    return timm.create_model(name, pretrained=False)


def test_every_efficientnet_module_has_the_stage_and_kind_of_its_block():
    places = module_places(_timm("efficientnet_b0"))
    assert places["conv_stem"] == Place("stem", "conv")
    assert places["bn1"] == Place("stem", "conv")  # folded into the stem by inference runtimes
    assert places["blocks.0.0.conv_dw"] == Place("stage 1", "depthwise")
    assert places["blocks.0.0.se.conv_reduce"] == Place("stage 1", "se")
    assert places["blocks.6.0.conv_pwl"] == Place("stage 7", "pointwise")
    assert places["blocks.6.0.bn2"] == Place("stage 7", "depthwise")
    assert places["blocks.1.1"] == Place("stage 2", "other")  # the residual addition
    assert places["classifier"] == Place("head", "pointwise")
    assert places["global_pool"].kind == "other"
    stages = {p.part for name, p in places.items() if name.startswith("blocks.")}
    assert stages == {f"stage {i}" for i in range(1, 8)}


def test_a_resnet_node_is_found_in_its_stage_not_in_the_stem_module_of_the_same_name():
    places = module_places(_timm("resnet50"))
    module = module_of_layer("/layer1/layer1.0/conv1/Conv/WithoutBiases", places)
    assert module == "layer1.0.conv1" and places[module] == Place("stage 1", "pointwise")
    assert module_of_layer("/conv1/Conv/WithoutBiases", places) == "conv1"


def test_a_resnet_has_a_stem_four_stages_and_dense_convolutions():
    places = module_places(_timm("resnet50"))
    assert places["conv1"] == Place("stem", "conv")
    assert places["maxpool"] == Place("stem", "other")
    assert places["layer1.0.conv2"] == Place("stage 1", "conv")
    assert places["layer4.2.conv3"] == Place("stage 4", "pointwise")
    assert places["layer2.0.downsample.0"] == Place("stage 2", "pointwise")
    assert places["fc"] == Place("head", "pointwise")
    assert not any(p.kind == "depthwise" for p in places.values())


@pytest.mark.parametrize(
    ("layer", "module"),
    [
        ("/blocks/blocks.1/blocks.1.0/conv_dw/Conv/WithoutBiases", "blocks.1.0.conv_dw"),
        ("/blocks/blocks.0/blocks.0.0/se/conv_reduce/Conv_output_0_nchwc", "blocks.0.0.se.conv_reduce"),
        ("/blocks/blocks.1/blocks.1.1/Add", "blocks.1.1"),
        ("input_abcd_acdb_/conv_stem/Conv/WithoutBiases", "conv_stem"),  # its input reorder
        ("/conv_head/Conv/WithoutBiases", "conv_head"),
        ("blocks.2.0.conv_pw", "blocks.2.0.conv_pw"),  # eager names the module itself
        ("ReorderOutput_token_290", None),
        ("", None),
        ("/not_a_module/Conv", None),
    ],
)  # fmt: skip
def test_a_layer_name_leads_to_its_deepest_module(layer, module):
    places = module_places(_timm("efficientnet_b0"))
    assert module_of_layer(layer, places) == module


def test_a_layer_no_module_names_counts_with_the_layer_before_it():
    places = {"a": Place("stem", "conv"), "b": Place("stage 1", "depthwise")}
    placed = place_layers([("Reorder_1", 1.0), ("a", 2.0), ("x", 3.0), ("b", 4.0)], places)
    assert [(p.part, ms, named) for p, ms, named in placed] == [
        ("stem", 1.0, False), ("stem", 2.0, True), ("stem", 3.0, False), ("stage 1", 4.0, True),
    ]  # fmt: skip


def test_an_explorer_network_costs_what_the_explorer_says():
    costs, counted = part_costs(spec_from_variant("b0"), "fp32")
    assert counted == "explorer"
    assert sum(macs for macs, _ in costs.values()) == from_variant("b0").macs
    bf16, _ = part_costs(spec_from_variant("b0"), "bf16")
    assert sum(b for _, b in bf16.values()) * 2 == sum(b for _, b in costs.values())


@pytest.mark.parametrize("name", ["resnet50", "mobilenetv3_large_100"])
def test_a_peer_costs_what_ptflops_counts_for_its_convolutions(name):
    costs, counted = part_costs(spec_from_timm(name), "fp32")
    assert counted == "modules"
    macs = sum(m for m, _ in costs.values())
    reference = count_complexity(spec_from_timm(name)).macs  # ptflops, batch norms included
    assert 0.98 * reference <= macs <= reference
    assert {part for part, _ in costs} >= {"stem", "stage 1", "head"}


def test_the_document_sums_its_parts_and_states_the_gap():
    placed = [
        ("stem", "conv", 1.0, True), ("stage 1", "depthwise", 2.0, True),
        ("stage 1", "pointwise", 3.0, False), ("head", "pointwise", 4.0, True),
    ]  # fmt: skip
    costs = {("stem", "conv"): (1_000_000, 100_000), ("stage 1", "pointwise"): (6_000_000, 10**6)}
    doc = profile_document(placed, costs, whole_ms=8.0, ceilings=CEILINGS)
    assert [p["name"] for p in doc["parts"]] == ["stem", "stage 1", "head"]
    assert doc["profiled_ms"] == pytest.approx(10.0)
    assert doc["gap_pct"] == pytest.approx(25.0)
    assert doc["agrees"] is False
    assert doc["unnamed_ms"] == pytest.approx(3.0)
    stage = doc["parts"][1]
    assert stage["ms"] == pytest.approx(5.0) and stage["share_pct"] == pytest.approx(50.0)
    assert stage["kinds_ms"] == {"pointwise": 3.0, "depthwise": 2.0}
    # 12 MFLOP in 5 ms = 2.4 GFLOP/s; 12 FLOP/byte → attainable min(100, 120) = 100
    assert stage["gflops"] == pytest.approx(2.4) and stage["intensity"] == pytest.approx(12.0)
    assert stage["roofline_pct"] == pytest.approx(2.4)
    assert doc["parts"][2]["gflops"] is None  # no costs known: nothing rated
    close = profile_document(placed, costs, whole_ms=9.5, ceilings=CEILINGS)
    assert close["agrees"] is True


def test_a_memory_bound_part_is_rated_against_the_bandwidth_ceiling():
    row = rate_row(1.0, 1_000_000, 2_000_000, CEILINGS)  # 1 FLOP/byte: attainable 10 GFLOP/s
    assert row["intensity"] == pytest.approx(1.0)
    assert row["roofline_pct"] == pytest.approx(100 * 2.0 / 10.0)
    assert rate_row(0.0, 5, 5, CEILINGS)["gflops"] is None


def test_stored_ceilings_are_used_and_bad_ones_measured_again(monkeypatch):
    calls = []

    def fake(threads, precision="fp32"):
        calls.append(threads)
        return Ceilings(precision, 50.0, 5.0, f"fp {threads}", "then")

    monkeypatch.setattr(ceilings_module, "measure_ceilings", fake)
    first = ceilings_for(2)
    assert (first.peak_gflops, len(calls)) == (50.0, 1)
    assert ceilings_for(2).peak_gflops == 50.0 and len(calls) == 1  # read back, not measured
    path = ceilings_module._path()
    data = json.loads(path.read_text())
    for key in data:
        data[key]["peak_gflops"] = -3
    path.write_text(json.dumps(data))
    assert ceilings_for(2).peak_gflops == 50.0 and len(calls) == 2  # not trusted: measured
    path.write_text("not json")
    assert ceilings_for(2).peak_gflops == 50.0 and len(calls) == 3


def _document() -> dict:
    doc = profile_document(
        [("stem", "conv", 1.0, True)], {("stem", "conv"): (10, 10)}, 1.0, CEILINGS
    )
    return {"model": "m", "resolution": 224, "runtime": "openvino", "precision": "fp32", **doc}


def test_a_kept_profile_is_read_back_and_a_tampered_one_ignored():
    assert load_profile("m", 224, "openvino", "fp32") is None
    path = save_profile(_document())
    assert path == profile_path("m", 224, "openvino", "fp32")
    assert load_profile("m", 224, "openvino", "fp32")["parts"][0]["name"] == "stem"
    assert load_profile("m", 240, "openvino", "fp32") is None
    data = json.loads(path.read_text())
    for bad in ({"parts": [{"name": "stem", "ms": -1, "macs": 1, "bytes": 1}]},
                {"whole_ms": "fast"}, {"model": "other"}, {"format": "x"},
                {"ceilings": {"peak_gflops": 0, "bandwidth_gbs": 1}}):  # fmt: skip
        path.write_text(json.dumps({**data, **bad}))
        assert load_profile("m", 224, "openvino", "fp32") is None, bad
    path.write_text("[" * 10_000)
    assert load_profile("m", 224, "openvino", "fp32") is None


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--variant", "b0", "--runtime", "compile"], "invalid choice"),
        (["--variant", "b0", "--model", "resnet50"], "--model names a timm model on its own"),
        (["--variant", "b0", "--precision", "fp32", "--calibration", "."], "int8 only"),
        (["--variant", "b0", "--calls", "2"], "from 5 to 1000"),
        (["--phi", "1", "--width", "1.1"], "profile one configuration"),
        (["--model", "not_a_model_xyz"], "not_a_model_xyz"),
    ],
)
def test_bad_profile_requests_are_one_line_naming_what_is_accepted(argv, says, capsys):
    try:
        status = main(["profile", *argv])
    except SystemExit as exc:  # argparse's own refusals
        status = exc.code
    assert status == 2
    assert says in capsys.readouterr().err


def test_a_runtime_without_a_layer_profiler_is_refused_by_name():
    from zoo.runtimes.runner import require_profiler

    with pytest.raises(ZooError, match="accepted: eager, onnxruntime, openvino"):
        require_profiler("compile")
    assert profiled_runtimes() == ("eager", "onnxruntime", "openvino")


@pytest.mark.model
@pytest.mark.parametrize("runtime", ["eager", "openvino", "onnxruntime"])
def test_b0_is_profiled_on_each_cpu_runtime_and_kept_for_the_explorer(runtime, capsys):
    status = main(["profile", "--variant", "b0", "--runtime", runtime, "--calls", "5",
                   "--format", "json"])  # fmt: skip
    assert status == 0
    doc = json.loads(capsys.readouterr().out)
    assert [p["name"] for p in doc["parts"]] == [
        "stem",
        *(f"stage {i}" for i in range(1, 8)),
        "head",
    ]
    assert doc["profiled_ms"] == pytest.approx(sum(p["ms"] for p in doc["parts"]))
    assert doc["gap_pct"] == pytest.approx(100 * (doc["profiled_ms"] / doc["whole_ms"] - 1))
    assert sum(p["macs"] for p in doc["parts"]) == from_variant("b0").macs
    assert all(p["ms"] > 0 for p in doc["parts"])
    assert math.isclose(sum(p["share_pct"] for p in doc["parts"]), 100.0, rel_tol=1e-6)
    assert doc["ceilings"]["peak_gflops"] > 0 and doc["ceilings"]["bandwidth_gbs"] > 0
    assert doc["profiler"] and doc["runtime"] == runtime
    # Every layer lands in a stage: the depthwise convolutions are found in every stage
    assert all("depthwise" in p["kinds_ms"] for p in doc["parts"][1:-1])
    kept = load_profile(doc["model"], 224, runtime, "fp32")
    assert kept is not None and kept["whole_ms"] == doc["whole_ms"]
    # ONNX Runtime's profiler slows its kernels: its parts are timed alone, the profiler's sum
    # kept beside; the others' parts are their profilers' sums
    assert ("run alone" in doc["parts_timed"]) == (runtime == "onnxruntime")
    assert doc["profiler_ms"] > 0


def test_parts_timed_alone_keep_the_profilers_split_within_each_part():
    from zoo.profile.run import scaled_to_parts

    placed = [("stem", "conv", 1.0, True), ("stage 1", "depthwise", 3.0, True),
              ("stage 1", "se", 1.0, True)]  # fmt: skip
    scaled = scaled_to_parts(placed, {"stem": 0.5, "stage 1": 2.0, "head": 0.25})
    assert scaled == [
        ("stem", "conv", 0.5, True),
        ("stage 1", "depthwise", 1.5, True),
        ("stage 1", "se", 0.5, True),
        ("head", "other", 0.25, False),  # timed alone, no profiled layer: kept, not dropped
    ]
    doc = profile_document(scaled, {}, 3.0, CEILINGS)
    assert doc["profiled_ms"] == pytest.approx(2.75)
    assert doc["gap_pct"] == pytest.approx(100 * (2.75 / 3.0 - 1))
