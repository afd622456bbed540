"""End to end, as a first visit meets it (Playwright + Chromium against ``streamlit run``, a
fresh store, the server's own worker, a 1400×1000 window).

Compare opens with the first-run sweep's progress above the fold and a full MACs chart; the
explorer is also at ``/explorer``; ``zoo evaluate`` in a terminal puts the own-data axis on the
chart with latency points and nothing measured by hand; once the default view's sweep has
landed, "Measure what this view is missing" on Paper (Table 2) draws every B0–B7 that fits here.
Prints how long the sweep took (the README states it). ``make screenshots`` publishes the
compare page from this run.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

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
SCREENSHOTS = ROOT / "docs" / "screenshots"
FOLD = 1000  # the window's height: what a visitor sees without scrolling
SWEEP_DEADLINE_S = 1500
VIEW_DEADLINE_S = 900
# What the page's chart draws, read from plotly's own graph div.
CHART = """() => {
  const gd = document.querySelector('[data-testid=stPlotlyChart] .js-plotly-plot');
  if (!gd || !gd._fullData || !gd.layout) return null;
  return {
    x_title: (gd.layout.xaxis.title || {}).text || '',
    // _fullData: plotly's decoded traces (gd.data may hold base64 typed arrays)
    traces: (gd._fullData || []).filter(t => t.visible !== false).map(t => ({
      name: t.name || '', mode: t.mode || '', n: (t.x || []).length,
      text: t.text ? Array.from(t.text).map(String) : [],
    })),
  };
}"""
# The chart once its x axis title starts with the argument (else a falsy value: keep waiting).
CHART_ON = f"(axis) => {{ const c = ({CHART})(); return c && c.x_title.startsWith(axis) && c; }}"
# "button" once the missing-points button is on the page, "full" once a latency chart draws
# every network named in the argument (else null: keep waiting).
READY = f"""(wanted) => {{
  const button = [...document.querySelectorAll('button')]
    .some(b => b.innerText.includes('Measure what this view is missing'));
  if (button) return 'button';
  const c = ({CHART})();
  if (!c || !c.x_title.startsWith('latency')) return null;
  const drawn = new Set(c.traces.flatMap(t => t.text.map(s => s.replace(/ \\?$/, ''))));
  return wanted.every(w => drawn.has(w)) ? 'full' : null;
}}"""


def _points(chart: dict | None) -> int:
    """Published models drawn (not your configurations, not the front's line)."""
    if not chart:
        return 0
    return sum(
        t["n"]
        for t in chart["traces"]
        if t["mode"] != "lines" and not t["name"].startswith("your configurations")
    )


def _jobs(store: Path, **filters) -> list:
    from zoo.store import jobs
    from zoo.store.measurement_store import MeasurementStore

    with MeasurementStore(store) as s:
        return jobs.jobs(s, limit=2000, **filters)


def _wait_jobs(store: Path, deadline_s: float, **filters) -> list:
    """The jobs ``filters`` select once none is queued or running (fails at the deadline)."""
    deadline = time.monotonic() + deadline_s
    while True:
        selected = _jobs(store, **filters)
        if selected and all(j.state not in ("queued", "running") for j in selected):
            return selected
        assert time.monotonic() < deadline, [(j.label, j.state) for j in selected]
        time.sleep(2.0)


def _wait_front(store: Path, deadline_s: float) -> None:
    """Until no job at normal priority is queued or running (the background sweep may go on)."""
    from zoo.store.jobs import NORMAL

    deadline = time.monotonic() + deadline_s
    while front := [j for j in _jobs(store, states=("queued", "running")) if j.priority >= NORMAL]:
        assert time.monotonic() < deadline, [(j.label, j.state) for j in front]
        time.sleep(2.0)


def _labelled_folder(root: Path) -> Path:
    """The bundled photos as a labelled folder, DIR/<class>/<image>."""
    for folder, photo in (("tabby", "cat.jpg"), ("espresso", "espresso.jpg")):
        (root / folder).mkdir(parents=True)
        shutil.copy(ROOT / "data" / "photos" / photo, root / folder / photo)
    return root


def _shot(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def test_a_first_visit_fills_every_view_without_measuring_by_hand(tmp_path):
    from dashboard.measuring import queue
    from dashboard.plotting import short_name

    store = tmp_path / "measurements.sqlite"
    env = {
        "EFFSCALE_STORE": str(store),
        "EFFSCALE_LOCK": str(tmp_path / "measure.lock"),  # no other test's measurement
        "EFFSCALE_CACHE": str(tmp_path / "artifacts"),
        "EFFSCALE_AUTO_SWEEP": "1",
        "EFFSCALE_DASHBOARD_WORKER": "1",
    }
    server = StreamlitServer(env, log_path=tmp_path / "streamlit.log").start()
    try:
        with sync_api.sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": FOLD})
            page.set_default_timeout(120_000)
            try:
                started = time.monotonic()
                page.goto(server.url + "/compare")
                wait_idle(page)
                # The sweep's progress, above the fold, with an ETA; a full MACs chart meanwhile.
                bar = page.get_by_text("First visit on this machine: measuring")
                bar.wait_for()
                box = bar.bounding_box()
                assert box and box["y"] + box["height"] <= FOLD, box
                assert "to go (an estimate)" in bar.inner_text()
                chart = page.wait_for_function(CHART_ON, arg="GMACs").json_value()
                assert _points(chart) >= 20
                _shot(page, "first-visit")

                # The explorer answers at /explorer too.
                page.goto(server.url + "/explorer")
                wait_idle(page)
                page.wait_for_selector("[data-testid='stMetric']")
                assert page.get_by_text("Page not found").count() == 0

                # A terminal: evaluate on a labelled folder; its latency is queued on its own.
                folder = _labelled_folder(tmp_path / "pets")
                evaluated = subprocess.run(
                    [sys.executable, "-m", "zoo", "evaluate", str(folder)]
                    + ["--model", "tf_efficientnet_lite0"],
                    env={**os.environ, **env, "HF_HUB_OFFLINE": "1"},
                    capture_output=True,
                    text=True,
                    timeout=600,
                    cwd=tmp_path,
                )
                assert evaluated.returncode == 0, evaluated.stderr
                assert _jobs(store, group="evaluate"), evaluated.stderr

                sweep = _wait_jobs(store, SWEEP_DEADLINE_S, group=queue.SWEEP_GROUP)
                swept_s = time.monotonic() - started
                done = [j for j in sweep if j.state == "done"]
                print(f"\nfirst-run sweep: {len(done)} of {len(sweep)} networks in {swept_s:.0f} s")
                assert len(done) >= len(sweep) - 1, [(j.label, j.error) for j in sweep]
                _wait_jobs(store, 300, group="evaluate")

                # The own-data axis: points on latency, measured by nobody by hand.
                page.goto(server.url + "/compare")
                wait_idle(page)
                page.get_by_text("top-1 on your data:").first.click()
                wait_idle(page)
                chart = page.wait_for_function(CHART_ON, arg="latency", timeout=60_000)
                assert _points(chart.json_value()) >= 1

                # Paper (Table 2): what it lacks, queued with one button, drawn once landed.
                page.goto(server.url + "/compare?acc=paper&x=latency")
                wait_idle(page)
                wanted = sorted(short_name(f"efficientnet_b{i}") for i in range(8))
                # The run may not have reached the panel yet: wait for the button or a full chart.
                ready = page.wait_for_function(READY, arg=wanted, timeout=120_000).json_value()
                if ready == "button":
                    page.get_by_role("button", name="Measure what this view is missing").click()
                    page.get_by_text(re.compile(r"Queued \d+ measurement job")).first.wait_for()
                _wait_front(store, VIEW_DEADLINE_S)
                page.goto(server.url + "/compare?acc=paper&x=latency")
                wait_idle(page)
                chart = page.wait_for_function(CHART_ON, arg="latency", timeout=60_000)
                chart = chart.json_value()
                drawn = {s.removesuffix(" ?") for t in chart["traces"] for s in t["text"]}
                assert set(wanted) <= drawn, (
                    sorted(set(wanted) - drawn),
                    [(j.label, j.error) for j in _jobs(store, states=("failed",))],
                )
                missing = page.get_by_role("button", name="Measure what this view is missing")
                assert missing.count() == 0
                page.wait_for_timeout(1500)  # plotly draws after the run
                shot = _shot(page, "compare-paper")
                if os.environ.get("EFFSCALE_UPDATE_SCREENSHOTS") == "1":
                    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(shot, SCREENSHOTS / "compare-paper.png")
            except Exception:
                _shot(page, "failure-first-visit")
                raise
            finally:
                browser.close()
        assert server.workers(), "the server started no worker"
    finally:
        server.stop()
