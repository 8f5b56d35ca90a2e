"""One report per municipality: a parameterised notebook rendered by papermill.

The report itself is ``notebooks/report/kommunrapport.ipynb`` (parameters
``STORE``, ``KOMMUN``, ``AS_OF``, ``MIN_CELL``, ``LANG``, ``EXCEL``). It is
thin: it calls :func:`asi_lib.tables.standard_tables` and the small display
helpers of this module, and explains the figures in Swedish for a manager.

:func:`render_reports` executes the notebook once per municipality (and once
for the whole region) **inside this Python process** through
``papermill.execute_notebook`` in a pool of worker threads; each kernel runs
in its own process, so two workers use two cores. Every executed notebook is
converted to a self-contained HTML page without code (no script or stylesheet
from the internet), the Excel tables are written next to it, and an
``index.html`` lists every report with its status. A failing municipality is
recorded (status ``failed`` and the error message) and does not stop the
others.

Everything shown passes :func:`asi_lib.publish.publish`; the plots are drawn
from published numbers only (:func:`profile_plot_data`), so a figure never
shows what a table hides.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import hashlib
import html
import json
import os
import re
import sys
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import AsiInputError
from .pdf import pdf_unavailable_reason
from .publish import COLUMN_LABELS, TENDENCY_NOTE, TOTAL, label_values, measure_label, publish
from .safe import file_stem, markdown_text, mpl_text
from .stylesheet import prune_page

__all__ = ["REPORT_NOTEBOOK", "KERNEL_NAME", "TENDENCY_THRESHOLD", "ReportResult", "render_reports",
           "client_count", "client_counts", "overview", "overview_raw", "release_heading", "check_municipality", "show_table", "report_heading",
           "profile_plot_data", "plot_profile", "notebook_to_html", "write_index", "ensure_kernel", "resolve_release",
           "report_filename"]

#: The parameterised report notebook.
REPORT_NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "report" / "kommunrapport.ipynb"
#: The project's kernel (``make`` registers it into the venv).
KERNEL_NAME = "asi-kit"
#: Under this many clients a report shows tendencies only (Socialstyrelsen 2024).
TENDENCY_THRESHOLD = 10
REGION_LABEL = {"sv": "Hela regionen", "en": "The whole region"}

def report_filename(municipality: str | None) -> str:
    """File stem of a report: ``region`` or ``kommun_<ascii name>_<hash>``.

    :func:`asi_lib.safe.file_stem`: unique and stable per exact name ("Håbo"
    and "Habo" get different files), safe for any name (``/``, ``..``, NUL,
    long or reserved names).

    Examples
    --------
    >>> report_filename("Östermyra"), report_filename(None)
    ('kommun_ostermyra_22e9d3d1', 'region')
    """
    if municipality is None:
        return "region"
    return file_stem(municipality)


def release_heading(rel, municipality: str | None = None, *, lang: str = "sv") -> str:
    """Markdown heading of a report rendered from a release.

    Name, clients as published, the release's data period and **reference
    date** (the same words in every report, the index and the dashboard),
    the small-number threshold and, under ten clients, the tendency warning.
    No date or number of the unit's own that the release does not publish.

    Parameters
    ----------
    rel : asi_lib.release.Release
    municipality : str, optional
        ``None`` = the region.
    lang : {"sv", "en"}

    Returns
    -------
    str
        Markdown (names from data are escaped).
    """
    f = rel.heading_facts(municipality, lang)
    name = markdown_text(f["name"])
    if lang == "sv":
        lines = [f"# Kommunrapport ASI: {name}", "",
                 f"**Klienter med ASI Grund:** {f['clients']} &nbsp;·&nbsp; **Regionens intervjuer:** {f['period']} "
                 f"&nbsp;·&nbsp; **Referensdatum:** {f['reference_date']} &nbsp;·&nbsp; "
                 f"**Minsta visade antal:** {f['min_cell']}", "",
                 f"*{REFERENCE_DATE_TEXT['sv'].format(date=f['reference_date'])}*"]
    else:
        lines = [f"# ASI report: {name}", "",
                 f"**Clients with ASI baseline:** {f['clients']} &nbsp;·&nbsp; **Interviews in the region:** "
                 f"{f['period']} &nbsp;·&nbsp; **Reference date:** {f['reference_date']} &nbsp;·&nbsp; "
                 f"**Smallest count shown:** {f['min_cell']}", "",
                 f"*{REFERENCE_DATE_TEXT['en'].format(date=f['reference_date'])}*"]
    if f["tendency"]:
        lines += ["", f"> **{TENDENCY_NOTE[lang].format(t=TENDENCY_THRESHOLD)}.** " + (
            "Med färre än tio klienter går det inte att dra slutsatser, bara reflektera över tendenser. "
            "Jämför gärna med regionen eller slå ihop flera år." if lang == "sv" else
            "With fewer than ten clients no conclusions can be drawn, only tendencies reflected on. "
            "Compare with the region or pool several years."),
                  "", '<div class="asi-kort-rapport"></div>']   # the print stylesheet: a short report, no page breaks
    return "\n".join(lines)


#: How every output of a release states its reference date.
REFERENCE_DATE_TEXT = {
    "sv": "Alla siffror gäller data till och med referensdatum {date}; uppföljning och bortfall räknas per "
          "detta datum för alla kommuner.",
    "en": "All figures use data up to the reference date {date}; follow-up and attrition are counted at this "
          "date for every municipality.",
}


# --------------------------------------------------------------------------- published numbers
def check_municipality(ds, municipality: str | None) -> None:
    """Raise :class:`AsiInputError` when ``municipality`` has no data in ``ds``.

    ``None`` (the whole region) is always accepted.

    Parameters
    ----------
    ds : Dataset
    municipality : str or None

    Returns
    -------
    None

    Examples
    --------
    >>> from asi_lib.datasets import read_dataset
    >>> ds = read_dataset("demo", n_clients=300)
    >>> check_municipality(ds, None)
    >>> check_municipality(ds, "Atlantis")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    asi_lib.errors.AsiInputError: okänd kommun 'Atlantis' (finns: ...) / unknown municipality
    """
    if municipality is None:
        return
    known = sorted(map(str, ds.grund["municipality"].dropna().unique()))
    if str(municipality) not in known:
        raise AsiInputError(f"okänd kommun '{municipality}' (finns: {', '.join(known)}) / unknown municipality")


def _own(ds, municipality):
    return ds if municipality is None else ds.filter(municipality=municipality)


def client_counts(ds, *, min_cell: int = 5) -> pd.DataFrame:
    """Clients with ASI Grund per municipality and for the region, protected together.

    The counts of all municipalities and the region's total are published as
    **one** additive table, so the index and the report headings can never be
    differenced into a suppressed count (region − the others); they are the
    numbers of the region's "Problem per kommun" table.

    Parameters
    ----------
    ds : Dataset
        The whole region.
    min_cell : int, default 5
        Smallest count shown.

    Returns
    -------
    DataFrame
        ``municipality`` (``None`` = the region), ``n`` (published string:
        a number, ``"<5"`` or ``".."``), ``tendency`` (n < :data:`TENDENCY_THRESHOLD`).

    Notes
    -----
    A client counts once, in the municipality of his or her latest Grund
    (:func:`asi_lib.groups.latest_grund`); the total is the sum of the groups.

    Examples
    --------
    >>> from asi_lib.datasets import read_dataset
    >>> cc = client_counts(read_dataset("demo", n_clients=300))
    >>> cc["municipality"].iloc[-1] is None, bool(cc["tendency"].iloc[-1])
    (True, False)
    """
    from .release import client_count_table

    raw = client_count_table(ds)     # the same raw table the release's index protects
    pub = publish(raw, min_cell=min_cell, labels=False)
    names = [*raw["municipality"].iloc[:-1], None]
    return pd.DataFrame({"municipality": pd.Series(names, dtype=object), "n": pub["n"].astype(str).to_numpy(),
                         "tendency": raw["n"].to_numpy() < TENDENCY_THRESHOLD})


def client_count(ds, municipality: str | None = None, *, min_cell: int = 5) -> tuple[str, bool]:
    """Number of clients with an ASI Grund, as published, and the tendency flag.

    Parameters
    ----------
    ds : Dataset
    municipality : str, optional
        ``None`` = the whole region.
    min_cell : int

    Returns
    -------
    (str, bool)
        The count as :func:`client_counts` publishes it (``"<5"`` for
        0 < n < min_cell, ``".."`` when hidden so that no other count can be
        recovered) and whether n < :data:`TENDENCY_THRESHOLD` ("Endast tendenser").

    Examples
    --------
    >>> from asi_lib.datasets import read_dataset
    >>> ds = read_dataset("demo", n_clients=300)
    >>> text, tendency = client_count(ds)
    >>> int(text) > 200, tendency
    (True, False)
    """
    cc = client_counts(ds, min_cell=min_cell)
    row = cc[cc["municipality"].isna()] if municipality is None else cc[cc["municipality"] == str(municipality)]
    if row.empty:
        return "–", False
    return str(row["n"].iloc[0]), bool(row["tendency"].iloc[0])


def overview_raw(ds, municipality: str | None = None, *, as_of=None, lang: str = "sv",
                 window=(90, 730)) -> pd.DataFrame:
    """The material in brief, raw (unprotected): what :func:`overview` publishes.

    Three rows: clients with ASI Grund (n); the target group and how many of
    them are a Grund bortfall (n, k, share); baselines whose follow-up window
    has passed and how many were followed up (n, k, share).

    Parameters
    ----------
    ds : Dataset
        The whole region.
    municipality : str, optional
        The report's municipality; ``None`` = the region.
    as_of : date-like, optional
        Reference date of the follow-up windows (default: today).
    lang : {"sv", "en"}
    window : (int, int), default (90, 730)
        Follow-up window in days (:func:`asi_lib.followup.pair_followups`).

    Returns
    -------
    DataFrame
        ``label``, ``n``, ``k``, ``share``, ``ci_low``, ``ci_high`` with ``attrs["asi"]``.

    Notes
    -----
    Target group = clients with a Grund interview or a Grund bortfall
    (:func:`asi_lib.bortfall.grund_bortfall`); follow-up rate = followed up /
    (followed up + window passed without follow-up)
    (:meth:`asi_lib.followup.Pairing.summary`). Shares get Wilson 95 % CIs
    from :func:`asi_lib.stats.wilson_ci`.
    """
    from . import bortfall, followup

    own = _own(ds, municipality)
    pairing = followup.pair_followups(own, window=window, as_of=as_of)
    return _overview_raw(own, bortfall.grund_bortfall(own), pairing.summary(lang=lang), lang=lang, window=window)


def _overview_raw(own, gb: pd.DataFrame, summary: pd.DataFrame, *, lang: str, window) -> pd.DataFrame:
    """:func:`overview_raw` from the unit's own data, its Grund bortfall (``grund_bortfall(own)``, or grouped
    by a variable: the groups are summed) and its pairing's ``summary(lang)``; a release has these already."""
    from .stats import wilson_ci

    n_clients = int(own.grund["client_pid"].nunique())
    n_target, k_bort = (int(gb["n"].sum()), int(gb["k"].sum())) if len(gb) else (0, 0)
    summ = summary.set_index("measure")
    n_due, k_fu = int(summ.loc["due", "n"]), int(summ.loc["followed_up", "n"])
    L = {"sv": ["Klienter med ASI Grund", "Målgruppen: Grundbortfall (ej intervjuade)",
                "Baslinjer där uppföljning förfallit: uppföljda"],
         "en": ["Clients with ASI baseline", "Target group: baseline attrition (not interviewed)",
                "Baselines due for follow-up: followed up"]}[lang]
    n = np.array([n_clients, n_target, n_due], dtype=float)
    k = np.array([np.nan, k_bort, k_fu])
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(n > 0, k / n, np.nan)
    lo, hi = wilson_ci(np.nan_to_num(k[1:]).astype(int), n[1:].astype(int))
    raw = pd.DataFrame({"label": L, "n": n.astype(int), "k": pd.array([pd.NA, k_bort, k_fu], dtype="Int64"),
                        "share": share, "ci_low": np.r_[np.nan, lo], "ci_high": np.r_[np.nan, hi]})
    raw.attrs["asi"] = {
        "unit": "klienter / baslinjer", "group_cols": [], "additive": False, "key_cols": ["label"],
        "selection": ("senaste Grund per klient; bortfall enligt registreringar; uppföljning "
                      f"{window[0]}–{window[1]} dagar efter baslinjen"),
        "column_labels": {"label": ("Materialet", "Material"), "n": ("Antal", "Number"),
                          "k": ("Varav", "Of which"), "share": ("Andel", "Share")},
    }
    return raw


def overview(ds, municipality: str | None = None, *, as_of=None, min_cell: int = 5, lang: str = "sv",
             window=(90, 730)) -> pd.DataFrame:
    """The material in brief: clients, Grund bortfall, follow-up, as a published table.

    :func:`overview_raw` through :func:`~asi_lib.publish.publish` (this table
    alone; a release protects it together with everything else).

    Parameters
    ----------
    ds : Dataset
        The whole region.
    municipality : str, optional
        ``None`` = the region.
    as_of : date-like, optional
        Reference date of the follow-up windows (default: today).
    min_cell : int, default 5
    lang : {"sv", "en"}
    window : (int, int), default (90, 730)

    Returns
    -------
    DataFrame
        Published (strings, small numbers protected).
    """
    return publish(overview_raw(ds, municipality, as_of=as_of, lang=lang, window=window),
                   min_cell=min_cell, lang=lang)


# --------------------------------------------------------------------------- display helpers
def show_table(frame: pd.DataFrame, title: str | None = None):
    """A published table as HTML for the report: no index, selection and legend below.

    Refuses a frame that has not passed :func:`~asi_lib.publish.publish`.

    Parameters
    ----------
    frame : pandas.DataFrame
        A published table (``attrs["asi"]["published"]``).
    title : str, optional
        Heading above the table.

    Returns
    -------
    IPython.display.HTML
        The table, then its selection, unit and the legend of the markers.
    """
    from IPython.display import HTML

    meta = frame.attrs.get("asi", {})
    if not meta.get("published"):
        raise AsiInputError("tabellen har inte passerat publish() / table not published")
    parts = []
    if title:
        parts.append(f"<h3>{html.escape(title)}</h3>")
    parts.append(frame.to_html(index=False, border=0, classes="asi-tabell", escape=True, na_rep=""))
    notes = []
    if meta.get("selection"):
        notes.append(f"Urval: {meta['selection']}.")
    if meta.get("unit"):
        notes.append(f"Enhet: {meta['unit']}.")
    if meta.get("legend"):
        notes.append(str(meta["legend"]))
    parts.append(f'<p class="asi-not">{html.escape(" ".join(notes))}</p>')
    return HTML("\n".join(parts))


def report_heading(ds, municipality: str | None = None, *, as_of=None, min_cell: int = 5,
                   lang: str = "sv") -> str:
    """Markdown heading of a report: name, period of the data, clients, tendency warning.

    Parameters
    ----------
    ds : Dataset
        The whole region (the client count is protected together with the others).
    municipality : str, optional
        ``None`` = the region.
    as_of : date-like, optional
        The follow-up reference date shown (default: today).
    min_cell : int, default 5
    lang : {"sv", "en"}

    Returns
    -------
    str
        Markdown; under ten clients it ends with the "tendencies only" warning.

    Examples
    --------
    >>> from asi_lib.datasets import read_dataset
    >>> print(report_heading(read_dataset("demo"), "Östermyra", as_of="2026-01-01").splitlines()[0])
    # Kommunrapport ASI: Östermyra
    """
    name = REGION_LABEL[lang] if municipality is None else markdown_text(municipality)
    own = _own(ds, municipality)
    text, tendency = client_count(ds, municipality, min_cell=min_cell)
    dates = own.grund["interview_date"].dropna()
    span = (f"{dates.min():%Y-%m} – {dates.max():%Y-%m}" if len(dates) else "–")
    as_of_txt = pd.Timestamp(as_of).date().isoformat() if as_of is not None else _dt.date.today().isoformat()
    lines = [f"# Kommunrapport ASI: {name}" if lang == "sv" else f"# ASI report: {name}", "",
             f"**Klienter med ASI Grund:** {text} &nbsp;·&nbsp; **Intervjuer från:** {span} "
             f"&nbsp;·&nbsp; **Uppföljning räknad per:** {as_of_txt} &nbsp;·&nbsp; "
             f"**Minsta visade antal:** {min_cell}"]
    if tendency:
        lines += ["", f"> **{TENDENCY_NOTE[lang].format(t=TENDENCY_THRESHOLD)}.** Med färre än tio klienter "
                  "går det inte att dra slutsatser, bara reflektera över tendenser. Jämför gärna med "
                  "regionen eller slå ihop flera år."]
    return "\n".join(lines)


# --------------------------------------------------------------------------- plots from published numbers
def _to_number(s: pd.Series) -> pd.Series:
    """Published strings ("0,23", "−0,05", "3 005", "12 %") to floats; markers to NaN."""
    t = (s.astype("string").str.replace("\u2212", "-", regex=False).str.replace(r"\s", "", regex=True)
         .str.replace("%", "", regex=False).str.replace(",", ".", regex=False))
    return pd.to_numeric(t, errors="coerce")


def _measure_codes(measures) -> list[str]:
    from .codebook import AREAS

    if measures in ("composite", None):
        return [f"composite_{a}" for a in AREAS]
    if measures == "rating":
        return [f"rating_{a}" for a in AREAS]
    return list(measures)


def profile_plot_data(profile: pd.DataFrame, *, groups=None, measures="composite", min_cell: int = 5,
                      lang: str = "sv") -> pd.DataFrame:
    """The numbers a profile plot may show: only what the published table shows.

    Parameters
    ----------
    profile : DataFrame
        A raw :func:`asi_lib.groups.profile` (it is published here first) or
        an already published one (``lang`` must match its labels).
    groups : list, optional
        Group values to keep (codes, labels or :data:`~asi_lib.publish.TOTAL`).
    measures : "composite", "rating" or list of str
    min_cell : int
    lang : {"sv", "en"}

    Returns
    -------
    DataFrame
        ``group``, ``measure`` (labels), ``n``, ``mean``, ``ci_low``,
        ``ci_high`` as numbers parsed back from the published strings. A row
        whose mean or n is hidden (``<5``, ``..``) or cannot be computed is
        omitted, so the plot can never reveal a suppressed cell; "endast
        tendenser" rows have no CI (NaN) and are drawn without an interval.

    Examples
    --------
    >>> raw = pd.DataFrame({"sex": ["male", "female", "__total__"], "measure": "composite_alcohol",
    ...                     "n": [40, 3, 43], "n_missing": 0, "mean": [0.41, 0.52, 0.418],
    ...                     "ci_low": [0.3, 0.1, 0.33], "ci_high": [0.5, 0.9, 0.5]})
    >>> raw.attrs["asi"] = {"group_cols": ["sex"], "additive": True}
    >>> profile_plot_data(raw)[["group", "n", "mean"]].values.tolist()
    [['Totalt', 43, 0.42]]
    """
    pub = profile if profile.attrs.get("asi", {}).get("published") else publish(
        profile, min_cell=min_cell, lang=lang)
    meta = pub.attrs.get("asi", {})
    i = 0 if lang == "sv" else 1
    heads = {name: COLUMN_LABELS[name][i] for name in ("measure", "n", "mean", "ci_low", "ci_high")}
    for name, labels in (meta.get("column_labels") or {}).items():
        if name in heads:
            heads[name] = labels[i]
    cols = list(pub.columns)
    if heads["measure"] not in cols:  # labels=False: raw names
        heads = {k: k for k in heads}
    missing = [h for h in heads.values() if h not in cols]
    if missing:
        raise AsiInputError(f"inte en profiltabell (saknar {', '.join(missing)}) / not a profile table")
    group_cols = cols[:cols.index(heads["measure"])]
    if group_cols:
        group = pub[group_cols[0]].astype("string")
        for c in group_cols[1:]:
            group = group.str.cat(pub[c].astype("string"), sep=" – ")
        if group_cols == list(meta.get("group_cols", [])):  # labels=False: codes
            group = pd.Series(label_values(pub[group_cols[0]], group_cols[0], lang), index=pub.index) \
                if len(group_cols) == 1 else group
    else:
        group = pd.Series("", index=pub.index)
    total_label = {"sv": "Totalt", "en": "Total"}[lang]
    group = group.replace({TOTAL: total_label})
    measure = pub[heads["measure"]].astype("string")
    codes = _measure_codes(measures)
    wanted = {c for c in codes} | {measure_label(c, lang) for c in codes}
    out = pd.DataFrame({
        "group": group.astype("string"),
        "measure": measure.map({c: measure_label(c, lang) for c in codes}).fillna(measure).astype("string"),
        "n": _to_number(pub[heads["n"]]),
        "mean": _to_number(pub[heads["mean"]]),
        "ci_low": _to_number(pub[heads["ci_low"]]),
        "ci_high": _to_number(pub[heads["ci_high"]]),
    })
    keep = measure.isin(wanted).fillna(False).to_numpy().copy()
    if groups is not None:
        names = set()
        for g in groups:
            names.add(total_label if g == TOTAL else str(g))
            if group_cols and g != TOTAL and len(group_cols) == 1:
                lab = label_values(pd.Series([g]), str(meta.get("group_cols", [None])[0]), lang)
                names.add(str(lab.iloc[0]))
        keep = keep & out["group"].isin(names).fillna(False).to_numpy()
    # a tendency row (under ten clients) has no published CI: its point is drawn without an interval
    keep = keep & out[["n", "mean"]].notna().all(axis=1).to_numpy()
    return out[keep].reset_index(drop=True)


def plot_profile(profile: pd.DataFrame, *, groups=None, measures="composite", min_cell: int = 5,
                 lang: str = "sv", title: str | None = None, group_title: str | None = None,
                 total_label: str | None = None):
    """Dot-and-interval plot of a profile, drawn only from published numbers.

    Parameters
    ----------
    profile : DataFrame
        Raw or published :func:`asi_lib.groups.profile`.
    groups, measures, min_cell, lang
        As in :func:`profile_plot_data`.
    title, group_title : str, optional
        Plot title and legend title.
    total_label : str, optional
        Name shown for the total row (e.g. "Hela regionen").

    Returns
    -------
    seaborn.objects.Plot or None
        None when publish shows no number that could be drawn (too few
        clients); the notebook then says so in words.

    Notes
    -----
    Mean with its 95 % CI per life area (composite scores 0–1); the legend
    gives each group's n; the title says "endast tendenser" when a group
    has fewer than :data:`TENDENCY_THRESHOLD` clients. Rows hidden by publish are absent from the data,
    not drawn as zeros.
    """
    import seaborn.objects as so

    data = profile_plot_data(profile, groups=groups, measures=measures, min_cell=min_cell, lang=lang)
    if data.empty:
        return None
    if total_label:
        data["group"] = data["group"].replace({"Totalt": total_label, "Total": total_label})
    n_group = data.groupby("group", sort=False)["n"].max()
    data["grupp"] = data["group"].map({g: f"{mpl_text(g)} (n = {int(v)})" for g, v in n_group.items()})
    data["omrade"] = data["measure"].str.split(": ").str[-1]
    title, group_title = mpl_text(title or ""), group_title and mpl_text(group_title)
    if (n_group < TENDENCY_THRESHOLD).any():  # the figure says it too, not only the tables
        note = "endast tendenser" if lang == "sv" else "tendencies only"
        title = f"{title} ({note}: färre än {TENDENCY_THRESHOLD} klienter)" if lang == "sv" else \
            f"{title} ({note}: fewer than {TENDENCY_THRESHOLD} clients)"
    xlab = ("Medelvärde med 95 % KI" if lang == "sv" else "Mean with 95% CI")
    if measures in ("composite", None):
        xlab += " (0–1, högre = svårare)" if lang == "sv" else " (0–1, higher = more severe)"
    return (so.Plot(data, x="mean", xmin="ci_low", xmax="ci_high", y="omrade", color="grupp")
            .add(so.Range(), so.Dodge()).add(so.Dot(), so.Dodge())
            .layout(size=(7.5, 4.2))
            .label(x=xlab, y="", color=group_title or ("Grupp (n klienter)" if lang == "sv" else "Group (n)"),
                   title=title))


# --------------------------------------------------------------------------- HTML without code
_TEMPLATE = """{%- extends 'index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block extra_css -%}
<style type="text/css">
body { max-width: 1100px; margin: 0 auto; }
table.asi-tabell { border-collapse: collapse; font-size: 0.8em; margin: 0.4em 0; }
table.asi-tabell th, table.asi-tabell td { border-bottom: 1px solid #ccc; padding: 2px 6px; text-align: right; }
table.asi-tabell th { background: #eef2f5; vertical-align: bottom; }
/* wide tables scroll on screen instead of running off the page; on paper they wrap and shrink (below) */
.jp-RenderedHTMLCommon:has(> table.asi-tabell) { overflow-x: auto; }
/* ---- print (docs/reports.md, "Print and PDF"): A4, header, page numbers, tables that fit ---- */
@page {
  size: A4 portrait;
  margin: 20mm 14mm 18mm 14mm;
  @top-left { font: 8pt sans-serif; color: #555; }
  @bottom-right { content: counter(page) " / " counter(pages); font: 8pt sans-serif; color: #555; }
}
@page asi-bred { size: A4 landscape; }
@media print {
  html, body { background: #fff !important; }
  body { max-width: none; margin: 0 !important; padding: 0 !important; font-size: 9.5pt; }
  body.jp-Notebook, main, .jp-Cell, .jp-Cell-outputWrapper, .jp-Cell-inputWrapper, .jp-OutputArea,
  .jp-OutputArea-child, .jp-OutputArea-output, .jp-RenderedHTMLCommon, .jp-RenderedMarkdown {
    overflow: visible !important; padding-left: 0 !important; padding-right: 0 !important;
    margin-left: 0 !important; margin-right: 0 !important; max-width: 100% !important; min-width: 0 !important; }
  .jp-Cell { padding-top: 0 !important; padding-bottom: 0 !important; }
  .jp-OutputPrompt, .jp-InputPrompt, .jp-Collapser { display: none !important; }
  .jp-OutputArea-child { display: block !important; }
  .jp-RenderedHTMLCommon:has(> table.asi-tabell) { overflow: visible !important; }
  /* tables: the page width, smaller type as columns grow, headings and cells wrap, head repeated */
  table, .jp-RenderedHTMLCommon table { width: auto !important; max-width: 100% !important;
    table-layout: auto; font-size: 7.5pt !important; border-collapse: collapse; margin: 0.3em 0 !important; }
  table:has(tr > :nth-child(9)) { font-size: 6.8pt !important; }
  table:has(tr > :nth-child(13)) { font-size: 6pt !important; }
  table:has(tr > :nth-child(20)) { font-size: 6pt !important; }
  table th, table td, .jp-RenderedHTMLCommon th, .jp-RenderedHTMLCommon td {
    white-space: normal !important; overflow-wrap: break-word; padding: 1px 3px !important; max-width: none !important; }
  /* headings may break inside a word; cells only between words (numbers never break) */
  table th, .jp-RenderedHTMLCommon th { overflow-wrap: anywhere; }
  /* a table of 20 columns or more gets a landscape page of its own (@page asi-bred); the other tables of
     the same output stay in portrait (an output is a block, not JupyterLab's shrink-to-fit table cell) */
  .jp-OutputArea-output { display: block !important; }
  table:has(tr > :nth-child(20)) { page: asi-bred; }
  thead { display: table-header-group; }
  tr, img, svg { break-inside: avoid; }
  img { max-width: 100% !important; height: auto !important; }
  h1, h2, h3, h4 { break-after: avoid; break-inside: avoid; }
  h3 + table, h3 + p { break-before: avoid; }
  /* a main section (h2) starts a page, except the first one after the title */
  .jp-Cell:has(h2) ~ .jp-Cell h2, .asi-ny-sida { break-before: page; }
  .jp-Cell h2.asi-samma-sida { break-before: auto; }
  /* a short report (under ten clients) runs on without a page per section */
  body:has(.asi-kort-rapport) .jp-Cell h2 { break-before: auto; }
  blockquote { break-inside: avoid; }
  a { color: inherit; text-decoration: none; }
}
table.asi-tabell td:first-child, table.asi-tabell th:first-child { text-align: left; }
p.asi-not { font-size: 0.8em; color: #444; margin-top: 0.2em; }
blockquote { border-left: 4px solid #d9822b; background: #fff6ec; padding: 0.3em 0.8em; }
</style>
{%- endblock extra_css -%}
"""


_EXPORTERS = threading.local()


_IMG_WITHOUT_ALT = re.compile(r"<img(?![^>]*\balt=)")
_FOCUSABLE = re.compile(r'(<div\b[^>]*\bclass="[^"]*\b(?:jp-OutputArea-output|jp-Cell-inputWrapper)\b[^"]*")')


def _html_exporter():
    """This thread's HTML exporter: template environment and preprocessors built once per worker.

    nbconvert's ``HTMLExporter.from_notebook_node`` ends by parsing the whole
    finished page with BeautifulSoup only to add an alt text to images that
    have none and ``tabindex="0"`` to inputs and outputs: most of a report's
    export time (a 1 MB page with embedded figures). Ours does the same two
    edits with two regular expressions on the template's own markup, then
    leaves out the template's CSS rules that cannot match the page
    (:func:`asi_lib.stylesheet.prune_page`: 240 → 100 kB, and the printer
    0.13 s faster per report).
    """
    exporter = getattr(_EXPORTERS, "html", None)
    if exporter is None:
        from jinja2 import DictLoader
        from nbconvert import HTMLExporter
        from nbconvert.exporters.templateexporter import TemplateExporter
        from nbconvert.filters.highlight import Highlight2HTML
        from nbconvert.filters.widgetsdatatypefilter import WidgetsDataTypeFilter

        class ReportHTMLExporter(HTMLExporter):
            def from_notebook_node(self, nb, resources=None, **kw):
                # HTMLExporter.from_notebook_node (nbconvert 7.17) up to the BeautifulSoup pass
                langinfo = nb.metadata.get("language_info", {})
                lexer = langinfo.get("pygments_lexer", langinfo.get("name", None))
                self.register_filter("highlight_code", self.filters.get(
                    "highlight_code", Highlight2HTML(pygments_lexer=lexer, parent=self)))
                resources = self._init_resources(resources)
                self.register_filter("filter_data_type", WidgetsDataTypeFilter(
                    notebook_metadata=self._nb_metadata, parent=self, resources=resources))
                page, resources = TemplateExporter.from_notebook_node(self, nb, resources, **kw)
                page = _IMG_WITHOUT_ALT.sub('<img alt="Figur"', page)
                # JupyterLab's 240 kB of CSS cut to the rules that can match this page (asi_lib.stylesheet)
                return prune_page(_FOCUSABLE.sub(r'\1 tabindex="0"', page)), resources

        exporter = ReportHTMLExporter(template_name="lab", template_file="asi_report.html.j2",
                                      extra_loaders=[DictLoader({"asi_report.html.j2": _TEMPLATE})],
                                      exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True,
                                      embed_images=True)
        exporter.language_code = "sv"
        _EXPORTERS.html = exporter
    return exporter


def _css_string(text: str) -> str:
    """``text`` as a CSS string literal that cannot end the string, the rule or the ``<style>`` element."""
    out = []
    for ch in str(text):
        if ch.isalnum() or ch in " .,:;–-()/_'åäöÅÄÖ" and ch not in "\\\"<>":
            out.append(ch)
        else:
            out.append(f"\\{ord(ch):x} ")
    return '"' + "".join(out) + '"'


PAGE_WORDS = {"sv": ("Sida", "av"), "en": ("Page", "of")}


def print_header_css(header: str, lang: str = "sv") -> str:
    """The per-report part of the print stylesheet: the page header text and "Sida n av m".

    The header comes from data (a municipality's name): it is written as a
    CSS string with every character outside a small safe set escaped, so it
    cannot close the string, the rule or the ``<style>`` element.

    Examples
    --------
    >>> css = print_header_css('Å</style>"x', "sv")
    >>> bs = chr(92)  # a backslash: "<" ">" '"' become CSS escapes
    >>> css.count("</style>"), f'"Å{bs}3c /style{bs}3e {bs}22 x"' in css
    (1, True)
    """
    page, of = PAGE_WORDS.get(lang, PAGE_WORDS["sv"])
    return (f'<style type="text/css" id="asi-print-header">@page {{ @top-left {{ content: {_css_string(header)}; }} '
            f'@bottom-right {{ content: {_css_string(page + " ")} counter(page) {_css_string(" " + of + " ")} '
            f'counter(pages); }} }}</style>')


def _write_atomic(path: Path, data: bytes) -> Path:
    """Write ``data`` to a temporary file beside ``path``, then ``os.replace``: readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def notebook_to_html(nb, path, *, title: str = "", header: str = "", lang: str = "sv") -> Path:
    """An executed notebook as a self-contained HTML page without code, ready to print.

    Uses nbconvert's ``lab`` template with inputs and prompts excluded and the
    blocks that load require.js, MathJax, Mermaid and widget renderers from
    public CDNs removed; images are embedded; stderr streams (warnings) are
    dropped. The exporter is built once per thread and reused, and skips
    nbconvert's BeautifulSoup pass over the finished page (see
    ``_html_exporter``). The page has a print stylesheet (A4, tables that fit
    the page, a page break before each main section) and, with ``header``, a
    running page header and "Sida n av m" (:func:`print_header_css`). Written
    atomically (temporary file, then ``os.replace``).
    """
    import nbformat

    nb = nbformat.from_dict(nb) if not isinstance(nb, nbformat.NotebookNode) else nb
    nb = nbformat.from_dict(nb.copy())
    for cell in nb.cells:
        if cell.get("cell_type") == "code":
            cell["outputs"] = [o for o in cell.get("outputs", [])
                               if not (o.get("output_type") == "stream" and o.get("name") == "stderr")]
    if title:
        nb.metadata["title"] = title
    nb.metadata.pop("widgets", None)
    exporter = _html_exporter()
    body, _ = exporter.from_notebook_node(nb)
    css = print_header_css(header or title, lang)
    body = body.replace("</head>", css + "\n</head>", 1)
    return _write_atomic(Path(path), body.encode("utf-8"))


# --------------------------------------------------------------------------- kernels
def ensure_kernel(name: str = KERNEL_NAME) -> str:
    """Name of a kernelspec that runs this interpreter.

    Returns ``name`` when that kernelspec exists; otherwise registers one for
    the current interpreter into ``sys.prefix`` (``ipykernel.kernelspec.install``)
    and returns its name.
    """
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        KernelSpecManager().get_kernel_spec(name)
        return name
    except NoSuchKernel:
        from ipykernel.kernelspec import install

        install(kernel_name=name, display_name=f"Python ({name})", prefix=sys.prefix)
        return name


def _ipc_manager_class(ipc_dir: str):
    """An async kernel manager on IPC transport with its own socket path.

    TCP ports picked by two kernels starting at once can collide
    (``ZMQError: Address already in use``, nteract/papermill#511); IPC sockets
    under a private directory and a unique name per kernel cannot.
    """
    from jupyter_client.manager import AsyncKernelManager
    from traitlets import CaselessStrEnum

    class IPCKernelManager(AsyncKernelManager):
        transport = CaselessStrEnum(["tcp", "ipc"], default_value="ipc", config=True)

        def _ip_default(self):
            return os.path.join(ipc_dir, f"k{uuid.uuid4().hex[:12]}")

    return IPCKernelManager


# --------------------------------------------------------------------------- rendering
@dataclass
class ReportResult:
    """Outcome of one report.

    Attributes
    ----------
    municipality : str or None
        ``None`` = the whole region.
    name : str
        Name shown in the index.
    status : {"ok", "failed"}
    html, pdf, excel, notebook : Path or None
        What was written (the executed notebook is kept also on failure).
    n_clients : str
        Clients with ASI Grund as published (:func:`client_counts`).
    tendency : bool
        Fewer than :data:`TENDENCY_THRESHOLD` clients.
    seconds : float
        Wall time of execution and conversion.
    error : str
        First line of the error (``"AsiInputError: okänd kommun ..."``).
    worker : str
        Where it was rendered (``host:pid`` on a Dask worker; empty locally).
    skipped : bool
        Not rendered again: its inputs (release, notebook, parameters) are
        those of the files already written (``--force`` renders anyway).
    note : str
        Why there is no PDF (Chromium missing, printing failed); the report is still ``ok``.
    pdf_seconds : float
        Time spent printing the PDF.
    """

    municipality: str | None
    name: str
    status: str = "ok"
    html: Path | None = None
    excel: Path | None = None
    notebook: Path | None = None
    n_clients: str = "–"
    tendency: bool = False
    seconds: float = 0.0
    error: str = ""
    worker: str = ""
    pdf: Path | None = None
    skipped: bool = False
    note: str = ""
    pdf_seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def _error_text(exc: BaseException) -> str:
    ename, evalue = getattr(exc, "ename", None), getattr(exc, "evalue", None)
    text = f"{ename}: {evalue}" if ename else f"{type(exc).__name__}: {exc}"
    text = re.sub(r"\x1b\[[0-9;]*m", "", text)
    return text.strip().splitlines()[0][:500] if text.strip() else type(exc).__name__


def resolve_release(source, out_dir, *, as_of=None, min_cell: int = 5, lang: str = "sv", params=None) -> Path:
    """The release a batch renders: ``source`` itself, or one built from a store into ``out_dir/release``.

    Parameters
    ----------
    source : str or Path
        A release folder (:func:`asi_lib.release.write_release`) or a store.
    out_dir : str or Path
        Where a release built from a store is written (``<out_dir>/release``).
    as_of, min_cell, lang
        Used only when a release is built (:func:`asi_lib.release.build_release`).
    params : asi_lib.params.RegionParams, optional
        A region file: a release is built with it, or must have been built with it.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    AsiInputError
        ``source`` is neither a release nor a store.
    """
    import json

    source = Path(source).resolve()
    mpath = source / "manifest.json"
    if not mpath.is_file():
        raise AsiInputError(f"varken lager eller utgåva i {source} (manifest.json saknas) / no store or release")
    try:
        manifest = json.loads(mpath.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise AsiInputError(f"{mpath} går inte att läsa: {exc} / unreadable manifest") from None
    from .release import build_release, write_release
    from .store import load_store

    target = Path(out_dir).resolve() / "release"
    if params is not None:
        from .params import build_region_release, check_release_params

        if "reference_date" in manifest and "format" in manifest:
            check_release_params(params, manifest)
            return source
        return write_release(build_region_release(params, load_store(source)), target)
    if "reference_date" in manifest and "format" in manifest:
        return source
    return write_release(build_release(load_store(source), as_of=as_of, min_cell=min_cell, lang=lang), target)


#: What the batch knows about the files in an output folder: per report, the key of its inputs and its files.
STATE_FILE = "render-state.json"


def _sha_file(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _read_state(out_dir: Path) -> dict:
    try:
        state = json.loads((out_dir / STATE_FILE).read_text(encoding="utf-8"))
        return state if isinstance(state, dict) else {}
    except (OSError, ValueError):
        return {}


def _input_key(task, digests: dict) -> str:
    """One digest of everything a report's files depend on (release, notebook, parameters, page, PDF or not)."""
    blob = json.dumps({**digests, "parameters": task.parameters, "title": task.title, "header": task.header,
                       "lang": task.lang, "pdf": task.pdf}, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _reuse(entry, key: str, out_dir: Path, want_pdf: bool):
    """The files of an earlier run with the same inputs, or ``None`` when the report must be rendered."""
    if not isinstance(entry, dict) or entry.get("key") != key or not entry.get("html"):
        return None
    paths = {k: (out_dir / entry[k]) if entry.get(k) else None for k in ("html", "pdf", "excel", "notebook")}
    if not paths["html"].is_file() or (want_pdf and (paths["pdf"] is None or not paths["pdf"].is_file())) \
            or (paths["excel"] is not None and not paths["excel"].is_file()):
        return None
    return paths["html"], paths["pdf"], paths["excel"], paths["notebook"]


def render_reports(source, out_dir, *, municipalities=None, workers: int = 2, as_of=None, timeout: int = 600,
                   progress: bool = True, region: bool | None = None, min_cell: int = 5,
                   lang: str = "sv", parameters: dict | None = None, scheduler=None,
                   recycle: int = 200, pdf: bool = True, force: bool = False, params=None) -> list[ReportResult]:
    """Render the report notebook per municipality to HTML (no code) + Excel, and an index.

    Parameters
    ----------
    source : str or Path
        A release (:mod:`asi_lib.release`) or a store; from a store, the
        release is built first into ``out_dir/release`` (all reports of one
        run then come from one protected release on one reference date).
    out_dir : str or Path
        Gets ``<stem>.html``, ``<stem>.pdf``, ``<stem>.xlsx``,
        ``ipynb/<stem>.ipynb``, ``index.html`` and ``render-state.json``.
    municipalities : list of str, optional
        Default: every municipality in the store, plus the whole region. A
        ``None`` in the list means the whole region.
    workers : int, default 2
        Local mode: reports executed at the same time (one warm kernel each).
    as_of : date-like, optional
        Reference date when a release is built from a store (default: the
        latest interview in the store).
    timeout : int, default 600
        Seconds one report may take (every cell gets what is left).
    progress : bool
        tqdm progress bar on stderr.
    region : bool, optional
        Add the whole-region report; default True when ``municipalities`` is
        None, else False.
    min_cell : int
    lang : {"sv", "en"}
    parameters : dict, optional
        More notebook parameters, the same for every report (e.g.
        ``{"RELEASE": path}``); the engine passes them on unread.
    scheduler : str or distributed.Client, optional
        A Dask scheduler (``tcp://host:8786``): one task per municipality is
        sent to its workers. Default: ``$ASI_KIT_SCHEDULER``, else local.
    recycle : int, default 200
        Local mode: reports per kernel before it is replaced.
    pdf : bool, default True
        Also print every report to ``<stem>.pdf`` with headless Chromium
        (:mod:`asi_lib.pdf`, one browser per worker). Without playwright or
        Chromium a message is printed once and no PDF is written; the
        reports are still ``ok``.
    force : bool, default False
        Render every report. By default a report whose inputs (the release's
        manifest and thus its checksums, the notebook, the parameters, the
        page's stylesheet, whether a PDF is wanted) are those recorded for
        the files already in ``out_dir`` (``render-state.json``) is not
        rendered again (``skipped``).
    params : asi_lib.params.RegionParams, optional
        A region file: from a store, the release is built with it (period,
        min_cell, lang, who counts, who is named); a release must have been
        built with the same file. Either way, a municipality the release does
        not name gets its own report but no row in the index.

    Returns
    -------
    list of ReportResult
        In the order of the index (region first, then by name). Failures are
        recorded, not raised.

    Raises
    ------
    AsiInputError
        No store or release at ``source``, the report notebook is missing, or the
        scheduler cannot be reached.

    Notes
    -----
    The engine is :mod:`asi_lib.rendering`: papermill executes the notebook
    in warm kernels (one per worker, namespace reset between reports),
    HTML via :func:`notebook_to_html` with one exporter per worker. Reports
    are started largest first, so the small ones fill the gaps at the end.
    See ``docs/reports.md``.

    Examples
    --------
    >>> res = render_reports("out/demo/store", "out/rapporter", municipalities=["Fjällbo"])  # doctest: +SKIP
    >>> [(r.name, r.status, r.n_clients, r.tendency) for r in res]  # doctest: +SKIP
    [('Fjällbo', 'ok', '7', True)]
    """
    from . import rendering
    from .release import REGION, load_release

    out_dir = Path(out_dir).resolve()
    if out_dir.exists() and not out_dir.is_dir():
        raise AsiInputError(f"utmappen {out_dir} är en fil / the output folder is a file")
    if not REPORT_NOTEBOOK.exists():
        raise AsiInputError(f"rapportmallen saknas: {REPORT_NOTEBOOK} / report notebook missing")
    scheduler = scheduler or os.environ.get(rendering.SCHEDULER_ENV) or None
    if params is not None:
        lang = params.lang
    release = resolve_release(source, out_dir, as_of=as_of, min_cell=min_cell, lang=lang, params=params)
    rel = load_release(release, units=[REGION])   # the manifest is whole; no unit's tables are needed here
    known = rel.municipalities
    if municipalities is None:
        todo: list[str | None] = list(known)
        region = True if region is None else region
    else:
        todo = list(municipalities)     # an unknown name fails its own report, not the others
        region = bool(region)
    if region and None not in todo:
        todo.insert(0, None)
    stems = [report_filename(m) for m in todo]
    if len(set(stems)) != len(stems):  # 32-bit hash prefix: practically never, but never silently
        raise AsiInputError("två kommuner får samma filnamn / two municipalities share a file name")
    counts = rel.client_counts()
    by_name = {m: (n, t) for m, n, t in zip(counts["municipality"], counts["n"], counts["tendency"])}
    # largest first: the number of rows of a unit's largest table is a cheap, published proxy
    size = {t["unit"]: t["nrow"] for t in rel.manifest["tables"] if t["title"] == "ASI-användning"}
    common = {"RELEASE": str(release), "LANG": lang, **(parameters or {})}
    no_pdf = pdf_unavailable_reason() if pdf else None
    if no_pdf:
        print(no_pdf, file=sys.stderr)
    want_pdf = bool(pdf) and not no_pdf
    results, tasks = [], []
    for m in todo:
        name = REGION_LABEL[lang] if m is None else str(m)
        res = ReportResult(municipality=m, name=name)
        res.n_clients, res.tendency = by_name.get(None if m is None else str(m), ("–", False))
        results.append(res)
        title = f"Kommunrapport ASI: {name}" if lang == "sv" else f"ASI report: {name}"
        header = f"{name} · {'Kommunrapport ASI' if lang == 'sv' else 'ASI report'} · " \
                 f"{'referensdatum' if lang == 'sv' else 'reference date'} {rel.reference_date}"
        tasks.append(rendering.ReportTask(
            municipality=m, name=name, stem=report_filename(m), parameters={**common, "KOMMUN": m},
            title=title, timeout=timeout, header=header, lang=lang, pdf=want_pdf))
    out_dir.mkdir(parents=True, exist_ok=True)
    state = _read_state(out_dir)
    digests = {"release": _sha_file(Path(release) / "manifest.json"), "notebook": _sha_file(REPORT_NOTEBOOK),
               "page": hashlib.sha256(_TEMPLATE.encode("utf-8")).hexdigest()}
    keys = [_input_key(t, digests) for t in tasks]
    pending = []
    for i, (t, key) in enumerate(zip(tasks, keys)):
        old = None if force else _reuse(state.get(t.stem), key, out_dir, want_pdf)
        if old is None:
            pending.append(i)
        else:
            results[i].html, results[i].pdf, results[i].excel, results[i].notebook = old
            results[i].skipped = True
    if no_pdf:
        for r in results:
            r.note = no_pdf
    # largest first (the region counts as the largest): the small reports fill the gaps at the end
    order = sorted(pending, key=lambda i: -(10**12 if todo[i] is None else size.get(str(todo[i]), 0)))
    bar = None
    if progress and order:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(order), desc="Rapporter", unit="rapport")

    def done(r):
        if bar is not None:
            bar.set_postfix_str(f"{r.name}: {r.status}")
            bar.update(1)

    if order:
        kernel = ensure_kernel(KERNEL_NAME)
        try:
            ordered = [tasks[i] for i in order]
            if scheduler:
                rendered = rendering.run_dask(ordered, out_dir, scheduler=scheduler, kernel_name=kernel,
                                              on_done=done)
            else:
                rendered = rendering.run_local(ordered, out_dir, kernel_name=kernel, workers=workers,
                                               recycle=recycle, on_done=done)
        finally:
            if bar is not None:
                bar.close()
        for i, r in zip(order, rendered):
            r.n_clients, r.tendency = results[i].n_clients, results[i].tendency
            r.note = r.note or results[i].note
            results[i] = r
    for t, key, r in zip(tasks, keys, results):
        if r.skipped:
            continue
        if r.ok:
            state[t.stem] = {"key": key, "name": r.name, **{
                k: (None if getattr(r, k) is None else os.path.relpath(getattr(r, k), out_dir).replace(os.sep, "/"))
                for k in ("html", "pdf", "excel", "notebook")}}
        else:
            state.pop(t.stem, None)  # a failed report is rendered again next time
    _write_atomic(out_dir / STATE_FILE, json.dumps(state, indent=1, ensure_ascii=False, sort_keys=True).encode())
    unnamed = {u["unit"] for u in rel.manifest["units"] if not u.get("named", True)}
    write_index([r for r in results if r.municipality not in unnamed], out_dir, reference_date=rel.reference_date,
                min_cell=rel.manifest["parameters"]["min_cell"], lang=rel.manifest["parameters"].get("lang", lang))
    return results


#: Every word of the index page, Swedish and English.
_INDEX_TEXT = {
    "sv": {"title": "Kommunrapporter ASI", "h1": "Kommunrapporter ASI (individbaserad systematisk uppföljning)",
           "report": "Rapport (HTML)", "tables": "Tabeller (Excel)", "tendency": "Endast tendenser",
           "ok": "ok", "ok_skipped": "ok (oförändrad, inte omrenderad)", "failed": "misslyckades",
           "created": "Skapad", "refdate": "Referensdatum",
           "summary": "{n} rapporter, {ok} klara (varav {skip} oförändrade sedan förra körningen), {fail} misslyckade.",
           "head": ["Kommun", "Rapport (HTML, PDF för utskrift)", "Tabeller", "Antal klienter (Grund)",
                    "Anmärkning", "Status", "Meddelande"],
           "foot": ('Antal under {m} visas som &lt;{m}; ".." = dolt för att skydda små tal. Med färre än {t} '
                    "klienter visar rapporten endast tendenser: inga slutsatser. Alla siffror har passerat "
                    "skyddet för små tal.")},
    "en": {"title": "ASI municipality reports", "h1": "ASI municipality reports (individual-based systematic follow-up)",
           "report": "Report (HTML)", "tables": "Tables (Excel)", "tendency": "Tendencies only",
           "ok": "ok", "ok_skipped": "ok (unchanged, not rendered again)", "failed": "failed",
           "created": "Created", "refdate": "Reference date",
           "summary": "{n} reports, {ok} done ({skip} unchanged since the last run), {fail} failed.",
           "head": ["Municipality", "Report (HTML, PDF for printing)", "Tables", "Clients (baseline)",
                    "Note", "Status", "Message"],
           "foot": ('Counts under {m} are shown as &lt;{m}; ".." = hidden to protect small numbers. With fewer '
                    "than {t} clients a report shows tendencies only: no conclusions. Every figure has passed "
                    "the small-number protection.")},
}


def write_index(results: list[ReportResult], out_dir, *, reference_date: str, min_cell: int = 5,
                lang: str = "sv") -> Path:
    """``index.html``: one row per report with links (HTML, PDF, Excel), clients, tendency flag and status.

    Status is ``ok``, ``ok (oförändrad, inte omrenderad)`` for a report whose
    inputs had not changed since the files were written, or ``misslyckades``
    with the error; a missing PDF says why. Written atomically. ``lang="en"``
    writes every word in English (the reports' language).

    The client counts are the release's (protected together with every report);
    the reference date is stated in the same words as in the reports.
    """
    out_dir = Path(out_dir)
    T = _INDEX_TEXT["en" if lang == "en" else "sv"]

    def link(path, text):
        if path is None:
            return "–"
        rel = os.path.relpath(path, out_dir).replace(os.sep, "/")
        from urllib.parse import quote

        return f'<a href="{html.escape(quote(rel))}">{html.escape(text)}</a>'

    rows = []
    for r in results:
        status = (T["ok_skipped"] if r.skipped else T["ok"]) if r.ok else T["failed"]
        message = r.error if not r.ok else ("" if r.pdf is not None else r.note)
        rows.append(
            f"<tr class=\"{'ok' if r.ok else 'fel'}\"><td>{html.escape(r.name)}</td>"
            f"<td>{link(r.html, T['report'])}{' · ' + link(r.pdf, 'PDF') if r.pdf is not None else ''}</td>"
            f"<td>{link(r.excel, T['tables'])}</td>"
            f"<td class=\"tal\">{html.escape(r.n_clients)}</td>"
            f"<td>{T['tendency'] if r.tendency else ''}</td>"
            f"<td>{status}</td><td>{html.escape(message)}</td></tr>")
    n_fail = sum(not r.ok for r in results)
    n_skip = sum(r.ok and r.skipped for r in results)
    head = "".join(f"<th>{h}</th>" for h in T["head"])
    page = f"""<!DOCTYPE html>
<html lang="{'en' if lang == 'en' else 'sv'}">
<head>
<meta charset="utf-8">
<title>{T['title']}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 1000px; margin: 2em auto; color: #222; }}
table {{ border-collapse: collapse; width: 100%; }}
th, td {{ border-bottom: 1px solid #ccc; padding: 4px 8px; text-align: left; vertical-align: top; }}
th {{ background: #eef2f5; }}
td.tal {{ text-align: right; }}
tr.fel td {{ background: #fdecea; }}
p.not {{ font-size: 0.9em; color: #444; }}
</style>
</head>
<body>
<h1>{T['h1']}</h1>
<p>{T['created']} {_dt.datetime.now():%Y-%m-%d %H:%M}. <strong>{T['refdate']}: {html.escape(str(reference_date))}</strong>.
{T['summary'].format(n=len(results), ok=len(results) - n_fail, skip=n_skip, fail=n_fail)}</p>
<p class="not">{html.escape(REFERENCE_DATE_TEXT["en" if lang == "en" else "sv"].format(date=reference_date))}</p>
<table>
<thead><tr>{head}</tr></thead>
<tbody>
{chr(10).join(rows)}
</tbody>
</table>
<p class="not">{T['foot'].format(m=min_cell, t=TENDENCY_THRESHOLD)}</p>
</body>
</html>
"""
    return _write_atomic(out_dir / "index.html", page.encode("utf-8"))


# --------------------------------------------------------------------------- CLI
def _cmd(args: argparse.Namespace) -> int:
    if bool(args.store) == bool(args.release):
        raise AsiInputError("ange antingen --release eller --store / give either --release or --store")
    params = None
    if args.params:
        from .params import load_region_params

        params = load_region_params(args.params)
    results = render_reports(args.release or args.store, args.out, municipalities=args.kommun or None,
                             workers=args.workers, params=params,
                             as_of=args.as_of, timeout=args.timeout, progress=not args.quiet,
                             region=True if not args.kommun else args.region, min_cell=args.min_cell,
                             lang=args.lang, scheduler=args.scheduler, pdf=not args.no_pdf, force=args.force)
    failed = [r for r in results if not r.ok]
    skipped = sum(r.skipped for r in results if r.ok)
    print(f"{len(results) - len(failed)} av {len(results)} rapporter klara ({skipped} oförändrade, inte omrenderade): "
          f"{Path(args.out) / 'index.html'}")
    n_pdf = sum(r.pdf is not None for r in results)
    print(f"PDF: {n_pdf} av {len(results)} i {Path(args.out)}" if n_pdf else "PDF: inga skrivna")
    for r in failed:
        print(f"  misslyckades: {r.name}: {r.error}", file=sys.stderr)
    return 1 if failed else 0


def register_cli(subparsers) -> None:
    from .errors import output_dir_arg

    p = subparsers.add_parser("reports", help="en rapport per kommun (HTML + Excel) / one report per municipality")
    p.add_argument("--release", default=None, help="utgåvan att återge (asi-kit release)")
    p.add_argument("--store", default=None, help="lagret: bygg först en utgåva i <out>/release")
    p.add_argument("--out", required=True, type=output_dir_arg, help="utmapp för rapporterna")
    p.add_argument("--kommun", nargs="+", default=None, metavar="NAMN",
                   help="bara dessa kommuner (standard: alla + regionen)")
    p.add_argument("--region", action="store_true", help="med --kommun: ta med regionrapporten också")
    p.add_argument("--workers", type=int, default=2, help="rapporter samtidigt (standard 2)")
    p.add_argument("--as-of", default=None,
                   help="med --store: referensdatum ÅÅÅÅ-MM-DD (standard: senaste intervjun i lagret)")
    p.add_argument("--timeout", type=int, default=600, help="sekunder per rapport (standard 600)")
    p.add_argument("--scheduler", default=None, metavar="tcp://VÄRD:PORT",
                   help="Dask-schemaläggare: en uppgift per kommun till klustrets arbetare "
                        "(standard $ASI_KIT_SCHEDULER, annars lokalt)")
    p.add_argument("--min-cell", type=int, default=5)
    p.add_argument("--lang", choices=["sv", "en"], default="sv",
                   help="rapporternas språk; med --release måste utgåvan vara byggd på samma språk / report language")
    p.add_argument("--params", default=None, metavar="FIL",
                   help="regionfil (parameters/<region>.yaml); med --release: utgåvan ska vara byggd med den")
    p.add_argument("--quiet", action="store_true", help="ingen förloppsindikator")
    p.add_argument("--force", action="store_true",
                   help="rendera alla rapporter, också de vars indata (utgåva, notebook, parametrar) är oförändrade")
    p.add_argument("--no-pdf", action="store_true", help="skriv ingen PDF (standard: en PDF per rapport, Chromium)")
    p.set_defaults(func=_cmd)
