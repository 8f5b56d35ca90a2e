"""Paired change statistics against published examples and hand-worked values."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as st

from asi_lib.change import (change_by_area, cronbach_alpha, dz_ci, hodges_lehmann, paired_change,
                            problem_free_change, reliable_change, signed_rank_critical,
                            walsh_order_statistic)

# Student (1908) / Cushny & Peebles: extra hours of sleep, the same 10 patients on two drugs.
SLEEP_1 = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0]
SLEEP_2 = [1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4]
# Hollander & Wolfe (1973, 2nd ed. 1999), Hamilton depression scale factor IV, 9 patients,
# first (x) and second (y) visit; the example of R's ?wilcox.test (V = 40, one-sided p = 0.01953).
HW_X = [1.83, 0.50, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.30]
HW_Y = [0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.06, 3.14, 1.29]


def test_paired_t_sleep_data():
    r = paired_change(SLEEP_1, SLEEP_2)
    # published: mean difference 1.58, t = 4.0621, df 9, p = 0.002833, 95% CI 0.7001–2.4599
    assert r["diff"] == pytest.approx(1.58)
    assert r["t"] == pytest.approx(4.0621, abs=1e-4)
    assert r["df"] == 9
    assert r["p_value"] == pytest.approx(0.002833, abs=1e-6)
    assert r["ci_low"] == pytest.approx(0.7001142, abs=1e-6)
    assert r["ci_high"] == pytest.approx(2.4598858, abs=1e-6)
    assert r["mean_0"] == pytest.approx(0.75) and r["mean_1"] == pytest.approx(2.33)
    # dz by hand: differences 1.2 2.4 1.3 1.3 0 1.0 1.8 0.8 4.6 1.4; sd = sqrt(sum((d-1.58)^2)/9)
    d = np.array([1.2, 2.4, 1.3, 1.3, 0.0, 1.0, 1.8, 0.8, 4.6, 1.4])
    sd = math.sqrt(sum((x - 1.58) ** 2 for x in d) / 9)
    assert sd == pytest.approx(1.229995, abs=1e-6)
    assert r["dz"] == pytest.approx(1.58 / sd)
    assert r["n"] == 10 and r["n_pairs"] == 10


def test_wilcoxon_and_hodges_lehmann_depression_example():
    r = paired_change(HW_X, HW_Y)  # diff = second − first visit (improvement = negative)
    # published: V = 40 (sum of positive ranks of x − y) → T+ of y − x = 45 − 40 = 5;
    # exact one-sided p = 0.01953 → two-sided 0.0390625 = 2 · 10/512
    assert r["p_wilcoxon"] == pytest.approx(2 * 10 / 512)
    assert r["wilcoxon_method"].startswith("exact")
    # Hodges–Lehmann: published estimate 0.46 for x − y (median of the 45 Walsh averages)
    d = [b - a for a, b in zip(HW_X, HW_Y)]
    walsh = sorted((d[i] + d[j]) / 2 for i in range(9) for j in range(i, 9))  # written-out definition
    assert len(walsh) == 45
    assert r["hl_estimate"] == pytest.approx(-0.46)
    assert walsh[22] == pytest.approx(-0.46)
    # CI: table critical value for n = 9, two-sided 0.05: T ≤ 5 → C = 6 → [W(6), W(40)]
    assert r["hl_ci_low"] == pytest.approx(walsh[5]) and r["hl_ci_high"] == pytest.approx(walsh[39])
    assert (r["hl_ci_low"], r["hl_ci_high"]) == pytest.approx((-0.786, -0.010))


def test_hodges_lehmann_tiny_set_all_walsh_averages():
    # d = 1, 2, 4: Walsh averages 1, 1.5, 2.5, 2, 3, 4 → sorted 1, 1.5, 2, 2.5, 3, 4; median (2+2.5)/2
    est, lo, hi = hodges_lehmann([1.0, 2.0, 4.0])
    assert est == 2.25
    assert math.isnan(lo) and math.isnan(hi)  # a 95% interval needs n >= 6


@pytest.mark.parametrize("n,t_crit", [(6, 0), (7, 2), (8, 3), (9, 5), (10, 8), (12, 13), (15, 25), (20, 52),
                                      (25, 89), (30, 137), (50, 434)])
def test_signed_rank_critical_matches_published_table(n, t_crit):
    # two-sided alpha 0.05 critical values of the Wilcoxon signed-rank statistic (standard tables)
    assert signed_rank_critical(n) == t_crit + 1


def test_signed_rank_critical_normal_approximation():
    n = 200
    z = 1.959963984540054
    mu, sigma = n * (n + 1) / 4, math.sqrt(n * (n + 1) * (2 * n + 1) / 24)
    assert signed_rank_critical(n) == math.floor(mu - z * sigma + 0.5)


def test_walsh_order_statistic_equals_brute_force_with_ties():
    rng = np.random.default_rng(7)
    d = rng.integers(-5, 6, size=301) / 30.0  # discrete, many ties and zeros, like ASI scores
    brute = np.sort(np.add.outer(d, d)[np.triu_indices(d.size)] / 2.0)
    for k in (1, 2, 100, brute.size // 2, brute.size // 2 + 1, brute.size - 1, brute.size):
        assert walsh_order_statistic(d, k) == pytest.approx(brute[k - 1], abs=1e-12)


def test_dz_ci_noncentral_t_definition():
    dz, n = 0.4, 25
    lo, hi = dz_ci(dz, n)
    t = dz * math.sqrt(n)
    assert st.nct.cdf(t, n - 1, lo * math.sqrt(n)) == pytest.approx(0.975, abs=1e-8)
    assert st.nct.cdf(t, n - 1, hi * math.sqrt(n)) == pytest.approx(0.025, abs=1e-8)
    # large n: close to the normal approximation se = sqrt(1/n + dz²/2n)
    lo2, hi2 = dz_ci(0.3, 2000)
    se = math.sqrt(1 / 2000 + 0.09 / 4000)
    assert lo2 == pytest.approx(0.3 - 1.96 * se, abs=2e-3) and hi2 == pytest.approx(0.3 + 1.96 * se, abs=2e-3)
    assert dz_ci(-dz, n) == pytest.approx((-hi, -lo))


def test_reliable_change_jacobson_truax_hand_worked():
    # SD 7.5, r_xx 0.88: S_E = 7.5·sqrt(0.12) = 2.598; S_diff = sqrt(2)·S_E = 3.674
    s_diff = math.sqrt(2) * 7.5 * math.sqrt(1 - 0.88)
    assert s_diff == pytest.approx(3.674, abs=1e-3)
    # 30 → 22: RCI = −8/3.674 = −2.18 (improved); 30 → 24: −1.63 (unchanged); 30 → 38: +2.18 (worse)
    cls = reliable_change([30, 30, 30, np.nan], [22, 24, 38, 20], sd=7.5, reliability=0.88)
    assert cls[:3].tolist() == [-1.0, 0.0, 1.0] and math.isnan(cls[3])
    r = paired_change([30, 30, 30, 30], [22, 24, 38, 21], reliability=0.88, sd_ref=7.5)
    assert r["s_diff"] == pytest.approx(s_diff)
    assert (r["n_improved"], r["n_unchanged"], r["n_worse"]) == (2, 1, 1)
    assert r["share_improved"] == 0.5


def test_cronbach_alpha_hand_worked():
    # items (1,2,3) and (2,3,5): variances 1 and 7/3; sum (3,5,8) variance 19/3 → 2·(1 − (10/3)/(19/3)) = 18/19
    assert cronbach_alpha([[1, 2], [2, 3], [3, 5]]) == pytest.approx(18 / 19)


def _pairs():
    return pd.DataFrame({
        "client_pid": ["a", "b", "c", "d", "e", "a"],  # client a has two episodes
        "rating_alcohol_0": [7, 6, 5, 4, 2, 8], "rating_alcohol_1": [1, 6, 3, 5, 0, pd.NA],
        "composite_alcohol_0": [0.6, 0.5, 0.4, 0.3, 0.1, 0.7],
        "composite_alcohol_1": [0.2, 0.5, 0.3, 0.35, 0.0, 0.1],
        "alcohol_problem_days_0": [20, 10, 5, 30, 0, 25], "alcohol_problem_days_1": [0, 10, 5, 30, 0, -8],
    })


def test_change_by_area_table():
    out = change_by_area(_pairs(), areas=["alcohol"], reliability={"rating": 0.8})
    assert out["measure"].tolist() == ["composite", "rating", "self_days"]
    row = out.set_index("measure").loc["rating"]
    # rating pairs: (7,1) (6,6) (5,3) (4,5) (2,0); the 6th has a missing follow-up
    assert row["n_pairs"] == 5 and row["n"] == 5
    assert row["diff"] == pytest.approx((-6 + 0 - 2 + 1 - 2) / 5)
    assert row["mean_0"] == pytest.approx(24 / 5)
    # composite: 6 pairs, 5 distinct clients; default reliability from the data → source stated
    comp = out.set_index("measure").loc["composite"]
    assert comp["n_pairs"] == 6 and comp["n"] == 5
    assert comp["diff"] == pytest.approx(np.mean([-0.4, 0, -0.1, 0.05, -0.1, -0.6]))
    # self days: X (-8) at follow-up is missing
    assert out.set_index("measure").loc["self_days", "n_pairs"] == 5
    # RCI for ratings with r = 0.8 and baseline SD: sd(7,6,5,4,2) = sqrt(14.8/4)
    sd = math.sqrt(((7 - 4.8) ** 2 + 1.2 ** 2 + 0.2 ** 2 + 0.8 ** 2 + 2.8 ** 2) / 4)
    s_diff = math.sqrt(2) * sd * math.sqrt(0.2)
    assert row["s_diff"] == pytest.approx(s_diff)
    # |−6| > 1.96·s_diff = 3.37 → one improved; others unchanged
    assert (row["n_improved"], row["n_unchanged"], row["n_worse"]) == (1, 4, 0)
    assert out.attrs["asi"]["unit"] == "klienter" and "diff" in out.attrs["asi"]


def test_problem_free_change_with_wilson():
    out = problem_free_change(_pairs(), areas=["alcohol"]).iloc[0]
    # problem at baseline (rating ≥ 4) with a follow-up rating: a(7→1), b(6→6), c(5→3), d(4→5) → 4; free (≤1): a
    assert (out["n_pairs"], out["k"]) == (4, 1)
    assert out["share"] == 0.25
    z = 1.959963984540054
    p, n = 0.25, 4
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    assert out["ci_low"] == pytest.approx(centre - half) and out["ci_high"] == pytest.approx(centre + half)


def test_demo_change_tables_pass_publish():
    from asi_lib.datasets import read_dataset
    from asi_lib.followup import pair_followups
    from asi_lib.models import change_by_group
    from asi_lib.publish import publish

    p = pair_followups(read_dataset("demo"))
    ca = change_by_area(p.pairs)
    assert ca.attrs["asi"]["bortfall_share"] == pytest.approx(p.bortfall_share())
    assert (ca["n"] > 0).all() and ca["area"].nunique() == 7
    g = change_by_group(p.pairs, "municipality", ["composite"], areas=["alcohol"])
    for frame in (ca, g, problem_free_change(p.pairs)):
        out = publish(frame, labels=False)
        for c in ("n", "n_pairs"):
            vis = pd.to_numeric(out[c].astype(str).str.replace("\u2009", ""), errors="coerce")
            assert not ((vis > 0) & (vis < 5)).any()


def test_composite_reliability_from_items_and_unusable_alpha():
    from asi_lib.change import composite_reliability

    # two items perfectly correlated, third identical up to scale → standardised alpha = 1 − tiny
    good = pd.DataFrame({"medical_problem_days_0": [0, 10, 20, 30], "medical_troubled_0": [0, 1, 3, 4],
                         "medical_importance_0": [0, 1, 2, 4]})
    z = good.apply(lambda c: (c - c.mean()) / c.std(ddof=1)).to_numpy()
    assert composite_reliability(good, "medical") == pytest.approx(cronbach_alpha(z))
    # opposite-signed items → alpha <= 0 → no RCI, and the table says why
    bad = pd.DataFrame({"client_pid": list("abcd"), "medical_problem_days_0": [0, 10, 20, 30],
                        "medical_troubled_0": [4, 3, 1, 0], "medical_importance_0": [4, 2, 2, 0],
                        "composite_medical_0": [0.2, 0.3, 0.4, 0.5], "composite_medical_1": [0.1, 0.3, 0.2, 0.5]})
    row = change_by_area(bad, ["composite"], areas=["medical"]).iloc[0]
    assert math.isnan(row["reliability"]) and row["n_improved"] == 0
    assert "ingen RCI" in row["reliability_source"]


# --------------------------------------------------------------------------- issue 13
def _employment_pairs():
    """Employment items E4, E5, E11, E12 rise together; E19–E21 run the other way (not in the composite)."""
    lic = [0, 0, 1, 1, 1, 0, 1, 1]
    car = [0, 0, 0, 1, 1, 0, 1, 1]
    days = [0, 2, 10, 20, 22, 1, 15, 18]
    inc = [0, 0, 2000, 15000, 20000, 500, 9000, 12000]
    prob = [25, 20, 10, 2, 0, 28, 5, 3]
    return pd.DataFrame({
        "client_pid": list("abcdefgh"),
        "driving_licence_0": lic, "car_access_0": car, "days_paid_work_0": days, "income_employment_0": inc,
        "employment_problem_days_0": prob, "employment_troubled_0": [4, 4, 2, 0, 0, 4, 1, 0],
        "employment_importance_0": [4, 3, 2, 1, 0, 4, 1, 0],
        "composite_employment_0": [0.9, 0.85, 0.6, 0.3, 0.25, 0.88, 0.4, 0.35],
        "composite_employment_1": [0.8, 0.85, 0.5, 0.3, 0.2, 0.7, 0.45, 0.3],
    })


def test_employment_reliability_uses_the_composite_items_only():
    from asi_lib.change import composite_reliability

    p = _employment_pairs()
    # independent: the composite's own terms E4, E5, E11, ln(E12/10) (cap 9), z-standardised, alpha
    x = np.column_stack([p["driving_licence_0"], p["car_access_0"], p["days_paid_work_0"],
                         np.minimum(np.log(np.maximum(p["income_employment_0"] / 10.0, 1.0)), 9.0)]).astype(float)
    z = (x - x.mean(axis=0)) / x.std(axis=0, ddof=1)
    k = z.shape[1]
    alpha = k / (k - 1) * (1 - k / z.sum(axis=1).var(ddof=1))
    assert alpha > 0.8
    assert composite_reliability(p, "employment") == pytest.approx(alpha)
    row = change_by_area(p, ["composite"], areas=["employment"]).iloc[0]
    assert row["reliability"] == pytest.approx(alpha)


def test_rci_reference_frozen_is_used_in_every_group():
    from asi_lib.change import RciReference, estimate_rci_reference
    from asi_lib.models import change_by_group

    p = _employment_pairs()
    p["municipality"] = ["A"] * 4 + ["B"] * 4
    ref = estimate_rci_reference(p, areas=["employment"])
    rel, sd, src, n = ref.get("composite", "employment")
    assert sd == pytest.approx(np.std(p["composite_employment_0"], ddof=1)) and n == 8
    assert "intern konsistens" in src
    # groups use the whole table's reliability and SD, not their own
    g = change_by_group(p, "municipality", ["composite"], areas=["employment"]).set_index("group")
    assert g["reliability"].nunique() == 1 and g.loc["A", "reliability"] == pytest.approx(rel)
    assert g.loc["A", "sd_ref"] == pytest.approx(sd) and g.loc["B", "sd_ref"] == pytest.approx(sd)
    # a frozen reference passed in wins, for reliability and SD, and is reported beside the result
    frozen = RciReference({("composite", "employment"): {"reliability": 0.5, "sd": 0.1, "source": "release 2026",
                                                         "n": 1000}})
    r = change_by_area(p.loc[p["municipality"] == "A"], ["composite"], areas=["employment"],
                       reliability=frozen).iloc[0]
    assert (r["reliability"], r["sd_ref"]) == (0.5, 0.1)
    assert r["s_diff"] == pytest.approx(math.sqrt(2) * 0.1 * math.sqrt(0.5))
    assert "release 2026" in r["reliability_source"]
    assert RciReference.from_dict(frozen.to_dict()) == frozen


def test_change_tables_carry_regression_to_the_mean_caveat():
    out = change_by_area(_pairs(), areas=["alcohol"])
    assert out["note"].str.contains("Regression mot medelvärdet").all()
    assert "test–retest" in out.attrs["asi"]["rci_note"]


def test_change_table_reports_timing_beside_change():
    p = _pairs()
    p["days"] = [90, 180, 200, 365, 700, 400]
    row = change_by_area(p, ["rating"], areas=["alcohol"]).iloc[0]
    used = np.array([90, 180, 200, 365, 700])  # the 6th pair has no follow-up rating
    assert (row["days_median"], row["days_q1"], row["days_q3"]) == tuple(np.percentile(used, [50, 25, 75]))


def test_problem_status_change_mcnemar_against_statsmodels_and_binomial():
    from scipy.stats import binomtest
    from statsmodels.stats.contingency_tables import mcnemar

    from asi_lib.change import problem_status_change

    rng = np.random.default_rng(7)
    r0 = rng.integers(0, 10, 80)
    r1 = np.clip(r0 - rng.integers(-2, 6, 80), 0, 9)
    pairs = pd.DataFrame({"client_pid": [f"c{i}" for i in range(80)], "rating_alcohol_0": r0, "rating_alcohol_1": r1})
    row = problem_status_change(pairs, areas=["alcohol"]).iloc[0]
    f0, f1 = r0 <= 1, r1 <= 1
    b, c = int((f0 & ~f1).sum()), int((~f0 & f1).sum())
    assert (row["n_free_0"], row["n_free_1"], row["n_became_free"], row["n_became_problem"]) == \
        (f0.sum(), f1.sum(), c, b)
    assert row["diff"] == pytest.approx((f1.sum() - f0.sum()) / 80)
    table = np.array([[(f0 & f1).sum(), b], [c, (~f0 & ~f1).sum()]])
    if b + c < 25:
        assert row["p_mcnemar"] == pytest.approx(binomtest(c, b + c, 0.5).pvalue)
    else:
        chi2 = (abs(b - c) - 1) ** 2 / (b + c)
        assert row["p_mcnemar"] == pytest.approx(st.chi2.sf(chi2, 1))
        assert row["p_mcnemar"] == pytest.approx(mcnemar(table, exact=False, correction=True).pvalue)
    # the conditional share of problem_free_change is beside it
    cond = problem_free_change(pairs, areas=["alcohol"]).iloc[0]
    assert (row["n_cond_pairs"], row["k_cond"]) == (cond["n_pairs"], cond["k"])
    # small table: exact binomial
    small = pd.DataFrame({"client_pid": list("abcdef"), "rating_alcohol_0": [6, 5, 7, 1, 0, 8],
                          "rating_alcohol_1": [1, 0, 0, 1, 4, 1]})
    s = problem_status_change(small, areas=["alcohol"]).iloc[0]
    assert (s["n_became_free"], s["n_became_problem"]) == (4, 1)
    assert s["p_mcnemar"] == pytest.approx(binomtest(4, 5, 0.5).pvalue) and s["mcnemar_method"].startswith("exakt")


def test_clinical_significance_criterion_c_and_a_by_hand():
    from asi_lib.change import clinical_significance

    x0 = np.array([0.6, 0.5, 0.7, 0.4, 0.55, 0.65])
    x1 = np.array([0.1, 0.45, 0.3, 0.6, 0.2, 0.66])
    sd, rel = 0.1, 0.8
    z = st.norm.ppf(0.975)
    s_diff = math.sqrt(2) * sd * math.sqrt(1 - rel)
    rci = (x1 - x0) / s_diff
    m0 = x0.mean()
    # criterion c with a norm (mean 0.1, sd 0.05): (s0·Mf + sf·M0)/(s0 + sf)
    cut_c = (sd * 0.1 + 0.05 * m0) / (sd + 0.05)
    r = clinical_significance(x0, x1, sd_ref=sd, reliability=rel, norm_mean=0.1, norm_sd=0.05)
    assert r["criterion"] == "c" and r["cutoff"] == pytest.approx(cut_c)
    assert r["n_recovered"] == int(((rci < -z) & (x1 < cut_c)).sum())
    assert r["n_improved_only"] == int(((rci < -z) & (x1 >= cut_c)).sum())
    assert r["n_worse"] == int((rci > z).sum())
    # no norm → criterion a: two SDs below the clinical mean
    a = clinical_significance(x0, x1, sd_ref=sd, reliability=rel)
    assert a["criterion"] == "a" and a["cutoff"] == pytest.approx(m0 - 2 * sd)
    assert a["n_recovered"] == int(((rci < -z) & (x1 < m0 - 2 * sd)).sum())


def test_rci_reference_from_a_whole_store_dataset_equals_from_its_pairs():
    from asi_lib.change import estimate_rci_reference
    from asi_lib.datasets import read_dataset
    from asi_lib.followup import pair_followups

    ds = read_dataset("demo")
    a = estimate_rci_reference(ds)
    b = estimate_rci_reference(pair_followups(ds).pairs)
    assert a == b and a.get("composite", "employment")[0] == pytest.approx(0.73, abs=0.02)
