"""The measurement store in an SQLite file: the default, nothing to install or start.

WAL mode (readers never block the writer), ``busy_timeout`` (a second writer waits instead of
failing), ``synchronous=NORMAL`` (a killed process loses no commit), and every write transaction
starts with ``BEGIN IMMEDIATE``: the write lock at once, so two processes taking the same job
cannot both think they have it. An existing file is recognised read-only before anything is
written to it; any other file is refused and left as it was. Tested: docs/reliability.md, 'Faults'.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from zoo.errors import ZooError
from zoo.store.database import Database, DuplicateKey, WorkerLock

__all__ = ["APPLICATION_ID", "SQLiteDatabase"]

#: ``PRAGMA application_id`` of our stores ("EFFS"): how a file says it is one.
APPLICATION_ID = int.from_bytes(b"EFFS", "big")
BUSY_TIMEOUT_MS = 30_000


def _unusable(path: Path, exc: object) -> ZooError:
    return ZooError(
        f"cannot use the measurement store at {path}: {exc}; accepted: a writable file path "
        "(set --store PATH or EFFSCALE_STORE)"
    )


class _FileLock(WorkerLock):
    """The worker lock of an SQLite store, tied to the store file as it was when taken."""

    def __init__(self, path: Path, ours: bool) -> None:
        self.path = path
        self.ours = ours
        self._identity = _identity(path)

    def __bool__(self) -> bool:
        return self.ours

    def held(self) -> bool:
        return self.ours and self._identity is not None and _identity(self.path) == self._identity


def _identity(path: Path) -> tuple[int, int] | None:
    """(device, inode) of the file at ``path``, or None when there is none."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_dev, stat.st_ino


class SQLiteDatabase(Database):
    dialect = "sqlite"
    _ddl_words = {"id": "INTEGER PRIMARY KEY", "float": "REAL"}

    def __init__(
        self,
        path: Path,
        *,
        create: bool = True,
        recognise: Callable[[sqlite3.Connection, Path], None] | None = None,
    ) -> None:
        """Open (``create``: or make) the file at ``path``. ``recognise(connection, path)`` is
        called on a read-only connection to an existing, non-empty file and raises ``ZooError``
        for one that is not ours; nothing is written before it has passed."""
        self.path = path
        self.printable = self.location = str(path)
        self._lock = threading.RLock()
        if path.is_dir():
            raise _unusable(path, "it is a directory")
        exists = path.exists()
        if not exists and not create:
            raise ZooError(
                f"cannot use the measurement store at {path}: there is none; accepted: the path "
                "of an existing store (set --store PATH or EFFSCALE_STORE)"
            )
        if exists and path.stat().st_size > 0 and recognise is not None:
            self._recognise(recognise)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(
                path, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False, isolation_level=None
            )
        except (OSError, sqlite3.Error) as exc:
            raise _unusable(path, exc) from None
        try:
            self._conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            mode = self._conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise sqlite3.OperationalError(f"cannot switch to WAL mode (got {mode})")
            self._conn.execute("PRAGMA synchronous = NORMAL")
        except sqlite3.Error as exc:
            self._conn.close()
            raise _unusable(path, exc) from None

    def _recognise(self, recognise: Callable[[sqlite3.Connection, Path], None]) -> None:
        try:
            conn = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True)
        except sqlite3.Error as exc:
            raise ZooError(f"cannot read the measurement store at {self.path}: {exc}") from None
        try:
            recognise(conn, self.path)
        except sqlite3.OperationalError as exc:  # cannot be read here (permissions, read-only)
            raise _unusable(self.path, exc) from None
        finally:
            conn.close()

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        try:
            with self._lock:
                return self._conn.execute(sql, tuple(params)).fetchall()
        except sqlite3.IntegrityError as exc:
            if "UNIQUE" not in str(exc):
                raise _unusable(self.path, exc) from None
            raise DuplicateKey(f"{self.path}: {exc}") from None
        except sqlite3.Error as exc:
            raise _unusable(self.path, exc) from None

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise _unusable(self.path, exc) from None
            try:
                yield
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    self._conn.execute("ROLLBACK")
                raise
            try:
                self._conn.execute("COMMIT")
            except sqlite3.Error as exc:
                with contextlib.suppress(sqlite3.Error):
                    self._conn.execute("ROLLBACK")
                raise _unusable(self.path, exc) from None

    def serialize(self) -> None:
        """Nothing to do: ``BEGIN IMMEDIATE`` already excludes every other writer."""

    @contextlib.contextmanager
    def worker_lock(self) -> Iterator[WorkerLock]:
        """A file lock beside the database (``<store>.worker.lock``), held while we serve;
        ``held()`` is false once the store file we opened is gone or replaced (a worker of a
        deleted store would keep the lock and serve nobody)."""
        try:
            import fcntl
        except ImportError:  # not POSIX: no cross-process lock; act as the one worker
            yield _FileLock(self.path, True)
            return
        lock_path = self.path.with_name(self.path.name + ".worker.lock")
        flags = os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0)
        try:
            fd = os.open(lock_path, flags, 0o600)
        except OSError as exc:
            raise ZooError(f"cannot use the worker lock {lock_path}: {exc.strerror}") from None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield _FileLock(self.path, False)
                return
            try:
                yield _FileLock(self.path, True)
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def close(self) -> None:
        with self._lock:
            self._conn.close()
