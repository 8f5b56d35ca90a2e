"""Print report pages to PDF with headless Chromium (one browser per worker).

A report page (:func:`asi_lib.reports.notebook_to_html`) carries its own print
stylesheet (``@page`` A4 with margins, a header with the municipality and the
reference date, page numbers, tables that fit the page); this module only
hands it to a real browser and writes what the browser prints.

Why Chromium and not weasyprint: the browser tests already use Debian's
Chromium through playwright, so the engine that prints is the one the tests
measure (table widths under print media), it lays out JupyterLab's CSS
(flex, ``:has``) exactly as the screen does, and it needs no system libraries
from pip (weasyprint needs pango, which a fresh Windows or minimal Linux
machine does not have). See docs/reports.md.

:class:`PdfPrinter` owns one Chromium in a private thread: playwright's
synchronous API runs an event loop of its own, which must not meet the kernel
client's loop in the rendering thread. Without playwright or Chromium the
printer says why (:func:`pdf_unavailable_reason`) and the batch writes no PDF;
it never fails a report for that.
"""
from __future__ import annotations

import os
import queue
import re
import shutil
import threading
from pathlib import Path

__all__ = ["PdfPrinter", "PdfUnavailable", "find_chromium", "pdf_unavailable_reason", "html_to_pdf",
           "count_pdf_pages", "CHROMIUM_ENV", "LAUNCH_ARGS"]

#: Environment variable with the path of a Chromium/Chrome binary (default: ``chromium`` on the PATH).
CHROMIUM_ENV = "ASI_KIT_CHROMIUM"
#: Chromium switches: no sandbox (root in containers), no /dev/shm (small in containers), no network chatter.
LAUNCH_ARGS = ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run"]
#: Reports printed on one page (browser context) before it is replaced.
PAGE_REUSE = 50
INSTALL_HINT = ("installera Chromium med 'make browser-deps' (apt-get install chromium) / "
                "install Chromium with 'make browser-deps'")


class PdfUnavailable(RuntimeError):
    """No PDF can be printed here (playwright or Chromium missing, or Chromium does not start)."""


def find_chromium() -> str | None:
    """Path of the Chromium to print with: ``$ASI_KIT_CHROMIUM``, else ``chromium``/``chromium-browser`` on PATH.

    Examples
    --------
    >>> p = find_chromium()
    >>> p is None or os.path.exists(p)
    True
    """
    env = os.environ.get(CHROMIUM_ENV)
    if env:
        return env if os.path.exists(env) else None
    for name in ("chromium", "chromium-browser", "google-chrome"):
        p = shutil.which(name)
        if p:
            return p
    return None


def pdf_unavailable_reason() -> str | None:
    """Why no PDF can be printed here, or ``None`` when playwright and a Chromium are present.

    Examples
    --------
    >>> r = pdf_unavailable_reason()
    >>> r is None or "Chromium" in r or "playwright" in r
    True
    """
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "PDF skrivs inte: paketet playwright saknas (pip install playwright) / playwright missing"
    if find_chromium() is None:
        return f"PDF skrivs inte: Chromium hittades inte; {INSTALL_HINT}"
    return None


_STOP = object()


class PdfPrinter:
    """One headless Chromium, started on first use, that prints HTML files to PDF.

    Not shared between workers: each rendering worker owns one (one browser
    per worker, reused for all its reports). Thread-safe: calls are handed to
    the printer's own thread.

    Parameters
    ----------
    executable : str, optional
        Chromium binary (default :func:`find_chromium`).
    timeout : float, default 120
        Seconds one page may take to load and print.

    Examples
    --------
    >>> printer = PdfPrinter()          # doctest: +SKIP
    >>> printer.print_pdf("r.html", "r.pdf")  # doctest: +SKIP
    PosixPath('r.pdf')
    >>> printer.close()                 # doctest: +SKIP
    """

    def __init__(self, executable: str | None = None, *, timeout: float = 120):
        self.executable = executable
        self.timeout = float(timeout)
        self._jobs: queue.Queue = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.browsers_started = 0
        self.pages_printed = 0
        self._ctx = self._pg = None   # the page, used by the printer thread only
        self.contexts_opened = 0
        self._uses = 0

    # ------------------------------------------------------------------ printer thread
    def _loop(self) -> None:
        pw = browser = None
        try:
            while True:
                job = self._jobs.get()
                if job is _STOP:
                    return
                src, dst, done = job
                try:
                    if browser is None or not browser.is_connected():
                        self._drop_page()
                        pw, browser = self._launch(pw)
                    done["result"] = self._print_one(browser, src, dst)
                except BaseException as exc:  # noqa: BLE001 - handed back to the caller
                    done["error"] = exc
                    self._drop_page()   # the next report gets a fresh page
                    if browser is not None and not browser.is_connected():
                        browser = None
                finally:
                    done["event"].set()
        finally:
            self._drop_page()
            for closer in (getattr(browser, "close", None), getattr(pw, "stop", None)):
                try:
                    if closer is not None:
                        closer()
                except Exception:  # noqa: BLE001 - a browser that is already gone needs no closing
                    pass

    def _launch(self, pw):
        reason = pdf_unavailable_reason() if self.executable is None else None
        if reason:
            raise PdfUnavailable(reason)
        from playwright.sync_api import sync_playwright

        exe = self.executable or find_chromium()
        if pw is None:
            pw = sync_playwright().start()
        try:
            browser = pw.chromium.launch(executable_path=exe, chromium_sandbox=False, args=LAUNCH_ARGS,
                                         timeout=self.timeout * 1000)
        except Exception as exc:  # noqa: BLE001 - a broken install is a reason, not a crash
            raise PdfUnavailable(f"PDF skrivs inte: Chromium ({exe}) startar inte: "
                                 f"{str(exc).splitlines()[0][:200]}") from None
        self.browsers_started += 1
        return pw, browser

    def _page(self, browser):
        """The printer's page: one browser context (no JavaScript, offline) reused for many reports.

        A new context per report started a renderer process per PDF: 0.4 s of
        1.15 s per page (measured). The page is replaced after
        :data:`PAGE_REUSE` reports and after any error.
        """
        if self._ctx is None or self._uses >= PAGE_REUSE:
            self._drop_page()
            self._ctx = browser.new_context(java_script_enabled=False, offline=True)
            self.contexts_opened += 1
            page = self._ctx.new_page()
            # a report needs nothing but its own file (images are embedded): everything else is refused
            page.route(re.compile(r"^(?!file:|data:).*"), lambda route: route.abort())
            self._pg, self._uses = page, 0
        self._uses += 1
        return self._pg

    def _drop_page(self) -> None:
        ctx, self._ctx, self._pg = self._ctx, None, None
        if ctx is not None:
            try:
                ctx.close()
            except Exception:  # noqa: BLE001 - a context of a browser that is gone needs no closing
                pass

    def _print_one(self, browser, src: Path, dst: Path) -> Path:
        page = self._page(browser)
        page.goto(src.resolve().as_uri(), wait_until="load", timeout=self.timeout * 1000)
        tmp = dst.with_name(f".{dst.stem}.{os.getpid()}.{threading.get_ident()}.tmp.pdf")
        try:
            page.pdf(path=str(tmp), prefer_css_page_size=True, print_background=True,
                     display_header_footer=False)
            os.replace(tmp, dst)
        finally:
            tmp.unlink(missing_ok=True)
        self.pages_printed += 1
        return dst

    # ------------------------------------------------------------------ public
    def print_pdf(self, html_path, pdf_path) -> Path:
        """Print ``html_path`` to ``pdf_path`` (written atomically: temporary file, then ``os.replace``).

        Raises
        ------
        PdfUnavailable
            playwright or Chromium missing, or Chromium does not start.
        """
        src, dst = Path(html_path), Path(pdf_path)
        dst.parent.mkdir(parents=True, exist_ok=True)
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="asi-pdf", daemon=True)
                self._thread.start()
        done = {"event": threading.Event()}
        self._jobs.put((src, dst, done))
        if not done["event"].wait(self.timeout * 2 + 60):
            raise TimeoutError(f"PDF: {src.name} inte utskriven inom {self.timeout * 2 + 60:.0f} s")
        if "error" in done:
            raise done["error"]
        return done["result"]

    def close(self) -> None:
        """Close the browser and stop the printer thread (idempotent)."""
        with self._lock:
            th, self._thread = self._thread, None
        if th is not None and th.is_alive():
            self._jobs.put(_STOP)
            th.join(timeout=30)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def html_to_pdf(html_path, pdf_path, *, executable: str | None = None) -> Path:
    """Print one HTML file to PDF with a browser started for it (see :class:`PdfPrinter` for many).

    Raises
    ------
    PdfUnavailable
    """
    with PdfPrinter(executable) as printer:
        return printer.print_pdf(html_path, pdf_path)


_PAGE = re.compile(rb"/Type\s*/Page(?![a-zA-Z])")


def count_pdf_pages(path) -> int:
    """Number of pages of a PDF: its ``/Type /Page`` objects (not ``/Pages``).

    Enough for the PDFs Chromium writes (page objects are not compressed into
    object streams); a general PDF needs a PDF library.

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "x.pdf"
    >>> _ = p.write_bytes(b"<< /Type /Pages /Count 2 >> << /Type /Page >> << /Type/Page /Parent 1 0 R >>")
    >>> count_pdf_pages(p)
    2
    """
    return len(_PAGE.findall(Path(path).read_bytes()))
