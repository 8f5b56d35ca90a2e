# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python (asi-kit)
#     language: python
#     name: asi-kit
# ---

# %% [markdown]
# # 00 Snabbstart: demolagret
#
# *Quickstart for FoU/RSS analysts: open the demo store, read the codebook, the ingest log and the quarantine,
# and see how complete the interviews are.*
#
# Den här notebooken är din första halvtimme med asi-kit. Den använder den inbyggda **syntetiska** regionen
# (inga riktiga personer) och bygger ett pseudonymiserat lager första gången den körs — samma väg som
# riktiga exporter tar: `export → inläsning (validering, karantän) → pseudonymisering → lager`.
#
# Allt du ser här kommer från `asi_lib`; notebooken innehåller ingen egen logik. Fortsätt sedan med
# 01 (klientgruppen), 02 (jämförelser), 03 (uppföljning), 04 (bortfall och insatser) och 05 (användning och
# trender).

# %% tags=["parameters"]
# Parametrar (papermill kan byta dem)
OUT = "../out/demo"      # här byggs demolagret om det saknas
KOMMUN = "Älvstad"       # kommunen som visas i sista tabellen
LANG = "sv"              # "sv" eller "en"
MIN_CELL = 5             # minsta antal som får visas

# %%
import pandas as pd
import asi_lib
from asi_lib.demo import ensure_demo_store
from asi_lib import groups, reports
from asi_lib.publish import TOTAL, publish
from asi_lib.scores import completeness
from asi_lib.store import Store, load_store

pd.set_option("display.max_columns", 20)
pd.set_option("display.width", 160)
store_dir = ensure_demo_store(OUT)
ds = load_store(store_dir)
st = Store(store_dir)
cb = asi_lib.load_codebook()

# %% [markdown]
# ## Lagret: fyra tabeller
#
# Lagret har en tabell per formulär: **ASI Grund**, **ASI Uppföljning**, **bortfall** och **insatser (UBÅT)**.
# Raderna räknas nedan; samma frö ger alltid samma syntetiska region.

# %%
# NBVAL_CHECK_OUTPUT
print(ds)

# %% [markdown]
# Klient-id finns aldrig i lagret: det ersätts vid inläsningen av `client_pid`, en nyckelhashad
# pseudonym (HMAC-SHA256). Värden lagras som koder; etiketterna (svenska som standard) kommer ur kodboken.

# %%
# NBVAL_CHECK_OUTPUT
print("klient-id i lagret:", "client_id" in ds.grund.columns, "| pseudonym i lagret:", "client_pid" in ds.grund.columns)

# %% [markdown]
# ## Kodboken
#
# Kodboken är den enda källan till kolumner, koder, intervall och etiketter: mallarna i `data_templates/`,
# valideringen, etiketterna i tabellerna och de syntetiska data bygger alla på den. Här är början av
# Grund-tabellen; `asi-kit codebook --format json` ger hela kodboken.

# %%
print(cb.describe("grund", lang=LANG).iloc[3:22, [0, 1, 3, 5]].to_string(index=False))

# %% [markdown]
# ## Inläsningsloggen
#
# Varje rad i varje fil redovisas: **inlästa = godkända + rättade + i karantän**. Manifestet i lagret minns
# varje inläsning (tid, filer, antal, nyckelns fingeravtryck — aldrig själva nyckeln eller några id). Loggen
# räknar rader i filer, inte klienter, och är lagrets egen bokföring för den som läser in data.

# %%
log = st.ingest_log()
print(log[["file", "table", "read", "accepted_new", "accepted_unchanged", "corrected", "quarantined"]].to_string(index=False))

# %%
# NBVAL_CHECK_OUTPUT
print("varje inläst rad redovisad:", bool(log["accounted"].all()))

# %% [markdown]
# ## Karantänen
#
# Rader med fel läses inte in i tabellerna men sparas (pseudonymiserade) i karantänen tillsammans med sina
# problem: fil, rad (radnummer i filen, rubrikraden = 1), kolumn, värde och regel. Personnummer och fritext
# maskeras (`***`). Rätta i källsystemet och läs in igen; uppföljningar som väntar på sin Grund släpps
# automatiskt när Grund kommer.

# %%
# NBVAL_CHECK_OUTPUT
print(st.quarantine_problems(lang=LANG)[["file", "row", "column", "value", "rule"]].to_string(index=False))

# %% [markdown]
# ## Hur komplett är materialet?
#
# En intervju utan intervjuarskattning faller bort ur statistiken i många system. Här visas det i stället:
# per område hur många intervjuer i kommunen som saknar skattning eller inte ger något sammanvägt index.
# Tabellen har gått genom `publish`, skyddet mot små tal som varje publicerad tabell passerar: antal under
# `MIN_CELL` visas som `<5` och det som skulle kunna räkna fram dem döljs (`..`).

# %%
publish(completeness(ds.filter(municipality=KOMMUN), table="grund"), min_cell=MIN_CELL, lang=LANG)

# %% [markdown]
# ## En första figur
#
# Vad lagret kan visa: kommunens sammanvägda index per livsområde bredvid hela regionen (senaste Grund per
# klient, medelvärde med 95 % KI, n i förklaringen). Figuren ritas med kitets `reports.plot_profile` ur de
# publicerade siffrorna, precis som i kommunrapporterna; fortsätt i 01–05 för frågorna bakom den.

# %%
reports.plot_profile(groups.profile(ds, by="municipality"), groups=[KOMMUN, TOTAL], min_cell=MIN_CELL, lang=LANG,
                     total_label="Hela regionen", title=f"{KOMMUN} och hela regionen")
