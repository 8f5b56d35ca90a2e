"""Trends and period comparisons for improvement work (PDSA: Plan, Do, Study, Act).

* :func:`trend`: any profile measure (Grund frame) or outcome (pairs from
  :func:`asi_lib.followup.pair_followups`) by year, half-year, quarter or
  month, with n and a 95 % CI per period; the latest period is flagged
  preliminary (bortfall and follow-ups are registered late).
* :func:`compare_periods`: period A against period B (e.g. before and after a
  change in the service): values in each, difference B − A with CI, a test,
  Benjamini–Hochberg adjustment across measures and groups, effect size; no
  p-value when a period has fewer than ten clients.

A *measure* is a column name. On a frame of pairs, a measure ``x`` that is
not itself a column but has ``x_0`` and ``x_1`` means the change
``x_1 − x_0`` (negative = improvement for ASI scores). Yes/no items, boolean
columns and ``level=`` of a category column are shares; everything else is
a mean (ASI's X/N codes read as missing via :func:`asi_lib.codebook.numeric`).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats as _sps

from .bortfall import _add_group_cols, _by_list, _group_keys, _mean_ci, _periods, _wilson
from .codebook import load_codebook, numeric
from .errors import AsiInputError

__all__ = ["trend", "compare_periods", "measure_values"]

#: Below this many clients in a period no p-value is given (DOMAIN.md: < 10 → tendencies only).
MIN_N_TEST = 10


def _codebook_column(name: str):
    cb = load_codebook()
    for table in ("grund", "uppfoljning", "bortfall", "insatser"):
        if name in cb.column_names(table):
            return cb.column(table, name)
    return None


def measure_values(frame: pd.DataFrame, measure: str, *, level=None, lang: str = "sv"):
    """Values of one measure as floats, its kind (mean/share) and a label.

    Parameters
    ----------
    frame : pandas.DataFrame
        A store-format table (e.g. Grund) or the pairs of a pairing.
    measure : str
        Column name; on pairs, ``x`` with columns ``x_0``/``x_1`` gives the
        change ``x_1 − x_0``.
    level : str, optional
        For a category column: the share with this code.
    lang : {"sv", "en"}

    Returns
    -------
    values : pandas.Series of float
    kind : {"mean", "share"}
    label : str

    Examples
    --------
    >>> f = pd.DataFrame({"rating_alcohol_0": [6, 4], "rating_alcohol_1": [3, 4]})
    >>> v, kind, label = measure_values(f, "rating_alcohol")
    >>> v.tolist(), kind
    ([-3.0, 0.0], 'mean')
    """
    sv = lang == "sv"
    if measure in frame.columns:
        s = frame[measure]
        col = _codebook_column(measure[:-2] if measure[-2:] in ("_0", "_1") else measure)
        base_label = col.label(lang) if col is not None else _label(measure[:-2] if measure[-2:] in ("_0", "_1")
                                                                     else measure, lang)
        if measure.endswith("_0"):
            base_label += " (vid grund)" if sv else " (baseline)"
        elif measure.endswith("_1"):
            base_label += " (vid uppföljning)" if sv else " (follow-up)"
        if isinstance(s.dtype, pd.CategoricalDtype) or pd.api.types.is_string_dtype(s.dtype) \
                or s.dtype == object:
            if level is None:
                raise AsiInputError(f"'{measure}' är en kategori: ange level= / category column needs level=")
            st = s.astype("string")
            vals = (st == str(level)).astype("float64").where(st.notna())
            lev_label = str(level)
            if col is not None and col.codes is not None and level in col.codes:
                lev_label = col.codes[level]["sv" if sv else "en"]
            return vals, "share", f"{base_label}: {lev_label}"
        if pd.api.types.is_bool_dtype(s.dtype):
            return s.astype("float64"), "share", base_label
        vals = pd.Series(numeric(s), index=frame.index)
        if col is not None and col.codelist == "yesno":
            return vals, "share", base_label
        if level is not None:
            return (vals == float(level)).astype("float64").where(vals.notna()), "share", f"{base_label} = {level}"
        return vals, "mean", base_label
    if f"{measure}_0" in frame.columns and f"{measure}_1" in frame.columns:
        v0 = pd.Series(numeric(frame[f"{measure}_0"]), index=frame.index)
        v1 = pd.Series(numeric(frame[f"{measure}_1"]), index=frame.index)
        col = _codebook_column(measure)
        base_label = col.label(lang) if col is not None else _label(measure, lang)
        return v1 - v0, "mean", (f"Förändring: {base_label}" if sv else f"Change: {base_label}")
    raise AsiInputError(f"okänt mått '{measure}' / unknown measure")


def _label(measure: str, lang: str) -> str:
    from .publish import measure_label
    return measure_label(measure, lang)


def _as_frame(obj, measures=()) -> pd.DataFrame:
    """A Dataset means its Grund table, a Pairing its pairs; a frame is used as it is.

    Composite scores asked for and not yet in a store-format table are added
    (``scores.add_scores``).
    """
    frame = None
    if isinstance(obj, pd.DataFrame):
        frame = obj
    else:
        for attr in ("grund", "pairs"):
            if isinstance(getattr(obj, attr, None), pd.DataFrame):
                frame = getattr(obj, attr)
                break
    if frame is None:
        raise AsiInputError("väntade en tabell, ett Dataset eller en Pairing / expected a DataFrame, Dataset or Pairing")
    need = [m for m in measures if str(m).startswith("composite_") and m not in frame.columns
            and f"{m}_0" not in frame.columns]
    if need and "interview_date" in frame.columns:
        from .scores import add_scores
        frame = add_scores(frame)
    return frame


def _date_col(frame: pd.DataFrame, date_col: str | None) -> str:
    if date_col is not None:
        if date_col not in frame.columns:
            raise AsiInputError(f"datumkolumnen '{date_col}' saknas / date column missing")
        return date_col
    for c in ("interview_date", "baseline_date", "start_date", "bortfall_date"):
        if c in frame.columns:
            return c
    raise AsiInputError("ingen datumkolumn (interview_date, baseline_date …) / no date column")


def _latest(frame: pd.DataFrame, keys: list[str], date_col: str) -> pd.DataFrame:
    """Each client's latest row within each key combination."""
    if "client_pid" not in frame.columns:
        return frame
    f = frame.sort_values(date_col, kind="stable")
    return f.drop_duplicates(["client_pid", *keys], keep="last")


def _summaries(values: pd.Series, keys: pd.DataFrame, kind: str) -> pd.DataFrame:
    """Grouped n, n_missing and mean/sd/median or k/share with CIs."""
    df = keys.assign(_v=values.to_numpy())
    cols = list(keys.columns)
    g = df.groupby(cols, sort=True, observed=True)["_v"]
    out = pd.DataFrame({"n": g.count(), "n_missing": g.size() - g.count()})
    if kind == "share":
        out["k"] = g.sum()
        lo, hi = _wilson(out["k"], out["n"])
        with np.errstate(invalid="ignore", divide="ignore"):
            out["share"] = np.where(out["n"] > 0, out["k"] / out["n"], np.nan)
        out["ci_low"], out["ci_high"] = lo, hi
    else:
        out["mean"] = g.mean()
        out["sd"] = g.std(ddof=1)
        out["median"] = g.median()
        lo, hi = _mean_ci(out["mean"], out["sd"], out["n"])
        out["ci_low"], out["ci_high"] = lo, hi
    return out.reset_index()


def trend(frame: pd.DataFrame, measure, period: str = "year", by=None, *, level=None,
          date_col: str | None = None, selection: str = "latest", as_of=None,
          lang: str = "sv") -> pd.DataFrame:
    """A measure by period (PDSA: "measure, change, measure again").

    Parameters
    ----------
    frame : pandas.DataFrame, Dataset or Pairing
        Grund (profiles; client composition; a Dataset means its Grund) or
        the pairs of a pairing (outcomes; the period is the baseline's).
    measure : str or list of str
        Column(s); see :func:`measure_values` (``x`` on pairs = change).
    period : {"year", "half", "quarter", "month"}, default "year"
    by : str or list of str, optional
        Grouping columns (``age_band`` derived from ``age``).
    level : str, optional
        Code of a category measure (share of clients with it).
    date_col : str, optional
        Default ``interview_date``, else ``baseline_date`` (pairs).
    selection : {"latest", "all"}, default "latest"
        "latest": each client's latest row per period and group (n = distinct
        clients); "all": every row.
    as_of : date-like, optional
        Periods ending after ``as_of`` are preliminary too.
    lang : {"sv", "en"}

    Returns
    -------
    pandas.DataFrame
        One row per (group, period, measure): ``period``, ``period_start``,
        ``period_end``, ``measure``, ``label``, ``kind``, ``n``,
        ``n_missing`` and ``k``/``share`` or ``mean``/``sd``/``median``,
        ``ci_low``/``ci_high`` (Wilson for shares, t for means), and
        ``preliminary`` (the latest period, or one not over by ``as_of``).

    Examples
    --------
    >>> g = pd.DataFrame({"client_pid": list("abcd"),
    ...                   "interview_date": pd.to_datetime(["2023-03-01", "2023-09-01", "2024-02-01", "2024-05-01"]),
    ...                   "rating_alcohol": pd.array([6, 4, 2, 2], dtype="Int16")})
    >>> t = trend(g, "rating_alcohol")
    >>> t[["period", "n", "mean", "preliminary"]].to_dict("list")
    {'period': ['2023', '2024'], 'n': [2, 2], 'mean': [5.0, 2.0], 'preliminary': [False, True]}
    """
    measures = [measure] if isinstance(measure, str) else list(measure)
    if selection not in ("latest", "all"):
        raise AsiInputError(f"okänt urval '{selection}' (latest, all) / unknown selection")
    by = _by_list(by)
    frame = _as_frame(frame, measures)
    dc = _date_col(frame, date_col)
    f = _add_group_cols(frame, by)
    f = f.loc[f[dc].notna()]
    per = _periods(f[dc], period)
    f = pd.concat([f, per], axis=1)
    keys = by + ["period"]
    f = _group_keys(f, by)
    if selection == "latest":
        f = _latest(f, keys, dc)
    parts = []
    for m in measures:  # a handful of measures
        vals, kind, label = measure_values(f, m, level=level, lang=lang)
        s = _summaries(vals, f[keys], kind)
        s.insert(len(keys), "measure", m)
        s.insert(len(keys) + 1, "label", label)
        s.insert(len(keys) + 2, "kind", kind)
        parts.append(s)
    out = pd.concat(parts, ignore_index=True)
    bounds = per.drop_duplicates("period").set_index("period")
    out["period_start"] = out["period"].map(bounds["period_start"])
    out["period_end"] = out["period"].map(bounds["period_end"])
    latest = out["period_start"].max()
    prelim = out["period_start"] == latest
    if as_of is not None:
        prelim |= out["period_end"] > pd.Timestamp(as_of)
    out["preliminary"] = prelim.to_numpy(dtype=bool)
    lead = by + ["period", "period_start", "period_end", "measure", "label", "kind", "n", "n_missing"]
    out = out[lead + [c for c in out.columns if c not in lead]]
    out = out.sort_values(by + ["measure", "period_start"], kind="stable").reset_index(drop=True)
    out.attrs["asi"] = {
        "unit": "klienter", "measure": measures, "period": period, "date_col": dc,
        "selection": ("senaste per klient och period" if selection == "latest" else "alla rader"),
        "group_cols": by + ["period"], "additive": False,
        "note": "Senaste perioden är preliminär (bortfall och uppföljningar registreras i efterhand).",
    }
    if hasattr(frame, "attrs") and "asi" in frame.attrs and "bortfall_share" in frame.attrs["asi"]:
        out.attrs["asi"]["bortfall_share"] = frame.attrs["asi"]["bortfall_share"]
    return out


# --------------------------------------------------------------------------- period A vs B
def _newcombe(ka, na, kb, nb, alpha=0.05):
    """Newcombe's hybrid score CI (method 10) for pb − pa from Wilson intervals."""
    pa = np.where(na > 0, ka / np.where(na > 0, na, 1), np.nan)
    pb = np.where(nb > 0, kb / np.where(nb > 0, nb, 1), np.nan)
    la, ua = _wilson(ka, na, alpha)
    lb, ub = _wilson(kb, nb, alpha)
    d = pb - pa
    lo = d - np.sqrt((pb - lb) ** 2 + (ua - pa) ** 2)
    hi = d + np.sqrt((ub - pb) ** 2 + (pa - la) ** 2)
    return d, lo, hi


def _share_test(ka, na, kb, nb):
    """Two-sided test of pa = pb: pooled z-test, Fisher's exact when an expected count < 5."""
    p = (ka + kb) / (na + nb)
    exp = np.array([na * p, na * (1 - p), nb * p, nb * (1 - p)])
    if (exp < 5).any():
        res = _sps.fisher_exact([[kb, nb - kb], [ka, na - ka]])
        return "fisher", float(res.pvalue)
    se = np.sqrt(p * (1 - p) * (1 / na + 1 / nb))
    if se == 0:
        return "z", np.nan
    z = (kb / nb - ka / na) / se
    return "z", float(2 * _sps.norm.sf(abs(z)))


def compare_periods(frame: pd.DataFrame, measure, period_a, period_b, by=None, *, level=None,
                    date_col: str | None = None, test: str = "auto", selection: str = "latest",
                    min_n_test: int = MIN_N_TEST, alpha: float = 0.05, lang: str = "sv") -> pd.DataFrame:
    """Period A against period B, per measure (and group).

    Parameters
    ----------
    frame : pandas.DataFrame, Dataset or Pairing
        Grund (client composition, profiles) or pairs (outcomes, e.g. change
        ``x`` = ``x_1 − x_0``; the period is the baseline's).
    measure : str or list of str
    period_a, period_b : (start, end)
        Inclusive date ranges; B is the later ("after") period by convention.
    by : str or list of str, optional
    level : str, optional
        Code of a category measure.
    date_col : str, optional
    test : {"auto", "welch", "mannwhitney"}, default "auto"
        For means: Welch's t-test ("auto") or Mann–Whitney U. Shares always
        use the two-proportion z-test, or Fisher's exact test when an expected
        cell count is below 5.
    selection : {"latest", "all"}
        "latest": each client's latest row per period.
    min_n_test : int, default 10
        No p-value when either period has fewer clients (tendencies only).
    alpha : float, default 0.05
    lang : {"sv", "en"}

    Returns
    -------
    pandas.DataFrame
        One row per (group, measure): ``n_a``, ``n_b``, ``n`` (= n_a + n_b),
        ``k_a``/``k_b`` (shares), ``value_a``, ``value_b`` (mean or share),
        ``sd_a``, ``sd_b``, ``diff`` (B − A), ``ci_low``, ``ci_high``,
        ``test``, ``p_value``, ``p_adj`` (Benjamini–Hochberg over all rows),
        ``effect_size`` and ``effect_measure`` (Hedges' g for means,
        standardised difference of proportions for shares), ``note``.

    Notes
    -----
    Means: Welch CI :math:`d \\pm t_{\\nu}\\sqrt{s_a^2/n_a + s_b^2/n_b}` with
    Welch–Satterthwaite :math:`\\nu`; Hedges' g = Cohen's d (pooled SD)
    × :math:`(1 - 3/(4(n_a+n_b)-9))`.
    Shares: Newcombe's hybrid score interval (method 10) for
    :math:`p_b - p_a`; pooled z :math:`(p_b-p_a)/\\sqrt{\\bar p(1-\\bar p)(1/n_a+1/n_b)}`;
    SMD :math:`(p_b-p_a)/\\sqrt{(p_a(1-p_a)+p_b(1-p_b))/2}`.

    References
    ----------
    Newcombe RG (1998). Interval estimation for the difference between
    independent proportions. Stat Med 17:873–890. Welch BL (1947).
    Biometrika 34:28–35. Benjamini Y, Hochberg Y (1995). JRSS B 57:289–300.
    Hedges LV (1981). J Educ Stat 6:107–128.

    Examples
    --------
    >>> g = pd.DataFrame({"client_pid": [f"c{i}" for i in range(8)],
    ...                   "interview_date": pd.to_datetime(["2023-02-01"] * 4 + ["2024-02-01"] * 4),
    ...                   "rating_drugs": pd.array([2, 4, 6, 4, 6, 8, 6, 4], dtype="Int16")})
    >>> r = compare_periods(g, "rating_drugs", ("2023-01-01", "2023-12-31"), ("2024-01-01", "2024-12-31"))
    >>> r[["value_a", "value_b", "diff"]].iloc[0].tolist()
    [4.0, 6.0, 2.0]
    >>> bool(np.isnan(r["p_value"].iloc[0]))  # fewer than ten clients: no p-value
    True
    """
    from .stats import hedges_g, smd_proportion, welch

    measures = [measure] if isinstance(measure, str) else list(measure)
    if test not in ("auto", "welch", "mannwhitney"):
        raise AsiInputError(f"okänt test '{test}' (auto, welch, mannwhitney) / unknown test")
    by = _by_list(by)
    frame = _as_frame(frame, measures)
    dc = _date_col(frame, date_col)
    f = _add_group_cols(frame, by)
    d = pd.to_datetime(f[dc])
    a0, a1 = pd.Timestamp(period_a[0]), pd.Timestamp(period_a[1])
    b0, b1 = pd.Timestamp(period_b[0]), pd.Timestamp(period_b[1])
    if a0 > a1 or b0 > b1:
        raise AsiInputError("en period slutar före sin början / a period ends before it starts")
    in_a = (d >= a0) & (d <= a1)
    in_b = (d >= b0) & (d <= b1)
    if a0 <= b1 and b0 <= a1:
        raise AsiInputError("perioderna A och B överlappar / periods A and B overlap")
    f = f.loc[in_a | in_b].assign(_p=np.where(in_a[in_a | in_b], "A", "B"))
    f = _group_keys(f, by)
    if selection == "latest":
        f = _latest(f, by + ["_p"], dc)
    rows = []
    for m in measures:  # a handful of measures
        vals, kind, label = measure_values(f, m, level=level, lang=lang)
        df = f[by + ["_p"]].assign(_v=vals.to_numpy())
        groups = df.groupby(by, sort=True, observed=True) if by else [((), df)]
        for key, sub in groups:  # a handful of groups
            key = key if isinstance(key, tuple) else (key,)
            va = sub.loc[sub["_p"] == "A", "_v"].dropna().to_numpy()
            vb = sub.loc[sub["_p"] == "B", "_v"].dropna().to_numpy()
            na, nb = va.size, vb.size
            row = dict(zip(by, key))
            row.update(measure=m, label=label, kind=kind, n_a=na, n_b=nb, n=na + nb)
            ma = va.mean() if na else np.nan
            mb = vb.mean() if nb else np.nan
            sa = va.std(ddof=1) if na > 1 else np.nan
            sb = vb.std(ddof=1) if nb > 1 else np.nan
            row.update(value_a=ma, value_b=mb)
            testable = na >= min_n_test and nb >= min_n_test
            if kind == "share":
                ka, kb = float(va.sum()), float(vb.sum())
                diff, lo, hi = _newcombe(np.float64(ka), np.float64(na), np.float64(kb), np.float64(nb), alpha)
                tname, p = _share_test(ka, na, kb, nb) if (na and nb) else ("z", np.nan)
                row.update(k_a=ka, k_b=kb, sd_a=np.sqrt(ma * (1 - ma)) if na else np.nan,
                           sd_b=np.sqrt(mb * (1 - mb)) if nb else np.nan, diff=float(diff),
                           ci_low=float(lo), ci_high=float(hi),
                           effect_size=float(smd_proportion(mb, ma)), effect_measure="smd")
            else:
                w = welch(mb, sb, nb, ma, sa, na, alpha)
                if test == "mannwhitney":
                    tname = "mannwhitney"
                    p = float(_sps.mannwhitneyu(vb, va, alternative="two-sided").pvalue) if (na and nb) else np.nan
                else:
                    tname, p = "welch", float(w["p_value"])
                row.update(k_a=np.nan, k_b=np.nan, sd_a=sa, sd_b=sb, diff=mb - ma,
                           ci_low=float(w["ci_low"]), ci_high=float(w["ci_high"]),
                           effect_size=float(hedges_g(mb, sb, nb, ma, sa, na)), effect_measure="hedges_g")
            row["test"] = tname
            row["p_value"] = p if testable else np.nan
            row["note"] = "" if testable else ("Färre än tio klienter i en period: endast tendenser, inget p-värde"
                                               if lang == "sv" else
                                               "Fewer than ten clients in a period: tendencies only, no p-value")
            rows.append(row)
    out = pd.DataFrame(rows)
    out["p_adj"] = _bh(out["p_value"].to_numpy(dtype="float64"))
    lead = by + ["measure", "label", "kind", "n", "n_a", "n_b", "k_a", "k_b", "value_a", "value_b", "sd_a",
                 "sd_b", "diff", "ci_low", "ci_high", "test", "p_value", "p_adj", "effect_size",
                 "effect_measure", "note"]
    out = out[lead]
    out.attrs["asi"] = {
        "unit": "klienter", "measure": measures, "date_col": dc,
        "period_a": (str(a0.date()), str(a1.date())), "period_b": (str(b0.date()), str(b1.date())),
        "selection": ("senaste per klient och period" if selection == "latest" else "alla rader"),
        "diff": "B − A", "group_cols": by, "additive": False, "multiple_testing": "Benjamini–Hochberg",
    }
    if "asi" in frame.attrs and "bortfall_share" in frame.attrs["asi"]:
        out.attrs["asi"]["bortfall_share"] = frame.attrs["asi"]["bortfall_share"]
    return out


def _bh(p):
    from .bortfall import _bh as bh
    return bh(p)
