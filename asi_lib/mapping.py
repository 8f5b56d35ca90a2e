"""Mapping files: a case system's own headers and values onto the codebook.

A mapping is a small YAML file (format in ``docs/ingest.md``, example in
``data_templates/mapping_example.yaml``)::

    table: grund                      # optional: the table the export holds
    date_format: "%d-%m-%Y"           # optional: strptime format for every date column
    columns:                          # export header -> codebook column
      Personnummer: client_id
      Kön: sex
      Intervjudatum: interview_date
      Huvudpreparat:                  # long form: name + own values + own date format
        name: main_substance
        values: {Amfetamin: amphetamine, Blandmissbruk: several}
    values: {Kvinna: female, Man: male}   # for every coded column
    missing: {X: ["Vet ej", "Vill ej svara"], N: ["Ej aktuellt"], empty: ["-"]}
    missing_groups:                   # own X/N/empty spellings for a group of columns
      - {areas: [alcohol, drugs], N: ["Inget bruk"], empty: ["Ej frågat"]}
    ignore: [Handläggare]             # export columns to drop without a warning

Headers and values are matched case-insensitively after trimming spaces.
Per-column values win over ``missing_groups``, which win over global
``values``, which win over ``missing``. ``empty`` (or a value mapped to
``""``) makes the cell empty. Identifier and free-text columns are never
recoded. A global ``values`` or ``missing`` entry is not applied to a column
where the spelling is already one of the column's own codes or labels with
another meaning (``Ja`` is 2 in ``relationship_satisfied``): the codebook
reading wins and a ``mapping_value_skipped`` warning names the column.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import yaml

from .codebook import TABLES, load_codebook
from .errors import AsiInputError
from .io import READ_PROBLEM_COLUMNS, RawTable, decode_export

_NO_RECODE = ("id", "string", "text")


def _key(v) -> str:
    return " ".join(str(v).split()).casefold()


def _val(v) -> str:
    if isinstance(v, bool):
        return "1" if v else "0"
    return str(v).strip()


@dataclass
class Mapping:
    """A parsed mapping file (see module docstring).

    Made by :func:`mapping_from_dict` or :func:`load_mapping`; keys are
    casefolded with runs of spaces collapsed. The attributes are also the
    constructor's parameters.

    Attributes
    ----------
    path : str or None
        The mapping file, named in messages.
    table : str or None
        The table the export holds, when the mapping says.
    columns : dict
        Export header → codebook column name.
    column_values : dict
        Codebook column name → {export value → code} for that column only.
    values : dict
        Export value → code, for every coded column.
    missing : dict
        Export spelling → ``"X"`` (not answered) or ``"N"`` (not relevant).
    date_formats : dict
        Codebook column name → its own strptime format.
    date_format : str or None
        strptime format for every other date column.
    ignore : set of str
        Export headers dropped without a warning.
    missing_groups : list of tuple
        ``(set of codebook column names, {spelling: "X" | "N" | ""})`` per
        group, from ``missing_groups`` (``columns`` and/or ``areas``).
    written : dict
        Casefolded header key → the header as written in the mapping file
        (named in messages).

    Examples
    --------
    >>> m = Mapping(columns={"kön": "sex"}, ignore={"handläggare"})
    >>> m.target("Kön"), m.target("Handläggare"), m.target("Okänd")
    ('sex', '', None)
    """

    path: str | None = None
    table: str | None = None
    columns: dict = field(default_factory=dict)        # casefolded header -> codebook name
    column_values: dict = field(default_factory=dict)  # codebook name -> {casefolded value: code}
    values: dict = field(default_factory=dict)         # casefolded value -> code
    missing: dict = field(default_factory=dict)        # casefolded spelling -> "X" / "N"
    date_formats: dict = field(default_factory=dict)   # codebook name -> strptime format
    date_format: str | None = None
    ignore: set = field(default_factory=set)           # casefolded headers
    missing_groups: list = field(default_factory=list)  # [(set of column names, {casefolded spelling: X/N/""})]
    written: dict = field(default_factory=dict)         # casefolded header -> as written in the file

    def target(self, header: str) -> str | None:
        """Codebook name for an export header ('' for ignored, None if unmapped)."""
        k = _key(header)
        if k in self.ignore:
            return ""
        return self.columns.get(k)


def mapping_from_dict(spec: dict, *, path: str | None = None) -> Mapping:
    """Build a :class:`Mapping` from the parsed YAML (validated against the codebook).

    Parameters
    ----------
    spec : dict
        The YAML as parsed: optional keys ``table``, ``date_format``,
        ``columns``, ``values``, ``missing``, ``ignore`` and ``description``
        (format in the module docstring).
    path : str, optional
        The file it came from, kept as ``Mapping.path`` and named in errors.

    Returns
    -------
    Mapping
        Headers, values and missing spellings as casefolded keys; values
        and codes as stripped text (booleans as ``"1"``/``"0"``).

    Raises
    ------
    AsiInputError
        Not a dictionary, unknown keys, unknown table, a target that is not
        a codebook column, two headers on the same column, a ``missing``
        token other than X or N.

    Examples
    --------
    >>> m = mapping_from_dict({"columns": {"Kön": "sex", "Personnummer": "client_id"}, "values": {"Kvinna": "female"}})
    >>> m.target(" kön "), m.values["kvinna"]
    ('sex', 'female')
    """
    cb = load_codebook()
    where = path or "mapping"
    if not isinstance(spec, dict):
        raise AsiInputError("mappningsfilen ska vara en YAML-ordlista / mapping must be a YAML mapping", file=where)
    known = {c.name for t in TABLES for c in cb.columns(t)}
    unknown_keys = set(spec) - {"table", "date_format", "columns", "values", "missing", "missing_groups", "ignore",
                                "description"}
    if unknown_keys:
        raise AsiInputError(f"okända nycklar i mappningen: {', '.join(sorted(unknown_keys))} / unknown keys", file=where)
    m = Mapping(path=path)
    table = spec.get("table")
    if table is not None and table not in TABLES:
        raise AsiInputError(f"okänd tabell '{table}' / unknown table", file=where)
    m.table = table
    m.date_format = spec.get("date_format")
    for header, target in (spec.get("columns") or {}).items():
        if isinstance(target, dict):
            name = target.get("name")
            if target.get("values"):
                m.column_values[name] = {_key(k): _val(v) for k, v in target["values"].items()}
            if target.get("date_format"):
                m.date_formats[name] = target["date_format"]
        else:
            name = target
        if name not in known:
            raise AsiInputError(f"kolumnen '{header}' mappas på '{name}', som inte finns i kodboken / "
                                f"'{header}' maps to '{name}', not a codebook column", file=where)
        m.columns[_key(header)] = name
        m.written[_key(header)] = str(header)
    targets = list(m.columns.values())
    dup = sorted({t for t in targets if targets.count(t) > 1})
    if dup:
        raise AsiInputError(f"flera kolumner mappas på {', '.join(dup)} / several columns map to {', '.join(dup)}", file=where)
    m.values = {_key(k): _val(v) for k, v in (spec.get("values") or {}).items()}
    m.missing = _missing_tokens(spec.get("missing") or {}, "missing", where)
    for i, group in enumerate(spec.get("missing_groups") or []):
        label = f"missing_groups[{i + 1}]"
        if not isinstance(group, dict):
            raise AsiInputError(f"{label} ska vara en ordlista / must be a mapping", file=where)
        cols = set(group.get("columns") or [])
        bad_cols = sorted(c for c in cols if c not in known)
        if bad_cols:
            raise AsiInputError(f"{label}: okända kolumner {', '.join(map(str, bad_cols))} / unknown columns", file=where)
        areas = list(group.get("areas") or [])
        bad_areas = sorted(a for a in areas if a not in cb.areas)
        if bad_areas:
            raise AsiInputError(f"{label}: okända områden {', '.join(map(str, bad_areas))} (finns: "
                                f"{', '.join(cb.areas)}) / unknown areas", file=where)
        cols |= {c.name for t in TABLES for c in cb.columns(t) if c.area in areas}
        if not cols:
            raise AsiInputError(f"{label}: ange columns eller areas / give columns or areas", file=where)
        tokens = {k: v for k, v in group.items() if k not in ("columns", "areas")}
        m.missing_groups.append((cols, _missing_tokens(tokens, label, where)))
    m.ignore = {_key(h) for h in (spec.get("ignore") or [])}
    return m


def _missing_tokens(spec: dict, label: str, where: str) -> dict:
    """{spelling: "X" | "N" | ""} from ``{X: [...], N: [...], empty: [...]}``."""
    out = {}
    for token, spellings in spec.items():
        tok = str(token).strip()
        if tok.upper() in ("X", "N"):
            code = tok.upper()
        elif tok.casefold() in ("empty", "tom", "tomt"):
            code = ""
        else:
            raise AsiInputError(f"'{label}' tar bara X, N och empty (tomt), inte '{token}' / "
                                f"{label} takes X, N and empty only", file=where)
        if isinstance(spellings, str):
            spellings = [spellings]
        for s in spellings or []:
            out[_key(s)] = code
    return out


def load_mapping(path) -> Mapping:
    """Read and check a mapping file.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    Mapping

    Raises
    ------
    AsiInputError
        File missing, not YAML, mixed encodings (a file saved wholly as
        cp1252 is read), unknown target column, unknown keys.

    Examples
    --------
    >>> from importlib import resources
    >>> m = load_mapping("data_templates/mapping_example.yaml")  # doctest: +SKIP
    """
    p = Path(path)
    try:
        text, _ = decode_export(p.read_bytes(), str(path))  # UTF-8, or a file saved wholly as cp1252
        spec = yaml.safe_load(text)
    except OSError as exc:
        raise AsiInputError(f"mappningsfilen kan inte läsas ({exc.strerror or exc}) / cannot read mapping file",
                            file=str(path)) from None
    except yaml.YAMLError as exc:
        raise AsiInputError(f"mappningsfilen är inte giltig YAML ({str(exc).splitlines()[0]}) / not valid YAML",
                            file=str(path)) from None
    return mapping_from_dict(spec, path=str(path))


def apply_mapping(raw: RawTable, mapping: Mapping | None, *, used: dict | None = None) -> RawTable:
    """Rename headers, drop ignored columns, recode values and dates.

    Parameters
    ----------
    raw : RawTable
    mapping : Mapping or None
        None returns ``raw`` unchanged.
    used : dict, optional
        For a file read in chunks: column -> skipped global spellings met in
        earlier chunks, updated in place, so that the ``mapping_value_skipped``
        note of the last chunk names every spelling of the whole file.

    Returns
    -------
    RawTable
        A new RawTable; cells still text (codes, ``X``/``N`` tokens,
        ISO dates where the mapping's date format parsed them; anything else
        is left as written for :mod:`asi_lib.validate` to report).

    Examples
    --------
    >>> m = mapping_from_dict({"columns": {"Kön": "sex", "Datum": {"name": "interview_date", "date_format": "%d-%m-%Y"}},
    ...                        "values": {"Kvinna": "female"}, "missing": {"X": ["Vet ej"]}})
    >>> raw = RawTable("grund", "f.csv", None, pd.DataFrame({"Kön": ["kvinna"], "Datum": ["01-03-2024"],
    ...                "alcohol_days": ["Vet ej"]}, index=pd.Index([2], name="row")))
    >>> apply_mapping(raw, m).data.to_dict("records")
    [{'sex': 'female', 'interview_date': '2024-03-01', 'alcohol_days': 'X'}]
    """
    if mapping is None:
        return raw
    from .validate import _code_lookup

    cb = load_codebook()
    df = raw.data
    rename, drop = {}, []
    for c in df.columns:
        t = mapping.target(c)
        if t == "":
            drop.append(c)
        elif t and t != c:
            rename[c] = t
    df = df.drop(columns=drop).rename(columns=rename)
    orig = {rename.get(k, k): v for k, v in raw.original_columns.items() if k not in drop}
    cols = {c.name: c for c in cb.columns(raw.table)}
    out, skipped = {}, []
    for c in df.columns:
        s = df[c]
        col = cols.get(c)
        typ = col.type if col is not None else None
        if typ is None or typ in _NO_RECODE:
            out[c] = s
            continue
        group = {}
        for names, tokens in mapping.missing_groups:
            if c in names:
                group.update(tokens)
        if typ == "date":
            table = {**group, **mapping.column_values.get(c, {})}
        else:
            glob = {**mapping.missing, **mapping.values}
            own, _ = _code_lookup(col, cb) if col.codes else ({}, {})
            # a global spelling that is one of this column's own codes/labels with another meaning is not applied
            clash = {k: v for k, v in glob.items() if k in own and own[k] != v}
            glob = {k: v for k, v in glob.items() if k not in clash}
            table = {**glob, **group, **mapping.column_values.get(c, {})}
            if clash:
                k_in = set(s.str.split().str.join(" ").str.casefold().unique())
                before = used.setdefault(c, set()) if used is not None else set()
                hit = sorted(k for k in clash if (k in k_in or k in before) and k not in group
                             and k not in mapping.column_values.get(c, {}))
                before.update(hit)
                if hit:
                    skipped.append((c, hit, own, clash))
        if table:
            k = s.str.split().str.join(" ").str.casefold()
            s = k.map(table).fillna(s).astype(str)
        if typ == "date":
            fmt = mapping.date_formats.get(c) or mapping.date_format
            if fmt:
                parsed = pd.to_datetime(s.str.strip(), format=fmt, errors="coerce")
                s = parsed.dt.strftime("%Y-%m-%d").where(parsed.notna(), s).astype(str)
        out[c] = s
    new = pd.DataFrame(out, index=df.index)
    rp = raw.read_problems
    if skipped:
        notes = pd.DataFrame([{
            "column": c, "rule": "mapping_value_skipped",
            "detail_sv": " (" + "; ".join(f"'{k}' betyder {own[k]} här, inte {clash[k]}" for k in used) + ")",
            "detail_en": " (" + "; ".join(f"'{k}' means {own[k]} here, not {clash[k]}" for k in used) + ")"}
            for c, used, own, clash in skipped], index=pd.Index([1] * len(skipped), name="row"))
        rp = pd.concat([rp, notes[READ_PROBLEM_COLUMNS]]) if len(rp) else notes[READ_PROBLEM_COLUMNS]
    return raw.with_data(new, original_columns=orig, read_problems=rp)
