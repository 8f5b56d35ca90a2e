"""Reading export files: CSV (any common Swedish dialect) and Excel workbooks.

Everything is read as text; typing is :mod:`asi_lib.validate`'s job. Row
numbers are the ones the user sees: the CSV line number (header = line 1)
or the Excel row number (header = row 1), kept as the frame's index.
"""
from __future__ import annotations

import csv
import datetime as _dt
import io as _io
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from .codebook import TABLES, load_codebook
from .errors import AsiInputError

IGNORED_SHEETS = {"kodbok", "codebook", "koder", "instruktioner", "readme", "instructions"}
ENCODINGS = ("utf-8-sig", "cp1252")  # tried in this order, see :func:`decode_export`


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
    read_problems : pandas.DataFrame
        Damage found while reading, one record per (row, column): index =
        row number, columns ``column``, ``rule`` (``short_row``,
        ``truncated``, ``formula_without_value``), ``detail_sv`` and
        ``detail_en``. :func:`asi_lib.validate.validate_frame` turns them into
        errors, so the rows are quarantined instead of stored with empty or
        cut values.

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
    read_problems: pd.DataFrame = field(default_factory=lambda: empty_read_problems())

    @property
    def frame(self) -> pd.DataFrame:  # alias
        return self.data

    @property
    def where(self) -> str:
        return f"{self.file} [{self.sheet}]" if self.sheet else self.file

    def with_data(self, data: pd.DataFrame, **kw) -> "RawTable":
        return replace(self, data=data, **kw)


READ_PROBLEM_COLUMNS = ["column", "rule", "detail_sv", "detail_en"]


def empty_read_problems() -> pd.DataFrame:
    """No read problems (see :attr:`RawTable.read_problems`).

    Returns
    -------
    pandas.DataFrame
        Empty, index named ``row``, columns :data:`READ_PROBLEM_COLUMNS`.

    Examples
    --------
    >>> list(empty_read_problems().columns), len(empty_read_problems())
    (['column', 'rule', 'detail_sv', 'detail_en'], 0)
    """
    return pd.DataFrame({c: pd.Series([], dtype=object) for c in READ_PROBLEM_COLUMNS},
                        index=pd.Index([], dtype="int64", name="row"))


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


def _check_mapping_headers(header, names, table: str, mapping, file, sheet=None) -> None:
    """A mapped header for a column of this table that the file lacks is a misspelling: refuse, naming the closest.

    Keys for columns of other tables (a mapping shared by several exports)
    and keys whose codebook column the file already has under another header
    are not checked.
    """
    import difflib

    def key(h):
        return " ".join(str(h).split()).casefold().lstrip("\ufeff")

    written = [str(h).strip() for h in header if h is not None and str(h).strip()]
    present = {key(h) for h in written}
    own = set(load_codebook().column_names(table))
    missing = [k for k, target in mapping.columns.items()
               if target in own and k not in present and target not in set(names)]
    if not missing:
        return
    by_key = {key(h): h for h in written}
    parts_sv, parts_en = [], []
    for k in missing:
        name = getattr(mapping, "written", {}).get(k, k)
        close = difflib.get_close_matches(k, list(by_key), n=1, cutoff=0.6)
        hint_sv = f"; närmast i filen: '{by_key[close[0]]}'" if close else "; ingen liknande rubrik i filen"
        hint_en = f"; closest in the file: '{by_key[close[0]]}'" if close else "; no similar header in the file"
        parts_sv.append(f"'{name}' ({mapping.columns[k]}){hint_sv}")
        parts_en.append(f"'{name}' ({mapping.columns[k]}){hint_en}")
    raise _err("mappningens rubrik finns inte i filen: " + " | ".join(parts_sv)
               + ". Rätta stavningen i mappningsfilen (eller ta bort raden om kolumnen inte exporteras)",
               "mapped header not in the file: " + " | ".join(parts_en)
               + ". Fix the spelling in the mapping file (or remove the line if the column is not exported)",
               file, sheet)


def _finish(df: pd.DataFrame, header, *, table, file, sheet, mapping, first_row: int, damage=None, **kw) -> RawTable:
    names, orig = _rename_header(list(header), mapping, file, sheet)
    df.columns = names
    keep = [c for c in names if c != ""]
    df = df[keep]
    df.index = pd.RangeIndex(first_row, first_row + len(df), name="row")
    # drop completely empty rows (trailing blank lines, empty Excel rows)
    if len(df.columns):
        df = df.loc[(df != "").any(axis=1)]
    read_problems = empty_read_problems()
    if damage is not None and len(damage):
        # damage: positional (body position, column position, rule, sv, en) -> row numbers and names
        d = damage.copy()
        d.index = pd.Index(d.pop("pos").to_numpy() + first_row, name="row")
        d["column"] = [names[i] if 0 <= i < len(names) else "" for i in d.pop("col")]
        d = d[d.index.isin(df.index)]
        read_problems = d[READ_PROBLEM_COLUMNS]
    tab = table or (mapping.table if mapping is not None and getattr(mapping, "table", None) else None)
    if tab is None:
        tab = infer_table(df.columns, file=file, sheet=sheet)
    elif tab not in TABLES:
        raise _err(f"okänd tabell '{tab}'", f"unknown table '{tab}'", file, sheet)
    if mapping is not None:
        _check_mapping_headers(header, names, tab, mapping, file, sheet)
    _check_required(tab, df.columns, file, sheet)
    return RawTable(table=tab, file=str(file), sheet=sheet, data=df,
                    original_columns={k: v for k, v in orig.items() if k}, read_problems=read_problems, **kw)


# ---------------------------------------------------------------- CSV
# a well-formed UTF-8 sequence of two to four bytes (what a UTF-8 file has for å, ä, ö, é, –, ...)
_UTF8_MULTIBYTE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")


def _where_byte(raw: bytes, pos: int) -> tuple[int, int]:
    """(line, column) of byte ``pos``, both counted from 1 (column in bytes)."""
    line_start = raw.rfind(b"\n", 0, pos) + 1
    return raw.count(b"\n", 0, pos) + 1, pos - line_start + 1


def decode_export(raw: bytes, file="") -> tuple[str, str]:
    """Decode a CSV export: UTF-8 (with or without BOM), else cp1252, never a mix.

    Parameters
    ----------
    raw : bytes
        The file's content.
    file : str, optional
        Named in the error message.

    Returns
    -------
    text : str
    encoding : str
        ``"utf-8-sig"`` or ``"cp1252"``.

    Raises
    ------
    AsiInputError
        The file holds UTF-8 sequences (so it was written as UTF-8) but also
        bytes that are not UTF-8: a damaged or mixed file, refused as a whole
        with the line and byte of the first bad byte. Also a file that is
        neither UTF-8 nor cp1252 (bytes cp1252 leaves undefined).

    Notes
    -----
    A file is read as cp1252 only when it is not valid UTF-8 *and* holds no
    well-formed UTF-8 multibyte sequence at all: an export written by one
    program in one encoding. Re-reading a mostly-UTF-8 file as cp1252 would
    store "Ã„lvstad" beside "Älvstad" (and change local-number pseudonyms).

    Examples
    --------
    >>> decode_export("Älvstad".encode("utf-8")), decode_export("Älvstad".encode("cp1252"))
    (('Älvstad', 'utf-8-sig'), ('Älvstad', 'cp1252'))
    >>> decode_export("Älvstad;".encode("utf-8") + "Å".encode("cp1252"))
    Traceback (most recent call last):
    ...
    asi_lib.errors.AsiInputError: filen är inte giltig UTF-8: rad 1, byte 10 (0xC5); ...
    """
    try:
        return raw.decode("utf-8-sig"), "utf-8-sig"
    except UnicodeDecodeError as exc:
        bad = exc.start + (3 if raw.startswith(b"\xef\xbb\xbf") else 0)
    line, col = _where_byte(raw, bad)
    byte = f"0x{raw[bad]:02X}"
    if _UTF8_MULTIBYTE.search(raw):
        raise _err(f"filen är inte giltig UTF-8: rad {line}, byte {col} ({byte}); resten av filen är UTF-8, så filen "
                   "är skadad eller blandar teckenkodningar. Spara om den som UTF-8 (Excel: 'CSV UTF-8') och läs in igen",
                   f"file is not valid UTF-8: line {line}, byte {col} ({byte}); the rest of the file is UTF-8, so it is "
                   "damaged or mixes encodings. Save it again as UTF-8 (Excel: 'CSV UTF-8') and re-ingest", file)
    try:
        return raw.decode("cp1252"), "cp1252"
    except UnicodeDecodeError as exc:
        line, col = _where_byte(raw, exc.start)
        raise _err(f"filen är varken UTF-8 eller cp1252: rad {line}, byte {col} (0x{raw[exc.start]:02X})",
                   f"file is neither UTF-8 nor cp1252: line {line}, byte {col} (0x{raw[exc.start]:02X})", file) from None


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
    text, enc = decode_export(raw, path)
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
    damage = _csv_damage(text, delim, header, len(body))
    return _finish(body, header, table=table, file=path, sheet=None, mapping=mapping, first_row=2,
                   encoding=enc, delimiter=delim, damage=damage)


def _field_counts(text: str, delim: str) -> np.ndarray:
    """Number of fields of every CSV record (a blank line counts 0 or 1).

    Without any double quote a record is a line and its fields are the
    delimiters + 1 (``str.count`` per line: measured 3-5 times faster than
    the csv module, and faster than pandas/numpy string counting, on a
    20,000-row export); otherwise the csv module splits the records with the
    same quoting rules as the reader.
    """
    if '"' not in text:
        lines = text.split("\n")  # not splitlines(): U+2028, NEL, ... inside a cell are no record ends for pandas
        if lines and lines[-1].strip("\r") == "":
            lines = lines[:-1]
        return np.fromiter((ln.count(delim) + 1 for ln in lines), dtype=np.int64)
    return np.fromiter((len(r) for r in csv.reader(_io.StringIO(text), delimiter=delim)), dtype=np.int64)


def _csv_damage(text: str, delim: str, header, n_body: int) -> pd.DataFrame | None:
    """Short rows and a cut last row, positionally (body position, column position).

    pandas fills missing trailing fields with empty strings, so the field
    count of every record is taken from the csv module (same quoting rules).
    """
    counts = _field_counts(text, delim)
    width = len(header)
    while width and str(header[width - 1]).strip() == "":  # trailing empty header cells name nothing
        width -= 1
    parts = []
    if len(counts) == n_body + 1:  # the csv module and pandas agree on the records
        body = counts[1:]
        pos = np.flatnonzero((body > 1) & (body < width))  # 0 or 1 field: a blank line, dropped anyway
        if len(pos):
            parts.append(pd.DataFrame({
                "pos": pos, "col": body[pos], "rule": "short_row",
                "detail_sv": [f" (raden har {k} fält, rubrikraden {width}; resten av raden saknas)" for k in body[pos]],
                "detail_en": [f" (the row has {k} fields, the header {width}; the rest of the row is missing)"
                              for k in body[pos]]}))
    stripped = text.rstrip(" \t")
    if n_body and stripped and stripped[-1] not in "\r\n":
        # the last record has no line break: an export program ends every record with one, so the file
        # was probably cut (a value such as 21200 would be read as 212)
        last = n_body - 1
        parts.append(pd.DataFrame({
            "pos": [last], "col": [max(int(counts[-1]) - 1, 0) if len(counts) else 0], "rule": "truncated",
            "detail_sv": [" (ingen radbrytning efter sista raden: filen kan vara avkortad mitt i ett värde; "
                          "kontrollera raden mot källan och avsluta filen med en radbrytning)"],
            "detail_en": [" (no line break after the last row: the file may be cut in the middle of a value; "
                          "check the row against the source and end the file with a line break)"]}))
    return pd.concat(parts, ignore_index=True) if parts else None


# ---------------------------------------------------------------- CSV in chunks
DEFAULT_CHUNK_ROWS = 100_000   # rows per chunk of a streamed CSV (see :func:`open_csv`)
try:
    import pyarrow as _pa
    import pyarrow.csv  # noqa: F401 - the streaming CSV reader
    _HAVE_ARROW_CSV = True
    _ARROW_ERRORS = (_pa.ArrowInvalid, _pa.ArrowException)
except ImportError:  # pragma: no cover - pyarrow is a pandas 3 string backend here, but never required
    _HAVE_ARROW_CSV = False
    _ARROW_ERRORS = (ValueError,)
_BLOCK_CHARS = 1 << 22          # characters per block of the scanning pass


def _resolve_header(header, *, table, file, sheet, mapping) -> tuple[str, list, dict]:
    """Table, column names and original headers of a header row: the checks of :func:`_finish`, same order."""
    names, orig = _rename_header(list(header), mapping, file, sheet)
    keep = [c for c in names if c != ""]
    tab = table or (mapping.table if mapping is not None and getattr(mapping, "table", None) else None)
    if tab is None:
        tab = infer_table(keep, file=file, sheet=sheet)
    elif tab not in TABLES:
        raise _err(f"okänd tabell '{tab}'", f"unknown table '{tab}'", file, sheet)
    if mapping is not None:
        _check_mapping_headers(header, names, tab, mapping, file, sheet)
    _check_required(tab, keep, file, sheet)
    return tab, names, {k: v for k, v in orig.items() if k}


def _parse_error(exc, path) -> AsiInputError:
    return _err(f"CSV-filen kan inte tolkas ({str(exc).splitlines()[0]})",
                f"cannot parse CSV ({str(exc).splitlines()[0]})", path)


@dataclass
class CsvSource:
    """A CSV export checked as a whole but read in chunks (see :func:`open_csv`).

    Attributes
    ----------
    table : str
        Codebook table (forced or inferred from the header).
    file : str
    names : list of str
        Column names after renaming, one per header cell ("" for a cell that names nothing).
    original_columns : dict
    encoding, delimiter : str
    counts : numpy.ndarray or None
        Fields of every CSV record (header = record 0), for short rows; None
        when the counting reader and pandas cannot agree (no short rows are
        reported then, as for a whole file).
    truncated : bool
        The file does not end with a line break (its last record may be cut).
    """

    table: str
    file: str
    names: list
    original_columns: dict
    encoding: str
    delimiter: str
    counts: np.ndarray | None
    truncated: bool
    width: int
    arrow: bool = False  # read with pyarrow's CSV reader (see :meth:`chunks`)

    def chunks(self, chunk_rows: int = DEFAULT_CHUNK_ROWS):
        """The file's rows as :class:`RawTable` s of at most ``chunk_rows`` records each (the header counts in the first).

        Index = the row number of the whole file (header = 1), so messages name
        the file's real rows; read problems (short rows, a cut last row) as in
        :func:`read_csv_text`. Always yields at least one (possibly empty) chunk.

        A plain file (``arrow``: UTF-8, every record exactly as wide as the
        header, no lone carriage return) is parsed by pyarrow's streaming CSV
        reader, straight into Arrow strings; any other file, and the rest of
        a plain one that pyarrow refuses, by pandas. Chunk boundaries are the
        same either way (records ``k * chunk_rows`` ...).

        Raises
        ------
        AsiInputError
            pandas cannot parse a record (raised when the reader reaches it).
        """
        chunk_rows = max(int(chunk_rows), 1)
        done = 0
        if self.arrow:
            try:
                for raw in self._arrow_chunks(chunk_rows):
                    yield raw
                    done += 1
                return
            except _ARROW_ERRORS:  # pyarrow refuses what pandas may read: pandas reads the chunks not yet yielded
                pass
        yield from self._pandas_chunks(chunk_rows, skip=done)

    def _pandas_chunks(self, chunk_rows: int, skip: int = 0):
        try:
            reader = pd.read_csv(self.file, encoding=self.encoding, sep=self.delimiter, dtype=str,
                                 keep_default_na=False, na_filter=False, header=None, skip_blank_lines=False,
                                 quoting=csv.QUOTE_MINIMAL, chunksize=chunk_rows)
            it = iter(reader)
            prev = next(it, None)
            if prev is None:  # pragma: no cover - the scan found a header
                prev = pd.DataFrame(columns=range(len(self.names)))
            prev = prev.iloc[1:]  # record 0 is the header
            k = 0
            for cur in it:
                if k >= skip:
                    yield self._chunk(prev, last=False)
                k += 1
                prev = cur
            yield self._chunk(prev, last=True)
        except (pd.errors.ParserError, csv.Error, ValueError) as exc:
            raise _parse_error(exc, self.file) from None
        except OSError as exc:
            raise _err(f"filen kan inte läsas ({exc.strerror or exc})", f"cannot read file ({exc.strerror or exc})",
                       self.file) from None

    def _arrow_chunks(self, chunk_rows: int):
        """:meth:`_pandas_chunks` with pyarrow's reader: pieces of exactly ``chunk_rows`` records (the last fewer)."""
        import pyarrow as pa
        import pyarrow.csv as pacsv
        n = int(self.counts[0])
        names = [f"c{i}" for i in range(n)]
        # one thread and 4 MB blocks: memory in flight is one block and the chunk being assembled (with threads,
        # blocks parsed ahead on other threads' heaps made the peak vary from run to run by ~300 MB)
        ro = pacsv.ReadOptions(column_names=names, block_size=1 << 22, use_threads=False)
        po = pacsv.ParseOptions(delimiter=self.delimiter, quote_char='"', double_quote=True, escape_char=False,
                                newlines_in_values=True, ignore_empty_lines=False)
        co = pacsv.ConvertOptions(column_types={c: pa.string() for c in names}, strings_can_be_null=False,
                                  quoted_strings_can_be_null=False)

        def pieces():
            buf, reader = None, pacsv.open_csv(self.file, read_options=ro, parse_options=po, convert_options=co)
            for batch in reader:
                t = pa.Table.from_batches([batch])
                buf = t if buf is None else pa.concat_tables([buf, t])
                while buf.num_rows >= chunk_rows:
                    yield buf.slice(0, chunk_rows)
                    buf = buf.slice(chunk_rows)
            if buf is not None and buf.num_rows:
                yield buf

        def frame(t, start):
            df = t.to_pandas()
            df.columns = range(n)
            df.index = pd.RangeIndex(start, start + len(df))
            return df.iloc[1:] if start == 0 else df

        it = pieces()
        prev, start = next(it, None), 0
        if prev is None:  # pragma: no cover - the scan found a header
            prev = pa.table({c: pa.array([], pa.string()) for c in names})
        for cur in it:
            yield self._chunk(frame(prev, start), last=False)
            start += prev.num_rows
            prev = cur
        if start + prev.num_rows != len(self.counts):  # pyarrow and the counting reader split the records differently
            raise _ARROW_ERRORS[0]("record count")
        yield self._chunk(frame(prev, start), last=True)

    def _chunk(self, body: pd.DataFrame, *, last: bool) -> RawTable:
        rec = np.asarray(body.index, dtype=np.int64)  # record number, header = 0
        df = body.fillna("")
        df.columns = self.names[:df.shape[1]] + [f"_extra{i}" for i in range(df.shape[1] - len(self.names))]
        df = df[[c for c in self.names if c != ""]]
        df.index = pd.Index(rec + 1, name="row")
        if len(df.columns):
            df = df.loc[(df != "").any(axis=1)]
        parts = []
        if self.counts is not None and len(rec):
            inside = rec[rec < len(self.counts)]
            k = self.counts[inside]
            hit = (k > 1) & (k < self.width)
            if hit.any():
                parts.append(pd.DataFrame({
                    "row": inside[hit] + 1, "col": k[hit], "rule": "short_row",
                    "detail_sv": [f" (raden har {n} fält, rubrikraden {self.width}; resten av raden saknas)"
                                  for n in k[hit]],
                    "detail_en": [f" (the row has {n} fields, the header {self.width}; the rest of the row is missing)"
                                  for n in k[hit]]}))
        if last and self.truncated and len(rec):
            c = self.counts
            parts.append(pd.DataFrame({
                "row": [int(rec[-1]) + 1], "col": [max(int(c[-1]) - 1, 0) if c is not None and len(c) else 0],
                "rule": "truncated",
                "detail_sv": [" (ingen radbrytning efter sista raden: filen kan vara avkortad mitt i ett värde; "
                              "kontrollera raden mot källan och avsluta filen med en radbrytning)"],
                "detail_en": [" (no line break after the last row: the file may be cut in the middle of a value; "
                              "check the row against the source and end the file with a line break)"]}))
        read_problems = empty_read_problems()
        if parts:
            d = pd.concat(parts, ignore_index=True)
            d.index = pd.Index(d.pop("row").to_numpy(), name="row")
            d["column"] = [self.names[i] if 0 <= i < len(self.names) else "" for i in d.pop("col")]
            read_problems = d[d.index.isin(df.index)][READ_PROBLEM_COLUMNS]
        return RawTable(table=self.table, file=self.file, sheet=None, data=df,
                        original_columns=dict(self.original_columns), encoding=self.encoding,
                        delimiter=self.delimiter, read_problems=read_problems)


def _scan_utf8(p: Path):
    """One streaming pass over a UTF-8 file: the checks :func:`read_csv_text` makes on the whole text.

    Returns None when the file is not valid UTF-8 (the caller then decodes it
    whole with :func:`decode_export`, which gives the exact message or cp1252).
    """
    import array
    counts = array.array("q")
    head, delim, carry = "", None, ""
    quoted = nonblank = nul = False
    n_cr = n_crlf = 0
    cr_end = False
    last = ""
    try:
        with open(p, encoding="utf-8-sig", newline="\n") as f:
            while True:
                block = f.read(_BLOCK_CHARS)
                if delim is None:
                    head += block
                    m = re.search(r"\S", head)
                    if block and not (m and "\n" in head[m.start():]):
                        continue
                    delim = sniff_delimiter(head)
                    block, head = head, ""
                if not block:
                    break
                nonblank = nonblank or bool(block.strip())
                n_cr += block.count("\r")
                n_crlf += block.count("\r\n") + (cr_end and block.startswith("\n"))
                cr_end = block.endswith("\r")
                nul = nul or "\x00" in block
                r = block.rstrip(" \t")
                if r:
                    last = r[-1]
                if not quoted and '"' in block:
                    quoted = True
                    counts = None
                if not quoted:
                    lines = (carry + block).split("\n")
                    carry = lines.pop()
                    counts.extend(ln.count(delim) + 1 for ln in lines)
    except UnicodeDecodeError:
        return None
    if not quoted and carry.strip("\r") != "":
        counts.append(carry.count(delim) + 1)
    return {"encoding": "utf-8-sig", "delimiter": delim or ",", "empty": not nonblank, "nul": nul,
            "truncated": bool(last) and last not in "\r\n", "quoted": quoted, "lone_cr": n_cr != n_crlf,
            "counts": None if quoted else np.frombuffer(counts, dtype=np.int64).copy()}


def _field_counts_file(p: Path, encoding: str, delim: str):
    """:func:`_field_counts` for a file with double quotes, streamed (the csv module over the open file)."""
    try:
        with open(p, encoding=encoding, newline="\n") as f:  # lines as io.StringIO splits them
            return np.fromiter((len(r) for r in csv.reader(f, delimiter=delim)), dtype=np.int64)
    except csv.Error:  # the csv module cannot split it: no short rows, as when it disagrees with pandas
        return None


def open_csv(path, *, table=None, mapping=None) -> CsvSource:
    """Check a CSV export as :func:`read_csv_text` does, without holding its rows: read it later in chunks.

    Parameters
    ----------
    path : str or Path
    table : str, optional
        Force the codebook table; otherwise inferred from the header.
    mapping : asi_lib.mapping.Mapping, optional

    Returns
    -------
    CsvSource
        ``.chunks(n)`` yields :class:`RawTable` s of at most ``n`` records
        with the file's real row numbers.

    Raises
    ------
    AsiInputError
        As :func:`read_csv_text` for the encoding, an empty or binary file
        and the header; a record pandas cannot parse is refused when
        ``chunks`` reaches it.

    Notes
    -----
    Memory: one streaming pass decodes the file in blocks of 2**22
    characters (UTF-8 check, delimiter, empty/NUL, the last character, the
    field count of every record: 8 bytes per record); pandas then parses
    ``n`` records at a time. A file that is not valid UTF-8 is decoded whole
    once (:func:`decode_export`: the exact message, or cp1252) and then read
    in chunks the same way.

    Examples
    --------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "g.csv")
    >>> _ = open(p, "w", encoding="utf-8").write(
    ...     "client_id;municipality;unit;interview_date;sex;main_substance\\n"
    ...     "A1;Ale;Öst;2024-03-01;female;alcohol\\n\\nA2;Ale;Öst;2024-04-01;male\\nA3;Ale;Öst;2024-05-01;male;alcohol\\n")
    >>> src = open_csv(p)
    >>> [c.data.index.tolist() for c in src.chunks(2)]  # records 1-2 (header, row 2), 3-4 (blank, row 4), 5
    [[2], [4], [5]]
    >>> [c.read_problems["rule"].tolist() for c in src.chunks(2)]
    [[], ['short_row'], []]
    """
    p = Path(path)
    try:
        scan = _scan_utf8(p)
        if scan is None:
            raw = p.read_bytes()
        elif scan["quoted"] and not scan["empty"] and not scan["nul"]:
            scan["counts"] = _field_counts_file(p, scan["encoding"], scan["delimiter"])
    except OSError as exc:
        raise _err(f"filen kan inte läsas ({exc.strerror or exc})", f"cannot read file ({exc.strerror or exc})", path) from None
    if scan is None:  # not UTF-8: decoded whole once (the exact message, or cp1252)
        text, enc = decode_export(raw, path)
        del raw
        if not text.strip():
            raise _err("filen är tom", "file is empty", path)
        if "\x00" in text:
            raise _err("filen ser inte ut som text (CSV)", "file does not look like text (CSV)", path)
        delim = sniff_delimiter(text)
        try:
            counts = _field_counts(text, delim)
        except csv.Error:  # the csv module and pandas disagree: no short rows, as for a whole file that parses
            counts = None
        stripped = text.rstrip(" \t")
        truncated = bool(stripped) and stripped[-1] not in "\r\n"
        del text, stripped
    else:
        if scan["empty"]:
            raise _err("filen är tom", "file is empty", path)
        if scan["nul"]:
            raise _err("filen ser inte ut som text (CSV)", "file does not look like text (CSV)", path)
        enc, delim, counts, truncated = scan["encoding"], scan["delimiter"], scan["counts"], scan["truncated"]
    # pyarrow reads a plain file (UTF-8, every record as wide as the header, lines ended by \n or \r\n) into the
    # same cells as pandas, without making a Python string of every cell
    arrow = (scan is not None and not scan["lone_cr"] and counts is not None and len(counts) > 0
             and bool((counts == counts[0]).all()) and _HAVE_ARROW_CSV)
    try:
        first = pd.read_csv(p, encoding=enc, sep=delim, dtype=str, keep_default_na=False, na_filter=False,
                            header=None, skip_blank_lines=False, quoting=csv.QUOTE_MINIMAL, nrows=1)
    except (pd.errors.ParserError, csv.Error, ValueError) as exc:
        raise _parse_error(exc, path) from None
    header = first.iloc[0].tolist()
    tab, names, orig = _resolve_header(header, table=table, file=path, sheet=None, mapping=mapping)
    width = len(header)
    while width and str(header[width - 1]).strip() == "":
        width -= 1
    return CsvSource(table=tab, file=str(path), names=names, original_columns=orig, encoding=enc, delimiter=delim,
                     counts=counts, truncated=truncated, width=width, arrow=arrow)


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


def _sheets_with_formulas(path, wb) -> set:
    """Names of the sheets whose XML holds a formula element (``<f>``); cheap, no second parse."""
    import zipfile
    try:
        with zipfile.ZipFile(path) as z:
            names = [n for n in z.namelist() if n.startswith("xl/worksheets/") and n.endswith(".xml")]
            hit = {n for n in names if re.search(rb"<(?:\w+:)?f[ >/]", z.read(n))}
    except (OSError, zipfile.BadZipFile):  # pragma: no cover - openpyxl opened it
        return set(wb.sheetnames)
    if not hit:
        return set()
    # sheet order in the workbook = sheetN.xml order for files Excel and openpyxl write; be safe otherwise
    by_index = {f"xl/worksheets/sheet{i + 1}.xml": n for i, n in enumerate(wb.sheetnames)}
    if set(names) == set(by_index):
        return {by_index[n] for n in hit}
    return set(wb.sheetnames)


def _formulas_without_value(path, sheet: str, values: list, width: int) -> pd.DataFrame | None:
    """Cells that hold a formula but no cached value (a file saved by a program that does not calculate).

    ``values`` are the cached values (``data_only=True``) of the sheet's body;
    the formulas come from a second, formula-mode read of the same sheet.
    """
    import openpyxl
    wb = openpyxl.load_workbook(path, read_only=True, data_only=False)
    try:
        rows = wb[sheet].iter_rows(min_row=2, values_only=True)
        formulas = [list(r[:width]) + [None] * max(0, width - len(r)) for r in rows]
    finally:
        wb.close()
    n = min(len(formulas), len(values))
    if not n or not width:
        return None
    cached = np.array([[v is None for v in r] for r in values[:n]], dtype=bool).reshape(n, width)
    has_f = np.array([[isinstance(v, str) and v.startswith("=") or (v is not None and not isinstance(
        v, (str, int, float, bool, _dt.date, _dt.time, _dt.timedelta))) for v in r] for r in formulas[:n]],
        dtype=bool).reshape(n, width)
    pos, col = np.nonzero(cached & has_f)
    if not len(pos):
        return None
    return pd.DataFrame({
        "pos": pos, "col": col, "rule": "formula_without_value",
        "detail_sv": " (cellen har en formel men inget beräknat värde; öppna filen i Excel och spara den, "
                     "eller klistra in cellerna som värden)",
        "detail_en": " (the cell holds a formula but no calculated value; open the file in Excel and save it, "
                     "or paste the cells as values)"})


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
        with_formulas = _sheets_with_formulas(path, wb)
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
            raw_body = [list(r[:width]) + [None] * max(0, width - len(r)) for r in rows]
            body = [[_cell_text(v) for v in r] for r in raw_body]
            df = pd.DataFrame(body, columns=range(width), dtype=object).astype(str) if body else \
                pd.DataFrame({i: pd.Series([], dtype=str) for i in range(width)})
            damage = _formulas_without_value(path, name, raw_body, width) if name in with_formulas else None
            out.append(_finish(df, header, table=tab, file=path, sheet=name, mapping=mapping, first_row=2,
                               damage=damage))
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
