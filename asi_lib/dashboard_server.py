"""Serving the dashboard: Voilà with a fixed ceiling on kernels and a gate in front of it.

Plain Voilà starts one kernel (~320–350 MB with the stack and the data) per page
request and keeps it after the tab is closed (STACK_NOTES pitfall 11), so a few
dozen visits exhaust a small server. This module is the launcher that
``make dashboard`` runs (``python -m asi_lib.dashboard_server``): Voilà itself,
configured by ``notebooks/dashboard/voila.json``, with three additions.

* :class:`AsiKernelManager` (``VoilaConfiguration.multi_kernel_manager_class``)
  culls a kernel that has had **no browser connection** for
  ``cull_disconnected_timeout`` seconds (a closed tab, a ``curl`` that never
  opens the websocket), besides Jupyter's own idle culling
  (``cull_idle_timeout``, ``cull_connected``).
* :class:`GatedVoilaHandler` answers before any kernel is used: a polite
  Swedish page *"försök igen om en stund"* (HTTP 503, ``Retry-After``) when
  ``max_sessions`` pages already hold a kernel; HTTP 400 for ``?template=`` /
  ``?theme=`` (Voilà would otherwise render another template, or start an
  extra kernel outside the pool); HTTP 403 when the server instance is
  restricted to some municipalities (``municipalities``) and the address
  names another one, or none.
* :class:`AsiVoila` installs the handler and exports the municipality list
  (``ASI_DASHBOARD_KOMMUNER``) and the release folder (``ASI_KIT_RELEASE``)
  to the kernels, where :func:`asi_lib.dashboard.open_dashboard` applies them.

Kernels are bounded by ``max_sessions + default_pool_size`` whatever the
number of requests: pages in use hold at most ``max_sessions`` kernels (each
request's kernel is tracked until it is shut down), and the preheated pool
keeps ``default_pool_size`` kernels waiting.

Why a launcher (a subclass of Voilà's application) and not only a config file:
Voilà 0.5 has no hook that runs per request before a kernel is taken
(``prelaunch_hook`` cannot be combined with ``preheat_kernel``, and the pool
hands out kernels before any notebook code runs), and the standalone ``voila``
command loads no jupyter_server extensions. Replacing the page handler by a
subclass is the smallest change that sees every page request first; the
browser test fails if a Voilà upgrade changes the handler it replaces.
"""
from __future__ import annotations

import html
import os
import sys
import time
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs

import tornado.web
from jupyter_core.utils import ensure_async
from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
from traitlets import Integer, List, Unicode
from voila.app import Voila
from voila.tornado.handler import TornadoVoilaHandler

from .dashboard import ENV_MUNICIPALITIES, ENV_RELEASE, QUERY_KEY, REFUSAL, configured_municipalities

__all__ = ["AsiKernelManager", "AsiVoila", "GatedVoilaHandler", "ENV_MUNICIPALITIES", "FORBIDDEN_ARGS",
           "BUSY_TEXT", "main"]

#: Query arguments Voilà would act on; refused (the page's look is fixed by the server).
FORBIDDEN_ARGS = ("template", "theme")
#: The polite page when the server is full.
BUSY_TEXT = ("Översikten har många besökare just nu. Försök igen om en stund "
             "(ladda om sidan om en minut).")
_BAD_ARGS_TEXT = "Adressen innehåller inställningar som inte är tillåtna (template, theme). Inga uppgifter visas."


def _page(title: str, text: str) -> str:
    return ("<!DOCTYPE html><html lang='sv'><head><meta charset='utf-8'>"
            f"<title>{html.escape(title)}</title>"
            "<style>body{font-family:sans-serif;max-width:40em;margin:4em auto;color:#222}"
            ".asi-refusal,.asi-busy{font-size:18px}.asi-refusal{color:#8a1c1c}</style></head>"
            f"<body>{text}</body></html>")


# --------------------------------------------------------------------------- kernels
class AsiKernelManager(AsyncMappingKernelManager):
    """Jupyter's kernel manager, also culling kernels without a browser connection.

    ``cull_idle_timeout`` (Jupyter) culls kernels idle that long, connected
    or not when ``cull_connected`` is true; ``cull_disconnected_timeout`` culls
    sooner a kernel that is idle and has **no** websocket connection: a closed
    tab (Voilà's own shutdown request is refused without ``_xsrf``,
    voila-dashboards/voila#1458) or a client that never opened the page's
    websocket. Pooled (preheated, unused) kernels are never culled (Voilà's
    pool wraps this class and skips them). Both are checked every
    ``cull_interval`` seconds.
    """

    cull_disconnected_timeout = Integer(
        60, config=True,
        help="Seconds after which an idle kernel with no connection is culled (0: only cull_idle_timeout).")

    async def cull_kernel_if_idle(self, kernel_id):
        kernel = self._kernels.get(kernel_id)
        if kernel is None:
            return None
        timeout = self.cull_disconnected_timeout
        if (timeout > 0 and hasattr(kernel, "last_activity")
                and not self._kernel_connections.get(kernel_id, 0)
                and getattr(kernel, "execution_state", None) != "busy"
                and datetime.now(timezone.utc) - kernel.last_activity > timedelta(seconds=timeout)):
            self.log.warning("Culling kernel %s: no connection for %s s", kernel_id, timeout)
            await ensure_async(self.shutdown_kernel(kernel_id))
            return None
        return await super().cull_kernel_if_idle(kernel_id)


class _Slot:
    """One page request's claim on a kernel: pending until its kernel is known."""

    __slots__ = ("kernel_id", "since")

    def __init__(self):
        self.kernel_id = None
        self.since = time.monotonic()


class _RequestKernels:
    """The kernel manager as one page request sees it: records which kernel the page got."""

    def __init__(self, km, slot: _Slot):
        self._km = km
        self._slot = slot

    def __getattr__(self, name):
        return getattr(self._km, name)

    async def start_kernel(self, *args, **kwargs):
        kid = await ensure_async(self._km.start_kernel(*args, **kwargs))
        self._slot.kernel_id = kid
        return kid

    async def get_rendered_notebook(self, *args, **kwargs):
        render_task, cache, kid = await self._km.get_rendered_notebook(*args, **kwargs)
        self._slot.kernel_id = kid
        return render_task, cache, kid


# --------------------------------------------------------------------------- the gate
class GatedVoilaHandler(TornadoVoilaHandler):
    """Voilà's page handler behind a gate (arguments, municipality list, capacity)."""

    def _refuse(self, status: int, title: str, text: str, css: str) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        if status == 503:
            self.set_header("Retry-After", "60")
        self.finish(_page(title, f"<p class='{css}'><b>{html.escape(text)}</b></p>"))

    def _gate(self) -> str | None:
        app: AsiVoila = self.settings["asi_voila"]
        args = parse_qs(self.request.query, keep_blank_values=True)
        if any(k in args for k in FORBIDDEN_ARGS):
            self._refuse(400, "ASI-översikt", _BAD_ARGS_TEXT, "asi-refusal")
            return "arguments"
        allowed = app.municipalities
        if allowed:
            values = args.get(QUERY_KEY, [])
            if len(set(values)) != 1 or values[0].strip() not in allowed:
                self._refuse(403, "ASI-översikt", REFUSAL["sv"], "asi-refusal")
                return "municipality"
        if app.sessions_in_use() >= app.max_sessions:
            app.log.warning("Page refused: %d of %d sessions in use", app.sessions_in_use(), app.max_sessions)
            self._refuse(503, "ASI-översikt: försök igen om en stund", BUSY_TEXT, "asi-busy")
            return "busy"
        return None

    @tornado.web.authenticated  # as Voilà's own handler: a configured login comes before the gate
    async def get(self, path=None):
        if self._gate() is not None:
            return
        app: AsiVoila = self.settings["asi_voila"]
        slot = _Slot()
        app.slots.append(slot)
        self._asi_kernels = _RequestKernels(self.settings["kernel_manager"], slot)
        try:
            await super().get(path)
        finally:
            if slot.kernel_id is None:  # the page never got a kernel: give the place back
                app.slots.remove(slot)

    @property
    def kernel_manager(self):
        return getattr(self, "_asi_kernels", None) or self.settings["kernel_manager"]


# --------------------------------------------------------------------------- the app
class AsiVoila(Voila):
    """Voilà with :class:`GatedVoilaHandler` and the asi-kit limits (see the module docstring)."""

    name = "asi-dashboard"
    max_sessions = Integer(6, config=True,
                           help="Pages that may hold a kernel at the same time; more get 'försök igen'.")
    municipalities = List(Unicode(), config=True,
                          help="Municipalities this server may show; empty: those in "
                               f"{ENV_MUNICIPALITIES} (comma-separated), if unset every municipality in the data.")

    release = Unicode("", config=True,
                      help=f"The release folder the pages render (asi-kit release); empty: {ENV_RELEASE}, "
                           "if unset the demo release under out/demo.")

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.slots: list[_Slot] = []

    def initialize(self, argv=None):
        super().initialize(argv)
        if self.release:  # the kernels read it (asi_lib.dashboard.resolve_release); relative to the launch folder
            os.environ[ENV_RELEASE] = os.path.abspath(self.release)
        self.municipalities = list(self.municipalities) or configured_municipalities() or []
        if self.municipalities:  # the kernels apply the same list (asi_lib.dashboard.open_dashboard)
            os.environ[ENV_MUNICIPALITIES] = ",".join(self.municipalities)
        else:
            os.environ.pop(ENV_MUNICIPALITIES, None)

    def sessions_in_use(self) -> int:
        """Pages holding a kernel (or about to): pending requests plus their live kernels."""
        live = set(self.kernel_manager.list_kernel_ids())
        self.slots = [s for s in self.slots if s.kernel_id is None or s.kernel_id in live]
        return len(self.slots)

    def init_settings(self):
        settings = super().init_settings()
        settings["asi_voila"] = self
        return settings

    def init_handlers(self):
        return [(h[0], GatedVoilaHandler, *h[2:]) if len(h) > 1 and h[1] is TornadoVoilaHandler else h
                for h in super().init_handlers()]


def main(argv=None) -> None:
    """Run the dashboard server (``python -m asi_lib.dashboard_server NOTEBOOK [voila options]``)."""
    AsiVoila.launch_instance(argv=argv)


if __name__ == "__main__":  # pragma: no cover - exercised by the server tests
    sys.exit(main())
