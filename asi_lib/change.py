"""Change between baseline and follow-up, per life area (paired statistics).

Takes the ``pairs`` of :func:`asi_lib.followup.pair_followups` (columns
``<measure>_0`` and ``<measure>_1``) and answers "has the clients' situation
changed?" per area and measure: mean change with a paired-t CI, Wilcoxon
signed-rank test, Hodges–Lehmann median change with its distribution-free CI,
standardised change ``dz`` with CI, Jacobson–Truax reliable change shares, and
"problem-free at follow-up among those with a problem at baseline".

Sign convention: ``diff = follow-up − baseline``. In ASI a lower score is
better, so a **negative** difference is an improvement.

All formulas, defaults and sources: ``docs/methods/followup.md``.

References
----------
.. [1] Student (1908). The probable error of a mean. Biometrika 6, 1–25
   (Cushny–Peebles sleep data).
.. [2] Hollander, M., Wolfe, D. A. & Chicken, E. (2014). Nonparametric
   Statistical Methods, 3rd ed., ch. 3 (signed-rank test, Walsh averages,
   Hodges–Lehmann estimator and its CI). Wiley.
.. [3] Pratt, J. W. (1959). Remarks on zeros and ties in the Wilcoxon signed
   rank procedures. JASA 54, 655–667.
.. [4] Jacobson, N. S. & Truax, P. (1991). Clinical significance: a
   statistical approach to defining meaningful change in psychotherapy
   research. J. Consult. Clin. Psychol. 59(1), 12–19.
.. [5] Cronbach, L. J. (1951). Coefficient alpha and the internal structure of
   tests. Psychometrika 16, 297–334.
.. [6] Mäkelä, K. (2004). Studies of the reliability and validity of the
   Addiction Severity Index. Addiction 99, 398–410.
.. [7] Cumming, G. & Finch, S. (2001). A primer on the understanding, use, and
   calculation of confidence intervals that are based on central and
   noncentral distributions. Educ. Psychol. Meas. 61, 532–574.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import optimize, special
from scipy import stats as st

from .codebook import AREAS, load_codebook, numeric
from .errors import AsiInputError

__all__ = ["change_by_area", "paired_change", "hodges_lehmann", "walsh_order_statistic",
           "signed_rank_critical", "dz_ci", "reliable_change", "cronbach_alpha",
           "composite_reliability", "problem_free_change", "problem_status_change", "clinical_significance",
           "clinical_change_by_area", "COMPOSITE_NORMS", "RciReference", "estimate_rci_reference",
           "PUBLISHED_RELIABILITY", "measure_column", "CHANGE_COLUMNS"]

DEFAULT_AREAS = ("medical", "employment", "alcohol", "drugs", "legal", "family", "psychiatric")
MEASURE_LABELS = {
    "sv": {"composite": "Sammanvägt index (0–1)", "rating": "Intervjuarskattning (0–9)",
           "self_days": "Dagar med problem (30 d)", "self_troubled": "Besvärad (0–4)",
           "self_importance": "Viktigt med hjälp (0–4)"},
    "en": {"composite": "Composite score (0–1)", "rating": "Interviewer rating (0–9)",
           "self_days": "Days with problems (30 d)", "self_troubled": "Troubled (0–4)",
           "self_importance": "Importance of help (0–4)"},
}
#: Statistic columns of :func:`paired_change` (and every change table).
CHANGE_COLUMNS = ["n", "n_pairs", "mean_0", "mean_1", "diff", "ci_low", "ci_high", "sd_diff", "p_value", "p_wilcoxon", "wilcoxon_method", "hl_estimate", "hl_ci_low", "hl_ci_high",
                  "dz", "dz_ci_low", "dz_ci_high", "reliability", "reliability_source", "sd_ref", "s_diff",
                  "n_improved", "n_unchanged", "n_worse", "share_improved", "share_unchanged", "share_worse"]


#: Short, specific caveat carried by every published change figure (regression to the mean).
RTM_CAVEAT = {
    "sv": ("Regression mot medelvärdet: klienter intervjuas ofta när de mår som sämst, så en del av "
           "förbättringen hade kommit ändå. Förändringen visar inte vad insatsen gjorde; jämför insatser "
           "med den justerade analysen (models.naive_vs_adjusted)."),
    "en": ("Regression to the mean: clients are often interviewed at their worst, so part of the improvement "
           "would have come anyway. The change does not show what the intervention did; compare interventions "
           "with the adjusted analysis (models.naive_vs_adjusted)."),
}
#: What the RCI reliability is (and is not).
RCI_NOTE = {
    "sv": ("Reliabiliteten för RCI är intern konsistens (Cronbachs alfa), inte test–retest; den ska vara "
           "fryst (samma värde för alla kommuner och perioder) för att andelar ska gå att jämföra."),
    "en": ("The RCI reliability is internal consistency (Cronbach's alpha), not test–retest; it should be frozen "
           "(one value for all municipalities and periods) for shares to be comparable."),
}


#: How publish should read a change table: the RCI class counts are parts of n_pairs
#: (protected with their complements, not the row's base count).
PUBLISH_META = {"complements": {"n_improved": "n_pairs", "n_unchanged": "n_pairs", "n_worse": "n_pairs"},
                "row_sums": {"n_pairs": ["n_improved", "n_unchanged", "n_worse"]}}


# --------------------------------------------------------------------------- helpers
def measure_column(measure: str, area: str) -> str:
    """Base column name (without ``_0``/``_1``) of a measure in an area.

    Parameters
    ----------
    measure : {"composite", "rating", "self_days", "self_troubled", "self_importance"}
    area : str

    Returns
    -------
    str

    Examples
    --------
    >>> measure_column("composite", "alcohol"), measure_column("self_days", "drugs")
    ('composite_alcohol', 'drug_problem_days')
    """
    cb = load_codebook()
    if measure == "composite":
        return f"composite_{area}"
    if measure == "rating":
        return cb.interviewer_rating(area)
    if measure.startswith("self_"):
        return cb.self_rating(area, measure[len("self_"):])
    return f"{measure}_{area}"


def _num(s: pd.Series) -> np.ndarray:
    if isinstance(s.dtype, pd.CategoricalDtype) or s.dtype == object:
        s = pd.to_numeric(s, errors="coerce")
    return numeric(s)


def signed_rank_critical(n: int, alpha: float = 0.05) -> int:
    """Order index ``C`` of the Hodges–Lehmann CI ``[W_(C), W_(M+1−C)]``.

    Parameters
    ----------
    n : int
        Number of paired differences (> 0).
    alpha : float
        Two-sided level.

    Returns
    -------
    int
        ``C`` (1-based), at least 1.

    Notes
    -----
    Exact for ``n <= 50``: the largest ``c`` with :math:`P(T^+ \\le c-1) \\le
    \\alpha/2` under the null distribution of the signed-rank statistic
    (computed by counting subsets of ranks). For larger ``n`` the normal
    approximation with continuity correction,
    :math:`C = \\lfloor n(n+1)/4 - z_{1-\\alpha/2}\\sqrt{n(n+1)(2n+1)/24} + 1/2 \\rfloor`
    (Hollander, Wolfe & Chicken 2014, §3.2).

    Examples
    --------
    >>> signed_rank_critical(10), signed_rank_critical(9)
    (9, 6)
    """
    if n < 1:
        raise ValueError("n must be >= 1")
    # Returns 0 when no interval reaches the level (n <= 5 at alpha 0.05).
    m = n * (n + 1) // 2
    if n <= 50:
        counts = np.zeros(m + 1, dtype=np.float64)
        counts[0] = 1.0
        for r in range(1, n + 1):
            counts[r:] = counts[r:] + counts[:-r]  # 0/1 knapsack over ranks 1..n
        cdf = np.cumsum(counts) / 2.0 ** n
        # P(T+ <= c-1) <= alpha/2  → c-1 ∈ {k : cdf[k] <= alpha/2}
        ok = np.flatnonzero(cdf <= alpha / 2 + 1e-12)
        return int(ok[-1]) + 1 if ok.size else 0  # 0: level not attainable for this n
    z = st.norm.ppf(1 - alpha / 2)
    c = int(np.floor(n * (n + 1) / 4 - z * np.sqrt(n * (n + 1) * (2 * n + 1) / 24) + 0.5))
    return max(c, 1)


def walsh_order_statistic(d, k: int) -> float:
    """The ``k``-th smallest (1-based) Walsh average of ``d`` without forming them all.

    Parameters
    ----------
    d : array-like
        Paired differences (NaN-free).
    k : int
        1 ≤ k ≤ n(n+1)/2.

    Returns
    -------
    float

    Notes
    -----
    Walsh averages :math:`(d_i + d_j)/2,\\ i \\le j`. With ``d`` sorted, the
    number of Walsh averages ``<= θ`` is counted in O(n log n) with
    ``searchsorted``; bisection on θ finds the smallest θ with count ≥ k, and
    θ is snapped to the Walsh average it brackets. Memory O(n), so the
    Hodges–Lehmann estimate works for 10⁵ pairs (5·10⁹ Walsh averages).

    Examples
    --------
    >>> walsh_order_statistic([1.0, 2.0, 4.0], 1), walsh_order_statistic([1.0, 2.0, 4.0], 6)
    (1.0, 4.0)
    """
    return float(_walsh_order_statistics(np.sort(np.asarray(d, dtype=np.float64)), [k])[0])


def _walsh_order_statistics(s: np.ndarray, ks) -> np.ndarray:
    """:func:`walsh_order_statistic` for several ``ks`` of one sorted ``s`` at once."""
    return _walsh_batch([(s, ks)])[0]


def _walsh_batch(problems) -> list[np.ndarray]:
    """:func:`walsh_order_statistic` for many ``(sorted s, ks)`` at once: the same steps, the same floats.

    Each (s, k) runs its own bisection, with the midpoints and counts of
    :func:`walsh_order_statistic`; the steps of all of them are taken
    together, so a change table's Hodges–Lehmann estimates and CIs cost one
    pass of bisection steps.

    Counting: a run of equal values ``s_i`` at positions ``first..last``
    with ``J = #{s_j <= 2θ − s_i}`` adds
    :math:`\\sum_{i=first}^{\\min(last, J-1)} (J - i)`, so each distinct value
    is one row. ``J`` only grows with θ, so a row whose ``J`` is the same at
    the bracket's ``lo`` and ``hi`` keeps it at every midpoint: its part of
    the count is fixed and only the other rows are searched (fewer at every
    step). ``s_j <= x`` within one array is found among the distinct values
    ``V`` of all arrays (``r = #{V <= x}``; value ``v`` of array ``a`` is
    ``<= x`` iff its rank in ``V`` is ``< r``) with one ``searchsorted`` on
    the keys ``a·(|V|+1) + rank``.
    """
    us, firsts, lasts, starts, k_arr, k_val = [], [], [], [], [], []
    for a, (s, ks) in enumerate(problems):
        n = s.size
        m = n * (n + 1) // 2
        ks = np.asarray(ks, dtype=np.int64)
        if ((ks < 1) | (ks > m)).any():
            raise ValueError("k out of range")
        u, first = np.unique(s, return_index=True)
        us.append(u)
        firsts.append(first)
        lasts.append(np.append(first[1:], n) - 1)
        starts.append(np.append(first, n))
        k_arr.append(np.full(ks.size, a))
        k_val.append(ks)
    usize = np.array([u.size for u in us], dtype=np.int64)
    u_off = np.concatenate([[0], np.cumsum(usize)])
    st_off = u_off + np.arange(usize.size + 1)           # each array's starts has one more entry
    u_all, first_all, last_all = np.concatenate(us), np.concatenate(firsts), np.concatenate(lasts)
    starts_all = np.concatenate(starts)
    values = np.unique(u_all)
    width = values.size + 1
    keys = np.repeat(np.arange(usize.size), usize) * width + np.searchsorted(values, u_all)
    k_arr, ks_all = np.concatenate(k_arr), np.concatenate(k_val)
    nk = ks_all.size
    # one element per (k, distinct value of its array), grouped by k in order
    esz = usize[k_arr]
    el_q = np.repeat(np.arange(nk), esz)
    el_pos = np.arange(int(esz.sum())) - np.repeat(np.cumsum(esz) - esz, esz) + np.repeat(u_off[k_arr], esz)
    el_a, el_u, el_f, el_l = k_arr[el_q], u_all[el_pos], first_all[el_pos], last_all[el_pos]

    def j_at(theta, a, u):
        c = np.searchsorted(keys, a * width + np.searchsorted(values, 2.0 * theta - u, side="right")) - u_off[a]
        return starts_all[st_off[a] + c]

    def part(j, f, l):
        cnt = np.maximum(np.minimum(l, j - 1) - f + 1, 0)
        return cnt * (j - f) - cnt * (cnt - 1) // 2

    def per_k(v, q):          # sums of v by k (q ascending)
        cs = np.concatenate([[0], np.cumsum(v)])
        b = np.searchsorted(q, np.arange(nk + 1))
        return cs[b[1:]] - cs[b[:-1]]

    lo = np.array([s[0] for s, _ in problems])[k_arr]
    hi = np.array([s[-1] for s, _ in problems])[k_arr]
    jlo, jhi = j_at(lo[el_q], el_a, el_u), j_at(hi[el_q], el_a, el_u)
    at_lo = per_k(part(jlo, el_f, el_l), el_q) >= ks_all    # the smallest value is already the k-th
    active = ~at_lo
    decided = jlo == jhi
    fixed = per_k(np.where(decided, part(jlo, el_f, el_l), 0), el_q)
    e = np.flatnonzero(~decided & active[el_q])
    for _ in range(200):  # count_le(lo) < k <= count_le(hi)
        if not active.any():
            break
        mid = (lo + hi) / 2.0
        active &= ~((mid <= lo) | (mid >= hi))
        if not active.any():
            break
        e = e[active[el_q[e]]]
        q = el_q[e]
        j = j_at(mid[q], el_a[e], el_u[e])
        pj = part(j, el_f[e], el_l[e])
        up = active & (fixed + per_k(pj, q) >= ks_all)
        down = active & ~up
        hi[up], lo[down] = mid[up], mid[down]
        went_up = up[q]
        jhi[e[went_up]] = j[went_up]
        jlo[e[~went_up]] = j[~went_up]
        now = jlo[e] == jhi[e]
        if now.any():
            fixed = fixed + per_k(np.where(now, pj, 0), q)
            e = e[~now]
    # snap: the largest Walsh average <= hi (J at hi is jhi; a run of equal s_i gives one candidate,
    # valid at its first position)
    out = lo.copy()
    j = jhi - 1
    valid = (j >= el_f) & ~at_lo[el_q]
    s_all = np.concatenate([s for s, _ in problems])
    s_off = np.concatenate([[0], np.cumsum([s.size for s, _ in problems])])
    cand = np.where(valid, (el_u + s_all[s_off[el_a] + np.where(valid, j, 0)]) / 2.0, -np.inf)
    best = np.maximum.reduceat(cand, np.cumsum(esz) - esz)
    out[~at_lo] = best[~at_lo]
    return np.split(out, np.cumsum([np.size(ks) for _, ks in problems])[:-1])


def _hl_batch(diffs, alpha: float = 0.05) -> list[tuple[float, float, float]]:
    """:func:`hodges_lehmann` of several difference arrays, their order statistics found together."""
    out: list = [None] * len(diffs)
    problems, where = [], []
    for i, d in enumerate(diffs):
        d = np.asarray(d, dtype=np.float64)
        d = d[~np.isnan(d)]
        n = d.size
        if n == 0:
            out[i] = (np.nan, np.nan, np.nan)
            continue
        m = n * (n + 1) // 2
        c = signed_rank_critical(n, alpha)
        with_ci = not (c < 1 or c > m // 2 + (m % 2) or n < 2)
        mid = [(m + 1) // 2] if m % 2 else [m // 2, m // 2 + 1]
        problems.append((np.sort(d), [*mid, *([c, m + 1 - c] if with_ci else [])]))
        where.append((i, m % 2 == 1, with_ci))
    for (i, odd, with_ci), w in zip(where, _walsh_batch(problems) if problems else []):
        est = float(w[0]) if odd else (float(w[0]) + float(w[1])) / 2.0
        out[i] = (est, float(w[-2]), float(w[-1])) if with_ci else (est, np.nan, np.nan)
    return out


def hodges_lehmann(d, alpha: float = 0.05) -> tuple[float, float, float]:
    """Hodges–Lehmann estimate of the median paired difference with its CI.

    Parameters
    ----------
    d : array-like
        Paired differences.
    alpha : float, default 0.05

    Returns
    -------
    (estimate, ci_low, ci_high) : tuple of float
        NaN when no difference is available.

    Notes
    -----
    Estimate = median of the :math:`M = n(n+1)/2` Walsh averages; CI =
    :math:`[W_{(C)}, W_{(M+1-C)}]` with ``C`` from :func:`signed_rank_critical`
    (distribution-free for continuous symmetric differences; with ties the
    nominal level is approximate).

    Examples
    --------
    >>> hodges_lehmann([1.0, 2.0, 4.0])[0]
    2.25
    """
    return _hl_batch([d], alpha)[0]


def dz_ci(dz: float, n: int, alpha: float = 0.05) -> tuple[float, float]:
    """Confidence interval for the standardised paired change ``dz``.

    Parameters
    ----------
    dz : float
        Mean change divided by the SD of the changes.
    n : int
        Number of pairs.
    alpha : float, default 0.05

    Returns
    -------
    (float, float)
        Lower and upper limit (NaN when n < 2 or dz is not finite).

    Notes
    -----
    Exact under normality by inverting the noncentral t distribution of
    :math:`t = d_z\\sqrt n` with ``df = n − 1`` (Cumming & Finch 2001): find
    the noncentrality parameters λ with
    :math:`F_{t,df,λ_L}(t) = 1-\\alpha/2` and :math:`F_{t,df,λ_U}(t) = \\alpha/2`;
    CI = λ/√n.

    Examples
    --------
    >>> low, high = dz_ci(0.5, 30)
    >>> round(low, 3), round(high, 3)
    (0.116, 0.876)
    """
    if not np.isfinite(dz) or n < 3:
        return (np.nan, np.nan)
    df = n - 1
    t = dz * np.sqrt(n)
    # the quantile noncentralities lie about z·sqrt(1 + t²/2df) from t; a tight
    # bracket avoids the region where scipy's nct.cdf returns NaN
    span = 1.0 + 4.0 * st.norm.ppf(1 - alpha / 2) * np.sqrt(1.0 + t * t / (2.0 * df))

    def root(p):
        # scipy.special.nctdtr is what st.nct.cdf computes (nct._cdf), without its per-call argument checks
        f = lambda nc: special.nctdtr(df, nc, t) - p  # noqa: E731
        return optimize.brentq(f, t - span, t + span, xtol=1e-10)

    try:
        lo, hi = root(1 - alpha / 2), root(alpha / 2)
    except (ValueError, RuntimeError):  # pragma: no cover - extreme t
        z = st.norm.ppf(1 - alpha / 2)
        se = np.sqrt(1 / n + dz * dz / (2 * n))
        return (dz - z * se, dz + z * se)
    return (float(lo / np.sqrt(n)), float(hi / np.sqrt(n)))


def cronbach_alpha(items) -> float:
    """Cronbach's alpha of an item matrix (rows = people, complete cases).

    Parameters
    ----------
    items : array-like, shape (people, items)
        Complete cases only.

    Returns
    -------
    float
        NaN with fewer than two items or two people, or a zero total variance.

    Notes
    -----
    :math:`\\alpha = \\frac{k}{k-1}\\left(1 - \\frac{\\sum_i s_i^2}{s_X^2}\\right)`
    with item variances :math:`s_i^2` and the variance of the sum
    :math:`s_X^2` (ddof 1) [5]_.

    Examples
    --------
    >>> round(cronbach_alpha([[1, 2], [2, 3], [3, 5]]), 4)
    0.9474
    """
    x = np.asarray(items, dtype=np.float64)
    x = x[~np.isnan(x).any(axis=1)]
    k = x.shape[1]
    if k < 2 or x.shape[0] < 3:
        return np.nan
    item_var = x.var(axis=0, ddof=1).sum()
    tot_var = x.sum(axis=1).var(ddof=1)
    return float(k / (k - 1) * (1 - item_var / tot_var)) if tot_var > 0 else np.nan


def composite_reliability(pairs: pd.DataFrame, area: str, *, suffix: str = "_0") -> float:
    """Standardised Cronbach's alpha of an area composite's own items at baseline.

    Items = exactly the composite's terms in ``composite_spec.yaml`` (e.g.
    employment E4, E5, E11, E12 — not the problem days, troubled and
    importance items E19–E21, which are not in the composite and run the other
    way), with the composite's own transforms (X/N rules, recodes, money as
    capped ln), taken by :func:`asi_lib.scores.composite_items` from the
    ``<item>_0`` columns of ``pairs``. Complete cases. Items are
    z-standardised first (they have very different scales), which is the
    reliability of an equally weighted sum — an approximation to the
    reliability of the weighted composite. Items without variance are
    dropped. NaN when fewer than two items remain.

    This is **internal consistency**, not test–retest reliability; the RCI
    formally wants the latter (Jacobson & Truax 1991). No published
    test–retest value for the Swedish ASI composites is used (see
    ``docs/methods/followup.md``).

    Parameters
    ----------
    pairs : pandas.DataFrame
        :attr:`asi_lib.followup.Pairing.pairs` (baseline columns ``<item>_0``),
        or interviews with ``suffix=""``.
    area : str
        One of the seven areas.
    suffix : str, default "_0"

    Returns
    -------
    float
        Standardised alpha, NaN when it cannot be estimated.

    Notes
    -----
    :math:`\\alpha = \\frac{k}{k-1}(1 - k/s^2_{\\sum z})` for k standardised items.

    References
    ----------
    Cronbach LJ (1951). Coefficient alpha and the internal structure of tests.
    Psychometrika 16:297–334.

    Examples
    --------
    >>> from asi_lib.datasets import read_dataset
    >>> from asi_lib.followup import pair_followups
    >>> pairs = pair_followups(read_dataset("demo")).pairs
    >>> 0 < composite_reliability(pairs, "alcohol") < 1, 0 < composite_reliability(pairs, "employment") < 1
    (True, True)
    """
    from .scores import composite_items

    try:
        x = composite_items(pairs, area, suffix=suffix).to_numpy(dtype=np.float64)
    except (AsiInputError, KeyError):
        return np.nan
    if x.shape[1] < 2:
        return np.nan
    x = x[~np.isnan(x).any(axis=1)]
    sd = x.std(axis=0, ddof=1) if len(x) > 2 else np.zeros(x.shape[1])
    keep = sd > 0
    if keep.sum() < 2:
        return np.nan
    z = (x[:, keep] - x[:, keep].mean(axis=0)) / sd[keep]
    return cronbach_alpha(z)


#: Published test–retest reliabilities to use for the RCI, keyed by ``(measure, area)``,
#: each with its source. Empty on purpose: no published value for the Swedish ASI composites
#: is specific enough to use (Mäkelä 2004 finds them to vary between studies and areas); a
#: region that adopts one adds it here or passes it in an :class:`RciReference`.
PUBLISHED_RELIABILITY: dict[tuple[str, str], tuple[float, str]] = {}


@dataclass(frozen=True)
class RciReference:
    """Fixed reliability and reference SD per ``(measure, area)`` for the reliable change index.

    Estimated once (:func:`estimate_rci_reference`) from the whole store, or
    taken from a publication, and then *frozen* (e.g. in a release) so that
    "share improved" is comparable between municipalities and periods.
    Passed as ``reliability=`` to :func:`change_by_area` (and through
    ``models.change_by_group``).

    Attributes
    ----------
    values : dict
        ``{(measure, area): {"reliability": r, "sd": s, "source": str, "n": n}}``.

    Examples
    --------
    >>> ref = RciReference({("composite", "alcohol"): {"reliability": 0.8, "sd": 0.2, "source": "test", "n": 50}})
    >>> ref.get("composite", "alcohol")[:2], ref.get("rating", "alcohol")[:2]
    ((0.8, 0.2), (None, None))
    >>> RciReference.from_dict(ref.to_dict()) == ref
    True
    """

    values: dict = field(default_factory=dict)

    def get(self, measure: str, area: str) -> tuple[float | None, float | None, str, int | None]:
        """``(reliability, sd, source, n)`` for one measure and area (Nones when absent)."""
        v = self.values.get((measure, area))
        if v is None:
            return (None, None, "", None)
        rel = v.get("reliability")
        rel = float(rel) if rel is not None and np.isfinite(rel) else None
        sd = v.get("sd")
        sd = float(sd) if sd is not None and np.isfinite(sd) else None
        return (rel, sd, str(v.get("source", "")), v.get("n"))

    def to_dict(self) -> dict:
        """JSON-friendly form (keys ``"measure:area"``), for freezing in a release."""
        return {f"{m}:{a}": dict(v) for (m, a), v in self.values.items()}

    @classmethod
    def from_dict(cls, d: dict) -> RciReference:
        """Inverse of :meth:`to_dict`."""
        return cls({tuple(k.split(":", 1)): dict(v) for k, v in d.items()})

    def to_frame(self, lang: str = "sv") -> pd.DataFrame:
        """One row per ``(measure, area)``: reliability, sd, source, n_pairs (ready for publish)."""
        rows = [{"measure": m, "area": a, **v} for (m, a), v in self.values.items()]
        out = pd.DataFrame(rows, columns=["measure", "area", "reliability", "sd", "source", "n"])
        out = out.rename(columns={"n": "n_pairs"})
        out.insert(1, "measure_label", [MEASURE_LABELS[lang].get(m, m) for m in out["measure"]])
        out.attrs["asi"] = {"unit": "par", "group_cols": ["measure", "area"], "count_cols": ["n_pairs"],
                            "additive": False, "tendency": False,
                            "selection": "RCI-referens: reliabilitet och SD, frysta för alla kommuner och perioder"}
        return out


def estimate_rci_reference(pairs: pd.DataFrame, measures=("composite",), *, areas=None,
                           published: dict | None = None, label: str = "hela databasen") -> RciReference:
    """Estimate the RCI reliability and SD once, from the whole store's pairs.

    Parameters
    ----------
    pairs : pandas.DataFrame or Dataset
        ``Pairing.pairs`` of the **whole** store (all municipalities, all
        periods) — not of the subgroup to be reported; a ``Dataset`` is
        paired first with the default rules (:func:`asi_lib.followup.pair_followups`).
    measures : sequence of str, default ("composite",)
        Only composites have an internal consistency; other measures get a
        reference only from ``published``.
    areas : sequence of str, optional
    published : dict, optional
        ``{(measure, area): (reliability, source)}``; default
        :data:`PUBLISHED_RELIABILITY`. A published value wins over the estimate.
    label : str
        Names the data the estimate comes from in ``source``.

    Returns
    -------
    RciReference

    Notes
    -----
    Reliability: :func:`composite_reliability` (standardised alpha of the
    composite's own items at baseline; internal consistency, not test–retest).
    SD: the baseline SD of the measure over all complete pairs,
    :math:`s_0 = \\sqrt{\\sum (x_{0i}-\\bar x_0)^2/(n-1)}`. An estimate outside
    (0, 1) gives no reliability (and so no RCI).

    Examples
    --------
    >>> from asi_lib.datasets import read_dataset
    >>> from asi_lib.followup import pair_followups
    >>> ref = estimate_rci_reference(pair_followups(read_dataset("demo")).pairs, areas=["alcohol"])
    >>> r, sd, src, n = ref.get("composite", "alcohol")
    >>> 0 < r < 1 and sd > 0 and "hela databasen" in src
    True
    """
    if hasattr(pairs, "grund") and hasattr(pairs, "uppfoljning"):  # a Dataset (whole store): pair it first
        from .followup import pair_followups

        pairs = pair_followups(pairs).pairs
    published = PUBLISHED_RELIABILITY if published is None else published
    vals = {}
    for area in _areas(pairs, areas):
        for m in measures:
            col = measure_column(m, area)
            if f"{col}_0" not in pairs.columns or f"{col}_1" not in pairs.columns:
                continue
            x0, x1 = _num(pairs[f"{col}_0"]), _num(pairs[f"{col}_1"])
            ok = ~(np.isnan(x0) | np.isnan(x1))
            n = int(ok.sum())
            sd = float(x0[ok].std(ddof=1)) if n >= 2 else np.nan
            if (m, area) in published:
                rel, src = published[(m, area)]
                src = f"publicerad: {src} / published"
            elif m == "composite":
                rel = composite_reliability(pairs.loc[ok], area)
                src = (f"Cronbachs alfa (standardiserad) för indexets egna frågor vid baslinjen, {label} "
                       f"({n} par); intern konsistens, inte test–retest")
                if not (np.isfinite(rel) and 0 < rel < 1):
                    src = f"alfa ur {label} ogiltig ({rel:.2f}): ingen RCI / estimated alpha not usable"
                    rel = np.nan
            else:
                continue
            vals[(m, area)] = {"reliability": float(rel), "sd": sd, "source": src, "n": n}
    return RciReference(vals)


def reliable_change(x0, x1, *, sd: float, reliability: float, z: float = 1.96) -> np.ndarray:
    """Jacobson–Truax reliable change class per client: -1 improved, 0 unchanged, +1 worse.

    Parameters
    ----------
    x0, x1 : array-like
        Baseline and follow-up values.
    sd : float
        Reference SD (default in :func:`change_by_area`: the baseline SD of the sample).
    reliability : float
        Reliability r_xx of the measure.
    z : float, default 1.96

    Returns
    -------
    numpy.ndarray of float (NaN where a value is missing)

    Notes
    -----
    :math:`RCI = (x_1 - x_0)/S_{diff}`, :math:`S_{diff} = \\sqrt 2\\, SD\\sqrt{1-r_{xx}}` [4]_.
    Lower ASI scores are better: RCI < −z → improved, RCI > z → worse.

    Examples
    --------
    >>> reliable_change([30, 30, 30], [20, 28, 40], sd=7.5, reliability=0.88).tolist()
    [-1.0, 0.0, 1.0]
    """
    x0 = np.asarray(x0, dtype=np.float64)
    x1 = np.asarray(x1, dtype=np.float64)
    s_diff = np.sqrt(2.0) * sd * np.sqrt(1.0 - reliability)
    with np.errstate(divide="ignore", invalid="ignore"):
        rci = (x1 - x0) / s_diff
    out = np.where(rci < -z, -1.0, np.where(rci > z, 1.0, 0.0))
    return np.where(np.isnan(rci), np.nan, out)


# --------------------------------------------------------------------------- core
def paired_change(x0, x1, *, alpha: float = 0.05, zero_method: str = "pratt", reliability: float | None = None,
                  sd_ref: float | None = None, clients=None) -> dict:
    """All paired statistics for one measure (one row of a change table).

    Parameters
    ----------
    x0, x1 : array-like
        Baseline and follow-up values (NaN where missing; pairs with a
        missing side are dropped).
    alpha : float, default 0.05
    zero_method : {"pratt", "wilcox", "zsplit"}, default "pratt"
        Zero differences in the Wilcoxon test (see Notes).
    reliability : float, optional
        r_xx for the reliable change index; None → RCI columns NaN.
    sd_ref : float, optional
        SD for the RCI; default the baseline SD of the complete pairs.
    clients : array-like, optional
        Client ids aligned with x0 for ``n`` (distinct clients); default n = pairs.

    Returns
    -------
    dict
        Keys :data:`CHANGE_COLUMNS` (except ``reliability_source``) plus
        ``t`` and ``df`` of the paired t-test.

    Notes
    -----
    ``d = x1 − x0``. Paired t: :math:`\\bar d \\pm t_{1-\\alpha/2,n-1} s_d/\\sqrt n`,
    p from ``scipy.stats.ttest_rel``. Wilcoxon signed-rank test by
    ``scipy.stats.wilcoxon`` with ``zero_method="pratt"`` by default: ASI
    scores are discrete and many clients have no change (often 0 at both
    times in an area they have no problem in); Pratt keeps these zeros when
    ranking (then drops their ranks), so the test is not conditioned on the
    changers only [3]_. Exact p-values when n ≤ 50 with no ties and no
    zeros, else the normal approximation with tie correction
    (``method="approx"``). ``dz = mean(d)/sd(d)`` with the noncentral-t CI
    (:func:`dz_ci`).

    Examples
    --------
    >>> r = paired_change([3, 4, 5, 6], [2, 4, 3, 3])
    >>> r["diff"], r["n_pairs"]
    (-1.5, 4)
    """
    return _change_row(x0, x1, alpha=alpha, zero_method=zero_method, reliability=reliability, sd_ref=sd_ref,
                       clients=clients)


def _change_row(x0, x1, *, alpha: float, zero_method: str, reliability, sd_ref, clients=None, hl=None,
                client_codes=None) -> dict:
    """:func:`paired_change` with two parts computed by the caller (``change_by_area``: every row together):
    ``hl``, ``hodges_lehmann(d, alpha)``, and ``client_codes``, the clients factorized (-1 = missing)."""
    x0 = np.asarray(x0, dtype=np.float64)
    x1 = np.asarray(x1, dtype=np.float64)
    ok = ~(np.isnan(x0) | np.isnan(x1))
    a, b = x0[ok], x1[ok]
    d = b - a
    n = int(d.size)
    res = dict.fromkeys(CHANGE_COLUMNS, np.nan)
    res.pop("reliability_source")
    res["t"], res["df"] = np.nan, np.nan
    res["n_pairs"] = n
    if client_codes is not None:   # clients factorized once by the caller (-1 = missing, not counted)
        own = client_codes[ok]
        res["n"] = int(np.unique(own[own >= 0]).size)
    else:
        res["n"] = int(pd.Series(np.asarray(clients)[ok]).nunique()) if clients is not None else n
    res["wilcoxon_method"] = ""
    res["reliability"] = reliability if reliability is not None else np.nan
    for k in ("n_improved", "n_unchanged", "n_worse"):
        res[k] = 0
    if n == 0:
        return res
    res["mean_0"], res["mean_1"] = float(a.mean()), float(b.mean())
    res["diff"] = float(d.mean())
    if n >= 2:
        sd = float(d.std(ddof=1))
        res["sd_diff"] = sd
        res["df"] = n - 1
        tq = special.stdtrit(n - 1, 1 - alpha / 2)   # what st.t.ppf(1 - alpha / 2, n - 1) computes (t._ppf)
        res["ci_low"] = res["diff"] - tq * sd / np.sqrt(n)
        res["ci_high"] = res["diff"] + tq * sd / np.sqrt(n)
        if sd > 0:
            tt = st.ttest_rel(b, a)
            res["t"], res["p_value"] = float(tt.statistic), float(tt.pvalue)
            res["dz"] = res["diff"] / sd
            res["dz_ci_low"], res["dz_ci_high"] = dz_ci(res["dz"], n, alpha)
        elif sd == 0:
            res["p_value"] = 1.0 if res["diff"] == 0 else 0.0
        nz = d[d != 0]
        if nz.size:
            ties = np.unique(np.abs(nz)).size < nz.size
            method = "exact" if (n <= 50 and not ties and nz.size == n) else "approx"
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                w = st.wilcoxon(d, zero_method=zero_method, method=method, correction=False)
            res["p_wilcoxon"] = float(w.pvalue)
            res["wilcoxon_method"] = f"{method}, zero_method={zero_method}"
        else:
            res["p_wilcoxon"] = 1.0
            res["wilcoxon_method"] = "all differences zero"
    res["hl_estimate"], res["hl_ci_low"], res["hl_ci_high"] = hodges_lehmann(d, alpha) if hl is None else hl
    sd_ref = float(a.std(ddof=1)) if sd_ref is None and n >= 2 else sd_ref
    res["sd_ref"] = sd_ref if sd_ref is not None else np.nan
    if reliability is not None and np.isfinite(reliability) and sd_ref is not None and np.isfinite(sd_ref):
        res["s_diff"] = float(np.sqrt(2.0) * sd_ref * np.sqrt(1.0 - reliability))
        cls = reliable_change(a, b, sd=sd_ref, reliability=reliability, z=st.norm.ppf(1 - alpha / 2))
        res["n_improved"] = int((cls == -1).sum())
        res["n_unchanged"] = int((cls == 0).sum())
        res["n_worse"] = int((cls == 1).sum())
        res["share_improved"] = res["n_improved"] / n
        res["share_unchanged"] = res["n_unchanged"] / n
        res["share_worse"] = res["n_worse"] / n
    return res


def _areas(pairs: pd.DataFrame, areas) -> list[str]:
    if areas is not None:
        bad = [a for a in areas if a not in AREAS]
        if bad:
            raise AsiInputError(f"okända livsområden {bad} / unknown areas")
        return list(areas)
    return [a for a in DEFAULT_AREAS
            if any(c.endswith("_0") and a in c for c in pairs.columns)]


#: Timing of the follow-ups behind a change row (days since baseline), reported beside the change.
TIMING_COLUMNS = ["days_median", "days_q1", "days_q3"]


def _timing(pairs: pd.DataFrame, ok: np.ndarray) -> dict:
    if "days" not in pairs.columns or not ok.any():
        return dict.fromkeys(TIMING_COLUMNS, np.nan)
    days = pd.to_numeric(pairs["days"], errors="coerce").to_numpy(dtype="float64")[ok]
    days = days[~np.isnan(days)]
    if not days.size:
        return dict.fromkeys(TIMING_COLUMNS, np.nan)
    q = np.percentile(days, [50, 25, 75])
    return {"days_median": float(q[0]), "days_q1": float(q[1]), "days_q3": float(q[2])}


def _reliability_for(measure: str, area: str, pairs: pd.DataFrame, reliability,
                     cache: dict) -> tuple[float | None, float | None, str]:
    """(reliability, reference SD or None = the sample's, source) for one measure and area."""
    if isinstance(reliability, RciReference):
        rel, sd, src, _ = reliability.get(measure, area)
        if rel is None:
            return None, None, (src or "saknas i den fasta referensen: ingen RCI / not in the frozen reference")
        return rel, sd, f"fast referens: {src} / frozen reference"
    if isinstance(reliability, dict):
        val = reliability.get((measure, area), reliability.get(area, reliability.get(measure)))
        if val is not None:
            return float(val), None, "angiven av användaren / given by the user"
    elif reliability is not None:
        return float(reliability), None, "angiven av användaren / given by the user"
    if (measure, area) in PUBLISHED_RELIABILITY:
        rel, src = PUBLISHED_RELIABILITY[(measure, area)]
        return float(rel), None, f"publicerad: {src} / published"
    if measure == "composite":
        # estimated once from the pairs given (change_by_group passes the total's estimate to every group)
        if "ref" not in cache:
            cache["ref"] = estimate_rci_reference(pairs, ("composite",), label="detta urval")
        rel, sd, src, _ = cache["ref"].get(measure, area)
        if rel is None:
            return None, None, src or "alfa kan inte skattas: ingen RCI / no RCI"
        low = " (låg, < 0,6: tolka RCI försiktigt)" if rel < 0.6 else ""
        return rel, sd, src + low + "; inte fryst: jämför inte andelar mellan urval / not frozen"
    return None, None, "saknas: ange reliability för RCI / none: pass reliability for the RCI"


def change_by_area(pairs: pd.DataFrame, measures=("composite", "rating", "self_days"), *, areas=None,
                   alpha: float = 0.05, zero_method: str = "pratt", reliability=None, sd=None,
                   lang: str = "sv") -> pd.DataFrame:
    """Change from baseline to follow-up per area and measure (tidy).

    Parameters
    ----------
    pairs : pandas.DataFrame
        ``Pairing.pairs`` (``<col>_0``/``<col>_1``, ``client_pid``).
    measures : sequence of str
        ``composite``, ``rating``, ``self_days`` (also ``self_troubled``,
        ``self_importance``).
    areas : sequence of str, optional
        Default: the seven standard areas present in ``pairs``.
    alpha : float, default 0.05
    zero_method : str, default "pratt"
        Passed to ``scipy.stats.wilcoxon``.
    reliability : RciReference, float or dict, optional
        r_xx for the RCI. Recommended: a frozen :class:`RciReference`
        (:func:`estimate_rci_reference` on the whole store, or published
        values), which fixes both reliability and SD, so that shares improved
        are comparable between municipalities and periods. Also: one value,
        or a dict keyed by ``(measure, area)``, ``area`` or ``measure``.
        Default: :data:`PUBLISHED_RELIABILITY`, else for composites the
        standardised alpha of the composite's own items estimated once from
        ``pairs`` as given (not frozen; the source column says so); other
        measures get no RCI unless given.
    sd : float or dict, optional
        Reference SD for the RCI (same keys); default the reference's SD,
        else the baseline SD of ``pairs``.
    lang : {"sv", "en"}

    Returns
    -------
    pandas.DataFrame
        One row per (area, measure): ``area``, ``area_label``, ``measure``,
        ``measure_label``, ``column``, :data:`CHANGE_COLUMNS`, the timing of
        the follow-ups (``days_median``, ``days_q1``, ``days_q3``: days
        since baseline, when ``pairs`` has ``days``) and ``note`` (the
        regression-to-the-mean caveat, :data:`RTM_CAVEAT`).
        ``attrs["asi"]`` carries the selection, the bortfall share of the
        pairing and what the reliability defaults were.

    Examples
    --------
    >>> pairs = pd.DataFrame({"client_pid": list("abcd"), "rating_alcohol_0": [6, 5, 7, 4],
    ...                       "rating_alcohol_1": [3, 5, 2, 4]})
    >>> change_by_area(pairs, ["rating"], areas=["alcohol"])[["area", "n", "diff"]]
          area  n  diff
    0  alcohol  4  -2.0
    """
    todo, diffs = _change_todo(pairs, measures, areas=areas, reliability=reliability, sd=sd)
    return _change_frame(pairs, todo, _hl_batch(diffs, alpha), alpha=alpha, zero_method=zero_method,
                         reliability=reliability, sd=sd, lang=lang)


def _change_by_area_each(pairs_list, measures=("composite", "rating", "self_days"), *, areas=None,
                         alpha: float = 0.05, zero_method: str = "pratt", reliability=None, sd=None,
                         lang: str = "sv") -> list[pd.DataFrame]:
    """:func:`change_by_area` of several pairings (a release: every municipality), the Hodges–Lehmann
    order statistics of all their rows found in one batch (:func:`_walsh_batch`)."""
    prep = [_change_todo(p, measures, areas=areas, reliability=reliability, sd=sd) for p in pairs_list]
    hls = _hl_batch([d for _, diffs in prep for d in diffs], alpha)
    out, at = [], 0
    for pairs, (todo, _) in zip(pairs_list, prep):
        out.append(_change_frame(pairs, todo, hls[at:at + len(todo)], alpha=alpha, zero_method=zero_method,
                                 reliability=reliability, sd=sd, lang=lang))
        at += len(todo)
    return out


def _change_inputs(pairs: pd.DataFrame, measures) -> pd.DataFrame:
    """The columns of ``pairs`` that :func:`change_by_area` reads for ``measures`` (a smaller frame to send
    to another process: the measures' ``_0``/``_1`` columns, ``client_pid`` and ``days``; attrs kept)."""
    want = {"client_pid", "days"} | {f"{measure_column(m, a)}_{k}" for m in measures for a in AREAS for k in (0, 1)}
    out = pairs[[c for c in pairs.columns if c in want]]
    out.attrs = pairs.attrs
    return out


def _change_todo(pairs, measures, *, areas, reliability, sd):
    """The rows of :func:`change_by_area` (area, measure, column, reliability, SD, source, values) and the
    differences of their complete pairs (paired_change's ``d = x1 - x0``)."""
    cache: dict = {}
    todo = []
    for area in _areas(pairs, areas):
        for m in measures:
            col = measure_column(m, area)
            c0, c1 = f"{col}_0", f"{col}_1"
            if c0 not in pairs.columns or c1 not in pairs.columns:
                continue
            rel, sd_fixed, src = _reliability_for(m, area, pairs, reliability, cache)
            sdr = sd.get((m, area), sd.get(area, sd.get(m))) if isinstance(sd, dict) else sd
            sdr = sd_fixed if sdr is None else sdr
            todo.append((area, m, col, rel, sdr, src, _num(pairs[c0]), _num(pairs[c1])))
    diffs = []
    for *_, v0, v1 in todo:
        x0, x1 = np.asarray(v0, dtype=np.float64), np.asarray(v1, dtype=np.float64)
        ok = ~(np.isnan(x0) | np.isnan(x1))
        diffs.append(x1[ok] - x0[ok])
    return todo, diffs


def _change_frame(pairs, todo, hls, *, alpha, zero_method, reliability, sd, lang) -> pd.DataFrame:
    """:func:`change_by_area`'s table from its rows and their Hodges–Lehmann estimates."""
    cb = load_codebook()
    rows = []
    codes = (np.asarray(pd.factorize(pairs["client_pid"], use_na_sentinel=True)[0], dtype=np.int64)
             if "client_pid" in pairs.columns else None)
    for (area, m, col, rel, sdr, src, v0, v1), hl in zip(todo, hls):
        r = _change_row(v0, v1, alpha=alpha, zero_method=zero_method, reliability=rel, sd_ref=sdr,
                        clients=pairs["client_pid"] if "client_pid" in pairs.columns else None, hl=hl,
                        client_codes=codes)
        r.update(_timing(pairs, ~(np.isnan(v0) | np.isnan(v1))))
        r.update(area=area, area_label=cb.areas[area]["label_sv" if lang == "sv" else "label_en"],
                 measure=m, measure_label=MEASURE_LABELS[lang].get(m, m), column=col,
                 reliability_source=src, note=RTM_CAVEAT[lang])
        rows.append(r)
    cols = ["area", "area_label", "measure", "measure_label", "column", *CHANGE_COLUMNS, *TIMING_COLUMNS, "note"]
    out = pd.DataFrame(rows).reindex(columns=cols)
    for c in ("n", "n_pairs", "n_improved", "n_unchanged", "n_worse"):
        out[c] = out[c].astype("int64")
    base = dict(pairs.attrs.get("asi", {}))
    out.attrs["asi"] = {
        "unit": "klienter", "selection": base.get("selection", "par baslinje–uppföljning"),
        "bortfall_share": base.get("bortfall_share", np.nan), "window": base.get("window"),
        "rule": base.get("rule"), "group_cols": [], "additive": False, **PUBLISH_META,
        "diff": "uppföljning − baslinje (negativ = förbättring)",
        "wilcoxon": f"zero_method={zero_method}",
        "reliability": ("fast referens (RciReference)" if isinstance(reliability, RciReference) else
                        "composite: standardiserad Cronbachs alfa för indexets egna frågor, skattad i detta urval"
                        if reliability is None else "angiven"),
        "rci_sd": ("fast referens" if isinstance(reliability, RciReference) and sd is None
                   else "baslinjens SD i urvalet" if sd is None else "angiven"),
        "rci_note": RCI_NOTE[lang],
        "caveat": RTM_CAVEAT[lang],
    }
    return out


def problem_free_change(pairs: pd.DataFrame, *, areas=None, problem_min: int = 4, free_max: int = 1,
                        alpha: float = 0.05, lang: str = "sv") -> pd.DataFrame:
    """Problem-free at follow-up among those with a problem at baseline, per area.

    Parameters
    ----------
    pairs : pandas.DataFrame
        ``Pairing.pairs`` with ``rating_<area>_0/_1``.
    problem_min, free_max : int
        Definitions of :func:`asi_lib.scores.problem_status` (rating ≥ 4 has a
        problem; ≤ 1 problem-free).

    Returns
    -------
    pandas.DataFrame
        ``area``, ``area_label``, ``n`` (clients with a problem at baseline
        and a follow-up rating), ``k`` (problem-free at follow-up), ``share``,
        ``ci_low``, ``ci_high`` (Wilson).

    Examples
    --------
    >>> pairs = pd.DataFrame({"client_pid": list("abcd"), "rating_alcohol_0": [6, 5, 7, 2],
    ...                       "rating_alcohol_1": [1, 5, 0, 0]})
    >>> problem_free_change(pairs, areas=["alcohol"])[["n", "k", "share"]]
       n  k     share
    0  3  2  0.666667
    """
    from .scores import problem_status
    from .stats import wilson_ci

    cb = load_codebook()
    names = list(areas) if areas is not None else [
        a for a in DEFAULT_AREAS if f"rating_{a}_0" in pairs.columns and f"rating_{a}_1" in pairs.columns]
    f0 = pd.DataFrame({f"rating_{a}": pairs[f"rating_{a}_0"] for a in names}, index=pairs.index)
    f1 = pd.DataFrame({f"rating_{a}": pairs[f"rating_{a}_1"] for a in names}, index=pairs.index)
    s0 = problem_status(f0, problem_min=problem_min, free_max=free_max, areas=names)
    s1 = problem_status(f1, problem_min=problem_min, free_max=free_max, areas=names)
    rows = []
    for a in names:
        has0 = s0[f"has_problem_{a}"].fillna(False).to_numpy(dtype=bool)
        known1 = s1[f"problem_free_{a}"].notna().to_numpy()
        free1 = s1[f"problem_free_{a}"].fillna(False).to_numpy(dtype=bool)
        sel = has0 & known1
        n = int(pairs.loc[sel, "client_pid"].nunique()) if "client_pid" in pairs.columns else int(sel.sum())
        k = int((sel & free1).sum())
        lo, hi = wilson_ci(k, int(sel.sum()), alpha)
        rows.append({"area": a, "area_label": cb.areas[a]["label_sv" if lang == "sv" else "label_en"],
                     "n": n, "n_pairs": int(sel.sum()), "k": k,
                     "share": k / sel.sum() if sel.sum() else np.nan, "ci_low": lo, "ci_high": hi})
    out = pd.DataFrame(rows, columns=["area", "area_label", "n", "n_pairs", "k", "share", "ci_low", "ci_high"])
    out["note"] = RTM_CAVEAT[lang]  # selected for a problem at baseline: regression to the mean at its strongest
    base = dict(pairs.attrs.get("asi", {}))
    out.attrs["asi"] = {"unit": "klienter", "additive": False, "group_cols": [],
                        "selection": (f"klienter med problem vid baslinjen (skattning ≥ {problem_min}); "
                                      f"problemfri = skattning ≤ {free_max} vid uppföljningen; "
                                      + base.get("selection", "")),
                        "bortfall_share": base.get("bortfall_share", np.nan)}
    return out


def problem_status_change(pairs: pd.DataFrame, *, areas=None, problem_min: int = 4, free_max: int = 1,
                          alpha: float = 0.05, lang: str = "sv") -> pd.DataFrame:
    """Share problem-free at baseline and at follow-up (same clients), with McNemar's test.

    Beside the conditional share of :func:`problem_free_change` (problem-free
    at follow-up among those with a problem at baseline), which on its own
    overstates improvement (regression to the mean), this compares the
    *marginal* shares of the same pairs at both times.

    Parameters
    ----------
    pairs : pandas.DataFrame
        ``Pairing.pairs`` with ``rating_<area>_0/_1``.
    areas : sequence of str, optional
    problem_min, free_max : int
        As :func:`asi_lib.scores.problem_status` (problem-free = rating ≤ 1).
    alpha : float, default 0.05
    lang : {"sv", "en"}

    Returns
    -------
    pandas.DataFrame
        Per area: ``n`` (clients), ``n_pairs`` (both ratings known),
        ``n_free_0``, ``share_free_0``, ``n_free_1``, ``share_free_1``
        (Wilson CIs ``*_ci_low/high``), ``diff`` (share_free_1 − share_free_0),
        ``n_became_free``, ``n_became_problem`` (the discordant pairs),
        ``p_mcnemar``, ``mcnemar_method``, and the conditional share
        ``n_cond_pairs``, ``k_cond``, ``cond_share`` of :func:`problem_free_change`.

    Notes
    -----
    With discordant counts :math:`b` (free → not free) and :math:`c`
    (not free → free): exact McNemar p = two-sided binomial test of
    :math:`c` in :math:`b + c` trials, p = 1/2 (when :math:`b+c < 25`), else
    :math:`\\chi^2 = (|b-c|-1)^2/(b+c)` with 1 df (continuity corrected);
    ``statsmodels.stats.contingency_tables.mcnemar`` (McNemar 1947; Agresti
    2013 §11.1).

    References
    ----------
    McNemar Q (1947). Note on the sampling error of the difference between
    correlated proportions or percentages. Psychometrika 12:153–157.
    Agresti A (2013). Categorical Data Analysis, 3rd ed. Wiley.

    Examples
    --------
    >>> pairs = pd.DataFrame({"client_pid": list("abcde"), "rating_alcohol_0": [6, 5, 7, 1, 0],
    ...                       "rating_alcohol_1": [1, 5, 0, 1, 4]})
    >>> problem_status_change(pairs, areas=["alcohol"])[["n_free_0", "n_free_1", "n_became_free", "n_became_problem"]]
       n_free_0  n_free_1  n_became_free  n_became_problem
    0         2         3              2                 1
    """
    from statsmodels.stats.contingency_tables import mcnemar

    from .stats import wilson_ci

    cb = load_codebook()
    names = list(areas) if areas is not None else [
        a for a in DEFAULT_AREAS if f"rating_{a}_0" in pairs.columns and f"rating_{a}_1" in pairs.columns]
    cond = problem_free_change(pairs, areas=names, problem_min=problem_min, free_max=free_max, alpha=alpha,
                               lang=lang).set_index("area")
    rows = []
    for a in names:
        r0, r1 = _num(pairs[f"rating_{a}_0"]), _num(pairs[f"rating_{a}_1"])
        ok = ~(np.isnan(r0) | np.isnan(r1))
        f0, f1 = (r0 <= free_max) & ok, (r1 <= free_max) & ok
        n = int(ok.sum())
        b, c = int((f0 & ~f1).sum()), int((~f0 & f1 & ok).sum())
        k0, k1 = int(f0.sum()), int(f1.sum())
        lo0, hi0 = wilson_ci(k0, n, alpha)
        lo1, hi1 = wilson_ci(k1, n, alpha)
        if b + c == 0:
            p, method = (1.0 if n else np.nan), "inga diskordanta par"
        else:
            exact = b + c < 25
            res = mcnemar(np.array([[0, b], [c, 0]]), exact=exact, correction=True)
            p, method = float(res.pvalue), ("exakt (binomial)" if exact else "chi2 med kontinuitetskorrektion")
        rows.append({"area": a, "area_label": cb.areas[a]["label_sv" if lang == "sv" else "label_en"],
                     "n": int(pairs.loc[ok, "client_pid"].nunique()) if "client_pid" in pairs.columns else n,
                     "n_pairs": n, "n_free_0": k0, "share_free_0": k0 / n if n else np.nan,
                     "share_free_0_ci_low": lo0, "share_free_0_ci_high": hi0,
                     "n_free_1": k1, "share_free_1": k1 / n if n else np.nan,
                     "share_free_1_ci_low": lo1, "share_free_1_ci_high": hi1,
                     "diff": (k1 - k0) / n if n else np.nan, "n_became_free": c, "n_became_problem": b,
                     "p_mcnemar": p, "mcnemar_method": method,
                     "n_cond_pairs": int(cond.loc[a, "n_pairs"]), "k_cond": int(cond.loc[a, "k"]),
                     "cond_share": cond.loc[a, "share"], "note": RTM_CAVEAT[lang]})
    out = pd.DataFrame(rows)
    base = dict(pairs.attrs.get("asi", {}))
    out.attrs["asi"] = {
        "unit": "klienter", "additive": False, "group_cols": [],
        "complements": {"n_free_0": "n_pairs", "n_free_1": "n_pairs", "n_became_free": "n_pairs",
                        "n_became_problem": "n_pairs", "k_cond": "n_cond_pairs"},
        "tendency_cols": ["n"],
        "selection": (f"par med intervjuarskattning vid båda tillfällena; problemfri = skattning ≤ {free_max}; "
                      + base.get("selection", "")),
        "bortfall_share": base.get("bortfall_share", np.nan), "caveat": RTM_CAVEAT[lang],
        "method": "McNemars test (statsmodels), Wilson-intervall; villkorad andel som problem_free_change"}
    return out


#: Functional (non-clinical) norms per composite for Jacobson–Truax criterion c, keyed by area:
#: ``{"mean": m, "sd": s, "source": "..."}``. Empty on purpose: no documented norm of the Swedish
#: ASI interview composites in a general population is known to the kit; criterion a is used instead.
COMPOSITE_NORMS: dict[str, dict] = {}


def clinical_significance(x0, x1, *, sd_ref: float, reliability: float, norm_mean: float | None = None,
                          norm_sd: float | None = None, clinical_mean: float | None = None,
                          alpha: float = 0.05) -> dict:
    """Jacobson–Truax clinically significant change: cut-off and recovered / improved / unchanged / worse.

    Parameters
    ----------
    x0, x1 : array-like
        Baseline and follow-up (lower = better).
    sd_ref, reliability : float
        SD of the clinical (baseline) population and reliability, as for the RCI
        (use a frozen :class:`RciReference`).
    norm_mean, norm_sd : float, optional
        A documented functional norm; then criterion c, else criterion a.
    clinical_mean : float, optional
        Mean of the clinical population (default: the baseline mean of the pairs).
    alpha : float, default 0.05

    Returns
    -------
    dict
        ``criterion`` ("c" or "a"), ``cutoff``, ``n_pairs``, ``n_recovered``
        (reliably improved and past the cut-off), ``n_improved_only``
        (reliably improved, not past), ``n_unchanged``, ``n_worse`` and
        their shares.

    Notes
    -----
    Criterion c :math:`= (s_0 M_f + s_f M_0)/(s_0 + s_f)` (clinical mean and
    SD :math:`M_0, s_0`; norm :math:`M_f, s_f`); without a norm criterion a
    :math:`= M_0 - 2 s_0` (two SDs towards health). Recovered: RCI < −z and
    :math:`x_1` below the cut-off (Jacobson & Truax 1991, pp. 13–14).

    References
    ----------
    Jacobson NS, Truax P (1991). Clinical significance: a statistical approach
    to defining meaningful change in psychotherapy research. J Consult Clin
    Psychol 59:12–19.

    Examples
    --------
    >>> r = clinical_significance([30, 30, 30, 30], [10, 22, 29, 40], sd_ref=7.5, reliability=0.88,
    ...                           norm_mean=10, norm_sd=5, clinical_mean=30)
    >>> r["criterion"], r["cutoff"], r["n_recovered"], r["n_improved_only"], r["n_unchanged"], r["n_worse"]
    ('c', 18.0, 1, 1, 1, 1)
    """
    a = np.asarray(x0, dtype=np.float64)
    b = np.asarray(x1, dtype=np.float64)
    ok = ~(np.isnan(a) | np.isnan(b))
    a, b = a[ok], b[ok]
    n = int(a.size)
    m0 = float(a.mean()) if clinical_mean is None and n else clinical_mean
    if norm_mean is not None and norm_sd is not None:
        crit, cut = "c", (sd_ref * norm_mean + norm_sd * m0) / (sd_ref + norm_sd)
    else:
        crit, cut = "a", m0 - 2.0 * sd_ref
    cls = reliable_change(a, b, sd=sd_ref, reliability=reliability, z=st.norm.ppf(1 - alpha / 2))
    rec = (cls == -1) & (b < cut)
    res = {"criterion": crit, "cutoff": float(cut), "n_pairs": n, "n_recovered": int(rec.sum()),
           "n_improved_only": int(((cls == -1) & ~rec).sum()), "n_unchanged": int((cls == 0).sum()),
           "n_worse": int((cls == 1).sum())}
    for k in ("recovered", "improved_only", "unchanged", "worse"):
        res[f"share_{k}"] = res[f"n_{k}"] / n if n else np.nan
    return res


def clinical_change_by_area(pairs: pd.DataFrame, reference: RciReference | None = None, *, areas=None,
                            norms: dict | None = None, alpha: float = 0.05, lang: str = "sv") -> pd.DataFrame:
    """Reliable and clinically significant change of the composites, per area.

    Parameters
    ----------
    pairs : pandas.DataFrame
        ``Pairing.pairs``.
    reference : RciReference, optional
        Frozen reliability and SD; default estimated from ``pairs``.
    areas : sequence of str, optional
    norms : dict, optional
        ``{area: {"mean", "sd", "source"}}``; default :data:`COMPOSITE_NORMS`
        (empty: criterion a everywhere).
    alpha : float, default 0.05
    lang : {"sv", "en"}

    Returns
    -------
    pandas.DataFrame
        Per area: ``area``, ``n``, the fields of :func:`clinical_significance`,
        ``reliability``, ``sd_ref``, ``criterion_source``.

    Examples
    --------
    >>> from asi_lib.datasets import read_dataset
    >>> from asi_lib.followup import pair_followups
    >>> t = clinical_change_by_area(pair_followups(read_dataset("demo")).pairs, areas=["alcohol"])
    >>> t.loc[0, "criterion"], bool(t.loc[0, "n_recovered"] <= t.loc[0, "n_pairs"])
    ('a', True)
    """
    cb = load_codebook()
    norms = COMPOSITE_NORMS if norms is None else norms
    ref = reference if reference is not None else estimate_rci_reference(pairs, areas=areas, label="detta urval")
    rows = []
    for area in _areas(pairs, areas):
        c0, c1 = f"composite_{area}_0", f"composite_{area}_1"
        rel, sd, _src, _ = ref.get("composite", area)
        if c0 not in pairs.columns or c1 not in pairs.columns or rel is None or sd is None:
            continue
        x0, x1 = _num(pairs[c0]), _num(pairs[c1])
        nm = norms.get(area, {})
        r = clinical_significance(x0, x1, sd_ref=sd, reliability=rel, norm_mean=nm.get("mean"),
                                  norm_sd=nm.get("sd"), alpha=alpha)
        ok = ~(np.isnan(x0) | np.isnan(x1))
        src = (f"kriterium c mot normen {nm.get('source', '')}" if r["criterion"] == "c" else
               "kriterium a (2 SD från klientgruppens medel mot friskt; ingen dokumenterad norm)")
        if r["cutoff"] <= 0:  # composites are 0–1: nobody can pass a cut-off at or below 0
            src += "; gränsen ligger under 0 och kan inte passeras: en norm (kriterium c) behövs"
        rows.append({"area": area, "area_label": cb.areas[area]["label_sv" if lang == "sv" else "label_en"],
                     "n": int(pairs.loc[ok, "client_pid"].nunique()) if "client_pid" in pairs.columns else r["n_pairs"],
                     **r, "reliability": rel, "sd_ref": sd, "criterion_source": src})
    out = pd.DataFrame(rows)
    out.attrs["asi"] = {"unit": "klienter", "group_cols": [], "additive": False, **PUBLISH_META,
                        "complements": {"n_recovered": "n_pairs", "n_improved_only": "n_pairs",
                                        "n_unchanged": "n_pairs", "n_worse": "n_pairs"},
                        "row_sums": {"n_pairs": ["n_recovered", "n_improved_only", "n_unchanged", "n_worse"]},
                        "tendency_cols": ["n"], "caveat": RTM_CAVEAT[lang], "rci_note": RCI_NOTE[lang],
                        "selection": dict(pairs.attrs.get("asi", {})).get("selection", "par baslinje–uppföljning")}
    return out
