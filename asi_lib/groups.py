"""Group profiles: who are our clients and which problems do they have?

Every function answers one question with a raw tidy frame (one row per group
and measure/category) plus ``attrs["asi"]``; people see it only through
:func:`asi_lib.publish.publish`.

Selection
---------
``selection="latest"`` (default): each client's latest Grund in the period,
so ``n`` counts distinct clients; ``selection="all"``: every Grund interview
in the period (``n`` counts interviews). Each table says which in its attrs.

Group columns
-------------
``by`` takes any column of the Grund table and three derived ones:
``age_band`` (default bands, see :func:`age_bands`), ``young_adults``
(18–30 / 31+) and ``year``/``half``/``quarter`` (from the interview date).
Missing group values become ``"okänd"``; the total row has the group value
:data:`asi_lib.publish.TOTAL`.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .codebook import AREAS, TABLES, load_codebook, numeric
from .dataset import Dataset
from .errors import AsiInputError
from .publish import TOTAL
from .stats import mean_ci, wilson_ci

__all__ = ["AGE_SCHEMES", "age_bands", "periods", "latest_grund", "select", "profile",
           "category_profile", "crosstab", "table1", "default_measures", "measure_range", "clip_ci", "UNKNOWN"]

UNKNOWN = "okänd"
#: Named age band schemes: lower edges (the last band is open).
AGE_SCHEMES = {
    "default": [18, 25, 35, 45, 55, 65],
    "young_adults": [18, 31],
}
TABLE1_CATEGORIES = ("sex", "age_band", "main_substance", "housing", "income_source",
                     "living_situation_3y", "psychiatric_contact", "longterm_physical_illness",
                     "lifetime_addiction_treatment", "ever_injected", "lifetime_psychiatric_care")
_SELECTION_TEXT = {
    "latest": "senaste Grund per klient i perioden",
    "all": "alla Grundintervjuer i perioden",
}


# --------------------------------------------------------------------------- bands and periods
def age_bands(age, scheme="default") -> pd.Series:
    """Age bands as an ordered categorical.

    Parameters
    ----------
    age : pandas.Series or array-like
        Age in whole years.
    scheme : {"default", "young_adults"} or list of int
        ``"default"``: 18–24, 25–34, 35–44, 45–54, 55–64, 65+;
        ``"young_adults"``: 18–30, 31+ (the guidance's young adults);
        or the lower edges of the bands (the last band is open).

    Returns
    -------
    pandas.Series (category)
        NaN for missing ages and ages under the first edge.

    Examples
    --------
    >>> age_bands(pd.Series([18, 24, 25, 70, 17])).tolist()
    ['18–24', '18–24', '25–34', '65+', nan]
    >>> age_bands([30, 31], "young_adults").tolist()
    ['18–30', '31+']
    """
    edges = AGE_SCHEMES.get(scheme) if isinstance(scheme, str) else list(scheme)
    if edges is None:
        raise AsiInputError(f"okänt åldersschema '{scheme}' ({', '.join(AGE_SCHEMES)}) / unknown age scheme")
    edges = sorted(int(e) for e in edges)
    labels = [f"{lo}–{hi - 1}" for lo, hi in zip(edges[:-1], edges[1:])] + [f"{edges[-1]}+"]
    s = pd.Series(age) if not isinstance(age, pd.Series) else age
    a = pd.to_numeric(s, errors="coerce").astype("float64")
    return pd.cut(a, bins=[*edges, np.inf], right=False, labels=labels)


def periods(dates, freq: str = "year", lang: str = "sv") -> pd.Series:
    """Period label of each date: "2024", "2024 H1" (half year), "2024 K1" (quarter).

    Parameters
    ----------
    dates : pandas.Series of datetime
    freq : {"year", "half", "quarter"}
    lang : {"sv", "en"}
        "K" (kvartal) or "Q" for quarters.

    Returns
    -------
    pandas.Series of str
        Missing for missing dates.

    Examples
    --------
    >>> periods(pd.Series(pd.to_datetime(["2024-02-01", "2024-08-30"])), "quarter").tolist()
    ['2024 K1', '2024 K3']
    >>> periods(pd.Series(pd.to_datetime(["2024-08-30"])), "half").tolist()
    ['2024 H2']
    """
    d = pd.to_datetime(pd.Series(dates))
    y = d.dt.year.astype("Int64").astype("string")
    m = d.dt.month
    if freq == "year":
        return y
    if freq == "half":
        return y + " H" + ((m - 1) // 6 + 1).astype("Int64").astype("string")
    if freq == "quarter":
        return y + (" K" if lang == "sv" else " Q") + ((m - 1) // 3 + 1).astype("Int64").astype("string")
    raise AsiInputError(f"okänd periodtyp '{freq}' (year, half, quarter) / unknown period type")


def _period_bounds(period) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
    """(start, end inclusive) from a label "2024", "2024 H1", "2024 K2" or a (start, end) pair."""
    if period is None:
        return None, None
    if isinstance(period, (tuple, list)):
        lo, hi = period
        return (pd.Timestamp(lo) if lo is not None else None, pd.Timestamp(hi) if hi is not None else None)
    text = str(period).strip().upper().replace("Q", "K")
    try:
        if " " not in text:
            y = int(text)
            return pd.Timestamp(y, 1, 1), pd.Timestamp(y, 12, 31)
        y, part = text.split()
        y, kind, i = int(y), part[0], int(part[1:])
        months = {"H": 6, "K": 3}[kind]
        start = pd.Timestamp(y, (i - 1) * months + 1, 1)
        return start, start + pd.DateOffset(months=months) - pd.Timedelta(days=1)
    except (ValueError, KeyError, IndexError):
        raise AsiInputError(f"okänd period '{period}' (t.ex. 2024, '2024 H1', '2024 K2') / unknown period") from None


def _in_period(dates: pd.Series, period) -> np.ndarray:
    lo, hi = _period_bounds(period)
    d = pd.to_datetime(dates)
    ok = np.ones(len(d), dtype=bool)
    if lo is not None:
        ok &= (d >= lo).fillna(False).to_numpy(dtype=bool)
    if hi is not None:
        ok &= (d < hi + pd.Timedelta(days=1)).fillna(False).to_numpy(dtype=bool)
    return ok


def _grund(frame) -> pd.DataFrame:
    if isinstance(frame, Dataset):
        return frame.grund
    if not isinstance(frame, pd.DataFrame):
        raise AsiInputError("förväntar en Dataset eller en Grund-tabell / expected a Dataset or a Grund frame")
    return frame


def latest_grund(grund, period=None, columns=None) -> pd.DataFrame:
    """Each client's latest Grund interview in the period.

    Parameters
    ----------
    grund : pandas.DataFrame or Dataset
        Grund table in store format.
    period : str or (start, end), optional
        "2024", "2024 H1", "2024 K3" or a pair of dates (inclusive).
    columns : list of str, optional
        Keep only these columns (faster on large tables).

    Returns
    -------
    pandas.DataFrame
        One row per client (ties on the date: the last row in table order).

    Examples
    --------
    >>> g = pd.DataFrame({"client_pid": ["a", "a", "b"],
    ...                   "interview_date": pd.to_datetime(["2023-05-01", "2024-03-01", "2024-06-01"])})
    >>> latest_grund(g)["interview_date"].dt.year.tolist()
    [2024, 2024]
    >>> len(latest_grund(g, period="2023"))
    1
    """
    g = _grund(grund)
    if columns is not None:
        g = g[list(dict.fromkeys(["client_pid", "interview_date", *[c for c in columns if c in g.columns]]))]
    if period is not None:
        g = g.loc[_in_period(g["interview_date"], period)]
    keep = _latest_rows(g["client_pid"], g["interview_date"])
    if keep is None:  # every client once: all rows (a shallow, copy-on-write copy)
        return g.copy(deep=False)
    return g.iloc[keep]


def _latest_rows(pid: pd.Series, date: pd.Series) -> np.ndarray | None:
    """Row positions of each client's latest interview (None: every row is kept).

    The client ids are hashed once (``pandas.factorize``); the latest row is
    then found on integers: one sort of the key
    ``client · (D·n) + date_rank · n + position`` (``D`` distinct dates,
    ``n`` rows), whose last entry per client is its latest date and, on a
    tie, its last row.
    """
    n = len(pid)
    codes, n_ids = _client_codes(pid)
    n_clients = n_ids + int((codes < 0).any())
    if n_clients == n:
        return None
    codes = codes.astype(np.int64) + 1  # missing ids (-1) form one client, as before
    dates = pd.to_datetime(date).to_numpy(dtype="datetime64[us]").astype("int64")
    d_rank, d_uniq = pd.factorize(dates, sort=True)
    pos = np.arange(n, dtype=np.int64)
    span = len(d_uniq) * n
    if (n_ids + 1) * span < 2 ** 62:
        key = np.sort(codes * span + d_rank * n + pos)
        client = key // span
        last = np.ones(n, dtype=bool)
        last[:-1] = client[1:] != client[:-1]
        return np.sort(key[last] % n)
    order = np.lexsort((pos, dates, codes))
    c = codes[order]
    last = np.ones(n, dtype=bool)
    last[:-1] = c[1:] != c[:-1]
    return np.sort(order[last])


def _client_codes(pid: pd.Series) -> tuple[np.ndarray, int]:
    """An integer code per client id (-1: missing) and the number of distinct ids.

    Codes are arbitrary labels (not in order of appearance). Pseudonyms are
    fixed-width hex strings (HMAC-SHA256, ``docs/architecture.md``); then
    :func:`_fixed_width_codes` is used, otherwise :func:`pandas.factorize`.
    """
    fast = _fixed_width_codes(pid)
    if fast is not None:
        return fast
    codes, uniq = pd.factorize(pid, use_na_sentinel=True)
    return codes, len(uniq)


def _fixed_width_codes(pid: pd.Series) -> tuple[np.ndarray, int] | None:
    """Codes of equal-width, non-missing Arrow strings, or None (not applicable / unsure).

    The string bytes are read in place as 64-bit words; the first and the
    last word are mixed into a hash, the hashes sorted (``numpy.argsort``)
    and equal runs numbered. Rows whose hash is shared with another row are
    then compared byte for byte with their run's first row, so two different
    ids can never share a code: on any mismatch (a hash collision) the
    function returns None and the caller falls back to ``pandas.factorize``.
    About four times faster than hashing the strings when most clients have
    one interview in the table.
    """
    dtype = pid.dtype
    if not (isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow") or len(pid) < 2:
        return None
    import pyarrow as pa

    arr = pa.chunked_array(pid.array.__arrow_array__()).combine_chunks()
    if arr.null_count or not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        return None
    n = len(arr)
    _, obuf, dbuf = arr.buffers()
    offs = np.frombuffer(obuf, dtype=np.int64 if pa.types.is_large_string(arr.type) else np.int32)
    offs = offs[arr.offset: arr.offset + n + 1].astype(np.int64)
    width = int(offs[1] - offs[0])
    if width == 0 or not np.all(np.diff(offs) == width):
        return None
    data = np.frombuffer(dbuf, dtype=np.uint8)[offs[0]: offs[0] + n * width].reshape(n, width)
    n_words = -(-width // 8)
    if width % 8 or data.ctypes.data % 8:
        padded = np.zeros((n, n_words * 8), dtype=np.uint8)
        padded[:, :width] = data
        data = padded
    words = data.view(np.uint64)
    h = words[:, 0] * np.uint64(0x9E3779B97F4A7C15)
    if n_words > 1:
        h ^= words[:, -1] * np.uint64(0xBF58476D1CE4E5B9)
    order = np.argsort(h)
    hs = h[order]
    new = np.empty(n, dtype=bool)
    new[0] = True
    new[1:] = hs[1:] != hs[:-1]
    run = np.cumsum(new) - 1
    n_codes = int(run[-1]) + 1
    if n_codes < n:  # rows sharing a hash must hold the same bytes
        start = np.flatnonzero(new)
        shared = np.diff(np.append(start, n))[run] > 1
        ws = words[order[shared]]  # the shared rows, run after run (one gather)
        first = np.flatnonzero(new[shared])  # where each run starts among them
        lead = np.repeat(first, np.diff(np.append(first, len(ws))))
        if not np.array_equal(ws, ws[lead]):
            return None
    codes = np.empty(n, dtype=np.int64)
    codes[order] = run
    return codes, n_codes


def select(frame, *, selection: str = "latest", period=None, columns=None) -> pd.DataFrame:
    """The Grund rows a table stands on ("latest" per client or "all").

    Parameters
    ----------
    frame : Dataset or pandas.DataFrame
        A dataset or its Grund table.
    selection : {"latest", "all"}
        Each client's latest Grund in the period, or every interview.
    period : str or (start, end), optional
        ``"2024"``, ``"2024 H1"``, ``"2024 K2"`` or two dates (both inclusive).
    columns : list of str, optional
        Only these columns (plus ``client_pid`` and ``interview_date``).

    Returns
    -------
    pandas.DataFrame

    Examples
    --------
    >>> g = pd.DataFrame({"client_pid": ["a", "a", "b"],
    ...                   "interview_date": pd.to_datetime(["2023-05-01", "2024-03-01", "2024-06-01"])})
    >>> select(g)["interview_date"].dt.year.tolist(), len(select(g, selection="all"))
    ([2024, 2024], 3)
    >>> select(g, period="2023")["client_pid"].tolist()
    ['a']
    """
    g = _grund(frame)
    if selection == "latest":
        return latest_grund(g, period, columns)
    if selection == "all":
        return g.loc[_in_period(g["interview_date"], period)] if period is not None else g
    raise AsiInputError(f"okänt urval '{selection}' (latest, all) / unknown selection")


def _add_derived(df: pd.DataFrame, cols) -> pd.DataFrame:
    extra = {}
    for c in cols:
        if c in df.columns:
            continue
        if c == "age_band":
            extra[c] = age_bands(df["age"])
        elif c == "young_adults":
            extra[c] = age_bands(df["age"], "young_adults")
        elif c in ("year", "half", "quarter"):
            extra[c] = periods(df["interview_date"], c)
        else:
            raise AsiInputError(f"okänd kolumn '{c}' / unknown column")
    return df.assign(**extra) if extra else df


def _by_list(by) -> list[str]:
    if by is None:
        return []
    return [by] if isinstance(by, str) else list(by)


def _keys_to_str(frame: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    for c in by:
        frame[c] = frame[c].astype("string").fillna(UNKNOWN).astype(object)
    return frame


def default_measures(frame: pd.DataFrame) -> list[str]:
    """composite_<area> and rating_<area> present in ``frame`` (codebook order).

    Parameters
    ----------
    frame : pandas.DataFrame

    Returns
    -------
    list of str

    Examples
    --------
    >>> default_measures(pd.DataFrame(columns=["rating_drugs", "composite_alcohol", "age"]))
    ['composite_alcohol', 'rating_drugs']
    """
    cols = set(frame.columns.tolist())
    return ([f"composite_{a}" for a in AREAS if f"composite_{a}" in cols]
            + [f"rating_{a}" for a in AREAS if f"rating_{a}" in cols])


def _ensure_scores(df: pd.DataFrame, measures) -> pd.DataFrame:
    need = [m for m in (measures or [f"composite_{a}" for a in AREAS]) if m.startswith("composite_")]
    if need and not all(m in df.columns for m in need):
        from .scores import add_scores
        df = add_scores(df)
    return df


def _value_arrays(df: pd.DataFrame, measures: list[str]) -> list[np.ndarray]:
    """Float values of the measures, one array each (X/N/empty → NaN via codebook.numeric)."""
    missing = [m for m in measures if m not in df.columns]
    if missing:
        raise AsiInputError(f"okänt mått: {', '.join(missing)} / unknown measure")
    return [numeric(df[m]) for m in measures]


def _values(df: pd.DataFrame, measures: list[str]) -> pd.DataFrame:
    """Float values of the measures as a frame (X/N/empty → NaN via codebook.numeric)."""
    return pd.DataFrame(dict(zip(measures, _value_arrays(df, measures))), index=df.index)


def _attrs(out, *, by, selection, period, **extra) -> pd.DataFrame:
    out.attrs["asi"] = {
        "unit": "klienter" if selection == "latest" else "intervjuer",
        "selection": _SELECTION_TEXT[selection] + (f" ({period})" if period is not None else ""),
        "period": None if period is None else str(period), "group_cols": list(by), **extra,
    }
    return out


# --------------------------------------------------------------------------- fast group statistics
#: Largest (groups + 1) × distinct values table counted per measure; beyond it
#: (near-continuous measures in many groups) the cython groupby is used.
_CELL_LIMIT = 1 << 22


def _ranks(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rank of each (non-NaN) value among the sorted distinct values, and those values.

    Integer-valued measures (ratings, coded items) over a short range skip
    the hashing: the rank is the value minus the minimum.
    """
    head = x[:64]
    if np.array_equal(head, np.round(head)):  # cheap look first: composites leave here
        lo, hi = x.min(), x.max()
        if hi - lo < 4096:
            xi = x.astype(np.int64)
            if np.array_equal(xi, x):
                return xi - int(lo), np.arange(int(lo), int(hi) + 1, dtype="float64")
    r, uniq = pd.factorize(x, sort=True)
    return r, np.asarray(uniq, dtype="float64")


def _group_stats(cols, ids: np.ndarray, n_groups: int) -> dict[str, np.ndarray]:
    """count, mean, sd (ddof=1) and median of each measure per group, plus the total.

    Parameters
    ----------
    cols : list of numpy.ndarray
        One float array per measure (NaN = missing), aligned with ``ids``.
    ids : numpy.ndarray of int
        Group number 0 … n_groups − 1 of each row.
    n_groups : int

    Returns
    -------
    dict of numpy.ndarray
        ``count``, ``mean``, ``sd``, ``median``, each (n_groups + 1, measures);
        the last row is every row together (the total).

    Notes
    -----
    Each measure is counted once into a table ``c[g, u]`` = rows of group g
    with the u-th smallest distinct value :math:`v_u` (``numpy.bincount``).
    From it: :math:`n_g = \\sum_u c_{gu}`, :math:`\\bar x_g = \\sum_u c_{gu}v_u/n_g`,
    :math:`s_g^2 = \\sum_u c_{gu}(v_u-\\bar x_g)^2/(n_g-1)` (two-pass, no
    cancellation), and the median as the value (or the mean of the two
    values) at the middle positions :math:`\\lfloor (n_g-1)/2 \\rfloor` and
    :math:`\\lfloor n_g/2 \\rfloor` of the cumulative counts — the same
    definitions as pandas/numpy. The total row is the column sum of the table.
    """
    ids = np.asarray(ids, dtype=np.int64)
    m, rows = len(cols), n_groups + 1
    out = {"count": np.zeros((rows, m)), "mean": np.full((rows, m), np.nan),
           "sd": np.full((rows, m), np.nan), "median": np.full((rows, m), np.nan)}
    for j, v in enumerate(cols):  # one pass per measure (a handful)
        ok = ~np.isnan(v)
        x, gi = (v, ids) if ok.all() else (v[ok], ids[ok])
        if not x.size:
            continue
        r, uniq = _ranks(x)
        n_u = len(uniq)
        if rows * n_u > _CELL_LIMIT:
            res = _group_stats_cython(x, gi, n_groups)
        else:
            cnt = np.bincount(gi * n_u + r, minlength=n_groups * n_u).reshape(n_groups, n_u)
            cnt = np.vstack([cnt, cnt.sum(axis=0)])
            res = _table_stats(cnt, uniq)
        for k in out:
            out[k][:, j] = res[k]
    return out


def _table_stats(cnt: np.ndarray, uniq: np.ndarray) -> dict[str, np.ndarray]:
    """count, mean, sd, median of each row of a (groups × sorted values) count table."""
    n = cnt.sum(axis=1)
    has = n > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(has, (cnt @ uniq) / n, np.nan)
        dev = uniq[None, :] - np.where(has, mean, 0.0)[:, None]
        ss = (cnt * (dev * dev)).sum(axis=1)
        sd = np.where(n > 1, np.sqrt(ss / (n - 1)), np.nan)
    cum = np.cumsum(cnt, axis=1)
    lo = (cum <= ((n - 1) // 2)[:, None]).sum(axis=1)
    hi = (cum <= (n // 2)[:, None]).sum(axis=1)
    top = len(uniq) - 1
    med = np.where(has, (uniq[np.minimum(lo, top)] + uniq[np.minimum(hi, top)]) / 2, np.nan)
    return {"count": n.astype("float64"), "mean": mean, "sd": sd, "median": med}


def _group_stats_cython(x: np.ndarray, gi: np.ndarray, n_groups: int) -> dict[str, np.ndarray]:
    """The same statistics with pandas' cython groupby (many distinct values)."""
    s = pd.Series(x)
    grp = s.groupby(gi, sort=True)
    idx = np.arange(n_groups)
    res = {"count": grp.count().reindex(idx, fill_value=0).to_numpy(dtype="float64"),
           "mean": grp.mean().reindex(idx).to_numpy(), "sd": grp.std().reindex(idx).to_numpy(),
           "median": grp.median().reindex(idx).to_numpy()}
    tot = {"count": float(len(x)), "mean": float(s.mean()),
           "sd": float(s.std()) if len(x) > 1 else np.nan, "median": float(s.median())}
    return {k: np.append(v, tot[k]) for k, v in res.items()}


def _group_ids(df: pd.DataFrame, by: list[str]) -> tuple[np.ndarray, pd.DataFrame, np.ndarray]:
    """Group number of each row, the groups' key values and sizes (pandas' sorted group order).

    Missing key values form their own group (``dropna=False``), last.
    """
    # grouping only the key columns: ngroup() would otherwise copy every other column of df first
    grp = df[list(dict.fromkeys(by))].groupby([df[c] for c in by], observed=True, dropna=False, sort=True)
    size = grp.size()
    keys = size.index.to_frame(index=False)
    keys.columns = list(by)
    return grp.ngroup().to_numpy(dtype=np.int64), keys, size.to_numpy(dtype=np.int64)


# --------------------------------------------------------------------------- profile
def _needed(by, measures) -> list[str] | None:
    """Columns a table needs (None: all; scores may have to be computed)."""
    if measures is None or any(m.startswith("composite_") for m in measures):
        return None
    derived = {"age_band": "age", "young_adults": "age", "year": "interview_date",
               "half": "interview_date", "quarter": "interview_date"}
    return [*(derived.get(c, c) for c in by), *measures, "sex", "age", "main_substance"]


def profile(frame, by=None, measures=None, *, selection: str = "latest", period=None,
            alpha: float = 0.05) -> pd.DataFrame:
    """Scores and ratings per group: n, missing, mean, SD, median and CI.

    Parameters
    ----------
    frame : Dataset or pandas.DataFrame
        A dataset or its Grund table (store format).
    by : str or list of str, optional
        Grouping columns (see module notes); None gives only the overall row.
    measures : list of str, optional
        Default: every ``composite_<area>`` (computed with
        :func:`asi_lib.scores.add_scores` when absent) and ``rating_<area>``.
        Any codebook integer item can be given (X/N/empty are missing).
    selection : {"latest", "all"}
    period : str or (start, end), optional
    alpha : float, default 0.05

    Returns
    -------
    pandas.DataFrame
        ``by...``, ``measure``, ``n`` (clients in the group), ``n_missing``,
        ``mean``, ``sd``, ``median``, ``ci_low``, ``ci_high``; one row per
        group and measure, plus the total rows (group value ``TOTAL``).

    Notes
    -----
    Statistics use the n − n_missing non-missing values; SD with ddof = 1;
    CI :math:`\\bar x \\pm t_{1-\\alpha/2,\\,m-1} s/\\sqrt m` with
    m = n − n_missing (:func:`asi_lib.stats.mean_ci`), truncated to the
    measure's range (:func:`clip_ci`: composites 0–1, ratings 0–9).

    Examples
    --------
    >>> g = pd.DataFrame({"client_pid": list("abcd"), "sex": ["male", "male", "female", "female"],
    ...                   "interview_date": pd.to_datetime(["2024-01-01"] * 4),
    ...                   "rating_alcohol": pd.array([2, 4, 6, -8], dtype="Int16")})
    >>> p = profile(g, by="sex", measures=["rating_alcohol"])
    >>> p[["sex", "n", "n_missing", "mean"]].values.tolist()
    [['female', 2, 1, 6.0], ['male', 2, 0, 3.0], ['__total__', 4, 1, 4.0]]
    """
    by = _by_list(by)
    g0 = _grund(frame)
    cols = None
    if measures is None and all(f"composite_{a}" in g0.columns for a in AREAS):
        cols = _needed(by, default_measures(g0))
    elif measures is not None:
        cols = _needed(by, measures)
    df = select(g0, selection=selection, period=period, columns=cols)
    df = _ensure_scores(df, measures)
    measures = list(measures) if measures is not None else default_measures(df)
    df = _add_derived(df, by)
    arrays = _value_arrays(df, measures)
    m = len(measures)
    if by:
        ids, keys, size = _group_ids(df, by)
    else:
        ids, keys, size = np.zeros(len(df), dtype=np.int64), pd.DataFrame(index=range(1)), np.array([len(df)])
    if by:
        keys = _keys_to_str(keys, by)
    return _profile_frame(arrays, ids, keys, size, len(df), by=by, measures=measures, selection=selection,
                          period=period, alpha=alpha)


def _profile_frame(arrays, ids, keys, size, n_rows: int, *, by, measures, selection, period,
                   alpha) -> pd.DataFrame:
    """:func:`profile`'s table from the measures' values, the group of each row and the groups' keys
    (strings, :func:`_keys_to_str`) and sizes."""
    m = len(measures)
    n_groups = len(size)
    stats_ = _group_stats(arrays, ids, n_groups)
    first = 0 if by else n_groups  # without groups only the total row
    cols = {}
    if by:
        for c in by:
            cols[c] = pd.Series(np.append(np.repeat(keys[c].to_numpy(dtype=object), m),
                                          np.full(m, TOTAL, dtype=object)), dtype=object)
    names = measures * (n_groups + 1 - first)
    cols["measure"] = pd.array(names, dtype="str")
    n = np.append(np.repeat(size, m), np.full(m, n_rows, dtype=np.int64))[first * m:]
    count, mean, sd, median = (stats_[k][first:].ravel() for k in ("count", "mean", "sd", "median"))
    cols["n"] = n
    cols["n_missing"] = (n - count).astype("int64")
    cols["mean"], cols["sd"], cols["median"] = mean, sd, median
    lo, hi = mean_ci(mean, sd, count, alpha)
    cols["ci_low"], cols["ci_high"] = clip_ci(lo, hi, np.asarray(names, dtype=object))
    out = pd.DataFrame(cols)
    return _attrs(out, by=by, selection=selection, period=period, additive=True,
                  measures=measures, alpha=alpha, group_n=True)


def measure_range(measure: str) -> tuple[float, float] | None:
    """The possible values of a measure: composites 0–1, ratings 0–9, else the codebook range.

    Parameters
    ----------
    measure : str
        ``composite_<area>``, ``rating_<area>`` or a codebook column name.

    Returns
    -------
    tuple of float or None
        (lowest, highest), or None when the measure has no known range.

    Examples
    --------
    >>> measure_range("composite_alcohol"), measure_range("rating_drugs"), measure_range("alcohol_days")
    ((0.0, 1.0), (0.0, 9.0), (0.0, 30.0))
    """
    if measure.startswith("composite_"):
        return (0.0, 1.0)
    if measure.startswith("rating_"):
        return (0.0, 9.0)
    cb = load_codebook()
    for t in TABLES:
        if measure in cb.column_names(t):
            rng = cb.column(t, measure).range
            return (float(rng[0]), float(rng[1])) if rng is not None else None
    return None


def clip_ci(lo, hi, measures) -> tuple[np.ndarray, np.ndarray]:
    """Truncate confidence limits to each measure's range (:func:`measure_range`).

    A t interval of a small group can reach past the scale (an index CI up to
    1.06); the parameter cannot, so the limits are cut at the scale's ends.

    Parameters
    ----------
    lo, hi : array-like
        Lower and upper limits, one per row.
    measures : array-like of str
        The measure of each row.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)

    Examples
    --------
    >>> clip_ci([-0.1, 0.2], [0.5, 1.06], ["composite_alcohol", "composite_alcohol"])
    (array([0. , 0.2]), array([0.5, 1. ]))
    """
    lo = np.asarray(lo, dtype=float).copy()
    hi = np.asarray(hi, dtype=float).copy()
    ms = pd.Series(np.asarray(measures, dtype=object))
    for m, rows in ms.groupby(ms.to_numpy(), sort=False).indices.items():  # one entry per measure
        rng = measure_range(str(m))
        if rng is not None:
            lo[rows] = np.clip(lo[rows], *rng)
            hi[rows] = np.clip(hi[rows], *rng)
    return lo, hi


# --------------------------------------------------------------------------- categories
def _codes(df: pd.DataFrame, var: str) -> pd.Series:
    """A variable's values as code strings (coded integers via the codebook)."""
    s = df[var]
    if isinstance(s.dtype, pd.CategoricalDtype):
        return s
    if pd.api.types.is_numeric_dtype(s.dtype):
        v = numeric(s)
        out = pd.Series(v, index=df.index).astype("Int64").astype("string")
    else:
        out = s.astype("string")
    return out


def _category_order(var: str, observed) -> list[str]:
    cb = load_codebook()
    if var in cb.column_names("grund"):
        col = cb.column("grund", var)
        if col.codes is not None:
            return [str(c) for c in col.codes]
    if var == "age_band":
        return list(age_bands(pd.Series([], dtype="float64")).cat.categories)
    if var == "young_adults":
        return list(age_bands(pd.Series([], dtype="float64"), "young_adults").cat.categories)
    return sorted(str(x) for x in pd.unique(observed.dropna()))


def _category_index(df: pd.DataFrame, var: str) -> tuple[np.ndarray, list[str]]:
    """Position of each row's value in the variable's category order (-1: missing or not a code).

    Same matching as :func:`_codes` (values compared as code strings), but
    only the few distinct values are converted: the rows are factorized once.
    """
    s = df[var]
    if isinstance(s.dtype, pd.CategoricalDtype):
        r = np.asarray(s.cat.codes, dtype=np.int64)
        used = np.unique(r[r >= 0])
        uniq = pd.Series(np.asarray(s.cat.categories, dtype=object)).astype("string")
        observed = uniq.iloc[used]
    else:
        if pd.api.types.is_numeric_dtype(s.dtype):
            r, u = pd.factorize(numeric(s), use_na_sentinel=True)
            uniq = pd.Series(u).astype("Int64").astype("string")
        else:
            r, u = pd.factorize(s, use_na_sentinel=True)
            uniq = pd.Series(u, dtype=object).astype("string")
        observed = uniq
    cats = _category_order(var, observed)
    pos = pd.Index(cats, dtype=object).get_indexer(uniq.astype(object).to_numpy())
    pos = np.append(pos, -1)  # r == -1 (missing) → -1
    return pos[np.asarray(r, dtype=np.int64)], cats


def _profiles_by(latest: pd.DataFrame, bys, col: str = "municipality", alpha: float = 0.05) -> dict:
    """:func:`profile` ``(by=b)`` of every ``col`` value's rows for each ``b`` in ``bys``, prepared once:
    value → {b: what ``profile(rows, by=b)`` computes}.

    ``latest`` is each client's latest Grund per unit (the selection ``profile`` makes in each unit),
    with every composite. The measures' values, the derived columns and the sorted key codes are
    computed once for all units; each unit's groups are its own keys in that order (missing last),
    and its statistics come from :func:`_group_stats` on its own rows, as in ``profile``.
    """
    if not all(f"composite_{a}" in latest.columns for a in AREAS):
        return {}
    measures = default_measures(latest)
    df = _add_derived(latest, list(bys))
    arrays = _value_arrays(df, measures)
    # table1's means (profile of every row, no groups) of "age" and the same measures
    t1_meas = [m for m in ["age", *measures] if m in latest.columns]
    t1_arrays = [numeric(df["age"]), *arrays] if t1_meas and t1_meas[0] == "age" else list(arrays)
    key_codes = {}
    for b in bys:
        codes, uniq = pd.factorize(df[b], sort=True, use_na_sentinel=True)
        names = _keys_to_str(pd.DataFrame({b: uniq}), [b])[b].to_numpy(dtype=object)
        key_codes[b] = (np.asarray(codes, dtype=np.int64), names)
    units = df[col].astype("string").to_numpy(dtype=object, na_value=None)
    ucodes, uniq = pd.factorize(units, use_na_sentinel=True)
    order = np.argsort(ucodes, kind="stable")
    bounds = np.searchsorted(ucodes[order], np.arange(len(uniq) + 1))
    out = {}
    for i, u in enumerate(uniq):
        rows = order[bounds[i]:bounds[i + 1]]
        own = [a[rows] for a in arrays]
        out[str(u)] = res = {}
        for b in bys:
            codes, names = key_codes[b]
            c = codes[rows]
            present = np.unique(c)                      # sorted key codes, -1 (missing) first
            if present.size and present[0] < 0:
                present = np.append(present[1:], -1)    # the missing group last, as groupby(dropna=False)
            pos = np.full(len(names) + 1, -1, dtype=np.int64)
            pos[present] = np.arange(present.size)      # code -1 → the last slot
            ids = pos[c]
            size = np.bincount(ids, minlength=present.size).astype(np.int64)
            keys = pd.DataFrame({b: np.array([names[k] if k >= 0 else UNKNOWN for k in present], dtype=object)})
            res[b] = _profile_frame(own, ids, keys, size, len(rows), by=[b], measures=measures,
                                    selection="latest", period=None, alpha=alpha)
        res["table1_means"] = _profile_frame([a[rows] for a in t1_arrays], np.zeros(len(rows), dtype=np.int64),
                                             pd.DataFrame(index=range(1)), np.array([len(rows)]), len(rows),
                                             by=[], measures=t1_meas, selection="all", period=None, alpha=alpha)
    return out


def _fixed_categories(var: str) -> bool:
    """Whether a variable's category order is fixed (codebook codes, age bands), not taken from the data."""
    cb = load_codebook()
    if var in cb.column_names("grund") and cb.column("grund", var).codes is not None:
        return True
    return var in ("age_band", "young_adults")


def _table1_categories_by(latest: pd.DataFrame, col: str = "municipality") -> dict:
    """:func:`table1`'s category rows of every ``col`` value at once: value → what ``table1`` of that
    value's rows alone computes (None when a variable's categories would come from the data).

    ``latest`` is each client's latest Grund per unit (the selection ``table1`` makes in each unit);
    one count by ``col`` gives every unit's counts, and the shares and Wilson limits are the same
    element-wise arithmetic on them.
    """
    cats = [v for v in TABLE1_CATEGORIES if v in latest.columns or v == "age_band"]
    if not all(_fixed_categories(v) for v in cats):
        return {}
    cp = category_profile(latest, cats, by=col, selection="all")
    keys = cp[col].to_numpy(dtype=object)
    codes, uniq = pd.factorize(keys)
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(uniq) + 1))
    out = {}
    for i, u in enumerate(uniq):
        if u in (TOTAL, UNKNOWN):
            continue
        part = cp.iloc[order[bounds[i]:bounds[i + 1]]].drop(columns=[col]).reset_index(drop=True)
        out[str(u)] = _attrs(part, by=[], selection="all", period=None, additive=True,
                             category_col="category", alpha=0.05, group_n=True)
    return out


def category_profile(frame, var, by=None, *, selection: str = "latest", period=None,
                     alpha: float = 0.05) -> pd.DataFrame:
    """Shares of the categories of one or more variables, per group.

    Parameters
    ----------
    frame : Dataset or pandas.DataFrame
    var : str or list of str
        Category or coded columns (``sex``, ``main_substance``,
        ``psychiatric_contact``, ``age_band``…).
    by : str or list of str, optional
    selection, period, alpha
        As in :func:`profile`.

    Returns
    -------
    pandas.DataFrame
        ``by...``, ``variable``, ``category`` (code), ``n`` (clients in the
        group), ``n_missing`` (of them without a value), ``k``,
        ``share`` = k / (n − n_missing), ``ci_low``, ``ci_high`` (Wilson).
        Every code of the code list appears, also with k = 0. Total rows
        carry the group value ``TOTAL``.

    Notes
    -----
    Share and Wilson score interval (:func:`asi_lib.stats.wilson_ci`) are
    over the clients with a value, n − n_missing; missing (X or empty)
    values are counted in ``n_missing``. ``n`` is the same on every row of
    a group, whatever the variable, so the counts of one variable add up:
    Σ k + n_missing = n (the equation :func:`asi_lib.publish.publish`
    protects; with n over valid values only, a suppressed ``n_missing``
    would be n of another variable minus this one).

    Examples
    --------
    >>> g = pd.DataFrame({"client_pid": list("abc"), "interview_date": pd.to_datetime(["2024-01-01"] * 3),
    ...                   "sex": pd.Categorical(["male", "female", "male"], categories=["male", "female"])})
    >>> c = category_profile(g, "sex")
    >>> c[["category", "n", "k"]].values.tolist()
    [['male', 3, 2], ['female', 3, 1]]
    """
    by = _by_list(by)
    vars_ = [var] if isinstance(var, str) else list(var)
    df = select(frame, selection=selection, period=period, columns=_needed([*by, *vars_], []))
    df = _add_derived(df, [*by, *vars_])
    if by:
        ids, keys, size = _group_ids(df, by)
        keys = _keys_to_str(keys, by)
    else:
        ids, keys, size = np.zeros(len(df), dtype=np.int64), None, np.array([len(df)], dtype=np.int64)
    n_groups = len(size) if by else 0  # without groups only the total rows
    parts = []
    for v in vars_:  # a handful of variables
        code, cats = _category_index(df, v)
        n_c = len(cats)
        ok = code >= 0
        cnt = np.bincount(ids[ok] * n_c + code[ok], minlength=len(size) * n_c).reshape(len(size), n_c)
        k = np.vstack([cnt[:n_groups], cnt.sum(axis=0)])  # group rows, then the total row
        n_all = np.append(size[:n_groups], len(df))
        n_valid = k.sum(axis=1)
        cols = {}
        for c in by:
            cols[c] = pd.Series(np.append(np.repeat(keys[c].to_numpy(dtype=object), n_c),
                                          np.full(n_c, TOTAL, dtype=object)), dtype=object)
        cols["variable"] = v
        cols["category"] = pd.array(cats * (n_groups + 1), dtype="str")
        cols["k"] = k.ravel().astype("int64")
        cols["n"] = np.repeat(n_all, n_c).astype("int64")
        cols["n_valid"] = np.repeat(n_valid, n_c).astype("int64")
        parts.append(pd.DataFrame(cols))
    out = pd.concat(parts, ignore_index=True)
    out["variable"] = out["variable"].astype("str")
    out["n_missing"] = (out["n"] - out["n_valid"]).astype("int64")
    with np.errstate(invalid="ignore", divide="ignore"):
        out["share"] = np.where(out["n_valid"] > 0, out["k"] / out["n_valid"].where(out["n_valid"] > 0), np.nan)
    lo, hi = wilson_ci(out["k"].to_numpy(), out["n_valid"].to_numpy(), alpha)
    out["ci_low"], out["ci_high"] = lo, hi
    out = out[[*by, "variable", "category", "n", "n_missing", "k", "share", "ci_low", "ci_high"]]
    return _attrs(out, by=by, selection=selection, period=period, additive=True,
                  category_col="category", alpha=alpha, group_n=True)


def crosstab(frame, row: str, col: str, *, normalize: str | None = "row", selection: str = "latest",
             period=None) -> pd.DataFrame:
    """Two variables against each other, tidy, with counts and percentages.

    Parameters
    ----------
    frame : Dataset or pandas.DataFrame
    row, col : str
        Variables (as in :func:`category_profile`).
    normalize : {"row", "col", None}
        ``share`` = k / row total (``"row"``), k / column total (``"col"``),
        or no share (None).

    Returns
    -------
    pandas.DataFrame
        ``<row>``, ``<col>``, ``n`` (row total), ``k`` (cell count),
        ``share``; the total row has ``<row>`` = ``TOTAL``. With
        ``normalize="col"`` the roles swap (``n`` is the column total, the
        total row is per column). Cells with a missing value on either
        variable are left out.

    Examples
    --------
    >>> g = pd.DataFrame({"client_pid": list("abcd"), "interview_date": pd.to_datetime(["2024-01-01"] * 4),
    ...                   "sex": ["male", "male", "female", "female"],
    ...                   "main_substance": ["alcohol", "cannabis", "alcohol", "alcohol"]})
    >>> t = crosstab(g, "sex", "main_substance")
    >>> t.loc[(t["sex"] == "male") & (t["main_substance"] == "alcohol"), ["n", "k", "share"]].values.tolist()
    [[2.0, 1.0, 0.5]]
    """
    if normalize not in ("row", "col", None):
        raise AsiInputError("normalize: 'row', 'col' eller None / normalize must be row, col or None")
    if normalize == "col":  # a column's cells add up to the column total: swap the roles
        out = crosstab(frame, col, row, normalize="row", selection=selection, period=period)
        out = out[[row, col, "n", "k", "share"]]
        out.attrs["asi"]["normalize"] = "col"
        return out
    df = select(frame, selection=selection, period=period)
    df = _add_derived(df, [row, col])
    rc, cc = _codes(df, row), _codes(df, col)
    ok = (rc.notna() & cc.notna()).to_numpy()
    rcat = pd.Categorical(rc[ok].astype(object), categories=_category_order(row, rc))
    ccat = pd.Categorical(cc[ok].astype(object), categories=_category_order(col, cc))
    tab = pd.crosstab(rcat, ccat, dropna=False)
    tab.loc[TOTAL] = tab.sum(axis=0)
    long = tab.stack(future_stack=True).rename("k").reset_index()
    long.columns = [row, col, "k"]
    long[row] = long[row].astype(str)
    long[col] = long[col].astype(str)
    long["n"] = long.groupby(row)["k"].transform("sum")
    if normalize == "row":
        long["share"] = long["k"] / long["n"].where(long["n"] > 0)
    long = long[[row, col, "n", "k", *(["share"] if normalize else [])]]
    long = long.astype({"n": "int64", "k": "int64"})
    return _attrs(long, by=[row], selection=selection, period=period, additive=True,
                  category_col=col, normalize=normalize, value_vars={})


def table1(frame, by=None, *, selection: str = "latest", period=None, measures=None) -> pd.DataFrame:
    """The client group's "Table 1": who the clients are, overall or per group.

    Parameters
    ----------
    frame : Dataset or pandas.DataFrame
    by : str or list of str, optional
    selection, period
        As in :func:`profile`.
    measures : list of str, optional
        Continuous rows (default: age, composites, interviewer ratings).

    Returns
    -------
    pandas.DataFrame
        Category rows (sex, age band, main substance, housing, income,
        living situation, psychiatric contact, long-term illness, lifetime
        items) with ``n``, ``n_missing``, ``k``, ``share``, ``ci_low``,
        ``ci_high``; then continuous rows (``category`` empty) with ``n``,
        ``n_missing``, ``mean``, ``sd``, ``median``. Tidy, ready for publish.

    Examples
    --------
    >>> from asi_lib.datasets import read_dataset  # doctest: +SKIP
    >>> table1(read_dataset("demo"), by="sex").head()  # doctest: +SKIP
    """
    return _table1(frame, by, selection=selection, period=period, measures=measures)


def _table1(frame, by=None, *, selection: str = "latest", period=None, measures=None, categories=None,
            means=None) -> pd.DataFrame:
    """:func:`table1` with parts computed by the caller (a release: every municipality at once):
    ``categories``, the category rows (one grouped count), and ``means``, the measure rows
    (:func:`_profiles_by`; for ``by=None`` only)."""
    g = select(frame, selection=selection, period=period)
    cb = load_codebook()
    cats = [v for v in TABLE1_CATEGORIES if v in g.columns or v == "age_band"]
    cp = category_profile(g, cats, by=by, selection="all") if categories is None else categories
    g = _ensure_scores(g, None)
    meas = list(measures) if measures is not None else ["age", *default_measures(g)]
    meas = [m for m in meas if m in g.columns]
    pr = (profile(g, by=by, measures=meas, selection="all") if means is None else means).rename(
        columns={"measure": "variable"})
    pr["category"] = ""
    out = pd.concat([cp, pr[[c for c in pr.columns if c not in ("ci_low", "ci_high")]]], ignore_index=True)
    by_ = _by_list(by)
    order = [*by_, "variable", "category", "n", "n_missing", "k", "share", "ci_low", "ci_high",
             "mean", "sd", "median"]
    out = out[order]
    del cb
    return _attrs(out, by=by_, selection=selection, period=period, additive=True,
                  category_col="category", group_n=True)
