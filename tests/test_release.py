"""The release (issue 9): computed once, protected together, one reference date.

Hand-worked cases check the joint protection and its integer audit against
what a reader could compute by hand; a demo-sized release checks the
guarantees over every file (no count 1–4 visible, one reference date, the
same client count wherever a unit's count appears). The independent attacker
over all files of a rendered release is in ``tests/test_attack.py``.
"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from asi_lib import release as R
from asi_lib.datasets import read_dataset
from asi_lib.errors import AsiInputError
from asi_lib.publish import TOTAL


class T:
    def __init__(self, unit, key, raw):
        self.unit, self.key, self.raw = unit, key, raw


def profile(unit_rows, by="sex"):
    raw = pd.DataFrame(unit_rows, columns=[by, "n"])
    raw.attrs["asi"] = {"group_cols": [by], "additive": True}
    return raw


# --------------------------------------------------------------------------- the audit, by hand
def test_audit_finds_the_row_presence_pin():
    # total 7 = alcohol 5 + cannabis 1 + amphetamine 1: with only the two small ones hidden,
    # 7 − 5 = 2 over two cells; a reader knows nothing else, so 0+2, 1+1, 2+0 remain: free.
    v = np.array([5.0, 1.0, 1.0, 7.0])
    sets = [(np.arange(4), np.array([1.0, 1, 1, -1]))]
    small = (v > 0) & (v < 5)
    assert R.audit(v, small, small, sets).tolist() == []
    # one small cell hidden alone is exactly total − the rest
    only_one = np.array([False, True, False, False])
    assert R.audit(v, small, only_one, sets).tolist() == [1]


def test_audit_follows_a_chain_across_tables():
    # region = A + B (a margin) and, in A's own table, A = a1 + a2 with a2 visible:
    # hiding A and a1 but showing the region and B gives A = region − B, then a1 = A − a2.
    keys = ["region", "A", "B", "a1", "a2"]
    v = np.array([30.0, 10.0, 20.0, 3.0, 7.0])
    sets = [(np.array([1, 2, 0]), np.array([1.0, 1, -1])), (np.array([3, 4, 1]), np.array([1.0, 1, -1]))]
    small = (v > 0) & (v < 5)
    hidden = np.array([False, True, False, True, False])
    assert [keys[i] for i in R.audit(v, small, hidden, sets)] == ["a1"]
    hidden[2] = hidden[4] = True          # B and a2 hidden too: A and a1 are free
    assert R.audit(v, small, hidden, sets).tolist() == []


def _counting_milp(monkeypatch):
    """scipy's milp, called through, counting the integer programs (the audit imports it per call)."""
    import scipy.optimize

    calls, real = [], scipy.optimize.milp

    def milp(c, **kw):
        calls.append(len(c))
        return real(c, **kw)

    monkeypatch.setattr(scipy.optimize, "milp", milp)
    return calls


def test_audit_searches_again_only_what_is_not_yet_shown_free(monkeypatch):
    # total 11 = a 1 + b 2 + c 8 and a second table 10 = a 1 + d 9 (a shared with it). Hidden a, b:
    # 11 − 8 = 3 = a + b, 10 − 9 = 1 = a → a = 1, b = 2 (both determined). Hiding c too frees b (a
    # is still 10 − 9), and hiding d frees a. Solutions found under fewer hidden cells stay
    # solutions when more are hidden (the newly hidden at their true values), so a cell once shown
    # free is not searched again, and an audit of an unchanged block repeats its verdict unsearched.
    v = np.array([1.0, 2.0, 8.0, 11.0, 9.0, 10.0])        # a b c total1 d total2
    sets = [(np.array([0, 1, 2, 3]), np.array([1.0, 1, 1, -1])),
            (np.array([0, 4, 5]), np.array([1.0, 1, -1]))]
    small = (v > 0) & (v < 5)
    calls = _counting_milp(monkeypatch)
    free, wit, cache = np.zeros(6, dtype=bool), {}, {}
    hidden = np.array([True, True, False, False, False, False])
    assert R.audit(v, small, hidden, sets, free=free, witnesses=wit, cache=cache).tolist() == [0, 1]
    hidden[2] = True                                      # c hidden: b free, a still 10 − 9
    assert R.audit(v, small, hidden, sets, free=free, witnesses=wit, cache=cache).tolist() == [0]
    assert free.tolist() == [False, True, False, False, False, False]
    n = len(calls)
    # nothing changed: a is determined again without a search (the old audit searched it again)
    assert R.audit(v, small, hidden, sets, free=free, witnesses=wit, cache=cache).tolist() == [0]
    assert len(calls) == n
    hidden[4] = True                                      # d hidden: a free; b is not searched again
    assert R.audit(v, small, hidden, sets, free=free, witnesses=wit, cache=cache).tolist() == []
    assert free[[0, 1]].all()
    # the same verdicts as an audit from scratch (no memory)
    assert R.audit(v, small, hidden, sets).tolist() == []
    # every small count has a solution that moves it, checked by hand: each equation holds
    for c in (0, 1):
        idx, x = wit[c]
        y = v.copy()
        y[idx] = x
        assert y[c] != v[c] and hidden[idx].all() and (y >= 0).all() and (y == np.round(y)).all()
        assert all(sg @ y[m] == 0 for m, sg in sets)
    assert R._unproven(v, small, hidden, sets, wit).tolist() == []


def test_unproven_refuses_a_solution_that_breaks_an_equation():
    # a forged "solution" for b (b = 3) that ignores 11 = a + b + c: not a solution, b unproven
    v = np.array([1.0, 2.0, 8.0, 11.0])
    sets = [(np.arange(4), np.array([1.0, 1, 1, -1]))]
    small = (v > 0) & (v < 5)
    hidden = small.copy()
    assert R._unproven(v, small, hidden, sets, {1: (np.array([1]), np.array([3.0])),
                                                0: (np.array([0, 1]), np.array([2.0, 1.0]))}).tolist() == [1]
    # a solution that moves a visible cell is no solution of what is published either
    assert R._unproven(v, small, hidden, sets, {0: (np.array([0, 2]), np.array([2.0, 7.0])),
                                                1: (np.array([0, 1]), np.array([2.0, 1.0]))}).tolist() == [0]


def test_a_long_margin_does_not_hold_back_hiding_near_its_other_determined_counts():
    # three municipalities' small counts t1..t3 (hidden, each determined) sit in a margin over every
    # municipality (15 cells) and each in a short equation t + a = b of its own. The cheapest cell
    # near t1 is a1, which is in the margin too. One round hides a cell near each of them: waiting
    # for the next audit because a1 shares the margin with t2 and t3 (the old rule) cost one round
    # per municipality in the national release (120 rounds); a1 cannot free t2 or t3.
    t, a, b = [0, 1, 2], [3, 4, 5], [6, 7, 8]
    x, total = list(range(9, 17)), 17
    v = np.zeros(18)
    v[t], v[a], v[b], v[x] = 2.0, 6.0, 8.0, 10.0
    v[total] = v[t + a + x].sum()
    sets = [(np.array([t[i], a[i], b[i]]), np.array([1.0, 1, -1])) for i in range(3)]
    sets.append((np.array(t + a + x + [total]), np.r_[np.ones(14), -1.0]))
    assert all(sg @ v[m] == 0 for m, sg in sets)
    hidden = np.zeros(18, dtype=bool)
    hidden[t] = True
    assert R._hide_around(np.array(t), v, hidden, sets, np.zeros(18))
    assert hidden[a].all() and not hidden[b + x + [total]].any()
    # in a short equation the rule still waits: t1 + a1 = b1 and t1 + t2 + a1 = total (four cells);
    # a1, hidden for t1, may free t2 too, so t2 waits for the next audit
    v2 = np.array([2.0, 2.0, 6.0, 8.0, 10.0])                  # t1 t2 a1 b1 total
    sets2 = [(np.array([0, 2, 3]), np.array([1.0, 1, -1])), (np.array([0, 1, 2, 4]), np.array([1.0, 1, 1, -1]))]
    h2 = np.array([True, True, False, False, False])
    R._hide_around(np.array([0, 1]), v2, h2, sets2, np.zeros(5))
    assert h2.tolist() == [True, True, True, False, False]


def test_joint_protection_hides_others_when_own_is_hidden():
    # the region and its two municipalities, each with a table by sex; the region's women
    # = Σ the municipalities' women (a margin across files). Per table, A's women (3) would be
    # protected by hiding A's men; jointly, the region's women minus B's women would give 3.
    a = profile([("male", 40), ("female", 3), (TOTAL, 43)])
    b = profile([("male", 50), ("female", 30), (TOTAL, 80)])
    reg = profile([("male", 90), ("female", 33), (TOTAL, 123)])
    tables = [T(R.REGION, "p", reg), T("A", "p", a), T("B", "p", b)]
    jp = R.protect_jointly(tables)
    hid = {(t.unit, str(r)): bool(jp.hidden[g][i]) for t, g in zip(tables, jp.table_cells)
           for i, r in enumerate(t.raw["sex"])}
    assert hid[("A", "female")]
    # recomputed by hand: the women of the region or of B must be hidden too, or the region's men
    # with A's total... the audit's own verdict is checked independently: nothing is determined
    v, sets = jp.values, jp.sets
    assert R.audit(v, jp.primary, jp.hidden, sets).size == 0
    assert hid[("B", "female")] or hid[(R.REGION, "female")]


def test_per_table_protection_alone_leaks_the_same_case():
    from asi_lib.publish import publish

    a = profile([("male", 40), ("female", 3), (TOTAL, 43)])
    b = profile([("male", 50), ("female", 30), (TOTAL, 80)])
    reg = profile([("male", 90), ("female", 33), (TOTAL, 123)])
    pa, pb, pr = (publish(x, labels=False) for x in (a, b, reg))
    # per table, B and the region show every women count: 33 − 30 = 3 = A's hidden women
    assert pb["n"].tolist()[1] == "30" and pr["n"].tolist()[1] == "33" and pa["n"].tolist()[1] == "<5"


def test_margins_only_where_they_hold():
    # a client counted in two municipalities: region 10 ≠ 6 + 5, no margin equation is assumed
    a = profile([("male", 6), (TOTAL, 6)])
    b = profile([("male", 5), (TOTAL, 5)])
    reg = profile([("male", 10), (TOTAL, 10)])
    jp = R.protect_jointly([T(R.REGION, "p", reg), T("A", "p", a), T("B", "p", b)])
    for m, sg in jp.sets:
        assert np.isclose(sg @ jp.values[m], 0.0)


# --------------------------------------------------------------------------- a release of the demo region
@pytest.fixture(scope="module")
def demo():
    return read_dataset("demo", n_clients=600)


@pytest.fixture(scope="module")
def rel(demo, tmp_path_factory):
    built = R.build_release(demo)
    path = R.write_release(built, tmp_path_factory.mktemp("rel") / "release")
    return R.load_release(path), built


def _counts(frame):
    heads = [c for c in frame.columns if c.startswith("Antal") or c in (
        "Uppföljningar", "Grundintervjuer", "Förbättrade", "Oförändrade", "Försämrade")]
    vals = frame[heads].to_numpy().ravel().astype(str)
    return [v for v in vals if v not in ("..", "–", "")]


def test_reference_date_is_the_latest_interview_in_the_store(rel, demo):
    loaded, _ = rel
    latest = max(demo.grund["interview_date"].max(), demo.uppfoljning["interview_date"].max())
    assert loaded.reference_date == str(pd.Timestamp(latest).date())
    # the same date on every table of every unit
    dates = {t.attrs["asi"].get("reference_date") for tabs in loaded.published.values() for t in tabs.values()}
    assert dates == {loaded.reference_date}


def test_no_visible_count_from_1_to_4_anywhere(rel):
    loaded, _ = rel
    checked = 0
    for unit, tabs in loaded.published.items():
        for title, frame in tabs.items():
            for v in _counts(frame):
                n = int(v.replace("\u2009", "").replace(" ", "").replace("\u00a0", ""))
                assert not 0 < n < 5, (unit, title, v)
                checked += 1
    assert checked > 1000


def test_one_marker_for_every_suppressed_count(rel):
    loaded, _ = rel
    text = json.dumps({u: {k: v.to_numpy().tolist() for k, v in t.items()} for u, t in loaded.published.items()},
                      ensure_ascii=False)
    assert "<5" not in text


def test_client_count_is_the_same_wherever_it_appears(rel):
    loaded, _ = rel
    for m in loaded.municipalities:
        shown, _ = loaded.client_count(m)
        overview = loaded.tables(m)["Materialet i korthet"]
        assert overview.iloc[0, 1] == shown, m
        region_row = loaded.tables(None)["Problem per kommun"]
        own = region_row[region_row.iloc[:, 0] == m]
        tiny = bool(loaded.client_counts().set_index("municipality").loc[m, "tendency"])
        # under ten clients a municipality shows only the overview, and the region's tables by
        # municipality leave it out too (docs/methods/protection.md, step 9)
        assert set(own["Antal klienter"]) == (set() if tiny else {shown}), m


def test_no_rci_rows_are_not_zero(rel):
    loaded, _ = rel
    ch = loaded.tables(None)["Förändring per område"]
    ratings = ch[ch["Mått"].str.contains("Intervjuarskattning")]
    assert len(ratings) and set(ratings["Förbättrade"]) == {"–"}


def test_roundtrip_and_a_changed_file_is_refused(rel, tmp_path):
    _, built = rel
    path = R.write_release(built, tmp_path / "r")
    again = R.load_release(path)
    assert again.manifest["reference_date"] == built.manifest["reference_date"]
    t = again.tables("Älvstad")["Problem per kön"]
    assert t.equals(built.published["Älvstad"]["Problem per kön"].astype(str))
    # a byte changed after the release was written: refused, not shown
    p = path / "tables.parquet"
    p.write_bytes(p.read_bytes()[:-10] + b"0" * 10)
    with pytest.raises(AsiInputError, match="stämmer inte"):
        R.load_release(path)
    with pytest.raises(AsiInputError, match="ingen utgåva"):
        R.load_release(tmp_path / "nothing")


def test_manifest_says_what_it_was_built_from(rel):
    loaded, _ = rel
    m = loaded.manifest
    assert m["format"] == R.RELEASE_FORMAT and m["parameters"]["min_cell"] == 5
    assert len(m["store_fingerprint"]) == 16 and len(m["codebook_fingerprint"]) == 16
    assert m["protection"]["cells"] > 0 and m["rci_reference"]
    assert {u["name"] for u in m["units"] if u["unit"] != R.REGION} == set(loaded.municipalities)


def test_unknown_municipality_is_refused(rel):
    loaded, _ = rel
    with pytest.raises(AsiInputError, match="okänd kommun 'Atlantis'"):
        loaded.tables("Atlantis")


def test_a_report_reads_its_own_unit_and_the_region_only(rel, tmp_path):
    _, built = rel
    path = R.write_release(built, tmp_path / "r")
    part = R.load_release(path, units=R.units_for("Fjällbo"))
    assert list(part.published) == [R.REGION, "Fjällbo"]
    assert part.tables("Fjällbo")["Materialet i korthet"].equals(
        built.published["Fjällbo"]["Materialet i korthet"].astype(str))
    # the manifest stays whole: every municipality's published count, the same as a full read
    assert part.client_counts().equals(R.load_release(path).client_counts())
    with pytest.raises(AsiInputError, match="lästes inte in"):
        part.tables("Älvstad")
    with pytest.raises(AsiInputError, match="okänd kommun 'Atlantis'"):
        part.tables("Atlantis")


def test_cli_builds_a_release(tmp_path, demo):
    from asi_lib.cli import main
    from asi_lib.demo import build_demo_store

    store = build_demo_store(tmp_path / "demo", n_clients=300, quiet=True)["store"]
    assert main(["release", "--store", str(store), "--out", str(tmp_path / "rel")]) == 0
    assert (tmp_path / "rel" / "manifest.json").exists()
    assert main(["release", "--store", str(tmp_path / "nope"), "--out", str(tmp_path / "rel2")]) == 2
