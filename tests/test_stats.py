"""stats.py against independent computations (statsmodels, scipy, hand-worked)."""
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as st
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint

from asi_lib import stats


def test_wilson_hand_worked():
    # k=5, n=20, z=1.959964: centre=(0.25+z²/40)/(1+z²/20), half=z*sqrt(.25*.75/20+z²/1600)/(1+z²/20)
    z = 1.959963984540054
    den = 1 + z * z / 20
    centre = (0.25 + z * z / 40) / den
    half = z * math.sqrt(0.25 * 0.75 / 20 + z * z / 1600) / den
    low, high = stats.wilson_ci(5, 20)
    assert low == pytest.approx(centre - half, abs=1e-12)
    assert high == pytest.approx(centre + half, abs=1e-12)
    assert low == pytest.approx(0.1119, abs=1e-4)
    assert high == pytest.approx(0.4687, abs=1e-4)


def test_wilson_vectorised_matches_statsmodels():
    k = np.array([0, 1, 3, 10, 47, 100])
    n = np.array([10, 10, 7, 10, 150, 100])
    for alpha in (0.05, 0.1):
        low, high = stats.wilson_ci(k, n, alpha=alpha)
        ref_low, ref_high = proportion_confint(k, n, alpha=alpha, method="wilson")
        np.testing.assert_allclose(low, ref_low, atol=1e-12)
        np.testing.assert_allclose(high, ref_high, atol=1e-12)


def test_wilson_zero_n_is_nan():
    low, high = stats.wilson_ci([0, 2], [0, 4])
    assert np.isnan(low[0]) and np.isnan(high[0])
    assert not np.isnan(low[1])


def test_mean_ci_against_scipy_interval():
    rng = np.random.default_rng(1)
    x = rng.normal(3, 2, size=17)
    ref = st.t.interval(0.95, len(x) - 1, loc=x.mean(), scale=st.sem(x))
    low, high = stats.mean_ci(x.mean(), x.std(ddof=1), len(x))
    assert low == pytest.approx(ref[0], rel=1e-12)
    assert high == pytest.approx(ref[1], rel=1e-12)
    # hand-worked: mean 10, sd 2, n 4 → t(0.975, 3)=3.182446 → ±3.182446
    low, high = stats.mean_ci(10, 2, 4)
    assert low == pytest.approx(10 - 3.182446305, abs=1e-6)
    lo, hi = stats.mean_ci([1.0, 1.0], [1.0, 1.0], [1, 0])
    assert np.isnan(lo).all() and np.isnan(hi).all()


def test_smd_pooled_and_hedges():
    a = np.array([2.0, 4, 4, 5, 7, 9])
    b = np.array([1.0, 2, 2, 3, 6])
    sp = math.sqrt(((len(a) - 1) * a.var(ddof=1) + (len(b) - 1) * b.var(ddof=1)) / (len(a) + len(b) - 2))
    d = (a.mean() - b.mean()) / sp
    got = stats.smd(a.mean(), a.std(ddof=1), len(a), b.mean(), b.std(ddof=1), len(b))
    assert got == pytest.approx(d, rel=1e-12)
    g = stats.hedges_g(a.mean(), a.std(ddof=1), len(a), b.mean(), b.std(ddof=1), len(b))
    assert g == pytest.approx(d * (1 - 3 / (4 * 11 - 9)), rel=1e-12)
    assert np.isnan(stats.smd(1, 0, 3, 1, 0, 3))


def test_smd_proportion_hand_worked():
    # (0.5-0.3)/sqrt((0.25+0.21)/2) = 0.2/sqrt(0.23)
    assert stats.smd_proportion(0.5, 0.3) == pytest.approx(0.2 / math.sqrt(0.23))
    assert np.isnan(stats.smd_proportion(0.0, 0.0))


def test_welch_against_scipy_ttest():
    rng = np.random.default_rng(7)
    a = rng.normal(0.4, 0.2, 23)
    b = rng.normal(0.3, 0.3, 61)
    ref = st.ttest_ind(a, b, equal_var=False)
    r = stats.welch(a.mean(), a.std(ddof=1), len(a), b.mean(), b.std(ddof=1), len(b))
    assert r["t"] == pytest.approx(ref.statistic, rel=1e-10)
    assert r["p_value"] == pytest.approx(ref.pvalue, rel=1e-10)
    ci = ref.confidence_interval(0.95)
    assert r["ci_low"] == pytest.approx(ci.low, rel=1e-10)
    assert r["ci_high"] == pytest.approx(ci.high, rel=1e-10)
    # Welch–Satterthwaite written out
    v1, v2 = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    df = (v1 + v2) ** 2 / (v1 ** 2 / (len(a) - 1) + v2 ** 2 / (len(b) - 1))
    assert r["df"] == pytest.approx(df, rel=1e-12)


def test_welch_small_group_nan():
    r = stats.welch([1.0, 2.0], [1.0, 1.0], [1, 5], [0.0, 0.0], [1.0, 1.0], [5, 5])
    assert np.isnan(r["p_value"][0]) and not np.isnan(r["p_value"][1])


def test_bh_adjust_nan_safe():
    p = np.array([0.01, np.nan, 0.04, 0.03, 0.2])
    q = stats.bh_adjust(p)
    ref = multipletests([0.01, 0.04, 0.03, 0.2], method="fdr_bh")[1]
    assert np.isnan(q[1])
    np.testing.assert_allclose(q[[0, 2, 3, 4]], ref)
    # hand-worked: m=4; sorted .01,.03,.04,.2 → .04,.06,.0533,.2 → cummin from top: .04,.0533,.0533,.2
    np.testing.assert_allclose(q[[0, 3, 2, 4]], [0.04, 0.16 / 3, 0.16 / 3, 0.2])
    assert np.isnan(stats.bh_adjust([np.nan, np.nan])).all()


def test_tendency_rows_get_no_confidence_interval():
    # issue 13: "Fjällbo gambling 0.00 (0.00–0.00)" from 7 clients: no CI on an "endast tendenser" row
    from asi_lib.publish import publish

    f = pd.DataFrame({"group": ["Fjällbo", "Stor"], "n": [7, 40], "mean": [0.0, 0.2], "ci_low": [0.0, 0.15],
                      "ci_high": [0.0, 0.25], "p_value": [0.5, 0.01]})
    f.attrs["asi"] = {"group_cols": ["group"], "unit": "klienter"}
    out = publish(f, labels=False).set_index("group")
    assert out.loc["Fjällbo", "ci_low"] == out.loc["Fjällbo", "ci_high"] == out.loc["Fjällbo", "p_value"]
    assert out.loc["Fjällbo", "ci_low"] not in ("0.00", "0,00")
    assert out.loc["Stor", "ci_low"] in ("0,15", "0.15")
    assert out.loc["Fjällbo", "tendens"] and not out.loc["Stor", "tendens"]
