"""Composite scores, interviewer-rating bands, problem definitions and completeness.

The composite scores (0–1 per life area, in the tradition of McLellan's ASI
composite scores) are **table-driven**: ``asi_lib/data/composite_spec.yaml``
states per area its items (ASI-5 codes), divisors, transforms and missing-data
rules, and one generic interpreter turns that table into a weight matrix. No
area has code of its own. See ``docs/methods/scores.md`` for formulas,
defaults and sources.

Vectorised design: each item column becomes a ``float64`` row of a
reusable chunk buffer (small-range items through a 65,536-entry lookup table
indexed by the stored ``int16`` code, which applies X/N rules, recodes and
range checks in one ``take``; money items through a few array operations),
then each area's score is one matrix-vector product over its block of rows.
An area with any missing item yields NaN through the product itself (NaN
propagates); the optional minimum-share rule uses a second product with the
presence mask.
"""
from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from .codebook import AREAS, N_CODE, X_CODE, load_codebook, numeric
from .errors import AsiInputError

__all__ = [
    "CompositeSpec", "AreaSpec", "ItemTerm", "load_spec", "composite_scores", "add_scores",
    "composite_items", "score_columns", "RATING_BANDS", "rating_band", "self_ratings", "problem_status",
    "completeness", "completeness_items", "score_file", "register_cli",
]

_TABLES_WITH_ITEMS = ("grund", "uppfoljning")
_LUT_SIZE = 1 << 16
_TOL = 1e-6
#: Working dtype of the composite computation. float64: float32 made scores that are equal in
#: exact arithmetic distinct (and shifted rank tests); results are also rounded to
#: ``_DECIMALS`` so that equal sums of different items compare equal.
_FLOAT = np.float64
_DECIMALS = 12


# --------------------------------------------------------------------------- spec
@dataclass(frozen=True)
class ItemTerm:
    """One item's contribution ``weight * transform(value)`` to one area.

    Attributes
    ----------
    area, code, column : str
        Area, ASI-5 item code and codebook column name.
    divisor : float
        The formula's divisor; ``weight = 1 / divisor``.
    transform : {"identity", "recode", "ln_money"}
    x, n : {"missing", "zero"}
        What ASI's X (not answered) and N (not relevant) become.
    recode : dict or None
        Stored code → value for ``transform="recode"``.
    ln_cap : float or None
        Cap of ``ln(amount / sek_per_unit)`` for ``transform="ln_money"``.
    lo, hi : float
        Valid stored range (from the codebook); values outside are invalid.
    max_value : float
        Largest transformed value (so ``weight * max_value`` is the term's
        share of the area maximum).

    Examples
    --------
    >>> term = load_spec().areas["medical"].terms[0]
    >>> term.code, term.column, term.divisor, term.transform, term.hi
    ('M6', 'medical_problem_days', 90.0, 'identity', 30.0)
    >>> round(term.weight, 6), round(term.max_contribution, 6)
    (0.011111, 0.333333)
    """

    area: str
    code: str
    column: str
    divisor: float
    transform: str = "identity"
    x: str = "missing"
    n: str = "missing"
    recode: dict | None = None
    ln_cap: float | None = None
    lo: float = 0.0
    hi: float = 0.0
    max_value: float = 0.0

    @property
    def weight(self) -> float:
        return 1.0 / self.divisor

    @property
    def max_contribution(self) -> float:
        return self.weight * self.max_value


@dataclass(frozen=True)
class AreaSpec:
    """One area of a :class:`CompositeSpec`.

    Attributes
    ----------
    name : str
        Area name (e.g. ``medical``).
    terms : tuple of ItemTerm
        The area's item terms in spec order.
    reverse : bool, default False
        Score is ``1 - S`` instead of ``S`` (employment).
    min_share : float or None
        The area's own minimum-share rule (``None``: the spec's global one).
    source : str
        Where the formula comes from (free text from the spec).

    Examples
    --------
    >>> area = load_spec().areas["medical"]
    >>> area.columns, area.reverse, round(area.max_total, 6)
    (['medical_problem_days', 'medical_troubled', 'medical_importance'], False, 1.0)
    >>> load_spec().areas["employment"].reverse
    True
    """

    name: str
    terms: tuple[ItemTerm, ...]
    reverse: bool = False
    min_share: float | None = None
    source: str = ""

    @property
    def columns(self) -> list[str]:
        return [t.column for t in self.terms]

    @property
    def max_total(self) -> float:
        return float(sum(t.max_contribution for t in self.terms))


@dataclass
class CompositeSpec:
    """A parsed composite specification; get it with :func:`load_spec`.

    Attributes
    ----------
    areas : dict[str, AreaSpec]
        In the order of :data:`asi_lib.codebook.AREAS` (then any others).
    sek_per_unit : float
        Divisor that converts SEK to the formula's currency before ``ln``.
    min_share : float or None
        Global minimum-share rule (``None``: every item required).
    path : str
        Where the spec was read from.
    raw : dict
        The YAML as read.

    Examples
    --------
    >>> spec = load_spec()
    >>> list(spec.areas)[:3], spec.sek_per_unit, spec.min_share
    (['medical', 'employment', 'alcohol'], 10.0, None)
    >>> float(spec.weight_matrix().loc["medical:medical_troubled", "medical"])
    0.08333333333333333
    """

    areas: dict[str, AreaSpec]
    sek_per_unit: float
    min_share: float | None
    path: str
    raw: dict = field(repr=False, default_factory=dict)

    def terms(self) -> list[ItemTerm]:
        """All item terms, area by area (an item may occur in several areas)."""
        return [t for a in self.areas.values() for t in a.terms]

    def weight_matrix(self) -> pd.DataFrame:
        """Weights as a (term row × area) frame: ``1/divisor`` where the item counts.

        Rows are labelled ``area:column`` because the interpreter keeps one
        row per (area, item); the matrix is block-diagonal by area.
        """
        rows = self.terms()
        mat = np.zeros((len(rows), len(self.areas)), dtype="float64")
        col_of = {a: j for j, a in enumerate(self.areas)}
        for i, t in enumerate(rows):
            mat[i, col_of[t.area]] = t.weight
        return pd.DataFrame(mat, index=[f"{t.area}:{t.column}" for t in rows], columns=list(self.areas))

    def __hash__(self) -> int:  # for the compiled-plan cache
        return id(self)


def _resolve_min_share(value: Any, where: str) -> float | None:
    if value is None:
        return None
    try:
        val = float(value)
    except (TypeError, ValueError):
        raise AsiInputError(f"min_share måste vara ett tal i (0, 1] ({where}) / must be a number") from None
    if not 0.0 < val <= 1.0:
        raise AsiInputError(f"min_share måste ligga i (0, 1], fick {val} ({where}) / must be in (0, 1]")
    return val


def _parse_spec(raw: dict, path: str) -> CompositeSpec:
    cb = load_codebook()
    by_code = {t: cb.by_asi5(t) for t in _TABLES_WITH_ITEMS}
    money = raw.get("money") or {}
    sek_per_unit = float(money.get("sek_per_unit", 10))
    if not sek_per_unit > 0:
        raise AsiInputError(f"{path}: money.sek_per_unit måste vara > 0 / must be > 0")
    defaults = {"x": "missing", "n": "missing", "transform": "identity", **(raw.get("item_defaults") or {})}
    areas: dict[str, AreaSpec] = {}
    raw_areas = raw.get("areas") or {}
    if not raw_areas:
        raise AsiInputError(f"{path}: inga områden i specifikationen / no areas in the spec")
    order = [a for a in AREAS if a in raw_areas] + [a for a in raw_areas if a not in AREAS]
    for area in order:
        aspec = raw_areas[area] or {}
        terms: list[ItemTerm] = []
        for term in aspec.get("terms") or []:
            opts = {**defaults, **term}
            divisor = float(opts["divisor"])
            if not divisor > 0:
                raise AsiInputError(f"{path}: {area}: divisor måste vara > 0 / must be > 0")
            for key in ("x", "n"):
                if opts[key] not in ("missing", "zero"):
                    raise AsiInputError(f"{path}: {area}: {key} måste vara missing|zero / must be missing|zero")
            for code in opts["items"]:
                code = str(code)
                cols = {t: by_code[t].get(code) for t in _TABLES_WITH_ITEMS}
                if cols["grund"] is None:
                    raise AsiInputError(f"{path}: {area}: okänd ASI-5-kod '{code}' i kodboken / unknown ASI-5 code")
                if cols["uppfoljning"] not in (None, cols["grund"]):
                    raise AsiInputError(f"{path}: {code} har olika kolumner i grund/uppföljning / differs by table")
                col = cb.column("grund", cols["grund"])
                lo, hi = (col.range if col.range is not None else (0, 1))
                transform = opts["transform"]
                recode = None
                ln_cap = None
                if transform == "identity":
                    max_value = float(hi)
                elif transform == "recode":
                    recode = {int(k): float(v) for k, v in (opts.get("recode") or {}).items()}
                    if not recode:
                        raise AsiInputError(f"{path}: {area}: {code}: recode saknas / recode table missing")
                    max_value = max(recode.values())
                elif transform == "ln_money":
                    if not col.is_money:
                        raise AsiInputError(f"{path}: {area}: {code} är inget belopp / ln_money on a non-money item")
                    if opts.get("ln_cap") is None:
                        raise AsiInputError(f"{path}: {area}: {code}: ln_cap saknas / ln_cap missing")
                    ln_cap = float(opts["ln_cap"])
                    max_value = ln_cap
                else:
                    raise AsiInputError(f"{path}: {area}: okänd transform '{transform}' / unknown transform")
                terms.append(ItemTerm(
                    area=area, code=code, column=col.name, divisor=divisor, transform=transform,
                    x=opts["x"], n=opts["n"], recode=recode, ln_cap=ln_cap,
                    lo=float(lo), hi=float(hi), max_value=float(max_value)))
        if not terms:
            raise AsiInputError(f"{path}: {area}: inga poster / no items")
        spec_area = AreaSpec(name=area, terms=tuple(terms), reverse=bool(aspec.get("reverse", False)),
                             min_share=_resolve_min_share(aspec.get("min_share"), f"{path}: {area}"),
                             source=str(aspec.get("source", "")))
        if spec_area.max_total > 1.0 + _TOL:
            raise AsiInputError(
                f"{path}: {area}: termernas maximum {spec_area.max_total:.6f} > 1 (poängen skulle kunna "
                f"överstiga 1) / the terms' maximum exceeds 1")
        areas[area] = spec_area
    return CompositeSpec(areas=areas, sek_per_unit=sek_per_unit,
                         min_share=_resolve_min_share(raw.get("min_share"), path), path=path, raw=raw)


@lru_cache(maxsize=1)
def _default_spec() -> CompositeSpec:
    text = resources.files("asi_lib").joinpath("data/composite_spec.yaml").read_text(encoding="utf-8")
    return _parse_spec(yaml.safe_load(text), "asi_lib/data/composite_spec.yaml")


def load_spec(path: str | Path | None = None) -> CompositeSpec:
    """Read a composite specification (default: the one shipped in the package).

    Parameters
    ----------
    path : str or Path, optional
        A YAML file in the format of ``asi_lib/data/composite_spec.yaml``.

    Returns
    -------
    CompositeSpec

    Raises
    ------
    AsiInputError
        Unreadable file, unknown item code, a term that could push a score
        above 1, and other unusable specs.

    Notes
    -----
    Each term contributes ``transform(value) / divisor``; an area's maximum
    (sum of ``max transform / divisor``) must not exceed 1.

    Examples
    --------
    >>> spec = load_spec()
    >>> [t.column for t in spec.areas["medical"].terms]
    ['medical_problem_days', 'medical_troubled', 'medical_importance']
    >>> round(spec.areas["drugs"].max_total, 6)
    1.0
    """
    if path is None:
        return _default_spec()
    p = Path(path)
    try:
        raw = yaml.safe_load(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise AsiInputError(f"kan inte läsa specifikationen / cannot read the spec: {exc}", file=str(p)) from None
    if not isinstance(raw, dict):
        raise AsiInputError("specifikationen är ingen YAML-tabell / the spec is not a YAML mapping", file=str(p))
    return _parse_spec(raw, str(p))


# --------------------------------------------------------------------------- compiled plan
@dataclass
class _Plan:
    areas: list[str]
    terms: list[ItemTerm]
    blocks: dict[str, slice]
    weights: np.ndarray          # (k,) float64, 1/divisor per row
    wmax: np.ndarray             # (k,) float64, weight * max_value per row
    luts: list[np.ndarray | None]
    totals: dict[str, float]
    reverse: dict[str, bool]


def _lut(term: ItemTerm) -> np.ndarray:
    """65,536-entry table: stored int16 code (as uint16) → transformed value (NaN = missing)."""
    lut = np.full(_LUT_SIZE, np.nan, dtype=_FLOAT)
    lo, hi = int(math.ceil(term.lo)), int(math.floor(term.hi))
    codes = np.arange(max(lo, -32768), min(hi, 32767) + 1, dtype=np.int64)
    if term.transform == "recode":
        for k, v in term.recode.items():
            if lo <= k <= hi:
                lut[np.uint16(np.int16(k))] = v
    else:
        lut[codes.astype(np.int16).view(np.uint16)] = codes.astype(_FLOAT)
    lut[np.int16(X_CODE).view(np.uint16)] = 0.0 if term.x == "zero" else np.nan
    lut[np.int16(N_CODE).view(np.uint16)] = 0.0 if term.n == "zero" else np.nan
    return lut


def _plan(spec: CompositeSpec, areas: tuple[str, ...]) -> _Plan:
    key = (id(spec), areas)
    cached = _PLANS.get(key)
    if cached is not None and cached[0] is spec:
        return cached[1]
    terms: list[ItemTerm] = []
    blocks: dict[str, slice] = {}
    for a in areas:
        start = len(terms)
        terms.extend(spec.areas[a].terms)
        blocks[a] = slice(start, len(terms))
    plan = _Plan(
        areas=list(areas), terms=terms, blocks=blocks,
        weights=np.array([t.weight for t in terms], dtype=_FLOAT),
        wmax=np.array([t.max_contribution for t in terms], dtype=_FLOAT),
        luts=[None if t.transform == "ln_money" else _lut(t) for t in terms],
        totals={a: spec.areas[a].max_total for a in areas},
        reverse={a: spec.areas[a].reverse for a in areas},
    )
    if len(_PLANS) > 16:
        _PLANS.clear()
    _PLANS[key] = (spec, plan)
    return plan


_PLANS: dict = {}


# --------------------------------------------------------------------------- column sources
@dataclass
class _Source:
    data: np.ndarray            # int16 codes (LUT items) or float64/int values (money)
    mask: np.ndarray | None     # True = empty cell


def _masked_parts(series: pd.Series):
    arr = series.array
    data, mask = getattr(arr, "_data", None), getattr(arr, "_mask", None)
    if isinstance(data, np.ndarray) and isinstance(mask, np.ndarray) and data.dtype.kind in "iu":
        return data, mask
    return None


def _int16_source(series: pd.Series) -> _Source:
    parts = _masked_parts(series)
    if parts is not None:
        data, mask = parts
        if data.dtype != np.int16:
            data = np.clip(data, -32768, 32767).astype(np.int16)
        return _Source(data, mask)
    if isinstance(series.dtype, np.dtype) and series.dtype.kind in "iu":  # plain numpy integers: no NA
        return _Source(np.clip(series.to_numpy(), -32768, 32767).astype(np.int16), None)
    num = pd.to_numeric(series, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    bad = np.isnan(num) | (num != np.round(num))
    # non-integers become an invalid code (the LUT holds NaN there) rather than empty
    empty = np.isnan(num)
    codes = np.where(bad, 32767, np.clip(np.nan_to_num(num), -32768, 32767)).astype(np.int16)
    return _Source(codes, empty)


def _money_source(series: pd.Series) -> _Source:
    parts = _masked_parts(series)
    if parts is not None:
        return _Source(parts[0], parts[1])
    if isinstance(series.dtype, np.dtype) and series.dtype.kind in "iu":
        return _Source(series.to_numpy(), None)
    num = pd.to_numeric(series, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    return _Source(num, np.isnan(num))


def _money_values(data: np.ndarray, term: ItemTerm, sek_per_unit: float, out: np.ndarray) -> None:
    """``min(ln(max(amount/sek_per_unit, 1)), ln_cap)`` with X/N rules; NaN = missing."""
    v = data.astype(np.float64)
    is_x = v == X_CODE
    is_n = v == N_CODE
    invalid = ((v < term.lo) | (v > term.hi) | np.isnan(v)) & ~is_x & ~is_n
    t = np.log(np.maximum(v / sek_per_unit, 1.0))
    np.minimum(t, term.ln_cap, out=t)
    t[is_x] = 0.0 if term.x == "zero" else np.nan
    t[is_n] = 0.0 if term.n == "zero" else np.nan
    t[invalid] = np.nan
    out[...] = t


def _check_columns(frame: pd.DataFrame, plan: _Plan) -> None:
    missing = sorted({t.column for t in plan.terms} - set(frame.columns))
    if missing:
        raise AsiInputError(
            "kolumner för sammanvägda mått saknas / composite item columns missing: " + ", ".join(missing))


def _item_matrix_chunks(frame: pd.DataFrame, plan: _Plan, sek_per_unit: float, chunk_rows: int):
    """Yield (start, stop, buffer) with one float64 row per plan term (NaN = missing)."""
    n = len(frame)
    sources: dict[tuple[str, bool], _Source] = {}
    for t in plan.terms:
        key = (t.column, t.transform == "ln_money")
        if key not in sources:
            sources[key] = _money_source(frame[t.column]) if key[1] else _int16_source(frame[t.column])
    k = len(plan.terms)
    buf = np.empty((k, min(chunk_rows, max(n, 1))), dtype=_FLOAT)
    for start in range(0, n, chunk_rows):
        stop = min(n, start + chunk_rows)
        b = buf[:, : stop - start]
        for r, t in enumerate(plan.terms):
            src = sources[(t.column, t.transform == "ln_money")]
            if plan.luts[r] is None:
                _money_values(src.data[start:stop], t, sek_per_unit, b[r])
            else:
                np.take(plan.luts[r], src.data[start:stop].view(np.uint16), out=b[r])
            if src.mask is not None:
                np.copyto(b[r], _FLOAT(np.nan), where=src.mask[start:stop])
        yield start, stop, b


def _area_min_shares(spec: CompositeSpec, areas, min_share) -> dict[str, float | None]:
    if isinstance(min_share, dict):
        unknown = set(min_share) - set(spec.areas)
        if unknown:
            raise AsiInputError(f"min_share för okänt område / for unknown area: {', '.join(sorted(unknown))}")
        return {a: _resolve_min_share(min_share.get(a, spec.areas[a].min_share if spec.areas[a].min_share is not None
                                                     else spec.min_share), a) for a in areas}
    if min_share is not None:
        val = _resolve_min_share(min_share, "min_share")
        return {a: val for a in areas}
    return {a: spec.areas[a].min_share if spec.areas[a].min_share is not None else spec.min_share for a in areas}


def score_columns(areas=None) -> list[str]:
    """Names of the composite columns, ``composite_<area>``.

    Parameters
    ----------
    areas : sequence of str, optional
        Areas in the wanted order; default (or empty) all of
        :data:`asi_lib.codebook.AREAS`.

    Returns
    -------
    list of str

    Examples
    --------
    >>> score_columns(["alcohol", "drugs"])
    ['composite_alcohol', 'composite_drugs']
    """
    return [f"composite_{a}" for a in (areas or AREAS)]


def composite_scores(frame: pd.DataFrame, *, spec: CompositeSpec | None = None, min_share=None,
                     areas=None, chunk_rows: int = 1 << 15) -> pd.DataFrame:
    """Composite score (0–1) per life area for every interview.

    Parameters
    ----------
    frame : pandas.DataFrame
        Grund or Uppföljning interviews in store format (items as stored,
        X = -8, N = -9, empty = ``<NA>``); other columns are ignored.
    spec : CompositeSpec, optional
        Default :func:`load_spec()` (ASI-5 weights, VistA implementation).
    min_share : float or dict, optional
        Minimum share of an area's maximum weight that must be present for a
        score; ``None`` uses the spec (default: every item needed). A dict
        gives it per area.
    areas : list of str, optional
        Only these areas (default all in the spec).
    chunk_rows : int
        Rows per chunk of the item buffer (memory vs. speed).

    Returns
    -------
    pandas.DataFrame
        Columns ``composite_<area>`` (float64, NaN when not computable),
        index aligned with ``frame``.

    Notes
    -----
    For an area with terms ``i``: ``S = sum_i t_i(x_i) / d_i`` and the score
    is ``S`` (``1 - S`` for a reversed area such as employment). ``t`` is the
    identity, a recode (F3: yes 0, indifferent 1, no 2) or, for money,
    ``min(ln(max(SEK / sek_per_unit, 1)), ln_cap)``. X → missing, N → 0 or
    missing per item, empty → missing; a value outside the codebook range is
    missing. With a minimum share ``m``: with ``P`` the present items'
    maximum contribution ``sum_present max_i / d_i`` and ``T`` the area's,
    the score exists when ``P / T >= m`` and uses ``S_present * T / P``.
    Scores are clipped to [0, 1] (they can only leave it by rounding).

    References
    ----------
    McLellan AT et al. (1992). The fifth edition of the Addiction Severity
    Index. J Subst Abuse Treat 9:199–213. VistA Mental Health routines
    YSASCSB.m, YSASCSC.m (WorldVistA/VistA-M), patch YS*5.01*24.

    Examples
    --------
    >>> df = pd.DataFrame({"medical_problem_days": pd.array([30, 9, -8], dtype="Int16"),
    ...                    "medical_troubled": pd.array([4, 0, 2], dtype="Int16"),
    ...                    "medical_importance": pd.array([4, 3, 2], dtype="Int16")})
    >>> composite_scores(df, areas=["medical"])["composite_medical"].round(4).tolist()
    [1.0, 0.35, nan]
    """
    spec = spec or load_spec()
    areas = tuple(areas) if areas is not None else tuple(spec.areas)
    unknown = [a for a in areas if a not in spec.areas]
    if unknown:
        raise AsiInputError(f"okänt område / unknown area: {', '.join(unknown)}")
    plan = _plan(spec, areas)
    _check_columns(frame, plan)
    shares = _area_min_shares(spec, areas, min_share)
    n = len(frame)
    out = np.empty((len(areas), n), dtype=_FLOAT)
    for start, stop, b in _item_matrix_chunks(frame, plan, spec.sek_per_unit, chunk_rows):
        for j, a in enumerate(areas):
            sl = plan.blocks[a]
            block = b[sl]
            dest = out[j, start:stop]
            share = shares[a]
            if share is None or share >= 1.0:
                np.dot(plan.weights[sl], block, out=dest)          # NaN propagates: any missing → NaN
            else:
                present = ~np.isnan(block)
                s = plan.weights[sl] @ np.where(present, block, _FLOAT(0))
                p = plan.wmax[sl] @ present.astype(_FLOAT)
                total = _FLOAT(plan.totals[a])
                with np.errstate(divide="ignore", invalid="ignore"):
                    scaled = s * (total / p)
                ok = p >= _FLOAT(share) * total - _FLOAT(_TOL)
                dest[...] = np.where(ok, scaled, _FLOAT(np.nan))
            if plan.reverse[a]:
                np.subtract(_FLOAT(1.0), dest, out=dest)
    np.clip(out, 0.0, 1.0, out=out)
    np.round(out, _DECIMALS, out=out)  # equal in exact arithmetic → equal stored value (ties for rank tests)
    res = pd.DataFrame(out.T, index=frame.index,
                       columns=[f"composite_{a}" for a in areas], copy=False)
    res.attrs["asi"] = {"unit": "intervjuer", "measure": "composite score 0–1",
                        "spec": spec.path, "min_share": {a: shares[a] for a in areas}}
    return res


def composite_items(frame: pd.DataFrame, area: str, *, spec: CompositeSpec | None = None,
                    suffix: str = "") -> pd.DataFrame:
    """The transformed item values of one area's composite (its own items only).

    Exactly the values the composite is built from: the area's spec terms
    (ASI-5 codes, e.g. employment E4, E5, E11, E12) after the X/N rules,
    recodes and the money transform, before weighting. Used for the internal
    consistency of the composite (:func:`asi_lib.change.composite_reliability`).

    Parameters
    ----------
    frame : pandas.DataFrame
        Interviews, or pairs when ``suffix`` is given.
    area : str
    spec : CompositeSpec, optional
        Default :func:`load_spec`.
    suffix : str, default ""
        Column suffix, e.g. ``"_0"`` for the baseline columns of ``Pairing.pairs``.

    Returns
    -------
    pandas.DataFrame
        One float64 column per term, named by its ASI-5 code (NaN = missing).

    Notes
    -----
    Term value :math:`t(x)` with :math:`t` = identity, recode or
    :math:`\\min(\\ln\\max(x/\\text{sek\\_per\\unit}, 1), \\text{ln\\_cap})`;
    the composite is :math:`\\sum_i t(x_i)/\\text{divisor}_i` (reversed for employment).
    Source of the items: ``composite_spec.yaml`` (McLellan et al. 1992).

    Examples
    --------
    >>> df = pd.DataFrame({"medical_problem_days": [30, 9], "medical_troubled": [4, 0],
    ...                    "medical_importance": [4, 3]})
    >>> composite_items(df, "medical").columns.tolist()
    ['M6', 'M7', 'M8']
    """
    spec = spec or load_spec()
    if area not in spec.areas:
        raise AsiInputError(f"okänt område / unknown area: {area}")
    plan = _plan(spec, (area,))
    view = frame[[f"{t.column}{suffix}" for t in plan.terms if f"{t.column}{suffix}" in frame.columns]]
    view = view.rename(columns=lambda c: c[: len(c) - len(suffix)] if suffix else c)
    _check_columns(view, plan)
    vals = np.concatenate([b.copy() for _, _, b in _item_matrix_chunks(view, plan, spec.sek_per_unit, 100_000)],
                          axis=1) if len(view) else np.empty((len(plan.terms), 0))
    return pd.DataFrame(vals.T, index=frame.index, columns=[t.code for t in plan.terms])


def add_scores(frame: pd.DataFrame, **kw) -> pd.DataFrame:
    """A copy of ``frame`` with the ``composite_<area>`` columns added (or replaced).

    Parameters
    ----------
    frame : pandas.DataFrame
    **kw
        Passed to :func:`composite_scores`.

    Returns
    -------
    pandas.DataFrame

    Examples
    --------
    >>> df = pd.DataFrame({"medical_problem_days": [0], "medical_troubled": [0], "medical_importance": [0]})
    >>> add_scores(df, areas=["medical"]).columns.tolist()[-1]
    'composite_medical'
    """
    scores = composite_scores(frame, **kw)
    out = frame.drop(columns=[c for c in scores.columns if c in frame.columns])
    return pd.concat([out, scores], axis=1)


# --------------------------------------------------------------------------- ratings
#: Interviewer rating bands (0–9 in pairs), from the Swedish ASI form's instructions.
RATING_BANDS = (
    (0, 1, "none", "Inget problem, ingen hjälp behövs", "No problem, no help needed"),
    (2, 3, "slight", "Lätt problem, hjälp behövs troligen inte", "Slight problem, help probably not needed"),
    (4, 5, "moderate", "Måttligt problem, viss hjälp indikerad", "Moderate problem, some help indicated"),
    (6, 7, "considerable", "Betydande problem, hjälp behövs", "Considerable problem, help needed"),
    (8, 9, "extreme", "Extremt problem, hjälp absolut nödvändig", "Extreme problem, help absolutely needed"),
)


def _rating_values(series) -> np.ndarray:
    """Float ratings 0–9; X, N, empty and anything outside 0–9 or non-integer → NaN."""
    s = pd.Series(series)
    vals = numeric(pd.to_numeric(s, errors="coerce"))
    vals[(vals < 0) | (vals > 9) | (vals != np.round(vals))] = np.nan
    return vals


def rating_band(series, lang: str = "sv") -> pd.Series:
    """Interviewer rating 0–9 → its band as an ordered categorical.

    Parameters
    ----------
    series : pandas.Series or array-like
        Stored interviewer ratings (0–9; N = -9 and empty become NaN).
    lang : {"sv", "en"}

    Returns
    -------
    pandas.Series
        Ordered ``category`` with the five band labels, same index.

    Notes
    -----
    Bands in pairs: 0–1 no problem, 2–3 slight, 4–5 moderate,
    6–7 considerable, 8–9 extreme (Swedish ASI form instructions).

    Examples
    --------
    >>> rating_band(pd.Series([0, 4, 9, None]), lang="en").tolist()
    ['No problem, no help needed', 'Moderate problem, some help indicated', 'Extreme problem, help absolutely needed', nan]
    """
    s = pd.Series(series)
    vals = _rating_values(s)
    labels = [b[3] if lang == "sv" else b[4] for b in RATING_BANDS]
    codes = np.where(np.isnan(vals), -1, np.floor(np.nan_to_num(vals) / 2)).astype(np.int8)
    cat = pd.Categorical.from_codes(codes, categories=labels, ordered=True)
    return pd.Series(cat, index=s.index, name=s.name)


def self_ratings(frame: pd.DataFrame, *, areas=None, spec: CompositeSpec | None = None) -> pd.DataFrame:
    """Client self-ratings per area as floats: days (0–30), troubled (0–4), importance (0–4).

    Parameters
    ----------
    frame : pandas.DataFrame
        Grund or Uppföljning interviews in store format.
    areas : list of str, optional
        Default: every area whose self-rating columns are in ``frame``.
    spec : CompositeSpec, optional
        N (not relevant) becomes 0 where the spec says so for that item
        (gambling), else NaN; X and empty are NaN.

    Returns
    -------
    pandas.DataFrame
        Columns ``self_days_<area>``, ``self_troubled_<area>``,
        ``self_importance_<area>``; the columns come from the codebook roles
        ``self_days``/``self_troubled``/``self_importance``.

    Examples
    --------
    >>> df = pd.DataFrame({"gambling_problem_days": pd.array([-9, 3], dtype="Int16"),
    ...                    "gambling_troubled": pd.array([-9, -8], dtype="Int16"),
    ...                    "gambling_importance": pd.array([-9, 2], dtype="Int16")})
    >>> self_ratings(df, areas=["gambling"]).to_numpy().tolist()
    [[0.0, 0.0, 0.0], [3.0, nan, 2.0]]
    """
    cb = load_codebook()
    spec = spec or load_spec()
    n_zero = {t.column for t in spec.terms() if t.n == "zero"}
    out = {}
    for area in (areas if areas is not None else AREAS):
        for kind in ("days", "troubled", "importance"):
            col = cb.self_rating(area, kind)
            if col not in frame.columns:
                if areas is not None:
                    raise AsiInputError(f"kolumn saknas / column missing: {col}")
                continue
            info = cb.column("grund", col)
            vals = numeric(pd.to_numeric(frame[col], errors="coerce"),
                           n_as=0.0 if col in n_zero else np.nan)
            lo, hi = info.range
            vals[(vals < lo) | (vals > hi)] = np.nan
            out[f"self_{kind}_{area}"] = vals
    return pd.DataFrame(out, index=frame.index)


def problem_status(frame: pd.DataFrame, *, problem_min: int = 4, free_max: int = 1, areas=None,
                   n_as_no_problem: bool = True) -> pd.DataFrame:
    """Has a problem / is problem-free per area, from the interviewer rating.

    Parameters
    ----------
    frame : pandas.DataFrame
        Interviews with ``rating_<area>`` columns (0–9).
    problem_min : int, default 4
        "Has a problem" when rating >= this (4 = "some help indicated").
    free_max : int, default 1
        "Problem-free" when rating <= this (0–1 = "no problem, no help needed").
    areas : list of str, optional
        Default: every area whose rating column is in ``frame``.
    n_as_no_problem : bool, default True
        A rating marked N (not relevant; allowed for gambling only) counts
        as no problem: ``has_problem`` False, ``problem_free`` True.
        ``False`` makes it missing.

    Returns
    -------
    pandas.DataFrame
        Nullable ``boolean`` columns ``has_problem_<area>`` and
        ``problem_free_<area>``; ``<NA>`` where the rating is missing.

    Examples
    --------
    >>> df = pd.DataFrame({"rating_alcohol": pd.array([0, 3, 4, None], dtype="Int16")})
    >>> st = problem_status(df, areas=["alcohol"])
    >>> st["has_problem_alcohol"].tolist(), st["problem_free_alcohol"].tolist()
    ([False, False, True, <NA>], [True, False, False, <NA>])
    """
    if not 0 <= free_max < problem_min <= 9:
        raise AsiInputError("kräver 0 <= free_max < problem_min <= 9 / requires 0 <= free_max < problem_min <= 9")
    cb = load_codebook()
    names = list(areas) if areas is not None else [a for a in AREAS if cb.interviewer_rating(a) in frame.columns]
    out = {}
    for area in names:
        col = cb.interviewer_rating(area)
        if col not in frame.columns:
            raise AsiInputError(f"kolumn saknas / column missing: {col}")
        raw = pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        vals = _rating_values(raw)
        known = ~np.isnan(vals)
        is_n = raw == N_CODE
        has = pd.array(np.where(known, vals >= problem_min, False), dtype="boolean")
        free = pd.array(np.where(known, vals <= free_max, False), dtype="boolean")
        unknown = ~known & ~(is_n & n_as_no_problem)
        has[unknown] = pd.NA
        free[unknown] = pd.NA
        if n_as_no_problem:
            has[is_n] = False
            free[is_n] = True
        out[f"has_problem_{area}"] = has
        out[f"problem_free_{area}"] = free
    res = pd.DataFrame(out, index=frame.index)
    res.attrs["asi"] = {"problem_min": problem_min, "free_max": free_max, "n_as_no_problem": n_as_no_problem}
    return res


# --------------------------------------------------------------------------- completeness
_KIND_SV = {"X": "X", "N": "N", "empty": "tomt", "invalid": "ogiltigt"}


def _item_missing_kinds(frame: pd.DataFrame, term: ItemTerm, sek_per_unit: float) -> dict[str, np.ndarray]:
    """Boolean arrays: why the item is missing for the composite (X / N / empty / invalid)."""
    src = _money_source(frame[term.column]) if term.transform == "ln_money" else _int16_source(frame[term.column])
    data = src.data
    empty = src.mask.copy() if src.mask is not None else np.zeros(len(frame), dtype=bool)
    vals = data.astype(np.float64)
    is_x = (vals == X_CODE) & ~empty
    is_n = (vals == N_CODE) & ~empty
    if term.transform == "recode":
        valid = np.isin(vals, [k for k in term.recode])
    else:
        valid = (vals >= term.lo) & (vals <= term.hi)
    invalid = ~valid & ~is_x & ~is_n & ~empty
    return {
        "X": is_x if term.x == "missing" else np.zeros_like(is_x),
        "N": is_n if term.n == "missing" else np.zeros_like(is_n),
        "empty": empty,
        "invalid": invalid,
    }


def _tables_of(frame_or_dataset, table) -> list[tuple[str, pd.DataFrame]]:
    if isinstance(frame_or_dataset, pd.DataFrame):
        return [(table or "grund", frame_or_dataset)]
    if table in (None, "all"):
        names = list(_TABLES_WITH_ITEMS)
    elif isinstance(table, str):
        names = [table]
    else:
        names = list(table)
    for t in names:
        if t not in _TABLES_WITH_ITEMS:
            raise AsiInputError(f"tabellen '{t}' har inga ASI-poster / table has no ASI items")
    return [(t, frame_or_dataset.table(t)) for t in names]


def completeness_items(frame_or_dataset, table: str | None = "grund", *,
                       spec: CompositeSpec | None = None) -> pd.DataFrame:
    """Per (table, area, item): how often the item is missing for the composite, and why.

    Parameters
    ----------
    frame_or_dataset : pandas.DataFrame or Dataset
    table : str, list or None
        Table(s) of a Dataset (``None``/"all": grund and uppfoljning); the
        label for a frame.
    spec : CompositeSpec, optional

    Returns
    -------
    pandas.DataFrame
        Columns ``table, area, item, asi5_code, interviews, n_x, n_n, n_empty,
        n_invalid, n_missing, share_missing``. ``n_n`` counts N only where
        the spec treats N as missing.

    Examples
    --------
    >>> df = pd.DataFrame({"medical_problem_days": pd.array([2, -8, None], dtype="Int16"),
    ...                    "medical_troubled": pd.array([1, 1, 1], dtype="Int16"),
    ...                    "medical_importance": pd.array([1, 1, 40], dtype="Int16")})
    >>> ci = completeness_items(df, spec=_medical_only())
    >>> ci[["item", "n_x", "n_empty", "n_invalid", "n_missing"]].to_numpy().tolist()[0]
    ['medical_problem_days', 1, 1, 0, 2]
    """
    spec = spec or load_spec()
    rows = []
    for tname, frame in _tables_of(frame_or_dataset, table):
        for area, aspec in spec.areas.items():
            for term in aspec.terms:
                if term.column not in frame.columns:
                    continue
                kinds = _item_missing_kinds(frame, term, spec.sek_per_unit)
                miss = kinds["X"] | kinds["N"] | kinds["empty"] | kinds["invalid"]
                n = len(frame)
                rows.append({"table": tname, "area": area, "item": term.column, "asi5_code": term.code,
                             "interviews": n, "n_x": int(kinds["X"].sum()), "n_n": int(kinds["N"].sum()),
                             "n_empty": int(kinds["empty"].sum()), "n_invalid": int(kinds["invalid"].sum()),
                             "n_missing": int(miss.sum()), "share_missing": miss.sum() / n if n else np.nan})
    cols = ["table", "area", "item", "asi5_code", "interviews", "n_x", "n_n", "n_empty", "n_invalid",
            "n_missing", "share_missing"]
    return pd.DataFrame(rows, columns=cols)


def _medical_only() -> CompositeSpec:  # doctest helper: a one-area spec
    base = load_spec()
    return CompositeSpec(areas={"medical": base.areas["medical"]}, sek_per_unit=base.sek_per_unit,
                         min_share=None, path=base.path, raw={})


def completeness(frame_or_dataset, table: str | None = "grund", *, spec: CompositeSpec | None = None,
                 min_share=None, top: int = 3, lang: str = "sv") -> pd.DataFrame:
    """Completeness per (table, area): missing interviewer ratings and non-computable composites.

    Nothing is silently excluded: every interview is counted, and the rows
    say why a composite could not be computed (the items most often missing,
    and whether as X, N, empty or an invalid value).

    Parameters
    ----------
    frame_or_dataset : pandas.DataFrame or Dataset
    table : str, list or None, default "grund"
        Table(s) of a Dataset (``None``/"all": grund and uppfoljning); the
        label for a frame.
    spec : CompositeSpec, optional
    min_share : float or dict, optional
        As in :func:`composite_scores`.
    top : int, default 3
        How many items to name in ``why``.
    lang : {"sv", "en"}
        Language of the ``why`` text.

    Returns
    -------
    pandas.DataFrame
        One row per (table, area): ``table, area, interviews, n`` (distinct
        clients, when ``client_pid`` is present, else interviews),
        ``rating_missing_n, rating_missing_share, rating_not_relevant_n,
        composite_missing_n, composite_missing_share, missing_x_n,
        missing_n_n, missing_empty_n, missing_invalid_n`` (interviews whose
        composite is missing and that have at least one item of that kind),
        and ``why`` (the ``top`` items most often missing among those
        interviews, with counts per kind).

    Notes
    -----
    A missing interviewer rating is an empty cell (or a value outside 0–9);
    N (allowed for gambling) is counted separately as not relevant.
    Shares are of all interviews in the table.

    Examples
    --------
    >>> df = pd.DataFrame({"medical_problem_days": pd.array([2, -8, None], dtype="Int16"),
    ...                    "medical_troubled": pd.array([1, 1, 1], dtype="Int16"),
    ...                    "medical_importance": pd.array([1, 1, 1], dtype="Int16"),
    ...                    "rating_medical": pd.array([3, None, 5], dtype="Int16")})
    >>> c = completeness(df, spec=_medical_only(), lang="en")
    >>> c[["interviews", "rating_missing_n", "composite_missing_n", "why"]].to_numpy().tolist()
    [[3, 1, 2, 'medical_problem_days (2: X 1, empty 1)']]
    """
    spec = spec or load_spec()
    rows = []
    for tname, frame in _tables_of(frame_or_dataset, table):
        facts = _completeness_facts(frame, spec, min_share)
        n_int = len(frame)
        n_clients = int(frame["client_pid"].nunique()) if "client_pid" in frame.columns else n_int
        sums = {k: int(v.sum()) for k, v in facts.items()}
        rows.extend(_completeness_rows(tname, n_int, n_clients, sums, spec, top=top, lang=lang))
    return _completeness_frame(rows, min_share)


def _completeness_facts(frame: pd.DataFrame, spec, min_share) -> dict:
    """Per row of one table, what :func:`completeness` counts: key → boolean array (row-wise facts, so a
    unit's counts are the sums over its rows)."""
    cb = load_codebook()
    present_areas = [a for a, s in spec.areas.items() if all(c in frame.columns for c in s.columns)]
    scores = composite_scores(frame, spec=spec, min_share=min_share, areas=present_areas) \
        if present_areas else pd.DataFrame(index=frame.index)
    n_int = len(frame)
    facts = {}
    for area, aspec in spec.areas.items():
        rcol = cb.interviewer_rating(area)
        if rcol in frame.columns:
            raw = pd.to_numeric(frame[rcol], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
            is_n = raw == N_CODE
            facts[(area, "rating_missing")] = np.isnan(_rating_values(raw)) & ~is_n
            facts[(area, "rating_not_relevant")] = is_n
        if area in present_areas:
            cmiss = scores[f"composite_{area}"].isna().to_numpy()
            facts[(area, "composite_missing")] = cmiss
            any_kind = {k: np.zeros(n_int, dtype=bool) for k in _KIND_SV}
            for term in aspec.terms:
                kinds = _item_missing_kinds(frame, term, spec.sek_per_unit)
                for k, v in kinds.items():
                    facts[(area, term.column, k)] = v & cmiss
                for k in any_kind:
                    any_kind[k] |= kinds[k] & cmiss
            for k in _KIND_SV:
                facts[(area, "any", k)] = any_kind[k]
    return facts


def _completeness_rows(tname, n_int: int, n_clients: int, sums: dict, spec, *, top: int, lang: str) -> list:
    """:func:`completeness`'s rows of one table from the counts of :func:`_completeness_facts`."""
    cb = load_codebook()
    kind_label = _KIND_SV if lang == "sv" else {"X": "X", "N": "N", "empty": "empty", "invalid": "invalid"}
    rows = []
    for area, aspec in spec.areas.items():
        row: dict[str, Any] = {"table": tname, "area": area, "interviews": n_int, "n": n_clients}
        if (area, "rating_missing") in sums:
            row["rating_missing_n"] = sums[(area, "rating_missing")]
            row["rating_not_relevant_n"] = sums[(area, "rating_not_relevant")]
        else:
            row["rating_missing_n"] = n_int
            row["rating_not_relevant_n"] = 0
        if (area, "composite_missing") in sums:
            per_item = []
            for term in aspec.terms:
                counts = {k: sums[(area, term.column, k)] for k in _KIND_SV}
                total = sum(counts.values())
                if total:
                    per_item.append((total, term.column, counts))
            per_item.sort(key=lambda r: -r[0])  # stable: ties keep the spec's order
            row["composite_missing_n"] = sums[(area, "composite_missing")]
            for k in _KIND_SV:
                row[f"missing_{k.lower()}_n"] = sums[(area, "any", k)]
            row["why"] = "; ".join(
                f"{col} ({tot}: " + ", ".join(f"{kind_label[k]} {v}" for k, v in counts.items() if v) + ")"
                for tot, col, counts in per_item[:top])
        else:
            row["composite_missing_n"] = n_int
            for k in _KIND_SV:
                row[f"missing_{k.lower()}_n"] = 0
            row["why"] = ("kolumner saknas i filen" if lang == "sv" else "columns not in the data")
        rows.append(row)
    return rows


def _completeness_by(ds, units, *, col: str = "municipality", lang: str = "sv") -> dict:
    """:func:`completeness` ``(ds.filter(col=u), table=None)`` of every unit ``u``: the row-wise facts
    once per table, each unit's counts summed over its rows (same integers, same rows)."""
    spec = load_spec()
    per_unit: dict = {u: [] for u in units}
    for tname, frame in _tables_of(ds, None):
        facts = _completeness_facts(frame, spec, None)
        keys = frame[col].astype("string").to_numpy(dtype=object, na_value=None)
        codes, uniq = pd.factorize(keys, use_na_sentinel=True)
        index = {str(u): i for i, u in enumerate(uniq)}
        k = len(uniq) + 1
        ucode = np.where(codes < 0, len(uniq), codes)
        n_rows = np.bincount(ucode, minlength=k)
        sums = {key: np.bincount(ucode[v], minlength=k) for key, v in facts.items()}
        if "client_pid" in frame.columns:   # distinct clients per unit: distinct (unit, client) pairs counted
            pid, _ = pd.factorize(frame["client_pid"], use_na_sentinel=True)
            ok = (pid >= 0) & (codes >= 0)
            base = int(pid.max(initial=-1)) + 1 or 1
            pairs = np.unique(codes[ok].astype(np.int64) * base + pid[ok])
            clients = np.bincount(pairs // base, minlength=len(uniq))
        else:
            clients = None
        for u in units:
            i = index.get(u)
            if i is None:
                n_int, n_clients, own = 0, 0, {key: 0 for key in sums}
            else:
                n_int = int(n_rows[i])
                n_clients = n_int if clients is None else int(clients[i])
                own = {key: int(v[i]) for key, v in sums.items()}
            per_unit[u].extend(_completeness_rows(tname, n_int, n_clients, own, spec, top=3, lang=lang))
    return {u: _completeness_frame(rows, None) for u, rows in per_unit.items()}


def _completeness_frame(rows: list, min_share) -> pd.DataFrame:
    cols = ["table", "area", "interviews", "n", "rating_missing_n", "rating_missing_share",
            "rating_not_relevant_n", "composite_missing_n", "composite_missing_share",
            "missing_x_n", "missing_n_n", "missing_empty_n", "missing_invalid_n", "why"]
    res = pd.DataFrame(rows)
    if res.empty:
        return pd.DataFrame(columns=cols)
    with np.errstate(divide="ignore", invalid="ignore"):
        res["rating_missing_share"] = res["rating_missing_n"] / res["interviews"].where(res["interviews"] > 0)
        res["composite_missing_share"] = res["composite_missing_n"] / res["interviews"].where(res["interviews"] > 0)
    res = res[cols]
    res.attrs["asi"] = {"unit": "intervjuer", "selection": "alla intervjuer i tabellen",
                        "group_cols": ["table", "area"], "min_share": min_share,
                        # ``why`` names raw per-item counts ("car_access (2: X 2)"), which the
                        # protection layer cannot see inside a string: analysts only.
                        "drop_cols": ["why"]}
    return res


# --------------------------------------------------------------------------- CLI
def score_file(path, *, table: str | None = None, key_path=None, mapping_path=None, sheet: str | None = None,
               as_of=None, spec: CompositeSpec | None = None, min_share=None) -> pd.DataFrame:
    """Composite scores for every interview of a template-format file, in input order.

    Parameters
    ----------
    path : str or Path
        CSV or Excel file in template format (or any format a mapping file
        maps onto the codebook).
    table : {"grund", "uppfoljning"}, optional
        Force the table (default: inferred by :func:`asi_lib.io.read_file`;
        every Grund/Uppföljning table of a workbook is scored).
    key_path : str or Path, optional
        Pseudonymisation key file (must exist); default
        :func:`asi_lib.pseudonym.default_key_path` (created when missing).
    mapping_path : str or Path, optional
        Mapping file (:func:`asi_lib.mapping.load_mapping`).
    sheet : str, optional
        Only this Excel sheet.
    as_of : date-like, optional
        Reference date of the validation (dates after it are errors).
    spec, min_share
        As in :func:`composite_scores`.

    Returns
    -------
    pandas.DataFrame
        ``table, sheet, row, client_pid, interview_date, composite_<area>...,
        problem``: one row per input row, in input order. ``row`` is the row
        number as the user sees it; ``client_pid`` the keyed pseudonym (the
        raw identifier never leaves this function); rows with a validation
        error keep empty scores and name the errors (``column: rule``) in
        ``problem``.

    Raises
    ------
    AsiInputError
        Unreadable file, no Grund/Uppföljning table, unusable key or mapping.

    Notes
    -----
    Any validation error on a row (not only on its items) leaves its scores
    empty: such a row would be quarantined by ``asi-kit ingest``. Columns
    the file lacks are empty items, so their areas are not computable.

    Examples
    --------
    >>> import tempfile, os
    >>> from asi_lib.pseudonym import load_key
    >>> d = tempfile.mkdtemp(); key = os.path.join(d, "k.key"); _ = load_key(key)
    >>> p = os.path.join(d, "g.csv")
    >>> _ = open(p, "w", encoding="utf-8").write(
    ...     "client_id;municipality;unit;interview_date;sex;main_substance;"
    ...     "medical_problem_days;medical_troubled;medical_importance\\n"
    ...     "A1;Ale;U;2024-03-01;male;alcohol;9;0;3\\nA2;Ale;U;2024-03-01;male;alcohol;X;0;3\\n")
    >>> res = score_file(p, key_path=key, as_of="2024-12-31")
    >>> res["row"].tolist(), res["composite_medical"].round(4).tolist(), res["composite_alcohol"].isna().all()
    ([2, 3], [0.35, nan], np.True_)
    """
    from .io import read_file
    from .mapping import apply_mapping, load_mapping
    from .pseudonym import load_key, pseudonymise_ids
    from .validate import validate_frame

    if table is not None and table not in _TABLES_WITH_ITEMS:
        raise AsiInputError(f"--table måste vara grund eller uppfoljning, inte '{table}' / must be grund or uppfoljning")
    mapping = load_mapping(mapping_path) if mapping_path else None
    raws = [r for r in read_file(path, table=table, sheet=sheet, mapping=mapping) if r.table in _TABLES_WITH_ITEMS]
    if not raws:
        raise AsiInputError("ingen Grund- eller Uppföljningstabell i filen / no Grund or follow-up table in the file",
                            file=str(path))
    key = load_key(key_path, create=False) if key_path else load_key(None, create=True)
    spec = spec or load_spec()
    parts = []
    for raw in raws:
        raw = apply_mapping(raw, mapping) if mapping is not None else raw
        typed, problems = validate_frame(raw, as_of=as_of)
        errors = problems[problems["severity"] == "error"]
        err_text = (errors.assign(txt=errors["column"].astype(str) + ": " + errors["rule"].astype(str))
                    .groupby("row", sort=False)["txt"].agg("; ".join)) if len(errors) else pd.Series(dtype=str)
        has_error = typed.index.isin(err_text.index)
        scores = composite_scores(typed, spec=spec, min_share=min_share)
        scores[has_error] = np.nan
        ids = typed["client_id"] if "client_id" in typed else typed["client_pid"]
        pid = pseudonymise_ids(ids, typed["municipality"], key) if "client_id" in typed else ids
        part = pd.DataFrame({
            "table": raw.table, "sheet": raw.sheet or "", "row": typed.index.to_numpy(),
            "client_pid": pid.to_numpy(),
            "interview_date": typed["interview_date"].dt.strftime("%Y-%m-%d").to_numpy(),
        })
        for c in scores.columns:
            part[c] = scores[c].to_numpy()
        part["problem"] = err_text.reindex(typed.index).fillna("").to_numpy()
        parts.append(part)
    out = pd.concat(parts, ignore_index=True)
    out.attrs["asi"] = {"unit": "intervjuer", "spec": spec.path}
    return out


def _scores_cmd(args: argparse.Namespace) -> int:
    res = score_file(args.input, table=args.table, key_path=args.key, mapping_path=args.mapping,
                     sheet=args.sheet, as_of=args.as_of, min_share=args.min_share)
    cols = list(res.columns)
    if res["table"].nunique() == 1:
        cols.remove("table")
    if (res["sheet"] == "").all() or res["sheet"].nunique() == 1:
        cols.remove("sheet")
    out = Path(args.out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        from .safe import csv_frame

        csv_frame(res[cols]).to_csv(out, index=False, float_format="%.6f", encoding="utf-8")
    except OSError as exc:
        raise AsiInputError(f"kan inte skriva / cannot write: {exc.strerror}", file=str(out)) from None
    n_err = int((res["problem"] != "").sum())
    score_cols = [c for c in res.columns if c.startswith("composite_")]
    computable = ", ".join(f"{c.removeprefix('composite_')} {res[c].notna().sum()}" for c in score_cols)
    print(f"asi-kit scores: {len(res)} intervjuer / interviews -> {out}; "
          f"{n_err} med fel (tomma poäng, se kolumnen problem) / with errors (empty scores, see column problem)",
          file=sys.stderr)
    print(f"  beräkningsbara / computable: {computable}", file=sys.stderr)
    return 1 if n_err else 0


def register_cli(subparsers) -> None:
    """Add ``asi-kit scores INPUT --out FILE.csv``."""
    from .errors import output_file_arg

    p = subparsers.add_parser(
        "scores", help="sammanvägda mått (0–1) per intervju / composite scores per interview",
        description=("Beräknar sammanvägda mått (composite scores) för varje intervju i en Grund- eller "
                     "Uppföljningsfil, i filens ordning. Klient-id pseudonymiseras; rader med fel får tomma "
                     "poäng och felen i kolumnen problem. / Composite scores for every interview of a file, "
                     "in input order; ids pseudonymised; rows with errors get empty scores and a problem column."))
    p.add_argument("input", metavar="INPUT", help="CSV- eller Excel-fil / CSV or Excel file")
    p.add_argument("--out", required=True, metavar="FILE.csv", type=output_file_arg, help="utfil / output CSV")
    p.add_argument("--table", choices=list(_TABLES_WITH_ITEMS), help="tabell (annars från rubrikraden / bladnamnen)")
    p.add_argument("--key", metavar="FILE", help="nyckelfil för pseudonymisering (måste finnas) / key file (must exist)")
    p.add_argument("--mapping", metavar="FILE", help="mappningsfil (YAML) / mapping file")
    p.add_argument("--sheet", metavar="SHEET", help="bara detta Excel-blad / only this Excel sheet")
    p.add_argument("--as-of", dest="as_of", metavar="YYYY-MM-DD", help="referensdatum för valideringen")
    p.add_argument("--min-share", dest="min_share", type=float, metavar="M",
                   help="minsta andel av vikten som måste finnas (standard: alla poster) / minimum weight share")
    p.set_defaults(func=_scores_cmd)
