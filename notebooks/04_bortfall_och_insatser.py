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
# # 04 Bortfall och insatser: vilka når vi inte, och vad får klienterna?
#
# *Attrition at baseline and follow-up, its reasons, who is missing and whether the followed-up differ
# (attrition bias); UBÅT: interventions by group, completion, the client's view and the caseworker's
# rating, needs against interventions.*
#
# **Bortfall** är klienter i målgruppen som inte intervjuades (Grund) eller inte följdes upp (Uppföljning).
# Ett stort eller snett bortfall gör alla andra siffror osäkrare — därför ska bortfallet redovisas bredvid
# varje resultat. Den andra halvan handlar om **insatserna** (UBÅT-formuläret).
#
# **Läs så här.** `<5` = färre än fem klienter, `..` = dolt för att skydda små tal, *Endast tendenser* =
# färre än tio klienter (inga slutsatser). Data är **syntetiska**.

# %% tags=["parameters"]
# Parametrar (papermill kan byta dem)
OUT = "../out/demo"      # demolagret (byggs om det saknas)
KOMMUN = "Älvstad"       # kommunen som beskrivs
LANG = "sv"              # "sv" eller "en"
MIN_CELL = 5             # minsta antal som får visas

# %%
import pandas as pd
from asi_lib import bortfall, insatser, monitor, plots
from asi_lib.demo import ensure_demo_store
from asi_lib.followup import pair_followups
from asi_lib.publish import publish
from asi_lib.store import load_store

pd.set_option("display.max_rows", 250)
pd.set_option("display.max_columns", 40)
ds = load_store(ensure_demo_store(OUT))
kommun = ds.filter(municipality=KOMMUN)
as_of = monitor.as_of_date(ds)        # regionens senaste datum: samma status för alla kommuner
par = pair_followups(kommun, as_of=as_of)
par_region = pair_followups(ds, as_of=as_of)   # hela regionen (för bortfallsmodellen)
SMALL = list(map(str, range(1, MIN_CELL)))   # antal som aldrig får synas

# %%
# NBVAL_CHECK_OUTPUT
print(KOMMUN, kommun)

# %% [markdown]
# ## Bortfall vid Grund
#
# Andel av målgruppen (klienter med Grundintervju eller registrerat Grundbortfall) som **inte** intervjuades.
# Först regionens kommuner, sedan kommunen per kön. Oregistrerat bortfall syns inte här: kontrollera att
# bortfall faktiskt registreras.

# %%
grundbortfall = bortfall.grund_bortfall(ds, by="municipality")
pub_gb = publish(grundbortfall, min_cell=MIN_CELL, lang=LANG)
pub_gb

# %%
# NBVAL_CHECK_OUTPUT
print("små antal synliga:", bool(pub_gb.isin(SMALL).any().any()))

# %% [markdown]
# **Figuren**: andelen Grundbortfall per kommun med 95 % KI (`plots.plot_shares`, bara publicerade siffror,
# n i etiketten). Kommuner med få klienter har breda intervall: en hög andel där kan vara slump.

# %%
plots.plot_shares(grundbortfall, "municipality", min_cell=MIN_CELL, lang=LANG,
                  title="Grundbortfall per kommun", xlabel="Andel Grundbortfall (%) med 95 % KI")

# %%
publish(bortfall.grund_bortfall(kommun, by="sex"), min_cell=MIN_CELL, lang=LANG)

# %% [markdown]
# ## Bortfall vid uppföljning
#
# Bland Grundintervjuer vars uppföljningsfönster (90–730 dagar) har passerat: hur många följdes upp, och hur
# många missades — med eller utan registrerad bortfallsorsak?

# %%
publish(bortfall.followup_bortfall(kommun, pairing=par, by="sex", lang=LANG), min_cell=MIN_CELL, lang=LANG)

# %% [markdown]
# ## Orsaker till bortfallet
#
# Orsakerna i vägledningens kategorier. Många "hinder hos handläggaren" eller "rutin saknas" pekar på något
# verksamheten själv kan ändra.

# %%
publish(bortfall.bortfall_reasons(kommun, "grund", lang=LANG), min_cell=MIN_CELL, lang=LANG)

# %%
publish(bortfall.bortfall_reasons(kommun, "uppfoljning", lang=LANG), min_cell=MIN_CELL, lang=LANG)

# %% [markdown]
# ## Vilka saknas vid Grund?
#
# Intervjuade jämfört med bortfall på de uppgifter som en bortfallsregistrering har (kön, ålder, boende,
# försörjning, preparat …). *Standardiserad skillnad* över 0,2 (i absoluta tal) flaggas: där saknas en grupp
# systematiskt.

# %%
publish(bortfall.who_is_missing(kommun, lang=LANG), min_cell=MIN_CELL, lang=LANG)

# %% [markdown]
# ## Skiljer sig de uppföljda från dem som inte följdes upp?
#
# Baslinjeprofilen hos uppföljda och missade klienter. Skiljer de sig redan vid baslinjen är
# förändringssiffrorna i notebook 03 **snedvridna**: de visar hur det gick för dem som gick att nå.

# %%
snedhet = bortfall.attrition_bias(kommun, pairing=par, min_cell=MIN_CELL, lang=LANG)
publish(snedhet, min_cell=MIN_CELL, lang=LANG)

# %%
# NBVAL_CHECK_OUTPUT
print(bortfall.attrition_warning(snedhet, lang=LANG)
      or "Ingen varning: ingen visad skillnad är 0,2 standardavvikelser eller större.")

# %% [markdown]
# ### Hur mycket ändrar bortfallet förändringen?
#
# Förändringen i alkoholindex för de uppföljda (*komplett fall*) bredvid samma förändring **viktad för
# bortfallet** (klienter som liknar dem som inte nåddes räknas tyngre; bygger bara på det som mätts vid
# baslinjen), och två känslighetsanalyser: om de som inte följdes upp var *oförändrade*, och gränserna om alla
# de som inte följdes upp hade haft den största förbättringen respektive försämringen som observerats.
# Hela regionens baslinjer används: en kommun har för få för modellen.

# %%
publish(bortfall.ipw_change(par_region, "alcohol", lang=LANG), min_cell=MIN_CELL, lang=LANG)

# %% [markdown]
# ## Insatser (UBÅT): vilka grupper får vilka insatser?
#
# Andel av klienterna med en insats som fått respektive insatstyp, per kön och per åldersgrupp. En klient
# kan ha flera insatser, så andelarna summerar inte till 100 %.

# %%
publish(insatser.interventions_by_group(kommun, by="sex", lang=LANG), min_cell=MIN_CELL, lang=LANG)

# %%
publish(insatser.interventions_by_group(kommun, by="age_band", lang=LANG), min_cell=MIN_CELL, lang=LANG)

# %% [markdown]
# ## Genomförs insatserna?
#
# Andel avslutade insatser som genomfördes enligt plan, och varför de andra avbröts.

# %%
publish(insatser.completion(kommun, lang=LANG), min_cell=MIN_CELL, lang=LANG)

# %%
publish(insatser.termination_reasons(kommun, lang=LANG), min_cell=MIN_CELL, lang=LANG)

# %% [markdown]
# ## Vad tycker klienten, och hur bedömer handläggaren?
#
# Medelvärde (1–5) av klientens uppfattning om insatsen och handläggarens bedömning, och fördelningen över
# svarsalternativen. *Saknar värde* = inget svar registrerat.

# %%
publish(insatser.rating_means(kommun, lang=LANG), min_cell=MIN_CELL, lang=LANG)

# %%
fordelning = insatser.rating_distribution(kommun, lang=LANG)
publish(fordelning, min_cell=MIN_CELL, lang=LANG)

# %% [markdown]
# Kontroll av skyddet i antalskolumnerna (`n`, `k`; kolumnen med svarsalternativen 1–5 är inga antal):

# %%
# NBVAL_CHECK_OUTPUT
ra = publish(fordelning, min_cell=MIN_CELL, lang=LANG, labels=False)
print("små antal synliga:", bool(ra[["n", "k"]].isin(SMALL).any().any()))

# %% [markdown]
# ## Matchar insatserna behoven?
#
# För varje insatstyp: andel av klienterna som hade ett problem (intervjuarskattning 4 eller mer) i
# respektive livsområde vid Grund, och medelskattningen. Får klienter med stora psykiska problem eller
# narkotikaproblem insatser som riktar sig dit?

# %%
publish(insatser.needs_vs_interventions(kommun, lang=LANG), min_cell=MIN_CELL, lang=LANG)

# %% [markdown]
# ## Att tänka på
#
# * Redovisa bortfallet bredvid varje resultat, särskilt när det skiljer sig mellan grupper.
# * Insatser ges inte slumpmässigt: klienter med svårare problem får mer omfattande insatser. Jämför inte
#   insatser rakt av — se de justerade modellerna i notebook 03.
# * Nöjdhet och genomförande säger något om insatsen som ASI-indexen inte fångar.
