"""Reading files a user names, bounded whatever the path turns out to be, naming them safely, and
writing our own files without following a link someone planted.

Why: a path can be a named pipe, ``/dev/zero``, a directory, a socket or a symlink to one, and a
stat followed by an open by name races with a rename. So every read opens without blocking,
decides on ``os.fstat`` of the opened descriptor and reads at most its cap; every write goes to
a new file (``O_EXCL``, no link followed). Details: docs/reliability.md.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

from zoo.errors import ZooError

__all__ = [
    "UnreadableFile",
    "create_new",
    "display_name",
    "file_sha256",
    "open_regular",
    "printable",
    "private_dir",
    "read_regular",
    "write_replacing",
]

_OPEN_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_NOCTTY", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_BINARY", 0)
)
_CHUNK = 1 << 20


class UnreadableFile(ZooError):
    """A path that is not a readable regular file (or is over a size cap); ``reason`` says why."""

    def __init__(self, path: str | os.PathLike[str], reason: str, *, missing: bool = False) -> None:
        self.name = display_name(path)
        self.reason = reason
        self.missing = missing
        super().__init__(f"{self.name}: {reason}")


def printable(text: str) -> str:
    """``text`` with undecodable bytes (lone surrogates) and non-printable characters escaped."""
    if text.isprintable():
        return text
    out: list[str] = []
    for char in text:
        code = ord(char)
        if char.isprintable():
            out.append(char)
        elif 0xDC80 <= code <= 0xDCFF:  # a byte os.fsdecode could not decode (surrogateescape)
            out.append(f"\\x{code - 0xDC00:02x}")
        elif code < 0x80:
            out.append(f"\\x{code:02x}")
        elif code <= 0xFFFF:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    return "".join(out)


def display_name(path: str | bytes | os.PathLike) -> str:
    """A path as printable text: non-UTF-8 bytes and control characters as backslash escapes."""
    return printable(os.fsdecode(path))


def _kind(mode: int) -> str:
    kinds = (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a named pipe (FIFO)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    )
    return next((name for test, name in kinds if test(mode)), "a special file")


def _not_regular(path: str | os.PathLike[str], mode: int) -> UnreadableFile:
    return UnreadableFile(path, f"is {_kind(mode)}, not a regular file")


def _cannot_read(path: str | os.PathLike[str], exc: OSError | ValueError) -> UnreadableFile:
    if isinstance(exc, FileNotFoundError):
        return UnreadableFile(path, "no such file", missing=True)
    # ValueError: a name with a NUL byte, which no file can have.
    return UnreadableFile(path, f"cannot read the file ({getattr(exc, 'strerror', None) or exc})")


@contextlib.contextmanager
def open_regular(path: str | os.PathLike[str]) -> Iterator[tuple[io.FileIO, os.stat_result]]:
    """Open ``path`` for reading if it is a regular file; yield the file and its ``fstat``.

    Never blocks on a FIFO or a device. Raises ``UnreadableFile`` for a missing path, anything
    that is not a regular file (named: directory, FIFO, device, socket) and unreadable files.
    """
    try:
        before = os.stat(path)
    except (OSError, ValueError) as exc:
        raise _cannot_read(path, exc) from None
    if not stat.S_ISREG(before.st_mode):
        raise _not_regular(path, before.st_mode)
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as exc:  # ENXIO: a socket swapped in; EACCES; ELOOP; ...
        raise _cannot_read(path, exc) from None
    stream = io.FileIO(fd, "rb", closefd=True)
    with stream:
        status = os.fstat(fd)
        if not stat.S_ISREG(status.st_mode):  # replaced between the stat and the open
            raise _not_regular(path, status.st_mode)
        yield stream, status


def read_regular(path: str | os.PathLike[str], max_bytes: int) -> bytes:
    """The whole content of a regular file of at most ``max_bytes`` bytes (see ``open_regular``)."""
    with open_regular(path) as (stream, status):
        if status.st_size > max_bytes:
            raise UnreadableFile(
                path, f"{status.st_size:,} bytes is over the file size cap {max_bytes:,} bytes"
            )
        chunks: list[bytes] = []
        total = 0
        want = status.st_size + 1  # one read for the usual case; a size of 0 may still have data
        try:
            while total <= max_bytes:
                chunk = stream.read(min(want, max_bytes + 1 - total))
                if not chunk:  # EOF (None, "would block", cannot happen on a regular file)
                    break
                chunks.append(chunk)
                total += len(chunk)
                want = _CHUNK
        except OSError as exc:
            raise _cannot_read(path, exc) from None
        if total > max_bytes:
            raise UnreadableFile(
                path, f"grew past the file size cap {max_bytes:,} bytes while being read"
            )
        return b"".join(chunks)  # one chunk: no copy


_DIGESTS: dict[tuple[int, int, int, int], str] = {}
_DIGESTS_LOCK = threading.Lock()
_DIGESTS_KEPT = 64


def file_sha256(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a regular file, memoised per (device, inode, size, mtime) so repeats are free.

    Reads at most the size ``fstat`` reported; raises ``UnreadableFile`` like ``open_regular``.
    """
    with open_regular(path) as (stream, status):
        key = (status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns)
        with _DIGESTS_LOCK:
            if key in _DIGESTS:
                return _DIGESTS[key]
        digest = hashlib.sha256()
        remaining = status.st_size
        try:
            while remaining > 0 and (chunk := stream.read(min(_CHUNK, remaining))):
                digest.update(chunk)
                remaining -= len(chunk)
        except OSError as exc:
            raise _cannot_read(path, exc) from None
    with _DIGESTS_LOCK:
        if len(_DIGESTS) >= _DIGESTS_KEPT:
            _DIGESTS.pop(next(iter(_DIGESTS)))
        _DIGESTS[key] = digest.hexdigest()
        return _DIGESTS[key]


# --------------------------------------------------------------------------- writing ours

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def private_dir(path: str | os.PathLike[str]) -> Path:
    """``path`` as a folder only this user may enter: made (mode 0700) if missing; a symbolic
    link, something that is not a folder, or another user's folder is a ``ZooError``. A file
    made inside it cannot be a link someone else planted."""
    folder = Path(path)
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        status = os.lstat(folder)
    except OSError as exc:
        raise ZooError(f"cannot use the folder {display_name(folder)}: {exc.strerror}") from None
    if stat.S_ISLNK(status.st_mode) or not stat.S_ISDIR(status.st_mode):
        raise ZooError(
            f"cannot use the folder {display_name(folder)}: it is {_kind(status.st_mode)}; "
            "accepted: a folder of this user's own"
        )
    if hasattr(os, "getuid") and status.st_uid != os.getuid():
        raise ZooError(
            f"cannot use the folder {display_name(folder)}: it belongs to another user; "
            "accepted: a folder of this user's own"
        )
    if status.st_mode & 0o077:
        folder.chmod(0o700)
    return folder


def create_new(path: str | os.PathLike[str], mode: int = 0o600) -> int:
    """A descriptor on a new file at ``path`` (``O_EXCL``: never one that was there, never
    through a link), for writing."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    return os.open(path, flags, mode)


def write_replacing(path: str | os.PathLike[str], data: bytes, mode: int = 0o644) -> None:
    """Write ``data`` at ``path`` through a new file beside it, renamed into place: whatever was
    at ``path`` (a link someone planted included) is replaced, never followed or written
    through. ``OSError`` when the folder cannot take it (full, read-only)."""
    target = Path(path)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    fd = create_new(temporary, mode)
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(data)
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
