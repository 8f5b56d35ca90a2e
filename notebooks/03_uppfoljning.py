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
# # 03 Uppföljning: har klienternas situation förändrats?
#
# *Change from baseline to follow-up: pairing and its attrition, change per life area, problem-free at
# follow-up, change by group, naive against adjusted effects per intervention, a mixed model and precision.*
#
# Varje klients **baslinje** (Grund eller återaktualisering) paras ihop med en **uppföljning** 90–730 dagar
# senare (den senaste i fönstret). Bara klienter med båda intervjuerna kan visa förändring — därför står
# **bortfallet** först, och bredvid varje förändringssiffra.
#
# **Läs så här.** Skillnad = uppföljning − baslinje: ett *negativt* värde betyder *mindre* problem.
# Förändringen visar vad som hände klienterna, inte vad insatsen åstadkom (se avsnittet om regression mot
# medelvärdet). Under tio klienter: endast tendenser. Data är **syntetiska**.

# %% tags=["parameters"]
# Parametrar (papermill kan byta dem)
OUT = "../out/demo"      # demolagret (byggs om det saknas)
KOMMUN = "Älvstad"       # kommunen som följs upp
LANG = "sv"              # "sv" eller "en"
MIN_CELL = 5             # minsta antal som får visas
OMRADE = "alcohol"       # livsområde för modellerna (medical, employment, alcohol, drugs, legal, family, psychiatric)

# %%
import pandas as pd
from asi_lib import change, models, monitor, plots, power
from asi_lib.demo import ensure_demo_store
from asi_lib.followup import pair_followups
from asi_lib.publish import publish
from asi_lib.store import load_store

pd.set_option("display.max_rows", 250)
pd.set_option("display.max_columns", 40)
ds = load_store(ensure_demo_store(OUT))
kommun = ds.filter(municipality=KOMMUN)
as_of = monitor.as_of_date(ds)        # regionens senaste datum: samma status för alla kommuner
par = pair_followups(kommun, as_of=as_of)        # kommunens par
par_region = pair_followups(ds, as_of=as_of)     # hela regionens par (för modellerna)
rci = change.estimate_rci_reference(par_region.pairs)  # en fast RCI-referens för alla kommuner
SMALL = list(map(str, range(1, MIN_CELL)))   # antal som aldrig får synas

# %% [markdown]
# ## Parningen och bortfallet
#
# Hur många baslinjer har följts upp, hur många missades (fönstret har passerat utan uppföljning) och hur
# många är inte aktuella än? **Bortfallet** räknas bland de baslinjer vars fönster har passerat.

# %%
publish(par.summary(), min_cell=MIN_CELL, lang=LANG)

# %%
# NBVAL_CHECK_OUTPUT
print(KOMMUN, par.params["selection"])
print(f"bortfall bland förfallna baslinjer: {par.bortfall_share():.0%}")

# %% [markdown]
# Är bortfallet stort (här runt en tredjedel eller mer) kan de uppföljda skilja sig från dem som inte
# följdes upp. Notebook 04 visar *vilka* som saknas och om de skiljer sig redan vid baslinjen.
#
# ## Förändring per livsområde
#
# Medelvärde vid baslinjen (`mean_0`) och uppföljningen (`mean_1`), skillnaden med 95 % KI och p-värde
# (parat t-test; Wilcoxon som robust kontroll). *Förbättrade / Oförändrade / Försämrade* är reliabel
# förändring enligt Jacobson–Truax, där reliabiliteten finns (sammanvägda index).
#
# **Tid till uppföljningen** står bredvid varje rad (median och kvartiler i dagar): med fönstret 90–730
# dagar blandas uppföljningar efter tre månader och två år. **Regression mot medelvärdet** står i
# kommentaren: klienter intervjuas ofta när de mår som sämst, så en del av förbättringen hade kommit ändå.
#
# **Reliabiliteten för RCI är fast**: skattad en gång på hela regionens par (Cronbachs alfa för indexets
# egna frågor) och samma för alla kommuner, så att andelen förbättrade går att jämföra. Alfa är intern
# konsistens, inte test–retest-reliabilitet — läs andelarna som en fingervisning.

# %%
publish(rci.to_frame(lang=LANG), min_cell=MIN_CELL, lang=LANG)

# %%
forandring = change.change_by_area(par.pairs, reliability=rci, lang=LANG)
publish(forandring, min_cell=MIN_CELL, lang=LANG)

# %% [markdown]
# **Figuren**: förändringen (uppföljning − Grund) i det sammanvägda indexet per livsområde med 95 % KI
# (`plots.plot_change`, bara publicerade siffror, n par vid varje område). Under noll = mindre problem.
# Den visar inte effekten av insatserna: regression mot medelvärdet och bortfallet ovan finns kvar i den.

# %%
plots.plot_change(forandring, min_cell=MIN_CELL, lang=LANG, title=f"{KOMMUN}: förändring per livsområde")

# %% [markdown]
# **Kliniskt betydelsefull förändring** (Jacobson–Truax): *återhämtade* har en reliabel förbättring och
# ligger efter uppföljningen bortom gränsen mot friskt. Det finns ingen dokumenterad svensk norm för
# indexen i befolkningen, så gränsen är två standardavvikelser från klientgruppens medelvärde (kriterium a).
# Den gränsen hamnar ofta under 0 och kan då inte passeras — tabellen säger det; med en dokumenterad norm
# används kriterium c.

# %%
publish(change.clinical_change_by_area(par.pairs, rci, lang=LANG), min_cell=MIN_CELL, lang=LANG)

# %% [markdown]
# ## Problemfria vid uppföljningen
#
# Bland klienter som hade ett problem vid baslinjen (intervjuarskattning 4 eller mer): hur stor andel är
# problemfria (skattning 0–1) vid uppföljningen?

# %%
pub_fri = publish(change.problem_free_change(par.pairs, lang=LANG), min_cell=MIN_CELL, lang=LANG)
pub_fri

# %%
# NBVAL_CHECK_OUTPUT
print("små antal synliga:", bool(pub_fri.isin(SMALL).any().any()))

# %% [markdown]
# Andelen ovan väljer ut dem som hade problem vid baslinjen, och de förbättras delvis av sig själva
# (regression mot medelvärdet). Jämför därför också **samma klienters** andel problemfria vid baslinjen och
# vid uppföljningen, med McNemars test för parade andelar (*blev problemfria* mot *fick problem*):

# %%
publish(change.problem_status_change(par.pairs, lang=LANG), min_cell=MIN_CELL, lang=LANG)

# %% [markdown]
# ## Förändring per grupp
#
# Skiljer sig förändringen mellan kvinnor och män, åldersgrupper och huvudpreparat? (Sammanvägda index.)
# Grupperna kan ha olika svåra problem från början — jämför därför också baslinjen (`mean_0`).

# %%
publish(models.change_by_group(par.pairs, by="sex", measures=("composite",), reliability=rci, lang=LANG),
        min_cell=MIN_CELL, lang=LANG)

# %%
publish(models.change_by_group(par.pairs, by="age_band", measures=("composite",), reliability=rci, lang=LANG),
        min_cell=MIN_CELL, lang=LANG)

# %%
publish(models.change_by_group(par.pairs, by="main_substance", measures=("composite",), areas=[OMRADE],
                               reliability=rci, lang=LANG), min_cell=MIN_CELL, lang=LANG)

# %% [markdown]
# ## Vilka insatser verkar fungera? Naivt mot justerat
#
# **Regression mot medelvärdet.** Klienter som söker hjälp när det är som värst förbättras ofta ändå, och
# de med högst värden vid baslinjen förbättras mest — även utan insats. Insatser som ges till de svårast
# sjuka (t.ex. institutionsvård) ser därför ut att "fungera bäst" om man bara jämför före och efter.
#
# **Den justerade modellen** (ANCOVA) jämför i stället uppföljningsvärdet hos klienter med *samma*
# baslinjevärde, kön, åldersgrupp och tid till uppföljningen. Skattningen är skillnaden mot referensen, som
# står i tabellen (negativ = bättre än referensen): *ingen insats* när minst 30 par saknade insats, annars
# *övriga insatser* (alla andra par) — aldrig en godtycklig aktiv behandling. Insatser med färre än 10 par
# får ingen skattning. Det är fortfarande inte ett experiment — klienterna valdes inte slumpmässigt till
# insatserna — men det tar bort den största felkällan.
#
# Modellerna skattas på **hela regionens** par: en kommun har sällan tillräckligt många klienter per insats.

# %% [markdown]
# **Liknar klienterna varandra?** Innan insatser jämförs: hur lika är klienterna som fått en insats dem
# som fått andra, vid baslinjen (index, kön, ålder, huvudpreparat)? *Dålig överlappning* betyder att en
# justerad jämförelse för den insatsen bygger på antaganden utanför data.

# %%
publish(models.propensity_overlap(par_region.pairs, OMRADE, lang=LANG), min_cell=MIN_CELL, lang=LANG)

# %%
publish(models.naive_vs_adjusted(par_region.pairs, OMRADE, lang=LANG), min_cell=MIN_CELL, lang=LANG)

# %% [markdown]
# Hela modellen med alla termer (insats, kön, åldersgrupp, månader till uppföljningen). Nästan varje
# klient har ett enda par, så standardfelen är HC3 med t-fördelning (klusterrobusta per klient bara när
# klienterna verkligen har flera par); för få par per skattad effekt ger ingen modell alls:

# %%
publish(models.adjusted_effects(par_region.pairs, OMRADE, lang=LANG), min_cell=MIN_CELL, lang=LANG)

# %% [markdown]
# ## Blandad modell: kommunerna som kluster
#
# Klienter i samma kommun liknar varandra (samma utbud, samma rutiner). Den blandade modellen har en egen
# nivå (slumpintercept) per kommun. Liknar skattningarna ANCOVA-modellens ovan är resultatet robust mot
# skillnader mellan kommunerna.

# %%
publish(models.mixed_effects(par_region.pairs, OMRADE, group="municipality", lang=LANG), min_cell=MIN_CELL, lang=LANG)

# %% [markdown]
# ## Kommunerna jämförda, justerat för klienterna
#
# Går det bättre eller sämre för klienterna i en kommun än vad deras utgångsläge (index vid baslinjen, kön,
# ålder, huvudpreparat, tid till uppföljningen) förutsäger i regionen? *Observerat − förväntat* under noll är
# bättre än förväntat. **Trattens gränser** visar hur stor skillnad slumpen ger vid kommunens antal par: bara
# kommuner utanför gränserna skiljer sig tydligt. Den **krympta skattningen** drar små kommuner mot regionens
# medel, så att de inte rangordnas efter slumpen.

# %%
publish(models.unit_comparison(par_region.pairs, OMRADE, by="municipality", lang=LANG), min_cell=MIN_CELL, lang=LANG)

# %% [markdown]
# ## Hur säkra kan vi vara? Kommunen mot den sammanslagna regionen
#
# För varje kommun och för regionen: hur brett konfidensintervallet för medelförändringen blir
# (*ci_halfwidth*), den minsta förändring som kan upptäckas med 80 % styrka, och hur många uppföljda
# klienter som skulle behövas för att upptäcka en förändring på 0,05. Små kommuner når sällan dit ensamma —
# det är skälet att slå samman data regionalt.

# %%
pub_prec = publish(power.precision_table(par_region.pairs, by="municipality", areas=[OMRADE], lang=LANG),
                   min_cell=MIN_CELL, lang=LANG)
pub_prec

# %%
# NBVAL_CHECK_OUTPUT
print("små antal synliga:", bool(pub_prec.isin(SMALL).any().any()))

# %% [markdown]
# Tabellen ovan svarar på frågan **"har klienternas situation förändrats?"** — och den frågan besvarar
# regression mot medelvärdet till stor del av sig själv. Frågan **"går det bättre för klienterna i en kommun
# (eller med en insats) än för övriga, vid samma utgångsläge?"** kräver betydligt fler par: tabellen nedan
# visar hur säkert varje kommun kan jämföras med övriga i regionen (ANCOVA, justerat för baslinjen), och hur
# många par per grupp som behövs för att upptäcka en skillnad på 0,05.

# %%
pub_jmf = publish(power.comparison_precision_table(par_region.pairs, by="municipality", area=OMRADE, lang=LANG),
                  min_cell=MIN_CELL, lang=LANG)
pub_jmf

# %%
# NBVAL_CHECK_OUTPUT
print("små antal synliga:", bool(pub_jmf.isin(SMALL).any().any()))

# %% [markdown]
# ## Att tänka på
#
# * Förändring före–efter är inte samma sak som effekt av insatsen.
# * Läs bortfallet bredvid varje siffra: de som inte följdes upp kan ha haft det sämre (eller bättre).
# * Under tio klienter: endast tendenser, inga slutsatser.
