"""Run each measurement step in a fresh process, so that its peak memory is its own, a crash (out
of memory, a segfault in a kernel) takes only that process down, and a step that hangs can be
stopped.

Why a fork server: it imports torch, timm and ptflops once, so a step starts in milliseconds,
not the seconds of an import. The protocol: docs/benchmarks.md, 'The latency protocol'; why
forking is safe and nothing outlives the caller: docs/architecture.md, 'Notes by module'.
"""

from __future__ import annotations

import contextlib
import io
import multiprocessing
import multiprocessing.forkserver
import os
import signal
import sys
import tempfile
import threading
from collections.abc import Callable
from multiprocessing import popen_forkserver, reduction, spawn, util
from multiprocessing.context import set_spawning_popen
from pathlib import Path
from typing import Any

from zoo.errors import ZooError
from zoo.paths import project_root
from zoo.records.measurement import MeasurementError

__all__ = ["run_isolated", "server_pid", "shutdown"]

#: Imported once by the server, so that each process starts with them loaded.
PRELOAD: tuple[str, ...] = ("torch", "timm", "ptflops", "psutil", "zoo.measure.timing")
#: Errors raised inside the child that are the caller's bad input, not a failed run.
_INPUT_ERRORS = ("ZooError", "ValueError")

_CONTEXT = multiprocessing.get_context("forkserver")
_START_LOCK = threading.Lock()


class _Popen(popen_forkserver.Popen):
    """The forkserver launch without the caller's main module.

    multiprocessing re-runs the parent's ``__main__`` script in every child so that objects
    defined there can be unpickled; a user's script without an ``if __name__ == "__main__"``
    guard would then measure again inside the measurement (and wait forever for the lock its
    parent holds). Our children only run functions of ``zoo``, so the main module is left out
    of the preparation data; the rest is CPython's ``popen_forkserver.Popen._launch``.
    """

    def _launch(self, process_obj: Any) -> None:
        prep_data = spawn.get_preparation_data(process_obj._name)
        prep_data.pop("init_main_from_name", None)
        prep_data.pop("init_main_from_path", None)
        buf = io.BytesIO()
        set_spawning_popen(self)
        try:
            reduction.dump(prep_data, buf)
            reduction.dump(process_obj, buf)
        finally:
            set_spawning_popen(None)
        self.sentinel, w = multiprocessing.forkserver.connect_to_new_process(self._fds)
        _parent_w = os.dup(w)
        self.finalizer = util.Finalize(self, util.close_fds, (_parent_w, self.sentinel))
        with open(w, "wb", closefd=True) as f:
            f.write(buf.getbuffer())
        self.pid = multiprocessing.forkserver.read_signed(self.sentinel)


class _Process(_CONTEXT.Process):  # type: ignore[name-defined,misc]
    _start_method = "forkserver"

    @staticmethod
    def _Popen(process_obj: Any) -> _Popen:
        return _Popen(process_obj)


_server_pid: int | None = None  # the server our last process was forked from


def _die_with_parent() -> None:
    """Ask Linux to SIGKILL this process when its parent (the server) dies."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _child(
    connection: Any,
    target: Callable[..., Any],
    args: tuple[Any, ...],
    log_path: str,
    environ: dict[str, str],
) -> None:
    """The child: run ``target(*args)``, send one answer, exit.

    The environment is the caller's as it is *now* (the server's is from when it started: a
    cache folder or lock path set since would be missed). What C libraries and Python print (an
    exporter's graph dump, a compiler's warnings) goes to ``log_path``, not to the caller's
    terminal; its last line explains a process that died."""
    _die_with_parent()
    os.environ.clear()
    os.environ.update(environ)
    try:
        log = os.open(log_path, os.O_WRONLY | os.O_APPEND | getattr(os, "O_NOFOLLOW", 0))
    except OSError:  # the caller gave up on us already (a cancelled job) and removed it
        log = os.open(os.devnull, os.O_WRONLY)
    for fd in (1, 2):
        os.dup2(log, fd)
    os.close(log)
    try:
        answer = {"ok": True, "result": target(*args)}
    except BaseException as exc:  # report everything, including CUDA's out-of-memory
        answer = {"ok": False, "type": type(exc).__name__, "error": str(exc)}
    answer["server_pid"] = os.getppid()
    connection.send(answer)
    connection.close()


def _ensure_server() -> None:
    """Start the fork server with our modules preloaded (once; again if it died).

    The server is a fresh interpreter: give it this checkout on ``PYTHONPATH`` so it imports the
    same ``zoo`` as this process wherever the caller's working directory is.
    """
    with _START_LOCK:
        _CONTEXT.set_forkserver_preload(list(PRELOAD))
        root = str(project_root())
        old = os.environ.get("PYTHONPATH")
        os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (root, old) if p)
        try:
            multiprocessing.forkserver.ensure_running()
        finally:
            if old is None:
                os.environ.pop("PYTHONPATH", None)
            else:
                os.environ["PYTHONPATH"] = old


def run_isolated(
    target: Callable[..., Any], args: tuple[Any, ...], *, what: str, timeout_s: float
) -> Any:
    """``target(*args)`` in a fresh process; its (picklable) result.

    ``target`` must be a module-level function. Bad input found inside the process is a
    ``ZooError``; a process that failed, died or ran past ``timeout_s`` is a
    ``MeasurementError`` with the reason on one line, naming ``what``. Interrupted (Ctrl-C, a
    stop request), the process is killed before the exception goes on.
    """
    _ensure_server()
    handle, log_path = tempfile.mkstemp(prefix="effscale-step-", suffix=".log")
    os.close(handle)
    try:
        return _run(target, args, what, timeout_s, log_path)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(log_path)


def _last_line(log_path: str) -> str:
    try:
        lines = Path(log_path).read_text(errors="replace").splitlines()
    except OSError:
        return ""
    last = next((line.strip() for line in reversed(lines) if line.strip()), "")
    return f"; last output: {last[:300]}" if last else ""


def _run(
    target: Callable[..., Any], args: tuple[Any, ...], what: str, timeout_s: float, log_path: str
) -> Any:
    global _server_pid
    reader, writer = _CONTEXT.Pipe(duplex=False)
    process = _Process(
        target=_child, args=(writer, target, args, log_path, dict(os.environ)), daemon=True
    )
    answer = None
    timed_out = False
    try:
        process.start()
        writer.close()  # the child holds the only writer: its death is our EOF
        if reader.poll(timeout_s):
            try:
                answer = reader.recv()
            except EOFError:
                answer = None
        else:
            timed_out = True
            process.kill()
        process.join()
    except BaseException:
        if process.pid is not None:
            process.kill()
            process.join()
        raise
    finally:
        reader.close()
        writer.close()
    if timed_out:
        raise MeasurementError(
            f"measurement failed (Timeout): {what}: did not finish within {timeout_s:.0f} s "
            f"and was stopped{_last_line(log_path)}"
        )
    if answer is None:
        code = process.exitcode
        how = f"killed by signal {-code}" if code is not None and code < 0 else f"exited ({code})"
        raise MeasurementError(
            f"measurement failed (WorkerDied): {what}: process {how}{_last_line(log_path)}"
        )
    _server_pid = answer.get("server_pid")
    if answer["ok"]:
        return answer["result"]
    error = " ".join(str(answer["error"]).split())  # one line, even for CUDA's OOM text
    message = f"{what}: {error}"
    if answer["type"] in _INPUT_ERRORS:
        raise ZooError(message)
    raise MeasurementError(f"measurement failed ({answer['type']}): {message}")


def server_pid() -> int | None:
    """The process id of the server the last process was forked from (None before any)."""
    return _server_pid


def shutdown() -> None:
    """Stop the fork server (the next measurement starts a new one)."""
    global _server_pid
    with _START_LOCK:
        stop = getattr(multiprocessing.forkserver._forkserver, "_stop", None)
        if stop is not None:
            with contextlib.suppress(OSError, ChildProcessError):
                stop()
        _server_pid = None
