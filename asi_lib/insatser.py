"""UBÅT: which interventions (insatser) which clients get, and how they go.

The guidance's questions (DOMAIN.md): Which interventions do our clients
get? Do they match the needs? Do clients complete them? Are they satisfied?
Which interventions seem to work?

* :func:`interventions_by_group`: interventions per group (sex, age band,
  main substance, baseline severity band), share of clients with Wilson CI.
* :func:`completion` and :func:`termination_reasons`: completed as planned,
  and why not.
* :func:`rating_distribution` and :func:`rating_means`: client view (1–5) and
  caseworker rating (1–5).
* :func:`change_by_intervention`: change from Grund to follow-up per
  intervention (naive before/after; the groups differ at baseline, see
  :mod:`asi_lib.models` for the adjusted comparison).
* :func:`needs_vs_interventions`: baseline severity per area against the
  interventions given (tidy cross table).

An insats is linked to the client's latest Grund dated no later than
``start_date + lead_days`` (default 30 days, as in
:func:`asi_lib.followup.pair_followups`): group values and severity are the
baseline's. Interventions without such a Grund get "okänd" groups.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .bortfall import _add_group_cols, _by_list, _group_keys, _in_range, _mean_ci, _share_rows
from .groups import clip_ci
from .change import PUBLISH_META
from .codebook import load_codebook, numeric
from .errors import AsiInputError

__all__ = ["interventions_by_group", "completion", "termination_reasons", "rating_distribution",
           "rating_means", "change_by_intervention", "needs_vs_interventions", "link_baseline",
           "severity_band", "NAIVE_CAVEAT_SV", "NAIVE_CAVEAT_EN"]

LEAD_DAYS = 30
#: Interviewer-rating bands (Swedish ASI form instructions; DOMAIN.md).
SEVERITY_BANDS = {
    "sv": ["Inget problem (0–1)", "Lätt problem (2–3)", "Måttligt problem (4–5)",
           "Betydande problem (6–7)", "Extremt problem (8–9)"],
    "en": ["No problem (0–1)", "Slight problem (2–3)", "Moderate problem (4–5)",
           "Considerable problem (6–7)", "Extreme problem (8–9)"],
}
NAIVE_CAVEAT_SV = ("Förändring före–efter per insats är inte insatsens effekt: grupperna skiljer sig redan "
                   "vid grundintervjun (svårighetsgrad, ålder, kön) och höga värden sjunker ofta av sig "
                   "själva (regression mot medelvärdet). Se den justerade modellen i models.adjusted_effects.")
NAIVE_CAVEAT_EN = ("Before–after change per intervention is not its effect: the groups differ at baseline "
                   "(severity, age, sex) and high scores tend to fall anyway (regression to the mean). "
                   "See the adjusted model in models.adjusted_effects.")


def _areas(ds_grund: pd.DataFrame) -> list[str]:
    cb = load_codebook()
    return [a for a in cb.areas if f"rating_{a}" in ds_grund.columns]


def severity_band(frame: pd.DataFrame, *, lang: str = "sv") -> pd.Series:
    """Baseline severity band: the highest interviewer rating over the areas, banded.

    Parameters
    ----------
    frame : pandas.DataFrame
        Rows with ``rating_<area>`` columns (0–9; gambling's N counts as
        missing).
    lang : {"sv", "en"}

    Returns
    -------
    pandas.Series
        Ordered categorical: 0–1, 2–3, 4–5, 6–7, 8–9 (the form's pairs).

    Examples
    --------
    >>> f = pd.DataFrame({"rating_alcohol": [1, 7, 4], "rating_drugs": [0, 2, 5]})
    >>> severity_band(f, lang="en").astype(str).tolist()
    ['No problem (0–1)', 'Considerable problem (6–7)', 'Moderate problem (4–5)']
    """
    cols = [f"rating_{a}" for a in load_codebook().areas if f"rating_{a}" in frame.columns]
    if not cols:
        raise AsiInputError("inga intervjuarskattningar (rating_<område>) / no interviewer ratings")
    mx = np.column_stack([numeric(frame[c]) for c in cols])
    with np.errstate(invalid="ignore"):
        top = np.where(np.isnan(mx).all(axis=1), np.nan, np.nanmax(np.where(np.isnan(mx), -1, mx), axis=1))
    labels = SEVERITY_BANDS["sv" if lang == "sv" else "en"]
    return pd.Series(pd.cut(top, bins=[-0.5, 1.5, 3.5, 5.5, 7.5, 9.5], labels=labels, ordered=True),
                     index=frame.index, name="severity_band")


def link_baseline(ds, *, lead_days: int = LEAD_DAYS, lang: str = "sv") -> pd.DataFrame:
    """Insatser with their client's baseline Grund attached.

    Parameters
    ----------
    ds : Dataset
    lead_days : int, default 30
        The linked Grund is the latest with ``interview_date <= start_date +
        lead_days``.
    lang : {"sv", "en"}

    Returns
    -------
    pandas.DataFrame
        The insatser rows plus ``baseline_date``, the Grund's sex, age,
        ``age_band``, main_substance, housing, ``rating_<area>`` and
        ``severity_band`` (NaN when no Grund links).

    Examples
    --------
    >>> from asi_lib.dataset import Dataset
    >>> g = pd.DataFrame({"client_pid": ["a"], "interview_date": pd.to_datetime(["2024-01-10"]),
    ...                   "sex": ["female"], "rating_drugs": [6]})
    >>> i = pd.DataFrame({"client_pid": ["a", "b"], "start_date": pd.to_datetime(["2024-01-01", "2024-01-01"]),
    ...                   "intervention_type": ["cra", "cra"]})
    >>> link_baseline(Dataset(g, pd.DataFrame(), pd.DataFrame(), i))["sex"].tolist()
    ['female', nan]
    """
    ins = ds.insatser.copy()
    ins["_row"] = np.arange(len(ins))
    ins["client_pid"] = ins["client_pid"].astype("string")
    g = ds.grund
    keep = ["client_pid", "interview_date"] + [c for c in ("sex", "age", "main_substance", "housing",
                                                          "income_source", "psychiatric_contact")
                                               if c in g.columns]
    keep += [c for c in g.columns if c.startswith("rating_") or c.startswith("composite_")]
    base = g[keep].rename(columns={"interview_date": "baseline_date"}).copy()
    base["client_pid"] = base["client_pid"].astype("string")
    base["baseline_date"] = pd.to_datetime(base["baseline_date"]).astype("datetime64[us]")
    base = base.dropna(subset=["baseline_date"]).sort_values("baseline_date")
    left = ins.assign(_key=(pd.to_datetime(ins["start_date"]) + pd.Timedelta(days=lead_days)).astype("datetime64[us]"))
    ok = left["_key"].notna()
    linked = pd.merge_asof(left.loc[ok].sort_values("_key"), base, left_on="_key", right_on="baseline_date",
                           by="client_pid", direction="backward", suffixes=("", "_grund"))
    out = pd.concat([linked, left.loc[~ok]], ignore_index=True).sort_values("_row").drop(columns=["_key", "_row"])
    out = out.reset_index(drop=True)
    if "age" in out.columns:
        out = _add_group_cols(out, ["age_band"])
    if any(c.startswith("rating_") for c in out.columns):
        out["severity_band"] = severity_band(out, lang=lang)
    return out


def _select(ins: pd.DataFrame, start, end) -> pd.DataFrame:
    return ins.loc[_in_range(pd.to_datetime(ins["start_date"]), start, end)]


def _type_labels(lang: str, with_all: bool = False) -> dict:
    """Intervention type labels; ``with_all`` adds the "all interventions" row ``"__all__"``."""
    labels = load_codebook().labels("insatser", "intervention_type", lang)
    if with_all:
        labels |= {"__all__": "Alla insatser" if lang == "sv" else "All interventions"}
    return labels


def interventions_by_group(ds, by="sex", *, start=None, end=None, lead_days: int = LEAD_DAYS,
                           lang: str = "sv") -> pd.DataFrame:
    """Which interventions which groups get.

    Parameters
    ----------
    ds : Dataset
    by : str or list of str, default "sex"
        Baseline groups: ``sex``, ``age_band``, ``main_substance``,
        ``housing``, ``severity_band``, ``unit``, ``municipality``.
    start, end : date-like, optional
        Interventions starting within [start, end].
    lead_days : int, default 30
    lang : {"sv", "en"}

    Returns
    -------
    pandas.DataFrame
        Per group and ``intervention_type``: ``n`` (clients in the group with
        any intervention), ``k`` (clients with this type), ``share``,
        ``ci_low``, ``ci_high`` (Wilson), ``label``. Not additive (a client
        may have several interventions).

    Examples
    --------
    >>> from asi_lib.dataset import Dataset
    >>> g = pd.DataFrame({"client_pid": list("abcd"), "interview_date": pd.to_datetime(["2024-01-01"] * 4),
    ...                   "sex": ["male", "male", "female", "female"]})
    >>> i = pd.DataFrame({"client_pid": list("abcdd"), "start_date": pd.to_datetime(["2024-01-15"] * 5),
    ...                   "intervention_type": ["cra", "cra", "cra", "cra", "residential"]})
    >>> r = interventions_by_group(Dataset(g, pd.DataFrame(), pd.DataFrame(), i))
    >>> r.loc[r["sex"] == "female", ["intervention_type", "n", "k"]].values.tolist()
    [['cra', 2, 2], ['residential', 2, 1]]
    """
    by = _by_list(by)
    li = _select(link_baseline(ds, lead_days=lead_days, lang=lang), start, end)
    li = _group_keys(_add_group_cols(li, by), by)
    li = li.assign(intervention_type=li["intervention_type"].astype("string"))
    pairs = li.drop_duplicates(["client_pid", *by, "intervention_type"])
    if by:
        k = pairs.groupby(by + ["intervention_type"], sort=True).size().rename("k").reset_index()
        n = li.groupby(by, sort=True)["client_pid"].nunique().rename("n").reset_index()
        out = k.merge(n, on=by)
    else:
        k = pairs.groupby("intervention_type", sort=True).size().rename("k").reset_index()
        out = k.assign(n=li["client_pid"].nunique())
    out["label"] = out["intervention_type"].map(_type_labels(lang))
    out = out[by + ["intervention_type", "label", "n", "k"]].astype({"n": "int64", "k": "int64"})
    out = _share_rows(out, "k")
    out.attrs["asi"] = {"unit": "klienter", "measure": "insatser_per_grupp", "group_cols": by,
                        "selection": "klienter med insats (UBÅT) som startat i perioden; grupp från grundintervjun",
                        "additive": False}
    return out


def _ended(ds, start, end, by, lead_days, lang) -> pd.DataFrame:
    """Ended interventions with a completion answer; latest per client and type."""
    li = _select(link_baseline(ds, lead_days=lead_days, lang=lang), start, end)
    li = _group_keys(_add_group_cols(li, by), by)
    comp = pd.Series(numeric(li["completed"]), index=li.index)
    li = li.assign(_completed=comp, intervention_type=li["intervention_type"].astype("string"))
    li = li.loc[comp.notna()].sort_values("start_date", kind="stable")
    return li.drop_duplicates(["client_pid", "intervention_type", *by], keep="last")


def completion(ds, by=None, *, start=None, end=None, lead_days: int = LEAD_DAYS,
               lang: str = "sv") -> pd.DataFrame:
    """Completion as planned per intervention type (and group).

    Parameters
    ----------
    ds : Dataset
    by : str or list of str, optional
        Grouping from the client's baseline (e.g. ``"sex"``, ``"municipality"``).
    start, end : date-like, optional
        Interventions starting within [start, end].
    lead_days : int, default 30
        An intervention starting up to this many days before a Grund is
        linked to that Grund (:func:`link_baseline`).
    lang : {"sv", "en"}
        Language of the labels.

    Returns
    -------
    pandas.DataFrame
        Per group and intervention type (plus ``"__all__"``): ``n`` (clients
        with an ended intervention of that type whose completion is
        recorded), ``k`` (completed as planned), ``share`` with Wilson CI.

    Notes
    -----
    Ongoing interventions (``completed`` empty) are left out; each client
    counts once per type (latest start).

    Examples
    --------
    >>> from asi_lib.dataset import Dataset
    >>> i = pd.DataFrame({"client_pid": list("abcd"), "start_date": pd.to_datetime(["2024-01-15"] * 4),
    ...                   "intervention_type": ["cra"] * 4, "completed": pd.array([1, 1, 0, pd.NA], dtype="Int16")})
    >>> g = pd.DataFrame({"client_pid": pd.Series([], dtype="string"), "interview_date": pd.to_datetime([])})
    >>> r = completion(Dataset(g, pd.DataFrame(), pd.DataFrame(), i))
    >>> r.loc[r["intervention_type"] == "cra", ["n", "k"]].values.tolist()
    [[3, 2]]
    """
    by = _by_list(by)
    e = _ended(ds, start, end, by, lead_days, lang)
    per = e.groupby(by + ["intervention_type"], sort=True).agg(n=("_completed", "size"), k=("_completed", "sum"))
    per = per.reset_index()
    tot = (e.groupby(by, sort=True).agg(n=("_completed", "size"), k=("_completed", "sum")).reset_index()
           if by else pd.DataFrame({"n": [len(e)], "k": [e["_completed"].sum()]}))
    tot["intervention_type"] = "__all__"
    out = pd.concat([per, tot], ignore_index=True)
    labels = _type_labels(lang, with_all=True)
    out["label"] = out["intervention_type"].map(labels)
    out = out[by + ["intervention_type", "label", "n", "k"]].astype({"n": "int64", "k": "int64"})
    out = _share_rows(out, "k")
    out.attrs["asi"] = {"unit": "klienter", "measure": "genomford_enligt_plan", "group_cols": by,
                        "selection": "avslutade insatser med svar om genomförande, senaste per klient och insats",
                        "additive": False}
    return out


def termination_reasons(ds, by=None, *, start=None, end=None, lead_days: int = LEAD_DAYS,
                        lang: str = "sv") -> pd.DataFrame:
    """Why interventions were not completed, per intervention type.

    Parameters
    ----------
    ds, by, start, end, lead_days, lang
        As in :func:`completion`.

    Returns
    -------
    pandas.DataFrame
        Per group, intervention type and ``reason`` (every codebook reason,
        also k = 0, plus ``"__missing__"`` when not given): ``n``
        (not-completed interventions), ``k``, ``share``, ``ci_low``,
        ``ci_high``, ``label``. Additive within a type.

    Examples
    --------
    >>> from asi_lib.dataset import Dataset
    >>> i = pd.DataFrame({"client_pid": list("abc"), "start_date": pd.to_datetime(["2024-01-15"] * 3),
    ...                   "intervention_type": ["cra"] * 3, "completed": pd.array([0, 0, 1], dtype="Int16"),
    ...                   "termination_reason": ["relapse", "client_moved", pd.NA]})
    >>> g = pd.DataFrame({"client_pid": pd.Series([], dtype="string"), "interview_date": pd.to_datetime([])})
    >>> r = termination_reasons(Dataset(g, pd.DataFrame(), pd.DataFrame(), i))
    >>> r.loc[r["reason"] == "relapse", ["n", "k", "share"]].values.tolist()
    [[2.0, 1.0, 0.5]]
    """
    by = _by_list(by)
    cb = load_codebook()
    codes = list(cb.codelist("termination_reason")) + ["__missing__"]
    e = _ended(ds, start, end, by, lead_days, lang)
    e = e.loc[e["_completed"] == 0]
    reason = e["termination_reason"].astype("string").fillna("__missing__") if "termination_reason" in e \
        else pd.Series("__missing__", index=e.index)
    e = e.assign(reason=pd.Categorical(reason, categories=codes))
    keys = by + ["intervention_type"]
    k = e.groupby(keys + ["reason"], sort=True, observed=False).size().rename("k").reset_index()
    n = e.groupby(keys, sort=True).size().rename("n").reset_index()
    out = k.merge(n, on=keys, how="inner")
    out["reason"] = out["reason"].astype("string")
    labels = cb.labels("insatser", "termination_reason", lang) | {
        "__missing__": "Orsak ej angiven" if lang == "sv" else "Reason not given"}
    out["label"] = out["reason"].map(labels)
    out = out[keys + ["reason", "label", "n", "k"]].astype({"n": "int64", "k": "int64"})
    out = _share_rows(out, "k")
    out.attrs["asi"] = {"unit": "klienter", "measure": "orsak_ej_genomford", "group_cols": keys,
                        "category_col": "reason", "additive": True,
                        "selection": "insatser som inte genomförts enligt plan, senaste per klient och insats"}
    return out


_RATINGS = ("client_view", "caseworker_rating")


def _rated(ds, start, end, by, lead_days, lang) -> pd.DataFrame:
    li = _select(link_baseline(ds, lead_days=lead_days, lang=lang), start, end)
    li = _group_keys(_add_group_cols(li, by), by)
    li = li.assign(intervention_type=li["intervention_type"].astype("string"))
    return li.sort_values("start_date", kind="stable")


def rating_distribution(ds, by=None, *, start=None, end=None, lead_days: int = LEAD_DAYS,
                        lang: str = "sv") -> pd.DataFrame:
    """Distribution (1–5) of the client's view and the caseworker's rating.

    Parameters
    ----------
    ds, by, start, end, lead_days, lang
        As in :func:`completion`.

    Returns
    -------
    pandas.DataFrame
        Per group, intervention type (plus ``"__all__"``), ``measure``
        (client_view / caseworker_rating) and ``level`` 1–5: ``n`` (clients
        with an answer), ``k``, ``share`` with Wilson CI, ``label``. X ("not
        answered") counts as missing. Additive within a measure.

    Examples
    --------
    >>> from asi_lib.dataset import Dataset
    >>> i = pd.DataFrame({"client_pid": list("abcd"), "start_date": pd.to_datetime(["2024-01-15"] * 4),
    ...                   "intervention_type": ["cra"] * 4, "client_view": pd.array([5, 4, 4, -8], dtype="Int16"),
    ...                   "caseworker_rating": pd.array([3, 3, 3, 3], dtype="Int16")})
    >>> g = pd.DataFrame({"client_pid": pd.Series([], dtype="string"), "interview_date": pd.to_datetime([])})
    >>> r = rating_distribution(Dataset(g, pd.DataFrame(), pd.DataFrame(), i))
    >>> r.query("intervention_type == 'cra' and measure == 'client_view' and level == 4")[["n", "k"]].values.tolist()
    [[3, 2]]
    """
    by = _by_list(by)
    cb = load_codebook()
    li = _rated(ds, start, end, by, lead_days, lang)
    parts = []
    for m in _RATINGS:  # two measures
        if m not in li.columns:
            continue
        v = pd.Series(numeric(li[m]), index=li.index)
        sub = li.assign(_v=v).loc[v.notna()].drop_duplicates(["client_pid", "intervention_type", *by], keep="last")
        both = pd.concat([sub, sub.assign(intervention_type="__all__").drop_duplicates(["client_pid", *by],
                                                                                       keep="last")])
        both = both.assign(level=pd.Categorical(both["_v"].astype("int64"), categories=[1, 2, 3, 4, 5]))
        keys = by + ["intervention_type"]
        k = both.groupby(keys + ["level"], sort=True, observed=False).size().rename("k").reset_index()
        n = both.groupby(keys, sort=True).size().rename("n").reset_index()
        d = k.merge(n, on=keys)
        d["level"] = d["level"].astype("int64")
        d["measure"] = m
        lab = cb.labels("insatser", m, lang)
        d["label"] = d["level"].map(lab)
        parts.append(d)
    out = pd.concat(parts, ignore_index=True)
    labels = _type_labels(lang, with_all=True)
    out["intervention_label"] = out["intervention_type"].map(labels)
    keys = by + ["intervention_type", "intervention_label", "measure", "level", "label"]
    out = out[keys + ["n", "k"]].astype({"n": "int64", "k": "int64"})
    out = _share_rows(out, "k")
    out.attrs["asi"] = {"unit": "klienter", "measure": "ubat_bedomningar", "group_cols": by + ["intervention_type",
                        "measure"], "category_col": "level", "additive": True,
                        "selection": "insatser med svar, senaste per klient och insats"}
    return out


def rating_means(ds, by=None, *, start=None, end=None, lead_days: int = LEAD_DAYS,
                 lang: str = "sv") -> pd.DataFrame:
    """Mean client view and caseworker rating (1–5) with t-based CI.

    Parameters
    ----------
    ds, by, start, end, lead_days, lang
        As in :func:`completion`.

    Returns
    -------
    pandas.DataFrame
        Per group, intervention type (plus ``"__all__"``) and measure: ``n``,
        ``n_missing`` (X or empty), ``mean``, ``sd``, ``median``,
        ``ci_low``, ``ci_high``.

    Examples
    --------
    >>> from asi_lib.dataset import Dataset
    >>> i = pd.DataFrame({"client_pid": list("abc"), "start_date": pd.to_datetime(["2024-01-15"] * 3),
    ...                   "intervention_type": ["cra"] * 3, "client_view": pd.array([5, 4, 3], dtype="Int16")})
    >>> g = pd.DataFrame({"client_pid": pd.Series([], dtype="string"), "interview_date": pd.to_datetime([])})
    >>> r = rating_means(Dataset(g, pd.DataFrame(), pd.DataFrame(), i))
    >>> r.loc[r["intervention_type"] == "cra", ["n", "mean", "sd"]].values.tolist()
    [[3.0, 4.0, 1.0]]
    """
    by = _by_list(by)
    li = _rated(ds, start, end, by, lead_days, lang)
    li = li.drop_duplicates(["client_pid", "intervention_type", *by], keep="last")
    parts = []
    keys = by + ["intervention_type"]
    for m in _RATINGS:  # two measures
        if m not in li.columns:
            continue
        v = pd.Series(numeric(li[m]), index=li.index)
        sub = li.assign(_v=v)
        both = pd.concat([sub, sub.assign(intervention_type="__all__")], ignore_index=True)
        g = both.groupby(keys, sort=True)["_v"]
        d = pd.DataFrame({"n": g.count(), "n_missing": g.size() - g.count(), "mean": g.mean(),
                          "sd": g.std(ddof=1), "median": g.median()}).reset_index()
        d["measure"] = m
        parts.append(d)
    out = pd.concat(parts, ignore_index=True)
    out["ci_low"], out["ci_high"] = clip_ci(*_mean_ci(out["mean"], out["sd"], out["n"]), out["measure"])  # 1–5
    cb = load_codebook()
    out["label"] = out["measure"].map({m: cb.column("insatser", m).label(lang) for m in _RATINGS})
    labels = _type_labels(lang, with_all=True)
    out["intervention_label"] = out["intervention_type"].map(labels)
    out = out[keys + ["intervention_label", "measure", "label", "n", "n_missing", "mean", "sd", "median",
                      "ci_low", "ci_high"]]
    out.attrs["asi"] = {"unit": "klienter", "measure": "ubat_medel", "group_cols": keys + ["measure"],
                        "selection": "insatser, senaste per klient och insats", "additive": False}
    return out


def _paired_change(pairs: pd.DataFrame, measures, areas, by: list[str]) -> pd.DataFrame:
    """Private minimal paired change per group (used only when change.py is absent)."""
    rows = []
    for area in areas:  # a handful of areas × measures
        for meas in measures:
            col = f"{meas}_{area}"
            if f"{col}_0" not in pairs.columns:
                continue
            d = pd.DataFrame({k: pairs[k] for k in by})
            d["x0"] = numeric(pairs[f"{col}_0"])
            d["x1"] = numeric(pairs[f"{col}_1"])
            d = d.dropna(subset=["x0", "x1"]).assign(delta=lambda f: f["x1"] - f["x0"])
            g = d.groupby(by, sort=True, observed=True)
            s = pd.DataFrame({"n": g.size(), "mean_0": g["x0"].mean(), "mean_1": g["x1"].mean(),
                              "diff": g["delta"].mean(), "sd_diff": g["delta"].std(ddof=1)}).reset_index()
            s["ci_low"], s["ci_high"] = _mean_ci(s["diff"], s["sd_diff"], s["n"])
            s["area"], s["measure"] = area, meas
            rows.append(s)
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()


def change_by_intervention(pairing, *, measures=("composite",), areas=None, reliability=None,
                           lang: str = "sv") -> pd.DataFrame:
    """Naive before/after change per intervention (with the baseline caveat).

    Parameters
    ----------
    pairing : followup.Pairing
        From :func:`asi_lib.followup.pair_followups`; ``pairs`` has
        ``intervention``.
    measures : tuple of str, default ("composite",)
        ``composite`` and/or ``rating`` (columns ``<measure>_<area>_0/_1``).
    areas : list of str, optional
        Default: every area with data.
    reliability : asi_lib.change.RciReference, optional
        Frozen RCI reference (reliability and SD). Default: estimated once
        from all pairs and used for every intervention, so that the shares
        improved are comparable between interventions.
    lang : {"sv", "en"}

    Returns
    -------
    pandas.DataFrame
        Per intervention, area and measure: ``n`` pairs, mean at baseline and
        follow-up, mean change with CI (columns as
        :func:`asi_lib.change.change_by_area` when it exists), plus
        ``bortfall_share`` (share of due baselines not followed up) and
        ``note`` with the caveat. ``attrs["asi"]["caveat"]`` says the groups
        differ at baseline; see :func:`asi_lib.models.adjusted_effects`.

    Examples
    --------
    >>> from asi_lib.followup import Pairing
    >>> pairs = pd.DataFrame({"intervention": ["cra"] * 3, "rating_alcohol_0": [6, 5, 7],
    ...                       "rating_alcohol_1": [3, 4, 4]})
    >>> base = pd.DataFrame({"status": ["followed_up"] * 3 + ["missed"]})
    >>> p = Pairing(pairs=pairs, baselines=base, unpaired=pd.DataFrame(), params={})
    >>> r = change_by_intervention(p, measures=("rating",), areas=["alcohol"])
    >>> float(r["bortfall_share"].iloc[0])
    0.25
    """
    pairs = pairing.pairs
    if "intervention" not in pairs.columns:
        raise AsiInputError("paren saknar kolumnen 'intervention' / pairs lack 'intervention'")
    cb = load_codebook()
    if areas is None:
        areas = [a for a in cb.areas if any(f"{m}_{a}_0" in pairs.columns for m in measures)]
    res = None
    try:
        from .change import change_by_area, estimate_rci_reference
    except ImportError:
        change_by_area = None
    if change_by_area is not None:
        parts = []
        if reliability is None:
            reliability = estimate_rci_reference(pairs, ("composite",), areas=list(areas), label="alla par")
        for iv, sub in pairs.groupby(pairs["intervention"].astype("string"), sort=True):  # ~10 types
            r = change_by_area(sub, measures=tuple(measures), areas=list(areas), reliability=reliability, lang=lang)
            parts.append(r.assign(intervention=iv))
        res = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
        res = res[["intervention"] + [c for c in res.columns if c != "intervention"]]
    else:
        res = _paired_change(pairs.assign(intervention=pairs["intervention"].astype("string")),
                             measures, areas, ["intervention"])
    st = pairing.baselines["status"].astype("string")
    due = st.isin(["followed_up", "missed"]).sum()
    share = float((st == "missed").sum() / due) if due else np.nan
    caveat = NAIVE_CAVEAT_SV if lang == "sv" else NAIVE_CAVEAT_EN
    labels = _type_labels(lang) | {"none": "Ingen registrerad insats" if lang == "sv" else "No intervention recorded"}
    res["intervention_label"] = res["intervention"].map(labels)
    res["bortfall_share"] = share
    res["note"] = caveat
    res.attrs["asi"] = {"unit": "klienter (par baslinje–uppföljning)", "measure": "forandring_per_insats",
                        "group_cols": ["intervention"], "bortfall_share": share, "caveat": caveat,
                        "selection": pairs.attrs.get("asi", {}).get("selection", "parade grund–uppföljning"),
                        "additive": False, **PUBLISH_META}
    return res


def needs_vs_interventions(ds, *, problem_min: int = 4, start=None, end=None, lead_days: int = LEAD_DAYS,
                           lang: str = "sv") -> pd.DataFrame:
    """Baseline severity per area against the interventions given.

    Parameters
    ----------
    ds : Dataset
    problem_min : int, default 4
        "Has a problem" in an area: interviewer rating ≥ 4 ("moderate, some
        help indicated"), the kit's default problem definition.
    start, end : date-like, optional
        Interventions starting within [start, end].
    lead_days : int, default 30
    lang : {"sv", "en"}

    Returns
    -------
    pandas.DataFrame
        Tidy cross table, one row per (intervention type incl. ``"__all__"``,
        area): ``n`` (clients with that intervention and a rated baseline in
        the area), ``k`` (with a problem), ``share``, ``ci_low``, ``ci_high``
        (Wilson), ``mean_rating``, ``sd_rating``, ``rating_ci_low``,
        ``rating_ci_high`` (t).

    Examples
    --------
    >>> from asi_lib.dataset import Dataset
    >>> g = pd.DataFrame({"client_pid": list("abc"), "interview_date": pd.to_datetime(["2024-01-01"] * 3),
    ...                   "rating_alcohol": [7, 5, 1], "rating_drugs": [0, 1, 8]})
    >>> i = pd.DataFrame({"client_pid": list("abc"), "start_date": pd.to_datetime(["2024-01-10"] * 3),
    ...                   "intervention_type": ["twelve_step", "twelve_step", "cra"]})
    >>> r = needs_vs_interventions(Dataset(g, pd.DataFrame(), pd.DataFrame(), i))
    >>> r.query("intervention_type == 'twelve_step'")[["area", "n", "k", "mean_rating"]].values.tolist()
    [['alcohol', 2, 2, 6.0], ['drugs', 2, 0, 0.5]]
    """
    cb = load_codebook()
    li = _select(link_baseline(ds, lead_days=lead_days, lang=lang), start, end)
    li = li.assign(intervention_type=li["intervention_type"].astype("string"))
    li = li.drop_duplicates(["client_pid", "intervention_type"], keep="last")
    areas = [a for a in cb.areas if f"rating_{a}" in li.columns]
    both = pd.concat([li, li.assign(intervention_type="__all__").drop_duplicates("client_pid", keep="last")],
                     ignore_index=True)
    long = pd.DataFrame({
        "intervention_type": np.repeat(both["intervention_type"].to_numpy(), len(areas)),
        "area": np.tile(areas, len(both)),
        "rating": np.column_stack([numeric(both[f"rating_{a}"]) for a in areas]).ravel() if areas else [],
    }).dropna(subset=["rating"])
    long["problem"] = long["rating"] >= problem_min
    g = long.groupby(["intervention_type", "area"], sort=True)
    out = pd.DataFrame({"n": g.size(), "k": g["problem"].sum(), "mean_rating": g["rating"].mean(),
                        "sd_rating": g["rating"].std(ddof=1)}).reset_index()
    out = out.astype({"n": "int64", "k": "int64"})
    out = _share_rows(out, "k")
    out["rating_ci_low"], out["rating_ci_high"] = _mean_ci(out["mean_rating"], out["sd_rating"], out["n"])
    labels = _type_labels(lang, with_all=True)
    out["intervention_label"] = out["intervention_type"].map(labels)
    out["area_label"] = out["area"].map({a: v["label_sv" if lang == "sv" else "label_en"] for a, v in cb.areas.items()})
    out = out[["intervention_type", "intervention_label", "area", "area_label", "n", "k", "share", "ci_low",
               "ci_high", "mean_rating", "sd_rating", "rating_ci_low", "rating_ci_high"]]
    out.attrs["asi"] = {"unit": "klienter", "measure": "behov_mot_insatser",
                        "group_cols": ["intervention_type", "area"], "problem_min": problem_min,
                        "selection": f"klienter med insats och grundintervju; problem = intervjuarskattning ≥ {problem_min}",
                        "additive": False}
    return out
