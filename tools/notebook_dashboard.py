"""Generator of notebooks/dashboard/oversikt.ipynb, the Voilà dashboard (run from anywhere).

The notebook is thin: parameters, then one call to
:func:`asi_lib.dashboard.open_dashboard`; all logic is in the library.
Serve it with ``make dashboard``.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from nb import build  # noqa: E402

PATH = os.path.join(os.path.dirname(__file__), "..", "notebooks", "dashboard", "oversikt.ipynb")

CELLS = [
("md", """# ASI-översikt

Gruppstatistik ur ASI-intervjuerna för **en kommun**. Alla tabeller har gått genom skyddet för små tal:
`<5` = färre än fem klienter, `..` = dolt för att skydda små tal, *Endast tendenser* = färre än tio
klienter, inga slutsatser.""", []),
("code", """# Parametrar. KOMMUN = None: kommunen läses ur adressen (?kommun=Namn) och måste finnas i lagret.
# En fast KOMMUN (t.ex. injicerad med papermill för en kommuns egen server) kan inte ändras via adressen.
KOMMUN = None
STORE = None             # None: miljövariabeln ASI_KIT_STORE, annars demolagret
DEMO = "../../out/demo"  # demolagret (byggs om det saknas)
LANG = "sv"
MIN_CELL = 5""", ["parameters"]),
("code", """# Under `make dashboard` väntande (förvärmda) kärnor kör cellen fram till att adressen läses
# (i open_dashboard): importer, lagret och ritverktyget är då redan laddade när en sida begärs.
import os
import matplotlib.pyplot  # noqa: F401  (förvärms)
from asi_lib.dashboard import open_dashboard
from asi_lib.demo import ensure_demo_store

store = STORE or os.environ.get("ASI_KIT_STORE") or ensure_demo_store(DEMO)
open_dashboard(store, municipality=KOMMUN, lang=LANG, min_cell=MIN_CELL)""", []),
]

if __name__ == "__main__":
    os.makedirs(os.path.dirname(PATH), exist_ok=True)
    build(PATH, CELLS)
    print("wrote", os.path.normpath(PATH))
