"""Where the zoo keeps its files on this machine: one home for every default location.

Everything lives in the user's own data folder (``$XDG_DATA_HOME/effscale``, else
``~/.local/share/effscale``), created private (mode 0700): the measurement store, the
measurement lock. Each can be moved with an environment variable (``EFFSCALE_STORE``,
``EFFSCALE_LOCK``). Nothing here touches the disk until a path is asked for.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["data_dir", "default_lock_path", "default_store_path"]


def data_dir() -> Path:
    """``$XDG_DATA_HOME/effscale`` or ``~/.local/share/effscale`` (not created here)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base).expanduser() / "effscale"


def default_store_path() -> Path:
    """``$EFFSCALE_STORE``, else ``measurements.sqlite`` in the data folder."""
    override = os.environ.get("EFFSCALE_STORE")
    if override:
        return Path(override).expanduser()
    return data_dir() / "measurements.sqlite"


def default_lock_path() -> Path:
    """``$EFFSCALE_LOCK``, else ``measure.lock`` in the data folder.

    Not in a shared temporary folder: there a predictable name lets another local user plant a
    link (the lock would create a file wherever it points) or hold the lock to block everyone.
    """
    override = os.environ.get("EFFSCALE_LOCK")
    if override:
        return Path(override).expanduser()
    return data_dir() / "measure.lock"
