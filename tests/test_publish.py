"""publish.py: no published table may show 0 < n < min_cell, directly or derived."""
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from asi_lib.errors import AsiInputError
from asi_lib.publish import HIDDEN, TOTAL, publish


def _num(s: str) -> float | None:
    """Parse a published count: None when hidden."""
    if s in (HIDDEN,) or s.startswith("<"):
        return None
    return float(s.replace("\u2009", "").replace(",", ".").replace("−", "-"))


def test_primary_marker_and_stats_hidden():
    raw = pd.DataFrame({"sex": ["male", "female", TOTAL], "n": [40, 3, 43],
                        "mean": [0.41, 0.52, 0.418], "p_value": [0.2, 0.3, np.nan]})
    raw.attrs["asi"] = {"group_cols": ["sex"], "additive": True}
    out = publish(raw, labels=False)
    assert out["n"].tolist() == ["..", "<5", "43"]          # 40 hidden too: 43 − 40 = 3
    assert out["mean"].tolist()[:2] == ["..", ".."]
    assert out["mean"].iloc[2] == "0,42"
    assert out.attrs["asi"]["suppressed_primary"] == 1
    assert out.attrs["asi"]["suppressed_secondary"] == 1
    assert out.attrs["asi"]["min_cell"] == 5


def test_marker_follows_min_cell_and_zero_is_shown():
    raw = pd.DataFrame({"g": ["a", "b"], "n": [0, 7], "mean": [np.nan, 1.0]})
    out = publish(raw, min_cell=10, labels=False)
    assert out["n"].tolist() == ["0", "<10"]
    assert out["mean"].tolist() == ["–", ".."]


def test_complement_k_hides_share():
    raw = pd.DataFrame({"g": ["a", "b"], "n": [20, 20], "k": [18, 10], "share": [0.9, 0.5],
                        "ci_low": [0.7, 0.3], "ci_high": [0.97, 0.7]})
    out = publish(raw, labels=False)
    assert out.loc[0, "k"] == HIDDEN and out.loc[0, "share"] == HIDDEN and out.loc[0, "ci_low"] == HIDDEN
    assert out.loc[0, "n"] == "20"
    assert out.loc[1, "share"] == "50 %" and out.loc[1, "ci_low"] == "30 %"


def test_soft_missing_count():
    raw = pd.DataFrame({"measure": ["rating_alcohol", "rating_drugs"], "n": [20, 20],
                        "n_missing": [3, 17], "mean": [4.25, 3.0]})
    out = publish(raw, labels=False)
    assert out["n_missing"].tolist() == ["<5", ".."]
    assert out.loc[0, "mean"] == "4,2" or out.loc[0, "mean"] == "4,3"
    assert out.loc[1, "mean"] == HIDDEN       # only 3 valid values behind it


def test_tendency_flag_and_no_p_value():
    raw = pd.DataFrame({"g": ["a", "b"], "n": [8, 30], "mean": [1.0, 2.0], "p_value": [0.01, 0.0004]})
    out = publish(raw, labels=False)
    assert out.loc[0, "tendens"].startswith("Endast tendenser")
    assert out.loc[0, "p_value"] == "–" and out.loc[0, "mean"] == "1,00"
    assert out.loc[1, "p_value"] == "<0,001" and out.loc[1, "tendens"] == ""


def test_labels_sv_and_en():
    raw = pd.DataFrame({"sex": ["female", TOTAL], "measure": ["composite_alcohol", "rating_drugs"],
                        "n": [50, 60], "mean": [0.5, 5.0]})
    raw.attrs["asi"] = {"group_cols": ["sex"], "unit": "klienter"}
    sv = publish(raw)
    assert list(sv.columns[:3]) == ["Kön", "Mått", "Antal klienter"]
    assert sv.iloc[:, 0].tolist() == ["Kvinna", "Totalt"]
    assert sv.iloc[0, 1] == "Sammanvägt index: Alkohol"
    en = publish(raw, lang="en")
    assert en.iloc[:, 0].tolist() == ["Female", "Total"]
    assert list(en.columns[:3]) == ["Sex", "Measure", "Clients"]
    assert en.attrs["asi"]["unit"] == "klienter"


def test_category_labels_per_variable():
    raw = pd.DataFrame({"variable": ["sex", "main_substance"], "category": ["male", "alcohol"],
                        "n": [30, 30], "k": [15, 15]})
    out = publish(raw)
    assert out.iloc[:, 1].tolist() == ["Man", "Alkohol"]


def test_refuses_identifiers_and_tables_without_counts():
    with pytest.raises(AsiInputError):
        publish(pd.DataFrame({"client_pid": ["x"], "n": [10]}))
    with pytest.raises(AsiInputError):
        publish(pd.DataFrame({"g": ["a"], "mean": [1.0]}))


def test_row_sums_declared():
    raw = pd.DataFrame({"g": ["a"], "n_pairs": [30], "n_improved": [20], "n_unchanged": [7], "n_worse": [3]})
    raw.attrs["asi"] = {"row_sums": {"n_pairs": ["n_improved", "n_unchanged", "n_worse"]}}
    out = publish(raw, labels=False)
    assert out.loc[0, "n_worse"] == "<5" and out.loc[0, "n_unchanged"] == HIDDEN
    assert out.loc[0, "n_pairs"] == "30"


# --------------------------------------------------------------------------- property
def _two_way(counts: np.ndarray) -> pd.DataFrame:
    """groups × categories table in category-profile format, with a total group."""
    g, c = counts.shape
    groups = [f"g{i}" for i in range(g)] + [TOTAL]
    full = np.vstack([counts, counts.sum(axis=0)])
    rows = [{"group": groups[i], "category": f"c{j}", "n": int(full[i].sum()), "k": int(full[i, j])}
            for i in range(g + 1) for j in range(c)]
    df = pd.DataFrame(rows)
    df["share"] = df["k"] / df["n"].where(df["n"] > 0)
    df.attrs["asi"] = {"group_cols": ["group"], "additive": True, "category_col": "category"}
    return df


def _derivable(hidden_idx, equations, values):
    """Hidden unknowns uniquely fixed by the linear equations (rank test).

    e_i is in the row space of A_h iff appending it does not raise the rank.
    """
    if not hidden_idx:
        return []
    pos = {h: j for j, h in enumerate(hidden_idx)}
    rows = []
    for eq in equations:
        r = np.zeros(len(hidden_idx))
        for cell, coef in eq:
            if cell in pos:
                r[pos[cell]] += coef
        if r.any():
            rows.append(r)
    if not rows:
        return []
    A = np.array(rows)
    rank = np.linalg.matrix_rank(A)
    out = []
    for h, j in pos.items():
        e = np.zeros(len(hidden_idx))
        e[j] = 1
        if np.linalg.matrix_rank(np.vstack([A, e])) == rank and values[h] > 0:
            out.append(h)
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(1, 5).flatmap(lambda g: st.integers(2, 4).flatmap(
    lambda c: st.lists(st.lists(st.sampled_from([0, 1, 2, 3, 4, 5, 6, 8, 12, 20, 40]), min_size=c, max_size=c),
                       min_size=g, max_size=g))))
def test_no_small_count_visible_or_derivable(table):
    counts = np.array(table)
    raw = _two_way(counts)
    out = publish(raw, labels=False)
    g, c = counts.shape
    # cells: ("k", group i, cat j) and ("n", group i); i == g is the total group
    values, shown = {}, {}
    for r in range(len(raw)):
        i, j = divmod(r, c)
        values[("k", i, j)] = raw.loc[r, "k"]
        values[("n", i)] = raw.loc[r, "n"]
        shown[("k", i, j)] = _num(out.loc[r, "k"])
        shown.setdefault(("n", i), set()).add(out.loc[r, "n"])
    for key in [k for k in shown if k[0] == "n"]:
        assert len(shown[key]) == 1            # the same n shown the same way on each row
        shown[key] = _num(shown[key].pop())
    # 1) no visible count in (0, 5); visible counts are the true ones
    for key, v in shown.items():
        if v is not None:
            assert not (0 < v < 5)
            assert v == values[key]
    # 2) nothing hidden can be derived from the additive structure
    eqs = []
    for i in range(g + 1):                       # categories add up to the group's n
        eqs.append([(("k", i, j), 1) for j in range(c)] + [(("n", i), -1)])
    for j in range(c):                           # groups add up to the total, per category
        eqs.append([(("k", i, j), 1) for i in range(g)] + [(("k", g, j), -1)])
    eqs.append([(("n", i), 1) for i in range(g)] + [(("n", g), -1)])
    hidden = [k for k, v in shown.items() if v is None]
    assert _derivable(hidden, eqs, values) == []
    # 3) shares of hidden k are hidden
    assert (out.loc[out["k"].isin(["<5", HIDDEN]), "share"] == HIDDEN).all()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 30), min_size=2, max_size=12))
def test_one_way_groups_with_total(ns):
    raw = pd.DataFrame({"municipality": [f"m{i}" for i in range(len(ns))] + [TOTAL],
                        "n": ns + [sum(ns)], "mean": np.linspace(0.1, 0.9, len(ns) + 1)})
    raw.attrs["asi"] = {"group_cols": ["municipality"], "additive": True}
    out = publish(raw, labels=False)
    vis = [_num(x) for x in out["n"]]
    assert all(v is None or not (0 < v < 5) for v in vis)
    hidden = [i for i, v in enumerate(vis) if v is None]
    assert len(hidden) != 1                       # one hidden = total − visible parts
    if hidden:
        assert all(out.loc[i, "mean"] == HIDDEN for i in hidden)


def test_a_share_named_after_a_hidden_count_is_hidden_too():
    # 4 of 444 interviews lack a rating: "<5" beside "0,9 %" would say 4
    raw = pd.DataFrame({"area": ["medical", "alcohol"], "n": [444, 444],
                        "rating_missing_n": [4, 7], "rating_missing_share": [4 / 444, 7 / 444],
                        "n_worse": [2, 9], "share_worse": [2 / 444, 9 / 444]})
    raw.attrs["asi"] = {"group_cols": ["area"], "additive": False}
    out = publish(raw, labels=False)
    assert out["rating_missing_n"].tolist() == ["<5", "7"]
    assert out["rating_missing_share"].tolist()[0] == HIDDEN and out["rating_missing_share"].tolist()[1] != HIDDEN
    assert out["share_worse"].tolist()[0] == HIDDEN and out["share_worse"].tolist()[1] != HIDDEN


def test_tendency_rests_on_the_declared_counts():
    raw = pd.DataFrame({"period": ["2024 H1", "2024 H2"], "n": [80, 8], "k": [71, 6],
                        "n_bortfall": [9, 2], "share": [71 / 80, 6 / 8]})
    raw.attrs["asi"] = {"group_cols": [], "key_cols": ["period"], "row_sums": {"n": ["k", "n_bortfall"]}}
    by_default = publish(raw, labels=False)["tendens"].tolist()
    assert by_default[0] != ""            # 9 bortfall records beside 80 made the row a "tendency"
    raw.attrs["asi"]["tendency_cols"] = ["n"]
    declared = publish(raw, labels=False)["tendens"].tolist()
    assert declared[0] == "" and declared[1].startswith("Endast tendenser")
