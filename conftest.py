"""Every test session keeps its files in one sandbox of its own, removed at the end.

Set before any test (and any process a test starts) runs: ``TMPDIR``, ``HOME`` and ``XDG_*``
point into a fresh folder, so nothing a test, a library (Inductor's cache, OpenVINO's and ONNX
Runtime's telemetry ids, matplotlib's font cache, Ray's session folder) or a server (PostgreSQL's
data and socket, Streamlit, Chromium's profile) writes reaches ``/tmp`` or the user's home, and
nothing already there is read. ``EFFSCALE_KEEP_TEST_TMP=1`` keeps the folder for a post-mortem.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

#: The environment variables a session points into its sandbox (name → sub-folder).
SANDBOXED = {
    "TMPDIR": "t",
    "HOME": "home",
    "XDG_CACHE_HOME": "home/.cache",
    "XDG_CONFIG_HOME": "home/.config",
    "XDG_DATA_HOME": "home/.local/share",
    "XDG_STATE_HOME": "home/.local/state",
    "RAY_TMPDIR": "t",
}
_OWNER_ENV = "EFFSCALE_TEST_SANDBOX"


def _make_sandbox() -> Path | None:
    """The sandbox, made and entered by this process; None when a parent session made it (a
    pytest run started by a test shares its parent's sandbox and leaves its removal to it)."""
    if os.environ.get(_OWNER_ENV):
        return None
    # A short name: Ray's and PostgreSQL's Unix sockets live under it (108-byte path limit).
    root = Path(tempfile.mkdtemp(prefix="es-"))
    root.chmod(0o711)  # PostgreSQL runs as its own user and must reach its folder inside
    for name, sub in SANDBOXED.items():
        folder = root / sub
        folder.mkdir(parents=True, exist_ok=True)
        os.environ[name] = str(folder)
    (root / "t").chmod(0o1777)  # like /tmp: other users' processes (postgres, nobody) write here
    os.environ[_OWNER_ENV] = str(root)
    tempfile.tempdir = None  # computed again from TMPDIR
    return root


def _remove(root: Path) -> None:
    if os.environ.get("EFFSCALE_KEEP_TEST_TMP") != "1":
        shutil.rmtree(root, ignore_errors=True)


_SANDBOX = _make_sandbox()
if _SANDBOX is not None:
    # At exit, registered before multiprocessing is imported: its own exit handler (which
    # removes its folder inside ours) runs first.
    atexit.register(_remove, _SANDBOX)
