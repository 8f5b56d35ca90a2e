"""Trends and period comparisons against scipy and formulas written out in the test."""
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as st

from asi_lib import trends
from asi_lib.errors import AsiInputError

Z = 1.959963984540054


def wilson(k, n):
    p = k / n
    c = (p + Z**2 / (2 * n)) / (1 + Z**2 / n)
    h = Z / (1 + Z**2 / n) * math.sqrt(p * (1 - p) / n + Z**2 / (4 * n**2))
    return c - h, c + h


def frame(dates, **cols):
    df = pd.DataFrame({"client_pid": [f"c{i}" for i in range(len(dates))],
                       "interview_date": pd.to_datetime(dates).astype("datetime64[us]")})
    for k, v in cols.items():
        df[k] = v
    return df


def test_trend_means_and_t_ci():
    a = [6, 4, 5, 7, 3]
    b = [2, 3, 2, 4]
    g = frame(["2023-03-01"] * 5 + ["2023-10-01"] * 4,
              rating_alcohol=pd.array(a + b, dtype="Int16"))
    t = trends.trend(g, "rating_alcohol", period="half")
    assert t["period"].tolist() == ["2023 H1", "2023 H2"]
    assert t["n"].tolist() == [5, 4]
    for vals, (_, row) in zip((a, b), t.iterrows()):
        m, s, n = np.mean(vals), np.std(vals, ddof=1), len(vals)
        half = st.t.ppf(0.975, n - 1) * s / math.sqrt(n)
        assert row["mean"] == pytest.approx(m)
        assert (row["ci_low"], row["ci_high"]) == pytest.approx((m - half, m + half))
    assert t["preliminary"].tolist() == [False, True]
    assert t["period_end"].iloc[0] == pd.Timestamp("2023-06-30")


def test_trend_share_x_is_missing_and_latest_per_client():
    # yes/no item: 3 of 12 yes; one X (-8) is missing, not "no"; c0 appears twice → latest row counts
    vals = [1, 1, 1] + [0] * 9 + [-8]
    g = frame(["2024-05-01"] * 13, psychiatric_contact=pd.array(vals, dtype="Int16"))
    g = pd.concat([g, g.iloc[[0]].assign(interview_date=pd.Timestamp("2024-01-01"))], ignore_index=True)
    t = trends.trend(g, "psychiatric_contact")
    row = t.iloc[0]
    assert row["kind"] == "share"
    assert (row["n"], row["k"], row["n_missing"]) == (12, 3, 1)
    assert row["share"] == pytest.approx(0.25)
    assert (row["ci_low"], row["ci_high"]) == pytest.approx(wilson(3, 12))
    every = trends.trend(g, "psychiatric_contact", selection="all").iloc[0]
    assert every["n"] == 13


def test_trend_category_level_and_by():
    g = frame(["2022-01-01"] * 4 + ["2023-01-01"] * 4,
              housing=pd.Categorical(["homeless", "own_home", "own_home", "own_home",
                                      "homeless", "homeless", "own_home", "own_home"]),
              sex=pd.Categorical(["male", "female"] * 4))
    t = trends.trend(g, "housing", level="homeless")
    assert t["share"].tolist() == [0.25, 0.5]
    assert "Hemlös" in t["label"].iloc[0]
    tb = trends.trend(g, "housing", level="homeless", by="sex")
    assert set(tb["sex"]) == {"male", "female"}
    with pytest.raises(AsiInputError):
        trends.trend(g, "housing")


def test_trend_on_pairs_is_change():
    pairs = pd.DataFrame({"client_pid": list("abcd"),
                          "baseline_date": pd.to_datetime(["2022-02-01", "2022-03-01", "2023-02-01", "2023-03-01"]),
                          "composite_alcohol_0": [0.6, 0.4, 0.5, 0.7], "composite_alcohol_1": [0.2, 0.3, 0.5, 0.1]})
    t = trends.trend(pairs, "composite_alcohol")
    assert t["mean"].tolist() == pytest.approx([(-0.4 - 0.1) / 2, (0.0 - 0.6) / 2])
    assert t["label"].iloc[0].startswith("Förändring")


def test_compare_periods_welch_against_scipy():
    rng = np.random.default_rng(7)
    a = rng.integers(0, 10, 25)
    b = rng.integers(2, 10, 30)
    g = frame(["2023-05-01"] * 25 + ["2024-05-01"] * 30, rating_drugs=pd.array(np.r_[a, b], dtype="Int16"))
    r = trends.compare_periods(g, "rating_drugs", ("2023-01-01", "2023-12-31"), ("2024-01-01", "2024-12-31"))
    row = r.iloc[0]
    ref = st.ttest_ind(b, a, equal_var=False)
    assert row["p_value"] == pytest.approx(ref.pvalue)
    assert row["diff"] == pytest.approx(b.mean() - a.mean())
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    se = math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    q = st.t.ppf(0.975, df)
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((row["diff"] - q * se, row["diff"] + q * se))
    # Hedges' g written out
    sp = math.sqrt(((len(a) - 1) * a.var(ddof=1) + (len(b) - 1) * b.var(ddof=1)) / (len(a) + len(b) - 2))
    g_ = (b.mean() - a.mean()) / sp * (1 - 3 / (4 * (len(a) + len(b)) - 9))
    assert row["effect_size"] == pytest.approx(g_)
    assert row["test"] == "welch" and (row["n_a"], row["n_b"]) == (25, 30)
    mw = trends.compare_periods(g, "rating_drugs", ("2023-01-01", "2023-12-31"), ("2024-01-01", "2024-12-31"),
                                test="mannwhitney").iloc[0]
    assert mw["p_value"] == pytest.approx(st.mannwhitneyu(b, a, alternative="two-sided").pvalue)


def test_compare_periods_shares_newcombe_published_example():
    # Newcombe (1998) example: 56/70 − 48/80 = 0.2000, hybrid score (method 10) CI 0.0524 to 0.3339
    yes = [1] * 48 + [0] * 32 + [1] * 56 + [0] * 14
    g = frame(["2023-05-01"] * 80 + ["2024-05-01"] * 70, psychiatric_contact=pd.array(yes, dtype="Int16"))
    r = trends.compare_periods(g, "psychiatric_contact", ("2023-01-01", "2023-12-31"),
                               ("2024-01-01", "2024-12-31")).iloc[0]
    assert r["diff"] == pytest.approx(0.2)
    assert (r["ci_low"], r["ci_high"]) == pytest.approx((0.0524, 0.3339), abs=5e-5)
    # pooled two-proportion z-test written out
    p = (48 + 56) / 150
    z = 0.2 / math.sqrt(p * (1 - p) * (1 / 80 + 1 / 70))
    assert r["test"] == "z"
    assert r["p_value"] == pytest.approx(2 * st.norm.sf(z))
    assert r["effect_size"] == pytest.approx(0.2 / math.sqrt((0.8 * 0.2 + 0.6 * 0.4) / 2))


def test_compare_periods_fisher_when_expected_small():
    yes = [1] * 1 + [0] * 11 + [1] * 6 + [0] * 6
    g = frame(["2023-05-01"] * 12 + ["2024-05-01"] * 12, psychiatric_contact=pd.array(yes, dtype="Int16"))
    r = trends.compare_periods(g, "psychiatric_contact", ("2023-01-01", "2023-12-31"),
                               ("2024-01-01", "2024-12-31")).iloc[0]
    assert r["test"] == "fisher"
    assert r["p_value"] == pytest.approx(st.fisher_exact([[6, 6], [1, 11]]).pvalue)


def test_compare_periods_no_p_under_ten_and_bh():
    rng = np.random.default_rng(3)
    n = 40
    g = frame(["2023-05-01"] * n + ["2024-05-01"] * n,
              rating_alcohol=pd.array(np.r_[rng.integers(3, 9, n), rng.integers(0, 6, n)], dtype="Int16"),
              rating_drugs=pd.array(rng.integers(0, 9, 2 * n), dtype="Int16"),
              rating_legal=pd.array(rng.integers(0, 9, 2 * n), dtype="Int16"),
              unit=["A"] * (n - 5) + ["B"] * 5 + ["A"] * (n - 5) + ["B"] * 5)
    ms = ["rating_alcohol", "rating_drugs", "rating_legal"]
    r = trends.compare_periods(g, ms, ("2023-01-01", "2023-12-31"), ("2024-01-01", "2024-12-31"), by="unit")
    small = r.loc[r["unit"] == "B"]
    assert small["p_value"].isna().all() and small["p_adj"].isna().all()
    assert small["note"].str.contains("tendenser").all()
    big = r.loc[r["unit"] == "A"]
    p = big["p_value"].to_numpy()
    m = len(p)
    order = np.argsort(p)
    bh = np.empty(m)
    prev = 1.0
    for rank in range(m, 0, -1):  # BH written out
        i = order[rank - 1]
        prev = min(prev, p[i] * m / rank)
        bh[i] = prev
    assert big["p_adj"].to_numpy() == pytest.approx(bh)


def test_compare_periods_overlap_is_error():
    g = frame(["2023-05-01"] * 2, rating_drugs=pd.array([1, 2], dtype="Int16"))
    with pytest.raises(AsiInputError):
        trends.compare_periods(g, "rating_drugs", ("2023-01-01", "2023-12-31"), ("2023-06-01", "2024-12-31"))


@pytest.fixture(scope="module")
def demo():
    from asi_lib.datasets import read_dataset
    return read_dataset("demo")


def test_demo_trend_and_compare(demo):
    t = trends.trend(demo.grund, ["rating_alcohol", "rating_drugs"], period="year")
    assert t["preliminary"].sum() == 2 and (t["n"] > 0).all()
    years = sorted(t["period"].unique())
    a, b = years[0], years[-1]
    r = trends.compare_periods(demo.grund, ["rating_alcohol", "rating_drugs"], (f"{a}-01-01", f"{a}-12-31"),
                               (f"{b}-01-01", f"{b}-12-31"))
    assert len(r) == 2 and r["n"].gt(0).all()
    from asi_lib.followup import pair_followups
    p = pair_followups(demo)
    tc = trends.trend(p.pairs, "rating_alcohol", period="year")
    assert tc["label"].str.startswith("Förändring").all()
    assert tc.attrs["asi"]["bortfall_share"] == pytest.approx(p.bortfall_share())


def test_dataset_and_pairing_are_accepted(demo):
    from asi_lib.followup import pair_followups
    pd.testing.assert_frame_equal(trends.trend(demo, "rating_alcohol"), trends.trend(demo.grund, "rating_alcohol"))
    p = pair_followups(demo)
    pd.testing.assert_frame_equal(trends.trend(p, "rating_alcohol"), trends.trend(p.pairs, "rating_alcohol"))
    a, b = ("2020-01-01", "2020-12-31"), ("2024-01-01", "2024-12-31")
    pd.testing.assert_frame_equal(trends.compare_periods(demo, "rating_alcohol", a, b),
                                  trends.compare_periods(demo.grund, "rating_alcohol", a, b))
    with pytest.raises(AsiInputError):
        trends.trend([1, 2], "rating_alcohol")
