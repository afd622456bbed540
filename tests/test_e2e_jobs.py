"""End to end: measurements outlive the browser (Playwright + Chromium against ``streamlit run``).

A fresh store; open Compare: the first-run sweep starts (the chart shows MACs meanwhile). From
the explorer, queue your own configuration. Close the browser. Once the server's worker has
landed three points with nobody watching, a new browser sees them on the chart, the rest
progressing, and the configuration on the chart with its estimate band.
"""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import unquote

import pytest

from harness.browser import CHROMIUM, CHROMIUM_ARGS, ROOT, StreamlitServer, wait_idle

pytestmark = pytest.mark.slow

if not Path(CHROMIUM).exists():
    pytest.skip(
        f"Chromium not found at {CHROMIUM} (run `make browser` to install Debian's chromium)",
        allow_module_level=True,
    )
import playwright.sync_api as sync_api  # noqa: E402

ARTIFACTS = ROOT / "test-artifacts"
CONFIG = {"phi": "0.5", "alpha": "1.25", "beta": "1.08", "gamma": "1.12"}
# What the page's chart draws, read from plotly's own graph div.
CHART = """() => {
  const gd = document.querySelector('[data-testid=stPlotlyChart] .js-plotly-plot');
  if (!gd || !gd._fullData || !gd.layout) return null;
  return {
    x_title: (gd.layout.xaxis.title || {}).text || '',
    // _fullData: plotly's decoded traces (gd.data may hold base64 typed arrays)
    traces: (gd._fullData || []).filter(t => t.visible !== false).map(t => ({
      name: t.name || '', mode: t.mode || '', n: (t.x || []).length,
      error: t.error_y && t.error_y.array ? Array.from(t.error_y.array) : null,
    })),
  };
}"""

# The chart once its x axis title starts with the argument (else a falsy value: keep waiting).
CHART_ON = f"(axis) => {{ const c = ({CHART})(); return c && c.x_title.startsWith(axis) && c; }}"


def _points(chart: dict | None) -> int:
    """Published models drawn (not your configurations, not the front's line)."""
    if not chart:
        return 0
    return sum(
        t["n"]
        for t in chart["traces"]
        if t["mode"] != "lines" and not t["name"].startswith("your configurations")
    )


def _jobs(store: Path) -> list:
    from zoo.store import jobs
    from zoo.store.measurement_store import MeasurementStore

    with MeasurementStore(store) as s:
        return jobs.jobs(s)


def test_the_first_run_sweep_and_your_configuration_outlive_the_browser(tmp_path):
    from explorer import from_phi
    from explorer.estimate import estimate_top1, published_fit

    store = tmp_path / "measurements.sqlite"
    env = {
        "EFFSCALE_STORE": str(store),
        "EFFSCALE_LOCK": str(tmp_path / "measure.lock"),  # no other test's measurement
        "EFFSCALE_AUTO_SWEEP": "1",
        "EFFSCALE_DASHBOARD_WORKER": "1",
    }
    server = StreamlitServer(env, log_path=tmp_path / "streamlit.log").start()
    try:
        with sync_api.sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1800})
            page.set_default_timeout(120_000)
            try:
                page.goto(server.url + "/compare")
                wait_idle(page)
                page.get_by_text("measuring a small default sweep").wait_for()
                assert len(_jobs(store)) == 7
                chart = page.wait_for_function(CHART).json_value()
                assert chart["x_title"].startswith("GMACs")  # never empty: MACs meanwhile
                assert _points(chart) >= 20

                query = "&".join(f"{k}={v}" for k, v in CONFIG.items())
                page.goto(f"{server.url}/?{query}")  # the explorer is the main page
                wait_idle(page)
                page.get_by_role("button", name="Measure and compare this configuration").click()
                link = page.get_by_role("link", name="Open it on the compare chart →")
                href = link.get_attribute("href")
                assert href and "compare?cfg=" in href
                token = unquote(href.split("cfg=")[1])
                assert token == "phi:{phi}:{alpha}:{beta}:{gamma}".format(**CONFIG)
                assert len(_jobs(store)) == 8
            finally:
                browser.close()  # the user goes away
            # Nobody watches now: wait (at most 150 s) until the worker has landed three points.
            deadline = time.monotonic() + 150
            while sum(j.state == "done" for j in _jobs(store)) < 3:
                assert time.monotonic() < deadline, [(j.state, j.error) for j in _jobs(store)]
                time.sleep(1.0)
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 2200})
            page.set_default_timeout(120_000)
            try:
                page.goto(f"{server.url}/compare?cfg={href.split('cfg=')[1]}")
                wait_idle(page)
                chart = page.wait_for_function(CHART_ON, arg="latency", timeout=30_000).json_value()
                states = [j.state for j in _jobs(store)]
                assert _points(chart) >= 3, (chart, states)
                # the rest progressing (or done): nothing failed, nothing stuck in the queue
                assert "failed" not in states, [j.error for j in _jobs(store)]
                assert states.count("done") >= 3
                if any(s in ("queued", "running") for s in states):
                    page.get_by_text("Measurement queue").wait_for()
                ARTIFACTS.mkdir(exist_ok=True)
                page.screenshot(path=str(ARTIFACTS / "compare-jobs.png"), full_page=True)

                # your configuration, with its estimate band (on the MACs axis until measured)
                page.get_by_text("MACs", exact=True).click()
                wait_idle(page)
                chart = page.wait_for_function(CHART_ON, arg="GMACs").json_value()
                mine = [t for t in chart["traces"] if t["name"].startswith("your configurations")]
                assert len(mine) == 1 and "estimate" in mine[0]["name"]
                network = from_phi(*(float(v) for v in CONFIG.values()))
                band = estimate_top1(network.macs, published_fit()).loo_rmse_pct
                assert mine[0]["error"] == [pytest.approx(band)]
            except Exception:
                ARTIFACTS.mkdir(exist_ok=True)
                page.screenshot(path=str(ARTIFACTS / "failure-jobs.png"), full_page=True)
                raise
            finally:
                browser.close()
        assert server.workers(), "the server started no worker"
    finally:
        server.stop()
