"""Benchmark: the dashboard renders a release; page set-up, view changes and the first view in Chromium.

The dashboard reads a protected release (``asi-kit release``), not the store, so
its cost depends on the release's size, not on the number of interviews.

Scales:

* the demo release (``out/demo/release``, 11 municipalities);
* a **national-shaped** release: the demo release's municipality tables copied
  under 290 names (``out/bench_dashboard_release``). Its numbers are the demo's;
  only the file's size and the number of units are national (building a real
  national release is the release benchmark's job, docs/benchmarks.md).

Without ``--browser``: the time of ``load_release``, of ``Dashboard(...)`` with its
first view, and of every view change (4 views × 2 areas × 3 groupings, each once).

``--browser``: the **first view** in headless Chromium, from the request to the
rendered key figures and figure, served as ``make dashboard`` serves it
(``asi_lib.dashboard_server`` with ``notebooks/dashboard/voila.json``: a preheated
kernel that has loaded the release and drawn one figure, waiting for the query
string); also the refusal page. Each view starts when the pool is warm again.
Target: first view ≤ 3 s.

``--compare CHECKOUT`` (with ``--browser``): the same against another checkout's
server (its code, ``voila.json`` and template), the two taking turns view by view.

Run: ``.venv/bin/python benchmarks/bench_dashboard.py [--browser [--compare DIR]] [--units 290]``.
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
from pathlib import Path
from urllib.parse import quote

from asi_lib.dashboard import GROUPS, VIEWS, Dashboard
from asi_lib.release import REGION, Release, load_release, write_release


def national_shaped(demo: Path, out: Path, units: int) -> Path:
    """The demo release's municipality tables under ``units`` names (size and unit count of a national one)."""
    if (out / "manifest.json").exists():
        return out
    rel = load_release(demo)
    names = rel.municipalities
    published = {REGION: rel.published[REGION]}
    unit_rows = [u for u in rel.manifest["units"] if u["unit"] == REGION]
    by_name = {u["unit"]: u for u in rel.manifest["units"]}
    for i in range(units):
        src = names[i % len(names)]
        name = src if i < len(names) else f"{src} {i // len(names)}"
        published[name] = rel.published[src]
        unit_rows.append({**by_name[src], "unit": name, "name": name})
    manifest = {k: v for k, v in rel.manifest.items() if k not in ("tables", "files")}
    manifest["units"] = unit_rows
    return write_release(Release(manifest=manifest, published=published), out)


def run(release: Path, municipality: str, label: str) -> None:
    from asi_lib.dashboard import _warm_up

    _warm_up()  # as a preheated kernel does before the visitor arrives
    t0 = time.perf_counter()
    pre = load_release(release, units=[REGION])  # what a preheated kernel reads before the query string
    t_pre = time.perf_counter() - t0
    t0 = time.perf_counter()
    rel = load_release(release, units=[REGION, municipality], manifest=pre.manifest)  # after it
    t_load = time.perf_counter() - t0
    t0 = time.perf_counter()
    d = Dashboard(rel, municipality)
    d.widget()
    t_setup = time.perf_counter() - t0
    times = []
    for view in VIEWS:
        for area in ("alcohol", "drugs"):
            for group in GROUPS:
                t0 = time.perf_counter()
                d.set(view=view, area=area, group=group)
                times.append(time.perf_counter() - t0)
    size = (release / "tables.parquet").stat().st_size / 2**20
    print(f"{label}: {len(rel.municipalities)} municipalities, tables.parquet {size:.1f} MiB; manifest + region "
          f"{t_pre:.2f} s (before the visitor); the municipality's tables {t_load:.2f} s; page set-up with first view {t_setup:.2f} s; view change median "
          f"{statistics.median(times):.3f} s, max {max(times):.3f} s ({len(times)} changes)", flush=True)


ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(release: Path, log: Path, root: Path = ROOT) -> tuple[subprocess.Popen, str]:
    """The dashboard server of the checkout ``root`` (its code, voila.json and template) on a free port."""
    port = _free_port()
    env = {**os.environ, "JUPYTER_PATH": str(root / "notebooks" / "dashboard" / "share"),
           "ASI_KIT_RELEASE": str(release), "PYTHONUNBUFFERED": "1",
           "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])}
    env.pop("ASI_DASHBOARD_KOMMUNER", None)
    cmd = [sys.executable, "-m", "asi_lib.dashboard_server", "oversikt.ipynb", f"--port={port}",
           "--AsiVoila.max_sessions=20"]
    cwd = root / "notebooks" / "dashboard"
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


def browser_first_view(release: Path, municipality: str, label: str, views: int = 3,
                       roots: dict[str, Path] | None = None) -> None:
    """First view and refusal page in Chromium, ``views`` times per server; servers alternate view by view.

    ``roots``: label → checkout (default this one); with two checkouts (``--compare``) both servers
    run at once and take turns, so both see the same load.
    """
    from playwright.sync_api import sync_playwright
    roots = roots or {"": ROOT}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", chromium_sandbox=False,
                                    args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"])
        servers = {}
        try:
            for name, root in roots.items():
                log = Path(tempfile.mkdtemp()) / "voila.log"
                servers[name] = (*_start(release, log, root), log)
            res = {name: {"first": [], "refusal": [], "load": []} for name in roots}
            for _ in range(views):
                for name, (proc, url, log) in servers.items():
                    for query, selector, key in (("?kommun=" + quote(municipality), ".asi-kf-value", "first"),
                                                 ("?kommun=Stockholm", ".asi-refusal", "refusal")):
                        for other, _u, other_log in servers.values():
                            _pool_warm(other, other_log)
                        ctx = browser.new_context(viewport={"width": 1280, "height": 1000})
                        page = ctx.new_page()
                        res[name]["load"].append(os.getloadavg()[0])
                        t0 = time.perf_counter()
                        page.goto(url + query, wait_until="commit")
                        page.wait_for_selector(selector, timeout=300_000)
                        if key == "first":
                            page.wait_for_selector(".asi-plot", state="attached", timeout=300_000)
                        res[name][key].append(time.perf_counter() - t0)
                        ctx.close()
            rss = {name: sum(k.memory_info().rss for k in _kernels(proc)) / 2**20
                   for name, (proc, _u, _l) in servers.items()}
        finally:
            for proc, _u, _l in servers.values():
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=60)
    for name, r in res.items():
        times, refusals, load = r["first"], r["refusal"], r["load"]
        print(f"{label}{' [' + name + ']' if name else ''}: first view median {statistics.median(times):.2f} s "
              f"({', '.join(f'{t:.2f}' for t in times)}); refusal median {statistics.median(refusals):.2f} s "
              f"({', '.join(f'{t:.2f}' for t in refusals)}); load average at the views {min(load):.1f}–"
              f"{max(load):.1f} (median {statistics.median(load):.1f}) on {os.cpu_count()} cores; "
              f"kernels' RSS at the end {rss[name]:.0f} MiB", flush=True)


def main() -> None:
    from asi_lib.demo import ensure_demo_release

    ap = argparse.ArgumentParser()
    ap.add_argument("--units", type=int, default=290)
    ap.add_argument("--browser", action="store_true", help="first view in Chromium (see above)")
    ap.add_argument("--views", type=int, default=3)
    ap.add_argument("--compare", type=Path, metavar="CHECKOUT",
                    help="with --browser: also serve another checkout (e.g. `git archive main | tar -x -C DIR`); "
                         "the two servers take turns, view by view")
    a = ap.parse_args()
    demo = Path(ensure_demo_release(ROOT / "out" / "demo"))
    big = national_shaped(demo, ROOT / "out" / "bench_dashboard_release", a.units)
    if a.browser:
        roots = {"this": ROOT, str(a.compare): a.compare.resolve()} if a.compare else None
        browser_first_view(demo, "Älvstad", "demo release, Älvstad", a.views, roots)
        browser_first_view(big, "Älvstad", f"national-shaped release ({a.units} municipalities), Älvstad", a.views,
                           roots)
        return
    run(demo, "Älvstad", "demo release")
    run(big, "Älvstad", "national-shaped release")


if __name__ == "__main__":
    main()
