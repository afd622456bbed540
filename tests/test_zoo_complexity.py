"""zoo.complexity: exact params, ptflops (aten) MACs, and the cross-check with the explorer.

Golden numbers: torchvision's published num_params and 3-decimal GFLOPS (which are MACs) from
its weight definitions (pytorch/vision ``torchvision/models/efficientnet.py``; the pytorch.org
model pages for B0-B2), typed here.
"""

import threading

import pytest

from tests.golden import TORCHVISION_EFFICIENTNET  # noqa: E402
from zoo import ZooError  # noqa: E402
from zoo.models import complexity  # noqa: E402
from zoo.models.spec import (
    PEER_MODELS,
    spec_from_phi,
    spec_from_timm,
    spec_from_variant,
)  # noqa: E402

# variant: (num_params, GFLOPS as published by torchvision, i.e. GMACs)
TORCHVISION = {v: (params, gmacs) for v, (params, gmacs, _) in TORCHVISION_EFFICIENTNET.items()}


@pytest.mark.parametrize("variant", sorted(TORCHVISION))
def test_official_variant_counts(variant):
    params, gmacs = TORCHVISION[variant]
    c = complexity.count_complexity(spec_from_variant(variant))
    assert c.params == params == c.explorer_params
    assert c.backend == "aten"
    assert c.ptflops_version
    assert c.macs == pytest.approx(c.explorer_macs, rel=0.01)
    assert c.flops == 2 * c.macs
    # torchvision counts at its own crop: the paper's resolution except B2 (288 px, not 260)
    crop = 288 if variant == "b2" else None
    at_crop = complexity.count_complexity(spec_from_variant(variant, resolution=crop))
    assert at_crop.macs / 1e9 == pytest.approx(gmacs, rel=0.01)


@pytest.mark.parametrize("phi", [-1.0, 0.5, 2.5])
def test_phi_counts_cross_checked(phi):
    c = complexity.count_complexity(spec_from_phi(phi))
    assert c.macs == pytest.approx(c.explorer_macs, rel=0.01)
    assert c.params == c.explorer_params


@pytest.mark.parametrize("name", PEER_MODELS)
def test_peer_models_count(name):
    c = complexity.count_complexity(spec_from_timm(name))
    assert c.params > 1_000_000 and c.macs > 100_000_000
    assert c.explorer_macs is None and c.backend == "aten"


def test_resnet50_macs_match_torchvision():
    # torchvision ResNet50: 4.1 GFLOPS (MACs) at 224 px
    c = complexity.count_complexity(spec_from_timm("resnet50", resolution=224))
    assert c.macs / 1e9 == pytest.approx(4.1, abs=0.05)


def test_failed_count_is_an_error(monkeypatch):
    import ptflops

    monkeypatch.setattr(ptflops, "get_model_complexity_info", lambda *a, **k: (None, None))
    with pytest.raises(ZooError, match="could not count"):
        complexity.count_complexity(spec_from_phi(-2.25))


def test_mismatch_with_explorer_raises(monkeypatch):
    import explorer

    real = spec_from_phi(-2.5)
    other = explorer.from_phi(-1.0)
    monkeypatch.setattr(complexity, "network_for", lambda spec: other)
    with pytest.raises(ZooError, match="does not match the explorer"):
        complexity.count_complexity(real)


def test_concurrent_counts_agree():
    specs = [spec_from_phi(p) for p in (-1.75, -1.5, -1.25, -0.75)]
    results: dict[int, int] = {}
    errors: list[BaseException] = []

    def work(i):
        try:
            results[i] = complexity.count_complexity(specs[i]).macs
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(specs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    import explorer

    for i, spec in enumerate(specs):
        net = explorer.from_phi(spec.phi)
        assert results[i] == pytest.approx(net.macs, rel=0.01)
