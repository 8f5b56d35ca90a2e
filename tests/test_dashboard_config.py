"""notebooks/dashboard/voila.json as the dashboard server reads it (no server started).

The template's conf.json alone does not switch the overrides off (Voilà merges it after its
configuration object exists): these settings must come from voila.json.
"""
from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

pytest.importorskip("voila")

ROOT = Path(__file__).resolve().parents[1]
DASH = ROOT / "notebooks" / "dashboard"


@pytest.fixture(autouse=True)
def _keep_sigterm():
    """Voilà's initialize() installs its own SIGTERM handler; give the test process its own back."""
    before = signal.getsignal(signal.SIGTERM)
    yield
    signal.signal(signal.SIGTERM, before)


@pytest.fixture
def app(monkeypatch):
    from asi_lib.dashboard_server import AsiKernelManager, AsiVoila
    monkeypatch.chdir(DASH)  # make dashboard runs the server here; voila.json is read from here
    monkeypatch.setenv("JUPYTER_PATH", str(DASH / "share"))
    monkeypatch.delenv("ASI_DASHBOARD_KOMMUNER", raising=False)
    AsiVoila.clear_instance()
    a = AsiVoila()
    a.initialize(["oversikt.ipynb"])
    yield a, AsiKernelManager
    AsiVoila.clear_instance()
    os.environ.pop("ASI_DASHBOARD_KOMMUNER", None)


def test_voila_json_is_applied(app):
    a, km = app
    c = a.voila_configuration
    assert c.template == "asi-kit" and c.strip_sources and not c.show_tracebacks
    assert c.allow_template_override == "NO" and c.allow_theme_override == "NO"
    assert c.preheat_kernel and c.default_pool_size == 2
    assert c.multi_kernel_manager_class is km
    # only the widget extensions: a lab extension installed for JupyterLab (e.g. jupyterlab-jupytext, built
    # against a newer JupyterLab than Voilà's page) would log "version ... does not satisfy" warnings
    assert set(c.extension_allowlist) == {"@jupyter-widgets/jupyterlab-manager", "@voila-dashboards/widgets-manager8",
                                          "jupyterlab_pygments"}
    assert a.release == ""
    assert a.ip == "127.0.0.1" and a.port_retries == 0
    assert a.max_sessions == 6 and a.municipalities == []
    assert a.config.MappingKernelManager.cull_idle_timeout == 900
    assert a.config.AsiKernelManager.cull_disconnected_timeout == 60


def test_template_conf_json_alone_does_not_forbid_overrides(monkeypatch):
    """Why voila.json carries allow_*_override: plain Voilà with --template=asi-kit still allows them."""
    from voila.app import Voila
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("JUPYTER_PATH", str(DASH / "share"))
    Voila.clear_instance()
    v = Voila()
    v.initialize([str(DASH / "oversikt.ipynb"), "--template=asi-kit"])
    assert v.voila_configuration.allow_template_override == "YES"
    Voila.clear_instance()


def test_municipality_list_from_environment_reaches_the_kernels(monkeypatch):
    from asi_lib.dashboard_server import AsiVoila
    monkeypatch.chdir(DASH)
    monkeypatch.setenv("JUPYTER_PATH", str(DASH / "share"))
    monkeypatch.setenv("ASI_DASHBOARD_KOMMUNER", "Älvstad, Björkhamn")
    AsiVoila.clear_instance()
    a = AsiVoila()
    a.initialize(["oversikt.ipynb"])
    assert a.municipalities == ["Älvstad", "Björkhamn"]
    assert os.environ["ASI_DASHBOARD_KOMMUNER"] == "Älvstad,Björkhamn"  # kernels inherit it
    AsiVoila.clear_instance()
