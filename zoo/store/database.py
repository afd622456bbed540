"""The database under the measurement store: SQLite (the default, a file) or PostgreSQL (a shared
server), behind one small interface.

Why: the store and the job queue write their SQL once (``?`` placeholders, ``{id}`` and
``{float}`` in table definitions); each backend says only what differs (starting a write, taking
a row without waiting, serializing schema creation and the one job worker). A store URL is
checked here (``check_postgres_url``) and shown without its password (``printable``).
URLs and credentials: docs/scale-out.md, 'The shared store (PostgreSQL)'.
"""

from __future__ import annotations

import abc
import contextlib
import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from zoo.errors import ZooError

__all__ = [
    "POSTGRES_SCHEMES",
    "POSTGRES_URL_FORM",
    "STORE_HELP",
    "Database",
    "DuplicateKey",
    "check_postgres_url",
    "is_url",
    "redact",
]

POSTGRES_SCHEMES = ("postgresql", "postgres")
#: What a store URL looks like, for messages.
POSTGRES_URL_FORM = (
    "postgresql://USER@HOST[:PORT]/DBNAME (the password from PGPASSWORD or ~/.pgpass), or a file "
    "path for an SQLite store"
)
#: ``--store``'s help, for every command that takes one.
STORE_HELP = (
    "an SQLite file path, or postgresql://USER@HOST[:PORT]/DBNAME for a shared store (the "
    "password from PGPASSWORD or ~/.pgpass); default $EFFSCALE_STORE, else the per-user file"
)
#: libpq connection parameters a store URL may carry in its query string. Not ``password``: a
#: password in a query string ends up in logs and shell histories like one in the netloc, and is
#: not redacted by ``redact``.
URL_PARAMETERS = (
    "application_name",
    "connect_timeout",
    "options",
    "passfile",
    "sslcert",
    "sslkey",
    "sslmode",
    "sslrootcert",
    "target_session_attrs",
)


class DuplicateKey(ZooError):
    """A write that would break a unique key (another writer got there first): the caller reads
    what is there instead."""


def is_url(location: object) -> bool:
    """Whether a ``--store`` value is a URL (``scheme://...``) rather than a path."""
    return isinstance(location, str) and "://" in location


def redact(url: str) -> str:
    """The URL without its password, for messages.

    >>> redact("postgresql://me:secret@db.example:5432/zoo")
    'postgresql://me:***@db.example:5432/zoo'
    >>> redact("postgresql://me:p@ss@[::1/zoo")  # not even a URL: still no password
    'postgresql://me:***@[::1/zoo'
    """
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return re.sub(r"(//[^/?#]*?:)[^/?#]*@", r"\1***@", url, count=1)
    if password is None:
        return url
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user = userinfo.split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{hostport}"))


def check_postgres_url(url: str) -> str:
    """``url`` if it names a PostgreSQL database completely (scheme, host, a port number if any,
    the database name; only known libpq parameters), else a one-line ``ZooError`` naming what
    is accepted.

    >>> check_postgres_url("postgresql://zoo@db.example:5432/effscale")
    'postgresql://zoo@db.example:5432/effscale'
    >>> check_postgres_url("postgresql://db.example:54x/effscale")
    Traceback (most recent call last):
    ...
    zoo.errors.ZooError: store postgresql://db.example:54x/effscale is not usable: the port is not a number from 1 to 65535; accepted: postgresql://USER@HOST[:PORT]/DBNAME (the password from PGPASSWORD or ~/.pgpass), or a file path for an SQLite store
    """

    def refuse(what: str) -> ZooError:
        return ZooError(f"store {redact(url)} is not usable: {what}; accepted: {POSTGRES_URL_FORM}")

    try:
        parts = urlsplit(url)
    except ValueError as exc:  # a bracket without its partner, ...
        raise refuse(f"it is not a URL ({exc})") from None
    if parts.scheme.lower() not in POSTGRES_SCHEMES:
        raise refuse(f"the scheme {parts.scheme!r} is not supported (only PostgreSQL servers are)")
    try:
        port = parts.port
    except ValueError:
        port = -1
    if port is not None and not 1 <= port <= 65535:
        raise refuse("the port is not a number from 1 to 65535")
    if not parts.hostname:
        raise refuse("the host is missing")
    database = parts.path[1:] if parts.path.startswith("/") else parts.path
    if not database or "/" in database:
        raise refuse("the database name is missing" if not database else "the path is not a name")
    if parts.fragment:
        raise refuse("a #fragment means nothing here")
    try:
        params = parse_qsl(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    except ValueError:
        raise refuse("the query string is not NAME=VALUE pairs") from None
    unknown = sorted({name for name, _ in params} - set(URL_PARAMETERS))
    if unknown:
        raise refuse(
            f"the parameter {unknown[0]!r} is not accepted here (accepted parameters: "
            f"{', '.join(URL_PARAMETERS)})"
        )
    return url


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
    def worker_lock(self) -> contextlib.AbstractContextManager[bool]:
        """Try to become the one job worker of this store: yields whether we are."""

    @abc.abstractmethod
    def close(self) -> None: ...

    def ddl(self, template: str) -> str:
        """A table definition with this backend's identity column and float type."""
        return template.format(**self._ddl_words)

    _ddl_words: dict[str, str] = {}
