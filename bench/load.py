"""Load test: many concurrent browser sessions on one ``streamlit run`` server (loopback only).

What it does (``--sessions`` N, default 8; ``--images`` M, default 25):

1. starts ``streamlit run app.py`` on a free 127.0.0.1 port with a temporary measurement store
   and a private measurement lock (``EFFSCALE_STORE``, ``EFFSCALE_LOCK``);
2. runs one session alone (explorer, φ slider, classify M photos) and records the server's
   resident memory after it: the model is loaded by then;
3. runs N sessions at once in headless Chromium (one browser, one context per session), each:
   open the explorer with a hostile query string (NaN, 1e400, a script tag, 5000 characters:
   each must be refused with a warning and the URL rewritten), move the φ slider with the
   keyboard ``--phi-moves`` times (25 key presses each), open the
   classify page, upload M generated photos (crops and flips of scikit-image's cat, coffee and
   astronaut) and wait until every one has a top-1 verdict;
4. while they classify, a measurement is started with ``python -m zoo measure`` (same lock),
   and one more session asks the compare page to measure a model while that one runs: the page
   queues jobs that the server's worker runs; the job must say it waits, its timing must start
   only after the CLI's has finished, and the page must show the queue empty by itself after;
5. samples the server process (and its process tree) resident memory every 0.2 s.

It prints a table (sessions, actions, errors, p50/p95 per action, peak memory) and the
serialization evidence, writes the figures as JSON (``--json``), and exits 1 on any error.
``--quick`` (2 sessions, 3 images) is what ``tests/test_load_quick.py`` runs.

Usage: ``python -m bench.load [--sessions 8] [--images 25] [--max-seconds 1200] [--quick] [-v]``
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

from harness.browser import CHROMIUM, CHROMIUM_ARGS, IDLE_SELECTORS, StreamlitServer
from zoo.measure.locking import lock_file_held

ROOT = Path(__file__).resolve().parent.parent

VERBOSE = False
HOSTILE_QUERY = {
    "phi": "nan",
    "alpha": "1e400",
    "r": "-5",
    "mode": "<script>alert(1)</script>",
    "variant": "b" * 5000,
}
PHI_KEYS_PER_MOVE = 25  # ArrowRight presses per slider move: φ += 0.25
PAGE_MEASURE_MODEL = "mobilenetv3_large_100"  # fast to time; on the compare page's list
# Long enough (about 8 s of timed forwards) for the page's request to arrive while it runs.
CLI_MEASURE = ["--variant", "b0", "--device", "cpu", "--threads", "1", "--warmup", "2",
               "--iters", "1000", "--max-seconds", "8", "--format", "json", "--no-progress"]  # fmt: skip


# --------------------------------------------------------------------------- bookkeeping


@dataclass
class Record:
    session: str
    action: str
    seconds: float
    ok: bool
    detail: str = ""


@dataclass
class Results:
    records: list[Record] = field(default_factory=list)
    server_ms_per_image: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def add(self, record: Record) -> None:
        self.records.append(record)
        if not record.ok:
            self.errors.append(f"{record.session} {record.action}: {record.detail}")


class MemorySampler:
    """Peak RSS of the server process and of its whole process tree (measurement workers)."""

    def __init__(self, pid: int, interval_s: float = 0.2) -> None:
        import psutil

        self.process = psutil.Process(pid)
        self.interval_s = interval_s
        self.peak_server = 0
        self.peak_tree = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def sample(self) -> tuple[int, int]:
        import psutil

        server = self.process.memory_info().rss
        tree = server
        for child in self.process.children(recursive=True):
            with contextlib.suppress(psutil.Error):
                tree += child.memory_info().rss
        self.peak_server = max(self.peak_server, server)
        self.peak_tree = max(self.peak_tree, tree)
        return server, tree

    def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(Exception):
                self.sample()
            self._stop.wait(self.interval_s)

    def reset_peaks(self) -> None:
        self.peak_server = self.peak_tree = 0

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _tree_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process and its live children."""
    import psutil

    root = psutil.Process(pid)
    total = 0.0
    for proc in [root, *root.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            times = proc.cpu_times()
            total += times.user + times.system
    return total


def _mib(n: int) -> float:
    return n / 2**20


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


# --------------------------------------------------------------------------- one session


async def _wait_idle(page, timeout_ms: int) -> None:
    await page.wait_for_selector(IDLE_SELECTORS[0], timeout=timeout_ms)
    await page.wait_for_timeout(300)  # let a just-triggered rerun start
    await page.wait_for_selector(IDLE_SELECTORS[1], timeout=timeout_ms)


async def _url_phi(page) -> float:
    value = await page.evaluate("new URLSearchParams(location.search).get('phi')")
    return float(value) if value else 0.0


async def _check_no_exception(page) -> str:
    count = await page.locator("[data-testid='stException']").count()
    if count:
        text = await page.locator("[data-testid='stException']").first.inner_text()
        return f"exception on the page: {text[:300]}"
    return ""


async def _timed(results: Results, session: str, action: str, coro) -> bool:
    started = time.perf_counter()
    try:
        problem = await coro
    except Exception as exc:  # noqa: BLE001 - a timeout or a broken page is an error, counted
        problem = f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}"
    record = Record(session, action, time.perf_counter() - started, not problem, problem or "")
    results.add(record)
    if VERBOSE:
        status = "ok" if record.ok else f"ERROR {record.detail}"
        print(f"  {session:>8}  {action:<26} {record.seconds:7.2f} s  {status}", flush=True)
    return not problem


async def run_session(
    browser,
    url: str,
    name: str,
    photos: list[tuple[str, bytes, str]],
    phi_moves: int,
    results: Results,
    timeout_ms: int,
    started_classifying: asyncio.Event | None = None,
) -> None:
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    page = await context.new_page()
    page.set_default_timeout(timeout_ms)
    try:

        async def open_explorer() -> str:
            # Every session arrives with a hostile query string: the page must warn, fall
            # back to defaults and rewrite the URL.
            await page.goto(url + "/?" + urlencode(HOSTILE_QUERY))
            await _wait_idle(page, timeout_ms)
            await page.wait_for_selector("[data-testid='stMetric']")
            warnings = await page.locator("[data-testid='stAlertContentWarning']").all_inner_texts()
            url_warnings = [w for w in warnings if w.startswith("URL:")]
            if len(url_warnings) != len(HOSTILE_QUERY):
                return f"{len(url_warnings)} URL warnings for {len(HOSTILE_QUERY)} bad parameters"
            if await page.evaluate("location.search"):
                return f"the URL was not rewritten: {page.url[:200]}"
            return await _check_no_exception(page)

        if not await _timed(results, name, "open explorer", open_explorer()):
            return
        for _move in range(phi_moves):

            async def move_phi() -> str:
                before = await _url_phi(page)
                await page.get_by_role("slider").first.focus()
                for _ in range(PHI_KEYS_PER_MOVE):
                    await page.keyboard.press("ArrowRight")
                # Done when a run wrote a larger φ to the URL, the slider shows that same value
                # and no run is in progress (a key press may be coalesced under load, so the
                # exact end value is not assumed).
                await page.wait_for_function(
                    "(before) => { const app = document.querySelector('[data-testid=stApp]');"
                    " const q = parseFloat(new URLSearchParams(location.search).get('phi'));"
                    " const t = document.querySelector('[data-testid=stSliderThumbValue]');"
                    " return q > before && t && Math.abs(parseFloat(t.innerText) - q) < 1e-9"
                    " && app.getAttribute('data-test-script-state') === 'notRunning'; }",
                    arg=before,
                    timeout=timeout_ms,
                )
                return await _check_no_exception(page)

            if not await _timed(results, name, "move φ slider", move_phi()):
                return

        async def open_classify() -> str:
            await page.get_by_role("link", name="Classify").click()
            await _wait_idle(page, timeout_ms)
            await page.wait_for_selector("[data-testid='stFileUploaderDropzone']")
            return await _check_no_exception(page)

        if not await _timed(results, name, "open classify", open_classify()):
            return

        async def upload_and_classify() -> str:
            files = [{"name": n, "mimeType": m, "buffer": b} for n, b, m in photos]
            await page.locator("[data-testid='stFileUploaderDropzone'] input[type=file]")\
                .set_input_files(files)  # fmt: skip
            if started_classifying is not None:
                started_classifying.set()
            await page.wait_for_function(
                "(n) => { const app = document.querySelector('[data-testid=stApp]');"
                " const done = [...document.querySelectorAll('[data-testid=stMarkdown]')]"
                ".filter(m => m.innerText.includes('→')).length;"
                " const bad = document.querySelectorAll('[data-testid=stException],"
                " [data-testid=stAlertContentError]').length;"
                " return (done >= n || bad > 0) && app &&"
                " app.getAttribute('data-test-script-state') === 'notRunning'; }",
                arg=len(photos),
                timeout=timeout_ms,
            )
            problem = await _check_no_exception(page)
            errors = page.locator("[data-testid='stAlertContentError']")
            if await errors.count():
                problem = problem or f"error shown: {(await errors.first.inner_text())[:300]}"
            verdicts = await page.locator("[data-testid='stMarkdown']").filter(has_text="→").count()
            if verdicts != len(photos):
                problem = problem or f"{verdicts} verdicts for {len(photos)} images"
            for caption in await page.locator(
                "[data-testid='stCaptionContainer']"
            ).all_inner_texts():
                head = caption.split(" ms for decode", 1)
                if len(head) == 2:
                    with contextlib.suppress(ValueError):
                        results.server_ms_per_image.append(float(head[0].strip()))
            return problem

        await _timed(results, name, f"classify {len(photos)} images", upload_and_classify())
    finally:
        await context.close()


# --------------------------------------------------------------------------- serialization


_SERVER = "multiprocessing.forkserver"


def _timing_processes(root_pid: int) -> list[int]:
    """Processes under ``root_pid`` that are timing a model right now: the zoo forks one process
    per measurement from a ``multiprocessing`` fork server (``zoo.isolation``), so a timing
    process is a fork-server process whose parent is the fork server."""
    import psutil

    out = []
    try:
        children = psutil.Process(root_pid).children(recursive=True)
    except psutil.Error:
        return out
    for child in children:
        with contextlib.suppress(psutil.Error):
            if _SERVER in " ".join(child.cmdline()):
                parent = child.parent()
                if parent is not None and _SERVER in " ".join(parent.cmdline()):
                    out.append(child.pid)
    return out


class TimingWatch:
    """When models were being timed under each of two process trees (first and last sighting)."""

    def __init__(self, roots: dict[str, int], t0: float) -> None:
        self.roots = roots
        self.t0 = t0
        self.seen: dict[str, list[float]] = {name: [] for name in roots}

    async def run(self) -> None:
        while True:
            now = time.monotonic() - self.t0
            for name, pid in self.roots.items():
                if _timing_processes(pid):
                    self.seen[name].append(now)
            await asyncio.sleep(0.05)

    def span(self, name: str) -> tuple[float, float] | None:
        times = self.seen[name]
        return (round(times[0], 2), round(times[-1], 2)) if times else None


async def measurement_check(
    browser, url: str, env: dict[str, str], lock: Path, server_pid: int, results: Results,
    timeout_ms: int,
) -> dict:  # fmt: skip
    """A CLI measurement holds the lock; the compare page queues another one meanwhile.

    The page's request is a job that the server's worker (a child of the server) runs. Serialized
    means: the job said it was waiting for another measurement while the CLI was timing, the
    worker timed the page's model only after the CLI's model had finished timing (the timing
    processes never overlapped), and the page showed the queue empty again by itself once the
    jobs were done.
    """
    from zoo.store.jobs import jobs
    from zoo.store.measurement_store import MeasurementStore

    store = MeasurementStore(env["EFFSCALE_STORE"])
    context = await browser.new_context(viewport={"width": 1400, "height": 1400})
    page = await context.new_page()
    page.set_default_timeout(timeout_ms)
    evidence: dict = {"cli_command": "python -m zoo measure " + " ".join(CLI_MEASURE)}
    page_queued = page_waiting = job_waiting = page_emptied = cli_timing_when_asked = False
    asked_at = page_done = None
    states: list[str] = []
    cli = watcher = None
    t0 = time.monotonic()
    watch = TimingWatch({}, t0)

    async def ask() -> str:
        nonlocal page_queued, page_waiting, job_waiting, page_emptied, cli_timing_when_asked
        nonlocal asked_at, page_done, states, cli, watcher, t0, watch
        # The page first, ready to measure (a model picked), then the CLI measurement.
        await page.goto(url + "/compare")
        await _wait_idle(page, timeout_ms)
        await page.get_by_test_id("stMultiSelect").last.click()
        await page.keyboard.type(PAGE_MEASURE_MODEL)
        await page.keyboard.press("Enter")
        await page.keyboard.press("Escape")
        await _wait_idle(page, timeout_ms)
        t0 = time.monotonic()
        cli = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "zoo", "measure", *CLI_MEASURE,
            cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        watch = TimingWatch({"cli": cli.pid, "page": server_pid}, t0)
        watcher = asyncio.create_task(watch.run())
        deadline = time.monotonic() + timeout_ms / 1000
        while not watch.seen["cli"] and cli.returncode is None and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        cli_timing_when_asked = bool(watch.seen["cli"]) and lock_file_held(lock)
        asked_at = time.monotonic() - t0
        await page.get_by_role("button", name="Measure", exact=True).click()
        # Watch the page and the queue until the jobs have ended and the page says so by itself
        # (no reload, no click: the queue panel polls the store).
        while time.monotonic() < deadline:
            text = await page.evaluate("document.body.innerText")
            page_queued |= "Queued " in text and "measurement job(s)" in text
            page_waiting |= "waiting for another measurement to finish" in text
            queued = jobs(store)
            job_waiting |= any(
                j.progress == "waiting for another measurement to finish" for j in queued
            )
            states = [j.state for j in queued]
            if queued and not any(j.active for j in queued):
                page_emptied = "Nothing queued" in text
                if page_emptied:
                    break
            await asyncio.sleep(0.1)
        page_done = time.monotonic() - t0
        await _wait_idle(page, timeout_ms)
        return await _check_no_exception(page)

    try:
        ok = await _timed(results, "measurer", "measure on compare page", ask())
    finally:
        await context.close()
        if cli is not None:
            with contextlib.suppress(asyncio.TimeoutError, ProcessLookupError):
                await asyncio.wait_for(cli.wait(), timeout=timeout_ms / 1000)
        if watcher is not None:
            watcher.cancel()
    if cli is None:
        results.errors.append("the measurement check did not get to start the CLI")
        return evidence
    out, err = await cli.communicate()
    try:
        cli_rows = json.loads(out.decode() or "[]")
    except ValueError:
        cli_rows = []
    cli_span, page_span = watch.span("cli"), watch.span("page")
    serialized = bool(
        ok
        and cli.returncode == 0
        and cli_timing_when_asked
        and page_queued
        and job_waiting
        and page_emptied
        and states
        and all(state == "done" for state in states)
        and cli_span
        and page_span
        and asked_at is not None
        and asked_at < cli_span[1] < page_span[0]
    )
    evidence.update(
        cli_exit=cli.returncode,
        cli_model=cli_rows[0]["model"] if cli_rows else None,
        cli_timing_s=cli_span,
        page_model=PAGE_MEASURE_MODEL,
        page_asked_at_s=round(asked_at, 2) if asked_at is not None else None,
        page_said_queued=page_queued,
        job_said_waiting=job_waiting,
        page_showed_waiting=page_waiting,
        jobs=states,
        page_timing_s=page_span,
        page_emptied_queue_at_s=round(page_done, 2) if page_done is not None else None,
        cli_stderr_tail=err.decode(errors="replace").strip().splitlines()[-1:] if err else [],
        serialized=serialized,
    )
    if not serialized:
        results.errors.append(f"measurement not shown to be serialized: {evidence}")
    return evidence


# --------------------------------------------------------------------------- main


async def _run(args: argparse.Namespace) -> dict:
    from playwright.async_api import async_playwright

    from harness.corpus import load_photos

    photos = load_photos(args.images)
    tmp = Path(tempfile.mkdtemp(prefix="effscale-load-"))
    lock = tmp / "measure.lock"
    env = {"EFFSCALE_STORE": str(tmp / "measurements.sqlite"), "EFFSCALE_LOCK": str(lock)}
    # The server runs its own worker (the page's measurements are jobs it runs); no first-run
    # sweep, so that the only jobs are the measurement check's.
    server_env = dict(env, EFFSCALE_DASHBOARD_WORKER="1", EFFSCALE_AUTO_SWEEP="0")
    timeout_ms = int(args.action_timeout * 1000)
    report: dict = {
        "sessions": args.sessions,
        "images_per_session": args.images,
        "phi_moves_per_session": args.phi_moves,
        "cpu_count": os.cpu_count(),
    }
    server = StreamlitServer(server_env, log_path=tmp / "streamlit.log")
    with server, MemorySampler(server.pid) as memory:
        report["rss_idle_mib"] = _mib(memory.sample()[0])
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                # One session alone: loads the model and shows the one-session footprint.
                alone = Results()
                await run_session(
                    browser, server.url, "alone", photos, args.phi_moves, alone, timeout_ms
                )
                report["rss_after_1_session_mib"] = _mib(memory.sample()[0])
                report["peak_rss_1_session_mib"] = _mib(memory.peak_server)
                report["errors_1_session"] = alone.errors
                report["actions_1_session"] = _summary(alone)

                memory.reset_peaks()
                cpu_before = _tree_cpu_s(server.pid)
                results = Results()
                classifying = asyncio.Event()
                started = time.perf_counter()
                sessions = [
                    run_session(
                        browser, server.url, f"s{i + 1}", photos, args.phi_moves, results,
                        timeout_ms, classifying if i == 0 else None,
                    )
                    for i in range(args.sessions)
                ]  # fmt: skip

                async def measurer() -> dict:
                    await classifying.wait()  # the others are uploading/classifying now
                    menv = dict(os.environ, HF_HUB_OFFLINE="1", **env)
                    return await measurement_check(
                        browser, server.url, menv, lock, server.pid, results, timeout_ms
                    )

                tasks = [*sessions, measurer()] if args.measure else sessions
                gathered = await asyncio.wait_for(
                    asyncio.gather(*tasks, return_exceptions=True), timeout=args.max_seconds
                )
                report["wall_s"] = time.perf_counter() - started
                report["server_cpu_s"] = _tree_cpu_s(server.pid) - cpu_before
                for item in gathered:
                    if isinstance(item, BaseException):
                        results.errors.append(f"{type(item).__name__}: {item}")
                if args.measure and isinstance(gathered[-1], dict):
                    report["measurement"] = gathered[-1]
            finally:
                await browser.close()
        report["peak_rss_server_mib"] = _mib(memory.peak_server)
        report["peak_rss_tree_mib"] = _mib(memory.peak_tree)
    log = server.log_text()
    if "Traceback" in log:
        results.errors.append("server log has a traceback: " + log[log.index("Traceback") :][:600])
    report["errors"] = results.errors
    report["records"] = [r.__dict__ for r in results.records]
    report["server_ms_per_image"] = results.server_ms_per_image
    report["actions"] = _summary(results)
    return report


def _summary(results: Results) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for action in dict.fromkeys(r.action for r in results.records):
        rows = [r for r in results.records if r.action == action]
        ok = [r.seconds for r in rows if r.ok]
        out[action] = {
            "count": len(rows),
            "errors": sum(not r.ok for r in rows),
            "p50_s": _pct(ok, 50),
            "p95_s": _pct(ok, 95),
            "max_s": max(ok) if ok else float("nan"),
        }
    return out


def print_report(report: dict) -> None:
    print(
        f"\n{report['sessions']} concurrent sessions × {report['images_per_session']} images, "
        f"{report['phi_moves_per_session']} φ moves each; {report['cpu_count']} CPUs; "
        f"wall {report.get('wall_s', float('nan')):.1f} s"
    )
    header = f"{'action':<28}{'count':>7}{'errors':>8}{'p50 s':>9}{'p95 s':>9}{'max s':>9}"
    print(header)
    print("-" * len(header))
    for action, s in report["actions"].items():
        print(
            f"{action:<28}{s['count']:>7}{s['errors']:>8}{s['p50_s']:>9.2f}{s['p95_s']:>9.2f}"
            f"{s['max_s']:>9.2f}"
        )
    alone = report.get("actions_1_session", {})
    if alone:
        print(
            "one session alone, p50 s: "
            + ", ".join(f"{a} {v['p50_s']:.2f}" for a, v in alone.items())
        )
    if "server_cpu_s" in report:
        print(
            f"server CPU during the concurrent phase: {report['server_cpu_s']:.0f} s over "
            f"{report['wall_s']:.0f} s wall (the browsers share the same CPUs)"
        )
    per_image = report["server_ms_per_image"]
    if per_image:
        print(
            f"{'(server) ms per image':<28}{len(per_image):>7}{'':>8}{_pct(per_image, 50):>9.0f}"
            f"{_pct(per_image, 95):>9.0f}{max(per_image):>9.0f}   (decode+preprocess+forward)"
        )
    print(
        f"server RSS: idle {report['rss_idle_mib']:.0f} MiB; after 1 session "
        f"{report['rss_after_1_session_mib']:.0f} MiB; peak with {report['sessions']} sessions "
        f"{report['peak_rss_server_mib']:.0f} MiB (process tree incl. measurement workers "
        f"{report['peak_rss_tree_mib']:.0f} MiB)"
    )
    extra = report["peak_rss_server_mib"] - report["rss_after_1_session_mib"]
    if report["sessions"] > 1:
        print(
            f"  growth per extra session: {extra / (report['sessions'] - 1):.0f} MiB "
            "(uploads, rendered results; the model is shared, loaded once)"
        )
    m = report.get("measurement")
    if m:
        print(
            f"measurement (seconds from the CLI's start): `{m['cli_command']}` timed "
            f"{m['cli_model']} during {m['cli_timing_s']}; the compare page asked for "
            f"{m['page_model']} at {m['page_asked_at_s']} (said it queued the jobs: "
            f"{m['page_said_queued']}); the job said 'waiting for another measurement to finish': "
            f"{m['job_said_waiting']} (the page's queue table showed it: "
            f"{m['page_showed_waiting']}); the server's worker timed it during "
            f"{m['page_timing_s']}; jobs {m['jobs']}; the page showed the queue empty at "
            f"{m['page_emptied_queue_at_s']} -> "
            + (
                "SERIALIZED: the page waited for the CLI's measurement"
                if m["serialized"]
                else "NOT SHOWN to be serialized"
            )
        )
    print(f"errors: {len(report['errors'])}")
    for error in report["errors"][:20]:
        print("  " + error)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=8)
    parser.add_argument("--images", type=int, default=25)
    parser.add_argument("--phi-moves", type=int, default=3)
    parser.add_argument(
        "--max-seconds",
        type=float,
        default=1200.0,
        help="bound on the concurrent phase (each action is also bounded)",
    )
    parser.add_argument("--action-timeout", type=float, default=600.0, help="seconds per action")
    parser.add_argument("--quick", action="store_true", help="2 sessions, 3 images, 2 φ moves")
    parser.add_argument("--no-measure", dest="measure", action="store_false")
    parser.add_argument("-v", "--verbose", action="store_true", help="print each action")
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    args = parser.parse_args(argv)
    global VERBOSE
    VERBOSE = args.verbose
    if args.quick:
        args.sessions, args.images, args.phi_moves = 2, 3, 2
    if not 1 <= args.sessions <= 64 or not 1 <= args.images <= 200:
        parser.error("--sessions must be 1..64 and --images 1..200")
    if not Path(CHROMIUM).exists():
        print(f"Chromium not found at {CHROMIUM}", file=sys.stderr)
        return 2
    try:
        report = asyncio.run(_run(args))
    except asyncio.TimeoutError:
        print(
            f"error: the run did not finish within --max-seconds {args.max_seconds}",
            file=sys.stderr,
        )
        return 1
    print_report(report)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=str))
    return 1 if report["errors"] or report["errors_1_session"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
