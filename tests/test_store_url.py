"""Store URLs with passwords in them: parsed by libpq's rules, refused when they read two ways,
and no part of the password in any output: an error, a log, a page, a process's argv.

The corpus is hostile on purpose: passwords with unencoded ``/``, ``?``, ``#``, ``@`` and ``:``,
percent-encoded ones, passwords in the query string, and malformed hosts and ports.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote

import pytest

from zoo.errors import ZooError
from zoo.store.url import parse_store_url, redact

ROOT = Path(__file__).resolve().parent.parent

#: (URL, the password its writer meant) — each password is distinctive, so that any piece of it in
#: an output is found.
HOSTILE = [
    ("postgresql://rt:Secr3tPass@127.0.0.1:1/dash", "Secr3tPass"),
    ("postgresql://rt:se/cretSlash@127.0.0.1:1/db", "se/cretSlash"),
    ("postgresql://rt:se?cretQuery@127.0.0.1:1/db", "se?cretQuery"),
    ("postgresql://rt:a@Tr0ub4dor:3@127.0.0.1:1/db", "a@Tr0ub4dor:3"),
    ("postgresql://rt:Tr0ub@dorXYZ@127.0.0.1:1/db", "Tr0ub@dorXYZ"),
    ("postgresql://rt:hash#tagPw@127.0.0.1:1/db", "hash#tagPw"),
    ("postgresql://rt:enc%40oded%2Fpw@127.0.0.1:1/db", "enc@oded/pw"),
    ("postgresql://rt:colon:Sep4rated@127.0.0.1:1/db", "colon:Sep4rated"),
    ("postgresql://rt@127.0.0.1:1/db?password=QueryPassw0rd", "QueryPassw0rd"),
    ("postgresql://rt:Br4cket@[::1:1/db", "Br4cket"),
    ("postgresql://rt:P0rtless@127.0.0.1:99999/db", "P0rtless"),
    ("postgresql://rt:N0db@127.0.0.1:1/", "N0db"),
    ("postgresql://rt:sp ace pw@127.0.0.1:1/db", "sp ace pw"),
    ("postgres://rt:Sch3meAlias@127.0.0.1:1/db", "Sch3meAlias"),
]


def pieces(password: str) -> set[str]:
    """The password and every piece of it a parser could cut out (3 characters or more)."""
    found = {password, unquote(password)}
    for text in list(found):
        found.update(re.split(r"[/?#@: ]", text))
    return {p for p in found if len(p) >= 3}


def assert_no_password(text: str, password: str) -> None:
    leaked = sorted(p for p in pieces(password) if p in text)
    assert not leaked, f"{leaked} in: {text[:500]}"


@pytest.mark.parametrize("url, password", HOSTILE)
def test_parsing_either_redacts_or_refuses_without_the_password(url, password):
    try:
        parsed = parse_store_url(url)
    except ZooError as exc:
        assert "\n" not in str(exc)
        assert_no_password(str(exc), password)
    else:
        assert "***" in parsed.printable
        assert_no_password(parsed.printable, password)
        assert_no_password(repr(parsed), password)
    assert_no_password(redact(url), password)


@pytest.mark.parametrize(
    "url, printable",
    [
        ("postgresql://zoo:s3cret@db.example:5432/effscale", "postgresql://zoo:***@db.example:5432/effscale"),
        ("postgresql://zoo@db.example/effscale?sslmode=require", "postgresql://zoo@db.example/effscale"),
        ("postgres://zoo:p%40ss@DB.example:6432/z", "postgresql://zoo:***@db.example:6432/z"),
        ("postgresql://zoo:pw@[::1]:5432/effscale", "postgresql://zoo:***@[::1]:5432/effscale"),
    ],
)  # fmt: skip
def test_good_urls_parse_as_libpq_reads_them(url, printable):
    assert parse_store_url(url).printable == printable


@pytest.mark.parametrize("url, password", HOSTILE)
def test_the_cli_never_prints_any_part_of_the_password(url, password, tmp_path):
    env = {**os.environ, "EFFSCALE_LOCK": str(tmp_path / "lock"), "PGCONNECT_TIMEOUT": "2"}
    for argv in (["jobs", "list", "--store", url], ["export", "--store", url]):
        out = subprocess.run(
            [sys.executable, "-m", "zoo", *argv],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert out.returncode == 2, out.stderr
        assert out.stderr.count("\n") == 1, out.stderr
        assert_no_password(out.stdout + out.stderr, password)


# --------------------------------------------------------------------------- a real server


def _password_url(server, database: str, password: str) -> str:
    from harness.pgserver import PASSWORD_USER

    return f"postgresql://{PASSWORD_USER}:{password}@127.0.0.1:{server.port}/{database}"


def page_text(at) -> str:
    """Everything a page sent to the browser: every element's protocol message, as text."""
    found: list[str] = []

    def walk(node) -> None:
        proto = getattr(node, "proto", None)
        if proto is not None:
            found.append(str(proto))
        for child in (getattr(node, "children", None) or {}).values():
            walk(child)

    walk(at._tree)
    return "\n".join(found)


@pytest.mark.server
def test_the_page_never_shows_the_store_password(postgres_server, monkeypatch):
    """A store URL with a password in ``EFFSCALE_STORE``, no worker, a job queued a minute ago:
    the page says how to start a worker, and no part of the password is anywhere on it."""
    from streamlit.testing.v1 import AppTest

    from harness.pgserver import PASSWORD
    from zoo.models.spec import spec_from_phi
    from zoo.records.protocol import Protocol
    from zoo.store.jobs import submit
    from zoo.store.measurement_store import MeasurementStore

    url = _password_url(
        postgres_server, postgres_server.create_database().rsplit("/", 1)[1], PASSWORD
    )
    monkeypatch.setenv("EFFSCALE_STORE", url)
    monkeypatch.setenv("EFFSCALE_DASHBOARD_WORKER", "0")
    with MeasurementStore(url) as store:
        job = submit(store, spec_from_phi(-3.0), Protocol(device="cpu"), requested_by="x")
        store.db.execute(
            "UPDATE jobs SET created_at = '2020-01-01T00:00:00+00:00' WHERE id = ?", (job.id,)
        )
    at = AppTest.from_string(
        "from dashboard.compare.page import render\nrender()\n", default_timeout=120
    ).run()
    assert not at.exception
    text = page_text(at)
    assert "No job has started" in text and "python -m zoo worker" in text
    assert_no_password(text, PASSWORD)


@pytest.mark.server
def test_a_worker_started_for_a_store_has_no_password_in_argv_or_log(postgres_server, tmp_path):
    """The worker the dashboard (or ``measure --queue``) starts gets the store through its
    environment, not its command line, which every user of the machine can read."""
    import signal
    import time

    from harness.pgserver import PASSWORD
    from zoo.workers.worker import ensure_worker, worker_log_path

    url = _password_url(
        postgres_server, postgres_server.create_database().rsplit("/", 1)[1], PASSWORD
    )
    pid = ensure_worker(url, log=True)
    assert pid is not None
    try:
        time.sleep(2.0)  # it opens the store and says so in its log
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        assert "zoo worker" in argv
        assert_no_password(argv, PASSWORD)
        log = worker_log_path()
        assert log.stat().st_mode & 0o077 == 0 and log.parent.stat().st_mode & 0o077 == 0
        text = log.read_text()
        assert "serves postgresql://" in text and "***" in text
        assert_no_password(text, PASSWORD)
    finally:
        os.kill(pid, signal.SIGKILL)
