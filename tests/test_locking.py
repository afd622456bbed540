"""Hardening finding 8: the measurement lock is private, never follows a link, and says what is
wrong with a lock path it cannot use (instead of a traceback)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from zoo.errors import ZooError
from zoo.measure import locking

ROOT = Path(__file__).resolve().parent.parent


def test_default_lock_is_in_the_private_data_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("EFFSCALE_LOCK", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert locking.lock_path() == tmp_path / "data" / "effscale" / "measure.lock"
    with locking.measurement_lock():
        assert locking.measurement_in_progress()
    folder = tmp_path / "data" / "effscale"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE(locking.lock_path().stat().st_mode) == 0o600
    assert not str(locking.lock_path()).startswith("/tmp/effscale-measure")


@pytest.mark.parametrize("kind", ["link to a file elsewhere", "dangling link", "link to /dev/null"])
def test_a_planted_link_is_refused_and_nothing_is_created(tmp_path, monkeypatch, kind):
    target = {
        "link to a file elsewhere": tmp_path / "elsewhere" / "victim",
        "dangling link": tmp_path / "nowhere" / "created-by-us",
        "link to /dev/null": Path("/dev/null"),
    }[kind]
    if kind == "link to a file elsewhere":
        target.parent.mkdir()
        target.write_text("precious")
    link = tmp_path / "measure.lock"
    link.symlink_to(target)
    monkeypatch.setenv("EFFSCALE_LOCK", str(link))
    with pytest.raises(ZooError, match="symbolic link"), locking.measurement_lock():
        pass
    assert not locking.measurement_in_progress()
    if kind == "link to a file elsewhere":
        assert target.read_text() == "precious"
    if kind == "dangling link":
        assert not target.exists() and not target.parent.exists()


@pytest.mark.parametrize("make", ["directory", "fifo"])
def test_a_lock_path_that_is_not_a_file_is_refused(tmp_path, monkeypatch, make):
    path = tmp_path / "lock"
    if make == "directory":
        path.mkdir()
    else:
        os.mkfifo(path)
    monkeypatch.setenv("EFFSCALE_LOCK", str(path))
    with pytest.raises(ZooError, match="directory|not a regular file"), locking.measurement_lock():
        pass


def test_cli_with_a_directory_as_lock_is_one_line_exit_2(tmp_path):
    env = {**os.environ, "EFFSCALE_LOCK": str(tmp_path), "HF_HUB_OFFLINE": "1"}
    out = subprocess.run(
        [sys.executable, "-m", "zoo", "measure", "--phi", "-3", "--device", "cpu", "--iters", "1",
         "--store", str(tmp_path / "m.sqlite")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert out.returncode == 2, out.stderr
    assert out.stderr.count("\n") == 1 and "measurement lock" in out.stderr
