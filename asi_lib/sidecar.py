"""A second Python process for independent pieces of one long computation.

A release is built on one core (pandas and the protection's rounds are
single-threaded), while machines that build releases have at least two. A
:class:`Sidecar` is a child interpreter, started with ``python -c`` (not
:mod:`multiprocessing`: its ``spawn`` and ``forkserver`` methods import the
caller's ``__main__`` again, which re-runs an unguarded script, and ``fork``
copies a process whose other threads may hold locks, such as a Jupyter
kernel's). It imports the kit while the parent works, then runs functions of
the kit sent to it, one after another; arguments and results travel as
pickles over its standard input and output.

It only ever speeds things up: when the child cannot start, dies or raises,
:meth:`Job.result` computes the same call in this process, so a result never
depends on whether a sidecar ran it. Warnings raised in the child are raised
again in the parent.
"""
from __future__ import annotations

import os
import pickle
import struct
import subprocess
import sys
import tempfile
import threading
import warnings
from pathlib import Path

__all__ = ["Sidecar", "Job"]

_HEADER = struct.Struct("<Q")
_CHILD = "from asi_lib.sidecar import _serve; _serve()"
_PENDING = object()   # Job.result not asked for yet


def _send(stream, obj) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(data)))
    stream.write(data)
    stream.flush()


def _receive(stream):
    head = stream.read(_HEADER.size)
    if len(head) < _HEADER.size:
        raise EOFError("the sidecar closed its output")
    (size,) = _HEADER.unpack(head)
    data = stream.read(size)
    if len(data) < size:
        raise EOFError("the sidecar's answer was cut short")
    return pickle.loads(data)


def _serve() -> None:
    """The child's loop: read ``(fn, args, kwargs)``, answer ``("ok", result, warnings)`` or ``("error", text, [])``."""
    inp, out = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr          # nothing the work prints may corrupt the answers
    _send(out, ("ready", None, []))
    while True:
        try:
            fn, args, kwargs = _receive(inp)
        except EOFError:
            return
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                result = fn(*args, **kwargs)
            except BaseException as exc:  # noqa: BLE001 - reported to the parent, which computes it itself
                _send(out, ("error", f"{type(exc).__name__}: {exc}", []))
                continue
        _send(out, ("ok", result, [(str(w.message), w.category) for w in caught]))


class Job:
    """One call sent to a :class:`Sidecar`; :meth:`result` waits for it."""

    def __init__(self, sidecar: Sidecar | None, fn, args, kwargs):
        self.fn, self.args, self.kwargs = fn, args, kwargs
        self.error: str | None = None
        self._answer = None
        self._thread = None
        self._sidecar = sidecar
        self._value = _PENDING
        if sidecar is not None:
            self._thread = threading.Thread(target=self._run, args=(sidecar,), daemon=True)
            self._thread.start()

    def _run(self, sidecar: Sidecar) -> None:
        try:
            with sidecar._lock:     # one call at a time, in the order they were sent
                sidecar._wait_ready()
                _send(sidecar._proc.stdin, (self.fn, self.args, self.kwargs))
                self._answer = _receive(sidecar._proc.stdout)
        except Exception as exc:  # noqa: BLE001 - broken pipe, dead child, unpicklable argument: computed here
            sidecar._broken = True
            self.error = f"{type(exc).__name__}: {exc}{sidecar._last_words()}"

    def result(self):
        """The call's result, from the child, or computed here when the child could not deliver it (once;
        later calls give the same object)."""
        if self._value is _PENDING:
            self._value = self._result()
        return self._value

    def _result(self):
        if self._thread is not None:
            self._thread.join()
        answer = self._answer
        if answer is not None and answer[0] == "error":
            self.error = answer[1]
        if self._sidecar is not None:   # counted once: result() keeps the value
            if self.remote:
                self._sidecar.calls += 1
            else:
                self._sidecar.errors.append(self.error or "?")
        if self.remote:
            for message, category in answer[2]:
                warnings.warn(message, category, stacklevel=3)
            return answer[1]
        return self.fn(*self.args, **self.kwargs)

    @property
    def remote(self) -> bool:
        """True when the child delivered the result (after :meth:`result`)."""
        return self._answer is not None and self._answer[0] == "ok"


class Sidecar:
    """A child interpreter that runs functions of the kit beside this process.

    Parameters
    ----------
    enabled : bool, default True
        False gives a sidecar that runs every call here, when its result is
        asked for (one code path for callers).

    Notes
    -----
    The child is started at once and imports the kit while the caller goes
    on. Functions and arguments must be picklable (module-level functions of
    the kit, frames, arrays). Close it (or use it as a context manager).

    Examples
    --------
    >>> import math
    >>> with Sidecar() as side:
    ...     job = side.submit(math.comb, 10, 3)
    ...     job.result(), side.calls, side.errors
    (120, 1, [])
    >>> Sidecar(enabled=False).submit(math.comb, 10, 3).result()
    120
    """

    def __init__(self, enabled: bool = True):
        self.calls = 0                   # calls the child delivered
        self.errors: list[str] = []      # calls it did not (computed here instead), and why
        self._lock = threading.Lock()
        self._proc = None
        self._stderr = None
        self._ready = False
        self._broken = not enabled
        if enabled:
            root = str(Path(__file__).resolve().parent.parent)   # the same asi_lib as this process
            env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH"))
                                                                if p),
                   "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
            # what the child says on stderr (a traceback when it cannot start) is kept for the error text,
            # not printed among the caller's own messages
            self._stderr = tempfile.TemporaryFile()
            try:
                self._proc = subprocess.Popen([sys.executable, "-c", _CHILD], stdin=subprocess.PIPE,
                                              stdout=subprocess.PIPE, stderr=self._stderr, env=env)
            except OSError:
                self._broken = True

    def _last_words(self) -> str:
        """The end of the child's stderr (why it died), for an error text."""
        try:
            self._stderr.seek(0)
            lines = self._stderr.read().decode("utf-8", "replace").strip().splitlines()
        except (AttributeError, OSError, ValueError):
            return ""
        return f" ({lines[-1][:300]})" if lines else ""

    def _wait_ready(self) -> None:
        if not self._ready:
            if _receive(self._proc.stdout)[0] != "ready":
                raise EOFError("the sidecar did not start")
            self._ready = True

    def submit(self, fn, *args, **kwargs) -> Job:
        """Send ``fn(*args, **kwargs)`` to the child; :meth:`Job.result` gives its value."""
        return Job(None if self._broken or self._proc is None else self, fn, args, kwargs)

    def close(self) -> None:
        """End the child (it finishes no further call)."""
        if self._proc is None:
            return
        if self._lock.locked():      # a call still running that nobody will ask for: not waited for
            self._proc.kill()
        try:
            self._proc.stdin.close()   # the child ends at the end of its input
        except OSError:
            pass
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        self._proc.stdout.close()
        self._proc = None
        self._stderr.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
