"""The report rendering engine: warm kernels, one exporter per worker, local threads or a Dask cluster.

:func:`asi_lib.reports.render_reports` decides *what* to render (one
:class:`ReportTask` per municipality: a stem, a name and the notebook's
parameters); this module decides *how*. The work that does not depend on the
municipality is done once per worker, not once per report:

* **one kernel per worker**, kept warm: papermill executes the report notebook
  for one municipality after another in the same kernel
  (``papermill.execute_notebook(..., km=, kc=)``), so the stack (pandas,
  matplotlib, asi_lib) is imported once. Between two reports the kernel's
  namespace is reset (``%reset -f``, figures closed, execution count back to
  1); modules stay imported. A kernel that died, timed out or has rendered
  ``recycle`` reports is replaced by a fresh one;
* **one HTML exporter per worker** (nbconvert's template environment is built
  once, :func:`asi_lib.reports.notebook_to_html`).

Papermill's behaviour is unchanged: the injected-parameters cell, the executed
notebook written beside the HTML (also when a cell fails), cell errors recorded
per report. The timeout is per report: every cell gets what is left of it
(nbclient's ``timeout_func``).

Two ways to run the tasks:

* local (default): ``workers`` threads in this process, each owning one kernel
  process (:func:`run_local`);
* a Dask cluster (:func:`run_dask`): one task per municipality sent to the
  workers of a ``dask scheduler`` (``distributed.Client(address)``); each
  worker thread keeps its own warm kernel. Workers need the kit installed and
  read access to the notebook's inputs (the store or the release); they need no
  shared output folder: a task returns the bytes of its HTML, Excel and
  executed notebook, and this process writes them. A worker that dies
  mid-task has its task rescheduled by the scheduler (up to
  ``distributed.scheduler.allowed-failures`` times); after that the report is
  recorded as failed (``KilledWorker``), never dropped.
"""
from __future__ import annotations

import atexit
import os
import queue
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from .reports import REPORT_NOTEBOOK, ReportResult, _error_text, _ipc_manager_class, _write_atomic, notebook_to_html

__all__ = ["ReportTask", "KernelWorker", "run_local", "run_dask", "SCHEDULER_ENV"]

#: Environment variable with a Dask scheduler address (``tcp://host:8786``) used when none is given.
SCHEDULER_ENV = "ASI_KIT_SCHEDULER"

# Run between two reports in the warm kernel: user namespace emptied (modules stay imported),
# figures closed, and the prompt counter back to 1 so the saved notebook looks like a fresh run.
# %reset ends with full garbage collections (the report's cycles: figures, frames), which walk
# every object of the imported stack: 0.27 s per report (measured). What is alive after it
# (modules, their caches) is moved out of the collector's sight (gc.freeze), so the next reset,
# and the collections while a report runs, walk only what the report made: 0.015 s.
_RESET = """\
get_ipython().run_line_magic('reset', '-f')
import gc as _gc, sys as _s
if 'matplotlib.pyplot' in _s.modules:
    _s.modules['matplotlib.pyplot'].close('all')
_gc.freeze()
get_ipython().execution_count = 1
del _gc, _s
"""


@dataclass
class ReportTask:
    """One report to render.

    Attributes
    ----------
    municipality : str or None
        ``None`` = the whole region.
    name : str
        Name shown in the index and the page title.
    stem : str
        File stem (``kommun_ostermyra``).
    parameters : dict
        The notebook's parameters except ``EXCEL``, which the engine sets to
        ``<out>/<stem>.xlsx``.
    title : str
        HTML page title.
    timeout : float
        Seconds the whole report may take.
    notebook : str, optional
        Another notebook to execute (default: the worker's, normally
        :data:`asi_lib.reports.REPORT_NOTEBOOK`).
    header : str
        Running header of the printed pages (municipality, reference date).
    lang : {"sv", "en"}
        Language of the page numbers ("Sida n av m").
    pdf : bool
        Also print the page to ``<stem>.pdf`` (:mod:`asi_lib.pdf`).
    """

    municipality: str | None
    name: str
    stem: str
    parameters: dict = field(default_factory=dict)
    title: str = ""
    timeout: float = 600.0
    notebook: str | None = None
    header: str = ""
    lang: str = "sv"
    pdf: bool = False


def _trim_imports() -> None:
    """Keep ``rfc3987_syntax`` from being imported by jsonschema (via nbformat/papermill) in this process.

    jsonschema imports it, when installed, only for its optional ``iri``
    format checker, and building its grammar costs 1.5–2 s per process on a
    quiet machine (STACK_NOTES pitfall 1; 16 s measured under load). Notebook
    validation uses no ``iri`` format. Done only when nothing imported it yet;
    the kernels are not affected (they do not import jsonschema).
    """
    import sys

    if "jsonschema" not in sys.modules and "rfc3987_syntax" not in sys.modules:
        sys.modules["rfc3987_syntax"] = None  # "import rfc3987_syntax" now raises ImportError


def _warm_engine() -> str:
    """Register (once) and name a papermill engine that executes in a given running kernel.

    papermill's own ``nbclient`` engine passes ``km`` on (a running kernel is
    then reused and not shut down) but nbclient takes no ``kc`` argument and
    would open a new kernel client per notebook; this engine hands it the
    worker's client. Everything else is papermill's ``PapermillNotebookClient``.
    """
    from papermill.engines import NBClientEngine, papermill_engines

    if "asi-warm" not in papermill_engines._engines:
        class WarmEngine(NBClientEngine):
            @classmethod
            def execute_managed_notebook(cls, nb_man, kernel_name, log_output=False, stdout_file=None,
                                         stderr_file=None, start_timeout=60, execution_timeout=None, *, km, kc,
                                         timeout_func=None, **kwargs):
                import logging

                from papermill.clientwrap import PapermillNotebookClient

                client = PapermillNotebookClient(
                    nb_man, km=km, timeout=execution_timeout, startup_timeout=start_timeout,
                    kernel_name=kernel_name, log=logging.getLogger("papermill"), log_output=log_output,
                    stdout_file=stdout_file, stderr_file=stderr_file, timeout_func=timeout_func)
                client.kc = kc
                return client.execute()

        papermill_engines.register("asi-warm", WarmEngine)
    return "asi-warm"


class KernelWorker:
    """A warm kernel that executes the report notebook for one municipality after another.

    Not thread-safe: one worker per thread (its kernel client belongs to the
    thread's event loop).

    Parameters
    ----------
    kernel_name : str
        Kernelspec to start (:func:`asi_lib.reports.ensure_kernel`).
    notebook : Path, optional
        The report notebook (default :data:`asi_lib.reports.REPORT_NOTEBOOK`).
    recycle : int, default 200
        Replace the kernel after this many reports (bounds memory growth; a
        report kernel stayed at 413–416 MB RSS over 60 national reports, so
        this is a guard, not a need: a replaced kernel costs its start and
        imports, ~4 s).
    start_timeout : float, default 120
        Seconds to wait for a kernel to start.
    """

    def __init__(self, kernel_name: str, *, notebook: Path | None = None, recycle: int = 200,
                 start_timeout: float = 120):
        self.kernel_name = kernel_name
        self.notebook = Path(notebook or REPORT_NOTEBOOK)
        self.recycle = max(1, int(recycle))
        self.start_timeout = start_timeout
        self.km = self.kc = None
        self.kernels_started = 0
        self._used = 0
        self._ipc_dir = None
        self.printer = None       # one Chromium per worker, started on the first PDF (asi_lib.pdf)
        self.pdf_off = ""         # why PDFs cannot be printed here, once known

    # -------------------------------------------------------------- kernel life
    def _start(self) -> None:
        import nbformat
        from nbclient import NotebookClient

        self._ipc_dir = tempfile.mkdtemp(prefix="asi-ipc-")
        km = _ipc_manager_class(self._ipc_dir)(kernel_name=self.kernel_name)
        # jupyter_client interrupts a kernel before shutting it down; an idle ipykernel then logs
        # "KeyboardInterrupt caught in kernel" on our stderr. Only the kernel's own log is quieted.
        helper = NotebookClient(nbformat.v4.new_notebook(), km=km, kernel_name=self.kernel_name,
                                startup_timeout=int(self.start_timeout),
                                extra_arguments=["--IPKernelApp.log_level=CRITICAL",
                                                 # the prompt counter is set back to 1 between reports: with
                                                 # history on, IPython printed "Session/line number was not
                                                 # unique" into the next report
                                                 "--HistoryManager.enabled=False"])
        helper.start_new_kernel()
        helper.start_new_kernel_client()
        self.km, self.kc = km, helper.kc
        self._used = 0
        self.kernels_started += 1

    def stop(self) -> None:
        """Shut the kernel down (idempotent)."""
        from jupyter_core.utils import run_sync

        km, kc, self.km, self.kc = self.km, self.kc, None, None
        try:
            if kc is not None:
                kc.stop_channels()
            if km is not None and km.has_kernel:
                run_sync(km.shutdown_kernel)(now=True)
        except Exception:  # noqa: BLE001 - a kernel that is already gone needs no shutdown
            pass
        if self._ipc_dir:
            shutil.rmtree(self._ipc_dir, ignore_errors=True)
            self._ipc_dir = None

    def close(self) -> None:
        """Shut the kernel and the worker's browser down (idempotent)."""
        self.stop()
        printer, self.printer = self.printer, None
        if printer is not None:
            printer.close()

    def _print(self, html: Path, pdf: Path, res: ReportResult) -> None:
        """Print the page with this worker's browser; a missing Chromium is a note, never a failure."""
        from .pdf import PdfPrinter, PdfUnavailable

        if self.pdf_off:
            res.note = self.pdf_off
            return
        if self.printer is None:
            self.printer = PdfPrinter()
        t0 = time.perf_counter()
        try:
            res.pdf = self.printer.print_pdf(html, pdf)
            res.pdf_seconds = time.perf_counter() - t0
        except PdfUnavailable as exc:
            self.pdf_off = res.note = str(exc)
        except Exception as exc:  # noqa: BLE001 - the HTML and Excel stand; the PDF is reported missing
            res.note = f"PDF misslyckades / PDF failed: {_error_text(exc)}"
            self.printer.close()
            self.printer = None

    def _alive(self) -> bool:
        from jupyter_core.utils import run_sync

        return self.km is not None and bool(run_sync(self.km.is_alive)())

    def _ready(self) -> None:
        """A kernel with an empty namespace: start, recycle or reset."""
        import nbformat
        from nbclient import NotebookClient

        if self.km is not None and (self._used >= self.recycle or not self._alive()):
            self.stop()
        if self.km is None:
            self._start()
            return
        # through nbclient, like the report itself (same event loop for the kernel client)
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(_RESET)])
        client = NotebookClient(nb, km=self.km, kernel_name=self.kernel_name, timeout=60)
        client.kc = self.kc  # not a constructor argument; set, it is used instead of a new client
        try:
            client.execute()
        except Exception:  # noqa: BLE001 - a kernel that cannot even reset is replaced
            self.stop()
            self._start()

    # -------------------------------------------------------------- one report
    def render(self, task: ReportTask, out_dir) -> ReportResult:
        """Execute the notebook for ``task`` and write ``<stem>.html``, ``.pdf``, ``.xlsx``, ``ipynb/<stem>.ipynb``.

        Everything is written into a private staging folder inside ``out_dir``
        and moved into place with ``os.replace`` only when the report is
        complete: a reader (or a crash) never meets half a file, and a failed
        report leaves the previous run's HTML and PDF as they were (only its
        executed notebook is kept, for troubleshooting). The Excel file is
        written by the notebook to ``EXCEL`` itself, atomically
        (:func:`asi_lib.tables.write_excel`). Never raises for a
        failing report: the result says ``failed`` and why.
        """
        import papermill as pm
        from papermill.exceptions import PapermillExecutionError

        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        res = ReportResult(municipality=task.municipality, name=task.name)
        stage = Path(tempfile.mkdtemp(prefix=f".staging-{task.stem}-", dir=out_dir))
        final = {"notebook": out_dir / "ipynb" / f"{task.stem}.ipynb", "excel": out_dir / f"{task.stem}.xlsx",
                 "html": out_dir / f"{task.stem}.html", "pdf": out_dir / f"{task.stem}.pdf"}
        staged = {k: stage / v.name for k, v in final.items() if k != "excel"}
        t0 = time.perf_counter()
        started_ns = time.time_ns() - 2_000_000_000   # file systems with coarse timestamps
        deadline = t0 + float(task.timeout)
        kernel_ok = False
        try:
            try:
                self._ready()
                self._used += 1
                nb = pm.execute_notebook(
                    str(task.notebook or self.notebook), str(staged["notebook"]),
                    parameters={**task.parameters, "EXCEL": str(final["excel"])},
                    kernel_name=self.kernel_name, progress_bar=False, request_save_on_cell_execute=False,
                    engine_name=_warm_engine(), km=self.km, kc=self.kc,
                    timeout_func=lambda cell: max(1, int(deadline - time.perf_counter() + 0.999)))
                kernel_ok = True
                notebook_to_html(nb, staged["html"], title=task.title, header=task.header, lang=task.lang)
                if task.pdf:
                    self._print(staged["html"], staged["pdf"], res)
                for k in ("html", "pdf", "notebook"):
                    if staged[k].exists():
                        final[k].parent.mkdir(parents=True, exist_ok=True)
                        os.replace(staged[k], final[k])
                        setattr(res, k, final[k])
                if res.pdf is None:
                    final["pdf"].unlink(missing_ok=True)   # an earlier run's PDF no longer matches the page
                # the notebook writes the Excel file itself, atomically (tables.write_excel); only one
                # written by this run counts
                xl = final["excel"]
                res.excel = xl if xl.exists() and xl.stat().st_mtime_ns >= started_ns else None
            except PapermillExecutionError as exc:  # a cell raised: the kernel itself is fine
                kernel_ok = True
                res.status, res.error = "failed", _error_text(exc)
            except Exception as exc:  # noqa: BLE001 - timeout, dead kernel, ...: this report fails, the rest go on
                res.status, res.error = "failed", _error_text(exc)
            finally:
                if not kernel_ok:
                    self.stop()  # a timed-out cell may still be running; the next report gets a new kernel
            if not res.ok:
                res.html = res.pdf = res.excel = None
                if staged["notebook"].exists():  # kept for troubleshooting, also for a failed report
                    final["notebook"].parent.mkdir(parents=True, exist_ok=True)
                    os.replace(staged["notebook"], final["notebook"])
                res.notebook = final["notebook"] if final["notebook"].exists() else None
        finally:
            shutil.rmtree(stage, ignore_errors=True)
        res.seconds = time.perf_counter() - t0
        return res


# --------------------------------------------------------------------------- local threads
def run_local(tasks: list[ReportTask], out_dir, *, kernel_name: str, workers: int = 2, recycle: int = 200,
              on_done=None) -> list[ReportResult]:
    """Render ``tasks`` with ``workers`` threads in this process, each with one warm kernel.

    Parameters
    ----------
    tasks : list of ReportTask
        Rendered in this order (put the largest first for an even finish).
    out_dir : Path
    kernel_name : str
    workers : int, default 2
    recycle : int, default 200
        Reports per kernel before it is replaced.
    on_done : callable, optional
        Called with each :class:`~asi_lib.reports.ReportResult` as it finishes.

    Returns
    -------
    list of ReportResult
        In the order of ``tasks``.
    """
    _trim_imports()
    todo: queue.Queue = queue.Queue()
    for i, t in enumerate(tasks):
        todo.put((i, t))
    results: list = [None] * len(tasks)
    lock = threading.Lock()

    def work():
        worker = KernelWorker(kernel_name, recycle=recycle)
        try:
            while True:
                try:
                    i, task = todo.get_nowait()
                except queue.Empty:
                    return
                try:
                    res = worker.render(task, out_dir)
                except BaseException as exc:  # noqa: BLE001 - never lose a report
                    res = ReportResult(municipality=task.municipality, name=task.name, status="failed",
                                       error=_error_text(exc))
                results[i] = res
                if on_done is not None:
                    with lock:
                        on_done(res)
        finally:
            worker.close()

    threads = [threading.Thread(target=work, name=f"asi-report-{k}", daemon=True)
               for k in range(max(1, min(int(workers), len(tasks))))]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return results


# --------------------------------------------------------------------------- Dask
_LOCAL = threading.local()
_ALL_WORKERS: list[KernelWorker] = []


def _stop_all() -> None:
    for w in list(_ALL_WORKERS):
        w.close()


def _thread_worker(kernel_name: str) -> KernelWorker:
    """The calling thread's warm worker (created on first use; stopped when the process exits)."""
    w = getattr(_LOCAL, "worker", None)
    if w is None:
        if not _ALL_WORKERS:
            atexit.register(_stop_all)
        w = _LOCAL.worker = KernelWorker(kernel_name)
        _ALL_WORKERS.append(w)
    return w


def render_task_remote(task: ReportTask, kernel_name: str) -> tuple[ReportResult, dict]:
    """Render one task on a Dask worker; return the result and the written files as bytes.

    The files go to a private temporary folder on the worker and come back to
    the client, so workers need no shared output folder.

    Returns
    -------
    (ReportResult, dict)
        The result (paths relative to the output folder) and ``{relative path: bytes}``.
    """
    from .reports import ensure_kernel

    _trim_imports()
    ensure_kernel(kernel_name)
    tmp = Path(tempfile.mkdtemp(prefix="asi-report-"))
    try:
        res = _thread_worker(kernel_name).render(task, tmp)
        files = {}
        for attr in ("html", "pdf", "excel", "notebook"):
            p = getattr(res, attr)
            if p is not None:
                rel = p.relative_to(tmp).as_posix()
                files[rel] = p.read_bytes()
                setattr(res, attr, Path(rel))
        res.worker = f"{os.uname().nodename}:{os.getpid()}"
        return res, files
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run_dask(tasks: list[ReportTask], out_dir, *, scheduler, kernel_name: str, on_done=None,
             connect_timeout: float = 10) -> list[ReportResult]:
    """Render ``tasks`` on a Dask cluster: one task per municipality.

    Parameters
    ----------
    tasks : list of ReportTask
    out_dir : Path
        Where this process writes what the workers return.
    scheduler : str or distributed.Client
        Scheduler address (``tcp://host:8786``) or a connected client.
    kernel_name : str
        Kernelspec the workers start (registered there if missing).
    on_done : callable, optional
    connect_timeout : float, default 10

    Returns
    -------
    list of ReportResult
        In the order of ``tasks``; a task that raised or whose workers kept
        dying is ``failed`` with the error (``KilledWorker: ...``).
    """
    try:
        from distributed import Client, as_completed
    except ImportError as exc:  # pragma: no cover - optional dependency
        from .errors import AsiInputError

        raise AsiInputError("--scheduler kräver paketet 'distributed' (pip install distributed) "
                            "/ --scheduler needs the 'distributed' package") from exc

    out_dir = Path(out_dir)
    own = not isinstance(scheduler, Client)
    if own:
        try:
            client = Client(scheduler, timeout=connect_timeout)
        except OSError as exc:
            from .errors import AsiInputError

            raise AsiInputError(f"kan inte nå Dask-schemaläggaren {scheduler}: {exc} "
                                "/ cannot reach the Dask scheduler") from exc
    else:
        client = scheduler
    results: list = [None] * len(tasks)
    try:
        futures = [client.submit(render_task_remote, t, kernel_name, pure=False, key=f"asi-report-{t.stem}-{i}")
                   for i, t in enumerate(tasks)]
        index = {f.key: i for i, f in enumerate(futures)}
        for fut in as_completed(futures):
            i = index[fut.key]
            task = tasks[i]
            try:
                res, files = fut.result()
                for rel, data in files.items():
                    _write_atomic(out_dir / rel, data)
                for attr in ("html", "pdf", "excel", "notebook"):
                    if getattr(res, attr) is not None:
                        setattr(res, attr, out_dir / getattr(res, attr))
            except Exception as exc:  # noqa: BLE001 - KilledWorker, lost connection, ...: recorded, not lost
                res = ReportResult(municipality=task.municipality, name=task.name, status="failed",
                                   error=_error_text(exc))
            results[i] = res
            if on_done is not None:
                on_done(res)
    finally:
        if own:
            client.close()
    return [r if r is not None else replace(ReportResult(municipality=t.municipality, name=t.name),
                                            status="failed", error="ingen uppgift om rapporten / report lost")
            for r, t in zip(results, tasks)]
