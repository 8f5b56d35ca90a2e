"""The standard set of published tables for one ISU cycle, and their Excel file.

One function per question is the rule of the library; this module only
*collects* the answers a term's feedback needs (who are our clients, how
complete is the material, how is ASI used, what changed, whom do we miss,
which interventions) into one ordered set of **published** tables — every
table has passed :func:`asi_lib.publish.publish` — and writes them to Excel.
The demo, and later the papermill reports, use it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from . import bortfall, change, compare, followup, groups, insatser, monitor, scores
from .dataset import Dataset
from .publish import _heading, publish
from .safe import excel_frame, excel_value, excel_workbook, sheet_name

SHEET_MAX = 31  # Excel's limit on sheet names


def _rows(published: pd.DataFrame, mask=None, *, drop=(), lang: str = "sv") -> pd.DataFrame:
    """Some rows (default all) of a published table, without the columns (raw names) that do not apply."""
    part = published if mask is None else published.loc[np.asarray(mask, dtype=bool)]
    gone = {_heading(c, lang) for c in drop}
    out = part[[c for c in part.columns if c not in gone]].reset_index(drop=True)
    out.attrs = dict(published.attrs)
    return out


@dataclass
class TableSpec:
    """One raw table of an ISU cycle and how it is shown.

    ``key`` is stable across municipalities (the release links the same table
    of different units); ``parts`` lists how the published table is shown:
    ``(title, row mask or None, raw columns dropped)``, in reading order.
    """

    key: str
    raw: pd.DataFrame
    parts: list = field(default_factory=list)


def raw_tables(ds: Dataset, *, municipality: str | None = None, as_of=None, lang: str = "sv",
               window=(90, 730), region_grund: pd.DataFrame | None = None, rci=None) -> list[TableSpec]:
    """The raw (unprotected) tables of one ISU cycle, in reading order.

    What :func:`standard_tables` publishes table by table and what a release
    (:mod:`asi_lib.release`) protects together.

    Parameters
    ----------
    ds : Dataset
        The whole region (comparisons need the others too).
    municipality : str, optional
        ``None`` = the whole region.
    as_of : date-like, optional
        Reference date for follow-up windows and preliminary periods.
    lang : {"sv", "en"}
    window : (int, int)
        Follow-up window in days.
    region_grund : DataFrame, optional
        ``scores.add_scores(ds.grund)`` computed once by the caller (a
        release builds many units from one region).
    rci : asi_lib.change.RciReference, optional
        Fixed reliability and SD for the reliable-change index; default the
        whole region's estimate (:func:`asi_lib.change.estimate_rci_reference`),
        so that "share improved" means the same in every municipality.

    Returns
    -------
    list of TableSpec

    Examples
    --------
    >>> from asi_lib.datasets import read_dataset
    >>> specs = raw_tables(read_dataset("demo", n_clients=300))
    >>> specs[0].key, [p[0] for p in specs[0].parts]
    ('table1', ['Klientgruppen', 'Klientgruppen, medelvärden'])
    """
    own = ds if municipality is None else ds.filter(municipality=municipality)
    pairing = followup.pair_followups(own, window=window, as_of=as_of)
    if rci is None:
        region_pairs = pairing.pairs if municipality is None else \
            followup.pair_followups(ds, window=window, as_of=as_of).pairs
        rci = change.estimate_rci_reference(region_pairs, ("composite",), label="hela regionen")
    return _unit_tables(ds, own, scores.add_scores(own.grund), pairing, municipality=municipality, as_of=as_of,
                        lang=lang, region_grund=region_grund, rci=rci)


def _unit_tables(ds: Dataset, own: Dataset, grund: pd.DataFrame, pairing, *, municipality, as_of, lang,
                 region_grund, rci, given=None) -> list[TableSpec]:
    """:func:`raw_tables` from the unit's own data, scored Grund and pairing (a release computes these once
    for every unit: :func:`asi_lib.release.build_release`); ``given``: key → raw table already computed
    for this unit (by a grouped pass over all units), used instead of computing it here."""
    given = given or {}
    out: list[TableSpec] = []
    t1 = groups.table1(grund)
    # protected as one table (one n per group), shown as two: categories, then means
    is_cat = (t1["category"].astype("string").fillna("") != "").to_numpy()
    out.append(TableSpec("table1", t1, [
        ("Klientgruppen", is_cat, ("mean", "sd", "median")),
        ("Klientgruppen, medelvärden", ~is_cat, ("category", "k", "share", "ci_low", "ci_high"))]))
    for by, title in (("sex", "Problem per kön"), ("age_band", "Problem per åldersgrupp"),
                      ("main_substance", "Problem per huvudpreparat")):
        out.append(TableSpec(f"profile_{by}", groups.profile(grund, by=by), [(title, None, ())]))
    if municipality is None:
        out.append(TableSpec("profile_municipality", groups.profile(grund, by="municipality"),
                             [("Problem per kommun", None, ())]))
    else:
        region = scores.add_scores(ds.grund) if region_grund is None else region_grund
        cmp = compare.compare_one_vs_rest(region, unit_col="municipality", unit=municipality)
        # shown as two: the comparison per area, and the case mix (the same on every row) once
        mix = ("share_women_unit", "share_women_rest", "mean_age_unit", "mean_age_rest",
               "share_alcohol_unit", "share_alcohol_rest")
        first = np.arange(len(cmp)) < 1
        rest_cols = (*(c for c in cmp.columns if c not in mix), "tendens")
        out.append(TableSpec("compare", cmp, [
            ("Jämfört med övriga", None, ("sd_unit", "sd_rest", "median_unit", "median_rest", *mix)),
            ("Klientgruppernas sammansättning", first, rest_cols)]))
    comp = scores.completeness(own, table=None, lang=lang)
    # the number of interviews is a count of people's records too: protected like one
    comp.attrs["asi"] = {**comp.attrs.get("asi", {}), "count_cols": [
        c for c in ("interviews", "n", "rating_missing_n", "rating_not_relevant_n", "composite_missing_n",
                    "missing_x_n", "missing_n_n", "missing_empty_n", "missing_invalid_n") if c in comp.columns],
        "linked_counts": {"n": ["interviews"]}}
    out.append(TableSpec("completeness", comp, [("Kompletthet", None, ())]))
    use = given["asi_use"] if "asi_use" in given else monitor.asi_use(own, freq="auto", as_of=as_of)
    out.append(TableSpec("asi_use", use, [("ASI-användning", None, ())]))
    out.append(TableSpec("followup", pairing.summary(lang=lang), [("Uppföljning och bortfall", None, ())]))
    out.append(TableSpec("change", _no_rci_as_missing(
        change.change_by_area(pairing.pairs, measures=("composite", "rating"), reliability=rci, lang=lang)),
        [("Förändring per område", None, ())]))
    gb = given["bortfall_grund"] if "bortfall_grund" in given else bortfall.grund_bortfall(own, by="sex")
    out.append(TableSpec("bortfall_grund", gb, [("Bortfall Grund", None, ())]))
    for form, title in (("grund", "Bortfallsorsaker Grund"), ("uppfoljning", "Bortfallsorsaker uppföljning")):
        key = f"bortfall_reasons_{form}"
        reasons = given[key] if key in given else bortfall.bortfall_reasons(own, form, lang=lang)
        out.append(TableSpec(key, reasons, [(title, None, ())]))
    comp = given["completion"] if "completion" in given else insatser.completion(own, lang=lang)
    out.append(TableSpec("completion", comp, [("Insatser genomförda", None, ())]))
    return out


_RCI_COUNTS = ("n_improved", "n_unchanged", "n_worse", "share_improved", "share_unchanged", "share_worse")


def _no_rci_as_missing(frame: pd.DataFrame) -> pd.DataFrame:
    """Improved/unchanged/worse are "cannot be computed" where no reliable-change index exists.

    Ratings and areas without usable reliability have no RCI (``s_diff`` missing);
    their counts are not true zeros and must not be published as 0/0/0.
    """
    if "s_diff" not in frame.columns:
        return frame
    no_rci = frame["s_diff"].isna().to_numpy()
    if not no_rci.any():
        return frame
    out = frame.copy()
    for c in _RCI_COUNTS:
        if c in out.columns:
            out[c] = out[c].astype("Float64" if c.startswith("n_") else "float64")
            out.loc[no_rci, c] = np.nan
    out.attrs = dict(frame.attrs)
    return out


def publish_parts(spec: TableSpec, published: pd.DataFrame, *, lang: str = "sv") -> dict[str, pd.DataFrame]:
    """The parts of one published table, as they are shown (title → table).

    Splitting after :func:`~asi_lib.publish.publish` removes rows and columns,
    never changes which cells are hidden.

    Parameters
    ----------
    spec : TableSpec
    published : DataFrame
        ``publish(spec.raw, ...)``.
    lang : {"sv", "en"}

    Returns
    -------
    dict of str to DataFrame
    """
    return {title: _rows(published, mask, drop=drop, lang=lang) for title, mask, drop in spec.parts}


def standard_tables(ds: Dataset, *, municipality: str | None = None, as_of=None, lang: str = "sv",
                    min_cell: int = 5, window=(90, 730), rci=None) -> dict[str, pd.DataFrame]:
    """Published tables of one ISU cycle, in reading order, each protected on its own.

    For analysts in JupyterLab. What people outside the analysts' room see
    comes from a release (:func:`asi_lib.release.build_release`), which
    protects the tables of every municipality and the region together.

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
    out: dict[str, pd.DataFrame] = {}
    for spec in raw_tables(ds, municipality=municipality, as_of=as_of, lang=lang, window=window, rci=rci):
        out.update(publish_parts(spec, publish(spec.raw, min_cell=min_cell, lang=lang), lang=lang))
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
        title cut to 31 characters (:func:`asi_lib.safe.sheet_name`: invalid
        characters replaced, a clash numbered).
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

    Notes
    -----
    No cell is a formula: text from data that starts with ``=`` is stored as
    text (:func:`asi_lib.safe.excel_workbook`), and control characters Excel
    cannot store are replaced (:func:`asi_lib.safe.excel_frame`).

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
            sheet = sheet_name(name, taken=xl.sheets)  # valid and unique even when titles collide at 31
            excel_frame(frame).to_excel(xl, sheet_name=sheet, index=False, startrow=3)
            ws = xl.sheets[sheet]
            ws["A1"] = excel_value(f"{title} – {name}" if title else str(name))
            ws["A2"] = excel_value(f"Urval: {meta.get('selection', '')}. Enhet: {meta.get('unit', '')}.")
            ws.cell(row=len(frame) + 6, column=1, value=excel_value(meta.get("legend", "")))
            ws.freeze_panes = "A5"
            for i, col in enumerate(frame.columns, start=1):
                width = max([len(str(col))] + [len(str(v)) for v in frame[col].head(200)])
                ws.column_dimensions[ws.cell(row=4, column=i).column_letter].width = min(max(10, width + 2), 60)
        excel_workbook(xl.book)  # no cell from data may be a formula (A1 titles, labels, headings)
    return path
