#!/usr/bin/env python3
"""What a run left behind in the shared temporary folder and the user's home.

``leftovers.py snapshot FILE`` records what is there now; ``leftovers.py compare FILE`` lists
what appeared since and exits 1 naming it. Looked at: the temporary folder (``$TMPDIR``, else
``/tmp``) two levels deep (Ray's ``/tmp/ray``, Inductor's ``torchinductor_*``, the zoo's logs,
pytest's folders, servers' sockets), and ``$HOME`` with its ``.cache``, ``.config`` and
``.local`` trees (and the ``XDG_*`` folders) three levels deep (the zoo's cache and store,
runtimes' telemetry ids). pip's own cache (``~/.cache/pip``) is allowed: installing the project
is not a test.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

ALLOWED = tuple(
    {
        Path.home() / ".cache" / "pip",
        Path(os.environ.get("XDG_CACHE_HOME") or "/nonexistent") / "pip",
    }
)


def _walk(root: Path, depth: int) -> set[str]:
    found: set[str] = set()
    if depth == 0 or not root.is_dir() or root.is_symlink():
        return found
    try:
        children = list(root.iterdir())
    except OSError:
        return found
    for child in children:
        found.add(str(child))
        found |= _walk(child, depth - 1)
    return found


def listing() -> set[str]:
    tmp = Path(os.environ.get("TMPDIR") or "/tmp")
    home = Path.home()
    paths = _walk(tmp, 2) | _walk(home, 1)
    for sub in (".cache", ".config", ".local"):
        paths |= _walk(home / sub, 3)
    for name in ("XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME"):
        if os.environ.get(name):
            paths |= _walk(Path(os.environ[name]), 3)
    return paths


def _allowed(path: str) -> bool:
    # The allowed folder, what is inside it, and the folders above it made only to hold it.
    p = Path(path)
    return any(p == a or a in p.parents or p in a.parents for a in ALLOWED)


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[1] not in ("snapshot", "compare"):
        print("usage: leftovers.py snapshot|compare FILE", file=sys.stderr)
        return 2
    record = Path(argv[2])
    if argv[1] == "snapshot":
        record.write_text(json.dumps(sorted(listing())))
        return 0
    before = set(json.loads(record.read_text()))
    left = sorted(p for p in listing() - before if not _allowed(p))
    if left:
        print(f"the run left {len(left)} path(s) outside its own temporary folders:")
        for path in left[:50]:
            print(f"  {path}")
        return 1
    print("nothing left behind in the temporary folder or the home folder")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
