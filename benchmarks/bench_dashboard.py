"""Benchmark: the dashboard's setup and filter changes, demo region and a 300,000-interview region.

The big region replicates the whole demo dataset (Grund, Uppföljning,
bortfall, insatser; new client ids per copy) until Grund has ``--rows``
interviews. Copy c's municipalities are renamed "<name> <c mod 25>", except
that the demo's largest municipality keeps its name in the first ``--big``
copies, so one municipality is large (a city) and the rest are ~275 small
and middle-sized ones.

For each region: the setup time of ``Dashboard(ds, municipality=...)`` and
the time of every filter change (4 views × 6 groups × 2 periods, area
"alcohol", each combination once: no cache hits), median and max.

Run: ``.venv/bin/python benchmarks/bench_dashboard.py [--rows 300000] [--big 20]``.
Target: median filter change well under 1 s.

``--browser``: the **first view** in headless Chromium, from the request to the
rendered table, served the way it was (``voila`` with the asi-kit template: one
new kernel per page, which imports the stack and loads the store) and the way
``make dashboard`` serves it now (``asi_lib.dashboard_server`` with
``notebooks/dashboard/voila.json``: a preheated kernel that has already imported
the stack and loaded the store and waits for the query string), side by side in
one run; also the refusal page for an unknown municipality. Each new-server view
starts when the pool is warm again (a visitor arriving at a quiet moment).
Scales: the demo store and the 300,000-Grund region written as a store
(``out/bench_dashboard_store``). Target: first view ≤ 3 s.
"""
from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from urllib.parse import quote

import pandas as pd

from asi_lib.dashboard import GROUPS, VIEWS, Dashboard
from asi_lib.dataset import Dataset
from asi_lib.datasets import read_dataset


def replicate(ds: Dataset, rows: int, big: int) -> Dataset:
    reps = -(-rows // len(ds.grund))
    largest = ds.grund["municipality"].value_counts().index[0]
    out = {}
    for t, frame in ds.tables().items():
        parts = []
        for c in range(reps):
            f = frame.copy()
            f["client_pid"] = (f["client_pid"].astype(str) + f"-{c}").astype("string")
            m = f["municipality"].astype("string")
            keep = (m == largest) & (c < big)
            f["municipality"] = m.where(keep, m + f" {c % 25}")
            if "unit" in f.columns:
                u = f["unit"].astype("string")
                f["unit"] = u.where(keep, u + f" {c % 25}")
            parts.append(f)
        out[t] = pd.concat(parts, ignore_index=True)
    out["grund"] = out["grund"].iloc[:rows]
    return replace(ds, **out)


def run(ds: Dataset, municipality: str, label: str) -> None:
    t0 = time.perf_counter()
    d = Dashboard(ds, municipality=municipality)
    setup = time.perf_counter() - t0
    times = []
    for period in (None, d.years[1]):
        for view in VIEWS:
            for group in GROUPS:
                times.append(d.compute(view=view, group=group, area="alcohol", period=period).seconds)
    own = int((ds.grund["municipality"] == municipality).sum())
    print(f"{label}: {len(ds.grund):,} Grund, {municipality} {own:,} Grund; setup {setup:.2f} s; "
          f"filter change median {statistics.median(times):.3f} s, max {max(times):.3f} s ({len(times)} changes)")


ROOT = Path(__file__).resolve().parents[1]
DASH = ROOT / "notebooks" / "dashboard"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(mode: str, store: Path, log: Path) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    env = {**os.environ, "JUPYTER_PATH": str(DASH / "share"), "ASI_KIT_STORE": str(store), "PYTHONUNBUFFERED": "1",
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    env.pop("ASI_DASHBOARD_KOMMUNER", None)
    if mode == "today":  # the command `make dashboard` ran before the launcher
        cmd = [str(Path(sys.executable).with_name("voila")), str(DASH / "oversikt.ipynb"), "--no-browser",
               f"--port={port}", "--Voila.ip=127.0.0.1", "--strip_sources=True", "--show_tracebacks=False",
               "--template=asi-kit"]
        cwd = ROOT
    else:
        cmd = [sys.executable, "-m", "asi_lib.dashboard_server", "oversikt.ipynb", f"--port={port}"]
        cwd = DASH
    with open(log, "wb") as fh:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
    end = time.monotonic() + 120
    while time.monotonic() < end:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.3)
    return proc, f"http://127.0.0.1:{port}/"


def _kernels(proc):
    import psutil
    out = []
    for k in psutil.Process(proc.pid).children(recursive=True):
        try:
            if "ipykernel_launcher" in " ".join(k.cmdline()):
                out.append(k)
        except psutil.NoSuchProcess:
            pass
    return out


def _pool_warm(proc, log: Path, timeout: float = 300) -> None:
    """Until the pool is full and its kernels' memory is steady (imports and store loaded)."""
    end = time.monotonic() + timeout
    while "is filled with" not in log.read_text(errors="replace") and time.monotonic() < end:
        time.sleep(0.5)
    last: list[int] = []
    while time.monotonic() < end:
        last = (last + [sum(k.memory_info().rss for k in _kernels(proc))])[-4:]
        if len(last) == 4 and max(last) - min(last) < 0.01 * max(last):
            return
        time.sleep(1)


def browser_first_view(store: Path, municipality: str, label: str, views: int = 3) -> None:
    from playwright.sync_api import sync_playwright
    results = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", chromium_sandbox=False,
                                    args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"])
        for mode in ("today", "new"):
            log = Path(tempfile.mkdtemp()) / "voila.log"
            proc, url = _start(mode, store, log)
            try:
                times, refusals = [], []
                for _ in range(views):
                    for query, selector, out in (("?kommun=" + quote(municipality), ".asi-tables table", times),
                                                 ("?kommun=Stockholm", ".asi-refusal", refusals)):
                        if mode == "new":
                            _pool_warm(proc, log)
                        ctx = browser.new_context(viewport={"width": 1280, "height": 1000})
                        page = ctx.new_page()
                        t0 = time.perf_counter()
                        page.goto(url + query, wait_until="commit")
                        page.wait_for_selector(selector, timeout=300_000)
                        out.append(time.perf_counter() - t0)
                        ctx.close()
                kernels = len(_kernels(proc))
                rss = sum(k.memory_info().rss for k in _kernels(proc)) / 2**30
            finally:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=60)
            results[mode] = (times, refusals, kernels, rss)
            print(f"{label}, {mode}: first view median {statistics.median(times):.1f} s "
                  f"({', '.join(f'{t:.1f}' for t in times)}); refusal median {statistics.median(refusals):.1f} s; "
                  f"kernels left after {2 * views} views: {kernels} ({rss:.1f} GiB)", flush=True)
    ratio = statistics.median(results["today"][0]) / statistics.median(results["new"][0])
    print(f"{label}: first view {ratio:.1f}x faster", flush=True)


def write_store(ds: Dataset, path: Path) -> Path:
    """The dataset as a store on disk (tables + manifest), for the served dashboard."""
    from asi_lib.store import Store
    if (path / "manifest.json").exists():
        return path
    st = Store(path)
    for t, frame in ds.tables().items():
        st.write_table(t, frame)
    st.save_manifest()
    return path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=300_000)
    ap.add_argument("--big", type=int, default=20)
    ap.add_argument("--browser", action="store_true", help="first view in Chromium, before/after (see above)")
    ap.add_argument("--views", type=int, default=3)
    a = ap.parse_args()
    if a.browser:
        from asi_lib.demo import ensure_demo_store
        demo_store = ensure_demo_store(ROOT / "out" / "demo")
        browser_first_view(demo_store, "Älvstad", "demo store, Älvstad", a.views)
        demo = read_dataset("demo")
        region = replicate(demo, a.rows, a.big)
        big = write_store(region, ROOT / "out" / "bench_dashboard_store")
        middle = f"{demo.grund['municipality'].value_counts().index[3]} 7"
        browser_first_view(big, middle, f"{a.rows:,} Grund, a middle-sized municipality", a.views)
        largest = str(demo.grund["municipality"].value_counts().index[0])
        browser_first_view(big, largest, f"{a.rows:,} Grund, the city", a.views)
        return
    demo = read_dataset("demo")
    largest = str(demo.grund["municipality"].value_counts().index[0])
    run(demo, largest, "demo region")
    region = replicate(demo, a.rows, a.big)
    run(region, largest, "big region, the city")
    run(region, f"{demo.grund['municipality'].value_counts().index[3]} 7", "big region, a middle-sized one")


if __name__ == "__main__":
    main()
