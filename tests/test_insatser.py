"""UBÅT: counts and rates by hand, CIs from formulas written out in the test."""
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as st

from asi_lib import insatser as ins
from asi_lib.dataset import Dataset
from asi_lib.followup import Pairing

Z = 1.959963984540054


def wilson(k, n):
    p = k / n
    c = (p + Z**2 / (2 * n)) / (1 + Z**2 / n)
    h = Z / (1 + Z**2 / n) * math.sqrt(p * (1 - p) / n + Z**2 / (4 * n**2))
    return c - h, c + h


def t_ci(vals):
    m, s, n = np.mean(vals), np.std(vals, ddof=1), len(vals)
    h = st.t.ppf(0.975, n - 1) * s / math.sqrt(n)
    return m - h, m + h


@pytest.fixture
def ds():
    # 12 clients with a Grund; 8 men, 4 women; ratings chosen by hand
    n = 12
    g = pd.DataFrame({
        "client_pid": pd.array([f"c{i}" for i in range(n)], dtype="string"),
        "interview_date": pd.to_datetime(["2023-01-10"] * n).astype("datetime64[us]"),
        "sex": pd.Categorical(["male"] * 8 + ["female"] * 4, categories=["male", "female"]),
        "age": pd.array([25, 28, 33, 40, 45, 50, 55, 60, 22, 29, 35, 41], dtype="Int16"),
        "main_substance": pd.Categorical(["alcohol"] * 6 + ["cannabis"] * 6),
        "rating_alcohol": pd.array([7, 6, 5, 4, 8, 2, 1, 0, 1, 0, 3, 2], dtype="Int16"),
        "rating_drugs": pd.array([0, 1, 0, 0, 1, 2, 6, 7, 8, 5, 4, 3], dtype="Int16"),
    })
    types = ["twelve_step"] * 6 + ["cra"] * 6
    completed = [1, 1, 1, 0, 0, pd.NA, 1, 0, 1, 1, 1, 0]
    reasons = [pd.NA, pd.NA, pd.NA, "relapse", "client_dropout", pd.NA, pd.NA, "relapse", pd.NA, pd.NA, pd.NA,
               "client_moved"]
    i = pd.DataFrame({
        "client_pid": pd.array([f"c{j}" for j in range(n)], dtype="string"),
        "intervention_type": pd.Categorical(types),
        "start_date": pd.to_datetime(["2023-01-20"] * n).astype("datetime64[us]"),
        "completed": pd.array(completed, dtype="Int16"),
        "termination_reason": pd.Categorical(reasons),
        "client_view": pd.array([5, 4, 4, 2, 3, -8, 5, 5, 4, 3, 4, 1], dtype="Int16"),
        "caseworker_rating": pd.array([4, 4, 3, 2, 2, 3, 5, 4, 4, 4, 3, 2], dtype="Int16"),
    })
    # c0 also got housing support (a second intervention); "x" has an insats but no Grund
    extra = pd.DataFrame({"client_pid": pd.array(["c0", "x"], dtype="string"),
                          "intervention_type": pd.Categorical(["housing_support", "cra"]),
                          "start_date": pd.to_datetime(["2023-03-01", "2023-03-01"]).astype("datetime64[us]"),
                          "completed": pd.array([pd.NA, pd.NA], dtype="Int16")})
    i = pd.concat([i, extra], ignore_index=True)
    e = pd.DataFrame({"client_pid": pd.Series([], dtype="string")})
    return Dataset(g, e.assign(interview_date=pd.Series([], dtype="datetime64[us]")), e, i)


def test_interventions_by_sex(ds):
    r = ins.interventions_by_group(ds, by="sex")
    m = r.loc[r["sex"] == "male"].set_index("intervention_type")
    assert m.loc["twelve_step", ["n", "k"]].tolist() == [8, 6]
    assert m.loc["cra", "k"] == 2 and m.loc["housing_support", "k"] == 1
    lo, hi = wilson(6, 8)
    assert m.loc["twelve_step", ["share", "ci_low", "ci_high"]].tolist() == pytest.approx([0.75, lo, hi])
    assert m.loc["cra", "label"].startswith("CRA")
    unknown = r.loc[r["sex"] == "okänd"]
    assert unknown[["intervention_type", "n", "k"]].values.tolist() == [["cra", 1, 1]]


def test_interventions_by_severity_band(ds):
    r = ins.interventions_by_group(ds, by="severity_band", lang="en")
    # max(rating) per client: c0 7, c1 6, c2 5, c3 4, c4 8, c5 2, c6 6, c7 7, c8 8, c9 5, c10 4, c11 3
    ext = r.loc[r["severity_band"] == "Extreme problem (8–9)"].set_index("intervention_type")
    assert ext["n"].unique().tolist() == [2]  # c4 (twelve_step), c8 (cra)
    assert ext["k"].to_dict() == {"cra": 1, "twelve_step": 1}


def test_completion_three_of_four_ended(ds):
    r = ins.completion(ds).set_index("intervention_type")
    # twelve_step: c0 1, c1 1, c2 1, c3 0, c4 0, c5 ongoing → 3 of 5; cra: 1, 0, 1, 1, 1, 0 → 4 of 6
    assert r.loc["twelve_step", ["n", "k"]].tolist() == [5, 3]
    assert r.loc["cra", ["n", "k"]].tolist() == [6, 4]
    assert r.loc["__all__", ["n", "k"]].tolist() == [11, 7]
    lo, hi = wilson(7, 11)
    assert r.loc["__all__", ["ci_low", "ci_high"]].tolist() == pytest.approx([lo, hi])


def test_termination_reasons(ds):
    r = ins.termination_reasons(ds)
    ts = r.loc[r["intervention_type"] == "twelve_step"].set_index("reason")
    assert ts.loc["relapse", ["n", "k"]].tolist() == [2, 1]
    assert ts.loc["client_dropout", "label"] == "Avbruten av klienten"
    assert ts["share"].sum() == pytest.approx(1.0)
    cra = r.loc[r["intervention_type"] == "cra"].set_index("reason")
    assert cra.loc[["relapse", "client_moved"], "k"].tolist() == [1, 1]


def test_rating_distribution_and_means(ds):
    d = ins.rating_distribution(ds)
    cv = d.query("intervention_type == 'twelve_step' and measure == 'client_view'").set_index("level")
    assert cv["n"].unique().tolist() == [5]  # c5's X is not an answer
    assert cv["k"].tolist() == [0, 1, 1, 2, 1]
    assert cv.loc[5, "label"] == "Mycket nöjd"
    m = ins.rating_means(ds).set_index(["intervention_type", "measure"])
    vals = [5, 4, 4, 2, 3]
    row = m.loc[("twelve_step", "client_view")]
    assert (row["n"], row["n_missing"]) == (5, 1)
    assert row["mean"] == pytest.approx(np.mean(vals))
    lo, hi = t_ci(vals)
    assert hi > 5  # the t interval passes the top of the 1–5 scale; the mean cannot
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((lo, 5.0))
    allcw = m.loc[("__all__", "caseworker_rating")]
    assert allcw["n"] == 12  # x's cra has no rating; c0's housing support neither


def test_needs_vs_interventions(ds):
    r = ins.needs_vs_interventions(ds).set_index(["intervention_type", "area"])
    # twelve_step clients c0–c5: alcohol ratings 7 6 5 4 8 2 → 5 with rating ≥ 4
    a = r.loc[("twelve_step", "alcohol")]
    assert (a["n"], a["k"]) == (6, 5)
    assert a["mean_rating"] == pytest.approx(np.mean([7, 6, 5, 4, 8, 2]))
    assert (a["rating_ci_low"], a["rating_ci_high"]) == pytest.approx(t_ci([7, 6, 5, 4, 8, 2]))
    d = r.loc[("cra", "drugs")]  # c6–c11: 6 7 8 5 4 3 → 5 of 6
    assert (d["n"], d["k"]) == (6, 5)
    assert r.loc[("__all__", "drugs"), "n"] == 12
    assert r.loc[("cra", "drugs"), "area_label"] == "Narkotika"


def test_severity_band_edges():
    f = pd.DataFrame({"rating_alcohol": pd.array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, pd.NA], dtype="Int16")})
    b = ins.severity_band(f, lang="sv").astype("string").tolist()
    assert b[:2] == ["Inget problem (0–1)"] * 2 and b[8:10] == ["Extremt problem (8–9)"] * 2
    assert b[4] == b[5] == "Måttligt problem (4–5)" and pd.isna(b[10])


def test_change_by_intervention_by_hand():
    pairs = pd.DataFrame({"client_pid": list("abcdef"), "intervention": ["cra"] * 3 + ["none"] * 3,
                          "rating_alcohol_0": [6, 5, 7, 4, 4, 4], "rating_alcohol_1": [3, 4, 4, 4, 3, 5]})
    base = pd.DataFrame({"status": ["followed_up"] * 6 + ["missed"] * 2 + ["not_yet_due"]})
    r = ins.change_by_intervention(Pairing(pairs=pairs, baselines=base, unpaired=pd.DataFrame(), params={}),
                                   measures=("rating",), areas=["alcohol"]).set_index("intervention")
    d = np.array([3, 4, 4]) - np.array([6, 5, 7])
    assert r.loc["cra", "n"] == 3 and r.loc["cra", "diff"] == pytest.approx(d.mean())
    assert (r.loc["cra", "ci_low"], r.loc["cra", "ci_high"]) == pytest.approx(t_ci(d))
    assert r.loc["none", "diff"] == pytest.approx(0.0)
    assert r["bortfall_share"].unique().tolist() == pytest.approx([2 / 8])
    assert "models.adjusted_effects" in r.attrs["asi"]["caveat"]


@pytest.fixture(scope="module")
def demo():
    from asi_lib.datasets import read_dataset
    return read_dataset("demo")


def test_demo_insatser(demo):
    from asi_lib.followup import pair_followups
    r = ins.interventions_by_group(demo, by=["sex", "age_band"])
    assert (r["k"] <= r["n"]).all() and len(r) > 0
    c = ins.completion(demo)
    assert c.set_index("intervention_type").loc["__all__", "n"] > 0
    nv = ins.needs_vs_interventions(demo)
    assert set(nv["area"]) >= {"alcohol", "drugs"}
    ch = ins.change_by_intervention(pair_followups(demo), measures=("composite",), areas=["alcohol", "drugs"])
    assert ch["n"].gt(0).all() and ch["bortfall_share"].between(0, 1).all()


def test_change_by_intervention_uses_one_rci_reference_for_all_interventions():
    # issue 13: reliability and SD re-estimated per intervention made shares improved incomparable
    from asi_lib.change import estimate_rci_reference
    from asi_lib.datasets import read_dataset
    from asi_lib.followup import pair_followups

    p = pair_followups(read_dataset("demo"))
    r = ins.change_by_intervention(p, areas=["alcohol"])
    ref = estimate_rci_reference(p.pairs, areas=["alcohol"])
    rel, sd, _, _ = ref.get("composite", "alcohol")
    assert r["reliability"].dropna().nunique() == 1 and r["reliability"].iloc[0] == pytest.approx(rel)
    assert r["sd_ref"].dropna().nunique() == 1 and r["sd_ref"].iloc[0] == pytest.approx(sd)
