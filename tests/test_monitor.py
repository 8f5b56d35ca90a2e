"""monitor.py against hand-counted toy data and the demo region."""
import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

from asi_lib import monitor
from asi_lib.dataset import Dataset
from asi_lib.datasets import read_dataset
from asi_lib.publish import TOTAL, publish


def _toy():
    g = pd.DataFrame({"client_pid": ["a", "b", "c", "d"], "municipality": ["A", "A", "B", "B"],
                      "interview_date": pd.to_datetime(["2023-01-10", "2023-02-01", "2023-08-01", "2024-01-15"]),
                      "followup_type": None})
    u = pd.DataFrame({"client_pid": ["a", "b", "c"], "municipality": ["A", "A", "B"],
                      "interview_date": pd.to_datetime(["2023-07-10", "2023-03-01", "2024-03-01"]),
                      "followup_type": pd.Categorical(["ordinary"] * 3)})
    b = pd.DataFrame({"client_pid": ["e", "f", "a"], "municipality": ["A", "B", "A"],
                      "form": ["grund", "grund", "uppfoljning"],
                      "bortfall_date": pd.to_datetime(["2023-03-01", "2023-09-01", "2023-12-01"])})
    return Dataset(g.drop(columns="followup_type"), u, b, pd.DataFrame())


def test_asi_use_hand_counted():
    r = monitor.asi_use(_toy(), by="municipality", freq="half", as_of="2024-02-15")
    a1 = r[(r["municipality"] == "A") & (r["period"] == "2023 H1")].iloc[0]
    # A, 2023 H1: Grund a, b; Grund bortfall e; follow-ups a (Jul → H2) b (Mar → H1)
    assert (a1["k"], a1["n_bortfall"], a1["n"], a1["n_uppfoljning"]) == (2, 1, 3, 1)
    lo, hi = proportion_confint(2, 3, method="wilson")
    assert a1["ci_low"] == pytest.approx(lo) and a1["ci_high"] == pytest.approx(hi)
    t = r[(r["municipality"] == TOTAL) & (r["period"] == "2023 H2")].iloc[0]
    # 2023 H2: Grund c; bortfall f; follow-up a
    assert (t["k"], t["n_bortfall"], t["n_uppfoljning"]) == (1, 1, 1)
    assert r.loc[r["period"] == "2024 H1", "preliminary"].all()
    assert not r.loc[r["period"] == "2023 H1", "preliminary"].any()
    # H2 2023 ends 2023-12-31; + 3 months > 2024-02-15 → preliminary
    assert r.loc[r["period"] == "2023 H2", "preliminary"].all()
    # one municipality only (a municipality's report): no "Totalt" rows repeating it
    t = _toy()
    only_a = Dataset(*(f[f["municipality"] == "A"] for f in (t.grund, t.uppfoljning, t.bortfall)), pd.DataFrame())
    one = monitor.asi_use(only_a, by="municipality", freq="half", as_of="2024-02-15")
    assert TOTAL not in set(one["municipality"]) and set(one["municipality"]) == {"A"}
    assert one.loc[one["period"] == "2023 H1", ["k", "n_bortfall"]].values.tolist() == [[2, 1]]


def test_followup_timing_and_due_hand_counted():
    ds = _toy()
    t = monitor.followup_timing(ds, window=(30, 365), as_of="2024-06-30")
    row = t.iloc[0]
    # baselines a (2023-01-10), b (02-01), c (08-01), d (2024-01-15); window end +365 d ≤ 2024-06-30: a, b;
    # a followed up after 181 d, b's follow-up after 28 d is too early → 1 of 2
    assert (row["n"], row["k"]) == (2, 1)
    # paired: a 181 d, b 28 d (too early for 30) → only a and c (213 d)
    assert row["n_paired"] == 2
    assert row["days_median"] == pytest.approx(np.median([181, 213]))
    d = monitor.followups_due(ds, months=3, window=(30, 365), as_of="2024-01-20")
    # d: Grund 2024-01-15, window opens 2024-02-14 → month 2024-02
    # c: Grund 2023-08-01, window open, no follow-up by as_of → due now (2024-01)
    m = d.set_index("month")["n"]
    assert m.to_dict() == {"2024-01": 1, "2024-02": 1, "2024-03": 0}


def test_demo_monitor_published():
    ds = read_dataset("demo")
    r = monitor.asi_use(ds, freq="year")
    g = ds.grund
    n2022 = int((g["interview_date"].dt.year == 2022).sum())
    assert r.loc[(r["municipality"] == TOTAL) & (r["period"] == "2022"), "k"].item() == n2022
    out = publish(r, labels=False)
    for col in ("n", "k", "n_bortfall", "n_uppfoljning"):
        nums = pd.to_numeric(out[col].str.replace("\u2009", ""), errors="coerce")
        assert not ((nums > 0) & (nums < 5)).any()
    t = monitor.followup_timing(ds, by="municipality")
    tot = t[t["municipality"] == TOTAL].iloc[0]
    assert t.loc[t["municipality"] != TOTAL, "n"].sum() == tot["n"]
    assert 0 < tot["share"] < 1
    pt = publish(t)
    assert "Andel uppföljda" in pt.columns


def test_auto_period_years_for_a_small_municipality_half_years_for_a_big_one():
    ds = read_dataset("demo")
    small = monitor.asi_use(ds.filter(municipality="Rönnvik"), freq="auto")
    big = monitor.asi_use(ds.filter(municipality="Älvstad"), freq="auto")
    assert small.attrs["asi"]["freq"] == "year" and small["period"].str.len().eq(4).all()
    assert big.attrs["asi"]["freq"] == "half" and big["period"].str.contains(" H").all()
    # the rule, recomputed: median target group per half-year against 20
    half_small = monitor.asi_use(ds.filter(municipality="Rönnvik"), freq="half")
    half_big = monitor.asi_use(ds.filter(municipality="Älvstad"), freq="half")
    assert half_small["n"].median() < monitor.AUTO_MIN_PER_PERIOD <= half_big["n"].median()
    # a year's counts are its two half-years'
    y = small.set_index("period").loc["2023"]
    h = half_small.set_index("period").loc[["2023 H1", "2023 H2"]]
    assert (y["k"], y["n_bortfall"]) == (h["k"].sum(), h["n_bortfall"].sum())
