"""End to end in a real browser: Playwright drives Debian's Chromium against ``streamlit run``.

Load the app, move the φ slider, see the table and metrics change, open the compare page, switch
to classify, upload scikit-image's cat photo and see a cat label and, for each model, the Grad-CAM
overlay of where it looks (in the classify screenshot). Screenshots go to
``test-artifacts/``; ``make screenshots`` also copies the final ones to ``docs/screenshots/``
(used by the README).

No browser is downloaded: ``make browser`` installs Debian's ``chromium``; without it the test
is skipped.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from harness.browser import CHROMIUM, CHROMIUM_ARGS, ROOT, StreamlitServer, wait_idle
from zoo.classify.cam import EXPLANATION_NOTE

ARTIFACTS = ROOT / "test-artifacts"
SCREENSHOTS = ROOT / "docs" / "screenshots"
CAT_WORDS = ("tabby", "tiger cat", "persian", "siamese", "egyptian cat")
# Small models measured (really, on this CPU) before the browser opens, so that the compare
# page's screenshot shows this machine's latencies.
PREMEASURED = (
    "mobilenetv3_large_100",
    "mobilenetv2_100",
    "efficientnet_b0",
    "efficientnet_b1",
    "tf_efficientnet_b0",
    "resnet50",
)

pytestmark = pytest.mark.slow

if not Path(CHROMIUM).exists():
    pytest.skip(
        f"Chromium not found at {CHROMIUM} (run `make browser` to install Debian's chromium)",
        allow_module_level=True,
    )
import playwright.sync_api as sync_api  # noqa: E402
import skimage.data as skimage_data  # noqa: E402

CAT = Path(skimage_data.__file__).parent / "chelsea.png"


def _premeasure(store_path: Path) -> None:
    from data.accuracy import DEFAULT_VIEW, view_points
    from zoo.measure.isolation import shutdown
    from zoo.measure.orchestrate import sweep
    from zoo.models.spec import spec_from_timm
    from zoo.records.protocol import Protocol
    from zoo.store.measurement_store import MeasurementStore

    # At the input size of the compare page's default accuracy view, so the points show.
    resolution = {p.arch: p.measure_px for p in view_points(DEFAULT_VIEW).points}
    specs = [spec_from_timm(m, resolution=resolution[m]) for m in PREMEASURED]
    # One thread: on a shared, busy CPU, multi-threaded timings swing by 10x or more.
    protocol = Protocol(device="cpu", threads=1, max_seconds=2.0, max_iters=20)
    with MeasurementStore(store_path) as store:
        try:
            sweep(specs, protocol, store=store)
        finally:
            shutdown()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("e2e")
    store = tmp / "measurements.sqlite"
    _premeasure(store)
    # A private measurement lock for the server: the page's "another measurement is running"
    # notice must not depend on other work on this machine (the pre-measurement above used
    # the machine-wide lock, so it did wait for any other measurement).
    env = {"EFFSCALE_STORE": str(store), "EFFSCALE_LOCK": str(tmp / "measure.lock")}
    server = StreamlitServer(env, log_path=tmp / "streamlit.log")
    try:
        server.start()
    except RuntimeError as exc:
        pytest.fail(str(exc))
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def _metric(page, label: str) -> str:
    """The value of the metric whose label is exactly ``label``, waiting until it is drawn
    (metrics arrive one by one while a run streams in)."""
    label_re = re.compile(rf"^\s*{re.escape(label)}\s*$")
    metric = (
        page.locator("[data-testid='stMetric']")
        .filter(has=page.locator("[data-testid='stMetricLabel']", has_text=label_re))
        .first
    )
    metric.wait_for(timeout=60_000)
    return metric.locator("[data-testid='stMetricValue']").inner_text().strip()


def _table_text(page, containing: str = "") -> str:
    """The per-stage table's cells: the data grid draws on a canvas, but keeps an accessible
    (visually hidden) table in the DOM, whose text holds the raw numbers. Waits until that text
    contains ``containing`` (the grid fills it after drawing)."""
    page.wait_for_function(
        "(want) => { const t = document.querySelector('[data-testid=stDataFrame]');"
        " return t && t.textContent.includes(want) && t.textContent.includes('stem'); }",
        arg=containing,
        timeout=30_000,
    )
    return page.locator("[data-testid='stDataFrame']").first.text_content() or ""


def _shot(page, name: str, height: int | None = None) -> Path:
    """Screenshot the page. Streamlit scrolls inside its own container, so a whole page is
    captured by making the viewport ``height`` pixels tall first."""
    ARTIFACTS.mkdir(exist_ok=True)
    if height is not None:
        page.set_viewport_size({"width": 1400, "height": height})
        page.wait_for_timeout(1000)  # let charts re-lay out
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def _publish(path: Path, name: str) -> None:
    """Copy a screenshot to docs/screenshots/ (the README's) when asked: `make screenshots`
    sets EFFSCALE_UPDATE_SCREENSHOTS=1, so an ordinary test run leaves the tree clean."""
    if os.environ.get("EFFSCALE_UPDATE_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, SCREENSHOTS / f"{name}.png")


def test_explorer_compare_and_classify_in_chromium(server, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 2300})
    page.set_default_timeout(120_000)
    try:
        # --- explorer: B0 first, then drag φ to the end of the slider
        page.goto(server + "/")
        wait_idle(page)
        page.wait_for_selector("[data-testid='stMetric']")
        assert _metric(page, "Total blocks") == "16"
        assert _metric(page, "Resolution") == "224 px"
        page.wait_for_selector("[data-testid='stDataFrame']")
        from explorer import from_phi

        explorer_b0_macs = from_phi(0.0).stages[3].macs
        assert str(explorer_b0_macs) in _table_text(page, str(explorer_b0_macs))
        _shot(page, "explorer-b0")

        thumb = page.get_by_role("slider").first
        thumb.focus()
        for _ in range(300):  # 300 steps of 0.01: φ = 3.00
            page.keyboard.press("ArrowRight")
        wait_idle(page)
        page.wait_for_function(
            "() => [...document.querySelectorAll('[data-testid=stMetric]')]"
            ".some(m => m.innerText.includes('Total blocks') && !m.innerText.includes('\\n16'))"
        )
        wait_idle(page)
        # The page writes φ into the URL (shareable state); read it back from there.
        query = parse_qs(urlparse(page.url).query)
        phi = float(query["phi"][0])
        expected = from_phi(phi)
        assert phi > 0.5
        assert _metric(page, "Total blocks") == str(expected.total_blocks)
        assert _metric(page, "Resolution") == f"{expected.resolution} px"
        assert _metric(page, "Depth multiplier") == f"{expected.depth_multiplier:.3f}"
        # The per-stage table changed with it: its accessible grid now holds the new numbers.
        table_text = _table_text(page, str(expected.stages[3].macs))
        assert str(explorer_b0_macs) not in table_text
        _publish(_shot(page, "explorer", 3700), "explorer")

        # --- compare
        page.get_by_role("link", name="Compare").click()
        wait_idle(page)
        page.wait_for_selector("[data-testid='stPlotlyChart']")
        page.wait_for_timeout(1500)  # plotly draws after the run
        _publish(_shot(page, "compare", 1700), "compare")

        # --- classify: upload the cat
        page.get_by_role("link", name="Classify").click()
        wait_idle(page)
        # A second model next to the default one (both have offline weights).
        page.get_by_test_id("stMultiSelect").click()
        page.keyboard.type("tf_efficientnet_lite1")
        page.keyboard.press("Enter")
        page.keyboard.press("Escape")
        wait_idle(page)
        with page.expect_file_chooser() as chooser:
            page.get_by_test_id("stFileUploaderDropzone").click()
        chooser.value.set_files(
            files=[{"name": "cat.png", "mimeType": "image/png", "buffer": CAT.read_bytes()}]
        )
        page.wait_for_selector("text=→", timeout=180_000)
        wait_idle(page, 180_000)
        verdicts = page.locator("[data-testid='stMarkdown']").filter(has_text="→")
        texts = [verdicts.nth(i).inner_text().lower() for i in range(verdicts.count())]
        assert texts and all(any(word in t for word in CAT_WORDS) for t in texts), texts
        assert any("tf_efficientnet_lite0" in t for t in texts)
        # Where each model looks: one Grad-CAM overlay per model, labelled as an explanation aid.
        overlays = page.locator("[data-testid='stImage']").filter(has_text=EXPLANATION_NOTE)
        overlays.first.wait_for(timeout=60_000)
        assert overlays.count() == 2
        for i in range(2):  # the overlay image itself has loaded (the screenshot shows it)
            page.wait_for_function(
                "(img) => img.complete && img.naturalWidth > 0",
                arg=overlays.nth(i).locator("img").element_handle(),
            )
        page.wait_for_timeout(1500)
        _publish(_shot(page, "classify", 1200), "classify")

        # --- back to the explorer: the page is as it was left
        page.get_by_role("link", name="Explorer").click()
        wait_idle(page)
        page.wait_for_selector("[data-testid='stMetric']")
        assert _metric(page, "Total blocks") == str(expected.total_blocks)
    except Exception:
        _shot(page, "failure")
        raise
    finally:
        page.close()
