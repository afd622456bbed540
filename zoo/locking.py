"""One measurement at a time on this machine: a thread lock for this process and a file lock
for every process of this user, so two measurements never time each other.

One lock for the whole machine, not one per store: two runs writing to different stores would
still share the cores. A caller that has to wait is told so (``on_wait``), and anyone can ask
whether a measurement is running (``measurement_in_progress``) without taking the lock.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

__all__ = ["lock_file_held", "lock_path", "measurement_in_progress", "measurement_lock"]

_THREAD_LOCK = threading.Lock()


def lock_path() -> Path:
    """The inter-process lock file: ``$EFFSCALE_LOCK``, else one per user in the temp folder."""
    override = os.environ.get("EFFSCALE_LOCK")
    if override:
        return Path(override).expanduser()
    uid = os.getuid() if hasattr(os, "getuid") else 0
    return Path(tempfile.gettempdir()) / f"effscale-measure-{uid}.lock"


@contextlib.contextmanager
def measurement_lock(on_wait: Callable[[], None] | None = None) -> Iterator[bool]:
    """Hold the thread lock and the file lock; call ``on_wait`` once if we had to wait.

    Yields whether we waited (someone else measured meanwhile: the caller may find its result
    already stored).
    """
    waited = False

    def waiting() -> None:
        nonlocal waited
        if not waited and on_wait is not None:
            on_wait()
        waited = True

    if not _THREAD_LOCK.acquire(blocking=False):
        waiting()
        _THREAD_LOCK.acquire()
    try:
        try:
            import fcntl
        except ImportError:  # not POSIX: the thread lock alone
            yield waited
            return
        with open(lock_path(), "a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                waiting()
                fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield waited
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
    finally:
        _THREAD_LOCK.release()


def measurement_in_progress() -> bool:
    """Whether a measurement is running now, in this process or in any other on this machine."""
    return _THREAD_LOCK.locked() or lock_file_held(lock_path())


def lock_file_held(path: Path) -> bool:
    """Whether some process holds the measurement lock file at ``path`` (a non-blocking probe)."""
    try:
        import fcntl
    except ImportError:
        return False
    if not path.exists():
        return False
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
    return False
