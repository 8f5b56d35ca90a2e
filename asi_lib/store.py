"""The store: one directory of Parquet tables, a quarantine and a manifest.

Layout of a store directory::

    grund.parquet  uppfoljning.parquet  bortfall.parquet  insatser.parquet
    quarantine.parquet   rows that failed validation or conflict with the store
    manifest.json        ingests, key fingerprint, corrections log, erasure audit

An ingest or an erasure is one transaction (:meth:`Store.commit`): every
changed file is first written to a staging directory ``.txn-<id>/``, then a
journal ``.journal.json`` naming them is written atomically (the commit
point), then the files are moved into place with ``os.replace`` (the
manifest last) and the journal is removed. The next writer completes a
journal it finds (roll forward) and deletes staging directories without one
(roll back); readers read the staged copy of a file while its journal stands.
Writers hold an ``fcntl.flock`` on ``.lock``. No raw identifier is ever
written: tables hold ``client_pid``; quarantined rows are kept as text with
``client_id`` removed and anything shaped like a personal number masked.

A record's identity is table + ``client_pid`` + ``codebook.identity(table)``.
"""
from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import fcntl
import hashlib
import json
import os
import shutil
import signal
import socket
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .codebook import TABLES, load_codebook
from .dataset import Dataset
from .errors import AsiInputError, os_error_reason
from .pseudonym import PNR_IN_TEXT_RE

STORE_FORMAT = "asi-kit-store"
STORE_VERSION = 1
MANIFEST = "manifest.json"
LOCK = ".lock"
JOURNAL = ".journal.json"
STAGE_PREFIX = ".txn-"
QUARANTINE = "quarantine.parquet"
QUARANTINE_COLUMNS = ["qid", "table", "file", "sheet", "row", "ingest_id", "time", "client_pid", "rules",
                      "data", "problems", "identity"]
#: Environment variable naming a commit step after which the process kills itself with SIGKILL
#: (``staged``, ``journal`` or a file name such as ``grund.parquet``). Only for the fault tests.
FAULT_ENV = "ASI_KIT_TEST_KILL_AFTER"
_OWN_FILES = {f"{t}.parquet" for t in TABLES} | {QUARANTINE, MANIFEST}


def now_iso() -> str:
    """The current local time as ISO 8601 text, to the second, with UTC offset.

    Used for the time stamps of the manifest, the lock and quarantine entries.

    Returns
    -------
    str
        E.g. ``"2024-03-01T14:05:09+01:00"``.

    Examples
    --------
    >>> import re
    >>> bool(re.fullmatch(r"\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d[+-]\\d\\d:\\d\\d", now_iso()))
    True
    """
    return _dt.datetime.now(_dt.timezone.utc).astimezone().isoformat(timespec="seconds")


def empty_table(table: str) -> pd.DataFrame:
    """An empty frame with the store columns and dtypes of ``table``.

    Parameters
    ----------
    table : str
        ``grund``, ``uppfoljning``, ``bortfall`` or ``insatser``.

    Returns
    -------
    pandas.DataFrame
        No rows; columns as :func:`coerce_table` gives them.

    Examples
    --------
    >>> e = empty_table("insatser")
    >>> len(e), list(e.columns[:4]), str(e["start_date"].dtype)
    (0, ['client_pid', 'municipality', 'unit', 'intervention_type'], 'datetime64[us]')
    """
    return coerce_table(pd.DataFrame(), table)


def coerce_table(df: pd.DataFrame, table: str) -> pd.DataFrame:
    """Columns in codebook order and store dtypes (``codebook.dtypes``); categories = codebook codes.

    Parameters
    ----------
    df : pandas.DataFrame
        Rows of ``table`` with ``client_pid`` (not ``client_id``); values
        already of the right kind (codes, dates, integers).
    table : str
        ``grund``, ``uppfoljning``, ``bortfall`` or ``insatser``.

    Returns
    -------
    pandas.DataFrame
        Same index; exactly the store columns of ``table`` (absent ones all
        missing, columns not in the codebook dropped): ``string``,
        ``datetime64[us]``, ``category``, ``Int16`` / ``Int32`` (money).
        A category value not in the code list becomes missing.

    Examples
    --------
    >>> coerce_table(pd.DataFrame({"sex": ["female"]}), "grund")["sex"].cat.categories.tolist()
    ['male', 'female']
    """
    cb = load_codebook()
    dtypes = cb.dtypes(table)
    if list(df.columns) == list(dtypes) and all(_has_store_dtype(df[c], dt, table, c, cb) for c, dt in dtypes.items()):
        return df.copy(deep=False)  # already a store table: no copy of the data (the merge's peak)
    n = len(df)
    out = {}
    for name, dt in dtypes.items():
        s = df[name] if name in df.columns else pd.Series([pd.NA] * n, index=df.index, dtype="object")
        if dt == "category":
            cats = [str(k) for k in cb.column(table, name).codes]
            if not (isinstance(s.dtype, pd.CategoricalDtype) and not s.dtype.ordered
                    and list(s.dtype.categories) == cats):  # already the store's categories: nothing to recode
                vals = s.astype(object).where(s.notna(), None)
                s = pd.Series(pd.Categorical(vals, categories=cats), index=df.index)
        elif dt.startswith("datetime64"):
            s = pd.to_datetime(s).astype(dt)
        elif dt == "string":
            s = s.astype("string")
        else:
            s = s.astype(dt)
        out[name] = s
    return pd.DataFrame(out, index=df.index)


def _has_store_dtype(s: pd.Series, dt: str, table: str, name: str, cb) -> bool:
    """Whether a column is already what :func:`coerce_table` would make of it."""
    if dt == "category":
        return (isinstance(s.dtype, pd.CategoricalDtype) and not s.dtype.ordered
                and list(s.dtype.categories) == [str(k) for k in cb.column(table, name).codes])
    if dt == "string":
        return s.dtype == pd.StringDtype()
    return str(s.dtype) == dt


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - e.g. a directory on a file system without fsync
        pass
    finally:
        os.close(fd)


def _atomic(path: Path, write) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        _fsync(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _fault(point: str) -> None:
    """Kill this process with SIGKILL at ``point`` when :data:`FAULT_ENV` names it (fault tests only)."""
    if os.environ.get(FAULT_ENV) == point:
        os.kill(os.getpid(), signal.SIGKILL)


def _quarantine_frame(df: pd.DataFrame) -> pd.DataFrame:
    out = df.reindex(columns=QUARANTINE_COLUMNS).reset_index(drop=True)
    for c in QUARANTINE_COLUMNS:
        out[c] = out[c].astype("int64") if c == "row" else out[c].astype(object).where(out[c].notna(), None)
    return out


def tombstone_ids(pids: pd.Series) -> pd.Series:
    """Tombstones of erased clients: a hash of the (already keyed) pseudonym.

    Parameters
    ----------
    pids : pandas.Series of str
        ``client_pid`` values (HMAC-SHA256 hex).

    Returns
    -------
    pandas.Series of str
        ``SHA-256("asi-kit tombstone" + 0x1f + client_pid)``, first 32 hex
        characters; missing where the pseudonym is missing.

    Notes
    -----
    The pseudonym is keyed, so the tombstone is too: without the key nobody
    can test a personal number against the tombstones. The tombstone differs
    from the pseudonym, so it does not link to pseudonyms kept in earlier
    copies (backups, exports) of the store.

    Examples
    --------
    >>> t = tombstone_ids(pd.Series(["ab" * 32, None]))
    >>> len(t[0]), t[0] != "ab" * 16, pd.isna(t[1])
    (32, True, True)
    """
    vals = pids.astype(object)
    out = [None if pd.isna(v) else hashlib.sha256(f"asi-kit tombstone\x1f{v}".encode()).hexdigest()[:32]
           for v in vals.to_numpy()]
    return pd.Series(out, index=pids.index, dtype=object)


def _key_series(df: pd.DataFrame, cols) -> pd.Series:
    k = pd.Series("", index=df.index, dtype=object)
    for c in cols:
        k = k + "\x1f" + df[c].astype(str).to_numpy(dtype=object)
    return k


def _key_codes(cur: pd.DataFrame, new: pd.DataFrame, cols) -> tuple[pd.Series, pd.Series]:
    """Identity keys of two frames as int64 codes: equal exactly where :func:`_key_series` would be equal.

    Each identity column of both frames is factorized together and the
    codes are combined column by column and compacted again, so they never
    overflow: 8 bytes per row instead of one Python string (~150 bytes) per
    stored and incoming row. A key with a missing part (never in an accepted
    row: identity columns are required) is -1, as :func:`_key_series` makes
    it NaN, which ``isin`` matches with NaN.
    """
    n_cur = len(cur)
    key = np.zeros(n_cur + len(new), dtype=np.int64)
    missing = np.zeros(len(key), dtype=bool)
    for c in cols:
        both = pd.concat([cur[c], new[c]], ignore_index=True)
        if isinstance(both.dtype, pd.CategoricalDtype):  # the text of the value, as _key_series compares
            both = both.astype(object)
        missing |= both.isna().to_numpy()
        codes, uniq = pd.factorize(both, use_na_sentinel=False)
        key, _ = pd.factorize(key * (len(uniq) + 1) + codes.astype(np.int64))
        key = key.astype(np.int64)
    key[missing] = -1
    return pd.Series(key[:n_cur], index=cur.index), pd.Series(key[n_cur:], index=new.index)


def _content_hash(df: pd.DataFrame) -> pd.Series:
    return pd.util.hash_pandas_object(df, index=False)


def scrub_text(values: pd.Series) -> pd.Series:
    """Mask anything shaped like a personal identity number inside text.

    Parameters
    ----------
    values : pandas.Series
        Any values; they are turned into ``str`` first.

    Returns
    -------
    pandas.Series of str
        Same index; 10 or 12 digits (optionally with ``-``, ``+`` or a space
        before the last four) replaced by ``***``, whether or not the check
        digit is right.

    Examples
    --------
    >>> scrub_text(pd.Series(["ring 811218-9876 imorgon", "12"])).tolist()
    ['ring *** imorgon', '12']
    """
    return values.astype(str).str.replace(PNR_IN_TEXT_RE, "***", regex=True)


@dataclass
class MergeResult:
    """Outcome of merging accepted rows into a stored table.

    Returned by :meth:`Store.merge`.

    Attributes
    ----------
    added : int
        Rows with a new identity.
    unchanged : int
        Rows identical to a stored record.
    corrected : int
        Stored records replaced (only with ``accept_corrections``).
    conflicts : pandas.Index
        Index labels of the new frame whose identity is stored with other
        content and which were not applied.
    corrections : list of dict
        Log entries of the corrections (time, ingest, table, ``client_pid``,
        identity, changed columns with old and new values; free text only
        noted as changed).

    Examples
    --------
    >>> import tempfile
    >>> old = coerce_table(pd.DataFrame({"client_pid": ["p1"], "municipality": ["Ale"],
    ...                                  "interview_date": ["2024-03-01"]}), "grund")
    >>> new = coerce_table(pd.DataFrame({"client_pid": ["p1", "p2"], "municipality": ["Bjuv", "Ale"],
    ...                                  "interview_date": ["2024-03-01", "2024-04-01"]}), "grund")
    >>> merged, res = Store(tempfile.mkdtemp()).merge("grund", old, new)
    >>> res.added, res.unchanged, res.corrected, res.conflicts.tolist(), len(merged)
    (1, 0, 0, [0], 2)
    """

    added: int = 0
    unchanged: int = 0
    corrected: int = 0
    conflicts: pd.Index = field(default_factory=lambda: pd.Index([]))  # index labels of the new frame
    corrections: list = field(default_factory=list)


class Store:
    """A store directory (see module docstring).

    Parameters
    ----------
    path : str or Path
        Directory; created on the first write.

    Examples
    --------
    >>> import tempfile
    >>> st = Store(tempfile.mkdtemp())
    >>> st.exists(), len(st.read_table("grund"))
    (False, 0)
    """

    def __init__(self, path):
        self.path = Path(path)
        self._manifest: dict | None = None
        self.recovered: str | None = None  # "completed" / "rolled_back" when :meth:`recover` repaired something

    # ---------------------------------------------------------------- basics
    def exists(self) -> bool:
        return self._resolve(MANIFEST).exists()

    def _journal(self) -> dict | None:
        p = self.path / JOURNAL
        try:
            return json.loads(p.read_text(encoding="utf-8"))
        except (FileNotFoundError, NotADirectoryError):
            return None
        except (OSError, ValueError) as exc:
            raise AsiInputError(f"journalen kan inte läsas ({exc.__class__.__name__}) / cannot read the journal",
                                file=str(p)) from None

    def _resolve(self, name: str) -> Path:
        """Where the committed version of ``name`` is: its staged copy while a journal stands."""
        j = self._journal()
        if j and name in j.get("files", []):
            staged = self.path / j["txn"] / name
            if staged.exists():
                return staged
        return self.path / name

    def _read(self, name: str, reader):
        p = self._resolve(name)
        try:
            return reader(p)
        except FileNotFoundError:
            if p == self.path / name:
                raise
            return reader(self.path / name)  # moved into place meanwhile

    def check_usable(self) -> None:
        """Refuse a path that is a file, a non-empty directory that is not a store, or tables without a manifest.

        Raises
        ------
        AsiInputError
            With what to do (restore ``manifest.json``, or start a new store).
        """
        if self.path.exists() and not self.path.is_dir():
            raise AsiInputError("lagret ska vara en katalog / the store must be a directory", file=str(self.path))
        if self.path.is_dir() and not self.exists():
            try:
                names = {p.name for p in self.path.iterdir()}
            except OSError as exc:
                raise AsiInputError(f"lagret kan inte läsas: {os_error_reason(exc)} / cannot read the store",
                                    file=str(self.path)) from None
            foreign = [n for n in names if n not in _OWN_FILES and not n.startswith(".")]
            if foreign:
                raise AsiInputError("katalogen är inte tom och inte ett lager (manifest.json saknas) / "
                                    "directory is not empty and not a store (no manifest.json)", file=str(self.path))
            data = sorted(names & (_OWN_FILES - {MANIFEST}))
            if data:
                raise AsiInputError(
                    f"lagret har data ({', '.join(data)}) men ingen manifest.json, som håller nyckelns fingeravtryck "
                    f"och inläsningsloggen; utan den kan en annan nyckel ge samma klienter nya pseudonymer. "
                    f"Återställ manifest.json från säkerhetskopian; finns ingen, flytta katalogen åt sidan och läs in "
                    f"exporterna på nytt till ett nytt lager (docs/ingest.md) / the store has data but no "
                    f"manifest.json (key fingerprint, ingest log): restore manifest.json from a backup, or move "
                    f"the directory aside and ingest the exports again into a new store", file=str(self.path))

    @contextlib.contextmanager
    def lock(self, purpose: str = "ingest"):
        """Hold the store for one writer (ingest, forget) while it reads, changes and writes.

        The writer holds an exclusive ``fcntl.flock`` on ``.lock``: the
        kernel gives it to one process only and releases it when that
        process ends, however it ends (killed, power cut), so there is no
        stale lock to take over and no race in taking one over. The file
        also names the holder (process, host, time, purpose) for the
        message a second writer gets; it is emptied on release and never
        removed. A non-empty lock file written from another host is
        respected (on a network share ``flock`` may not reach across
        hosts): remove it by hand once nobody writes. Once locked, an
        interrupted commit is completed or rolled back (:meth:`recover`).

        Raises
        ------
        AsiInputError
            Another run holds the store, or the store cannot be written.
        """
        self.check_usable()
        path = self.path / LOCK
        me = {"pid": os.getpid(), "host": socket.gethostname(), "time": now_iso(), "purpose": purpose}
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise AsiInputError(f"lagret kan inte skrivas: {os_error_reason(exc)} / the store cannot be written",
                                file=str(exc.filename or self.path)) from None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                other = _lock_info(fd)
                busy = bool(other) and other.get("host") != me["host"]
            except BlockingIOError:
                other, busy = _lock_info(fd), True
            if busy:
                raise AsiInputError(
                    f"lagret används av en annan körning ({other.get('purpose', '?')}, process {other.get('pid', '?')} "
                    f"på {other.get('host', '?')}, sedan {other.get('time', '?')}); vänta tills den är klar. Om ingen "
                    f"körning pågår: ta bort {path} / the store is in use by another run; if none is running, "
                    f"remove the lock file", file=str(self.path))
            try:
                os.ftruncate(fd, 0)
                os.pwrite(fd, json.dumps(me).encode("utf-8"), 0)
            except OSError as exc:
                raise AsiInputError(f"lagret kan inte skrivas: {os_error_reason(exc)} / the store cannot be written",
                                    file=str(path)) from None
            self._manifest = None
            self.recover()
            self.check_usable()
            try:
                yield self
            finally:
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, 0)
        finally:
            os.close(fd)  # releases the flock

    def recover(self) -> str | None:
        """Complete an interrupted commit or roll it back, and remove leftover temporary files.

        Call it while holding :meth:`lock` (which does).

        Returns
        -------
        str or None
            ``"completed"`` (a journal was found: its files were moved into
            place), ``"rolled_back"`` (staging without a journal was
            deleted: the store is as before that run) or None. Also kept in
            :attr:`recovered`.
        """
        action = None
        j = self._journal()
        try:
            if j is not None:
                self._apply(j)
                action = "completed"
            for p in self.path.iterdir():
                if p.name.startswith(STAGE_PREFIX) and p.is_dir():
                    shutil.rmtree(p)
                    action = action or "rolled_back"
                elif p.name.startswith(".") and p.name.endswith(".tmp"):
                    p.unlink(missing_ok=True)
        except OSError as exc:
            raise AsiInputError(f"ett avbrutet skrivsteg kan inte slutföras: {os_error_reason(exc)} / an interrupted "
                                f"commit cannot be completed", file=str(self.path)) from None
        self._manifest = None
        self.recovered = action
        return action

    def _apply(self, journal: dict) -> None:
        txn = self.path / journal["txn"]
        for name in journal["files"]:
            src = txn / name
            if src.exists():
                os.replace(src, self.path / name)
                _fault(name)
        _fsync(self.path)
        (self.path / JOURNAL).unlink(missing_ok=True)
        _fsync(self.path)
        shutil.rmtree(txn, ignore_errors=True)

    def commit(self, tables: dict | None = None, quarantine: pd.DataFrame | None = None) -> None:
        """Write changed tables, the quarantine and the manifest as one all-or-nothing step.

        Parameters
        ----------
        tables : dict of str to DataFrame, optional
            Tables to replace (others stay as they are).
        quarantine : DataFrame, optional
            The new quarantine (None: unchanged).

        Raises
        ------
        AsiInputError
            A file cannot be written (permission, full disk): nothing has
            changed in the store.

        Notes
        -----
        Staging ``.txn-<id>/`` (each file fsynced) → journal
        ``.journal.json`` written atomically (the commit point) → each file
        moved into place with ``os.replace``, the manifest last → journal
        and staging removed. A crash before the journal leaves the store as
        it was (the staging is deleted by the next writer); a crash after it
        is completed by the next writer (:meth:`recover`). Call it while
        holding :meth:`lock`.
        """
        txn = self.path / f"{STAGE_PREFIX}{uuid.uuid4().hex[:12]}"
        files: list[str] = []
        text = json.dumps(self.manifest, ensure_ascii=False, indent=1, default=str) + "\n"
        try:
            txn.mkdir(parents=True)
            for t, df in (tables or {}).items():
                out = coerce_table(df, t).reset_index(drop=True)
                out.to_parquet(txn / f"{t}.parquet", index=False)
                files.append(f"{t}.parquet")
            if quarantine is not None:
                _quarantine_frame(quarantine).to_parquet(txn / QUARANTINE, index=False)
                files.append(QUARANTINE)
            (txn / MANIFEST).write_text(text, encoding="utf-8")
            files.append(MANIFEST)
            for name in files:
                _fsync(txn / name)
            _fsync(txn)
            _fault("staged")
            journal = {"txn": txn.name, "files": files, "time": now_iso(), "pid": os.getpid()}
            _atomic(self.path / JOURNAL, lambda p: p.write_text(json.dumps(journal), encoding="utf-8"))
            _fsync(self.path)
        except OSError as exc:
            shutil.rmtree(txn, ignore_errors=True)
            raise AsiInputError(f"lagret kan inte skrivas: {os_error_reason(exc)}; inget har ändrats / the store "
                                f"cannot be written; nothing was changed", file=str(exc.filename or self.path)) from None
        _fault("journal")
        try:
            self._apply(journal)
        except OSError as exc:  # pragma: no cover - a rename in one directory failing
            raise AsiInputError(f"skrivsteget avbröts: {os_error_reason(exc)}; nästa körning slutför det / the commit "
                                f"was interrupted; the next run completes it", file=str(self.path)) from None

    @property
    def manifest(self) -> dict:
        if self._manifest is None:
            p = self._resolve(MANIFEST)
            if p.exists():
                try:
                    self._manifest = self._read(MANIFEST, lambda f: json.loads(f.read_text(encoding="utf-8")))
                except (OSError, ValueError) as exc:
                    raise AsiInputError(f"manifest.json kan inte läsas ({exc.__class__.__name__}) / cannot read manifest",
                                        file=str(self.path)) from None
                if self._manifest.get("format") != STORE_FORMAT:
                    raise AsiInputError("inte ett asi-kit-lager / not an asi-kit store", file=str(self.path))
            else:
                self._manifest = {"format": STORE_FORMAT, "version": STORE_VERSION, "created": now_iso(),
                                  "key_fingerprint": None, "ingests": [], "corrections": [], "erasures": [],
                                  "tombstones": []}
        return self._manifest

    def save_manifest(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        text = json.dumps(self.manifest, ensure_ascii=False, indent=1, default=str)
        _atomic(self.path / MANIFEST, lambda p: p.write_text(text + "\n", encoding="utf-8"))

    def check_key(self, fingerprint: str) -> None:
        """Refuse a key other than the one the store was made with.

        Raises
        ------
        AsiInputError
            The store's fingerprint differs from ``fingerprint``.
        """
        self.check_usable()
        stored = self.manifest.get("key_fingerprint")
        if stored and stored != fingerprint:
            raise AsiInputError(
                f"lagret är skapat med en annan nyckel (fingeravtryck {stored}, angiven nyckel {fingerprint}); "
                f"använd samma nyckelfil som tidigare / the store was made with another key "
                f"(fingerprint {stored}, given {fingerprint}); use the same key file", file=str(self.path))
        self.manifest["key_fingerprint"] = fingerprint

    # ---------------------------------------------------------------- tables
    def table_path(self, table: str) -> Path:
        return self.path / f"{table}.parquet"

    def read_table(self, table: str) -> pd.DataFrame:
        """A stored table in store dtypes (empty frame when not written yet)."""
        p = self.table_path(table)
        if not self._resolve(p.name).exists():
            return empty_table(table)
        try:
            df = self._read(p.name, pd.read_parquet)
        except Exception as exc:
            raise AsiInputError(f"tabellen kan inte läsas ({exc.__class__.__name__}); återställ lagret från "
                                f"säkerhetskopian / cannot read table: restore the store from a backup",
                                file=str(p)) from None
        return coerce_table(df, table).reset_index(drop=True)

    def write_table(self, table: str, df: pd.DataFrame) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        out = coerce_table(df, table).reset_index(drop=True)
        _atomic(self.table_path(table), lambda p: out.to_parquet(p, index=False))

    def read_quarantine(self) -> pd.DataFrame:
        """The quarantine (:data:`QUARANTINE_COLUMNS`; empty when none).

        Raises
        ------
        AsiInputError
            ``quarantine.parquet`` is damaged: the message says how to repair.
        """
        p = self.path / QUARANTINE
        if not self._resolve(QUARANTINE).exists():
            return pd.DataFrame({c: pd.Series([], dtype="int64" if c == "row" else "object") for c in QUARANTINE_COLUMNS})
        try:
            q = self._read(QUARANTINE, pd.read_parquet)
            missing = {"qid", "table", "row", "data", "problems", "rules", "client_pid"} - set(q.columns)
            if missing:
                raise ValueError(f"columns missing: {sorted(missing)}")
        except Exception as exc:
            raise AsiInputError(
                f"karantänfilen är skadad ({exc.__class__.__name__}); återställ den från säkerhetskopian, eller flytta "
                f"den åt sidan och läs in exporterna igen (felaktiga rader hamnar då i karantän på nytt) / "
                f"quarantine.parquet is damaged: restore it from a backup, or move it aside and ingest the exports "
                f"again", file=str(p)) from None
        return q.reindex(columns=QUARANTINE_COLUMNS)

    def write_quarantine(self, df: pd.DataFrame) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        out = _quarantine_frame(df)
        _atomic(self.path / QUARANTINE, lambda p: out.to_parquet(p, index=False))

    # ---------------------------------------------------------------- identity, tombstones
    def identity_keys(self, table: str, df: pd.DataFrame) -> pd.Series:
        """Record identity (``client_pid`` + ``codebook.identity(table)``) as one text key per row.

        Parameters
        ----------
        table : str
        df : pandas.DataFrame
            Rows with ``client_pid`` and the identity columns (typed).

        Returns
        -------
        pandas.Series of object
            Same index; None where a part of the identity is missing.
        """
        ident = load_codebook().identity(table)
        typed = coerce_table(df, table)
        keys = _key_series(typed, ident)
        return keys.where(typed[ident].notna().all(axis=1).to_numpy(), None)

    def forgotten(self, pids: pd.Series) -> pd.Series:
        """True for pseudonyms of clients erased with :meth:`forget` and not re-admitted."""
        tombs = set(self.manifest.get("tombstones", []))
        if not tombs:
            return pd.Series(False, index=pids.index)
        return tombstone_ids(pids).isin(tombs)

    def readmit(self, client_pid: str) -> bool:
        """Remove the tombstone of a client, so that later ingests accept the client again.

        Returns
        -------
        bool
            Whether the client had a tombstone. The manifest gets an audit
            entry (time only). Call it while holding :meth:`lock`.
        """
        tomb = tombstone_ids(pd.Series([client_pid])).iloc[0]
        tombs = self.manifest.get("tombstones", [])
        if tomb not in tombs:
            return False
        self.manifest["tombstones"] = [t for t in tombs if t != tomb]
        self.manifest.setdefault("readmissions", []).append({"time": now_iso()})
        self.commit()
        return True

    def drop_resolved(self, quarantine: pd.DataFrame, accepted: dict, ingest_id: str,
                      requarantined: dict | None = None, keep_qids=()) -> tuple[pd.DataFrame, int]:
        """Remove quarantine entries of earlier ingests whose record was now accepted or sent again.

        Parameters
        ----------
        quarantine : pandas.DataFrame
        accepted : dict of str to set
            Per table, the identity keys (:meth:`identity_keys`) accepted in
            this ingest (new, unchanged or corrected).
        ingest_id : str
            Entries of this ingest are kept (they are its current problems).
        requarantined : dict of str to set, optional
            Per table, the identity keys quarantined again in this ingest
            with other content: the source's newest version replaces the
            older entries.
        keep_qids : set, optional
            ``qid`` of every row this ingest quarantined (also those already
            in the quarantine): an entry identical to such a row is kept,
            it *is* that row.

        Returns
        -------
        quarantine : pandas.DataFrame
        resolved : int
            Entries removed: the source now holds an accepted version of
            the record (the error was fixed, the conflict was corrected or
            withdrawn), or a newer version that is quarantined itself.

        Examples
        --------
        >>> q = pd.DataFrame({"qid": ["a", "b", "c"], "table": "grund", "ingest_id": ["i1", "i1", "i2"],
        ...                   "identity": ["x", "y", "y"]})
        >>> kept, n = Store(".").drop_resolved(q, {"grund": {"x"}}, "i2", {"grund": {"y"}})
        >>> kept["qid"].tolist(), n
        (['c'], 2)
        """
        requarantined = requarantined or {}
        if quarantine.empty or not (any(accepted.values()) or any(requarantined.values())):
            return quarantine, 0
        keys = quarantine["identity"] if "identity" in quarantine else pd.Series(None, index=quarantine.index)
        hit = pd.Series(False, index=quarantine.index)
        for t in set(accepted) | set(requarantined):
            ks = set(accepted.get(t, ())) | set(requarantined.get(t, ()))
            hit |= (quarantine["table"] == t) & keys.isin(ks)
        hit &= (quarantine["ingest_id"] != ingest_id) & ~quarantine["qid"].isin(set(keep_qids))
        return quarantine[~hit.to_numpy()].reset_index(drop=True), int(hit.sum())

    # ---------------------------------------------------------------- merge
    def merge(self, table: str, current: pd.DataFrame, new: pd.DataFrame, *,
              accept_corrections: bool = False, ingest_id: str = "",
              other_pids=None) -> tuple[pd.DataFrame, MergeResult]:
        """Merge accepted rows into a table (in memory).

        Parameters
        ----------
        table : str
        current : DataFrame
            The table as stored so far (store dtypes).
        new : DataFrame
            Accepted rows (store dtypes, with ``client_pid``); index labels are
            kept to report conflicts.
        accept_corrections : bool
            Replace a stored record that has the same identity but other
            content, and log old and new values (pseudonymised).
        ingest_id : str
            For the corrections log.
        other_pids : callable, optional
            ``other_pids(labels) -> Series`` (index = labels of ``new``,
            possibly repeated): the pseudonyms the same local client number
            would have under the store's other municipalities, to recognise
            a corrected municipality.

        Returns
        -------
        merged : DataFrame
        result : MergeResult
            ``added`` (new identity), ``unchanged`` (identical record already
            stored), ``corrected`` and ``conflicts`` (index labels of ``new``
            that conflict and were *not* applied).

        Notes
        -----
        Identity = ``codebook.identity(table)``; content equality compares
        every store column (hash of the typed row).

        A **moved** record (Grund and Uppföljning only) is a row with a new
        identity that equals one stored record of the same client in every
        column except the interview date, age, municipality, unit and
        comment, where the stored record's identity is not in ``new``
        (the export no longer holds it): a corrected interview date, or a
        corrected municipality of a local client number (whose pseudonym
        depends on the municipality; see ``other_pids``). Matches must be
        one-to-one. A moved record is a correction (replaces the stored
        one) with ``accept_corrections`` and a conflict without it; it is
        never stored as a second record.
        """
        cb = load_codebook()
        ident = cb.identity(table)
        res = MergeResult()
        if new.empty:
            return current, res
        if current.empty:  # nothing stored to compare with (a first ingest): every row is new, no keys or hashes needed
            res.added = len(new)
            return coerce_table(new, table).reset_index(drop=True), res
        cur = coerce_table(current, table).reset_index(drop=True)
        nw = coerce_table(new, table)
        ck, nk = _key_codes(cur, nw, ident)
        ch = pd.Series(_content_hash(cur).to_numpy(), index=ck.to_numpy())
        nh = _content_hash(nw)
        known = nk.isin(ch.index)
        stored_hash = nk.map(ch[~ch.index.duplicated()])
        same = known & (stored_hash.to_numpy() == nh.to_numpy())
        differ = known & ~same
        moved = _find_moved(table, cur, nw, known, ck, nk, other_pids) if table in MOVABLE_TABLES and len(cur) \
            else pd.DataFrame({"i": [], "pos": []}, dtype="int64")
        new_only = ~known.to_numpy()
        new_only[moved["i"].to_numpy()] = False
        res.added = int(new_only.sum())
        res.unchanged = int(same.sum())
        parts = [cur]
        if differ.any():
            if accept_corrections:
                pos = pd.Series(cur.index, index=ck.to_numpy())
                old_rows = cur.loc[pos[~pos.index.duplicated()].reindex(nk[differ].to_numpy()).to_numpy()]
                new_rows = nw[differ.to_numpy()]
                res.corrections = _describe_corrections(table, old_rows, new_rows, ident, ingest_id)
                res.corrected = int(differ.sum())
                parts = [cur[~ck.isin(nk[differ]).to_numpy()], new_rows]
            else:
                res.conflicts = nw.index[differ.to_numpy()]
        if len(moved):
            if accept_corrections:
                old_rows, new_rows = cur.iloc[moved["pos"].to_numpy()], nw.iloc[moved["i"].to_numpy()]
                res.corrections += _describe_corrections(table, old_rows, new_rows, ident, ingest_id)
                res.corrected += len(moved)
                keep = np.ones(len(cur), dtype=bool)
                keep[moved["pos"].to_numpy()] = False
                parts[0] = parts[0][keep[parts[0].index.to_numpy()]]  # cur has a RangeIndex
                parts.append(new_rows)
            else:
                res.conflicts = res.conflicts.append(nw.index[moved["i"].to_numpy()])
        parts.append(nw[new_only])
        merged = pd.concat([p for p in parts if len(p)], ignore_index=True) if any(len(p) for p in parts) else cur
        return coerce_table(merged, table).reset_index(drop=True), res

    # ---------------------------------------------------------------- erasure
    def forget(self, client_pid: str) -> dict:
        """Erase every record of one client (tables, quarantine, corrections log) and keep a tombstone.

        The manifest gets an audit entry with the time and counts only, and
        the client's tombstone (:func:`tombstone_ids`), so later ingests
        refuse the client's rows until :meth:`readmit`. One transaction
        (:meth:`commit`); call it while holding :meth:`lock`.

        Returns
        -------
        dict
            Records removed per table (and ``quarantine``, ``corrections``).
        """
        if not self.exists():
            raise AsiInputError("inget lager här (manifest.json saknas) / no store here", file=str(self.path))
        removed, tables = {}, {}
        for t in TABLES:
            df = self.read_table(t)
            hit = (df["client_pid"] == client_pid).fillna(False).to_numpy()
            removed[t] = int(hit.sum())
            if hit.any():
                tables[t] = df[~hit]
        q = self.read_quarantine()
        qhit = (q["client_pid"] == client_pid).fillna(False).to_numpy()
        removed["quarantine"] = int(qhit.sum())
        corr = self.manifest.get("corrections", [])
        keep = [c for c in corr if c.get("client_pid") != client_pid]
        removed["corrections"] = len(corr) - len(keep)
        self.manifest["corrections"] = keep
        tomb = tombstone_ids(pd.Series([client_pid])).iloc[0]
        tombs = self.manifest.setdefault("tombstones", [])
        if tomb not in tombs:
            tombs.append(tomb)
        self.manifest.setdefault("erasures", []).append(
            {"time": now_iso(), "records_removed": int(sum(removed.values())), "by_table": removed})
        self.commit(tables, q[~qhit] if qhit.any() else None)
        return removed

    def ingest_log(self) -> pd.DataFrame:
        """Every file of every ingest, with where each of its rows went.

        Returns
        -------
        pandas.DataFrame
            One row per file and ingest: ``ingest_id``, ``time``, ``file``,
            ``table``, ``status``, ``read``, ``accepted_new``,
            ``accepted_unchanged``, ``corrected``, ``quarantined``,
            ``forgotten`` (rows of erased clients, refused) and ``accounted``
            (True when read = accepted + corrected + quarantined + forgotten,
            the promise that no row is silently lost). Counts of rows, never
            of identifiers; the manifest holds nothing else.
        """
        counts = ["read", "accepted_new", "accepted_unchanged", "corrected", "quarantined", "forgotten"]
        recs = [{"ingest_id": i["ingest_id"], "time": i["time"], **f}
                for i in self.manifest.get("ingests", []) for f in i["files"]]
        cols = ["ingest_id", "time", "file", "table", "status", *counts]
        log = pd.DataFrame(recs).reindex(columns=cols)
        log[counts] = log[counts].fillna(0).astype("int64")
        log["accounted"] = log["read"] == log[counts[1:]].sum(axis=1)
        return log

    def quarantine_problems(self, lang: str = "sv") -> pd.DataFrame:
        """The problems of the rows in quarantine, one row per problem, ready to fix at the source.

        Parameters
        ----------
        lang : {"sv", "en"}
            Language of the message.

        Returns
        -------
        pandas.DataFrame
            ``table``, ``file``, ``row`` (line in the file, header = 1),
            ``column``, ``value`` (identifiers and free text already masked at
            ingest), ``rule`` and ``message``. No pseudonym: the file and row
            point to the record in the source system.
        """
        q = self.read_quarantine()
        cols = ["table", "file", "row", "column", "value", "rule", "message"]
        if q.empty:
            return pd.DataFrame(columns=cols)
        probs = q[["table", "file", "row"]].assign(p=q["problems"].map(json.loads)).explode("p")
        probs = probs[probs["p"].notna()].reset_index(drop=True)
        detail = pd.DataFrame(probs.pop("p").tolist())
        out = pd.concat([probs, detail], axis=1)
        out = out[out.get("severity", "error") == "error"] if "severity" in out else out
        out["message"] = out["message_sv" if lang == "sv" else "message_en"]
        return out.reindex(columns=cols).sort_values(["table", "file", "row"], kind="stable").reset_index(drop=True)

    def summary(self) -> dict:
        q = self.read_quarantine()
        return {
            "store": str(self.path),
            "key_fingerprint": self.manifest.get("key_fingerprint"),
            "records": {t: int(len(self.read_table(t))) if self.table_path(t).exists() else 0 for t in TABLES},
            "quarantined": int(len(q)),
            "quarantined_by_rule": (q["rules"].str.split(",").explode().value_counts().to_dict() if len(q) else {}),
            "ingests": len(self.manifest.get("ingests", [])),
            "last_ingest": (self.manifest.get("ingests") or [{}])[-1].get("time"),
            "corrections": len(self.manifest.get("corrections", [])),
            "erasures": len(self.manifest.get("erasures", [])),
            "tombstones": len(self.manifest.get("tombstones", [])),
        }


def _lock_info(fd: int) -> dict:
    """What the lock file says about its holder ({} when empty or unreadable)."""
    try:
        info = json.loads(os.pread(fd, 4096, 0).decode("utf-8") or "{}")
    except (OSError, ValueError):
        return {}
    return info if isinstance(info, dict) else {}


MOVABLE_TABLES = ("grund", "uppfoljning")
_MOVE_FREE = ("client_pid", "interview_date", "age", "municipality", "unit", "comment")


def _find_moved(table, cur, nw, known, ck, nk, other_pids) -> pd.DataFrame:
    """Pairs (``i`` position in ``nw``, ``pos`` position in ``cur``) of moved records (see :meth:`Store.merge`)."""
    empty = pd.DataFrame({"i": [], "pos": []}, dtype="int64")
    unk = np.flatnonzero(~known.to_numpy())
    if not len(unk):
        return empty
    cols = [c for c in cur.columns if c not in _MOVE_FREE]
    free = ~ck.isin(set(nk)).to_numpy()  # stored identities that this batch does not hold
    stored = pd.DataFrame({"pid": cur["client_pid"].astype(str).to_numpy(),
                           "h": _content_hash(cur[cols]).to_numpy(), "pos": np.arange(len(cur))})[free]
    nh = _content_hash(nw[cols]).to_numpy()[unk]
    hit = np.isin(nh, stored["h"].to_numpy())  # only rows whose content a stored record has can be moved ones
    unk, nh = unk[hit], nh[hit]
    if not len(unk):
        return empty
    labels = nw.index[unk]
    cand = [pd.DataFrame({"i": unk, "pid": nw["client_pid"].astype(str).to_numpy()[unk], "h": nh})]
    if other_pids is not None:
        alt = other_pids(labels)
        if len(alt):
            pos_of = pd.Series(unk, index=labels)
            cand.append(pd.DataFrame({"i": pos_of.reindex(alt.index).to_numpy(), "pid": alt.astype(str).to_numpy(),
                                      "h": pd.Series(nh, index=labels).reindex(alt.index).to_numpy()}))
    m = pd.concat(cand, ignore_index=True).merge(stored, on=["pid", "h"]).drop_duplicates(["i", "pos"])
    m = m[~m["i"].duplicated(keep=False) & ~m["pos"].duplicated(keep=False)]
    return m[["i", "pos"]].astype("int64").reset_index(drop=True)


def _describe_corrections(table, old_rows, new_rows, ident, ingest_id) -> list:
    out = []
    t = now_iso()
    old_s = old_rows.reset_index(drop=True).astype(object).where(old_rows.reset_index(drop=True).notna(), None)
    new_s = new_rows.reset_index(drop=True).astype(object).where(new_rows.reset_index(drop=True).notna(), None)
    for i in range(len(new_s)):  # a handful of corrected records per ingest
        o, n = old_s.iloc[i], new_s.iloc[i]
        changes = {c: [None if o[c] is None else str(o[c]), None if n[c] is None else str(n[c])]
                   for c in new_s.columns if str(o[c]) != str(n[c]) and c not in ("comment", "client_pid")}
        if "comment" in new_s.columns and str(o["comment"]) != str(n["comment"]):
            changes["comment"] = ["(ändrad / changed)", "(ändrad / changed)"]  # free text is not logged
        out.append({"time": t, "ingest_id": ingest_id, "table": table, "client_pid": str(n["client_pid"]),
                    "identity": {c: str(n[c]) for c in ident if c != "client_pid"}, "changes": changes})
    return out


def quarantine_records(raw_rows: pd.DataFrame, pids: pd.Series, problems: pd.DataFrame, *, table: str,
                       file: str, sheet, ingest_id: str, identity: pd.Series | None = None) -> pd.DataFrame:
    """Quarantine entries for rows of a raw table (text; ``client_id`` dropped, personal numbers masked).

    ``qid`` = SHA-256 of table + row content, so re-ingesting the same bad row
    does not add it twice.

    Parameters
    ----------
    raw_rows : pandas.DataFrame
        The rows to quarantine as read (text), index = row number in the file.
    pids : pandas.Series
        ``client_pid`` per row (index = row number; missing where none).
    problems : pandas.DataFrame
        Problem records (:data:`asi_lib.validate.PROBLEM_COLUMNS`); those of
        other rows are ignored.
    table : str
    file : str
        Source file; only its name is kept.
    sheet : str or None
        Excel sheet.
    ingest_id : str
    identity : pandas.Series, optional
        Identity key per row (:meth:`Store.identity_keys`; index = row
        number), so that a later accepted version of the record resolves
        the entry (:meth:`Store.drop_resolved`).

    Returns
    -------
    pandas.DataFrame
        One row per raw row with :data:`QUARANTINE_COLUMNS`: ``qid`` (24 hex
        characters), ``rules`` (comma-separated error rules), ``data`` (JSON
        of the scrubbed row with ``client_pid``), ``problems`` (JSON list of
        the row's problem records), and ``table``, ``file``, ``sheet``,
        ``row``, ``ingest_id``, ``time``, ``client_pid``.

    Examples
    --------
    >>> raw = pd.DataFrame({"client_id": ["811218-9876"], "comment": ["ring 811218-9876"]},
    ...                    index=pd.Index([3], name="row"))
    >>> probs = pd.DataFrame([{"file": "g.csv", "sheet": None, "row": 3, "column": "age", "value": "12",
    ...                        "rule": "under_18", "severity": "error", "message_sv": "", "message_en": ""}])
    >>> q = quarantine_records(raw, pd.Series(["p1"], index=raw.index), probs, table="grund",
    ...                        file="/in/g.csv", sheet=None, ingest_id="i1")
    >>> q[["file", "row", "client_pid", "rules"]].to_dict("records")
    [{'file': 'g.csv', 'row': 3, 'client_pid': 'p1', 'rules': 'under_18'}]
    >>> q.loc[0, "data"]
    '{"client_pid": "p1", "comment": "ring ***"}'
    """
    if raw_rows.empty:
        return pd.DataFrame(columns=QUARANTINE_COLUMNS)
    data = raw_rows.drop(columns=[c for c in ("client_id",) if c in raw_rows.columns])
    data = data.apply(scrub_text)
    data.insert(0, "client_pid", pids.reindex(raw_rows.index).astype(object).where(pids.reindex(raw_rows.index).notna(), ""))
    recs = data.to_dict("records")
    data_json = [json.dumps(r, ensure_ascii=False, sort_keys=True) for r in recs]
    pr = problems[problems["row"].isin(raw_rows.index)]
    by_row_rules = pr[pr["severity"] == "error"].groupby("row")["rule"].agg(lambda s: ",".join(sorted(set(s))))
    by_row_probs = pr.groupby("row").apply(
        lambda g: json.dumps(g.drop(columns=["file", "sheet"]).to_dict("records"), ensure_ascii=False, default=str),
        include_groups=False) if len(pr) else pd.Series(dtype=object)
    rows = raw_rows.index
    return pd.DataFrame({
        "qid": [hashlib.sha256(f"{table}\x1f{d}".encode()).hexdigest()[:24] for d in data_json],
        "table": table, "file": Path(file).name, "sheet": sheet, "row": np.asarray(rows, dtype="int64"),
        "ingest_id": ingest_id, "time": now_iso(),
        "client_pid": pids.reindex(rows).astype(object).where(pids.reindex(rows).notna(), None).to_numpy(),
        "rules": by_row_rules.reindex(rows).fillna("").to_numpy(),
        "data": data_json, "problems": by_row_probs.reindex(rows).fillna("[]").to_numpy(),
        "identity": (identity.reindex(rows).astype(object).to_numpy() if identity is not None else None),
    })


def load_store(path) -> Dataset:
    """Open a store as a :class:`~asi_lib.dataset.Dataset` (tables in ``codebook.dtypes``).

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    Dataset
        ``meta`` holds the store path and :meth:`Store.summary`.

    Raises
    ------
    AsiInputError
        No store at ``path``.

    Examples
    --------
    >>> import tempfile
    >>> d = tempfile.mkdtemp()
    >>> st = Store(d)
    >>> st.write_table("grund", pd.DataFrame({"client_pid": ["p1"], "municipality": ["Ale"],
    ...                                       "interview_date": ["2024-03-01"]}))
    >>> st.save_manifest()
    >>> ds = load_store(d)
    >>> ds, ds.meta["summary"]["records"]["grund"]
    (Dataset(grund=1, uppfoljning=0, bortfall=0, insatser=0), 1)
    """
    st = Store(path)
    if not st.exists():
        st.check_usable()  # tables without a manifest: say how to repair
        raise AsiInputError("inget lager här (manifest.json saknas) / no store here (no manifest.json)", file=str(path))
    for _ in range(20):  # a commit between the reads: read again (readers take no lock)
        before = (st._journal(), st._read(MANIFEST, lambda p: p.read_bytes()))
        tables = {t: st.read_table(t) for t in TABLES}
        st._manifest = None
        summary = st.summary()
        if (st._journal(), st._read(MANIFEST, lambda p: p.read_bytes())) == before:
            break
    return Dataset(**tables, meta={"source": "store", "store": str(st.path), "summary": summary})


# ---------------------------------------------------------------- CLI
def _client_pid(st: "Store", args: argparse.Namespace) -> str:
    from .pseudonym import key_fingerprint, load_key, parse_personal_numbers, pseudonymise_ids

    key = load_key(args.key, create=False)
    st.check_key(key_fingerprint(key))
    ids = pd.Series([args.client])
    is_pnr = bool(parse_personal_numbers(ids)["valid"].iloc[0])
    if not is_pnr and not args.municipality:
        raise AsiInputError("ett lokalt klientnummer kräver --municipality / a local client number needs --municipality")
    return pseudonymise_ids(ids, pd.Series([args.municipality or ""]), key).iloc[0]


def _readmit_cmd(args: argparse.Namespace) -> int:
    st = Store(args.store)
    if not st.exists():
        st.check_usable()
        raise AsiInputError("inget lager här (manifest.json saknas) / no store here", file=str(args.store))
    with st.lock("readmit"):
        pid = _client_pid(st, args)
        had = st.readmit(pid)
    print("Klienten är återtagen: senare inläsningar tar emot klientens rader igen." if had else
          "Klienten var inte raderad (ingen gravsten hittades); inget ändrat.")
    return 0


def _forget_cmd(args: argparse.Namespace) -> int:
    st = Store(args.store)
    if not st.exists():
        st.check_usable()
        raise AsiInputError("inget lager här (manifest.json saknas) / no store here", file=str(args.store))
    with st.lock("forget"):
        pid = _client_pid(st, args)
        removed = st.forget(pid)
    total = sum(removed.values())
    print(f"Raderat {total} poster för klienten ({', '.join(f'{k}: {v}' for k, v in removed.items() if v) or 'inga hittades'}). "
          f"Loggat i manifest.json utan identitet. Senare inläsningar avvisar klientens rader "
          f"(återta med asi-kit readmit).")
    return 0


def _store_cmd(args: argparse.Namespace) -> int:
    st = Store(args.store)
    if not st.exists():
        st.check_usable()
        raise AsiInputError("inget lager här (manifest.json saknas) / no store here", file=str(args.store))
    s = st.summary()
    if args.json:
        print(json.dumps(s, ensure_ascii=False, indent=1))
    else:
        print(f"Lager {s['store']} (nyckel {s['key_fingerprint']})")
        for t, n in s["records"].items():
            print(f"  {t:<12} {n:>7} poster")
        print(f"  karantän     {s['quarantined']:>7} rader {s['quarantined_by_rule'] or ''}")
        print(f"  inläsningar {s['ingests']}, senast {s['last_ingest']}; rättelser {s['corrections']}; raderingar {s['erasures']}")
    return 0


def register_cli(subparsers) -> None:
    """Add ``asi-kit store`` (summary), ``asi-kit forget`` (erase a client) and ``asi-kit readmit``."""
    p = subparsers.add_parser("store", help="sammanfatta ett lager / summarise a store")
    p.add_argument("--store", required=True, metavar="DIR")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_store_cmd)
    f = subparsers.add_parser("forget", help="radera en klient ur lagret / erase a client from the store")
    f.add_argument("--store", required=True, metavar="DIR")
    f.add_argument("--client", required=True, metavar="ID", help="personnummer eller lokalt klientnummer")
    f.add_argument("--municipality", metavar="M", help="kommun (krävs för lokala klientnummer)")
    f.add_argument("--key", metavar="FILE", help="nyckelfil (standard ~/.config/asi-kit/pseudonym.key)")
    f.set_defaults(func=_forget_cmd)
    r = subparsers.add_parser("readmit", help="ta emot en raderad klient igen / re-admit an erased client")
    r.add_argument("--store", required=True, metavar="DIR")
    r.add_argument("--client", required=True, metavar="ID", help="personnummer eller lokalt klientnummer")
    r.add_argument("--municipality", metavar="M", help="kommun (krävs för lokala klientnummer)")
    r.add_argument("--key", metavar="FILE", help="nyckelfil (standard ~/.config/asi-kit/pseudonym.key)")
    r.set_defaults(func=_readmit_cmd)
