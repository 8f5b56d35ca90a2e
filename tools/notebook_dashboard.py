"""Generator of notebooks/dashboard/oversikt.ipynb, the Voilà dashboard (run from anywhere).

The notebook is thin: parameters, then one call to
:func:`asi_lib.dashboard.open_dashboard`; all logic is in the library. No
markdown cell: the page's title is written once, by the dashboard.
Serve it with ``make dashboard``.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from nb import build  # noqa: E402

PATH = os.path.join(os.path.dirname(__file__), "..", "notebooks", "dashboard", "oversikt.ipynb")

CELLS = [
("code", """# Parametrar. KOMMUN = None: kommunen läses ur adressen (?kommun=Namn) och måste finnas i utgåvan.
# En fast KOMMUN (t.ex. injicerad med papermill för en kommuns egen server) kan inte ändras via adressen.
# RELEASE = None: miljövariabeln ASI_KIT_RELEASE (AsiVoila.release i voila.json), annars demoutgåvan.
# LANG = None: ?lang=en i adressen ger engelska, annars svenska.
KOMMUN = None
RELEASE = None
LANG = None""", ["parameters"]),
("code", """# Översikten återger en skyddad utgåva (asi-kit release); den räknar ingenting själv.
# Förvärmda kärnor (make dashboard) har läst utgåvan och ritat en figur innan adressen läses.
from asi_lib.dashboard import open_dashboard

open_dashboard(RELEASE, municipality=KOMMUN, lang=LANG)""", []),
]

if __name__ == "__main__":
    os.makedirs(os.path.dirname(PATH), exist_ok=True)
    build(PATH, CELLS)
    print("wrote", os.path.normpath(PATH))
