"""``python -m zoo measure`` and ``python -m zoo export``.

``measure`` takes ``--variant``, ``--phi`` (with ``--alpha --beta --gamma``) or ``--model`` timm
names, measures each with the stated protocol (or returns the stored result) and prints a table,
JSON or CSV; ``--ray`` measures on each selected node of a Ray cluster (docs/scale-out.md). Why
everything is validated before anything runs: bad input prints one line, exits with status 2 and
stores nothing. ``export`` dumps the whole store. Commands: docs/benchmarks.md, 'Commands'.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from explorer import PAPER_ALPHA, PAPER_BETA, PAPER_GAMMA
from zoo.cli.report import format_measurements
from zoo.errors import ZooError
from zoo.measure.orchestrate import plan, run_plan, sweep_best
from zoo.models.spec import ModelSpec, spec_from_phi, spec_from_timm, spec_from_variant
from zoo.records.measurement import Measurement, MeasurementError
from zoo.records.protocol import Protocol
from zoo.records.runtimes import BEST, REFERENCE_RUNTIME, RUNTIME_CHOICES, RUNTIMES
from zoo.store.database import STORE_HELP
from zoo.store.measurement_store import MeasurementStore

__all__ = ["add_parsers", "run_export", "run_measure"]


def add_parsers(subparsers: Any) -> None:
    """Register ``measure`` and ``export`` on ``python -m zoo``'s subparsers."""
    p = subparsers.add_parser(
        "measure",
        help="measure params, MACs, latency and peak memory (stored; re-asks are instant)",
        description=(
            "Measure EfficientNets and timm models with a stated latency protocol "
            "(see docs/benchmarks.md). Results are stored; asking again returns them."
        ),
    )
    p.add_argument(
        "--variant",
        nargs="+",
        action="extend",
        default=[],
        metavar="bN",
        help="official EfficientNet variants: b0 … b7 (also b8, l2)",
    )
    p.add_argument(
        "--phi",
        nargs="+",
        action="extend",
        default=[],
        type=float,
        metavar="PHI",
        help="compound coefficients, scaled with --alpha --beta --gamma",
    )
    p.add_argument("--alpha", type=float, default=PAPER_ALPHA, help="depth base (default 1.2)")
    p.add_argument("--beta", type=float, default=PAPER_BETA, help="width base (default 1.1)")
    p.add_argument(
        "--gamma", type=float, default=PAPER_GAMMA, help="resolution base (default 1.15)"
    )
    p.add_argument(
        "--model",
        nargs="+",
        action="extend",
        default=[],
        metavar="NAME",
        help="timm model names, e.g. resnet50 mobilenetv3_large_100",
    )
    p.add_argument(
        "--resolution",
        type=int,
        default=None,
        help="input size for --variant and --model (default: the variant's published size, "
        "the timm model's test size)",
    )
    p.add_argument("--device", default="auto", help="auto (CUDA if present), cpu, cuda, cuda:N")
    p.add_argument("--batch-size", type=int, default=1)
    p.add_argument("--precision", default="fp32", help="fp32; bf16 or fp16 (autocast) on CUDA only")
    p.add_argument(
        "--runtime",
        default=REFERENCE_RUNTIME,
        metavar="RUNTIME",
        help=f"{', '.join(RUNTIME_CHOICES)} (default {REFERENCE_RUNTIME}). '{BEST}' measures "
        "every runtime "
        "available for the device, stores each, and reports the fastest one whose outputs "
        "match eager fp32's",
    )
    p.add_argument(
        "--channels-last",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="channels_last memory format (default on)",
    )
    p.add_argument(
        "--iters",
        type=int,
        default=None,
        help="timed iterations (the maximum; default 50, bounded by --max-seconds)",
    )
    p.add_argument("--warmup", type=int, default=None, help="warm-up iterations (default 3)")
    p.add_argument(
        "--max-seconds",
        type=float,
        default=None,
        help="stop timing after this much timed work (default 10)",
    )
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="CPU threads (default: the physical cores available)",
    )
    p.add_argument("--remeasure", action="store_true", help="measure even if a result is stored")
    p.add_argument(
        "--queue",
        action="store_true",
        help="submit the measurements as jobs to the store's worker (started if none serves "
        "the store) and wait for them, instead of measuring in this process",
    )
    p.add_argument(
        "--ray",
        default=None,
        metavar="ADDRESS",
        help="measure on each selected node of the Ray cluster at ADDRESS (HOST:PORT of its "
        "head, or auto) into a shared PostgreSQL --store; see docs/scale-out.md",
    )
    p.add_argument(
        "--nodes",
        default=None,
        metavar="all|LABEL=VALUE",
        help="with --ray: every alive node (default), or those with this Ray node label",
    )
    p.add_argument("--group", default="cli-ray", help=argparse.SUPPRESS)  # the jobs' group
    p.add_argument("--format", choices=("table", "json", "csv"), default="table")
    p.add_argument("--store", default=None, metavar="STORE", help=STORE_HELP)
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.set_defaults(handler=run_measure)

    e = subparsers.add_parser("export", help="dump the measurement store as CSV or JSON")
    e.add_argument("--format", choices=("csv", "json"), default="csv")
    e.add_argument("--store", default=None, metavar="STORE", help=STORE_HELP)
    e.set_defaults(handler=run_export)


def _protocol(args: argparse.Namespace) -> Protocol:
    defaults = Protocol(device="cpu")
    options: dict[str, Any] = {
        "device": args.device,
        "batch_size": args.batch_size,
        "precision": args.precision,
        "channels_last": args.channels_last,
        "threads": args.threads,
        # BEST is not one runtime: run_measure measures each, under the reference's protocol.
        "runtime": REFERENCE_RUNTIME if args.runtime == BEST else args.runtime,
    }
    if args.iters is not None:
        options["max_iters"] = args.iters
        # --iters N asks for N samples: fewer only if N is below the default minimum.
        options["min_iters"] = max(1, min(defaults.min_iters, args.iters))
    if args.warmup is not None:
        options["warmup_iters"] = args.warmup
    if args.max_seconds is not None:
        options["max_seconds"] = args.max_seconds
    return Protocol(**options)


def _specs(args: argparse.Namespace) -> list[ModelSpec]:
    if not (args.variant or args.phi or args.model):
        raise ZooError("nothing to measure: give --variant b0 … b7, --phi VALUES or --model NAMES")
    if args.resolution is not None and args.phi:
        raise ZooError(
            "--resolution applies to --variant and --model; a --phi configuration has its own "
            "resolution (224·γ^φ): give explicit multipliers with --variant … --resolution instead"
        )
    specs = [spec_from_variant(v, args.resolution) for v in args.variant]
    specs += [spec_from_phi(phi, args.alpha, args.beta, args.gamma) for phi in args.phi]
    specs += [spec_from_timm(name, args.resolution) for name in args.model]
    unique = list(dict.fromkeys(specs))  # keep order, drop repeats
    return unique


def run_measure(args: argparse.Namespace) -> int:
    if args.runtime not in RUNTIME_CHOICES:
        raise ZooError(
            f"runtime {args.runtime!r} is not supported: accepted {', '.join(RUNTIME_CHOICES)}"
        )
    if args.ray is not None or args.nodes is not None:
        return _run_cluster(args)
    # Validate everything (protocol, device, memory) before the store is even opened: bad input
    # stores nothing.
    request = plan(_specs(args), _protocol(args))
    if args.runtime == BEST:
        return _run_best(args, request)
    if args.queue:
        return _run_queued(args, request)
    store = MeasurementStore(args.store)
    try:
        progress = None
        if len(request.specs) > 1 and not args.no_progress:
            from tqdm import tqdm

            progress = tqdm(total=len(request.specs), file=sys.stderr, unit="model", leave=False)

        def on_wait() -> None:
            print("another measurement is running, waiting", file=sys.stderr)

        def on_busy(cores: float, waited_s: float) -> None:
            print(
                f"the machine is busy (other processes use {cores:.2f} cores): waiting for it "
                f"to be quiet ({waited_s:.0f} s so far)",
                file=sys.stderr,
            )

        done: list[Measurement] = []

        def on_result(m: Measurement) -> None:
            done.append(m)
            if progress is not None:
                progress.set_postfix_str(m.model, refresh=False)
                progress.update(1)

        try:
            results = run_plan(
                request,
                store=store,
                remeasure=args.remeasure,
                on_result=on_result,
                on_wait=on_wait,
                on_busy=on_busy,
            )
        except MeasurementError as exc:
            # A run that failed on the device (not bad input): keep what finished, say why.
            sys.stdout.write(format_measurements(done, args.format) if done else "")
            print(f"error: {exc}", file=sys.stderr)
            return 1
        finally:
            if progress is not None:
                progress.close()
    finally:
        store.close()
    sys.stdout.write(format_measurements(results, args.format))
    return 0


def run_export(args: argparse.Namespace) -> int:
    with MeasurementStore(args.store, create=False) as store:
        sys.stdout.write(store.export(args.format))
        if store.damaged_rows:
            print(f"warning: {store.damaged_rows} stored rows could not be read", file=sys.stderr)
    return 0


def _run_best(args: argparse.Namespace, request: Any) -> int:
    """Every runtime available for the device, each result stored; per model the fastest whose
    outputs matched eager fp32's is printed, and each runtime that failed says why (stderr)."""

    def on_failure(model: str, runtime: str, reason: str) -> None:
        print(f"{model} on {runtime}: {reason}", file=sys.stderr)

    with MeasurementStore(args.store) as store:
        result = sweep_best(
            request.specs,
            request.protocol,
            store=store,
            remeasure=args.remeasure,
            on_failure=on_failure,
        )
    best = [m for m in result.best if m is not None]
    sys.stdout.write(format_measurements(best, args.format))
    missing = [s.model for s, m in zip(request.specs, result.best, strict=True) if m is None]
    if missing:
        print(f"error: no runtime measured {', '.join(missing)}", file=sys.stderr)
        return 1
    return 0


#: How often ``measure --queue`` starts a worker again for its jobs before it gives up.
MAX_WORKER_RESTARTS = 3


def _run_queued(args: argparse.Namespace, request: Any) -> int:
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
        submitted = enqueue(
            store, list(request.specs), _protocol(args), requested_by=me, group="cli"
        )
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
    results = [job.result for job in ended if job.state == "done" and job.result is not None]
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


def _run_cluster(args: argparse.Namespace) -> int:
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
    specs, protocol = _specs(args), _protocol(args)
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
