"""The dashboard server under load: a real ``asi_lib.dashboard_server`` (Voilà + gate) process.

No browser: plain HTTP requests from threads, as many page views at once would
arrive. Kernels are counted as the server's own ``ipykernel`` child processes
(other people's kernels on the machine are not counted), memory as the summed
RSS of the server and its kernels.

* a burst of 20 concurrent page requests never holds more than
  ``max_sessions + default_pool_size`` kernels; the requests over the limit get
  the polite 503 page, the others the dashboard; kernels nobody connected to
  are culled and the memory comes back; the next visitor gets a page again;
* ``?template=`` / ``?theme=`` are refused (400) without touching a kernel;
* a server restricted to one municipality refuses another one at once (403,
  no kernel used) and serves its own.

Slow (~2 min: real kernels); runs with the browser tests (``make test-browser``).
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.error import HTTPError
from urllib.parse import quote
from urllib.request import urlopen

import pytest

psutil = pytest.importorskip("psutil")

ROOT = Path(__file__).resolve().parents[2]
DASH = ROOT / "notebooks" / "dashboard"
KOMMUN = "Älvstad"
MAX_SESSIONS = 3
POOL = 1
DISCONNECTED = 8   # s: cull_disconnected_timeout in the test (60 s in voila.json)
INTERVAL = 2       # s: cull_interval in the test


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``python -m asi_lib.dashboard_server`` as ``make dashboard`` runs it, on a free port."""

    def __init__(self, release, log: Path, extra=(), env=None):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.log = log
        env = {**os.environ, "JUPYTER_PATH": str(DASH / "share"), "ASI_KIT_RELEASE": str(release),
               "PYTHONUNBUFFERED": "1", "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
               **(env or {})}
        cmd = [sys.executable, "-m", "asi_lib.dashboard_server", "oversikt.ipynb", f"--port={self.port}", *extra]
        with open(log, "wb") as fh:
            self.proc = subprocess.Popen(cmd, cwd=DASH, env=env, stdout=fh, stderr=subprocess.STDOUT,
                                         start_new_session=True)

    def wait_ready(self, kernels: int, timeout: float = 180) -> None:
        """Until the port answers and the pool's kernels are up (their log line)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited {self.proc.returncode}: {self.log.read_text()[-2000:]}")
            text = self.log.read_text(errors="replace")
            if "is running at" in text and (kernels == 0 or "is filled with" in text):
                return
            time.sleep(0.5)
        raise TimeoutError(self.log.read_text()[-2000:])

    def kernels(self) -> list:
        try:
            kids = psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []
        out = []
        for k in kids:
            try:
                if "ipykernel_launcher" in " ".join(k.cmdline()):
                    out.append(k)
            except psutil.NoSuchProcess:
                pass
        return out

    def rss_mb(self) -> float:
        procs = [psutil.Process(self.proc.pid), *self.kernels()]
        total = 0
        for p in procs:
            try:
                total += p.memory_info().rss
            except psutil.NoSuchProcess:
                pass
        return total / 2**20

    def stop(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=30)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=5)


def get(url: str, timeout: float = 240) -> tuple[int, str, float]:
    t0 = time.monotonic()
    try:
        with urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode("utf-8", "replace"), time.monotonic() - t0
    except HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace"), time.monotonic() - t0


@pytest.fixture(scope="module")
def release():
    from asi_lib.demo import ensure_demo_release
    return ensure_demo_release(ROOT / "out" / "demo")


@pytest.fixture(scope="module")
def server(release, tmp_path_factory):
    srv = Server(release, tmp_path_factory.mktemp("voila") / "voila.log",
                 extra=[f"--AsiVoila.max_sessions={MAX_SESSIONS}", f"--VoilaConfiguration.default_pool_size={POOL}",
                        f"--AsiKernelManager.cull_disconnected_timeout={DISCONNECTED}",
                        f"--MappingKernelManager.cull_interval={INTERVAL}"])
    try:
        srv.wait_ready(kernels=POOL)
        yield srv
    finally:
        srv.stop()


def _is_dashboard(body: str) -> bool:
    return "application/vnd.jupyter.widget-view+json" in body and "Kommunen saknas" not in body


def _wait_kernels(srv: Server, n: int, timeout: float) -> int:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        count = len(srv.kernels())
        if count == n:
            return count
        time.sleep(0.5)
    return len(srv.kernels())


def _settled_rss(srv: Server, timeout: float = 120) -> float:
    """RSS once the kernels have finished loading (three readings a second apart within 2 %)."""
    readings = [srv.rss_mb()]
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        time.sleep(1)
        readings.append(srv.rss_mb())
        last = readings[-3:]
        if len(last) == 3 and max(last) - min(last) < 0.02 * max(last):
            break
    return readings[-1]


def test_burst_holds_the_kernel_ceiling_and_kernels_are_culled(server):
    assert _wait_kernels(server, POOL, 60) == POOL
    rss_before = _settled_rss(server)
    url = server.url + "?kommun=" + quote(KOMMUN)
    results: list = []
    peak = [0]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], len(server.kernels()))
            time.sleep(0.2)

    def one():
        results.append(get(url))

    sampler = threading.Thread(target=sample)
    sampler.start()
    threads = [threading.Thread(target=one) for _ in range(20)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    burst_s = time.monotonic() - t0
    rss_peak = server.rss_mb()
    time.sleep(3)  # the pool refill after the last page
    peak[0] = max(peak[0], len(server.kernels()))
    done.set()
    sampler.join()

    codes = sorted(r[0] for r in results)
    served = [r for r in results if r[0] == 200]
    busy = [r for r in results if r[0] == 503]
    assert len(results) == 20 and len(served) + len(busy) == 20, codes
    assert 1 <= len(served) <= MAX_SESSIONS, codes
    assert all(_is_dashboard(r[1]) for r in served)
    assert all("Försök igen om en stund" in r[1] for r in busy)
    assert max((r[2] for r in busy), default=0) < 5, "the busy page must come at once"
    assert peak[0] <= MAX_SESSIONS + POOL, f"{peak[0]} kernels during the burst"

    # nobody opened the pages' websockets: their kernels are culled, the pool stays
    after = _wait_kernels(server, POOL, DISCONNECTED + 4 * INTERVAL + 60)
    assert after == POOL, f"{after} kernels left after culling"
    rss_after = _settled_rss(server)
    assert rss_after < rss_before + 150, (rss_before, rss_after)
    print(f"\nburst of 20: {len(served)} pages, {len(busy)} 'försök igen' in {burst_s:.1f} s; "
          f"kernels peak {peak[0]} (ceiling {MAX_SESSIONS + POOL}); RSS before {rss_before:.0f} MB, "
          f"at the end of the burst {rss_peak:.0f} MB, after culling {rss_after:.0f} MB")

    # capacity is back: the next visitor gets the dashboard
    code, body, secs = get(url)
    assert code == 200 and _is_dashboard(body)


@pytest.mark.parametrize("query", ["&template=lab", "&theme=dark", "&template=asi-kit"])
def test_template_and_theme_overrides_refused_without_a_kernel(server, query):
    before = len(server.kernels())
    code, body, secs = get(server.url + "?kommun=" + quote(KOMMUN) + query)
    assert code == 400
    assert "inte är tillåtna" in body and "cdn.jsdelivr" not in body and "widget-view" not in body
    assert secs < 5
    assert len(server.kernels()) <= before


def test_server_restricted_to_one_municipality(release, tmp_path):
    from asi_lib.dashboard import allowed_municipalities
    from asi_lib.release import load_release
    other = next(m for m in allowed_municipalities(load_release(release)) if m != KOMMUN)
    srv = Server(release, tmp_path / "voila.log", extra=["--VoilaConfiguration.default_pool_size=1"],
                 env={"ASI_DASHBOARD_KOMMUNER": KOMMUN})
    try:
        srv.wait_ready(kernels=1)
        n = len(srv.kernels())
        for query in ("?kommun=" + quote(other), "", "?kommun=" + quote(KOMMUN) + "&kommun=" + quote(other)):
            code, body, secs = get(srv.url + query)
            assert code == 403 and "finns inte i materialet" in body, (query, code)
            assert other not in body and secs < 5
        assert len(srv.kernels()) == n, "a refused request must not use a kernel"
        code, body, _ = get(srv.url + "?kommun=" + quote(KOMMUN))
        assert code == 200 and _is_dashboard(body)
    finally:
        srv.stop()
