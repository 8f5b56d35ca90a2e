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
# # 01 Klientgruppen: vilka problem har våra klienter?
#
# *Who are our clients and which problems do they have? Table 1, problem profiles by sex, age and main
# substance, a crosstab and the completeness of the interviews.*
#
# Notebooken beskriver klienterna i **en kommun** (parametern `KOMMUN`) utifrån deras senaste ASI Grund.
# Den följer vägledningens råd: börja med kön och ålder, visa antal (n) vid varje siffra och visa hur
# komplett materialet är.
#
# **Läs så här.** Alla tabeller har gått genom `publish`: antal under `MIN_CELL` visas som `<5`, siffror som
# skulle kunna räkna fram ett sådant antal döljs (`..`), och grupper med färre än tio klienter märks
# *Endast tendenser* — där går det inte att dra slutsatser, bara reflektera. Data är **syntetiska**.

# %% tags=["parameters"]
# Parametrar (papermill kan byta dem)
OUT = "../out/demo"      # demolagret (byggs om det saknas)
KOMMUN = "Älvstad"       # kommunen som beskrivs
LANG = "sv"              # "sv" eller "en"
MIN_CELL = 5             # minsta antal som får visas

# %%
import pandas as pd
from asi_lib import groups, reports, scores
from asi_lib.demo import ensure_demo_store
from asi_lib.publish import publish
from asi_lib.store import load_store

pd.set_option("display.max_rows", 250)
pd.set_option("display.max_columns", 40)
ds = load_store(ensure_demo_store(OUT))
kommun = ds.filter(municipality=KOMMUN)
SMALL = list(map(str, range(1, MIN_CELL)))   # antal som aldrig får synas

# %% [markdown]
# ## Materialet
#
# Antal poster i kommunens fyra tabeller (Grund, Uppföljning, bortfall, insatser). Tabellerna nedan bygger på
# **senaste Grund per klient**, så n är antal unika klienter.

# %%
# NBVAL_CHECK_OUTPUT
print(KOMMUN, kommun)

# %% [markdown]
# ## Tabell 1: vilka är klienterna?
#
# Kön, åldersgrupp, huvudsakligt problem/preparat, boende, försörjning och några livstidsfrågor, per kön och
# totalt. *Saknar värde* räknar klienter där frågan inte besvarats (X) eller är tom; andelarna räknas på dem
# som har ett svar.

# %%
pub_t1 = publish(groups.table1(kommun, by="sex"), min_cell=MIN_CELL, lang=LANG)
pub_t1

# %% [markdown]
# Kontroll av skyddet: inget antal mellan 1 och `MIN_CELL − 1` syns i tabellen, och så här många celler
# doldes (primärt `<5`, sekundärt `..`). Teckenförklaringen gäller alla tabeller i notebooken.

# %%
# NBVAL_CHECK_OUTPUT
print("små antal synliga:", bool(pub_t1.isin(SMALL).any().any()))
print("dolda celler:", pub_t1.attrs["asi"]["suppressed_primary"], pub_t1.attrs["asi"]["suppressed_secondary"])
print(pub_t1.attrs["asi"]["legend"])

# %% [markdown]
# ## Problemprofil per kön
#
# Sammanvägda index (0–1, högre = svårare problem de senaste 30 dagarna) och intervjuarens skattning
# (0–9: 0–1 inget problem, 4–5 måttligt, 8–9 extremt) per livsområde. KI = 95 % konfidensintervall för
# medelvärdet.

# %%
publish(groups.profile(kommun, by="sex"), min_cell=MIN_CELL, lang=LANG)

# %% [markdown]
# ## Unga vuxna (18–30) jämfört med äldre
#
# Vägledningens exempel: en enhet upptäckte att unga vuxna med narkotikaproblem blivit fler, medan insatserna
# var byggda för äldre med alkoholproblem. Här jämförs 18–30 år med 31 år och äldre.

# %%
prof_unga = groups.profile(kommun, by="young_adults", measures=scores.score_columns())
publish(prof_unga, min_cell=MIN_CELL, lang=LANG)

# %% [markdown]
# **Figuren** visar medelvärde med 95 % KI per livsområde (`reports.plot_profile`, samma figur som i
# kommunrapporterna). Den ritas **bara ur de siffror som `publish` visar** (dolda eller för små antal ritas
# inte), och n står i förklaringen. Överlappande intervall betyder att skillnaden kan vara slump.

# %%
reports.plot_profile(prof_unga, min_cell=MIN_CELL, lang=LANG, group_title="Åldersgrupp (n klienter)",
                     title=f"{KOMMUN}: sammanvägda index, senaste Grund per klient")

# %% [markdown]
# ## Per åldersgrupp och huvudsakligt preparat
#
# Åldersgrupper i tioårsklasser och huvudsakligt problem/preparat. Många små grupper ger fler dolda celler:
# det är skyddet som arbetar, inte ett fel. Slå ihop grupper (eller regionen) om för mycket döljs.

# %%
publish(groups.profile(kommun, by="age_band", measures=scores.score_columns()), min_cell=MIN_CELL, lang=LANG)

# %%
publish(groups.profile(kommun, by="main_substance", measures=scores.score_columns()), min_cell=MIN_CELL, lang=LANG)

# %% [markdown]
# ## Korstabell: ålder mot huvudsakligt preparat
#
# Radprocent: bland klienterna i en åldersgrupp, hur stor andel har respektive preparat som huvudsakligt problem?

# %%
publish(groups.crosstab(kommun, "young_adults", "main_substance"), min_cell=MIN_CELL, lang=LANG)

# %% [markdown]
# ## Hur komplett är materialet?
#
# En intervju utan intervjuarskattning faller ofta bort ur statistiken. Här syns i stället hur många
# intervjuer per livsområde som saknar skattning eller inte ger något sammanvägt index. Ett högt bortfall
# i ett område gör områdets siffror osäkrare. Vilka frågor som oftast saknas visar `scores.completeness(...)`
# utan `publish` (kolumnen `why`) och `scores.completeness_items(...)`: arbetsmaterial med små tal, inte för
# publicering.

# %%
publish(scores.completeness(kommun, table="grund", lang=LANG), min_cell=MIN_CELL, lang=LANG)

# %% [markdown]
# ## Att tänka på
#
# * Siffrorna beskriver de klienter som **intervjuats**. Vilka som inte intervjuats (bortfall) visas i
#   notebook 04 — läs dem tillsammans.
# * Stämmer bilden med er egen uppfattning om klientgruppen? Om inte: är det urvalet, bortfallet eller
#   bilden som behöver justeras?
# * Under tio klienter: endast tendenser. Små kommuner bör jämföra sig i regionen (notebook 02).
