"""What ``python -m zoo measure`` was asked for: its arguments turned into model specs and one
protocol.

Why apart from the command: every mode the explorer designs in (a variant, φ with α, β, γ,
explicit width, depth and resolution, a timm peer) and every protocol option is checked here,
before anything runs, so bad input is one line and nothing is stored. docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace
from typing import Any

from explorer import BASE_RESOLUTION_PX
from zoo.errors import ZooError
from zoo.models.spec import (
    ModelSpec,
    spec_from_multipliers,
    spec_from_phi,
    spec_from_timm,
    spec_from_variant,
)
from zoo.models.views import view_specs
from zoo.records.environment import check_cpu_precision
from zoo.records.protocol import QUANTIZED, Protocol, precisions_on
from zoo.records.runtimes import BEST, base_runtime, device_kind, runtimes_for
from zoo.runtimes.calibration import calibration_digest

__all__ = ["calibration_fields", "precision_protocols", "protocol_from_args", "specs_from_args"]


def protocol_from_args(args: argparse.Namespace) -> Protocol:
    """The protocol the options ask for (validated by ``Protocol``)."""
    defaults = Protocol(device="cpu")
    # BEST is not one precision: the search starts from fp32 (precision_protocols adds the rest).
    precision = "fp32" if args.precision == BEST else args.precision
    options: dict[str, Any] = {
        "device": args.device,
        "batch_size": args.batch_size,
        "precision": precision,
        "channels_last": args.channels_last,
        "threads": args.threads,
        # BEST is not one runtime: run_measure measures each, under the first one's protocol.
        "runtime": base_runtime(device_kind(args.device), precision)
        if args.runtime == BEST
        else args.runtime,
    }
    calibration = getattr(args, "calibration", None)
    if calibration is not None and args.precision not in (*QUANTIZED, BEST):
        raise ZooError(
            f"calibration images are for int8 only, not {args.precision}: accepted "
            "--calibration with --precision int8 (or best)"
        )
    if calibration is not None and args.precision != BEST:
        options.update(calibration_fields(calibration))
    if args.iters is not None:
        options["max_iters"] = args.iters
        # --iters N asks for N samples: fewer only if N is below the default minimum.
        options["min_iters"] = max(1, min(defaults.min_iters, args.iters))
    if args.warmup is not None:
        options["warmup_iters"] = args.warmup
    if args.rounds is not None:
        options["rounds"] = args.rounds
    if args.max_seconds is not None:
        options["max_seconds"] = args.max_seconds
    return Protocol(**options)


def calibration_fields(folder: str) -> dict[str, str]:
    """The protocol's calibration fields for ``folder`` (its images' digest, its absolute path)."""
    path = os.path.abspath(folder)
    return {"calibration": calibration_digest(path), "calibration_dir": path}


def precision_protocols(args: argparse.Namespace, protocol: Protocol) -> list[Protocol] | None:
    """``--precision best``: ``protocol`` in each precision the runtime(s) offer on its device
    that can run here (bf16 where the CPU has bf16 units; int8 with ``--calibration``), each
    left out named on stderr; None for one precision."""
    if args.precision != BEST:
        return None
    kind = device_kind(protocol.device)
    runtimes = runtimes_for(kind) if args.runtime == BEST else (args.runtime,)
    chosen = []
    for precision in precisions_on(kind):
        if not any(r in runtimes_for(kind, precision) for r in runtimes):
            continue
        extra: dict[str, Any] = {"precision": precision}
        if precision in QUANTIZED:
            if args.calibration is None:
                print(f"{precision} left out: it needs --calibration DIR", file=sys.stderr)
                continue
            extra.update(calibration_fields(args.calibration))
        if kind == "cpu":
            try:
                check_cpu_precision(precision)
            except ZooError as exc:
                print(f"{precision} left out: {exc}", file=sys.stderr)
                continue
        chosen.append(replace(protocol, runtime=base_runtime(kind, precision), **extra))
    return chosen


def specs_from_args(args: argparse.Namespace) -> list[ModelSpec]:
    """The configurations to measure, in the order given, repeats dropped."""
    explicit = args.width is not None or args.depth is not None
    views = getattr(args, "view", [])
    if not (args.variant or args.phi or args.model or explicit or views):
        raise ZooError(
            "nothing to measure: give --variant b0 … b7, --phi VALUES, --model NAMES, "
            "--width W --depth D [--resolution PIXELS] or --view ACC"
        )
    if explicit and (args.width is None or args.depth is None):
        raise ZooError("--width and --depth go together: accepted --width W --depth D")
    if args.resolution is not None and args.phi:
        raise ZooError(
            "--resolution applies to --variant and --model; a --phi configuration has its own "
            "resolution (224·γ^φ): give explicit multipliers with --variant … --resolution instead"
        )
    specs = [spec_from_variant(v, args.resolution) for v in args.variant]
    specs += [spec_from_phi(phi, args.alpha, args.beta, args.gamma) for phi in args.phi]
    specs += [spec_from_timm(name, args.resolution) for name in args.model]
    if explicit:
        specs.append(
            spec_from_multipliers(args.width, args.depth, args.resolution or BASE_RESOLUTION_PX)
        )
    specs += [spec for view in views for spec in view_specs(view)]
    unique = list(dict.fromkeys(specs))  # keep order, drop repeats
    return unique
