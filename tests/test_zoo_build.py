"""zoo.build: the built PyTorch models equal the explorer's stage tables, and peers build.

Golden parameter counts are torchvision's published ``num_params`` (pytorch/vision
``torchvision/models/efficientnet.py`` and the peers' model files @07a929e), typed here, never taken from the code under test. Models are built on the
``meta`` device (shapes without memory).
"""

import subprocess
import sys
from pathlib import Path

import pytest
import timm  # noqa: E402
import torch  # noqa: E402

from tests.golden import TORCHVISION_EFFICIENTNET
from tests.timm_structure import model_structure
from zoo import ZooError  # noqa: E402
from zoo.models.build import build_model
from zoo.models.spec import (
    PEER_MODELS,
    network_for,
    spec_from_multipliers,
    spec_from_phi,
    spec_from_timm,
    spec_from_variant,
)

ROOT = Path(__file__).resolve().parent.parent

# torchvision EfficientNet_B{0..7}_Weights.IMAGENET1K_V1 num_params.
TORCHVISION_PARAMS = {v: params for v, (params, _, _) in TORCHVISION_EFFICIENTNET.items()}

# torchvision peers' num_params (section 3.2) for the timm models with the same architecture.
PEER_PARAMS = {
    "resnet50": 25_557_032,
    "mobilenetv2_100": 3_504_872,
    "mobilenetv3_large_100": 5_483_032,
    "regnety_016": 11_202_430,
    "regnety_032": 19_436_338,
    "convnext_tiny": 28_589_128,
    "tf_efficientnetv2_s": 21_458_488,  # torchvision EfficientNet_V2_S
}

PHI_CONFIGS = [
    (0.0, 1.2, 1.1, 1.15),
    (1.0, 1.2, 1.1, 1.15),
    (2.5, 1.2, 1.1, 1.15),
    (-1.0, 1.2, 1.1, 1.15),
    (1.7, 1.3, 1.05, 1.2),
    (3.0, 1.1, 1.15, 1.1),
]


def assert_matches_explorer(spec):
    net = network_for(spec)
    model = build_model(spec, device="meta")
    stem, outs, repeats, head, params = model_structure(model)
    assert stem == net.stem_channels
    assert outs == [s.out_channels for s in net.stages]
    assert repeats == [s.repeats for s in net.stages]
    assert head == net.head_channels
    assert params == net.params
    return params


@pytest.mark.parametrize("variant", sorted(TORCHVISION_PARAMS))
def test_official_variants_equal_explorer_and_torchvision(variant):
    spec = spec_from_variant(variant)
    assert spec.model == f"efficientnet_{variant}"
    assert spec.kind == "efficientnet" and spec.family == "efficientnet"
    assert assert_matches_explorer(spec) == TORCHVISION_PARAMS[variant]


@pytest.mark.parametrize("phi, alpha, beta, gamma", PHI_CONFIGS)
def test_phi_configurations_equal_explorer(phi, alpha, beta, gamma):
    spec = spec_from_phi(phi, alpha, beta, gamma)
    assert spec.phi == phi and spec.alpha == alpha
    assert_matches_explorer(spec)


def test_explicit_multipliers_equal_explorer():
    spec = spec_from_multipliers(1.3, 1.7, 288)
    assert spec.model == "efficientnet_w1.3_d1.7"
    assert spec.resolution == 288
    assert_matches_explorer(spec)


def test_canonical_ids():
    assert spec_from_phi(2.5).model == "efficientnet_phi2.5_a1.2_b1.1_g1.15"
    assert spec_from_phi(-1).model == "efficientnet_phi-1_a1.2_b1.1_g1.15"
    assert spec_from_variant("EfficientNet-B3") == spec_from_variant("b3")
    # the timm name of an official variant is that variant (cross-checked with the explorer)
    assert spec_from_timm("efficientnet_b3") == spec_from_variant("b3")
    assert spec_from_timm("efficientnet_b3", resolution=320).resolution == 320


def test_real_cpu_build_is_eval_mode_and_matches():
    spec = spec_from_phi(-2.0)
    model = build_model(spec)
    assert not model.training
    assert sum(p.numel() for p in model.parameters()) == network_for(spec).params
    with torch.inference_mode():
        out = model(torch.randn(1, 3, spec.resolution, spec.resolution))
    assert tuple(out.shape) == (1, 1000)


@pytest.mark.parametrize(
    "name",
    [*PEER_MODELS, "tf_efficientnet_b3", "tf_efficientnet_lite0", "efficientnet_lite0"],
)
def test_peer_models_build(name):
    spec = spec_from_timm(name)
    assert spec.kind == "timm" and spec.model == name
    assert network_for(spec) is None
    model = build_model(spec, device="meta")
    params = sum(p.numel() for p in model.parameters())
    if name in PEER_PARAMS:
        assert params == PEER_PARAMS[name]
    # default resolution: the pretrained config's test size (read from live timm)
    cfg = timm.models.get_pretrained_cfg(name)
    assert spec.resolution == (cfg.test_input_size or cfg.input_size)[-1]


def test_peer_families():
    assert spec_from_timm("tf_efficientnet_b3").family == "tf_efficientnet"
    assert spec_from_timm("efficientnet_lite0").family == "efficientnet_lite"
    assert spec_from_timm("regnety_016").family == "regnety"
    assert spec_from_timm("tf_efficientnetv2_s").family == "tf_efficientnetv2"


def test_unknown_timm_name_suggests_close_matches():
    with pytest.raises(ZooError, match=r"unknown model 'resnet5O'.*did you mean.*resnet50"):
        spec_from_timm("resnet5O")
    with pytest.raises(ZooError, match="unknown model"):
        spec_from_timm("zzzz_not_a_model")


@pytest.mark.parametrize(
    "call",
    [
        lambda: spec_from_variant("b9"),
        lambda: spec_from_phi(float("nan")),
        lambda: spec_from_multipliers(1.0, 1.0, 8),
        lambda: spec_from_timm("resnet50", resolution=0),
        lambda: spec_from_timm(""),
    ],
)
def test_bad_specs_are_zoo_errors(call):
    with pytest.raises(ZooError):
        call()


def test_importing_zoo_build_does_not_import_torch():
    code = (
        "import sys, zoo, zoo.models.build, zoo.measure.memory, zoo.measure.orchestrate, "
        "zoo.store.measurement_store, zoo.models.complexity, zoo.cli.measure; "
        "print('torch' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"


def _zoo_modules() -> list[str]:
    """Every module of the zoo, its wings' included (not ``__main__``)."""
    names = []
    for path in (ROOT / "zoo").rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__main__":
            continue
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return sorted(names)


@pytest.mark.parametrize("module", _zoo_modules())
def test_docstring_examples_run(module):
    # pytest's --doctest-modules covers tests/, explorer/, data/ and dashboard/; the zoo's
    # examples run here, every module's.
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(module))
    assert result.failed == 0


def test_settled_batchnorm_keeps_a_random_deep_network_near_unit_scale_on_photos():
    from zoo.measure.timing import _settling_images
    from zoo.models.build import settle_batchnorm
    from zoo.runtimes.equivalence import check_inputs

    spec = spec_from_timm("efficientnetv2_rw_s", resolution=192)
    torch.manual_seed(0)
    model = build_model(spec)
    photos, _ = check_inputs(192, seed=0)
    with torch.no_grad():
        before = model(torch.from_numpy(photos)).abs().max().item()
    momenta = [m.momentum for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    settle_batchnorm(model, _settling_images(192))
    with torch.no_grad():
        after = model(torch.from_numpy(photos)).abs().max().item()
    assert before > 1000.0, before  # timm's initial statistics: activations grow block by block
    assert after < 100.0 and after < before / 100, (before, after)
    assert not model.training
    assert [m.momentum for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)] == momenta
