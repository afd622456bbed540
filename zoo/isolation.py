"""Run each measurement in a fresh process, so that its peak memory is its own and a crash
(out of memory, a segfault in a kernel) takes only that process down.

The standard library's ``forkserver`` start method does the work: a server process imports
torch, timm and ptflops once (``set_forkserver_preload``), and every measurement is a process
forked from it, which starts in milliseconds with everything already imported. The server never
runs a model nor initializes CUDA, so forking it is safe. Each child asks Linux to kill it when
the server dies (``PR_SET_PDEATHSIG``), and the server exits when this process does, so nothing
outlives the program that asked for the measurement.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.forkserver
import os
import signal
import sys
import threading
from dataclasses import asdict
from pathlib import Path
from typing import Any

from zoo.build import ModelSpec
from zoo.errors import ZooError
from zoo.protocol import MeasurementError, Protocol
from zoo.timing import measure_in_process

__all__ = ["run_isolated", "server_pid", "shutdown"]

#: Imported once by the server, so that each measurement process starts with them loaded.
PRELOAD: tuple[str, ...] = ("torch", "timm", "ptflops", "psutil", "zoo.timing")
#: Errors raised inside the child that are the caller's bad input, not a failed run.
_INPUT_ERRORS = ("ZooError", "ValueError")

_CONTEXT = multiprocessing.get_context("forkserver")
_START_LOCK = threading.Lock()
_server_pid: int | None = None  # the server our last measurement process was forked from


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


def _child(connection: Any, spec: dict[str, Any], protocol: dict[str, Any]) -> None:
    """The measurement process: measure, send one answer, exit."""
    _die_with_parent()
    try:
        result = measure_in_process(ModelSpec(**spec), Protocol(**protocol))
        answer = {"ok": True, "result": result}
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
        root = str(Path(__file__).resolve().parent.parent)
        old = os.environ.get("PYTHONPATH")
        os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (root, old) if p)
        try:
            multiprocessing.forkserver.ensure_running()
        finally:
            if old is None:
                os.environ.pop("PYTHONPATH", None)
            else:
                os.environ["PYTHONPATH"] = old


def run_isolated(spec: ModelSpec, protocol: Protocol) -> dict[str, Any]:
    """``zoo.timing.measure_in_process(spec, protocol)`` in a fresh process; its plain numbers.

    Bad input found inside the process is a ``ZooError``; a process that failed or died is a
    ``MeasurementError`` with the reason on one line. Interrupted (Ctrl-C, a stop request), the
    process is killed before the exception goes on.
    """
    global _server_pid
    _ensure_server()
    reader, writer = _CONTEXT.Pipe(duplex=False)
    process = _CONTEXT.Process(
        target=_child, args=(writer, asdict(spec), asdict(protocol)), daemon=True
    )
    try:
        process.start()
        writer.close()  # the child holds the only writer: its death is our EOF
        try:
            answer = reader.recv()
        except EOFError:
            answer = None
        process.join()
    except BaseException:
        if process.pid is not None:
            process.kill()
            process.join()
        raise
    finally:
        reader.close()
        writer.close()
    if answer is None:
        code = process.exitcode
        how = f"killed by signal {-code}" if code is not None and code < 0 else f"exited ({code})"
        raise MeasurementError(
            f"measurement failed (WorkerDied): {spec.model} at {spec.resolution}px: "
            f"measurement process {how}"
        )
    _server_pid = answer.get("server_pid")
    if answer["ok"]:
        return answer["result"]
    error = " ".join(str(answer["error"]).split())  # one line, even for CUDA's OOM text
    message = f"{spec.model} at {spec.resolution}px: {error}"
    if answer["type"] in _INPUT_ERRORS:
        raise ZooError(message)
    raise MeasurementError(f"measurement failed ({answer['type']}): {message}")


def server_pid() -> int | None:
    """The process id of the server the last measurement was forked from (None before any)."""
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
