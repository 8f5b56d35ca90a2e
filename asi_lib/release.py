"""A release: everything one run publishes, computed once, protected together, on one date.

Reports, Excel workbooks, the index and the dashboard show what people outside
the analysts' room may see. Computed and protected one file at a time, their
numbers could be combined (a municipality's "all others" against the region,
a region total against the visible municipalities, one table's groups against
another's) to recover a suppressed count. A **release** is the unit of
publication instead:

``build_release``: load → reference date → raw tables per unit → joint
protection → publish → write

* every table any output can show is computed once, for the region and every
  municipality, on **one reference date** (default: the latest interview in
  the whole store);
* the count cells of all tables form one system: the same quantity seen in two
  tables is one cell (a municipality's clients in the index, its Table 1 and
  the region's table by municipality), the region's cell is the sum of the
  municipalities' cells wherever that holds, "others" = region − own; the
  suppression is decided over the whole system (:func:`protect_jointly`) and
  audited with integer programming so that no suppressed count can be
  recovered exactly from all files together;
* the result is written to a folder (``tables.parquet`` + ``manifest.json``)
  that reports and the dashboard *render*; they do not compute.

Analysts in JupyterLab keep the full library on the store.
See ``docs/methods/protection.md`` ("The release") for what is and is not covered.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import hashlib
import json
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import AsiInputError
from .publish import TOTAL, _secondary, publish, table_cells
from .sidecar import Sidecar

__all__ = ["REGION", "RELEASE_FORMAT", "reference_date", "build_release", "write_release", "load_release", "units_for",
           "Release", "protect_jointly", "audit", "client_count_table"]

#: Unit name of the whole region in a release.
REGION = "__region__"
#: Version of the folder layout (``manifest.json`` → ``format``).
RELEASE_FORMAT = 1
TENDENCY_THRESHOLD = 10
#: A release of at least this many municipalities is built on two cores by default (``parallel=None``):
#: a second interpreter (:class:`asi_lib.sidecar.Sidecar`) computes the change tables while this one
#: computes the other tables. Below it, starting that interpreter costs more than it saves.
PARALLEL_MIN_UNITS = 40
_REGION_LABEL = {"sv": "Hela regionen", "en": "The whole region"}


# --------------------------------------------------------------------------- step 1: the date
def reference_date(ds) -> pd.Timestamp:
    """The release's reference date: the latest interview date in the whole store.

    Follow-up status (due, followed up, bortfall) of **every** municipality is
    counted at this one date, so a municipality that stopped interviewing is
    not measured at its own last interview.

    Parameters
    ----------
    ds : Dataset

    Returns
    -------
    pandas.Timestamp

    Examples
    --------
    >>> from asi_lib.datasets import read_dataset
    >>> ds = read_dataset("demo", n_clients=300)
    >>> reference_date(ds) == max(ds.grund["interview_date"].max(), ds.uppfoljning["interview_date"].max())
    True
    """
    from .monitor import as_of_date

    return as_of_date(ds)


# --------------------------------------------------------------------------- step 2: raw tables
@dataclass
class _Table:
    unit: str            # municipality name or REGION
    key: str             # stable across units (tables.TableSpec.key)
    raw: pd.DataFrame
    parts: list = field(default_factory=list)


def client_count_table(ds) -> pd.DataFrame:
    """Raw counts of clients with ASI Grund per municipality and for the region (the index).

    A client counts once, in the municipality of his or her latest Grund.

    Parameters
    ----------
    ds : Dataset

    Returns
    -------
    DataFrame
        ``municipality`` (:data:`~asi_lib.publish.TOTAL` for the region), ``n``.

    Examples
    --------
    >>> from asi_lib.datasets import read_dataset
    >>> t = client_count_table(read_dataset("demo", n_clients=300))
    >>> int(t["n"].iloc[-1]) == int(t["n"].iloc[:-1].sum())
    True
    """
    from .groups import latest_grund

    latest = latest_grund(ds.grund, columns=["municipality"])
    counts = latest["municipality"].dropna().astype(str).value_counts().sort_index()
    raw = pd.DataFrame({"municipality": [*counts.index, TOTAL], "n": [*counts.to_numpy(), int(counts.sum())]})
    raw.attrs["asi"] = {"unit": "klienter", "group_cols": ["municipality"], "additive": True, "tendency": False,
                        "selection": "senaste Grund per klient"}
    return raw


def _by_municipality(df: pd.DataFrame) -> dict:
    """Each municipality's rows of one table, as ``df.loc[df["municipality"] == m]`` (same rows, order, index).

    One stable reordering by municipality; each municipality is then a
    contiguous slice (cheap), instead of one boolean mask over the whole
    table per municipality.
    """
    if "municipality" not in df.columns or not len(df):
        return {}
    codes, uniq = pd.factorize(df["municipality"].astype("string"), sort=True)
    order = np.argsort(codes, kind="stable")
    ordered = df.iloc[order]
    bounds = np.searchsorted(codes[order], np.arange(len(uniq) + 1))
    return {str(u): ordered.iloc[bounds[i]:bounds[i + 1]] for i, u in enumerate(uniq)}


def _unit_keyed(ds):
    """The dataset with each client keyed by (municipality, client_pid), rows without a municipality left out.

    Per-client steps (one row per client, latest record) then never merge two
    municipalities' records, exactly as when each municipality is computed on
    its own (``ds.filter(municipality=m)``).
    """
    from dataclasses import replace

    def keyed(df):
        if "municipality" not in df.columns or "client_pid" not in df.columns:
            return df
        df = df.loc[df["municipality"].notna().to_numpy()].copy()
        df["client_pid"] = df["municipality"].astype("str") + "\x1f" + df["client_pid"].astype("str")
        return df

    return replace(ds, **{t: keyed(getattr(ds, t)) for t in ("grund", "uppfoljning", "bortfall", "insatser")})


def _grouped_tables(ds, munis, *, as_of, lang, region_grund=None, pairings=None, rci=None, side=None) -> dict:
    """Raw tables of every municipality that one grouped call computes for all of them: m → {key: raw}.

    Each is what the per-unit call in :func:`asi_lib.tables.raw_tables` gives
    for ``ds.filter(municipality=m)``:

    * ``asi_use``: :func:`asi_lib.monitor.asi_use` by municipality, half-years
      and years, once each; a municipality gets half-years when the median of
      its half-years' target group is at least ``AUTO_MIN_PER_PERIOD`` (the
      ``freq="auto"`` rule), else years;
    * ``bortfall_grund``: :func:`asi_lib.bortfall.grund_bortfall` by
      (municipality, sex), clients keyed by municipality (:func:`_unit_keyed`);
    * ``bortfall_reasons_grund`` / ``_uppfoljning``:
      :func:`asi_lib.bortfall.bortfall_reasons` by municipality (a client's
      latest record per municipality, as per unit);
    * ``completion``: :func:`asi_lib.insatser.completion` by municipality
      (the intervention's municipality; clients keyed by municipality, so an
      intervention links only to a Grund of the same municipality);
    * ``compare``: :func:`asi_lib.compare.compare_one_vs_rest` of each
      municipality against the rest of ``region_grund`` (the region's rows,
      values and counts prepared once; given ``region_grund`` only);
    * ``change``: :func:`asi_lib.change.change_by_area` of each
      municipality's pairs (``pairings``: m → its pairing, with ``rci``), the
      Hodges–Lehmann estimates of every municipality found in one batch; sent
      first to ``side`` (a :class:`asi_lib.sidecar.Sidecar`), which computes
      them while this process does the rest, and given as :class:`_Later`
      (collected by :func:`_raw_tables` after the per-unit loop);
    * ``table1_categories``: the category rows of :func:`asi_lib.groups.table1`
      (each client's latest Grund per municipality, one count by
      municipality; given ``region_grund`` only);
    * ``profile_sex``, ``profile_age_band``, ``profile_main_substance``:
      :func:`asi_lib.groups.profile` of each municipality (the same latest
      Grund; values, derived columns and key codes once, each municipality's
      statistics from its own rows: :func:`asi_lib.groups._profiles_by`), and
      ``table1_means``, Table 1's means, the same way;
    * ``completeness``: :func:`asi_lib.scores.completeness` of each
      municipality (the row-wise facts once per table, summed per
      municipality: :func:`asi_lib.scores._completeness_by`).
    """
    from .bortfall import bortfall_reasons, grund_bortfall
    from .insatser import completion
    from .monitor import AUTO_MIN_PER_PERIOD, asi_use

    out: dict[str, dict] = {m: {} for m in munis}
    want = set(munis)
    change_job = _submit_change(side or Sidecar(enabled=False), pairings, munis, rci=rci, lang=lang)

    def rows_of(frame, col="municipality"):
        keys = frame[col].astype("string").to_numpy(dtype=object, na_value=None)
        codes, uniq = pd.factorize(keys)
        order = np.argsort(codes, kind="stable")
        bounds = np.searchsorted(codes[order], np.arange(len(uniq) + 1))
        return {u: order[bounds[i]:bounds[i + 1]] for i, u in enumerate(uniq) if u in want}

    def part(frame, rows, drop=(), attrs=None):
        got = frame.iloc[rows].drop(columns=list(drop)).reset_index(drop=True)
        got.attrs = {"asi": {**frame.attrs["asi"], **(attrs or {})}}
        return got

    half = asi_use(ds, "municipality", "half", as_of=as_of)
    year = asi_use(ds, "municipality", "year", as_of=as_of)
    hrows, yrows = rows_of(half), rows_of(year)
    for m in munis:
        med = half["n"].to_numpy()[hrows[m]].astype(float) if m in hrows else np.array([])
        use_half = len(med) > 0 and np.median(med) >= AUTO_MIN_PER_PERIOD
        src, rows = (half, hrows[m]) if use_half else (year, yrows.get(m, np.zeros(0, dtype=int)))
        out[m]["asi_use"] = part(src, rows)
    for form in ("grund", "uppfoljning"):
        # a municipality without records of the form has no rows here: computed on its own (all reasons, n = 0)
        r = bortfall_reasons(ds, form, by="municipality", lang=lang)
        for m, rows in rows_of(r).items():
            out[m][f"bortfall_reasons_{form}"] = part(r, rows, drop=["municipality"], attrs={"group_cols": []})
    keyed = _unit_keyed(ds)
    # a municipality without ended interventions has no rows here: computed on its own (the "all" row, n = 0)
    comp = completion(keyed, by="municipality", lang=lang)
    for m, rows in rows_of(comp).items():
        out[m]["completion"] = part(comp, rows, drop=["municipality"], attrs={"group_cols": []})
    if region_grund is not None:
        from .compare import _OneVsRest

        cmp = _OneVsRest(region_grund, "municipality")
        for m in munis:
            try:
                out[m]["compare"] = cmp.compare(m)
            except AsiInputError:   # not among the latest Grund: the per-unit call says so
                pass
        from .groups import _profiles_by, _table1_categories_by, select

        rg = region_grund.loc[region_grund["municipality"].notna().to_numpy()]
        rg = rg.assign(client_pid=rg["municipality"].astype("str") + "\x1f" + rg["client_pid"].astype("str"))
        latest = select(rg)
        for m, cp in _table1_categories_by(latest).items():
            if m in out:
                out[m]["table1_categories"] = cp
        for m, profs in _profiles_by(latest, ("sex", "age_band", "main_substance")).items():
            if m in out:
                out[m].update({k if k == "table1_means" else f"profile_{k}": frame for k, frame in profs.items()})
    from .scores import _completeness_by

    for m, comp_ in _completeness_by(ds, munis, lang=lang).items():
        out[m]["completeness"] = comp_
    gb = grund_bortfall(keyed, by=["municipality", "sex"])
    gb["n"] = gb["n"].astype("Int64")   # what groupby(...).size() gives for one string key (the per-unit call)
    for m, rows in rows_of(gb).items():
        out[m]["bortfall_grund"] = part(gb, rows, drop=["municipality"], attrs={"group_cols": ["sex"]})
    if change_job is not None:   # collected when it is first needed (_Later), so this process goes on meanwhile
        have, job = change_job
        for i, m in enumerate(have):
            out[m]["change"] = _Later(job, i)
    return out


class _Later:
    """A municipality's change table that a :class:`asi_lib.sidecar.Job` is computing (``i``-th of its
    result); :meth:`get` waits for it. :func:`_raw_tables` swaps it in after every unit's other tables."""

    def __init__(self, job, i: int):
        self.job, self.i = job, i

    def get(self) -> pd.DataFrame:
        from .tables import _no_rci_as_missing

        return _no_rci_as_missing(self.job.result()[self.i])


def _submit_change(side: Sidecar, pairings, munis, *, rci, lang):
    """The change tables of every paired municipality as a job of ``side``: (municipalities, job) or None."""
    if pairings is None:
        return None
    from .change import _change_by_area_each, _change_inputs

    measures = ("composite", "rating")
    have = [m for m in munis if pairings.get(m)]   # the others are paired on their own (_raw_tables)
    return have, side.submit(_change_by_area_each, [_change_inputs(pairings[m].pairs, measures) for m in have],
                             measures=measures, reliability=rci, lang=lang)


def _raw_tables(ds, units, *, as_of, lang, window, rci=None, region_pairing=None, side=None) -> list[_Table]:
    """Every unit's raw tables: the work shared by the units is done once for all of them.

    The region's scores, the pairing of follow-ups of every municipality
    (:func:`asi_lib.followup.pair_followups_by`, one pass) and each
    municipality's rows (one split of every table) are computed once; each
    unit then gets exactly what :func:`asi_lib.tables.raw_tables` and
    :func:`asi_lib.reports.overview_raw` give for it (tests/test_release_grouped.py
    checks every table against that per-unit path).
    """
    from dataclasses import replace

    from . import reports, scores
    from .followup import pair_followups, pair_followups_by
    from .tables import _unit_tables

    region_grund = scores.add_scores(ds.grund)
    if region_pairing is None:
        region_pairing = pair_followups(ds, window=window, as_of=as_of)
    munis = [u for u in units if u != REGION]
    pairings = pair_followups_by(ds, "municipality", window=window, as_of=as_of) if munis else {}
    split = {t: _by_municipality(getattr(ds, t)) for t in ("grund", "uppfoljning", "bortfall", "insatser")}
    scored = _by_municipality(region_grund)
    given = _grouped_tables(ds, munis, as_of=as_of, lang=lang, region_grund=region_grund, pairings=pairings,
                            rci=rci, side=side) if munis else {}
    out = [_Table(REGION, "index", client_count_table(ds), [("Klienter per kommun", None, ())])]
    for unit in units:
        if unit == REGION:
            m, own, grund, pairing = None, ds, region_grund, region_pairing
        else:
            m = unit
            own = replace(ds, **{t: parts.get(m, getattr(ds, t).iloc[:0]) for t, parts in split.items()})
            grund = scored.get(m, region_grund.iloc[:0])
            pairing = pairings.get(m) or pair_followups(own, window=window, as_of=as_of)
        specs = _unit_tables(ds, own, grund, pairing, municipality=m, as_of=as_of, lang=lang,
                             region_grund=region_grund, rci=rci, given=given.get(unit))
        raw = {s.key: s.raw for s in specs}   # bortfall_grund = grund_bortfall(own, by="sex"); followup = summary
        out.append(_Table(unit, "overview", reports._overview_raw(own, raw["bortfall_grund"], raw["followup"],
                                                                  lang=lang, window=window),
                          [("Materialet i korthet", None, ())]))
        out.extend(_Table(unit, spec.key, spec.raw, spec.parts) for spec in specs)
    for t in out:   # the change tables computed beside this loop (in the sidecar)
        if isinstance(t.raw, _Later):
            t.raw = t.raw.get()
    return out


def _raw_tables_per_unit(ds, units, *, as_of, lang, window, rci=None) -> list[_Table]:
    """The reference path: each unit on its own (:func:`asi_lib.tables.raw_tables`); slow, for tests and benchmarks."""
    from . import reports, scores
    from .tables import raw_tables

    region_grund = scores.add_scores(ds.grund)
    out = [_Table(REGION, "index", client_count_table(ds), [("Klienter per kommun", None, ())])]
    for unit in units:
        m = None if unit == REGION else unit
        out.append(_Table(unit, "overview", reports.overview_raw(ds, m, as_of=as_of, lang=lang, window=window),
                          [("Materialet i korthet", None, ())]))
        for spec in raw_tables(ds, municipality=m, as_of=as_of, lang=lang, window=window,
                               region_grund=region_grund, rci=rci):
            out.append(_Table(unit, spec.key, spec.raw, spec.parts))
    return out


#: Counts a release does not show: table key ("profile_*" = every profile) → {part title or
#: None for every part: raw columns}. Each is detail for analysts (who have it in the library)
#: that ties many tables together through small numbers: missing values per group and measure
#: in the profiles and per measure in Table 1's means (a unit's missing values per area are in
#: "Kompletthet"), and the reasons an item is missing.
RELEASE_DROPS = {
    "profile_*": {None: ("n_missing",)},
    "table1": {None: ("n_missing",)},
    "completeness": {None: ("rating_missing_n", "composite_missing_n",
                            "missing_x_n", "missing_n_n", "missing_empty_n", "missing_invalid_n")},
}

#: Count columns of missing values. What they count is the interview's documentation (an item the
#: interviewer did not fill in), not something about the clients, so a release does not protect them
#: as small counts of clients (``docs/methods/protection.md``, "Missing values"). It does not print
#: them either (:data:`RELEASE_DROPS`): they stay unknowns, and the equations through them (valid +
#: missing = clients) no longer force the valid counts beside every mean to be hidden.
MISSING_COUNTS = ("n_missing", "rating_missing_n", "composite_missing_n",
                  "missing_x_n", "missing_n_n", "missing_empty_n", "missing_invalid_n")

#: What a reader looks at first is expensive to hide (added to a cell's value when the protection
#: picks a cell to hide): a category's clients (Table 1 and the profiles' group n), the clients
#: with a value beside a mean, and the Grund interviews per period.
IMPORTANCE = 1000.0


def _release_parts(key: str, parts: list) -> list:
    """The parts of a table as a release shows them (:data:`RELEASE_DROPS` removed).

    >>> _release_parts("profile_sex", [("Problem per kön", None, ())])
    [('Problem per kön', None, ('n_missing',))]
    """
    rule = RELEASE_DROPS.get(key) or (RELEASE_DROPS["profile_*"] if key.startswith("profile_") else {})
    out = []
    for title, mask, drop in parts:
        extra = (*rule.get(None, ()), *rule.get(title, ()))
        out.append((title, mask, tuple(drop) + tuple(c for c in extra if c not in drop)))
    return out


def _shape_for_release(tables: list, munis) -> dict:
    """What a release shows of each table (in place); returns each unit's clients.

    :data:`RELEASE_DROPS` removed; a municipality with fewer clients than the
    tendency threshold shows no tables of its own but the overview
    ("Materialet i korthet"; its report says why and shows the region), and
    the region's tables by municipality leave its rows out too (one row per
    year of two clients is what it does not show in its own report). Its
    cells stay unknowns in every relation.
    """
    from .groups import UNKNOWN     # here: reading a release (the dashboard) imports no computation

    idx = next(t.raw for t in tables if t.key == "index")
    raw_n = dict(zip(idx["municipality"].astype(str), idx["n"].astype(int)))
    tiny = {u for u in munis if raw_n.get(u, 0) < TENDENCY_THRESHOLD}
    for t in tables:
        t.parts = [] if t.unit in tiny and t.key != "overview" else _release_parts(t.key, t.parts)
        keep = None
        if t.unit == REGION and tiny and t.key != "index" and "municipality" in t.raw.columns:
            keep = ~t.raw["municipality"].astype(str).isin(tiny).to_numpy()
        by = t.key[len("profile_"):] if t.key.startswith("profile_") else None
        if by in t.raw.columns:
            # the clients whose grouping value is unknown are a count of missing values (MISSING_COUNTS),
            # not a group to describe: a profile lists the known groups and the total
            known = (t.raw[by].astype("string") != UNKNOWN).fillna(True).to_numpy(dtype=bool)
            keep = known if keep is None else keep & known
        if keep is not None:
            t.parts = [(title, keep if mask is None else np.asarray(mask, dtype=bool) & keep, drop)
                       for title, mask, drop in t.parts]
    return raw_n


# --------------------------------------------------------------------------- step 3: joint protection
_LG = "lg"   # the population "latest Grund per client": Table 1, profiles, comparison, index, overview


def _cell_keys(t: _Table, c) -> list[tuple]:
    """A key per cell of one table: the same quantity in two tables gets the same key.

    Cells of the population "latest Grund per client" (Table 1, the profiles,
    the comparison, the index, the overview's first row) get a canonical key
    (population, unit, variable, value, [measure,] statistic), so e.g. the
    women of Älvstad in Table 1 (``k``) and in the profile by sex (``n``) are
    one cell, and the region's row for Älvstad in its table by municipality is
    Älvstad's own cell. Every other cell is (unit, table, row keys, column).
    """
    keys: dict[int, tuple] = {}
    kf = c.keyf      # strings already (publish._key_frame), "<NA>" for a missing key
    kcols = list(kf.columns)
    rows = kf.to_numpy(dtype=object)
    # only these tables have canonical keys (_canonical is None for every other table)
    canonical = t.key in ("index", "overview", "table1", "completeness", "compare") or t.key.startswith(
        ("profile_", "bortfall_reasons"))
    tuples = [tuple(r) for r in rows.tolist()]
    for col in c.counts:
        cids, first = np.unique(c.cell_id[col], return_index=True)   # each cell's first row
        for cid, r in zip(cids.tolist(), first.tolist()):
            keys[cid] = ((canonical and _canonical(t, col, dict(zip(kcols, tuples[r]))))
                         or (t.unit, t.key, tuples[r], col))
    return [keys[i] for i in range(len(c.values))]


def _canonical(t: _Table, col: str, row: dict) -> tuple | None:
    unit = t.unit
    if t.key == "index":
        g = row.get("municipality")
        return (_LG, REGION if g == TOTAL else g, "*", "*", "n") if col == "n" else None
    if t.key == "overview":
        return (_LG, unit, "*", "*", "n") if col == "n" and row.get("label", "").startswith(("Klienter",
                                                                                               "Clients")) else None
    if t.key == "table1":
        var, cat = row.get("variable"), row.get("category", "<NA>")
        is_cat = cat not in ("<NA>", "", "nan")
        if col == "n":
            return (_LG, unit, "*", "*", "n")
        if col == "k" and is_cat:
            return (_LG, unit, var, cat, "n")
        if col == "n_missing":
            return (_LG, unit, var, "missing") if is_cat else (_LG, unit, "*", "*", var, "missing")
        return None
    if t.key.startswith("profile_"):
        by = t.key[len("profile_"):]
        g, measure = row.get(by), row.get("measure")
        if by == "municipality" and g != TOTAL:
            unit, g = g, TOTAL       # the region's row of a municipality is that municipality's cell
        if col == "n":
            return (_LG, unit, "*", "*", "n") if g == TOTAL else (_LG, unit, by, g, "n")
        if col == "n_missing":
            return ((_LG, unit, "*", "*", measure, "missing") if g == TOTAL
                    else (_LG, unit, by, g, measure, "missing"))
        return None
    if t.key == "completeness" and row.get("table") == "grund":
        # Grund interviews: their clients are the unit's clients (and the interviews too when each
        # client has one); an area's interviews without composite/rating are the clients without one.
        # The same key only merges cells whose values agree (see protect_jointly).
        area = row.get("area")
        if col in ("n", "interviews"):
            return (_LG, unit, "*", "*", "n")
        if col == "composite_missing_n":
            return (_LG, unit, "*", "*", f"composite_{area}", "missing")
        if col == "rating_missing_n":
            return (_LG, unit, "*", "*", f"rating_{area}", "missing")
        return None
    if t.key.startswith("bortfall_reasons") and col == "n":
        return (unit, t.key, "n")       # the unit's bortfall clients, the same on every reason's row
    if t.key == "compare":
        measure = row.get("measure")
        if col == "n_unit":
            return (_LG, unit, "*", "*", measure, "valid")
        if col == "n_rest":
            return (_LG, unit, "*", "*", measure, "others_valid")
        return None
    return None


def _important(key: tuple) -> bool:
    """A cell a reader looks at first (:data:`IMPORTANCE`)."""
    if key[0] == _LG:
        return (len(key) == 5 and key[2] != "*") or (len(key) == 6 and key[5] in ("valid", "others_valid"))
    return len(key) == 4 and not isinstance(key[0], tuple) and key[1] == "asi_use" and key[3] == "k"


def _margin_key(key: tuple) -> tuple[str, tuple]:
    """(unit, the key without its unit): cells of one quantity in different units."""
    if key[0] == _LG:
        return key[1], (_LG, *key[2:])
    return key[0], key[1:]


@dataclass
class JointProtection:
    """The release-wide system of count cells and what was decided about it."""

    values: np.ndarray
    primary: np.ndarray
    hidden: np.ndarray
    keys: list
    sets: list
    table_cells: list      # per table: global ids of its local cells
    stats: dict
    shown: np.ndarray = None   # cells some file shows (the others are unknown to every reader)
    cells: list = None         # per table: its publish.table_cells (publishing reuses them)


def protect_jointly(tables: list, *, min_cell: int = 5, audit_cells: bool = True,
                    max_rounds: int = 200, exact: bool | None = None) -> JointProtection:
    """Decide the hidden count cells of many tables together.

    Parameters
    ----------
    tables : list
        Objects with ``unit``, ``key`` and ``raw`` (a raw result frame with
        ``attrs["asi"]``); units are municipality names or :data:`REGION`.
    min_cell : int, default 5
    audit_cells : bool, default True
        Check every suppressed count with integer programming
        (:func:`audit`) and hide more until none is determined exactly.
    max_rounds : int
        Safety bound on suppression rounds.
    exact : bool, optional
        The rank check of :func:`asi_lib.publish._secondary` (default: only
        without the audit, which is stronger and faster on large systems).

    Returns
    -------
    JointProtection
        ``hidden`` over all cells; ``table_cells[i]`` maps table i's local
        cells (:func:`asi_lib.publish.table_cells`) to the global ones.

    Notes
    -----
    Cells: every count cell of every table, merged when their keys
    (:func:`_cell_keys`) and values agree. Equations (sum of signed cells = 0):
    those of each table (groups + total, categories + n, row sums), plus

    * margins across units: the region's cell = Σ municipalities' cells of the
      same quantity, wherever this holds in the data (a reader can use any
      relation that holds);
    * the comparison: valid(M) + missing(M) = n(M), others(M) + valid(M) +
      missing(region) = n(region).

    Equations that do not hold exactly, or that contain a count that cannot be
    computed (NaN), are dropped. Suppression: the tables' primary and
    complement cells, then :func:`asi_lib.publish._secondary` over the whole
    system (single-hidden-cell rule and the exact rank check), then the integer
    audit; repeated until stable.

    Examples
    --------
    >>> a = pd.DataFrame({"sex": ["male", "female", "__total__"], "n": [40, 3, 43]})
    >>> a.attrs["asi"] = {"group_cols": ["sex"], "additive": True}
    >>> t = type("T", (), {"unit": REGION, "key": "x", "raw": a})
    >>> jp = protect_jointly([t])
    >>> jp.hidden.tolist()
    [True, True, False]
    """
    t0 = time.perf_counter()
    cells, gid_of, shown_locals, keys, values, vnan, shown, is_missing, primary, forced, penalty = \
        _release_cells(tables, min_cell)
    le_pairs, lower = _reader_bounds(tables, cells, gid_of, shown_locals, values)
    # The missing values of each group and measure of a profile: no file prints them, a reader
    # cannot work them out, and what ties them together (per measure, Σ groups = the unit's missing;
    # per group, the region = Σ municipalities; each ≤ its group's n) is a web of unknowns only, which
    # on the demo joined 3,546 hidden cells into one block and took 80 % of the audit's time. They
    # are left out of the system with every relation they are in (docs/methods/protection.md).
    latent = ~shown & is_missing & np.array([k[0] == _LG and len(k) == 6 and k[2] != "*" for k in keys],
                                            dtype=bool)
    if len(le_pairs):
        le_pairs = le_pairs[~latent[le_pairs].any(axis=1)]
    sets = _release_equations(tables, cells, gid_of, keys, values, vnan, latent)
    # a cell equal to a penalised cell (an equation with just these two non-zero cells, e.g. the
    # valid values of a measure that nobody skipped = the unit's clients) shares its penalty:
    # hiding it would take the client count with it
    for _ in range(2):
        for m, _sg in sets:
            nz = m[values[m] != 0]
            if len(nz) == 2 and penalty[nz].max() >= 1e6:
                penalty[nz] = penalty[nz].max()

    # ---- suppression until stable
    links = []
    for c, g in zip(cells, gid_of):
        for a, b in c.links:
            links.append((g[c.cell_id[a]], g[c.cell_id[b]]))
    hidden = forced.copy()
    rounds, audited, audit_seconds = 0, 0, 0.0
    det = np.zeros(0, dtype=int)
    # a small count shown free stays free when more cells are hidden (audit): each round searches only
    # the counts not yet shown free, and the solutions that showed it are checked once more at the end
    free, witnesses, cache = np.zeros(len(values), dtype=bool), {}, {}
    around = sets + [(p, np.array([1.0, -1.0])) for p in le_pairs]
    member = _Membership(around, len(values))
    for rounds in range(1, max_rounds + 1):
        if not (hidden & shown).any():
            break                      # nothing shown is hidden: nothing to protect (e.g. min_cell=1)
        if rounds == 1 or not audit_cells or exact:
            # with the audit, step A guards the small counts only, and they are hidden from the start:
            # after the first round every equation with one has two hidden cells or no visible one
            # left, and hiding more cannot undo that, so a second pass would find nothing to do
            hidden |= _secondary(values, hidden, sets, penalty, exact=(not audit_cells) if exact is None else exact,
                                 protect=primary if audit_cells else None)
        for a, b in links:
            both = (hidden[a] & shown[a]) | (hidden[b] & shown[b])
            hidden[a[both & (values[a] > 0)]] = True
            hidden[b[both & (values[b] > 0)]] = True
        if not audit_cells:
            break
        t_a = time.perf_counter()
        det = audit(values, primary, hidden, sets, min_cell=min_cell, le=le_pairs, lower=lower,
                    free=free, witnesses=witnesses, cache=cache)
        audited += 1
        audit_seconds += time.perf_counter() - t_a
        if det.size == 0:
            break
        if not _hide_around(det, values, hidden, around, penalty, member=member):
            break
    if audit_cells and not det.size:
        det = _unproven(values, primary, hidden, sets, witnesses, le=le_pairs, lower=lower)
    if audit_cells and det.size:
        JointProtection.last_failure = (det, values, hidden, keys, sets)
        raise RuntimeError(f"{det.size} skyddade celler går inte att dölja tillräckligt; utgåvan skrivs inte "
                           "/ suppressed cells could not be protected; the release is not written")
    stats = {"cells": int(len(values)), "equations": len(sets), "primary": int(primary.sum()),
             "unpublished": int((~shown).sum()), "hidden": int((hidden & shown).sum()),
             "secondary": int((hidden & shown & ~primary).sum()), "rounds": rounds,
             "audits": audited, "audit_seconds": round(audit_seconds, 2), "seconds": round(time.perf_counter() - t0, 2)}
    return JointProtection(values=values, primary=primary, hidden=hidden, keys=keys, sets=sets,
                           table_cells=gid_of, stats=stats, shown=shown, cells=cells)


def _release_cells(tables, min_cell: int):
    """Step 1 of :func:`protect_jointly`: every table's count cells, one global cell per quantity.

    Returns (cells, gid_of, shown per table, keys, values, NaN flags, shown,
    missing-value counts, primary, forced, penalty): the same quantity in
    two files (same key and value) is one cell; a cell no file shows is
    hidden from the start; what is expensive to hide gets its penalty.
    """
    cells, gid_of, keys, values, vnan = [], [], [], [], []
    key_to_gid: dict[tuple, int] = {}
    primary_l, forced_l, penalty_l, shown_l, missing_l, shown_locals = [], [], [], [], [], []
    for t in tables:
        c = table_cells(t.raw, min_cell=min_cell)
        cells.append(c)
        ks = _cell_keys(t, c)
        shown_local = _shown_cells(c, getattr(t, "parts", None))
        shown_locals.append(shown_local)
        isnan = np.zeros(len(c.values), dtype=bool)
        is_missing = np.zeros(len(c.values), dtype=bool)
        for col in c.counts:
            isnan[c.cell_id[col][np.isnan(c.vals[col])]] = True
            if col in MISSING_COUNTS:
                is_missing[c.cell_id[col]] = True
        g = np.empty(len(ks), dtype=int)
        for j, k in enumerate(ks):
            kv = (k, float(c.values[j]))
            if k in key_to_gid and values[key_to_gid[k]] == c.values[j]:
                g[j] = key_to_gid[k]
                forced_l[g[j]] |= bool(c.comp[j])
                penalty_l[g[j]] = max(penalty_l[g[j]], float(c.penalty[j]))
                shown_l[g[j]] |= bool(shown_local[j])
                continue
            if k in key_to_gid:      # the same key with another value: two quantities after all
                k = kv
                if k in key_to_gid:
                    g[j] = key_to_gid[k]
                    shown_l[g[j]] |= bool(shown_local[j])
                    continue
            key_to_gid[k] = len(values)
            g[j] = len(values)
            keys.append(k)
            values.append(float(c.values[j]))
            vnan.append(bool(isnan[j]))
            primary_l.append(bool(c.primary[j]))
            forced_l.append(bool(c.comp[j]))
            penalty_l.append(float(c.penalty[j]))
            shown_l.append(bool(shown_local[j]))
            missing_l.append(bool(is_missing[j]))
        gid_of.append(g)
    values = np.asarray(values, dtype=float)
    vnan = np.asarray(vnan, dtype=bool)
    # a cell no file shows is unknown to every reader: hidden from the start, protecting nothing
    # of its own (not primary), but an unknown in every equation it is part of
    shown = np.asarray(shown_l, dtype=bool)
    # a count of missing values is no count of clients (MISSING_COUNTS): not protected of its own
    is_missing = np.asarray(missing_l, dtype=bool)
    primary = np.asarray(primary_l, dtype=bool) & shown & ~is_missing
    forced = ((np.asarray(forced_l, dtype=bool) | primary) & shown) | ~shown
    penalty = np.asarray(penalty_l, dtype=float)
    penalty += IMPORTANCE * np.array([_important(k) for k in keys], dtype=bool)
    # ASI use per period: the target group (Grund + bortfall) is the row's whole, which a table on its
    # own keeps visible at any cost; in a release the Grund interviews are what a reader looks at, so
    # a period with a small bortfall hides its target group (and share) rather than its interviews
    penalty[[i for i, k in enumerate(keys) if len(k) == 4 and not isinstance(k[0], tuple)
             and k[1] == "asi_use" and k[3] == "n"]] = 0.0
    # a unit's number of clients is the one figure every reader needs: hidden only as a last resort
    is_total = np.array([len(k) == 5 and k[0] == _LG and k[2:] == ("*", "*", "n") for k in keys], dtype=bool)
    penalty[is_total] = np.maximum(penalty[is_total], 1e6)

    return cells, gid_of, shown_locals, keys, values, vnan, shown, is_missing, primary, forced, penalty


def _reader_bounds(tables, cells, gid_of, shown_locals, values):
    """Step 2 of :func:`protect_jointly`: the inequalities a reader knows (part ≤ whole, listed group ≥ 1)."""
    # ---- what else a reader knows: a part is at most its whole (k ≤ n, missing ≤ n), and a group
    # listed in a profile has at least one client (empty groups are not listed)
    from .publish import _complements

    le_pairs, lower = set(), np.zeros(len(values))
    for t, c, g, sh in zip(tables, cells, gid_of, shown_locals):
        for part, whole in _complements(c.counts, c.meta):
            ok = ~(np.isnan(c.vals[part]) | np.isnan(c.vals[whole]))
            for a, b in zip(g[c.cell_id[part][ok]], g[c.cell_id[whole][ok]]):
                if a != b:
                    le_pairs.add((int(a), int(b)))
        if str(getattr(t, "key", "")).startswith("profile_") and "n" in c.cell_id:
            ids = c.cell_id["n"]
            listed = g[ids[sh[ids]]]          # only the groups some file lists
            lower[listed] = np.maximum(lower[listed], 1.0)
    le_pairs = np.array(sorted(le_pairs), dtype=int).reshape(-1, 2)
    lower = np.minimum(lower, values)
    return le_pairs, lower


def _release_equations(tables, cells, gid_of, keys, values, vnan, latent) -> list:
    """Step 3 of :func:`protect_jointly`: every equation between the release's cells, as (cells, signs).

    Each table's own sums, the margins (region = Σ municipalities), the
    comparison with "all others", the periods; without the ``latent`` cells,
    each equation once, only those that hold.
    """
    # ---- equations
    raw_sets = []
    for c, g in zip(cells, gid_of):
        for m, sg in c.sets:
            raw_sets.append((g[m], sg))
    # margins: region = Σ municipalities, per quantity
    by_q: dict[tuple, dict[str, list[int]]] = {}
    for i, k in enumerate(keys):
        if len(k) == 2 and isinstance(k[0], tuple):   # a split key (same key, other value): not linked
            continue
        unit, q = _margin_key(k)
        by_q.setdefault(q, {}).setdefault(unit, []).append(i)
    for q, units in by_q.items():
        reg = units.get(REGION)
        parts = [ids[0] for u, ids in units.items() if u != REGION and len(ids) == 1]
        if reg and len(reg) == 1 and parts:
            raw_sets.append((np.array(parts + reg), np.r_[np.ones(len(parts)), -1.0]))
    # the comparison with "all others"
    gid = {k: i for i, k in enumerate(keys)}
    for k, i in list(gid.items()):
        if k[0] == _LG and len(k) == 6 and k[5] == "valid":
            unit, measure = k[1], k[4]
            miss, n = gid.get((_LG, unit, "*", "*", measure, "missing")), gid.get((_LG, unit, "*", "*", "n"))
            if miss is not None and n is not None:
                raw_sets.append((np.array([i, miss, n]), np.array([1.0, 1.0, -1.0])))
            oth = gid.get((_LG, unit, "*", "*", measure, "others_valid"))
            rmiss = gid.get((_LG, REGION, "*", "*", measure, "missing"))
            rn = gid.get((_LG, REGION, "*", "*", "n"))
            if oth is not None and rmiss is not None and rn is not None:
                raw_sets.append((np.array([oth, i, rmiss, rn]), np.array([1.0, 1.0, 1.0, -1.0])))
    raw_sets.extend(_period_equations(tables, cells, gid_of))
    sets, seen = [], set()
    for m, sg in raw_sets:
        m = np.asarray(m, dtype=int)
        sg = np.asarray(sg, dtype=float)
        if latent[m].any():
            continue
        # one cell twice in a set (merged cells) → coefficients add up
        u, inv = np.unique(m, return_inverse=True)
        coef = np.bincount(inv, weights=sg)
        keep = coef != 0
        u, coef = u[keep], coef[keep]
        if len(u) < 2 or vnan[u].any() or not np.isclose(coef @ values[u], 0.0):
            continue
        key = (u.tobytes(), coef.tobytes())
        if key not in seen:
            seen.add(key)
            sets.append((u, coef))

    return sets


def _period_equations(tables, cells, gid_of) -> list:
    """Equations of the ASI use per period with itself and with the unit's other tables.

    * a year = its half-years: the region's table by municipality and year
      against a municipality's own table by half-year;
    * the periods together = the unit's totals elsewhere: Grund interviews
      and follow-up interviews ("Kompletthet"), Grund bortfall
      ("Bortfallsorsaker Grund").

    Like every equation of the release, one that does not hold in the data is
    dropped by the caller.
    """
    import re
    from collections import defaultdict

    use, totals = [], {}
    for t, c, g in zip(tables, cells, gid_of):
        f = c.frame
        if t.key == "asi_use" and {"municipality", "period"} <= set(f.columns):
            for col in ("n", "k", "n_bortfall", "n_uppfoljning"):
                if col in c.cell_id:
                    for m, p, i in zip(f["municipality"].astype(str), f["period"].astype(str),
                                       g[c.cell_id[col]]):
                        use.append((t.unit, m, p, col, int(i)))
        elif t.key == "completeness" and "interviews" in c.cell_id and "table" in f.columns:
            for form, i in zip(f["table"].astype(str), g[c.cell_id["interviews"]]):
                col = {"grund": "k", "uppfoljning": "n_uppfoljning"}.get(form)
                if col:
                    totals[(t.unit, col)] = int(i)
        elif t.key == "bortfall_reasons_grund" and "n" in c.cell_id and len(f):
            totals[(t.unit, "n_bortfall")] = int(g[c.cell_id["n"]][0])
    out = []
    for t, c, g in zip(tables, cells, gid_of):
        f = c.frame
        if t.key == "followup" and "measure" in f.columns:
            # follow-up interviews = Kompletthet's follow-up interviews
            fu = (f["measure"].astype(str) == "followups").to_numpy()
            if fu.any() and (t.unit, "n_uppfoljning") in totals:
                for col in ("n", "n_clients"):
                    if col in c.cell_id:
                        out.append((np.array([int(g[c.cell_id[col][fu][0]]), totals[(t.unit, "n_uppfoljning")]]),
                                    np.array([1.0, -1.0])))
        elif t.key == "completion" and "intervention_type" in f.columns:
            # "Alla insatser" = Σ interventions when each client has one (kept only where it holds)
            tot = (f["intervention_type"].astype(str) == "__all__").to_numpy()
            if tot.sum() == 1:
                for col in ("n", "k"):
                    if col in c.cell_id:
                        ids = g[c.cell_id[col]]
                        out.append((np.r_[ids[~tot], ids[tot]], np.r_[np.ones(int((~tot).sum())), -1.0]))
    halves, per_muni, per_unit = defaultdict(list), defaultdict(list), defaultdict(list)
    for unit, m, p, col, i in use:
        if re.fullmatch(r"\d{4} H[12]", p):
            halves[(unit, m, p[:4], col)].append(i)
        per_muni[(unit, m, col)].append(i)
        per_unit[(unit, col)].append(i)
    for unit, m, p, col, i in use:
        if re.fullmatch(r"\d{4}", p):
            for owner in {unit, m}:
                parts = halves.get((owner, m, p, col))
                if parts:
                    out.append((np.array([*parts, i]), np.r_[np.ones(len(parts)), -1.0]))
    for (unit, m, col), ids in per_muni.items():
        if (m, col) in totals:
            out.append((np.array([*ids, totals[(m, col)]]), np.r_[np.ones(len(ids)), -1.0]))
    for (unit, col), ids in per_unit.items():
        if unit == REGION and (REGION, col) in totals:
            out.append((np.array([*ids, totals[(REGION, col)]]), np.r_[np.ones(len(ids)), -1.0]))
    return out


def _shown_cells(c, parts) -> np.ndarray:
    """Which cells of one table some file shows: rows × columns of its parts (all without parts)."""
    n = len(c.values)
    if parts is None:
        return np.ones(n, dtype=bool)
    shown = np.zeros(n, dtype=bool)
    for _title, mask, drop in parts:
        rows = np.ones(c.nrow, dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
        for col in c.counts:
            if col not in drop:
                shown[c.cell_id[col][rows]] = True
    return shown


_NEAR_MAX = 12   # an equation of more cells does not hold back hiding near its other determined cells


class _Membership:
    """Per cell, the indices of the sets it is in (``member[cell]``, a list, empty for none)."""

    def __init__(self, sets, n: int):
        S, C, _ = _incidence(sets)
        order = np.argsort(C, kind="stable")
        self._bounds = np.searchsorted(C[order], np.arange(n + 1)).tolist()
        self._rows = S[order].tolist()

    def __getitem__(self, cell: int) -> list:
        return self._rows[self._bounds[cell]:self._bounds[cell + 1]]


def _hide_around(det: np.ndarray, values, hidden, sets, penalty, member=None) -> bool:
    """Hide the cheapest visible cell near each determined cell.

    Near: in an equation with the cell; when all of those are hidden or
    protected by a penalty (a unit's client count), in an equation with one of
    their hidden cells (and so on, four steps out); a penalised cell only when
    nothing else is found.
    """
    cost = values + penalty
    if member is None:
        member = _Membership(sets, len(values))
    added = False
    touched: set[int] = set()          # sets next to a cell hidden in this call
    for target in det:
        if not hidden[target] or touched.intersection(member[int(target)]):
            continue                   # a cell just hidden nearby may already free it: audit again first
        frontier, seen_sets, fallback = {int(target)}, set(), None
        pick = None
        for _ in range(4):
            ids = {i for c in frontier for i in member[c] if i not in seen_sets}
            if not ids:
                break
            seen_sets |= ids
            cand = np.unique(np.concatenate([sets[i][0] for i in ids]))
            vis = cand[~hidden[cand]]     # a 0 too: in a release a hidden 0 reads like any other ".."
            cheap = vis[penalty[vis] < 1e6]
            if cheap.size:
                pick = cheap[np.argmin(cost[cheap])]
                break
            if vis.size and fallback is None:
                fallback = vis[np.argmin(cost[vis])]
            frontier = {int(c) for c in cand[hidden[cand]]}     # out through the hidden cells only
        pick = fallback if pick is None else pick
        if pick is not None:
            hidden[pick] = True
            added = True
            # the pick's small equations; a long one (a margin over every municipality, a period
            # total) holds many determined cells that one pick does not free, and waiting for it
            # made the national release hide one cell per round in it (120 rounds)
            touched.update(i for i in member[int(pick)] if len(sets[i][0]) <= _NEAR_MAX)
    return added


def audit(values: np.ndarray, primary: np.ndarray, hidden: np.ndarray, sets, *, min_cell: int = 5,
          only=None, seed: int = 0, le=None, lower=None, free=None, witnesses=None,
          cache=None) -> np.ndarray:
    """Suppressed small counts that all published numbers together determine exactly.

    In a release every suppressed count is shown as ``".."`` (small or not),
    so a reader knows of a hidden cell only that it is a whole number ≥ 0.
    For every connected block of equations that holds a small (primary)
    cell, integer linear programming (HiGHS through
    :func:`scipy.optimize.milp`) looks for another solution of the published
    system in which the cell differs from its true value, subject to the
    equations (Σ sign · cell = 0) with the visible cells fixed and every
    hidden cell an integer ≥ 0. A cell is determined when no such solution
    exists (its minimum equals its maximum). A few solutions with spread
    objectives prove most cells free at once; only the rest get a
    minimisation and a maximisation of their own.

    Parameters
    ----------
    values : ndarray
        True value of every cell.
    primary, hidden : ndarray of bool
    sets : list of (ids, signs)
    min_cell : int
        Only for the bound of the search (cells are not bounded by it).
    only : ndarray of bool, optional
        Audit only the blocks that hold one of these cells (the ones that
        changed since the last audit).
    seed : int
        Seed of the spread objectives.
    le : ndarray of shape (k, 2), optional
        Pairs (part, whole) a reader knows satisfy part ≤ whole (k ≤ n,
        missing ≤ n).
    lower : ndarray, optional
        Lower bound a reader knows for each cell (1 for a group listed in a
        profile; default 0).
    free : ndarray of bool, optional
        Small counts already shown to be free under fewer hidden cells; they
        are not searched again, and the cells this audit proves free are
        added (in place). Sound because hiding more cells only widens the
        published system: an earlier solution, with every newly hidden cell
        at its true value, is still a solution.
    witnesses : dict, optional
        Filled (in place) with, per cell proven free here, the solution that
        proves it: ``(cells, values)`` where it differs from the truth (see
        :func:`_unproven`).
    cache : dict, optional
        Determined counts per block (its hidden cells and equations), kept
        between audits of one protection: a block that did not change is not
        searched again.

    Returns
    -------
    ndarray of int
        Primary cells whose value follows exactly from what is published.

    References
    ----------
    Hundepool, A. et al. (2012). *Statistical Disclosure Control*, sect. 4.3
    (auditing a suppression pattern by linear programming). Wiley.

    Examples
    --------
    >>> v = np.array([5.0, 1.0, 2.0, 8.0])           # alcohol, cannabis, amphetamine, total
    >>> s = [(np.arange(4), np.array([1.0, 1, 1, -1]))]
    >>> small = (v > 0) & (v < 5)
    >>> audit(v, small, small, s).tolist()            # 8 − 5 = 3 = 1 + 2: not pinned
    []
    >>> audit(v, small, np.array([False, True, False, False]), s).tolist()   # one hidden: 8 − 5 − 2
    [1]
    """
    from scipy.optimize import Bounds, LinearConstraint, milp
    from scipy.sparse import coo_matrix, csr_matrix
    from scipy.sparse.csgraph import connected_components

    values = np.asarray(values, dtype=float)
    le = np.zeros((0, 2), dtype=int) if le is None else np.asarray(le, dtype=int).reshape(-1, 2)
    lower = np.zeros(len(values)) if lower is None else np.asarray(lower, dtype=float)
    free = np.zeros(len(values), dtype=bool) if free is None else free
    # an equation with one unknown cell gives its value: a small count found so is determined, any
    # other is as good as visible (repeated until nothing changes); what is left splits into
    # smaller blocks for the integer programs
    if cache is not None and "incidence" in cache:      # the same system in every round of one protection
        S, C, V = cache["incidence"]
    else:
        S, C, V = _incidence(sets, le)
        if cache is not None:
            cache["incidence"] = (S, C, V)
    n_eq = len(sets)
    hidden, derived = _derive(sets, hidden, incidence=(S[S < n_eq], C[S < n_eq]))
    pinned = derived & primary
    # inequalities with a hidden cell join the blocks like equations (as 2-cell rows part − whole ≤ 0)
    n_eq, n_rows = len(sets), len(sets) + len(le)
    if len(le):    # pairs without a hidden cell say nothing
        keep = np.r_[np.ones(n_eq, dtype=bool), hidden[le].any(axis=1)][S]
        S, C, V = S[keep], C[keep], V[keep]
    h = hidden[C]
    touched = np.flatnonzero(np.bincount(S[h], minlength=n_rows) > 0)
    if not touched.size:
        return np.flatnonzero(pinned)
    # right-hand sides: minus the visible part of each row
    rhs = -np.bincount(S[~h], weights=V[~h] * values[C[~h]], minlength=n_rows)[touched]
    is_le = touched >= n_eq
    big = float(np.abs(values).sum() + 1)
    hid = np.unique(C[h])
    pos = np.full(len(values), -1)
    pos[hid] = np.arange(len(hid))
    rpos = np.full(n_rows, -1)
    rpos[touched] = np.arange(len(touched))
    ne, nh = len(touched), len(hid)
    r_h, c_h = rpos[S[h]], pos[C[h]]
    g = coo_matrix((np.ones(len(r_h)), (r_h, ne + c_h)), shape=(ne + nh, ne + nh))
    _, comp = connected_components(g, directed=False)
    eq_comp, cell_comp = comp[:ne], comp[ne:]
    M = csr_matrix((V[h], (r_h, c_h)), shape=(ne, nh))      # coefficients add up where a cell repeats
    # blocks with a small count not yet shown free
    todo_cells = primary[hid] & ~free[hid]
    if only is not None:
        todo_cells &= np.isin(cell_comp, cell_comp[only[hid]])
    blocks = np.unique(cell_comp[todo_cells])
    cell_order = np.argsort(cell_comp, kind="stable")
    cell_start = np.searchsorted(cell_comp[cell_order], blocks)
    cell_end = np.searchsorted(cell_comp[cell_order], blocks, side="right")
    row_order = np.argsort(eq_comp, kind="stable")
    row_start = np.searchsorted(eq_comp[row_order], blocks)
    row_end = np.searchsorted(eq_comp[row_order], blocks, side="right")
    rng = np.random.default_rng(seed)
    out = []
    for bi in range(len(blocks)):
        cols = cell_order[cell_start[bi]:cell_end[bi]]
        rows = row_order[row_start[bi]:row_end[bi]]
        cells = hid[cols]
        nv = len(cells)
        prim = np.flatnonzero(primary[cells])
        todo = prim[~free[cells[prim]]]
        # the same block as in an earlier audit (same hidden cells, same equations) has the same
        # solutions: the small counts it left determined are determined again, without a search
        bkey = None
        if cache is not None:
            bkey = (cells.tobytes(), touched[rows].tobytes())
            if bkey in cache and set(cells[todo].tolist()) <= cache[bkey]:
                out.extend(cells[todo].tolist())
                continue
        A = M[rows][:, cols]
        b = rhs[rows]
        ineq = is_le[rows]
        cons = []
        if (~ineq).any():
            cons.append(LinearConstraint(A[np.flatnonzero(~ineq)], b[~ineq], b[~ineq]))
        if ineq.any():   # part − whole ≤ 0 (visible values moved to the right)
            cons.append(LinearConstraint(A[np.flatnonzero(ineq)], np.full(int(ineq.sum()), -np.inf), b[ineq]))
        bounds = Bounds(lower[cells], np.full(nv, big))
        integ = np.ones(nv)
        truth = values[cells]

        tried = set()

        def solve(obj):
            if obj.tobytes() in tried:     # the same search again (a random sign of a single cell)
                return True
            tried.add(obj.tobytes())
            r = milp(obj, constraints=cons, bounds=bounds, integrality=integ)
            if r.status != 0 or r.x is None:
                return False
            x = np.round(r.x)
            moved = np.abs(x - truth) > 0.5
            new = cells[prim[moved[prim] & ~free[cells[prim]]]]
            if new.size:
                free[new] = True
                if witnesses is not None:
                    w = (cells[moved], x[moved])
                    for c in new:
                        witnesses[int(c)] = w
            return True

        # spread objectives: push every small cell still in question up, down, and in random directions
        for sign in (1.0, -1.0, None, None):
            left = todo[~free[cells[todo]]]
            if not left.size:
                break
            obj = np.zeros(nv)
            obj[left] = sign if sign is not None else rng.choice([-1.0, 1.0], size=len(left))
            if not solve(obj):
                break    # nothing concluded: every cell left gets its own searches below
        for j in todo[~free[cells[todo]]]:
            for sign in (-1.0, 1.0):     # maximise, then minimise the cell itself
                obj = np.zeros(nv)
                obj[j] = sign
                solve(obj)
                if free[cells[j]]:
                    break
            if not free[cells[j]]:
                out.append(cells[j])
                if bkey is not None:
                    cache.setdefault(bkey, set()).add(int(cells[j]))
    return np.union1d(np.asarray(out, dtype=int), np.flatnonzero(pinned))


def _incidence(sets, le=None):
    """(row, cell, coefficient) of every entry of the equations, then of the pairs part − whole ≤ 0."""
    lens = np.fromiter((len(m) for m, _ in sets), dtype=int, count=len(sets))
    S = np.repeat(np.arange(len(sets)), lens)
    C = np.concatenate([np.asarray(m, dtype=int) for m, _ in sets]) if sets else np.zeros(0, dtype=int)
    V = np.concatenate([np.asarray(sg, dtype=float) for _, sg in sets]) if sets else np.zeros(0)
    if le is not None and len(le):
        S = np.r_[S, np.repeat(len(sets) + np.arange(len(le)), 2)]
        C = np.r_[C, np.asarray(le, dtype=int).ravel()]
        V = np.r_[V, np.tile([1.0, -1.0], len(le))]
    return S, C, V


def _unproven(values, primary, hidden, sets, witnesses, *, le=None, lower=None) -> np.ndarray:
    """Small counts without a checked solution that shows them free: the audit's result, verified.

    Each witness is a complete solution of the published system (the cells
    it lists at its values, every other cell at its true value). It is checked
    here against the final system, independently of how it was found: every
    cell it moves is hidden, it is a whole number within the cell's lower
    bound, every equation holds, and part ≤ whole holds for every known pair.
    A small count in no equation and no pair is free without one. Returns the
    small counts that no checked solution moves: none, or the release is not
    safe.
    """
    from scipy.sparse import csr_matrix

    values = np.asarray(values, dtype=float)
    n = len(values)
    le = np.zeros((0, 2), dtype=int) if le is None else np.asarray(le, dtype=int).reshape(-1, 2)
    lower = np.zeros(n) if lower is None else np.asarray(lower, dtype=float)
    S, C, V = _incidence(sets, le)
    n_eq = len(sets)
    E = csr_matrix((V, (S, C)), shape=(n_eq + len(le), n))
    in_system = np.zeros(n, dtype=bool)
    in_system[C] = True
    todo = np.flatnonzero(primary & in_system)
    wl = {}
    for c in todo:
        w = witnesses.get(int(c))
        if w is not None:
            wl.setdefault(id(w), w)
    ws = list(wl.values())
    ok = {}
    if ws:
        idx = np.concatenate([w[0] for w in ws]).astype(int)
        val = np.concatenate([w[1] for w in ws])
        col = np.repeat(np.arange(len(ws)), [len(w[0]) for w in ws])
        diff = val - values[idx]
        D = csr_matrix((diff, (idx, col)), shape=(n, len(ws)))
        good = np.ones(len(ws), dtype=bool)
        bad_cell = ~hidden[idx] | (np.abs(val - np.round(val)) > 1e-9) | (val < lower[idx] - 1e-9)
        good[np.unique(col[bad_cell])] = False
        R = (E @ D).tocoo()
        eq_bad = (R.row < n_eq) & (np.abs(R.data) > 1e-6)
        # part − whole ≤ 0 with the truth moved by the witness: diff(part) − diff(whole) ≤ whole − part
        slack = np.r_[np.zeros(n_eq), values[le[:, 1]] - values[le[:, 0]]]
        le_bad = (R.row >= n_eq) & (R.data > slack[R.row] + 1e-6)
        good[np.unique(R.col[eq_bad | le_bad])] = False
        ok = {id(w): bool(gd) for w, gd in zip(ws, good)}
    out = []
    for c in todo:
        w = witnesses.get(int(c))
        if w is None or not ok.get(id(w), False):
            out.append(c)
            continue
        j = np.flatnonzero(w[0] == c)
        if not j.size or abs(w[1][j[0]] - values[c]) < 0.5:
            out.append(c)
    return np.asarray(out, dtype=int)


def _derive(sets, hidden: np.ndarray, incidence=None) -> tuple[np.ndarray, np.ndarray]:
    """Hidden cells a reader works out one equation at a time; returns (still hidden, derived).

    >>> s = [(np.array([0, 1, 2]), np.array([1.0, 1, -1])), (np.array([2, 3]), np.array([1.0, -1]))]
    >>> h, d = _derive(s, np.array([True, True, True, False]))
    >>> h.tolist(), d.tolist()          # cell 2 = cell 3; then 0 + 1 = known: both stay hidden
    ([True, True, False, False], [False, False, True, False])
    """
    hidden = hidden.copy()
    derived = np.zeros_like(hidden)
    if not sets:
        return hidden, derived
    set_idx, cells = incidence if incidence is not None else _incidence(sets)[:2]
    while True:
        h = hidden[cells]
        cnt = np.bincount(set_idx, weights=h.astype(float), minlength=len(sets))
        one = h & (cnt[set_idx] == 1)
        if not one.any():
            return hidden, derived
        new = np.unique(cells[one])
        hidden[new] = False
        derived[new] = True


# --------------------------------------------------------------------------- the release object
def _fingerprint_frames(frames) -> str:
    h = hashlib.sha256()
    for name, f in frames:
        h.update(name.encode())
        if len(f):
            # the columns as stored (no conversion to text first: 17 s -> 6 s for a national store)
            h.update(pd.util.hash_pandas_object(f, index=False).to_numpy().tobytes())
    return h.hexdigest()[:16]


def _jsonable(obj):
    """Plain JSON types (numpy scalars, tuples and NaN made JSON-safe)."""
    return json.loads(json.dumps(obj, default=lambda o: o.item() if hasattr(o, "item") else str(o)))


def _file_sha(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


@dataclass
class Release:
    """A built or loaded release: published tables per unit and the manifest.

    Attributes
    ----------
    manifest : dict
        Reference date, fingerprints, parameters, units, protection summary.
    published : dict
        unit → {title: published DataFrame}, in reading order.
    """

    manifest: dict
    published: dict

    @property
    def reference_date(self) -> str:
        """The reference date (ISO) that every view of the release states."""
        return self.manifest["reference_date"]

    @property
    def municipalities(self) -> list[str]:
        """The municipalities with their own report, in name order."""
        return [u["name"] for u in self.manifest["units"] if u["unit"] != REGION]

    def unit_of(self, municipality: str | None) -> str:
        """The unit key of a municipality (``None`` = the region); unknown names are refused."""
        if municipality is None or municipality == REGION:
            return REGION
        if str(municipality) not in self.municipalities:
            raise AsiInputError(f"okänd kommun '{municipality}' i utgåvan (finns: {', '.join(self.municipalities)}) "
                                "/ unknown municipality in the release")
        return str(municipality)

    def tables(self, municipality: str | None = None) -> dict[str, pd.DataFrame]:
        """Published tables of one municipality (``None`` = the region), title → frame.

        Raises
        ------
        AsiInputError
            Unknown municipality, or one that this ``load_release(units=...)``
            did not read.
        """
        unit = self.unit_of(municipality)
        if unit not in self.published:
            raise AsiInputError(f"'{municipality}' lästes inte in: load_release(..., units=units_for(...)) "
                                "/ this unit was not read from the release")
        return self.published[unit]

    def client_counts(self) -> pd.DataFrame:
        """Clients with ASI Grund per municipality as published (the index), with the tendency flag."""
        rows = [(None if u["unit"] == REGION else u["name"], u["clients"], u["tendency"])
                for u in self.manifest["units"]]
        return pd.DataFrame({"municipality": pd.Series([r[0] for r in rows], dtype=object),
                             "n": [r[1] for r in rows], "tendency": [r[2] for r in rows]})

    def client_count(self, municipality: str | None = None) -> tuple[str, bool]:
        """The unit's client count as published and whether it shows tendencies only."""
        unit = self.unit_of(municipality)
        u = next(u for u in self.manifest["units"] if u["unit"] == unit)
        return u["clients"], bool(u["tendency"])

    def heading_facts(self, municipality: str | None = None, lang: str = "sv") -> dict:
        """What a report or dashboard heading states, in the same words everywhere."""
        text, tendency = self.client_count(municipality)
        return {"name": _REGION_LABEL[lang] if municipality is None else str(municipality),
                "clients": text, "tendency": tendency, "reference_date": self.reference_date,
                "period": self.manifest["period"], "min_cell": self.manifest["parameters"]["min_cell"]}


# --------------------------------------------------------------------------- build and write
def _publish_tables(tables, jp, *, min_cell: int, lang: str) -> list[pd.DataFrame]:
    """Every table of the release published with the joint decision (``jp``), in table order.

    Nothing is decided here: each table shows what the joint protection hid
    (:func:`asi_lib.publish.publish` with ``hidden=``). In this process: the
    published frames are cheap to make (7 ms each) but not to send to another
    one (pickling the count cells and the frames each way cost as much as the
    half a second interpreter would publish; measured on the national set).
    """
    cells = jp.cells or [None] * len(tables)   # the count cells the protection read, not read again
    return [publish(t.raw, min_cell=min_cell, lang=lang, hidden=(jp.hidden & jp.shown)[g],
                    labels=t.key != "index", one_marker=True, cells=c)
            for t, g, c in zip(tables, jp.table_cells, cells)]


def build_release(ds, *, as_of=None, min_cell: int = 5, lang: str = "sv", window=(90, 730),
                  municipalities=None, audit_cells: bool = True, store_fingerprint: str | None = None,
                  progress: bool = False, named=None, parallel: bool | None = None) -> Release:
    """Compute every published table once, for the region and every municipality, protected together.

    Parameters
    ----------
    ds : Dataset
        The whole region (``store.load_store``).
    as_of : date-like, optional
        Reference date; default :func:`reference_date` (the latest interview
        in the store — not today, not per municipality).
    min_cell : int, default 5
    lang : {"sv", "en"}
    window : (int, int), default (90, 730)
        Follow-up window in days.
    municipalities : list of str, optional
        Default every municipality with ASI Grund.
    audit_cells : bool, default True
        Integer-programming audit of the suppression (:func:`audit`).
    store_fingerprint : str, optional
        Recorded in the manifest (default: a hash of the tables' content).
    progress : bool
    named : list of str, optional
        Municipalities that may be named outside their own report (region
        file: consent and validated, :mod:`asi_lib.params`). The rows of any
        other municipality are left out of every table that lists
        municipalities (the region's table by municipality) after the joint
        protection, which leaving cells out cannot weaken; their data still
        count in the totals. Default: every municipality may be named.
    parallel : bool, optional
        Use a second core: a second interpreter (:class:`asi_lib.sidecar.Sidecar`)
        computes the change tables while this process computes the other
        tables. Default: when the machine has two cores and the
        release at least :data:`PARALLEL_MIN_UNITS` municipalities. The release
        is the same either way; if the second interpreter fails, its part is
        computed here.

    Returns
    -------
    Release

    Examples
    --------
    >>> from asi_lib.datasets import read_dataset
    >>> rel = build_release(read_dataset("demo", n_clients=300))
    >>> rel.reference_date == str(reference_date(read_dataset("demo", n_clients=300)).date())
    True
    >>> sorted(rel.tables(None))[:2]
    ['ASI-användning', 'Bortfall Grund']
    """
    from importlib import resources

    from .tables import _rows

    t0 = time.perf_counter()
    if lang not in ("sv", "en"):
        raise AsiInputError(f"okänt språk '{lang}' (sv, en) / unknown language")
    ref = reference_date(ds) if as_of is None else pd.Timestamp(as_of).normalize()
    known = sorted(map(str, ds.grund["municipality"].dropna().unique()))
    if municipalities is None:
        munis = known
    else:
        munis = [str(m) for m in municipalities]
        unknown = [m for m in munis if m not in known]
        if unknown:
            raise AsiInputError(f"okänd kommun {', '.join(map(repr, unknown))} (finns: {', '.join(known)}) "
                                "/ unknown municipality")
    units = [REGION, *munis]
    # the reliable-change reference is estimated once from the whole store and frozen in the release,
    # so "share improved" means the same in every municipality
    from .change import estimate_rci_reference
    from .followup import pair_followups

    if parallel is None:
        parallel = (os.cpu_count() or 1) >= 2 and len(munis) >= PARALLEL_MIN_UNITS
    with Sidecar(enabled=parallel) as side:   # starts now: its imports overlap the pairing below
        region_pairing = pair_followups(ds, window=window, as_of=ref)
        rci = estimate_rci_reference(region_pairing.pairs, ("composite",), label="hela lagret")
        tables = _raw_tables(ds, units, as_of=ref, lang=lang, window=window, rci=rci, region_pairing=region_pairing,
                             side=side)
        # a municipality with fewer clients than the tendency threshold shows no tables of its own but
        # the overview ("Materialet i korthet"; its report says why and shows the region): the cells of
        # its other tables are unknowns in every relation
        raw_n = _shape_for_release(tables, munis)
        t_compute = time.perf_counter() - t0
        second = {"used": bool(parallel), "calls": side.calls, "errors": side.errors}
    jp = protect_jointly(tables, min_cell=min_cell, audit_cells=audit_cells)
    t_protect = time.perf_counter()
    pubs = _publish_tables(tables, jp, min_cell=min_cell, lang=lang)
    t_publish = time.perf_counter()
    published: dict[str, dict[str, pd.DataFrame]] = {u: {} for u in units}
    index_pub = None
    for t, pub in zip(tables, pubs):
        pub.attrs["asi"]["reference_date"] = str(ref.date())
        if t.key == "index":
            index_pub = pub
            continue
        if named is not None and "municipality" in t.raw.columns:   # region file: unnamed rows left out
            ok = t.raw["municipality"].astype(str).isin([*map(str, named), TOTAL, t.unit]).to_numpy()
            t.parts = [(title, ok if mask is None else mask & ok, drop) for title, mask, drop in t.parts]
        for title, mask, drop in t.parts:
            published[t.unit][title] = _rows(pub, mask, drop=drop, lang=lang)
    # the unit list with each unit's client count as published (the index)
    counts = dict(zip(index_pub["municipality"].astype(str), index_pub["n"].astype(str)))
    unit_rows = []
    for u in units:
        k = TOTAL if u == REGION else u
        unit_rows.append({"unit": u, "name": _REGION_LABEL[lang] if u == REGION else u,
                          "clients": counts.get(k, "0"), "tendency": bool(raw_n.get(k, 0) < TENDENCY_THRESHOLD),
                          "named": named is None or u == REGION or u in set(map(str, named))})
    dates = pd.to_datetime(ds.grund["interview_date"]).dropna()
    period = f"{dates.min():%Y-%m} – {dates.max():%Y-%m}" if len(dates) else "–"
    t_fp = time.perf_counter()
    store_fingerprint = store_fingerprint or _fingerprint_frames(
        [(n, getattr(ds, n)) for n in ("grund", "uppfoljning", "bortfall", "insatser")])
    manifest = {
        "format": RELEASE_FORMAT,
        "reference_date": str(ref.date()),
        "reference_date_rule": ("senaste intervjudatum i hela lagret" if as_of is None
                                else "angivet datum (--as-of)"),
        "period": period,
        "created": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "parameters": {"min_cell": int(min_cell), "tendency_threshold": TENDENCY_THRESHOLD, "lang": lang,
                       "window": list(window), "audit": bool(audit_cells)},
        "store_fingerprint": store_fingerprint,
        "codebook_fingerprint": hashlib.sha256(
            resources.files("asi_lib").joinpath("data/codebook.yaml").read_bytes()).hexdigest()[:16],
        "units": unit_rows,
        "rci_reference": _jsonable(rci.to_dict()),
        "protection": {**jp.stats, "compute_seconds": round(t_compute, 2)},
        # where the build's time went (benchmarks/bench_national.py prints it)
        "build_seconds": {"compute": round(t_compute, 2), "protection": round(t_protect - t0 - t_compute, 2),
                          "publish": round(t_publish - t_protect, 2),
                          "fingerprint": round(time.perf_counter() - t_fp, 2)},
        # the second interpreter (parallel): calls it computed, and why any was computed here instead
        "second_process": second,
    }
    return Release(manifest=manifest, published=published)


def write_release(rel: Release, out) -> Path:
    """Write a release folder atomically: ``tables.parquet`` (long format) and ``manifest.json``.

    The folder is written beside ``out`` under a temporary name and then
    renamed into place, so a reader never sees half a release.

    Parameters
    ----------
    rel : Release
    out : str or Path

    Returns
    -------
    pathlib.Path
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise AsiInputError(f"{out} är en fil, inte en mapp / is a file, not a folder")
    if out.exists() and any(out.iterdir()) and not (out / "manifest.json").exists():
        raise AsiInputError(f"{out} finns och är inte en utgåva; välj en tom mapp / exists and is not a release")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    except OSError as exc:
        raise AsiInputError(f"kan inte skriva utgåvan i {out.parent}: {exc.strerror} / cannot write") from None
    # one long table (unit, title, row, col, value); the cells of every frame are collected as arrays
    # and converted to text once (one DataFrame per table was most of a national release's write)
    names, sizes, rows, cols, cells, tables_meta = [], [], [], [], [], []
    for unit, tabs in rel.published.items():
        for order, (title, frame) in enumerate(tabs.items()):
            vals = frame.to_numpy(dtype=object)
            r, c = np.indices(vals.shape)
            names.append((unit, title))
            sizes.append(vals.size)
            rows.append(r.ravel())
            cols.append(c.ravel())
            cells.append(vals.ravel())
            meta = frame.attrs.get("asi", {})
            tables_meta.append({"unit": unit, "title": title, "order": order, "columns": [str(x) for x in frame.columns],
                                "nrow": int(len(frame)),
                                "attrs": {k: meta.get(k) for k in ("selection", "unit", "legend", "min_cell",
                                                                   "tendency_threshold", "reference_date", "lang")
                                          if isinstance(meta.get(k), (str, int, float))}})
    which = np.repeat(np.arange(len(names)), np.asarray(sizes, dtype=np.int64))

    def joined(parts, dtype):
        return np.concatenate([np.zeros(0, dtype), *parts]).astype(dtype)

    long = pd.DataFrame({
        "unit": pd.Series(np.array([u for u, _ in names], dtype=object)[which], dtype=object).astype(str),
        "title": pd.Series(np.array([t for _, t in names], dtype=object)[which], dtype=object).astype(str),
        "row": joined(rows, "int32"), "col": joined(cols, "int32"),
        "value": pd.Series(joined(cells, object), dtype=object).astype(str),
    })
    long.to_parquet(tmp / "tables.parquet", index=False)
    manifest = {**rel.manifest, "tables": tables_meta,
                "files": {"tables.parquet": _file_sha(tmp / "tables.parquet")}}
    (tmp / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
    if out.exists():
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        os.replace(out, old)
        os.replace(tmp, out)
        import shutil

        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, out)
    return out


_LONG: dict = {}


def _long_table(tpath: Path, sha: str):
    """The release's long table as a pyarrow Table, read once per process and checksum."""
    key = (str(Path(tpath).resolve()), sha)
    if key not in _LONG:
        import pyarrow.parquet as pq

        _LONG.clear()
        _LONG[key] = pq.read_table(tpath)
    return _LONG[key]


def units_for(municipality: str | None) -> list[str]:
    """The units a report or view of one municipality reads: its own and the region's.

    >>> units_for("Fjällbo"), units_for(None)
    (['__region__', 'Fjällbo'], ['__region__'])
    """
    return [REGION] if municipality is None or municipality == REGION else [REGION, str(municipality)]


def load_release(path, units=None, manifest=None) -> Release:
    """Open a release folder written by :func:`write_release`.

    Parameters
    ----------
    path : str or Path
    units : list of str, optional
        Read only these units' tables (municipality names, :data:`REGION` for
        the region); default all. The manifest (every unit's published client
        count) is always complete. The dashboard reads one municipality and the
        region of a national release this way; the file is then read once per
        process (kept as an arrow table for the next call with the same checksum).
    manifest : dict, optional
        The manifest of an earlier ``load_release`` of this folder
        (``Release.manifest``, not modified since), used instead of reading
        ``manifest.json`` again (3.7 MB for a national release) when
        ``tables.parquet`` still has the checksum it names; otherwise (the
        release was rebuilt meanwhile) the folder's manifest is read. Either
        way the tables come from the file that the manifest used describes.

    Returns
    -------
    Release

    Raises
    ------
    AsiInputError
        No release there, another format version, or ``tables.parquet`` does
        not match the manifest's checksum.
    """
    path = Path(path)
    mpath = path / "manifest.json"
    tpath = path / "tables.parquet"
    sha = _file_sha(tpath) if manifest is not None and tpath.is_file() else None
    if manifest is None or manifest.get("format") != RELEASE_FORMAT or sha is None \
            or sha != manifest.get("files", {}).get("tables.parquet"):
        if not mpath.is_file():
            raise AsiInputError(f"ingen utgåva i {path} (manifest.json saknas); bygg den med 'asi-kit release' "
                                "/ no release")
        try:
            manifest = json.loads(mpath.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise AsiInputError(f"{mpath} går inte att läsa: {exc} / unreadable release manifest") from None
        sha = None
    if manifest.get("format") != RELEASE_FORMAT:
        raise AsiInputError(f"{path}: utgåvans format {manifest.get('format')} stöds inte (väntat {RELEASE_FORMAT})")
    if not tpath.is_file() or (sha or _file_sha(tpath)) != manifest.get("files", {}).get("tables.parquet"):
        raise AsiInputError(f"{tpath} saknas eller stämmer inte med manifestet; bygg om utgåvan / "
                            "tables missing or changed since the release was built")
    wanted = None if units is None else {str(u) for u in units}
    if wanted is None:
        long = pd.read_parquet(tpath)
    else:  # the file's arrow table is kept (per process, this checksum): the next unit's read is a filter
        import pyarrow as pa
        import pyarrow.compute as pc

        table = _long_table(tpath, manifest["files"]["tables.parquet"])
        long = table.filter(pc.is_in(table["unit"], value_set=pa.array(sorted(wanted)))).to_pandas()
    groups = {k: g for k, g in long.groupby(["unit", "title"], sort=False)}
    published: dict[str, dict[str, pd.DataFrame]] = {}
    # only the wanted units' entries are sorted (a report's two units among a national release's 4,655)
    mine = manifest["tables"] if wanted is None else [t for t in manifest["tables"] if t["unit"] in wanted]
    for tm in sorted(mine, key=lambda t: (t["unit"], t["order"])):
        g = groups.get((tm["unit"], tm["title"]))
        ncol = len(tm["columns"])
        grid = np.full((tm["nrow"], ncol), "", dtype=object)
        if g is not None:
            grid[g["row"].to_numpy(), g["col"].to_numpy()] = g["value"].to_numpy()
        frame = pd.DataFrame(grid, columns=tm["columns"])
        frame.attrs["asi"] = {**tm["attrs"], "published": True}
        published.setdefault(tm["unit"], {})[tm["title"]] = frame
    order = [u["unit"] for u in manifest["units"] if wanted is None or u["unit"] in wanted]
    published = {u: published.get(u, {}) for u in order}
    return Release(manifest=manifest, published=published)


# --------------------------------------------------------------------------- CLI
def _cmd(args: argparse.Namespace) -> int:
    from .store import load_store

    t0 = time.perf_counter()
    if args.params:   # region file: period, min_cell, lang, who counts and who is named (asi_lib.params)
        from .params import build_region_release, load_region_params

        given = [f for f, v in (("--as-of", args.as_of), ("--min-cell", args.min_cell), ("--lang", args.lang),
                                ("--kommun", args.kommun)) if v is not None]
        if given:
            raise AsiInputError(f"{', '.join(given)} går inte ihop med --params: ange det i regionfilen "
                                "/ give it in the region file")
        params = load_region_params(args.params)
        rel = build_region_release(params, load_store(args.store), audit_cells=not args.no_audit)
    else:
        rel = build_release(load_store(args.store), as_of=args.as_of, min_cell=args.min_cell or 5,
                            lang=args.lang or "sv", municipalities=args.kommun, audit_cells=not args.no_audit)
    out = write_release(rel, args.out)
    p = rel.manifest["protection"]
    print(f"Utgåva skriven: {out}  (referensdatum {rel.reference_date}, {len(rel.manifest['units'])} enheter, "
          f"{p['cells']} celler, {p['primary']} <{rel.manifest['parameters']['min_cell']}, "
          f"{p['secondary']} dolda därutöver; "
          f"{time.perf_counter() - t0:.1f} s)")
    return 0


def register_cli(subparsers) -> None:
    p = subparsers.add_parser("release", help="bygg en skyddad utgåva av allt som publiceras / build a release")
    p.add_argument("--store", required=True, help="lagret (mapp med manifest.json)")
    p.add_argument("--out", required=True, help="utgåvans mapp")
    p.add_argument("--as-of", default=None, help="referensdatum ÅÅÅÅ-MM-DD (standard: senaste intervjun i lagret)")
    p.add_argument("--min-cell", type=int, default=None, help="standard 5")
    p.add_argument("--lang", choices=["sv", "en"], default=None, help="standard sv")
    p.add_argument("--kommun", nargs="+", default=None, metavar="NAMN", help="bara dessa kommuner")
    p.add_argument("--params", default=None, metavar="FIL",
                   help="regionfil (parameters/<region>.yaml): period, min_cell, språk, samtycke, validering")
    p.add_argument("--no-audit", action="store_true", help="hoppa över heltalsgranskningen (snabbare, svagare)")
    p.set_defaults(func=_cmd)
