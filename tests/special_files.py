"""Paths that are not regular files (FIFO, device, directory, socket, symlinks to them), for tests.

Each one once made ``zoo`` hang or read without end: opening a FIFO for reading waits for a
writer, ``/dev/zero`` never ends and a size cap taken from ``stat`` does not apply to it.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

needs_posix = pytest.mark.skipif(
    not hasattr(os, "mkfifo") or not Path("/dev/zero").exists(), reason="needs FIFOs and /dev/zero"
)


def special_paths(folder: Path) -> dict[str, tuple[Path, str]]:
    """Every kind of non-regular path this machine can make, with the kind the error must name."""
    paths: dict[str, tuple[Path, str]] = {}
    fifo = folder / "pipe.jpg"
    os.mkfifo(fifo)
    paths["fifo"] = (fifo, "named pipe (FIFO)")
    paths["dev-zero"] = (Path("/dev/zero"), "character device")
    link = folder / "zero-link.jpg"
    link.symlink_to("/dev/zero")
    paths["symlink-to-dev-zero"] = (link, "character device")
    fifo_link = folder / "pipe-link.jpg"
    fifo_link.symlink_to(fifo)
    paths["symlink-to-fifo"] = (fifo_link, "named pipe (FIFO)")
    directory = folder / "folder.jpg"
    directory.mkdir()
    paths["directory"] = (directory, "directory")
    sock_path = folder / "s.jpg"
    if len(os.fsencode(sock_path)) < 100:  # AF_UNIX path limit
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        server.bind(str(sock_path))
        server.close()  # the socket file stays
        paths["socket"] = (sock_path, "socket")
    return paths
