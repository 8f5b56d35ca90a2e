"""Precision and power against closed forms and the noncentral t written out."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as st

from asi_lib.power import ci_halfwidth, detectable_change, precision_table, required_n

Z975 = 1.959963984540054
Z80 = 0.8416212335729143


def paired_power(dz: float, n: int, alpha: float = 0.05) -> float:
    """Two-sided one-sample t power from the noncentral t (independent of statsmodels)."""
    df = n - 1
    tc = st.t.ppf(1 - alpha / 2, df)
    nc = dz * math.sqrt(n)
    return 1 - st.nct.cdf(tc, df, nc) + st.nct.cdf(-tc, df, nc)


@pytest.mark.parametrize("dz", [0.2, 0.3, 0.5, 0.8, 1.0])
def test_required_n_against_normal_approximation_with_t_correction(dz):
    approx = ((Z975 + Z80) / dz) ** 2 + Z975 ** 2 / 2  # Guenther (1981)
    n = required_n(dz=dz)
    assert abs(n - approx) <= 1.5
    # exact: n reaches 80 % power and n − 1 does not
    assert paired_power(dz, n) >= 0.8 > paired_power(dz, n - 1)


def test_required_n_hand_values():
    # dz 0.5: (2.8016/0.5)² = 31.40 + 1.92 = 33.3 → 34 pairs; change 0.05 with SD 0.2 is dz 0.25 → 128
    assert required_n(dz=0.5) == 34
    assert required_n(0.05, sd_diff=0.2) == 128
    assert required_n(-0.05, sd_diff=0.2) == 128


@pytest.mark.parametrize("n", [10, 25, 60, 400])
def test_detectable_change(n):
    change, dz = detectable_change(0.15, n)
    assert paired_power(dz, n) == pytest.approx(0.8, abs=1e-6)
    assert change == pytest.approx(dz * 0.15)
    approx = (Z975 + Z80) / math.sqrt(n - Z975 ** 2 / 2)
    assert dz == pytest.approx(approx, rel=0.03)


def test_ci_halfwidth_by_hand():
    # t(0.975, 24) = 2.0639; 2.0639 · 0.2 / 5 = 0.08256
    assert ci_halfwidth(0.2, 25) == pytest.approx(2.063898562 * 0.2 / 5)
    assert math.isnan(ci_halfwidth(0.2, 1))


def test_precision_table_small_group_uses_region_sd():
    rng = np.random.default_rng(3)
    n_a, n_b = 60, 6
    x0 = rng.uniform(0.1, 0.7, n_a + n_b)
    d = rng.normal(-0.05, 0.12, n_a + n_b)
    pairs = pd.DataFrame({"client_pid": [f"c{i}" for i in range(n_a + n_b)],
                          "municipality": ["Stor"] * n_a + ["Liten"] * n_b,
                          "composite_alcohol_0": x0, "composite_alcohol_1": x0 + d})
    t = precision_table(pairs, areas=["alcohol"]).set_index("group")
    sd_all = d.std(ddof=1)
    assert t.loc["__total__", "n_pairs"] == 66
    assert t.loc["__total__", "sd_diff"] == pytest.approx(sd_all)
    assert t.loc["Liten", "sd_diff"] == pytest.approx(sd_all) and t.loc["Liten", "sd_source"] == "regionens"
    assert t.loc["Stor", "sd_diff"] == pytest.approx(d[:n_a].std(ddof=1))
    hw = st.t.ppf(0.975, 5) * sd_all / math.sqrt(6)
    assert t.loc["Liten", "ci_halfwidth"] == pytest.approx(hw)
    assert t.loc["Liten", "min_detectable_change"] > t.loc["Stor", "min_detectable_change"]
    dz = 0.05 / sd_all
    assert t.loc["__total__", "n_needed"] == required_n(dz=dz)
    assert t.loc["Liten", "text"].startswith("Färre än 10") and "6" not in t.loc["Liten", "text"]
    assert t.loc["Stor", "text"].startswith("Med 60 uppföljda klienter")


# --------------------------------------------------------------------------- issue 13: comparing two groups
def test_ancova_power_and_n_against_noncentral_t_and_statsmodels():
    from statsmodels.stats.power import TTestIndPower

    from asi_lib.power import ancova_detectable_difference, ancova_power, ancova_required_n

    sd, rho, delta = 0.2, 0.6, 0.05
    sd_e = sd * np.sqrt(1 - rho ** 2)
    # exact power written out: noncentral t with n1 + n2 − 3 df
    n = np.arange(2, 400)
    df = 2 * n - 3
    lam = delta / (sd_e * np.sqrt(2 / n))
    crit = st.t.ppf(0.975, df)
    pw = st.nct.sf(crit, df, lam) + st.nct.cdf(-crit, df, lam)
    assert ancova_power(delta, 100, sd=sd, rho=rho) == pytest.approx(pw[n == 100][0])
    n_needed = int(n[np.argmax(pw >= 0.8)])
    assert ancova_required_n(delta, sd=sd, rho=rho) == n_needed
    # statsmodels' two-sample t on the residual-SD effect size (df 2n − 2) agrees within one pair
    sm_n = TTestIndPower().solve_power(effect_size=delta / sd_e, alpha=0.05, power=0.8, ratio=1.0)
    assert abs(n_needed - math.ceil(sm_n)) <= 1
    # ANCOVA needs (1 − rho²) of the pairs of a t-test on follow-up scores (Borm et al. 2007)
    n_t = TTestIndPower().solve_power(effect_size=delta / sd, alpha=0.05, power=0.8)
    assert n_needed == pytest.approx((1 - rho ** 2) * n_t, abs=2)
    hw, mdd = ancova_detectable_difference(50, 200, sd=sd, rho=rho)
    assert hw == pytest.approx(st.t.ppf(0.975, 247) * sd_e * np.sqrt(1 / 50 + 1 / 200))
    assert ancova_power(mdd, 50, 200, sd=sd, rho=rho) == pytest.approx(0.8, abs=1e-6)


def test_comparison_table_says_which_question_it_answers():
    from asi_lib.power import comparison_precision_table

    rng = np.random.default_rng(4)
    x0 = rng.uniform(0.2, 0.7, 300)
    pairs = pd.DataFrame({"client_pid": np.arange(300).astype(str),
                          "municipality": ["A"] * 40 + ["B"] * 255 + ["C"] * 5,
                          "composite_alcohol_0": x0, "composite_alcohol_1": 0.1 + 0.5 * x0 + rng.normal(0, 0.1, 300)})
    t = comparison_precision_table(pairs).set_index("group")
    rho = np.corrcoef(x0, pairs["composite_alcohol_1"])[0, 1]
    assert t.loc["A", "rho"] == pytest.approx(rho) and (t["n_pairs_rest"] == 300 - t["n_pairs"]).all()
    assert t.loc["A", "question"].startswith("Fråga: skiljer sig resultatet vid uppföljningen mellan A och övriga")
    assert t.loc["C", "text"].startswith("Färre än 10") and "±" not in t.loc["C", "text"]
    prec = precision_table(pairs, areas=["alcohol"])
    assert prec["question"].str.contains("Svarar inte på om insatsen hjälpte").all()
