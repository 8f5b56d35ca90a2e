"""The dashboard renders a release: every number it shows is a published cell of that release.

No browser here (tests/browser has the real Voilà + Chromium checks). A small release is
built once from the demo data; the checks read the release's published tables directly
(independently of the dashboard's own selection code) and compare what the page shows.
"""
from __future__ import annotations

import base64
import io
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from asi_lib.dashboard import (GROUPS, REFUSAL, VIEWS, Dashboard, _axis_text, _number, allowed_municipalities,
                               figure_png, key_figures, lang_from_query, load_view_data, municipality_from_query,
                               open_dashboard, resolve_municipality, select_view, table_xlsx)
from asi_lib.errors import AsiInputError
from asi_lib.release import load_release
from asi_lib.reports import REFERENCE_DATE_TEXT

ROOT = Path(__file__).resolve().parents[1]
SMALL = {"1", "2", "3", "4"}
#: Statistical terms a manager should not meet outside "För analytiker".
TERMS = ("p-värde", "Hedges", "dz", "Wilcoxon", "FDR", "p-value")


@pytest.fixture(scope="module")
def release_path():
    """The demo release (built once under out/demo, shared with the browser tests and `make dashboard`)."""
    from asi_lib.demo import ensure_demo_release
    return Path(ensure_demo_release(ROOT / "out" / "demo"))


@pytest.fixture(scope="module")
def rel(release_path):
    return load_release(release_path)


@pytest.fixture(scope="module")
def names(rel):
    return allowed_municipalities(rel)


@pytest.fixture(scope="module")
def big(rel):
    counts = {m: _number(rel.client_count(m)[0]) for m in rel.municipalities}
    return max((m for m in counts if np.isfinite(counts[m])), key=lambda m: counts[m])


def _published(rel, m) -> set[str]:
    """Every cell text of the municipality's and the region's published tables."""
    out = set()
    for unit in (m, None):
        for f in rel.tables(unit).values():
            out |= set(f.astype(str).to_numpy().ravel())
    return out


def _visible_text(html_text: str) -> str:
    return re.sub(r"<[^>]+>", " ", html_text)


# --------------------------------------------------------------------------- allowlist, language
def test_query_allowlist(names):
    k = names[0]
    assert municipality_from_query(f"kommun={k}", names) == k
    assert municipality_from_query("?kommun=" + "".join(f"%{b:02X}" for b in k.encode()), names) == k
    assert municipality_from_query("kommun=Stockholm", names) is None
    assert municipality_from_query(f"kommun={k}&kommun={names[1]}", names) is None
    assert municipality_from_query(f"Kommun={k}", names) is None
    assert municipality_from_query("", names) is None and municipality_from_query(None, names) is None
    assert resolve_municipality(names, names[1], f"kommun={k}") == names[1]
    assert resolve_municipality(names, "Stockholm", f"kommun={k}") is None
    assert lang_from_query(f"kommun={k}&lang=en") == "en"
    assert lang_from_query("lang=fr") == lang_from_query("lang=en&lang=sv") == lang_from_query("") == "sv"


def test_release_read_for_one_municipality_is_the_same(release_path, rel, big):
    """open_dashboard reads only the region and the municipality (a national release holds ~290)."""
    from asi_lib.release import REGION
    part = load_release(release_path, units=[REGION, big])
    assert list(part.published) == [REGION, big] and part.municipalities == rel.municipalities
    for unit in (None, big):
        assert list(part.tables(unit)) == list(rel.tables(unit))
        for k, f in rel.tables(unit).items():
            pd.testing.assert_frame_equal(part.tables(unit)[k], f)
    with pytest.raises(AsiInputError):
        part.tables(next(m for m in rel.municipalities if m != big))


def test_second_read_reuses_the_manifest_unless_the_release_changed(release_path, big, tmp_path):
    """After the query string a page reads its tables with the manifest it already has (no 3.7 MB re-parse)."""
    import shutil

    from asi_lib.release import REGION, write_release
    folder = tmp_path / "release"
    shutil.copytree(release_path, folder)
    first = load_release(folder, units=[REGION])
    marked = {**first.manifest, "read_by": "the first call"}  # only in memory: shows which manifest was used
    again = load_release(folder, units=[REGION, big], manifest=marked)
    assert again.manifest is marked and list(again.published) == [REGION, big]
    full = load_release(folder)
    for unit in (None, big):
        for k, f in full.tables(unit).items():
            pd.testing.assert_frame_equal(again.tables(unit)[k], f)
    # the release is rebuilt in the meantime (other tables): the folder's own manifest is read
    write_release(load_release(folder, units=[REGION, big]), folder)
    fresh = load_release(folder, units=[REGION, big], manifest=marked)
    assert "read_by" not in fresh.manifest
    assert fresh.manifest["files"]["tables.parquet"] != marked["files"]["tables.parquet"]


def test_unknown_municipality_is_refused(rel):
    with pytest.raises(AsiInputError):
        Dashboard(rel, municipality="Stockholm")


def test_open_dashboard_refuses_without_valid_query(release_path, big, monkeypatch):
    monkeypatch.delenv("ASI_DASHBOARD_KOMMUNER", raising=False)
    for q in ("kommun=Stockholm", "", "kommun=<b>x</b>"):
        w = open_dashboard(release_path, query=q)
        assert "asi-refusal" in w._dom_classes
        assert w.value.count("<b>") == 1 and REFUSAL["sv"].split(".")[0] in w.value
    assert "asi-dashboard" in open_dashboard(release_path, query=f"kommun={big}")._dom_classes
    en = open_dashboard(release_path, query="kommun=Stockholm&lang=en")
    assert REFUSAL["en"].split(".")[0] in en.value


def test_release_path_from_environment(release_path, big, monkeypatch):
    monkeypatch.setenv("ASI_KIT_RELEASE", str(release_path))
    monkeypatch.delenv("ASI_DASHBOARD_KOMMUNER", raising=False)
    assert "asi-dashboard" in open_dashboard(query=f"kommun={big}")._dom_classes
    monkeypatch.setenv("ASI_KIT_RELEASE", str(release_path.parent / "missing"))
    with pytest.raises(AsiInputError):
        open_dashboard(query=f"kommun={big}")


def test_server_instance_restricted_by_configured_municipalities(release_path, names, monkeypatch):
    monkeypatch.setenv("ASI_DASHBOARD_KOMMUNER", names[0])
    assert "asi-dashboard" in open_dashboard(release_path, query=f"kommun={names[0]}")._dom_classes
    assert "asi-refusal" in open_dashboard(release_path, query=f"kommun={names[1]}")._dom_classes


# --------------------------------------------------------------------------- it renders, it does not compute
def test_the_dashboard_imports_no_computation(release_path, big):
    """A page needs the release only: no pairing, scores or statistics modules are loaded."""
    code = ("import sys; from asi_lib.dashboard import Dashboard; from asi_lib.release import load_release;"
            f"d = Dashboard(load_release({str(release_path)!r}), {big!r}); d.widget();"
            "[d.set(view=v) for v in ('compare', 'change', 'bortfall')]; d.set(lang='en', analyst=True);"
            "bad = [m for m in ('asi_lib.followup', 'asi_lib.change', 'asi_lib.compare', 'asi_lib.groups',"
            " 'asi_lib.scores', 'asi_lib.store', 'scipy', 'statsmodels') if m in sys.modules]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                         env={**__import__("os").environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("view", list(VIEWS))
@pytest.mark.parametrize("lang", ["sv", "en"])
def test_every_number_shown_is_a_published_cell(rel, names, view, lang):
    """Manager table, plot annotations and key figures: each number is a cell of the release
    (the municipality's or the region's tables, as published); no count 1–4 anywhere."""
    for m in names:
        pub = _published(rel, m)
        if lang == "en":  # the same cells, written with a decimal point and a thousands comma
            pub |= {x.replace(",", ".").replace("\u2009", ",").replace("−", "-") for x in pub}
        data = load_view_data(rel, m)
        for group in GROUPS:
            res = select_view(data, view, "alcohol", group, lang)
            cells = [p for x in res.table.astype(str).to_numpy().ravel() for p in x.split(" – ")]
            numeric = [c for c in cells if re.search(r"\d", c)]
            assert set(numeric) <= pub, (m, view, set(numeric) - pub)
            assert not SMALL & set(cells)
            if view != "bortfall":  # bortfall draws 1 − the published share of followed up
                assert set(res.plot["text"]) <= pub, (m, view)
            for c in ("value", "low", "high"):
                assert np.isfinite(res.plot[c].to_numpy(dtype=float)).all()
            others = [n for n in names if n != m]
            shown = " ".join(cells) + " ".join(res.plot["label"].astype(str))
            assert not [n for n in others if re.search(rf"\b{re.escape(n)}\b", shown)]
        for k in key_figures(data, "alcohol", lang):
            assert k["value"] in pub | {"–"}, (m, k)


def test_key_figures_are_the_release_cells(rel, big):
    """Read independently from the release: the rows by their label, not by position."""
    data = load_view_data(rel, big)
    kf = {k["key"]: k for k in key_figures(data, "alcohol", "sv")}
    assert kf["clients"]["value"] == rel.client_count(big)[0]
    assert rel.client_count(None)[0] in kf["clients"]["region"]
    for key, label in (("followup", "uppföljda"), ("bortfall", "Grundbortfall")):
        for unit, where in ((big, "value"), (None, "region")):
            t = rel.tables(unit)["Materialet i korthet"]
            row = t.loc[t["Materialet"].str.contains(label)].iloc[0]
            assert row["Andel"] in kf[key][where]
    ch = rel.tables(big)["Förändring per område"]
    row = ch.loc[(ch["Livsområde"] == "Alkohol") & ch["Mått"].str.contains("index")].iloc[0]
    assert kf["improved"]["value"] == row["Andel förbättrade"]


def test_hidden_groups_are_not_drawn(rel, names):
    """A group whose mean is hidden ('..') in the release is in the table as '..' and not in the figure."""
    seen = 0
    for m in names:
        data = load_view_data(rel, m)
        for group, (_, _, title) in GROUPS.items():
            res = select_view(data, "profile", "alcohol", group)
            if title not in rel.tables(m):      # under ten clients a release has no profile tables
                assert res.plot is None or not len(res.plot)
                continue
            t = rel.tables(m)[title]
            rows = t.loc[t["Mått"] == "Sammanvägt index: Alkohol"]
            hidden = set(rows.loc[rows["Medelvärde"] == "..", rows.columns[0]])
            assert not hidden & set(res.plot["label"])
            seen += len(hidden)
    assert seen, "the small release hides no group mean: the test checks nothing"


def test_manager_view_keeps_statistical_terms_for_analysts(rel, big):
    d = Dashboard(rel, big)
    for view in VIEWS:
        d.set(view=view, show=True, analyst=False)
        text = _visible_text(d.current["keyfigures"] + d.current["tables"] + d.current["text"])
        assert not [x for x in TERMS if x in text], view
    d.set(view="change", analyst=True)
    assert "p-värde" in d.current["tables"] and "Wilcoxon" in d.current["tables"]
    d.set(view="compare")
    assert "Hedges" in d.current["tables"]


def test_one_name_per_measure(rel, big):
    """The composite is 'Sammanvägt index' on the page, also where an older release table says otherwise."""
    d = Dashboard(rel, big)
    for view in VIEWS:
        d.set(view=view, show=True, analyst=True)
        assert "Sammanfattande" not in d.current["text"] + d.current["tables"]


def test_reference_date_sentence_as_in_the_reports(rel, big):
    d = Dashboard(rel, big)
    assert REFERENCE_DATE_TEXT["sv"].format(date=rel.reference_date) in d.heading_html()
    d.set(lang="en")
    assert REFERENCE_DATE_TEXT["en"].format(date=rel.reference_date) in d.heading_html()


def test_english_switch_is_complete(rel, big):
    d = Dashboard(rel, big)
    d.widget()
    d.set(lang="en", show=True)
    swedish = re.compile(r"\b(Klienter|Andel|Kommunen|Regionen|Totalt|Förändring|Bortfall|Uppföljda|Visa|Kön|"
                         r"Livsområde|Alkohol|Sammanvägt)\b")
    for view in VIEWS:
        d.set(view=view)
        w = d._w
        texts = [d.current["keyfigures"], d.current["tables"], d.current["text"], w["show"].description,
                 w["analyst"].description, *(w[k].description for k in ("view", "area", "group")),
                 *(lab for k in ("view", "area", "group") for lab, _ in w[k].options)]
        found = [swedish.findall(_visible_text(x)) for x in texts]
        assert not [f for f in found if f], (view, found)
        assert not re.search(r"\d,\d{1,2}(?!\d)", _visible_text(d.current["tables"])), "decimal comma in English"
    d.set(lang="sv")
    assert d._w["view"].options[0][0] == VIEWS["profile"][0]


def test_export_links_are_real_files_of_the_shown_cells(rel, big):
    import openpyxl

    d = Dashboard(rel, big)
    d.set(view="change", show=True)
    links = dict(re.findall(r"download='([^']+)' href='data:[^;]+;base64,([^']+)'", d.current["export"]))
    png = next(base64.b64decode(v) for k, v in links.items() if k.endswith(".png"))
    xlsx = next(base64.b64decode(v) for k, v in links.items() if k.endswith(".xlsx"))
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    ws = openpyxl.load_workbook(io.BytesIO(xlsx)).worksheets[0]
    res, _ = d.view("change")
    got = [[c.value for c in row] for row in ws.iter_rows(min_row=5, max_row=4 + len(res.table))]
    assert got == res.table.astype(str).values.tolist()
    assert REFERENCE_DATE_TEXT["sv"].format(date=rel.reference_date) == ws["A2"].value
    assert not [n for n in links if not re.fullmatch(r"[a-z0-9_]+\.(png|xlsx)", n)]


def test_excel_export_is_formula_safe():
    import openpyxl

    hostile = pd.DataFrame({"Grupp": ["=HYPERLINK(\"http://x\",\"y\")", "+1", "@SUM(A1)"], "Antal": ["5", "6", "7"]})
    ws = openpyxl.load_workbook(io.BytesIO(table_xlsx({"=evil": hostile}, title="=cmd|' /C calc'!A0"))).worksheets[0]
    cells = [c for row in ws.iter_rows() for c in row if c.value is not None]
    assert cells and all(c.data_type == "s" for c in cells)


def test_figure_axis_uses_decimal_comma_and_percent():
    assert _axis_text(-0.25, "sv", False, 2) == "−0,25"
    assert _axis_text(0.25, "sv", True, 0) == "25 %" and _axis_text(0.5, "en", False, 1) == "0.5"


def test_view_change_is_fast(rel, big):
    import time
    d = Dashboard(rel, big)
    d.widget()
    t0 = time.perf_counter()
    for view in VIEWS:
        for area in ("alcohol", "drugs"):
            d.set(view=view, area=area)
    per_change = (time.perf_counter() - t0) / 8
    assert per_change < 1.0, per_change
    assert figure_png(d.view("change")[0])[:4] == b"\x89PNG"
