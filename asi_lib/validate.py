"""Typing and validation: raw text table in, typed frame and problem records out.

Pure functions: nothing here reads files or touches the store. Every rule has
a stable id (:data:`RULES`); each problem is one record with the columns of
:data:`PROBLEM_COLUMNS`. Identifier and free-text values, and anything that
looks like a personal identity number, are masked (``***``) in ``value``.

Severity ``error`` quarantines the row; ``warning`` does not.
Everything is vectorised per column (no loop over rows).
"""
from __future__ import annotations

import re

import numpy as np
import pandas as pd

from .codebook import N_CODE, X_CODE, load_codebook
from .pseudonym import PNR_IN_TEXT_RE, age_at, client_keys, mask_identifiers, parse_personal_numbers

PROBLEM_COLUMNS = ["file", "sheet", "row", "column", "value", "rule", "severity", "message_sv", "message_en"]
MASK = "***"

# rule id -> (severity, Swedish text, English text)
RULES: dict[str, tuple[str, str, str]] = {
    "required": ("error", "obligatoriskt värde saknas", "required value is empty"),
    "type_number": ("error", "inte ett tal", "not a number"),
    "integer_decimal": ("error", "decimaltal där ett heltal förväntas", "decimal number where an integer is expected"),
    "type_date": ("error", "inte ett datum (ÅÅÅÅ-MM-DD, ÅÅÅÅMMDD, ÅÅ-MM-DD, D/M/ÅÅÅÅ, D.M.ÅÅÅÅ eller Excel-datum)",
                  "not a date (YYYY-MM-DD, YYYYMMDD, YY-MM-DD, D/M/YYYY, D.M.YYYY or Excel date)"),
    "code": ("error", "okänd kod", "code not in the code list"),
    "range": ("error", "utanför tillåtet intervall", "out of range"),
    "xn_not_allowed": ("error", "X (ej svar) eller N (ej relevant) är inte tillåtet här",
                       "X (not answered) or N (not relevant) is not allowed here"),
    "text_too_long": ("error", "texten är för lång", "text too long"),
    "pnr_in_text": ("error", "texten ser ut att innehålla ett personnummer; ta bort det",
                    "the text seems to hold a personal identity number; remove it"),
    "id_checksum": ("error", "ser ut som ett person-/samordningsnummer men kontrollsiffran stämmer inte",
                    "looks like a personal/coordination number but the check digit is wrong"),
    "duplicate": ("error", "samma post (klient och datum) finns redan på rad", "same record (client and date) already on row"),
    "future_date": ("error", "datumet ligger efter", "date is after"),
    "date_too_early": ("error", "datumet ligger före", "date is before"),
    "short_row": ("error", "raden har färre fält än rubrikraden", "the row has fewer fields than the header"),
    "truncated": ("error", "sista raden kan vara avkortad", "the last row may be cut off"),
    "formula_without_value": ("error", "formel utan sparat värde (läses inte som tomt)",
                              "formula without a saved value (not read as empty)"),
    "under_18": ("error", "klienten är under 18 år (ASI gäller vuxna)", "client is under 18 (ASI is for adults)"),
    "age_birth_year": ("error", "ålder och födelseår skiljer mer än 1 år", "age and birth year differ by more than 1 year"),
    "followup_without_grund": ("error", "uppföljning utan grundintervju för klienten (lagret och denna inläsning)",
                               "follow-up without a baseline interview for the client (store and this batch)"),
    "followup_before_grund": ("error", "uppföljningen ligger inte efter klientens grundintervju",
                              "follow-up is not after the client's baseline interview"),
    "intox_gt_alcohol": ("error", "fler dagar med berusning än dagar med alkohol",
                         "more days of intoxication than days of alcohol use"),
    "end_before_start": ("error", "slutdatum före startdatum", "end date before start date"),
    "termination_reason_unexpected": ("error", "orsak angiven fast insatsen är genomförd (completed = 1)",
                                      "reason given although the intervention was completed (completed = 1)"),
    "termination_reason_missing": ("error", "orsak saknas för insats som inte genomförts (completed = 0)",
                                   "reason missing for an intervention not completed (completed = 0)"),
    "bortfall_reason_form": ("error", "orsaken hör inte till formuläret i kolumnen form",
                             "the reason does not belong to the form in column form"),
    "conflict_stored": ("error", "en annan version av posten finns redan i lagret (--accept-corrections ersätter den)",
                        "another version of the record is already stored (--accept-corrections replaces it)"),
    "mapping_value_skipped": ("warning", "en global värdemappning används inte i kolumnen, där stavningen redan är "
                              "en av kolumnens egna koder eller etiketter; kodbokens betydelse gäller",
                              "a global value mapping is not applied in this column, where the spelling already is "
                              "one of the column's own codes or labels; the codebook's meaning applies"),
    "unknown_column": ("warning", "kolumnen finns inte i kodboken och läses inte in",
                       "column is not in the codebook and is not read"),
    "money_rounded": ("warning", "beloppet avrundat till hela kronor", "amount rounded to whole kronor"),
    "rating_missing": ("warning", "intervjuarskattning saknas (posten faller bort ur statistik över skattningar)",
                       "interviewer rating missing (the record drops out of rating statistics)"),
}
RELEASABLE_RULES = frozenset({"followup_without_grund", "followup_before_grund"})
# errors that concern the value of one ASI item (or two items against each other), not the whole interview:
# under ``--item-errors=mark`` only these cells are invalidated and the interview is kept
ITEM_RULES = frozenset({"type_number", "integer_decimal", "range", "code", "xn_not_allowed", "intox_gt_alcohol",
                        "formula_without_value"})
# items invalidated together with the column a cross-item rule names
ITEM_RULE_PARTNERS = {"intox_gt_alcohol": ("alcohol_days",)}
ITEM_ERROR_POLICIES = ("quarantine", "mark")

_DASH_RE = r"^\s*(\S+)\s+[–—-]\s+\S"       # "code – label"
_DATE_PATTERNS = [
    (r"^([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})(?:[ T]00:00(?::00(?:\.0+)?)?)?$", "ymd"),
    (r"^([0-9]{4})/([0-9]{1,2})/([0-9]{1,2})$", "ymd"),
    (r"^([0-9]{4})([0-9]{2})([0-9]{2})$", "ymd"),
    (r"^([0-9]{2})-([0-9]{2})-([0-9]{2})$", "yymd"),
    (r"^([0-9]{1,2})/([0-9]{1,2})/([0-9]{4})$", "dmy"),
    (r"^([0-9]{1,2})\.([0-9]{1,2})\.([0-9]{4})$", "dmy"),
]
_EXCEL_SERIAL_RE = r"^([0-9]{5})(?:\.0+)?$"
_EXCEL_EPOCH = pd.Timestamp("1899-12-30")


def _norm(s: pd.Series) -> pd.Series:
    """Trim, collapse inner spaces, case-fold."""
    return s.str.split().str.join(" ").str.casefold()


# ---------------------------------------------------------------- parsers
def parse_dates(values: pd.Series, *, as_of=None) -> pd.Series:
    """Parse Swedish and ISO date spellings; NaT where empty or not a date.

    Accepted: ``YYYY-MM-DD`` (also ``YYYY/MM/DD`` and a midnight time),
    ``YYYYMMDD``, ``YY-MM-DD`` (20YY unless that is after ``as_of``'s year,
    then 19YY), ``D/M/YYYY``, ``D.M.YYYY`` (day first, Swedish order) and
    Excel serial day numbers (5 digits, days since 1899-12-30).

    Parameters
    ----------
    values : pandas.Series
        Dates as text (surrounding spaces ignored).
    as_of : date-like, optional
        Reference date for the century of ``YY-MM-DD`` (default today).

    Returns
    -------
    pandas.Series of datetime64[us]
        Same index; NaT where empty, not one of the spellings or not a real
        date (e.g. 2024-02-30).

    Examples
    --------
    >>> parse_dates(pd.Series(["2024-03-01", "20240301", "24-03-01", "1/3/2024", "1.3.2024", "45352", "2024-02-30", "x"]),
    ...             as_of="2025-01-01").dt.strftime("%Y-%m-%d").tolist()
    ['2024-03-01', '2024-03-01', '2024-03-01', '2024-03-01', '2024-03-01', '2024-03-01', nan, nan]
    """
    s = pd.Series(values, dtype="str").fillna("").str.strip()
    ref_year = pd.Timestamp(as_of).year if as_of is not None else pd.Timestamp.today().year
    y = pd.Series(np.nan, index=s.index)
    m, d = y.copy(), y.copy()
    for pattern, order in _DATE_PATTERNS:
        parts = s.str.extract(pattern)
        hit = parts[0].notna() & y.isna()
        if not hit.any():
            continue
        a, b, c = (pd.to_numeric(parts[i][hit]) for i in range(3))
        if order == "ymd":
            y[hit], m[hit], d[hit] = a, b, c
        elif order == "yymd":
            yy = 2000 + a
            y[hit], m[hit], d[hit] = yy.where(yy <= ref_year, yy - 100), b, c
        else:
            y[hit], m[hit], d[hit] = c, b, a
    out = pd.Series(pd.NaT, index=s.index, dtype="datetime64[us]")
    ok = y.notna()
    if ok.any():
        comp = pd.DataFrame({"year": y[ok], "month": m[ok], "day": d[ok]}).astype("int64")
        out[ok] = pd.to_datetime(comp, errors="coerce").astype("datetime64[us]")
    serial = pd.to_numeric(s.str.extract(_EXCEL_SERIAL_RE)[0], errors="coerce")
    hit = serial.notna() & ~ok
    if hit.any():
        out[hit] = (_EXCEL_EPOCH + pd.to_timedelta(serial[hit], unit="D")).astype("datetime64[us]")
    return out


def parse_integers(values: pd.Series, *, money: bool = False) -> pd.DataFrame:
    """Parse integers (and SEK amounts) written as text.

    Returns a frame with ``value`` (float, NaN where not parsed), and the
    masks ``not_number``, ``decimal`` (a decimal where an integer is
    expected) and ``rounded`` (money with öre, rounded to whole kronor).

    Parameters
    ----------
    values : pandas.Series
        Numbers as text (surrounding spaces ignored; X/N tokens must be
        handled before, they count as not a number here).
    money : bool, default False
        Parse as an SEK amount (see Notes).

    Returns
    -------
    pandas.DataFrame
        Index of ``values``; ``value`` (float64), ``not_number``, ``decimal``
        and ``rounded`` (bool). An empty cell is NaN with every mask False.

    Notes
    -----
    Money may carry spaces (also non-breaking) as thousands separators, a
    decimal comma or point, and a trailing ``kr``/``SEK``/``:-``:
    ``"1 200"`` → 1200, ``"1200,00"`` → 1200, ``"99,50 kr"`` → 100 (rounded
    half to even, with a warning). Other integers must be whole numbers.

    Examples
    --------
    >>> parse_integers(pd.Series(["12", "3,5", "abc", ""]))["value"].tolist()
    [12.0, nan, nan, nan]
    >>> parse_integers(pd.Series(["1 200", "1200,00", "2\\u00a0500 kr"]), money=True)["value"].tolist()
    [1200.0, 1200.0, 2500.0]
    """
    s = pd.Series(values, dtype="str").fillna("").str.strip()
    empty = s == ""
    if money:
        s = s.str.replace(r"(?i)\s*(kr|sek|:-)\.?$", "", regex=True).str.replace(r"[\s\u00a0\u202f]", "", regex=True)
        num_ok = s.str.fullmatch(r"[+-]?[0-9]+(?:[.,][0-9]+)?")
        val = pd.to_numeric(s.where(num_ok).str.replace(",", ".", regex=False), errors="coerce")
        rounded = num_ok & (val != np.round(val))
        dec = pd.Series(False, index=s.index)
        val = np.round(val)
    else:
        num_ok = s.str.fullmatch(r"[+-]?[0-9]+")
        dec = s.str.fullmatch(r"[+-]?[0-9]+[.,][0-9]+") & ~empty
        val = pd.to_numeric(s.where(num_ok), errors="coerce")
        rounded = pd.Series(False, index=s.index)
    return pd.DataFrame({"value": val.astype("float64"), "not_number": ~num_ok & ~dec & ~empty,
                         "decimal": dec.astype(bool), "rounded": rounded.fillna(False).astype(bool)}, index=s.index)


# ---------------------------------------------------------------- problem collector
class _Problems:
    def __init__(self, raw, cb, table):
        self.file, self.sheet, self.cb, self.table = str(raw.file), raw.sheet, cb, table
        self.parts: list[pd.DataFrame] = []

    def label(self, column):
        try:
            c = self.cb.column(self.table, column)
            return c.label_sv, c.label_en
        except Exception:
            return column, column

    def add(self, rule, mask, column, shown=None, detail_sv="", detail_en="", label_column=None):
        mask = mask.fillna(False).astype(bool) if hasattr(mask, "fillna") else mask
        idx = mask.index[mask.to_numpy()]
        if not len(idx):
            return
        n = len(idx)

        def pick(x):
            if isinstance(x, pd.Series):
                return x.reindex(idx).astype(str).to_numpy(dtype=object)
            return np.full(n, x, dtype=object)

        sev, sv, en = RULES[rule]
        lsv, len_ = self.label(label_column or column)
        self.parts.append(pd.DataFrame({
            "file": self.file, "sheet": self.sheet, "row": np.asarray(idx, dtype="int64"), "column": column,
            "value": pick(shown) if shown is not None else "", "rule": rule, "severity": sev,
            "message_sv": f"{lsv} ({column}): {sv}" + pd.Series(pick(detail_sv)),
            "message_en": f"{len_} ({column}): {en}" + pd.Series(pick(detail_en)),
        }))

    def add_header(self, rule, column, detail_sv="", detail_en=""):
        sev, sv, en = RULES[rule]
        self.parts.append(pd.DataFrame([{
            "file": self.file, "sheet": self.sheet, "row": 1, "column": column, "value": column, "rule": rule,
            "severity": sev, "message_sv": f"{column}: {sv}{detail_sv}", "message_en": f"{column}: {en}{detail_en}"}]))

    def frame(self, masked_columns) -> pd.DataFrame:
        if not self.parts:
            return empty_problems()
        df = pd.concat(self.parts, ignore_index=True).sort_values("row", kind="stable", ignore_index=True)
        return mask_values(df, masked_columns)


def empty_problems() -> pd.DataFrame:
    """An empty problem frame with the standard columns.

    Returns
    -------
    pandas.DataFrame
        No rows; columns :data:`PROBLEM_COLUMNS`, ``row`` int64, the others
        object.

    Examples
    --------
    >>> p = empty_problems()
    >>> len(p), list(p.columns) == PROBLEM_COLUMNS, str(p["row"].dtype)
    (0, True, 'int64')
    """
    return pd.DataFrame({c: pd.Series([], dtype="int64" if c == "row" else "object") for c in PROBLEM_COLUMNS})


def mask_values(problems: pd.DataFrame, masked_columns) -> pd.DataFrame:
    """Mask identifier/free-text values and anything shaped like a personal number.

    Parameters
    ----------
    problems : pandas.DataFrame
        Problem records with at least ``column`` and ``value``.
    masked_columns : iterable of str
        Columns whose values are always hidden (identifiers, free text).

    Returns
    -------
    pandas.DataFrame
        A copy with ``value`` as text: :data:`MASK` (``***``) where hidden,
        empty values kept empty, at most 60 characters.

    Examples
    --------
    >>> p = pd.DataFrame({"column": ["client_id", "alcohol_days", "unit"], "value": ["811218-9876", "40", "x 8112189876"]})
    >>> mask_values(p, {"client_id"})["value"].tolist()
    ['***', '40', '***']
    >>> mask_values(pd.DataFrame({"column": ["811218\u20139876"], "value": ["x"]}), ())["column"].tolist()
    ['***']
    """
    out = problems.copy()
    v = out["value"].astype(str).fillna("")
    hide = out["column"].isin(list(masked_columns)) | v.str.contains(PNR_IN_TEXT_RE, regex=True)
    out["value"] = v.where(~hide, MASK).where(v != "", "").str.slice(0, 60)
    # a header from the file (unknown_column) is named in column and messages: mask identifiers there too
    for c in ("column", "message_sv", "message_en"):
        if c in out.columns and len(out):
            out[c] = mask_identifiers(out[c].astype(str))
    return out


# ---------------------------------------------------------------- lookups
def _code_lookup(col, cb) -> tuple[dict, dict]:
    """casefolded code/label -> code; and (form|label) -> code for form-bound code lists."""
    lookup, seen, form_lookup = {}, {}, {}
    for code, info in (col.codes or {}).items():
        c = str(code)
        lookup[c.casefold()] = c
        for lab in (info.get("sv"), info.get("en")):
            if lab:
                k = " ".join(str(lab).split()).casefold()
                seen.setdefault(k, set()).add(c)
                if info.get("form"):
                    form_lookup[f"{info['form']}|{k}"] = c
    for k, codes in seen.items():
        if len(codes) == 1 and k not in lookup:
            lookup[k] = next(iter(codes))
    return lookup, form_lookup


def _token_lookup(cb) -> dict:
    out = {}
    for tok, info in cb.raw["missing_tokens"].items():
        out[tok.casefold()] = tok
        for lab in (info["label_sv"], info["label_en"]):
            out[" ".join(lab.split()).casefold()] = tok
    return out


# ---------------------------------------------------------------- the validator
def validate_frame(raw, *, as_of=None, codebook=None, context: dict | None = None):
    """Type a raw text table and check it against the codebook rules.

    Parameters
    ----------
    raw : asi_lib.io.RawTable
        Text table (after :func:`asi_lib.mapping.apply_mapping`). A frame
        holding ``client_pid`` instead of ``client_id`` (a quarantined row
        being re-checked) is accepted.
    as_of : date-like, optional
        Dates after it are errors (default today).
    codebook : Codebook, optional
    context : dict, optional
        ``client_key``: Series (index of ``raw.data``) identifying clients
        (ingest passes the pseudonyms; default: the un-hashed
        :func:`asi_lib.pseudonym.client_keys`);
        ``baselines``: DataFrame with ``client_key`` and ``interview_date``
        of the Grund interviews known (store + batch). Without it the
        follow-up rules are skipped;
        ``seen``: a dict shared by the chunks of one file (start empty); it
        keeps ``seen["first_parts"]`` (identity -> first row number, one part
        per chunk) so that a ``duplicate`` in a later chunk names the first
        row of the file, and the baselines' first dates (computed once).

    Returns
    -------
    typed : pandas.DataFrame
        One row per input row (index = row number as the user sees it),
        codebook columns in store dtypes (``client_id`` kept as string;
        X/N as -8/-9; invalid cells <NA>).
    problems : pandas.DataFrame
        Columns :data:`PROBLEM_COLUMNS`; rules in :data:`RULES`.

    Notes
    -----
    Cross-field rules: ``alcohol_intox_days <= alcohol_days``;
    ``end_date >= start_date``; ``termination_reason`` present iff
    ``completed == 0``; ``bortfall_reason`` of the record's ``form``;
    ``|(year(date) - birth_year) - age| <= 1``; age >= 18 from ``age``,
    else the personal number, else ``year(date) - birth_year < 18``.

    Examples
    --------
    >>> from asi_lib.io import RawTable
    >>> df = pd.DataFrame({"client_id": ["A1", "A2"], "municipality": ["Ale", "Ale"], "unit": ["U", "U"],
    ...     "interview_date": ["2024-03-01", "2024-13-01"], "sex": ["Kvinna", "male"], "main_substance": ["alcohol", "alcohol"],
    ...     "alcohol_days": ["12", "X"], "alcohol_intox_days": ["14", "0"]}, index=pd.Index([2, 3], name="row"))
    >>> typed, problems = validate_frame(RawTable("grund", "g.csv", None, df), as_of="2024-12-31")
    >>> typed["sex"].tolist(), typed["alcohol_days"].tolist()
    (['female', 'male'], [12, -8])
    >>> problems.loc[problems.severity == "error", ["row", "column", "rule"]].values.tolist()
    [[2, 'alcohol_intox_days', 'intox_gt_alcohol'], [3, 'interview_date', 'type_date']]
    """
    cb = codebook or load_codebook()
    table = raw.table
    df = raw.data
    idx = df.index
    as_of_ts = pd.Timestamp(as_of).normalize() if as_of is not None else pd.Timestamp.today().normalize()
    P = _Problems(raw, cb, table)
    context = context or {}
    pseudonymised = "client_pid" in df.columns and "client_id" not in df.columns
    known = set(cb.column_names(table)) | ({"client_pid"} if pseudonymised else set())
    for c in df.columns:
        if c not in known:
            P.add_header("unknown_column", c)
    tokens = _token_lookup(cb)
    typed: dict[str, pd.Series] = {}
    masked = {c.name for c in cb.columns(table) if c.type in ("id", "text")} | {"client_pid"}
    earliest = pd.Timestamp(cb.raw.get("earliest_date", "1990-01-01"))
    _read_problems(raw, known, P)
    seen = context.get("seen")
    cache = seen.setdefault("unique", {}) if seen is not None else None  # per-value results of earlier chunks

    for col in cb.columns(table):
        name = col.name
        if col.type == "id" and pseudonymised:
            v = df["client_pid"].astype(str).fillna("").str.strip()
            P.add("required", v == "", "client_pid", v, label_column=name)
            typed["client_pid"] = v.where(v != "").astype("string")
            continue
        s = df[name].astype(str).fillna("") if name in df.columns else pd.Series("", index=idx, dtype="str")
        v = s.str.strip()
        empty = v == ""
        if col.required:
            P.add("required", empty, name, v)
        if col.type == "id":
            info = parse_personal_numbers(v)
            P.add("id_checksum", info["shaped"] & ~info["valid"], name, v)
            typed[name] = v.where(~empty).astype("string")
        elif col.type in ("string", "text"):
            if col.max_length:
                P.add("text_too_long", v.str.len() > col.max_length, name, v,
                      f" (högst {col.max_length} tecken)", f" (at most {col.max_length} characters)")
            has_pnr = _per_unique(v, lambda u: u.str.contains(PNR_IN_TEXT_RE, regex=True).to_frame("p"),
                                  cache, ("pnr", name))["p"]
            P.add("pnr_in_text", has_pnr, name, v)
            typed[name] = v.where(~empty).astype("string")
        elif col.type == "date":
            d = _per_unique(v, lambda u: parse_dates(u, as_of=as_of_ts).to_frame("d"), cache, ("date", name))["d"]
            P.add("type_date", d.isna() & ~empty, name, v)
            fut = d > as_of_ts
            P.add("future_date", fut, name, v, f" {as_of_ts.date()}", f" {as_of_ts.date()}")
            P.add("date_too_early", d < earliest, name, v,
                  f" {earliest.date()} (ASI används i Sverige sedan 1990-talet)",
                  f" {earliest.date()} (ASI is used in Sweden since the 1990s)")
            typed[name] = d
        elif col.type == "category":
            lookup, form_lookup = _code_lookup(col, cb)
            if form_lookup and "form" in typed:  # labels shared between forms: resolve by the row's form
                v_in = typed["form"].astype(object).fillna("").astype(str) + "\x1f" + v
            else:
                v_in = v

            def _cat(u, lookup=lookup, form_lookup=form_lookup):
                parts = u.str.split("\x1f", n=1, regex=False)
                has_form = parts.str.len() == 2
                val = parts.str[-1]
                form = parts.str[0].where(has_form, "")
                key = _norm(val)
                head = val.str.extract(_DASH_RE)[0].str.casefold()
                code = head.map(lookup)
                code = code.where(code.notna(), key.map(lookup))
                if form_lookup:
                    code = code.where(code.notna(), (form + "|" + key).map(form_lookup))
                is_tok = key.map(tokens).notna() | head.map(tokens).notna()
                return pd.DataFrame({"code": code, "is_tok": is_tok})

            r = _per_unique(v_in, _cat, cache, ("cat", name))
            code = r["code"]
            is_tok = r["is_tok"]
            bad = code.isna() & ~empty
            P.add("xn_not_allowed", bad & is_tok, name, v, *_xn_allowed_words(col.missing))
            allowed = ", ".join(str(k) for k in col.codes)
            P.add("code", bad & ~is_tok, name, v, f" (tillåtna: {allowed})", f" (allowed: {allowed})")
            typed[name] = pd.Series(pd.Categorical(code.where(~bad), categories=[str(k) for k in col.codes]), index=idx)
        elif col.type == "integer":
            typed[name] = _type_integer(col, v, empty, tokens, P, cb, cache)
        else:  # pragma: no cover - codebook types are closed
            typed[name] = v.where(~empty).astype("string")

    out = pd.DataFrame(typed, index=idx)
    _cross_field(out, df, table, as_of_ts, cb, P, context, pseudonymised)
    problems = P.frame(masked)
    return out, problems


def _read_problems(raw, known, P) -> None:
    """Damage the reader found (:attr:`asi_lib.io.RawTable.read_problems`) as errors of their rows.

    Row-wide damage (a short or cut row) always counts; a formula without a
    value only in a column that is read (codebook column).
    """
    rp = getattr(raw, "read_problems", None)
    if rp is None or not len(rp):
        return
    for r in rp[rp.index == 1].itertuples():  # header-level notes (a few per file, not per row)
        P.add_header(r.rule, r.column, r.detail_sv, r.detail_en)
    rp = rp[rp.index.isin(raw.data.index)]
    rp = rp[(rp["rule"] != "formula_without_value") | rp["column"].isin(list(known))]
    for (rule, column), g in rp.groupby(["rule", "column"], sort=True):
        mask = pd.Series(raw.data.index.isin(g.index), index=raw.data.index)
        g = g[~g.index.duplicated()]
        shown = raw.data[column] if column in raw.data.columns else None
        P.add(rule, mask, column, shown, g["detail_sv"], g["detail_en"])


def _xn_allowed_words(missing) -> tuple[str, str]:
    """What a column accepts instead of an answer, in words (Swedish, English).

    Examples
    --------
    >>> _xn_allowed_words(())[0]
    ' (här är varken X eller N tillåtet; lämna cellen tom om uppgiften saknas)'
    >>> _xn_allowed_words(("X",))[1]
    ' (only X = not answered is allowed here, not N; or leave the cell empty)'
    """
    m = set(missing or ())
    if not m:
        return (" (här är varken X eller N tillåtet; lämna cellen tom om uppgiften saknas)",
                " (neither X nor N is allowed here; leave the cell empty if the answer is missing)")
    if m == {"X"}:
        return (" (här är bara X = ej svar tillåtet, inte N; eller lämna cellen tom)",
                " (only X = not answered is allowed here, not N; or leave the cell empty)")
    if m == {"N"}:
        return (" (här är bara N = ej relevant tillåtet, inte X; eller lämna cellen tom)",
                " (only N = not relevant is allowed here, not X; or leave the cell empty)")
    return (" (här är X = ej svar och N = ej relevant tillåtna)",  # pragma: no cover - never an error then
            " (X = not answered and N = not relevant are allowed here)")


_CACHE_LIMIT = 20_000  # distinct values per column kept between the chunks of a file


def _per_unique(v: pd.Series, func, cache: dict | None = None, key=None) -> pd.DataFrame:
    """Apply ``func`` (Series of distinct strings -> frame) once per distinct value, expand to rows.

    ``func`` must treat every value on its own. With ``cache`` (a dict shared
    by the chunks of one file) the results of values already met in earlier
    chunks are reused and ``func`` sees only new values: a chunk then costs
    its rows, not the fixed cost of every column again. A column with more
    than ``_CACHE_LIMIT`` distinct values is not cached.
    """
    codes, uniq = pd.factorize(v.fillna(""), sort=False, use_na_sentinel=False)
    u = pd.Series(np.asarray(uniq, dtype=object), dtype="str")
    known = cache.get(key) if cache is not None else None
    if cache is None or known is False:
        res = func(u)
    else:
        if known is None:
            new = u
        else:
            new = u[~u.isin(known.index)].reset_index(drop=True)
        if len(new) or known is None:
            fresh = func(new)
            fresh.index = pd.Index(new.to_numpy(dtype=object), dtype=object)
            known = fresh if known is None else pd.concat([known, fresh])
        res = known.reindex(pd.Index(u.to_numpy(dtype=object), dtype=object)).reset_index(drop=True)
        cache[key] = known if len(known) <= _CACHE_LIMIT else False
    out = res.iloc[codes]
    out.index = v.index
    return out


def _integer_unique(col, u: pd.Series, tokens, cb) -> pd.DataFrame:
    key = _norm(u)
    head = u.str.extract(_DASH_RE)[0]
    cand = u.where(head.isna(), head).str.strip()
    tok = cand.str.casefold().map(tokens)
    tok = tok.where(tok.notna(), key.map(tokens))
    if col.codes:
        lookup, _ = _code_lookup(col, cb)
        lab = key.map(lookup)
        cand = cand.where(lab.isna() | head.notna(), lab)
    parsed = parse_integers(cand.where(tok.isna(), ""), money=col.is_money)
    val = parsed["value"]
    is_tok = tok.notna()
    tok_bad = is_tok & ~tok.isin(list(col.missing))
    lo, hi = col.range
    out_of_range = val.notna() & ((val < lo) | (val > hi))
    not_code = val.notna() & ~out_of_range & ~val.isin([int(k) for k in col.codes]) if col.codes else \
        pd.Series(False, index=val.index)
    bad = out_of_range | not_code
    val = val.where(~bad)
    val = val.where(~((tok == "X") & ~tok_bad), X_CODE).where(~((tok == "N") & ~tok_bad), N_CODE)
    return pd.DataFrame({"value": val, "tok": is_tok, "tok_bad": tok_bad, "not_number": parsed["not_number"] & ~is_tok,
                         "decimal": parsed["decimal"] & ~is_tok, "rounded": parsed["rounded"], "out_of_range": out_of_range,
                         "not_code": not_code})


def _type_integer(col, v, empty, tokens, P, cb, cache=None) -> pd.Series:
    name = col.name
    r = _per_unique(v, lambda u: _integer_unique(col, u, tokens, cb), cache, ("int", name))
    P.add("xn_not_allowed", r["tok_bad"], name, v, *_xn_allowed_words(col.missing))
    P.add("type_number", r["not_number"] & ~empty, name, v)
    P.add("integer_decimal", r["decimal"], name, v)
    P.add("money_rounded", r["rounded"], name, v)
    lo, hi = col.range
    P.add("range", r["out_of_range"], name, v, f" {lo}–{hi}", f" {lo}–{hi}")
    if col.codes:
        allowed_s = ", ".join(str(c) for c in col.codes)
        P.add("code", r["not_code"], name, v, f" (tillåtna: {allowed_s})", f" (allowed: {allowed_s})")
    return r["value"].astype("Int32" if col.is_money else "Int16")


def _cross_field(out, df, table, as_of, cb, P, context, pseudonymised) -> None:
    idx = out.index
    date_col = cb.date_column(table)
    date = out[date_col]

    # --- age: under 18 and consistency with birth year
    if not pseudonymised:
        info = parse_personal_numbers(out["client_id"].astype(str).fillna(""), ref_date=as_of)
        pnr_age = age_at(info["birth_date"], date)
    else:
        pnr_age = pd.Series(pd.NA, index=idx, dtype="Int64")
    age = out["age"].astype("Float64") if "age" in out else pd.Series(np.nan, index=idx, dtype="Float64")
    by = out["birth_year"].astype("Float64") if "birth_year" in out else pd.Series(np.nan, index=idx, dtype="Float64")
    year_diff = date.dt.year.astype("Float64") - by
    u_age = age < 18
    u_pnr = age.isna() & (pnr_age.astype("Float64") < 18)
    u_by = age.isna() & pnr_age.isna() & (year_diff < 18)
    P.add("under_18", u_age, "age", out.get("age"))
    P.add("under_18", u_pnr, "client_id", None, " (enligt personnumret)", " (from the personal number)")
    P.add("under_18", u_by, "birth_year", out.get("birth_year"), " (enligt födelseåret)", " (from the birth year)")
    P.add("age_birth_year", (year_diff - age).abs() > 1, "age", out.get("age"),
          " (födelseår " + by.astype("Int64").astype(str) + ")", " (birth year " + by.astype("Int64").astype(str) + ")")

    # --- alcohol: intoxication days <= alcohol days (X/N excluded)
    if "alcohol_intox_days" in out and "alcohol_days" in out:
        a, i = out["alcohol_days"], out["alcohol_intox_days"]
        bad = (a >= 0) & (i >= 0) & (i > a)
        P.add("intox_gt_alcohol", bad, "alcohol_intox_days", i,
              " (" + a.astype(str) + " dagar med alkohol)", " (" + a.astype(str) + " days of alcohol)")

    # --- interventions
    if table == "insatser":
        P.add("end_before_start", out["end_date"] < out["start_date"], "end_date", df.get("end_date"))
        comp, reason = out["completed"], out["termination_reason"]
        P.add("termination_reason_unexpected", (comp == 1) & reason.notna(), "termination_reason", reason)
        P.add("termination_reason_missing", (comp == 0) & reason.isna(), "termination_reason", reason)

    # --- bortfall reason belongs to the form
    if table == "bortfall":
        col = cb.column("bortfall", "bortfall_reason")
        form_of = {str(k): v.get("form") for k, v in col.codes.items()}
        rf = out["bortfall_reason"].astype(object).map(form_of)
        bad = rf.notna() & out["form"].notna() & (rf != out["form"].astype(object))
        P.add("bortfall_reason_form", bad, "bortfall_reason", out["bortfall_reason"],
              " (" + out["form"].astype(str) + ")", " (" + out["form"].astype(str) + ")")

    # --- missing interviewer ratings (warning)
    if table in ("grund", "uppfoljning"):
        names = [c.name for c in cb.columns(table) if c.role == "interviewer_rating" and c.area != "gambling"]
        miss = pd.Series("", index=idx)
        for n in names:
            miss = miss + np.where(out[n].isna(), n + " ", "")
        miss = miss.str.strip()
        P.add("rating_missing", miss != "", "rating_*", miss, " (" + miss + ")", " (" + miss + ")")

    # --- duplicates within the batch and follow-up without baseline
    key = context.get("client_key")
    if key is None:
        key = out["client_pid"] if pseudonymised else client_keys(out["client_id"], out["municipality"])
    key = pd.Series(key, index=idx).astype("string")
    ident = [c for c in cb.identity(table) if c != "client_pid"]
    parts = pd.DataFrame({"_k": key, **{c: out[c].astype(str) for c in ident}}, index=idx)
    complete = key.notna() & pd.concat([out[c].notna() for c in ident], axis=1).all(axis=1)
    rowno = pd.Series(idx, index=idx)
    first = rowno.where(complete).groupby([parts[c] for c in parts.columns], dropna=False).transform("min")
    seen = context.get("seen")
    if seen is not None:  # a file read in chunks: identities of earlier chunks with their first row
        ident_key = parts["_k"].astype("string").str.cat([parts[c].astype("string") for c in ident], sep="\x1f")
        ident_key = ident_key.where(complete)
        # one (identity -> first row) part per earlier chunk, each with its own hash table, built once: a single
        # growing Series would rebuild the table of every earlier identity in every chunk
        befores = seen.setdefault("first_parts", [])
        prior = np.full(len(idx), np.nan)
        if befores:
            look = ident_key.astype(object).to_numpy()
            for part in befores:
                pos = part.index.get_indexer(look)
                hit = (pos >= 0) & np.isnan(prior)
                prior[hit] = part.to_numpy()[pos[hit]]
        prior = pd.Series(prior, index=idx)
        first = first.where(prior.isna(), prior)
        fresh = complete & prior.isna() & (first == rowno)
        if fresh.any():
            befores.append(pd.Series(rowno[fresh].to_numpy(dtype="float64"),
                                     index=pd.Index(ident_key[fresh].astype(object).to_numpy(), dtype=object)))
    dup = complete & (first < rowno)
    P.add("duplicate", dup, date_col, df.get(date_col), " " + first.astype("Int64").astype(str),
          " " + first.astype("Int64").astype(str))

    base = context.get("baselines")
    if table == "uppfoljning" and base is not None:
        cached = seen.get("baseline_first") if seen is not None else None
        if cached is None or cached[0] is not base:  # once per file: the baselines do not change between chunks
            firstg = base.dropna().groupby("client_key")["interview_date"].min()
            cached = (base, pd.Index(firstg.index.astype(object), dtype=object),
                      firstg.to_numpy().astype("datetime64[us]"))
            if seen is not None:
                seen["baseline_first"] = cached
        pos = cached[1].get_indexer(key.astype(object).to_numpy())
        gd = np.full(len(idx), np.datetime64("NaT"), dtype="datetime64[us]")
        gd[pos >= 0] = cached[2][pos[pos >= 0]]
        gdate = pd.Series(gd, index=idx)
        has_key = key.notna()
        P.add("followup_without_grund", has_key & gdate.isna(), "interview_date", df.get("interview_date"))
        before = has_key & gdate.notna() & date.notna() & (date <= gdate)
        P.add("followup_before_grund", before, "interview_date", df.get("interview_date"),
              " (grund " + pd.to_datetime(gdate).dt.strftime("%Y-%m-%d").fillna("") + ")",
              " (baseline " + pd.to_datetime(gdate).dt.strftime("%Y-%m-%d").fillna("") + ")")


def error_rows(problems: pd.DataFrame) -> pd.Index:
    """Row numbers with at least one error (to be quarantined); header problems (row 1) excluded.

    Parameters
    ----------
    problems : pandas.DataFrame
        Problem records with ``row`` and ``severity``.

    Returns
    -------
    pandas.Index
        Sorted distinct row numbers, named ``row``; warnings do not count.

    Examples
    --------
    >>> probs = pd.DataFrame({"row": [1, 3, 3, 5, 4], "severity": ["error", "error", "error", "warning", "error"]})
    >>> error_rows(probs).tolist()
    [3, 4]
    """
    p = problems[(problems["severity"] == "error") & (problems["row"] > 1)]
    return pd.Index(sorted(p["row"].unique()), name="row")


def split_valid(typed: pd.DataFrame, problems: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(accepted rows, rows to quarantine) of a typed frame.

    Parameters
    ----------
    typed : pandas.DataFrame
        Typed rows, index = row number in the file.
    problems : pandas.DataFrame
        Problem records of the same file (see :func:`error_rows`).

    Returns
    -------
    accepted : pandas.DataFrame
        Rows without an error.
    quarantined : pandas.DataFrame
        Rows with at least one error.

    Examples
    --------
    >>> typed = pd.DataFrame({"x": [1, 2, 3, 4]}, index=pd.Index([2, 3, 4, 5], name="row"))
    >>> probs = pd.DataFrame({"row": [3, 5], "severity": ["error", "warning"]})
    >>> ok, bad = split_valid(typed, probs)
    >>> ok.index.tolist(), bad.index.tolist()
    ([2, 4, 5], [3])
    """
    bad = typed.index.isin(error_rows(problems))
    return typed.loc[~bad], typed.loc[bad]


def mark_item_errors(typed: pd.DataFrame, problems: pd.DataFrame, table: str, codebook=None):
    """Keep interviews whose only errors are item-level: invalidate those items instead.

    Parameters
    ----------
    typed : pandas.DataFrame
        Output of :func:`validate_frame`.
    problems : pandas.DataFrame
        Its problem records.
    table : str
        Codebook table of ``typed``.
    codebook : Codebook, optional

    Returns
    -------
    typed : pandas.DataFrame
        A copy; the offending items of the kept rows are <NA> (for
        ``intox_gt_alcohol`` both ``alcohol_intox_days`` and ``alcohol_days``).
    problems : pandas.DataFrame
        A copy; those records become severity ``warning`` with a note that the
        value was invalidated and the interview kept.
    n_items : int
        Number of cells invalidated (distinct row and column).

    Notes
    -----
    An error is *item-level* when its rule is in :data:`ITEM_RULES` and its
    column is an optional ASI item (a codebook column with an ``area``). A row
    with any other error (identity, date, required value, text with a personal
    number, a cut or short row, ...) stays an error as a whole and is
    quarantined with all its problems. The scores that need an invalidated
    item become missing by their own rules; the others are computed.

    Examples
    --------
    >>> from asi_lib.io import RawTable
    >>> df = pd.DataFrame({"client_id": ["A1"], "municipality": ["Ale"], "unit": ["U"], "interview_date": ["2024-03-01"],
    ...     "sex": ["female"], "main_substance": ["alcohol"], "alcohol_days": ["12"], "alcohol_intox_days": ["14"],
    ...     "cannabis_days": ["99"], "age": ["40"]}, index=pd.Index([2], name="row"))
    >>> typed, problems = validate_frame(RawTable("grund", "g.csv", None, df), as_of="2024-12-31")
    >>> kept, probs, n = mark_item_errors(typed, problems, "grund")
    >>> n, error_rows(probs).tolist(), kept.loc[2, ["alcohol_days", "alcohol_intox_days", "age"]].tolist()
    (3, [], [<NA>, <NA>, 40])
    """
    cb = codebook or load_codebook()
    items = {c.name for c in cb.columns(table) if c.area is not None and not c.required}
    typed, problems = typed.copy(), problems.copy()
    err = (problems["severity"] == "error") & (problems["row"] > 1)
    is_item = err & problems["rule"].isin(list(ITEM_RULES)) & problems["column"].isin(list(items))
    whole_row = set(problems.loc[err & ~is_item, "row"])
    mark = is_item & ~problems["row"].isin(list(whole_row))
    if not mark.any():
        return typed, problems, 0
    m = problems.loc[mark, ["row", "column", "rule"]]
    cells = [m[["row", "column"]]]
    for rule, partners in ITEM_RULE_PARTNERS.items():
        hit = m[m["rule"] == rule]
        for partner in partners:
            if len(hit) and partner in typed.columns:
                cells.append(pd.DataFrame({"row": hit["row"].to_numpy(), "column": partner}))
    cells = pd.concat(cells, ignore_index=True).drop_duplicates()
    cells = cells[cells["column"].isin(typed.columns) & cells["row"].isin(typed.index)]
    for column, rows in cells.groupby("column")["row"]:
        typed.loc[typed.index.isin(rows.to_numpy()), column] = pd.NA
    problems.loc[mark, "severity"] = "warning"
    problems.loc[mark, "message_sv"] = problems.loc[mark, "message_sv"] + " – värdet ogiltigt, intervjun behålls"
    problems.loc[mark, "message_en"] = problems.loc[mark, "message_en"] + " – value invalidated, interview kept"
    return typed, problems, int(len(cells))
