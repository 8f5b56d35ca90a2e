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
from itertools import repeat
from pathlib import Path

import numpy as np
import pandas as pd

from . import bortfall, change, compare, followup, groups, insatser, monitor, scores
from .dataset import Dataset
from .publish import _heading, publish
from .safe import excel_cells, excel_value, excel_workbook, sheet_name

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
    t1 = groups._table1(grund, categories=given.get("table1_categories"), means=given.get("table1_means"))
    # protected as one table (one n per group), shown as two: categories, then means
    is_cat = (t1["category"].astype("string").fillna("") != "").to_numpy()
    out.append(TableSpec("table1", t1, [
        ("Klientgruppen", is_cat, ("mean", "sd", "median")),
        ("Klientgruppen, medelvärden", ~is_cat, ("category", "k", "share", "ci_low", "ci_high"))]))
    for by, title in (("sex", "Problem per kön"), ("age_band", "Problem per åldersgrupp"),
                      ("main_substance", "Problem per huvudpreparat")):
        prof = given[f"profile_{by}"] if f"profile_{by}" in given else groups.profile(grund, by=by)
        out.append(TableSpec(f"profile_{by}", prof, [(title, None, ())]))
    if municipality is None:
        out.append(TableSpec("profile_municipality", groups.profile(grund, by="municipality"),
                             [("Problem per kommun", None, ())]))
    else:
        region = scores.add_scores(ds.grund) if region_grund is None else region_grund
        cmp = given["compare"] if "compare" in given else \
            compare.compare_one_vs_rest(region, unit_col="municipality", unit=municipality)
        # shown as two: the comparison per area, and the case mix (the same on every row) once
        mix = ("share_women_unit", "share_women_rest", "mean_age_unit", "mean_age_rest",
               "share_alcohol_unit", "share_alcohol_rest")
        first = np.arange(len(cmp)) < 1
        rest_cols = (*(c for c in cmp.columns if c not in mix), "tendens")
        out.append(TableSpec("compare", cmp, [
            ("Jämfört med övriga", None, ("sd_unit", "sd_rest", "median_unit", "median_rest", *mix)),
            ("Klientgruppernas sammansättning", first, rest_cols)]))
    comp = given["completeness"] if "completeness" in given else scores.completeness(own, table=None, lang=lang)
    # the number of interviews is a count of people's records too: protected like one
    comp.attrs["asi"] = {**comp.attrs.get("asi", {}), "count_cols": [
        c for c in ("interviews", "n", "rating_missing_n", "rating_not_relevant_n", "composite_missing_n",
                    "missing_x_n", "missing_n_n", "missing_empty_n", "missing_invalid_n") if c in comp.columns],
        "linked_counts": {"n": ["interviews"]}}
    out.append(TableSpec("completeness", comp, [("Kompletthet", None, ())]))
    use = given["asi_use"] if "asi_use" in given else monitor.asi_use(own, freq="auto", as_of=as_of)
    out.append(TableSpec("asi_use", use, [("ASI-användning", None, ())]))
    out.append(TableSpec("followup", pairing.summary(lang=lang), [("Uppföljning och bortfall", None, ())]))
    chg = given["change"] if "change" in given else _no_rci_as_missing(
        change.change_by_area(pairing.pairs, measures=("composite", "rating"), reliability=rci, lang=lang))
    out.append(TableSpec("change", chg, [("Förändring per område", None, ())]))
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


_NUM = {
    # sign, integer part with thousands separators, decimals, suffix (per cent / percentage points)
    "sv": r"^(?P<sign>[−-])?(?P<int>\d{1,3}(?:[\u2009\u00a0\u202f ]\d{3})*|\d+)(?:,(?P<dec>\d+))?"
          r"(?P<suffix> %| %-enh\.)?$",
    "en": r"^(?P<sign>-)?(?P<int>\d{1,3}(?:,\d{3})*|\d+)(?:\.(?P<dec>\d+))?(?P<suffix> %| pp)?$",
}


def excel_numbers(frame: pd.DataFrame, *, lang: str | None = None) -> tuple[pd.DataFrame, dict]:
    """Published strings back to numbers for Excel, with the number format each cell was shown in.

    A column is converted when every one of its cells is either a published
    number (``"1 080"``, ``"0,24"``, ``"−0,04"``, ``"15 %"``, ``"3 %-enh."``)
    or a marker, which stays text (``".."``, ``"<5"``, ``"–"``, ``"<0,001"``,
    empty); label columns (the table's group and key columns) are never
    converted.

    Parameters
    ----------
    frame : pandas.DataFrame
        A published table (strings).
    lang : {"sv", "en"}, optional
        How the numbers are written; default the table's ``attrs["asi"]["lang"]``.

    Returns
    -------
    (DataFrame, dict)
        The values (object columns: ``int`` for whole numbers, ``float``
        otherwise, the marker strings unchanged) and ``{column position:
        array of number formats or None}``.

    Notes
    -----
    ``"d,dd"`` with *d* decimals gets the format ``#,##0.00`` (d zeros);
    ``"x %"`` is stored as the share x/100 with ``0%`` (``0.0%`` with a
    decimal); ``"x %-enh."`` (percentage points) as x with ``0" %-enh."``.
    Excel shows the thousands separator and decimal comma of the reader's
    locale.

    Examples
    --------
    >>> t = pd.DataFrame({"Antal": ["1\u2009080", "<5", ".."], "Andel": ["15 %", "0,5 %", ".."],
    ...                   "Medel": ["0,24", "−1,5", "–"]})
    >>> values, formats = excel_numbers(t, lang="sv")
    >>> values.iloc[:, 0].tolist(), values.iloc[:, 1].tolist(), values.iloc[:, 2].tolist()
    ([1080, '<5', '..'], [0.15, 0.005, '..'], [0.24, -1.5, '–'])
    >>> formats[0][0], formats[1][1], formats[2][0]
    ('#,##0', '0.0%', '#,##0.00')
    """
    grid, formats = _excel_numbers_of([frame], lang=lang)[0]
    values = pd.DataFrame(grid, columns=frame.columns, index=frame.index)
    values.attrs = dict(frame.attrs)
    return values, formats


def _number_columns(frame: pd.DataFrame, lang: str) -> list[int]:
    """Positions of the columns that may hold numbers: all but the table's group and key columns."""
    meta = frame.attrs.get("asi", {})
    raw = (*meta.get("group_cols", ()), *meta.get("key_cols", ()))
    labels = {_heading(c, lang) for c in raw} | set(raw)
    return [j for j, col in enumerate(frame.columns) if col not in labels]


def _parse_published(cells: np.ndarray, lang: str) -> tuple[np.ndarray, ...]:
    """Every published cell parsed element-wise: (is a number, is a marker, value, number format, whole).

    One regex pass over all cells given (of any number of tables); ``value``
    and ``number format`` only mean something where ``is a number``.
    """
    flat = pd.Series(cells, dtype="string")
    parts = flat.str.extract(_NUM["en" if lang == "en" else "sv"])
    num = parts["int"].notna().to_numpy()
    text = flat.fillna("").to_numpy(dtype=object)
    is_marker = ((~num) & np.isin(text, ["", "..", "–", "-"])) | \
        flat.str.match(r"^<\s?\d").fillna(False).to_numpy(dtype=bool)
    digits = parts["int"].str.replace(r"\D", "", regex=True)
    dec = parts["dec"].fillna("")
    mag = pd.to_numeric(digits + "." + dec.where(dec != "", "0"), errors="coerce").to_numpy(dtype="float64")
    v = np.where(parts["sign"].notna().to_numpy(), -1.0, 1.0) * mag
    suffix = parts["suffix"].fillna("").to_numpy(dtype=object)
    pct = suffix == " %"
    points = np.isin(suffix, [" %-enh.", " pp"])
    v = np.where(pct, v / 100, v)
    nd = dec.str.len().to_numpy(dtype="int64")
    zeros = np.array(["." + "0" * d if d else "" for d in range(int(nd.max()) + 1)], dtype=object)[nd]
    fmt = np.where(pct, "0" + zeros + "%",
                   np.where(points, "0" + zeros + ('" %-enh."' if lang == "sv" else '" pp"'),
                            "#,##0" + zeros)).astype(object)
    return num, is_marker, v, fmt, num & (nd == 0) & ~pct


def _excel_numbers_of(frames: list[pd.DataFrame], *, lang: str | None = None) -> list[tuple[np.ndarray, dict]]:
    """:func:`excel_numbers` of many tables, their cells parsed together (one pass per language).

    Returns, per table, its values as an object array and its formats
    (``{column position: array of number formats or None}``).
    """
    langs = [lang or f.attrs.get("asi", {}).get("lang", "sv") for f in frames]
    grids = [f.to_numpy(dtype=object, copy=True) for f in frames]
    cols = [_number_columns(f, la) if len(f) else [] for f, la in zip(frames, langs)]
    out: list = [None] * len(frames)
    for la in dict.fromkeys(langs):
        mine = [i for i, x in enumerate(langs) if x == la]
        # column after column, table after table: one flat vector of every candidate cell
        chunks = [grids[i][:, cols[i]].T.reshape(-1) for i in mine]
        parsed = _parse_published(np.concatenate(chunks), la) if sum(map(len, chunks)) else None
        start = 0
        for i, chunk in zip(mine, chunks):
            sl = slice(start, start + len(chunk))
            out[i] = (grids[i], _numbers_into(grids[i], cols[i], *(p[sl] for p in parsed)) if len(chunk) else {})
            start = sl.stop
    return out


def _numbers_into(grid: np.ndarray, cols: list[int], num, is_marker, v, fmt, whole) -> dict:
    """Put the parsed numbers of the columns that are all numbers or markers into ``grid``; their formats."""
    k, n = len(cols), len(grid)
    convert = (num | is_marker).reshape(k, n).all(axis=1) & num.reshape(k, n).any(axis=1)  # else labels/free text
    formats: dict[int, np.ndarray] = {}
    for i in np.flatnonzero(convert):
        j, sl = cols[i], slice(i * n, (i + 1) * n)
        out = grid[:, j].copy()
        w, r = whole[sl], num[sl] & ~whole[sl]
        out[w] = np.round(v[sl][w]).astype(np.int64).tolist()    # counts stay exact (Python) integers
        out[r] = v[sl][r].tolist()
        grid[:, j] = out
        formats[j] = np.where(num[sl], fmt[sl], None)
    return formats


LEGEND_SHEET = "Teckenförklaring"


def _legend_rows(tables: dict[str, pd.DataFrame]) -> tuple[list[str], list[tuple[str, str]]]:
    metas = [t.attrs.get("asi", {}) for t in tables.values()]
    first = metas[0]
    lang = first.get("lang", "sv")
    min_cell = first.get("min_cell", 5)
    ref = next((m["reference_date"] for m in metas if m.get("reference_date")), None)
    tend = first.get("tendency_threshold", 10)
    if lang == "en":
        head = [f"Reference date: {ref or 'not stated'}",
                f"Smallest count shown (min_cell): {min_cell}; under {tend} clients: tendencies only."]
        rows = [("..", f"hidden: fewer than {min_cell} clients, or hidden so that no small count can be derived"),
                (f"<{min_cell}", f"fewer than {min_cell} clients (1 to {min_cell - 1})"),
                ("–", "cannot be computed (no clients, or the statistic does not apply)"),
                ("<0.001", "p-value below 0.001"),
                ("Tendencies only", f"fewer than {tend} clients: no conclusions, no p-value or interval"),
                ("numbers", "stored as numbers (shares as per cent, means with their decimals): "
                            "they can be charted and summed; markers are text"),
                ("%", "share of the row's clients; pp = percentage points")]
        return head, rows
    head = [f"Referensdatum: {ref or 'anges inte'}",
            f"Minsta antal som visas (min_cell): {min_cell}; under {tend} klienter: endast tendenser."]
    rows = [("..", f"dolt: färre än {min_cell} klienter, eller dolt så att inget litet antal kan räknas fram"),
            (f"<{min_cell}", f"färre än {min_cell} klienter (1–{min_cell - 1})"),
            ("–", "kan inte beräknas (inga klienter, eller måttet gäller inte)"),
            ("<0,001", "p-värde under 0,001"),
            ("Endast tendenser", f"färre än {tend} klienter: inga slutsatser, inget p-värde eller konfidensintervall"),
            ("tal", "sparade som tal (andelar i procent, medelvärden med sina decimaler): går att göra "
                    "diagram av och summera; markeringarna ovan är text"),
            ("%", "andel av radens klienter; %-enh. = procentenheter")]
    return head, rows


def write_excel(tables: dict[str, pd.DataFrame], path, *, title: str = "") -> Path:
    """Write published tables to one workbook, a sheet per table, numbers as numbers, and a legend sheet.

    Each sheet starts with the table's title and selection (from
    ``attrs["asi"]``) and ends with the legend of the suppression markers.
    Published numbers are stored as numbers with the number format they were
    shown in (:func:`excel_numbers`: thousands separator, decimals, per
    cent), so a manager can chart them; suppressed and empty cells stay text
    (``".."``, ``"<5"``, ``"–"``). The last sheet, *Teckenförklaring*
    (*Legend* in English), explains the markers and states the reference
    date and ``min_cell``. Only published frames are accepted.

    Parameters
    ----------
    tables : dict of str to pandas.DataFrame
        Title → table that has passed :func:`~asi_lib.publish.publish`
        (e.g. :func:`standard_tables`); sheets in this order, named by the
        title cut to 31 characters (:func:`asi_lib.safe.sheet_name`: invalid
        characters replaced, a clash numbered).
    path : str or Path
        The ``.xlsx`` file; its directory is created when missing, an
        existing file is replaced atomically (temporary file, then
        ``os.replace``).
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
    text with Excel's quote prefix (:func:`asi_lib.safe.excel_workbook`), and
    control characters Excel cannot store are replaced
    (:func:`asi_lib.safe.excel_cells`). The cells are written with openpyxl
    directly (no ``DataFrame.to_excel``), as pandas wrote them: missing values
    as empty text, no header style.

    Examples
    --------
    >>> import os, tempfile, openpyxl
    >>> from asi_lib.publish import publish
    >>> raw = pd.DataFrame({"sex": ["male", "female", "__total__"], "n": [40, 30, 70]})
    >>> raw.attrs["asi"] = {"group_cols": ["sex"], "additive": True, "selection": "senaste Grund",
    ...                     "unit": "klienter"}
    >>> p = write_excel({"Per kön": publish(raw)}, os.path.join(tempfile.mkdtemp(), "t.xlsx"), title="ISU 2024")
    >>> wb = openpyxl.load_workbook(p)
    >>> ws = wb["Per kön"]
    >>> ws["A1"].value, ws["A2"].value, ws["A5"].value, ws["B5"].value, ws["B5"].number_format
    ('ISU 2024 – Per kön', 'Urval: senaste Grund. Enhet: klienter.', 'Man', 40, '#,##0')
    >>> wb.sheetnames[-1]
    'Teckenförklaring'
    """
    import os
    import tempfile

    from .errors import AsiInputError

    # every table is checked before the workbook is opened: nothing half-written is left
    for name, frame in tables.items():
        if not frame.attrs.get("asi", {}).get("published"):
            raise AsiInputError(f"tabellen '{name}' har inte passerat publish() / not published")
    if not tables:
        raise AsiInputError("inga tabeller att skriva / no tables to write")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".tmp.xlsx", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        _excel_book(tables, title).save(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _excel_book(tables: dict[str, pd.DataFrame], title: str):
    """The workbook :func:`write_excel` saves: a sheet per table, the legend sheet, no formula cell.

    The cells are written with openpyxl directly, the numbers of all tables
    parsed in one pass (:func:`_excel_numbers_of`).
    """
    import openpyxl

    book = openpyxl.Workbook()
    book.remove(book.active)
    for (name, frame), (grid, formats) in zip(tables.items(), _excel_numbers_of(list(tables.values()))):
        ws = book.create_sheet(sheet_name(name, taken=book.sheetnames))  # valid and unique even when titles collide
        _table_sheet(ws, frame, grid, formats, heading=f"{title} – {name}" if title else str(name))
    _legend_sheet(book, tables, title)
    excel_workbook(book)  # no cell from data may be a formula (A1 titles, labels, headings, cells)
    return book


def _table_sheet(ws, frame: pd.DataFrame, grid: np.ndarray, formats: dict, *, heading: str) -> None:
    """One table on its sheet: heading, selection, an empty row, the header on row 4 (frozen), rows, legend."""
    meta = frame.attrs.get("asi", {})
    ws.append([excel_value(heading)])
    ws.append([excel_value(f"Urval: {meta.get('selection', '')}. Enhet: {meta.get('unit', '')}.")])
    ws.append([])
    ws.append(_as_written(_object_row([excel_value(c) for c in frame.columns]))[0].tolist())
    for row in _as_written(excel_cells(grid)).tolist():
        ws.append(row)
    ws.append([])
    ws.append([excel_value(meta.get("legend", ""))])
    ws.freeze_panes = "A5"
    for j, fmts in formats.items():
        for i in np.flatnonzero(fmts != None):  # noqa: E711 - element-wise on an object array
            ws.cell(row=5 + int(i), column=j + 1).number_format = fmts[i]
    _column_widths(ws, frame)


def _object_row(values: list) -> np.ndarray:
    """``values`` as a one-row object array (tuples stay single cells)."""
    row = np.empty((1, len(values)), dtype=object)
    row[0, :] = pd.Series(values, dtype=object).to_numpy()
    return row


def _as_written(cells: np.ndarray) -> np.ndarray:
    """Cell values as ``DataFrame.to_excel`` wrote them: missing as ``""``, ±infinity as ``"inf"``/``"-inf"``.

    Numbers (and booleans) stay numbers, text stays text, anything else
    becomes its text.
    """
    flat = np.array(cells, dtype=object).reshape(-1)  # a copy, in reading order whatever the layout
    flat[pd.isna(flat)] = ""
    number = np.fromiter(map(isinstance, flat, repeat((int, float, np.number, np.bool_))), bool, flat.size)
    other = ~number & ~np.fromiter(map(isinstance, flat, repeat(str)), bool, flat.size)
    if other.any():
        flat[other] = pd.Series(flat[other], dtype=object).map(str).to_numpy(dtype=object)
    real = np.flatnonzero(np.fromiter(map(isinstance, flat, repeat((float, np.floating))), bool, flat.size))
    values = flat[real].astype("float64")
    infinite = np.isinf(values)
    flat[real[infinite]] = np.where(values[infinite] > 0, "inf", "-inf").astype(object)
    return flat.reshape(np.shape(cells))


def _column_widths(ws, frame: pd.DataFrame) -> None:
    """Each column as wide as its name or its longest value among the first 200 rows, plus 2, within 10 to 60."""
    from openpyxl.utils import get_column_letter

    shown = frame.iloc[:200].to_numpy(dtype=object).astype(str)  # str() of every cell
    names = np.array([str(c) for c in frame.columns], dtype=str)
    longest = np.maximum(np.strings.str_len(names), np.strings.str_len(shown).max(axis=0, initial=0))
    for j, width in enumerate(np.clip(longest + 2, 10, 60).tolist(), start=1):
        ws.column_dimensions[get_column_letter(j)].width = width


def _legend_sheet(book, tables: dict[str, pd.DataFrame], title: str) -> None:
    """The last sheet: what the markers mean, the reference date and ``min_cell``."""
    lang = next(iter(tables.values())).attrs.get("asi", {}).get("lang", "sv")
    legend = LEGEND_SHEET if lang != "en" else "Legend"
    ws = book.create_sheet(sheet_name(legend, taken=book.sheetnames))
    head, rows = _legend_rows(tables)
    # rows 4-5 stay empty: a reader of the table sheets (header on row 4) finds no table here
    ws["A1"] = excel_value(f"{title} – {legend}" if title else legend)
    ws["A2"], ws["A3"] = excel_value(head[0]), excel_value(head[1])
    ws["A6"], ws["B6"] = ("Tecken", "Betydelse") if lang != "en" else ("Marker", "Meaning")
    for i, (mark, text) in enumerate(rows, start=7):
        ws.cell(row=i, column=1, value=excel_value(mark)).data_type = "s"
        ws.cell(row=i, column=2, value=excel_value(text))
    ws.column_dimensions["A"].width, ws.column_dimensions["B"].width = 18, 100
