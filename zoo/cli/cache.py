"""``python -m zoo cache list|clear``: the exported and compiled models the runtimes reuse.

ONNX exports, TensorRT engines and the compiled-kernel caches of torch.compile and OpenVINO are
kept in ``zoo.paths.artifact_dir()`` (``$EFFSCALE_CACHE``, else ``~/.cache/effscale/artifacts``)
so a second measurement does not export or compile again. ``list`` shows what is there;
``clear`` deletes all of it (everything is rebuilt when next needed).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from zoo.measure.memory import format_bytes
from zoo.paths import artifact_dir
from zoo.runtimes.artifacts import clear_artifacts, list_artifacts

__all__ = ["add_parsers"]


def add_parsers(subparsers: Any) -> None:
    """Register ``cache`` on ``python -m zoo``'s subparsers."""
    p = subparsers.add_parser(
        "cache",
        help="list or clear the exported and compiled models the runtimes reuse",
        description=__doc__.splitlines()[0] if __doc__ else None,
    )
    p.add_argument("action", choices=("list", "clear"))
    p.set_defaults(handler=run_cache)


def run_cache(args: argparse.Namespace) -> int:
    root = artifact_dir()
    if args.action == "clear":
        count, size = clear_artifacts()
        print(f"removed {count} files ({format_bytes(size)}) from {root}")
        return 0
    entries = list_artifacts()
    print(f"{root}: {len(entries)} artefacts")
    for e in entries:
        print(f"  {e.kind:<9} {format_bytes(e.size_bytes):>9}  {e.created}  {e.description}")
    if not entries:
        print("  (empty: exports and engines are made on first use)", file=sys.stderr)
    return 0
