"""Generator of notebooks/02_jamforelse.ipynb (run from anywhere).

The notebook is thin: only asi_lib calls, publish() for every table and
Swedish prose; tests/test_notebooks_thin.py checks that.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from nb import build  # noqa: E402

PATH = os.path.join(os.path.dirname(__file__), "..", "notebooks", "02_jamforelse.ipynb")

CELLS = [
("md", """# 02 Jämförelse: kommunen jämfört med övriga

*One municipality against the rest of the region (with case mix), and groups compared within the
municipality.*

"X jämfört med övriga": kommunen (`KOMMUN`) ställs mot **alla andra kommuner i regionen tillsammans**
(kommunen själv ingår inte i jämförelsegruppen), livsområde för livsområde. Samma notebook kan köras för
varje kommun med papermill.

**Läs så här.** En skillnad mellan kommuner kan bero på *vilka* klienter som kommer till kommunen
(klientsammansättning, *case mix*) lika väl som på arbetet. Därför står andel kvinnor, medelålder och andel
med alkohol som huvudpreparat bredvid varje jämförelse. p-värden är justerade för att många områden testas
(Benjamini–Hochberg, FDR). Under tio klienter: endast tendenser, inget p-värde. Data är **syntetiska**.""", []),
("code", """# Parametrar (papermill kan byta dem)
OUT = "../out/demo"      # demolagret (byggs om det saknas)
KOMMUN = "Älvstad"       # kommunen som jämförs med övriga
LANG = "sv"              # "sv" eller "en"
MIN_CELL = 5             # minsta antal som får visas""", ["parameters"]),
("code", """import pandas as pd
from asi_lib import compare, groups, scores
from asi_lib.demo import ensure_demo_store
from asi_lib.publish import publish
from asi_lib.store import load_store

pd.set_option("display.max_rows", 250)
pd.set_option("display.max_columns", 40)
ds = load_store(ensure_demo_store(OUT))
kommun = ds.filter(municipality=KOMMUN)
SMALL = list(map(str, range(1, MIN_CELL)))   # antal som aldrig får synas""", []),
("code", """# NBVAL_CHECK_OUTPUT
print(KOMMUN, kommun)
print("regionen", ds)""", []),
("md", """## Regionen: sammanvägda index per kommun

Först helheten: varje kommuns medelvärden (senaste Grund per klient) och regionens total. Kommuner med få
klienter döljs eller märks — de bör läsas tillsammans med regionen, inte var för sig.""", []),
("code", """publish(groups.profile(ds, by="municipality", measures=scores.score_columns()), min_cell=MIN_CELL, lang=LANG)""", []),
("md", """## Kommunen mot övriga

*Skillnad* = kommunen − övriga, med 95 % KI (Welch). *Effektstorlek* (Hedges g): runt 0,2 liten, 0,5
måttlig, 0,8 stor. Titta på storleken och intervallet före p-värdet: med många klienter blir även små,
oviktiga skillnader "signifikanta".""", []),
("code", """jmf = compare.compare_one_vs_rest(ds, unit_col="municipality", unit=KOMMUN)
pub_jmf = publish(jmf, min_cell=MIN_CELL, lang=LANG)
pub_jmf""", []),
("code", """# NBVAL_CHECK_OUTPUT
print(pub_jmf.attrs["asi"]["compared"], pub_jmf.attrs["asi"]["test"], pub_jmf.attrs["asi"]["adjust"])
print("små antal synliga:", bool(pub_jmf.isin(SMALL).any().any()))""", []),
("md", """**Klientsammansättningen** står i de sista kolumnerna (samma på varje rad). Skiljer den sig mycket åt
— t.ex. fler kvinnor eller en annan ålder i kommunen — kan skillnaderna ovan bero på den snarare än på
insatserna. Jämför då inom grupper (nedan) eller använd de justerade modellerna i notebook 03.

Sammanvägda index är ofta snedfördelade (många nollor). En robust kontroll är Mann–Whitney-testet;
skillnaden och intervallet är fortfarande Welchs.""", []),
("code", """publish(compare.compare_one_vs_rest(ds, unit=KOMMUN, measures=scores.score_columns(), test="mannwhitney"),
        min_cell=MIN_CELL, lang=LANG)""", []),
("md", """## Grupper inom kommunen

Skiljer sig problemen mellan kvinnor och män, mellan unga vuxna (18–30) och äldre, och mellan
huvudpreparat? *alla grupper* är ett samlat test (Kruskal–Wallis och ANOVA); raderna under jämför
grupperna parvis (Welch).""", []),
("code", """publish(compare.compare_groups(kommun, by="sex"), min_cell=MIN_CELL, lang=LANG)""", []),
("code", """publish(compare.compare_groups(kommun, by="young_adults", measures=scores.score_columns()), min_cell=MIN_CELL, lang=LANG)""", []),
("md", """Huvudpreparat har många grupper; här visas bara det samlade testet per område (utan parvisa jämförelser).
Medelvärdena per preparat finns i notebook 01.""", []),
("code", """publish(compare.compare_groups(kommun, by="main_substance", pairwise=False), min_cell=MIN_CELL, lang=LANG)""", []),
("md", """## Att tänka på

* En jämförelse säger *att* kommunen skiljer sig, inte *varför*. Ta med frågan till personalgruppen:
  känner ni igen bilden?
* Visa alltid n och bortfall bredvid (notebook 04): en kommun som intervjuar få av sina klienter kan se
  annorlunda ut bara av det skälet.
* Små kommuner: under tio klienter endast tendenser. Slå ihop flera år eller jämför i regionen.""", []),
]

if __name__ == "__main__":
    build(PATH, CELLS)
