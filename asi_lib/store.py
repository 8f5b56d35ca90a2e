"""The store: one directory of Parquet tables, a quarantine and a manifest.

Layout of a store directory::

    grund.parquet  uppfoljning.parquet  bortfall.parquet  insatser.parquet
    quarantine.parquet   rows that failed validation or conflict with the store
    manifest.json        ingests, key fingerprint, corrections log, erasure audit

Every file is written atomically (temporary file in the same directory, then
``os.replace``); the manifest is written last. No raw identifier is ever
written: tables hold ``client_pid``; quarantined rows are kept as text with
``client_id`` removed and anything shaped like a personal number masked.

A record's identity is table + ``client_pid`` + ``codebook.identity(table)``.
"""
from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import hashlib
import json
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .codebook import TABLES, load_codebook
from .dataset import Dataset
from .errors import AsiInputError
from .pseudonym import PNR_IN_TEXT_RE

STORE_FORMAT = "asi-kit-store"
STORE_VERSION = 1
MANIFEST = "manifest.json"
LOCK = ".lock"
QUARANTINE = "quarantine.parquet"
QUARANTINE_COLUMNS = ["qid", "table", "file", "sheet", "row", "ingest_id", "time", "client_pid", "rules",
                      "data", "problems"]
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
    n = len(df)
    out = {}
    for name, dt in dtypes.items():
        s = df[name] if name in df.columns else pd.Series([pd.NA] * n, index=df.index, dtype="object")
        if dt == "category":
            cats = [str(k) for k in cb.column(table, name).codes]
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


def _atomic(path: Path, write) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _key_series(df: pd.DataFrame, cols) -> pd.Series:
    k = pd.Series("", index=df.index, dtype=object)
    for c in cols:
        k = k + "\x1f" + df[c].astype(str).to_numpy(dtype=object)
    return k


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

    # ---------------------------------------------------------------- basics
    def exists(self) -> bool:
        return (self.path / MANIFEST).exists()

    def check_usable(self) -> None:
        """Refuse a path that is a file, or a non-empty directory that is not a store."""
        if self.path.exists() and not self.path.is_dir():
            raise AsiInputError("lagret ska vara en katalog / the store must be a directory", file=str(self.path))
        if self.path.is_dir() and not self.exists():
            foreign = [p.name for p in self.path.iterdir() if p.name not in _OWN_FILES and not p.name.startswith(".")]
            if foreign:
                raise AsiInputError("katalogen är inte tom och inte ett lager (manifest.json saknas) / "
                                    "directory is not empty and not a store (no manifest.json)", file=str(self.path))

    @contextlib.contextmanager
    def lock(self, purpose: str = "ingest"):
        """Hold the store for one writer (ingest, forget) while it reads, changes and writes.

        A lock file ``.lock`` (created exclusively) names the process, host
        and time. A second writer gets a clear refusal instead of a lost
        update. A lock left by a process that no longer runs on this host
        (killed, power cut) is taken over; one from another host is not,
        and the message says which file to remove once nobody writes.

        Raises
        ------
        AsiInputError
            Another run holds the store.
        """
        self.check_usable()
        self.path.mkdir(parents=True, exist_ok=True)
        path = self.path / LOCK
        me = {"pid": os.getpid(), "host": socket.gethostname(), "time": now_iso(), "purpose": purpose}
        for _ in range(2):
            try:
                fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
                break
            except FileExistsError:
                try:
                    other = json.loads(path.read_text(encoding="utf-8"))
                except (OSError, ValueError):
                    other = {}
                if other.get("host") == me["host"] and isinstance(other.get("pid"), int) \
                        and not _pid_alive(other["pid"]):
                    path.unlink(missing_ok=True)  # stale: its process is gone
                    continue
                raise AsiInputError(
                    f"lagret används av en annan körning ({other.get('purpose', '?')}, process {other.get('pid', '?')} "
                    f"på {other.get('host', '?')}, sedan {other.get('time', '?')}); vänta tills den är klar. Om ingen "
                    f"körning pågår: ta bort {path} / the store is in use by another run; if none is running, "
                    f"remove the lock file", file=str(self.path)) from None
        else:  # pragma: no cover - another run took the stale lock first
            raise AsiInputError("lagret används av en annan körning / the store is in use", file=str(self.path))
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(me, f)
        try:
            yield self
        finally:
            path.unlink(missing_ok=True)

    @property
    def manifest(self) -> dict:
        if self._manifest is None:
            p = self.path / MANIFEST
            if p.exists():
                try:
                    self._manifest = json.loads(p.read_text(encoding="utf-8"))
                except (OSError, ValueError) as exc:
                    raise AsiInputError(f"manifest.json kan inte läsas ({exc.__class__.__name__}) / cannot read manifest",
                                        file=str(self.path)) from None
                if self._manifest.get("format") != STORE_FORMAT:
                    raise AsiInputError("inte ett asi-kit-lager / not an asi-kit store", file=str(self.path))
            else:
                self._manifest = {"format": STORE_FORMAT, "version": STORE_VERSION, "created": now_iso(),
                                  "key_fingerprint": None, "ingests": [], "corrections": [], "erasures": []}
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
        if not p.exists():
            return empty_table(table)
        try:
            df = pd.read_parquet(p)
        except Exception as exc:
            raise AsiInputError(f"tabellen kan inte läsas ({exc.__class__.__name__}) / cannot read table",
                                file=str(p)) from None
        return coerce_table(df, table).reset_index(drop=True)

    def write_table(self, table: str, df: pd.DataFrame) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        out = coerce_table(df, table).reset_index(drop=True)
        _atomic(self.table_path(table), lambda p: out.to_parquet(p, index=False))

    def read_quarantine(self) -> pd.DataFrame:
        p = self.path / QUARANTINE
        if not p.exists():
            return pd.DataFrame({c: pd.Series([], dtype="int64" if c == "row" else "object") for c in QUARANTINE_COLUMNS})
        return pd.read_parquet(p)

    def write_quarantine(self, df: pd.DataFrame) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        out = df[QUARANTINE_COLUMNS].reset_index(drop=True)
        for c in QUARANTINE_COLUMNS:
            out[c] = out[c].astype("int64") if c == "row" else out[c].astype(object).where(out[c].notna(), None)
        _atomic(self.path / QUARANTINE, lambda p: out.to_parquet(p, index=False))

    # ---------------------------------------------------------------- merge
    def merge(self, table: str, current: pd.DataFrame, new: pd.DataFrame, *,
              accept_corrections: bool = False, ingest_id: str = "") -> tuple[pd.DataFrame, MergeResult]:
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
        """
        cb = load_codebook()
        ident = cb.identity(table)
        res = MergeResult()
        if new.empty:
            return current, res
        cur = coerce_table(current, table).reset_index(drop=True)
        nw = coerce_table(new, table)
        ck, nk = _key_series(cur, ident), _key_series(nw, ident)
        ch = pd.Series(_content_hash(cur).to_numpy(), index=ck.to_numpy())
        nh = _content_hash(nw)
        known = nk.isin(ch.index)
        stored_hash = nk.map(ch[~ch.index.duplicated()])
        same = known & (stored_hash.to_numpy() == nh.to_numpy())
        differ = known & ~same
        res.added = int((~known).sum())
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
        parts.append(nw[(~known).to_numpy()])
        merged = pd.concat([p for p in parts if len(p)], ignore_index=True) if any(len(p) for p in parts) else cur
        return coerce_table(merged, table), res

    # ---------------------------------------------------------------- erasure
    def forget(self, client_pid: str) -> dict:
        """Erase every record of one client (tables, quarantine, corrections log).

        The manifest gets an audit entry with the time and counts only.

        Returns
        -------
        dict
            Records removed per table (and ``quarantine``, ``corrections``).
        """
        if not self.exists():
            raise AsiInputError("inget lager här (manifest.json saknas) / no store here", file=str(self.path))
        removed = {}
        for t in TABLES:
            df = self.read_table(t)
            hit = (df["client_pid"] == client_pid).fillna(False).to_numpy()
            removed[t] = int(hit.sum())
            if hit.any():
                self.write_table(t, df[~hit])
        q = self.read_quarantine()
        qhit = (q["client_pid"] == client_pid).fillna(False).to_numpy()
        removed["quarantine"] = int(qhit.sum())
        if qhit.any():
            self.write_quarantine(q[~qhit])
        corr = self.manifest.get("corrections", [])
        keep = [c for c in corr if c.get("client_pid") != client_pid]
        removed["corrections"] = len(corr) - len(keep)
        self.manifest["corrections"] = keep
        self.manifest.setdefault("erasures", []).append(
            {"time": now_iso(), "records_removed": int(sum(removed.values())), "by_table": removed})
        self.save_manifest()
        return removed

    def ingest_log(self) -> pd.DataFrame:
        """Every file of every ingest, with where each of its rows went.

        Returns
        -------
        pandas.DataFrame
            One row per file and ingest: ``ingest_id``, ``time``, ``file``,
            ``table``, ``status``, ``read``, ``accepted_new``,
            ``accepted_unchanged``, ``corrected``, ``quarantined`` and
            ``accounted`` (True when read = accepted + corrected + quarantined,
            the promise that no row is silently lost). Counts of rows, never
            of identifiers; the manifest holds nothing else.
        """
        counts = ["read", "accepted_new", "accepted_unchanged", "corrected", "quarantined"]
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
        }


def _pid_alive(pid: int) -> bool:
    """True when a process with this id runs on this host (or we may not ask)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _describe_corrections(table, old_rows, new_rows, ident, ingest_id) -> list:
    out = []
    t = now_iso()
    old_s = old_rows.reset_index(drop=True).astype(object).where(old_rows.reset_index(drop=True).notna(), None)
    new_s = new_rows.reset_index(drop=True).astype(object).where(new_rows.reset_index(drop=True).notna(), None)
    for i in range(len(new_s)):  # a handful of corrected records per ingest
        o, n = old_s.iloc[i], new_s.iloc[i]
        changes = {c: [None if o[c] is None else str(o[c]), None if n[c] is None else str(n[c])]
                   for c in new_s.columns if str(o[c]) != str(n[c]) and c != "comment"}
        if "comment" in new_s.columns and str(o["comment"]) != str(n["comment"]):
            changes["comment"] = ["(ändrad / changed)", "(ändrad / changed)"]  # free text is not logged
        out.append({"time": t, "ingest_id": ingest_id, "table": table, "client_pid": str(n["client_pid"]),
                    "identity": {c: str(n[c]) for c in ident if c != "client_pid"}, "changes": changes})
    return out


def quarantine_records(raw_rows: pd.DataFrame, pids: pd.Series, problems: pd.DataFrame, *, table: str,
                       file: str, sheet, ingest_id: str) -> pd.DataFrame:
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
        raise AsiInputError("inget lager här (manifest.json saknas) / no store here (no manifest.json)", file=str(path))
    tables = {t: st.read_table(t) for t in TABLES}
    return Dataset(**tables, meta={"source": "store", "store": str(st.path), "summary": st.summary()})


# ---------------------------------------------------------------- CLI
def _forget_cmd(args: argparse.Namespace) -> int:
    from .pseudonym import key_fingerprint, load_key, parse_personal_numbers, pseudonymise_ids

    st = Store(args.store)
    if not st.exists():
        raise AsiInputError("inget lager här (manifest.json saknas) / no store here", file=str(args.store))
    key = load_key(args.key, create=False)
    st.check_key(key_fingerprint(key))
    ids = pd.Series([args.client])
    is_pnr = bool(parse_personal_numbers(ids)["valid"].iloc[0])
    if not is_pnr and not args.municipality:
        raise AsiInputError("ett lokalt klientnummer kräver --municipality / a local client number needs --municipality")
    pid = pseudonymise_ids(ids, pd.Series([args.municipality or ""]), key).iloc[0]
    with st.lock("forget"):
        removed = st.forget(pid)
    total = sum(removed.values())
    print(f"Raderat {total} poster för klienten ({', '.join(f'{k}: {v}' for k, v in removed.items() if v) or 'inga hittades'}). "
          f"Loggat i manifest.json utan identitet.")
    return 0


def _store_cmd(args: argparse.Namespace) -> int:
    st = Store(args.store)
    if not st.exists():
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
    """Add ``asi-kit store`` (summary) and ``asi-kit forget`` (erase a client)."""
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
