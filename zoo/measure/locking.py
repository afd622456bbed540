"""One measurement at a time on this machine: a thread lock for this process and a file lock for
every process of this user, so two measurements never time each other.

Why one lock for all stores, not one per store: two runs writing to different stores would still
share the cores. A caller that has to wait is told so (``on_wait``); ``measurement_in_progress``
asks without taking the lock. Where the lock file lives, and why there: docs/reliability.md,
'Hardening pass (2026-11-30)', finding 8.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from zoo.errors import ZooError
from zoo.paths import default_lock_path

__all__ = ["lock_file_held", "lock_path", "measurement_in_progress", "measurement_lock"]

_THREAD_LOCK = threading.Lock()


def lock_path() -> Path:
    """The inter-process lock file: ``$EFFSCALE_LOCK``, else ``measure.lock`` in the data folder."""
    return default_lock_path()


def _open_lock(path: Path, *, create: bool) -> int | None:
    """A file descriptor on the lock file (None if it does not exist and ``create`` is off)."""
    if create and path == default_lock_path() and not os.environ.get("EFFSCALE_LOCK"):
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    flags = os.O_RDWR | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags | (os.O_CREAT if create else 0), 0o600)
    except FileNotFoundError:
        if not create:
            return None
        raise ZooError(
            f"cannot create the measurement lock {path}: its folder does not exist"
        ) from None
    except OSError as exc:
        why = {
            errno.ELOOP: "it is a symbolic link, which is not followed",
            errno.EISDIR: "it is a directory",
        }.get(exc.errno or 0, exc.strerror or str(exc))
        raise ZooError(
            f"cannot use the measurement lock {path}: {why}; accepted: a regular file path "
            "(EFFSCALE_LOCK, or leave it unset for the private data folder)"
        ) from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise ZooError(
            f"cannot use the measurement lock {path}: it is not a regular file; accepted: a "
            "regular file path (EFFSCALE_LOCK)"
        )
    return fd


@contextlib.contextmanager
def measurement_lock(on_wait: Callable[[], None] | None = None) -> Iterator[bool]:
    """Hold the thread lock and the file lock; call ``on_wait`` once if we had to wait.

    Yields whether we waited.
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
        fd = _open_lock(lock_path(), create=True)
        assert fd is not None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                waiting()
                fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                yield waited
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
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
    try:
        fd = _open_lock(path, create=False)
    except ZooError:
        return False
    if fd is None:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing also drops the shared lock we may have taken
    return False
