"""The README's command-line examples work as written, and a Python without the project's
packages gets one line instead of a traceback.

Every command of the README's shell blocks (```bash, ```sh, ```console) that runs ``python -m
zoo`` or ``python -m explorer`` is run, in order, with this venv's Python against one store, cache,
lock and home of their own, offline; every other command is in ``NOT_RUN`` with the reason. Why both ways:
an example that stops working fails here, and so does an allow-list entry the README dropped.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
SHELL_BLOCKS = ("bash", "sh", "shell", "console")
#: ``python -m zoo …``, ``python3 -m explorer …``, ``.venv/bin/python -m zoo …``
PYTHON_M = re.compile(r"^(?:\.venv/bin/)?python3?\s+-m\s+(zoo|explorer)\b")
#: README commands that are not run here, each with why.
NOT_RUN: dict[str, str] = {
    "make run": "installs, then serves the dashboard until stopped",
    "make test": "the whole suite, which this test is part of",
    "make check": "the fast suite, which this test is part of",
    "make bench": "the benchmarks: minutes of timing on a quiet machine",
    "source .venv/bin/activate": "shell set-up: every example here runs with this venv's Python",
    "python -m zoo worker": "serves the store's queue until stopped",
    "python -m zoo calibrate --runtime openvino --budget-minutes 20": "twenty minutes of "
    "measuring; bench/latency_model.py runs the calibration, tests/test_latency_model.py the "
    "command's checks",
    "python -m zoo predict --phi 1.5 --runtime openvino --format json": "needs the model the "
    "calibration fits; tests/test_latency_model.py runs this command against a saved model",
}
COMMAND_TIMEOUT_S = 600


def _strip_comment(line: str) -> str:
    """The line without a trailing shell comment (a ``#`` outside quotes, after a blank)."""
    quote = None
    for i, char in enumerate(line):
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i]
    return line


def readme_commands(text: str) -> list[str]:
    """Every command of the shell blocks, in order: comments dropped, continuations joined,
    only the ``$ `` lines of a console block."""
    commands = []
    for lang, body in re.findall(r"^```(\w*)[^\n]*\n(.*?)^```", text, flags=re.M | re.S):
        if lang not in SHELL_BLOCKS:
            continue
        for line in body.replace("\\\n", " ").splitlines():
            if lang == "console":
                if not line.startswith("$ "):
                    continue  # output
                line = line[2:]
            command = " ".join(_strip_comment(line).split())
            if command:
                commands.append(command)
    return commands


COMMANDS = readme_commands(README.read_text(encoding="utf-8"))
RUNNABLE = [c for c in COMMANDS if PYTHON_M.match(c) and c not in NOT_RUN]


def test_every_readme_command_is_run_or_allow_listed_with_a_reason():
    assert RUNNABLE, "no python -m zoo / explorer example found in the README"
    stale = [c for c in NOT_RUN if c not in COMMANDS]
    assert not stale, f"NOT_RUN names commands the README no longer has: {stale}"
    unaccounted = [c for c in COMMANDS if c not in NOT_RUN and c not in RUNNABLE]
    assert not unaccounted, f"README commands neither run here nor in NOT_RUN: {unaccounted}"
    assert all(reason.strip() for reason in NOT_RUN.values())


def test_commands_are_found_in_every_shell_block_kind():
    text = (
        "```bash\npython -m zoo cache list   # a comment\n.venv/bin/python -m explorer \\\n"
        "  --phi 1\n```\n```console\n$ python -m zoo jobs list\noutput line\n```\n"
        "```python\nimport zoo\n```\n```sh\necho '#not a comment'\n```\n"
    )
    assert readme_commands(text) == [
        "python -m zoo cache list",
        ".venv/bin/python -m explorer --phi 1",
        "python -m zoo jobs list",
        "echo '#not a comment'",
    ]


@pytest.fixture(scope="module")
def session(tmp_path_factory) -> tuple[dict[str, str], Path]:
    """One user's session: the examples run in the README's order against one store, cache,
    lock and home of their own (``jobs list`` sees what ``measure --queue`` did), nothing shared
    with the user; ``data/`` (the bundled photos) reachable as in the checkout."""
    tmp_path = tmp_path_factory.mktemp("readme")
    home, work = tmp_path / "home", tmp_path / "work"
    work.mkdir()
    (work / "data").symlink_to(ROOT / "data")
    pets = home / "photos" / "pets"  # the README's labelled folder, DIR/<class>/<image>
    for folder, photo in (("tabby", "cat.jpg"), ("espresso", "espresso.jpg")):
        (pets / folder).mkdir(parents=True)
        shutil.copy(ROOT / "data" / "photos" / photo, pets / folder / photo)
    env = dict(os.environ)
    env.update(
        HOME=str(home),
        XDG_CACHE_HOME=str(home / ".cache"),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        XDG_CONFIG_HOME=str(home / ".config"),
        EFFSCALE_STORE=str(tmp_path / "store.sqlite"),
        EFFSCALE_CACHE=str(tmp_path / "artifacts"),
        EFFSCALE_LOCK=str(tmp_path / "measure.lock"),
        EFFSCALE_QUIET_WAIT_S="0",
        HF_HUB_OFFLINE="1",
        PYTHONPATH=str(ROOT),
    )
    return env, work


@pytest.mark.model
@pytest.mark.parametrize("command", RUNNABLE)
def test_readme_example_runs_as_written(command, session):
    env, work = session
    # The README's python (after `source .venv/bin/activate`) is this venv's.
    line = PYTHON_M.sub(lambda m: f"{shlex.quote(sys.executable)} -m {m[1]}", command)
    done = subprocess.run(
        ["bash", "-c", line],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT_S,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, f"{command}\nexit {done.returncode}\n{done.stderr[-4000:]}"


# --------------------------------------------------------------------------- the wrong Python

BARE = {
    "venv-without-site-packages": [sys.executable, "-S"],  # the venv's packages hidden
    "system-python": ["/usr/bin/python3"],
}


def _bare_python(which: str) -> list[str]:
    python = BARE[which]
    if not Path(python[0]).exists():
        pytest.skip(f"no {python[0]}")
    probe = subprocess.run([*python, "-c", "import psutil"], capture_output=True, cwd=ROOT)
    if probe.returncode == 0:
        pytest.skip(f"{python[0]} has psutil: not a Python without the project's packages")
    return python


def _run_bare(argv: list[str]) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    return subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def _assert_one_line_hint(done: subprocess.CompletedProcess) -> None:
    assert done.returncode == 2, done.stderr
    assert done.stdout == "" and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith("effscale: missing package '"), done.stderr
    assert ".venv/bin/python" in done.stderr and "make install" in done.stderr


@pytest.mark.parametrize("which", sorted(BARE))
def test_zoo_on_a_python_without_the_packages_says_so_in_one_line(which):
    python = _bare_python(which)
    helped = _run_bare([*python, "-m", "zoo", "--help"])  # argparse alone: served, or the hint
    if helped.returncode == 0:
        assert "usage: python -m zoo" in helped.stdout and "Traceback" not in helped.stderr
    else:
        _assert_one_line_hint(helped)
    _assert_one_line_hint(_run_bare([*python, "-m", "zoo", "measure", "--variant", "b0"]))


@pytest.mark.parametrize("which", sorted(BARE))
def test_the_explorer_runs_on_any_python(which):
    python = _bare_python(which)
    done = _run_bare([*python, "-m", "explorer", "--phi", "0", "1", "--format", "json"])
    assert done.returncode == 0, done.stderr
    assert '"resolution' in done.stdout


def test_the_explorer_on_a_python_without_a_package_says_so_in_one_line():
    blocked = "import runpy, sys; sys.modules['argparse'] = None; runpy.run_module('explorer', "
    blocked += "run_name='__main__', alter_sys=True)"
    done = _run_bare([sys.executable, "-S", "-c", blocked, "--phi", "1"])
    _assert_one_line_hint(done)
    assert "'argparse'" in done.stderr
