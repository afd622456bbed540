"""``python -m zoo classify IMAGE... --model NAME``: classify images with real ImageNet weights.

Output is a table (default) or JSON: a list with one object per image, in argument order, with
the keys ``image``, ``model``, ``weights`` (the source of the weights), ``top`` (a list of
``index``, ``label``, ``probability``) and ``error`` (null, or why that image was not classified).

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
import sys
from dataclasses import asdict
from typing import TextIO

from zoo.classify_runtimes import CLASSIFY_RUNTIMES
from zoo.errors import ZooError
from zoo.jsontext import strict_dumps

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
        default="eager",
        metavar="RUNTIME",
        help=f"{', '.join(CLASSIFY_RUNTIMES)} (default eager); an ONNX runtime is used only "
        "after its logits matched eager PyTorch's on the bundled photos",
    )
    parser.set_defaults(handler=run)


def results_to_json(results: list) -> list[dict]:
    """The JSON form: one object per image with image, model, weights, top, error."""
    return [
        {
            "image": result.image,
            "model": result.model,
            "weights": result.weights,
            "top": [asdict(prediction) for prediction in result.top],
            "error": result.error,
        }
        for result in results
    ]


def format_table(results: list) -> str:
    """A plain-text table: a header line per image, then one row per class."""
    lines: list[str] = []
    if results:
        lines.append(f"model: {results[0].model}")
        lines.append(f"weights: {results[0].weights}")
    for result in results:
        lines.append("")
        lines.append(result.image)
        if result.error is not None:
            lines.append(f"  error: {result.error}")
            continue
        for rank, prediction in enumerate(result.top, start=1):
            lines.append(
                f"  {rank:>2}. {prediction.probability:7.2%}  {prediction.index:>5}  {prediction.label}"
            )
    return "\n".join(lines)


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Classify ``args.images``; print the results; return the exit status (see the module doc)."""
    from zoo.classify import classify

    out = out or sys.stdout
    if args.top < 1:
        raise ZooError(f"--top must be at least 1, got {args.top}")
    results = classify(
        args.images, args.model, weights_path=args.weights, top_k=args.top, runtime=args.runtime
    )
    if args.format == "json":
        # Built whole before writing, so a refusal never leaves half a document on stdout.
        out.write(strict_dumps(results_to_json(results), indent=2, ensure_ascii=False))
        out.write("\n")
    else:
        out.write(format_table(results) + "\n")
    return 0 if any(result.error is None for result in results) else 1
