"""An interactive overview for managers (Voilà), scoped to one municipality.

The widget logic lives here, in the library, so it is importable and testable
without a browser; ``notebooks/dashboard/oversikt.ipynb`` only builds a
:class:`Dashboard` and displays it. This is the only library module that
imports ipywidgets (lazily, when the widgets are built).

What the manager can choose
---------------------------
* **period**: a calendar year of the municipality's own data, or all years;
* **group by**: sex, age band, young adults (18–30 / 31+), main substance,
  housing, unit;
* **area**: one of the eight life areas;
* **view**: the problem profile, *compared with the others* (the rest of the
  region), follow-up change, or bortfall.

On every change the view is recomputed with the library's own functions
(:func:`asi_lib.groups.profile`, :func:`asi_lib.compare.compare_one_vs_rest`,
:func:`asi_lib.change.change_by_area`, :func:`asi_lib.bortfall.grund_bortfall`,
:func:`asi_lib.bortfall.followup_bortfall`), the table shown is the
**published** one (:func:`asi_lib.publish.publish`: ``<5``, ``..``,
"Endast tendenser"), and the plot is drawn only from the rows whose
statistics the published table shows.

Scoping
-------
A dashboard built with ``municipality="X"`` keeps the region only to compute
"X compared with the others": every table and plot shows X's own rows, and
the others only as one aggregate ("övriga kommuner", "hela regionen"). No
widget selects a municipality; period and group values are taken from X's
own data, so no option label carries another municipality's unit or name.
"""
from __future__ import annotations

import html
import io
import time
from dataclasses import dataclass, field
from urllib.parse import parse_qs

import numpy as np
import pandas as pd

from . import bortfall as bortfall_mod
from . import change as change_mod
from . import compare as compare_mod
from . import followup, groups, scores
from .codebook import AREAS, load_codebook
from .dataset import Dataset
from .errors import AsiInputError
from .publish import EMPTY, HIDDEN, TOTAL, publish
from .safe import mpl_text

__all__ = ["Dashboard", "ViewResult", "ALL", "GROUPS", "VIEWS", "allowed_municipalities",
           "municipality_from_query", "resolve_municipality", "open_dashboard", "QUERY_KEY", "REFUSAL",
           "ENV_MUNICIPALITIES", "configured_municipalities"]

#: Grouping options: column → (Swedish, English) label.
GROUPS: dict[str, tuple[str, str]] = {
    "sex": ("Kön", "Sex"),
    "age_band": ("Åldersgrupp", "Age group"),
    "young_adults": ("Unga vuxna (18–30) / äldre", "Young adults (18–30) / older"),
    "main_substance": ("Huvudpreparat", "Main substance"),
    "housing": ("Boende", "Housing"),
    "unit": ("Enhet", "Unit"),
}
#: Views: key → (Swedish, English) label.
VIEWS: dict[str, tuple[str, str]] = {
    "profile": ("Problemprofil", "Problem profile"),
    "compare": ("Jämfört med övriga", "Compared with the others"),
    "change": ("Förändring vid uppföljning", "Change at follow-up"),
    "bortfall": ("Bortfall", "Attrition"),
}
#: Period value of "all years" in the dropdown (ipywidgets reads a None value as "nothing selected").
ALL = "all"
#: Query-string key naming the municipality (``?kommun=Älvstad``).
QUERY_KEY = "kommun"
#: Environment variable restricting a server instance to some municipalities (comma-separated);
#: set by the dashboard server (``AsiVoila.municipalities`` in ``notebooks/dashboard/voila.json``).
ENV_MUNICIPALITIES = "ASI_DASHBOARD_KOMMUNER"
#: Shown instead of the dashboard when the municipality is missing or not allowed.
REFUSAL = {
    "sv": ("Kommunen saknas eller finns inte i materialet. Öppna översikten med en giltig "
           "kommun i adressen, t.ex. ?kommun=Namn. Inga uppgifter visas."),
    "en": ("The municipality is missing or not in the data. Open the overview with a valid "
           "municipality in the address, e.g. ?kommun=Name. Nothing is shown."),
}
_T = {
    "sv": {"period": "Period", "group": "Dela upp på", "area": "Livsområde", "view": "Visa",
           "all_years": "Alla år", "region": "Hela regionen", "others": "övriga kommuner",
           "own": "kommunen", "title": "ASI-översikt", "clients": "klienter",
           "n_label": "Klienter i urvalet", "bortfall": "Bortfall vid uppföljning",
           "of_due": "av {n} förfallna", "tend": "Endast tendenser",
           "tend_rows": "{k} av {m} rader bygger på färre än {t} klienter: inga slutsatser, bara tendenser.",
           "empty": "Inga uppgifter för det här urvalet.", "selection": "Urval",
           "baseline": "Baslinje", "followup": "Uppföljning", "grund_bf": "Bortfall Grund",
           "fu_bf": "Bortfall uppföljning", "mean": "Medelvärde", "share": "Andel",
           "total": "Totalt", "not_applicable": "(används inte i den här vyn)",
           "error": "Det gick inte att räkna fram tabellen: {e}"},
    "en": {"period": "Period", "group": "Group by", "area": "Life area", "view": "Show",
           "all_years": "All years", "region": "Whole region", "others": "other municipalities",
           "own": "the municipality", "title": "ASI overview", "clients": "clients",
           "n_label": "Clients in the selection", "bortfall": "Attrition at follow-up",
           "of_due": "of {n} due", "tend": "Tendencies only",
           "tend_rows": "{k} of {m} rows rest on fewer than {t} clients: no conclusions, tendencies only.",
           "empty": "No data for this selection.", "selection": "Selection",
           "baseline": "Baseline", "followup": "Follow-up", "grund_bf": "Attrition at baseline",
           "fu_bf": "Attrition at follow-up", "mean": "Mean", "share": "Share",
           "total": "Total", "not_applicable": "(not used in this view)",
           "error": "The table could not be computed: {e}"},
}
_CHANGE_KEEP = ["n", "n_pairs", "mean_0", "mean_1", "diff", "ci_low", "ci_high", "p_wilcoxon", "dz",
                "n_improved", "n_unchanged", "n_worse", "share_improved", "share_unchanged", "share_worse"]
_COMPARE_KEEP = ["measure", "n_unit", "n_rest", "mean_unit", "mean_rest", "mean_region", "diff",
                 "diff_ci_low", "diff_ci_high", "p_adj", "hedges_g", "tendency",
                 "share_women_unit", "share_women_rest", "mean_age_unit", "mean_age_rest"]


# --------------------------------------------------------------------------- allowlist
def allowed_municipalities(ds: Dataset) -> list[str]:
    """Municipalities present in the dataset (the allowlist of the query parameter).

    Examples
    --------
    >>> from asi_lib.datasets import read_dataset
    >>> len(allowed_municipalities(read_dataset("demo", n_clients=200))) > 1
    True
    """
    names: set[str] = set()
    for t in ("grund", "uppfoljning", "bortfall"):
        frame = getattr(ds, t)
        if "municipality" in frame.columns:
            names |= {str(x) for x in frame["municipality"].dropna().unique()}
    return sorted(names)


def municipality_from_query(query: str | None, allowed) -> str | None:
    """The municipality named in a query string, if it is on the allowlist.

    Parameters
    ----------
    query : str or None
        The raw query string (``"kommun=%C3%84lvstad"``), with or without ``?``.
    allowed : iterable of str
        Names allowed (see :func:`allowed_municipalities`).

    Returns
    -------
    str or None
        The exact allowed name, or None when the key is missing, repeated
        with different values, or names anything else.

    Examples
    --------
    >>> municipality_from_query("kommun=%C3%84lvstad", ["Älvstad", "Björkhamn"])
    'Älvstad'
    >>> municipality_from_query("kommun=Stockholm", ["Älvstad"]) is None
    True
    >>> municipality_from_query("kommun=<script>", ["Älvstad"]) is None
    True
    """
    if not query:
        return None
    values = parse_qs(str(query).lstrip("?"), keep_blank_values=True).get(QUERY_KEY, [])
    if len(set(values)) != 1:
        return None
    value = values[0].strip()
    return value if value in set(allowed) else None


def configured_municipalities(value: str | None = None) -> list[str] | None:
    """The municipalities this server instance may show (``ASI_DASHBOARD_KOMMUNER``).

    Parameters
    ----------
    value : str, optional
        The variable's value; default read from the environment.

    Returns
    -------
    list of str or None
        Names (comma-separated, surrounding spaces removed), or None when the
        variable is unset or empty: no restriction beyond the data's own
        allowlist (:func:`allowed_municipalities`).

    Examples
    --------
    >>> configured_municipalities("Älvstad, Björkhamn")
    ['Älvstad', 'Björkhamn']
    >>> configured_municipalities("") is None
    True
    """
    import os
    if value is None:
        value = os.environ.get(ENV_MUNICIPALITIES, "")
    names = [n.strip() for n in str(value).split(",") if n.strip()]
    return names or None


def resolve_municipality(allowed, parameter=None, query: str | None = None) -> str | None:
    """The municipality a dashboard page is for: a fixed parameter, else the query string.

    A parameter set by whoever serves the notebook (e.g. injected with
    papermill for one municipality's server) wins and the address cannot
    change it; otherwise ``?kommun=`` is read. Both must be on the allowlist.

    Examples
    --------
    >>> resolve_municipality(["A", "B"], parameter="A", query="kommun=B")
    'A'
    >>> resolve_municipality(["A", "B"], query="kommun=B")
    'B'
    >>> resolve_municipality(["A"], parameter="C") is None
    True
    """
    allowed = set(allowed)
    if parameter is not None:
        return parameter if parameter in allowed else None
    return municipality_from_query(query, allowed)


def _query_string() -> str:
    """The page's query string under Voilà (``QUERY_STRING``), '' elsewhere."""
    import os
    try:
        from voila.utils import get_query_string
        return get_query_string() or ""
    except Exception:  # noqa: BLE001 - not under Voilà, or Voilà absent: fall back to the environment
        return os.environ.get("QUERY_STRING", "")


def open_dashboard(store=None, *, municipality=None, query: str | None = None, lang: str = "sv",
                   min_cell: int = 5, as_of=None):
    """What the dashboard notebook displays: the dashboard, or the refusal message.

    Parameters
    ----------
    store : path, optional
        Store folder; default ``ASI_KIT_STORE`` or the demo store
        (:func:`asi_lib.demo.ensure_demo_store` under ``out/demo``).
    municipality : str, optional
        Fixed municipality (a notebook parameter); None = from the query string.
    query : str, optional
        The query string; default read from Voilà / ``QUERY_STRING``.
    lang, min_cell, as_of
        As in :class:`Dashboard`.

    Returns
    -------
    ipywidgets.Widget
        The dashboard's widget, or an HTML widget with :data:`REFUSAL` (and
        nothing else) when the municipality is missing or not allowed.
    """
    import os

    import ipywidgets as w

    from .store import load_store
    if store is None:
        store = os.environ.get("ASI_KIT_STORE")
    if not store:
        from .demo import ensure_demo_store
        store = ensure_demo_store("out/demo")
    ds = load_store(store)
    allowed = allowed_municipalities(ds)
    configured = configured_municipalities()
    if configured is not None:  # this server instance shows only these (docs/dashboard.md, "Access")
        allowed = [m for m in allowed if m in set(configured)]
    kommun = resolve_municipality(allowed, municipality,
                                  _query_string() if query is None else query)
    if kommun is None:
        msg = w.HTML(f"<p class='asi-refusal'><b>{html.escape(REFUSAL[lang])}</b></p>")
        msg.add_class("asi-refusal")
        return msg
    return Dashboard(ds, municipality=kommun, lang=lang, min_cell=min_cell, as_of=as_of).widget()


# --------------------------------------------------------------------------- results
@dataclass
class ViewResult:
    """What one filter combination shows.

    Attributes
    ----------
    tables : dict of str to DataFrame
        Title → published table (strings; the only tables shown).
    raw : dict of str to DataFrame
        Title → the raw frame behind each published table (never shown).
    plot_data : pandas.DataFrame
        The numbers the plot is drawn from: ``group``, ``series``, ``value``
        (and ``low``/``high`` when an interval is drawn); only rows whose
        statistics the published table shows.
    status : str
        The status line (n, bortfall share, "Endast tendenser").
    n_clients : int
        Clients behind the view (raw; shown only through the status line).
    seconds : float
        Time the computation took.
    """

    tables: dict = field(default_factory=dict)
    raw: dict = field(default_factory=dict)
    plot_data: pd.DataFrame = field(default_factory=pd.DataFrame)
    status: str = ""
    n_clients: int = 0
    seconds: float = 0.0
    message: str = ""
    plot_label: str = ""


def _add_groups(frame: pd.DataFrame, date_col: str | None = None) -> pd.DataFrame:
    """Derived grouping columns once per dataset: age_band, young_adults, year."""
    extra = {}
    if "age" in frame.columns:
        if "age_band" not in frame.columns:
            extra["age_band"] = groups.age_bands(frame["age"])
        extra["young_adults"] = groups.age_bands(frame["age"], "young_adults")
    if date_col and date_col in frame.columns:
        extra["_year"] = pd.to_datetime(frame[date_col]).dt.year.astype("Int64").astype("string")
    return frame.assign(**extra) if extra else frame


def _bare(frame: pd.DataFrame) -> pd.DataFrame:
    """A shallow copy without attrs (pandas deep-copies attrs on every operation)."""
    out = frame.copy(deep=False)
    out.attrs = {}
    return out


def _key(series: pd.Series) -> pd.Series:
    """Group values as plain strings with ``okänd`` for missing (as groups/bortfall do)."""
    return series.astype("string").fillna(groups.UNKNOWN)


def _col_pos(raw: pd.DataFrame, col: str) -> int | None:
    return raw.columns.get_loc(col) if col in raw.columns else None


def _visible(raw: pd.DataFrame, pub: pd.DataFrame, stat: str, counts=("n",)) -> np.ndarray:
    """Rows whose ``stat`` and counts the published table shows as numbers."""
    ok = np.ones(len(raw), dtype=bool)
    for c in (stat, *counts):
        j = _col_pos(raw, c)
        if j is None:
            continue
        shown = pub.iloc[:, j].astype(str).to_numpy()
        ok &= ~np.isin(shown, [HIDDEN, EMPTY]) & ~np.char.startswith(shown.astype(str), "<")
    return ok


# --------------------------------------------------------------------------- dashboard
class Dashboard:
    """Filters, a published table, a plot and a status line for one municipality.

    Parameters
    ----------
    ds : Dataset
        The whole region (the comparison needs the others; only aggregates of
        them are ever shown).
    municipality : str, optional
        The municipality the dashboard is for; None = the whole region (for
        regional analysts: the comparison view then shows each group against
        the rest of the region's clients is not available and shows the
        region's own profile instead).
    as_of : date-like, optional
        Reference date of the follow-up pairing (default: the latest
        interview date in the data).
    min_cell : int, default 5
        Smallest count shown (passed to :func:`~asi_lib.publish.publish`).
    lang : {"sv", "en"}

    Notes
    -----
    Precomputed once per dataset: composite scores of Grund and Uppföljning
    (:func:`asi_lib.scores.add_scores`), the derived group columns, the
    municipality's follow-up pairing (:func:`asi_lib.followup.pair_followups`)
    and, lazily per period, each client's latest Grund for the municipality
    and for the region. Each filter combination is computed once and cached.

    Examples
    --------
    >>> from asi_lib.datasets import read_dataset
    >>> ds = read_dataset("demo", n_clients=300)
    >>> kommun = allowed_municipalities(ds)[0]
    >>> d = Dashboard(ds, municipality=kommun)
    >>> r = d.compute(view="profile", group="sex", area="alcohol", period=None)
    >>> list(r.tables)[0].startswith("Problemprofil")
    True
    >>> r.tables[list(r.tables)[0]].attrs["asi"]["published"]
    True
    """

    def __init__(self, ds: Dataset, *, municipality: str | None = None, as_of=None, min_cell: int = 5,
                 lang: str = "sv"):
        if lang not in _T:
            raise AsiInputError(f"okänt språk '{lang}' (sv, en) / unknown language")
        allowed = allowed_municipalities(ds)
        if municipality is not None and municipality not in allowed:
            raise AsiInputError("kommunen finns inte i materialet / municipality not in the data")
        self.municipality = municipality
        self.lang = lang
        self.min_cell = int(min_cell)
        self.as_of = as_of
        self.t = _T[lang]
        t0 = time.perf_counter()
        region_grund = _bare(_add_groups(scores.add_scores(ds.grund), "interview_date"))
        own_mask = (region_grund["municipality"].astype("string") == municipality).fillna(False).to_numpy() \
            if municipality is not None else np.ones(len(region_grund), dtype=bool)
        self._region = region_grund
        self._own_mask = own_mask
        own_ds = ds if municipality is None else ds.filter(municipality=municipality)
        upp = scores.add_scores(own_ds.uppfoljning)
        own_grund = region_grund.loc[own_mask]
        self._own_ds = Dataset(grund=own_grund, uppfoljning=upp,
                               bortfall=_add_groups(own_ds.bortfall, "bortfall_date"),
                               insatser=own_ds.insatser, meta=dict(ds.meta))
        pairing = followup.pair_followups(self._own_ds, as_of=as_of, add_scores=False)
        # reliable change: one reliability and SD for the whole store (as in the release), not
        # re-estimated per municipality or group, so "share improved" means the same everywhere
        self._rci = change_mod.estimate_rci_reference(followup.pair_followups(ds, as_of=as_of).pairs,
                                                      ("composite",), label="hela lagret")
        for name in ("pairs", "baselines"):
            frame = getattr(pairing, name)
            attrs = dict(frame.attrs)
            frame = _add_groups(frame)
            frame["_year_base"] = pd.to_datetime(frame["baseline_date"]).dt.year.astype("Int64").astype("string")
            if "followup_date" in frame.columns:
                frame["_year_fu"] = pd.to_datetime(frame["followup_date"]).dt.year.astype("Int64").astype("string")
            frame.attrs = attrs
            setattr(pairing, name, frame)
        self._pairing = pairing
        years = set(own_grund["_year"].dropna().unique())
        years |= set(pairing.pairs["_year_fu"].dropna().unique()) if len(pairing.pairs) else set()
        self.years = sorted(years, reverse=True)
        self._latest: dict = {}
        self._cache: dict = {}
        self.setup_seconds = time.perf_counter() - t0
        self.timings: list[float] = []
        self._widgets = None

    # ------------------------------------------------------------------ options
    def options(self) -> dict[str, list[tuple[str, object]]]:
        """Dropdown options as (label, value) pairs, in display order.

        Period values are ``None`` (all years) or a year string; the labels of
        group and view options are fixed texts, never data values.
        """
        cb = load_codebook()
        i = 0 if self.lang == "sv" else 1
        return {
            "period": [(self.t["all_years"], ALL)] + [(y, y) for y in self.years],
            "group": [(v[i], k) for k, v in GROUPS.items()],
            "area": [(cb.areas[a]["label_sv" if i == 0 else "label_en"], a) for a in AREAS],
            "view": [(v[i], k) for k, v in VIEWS.items()],
        }

    @property
    def place(self) -> str:
        return self.municipality if self.municipality is not None else self.t["region"]

    # ------------------------------------------------------------------ selections
    def _latest_grund(self, period, own: bool) -> pd.DataFrame:
        """Each client's latest Grund in the period (municipality or region), cached."""
        key = (period, own)
        if key not in self._latest:
            frame = self._region.loc[self._own_mask] if own else self._region
            self._latest[key] = groups.latest_grund(frame, period=period)
        return self._latest[key]

    def _pub(self, raw: pd.DataFrame) -> pd.DataFrame:
        meta = raw.attrs.setdefault("asi", {})
        own = dict(meta.get("column_labels", {}))
        for g, lab in GROUPS.items():
            own.setdefault(g, lab)
        own.setdefault("measure_label", ("Mått", "Measure"))
        meta["column_labels"] = own
        return publish(raw, min_cell=self.min_cell, lang=self.lang)

    def _measures(self, area: str) -> list[str]:
        out = [f"composite_{area}", f"rating_{area}"]
        return [m for m in out if m in self._region.columns]

    # ------------------------------------------------------------------ views
    def _profile(self, group, area, period):
        g = self._latest_grund(period, own=True)
        raw = groups.profile(g, by=group, measures=self._measures(area), selection="all")
        raw.attrs["asi"]["selection"] = "senaste Grund per klient i perioden" + (f" ({period})" if period else "")
        raw.attrs["asi"]["unit"] = "klienter"
        title = f"{VIEWS['profile'][self._i]}: {self._area_label(area)} – {self.place}"
        pub = self._pub(raw)
        main = f"composite_{area}"
        sel = (raw["measure"] == main).to_numpy() & _visible(raw, pub, "mean")
        pdat = pd.DataFrame({"group": self._group_labels(raw[group], group)[sel], "series": self.t["mean"],
                             "value": raw.loc[sel, "mean"].to_numpy(), "low": raw.loc[sel, "ci_low"].to_numpy(),
                             "high": raw.loc[sel, "ci_high"].to_numpy()})
        return {title: (raw, pub)}, pdat, len(g)

    def _compare(self, group, area, period):
        if self.municipality is None:
            return self._profile(group, area, period)
        reg = self._latest_grund(period, own=False)
        own = self._own_mask_of(reg)
        key = _key(reg[group]) if group in reg.columns else pd.Series(groups.UNKNOWN, index=reg.index)
        parts = []
        values = [TOTAL] + sorted(key[own].unique())
        measures = self._measures(area)
        for v in values:  # the municipality's own groups (a handful)
            if v == TOTAL:
                sel_own, sel_rest = own, ~own
            elif group == "unit":  # units belong to one municipality: the unit against all the others
                sel_own, sel_rest = own & (key == v).to_numpy(), ~own
            else:
                in_g = (key == v).to_numpy()
                sel_own, sel_rest = own & in_g, ~own & in_g
            if not sel_own.any() or not sel_rest.any():
                continue
            frame = reg.loc[sel_own | sel_rest, ["client_pid", "interview_date", "sex", "age", "main_substance",
                                                 *measures]]
            frame = frame.assign(_side=np.where(sel_own[sel_own | sel_rest], "own", "rest"))
            r = compare_mod.compare_one_vs_rest(frame, unit_col="_side", unit="own", measures=measures,
                                                selection="all")
            parts.append(r[[c for c in _COMPARE_KEEP if c in r.columns]].assign(**{group: v}))
        if not parts:
            return {}, pd.DataFrame(), int(own.sum())
        raw = pd.concat(parts, ignore_index=True)
        raw = raw[[group, *[c for c in raw.columns if c != group]]]
        other = self.t["others"]
        raw.attrs["asi"] = {
            "unit": "klienter", "group_cols": [group], "key_cols": [group, "measure"], "additive": False,
            "selection": "senaste Grund per klient i perioden" + (f" ({period})" if period else ""),
            "compared": {"unit": self.municipality, "rest": other}, "min_test_n": compare_mod.MIN_TEST_N,
            "column_labels": self._compare_headings(),
        }
        pub = self._pub(raw)
        main = f"composite_{area}"
        sel = (raw["measure"] == main).to_numpy() & _visible(raw, pub, "mean_unit", ("n_unit", "n_rest")) \
            & _visible(raw, pub, "mean_rest", ())
        lab = self._group_labels(raw[group], group)[sel]
        pdat = pd.concat([
            pd.DataFrame({"group": lab, "series": self.place, "value": raw.loc[sel, "mean_unit"].to_numpy()}),
            pd.DataFrame({"group": lab, "series": other, "value": raw.loc[sel, "mean_rest"].to_numpy()}),
        ], ignore_index=True)
        title = f"{VIEWS['compare'][self._i]}: {self._area_label(area)} – {self.place}"
        return {title: (raw, pub)}, pdat, int(own.sum())

    def _own_mask_of(self, reg: pd.DataFrame) -> np.ndarray:
        return (reg["municipality"].astype("string") == self.municipality).fillna(False).to_numpy()

    def _compare_headings(self) -> dict:
        k, o = self.municipality, self.t["others"]
        if self.lang == "sv":
            return {"n_unit": (f"Antal klienter ({k})", ""), "n_rest": (f"Antal klienter ({o})", ""),
                    "mean_unit": (f"Medelvärde ({k})", ""), "mean_rest": (f"Medelvärde ({o})", ""),
                    "mean_region": ("Medelvärde (hela regionen)", ""),
                    "diff": (f"Skillnad ({k} − {o})", ""),
                    "share_women_unit": (f"Andel kvinnor ({k})", ""), "share_women_rest": (f"Andel kvinnor ({o})", ""),
                    "mean_age_unit": (f"Medelålder ({k})", ""), "mean_age_rest": (f"Medelålder ({o})", "")}
        return {"n_unit": ("", f"Clients ({k})"), "n_rest": ("", f"Clients ({o})"),
                "mean_unit": ("", f"Mean ({k})"), "mean_rest": ("", f"Mean ({o})"),
                "mean_region": ("", "Mean (whole region)"), "diff": ("", f"Difference ({k} − {o})"),
                "share_women_unit": ("", f"Share women ({k})"), "share_women_rest": ("", f"Share women ({o})"),
                "mean_age_unit": ("", f"Mean age ({k})"), "mean_age_rest": ("", f"Mean age ({o})")}

    def _pair_columns(self, group: str, area: str) -> list[str]:
        """Columns of the pairs one area's change table needs (a slim copy per group is cheap)."""
        cb = load_codebook()
        items = [f"{c.name}_0" for c in cb.area_columns(area, "grund") if c.asi5_code]
        meas = [f"{m}_{i}" for m in (f"composite_{area}", f"rating_{area}") for i in (0, 1)]
        cols = ["client_pid", group, *meas, *items]
        return [c for c in dict.fromkeys(cols) if c in self._pairing.pairs.columns]

    def _change(self, group, area, period):
        pairs = self._pairing.pairs
        if period is not None:
            pairs = pairs.loc[(pairs["_year_fu"] == period).fillna(False).to_numpy()]
        pairs = pairs[self._pair_columns(group, area)]
        pairs.attrs = {}  # pandas deep-copies attrs on every column access: keep the slim copy bare
        key = _key(pairs[group]) if group in pairs.columns else pd.Series(groups.UNKNOWN, index=pairs.index)
        parts = []
        for v in [TOTAL] + sorted(key.unique()):  # a handful of groups
            sub = pairs if v == TOTAL else pairs.loc[(key == v).to_numpy()]
            if not len(sub):
                continue
            r = change_mod.change_by_area(sub, measures=("composite", "rating"), areas=[area], lang=self.lang,
                                          reliability=self._rci)
            if not len(r):
                continue
            parts.append(r.assign(**{group: v}))
        n = int(pairs["client_pid"].nunique()) if len(pairs) else 0
        if not parts:
            return {}, pd.DataFrame(), n
        raw = pd.concat(parts, ignore_index=True)
        no_rci = ~np.isfinite(raw["reliability"].to_numpy(dtype=float))
        for c in ("n_improved", "n_unchanged", "n_worse"):  # no reliable-change classes: "–", not 0
            raw[c] = raw[c].astype("float64").where(~no_rci)
        raw = raw[[group, "measure_label", *_CHANGE_KEEP]]
        src = dict(self._pairing.pairs.attrs.get("asi", {}))
        raw.attrs["asi"] = {**parts[0].attrs["asi"], "selection": src.get("selection", ""),
                            "bortfall_share": src.get("bortfall_share"), "window": src.get("window"),
                            "rule": src.get("rule"), "group_cols": [group], "additive": True,
                            "additive_cols": ["n_pairs"], "key_cols": [group, "measure_label"],
                            "label_of": {"measure_label": None}}
        if period is not None:
            raw.attrs["asi"]["selection"] += f"; uppföljning {period}"
        pub = self._pub(raw)
        sel = (raw["measure_label"] == change_mod.MEASURE_LABELS[self.lang]["composite"]).to_numpy() \
            & _visible(raw, pub, "mean_0", ("n", "n_pairs")) & _visible(raw, pub, "mean_1", ())
        lab = self._group_labels(raw[group], group)[sel]
        pdat = pd.concat([
            pd.DataFrame({"group": lab, "series": self.t["baseline"], "value": raw.loc[sel, "mean_0"].to_numpy()}),
            pd.DataFrame({"group": lab, "series": self.t["followup"], "value": raw.loc[sel, "mean_1"].to_numpy()}),
        ], ignore_index=True)
        title = f"{VIEWS['change'][self._i]}: {self._area_label(area)} – {self.place}"
        return {title: (raw, pub)}, pdat, n

    def _bortfall(self, group, area, period):
        ds = self._own_ds
        start = end = None
        if period is not None:
            start, end = f"{period}-01-01", f"{period}-12-31"
        gb = self._grund_bortfall(ds, group, start, end)
        fb = bortfall_mod.followup_bortfall(ds, pairing=self._pairing, by=group,
                                            period="year" if period is not None else None,
                                            as_of=self._pairing.params["as_of"], lang=self.lang)
        if period is not None:
            fb = fb.loc[(fb["period"] == period).to_numpy()]
        fb = self._followup_wide(fb, group)
        if len(gb):
            attrs = gb.attrs
            gb = gb.drop(columns=["measure"])
            gb.attrs = attrs
        out, plots = {}, []
        n = int(gb["n"].sum()) if len(gb) else 0
        for title, raw, k, series in (
                (self.t["grund_bf"], gb, "k", self.t["grund_bf"]),
                (self.t["fu_bf"], fb, "n_missed", self.t["fu_bf"])):
            if not len(raw):
                continue
            pub = self._pub(raw)
            sel = _visible(raw, pub, "share", ("n", k))
            plots.append(pd.DataFrame({"group": self._group_labels(raw[group], group)[sel], "series": series,
                                       "value": raw.loc[sel, "share"].to_numpy(),
                                       "low": raw.loc[sel, "ci_low"].to_numpy(),
                                       "high": raw.loc[sel, "ci_high"].to_numpy()}))
            out[f"{title} – {self.place}" + (f" ({period})" if period else "")] = (raw, pub)
        pdat = pd.concat(plots, ignore_index=True) if plots else pd.DataFrame()
        return out, pdat, n

    def _followup_wide(self, fb: pd.DataFrame, group: str) -> pd.DataFrame:
        """One row per group from :func:`~asi_lib.bortfall.followup_bortfall`'s long rows.

        The long table shows ``missed``, ``missed_registered`` and
        ``missed_unregistered`` as separate rows, and publish cannot see that
        the last two add up to the first (a hidden part could be recovered as
        total − the other part). Wide, the sums are declared as ``row_sums``
        (n = followed + missed; missed = registered + unregistered), so the
        secondary suppression covers them.
        """
        if not len(fb):
            return pd.DataFrame()
        wide = fb.pivot_table(index=group, columns="measure", values="k", aggfunc="sum", observed=True)
        n = fb.groupby(group, observed=True)["n"].first()
        out = pd.DataFrame({group: wide.index.astype(str), "n": n.reindex(wide.index).to_numpy(dtype="int64")})
        for m in ("followed_up", "missed", "missed_registered", "missed_unregistered"):
            out[f"n_{m}"] = wide[m].to_numpy(dtype="int64") if m in wide.columns else 0
        out = out.reset_index(drop=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            out["share"] = np.where(out["n"] > 0, out["n_missed"] / out["n"], np.nan)
        from .stats import wilson_ci
        out["ci_low"], out["ci_high"] = wilson_ci(out["n_missed"].to_numpy(), out["n"].to_numpy())
        out.attrs["asi"] = {
            **fb.attrs.get("asi", {}), "group_cols": [group], "additive": False,
            "complements": {"n_missed": "n", "n_followed_up": "n"},
            "row_sums": {"n": ["n_followed_up", "n_missed"],
                         "n_missed": ["n_missed_registered", "n_missed_unregistered"]},
            "column_labels": {
                "n": ("Grundintervjuer vars fönster passerat", "Baselines due"),
                "n_followed_up": ("Uppföljda", "Followed up"),
                "n_missed": ("Bortfall, totalt", "Not followed up, total"),
                "n_missed_registered": ("Bortfall med registrerad orsak", "Not followed up, reason registered"),
                "n_missed_unregistered": ("Bortfall utan registrering", "Not followed up, nothing registered"),
                "share": ("Andel bortfall", "Share not followed up")},
        }
        return out

    @staticmethod
    def _grund_bortfall(ds, group, start, end) -> pd.DataFrame:
        """:func:`asi_lib.bortfall.grund_bortfall` by group; young adults from the counts by age.

        ``grund_bortfall`` groups by codebook columns and ``age_band``; for
        young adults (18–30 / 31+) it is asked by exact age and the counts
        are added up per band (each client counts once, in one age), then
        share and Wilson CI are recomputed the same way.
        """
        if group != "young_adults":
            return bortfall_mod.grund_bortfall(ds, by=group, start=start, end=end)
        by_age = bortfall_mod.grund_bortfall(ds, by="age", start=start, end=end)
        band = groups.age_bands(pd.to_numeric(by_age["age"], errors="coerce"), "young_adults")
        band = _key(band)
        counts = (by_age.assign(young_adults=band.to_numpy()).groupby("young_adults", sort=True)[["n", "k"]]
                  .sum().reset_index())
        counts.insert(1, "measure", "grund_bortfall")
        out = bortfall_mod._share_rows(counts.astype({"n": "int64", "k": "int64"}), "k")
        out.attrs["asi"] = {**by_age.attrs["asi"], "group_cols": ["young_adults"]}
        return out

    # ------------------------------------------------------------------ helpers
    @property
    def _i(self) -> int:
        return 0 if self.lang == "sv" else 1

    def _area_label(self, area: str) -> str:
        return load_codebook().areas[area]["label_sv" if self.lang == "sv" else "label_en"]

    def _group_labels(self, values: pd.Series, group: str) -> np.ndarray:
        from .publish import label_values
        var = group if group in ("sex", "main_substance", "housing") else None
        return label_values(values.astype("string"), var, self.lang).to_numpy(dtype=object)

    def _status(self, tables: dict, n: int, period) -> str:
        """n, the follow-up bortfall share and the tendency note, all through publish."""
        t = self.t
        base = self._pairing.baselines
        if period is not None:
            base = base.loc[(base["_year_base"] == period).fillna(False).to_numpy()]
        due = int(base["status"].isin(["followed_up", "missed"]).sum())
        missed = int((base["status"] == "missed").sum())
        raw = pd.DataFrame({"n_sel": [n], "n": [due], "k": [missed],
                            "share": [missed / due if due else np.nan]})
        raw.attrs["asi"] = {"group_cols": [], "additive": False, "tendency": False}
        p = publish(raw, min_cell=self.min_cell, lang=self.lang, labels=False)
        parts = [html.escape(self.place) + (f" · {html.escape(str(period))}" if period else f" · {t['all_years']}"),
                 f"{t['n_label']}: <b>{p.loc[0, 'n_sel']}</b>",
                 f"{t['bortfall']}: <b>{p.loc[0, 'share']}</b> ({t['of_due'].format(n=p.loc[0, 'n'])})"]
        k = m = 0
        for _, pub in tables.values():
            col = pub.columns[-1]
            m += len(pub)
            k += int((pub[col].astype(str) != "").sum())
        if n < 10 or k:
            parts.append(f"<b>{t['tend']}</b>: " + t["tend_rows"].format(k=k, m=m, t=10) if k
                         else f"<b>{t['tend']}</b>")
        return " · ".join(parts)

    # ------------------------------------------------------------------ compute
    def compute(self, view: str = "profile", group: str = "sex", area: str = "alcohol", period=None) -> ViewResult:
        """Published tables, plot data and status line of one filter combination (cached).

        Parameters
        ----------
        view : {"profile", "compare", "change", "bortfall"}
        group : one of :data:`GROUPS`
        area : one of the life areas (``codebook.AREAS``); not used by "bortfall"
        period : None (or ``"all"``) for all years, or a year string from :attr:`years`

        Returns
        -------
        ViewResult
        """
        if period == ALL:
            period = None
        if view not in VIEWS or group not in GROUPS or area not in AREAS:
            raise AsiInputError(f"okänt val ({view}, {group}, {area}) / unknown option")
        if period is not None and str(period) not in self.years:
            raise AsiInputError(f"okänd period '{period}' / unknown period")
        period = None if period is None else str(period)
        key = (view, group, None if view == "bortfall" else area, period)
        if key in self._cache:
            return self._cache[key]
        t0 = time.perf_counter()
        fn = {"profile": self._profile, "compare": self._compare, "change": self._change,
              "bortfall": self._bortfall}[view]
        try:
            pairs, pdat, n = fn(group, area, period)
            msg = "" if pairs else self.t["empty"]
        except AsiInputError as e:  # e.g. nothing in the period: say so, never a traceback
            pairs, pdat, n, msg = {}, pd.DataFrame(), 0, self.t["error"].format(e=e)
        res = ViewResult(tables={k: v[1] for k, v in pairs.items()}, raw={k: v[0] for k, v in pairs.items()},
                         plot_data=pdat, n_clients=n, message=msg)
        res.status = self._status(pairs, n, period)
        from .publish import measure_label
        res.plot_label = (f"{self.t['share']} ({self.t['grund_bf'].lower()}, {self.t['fu_bf'].lower()}), 95 % KI"
                          if view == "bortfall" else f"{measure_label(f'composite_{area}', self.lang)}: "
                          f"{self.t['mean'].lower()}" + (", 95 % KI" if view == "profile" else ""))
        res.seconds = time.perf_counter() - t0
        self._cache[key] = res
        return res

    # ------------------------------------------------------------------ rendering
    def table_html(self, res: ViewResult) -> str:
        """The published tables as HTML (escaped), each with its selection and legend."""
        if not res.tables:
            return f"<p class='asi-empty'>{html.escape(res.message or self.t['empty'])}</p>"
        out = []
        for title, pub in res.tables.items():
            meta = pub.attrs.get("asi", {})
            out.append(f"<h3>{html.escape(title)}</h3>")
            out.append(f"<p><i>{self.t['selection']}: {html.escape(str(meta.get('selection', '')))}</i></p>")
            out.append(pub.to_html(index=False, escape=True, classes="asi-table", border=0))
            out.append(f"<p style='font-size:smaller'>{html.escape(str(meta.get('legend', '')))}</p>")
        return "\n".join(out)

    def plot_png(self, res: ViewResult) -> bytes:
        """A small bar chart of :attr:`ViewResult.plot_data` as PNG (b'' when nothing to draw)."""
        pdat = res.plot_data
        if pdat is None or not len(pdat):
            return b""
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        labels = list(dict.fromkeys(pdat["group"].tolist()))
        series = list(dict.fromkeys(pdat["series"].tolist()))
        fig = Figure(figsize=(7.0, 0.25 * max(4, len(labels) * len(series)) + 1.0), dpi=90)
        FigureCanvasAgg(fig)
        ax = fig.add_subplot(111)
        h = 0.8 / len(series)
        colors = ["#2b6a99", "#e69f00", "#009e73", "#cc79a7"]
        for j, s in enumerate(series):
            d = pdat.loc[pdat["series"] == s].set_index("group").reindex(labels)
            y = np.arange(len(labels)) + (j - (len(series) - 1) / 2) * h
            err = None
            if {"low", "high"} <= set(d.columns):
                lo = (d["value"] - d["low"]).to_numpy(dtype=float)
                hi = (d["high"] - d["value"]).to_numpy(dtype=float)
                err = np.vstack([np.nan_to_num(lo), np.nan_to_num(hi)])
            ax.barh(y, d["value"].to_numpy(dtype=float), height=h * 0.9, xerr=err, label=mpl_text(s),
                    color=colors[j % len(colors)], capsize=2)
        ax.set_yticks(np.arange(len(labels)), [mpl_text(str(x)[:40]) for x in labels])  # unit names: no mathtext
        ax.invert_yaxis()
        ax.legend(loc="best", fontsize="small")
        ax.grid(axis="x", alpha=0.3)
        ax.set_xlabel(res.plot_label, fontsize="small")
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        return buf.getvalue()

    # ------------------------------------------------------------------ widgets
    def widget(self):
        """The ipywidgets box (built once): filters, status line, tables and plot."""
        if self._widgets is not None:
            return self._widgets["box"]
        import ipywidgets as w

        opts = self.options()
        t = self.t
        style = {"description_width": "initial"}
        dd = {
            "period": w.Dropdown(options=opts["period"], value=ALL, description=t["period"], style=style),
            "group": w.Dropdown(options=opts["group"], value="sex", description=t["group"], style=style),
            "area": w.Dropdown(options=opts["area"], value="alcohol", description=t["area"], style=style),
            "view": w.Dropdown(options=opts["view"], value="profile", description=t["view"], style=style),
        }
        for k, d in dd.items():
            d.add_class(f"asi-{k}")
        title = w.HTML(f"<h2>{html.escape(t['title'])} – {html.escape(self.place)}</h2>")
        status = w.HTML()
        status.add_class("asi-status")
        table = w.HTML()
        table.add_class("asi-tables")
        image = w.Image(format="png", layout=w.Layout(max_width="720px"))
        image.add_class("asi-plot")
        box = w.VBox([title, w.HBox([dd["view"], dd["area"]]), w.HBox([dd["group"], dd["period"]]),
                      status, table, image])
        box.add_class("asi-dashboard")
        self._widgets = {"box": box, "status": status, "table": table, "image": image, **dd}

        def refresh(_change=None):
            v = {k: dd[k].value for k in ("view", "group", "area", "period")}
            dd["area"].disabled = v["view"] == "bortfall"
            t0 = time.perf_counter()
            res = self.compute(**v)
            png = self.plot_png(res)
            image.value = png
            image.layout.display = "block" if png else "none"
            status.value = f"<div>{res.status}</div>"
            table.value = self.table_html(res)  # last: a new table means everything else is updated
            self.timings.append(time.perf_counter() - t0)

        for d in dd.values():
            d.observe(refresh, names="value")
        refresh()
        return box

    def set(self, **values) -> None:
        """Set filter widgets by value (tests, scripted use): triggers the same refresh."""
        self.widget()
        for k, v in values.items():
            self._widgets[k].value = v

    @property
    def current(self) -> dict:
        """The widgets' current status line, table HTML and whether a plot is shown."""
        self.widget()
        return {"status": self._widgets["status"].value, "table": self._widgets["table"].value,
                "plot": bool(self._widgets["image"].value)}

    def _ipython_display_(self):  # pragma: no cover - exercised in the notebook/browser
        from IPython.display import display
        display(self.widget())
