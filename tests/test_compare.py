"""compare.py against Welch written out, scipy and statsmodels."""
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as st
from statsmodels.stats.multitest import multipletests

from asi_lib import compare, groups
from asi_lib.codebook import numeric
from asi_lib.datasets import read_dataset
from asi_lib.publish import publish


@pytest.fixture(scope="module")
def demo():
    return read_dataset("demo")


def _frame(a, b, col="rating_alcohol"):
    n = len(a) + len(b)
    return pd.DataFrame({
        "client_pid": [f"c{i}" for i in range(n)],
        "interview_date": pd.to_datetime(["2024-01-01"] * n),
        "municipality": ["A"] * len(a) + ["B"] * len(b),
        "sex": ["female", "male"] * (n // 2) + ["male"] * (n % 2),
        "age": [30] * n, "main_substance": ["alcohol"] * n,
        col: pd.array(list(a) + list(b), dtype="Int16"),
    })


def test_welch_written_out():
    a = [5, 6, 7, 5, 9, 8, 6, 7, 5, 4, 6, 8]
    b = [3, 4, 2, 5, 4, 3, 6, 2, 3, 4, 5, 1, 2, 4, 3]
    r = compare.compare_one_vs_rest(_frame(a, b), unit="A", measures=["rating_alcohol"]).iloc[0]
    ma, mb = np.mean(a), np.mean(b)
    va, vb = np.var(a, ddof=1) / len(a), np.var(b, ddof=1) / len(b)
    se = math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))
    t = (ma - mb) / se
    p = 2 * st.t.sf(abs(t), df)
    q = st.t.ppf(0.975, df)
    assert r["diff"] == pytest.approx(ma - mb)
    assert r["p_value"] == pytest.approx(p)
    assert r["p_value"] == pytest.approx(st.ttest_ind(a, b, equal_var=False).pvalue)
    assert r["diff_ci_low"] == pytest.approx(ma - mb - q * se)
    sp = math.sqrt(((len(a) - 1) * np.var(a, ddof=1) + (len(b) - 1) * np.var(b, ddof=1)) / (len(a) + len(b) - 2))
    assert r["hedges_g"] == pytest.approx((ma - mb) / sp * (1 - 3 / (4 * (len(a) + len(b)) - 9)))
    assert r["mean_region"] == pytest.approx(np.mean(a + b))
    assert (r["n_unit"], r["n_rest"]) == (12, 15)
    assert r["share_alcohol_unit"] == 1.0


def test_mann_whitney_option():
    a = [5, 6, 7, 5, 9, 8, 6, 7, 5, 4, 6, 8]
    b = [3, 4, 2, 5, 4, 3, 6, 2, 3, 4, 5, 1]
    r = compare.compare_one_vs_rest(_frame(a, b), unit="A", measures=["rating_alcohol"], test="mannwhitney")
    assert r.loc[0, "p_value"] == pytest.approx(st.mannwhitneyu(a, b, alternative="two-sided").pvalue)


def test_no_p_value_under_ten():
    a = [5, 6, 7, 5, 9, 8, 6, 7, 5]           # 9 clients
    b = list(range(20))[:20]
    b = [x % 10 for x in b]
    r = compare.compare_one_vs_rest(_frame(a, b), unit="A", measures=["rating_alcohol"])
    assert np.isnan(r.loc[0, "p_value"]) and bool(r.loc[0, "tendency"])
    assert not np.isnan(r.loc[0, "diff"])


def test_demo_one_vs_rest_and_bh(demo):
    r = compare.compare_one_vs_rest(demo, unit="Granåker")
    latest = groups.latest_grund(demo.grund)
    from asi_lib.scores import add_scores
    latest = add_scores(latest)
    unit = (latest["municipality"] == "Granåker").to_numpy()
    for m in ("rating_alcohol", "composite_drugs"):
        v = numeric(latest[m])
        x, y = v[unit], v[~unit]
        x, y = x[~np.isnan(x)], y[~np.isnan(y)]
        row = r[r["measure"] == m].iloc[0]
        assert row["p_value"] == pytest.approx(st.ttest_ind(x, y, equal_var=False).pvalue)
        assert row["n_unit"] == len(x)
    ok = r["p_value"].notna().to_numpy()
    np.testing.assert_allclose(r.loc[ok, "p_adj"], multipletests(r.loc[ok, "p_value"], method="fdr_bh")[1])
    women = (latest.loc[unit, "sex"].astype(str) == "female").mean()
    assert r["share_women_unit"].iloc[0] == pytest.approx(women)
    out = publish(r)
    assert out.attrs["asi"]["compared"]["unit"] == "Granåker"


def test_tiny_unit_published_hidden(demo):
    sizes = groups.latest_grund(demo.grund)["municipality"].value_counts()
    tiny = sizes[sizes < 5].index[0]
    r = compare.compare_one_vs_rest(demo, unit=tiny)
    assert r["p_value"].isna().all()
    out = publish(r, labels=False)
    assert (out["n_unit"] == "<5").all() | (out["n_unit"] == "0").any()
    assert (out.loc[out["n_unit"] == "<5", "mean_unit"] == "..").all()


def test_compare_groups_omnibus(demo):
    r = compare.compare_groups(demo, "age_band", ["composite_alcohol"])
    latest = groups.latest_grund(demo.grund)
    from asi_lib.scores import add_scores
    latest = add_scores(latest)
    bands = groups.age_bands(latest["age"]).astype("string")
    v = latest["composite_alcohol"].to_numpy(dtype=float)
    samples = [v[(bands == b).fillna(False).to_numpy() & ~np.isnan(v)] for b in sorted(bands.dropna().unique())]
    samples = [s for s in samples if len(s) >= 10]
    omni = r[r["comparison"] == "alla grupper"].iloc[0]
    assert omni["p_kruskal"] == pytest.approx(st.kruskal(*samples).pvalue)
    assert omni["p_anova"] == pytest.approx(st.f_oneway(*samples).pvalue)
    assert (r["comparison"] != "alla grupper").sum() == 15          # 6 bands → 15 pairs
    ovr = compare.compare_groups(demo, "sex", ["rating_alcohol"], method="one_vs_rest")
    assert set(ovr["group"]) == {"female", "male"}


def test_compare_groups_one_vs_rest_is_labelled_like_its_grouping():
    from asi_lib.datasets import read_dataset
    from asi_lib.publish import publish
    ds = read_dataset("demo")
    pub = publish(compare.compare_groups(ds.grund, "sex", ["composite_alcohol"], method="one_vs_rest"), min_cell=5)
    assert list(pub.columns[:3]) == ["Kön", "Mått", "Antal klienter (gruppen)"]
    assert pub["Kön"].tolist() == ["Kvinna", "Man"]
    om = publish(compare.compare_groups(ds.grund, "sex", ["composite_alcohol"]), min_cell=5)
    assert om.loc[0, "Antal grupper i testet"] == "2" and om.loc[1, "Jämförelse"] == "Kvinna mot Man"
