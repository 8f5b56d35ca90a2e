"""groups.py against hand-worked values, numpy/scipy and the demo region."""
import numpy as np
import pandas as pd
import pytest
from scipy import stats as st
from statsmodels.stats.proportion import proportion_confint

from asi_lib import groups
from asi_lib.codebook import numeric
from asi_lib.datasets import read_dataset
from asi_lib.errors import AsiInputError
from asi_lib.publish import TOTAL, publish


@pytest.fixture(scope="module")
def demo():
    return read_dataset("demo")


def _toy():
    return pd.DataFrame({
        "client_pid": ["a", "a", "b", "c", "d", "e"],
        "interview_date": pd.to_datetime(["2023-03-01", "2024-02-01", "2024-05-01", "2024-07-01",
                                          "2024-12-31", "2025-01-01"]),
        "municipality": ["X", "Y", "X", "X", "Y", "Y"],
        "sex": pd.Categorical(["male", "male", "female", "male", None, "female"], categories=["male", "female"]),
        "age": pd.array([17, 24, 25, 31, 70, None], dtype="Int16"),
        "rating_alcohol": pd.array([9, 2, 4, -8, 6, 1], dtype="Int16"),
        "psychiatric_contact": pd.array([1, 0, -8, 1, 1, 0], dtype="Int16"),
    })


def test_age_bands_edges_and_schemes():
    a = pd.Series([17, 18, 24, 25, 34, 35, 64, 65, 99, None], dtype="Int16")
    assert groups.age_bands(a).astype(object).where(lambda s: s.notna(), None).tolist() == [
        None, "18–24", "18–24", "25–34", "25–34", "35–44", "55–64", "65+", "65+", None]
    assert groups.age_bands(a, "young_adults").astype(object).tolist()[1:4] == ["18–30", "18–30", "18–30"]
    assert groups.age_bands(pd.Series([30, 31]), "young_adults").tolist() == ["18–30", "31+"]
    assert groups.age_bands(pd.Series([20, 40]), [18, 40]).tolist() == ["18–39", "40+"]
    with pytest.raises(AsiInputError):
        groups.age_bands(a, "nonsense")


def test_periods_labels():
    d = pd.Series(pd.to_datetime(["2024-01-01", "2024-06-30", "2024-07-01", "2024-12-31"]))
    assert groups.periods(d, "half").tolist() == ["2024 H1", "2024 H1", "2024 H2", "2024 H2"]
    assert groups.periods(d, "quarter").tolist() == ["2024 K1", "2024 K2", "2024 K3", "2024 K4"]
    assert groups.periods(d, "year").tolist() == ["2024"] * 4


def test_latest_grund_per_client_and_period():
    g = _toy()
    latest = groups.latest_grund(g)
    assert sorted(latest["client_pid"]) == list("abcde")
    assert latest.set_index("client_pid").loc["a", "municipality"] == "Y"
    in_2024 = groups.latest_grund(g, period="2024")
    assert sorted(in_2024["client_pid"]) == list("abcd")
    h1 = groups.latest_grund(g, period="2024 H1")
    assert sorted(h1["client_pid"]) == ["a", "b"]
    q = groups.latest_grund(g, period=("2023-01-01", "2023-12-31"))
    assert q["client_pid"].tolist() == ["a"]


def test_profile_hand_worked():
    g = _toy()
    p = groups.profile(g, by="municipality", measures=["rating_alcohol"])
    # latest per client: a→Y(2), b→X(4), c→X(X), d→Y(6), e→Y(1)
    x = p[p["municipality"] == "X"].iloc[0]
    y = p[p["municipality"] == "Y"].iloc[0]
    t = p[p["municipality"] == TOTAL].iloc[0]
    assert (x["n"], x["n_missing"], x["mean"]) == (2, 1, 4.0)
    assert (y["n"], y["n_missing"]) == (3, 0)
    assert y["mean"] == pytest.approx(3.0) and y["median"] == 2.0
    assert y["sd"] == pytest.approx(np.std([2, 6, 1], ddof=1))
    lo, hi = st.t.interval(0.95, 2, loc=3.0, scale=np.std([2, 6, 1], ddof=1) / np.sqrt(3))
    assert lo < 0 and hi > 9  # the t interval of 3 values reaches past the 0–9 scale...
    assert (y["ci_low"], y["ci_high"]) == (0.0, 9.0)  # ...the rating cannot: cut at its ends
    assert (t["n"], t["n_missing"], t["mean"]) == (5, 1, pytest.approx(13 / 4))
    assert p.attrs["asi"]["selection"].startswith("senaste Grund")
    pa = groups.profile(g, by="municipality", measures=["rating_alcohol"], selection="all")
    assert pa.loc[pa["municipality"] == TOTAL, "n"].item() == 6
    assert pa.attrs["asi"]["unit"] == "intervjuer"


def test_profile_demo_matches_numpy(demo):
    p = groups.profile(demo, by="sex")
    assert {"composite_alcohol", "rating_alcohol"} <= set(p["measure"])
    latest = groups.latest_grund(demo.grund)
    assert p.loc[p["sex"] == TOTAL, "n"].iloc[0] == latest["client_pid"].nunique() == len(latest)
    v = numeric(latest["rating_drugs"])
    w = (latest["sex"].astype("string") == "female").to_numpy()
    row = p[(p["sex"] == "female") & (p["measure"] == "rating_drugs")].iloc[0]
    assert row["mean"] == pytest.approx(np.nanmean(v[w]))
    assert row["median"] == pytest.approx(np.nanmedian(v[w]))
    assert row["n_missing"] == int(np.isnan(v[w]).sum())
    x = v[w][~np.isnan(v[w])]  # well inside the 0–9 scale: the plain t interval, by scipy
    lo, hi = st.t.interval(0.95, len(x) - 1, loc=x.mean(), scale=x.std(ddof=1) / np.sqrt(len(x)))
    assert 0 < lo and hi < 9
    assert (row["ci_low"], row["ci_high"]) == (pytest.approx(lo), pytest.approx(hi))
    # group sizes add up to the total (additive)
    per = p[p["measure"] == "rating_drugs"]
    assert per.loc[per["sex"] != TOTAL, "n"].sum() == per.loc[per["sex"] == TOTAL, "n"].item()


def test_category_profile_wilson_and_codes():
    g = _toy()
    c = groups.category_profile(g, "psychiatric_contact", by="municipality")
    y = c[(c["municipality"] == "Y")].set_index("category")
    # latest: a→Y 0, d→Y 1, e→Y 0 ; b→X X(missing), c→X 1
    assert y.loc["1", "k"] == 1 and y.loc["0", "k"] == 2 and y.loc["1", "n"] == 3
    lo, hi = proportion_confint(1, 3, method="wilson")
    assert y.loc["1", "ci_low"] == pytest.approx(lo) and y.loc["1", "ci_high"] == pytest.approx(hi)
    x = c[c["municipality"] == "X"].set_index("category")
    # X: b missing, c 1 → n = 2 clients, 1 without a value, share 1/1
    assert x.loc["1", "n"] == 2 and x.loc["1", "n_missing"] == 1 and x.loc["1", "share"] == 1.0
    tot = c[c["municipality"] == TOTAL].set_index("category")
    assert tot.loc["1", "k"] == 2 and tot.loc["1", "n"] == 5 and tot.loc["1", "share"] == pytest.approx(2 / 4)
    s = groups.category_profile(g, "sex")
    assert s["category"].tolist() == ["male", "female"]        # code-list order, k = 0 kept
    assert s["n_missing"].tolist() == [1, 1]


def test_crosstab_row_and_col(demo):
    t = groups.crosstab(demo, "sex", "main_substance")
    latest = groups.latest_grund(demo.grund)
    ref = pd.crosstab(latest["sex"].astype(str), latest["main_substance"].astype(str))
    got = t[t["sex"] == "female"].set_index("main_substance")
    assert got.loc["alcohol", "k"] == ref.loc["female", "alcohol"]
    assert got.loc["alcohol", "share"] == pytest.approx(ref.loc["female", "alcohol"] / ref.loc["female"].sum())
    c = groups.crosstab(demo, "sex", "main_substance", normalize="col")
    row = c[(c["sex"] == "female") & (c["main_substance"] == "cannabis")].iloc[0]
    assert row["share"] == pytest.approx(ref.loc["female", "cannabis"] / ref["cannabis"].sum())


def test_table1_and_publish(demo):
    t = groups.table1(demo, by="sex")
    assert {"sex", "age_band", "main_substance", "housing", "income_source", "ever_injected",
            "composite_alcohol", "rating_drugs", "age"} <= set(t["variable"])
    out = publish(t)
    assert len(out) == len(t)
    # nothing visible in (0, 5) anywhere in the published table
    for col in ("Antal klienter", "Antal med egenskapen", "Saknar värde"):
        nums = pd.to_numeric(out[col].str.replace("\u2009", ""), errors="coerce")
        assert not ((nums > 0) & (nums < 5)).any()


def test_publish_demo_profile_by_municipality(demo):
    p = groups.profile(demo, by="municipality")
    out = publish(p)
    n = pd.to_numeric(out["Antal klienter"].str.replace("\u2009", ""), errors="coerce")
    assert not ((n > 0) & (n < 5)).any()
    small = p["n"].between(1, 4).to_numpy()
    assert small.any()                                   # the demo has tiny municipalities
    assert (out.loc[small, "Medelvärde"] == "..").all()
    assert out.attrs["asi"]["suppressed_primary"] > 0


# ----------------------------------------------------------------- the fast paths against plain numpy/pandas
def _random_grund(n=4000, seed=7):
    """Clients with several interviews, ties on the date, missing groups and values."""
    rng = np.random.default_rng(seed)
    pid = [f"p{i:04d}" for i in rng.integers(0, n // 2, n)]
    day = pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 60, n), unit="D")
    mun = pd.Series(rng.choice(["A", "B", "C", "D", None], n, p=[.5, .3, .15, .04, .01]), dtype="string")
    rating = rng.integers(0, 5, n).astype("float64")
    rating[rng.random(n) < .1] = -8                          # X
    rating[rng.random(n) < .05] = np.nan                     # empty
    rating[(mun == "D").fillna(False).to_numpy(dtype=bool)] = -8                     # a group without any value
    comp = np.round(rng.beta(2, 5, n), 3)                    # ~ hundreds of distinct values
    comp[rng.random(n) < .05] = np.nan
    cont = rng.normal(50, 10, n)                             # every value distinct
    return pd.DataFrame({
        "client_pid": pd.Series(pid, dtype="string"), "interview_date": day, "municipality": mun,
        "sex": pd.Categorical(rng.choice(["male", "female"], n), categories=["male", "female"]),
        "age": pd.array(rng.integers(18, 80, n), dtype="Int16"),
        "rating_alcohol": pd.array(rating, dtype="Int16"), "composite_alcohol": comp, "cont": cont,
        "psychiatric_contact": pd.array(rng.choice([0, 1, -8], n), dtype="Int16"),
    })


def test_latest_grund_matches_sort_and_tail():
    g = _random_grund()
    got = groups.latest_grund(g)
    # reference: stable sort by date, keep each client's last row, back in table order
    ref = g.assign(_pos=np.arange(len(g))).sort_values(["interview_date", "_pos"], kind="stable")
    ref = ref.groupby("client_pid").tail(1).sort_values("_pos")
    assert got.index.tolist() == ref.index.tolist()
    assert len(got) == g["client_pid"].nunique() < len(g)
    # a tie on the date: the later row in table order wins
    tie = pd.DataFrame({"client_pid": ["a", "a", "b"], "interview_date": pd.to_datetime(["2024-01-01"] * 3),
                        "x": [1, 2, 3]})
    assert groups.latest_grund(tie)["x"].tolist() == [2, 3]
    # every client once: all rows, the caller's frame untouched
    once = g.drop_duplicates("client_pid")
    out = groups.latest_grund(once)
    assert out.index.tolist() == once.index.tolist() and out is not once


def _ref_profile(df, by, measures):
    """count, mean, sd, median per group with numpy, group by group."""
    key = df[by].astype(object).where(df[by].notna(), groups.UNKNOWN)
    rows = {}
    for grp in [*key.unique(), TOTAL]:
        sel = np.ones(len(df), bool) if grp == TOTAL else (key == grp).to_numpy()
        for m in measures:
            v = numeric(df.loc[sel, m])
            v = v[~np.isnan(v)]
            rows[(grp, m)] = (sel.sum(), len(v), np.mean(v) if len(v) else np.nan,
                              np.std(v, ddof=1) if len(v) > 1 else np.nan,
                              np.median(v) if len(v) else np.nan)
    return rows


@pytest.mark.parametrize("limit", [None, 50])
def test_profile_matches_numpy_per_group(monkeypatch, limit):
    if limit is not None:  # force the cython fallback for measures with many distinct values
        monkeypatch.setattr(groups, "_CELL_LIMIT", limit)
    g = _random_grund()
    measures = ["rating_alcohol", "composite_alcohol", "cont"]
    p = groups.profile(g, by="municipality", measures=measures, selection="all")
    ref = _ref_profile(g, "municipality", measures)
    assert len(p) == len(ref)
    for r in p.itertuples(index=False):
        n, cnt, mean, sd, med = ref[(r.municipality, r.measure)]
        assert (r.n, r.n_missing) == (n, n - cnt)
        np.testing.assert_allclose([r.mean, r.sd, r.median], [mean, sd, med], rtol=1e-12, equal_nan=True)
    d = p[(p["municipality"] == "D") & (p["measure"] == "rating_alcohol")].iloc[0]
    assert d["n_missing"] == d["n"] > 0 and np.isnan(d["mean"]) and np.isnan(d["median"])
    assert p["municipality"].tolist()[-4:-3] == [groups.UNKNOWN]      # missing group last, before the total


def test_profile_two_by_columns_matches_pandas():
    g = _random_grund()
    p = groups.profile(g, by=["sex", "municipality"], measures=["composite_alcohol"], selection="all")
    v = g.assign(v=numeric(g["composite_alcohol"]), municipality=g["municipality"].fillna(groups.UNKNOWN))
    ref = v.groupby(["sex", "municipality"], observed=True)["v"].agg(["mean", "median", "std", "count"])
    got = p[p["sex"] != TOTAL].set_index(["sex", "municipality"])
    for key, r in ref.iterrows():
        assert got.loc[key, "mean"] == pytest.approx(r["mean"], rel=1e-12)
        assert got.loc[key, "median"] == r["median"]
        assert got.loc[key, "sd"] == pytest.approx(r["std"], rel=1e-12)


def test_category_profile_missing_group_values_hand_worked():
    g = pd.DataFrame({"client_pid": list("abcdef"), "interview_date": pd.to_datetime(["2024-01-01"] * 6),
                      "municipality": ["X", "X", "Y", "Y", None, "Z"],
                      "sex": pd.Categorical(["male", None, None, None, "female", "male"],
                                            categories=["male", "female"]),
                      "foo": ["q", "r", None, "q", "s", "q"]})
    c = groups.category_profile(g, ["sex", "foo"], by="municipality")
    key = c.set_index(["municipality", "variable", "category"])
    # X: a male, b missing → n 1, 1 missing; Y: both missing; okänd: e female; Z: f male
    # n = clients in the group whatever the variable; share over those with a value
    assert key.loc[("X", "sex", "male"), ["n", "n_missing", "k", "share"]].tolist() == [2, 1, 1, 1.0]
    assert key.loc[("X", "sex", "female"), "k"] == 0
    assert key.loc[("Y", "sex", "male"), ["n", "n_missing", "k"]].tolist() == [2, 2, 0]
    assert np.isnan(key.loc[("Y", "sex", "male"), "share"])
    assert key.loc[(groups.UNKNOWN, "sex", "female"), ["n", "k"]].tolist() == [1, 1]
    assert key.loc[(TOTAL, "sex", "male"), ["n", "n_missing", "k"]].tolist() == [6, 3, 2]
    # foo has no code list: categories are the observed values, sorted
    assert key.loc[("X", "foo", "q"), "k"] == 1 and key.loc[("X", "foo", "r"), "k"] == 1
    assert key.loc[("X", "foo", "s"), "k"] == 0
    assert key.loc[(TOTAL, "foo", "q"), ["n", "n_missing", "k"]].tolist() == [6, 1, 3]
    assert c.loc[c["variable"] == "sex", "municipality"].tolist()[-4:] == [groups.UNKNOWN] * 2 + [TOTAL] * 2


def test_category_profile_matches_crosstab_random():
    g = _random_grund()
    c = groups.category_profile(g, "psychiatric_contact", by="sex", selection="all")
    v = numeric(g["psychiatric_contact"])
    for sex in ("male", "female"):
        sel = (g["sex"] == sex).to_numpy()
        for code in (0, 1):
            row = c[(c["sex"] == sex) & (c["category"] == str(code))].iloc[0]
            assert row["k"] == int((v[sel] == code).sum())
            assert row["n"] == int(sel.sum())
            assert row["n_missing"] == int(np.isnan(v[sel]).sum())
            assert row["share"] == pytest.approx((v[sel] == code).sum() / (~np.isnan(v[sel])).sum())


def _same_partition(codes, n_codes, ids):
    ref, uniq = pd.factorize(ids, use_na_sentinel=True)
    pairs = pd.DataFrame({"a": codes, "b": ref}).drop_duplicates()
    return n_codes == len(uniq) and pairs["a"].is_unique and pairs["b"].is_unique


def test_client_codes_same_partition_as_factorize():
    import hashlib
    rng = np.random.default_rng(3)
    hexes = np.array([hashlib.sha256(str(i).encode()).hexdigest() for i in range(3000)], dtype=object)
    ids = pd.Series(hexes[rng.integers(0, 2000, 5000)], dtype="string")
    assert groups._fixed_width_codes(ids) is not None                 # the fast path is taken
    assert _same_partition(*groups._client_codes(ids), ids)
    assert _same_partition(*groups._client_codes(ids.iloc[777:3333]), ids.iloc[777:3333])   # a slice
    odd = ids.str.slice(0, 13)                                         # width not a multiple of 8
    assert groups._fixed_width_codes(odd) is not None and _same_partition(*groups._client_codes(odd), odd)
    # same first and last 8 bytes, different middle: the hashes collide, the byte check catches it
    coll = pd.Series(["aaaaaaaa" + m + "zzzzzzzz" for m in ["11111111", "22222222", "11111111"]], dtype="string")
    assert groups._fixed_width_codes(coll) is None
    assert _same_partition(*groups._client_codes(coll), coll)
    # general path: different widths, missing ids, object dtype
    for s in (pd.Series(["a", "bb", "a"], dtype="string"), pd.Series(["ab", None, "ab"], dtype="string"),
              pd.Series(["ab", "cd", "ab"], dtype=object)):
        assert groups._fixed_width_codes(s) is None
        assert _same_partition(*groups._client_codes(s), s)
