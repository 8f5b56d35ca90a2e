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

__all__ = ["detectable_change", "required_n", "ci_halfwidth", "precision_table"]

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
