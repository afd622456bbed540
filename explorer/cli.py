"""``python -m explorer``: the scaled network for φ values, explicit multipliers or variants.

Examples::

    python -m explorer --phi 0 1 2.5                      # paper α, β, γ
    python -m explorer --phi 3 --alpha 1.3 --beta 1.05 --gamma 1.2 --format json
    python -m explorer --width 1.2 --depth 1.4 --resolution 300
    python -m explorer --variant b0 b3 b7 --format json

Bad input prints one line on stderr and exits with status 2.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Sequence

from explorer import (
    PAPER_ALPHA,
    PAPER_BETA,
    PAPER_GAMMA,
    ScaledNetwork,
    ScalingError,
    from_multipliers,
    from_phi,
    from_variant,
    network_summary,
)


class Parser(argparse.ArgumentParser):
    """argparse with the two fixes both CLIs (``explorer``, ``zoo``) need.

    * a usage error is one line (argparse prints the usage first);
    * every float spelling of a negative number is a value, not an option: argparse's own rule
      (``-1``, ``-.5``) reads ``--phi -1e308`` or ``--phi -inf`` as a missing argument.
    """

    _NEGATIVE_NUMBER = re.compile(
        r"^-(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?$|^-(?:inf|infinity|nan)$", re.IGNORECASE
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._negative_number_matcher = self._NEGATIVE_NUMBER

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    p = Parser(
        prog="python -m explorer",
        description="EfficientNet compound scaling, computed exactly without building a model.",
    )
    p.add_argument(
        "--phi",
        type=_number,
        nargs="+",
        action="extend",
        metavar="PHI",
        help="compound coefficient(s) φ; any real number (negative, fractional)",
    )
    p.add_argument("--alpha", type=_number, default=PAPER_ALPHA, help="depth base α (1.2)")
    p.add_argument("--beta", type=_number, default=PAPER_BETA, help="width base β (1.1)")
    p.add_argument("--gamma", type=_number, default=PAPER_GAMMA, help="resolution base γ (1.15)")
    p.add_argument("--width", type=_number, help="explicit width multiplier (default 1.0)")
    p.add_argument("--depth", type=_number, help="explicit depth multiplier (default 1.0)")
    p.add_argument(
        "--resolution",
        type=_number,
        metavar="PX",
        help="explicit input resolution in pixels (default 224)",
    )
    p.add_argument(
        "--resolution-multiplier",
        type=_number,
        metavar="R",
        help="explicit resolution multiplier: round(224 × R) pixels",
    )
    p.add_argument(
        "--variant",
        nargs="+",
        action="extend",
        metavar="NAME",
        help="official variant(s): b0 … b7, b8, l2",
    )
    p.add_argument("--format", choices=("table", "json"), default="table")
    return p


def networks_for(args: argparse.Namespace) -> list[ScaledNetwork]:
    """The configurations asked for, in order: φ values, then explicit, then variants."""
    explicit = any(
        v is not None for v in (args.width, args.depth, args.resolution, args.resolution_multiplier)
    )
    networks = [from_phi(phi, args.alpha, args.beta, args.gamma) for phi in args.phi or ()]
    if explicit:
        networks.append(
            from_multipliers(
                1.0 if args.width is None else args.width,
                1.0 if args.depth is None else args.depth,
                args.resolution,
                resolution_multiplier=args.resolution_multiplier,
            )
        )
    networks.extend(from_variant(name) for name in args.variant or ())
    if not networks:  # nothing asked: show B0 (φ = 0)
        networks.append(from_phi(0.0, args.alpha, args.beta, args.gamma))
    return networks


def _fmt_count(value: int) -> str:
    for unit, scale in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if value >= scale:
            return f"{value / scale:.3f}{unit}"
    return str(value)


def render_table(networks: Sequence[ScaledNetwork]) -> str:
    lines: list[str] = []
    for net in networks:
        lines.append(
            f"{net.label}: depth x{net.depth_multiplier:.4g}, width x{net.width_multiplier:.4g}, "
            f"{net.resolution}px | params {net.params:,} | MACs {net.macs:,} "
            f"({_fmt_count(net.macs)}; FLOPs = 2 x MACs) | blocks {net.total_blocks}"
        )
        header = (
            "stage",
            "block",
            "k",
            "s",
            "exp",
            "se",
            "in",
            "out",
            "rep",
            "res in",
            "res out",
            "params",
            "MACs",
        )
        rows = [
            (
                "stem",
                "Conv3x3",
                "3",
                "2",
                "-",
                "-",
                "3",
                str(net.stem_channels),
                "1",
                str(net.resolution),
                str(net.stages[0].input_resolution),
                f"{net.stem.params:,}",
                f"{net.stem.macs:,}",
            )
        ]
        for s in net.stages:
            rows.append(
                (
                    str(s.index),
                    s.block,
                    str(s.kernel),
                    str(s.stride),
                    str(s.expand_ratio),
                    f"{s.se_ratio:g}",
                    str(s.in_channels),
                    str(s.out_channels),
                    str(s.repeats),
                    str(s.input_resolution),
                    str(s.output_resolution),
                    f"{s.params:,}",
                    f"{s.macs:,}",
                )
            )
        last = net.stages[-1]
        rows.append(
            (
                "head",
                "Conv1x1",
                "1",
                "1",
                "-",
                "-",
                str(last.out_channels),
                str(net.head_channels),
                "1",
                str(last.output_resolution),
                str(last.output_resolution),
                f"{net.head.params:,}",
                f"{net.head.macs:,}",
            )
        )
        rows.append(
            (
                "fc",
                "Linear",
                "-",
                "-",
                "-",
                "-",
                str(net.head_channels),
                str(net.num_classes),
                "1",
                "1",
                "1",
                f"{net.classifier.params:,}",
                f"{net.classifier.macs:,}",
            )
        )
        widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
        lines.append("  ".join(h.rjust(w) for h, w in zip(header, widths, strict=False)))
        lines.extend("  ".join(c.rjust(w) for c, w in zip(r, widths, strict=False)) for r in rows)
        lines.append("")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        networks = networks_for(args)
    except ScalingError as exc:
        print(f"python -m explorer: error: {exc}", file=sys.stderr)
        return 2
    text = (
        json.dumps([network_summary(n) for n in networks], indent=2, allow_nan=False)
        if args.format == "json"
        else render_table(networks)
    )
    try:
        print(text)
        sys.stdout.flush()
    except BrokenPipeError:  # e.g. `python -m explorer ... | head`: not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
