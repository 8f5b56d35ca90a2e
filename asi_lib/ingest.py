"""Ingest: read → map → validate → pseudonymise → store, accounting for every row.

``asi-kit ingest INPUT... --store DIR`` and :func:`ingest` do the same thing.
Per file (and sheet) the report says::

    read = accepted_new + accepted_unchanged + corrected + quarantined + forgotten

``accepted_unchanged`` are records already in the store with identical
content (re-ingesting the same export adds nothing); ``quarantined`` are rows
with an error and rows that conflict with a stored record (same identity,
other content) when corrections are not accepted; ``forgotten`` are rows of
clients erased with ``asi-kit forget`` (refused, stored nowhere).

Exit codes: 0 all rows accepted, 1 some rows quarantined, 2 some input
unusable (a file that cannot be read writes nothing; the other files of the
same call still go through).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd

from .codebook import TABLES, load_codebook
from .errors import AsiInputError, os_error_reason, output_file_arg
from .io import RawTable, open_csv, read_file
from .mapping import Mapping, apply_mapping, load_mapping
from .pseudonym import (age_at, key_fingerprint, load_key, mask_identifiers, parse_personal_numbers, pseudonymise_frame,
                        pseudonymise_ids)
from .store import QUARANTINE_COLUMNS, Store, now_iso, quarantine_records, scrub_text
from .validate import (ITEM_ERROR_POLICIES, PROBLEM_COLUMNS, RELEASABLE_RULES, RULES, empty_problems, error_rows,
                       mark_item_errors, validate_frame)


@dataclass
class FileResult:
    """Accounting for one file (one sheet of a workbook)."""

    file: str
    sheet: str | None = None
    table: str | None = None
    status: str = "ok"            # ok | unusable
    error: str | None = None
    read: int = 0
    accepted_new: int = 0
    accepted_unchanged: int = 0
    corrected: int = 0
    quarantined: int = 0          # invalid + conflicts
    forgotten: int = 0            # rows of erased clients: refused, stored nowhere
    quarantined_invalid: int = 0
    conflicts: int = 0
    already_in_quarantine: int = 0
    warnings: int = 0
    items_marked_invalid: int = 0  # --item-errors=mark: items invalidated in accepted interviews
    problems_by_rule: dict = field(default_factory=dict)

    @property
    def accepted(self) -> int:
        return self.accepted_new + self.accepted_unchanged + self.corrected


@dataclass
class IngestReport:
    """What one ingest did. ``exit_code``: 0 all accepted, 1 rows quarantined, 2 input unusable."""

    ingest_id: str
    time: str
    store: str
    as_of: str
    key_fingerprint: str
    files: list = field(default_factory=list)
    problems: pd.DataFrame = field(default_factory=empty_problems)
    released: int = 0
    resolved: int = 0             # quarantine entries of earlier ingests whose record is now accepted
    recovered: str | None = None  # an interrupted earlier commit: "completed" or "rolled_back"
    accept_corrections: bool = False

    @property
    def exit_code(self) -> int:
        if any(f.status != "ok" for f in self.files):
            return 2
        if any(f.quarantined for f in self.files):
            return 1
        return 0

    def totals(self) -> dict:
        keys = ("read", "accepted_new", "accepted_unchanged", "corrected", "quarantined", "forgotten", "conflicts",
                "warnings")
        return {k: int(sum(getattr(f, k) for f in self.files)) for k in keys}

    def to_dict(self) -> dict:
        files = []
        for f in self.files:
            d = asdict(f)
            d["accepted"] = f.accepted
            files.append(d)
        probs = self.problems.astype(object).where(self.problems.notna(), None).to_dict("records")
        return {"ingest_id": self.ingest_id, "time": self.time, "store": self.store, "as_of": self.as_of,
                "key_fingerprint": self.key_fingerprint, "accept_corrections": self.accept_corrections,
                "exit_code": self.exit_code, "totals": self.totals(), "released_from_quarantine": self.released,
                "resolved_in_quarantine": self.resolved, "recovered": self.recovered,
                "files": files, "problems": probs}

    def write_json(self, path) -> None:
        """Write :meth:`to_dict` as JSON (temporary file, then ``os.replace``: never half a report).

        Raises
        ------
        AsiInputError
            The file cannot be written.
        """
        path = Path(path)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps(self.to_dict(), ensure_ascii=False, indent=1, default=str) + "\n",
                           encoding="utf-8")
            os.replace(tmp, path)
        except OSError as exc:
            raise AsiInputError(f"rapporten kan inte skrivas: {os_error_reason(exc)} / cannot write the report",
                                file=str(path)) from None
        finally:
            tmp.unlink(missing_ok=True)

    def summary_sv(self, max_problems: int = 10) -> str:
        """Short Swedish summary naming file, row, column and rule of the first problems."""
        lines = [f"Inläsning till {self.store} (nyckel {self.key_fingerprint}, datumgräns {self.as_of})"]
        if self.recovered:
            lines.append("OBS: en tidigare körning avbröts mitt i skrivningen; den har "
                         + ("slutförts." if self.recovered == "completed" else "rullats tillbaka (inget av den sparades)."))
        for f in self.files:
            where = f"{f.file}" + (f" [{f.sheet}]" if f.sheet else "")
            if f.status != "ok":
                lines.append(f"{where}: KAN INTE ANVÄNDAS – {f.error}")
                continue
            lines.append(f"{where} ({f.table}): {f.read} rader: {f.accepted} godkända "
                         f"({f.accepted_new} nya, {f.accepted_unchanged} fanns redan oförändrade"
                         + (f", {f.corrected} rättade" if f.corrected else "") + f"), {f.quarantined} i karantän"
                         + (f" (varav {f.conflicts} i konflikt med lagret)" if f.conflicts else "")
                         + (f", {f.warnings} varningar" if f.warnings else "")
                         + (f", {f.items_marked_invalid} ogiltiga uppgifter markerade" if f.items_marked_invalid else "")
                         + ".")
        for f in (f for f in self.files if f.forgotten):
            lines.append(f"{f.file}: {f.forgotten} rader avvisade: klienten är raderad (asi-kit forget); "
                         f"återta med asi-kit readmit.")
        if self.released:
            lines.append(f"Släppta ur karantän: {self.released} uppföljningar vars grundintervju nu finns.")
        if self.resolved:
            lines.append(f"Lösta i karantänen: {self.resolved} rader från tidigare inläsningar vars post nu är godkänd.")
        errs = self.problems[self.problems["severity"] == "error"]
        if len(errs):
            lines.append(f"Första problemen ({min(len(errs), max_problems)} av {len(errs)} fel; alla i --report):")
            for r in errs.head(max_problems).itertuples(index=False):
                val = f" värde '{r.value}'" if r.value not in ("", None) else ""
                lines.append(f"  {Path(str(r.file)).name}{f' [{r.sheet}]' if r.sheet else ''} rad {r.row}, "
                             f"kolumn {r.column}: {r.rule}{val} – {r.message_sv}")
        t = self.totals()
        lines.append(f"Totalt {t['read']} rader: {t['accepted_new']} nya, {t['accepted_unchanged']} oförändrade, "
                     f"{t['corrected']} rättade, {t['quarantined']} i karantän"
                     + (f", {t['forgotten']} avvisade (raderade klienter)" if t['forgotten'] else "")
                     + f". Slutkod {self.exit_code}.")
        return "\n".join(lines)


def _conflict_problems(raw: RawTable, rows, table: str) -> pd.DataFrame:
    if not len(rows):
        return empty_problems()
    cb = load_codebook()
    date_col = cb.date_column(table)
    sev, sv, en = RULES["conflict_stored"]
    return pd.DataFrame({"file": str(raw.file), "sheet": raw.sheet, "row": list(rows), "column": date_col,
                         "value": raw.data.loc[list(rows), date_col].to_numpy() if date_col in raw.data else "",
                         "rule": "conflict_stored", "severity": sev,
                         "message_sv": f"{cb.column(table, date_col).label_sv} ({date_col}): {sv}",
                         "message_en": f"{cb.column(table, date_col).label_en} ({date_col}): {en}"})


def _parse_as_of(as_of) -> pd.Timestamp:
    if as_of is None:
        return pd.Timestamp.today().normalize()
    try:
        return pd.Timestamp(as_of).normalize()
    except (ValueError, TypeError):
        raise AsiInputError(f"ogiltigt datum för --as-of: '{as_of}' (ÅÅÅÅ-MM-DD) / invalid --as-of date") from None


def ingest(paths, store, *, mapping=None, table: str | None = None, as_of=None, key_path=None,
           accept_corrections: bool = False, key: bytes | None = None, item_errors: str = "quarantine",
           chunk_rows: int | None = None) -> IngestReport:
    """Ingest export files into a store.

    Parameters
    ----------
    paths : str, Path or list of them
        CSV/Excel files in template format (or mapped with ``mapping``).
    store : str, Path or Store
        Store directory (created if missing).
    mapping : str, Path or Mapping, optional
        Mapping file for foreign exports.
    table : str, optional
        Force the table of every input.
    as_of : date-like, optional
        Dates after it are errors (default today).
    key_path : str or Path, optional
        Key file (default :func:`asi_lib.pseudonym.default_key_path`; created if missing).
    accept_corrections : bool
        Replace stored records that conflict with incoming ones (logged).
    key : bytes, optional
        The key itself (tests, demo); overrides ``key_path``.
    item_errors : {"quarantine", "mark"}
        Policy for errors in single ASI items (:data:`asi_lib.validate.ITEM_RULES`):
        ``quarantine`` (default) quarantines the interview; ``mark`` keeps it
        with the offending items empty and counts them
        (``FileResult.items_marked_invalid``). Errors that make the whole row
        untrustworthy always quarantine.
    chunk_rows : int, optional
        Rows per chunk when reading a CSV file: None (default) about eight
        million cells per chunk (:func:`auto_chunk_rows`); 0 reads every
        file whole (the earlier path, kept for comparison). The store, the
        quarantine and the report are the same for any chunk size.

    Returns
    -------
    IngestReport

    Raises
    ------
    AsiInputError
        The store is unusable or made with another key, the mapping is
        invalid, or ``as_of`` is not a date. Unreadable *files* do not raise:
        they are reported (status ``unusable``) and the others go through.

    Notes
    -----
    Tables are processed in the order Grund, Uppföljning, bortfall, insatser
    so that follow-ups find the baselines of the same batch. After the
    batch, quarantined follow-ups whose only errors were a missing or later
    baseline are re-checked and released when the baseline now exists.
    """
    as_of_ts = _parse_as_of(as_of)
    if item_errors not in ITEM_ERROR_POLICIES:
        raise AsiInputError(f"okänd policy för fel i enskilda uppgifter: '{item_errors}' "
                            f"({' eller '.join(ITEM_ERROR_POLICIES)}) / unknown --item-errors policy")
    if isinstance(paths, (str, Path)):
        paths = [paths]
    st = store if isinstance(store, Store) else Store(store)
    with st.lock("ingest"):
        st._manifest = None  # read it under the lock: another run may have just written it
        return _ingest_locked(paths, st, mapping=mapping, table=table, as_of_ts=as_of_ts, key_path=key_path,
                              accept_corrections=accept_corrections, key=key, item_errors=item_errors,
                              chunk_rows=chunk_rows)


def _ingest_locked(paths, st: Store, *, mapping, table, as_of_ts, key_path, accept_corrections, key,
                   item_errors="quarantine", chunk_rows=None) -> IngestReport:
    """The body of :func:`ingest`, run while the store is locked."""
    if key is None:  # an existing store never gets a freshly created (hence wrong) key
        key = load_key(key_path, create=not (st.exists() and st.manifest.get("key_fingerprint")))
    fp = key_fingerprint(key)
    st.check_key(fp)
    if mapping is not None and not isinstance(mapping, Mapping):
        try:
            mapping = load_mapping(mapping)
        except UnicodeDecodeError as exc:
            raise AsiInputError(f"mappningsfilen är inte UTF-8 (byte {exc.start}); spara den som UTF-8 / the mapping "
                                f"file is not UTF-8: save it as UTF-8", file=str(mapping)) from None
        except OSError as exc:
            raise AsiInputError(f"mappningsfilen kan inte läsas: {os_error_reason(exc)} / cannot read the mapping file",
                                file=str(mapping)) from None
    ingest_id = uuid.uuid4().hex[:12]
    report = IngestReport(ingest_id=ingest_id, time=now_iso(), store=str(st.path), as_of=str(as_of_ts.date()),
                          key_fingerprint=fp, accept_corrections=accept_corrections, recovered=st.recovered)
    # 1. open every input (encoding, header, table: the checks that refuse a whole file), rows not read yet
    sources: list[_Source] = []
    unusable: list[tuple[int, FileResult]] = []
    for i, p in enumerate(paths):
        try:
            sources.extend(_open_sources(i, p, table=table, mapping=mapping, chunk_rows=chunk_rows))
        except AsiInputError as exc:
            unusable.append((i, _unusable(p, exc)))
    sources.sort(key=lambda s: TABLES.index(s.table))

    current = {t: st.read_table(t) for t in TABLES}
    changed: set[str] = set()
    quarantine = st.read_quarantine()
    release_memory()  # the Parquet buffers of the store just read
    new_q: list[pd.DataFrame] = []
    corrections: list[dict] = []
    all_problems: list[pd.DataFrame] = []
    baselines = current["grund"][["client_pid", "interview_date"]].rename(columns={"client_pid": "client_key"})
    known_qids = set(quarantine["qid"])
    accepted_keys: dict[str, set] = {t: set() for t in TABLES}
    # identities of earlier ingests' quarantine entries: only these can be resolved by an accepted row (drop_resolved),
    # so only accepted identities among them are kept (not one Python string per accepted row: ~160 MB at 10^6 rows)
    old_q_ids = {t: set(quarantine.loc[quarantine["table"] == t, "identity"].dropna()) if "identity" in quarantine
                 else set() for t in TABLES}
    requarantined: dict[str, set] = {t: set() for t in TABLES}
    this_qids: set = set()
    processed: list[FileResult] = []

    # 2. each file (sheet) in chunks: map, validate, pseudonymise; then one merge per file
    for src in sources:
        t = src.table
        try:
            out = _ingest_source(src, st, current[t], key=key, mapping=mapping, as_of_ts=as_of_ts, baselines=baselines,
                                 item_errors=item_errors, accept_corrections=accept_corrections, ingest_id=ingest_id)
        except AsiInputError as exc:  # a record pandas cannot parse, met while streaming: the file writes nothing
            unusable.append((src.index, _unusable(src.path, exc)))
            continue
        res, problems, q, accepted, conflict_rows, merged, mres = out
        current[t] = merged
        if mres.added or mres.corrected:
            changed.add(t)
        corrections.extend(mres.corrections)
        if q is not None:
            requarantined[t] |= set(q["identity"].dropna())
            this_qids |= set(q["qid"])
            res.already_in_quarantine = int(q["qid"].isin(known_qids).sum())
            q = q[~q["qid"].isin(known_qids)]
            known_qids |= set(q["qid"])
            new_q.append(q)
        if old_q_ids[t] and len(accepted):
            keys = st.identity_keys(t, accepted.loc[~accepted.index.isin(conflict_rows)])
            accepted_keys[t] |= set(keys[keys.isin(old_q_ids[t]).to_numpy()].dropna())
            del keys
        if t == "grund" and len(accepted):
            baselines = pd.concat([baselines, accepted[["client_pid", "interview_date"]].rename(
                columns={"client_pid": "client_key"})], ignore_index=True)
        del accepted, out
        release_memory()
        all_problems.append(problems)
        processed.append(res)
    report.files = [r for _, r in sorted(unusable, key=lambda x: x[0])] + processed

    quarantine = pd.concat([quarantine, *new_q], ignore_index=True) if new_q else quarantine
    quarantine, resolved = st.drop_resolved(quarantine, accepted_keys, ingest_id, requarantined, this_qids)
    quarantine, released = _release(quarantine, baselines, current, st, as_of_ts, accept_corrections, ingest_id)
    if released:
        changed.add("uppfoljning")
    report.released, report.resolved = released, resolved
    report.problems = (pd.concat(all_problems, ignore_index=True)[PROBLEM_COLUMNS] if all_problems else empty_problems())
    report.problems["file"] = scrub_text(report.problems["file"].astype(str)) if len(report.problems) else report.problems["file"]
    report.problems["sheet"] = report.problems["sheet"].map(mask_identifiers, na_action="ignore")

    # write: tables, quarantine and manifest as one transaction (Store.commit)
    q_changed = bool(new_q) or bool(released) or bool(resolved) or not st._resolve("quarantine.parquet").exists()
    m = st.manifest
    m.setdefault("ingests", []).append({
        "ingest_id": ingest_id, "time": report.time, "as_of": report.as_of, "key_fingerprint": fp,
        "accept_corrections": accept_corrections, "released_from_quarantine": released,
        "resolved_in_quarantine": resolved,
        "files": [{"file": scrub_text(pd.Series([Path(f.file).name])).iloc[0], "sheet": f.sheet, "table": f.table,
                   "status": f.status, "read": f.read, "accepted_new": f.accepted_new,
                   "accepted_unchanged": f.accepted_unchanged, "corrected": f.corrected,
                   "quarantined": f.quarantined, "forgotten": f.forgotten, "conflicts": f.conflicts,
                   "problems_by_rule": f.problems_by_rule}
                  for f in report.files],
        "counts_after": {t: int(len(current[t])) for t in TABLES} | {"quarantine": int(len(quarantine))},
    })
    m.setdefault("corrections", []).extend(corrections)
    st.commit({t: current[t] for t in changed}, quarantine if q_changed else None)
    return report


@dataclass
class _Source:
    """One table of one input, opened but not read: ``chunks()`` yields its rows as RawTables."""

    index: int          # position of the file in the call (report order of unusable files)
    path: object
    table: str
    file: str
    sheet: str | None
    chunks: object      # callable () -> iterator of RawTable (may be called again: conflicts)


def _unusable(path, exc) -> FileResult:
    return FileResult(file=mask_identifiers(str(path)), status="unusable", error=mask_identifiers(str(exc)))


CHUNK_CELLS = 8_000_000  # cells per chunk of a streamed CSV file (see :func:`auto_chunk_rows`)
CHUNK_MAX_ROWS = 100_000  # and at most this many rows


def auto_chunk_rows(n_columns: int) -> int:
    """Rows per chunk of a streamed CSV file: about eight million cells, at most 100,000 rows, at least 1,000.

    Parameters
    ----------
    n_columns : int
        Columns of the file.

    Returns
    -------
    int
        ``min(CHUNK_MAX_ROWS, max(1000, CHUNK_CELLS // n_columns))``,
        ``CHUNK_CELLS`` = 8,000,000, ``CHUNK_MAX_ROWS`` = 100,000.

    Notes
    -----
    Measured on the national set (968,939 rows, 2-core machine): each chunk
    costs a fixed ~0.3-0.5 s of per-column pandas work in validation, so the
    88-column Grund file took 13 chunks at two million cells and 4 at eight
    million (CPU time of the whole ingest 29.4 s -> 24.8 s, the same as
    reading every file whole); the peak stayed at ~840 MB then. With the
    merge into an empty table copying nothing, the peak of a first ingest
    (~770 MB) is a 100,000-row Uppföljning chunk being validated while the
    Grund table is held (+250-400 MB per chunk in flight).
    The row cap keeps a narrow file (insatser: 11 columns) from becoming one
    chunk.

    Examples
    --------
    >>> auto_chunk_rows(88), auto_chunk_rows(11), auto_chunk_rows(50_000)
    (90909, 100000, 1000)
    """
    return min(CHUNK_MAX_ROWS, max(1000, CHUNK_CELLS // max(int(n_columns), 1)))


def _open_sources(index: int, path, *, table, mapping, chunk_rows) -> list[_Source]:
    """The inputs of one path: a CSV opened for streaming (``chunk_rows`` != 0), else read whole (Excel, or 0)."""
    p = Path(path)
    if chunk_rows != 0 and p.suffix.lower() not in (".xlsx", ".xlsm", ".xls") and p.is_file() and \
            (table is None or table in TABLES):
        src = open_csv(p, table=table, mapping=mapping)
        n = chunk_rows or auto_chunk_rows(len(src.names))
        return [_Source(index, path, src.table, src.file, None, lambda src=src, n=n: src.chunks(n))]
    return [_Source(index, path, raw.table, raw.file, raw.sheet, lambda raw=raw: iter([raw]))
            for raw in read_file(p, table=table, mapping=mapping)]


def release_memory() -> None:
    """Give freed memory back to the operating system (Arrow's pool and, on glibc, ``malloc_trim``).

    Freed chunks otherwise stay in the process (its peak RSS then grows with
    every chunk although the data do not). Called once per file.

    Examples
    --------
    >>> release_memory()
    """
    try:
        import pyarrow as pa
        pa.default_memory_pool().release_unused()
    except Exception:  # pragma: no cover - pyarrow is a pandas 3 string backend here, but never required
        pass
    global _LIBC
    if _LIBC is None:
        import ctypes
        import ctypes.util
        try:
            _LIBC = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            _LIBC.malloc_trim  # noqa: B018 - glibc only
        except (OSError, AttributeError):  # pragma: no cover - not glibc
            _LIBC = False
    if _LIBC:
        _LIBC.malloc_trim(0)


_LIBC = None


def _ingest_source(src: _Source, st: Store, stored: pd.DataFrame, *, key, mapping, as_of_ts, baselines, item_errors,
                   accept_corrections, ingest_id):
    """Validate and pseudonymise one file (sheet) chunk by chunk, then merge its accepted rows in one step.

    Per chunk only the accepted rows (typed, store dtypes) and the rows to
    quarantine are kept; the text of the chunk is dropped. Duplicates are
    found across chunks (``context["seen"]``) with the first row's real row
    number. Raises :class:`AsiInputError` for a record pandas cannot parse;
    the caller then drops everything of this file.
    """
    t = src.table
    cb = load_codebook()
    date_col = cb.date_column(t)
    res = FileResult(file=mask_identifiers(str(src.file)), sheet=mask_identifiers(src.sheet), table=t)
    seen: dict = {}
    accepted_parts, pid_parts, id_parts, mun_parts, row_parts, bad_raw, bad_typed, prob_parts = ([] for _ in range(8))
    header_problems = None
    last_raw = None
    used: dict = {}
    for raw in src.chunks():
        raw = apply_mapping(raw, mapping, used=used)
        df = raw.data
        last_raw = raw.with_data(df.iloc[:0])
        res.read += len(df)
        mun = df["municipality"] if "municipality" in df else pd.Series("", index=df.index)
        pids = pseudonymise_ids(df["client_id"], mun, key)
        gone = st.forgotten(pids).to_numpy()
        if gone.any():  # erased clients: refused before validation, stored nowhere (not even in quarantine)
            res.forgotten += int(gone.sum())
            df, mun, pids = df[~gone], mun[~gone], pids[~gone]
            raw = dataclasses.replace(raw, data=df)
        typed, problems = validate_frame(raw, as_of=as_of_ts, context={"client_key": pids, "baselines": baselines,
                                                                      "seen": seen})
        if item_errors == "mark":
            typed, problems, marked = mark_item_errors(typed, problems, t)
            res.items_marked_invalid += marked
        head = problems["row"] == 1  # header notes: the same in every chunk (the last one holds them all)
        header_problems = problems[head]
        prob_parts.append(problems[~head])
        bad = error_rows(problems)
        ok = typed.loc[~typed.index.isin(bad)]
        accepted_parts.append(pseudonymise_frame(ok, key, table=t, pids=pids.loc[ok.index]))
        if len(bad):
            bad_raw.append(df.loc[bad])
            bad_typed.append(typed.loc[bad])
        pid_parts.append(pids)
        id_parts.append(df["client_id"].astype("string"))
        mun_parts.append(mun.astype("string"))
        row_parts.append(len(bad))
        del typed, problems, ok, df, raw
    release_memory()  # once per file: per chunk, malloc_trim cost more time than it saved memory
    parts = [p for p in (header_problems, *prob_parts) if p is not None and len(p)]
    problems = pd.concat(parts, ignore_index=True) if parts else empty_problems()
    del prob_parts
    accepted = pd.concat(accepted_parts) if len(accepted_parts) > 1 else accepted_parts[0]
    del accepted_parts
    pids = pd.concat(pid_parts) if len(pid_parts) > 1 else pid_parts[0]
    mun = pd.concat(mun_parts) if len(mun_parts) > 1 else mun_parts[0]
    ids = pd.concat(id_parts).to_frame("client_id") if len(id_parts) > 1 else id_parts[0].to_frame("client_id")
    del pid_parts, mun_parts, id_parts
    merged, mres = st.merge(t, stored, accepted, accept_corrections=accept_corrections, ingest_id=ingest_id,
                            other_pids=_other_pids(ids, mun, pids, stored, key))
    conflict_rows = list(mres.conflicts)
    conflict_raw = _rows_of(src, mapping, conflict_rows) if conflict_rows else None
    if conflict_raw is not None:
        problems = pd.concat([problems, _conflict_problems(dataclasses.replace(last_raw, data=conflict_raw),
                                                           conflict_rows, t)], ignore_index=True)
    bad_n = sum(row_parts)
    q = None
    if bad_n or conflict_rows:
        rows = pd.concat([*bad_raw, *([conflict_raw] if conflict_raw is not None else [])]).sort_index()
        typed_q = pd.concat([*bad_typed, *([accepted.loc[conflict_rows]] if conflict_rows else [])]).loc[rows.index]
        q_rows = list(rows.index)
        if "age" in rows and "client_id" in rows:  # keep the age the personal number gives
            info = parse_personal_numbers(rows["client_id"])
            derived = age_at(info["birth_date"], typed_q[date_col]).astype("string").fillna("")
            rows["age"] = rows["age"].where(rows["age"].str.strip() != "", derived)
        q = quarantine_records(rows, pids, problems, table=t, file=mask_identifiers(str(src.file)),
                               sheet=mask_identifiers(src.sheet), ingest_id=ingest_id)
        q["identity"] = st.identity_keys(t, typed_q.assign(client_pid=pids.loc[q_rows])).to_numpy()
    res.accepted_new, res.accepted_unchanged, res.corrected = mres.added, mres.unchanged, mres.corrected
    res.conflicts = len(conflict_rows)
    res.quarantined_invalid = bad_n
    res.quarantined = bad_n + len(conflict_rows)
    res.warnings = int((problems["severity"] == "warning").sum())
    res.problems_by_rule = {str(k): int(v) for k, v in problems["rule"].value_counts().items()}
    return res, problems, q, accepted, conflict_rows, merged, mres


def _rows_of(src: _Source, mapping, rows) -> pd.DataFrame:
    """The text of some rows of a source (read again: conflicts are known only after the merge)."""
    want = pd.Index(rows)
    parts = []
    for raw in src.chunks():
        d = raw.data
        hit = d.index.isin(want)
        if hit.any():
            parts.append(apply_mapping(dataclasses.replace(raw, data=d[hit]), mapping).data)
    return pd.concat(parts).loc[list(rows)]


def _other_pids(df: pd.DataFrame, mun: pd.Series, pids: pd.Series, stored: pd.DataFrame, key: bytes):
    """For :meth:`Store.merge`: the pseudonyms rows' local client numbers have under the store's other municipalities."""
    def other(labels) -> pd.Series:
        ids, own = df.loc[labels, "client_id"], pids.loc[labels]
        parts = []
        for m in stored["municipality"].dropna().unique():  # one vectorised pass per municipality of the store
            alt = pseudonymise_ids(ids, pd.Series(str(m), index=ids.index), key)
            parts.append(alt[(alt != own).fillna(False).to_numpy() & mun.loc[labels].ne(m).to_numpy()])
        return pd.concat(parts) if parts else pd.Series(dtype=object)
    return other


def _release(quarantine, baselines, current, st, as_of_ts, accept_corrections, ingest_id):
    """Re-check quarantined follow-ups whose only errors were a missing/later baseline."""
    if quarantine.empty:
        return quarantine, 0
    rules = quarantine["rules"].fillna("").str.split(",")
    cand = (quarantine["table"] == "uppfoljning") & rules.map(lambda r: bool(r) and set(r) <= RELEASABLE_RULES)
    if not cand.any():
        return quarantine, 0
    sub = quarantine[cand]
    data = pd.DataFrame([json.loads(d) for d in sub["data"]], index=pd.RangeIndex(2, 2 + len(sub), name="row")).fillna("")
    data = data.astype(str)
    raw = RawTable("uppfoljning", "karantän", None, data)
    typed, problems = validate_frame(raw, as_of=as_of_ts, context={"baselines": baselines})
    bad = error_rows(problems)
    ok = typed.loc[~typed.index.isin(bad)]
    if ok.empty:
        return quarantine, 0
    merged, mres = st.merge("uppfoljning", current["uppfoljning"], ok, accept_corrections=accept_corrections,
                            ingest_id=ingest_id)
    current["uppfoljning"] = merged
    released_pos = [i for i, row in zip(sub.index, data.index) if row in ok.index and row not in set(mres.conflicts)]
    return quarantine.drop(index=released_pos).reset_index(drop=True), len(released_pos)


# ---------------------------------------------------------------- CLI
def _ingest_cmd(args: argparse.Namespace) -> int:
    report = ingest(args.inputs, args.store, mapping=args.mapping, table=args.table, as_of=args.as_of,
                    key_path=args.key, accept_corrections=args.accept_corrections,
                    item_errors=getattr(args, "item_errors", "quarantine"))
    if args.report:
        report.write_json(args.report)
    print(report.summary_sv())
    return report.exit_code


def register_cli(subparsers) -> None:
    """Add ``asi-kit ingest``."""
    p = subparsers.add_parser(
        "ingest", help="läs in exportfiler till ett lager / ingest export files into a store",
        description="Läser CSV/Excel, kontrollerar mot kodboken, pseudonymiserar och sparar i lagret. "
                    "Slutkod 0 = allt godkänt, 1 = rader i karantän, 2 = fil som inte kan användas.")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="CSV- eller Excel-filer")
    p.add_argument("--store", required=True, metavar="DIR", help="lagrets katalog")
    p.add_argument("--mapping", metavar="FILE", help="mappningsfil (YAML) för egna kolumnnamn och värden")
    p.add_argument("--report", metavar="FILE.json", type=output_file_arg,
                   help="skriv rapport med alla problem som JSON (kontrolleras innan något skrivs)")
    p.add_argument("--table", choices=list(TABLES), help="tvinga tabell (annars från rubrikraden/bladnamnet)")
    p.add_argument("--as-of", metavar="YYYY-MM-DD", help="datum efter detta är fel (standard: i dag)")
    p.add_argument("--key", metavar="FILE", help="nyckelfil (standard ~/.config/asi-kit/pseudonym.key eller $ASI_KIT_KEY_FILE)")
    p.add_argument("--accept-corrections", action="store_true",
                   help="ersätt lagrade poster som ändrats i exporten (loggas i manifest.json)")
    p.add_argument("--item-errors", choices=list(ITEM_ERROR_POLICIES), default="quarantine",
                   help="fel i en enskild ASI-uppgift: quarantine = intervjun i karantän (standard); "
                        "mark = behåll intervjun, gör bara de felaktiga uppgifterna ogiltiga (räknas i rapporten)")
    p.set_defaults(func=_ingest_cmd)


if __name__ == "__main__":  # pragma: no cover
    from .cli import main
    sys.exit(main(["ingest", *sys.argv[1:]]))
