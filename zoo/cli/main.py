"""``python -m zoo``: measure models, export the store, classify images, evaluate on a folder,
calibrate and predict latency, profile where the time goes.

Each subcommand lives in a module of this wing (``zoo.cli.measure``, ``zoo.cli.classify``, …)
exposing ``add_parsers(subparsers)``; every handler returns an exit status. Bad input (a
``ValueError``, which includes ``ZooError``) becomes one readable line on stderr and status 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from explorer.cli import Parser
from zoo.cli import cache as cli_cache
from zoo.cli import classify as cli_classify
from zoo.cli import evaluate as cli_evaluate
from zoo.cli import jobs as cli_jobs
from zoo.cli import latency as cli_latency
from zoo.cli import measure as cli_measure
from zoo.cli import profile as cli_profile


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="python -m zoo", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    modules = (
        cli_measure,
        cli_classify,
        cli_evaluate,
        cli_jobs,
        cli_cache,
        cli_latency,
        cli_profile,
    )
    for module in modules:
        module.add_parsers(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args))
    except ValueError as exc:  # ZooError and validation errors: one line, status 2
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
