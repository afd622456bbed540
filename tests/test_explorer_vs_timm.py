"""The analytic explorer against live timm models and ptflops (aten backend).

Golden numbers here come from the built model, never from the explorer: for official variants
and 20+ random configurations the parameter count must be equal and MACs within 1 %. Models are
built on the ``meta`` device (shapes without memory), which counts the same as a CPU build
(checked once on a real CPU model below) but takes milliseconds.
"""

import random

import pytest
import timm  # noqa: E402
import torch  # noqa: E402

from explorer import from_phi, from_variant, get_variant  # noqa: E402
from tests.timm_structure import model_structure
from zoo.models.complexity import ptflops_macs


def build(width: float, depth: float, device: str = "meta"):
    from timm.models.efficientnet import _gen_efficientnet

    with torch.device(device):
        return _gen_efficientnet(
            "efficientnet_b0", channel_multiplier=width, depth_multiplier=depth
        ).eval()


def check(net, width, depth):
    model = build(width, depth)
    assert net.params == sum(p.numel() for p in model.parameters())
    stem, outs, repeats, head, _ = model_structure(model)
    assert net.stem_channels == stem
    assert [s.out_channels for s in net.stages] == outs
    assert [s.repeats for s in net.stages] == repeats
    assert net.head_channels == head
    assert net.macs == pytest.approx(ptflops_macs(model, net.resolution), rel=0.01)


@pytest.mark.parametrize("variant", ["b0", "b1", "b2", "b3", "b4", "b5", "b6", "b7"])
def test_official_variant_matches_timm(variant):
    v = get_variant(variant)
    net = from_variant(variant)
    check(net, v.width_multiplier, v.depth_multiplier)
    # and timm's registered model of that name is the same network
    with torch.device("meta"):
        registered = timm.create_model(f"efficientnet_{variant}")
    assert net.params == sum(p.numel() for p in registered.parameters())


def random_configurations(count: int = 24, seed: int = 20261129):
    rng = random.Random(seed)
    found = []
    while len(found) < count:
        phi = rng.uniform(-1.0, 4.0)
        alpha, beta, gamma = (rng.uniform(1.0, 1.4) for _ in range(3))
        net = from_phi(phi, alpha, beta, gamma)
        if net.params > 100_000_000:  # the issue skips models over 100 M parameters
            continue
        found.append((phi, alpha, beta, gamma))
    return found


@pytest.mark.parametrize("phi, alpha, beta, gamma", random_configurations())
def test_random_configuration_matches_timm(phi, alpha, beta, gamma):
    net = from_phi(phi, alpha, beta, gamma)
    check(net, net.width_multiplier, net.depth_multiplier)


def test_meta_device_counts_equal_a_real_cpu_build():
    net = from_phi(0.7)
    model = build(net.width_multiplier, net.depth_multiplier, device="cpu")
    assert net.params == sum(p.numel() for p in model.parameters())
    assert net.macs == pytest.approx(ptflops_macs(model, net.resolution), rel=0.01)
