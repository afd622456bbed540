"""Measuring through a Ray cluster against measuring locally: the same figures, and what the
dispatch costs.

On this machine, inside a network namespace of its own (Ray advertises the host's address even
when told 127.0.0.1; in a private namespace the loopback is all there is), with a PostgreSQL
server of its own (``harness.pgserver``) and a one-node local Ray cluster (``ray.cluster_utils``):

* **latency**: EfficientNet-B0, batch 1, fp32, CPU, the default protocol with ``--threads``
  (default 1: the cluster's own processes need a core of the two here), measured ``ROUNDS``
  times locally (``zoo.measure.measure``) and through the cluster (``zoo.cluster.dispatch``: a
  job, the node's actor, the same ``zoo.measure`` on the node), interleaved; the medians side by
  side (target: within 5 %);
* **dispatch overhead**: dispatches whose results are all stored already (the node's actor
  returns them without measuring), of 1 and of ``MANY`` models: the fixed cost of a dispatch
  (connecting, placing the actor, its first store connection) and the cost of each further job
  (submit, claim, read the stored result, finish, the driver's polling); and, for B0, the wall
  time of a dispatch against the local measurement's.

Run (as root, for ``unshare -n``): ``python -m bench.cluster`` (about 5 minutes on 2 cores;
``--rounds N``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # node address: 127.0.0.1

ROUNDS = 7
MANY = 8
TARGET = 0.05
_INSIDE = "EFFSCALE_BENCH_INSIDE"
_LOOPBACK_UP = """
import fcntl, os, socket, struct, sys
probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
flags = struct.unpack("16sh", fcntl.ioctl(probe, 0x8913, struct.pack("16sh", b"lo", 0)))[1]
fcntl.ioctl(probe, 0x8914, struct.pack("16sh", b"lo", flags | 0x1))
os.execv(sys.executable, [sys.executable, *sys.argv[1:]])
"""


def _private_network() -> bool:
    return [name for _, name in socket.if_nameindex()] == ["lo"]


def _settle(limit_s: float = 30.0, busy_pct: float = 10.0) -> float:
    """Wait until the machine is quiet (all processes together under ``busy_pct`` % of the CPUs
    over one second, at most ``limit_s``): after a dispatch Ray replaces the worker process the
    killed actor used (a Python start-up and imports), which would otherwise land in the next
    measurement, whichever side it is. Returns the seconds waited."""
    import psutil

    started = time.monotonic()
    while time.monotonic() - started < limit_s:
        if psutil.cpu_percent(interval=1.0) < busy_pct:
            break
    return time.monotonic() - started


def _timed(call):
    started = time.perf_counter()
    result = call()
    return result, time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="intra-op threads for both sides (default 1: on a small machine the cluster's own "
        "processes, GCS and raylet, need a core; 0 = the protocol's default)",
    )
    args = parser.parse_args()
    if not _private_network():
        if os.environ.get(_INSIDE):
            raise SystemExit("unshare -n ran, but interfaces besides lo are still visible")
        env = {**os.environ, _INSIDE: "1"}
        command = [
            "unshare",
            "-n",
            sys.executable,
            "-c",
            _LOOPBACK_UP,
            "-m",
            __spec__.name,
            *sys.argv[1:],
        ]
        return subprocess.call(command, env=env, cwd=ROOT)

    from harness.pgserver import start_server

    scratch = Path(tempfile.mkdtemp(prefix="effscale-bench-ray-"))
    os.environ["EFFSCALE_LOCK"] = str(scratch / "measure.lock")
    server = start_server()
    try:
        return _run(args, server, scratch)
    finally:
        server.stop()
        shutil.rmtree(scratch, ignore_errors=True)


def _run(args, server, scratch: Path) -> int:
    import ray
    from ray.cluster_utils import Cluster

    from zoo.measure.orchestrate import measure
    from zoo.models.spec import spec_from_phi, spec_from_variant
    from zoo.records.environment import default_threads
    from zoo.records.protocol import Protocol
    from zoo.store.measurement_store import MeasurementStore
    from zoo.workers.ray_dispatch import dispatch

    url = server.create_database()
    node_env = {k: os.environ[k] for k in ("EFFSCALE_LOCK", "HF_HUB_OFFLINE", "PYTHONPATH")}
    node_env["TMPDIR"] = str(scratch)
    cluster = Cluster(
        initialize_head=True,
        head_node_args={
            "num_cpus": 1,
            "node_ip_address": "127.0.0.1",
            "node_name": "bench-node",
            "env_vars": node_env,
            "temp_dir": str(scratch),
        },
    )
    try:
        ray.init(address=cluster.address, log_to_driver=False, logging_level="ERROR")
        spec = spec_from_variant("b0")
        protocol = Protocol(device="cpu", threads=args.threads or None)
        local: list[dict] = []
        remote: list[dict] = []
        overhead: list[float] = []
        with MeasurementStore(url) as store:
            for n in range(args.rounds):
                # Alternate which side goes first, so that a drift of the machine's speed
                # within a round does not favour one side.
                order = ("local", "ray") if n % 2 == 0 else ("ray", "local")
                for side in order:
                    _settle()
                    if side == "local":
                        mine, local_s = _timed(lambda: measure(spec, protocol, remeasure=True))
                    else:
                        store.db.execute("DELETE FROM measurements")  # the node measures afresh
                        run, ray_s = _timed(
                            lambda: dispatch(
                                url, [spec], protocol, address=cluster.address, poll_s=0.05
                            )
                        )
                (job,) = run.jobs
                assert job.state == "done", job.error
                theirs = job.result
                local.append(_figures(mine, local_s))
                remote.append(_figures(theirs, ray_s))
                overhead.append(ray_s - local_s)
                print(
                    f"round {n + 1}: local {mine.latency_ms_median:.2f} ms ({mine.quality}), "
                    f"Ray {theirs.latency_ms_median:.2f} ms ({theirs.quality}); wall "
                    f"{local_s:.1f} s local, {ray_s:.1f} s through Ray",
                    flush=True,
                )
            # Dispatch alone: every result stored already, so the node's actor measures nothing.
            tiny = [spec_from_phi(-3.0 + i / 10) for i in range(MANY)]
            quick = Protocol(
                device="cpu", warmup_iters=0, min_iters=2, max_iters=2, max_seconds=0.1
            )
            dispatch(url, tiny, quick, address=cluster.address, poll_s=0.05)  # measure once
            one, many = [], []
            for _ in range(3):
                run, seconds = _timed(
                    lambda: dispatch(url, tiny[:1], quick, address=cluster.address, poll_s=0.05)
                )
                assert all(j.result.from_store for j in run.jobs)
                one.append(seconds)
                run, seconds = _timed(
                    lambda: dispatch(url, tiny, quick, address=cluster.address, poll_s=0.05)
                )
                assert all(j.result.from_store for j in run.jobs)
                many.append(seconds)
        per_job = (statistics.median(many) - statistics.median(one)) / (MANY - 1)
        fixed = statistics.median(one) - per_job
    finally:
        if ray.is_initialized():
            ray.shutdown()
        cluster.shutdown()
    _report(local, remote, overhead, per_job, fixed, args.threads or default_threads())
    return 0


def _figures(m, wall_s: float) -> dict:
    return {
        "median": m.latency_ms_median,
        "p90": m.latency_ms_p90,
        "min": m.latency_ms_min,
        "quality": m.quality,
        "threads": m.threads,
        "wall_s": wall_s,
    }


def _report(local, remote, overhead, per_job, fixed, threads) -> None:
    def med(rows, key):
        return statistics.median(r[key] for r in rows)

    print()
    print(
        f"EfficientNet-B0, batch 1, fp32, CPU, {threads} threads, {len(local)} rounds interleaved"
    )
    print(f"{'':16}{'median ms':>11}{'p90 ms':>9}{'min ms':>9}{'wall s':>9}  noisy")
    for name, rows in (("local", local), ("through Ray", remote)):
        noisy = sum(r["quality"] == "noisy" for r in rows)
        print(
            f"{name:16}{med(rows, 'median'):11.2f}{med(rows, 'p90'):9.2f}{med(rows, 'min'):9.2f}"
            f"{med(rows, 'wall_s'):9.2f}  {noisy}/{len(rows)}"
        )
    ratio = med(remote, "median") / med(local, "median")
    verdict = "within" if abs(ratio - 1) <= TARGET else "NOT within"
    print(f"Ray / local median: {ratio:.3f} ({verdict} {TARGET:.0%})")
    print(f"Ray / local min: {med(remote, 'min') / med(local, 'min'):.3f}")
    print(
        f"dispatch overhead: {statistics.median(overhead):.2f} s per B0 dispatch (wall, Ray − "
        f"local); stored results: {fixed:.2f} s per dispatch + {per_job * 1000:.0f} ms per job"
    )
    print(
        json.dumps(
            {
                "local": local,
                "ray": remote,
                "ratio": ratio,
                "overhead_s": overhead,
                "fixed_s": fixed,
                "per_job_s": per_job,
            }
        )
    )


if __name__ == "__main__":
    raise SystemExit(main())
