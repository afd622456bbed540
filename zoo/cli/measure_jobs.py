"""``python -m zoo measure --queue`` and ``--ray``: the measurements as jobs, waited for and
printed like a direct run.

Why apart from the direct run: a job outlives this command (the store's worker runs it, or
each node of a Ray cluster), so waiting means watching leases and workers, restarting one that
died and withdrawing our requests on Ctrl-C. The queue: docs/architecture.md; the cluster:
docs/scale-out.md.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from zoo.cli.measure_request import protocol_from_args, specs_from_args
from zoo.cli.report import format_measurements
from zoo.errors import ZooError
from zoo.measure.coverage import coverage
from zoo.records.runtimes import BEST, RUNTIMES
from zoo.store.measurement_store import MeasurementStore

__all__ = ["MAX_WORKER_RESTARTS", "run_cluster", "run_queued"]


#: How often ``measure --queue`` starts a worker again for its jobs before it gives up.
MAX_WORKER_RESTARTS = 3


def run_queued(args: argparse.Namespace, request: Any) -> int:
    """The measurements as jobs for the store's worker; wait, then print them like ``measure``.

    A worker that stops mid-job (killed, out of memory or disk) is noticed (its lease lapses)
    and another is started, at most ``MAX_WORKER_RESTARTS`` times. Ctrl-C withdraws this
    command's requests: a job nobody else asked for is cancelled, not left without a waiter."""
    from zoo.store.jobs import cancel, worker_id
    from zoo.workers.worker import enqueue, ensure_worker, wait_for

    me = f"cli {worker_id()}"
    restarts = 0

    def on_stall(current: list[Any]) -> bool:
        nonlocal restarts
        if restarts >= MAX_WORKER_RESTARTS:
            print(
                f"error: no worker finished these jobs: one was started {restarts} times and "
                "stopped each time (see python -m zoo jobs list, and the machine's memory and "
                "disk)",
                file=sys.stderr,
            )
            return False
        if ensure_worker(args.store) is not None:
            restarts += 1
            print(
                "no worker was running this store's jobs (it stopped: killed, or out of memory "
                "or disk?): started another",
                file=sys.stderr,
            )
        return True

    with MeasurementStore(args.store) as store:
        protocol = protocol_from_args(args)
        # Only what the store lacks becomes a job; what it holds clean is printed as it is.
        have = coverage(store, list(request.specs), protocol)
        stored = [store.get(s, request.protocol, request.environment.key) for s in have.measured]
        wanted = [s for s in request.specs if s not in have.measured]
        submitted = enqueue(store, wanted, protocol, requested_by=me, group="cli")
        if ensure_worker(args.store) is not None:
            print("started a worker for this store", file=sys.stderr)
        try:
            ended = wait_for(
                store,
                [job.id for job in submitted],
                on_progress=None if args.no_progress else _progress_printer(),
                on_stall=on_stall,
            )
        except KeyboardInterrupt:
            for job in submitted:
                cancel(store, job.id, me)
            print("interrupted: this command's requests were withdrawn", file=sys.stderr)
            raise
    results = [m for m in stored if m is not None]
    results += [job.result for job in ended if job.state == "done" and job.result is not None]
    sys.stdout.write(format_measurements(results, args.format))
    failed = [job for job in ended if job.state != "done"]
    for job in failed:
        why = job.error or ("still running" if job.active else "")
        print(f"error: job {job.id} ({job.label}) {job.state}: {why}", file=sys.stderr)
    return 1 if failed else 0


def _progress_printer(on_node: bool = False) -> Callable[[list[Any]], None]:
    """A progress callback for waiting on jobs: one stderr line per job whenever its state or
    progress changes (``on_node``: with the node it runs on)."""
    last: dict[int, str] = {}

    def on_progress(current: list[Any]) -> None:
        for job in current:
            status = f"{job.state} {job.progress}".strip()
            if last.get(job.id) != status:
                last[job.id] = status
                where = f" on {job.target}" if on_node else ""
                print(f"job {job.id} ({job.label}){where}: {status}", file=sys.stderr)

    return on_progress


def run_cluster(args: argparse.Namespace) -> int:
    """Each model on each selected node of the Ray cluster (``zoo.workers.ray_dispatch.dispatch``); the
    results printed like ``measure``'s, per node, and each failed job's reason on stderr. The
    protocol is checked here and resolved on each node (``auto`` is the node's GPU, if any)."""
    from zoo.workers.ray_dispatch import dispatch
    from zoo.workers.ray_nodes import check_address, check_store_for_cluster, parse_selector

    if args.ray is None:
        raise ZooError("--nodes applies to --ray: accepted --ray ADDRESS --nodes all|LABEL=VALUE")
    conflicts = [name for name in ("queue", "remeasure") if getattr(args, name)]
    if args.runtime == BEST:
        conflicts.append(f"runtime {BEST}")
    if conflicts:
        raise ZooError(
            f"--ray cannot be combined with --{conflicts[0]}: accepted one runtime per cluster "
            f"run ({', '.join(RUNTIMES)}), stored results reused"
        )
    check_address(args.ray)
    selector = args.nodes or "all"
    parse_selector(selector)
    specs, protocol = specs_from_args(args), protocol_from_args(args)
    check_store_for_cluster(args.store)
    run = dispatch(
        args.store,
        specs,
        protocol,
        address=args.ray,
        selector=selector,
        group=args.group,
        on_progress=None if args.no_progress else _progress_printer(on_node=True),
    )
    results = [j.result for j in run.jobs if j.state == "done" and j.result is not None]
    sys.stdout.write(format_measurements(results, args.format))
    for job in run.failed:
        print(
            f"error: job {job.id} ({job.label}) on {job.target} {job.state}: {job.error}",
            file=sys.stderr,
        )
    return 1 if run.failed else 0
