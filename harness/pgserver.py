"""A real PostgreSQL server for the tests and benchmarks: started from the server binaries on this
machine (Debian's ``postgresql``, which ``make test`` installs when missing), in a fresh data
folder, on a free port of 127.0.0.1 only, and stopped (its folder removed) at the end.

``initdb`` refuses to run as root, so as root the server runs as the ``postgres`` user (which
Debian's package creates) in a folder of its own under the system temporary folder (pytest's
folders are private to root). The superuser ``postgres`` is trusted over the loopback; the role
``PASSWORD_USER`` must give its password (scram-sha-256), for the tests of where passwords come
from. The server never listens beyond 127.0.0.1 and its socket folder.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

__all__ = ["PASSWORD", "PASSWORD_USER", "PostgresServer", "find_bin_dir", "start_server"]

PASSWORD_USER = "effscale_pw"
PASSWORD = "s3cret-Pa55-" + "x" * 8
INSTALL_HINT = (
    "PostgreSQL's server binaries (/usr/lib/postgresql/*/bin/initdb) are missing: `make test` "
    "installs Debian's postgresql package; or run `apt-get install postgresql`"
)


def find_bin_dir() -> Path | None:
    """The newest ``/usr/lib/postgresql/N/bin`` holding ``initdb`` (or ``$EFFSCALE_PG_BIN``)."""
    override = os.environ.get("EFFSCALE_PG_BIN")
    if override:
        return Path(override) if (Path(override) / "initdb").exists() else None
    found = [p.parent for p in Path("/usr/lib/postgresql").glob("*/bin/initdb")]
    found.sort(key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)
    return found[-1] if found else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PostgresServer:
    """A running server: ``url(db)`` names a database on it, ``create_database()`` makes one."""

    base: Path
    bin_dir: Path
    port: int
    run_as: list[str]

    @property
    def data(self) -> Path:
        return self.base / "data"

    def url(self, database: str = "postgres", user: str = "postgres") -> str:
        return f"postgresql://{user}@127.0.0.1:{self.port}/{database}"

    def admin(self, database: str = "postgres"):
        """A psycopg connection as the superuser (autocommit)."""
        import psycopg

        return psycopg.connect(self.url(database), autocommit=True)

    def create_database(self, name: str | None = None) -> str:
        """A new, empty database (owned by the password user too, so it can make tables); its
        URL for the superuser."""
        name = name or f"t_{uuid.uuid4().hex[:12]}"
        with self.admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
            conn.execute(f'GRANT ALL ON DATABASE "{name}" TO {PASSWORD_USER}')
        with self.admin(name) as conn:
            conn.execute(f"GRANT ALL ON SCHEMA public TO {PASSWORD_USER}")
        return self.url(name)

    def _ctl(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*self.run_as, str(self.bin_dir / "pg_ctl"), "-D", str(self.data), *args],
            capture_output=True,
            text=True,
            timeout=120,
        )

    def stop(self) -> None:
        """Stop the server (immediately: nothing in it is kept) and remove its folder."""
        try:
            self._ctl("stop", "-m", "immediate", "-w")
        finally:
            shutil.rmtree(self.base, ignore_errors=True)


def start_server() -> PostgresServer:
    """Start a fresh server on a free port of 127.0.0.1; ``RuntimeError`` with the reason (and
    the install hint when the binaries are missing)."""
    bin_dir = find_bin_dir()
    if bin_dir is None:
        raise RuntimeError(INSTALL_HINT)
    base = Path(tempfile.mkdtemp(prefix="effscale-pg-"))
    run_as: list[str] = []
    try:
        if os.geteuid() == 0:  # initdb refuses root: the server runs as postgres
            user = pwd.getpwnam("postgres")
            os.chown(base, user.pw_uid, user.pw_gid)
            run_as = ["runuser", "-u", "postgres", "--"]
        base.chmod(0o700)
        init = subprocess.run(
            [*run_as, str(bin_dir / "initdb"), "-D", str(base / "data"), "-U", "postgres",
             "-A", "trust", "--no-sync", "-E", "UTF8", "--locale", "C"],
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        if init.returncode != 0:
            raise RuntimeError(f"initdb failed: {init.stderr.strip() or init.stdout.strip()}")
        hba = (
            "local all all trust\n"
            "host all postgres 127.0.0.1/32 trust\n"
            "host all all 127.0.0.1/32 scram-sha-256\n"
        )
        (base / "data" / "pg_hba.conf").write_text(hba)
        last = ""
        for _ in range(5):  # a free port can be taken between finding it and binding it
            server = PostgresServer(base, bin_dir, _free_port(), run_as)
            options = (
                f"-p {server.port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off "
                "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
            )
            started = server._ctl("-o", options, "-l", str(base / "log"), "-w", "-t", "60", "start")
            if started.returncode == 0:
                break
            last = (base / "log").read_text() if (base / "log").exists() else started.stderr
        else:
            raise RuntimeError(f"the PostgreSQL server did not start: {last.strip()[-2000:]}")
        with server.admin() as conn:
            conn.execute(f"CREATE ROLE {PASSWORD_USER} LOGIN PASSWORD '{PASSWORD}'")
        return server
    except BaseException:
        with contextlib.suppress(Exception):
            subprocess.run(
                [*run_as, str(bin_dir / "pg_ctl"), "-D", str(base / "data"), "stop", "-m",
                 "immediate"], capture_output=True, timeout=60,
            )  # fmt: skip
        shutil.rmtree(base, ignore_errors=True)
        raise
