"""A PostgreSQL store URL, parsed once, by libpq's own rules, into a record that shows itself
without the password.

Why libpq's rules: a URL that two parsers read differently (an unencoded ``/``, ``?``, ``#`` or a
second ``@`` in the password) connects as libpq reads it but was redacted as Python read it, and
its errors printed the password. Such a URL is refused, with a message that shows none of it.
Credentials: docs/scale-out.md, 'The store URL and its credentials'.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from zoo.errors import ZooError

__all__ = [
    "POSTGRES_SCHEMES",
    "POSTGRES_URL_FORM",
    "URL_PARAMETERS",
    "StoreURL",
    "is_url",
    "parse_store_url",
    "redact",
]

POSTGRES_SCHEMES = ("postgresql", "postgres")
#: What a store URL looks like, for messages.
POSTGRES_URL_FORM = (
    "postgresql://USER@HOST[:PORT]/DBNAME (the password from PGPASSWORD or ~/.pgpass), or a file "
    "path for an SQLite store"
)
#: libpq parameters a store URL may carry in its query string. Not ``password``: a password in a
#: query string ends up in logs and shell histories like one in the user part.
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
# Characters that end the user part for one parser and not for another when left unencoded.
_AMBIGUOUS = re.compile(r"[/?#@]")


@dataclass(frozen=True)
class StoreURL:
    """A store URL as libpq reads it. ``url`` connects (it may hold a password: never print
    it); ``printable`` is what messages show; ``secrets`` are the strings no output may hold."""

    url: str = field(repr=False)
    user: str
    host: str
    port: int | None
    dbname: str
    has_password: bool
    secrets: tuple[str, ...] = field(default=(), repr=False)

    @property
    def printable(self) -> str:
        user = quote(self.user, safe="") + (":***" if self.has_password else "")
        host = f"[{self.host}]" if ":" in self.host else self.host
        port = f":{self.port}" if self.port is not None else ""
        return f"postgresql://{user}{'@' if user else ''}{host}{port}/{quote(self.dbname, safe='')}"

    def scrub(self, text: str) -> str:
        """``text`` with every secret replaced by ``***``."""
        for secret in sorted(self.secrets, key=len, reverse=True):
            text = text.replace(secret, "***")
        return text


def is_url(location: object) -> bool:
    """Whether a ``--store`` value is a URL (``scheme://...``) rather than a path."""
    return isinstance(location, str) and "://" in location


def _secrets_of(userinfo: str) -> tuple[str, ...]:
    """Every string a password in ``userinfo`` (the text before the host) could be, encoded and
    decoded, and its pieces between the characters parsers split on (3 characters or more)."""
    password = userinfo.partition(":")[2]
    pieces = {password, unquote(password)}
    for text in list(pieces):
        pieces.update(re.split(r"[/?#@:]", text))
    return tuple(p for p in pieces if len(p) >= 3)


def _refuse(scheme: str, what: str) -> ZooError:
    # The URL itself is never repeated: it may hold a password, and this one is malformed.
    return ZooError(
        f"store URL ({scheme}://…, not shown: it may hold a password) is not usable: {what}; "
        f"accepted: {POSTGRES_URL_FORM}"
    )


def parse_store_url(url: str) -> StoreURL:
    """``url`` as libpq reads it, or a one-line ``ZooError`` that contains no part of it.

    >>> parse_store_url("postgresql://zoo:s3cret@db.example:5432/effscale").printable
    'postgresql://zoo:***@db.example:5432/effscale'
    >>> parse_store_url("postgresql://rt:se/cret@127.0.0.1:5432/db")
    Traceback (most recent call last):
    ...
    zoo.errors.ZooError: store URL (postgresql://…, not shown: it may hold a password) is not usable: a '/', '?', '#' or '@' in the user name or password is not percent-encoded (%2F, %3F, %23, %40), so it reads two ways; accepted: postgresql://USER@HOST[:PORT]/DBNAME (the password from PGPASSWORD or ~/.pgpass), or a file path for an SQLite store
    """
    scheme, sep, rest = str(url).partition("://")
    scheme = scheme.lower()
    if not sep or scheme not in POSTGRES_SCHEMES:
        shown = scheme if scheme.isalnum() and len(scheme) <= 20 else "?"
        raise _refuse(shown, f"the scheme {shown!r} is not supported (only PostgreSQL servers are)")
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
    userinfo = authority.rpartition("@")[0]
    secrets = _secrets_of(userinfo) if "@" in rest else ()
    if "@" in rest and (
        "@" in userinfo or _AMBIGUOUS.search(rest[: rest.rfind("@")]) or not authority.count("@")
    ):
        raise _refuse(
            scheme,
            "a '/', '?', '#' or '@' in the user name or password is not percent-encoded "
            "(%2F, %3F, %23, %40), so it reads two ways",
        )
    try:
        parts = urlsplit(url)
    except ValueError:  # a bracket without its partner, ...
        raise _refuse(scheme, "it is not a URL (the host part cannot be read)") from None
    try:
        port = parts.port
    except ValueError:
        port = -1
    if port is not None and not 1 <= port <= 65535:
        raise _refuse(scheme, "the port is not a number from 1 to 65535")
    if not parts.hostname:
        raise _refuse(scheme, "the host is missing")
    database = parts.path[1:] if parts.path.startswith("/") else parts.path
    if not database or "/" in database:
        raise _refuse(
            scheme, "the database name is missing" if not database else "the path is not a name"
        )
    if parts.fragment:
        raise _refuse(scheme, "a #fragment means nothing here")
    try:
        params = parse_qsl(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    except ValueError:
        raise _refuse(scheme, "the query string is not NAME=VALUE pairs") from None
    unknown = sorted({name for name, _ in params} - set(URL_PARAMETERS))
    if unknown:
        shown = unknown[0] if unknown[0].isidentifier() and len(unknown[0]) <= 40 else "?"
        raise _refuse(
            scheme,
            f"the parameter {shown!r} is not accepted here (accepted parameters: "
            f"{', '.join(URL_PARAMETERS)})",
        )
    parsed = _libpq(url, scheme)
    ours = {
        "user": unquote(parts.username or ""),
        "host": parts.hostname or "",
        "port": str(port) if port is not None else "",
        "dbname": unquote(database),
    }
    theirs = {key: parsed.get(key, "") for key in ours}
    theirs["host"] = theirs["host"].lower()  # host names are case-blind; urlsplit lowers them
    if theirs != ours or (parsed.get("password") or "") != unquote(parts.password or ""):
        raise _refuse(scheme, "libpq reads its user, password, host, port or database otherwise")
    return StoreURL(
        url=url,
        user=ours["user"],
        host=ours["host"].lower(),
        port=port,
        dbname=ours["dbname"],
        has_password=bool(parsed.get("password")),
        secrets=secrets,
    )


def _libpq(url: str, scheme: str) -> dict[str, str]:
    """libpq's own reading of ``url`` (``PQconninfoParse`` through psycopg)."""
    try:
        from psycopg.conninfo import conninfo_to_dict
    except ImportError:  # pragma: no cover - psycopg is in requirements.txt
        raise ZooError(
            "cannot use a PostgreSQL store: the package psycopg is not installed"
        ) from None
    try:
        return {k: str(v) for k, v in conninfo_to_dict(url).items()}
    except Exception:  # noqa: BLE001 - libpq's message would quote the URL
        raise _refuse(scheme, "libpq cannot read it") from None


def redact(location: str) -> str:
    """What a message may show of a ``--store`` value: a path as it is, a URL as libpq reads it
    without its password, or ``postgresql://…`` for a URL that cannot be read.

    >>> redact("postgresql://me:secret@db.example:5432/zoo")
    'postgresql://me:***@db.example:5432/zoo'
    >>> redact("postgresql://me:p@ss@[::1/zoo")
    'postgresql://… (not shown: it may hold a password)'
    """
    if not is_url(location):
        return str(location)
    try:
        return parse_store_url(location).printable
    except ZooError:
        return "postgresql://… (not shown: it may hold a password)"
