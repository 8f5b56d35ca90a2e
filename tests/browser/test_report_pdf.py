"""Reports on paper: the PDF the batch prints with headless Chromium, and table widths under print media.

Renders a big and a small municipality of a small demo region with PDFs
(``render_reports(..., pdf=True)``: one Chromium per worker), then checks
what a manager who prints would get: a PDF per report on A4, as many pages as
the PDF's own page tree says and at least one per main section, and no table
wider than the printed page (every table's bounding box, measured in
Chromium with print media emulated at the page's content width). A tiny
hand-built page gives an exact page count: three main sections, three pages.

Needs Chromium (``make browser-deps``) and ``playwright`` (the ``test``
extra); without them the tests are skipped with the reason.
"""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import nbformat
import pytest

from asi_lib import reports
from asi_lib.pdf import LAUNCH_ARGS, PdfPrinter, count_pdf_pages, find_chromium

playwright_sync = pytest.importorskip("playwright.sync_api", reason="playwright saknas (pip install -e '.[test]')")
CHROMIUM = find_chromium() or shutil.which("chromium") or "/usr/bin/chromium"
if not Path(CHROMIUM).exists():
    pytest.skip("Chromium saknas: kör 'make browser-deps' (apt-get install chromium) / Chromium missing",
                allow_module_level=True)

AS_OF = "2026-06-30"
BIG, SMALL = "Älvstad", "Östermyra"
MM = 96 / 25.4                     # CSS px per millimetre
A4_W_PT, A4_H_PT = 595.28, 841.89  # PDF points
#: The print stylesheet's @page: A4 portrait, 14 mm left and right margins (asi_lib.reports._TEMPLATE);
#: a table of 20 columns or more is printed on a landscape page (@page asi-bred).
CONTENT_W_PX = (210 - 2 * 14) * MM
LANDSCAPE_W_PX = (297 - 2 * 14) * MM
WIDE_COLS = 20


@pytest.fixture(scope="module")
def printed(tmp_path_factory):
    from asi_lib.demo import build_demo_store

    tmp = tmp_path_factory.mktemp("pdf")
    store = build_demo_store(tmp / "demo", n_clients=600, quiet=True, as_of=AS_OF)["store"]
    out = tmp / "rapporter"
    res = reports.render_reports(store, out, municipalities=[BIG, SMALL], workers=2, as_of=AS_OF, timeout=300,
                                 progress=False, pdf=True)
    return out, {r.municipality: r for r in res}


def _media_boxes(pdf: bytes) -> list[tuple[float, float]]:
    return [(float(w), float(h)) for w, h in
            re.findall(rb"/MediaBox\s*\[\s*0\s+0\s+([\d.]+)\s+([\d.]+)\s*\]", pdf)]


def test_a_pdf_per_report_on_a4_with_its_pages(printed):
    out, res = printed
    for m in (BIG, SMALL):
        r = res[m]
        assert r.ok, r.error
        assert r.pdf is not None and r.pdf == out / f"{reports.report_filename(m)}.pdf", r.note
        data = r.pdf.read_bytes()
        assert data.startswith(b"%PDF-")
        pages = count_pdf_pages(r.pdf)
        # the page tree's own count agrees with the page objects
        counts = [int(c) for c in re.findall(rb"/Type\s*/Pages\b[^>]*?/Count\s+(\d+)", data)] or \
                 [int(c) for c in re.findall(rb"/Count\s+(\d+)[^>]*?/Type\s*/Pages\b", data)]
        assert counts and max(counts) == pages
        boxes = _media_boxes(data)
        assert boxes and all(sorted((w, h)) == pytest.approx([A4_W_PT, A4_H_PT], abs=1) for w, h in boxes)
        # a table of 20+ columns is printed on landscape pages, the rest (first page included) in portrait
        page_html = r.html.read_text(encoding="utf-8")
        wide = [t for t in re.findall(r"<table\b.*?</tr>", page_html, flags=re.S)
                if len(re.findall(r"<t[hd]\b", t)) >= WIDE_COLS]
        assert boxes[0][1] > boxes[0][0] and any(h > w for w, h in boxes)
        assert any(w > h for w, h in boxes) == bool(wide), (m, len(wide))
        n_sections = len(re.findall(r"<h2\b", page_html))
        if m == BIG:   # every main section (h2) starts a page, except the first after the title
            assert n_sections >= 3 and n_sections <= pages <= 60, (m, n_sections, pages)
        else:          # under ten clients: a short report, one or two pages, no page per section
            assert 'class="asi-kort-rapport"' in page_html
            assert n_sections >= 2 and 1 <= pages <= 2, (m, n_sections, pages)
    index = (out / "index.html").read_text(encoding="utf-8")
    assert f"{reports.report_filename(BIG)}.pdf" in index


def test_no_table_wider_than_the_printed_page(printed):
    _, res = printed
    with playwright_sync.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, chromium_sandbox=False, args=LAUNCH_ARGS)
        try:
            page = browser.new_page(viewport={"width": int(CONTENT_W_PX), "height": 1000})
            page.emulate_media(media="print")
            measure = """() => [...document.querySelectorAll('table')].map(t => {
                const r = t.getBoundingClientRect();
                return {left: r.left, right: r.right, cols: t.rows[0] ? t.rows[0].cells.length : 0};
            })"""
            for m in (BIG, SMALL):
                # portrait tables at the portrait page's content width, wide ones at the landscape page's
                for width, wide in ((int(CONTENT_W_PX), False), (int(LANDSCAPE_W_PX), True)):
                    page.set_viewport_size({"width": width, "height": 1000})
                    page.goto(res[m].html.as_uri(), wait_until="load")
                    boxes = [b for b in page.evaluate(measure) if (b["cols"] >= WIDE_COLS) == wide]
                    assert wide or m == SMALL or len(boxes) >= 5, m   # the tiny report is short
                    out = [b for b in boxes if b["left"] < -0.5 or b["right"] > width + 0.5]
                    assert not out, (m, out[:3], width)
                    if wide:   # nothing runs off the landscape page either (no scrollbars on paper)
                        assert page.evaluate("document.documentElement.scrollWidth") <= width
                if m == BIG:   # a table with many columns was made to fit the portrait page
                    assert max(b["cols"] for b in page.evaluate(measure) if b["cols"] < WIDE_COLS) >= 12
        finally:
            browser.close()


def test_the_pruned_stylesheet_renders_the_page_as_the_whole_one(printed, tmp_path, monkeypatch):
    # asi_lib.stylesheet leaves out the template's rules that need a class the page lacks; the page must
    # look exactly the same: pixel for pixel on screen and under print media, and the same printed pages
    _, res = printed
    nb = nbformat.read(res[BIG].notebook, as_version=4)
    pruned = reports.notebook_to_html(nb, tmp_path / "pruned.html", title=BIG, header=BIG)
    monkeypatch.setattr(reports, "prune_page", lambda page: page)
    whole = reports.notebook_to_html(nb, tmp_path / "whole.html", title=BIG, header=BIG)
    assert pruned.stat().st_size < 0.85 * whole.stat().st_size       # the cut is real (240 -> ~100 kB of CSS)
    with playwright_sync.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, chromium_sandbox=False, args=LAUNCH_ARGS)
        try:
            page = browser.new_page(viewport={"width": int(CONTENT_W_PX), "height": 1000})
            for media in ("screen", "print"):
                page.emulate_media(media=media)
                shots = []
                for html in (whole, pruned):
                    page.goto(html.as_uri(), wait_until="load")
                    shots.append(page.screenshot(full_page=True, animations="disabled"))
                assert len(shots[0]) > 10_000 and shots[0] == shots[1], media
        finally:
            browser.close()
    with PdfPrinter() as printer:
        pages = [count_pdf_pages(printer.print_pdf(h, tmp_path / f"{h.stem}.pdf")) for h in (whole, pruned)]
    assert pages[0] == pages[1] > 5


def test_three_main_sections_print_on_three_pages_with_the_header(tmp_path):
    cells = [nbformat.v4.new_markdown_cell("# Kommunrapport ASI: Test\n\n## Sammanfattning\n\nKort text.")]
    for title in ("Figurer", "Bilaga"):
        cells.append(nbformat.v4.new_markdown_cell(f"## {title}\n\nEtt stycke om {title.lower()}."))
    nb = nbformat.v4.new_notebook(cells=cells)
    html = reports.notebook_to_html(nb, tmp_path / "t.html", title="Test",
                                    header='Testby</style><script>alert(1)</script> · referensdatum 2026-06-30')
    text = html.read_text(encoding="utf-8")
    assert "<script>alert(1)" not in text and "@top-left" in text
    with PdfPrinter() as printer:
        pdf = printer.print_pdf(html, tmp_path / "t.pdf")
        assert count_pdf_pages(pdf) == 3
        assert printer.browsers_started == 1
        printer.print_pdf(html, tmp_path / "t2.pdf")          # the same browser prints the next one
        assert printer.browsers_started == 1 and printer.pages_printed == 2
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]   # no temporary file left
    if shutil.which("pdftotext"):   # poppler-utils: read the printed header and page numbers back
        import subprocess

        for n in (1, 3):
            text = subprocess.run(["pdftotext", "-f", str(n), "-l", str(n), str(pdf), "-"], capture_output=True,
                                  text=True, check=True).stdout
            assert "Testby</style><script>alert(1)</script> · referensdatum 2026-06-30" in text
            assert f"Sida {n} av 3" in text


def test_one_page_prints_many_reports_each_its_own(tmp_path, monkeypatch):
    """The printer keeps one page (a context per browser, not per report: a renderer process per PDF
    was a third of its time); each PDF still holds its own report only, page counts included, and the
    page is replaced after PAGE_REUSE reports."""
    from asi_lib import pdf as pdfmod

    monkeypatch.setattr(pdfmod, "PAGE_REUSE", 2)
    pages = {"Anby": 1, "Bestad": 3, "Cevik": 2}
    htmls = {}
    for name, n in pages.items():
        cells = [nbformat.v4.new_markdown_cell(f"# Rapport {name}\n\n## Del 1\n\nText om {name}.")]
        cells += [nbformat.v4.new_markdown_cell(f"## Del {i}\n\nMer om {name}.") for i in range(2, n + 1)]
        htmls[name] = reports.notebook_to_html(nbformat.v4.new_notebook(cells=cells), tmp_path / f"{name}.html",
                                               title=name, header=f"{name} · referensdatum 2026-06-30")
    with PdfPrinter() as printer:
        out = {name: printer.print_pdf(h, tmp_path / f"{name}.pdf") for name, h in htmls.items()}
        again = printer.print_pdf(htmls["Anby"], tmp_path / "Anby2.pdf")   # the same file again, a new page
        assert printer.browsers_started == 1 and printer.pages_printed == 4
        assert printer.contexts_opened == 2          # one page for two reports, then a new one
    for name, n in pages.items():
        assert count_pdf_pages(out[name]) == n, name
    assert count_pdf_pages(again) == 1
    if shutil.which("pdftotext"):
        import subprocess

        for name, path in out.items():
            text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
            assert f"Rapport {name}" in text and f"Sida 1 av {pages[name]}" in text
            assert not [o for o in pages if o != name and o in text], (name, text[:200])
