"""The Voilà dashboard in a real (headless Debian) Chromium, served by a real Voilà server.

Starts the dashboard server as ``make dashboard`` does (``python -m asi_lib.dashboard_server``
in notebooks/dashboard with its ``voila.json``: the project's kernel, the offline template
``asi-kit``, a preheated kernel pool) on a free port, opens the page for one
municipality, changes dropdowns and checks what a manager would see: the table
updates, Swedish headings, no count 1–4, no other municipality's name, the clear
refusal for a disallowed query value, and that no request left localhost (outside
requests are blocked *and* recorded; the list must stay empty).

Needs Chromium (``make browser-deps``) and ``playwright`` (the ``test`` extra);
without them the tests are skipped with the reason.
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "notebooks" / "dashboard" / "oversikt.ipynb"
SHARE = ROOT / "notebooks" / "dashboard" / "share"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
KOMMUN = "Älvstad"
LAUNCH_ARGS = ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run"]
SMALL = {"1", "2", "3", "4"}
EXTRA = os.environ.get("ASI_VOILA_EXTRA", "").split()
#: Time for one page: kernel start, store load, dashboard precompute, first render.
PAGE_TIMEOUT_MS = 90_000
#: First-view budget with a preheated kernel on the demo release: 3 s on a quiet machine; on a shared
#: machine the budget grows with the load per core (the measured figure is printed either way).
FIRST_VIEW_BUDGET_S = 3.0 * max(1.0, os.getloadavg()[0] / (os.cpu_count() or 1))

playwright_sync = pytest.importorskip("playwright.sync_api", reason="playwright saknas (pip install -e '.[test]')")
if not os.path.exists(CHROMIUM):
    pytest.skip("Chromium saknas: kör 'make browser-deps' (apt-get install chromium) / Chromium missing",
                allow_module_level=True)



def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


#: The module's server process and log (the first-view test waits for a warm pool, as a visitor at a quiet moment).
_SERVED: dict = {}


def _wait_port(port: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"voila exited with {proc.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise TimeoutError("voila did not start")


def _wait_pool_warm(proc: subprocess.Popen, log: Path, timeout: float = 180) -> None:
    """Until the preheated kernels have started and finished loading (their memory is steady)."""
    import psutil
    end = time.monotonic() + timeout
    while "is filled with" not in log.read_text(errors="replace") and time.monotonic() < end:
        time.sleep(0.5)
    last: list[float] = []
    while time.monotonic() < end:
        kids = [k for k in psutil.Process(proc.pid).children(recursive=True)
                if "ipykernel_launcher" in " ".join(k.cmdline())]
        last = (last + [sum(k.memory_info().rss for k in kids)])[-4:]
        if len(last) == 4 and max(last) - min(last) < 0.01 * max(last):
            return
        time.sleep(1)


@pytest.fixture(scope="module")
def release():
    from asi_lib.demo import ensure_demo_release
    return ensure_demo_release(ROOT / "out" / "demo")


@pytest.fixture(scope="module")
def rel(release):
    from asi_lib.release import load_release
    return load_release(release)


@pytest.fixture(scope="module")
def others(rel):
    names = rel.municipalities
    assert KOMMUN in names
    return [n for n in names if n != KOMMUN]


@pytest.fixture(scope="module")
def server(release, tmp_path_factory):
    """The dashboard as ``make dashboard`` serves it: the launcher, run in notebooks/dashboard
    (its voila.json: template, preheated pool, culling, gate), on a free port, rendering the demo release."""
    port = _free_port()
    log = tmp_path_factory.mktemp("voila") / "voila.log"
    env = {**os.environ, "JUPYTER_PATH": str(SHARE), "ASI_KIT_RELEASE": str(release),
           "PYTHONUNBUFFERED": "1", "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    env.pop("ASI_DASHBOARD_KOMMUNER", None)
    # more pages than voila.json's 6 open in this module within the culling time (the ceiling itself is
    # tested in test_dashboard_server.py)
    cmd = [sys.executable, "-m", "asi_lib.dashboard_server", NOTEBOOK.name, f"--port={port}",
           "--AsiVoila.max_sessions=16", *EXTRA]
    with open(log, "wb") as fh:
        proc = subprocess.Popen(cmd, cwd=NOTEBOOK.parent, env=env, stdout=fh, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        _wait_port(port, proc)
        _wait_pool_warm(proc, log)
        _SERVED.update(proc=proc, log=log)
        yield f"http://127.0.0.1:{port}/"
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)


@pytest.fixture(scope="module")
def browser():
    with playwright_sync.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, chromium_sandbox=False, args=LAUNCH_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, server):
    """A page that blocks and records every request not going to the local server."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 1000}, locale="sv-SE")
    outside: list[str] = []

    def route(r):
        host = urlsplit(r.request.url).hostname
        if r.request.url.startswith(("data:", "blob:")) or host in ("127.0.0.1", "localhost"):
            return r.continue_()
        outside.append(r.request.url)
        return r.abort()

    ctx.route("**/*", route)
    # every text the loading spinner shows, from the first paint on
    ctx.add_init_script("""
        window.__loadingTexts = [];
        new MutationObserver(() => {
            const el = document.getElementById('loading_text');
            const t = el && el.textContent.trim();
            if (t && window.__loadingTexts[window.__loadingTexts.length - 1] !== t) window.__loadingTexts.push(t);
        }).observe(document, {subtree: true, childList: true, characterData: true});
    """)
    pg = ctx.new_page()
    pg.console = []
    pg.on("console", lambda m: pg.console.append(f"{m.type}: {m.text}") if m.type in ("warning", "error") else None)
    pg.on("pageerror", lambda e: pg.console.append(f"pageerror: {e}"))
    pg.on("websocket", lambda ws: None if urlsplit(ws.url).hostname in ("127.0.0.1", "localhost")
          else outside.append(ws.url))
    pg.outside = outside
    yield pg
    ctx.close()


def _cells(page) -> list[str]:
    return page.eval_on_selector_all(".asi-tables td", "els => els.map(e => e.textContent.trim())")


def _headings(page) -> list[str]:
    return page.eval_on_selector_all(".asi-tables th", "els => els.map(e => e.textContent.trim())")


def _check_protected(page, others) -> None:
    cells = _cells(page) + page.eval_on_selector_all(".asi-kf-value", "els => els.map(e => e.textContent.trim())")
    assert cells, "nothing shown"
    assert not SMALL & set(cells), "a count 1–4 is shown"
    text = page.inner_text("body")
    leaked = [n for n in others if re.search(rf"\b{re.escape(n)}\b", text)]
    assert not leaked, f"another municipality's name on the page: {leaked}"


def _open(page, url):
    t0 = time.monotonic()
    page.goto(url, wait_until="commit")
    page.wait_for_selector(".asi-kf-value", timeout=PAGE_TIMEOUT_MS)
    page.wait_for_selector(".asi-plot img, img.asi-plot, .asi-message", state="attached", timeout=PAGE_TIMEOUT_MS)
    return time.monotonic() - t0


def test_manager_view_for_one_municipality(page, server, others, rel, tmp_path):
    first = _open(page, server + "?kommun=" + quote(KOMMUN))
    # key figures first: four large numbers with their n and the region's value, the release's cells
    values = page.eval_on_selector_all(".asi-kf-value", "els => els.map(e => e.textContent.trim())")
    labels = page.inner_text(".asi-keyfigures")
    assert len(values) == 4, values
    assert values[0] == rel.client_count(KOMMUN)[0].replace("\u2009", " ") or values[0] == rel.client_count(KOMMUN)[0]
    for word in ("Klienter med ASI Grund", "Uppföljda", "Bortfall vid Grund", "Förbättrade", "Regionen:"):
        assert word in labels, word
    assert rel.reference_date in page.inner_text(".asi-heading")
    assert page.inner_text("body").count("ASI-översikt") == 1, "the title once"
    body = page.inner_text("body")
    assert not [t for t in ("p-värde", "Hedges", "Wilcoxon", " dz") if t in body], "statistical terms in the manager view"
    # one figure per view; the table on demand
    page.select_option(".asi-view select", label="Förändring vid uppföljning")
    page.wait_for_function("() => document.querySelector('.asi-export a.asi-export-png') && "
                           "document.querySelector('.asi-export a').download.includes('change')", timeout=30_000)
    assert not page.is_visible(".asi-tables table")
    page.click(".asi-show-table")
    page.wait_for_selector(".asi-tables table", timeout=30_000)
    heads = _headings(page)
    assert "Andel förbättrade" in heads and "95 % intervall" in heads, heads
    _check_protected(page, others)
    assert not [t for t in ("p-värde", "Hedges", "Wilcoxon") if t in page.inner_text("body")]
    # fits a 1280 px window: no horizontal scrolling
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    page.set_viewport_size({"width": 1280, "height": 1800})
    page.wait_for_timeout(1000)
    shot = tmp_path / "dashboard_alvstad.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    # the analysts' toggle shows the release's full table with the statistical terms
    page.click(".asi-analyst-toggle input")
    page.wait_for_function("() => document.querySelector('.asi-tables').textContent.includes('p-värde')",
                           timeout=30_000)
    _check_protected(page, others)
    options = page.eval_on_selector_all("select option", "els => els.map(e => e.textContent.replace(/\\u00a0/g, ' ').trim())")
    assert not [o for o in options if o in others or o == KOMMUN]
    assert page.outside == [], f"requests left localhost: {page.outside}"
    print(f"\nfirst view {first:.1f} s; screenshot {shot}")


def test_export_links_download_a_png_and_a_workbook(page, server, tmp_path):
    import openpyxl

    _open(page, server + "?kommun=" + quote(KOMMUN))
    page.select_option(".asi-view select", label="Uppföljning och bortfall")
    page.wait_for_function("() => (document.querySelector('.asi-export a') || {}).download?.includes('bortfall')",
                           timeout=30_000)
    files = {}
    for css in ("a.asi-export-png", "a.asi-export-xlsx"):
        with page.expect_download(timeout=30_000) as dl:
            page.click(css)
        path = tmp_path / dl.value.suggested_filename
        dl.value.save_as(path)
        files[css] = path
    assert files["a.asi-export-png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    ws = openpyxl.load_workbook(files["a.asi-export-xlsx"]).worksheets[0]
    shown = page.eval_on_selector_all(".asi-tables td", "els => els.map(e => e.textContent.trim())")
    page.click(".asi-show-table")
    page.wait_for_selector(".asi-tables table", timeout=30_000)
    shown = page.eval_on_selector_all(".asi-tables td", "els => els.map(e => e.textContent.trim())")
    in_book = [str(c.value).strip() for row in ws.iter_rows(min_row=5) for c in row if c.value is not None]
    assert shown and set(shown) <= set(in_book) | {""}, (shown, in_book)
    assert not SMALL & set(in_book)
    assert page.outside == []


def test_english_by_address_and_by_switch(page, server, others):
    _open(page, server + "?kommun=" + quote(KOMMUN) + "&lang=en")
    text = page.inner_text(".asi-dashboard")
    assert "Clients with ASI baseline" in text and "Klienter" not in text
    options = page.eval_on_selector_all("select option", "els => els.map(e => e.textContent.replace(/\\u00a0/g, ' ').trim())")
    assert "Change at follow-up" in options and "Alcohol" in options, options
    assert not [o for o in options if re.search(r"[åäö]", o)], options
    # and back with the switch in the page, then forward again
    page.click(".asi-lang button:has-text('Svenska')")
    page.wait_for_function("() => document.querySelector('.asi-keyfigures').textContent.includes('Klienter')",
                           timeout=30_000)
    page.click(".asi-lang button:has-text('English')")
    page.wait_for_function("() => document.querySelector('.asi-keyfigures').textContent.includes('Clients')",
                           timeout=30_000)
    page.select_option(".asi-view select", label="Compared with the other municipalities")
    page.click(".asi-show-table")
    page.wait_for_selector(".asi-tables table", timeout=30_000)
    heads = _headings(page)
    assert "Life area" in heads and "Other municipalities" in heads, heads
    _check_protected(page, others)
    assert page.outside == []


@pytest.mark.parametrize("query", ["?kommun=Stockholm", "?kommun=%3Cscript%3Ealert(1)%3C%2Fscript%3E", ""])
def test_disallowed_municipality_shows_message_only(page, server, others, query):
    page.goto(server + query, wait_until="domcontentloaded")
    page.wait_for_selector(".asi-refusal", timeout=PAGE_TIMEOUT_MS)
    assert "finns inte i materialet" in page.inner_text(".asi-refusal")
    assert page.query_selector(".asi-dashboard") is None
    assert page.query_selector(".asi-tables") is None
    text = page.inner_text("body")
    assert KOMMUN not in text and not [n for n in others if n in text]
    assert "Traceback" not in text
    assert page.outside == [], f"requests left localhost: {page.outside}"


def test_first_view_in_swedish_without_console_warnings(page, server):
    """A preheated kernel serves the first view quickly; the loading text is Swedish; the
    console has no warning or error (no "Unsatisfied version" of the front-end packages)."""
    _wait_pool_warm(_SERVED["proc"], _SERVED["log"])  # earlier tests used the pool's kernels
    first = _open(page, server + "?kommun=" + quote(KOMMUN))
    page.wait_for_timeout(2000)  # late warnings (widget managers, fonts)
    texts = page.evaluate("window.__loadingTexts")
    assert texts and set(texts) == {"Översikten laddas …"}, texts
    assert page.console == [], page.console
    assert page.outside == [], f"requests left localhost: {page.outside}"
    # loose budget (the benchmark holds the real target): a preheated page, not a kernel start
    assert first < FIRST_VIEW_BUDGET_S, f"first view {first:.1f} s"
    print(f"\nfirst view (preheated kernel) {first:.1f} s; budget {FIRST_VIEW_BUDGET_S:.1f} s "
          f"(load {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")


def test_front_end_loads_with_the_first_cell(page, server):
    """The page's scripts (voila.js) load with the first cell, not after the last: the browser fetches
    them while the kernel reads the municipality's tables (Voilà's lab template waited for the kernel)."""
    resp = page.goto(server + "?kommun=" + quote(KOMMUN), wait_until="load")
    raw = resp.text()
    scripts = re.findall(r"<script src=\"[^\"]*/voila\.js\"", raw)
    assert len(scripts) == 1, scripts
    at = raw.index(scripts[0])
    assert raw.index("jupyter-config-data") < at < raw.index('cell-index="2"') < raw.index("window.voila_finish()")
    page.wait_for_selector(".asi-kf-value", timeout=PAGE_TIMEOUT_MS)
    assert page.outside == [], f"requests left localhost: {page.outside}"


@pytest.mark.parametrize("query", ["&template=lab", "&theme=dark", "&template=classic&theme=dark"])
def test_template_and_theme_override_refused_in_browser(page, server, query):
    """?template= / ?theme= would make Voilà render another template (lab loads Font Awesome from
    a CDN): the server refuses the page, and no request leaves 127.0.0.1."""
    resp = page.goto(server + "?kommun=" + quote(KOMMUN) + query, wait_until="load")
    assert resp.status == 400
    assert "inte är tillåtna" in page.inner_text("body")
    assert page.query_selector(".asi-dashboard") is None
    page.wait_for_timeout(1000)
    assert page.outside == [], f"requests left localhost: {page.outside}"
    assert page.console == [] or all("400" in m for m in page.console), page.console
