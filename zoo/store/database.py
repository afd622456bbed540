"""The database under the measurement store: SQLite (the default, a file) or PostgreSQL (a shared
server), behind one small interface.

Why: the store and the job queue write their SQL once (``?`` placeholders, ``{id}`` and
``{float}`` in table definitions); each backend says only what differs (starting a write, taking
a row without waiting, serializing schema creation, the one job worker, surviving a lost
connection). Store URLs are parsed in ``zoo.store.url``; docs/scale-out.md has the rest.
"""

from __future__ import annotations

import abc
import contextlib
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from zoo.errors import ZooError

__all__ = ["STORE_HELP", "Database", "DuplicateKey", "WorkerLock"]

#: ``--store``'s help, for every command that takes one.
STORE_HELP = (
    "an SQLite file path, or postgresql://USER@HOST[:PORT]/DBNAME for a shared store (the "
    "password from PGPASSWORD or ~/.pgpass); default $EFFSCALE_STORE, else the per-user file"
)


class DuplicateKey(ZooError):
    """A write that would break a unique key (another writer got there first): the caller reads
    what is there instead."""


T = TypeVar("T")


class WorkerLock(abc.ABC):
    """Being the one job worker of a store: ``bool(lock)`` says whether we got it, ``held()``
    whether we still have it (a restarted server drops it; a deleted store file leaves it on a
    file nobody uses)."""

    @abc.abstractmethod
    def __bool__(self) -> bool: ...

    @abc.abstractmethod
    def held(self) -> bool: ...


class Database(abc.ABC):
    """One connection to the store's database, safe to share between threads."""

    #: ``sqlite`` or ``postgresql``.
    dialect: str
    #: Appended to a ``SELECT`` that picks a row to take: PostgreSQL skips rows another
    #: transaction has locked; SQLite's write transaction already excludes everyone.
    skip_locked: str = ""
    #: What messages show for the location (a path, or a URL without its password).
    printable: str
    #: What opens this database again (a path, or the URL as given: never print it).
    location: str

    @abc.abstractmethod
    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one statement (``?`` placeholders); the rows it returns (empty for none). A write
        that breaks a unique key raises ``DuplicateKey``."""

    @abc.abstractmethod
    def transaction(self) -> contextlib.AbstractContextManager[None]:
        """A write transaction: committed on success, rolled back on an exception."""

    @abc.abstractmethod
    def serialize(self) -> None:
        """Inside a transaction: wait until no other process is inside a serialized transaction
        of this store (creating or migrating the schema)."""

    @abc.abstractmethod
    def worker_lock(self) -> contextlib.AbstractContextManager[WorkerLock]:
        """Try to become the one job worker of this store: yields the lock (false: another
        worker serves it)."""

    def atomic(self, work: Callable[[], T]) -> T:
        """``work()`` inside a write transaction. A backend whose connection can be lost (a
        server restart) runs it once more on a new connection."""
        with self.transaction():
            return work()

    @abc.abstractmethod
    def close(self) -> None: ...

    def ddl(self, template: str) -> str:
        """A table definition with this backend's identity column and float type."""
        return template.format(**self._ddl_words)

    _ddl_words: dict[str, str] = {}
