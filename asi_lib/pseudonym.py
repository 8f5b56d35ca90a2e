"""Personal identity numbers and pseudonymisation.

Swedish personal identity numbers (personnummer) and coordination numbers
(samordningsnummer) are recognised, checked with the Luhn algorithm, turned
into a birth date (for the client's age) and then replaced by a keyed hash,
``client_pid``. Raw identifiers never reach the store.

The key is a secret of 32 random bytes kept *outside* the store and the
repository, by default in ``~/.config/asi-kit/pseudonym.key`` (or
``$XDG_CONFIG_HOME/asi-kit/pseudonym.key``), overridable with the environment
variable ``ASI_KIT_KEY_FILE`` or ``--key FILE``. The same key gives the same
pseudonym for the same client in every ingest; a store remembers the key's
fingerprint and refuses another key.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import AsiInputError

KEY_ENV = "ASI_KIT_KEY_FILE"
KEY_BYTES = 32

# Separators people (and word processors) write between the date and the last four digits:
# hyphen, the Unicode dashes and minus signs (en/em dash, figure dash, non-breaking hyphen,
# minus, small and fullwidth hyphen-minus), '+' (100 years or older, also fullwidth) and any
# white space (space, NBSP, narrow NBSP, thin space, tab).
DASHES = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d"
PLUSES = "+\ufe62\uff0b"
# yymmdd or ccyymmdd, optional separator, 4 digits (birth number + check digit); applied to the
# compact form made by :func:`normalise_id_text` (ASCII digits, '-' or '+' or nothing)
_PNR_RE = r"^(?P<c>\d{2})?(?P<y>\d{2})(?P<m>\d{2})(?P<d>\d{2})(?P<sep>[-+])?(?P<n>\d{4})$"
# the same shape anywhere inside a text (used to refuse free text holding one and to mask
# text shown in messages, the quarantine and file names): any Unicode digits, any of the
# separators above, optionally with one space on either side, or one white-space character
PNR_IN_TEXT_RE = (r"(?<!\d)(?:\d{2})?\d{6}(?:\s?[-" + DASHES + PLUSES + r"]\s?|\s)?\d{4}(?!\d)")
MASK = "***"


def _ascii_digits(s: pd.Series) -> pd.Series:
    """Unicode decimal digits (fullwidth, Arabic-Indic, ...) as ASCII digits; other text unchanged."""
    non_ascii = ~s.str.isascii().fillna(True).astype(bool)
    if not non_ascii.any():
        return s
    import unicodedata
    uniq = pd.unique(s[non_ascii].to_numpy(dtype=object))  # once per distinct non-ASCII value
    chars = {c for v in uniq for c in v if not c.isascii() and unicodedata.category(c) == "Nd"}
    if not chars:
        return s
    table = str.maketrans({c: str(unicodedata.decimal(c)) for c in chars})
    return s.where(~non_ascii, s[non_ascii].map({v: v.translate(table) for v in uniq}))


def normalise_id_text(ids: pd.Series) -> pd.Series:
    """The compact spelling of identifiers used to recognise personal numbers.

    Parameters
    ----------
    ids : pandas.Series of str
        Identifiers as written.

    Returns
    -------
    pandas.Series of str
        Same index; Unicode digits turned into ASCII digits, every dash or
        minus variant into ``-``, fullwidth/small plus into ``+`` and all white
        space (also NBSP) removed. Only used for recognising and normalising
        personal numbers; a local client number keeps its own spelling.

    Notes
    -----
    Recognised separators: ``-`` and U+2010..U+2015 (hyphens, figure dash, en
    and em dash, horizontal bar), U+2212 (minus), U+FE58, U+FE63, U+FF0D;
    ``+``, U+FE62, U+FF0B; any white space, with or without a dash.

    Examples
    --------
    >>> normalise_id_text(pd.Series(["811218\u20139876", "811218\u00a09876", " 811218 - 9876 ", "８１１２１８＋９８７６"])).tolist()
    ['811218-9876', '8112189876', '811218-9876', '811218+9876']
    """
    s = pd.Series(ids, dtype="str").fillna("")
    s = _ascii_digits(s)
    # only values with white space or a non-ASCII character can change: the (Python) regex replacements run on
    # those alone; the test itself is an ASCII pattern, which pandas hands to Arrow (no Python loop)
    odd = s.str.contains(r"[^!-~]", regex=True).fillna(False).astype(bool)
    if not odd.any():
        return s
    t = s[odd]
    t = t.str.replace(r"[" + DASHES + r"]", "-", regex=True).str.replace(r"[\ufe62\uff0b]", "+", regex=True)
    return s.where(~odd, t.str.replace(r"\s+", "", regex=True))


def mask_identifiers(values):
    """Replace anything shaped like a personal or coordination number by ``***``.

    Parameters
    ----------
    values : str, None or pandas.Series
        Text to be shown or written (messages, file and sheet names, free text).

    Returns
    -------
    str, None or pandas.Series of str
        The same kind; ``None`` stays ``None``.

    Notes
    -----
    The shape is :data:`PNR_IN_TEXT_RE`: 10 or 12 digits (any Unicode digits),
    optionally with a dash of any kind, ``+`` or white space before the last
    four, whether or not the check digit is right.

    Examples
    --------
    >>> mask_identifiers("export 811218\u20139876.csv"), mask_identifiers(None)
    ('export ***.csv', None)
    >>> mask_identifiers(pd.Series(["19811218 9876", "A17"])).tolist()
    ['***', 'A17']
    """
    if values is None:
        return None
    if isinstance(values, pd.Series):
        return values.astype(str).str.replace(PNR_IN_TEXT_RE, MASK, regex=True)
    import re
    return re.sub(PNR_IN_TEXT_RE, MASK, str(values))


def luhn_valid(digits: str) -> bool:
    """Luhn check of the last 10 digits of a personal identity number.

    Parameters
    ----------
    digits : str
        The number; separators are ignored, a 12-digit form is checked on
        its last 10 digits (the century is not part of the check).

    Returns
    -------
    bool

    Notes
    -----
    Weights 2, 1, 2, 1, ... from the left over ``YYMMDDNNNC``; the digits
    of each product are summed; the total must be divisible by 10.

    References
    ----------
    Skatteverket, *Personnummer* (SKV 704), example 811218-9876.

    Examples
    --------
    >>> luhn_valid("811218-9876"), luhn_valid("811218-9875")
    (True, False)
    """
    d = "".join(ch for ch in str(digits) if ch.isdigit())[-10:]
    if len(d) != 10:
        return False
    return bool(_luhn_ok(np.frombuffer(d.encode("ascii"), dtype=np.uint8).reshape(1, 10) - 48)[0])


def _luhn_ok(arr: np.ndarray) -> np.ndarray:
    """Vectorised Luhn over an (n, 10) array of digits."""
    weights = np.array([2, 1] * 5, dtype=np.int64)
    prod = arr.astype(np.int64) * weights
    total = (prod // 10 + prod % 10).sum(axis=1)
    return total % 10 == 0


def _extract_pnr(s: pd.Series) -> pd.DataFrame:
    """``s.str.extract(_PNR_RE)`` for the compact form of :func:`normalise_id_text`, in Arrow (RE2) when it can.

    pandas runs ``str.extract`` in Python, row by row. The compact form holds
    no Unicode digit (turned into ASCII) and no white space (removed), where
    RE2's ``\\d`` and ``$`` would differ from Python's, so RE2 gives the same
    groups; a group that took no part is empty in RE2 and NaN in pandas, so
    empty groups become NaN (no group of the pattern can match empty text).
    """
    try:
        import pyarrow as pa
        import pyarrow.compute as pc
        arr = pa.array(s.array) if len(s) else pa.array([], type=pa.string())
        if isinstance(arr, pa.ChunkedArray):
            arr = arr.combine_chunks()
        st = pc.extract_regex(arr, _PNR_RE)
    except Exception:  # pragma: no cover - no pyarrow, or a pyarrow without RE2
        return s.str.extract(_PNR_RE)
    valid = pc.is_valid(st)
    out = {}
    for i, name in enumerate(("c", "y", "m", "d", "sep", "n")):
        child = st.field(i)
        child = pc.if_else(pc.and_(valid, pc.not_equal(child, "")), child, pa.scalar(None, pa.string()))
        out[name] = pd.Series(pd.arrays.ArrowStringArray(child), index=s.index, dtype="str")
    return pd.DataFrame(out, index=s.index)


def parse_personal_numbers(ids: pd.Series, ref_date=None) -> pd.DataFrame:
    """Recognise personal identity and coordination numbers.

    Parameters
    ----------
    ids : pandas.Series of str
        Client identifiers as written: 10 or 12 digits (any Unicode digits),
        with or without a separator (``-``, any dash or minus sign, ``+``,
        space, NBSP; see :func:`normalise_id_text`); anything else is not a
        personal number.
    ref_date : date-like, optional
        Date used to choose the century of a 10-digit number (default today).

    Returns
    -------
    pandas.DataFrame
        Index of ``ids``; columns ``shaped`` (looks like a personal number:
        right digits and a possible date), ``valid`` (shaped and Luhn
        correct), ``coordination`` (day + 60), ``normalised`` (12 digits
        ``YYYYMMDDNNNN`` or <NA>) and ``birth_date``.

    Notes
    -----
    Century of a 10-digit number: the latest century that puts the birth
    date on or before ``ref_date``; with the ``+`` separator (100 years or
    older) one century earlier (Skatteverket's rules). A coordination number
    has 60 added to the day of birth.

    Examples
    --------
    >>> df = parse_personal_numbers(pd.Series(["811218-9876", "198112189876", "701063-2391", "12345"]),
    ...                             ref_date="2024-01-01")
    >>> df["valid"].tolist(), df["coordination"].tolist()
    ([True, True, True, False], [False, False, True, False])
    >>> df["normalised"].tolist()[:3]
    ['198112189876', '198112189876', '197010632391']
    >>> parse_personal_numbers(pd.Series(["811218\u20139876", "811218\u00a09876"]))["normalised"].tolist()
    ['198112189876', '198112189876']
    """
    s = normalise_id_text(ids)
    ref = pd.Timestamp(ref_date) if ref_date is not None else pd.Timestamp.today().normalize()
    parts = _extract_pnr(s)
    has = parts["y"].notna()
    out = pd.DataFrame(index=s.index)
    y = pd.to_numeric(parts["y"], errors="coerce")
    m = pd.to_numeric(parts["m"], errors="coerce")
    d = pd.to_numeric(parts["d"], errors="coerce")
    coord = (d > 60).fillna(False).astype(bool)
    day = d.where(~coord, d - 60)
    cent = pd.to_numeric(parts["c"], errors="coerce")
    year = cent * 100 + y
    # 10 digits: latest century not in the future, one more back with '+'
    guess = (ref.year // 100) * 100 + y
    md = m * 100 + day
    future = (guess > ref.year) | ((guess == ref.year) & (md > ref.month * 100 + ref.day))
    guess = guess.where(~future.fillna(False).astype(bool), guess - 100)
    guess = guess.where(parts["sep"] != "+", guess - 100)
    year = year.fillna(guess)
    ok_md = has & m.between(1, 12) & day.between(1, 31)
    ok_md = ok_md.fillna(False).astype(bool)
    birth = pd.Series(pd.NaT, index=s.index, dtype="datetime64[us]")
    if ok_md.any():
        comp = pd.DataFrame({"year": year[ok_md], "month": m[ok_md], "day": day[ok_md]}).astype("int64")
        birth.loc[ok_md] = pd.to_datetime(comp, errors="coerce").astype("datetime64[us]")
    shaped = ok_md & birth.notna()
    ten = parts["y"].fillna("") + parts["m"].fillna("") + parts["d"].fillna("") + parts["n"].fillna("")
    luhn = pd.Series(False, index=s.index)
    if shaped.any():
        t = ten[shaped]
        arr = np.frombuffer("".join(t).encode("ascii"), dtype=np.uint8).reshape(-1, 10) - 48
        luhn.loc[shaped] = _luhn_ok(arr)
    valid = shaped & luhn
    out["shaped"] = shaped
    out["valid"] = valid
    out["coordination"] = coord & valid
    norm = year.astype("Int64").astype("str").str.zfill(4) + parts["m"].fillna("") + parts["d"].fillna("") + parts["n"].fillna("")
    out["normalised"] = norm.where(valid).astype("string")
    out["birth_date"] = birth.where(valid)
    return out


def age_at(birth_date: pd.Series, ref_date) -> pd.Series:
    """Age in whole years at ``ref_date`` (scalar or Series).

    Parameters
    ----------
    birth_date : pandas.Series of datetime
        Birth dates (NaT where unknown).
    ref_date : date-like or pandas.Series or array-like
        One reference date for all rows, or one per row (a Series aligned
        on the index of ``birth_date``, an array or list in row order).

    Returns
    -------
    pandas.Series of Int64
        Index of ``birth_date``; <NA> where either date is missing.

    Notes
    -----
    ``age = ref.year - birth.year - [ (ref.month, ref.day) < (birth.month, birth.day) ]``

    Examples
    --------
    >>> age_at(pd.Series(pd.to_datetime(["1981-12-18", "2000-03-01"])), pd.Timestamp("2024-03-01")).tolist()
    [42, 24]
    """
    b = pd.to_datetime(pd.Series(birth_date))
    if isinstance(ref_date, (pd.Series, np.ndarray, list)):
        r = pd.to_datetime(pd.Series(ref_date, index=b.index))
    else:
        r = pd.Series(pd.Timestamp(ref_date), index=b.index)
    before = (r.dt.month * 100 + r.dt.day) < (b.dt.month * 100 + b.dt.day)
    age = r.dt.year - b.dt.year - before.astype("Int64")
    return age.astype("Int64").where(b.notna() & r.notna())


def client_keys(ids: pd.Series, municipality: pd.Series, ref_date=None) -> pd.Series:
    """The un-hashed identity key of each client (never stored or printed).

    Personal and coordination numbers become ``pnr|YYYYMMDDNNNN`` (so
    ``19850101-1234`` and ``8501011234`` are the same client, whatever the
    municipality); any other identifier is a local client number and becomes
    ``<municipality>|<id>`` (municipality stripped and case-folded), so two
    municipalities' local numbers never collide. Empty ids give <NA>.

    Parameters
    ----------
    ids : pandas.Series of str
        Client identifiers as written (surrounding spaces ignored).
    municipality : pandas.Series of str
        Municipality of each row (same index as ``ids``).
    ref_date : date-like, optional
        Passed to :func:`parse_personal_numbers` (century of 10-digit numbers).

    Returns
    -------
    pandas.Series of string
        Index of ``ids``; <NA> where the id is empty.

    Examples
    --------
    >>> client_keys(pd.Series(["19811218-9876", "811218-9876", "A17"]), pd.Series(["Ale", "Bjuv", "Ale"])).tolist()
    ['pnr|198112189876', 'pnr|198112189876', 'ale|A17']
    """
    s = pd.Series(ids, dtype="str").fillna("").str.strip()
    mun = pd.Series(municipality, index=s.index, dtype="str").fillna("").str.strip().str.casefold()
    info = parse_personal_numbers(s, ref_date=ref_date)
    key = ("pnr|" + info["normalised"].astype("str")).where(info["valid"], mun + "|" + s)
    return key.where(s != "").astype("string")


def _hash_keys(keys: pd.Series, key: bytes) -> pd.Series:
    codes, uniq = pd.factorize(keys, use_na_sentinel=True)  # each distinct key hashed once, then taken per row
    hexes = np.array([hmac.new(key, k.encode("utf-8"), hashlib.sha256).hexdigest() for k in uniq] + [None],
                     dtype=object)
    return pd.Series(hexes[codes], index=keys.index, dtype="string")  # code -1 (no key) takes the None: <NA>


def pseudonymise_ids(ids: pd.Series, municipality: pd.Series, key: bytes) -> pd.Series:
    """Keyed pseudonyms (HMAC-SHA256, hex) for client identifiers.

    Parameters
    ----------
    ids : pandas.Series of str
        Personal/coordination numbers or local client numbers.
    municipality : pandas.Series of str
        Municipality of each row (namespace for local client numbers).
    key : bytes
        The secret key (:func:`load_key`).

    Returns
    -------
    pandas.Series of string
        64 hex characters per row, <NA> where the id is empty.

    Notes
    -----
    ``client_pid = HMAC-SHA256(key, client_keys(id, municipality))``; each
    distinct key is hashed once.

    References
    ----------
    RFC 2104 (HMAC); FIPS 180-4 (SHA-256).

    Examples
    --------
    >>> p = pseudonymise_ids(pd.Series(["19850101-1236", "8501011236", "17"]), pd.Series(["Ale", "Bjuv", "Ale"]), b"k" * 32)
    >>> p[0] == p[1], p[0] == p[2], len(p[0])
    (True, False, 64)
    """
    return _hash_keys(client_keys(ids, municipality), key)


def pseudonymise_frame(df: pd.DataFrame, key: bytes, *, table: str | None = None,
                       pids: pd.Series | None = None) -> pd.DataFrame:
    """Replace ``client_id`` by ``client_pid`` and fill ``age`` from the personal number.

    Parameters
    ----------
    df : pandas.DataFrame
        Typed frame with ``client_id`` and ``municipality``.
    key : bytes
    table : str, optional
        Codebook table; its ``date_column`` is the reference date for the age
        (otherwise the first of interview_date/bortfall_date/start_date found).
    pids : pandas.Series, optional
        Already computed pseudonyms (index-aligned), to avoid hashing twice.

    Returns
    -------
    pandas.DataFrame
        A copy with ``client_pid`` first and no ``client_id``; ``age``
        filled where it was empty and the id is a valid personal number.

    Examples
    --------
    >>> df = pd.DataFrame({"client_id": ["811218-9876"], "municipality": ["Ale"],
    ...                    "interview_date": pd.to_datetime(["2024-03-01"]), "age": pd.array([None], dtype="Int16")})
    >>> out = pseudonymise_frame(df, b"k" * 32)
    >>> list(out.columns), int(out["age"][0])
    (['client_pid', 'municipality', 'interview_date', 'age'], 42)
    """
    out = df.copy()
    if "client_id" not in out.columns:
        return out
    ids = out["client_id"].astype("str").fillna("")
    if pids is None:
        pids = pseudonymise_ids(ids, out["municipality"], key)
    if "age" in out.columns:
        if table is not None:
            from .codebook import load_codebook
            date_col = load_codebook().date_column(table)
        else:
            date_col = next((c for c in ("interview_date", "bortfall_date", "start_date") if c in out.columns), None)
        if date_col is not None and out["age"].isna().any():
            info = parse_personal_numbers(ids)
            derived = age_at(info["birth_date"], out[date_col])
            out["age"] = out["age"].fillna(derived.astype(out["age"].dtype))
    out = out.drop(columns="client_id")
    out.insert(0, "client_pid", pd.Series(pids, index=out.index).astype("string"))
    return out


# ---------------------------------------------------------------- key handling
def default_key_path() -> Path:
    """``$ASI_KIT_KEY_FILE``, else ``$XDG_CONFIG_HOME/asi-kit/pseudonym.key``, else ``~/.config/...``.

    Returns
    -------
    pathlib.Path
        The key file's path (``~`` expanded in ``$ASI_KIT_KEY_FILE``); the
        file need not exist.

    Examples
    --------
    >>> from unittest import mock
    >>> with mock.patch.dict(os.environ, {KEY_ENV: "/secure/k.key"}):
    ...     default_key_path().as_posix()
    '/secure/k.key'
    >>> with mock.patch.dict(os.environ, {"XDG_CONFIG_HOME": "/cfg"}, clear=True):
    ...     default_key_path().as_posix()
    '/cfg/asi-kit/pseudonym.key'
    """
    env = os.environ.get(KEY_ENV)
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "asi-kit" / "pseudonym.key"


def load_key(path=None, *, create: bool = True) -> bytes:
    """Read the pseudonymisation key, creating it (mode 0600) when missing.

    Parameters
    ----------
    path : str or Path, optional
        Key file; default :func:`default_key_path`.
    create : bool, default True
        Create a new random key when the file does not exist.

    Returns
    -------
    bytes
        32 bytes (the file holds them as 64 hex characters).

    Raises
    ------
    AsiInputError
        File missing (and ``create=False``), unreadable or not a key.

    Examples
    --------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "k.key")
    >>> k = load_key(p); k == load_key(p), len(k), oct(os.stat(p).st_mode & 0o777)
    (True, 32, '0o600')
    """
    p = Path(path).expanduser() if path is not None else default_key_path()
    if not p.exists():
        if not create:
            raise AsiInputError("nyckelfilen finns inte / key file does not exist", file=str(p))
        p.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        key = secrets.token_bytes(KEY_BYTES)
        try:
            fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # created concurrently: use that one
            return load_key(p, create=False)
        with os.fdopen(fd, "w") as fh:
            fh.write(key.hex() + "\n")
        return key
    try:
        text = p.read_text(encoding="ascii").strip()
        key = bytes.fromhex(text)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise AsiInputError(f"nyckelfilen kan inte läsas ({exc.__class__.__name__}) / cannot read key file",
                            file=str(p)) from None
    if len(key) < 16:
        raise AsiInputError("nyckeln är för kort (minst 16 byte) / key too short (at least 16 bytes)", file=str(p))
    return key


def key_fingerprint(key: bytes) -> str:
    """A short public fingerprint of the key (tells keys apart, reveals nothing).

    Parameters
    ----------
    key : bytes
        The secret key (:func:`load_key`).

    Returns
    -------
    str
        16 hex characters; a store records it and refuses another key.

    Notes
    -----
    First 16 hex characters of ``SHA-256("asi-kit key fingerprint" + key)``.

    Examples
    --------
    >>> len(key_fingerprint(b"k" * 32)), key_fingerprint(b"a" * 32) != key_fingerprint(b"b" * 32)
    (16, True)
    """
    return hashlib.sha256(b"asi-kit key fingerprint" + key).hexdigest()[:16]
