"""The independent attacker (tests/attack.py) on hand-built workbooks and on the demo's outputs.

Issue 9: a release (every file of one run) must be protected *together*. The
attacker reads only published files, builds the linear relations a reader can
find between published counts and bounds every hidden count with integer
programming. Here it is

* checked on small workbooks whose answer is worked out by hand;
* checked to be **sound** on the demo: the true value of every hidden count
  (the same tables published with ``min_cell=1``) lies in its range;
* shown to break today's per-table protection (the issue's leaks);
* the test a release must pass (xfail until the release exists).

The demo region is built once per session (store + ``render_reports``, a few
minutes). ``ASI_ATTACK_DEMO=DIR`` reuses a folder holding ``store/`` and
``rapporter/`` from an earlier run; ``ASI_RELEASE_DIR=DIR`` points the release
test at a release's output folder.
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


def test_swedish_numbers_and_markers_are_parsed():
    assert atk.parse_cell("3\u2009005") == ("v", 3005)
    assert atk.parse_cell("−5") == ("v", -5)
    assert atk.parse_cell("<5") == ("<", 5)
    assert atk.parse_cell("..") == ("..",)
    assert atk.parse_cell("–") == ("–",)
    assert atk.parse_cell("0,23")[0] == "x" and atk.parse_cell("27 %")[0] == "x"


# --------------------------------------------------------------------------- the demo region
@pytest.fixture(scope="session")
def demo_run(tmp_path_factory):
    """Store and the reports folder of the demo region (one build per session)."""
    reuse = os.environ.get("ASI_ATTACK_DEMO")
    if reuse:
        return Path(reuse) / "store", Path(reuse) / "rapporter"
    from asi_lib.demo import build_demo_store
    from asi_lib.reports import render_reports

    out = tmp_path_factory.mktemp("attack_demo")
    res = build_demo_store(out, quiet=True)
    results = render_reports(res["store"], out / "rapporter", workers=2, progress=False)
    assert all(r.ok for r in results), [(r.name, r.error) for r in results if not r.ok]
    return res["store"], out / "rapporter"


@pytest.fixture(scope="session")
def demo_attack(demo_run):
    return atk.attack(demo_run[1])


@pytest.fixture(scope="session")
def demo_truth(demo_run, tmp_path_factory):
    """The true value of every published count: the same tables with min_cell=1 (nothing hidden)."""
    from asi_lib.store import load_store
    from asi_lib.tables import standard_tables, write_excel

    ds = load_store(demo_run[0])
    out = tmp_path_factory.mktemp("attack_truth")
    names = {}
    for path in Path(demo_run[1]).glob("*.xlsx"):  # the title in A1 names the unit
        title = str(openpyxl.load_workbook(path, read_only=True).worksheets[0]["A1"].value).split(" – ")[0]
        names[path.name] = title
    truth = {}
    for fname, title in names.items():
        kommun = None if fname == "region.xlsx" else title
        p = write_excel(standard_tables(ds, municipality=kommun, min_cell=1), out / fname, title=title)
        for sh in atk.read_workbook(p):
            for r, row in enumerate(sh.rows):
                for j, h in enumerate(sh.header):
                    cell = atk.parse_cell(row[j])
                    truth[(fname, sh.name, sh.labels[r], h)] = cell[1] if cell[0] == "v" else None
    return truth


def test_the_attacker_is_sound_on_the_demo(demo_attack, demo_truth):
    """Every hidden count's true value lies in the attacker's range: no relation is wrong."""
    res = demo_attack[demo_attack["file"] != "index.html"]
    assert len(res) > 100 and not res.attrs["infeasible"]
    tv = np.array([demo_truth.get((r.file, r.sheet, r.row, r.column))
                   for r in res.itertuples()], dtype=float)
    known = ~np.isnan(tv)
    assert known.mean() > 0.99
    outside = res[known & ((tv < res["lo"].to_numpy()) | (tv > res["hi"].to_numpy()))]
    assert outside.empty, outside.head(10).to_string()


def _cell(res, file, sheet, row, column):
    hit = res[(res["file"] == file) & (res["sheet"] == sheet) & (res["row"] == row) & (res["column"] == column)]
    assert len(hit) == 1, (file, sheet, row, column)
    return hit.iloc[0]


def test_todays_per_table_protection_fails(demo_attack):
    """DEMONSTRATION (issue 9): today's outputs, protected table by table, leak across files.

    Expected to pass now — the attack succeeds. Once the reports are rendered from
    a jointly protected release, this demonstration no longer holds for the
    release's folder (see test_release_no_hidden_count_is_recoverable).
    """
    res = demo_attack
    assert {"t1_cats", "prof_sum", "cmp_region", "region_kommun", "index"} <= set(res.attrs["families"])
    # "others" vs the region: Östermyra's valid count for the medical index, every measure
    cmp = res[(res["file"] == "kommun_ostermyra.xlsx") & (res["sheet"] == "Jämfört med övriga")]
    row = cmp[(cmp["row"] == "Sammanvägt index: Fysisk hälsa") & (cmp["column"] == "Antal klienter (enheten)")]
    assert len(row) == 1 and row["recovered"].all()
    assert cmp["recovered"].all()
    # row presence: Fjällbo's listed substance groups under "<5" are 1 each
    fj = res[(res["file"] == "kommun_fjallbo.xlsx") & (res["sheet"] == "Problem per huvudpreparat")
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


@pytest.fixture
def release_dir(demo_run):
    """The folder the release test attacks: ASI_RELEASE_DIR, else today's demo reports."""
    return Path(os.environ.get("ASI_RELEASE_DIR") or demo_run[1])


@pytest.mark.xfail(strict=False, reason="release not built yet (issue 9): today's reports leak")
def test_release_no_hidden_count_is_recoverable(release_dir):
    """What a release must pass: across all its files, no hidden count is recoverable."""
    res = atk.attack(release_dir)
    # not vacuous: the attacker read the files and found the relations it relies on
    assert len(res) > 0 and not res.attrs["infeasible"]
    core = {"t1_cats", "prof_sum", "prof_t1", "presence", "cmp_region", "region_kommun", "index"}
    assert core <= set(res.attrs["families"]), core - set(res.attrs["families"])
    assert any(f.startswith("cross_sum:") for f in res.attrs["families"])
    leaks = res[res["recovered"]]
    assert leaks.empty, f"{len(leaks)} of {len(res)} hidden counts recovered, e.g.\n" + \
        leaks.head(10)[["file", "sheet", "row", "column", "marker", "lo"]].to_string()
