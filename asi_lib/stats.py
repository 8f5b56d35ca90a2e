"""Small statistical helpers shared by groups, compare, change and bortfall.

Each formula exists once, here. All functions are vectorised: they take
scalars or array-likes (broadcast with numpy) and return floats/arrays, with
NaN where a value is undefined (n = 0, n < 2, ...), never an exception.

References
----------
.. [1] Wilson, E. B. (1927). Probable inference, the law of succession, and
   statistical inference. JASA 22(158), 209–212.
.. [2] Hedges, L. V. (1981). Distribution theory for Glass's estimator of
   effect size and related estimators. J. Educ. Stat. 6(2), 107–128.
.. [3] Austin, P. C. (2009). Balance diagnostics for comparing the
   distribution of baseline covariates between treatment groups in
   propensity-score matched samples. Stat. Med. 28, 3083–3107.
.. [4] Benjamini, Y. & Hochberg, Y. (1995). Controlling the false discovery
   rate. JRSS B 57(1), 289–300.
.. [5] Welch, B. L. (1947). The generalization of "Student's" problem when
   several different population variances are involved. Biometrika 34, 28–35.
"""
from __future__ import annotations

import numpy as np
from scipy import stats as _st

__all__ = ["wilson_ci", "mean_ci", "smd", "smd_proportion", "hedges_g", "welch",
           "bh_adjust"]


def _f(x) -> np.ndarray:
    return np.asarray(x, dtype="float64")


def _out(x):
    """Return a Python float for 0-d results, the array otherwise."""
    x = np.asarray(x)
    return float(x) if x.ndim == 0 else x


def wilson_ci(k, n, alpha: float = 0.05):
    """Wilson score interval for a proportion k/n.

    Parameters
    ----------
    k, n : int or array-like
        Clients with the characteristic and clients in the group.
    alpha : float, default 0.05
        1 − confidence level.

    Returns
    -------
    (low, high) : tuple of float or numpy.ndarray
        NaN where ``n == 0``.

    Notes
    -----
    With :math:`\\hat p = k/n` and :math:`z = \\Phi^{-1}(1-\\alpha/2)`:

    .. math::
        \\frac{\\hat p + z^2/2n \\pm z\\sqrt{\\hat p(1-\\hat p)/n + z^2/4n^2}}{1 + z^2/n}

    Unlike the Wald interval it stays inside [0, 1] and behaves for small n
    and shares near 0 or 1 [1]_. Equals statsmodels
    ``proportion_confint(method="wilson")``.

    Examples
    --------
    >>> low, high = wilson_ci(5, 20)
    >>> round(low, 4), round(high, 4)
    (0.1119, 0.4687)
    """
    k, n = np.broadcast_arrays(_f(k), _f(n))
    z = _st.norm.ppf(1 - alpha / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k / n
        denom = 1 + z * z / n
        centre = (p + z * z / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
        low = np.where(n > 0, np.clip(centre - half, 0.0, 1.0), np.nan)
        high = np.where(n > 0, np.clip(centre + half, 0.0, 1.0), np.nan)
    return _out(low), _out(high)


def mean_ci(mean, sd, n, alpha: float = 0.05):
    """t-based confidence interval for a mean.

    Parameters
    ----------
    mean, sd, n : float or array-like
        Sample mean, sample SD (ddof=1) and number of values.
    alpha : float, default 0.05

    Returns
    -------
    (low, high) : tuple of float or numpy.ndarray
        NaN where ``n < 2``.

    Notes
    -----
    :math:`\\bar x \\pm t_{1-\\alpha/2,\\,n-1}\\, s/\\sqrt{n}`.

    Examples
    --------
    >>> low, high = mean_ci(10.0, 2.0, 4)
    >>> round(low, 4), round(high, 4)
    (6.8176, 13.1824)
    """
    mean, sd, n = np.broadcast_arrays(_f(mean), _f(sd), _f(n))
    ok = n >= 2
    df = np.where(ok, n - 1, 1.0)
    t = _st.t.ppf(1 - alpha / 2, df)
    with np.errstate(divide="ignore", invalid="ignore"):
        half = t * sd / np.sqrt(n)
    low = np.where(ok, mean - half, np.nan)
    high = np.where(ok, mean + half, np.nan)
    return _out(low), _out(high)


def smd(mean1, sd1, n1, mean2, sd2, n2, *, hedges: bool = False):
    """Standardised mean difference (Cohen's d with pooled SD; Hedges' g).

    Parameters
    ----------
    mean1, sd1, n1, mean2, sd2, n2 : float or array-like
        Summary statistics of the two groups (SD with ddof=1).
    hedges : bool, default False
        Apply Hedges' small-sample correction [2]_.

    Returns
    -------
    float or numpy.ndarray
        NaN when ``n1 + n2 < 3`` or the pooled SD is 0.

    Notes
    -----
    .. math::
        s_p = \\sqrt{\\frac{(n_1-1)s_1^2 + (n_2-1)s_2^2}{n_1+n_2-2}},\\quad
        d = \\frac{\\bar x_1 - \\bar x_2}{s_p},\\quad
        g = d\\left(1 - \\frac{3}{4(n_1+n_2)-9}\\right)

    Examples
    --------
    >>> round(smd(5.0, 2.0, 10, 4.0, 2.0, 10), 4)
    0.5
    >>> round(smd(5.0, 2.0, 10, 4.0, 2.0, 10, hedges=True), 4)
    0.4789
    """
    m1, s1, n1, m2, s2, n2 = np.broadcast_arrays(*map(_f, (mean1, sd1, n1, mean2, sd2, n2)))
    df = n1 + n2 - 2
    with np.errstate(divide="ignore", invalid="ignore"):
        sp = np.sqrt(((n1 - 1) * s1 ** 2 + (n2 - 1) * s2 ** 2) / df)
        d = (m1 - m2) / sp
        if hedges:
            d = d * (1 - 3 / (4 * (n1 + n2) - 9))
    d = np.where((df > 0) & (sp > 0), d, np.nan)
    return _out(d)


def hedges_g(mean1, sd1, n1, mean2, sd2, n2):
    """Hedges' g: :func:`smd` with the small-sample correction.

    Parameters
    ----------
    mean1, sd1, n1, mean2, sd2, n2 : float or array-like
        Group means, SDs (ddof 1) and sizes.

    Returns
    -------
    float or numpy.ndarray
        g = d · (1 − 3 / (4(n₁ + n₂) − 9)), d the pooled-SD standardised difference.

    Examples
    --------
    >>> round(hedges_g(5.0, 2.0, 10, 4.0, 2.0, 10), 4)
    0.4789
    """
    return smd(mean1, sd1, n1, mean2, sd2, n2, hedges=True)


def smd_proportion(p1, p2):
    """Standardised difference between two proportions.

    Parameters
    ----------
    p1, p2 : float or array-like
        Shares in the two groups.

    Returns
    -------
    float or numpy.ndarray

    Notes
    -----
    :math:`d = (p_1 - p_2)/\\sqrt{(p_1(1-p_1) + p_2(1-p_2))/2}` (Austin 2009
    [3]_); NaN when both shares are 0 or both 1. As a rule of thumb
    |d| < 0.1 means the groups are balanced on the characteristic.

    Examples
    --------
    >>> round(smd_proportion(0.5, 0.3), 4)
    0.417
    """
    p1, p2 = np.broadcast_arrays(_f(p1), _f(p2))
    with np.errstate(divide="ignore", invalid="ignore"):
        den = np.sqrt((p1 * (1 - p1) + p2 * (1 - p2)) / 2)
        d = np.where(den > 0, (p1 - p2) / den, np.nan)
    return _out(d)


def welch(mean1, sd1, n1, mean2, sd2, n2, alpha: float = 0.05):
    """Welch's unequal-variance t-test and CI for a difference of means.

    Parameters
    ----------
    mean1, sd1, n1, mean2, sd2, n2 : float or array-like
        Summary statistics (SD with ddof=1).
    alpha : float, default 0.05

    Returns
    -------
    dict of float or numpy.ndarray
        ``diff`` (mean1 − mean2), ``se``, ``df``, ``t``, ``p_value`` (two-sided),
        ``ci_low``, ``ci_high``. NaN where a group has fewer than 2 values.

    Notes
    -----
    :math:`se = \\sqrt{s_1^2/n_1 + s_2^2/n_2}`, Welch–Satterthwaite
    :math:`\\nu = se^4 / \\left(\\frac{(s_1^2/n_1)^2}{n_1-1} + \\frac{(s_2^2/n_2)^2}{n_2-1}\\right)`,
    :math:`t = (\\bar x_1-\\bar x_2)/se`, CI :math:`diff \\pm t_{1-\\alpha/2,\\nu}\\,se` [5]_.
    Same p-value as ``scipy.stats.ttest_ind(..., equal_var=False)``.

    Examples
    --------
    >>> r = welch(5.0, 2.0, 10, 4.0, 2.0, 10)
    >>> round(float(r["df"]), 1), round(float(r["p_value"]), 4)
    (18.0, 0.2783)
    """
    m1, s1, n1, m2, s2, n2 = np.broadcast_arrays(*map(_f, (mean1, sd1, n1, mean2, sd2, n2)))
    ok = (n1 >= 2) & (n2 >= 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        v1, v2 = s1 ** 2 / n1, s2 ** 2 / n2
        se = np.sqrt(v1 + v2)
        df = (v1 + v2) ** 2 / (v1 ** 2 / (n1 - 1) + v2 ** 2 / (n2 - 1))
        diff = m1 - m2
        t = diff / se
        p = 2 * _st.t.sf(np.abs(t), df)
        q = _st.t.ppf(1 - alpha / 2, df)
        lo, hi = diff - q * se, diff + q * se
    res = {"diff": np.where(np.isfinite(m1) & np.isfinite(m2), diff, np.nan)}
    for key, val in (("se", se), ("df", df), ("t", t), ("p_value", p), ("ci_low", lo), ("ci_high", hi)):
        res[key] = np.where(ok & (se > 0), val, np.nan)
    return {k: _out(v) for k, v in res.items()}


def bh_adjust(p):
    """Benjamini–Hochberg false-discovery-rate adjusted p-values, NaN-safe.

    Parameters
    ----------
    p : array-like of float
        p-values; NaN (no test made) stays NaN and does not count as a test.

    Returns
    -------
    numpy.ndarray

    Notes
    -----
    For the m non-missing p-values sorted ascending,
    :math:`q_{(i)} = \\min_{j \\ge i} \\min(1, m\\,p_{(j)}/j)` [4]_; computed with
    statsmodels ``multipletests(method="fdr_bh")``.

    Examples
    --------
    >>> bh_adjust([0.01, float("nan"), 0.04, 0.03]).round(3).tolist()
    [0.03, nan, 0.04, 0.04]
    """
    from statsmodels.stats.multitest import multipletests

    arr = _f(p).ravel()
    out = np.full(arr.shape, np.nan)
    ok = np.isfinite(arr)
    if ok.any():
        out[ok] = multipletests(arr[ok], method="fdr_bh")[1]
    return out.reshape(np.shape(p))
