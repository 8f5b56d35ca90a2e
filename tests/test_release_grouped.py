"""The release's grouped computation gives exactly the per-unit tables (issue 9, performance).

``release._raw_tables`` computes the work shared by the units once (one
pairing of every municipality's follow-ups, one split of each table, the
region's scores, grouped ASI use and Grund bortfall). The reference is the
per-unit path every analyst calls, ``tables.raw_tables(ds, municipality=m)``
and ``reports.overview_raw`` (``release._raw_tables_per_unit``): every table of
every unit must be the same frame, value for value, dtype for dtype, with the
same ``attrs`` and the same parts.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from asi_lib import release as R
from asi_lib.change import estimate_rci_reference
from asi_lib.datasets import read_dataset
from asi_lib.followup import pair_followups, pair_followups_by
from asi_lib.publish import publish


def _shared_pid(ds):
    """Give one client of the second municipality the client_pid of a client of the first.

    A pseudonym is keyed by municipality in the store, but nothing in the
    frames forbids this; per unit the two are different clients, and so they
    must be in the grouped computation.
    """
    g = ds.grund
    munis = sorted(g["municipality"].dropna().unique())
    a = g.loc[g["municipality"] == munis[0], "client_pid"].iloc[0]
    b = g.loc[g["municipality"] == munis[1], "client_pid"].iloc[0]
    frames = {}
    for name, t in ds.tables().items():
        t = t.copy()
        t.loc[(t["client_pid"] == b).fillna(False).to_numpy(), "client_pid"] = a
        frames[name] = t
    from dataclasses import replace

    return replace(ds, **frames)


@pytest.fixture(scope="module", params=["demo", "national"])
def ds(request):
    if request.param == "demo":
        return _shared_pid(read_dataset("demo", n_clients=1200))
    from asi_lib.datasets import DEMO_KEY, _pseudonymise
    from asi_lib.dataset import Dataset
    from asi_lib.synth import generate

    region = generate(n_clients=700, seed=7, municipalities=14)   # skewed sizes, some without follow-up
    frames = {}
    for name, df in region.tables.items():
        pid = _pseudonymise(df["client_id"], df["municipality"], DEMO_KEY)
        out = df.drop(columns="client_id")
        out.insert(0, "client_pid", pd.Series(pid.to_numpy(), index=out.index, dtype="string"))
        frames[name] = out
    return Dataset(**frames, meta={})


def _assert_same_table(a, b, where):
    pd.testing.assert_frame_equal(a.raw, b.raw, check_exact=True, obj=where)
    assert repr(a.raw.attrs) == repr(b.raw.attrs), where
    assert [(p[0], p[2], p[1] is None) for p in a.parts] == [(p[0], p[2], p[1] is None) for p in b.parts], where
    for pa, pb in zip(a.parts, b.parts):
        if pa[1] is not None:
            assert np.array_equal(np.asarray(pa[1]), np.asarray(pb[1])), where


def test_grouped_tables_equal_the_per_unit_tables(ds):
    ref = R.reference_date(ds)
    units = [R.REGION, *sorted(map(str, ds.grund["municipality"].dropna().unique()))]
    rci = estimate_rci_reference(pair_followups(ds, window=(90, 730), as_of=ref).pairs, ("composite",), label="x")
    grouped = R._raw_tables(ds, units, as_of=ref, lang="sv", window=(90, 730), rci=rci)
    per_unit = R._raw_tables_per_unit(ds, units, as_of=ref, lang="sv", window=(90, 730), rci=rci)
    assert [(t.unit, t.key) for t in grouped] == [(t.unit, t.key) for t in per_unit]
    assert len({t.unit for t in grouped}) == len(units)
    for a, b in zip(per_unit, grouped):
        _assert_same_table(a, b, f"{a.unit}/{a.key}")
    # and therefore the same published tables (min_cell=1: every number visible)
    for a, b in zip(per_unit, grouped):
        pa, pb = publish(a.raw, min_cell=1), publish(b.raw, min_cell=1)
        pd.testing.assert_frame_equal(pa, pb, check_exact=True, obj=f"{a.unit}/{a.key}")


def test_pair_followups_by_equals_pairing_each_unit(ds):
    ref = R.reference_date(ds)
    by = pair_followups_by(ds, as_of=ref)
    munis = sorted(map(str, ds.grund["municipality"].dropna().unique()))
    assert set(munis) <= set(by)
    for m in munis:
        own = pair_followups(ds.filter(municipality=m), as_of=ref)
        for name in ("pairs", "baselines", "unpaired"):
            a, b = getattr(own, name), getattr(by[m], name)
            # an empty per-unit frame has object columns where the grouped one keeps strings
            pd.testing.assert_frame_equal(a, b, check_exact=True, check_dtype=len(a) > 0, obj=f"{m}/{name}")
            assert repr(a.attrs) == repr(b.attrs)
        assert own.params == by[m].params


def test_shared_pid_stays_two_clients():
    # the guard above is only a guard if the shared pid would be merged by a plain region-wide pass
    ds = _shared_pid(read_dataset("demo", n_clients=1200))
    g = ds.grund
    munis = sorted(g["municipality"].dropna().unique())
    pid = g.loc[g["municipality"] == munis[0], "client_pid"].iloc[0]
    assert set(g.loc[g["client_pid"] == pid, "municipality"]) == {munis[0], munis[1]}


# --------------------------------------------------------------------------- the fast paths, bit for bit
def _walsh_bisection(d, k):
    """walsh_order_statistic as it was (one k, every s_i searched at every step): the reference."""
    s = np.sort(np.asarray(d, dtype=np.float64))
    idx = np.arange(s.size)

    def count_le(theta):
        return int(np.maximum(np.searchsorted(s, 2.0 * theta - s, side="right") - idx, 0).sum())

    lo, hi = s[0], s[-1]
    if count_le(lo) >= k:
        return float(lo)
    for _ in range(200):
        mid = (lo + hi) / 2.0
        if mid <= lo or mid >= hi:
            break
        hi, lo = (mid, lo) if count_le(mid) >= k else (hi, mid)
    j = np.searchsorted(s, 2.0 * hi - s, side="right") - 1
    ok = j >= idx
    return float(((s[ok] + s[j[ok]]) / 2.0).max())


def test_walsh_batch_is_the_bisection_bit_for_bit_and_the_brute_force():
    from asi_lib.change import _walsh_batch

    rng = np.random.default_rng(11)
    problems = []
    for i in range(40):
        n = int(rng.integers(1, 160))
        d = [rng.integers(-9, 10, n).astype(float),                 # ratings: few values, many zeros
             rng.integers(-30, 31, n) / 30.0,                        # composites: ties
             rng.normal(0, 0.3, n),                                  # no ties
             np.full(n, 0.25)][i % 4]                                # one value
        m = n * (n + 1) // 2
        problems.append((np.sort(d), sorted({1, m, (m + 1) // 2, max(1, m // 2), int(rng.integers(1, m + 1))})))
    got = _walsh_batch(problems)
    for (s, ks), values in zip(problems, got):
        brute = np.sort(np.add.outer(s, s)[np.triu_indices(s.size)] / 2.0)
        for k, v in zip(ks, values):
            assert v == _walsh_bisection(s, k)
            assert v == pytest.approx(brute[k - 1], abs=1e-12)


def test_one_vs_rest_counts_give_the_two_group_statistics_bit_for_bit(ds):
    # the unit's own count table and everyone − unit give what one count of (unit, rest) gives
    from asi_lib import compare, groups, scores

    region = scores.add_scores(ds.grund)
    base = compare._OneVsRest(region, "municipality")
    munis = sorted(map(str, base.df["municipality"].dropna().unique()))
    for m in munis[:4] + munis[-2:]:
        is_unit = (base.df["municipality"].astype("string") == m).fillna(False).to_numpy()
        ref = groups._group_stats(base.arrays, np.where(is_unit, 0, 1), 2)
        u, r, a = base._moments(is_unit, np.flatnonzero(is_unit))
        for i, part in enumerate((u, r, a)):
            for k, col in (("count", "n"), ("mean", "mean"), ("sd", "sd"), ("median", "median")):
                np.testing.assert_array_equal(part[col].to_numpy(), ref[k][i], err_msg=f"{m} {k}")
        # and independently: the unit's means are numpy's
        v = base.arrays[0][is_unit]
        assert u["mean"].iloc[0] == pytest.approx(np.nanmean(v), rel=1e-12)


def test_release_computes_the_costly_per_unit_tables_grouped(ds):
    ref = R.reference_date(ds)
    munis = sorted(map(str, ds.grund["municipality"].dropna().unique()))
    from asi_lib import scores

    rci = estimate_rci_reference(pair_followups(ds, window=(90, 730), as_of=ref).pairs, ("composite",), label="x")
    pairings = pair_followups_by(ds, "municipality", window=(90, 730), as_of=ref)
    given = R._grouped_tables(ds, munis, as_of=ref, lang="sv", region_grund=scores.add_scores(ds.grund),
                              pairings=pairings, rci=rci)
    grouped = {"compare", "change", "table1_categories", "completeness",
               "profile_sex", "profile_age_band", "profile_main_substance"}
    assert all(grouped <= set(given[m]) for m in munis if pairings.get(m))
