"""Values from data are inert in every output (issue 8, "Injection into outputs").

A synthetic region whose municipality and unit names are hostile (HTML,
Markdown links, mathtext, spreadsheet formulas, names that fold to one ASCII
slug) is ingested through the real CSV route and rendered with the real
report notebook; the HTML is parsed, the workbooks are read back with
openpyxl, the CSV files as text. See docs/security.md.
"""
import hashlib
import html
import re
from html.parser import HTMLParser
from urllib.parse import unquote

import numpy as np
import openpyxl
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from asi_lib import reports, safe
from asi_lib.publish import publish
from asi_lib.tables import write_excel

AS_OF = "2026-06-30"
XSS = "<img src=x onerror=alert(1)> $\\frac{}{}$ ](javascript:x)"  # 56 characters (codebook: max 60)
FORMULA = '=HYPERLINK("http://evil.example","klicka")'
HABO, HABO_ASCII = "Håbo", "Habo"
UNIT_XSS = "<script>alert(3)</script> [x](javascript:alert(4)) $\\x$"
UNIT_FORMULA = "=cmd|' /C calc'!A0"
RENAME = {"Älvstad": XSS, "Björkhamn": HABO, "Granåker": HABO_ASCII, "Lövsala": FORMULA}
HOSTILE = ["<img src=x onerror=alert(1)>", "<script>alert(1)</script>", "](javascript:alert(1))",
           "[x](javascript:alert(1))", "$\\frac{}{}$", "a $\\x$ b", '"><svg onload=alert(1)>',
           "'; onmouseover='alert(1)", "*fet* _kursiv_ `kod` # rubrik", "x\n<script>alert(1)</script>",
           "&lt;b&gt;", "![bild](http://evil.example/x.png)", "<a href=javascript:alert(1)>k</a>"]
FORMULAS = ['=HYPERLINK("http://x","y")', "=cmd|' /C calc'!A0", "+1+1", "-1+1", "@SUM(A1)", "\t=1", "\r=1",
            "＝1+1", " =1"]


class Live(HTMLParser):
    """Elements and attributes that could run or load something."""

    def __init__(self):
        super().__init__()
        self.bad, self.text = [], []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        for k, v in attrs:
            if k.startswith("on"):
                self.bad.append((tag, k, v))
            if k in ("href", "src", "action", "formaction", "xlink:href") and v and \
                    re.match(r"\s*(javascript|vbscript):", v, re.I):
                self.bad.append((tag, k, v))
        if tag == "img" and not (dict(attrs).get("src") or "").startswith("data:image/png;base64,"):
            self.bad.append((tag, dict(attrs)))
        if tag in ("svg", "iframe", "object", "embed", "form"):
            self.bad.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag):
        self._in_script = False

    def handle_data(self, data):
        if self._in_script and "alert(" in data:
            self.bad.append(("script", data[:80]))
        self.text.append(data)


def live(text: str) -> Live:
    p = Live()
    p.feed(text)
    p.close()
    return p


def no_formula_cells(path) -> list:
    wb = openpyxl.load_workbook(path)
    return [(ws.title, c.coordinate, c.value) for ws in wb.worksheets for row in ws.iter_rows() for c in row
            if c.data_type == "f"]


# --------------------------------------------------------------------------- the module itself
@pytest.mark.parametrize("value", HOSTILE)
def test_html_text_leaves_nothing_live(value):
    page = f'<p title="{safe.html_text(value)}">{safe.html_text(value)}</p>'
    p = live(page)
    assert not p.bad and "".join(p.text) == value


@pytest.mark.parametrize("value", HOSTILE)
def test_markdown_text_renders_as_the_literal_text(value):
    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    out = markdown2html_mistune(f"# Kommunrapport ASI: {safe.markdown_text(value)}\n\n**Kommun:** "
                                f"{safe.markdown_text(value)}")
    p = live(out)
    assert not p.bad, p.bad
    assert not re.search(r"<(a|img|script|em|strong|code|h2|svg)\b", out.replace("<strong>Kommun:</strong>", "")
                         .replace('<a class="anchor-link"', "")), out
    shown = html.unescape(re.sub(r"<[^>]+>", "", out))
    assert " ".join(value.split()) in " ".join(shown.split())  # shown as written (line breaks as spaces)


def test_markdown_text_of_the_raw_value_would_have_been_live():  # the test can fail: raw is live
    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    assert live(markdown2html_mistune("# " + HOSTILE[0])).bad


@pytest.mark.parametrize("value", ["$\\frac{}{}$", "a $\\x$ b", "$", "100 $ och 5 $", "\\$x$"])
def test_mpl_text_draws_literally(value):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure()
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(111)
    ax.set_title(safe.mpl_text(value))
    ax.set_yticks([0], [safe.mpl_text(value)])
    fig.canvas.draw()  # mathtext would raise ValueError on the first two
    shown, is_math = ax.title._preprocess_math(ax.title.get_text())
    assert shown == value and not is_math


def test_mpl_text_is_needed():
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure()
    FigureCanvasAgg(fig)
    fig.add_subplot(111).set_title("$\\frac{}{}$")
    with pytest.raises(ValueError):
        fig.canvas.draw()


@pytest.mark.parametrize("value", FORMULAS)
def test_csv_value_neutralises_formulas(value):
    assert safe.csv_value(value) == "'" + value


@pytest.mark.parametrize("value", ["-5", "-1,5", "+3.2", "-1e-3", "Håbo", "", "a=b", "'=1"])
def test_csv_value_keeps_numbers_and_plain_text(value):
    assert safe.csv_value(value) == value
    assert safe.csv_value(-5) == -5 and safe.csv_value(np.float64(-0.5)) == -0.5


def test_csv_frame_only_touches_text():
    df = pd.DataFrame({"kommun": pd.Series([FORMULA, "Håbo", None], dtype="string"), "x": [-1, 2, 3],
                       "blandat": pd.Series(["-8", -9, "@x"], dtype=object), "=rubrik": ["a", "b", "c"]})
    out = safe.csv_frame(df)
    assert out["kommun"].tolist()[:2] == ["'" + FORMULA, "Håbo"] and pd.isna(out["kommun"].iloc[2])
    assert out["x"].tolist() == [-1, 2, 3] and out["x"].dtype == df["x"].dtype
    assert out["blandat"].tolist() == ["-8", -9, "'@x"]
    assert list(out.columns) == ["kommun", "x", "blandat", "'=rubrik"]
    assert df["kommun"].iloc[0] == FORMULA  # the input is not changed


def test_file_stem_unique_stable_and_safe(tmp_path):
    assert safe.file_stem(HABO) != safe.file_stem(HABO_ASCII) != safe.file_stem("HABO")
    expected = "kommun_habo_" + hashlib.sha256("Håbo".encode()).hexdigest()[:8]  # independent recomputation
    assert safe.file_stem(HABO) == expected == reports.report_filename(HABO)
    names = ["../../etc/passwd", "a/b\\c", "..", ".", "\x00", "x\x00y", "CON", "NUL", "aux.txt", "LPT1", "COM1",
             "Å" * 5000, "", " ", "<script>", "ü" * 300, "名前", "Ørsted", XSS, FORMULA]
    stems = [safe.file_stem(n) for n in names]
    assert len(set(stems)) == len(names)
    for n, s in zip(names, stems):
        assert re.fullmatch(r"kommun_[a-z0-9_-]+_[0-9a-f]{8}", s) and len(s) <= 60, (n, s)
        assert "." not in s and s.upper() not in {"CON", "NUL", "AUX", "PRN", "COM1", "LPT1"}  # Windows: whole base
        p = tmp_path / f"{s}.html"
        p.write_text("x", encoding="utf-8")
        assert p.resolve().parent == tmp_path.resolve()
    assert safe.file_stem("Östermyra").startswith("kommun_ostermyra_")


def test_sheet_names_valid_and_unique():
    taken = []
    for title in ["Per kön: 2024/25", "[x]*?", "A" * 40, "A" * 35, "History", "'citat'", "", "a" * 31]:
        name = safe.sheet_name(title, taken)
        assert 0 < len(name) <= 31 and not re.search(r"[\[\]:*?/\\]", name) and not name.startswith("'")
        assert name.lower() not in {t.lower() for t in taken} and name.lower() != "history"
        taken.append(name)


# alphabet weighted towards what Markdown, HTML, mathtext and spreadsheets read as syntax
_SYNTAX = st.sampled_from(list("<>&\"'`*_[](){}#!|$\\=+-@:;/.~^\t\r\n ") + ["javascript:", "<img ", "onerror=",
                                                                             "<script>", "](", "\x00", "Å"])
_TEXT = st.lists(st.one_of(_SYNTAX, st.text(max_size=3)), max_size=25).map("".join)


@settings(max_examples=500, deadline=None)
@given(_TEXT)
def test_markdown_text_fuzz_nothing_live_and_text_kept(value):
    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    out = markdown2html_mistune("# Kommunrapport ASI: " + safe.markdown_text(value))
    p = live(out)
    assert not p.bad
    tags = set(re.findall(r"<([a-zA-Z0-9]+)", out))
    assert tags <= {"h1", "a"}, (value, out)  # the heading and its anchor link only
    shown = html.unescape(re.sub(r"<[^>]+>", "", out))
    expected = re.sub(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]", " ", value)  # control characters: spaces
    # Unicode noncharacters (U+FDD0–FDEF, U+xFFFE/xFFFF) stay in the HTML as numeric references
    # (&#64976;), which html.unescape (the test's reader, per HTML5) turns into nothing
    expected = "".join(c for c in expected if not (0xFDD0 <= ord(c) <= 0xFDEF or ord(c) & 0xFFFE == 0xFFFE))
    assert " ".join(expected.split()) in " ".join(shown.split()), (value, out)


@settings(max_examples=300, deadline=None)
@given(_TEXT)
def test_csv_value_fuzz_never_starts_a_formula(value):
    out = safe.csv_value(value)
    stripped = out.lstrip(" ")
    assert out in (value, "'" + value)
    assert not stripped or stripped[0] not in safe.FORMULA_START or re.fullmatch(r"[+-]?[\d.,]+([eE][+-]?\d+)?",
                                                                                   out.strip())


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_file_stem_fuzz(value):
    stem = safe.file_stem(value)
    assert re.fullmatch(r"kommun_[a-z0-9_-]{1,40}_[0-9a-f]{8}", stem)
    assert stem == safe.file_stem(value)  # stable


# --------------------------------------------------------------------------- Excel from tables
def hostile_table(name: str) -> pd.DataFrame:
    raw = pd.DataFrame({"municipality": [name, "Håbo", "__total__"], "n": [40, 30, 70]})
    raw.attrs["asi"] = {"group_cols": ["municipality"], "additive": True, "selection": FORMULA,
                        "unit": "@klienter"}
    return publish(raw, labels=False)


def test_write_excel_writes_no_formula_and_keeps_the_text(tmp_path):
    tabs = {f"{FORMULA} per kommun": hostile_table(UNIT_FORMULA), "=A/B:[x]": hostile_table("+1"),
            "=A/B:[y]": hostile_table("-1+1"), "Styrkor\x01": hostile_table("@SUM(A1)\x07")}
    path = write_excel(tabs, tmp_path / "t.xlsx", title=FORMULA)
    assert no_formula_cells(path) == []
    wb = openpyxl.load_workbook(path)
    assert len(wb.sheetnames) == 5 and len({s.lower() for s in wb.sheetnames}) == 5   # 4 tables + legend
    ws = wb.worksheets[0]
    assert ws["A1"].value == f"{FORMULA} – {FORMULA} per kommun" and ws["A1"].data_type == "s"
    assert ws["A2"].value.startswith(f"Urval: {FORMULA}")
    assert ws["A5"].value == UNIT_FORMULA and ws["A5"].quotePrefix
    assert wb.worksheets[3]["A5"].value == "@SUM(A1)\ufffd"



def _shown(rows: dict, **meta) -> pd.DataFrame:
    """A table as publish() shows it (strings), marked published."""
    frame = pd.DataFrame(rows)
    frame.attrs["asi"] = {"published": True, "lang": "sv", "selection": "senaste Grund", "unit": "klienter",
                          "legend": "=förklaring", **meta}
    return frame


def test_write_excel_cells_numbers_formats_and_quote_prefix_written_cell_by_cell(tmp_path):
    """Every cell as written by hand: numbers with their format, markers and formula-like text as text.

    Two tables of different shapes, so the numbers of the second cannot come
    from the first (the tables' cells are parsed together).
    """
    first = _shown({"kommun": [FORMULA, "a\x01b", "Håbo"], "Antal": ["1\u2009080", "<5", ".."],
                    "Andel": ["15 %", "0,5 %", ".."], "Medel": ["0,24", "\u22121,5", "–"],
                    "Not": ["", "=1+1", "@SUM(A1) och mer text"]}, group_cols=["kommun"])
    second = _shown({"Antal": ["7", "<5"]})
    path = write_excel({"Tabell": first, "=A/B": second}, tmp_path / "t.xlsx", title="T")
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["Tabell", "=A_B", "Teckenförklaring"]
    ws = wb["Tabell"]
    assert [c.value for c in ws[4]] == ["kommun", "Antal", "Andel", "Medel", "Not"]
    assert not any(c.font.b or c.border.left.style or c.alignment.horizontal for c in ws[4])  # as pandas 3 wrote it
    cells = {c.coordinate: (c.value, c.data_type, c.number_format, c.quotePrefix)
             for row in ws.iter_rows(min_row=5, max_row=7) for c in row}
    assert cells == {
        "A5": (FORMULA, "s", "General", True), "B5": (1080, "n", "#,##0", False),
        "C5": (0.15, "n", "0%", False), "D5": (0.24, "n", "#,##0.00", False), "E5": (None, "inlineStr", "General", False),
        "A6": ("a\ufffdb", "s", "General", False), "B6": ("<5", "s", "General", False),
        "C6": (0.005, "n", "0.0%", False), "D6": (-1.5, "n", "#,##0.0", False), "E6": ("=1+1", "s", "General", True),
        "A7": ("Håbo", "s", "General", False), "B7": ("..", "s", "General", False), "C7": ("..", "s", "General", False),
        "D7": ("–", "s", "General", False), "E7": ("@SUM(A1) och mer text", "s", "General", False)}
    assert isinstance(ws["B5"].value, int)
    assert (ws["A9"].value, ws["A9"].quotePrefix, ws.max_row, ws.max_column) == ("=förklaring", True, 9, 5)
    assert ws.freeze_panes == "A5"
    assert [ws.column_dimensions[k].width for k in "ABCDE"] == [len(FORMULA) + 2, 10, 10, 10, 23]
    ws = wb["=A_B"]
    assert (ws["A1"].value, ws["A1"].data_type) == ("T – =A/B", "s")
    assert [(c.value, c.number_format) for c in ws["A"][4:6]] == [(7, "#,##0"), ("<5", "General")]
    assert (ws["A8"].value, ws.max_row) == ("=förklaring", 8)
    assert no_formula_cells(path) == []


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.text(alphabet=st.characters(max_codepoint=0x3000), max_size=6), st.integers(),
                          st.floats(allow_nan=False), st.none()), min_size=6, max_size=6),
       st.sampled_from(["C", "F"]))
def test_excel_cells_is_excel_value_on_every_cell_in_any_layout(values, order):
    cells = np.array(values, dtype=object).reshape(2, 3)
    cells = np.asfortranarray(cells) if order == "F" else cells   # a DataFrame's values are often column-major
    expected = [[safe.excel_value(v) for v in row] for row in cells.tolist()]
    got = safe.excel_cells(cells)
    assert got.shape == (2, 3) and got.tolist() == expected
    assert cells.tolist() == [[v for v in values[i:i + 3]] for i in (0, 3)]  # the input is not changed


def test_the_old_writer_would_have_written_formulas(tmp_path):  # openpyxl's own behaviour, the reason
    wb = openpyxl.Workbook()
    wb.active["A1"] = FORMULA
    assert wb.active["A1"].data_type == "f"


# --------------------------------------------------------------------------- CSV and xlsx the kit writes
def test_synth_export_has_no_formula_field_and_no_formula_cell(tmp_path):
    from asi_lib.synth import generate

    region = generate(n_clients=120, seed=3)
    g = region.tables["grund"]
    g["municipality"] = g["municipality"].astype(object).where(g.index % 2 == 0, FORMULA)
    g["unit"] = g["unit"].astype(object).where(g.index % 3 != 0, UNIT_FORMULA)
    region.write(tmp_path / "csv", format="csv")
    text = (tmp_path / "csv" / "grund.csv").read_text(encoding="utf-8")
    fields = pd.read_csv(tmp_path / "csv" / "grund.csv", dtype=str, keep_default_na=False)
    assert (fields["municipality"] == "'" + FORMULA).any() and (fields["unit"] == "'" + UNIT_FORMULA).any()
    assert not fields.apply(lambda s: s.str.match(r"^ *[=+@\t\r]") | s.str.match(r"^-(?![\d.,])")).any().any()
    assert ',"=' not in text and "\n=" not in text
    region.write(tmp_path / "xlsx", format="xlsx")
    assert no_formula_cells(tmp_path / "xlsx" / "region.xlsx") == []
    ws = openpyxl.load_workbook(tmp_path / "xlsx" / "region.xlsx")["grund"]
    col = [c.value for c in ws[1]].index("municipality") + 1
    assert FORMULA in {ws.cell(row=r, column=col).value for r in range(2, 8)}  # the exact text, as text


def test_templates_have_no_formula_cells(tmp_path):
    from asi_lib.templates import write_templates

    paths = write_templates(tmp_path)
    assert no_formula_cells(tmp_path / "asi_mall.xlsx") == []
    for p in paths:
        if p.suffix == ".csv":
            df = pd.read_csv(p, dtype=str, keep_default_na=False)
            assert not df.apply(lambda s: s.str.match(r"^ *[=+@\t\r]")).any().any(), p.name


# --------------------------------------------------------------------------- a real render of hostile names
@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """A region exported as a case system would (plain CSV, no neutralising), ingested, rendered."""
    from asi_lib.ingest import ingest
    from asi_lib.synth import generate

    tmp = tmp_path_factory.mktemp("hostile")
    region = generate(n_clients=500, seed=11)
    export = tmp / "export"
    export.mkdir()
    files = []
    for name, frame in region.to_export_frames().items():
        frame = frame.copy()
        is_alv = (frame["municipality"] == "Älvstad").to_numpy()
        frame["municipality"] = frame["municipality"].replace(RENAME)
        frame.loc[is_alv & frame["unit"].astype(str).str.endswith("Beroendeenheten").to_numpy(), "unit"] = UNIT_XSS
        frame.loc[is_alv & frame["unit"].astype(str).str.endswith("Vuxenmottagningen").to_numpy(), "unit"] = \
            UNIT_FORMULA
        path = export / f"{name}.csv"
        frame.to_csv(path, index=False, encoding="utf-8")  # the raw export: formulas and all
        files.append(path)
    assert '"=HYPERLINK(""http' in (export / "grund.csv").read_text(encoding="utf-8")
    rep = ingest(files, tmp / "store", key=b"k" * 32, as_of=AS_OF)
    from asi_lib.store import load_store

    ds = load_store(tmp / "store")
    names = set(ds.grund["municipality"].astype(str))
    assert {XSS, FORMULA, HABO, HABO_ASCII} <= names, (names, rep.summary_sv(max_problems=5))
    assert {UNIT_XSS, UNIT_FORMULA} <= set(ds.grund["unit"].astype(str))
    out = tmp / "rapporter"
    results = reports.render_reports(tmp / "store", out, municipalities=[None, XSS, HABO, HABO_ASCII],
                                     region=True, workers=2, as_of=AS_OF, timeout=300, progress=False)
    return tmp / "store", out, {r.municipality: r for r in results}


def test_hostile_reports_render(hostile):
    _, _, res = hostile
    assert all(r.ok for r in res.values()), {m: r.error for m, r in res.items()}


def test_no_live_element_from_data_in_any_html(hostile):
    _, out, res = hostile
    pages = sorted(out.glob("*.html"))
    assert len(pages) == 5  # four reports and the index
    for page in pages:
        text = page.read_text(encoding="utf-8")
        p = live(text)
        assert not p.bad, (page.name, p.bad[:3])
        for marker in ("<img src=x", "<script>alert"):  # the payloads are there only as escaped text
            for m in re.finditer(re.escape(marker), text):
                assert False, (page.name, marker, text[max(0, m.start() - 80):m.end() + 40])
    shown = html.unescape("".join(live(res[XSS].html.read_text(encoding="utf-8")).text))
    assert f"Kommunrapport ASI: {XSS}" in shown  # the name is shown, as written, in the heading
    region = html.unescape("".join(live(res[None].html.read_text(encoding="utf-8")).text))
    assert XSS in region and FORMULA in region  # "Problem per kommun": names as table text


def test_report_heading_is_inert(hostile):  # the heading route on its own (the old code put the name in raw)
    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    from asi_lib.store import load_store

    ds = load_store(hostile[0])
    for name in (XSS, HABO):
        out = markdown2html_mistune(reports.report_heading(ds, name, as_of=AS_OF))
        assert not live(out).bad, out[:300]
        assert f"Kommunrapport ASI: {name}" in html.unescape(re.sub(r"<[^>]+>", "", out))


def test_hostile_names_get_their_own_files_and_index_rows(hostile):
    _, out, res = hostile
    stems = {m: reports.report_filename(m) for m in res}
    assert len(set(stems.values())) == len(stems)
    assert res[HABO].html != res[HABO_ASCII].html and res[HABO].excel != res[HABO_ASCII].excel
    for m in (HABO, HABO_ASCII):
        assert f"Kommunrapport ASI: {m}<" in res[m].html.read_text(encoding="utf-8")
        assert openpyxl.load_workbook(res[m].excel).worksheets[0]["A1"].value.startswith(f"{m} – ")
    index = (out / "index.html").read_text(encoding="utf-8")
    # the report cell holds the HTML link and, with Chromium, the PDF link; then the Excel cell
    rows = re.findall(r"<tr class=\"ok\"><td>(.*?)</td><td><a href=\"(.*?)\">[^<]*</a>"
                      r"(?: · <a href=\"[^\"]*\.pdf\">PDF</a>)?</td><td><a href=\"(.*?)\">", index)
    by_name = {html.unescape(n): (unquote(h), unquote(x)) for n, h, x in rows}
    for m in (XSS, HABO, HABO_ASCII):
        assert by_name[m] == (f"{stems[m]}.html", f"{stems[m]}.xlsx"), m
    for f in out.iterdir():
        assert re.fullmatch(r"(index|region|kommun_[a-z0-9_-]+_[0-9a-f]{8})\.(html|xlsx|pdf)|ipynb|release|"
                            r"render-state\.json", f.name), f.name


def test_no_formula_cell_in_any_report_workbook(hostile):
    _, out, res = hostile
    books = sorted(out.glob("*.xlsx"))
    assert len(books) == 4
    for book in books:
        assert no_formula_cells(book) == [], book.name
    ws = openpyxl.load_workbook(res[XSS].excel).worksheets[0]
    assert ws["A1"].value == f"{XSS} – Materialet i korthet" and ws["A1"].data_type == "s"
    region = openpyxl.load_workbook(res[None].excel)["Problem per kommun"]
    assert FORMULA in {c.value for row in region.iter_rows() for c in row}


def test_dashboard_with_hostile_units(hostile):
    """The dashboard renders the run's release: a hostile municipality name stays text everywhere."""
    from asi_lib.dashboard import VIEWS, Dashboard
    from asi_lib.release import load_release

    _, out, _ = hostile
    d = Dashboard(load_release(out / "release"), municipality=XSS)
    for lang in ("sv", "en"):
        for view in VIEWS:
            d.set(lang=lang, view=view, show=True, analyst=True)
            cur = d.current
            page = d.heading_html() + cur["keyfigures"] + cur["tables"] + cur["export"]
            assert not live(page).bad, (lang, view, live(page).bad[:3])
            res, png = d.view(view)
            assert png[:4] in (b"", b"\x89PNG")  # mathtext in names draws, never raises
    assert html.escape(XSS) in d.heading_html()  # the title: escaped text
    labels = [lab for opts in d.options().values() for lab, _ in opts]
    assert not any("<" in str(lab) for lab in labels)  # option labels are fixed texts