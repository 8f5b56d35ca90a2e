"""Figures of the municipality report, drawn only from the published cells of a release.

Four figures a manager reads at a glance:

* :func:`compare_figure` — the municipality next to the whole region per life
  area (composite scores with 95 % CI; for the region: women and men);
* :func:`change_figure` — change baseline → follow-up per life area with its
  95 % CI and the number of pairs;
* :func:`coverage_figure` — share of the target group interviewed at Grund
  per period (the rest is Grund bortfall) with its CI, and the share of due
  baselines followed up over the whole period as a reference line;
* :func:`usage_figure` — Grund interviews, Grund bortfall and follow-up
  interviews per period (half-years, or years for small municipalities).

Every number comes from a published table of the release, parsed back from
its string (:func:`asi_lib.reports.profile_plot_data` for profiles); a
hidden (``..``, ``<5``) or uncomputable (``–``) cell is not drawn, so a
figure never shows what a table hides. A function returns ``None`` when
nothing is left to draw. Labels come from :mod:`asi_lib.report_text`;
Swedish figures use decimal commas, shares are in %, n stands in the legend
or on the axis, the legend sits outside the data, and every text from data
(names) passes :func:`asi_lib.safe.mpl_text`.

The figures are :class:`matplotlib.figure.Figure` objects made without
pyplot, so no global figure state survives between reports in a warm
kernel; :func:`show` turns one into a PNG display object for the notebook.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .publish import TOTAL
from .report_text import t
from .safe import mpl_text
from .summary import _changes, _col, _heads, _num, _overview

__all__ = ["show", "compare_figure", "change_figure", "coverage_figure", "usage_figure", "number_formatter",
           "percent_formatter"]

TENDENCY_THRESHOLD = 10
_COLORS = ("#1f5f8b", "#d9822b", "#4c9a2a", "#7a7a7a")


def number_formatter(lang: str = "sv", decimals: int | None = None):
    """A tick formatter with a decimal comma and a real minus sign in Swedish.

    Examples
    --------
    >>> f = number_formatter("sv", 2)
    >>> f(-0.25, 0), number_formatter("en", 2)(-0.25, 0)
    ('−0,25', '-0.25')
    """
    from matplotlib.ticker import FuncFormatter

    def fmt(x, pos=None):
        d = decimals if decimals is not None else (0 if float(x).is_integer() else 2)
        s = f"{x:.{d}f}"
        if s.lstrip("-").strip("0.") == "":
            s = s.lstrip("-")
        return s.replace(".", ",").replace("-", "\u2212") if lang == "sv" else s

    return FuncFormatter(fmt)


def percent_formatter(lang: str = "sv"):
    """Tick formatter for values already in percent: ``"40 %"`` (Swedish) / ``"40%"``.

    Examples
    --------
    >>> percent_formatter("sv")(40, 0), percent_formatter("en")(40, 0)
    ('40\\xa0%', '40%')
    """
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda x, pos=None: f"{x:.0f}\u00a0%" if lang == "sv" else f"{x:.0f}%")


def show(fig, lang: str = "sv", *, when: bool = True):
    """What a report cell shows: the figure as PNG, the "too few clients" sentence, or nothing (``when`` false).

    Examples
    --------
    >>> show(None, "en").data
    '*Too few clients to show a figure.*'
    >>> show(None, when=False) is None
    True
    """
    if not when:
        return None
    if fig is None:
        from IPython.display import Markdown

        return Markdown(t("no_figure", lang))
    import io

    from IPython.display import Image

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=130)   # a PNG, whatever matplotlib backend the kernel has
    return Image(data=buf.getvalue(), format="png")


def _figure(width=7.5, height=4.0):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained", dpi=100)


def _n_text(n: float, lang: str) -> str:
    s = f"{int(n):,}"
    return s.replace(",", "\u2009") if lang == "sv" else s


def _title(ax, text: str, tendency: bool, lang: str):
    if tendency:
        text += f"\n({t('fig_tendency', lang, t=TENDENCY_THRESHOLD)})"
    ax.set_title(text, fontsize=11, loc="left")


# --------------------------------------------------------------------------- kommun vs region
def compare_figure(rel, municipality: str | None = None, lang: str = "sv", *, compact: bool = False):
    """Composite scores per life area: the municipality next to the whole region (95 % CI).

    Parameters
    ----------
    rel : asi_lib.release.Release
    municipality : str, optional
        ``None`` = the region (then women and men of the region).
    lang : {"sv", "en"}
    compact : bool, default False
        A lower figure (the short report of a small municipality fits on two pages).

    Returns
    -------
    matplotlib.figure.Figure or None
        None when no published mean is left to draw.

    Notes
    -----
    Data: the region's "Problem per kommun" (rows of the municipality and the
    total) or, for the region, its "Problem per kön", through
    :func:`asi_lib.reports.profile_plot_data` (only published numbers; a
    tendency row has no CI and is drawn as a point).

    Examples
    --------
    >>> from asi_lib.summary import example_release
    >>> fig = compare_figure(example_release("en"), "Exempelby", "en")
    >>> fig.axes[0].get_xlabel()
    'Mean with 95% CI (0–1, higher = more severe)'
    >>> [tx.get_text() for tx in fig.legends[0].get_texts()]
    ['Exempelby (n = 100)', 'The whole region (n = 400)']
    """
    from .reports import profile_plot_data

    region = rel.tables(None)
    if ("Problem per kön" if municipality is None else "Problem per kommun") not in region:
        return None
    if municipality is None:
        data = profile_plot_data(region["Problem per kön"], lang=lang)   # women, men and all (as published)
        data["group"] = data["group"].replace({"Totalt": t("fig_region", lang), "Total": t("fig_region", lang)})
        name = rel.heading_facts(None, lang)["name"]
        title = t("fig_sex_title", lang, name=mpl_text(name))
    else:
        data = profile_plot_data(region["Problem per kommun"], groups=[municipality, TOTAL], lang=lang)
        data["group"] = data["group"].replace({"Totalt": t("fig_region", lang), "Total": t("fig_region", lang)})
        title = t("fig_compare_title", lang, name=mpl_text(municipality))
    if data.empty:
        return None
    data = data.assign(area=data["measure"].str.split(": ").str[-1])
    areas = list(dict.fromkeys(data["area"]))[::-1]
    groups = list(dict.fromkeys(data["group"]))
    fig = _figure(7.5, (0.2 * len(areas) + 1.2) if compact else (0.3 * len(areas) + 1.5))
    ax = fig.add_subplot()
    step = 0.8 / max(len(groups), 1)
    tendency = False
    for i, g in enumerate(groups):
        d = data[data["group"] == g].set_index("area").reindex(areas)
        y = np.arange(len(areas)) + (i - (len(groups) - 1) / 2) * step * -1
        n = d["n"].max()
        tendency |= bool(n < TENDENCY_THRESHOLD)
        lo = (d["mean"] - d["ci_low"]).to_numpy(dtype=float)
        hi = (d["ci_high"] - d["mean"]).to_numpy(dtype=float)
        ax.errorbar(d["mean"].to_numpy(dtype=float), y, xerr=np.vstack([np.nan_to_num(lo), np.nan_to_num(hi)]),
                    fmt="o", color=_COLORS[i % len(_COLORS)], capsize=3, markersize=6,
                    label=t("fig_group_n", lang, group=mpl_text(g), n=_n_text(n, lang)))
    ax.set_yticks(np.arange(len(areas)), [mpl_text(a) for a in areas])
    ax.set_xlabel(t("fig_mean_ci", lang))
    ax.xaxis.set_major_formatter(number_formatter(lang, 1))
    ax.set_xlim(left=0)
    ax.grid(axis="x", color="#ddd")
    _title(ax, title, tendency, lang)
    fig.legend(loc="outside lower center", ncol=len(groups), frameon=False)
    return fig


# --------------------------------------------------------------------------- change
def change_figure(rel, municipality: str | None = None, lang: str = "sv"):
    """Change follow-up − baseline per life area (composite scores) with 95 % CI and n pairs.

    Parameters
    ----------
    rel : asi_lib.release.Release
    municipality : str, optional
    lang : {"sv", "en"}

    Returns
    -------
    matplotlib.figure.Figure or None
        None when no area has a published difference with its CI (no
        follow-ups, too few, hidden, or tendencies only).

    Notes
    -----
    Data: the composite rows of the unit's "Förändring per område" whose
    pairs, means, difference and CI are all published numbers and that are
    not marked *endast tendenser*. Negative = improvement.

    Examples
    --------
    >>> from asi_lib.summary import example_release
    >>> fig = change_figure(example_release(), "Exempelby", "sv")
    >>> "negativ = förbättring" in fig.axes[0].get_xlabel()
    True
    """
    rows = _changes(rel.tables(municipality), lang)
    if not rows:
        return None
    d = pd.DataFrame(rows)[::-1]
    fig = _figure(7.5, 0.3 * len(d) + 1.5)
    ax = fig.add_subplot()
    y = np.arange(len(d))
    colors = np.where(d["ci_high"] < 0, _COLORS[2], np.where(d["ci_low"] > 0, _COLORS[1], _COLORS[3]))
    ax.axvline(0, color="#444", linewidth=1)
    for yi, (_, r), c in zip(y, d.iterrows(), colors):
        ax.errorbar([r["diff"]], [yi], xerr=[[r["diff"] - r["ci_low"]], [r["ci_high"] - r["diff"]]], fmt="o",
                    color=c, capsize=3, markersize=6)
    ax.set_yticks(y, [f"{mpl_text(a)} ({t('fig_pairs', lang, n=mpl_text(n))})"
                      for a, n in zip(d["area"], d["n_pairs_txt"])])
    ax.set_xlabel(t("fig_diff_ci", lang), wrap=True)
    ax.xaxis.set_major_formatter(number_formatter(lang, 2))
    ax.grid(axis="x", color="#ddd")
    name = rel.heading_facts(municipality, lang)["name"]
    _title(ax, t("fig_change_title", lang, name=mpl_text(name)), False, lang)
    return fig


# --------------------------------------------------------------------------- use over time
def _usage_rows(rel, municipality, lang) -> pd.DataFrame | None:
    """The unit's rows of "ASI-användning" as numbers (NaN where hidden), in period order."""
    u = rel.tables(municipality).get("ASI-användning")
    if u is None or not len(u):
        return None
    pcol = _col(u, *_heads("period"))
    if pcol is None:
        return None
    cols = list(u.columns)
    i = cols.index(pcol)
    names = ["n", "k", "n_bortfall", "share", "ci_low", "ci_high", "n_uppfoljning", "preliminary"]
    if len(cols) < i + 1 + len(names):
        return None
    frame = u
    if i > 0:   # a unit column (the region's table has one row per municipality and a total)
        unit = u[cols[0]].astype(str)
        keep = unit.isin([{"sv": "Totalt", "en": "Total"}[lang]]) if municipality is None else \
            unit == str(municipality)
        if keep.any():
            frame = u[keep.to_numpy()]
    out = pd.DataFrame({"period": frame[pcol].astype(str).to_numpy()})
    for j, n in enumerate(names[:-1]):
        out[n] = frame[cols[i + 1 + j]].map(_num).to_numpy(dtype=float)
    out["preliminary"] = frame[cols[i + len(names)]].astype(str).isin(["Ja", "Yes"]).to_numpy()
    note = _col(frame, *_heads("tendens"))
    if note is not None:   # tendency rows: no share, no CI
        tend = (frame[note].astype(str).str.strip() != "").to_numpy()
        out.loc[tend, ["share", "ci_low", "ci_high"]] = np.nan
    return out


def coverage_figure(rel, municipality: str | None = None, lang: str = "sv"):
    """Share of the target group interviewed at Grund per period (%), with 95 % CI.

    The complement is the Grund bortfall. The share of due baselines
    followed up over the whole period ("Materialet i korthet") is drawn as a
    dashed reference line and named in the legend.

    Parameters
    ----------
    rel : asi_lib.release.Release
    municipality : str, optional
    lang : {"sv", "en"}

    Returns
    -------
    matplotlib.figure.Figure or None
        n (the target group) of every period stands under its label.

    Examples
    --------
    >>> from asi_lib.summary import example_release
    >>> fig = coverage_figure(example_release(), "Exempelby", "sv")
    >>> fig.axes[0].yaxis.get_major_formatter()(50, 0)
    '50\\xa0%'
    """
    d = _usage_rows(rel, municipality, lang)
    if d is None or not d["share"].notna().any():
        return None
    fig = _figure(7.5, 3.4)
    ax = fig.add_subplot()
    x = np.arange(len(d))
    ok = d["share"].notna().to_numpy()
    ax.fill_between(x, d["ci_low"], d["ci_high"], color=_COLORS[0], alpha=0.15, linewidth=0)
    ax.plot(x[ok], d.loc[ok, "share"], "o-", color=_COLORS[0], label=t("fig_interviewed", lang))
    prel = ok & d["preliminary"].to_numpy()
    if prel.any():
        ax.plot(x[prel], d.loc[prel, "share"], "o", color="white", markeredgecolor=_COLORS[0],
                label=t("fig_preliminary", lang))
    fu, fu_txt = _overview(rel.tables(municipality), lang)["fu"], _overview(rel.tables(municipality), lang)["fu_txt"]
    if np.isfinite(fu):
        ax.axhline(fu, color=_COLORS[1], linestyle="--", label=t("fig_followup_ref", lang, share=mpl_text(fu_txt)))
    ax.set_xticks(x, [f"{mpl_text(p)} ({t('fig_n', lang, n=_n_text(n, lang)) if np.isfinite(n) else 'n = ..'})"
                      for p, n in zip(d["period"], d["n"])], fontsize=8, rotation=45, ha="right")
    ax.set_ylim(0, 100)
    ax.yaxis.set_major_formatter(percent_formatter(lang))
    ax.set_ylabel(t("fig_share_interviewed", lang))
    ax.set_xlabel(t("fig_period", lang))
    ax.grid(axis="y", color="#ddd")
    name = rel.heading_facts(municipality, lang)["name"]
    _title(ax, t("fig_coverage_title", lang, name=mpl_text(name)), False, lang)
    fig.legend(loc="outside lower center", ncol=1, frameon=False)
    return fig


def usage_figure(rel, municipality: str | None = None, lang: str = "sv"):
    """Grund interviews, Grund bortfall and follow-up interviews per period (bars; hidden cells left out).

    Parameters
    ----------
    rel : asi_lib.release.Release
    municipality : str, optional
    lang : {"sv", "en"}

    Returns
    -------
    matplotlib.figure.Figure or None

    Examples
    --------
    >>> from asi_lib.summary import example_release
    >>> [tx.get_text() for tx in usage_figure(example_release("en"), "Exempelby", "en").legends[0].get_texts()]
    ['Baseline interviews', 'Baseline attrition', 'Follow-up interviews']
    """
    d = _usage_rows(rel, municipality, lang)
    if d is None or not d[["k", "n_bortfall", "n_uppfoljning"]].notna().any().any():
        return None
    fig = _figure(7.5, 3.4)
    ax = fig.add_subplot()
    x = np.arange(len(d))
    w = 0.27
    for j, (col, key) in enumerate((("k", "fig_grund"), ("n_bortfall", "fig_bortfall"),
                                    ("n_uppfoljning", "fig_followups"))):
        v = d[col].to_numpy(dtype=float)
        ok = np.isfinite(v)
        ax.bar(x[ok] + (j - 1) * w, v[ok], width=w, color=_COLORS[j],
               label=t(key, lang))
    ax.set_xticks(x, [mpl_text(p) + (" *" if pr else "") for p, pr in zip(d["period"], d["preliminary"])],
                  rotation=45, ha="right")
    ax.yaxis.set_major_formatter(number_formatter(lang, 0))
    ax.set_ylabel(t("fig_count", lang))
    ax.set_xlabel(t("fig_period", lang) + (f" (* = {t('fig_preliminary', lang)})" if d["preliminary"].any() else ""))
    ax.grid(axis="y", color="#ddd")
    name = rel.heading_facts(municipality, lang)["name"]
    _title(ax, t("fig_usage_title", lang, name=mpl_text(name)), False, lang)
    fig.legend(loc="outside lower center", ncol=3, frameon=False, fontsize=9)
    return fig
