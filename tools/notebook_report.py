"""Generator of notebooks/report/kommunrapport.ipynb (maintainers only).

    python tools/notebook_report.py            # write the notebook
    python tools/notebook_report.py --execute  # ... and execute it in place (commit the outputs)

The report is thin: asi_lib calls and Swedish prose for a manager. It is
rendered per municipality by ``asi-kit reports`` (asi_lib/reports.py) with
papermill and exported to HTML without code.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from nb import build  # noqa: E402

PATH = os.path.join(os.path.dirname(__file__), "..", "notebooks", "report", "kommunrapport.ipynb")

CELLS = [
("code", """# Parametrar (papermill byter dem)
RELEASE = None        # utgåvan (asi-kit release), None: demoutgåvan ../../out/demo/release (byggs om den saknas)
KOMMUN = "Älvstad"    # kommunen, None: hela regionen
LANG = "sv"           # "sv" eller "en" (tabellernas språk bestäms av utgåvan)
EXCEL = None          # sökväg, skriv också tabellerna till Excel""", ["parameters"]),
("code", """import warnings

from IPython.display import Markdown, display

from asi_lib import reports
from asi_lib.demo import ensure_demo_release
from asi_lib.publish import TOTAL
from asi_lib.release import load_release
from asi_lib.tables import write_excel

warnings.filterwarnings("ignore")
rel = load_release(RELEASE if RELEASE else ensure_demo_release("../../out/demo"))
tabs = rel.tables(KOMMUN)          # skyddade tillsammans med alla andra rapporter i utgåvan
region = rel.tables(None)
NAMN = rel.heading_facts(KOMMUN, LANG)["name"]
if EXCEL:
    write_excel(tabs, EXCEL, title=NAMN)""", []),
("code", """display(Markdown(reports.release_heading(rel, KOMMUN, lang=LANG)))""", []),
("md", """## Så läser du rapporten

Rapporten sammanfattar ASI-intervjuerna (Addiction Severity Index) med kommunens klienter på **gruppnivå**.
Den visar inga enskilda personer.

* **n** (antal klienter) står vid varje siffra. Ju färre klienter, desto osäkrare siffra.
* **`..`** betyder att siffran är dold: antingen bygger den på färre än fem klienter, eller skulle ett sådant
  litet antal annars gå att räkna fram ur andra siffror i rapporterna. Alla rapporter, Excelfiler och
  översikten i en utgåva skyddas tillsammans, så dolda siffror går inte heller att räkna fram genom att
  jämföra två rapporter.
* **`–`** betyder att siffran inte går att räkna ut (t.ex. ingen klient med svar).
* **Endast tendenser**: med färre än tio klienter går det inte att dra slutsatser, bara reflektera. Då
  visas inga p-värden.
* **95 % KI** (konfidensintervall) visar hur mycket siffran kan variera av slumpen. Överlappar två
  intervall kan skillnaden vara slump.
* **Bortfall**: klienter i målgruppen som inte intervjuats eller följts upp. Siffrorna gäller bara dem som
  intervjuats; ett stort bortfall gör dem mindre säkra.

Data i demoversionen är **syntetiska**.""", []),
("md", """## Materialet i korthet

Hur många klienter rapporten bygger på, hur många i målgruppen som **inte** intervjuades (Grundbortfall)
och hur många av dem som borde ha följts upp som faktiskt följdes upp.""", []),
("code", """reports.show_table(tabs["Materialet i korthet"])""", []),
("md", """## Vilka är klienterna?

Kön, ålder, huvudsakligt problem/preparat, boende och försörjning enligt klienternas **senaste ASI Grund**.
*Saknar värde* räknar klienter utan svar; andelarna räknas på dem som svarat.""", []),
("code", """reports.show_table(tabs["Klientgruppen"])""", []),
("md", """Ålder, sammanvägda index och intervjuarens skattningar för samma klienter: medelvärde, spridning
(standardavvikelse) och median.""", []),
("code", """reports.show_table(tabs["Klientgruppen, medelvärden"])""", []),
("md", """## Vilka problem har klienterna?

Sammanvägda index (0–1; högre = svårare problem de senaste 30 dagarna) och intervjuarens skattning
(0–9: 0–1 inget problem, 4–5 måttligt, 8–9 extremt) per livsområde, för kvinnor och män.
Figuren visar bara de siffror som tabellen visar; n per grupp står i förklaringen.""", []),
("code", """figur = reports.plot_profile(tabs["Problem per kön"], lang=LANG, group_title="Kön (n klienter)",
                             title=f"{NAMN}: sammanvägda index per kön")
figur if figur is not None else Markdown("*För få klienter för att visa en figur.*")""", []),
("code", """reports.show_table(tabs["Problem per kön"])""", []),
("md", """### Per åldersgrupp och huvudsakligt preparat

Många små grupper ger fler dolda celler (`..`): det är skyddet som arbetar, inte ett fel.""", []),
("code", """reports.show_table(tabs["Problem per åldersgrupp"])""", []),
("code", """reports.show_table(tabs["Problem per huvudpreparat"])""", []),
("md", """## Jämfört med andra

För en kommun: kommunens klienter jämförda med **övriga kommuner** i regionen (skillnad, 95 % KI och
effektstorlek; klientgruppernas sammansättning står under tabellen, eftersom olika klientgrupper ger olika
siffror). För hela regionen: profilen per kommun. Figuren visar kommunen bredvid hela regionen (för
regionen: per åldersgrupp).""", []),
("code", """if KOMMUN is None:
    jamfor = reports.plot_profile(tabs["Problem per åldersgrupp"], lang=LANG, group_title="Ålder (n klienter)",
                                  title="Hela regionen: sammanvägda index per åldersgrupp")
else:
    jamfor = reports.plot_profile(region["Problem per kommun"], groups=[KOMMUN, TOTAL], lang=LANG,
                                  total_label="Hela regionen", group_title="(n klienter)",
                                  title=f"{NAMN} och hela regionen: sammanvägda index")
jamfor if jamfor is not None else Markdown("*För få klienter för att visa en figur.*")""", []),
("code", """reports.show_table(tabs["Problem per kommun" if KOMMUN is None else "Jämfört med övriga"])""", []),
("code", """reports.show_table(tabs["Klientgruppernas sammansättning"]) if KOMMUN is not None else None""", []),
("md", """## Hur komplett är materialet?

En intervju utan intervjuarskattning faller ofta bort ur statistiken. Tabellen visar per livsområde hur
många intervjuer som saknar skattning eller inte ger något sammanvägt index.""", []),
("code", """reports.show_table(tabs["Kompletthet"])""", []),
("md", """## Används ASI?

Grundintervjuer och bortfall per period: hur stor andel av målgruppen som intervjuades. Perioden är
halvår, eller år i kommuner med färre än 20 i målgruppen per halvår (annars blir nästan varje rad dold).
Den senaste perioden är preliminär, eftersom bortfall ofta registreras i efterhand.""", []),
("code", """reports.show_table(tabs["ASI-användning"])""", []),
("md", """## Uppföljning och bortfall

Hur många baslinjer (Grund) som följts upp, hur många vars uppföljningsfönster passerat utan uppföljning
(bortfall) och hur många som ännu inte är aktuella. **Läs förändringen nedan tillsammans med bortfallet:**
de som följdes upp kan skilja sig från dem som inte gjorde det.""", []),
("code", """reports.show_table(tabs["Uppföljning och bortfall"])""", []),
("md", """## Har klienternas situation förändrats?

Skillnad mellan uppföljning och baslinje per livsområde (negativ = förbättring), med 95 % KI och antal par.
*Förbättrade/Försämrade* räknar klienter vars förändring är större än mätfelet (RCI). En förändring säger
inte ensam att insatsen orsakat den.""", []),
("code", """reports.show_table(tabs["Förändring per område"])""", []),
("md", """## Vilka fattas? Bortfall

Klienter i målgruppen som inte intervjuades (Grundbortfall) per kön, och skälen till bortfall vid Grund och
vid uppföljning. Saknas vissa grupper systematiskt blir bilden skev.""", []),
("code", """reports.show_table(tabs["Bortfall Grund"])""", []),
("code", """reports.show_table(tabs["Bortfallsorsaker Grund"])""", []),
("code", """reports.show_table(tabs["Bortfallsorsaker uppföljning"])""", []),
("md", """## Insatser

Andel avslutade insatser som genomfördes enligt plan, per insats.""", []),
("code", """reports.show_table(tabs["Insatser genomförda"])""", []),
("md", """## Att ta med till diskussionen

* Stämmer bilden med er egen uppfattning om klientgruppen? Om inte: är det urvalet, bortfallet eller bilden
  som behöver justeras?
* Vilka grupper saknas (bortfall) och varför? Vad kan göras för att fler intervjuas och följs upp?
* Med få klienter: endast tendenser. Jämför med regionen eller slå ihop flera år innan ni drar slutsatser.
* Planera – gör – studera – agera (PDSA): mät igen nästa period och jämför.""", []),
("code", """# NBVAL_CHECK_OUTPUT
# Kontroll: antal tabeller och att alla har passerat skyddet för små tal
skyddade = all(t.attrs["asi"]["published"] for t in tabs.values())
print(f"{NAMN}: {len(tabs)} tabeller, alla skyddade för små tal: {'ja' if skyddade else 'NEJ'}")""", []),
]


def main(argv):
    build(PATH, CELLS)
    if "--execute" in argv:
        import nbformat
        from nbclient import NotebookClient

        nb = nbformat.read(PATH, as_version=4)
        NotebookClient(nb, timeout=600, kernel_name="asi-kit",
                       resources={"metadata": {"path": os.path.dirname(os.path.abspath(PATH))}}).execute()
        nbformat.write(nb, PATH)


if __name__ == "__main__":
    main(sys.argv[1:])
