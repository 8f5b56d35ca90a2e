"""The standard set of published tables for one ISU cycle, and their Excel file.

One function per question is the rule of the library; this module only
*collects* the answers a term's feedback needs (who are our clients, how
complete is the material, how is ASI used, what changed, whom do we miss,
which interventions) into one ordered set of **published** tables — every
table has passed :func:`asi_lib.publish.publish` — and writes them to Excel.
The demo, and later the papermill reports, use it.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from . import bortfall, change, compare, followup, groups, insatser, monitor, scores
from .dataset import Dataset
from .publish import _heading, publish

SHEET_MAX = 31  # Excel's limit on sheet names


def _rows(published: pd.DataFrame, mask=None, *, drop=(), lang: str = "sv") -> pd.DataFrame:
    """Some rows (default all) of a published table, without the columns (raw names) that do not apply."""
    part = published if mask is None else published.loc[np.asarray(mask, dtype=bool)]
    gone = {_heading(c, lang) for c in drop}
    out = part[[c for c in part.columns if c not in gone]].reset_index(drop=True)
    out.attrs = dict(published.attrs)
    return out


def standard_tables(ds: Dataset, *, municipality: str | None = None, as_of=None, lang: str = "sv",
                    min_cell: int = 5, window=(90, 730), rci=None) -> dict[str, pd.DataFrame]:
    """Published tables of one ISU cycle, in reading order.

    Parameters
    ----------
    ds : Dataset
        The whole region (comparisons need the others too).
    municipality : str, optional
        Tables about this municipality, each compared with the others where
        the question is a comparison; ``None`` = the whole region.
    as_of : date-like, optional
        Reference date for follow-up windows and preliminary periods.
    lang : {"sv", "en"}
    min_cell : int
        Small-number threshold passed to :func:`~asi_lib.publish.publish`.
    rci : asi_lib.change.RciReference, optional
        Frozen RCI reliability and SD (a release passes its own). Default:
        estimated from the whole region's pairs, so that a municipality's
        shares improved use the same reference as every other municipality.

    Returns
    -------
    dict of str to DataFrame
        Title → published table (strings, protected, labelled).

    Examples
    --------
    >>> from asi_lib.datasets import read_dataset
    >>> tabs = standard_tables(read_dataset("demo", n_clients=300))
    >>> all(t.attrs["asi"]["published"] for t in tabs.values())
    True
    """
    own = ds if municipality is None else ds.filter(municipality=municipality)
    pub = {"min_cell": min_cell, "lang": lang}
    grund = scores.add_scores(own.grund)
    pairing = followup.pair_followups(own, window=window, as_of=as_of)
    if rci is None:
        region_pairs = pairing.pairs if municipality is None else \
            followup.pair_followups(ds, window=window, as_of=as_of).pairs
        rci = change.estimate_rci_reference(region_pairs, ("composite",), label="hela regionen")
    out: dict[str, pd.DataFrame] = {}
    t1 = groups.table1(grund)
    # protected as one table (one n per group), shown as two: categories, then means
    both = publish(t1, **pub)
    is_cat = (t1["category"].astype("string").fillna("") != "").to_numpy()
    out["Klientgruppen"] = _rows(both, is_cat, drop=("mean", "sd", "median"), lang=lang)
    out["Klientgruppen, medelvärden"] = _rows(both, ~is_cat, drop=("category", "k", "share", "ci_low", "ci_high"),
                                              lang=lang)
    out["Problem per kön"] = publish(groups.profile(grund, by="sex"), **pub)
    out["Problem per åldersgrupp"] = publish(groups.profile(grund, by="age_band"), **pub)
    out["Problem per huvudpreparat"] = publish(groups.profile(grund, by="main_substance"), **pub)
    if municipality is None:
        out["Problem per kommun"] = publish(groups.profile(grund, by="municipality"), **pub)
    else:
        region = scores.add_scores(ds.grund)
        cmp = publish(compare.compare_one_vs_rest(region, unit_col="municipality", unit=municipality), **pub)
        # shown as two: the comparison per area, and the case mix (the same on every row) once
        mix = ["share_women_unit", "share_women_rest", "mean_age_unit", "mean_age_rest",
               "share_alcohol_unit", "share_alcohol_rest"]
        out["Jämfört med övriga"] = _rows(cmp, drop=("sd_unit", "sd_rest", "median_unit", "median_rest", *mix),
                                          lang=lang)
        keep = [_heading(c, lang) for c in mix if _heading(c, lang) in cmp.columns]
        out["Klientgruppernas sammansättning"] = _rows(cmp[keep], np.arange(len(cmp)) < 1)
    out["Kompletthet"] = publish(scores.completeness(own, table=None, lang=lang), **pub)
    out["ASI-användning"] = publish(monitor.asi_use(own, freq="auto", as_of=as_of), **pub)
    out["Uppföljning och bortfall"] = publish(pairing.summary(lang=lang), **pub)
    out["Förändring per område"] = publish(
        change.change_by_area(pairing.pairs, measures=("composite", "rating"), reliability=rci, lang=lang), **pub)
    out["Bortfall Grund"] = publish(bortfall.grund_bortfall(own, by="sex"), **pub)
    out["Bortfallsorsaker Grund"] = publish(bortfall.bortfall_reasons(own, "grund", lang=lang), **pub)
    out["Bortfallsorsaker uppföljning"] = publish(bortfall.bortfall_reasons(own, "uppfoljning", lang=lang), **pub)
    out["Insatser genomförda"] = publish(insatser.completion(own, lang=lang), **pub)
    return out


def write_excel(tables: dict[str, pd.DataFrame], path, *, title: str = "") -> Path:
    """Write published tables to one workbook, a sheet per table.

    Each sheet starts with the table's title and selection (from
    ``attrs["asi"]``) and ends with the legend of the suppression markers.
    Only published frames are accepted.

    Parameters
    ----------
    tables : dict of str to pandas.DataFrame
        Title → table that has passed :func:`~asi_lib.publish.publish`
        (e.g. :func:`standard_tables`); sheets in this order, named by the
        title cut to 31 characters.
    path : str or Path
        The ``.xlsx`` file; its directory is created when missing, an
        existing file is replaced.
    title : str, optional
        Put before each table's title in cell A1 (``"<title> – <name>"``).

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    AsiInputError
        A table has not passed ``publish()``, or there is no table; nothing
        is written then.

    Examples
    --------
    >>> import os, tempfile, openpyxl
    >>> from asi_lib.publish import publish
    >>> raw = pd.DataFrame({"sex": ["male", "female", "__total__"], "n": [40, 30, 70]})
    >>> raw.attrs["asi"] = {"group_cols": ["sex"], "additive": True, "selection": "senaste Grund",
    ...                     "unit": "klienter"}
    >>> p = write_excel({"Per kön": publish(raw)}, os.path.join(tempfile.mkdtemp(), "t.xlsx"), title="ISU 2024")
    >>> ws = openpyxl.load_workbook(p)["Per kön"]
    >>> ws["A1"].value, ws["A2"].value, ws["A5"].value
    ('ISU 2024 – Per kön', 'Urval: senaste Grund. Enhet: klienter.', 'Man')
    """
    from .errors import AsiInputError

    # every table is checked before the workbook is opened: nothing half-written is left
    for name, frame in tables.items():
        if not frame.attrs.get("asi", {}).get("published"):
            raise AsiInputError(f"tabellen '{name}' har inte passerat publish() / not published")
    if not tables:
        raise AsiInputError("inga tabeller att skriva / no tables to write")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with pd.ExcelWriter(path, engine="openpyxl") as xl:
        for name, frame in tables.items():
            meta = frame.attrs.get("asi", {})
            sheet = name[:SHEET_MAX]
            frame.to_excel(xl, sheet_name=sheet, index=False, startrow=3)
            ws = xl.sheets[sheet]
            ws["A1"] = f"{title} – {name}" if title else name
            ws["A2"] = f"Urval: {meta.get('selection', '')}. Enhet: {meta.get('unit', '')}."
            ws.cell(row=len(frame) + 6, column=1, value=meta.get("legend", ""))
            ws.freeze_panes = "A5"
            for i, col in enumerate(frame.columns, start=1):
                width = max([len(str(col))] + [len(str(v)) for v in frame[col].head(200)])
                ws.column_dimensions[ws.cell(row=4, column=i).column_letter].width = min(max(10, width + 2), 60)
    return path
