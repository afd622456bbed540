"""The database under the measurement store: SQLite (the default, a file) or PostgreSQL (a
shared server), behind one small interface so that the store and the job queue write their SQL
once.

The store (``zoo.store.open_database``) takes what ``--store`` / ``EFFSCALE_STORE`` give: a file
path (or nothing: the per-user default) for SQLite (``zoo.db_sqlite``), or a URL
``postgresql://user@host:port/dbname`` for PostgreSQL (``zoo.db_postgres``). SQL is written with ``?`` placeholders and ``{id}`` / ``{float}`` in table
definitions; each backend turns them into its own. What differs beyond that is said by the
backend: how a write transaction starts (SQLite takes the write lock at once, ``BEGIN
IMMEDIATE``), how a row is taken without waiting for another taker (PostgreSQL's ``FOR UPDATE
SKIP LOCKED``), and the lock that lets one job worker serve a store (a file lock beside the
SQLite file; a PostgreSQL advisory lock).

A store URL is validated here, at the boundary, and never printed with its password:
``printable`` is what messages show.
"""

from __future__ import annotations

import abc
import contextlib
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

__all__ = ["POSTGRES_SCHEMES", "Database", "is_url", "redact"]

POSTGRES_SCHEMES = ("postgresql", "postgres")


def is_url(location: object) -> bool:
    """Whether a ``--store`` value is a URL (``scheme://...``) rather than a path."""
    return isinstance(location, str) and "://" in location


def redact(url: str) -> str:
    """The URL without its password, for messages.

    >>> redact("postgresql://me:secret@db.example:5432/zoo")
    'postgresql://me:***@db.example:5432/zoo'
    """
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


class Database(abc.ABC):
    """One connection to the store's database, safe to share between threads."""

    #: ``sqlite`` or ``postgresql``.
    dialect: str
    #: Appended to a ``SELECT`` that picks a row to take: PostgreSQL skips rows another
    #: transaction has locked; SQLite's write transaction already excludes everyone.
    skip_locked: str = ""
    #: What messages show for the location (a path, or a URL without its password).
    printable: str

    @abc.abstractmethod
    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one statement (``?`` placeholders); the rows it returns (empty for none)."""

    @abc.abstractmethod
    def transaction(self) -> contextlib.AbstractContextManager[None]:
        """A write transaction: committed on success, rolled back on an exception."""

    @abc.abstractmethod
    def worker_lock(self) -> contextlib.AbstractContextManager[bool]:
        """Try to become the one job worker of this store: yields whether we are."""

    @abc.abstractmethod
    def close(self) -> None: ...

    def ddl(self, template: str) -> str:
        """A table definition with this backend's identity column and float type."""
        return template.format(**self._ddl_words)

    _ddl_words: dict[str, str] = {}
