"""Measuring on every node of a Ray cluster into a shared PostgreSQL store: a real local cluster
(``ray.cluster_utils.Cluster``: a head and worker nodes, each its own raylet), a real server,
real (tiny) measurements.

Ray advertises the host's address even when told 127.0.0.1, and then cannot reach its own GCS;
in a network namespace of its own, the loopback is all there is. So this module runs itself
again inside ``unshare -n`` (``test_the_cluster_tests_run_in_a_private_network_namespace``), and
there, with nothing but ``lo`` to bind or talk to, the cluster tests run, with a PostgreSQL
server of their own started inside the namespace too. Outside the namespace they are skipped
(the one test above runs them and fails with their output when any of them fails).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from tests.fakes import fake_measurement
from zoo.models.spec import spec_from_phi
from zoo.records.environment import default_threads
from zoo.records.protocol import Protocol

ROOT = Path(__file__).resolve().parent.parent
QUICK = Protocol(device="cpu", warmup_iters=0, min_iters=2, max_iters=2, max_seconds=0.1)
QUICK_ARGS = ["--device", "cpu", "--iters", "2", "--warmup", "0", "--max-seconds", "0.1"]


def _private_network() -> bool:
    """Whether this process's network namespace has no interface but the loopback (asked of
    the kernel: ``/sys/class/net`` shows the namespace sysfs was mounted in, not ours)."""
    import socket

    return [name for _, name in socket.if_nameindex()] == ["lo"]


ISOLATED = _private_network()
inside = pytest.mark.skipif(
    not ISOLATED,
    reason="runs inside a private network namespace "
    "(test_the_cluster_tests_run_in_a_private_network_namespace)",
)
INNER_TESTS = 5
# Run inside ``unshare -n``: bring the new namespace's loopback up (SIOCSIFFLAGS; no iproute2
# needed), then become pytest on this module.
_LOOPBACK_UP_THEN_PYTEST = """
import fcntl, os, socket, struct, sys
probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
request = struct.pack("16sh", b"lo", 0)
flags = struct.unpack("16sh", fcntl.ioctl(probe, 0x8913, request))[1]  # SIOCGIFFLAGS
fcntl.ioctl(probe, 0x8914, struct.pack("16sh", b"lo", flags | 0x1))  # SIOCSIFFLAGS: IFF_UP
probe.close()
os.execv(sys.executable, [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          "-rA", "--show-capture=no", sys.argv[1]])
"""
_INNER = "EFFSCALE_CLUSTER_TESTS_INSIDE"


@pytest.mark.slow
@pytest.mark.skipif(ISOLATED, reason="this is the run inside the namespace")
def test_the_cluster_tests_run_in_a_private_network_namespace():
    if os.environ.get(_INNER) == "1":  # never again from inside: that would recurse
        pytest.fail("unshare -n ran, but this process still sees network interfaces besides lo")
    if os.geteuid() != 0:
        pytest.fail("the Ray cluster tests need root for a private network namespace (unshare -n)")
    env = {
        **os.environ,
        _INNER: "1",
        "RAY_USAGE_STATS_ENABLED": "0",
        # Ray takes 127.0.0.1 as this node's address instead of asking the routing table which
        # address reaches 8.8.8.8 (a lookup that fails here and says so on stderr).
        "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
        "HF_HUB_OFFLINE": "1",
        # Ray's worker processes import the zoo from this checkout, not from an installed copy.
        "PYTHONPATH": os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]),
    }
    default_ray_tmp = Path("/tmp/ray")
    had_default_ray_tmp = default_ray_tmp.exists()
    out = subprocess.run(
        ["unshare", "-n", sys.executable, "-c", _LOOPBACK_UP_THEN_PYTEST, str(Path(__file__))],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    report = out.stdout[-8000:] + out.stderr[-4000:]
    assert out.returncode == 0, report
    summary = out.stdout.strip().splitlines()[-1]
    assert re.search(rf"\b{INNER_TESTS} passed\b", summary), report
    assert not re.search(r"failed|error", summary), report
    if not had_default_ray_tmp:  # Ray's default temp dir: shared state, never ours to make
        assert not default_ray_tmp.exists(), "the cluster tests left /tmp/ray behind"


# What Ray adds to its temp dir for its longest socket, and the kernel's limit on such a path.
_RAY_SOCKET_TAIL = "/ray/session_2026-12-06_05-37-10_624180_21335/sockets/plasma_store"
_MAX_SOCKET_PATH = 107


@pytest.fixture(scope="module")
def cluster(postgres_server, tmp_path_factory):
    """A head (``n-a``) and a worker node (``n-b``) on 127.0.0.1, labelled ``pool=test``; ``n-b``
    also ``wave=2``. Nodes share one measurement lock: they share this machine's cores."""
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    import ray
    from ray.cluster_utils import Cluster

    folder = tmp_path_factory.mktemp("cluster")
    # Ray's whole temp tree (the address file ``ray.cluster_utils`` writes under Ray's default
    # temp dir whatever ``temp_dir`` the nodes get, the sessions, logs and sockets) and the
    # nodes' temporary files (a node killed mid-measurement leaves its step log) in a folder of
    # our own, removed at the end; short, for the length limit of socket paths. Ray reads
    # ``RAY_TMPDIR`` for its default temp dir (``$RAY_TMPDIR/ray``): the nodes get that one.
    ray_root = tempfile.mkdtemp(prefix="ray-")
    if len(ray_root) + len(_RAY_SOCKET_TAIL) > _MAX_SOCKET_PATH:  # a long TMPDIR: a short one
        shutil.rmtree(ray_root)
        ray_root = tempfile.mkdtemp(prefix="ray-", dir="/tmp")
    ray_tmp = os.path.join(ray_root, "ray")
    os.mkdir(ray_tmp)
    previous_ray_tmp = os.environ.get("RAY_TMPDIR")
    os.environ["RAY_TMPDIR"] = ray_root
    node_env = {
        "TMPDIR": ray_tmp,
        "EFFSCALE_LOCK": str(folder / "measure.lock"),
        "EFFSCALE_QUIET_WAIT_S": "0",
        "EFFSCALE_JOB_LEASE_S": "5",
        "XDG_DATA_HOME": str(folder / "data"),
        "XDG_CACHE_HOME": str(folder / "cache"),
    }

    def node_args(name: str, **labels: str) -> dict:
        return {
            "num_cpus": 1,
            "node_ip_address": "127.0.0.1",
            "node_name": name,
            "labels": {"pool": "test", **labels},
            "env_vars": node_env,
            "temp_dir": ray_tmp,
        }

    head = node_args("n-a")
    # Ray notices a lost node after a few missed health checks (default: tens of seconds).
    head["_system_config"] = {
        "health_check_period_ms": 500,
        "health_check_timeout_ms": 500,
        "health_check_failure_threshold": 3,
    }
    made = Cluster(initialize_head=True, head_node_args=head)
    try:
        made.add_node(**node_args("n-b", wave="2"))
        made.wait_for_nodes()
        made.node_args = node_args  # type: ignore[attr-defined]
        ray.init(address=made.address, log_to_driver=False, logging_level="ERROR")
        yield made
    finally:
        if ray.is_initialized():
            ray.shutdown()
        made.shutdown()
        shutil.rmtree(ray_root, ignore_errors=True)
        if previous_ray_tmp is None:
            os.environ.pop("RAY_TMPDIR", None)
        else:
            os.environ["RAY_TMPDIR"] = previous_ray_tmp


@pytest.fixture(scope="module")
def store_url(postgres_server) -> str:
    return postgres_server.create_database()


def _rows_by_node(url: str) -> dict[tuple[str, str], list]:
    from zoo.store.measurement_store import MeasurementStore

    found: dict[tuple[str, str], list] = {}
    with MeasurementStore(url) as store:
        for m in store.rows():
            found.setdefault((m.model, m.node), []).append(m)
    return found


@inside
def test_a_sweep_lands_one_row_per_model_per_node_while_others_write(cluster, store_url):
    """The CLI sends each model to each selected node; the results carry each node's identity;
    the dashboard (here: a thread of this process) writing at the same time loses nothing."""
    import ray

    from zoo.store.jobs import jobs, submit
    from zoo.store.measurement_store import MeasurementStore

    nodes = [n for n in ray.nodes() if n["Alive"]]
    assert ISOLATED and [n["NodeManagerAddress"] for n in nodes] == ["127.0.0.1"] * 2
    models = [spec_from_phi(-3.0), spec_from_phi(-2.8)]
    command = [
        sys.executable, "-m", "zoo", "measure", "--phi", "-3", "-2.8", *QUICK_ARGS,
        "--ray", cluster.address, "--nodes", "pool=test", "--store", store_url,
        "--format", "json", "--no-progress",
    ]  # fmt: skip
    proc = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    written: list[str] = []
    dashboard = MeasurementStore(store_url)
    while proc.poll() is None:  # the dashboard's own writes, interleaved with the nodes'
        name = f"dashboard_{len(written)}"
        dashboard.put(fake_measurement(model=name, env="dashboard"))
        submit(dashboard, spec_from_phi(-1.0 - len(written) / 100), QUICK, requested_by="page")
        written.append(name)
        time.sleep(0.05)
    out, err = proc.communicate()
    assert proc.returncode == 0, err
    records = json.loads(out)
    assert sorted((r["model"], r["node"]) for r in records) == sorted(
        (spec.model, node) for spec in models for node in ("n-a", "n-b")
    )
    assert all(r["host"] and r["cpu_model"] and not r["from_store"] for r in records)
    # Each node measures with the protocol's default threads, as it would outside Ray (Ray's
    # workers get OMP_NUM_THREADS=1 unless the node's environment says otherwise).
    assert {r["threads"] for r in records} == {default_threads()}
    assert len({r["environment_key"] for r in records}) == 2  # alike nodes, a key each

    rows = _rows_by_node(store_url)
    for spec in models:
        for node in ("n-a", "n-b"):
            assert len(rows[(spec.model, node)]) == 1
    assert written and all(len(rows[(name, "")]) == 1 for name in written)
    mine = [j for j in jobs(dashboard, limit=1000) if j.requested_by == "cluster"]
    assert sorted((j.label.split(" ")[0], j.target, j.state) for j in mine) == sorted(
        (spec.model, node, "done") for spec in models for node in ("n-a", "n-b")
    )
    assert len([j for j in jobs(dashboard, limit=1000) if j.requested_by == "page"]) == len(written)
    dashboard.close()


@inside
def test_bad_selections_are_one_line_and_exit_2(cluster, store_url):
    cases = [
        (["--nodes", "pool"], "accepted all, or LABEL=VALUE"),
        (["--nodes", "pool=nowhere"], "no alive node has the label pool=nowhere: accepted all,"),
        (["--store", "/tmp/x.sqlite"], "needs a store every node can reach"),
        (["--store", store_url.replace("postgres@", "postgres:pw@")], "carries a password"),
        (["--runtime", "best"], "cannot be combined with --runtime best"),
    ]
    for extra, expected in cases:
        argv = ["--ray", cluster.address, "--store", store_url, *extra]
        out = subprocess.run(
            [sys.executable, "-m", "zoo", "measure", "--phi", "-3", *QUICK_ARGS, *argv],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert out.returncode == 2, (extra, out.stderr)
        assert out.stderr.count("\n") == 1 and expected in out.stderr, (extra, out.stderr)
        assert ":pw@" not in out.stderr


@inside
def test_a_node_lost_mid_sweep_fails_its_jobs_and_a_rerun_measures_only_what_is_missing(
    cluster, store_url
):
    from zoo.store.jobs import jobs
    from zoo.store.measurement_store import MeasurementStore
    from zoo.workers.ray_dispatch import dispatch

    doomed = cluster.add_node(**cluster.node_args("n-c", wave="2"))
    cluster.wait_for_nodes()
    specs = [spec_from_phi(phi) for phi in (-2.6, -2.4, -2.2)]
    outcome: dict = {}

    def sweep() -> None:
        try:
            outcome["run"] = dispatch(
                store_url, specs, QUICK, address=cluster.address, selector="wave=2", poll_s=0.2
            )
        except BaseException as exc:  # noqa: BLE001 - reported below
            outcome["error"] = exc

    driver = threading.Thread(target=sweep)
    driver.start()
    with MeasurementStore(store_url) as store:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and driver.is_alive():
            states = [j.state for j in jobs(store, limit=1000) if j.target == "n-c"]
            if "running" in states:
                break
            time.sleep(0.05)
        assert "running" in states, states
    cluster.remove_node(doomed, allow_graceful=False)  # the node dies mid-sweep
    driver.join(timeout=300)
    assert not driver.is_alive() and "error" not in outcome, outcome.get("error")
    run = outcome["run"]
    by_node: dict[str, list] = {}
    for job in run.jobs:
        by_node.setdefault(job.target, []).append(job)
    assert [j.state for j in by_node["n-b"]] == ["done"] * 3  # the other node's all kept
    lost = [j for j in by_node["n-c"] if j.state != "done"]
    assert lost and all(j.state == "failed" for j in lost)
    assert all("node n-c (127.0.0.1) was lost" in j.error for j in lost), lost[0].error
    assert len(lost) >= 2  # it died with its running job and at least one still queued
    measured_before = {j.spec.model for j in by_node["n-c"] if j.state == "done"}
    rows = _rows_by_node(store_url)
    assert all(len(rows[(s.model, "n-b")]) == 1 for s in specs)
    stored = {key: found[0] for key, found in rows.items()}
    assert measured_before <= {model for model, node in stored if node == "n-c"}
    missing = {(s.model, "n-c") for s in specs if (s.model, "n-c") not in stored}
    noisy = {key for key, m in stored.items() if m.noisy}  # never served as clean: measured again

    cluster.add_node(**cluster.node_args("n-c", wave="2"))  # the node is back
    cluster.wait_for_nodes()
    again = dispatch(store_url, specs, QUICK, address=cluster.address, selector="wave=2")
    assert [j.state for j in again.jobs] == ["done"] * 6
    fresh = {(j.spec.model, j.target) for j in again.jobs if not j.result.from_store}
    assert missing and missing <= fresh and fresh - missing <= noisy, (fresh, missing, noisy)
    rows = _rows_by_node(store_url)
    assert all(len(rows[(s.model, node)]) == 1 for s in specs for node in ("n-b", "n-c"))


@inside
def test_the_dashboard_starts_one_sweep_at_a_time_to_the_operators_head(cluster, store_url,
                                                                        monkeypatch):  # fmt: skip
    """``start_dispatch`` (the compare page's cluster setting) sends work only to the head the
    operator allowed (``EFFSCALE_RAY``), returns at once, refuses a second run while the first
    runs, and the sweep lands its jobs under the group it returned."""
    from zoo.errors import ZooError
    from zoo.models.spec import spec_from_timm
    from zoo.store.jobs import jobs
    from zoo.store.measurement_store import MeasurementStore
    from zoo.workers.ray_background import cluster_run_status, start_dispatch

    spec = spec_from_timm("mobilenetv3_small_050", resolution=96)
    monkeypatch.delenv("EFFSCALE_RAY", raising=False)
    with pytest.raises(ZooError, match="cluster runs from the dashboard are off"):
        start_dispatch(store_url, [spec], QUICK, selector="wave=2")
    monkeypatch.setenv("EFFSCALE_RAY", cluster.address)
    started = time.monotonic()
    run = start_dispatch(store_url, [spec], QUICK, selector="wave=2")
    assert time.monotonic() - started < 5
    with pytest.raises(ZooError, match="still running: accepted one at a time"):
        start_dispatch(store_url, [spec], QUICK, selector="all")
    with MeasurementStore(store_url) as store:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            found = jobs(store, group=run.group)
            if len(found) == 2 and not any(j.active for j in found):
                break
            time.sleep(0.2)
    assert sorted((j.target, j.state) for j in found) == [("n-b", "done"), ("n-c", "done")]
    assert all(j.result.model == spec.model and j.result.resolution == 96 for j in found)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and cluster_run_status()[1] is None:
        time.sleep(0.1)
    assert cluster_run_status()[1] == 0  # the background process ends with its sweep
    Path(run.log).unlink()


@inside
def test_a_background_run_stops_on_sigterm_and_dies_with_its_server(cluster, store_url):
    """The run a server started stops within seconds of SIGTERM (its jobs cancelled), and
    when the server itself is killed the run gets SIGTERM too."""
    import textwrap

    server = textwrap.dedent(
        f"""
        import os, sys, time
        os.environ["EFFSCALE_RAY"] = {cluster.address!r}
        from zoo.models.spec import spec_from_timm
        from zoo.records.protocol import Protocol
        from zoo.workers.ray_background import start_dispatch
        spec = spec_from_timm("resnet18", resolution=160)
        slow = Protocol(device="cpu", warmup_iters=0, min_iters=50, max_iters=50, max_seconds=60)
        run = start_dispatch({store_url!r}, [spec], slow, selector="all")
        print(run.pid, flush=True)
        time.sleep(600)
        """
    )
    process = subprocess.Popen(
        [sys.executable, "-c", server], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    child = int(process.stdout.readline())
    time.sleep(3.0)
    process.kill()  # the server dies: the run is told to stop
    process.wait()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and _running(child):
        time.sleep(0.1)
    assert not _running(child), "the background run outlived its server"


def _running(pid: int) -> bool:
    """Whether ``pid`` (not our child) is still running."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/status")
    return status.exists() and "State:\tZ" not in status.read_text()
