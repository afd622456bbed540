"""The load test, shortened: ``python -m bench.load --quick`` (2 sessions × 3 images, a measurement).

The full run (8 sessions × 25 images) is ``make bench``; its figures are in docs/reliability.md.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from harness.browser import CHROMIUM, ROOT

pytestmark = pytest.mark.slow

if not Path(CHROMIUM).exists():
    pytest.skip(f"Chromium not found at {CHROMIUM} (run `make browser`)", allow_module_level=True)


def test_quick_load_has_no_errors_and_serializes_measurements(tmp_path):
    report_path = tmp_path / "load.json"
    completed = subprocess.run(
        [sys.executable, "-m", "bench.load", "--quick", "--max-seconds", "200",
         "--action-timeout", "120", "--json", str(report_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    report = json.loads(report_path.read_text())
    assert report["errors"] == [] and report["errors_1_session"] == []
    actions = report["actions"]
    assert actions["open explorer"]["count"] == 2
    assert actions["move φ slider"]["count"] == 4
    assert actions["classify 3 images"]["count"] == 2
    assert all(a["errors"] == 0 for a in actions.values())
    assert len(report["server_ms_per_image"]) == 2 * 3
    measurement = report["measurement"]
    assert (
        measurement["serialized"]
        and measurement["job_said_waiting"]
        and measurement["page_said_queued"]
    )
    assert measurement["cli_timing_s"][1] < measurement["page_timing_s"][0]
    # The model is shared: a second session costs far less than the first (which loaded torch
    # and the model).
    first = report["rss_after_1_session_mib"] - report["rss_idle_mib"]
    second = report["peak_rss_server_mib"] - report["rss_after_1_session_mib"]
    assert second < first / 4, (first, second)
    assert "SERIALIZED" in completed.stdout and "errors: 0" in completed.stdout
