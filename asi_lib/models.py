"""Change by group, adjusted (ANCOVA) and mixed models, and the naive comparison.

Which interventions "seem to work"? Groups given different interventions
differ already at baseline (residential treatment goes to the most severe),
and clients are interviewed when they are at their worst (regression to the
mean), so the naive before/after change per intervention is biased. The
adjusted model compares clients *with the same observed baseline score*:

.. math::

   c_{1} = \\beta_0 + \\beta_1 c_{0} + \\sum_k \\tau_k [\\text{insats}=k]
           + \\text{sex} + \\text{age band} + \\varepsilon

(ANCOVA; Senn 2006; Vickers & Altman 2001). ``mixed_effects`` adds a random
intercept per municipality for pooled regional data. Both remain
observational: they adjust only for what is measured.

References
----------
.. [1] Vickers, A. J. & Altman, D. G. (2001). Analysing controlled trials with
   baseline and follow up measurements. BMJ 323, 1123–1124.
.. [2] Senn, S. (2006). Change from baseline and analysis of covariance
   revisited. Stat. Med. 25, 4334–4344.
.. [3] Barnett, A. G., van der Pols, J. C. & Dobson, A. J. (2005). Regression
   to the mean: what it is and how to deal with it. Int. J. Epidemiol. 34, 215–220.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from .change import DEFAULT_AREAS, PUBLISH_META, RTM_CAVEAT, change_by_area, estimate_rci_reference
from .codebook import load_codebook
from .errors import AsiInputError

__all__ = ["change_by_group", "adjusted_effects", "mixed_effects", "naive_change", "naive_vs_adjusted",
           "unit_comparison", "propensity_overlap",
           "severity_band", "GROUP_VARS"]

GROUP_VARS = ("sex", "age_band", "main_substance", "severity_band", "municipality", "intervention", "unit",
              "housing", "baseline_source", "completed")
NONE_LABEL = {"sv": "ingen insats", "en": "no intervention"}
TERM_LABELS = {
    "sv": {"baseline": "Per 0,1 högre index vid baslinjen", "Intercept": "Konstant",
           "months": "Per månad längre tid till uppföljningen",
           "compare": "{a} jämfört med {b}"},
    "en": {"baseline": "Per 0.1 higher baseline score", "Intercept": "Intercept",
           "months": "Per month longer to the follow-up",
           "compare": "{a} compared with {b}"},
}
VAR_LABELS = {"sv": {"intervention": "Insats", "sex": "Kön", "age_band": "Åldersgrupp",
                     "main_substance": "Huvudpreparat", "municipality": "Kommun", "housing": "Boende"},
              "en": {"intervention": "Intervention", "sex": "Sex", "age_band": "Age group",
                     "main_substance": "Main substance", "municipality": "Municipality", "housing": "Housing"}}


def severity_band(pairs: pd.DataFrame, area: str, lang: str = "sv") -> pd.Series:
    """Baseline severity band of an area: the interviewer-rating band of ``rating_<area>_0``.

    Uses :func:`asi_lib.scores.rating_band` (0–1, 2–3, 4–5, 6–7, 8–9).

    Parameters
    ----------
    pairs : pandas.DataFrame
        ``Pairing.pairs`` with ``rating_<area>_0``.
    area : str
    lang : {"sv", "en"}

    Returns
    -------
    pandas.Series
        Band label per pair (missing where the rating is).

    Examples
    --------
    >>> severity_band(pd.DataFrame({"rating_alcohol_0": [1, 5, None]}), "alcohol", "en").tolist()
    ['No problem, no help needed', 'Moderate problem, some help indicated', nan]
    """
    from .scores import rating_band

    return rating_band(pairs[f"rating_{area}_0"], lang=lang)


def _cap(s: str) -> str:
    return s[:1].upper() + s[1:]


def _value_label(var: str, value, lang: str = "sv") -> str:
    if var == "intervention" and str(value) == "none":
        return NONE_LABEL[lang]
    cb = load_codebook()
    col = {"intervention": "intervention_type"}.get(var, var)
    for table in ("insatser", "grund"):
        try:
            labels = cb.labels(table, col, lang)
        except Exception:  # noqa: BLE001 - not a coded column of that table
            continue
        if str(value) in labels:
            return labels[str(value)]
    return str(value)


# --------------------------------------------------------------------------- by group
def change_by_group(pairs: pd.DataFrame, by: str, measures=("composite", "rating", "self_days"), *,
                    areas=None, include_total: bool = True, lang: str = "sv", **kw) -> pd.DataFrame:
    """Change per area and measure within each group of ``by`` (tidy).

    Parameters
    ----------
    pairs : pandas.DataFrame
        ``Pairing.pairs``.
    by : str
        A column of ``pairs`` (``sex``, ``age_band``, ``main_substance``,
        ``municipality``, ``intervention``, ...) or ``"severity_band"``
        (the area's baseline interviewer-rating band, per area).
    measures, areas, **kw
        As :func:`asi_lib.change.change_by_area`. Without ``reliability``
        the RCI reference (reliability and SD) is estimated once from all
        of ``pairs`` and used in every group
        (:func:`asi_lib.change.estimate_rci_reference`); pass a frozen
        :class:`asi_lib.change.RciReference` in a release.
    include_total : bool, default True
        Add the all-clients row (group value ``"__total__"``).

    Returns
    -------
    pandas.DataFrame
        ``group_var``, ``group`` + the columns of ``change_by_area``.

    Examples
    --------
    >>> pairs = pd.DataFrame({"client_pid": list("abcd"), "sex": ["male", "male", "female", "female"],
    ...                       "rating_alcohol_0": [6, 5, 7, 4], "rating_alcohol_1": [3, 5, 2, 4]})
    >>> change_by_group(pairs, "sex", ["rating"], areas=["alcohol"])[["group", "n", "diff"]]
           group  n  diff
    0     female  2  -2.5
    1       male  2  -1.5
    2  __total__  4  -2.0
    """
    from .publish import TOTAL

    if by != "severity_band" and by not in pairs.columns:
        raise AsiInputError(f"kolumnen '{by}' saknas i paren / column not in pairs")
    area_list = list(areas) if areas is not None else [
        a for a in DEFAULT_AREAS if any(c.startswith(f"rating_{a}_") or c.startswith(f"composite_{a}_")
                                        for c in pairs.columns)]
    if kw.get("reliability") is None:
        # one RCI reference for every group (estimated once from all pairs of the table), so that the
        # groups' shares improved are comparable; a frozen RciReference passed in wins
        kw["reliability"] = estimate_rci_reference(pairs, ("composite",), areas=area_list,
                                                   label="alla par i tabellen")
    parts = []
    for area in area_list if by == "severity_band" else [None]:
        if by == "severity_band":
            if f"rating_{area}_0" not in pairs.columns:
                continue
            key = severity_band(pairs, area, lang)
            a_list = [area]
        else:
            key = pairs[by]
            a_list = area_list
        key = key.astype("object").where(key.notna(), None)
        for g in pd.unique(key.dropna()):
            sub = pairs.loc[(key == g).to_numpy()]
            t = change_by_area(sub, measures, areas=a_list, lang=lang, **kw)
            t.insert(0, "group", str(g))
            parts.append(t)
        if include_total:
            t = change_by_area(pairs, measures, areas=a_list, lang=lang, **kw)
            t.insert(0, "group", TOTAL)
            parts.append(t)
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    if not out.empty:
        out.insert(0, "group_var", by)
        order = {g: i for i, g in enumerate(sorted(set(out["group"]) - {TOTAL}))} | {TOTAL: 10 ** 6}
        out["_o"] = out["group"].map(order)
        out = out.sort_values(["area", "measure", "_o"], kind="stable").drop(columns="_o").reset_index(drop=True)
    base = dict(pairs.attrs.get("asi", {}))
    out.attrs["asi"] = {"unit": "klienter", "group_cols": ["group"], "additive": False, **PUBLISH_META,
                        "selection": base.get("selection", "par baslinje–uppföljning"),
                        "bortfall_share": base.get("bortfall_share", np.nan),
                        "diff": "uppföljning − baslinje (negativ = förbättring)",
                        "note": "Grupperna kan skilja sig redan vid baslinjen; se adjusted_effects."}
    return out


def naive_change(pairs: pd.DataFrame, area: str, by: str = "intervention", *, alpha: float = 0.05,
                 lang: str = "sv") -> pd.DataFrame:
    """Naive before/after change of ``composite_<area>`` per group (default per intervention).

    The mean of ``c1 − c0`` per group with its paired-t CI — what a simple
    "before and after" table shows. It mixes the intervention's effect with
    regression to the mean and with differences in who gets which
    intervention; set it beside :func:`adjusted_effects`.

    Parameters
    ----------
    pairs : pandas.DataFrame
        :attr:`asi_lib.followup.Pairing.pairs`.
    area : str
    by : str, default "intervention"
        Grouping column of ``pairs``.
    alpha : float, default 0.05
    lang : {"sv", "en"}

    Returns
    -------
    pandas.DataFrame
        ``group``, ``n``, ``diff``, ``ci_low``, ``ci_high`` (and labels).

    Examples
    --------
    >>> pairs = pd.DataFrame({"client_pid": list("abcd"), "intervention": ["cra", "cra", "none", "none"],
    ...                       "composite_alcohol_0": [0.6, 0.5, 0.2, 0.3], "composite_alcohol_1": [0.3, 0.3, 0.2, 0.2]})
    >>> naive_change(pairs, "alcohol")[["group", "n", "diff"]].round(3)
       group  n  diff
    0    cra  2 -0.25
    1   none  2 -0.05
    """
    t = change_by_group(pairs, by, ["composite"], areas=[area], include_total=False, alpha=alpha, lang=lang,
                        reliability=np.nan)
    keep = ["group_var", "group", "area", "measure", "n", "n_pairs", "mean_0", "mean_1", "diff", "ci_low",
            "ci_high", "sd_diff", "p_value"]
    out = t[keep].copy()
    out["group_label"] = [_value_label(by, g, lang) for g in out["group"]]
    out["note"] = RTM_CAVEAT[lang]
    meta = {k: v for k, v in t.attrs["asi"].items() if k not in PUBLISH_META}
    out.attrs["asi"] = meta | {
        "method": "naiv före–efter: medelvärde av (uppföljning − baslinje), parat t-intervall",
        "warning": ("Naiv förändring blandar insatsens effekt med regression mot medelvärdet och med "
                    "skillnader mellan grupperna vid baslinjen.")}
    return out


# --------------------------------------------------------------------------- models
def _model_frame(pairs: pd.DataFrame, area: str, terms, extra=()) -> tuple[pd.DataFrame, str, str]:
    y, x0 = f"composite_{area}_1", f"composite_{area}_0"
    for c in (y, x0, *terms, *extra):
        if c not in pairs.columns:
            raise AsiInputError(f"kolumnen '{c}' saknas i paren / column not in pairs")
    cols = list(dict.fromkeys(["client_pid", y, x0, *terms, *extra]))
    d = pairs[[c for c in cols if c in pairs.columns]].copy()
    if "days" in pairs.columns:
        d["days"] = pd.to_numeric(pairs["days"], errors="coerce").astype("float64").fillna(-1.0)
    d[y] = pd.to_numeric(d[y], errors="coerce").astype("float64")
    d[x0] = pd.to_numeric(d[x0], errors="coerce").astype("float64")
    for t in (*terms, *extra):
        d[t] = d[t].astype("object").where(d[t].notna(), None)
    d = d.dropna().reset_index(drop=True)
    for t in (*terms, *extra):
        d[t] = d[t].astype(str)
    return d, y, x0


#: Pseudo-level of ``reference`` when each intervention is compared with all other clients.
REST = "__rest__"
REST_LABEL = {"sv": "övriga insatser (alla andra par)", "en": "the other interventions (all other pairs)"}
OTHER = "__other__"
#: Defaults of the small-sample rules (documented in docs/methods/followup.md §3).
MIN_PAIRS_LEVEL = 10
MIN_PAIRS_PER_EFFECT = 10
ESTIMATE_LABEL = {"sv": "Skillnad mot referensen vid uppföljningen (negativ = bättre)",
                  "en": "Difference from the reference at follow-up (negative = better)"}


def _reference(d: pd.DataFrame, term: str, reference, min_ref: int) -> str:
    if isinstance(reference, dict):
        reference = reference.get(term)
    elif term != "intervention":
        reference = None
    counts = d[term].value_counts()
    if reference is not None:
        if str(reference) == REST and term == "intervention":
            return REST
        if str(reference) not in counts.index:
            raise AsiInputError(f"referensen '{reference}' finns inte för {term} / reference level absent")
        return str(reference)
    if term == "intervention":
        # "no intervention" when enough pairs had none; else every intervention against all the others
        # (an active treatment as reference made the null intervention look harmful: issue 13)
        return "none" if counts.get("none", 0) >= min_ref else REST
    return str(counts.index[0])  # the most common level


def _pool_sparse(d: pd.DataFrame, terms, min_level: int, keep=()) -> dict[str, list[str]]:
    """Merge levels with fewer than ``min_level`` pairs into OTHER (no estimate is reported for them)."""
    pooled = {}
    for t in terms:
        counts = d[t].value_counts()
        small = [str(v) for v, c in counts.items() if c < min_level and str(v) not in keep]
        if small:
            d.loc[d[t].isin(small), t] = OTHER
            pooled[t] = sorted(small)
    return pooled


def _formula(y, x0, terms, refs, extra_num=()) -> str:
    rhs = [x0, *extra_num] + [f"C({t}, Treatment(reference={refs[t]!r}))" for t in terms]
    return f"{y} ~ " + " + ".join(rhs)


def _choose_cov(d: pd.DataFrame, cov_type: str | None, cluster) -> str:
    if cluster is not None and cov_type is None:
        return "cluster" if cluster else "nonrobust"
    cov_type = cov_type or "auto"
    if cov_type == "auto":
        n_cl, n = d["client_pid"].nunique(), len(d)
        # cluster-robust only when clients really repeat and there are many clusters; else HC3
        return "cluster" if (n_cl <= 0.8 * n and n_cl >= 50) else "HC3"
    if cov_type not in ("HC3", "nonrobust", "cluster"):
        raise AsiInputError(f"okänd cov_type '{cov_type}' (auto/HC3/nonrobust/cluster)")
    return cov_type


def _fit_ols(formula: str, d: pd.DataFrame, cov: str):
    import statsmodels.formula.api as smf

    model = smf.ols(formula, data=d)
    if cov == "cluster":
        return model.fit(cov_type="cluster", cov_kwds={"groups": pd.factorize(d["client_pid"])[0]}, use_t=True)
    if cov == "HC3":
        return model.fit(cov_type="HC3", use_t=True)
    return model.fit()


def _tidy(params, ci, pvals, d, x0, terms, refs, lang, area, time_col=None) -> pd.DataFrame:
    rows = []
    L = TERM_LABELS[lang]
    for name in params.index:
        est, lo, hi, p = params[name], ci.loc[name, 0], ci.loc[name, 1], pvals[name]
        if name == "Intercept":
            continue
        n_all = d["client_pid"].nunique() if "client_pid" in d else len(d)
        if name == x0:
            rows.append({"term": "baseline", "level": "", "reference": "",
                         "label": L["baseline"], "estimate": est * 0.1, "ci_low": lo * 0.1, "ci_high": hi * 0.1,
                         "p_value": p, "n": n_all})
            continue
        if time_col is not None and name == time_col:
            rows.append({"term": "months", "level": "", "reference": "", "label": L["months"],
                         "estimate": est, "ci_low": lo, "ci_high": hi, "p_value": p, "n": n_all})
            continue
        for t in terms:
            prefix = f"C({t}, Treatment(reference={refs[t]!r}))[T."
            if name.startswith(prefix):
                lev = name[len(prefix):-1]
                if lev == OTHER:
                    continue  # pooled sparse levels: no estimate
                sel = d[t] == lev
                rows.append({"term": t, "level": lev, "reference": refs[t],
                             "label": L["compare"].format(a=_cap(_value_label(t, lev, lang)),
                                                          b=_value_label(t, refs[t], lang)),
                             "estimate": est, "ci_low": lo, "ci_high": hi, "p_value": p,
                             "n": int(d.loc[sel, "client_pid"].nunique()) if "client_pid" in d else int(sel.sum())})
    out = pd.DataFrame(rows, columns=["term", "level", "reference", "label", "estimate", "ci_low", "ci_high",
                                      "p_value", "n"])
    out.insert(0, "area", area)
    return out


def _time_column(d: pd.DataFrame, pairs: pd.DataFrame, adjust_time: bool) -> str | None:
    if not adjust_time or "days" not in pairs.columns:
        return None
    if "days" not in d.columns or (d["days"] < 0).any():
        return None
    m = d["days"].to_numpy(dtype="float64") / (365.25 / 12)
    if np.nanstd(m) == 0:
        return None
    d["months_since_baseline"] = m - m.mean()  # centred: the other estimates are at the mean follow-up time
    return "months_since_baseline"


def adjusted_effects(pairs: pd.DataFrame, area: str, *, terms=("intervention", "sex", "age_band"), reference=None,
                     alpha: float = 0.05, min_reference: int = 30, cluster: bool | None = None,
                     cov_type: str | None = None, min_pairs_level: int = MIN_PAIRS_LEVEL,
                     min_pairs_per_effect: int = MIN_PAIRS_PER_EFFECT, adjust_time: bool = True,
                     lang: str = "sv") -> pd.DataFrame:
    """ANCOVA of the follow-up composite on the baseline composite and groups (OLS).

    Parameters
    ----------
    pairs : pandas.DataFrame
        ``Pairing.pairs`` with ``composite_<area>_0/_1`` and the term columns.
    area : str
    terms : sequence of str
        Categorical adjustment terms (each as treatment contrasts).
    reference : str or dict, optional
        Reference level of ``intervention`` (or a dict per term);
        ``"__rest__"`` compares each intervention with all other pairs.
        Default: ``"none"`` (no intervention) when at least ``min_reference``
        pairs had none, else ``"__rest__"`` (never an arbitrary active
        treatment); other terms: their most common level.
    alpha : float, default 0.05
    cluster : bool, optional
        Backward compatible: True = cluster-robust by client, False = classical.
    cov_type : {"auto", "HC3", "nonrobust", "cluster"}, optional
        Default ``"auto"``: cluster-robust by client (small-sample corrected,
        t with G − 1 df) only when clients repeat (clients ≤ 0.8 · pairs) and
        there are at least 50 clients; else HC3 with a t reference (nearly
        every client has one pair, and the cluster correction with normal
        intervals is far too liberal in small groups).
    min_pairs_level : int, default 10
        Levels with fewer pairs are pooled into one "other" level that is
        kept in the model but gets no estimate (listed in
        ``attrs["asi"]["pooled_levels"]``).
    min_pairs_per_effect : int, default 10
        At least this many pairs per estimated coefficient, else
        :class:`~asi_lib.errors.AsiInputError`.
    adjust_time : bool, default True
        Adjust for months since baseline (centred) when ``days`` varies.
    lang : {"sv", "en"}

    Returns
    -------
    pandas.DataFrame
        One row per model term: ``area``, ``term``, ``level``, ``reference``,
        ``label`` (e.g. "Institutionsvård / behandlingshem (HVB) jämfört med
        ingen insats"), ``estimate`` (difference in expected follow-up score
        at the same baseline score, 0–1 scale; negative = better than the
        reference), ``ci_low``, ``ci_high``, ``p_value``, ``n`` (clients in
        that level). The ``baseline`` row is per 0.1 higher baseline score,
        the ``months`` row per month longer to the follow-up.
        ``attrs["asi"]``: formula, n, R², references, cov_type, pooled levels,
        the pairing's selection and bortfall share.

    Notes
    -----
    ``composite_<area>_1 ~ composite_<area>_0 + months + C(intervention) + C(sex) + C(age_band)``
    fitted by ``statsmodels.formula.api.ols`` on complete cases. CIs and p
    from the t distribution with n − p df (HC3: MacKinnon & White 1985;
    Long & Ervin 2000). With ``reference="__rest__"`` each intervention's
    row comes from its own model with an indicator [insats = k] instead of
    ``C(intervention)``. The estimates are *conditional on the observed
    baseline score* and on the listed terms; unmeasured differences remain.

    References
    ----------
    Long JS, Ervin LH (2000). Using heteroscedasticity consistent standard
    errors in the linear regression model. Am Stat 54:217–224.
    Harrell FE (2015). Regression Modeling Strategies, 2nd ed., §4.4.

    Examples
    --------
    >>> pairs = _example_pairs()  # true effect of cra: −0.05, slope 0.5
    >>> t = adjusted_effects(pairs, "alcohol", terms=("intervention",))
    >>> t.loc[t.term == "intervention", ["label", "estimate"]].round(2).values.tolist()
    [['CRA (Community Reinforcement Approach) jämfört med ingen insats', -0.05]]
    """
    d, y, x0 = _model_frame(pairs, area, terms)
    if len(d) < len(terms) + 3:
        raise AsiInputError(f"för få par för modellen ({len(d)}) / too few pairs for the model")
    keep_ref = [str(reference)] if isinstance(reference, str) else \
        [str(v) for v in reference.values()] if isinstance(reference, dict) else []
    pooled = _pool_sparse(d, terms, min_pairs_level, keep=keep_ref)
    refs = {t: _reference(d, t, reference, min_reference) for t in terms}
    if refs.get("intervention") == OTHER:
        refs["intervention"] = REST
    tcol = _time_column(d, pairs, adjust_time)
    extra_num = (tcol,) if tcol else ()
    n_params = 1 + 1 + len(extra_num) + sum(d[t].nunique() - 1 for t in terms)
    if len(d) < min_pairs_per_effect * n_params:
        raise AsiInputError(
            f"för få par för modellen: {len(d)} par för {n_params} skattade effekter (minst {min_pairs_per_effect} "
            f"par per effekt) / too few pairs per estimated effect")
    cov = _choose_cov(d, cov_type, cluster)
    rest = refs.get("intervention") == REST
    main_refs = dict(refs)
    if rest:
        main_refs["intervention"] = str(d["intervention"].value_counts().index[0])
    formula = _formula(y, x0, terms, main_refs, extra_num)
    fit = _fit_ols(formula, d, cov)
    out = _tidy(fit.params, fit.conf_int(alpha), fit.pvalues, d, x0, terms, main_refs, lang, area, tcol)
    if rest:
        others = [t for t in terms if t != "intervention"]
        rows = []
        for lev in sorted(set(d["intervention"]) - {OTHER}):
            d["_is_level"] = (d["intervention"] == lev).astype("float64")
            f = _formula(y, x0, others, refs, (*extra_num, "_is_level"))
            fk = _fit_ols(f, d, cov)
            ci = fk.conf_int(alpha)
            sel = d["intervention"] == lev
            rows.append({"area": area, "term": "intervention", "level": lev, "reference": REST,
                         "label": TERM_LABELS[lang]["compare"].format(a=_cap(_value_label("intervention", lev, lang)),
                                                                      b=REST_LABEL[lang]),
                         "estimate": fk.params["_is_level"], "ci_low": ci.loc["_is_level", 0],
                         "ci_high": ci.loc["_is_level", 1], "p_value": fk.pvalues["_is_level"],
                         "n": int(d.loc[sel, "client_pid"].nunique())})
        out = pd.concat([out[out["term"] != "intervention"], pd.DataFrame(rows)], ignore_index=True)
        order = {t: i for i, t in enumerate(["baseline", "months", *terms])}
        out = out.sort_values("term", key=lambda s: s.map(order), kind="stable").reset_index(drop=True)
    base = dict(pairs.attrs.get("asi", {}))
    out.attrs["asi"] = {
        "unit": "klienter", "group_cols": ["term", "level"], "additive": False, "model": "OLS (ANCOVA)",
        "label_of": {"label": None}, "drop_cols": ["level", "reference"],
        "column_labels": {"label": ("Jämförelse", "Comparison"), "estimate": (ESTIMATE_LABEL["sv"],
                                                                               ESTIMATE_LABEL["en"])},
        "formula": formula, "n": int(d["client_pid"].nunique()), "n_pairs": int(len(d)),
        "r_squared": float(fit.rsquared), "references": refs, "n_params": int(n_params),
        "cov_type": {"cluster": "cluster (klient), t med G − 1 fg", "HC3": "HC3, t-fördelning",
                     "nonrobust": "klassisk OLS, t-fördelning"}[cov],
        "pooled_levels": pooled, "min_pairs_level": min_pairs_level,
        "time_adjusted": tcol is not None,
        "sign": "uppskattning = grupp − referens vid samma index vid baslinjen; negativ = bättre",
        "selection": base.get("selection", "par baslinje–uppföljning"),
        "bortfall_share": base.get("bortfall_share", np.nan),
        "interpretation": ("Skillnad i förväntat index vid uppföljningen mot referensen, för klienter med "
                           "samma index vid baslinjen (negativ = bättre). Justerar bara för det som mätts."),
    }
    return out


def mixed_effects(pairs: pd.DataFrame, area: str, *, terms=("intervention", "sex", "age_band"),
                  group: str = "municipality", reference=None, alpha: float = 0.05, min_reference: int = 30,
                  adjust_time: bool = True, lang: str = "sv") -> pd.DataFrame:
    """ANCOVA with a random intercept per municipality (statsmodels MixedLM).

    Parameters
    ----------
    group : str, default "municipality"
        Column of the random intercept (pooled regional data).
    adjust_time : bool, default True
        Adjust for months since baseline (centred), as :func:`adjusted_effects`.
    Other parameters as :func:`adjusted_effects`.

    Returns
    -------
    pandas.DataFrame
        Same columns as :func:`adjusted_effects` (Wald CIs from the REML fit)
        plus rows ``term="variance"`` for ``level=group`` (between-municipality
        variance of the intercept) and ``level="residual"``; ``attrs["asi"]``
        adds the ICC = var_group / (var_group + var_residual) and the number
        of groups.

    Notes
    -----
    :math:`c_{1ij} = \\beta_0 + u_j + \\beta_1 c_{0ij} + \\tau_k + ... + \\varepsilon_{ij}`,
    :math:`u_j \\sim N(0, \\sigma_u^2)`; REML (``MixedLM.from_formula(...).fit(reml=True)``).
    With few municipalities (< ~5–10) the variance component is poorly
    estimated; the fixed effects stay interpretable.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> n = 400
    >>> x0 = rng.uniform(0, 1, n); grp = np.where(rng.random(n) < .5, "cra", "none")
    >>> kom = rng.choice(list("ABCDEF"), n)
    >>> u = pd.Series({"A": .02, "B": -.02, "C": .01, "D": 0, "E": -.01, "F": .03})
    >>> x1 = 0.1 + 0.5 * x0 - 0.05 * (grp == "cra") + u[kom].to_numpy() + rng.normal(0, 0.01, n)
    >>> pairs = pd.DataFrame({"client_pid": np.arange(n).astype(str), "composite_alcohol_0": x0,
    ...                       "composite_alcohol_1": x1, "intervention": grp, "municipality": kom})
    >>> t = mixed_effects(pairs, "alcohol", terms=("intervention",))
    >>> t.loc[t.term == "intervention", ["level", "estimate"]].round(2).values.tolist()
    [['cra', -0.05]]
    >>> t.loc[t.term == "variance", "level"].tolist(), t.attrs["asi"]["n_groups"]
    (['municipality', 'residual'], 6)
    """
    import statsmodels.formula.api as smf

    d, y, x0 = _model_frame(pairs, area, terms, extra=(group,))
    refs = {t: _reference(d, t, reference, min_reference) for t in terms}
    if refs.get("intervention") == REST:  # one model here: the most common intervention, stated in the labels
        refs["intervention"] = str(d["intervention"].value_counts().index[0])
    tcol = _time_column(d, pairs, adjust_time)
    formula = _formula(y, x0, terms, refs, (tcol,) if tcol else ())
    n_groups = d[group].nunique()
    if n_groups < 2:
        raise AsiInputError("minst två grupper behövs för en blandad modell / need at least two groups")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = smf.mixedlm(formula, data=d, groups=d[group]).fit(reml=True)
    fe = fit.fe_params
    ci = fit.conf_int(alpha).loc[fe.index]
    out = _tidy(fe, ci, fit.pvalues.loc[fe.index], d, x0, terms, refs, lang, area, tcol)
    var_u = float(fit.cov_re.iloc[0, 0])
    var_e = float(fit.scale)
    lab = {"sv": ("Varians mellan kommuner (slumpintercept)", "Residualvarians"),
           "en": ("Variance between municipalities (random intercept)", "Residual variance")}[lang]
    extra = pd.DataFrame([
        {"area": area, "term": "variance", "level": group, "reference": "", "label": lab[0], "estimate": var_u,
         "ci_low": np.nan, "ci_high": np.nan, "p_value": np.nan, "n": int(d["client_pid"].nunique())},
        {"area": area, "term": "variance", "level": "residual", "reference": "", "label": lab[1], "estimate": var_e,
         "ci_low": np.nan, "ci_high": np.nan, "p_value": np.nan, "n": int(d["client_pid"].nunique())}])
    out = pd.concat([out, extra], ignore_index=True)
    base = dict(pairs.attrs.get("asi", {}))
    out.attrs["asi"] = {
        "unit": "klienter", "group_cols": ["term", "level"], "additive": False,
        "label_of": {"label": None}, "drop_cols": ["level", "reference"],
        "column_labels": {"label": ("Jämförelse eller varianskomponent", "Comparison or variance component")},
        "model": f"MixedLM (REML), slumpintercept per {group}", "formula": formula, "groups": group,
        "n_groups": int(n_groups), "n": int(d["client_pid"].nunique()), "n_pairs": int(len(d)),
        "var_group": var_u, "var_residual": var_e, "icc": var_u / (var_u + var_e) if var_u + var_e > 0 else np.nan,
        "references": refs, "converged": bool(getattr(fit, "converged", True)),
        "selection": base.get("selection", "par baslinje–uppföljning"),
        "bortfall_share": base.get("bortfall_share", np.nan),
    }
    return out


def naive_vs_adjusted(pairs: pd.DataFrame, area: str, *, reference=None, terms=("intervention", "sex", "age_band"),
                      lang: str = "sv", **kw) -> pd.DataFrame:
    """Per intervention: naive before/after change beside the adjusted effect.

    Parameters
    ----------
    pairs : pandas.DataFrame
        ``Pairing.pairs`` with ``composite_<area>_0/_1``, ``intervention``
        and the other term columns.
    area : str
    reference : str or dict, optional
        Reference intervention, as :func:`adjusted_effects`.
    terms : sequence of str, default ("intervention", "sex", "age_band")
        Adjustment terms of the model; must include ``"intervention"``.
    lang : {"sv", "en"}
    **kw
        Passed to :func:`adjusted_effects` (``alpha``, ``min_reference``,
        ``cluster``); the naive CIs use alpha = 0.05.

    Returns
    -------
    pandas.DataFrame
        ``intervention``, ``label``, ``n``, ``naive_diff`` (+ CI),
        ``adjusted`` (+ CI) against the reference intervention (0 for the
        reference itself, without CI). ``attrs["asi"]`` as
        :func:`adjusted_effects` plus ``reference``.

    Examples
    --------
    >>> pairs = _example_pairs()  # true effect of cra: −0.05, slope 0.5
    >>> t = naive_vs_adjusted(pairs, "alcohol", terms=("intervention",))
    >>> t[["intervention", "naive_diff", "adjusted"]].round(2)
      intervention  naive_diff  adjusted
    0          cra       -0.22     -0.05
    1         none       -0.16      0.00
    """
    nv = naive_change(pairs, area, "intervention", lang=lang)
    adj = adjusted_effects(pairs, area, terms=terms, reference=reference, lang=lang, **kw)
    ref = adj.attrs["asi"]["references"]["intervention"]
    a = adj[adj["term"] == "intervention"].set_index("level")
    out = pd.DataFrame({"intervention": nv["group"], "label": nv["group_label"], "n": nv["n"],
                        "naive_diff": nv["diff"], "naive_ci_low": nv["ci_low"], "naive_ci_high": nv["ci_high"]})
    out["adjusted"] = out["intervention"].map(a["estimate"]).where(out["intervention"] != ref, 0.0)
    out["adjusted_ci_low"] = out["intervention"].map(a["ci_low"])
    out["adjusted_ci_high"] = out["intervention"].map(a["ci_high"])
    ref_label = REST_LABEL[lang] if ref == REST else _value_label("intervention", ref, lang)
    out["reference"] = ref_label
    out["note"] = RTM_CAVEAT[lang]
    meta = {k: v for k, v in adj.attrs["asi"].items() if k not in ("column_labels", "label_of", "drop_cols")}
    out.attrs["asi"] = meta | {"group_cols": ["intervention"], "reference": ref, "caveat": RTM_CAVEAT[lang],
                               "column_labels": {
                                   "naive_diff": ("Naiv förändring (uppföljning − baslinje; negativ = bättre)",
                                                  "Naive change (follow-up − baseline; negative = better)"),
                                   "adjusted": (f"Justerad skillnad mot {ref_label} (negativ = bättre)",
                                                f"Adjusted difference from {ref_label} (negative = better)")}}
    return out


def unit_comparison(pairs: pd.DataFrame, area: str, *, by: str = "municipality",
                    terms=("sex", "age_band", "main_substance"), adjust_time: bool = True, alpha: float = 0.05,
                    few: int = 10, lang: str = "sv") -> pd.DataFrame:
    """Case-mix-adjusted follow-up outcome per unit: funnel-plot data and shrunken estimates.

    Which municipalities' (units') clients end up better or worse than
    expected from their baseline severity, age, sex and main substance —
    without ranking small units by noise.

    Parameters
    ----------
    pairs : pandas.DataFrame
        ``Pairing.pairs`` of the whole region.
    area : str
    by : str, default "municipality"
        Unit column (also ``"unit"``).
    terms : sequence of str
        Case-mix terms (categorical) besides the baseline composite (and
        months since baseline when ``adjust_time``); absent columns are skipped.
    alpha : float, default 0.05
    few : int, default 10
        Units with fewer clients get ``tendency = True``.
    lang : {"sv", "en"}

    Returns
    -------
    pandas.DataFrame
        One row per unit: ``group``, ``n``, ``n_pairs``, ``observed``
        (mean follow-up), ``expected`` (mean predicted from the case mix),
        ``excess`` = observed − expected (negative = better than expected),
        ``se``, ``ci_low``, ``ci_high``, the funnel limits ``limit95_low/high``
        and ``limit998_low/high`` around 0 for this n, ``outside95``,
        ``outside998``, ``shrunken`` (the random-intercept BLUP),
        ``shrinkage`` (its weight λ), ``tendency``.
        ``attrs["asi"]``: residual SD, between-unit variance, formula.

    Notes
    -----
    *Indirect standardisation*: OLS without the unit,
    :math:`c_1 = \\beta_0 + \\beta_1 c_0 + \\text{months} + \\text{case mix} + \\varepsilon`;
    expected :math:`\\hat c_1`; per unit :math:`E_j = \\bar c_{1j} - \\bar{\\hat c}_{1j}`,
    :math:`SE_j = \\hat\\sigma_e/\\sqrt{n_j}` (pooled residual SD, df n − p).
    *Funnel plot* (Spiegelhalter 2005): control limits :math:`0 \\pm z\\,\\hat\\sigma_e/\\sqrt{n}`,
    z = 1.96 (95 %) and 3.09 (99.8 %), as a function of n.
    *Shrunken estimates*: the same fixed effects with a random intercept
    :math:`u_j \\sim N(0, \\sigma_u^2)` per unit (statsmodels ``MixedLM``,
    REML); the BLUP :math:`\\hat u_j = \\lambda_j \\bar r_j`,
    :math:`\\lambda_j = \\sigma_u^2/(\\sigma_u^2 + \\sigma_e^2/n_j)`, with
    :math:`\\bar r_j` the unit's mean residual from the fixed part. Small
    units are pulled towards 0 (the regional average).

    References
    ----------
    Spiegelhalter DJ (2005). Funnel plots for comparing institutional
    performance. Stat Med 24:1185–1202.
    Normand S-LT, Glickman ME, Gatsonis CA (1997). Statistical methods for
    profiling providers of medical care. JASA 92:803–814.

    Examples
    --------
    >>> t = unit_comparison(_example_units(), "alcohol", terms=())
    >>> t[["group", "n_pairs"]].values.tolist()[:2]
    [['A', 100], ['B', 100]]
    >>> bool((t["shrunken"].abs() <= t["excess"].abs() + 1e-9).all())
    True
    """
    import statsmodels.formula.api as smf

    terms = tuple(t for t in terms if t in pairs.columns)
    d, y, x0 = _model_frame(pairs, area, terms, extra=(by,))
    if d[by].nunique() < 2:
        raise AsiInputError("minst två enheter behövs / need at least two units")
    tcol = _time_column(d, pairs, adjust_time)
    extra_num = (tcol,) if tcol else ()
    refs = {t: str(d[t].value_counts().index[0]) for t in terms}
    formula = _formula(y, x0, terms, refs, extra_num)
    fit = smf.ols(formula, data=d).fit()
    d["_expected"] = fit.fittedvalues
    sigma = float(np.sqrt(fit.scale))
    g = d.groupby(by, sort=True)
    out = pd.DataFrame({"n": g["client_pid"].nunique(), "n_pairs": g.size(), "observed": g[y].mean(),
                        "expected": g["_expected"].mean()})
    out["excess"] = out["observed"] - out["expected"]
    out["se"] = sigma / np.sqrt(out["n_pairs"])
    from scipy import stats as st

    tq = st.t.ppf(1 - alpha / 2, fit.df_resid)
    out["ci_low"], out["ci_high"] = out["excess"] - tq * out["se"], out["excess"] + tq * out["se"]
    for name, z in (("95", st.norm.ppf(0.975)), ("998", st.norm.ppf(0.999))):
        out[f"limit{name}_low"], out[f"limit{name}_high"] = -z * out["se"], z * out["se"]
        out[f"outside{name}"] = (out["excess"] < out[f"limit{name}_low"]) | (out["excess"] > out[f"limit{name}_high"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mfit = smf.mixedlm(formula, data=d, groups=d[by]).fit(reml=True)
    re = pd.Series({k: float(np.asarray(v)[0]) for k, v in mfit.random_effects.items()})
    var_u, var_e = float(mfit.cov_re.iloc[0, 0]), float(mfit.scale)
    out["shrunken"] = re.reindex(out.index)
    out["shrinkage"] = var_u / (var_u + var_e / out["n_pairs"]) if var_u > 0 else 0.0
    out["tendency"] = out["n"] < few
    out = out.reset_index().rename(columns={by: "group"})
    out["group"] = out["group"].astype(str)
    base = dict(pairs.attrs.get("asi", {}))
    out.attrs["asi"] = {
        "unit": "klienter", "group_cols": ["group"], "additive": False, "group_var": by, "tendency_cols": ["n"],
        "formula": formula, "sigma_residual": sigma, "var_between": var_u, "var_residual": var_e,
        "n_pairs": int(len(d)), "area": area,
        "selection": base.get("selection", "par baslinje–uppföljning"),
        "bortfall_share": base.get("bortfall_share", np.nan),
        "column_labels": {"excess": ("Observerat − förväntat vid uppföljningen (negativ = bättre)",
                                     "Observed − expected at follow-up (negative = better)"),
                          "shrunken": ("Krympt skattning (slumpintercept; negativ = bättre)",
                                       "Shrunken estimate (random intercept; negative = better)")},
        "interpretation": ("Förväntat = vad klienternas index vid baslinjen, kön, ålder, huvudpreparat och tid till "
                           "uppföljningen förutsäger i regionen. Enheter innanför trattens gränser skiljer sig inte "
                           "mer än slumpen ger; den krympta skattningen drar små enheter mot regionens medel."),
    }
    return out


def propensity_overlap(pairs: pd.DataFrame, area: str, *, by: str = "intervention",
                       covariates=("sex", "age_band", "main_substance"), min_pairs: int = MIN_PAIRS_LEVEL,
                       lang: str = "sv") -> pd.DataFrame:
    """Propensity-score overlap per intervention (each against all other pairs), with a warning.

    Before comparing interventions: do the clients given an intervention
    resemble those given others on the baseline? Where they do not, any
    adjusted comparison extrapolates.

    Parameters
    ----------
    pairs : pandas.DataFrame
        ``Pairing.pairs`` with ``composite_<area>_0``, ``by`` and the covariates.
    area : str
        Area whose baseline composite enters the score.
    by : str, default "intervention"
    covariates : sequence of str
        Categorical baseline covariates (absent ones skipped).
    min_pairs : int, default 10
        Levels with fewer pairs get no row.
    lang : {"sv", "en"}

    Returns
    -------
    pandas.DataFrame
        Per level: ``group``, ``n``, ``n_pairs``, ``n_pairs_rest``, quantiles
        (``ps_p05``, ``ps_median``, ``ps_p95``) of the score in the group and
        in the rest (``rest_p05``, ...), ``support_share`` (share of the
        group within the rest's score range), ``rubin_b``, ``rubin_r``,
        ``poor_overlap`` and ``note``.

    Notes
    -----
    One-vs-rest logistic model :math:`\\operatorname{logit} P(T=k \\mid x) = x'\\gamma`
    (statsmodels ``Logit``; x = baseline composite + dummies). On the linear
    predictor (logit of the score) :math:`\\ell`: Rubin's
    :math:`B = (\\bar\\ell_1 - \\bar\\ell_0)/\\sqrt{(s_1^2+s_0^2)/2}` and
    :math:`R = s_1^2/s_0^2`; overlap is poor when :math:`|B| > 0.5` or R is
    outside [0.5, 2] (Rubin 2001), or fewer than 90 % of the group lie
    within the range of the others' scores (common support).

    References
    ----------
    Rubin DB (2001). Using propensity scores to help design observational
    studies. Health Serv Outcomes Res Methodol 2:169–188.
    Austin PC (2011). An introduction to propensity score methods for
    reducing the effects of confounding in observational studies.
    Multivariate Behav Res 46:399–424.

    Examples
    --------
    >>> t = propensity_overlap(_example_pairs(), "alcohol", covariates=())
    >>> t[["group", "poor_overlap"]].values.tolist()
    [['cra', False], ['none', False]]
    """
    import statsmodels.api as sm

    covariates = tuple(c for c in covariates if c in pairs.columns)
    x0 = f"composite_{area}_0"
    cols = ["client_pid", x0, by, *covariates]
    for c in cols:
        if c not in pairs.columns:
            raise AsiInputError(f"kolumnen '{c}' saknas i paren / column not in pairs")
    d = pairs[cols].copy()
    d[x0] = pd.to_numeric(d[x0], errors="coerce").astype("float64")
    d = d.dropna().reset_index(drop=True)
    parts = [pd.Series(1.0, index=d.index, name="const"), d[x0]]
    for c in covariates:
        parts.append(pd.get_dummies(d[c].astype(str), prefix=c, drop_first=True, dtype="float64"))
    X = pd.concat(parts, axis=1)
    X = X.loc[:, (X.std(ddof=0) > 0) | (X.columns == "const")].to_numpy(dtype="float64")
    key = d[by].astype(str).to_numpy()
    counts = pd.Series(key).value_counts()
    rows = []
    for lev in sorted(counts.index[counts >= min_pairs]):
        t = (key == lev).astype("float64")
        if t.sum() == len(t):
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                fit = sm.Logit(t, X).fit(disp=0, method="newton", maxiter=100)
                lin = X @ np.asarray(fit.params)
            except Exception:  # noqa: BLE001 - (quasi-)separation: overlap is poor by definition
                lin = np.where(t == 1, np.inf, -np.inf)
        with np.errstate(over="ignore"):
            ps = 1.0 / (1.0 + np.exp(-lin))
        g, r = t == 1, t == 0
        l1, l0 = lin[g], lin[r]
        with np.errstate(invalid="ignore"):
            b = (l1.mean() - l0.mean()) / np.sqrt((l1.var(ddof=1) + l0.var(ddof=1)) / 2)
            ratio = l1.var(ddof=1) / l0.var(ddof=1)
        support = float(((ps[g] >= ps[r].min()) & (ps[g] <= ps[r].max())).mean())
        poor = bool(not np.isfinite(b) or abs(b) > 0.5 or not (0.5 <= ratio <= 2) or support < 0.9)
        q1, q0 = np.percentile(ps[g], [5, 50, 95]), np.percentile(ps[r], [5, 50, 95])
        note = ""
        if poor:
            note = (f"Dålig överlappning: klienterna med {_value_label(by, lev, lang)} liknar inte övriga vid "
                    "baslinjen; en justerad jämförelse bygger på antaganden utanför data." if lang == "sv" else
                    f"Poor overlap: clients with {_value_label(by, lev, lang)} do not resemble the others at "
                    "baseline; an adjusted comparison extrapolates.")
        rows.append({"group": lev, "group_label": _value_label(by, lev, lang),
                     "n": int(d.loc[g, "client_pid"].nunique()), "n_pairs": int(g.sum()),
                     "n_pairs_rest": int(r.sum()), "ps_p05": q1[0], "ps_median": q1[1], "ps_p95": q1[2],
                     "rest_p05": q0[0], "rest_median": q0[1], "rest_p95": q0[2], "support_share": support,
                     "rubin_b": float(b), "rubin_r": float(ratio), "poor_overlap": poor, "note": note})
    out = pd.DataFrame(rows)
    base = dict(pairs.attrs.get("asi", {}))
    out.attrs["asi"] = {
        "unit": "klienter", "group_cols": ["group"], "additive": False, "tendency_cols": ["n"],
        "soft_count_cols": ["n_pairs_rest"], "group_var": by,
        "selection": base.get("selection", "par baslinje–uppföljning"),
        "bortfall_share": base.get("bortfall_share", np.nan),
        "model": "logistisk regression (en mot övriga) på " + ", ".join([f"index {area} vid baslinjen", *covariates]),
        "method": "Rubins B och R på logit av propensity score (Rubin 2001); gemensamt stöd ≥ 90 %"}
    return out


def _example_units(n: int = 300) -> pd.DataFrame:  # doctest helper: three units, C 0.05 worse than expected
    rng = np.random.default_rng(2)
    x0 = rng.uniform(0, 1, n)
    unit = np.repeat(["A", "B", "C"], n // 3)
    x1 = 0.1 + 0.5 * x0 + 0.05 * (unit == "C") + rng.normal(0, 0.05, n)
    return pd.DataFrame({"client_pid": np.arange(n).astype(str), "composite_alcohol_0": x0,
                         "composite_alcohol_1": x1, "municipality": unit})


def _example_pairs(n: int = 400) -> pd.DataFrame:  # doctest helper: follow-up = 0.1 + 0.5·baseline − 0.05·cra
    rng = np.random.default_rng(0)
    x0 = rng.uniform(0, 1, n)
    grp = np.where(rng.random(n) < .5, "cra", "none")
    x1 = 0.1 + 0.5 * x0 - 0.05 * (grp == "cra") + rng.normal(0, 0.01, n)
    return pd.DataFrame({"client_pid": np.arange(n).astype(str), "composite_alcohol_0": x0,
                         "composite_alcohol_1": x1, "intervention": grp})
