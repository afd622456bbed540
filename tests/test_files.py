"""zoo.files: only regular files are read, bounded, never waiting on a FIFO or a device; names print.

Every path kind that is not a regular file (FIFO, character device, directory, socket, and symlinks
to them) must be refused at once with its kind named. The FIFO tests have a timeout: before the
fix, opening a FIFO without a writer blocked forever.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from tests.special_files import needs_posix, special_paths
from zoo.errors import ZooError
from zoo.files import (
    UnreadableFile,
    display_name,
    file_sha256,
    open_regular,
    printable,
    read_regular,
)


@needs_posix
@pytest.mark.timeout(30)
def test_every_non_regular_path_is_refused_at_once_with_its_kind(tmp_path):
    for name, (path, kind) in special_paths(tmp_path).items():
        for read in (
            lambda p: read_regular(p, 1 << 20),
            file_sha256,
            lambda p: open_regular(p).__enter__(),
        ):
            with pytest.raises(UnreadableFile) as info:
                read(path)
            assert f"is a {kind}, not a regular file" in str(info.value), (name, info.value)
            assert isinstance(info.value, ZooError) and not info.value.missing


@needs_posix
@pytest.mark.timeout(30)
def test_the_decision_is_made_on_the_opened_descriptor(tmp_path, monkeypatch):
    """A path swapped for a FIFO after the courtesy stat is still refused, and nothing blocks."""
    import zoo.files

    fifo = tmp_path / "swapped.jpg"
    os.mkfifo(fifo)
    (tmp_path / "regular").write_bytes(b"x")
    regular = os.stat(tmp_path / "regular")
    real_stat = os.stat

    def stale_stat(path, *args, **kwargs):  # what a stat before a rename would have seen
        return regular if Path(path) == fifo else real_stat(path, *args, **kwargs)

    monkeypatch.setattr(zoo.files.os, "stat", stale_stat)
    assert stat.S_ISREG(zoo.files.os.stat(fifo).st_mode)
    with pytest.raises(UnreadableFile, match=r"is a named pipe \(FIFO\), not a regular file"):
        read_regular(fifo, 1 << 20)
    with pytest.raises(UnreadableFile, match="named pipe"):
        file_sha256(fifo)


def test_regular_files_are_read_whole_and_capped(tmp_path):
    path = tmp_path / "data.bin"
    payload = os.urandom(3 * (1 << 20) + 7)  # more than one read chunk
    path.write_bytes(payload)
    assert read_regular(path, len(payload)) == payload
    with pytest.raises(UnreadableFile, match=f"{len(payload):,} bytes is over the file size cap"):
        read_regular(path, len(payload) - 1)
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    assert read_regular(empty, 10) == b""


def test_files_that_report_size_zero_are_still_bounded():
    # procfs files are regular with st_size 0 but have content: read, and capped.
    proc = Path("/proc/self/status")
    if not proc.exists():
        pytest.skip("no procfs")
    assert b"Name:" in read_regular(proc, 1 << 20)
    with pytest.raises(UnreadableFile, match="grew past the file size cap 10 bytes"):
        read_regular(proc, 10)


def test_missing_and_unreadable_paths(tmp_path):
    with pytest.raises(UnreadableFile, match="no such file") as info:
        read_regular(tmp_path / "missing.jpg", 10)
    assert info.value.missing
    with pytest.raises(UnreadableFile, match="no such file"):
        read_regular(tmp_path / "missing-dir" / "x.jpg", 10)
    with pytest.raises(UnreadableFile, match="cannot read the file .*null byte"):
        read_regular(f"{tmp_path}/nul\x00.jpg", 10)
    (tmp_path / "plain").write_bytes(b"x")
    with pytest.raises(UnreadableFile, match=r"cannot read the file \(Not a directory\)"):
        file_sha256(tmp_path / "plain" / "x.jpg")
    if os.geteuid() != 0:  # root reads anything
        locked = tmp_path / "locked.jpg"
        locked.write_bytes(b"x")
        locked.chmod(0)
        with pytest.raises(UnreadableFile, match="cannot read the file"):
            read_regular(locked, 10)


def test_sha256_is_of_the_content_and_memoised_per_file_identity(tmp_path):
    import hashlib

    path = tmp_path / "w.bin"
    path.write_bytes(b"first")
    assert file_sha256(path) == hashlib.sha256(b"first").hexdigest()
    path.write_bytes(b"second, longer")
    assert file_sha256(str(path)) == hashlib.sha256(b"second, longer").hexdigest()


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        (b"cat.jpg", "cat.jpg"),
        ("café ☕.jpg".encode(), "café ☕.jpg"),  # valid UTF-8 stays as it is
        (b"caf\xe9.jpg", "caf\\xe9.jpg"),  # Latin-1 bytes: not UTF-8
        (b"\xff\xfe.png", "\\xff\\xfe.png"),
        (b"two\nlines.jpg", "two\\x0alines.jpg"),  # a newline would break the table
        (b"\x1b[2Jclear.jpg", "\\x1b[2Jclear.jpg"),  # a terminal escape
        ("\u202egnp.jpg".encode(), "\\u202egnp.jpg"),  # right-to-left override
    ],
)
def test_display_names_are_printable_and_valid_utf8(raw, shown):
    assert display_name(raw) == shown
    assert display_name(os.fsdecode(raw)) == shown
    shown.encode("utf-8")  # never a lone surrogate
    assert json.loads(json.dumps(shown, ensure_ascii=False).encode("utf-8")) == shown
    assert printable(shown) == shown  # escaping is idempotent on its own output
