import sys; sys.path.insert(0, __import__("os").path.dirname(__file__))
from nb import build
cells = [
("md", """# 00 Snabbstart: demolagret

*Quickstart for FoU/RSS analysts: open the demo store, look at the tables, the ingest report and the quarantine.*

Den här notebooken är din första halvtimme med asi-kit. Den använder den inbyggda **syntetiska** regionen
(inga riktiga personer) och bygger ett pseudonymiserat lager första gången den körs — samma väg som
riktiga exporter tar: `export → inläsning (validering, karantän) → pseudonymisering → lager`.

Allt du ser här kommer från `asi_lib`; notebooken innehåller ingen egen logik.""", []),
("code", """# Parametrar (papermill kan byta dem)
OUT = "../out/demo"   # här byggs demolagret om det saknas
LANG = "sv\"""", ["parameters"]),
("code", """import pandas as pd
import asi_lib
from asi_lib.demo import ensure_demo_store
from asi_lib.store import Store, load_store

pd.set_option("display.max_columns", 12)
store_dir = ensure_demo_store(OUT)
ds = load_store(store_dir)"""
, []),
("md", """## Lagret: fyra tabeller

Lagret har en tabell per formulär: **ASI Grund**, **ASI Uppföljning**, **bortfall** och **insatser (UBÅT)**.
Raderna räknas nedan; samma frö ger alltid samma syntetiska region.""", []),
("code", """# NBVAL_CHECK_OUTPUT
print(ds)""", []),
("md", """Klient-id finns aldrig i lagret: det ersätts vid inläsningen av `client_pid`, en nyckelhashad
pseudonym (HMAC-SHA256). Värden lagras som koder; etiketterna (svenska som standard) kommer ur kodboken.""", []),
("code", """# NBVAL_CHECK_OUTPUT
print("client_id" in ds.grund.columns, "client_pid" in ds.grund.columns)""", []),
("code", """cb = asi_lib.load_codebook()
cols = ["client_pid", "municipality", "unit", "interview_date", "sex", "age", "main_substance", "rating_alcohol"]
ds.grund[cols].head()""", []),
("code", """# Koder → svenska etiketter ur kodboken
cb.labels("grund", "main_substance", lang=LANG)""", []),
("md", """## Inläsningsrapporten

Varje rad i varje fil redovisas: **inlästa = godkända + i karantän**. Manifestet i lagret minns varje
inläsning (tid, filer, antal, nyckelns fingeravtryck — aldrig själva nyckeln eller några id).""", []),
("code", """st = Store(store_dir)
files = pd.DataFrame([f | {"inläsning": i["ingest_id"]} for i in st.manifest["ingests"] for f in i["files"]])
files[["file", "table", "read", "accepted_new", "accepted_unchanged", "quarantined"]]""", []),
("code", """# NBVAL_CHECK_OUTPUT
# Kontroll: ingen rad har försvunnit
print(bool((files["read"] == files["accepted_new"] + files["accepted_unchanged"] + files["corrected"] + files["quarantined"]).all()))""", []),
("md", """## Karantänen

Rader med fel läses inte in i tabellerna men sparas (pseudonymiserade) i karantänen tillsammans med sina
problem: fil, rad, kolumn och regel. Rätta i källsystemet och läs in igen; uppföljningar som väntar på sin
Grund släpps automatiskt när Grund kommer.""", []),
("code", """q = st.read_quarantine()
q[["table", "file", "row", "rules"]]""", []),
("code", """# NBVAL_CHECK_OUTPUT
print(sorted(st.summary()["quarantined_by_rule"]))""", []),
("md", """## Hur komplett är materialet?

En intervju utan intervjuarskattning faller bort ur statistiken i många system. Här visas det i stället:
per område hur många intervjuer som saknar skattning eller inte ger något sammanvägt index, och varför.""", []),
("code", """from asi_lib.scores import completeness
completeness(ds, table="grund", lang=LANG)""", []),
]
build("notebooks/00_quickstart.ipynb", cells)
