"""The independent attacker (tests/attack.py) on hand-built workbooks and on the demo's outputs.

Issue 9: a release (every file of one run) must be protected *together*. The
attacker reads only published files, builds the linear relations a reader can
find between published counts and bounds every hidden count with integer
programming. Here it is

* checked on small workbooks whose answer is worked out by hand;
* checked to be **sound** on two demo folders: the true value of every hidden
  count lies in its range (truth: the same tables with ``min_cell=1``);
* shown to break per-table protection (the issue's leaks): a folder written
  the old way, each workbook from ``standard_tables``, the index from
  ``client_counts``;
* run on what the reports publish now: ``render_reports`` of the demo store,
  every file rendered from one jointly protected release (asi_lib.release),
  where no hidden count under min_cell may be recoverable.

The demo region is built once per session (store + ``render_reports``, a few
minutes). ``ASI_ATTACK_DEMO=DIR`` reuses a folder holding ``store/`` and
``rapporter/`` (the ``render_reports`` output) from an earlier run; the
per-table folder is written to ``DIR/pertable/`` once and reused.
``ASI_RELEASE_DIR=DIR`` points the release test at another output folder.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import openpyxl
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import attack as atk  # noqa: E402


# --------------------------------------------------------------------------- hand-built workbooks
def _write(folder: Path, name: str, sheets: dict[str, tuple[list[str], list[list]]], unit="Testkommun"):
    """A workbook laid out as asi_lib's write_excel: title, selection, empty row, header, rows, legend."""
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for sheet, (header, rows) in sheets.items():
        ws = wb.create_sheet(sheet)
        ws["A1"] = f"{unit} – {sheet}"
        ws["A2"] = "Urval: test. Enhet: klienter."
        for j, h in enumerate(header, start=1):
            ws.cell(row=4, column=j, value=h)
        for i, row in enumerate(rows, start=5):
            for j, v in enumerate(row, start=1):
                ws.cell(row=i, column=j, value=v)
        ws.cell(row=len(rows) + 6, column=1, value="<5 = färre än 5 klienter; .. = dolt")
    path = folder / name
    wb.save(path)
    return path


def _insatser(folder, n_values, total):
    """An "Insatser genomförda" sheet: the interventions' n and k add up to "Alla insatser"."""
    header = ["Insats", "Antal klienter", "Antal med egenskapen", "Andel"]
    rows = [[f"Insats {chr(65 + i)}", v, "0", "0 %" if v not in ("<5", "..") else ".."]
            for i, v in enumerate(n_values)]
    rows.append(["Alla insatser", total, "0", "0 %"])
    _write(folder, "kommun_test.xlsx", {"Insatser genomförda": (header, rows)})
    res = atk.attack(folder)
    return res[res["column"] == "Antal klienter"].set_index("row")


def test_one_hidden_part_of_a_total_is_recovered(tmp_path):
    res = _insatser(tmp_path, ["12", "<5", "20"], "35")
    assert list(res.index) == ["Insats B"]
    assert (res.loc["Insats B", "lo"], res.loc["Insats B", "hi"]) == (3, 3)
    assert bool(res.loc["Insats B", "recovered"])


def test_two_hidden_parts_summing_to_two_are_both_one(tmp_path):
    res = _insatser(tmp_path, ["<5", "<5", "20"], "22")
    assert res[["lo", "hi"]].to_numpy().tolist() == [[1, 1], [1, 1]]
    assert res["recovered"].all()


def test_two_hidden_parts_with_slack_are_not_recovered(tmp_path):
    res = _insatser(tmp_path, ["<5", "<5", "20"], "25")  # A + B = 5: (1,4) … (4,1)
    assert res[["lo", "hi"]].to_numpy().tolist() == [[1, 4], [1, 4]]
    assert not res["recovered"].any()
    assert not res["narrowed"].any()


def test_a_hidden_dot_is_zero_or_at_least_min_cell(tmp_path):
    # A + B = 9, A "..": 0 or ≥ 5, B "<5": 1..4  →  A in 5..8, B in 1..4
    res = _insatser(tmp_path, ["..", "<5", "20"], "29")
    assert (res.loc["Insats A", "lo"], res.loc["Insats A", "hi"]) == (5, 8)
    assert (res.loc["Insats B", "lo"], res.loc["Insats B", "hi"]) == (1, 4)
    assert bool(res.loc["Insats A", "narrowed"]) and not res["recovered"].any()
    # A + B = 4 with A ".." (and "<5" in the column): A must be 0, B = 4
    res = _insatser(tmp_path, ["..", "<5", "20"], "24")
    assert res[["lo", "hi"]].to_numpy().tolist() == [[0, 0], [4, 4]]


def test_a_relation_the_visible_numbers_contradict_is_dropped(tmp_path):
    # the rows do not add up to "Alla insatser" where everything is visible: the attacker
    # must not assume the sum, so the hidden part stays unknown
    header = ["Insats", "Antal klienter", "Antal med egenskapen", "Andel"]
    rows = [["A", "12", "0", "0 %"], ["B", "<5", "0", ".."], ["Alla insatser", "35", "0", "0 %"]]
    _write(tmp_path, "kommun_a.xlsx", {"Insatser genomförda": (header, rows)}, unit="A")
    rows = [["A", "12", "0", "0 %"], ["B", "7", "0", "0 %"], ["Alla insatser", "30", "0", "0 %"]]
    _write(tmp_path, "kommun_b.xlsx", {"Insatser genomförda": (header, rows)}, unit="B")
    res = atk.attack(tmp_path)
    assert "insatser" in res.attrs["dropped"]
    assert res.iloc[0][["lo", "hi"]].tolist() == [1, 4]


def test_without_small_markers_a_dot_is_any_count(tmp_path):
    # a release shows every hidden count as ".." and no "<5": A + B = 4 leaves both 0..4
    res = _insatser(tmp_path, ["..", "..", "20"], "24")
    assert res[["lo", "hi"]].to_numpy().tolist() == [[0, 4], [0, 4]]
    assert not res["recovered"].any()


def test_a_hidden_index_count_of_a_release_can_be_small(tmp_path):
    # N is hidden everywhere (".." in the workbook and in the index) but Table 1's categories
    # give it: 1 + 3 + 0 missing = 4. In a release ".." may hide 1..4, so the index's ".."
    # is 4 (an attacker that reads it as 0 or ≥ 5 finds a contradiction and learns nothing)
    header = ["Variabel", "Kategori", "Antal klienter", "Antal med egenskapen", "Saknar värde", "Andel"]
    rows = [["Kön", "Man", "..", "1", "0", ".."], ["Kön", "Kvinna", "..", "3", "0", ".."]]
    _write(tmp_path, "kommun_a.xlsx", {"Klientgruppen": (header, rows)}, unit="A")
    (tmp_path / "index.html").write_text(
        "<table><tr><td>A</td><td>–</td><td><a href='kommun_a.xlsx'>Excel</a></td><td>..</td></tr></table>",
        encoding="utf-8")
    res = atk.attack(tmp_path)
    assert not res.attrs["dropped"] and not res.attrs["infeasible"]
    assert res[["lo", "hi"]].to_numpy().tolist() == [[4, 4]] * 3  # two "Antal klienter" and the index
    assert set(res["file"]) == {"kommun_a.xlsx", "index.html"}


def _index(folder, rows):
    """index.html with (name, workbook or None, count) rows, laid out as reports.write_index."""
    tr = "".join(f"<tr><td>{n}</td><td>–</td><td>{f'<a href={x!r}>Excel</a>' if x else '–'}</td><td>{c}</td></tr>"
                 for n, x, c in rows)
    (folder / "index.html").write_text(f"<table>{tr}</table>", encoding="utf-8")


def test_a_unit_without_tables_is_still_counted_in_the_index(tmp_path):
    # a tiny municipality has no workbook, but its index count is a cell: region 10 = 6 + B
    header = ["Variabel", "Kategori", "Antal klienter", "Antal med egenskapen", "Saknar värde", "Andel"]
    _write(tmp_path, "region.xlsx", {"Klientgruppen": (header, [["Kön", "Man", "10", "10", "0", "100 %"]])},
           unit="Hela regionen")
    _index(tmp_path, [("Hela regionen", "region.xlsx", "10"), ("A", None, "6"), ("B", None, "..")])
    res = atk.attack(tmp_path)
    assert "index_sum" in res.attrs["families"]
    assert res.set_index("row").loc["B", ["lo", "hi"]].tolist() == [4, 4]
    # two hidden: 4 = B + C leaves each 0..4
    _index(tmp_path, [("Hela regionen", "region.xlsx", "10"), ("A", None, "6"), ("B", None, ".."),
                      ("C", None, "..")])
    res = atk.attack(tmp_path)
    assert not res["recovered"].any()


def test_swedish_numbers_and_markers_are_parsed():
    assert atk.parse_cell("3\u2009005") == ("v", 3005)
    assert atk.parse_cell("−5") == ("v", -5)
    assert atk.parse_cell("<5") == ("<", 5)
    assert atk.parse_cell("..") == ("..",)
    assert atk.parse_cell("–") == ("–",)
    assert atk.parse_cell("0,23")[0] == "x" and atk.parse_cell("27 %")[0] == "x"


# --------------------------------------------------------------------------- the demo region
def write_per_table(ds, folder: Path) -> Path:
    """The "old way": every workbook protected table by table (``standard_tables``), plus an index.

    What reports published before the release: region and each municipality
    written with :func:`asi_lib.tables.write_excel` from ``standard_tables`` (each
    table protected on its own) and the index with the per-table client counts
    of :func:`asi_lib.reports.client_counts`.
    """
    from asi_lib import reports
    from asi_lib.release import reference_date
    from asi_lib.tables import standard_tables, write_excel

    folder.mkdir(parents=True, exist_ok=True)
    counts = reports.client_counts(ds)
    by_name = {m: (n, t) for m, n, t in zip(counts["municipality"], counts["n"], counts["tendency"])}
    munis = sorted(map(str, ds.grund["municipality"].dropna().unique()))
    results = []
    for m in [None, *munis]:
        name = "Hela regionen" if m is None else m
        path = write_excel(standard_tables(ds, municipality=m), folder / f"{reports.report_filename(m)}.xlsx",
                           title=name)
        n, tendency = by_name[m]
        results.append(reports.ReportResult(municipality=m, name=name, excel=path, n_clients=str(n),
                                            tendency=bool(tendency)))
    reports.write_index(results, folder, reference_date=str(reference_date(ds).date()), min_cell=5)
    return folder


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory):
    """Store and the release-rendered reports folder of the demo region (one build per session).

    ``render_reports`` builds ``rapporter/release`` from the store and renders
    every report (and the index) from it.
    """
    reuse = os.environ.get("ASI_ATTACK_DEMO")
    if reuse:
        return Path(reuse) / "store", Path(reuse) / "rapporter"
    from asi_lib.demo import build_demo_store
    from asi_lib.reports import render_reports

    out = tmp_path_factory.mktemp("attack_demo")
    res = build_demo_store(out, quiet=True)
    results = render_reports(res["store"], out / "rapporter", workers=2, progress=False, pdf=False)
    assert all(r.ok for r in results), [(r.name, r.error) for r in results if not r.ok]
    return res["store"], out / "rapporter"


@pytest.fixture(scope="session")
def demo_ds(demo_run):
    from asi_lib.store import load_store

    return load_store(demo_run[0])


@pytest.fixture(scope="session")
def per_table_dir(demo_run, demo_ds, tmp_path_factory):
    """The demo's workbooks and index protected table by table (the old way).

    With ``ASI_ATTACK_DEMO=DIR`` the folder is ``DIR/pertable`` (written once, then reused).
    """
    reuse = os.environ.get("ASI_ATTACK_DEMO")
    folder = Path(reuse) / "pertable" if reuse else tmp_path_factory.mktemp("attack_pertable")
    if not (folder / "index.html").exists():
        write_per_table(demo_ds, folder)
    return folder


@pytest.fixture(scope="session")
def per_table_attack(per_table_dir):
    return atk.attack(per_table_dir)


@pytest.fixture(scope="session")
def release_attack(demo_run):
    return atk.attack(demo_run[1])


def _truth_of(folder: Path, out: Path, tables_of, index_counts) -> dict:
    """True value of every count cell: the folder's workbooks rewritten from unprotected tables.

    ``tables_of(municipality)`` gives the tables with nothing hidden (``None`` =
    the region); the unit of a workbook is read from A1 (its title), as a reader would.
    """
    from asi_lib.tables import write_excel

    truth = {}
    for path in sorted(Path(folder).glob("*.xlsx")):
        title = str(openpyxl.load_workbook(path, read_only=True).worksheets[0]["A1"].value).split(" – ")[0]
        kommun = None if path.name == "region.xlsx" else title
        p = write_excel(tables_of(kommun), out / path.name, title=title)
        for sh in atk.read_workbook(p):
            for r, row in enumerate(sh.rows):
                for j, h in enumerate(sh.header):
                    cell = atk.parse_cell(row[j])
                    truth[(path.name, sh.name, sh.labels[r], h)] = cell[1] if cell[0] == "v" else None
    for name, n in index_counts.items():
        cell = atk.parse_cell(n)
        truth[("index.html", "index", name, "Antal klienter (Grund)")] = cell[1] if cell[0] == "v" else None
    return truth


@pytest.fixture(scope="session")
def per_table_truth(per_table_dir, demo_ds, tmp_path_factory):
    """The same tables with min_cell=1 (nothing hidden)."""
    from asi_lib.reports import client_counts
    from asi_lib.tables import standard_tables

    cc = client_counts(demo_ds, min_cell=1)
    names = ["Hela regionen" if m is None else m for m in cc["municipality"]]
    return _truth_of(per_table_dir, tmp_path_factory.mktemp("truth_pertable"),
                     lambda m: standard_tables(demo_ds, municipality=m, min_cell=1), dict(zip(names, cc["n"])))


@pytest.fixture(scope="session")
def release_truth(demo_run, demo_ds, tmp_path_factory):
    """The release built with min_cell=1: the same tables and layout, nothing hidden."""
    from asi_lib.release import build_release

    rel = build_release(demo_ds, min_cell=1, audit_cells=False)
    cc = rel.client_counts()
    names = ["Hela regionen" if m is None else m for m in cc["municipality"]]
    return _truth_of(demo_run[1], tmp_path_factory.mktemp("truth_release"), rel.tables,
                     dict(zip(names, cc["n"])))


@pytest.mark.parametrize("which", ["per_table", "release"])
def test_the_attacker_is_sound_on_the_demo(which, request):
    """Every hidden count's true value lies in the attacker's range: no relation is wrong."""
    res = request.getfixturevalue(f"{which}_attack")
    truth = request.getfixturevalue(f"{which}_truth")
    assert len(res) > 100 and not res.attrs["infeasible"]
    tv = np.array([truth.get((r.file, r.sheet, r.row, r.column)) for r in res.itertuples()], dtype=float)
    known = ~np.isnan(tv)
    assert known.mean() > 0.99, res[~known].head(10).to_string()
    outside = res[known & ((tv < res["lo"].to_numpy()) | (tv > res["hi"].to_numpy()))]
    assert outside.empty, outside.head(10).to_string()


def _cell(res, file, sheet, row, column):
    hit = res[(res["file"] == file) & (res["sheet"] == sheet) & (res["row"] == row) & (res["column"] == column)]
    assert len(hit) == 1, (file, sheet, row, column)
    return hit.iloc[0]


def _xlsx(municipality):
    from asi_lib.reports import report_filename

    return f"{report_filename(municipality)}.xlsx"


def test_per_table_protection_fails(per_table_attack):
    """DEMONSTRATION (issue 9): outputs protected table by table leak across files.

    The per-table folder is what the reports published before the release
    (``standard_tables`` per workbook, the index from ``client_counts``); the
    attack succeeds on it. The release's folder must not leak
    (test_release_no_small_count_is_recoverable).
    """
    res = per_table_attack
    assert {"t1_cats", "prof_sum", "cmp_region", "region_kommun", "index"} <= set(res.attrs["families"])
    # "others" vs the region: Östermyra's valid count for the medical index, every measure
    cmp = res[(res["file"] == _xlsx("Östermyra")) & (res["sheet"] == "Jämfört med övriga")]
    row = cmp[(cmp["row"] == "Sammanvägt index: Fysisk hälsa") & (cmp["column"] == "Antal klienter (enheten)")]
    assert len(row) == 1 and row["recovered"].all()
    assert cmp["recovered"].all()
    # row presence: Fjällbo's listed substance groups under "<5" are 1 each
    fj = res[(res["file"] == _xlsx("Fjällbo")) & (res["sheet"] == "Problem per huvudpreparat")
             & (res["column"] == "Antal klienter") & (res["marker"] == "<5")]
    assert len(fj) > 0 and (fj["lo"] == 1).all() and (fj["hi"] == 1).all()
    # the index and the region's "Problem per kommun": Exempelkommun's clients
    ex = _cell(res, "index.html", "index", "Exempelkommun", "Antal klienter (Grund)")
    assert ex["recovered"] and ex["lo"] == 4
    pk = res[(res["file"] == "region.xlsx") & (res["sheet"] == "Problem per kommun")
             & res["row"].str.startswith("Exempelkommun | ") & (res["column"] == "Antal klienter")]
    assert len(pk) > 0 and pk["recovered"].all() and (pk["lo"] == 4).all()
    # and overall: a large share of hidden counts is recovered exactly
    assert res["recovered"].mean() > 0.3


def test_release_no_small_count_is_recoverable(release_attack, release_truth):
    """What a release must pass: across all its files, no hidden count under min_cell is recoverable.

    The folder is ``render_reports`` of the demo store: every report, workbook
    and the index of one release. A hidden count of 1..4 (the ones the rule
    protects) must not be pinned to its value by any relation the attacker
    finds. A secondary cell (≥ 5) that can be worked out discloses nothing the
    rule protects (it could have been shown): counted, printed, not failed on.
    """
    res = release_attack
    # not vacuous: the attacker read the files and found the relations it relies on
    assert len(res) > 0 and not res.attrs["infeasible"]
    core = {"t1_cats", "prof_sum", "prof_t1", "presence", "cmp_region", "region_kommun", "index", "index_sum"}
    assert core <= set(res.attrs["families"]), core - set(res.attrs["families"])
    assert any(f.startswith("cross_sum:") for f in res.attrs["families"])
    tv = np.array([release_truth.get((r.file, r.sheet, r.row, r.column)) for r in res.itertuples()], dtype=float)
    small = (tv > 0) & (tv < 5)
    assert small.sum() > 50, "too few small hidden counts for the test to mean something"
    leaks = res[small & res["recovered"].to_numpy()]
    print(f"hidden {len(res)}, of them 1..4: {int(small.sum())}; recovered exactly: 1..4 {len(leaks)}, "
          f"≥ 5 {int((res['recovered'].to_numpy() & (tv >= 5)).sum())}, 0 {int((res['recovered'].to_numpy() & (tv == 0)).sum())}")
    assert leaks.empty, f"{len(leaks)} of {int(small.sum())} hidden small counts recovered, e.g.\n" + \
        leaks.head(10)[["file", "sheet", "row", "column", "lo"]].to_string()
