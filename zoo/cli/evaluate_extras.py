"""What ``zoo evaluate`` does around the evaluation itself: what int8 calibrates on
(``--calibration DIR``, refused when it overlaps the evaluated folder, or a seeded share of the
folder, which is then not evaluated), and the latency it queues for the own-data axis.

Why never the evaluated images: ranges set on the images that are scored flatter int8's
accuracy, and the drop drawn on the compare page would be too small (docs/precision.md).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from zoo.errors import ZooError
from zoo.records.evaluation import Evaluation

__all__ = [
    "MIN_SPLIT_IMAGES",
    "SPLIT_SEED",
    "SPLIT_SHARE",
    "calibration_for",
    "queue_latency",
]

#: int8 without --calibration: the share of the folder set aside to calibrate on (seeded).
SPLIT_SHARE = 0.2
SPLIT_SEED = 0
MIN_SPLIT_IMAGES = 10


def calibration_for(args: argparse.Namespace, folder: Any) -> tuple[Any, Any]:
    """The folder to evaluate and what int8 calibrates on: ``--calibration DIR`` (refused when
    it overlaps the evaluated folder), or a seeded share of the folder, then not evaluated."""
    import dataclasses
    import os
    import random
    from pathlib import Path

    from zoo.runtimes.calibration import DEFAULT_IMAGES, CalibrationSource

    if args.precision != "int8":
        if args.calibration is not None:
            raise ZooError("--calibration is for --precision int8 only")
        return folder, None
    if args.calibration is not None:
        mine, theirs = Path(args.folder).resolve(), Path(args.calibration).resolve()
        if mine == theirs or mine in theirs.parents or theirs in mine.parents:
            raise ZooError(
                f"the calibration folder {args.calibration!r} overlaps the evaluated folder "
                f"{args.folder!r}: int8 would be calibrated on the images it is scored on; "
                "accepted: a separate folder, or no --calibration (a seeded split)"
            )
        return folder, CalibrationSource.of_folder(args.calibration)
    images = list(folder.images)
    if len(images) < MIN_SPLIT_IMAGES:
        raise ZooError(
            f"int8 needs calibration images: {len(images)} images are too few to split off a "
            f"calibration share (at least {MIN_SPLIT_IMAGES}); accepted: --calibration DIR"
        )
    count = min(DEFAULT_IMAGES, max(1, round(len(images) * SPLIT_SHARE)))
    chosen = set(random.Random(SPLIT_SEED).sample(range(len(images)), count))
    calibrate = [Path(os.fsdecode(images[i].path)) for i in sorted(chosen)]
    kept = tuple(image for i, image in enumerate(images) if i not in chosen)
    described = (
        f"a seeded split (seed {SPLIT_SEED}) of {folder.root}: {count} of its {len(images)} "
        f"images, not evaluated"
    )
    print(f"int8: calibrating on {described}", file=sys.stderr)
    source = CalibrationSource.of_files(calibrate, described)
    return dataclasses.replace(folder, images=kept), source


def queue_latency(store: Any, result: Evaluation) -> None:
    """Queue the evaluated model's latency at its input size (unless stored or queued), so the
    compare page's own-data axis fills itself; a line on stderr says what happened."""
    from zoo.measure.coverage import coverage
    from zoo.measure.orchestrate import preferred_protocol
    from zoo.models.spec import spec_from_timm
    from zoo.workers.worker import enqueue

    try:
        spec = spec_from_timm(result.model.partition(".")[0], result.input_px)
        protocol = preferred_protocol("cpu")
        have = coverage(store, [spec], protocol)
        if have.measured or have.queued:
            return
        enqueue(store, [spec], protocol, requested_by="zoo evaluate", group="evaluate")
    except ZooError as exc:
        print(f"latency of {result.model} not queued: {exc}", file=sys.stderr)
        return
    print(
        f"queued the latency of {spec.label} (batch 1, fp32, {protocol.runtime}) for the compare "
        "page's \"top-1 on your data\" axis: the dashboard's worker runs it, or python -m zoo "
        "worker",
        file=sys.stderr,
    )
