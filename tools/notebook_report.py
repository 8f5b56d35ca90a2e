"""Generator of notebooks/report/kommunrapport.ipynb (maintainers only).

    python tools/notebook_report.py            # write the notebook
    python tools/notebook_report.py --execute  # ... and execute it in place (commit the outputs)

The report is thin: asi_lib calls only. Its words come from
asi_lib/report_text.py (Swedish and English), the first page from
asi_lib/summary.py, the figures from asi_lib/figures.py; every number from
the release. It is rendered per municipality by ``asi-kit reports``
(asi_lib/reports.py) with papermill and exported to HTML without code.
Under ten clients (``LITEN``) the report is short: the summary, the
material in brief, why nothing more is shown, and the region as context.
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
LANG = "sv"           # "sv" eller "en" (utgåvan måste vara byggd på samma språk)
EXCEL = None          # sökväg, skriv också tabellerna till Excel""", ["parameters"]),
("code", """import warnings

from IPython.display import HTML, Markdown, display

from asi_lib import figures, reports, summary
from asi_lib import report_text as text
from asi_lib.demo import ensure_demo_release
from asi_lib.release import load_release, units_for
from asi_lib.tables import write_excel

warnings.filterwarnings("ignore")
# bara regionens och kommunens tabeller läses (hela utgåvan finns i manifestet)
rel = load_release(RELEASE if RELEASE else ensure_demo_release("../../out/demo"), units=units_for(KOMMUN))
text.check_release_lang(rel, LANG)
tabs = rel.tables(KOMMUN)          # skyddade tillsammans med alla andra rapporter i utgåvan
NAMN = rel.heading_facts(KOMMUN, LANG)["name"]
LITEN = KOMMUN is not None and rel.client_count(KOMMUN)[1]   # färre än tio klienter: en kort rapport
STOR = not LITEN
if EXCEL:
    write_excel(tabs, EXCEL, title=NAMN)""", []),
("code", """display(Markdown(reports.release_heading(rel, KOMMUN, lang=LANG)))""", []),
("code", """Markdown(summary.summary_markdown(rel, KOMMUN, LANG))""", []),
("code", """text.md("how_to_read", lang=LANG) if STOR else None""", []),
("code", """text.md(*(("h_compare", "compare_text") if KOMMUN else ("h_compare_region", "compare_text_region")),
        lang=LANG) if STOR else None""", []),
("code", """figures.show(figures.compare_figure(rel, KOMMUN, LANG), LANG, when=STOR)""", []),
("code", """text.md("h_change", "change_text", lang=LANG) if STOR else None""", []),
("code", """figures.show(figures.change_figure(rel, KOMMUN, LANG), LANG, when=STOR)""", []),
("code", """text.md("h_followup", "followup_text", lang=LANG) if STOR else None""", []),
("code", """figures.show(figures.coverage_figure(rel, KOMMUN, LANG), LANG, when=STOR)""", []),
("code", """figures.show(figures.usage_figure(rel, KOMMUN, LANG), LANG, when=STOR)""", []),
("code", """text.md("h_material", lang=LANG) if STOR else text.md("h_tiny_what", "tiny_what", lang=LANG)""", []),
("code", """text.show_table(tabs["Materialet i korthet"], lang=LANG)""", []),
("code", """text.md("h_tiny_why", "tiny_why", "h_tiny_region", "tiny_region", lang=LANG) if LITEN else None""", []),
("code", """figures.show(figures.compare_figure(rel, None, LANG, compact=True), LANG, when=LITEN)""", []),
("code", """Markdown(summary.look_markdown(rel, KOMMUN, LANG)) if STOR else None""", []),
("code", """text.md("h_appendix", "appendix_text", lang=LANG) if STOR else None""", []),
("code", """HTML(text.appendix_html(tabs, lang=LANG)) if STOR else None""", []),
("code", """# NBVAL_CHECK_OUTPUT
# Kontroll: antal tabeller och att alla har passerat skyddet för små tal
print(text.check_line(tabs, NAMN, LANG))""", []),
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
