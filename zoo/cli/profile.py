"""``python -m zoo profile``: where one network's time goes on this machine, per stage and per
operator kind, from the runtime's own profiler, against the machine's measured ceilings.

The profile is kept in the data folder: the explorer shows its per-stage times and roofline for
that configuration. docs/profile.md.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, TextIO

from zoo.cli.latency import add_network_options, network_from_args
from zoo.errors import ZooError
from zoo.jsontext import strict_dumps
from zoo.records.protocol import PRECISIONS, Protocol
from zoo.records.runtimes import profiled_runtimes

__all__ = ["add_parsers", "run_profile"]


def add_parsers(subparsers: argparse._SubParsersAction) -> None:
    """Register ``profile``."""
    p = subparsers.add_parser(
        "profile",
        help="where a network's time goes: per stage and operator kind, against the roofline",
        description="Profile one network (an explorer configuration or a timm model) at batch 1 "
        "with the runtime's own profiler; the stages' sum is checked against the whole-model "
        "latency.",
    )
    add_network_options(p)
    p.add_argument("--model", default=None, metavar="NAME", help="a timm model instead")
    p.add_argument("--runtime", default="openvino", choices=profiled_runtimes())
    p.add_argument("--precision", default="fp32", choices=PRECISIONS, help="default fp32")
    p.add_argument("--calibration", default=None, metavar="DIR", help="images for int8")
    p.add_argument("--calls", type=int, default=None, metavar="N", help="profiled calls (30)")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.set_defaults(handler=run_profile)


def _spec(args: argparse.Namespace) -> Any:
    from zoo.models.spec import spec_for_network, spec_from_timm

    if args.model is not None:
        if any(v is not None for v in (args.variant, args.phi, args.width, args.depth)):
            raise ZooError("--model names a timm model on its own; accepted: --model NAME "
                           "[--resolution PIXELS] or one explorer configuration")  # fmt: skip
        return spec_from_timm(args.model, args.resolution)
    return spec_for_network(network_from_args(args, "profile"))


def _protocol(args: argparse.Namespace) -> Protocol:
    options: dict[str, Any] = {"device": "cpu", "runtime": args.runtime}
    options["precision"] = args.precision
    if args.calibration is not None:
        if args.precision != "int8":
            raise ZooError(f"calibration images are for int8 only, not {args.precision}")
        from zoo.cli.measure_request import calibration_fields

        options.update(calibration_fields(args.calibration))
    return Protocol(**options)


def _mb(nbytes: float) -> str:
    return f"{nbytes / 1e6:7.2f}"


def _rate(value: float | None, width: int, digits: int = 1) -> str:
    return f"{value:{width}.{digits}f}" if value is not None else " " * (width - 1) + "—"


def _how_parts(document: dict[str, Any]) -> str:
    """How the part times were taken (older saved profiles do not say: by the profiler)."""
    how = document.get("parts_timed")
    if not how:
        return ""
    profiler = document.get("profiler_ms")
    tail = f"; the profiler's layer times sum to {profiler:.2f} ms" if profiler else ""
    return f"parts: {how}{tail}\n"


def write_table(document: dict[str, Any], out: TextIO) -> None:
    """The profile as the terminal shows it."""
    c = document["ceilings"]
    gap = document["gap_pct"]
    out.write(
        f"{document['model']} @{document['resolution']}px on {document['runtime']} "
        f"({document['runtime_precision']}), batch 1, {document['threads']} threads: "
        f"{document['profiler']}, {document['calls']} calls\n"
        f"whole model {document['whole_ms']:.2f} ms (the protocol's timed loop); the parts sum "
        f"to {document['profiled_ms']:.2f} ms ({gap:+.1f} %: "
        f"{'agrees' if document['agrees'] else 'DOES NOT agree'} within 15 %)\n"
        f"{_how_parts(document)}"
        f"ceilings on this machine: {c['peak_gflops']:.0f} GFLOP/s ({c['precision']} matmul), "
        f"{c['bandwidth_gbs']:.1f} GB/s (streaming copy); ridge {c['ridge_flop_per_byte']:.1f} "
        f"FLOP/byte\nMACs and bytes: {document['counted']}\n\n"
        f"{'part':>9} {'ms':>7} {'share':>6} {'MMACs':>8} {'MB':>7} {'GFLOP/s':>8} "
        f"{'GB/s':>6} {'FLOP/B':>7} {'roofline':>8}  by kind (ms)\n"
    )
    for row in [*document["parts"], None, *document["kinds"]]:
        if row is None:
            out.write(f"{'by kind':>9}\n")
            continue
        kinds = ", ".join(f"{k} {ms:.2f}" for k, ms in row.get("kinds_ms", {}).items())
        out.write(
            f"{row['name']:>9} {row['ms']:7.2f} {row['share_pct']:5.1f}% "
            f"{row['macs'] / 1e6:8.1f} {_mb(row['bytes'])} {_rate(row['gflops'], 8)} "
            f"{_rate(row['gbs'], 6)} {_rate(row['intensity'], 7)} "
            f"{_rate(row['roofline_pct'], 7, 0)}%  {kinds}\n"
        )
    if document["unnamed_ms"] > 0:
        out.write(
            f"\n{document['unnamed_ms']:.2f} ms ran in layers no module names (layout reorders), "
            "counted with the layer before each\n"
        )


def run_profile(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Profile, keep the profile for the explorer, print it."""
    from zoo.profile.run import DEFAULT_CALLS, profile
    from zoo.profile.saved import save_profile

    out = out or sys.stdout
    spec = _spec(args)
    document = profile(spec, _protocol(args), args.calls or DEFAULT_CALLS)
    try:
        save_profile(document)
    except (OSError, ZooError) as exc:
        print(f"note: the profile could not be kept for the explorer ({exc})", file=sys.stderr)
    if args.format == "json":
        out.write(strict_dumps(document, indent=2) + "\n")
    else:
        write_table(document, out)
    return 0
