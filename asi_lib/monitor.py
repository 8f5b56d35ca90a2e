"""ASI-use monitoring: keep the interviewing alive (feed back once a term).

Three questions, three raw tables for :func:`asi_lib.publish.publish`:

* :func:`asi_use` — how many Grund and Uppföljning interviews per period and
  unit, and how large a share of the target group was interviewed
  (Grund / (Grund + Grund bortfall)); recent periods are *preliminary*
  because units often wait months before they register a bortfall;
* :func:`followup_timing` — how many baselines whose follow-up window has
  passed were followed up, and how many days after Grund (median, IQR);
* :func:`followups_due` — follow-ups falling due in the coming months
  (counts only).

The pairing of follow-ups with baselines is :func:`asi_lib.followup.pair_followups`.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .dataset import Dataset
from .errors import AsiInputError
from .groups import UNKNOWN, _add_derived, _by_list, periods
from .publish import TOTAL
from .stats import wilson_ci

__all__ = ["asi_use", "followup_timing", "followups_due", "as_of_date"]

_FREQ_MONTHS = {"year": 12, "half": 6, "quarter": 3}
#: ``asi_use(freq="auto")``: half-years when every group has a median target group of at least
#: this many per half-year (twice the ten of "tendencies only"), else years.
AUTO_MIN_PER_PERIOD = 20


def as_of_date(ds: Dataset, as_of=None) -> pd.Timestamp:
    """The reference date: ``as_of`` or the latest interview date (Grund or Uppföljning) in the data.

    The one rule of the kit: a release (:func:`asi_lib.release.reference_date`),
    the reports, the dashboard and the notebooks all use it. Registered
    bortfall do not move it (a bortfall is not an interview).

    Parameters
    ----------
    ds : Dataset
    as_of : date-like, optional

    Returns
    -------
    pandas.Timestamp

    Examples
    --------
    >>> from asi_lib.dataset import Dataset
    >>> g = pd.DataFrame({"client_pid": ["a"], "interview_date": pd.to_datetime(["2024-05-02"])})
    >>> ds = Dataset(g, g.iloc[:0], pd.DataFrame(), pd.DataFrame())
    >>> as_of_date(ds), as_of_date(ds, "2025-01-01")
    (Timestamp('2024-05-02 00:00:00'), Timestamp('2025-01-01 00:00:00'))
    """
    if as_of is not None:
        return pd.Timestamp(as_of)
    dates = [pd.to_datetime(t["interview_date"]).max() for t in (ds.grund, ds.uppfoljning)
             if "interview_date" in t.columns and len(t)]
    dates = [d for d in dates if pd.notna(d)]
    if not dates:
        raise AsiInputError("inga intervjudatum i data / no interview dates in the data")
    return pd.Timestamp(max(dates)).normalize()


def _keyed(frame: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    frame = _add_derived(frame, [c for c in by if c not in ("year", "half", "quarter")])
    return frame.assign(**{c: frame[c].astype("string").fillna(UNKNOWN) for c in by})


def _with_total(counts: pd.DataFrame, by: list[str], keys: list[str], value_cols: list[str]) -> pd.DataFrame:
    """Append the total over the groups of ``by`` (for each value of ``keys``).

    Not when there is only one group (e.g. a report scoped to one
    municipality): its total would repeat every row of it.
    """
    if not by or len(counts[by].drop_duplicates()) <= 1:
        return counts
    tot = counts.groupby(keys, sort=True)[value_cols].sum().reset_index() if keys else \
        counts[value_cols].sum().to_frame().T
    for c in by:
        tot[c] = TOTAL
    return pd.concat([counts, tot[counts.columns]], ignore_index=True)


def asi_use(ds: Dataset, by="municipality", freq: str = "half", *, as_of=None,
            preliminary_months: int = 3, alpha: float = 0.05) -> pd.DataFrame:
    """Interviews per period and unit, and the share of the target group interviewed.

    Parameters
    ----------
    ds : Dataset
    by : str or list of str, optional
        Grouping (default municipality; ``unit`` for teams); None: region only.
    freq : {"year", "half", "quarter", "auto"}
        ``"auto"``: half-years when a group's median target group per
        half-year is at least :data:`AUTO_MIN_PER_PERIOD` (20), else years
        — a municipality of a hundred clients gets readable yearly rows
        instead of half-years of "<5" (``attrs["asi"]["freq"]`` says which).
    as_of : date-like, optional
        Reference date (default: the latest date in the data).
    preliminary_months : int, default 3
        A period ending less than this many months before ``as_of`` is
        preliminary (bortfall is often registered late).
    alpha : float

    Returns
    -------
    pandas.DataFrame
        ``by...``, ``period``, ``n`` (target group: Grund interviews + Grund
        bortfall records), ``k`` (Grund interviews), ``n_bortfall``,
        ``share`` = k / n, ``ci_low``, ``ci_high`` (Wilson),
        ``n_uppfoljning`` (follow-up interviews), ``preliminary``. Records,
        not distinct clients (``attrs["asi"]["unit"] == "intervjuer"``).

    Examples
    --------
    >>> g = pd.DataFrame({"client_pid": ["a", "b", "c"], "municipality": ["A"] * 3,
    ...                   "interview_date": pd.to_datetime(["2024-01-05", "2024-02-01", "2024-08-01"])})
    >>> u = pd.DataFrame({"client_pid": ["a"], "municipality": ["A"], "interview_date": pd.to_datetime(["2024-09-01"])})
    >>> b = pd.DataFrame({"client_pid": ["d"], "municipality": ["A"], "form": ["grund"],
    ...                   "bortfall_date": pd.to_datetime(["2024-03-01"])})
    >>> r = asi_use(Dataset(g, u, b, pd.DataFrame()), by=None, as_of="2024-12-31")
    >>> r[["period", "n", "k", "n_uppfoljning", "preliminary"]].values.tolist()
    [['2024 H1', 3, 2, 0, False], ['2024 H2', 1, 1, 1, True]]
    """
    if freq == "auto":
        half = asi_use(ds, by, "half", as_of=as_of, preliminary_months=preliminary_months, alpha=alpha)
        groups_ = half.loc[~(half[_by_list(by)] == TOTAL).any(axis=1)]  # no by: every row
        med = groups_.groupby(_by_list(by) or (lambda _: 0), sort=False)["n"].median().min()
        if med >= AUTO_MIN_PER_PERIOD:  # NaN (no rows) is not
            return half
        freq = "year"
    if freq not in _FREQ_MONTHS:
        raise AsiInputError(f"okänd periodtyp '{freq}' (year, half, quarter, auto) / unknown period type")
    by = _by_list(by)
    as_of = as_of_date(ds, as_of)
    g = _keyed(ds.grund, by).assign(period=lambda f: periods(f["interview_date"], freq), _kind="k")
    u = _keyed(ds.uppfoljning, by).assign(period=lambda f: periods(f["interview_date"], freq), _kind="n_uppfoljning")
    b = ds.bortfall
    if len(b):
        b = b.loc[(b["form"].astype("string") == "grund").fillna(False).to_numpy()]
    b = _keyed(b, by).assign(period=lambda f: periods(f["bortfall_date"], freq), _kind="n_bortfall")
    cols = [*by, "period", "_kind"]
    allrec = pd.concat([g[cols], u[cols], b[cols]], ignore_index=True)
    counts = allrec.groupby([*by, "period", "_kind"], sort=True).size().unstack("_kind", fill_value=0)
    counts = counts.reindex(columns=["k", "n_bortfall", "n_uppfoljning"], fill_value=0).reset_index()
    counts.columns.name = None
    counts = _with_total(counts, by, ["period"], ["k", "n_bortfall", "n_uppfoljning"])
    counts["n"] = counts["k"] + counts["n_bortfall"]
    with np.errstate(invalid="ignore", divide="ignore"):
        counts["share"] = counts["k"] / counts["n"].where(counts["n"] > 0)
    lo, hi = wilson_ci(counts["k"].to_numpy(), counts["n"].to_numpy(), alpha)
    counts["ci_low"], counts["ci_high"] = lo, hi
    months = _FREQ_MONTHS[freq]
    year = counts["period"].str.slice(0, 4).astype(int)
    part = counts["period"].str.slice(6).replace("", "1").astype(int)
    end = pd.to_datetime(pd.DataFrame({"year": year, "month": (part - 1) * months + 1, "day": 1})) \
        + pd.DateOffset(months=months) - pd.Timedelta(days=1)
    counts["preliminary"] = (end + pd.DateOffset(months=preliminary_months) > as_of).to_numpy()
    out = counts[[*by, "period", "n", "k", "n_bortfall", "share", "ci_low", "ci_high", "n_uppfoljning",
                  "preliminary"]].sort_values([*by, "period"], key=lambda s: s.replace(TOTAL, "\uffff"),
                                              kind="stable").reset_index(drop=True)
    for c in ("n", "k", "n_bortfall", "n_uppfoljning"):
        out[c] = out[c].astype("int64")
    out.attrs["asi"] = {
        "unit": "intervjuer", "selection": "alla Grund- och Uppföljningsintervjuer och Grundbortfall per period",
        "group_cols": by, "key_cols": ["period"], "additive": True, "freq": freq, "as_of": str(as_of.date()),
        "preliminary_months": preliminary_months, "row_sums": {"n": ["k", "n_bortfall"]},
        # the share interviewed rests on the target group, not on the follow-ups counted beside it
        "tendency_cols": ["n"],
        "note": "Senaste perioden är preliminär: bortfall registreras ofta i efterhand.",
        "column_labels": {"n": ("Målgrupp (Grund + bortfall)", "Target group (baseline + attrition)"),
                          "k": ("Grundintervjuer", "Baseline interviews"),
                          "share": ("Andel intervjuade", "Share interviewed")},
    }
    return out


def _pairing(ds: Dataset, window, as_of):
    from .followup import pair_followups
    return pair_followups(ds, window=tuple(window), as_of=as_of, add_scores=False)


def followup_timing(ds: Dataset, by=None, *, window=(90, 730), as_of=None, pairing=None,
                    alpha: float = 0.05) -> pd.DataFrame:
    """Follow-ups done among baselines whose follow-up window has passed, and when.

    Parameters
    ----------
    ds : Dataset
    by : str or list of str, optional
        Baseline characteristics (``municipality``, ``unit``, ``sex``, ``age_band``…).
    window : (int, int), default (90, 730)
        Days after the baseline in which a follow-up counts (inclusive).
    as_of : date-like, optional
    pairing : asi_lib.followup.Pairing, optional
        A pairing already made (saves time); else made here.

    Returns
    -------
    pandas.DataFrame
        ``by...``, ``n`` (baselines whose window ended by ``as_of``), ``k``
        (of them followed up), ``share``, ``ci_low``, ``ci_high`` (Wilson),
        ``n_paired`` (all paired baselines), ``days_median``, ``days_q1``,
        ``days_q3`` (days from baseline to the follow-up, paired baselines).

    Notes
    -----
    The rate's denominator holds only baselines whose window end
    (baseline + window[1] days) is on or before ``as_of``, so recent
    baselines do not count as missed. Pairing rules: ``docs/methods/followup.md``.

    Examples
    --------
    >>> t = followup_timing(_example_dataset(), as_of="2026-03-01")
    >>> t[["n", "k", "share", "n_paired", "days_median"]]
       n  k  share  n_paired  days_median
    0  2  1    0.5         1        173.0
    """
    by = _by_list(by)
    as_of = as_of_date(ds, as_of)
    pr = pairing if pairing is not None else _pairing(ds, window, as_of)
    base = _keyed(pr.baselines, by)
    passed = (pd.to_datetime(base["baseline_date"]) + pd.Timedelta(days=int(window[1])) <= as_of).to_numpy()
    followed = (base["status"] == "followed_up").to_numpy()
    days = (pd.to_datetime(base["followup_date"]) - pd.to_datetime(base["baseline_date"])).dt.days
    data = pd.DataFrame({**{c: base[c] for c in by}, "n": passed.astype(int),
                         "k": (passed & followed).astype(int), "n_paired": followed.astype(int),
                         "days": days.where(followed).astype("float64")})
    parts = []
    if by:
        grp = data.groupby(by, sort=True)
        agg = grp[["n", "k", "n_paired"]].sum()
        agg["days_median"] = grp["days"].median()
        agg["days_q1"] = grp["days"].quantile(0.25)
        agg["days_q3"] = grp["days"].quantile(0.75)
        parts.append(agg.reset_index())
    tot = {"n": data["n"].sum(), "k": data["k"].sum(), "n_paired": data["n_paired"].sum(),
           "days_median": data["days"].median(), "days_q1": data["days"].quantile(0.25),
           "days_q3": data["days"].quantile(0.75), **{c: TOTAL for c in by}}
    parts.append(pd.DataFrame([tot]))
    out = pd.concat(parts, ignore_index=True)
    for c in ("n", "k", "n_paired"):
        out[c] = out[c].astype("int64")
    with np.errstate(invalid="ignore", divide="ignore"):
        out["share"] = out["k"] / out["n"].where(out["n"] > 0)
    lo, hi = wilson_ci(out["k"].to_numpy(), out["n"].to_numpy(), alpha)
    out["ci_low"], out["ci_high"] = lo, hi
    out = out[[*by, "n", "k", "share", "ci_low", "ci_high", "n_paired", "days_median", "days_q1", "days_q3"]]
    out.attrs["asi"] = {
        "unit": "grundintervjuer (baslinjer)",
        "selection": f"baslinjer vars uppföljningsfönster ({window[0]}–{window[1]} dagar) passerat {as_of.date()}",
        "group_cols": by, "additive": True, "additive_cols": ["n", "k", "n_paired"],
        "window": tuple(window), "as_of": str(as_of.date()),
        "column_labels": {"n": ("Grundintervjuer vars fönster passerat", "Baselines whose window has passed"),
                          "k": ("Följda upp", "Followed up"), "share": ("Andel uppföljda", "Share followed up"),
                          "n_paired": ("Uppföljda totalt", "Followed up, all")},
    }
    return out


def followups_due(ds: Dataset, by=None, *, months: int = 6, window=(90, 730), as_of=None,
                  pairing=None) -> pd.DataFrame:
    """Follow-ups falling due in the coming months (counts only).

    Parameters
    ----------
    ds : Dataset
    by : str or list of str, optional
    months : int, default 6
        How many calendar months ahead (the current month included).
    window, as_of, pairing
        As in :func:`followup_timing`.

    Returns
    -------
    pandas.DataFrame
        ``by...``, ``month`` ("2025-03"; the current month also holds
        baselines whose window is already open), ``n`` (baselines without a
        follow-up yet whose window opens that month). Totals per month.

    Notes
    -----
    A baseline is due when its status is ``not_yet_due`` (window open or not
    yet open, no follow-up, not superseded); it falls in the month its window
    opens (baseline + window[0] days), or the current month if already open.

    Examples
    --------
    >>> followups_due(_example_dataset(), months=3, as_of="2025-12-01")
         month  n
    0  2025-12  1
    1  2026-01  1
    2  2026-02  0
    """
    by = _by_list(by)
    as_of = as_of_date(ds, as_of)
    pr = pairing if pairing is not None else _pairing(ds, window, as_of)
    base = _keyed(pr.baselines, by)
    base = base.loc[(base["status"] == "not_yet_due").to_numpy()]
    opens = pd.to_datetime(base["baseline_date"]) + pd.Timedelta(days=int(window[0]))
    opens = opens.where(opens > as_of, as_of)
    month = opens.dt.strftime("%Y-%m")
    horizon = pd.period_range(as_of.to_period("M"), periods=months, freq="M").strftime("%Y-%m")
    keep = month.isin(list(horizon)).to_numpy()
    data = pd.DataFrame({**{c: base.loc[keep, c] for c in by},
                         "month": pd.Categorical(month[keep], categories=list(horizon))})
    if by:
        cnt = data.groupby([*by, "month"], observed=False, sort=True).size().rename("n").reset_index()
        cnt["month"] = cnt["month"].astype(str)
        cnt = _with_total(cnt, by, ["month"], ["n"])
    else:
        cnt = data.groupby("month", observed=False).size().rename("n").reset_index()
        cnt["month"] = cnt["month"].astype(str)
    cnt["n"] = cnt["n"].astype("int64")
    cnt.attrs["asi"] = {
        "unit": "grundintervjuer (baslinjer)",
        "selection": f"baslinjer utan uppföljning vars fönster öppnar inom {months} månader från {as_of.date()}",
        "group_cols": by, "key_cols": ["month"], "additive": True, "window": tuple(window),
        "as_of": str(as_of.date()), "tendency": False,
        "column_labels": {"n": ("Uppföljningar som förfaller", "Follow-ups falling due")},
    }
    return cnt


def _example_dataset() -> Dataset:  # doctest helper: A with a followed-up and a missed baseline, B recent
    d = pd.to_datetime
    g = pd.DataFrame({"client_pid": ["a", "b", "c"], "municipality": ["A", "A", "B"],
                      "interview_date": d(["2024-01-10", "2024-02-01", "2025-10-15"])})
    u = pd.DataFrame({"client_pid": ["a"], "municipality": ["A"], "interview_date": d(["2024-07-01"]),
                      "followup_type": ["ordinary"]})
    e = pd.DataFrame({"client_pid": pd.Series([], dtype=str)})
    return Dataset(g, u, e, e)
