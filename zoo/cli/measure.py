"""``python -m zoo measure`` and ``python -m zoo export``.

``measure`` takes ``--variant``, ``--phi`` (with ``--alpha --beta --gamma``), ``--width --depth
--resolution`` or ``--model`` timm names (read by ``zoo.cli.measure_request``), measures each
with the stated protocol (or returns the stored result) and prints a table, JSON or CSV;
``--ray`` measures on each node of a Ray cluster (docs/scale-out.md). Why everything is checked
before anything runs: bad input prints one line, exits 2 and stores nothing. ``export`` dumps
the store. Commands: docs/benchmarks.md, 'Commands'.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from explorer import PAPER_ALPHA, PAPER_BETA, PAPER_GAMMA
from zoo.cli.measure_jobs import run_cluster, run_queued
from zoo.cli.measure_request import precision_protocols, protocol_from_args, specs_from_args
from zoo.cli.report import format_measurements
from zoo.errors import ZooError
from zoo.measure.orchestrate import plan, run_plan, sweep_best
from zoo.models.spec import ModelSpec
from zoo.models.views import VIEW_KEYS, view_specs
from zoo.records.measurement import Measurement, MeasurementError
from zoo.records.protocol import Protocol
from zoo.records.runtimes import BEST, REFERENCE_RUNTIME, RUNTIME_CHOICES
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
        "--view",
        nargs="+",
        action="extend",
        default=[],
        metavar="ACC",
        help="every network the compare chart draws in accuracy view ACC ("
        + ", ".join(VIEW_KEYS)
        + "), each at the input size the view's accuracy was measured at; what is stored is "
        "returned, what does not fit in memory here is skipped (and said so)",
    )
    p.add_argument(
        "--width",
        type=float,
        default=None,
        metavar="W",
        help="an EfficientNet with explicit multipliers, as the explorer's explicit mode: "
        "width W, with --depth D and --resolution PIXELS (default 224)",
    )
    p.add_argument("--depth", type=float, default=None, metavar="D", help="with --width")
    p.add_argument(
        "--resolution",
        type=int,
        default=None,
        help="input size for --variant, --model and --width/--depth (default: the variant's "
        "published size, the timm model's test size, 224)",
    )
    p.add_argument("--device", default="auto", help="auto (CUDA if present), cpu, cuda, cuda:N")
    p.add_argument("--batch-size", type=int, default=1)
    p.add_argument(
        "--precision",
        default="fp32",
        metavar="PRECISION",
        help="fp32 (default); bf16 (CPU: eager autocast and OpenVINO, where the CPU has bf16 "
        "units; CUDA: autocast); int8 (CPU: ONNX Runtime QDQ, OpenVINO NNCF; needs "
        "--calibration); fp16 (CUDA); 'best': each precision the runtime offers here, the "
        "fastest verified one reported and named",
    )
    p.add_argument(
        "--calibration",
        default=None,
        metavar="DIR",
        help="int8: a folder of images whose activation ranges the quantization takes (300 "
        "picked evenly, fewer with a warning); never the images you evaluate on",
    )
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
    p.add_argument(
        "--rounds",
        type=int,
        default=None,
        help="rounds the timed iterations are split into, a speed probe around each; each round "
        "is scaled to this machine's reference speed, slow ones set aside (default 8; 1: one "
        "plain run)",
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


def run_measure(args: argparse.Namespace) -> int:
    if args.runtime not in RUNTIME_CHOICES:
        raise ZooError(
            f"runtime {args.runtime!r} is not supported: accepted {', '.join(RUNTIME_CHOICES)}"
        )
    if args.ray is not None or args.nodes is not None:
        return run_cluster(args)
    # Validate everything (protocol, device, memory) before the store is even opened: bad input
    # stores nothing.
    protocol = protocol_from_args(args)
    request = plan(_fitting(specs_from_args(args), protocol, args.view), protocol)
    if args.runtime == BEST or args.precision == BEST:
        if args.queue:
            raise ZooError(f"--queue takes one runtime and precision, not {BEST!r}")
        return _run_best(args, request)
    if args.queue:
        return run_queued(args, request)
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


def _fitting(specs: list[ModelSpec], protocol: Protocol, views: list[str]) -> list[ModelSpec]:
    """``specs`` less those of ``views`` (and only those) that will not be measured here (the
    memory guard, the runtime), each named on stderr; a model named on its own is bad input."""
    if not views:
        return specs
    from_views = {spec for view in views for spec in view_specs(view)}
    kept = []
    for spec in specs:
        if spec in from_views:
            try:
                plan([spec], protocol)
            except ZooError as exc:
                print(f"skipped {spec.label} (in --view): {exc}", file=sys.stderr)
                continue
        kept.append(spec)
    if not kept:
        raise ZooError("nothing to measure: every network of the view was skipped (see above)")
    return kept


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

    protocols = precision_protocols(args, request.protocol)
    with MeasurementStore(args.store) as store:
        result = sweep_best(
            request.specs,
            request.protocol,
            store=store,
            remeasure=args.remeasure,
            on_failure=on_failure,
            runtimes=None if args.runtime == BEST else [args.runtime],
            protocols=protocols,
        )
    best = [m for m in result.best if m is not None]
    sys.stdout.write(format_measurements(best, args.format))
    for m in best:
        print(f"fastest verified for {m.model}: {m.runtime} in {m.precision}", file=sys.stderr)
    missing = [s.model for s, m in zip(request.specs, result.best, strict=True) if m is None]
    if missing:
        print(f"error: no runtime measured {', '.join(missing)}", file=sys.stderr)
        return 1
    return 0
