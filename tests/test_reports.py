"""Reports per municipality: papermill renders the report notebook, we audit what it wrote.

In papermill's own style: a fixture store, the notebook executed with
parameters, assertions on the executed outputs (here the HTML, Excel and
index written from them). One render of three reports for the whole module:
a big municipality, a small one (< 10 clients) and an unknown name.
"""
import ast
import json
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import nbformat
import openpyxl
import pandas as pd
import pytest

from asi_lib import groups, reports, scores
from asi_lib.demo import build_demo_store
from asi_lib.publish import TOTAL, publish
from asi_lib.store import load_store

AS_OF = "2026-06-30"
BIG, SMALL, UNKNOWN = "Älvstad", "Östermyra", "Okändby"
RAW_ID = re.compile(r"K\d\d-\d{6}|DEMO-FEL-\d+|K-10\d\d")
PNR = re.compile(r"(?<!\d)(\d{6}|\d{8})[-+]?\d{4}(?!\d)")
COUNT_HEADS = {"Saknar värde", "Varav", "Förbättrade", "Oförändrade", "Försämrade", "Grundintervjuer",
               "Uppföljningar", "Följda upp", "Ej uppföljda", "Uppföljda totalt"}


def luhn_ok(ten: str) -> bool:  # written out here, independent of asi_lib.pseudonym
    total = 0
    for i, ch in enumerate(ten):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


class Tables(HTMLParser):
    """Every <table> as a list of rows of cell texts, plus script/link URLs and hrefs."""

    def __init__(self):
        super().__init__()
        self.tables, self.srcs, self.hrefs = [], [], []
        self._row = self._cell = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
        elif tag == "script" and a.get("src"):
            self.srcs.append(a["src"])
        elif tag == "link" and a.get("href"):
            self.srcs.append(a["href"])
        elif tag == "a" and a.get("href"):
            self.hrefs.append(a["href"])

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.tables[-1].append(self._row)
            self._row = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def parse(path: Path) -> Tables:
    p = Tables()
    p.feed(path.read_text(encoding="utf-8"))
    return p


def plain_text(path: Path) -> str:
    """What a reader sees: tags removed, entities decoded (code split into highlight spans rejoins)."""
    import html

    return html.unescape(re.sub(r"<[^>]+>", "", visible_text(path)))


def visible_text(path: Path) -> str:
    s = path.read_text(encoding="utf-8")
    s = re.sub(r"<style.*?</style>", " ", s, flags=re.S)
    s = re.sub(r"data:image/[a-z+]+;base64,[A-Za-z0-9+/=]+", " ", s)
    return s


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("reports")
    store = build_demo_store(tmp / "demo", n_clients=600, quiet=True, as_of=AS_OF)["store"]
    out = tmp / "rapporter"
    results = reports.render_reports(store, out, municipalities=[BIG, SMALL, UNKNOWN], workers=2,
                                     as_of=AS_OF, timeout=300, progress=False)
    return store, out, {r.municipality: r for r in results}


def test_sizes_of_the_fixture(rendered):
    store, _, _ = rendered
    counts = load_store(store).grund.groupby("municipality", observed=True)["client_pid"].nunique()
    assert counts[BIG] >= 50 and counts[SMALL] < 5  # one big, one with too few clients to show n


def test_statuses_and_failure_entry(rendered):
    _, out, res = rendered
    assert res[BIG].ok and res[SMALL].ok, (res[BIG].error, res[SMALL].error)
    bad = res[UNKNOWN]
    assert bad.status == "failed" and bad.html is None
    assert "AsiInputError" in bad.error and "okänd kommun 'Okändby'" in bad.error
    assert "Traceback" not in bad.error and "\x1b[" not in bad.error


def test_html_has_no_code_and_no_outside_requests(rendered):
    _, out, res = rendered
    for m in (BIG, SMALL):
        path = res[m].html
        assert path.exists() and path.suffix == ".html"
        assert "jp-CodeMirrorEditor" not in visible_text(path)  # no code cell (class outside <style>)
        text = plain_text(path)
        for code in ("import asi_lib", "from asi_lib import", "ensure_demo_store(", "reports.show_table(",
                     "standard_tables(", "Traceback"):
            assert code not in text, (m, code)
        p = parse(path)
        assert not [s for s in p.srcs if re.match(r"\s*(https?:)?//", s)], p.srcs
        assert not re.search(r"<script[^>]+src=", text)  # nothing loaded at all
        assert f"Kommunrapport ASI: {m}" in text


def test_tendency_text_only_for_the_small_one(rendered):
    _, _, res = rendered
    warning = "Med färre än tio klienter går det inte att dra slutsatser"
    assert warning in res[SMALL].html.read_text(encoding="utf-8")
    assert warning not in res[BIG].html.read_text(encoding="utf-8")
    assert res[SMALL].tendency and not res[BIG].tendency
    assert res[SMALL].n_clients == ".."   # a release shows every suppressed count as ".."


def test_no_visible_count_from_1_to_4_in_any_html_table(rendered):
    _, _, res = rendered
    checked = 0
    for m in (BIG, SMALL):
        tables = parse(res[m].html).tables
        # a large municipality: every table (overview + 15, most in the appendix); under ten clients only
        # the material in brief (the short report)
        assert len(tables) >= 16 if m == BIG else len(tables) == 1
        for table in tables:
            head, body = table[0], table[1:]
            for j, h in enumerate(head):
                if not (h.startswith("Antal") or h in COUNT_HEADS):
                    continue
                for row in body:
                    cell = row[j].replace("\u2009", "").replace("\u00a0", "").replace(" ", "")
                    if cell in ("", "<5", "..", "–"):
                        continue
                    checked += 1
                    assert not 0 < int(cell) < 5, (m, h, row)
    assert checked > 300


def test_no_identifier_in_any_output(rendered):
    store, out, res = rendered
    pids = set(load_store(store).grund["client_pid"].astype(str))
    for path in list(out.glob("*.html")):
        text = visible_text(path)
        assert not RAW_ID.search(text), (path.name, RAW_ID.search(text))
        assert not any(pid in text for pid in pids), path.name
        for mt in PNR.finditer(text):
            digits = re.sub(r"\D", "", mt.group(0))[-10:]
            month, day = int(digits[2:4]), int(digits[4:6])
            assert not (1 <= month <= 12 and (1 <= day <= 31 or 61 <= day <= 91) and luhn_ok(digits)), mt.group(0)


def test_main_body_short_appendix_long_and_a_short_report_for_few_clients(rendered):
    _, _, res = rendered
    big = plain_text(res[BIG].html)
    main, sep, appendix = big.partition("Bilaga: alla tabeller")
    assert sep, "no appendix"
    assert main.index("Sammanfattning") < main.index("Så läser du rapporten")      # the summary first
    raw = res[BIG].html.read_text(encoding="utf-8")
    head = raw[:raw.index("Bilaga: alla tabeller")]
    assert head.count("<table") == 1 and head.count("<img") == 4     # material in brief; four figures
    assert raw.count("<table") >= 16                                   # everything else in the appendix
    assert len(main.split()) < 1200 and len(appendix.split()) > 3 * len(main.split())
    small = plain_text(res[SMALL].html)
    assert "Bilaga" not in small and "Varför inte mer?" in small and "Regionen som jämförelse" in small
    assert len(small.split()) < 800
    raw_small = res[SMALL].html.read_text(encoding="utf-8")
    assert raw_small.count("<img") >= 1        # the region's figures as context


def test_excel_readable_next_to_html(rendered):
    _, _, res = rendered
    for m in (BIG, SMALL):
        xlsx = res[m].excel
        assert xlsx is not None and xlsx.parent == res[m].html.parent
        wb = openpyxl.load_workbook(xlsx, read_only=True)
        # the material in brief + 15 standard tables + the legend; under ten clients (SMALL) a release
        # publishes only the material in brief
        assert len(wb.sheetnames) == (17 if m == BIG else 2), (m, wb.sheetnames)
        assert wb.sheetnames[-1] == "Teckenförklaring"
        assert str(wb.worksheets[0]["A1"].value).startswith(m)


def test_index_links_resolve_and_rows_say_what_happened(rendered):
    _, out, res = rendered
    index = out / "index.html"
    p = parse(index)
    assert p.hrefs and all((out / unquote(h)).exists() for h in p.hrefs)
    stems = {m: reports.report_filename(m) for m in (BIG, SMALL)}
    assert stems[BIG].startswith("kommun_alvstad_") and stems[SMALL].startswith("kommun_ostermyra_")
    exts = ("html", "xlsx", "pdf") if res[BIG].pdf is not None else ("html", "xlsx")   # PDF: with Chromium
    assert {unquote(h) for h in p.hrefs} == {f"{stem}.{ext}" for stem in stems.values() for ext in exts}
    rows = {r[0]: r for r in p.tables[0][1:]}
    assert rows[SMALL][3] == ".." and rows[SMALL][4] == "Endast tendenser" and rows[SMALL][5] == "ok"
    assert int(rows[BIG][3].replace("\u2009", "")) > 50 and rows[BIG][4] == ""
    assert rows[UNKNOWN][5] == "misslyckades" and "okänd kommun" in rows[UNKNOWN][6]
    text = index.read_text(encoding="utf-8")
    assert f"Referensdatum: {AS_OF}" in text and 'lang="sv"' in text


def test_executed_notebook_kept_with_parameters(rendered):
    _, out, res = rendered
    nb = nbformat.read(res[SMALL].notebook, as_version=4)
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert injected
    values = dict(line.split(" = ", 1) for line in injected[0].source.splitlines() if " = " in line)
    assert ast.literal_eval(values["KOMMUN"]) == SMALL
    assert ast.literal_eval(values["RELEASE"]) == str(out / "release")   # built once from the store
    last = nb.cells[-1].outputs[0]["text"]
    assert last.startswith(f"{SMALL}: 1 tabeller") and last.strip().endswith("ja")   # under ten clients


def test_cli_exit_code_1_when_a_report_fails(rendered, tmp_path):
    from asi_lib.cli import main

    store, _, _ = rendered
    code = main(["reports", "--store", str(store), "--out", str(tmp_path), "--kommun", UNKNOWN, "--quiet",
                 "--as-of", AS_OF])
    assert code == 1 and (tmp_path / "index.html").exists()
    assert main(["reports", "--store", str(tmp_path / "nope"), "--out", str(tmp_path)]) == 2


# --------------------------------------------------------------------------- plots from published numbers
def toy_profile():
    raw = pd.DataFrame({"sex": ["male", "female", "other", TOTAL], "measure": "composite_alcohol",
                        "n": [40, 30, 3, 73], "n_missing": 0, "mean": [0.412, 0.318, 0.9, 0.38],
                        "ci_low": [0.35, 0.25, 0.5, 0.33], "ci_high": [0.47, 0.39, 1.0, 0.43]})
    raw.attrs["asi"] = {"group_cols": ["sex"], "additive": True}
    return raw


def test_plot_data_omits_what_publish_hides_toy():
    # Hand-worked: "other" (3) is primary-suppressed; the set male + female + other = total then has
    # exactly one hidden cell, so the smallest other group (female, 30) is hidden too (secondary).
    data = reports.profile_plot_data(toy_profile())
    assert sorted(data["n"].tolist()) == [40, 73]
    assert data["mean"].tolist() == [0.41, 0.38]          # the published (rounded) values
    assert data["ci_low"].tolist() == [0.35, 0.33]
    assert not (data["mean"] == 0.9).any()


def test_plot_data_same_from_raw_and_published_and_english():
    raw = toy_profile()
    a = reports.profile_plot_data(raw)
    b = reports.profile_plot_data(publish(raw))
    pd.testing.assert_frame_equal(a, b)
    en = reports.profile_plot_data(publish(raw, lang="en"), lang="en")
    assert en["mean"].tolist() == a["mean"].tolist()


def test_plot_refuses_when_everything_is_hidden():
    raw = toy_profile()
    raw["n"] = [2, 1, 1, 4]
    assert reports.profile_plot_data(raw).empty
    assert reports.plot_profile(raw) is None


def test_plot_of_a_small_municipality_shows_only_published_rows():
    from asi_lib.datasets import read_dataset

    ds = read_dataset("demo", n_clients=600)
    own = ds.filter(municipality="Fjällbo")
    prof = groups.profile(own, by="sex", measures=scores.score_columns())
    data = reports.profile_plot_data(prof)
    # independent count: clients per sex in the raw Grund (latest per client = distinct clients)
    per_sex = own.grund.groupby("sex", observed=True)["client_pid"].nunique()
    small = {"male": "Man", "female": "Kvinna"}
    for code, label in small.items():
        if 0 < per_sex.get(code, 0) < 5:
            assert label not in set(data["group"]), (label, per_sex)
    # the plotted total mean is the mean over each client's latest Grund, rounded to two decimals
    latest = (scores.add_scores(own.grund).sort_values("interview_date")
              .drop_duplicates("client_pid", keep="last"))
    alc = data.loc[(data["group"] == "Totalt") & data["measure"].str.endswith("Alkohol"), "mean"]
    if len(alc):
        assert alc.iloc[0] == pytest.approx(round(float(latest["composite_alcohol"].mean()), 2), abs=0.0051)
    plot = reports.plot_profile(prof, title="Fjällbo")
    assert not data.empty and per_sex.sum() < 10
    assert "endast tendenser" in plot._labels["title"]
    plot.plot()  # renders without error


def test_kommun_vs_region_plot_keeps_region_even_when_kommun_hidden():
    from asi_lib.datasets import read_dataset

    ds = read_dataset("demo", n_clients=600)
    prof = groups.profile(ds, by="municipality", measures=scores.score_columns())
    data = reports.profile_plot_data(prof, groups=["Östermyra", TOTAL])
    assert set(data["group"]) == {"Totalt"} and len(data) == 8
    n_region = ds.grund["client_pid"].nunique()
    assert set(data["n"]) == {n_region}


# --------------------------------------------------------------------------- pieces
def test_overview_counts_match_an_independent_count():
    from asi_lib.datasets import read_dataset

    ds = read_dataset("demo", n_clients=600)
    ov = reports.overview(ds, "Älvstad", as_of=AS_OF)
    own = ds.filter(municipality="Älvstad")
    n = own.grund["client_pid"].nunique()
    first = ov.iloc[0]
    assert int(str(first["Antal"]).replace("\u2009", "")) == n
    target = pd.concat([own.grund["client_pid"],
                        own.bortfall.loc[own.bortfall["form"].astype(str) == "grund", "client_pid"]]).nunique()
    assert int(str(ov.iloc[1]["Antal"]).replace("\u2009", "")) == target
    assert ov.attrs["asi"]["published"]


def test_report_filename_and_html_template_has_no_cdn(tmp_path):
    assert reports.report_filename("Åre Östra").startswith("kommun_are_ostra_")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Rubrik $x^2$"), nbformat.v4.new_code_cell("import os")]
    nb.cells[1].outputs = [nbformat.v4.new_output("stream", name="stderr", text="VARNING intern\n"),
                           nbformat.v4.new_output("stream", name="stdout", text="synligt\n")]
    path = reports.notebook_to_html(nb, tmp_path / "x.html", title="T")
    text = path.read_text(encoding="utf-8")
    assert "synligt" in text and "VARNING intern" not in text and "import os" not in text
    for bad in ("cdnjs", "require.js", "mathjax", "mermaid.esm", "unpkg", "jsdelivr"):
        assert bad not in text.lower(), bad


def test_ipc_kernel_manager_has_unique_socket_paths(tmp_path):
    cls = reports._ipc_manager_class(str(tmp_path))
    a, b = cls(), cls()
    assert a.transport == b.transport == "ipc"
    assert a.ip != b.ip and Path(a.ip).parent == tmp_path


def test_committed_notebook_parameters_and_check_cell():
    nb = nbformat.read(reports.REPORT_NOTEBOOK, as_version=4)
    params = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1
    for name in ("RELEASE", "KOMMUN", "LANG", "EXCEL"):
        assert re.search(rf"^{name} = ", params[0].source, flags=re.M), name
    assert nb.metadata["kernelspec"]["name"] == "asi-kit"
    checked = [c for c in nb.cells if c.cell_type == "code" and "# NBVAL_CHECK_OUTPUT" in c.source]
    assert checked and all(c.outputs for c in checked)
    assert not any("ipywidgets" in c.source for c in nb.cells)
    assert json.dumps(nb).count("Traceback") == 0


def test_client_counts_are_protected_together():
    # Hand-worked: C (3) is "<5"; then region − A − B would give C, so the smallest other
    # visible count (B, 8) is hidden as well ("..") - the rule of docs/methods/protection.md.
    from types import SimpleNamespace

    sizes = {"A": 20, "B": 8, "C": 3}
    pid = [f"{m}{i}" for m, k in sizes.items() for i in range(k)]
    grund = pd.DataFrame({"client_pid": pid, "interview_date": pd.Timestamp("2025-01-01"),
                          "municipality": [p[0] for p in pid]})
    cc = reports.client_counts(SimpleNamespace(grund=grund))
    shown = dict(zip(cc["municipality"].fillna("region"), cc["n"]))
    assert shown == {"A": "20", "B": "..", "C": "<5", "region": "31"}
    assert cc.set_index(cc["municipality"].fillna("region"))["tendency"].to_dict() == {
        "A": False, "B": True, "C": True, "region": False}
    assert reports.client_count(SimpleNamespace(grund=grund), "B") == ("..", True)


def test_table1_protected_as_one_shown_as_categories_and_means():
    from asi_lib import groups, scores
    from asi_lib.datasets import read_dataset
    from asi_lib.publish import publish
    from asi_lib.tables import standard_tables

    ds = read_dataset("demo")
    tabs = standard_tables(ds, municipality=SMALL)
    cats, means = tabs["Klientgruppen"], tabs["Klientgruppen, medelvärden"]
    assert "Medelvärde" not in cats.columns and {"Kategori", "Andel"} <= set(cats.columns)
    assert "Kategori" not in means.columns and "Andel" not in means.columns and "Medelvärde" in means.columns
    # the same cells as publishing Table 1 at once (protection is decided on the whole table)
    whole = publish(groups.table1(scores.add_scores(ds.filter(municipality=SMALL).grund)))
    is_cat = whole["Kategori"].astype("string").fillna("") != ""
    assert whole.loc[is_cat, cats.columns].reset_index(drop=True).equals(cats)
    assert whole.loc[~is_cat, means.columns].reset_index(drop=True).equals(means)


def test_comparison_shown_without_repeating_the_case_mix():
    from asi_lib import compare, scores
    from asi_lib.datasets import read_dataset
    from asi_lib.publish import publish
    from asi_lib.tables import standard_tables

    ds = read_dataset("demo")
    tabs = standard_tables(ds, municipality=BIG)
    cmp, mix = tabs["Jämfört med övriga"], tabs["Klientgruppernas sammansättning"]
    assert len(cmp.columns) <= 13 and "Andel kvinnor (enheten)" not in cmp.columns
    assert len(mix) == 1 and "Andel kvinnor (enheten)" in mix.columns
    whole = publish(compare.compare_one_vs_rest(scores.add_scores(ds.grund), unit_col="municipality", unit=BIG))
    assert whole[cmp.columns].equals(cmp)                     # the same cells, fewer columns
    assert (whole[mix.columns] == mix.iloc[0]).all().all()    # the case mix is one row repeated


def test_write_excel_refuses_an_unpublished_table_and_writes_nothing(tmp_path):
    from asi_lib.errors import AsiInputError
    from asi_lib.tables import write_excel

    raw = pd.DataFrame({"sex": ["male"], "n": [40]})
    target = tmp_path / "t.xlsx"
    with pytest.raises(AsiInputError, match="publish"):   # first table: was openpyxl's IndexError
        write_excel({"Rå": raw}, target)
    assert not target.exists()


# --------------------------------------------------------------------------- Excel managers can chart
def _text_number(text: str) -> float:
    """A published Swedish number written out by hand: thin-space thousands, decimal comma, U+2212 minus."""
    t = text.replace("\u2009", "").replace("\u2212", "-").replace(",", ".")
    return float(t[:-2]) / 100 if t.endswith(" %") else float(t)


def test_excel_numbers_are_numbers_with_formats_and_markers_stay_text(rendered):
    from asi_lib.release import load_release

    _, out, res = rendered
    rel = load_release(out / "release")
    wb = openpyxl.load_workbook(res[BIG].excel)
    assert not [c.coordinate for ws in wb.worksheets for row in ws.iter_rows() for c in row if c.data_type == "f"]
    # "Materialet i korthet": row 5 = clients (a count), row 6 = the target group with its share
    pub = rel.tables(BIG)["Materialet i korthet"]
    ws = wb["Materialet i korthet"]
    headers = [c.value for c in ws[4]]
    n_col, share_col = headers.index("Antal") + 1, headers.index("Andel") + 1
    n_cell = ws.cell(row=5, column=n_col)
    assert n_cell.data_type == "n" and isinstance(n_cell.value, int) and n_cell.number_format == "#,##0"
    assert n_cell.value == _text_number(pub.iloc[0]["Antal"])
    share = ws.cell(row=6, column=share_col)
    assert pub.iloc[1]["Andel"].endswith(" %")
    assert share.data_type == "n" and share.number_format == "0%"
    assert share.value == pytest.approx(_text_number(pub.iloc[1]["Andel"]))
    # a mean with one decimal (age) and composite means with two
    ws = wb["Klientgruppen, medelvärden"]
    headers = [c.value for c in ws[4]]
    mean = [ws.cell(row=r, column=headers.index("Medelvärde") + 1) for r in range(5, 8)]
    assert all(c.data_type == "n" for c in mean if c.value not in ("..", "–"))
    assert {c.number_format for c in mean if c.data_type == "n"} <= {"#,##0.0", "#,##0.00"}
    # the small municipality: every suppressed cell is text, exactly as published
    wb_small = openpyxl.load_workbook(res[SMALL].excel)
    markers = [c for ws in wb_small.worksheets[:-1] for row in ws.iter_rows(min_row=5) for c in row
               if isinstance(c.value, str) and (c.value == ".." or re.fullmatch(r"<\d+", c.value))]
    assert markers and all(c.data_type == "s" for c in markers)
    # the legend sheet states the markers, the reference date and min_cell
    legend = [" ".join(str(v) for v in row if v is not None) for row in wb["Teckenförklaring"].iter_rows(values_only=True)]
    text = "\n".join(legend)
    assert f"Referensdatum: {AS_OF}" in text and "(min_cell): 5" in text
    assert any(line.startswith(".. ") for line in legend) and any(line.startswith("<5 ") for line in legend)


# --------------------------------------------------------------------------- batch: only what changed
def test_rerun_renders_only_reports_whose_inputs_changed(rendered, tmp_path):
    import shutil

    _, out, _ = rendered
    release = tmp_path / "release"
    shutil.copytree(out / "release", release)
    target = tmp_path / "rapporter"

    def run(**kw):
        res = reports.render_reports(release, target, municipalities=[SMALL], workers=1, timeout=300,
                                     progress=False, pdf=False, **kw)
        assert len(res) == 1 and res[0].ok, res[0].error
        return res[0]

    first = run()
    html = target / f"{reports.report_filename(SMALL)}.html"
    assert not first.skipped and html.exists()
    stamp = html.stat().st_mtime_ns
    second = run()                                       # nothing changed: nothing rendered
    assert second.skipped and second.seconds == 0 and html.stat().st_mtime_ns == stamp
    assert second.html == html and second.excel == first.excel
    index = (target / "index.html").read_text(encoding="utf-8")
    assert "oförändrad" in index and f"{reports.report_filename(SMALL)}.xlsx" in index
    assert run(parameters={"EXTRA_NOTE": 1}).skipped is False          # other parameters
    assert run(parameters={"EXTRA_NOTE": 1}).skipped is True
    manifest = json.loads((release / "manifest.json").read_text(encoding="utf-8"))
    manifest["created"] = "2000-01-01T00:00:00"                          # another release (checksum)
    (release / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    again = run(parameters={"EXTRA_NOTE": 1})
    assert not again.skipped and html.stat().st_mtime_ns != stamp
    assert run(parameters={"EXTRA_NOTE": 1}, force=True).skipped is False   # --force
    # written atomically: no temporary or staging file is left behind
    assert not [p.name for p in target.rglob("*") if p.name.startswith(".")]


def test_without_chromium_a_clear_note_and_no_pdf_not_a_crash(rendered, tmp_path, monkeypatch, capsys):
    from asi_lib.pdf import CHROMIUM_ENV, PdfPrinter, PdfUnavailable

    _, out, _ = rendered
    monkeypatch.setenv(CHROMIUM_ENV, str(tmp_path / "no-such-chromium"))
    with pytest.raises(PdfUnavailable, match="Chromium"):
        with PdfPrinter() as printer:
            printer.print_pdf(tmp_path / "x.html", tmp_path / "x.pdf")
    res = reports.render_reports(out / "release", tmp_path / "r", municipalities=[SMALL], workers=1, timeout=300,
                                 progress=False, pdf=True)
    assert res[0].ok and res[0].pdf is None and res[0].html.exists()
    assert "make browser-deps" in res[0].note and "make browser-deps" in capsys.readouterr().err
    assert not list((tmp_path / "r").glob("*.pdf"))
    assert "Chromium" in (tmp_path / "r" / "index.html").read_text(encoding="utf-8")


def test_report_notebook_equals_its_generator_and_is_thin():
    """The committed report is what tools/notebook_report.py writes; its cells hold no logic."""
    import runpy

    forbidden = (ast.FunctionDef, ast.ClassDef, ast.Lambda, ast.For, ast.While, ast.ListComp, ast.SetComp,
                 ast.DictComp, ast.GeneratorExp)   # as tests/test_notebooks_thin.py
    cells = runpy.run_path(str(Path(reports.REPORT_NOTEBOOK).parents[2] / "tools" / "notebook_report.py"))["CELLS"]
    nb = nbformat.read(reports.REPORT_NOTEBOOK, as_version=4)
    assert [(c.cell_type, c.source, c.metadata.get("tags", [])) for c in nb.cells] == \
        [("markdown" if kind == "md" else "code", src, tags) for kind, src, tags in cells]
    for c in nb.cells:
        if c.cell_type == "code":
            tree = ast.parse(c.source)
            assert not [n for n in ast.walk(tree) if isinstance(n, forbidden)], c.source
    # every word a reader sees comes from asi_lib.report_text: no prose cells in the notebook
    assert not [c for c in nb.cells if c.cell_type == "markdown"]
