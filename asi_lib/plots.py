"""Figures for the analyst notebooks, drawn only from what ``publish`` shows.

The notebooks stay thin: a figure is one call here (or
:func:`asi_lib.reports.plot_profile`). Every helper publishes the raw frame
first and draws a number only where the published table shows it; a
suppressed (``<5``, ``..``) or missing value is left out, never drawn as 0.
Group labels carry their n; data values pass :func:`asi_lib.safe.mpl_text`.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .publish import TENDENCY_NOTE, TOTAL, label_values, publish
from .safe import mpl_text

__all__ = ["visible_numbers", "plot_change", "plot_shares"]

_TENDENCY = 10


def _is_number(published: pd.Series) -> np.ndarray:
    t = (published.astype("string").str.replace("\u2212", "-", regex=False).str.replace(r"[\s%]", "", regex=True)
         .str.replace(",", ".", regex=False))
    return pd.to_numeric(t, errors="coerce").notna().to_numpy()


def visible_numbers(frame: pd.DataFrame, columns, *, min_cell: int = 5, lang: str = "sv") -> pd.DataFrame:
    """The raw frame with every listed column set to NaN where the published table hides it.

    Parameters
    ----------
    frame : DataFrame
        A raw result of an analysis function (``frame.attrs["asi"]`` set).
    columns : list of str
        Numeric columns a figure will draw.
    min_cell : int
    lang : {"sv", "en"}

    Returns
    -------
    DataFrame
        A copy; ``columns`` hold the raw value where ``publish`` shows a
        number in that cell, NaN where it shows ``<5``, ``..``, ``–`` or
        nothing.

    Examples
    --------
    >>> raw = pd.DataFrame({"sex": ["male", "female", "__total__"], "measure": "composite_alcohol",
    ...                     "n": [40, 3, 43], "n_missing": 0, "mean": [0.41, 0.52, 0.418],
    ...                     "ci_low": [0.3, 0.1, 0.33], "ci_high": [0.5, 0.9, 0.5]})
    >>> raw.attrs["asi"] = {"group_cols": ["sex"], "additive": True}
    >>> visible_numbers(raw, ["n", "mean"])[["n", "mean"]].to_numpy().tolist()
    [[nan, nan], [nan, nan], [43.0, 0.418]]
    """
    pub = publish(frame, min_cell=min_cell, lang=lang, labels=False)
    if len(pub) != len(frame):
        raise ValueError("publish changed the number of rows; draw from the published table instead")
    out = frame.copy()
    for c in columns:
        shown = _is_number(pub[c]) if c in pub.columns else np.zeros(len(frame), dtype=bool)
        out[c] = pd.to_numeric(frame[c], errors="coerce").astype("float64").where(shown)
    out.attrs = dict(frame.attrs)
    return out


def plot_change(change: pd.DataFrame, *, measure: str = "composite", min_cell: int = 5, lang: str = "sv",
                title: str | None = None):
    """Change from Grund to follow-up per life area, with its 95 % interval.

    Parameters
    ----------
    change : DataFrame
        Raw :func:`asi_lib.change.change_by_area`.
    measure : str, default "composite"
        Which measure's rows (``composite``, ``rating``, ...).
    min_cell, lang
    title : str, optional

    Returns
    -------
    seaborn.objects.Plot or None
        None when no area's change is published.

    Notes
    -----
    One dot per area at the mean paired difference
    :math:`\\bar d = \\overline{x_1 - x_0}` (follow-up minus Grund; below 0 =
    fewer problems) with the published 95 % CI
    :math:`\\bar d \\pm t_{0.975,\\,n-1}\\, s_d/\\sqrt n` as a line; the area
    label gives n pairs. Regression to the mean is not removed: see the
    notebook's prose and ``models.naive_vs_adjusted``.

    Examples
    --------
    >>> from asi_lib.datasets import read_dataset
    >>> from asi_lib import change, followup
    >>> par = followup.pair_followups(read_dataset("demo", n_clients=400))
    >>> type(plot_change(change.change_by_area(par.pairs))).__name__
    'Plot'
    """
    import seaborn.objects as so

    rows = change[change["measure"].astype(str) == measure]
    data = visible_numbers(rows, ["n", "diff", "ci_low", "ci_high"], min_cell=min_cell, lang=lang)
    data = data[data[["n", "diff"]].notna().all(axis=1)]
    if data.empty:
        return None
    label = data["area_label"] if "area_label" in data.columns else label_values(data["area"], "area", lang)
    data = data.assign(omrade=[f"{mpl_text(a)} (n = {int(n)})" for a, n in zip(label, data["n"])])
    xlab = ("Förändring, uppföljning − Grund, med 95 % KI (under 0 = mindre problem)" if lang == "sv"
            else "Change, follow-up − baseline, with 95% CI (below 0 = fewer problems)")
    if (data["n"] < _TENDENCY).any():
        title = f"{title or ''} ({TENDENCY_NOTE[lang].format(t=_TENDENCY).lower()})".strip()
    return (so.Plot(data, x="diff", xmin="ci_low", xmax="ci_high", y="omrade")
            .add(so.Range()).add(so.Dot())
            .layout(size=(7.5, 0.45 * len(data) + 1.5))
            .label(x=xlab, y="", title=mpl_text(title or "")))


def plot_shares(frame: pd.DataFrame, by: str, *, share: str = "share", min_cell: int = 5, lang: str = "sv",
                title: str | None = None, xlabel: str | None = None):
    """A share with its 95 % interval per group (municipality, period, ...), in per cent.

    Parameters
    ----------
    frame : DataFrame
        A raw result with ``by``, ``n``, ``share``, ``ci_low``, ``ci_high``
        (e.g. :func:`asi_lib.bortfall.grund_bortfall` by municipality,
        :func:`asi_lib.monitor.asi_use` per half-year).
    by : str
        The group column, one row per group (the order is kept).
    share : str
        The share column (0–1).
    min_cell, lang
    title, xlabel : str, optional

    Returns
    -------
    seaborn.objects.Plot or None
        None when no share is published.

    Notes
    -----
    The dot is the share :math:`k/n`, the line its Wilson interval as the
    table publishes it; the group label gives n. The total row
    (``__total__``) is drawn last.

    Examples
    --------
    >>> from asi_lib.datasets import read_dataset
    >>> from asi_lib import bortfall
    >>> t = bortfall.grund_bortfall(read_dataset("demo", n_clients=400), by="municipality")
    >>> type(plot_shares(t, "municipality")).__name__
    'Plot'
    """
    import seaborn.objects as so

    data = visible_numbers(frame, ["n", share, "ci_low", "ci_high"], min_cell=min_cell, lang=lang)
    data = data[data[["n", share]].notna().all(axis=1)]
    if data.empty:
        return None
    groups = label_values(data[by].astype("string").replace({TOTAL: "Totalt" if lang == "sv" else "Total"}),
                          by, lang).astype(str)
    data = data.assign(grupp=[f"{mpl_text(g)} (n = {int(n)})" for g, n in zip(groups, data["n"])],
                       andel=100 * data[share], lo=100 * data["ci_low"], hi=100 * data["ci_high"])
    if (data["n"] < _TENDENCY).any():
        title = f"{title or ''} ({TENDENCY_NOTE[lang].format(t=_TENDENCY).lower()})".strip()
    return (so.Plot(data, x="andel", xmin="lo", xmax="hi", y="grupp")
            .add(so.Range()).add(so.Dot())
            .layout(size=(7.5, 0.35 * len(data) + 1.5))
            .label(x=xlabel or ("Andel (%) med 95 % KI" if lang == "sv" else "Share (%) with 95% CI"), y="",
                   title=mpl_text(title or "")))
