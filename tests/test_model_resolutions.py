"""Hardening finding 5: every timm model at any resolution either measures or gets one line
saying why (``measure --model`` gave tracebacks for an unknown tag and for fixed-size models at
another size: 42 of 161 timm families at 320 px)."""

from __future__ import annotations

import multiprocessing
import os
import re
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest
import timm

from zoo.errors import ZooError
from zoo.measure.orchestrate import measure, plan
from zoo.models.spec import spec_from_timm
from zoo.records.protocol import Protocol

ROOT = Path(__file__).resolve().parent.parent


def one_model_per_family() -> list[str]:
    families: dict[str, str] = {}
    for name in timm.list_models():
        families.setdefault(re.match(r"[a-z]+", name).group(), name)
    return sorted(families.values())


def _plan_at_320(name: str) -> str | None:
    """None when ``name`` is planned at 320 px, else the one-line refusal."""
    try:
        plan([spec_from_timm(name, 320)], Protocol(device="cpu"))
    except ZooError as exc:
        return str(exc)
    return None


@pytest.mark.slow
def test_every_timm_family_at_320_px_is_planned_or_refused_in_one_line():
    names = one_model_per_family()
    # Planning traces each model on the meta device (about 0.3 s each): on every core.
    context = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(max(1, min(4, os.cpu_count() or 1)), mp_context=context) as pool:
        outcomes = list(pool.map(_plan_at_320, names, chunksize=8))
    refused, planned = [], []
    for name, refusal in zip(names, outcomes, strict=True):
        if refusal is not None:
            assert "\n" not in refusal and "320" in refusal, name
            refused.append(name)
        else:
            planned.append(name)
    # Fixed-size models (BEiT, Swin, MLP-Mixers, DeiT …) are built for 320 px now, not refused.
    fixed = {"beitv2_base_patch16_224", "swin_base_patch4_window7_224", "mixer_b16_224"}
    assert fixed <= set(planned)
    assert len(planned) > 140, refused


def test_a_fixed_size_model_is_built_and_measured_at_another_size(tmp_path):
    spec = spec_from_timm("vit_tiny_patch16_224", 256)
    m = measure(spec, Protocol(device="cpu", warmup_iters=0, min_iters=1, max_iters=1))
    assert m.resolution == 256 and m.latency_ms_median > 0
    # 256/16 = 16x16 patches + the class token: the position embedding was made for 256 px.
    assert m.params == 5_717_416 - 192 * (197 - 257)


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["--model", "resnet50.nonexistent_tag"], "unknown pretrained tag"),
        (["--model", "halonet26t", "--resolution", "320"], "cannot run at 320 px"),
        (["--model", "deepseek_vit_412m", "--resolution", "320"], "cannot run at 320 px"),
    ],
)
def test_cli_refuses_in_one_line(tmp_path, argv, expected):
    out = subprocess.run(
        [sys.executable, "-m", "zoo", "measure", *argv, "--device", "cpu",
         "--store", str(tmp_path / "m.sqlite")],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert out.returncode == 2, out.stderr
    assert out.stderr.count("\n") == 1 and expected in out.stderr
