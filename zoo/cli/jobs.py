"""``python -m zoo worker`` and ``python -m zoo jobs``: the measurement queue from the shell.

``worker`` serves a store's job queue (one worker per store; a second one says so and exits).
``jobs`` lists the queue, or cancels a job. ``python -m zoo measure --queue`` submits its
measurements as jobs instead of running them itself, and waits for them.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from zoo.errors import ZooError
from zoo.jsontext import strict_dumps
from zoo.store.database import STORE_HELP as _STORE_HELP
from zoo.store.jobs import JOB_STATES, cancel, jobs
from zoo.store.measurement_store import MeasurementStore
from zoo.workers.worker import serve

__all__ = ["add_parsers"]


def add_parsers(subparsers: Any) -> None:
    """Register ``worker`` and ``jobs`` on ``python -m zoo``'s subparsers."""
    w = subparsers.add_parser(
        "worker",
        help="take measurement jobs from the store, one at a time",
        description="Serve the store's measurement queue (one worker per store).",
    )
    w.add_argument("--store", default=None, metavar="STORE", help=_STORE_HELP)
    w.add_argument("--once", action="store_true", help="stop when the queue is empty")
    w.add_argument(
        "--idle-exit", type=float, default=None, metavar="S", help="stop after S idle seconds"
    )
    w.add_argument("--parent-pid", type=int, default=None, help=argparse.SUPPRESS)
    w.set_defaults(handler=run_worker)

    j = subparsers.add_parser("jobs", help="list the measurement queue, or cancel a job")
    j.add_argument("action", choices=("list", "cancel"))
    j.add_argument("job_id", nargs="?", type=int, help="the job to cancel")
    j.add_argument("--state", choices=JOB_STATES, action="append", help="only these states")
    j.add_argument("--format", choices=("table", "json"), default="table")
    j.add_argument("--store", default=None, metavar="STORE", help=_STORE_HELP)
    j.set_defaults(handler=run_jobs)


def run_worker(args: argparse.Namespace) -> int:
    if args.idle_exit is not None and args.idle_exit < 0:
        raise ZooError(f"--idle-exit must be >= 0 seconds, got {args.idle_exit}")

    def say(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    serve(
        args.store,
        once=args.once,
        idle_exit_s=args.idle_exit,
        parent_pid=args.parent_pid,
        say=say,
    )
    return 0


def run_jobs(args: argparse.Namespace) -> int:
    with MeasurementStore(args.store, create=False) as store:
        if args.action == "cancel":
            if args.job_id is None:
                raise ZooError("jobs cancel needs a job id: python -m zoo jobs cancel ID")
            if not cancel(store, args.job_id):
                raise ZooError(f"job {args.job_id} is not queued or running: nothing to cancel")
            print(f"job {args.job_id} cancelled")
            return 0
        found = jobs(store, states=tuple(args.state) if args.state else None)
        if store.unreadable_jobs:
            print(
                f"warning: {len(store.unreadable_jobs)} job row(s) could not be read (ids "
                f"{', '.join(map(str, store.unreadable_jobs[:10]))}): written by another effscale "
                "version, or damaged; a worker fails them with the reason",
                file=sys.stderr,
            )
    if args.format == "json":
        records = [
            {
                "id": j.id,
                "label": j.label,
                "state": j.state,
                "progress": j.progress,
                "error": j.error,
                "requested_by": j.requested_by,
                "group": j.group_name,
                "worker": j.worker,
                "attempts": j.attempts,
                "created_at": j.created_at,
                "started_at": j.started_at,
                "finished_at": j.finished_at,
                "latency_ms_median": j.result.latency_ms_median if j.result else None,
            }
            for j in found
        ]
        sys.stdout.write(strict_dumps(records, indent=2) + "\n")
        return 0
    for j in found:
        detail = (
            j.progress or j.error or (f"{j.result.latency_ms_median:.2f} ms" if j.result else "")
        )
        print(f"{j.id:>5}  {j.state:<9}  {j.label}  {detail}")
    if not found:
        print("no jobs", file=sys.stderr)
    return 0
