"""A cluster run started from the dashboard: to the one Ray head the operator allowed
(``EFFSCALE_RAY``), one at a time per server, in a process that dies with the server and stops
on SIGTERM, connecting within a bounded time.

Why: a visitor must never aim the server at an address of their choosing (a port probe, a
process per click that retried for minutes and outlived the dashboard). The request travels in
a private file, never on a command line. docs/scale-out.md, 'Measuring on every node (Ray)'.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from zoo.errors import ZooError
from zoo.files import create_new, private_dir
from zoo.models.spec import ModelSpec
from zoo.paths import STORE_ENV, log_dir, project_root
from zoo.records.protocol import Protocol
from zoo.workers.ray_nodes import check_address, check_store_for_cluster, parse_selector

__all__ = [
    "RAY_ENV",
    "Background",
    "operator_address",
    "cluster_run_status",
    "run_request",
    "start_dispatch",
]

#: The Ray head a dashboard may send work to, set by whoever starts the server (HOST:PORT).
#: Unset: the dashboard offers no cluster runs.
RAY_ENV = "EFFSCALE_RAY"
#: Seconds a run that was asked to stop (SIGTERM) has to cancel its jobs before it exits anyway.
STOP_GRACE_S = 5.0


@dataclass(frozen=True)
class Background:
    """A cluster run started in the background: its jobs' group, its process and its log."""

    group: str
    pid: int
    log: str


_current: tuple[Background, subprocess.Popen[bytes]] | None = None
_lock = threading.Lock()


def operator_address() -> str | None:
    """The Ray head the operator allowed (``EFFSCALE_RAY``), or None; a value that is not
    ``HOST:PORT`` is a ``ZooError`` (``auto`` is not accepted from here: it joins whatever
    cluster runs on the server's host)."""
    address = os.environ.get(RAY_ENV, "").strip()
    if not address:
        return None
    if address == "auto":
        raise ZooError(f"{RAY_ENV}=auto is not accepted for the dashboard: accepted HOST:PORT")
    return check_address(address)


def cluster_run_status() -> tuple[Background, int | None] | None:
    """The last run started by this server and its exit status (None while it runs)."""
    with _lock:
        if _current is None:
            return None
        started, process = _current
        return started, process.poll()


def _die_with_parent() -> None:
    """SIGTERM to this process when the one that started it (the server) dies."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG


def start_dispatch(
    location: str | None,
    specs: Sequence[ModelSpec],
    protocol: Protocol,
    *,
    selector: str = "all",
    requested_by: str = "dashboard",
) -> Background:
    """Measure ``specs`` on each selected node of the operator's Ray cluster, in the
    background, followed through the jobs of the returned group. Refused (``ZooError``) when
    no address is allowed, when this server's previous run still runs, or for a bad request."""
    address = operator_address()
    if address is None:
        raise ZooError(
            f"cluster runs from the dashboard are off: the operator allows them by starting the "
            f"server with {RAY_ENV}=HOST:PORT of a Ray head"
        )
    parse_selector(selector)
    url = check_store_for_cluster(location)
    if not specs:
        raise ZooError("nothing to measure: choose at least one model")
    global _current
    with _lock:
        if _current is not None and _current[1].poll() is None:
            raise ZooError(
                f"this server's cluster run {_current[0].group} is still running: accepted one "
                "at a time (its jobs are in the table below)"
            )
        group = f"ray-{requested_by}-{uuid.uuid4().hex[:8]}"
        folder = private_dir(log_dir())
        request = folder / f"{group}.json"
        fd = create_new(request)
        with os.fdopen(fd, "w") as stream:
            json.dump(
                {
                    "address": address,
                    "selector": selector,
                    "group": group,
                    "requested_by": requested_by,
                    "specs": [asdict(s) for s in dict.fromkeys(specs)],
                    "protocol": asdict(protocol),
                    "parent": os.getpid(),
                },
                stream,
            )
        log = folder / f"{group}.log"
        output = create_new(log)
        try:
            process = subprocess.Popen(
                [sys.executable, "-c", "import sys; from zoo.workers.ray_background import "
                 "run_request; sys.exit(run_request(sys.argv[1]))", str(request)],
                cwd=str(project_root()),
                env={**os.environ, STORE_ENV: url},
                stdout=output,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )  # fmt: skip
        finally:
            os.close(output)
        started = Background(group, process.pid, str(log))
        _current = (started, process)
    return started


def _stop_on_sigterm() -> None:
    """SIGTERM: cancel this run's jobs (through ``KeyboardInterrupt``), and exit within
    ``STOP_GRACE_S`` even if Ray holds the main thread in native code."""

    def handler(signum: int, frame: object) -> None:
        threading.Timer(STOP_GRACE_S, lambda: os._exit(128 + signal.SIGTERM)).start()
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


def run_request(path: str) -> int:
    """The background process: read the request (then delete it), dispatch it, print what
    happened. Exit status 0 when every job ended done."""
    from zoo.workers.ray_dispatch import dispatch

    _stop_on_sigterm()
    _die_with_parent()
    request = Path(path)
    data = json.loads(request.read_text())
    request.unlink()
    if os.getppid() != data["parent"]:  # the server died before we could ask to die with it
        return 143
    specs = [ModelSpec(**s) for s in data["specs"]]
    try:
        run = dispatch(
            None,  # the store: EFFSCALE_STORE, from our environment
            specs,
            Protocol(**data["protocol"]),
            address=data["address"],
            selector=data["selector"],
            group=data["group"],
            requested_by=data["requested_by"],
        )
    except ValueError as exc:  # ZooError: the cluster, the nodes, the store
        print(f"error: {exc}", flush=True)
        return 2
    except KeyboardInterrupt:
        print("stopped: this run's unfinished jobs were cancelled", flush=True)
        return 130
    for job in run.failed:
        print(f"job {job.id} ({job.label}) on {job.target} {job.state}: {job.error}", flush=True)
    return 1 if run.failed else 0
