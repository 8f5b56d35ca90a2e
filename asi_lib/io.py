"""Reading export files: CSV (any common Swedish dialect) and Excel workbooks.

Everything is read as text; typing is :mod:`asi_lib.validate`'s job. Row
numbers are the ones the user sees: the CSV line number (header = line 1)
or the Excel row number (header = row 1), kept as the frame's index.
"""
from __future__ import annotations

import csv
import datetime as _dt
import io as _io
from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd

from .codebook import TABLES, load_codebook
from .errors import AsiInputError

IGNORED_SHEETS = {"kodbok", "codebook", "koder", "instruktioner", "readme", "instructions"}
ENCODINGS = ("utf-8-sig", "cp1252")


@dataclass
class RawTable:
    """One table of one file (or sheet), all cells as text.

    Attributes
    ----------
    table : str
        Codebook table name (grund, uppfoljning, bortfall, insatser).
    file : str
        Path as given.
    sheet : str or None
        Excel sheet name; None for CSV.
    data : pandas.DataFrame
        Cells as ``str`` (empty cell = ``""``); index = row number as the
        user sees it (named ``row``); columns = header after renaming
        (codebook names where known).
    original_columns : dict
        Column name in ``data`` → header as written in the file.
    encoding, delimiter : str or None
        What the CSV reader detected.

    Examples
    --------
    >>> raw = RawTable("grund", "g.xlsx", "Grund",
    ...                pd.DataFrame({"client_id": ["A1"]}, index=pd.Index([2], name="row")))
    >>> raw.where, raw.data.loc[2, "client_id"]
    ('g.xlsx [Grund]', 'A1')
    """

    table: str
    file: str
    sheet: str | None
    data: pd.DataFrame
    original_columns: dict = field(default_factory=dict)
    encoding: str | None = None
    delimiter: str | None = None

    @property
    def frame(self) -> pd.DataFrame:  # alias
        return self.data

    @property
    def where(self) -> str:
        return f"{self.file} [{self.sheet}]" if self.sheet else self.file

    def with_data(self, data: pd.DataFrame, **kw) -> "RawTable":
        return replace(self, data=data, **kw)


def _err(msg_sv: str, msg_en: str, file, sheet=None) -> AsiInputError:
    where = f"{file} [blad/sheet {sheet}]" if sheet else str(file)
    return AsiInputError(f"{msg_sv} / {msg_en}", file=where)


# ---------------------------------------------------------------- table inference
def infer_table(columns, *, file="", sheet=None) -> str:
    """The codebook table whose columns best match a header.

    Among the tables whose required columns are all present, the one with
    most matching minus non-matching columns wins. A tie or no complete
    table raises :class:`AsiInputError` (say ``--table``).

    Parameters
    ----------
    columns : iterable of str
        Column names after renaming (codebook names).
    file : str, optional
        File named in the error message.
    sheet : str, optional
        Excel sheet named in the error message.

    Returns
    -------
    str
        ``grund``, ``uppfoljning``, ``bortfall`` or ``insatser``.

    Raises
    ------
    AsiInputError
        No table has all its required columns (the message names the
        closest table and what it lacks), or two tables score the same.

    Examples
    --------
    >>> infer_table(["client_id", "municipality", "unit", "interview_date", "sex", "main_substance"])
    'grund'
    >>> infer_table(["client_id", "municipality", "unit", "interview_date", "followup_type", "sex"])
    'uppfoljning'
    """
    cb = load_codebook()
    cols = set(columns)
    scores, missing = {}, {}
    for t in TABLES:
        names = set(cb.column_names(t))
        miss = [c for c in cb.required(t) if c not in cols]
        missing[t] = miss
        if not miss:
            scores[t] = len(cols & names) - len(cols - names)
    if not scores:
        best = min(TABLES, key=lambda t: len(missing[t]))
        raise _err(f"obligatoriska kolumner saknas; närmast tabellen '{best}' som saknar: {', '.join(missing[best])}",
                   f"required columns missing; closest table '{best}' lacks: {', '.join(missing[best])}",
                   file, sheet)
    top = max(scores.values())
    winners = [t for t, s in scores.items() if s == top]
    if len(winners) > 1:
        raise _err(f"kan inte avgöra tabellen ({' eller '.join(winners)}); ange --table",
                   f"cannot tell the table ({' or '.join(winners)}); use --table", file, sheet)
    return winners[0]


def _check_required(table: str, columns, file, sheet=None) -> None:
    cb = load_codebook()
    miss = [c for c in cb.required(table) if c not in set(columns)]
    if miss:
        raise _err(f"obligatoriska kolumner saknas för tabellen '{table}': {', '.join(miss)}",
                   f"required columns missing for table '{table}': {', '.join(miss)}", file, sheet)


def _rename_header(header: list[str], mapping, file, sheet=None) -> tuple[list[str], dict]:
    names = []
    for h in header:
        h0 = "" if h is None else str(h).strip().lstrip("\ufeff")
        target = mapping.target(h0) if mapping is not None else None
        names.append(target if target else h0.lower())
    orig = dict(zip(names, (str(h).strip() if h is not None else "" for h in header)))
    seen, dups = set(), set()
    for n in names:
        if n and n in seen:
            dups.add(n)
        seen.add(n)
    if dups:
        raise _err(f"kolumnen förekommer mer än en gång: {', '.join(sorted(dups))}",
                   f"column occurs more than once: {', '.join(sorted(dups))}", file, sheet)
    return names, orig


def _finish(df: pd.DataFrame, header, *, table, file, sheet, mapping, first_row: int, **kw) -> RawTable:
    names, orig = _rename_header(list(header), mapping, file, sheet)
    df.columns = names
    keep = [c for c in names if c != ""]
    df = df[keep]
    df.index = pd.RangeIndex(first_row, first_row + len(df), name="row")
    # drop completely empty rows (trailing blank lines, empty Excel rows)
    if len(df.columns):
        df = df.loc[(df != "").any(axis=1)]
    tab = table or (mapping.table if mapping is not None and getattr(mapping, "table", None) else None)
    if tab is None:
        tab = infer_table(df.columns, file=file, sheet=sheet)
    elif tab not in TABLES:
        raise _err(f"okänd tabell '{tab}'", f"unknown table '{tab}'", file, sheet)
    _check_required(tab, df.columns, file, sheet)
    return RawTable(table=tab, file=str(file), sheet=sheet, data=df,
                    original_columns={k: v for k, v in orig.items() if k}, **kw)


# ---------------------------------------------------------------- CSV
def _decode(raw: bytes, file) -> tuple[str, str]:
    for enc in ENCODINGS:
        try:
            return raw.decode(enc), enc
        except UnicodeDecodeError:
            continue
    return raw.decode("latin-1"), "latin-1"  # pragma: no cover - cp1252 leaves few bytes undecodable


def sniff_delimiter(text: str) -> str:
    """Delimiter of a CSV text: the most frequent of ``;`` ``,`` TAB in the header line.

    Parameters
    ----------
    text : str
        Decoded file content; the first non-blank line is examined and
        characters inside double quotes are not counted.

    Returns
    -------
    str
        ``";"``, ``","`` or ``"\\t"``; ``","`` when the line has none of them
        (ties go to ``;`` before ``,`` before TAB).

    Examples
    --------
    >>> sniff_delimiter("a;b;c\\n1,5;2;3"), sniff_delimiter("a,b\\n1,2")
    (';', ',')
    """
    first = next((ln for ln in text.splitlines() if ln.strip()), "")
    counts, quoted = {";": 0, ",": 0, "\t": 0}, False
    for ch in first:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in counts:
            counts[ch] += 1
    best = max(counts, key=lambda k: counts[k])
    return best if counts[best] else ","


def read_csv_text(path, *, table=None, mapping=None) -> RawTable:
    """Read one CSV file (UTF-8, UTF-8 with BOM or cp1252; ``,`` ``;`` or TAB).

    Usually called through :func:`read_file`.

    Parameters
    ----------
    path : str or Path
    table : str, optional
        Force the codebook table; otherwise inferred from the header with
        :func:`infer_table`.
    mapping : asi_lib.mapping.Mapping, optional
        Renames foreign headers before the table is inferred.

    Returns
    -------
    RawTable
        Cells as text, index = CSV line number (header = line 1), completely
        empty lines dropped; ``encoding`` and ``delimiter`` as detected.

    Raises
    ------
    AsiInputError
        Unreadable, empty or binary file, unparsable CSV, unknown table,
        required columns missing or a column twice.

    Examples
    --------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "g.csv")
    >>> _ = open(p, "w", encoding="utf-8").write(
    ...     "client_id,municipality,unit,interview_date,sex,main_substance\\n"
    ...     "A1,Ale,Öst,2024-03-01,female,alcohol\\n\\nA2,Ale,Öst,2024-04-01,male,cannabis\\n")
    >>> raw = read_csv_text(p)
    >>> raw.table, raw.encoding, raw.delimiter, raw.data.index.tolist()
    ('grund', 'utf-8-sig', ',', [2, 4])
    """
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise _err(f"filen kan inte läsas ({exc.strerror or exc})", f"cannot read file ({exc.strerror or exc})", path) from None
    text, enc = _decode(raw, path)
    if not text.strip():
        raise _err("filen är tom", "file is empty", path)
    if "\x00" in text:
        raise _err("filen ser inte ut som text (CSV)", "file does not look like text (CSV)", path)
    delim = sniff_delimiter(text)
    try:
        df = pd.read_csv(_io.StringIO(text), sep=delim, dtype=str, keep_default_na=False, na_filter=False,
                         header=None, skip_blank_lines=False, quoting=csv.QUOTE_MINIMAL)
    except (pd.errors.ParserError, csv.Error, ValueError) as exc:
        raise _err(f"CSV-filen kan inte tolkas ({str(exc).splitlines()[0]})",
                   f"cannot parse CSV ({str(exc).splitlines()[0]})", path) from None
    header = df.iloc[0].tolist()
    body = df.iloc[1:].reset_index(drop=True).fillna("")
    return _finish(body, header, table=table, file=path, sheet=None, mapping=mapping, first_row=2,
                   encoding=enc, delimiter=delim)


# ---------------------------------------------------------------- Excel
def _cell_text(v) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, _dt.datetime):
        return v.date().isoformat() if (v.hour, v.minute, v.second) == (0, 0, 0) else v.isoformat(sep=" ")
    if isinstance(v, _dt.date):
        return v.isoformat()
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() else repr(v)
    return str(v)


def read_excel(path, *, table=None, sheet=None, mapping=None) -> list[RawTable]:
    """Read the table sheets of an ``.xlsx`` workbook (one sheet per table).

    Usually called through :func:`read_file`.

    Parameters
    ----------
    path : str or Path
    table : str, optional
        Read only the sheet named after this table (or the workbook's only
        data sheet, read as this table).
    sheet : str, optional
        Read only this sheet (name matched case-insensitively).
    mapping : asi_lib.mapping.Mapping, optional
        Renames foreign headers before the table is inferred.

    Returns
    -------
    list of RawTable
        One per table sheet (a sheet named ``grund``, ``uppfoljning``,
        ``bortfall`` or ``insatser``, case-insensitively), or the only data
        sheet with its table inferred from the header. Sheets named
        kodbok/codebook/koder/instruktioner/README are ignored, and so are
        empty table sheets when neither ``table`` nor ``sheet`` is given.
        Cells as text (dates as ISO dates, whole floats without decimals,
        booleans as ``1``/``0``), index = Excel row number (header = row 1).

    Raises
    ------
    AsiInputError
        Unopenable workbook, no such sheet, no table sheet, an empty chosen
        sheet, required columns missing or a column twice.

    Examples
    --------
    >>> import datetime, os, tempfile, openpyxl
    >>> wb = openpyxl.Workbook()
    >>> wb.active.title = "Grund"
    >>> wb.active.append(["client_id", "municipality", "unit", "interview_date", "sex", "main_substance"])
    >>> wb.active.append(["A1", "Ale", "Öst", datetime.datetime(2024, 3, 1), "female", "alcohol"])
    >>> _ = wb.create_sheet("Kodbok")
    >>> p = os.path.join(tempfile.mkdtemp(), "g.xlsx")
    >>> wb.save(p)
    >>> [(r.table, r.sheet) for r in read_excel(p)]
    [('grund', 'Grund')]
    >>> read_excel(p)[0].data.loc[2, "interview_date"]
    '2024-03-01'
    """
    import openpyxl

    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for broken files
        raise _err(f"Excel-filen kan inte öppnas ({exc.__class__.__name__})",
                   f"cannot open Excel file ({exc.__class__.__name__})", path) from None
    try:
        names = wb.sheetnames
        if sheet is not None:
            match = [n for n in names if n.casefold() == str(sheet).casefold()]
            if not match:
                raise _err(f"bladet '{sheet}' finns inte (finns: {', '.join(names)})",
                           f"no sheet '{sheet}' (sheets: {', '.join(names)})", path)
            chosen = [(match[0], table or (match[0].casefold() if match[0].casefold() in TABLES else None))]
        else:
            data_sheets = [n for n in names if n.strip().casefold() not in IGNORED_SHEETS]
            by_table = [(n, n.strip().casefold()) for n in data_sheets if n.strip().casefold() in TABLES]
            if table is not None:
                chosen = [(n, t) for n, t in by_table if t == table]
                if not chosen and len(data_sheets) == 1:
                    chosen = [(data_sheets[0], table)]
            elif by_table:
                chosen = by_table
            elif len(data_sheets) == 1:
                chosen = [(data_sheets[0], None)]
            else:
                chosen = []
            if not chosen:
                raise _err(f"inget blad med tabellnamn ({', '.join(TABLES)}) hittades (blad: {', '.join(names)})",
                           f"no sheet named after a table ({', '.join(TABLES)}) found (sheets: {', '.join(names)})",
                           path)
        out = []
        for name, tab in chosen:
            ws = wb[name]
            rows = ws.iter_rows(values_only=True)
            header = next(rows, None)
            if header is None or all(v is None for v in header):
                if sheet is None and table is None:
                    continue  # an empty table sheet of the template: nothing to ingest
                raise _err("bladet är tomt", "sheet is empty", path, name)
            width = len(header)
            while width and header[width - 1] is None:
                width -= 1
            header = header[:width]
            body = [[_cell_text(v) for v in r[:width]] + [""] * max(0, width - len(r)) for r in rows]
            df = pd.DataFrame(body, columns=range(width), dtype=object).astype(str) if body else \
                pd.DataFrame({i: pd.Series([], dtype=str) for i in range(width)})
            out.append(_finish(df, header, table=tab, file=path, sheet=name, mapping=mapping, first_row=2))
        return out
    finally:
        wb.close()


def read_file(path, *, table: str | None = None, sheet: str | None = None, mapping=None) -> list[RawTable]:
    """Read an export file into raw text tables.

    Parameters
    ----------
    path : str or Path
        ``.csv`` / ``.txt`` (UTF-8, UTF-8 with BOM or cp1252; comma,
        semicolon or tab, sniffed) or ``.xlsx``/``.xlsm``.
    table : str, optional
        Force the codebook table (CSV: otherwise inferred from the header;
        Excel: otherwise from the sheet names ``grund``, ``uppfoljning``,
        ``bortfall``, ``insatser``).
    sheet : str, optional
        Read only this Excel sheet.
    mapping : asi_lib.mapping.Mapping, optional
        Renames foreign headers before the table is inferred.

    Returns
    -------
    list of RawTable
        One per CSV file, one per table sheet of a workbook (sheets named
        kodbok/codebook/koder/instruktioner/README are ignored).

    Raises
    ------
    AsiInputError
        Unreadable file, no matching sheet, required columns missing, a
        column twice; the message names the file (and sheet).

    Examples
    --------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "g.csv")
    >>> _ = open(p, "w", encoding="cp1252").write(
    ...     "client_id;municipality;unit;interview_date;sex;main_substance\\nA1;Åre;Öst;20240301;Kvinna;alcohol\\n")
    >>> raw = read_file(p)[0]
    >>> raw.table, raw.encoding, raw.delimiter, raw.data.loc[2, "municipality"]
    ('grund', 'cp1252', ';', 'Åre')
    """
    p = Path(path)
    if table is not None and table not in TABLES:
        raise _err(f"okänd tabell '{table}'", f"unknown table '{table}'", path)
    if not p.exists():
        raise _err("filen finns inte", "file does not exist", path)
    if p.is_dir():
        raise _err("är en katalog, inte en fil", "is a directory, not a file", path)
    suffix = p.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        return read_excel(p, table=table, sheet=sheet, mapping=mapping)
    if suffix == ".xls":
        raise _err("gamla .xls stöds inte; spara som .xlsx eller CSV", "old .xls is not supported; save as .xlsx or CSV", path)
    if sheet is not None:
        raise _err("--sheet gäller bara Excel-filer", "--sheet applies to Excel files only", path)
    return [read_csv_text(p, table=table, mapping=mapping)]
