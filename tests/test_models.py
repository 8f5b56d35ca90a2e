"""Change by group and adjusted models; bars on the synthetic region with known truth."""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd
import pytest

from asi_lib.datasets import read_dataset
from asi_lib.followup import pair_followups
from asi_lib.models import adjusted_effects, change_by_group, mixed_effects, naive_change, naive_vs_adjusted

N_CLIENTS = 20_000
SEED = 20261122


@lru_cache(maxsize=1)
def region():
    ds = read_dataset("demo", n_clients=N_CLIENTS, seed=SEED)
    return ds, pair_followups(ds)


def test_change_by_group_hand_made():
    pairs = pd.DataFrame({
        "client_pid": list("abcdef"), "sex": ["male", "male", "male", "female", "female", "female"],
        "rating_alcohol_0": [6, 5, 7, 4, 8, 1], "rating_alcohol_1": [3, 5, 2, 4, 2, 1],
    })
    t = change_by_group(pairs, "sex", ["rating"], areas=["alcohol"]).set_index("group")
    assert t.loc["male", "diff"] == pytest.approx((-3 + 0 - 5) / 3)
    assert t.loc["female", "diff"] == pytest.approx((0 - 6 + 0) / 3)
    assert t.loc["__total__", "n"] == 6 and t.loc["male", "n"] == 3
    # severity band of the baseline rating: 0–1 / 4–5 / 6–7 / 8–9
    s = change_by_group(pairs, "severity_band", ["rating"], areas=["alcohol"], include_total=False)
    diffs = dict(zip(s["group"], s["diff"]))
    assert len(diffs) == 4
    assert sorted(s["n"].tolist()) == [1, 1, 2, 2]
    # 8–9: e (8→2) −6; 6–7: a (6→3), c (7→2) → −4; 4–5: b, d → 0; 0–1: f → 0
    assert sorted(diffs.values()) == pytest.approx([-6.0, -4.0, 0.0, 0.0])


def test_adjusted_recovers_true_effects_alcohol_and_drugs():
    ds, p = region()
    truth = ds.meta["truth"]
    for area in ("alcohol", "drugs"):
        eff = truth["effects"][area]
        ref = truth["null_intervention"]  # effect 0: contrasts against it equal the effects
        t = adjusted_effects(p.pairs, area, reference=ref)
        iv = t[t["term"] == "intervention"].set_index("level")
        assert set(iv.index) >= set(eff) - {ref}
        for k, row in iv.iterrows():
            true = eff.get(k, 0.0)  # "none" = no intervention = 0
            assert row["ci_low"] <= true <= row["ci_high"], (area, k, true, row["ci_low"], row["ci_high"])
        # the baseline slope (per 0.1) also matches the generator's slope
        slope = truth["outcome_model"][area]["slope_baseline"]
        b = t[t["term"] == "baseline"].iloc[0]
        assert b["ci_low"] <= slope * 0.1 <= b["ci_high"]


def test_null_intervention_not_declared_effective():
    ds, p = region()
    null = ds.meta["truth"]["null_intervention"]
    # against no intervention at all (small group, wide CI) and against the most used interventions
    t = adjusted_effects(p.pairs, "alcohol", reference="none")
    row = t[(t["term"] == "intervention") & (t["level"] == null)].iloc[0]
    assert row["ci_low"] <= 0 <= row["ci_high"] and row["p_value"] > 0.05
    assert row["label"].endswith("jämfört med ingen insats")
    # an effective intervention is declared effective against the null one
    t2 = adjusted_effects(p.pairs, "alcohol", reference=null)
    res = t2[(t2["term"] == "intervention") & (t2["level"] == "residential")].iloc[0]
    assert res["ci_high"] < 0 and res["p_value"] < 0.05


def test_naive_change_is_biased():
    ds, p = region()
    eff = ds.meta["truth"]["effects"]["alcohol"]
    nv = naive_change(p.pairs, "alcohol").set_index("group")
    big = nv[nv["n"] >= 150]
    assert len(big) >= 5
    half = (big["ci_high"] - big["ci_low"]) / 2
    biased = (big["diff"] - big.index.map(eff).astype(float)).abs() > half
    # the naive change differs from the true effect by more than its CI half-width for most
    # interventions (the least severe groups, e.g. employment support, regress least) ...
    assert biased.sum() >= len(big) - 2, biased
    # ... and always for those given to the most severe clients, and for the null intervention
    for k in ("residential", "twelve_step", "relapse_prevention", "cra", "contact_person"):
        assert biased[k], k
    # the null intervention looks effective when judged naively
    assert nv.loc[ds.meta["truth"]["null_intervention"], "ci_high"] < 0
    both = naive_vs_adjusted(p.pairs, "alcohol", reference="contact_person")
    assert {"naive_diff", "adjusted", "adjusted_ci_low"} <= set(both.columns)


def test_mixed_effects_municipality():
    ds, p = region()
    eff = ds.meta["truth"]["effects"]["alcohol"]
    t = mixed_effects(p.pairs, "alcohol", reference="contact_person")
    iv = t[t["term"] == "intervention"].set_index("level")
    for k in ("residential", "relapse_prevention", "twelve_step", "mi_counselling"):
        assert iv.loc[k, "ci_low"] <= eff[k] <= iv.loc[k, "ci_high"], k
    var = t[t["term"] == "variance"].set_index("level")["estimate"]
    assert var["residual"] > 0 and var["municipality"] >= 0
    assert t.attrs["asi"]["n_groups"] >= 8 and 0 <= t.attrs["asi"]["icc"] < 0.2


# --------------------------------------------------------------------------- issue 13: small samples
def _small_pairs(n=60, seed=3):
    rng = np.random.default_rng(seed)
    x0 = rng.uniform(0.1, 0.9, n)
    iv = np.array(["cra"] * 25 + ["twelve_step"] * 25 + ["mi_counselling"] * 9 + ["none"])
    days = rng.integers(90, 730, n)
    x1 = 0.05 + 0.6 * x0 - 0.04 * (iv == "cra") + 0.002 * (days / (365.25 / 12)) + rng.normal(0, 0.05, n)
    return pd.DataFrame({"client_pid": [f"k{i}" for i in range(n)], "composite_alcohol_0": x0,
                         "composite_alcohol_1": x1, "intervention": iv, "days": days,
                         "sex": rng.choice(["male", "female"], n)})


def test_small_levels_get_no_estimate_and_inference_is_hc3_t():
    import statsmodels.api as sm

    p = _small_pairs()
    t = adjusted_effects(p, "alcohol", terms=("intervention",), reference="twelve_step")
    iv = t[t["term"] == "intervention"].set_index("level")
    # mi_counselling (9 pairs) and none (1 pair) are below the minimum of 10: no estimate
    assert set(iv.index) == {"cra"}
    assert t.attrs["asi"]["pooled_levels"]["intervention"] == ["mi_counselling", "none"]
    assert t.attrs["asi"]["cov_type"].startswith("HC3")
    # independent: the same design by hand, OLS with HC3 and t(n − p) reference
    months = p["days"] / (365.25 / 12)
    X = np.column_stack([np.ones(len(p)), p["composite_alcohol_0"], months - months.mean(),
                         (p["intervention"] == "cra"), p["intervention"].isin(["mi_counselling", "none"])])
    fit = sm.OLS(p["composite_alcohol_1"].to_numpy(), X.astype(float)).fit(cov_type="HC3", use_t=True)
    lo, hi = fit.conf_int()[3]
    assert iv.loc["cra", "estimate"] == pytest.approx(fit.params[3])
    assert (iv.loc["cra", "ci_low"], iv.loc["cra", "ci_high"]) == pytest.approx((lo, hi))
    assert iv.loc["cra", "p_value"] == pytest.approx(fit.pvalues[3])
    # time since baseline is adjusted for (months row)
    m = t[t["term"] == "months"].iloc[0]
    assert m["estimate"] == pytest.approx(fit.params[2])
    # too few pairs per estimated effect → a clear error, not a number
    with pytest.raises(Exception, match="per effekt"):
        adjusted_effects(p.iloc[:25], "alcohol", terms=("intervention", "sex"), min_pairs_level=1)


def test_default_reference_is_not_an_active_treatment():
    p = _small_pairs()  # one pair without intervention: "none" cannot be the reference
    t = adjusted_effects(p, "alcohol", terms=("intervention",))
    iv = t[t["term"] == "intervention"].set_index("level")
    assert (iv["reference"] == "__rest__").all() and t.attrs["asi"]["references"]["intervention"] == "__rest__"
    assert iv.loc["cra", "label"].endswith("jämfört med övriga insatser (alla andra par)")
    assert "negativ = bättre" in t.attrs["asi"]["column_labels"]["estimate"][0]
    # independent: cra against all other pairs, adjusting for baseline and months (numpy least squares)
    months = p["days"] / (365.25 / 12)
    X = np.column_stack([np.ones(len(p)), p["composite_alcohol_0"], months - months.mean(),
                         (p["intervention"] == "cra")]).astype(float)
    beta = np.linalg.lstsq(X, p["composite_alcohol_1"].to_numpy(), rcond=None)[0]
    assert iv.loc["cra", "estimate"] == pytest.approx(beta[3])
    both = naive_vs_adjusted(p, "alcohol", terms=("intervention",))
    assert "Regression mot medelvärdet" in both["note"].iloc[0]
    assert (both["reference"] == "övriga insatser (alla andra par)").all()


def test_unit_comparison_funnel_and_shrinkage_against_independent_fits():
    import statsmodels.api as sm
    from scipy import stats as st

    from asi_lib.models import unit_comparison

    rng = np.random.default_rng(11)
    sizes = {"A": 200, "B": 120, "C": 8, "D": 60}
    unit = np.concatenate([[k] * v for k, v in sizes.items()])
    n = len(unit)
    x0 = rng.uniform(0, 1, n)
    sex = rng.choice(["male", "female"], n)
    x1 = 0.1 + 0.5 * x0 + 0.03 * (sex == "female") + 0.06 * (unit == "D") + rng.normal(0, 0.08, n)
    pairs = pd.DataFrame({"client_pid": [f"p{i}" for i in range(n)], "composite_alcohol_0": x0,
                          "composite_alcohol_1": x1, "municipality": unit, "sex": sex})
    t = unit_comparison(pairs, "alcohol", terms=("sex",)).set_index("group")
    # indirect standardisation by hand: OLS without the unit
    X = np.column_stack([np.ones(n), x0, sex == "female"]).astype(float)
    beta, *_ = np.linalg.lstsq(X, x1, rcond=None)
    resid = x1 - X @ beta
    sigma = np.sqrt(resid @ resid / (n - 3))
    for u, m in sizes.items():
        sel = unit == u
        assert t.loc[u, "excess"] == pytest.approx(resid[sel].mean())
        assert t.loc[u, "limit95_high"] == pytest.approx(st.norm.ppf(0.975) * sigma / np.sqrt(m))
        assert t.loc[u, "limit998_low"] == pytest.approx(-st.norm.ppf(0.999) * sigma / np.sqrt(m))
    assert bool(t.loc["D", "outside998"]) and not bool(t.loc["A", "outside95"])
    assert bool(t.loc["C", "tendency"])
    # shrinkage: BLUP = λ_j · mean residual from the mixed model's fixed part (statsmodels MixedLM, written out)
    Xdf = pd.DataFrame(X, columns=["const", "x0", "female"])
    mfit = sm.MixedLM(x1, Xdf, groups=unit).fit(reml=True)
    var_u, var_e = float(mfit.cov_re.iloc[0, 0]), float(mfit.scale)
    r = x1 - Xdf.to_numpy() @ mfit.fe_params.to_numpy()
    for u, m in sizes.items():
        lam = var_u / (var_u + var_e / m)
        assert t.loc[u, "shrinkage"] == pytest.approx(lam, rel=1e-3)
        assert t.loc[u, "shrunken"] == pytest.approx(lam * r[unit == u].mean(), abs=1e-4)
    # the smallest unit is pulled hardest towards 0
    assert t.loc["C", "shrinkage"] < t.loc["B", "shrinkage"] < t.loc["A", "shrinkage"]


def test_propensity_overlap_against_statsmodels_logit_and_rubin_rules():
    import statsmodels.api as sm

    from asi_lib.models import propensity_overlap

    rng = np.random.default_rng(5)
    n = 300
    x0 = rng.uniform(0, 1, n)
    sex = rng.choice(["female", "male"], n)
    # residential only for the most severe (poor overlap); cra and mi at random
    iv = np.where(x0 > 0.8, "residential", rng.choice(["cra", "mi_counselling"], n))
    pairs = pd.DataFrame({"client_pid": [f"c{i}" for i in range(n)], "composite_alcohol_0": x0,
                          "composite_alcohol_1": x0, "intervention": iv, "sex": sex})
    t = propensity_overlap(pairs, "alcohol", covariates=("sex",)).set_index("group")
    assert bool(t.loc["residential", "poor_overlap"]) and "Dålig överlappning" in t.loc["residential", "note"]
    X = np.column_stack([np.ones(n), x0, (sex == "male").astype(float)])
    T = (iv == "cra").astype(float)
    lin = X @ sm.Logit(T, X).fit(disp=0).params
    l1, l0 = lin[T == 1], lin[T == 0]
    b = (l1.mean() - l0.mean()) / np.sqrt((l1.var(ddof=1) + l0.var(ddof=1)) / 2)
    assert t.loc["cra", "rubin_b"] == pytest.approx(b, rel=1e-5)
    assert t.loc["cra", "rubin_r"] == pytest.approx(l1.var(ddof=1) / l0.var(ddof=1), rel=1e-5)
    ps = 1 / (1 + np.exp(-lin))
    assert t.loc["cra", "ps_median"] == pytest.approx(np.median(ps[T == 1]), rel=1e-5)
    support = np.mean((ps[T == 1] >= ps[T == 0].min()) & (ps[T == 1] <= ps[T == 0].max()))
    assert t.loc["cra", "support_share"] == pytest.approx(support)
    r = l1.var(ddof=1) / l0.var(ddof=1)
    assert bool(t.loc["cra", "poor_overlap"]) == bool(abs(b) > 0.5 or not 0.5 <= r <= 2 or support < 0.9)
    # two interventions given at random to everybody overlap well
    even = pairs.assign(intervention=rng.choice(["cra", "mi_counselling"], n))
    assert not propensity_overlap(even, "alcohol", covariates=("sex",))["poor_overlap"].any()


def test_mixed_model_adjusts_for_time_and_naive_tables_carry_the_caveat():
    p = _small_pairs(seed=8)
    p["intervention"] = np.where(np.arange(60) % 2 == 0, "cra", "twelve_step")
    p["municipality"] = np.repeat(list("ABCDE"), 12)
    t = mixed_effects(p, "alcohol", terms=("intervention",), reference="twelve_step")
    months = t[t["term"] == "months"]
    assert len(months) == 1 and months.iloc[0]["ci_low"] <= 0.002 <= months.iloc[0]["ci_high"]
    assert naive_change(p, "alcohol")["note"].str.startswith("Regression mot medelvärdet").all()
