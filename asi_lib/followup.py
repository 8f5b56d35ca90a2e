"""Pairing of follow-up interviews with their baseline (Grund or re-actualisation).

Every change figure in the kit stands on this pairing, so its rules are
explicit, configurable and documented (``docs/methods/followup.md``):

* **Baselines** are all ASI Grund interviews plus every follow-up of type
  ``reactualisation`` (a client returning less than about two years after
  Grund gets a follow-up instead of a new Grund; that interview starts a new
  episode and is the baseline for later follow-ups).
* **Each follow-up** (ordinary or re-actualisation) belongs to the latest
  baseline of the same client strictly *before* it (an interview on the same
  day as a baseline is never its outcome). A re-actualisation is therefore
  both the outcome of the earlier baseline (when inside that baseline's
  window) and the baseline of later follow-ups.
* A follow-up is an outcome of its baseline when ``window[0] <= days <=
  window[1]`` (both ends inclusive, default 90–730 days). Of several
  follow-ups in the window ``rule="last"`` (default) keeps the last,
  ``rule="first"`` the first, ``rule="target"`` the one closest to
  ``target_days`` (e.g. 182 or 365).
* A baseline's status on ``as_of``: ``followed_up`` (paired), ``missed``
  (the window has closed by ``as_of``, or a later baseline of the same
  client superseded it, without a follow-up) or ``not_yet_due`` (window still
  open).

The pairing never reads raw client identifiers and never publishes:
:meth:`Pairing.summary` is a tidy frame for :func:`asi_lib.publish.publish`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .codebook import AREAS, load_codebook
from .dataset import Dataset
from .errors import AsiInputError

__all__ = ["Pairing", "pair_followups", "pair_followups_by", "pair_columns", "UNPAIRED_REASONS", "STATUSES"]

STATUSES = ("followed_up", "missed", "not_yet_due")
UNPAIRED_REASONS = ("no_baseline", "before_baseline", "too_early", "too_late", "not_selected")

STATUS_LABELS = {
    "sv": {"followed_up": "Uppföljd", "missed": "Ej uppföljd (fönstret passerat)",
           "not_yet_due": "Ej aktuell ännu (fönstret öppet)"},
    "en": {"followed_up": "Followed up", "missed": "Missed (window passed)",
           "not_yet_due": "Not yet due (window open)"},
}
REASON_LABELS = {
    "sv": {"no_baseline": "Ingen Grund för klienten",
           "before_baseline": "Samma dag som eller före klientens Grund",
           "too_early": "För tidig (före fönstrets början)",
           "too_late": "För sen (efter fönstrets slut)",
           "not_selected": "Annan uppföljning vald enligt regeln"},
    "en": {"no_baseline": "No baseline for the client",
           "before_baseline": "Same day as or before every baseline",
           "too_early": "Too early (before the window)",
           "too_late": "Too late (after the window)",
           "not_selected": "Another follow-up chosen by the rule"},
}

#: Baseline characteristics copied without suffix into ``Pairing.pairs``.
DEMOGRAPHICS = ("sex", "age", "age_band", "main_substance", "housing", "municipality", "unit")
#: Columns that are administrative, not measurements (never suffixed).
_ADMIN = {"client_id", "client_pid", "municipality", "unit", "interview_date", "followup_type", "comment"}


def _age_band(age: pd.Series) -> pd.Series:
    """Age bands; uses ``groups.age_bands`` when present (private fallback)."""
    try:  # the groups helper owns the age bands; fall back while it is absent
        from .groups import age_bands  # type: ignore
        return age_bands(age)
    except Exception:  # noqa: BLE001 - any absence/signature mismatch → fallback
        edges = [18, 25, 35, 45, 55, 65, np.inf]
        labels = ["18–24", "25–34", "35–44", "45–54", "55–64", "65+"]
        return pd.cut(pd.to_numeric(age, errors="coerce"), bins=edges, right=False, labels=labels)


def pair_columns(grund: pd.DataFrame, uppfoljning: pd.DataFrame) -> list[str]:
    """Measurement columns present in both tables (items, ratings, scores).

    The codebook's shared Grund/Uppföljning columns minus the administrative
    ones, plus every ``composite_<area>`` column present in both frames.

    Parameters
    ----------
    grund, uppfoljning : pandas.DataFrame

    Returns
    -------
    list of str
        Codebook order, then the composites.

    Examples
    --------
    >>> g = pd.DataFrame(columns=["client_pid", "interview_date", "rating_alcohol", "composite_alcohol"])
    >>> pair_columns(g, g)
    ['rating_alcohol', 'composite_alcohol']
    """
    cb = load_codebook()
    shared = [c for c in cb.column_names("grund")
              if c in set(cb.column_names("uppfoljning")) and c not in _ADMIN]
    cols = [c for c in shared if c in grund.columns and c in uppfoljning.columns]
    cols += [f"composite_{a}" for a in AREAS
             if f"composite_{a}" in grund.columns and f"composite_{a}" in uppfoljning.columns]
    return cols


def _maybe_scores(frame: pd.DataFrame, add: bool | None) -> pd.DataFrame:
    if add is False or all(f"composite_{a}" in frame.columns for a in AREAS):
        return frame
    try:
        from .scores import add_scores  # type: ignore
    except ImportError:
        if add:
            raise AsiInputError("modulen scores saknas / asi_lib.scores is not available")
        return frame
    if add is None:  # only when every composite item is there (hand-made frames may lack them)
        cb = load_codebook()
        needed = {c.name for c in cb.columns("grund") if c.asi5_code}
        if not needed <= set(frame.columns):
            return frame
    return add_scores(frame)


@dataclass
class Pairing:
    """Result of :func:`pair_followups`.

    Made by :func:`pair_followups`; the attributes are also the constructor's
    parameters.

    Attributes
    ----------
    pairs : pandas.DataFrame
        One row per paired baseline (see :func:`pair_followups`).
    baselines : pandas.DataFrame
        One row per baseline with ``status`` ∈ followed_up / missed / not_yet_due.
    unpaired : pandas.DataFrame
        Follow-ups not used as an outcome, with ``reason``.
    params : dict
        window, rule, as_of (and ``selection``, a description of the rule).

    Examples
    --------
    >>> p = pair_followups(_example_dataset(), as_of="2026-01-01")  # a: followed up, b: missed
    >>> p
    Pairing(pairs=1, baselines=2, unpaired=0, window=(90, 730), rule='last')
    >>> p.bortfall_share()
    0.5
    """

    pairs: pd.DataFrame
    baselines: pd.DataFrame
    unpaired: pd.DataFrame
    params: dict = field(default_factory=dict)

    # ------------------------------------------------------------------
    def bortfall_share(self) -> float:
        """Share of due baselines (window closed or followed up) without follow-up.

        Notes
        -----
        ``missed / (followed_up + missed)``; baselines not yet due are left out
        of numerator and denominator. NaN when nothing is due.
        """
        st = self.baselines["status"]
        due = int(st.isin(["followed_up", "missed"]).sum())
        return float((st == "missed").sum() / due) if due else float("nan")

    def summary(self, lang: str = "sv") -> pd.DataFrame:
        """Tidy account of the pairing: the bortfall behind every change figure.

        Returns
        -------
        pandas.DataFrame
            Columns ``measure`` (code), ``label``, ``n`` (records), ``n_clients``,
            ``share`` (of all baselines for baseline statuses, of due baselines
            for ``bortfall``, of all follow-ups for follow-up reasons).
        """
        b, u, p = self.baselines, self.unpaired, self.pairs
        nb = len(b)
        n_fu = len(p) + len(u)
        L = {"sv": {"baselines": "Baslinjer (Grund/återaktualisering)",
                    "due": "Baslinjer där fönstret passerat eller uppföljda",
                    "bortfall": "Bortfall bland förfallna baslinjer",
                    "followups": "Uppföljningsintervjuer", "paired": "Uppföljningar använda som utfall"},
             "en": {"baselines": "Baselines (Grund/re-actualisation)",
                    "due": "Baselines due (window passed or followed up)",
                    "bortfall": "Attrition among due baselines",
                    "followups": "Follow-up interviews", "paired": "Follow-ups used as outcome"}}[lang]
        rows = [("baselines", L["baselines"], nb, b["client_pid"].nunique(), 1.0 if nb else np.nan)]
        for s in STATUSES:
            sel = b["status"] == s
            rows.append((s, STATUS_LABELS[lang][s], int(sel.sum()), b.loc[sel, "client_pid"].nunique(),
                         sel.sum() / nb if nb else np.nan))
        due = b["status"].isin(["followed_up", "missed"])
        rows.append(("due", L["due"], int(due.sum()), b.loc[due, "client_pid"].nunique(),
                     due.sum() / nb if nb else np.nan))
        missed = b["status"] == "missed"
        rows.append(("bortfall", L["bortfall"], int(missed.sum()), b.loc[missed, "client_pid"].nunique(),
                     self.bortfall_share()))
        rows.append(("followups", L["followups"], n_fu,
                     pd.concat([p["client_pid"], u["client_pid"]]).nunique(), 1.0 if n_fu else np.nan))
        rows.append(("paired", L["paired"], len(p), p["client_pid"].nunique(),
                     len(p) / n_fu if n_fu else np.nan))
        for r in UNPAIRED_REASONS:
            sel = u["reason"] == r
            rows.append((f"unpaired_{r}", REASON_LABELS[lang][r], int(sel.sum()),
                         u.loc[sel, "client_pid"].nunique(), sel.sum() / n_fu if n_fu else np.nan))
        out = pd.DataFrame(rows, columns=["measure", "label", "n", "n_clients", "share"])
        out["n"] = out["n"].astype("int64")
        out["n_clients"] = out["n_clients"].astype("int64")
        out.attrs["asi"] = {
            "unit": "intervjuer", "selection": self.params.get("selection", ""),
            "window": self.params.get("window"), "rule": self.params.get("rule"),
            "as_of": str(self.params.get("as_of")), "bortfall_share": self.bortfall_share(),
            "additive": False,
            # n counts records (baselines, follow-up interviews), n_clients distinct clients
            "column_labels": {"n": ("Antal (baslinjer/intervjuer)", "Number (baselines/interviews)"),
                              "n_clients": ("Antal klienter", "Clients"), "measure": ("Uppgift", "Item")},
            # rows that add up, so publish can hide one more when one is protected
            "row_sets": [
                {"key": "measure", "cols": ["n"], "sets": {
                    "baselines": list(STATUSES), "due": ["followed_up", "missed"], "bortfall": ["missed"],
                    "paired": ["followed_up"], "followups": ["paired"] + [f"unpaired_{r}" for r in UNPAIRED_REASONS]}},
                {"key": "measure", "cols": ["n_clients"], "sets": {"bortfall": ["missed"], "paired": ["followed_up"]}},
            ],
            "linked_counts": {"n": ["n_clients"]},
            # each share's denominator row: hidden with it
            "row_denominators": {"key": "measure", "count": "n", "cols": ["share"], "of": {
                **{s: "baselines" for s in (*STATUSES, "due")}, "bortfall": "due",
                **{r: "followups" for r in ["paired"] + [f"unpaired_{u}" for u in UNPAIRED_REASONS]}}},
        }
        return out

    def __repr__(self) -> str:
        return (f"Pairing(pairs={len(self.pairs)}, baselines={len(self.baselines)}, "
                f"unpaired={len(self.unpaired)}, window={self.params.get('window')}, "
                f"rule={self.params.get('rule')!r})")


def _as_dt(s: pd.Series) -> pd.Series:
    return pd.to_datetime(s).astype("datetime64[us]")


def pair_followups(ds: Dataset, *, window: tuple[int, int] = (90, 730), rule: str = "last",
                   as_of=None, add_scores: bool | None = None,
                   intervention_lead_days: int = 30, target_days: int = 182) -> Pairing:
    """Pair each baseline with its follow-up interview.

    Parameters
    ----------
    ds : Dataset
        Store-format dataset (``grund``, ``uppfoljning``, ``insatser`` used).
    window : (int, int), default (90, 730)
        Days after the baseline in which a follow-up counts as its outcome;
        both ends inclusive.
    rule : {"last", "first", "target"}, default "last"
        Which follow-up in the window is the outcome when there are several.
        ``"target"``: the one closest to ``target_days`` after the baseline
        (ties → the earlier), so that outcomes refer to one time point
        (e.g. 6 or 12 months) rather than mixing 3-month and 2-year ones;
        narrow the ``window`` around the target as well.
    target_days : int, default 182
        Target time of ``rule="target"`` (182 ≈ 6 months, 365 = 12 months).
    as_of : date-like, optional
        Reference date for baseline status. Default: the latest interview date
        in Grund and Uppföljning (the extract date is unknown to the kit).
    add_scores : bool, optional
        Add ``composite_<area>`` with :func:`asi_lib.scores.add_scores`
        (None: when the module exists and all composite items are present).
    intervention_lead_days : int, default 30
        An intervention starting up to this many days before the baseline
        counts (the insats is often registered around the Grund).

    Returns
    -------
    Pairing
        ``pairs``: one row per paired baseline with ``client_pid``,
        ``baseline_date``, ``followup_date``, ``days``, ``baseline_source``
        (grund/reactualisation), ``followup_type``, baseline demographics
        (``sex``, ``age``, ``age_band``, ``main_substance``, ``housing``,
        ``municipality``, ``unit``), every shared item/score column as
        ``<col>_0`` (baseline) and ``<col>_1`` (follow-up), ``intervention``
        (the client's first insats starting between baseline − 30 days and
        the follow-up date; ``"none"`` if none), ``completed`` (nullable
        boolean, that insats completed as planned).
        ``baselines``: one row per baseline with ``status``, ``window_end``,
        ``superseded`` (a later baseline of the client came first) and
        the follow-up date when paired.
        ``unpaired``: follow-ups not used as an outcome with ``reason``
        (no_baseline, before_baseline, too_early, too_late, not_selected),
        ``days`` to their baseline and ``used_as_baseline``.

    Notes
    -----
    ``days = followup_date − baseline_date`` in calendar days; in window iff
    ``window[0] <= days <= window[1]``. The baseline of a follow-up is the
    latest baseline (Grund or re-actualisation) of the same client with a date
    strictly before it (``pandas.merge_asof``, ``allow_exact_matches=False``).
    A baseline is ``missed`` when no follow-up is paired and either
    ``as_of > baseline_date + window[1]`` or a later baseline of the client
    exists (its later follow-ups belong to the new episode). Missing
    demographics of a re-actualisation baseline are taken from the client's
    latest Grund on or before it.

    Examples
    --------
    >>> p = pair_followups(_example_dataset(), as_of="2026-01-01")  # a: followed up, b: missed
    >>> p.pairs[["client_pid", "days", "rating_alcohol_0", "rating_alcohol_1"]]
      client_pid  days  rating_alcohol_0  rating_alcohol_1
    0          a   182                 6                 3
    >>> p.baselines["status"].tolist()
    ['followed_up', 'missed']
    """
    if rule not in ("last", "first", "target"):
        raise AsiInputError(f"okänd regel '{rule}' (last/first/target) / unknown rule")
    lo, hi = int(window[0]), int(window[1])
    if lo < 1 or hi < lo:
        raise AsiInputError(f"ogiltigt fönster {window} / invalid window (need 1 <= start <= end)")
    for name in ("grund", "uppfoljning"):
        df = getattr(ds, name)
        miss = {"client_pid", "interview_date"} - set(df.columns)
        if miss:
            raise AsiInputError(f"tabellen {name} saknar {sorted(miss)} / missing columns")

    grund = _maybe_scores(ds.grund, add_scores).copy()
    upp = _maybe_scores(ds.uppfoljning, add_scores).copy()
    grund["interview_date"] = _as_dt(grund["interview_date"])
    upp["interview_date"] = _as_dt(upp["interview_date"])
    grund["client_pid"] = grund["client_pid"].astype("str")
    upp["client_pid"] = upp["client_pid"].astype("str")
    if "followup_type" not in upp.columns:
        upp["followup_type"] = "ordinary"
    ftype = upp["followup_type"].astype("str")
    if as_of is None:
        dates = pd.concat([grund["interview_date"], upp["interview_date"]])
        as_of = dates.max() if len(dates) else pd.Timestamp("today").normalize()
    as_of = pd.Timestamp(as_of)

    meas = pair_columns(grund, upp)
    demo_cols = [c for c in ("sex", "age", "birth_year", "main_substance", "housing", "municipality", "unit")
                 if c in grund.columns or c in upp.columns]

    # ---- baselines: Grund + re-actualisations ------------------------------
    keep = list(dict.fromkeys(["client_pid", "interview_date", *demo_cols, *meas]))
    g_part = grund.reindex(columns=keep)
    g_part["baseline_source"] = "grund"
    r_part = upp.loc[ftype.eq("reactualisation").to_numpy()].reindex(columns=keep)
    r_part["baseline_source"] = "reactualisation"
    r_part["_fu_id"] = np.flatnonzero(ftype.eq("reactualisation").to_numpy())
    g_part["_fu_id"] = -1
    base = pd.concat([g_part, r_part], ignore_index=True)
    # on a tie of dates merge_asof takes the last row: put Grund last
    base["_src_order"] = (base["baseline_source"] == "grund").astype("int8")
    base = base.sort_values(["interview_date", "_src_order", "client_pid"], kind="stable").reset_index(drop=True)
    base["baseline_id"] = np.arange(len(base))
    base = base.rename(columns={"interview_date": "baseline_date"})

    # demographics of a re-actualisation baseline missing → client's latest Grund on/before
    rmask = base["baseline_source"].eq("reactualisation")
    fill_cols = [c for c in demo_cols if c in grund.columns]
    if rmask.any() and fill_cols and len(grund):
        gsrc = grund[["client_pid", "interview_date", *fill_cols]].sort_values("interview_date")
        gsrc = gsrc.rename(columns={c: f"_g_{c}" for c in fill_cols} | {"interview_date": "_gdate"})
        rb = base.loc[rmask, ["baseline_id", "client_pid", "baseline_date"]].sort_values("baseline_date")
        got = pd.merge_asof(rb, gsrc, left_on="baseline_date", right_on="_gdate", by="client_pid",
                            direction="backward").set_index("baseline_id")
        idx = base.index[rmask]
        bid = base.loc[rmask, "baseline_id"]
        for c in fill_cols:
            vals = got[f"_g_{c}"].reindex(bid.to_numpy())
            vals.index = idx
            if c == "age":
                years = ((base.loc[idx, "baseline_date"] - got["_gdate"].reindex(bid.to_numpy()).set_axis(idx))
                         .dt.days // 365.25)
                vals = vals.astype("Float64") + years.astype("Float64")
            cur = base.loc[idx, c]
            base.loc[idx, c] = cur.where(cur.notna(), vals.astype(cur.dtype) if c != "age" else vals)
    if "age" in base.columns:
        base["age_band"] = _age_band(base["age"])

    # ---- follow-ups → their baseline ---------------------------------------
    fu = upp[["client_pid", "interview_date"]].copy()
    fu["_fu_id"] = np.arange(len(upp))
    fu["followup_type"] = ftype.to_numpy()
    fu = fu.sort_values("interview_date", kind="stable")
    link = pd.merge_asof(fu, base[["client_pid", "baseline_date", "baseline_id"]],
                         left_on="interview_date", right_on="baseline_date", by="client_pid",
                         direction="backward", allow_exact_matches=False)
    link["days"] = (link["interview_date"] - link["baseline_date"]).dt.days
    has_b = link["baseline_id"].notna()
    clients_with_base = set(base["client_pid"].unique())
    reason = pd.Series(pd.NA, index=link.index, dtype="object")
    reason[~has_b & ~link["client_pid"].isin(clients_with_base)] = "no_baseline"
    reason[~has_b & link["client_pid"].isin(clients_with_base)] = "before_baseline"
    reason[has_b & (link["days"] < lo)] = "too_early"
    reason[has_b & (link["days"] > hi)] = "too_late"
    inwin = has_b & link["days"].between(lo, hi)
    cand = link.loc[inwin].sort_values(["baseline_id", "interview_date", "_fu_id"], kind="stable")
    if rule == "target":
        cand = cand.assign(_dist=(cand["days"] - int(target_days)).abs()).sort_values(
            ["baseline_id", "_dist", "interview_date", "_fu_id"], kind="stable").drop(columns="_dist")
    chosen = cand.groupby("baseline_id", sort=False).tail(1) if rule == "last" \
        else cand.groupby("baseline_id", sort=False).head(1)
    reason[inwin & ~link.index.isin(chosen.index)] = "not_selected"
    link["reason"] = reason

    # ---- pairs --------------------------------------------------------------
    b_cols = ["baseline_id", "client_pid", "baseline_date", "baseline_source",
              *[c for c in DEMOGRAPHICS if c in base.columns]]
    pb = pd.concat([base[b_cols], base[meas].add_suffix("_0")], axis=1)
    ch = chosen[["baseline_id", "_fu_id", "interview_date", "days", "followup_type"]].rename(
        columns={"interview_date": "followup_date"})
    ch["baseline_id"] = ch["baseline_id"].astype("int64")
    fvals = upp[meas].iloc[ch["_fu_id"].to_numpy()].rename(columns={c: f"{c}_1" for c in meas})
    fvals.index = ch.index
    ch = pd.concat([ch, fvals], axis=1)
    pairs = pb.merge(ch, on="baseline_id", how="inner", validate="one_to_one")
    pairs = _attach_intervention(pairs, ds.insatser, intervention_lead_days)
    lead = ["client_pid", "baseline_date", "followup_date", "days", "baseline_source", "followup_type",
            *[c for c in DEMOGRAPHICS if c in pairs.columns], "intervention", "completed"]
    ordered = lead + [c for m in meas for c in (f"{m}_0", f"{m}_1")]
    pairs = pairs.sort_values(["baseline_date", "client_pid"], kind="stable")[ordered + ["baseline_id"]]
    pairs = pairs.reset_index(drop=True)
    pairs["days"] = pairs["days"].astype("int64")

    # ---- baselines status ----------------------------------------------------
    bl = pd.concat([base[b_cols], base[meas].add_suffix("_0")], axis=1)
    nxt = bl.sort_values(["client_pid", "baseline_date", "baseline_id"]).groupby("client_pid")["baseline_date"].shift(-1)
    bl["next_baseline_date"] = nxt.reindex(bl.index)
    bl["window_start"] = bl["baseline_date"] + pd.Timedelta(days=lo)
    bl["window_end"] = bl["baseline_date"] + pd.Timedelta(days=hi)
    bl = bl.merge(pairs[["baseline_id", "followup_date"]], on="baseline_id", how="left")
    bl["superseded"] = bl["next_baseline_date"].notna() & (bl["next_baseline_date"] <= bl["window_end"]) \
        & bl["followup_date"].isna()
    status = np.where(bl["followup_date"].notna(), "followed_up",
                      np.where((as_of > bl["window_end"]) | bl["next_baseline_date"].notna(), "missed",
                               "not_yet_due"))
    bl["status"] = pd.Categorical(status, categories=list(STATUSES))
    bl = bl.sort_values(["baseline_date", "client_pid"], kind="stable").reset_index(drop=True)

    # ---- unpaired follow-ups -------------------------------------------------
    un = link.loc[link["reason"].notna(), ["_fu_id", "client_pid", "interview_date", "followup_type",
                                           "baseline_date", "days", "reason"]]
    un = un.rename(columns={"interview_date": "followup_date"})
    un["used_as_baseline"] = un["_fu_id"].isin(r_part["_fu_id"])
    for c in ("municipality", "unit"):
        if c in upp.columns:
            un[c] = upp[c].iloc[un["_fu_id"].to_numpy()].to_numpy()
    un["reason"] = pd.Categorical(un["reason"], categories=list(UNPAIRED_REASONS))
    un = un.drop(columns="_fu_id").sort_values(["followup_date", "client_pid"], kind="stable").reset_index(drop=True)

    which = {"last": "senaste", "first": "första",
             "target": f"närmast {int(target_days)} dagar"}[rule]
    selection = (f"Baslinje = Grund eller återaktualisering; uppföljning {lo}–{hi} dagar efter "
                 f"({which} i fönstret); status per {as_of.date()}")
    params = {"window": (lo, hi), "rule": rule, "as_of": as_of, "selection": selection}
    if rule == "target":
        params["target_days"] = int(target_days)
    result = Pairing(pairs=pairs, baselines=bl, unpaired=un, params=params)
    share = result.bortfall_share()
    for name, frame, unit in (("pairs", pairs, "klienter (par baslinje–uppföljning)"),
                              ("baselines", bl, "baslinjer"), ("unpaired", un, "uppföljningar")):
        frame.attrs["asi"] = {"unit": unit, "selection": selection, "window": (lo, hi), "rule": rule,
                              "as_of": str(as_of.date()), "bortfall_share": share,
                              "n_due": int(bl["status"].isin(["followed_up", "missed"]).sum()),
                              "n_missed": int((bl["status"] == "missed").sum())}
    return result


_KEY_SEP = "\x1f"   # joins a unit and a client_pid into one pairing key (never in a name or a pid)


def _with_attrs(result: Pairing) -> Pairing:
    """Set the frames' ``attrs["asi"]`` from the pairing's own rows (as :func:`pair_followups` does)."""
    p = result.params
    lo, hi = p["window"]
    st = result.baselines["status"].to_numpy()
    n_fu, n_missed = int((st == "followed_up").sum()), int((st == "missed").sum())
    share = n_missed / (n_fu + n_missed) if n_fu + n_missed else float("nan")
    for frame, unit in ((result.pairs, "klienter (par baslinje–uppföljning)"), (result.baselines, "baslinjer"),
                        (result.unpaired, "uppföljningar")):
        frame.attrs["asi"] = {"unit": unit, "selection": p["selection"], "window": (lo, hi), "rule": p["rule"],
                              "as_of": str(pd.Timestamp(p["as_of"]).date()), "bortfall_share": share,
                              "n_due": n_fu + n_missed, "n_missed": n_missed}
    return result


def pair_followups_by(ds: Dataset, by: str = "municipality", *, window: tuple[int, int] = (90, 730),
                      rule: str = "last", as_of=None, **kwargs) -> dict:
    """:func:`pair_followups` of every unit (e.g. municipality) in one pass.

    The same as ``pair_followups(ds.filter(municipality=m), ...)`` for each
    ``m``, frame for frame, but computed once over the whole dataset: a
    release pairs 290 municipalities, and one pass costs about as much as one
    of them.

    Parameters
    ----------
    ds : Dataset
    by : str, default "municipality"
        The unit column (present in ``grund``, ``uppfoljning`` and ``insatser``);
        rows without a unit belong to none.
    window, rule, as_of, **kwargs
        As :func:`pair_followups`. ``as_of`` should be given: its default is
        the latest interview in the **whole** dataset, not per unit.

    Returns
    -------
    dict of str to Pairing
        Unit → its pairing, for every unit with a baseline or a follow-up.

    Notes
    -----
    A client is a (unit, ``client_pid``) pair here: the pairing runs once
    with the key ``unit + "\\x1f" + client_pid``, so no follow-up is ever
    linked to a baseline in another unit (as in the per-unit call), and the
    rows are then split by unit. Row order, ``baseline_id`` (renumbered
    within the unit) and ``attrs`` are those of the per-unit call.

    Examples
    --------
    >>> ds = _example_dataset()
    >>> for t in (ds.grund, ds.uppfoljning):
    ...     t["municipality"] = "A"
    >>> by = pair_followups_by(ds, as_of="2026-01-01")
    >>> list(by), by["A"].baselines["status"].tolist()
    (['A'], ['followed_up', 'missed'])
    >>> by["A"].pairs.equals(pair_followups(ds, as_of="2026-01-01").pairs)
    True
    """
    from dataclasses import replace

    def keyed(df: pd.DataFrame | None) -> pd.DataFrame | None:
        if df is None or by not in df.columns or "client_pid" not in df.columns:
            return df
        df = df.loc[df[by].notna().to_numpy()].copy()
        df["client_pid"] = df[by].astype("str") + _KEY_SEP + df["client_pid"].astype("str")
        return df

    if as_of is None:
        dates = pd.concat([_as_dt(ds.grund["interview_date"]), _as_dt(ds.uppfoljning["interview_date"])])
        as_of = dates.max() if len(dates) else pd.Timestamp("today").normalize()
    kds = replace(ds, grund=keyed(ds.grund), uppfoljning=keyed(ds.uppfoljning), insatser=keyed(ds.insatser))
    whole = pair_followups(kds, window=window, rule=rule, as_of=as_of, **kwargs)

    def split(frame: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
        # one stable reordering by unit, then every unit is a contiguous slice (no per-unit take of
        # ~190 columns)
        if not len(frame):
            frame = frame.copy()
            frame.attrs = {}
            return frame, {}
        parts = frame["client_pid"].astype("str").str.partition(_KEY_SEP)
        codes, uniq = pd.factorize(parts[0], sort=True)
        order = np.argsort(codes, kind="stable")
        dtype = frame["client_pid"].dtype
        frame = frame.iloc[order].copy()
        frame.attrs = {}
        frame["client_pid"] = parts[2].iloc[order].astype(dtype).to_numpy()
        bounds = np.searchsorted(codes[order], np.arange(len(uniq) + 1))
        return frame, {str(u): (int(bounds[i]), int(bounds[i + 1])) for i, u in enumerate(uniq)}

    out = {}
    sliced = {}
    for name in ("baselines", "pairs", "unpaired"):
        sliced[name] = split(getattr(whole, name))
    bl, bl_rows = sliced["baselines"]
    pr, pr_rows = sliced["pairs"]
    un, un_rows = sliced["unpaired"]
    # baseline_id: the position in the unit's own baseline order (the global order restricted to the unit)
    ids = bl["baseline_id"].to_numpy()
    local = np.zeros(int(ids.max()) + 1 if len(ids) else 0, dtype="int64")
    for a, b in bl_rows.values():
        local[np.sort(ids[a:b])] = np.arange(b - a)
    bl["baseline_id"] = local[ids]
    pr["baseline_id"] = local[pr["baseline_id"].to_numpy()]
    for u in sorted(set(bl_rows) | set(pr_rows) | set(un_rows)):
        out[u] = _with_attrs(Pairing(
            pairs=pr.iloc[slice(*pr_rows.get(u, (0, 0)))].reset_index(drop=True),
            baselines=bl.iloc[slice(*bl_rows.get(u, (0, 0)))].reset_index(drop=True),
            unpaired=un.iloc[slice(*un_rows.get(u, (0, 0)))].reset_index(drop=True),
            params=dict(whole.params)))
    return out


def _attach_intervention(pairs: pd.DataFrame, insatser: pd.DataFrame, lead_days: int) -> pd.DataFrame:
    """First insats starting in [baseline − lead_days, follow-up] per pair."""
    pairs = pairs.copy()
    need = {"client_pid", "start_date", "intervention_type"}
    if insatser is None or not need <= set(insatser.columns) or pairs.empty:
        pairs["intervention"] = "none"
        pairs["completed"] = pd.array([pd.NA] * len(pairs), dtype="boolean")
        return pairs
    ins = insatser[[c for c in ("client_pid", "start_date", "intervention_type", "completed")
                    if c in insatser.columns]].copy()
    ins["client_pid"] = ins["client_pid"].astype("str")
    ins["start_date"] = _as_dt(ins["start_date"])
    m = pairs[["baseline_id", "client_pid", "baseline_date", "followup_date"]].merge(ins, on="client_pid")
    ok = (m["start_date"] >= m["baseline_date"] - pd.Timedelta(days=lead_days)) & (m["start_date"] <= m["followup_date"])
    m = m.loc[ok].sort_values(["baseline_id", "start_date"], kind="stable").groupby("baseline_id").head(1)
    m = m.set_index("baseline_id")
    itype = pairs["baseline_id"].map(dict(zip(m.index, m["intervention_type"].astype("str")))).astype("object")
    itype[itype.isna()] = "none"
    pairs["intervention"] = itype.astype("str")
    if "completed" in m.columns:
        comp = pd.to_numeric(m["completed"], errors="coerce")
        pairs["completed"] = pairs["baseline_id"].map(comp).map({1.0: True, 0.0: False}).astype("boolean")
    else:
        pairs["completed"] = pd.array([pd.NA] * len(pairs), dtype="boolean")
    return pairs


def _example_dataset() -> Dataset:  # doctest helper: two baselines, one followed up after 182 days
    d = pd.to_datetime
    g = pd.DataFrame({"client_pid": ["a", "b"], "interview_date": d(["2024-01-01", "2024-01-01"]),
                      "rating_alcohol": [6, 5]})
    u = pd.DataFrame({"client_pid": ["a"], "interview_date": d(["2024-07-01"]),
                      "followup_type": ["ordinary"], "rating_alcohol": [3]})
    e = pd.DataFrame({"client_pid": pd.Series([], dtype=str)})
    return Dataset(g, u, e, e)
