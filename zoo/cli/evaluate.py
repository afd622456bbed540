"""``python -m zoo evaluate DIR --model NAME``: a model's accuracy on your own labelled images.

Why everything is checked before any model is loaded (the runtime, the folder and its class
folders, each model name): bad input then costs one line on stderr and exit status 2, not a
model load. Complete results are stored with the data's fingerprint for the compare page; Ctrl-C
prints what was finished and stores nothing for that model. The folder, the output and the exit
statuses: docs/evaluate.md.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from zoo.classify.evaluate import DEFAULT_BATCH_SIZE, RUNTIMES, check_runtime
from zoo.cli.evaluate_extras import calibration_for, queue_latency
from zoo.errors import ZooError
from zoo.jsontext import strict_dumps
from zoo.records.evaluation import Evaluation
from zoo.records.runtimes import REFERENCE_RUNTIME
from zoo.store.database import STORE_HELP

__all__ = ["CSV_COLUMNS", "add_parsers", "format_csv", "format_table", "run"]

#: The CSV's columns: one ``(all)`` row per model, then one row per class folder.
CSV_COLUMNS: tuple[str, ...] = (
    "model",
    "weights",
    "runtime",
    "data_fingerprint",
    "complete",
    "folder",
    "imagenet_index",
    "imagenet_label",
    "images",
    "top1_pct",
    "top5_pct",
    "images_failed",
    "images_per_s",
)
_SHOWN_FAILURES = 20


def add_parsers(subparsers: argparse._SubParsersAction) -> None:
    """Register the ``evaluate`` subcommand."""
    parser = subparsers.add_parser(
        "evaluate",
        help="top-1/top-5 of a model on your own labelled image folder (one sub-folder per class)",
        description="Evaluate ImageNet classifiers on a labelled image folder: DIR/<class>/<image>, "
        "class folders named by ImageNet WordNet id (n02123045) or class name (tabby), or mapped "
        "with --class-map. See docs/evaluate.md.",
        epilog="exit status: 0 done, 1 when a model could evaluate no image, 2 for bad arguments, "
        "130 when interrupted (the partial result is printed with complete=false, never stored)",
    )
    parser.add_argument("folder", metavar="DIR", help="labelled folder: DIR/<class>/<image>")
    parser.add_argument(
        "--model",
        required=True,
        nargs="+",
        action="extend",
        metavar="NAME",
        help="timm model names, e.g. tf_efficientnet_lite0 (each with its own preprocessing)",
    )
    parser.add_argument(
        "--runtime",
        default=REFERENCE_RUNTIME,
        metavar="R",
        help=f"forward pass (accepted now: {', '.join(RUNTIMES)})",
    )
    parser.add_argument(
        "--precision",
        default="fp32",
        choices=("fp32", "bf16", "int8"),
        help="fp32 (default); bf16 (eager autocast, OpenVINO; CPUs with bf16 units); int8 "
        "(onnxruntime, openvino): calibrated on --calibration DIR, or on a seeded split of the "
        "folder that is then not evaluated. A reduced precision also runs eager fp32 on the same "
        "images: the top-1 agreement and fp32's top-1 are stored beside it",
    )
    parser.add_argument(
        "--calibration",
        metavar="DIR",
        default=None,
        help="int8: a folder of images to calibrate on (300 picked evenly); never inside the "
        "evaluated folder",
    )
    parser.add_argument(
        "--weights",
        metavar="PATH",
        default=None,
        help="a .safetensors file or PyTorch state dict (only with a single --model)",
    )
    parser.add_argument(
        "--class-map",
        metavar="FILE",
        default=None,
        help="JSON object or two-column CSV: folder name -> ImageNet index 0-999 or WordNet id",
    )
    parser.add_argument(
        "--limit",
        type=int,
        default=None,
        metavar="N",
        help="evaluate N images: a stratified sample in proportion to class sizes (at least "
        "one per class when N allows; the first files by path within each class)",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=DEFAULT_BATCH_SIZE,
        help=f"images per forward pass (default {DEFAULT_BATCH_SIZE})",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="decode threads (default: one per 4 cores, 1 to 4)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch threads for the forward pass (default: torch's, one per physical core)",
    )
    parser.add_argument("--format", choices=("table", "json", "csv"), default="table")
    parser.add_argument(
        "--store",
        default=None,
        metavar="PATH",
        help=STORE_HELP,
    )
    parser.add_argument("--no-store", action="store_true", help="do not store the results")
    parser.add_argument(
        "--no-latency",
        action="store_true",
        help="do not queue the evaluated models' latency (by default a job per stored model, at "
        'its input size, for the compare page\'s "top-1 on your data" axis)',
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    parser.set_defaults(handler=run)


# --------------------------------------------------------------------------- output


def _count(n: int, what: str) -> str:
    return f"{n} {what}{'s' if n != 1 else ''}"


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f} %"


def format_table(evaluations: Sequence[Evaluation]) -> str:
    """A readable report per model: summary, per class, confusions, failures, notes."""
    lines: list[str] = []
    for e in evaluations:
        if lines:
            lines.append("")
        done = e.images_evaluated + e.images_failed
        state = "" if e.complete else f"  PARTIAL: interrupted after {done} of {e.images_selected}"
        lines.append(f"model: {e.model} ({e.runtime}, {e.precision}, {e.input_px} px){state}")
        lines.append(f"weights: {e.weights}")
        sample = f" (limit {e.limit}: stratified sample)" if e.limit is not None else ""
        lines.append(
            f"data: {e.data_dir}: {e.classes} classes, {e.images_selected} of {e.images_found} "
            f"images{sample}; fingerprint {e.data_fingerprint[:16]}"
        )
        speed = "n/a" if e.images_per_s is None else f"{e.images_per_s:.1f} images/s"
        lines.append(
            f"top-1 {_pct(e.top1_pct)}   top-5 {_pct(e.top5_pct)}   on {e.images_evaluated} "
            f"images; {e.images_failed} failed; {speed} (batch {e.batch_size}, "
            f"{_count(e.threads, 'torch thread')}, {_count(e.decode_workers, 'decode thread')})"
        )
        if e.precision != "fp32":
            drop = (
                f"; fp32 top-1 {_pct(e.reference_top1_pct)} on the same images: "
                f"{e.top1_pct - e.reference_top1_pct:+.1f} pt"
                if e.top1_pct is not None and e.reference_top1_pct is not None
                else ""
            )
            lines.append(
                f"{e.precision}: top-1 agreement with eager fp32 {_pct(e.agreement_pct)} on "
                f"{e.agreement_images} images{drop}"
            )
            if e.calibration:
                lines.append(f"calibrated on: {e.calibration}")
        lines.append("")
        header = ("class folder", "ImageNet class", "images", "top-1", "top-5")
        rows = [
            (
                s.folder,
                f"{s.index} {s.label}",
                str(s.images),
                _pct(s.top1_pct),
                _pct(s.top5_pct),
            )
            for s in e.per_class
        ]
        widths = [max(len(r[i]) for r in (header, *rows)) for i in range(len(header))]
        for row in (header, *rows):
            lines.append(
                "  ".join(
                    c.ljust(w) if i < 2 else c.rjust(w)
                    for i, (c, w) in enumerate(zip(row, widths, strict=True))
                ).rstrip()
            )
        if e.confusions:
            lines.append("")
            lines.append("most frequent confusions (class folder -> predicted at top-1):")
            for c in e.confusions:
                lines.append(
                    f"  {c.count:>5}  {c.folder} -> {c.predicted_index} {c.predicted_label}"
                )
        if e.failures:
            lines.append("")
            lines.append(f"{_count(e.images_failed, 'image')} could not be evaluated:")
            for f in e.failures[:_SHOWN_FAILURES]:
                lines.append(f"  {f.image}: {f.error}")
            if e.images_failed > _SHOWN_FAILURES:
                lines.append(f"  ... and {e.images_failed - _SHOWN_FAILURES} more (--format json)")
        for note in e.notes:
            lines.append(f"note: {note}")
    return "\n".join(lines) + "\n"


def format_csv(evaluations: Sequence[Evaluation]) -> str:
    """One ``(all)`` row per model, then one row per class folder (``CSV_COLUMNS``)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(CSV_COLUMNS), lineterminator="\n")
    writer.writeheader()
    for e in evaluations:
        common = {
            "model": e.model,
            "weights": e.weights,
            "runtime": e.runtime,
            "data_fingerprint": e.data_fingerprint,
            "complete": e.complete,
        }
        writer.writerow(
            {
                **common,
                "folder": "(all)",
                "images": e.images_evaluated,
                "top1_pct": e.top1_pct,
                "top5_pct": e.top5_pct,
                "images_failed": e.images_failed,
                "images_per_s": e.images_per_s,
            }
        )
        for s in e.per_class:
            writer.writerow(
                {
                    **common,
                    "folder": s.folder,
                    "imagenet_index": s.index,
                    "imagenet_label": s.label,
                    "images": s.images,
                    "top1_pct": s.top1_pct,
                    "top5_pct": s.top5_pct,
                }
            )
    return buffer.getvalue()


def _write(evaluations: Sequence[Evaluation], fmt: str, out: TextIO) -> None:
    if fmt == "json":
        records: list[dict[str, Any]] = [e.to_dict() for e in evaluations]
        out.write(strict_dumps(records, indent=2, ensure_ascii=False) + "\n")
    elif fmt == "csv":
        out.write(format_csv(evaluations))
    else:
        out.write(format_table(evaluations))


# --------------------------------------------------------------------------- running


def _check(args: argparse.Namespace) -> None:
    check_runtime(args.runtime)
    if args.weights is not None and len(args.model) > 1:
        raise ZooError("--weights applies to one model; give a single --model with it")
    for name, value in (("--threads", args.threads), ("--workers", args.workers)):
        if value is not None and value < 1:
            raise ZooError(f"{name} must be at least 1, got {value}")
    if not 1 <= args.batch_size <= 1024:
        raise ZooError(f"--batch-size must be from 1 to 1024, got {args.batch_size}")


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Evaluate each ``--model`` on ``DIR``; print; store complete results; exit status."""
    from zoo.classify.classifier import get_classifier
    from zoo.classify.evaluate import evaluate
    from zoo.classify.imagefolder import scan_folder
    from zoo.classify.imagenet_classes import read_class_map
    from zoo.weights.hub import hub_offline
    from zoo.weights.sources import NoWeightsError, available_weights, how_to_get_weights

    out = out or sys.stdout
    _check(args)
    models = list(dict.fromkeys(args.model))
    for name in models:  # unknown names; offline, models without weights: before any work
        if available_weights(name) is None and args.weights is None and hub_offline():
            raise NoWeightsError(how_to_get_weights(name))
    class_map = read_class_map(args.class_map) if args.class_map else None
    folder = scan_folder(args.folder, class_map=class_map, limit=args.limit)
    folder, calibration = calibration_for(args, folder)
    store = None
    if not args.no_store:
        from zoo.store.measurement_store import MeasurementStore

        store = MeasurementStore(args.store)  # a foreign file is refused before any work
    if args.threads is not None:
        import torch

        torch.set_num_threads(args.threads)
    results: list[Evaluation] = []
    interrupted = False
    try:
        for name in models:
            try:
                classifier = get_classifier(
                    name, args.weights, args.runtime, args.precision, calibration
                )
            except KeyboardInterrupt:  # while loading: report what is done
                interrupted = True
                break
            result = _evaluate_one(classifier, folder, args, evaluate)
            results.append(result)
            if not result.complete:
                interrupted = True
                break
            if store is not None:
                store.put_evaluation(result)
                if not args.no_latency:
                    queue_latency(store, result)
    finally:
        if store is not None:
            store.close()
    _write(results, args.format, out)
    if interrupted:
        print(
            "interrupted: a partial result is marked complete=false and was not stored",
            file=sys.stderr,
        )
        return 130
    return 0 if all(r.images_evaluated for r in results) else 1


def _evaluate_one(classifier, folder, args: argparse.Namespace, evaluate) -> Evaluation:
    progress = None
    if not args.no_progress:
        from tqdm import tqdm

        progress = tqdm(
            total=len(folder.images),
            file=sys.stderr,
            unit="img",
            desc=classifier.model_name,
            leave=False,
        )

    def on_batch(read: int, evaluated: int, correct: int) -> None:
        if progress is not None:
            progress.update(read - progress.n)
            if evaluated:
                progress.set_postfix_str(f"top-1 {100.0 * correct / evaluated:.1f} %")

    try:
        return evaluate(
            classifier,
            folder,
            runtime=args.runtime,
            batch_size=args.batch_size,
            decode_workers=args.workers,
            on_batch=on_batch,
        )
    finally:
        if progress is not None:
            progress.close()
