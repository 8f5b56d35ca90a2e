"""Precision and power for follow-up (paired) comparisons.

"With the clients we have followed up, how large a change could we see at
all?" and "how many follow-ups do we need to see a change of a given size?"
— for one municipality with its current number of pairs, and pooled with the
region. Paired design: the test is a one-sample t-test on the differences
``d = follow-up − baseline``; the standardised change is
:math:`d_z = \\Delta / SD(d)`.

References
----------
.. [1] Cohen, J. (1988). Statistical Power Analysis for the Behavioral
   Sciences, 2nd ed. Erlbaum.
.. [2] Guenther, W. C. (1981). Sample size formulas for normal theory T
   tests. Am. Stat. 35(4), 243–244 (the z²/2 small-sample correction).
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats as st

from .change import DEFAULT_AREAS, _num, measure_column
from .codebook import load_codebook
from .errors import AsiInputError

__all__ = ["detectable_change", "required_n", "ci_halfwidth", "precision_table", "ancova_power",
           "ancova_required_n", "ancova_detectable_difference", "comparison_precision_table", "QUESTIONS"]

#: Which question each precision figure answers, in plain Swedish (and English).
QUESTIONS = {
    "sv": {"change": ("Fråga: har klienternas situation förändrats sedan baslinjen? Svarar inte på om "
                      "insatsen hjälpte – en stor del av förändringen kan vara regression mot medelvärdet."),
           "compare": ("Fråga: skiljer sig resultatet vid uppföljningen mellan {g} och {o}, för klienter "
                       "med samma utgångsläge (justerat för index vid baslinjen)?")},
    "en": {"change": ("Question: has the clients' situation changed since baseline? Does not say whether the "
                      "intervention helped – much of the change can be regression to the mean."),
           "compare": ("Question: does the follow-up result differ between {g} and {o}, for clients with the "
                       "same starting point (adjusted for the baseline score)?")},
}

REGION = "__total__"


def _solver():
    from statsmodels.stats.power import TTestPower

    return TTestPower()


def ci_halfwidth(sd_diff: float, n: int, alpha: float = 0.05) -> float:
    """Half-width of the paired-t CI of the mean change: :math:`t_{1-\\alpha/2,n-1}\\,SD/\\sqrt n`.

    Parameters
    ----------
    sd_diff : float
        SD of the paired changes.
    n : int
        Number of pairs (NaN below 2).
    alpha : float, default 0.05

    Returns
    -------
    float

    Examples
    --------
    >>> round(ci_halfwidth(0.2, 25), 4)
    0.0826
    """
    if n < 2 or not np.isfinite(sd_diff):
        return np.nan
    return float(st.t.ppf(1 - alpha / 2, n - 1) * sd_diff / math.sqrt(n))


def detectable_change(sd_diff: float, n: int, *, alpha: float = 0.05, power: float = 0.8) -> tuple[float, float]:
    """Smallest true mean change detectable with the given power (two-sided paired t).

    Parameters
    ----------
    sd_diff : float
        SD of the paired differences.
    n : int
        Number of pairs.
    alpha, power : float

    Returns
    -------
    (change, dz) : tuple of float
        In score units (``dz · sd_diff``) and standardised. NaN when n < 2.

    Notes
    -----
    Solves :math:`1-\\beta = P(|T'| > t_{1-\\alpha/2,n-1})`, :math:`T' \\sim
    t_{n-1}(d_z\\sqrt n)` for :math:`d_z` with statsmodels
    ``TTestPower().solve_power``. Roughly
    :math:`d_z \\approx (z_{1-\\alpha/2}+z_{1-\\beta})/\\sqrt{n - z_{1-\\alpha/2}^2/2}`.

    Examples
    --------
    >>> change, dz = detectable_change(0.2, 34)
    >>> round(dz, 2), round(change, 3)
    (0.5, 0.1)
    """
    if n < 2 or not np.isfinite(sd_diff):
        return (np.nan, np.nan)
    # statsmodels returns a 1-element array when its root finder falls back to fsolve (e.g. n = 1236)
    dz = float(np.asarray(_solver().solve_power(effect_size=None, nobs=n, alpha=alpha, power=power,
                                                alternative="two-sided")).item())
    return (dz * sd_diff, dz)


def required_n(change: float | None = None, *, sd_diff: float | None = None, dz: float | None = None,
               alpha: float = 0.05, power: float = 0.8) -> int:
    """Number of pairs (follow-ups) needed to detect a change.

    Parameters
    ----------
    change : float, optional
        True mean change in score units (sign ignored); needs ``sd_diff``.
    dz : float, optional
        Standardised change instead (``change / sd_diff``).

    Returns
    -------
    int
        Smallest whole n with at least the requested power (ceil of the
        statsmodels solution), at least 2.

    Notes
    -----
    Normal approximation with the small-t correction (Guenther 1981):
    :math:`n \\approx ((z_{1-\\alpha/2}+z_{1-\\beta})/d_z)^2 + z_{1-\\alpha/2}^2/2`.

    Examples
    --------
    >>> required_n(dz=0.5), required_n(0.05, sd_diff=0.2)
    (34, 128)
    """
    if dz is None:
        if change is None or sd_diff is None:
            raise AsiInputError("ange change och sd_diff, eller dz / give change and sd_diff, or dz")
        if not sd_diff > 0:
            raise AsiInputError("sd_diff måste vara > 0 / sd_diff must be > 0")
        dz = change / sd_diff
    dz = abs(float(dz))
    if dz == 0:
        raise AsiInputError("förändringen måste vara skild från 0 / change must be non-zero")
    n = _solver().solve_power(effect_size=dz, nobs=None, alpha=alpha, power=power, alternative="two-sided")
    return max(2, int(math.ceil(float(np.asarray(n).item()) - 1e-9)))


def ancova_power(difference: float, n1, n2=None, *, sd: float, rho: float, alpha: float = 0.05):
    """Power of the ANCOVA comparison of two groups' follow-up scores (baseline as covariate).

    Parameters
    ----------
    difference : float
        True difference between the groups at follow-up, same baseline (score units).
    n1, n2 : int or array-like
        Pairs per group (``n2`` default ``n1``).
    sd : float
        SD of the follow-up score (within group).
    rho : float
        Correlation between baseline and follow-up score.
    alpha : float, default 0.05

    Returns
    -------
    float or numpy.ndarray

    Notes
    -----
    Residual SD :math:`\\sigma_e = \\sigma\\sqrt{1-\\rho^2}`; the estimate's SE
    :math:`\\sigma_e\\sqrt{1/n_1+1/n_2}`; power
    :math:`P(|T'| > t_{1-\\alpha/2,\\nu})` with :math:`T' \\sim t_\\nu(\\lambda)`,
    :math:`\\lambda = \\Delta/(\\sigma_e\\sqrt{1/n_1+1/n_2})`, :math:`\\nu = n_1+n_2-3`
    (one df for the covariate). Borm, Fransen & Lemmens (2007): ANCOVA needs
    :math:`(1-\\rho^2)` times the pairs of a t-test on follow-up scores.

    References
    ----------
    Borm GF, Fransen J, Lemmens WA (2007). A simple sample size formula for
    analysis of covariance in randomized clinical trials. J Clin Epidemiol 60:1234–1238.

    Examples
    --------
    >>> round(float(ancova_power(0.05, 190, sd=0.2, rho=0.5)), 3)
    0.801
    """
    n1 = np.asarray(n1, dtype=np.float64)
    n2 = n1 if n2 is None else np.asarray(n2, dtype=np.float64)
    se = sd * np.sqrt(1.0 - rho * rho) * np.sqrt(1.0 / n1 + 1.0 / n2)
    df = n1 + n2 - 3
    with np.errstate(invalid="ignore", divide="ignore"):
        lam = abs(difference) / se
        crit = st.t.ppf(1 - alpha / 2, df)
        pw = st.nct.sf(crit, df, lam) + st.nct.cdf(-crit, df, lam)
        pw = np.where(np.isnan(pw) & (lam > crit + 8), 1.0, pw)  # scipy's nct gives NaN far in the tail
    pw = np.where(df >= 1, pw, np.nan)
    return float(pw) if pw.ndim == 0 else pw


def ancova_required_n(difference: float, *, sd: float, rho: float, alpha: float = 0.05, power: float = 0.8,
                      ratio: float = 1.0, max_n: int = 1_000_000) -> int:
    """Pairs in group 1 (group 2: ``ratio`` times as many) to detect a difference with ANCOVA.

    Parameters
    ----------
    difference : float
        Difference at follow-up for the same baseline (score units, sign ignored).
    sd, rho, alpha
        As :func:`ancova_power`.
    power : float, default 0.8
    ratio : float, default 1.0
        ``n2 / n1`` (e.g. one municipality against the rest of the region).

    Returns
    -------
    int
        Smallest ``n1`` with :func:`ancova_power` ≥ ``power`` (bisection on the
        monotone exact power).

    Notes
    -----
    Close to :math:`n_1 \\approx (1+1/r)(z_{1-\\alpha/2}+z_{1-\\beta})^2\\sigma^2(1-\\rho^2)/\\Delta^2`.

    Examples
    --------
    >>> ancova_required_n(0.05, sd=0.2, rho=0.5)
    190
    """
    if not difference or not sd > 0 or not -1 < rho < 1:
        raise AsiInputError("difference ≠ 0, sd > 0 och −1 < rho < 1 krävs / invalid inputs")
    lo, hi = 2, 2
    while ancova_power(difference, hi, max(2.0, ratio * hi), sd=sd, rho=rho, alpha=alpha) < power:
        lo, hi = hi, hi * 2
        if hi > max_n:
            raise AsiInputError("fler än max_n par behövs / more than max_n pairs needed")
    while lo < hi:  # smallest n with enough power
        mid = (lo + hi) // 2
        if ancova_power(difference, mid, max(2.0, ratio * mid), sd=sd, rho=rho, alpha=alpha) >= power:
            hi = mid
        else:
            lo = mid + 1
    return int(lo)


def ancova_detectable_difference(n1: int, n2: int, *, sd: float, rho: float, alpha: float = 0.05,
                                 power: float = 0.8) -> tuple[float, float]:
    """CI half-width and smallest detectable difference between two groups (ANCOVA).

    Parameters
    ----------
    n1, n2 : int
    sd, rho, alpha, power
        As :func:`ancova_power`.

    Returns
    -------
    (halfwidth, difference) : tuple of float
        ``t(1−α/2, ν)·SE`` and the difference with the requested power
        (root of :func:`ancova_power`). NaN when ``n1 + n2 < 4``.

    Examples
    --------
    >>> hw, d = ancova_detectable_difference(160, 160, sd=0.2, rho=0.5)
    >>> round(hw, 3), round(d, 3)
    (0.038, 0.054)
    """
    if n1 < 2 or n2 < 2 or n1 + n2 < 4 or not sd > 0:
        return (np.nan, np.nan)
    se = sd * math.sqrt(1 - rho * rho) * math.sqrt(1 / n1 + 1 / n2)
    hw = float(st.t.ppf(1 - alpha / 2, n1 + n2 - 3) * se)
    f = lambda d: ancova_power(d, n1, n2, sd=sd, rho=rho, alpha=alpha) - power  # noqa: E731
    from scipy import optimize

    top = (st.norm.ppf(1 - alpha / 2) + st.norm.ppf(power) + 3.0) * se
    return hw, float(optimize.brentq(f, 1e-9 * se, top, xtol=1e-12))


def comparison_precision_table(pairs: pd.DataFrame, *, by: str = "municipality", area: str = "alcohol",
                               target_difference: float = 0.05, alpha: float = 0.05, power: float = 0.8,
                               few: int = 10, lang: str = "sv") -> pd.DataFrame:
    """Precision for comparing each group with the others (ANCOVA on the composite), in plain Swedish.

    Answers "can we tell whether {group}'s clients do better or worse than
    the others', for the same starting point?" — not "did they change?"
    (that is :func:`precision_table`).

    Parameters
    ----------
    pairs : pandas.DataFrame
        ``Pairing.pairs`` of the whole region (``composite_<area>_0/_1``).
    by : str, default "municipality"
        Group column (also ``"intervention"``).
    area : str, default "alcohol"
    target_difference : float, default 0.05
        Difference at follow-up to plan for (composite units).
    alpha, power : float
    few : int, default 10
        Groups with fewer clients get no numbers in the text.
    lang : {"sv", "en"}

    Returns
    -------
    pandas.DataFrame
        ``group``, ``n`` (clients), ``n_pairs``, ``n_pairs_rest`` (pairs of the
        others), ``sd`` (follow-up SD, region), ``rho`` (baseline–follow-up
        correlation, region), ``ci_halfwidth``, ``min_detectable_difference``,
        ``target_difference``, ``n_needed_equal`` (pairs per group, two equal
        groups), ``n_needed_vs_rest`` (pairs of this group against the
        others as they are), ``question`` and ``text``.

    Notes
    -----
    :func:`ancova_detectable_difference` with the region's SD of the
    follow-up score and baseline–follow-up correlation (one pooled estimate,
    so small groups are not judged by their own noisy SD).

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> x0 = rng.uniform(0.2, 0.6, 400)
    >>> pairs = pd.DataFrame({"client_pid": np.arange(400).astype(str), "municipality": np.repeat(list("AB"), 200),
    ...                       "composite_alcohol_0": x0, "composite_alcohol_1": 0.5 * x0 + rng.normal(0, 0.1, 400)})
    >>> comparison_precision_table(pairs)[["group", "n_pairs", "n_pairs_rest"]].values.tolist()
    [['A', 200, 200], ['B', 200, 200]]
    """
    if by not in pairs.columns:
        raise AsiInputError(f"kolumnen '{by}' saknas / column not in pairs")
    x0 = _num(pairs[f"composite_{area}_0"])
    x1 = _num(pairs[f"composite_{area}_1"])
    ok = ~(np.isnan(x0) | np.isnan(x1))
    if ok.sum() < 4:
        raise AsiInputError("för få par / too few pairs")
    sd = float(x1[ok].std(ddof=1))
    rho = float(np.corrcoef(x0[ok], x1[ok])[0, 1])
    key = pairs[by].astype("object").to_numpy()
    rows = []
    Q = QUESTIONS[lang]
    other = "övriga" if lang == "sv" else "the others"
    n_eq = ancova_required_n(target_difference, sd=sd, rho=rho, alpha=alpha, power=power) \
        if sd > 0 and abs(rho) < 1 else np.nan
    for g in sorted(pd.unique(key[ok & pd.notna(key)]), key=str):
        sel = ok & (key == g)
        n1, n2 = int(sel.sum()), int((ok & ~(key == g)).sum())
        n_cl = int(pairs.loc[sel, "client_pid"].nunique()) if "client_pid" in pairs.columns else n1
        hw, mdd = ancova_detectable_difference(n1, n2, sd=sd, rho=rho, alpha=alpha, power=power)
        try:
            n_rest = ancova_required_n(target_difference, sd=sd, rho=rho, alpha=alpha, power=power,
                                       ratio=n2 / max(n1, 1)) if n2 > 0 else np.nan
        except AsiInputError:
            n_rest = np.nan
        rows.append({"group": str(g), "area": area, "n": n_cl, "n_pairs": n1, "n_pairs_rest": n2, "sd": sd, "rho": rho,
                     "ci_halfwidth": hw, "min_detectable_difference": mdd, "target_difference": target_difference,
                     "n_needed_equal": n_eq, "n_needed_vs_rest": n_rest,
                     "question": Q["compare"].format(g=g, o=other),
                     "text": _compare_sentence(n_cl, n2, hw, mdd, target_difference, n_eq, power, lang, few)})
    out = pd.DataFrame(rows)
    if not out.empty:
        for c in ("n_needed_equal", "n_needed_vs_rest"):
            out[c] = out[c].astype("Float64").round().astype("Int64")
    base = dict(pairs.attrs.get("asi", {}))
    out.attrs["asi"] = {"unit": "klienter", "group_cols": ["group"], "additive": False, "group_var": by,
                        "count_cols": ["n", "n_pairs", "n_pairs_rest", "n_needed_equal", "n_needed_vs_rest"],
                        "soft_count_cols": ["n_needed_equal", "n_needed_vs_rest", "n_pairs_rest"],
                        "tendency_cols": ["n"], "alpha": alpha, "power": power,
                        "selection": base.get("selection", "par baslinje–uppföljning"),
                        "bortfall_share": base.get("bortfall_share", np.nan),
                        "method": ("ANCOVA (index vid uppföljningen justerat för baslinjen), exakt icke-central t; "
                                   "SD och korrelation för hela regionen (Borm m.fl. 2007)")}
    return out


def _compare_sentence(n, n_rest, hw, mdd, target, n_eq, power, lang, few) -> str:
    if n < few or not np.isfinite(mdd):
        return (f"Färre än {few} uppföljda klienter: endast tendenser, ingen jämförelse möjlig."
                if lang == "sv" else f"Fewer than {few} clients followed up: tendencies only.")
    pct = int(round(power * 100))
    if lang == "sv":
        s = (f"Med {n} uppföljda klienter mot {n_rest} par hos övriga är skillnaden osäker med ±{_fmt(hw, lang)}; "
             f"en verklig skillnad på minst {_fmt(mdd, lang)} upptäcks med {pct} % sannolikhet.")
        if np.isfinite(n_eq):
            s += f" För att upptäcka {_fmt(target, lang)} mellan två lika stora grupper behövs cirka {int(n_eq)} par per grupp."
        return s
    s = (f"With {n} clients followed up against {n_rest} pairs of the others the difference is uncertain by "
         f"±{_fmt(hw, lang)}; a true difference of at least {_fmt(mdd, lang)} is detected with {pct}% probability.")
    if np.isfinite(n_eq):
        s += f" About {int(n_eq)} pairs per group are needed to detect {_fmt(target, lang)} between two equal groups."
    return s


def precision_table(pairs: pd.DataFrame, *, by: str | None = "municipality", measure: str = "composite",
                    areas=None, target_change: float | None = None, alpha: float = 0.05, power: float = 0.8,
                    include_region: bool = True, lang: str = "sv") -> pd.DataFrame:
    """Precision guidance per group (e.g. municipality) and pooled region, per area.

    Parameters
    ----------
    pairs : pandas.DataFrame
        ``Pairing.pairs``.
    by : str or None, default "municipality"
        Group column; None → the region only.
    measure : str, default "composite"
    areas : sequence of str, optional
    target_change : float, optional
        Change (score units) to plan for; default 0.05 for composites, 1 for
        interviewer ratings, 3 days for self-rated days.
    alpha, power : float
    include_region : bool, default True
        Add the pooled row (group ``"__total__"``), whose SD of differences
        is also used for groups with fewer than 10 pairs (their own SD is
        too unstable).

    Returns
    -------
    pandas.DataFrame
        ``group``, ``area``, ``measure``, ``n`` (clients), ``n_pairs``,
        ``sd_diff``, ``sd_source``, ``ci_halfwidth`` (± of the mean change),
        ``min_detectable_change`` and ``min_detectable_dz`` (power, alpha),
        ``target_change``, ``n_needed`` (pairs to detect the target change)
        and ``text`` (a plain-language sentence).

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> pairs = pd.DataFrame({"client_pid": [str(i) for i in range(40)], "municipality": ["A"] * 40,
    ...                       "composite_alcohol_0": rng.uniform(0.2, 0.6, 40)})
    >>> pairs["composite_alcohol_1"] = pairs["composite_alcohol_0"] - 0.05 + rng.normal(0, 0.1, 40)
    >>> t = precision_table(pairs, areas=["alcohol"], include_region=False)
    >>> int(t.loc[0, "n_pairs"]), bool(t.loc[0, "min_detectable_change"] > t.loc[0, "ci_halfwidth"])
    (40, True)
    """
    cb = load_codebook()
    defaults = {"composite": 0.05, "rating": 1.0, "self_days": 3.0}
    target = target_change if target_change is not None else defaults.get(measure, np.nan)
    area_list = list(areas) if areas is not None else [
        a for a in DEFAULT_AREAS if f"{measure_column(measure, a)}_0" in pairs.columns]
    groups: list[tuple[str, pd.DataFrame]] = []
    if by is not None:
        if by not in pairs.columns:
            raise AsiInputError(f"kolumnen '{by}' saknas / column not in pairs")
        key = pairs[by].astype("object")
        for g in sorted(pd.unique(key.dropna()), key=str):
            groups.append((str(g), pairs.loc[(key == g).to_numpy()]))
    if include_region or by is None:
        groups.append((REGION, pairs))
    rows = []
    for area in area_list:
        col = measure_column(measure, area)
        d_all = _num(pairs[f"{col}_1"]) - _num(pairs[f"{col}_0"])
        d_all = d_all[~np.isnan(d_all)]
        sd_region = float(d_all.std(ddof=1)) if d_all.size >= 2 else np.nan
        for g, sub in groups:
            d = _num(sub[f"{col}_1"]) - _num(sub[f"{col}_0"])
            ok = ~np.isnan(d)
            n_pairs = int(ok.sum())
            n_cl = int(sub.loc[ok, "client_pid"].nunique()) if "client_pid" in sub.columns else n_pairs
            if n_pairs >= 10:
                sd, src = float(d[ok].std(ddof=1)), "egen" if lang == "sv" else "own"
            else:
                sd, src = sd_region, "regionens" if lang == "sv" else "region"
            hw = ci_halfwidth(sd, n_pairs, alpha)
            mdc, mdz = detectable_change(sd, n_pairs, alpha=alpha, power=power)
            need = required_n(target, sd_diff=sd, alpha=alpha, power=power) if sd > 0 and np.isfinite(target) \
                else np.nan
            rows.append({"group": g, "area": area,
                         "area_label": cb.areas[area]["label_sv" if lang == "sv" else "label_en"],
                         "measure": measure, "n": n_cl, "n_pairs": n_pairs, "sd_diff": sd, "sd_source": src,
                         "ci_halfwidth": hw, "min_detectable_change": mdc, "min_detectable_dz": mdz,
                         "target_change": target, "n_needed": need,
                         "question": QUESTIONS[lang]["change"],
                         "text": _sentence(n_cl, hw, mdc, target, need, power, lang)})
    out = pd.DataFrame(rows)
    if not out.empty:
        out["n_needed"] = out["n_needed"].astype("Int64")
    base = dict(pairs.attrs.get("asi", {}))
    out.attrs["asi"] = {"unit": "klienter", "group_cols": ["group"], "additive": False, "group_var": by,
                        "count_cols": ["n", "n_pairs", "n_needed"], "soft_count_cols": ["n_needed"], "alpha": alpha, "power": power, "measure": measure,
                        "selection": base.get("selection", "par baslinje–uppföljning"),
                        "bortfall_share": base.get("bortfall_share", np.nan),
                        "method": "parat t-test; statsmodels TTestPower; SD för skillnader ur data "
                                  "(regionens SD för grupper med färre än 10 par)"}
    return out


def _fmt(x: float, lang: str) -> str:
    s = f"{x:.2f}" if abs(x) < 10 else f"{x:.0f}"
    return s.replace(".", ",") if lang == "sv" else s


def _sentence(n, hw, mdc, target, need, power, lang, few: int = 10) -> str:
    # the sentence is a key column publish does not hide: no numbers for small groups
    if n < few or not np.isfinite(mdc):
        return (f"Färre än {few} uppföljda klienter: endast tendenser, ingen förändring kan påvisas."
                if lang == "sv" else f"Fewer than {few} clients followed up: tendencies only.")
    pct = int(round(power * 100))
    if lang == "sv":
        s = (f"Med {n} uppföljda klienter är medelförändringen osäker med ±{_fmt(hw, lang)}; "
             f"en verklig förändring på minst {_fmt(mdc, lang)} upptäcks med {pct} % sannolikhet.")
        if np.isfinite(need):
            s += f" För att upptäcka {_fmt(target, lang)} behövs cirka {int(need)} par."
        return s
    s = (f"With {n} clients followed up the mean change is uncertain by ±{_fmt(hw, lang)}; a true change of at least "
         f"{_fmt(mdc, lang)} is detected with {pct}% probability.")
    if np.isfinite(need):
        s += f" About {int(need)} pairs are needed to detect {_fmt(target, lang)}."
    return s
