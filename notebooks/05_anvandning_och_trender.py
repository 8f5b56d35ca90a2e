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
# # 05 ASI-användning och trender (PDSA)
#
# *Keeping ASI use alive: interviews per period and unit, share of the target group interviewed,
# follow-up rate and timing, follow-ups falling due; PDSA: trends by year and period A against period B.*
#
# Vägledningen: räkna intervjuer per period, uppföljningar och bortfall, och återkoppla till personalen
# (t.ex. en gång per termin). Förbättringsarbete följer **PDSA** — planera, gör, studera, agera: mät, ändra,
# mät igen och jämför med förra perioden.
#
# **Läs så här.** Den senaste perioden är **preliminär**: uppföljningar och bortfall registreras ofta i
# efterhand. `<5` = färre än fem, `..` = dolt, *Endast tendenser* = färre än tio klienter. Data är
# **syntetiska**.

# %% tags=["parameters"]
# Parametrar (papermill kan byta dem)
OUT = "../out/demo"                      # demolagret (byggs om det saknas)
KOMMUN = "Älvstad"                       # kommunen som beskrivs
LANG = "sv"                              # "sv" eller "en"
MIN_CELL = 5                             # minsta antal som får visas
PERIOD_A = ["2023-01-01", "2023-12-31"]  # PDSA: perioden före förändringen
PERIOD_B = ["2024-01-01", "2024-12-31"]  # PDSA: perioden efter

# %%
import pandas as pd
from asi_lib import monitor, plots, trends
from asi_lib.demo import ensure_demo_store
from asi_lib.followup import pair_followups
from asi_lib.publish import publish
from asi_lib.scores import add_scores
from asi_lib.store import load_store

pd.set_option("display.max_rows", 250)
pd.set_option("display.max_columns", 40)
ds = load_store(ensure_demo_store(OUT))
kommun = ds.filter(municipality=KOMMUN)
as_of = monitor.as_of_date(ds)        # regionens senaste datum: samma status för alla kommuner
par = pair_followups(kommun, as_of=as_of)
grund = add_scores(kommun.grund)      # Grund med sammanvägda index (för trenderna)
SMALL = list(map(str, range(1, MIN_CELL)))   # antal som aldrig får synas

# %%
# NBVAL_CHECK_OUTPUT
print(KOMMUN, kommun)
print("status per", as_of.date())

# %% [markdown]
# ## Intervjuer per halvår och enhet
#
# Antal Grundintervjuer, Grundbortfall och uppföljningar per halvår och enhet, och **andel intervjuade** av
# målgruppen (Grund + registrerat bortfall) med 95 % KI. En sjunkande andel eller färre intervjuer är en
# signal att prata om rutinerna.

# %%
pub_anv = publish(monitor.asi_use(kommun, by="unit", freq="half", as_of=as_of), min_cell=MIN_CELL, lang=LANG)
pub_anv

# %%
# NBVAL_CHECK_OUTPUT
print("små antal synliga:", bool(pub_anv.isin(SMALL).any().any()))
print("dolda celler:", pub_anv.attrs["asi"]["suppressed_primary"], pub_anv.attrs["asi"]["suppressed_secondary"])

# %% [markdown]
# **Figuren**: andelen av målgruppen som intervjuats med ASI Grund per halvår i hela kommunen, med 95 % KI
# (`plots.plot_shares`, bara publicerade siffror, n i etiketten). Senaste halvåret är preliminärt: bortfall
# registreras ofta i efterhand.

# %%
plots.plot_shares(monitor.asi_use(kommun, freq="half", as_of=as_of), "period", min_cell=MIN_CELL, lang=LANG,
                  title=f"{KOMMUN}: ASI-användning per halvår", xlabel="Andel intervjuade (%) med 95 % KI")

# %% [markdown]
# Regionens kommuner per år, för att se kommunen bredvid de andra:

# %%
publish(monitor.asi_use(ds, by="municipality", freq="year", as_of=as_of), min_cell=MIN_CELL, lang=LANG)

# %% [markdown]
# ## Görs uppföljningarna, och när?
#
# Bland Grundintervjuer vars uppföljningsfönster har passerat: andel som följdes upp, och hur många dagar
# efter Grund (median och kvartiler). Regionala planer anger ofta 6–12 månader (180–365 dagar).

# %%
publish(monitor.followup_timing(kommun, by="unit", as_of=as_of, pairing=par), min_cell=MIN_CELL, lang=LANG)

# %% [markdown]
# ## Uppföljningar som förfaller de kommande sex månaderna
#
# Baslinjer utan uppföljning vars fönster öppnar per månad och enhet — en arbetslista på gruppnivå (inga
# namn eller id).

# %%
publish(monitor.followups_due(kommun, by="unit", months=6, as_of=as_of, pairing=par), min_cell=MIN_CELL, lang=LANG)

# %% [markdown]
# ## Trender per år
#
# Klienternas problem vid Grund år för år (senaste Grund per klient och år): sammanvägda index för alkohol
# och narkotika, och andelen med cannabis som huvudpreparat — vägledningens exempel om unga vuxna med
# narkotikaproblem som blivit fler.

# %%
publish(trends.trend(grund, ["composite_alcohol", "composite_drugs"], period="year", lang=LANG),
        min_cell=MIN_CELL, lang=LANG)

# %%
publish(trends.trend(grund, "main_substance", level="cannabis", period="year", lang=LANG), min_cell=MIN_CELL, lang=LANG)

# %% [markdown]
# Utfallet år för år: **förändringen** (uppföljning − baslinje) i alkoholindex, efter baslinjens år.
# Negativt = förbättring.

# %%
publish(trends.trend(par.pairs, "composite_alcohol", period="year", lang=LANG), min_cell=MIN_CELL, lang=LANG)

# %% [markdown]
# ## PDSA: period A mot period B
#
# Jämför perioden före en förändring (A, parametern `PERIOD_A`) med perioden efter (B, `PERIOD_B`).
# Skillnad = B − A med 95 % KI; medelvärden testas med Welch, andelar med z-test (Fisher vid små tal).
# Klientgruppen kan ha ändrats mellan perioderna — kontrollera sammansättningen (översta raderna) innan
# förändringen av utfallet tillskrivs arbetet.

# %%
publish(trends.compare_periods(grund, ["composite_alcohol", "composite_drugs", "age"], PERIOD_A, PERIOD_B, lang=LANG),
        min_cell=MIN_CELL, lang=LANG)

# %%
pub_pdsa = publish(trends.compare_periods(par.pairs, ["composite_alcohol", "composite_drugs"], PERIOD_A, PERIOD_B, lang=LANG),
                   min_cell=MIN_CELL, lang=LANG)
pub_pdsa

# %%
# NBVAL_CHECK_OUTPUT
print("små antal synliga:", bool(pub_pdsa.isin(SMALL).any().any()))

# %% [markdown]
# ## Att tänka på
#
# * Återkoppla siffrorna till personalen en gång per termin: antal intervjuer, uppföljningar och bortfall.
# * Den senaste perioden är preliminär; jämför hela perioder.
# * En förändring mellan två perioder kan vara slump eller en annan klientgrupp. Under tio klienter: endast
#   tendenser.
