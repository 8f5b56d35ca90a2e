"""Ingest in chunks: the same store, quarantine and report as reading each file whole.

A generated region is damaged on purpose in rows that fall into different
chunks (a bad date, a short row, a duplicate of an early row near the end, a
follow-up without baseline, a cell with a line break, a last row without line
break), then ingested twice: every file whole (``chunk_rows=0``, the reader
used before streaming) and in chunks far smaller than the files. Expected row
numbers are computed here from the rows as written, not by the kit.
"""
import csv
import json

import pandas as pd
import pytest

from asi_lib.ingest import ingest
from asi_lib.store import Store
from asi_lib.synth import generate

KEY = b"chunk-test-key-0123456789abcdef!"
CHUNK = 20


def write_rows(path, header, rows, *, end_newline=True):
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)
    if not end_newline:
        text = path.read_text(encoding="utf-8")
        path.write_text(text.rstrip("\n"), encoding="utf-8")


@pytest.fixture(scope="module")
def region(tmp_path_factory):
    d = tmp_path_factory.mktemp("chunks")
    reg = generate(n_clients=130, seed=5)
    as_of = reg.truth["horizon"]
    files = {p.stem: p for p in reg.write(d / "export", format="csv") if p.suffix == ".csv"}
    expect = {}
    # grund: bad date (row 5), a cell with a line break (row 30), a short row (row 62), duplicate of row 3 at the end
    g = pd.read_csv(files["grund"], dtype=str, keep_default_na=False)
    u = pd.read_csv(files["uppfoljning"], dtype=str, keep_default_na=False)
    header, rows = list(g.columns), g.to_numpy().tolist()
    assert len(rows) > 4 * CHUNK
    # damage only baselines without follow-ups (a quarantined baseline would also quarantine its follow-ups)
    free = [i for i in range(len(rows)) if rows[i][0] not in set(u["client_id"])]
    bad_date = next(i for i in free if i >= 3)
    short = next(i for i in free if i >= 3 * CHUNK)
    rows[bad_date][header.index("interview_date")] = "2024-13-45"
    rows[28][header.index("comment")] = "rad ett\nrad två, \"citat\""
    rows[short] = rows[short][:5]
    rows.append(list(rows[1]))
    write_rows(files["grund"], header, rows)
    expect["grund"] = {"type_date": [bad_date + 2], "short_row": [short + 2], "duplicate": [len(rows) + 1]}
    # uppfoljning: a follow-up whose client has no baseline (row 40)
    u.loc[38, "client_id"] = "ZZ-0000-okand"
    write_rows(files["uppfoljning"], list(u.columns), u.to_numpy().tolist())
    expect["uppfoljning"] = {"followup_without_grund": [40]}
    # insatser: the last row without a line break
    i = pd.read_csv(files["insatser"], dtype=str, keep_default_na=False)
    write_rows(files["insatser"], list(i.columns), i.to_numpy().tolist(), end_newline=False)
    expect["insatser"] = {"truncated": [len(i) + 1]}
    order = [files["uppfoljning"], files["insatser"], files["grund"], files["bortfall"]]  # Grund is not first
    return {"dir": d, "files": files, "order": order, "as_of": as_of, "expect": expect}


def run(region, name, chunk_rows, paths=None, **kw):
    return ingest(paths or region["order"], region["dir"] / name, key=KEY, as_of=region["as_of"],
                  chunk_rows=chunk_rows, **kw)


def same_outcome(region, a, b, ra, rb):
    sa, sb = Store(region["dir"] / a), Store(region["dir"] / b)
    for t in ("grund", "uppfoljning", "bortfall", "insatser"):
        pd.testing.assert_frame_equal(sa.read_table(t), sb.read_table(t))
    qa, qb = sa.read_quarantine(), sb.read_quarantine()
    drop = ["ingest_id", "time"]
    pd.testing.assert_frame_equal(qa.drop(columns=drop), qb.drop(columns=drop))
    pd.testing.assert_frame_equal(ra.problems, rb.problems)
    fa = [{k: v for k, v in vars(f).items()} for f in ra.files]
    fb = [{k: v for k, v in vars(f).items()} for f in rb.files]
    assert fa == fb
    assert (ra.exit_code, ra.released, ra.resolved) == (rb.exit_code, rb.released, rb.resolved)


def test_chunked_ingest_equals_whole_file_ingest(region):
    whole = run(region, "whole", 0)
    chunked = run(region, "chunked", CHUNK)
    same_outcome(region, "whole", "chunked", whole, chunked)
    # every row accounted for, and the rows in error are the ones damaged above (real row numbers)
    for f in chunked.files:
        assert f.status == "ok"
        assert f.read == f.accepted_new + f.accepted_unchanged + f.corrected + f.quarantined
        exp = region["expect"].get(f.table, {})
        assert f.quarantined == sum(len(v) for v in exp.values()), f.table
    p = chunked.problems
    for table, rules in region["expect"].items():
        name = region["files"][table].name
        for rule, rows in rules.items():
            got = p[(p["rule"] == rule) & p["file"].str.endswith(name)]["row"].tolist()
            assert got == rows, (table, rule, got)
    dup = p[p["rule"] == "duplicate"].iloc[0]
    assert dup["message_sv"].endswith(" 3") and dup["message_en"].endswith(" 3")  # the first row, in chunk 1
    # rows of different chunks: the damaged grund rows are in at least three chunks of CHUNK rows
    g_rows = [r for rows in region["expect"]["grund"].values() for r in rows]
    assert len({(r - 2) // CHUNK for r in g_rows}) >= 3
    # the quarantine holds every bad row once, with its row number
    q = Store(region["dir"] / "chunked").read_quarantine()
    assert sorted(q.loc[q["table"] == "grund", "row"].astype(int)) == sorted(g_rows)
    assert "rad ett" in json.dumps(Store(region["dir"] / "chunked").read_table("grund")["comment"].dropna().tolist(),
                                   ensure_ascii=False)


def test_chunked_conflicts_and_corrections_equal_whole_file(region):
    """A changed export re-ingested: conflicts (found after the merge) are quarantined the same way."""
    for name, chunk in (("whole2", 0), ("chunked2", CHUNK)):
        run(region, name, chunk, paths=[region["files"]["grund"]])
    g = pd.read_csv(region["files"]["grund"], dtype=str, keep_default_na=False)
    changed = region["dir"] / "grund_changed.csv"
    for r in (7, 50):  # two accepted rows in different chunks get another answer
        g.loc[r, "medical_troubled"] = str((int(g.loc[r, "medical_troubled"]) + 1) % 5)
    write_rows(changed, list(g.columns), g.to_numpy().tolist())
    rw = run(region, "whole2", 0, paths=[changed])
    rc = run(region, "chunked2", CHUNK, paths=[changed])
    same_outcome(region, "whole2", "chunked2", rw, rc)
    assert rc.problems.loc[rc.problems["rule"] == "conflict_stored", "row"].tolist() == [9, 52]
    rw = run(region, "whole2", 0, paths=[changed], accept_corrections=True)
    rc = run(region, "chunked2", CHUNK, paths=[changed], accept_corrections=True)
    same_outcome(region, "whole2", "chunked2", rw, rc)
    assert rc.files[0].corrected == 2


def test_chunked_resolves_earlier_quarantine_like_whole_file(region):
    """A row quarantined by an earlier ingest and fixed at the source leaves the quarantine in both paths.

    Only identities that an earlier quarantine entry holds are kept while the
    chunks are merged (not one key per accepted row); this checks that the
    fixed row, in a late chunk, is still found (``resolved``) and that an
    unfixed one stays.
    """
    g = pd.read_csv(region["files"]["grund"], dtype=str, keep_default_na=False)
    bad_item, fixed_later = 70, 12  # two rows of different chunks get an out-of-range answer
    orig = g.loc[bad_item, "medical_troubled"]
    broken, fixed = region["dir"] / "grund_broken.csv", region["dir"] / "grund_fixed.csv"
    g.loc[[bad_item, fixed_later], "medical_troubled"] = "77"
    write_rows(broken, list(g.columns), g.to_numpy().tolist())
    g.loc[bad_item, "medical_troubled"] = orig
    write_rows(fixed, list(g.columns), g.to_numpy().tolist())
    reports = {}
    for name, chunk in (("whole3", 0), ("chunked3", CHUNK)):
        first = run(region, name, chunk, paths=[broken])
        q = Store(region["dir"] / name).read_quarantine()
        assert {bad_item + 2, fixed_later + 2} <= set(q["row"].astype(int)), name
        reports[name] = (first, run(region, name, chunk, paths=[fixed]))
    same_outcome(region, "whole3", "chunked3", reports["whole3"][1], reports["chunked3"][1])
    for name, (first, second) in reports.items():
        assert second.resolved == 1, name  # row 72 fixed: its entry leaves; row 14 is quarantined again, same content
        q = Store(region["dir"] / name).read_quarantine()
        rows = set(q["row"].astype(int))
        assert bad_item + 2 not in rows and fixed_later + 2 in rows, name
