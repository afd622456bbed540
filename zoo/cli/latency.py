"""``python -m zoo calibrate`` and ``python -m zoo predict``: fit this machine's latency model
from a designed set of measurements, and predict any explorer configuration from it.

Why the calibration runs as jobs: it measures for minutes, so it goes through the store's queue
like any measurement (a worker runs it; the command watches and refits as results land, and
Ctrl-C withdraws what it asked for). docs/latency-model.md.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, TextIO

from explorer import PAPER_ALPHA, PAPER_BETA, PAPER_GAMMA
from zoo.errors import ZooError
from zoo.jsontext import strict_dumps
from zoo.records.protocol import PRECISIONS, Protocol
from zoo.records.runtimes import RUNTIMES

__all__ = [
    "add_network_options",
    "add_parsers",
    "network_from_args",
    "run_calibrate",
    "run_predict",
]

#: How many configurations a calibration measures by default, and at most.
DEFAULT_CONFIGS = 20
MAX_CONFIGS = 60


def _protocol_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--runtime", default="openvino", choices=RUNTIMES, help="default openvino")
    p.add_argument("--precision", default="fp32", choices=PRECISIONS, help="default fp32")
    p.add_argument("--batch-size", type=int, default=1)
    p.add_argument("--store", default=None, metavar="STORE", help="the measurement store")


def add_parsers(subparsers: argparse._SubParsersAction) -> None:
    """Register ``calibrate`` and ``predict``."""
    c = subparsers.add_parser(
        "calibrate",
        help="measure a designed set of EfficientNets and fit this machine's latency model",
        description="Queue a designed set of configurations (spread over φ, width, depth and "
        "resolution under a size cap) as measurement jobs and fit the latency model as they land.",
    )
    _protocol_options(c)
    c.add_argument("--configs", type=int, default=DEFAULT_CONFIGS, metavar="N")
    c.add_argument("--budget-minutes", type=float, default=30.0, metavar="M")
    c.add_argument("--max-gmacs", type=float, default=None, metavar="G", help="size cap (2.0)")
    c.add_argument("--rounds", type=int, default=None, help="the protocol's rounds (default 8)")
    c.set_defaults(handler=run_calibrate)
    p = subparsers.add_parser(
        "predict",
        help="predict an EfficientNet's latency on this machine from its latency model",
        description="Predicted latency of one configuration, with its interval and the fit's "
        "back-test (python -m zoo calibrate fits the model).",
    )
    add_network_options(p)
    _protocol_options(p)
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.set_defaults(handler=run_predict)


def add_network_options(p: argparse.ArgumentParser) -> None:
    """One explorer configuration: --variant, --phi (with α, β, γ), or --width/--depth."""
    p.add_argument("--variant", default=None, metavar="bN")
    p.add_argument("--phi", type=float, default=None)
    p.add_argument("--alpha", type=float, default=PAPER_ALPHA)
    p.add_argument("--beta", type=float, default=PAPER_BETA)
    p.add_argument("--gamma", type=float, default=PAPER_GAMMA)
    p.add_argument("--width", type=float, default=None, metavar="W")
    p.add_argument("--depth", type=float, default=None, metavar="D")
    p.add_argument("--resolution", type=int, default=None, metavar="PIXELS")


def network_from_args(args: argparse.Namespace, what: str = "predict") -> Any:
    """The explorer network ``add_network_options``' arguments name (a ``ZooError`` otherwise)."""
    from explorer import ScalingError, from_multipliers, from_phi, from_variant

    asked = [args.variant is not None, args.phi is not None, args.width is not None]
    if sum(asked) != 1 or (args.width is None) != (args.depth is None):
        raise ZooError(
            f"{what} one configuration: accepted --variant bN, --phi P [--alpha --beta --gamma], "
            "or --width W --depth D [--resolution PIXELS]"
        )
    try:
        if args.variant is not None:
            net = from_variant(args.variant)
            if args.resolution is not None:
                net = from_multipliers(net.width_multiplier, net.depth_multiplier, args.resolution)
            return net
        if args.phi is not None:
            if args.resolution is not None:
                raise ZooError("--resolution does not apply to --phi (its size is 224·γ^φ)")
            return from_phi(args.phi, args.alpha, args.beta, args.gamma)
        return from_multipliers(args.width, args.depth, args.resolution or 224)
    except ScalingError as exc:
        raise ZooError(str(exc)) from None


def run_predict(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Print the prediction; exit 1 with one line naming ``calibrate`` when there is no model."""
    out = out or sys.stdout
    network = network_from_args(args)
    protocol = Protocol(
        device="cpu", runtime=args.runtime, precision=args.precision, batch_size=args.batch_size
    )
    from zoo.latency.predict import model_for, predict_document

    model = model_for(protocol)
    if model is None:
        print(
            f"no latency model for {args.runtime} {args.precision} batch {args.batch_size} on "
            f"this machine yet: run python -m zoo calibrate --runtime {args.runtime}",
            file=sys.stderr,
        )
        return 1
    document = predict_document(model, network)
    if args.format == "json":
        out.write(strict_dumps(document, indent=2) + "\n")
        return 0
    low, high = document["interval_ms"]
    test = document["backtest"]
    out.write(
        f"{network.label} @{network.resolution}px on {args.runtime} {args.precision} batch "
        f"{args.batch_size}: predicted {document['predicted_ms']:.2f} ms "
        f"({low:.2f}–{high:.2f} ms)\nback-test: {test['within_10_pct']:.0f} % of "
        f"{test['points']} held-out measurements within ±10 %, {test['within_5_pct']:.0f} % "
        f"within ±5 %, MAPE {test['mape_pct']:.1f} %\n"
    )
    for part, ms in document["parts_ms"].items():
        out.write(f"  {part:>9}: {ms:7.2f} ms predicted\n")
    return 0


def run_calibrate(args: argparse.Namespace) -> int:
    """Queue the design (what the store lacks), start a worker, refit as results land."""
    from zoo.latency.calibrate import calibrate

    if not 1 <= args.configs <= MAX_CONFIGS:
        raise ZooError(f"--configs must be from 1 to {MAX_CONFIGS}, got {args.configs}")
    if not 0 < args.budget_minutes <= 24 * 60:
        raise ZooError(
            f"--budget-minutes must be above 0 and at most 1440, got {args.budget_minutes}"
        )
    options: dict[str, Any] = {"device": "cpu", "runtime": args.runtime}
    options.update(precision=args.precision, batch_size=args.batch_size)
    if args.rounds is not None:
        options["rounds"] = args.rounds
    model = calibrate(
        args.store,
        Protocol(**options),
        configs=args.configs,
        budget_s=args.budget_minutes * 60,
        max_gmacs=args.max_gmacs,
        say=lambda line: print(line, file=sys.stderr),
    )
    if model is None:
        return 1
    test = model.backtest
    print(
        f"latency model for {args.runtime} {args.precision} batch {args.batch_size}: fitted on "
        f"{test.points} configurations; leave-one-out: {test.within_10_pct:.0f} % within ±10 %, "
        f"{test.within_5_pct:.0f} % within ±5 %, MAPE {test.mape_pct:.1f} %"
    )
    return 0
