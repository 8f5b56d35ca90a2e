"""Dashboard logic without a browser: scoping, allowlist, protection, plots, speed.

Numbers are checked against independent pandas computations written out here
(latest Grund per client by sort + drop_duplicates, means with numpy), never
against the dashboard's own output.
"""
from __future__ import annotations

import re
import statistics

import numpy as np
import pandas as pd
import pytest

from asi_lib.dashboard import (ALL, GROUPS, REFUSAL, VIEWS, Dashboard, allowed_municipalities,
                               municipality_from_query, open_dashboard, resolve_municipality)
from asi_lib.datasets import read_dataset
from asi_lib.errors import AsiInputError
from asi_lib.publish import HIDDEN
from asi_lib.scores import add_scores

SMALL = {"1", "2", "3", "4"}


@pytest.fixture(scope="module")
def ds():
    return read_dataset("demo")


@pytest.fixture(scope="module")
def names(ds):
    return allowed_municipalities(ds)


@pytest.fixture(scope="module")
def big(ds, names):
    sizes = ds.grund["municipality"].value_counts()
    return Dashboard(ds, municipality=str(sizes.index[0]))


@pytest.fixture(scope="module")
def small(ds):
    sizes = ds.grund["municipality"].value_counts()
    return Dashboard(ds, municipality=str(sizes[sizes >= 30].index[-1]))


def _latest(grund: pd.DataFrame) -> pd.DataFrame:
    """Each client's latest Grund, written independently of asi_lib.groups."""
    g = grund.reset_index(drop=True).assign(_pos=lambda d: np.arange(len(d)))
    return g.sort_values(["client_pid", "interview_date", "_pos"]).drop_duplicates("client_pid", keep="last")


# --------------------------------------------------------------------------- allowlist
def test_query_allowlist(names):
    k = names[0]
    assert municipality_from_query(f"kommun={k}", names) == k
    assert municipality_from_query("?kommun=" + "".join(f"%{b:02X}" for b in k.encode()), names) == k
    assert municipality_from_query("kommun=Stockholm", names) is None
    assert municipality_from_query(f"kommun={k}&kommun={names[1]}", names) is None
    assert municipality_from_query(f"Kommun={k}", names) is None
    assert municipality_from_query("", names) is None and municipality_from_query(None, names) is None
    assert municipality_from_query(f"kommun={k}%27%3B", names) is None
    assert resolve_municipality(names, names[1], f"kommun={k}") == names[1]
    assert resolve_municipality(names, "Stockholm", f"kommun={k}") is None


def test_unknown_municipality_is_refused(ds):
    with pytest.raises(AsiInputError):
        Dashboard(ds, municipality="Stockholm")


def test_open_dashboard_refuses_without_valid_query(ds, monkeypatch):
    import asi_lib.store
    monkeypatch.setattr(asi_lib.store, "load_store", lambda path: ds)  # a store on disk is not the point here
    for q in ("kommun=Stockholm", "", "kommun=<b>x</b>"):
        w = open_dashboard("unused", query=q)
        assert "asi-refusal" in w._dom_classes
        assert w.value.count("<b>") == 1 and REFUSAL["sv"].split(".")[0] in w.value
    ok = open_dashboard("unused", query="kommun=Älvstad")
    assert "asi-dashboard" in ok._dom_classes
    fixed = open_dashboard("unused", municipality="Älvstad", query="kommun=Stockholm")
    assert "asi-dashboard" in fixed._dom_classes


def test_server_instance_restricted_by_configured_municipalities(ds, names, monkeypatch):
    """ASI_DASHBOARD_KOMMUNER (set by the dashboard server) narrows the allowlist, also for a fixed parameter."""
    import asi_lib.store
    from asi_lib.dashboard import ENV_MUNICIPALITIES, configured_municipalities
    monkeypatch.setattr(asi_lib.store, "load_store", lambda path: ds)
    other = next(n for n in names if n != "Älvstad")
    monkeypatch.setenv(ENV_MUNICIPALITIES, " Älvstad ,")
    assert configured_municipalities() == ["Älvstad"]
    for kw in ({"query": f"kommun={other}"}, {"municipality": other, "query": ""}):
        w = open_dashboard("unused", **kw)
        assert "asi-refusal" in w._dom_classes and other not in w.value
    assert "asi-dashboard" in open_dashboard("unused", query="kommun=Älvstad")._dom_classes
    monkeypatch.setenv(ENV_MUNICIPALITIES, "")
    assert "asi-dashboard" in open_dashboard("unused", query=f"kommun={other}")._dom_classes


# --------------------------------------------------------------------------- numbers
def test_profile_numbers_match_independent_computation(ds, big):
    own = add_scores(ds.grund.loc[ds.grund["municipality"] == big.municipality])
    lat = _latest(own)
    r = big.compute(view="profile", group="sex", area="alcohol")
    raw = next(iter(r.raw.values()))
    tot = raw[(raw["sex"] == "__total__") & (raw["measure"] == "composite_alcohol")].iloc[0]
    assert tot["n"] == lat["client_pid"].nunique() == r.n_clients
    x = lat["composite_alcohol"].to_numpy(dtype=float)
    assert tot["mean"] == pytest.approx(np.nanmean(x), rel=1e-12)
    fem = raw[(raw["sex"] == "female") & (raw["measure"] == "composite_alcohol")].iloc[0]
    assert fem["n"] == int((lat["sex"] == "female").sum())


def test_period_selects_the_year(ds, big):
    year = big.years[1]
    own = ds.grund.loc[(ds.grund["municipality"] == big.municipality)
                       & (ds.grund["interview_date"].dt.year == int(year))]
    r = big.compute(view="profile", group="age_band", area="drugs", period=year)
    assert r.n_clients == own["client_pid"].nunique()
    assert big.compute(view="profile", group="age_band", area="drugs", period=ALL).n_clients == \
        ds.grund.loc[ds.grund["municipality"] == big.municipality, "client_pid"].nunique()
    with pytest.raises(AsiInputError):
        big.compute(view="profile", group="sex", area="drugs", period="1990")


def test_compare_is_own_against_the_rest(ds, big):
    g = _latest(add_scores(ds.grund))
    own = g["municipality"] == big.municipality
    r = big.compute(view="compare", group="sex", area="alcohol")
    raw = next(iter(r.raw.values()))
    row = raw[(raw["sex"] == "__total__") & (raw["measure"] == "composite_alcohol")].iloc[0]
    x = g["composite_alcohol"].to_numpy(dtype=float)
    assert row["n_unit"] == np.isfinite(x[own]).sum()
    assert row["n_rest"] == np.isfinite(x[~own]).sum()
    assert row["mean_rest"] == pytest.approx(np.nanmean(x[~own]), rel=1e-12)
    assert row["mean_region"] == pytest.approx(np.nanmean(x), rel=1e-12)
    w = raw[(raw["sex"] == "female") & (raw["measure"] == "composite_alcohol")].iloc[0]
    fem = (g["sex"] == "female").to_numpy()
    assert w["n_rest"] == np.isfinite(x[~own & fem]).sum()


def test_change_total_matches_pairs(big):
    r = big.compute(view="change", group="sex", area="alcohol")
    raw = next(iter(r.raw.values()))
    p = big._pairing.pairs
    ok = np.isfinite(p["composite_alcohol_0"].to_numpy(float)) & np.isfinite(p["composite_alcohol_1"].to_numpy(float))
    row = raw[(raw["sex"] == "__total__") & (raw["measure_label"].str.startswith("Sammanfattande"))].iloc[0]
    assert row["n_pairs"] == ok.sum()
    d = p["composite_alcohol_1"].to_numpy(float)[ok] - p["composite_alcohol_0"].to_numpy(float)[ok]
    assert row["diff"] == pytest.approx(d.mean(), rel=1e-12)


# --------------------------------------------------------------------------- protection and scoping
@pytest.mark.parametrize("which", ["big", "small"])
def test_every_view_is_published_scoped_and_protected(request, ds, names, which):
    d = request.getfixturevalue(which)
    others = [n for n in names if n != d.municipality]
    pat = re.compile("|".join(re.escape(n) for n in others))
    for view in VIEWS:
        for group in GROUPS:
            r = d.compute(view=view, group=group, area="drugs")
            assert r.tables or r.message
            for title, pub in r.tables.items():
                assert pub.attrs["asi"]["published"]
                cells = set(pub.astype(str).to_numpy().ravel())
                assert not SMALL & cells, (view, group, title)
                text = " ".join([title, *map(str, pub.columns), *cells, r.status])
                assert not pat.search(text), (view, group, pat.search(text).group())
            html = d.table_html(r)
            assert not pat.search(html)
            for num in re.findall(r"<b>(\d+)</b>", r.status):
                assert num not in SMALL


def test_plot_uses_only_rows_the_table_shows(small):
    for view in VIEWS:
        r = small.compute(view=view, group="main_substance", area="alcohol")
        # every plotted value is a raw value of a row whose statistics are shown
        shown = set()
        for title, raw in r.raw.items():
            pub = r.tables[title]
            for c in ("mean", "mean_unit", "mean_rest", "mean_0", "mean_1", "share"):
                if c in raw.columns:
                    vis = pub.iloc[:, raw.columns.get_loc(c)].astype(str).to_numpy()
                    ok = ~np.isin(vis, [HIDDEN, "–"])
                    shown |= set(np.round(raw[c].to_numpy(float)[ok], 12))
        assert set(np.round(r.plot_data["value"].to_numpy(float), 12)) <= shown, view


def test_plot_drops_suppressed_groups(ds):
    """A group with fewer than min_cell clients is hidden in the table and absent from the plot."""
    g = ds.grund.copy()
    own = g["municipality"] == g["municipality"].value_counts().index[0]
    first = g.index[own][:3]
    g.loc[first, "main_substance"] = "cocaine"
    g.loc[g.index[own][3:], "main_substance"] = g.loc[g.index[own][3:], "main_substance"].where(
        g.loc[g.index[own][3:], "main_substance"] != "cocaine", "alcohol")
    from dataclasses import replace
    d = Dashboard(replace(ds, grund=g), municipality=str(g.loc[own, "municipality"].iloc[0]))
    r = d.compute(view="profile", group="main_substance", area="alcohol")
    pub = next(iter(r.tables.values()))
    assert (pub.iloc[:, 0] == "Kokain").any()
    assert "Kokain" not in set(r.plot_data["group"])
    assert len(r.plot_data) > 3


# --------------------------------------------------------------------------- widgets
def test_widgets_update_and_offer_no_municipality(big, names):
    box = big.widget()
    assert "asi-dashboard" in box._dom_classes
    first = big.current["table"]
    big.set(view="compare")
    assert big.current["table"] != first and "övriga kommuner" in big.current["table"]
    big.set(view="bortfall")
    assert big._widgets["area"].disabled
    big.set(view="profile", period=big.years[0])
    assert big.years[0] in big.current["status"]
    labels = [lab for k in ("period", "group", "area", "view") for lab in big._widgets[k].options]
    assert not set(map(str, labels)) & set(names)
    assert big.current["plot"]


def test_english_labels(ds, names):
    d = Dashboard(ds, municipality=names[0], lang="en")
    r = d.compute(view="profile", group="sex", area="alcohol")
    pub = next(iter(r.tables.values()))
    assert "Clients" in pub.columns and "Clients in the selection" in r.status


def test_filter_change_is_fast(ds, names):
    d = Dashboard(ds, municipality=names[0])
    times = []
    for view in VIEWS:
        for group in ("sex", "age_band", "unit"):
            times.append(d.compute(view=view, group=group, area="legal").seconds)
    assert d.compute(view="profile", group="sex", area="legal").seconds == times[0]  # cached
    assert statistics.median(times) < 1.0, times
