"""``python -m zoo classify IMAGE... --model NAME``: classify images with real ImageNet weights.

Output is a table or strict JSON, one result per image in argument order; ``--cam OUT_DIR`` adds
a Grad-CAM overlay of each image's top class. Why a failed image is an entry, not a failure: one
bad file among many is reported in the output, and only bad arguments exit with status 2.
Exit statuses: docs/weights.md, 'Exit statuses of python -m zoo classify'; the JSON keys:
docs/architecture.md, 'Notes by module'.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from dataclasses import asdict, dataclass
from typing import Any, TextIO

from zoo.errors import ZooError
from zoo.files import display_name, write_replacing
from zoo.jsontext import strict_dumps
from zoo.records.runtimes import REFERENCE_RUNTIME, classify_runtimes

#: Exit status: images were classified and printed, but some overlays could not be written.
PARTIAL = 3
#: The precisions classification runs at (fp16 needs CUDA, which classification does not use).
CLASSIFY_PRECISIONS = ("fp32", "bf16", "int8")

__all__ = ["add_parsers", "format_table", "results_to_json", "run"]


def add_parsers(subparsers: argparse._SubParsersAction) -> None:
    """Register the ``classify`` subcommand."""
    parser = subparsers.add_parser(
        "classify",
        help="classify images with pretrained ImageNet weights (offline for tf_efficientnet_lite0-2)",
        description="Classify images with real ImageNet weights (see docs/weights.md for sources).",
        epilog="exit status: 0 when at least one image was classified, 1 when every image "
        "failed, 2 for bad arguments (unknown model, --top out of range, unusable weights, "
        f"no weights for the model), {PARTIAL} when images were classified but some --cam "
        "overlays could not be written",
    )
    parser.add_argument("images", nargs="+", metavar="IMAGE", help="image files (JPEG, PNG, ...)")
    parser.add_argument(
        "--model", required=True, metavar="NAME", help="timm model name, e.g. tf_efficientnet_lite0"
    )
    parser.add_argument(
        "--weights",
        metavar="PATH",
        default=None,
        help="a .safetensors file or PyTorch state dict to use instead of the default sources",
    )
    parser.add_argument("--top", type=int, default=5, metavar="K", help="top-K classes (default 5)")
    parser.add_argument("--format", choices=("table", "json"), default="table")
    parser.add_argument(
        "--runtime",
        default=REFERENCE_RUNTIME,
        metavar="RUNTIME",
        help=f"{', '.join(classify_runtimes())} (default {REFERENCE_RUNTIME}); an ONNX runtime "
        "is used only after its logits matched eager PyTorch's on the bundled photos",
    )
    parser.add_argument(
        "--precision",
        choices=CLASSIFY_PRECISIONS,
        default="fp32",
        help="fp32 (default), bf16 (eager autocast, OpenVINO's hint; needs a CPU with bf16) or "
        "int8 (onnxruntime/openvino, with --calibration DIR); a reduced precision also runs "
        "eager fp32 on the same images and prints how many top-1 classes agree",
    )
    parser.add_argument(
        "--calibration",
        metavar="DIR",
        default=None,
        help="int8 only: a folder of images to calibrate the quantization on (300 are used)",
    )
    parser.add_argument(
        "--cam",
        metavar="OUT_DIR",
        default=None,
        help="write a Grad-CAM overlay of each image's top class (PNG) into OUT_DIR: where the "
        "model looks, an explanation aid, not ground truth",
    )
    parser.set_defaults(handler=run)


def results_to_json(
    results: list, cams: list[str | None] | None = None, agreement: Agreement | None = None
) -> list[dict]:
    """The JSON form: one object per image with image, model, weights, top, error (and cam,
    the overlay's path, when ``cams`` is given; precision and agrees_with_fp32, eager fp32's
    top-1 against this one's, at a reduced precision)."""
    out = []
    for position, result in enumerate(results):
        record = {
            "image": result.image,
            "model": result.model,
            "weights": result.weights,
            "top": [asdict(prediction) for prediction in result.top],
            "error": result.error,
        }
        if cams is not None:
            record["cam"] = cams[position]
        if agreement is not None:
            record["precision"] = agreement.precision
            record["agrees_with_fp32"] = agreement.agrees[position]
        out.append(record)
    return out


def format_table(
    results: list, cams: list[str | None] | None = None, agreement: Agreement | None = None
) -> str:
    """A plain-text table: a header line per image, then one row per class."""
    lines: list[str] = []
    if results:
        lines.append(f"model: {results[0].model}")
        lines.append(f"weights: {results[0].weights}")
    if agreement is not None:
        lines.append(agreement.line())
    for position, result in enumerate(results):
        lines.append("")
        lines.append(result.image)
        if result.error is not None:
            lines.append(f"  error: {result.error}")
            continue
        for rank, prediction in enumerate(result.top, start=1):
            lines.append(
                f"  {rank:>2}. {prediction.probability:7.2%}  {prediction.index:>5}  {prediction.label}"
            )
        if cams is not None and cams[position] is not None:
            lines.append(f"  where it looks (Grad-CAM, {_note()}): {cams[position]}")
        if agreement is not None and agreement.agrees[position] is False:
            lines.append("  (eager fp32's top-1 differs for this image)")
    return "\n".join(lines)


@dataclass(frozen=True)
class Agreement:
    """A reduced precision's top-1 against eager fp32's on the images classified, and the
    runtime's own check on the bundled photos."""

    precision: str
    ran_as: str  # what the runtime reports it ran in
    agrees: list[bool | None]  # per image (None: the image failed)
    check: str  # the equivalence check's verdict on the bundled photos

    def line(self) -> str:
        scored = [a for a in self.agrees if a is not None]
        share = f" ({100.0 * sum(scored) / len(scored):.0f} %)" if scored else ""
        return (
            f"precision: {self.precision} (ran as {self.ran_as}); top-1 agrees with eager fp32 "
            f"on {sum(scored)} of {len(scored)} images{share}; check: {self.check}"
        )


def _agreement(args: argparse.Namespace, classifier: Any, results: list) -> Agreement:
    """Eager fp32 on the same images: which top-1 classes agree."""
    from zoo.classify.classifier import get_classifier

    reference = get_classifier(args.model, args.weights).classify(args.images, 1)
    agrees: list[bool | None] = []
    for mine, theirs in zip(results, reference, strict=True):
        if mine.error is not None or theirs.error is not None:
            agrees.append(None)
        else:
            agrees.append(mine.top[0].index == theirs.top[0].index)
    check = classifier.check
    verdict = "no check (eager is the reference)" if check is None else check.reason
    return Agreement(args.precision, classifier.ran_as, agrees, verdict)


def _note() -> str:
    from zoo.classify.cam import EXPLANATION_NOTE

    return EXPLANATION_NOTE


def _safe(name: str) -> str:
    """A file-name part of letters, digits, dots, dashes and underscores only."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name)


def _cam_dir(path: str) -> str:
    if os.path.exists(path) and not os.path.isdir(path):
        raise ZooError(f"--cam {path} is not a folder; accepted: a folder for the PNG overlays")
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as exc:
        raise ZooError(f"cannot create the --cam folder {path} ({exc.strerror})") from None
    return path


def write_cams(args: argparse.Namespace, results: list) -> tuple[list[str | None], list[str]]:
    """One Grad-CAM overlay PNG per classified image in ``args.cam``: their paths, in order, and
    one line per overlay that could not be written (a full or read-only folder). Each is
    written to a new file renamed into place: a link planted at its name is replaced, never
    followed."""
    import io

    from zoo.classify.cam import activation_map
    from zoo.classify.classifier import get_classifier
    from zoo.classify.images import ImageError

    classifier = get_classifier(args.model, args.weights)
    paths: list[str | None] = []
    problems: list[str] = []
    for position, (source, result) in enumerate(zip(args.images, results, strict=True)):
        if result.error is not None:
            paths.append(None)
            continue
        stem = _safe(os.path.splitext(os.path.basename(source))[0])[:60]
        path = os.path.join(args.cam, f"{position:03d}-{stem}-{_safe(args.model)}-cam.png")
        try:
            overlay = activation_map(classifier, classifier.decode(source)).overlay
        except ImageError:  # changed on disk since it was classified: no overlay for it
            paths.append(None)
            continue
        png = io.BytesIO()
        overlay.save(png, format="PNG")
        try:
            write_replacing(path, png.getvalue())
        except OSError as exc:
            paths.append(None)
            problems.append(
                f"{result.image}: the overlay could not be written to {display_name(path)} "
                f"({exc.strerror or exc})"
            )
            continue
        paths.append(path)
    return paths, problems


def _reduced(args: argparse.Namespace) -> tuple[list, Agreement]:
    """Classify at ``args.precision``, and eager fp32's agreement with it."""
    from zoo.classify.classifier import get_classifier
    from zoo.classify.on_runtime import check_classify_precision
    from zoo.runtimes.calibration import CalibrationSource

    check_classify_precision(args.runtime, args.precision)
    calibration = None
    if args.precision == "int8":
        if args.calibration is None:
            raise ZooError(
                "int8 needs calibration images: give --calibration DIR (a folder of images "
                "other than the ones you classify)"
            )
        calibration = CalibrationSource.of_folder(args.calibration)
    classifier = get_classifier(
        args.model, args.weights, args.runtime, precision=args.precision, calibration=calibration
    )
    results = classifier.classify(args.images, args.top)
    return results, _agreement(args, classifier, results)


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Classify ``args.images``; print the results; return the exit status (see the module doc)."""
    from zoo.classify.classifier import classify

    out = out or sys.stdout
    if args.top < 1:
        raise ZooError(f"--top must be at least 1, got {args.top}")
    if args.cam is not None:  # an unsupported family or an unusable folder: before any work
        from zoo.classify.cam import target_layer
        from zoo.classify.classifier import get_classifier

        _cam_dir(args.cam)
        target_layer(get_classifier(args.model, args.weights).model)
    if args.calibration is not None and args.precision != "int8":
        raise ZooError("--calibration is for --precision int8 only")
    if args.precision == "fp32":
        results = classify(
            args.images, args.model, weights_path=args.weights, top_k=args.top, runtime=args.runtime
        )
        agreement = None
    else:
        results, agreement = _reduced(args)
    cams, problems = write_cams(args, results) if args.cam is not None else (None, [])
    if args.format == "json":
        # Built whole before writing, so a refusal never leaves half a document on stdout.
        document = results_to_json(results, cams, agreement)
        out.write(strict_dumps(document, indent=2, ensure_ascii=False))
        out.write("\n")
    else:
        out.write(format_table(results, cams, agreement) + "\n")
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    if not any(result.error is None for result in results):
        return 1
    return PARTIAL if problems else 0
