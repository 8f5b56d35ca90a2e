"""Bortfall: counts and rates worked by hand, SMDs from the formula written out here."""
import math

import numpy as np
import pandas as pd
import pytest

from asi_lib import bortfall as bf
from asi_lib.dataset import Dataset
from asi_lib.publish import publish

Z = 1.959963984540054


def wilson(k, n):
    """Wilson score interval written out (Wilson 1927)."""
    p = k / n
    centre = (p + Z**2 / (2 * n)) / (1 + Z**2 / n)
    half = Z / (1 + Z**2 / n) * math.sqrt(p * (1 - p) / n + Z**2 / (4 * n**2))
    return centre - half, centre + half


def cat(values, codes):
    return pd.Categorical(values, categories=codes)


SEX = ["male", "female"]
HOUSING = ["own_home", "secondary_lease", "social_contract", "with_others", "institution", "temporary",
           "homeless", "other"]


def grund(rows):
    """rows: (pid, date, sex, age, housing, unit)."""
    df = pd.DataFrame(rows, columns=["client_pid", "interview_date", "sex", "age", "housing", "unit"])
    df["interview_date"] = pd.to_datetime(df["interview_date"]).astype("datetime64[us]")
    df["sex"] = cat(df["sex"], SEX)
    df["housing"] = cat(df["housing"], HOUSING)
    df["age"] = df["age"].astype("Int16")
    df["client_pid"] = df["client_pid"].astype("string")
    return df


def bortfall(rows):
    """rows: (pid, date, form, reason, sex, age, housing, unit)."""
    df = pd.DataFrame(rows, columns=["client_pid", "bortfall_date", "form", "bortfall_reason", "sex", "age",
                                     "housing", "unit"])
    df["bortfall_date"] = pd.to_datetime(df["bortfall_date"]).astype("datetime64[us]")
    df["sex"] = cat(df["sex"], SEX)
    df["housing"] = cat(df["housing"], HOUSING)
    df["age"] = df["age"].astype("Int16")
    df["client_pid"] = df["client_pid"].astype("string")
    return df


def upp(rows):
    df = pd.DataFrame(rows, columns=["client_pid", "interview_date"])
    df["interview_date"] = pd.to_datetime(df["interview_date"]).astype("datetime64[us]")
    df["followup_type"] = "ordinary"
    df["client_pid"] = df["client_pid"].astype("string")
    return df


EMPTY_INS = pd.DataFrame({"client_pid": pd.Series([], dtype="string"),
                          "start_date": pd.Series([], dtype="datetime64[us]"),
                          "intervention_type": pd.Series([], dtype="string")})


@pytest.fixture
def grund_ds():
    # 9 interviewed (6 men, 3 women), 3 Grund bortfall (1 man, 2 women) → 3 of 12 = 25 %.
    g = grund([(f"i{i}", "2024-02-01", "male" if i < 6 else "female", 40, "own_home", "A") for i in range(9)])
    b = bortfall([
        ("b0", "2024-03-01", "grund", "g_declined", "male", 25, "homeless", "A"),
        ("b1", "2024-03-01", "grund", "g_acute", "female", 30, "homeless", "A"),
        ("b2", "2024-03-01", "grund", "g_declined", "female", 35, "own_home", "A"),
        ("b2", "2024-04-01", "grund", "g_declined", "female", 35, "own_home", "A"),  # same client twice
        ("i0", "2024-01-15", "grund", "g_acute", "male", 40, "own_home", "A"),       # later interviewed
        ("x9", "2024-03-01", "uppfoljning", "u_declined", "male", 40, "own_home", "A"),  # other form
    ])
    return Dataset(g, upp([]), b, EMPTY_INS)


def test_grund_bortfall_three_of_twelve(grund_ds):
    r = bf.grund_bortfall(grund_ds)
    assert len(r) == 1
    row = r.iloc[0]
    assert (row["n"], row["k"]) == (12, 3)
    assert row["share"] == pytest.approx(0.25)
    lo, hi = wilson(3, 12)
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((lo, hi), abs=1e-12)
    assert (lo, hi) == pytest.approx((0.0889, 0.5323), abs=1e-4)  # published Wilson 3/12


def test_grund_bortfall_by_sex(grund_ds):
    r = bf.grund_bortfall(grund_ds, by="sex").set_index("sex")
    assert r.loc["male", ["n", "k"]].tolist() == [7, 1]
    assert r.loc["female", ["n", "k"]].tolist() == [5, 2]
    assert r.loc["female", "share"] == pytest.approx(0.4)


def test_grund_bortfall_by_period_and_range(grund_ds):
    r = bf.grund_bortfall(grund_ds, period="quarter")
    assert r["period"].tolist() == ["2024 K1", "2024 K2"]
    # K1: 9 interviewed + b0, b1, b2 (March) = 12 with 3 bortfall; K2: b2 again only
    assert r[["n", "k"]].values.tolist() == [[12, 3], [1, 1]]
    r2 = bf.grund_bortfall(grund_ds, start="2024-03-01", end="2024-12-31")
    assert r2[["n", "k"]].values.tolist() == [[3, 3]]


def test_bortfall_reasons_grund(grund_ds):
    r = bf.bortfall_reasons(grund_ds, "grund").set_index("reason")
    # latest record per client: i0 g_acute, b0 g_declined, b1 g_acute, b2 g_declined → 4 clients
    assert set(r.index) == {"g_acute", "g_mental_illness", "g_declined", "g_staff_obstacle", "g_incomplete"}
    assert r.loc["g_declined", ["n", "k"]].tolist() == [4, 2]
    assert r.loc["g_mental_illness", "k"] == 0
    assert r.loc["g_declined", "label"] == "Klienten avböjer"
    lo, hi = wilson(2, 4)
    assert r.loc["g_declined", "ci_low"] == pytest.approx(lo)
    assert r["share"].sum() == pytest.approx(1.0)
    en = bf.bortfall_reasons(grund_ds, "grund", lang="en").set_index("reason")
    assert en.loc["g_acute", "label"] == "Acute situation at contact"


def test_bortfall_reasons_followup_only_u_codes(grund_ds):
    r = bf.bortfall_reasons(grund_ds, "uppfoljning")
    assert all(c.startswith("u_") for c in r["reason"])
    assert r.set_index("reason").loc["u_declined", ["n", "k"]].tolist() == [1, 1]


def test_who_is_missing_smd_by_formula(grund_ds):
    r = bf.who_is_missing(grund_ds)
    # interviewed: 9 clients aged 40 (sd 0); bortfall (latest per client): b0 25, b1 30, b2 35
    age = r.set_index("variable").loc["age"]
    assert age["value_interviewed"] == 40 and age["value_bortfall"] == pytest.approx(30)
    s_b = np.std([25, 30, 35], ddof=1)
    assert age["smd"] == pytest.approx((40 - 30) / math.sqrt((0 + s_b**2) / 2))
    fem = r.query("variable == 'sex' and level == 'female'").iloc[0]
    p1, p0 = 3 / 9, 2 / 3
    assert (fem["value_interviewed"], fem["value_bortfall"]) == pytest.approx((p1, p0))
    assert fem["smd"] == pytest.approx((p1 - p0) / math.sqrt((p1 * (1 - p1) + p0 * (1 - p0)) / 2))
    assert bool(fem["flag"])
    # the fields come from the codebook: every bortfall field that Grund also has
    assert {"sex", "age", "housing"} <= set(r["variable"])


@pytest.fixture
def followup_ds():
    # 10 due baselines in 2022: a0–a5 followed up (180 d), m0–m1 missed with a record, m2–m3 missed without;
    # r0 recent (not yet due on as_of); m0 has an older record that belongs to an earlier baseline.
    ids_f = [f"a{i}" for i in range(6)]
    ids_m = [f"m{i}" for i in range(4)]
    rows = [(p, "2022-01-10", "male", 40, "own_home", "A") for p in ids_f]
    rows += [(p, "2022-01-10", "female" if p in ("m0", "m1", "m2") else "male", 30, "homeless", "A")
             for p in ids_m]
    rows += [("r0", "2024-06-01", "male", 40, "own_home", "A"),
             ("m0", "2019-01-10", "female", 27, "homeless", "A")]
    g = grund(rows)
    u = upp([(p, "2022-07-10") for p in ids_f] + [("m3", "2021-06-01")])  # m3's is before its Grund
    b = bortfall([
        ("m0", "2022-09-01", "uppfoljning", "u_unreachable", "female", 30, "homeless", "A"),
        ("m1", "2022-10-01", "uppfoljning", "u_declined", "female", 30, "homeless", "A"),
        ("m0", "2019-09-01", "uppfoljning", "u_declined", "female", 27, "homeless", "A"),  # earlier episode
    ])
    return Dataset(g, u, b, EMPTY_INS)


def test_followup_bortfall_by_hand(followup_ds):
    r = bf.followup_bortfall(followup_ds, as_of="2024-12-31", period="year")
    r22 = r.loc[r["period"] == "2022"].set_index("measure")
    assert r22["n"].unique().tolist() == [10]
    assert r22["k"].to_dict() == {"followed_up": 6, "missed": 4, "missed_registered": 2, "missed_unregistered": 2}
    lo, hi = wilson(4, 10)
    assert r22.loc["missed", ["share", "ci_low", "ci_high"]].tolist() == pytest.approx([0.4, lo, hi])
    # the 2019 baseline of m0: its window passed, and it has its own record
    r19 = r.loc[r["period"] == "2019"].set_index("measure")
    assert r19.loc["missed_registered", ["n", "k"]].tolist() == [1, 1]
    assert "2024" not in set(r["period"])  # r0 not yet due → not in the denominator


def test_followup_bortfall_by_sex(followup_ds):
    r = bf.followup_bortfall(followup_ds, as_of="2024-12-31", by="sex")
    f = r.loc[(r["sex"] == "female") & (r["measure"] == "missed")].iloc[0]
    assert (f["n"], f["k"]) == (4, 4)  # m0 twice (2019, 2022), m1, m2


def test_attrition_bias_and_warning(followup_ds):
    r = bf.attrition_bias(followup_ds, as_of="2024-12-31")
    hl = r.set_index("variable").loc["housing=homeless"]
    # followed: 6 of 6 own home; missed: 5 baselines (m0 twice), all homeless
    assert (hl["n_followed"], hl["n_missed"]) == (6, 5)
    assert (hl["value_followed"], hl["value_missed"]) == (0.0, 1.0)
    assert (hl["k_followed"], hl["k_missed"]) == (0, 5)
    age = r.set_index("variable").loc["age"]
    s1, s0 = 0.0, np.std([30, 30, 30, 30, 27], ddof=1)
    assert age["smd"] == pytest.approx((40 - np.mean([30, 30, 30, 30, 27])) / math.sqrt((s1**2 + s0**2) / 2))
    w = r.attrs["asi"]["warning"]
    assert w.startswith("De som följts upp skiljer sig från de som inte följts upp:")
    assert "Färre än tio" in w
    assert r.attrs["asi"]["bortfall_share"] == pytest.approx(5 / 11)


def test_no_warning_when_balanced():
    g = grund([(f"c{i}", "2022-01-01", "male" if i % 2 else "female", 30 + i % 3, "own_home", "A")
               for i in range(40)])
    u = upp([(f"c{i}", "2022-07-01") for i in range(40) if i % 5 != 0])  # 4 women, 4 men missed
    ds = Dataset(g, u, bortfall([]), EMPTY_INS)
    r = bf.attrition_bias(ds, as_of="2025-01-01")
    assert (r["smd"].abs() < 0.2).all(), r[["variable", "smd"]]
    assert r.attrs["asi"]["warning"] is None
    assert bf.attrition_warning(r) is None


def test_unknown_group_column_is_input_error(grund_ds):
    from asi_lib.errors import AsiInputError
    with pytest.raises(AsiInputError):
        bf.grund_bortfall(grund_ds, by="shoe_size")
    with pytest.raises(AsiInputError):
        bf.bortfall_reasons(grund_ds, "other")


# ----------------------------------------------------------------------------- demo region
@pytest.fixture(scope="module")
def demo():
    from asi_lib.datasets import read_dataset
    return read_dataset("demo")


def test_demo_followup_bortfall_is_selective(demo):
    """The generator makes follow-up bortfall depend on the client's situation: homeless more often missed."""
    r = bf.followup_bortfall(demo, by="housing")
    missed = r.loc[r["measure"] == "missed"].set_index("housing")
    assert missed.loc["homeless", "share"] > missed.loc["own_home", "share"]
    # and the CIs do not overlap: not a chance finding
    assert missed.loc["homeless", "ci_low"] > missed.loc["own_home", "ci_high"]
    total = bf.followup_bortfall(demo)
    k = total.set_index("measure")["k"]
    assert k["missed"] == k["missed_registered"] + k["missed_unregistered"]
    assert k["missed"] + k["followed_up"] == total["n"].iloc[0]


def test_demo_attrition_warning_fires(demo):
    r = bf.attrition_bias(demo)
    w = r.attrs["asi"]["warning"]
    assert w is not None and w.startswith("De som följts upp skiljer sig")
    hl = r.set_index("variable").loc["housing=homeless"]
    assert hl["value_missed"] > hl["value_followed"]
    assert r["n_followed"].max() >= 10 and r["n_missed"].max() >= 10


def test_demo_publishable_no_small_cells(demo):
    """Published bortfall tables never show a count in (0, 5), directly or as n − k."""
    from asi_lib.publish import publish
    for raw in (bf.grund_bortfall(demo, by=["municipality", "sex"]),
                bf.bortfall_reasons(demo, "grund", by="municipality"),
                bf.followup_bortfall(demo, by="municipality"),
                bf.who_is_missing(demo.filter(municipality="Ekmarken")),
                bf.attrition_bias(demo.filter(municipality="Ekmarken"))):
        assert "n" in raw.columns and "asi" in raw.attrs
        if "flag" in raw.columns and "n_followed" in raw.columns:  # the warning never quotes a hidden cell
            fl = raw.loc[raw["flag"]]
            assert (fl[["n_followed", "n_missed"]] >= 5).all().all()
        out = publish(raw)
        assert len(out) == len(raw)
        for c in out.columns:
            vals = pd.to_numeric(out[c].astype(str).str.replace("\u00a0", "").str.replace(" ", ""),
                                 errors="coerce")
            if c in ("Antal klienter", "Antal med egenskapen"):
                assert not ((vals > 0) & (vals < 5)).any(), (c, out[c].tolist())


def test_followup_bortfall_publish_cannot_recover_registered_from_missed():
    # unit A: 12 followed up, 10 missed of which 2 have a registered reason, 8 not.
    # Hiding only "2" would leave it as missed − unregistered = 10 − 8.
    fol = [f"f{i}" for i in range(12)]
    reg, unreg = ["r0", "r1"], [f"u{i}" for i in range(8)]
    g = grund([(p, "2022-01-10", "male", 40, "own_home", "A") for p in fol + reg + unreg])
    u = upp([(p, "2022-07-10") for p in fol])
    b = bortfall([(p, "2022-09-01", "uppfoljning", "u_declined", "male", 40, "own_home", "A") for p in reg])
    raw = bf.followup_bortfall(Dataset(g, u, b, EMPTY_INS), as_of="2024-12-31", by="unit")
    assert raw.set_index("measure")["k"].to_dict() == \
        {"followed_up": 12, "missed": 10, "missed_registered": 2, "missed_unregistered": 8}
    ks = publish(raw, min_cell=5)["Antal med egenskapen"].tolist()
    assert ks[0] == "12" and ks[2] == "<5"
    # of "missed" (10) and "missed_unregistered" (8) at least one is hidden
    assert "10" not in ks or "8" not in ks, ks


def test_attrition_bias_includes_municipality_and_cites_the_threshold_right():
    import math

    from asi_lib import bortfall
    from asi_lib.dataset import Dataset

    g = pd.DataFrame({"client_pid": list("abcdefgh"), "interview_date": pd.to_datetime(["2022-01-01"] * 8),
                      "municipality": ["A"] * 4 + ["B"] * 4})
    # all of A followed up, one of B
    u = pd.DataFrame({"client_pid": list("abcde"), "interview_date": pd.to_datetime(["2022-07-01"] * 5)})
    b = pd.DataFrame(columns=["client_pid", "form", "bortfall_date", "bortfall_reason"])
    r = bortfall.attrition_bias(Dataset(g, u, b, pd.DataFrame()), as_of="2025-01-01", min_cell=1)
    row = r.set_index("variable").loc["municipality=B"]
    p1, p0 = 1 / 5, 3 / 3
    assert (row["value_followed"], row["value_missed"]) == pytest.approx((p1, p0))
    assert row["smd"] == pytest.approx((p1 - p0) / math.sqrt((p1 * (1 - p1) + p0 * (1 - p0)) / 2))
    assert row["label"] == "Kommun: B" and bool(row["flag"])
    # the 0.2 default is Cohen's "small"; Austin (2009) uses 0.1
    src = r.attrs["asi"]["threshold_source"]
    assert "Cohen" in src and "Austin (2009) använder 0,1" in src
    doc = bortfall.attrition_bias.__doc__
    assert "conventional balance limit (Austin 2009" not in doc


def test_ipw_change_against_statsmodels_logit_and_bounds_by_hand():
    import statsmodels.api as sm

    from asi_lib.bortfall import ipw_change
    from asi_lib.datasets import read_dataset
    from asi_lib.followup import pair_followups

    p = pair_followups(read_dataset("demo"))
    t = ipw_change(p, "alcohol", covariates=("sex",)).set_index("analysis")
    bl = p.baselines[p.baselines["status"].isin(["followed_up", "missed"])]
    x0 = pd.to_numeric(bl["composite_alcohol_0"], errors="coerce")
    sex = bl["sex"].astype("string")
    ok = (x0.notna() & sex.notna()).to_numpy()
    X = np.column_stack([np.ones(ok.sum()), x0[ok], (sex[ok] == "male").astype(float)])
    R = (bl["status"] == "followed_up").to_numpy()[ok].astype(float)
    fit = sm.Logit(R, X).fit(disp=0)
    w = R.mean() / np.maximum(fit.predict(X), 0.05)
    pr = p.pairs.set_index("baseline_id")
    d = (pr["composite_alcohol_1"] - pr["composite_alcohol_0"]).reindex(bl["baseline_id"].to_numpy()).to_numpy()[ok]
    has = (R == 1) & ~np.isnan(d)
    assert t.loc["complete_case", "diff"] == pytest.approx(d[has].mean())
    assert t.loc["ipw", "diff"] == pytest.approx(np.sum(w[has] * d[has]) / np.sum(w[has]))
    n_m = int((R == 0).sum())
    assert t.loc["missing_unchanged", "diff"] == pytest.approx(d[has].sum() / (has.sum() + n_m))
    assert t.loc["bound_low", "diff"] == pytest.approx((d[has].sum() + n_m * d[has].min()) / (has.sum() + n_m))
    assert t.loc["bound_high", "diff"] == pytest.approx((d[has].sum() + n_m * d[has].max()) / (has.sum() + n_m))
    assert t.loc["ipw", "ci_low"] < t.loc["ipw", "diff"] < t.loc["ipw", "ci_high"]
