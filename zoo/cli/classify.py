"""``python -m zoo classify IMAGE... --model NAME``: classify images with real ImageNet weights.

Output is a table (default) or JSON: a list with one object per image, in argument order, with
the keys ``image``, ``model``, ``weights`` (the source of the weights), ``top`` (a list of
``index``, ``label``, ``probability``) and ``error`` (null, or why that image was not classified).

With ``--cam OUT_DIR`` each classified image also gets a Grad-CAM overlay of its top class over
the crop the model sees, written as a PNG into ``OUT_DIR`` (``zoo.cam``; an explanation aid, not
ground truth); each result then has a ``cam`` key with the file's path (null for a failed image).

The JSON is strict (RFC 8259): no ``NaN`` or ``Infinity`` (a classification never reports a
non-finite probability, and ``allow_nan=False`` makes sure of it), and valid UTF-8 whatever the
bytes of the image file names (``zoo.files.display_name`` escapes what is not UTF-8).

Exit status: 0 when at least one image was classified; 1 when every image failed (each failure
is still reported in the output); 2 with one line on stderr for bad arguments: an unknown model
(with close matches), ``--top`` out of range, a weights file that is unsafe, corrupt, not a
regular file, does not fit the model or holds unusable values (NaN, infinities, all zeros), or
no weights at all for the model.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from dataclasses import asdict
from typing import TextIO

from zoo.errors import ZooError
from zoo.jsontext import strict_dumps
from zoo.records.runtimes import REFERENCE_RUNTIME, classify_runtimes

__all__ = ["add_parsers", "format_table", "results_to_json", "run"]


def add_parsers(subparsers: argparse._SubParsersAction) -> None:
    """Register the ``classify`` subcommand."""
    parser = subparsers.add_parser(
        "classify",
        help="classify images with pretrained ImageNet weights (offline for tf_efficientnet_lite0-2)",
        description="Classify images with real ImageNet weights (see docs/weights.md for sources).",
        epilog="exit status: 0 when at least one image was classified, 1 when every image "
        "failed, 2 for bad arguments (unknown model, --top out of range, unusable weights, "
        "no weights for the model)",
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
        "--cam",
        metavar="OUT_DIR",
        default=None,
        help="write a Grad-CAM overlay of each image's top class (PNG) into OUT_DIR: where the "
        "model looks, an explanation aid, not ground truth",
    )
    parser.set_defaults(handler=run)


def results_to_json(results: list, cams: list[str | None] | None = None) -> list[dict]:
    """The JSON form: one object per image with image, model, weights, top, error (and cam,
    the overlay's path, when ``cams`` is given)."""
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
        out.append(record)
    return out


def format_table(results: list, cams: list[str | None] | None = None) -> str:
    """A plain-text table: a header line per image, then one row per class."""
    lines: list[str] = []
    if results:
        lines.append(f"model: {results[0].model}")
        lines.append(f"weights: {results[0].weights}")
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
    return "\n".join(lines)


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


def write_cams(args: argparse.Namespace, results: list) -> list[str | None]:
    """One Grad-CAM overlay PNG per classified image in ``args.cam``; their paths, in order."""
    from zoo.classify.cam import activation_map
    from zoo.classify.classifier import get_classifier
    from zoo.classify.images import ImageError

    classifier = get_classifier(args.model, args.weights)
    paths: list[str | None] = []
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
        overlay.save(path, format="PNG")
        paths.append(path)
    return paths


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
    results = classify(
        args.images, args.model, weights_path=args.weights, top_k=args.top, runtime=args.runtime
    )
    cams = write_cams(args, results) if args.cam is not None else None
    if args.format == "json":
        # Built whole before writing, so a refusal never leaves half a document on stdout.
        out.write(strict_dumps(results_to_json(results, cams), indent=2, ensure_ascii=False))
        out.write("\n")
    else:
        out.write(format_table(results, cams) + "\n")
    return 0 if any(result.error is None for result in results) else 1
