"""The calling thread's alternate signal stack, kept through OpenVINO work.

OpenVINO's CPU plugin gives the thread that creates it a signal stack of its own and unmaps that
stack when the plugin is destroyed, from whichever thread destroys it (a garbage collection). A
thread left pointing at the unmapped stack dies at the next signal it handles (Ctrl-C, a cancelled
job, a timeout): SIGSEGV, no traceback. How it was found: docs/reliability.md, 'A silent crash at
a signal after OpenVINO work'.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import sys
from collections.abc import Iterator

__all__ = ["current_signal_stack", "kept_signal_stack"]

_SS_DISABLE = 2  # <signal.h>: no alternate stack


class _Stack(ctypes.Structure):
    _fields_ = [
        ("ss_sp", ctypes.c_void_p),
        ("ss_flags", ctypes.c_int),
        ("ss_size", ctypes.c_size_t),
    ]


@functools.cache
def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None


def current_signal_stack() -> tuple[int, int] | None:
    """(address, size) of the calling thread's alternate signal stack; None when it has none or
    this platform cannot tell."""
    libc, stack = _libc(), _Stack()
    if libc is None or libc.sigaltstack(None, ctypes.byref(stack)) != 0:
        return None
    if stack.ss_flags & _SS_DISABLE:
        return None
    return int(stack.ss_sp or 0), int(stack.ss_size)


@contextlib.contextmanager
def kept_signal_stack() -> Iterator[None]:
    """Run the body, then give the calling thread back the alternate signal stack it had (or
    none), so that no OpenVINO plugin created inside owns it. Elsewhere than Linux: nothing."""
    libc, before = _libc(), _Stack()
    if libc is None or libc.sigaltstack(None, ctypes.byref(before)) != 0:
        yield
        return
    try:
        yield
    finally:
        now = _Stack()
        if libc.sigaltstack(None, ctypes.byref(now)) == 0 and (
            (now.ss_sp, now.ss_size, now.ss_flags & _SS_DISABLE)
            != (before.ss_sp, before.ss_size, before.ss_flags & _SS_DISABLE)
        ):
            before.ss_flags &= _SS_DISABLE  # never SS_ONSTACK: we are not running on it
            # Refused (a stack too small for this CPU's signal frame): the plugin's one stays.
            libc.sigaltstack(ctypes.byref(before), None)
