"""Where the zoo keeps its files on this machine: one home for every default location.

The store and the measurement lock live in the user's private data folder (mode 0700); exported
and compiled models are a cache that may be deleted at any time. Why one home: each location is
decided in one place and moves with one environment variable (``EFFSCALE_STORE``,
``EFFSCALE_LOCK``, ``EFFSCALE_CACHE``); nothing here touches the disk until a path is asked for.
The locations: docs/architecture.md, 'Where things are kept'.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = [
    "STORE_ENV",
    "artifact_dir",
    "data_dir",
    "default_lock_path",
    "default_store_path",
    "log_dir",
    "project_root",
]

#: Where the measurement store is, when ``--store`` does not say: a path, or a PostgreSQL URL
#: (``zoo.store.schema.open_database`` tells them apart).
STORE_ENV = "EFFSCALE_STORE"


def project_root() -> Path:
    """The folder that holds the ``zoo`` package: what a process we start (a worker, a fork
    server, a cluster dispatch) puts on its path to import this very checkout."""
    return Path(__file__).resolve().parent.parent


def data_dir() -> Path:
    """``$XDG_DATA_HOME/effscale`` or ``~/.local/share/effscale`` (not created here)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base).expanduser() / "effscale"


def default_store_path() -> Path:
    """``$EFFSCALE_STORE``, else ``measurements.sqlite`` in the data folder."""
    override = os.environ.get(STORE_ENV)
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


def log_dir() -> Path:
    """``logs`` in the data folder: the logs of the processes the zoo starts (a dashboard's
    worker, a cluster dispatch). Private (``zoo.files.private_dir``): never a shared temporary
    folder, where a predictable name lets another user plant a link."""
    return data_dir() / "logs"


def artifact_dir() -> Path:
    """``$EFFSCALE_CACHE``, else ``$XDG_CACHE_HOME/effscale/artifacts`` or
    ``~/.cache/effscale/artifacts`` (not created here)."""
    override = os.environ.get("EFFSCALE_CACHE")
    if override:
        return Path(override).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "effscale" / "artifacts"
