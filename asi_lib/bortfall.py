"""Bortfall: who is not interviewed or not followed up, why, and does it matter.

Four questions from the guidance (DOMAIN.md, "Bortfall"):

* How large is the bortfall? :func:`grund_bortfall` (target group = Grund
  interviews + Grund bortfall records) and :func:`followup_bortfall`
  (baselines whose follow-up window has passed), by unit, group and period.
* Why? :func:`bortfall_reasons`, reasons with shares and Wilson CIs.
* Who is missing at Grund? :func:`who_is_missing`, interviewed against Grund
  bortfall on the fields a bortfall record keeps, with standardised differences.
* Are the followed-up clients a biased selection? :func:`attrition_bias`,
  baseline profile of followed-up against missed baselines as standardised mean
  differences, with a plain Swedish warning (:func:`attrition_warning`) when
  any ``|SMD| >= 0.2``.

Every function returns a raw tidy frame (``n`` = distinct clients behind the
row) with ``attrs["asi"]`` describing the selection; anything shown to people
goes through :func:`asi_lib.publish.publish`.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .codebook import load_codebook, numeric
from .errors import AsiInputError

#: Grouping variables the bortfall tables can be split by.
GROUP_COLUMNS = ("municipality", "unit", "sex", "age_band", "main_substance", "housing")
#: |SMD| at or above this is "a difference that matters": Cohen's (1988) "small" effect.
#: Not Austin (2009), who calls |SMD| < 0.1 negligible (stricter: ``threshold=0.1``).
SMD_THRESHOLD = 0.2
#: Where the default threshold comes from (shown in attrs and the docs).
SMD_THRESHOLD_SOURCE = ("|SMD| ≥ 0,2: Cohens (1988) \"liten\" effekt. Austin (2009) använder 0,1 "
                        "(försumbar obalans) – strängare, ange threshold=0.1.")
DEFAULT_WINDOW = (90, 730)


# --------------------------------------------------------------------------- helpers
# Thin adapters over the shared helpers in stats / groups / followup, so that
# each formula exists once in the kit; a private fallback keeps this module
# importable on its own (documented in docs/methods/bortfall_insatser_trends.md).

def _wilson(k, n, alpha: float = 0.05):
    """Wilson score interval (``stats.wilson_ci``), always as arrays."""
    from .stats import wilson_ci
    lo, hi = wilson_ci(np.asarray(k, dtype="float64"), np.asarray(n, dtype="float64"), alpha)
    return np.asarray(lo, dtype="float64"), np.asarray(hi, dtype="float64")


def _mean_ci(mean, sd, n, alpha: float = 0.05):
    """t-based CI of a mean (``stats.mean_ci``), always as arrays."""
    from .stats import mean_ci
    lo, hi = mean_ci(mean, sd, n, alpha)
    return np.asarray(lo, dtype="float64"), np.asarray(hi, dtype="float64")


def _smd_means(m1, s1, m0, s0):
    """Standardised difference (m1 − m0) / sqrt((s1² + s0²)/2) (Austin 2009).

    The balance-diagnostic form: both groups' variances weigh equally,
    whatever their sizes (``stats.smd`` weighs by n, as Cohen's d).
    """
    m1, s1, m0, s0 = (np.asarray(x, dtype="float64") for x in (m1, s1, m0, s0))
    with np.errstate(invalid="ignore", divide="ignore"):
        pooled = np.sqrt((s1**2 + s0**2) / 2)
        out = (m1 - m0) / pooled
    return np.where(pooled > 0, out, np.where(m1 == m0, 0.0, np.nan))


def _smd_props(p1, p0):
    """SMD for proportions (p1 − p0) / sqrt((p1(1−p1) + p0(1−p0))/2) (Austin 2009)."""
    p1 = np.asarray(p1, dtype="float64")
    p0 = np.asarray(p0, dtype="float64")
    return _smd_means(p1, np.sqrt(p1 * (1 - p1)), p0, np.sqrt(p0 * (1 - p0)))


def _bh(p):
    """Benjamini–Hochberg adjusted p-values, NaN-safe (``stats.bh_adjust``)."""
    from .stats import bh_adjust
    return np.asarray(bh_adjust(np.asarray(p, dtype="float64")), dtype="float64")


_AGE_EDGES = (18, 25, 35, 45, 55, 65)


def _age_band(age: pd.Series) -> pd.Series:
    """Age band (groups.age_bands when present; else 18–24, 25–34, …, 65+)."""
    try:
        from .groups import age_bands
        return age_bands(age)
    except (ImportError, AttributeError):
        pass
    a = pd.to_numeric(age, errors="coerce").astype("float64")
    edges = list(_AGE_EDGES) + [np.inf]
    labels = [f"{lo}–{hi - 1}" for lo, hi in zip(_AGE_EDGES[:-1], _AGE_EDGES[1:])] + [f"{_AGE_EDGES[-1]}+"]
    return pd.cut(a, bins=edges, right=False, labels=labels)


def _periods(dates: pd.Series, period: str | None) -> pd.DataFrame:
    """Period label, start and end (inclusive end) of each date.

    ``period`` is ``"year"`` ("2024"), ``"half"`` ("2024 H1"), ``"quarter"``
    ("2024 K1"), ``"month"`` ("2024-03") or None (one period "alla").
    """
    d = pd.to_datetime(dates)
    idx = dates.index
    if period is None:
        return pd.DataFrame({"period": "alla"}, index=idx)
    year = d.dt.year
    month = d.dt.month
    if period == "year":
        first, length = pd.Series(1, index=idx), 12
        label = year.astype("Int64").astype("string")
    elif period == "half":
        h = (month - 1) // 6 + 1
        first, length = (h - 1) * 6 + 1, 6
        label = year.astype("Int64").astype("string") + " H" + h.astype("Int64").astype("string")
    elif period == "quarter":
        q = (month - 1) // 3 + 1
        first, length = (q - 1) * 3 + 1, 3
        label = year.astype("Int64").astype("string") + " K" + q.astype("Int64").astype("string")
    elif period == "month":
        first, length = month, 1
        label = d.dt.strftime("%Y-%m").astype("string")
    else:
        raise AsiInputError(f"okänd period '{period}' (year, half, quarter, month) / unknown period")
    ok = d.notna()
    start = pd.to_datetime(
        pd.DataFrame({"year": year.where(ok, 2000), "month": pd.Series(first, index=idx).where(ok, 1), "day": 1}))
    end = (start + pd.DateOffset(months=length)) - pd.Timedelta(days=1)
    return pd.DataFrame({"period": label.where(ok), "period_start": start.where(ok),
                         "period_end": end.where(ok)}, index=idx)


def _as_of(as_of, ds=None) -> pd.Timestamp:
    """Reference date; default (as in followup): the latest interview date in the data."""
    if as_of is not None:
        return pd.Timestamp(as_of)
    if ds is not None:
        dates = pd.concat([pd.to_datetime(ds.grund.get("interview_date", pd.Series(dtype="datetime64[us]"))),
                           pd.to_datetime(ds.uppfoljning.get("interview_date", pd.Series(dtype="datetime64[us]")))])
        if dates.notna().any():
            return pd.Timestamp(dates.max())
    return pd.Timestamp.today().normalize()


def _in_range(dates: pd.Series, start, end) -> pd.Series:
    m = pd.Series(True, index=dates.index)
    if start is not None:
        m &= dates >= pd.Timestamp(start)
    if end is not None:
        m &= dates <= pd.Timestamp(end)
    return m


def _by_list(by) -> list[str]:
    if by is None:
        return []
    by = [by] if isinstance(by, str) else list(by)
    return by


def _add_group_cols(frame: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Derive ``age_band`` and ``young_adults`` when asked for; check the other columns exist."""
    if "age_band" in by and "age_band" not in frame.columns:
        frame = frame.assign(age_band=_age_band(frame["age"]))
    if "young_adults" in by and "young_adults" not in frame.columns and "age" in frame.columns:
        from .groups import age_bands
        frame = frame.assign(young_adults=age_bands(frame["age"], "young_adults"))
    missing = [c for c in by if c not in frame.columns]
    if missing:
        raise AsiInputError(f"okänd grupperingskolumn: {', '.join(missing)} / unknown grouping column")
    return frame


def _group_keys(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Grouping keys as plain strings with "okänd" for missing, so groupby keeps them."""
    out = frame.copy()
    for c in keys:
        s = out[c]
        if isinstance(s.dtype, pd.CategoricalDtype):
            s = s.astype("string")
        out[c] = s.astype("string").fillna("okänd")
    return out


def _share_rows(counts: pd.DataFrame, k_col: str, n_col: str = "n") -> pd.DataFrame:
    """Add share, ci_low, ci_high from k and n (Wilson)."""
    k = counts[k_col].to_numpy(dtype="float64")
    n = counts[n_col].to_numpy(dtype="float64")
    lo, hi = _wilson(k, n)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(n > 0, k / n, np.nan)
    return counts.assign(share=share, ci_low=lo, ci_high=hi)


def _labels(table: str, col: str, lang: str) -> dict:
    return load_codebook().labels(table, col, lang)


# --------------------------------------------------------------------------- Grund bortfall
def _grund_target(ds, start=None, end=None, period=None) -> pd.DataFrame:
    """One row per (client, period) in the Grund target group, interviewed or not.

    A client with a Grund interview in the period counts as interviewed (their
    latest interview is kept); a client with only Grund bortfall records counts
    once as bortfall (latest record kept).
    """
    cb = load_codebook()
    shared = [c.name for c in cb.columns("bortfall")
              if c.name in set(cb.column_names("grund")) and c.type in ("category", "integer", "string")]
    g = ds.grund
    g = g.loc[_in_range(g["interview_date"], start, end)]
    g = pd.DataFrame({"client_pid": g["client_pid"], "date": g["interview_date"],
                      **{c: g[c] for c in shared if c in g.columns}, "interviewed": True})
    b = ds.bortfall
    b = b.loc[(b["form"].astype("string") == "grund") & _in_range(b["bortfall_date"], start, end)]
    b = pd.DataFrame({"client_pid": b["client_pid"], "date": b["bortfall_date"],
                      **{c: b[c] for c in shared if c in b.columns},
                      "bortfall_reason": b["bortfall_reason"], "interviewed": False})
    t = pd.concat([g, b], ignore_index=True)
    for c in shared:  # keep codebook categories after concat
        if c in ds.grund.columns and isinstance(ds.grund[c].dtype, pd.CategoricalDtype):
            t[c] = t[c].astype("string").astype(pd.CategoricalDtype(list(cb.column("grund", c).codes)))
    t = t.join(_periods(t["date"], period))
    t = t.sort_values(["client_pid", "period", "interviewed", "date"], kind="stable")
    t = t.drop_duplicates(["client_pid", "period"], keep="last")
    return t.reset_index(drop=True)


def grund_bortfall(ds, *, by=None, period: str | None = None, start=None, end=None) -> pd.DataFrame:
    """Grund bortfall: share of the target group not interviewed.

    Parameters
    ----------
    ds : Dataset
        Store-format dataset (``grund`` and ``bortfall`` tables are used).
    by : str or list of str, optional
        Grouping columns among :data:`GROUP_COLUMNS` (``age_band`` is derived
        from ``age``). Group values are taken from the interview, or from the
        bortfall record for clients not interviewed.
    period : {"year", "half", "quarter", "month"}, optional
        Split by the period of the interview / bortfall date.
    start, end : date-like, optional
        Only interviews and bortfall records dated within [start, end].

    Returns
    -------
    pandas.DataFrame
        One row per group and period: ``n`` (clients in the target group),
        ``k`` (clients with Grund bortfall only; interviewed = n − k), ``share``,
        ``ci_low``, ``ci_high`` (Wilson 95 %).

    Notes
    -----
    Target group = distinct clients with a Grund interview or a Grund bortfall
    record in the period. A client with both counts as interviewed.
    ``share = k / n`` with the Wilson score interval

    .. math:: \\frac{\\hat p + z^2/2n \\pm z\\sqrt{\\hat p(1-\\hat p)/n + z^2/4n^2}}{1 + z^2/n}.

    References
    ----------
    Wilson EB (1927). Probable inference, the law of succession, and
    statistical inference. JASA 22:209–212.

    Examples
    --------
    >>> from asi_lib.dataset import Dataset
    >>> g = pd.DataFrame({"client_pid": list("abc"), "interview_date": pd.to_datetime(["2024-01-05"] * 3)})
    >>> b = pd.DataFrame({"client_pid": ["d"], "form": ["grund"], "bortfall_date": pd.to_datetime(["2024-02-01"]),
    ...                   "bortfall_reason": ["g_declined"]})
    >>> ds = Dataset(g, pd.DataFrame(), b, pd.DataFrame())
    >>> r = grund_bortfall(ds)
    >>> int(r.loc[0, "n"]), int(r.loc[0, "k"]), float(r.loc[0, "share"])
    (4, 1, 0.25)
    """
    by = _by_list(by)
    t = _add_group_cols(_grund_target(ds, start, end, period), by)
    keys = by + (["period"] if period else [])
    t = _group_keys(t, keys)
    t = t.assign(_bf=~t["interviewed"].astype(bool))
    if keys:
        agg = t.groupby(keys, sort=True, observed=True).agg(
            n=("client_pid", "size"), k=("_bf", "sum")).reset_index()
    else:
        agg = pd.DataFrame({"n": [len(t)], "k": [int(t["_bf"].sum())]})
    agg["k"] = agg["k"].astype("int64")
    agg.insert(len(keys), "measure", "grund_bortfall")
    out = _share_rows(agg, "k")
    out.attrs["asi"] = {
        "unit": "klienter", "measure": "grund_bortfall",
        "selection": "målgrupp = klienter med Grundintervju eller Grundbortfall i perioden",
        "group_cols": keys, "period": period, "start": start, "end": end,
        "additive": False,
    }
    return out


# --------------------------------------------------------------------------- follow-up bortfall
def _minimal_baselines(ds, window, as_of) -> pd.DataFrame:
    """Private stand-in for followup.pair_followups(...).baselines."""
    g = ds.grund[["client_pid", "interview_date"]].reset_index().rename(columns={"index": "_row"})
    u = ds.uppfoljning[["client_pid", "interview_date"]].rename(columns={"interview_date": "fu_date"})
    m = g.merge(u, on="client_pid", how="inner")
    days = (m["fu_date"] - m["interview_date"]).dt.days
    hit = m.loc[(days >= window[0]) & (days <= window[1]), "_row"].unique()
    base = ds.grund.copy()
    due = base["interview_date"] + pd.Timedelta(days=window[1]) < as_of
    status = np.where(np.isin(np.arange(len(base)), hit), "followed_up",
                      np.where(due.to_numpy(), "missed", "not_yet_due"))
    return base.assign(status=status, baseline_date=base["interview_date"]).reset_index(drop=True)


def _baselines(ds, pairing, window, as_of) -> pd.DataFrame:
    """Baselines with status and demographics (from the pairing when available)."""
    if pairing is None:
        try:
            from .followup import pair_followups
        except ImportError:
            return _minimal_baselines(ds, window, as_of)
        pairing = pair_followups(ds, window=window, as_of=as_of)
    base = pairing.baselines.copy()
    # the pairing may suffix baseline measurements with _0: use plain names here
    plain = {c: c[:-2] for c in base.columns if c.endswith("_0") and c[:-2] not in base.columns}
    base = base.rename(columns=plain)
    if "baseline_date" not in base.columns and "interview_date" in base.columns:
        base["baseline_date"] = base["interview_date"]
    # bring in Grund attributes the pairing may not carry
    need = [c for c in ds.grund.columns if c not in base.columns and c != "interview_date"]
    if need:
        extra = ds.grund[["client_pid", "interview_date", *need]].rename(columns={"interview_date": "baseline_date"})
        extra = extra.drop_duplicates(["client_pid", "baseline_date"], keep="last")
        base = base.merge(extra, on=["client_pid", "baseline_date"], how="left")
    return base


def _link_followup_records(base: pd.DataFrame, bortfall: pd.DataFrame) -> pd.DataFrame:
    """Attach to each baseline its latest Uppföljning bortfall record (if any).

    A record belongs to the client's latest baseline dated on or before it.
    """
    rec = bortfall.loc[bortfall["form"].astype("string") == "uppfoljning",
                       ["client_pid", "bortfall_date", "bortfall_reason"]]
    rec = rec.dropna(subset=["bortfall_date"]).astype({"client_pid": "string"})
    b = base.assign(_i=np.arange(len(base)), client_pid=base["client_pid"].astype("string"))
    left = rec.sort_values("bortfall_date")
    right = b[["client_pid", "baseline_date", "_i"]].dropna(subset=["baseline_date"]).sort_values("baseline_date")
    linked = pd.merge_asof(left, right, left_on="bortfall_date", right_on="baseline_date",
                           by="client_pid", direction="backward")
    linked = linked.dropna(subset=["_i"]).sort_values("bortfall_date").drop_duplicates("_i", keep="last")
    linked = linked.set_index(linked["_i"].astype("int64"))
    out = base.copy()
    out["has_record"] = np.isin(np.arange(len(base)), linked.index)
    reason = pd.Series(pd.NA, index=np.arange(len(base)), dtype="string")
    reason.loc[linked.index] = linked["bortfall_reason"].astype("string").to_numpy()
    out["followup_bortfall_reason"] = reason.to_numpy()
    return out


_FU_MEASURES = {
    "followed_up": ("Uppföljda", "Followed up"),
    "missed": ("Bortfall, totalt", "Not followed up, total"),
    "missed_registered": ("Bortfall med registrerad orsak", "Not followed up, reason registered"),
    "missed_unregistered": ("Bortfall utan registrering", "Not followed up, nothing registered"),
}


def followup_bortfall(ds, *, pairing=None, by=None, period: str | None = None,
                      window=DEFAULT_WINDOW, as_of=None, lang: str = "sv") -> pd.DataFrame:
    """Uppföljning bortfall among baselines whose follow-up window has passed.

    Parameters
    ----------
    ds : Dataset
    pairing : followup.Pairing, optional
        A ready pairing; else ``followup.pair_followups(ds, window=window,
        as_of=as_of)`` is used.
    by : str or list of str, optional
        Grouping columns (baseline values), e.g. ``"unit"``, ``"sex"``,
        ``"age_band"``, ``"main_substance"``, ``"housing"``.
    period : {"year", "half", "quarter", "month"}, optional
        Period of the baseline (Grund) date: the cohort.
    window : (int, int)
        Follow-up window in days after Grund (both ends inclusive).
    as_of : date-like, optional
        Reference date (default: the latest interview date in the data, as in
        :func:`asi_lib.followup.pair_followups`): a baseline is *due* when its window
        ended before ``as_of``.
    lang : {"sv", "en"}

    Returns
    -------
    pandas.DataFrame
        Per group, period and ``measure`` (followed_up, missed,
        missed_registered, missed_unregistered): ``n`` due baselines
        (distinct clients), ``k``, ``share`` with Wilson CI, and ``label``.

    Notes
    -----
    Denominator: baselines with status ``followed_up`` or ``missed``
    (``not_yet_due`` excluded). A missed baseline is *registered* when an
    Uppföljning bortfall record exists on or after its Grund date and before
    the client's next baseline; otherwise it is missed without any record,
    which the guidance asks to show beside the registered bortfall.

    Examples
    --------
    >>> from asi_lib.dataset import Dataset
    >>> g = pd.DataFrame({"client_pid": list("abcd"), "interview_date": pd.to_datetime(["2022-01-01"] * 4)})
    >>> u = pd.DataFrame({"client_pid": ["a"], "interview_date": pd.to_datetime(["2022-07-01"])})
    >>> b = pd.DataFrame({"client_pid": ["b"], "form": ["uppfoljning"],
    ...                   "bortfall_date": pd.to_datetime(["2022-08-01"]), "bortfall_reason": ["u_declined"]})
    >>> r = followup_bortfall(Dataset(g, u, b, pd.DataFrame()), as_of="2025-01-01")
    >>> r.set_index("measure")["k"].to_dict()
    {'followed_up': 1, 'missed': 3, 'missed_registered': 1, 'missed_unregistered': 2}
    """
    as_of = _as_of(as_of, ds)
    by = _by_list(by)
    base = _baselines(ds, pairing, window, as_of)
    base = base.loc[base["status"].isin(["followed_up", "missed"])].reset_index(drop=True)
    base = _link_followup_records(base, ds.bortfall)
    base = _add_group_cols(base, by)
    base = base.join(_periods(base["baseline_date"], period).drop(columns=["period_start", "period_end"], errors="ignore"))
    keys = by + (["period"] if period else [])
    base = _group_keys(base, keys)
    missed = base["status"] == "missed"
    ind = pd.DataFrame({
        "followed_up": base["status"] == "followed_up",
        "missed": missed,
        "missed_registered": missed & base["has_record"],
        "missed_unregistered": missed & ~base["has_record"],
    })
    ind[keys] = base[keys]
    if keys:
        g = ind.groupby(keys, sort=True, observed=True)
        wide = g.sum().join(g.size().rename("n")).reset_index()
    else:
        wide = ind.sum().to_frame().T.assign(n=len(ind))
    long = wide.melt(id_vars=keys + ["n"], value_vars=list(_FU_MEASURES), var_name="measure", value_name="k")
    long["k"] = long["k"].astype("int64")
    long["n"] = long["n"].astype("int64")
    long["label"] = long["measure"].map({m: v[0 if lang == "sv" else 1] for m, v in _FU_MEASURES.items()})
    long = long[keys + ["measure", "label", "n", "k"]].sort_values(keys + ["measure"], kind="stable",
                                                                  key=lambda s: s.map(list(_FU_MEASURES).index)
                                                                  if s.name == "measure" else s)
    out = _share_rows(long.reset_index(drop=True), "k")
    out.attrs["asi"] = {
        "unit": "klienter (grundintervjuer)", "measure": "uppfoljning_bortfall",
        "selection": f"grundintervjuer vars uppföljningsfönster ({window[0]}–{window[1]} dagar) passerat {as_of.date()}",
        "group_cols": keys, "period": period, "as_of": str(as_of.date()), "window": tuple(window),
        "additive": False,
        # missed = registered + unregistered in every group (followed_up + missed = n is
        # covered by publish's complement rule n − k)
        "row_sets": [{"key": "measure", "cols": ["k"],
                      "sets": {"missed": ["missed_registered", "missed_unregistered"]}}],
    }
    return out


# --------------------------------------------------------------------------- reasons
def bortfall_reasons(ds, form: str = "grund", *, by=None, period: str | None = None,
                     start=None, end=None, lang: str = "sv") -> pd.DataFrame:
    """Reasons for bortfall with shares and Wilson CIs.

    Parameters
    ----------
    ds : Dataset
    form : {"grund", "uppfoljning"}
        Which bortfall records.
    by, period, start, end
        As in :func:`grund_bortfall` (by the bortfall date).
    lang : {"sv", "en"}

    Returns
    -------
    pandas.DataFrame
        Per group and reason (every reason of the form, also those with k = 0):
        ``n`` (clients with a bortfall record of this form), ``k``, ``share``,
        ``ci_low``, ``ci_high``, ``label`` (reason in ``lang``).

    Notes
    -----
    Each client counts once per group and period, with the reason of the
    latest record. The shares of one group add up to 1 (``additive``).

    Examples
    --------
    >>> from asi_lib.dataset import Dataset
    >>> b = pd.DataFrame({"client_pid": list("abcd"), "form": ["grund"] * 4,
    ...                   "bortfall_date": pd.to_datetime(["2024-01-01"] * 4),
    ...                   "bortfall_reason": ["g_declined", "g_declined", "g_acute", "g_declined"]})
    >>> r = bortfall_reasons(Dataset(pd.DataFrame(), pd.DataFrame(), b, pd.DataFrame()))
    >>> row = r.set_index("reason").loc["g_declined"]
    >>> int(row["n"]), int(row["k"]), float(row["share"])
    (4, 3, 0.75)
    """
    if form not in ("grund", "uppfoljning"):
        raise AsiInputError(f"okänt formulär '{form}' (grund, uppfoljning) / unknown form")
    by = _by_list(by)
    cb = load_codebook()
    reasons = [code for code, v in cb.codelist("bortfall_reason").items() if v.get("form") == form]
    labels = _labels("bortfall", "bortfall_reason", lang)
    b = ds.bortfall
    b = b.loc[(b["form"].astype("string") == form) & _in_range(b["bortfall_date"], start, end)]
    b = _add_group_cols(b, by).join(_periods(b["bortfall_date"], period)[["period"]])
    keys = by + (["period"] if period else [])
    b = _group_keys(b.sort_values("bortfall_date", kind="stable"), keys)
    b = b.drop_duplicates(["client_pid", *keys], keep="last")
    b = b.assign(reason=pd.Categorical(b["bortfall_reason"].astype("string"), categories=reasons))
    if keys:
        counts = b.groupby(keys + ["reason"], observed=False, sort=True).size().rename("k").reset_index()
        totals = b.groupby(keys, observed=True).size().rename("n").reset_index()
        counts = counts.merge(totals, on=keys, how="inner")
    else:
        counts = b.groupby("reason", observed=False).size().rename("k").reset_index()
        counts["n"] = len(b)
    counts["reason"] = counts["reason"].astype("string")
    counts["label"] = counts["reason"].map(labels)
    counts = counts[keys + ["reason", "label", "n", "k"]].astype({"n": "int64", "k": "int64"})
    out = _share_rows(counts, "k")
    out.attrs["asi"] = {
        "unit": "klienter", "measure": f"bortfallsorsak_{form}",
        "selection": f"bortfallsregistreringar ({form}), senaste per klient", "group_cols": keys,
        "additive": True, "category_col": "reason", "value_vars": {"reason": "bortfall_reason"},
    }
    return out


# --------------------------------------------------------------------------- who is missing
def _bortfall_fields() -> list[str]:
    """Fields a bortfall record keeps that Grund has too (from the codebook)."""
    cb = load_codebook()
    grund = set(cb.column_names("grund"))
    return [c.name for c in cb.columns("bortfall")
            if c.name in grund and c.type in ("category", "integer") and c.name != "birth_year"]


def _profile_two(a: pd.DataFrame, b: pd.DataFrame, fields: list[str], table: str, lang: str,
                 names=("a", "b")) -> pd.DataFrame:
    """Side-by-side profile of two client groups with SMDs.

    Categories (codelist) → one row per level (share, binary SMD); yes/no items
    → share "yes" among answered; other integers → mean/sd and SMD of means.
    """
    cb = load_codebook()
    n1, n0 = names
    rows = []
    for f in fields:
        col = cb.column(table, f)
        label_var = col.label(lang)
        xa, xb = a[f], b[f]
        if col.type == "category" or (col.codelist == "yesno"):
            if col.type == "category":
                levels = list(col.codes)
                va, vb = xa.astype("string"), xb.astype("string")
            else:
                levels = [1]
                va = pd.Series(numeric(xa), index=xa.index)
                vb = pd.Series(numeric(xb), index=xb.index)
            na_, nb_ = int(va.notna().sum()), int(vb.notna().sum())
            lab = cb.labels(table, f, lang)
            for lev in levels:
                ka = int((va == lev).sum())
                kb = int((vb == lev).sum())
                pa = ka / na_ if na_ else np.nan
                pb = kb / nb_ if nb_ else np.nan
                rows.append({"variable": f, "variable_label": label_var, "level": str(lev),
                             "level_label": lab.get(lev, str(lev)), "kind": "share",
                             f"n_{n1}": na_, f"k_{n1}": ka, f"value_{n1}": pa,
                             f"n_{n0}": nb_, f"k_{n0}": kb, f"value_{n0}": pb,
                             f"n_missing_{n1}": int(len(va) - na_), f"n_missing_{n0}": int(len(vb) - nb_),
                             "smd": float(_smd_props(pa, pb))})
        else:
            va = numeric(xa)
            vb = numeric(xb)
            va, vb = va[~np.isnan(va)], vb[~np.isnan(vb)]
            ma, mb = (va.mean() if va.size else np.nan), (vb.mean() if vb.size else np.nan)
            sa = va.std(ddof=1) if va.size > 1 else np.nan
            sb = vb.std(ddof=1) if vb.size > 1 else np.nan
            rows.append({"variable": f, "variable_label": label_var, "level": "", "level_label": "",
                         "kind": "mean", f"n_{n1}": int(va.size), f"k_{n1}": np.nan, f"value_{n1}": ma,
                         f"sd_{n1}": sa, f"n_{n0}": int(vb.size), f"k_{n0}": np.nan, f"value_{n0}": mb,
                         f"sd_{n0}": sb, f"n_missing_{n1}": int(len(xa) - va.size),
                         f"n_missing_{n0}": int(len(xb) - vb.size), "smd": float(_smd_means(ma, sa, mb, sb))})
    out = pd.DataFrame(rows)
    out["n"] = out[f"n_{n1}"] + out[f"n_{n0}"]
    return out


def who_is_missing(ds, *, start=None, end=None, threshold: float = SMD_THRESHOLD,
                   lang: str = "sv") -> pd.DataFrame:
    """Interviewed against Grund bortfall on the fields a bortfall record has.

    Parameters
    ----------
    ds : Dataset
    start, end : date-like, optional
        Target group period (interview / bortfall date).
    threshold : float, default 0.2
        ``flag`` is True where ``|smd| >= threshold``.
    lang : {"sv", "en"}

    Returns
    -------
    pandas.DataFrame
        One row per variable (and level for categories): ``value_interviewed``,
        ``value_bortfall`` (share, or mean for age), their ``n_``/``k_``
        columns, ``smd`` (interviewed − bortfall), ``flag``, ``n`` (both groups).

    Notes
    -----
    Fields: the codebook columns a bortfall record shares with Grund (age,
    sex, housing, living situation 3 years, income source, psychiatric
    contact, long-term physical illness, main substance). SMD for a share
    :math:`(p_1-p_0)/\\sqrt{(p_1(1-p_1)+p_0(1-p_0))/2}`, for a mean
    :math:`(\\bar x_1-\\bar x_0)/\\sqrt{(s_1^2+s_0^2)/2}` (Austin 2009).

    References
    ----------
    Austin PC (2009). Balance diagnostics for comparing the distribution of
    baseline covariates between treatment groups in propensity-score matched
    samples. Stat Med 28:3083–3107.

    Examples
    --------
    >>> from asi_lib.dataset import Dataset
    >>> g = pd.DataFrame({"client_pid": list("ab"), "interview_date": pd.to_datetime(["2024-01-05"] * 2),
    ...                   "age": pd.array([30, 40], dtype="Int16")})
    >>> b = pd.DataFrame({"client_pid": ["c", "d"], "form": ["grund"] * 2, "age": pd.array([20, 30], dtype="Int16"),
    ...                   "bortfall_date": pd.to_datetime(["2024-02-01"] * 2), "bortfall_reason": ["g_acute"] * 2})
    >>> r = who_is_missing(Dataset(g, pd.DataFrame(), b, pd.DataFrame()))
    >>> r.set_index("variable").loc["age", ["value_interviewed", "value_bortfall", "smd"]].round(3).tolist()
    [35.0, 25.0, 1.414]
    """
    t = _grund_target(ds, start, end, None)
    fields = [f for f in _bortfall_fields() if f in t.columns]
    out = _profile_two(t.loc[t["interviewed"]], t.loc[~t["interviewed"]], fields, "bortfall", lang,
                       names=("interviewed", "bortfall"))
    out["flag"] = out["smd"].abs() >= threshold
    out.attrs["asi"] = {
        "unit": "klienter", "measure": "vem_saknas",
        "selection": "målgruppen för Grund: intervjuade mot Grundbortfall (senaste per klient)",
        "smd": "intervjuade − bortfall", "threshold": threshold, "group_cols": ["variable", "level"],
        "additive": False, "row_sums": {"n": ["n_interviewed", "n_bortfall"]},
        # levels of one variable add up: publish hides one more level when one is protected
        "category_sets": {"by": "variable", "counts": [["k_interviewed", "n_interviewed", "n_missing_interviewed"],
                                                       ["k_bortfall", "n_bortfall", "n_missing_bortfall"]]},
    }
    return out


# --------------------------------------------------------------------------- attrition bias
def _bias_variables(base: pd.DataFrame, lang: str) -> pd.DataFrame:
    """Numeric indicator frame of baseline variables for the attrition comparison."""
    cb = load_codebook()
    sv = lang == "sv"
    cols: dict[str, pd.Series] = {}
    labels: dict[str, str] = {}
    kinds: dict[str, str] = {}
    for area, info in cb.areas.items():
        comp = f"composite_{area}"
        if comp in base.columns:
            cols[comp] = pd.Series(pd.to_numeric(base[comp], errors="coerce"), index=base.index, dtype="float64")
            labels[comp] = f"Sammanvägt index: {info['label_sv'].lower()}" if sv else f"Composite: {info['label_en'].lower()}"
            kinds[comp] = "mean"
    for c in cb.columns("grund"):
        if c.role == "interviewer_rating" and c.name in base.columns:
            cols[c.name] = pd.Series(numeric(base[c.name]), index=base.index)
            labels[c.name] = c.label(lang)
            kinds[c.name] = "mean"
    if "age" in base.columns:
        age = pd.Series(numeric(base["age"]), index=base.index)
        cols["age"], labels["age"], kinds["age"] = age, ("Ålder" if sv else "Age"), "mean"
        cols["young_adult"] = (age <= 30).astype("float64").where(age.notna())
        labels["young_adult"] = "Andel unga vuxna (18–30 år)" if sv else "Share young adults (18–30)"
        kinds["young_adult"] = "share"
    if "sex" in base.columns:
        s = base["sex"].astype("string")
        cols["female"] = (s == "female").astype("float64").where(s.notna())
        labels["female"] = "Andel kvinnor" if sv else "Share women"
        kinds["female"] = "share"
    for var, code_list in (("housing", "housing"), ("main_substance", "substance"), ("income_source", "income")):
        if var not in base.columns:
            continue
        s = base[var].astype("string")
        for code, lab in cb.codelist(code_list).items():
            key = f"{var}={code}"
            cols[key] = (s == code).astype("float64").where(s.notna())
            vname = cb.column("grund", var).label(lang).split(" (")[0]
            labels[key] = f"{vname}: {lab['sv' if sv else 'en']}"
            kinds[key] = "share"
    if "municipality" in base.columns and base["municipality"].nunique() >= 2:
        s = base["municipality"].astype("string")
        for code in sorted(s.dropna().unique()):
            key = f"municipality={code}"
            cols[key] = (s == code).astype("float64").where(s.notna())
            labels[key] = f"{'Kommun' if sv else 'Municipality'}: {code}"
            kinds[key] = "share"
    if "psychiatric_contact" in base.columns:
        v = pd.Series(numeric(base["psychiatric_contact"]), index=base.index)
        cols["psychiatric_contact"] = v
        labels["psychiatric_contact"] = cb.column("grund", "psychiatric_contact").label(lang)
        kinds["psychiatric_contact"] = "share"
    frame = pd.DataFrame(cols, index=base.index)
    frame.attrs["labels"] = labels
    frame.attrs["kinds"] = kinds
    return frame


def attrition_bias(ds, *, pairing=None, window=DEFAULT_WINDOW, as_of=None,
                   threshold: float = SMD_THRESHOLD, min_cell: int = 5, lang: str = "sv") -> pd.DataFrame:
    """Baseline profile of followed-up against missed baselines (attrition bias).

    Parameters
    ----------
    ds : Dataset
    pairing : followup.Pairing, optional
        Else ``followup.pair_followups(ds, window=window, as_of=as_of)``.
    window, as_of
        As in :func:`followup_bortfall`.
    threshold : float, default 0.2
        ``flag`` where ``|smd| >= threshold``; flagged rows make the warning.
    min_cell : int, default 5
        Rows whose counts publish would hide (0 < n, k or n − k < min_cell)
        are never flagged, so the warning text never quotes a protected value.
    lang : {"sv", "en"}

    Returns
    -------
    pandas.DataFrame
        One row per baseline variable: ``variable``, ``label``, ``kind``
        (mean/share), ``n_followed``, ``value_followed``, ``sd_followed``,
        ``n_missed``, ``value_missed``, ``sd_missed``, ``smd`` (followed −
        missed), ``flag``, ``n``. ``attrs["asi"]["warning"]`` holds the plain
        Swedish warning (or None), also given by :func:`attrition_warning`.

    Notes
    -----
    Variables: composite scores (``composite_<area>``, via
    ``scores.add_scores`` when available), interviewer ratings, age, share
    18–30, share women, housing / main substance / income levels, psychiatric
    contact, and the municipality (share of each municipality; in pooled
    data the strongest selection factor). SMD as in :func:`who_is_missing`;
    for shares the sd is :math:`\\sqrt{p(1-p)}`. Threshold 0.2 = Cohen's
    (1988) "small" effect; Austin (2009) treats |SMD| < 0.1 as negligible,
    a stricter rule (``threshold=0.1``).

    References
    ----------
    Austin PC (2009), Stat Med 28:3083–3107. Cohen J (1988). Statistical
    power analysis for the behavioral sciences, 2nd ed.

    Examples
    --------
    >>> from asi_lib.dataset import Dataset
    >>> g = pd.DataFrame({"client_pid": list("abcd"), "interview_date": pd.to_datetime(["2022-01-01"] * 4),
    ...                   "housing": pd.Categorical(["own_home", "own_home", "homeless", "homeless"])})
    >>> u = pd.DataFrame({"client_pid": ["a", "b", "c"], "interview_date": pd.to_datetime(["2022-07-01"] * 3)})
    >>> b = pd.DataFrame(columns=["client_pid", "form", "bortfall_date", "bortfall_reason"])
    >>> r = attrition_bias(Dataset(g, u, b, pd.DataFrame()), as_of="2025-01-01")
    >>> r.set_index("variable").loc["housing=homeless", ["value_followed", "value_missed"]].round(3).tolist()
    [0.333, 1.0]
    """
    as_of = _as_of(as_of, ds)
    base = _baselines(ds, pairing, window, as_of)
    base = base.loc[base["status"].isin(["followed_up", "missed"])].reset_index(drop=True)
    if not any(c.startswith("composite_") for c in base.columns):
        try:
            from .scores import add_scores
            base = add_scores(base)
        except (ImportError, AttributeError, KeyError, AsiInputError):
            pass
    X = _bias_variables(base, lang)
    fol = (base["status"] == "followed_up").to_numpy()
    gf, gm = X.loc[fol], X.loc[~fol]
    kinds = X.attrs["kinds"]
    res = pd.DataFrame({
        "variable": X.columns,
        "label": [X.attrs["labels"][c] for c in X.columns],
        "kind": [kinds[c] for c in X.columns],
        "n_followed": gf.notna().sum().to_numpy(),
        "value_followed": gf.mean().to_numpy(),
        "sd_followed": gf.std(ddof=1).to_numpy(),
        "n_missed": gm.notna().sum().to_numpy(),
        "value_missed": gm.mean().to_numpy(),
        "sd_missed": gm.std(ddof=1).to_numpy(),
    })
    share = (res["kind"] == "share").to_numpy()
    pf, pm = res["value_followed"].to_numpy(), res["value_missed"].to_numpy()
    with np.errstate(invalid="ignore"):
        res.loc[share, "sd_followed"] = np.sqrt(pf[share] * (1 - pf[share]))
        res.loc[share, "sd_missed"] = np.sqrt(pm[share] * (1 - pm[share]))
    # counts behind the shares, so that publish protects them (k and n − k)
    res["k_followed"] = np.where(share, np.round(pf * res["n_followed"]), np.nan)
    res["k_missed"] = np.where(share, np.round(pm * res["n_missed"]), np.nan)
    res["smd"] = _smd_means(pf, res["sd_followed"], pm, res["sd_missed"])
    # the warning quotes values: flag only rows whose counts publish would show (no 0 < count < min_cell)
    def shown(c):
        c = np.nan_to_num(np.asarray(c, dtype="float64"), nan=0.0)
        return (c == 0) | (c >= min_cell)
    ok = (res["n_followed"].to_numpy() >= min_cell) & (res["n_missed"].to_numpy() >= min_cell)
    ok &= ~share | (shown(res["k_followed"]) & shown(res["n_followed"] - res["k_followed"])
                    & shown(res["k_missed"]) & shown(res["n_missed"] - res["k_missed"]))
    res["flag"] = (np.abs(res["smd"]) >= threshold) & ok
    res["n"] = res["n_followed"] + res["n_missed"]
    # drop category levels nobody has
    res = res.loc[~(share & (np.nan_to_num(pf) == 0) & (np.nan_to_num(pm) == 0))].reset_index(drop=True)
    n_f, n_m = int(fol.sum()), int((~fol).sum())
    res.attrs["asi"] = {
        "unit": "klienter (grundintervjuer)", "measure": "bortfallsbias_uppfoljning",
        "selection": f"grundintervjuer vars uppföljningsfönster ({window[0]}–{window[1]} dagar) passerat {as_of.date()}",
        "n_followed": n_f, "n_missed": n_m,
        "bortfall_share": n_m / (n_f + n_m) if (n_f + n_m) else np.nan,
        "smd": "uppföljda − ej uppföljda", "threshold": threshold, "threshold_source": SMD_THRESHOLD_SOURCE,
        "group_cols": ["variable"],
        "additive": False, "row_sums": {"n": ["n_followed", "n_missed"]},
        # levels of one variable ("housing=...") add up: publish hides one more level when one is protected
        "category_sets": {"by": "variable", "counts": [["k_followed", "n_followed", None],
                                                       ["k_missed", "n_missed", None]]},
    }
    res.attrs["asi"]["warning"] = attrition_warning(res, lang=lang)
    return res


def _fmt(x: float, kind: str, lang: str) -> str:
    if kind == "share":
        s = f"{100 * x:.0f} %"
    else:
        s = f"{x:.2f}" if abs(x) < 10 else f"{x:.1f}"
    return s.replace(".", ",") if lang == "sv" else s


def attrition_warning(frame: pd.DataFrame, *, lang: str = "sv", max_items: int = 5) -> str | None:
    """Plain-language warning from an :func:`attrition_bias` frame, or None.

    Lists the flagged variables (largest |SMD| first) with both groups' values.

    Parameters
    ----------
    frame : pandas.DataFrame
        Output of :func:`attrition_bias` (``flag`` marks |SMD| ≥ the threshold).
    lang : {"sv", "en"}
    max_items : int, default 5
        How many variables to name.

    Returns
    -------
    str or None
        None when nothing is flagged.

    Examples
    --------
    >>> f = pd.DataFrame({"label": ["Andel kvinnor"], "kind": ["share"], "value_followed": [0.4],
    ...                   "value_missed": [0.2], "smd": [0.44], "flag": [True], "n_followed": [50],
    ...                   "n_missed": [30]})
    >>> print(attrition_warning(f))
    De som följts upp skiljer sig från de som inte följts upp: Andel kvinnor 40 % mot 20 % (SMD 0,44). Resultaten för de uppföljda gäller inte säkert hela klientgruppen.
    """
    if frame is None or len(frame) == 0 or "flag" not in frame.columns:
        return None
    flagged = frame.loc[frame["flag"].fillna(False).astype(bool)]
    if flagged.empty:
        return None
    flagged = flagged.reindex(flagged["smd"].abs().sort_values(ascending=False).index).head(max_items)
    parts = []
    for _, r in flagged.iterrows():  # a handful of rows at most
        smd = f"{r['smd']:.2f}"
        if lang == "sv":
            smd = smd.replace(".", ",").replace("-", "−")
            parts.append(f"{r['label']} {_fmt(r['value_followed'], r['kind'], lang)} mot "
                         f"{_fmt(r['value_missed'], r['kind'], lang)} (SMD {smd})")
        else:
            parts.append(f"{r['label']} {_fmt(r['value_followed'], r['kind'], lang)} vs "
                         f"{_fmt(r['value_missed'], r['kind'], lang)} (SMD {smd})")
    small = min(frame["n_followed"].max(), frame["n_missed"].max()) < 10
    if lang == "sv":
        msg = ("De som följts upp skiljer sig från de som inte följts upp: " + "; ".join(parts)
               + ". Resultaten för de uppföljda gäller inte säkert hela klientgruppen.")
        if small:
            msg += " Färre än tio klienter i en grupp: endast tendenser."
    else:
        msg = ("Those followed up differ from those not followed up: " + "; ".join(parts)
               + ". Results for the followed-up clients may not hold for the whole client group.")
        if small:
            msg += " Fewer than ten clients in a group: tendencies only."
    return msg


# --------------------------------------------------------------------------- missing follow-ups: IPW and bounds
def _ipw_design(bl: pd.DataFrame, area: str, covariates, min_level: int) -> tuple[pd.DataFrame, list[str]]:
    """Numeric design (intercept, baseline composite, age, dummies) of the baselines; sparse levels pooled."""
    cols = {"const": pd.Series(1.0, index=bl.index)}
    x0 = f"composite_{area}_0"
    if x0 in bl.columns:
        cols[x0] = pd.to_numeric(bl[x0], errors="coerce").astype("float64")
    used = [x0] if x0 in bl.columns else []
    for c in covariates:
        if c not in bl.columns:
            continue
        used.append(c)
        if c == "age":
            cols["age"] = pd.Series(numeric(bl["age"]), index=bl.index)
            continue
        s = bl[c].astype("string")
        counts = s.value_counts()
        s = s.where(~s.isin(counts.index[counts < min_level]), "__other__")
        levels = sorted(s.dropna().unique())
        for lev in levels[1:] if len(levels) > 1 else []:  # first level = reference
            cols[f"{c}={lev}"] = (s == lev).astype("float64").where(s.notna())
    return pd.DataFrame(cols), used


def ipw_change(pairing, area: str, *, covariates=("age", "sex", "main_substance", "municipality"),
               min_level: int = 10, p_floor: float = 0.05, alpha: float = 0.05, lang: str = "sv") -> pd.DataFrame:
    """Change of an area's composite corrected for missing follow-ups (IPW), beside complete cases and bounds.

    Parameters
    ----------
    pairing : followup.Pairing
        With ``composite_<area>`` in pairs and baselines (``add_scores``).
    area : str
    covariates : sequence of str
        Baseline covariates of the follow-up model besides the baseline
        composite (absent ones are skipped); categorical levels with fewer
        than ``min_level`` baselines are pooled.
    p_floor : float, default 0.05
        Predicted probabilities are bounded below (weights at most 1/p_floor).
    alpha : float, default 0.05
    lang : {"sv", "en"}

    Returns
    -------
    pandas.DataFrame
        One row per analysis: ``analysis`` (complete_case, ipw, missing_unchanged,
        bound_low, bound_high), ``label``, ``n`` (clients behind it),
        ``n_followed``, ``n_missed``, ``diff`` (mean change, follow-up −
        baseline), ``ci_low``, ``ci_high``. ``attrs["asi"]`` has the model,
        the effective sample size of the weights and the method text.

    Notes
    -----
    Baselines that are due (followed up or missed; complete covariates).
    Logistic model :math:`\\operatorname{logit} P(R=1 \\mid x) = x'\\gamma`
    (statsmodels ``Logit``), :math:`\\hat p_i` bounded below by ``p_floor``;
    stabilised weights :math:`w_i = \\bar R/\\hat p_i` for the followed-up
    with a change; IPW mean :math:`\\sum w_i d_i/\\sum w_i` with a
    heteroskedasticity-robust (HC1) CI from WLS on a constant (ignores the
    estimation of γ, usually conservative; Seaman & White 2013). Effective
    n = :math:`(\\sum w)^2/\\sum w^2`. Sensitivity (not assumptions-free
    estimates): *missing = unchanged* (d = 0 for the missed) and bounds that
    give every missed client the smallest / largest observed change
    (Horowitz & Manski 2000, within the observed range).

    References
    ----------
    Seaman SR, White IR (2013). Review of inverse probability weighting for
    dealing with missing data. Stat Methods Med Res 22:278–295.
    Horowitz JL, Manski CF (2000). Nonparametric analysis of randomized
    experiments with missing covariate and outcome data. JASA 95:77–84.

    Examples
    --------
    >>> from asi_lib.datasets import read_dataset
    >>> from asi_lib.followup import pair_followups
    >>> t = ipw_change(pair_followups(read_dataset("demo")), "alcohol")
    >>> t["analysis"].tolist()
    ['complete_case', 'ipw', 'missing_unchanged', 'bound_low', 'bound_high']
    >>> bool(t.loc[3, "diff"] <= t.loc[0, "diff"] <= t.loc[4, "diff"])
    True
    """
    import statsmodels.api as sm

    x0c, x1c = f"composite_{area}_0", f"composite_{area}_1"
    bl = pairing.baselines
    bl = bl.loc[bl["status"].isin(["followed_up", "missed"])].reset_index(drop=True)
    if x0c not in bl.columns or x1c not in pairing.pairs.columns:
        raise AsiInputError(f"composite_{area} saknas i parningen / composite missing (add_scores)")
    X, used = _ipw_design(bl, area, covariates, min_level)
    X = X.loc[:, X.std(ddof=0).fillna(0).gt(0) | (X.columns == "const")]
    ok = X.notna().all(axis=1).to_numpy()
    R = (bl["status"] == "followed_up").to_numpy(dtype="float64")
    d_map = (pd.to_numeric(pairing.pairs[x1c], errors="coerce") - pd.to_numeric(pairing.pairs[x0c], errors="coerce"))
    d_map.index = pairing.pairs["baseline_id"].to_numpy()
    d = d_map.reindex(bl["baseline_id"].to_numpy()).to_numpy(dtype="float64")
    Xo, Ro = X.loc[ok].to_numpy(dtype="float64"), R[ok]
    if Ro.sum() < 2 or (1 - Ro).sum() < 1:
        raise AsiInputError("för få uppföljda eller missade baslinjer / too few followed-up or missed baselines")
    import warnings as _w

    with _w.catch_warnings():
        _w.simplefilter("ignore")
        logit = sm.Logit(Ro, Xo).fit(disp=0, method="newton", maxiter=100)
    p = np.maximum(logit.predict(Xo), p_floor)
    w = Ro.mean() / p
    dd = d[ok]
    has = (Ro == 1) & ~np.isnan(dd)
    cid = bl.loc[ok, "client_pid"].to_numpy()
    from scipy import stats as st

    def mean_ci(vals, weights=None):
        vals = np.asarray(vals, dtype="float64")
        if vals.size < 2:
            return (float(vals.mean()) if vals.size else np.nan, np.nan, np.nan)
        wls = sm.WLS(vals, np.ones((vals.size, 1)), weights=weights if weights is not None else 1.0)
        f = wls.fit(cov_type="HC1", use_t=True) if weights is not None else wls.fit(use_t=True)
        lo, hi = f.conf_int(alpha)[0]
        return (float(f.params[0]), float(lo), float(hi))

    n_f, n_m = int(has.sum()), int((Ro == 0).sum())
    miss = Ro == 0
    d_obs = dd[has]
    rows = []
    lab = {"sv": {"complete_case": "Bara uppföljda (komplett fall)",
                  "ipw": "Viktad för bortfallet (IPW på baslinjevariabler)",
                  "missing_unchanged": "Känslighet: de ej uppföljda oförändrade",
                  "bound_low": "Gräns: de ej uppföljda med största observerade förbättring",
                  "bound_high": "Gräns: de ej uppföljda med största observerade försämring"},
           "en": {"complete_case": "Followed up only (complete case)", "ipw": "Weighted for attrition (IPW)",
                  "missing_unchanged": "Sensitivity: those not followed up unchanged",
                  "bound_low": "Bound: not followed up with the largest observed improvement",
                  "bound_high": "Bound: not followed up with the largest observed worsening"}}[lang]
    est = {"complete_case": mean_ci(d_obs), "ipw": mean_ci(d_obs, w[has])}
    est["missing_unchanged"] = mean_ci(np.concatenate([d_obs, np.zeros(n_m)]))
    for key, fill in (("bound_low", d_obs.min()), ("bound_high", d_obs.max())):
        est[key] = (float((d_obs.sum() + n_m * fill) / (n_f + n_m)), np.nan, np.nan)
    n_all = int(pd.Series(cid[has | miss]).nunique())
    for key, (m, lo, hi) in est.items():
        rows.append({"analysis": key, "label": lab[key],
                     "n": int(pd.Series(cid[has]).nunique()) if key in ("complete_case", "ipw") else n_all,
                     "n_followed": n_f, "n_missed": n_m, "diff": m, "ci_low": lo, "ci_high": hi})
    out = pd.DataFrame(rows)
    ess = float(w[has].sum() ** 2 / (w[has] ** 2).sum())
    out.attrs["asi"] = {
        "unit": "klienter", "group_cols": ["analysis"], "additive": False, "label_of": {"label": None},
        "drop_cols": ["analysis"], "tendency_cols": ["n_followed", "n_missed"],
        "row_sums": {}, "complements": {},
        "selection": f"baslinjer vars uppföljningsfönster passerat, kompletta kovariater ({int(ok.sum())})",
        "model": "logistisk regression för att vara uppföljd: " + ", ".join(["index vid baslinjen", *used[1:]]),
        "effective_n": ess, "p_floor": p_floor, "area": area,
        "diff": "uppföljning − baslinje (negativ = förbättring)",
        "method": ("IPW (stabiliserade vikter, Seaman & White 2013); känslighet: oförändrade respektive "
                   "gränser med observerade min/max-förändringar (Horowitz & Manski 2000)"),
    }
    return out
