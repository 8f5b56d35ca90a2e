"""Synthetic region: determinism, store contract, realism and the documented traps.

The composite formulas are written out here from the brief (ASI-5, VistA
weights), independently of asi_lib.synth / asi_lib.scores.
"""
import hashlib
import hmac
import json
import subprocess
import sys
from datetime import date

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf

from asi_lib import synth
from asi_lib.codebook import N_CODE, X_CODE, load_codebook
from asi_lib.datasets import read_dataset

CB = load_codebook()


@pytest.fixture(scope="module")
def region():
    return synth.generate()


@pytest.fixture(scope="module")
def big():
    return synth.generate(n_clients=20000, seed=20261122)


def num(s):
    """Item values as floats, X/N/empty -> NaN."""
    a = s.to_numpy(dtype="float64", na_value=np.nan).copy()
    a[(a == X_CODE) | (a == N_CODE)] = np.nan
    return a


def alcohol_comp(df):
    # (D1 + D2 + D26)/180 + (D28 + D30)/24 + ln(D23 in "USD")/44, ln term capped at 1/6, ln only for > 0
    money = df["alcohol_money"].to_numpy(dtype="float64", na_value=np.nan)
    money = np.where(money == N_CODE, 0.0, np.where(money == X_CODE, np.nan, money))
    usd = money / 10.0
    ln = np.zeros_like(usd)
    pos = usd > 0
    ln[pos] = np.log(usd[pos])
    ln = np.where(np.isnan(usd), np.nan, np.minimum(ln / 44.0, 1.0 / 6.0))
    return ((num(df["alcohol_days"]) + num(df["alcohol_intox_days"]) + num(df["alcohol_problem_days"])) / 180.0
            + (num(df["alcohol_troubled"]) + num(df["alcohol_importance"])) / 24.0 + ln)


DRUG_DAYS = ["heroin_days", "methadone_days", "other_opioids_days", "barbiturates_days", "sedatives_days",
             "cocaine_days", "amphetamine_days", "cannabis_days", "hallucinogens_days",
             "several_substances_days", "drug_problem_days"]


def drug_comp(df):
    days = sum(num(df[c]) for c in DRUG_DAYS)
    return days / 390.0 + (num(df["drug_troubled"]) + num(df["drug_importance"])) / 52.0


def analysis_frame(region, comp):
    g, u, ins = (region.tables[t] for t in ("grund", "uppfoljning", "insatser"))
    g = g.assign(c0=comp(g))
    u = u.assign(c1=comp(u))
    first = (u[u["followup_type"] == "ordinary"].sort_values("interview_date")
             .groupby("client_id", observed=True).head(1))
    main = ins.sort_values("start_date").groupby("client_id", observed=True).head(1)
    d = (first[["client_id", "c1"]].merge(g[["client_id", "c0", "sex", "age"]], on="client_id")
         .merge(main[["client_id", "intervention_type"]], on="client_id"))
    d["band"] = np.select([d["age"] <= 30, d["age"] <= 50], ["a18_30", "a31_50"], "a51")
    d["intervention"] = d["intervention_type"].astype(str)
    d["sex"] = d["sex"].astype(str)
    return d.dropna(subset=["c0", "c1"])


FORMULA = ("c1 ~ c0 + C(intervention, Treatment('contact_person')) + C(sex, Treatment('male'))"
           " + C(band, Treatment('a31_50'))")


# ------------------------------------------------------------------ determinism and contract
def test_same_seed_identical_frames_other_seed_differs():
    a, b = synth.generate(n_clients=400, seed=5), synth.generate(n_clients=400, seed=5)
    for t in a.tables:
        pd.testing.assert_frame_equal(a.tables[t], b.tables[t])
    assert a.truth == b.truth
    c = synth.generate(n_clients=400, seed=6)
    assert not a.tables["grund"]["alcohol_days"].equals(c.tables["grund"]["alcohol_days"])


@pytest.mark.parametrize("table", ["grund", "uppfoljning", "bortfall", "insatser"])
def test_store_dtypes_and_codebook_values(region, table):
    df = region.tables[table]
    expected = {("client_id" if k == "client_pid" else k): v for k, v in CB.dtypes(table).items()}
    assert list(df.columns) == CB.column_names(table)
    for col, dtype in expected.items():
        if dtype == "category":
            assert isinstance(df[col].dtype, pd.CategoricalDtype), col
        else:
            assert str(df[col].dtype) == dtype, (col, df[col].dtype, dtype)
    for c in CB.columns(table):
        s = df[c.name]
        if c.required:
            assert s.notna().all(), f"{table}.{c.name} has empty required cells"
        if c.type == "category":
            assert set(s.dropna().astype(str)) <= set(c.codes), c.name
        if c.type == "integer":
            v = s.dropna().to_numpy(dtype="int64")
            sentinel = np.isin(v, [X_CODE if "X" in c.missing else 999, N_CODE if "N" in c.missing else 999])
            vals = v[~sentinel]
            if c.codes is not None and c.range is None:
                assert set(vals) <= set(c.codes), c.name
            lo, hi = c.range
            assert ((vals >= lo) & (vals <= hi)).all(), (c.name, vals.min(), vals.max())
    assert df["client_id"].str.fullmatch(r"K\d{2}-\d{6}").all()


def test_truth_is_json_and_exposes_models(region):
    t = json.loads(json.dumps(region.truth))
    assert t["effects"]["alcohol"]["contact_person"] == 0.0 == t["effects"]["drugs"]["contact_person"]
    for area in ("alcohol", "drugs"):
        m = t["outcome_model"][area]
        assert 0 < m["slope_baseline"] < 1 and m["noise_sd"] > 0
    assert "logit_followed_up" in t["bortfall_model"]["uppfoljning"]
    assert synth.true_parameters()["effects"] == t["effects"]


# ------------------------------------------------------------------ realism
def test_region_shape(region):
    g, u, b = (region.tables[t] for t in ("grund", "uppfoljning", "bortfall"))
    per_muni = g.groupby("municipality")["client_id"].nunique()
    assert 9 <= len(per_muni) <= 12
    assert (per_muni < 10).sum() >= 2
    assert per_muni.max() > 20 * per_muni.min()
    units = g.groupby("municipality")["unit"].nunique()
    assert units.between(1, 3).all() and units.max() == 3
    for df, col in ((g, "interview_date"), (u, "interview_date"), (b, "bortfall_date")):
        assert df[col].min() >= pd.Timestamp("2019-01-01")
        assert df[col].max() <= pd.Timestamp(min(date(2025, 12, 31), date.today()))
        assert df[col].dt.year.nunique() == 7


def test_demographics(region):
    g = region.tables["grund"]
    assert 0.25 <= (g["sex"] == "female").mean() <= 0.35
    assert g["age"].min() >= 18 and g["age"].max() <= 80
    assert 35 <= g["age"].median() <= 41
    share = g["main_substance"].value_counts(normalize=True)
    assert 0.50 <= share["alcohol"] <= 0.60
    assert (share[["cannabis", "amphetamine", "opioids", "benzodiazepines", "cocaine", "several", "other"]] > 0).all()
    # drug clients are younger; homelessness is commoner among opioid/amphetamine clients
    assert g.loc[g.main_substance == "cannabis", "age"].median() < g.loc[g.main_substance == "alcohol", "age"].median()
    hl = g["housing"].isin(["homeless", "temporary"])
    assert hl[g.main_substance.isin(["opioids", "amphetamine"])].mean() > 2 * hl[g.main_substance == "alcohol"].mean()


def test_items_follow_substance_and_ratings_follow_severity(region):
    g = region.tables["grund"]
    alc, drg = alcohol_comp(g), drug_comp(g)
    is_alc = (g["main_substance"] == "alcohol").to_numpy()
    assert np.nanmean(alc[is_alc]) > 3 * np.nanmean(alc[~is_alc])
    opi = (g["main_substance"] == "opioids").to_numpy()
    assert np.nanmean(num(g["heroin_days"])[opi]) > 5 * np.nanmean(num(g["heroin_days"])[is_alc] + 0.1)
    # interviewer rating correlates with the composite and with the self-rating
    r = num(g["rating_alcohol"])
    ok = ~np.isnan(r) & ~np.isnan(alc)
    assert np.corrcoef(r[ok], alc[ok])[0, 1] > 0.8
    # intoxication days never exceed days of any use
    d1, d2 = num(g["alcohol_days"]), num(g["alcohol_intox_days"])
    ok = ~np.isnan(d1) & ~np.isnan(d2)
    assert (d2[ok] <= d1[ok]).all()


def test_missing_tokens_and_gambling(region):
    g = region.tables["grund"]
    rating_cols = [f"rating_{a}" for a in ("medical", "employment", "alcohol", "drugs", "legal", "family", "psychiatric")]
    any_missing = g[rating_cols].isna().any(axis=1).mean()
    assert 0.01 <= any_missing <= 0.08
    assert (g["rating_gambling"] == N_CODE).mean() > 0.85
    assert 0.01 <= (g["rating_gambling"] != N_CODE).mean() <= 0.12
    assert (g["alcohol_days"] == X_CODE).any() and (g["psych_depression"] == X_CODE).any()
    assert (g["conflict_partner"] == N_CODE).mean() > 0.3  # no partner -> not relevant
    assert (g["conflict_mother"] == N_CODE)[g["age"] > 65].mean() > (g["conflict_mother"] == N_CODE)[g["age"] < 30].mean()


def test_followups_and_bortfall(region):
    g, u, b, ins = (region.tables[t] for t in ("grund", "uppfoljning", "bortfall", "insatser"))
    share = u["client_id"].nunique() / g["client_id"].nunique()
    assert 0.40 <= share <= 0.62
    d = u.merge(g[["client_id", "interview_date"]], on="client_id", suffixes=("", "_g"))
    days = (d["interview_date"] - d["interview_date_g"]).dt.days
    assert (days > 0).all()
    assert 0.8 <= days.between(90, 730).mean() < 1.0  # mostly 3-24 months, some outside
    assert (u["followup_type"] == "reactualisation").sum() > 0
    assert (u.groupby("client_id").size() == 2).sum() > 0
    # bortfall reasons belong to the form
    reason_form = {k: v["form"] for k, v in CB.codelist("bortfall_reason").items()}
    assert (b["bortfall_reason"].astype(str).map(reason_form) == b["form"].astype(str)).all()
    assert set(b["form"].astype(str)) == {"grund", "uppfoljning"}
    # no client is both interviewed (Grund) and a Grund bortfall
    gb = b[b["form"] == "grund"]
    assert not set(gb["client_id"]) & set(g["client_id"])
    # every Grund client has a main intervention (unless it starts after the horizon)
    assert ins["client_id"].nunique() >= 0.98 * g["client_id"].nunique()
    ended = ins.dropna(subset=["end_date"])
    assert (ended["end_date"] > ended["start_date"]).all()
    notdone = ended["completed"] == 0
    assert ended.loc[notdone, "termination_reason"].notna().all()
    assert ended.loc[~notdone, "termination_reason"].isna().all()


def test_bortfall_reasons_differ_by_group(big):
    b = big.tables["bortfall"]
    uf = b[b["form"] == "uppfoljning"]
    hl = uf["housing"].isin(["homeless", "temporary"])
    unreach = uf["bortfall_reason"] == "u_unreachable"
    assert unreach[hl].mean() > unreach[~hl].mean() + 0.2
    gf = b[b["form"] == "grund"]
    assert (gf["bortfall_reason"] == "g_mental_illness")[gf["psychiatric_contact"] == 1].mean() > \
        (gf["bortfall_reason"] == "g_mental_illness")[gf["psychiatric_contact"] == 0].mean()


# ------------------------------------------------------------------ the traps
def test_ancova_recovers_true_alcohol_effects(big):
    d = analysis_frame(big, alcohol_comp)
    assert len(d) > 7000
    fit = smf.ols(FORMULA, d).fit()
    ci = fit.conf_int(0.05)
    truth = big.truth["effects"]["alcohol"]
    prefix = "C(intervention, Treatment('contact_person'))[T.{}]"
    inside = {k: ci.loc[prefix.format(k), 0] <= v <= ci.loc[prefix.format(k), 1]
              for k, v in truth.items() if k != "contact_person"}
    assert all(inside.values()), (inside, fit.params.filter(like="intervention"))
    om = big.truth["outcome_model"]["alcohol"]
    assert ci.loc["c0", 0] <= om["slope_baseline"] <= ci.loc["c0", 1]
    # the null intervention, absolute scale: remove the known model, the contact_person mean covers 0
    eff = d["intervention"].map(truth)
    band = d["band"].map({"a18_30": om["age_band"]["18-30"], "a31_50": 0.0, "a51": om["age_band"]["51+"]})
    resid = d["c1"] - om["intercept"] - om["slope_baseline"] * d["c0"] - om["female"] * (d["sex"] == "female") - band
    null = resid[d["intervention"] == "contact_person"]
    half = 1.96 * null.std(ddof=1) / np.sqrt(len(null))
    assert abs(null.mean()) <= half
    # ...and the other interventions are recovered on that scale too (joint check)
    assert abs((resid - eff).mean()) < 0.005


def test_ancova_recovers_true_drug_effects(big):
    d = analysis_frame(big, drug_comp)
    fit = smf.ols(FORMULA, d).fit()
    truth = big.truth["effects"]["drugs"]
    prefix = "C(intervention, Treatment('contact_person'))[T.{}]"
    names = [prefix.format(k) for k in truth if k != "contact_person"]
    # joint Wald test of all effects equal to the truth
    R = np.zeros((len(names), len(fit.params)))
    for i, nm in enumerate(names):
        R[i, list(fit.params.index).index(nm)] = 1.0
    q = np.array([truth[k] for k in truth if k != "contact_person"])
    assert float(fit.wald_test((R, q), scalar=True).pvalue) > 0.01


def test_regression_to_the_mean_and_confounding(big):
    d = analysis_frame(big, alcohol_comp)
    naive = (d["c1"] - d["c0"]).mean()
    mean_effect = d["intervention"].map(big.truth["effects"]["alcohol"]).mean()
    assert naive < mean_effect - 0.05  # naive change much larger improvement than any true effect
    # assignment follows observed severity: residential gets the most severe, mi_counselling the least
    by = d.groupby("intervention")["c0"].mean()
    assert by["residential"] > by["contact_person"] > by["mi_counselling"]
    # naive change by intervention misranks: residential looks best although cra has the same true effect
    change = (d["c1"] - d["c0"]).groupby(d["intervention"]).mean()
    assert change["residential"] < change["cra"]


def test_followup_selection_depends_on_situation(big):
    g, u = big.tables["grund"], big.tables["uppfoljning"]
    # due clients only (Grund at least 2 years before the horizon)
    due = g[g["interview_date"] <= pd.Timestamp(big.truth["horizon"]) - pd.Timedelta(days=730)]
    fu = due["client_id"].isin(u["client_id"])
    hl = due["housing"].isin(["homeless", "temporary"])
    assert fu[~hl].mean() > fu[hl].mean() + 0.15
    dc = drug_comp(due)
    assert np.nanmean(dc[fu.to_numpy()]) < np.nanmean(dc[~fu.to_numpy()])


# ------------------------------------------------------------------ export, write, CLI, datasets
def test_export_frames_tokens_and_iso_dates(region):
    ex = region.to_export_frames()
    g = ex["grund"]
    assert list(g.columns) == CB.column_names("grund")
    assert (g["rating_gambling"] == "N").mean() > 0.85
    assert (g["alcohol_days"] == "X").any()
    assert g["interview_date"].str.fullmatch(r"\d{4}-\d{2}-\d{2}").all()
    st = region.tables["grund"]
    plain = st["alcohol_days"].notna() & (st["alcohol_days"] >= 0)
    assert (g.loc[plain, "alcohol_days"].astype(int) == st.loc[plain, "alcohol_days"].astype(int)).all()
    assert g["rating_alcohol"].isna().any()  # empty interviewer rating stays empty


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "parquet"])
def test_write_formats(tmp_path, fmt):
    r = synth.generate(n_clients=120, seed=2)
    paths = r.write(tmp_path, format=fmt)
    assert (tmp_path / "truth.json").exists()
    if fmt == "csv":
        back = pd.read_csv(tmp_path / "grund.csv", dtype=str, keep_default_na=False)
        assert list(back.columns) == CB.column_names("grund") and len(back) == len(r.tables["grund"])
    elif fmt == "xlsx":
        import openpyxl
        wb = openpyxl.load_workbook(paths[0], read_only=True)
        assert wb.sheetnames == ["grund", "uppfoljning", "bortfall", "insatser"]
    else:
        back = pd.read_parquet(tmp_path / "insatser.parquet")
        pd.testing.assert_frame_equal(back, r.tables["insatser"], check_dtype=False, check_categorical=False)


def test_cli_synth(tmp_path):
    res = subprocess.run([sys.executable, "-m", "asi_lib", "synth", "--clients", "150", "--seed", "3",
                          "--out", str(tmp_path), "--format", "csv"], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bortfall.csv", "grund.csv", "insatser.csv",
                                                          "truth.json", "uppfoljning.csv"]
    bad = subprocess.run([sys.executable, "-m", "asi_lib", "synth", "--clients", "5", "--out", str(tmp_path)],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


def test_read_dataset_pseudonymises_with_demo_key():
    ds = read_dataset("demo", n_clients=300, seed=9)
    region = synth.generate(n_clients=300, seed=9)
    for t in ("grund", "uppfoljning", "bortfall", "insatser"):
        df = ds.table(t)
        assert "client_id" not in df.columns and str(df["client_pid"].dtype) == "string"
        assert df["client_pid"].str.fullmatch(r"[0-9a-f]{64}").all()
    raw = region.tables["grund"].iloc[0]
    expect = hmac.new(b"asi-kit-demo-key", f"{raw['municipality'].casefold()}|{raw['client_id']}".encode(),
                      hashlib.sha256).hexdigest()
    assert ds.grund["client_pid"].iloc[0] == expect
    assert ds.meta["truth"]["effects"] == synth.TRUE_PARAMS["effects"]
    again = read_dataset("demo", n_clients=300, seed=9)
    again.grund.loc[again.grund.index[0], "age"] = 99
    assert read_dataset("demo", n_clients=300, seed=9).grund["age"].iloc[0] != 99


# ------------------------------------------------------------------ national region
def test_municipality_sizes_honour_count_floor_total_and_sigma():
    k, floor = 2000, 1
    sizes = synth.municipality_sizes(100_000_000, k, sigma=1.3, floor=floor, seed=4)
    assert len(sizes) == k and int(sizes.sum()) == 100_000_000 and sizes.min() >= floor
    assert (np.diff(sizes) <= 0).all()  # largest first
    # log sizes of a lognormal: SD = sigma (standard error sigma / sqrt(2k) ~ 0.02 here)
    assert np.std(np.log(sizes - floor), ddof=1) == pytest.approx(1.3, abs=0.08)
    narrow = synth.municipality_sizes(100_000_000, k, sigma=0.5, floor=floor, seed=4)
    assert np.std(np.log(narrow - floor), ddof=1) == pytest.approx(0.5, abs=0.05)
    # the floor binds when the region is small
    tiny = synth.municipality_sizes(1000, 290, sigma=1.3, floor=3, seed=4)
    assert tiny.min() == 3 and int(tiny.sum()) == 1000 and (tiny == 3).sum() > 50


def test_municipality_sizes_are_seed_stable_and_skewed():
    a = synth.municipality_sizes(350_000, 290, seed=11)
    assert (a == synth.municipality_sizes(350_000, 290, seed=11)).all()
    assert not (a == synth.municipality_sizes(350_000, 290, seed=12)).all()
    # many small beside a few big: mean well above the median, the biggest > 20x the median
    assert a.mean() > 1.5 * np.median(a) and a[0] > 20 * np.median(a)
    assert (a < np.median(a) / 4).sum() >= 29
    with pytest.raises(synth.AsiInputError):
        synth.municipality_sizes(100, 290)


@pytest.fixture(scope="module")
def national():
    return synth.generate(n_clients=6000, seed=5, municipalities=120, size_sigma=1.2, min_clients=4)


def test_national_region_has_the_asked_municipalities_and_sizes(national):
    t = national.truth
    sizes = synth.municipality_sizes(6000, 120, sigma=1.2, floor=4, seed=5)
    assert [m["clients"] for m in t["municipalities"].values()] == sizes.tolist()
    assert t["national"]["municipalities"] == 120 and t["national"]["size_sigma"] == 1.2
    # target group per municipality (Grund clients + Grund bortfall), counted from the tables
    g, b = national.tables["grund"], national.tables["bortfall"]
    target = pd.concat([g[["municipality", "client_id"]],
                        b.loc[b["form"] == "grund", ["municipality", "client_id"]]])
    per = target.groupby("municipality", observed=True)["client_id"].nunique()
    assert len(per) == 120 and per.min() >= 4
    assert per.to_dict() == {nm: m["clients"] for nm, m in t["municipalities"].items()}
    assert g["client_id"].str.fullmatch(r"K\d{3}-\d{6}").all()  # three digits beyond 99 municipalities
    units = g.groupby("municipality", observed=True)["unit"].nunique()
    size = pd.Series({nm: m["clients"] for nm, m in t["municipalities"].items()})[units.index]
    assert (units >= 1).all() and (units[size < 200] == 1).all() and units[size >= 200].max() == 2
    assert t["national"]["no_routine_municipalities"] and t["no_routine_municipality"] in t["municipalities"]


def test_national_region_is_seed_stable(national):
    again = synth.generate(n_clients=6000, seed=5, municipalities=120, size_sigma=1.2, min_clients=4)
    for name, df in national.tables.items():
        pd.testing.assert_frame_equal(df, again.tables[name])
    other = synth.generate(n_clients=6000, seed=6, municipalities=120, size_sigma=1.2, min_clients=4)
    assert other.truth["municipalities"] != national.truth["municipalities"]


def test_national_names_distinct_also_as_file_names():
    from asi_lib.reports import report_filename

    names = synth.municipality_names(290, seed=3)
    assert len(set(names)) == 290 and len({report_filename(n) for n in names}) == 290
    assert names == synth.municipality_names(290, seed=3)


def test_cli_synth_national(tmp_path):
    res = subprocess.run([sys.executable, "-m", "asi_lib", "synth", "--clients", "900", "--municipalities", "30",
                          "--size-sigma", "1.0", "--seed", "3", "--out", str(tmp_path), "--format", "parquet"],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert "30 kommuner" in res.stdout
    truth = json.loads((tmp_path / "truth.json").read_text(encoding="utf-8"))
    assert len(truth["municipalities"]) == 30 and truth["national"]["size_sigma"] == 1.0
    bad = subprocess.run([sys.executable, "-m", "asi_lib", "synth", "--clients", "50", "--municipalities", "30",
                          "--out", str(tmp_path)], capture_output=True, text=True)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
