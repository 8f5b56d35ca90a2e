"""The managers' overview (Voilà), rendered from a protected release, one municipality per page.

The dashboard **renders; it does not compute**. Every number it shows is a
published cell of a release (:mod:`asi_lib.release`): the same cells the
reports and Excel files of that release show, protected together with them,
on the release's one reference date. Nothing on the page can therefore be
combined with a report to undo a suppression, and a page needs no pairing,
scoring or statistics at start-up (the release is a small parquet file).

The work is four named steps, each a plain function or class:

1. **load** (:func:`load_view_data`): the release's tables of the
   municipality and of the region, and the heading facts;
2. **select** (:func:`key_figures`, :func:`select_view`): the published cells
   of one view (area, grouping) as a manager table, the analyst tables and
   the plot numbers (parsed back from the published text; a hidden or empty
   cell is never drawn);
3. **figures** (:func:`figure_png`, :func:`table_xlsx`): one figure per view
   with 95 % intervals (decimal comma and per cent in Swedish) and the
   Excel file of the table;
4. **layout** (:class:`Dashboard`): key figures first, then the figure, then
   the table on demand; statistical terms behind *För analytiker*; a
   language switch (``?lang=en`` or the buttons); download links.

Scoping: a page for municipality X shows X's own cells and, for comparison,
the region's and "the other municipalities" as published in X's release
tables. No widget selects a municipality.
"""
from __future__ import annotations

import base64
import html
import io
import os
import re
import time
from dataclasses import dataclass, field
from urllib.parse import parse_qs

import numpy as np
import pandas as pd

from .errors import AsiInputError

__all__ = ["Dashboard", "ViewData", "ViewResult", "VIEWS", "GROUPS", "load_view_data", "key_figures",
           "select_view", "figure_png", "table_xlsx", "allowed_municipalities", "municipality_from_query",
           "lang_from_query", "resolve_municipality", "open_dashboard", "resolve_release", "QUERY_KEY",
           "LANG_KEY", "REFUSAL", "ENV_MUNICIPALITIES", "ENV_RELEASE", "configured_municipalities"]

#: Query-string key naming the municipality (``?kommun=Älvstad``).
QUERY_KEY = "kommun"
#: Query-string key of the language (``?lang=en``; anything else is Swedish).
LANG_KEY = "lang"
#: Environment variable restricting a server instance to some municipalities (comma-separated);
#: set by the dashboard server (``AsiVoila.municipalities`` in ``notebooks/dashboard/voila.json``).
ENV_MUNICIPALITIES = "ASI_DASHBOARD_KOMMUNER"
#: Environment variable naming the release folder the dashboard renders (``AsiVoila.release``).
ENV_RELEASE = "ASI_KIT_RELEASE"
#: Shown instead of the dashboard when the municipality is missing or not allowed.
REFUSAL = {
    "sv": ("Kommunen saknas eller finns inte i materialet. Öppna översikten med en giltig "
           "kommun i adressen, t.ex. ?kommun=Namn. Inga uppgifter visas."),
    "en": ("The municipality is missing or not in the data. Open the overview with a valid "
           "municipality in the address, e.g. ?kommun=Name. Nothing is shown."),
}
#: Views: key → (Swedish, English) label.
VIEWS: dict[str, tuple[str, str]] = {
    "profile": ("Problem per grupp", "Problems by group"),
    "compare": ("Jämfört med övriga kommuner", "Compared with the other municipalities"),
    "change": ("Förändring vid uppföljning", "Change at follow-up"),
    "bortfall": ("Uppföljning och bortfall", "Follow-up and attrition"),
}
#: Groupings of the profile view: key → (Swedish, English, the release table).
GROUPS: dict[str, tuple[str, str, str]] = {
    "sex": ("Kön", "Sex", "Problem per kön"),
    "age_band": ("Åldersgrupp", "Age group", "Problem per åldersgrupp"),
    "main_substance": ("Huvudpreparat", "Main substance", "Problem per huvudpreparat"),
}
#: Release tables each view shows in full under "För analytiker".
_ANALYST_TABLES = {
    "compare": ("Jämfört med övriga", "Klientgruppernas sammansättning"),
    "change": ("Förändring per område",),
    "bortfall": ("Uppföljning och bortfall", "Bortfall Grund", "Bortfallsorsaker Grund",
                 "Bortfallsorsaker uppföljning"),
}
#: The composite's measure label in the change table (older releases, this kit, English).
_CHANGE_COMPOSITE = ("Sammanvägt index (0–1)", "Sammanfattande index (0–1)", "Composite score (0–1)")

_T = {
    "sv": {
        "title": "ASI-översikt", "view": "Visa", "area": "Livsområde", "group": "Dela upp på",
        "lang": "Språk", "show_table": "Visa tabell", "analyst": "För analytiker",
        "clients": "Klienter med ASI Grund", "clients_n": "senaste Grund per klient",
        "followup": "Uppföljda", "followup_n": "av {n} klienter där uppföljningen förfallit",
        "bortfall": "Bortfall vid Grund", "bortfall_n": "av {n} i målgruppen fick ingen Grundintervju",
        "improved": "Förbättrade: {area}", "improved_n": "av {n} med uppföljning",
        "region": "Regionen: {v}", "not_shown": "..",
        "index_note": ("Sammanvägt index går från 0 till 1: <b>högre index = större problem</b>. "
                       "Intervallen är 95 % konfidensintervall: osäkerheten i siffran."),
        "hidden_note": ("<b>..</b> = dolt för att skydda små tal (färre än {k} klienter, eller så att inget "
                        "litet antal kan räknas fram); <b>–</b> = kan inte beräknas. Dolda värden ritas inte."),
        "tendency": ("Endast tendenser: färre än {t} klienter. Dra inga slutsatser; jämför med regionen "
                     "eller slå ihop flera år."),
        "empty": "Det finns inga publicerade siffror för det här urvalet.",
        "download_png": "Ladda ner figuren (PNG)", "download_xlsx": "Ladda ner tabellen (Excel)",
        "group_col": "Grupp", "area_col": "Livsområde", "n_col": "Antal klienter",
        "mean_col": "Sammanvägt index (0–1)", "ci_col": "95 % intervall",
        "own": "Kommunen", "others": "Övriga kommuner", "whole_region": "Hela regionen",
        "diff_col": "Skillnad mot övriga", "before": "Vid Grund", "after": "Vid uppföljning",
        "change_col": "Förändring", "improved_col": "Förbättrade", "share_improved": "Andel förbättrade",
        "region_improved": "Andel förbättrade, regionen", "share_col": "Andel", "count_col": "Antal",
        "of_col": "Av", "measure_col": "Mått", "region_share": "Andel, regionen",
        "grund_bf": "Bortfall vid Grund", "fu_bf": "Bortfall vid uppföljning", "fu_cov": "Uppföljda",
        "total": "Totalt",
        "x_profile": "Sammanvägt index {area} (0–1), medelvärde med 95 % intervall; högre = större problem",
        "x_compare": ("Skillnad i sammanvägt index mot övriga kommuner, med 95 % intervall; "
                      "över 0 = större problem än övriga"),
        "x_change": ("Förändring i sammanvägt index från Grund till uppföljning, med 95 % intervall; "
                     "under 0 = förbättring"),
        "x_bortfall": "Andel, med 95 % intervall",
        "line_own_total": "Kommunen totalt", "line_region": "Regionen totalt",
        "analyst_note": ("För analytiker: tabellerna som de står i utgåvan. p-värde = sannolikheten för en "
                         "minst så stor skillnad om det inte fanns någon verklig skillnad (justerat, FDR: "
                         "korrigerat för många jämförelser, Benjamini–Hochberg); Hedges g och dz = "
                         "effektstorlek (skillnaden i standardavvikelser); Wilcoxon = teckenrangtest för "
                         "parade mätningar."),
        "sheet_view": "Vyn",
    },
    "en": {
        "title": "ASI overview", "view": "Show", "area": "Life area", "group": "Group by",
        "lang": "Language", "show_table": "Show table", "analyst": "For analysts",
        "clients": "Clients with ASI baseline", "clients_n": "latest baseline per client",
        "followup": "Followed up", "followup_n": "of {n} clients due for follow-up",
        "bortfall": "Attrition at baseline", "bortfall_n": "of {n} in the target group had no baseline interview",
        "improved": "Improved: {area}", "improved_n": "of {n} followed up",
        "region": "Region: {v}", "not_shown": "..",
        "index_note": ("The composite score runs from 0 to 1: <b>a higher score = more problems</b>. "
                       "The intervals are 95 % confidence intervals: the uncertainty of the figure."),
        "hidden_note": ("<b>..</b> = hidden to protect small numbers (fewer than {k} clients, or so that no "
                        "small count can be worked out); <b>–</b> = cannot be computed. Hidden values are not "
                        "drawn."),
        "tendency": ("Tendencies only: fewer than {t} clients. Draw no conclusions; compare with the region "
                     "or pool several years."),
        "empty": "There are no published figures for this selection.",
        "download_png": "Download the figure (PNG)", "download_xlsx": "Download the table (Excel)",
        "group_col": "Group", "area_col": "Life area", "n_col": "Clients",
        "mean_col": "Composite score (0–1)", "ci_col": "95 % interval",
        "own": "The municipality", "others": "Other municipalities", "whole_region": "Whole region",
        "diff_col": "Difference from the others", "before": "At baseline", "after": "At follow-up",
        "change_col": "Change", "improved_col": "Improved", "share_improved": "Share improved",
        "region_improved": "Share improved, region", "share_col": "Share", "count_col": "Count",
        "of_col": "Of", "measure_col": "Measure", "region_share": "Share, region",
        "grund_bf": "Attrition at baseline", "fu_bf": "Attrition at follow-up", "fu_cov": "Followed up",
        "total": "Total",
        "x_profile": "Composite score {area} (0–1), mean with 95 % interval; higher = more problems",
        "x_compare": ("Difference in composite score from the other municipalities, with 95 % interval; "
                      "above 0 = more problems than the others"),
        "x_change": "Change in composite score from baseline to follow-up, with 95 % interval; below 0 = better",
        "x_bortfall": "Share, with 95 % interval",
        "line_own_total": "Municipality total", "line_region": "Region total",
        "analyst_note": ("For analysts: the tables as they are in the release. p-value = the probability of a "
                         "difference at least this large if there were no real difference (adjusted, FDR: "
                         "corrected for many comparisons, Benjamini–Hochberg); Hedges' g and dz = effect size "
                         "(the difference in standard deviations); Wilcoxon = signed-rank test for paired "
                         "measurements."),
        "sheet_view": "View",
    },
}
#: Words the release's Swedish tables use that publish's column labels do not cover (→ English).
_EXTRA_EN = {
    "Totalt": "Total", "okänd": "unknown", "Materialet": "Material", "Antal": "Count", "Varav": "Of which",
    "Kön": "Sex", "Kommun": "Municipality", "Uppgift": "Item", "Antal (baslinjer/intervjuer)":
    "Count (baselines/interviews)", "Huvudsakligt problem / preparat": "Main problem / substance",
    "Målgrupp (Grund + bortfall)": "Target group (baseline + attrition)", "Andel intervjuade": "Share interviewed",
    "Sammanfattande index (0–1)": "Composite score (0–1)", "Sammanvägt index (0–1)": "Composite score (0–1)",
    "Intervjuarskattning (0–9)": "Interviewer rating (0–9)", "Ja": "Yes", "Nej": "No",
    "Klienter med ASI Grund": "Clients with ASI baseline",
    "Målgruppen: Grundbortfall (ej intervjuade)": "Target group: attrition at baseline (not interviewed)",
    "Baslinjer där uppföljning förfallit: uppföljda": "Baselines due for follow-up: followed up",
    "Endast tendenser (färre än 10 klienter)": "Tendencies only (fewer than 10 clients)",
    # the release's table titles (asi_lib.tables)
    "Problem per kön": "Problems by sex", "Problem per åldersgrupp": "Problems by age group",
    "Problem per huvudpreparat": "Problems by main substance", "Jämfört med övriga": "Compared with the others",
    "Klientgruppernas sammansättning": "Composition of the client groups",
    "Förändring per område": "Change by life area", "Uppföljning och bortfall": "Follow-up and attrition",
    "Bortfall Grund": "Attrition at baseline", "Bortfallsorsaker Grund": "Reasons for attrition at baseline",
    "Bortfallsorsaker uppföljning": "Reasons for attrition at follow-up", "Orsak": "Reason",
}


# --------------------------------------------------------------------------- query string and access
def allowed_municipalities(release) -> list[str]:
    """Municipalities of the release (the allowlist of the query parameter), in name order.

    Parameters
    ----------
    release : asi_lib.release.Release

    Returns
    -------
    list of str

    Examples
    --------
    >>> from asi_lib.release import Release
    >>> rel = Release(manifest={"units": [{"unit": "__region__", "name": "Hela regionen"},
    ...                                   {"unit": "B", "name": "B"}, {"unit": "A", "name": "A"}]}, published={})
    >>> allowed_municipalities(rel)
    ['A', 'B']
    """
    return sorted(release.municipalities)


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


def lang_from_query(query: str | None, default: str = "sv") -> str:
    """The page language from ``?lang=``: ``"en"`` only for exactly ``en``, else ``default``.

    Examples
    --------
    >>> lang_from_query("kommun=A&lang=en"), lang_from_query("lang=<b>"), lang_from_query(None)
    ('en', 'sv', 'sv')
    """
    values = parse_qs(str(query or "").lstrip("?")).get(LANG_KEY, [])
    if len(set(values)) == 1 and values[0].strip().lower() in ("sv", "en"):
        return values[0].strip().lower()
    return default


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
        variable is unset or empty: no restriction beyond the release's own
        allowlist (:func:`allowed_municipalities`).

    Examples
    --------
    >>> configured_municipalities("Älvstad, Björkhamn")
    ['Älvstad', 'Björkhamn']
    >>> configured_municipalities("") is None
    True
    """
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


def resolve_release(release=None):
    """The release folder a dashboard renders: the argument, ``ASI_KIT_RELEASE``, or the demo release.

    Parameters
    ----------
    release : str or Path, optional

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> str(resolve_release("/data/release"))
    '/data/release'
    """
    from pathlib import Path

    release = release or os.environ.get(ENV_RELEASE)
    if release:
        return Path(release)
    from .demo import ensure_demo_release
    return Path(ensure_demo_release("out/demo"))


def _query_string() -> str:
    """The page's query string under Voilà (``QUERY_STRING``), '' elsewhere."""
    try:
        from voila.utils import get_query_string
        return get_query_string() or ""
    except Exception:  # noqa: BLE001 - not under Voilà, or Voilà absent: fall back to the environment
        return os.environ.get("QUERY_STRING", "")


def _warm_up() -> None:
    """Draw and save one tiny figure (font cache, Agg) before a visitor waits for the first one."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(1, 1), dpi=20)
    FigureCanvasAgg(fig)
    fig.add_subplot(111).barh([0], [1], xerr=[[0.1], [0.1]])
    fig.savefig(io.BytesIO(), format="png")
    import ipywidgets  # noqa: F401
    table_xlsx({"x": pd.DataFrame({"a": ["1"]})})
    _en_map()


def _freeze_heap() -> None:
    """Move every object alive now out of the cyclic garbage collector's reach (:func:`gc.freeze`).

    A waiting kernel holds pandas, matplotlib, ipywidgets, IPython and the
    release's manifest: hundreds of thousands of objects that live as long as
    the page. Without this, each full collection after the query string
    arrives walks all of them; measured in a preheated kernel under load, the
    municipality's ``load_release`` took 0.65–0.79 s instead of ~0.1 s (the
    JSON parse alone 0.69 s, 0.03 s in a fresh process). Objects frozen here
    are never collected as cycles; they are meant to live until the kernel ends.
    """
    import gc

    gc.collect()
    gc.freeze()


def open_dashboard(release=None, *, municipality=None, query: str | None = None, lang: str | None = None):
    """What the dashboard notebook displays: the dashboard, or the refusal message.

    The release's manifest and region tables are loaded (and a figure drawn
    once) **before** the query string is read, so a preheated kernel has done
    that work when a visitor arrives; then only the municipality's own tables
    are read (:func:`asi_lib.release.load_release` with ``units``).

    Parameters
    ----------
    release : path, optional
        Release folder (:func:`resolve_release`: ``ASI_KIT_RELEASE``, else the
        demo release under ``out/demo``).
    municipality : str, optional
        Fixed municipality (a notebook parameter); None = from the query string.
    query : str, optional
        The query string; default read from Voilà / ``QUERY_STRING``.
    lang : {"sv", "en"}, optional
        Fixed language; default ``?lang=`` (Swedish unless ``en``).

    Returns
    -------
    ipywidgets.Widget
        The dashboard's widget, or an HTML widget with :data:`REFUSAL` (and
        nothing else) when the municipality is missing or not allowed.
    """
    import ipywidgets as w

    from .release import REGION, load_release

    path = resolve_release(release)
    rel = load_release(path, units=[REGION])  # the manifest (allowlist) and the region's tables
    _warm_up()
    if "VOILA_PREHEAT" in os.environ:  # a Voilà kernel: what is loaded now lives as long as the page
        _freeze_heap()
    allowed = allowed_municipalities(rel)
    configured = configured_municipalities()
    if configured is not None:  # this server instance shows only these (docs/dashboard.md, "Access")
        allowed = [m for m in allowed if m in set(configured)]
    query = _query_string() if query is None else query
    lang = lang or lang_from_query(query)
    kommun = resolve_municipality(allowed, municipality, query)
    if kommun is None:
        msg = w.HTML(f"<p class='asi-refusal'><b>{html.escape(REFUSAL[lang])}</b></p>")
        msg.add_class("asi-refusal")
        return msg
    # one municipality's tables only: a national release holds ~290 (docs/dashboard.md, "Speed"); the
    # manifest read above is used again (unless the release was rebuilt meanwhile): no second parse
    own = load_release(path, units=[REGION, kommun], manifest=rel.manifest)
    return Dashboard(own, municipality=kommun, lang=lang).widget()


# --------------------------------------------------------------------------- step 1: load
@dataclass
class ViewData:
    """What a page of one municipality can show: the release's published tables, nothing else.

    Attributes
    ----------
    municipality : str
    own, region : dict of str to DataFrame
        The municipality's and the region's published tables (strings).
    facts, region_facts : dict
        :meth:`asi_lib.release.Release.heading_facts` of both.
    reference_date : str
    release_lang : str
        The language the release's tables were written in.
    min_cell : int
    """

    municipality: str
    own: dict
    region: dict
    facts: dict
    region_facts: dict
    reference_date: str
    release_lang: str = "sv"
    min_cell: int = 5


def load_view_data(release, municipality: str) -> ViewData:
    """Step 1 (load): the published tables and heading facts of one municipality and the region.

    Parameters
    ----------
    release : asi_lib.release.Release
    municipality : str
        Must be a municipality of the release.

    Returns
    -------
    ViewData

    Raises
    ------
    AsiInputError
        The municipality is not in the release.
    """
    if municipality not in set(release.municipalities):
        raise AsiInputError(f"kommunen '{municipality}' finns inte i utgåvan / not in the release")
    params = release.manifest.get("parameters", {})
    return ViewData(municipality=municipality, own=release.tables(municipality), region=release.tables(None),
                    facts=release.heading_facts(municipality), region_facts=release.heading_facts(None),
                    reference_date=release.reference_date, release_lang=params.get("lang", "sv"),
                    min_cell=int(params.get("min_cell", 5)))


# --------------------------------------------------------------------------- step 2: select
@dataclass
class ViewResult:
    """What one view shows.

    Attributes
    ----------
    table : pandas.DataFrame
        The manager's table: published cells only, relabelled, as text.
    analyst : dict of str to DataFrame
        The release's tables of the view as published (shown under "För analytiker").
    plot : pandas.DataFrame
        ``label``, ``series``, ``value``, ``low``, ``high``, ``text`` (the
        published text of the value): only rows whose value and interval are
        published numbers.
    lines : list of (str, float)
        Reference lines (label, value) drawn across the figure.
    xlabel : str
    percent : bool
        The values are shares (axis in per cent).
    message : str
        Shown when there is nothing to draw.
    """

    table: pd.DataFrame = field(default_factory=pd.DataFrame)
    analyst: dict = field(default_factory=dict)
    plot: pd.DataFrame = field(default_factory=pd.DataFrame)
    lines: list = field(default_factory=list)
    xlabel: str = ""
    percent: bool = False
    message: str = ""
    seconds: float = 0.0


def _number(text, lang: str = "sv") -> float:
    """A published cell's text as a number (NaN for ``..``, ``–``, ``<0,001``, empty).

    Examples
    --------
    >>> _number("1\u2009080"), _number("−0,13"), _number("15 %"), _number(".."), _number("<0,001")
    (1080.0, -0.13, 0.15, nan, nan)
    """
    s = str(text).strip().replace("\u2009", "").replace("\xa0", "").replace(" ", "").replace("−", "-")
    pct = s.endswith("%")
    s = s.rstrip("%")
    s = s.replace(",", ".") if lang == "sv" else s.replace(",", "")
    try:
        v = float(s)
    except ValueError:
        return float("nan")
    return v / 100 if pct else v


def _cell(frame: pd.DataFrame, row, col) -> str:
    """A published cell as text ('' when the table, row or column is absent)."""
    if frame is None or col not in frame.columns or row is None or row >= len(frame):
        return ""
    return str(frame.iloc[row][col])


_SV_NUMBER = re.compile(r"^(<|−)?[0-9][0-9\u2009]*(,[0-9]+)?( %| %-enh\.)?$")


def _translate(text: str, lang: str, release_lang: str) -> str:
    """A Swedish cell, heading or label of the release in the page's language.

    Numbers get a decimal point and a comma between thousands; known words
    their English label; anything else is kept.

    Examples
    --------
    >>> _translate("1\u2009080", "en", "sv"), _translate("−0,13", "en", "sv"), _translate("Kvinna", "en", "sv")
    ('1,080', '-0.13', 'Female')
    """
    if lang == release_lang or lang == "sv":
        return text
    s = str(text)
    if _SV_NUMBER.match(s):
        return (s.replace(",", ".").replace("\u2009", ",").replace("−", "-").replace(" %-enh.", " pp"))
    return _en_map().get(s, s)


_EN: dict | None = None


def _en_map() -> dict:
    """Swedish → English for everything the release's tables print (headings, measures, codes)."""
    global _EN
    if _EN is None:
        from .codebook import AREAS, load_codebook
        from .publish import COLUMN_LABELS, _code_labels, measure_label

        m = {sv: en for sv, en in COLUMN_LABELS.values()}
        cb = load_codebook()
        for a in AREAS:
            for name in (f"composite_{a}", f"rating_{a}", a):
                m[measure_label(name, "sv")] = measure_label(name, "en")
            m[cb.areas[a]["label_sv"]] = cb.areas[a]["label_en"]
        for var in ("sex", "main_substance", "housing"):
            sv, en = _code_labels(var, "sv") or {}, _code_labels(var, "en") or {}
            m.update({sv[k]: en[k] for k in sv if k in en})
        m.update(_EXTRA_EN)
        _EN = m
    return _EN


def _area_label(area: str, lang: str) -> str:
    from .codebook import load_codebook
    return load_codebook().areas[area]["label_sv" if lang == "sv" else "label_en"]


def _composite_label(area: str, release_lang: str) -> str:
    from .publish import measure_label
    return measure_label(f"composite_{area}", release_lang)


def _rows(frame: pd.DataFrame | None, col_idx: int, values) -> pd.DataFrame:
    if frame is None or not len(frame):
        return pd.DataFrame()
    return frame.loc[frame.iloc[:, col_idx].astype(str).isin(list(values)).to_numpy()]


def _h(name: str, release_lang: str) -> str:
    """A Swedish heading as the release wrote it (English releases: publish's English label)."""
    return name if release_lang == "sv" else _en_map().get(name, name)


def key_figures(data: ViewData, area: str = "alcohol", lang: str = "sv") -> list[dict]:
    """Step 2a: the manager's key figures, each with its n and the region's value.

    Parameters
    ----------
    data : ViewData
    area : str
        The life area of the "share improved" figure.
    lang : {"sv", "en"}

    Returns
    -------
    list of dict
        ``key``, ``label``, ``value``, ``n`` and ``region`` as text: published
        cells of the release (``..`` where the release hides them).
    """
    t, rl = _T[lang], data.release_lang
    out = [{"key": "clients", "label": t["clients"], "value": data.facts["clients"], "n": t["clients_n"],
            "region": t["region"].format(v=data.region_facts["clients"])}]
    own, reg = data.own.get("Materialet i korthet"), data.region.get("Materialet i korthet")
    share, count = _h("Andel", rl), ((own.columns[1]) if own is not None and own.shape[1] > 1 else "")
    for key, row, lab, n_text in (("followup", 2, "followup", "followup_n"), ("bortfall", 1, "bortfall", "bortfall_n")):
        out.append({"key": key, "label": t[lab], "value": _cell(own, row, share) or "–",
                    "n": t[n_text].format(n=_cell(own, row, count) or "–"),
                    "region": t["region"].format(v=_cell(reg, row, share) or "–")})
    ch_own, ch_reg = data.own.get("Förändring per område"), data.region.get("Förändring per område")
    lab = _area_label(area, rl)
    r_own = _rows(ch_own, 0, [lab]).pipe(lambda f: _rows(f, 1, _CHANGE_COMPOSITE))
    r_reg = _rows(ch_reg, 0, [lab]).pipe(lambda f: _rows(f, 1, _CHANGE_COMPOSITE))
    si, n_col = _h("Andel förbättrade", rl), _h("Antal klienter", rl)
    out.append({"key": "improved", "label": t["improved"].format(area=_area_label(area, lang).lower()),
                "value": (str(r_own.iloc[0][si]) if len(r_own) and si in r_own.columns else "–"),
                "n": t["improved_n"].format(n=str(r_own.iloc[0][n_col]) if len(r_own) else "–"),
                "region": t["region"].format(v=str(r_reg.iloc[0][si]) if len(r_reg) and si in r_reg.columns
                                             else "–")})
    if lang != rl:
        for k in out:
            k["value"] = _translate(k["value"], lang, rl)
            k["n"] = re.sub(r"[0-9][0-9\u2009]*", lambda m: _translate(m.group(0), lang, rl), k["n"])
            k["region"] = re.sub(r"[0-9][0-9\u2009]*( %)?", lambda m: _translate(m.group(0), lang, rl), k["region"])
    return out


def _plot_rows(frame: pd.DataFrame, label_col, value: str, low: str, high: str, series: str, lang: str,
               release_lang: str, labels=None, complement: bool = False) -> pd.DataFrame:
    """Plot numbers from published cells: rows whose value and both interval ends are numbers."""
    if frame is None or not len(frame) or value not in frame.columns:
        return pd.DataFrame(columns=["label", "series", "value", "low", "high", "text"])
    v = frame[value].map(lambda x: _number(x, release_lang)).to_numpy(dtype=float)
    lo = frame[low].map(lambda x: _number(x, release_lang)).to_numpy(dtype=float)
    hi = frame[high].map(lambda x: _number(x, release_lang)).to_numpy(dtype=float)
    text = frame[value].astype(str).map(lambda x: _translate(x, lang, release_lang)).to_numpy()
    if complement:  # a share of "followed up" drawn as the share not followed up (1 − p, interval reversed)
        v, lo, hi = 1 - v, 1 - hi, 1 - lo
        text = np.array([_fmt_share(x, lang) for x in v], dtype=object)
    ok = np.isfinite(v) & np.isfinite(lo) & np.isfinite(hi)
    lab = (np.asarray(labels, dtype=object) if labels is not None
           else frame[label_col].astype(str).map(lambda s: _translate(s, lang, release_lang)).to_numpy())
    return pd.DataFrame({"label": lab[ok], "series": series, "value": v[ok], "low": lo[ok], "high": hi[ok],
                         "text": text[ok]})


def _fmt_share(v: float, lang: str) -> str:
    if not np.isfinite(v):
        return "–"
    return f"{100 * v:.0f} %"


def _ci_text(lo, hi) -> str:
    lo, hi = str(lo), str(hi)
    return f"{lo} – {hi}" if lo not in ("", "–") and hi not in ("", "–") else "–"


def select_view(data: ViewData, view: str = "profile", area: str = "alcohol", group: str = "sex",
                lang: str = "sv") -> ViewResult:
    """Step 2b: the published cells of one view (manager table, analyst tables, plot numbers).

    Parameters
    ----------
    data : ViewData
    view : one of :data:`VIEWS`
    area : a life area (``codebook.AREAS``); the profile view's area
    group : one of :data:`GROUPS`; the profile view's grouping
    lang : {"sv", "en"}

    Returns
    -------
    ViewResult
    """
    from .codebook import AREAS

    if view not in VIEWS or group not in GROUPS or area not in AREAS or lang not in _T:
        raise AsiInputError(f"okänt val ({view}, {area}, {group}, {lang}) / unknown option")
    t0 = time.perf_counter()
    res = {"profile": _profile, "compare": _compare, "change": _change, "bortfall": _bortfall}[view](
        data, area, group, lang)
    res.analyst = {_translate(k, lang, data.release_lang): v for k, v in res.analyst.items()}
    if lang != data.release_lang and len(res.table):
        res.table = res.table.map(lambda x: " – ".join(_translate(p, lang, data.release_lang)
                                                        for p in str(x).split(" – ")))
    if not len(res.plot):
        res.message = _T[lang]["empty"]
    res.seconds = time.perf_counter() - t0
    return res


def _profile(data: ViewData, area: str, group: str, lang: str) -> ViewResult:
    t, rl = _T[lang], data.release_lang
    title = GROUPS[group][2]
    meas = _composite_label(area, rl)
    own = _rows(data.own.get(title), 1, [meas])
    total = _h("Totalt", rl)
    mean, lo, hi, n = (_h(c, rl) for c in ("Medelvärde", "95 % KI, nedre", "95 % KI, övre", "Antal klienter"))
    groups_ = own.loc[(own.iloc[:, 0].astype(str) != total).to_numpy()] if len(own) else own
    plot = _plot_rows(groups_, own.columns[0] if len(own) else None, mean, lo, hi, t["own"], lang, rl)
    lines = []
    for frame, label in ((own, t["line_own_total"]), (_rows(data.region.get(title), 1, [meas]), t["line_region"])):
        tot = frame.loc[(frame.iloc[:, 0].astype(str) == total).to_numpy()] if len(frame) else frame
        if len(tot) and np.isfinite(_number(tot.iloc[0][mean], rl)):
            lines.append((f"{label}: {_translate(tot.iloc[0][mean], lang, rl)}", _number(tot.iloc[0][mean], rl)))
    table = pd.DataFrame()
    if len(own):
        table = pd.DataFrame({
            t["group_col"]: own.iloc[:, 0].astype(str).map(lambda s: _translate(s, lang, rl)).to_numpy(),
            t["n_col"]: own[n].astype(str).to_numpy(), t["mean_col"]: own[mean].astype(str).to_numpy(),
            t["ci_col"]: [_ci_text(a, b) for a, b in zip(own[lo], own[hi])]})
    analyst = {title: _localise(own, lang, rl)} if len(own) else {}
    return ViewResult(table=table, analyst=analyst, plot=plot, lines=lines,
                      xlabel=t["x_profile"].format(area=_area_label(area, lang).lower()))


def _compare(data: ViewData, area: str, group: str, lang: str) -> ViewResult:
    from .codebook import AREAS

    t, rl = _T[lang], data.release_lang
    frame = data.own.get("Jämfört med övriga")
    labels = {_composite_label(a, rl): a for a in AREAS}
    rows = _rows(frame, 0, labels)
    names = [_area_label(labels[str(x)], lang) for x in rows.iloc[:, 0]] if len(rows) else []
    h = {k: _h(k, rl) for k in ("Antal klienter (enheten)", "Medelvärde (enheten)", "Medelvärde (övriga)",
                                "Medelvärde (regionen)", "Skillnad", "Skillnad, 95 % KI nedre",
                                "Skillnad, 95 % KI övre")}
    plot = _plot_rows(rows, None, h["Skillnad"], h["Skillnad, 95 % KI nedre"], h["Skillnad, 95 % KI övre"],
                      t["own"], lang, rl, labels=names)
    table = pd.DataFrame()
    if len(rows):
        table = pd.DataFrame({
            t["area_col"]: names, t["n_col"]: rows[h["Antal klienter (enheten)"]].astype(str).to_numpy(),
            t["own"]: rows[h["Medelvärde (enheten)"]].astype(str).to_numpy(),
            t["others"]: rows[h["Medelvärde (övriga)"]].astype(str).to_numpy(),
            t["whole_region"]: rows[h["Medelvärde (regionen)"]].astype(str).to_numpy(),
            t["diff_col"]: rows[h["Skillnad"]].astype(str).to_numpy(),
            t["ci_col"]: [_ci_text(a, b) for a, b in zip(rows[h["Skillnad, 95 % KI nedre"]],
                                                         rows[h["Skillnad, 95 % KI övre"]])]})
    analyst = {k: _localise(data.own[k], lang, rl) for k in _ANALYST_TABLES["compare"] if k in data.own}
    return ViewResult(table=table, analyst=analyst, plot=plot, lines=[("", 0.0)], xlabel=t["x_compare"])


def _change(data: ViewData, area: str, group: str, lang: str) -> ViewResult:
    from .codebook import AREAS

    t, rl = _T[lang], data.release_lang
    areas = {_area_label(a, rl): a for a in AREAS}
    own = _rows(_rows(data.own.get("Förändring per område"), 0, areas), 1, _CHANGE_COMPOSITE)
    reg = _rows(_rows(data.region.get("Förändring per område"), 0, areas), 1, _CHANGE_COMPOSITE)
    h = {k: _h(k, rl) for k in ("Antal klienter", "Medelvärde vid baslinjen", "Medelvärde vid uppföljningen",
                                "Skillnad", "95 % KI, nedre", "95 % KI, övre", "Förbättrade", "Andel förbättrade")}
    plots = []
    for frame, series in ((own, t["own"]), (reg, t["whole_region"])):
        names = [_area_label(areas[str(x)], lang) for x in frame.iloc[:, 0]] if len(frame) else []
        plots.append(_plot_rows(frame, None, h["Skillnad"], h["95 % KI, nedre"], h["95 % KI, övre"], series, lang,
                                rl, labels=names))
    table = pd.DataFrame()
    if len(own):
        reg_share = dict(zip(reg.iloc[:, 0].astype(str), reg[h["Andel förbättrade"]].astype(str))) if len(reg) else {}
        table = pd.DataFrame({
            t["area_col"]: [_area_label(areas[str(x)], lang) for x in own.iloc[:, 0]],
            t["n_col"]: own[h["Antal klienter"]].astype(str).to_numpy(),
            t["before"]: own[h["Medelvärde vid baslinjen"]].astype(str).to_numpy(),
            t["after"]: own[h["Medelvärde vid uppföljningen"]].astype(str).to_numpy(),
            t["change_col"]: own[h["Skillnad"]].astype(str).to_numpy(),
            t["ci_col"]: [_ci_text(a, b) for a, b in zip(own[h["95 % KI, nedre"]], own[h["95 % KI, övre"]])],
            t["improved_col"]: own[h["Förbättrade"]].astype(str).to_numpy(),
            t["share_improved"]: own[h["Andel förbättrade"]].astype(str).to_numpy(),
            t["region_improved"]: [reg_share.get(str(x), "–") for x in own.iloc[:, 0]]})
    analyst = {k: _localise(data.own[k], lang, rl) for k in _ANALYST_TABLES["change"] if k in data.own}
    return ViewResult(table=table, analyst=analyst, plot=pd.concat(plots, ignore_index=True), lines=[("", 0.0)],
                      xlabel=t["x_change"])


def _bortfall(data: ViewData, area: str, group: str, lang: str) -> ViewResult:
    t, rl = _T[lang], data.release_lang
    own, reg = data.own.get("Materialet i korthet"), data.region.get("Materialet i korthet")
    share, lo, hi = (_h(c, rl) for c in ("Andel", "95 % KI, nedre", "95 % KI, övre"))
    plots, rows = [], []
    for frame, series in ((own, t["own"]), (reg, t["whole_region"])):
        if frame is None or len(frame) < 3:
            continue
        plots.append(_plot_rows(frame.iloc[[1]], None, share, lo, hi, series, lang, rl, labels=[t["grund_bf"]]))
        plots.append(_plot_rows(frame.iloc[[2]], None, share, lo, hi, series, lang, rl, labels=[t["fu_bf"]],
                                complement=True))
    if own is not None and len(own) >= 3:
        cnt, of = own.columns[2], own.columns[1]
        for row, label in ((1, t["grund_bf"]), (2, t["fu_cov"])):
            rows.append({t["measure_col"]: label, t["share_col"]: _cell(own, row, share),
                         t["ci_col"]: _ci_text(_cell(own, row, lo), _cell(own, row, hi)),
                         t["count_col"]: _cell(own, row, cnt), t["of_col"]: _cell(own, row, of),
                         t["region_share"]: _cell(reg, row, share)})
    analyst = {k: _localise(data.own[k], lang, rl) for k in _ANALYST_TABLES["bortfall"] if k in data.own}
    return ViewResult(table=pd.DataFrame(rows), analyst=analyst,
                      plot=pd.concat(plots, ignore_index=True) if plots else pd.DataFrame(),
                      xlabel=t["x_bortfall"], percent=True)


def _localise(frame: pd.DataFrame, lang: str, release_lang: str) -> pd.DataFrame:
    """A published release table with its headings and text labels in the page's language."""
    out = frame.copy()
    if lang == "sv" and release_lang == "sv":  # one name per measure (releases written before change.py said so)
        out = out.replace({"Sammanfattande index (0–1)": "Sammanvägt index (0–1)"})
    if lang != release_lang and lang == "en":
        m = _en_map()
        out = pd.DataFrame({j: frame.iloc[:, j].astype(str).map(lambda x: _translate(x, lang, release_lang)).to_numpy()
                            for j in range(frame.shape[1])})
        out.columns = [m.get(str(c), str(c)) for c in frame.columns]
    out.attrs = frame.attrs
    return out


# --------------------------------------------------------------------------- step 3: figures and export
_COLORS = ("#2b6a99", "#b0b7bf", "#e69f00")


def _axis_text(v: float, lang: str, percent: bool, decimals: int) -> str:
    if percent:
        s = f"{100 * v:.0f} %"
    else:
        s = f"{v:.{decimals}f}"
    if lang == "sv":
        s = s.replace(".", ",")
    return s.replace("-", "−")


def figure_png(res: ViewResult, lang: str = "sv") -> bytes:
    """Step 3a: one horizontal figure with 95 % intervals as PNG (b'' when nothing to draw).

    Values are annotated with their published text; the axis uses decimal
    commas in Swedish and per cent for shares; the legend sits below the
    axes (never over the data); no title (the page states it once).

    Examples
    --------
    >>> r = ViewResult(plot=pd.DataFrame({"label": ["A"], "series": ["s"], "value": [0.3], "low": [0.2],
    ...                                   "high": [0.4], "text": ["0,30"]}))
    >>> figure_png(r)[:4] == b"\\x89PNG"
    True
    """
    pdat = res.plot
    if pdat is None or not len(pdat):
        return b""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    from .safe import mpl_text

    labels = list(dict.fromkeys(pdat["label"].tolist()))
    series = list(dict.fromkeys(pdat["series"].tolist()))
    rows = len(labels) * len(series)
    fig = Figure(figsize=(9.6, 0.9 + 0.32 * max(3, rows) + (0.35 if len(series) > 1 or res.lines else 0)), dpi=96)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(111)
    h = 0.8 / len(series)
    span = [np.nanmin(pdat["low"]), np.nanmax(pdat["high"])]
    for value in [v for _, v in res.lines]:
        span = [min(span[0], value), max(span[1], value)]
    if res.percent:
        span = [min(0.0, span[0]), span[1]]
    width = (span[1] - span[0]) or 1.0
    decimals = 0 if res.percent else (2 if width < 2 else 1)
    for j, s in enumerate(series):
        d = pdat.loc[pdat["series"] == s].drop_duplicates("label").set_index("label").reindex(labels)
        y = np.arange(len(labels)) + (j - (len(series) - 1) / 2) * h
        val = d["value"].to_numpy(dtype=float)
        err = np.vstack([np.nan_to_num(val - d["low"].to_numpy(dtype=float)),
                         np.nan_to_num(d["high"].to_numpy(dtype=float) - val)])
        color = _COLORS[j % len(_COLORS)]
        if res.percent or not res.lines or any(lab for lab, _ in res.lines):
            ax.barh(y, val, height=h * 0.85, color=color, label=mpl_text(s), zorder=2)
            ax.errorbar(val, y, xerr=err, fmt="none", ecolor="#333333", capsize=3, lw=1, zorder=3)
        else:  # a difference around 0: a point with its interval
            ax.errorbar(val, y, xerr=err, fmt="o", color=color, ecolor=color, capsize=3, lw=1.5, ms=6,
                        label=mpl_text(s), zorder=3)
        for yy, vv, hi, txt in zip(y, val, d["high"].to_numpy(dtype=float), d["text"].tolist()):
            if np.isfinite(vv):
                ax.text(hi + 0.015 * width, yy, mpl_text(str(txt)), va="center", fontsize=8.5, color="#222222")
    styles = ("--", ":")
    k = 0
    for lab, value in res.lines:
        if lab:
            ax.axvline(value, color="#555555", ls=styles[k % 2], lw=1.2, label=mpl_text(lab), zorder=1)
            k += 1
        else:
            ax.axvline(value, color="#555555", lw=1, zorder=1)
    ax.set_yticks(np.arange(len(labels)), [mpl_text(str(x)[:42]) for x in labels])
    ax.invert_yaxis()
    ax.set_xlim(span[0] - 0.05 * width, span[1] + 0.16 * width)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: _axis_text(v, lang, res.percent, decimals)))
    ax.grid(axis="x", alpha=0.3, zorder=0)
    ax.set_xlabel(mpl_text(res.xlabel), fontsize=9)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    handles, _ = ax.get_legend_handles_labels()
    if len(handles) > 1 or (handles and res.lines):
        ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), ncol=min(4, len(handles)), frameon=False,
                  fontsize=9, borderaxespad=0.3)  # above the axes: never over the data
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    return buf.getvalue()


def table_xlsx(tables: dict, *, title: str = "", note: str = "") -> bytes:
    """Step 3b: published tables as an Excel workbook in memory, a sheet per table, no formula cells.

    Parameters
    ----------
    tables : dict of str to DataFrame
        Sheet title → table of published text.
    title : str
        Put in cell A1 of every sheet (before the table's title).
    note : str
        Put in cell A2 (e.g. the reference-date sentence).

    Returns
    -------
    bytes
        The ``.xlsx`` file.

    Notes
    -----
    Text from data that starts with ``=`` (or another formula character) is
    stored as text (:func:`asi_lib.safe.excel_workbook`); characters Excel
    cannot store are replaced (:func:`asi_lib.safe.excel_frame`).

    Examples
    --------
    >>> import io, openpyxl
    >>> b = table_xlsx({"Vyn": pd.DataFrame({"Grupp": ["=1+1"], "Antal": ["12"]})}, title="T")
    >>> ws = openpyxl.load_workbook(io.BytesIO(b))["Vyn"]
    >>> ws["A5"].value, ws["A5"].data_type
    ('=1+1', 's')
    """
    from .safe import excel_frame, excel_value, excel_workbook, sheet_name

    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="openpyxl") as xl:
        for name, frame in tables.items():
            sheet = sheet_name(name, taken=xl.sheets)
            excel_frame(frame.astype(str)).to_excel(xl, sheet_name=sheet, index=False, startrow=3)
            ws = xl.sheets[sheet]
            ws["A1"] = excel_value(f"{title} – {name}" if title else str(name))
            ws["A2"] = excel_value(note)
            for i, col in enumerate(frame.columns, start=1):
                width = max([len(str(col))] + [len(str(v)) for v in frame[col].head(100)])
                ws.column_dimensions[ws.cell(row=4, column=i).column_letter].width = min(max(10, width + 2), 50)
        excel_workbook(xl.book)
    return buf.getvalue()


# --------------------------------------------------------------------------- step 4: layout
def _table_html(frame: pd.DataFrame, caption: str = "") -> str:
    if frame is None or not len(frame):
        return ""
    cap = f"<h4>{html.escape(caption)}</h4>" if caption else ""
    return cap + frame.to_html(index=False, escape=True, classes="asi-table", border=0)


def _data_link(data: bytes, mime: str, filename: str, text: str, css: str) -> str:
    if not data:
        return ""
    b64 = base64.b64encode(data).decode("ascii")
    return (f"<a class='{css}' download='{html.escape(filename)}' href='data:{mime};base64,{b64}'>"
            f"{html.escape(text)}</a>")


class Dashboard:
    """One municipality's overview: key figures, one figure per view, the table on demand.

    Parameters
    ----------
    release : asi_lib.release.Release
        A loaded release (:func:`asi_lib.release.load_release`).
    municipality : str
        A municipality of the release.
    lang : {"sv", "en"}, default "sv"

    Notes
    -----
    The steps are :func:`load_view_data` (once), then per change of a
    dropdown :func:`select_view` → :func:`figure_png` / :func:`table_xlsx` →
    the widgets (:meth:`widget`). A view is computed once per language and
    cached; a view change redraws only the figure and the tables.
    """

    def __init__(self, release, municipality: str, lang: str = "sv"):
        if lang not in _T:
            raise AsiInputError(f"okänt språk '{lang}' (sv, en) / unknown language")
        self.data = load_view_data(release, municipality)
        self.municipality = municipality
        self.lang = lang
        self._cache: dict = {}
        self._w: dict | None = None
        self.timings: list[float] = []

    # ------------------------------------------------------------------ selection + figures
    def view(self, view: str = "profile", area: str = "alcohol", group: str = "sex") -> tuple[ViewResult, bytes]:
        """The selected view and its figure (cached per language)."""
        key = (self.lang, view, area if view == "profile" else None, group if view == "profile" else None)
        if key not in self._cache:
            res = select_view(self.data, view, area, group, self.lang)
            self._cache[key] = (res, figure_png(res, self.lang))
        return self._cache[key]

    def options(self) -> dict:
        """Dropdown options in the current language: (label, value) pairs."""
        from .codebook import AREAS

        i = 0 if self.lang == "sv" else 1
        return {"view": [(v[i], k) for k, v in VIEWS.items()],
                "area": [(_area_label(a, self.lang), a) for a in AREAS],
                "group": [(g[i], k) for k, g in GROUPS.items()]}

    def export(self, res: ViewResult, png: bytes, view: str, analyst: bool) -> str:
        """Download links of the current view: the figure (PNG) and its table(s) (Excel)."""
        from .reports import REFERENCE_DATE_TEXT
        from .safe import file_stem

        t = self._t
        stem = f"{file_stem(self.municipality, prefix='asi')}_{view}"
        tables = {t["sheet_view"]: res.table} if len(res.table) else {}
        if analyst:
            tables.update(res.analyst)
        xlsx = table_xlsx(tables, title=f"{t['title']} – {self.municipality} – {VIEWS[view][0 if self.lang == 'sv' else 1]}",
                          note=REFERENCE_DATE_TEXT[self.lang].format(date=self.data.reference_date)) if tables else b""
        return " ".join(x for x in (
            _data_link(png, "image/png", f"{stem}.png", t["download_png"], "asi-export-png"),
            _data_link(xlsx, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", f"{stem}.xlsx",
                       t["download_xlsx"], "asi-export-xlsx")) if x)

    @property
    def _t(self) -> dict:
        return _T[self.lang]

    # ------------------------------------------------------------------ html pieces
    def heading_html(self) -> str:
        """Title once, the clients as published and the release's reference-date sentence."""
        from .publish import TENDENCY_NOTE
        from .reports import REFERENCE_DATE_TEXT

        t, f = self._t, self.data.facts
        out = [f"<h2 class='asi-title'>{html.escape(t['title'])} – {html.escape(self.municipality)}</h2>",
               f"<p class='asi-refdate'>{html.escape(REFERENCE_DATE_TEXT[self.lang].format(date=self.data.reference_date))}</p>"]
        if f.get("tendency"):
            out.append(f"<p class='asi-tendency'><b>{html.escape(TENDENCY_NOTE[self.lang].format(t=10))}.</b> "
                       f"{html.escape(t['tendency'].format(t=10))}</p>")
        return "\n".join(out)

    def key_figures_html(self, area: str) -> str:
        """The key figures as large numbers, each with its n and the region's value."""
        cards = []
        for k in key_figures(self.data, area, self.lang):
            cards.append(f"<div class='asi-kf asi-kf-{k['key']}'><div class='asi-kf-label'>{html.escape(k['label'])}</div>"
                         f"<div class='asi-kf-value'>{html.escape(str(k['value']))}</div>"
                         f"<div class='asi-kf-n'>{html.escape(k['n'])}</div>"
                         f"<div class='asi-kf-region'>{html.escape(k['region'])}</div></div>")
        return f"<div class='asi-kfs'>{''.join(cards)}</div>"

    def notes_html(self) -> str:
        t = self._t
        return (f"<p class='asi-note'>{t['index_note']}</p>"
                f"<p class='asi-note'>{t['hidden_note'].format(k=self.data.min_cell)}</p>")

    def tables_html(self, res: ViewResult, analyst: bool) -> str:
        """The manager's table; with ``analyst`` also the release's full tables and the statistical terms."""
        if not len(res.table) and not (analyst and res.analyst):
            return f"<p class='asi-empty'>{html.escape(res.message or self._t['empty'])}</p>"
        out = [_table_html(res.table)]
        if analyst:
            out.append(f"<div class='asi-analyst'><p class='asi-note'>{html.escape(self._t['analyst_note'])}</p>")
            out += [_table_html(f, k) for k, f in res.analyst.items()]
            out.append("</div>")
        return "\n".join(out)

    # ------------------------------------------------------------------ widgets
    def widget(self):
        """The page (built once; the language switch rebuilds its texts in place)."""
        import ipywidgets as w

        if self._w is None:
            root = w.VBox(layout=w.Layout(max_width="1200px"))
            root.add_class("asi-dashboard")
            self._w = {"root": root, "state": {"view": "profile", "area": "alcohol", "group": "sex",
                                               "table": False, "analyst": False}}
            self._build()
        return self._w["root"]

    def _build(self) -> None:
        """All child widgets in the current language; dropdown state is kept."""
        import ipywidgets as w

        t, st, opts = self._t, self._w["state"], self.options()
        style = {"description_width": "initial"}
        lang = w.ToggleButtons(options=[("Svenska", "sv"), ("English", "en")], value=self.lang,
                               description=t["lang"], style={"button_width": "80px", "description_width": "initial"})
        lang.add_class("asi-lang")
        dd = {"view": w.Dropdown(options=opts["view"], value=st["view"], description=t["view"], style=style,
                                 layout=w.Layout(width="360px")),
              "area": w.Dropdown(options=opts["area"], value=st["area"], description=t["area"], style=style,
                                 layout=w.Layout(width="330px")),
              "group": w.Dropdown(options=opts["group"], value=st["group"], description=t["group"], style=style,
                                  layout=w.Layout(width="260px"))}
        for k, d in dd.items():
            d.add_class(f"asi-{k}")
        show = w.ToggleButton(value=st["table"], description=t["show_table"], icon="")
        show.add_class("asi-show-table")
        analyst = w.Checkbox(value=st["analyst"], description=t["analyst"], indent=False)
        analyst.add_class("asi-analyst-toggle")
        heading = w.HTML(self.heading_html())
        heading.add_class("asi-heading")
        kfs = w.HTML()
        kfs.add_class("asi-keyfigures")
        image = w.Image(format="png", layout=w.Layout(max_width="min(100%, 940px)"))  # its own size: sharp text
        image.add_class("asi-plot")
        message = w.HTML()
        message.add_class("asi-message")
        export = w.HTML()
        export.add_class("asi-export")
        tables = w.HTML(layout=w.Layout(display="flex" if st["table"] else "none"))
        tables.add_class("asi-tables")
        notes = w.HTML(self.notes_html())
        notes.add_class("asi-notes")
        self._w.update({"lang": lang, "kfs": kfs, "image": image, "message": message, "export": export,
                        "tables": tables, "show": show, "analyst": analyst, **dd})

        def refresh(_change=None):
            t0 = time.perf_counter()
            for k in ("view", "area", "group"):
                st[k] = dd[k].value
            st["table"], st["analyst"] = show.value, analyst.value
            dd["group"].disabled = st["view"] != "profile"
            dd["area"].disabled = st["view"] == "bortfall"  # the area: the profile's figure and the key figure
            res, png = self.view(st["view"], st["area"], st["group"])
            kfs.value = self.key_figures_html(st["area"])
            image.value = png
            image.layout.display = "block" if png else "none"
            message.value = "" if png else f"<p class='asi-empty'>{html.escape(res.message)}</p>"
            tables.value = self.tables_html(res, st["analyst"]) if st["table"] or st["analyst"] else ""
            tables.layout.display = "block" if st["table"] or st["analyst"] else "none"
            export.value = self.export(res, png, st["view"], st["analyst"])
            self.timings.append(time.perf_counter() - t0)

        def switch_language(change):
            self.lang = change["new"]
            self._build()

        for d in (*dd.values(), show, analyst):
            d.observe(refresh, names="value")
        lang.observe(switch_language, names="value")
        refresh()
        self._w["root"].children = [
            w.HBox([heading, lang], layout=w.Layout(justify_content="space-between", align_items="flex-start")),
            kfs, w.HBox([dd["view"], dd["area"], dd["group"]], layout=w.Layout(flex_flow="row wrap")),
            message, image, export, w.HBox([show, analyst]), tables, notes]

    def set(self, **values) -> None:
        """Set widgets by value (tests, scripted use): ``view``, ``area``, ``group``, ``show``, ``analyst``, ``lang``."""
        self.widget()
        for k, v in values.items():
            self._w[k].value = v

    @property
    def current(self) -> dict:
        """What the page shows now: key figures, table and export HTML, and whether a figure is drawn."""
        self.widget()
        return {"keyfigures": self._w["kfs"].value, "tables": self._w["tables"].value,
                "export": self._w["export"].value, "plot": bool(self._w["image"].value),
                "text": " ".join(str(x.value) for x in self._w["root"].children if hasattr(x, "value"))}

    def _ipython_display_(self):  # pragma: no cover - exercised in the notebook/browser
        from IPython.display import display
        display(self.widget())
