"""zoo.equivalence: the tolerances that decide whether a runtime's latency is accepted."""

from __future__ import annotations

import numpy as np
import torch

from zoo.models.build import build_model
from zoo.models.spec import spec_from_timm
from zoo.runtimes.equivalence import FP32_MAX_REL, RANDOM_INPUTS, check_inputs, compare, run_batched


def logits(seed: int = 0, n: int = 12, classes: int = 1000) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, classes)).astype(np.float32)


def test_fp32_accepts_rounding_and_refuses_more():
    ref = logits()
    assert compare(ref, ref + FP32_MAX_REL * 0.5 * np.abs(ref).max(), "fp32", "x").verified
    off = compare(ref, ref + FP32_MAX_REL * 2 * np.abs(ref).max(), "fp32", "x")
    assert not off.verified and "max relative difference" in off.reason


def test_wrong_outputs_are_refused_at_every_precision():
    ref = logits()
    for precision in ("fp32", "bf16", "fp16"):
        assert not compare(ref, logits(seed=1), precision, "x").verified
        assert not compare(ref, ref[:, ::-1].copy(), precision, "x").verified
        assert not compare(ref, np.full_like(ref, np.nan), precision, "x").verified
        assert not compare(ref, ref[:, :10], precision, "x").verified  # another shape


def test_real_bf16_on_random_weights_is_accepted_by_the_correlation_rule():
    # Random weights give nearly tied logits: plain top-1 agreement under bf16 autocast is far
    # below 99 % for a correct runtime: it is held to correlated logits, agreement recorded.
    torch.manual_seed(0)
    spec = spec_from_timm("resnet50", 96)
    model = build_model(spec)
    inputs, described = check_inputs(spec.resolution, seed=0)
    x = torch.from_numpy(
        np.concatenate([inputs, logits(2, 12, 3 * 96 * 96).reshape(12, 3, 96, 96)])
    )
    with torch.inference_mode():
        ref = model(x).numpy()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low = model(x).float().numpy()
    check = compare(ref, low, "bf16", described)
    assert check.verified, check.reason
    assert "decisive" in check.reason


def test_inputs_are_photos_and_fresh_noise_and_batches_are_filled():
    """The photos are the same every time; the random images are drawn fresh for every check
    (a poisoned artefact that recognises the check inputs cannot know them), unless seeded."""
    inputs, described = check_inputs(64)
    again, _ = check_inputs(64)
    photos = len(inputs) - RANDOM_INPUTS
    assert inputs.shape[1:] == (3, 64, 64) and inputs.dtype == np.float32
    assert np.array_equal(inputs[:photos], again[:photos]) and photos == 5
    assert not np.array_equal(inputs[photos:], again[photos:])
    assert "fresh random images" in described
    seeded, described = check_inputs(64, seed=3)
    assert np.array_equal(seeded, check_inputs(64, seed=3)[0]) and "seeded" in described
    seen = []

    def predict(batch: np.ndarray) -> np.ndarray:
        seen.append(len(batch))
        return batch.reshape(len(batch), -1)[:, :5]

    out = run_batched(predict, inputs, 4)
    assert set(seen) == {4} and out.shape == (len(inputs), 5)
    assert np.array_equal(out, inputs.reshape(len(inputs), -1)[:, :5])
