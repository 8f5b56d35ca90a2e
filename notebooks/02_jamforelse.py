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
# # 02 Jämförelse: kommunen jämfört med övriga
#
# *One municipality against the rest of the region (with case mix), and groups compared within the
# municipality.*
#
# "X jämfört med övriga": kommunen (`KOMMUN`) ställs mot **alla andra kommuner i regionen tillsammans**
# (kommunen själv ingår inte i jämförelsegruppen), livsområde för livsområde. Samma notebook kan köras för
# varje kommun med papermill.
#
# **Läs så här.** En skillnad mellan kommuner kan bero på *vilka* klienter som kommer till kommunen
# (klientsammansättning, *case mix*) lika väl som på arbetet. Därför står andel kvinnor, medelålder och andel
# med alkohol som huvudpreparat bredvid varje jämförelse. p-värden är justerade för att många områden testas
# (Benjamini–Hochberg, FDR). Under tio klienter: endast tendenser, inget p-värde. Data är **syntetiska**.

# %% tags=["parameters"]
# Parametrar (papermill kan byta dem)
OUT = "../out/demo"      # demolagret (byggs om det saknas)
KOMMUN = "Älvstad"       # kommunen som jämförs med övriga
LANG = "sv"              # "sv" eller "en"
MIN_CELL = 5             # minsta antal som får visas

# %%
import pandas as pd
from asi_lib import compare, groups, reports, scores
from asi_lib.demo import ensure_demo_store
from asi_lib.publish import TOTAL, publish
from asi_lib.store import load_store

pd.set_option("display.max_rows", 250)
pd.set_option("display.max_columns", 40)
ds = load_store(ensure_demo_store(OUT))
kommun = ds.filter(municipality=KOMMUN)
SMALL = list(map(str, range(1, MIN_CELL)))   # antal som aldrig får synas

# %%
# NBVAL_CHECK_OUTPUT
print(KOMMUN, kommun)
print("regionen", ds)

# %% [markdown]
# ## Regionen: sammanvägda index per kommun
#
# Först helheten: varje kommuns medelvärden (senaste Grund per klient) och regionens total. Kommuner med få
# klienter döljs eller märks — de bör läsas tillsammans med regionen, inte var för sig.

# %%
publish(groups.profile(ds, by="municipality", measures=scores.score_columns()), min_cell=MIN_CELL, lang=LANG)

# %% [markdown]
# **Figuren**: kommunen bredvid hela regionen per livsområde (medelvärde med 95 % KI, n i förklaringen),
# ritad med `reports.plot_profile` ur de publicerade siffrorna. Intervall som överlappar mycket: skillnaden
# kan vara slump; skillnader i klientgruppens sammansättning (tabellen nedan) kan också förklara den.

# %%
reports.plot_profile(groups.profile(ds, by="municipality"), groups=[KOMMUN, TOTAL], min_cell=MIN_CELL, lang=LANG,
                     total_label="Hela regionen", title=f"{KOMMUN} jämfört med hela regionen")

# %% [markdown]
# ## Kommunen mot övriga
#
# *Skillnad* = kommunen − övriga, med 95 % KI (Welch). *Effektstorlek* (Hedges g): runt 0,2 liten, 0,5
# måttlig, 0,8 stor. Titta på storleken och intervallet före p-värdet: med många klienter blir även små,
# oviktiga skillnader "signifikanta".

# %%
jmf = compare.compare_one_vs_rest(ds, unit_col="municipality", unit=KOMMUN)
pub_jmf = publish(jmf, min_cell=MIN_CELL, lang=LANG)
pub_jmf

# %%
# NBVAL_CHECK_OUTPUT
print(pub_jmf.attrs["asi"]["compared"], pub_jmf.attrs["asi"]["test"], pub_jmf.attrs["asi"]["adjust"])
print("små antal synliga:", bool(pub_jmf.isin(SMALL).any().any()))

# %% [markdown]
# **Klientsammansättningen** står i de sista kolumnerna (samma på varje rad). Skiljer den sig mycket åt
# — t.ex. fler kvinnor eller en annan ålder i kommunen — kan skillnaderna ovan bero på den snarare än på
# insatserna. Jämför då inom grupper (nedan) eller använd de justerade modellerna i notebook 03.
#
# Sammanvägda index är ofta snedfördelade (många nollor). En robust kontroll är Mann–Whitney-testet;
# skillnaden och intervallet är fortfarande Welchs.

# %%
publish(compare.compare_one_vs_rest(ds, unit=KOMMUN, measures=scores.score_columns(), test="mannwhitney"),
        min_cell=MIN_CELL, lang=LANG)

# %% [markdown]
# ## Grupper inom kommunen
#
# Skiljer sig problemen mellan kvinnor och män, mellan unga vuxna (18–30) och äldre, och mellan
# huvudpreparat? *alla grupper* är ett samlat test (Kruskal–Wallis och ANOVA); raderna under jämför
# grupperna parvis (Welch).

# %%
publish(compare.compare_groups(kommun, by="sex"), min_cell=MIN_CELL, lang=LANG)

# %%
publish(compare.compare_groups(kommun, by="young_adults", measures=scores.score_columns()), min_cell=MIN_CELL, lang=LANG)

# %% [markdown]
# Huvudpreparat har många grupper; här visas bara det samlade testet per område (utan parvisa jämförelser).
# Medelvärdena per preparat finns i notebook 01.

# %%
publish(compare.compare_groups(kommun, by="main_substance", pairwise=False), min_cell=MIN_CELL, lang=LANG)

# %% [markdown]
# ## Att tänka på
#
# * En jämförelse säger *att* kommunen skiljer sig, inte *varför*. Ta med frågan till personalgruppen:
#   känner ni igen bilden?
# * Visa alltid n och bortfall bredvid (notebook 04): en kommun som intervjuar få av sina klienter kan se
#   annorlunda ut bara av det skälet.
# * Små kommuner: under tio klienter endast tendenser. Slå ihop flera år eller jämför i regionen.
