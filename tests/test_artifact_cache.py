"""The artefact cache's housekeeping: ``python -m zoo cache clear`` removes what the zoo cached
and nothing else, whatever ``EFFSCALE_CACHE`` points at."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest

from zoo.cli.main import main
from zoo.runtimes.artifacts import MARKER, cached_file, runtime_cache_dir


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(list(argv))
    return status, out.getvalue(), err.getvalue()


def _project(folder: Path) -> dict[Path, bytes]:
    """A folder of someone's work: what must survive."""
    files = {folder / "thesis.tex": b"\\documentclass{article}", folder / "src" / "a.py": b"x=1"}
    for path, data in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return files


def test_clear_refuses_a_folder_that_is_not_the_zoos_cache(tmp_path, monkeypatch):
    files = _project(tmp_path / "project")
    monkeypatch.setenv("EFFSCALE_CACHE", str(tmp_path / "project"))
    status, out, err = run("cache", "clear")
    assert status == 2 and out == "" and "nothing was removed" in err and err.count("\n") == 1
    assert all(path.read_bytes() == data for path, data in files.items())
    status, out, _ = run("cache", "list")
    assert status == 0 and "0 artefacts" in out


def test_clear_removes_only_what_the_zoo_cached(tmp_path, monkeypatch):
    root = tmp_path / "cache"
    monkeypatch.setenv("EFFSCALE_CACHE", str(root))
    cached_file("onnx", "k1", "model.onnx", lambda p: p.write_bytes(b"onnx"), description="d")
    (runtime_cache_dir("openvino") / "blob").write_bytes(b"kernel")
    assert (root / MARKER).is_file()
    files = _project(root / "notes")  # someone put their work in the zoo's folder
    status, out, _ = run("cache", "clear")
    assert status == 0 and "removed 4 files" in out  # the export, its record and lock, the blob
    assert all(path.read_bytes() == data for path, data in files.items())
    assert not (root / "onnx").exists() and not (root / "runtime-caches").exists()


def test_a_cache_from_before_the_mark_is_still_recognised(tmp_path, monkeypatch):
    root = tmp_path / "cache"
    monkeypatch.setenv("EFFSCALE_CACHE", str(root))
    cached_file("onnx", "k1", "model.onnx", lambda p: p.write_bytes(b"onnx"))
    (root / MARKER).unlink()  # as an older effscale left it
    status, out, _ = run("cache", "clear")
    assert status == 0 and "removed 3 files" in out


@pytest.mark.parametrize("kind", ["link", "file"])
def test_a_cache_path_that_is_a_link_or_a_file_is_one_line(tmp_path, monkeypatch, kind):
    target = tmp_path / "elsewhere"
    _project(target)
    link = tmp_path / "cache"
    if kind == "link":
        link.symlink_to(target, target_is_directory=True)
    else:
        link.write_text("not a folder")
    monkeypatch.setenv("EFFSCALE_CACHE", str(link))
    status, out, err = run("cache", "clear")
    assert status == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert (target / "thesis.tex").exists()
