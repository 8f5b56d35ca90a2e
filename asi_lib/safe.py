"""Values from data made inert in every output: HTML, Markdown, plots, Excel, CSV, file names.

Every municipality, unit, intervention label, comment, sheet or file name
comes from a case-system export and is treated as hostile. The output
modules call these few functions where such a value meets an output format,
so the rule lives in one place (``docs/security.md``):

=====================  =====================================================
:func:`html_text`      text inside HTML (elements and quoted attributes)
:func:`markdown_text`  text inside Markdown that is rendered to HTML
:func:`mpl_text`       text in a matplotlib/seaborn title, label or legend
:func:`excel_value`    one cell's text without characters Excel refuses
:func:`excel_frame`    :func:`excel_value` on a frame before ``to_excel``
:func:`excel_cells`    :func:`excel_value` on every cell of an array, one search
:func:`excel_workbook` a workbook after writing: no cell is a formula
:func:`csv_value`      one CSV field: no field starts a formula
:func:`csv_frame`      :func:`csv_value` on every text cell of a frame
:func:`sheet_name`     a valid, unique Excel sheet name
:func:`file_stem`      a safe, unique and stable file name for a name
=====================  =====================================================
"""
from __future__ import annotations

import hashlib
import html
import re
import unicodedata
from itertools import repeat

import numpy as np
import pandas as pd

__all__ = ["html_text", "markdown_text", "mpl_text", "excel_value", "excel_frame", "excel_cells", "excel_workbook",
           "csv_value",
           "csv_frame", "sheet_name", "file_stem", "FORMULA_START"]

#: First characters that make a spreadsheet read a field as a formula (OWASP CSV injection,
#: ASVS 1.2.10), with their full-width forms.
FORMULA_START = "=+-@\t\r\n\0＝＋－＠"
_NUMBER = re.compile(r"[+-]?(\d+([.,]\d*)?|[.,]\d+)([eE][+-]?\d+)?")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")  # C0, DEL, C1, line separators
_MD_ENTITY = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#x27;"}
_MD_SPECIAL = re.compile(r"[!-/:-@\[-`{-~]")  # every ASCII punctuation character
_EXCEL_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")  # what openpyxl refuses
_SHEET_BAD = re.compile(r"[\[\]:*?/\\\x00-\x1f]")
SHEET_MAX = 31


def html_text(value) -> str:
    """``value`` as text for HTML: ``& < > " '`` as entities.

    Safe inside elements and inside quoted attribute values.

    Parameters
    ----------
    value : object
        Converted with ``str``; ``None`` gives ``""``.

    Returns
    -------
    str

    Examples
    --------
    >>> html_text('<img src=x onerror="alert(1)">')
    '&lt;img src=x onerror=&quot;alert(1)&quot;&gt;'
    """
    return "" if value is None else html.escape(str(value), quote=True)


def markdown_text(value) -> str:
    """``value`` as literal text in Markdown that is rendered to HTML.

    HTML's special characters become entities and every other ASCII
    punctuation character is backslash-escaped (CommonMark allows it for all
    of them), so no link, image, emphasis, heading, raw HTML or math
    (``$...$``) can start from the value; line breaks and other control
    characters become spaces (no new block).

    Parameters
    ----------
    value : object
        Converted with ``str``; ``None`` gives ``""``.

    Returns
    -------
    str

    Examples
    --------
    >>> markdown_text("[x](javascript:alert(1)) <b>")
    '\\\\[x\\\\]\\\\(javascript\\\\:alert\\\\(1\\\\)\\\\) &lt;b&gt;'
    >>> markdown_text("Håbo")
    'Håbo'
    """
    if value is None:
        return ""
    text = _CONTROL.sub(" ", str(value))
    return _MD_SPECIAL.sub(lambda m: _MD_ENTITY.get(m.group(0)) or "\\" + m.group(0), text)


def mpl_text(value) -> str:
    """``value`` as literal text for matplotlib (titles, tick labels, legends).

    Matplotlib reads text between two ``$`` as mathtext; a name like
    ``$\\frac{}{}$`` then breaks the figure (``ValueError``) or draws
    something else. Each ``$`` is escaped as ``\\$``, which matplotlib shows
    as a plain dollar sign.

    Parameters
    ----------
    value : object
        Converted with ``str``; ``None`` gives ``""``.

    Returns
    -------
    str

    References
    ----------
    Matplotlib, "Writing mathematical expressions" (an even number of
    unescaped ``$`` switches to mathtext; ``\\$`` is a literal dollar sign).

    Examples
    --------
    >>> mpl_text("$\\\\frac{}{}$")
    '\\\\$\\\\frac{}{}\\\\$'
    """
    return "" if value is None else str(value).replace("$", "\\$")


_FORMULA_RE = r"^ *[=+\-@\t\r\n\x00＝＋－＠]"  # the characters of FORMULA_START


def _starts_formula(s: pd.Series) -> pd.Series:
    """True where a text cell would start a formula (numbers such as ``-1,5`` excepted)."""
    t = s.astype("string")
    hit = t.str.contains(_FORMULA_RE, regex=True).fillna(False).to_numpy(dtype=bool).copy()
    if hit.any():
        hit[hit] = ~t[hit].str.strip().str.fullmatch(_NUMBER.pattern).fillna(False).to_numpy(dtype=bool)
    return pd.Series(hit, index=s.index)


def csv_value(value):
    """One CSV field that no spreadsheet reads as a formula.

    Text whose first character (after spaces) is one of
    :data:`FORMULA_START` gets a leading ``'`` (OWASP "CSV injection");
    numbers, and text that is a plain number such as ``-1,5``, are left
    alone.

    Parameters
    ----------
    value : object

    Returns
    -------
    object
        ``value``, or ``"'" + value`` for text that would start a formula.

    References
    ----------
    OWASP, "CSV Injection" (prefix fields starting with ``= + - @``, tab or
    CR with a single quote); OWASP ASVS 5.0 requirement 1.2.10 (also NUL).

    Examples
    --------
    >>> csv_value('=HYPERLINK("http://x")'), csv_value("-5"), csv_value(-5), csv_value("@SUM(A1)")
    ('\\'=HYPERLINK("http://x")', '-5', -5, "'@SUM(A1)")
    """
    if not isinstance(value, str):
        return value
    return "'" + value if bool(_starts_formula(pd.Series([value])).iloc[0]) else value


def csv_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` with :func:`csv_value` applied to every text cell and column name.

    Numeric columns are not touched (negative numbers stay numbers).

    Parameters
    ----------
    frame : pandas.DataFrame

    Returns
    -------
    pandas.DataFrame
        A shallow copy; only the text columns with a hit are replaced.

    Examples
    --------
    >>> csv_frame(pd.DataFrame({"kommun": ["=1+1", "Håbo"], "x": [-1, 2]})).values.tolist()
    [["'=1+1", -1], ['Håbo', 2]]
    """
    out = frame.copy(deep=False)
    for col in out.columns:
        s = out[col]
        if s.dtype == object or isinstance(s.dtype, (pd.StringDtype, pd.CategoricalDtype)):
            hit = _starts_formula(s).to_numpy()
            if hit.any():
                s = s.astype(object).copy()
                s[hit] = "'" + s[hit].astype(str)
                out[col] = s
    out.columns = [csv_value(c) for c in out.columns]
    return out


def excel_value(value):
    """``value`` for an Excel cell: text without the control characters Excel cannot store.

    openpyxl refuses them (``IllegalCharacterError``); each becomes ``"\\ufffd"``.
    Non-text values are returned unchanged. Formulas are handled after
    writing, by :func:`excel_workbook`.

    Examples
    --------
    >>> excel_value("Håbo\\x07"), excel_value(-3)
    ('Håbo\\ufffd', -3)
    """
    return _EXCEL_ILLEGAL.sub("\ufffd", value) if isinstance(value, str) else value


def excel_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text has no character Excel cannot store.

    openpyxl refuses control characters (``IllegalCharacterError``); they are
    replaced by ``"\\ufffd"``. Formulas are handled after writing, by
    :func:`excel_workbook`.

    Parameters
    ----------
    frame : pandas.DataFrame

    Returns
    -------
    pandas.DataFrame
        A shallow copy; column names are cleaned too.

    Examples
    --------
    >>> excel_frame(pd.DataFrame({"a": ["x\\x01y"]}))["a"].tolist()
    ['x\\ufffdy']
    """
    out = frame.copy(deep=False)
    for col in out.columns:
        s = out[col]
        if s.dtype == object or isinstance(s.dtype, (pd.StringDtype, pd.CategoricalDtype)):
            hit = s.astype("string").str.contains(_EXCEL_ILLEGAL.pattern, regex=True).fillna(False).to_numpy(bool)
            if hit.any():
                s = s.astype(object).copy()
                s[hit] = s[hit].astype(str).str.replace(_EXCEL_ILLEGAL.pattern, "\ufffd", regex=True)
                out[col] = s
    out.columns = [excel_value(c) for c in out.columns]
    return out


def excel_cells(cells: np.ndarray) -> np.ndarray:
    """:func:`excel_value` on every cell of an array: text without the characters Excel cannot store.

    The same rule as :func:`excel_frame`, for the cells of a table about to
    be written cell by cell: one regex search over the text of all cells
    first, so a clean table (nearly always) costs one pass; only when it
    finds a control character are the text cells replaced.

    Parameters
    ----------
    cells : numpy.ndarray
        Any shape, object dtype (text, numbers, ``None``).

    Returns
    -------
    numpy.ndarray
        ``cells`` itself when no text cell holds such a character, else a
        copy in which each of them is ``"\\ufffd"``; other cells unchanged.

    Examples
    --------
    >>> excel_cells(np.array([["x\\x01y", 3], ["ok", None]], dtype=object)).tolist()
    [['x\\ufffdy', 3], ['ok', None]]
    """
    if not _EXCEL_ILLEGAL.search("\n".join(map(str, np.asarray(cells, dtype=object).reshape(-1)))):
        return cells
    flat = np.array(cells, dtype=object).reshape(-1)  # a copy, in reading order whatever the layout
    text = np.flatnonzero(np.fromiter(map(isinstance, flat, repeat(str)), bool, flat.size))
    flat[text] = np.array(list(map(_EXCEL_ILLEGAL.sub, repeat("\ufffd"), flat[text])), dtype=object)
    return flat.reshape(np.shape(cells))


def excel_workbook(book) -> int:
    """Turn every formula cell of an openpyxl workbook (or worksheet) into text.

    openpyxl writes any string that starts with ``=`` as a formula; the kit
    never writes formulas, so every such cell came from data. It becomes a
    text cell with Excel's "quote prefix" (shown and kept as text even when
    edited). Call it on the finished workbook, before saving.

    Parameters
    ----------
    book : openpyxl.Workbook or worksheet

    Returns
    -------
    int
        Cells changed.

    Examples
    --------
    >>> import openpyxl
    >>> wb = openpyxl.Workbook()
    >>> wb.active["A1"] = '=HYPERLINK("http://x")'
    >>> excel_workbook(wb), wb.active["A1"].data_type, wb.active["A1"].value
    (1, 's', '=HYPERLINK("http://x")')
    """
    sheets = book.worksheets if hasattr(book, "worksheets") else [book]
    changed = 0
    for ws in sheets:
        for row in ws.iter_rows():
            for cell in row:
                if cell.data_type == "f":
                    cell.data_type = "s"
                    cell.quotePrefix = True
                    changed += 1
    return changed


def sheet_name(title, taken=()) -> str:
    """A valid Excel sheet name for ``title``, different from the names in ``taken``.

    Characters Excel refuses (``[ ] : * ? / \\``, control characters) become
    ``_``, a leading or trailing ``'`` is dropped, the name is cut to 31
    characters, ``History`` (reserved) is avoided, and a clash with
    ``taken`` (compared case-insensitively, as Excel does) gets `` (2)``,
    `` (3)``, ...

    Parameters
    ----------
    title : object
        Converted with ``str``.
    taken : iterable of str
        Sheet names already in the workbook.

    Returns
    -------
    str

    Examples
    --------
    >>> sheet_name("Per kön: 2024/25"), sheet_name("A" * 40, taken=["A" * 31])
    ('Per kön_ 2024_25', 'AAAAAAAAAAAAAAAAAAAAAAAAAAA (2)')
    """
    name = _SHEET_BAD.sub("_", str(title)).strip("'").strip() or "Blad"
    used = {str(t).lower() for t in taken}
    base = name[:SHEET_MAX]
    candidate, i = base, 1
    while candidate.lower() in used or candidate.lower() == "history":
        i += 1
        suffix = f" ({i})"
        candidate = base[:SHEET_MAX - len(suffix)] + suffix
    return candidate


def file_stem(name, prefix: str = "kommun", *, max_slug: int = 40) -> str:
    """A file name stem for ``name``: ``<prefix>_<ascii slug>_<8 hex of SHA-256 of the exact name>``.

    The slug makes the file recognisable; the hash of the exact name
    (UTF-8) makes it unique ("Håbo" and "Habo" share the slug ``habo`` but
    not the hash) and stable (it depends on the name only, not on which
    other names exist). Only ``a-z``, ``0-9``, ``_`` and ``-`` remain, so
    ``/``, ``..``, NUL, very long names and reserved Windows names (``CON``,
    ``NUL``: always behind the prefix) cannot escape or break the folder.

    Parameters
    ----------
    name : object
        Converted with ``str``.
    prefix : str, default "kommun"
    max_slug : int, default 40
        The slug is cut to this many characters.

    Returns
    -------
    str

    Notes
    -----
    Two names get the same stem only if the first 32 bits of their SHA-256
    agree (for 300 names the chance is about 1 in 10^5); callers writing many
    files check that the stems differ.

    Examples
    --------
    >>> file_stem("Håbo"), file_stem("Habo")
    ('kommun_habo_f0bac974', 'kommun_habo_e04c3a31')
    >>> file_stem("../../etc/passwd")
    'kommun_etc_passwd_3754d6cb'
    """
    text = str(name)
    ascii_ = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9-]+", "_", ascii_.lower()).strip("_-")[:max_slug].strip("_-") or "x"
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{prefix}_{slug}_{digest}"
