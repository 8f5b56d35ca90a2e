"""Comparisons: "X jämfört med övriga" and several groups against each other.

Rules shared by every comparison (``docs/methods/groups.md``):

* no p-value for a group under ``min_test_n`` (default 10) clients: NaN and
  ``tendency = True``;
* p-values of one table are adjusted for the number of areas/measures with
  Benjamini–Hochberg (``p_adj``);
* the case mix (share women, mean age, share with alcohol as main substance)
  of the groups stands beside the figures, because differences in outcome
  often reflect differences in who the clients are.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats as st

from .errors import AsiInputError
from .codebook import AREAS
from .groups import (_add_derived, _by_list, _ensure_scores, _group_stats, _grund, _needed, _value_arrays,
                     _values, default_measures, select)
from .stats import bh_adjust, hedges_g, welch

__all__ = ["compare_one_vs_rest", "compare_groups", "case_mix"]

MIN_TEST_N = 10


def _moments(arrays, is_unit: np.ndarray, measures) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """n, mean, sd, median per measure of the unit, the rest and everyone.

    One counting pass per measure (:func:`asi_lib.groups._group_stats`,
    groups 0 = unit, 1 = rest; its total row is everyone).
    """
    st_ = _group_stats(arrays, np.where(is_unit, 0, 1), 2)
    names = {"count": "n", "mean": "mean", "sd": "sd", "median": "median"}
    u, r, a = (pd.DataFrame({names[k]: v[i] for k, v in st_.items()}, index=list(measures)) for i in range(3))
    return u, r, a


def case_mix(df: pd.DataFrame, mask: np.ndarray, min_cell: int = 5) -> dict:
    """Share women, mean age and share with alcohol as main substance among ``mask``.

    The case mix is repeated on every row of a comparison, so it protects
    itself: a share resting on 0 < k < min_cell or 0 < n − k < min_cell
    clients, or a mean age of fewer than min_cell clients, is NaN.

    Parameters
    ----------
    df : pandas.DataFrame
        Latest Grund per client (``sex``, ``age``, ``main_substance``).
    mask : numpy.ndarray of bool
        The rows of the group.
    min_cell : int, default 5

    Returns
    -------
    dict
        ``share_women``, ``mean_age``, ``share_alcohol`` (NaN where protected).

    Examples
    --------
    >>> d = pd.DataFrame({"sex": ["female"] * 3 + ["male"] * 7, "age": [30] * 10,
    ...                   "main_substance": ["alcohol"] * 5 + ["cannabis"] * 5})
    >>> case_mix(d, np.ones(10, bool))
    {'share_women': nan, 'mean_age': 30.0, 'share_alcohol': 0.5}
    """
    return _CaseMix(df)(np.asarray(mask, dtype=bool), min_cell)


def _mwu(vals: pd.DataFrame, a: np.ndarray, b: np.ndarray, measures) -> np.ndarray:
    p = np.full(len(measures), np.nan)
    for i, m in enumerate(measures):  # one test per area (a handful)
        x = vals.loc[a, m].dropna().to_numpy()
        y = vals.loc[b, m].dropna().to_numpy()
        if len(x) and len(y):
            p[i] = st.mannwhitneyu(x, y, alternative="two-sided").pvalue
    return p


def compare_one_vs_rest(frame, unit_col: str = "municipality", unit=None, measures=None, *,
                        test: str = "welch", selection: str = "latest", period=None,
                        alpha: float = 0.05, min_test_n: int = MIN_TEST_N) -> pd.DataFrame:
    """One unit against all the others (itself excluded), area by area.

    Parameters
    ----------
    frame : Dataset or pandas.DataFrame
    unit_col : str, default "municipality"
        Column naming the units (``municipality``, ``unit``, ``sex``…).
    unit : str
        The unit to compare.
    measures : list of str, optional
        Default: composites and interviewer ratings (as
        :func:`asi_lib.groups.profile`). 0/1 items give shares.
    test : {"welch", "mannwhitney"}
        Welch's t-test (default) or Mann–Whitney U (robust, for skewed
        scores); the difference and its CI are always Welch's.
    selection, period
        As in :func:`asi_lib.groups.profile`.
    alpha : float
    min_test_n : int, default 10
        No p-value when either side has fewer valid values.

    Returns
    -------
    pandas.DataFrame
        One row per measure: ``n_unit``, ``n_rest``, ``mean_unit``,
        ``mean_rest``, ``mean_region`` (everyone, the reference), ``sd_unit``,
        ``sd_rest``, ``diff`` (unit − rest), ``diff_ci_low``,
        ``diff_ci_high``, ``p_value``, ``p_adj`` (BH over the measures),
        ``hedges_g``, ``tendency``; the case mix of unit and rest in
        ``share_women_unit``… ``share_alcohol_rest``; ``attrs["asi"]`` holds
        the unit, the test and the selection.

    Notes
    -----
    Welch: :math:`t = (\\bar x_u - \\bar x_r)/\\sqrt{s_u^2/n_u + s_r^2/n_r}`
    with Welch–Satterthwaite df (:func:`asi_lib.stats.welch`); Hedges' g with
    the pooled SD (:func:`asi_lib.stats.hedges_g`). For a 0/1 item the mean is
    a share and Welch's test is the unpooled z-test for two proportions up to
    the t reference distribution (use :func:`scipy.stats.fisher_exact` by
    hand for tiny cells; they are not published anyway).

    Examples
    --------
    >>> g = pd.DataFrame({"client_pid": [f"c{i}" for i in range(40)],
    ...                   "interview_date": pd.to_datetime(["2024-01-01"] * 40),
    ...                   "municipality": ["A"] * 20 + ["B"] * 20,
    ...                   "rating_alcohol": pd.array([5, 6] * 10 + [3, 4] * 10, dtype="Int16")})
    >>> r = compare_one_vs_rest(g, unit="A", measures=["rating_alcohol"])
    >>> float(r.loc[0, "diff"]), int(r.loc[0, "n_unit"])
    (2.0, 20)
    """
    if unit is None:
        raise AsiInputError("ange vilken enhet som ska jämföras (unit=...) / unit is required")
    if test not in ("welch", "mannwhitney"):
        raise AsiInputError(f"okänt test '{test}' (welch, mannwhitney) / unknown test")
    base = _OneVsRest(frame, unit_col, measures, selection=selection, period=period)
    return base.compare(unit, test=test, alpha=alpha, min_test_n=min_test_n)


class _OneVsRest:
    """What :func:`compare_one_vs_rest` computes from the whole frame, once for any number of units.

    The selected rows, the measures' values, each measure's ranks among its
    distinct values and their counts over everyone; a unit then counts only
    its own rows (the rest = everyone − the unit, the same integer table
    :func:`asi_lib.groups._group_stats` counts, so the same statistics). A
    release compares every municipality with the others from one of these.
    """

    def __init__(self, frame, unit_col: str = "municipality", measures=None, *, selection: str = "latest",
                 period=None):
        from .groups import _CELL_LIMIT, _ranks

        g0 = _grund(frame)
        cols = _needed([unit_col], measures if measures is not None else
                       (default_measures(g0) if all(f"composite_{a}" in g0.columns for a in AREAS) else None))
        df = select(g0, selection=selection, period=period, columns=cols)
        df = _ensure_scores(df, measures)
        self.measures = list(measures) if measures is not None else default_measures(df)
        df = _add_derived(df, [unit_col])
        if unit_col not in df.columns:
            raise AsiInputError(f"okänd kolumn '{unit_col}' / unknown column")
        self.df, self.unit_col, self.selection, self.period = df, unit_col, selection, period
        keys = df[unit_col].astype("string")
        self._codes, self._units = pd.factorize(keys.to_numpy(dtype=object, na_value=None), use_na_sentinel=True)
        self.arrays = _value_arrays(df, self.measures)
        self._counts = []   # per measure: (rank of each row, -1 missing; distinct values; counts of everyone)
        for v in self.arrays:
            ok = ~np.isnan(v)
            x = v if ok.all() else v[ok]
            if not x.size:
                self._counts.append(None)
                continue
            r, uniq = _ranks(x)
            if 3 * len(uniq) > _CELL_LIMIT:   # _group_stats takes the cython path: so do we
                self._counts.append(None)
                continue
            full = np.full(len(v), -1, dtype=np.int64)
            full[ok] = r
            self._counts.append((full, uniq, np.bincount(r, minlength=len(uniq))))
        self._mix = _CaseMix(df)

    def _moments(self, is_unit: np.ndarray, rows: np.ndarray):
        from .groups import _table_stats

        m = len(self.measures)
        out = {"count": np.zeros((3, m)), "mean": np.full((3, m), np.nan),
               "sd": np.full((3, m), np.nan), "median": np.full((3, m), np.nan)}
        for j, (v, c) in enumerate(zip(self.arrays, self._counts)):
            if c is None:
                if not (~np.isnan(v)).any():
                    continue
                res = _group_stats([v], np.where(is_unit, 0, 1), 2)
                for k in out:
                    out[k][:, j] = res[k][:, 0]
                continue
            full, uniq, everyone = c
            r = full[rows]
            own = np.bincount(r[r >= 0], minlength=len(uniq))
            res = _table_stats(np.vstack([own, everyone - own, everyone]), uniq)
            for k in out:
                out[k][:, j] = res[k]
        names = {"count": "n", "mean": "mean", "sd": "sd", "median": "median"}
        return (pd.DataFrame({names[k]: v[i] for k, v in out.items()}, index=list(self.measures))
                for i in range(3))

    def compare(self, unit, *, test: str = "welch", alpha: float = 0.05,
                min_test_n: int = MIN_TEST_N) -> pd.DataFrame:
        """:func:`compare_one_vs_rest` of one unit."""
        measures, selection, period = self.measures, self.selection, self.period
        hit = np.flatnonzero(self._units == str(unit)) if len(self._units) else np.array([], dtype=np.int64)
        rows = np.flatnonzero(self._codes == hit[0]) if hit.size else np.array([], dtype=np.int64)
        if not rows.size:
            raise AsiInputError(f"'{unit}' finns inte i '{self.unit_col}' / unit not found")
        is_unit = np.zeros(len(self.df), dtype=bool)
        is_unit[rows] = True
        arrays = self.arrays
        u, r, a = self._moments(is_unit, rows)
        w = welch(u["mean"], u["sd"], u["n"], r["mean"], r["sd"], r["n"], alpha)
        g = hedges_g(u["mean"], u["sd"], u["n"], r["mean"], r["sd"], r["n"])
        small = (u["n"].to_numpy() < min_test_n) | (r["n"].to_numpy() < min_test_n)
        p = (np.asarray(w["p_value"], dtype=float) if test == "welch"
             else _mwu(pd.DataFrame(dict(zip(measures, arrays)), index=self.df.index), is_unit, ~is_unit, measures))
        p = np.where(small, np.nan, p)
        out = pd.DataFrame({
            "measure": measures,
            "n_unit": u["n"].to_numpy(dtype="int64"), "n_rest": r["n"].to_numpy(dtype="int64"),
            "mean_unit": u["mean"].to_numpy(), "mean_rest": r["mean"].to_numpy(),
            "mean_region": a["mean"].to_numpy(),
            "sd_unit": u["sd"].to_numpy(), "sd_rest": r["sd"].to_numpy(),
            "median_unit": u["median"].to_numpy(), "median_rest": r["median"].to_numpy(),
            "diff": np.asarray(w["diff"], dtype=float),
            "diff_ci_low": np.asarray(w["ci_low"], dtype=float),
            "diff_ci_high": np.asarray(w["ci_high"], dtype=float),
            "p_value": p, "p_adj": bh_adjust(p), "hedges_g": np.asarray(g, dtype=float),
            "tendency": small,
        })
        mix_u, mix_r = self._mix(is_unit), self._mix(~is_unit)
        for key in mix_u:
            out[f"{key}_unit"] = mix_u[key]
            out[f"{key}_rest"] = mix_r[key]
        out.attrs["asi"] = {
            "unit": "klienter" if selection == "latest" else "intervjuer",
            "selection": ("senaste Grund per klient i perioden" if selection == "latest"
                          else "alla Grundintervjuer i perioden") + (f" ({period})" if period else ""),
            "compared": {"column": self.unit_col, "unit": str(unit), "rest": "övriga"},
            "test": "Welch t" if test == "welch" else "Mann–Whitney U", "adjust": "Benjamini–Hochberg",
            "group_cols": [], "key_cols": ["measure"], "additive": False, "min_test_n": min_test_n,
            "clients_unit": int(is_unit.sum()), "clients_rest": int((~is_unit).sum()),
        }
        return out


class _CaseMix:
    """:func:`case_mix` of any mask of one frame: the comparisons with the codes done once."""

    def __init__(self, df: pd.DataFrame):
        self.known, self.hit = {}, {}
        for key, col, code in (("share_women", "sex", "female"), ("share_alcohol", "main_substance", "alcohol")):
            if col in df.columns:
                s = df[col]
                self.known[key] = s.notna().to_numpy()
                self.hit[key] = (s == code).fillna(False).to_numpy(dtype=bool)
        self.age = (pd.to_numeric(df["age"], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
                    if "age" in df.columns else None)
        self.order = [k for k in ("share_women", "mean_age", "share_alcohol")
                      if (k == "mean_age" and self.age is not None) or k in self.known]

    def __call__(self, mask: np.ndarray, min_cell: int = 5) -> dict:
        out = {}
        for key in self.order:
            if key == "mean_age":
                a = self.age[mask]
                out[key] = float(np.nanmean(a)) if np.isfinite(a).sum() >= min_cell else np.nan
                continue
            ok = self.known[key] & mask
            n = int(ok.sum())
            k = int((self.hit[key] & ok).sum())
            out[key] = np.nan if n == 0 or 0 < k < min_cell or 0 < n - k < min_cell else k / n
        return out


def compare_groups(frame, by, measures=None, *, method: str = "omnibus", selection: str = "latest",
                   period=None, alpha: float = 0.05, min_test_n: int = MIN_TEST_N,
                   pairwise: bool = True) -> pd.DataFrame:
    """Several groups against each other, area by area.

    Parameters
    ----------
    frame : Dataset or pandas.DataFrame
    by : str
        Grouping column (``sex``, ``age_band``, ``main_substance``, ``municipality``…).
    measures : list of str, optional
    method : {"omnibus", "one_vs_rest"}
        ``"omnibus"``: Kruskal–Wallis (rank-based) and one-way ANOVA (Welch
        is used pairwise) over the groups with at least ``min_test_n`` valid
        values, plus pairwise Welch tests (``pairwise=True``);
        ``"one_vs_rest"``: :func:`compare_one_vs_rest` for every group.
    selection, period, alpha, min_test_n
        As in :func:`compare_one_vs_rest`.
    pairwise : bool, default True

    Returns
    -------
    pandas.DataFrame
        ``omnibus``: rows with ``comparison`` = "alla grupper" (``p_kruskal``,
        ``p_anova``, ``n``, ``groups_tested``) and, when pairwise, one row per
        pair ``"a vs b"`` with ``n_a``, ``n_b``, ``mean_a``, ``mean_b``,
        ``diff``, ``p_value``; ``p_adj`` is BH over all p-values of the
        table. ``one_vs_rest``: the stacked one-vs-rest tables with a
        ``group`` column, BH over all rows.

    Notes
    -----
    Kruskal–Wallis: :func:`scipy.stats.kruskal`; ANOVA:
    :func:`scipy.stats.f_oneway`; pairwise Welch: :func:`asi_lib.stats.welch`.
    Groups under ``min_test_n`` are left out of the tests (but listed).

    Examples
    --------
    >>> g = pd.DataFrame({"client_pid": [f"c{i}" for i in range(30)],
    ...                   "interview_date": pd.to_datetime(["2024-01-01"] * 30),
    ...                   "sex": ["male", "female", "male"] * 10,
    ...                   "rating_alcohol": pd.array(list(range(10)) * 3, dtype="Int16")})
    >>> r = compare_groups(g, "sex", ["rating_alcohol"])
    >>> r["comparison"].tolist()
    ['alla grupper', 'female vs male']
    """
    if method not in ("omnibus", "one_vs_rest"):
        raise AsiInputError(f"okänd metod '{method}' (omnibus, one_vs_rest) / unknown method")
    by_ = _by_list(by)
    if len(by_) != 1:
        raise AsiInputError("compare_groups tar en grupperingskolumn / one grouping column")
    by = by_[0]
    df = select(frame, selection=selection, period=period)
    df = _ensure_scores(df, measures)
    measures = list(measures) if measures is not None else default_measures(df)
    df = _add_derived(df, [by])
    keys = df[by].astype("string")
    groups = sorted(keys.dropna().unique())
    if method == "one_vs_rest":
        parts = []
        for grp in groups:  # a handful of groups
            r = compare_one_vs_rest(df, by, grp, measures, selection="all", alpha=alpha, min_test_n=min_test_n)
            parts.append(r.assign(group=grp))
        out = pd.concat(parts, ignore_index=True)
        out.insert(0, "group", out.pop("group"))
        out["p_adj"] = bh_adjust(out["p_value"].to_numpy())
        from .publish import measure_label
        by_label = (measure_label(by, "sv"), measure_label(by, "en"))
        col_labels = {"group": by_label}
        for stat, (sv, en) in {"n": ("Antal klienter", "Clients"), "mean": ("Medelvärde", "Mean"),
                               "sd": ("Standardavvikelse", "SD"), "median": ("Median", "Median")}.items():
            col_labels[f"{stat}_unit"] = (f"{sv} (gruppen)", f"{en} (group)")
        out.attrs["asi"] = {**parts[0].attrs["asi"], "compared": {"column": by, "unit": "varje grupp", "rest": "övriga"},
                            "group_cols": [], "key_cols": ["group", "measure"],
                            # the group column holds the codes of `by`: labelled like it
                            "value_vars": {"group": by}, "column_labels": col_labels}
        return out
    vals = _values(df, measures)
    masks = {grp: (keys == grp).fillna(False).to_numpy() for grp in groups}
    rows = []
    for m in measures:  # one row per area, pairwise rows for a few groups
        samples = {grp: vals.loc[mk, m].dropna().to_numpy() for grp, mk in masks.items()}
        tested = [grp for grp, x in samples.items() if len(x) >= min_test_n]
        p_kw = p_an = np.nan
        if len(tested) >= 2:
            xs = [samples[grp] for grp in tested]
            if len(np.unique(np.concatenate(xs))) > 1:
                p_kw = st.kruskal(*xs).pvalue
                p_an = st.f_oneway(*xs).pvalue
        rows.append({"measure": m, "comparison": "alla grupper", "n": int(sum(len(x) for x in samples.values())),
                     "groups_tested": len(tested), "p_kruskal": p_kw, "p_anova": p_an,
                     "tendency": len(tested) < len(groups)})
        if pairwise:
            for i, a in enumerate(groups):
                for b in groups[i + 1:]:
                    xa, xb = samples[a], samples[b]
                    w = welch(xa.mean() if len(xa) else np.nan, xa.std(ddof=1) if len(xa) > 1 else np.nan, len(xa),
                              xb.mean() if len(xb) else np.nan, xb.std(ddof=1) if len(xb) > 1 else np.nan, len(xb),
                              alpha)
                    small = min(len(xa), len(xb)) < min_test_n
                    rows.append({"measure": m, "comparison": f"{a} vs {b}", "n_a": len(xa), "n_b": len(xb),
                                 "mean_a": xa.mean() if len(xa) else np.nan,
                                 "mean_b": xb.mean() if len(xb) else np.nan,
                                 "diff": w["diff"], "diff_ci_low": w["ci_low"], "diff_ci_high": w["ci_high"],
                                 "p_value": np.nan if small else w["p_value"],
                                 "hedges_g": hedges_g(xa.mean() if len(xa) else np.nan,
                                                      xa.std(ddof=1) if len(xa) > 1 else np.nan, len(xa),
                                                      xb.mean() if len(xb) else np.nan,
                                                      xb.std(ddof=1) if len(xb) > 1 else np.nan, len(xb)),
                                 "tendency": small})
    out = pd.DataFrame(rows)
    for c in ("n", "groups_tested", "n_a", "n_b"):
        if c in out:
            out[c] = out[c].astype("Int64")
    # BH over every p-value of the table (omnibus Kruskal–Wallis and pairwise Welch)
    pk = out["p_kruskal"].to_numpy(dtype=float)
    pw = out["p_value"].to_numpy(dtype=float) if "p_value" in out else np.full(len(out), np.nan)
    joint = np.where(np.isfinite(pk), pk, pw)
    out["p_adj"] = bh_adjust(joint)
    out.attrs["asi"] = {
        "unit": "klienter" if selection == "latest" else "intervjuer",
        "selection": ("senaste Grund per klient i perioden" if selection == "latest"
                      else "alla Grundintervjuer i perioden") + (f" ({period})" if period else ""),
        "compared": {"column": by}, "test": "Kruskal–Wallis, ANOVA; parvis Welch t",
        "adjust": "Benjamini–Hochberg", "group_cols": [], "key_cols": ["measure", "comparison"],
        "additive": False, "min_test_n": min_test_n,
    }
    return out
