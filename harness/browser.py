"""Running the dashboard for real (``streamlit run``) and driving it from Chromium.

Shared by the browser tests and ``bench/load.py``: the launch follows Streamlit's own
``e2e_playwright/conftest.py`` (headless, a free loopback port, no file watcher, readiness by
``/_stcore/health``), and ``wait_idle`` is its "connected and not running" wait. Nothing here
imports playwright, so importing the module never needs a browser.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from types import TracebackType

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("EFFSCALE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
IDLE_SELECTORS = (
    "[data-testid='stApp'][data-test-connection-state='CONNECTED']",
    "[data-testid='stApp'][data-test-script-state='notRunning']",
)

__all__ = [
    "CHROMIUM",
    "CHROMIUM_ARGS",
    "IDLE_SELECTORS",
    "ROOT",
    "StreamlitServer",
    "free_port",
    "started_by",
    "wait_idle",
]


def started_by(pid: int, flag: str) -> list[int]:
    """Processes whose command line says ``<flag> <pid>`` (read from /proc; empty elsewhere)."""
    found = []
    for entry in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            argv = entry.read_bytes().split(b"\0")
        except OSError:
            continue
        for i, arg in enumerate(argv[:-1]):
            if arg == flag.encode() and argv[i + 1] == str(pid).encode():
                found.append(int(entry.parent.name))
    return found


def _interrupt(pid: int, timeout_s: float = 30.0) -> None:
    try:
        os.kill(pid, signal.SIGINT)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not Path(f"/proc/{pid}").exists() or _zombie(pid):
            return
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].startswith("Z")
    except (OSError, IndexError):
        return True


def free_port() -> int:
    """A TCP port free on the loopback interface right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class StreamlitServer:
    """``streamlit run app.py`` on 127.0.0.1 as a context manager; ``url`` once it is healthy.

    ``env`` is added to this process's environment (``HF_HUB_OFFLINE=1`` always). The log goes
    to ``log_path`` (a temporary file unless given); ``log_text()`` reads it.
    """

    def __init__(
        self,
        env: dict[str, str] | None = None,
        *,
        app: str = "app.py",
        log_path: Path | None = None,
        start_timeout_s: float = 90.0,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = dict(os.environ, HF_HUB_OFFLINE="1", **(env or {}))
        self.app = app
        self.start_timeout_s = start_timeout_s
        self.extra_args = extra_args
        if log_path is None:
            handle, name = tempfile.mkstemp(prefix="streamlit-", suffix=".log")
            os.close(handle)
            log_path = Path(name)
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def start(self) -> StreamlitServer:
        command = [
            sys.executable, "-m", "streamlit", "run", self.app,
            "--server.headless", "true",
            "--server.port", str(self.port),
            "--server.address", "127.0.0.1",
            "--server.fileWatcherType", "none",
            "--browser.gatherUsageStats", "false",
            *self.extra_args,
        ]  # fmt: skip
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + self.start_timeout_s
        while True:
            try:
                with urllib.request.urlopen(self.url + "/_stcore/health", timeout=2) as response:
                    if response.read().strip() == b"ok":
                        return self
            except OSError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"streamlit did not start:\n{self.log_text()[-4000:]}")
            time.sleep(0.5)

    def workers(self) -> list[int]:
        """The job workers this server started (``python -m zoo worker --parent-pid <ours>``)."""
        if self.process is None:
            return []
        return started_by(self.process.pid, "--parent-pid")

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        workers = started_by(process.pid, "--parent-pid")
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        # A worker stops by itself once its server is gone, but only after the job it runs:
        # stop it now (SIGINT: it gives its job back to the queue), so no test runs beside it.
        for pid in workers:
            _interrupt(pid)

    def __enter__(self) -> StreamlitServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def wait_idle(page, timeout_ms: int = 120_000) -> None:
    """Wait until the app is connected and no script run is in progress (sync Playwright)."""
    page.wait_for_selector(IDLE_SELECTORS[0], timeout=timeout_ms)
    page.wait_for_timeout(300)  # let a just-triggered rerun start
    page.wait_for_selector(IDLE_SELECTORS[1], timeout=timeout_ms)
