"""Shared test doubles: a synthetic stored measurement, and process-group helpers.

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
    """A ``zoo.protocol.Measurement`` with plausible B0 numbers, taken with the default protocol
    on this machine (so that a default ``Protocol`` finds it in a store); ``changes`` override
    fields."""
    from zoo.environment import default_threads
    from zoo.protocol import Measurement, Protocol

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
