"""The codebook: one machine-readable source of truth for the kit.

Everything that knows about columns (templates, validation, labels, the
synthetic generator, scores) asks this module; nothing else hard-codes a
column name, code list or range.

Store conventions
-----------------
* ``client_id`` never reaches the store; it is replaced by ``client_pid``.
* Integer items keep ASI's two kinds of missing apart from an empty cell:
  "X" (not answered) is stored as :data:`X_CODE` (-8), "N" (not relevant) as
  :data:`N_CODE` (-9), an empty cell as ``<NA>``. Use :func:`numeric` to get
  a float array with all three as NaN, or :func:`missing_kind` to tell them
  apart.
* Category columns are stored as pandas ``category`` with the codes of their
  code list; integer columns as nullable ``Int16`` (``Int32`` for money).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd
import yaml

from .errors import AsiInputError

X_CODE = -8
N_CODE = -9
TABLES = ("grund", "uppfoljning", "bortfall", "insatser")
AREAS = ("medical", "employment", "alcohol", "drugs", "legal", "family", "psychiatric", "gambling")


@dataclass(frozen=True)
class Column:
    """One column of one table, as the codebook describes it.

    Built by :func:`load_codebook`; a column shared by several tables has one
    ``Column`` per table.

    Attributes
    ----------
    table : str
        ``grund``, ``uppfoljning``, ``bortfall`` or ``insatser``.
    name : str
        Column name in the templates and the store.
    type : {"id", "string", "text", "date", "integer", "category"}
    required : bool
        Whether the column is required in ``table``.
    label_sv, label_en : str
        Labels in Swedish and English (see :meth:`label`).
    codelist : str, optional
        Name of the code list of a coded column.
    codes : dict, optional
        Code → ``{"sv": label, "en": label}`` of the code list.
    range : tuple of (int, int), optional
        Allowed range (both inclusive) of an integer column; for a coded
        integer column the lowest and highest code.
    missing : tuple of str
        Missing tokens the column accepts: ``"X"`` (not answered) and/or
        ``"N"`` (not relevant).
    asi5_code : str, optional
        ASI-5 item code, e.g. ``"M6"``.
    area : str, optional
        Life area of an ASI item (one of :data:`AREAS`).
    role : str, optional
        ``self_days``, ``self_troubled``, ``self_importance`` or
        ``interviewer_rating``.
    unit : str, optional
        Unit of the value; ``"SEK"`` marks money (:attr:`is_money`).
    max_length : int, optional
        Longest allowed text.
    note : str, optional
        Free-text remark from the codebook.

    Examples
    --------
    >>> col = load_codebook().column("grund", "medical_problem_days")
    >>> col.type, col.range, col.missing, col.label("en")
    ('integer', (0, 30), ('X',), 'Days with medical problems (30 d)')
    >>> load_codebook().column("grund", "sex").allowed_values()
    ['male', 'female']
    """

    table: str
    name: str
    type: str
    required: bool
    label_sv: str
    label_en: str
    codelist: str | None = None
    codes: dict | None = None
    range: tuple | None = None
    missing: tuple = ()
    asi5_code: str | None = None
    area: str | None = None
    role: str | None = None
    unit: str | None = None
    max_length: int | None = None
    note: str | None = None

    @property
    def is_money(self) -> bool:
        return self.unit == "SEK"

    def label(self, lang: str = "sv") -> str:
        return self.label_sv if lang == "sv" else self.label_en

    def allowed_values(self) -> list | None:
        """Codes allowed (category/coded integer), or None for ranges."""
        return list(self.codes) if self.codes is not None else None

    def to_record(self) -> dict[str, Any]:
        rec: dict[str, Any] = {
            "table": self.table, "name": self.name, "type": self.type,
            "required": self.required, "label_sv": self.label_sv, "label_en": self.label_en,
        }
        if self.codes is not None:
            rec["codelist"] = self.codelist
            rec["codes"] = [{"code": k, "label_sv": v["sv"], "label_en": v["en"]} for k, v in self.codes.items()]
        if self.range is not None:
            rec["range"] = list(self.range)
        if self.missing:
            rec["missing"] = list(self.missing)
        for key in ("asi5_code", "area", "role", "unit", "max_length", "note"):
            val = getattr(self, key)
            if val is not None:
                rec[key] = val
        return rec


@dataclass
class Codebook:
    """The parsed codebook. Get it with :func:`load_codebook`.

    Attributes
    ----------
    raw : dict
        The YAML as parsed: ``version``, ``missing_tokens``, ``tables``,
        ``areas``, ``codelists`` and ``columns``.
    columns_by_table : dict of str to list of Column
        The columns of each table in codebook order.

    Examples
    --------
    >>> cb = load_codebook()
    >>> cb.column_names("grund")[:4]
    ['client_id', 'municipality', 'unit', 'interview_date']
    >>> cb.date_column("grund"), cb.identity("grund")
    ('interview_date', ['client_pid', 'interview_date'])
    >>> cb.self_rating("alcohol", "days")
    'alcohol_problem_days'
    """

    raw: dict
    columns_by_table: dict[str, list[Column]] = field(default_factory=dict)

    # -- tables and columns -------------------------------------------------
    @property
    def tables(self) -> dict:
        return self.raw["tables"]

    @property
    def areas(self) -> dict:
        return self.raw["areas"]

    def columns(self, table: str) -> list[Column]:
        self._check_table(table)
        return self.columns_by_table[table]

    def column_names(self, table: str) -> list[str]:
        return [c.name for c in self.columns(table)]

    def column(self, table: str, name: str) -> Column:
        for c in self.columns(table):
            if c.name == name:
                return c
        raise AsiInputError(f"okänd kolumn '{name}' i tabellen '{table}' / unknown column")

    def required(self, table: str) -> list[str]:
        return [c.name for c in self.columns(table) if c.required]

    def date_column(self, table: str) -> str:
        return self.tables[table]["date_column"]

    def identity(self, table: str) -> list[str]:
        return list(self.tables[table]["identity"])

    def codelist(self, name: str) -> dict:
        return self.raw["codelists"][name]

    def labels(self, table: str, name: str, lang: str = "sv") -> dict:
        """Code → label for a coded column (X and N included)."""
        col = self.column(table, name)
        out = {k: v["sv" if lang == "sv" else "en"] for k, v in (col.codes or {}).items()}
        for tok in col.missing:
            info = self.raw["missing_tokens"][tok]
            out[info["code"]] = info["label_sv" if lang == "sv" else "label_en"]
        return out

    def area_columns(self, area: str, table: str = "grund", role: str | None = None) -> list[Column]:
        return [c for c in self.columns(table) if c.area == area and (role is None or c.role == role)]

    def self_rating(self, area: str, kind: str, table: str = "grund") -> str:
        """Column name of a client self-rating: kind in days/troubled/importance."""
        cols = self.area_columns(area, table, role=f"self_{kind}")
        return cols[0].name

    def interviewer_rating(self, area: str) -> str:
        return f"rating_{area}"

    def by_asi5(self, table: str = "grund") -> dict[str, str]:
        """ASI-5 item code → column name."""
        return {c.asi5_code: c.name for c in self.columns(table) if c.asi5_code}

    def to_records(self) -> list[dict]:
        return [c.to_record() for t in TABLES for c in self.columns(t)]

    def describe(self, table: str, lang: str = "sv") -> pd.DataFrame:
        """The columns of one table as a readable frame (what the codebook sheet shows).

        Parameters
        ----------
        table : str
            ``grund``, ``uppfoljning``, ``bortfall`` or ``insatser``.
        lang : {"sv", "en"}
            Language of the labels and headings.

        Returns
        -------
        pandas.DataFrame
            One row per column: name, label, type, required, allowed values
            (codes or range), ASI-5 item code and which of X ("not
            answered") and N ("not relevant") the column accepts.

        Examples
        --------
        >>> load_codebook().describe("grund").loc[0, "Kolumn"]
        'client_id'
        """
        sv = lang == "sv"
        cols = self.columns(table)

        def allowed(c: Column) -> str:
            if c.codes:
                return "; ".join(f"{k} = {v['sv' if sv else 'en']}" for k, v in c.codes.items())
            if c.range is not None:
                return f"{c.range[0]}–{c.range[1]}" + (f" {c.unit}" if c.unit else "")
            return ""

        yes, no = ("ja", "nej") if sv else ("yes", "no")
        return pd.DataFrame({
            "Kolumn" if sv else "Column": [c.name for c in cols],
            "Beskrivning" if sv else "Label": [c.label(lang) for c in cols],
            "Typ" if sv else "Type": [c.type for c in cols],
            "Obligatorisk" if sv else "Required": [yes if c.required else no for c in cols],
            "Tillåtna värden" if sv else "Allowed values": [allowed(c) for c in cols],
            "ASI-5": [c.asi5_code or "" for c in cols],
            "X/N tillåtet" if sv else "X/N allowed": ["/".join(t for t in ("X", "N") if t in c.missing)
                                                      for c in cols],
        })

    def dtypes(self, table: str) -> dict[str, str]:
        """Store dtype per column (client_id becomes client_pid)."""
        out = {}
        for c in self.columns(table):
            if c.type == "id":
                out["client_pid"] = "string"
            elif c.type == "date":
                out[c.name] = "datetime64[us]"
            elif c.type == "integer":
                out[c.name] = "Int32" if c.is_money else "Int16"
            elif c.type == "category":
                out[c.name] = "category"
            else:
                out[c.name] = "string"
        return out

    def _check_table(self, table: str) -> None:
        if table not in self.columns_by_table:
            raise AsiInputError(
                f"okänd tabell '{table}' (kända: {', '.join(TABLES)}) / unknown table")


def _parse(raw: dict) -> Codebook:
    cb = Codebook(raw=raw, columns_by_table={t: [] for t in raw["tables"]})
    for spec in raw["columns"]:
        codes = raw["codelists"][spec["codelist"]] if spec.get("codelist") else None
        rng = tuple(spec["range"]) if spec.get("range") else None
        if rng is None and codes is not None and spec["type"] == "integer":
            rng = (min(codes), max(codes))
        for table in spec["tables"]:
            cb.columns_by_table[table].append(Column(
                table=table, name=spec["name"], type=spec["type"],
                required=table in spec.get("required", []),
                label_sv=spec["label_sv"], label_en=spec["label_en"],
                codelist=spec.get("codelist"), codes=codes, range=rng,
                missing=tuple(spec.get("missing", ())), asi5_code=spec.get("asi5_code"),
                area=spec.get("area"), role=spec.get("role"), unit=spec.get("unit"),
                max_length=spec.get("max_length"), note=spec.get("note"),
            ))
    return cb


@lru_cache(maxsize=1)
def load_codebook() -> Codebook:
    """Load the codebook shipped in the package.

    Returns
    -------
    Codebook

    Examples
    --------
    >>> cb = load_codebook()
    >>> cb.column("grund", "medical_problem_days").asi5_code
    'M6'
    """
    text = resources.files("asi_lib").joinpath("data/codebook.yaml").read_text(encoding="utf-8")
    return _parse(yaml.safe_load(text))


def numeric(values, *, n_as=np.nan) -> np.ndarray:
    """Float array of an item with X, empty → NaN and N → ``n_as``.

    Parameters
    ----------
    values : pandas.Series or array-like
        Stored item values (with the X/N sentinel codes).
    n_as : float, default NaN
        What "not relevant" becomes (0.0 where N means "no problem").

    Returns
    -------
    numpy.ndarray of float64

    Examples
    --------
    >>> numeric(pd.Series([3, -8, -9, None], dtype="Int16")).tolist()
    [3.0, nan, nan, nan]
    """
    arr = pd.Series(values).to_numpy(dtype="float64", na_value=np.nan)
    arr = arr.copy()
    arr[arr == X_CODE] = np.nan
    arr[arr == N_CODE] = n_as
    return arr


def missing_kind(values) -> pd.Series:
    """Label each value as 'X', 'N', 'empty' or 'value'.

    Parameters
    ----------
    values : pandas.Series
        Stored values (X = -8, N = -9, empty = NA).

    Returns
    -------
    pandas.Series of str
        Same index.

    Examples
    --------
    >>> missing_kind(pd.Series([3, -8, -9, None], dtype="Int16")).tolist()
    ['value', 'X', 'N', 'empty']
    """
    s = pd.Series(values)
    out = pd.Series("value", index=s.index, dtype="object")
    out[s.isna()] = "empty"
    num = pd.to_numeric(s, errors="coerce")
    out[num == X_CODE] = "X"
    out[num == N_CODE] = "N"
    return out
