"""A synthetic Swedish demo region with known true parameters.

:func:`generate` builds the four tables (Grund, Uppföljning, bortfall,
insatser) of an invented region of about ten municipalities, in store dtypes
but still carrying a raw synthetic ``client_id`` (local client numbers such as
``K03-000123``, never anything that looks like a personal identity number).
Everything is vectorised over clients with one :class:`numpy.random.Generator`;
the same seed gives identical frames.

With ``municipalities=K`` it builds a national region instead: K invented
municipalities whose sizes follow a seeded lognormal with a floor
(:func:`municipality_sizes`), many small ones beside a few big cities.

The region has built-in traps whose true values are returned in
``SynthRegion.truth`` (and, as parameters, in :data:`TRUE_PARAMS`):

(a) confounding by indication: the main intervention is chosen from the
    *observed* baseline severity (residential treatment for the most severe,
    housing support for the homeless, ...);
(b) regression to the mean: clients are interviewed at their worst and only
    part of the observed baseline persists (slope < 1), so the naive
    before/after change looks much better than any intervention effect;
(c) one intervention with truly zero effect (``contact_person``);
(d) follow-up bortfall that depends on the client's situation (homelessness,
    drug severity, severe psychiatric problems, a municipality without a
    follow-up routine), so the followed-up differ from the not followed up.

Outcome model (alcohol and drug composite, 0–1 scale): for the first ordinary
follow-up of a client with observed baseline composite :math:`c_0`,

.. math::

   E[c_1 \\mid c_0, k, \\text{sex}, \\text{age band}]
   = \\alpha + \\beta c_0 + \\tau_k + \\gamma_{female} + \\gamma_{band}

where :math:`\\tau_k` is the effect of the client's *main* intervention
(``truth["effects"][area][k]``, ``contact_person`` = 0) and the composites
are the ASI-5 formulas computed from the generated items (see
:func:`alcohol_composite`, :func:`drug_composite`). Items are drawn from a
target composite with mean-preserving randomisation (zero inflation,
bounded symmetric noise, stochastic rounding), so the expectation above holds
exactly for the item-based composite and an ANCOVA
``c1 ~ c0 + C(intervention) + sex + age_band`` is correctly specified.
Follow-up bortfall depends only on baseline facts, so it is ignorable given
the ANCOVA's covariates (missing at random) but not for naive comparisons.
"""
from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .codebook import N_CODE, X_CODE, load_codebook
from .errors import AsiInputError
from .safe import csv_frame, excel_frame, excel_workbook

FORMATS = ("csv", "xlsx", "parquet")
_L = 44.0 / 6.0  # ln(USD) at which the money term of the alcohol composite reaches 1/6

# ----------------------------------------------------------------------------- region
# (name, share of the region's clients, units). Share None = fixed tiny count.
MUNICIPALITIES = (
    ("Älvstad", 0.36, ("Beroendeenheten", "Vuxenmottagningen", "Öppenvården Norr")),
    ("Björkhamn", 0.18, ("Beroendeenheten", "Mottagningen Centrum")),
    ("Granåker", 0.13, ("Vuxenenheten", "Öppenvården")),
    ("Lövsala", 0.10, ("Socialtjänst vuxen", "Mottagningen")),
    ("Sjöbrunna", 0.08, ("Vuxenenheten", "Beroendemottagningen")),
    ("Tallmora", 0.06, ("Vuxenenheten",)),
    ("Rönnvik", 0.05, ("Öppenvården",)),
    ("Ekmarken", 0.04, ("Vuxenenheten",)),
    ("Fjällbo", None, ("Socialtjänsten",)),
    ("Östermyra", None, ("Individ- och familjeomsorgen",)),
)
TINY_COUNTS = {"Fjällbo": 8, "Östermyra": 5}  # clients in the target group (Grund + Grund bortfall)
NO_ROUTINE_MUNICIPALITY = "Rönnvik"  # follow-up routine missing: few follow-ups, reason u_no_routine

INTERVENTIONS = ("mi_counselling", "relapse_prevention", "twelve_step", "cra", "residential",
                 "housing_support", "employment_support", "contact_person", "case_management", "other")
SUBSTANCES = ("alcohol", "cannabis", "amphetamine", "opioids", "benzodiazepines", "cocaine", "several", "other")
DRUG_ITEMS = ("D3", "D4", "D5", "D6", "D7", "D8", "D9", "D10", "D11", "D13")  # + D27 problem days

TRUE_PARAMS: dict = {
    "substance_share": dict(zip(SUBSTANCES, (0.55, 0.12, 0.09, 0.07, 0.05, 0.03, 0.07, 0.02))),
    "female_share_by_substance": dict(zip(SUBSTANCES, (0.32, 0.18, 0.25, 0.25, 0.50, 0.20, 0.25, 0.30))),
    # age = 18 + exp(N(ln m, 0.5)), capped at 80; m = median - 18
    "age_median_by_substance": dict(zip(SUBSTANCES, (45, 27, 36, 38, 42, 30, 31, 40))),
    "grund_bortfall_logit": {"intercept": -2.4, "homeless": 1.0, "severe_psychiatric": 1.3, "severity": 0.8},
    "followup_logit": {"intercept": 0.75, "homeless": -1.3, "drug_composite": -2.5,
                       "severe_psychiatric": -0.6, "completed_main": 0.5, "no_routine_municipality": -2.0},
    "followup_bortfall_registered": 0.85,
    "outcome_model": {
        "alcohol": {"intercept": 0.09, "slope_baseline": 0.50, "female": -0.005,
                    "age_band": {"18-30": 0.010, "31-50": 0.0, "51+": -0.005},
                    "noise_sd": 0.10, "zero_prob_max": 0.35, "cap": 0.95},
        "drugs": {"intercept": 0.07, "slope_baseline": 0.55, "female": -0.005,
                  "age_band": {"18-30": 0.010, "31-50": 0.0, "51+": -0.005},
                  "noise_sd": 0.07, "zero_prob_max": 0.40, "cap": 0.45},
    },
    "effects": {
        "alcohol": dict(zip(INTERVENTIONS, (-0.03, -0.05, -0.06, -0.07, -0.07, -0.02, -0.01, 0.0, -0.03, -0.01))),
        "drugs": dict(zip(INTERVENTIONS, (-0.02, -0.04, -0.03, -0.03, -0.06, -0.03, -0.01, 0.0, -0.04, -0.01))),
    },
    "null_intervention": "contact_person",
    "age_bands": {"18-30": [18, 30], "31-50": [31, 50], "51+": [51, 120]},
    "second_intervention_share": 0.25,
}


def true_parameters() -> dict:
    """A deep copy of :data:`TRUE_PARAMS` (safe to modify).

    Returns
    -------
    dict
        Substance mix, demographics, bortfall and follow-up logits, the
        outcome model per area and the true intervention effects
        (``["effects"][area][intervention]``, 0–1 composite scale).

    Examples
    --------
    >>> true_parameters()["effects"]["alcohol"]["contact_person"]
    0.0
    """
    return copy.deepcopy(TRUE_PARAMS)


# ----------------------------------------------------------------------------- composites
def alcohol_composite(d1, d2, d26, d28, d30, money_sek) -> np.ndarray:
    """ASI-5 alcohol composite from item values (floats, NaN for X/empty).

    Parameters
    ----------
    d1, d2, d26 : float or array-like
        Days of alcohol use, of use to intoxication and with alcohol
        problems (past 30 days; D1, D2, D26).
    d28, d30 : float or array-like
        Troubled by and importance of help for alcohol problems (0–4;
        D28, D30).
    money_sek : float or array-like
        Money spent on alcohol in SEK (past 30 days; D23).

    Returns
    -------
    numpy.ndarray of float64
        Broadcast shape of the inputs; NaN where any input is NaN.

    Notes
    -----
    ``(D1 + D2 + D26)/180 + (D28 + D30)/24 + ln(D23/10)/44`` with the money
    D23 in SEK turned into "USD" by /10, ln only for amounts > 0 and capped
    so that the term is at most 1/6 (McLellan et al. 1992, VistA weights).

    Examples
    --------
    >>> float(alcohol_composite(30, 30, 30, 4, 4, 10 * np.exp(44 / 6))[()])
    1.0
    """
    usd = np.asarray(money_sek, dtype="float64") / 10.0
    with np.errstate(divide="ignore", invalid="ignore"):
        ln = np.where(usd > 0, np.log(np.where(usd > 0, usd, 1.0)), 0.0)
    ln = np.where(np.isnan(usd), np.nan, np.minimum(ln, _L))
    return ((np.asarray(d1, float) + np.asarray(d2, float) + np.asarray(d26, float)) / 180.0
            + (np.asarray(d28, float) + np.asarray(d30, float)) / 24.0 + ln / 44.0)


def drug_composite(days: np.ndarray, d29, d31) -> np.ndarray:
    """ASI-5 drug composite: ``sum(D3..D11, D13, D27)/390 + (D29 + D31)/52``.

    ``days`` is an (n, 11) array of the eleven day items.

    Parameters
    ----------
    days : array-like of shape (n, 11)
        Days of use of D3–D11 and D13 (:data:`DRUG_ITEMS`) and drug problem
        days D27 (past 30 days).
    d29, d31 : float or array-like of length n
        Troubled by and importance of help for drug problems (0–4; D29, D31).

    Returns
    -------
    numpy.ndarray of float64
        Shape (n,); NaN where any item is NaN.

    Examples
    --------
    >>> float(drug_composite(np.full((1, 11), 30.0), 4, 4)[0])
    1.0
    """
    return np.asarray(days, float).sum(axis=1) / 390.0 + (np.asarray(d29, float) + np.asarray(d31, float)) / 52.0


# ----------------------------------------------------------------------------- random helpers
def _expit(x):
    return 1.0 / (1.0 + np.exp(-x))


def _sround(x, rng):
    """Stochastic rounding: E[result] = x."""
    f = np.floor(x)
    return f + (rng.random(np.shape(x)) < (x - f))


def _spread(m, rng, k=0.6):
    """Mean-preserving bounded noise keeping m in [0, 1]."""
    w = k * np.minimum(m, 1.0 - m)
    return m + w * (2.0 * rng.random(np.shape(m)) - 1.0)


def _zero_inflate(m, rng, m_star=0.3):
    """Use with probability min(1, m/m*), then m/p: mean-preserving."""
    p = np.minimum(1.0, m / m_star)
    use = rng.random(np.shape(m)) < p
    return np.where(use, m / np.where(p > 0, p, 1.0), 0.0)


def _days(m, rng, m_star=0.3):
    m = np.clip(m, 0.0, 1.0)
    return _sround(30.0 * np.clip(_spread(_zero_inflate(m, rng, m_star), rng), 0, 1), rng)


def _rating(m, rng):
    return _sround(4.0 * _spread(np.clip(m, 0.0, 1.0), rng), rng)


def _alcohol_money(m, rng):
    """SEK whose capped ln-term has expectation m/6 (m in [0, 1])."""
    r = _L * _spread(np.clip(m, 0.0, 1.0), rng)
    r0 = np.log(20.0)  # below 200 kr: 0 kr or 200 kr with the right odds
    low = r < r0
    r = np.where(low, np.where(rng.random(np.shape(r)) < r / r0, r0, -np.inf), r)
    return np.where(np.isfinite(r), np.round(np.exp(r)) * 10.0, 0.0)


def _gumbel_choice(scores, rng):
    """Multinomial-logit choice per row (softmax of scores; -inf = impossible).

    Inverse-CDF sampling: same distribution as the Gumbel-max trick, cheaper.
    """
    e = np.exp(scores - scores.max(axis=1, keepdims=True))
    cum = np.cumsum(e, axis=1)
    u = rng.random(len(scores)) * cum[:, -1]
    return np.minimum((cum < u[:, None]).sum(axis=1), scores.shape[1] - 1)


def _strings(names, idx, valid=None) -> pa.Array:
    """String array names[idx] built through a dictionary (fast for few distinct values)."""
    mask = None if valid is None else ~np.asarray(valid, bool)
    ind = pa.array(np.asarray(idx, dtype="int32"), mask=mask)
    return pa.DictionaryArray.from_arrays(ind, pa.array(list(names), pa.string())).cast(pa.string())


def _choice(probs, n, rng):
    return rng.choice(len(probs), size=n, p=np.asarray(probs) / np.sum(probs))


def _mp_target(mu, cap, sd, p0, rng):
    """Target with mean exactly mu: zero w.p. p, else mu/(1-p) + bounded symmetric noise."""
    mu = np.clip(mu, 0.0, cap)
    p = p0 * (1.0 - mu / cap)
    m = mu / (1.0 - p)
    w = np.minimum(np.sqrt(5.0) * sd, np.minimum(m, cap - m))
    val = m + w * (2.0 * rng.beta(2.0, 2.0, size=np.shape(mu)) - 1.0)
    return np.where(rng.random(np.shape(mu)) < p, 0.0, val)


# ----------------------------------------------------------------------------- item blocks
def _alcohol_items(t, rng) -> dict:
    """ASI-5 alcohol items whose composite has expectation t (t in [0, 1])."""
    m1 = np.minimum(1.0, 1.3 * t)
    m2 = 2.0 * t - m1
    d1, d2, d26 = _days(m1, rng), _days(m2, rng), _days(t, rng)
    # any-use days D1 is the largest of the three (intoxication and problem days cannot exceed it);
    # permuting the three keeps D1 + D2 + D26 and so the composite unchanged
    k = np.argmax(np.column_stack([d1, d2, d26]), axis=1)
    d1, d2, d26 = (np.select([k == 1, k == 2], [d2, d26], d1), np.where(k == 1, d1, d2),
                   np.where(k == 2, d1, d26))
    return {"D1": d1, "D2": d2, "D26": d26, "D28": _rating(t, rng), "D30": _rating(t, rng),
            "D23": _alcohol_money(t, rng)}


def _drug_items(t, profile, rng) -> dict:
    """Drug items whose composite has expectation t (t in [0, 0.45])."""
    u = np.minimum(1.0, 2.2 * t)
    rest = np.maximum(0.0, 390.0 * (t - 8.0 * u / 52.0) - 30.0 * u)  # expected days on D3..D13
    out = {code: _days(rest * profile[:, j] / 30.0, rng) for j, code in enumerate(DRUG_ITEMS)}
    out.update({"D27": _days(u, rng), "D29": _rating(u, rng), "D31": _rating(u, rng)})
    return out


# drug-use profile over DRUG_ITEMS by main substance (rows sum to 1, max share <= 0.34)
_PROFILES = {
    "alcohol":         (0.00, 0.00, 0.05, 0.00, 0.30, 0.10, 0.10, 0.30, 0.00, 0.15),
    "cannabis":        (0.00, 0.00, 0.00, 0.00, 0.15, 0.10, 0.15, 0.34, 0.06, 0.20),
    "amphetamine":     (0.03, 0.00, 0.02, 0.00, 0.15, 0.08, 0.34, 0.15, 0.03, 0.20),
    "opioids":         (0.30, 0.20, 0.15, 0.00, 0.12, 0.00, 0.05, 0.05, 0.00, 0.13),
    "benzodiazepines": (0.00, 0.05, 0.15, 0.05, 0.34, 0.00, 0.10, 0.10, 0.00, 0.21),
    "cocaine":         (0.00, 0.00, 0.00, 0.00, 0.10, 0.34, 0.15, 0.20, 0.05, 0.16),
    "several":         (0.08, 0.07, 0.08, 0.02, 0.17, 0.10, 0.13, 0.13, 0.02, 0.20),
    "other":           (0.00, 0.00, 0.10, 0.05, 0.20, 0.05, 0.10, 0.20, 0.20, 0.10),
}


# ----------------------------------------------------------------------------- SynthRegion
@dataclass
class SynthRegion:
    """A generated region: four tables in store dtypes plus the truth.

    Attributes
    ----------
    tables : dict of str to pandas.DataFrame
        ``grund``, ``uppfoljning``, ``bortfall``, ``insatser`` in store dtypes
        (X/N as -8/-9) with a raw synthetic ``client_id`` column.
    truth : dict
        JSON-serialisable true parameters and realised counts.

    Examples
    --------
    >>> import tempfile
    >>> region = generate(n_clients=200, seed=1)
    >>> region
    SynthRegion(grund=166, uppfoljning=101, bortfall=73, insatser=202)
    >>> region.truth["null_intervention"], region.truth["n_clients"]
    ('contact_person', 200)
    >>> [p.name for p in region.write(tempfile.mkdtemp(), "csv")]
    ['grund.csv', 'uppfoljning.csv', 'bortfall.csv', 'insatser.csv', 'truth.json']
    """

    tables: dict
    truth: dict = field(default_factory=dict)

    def to_export_frames(self) -> dict:
        """Frames as a case system would export them.

        Integer items hold ints, ``"X"``/``"N"`` tokens or None; dates are
        ISO strings (``YYYY-MM-DD``) or None; categories their codes.
        """
        cb = load_codebook()
        out = {}
        for name, df in self.tables.items():
            cols = {}
            for col in cb.columns(name):
                s = df[col.name]
                if col.type == "integer":
                    vals = s.to_numpy(dtype="float64", na_value=np.nan)
                    arr = s.to_numpy(dtype=object, na_value=None)
                    arr[vals == X_CODE] = "X"
                    arr[vals == N_CODE] = "N"
                    cols[col.name] = arr
                elif col.type == "date":
                    cols[col.name] = s.dt.strftime("%Y-%m-%d").to_numpy(dtype=object, na_value=None)
                else:
                    cols[col.name] = s.astype("object").where(s.notna(), None).to_numpy()
            out[name] = pd.DataFrame(cols, index=df.index)
        return out

    def write(self, out_dir, format: str = "csv") -> list[Path]:
        """Write one file per table (and ``truth.json``) to ``out_dir``.

        ``csv`` (UTF-8, comma, X/N tokens) and ``xlsx`` (one sheet per table)
        are export-shaped; ``parquet`` keeps the store dtypes (X/N as the
        sentinel codes -8/-9) and the raw ``client_id`` - the fast format for
        large regions.
        """
        if format not in FORMATS:
            raise AsiInputError(f"okänt format '{format}' (välj {', '.join(FORMATS)}) / unknown format")
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        written = []
        if format == "parquet":
            for name, df in self.tables.items():
                p = out / f"{name}.parquet"
                df.to_parquet(p, index=False)
                written.append(p)
        else:
            frames = self.to_export_frames()
            if format == "csv":
                for name, df in frames.items():
                    p = out / f"{name}.csv"
                    csv_frame(df).to_csv(p, index=False, encoding="utf-8")  # no field starts a formula
                    written.append(p)
            else:
                too_big = [n for n, df in frames.items() if len(df) >= 1_048_576]
                if too_big:
                    raise AsiInputError(f"för många rader för Excel i {', '.join(too_big)}; använd csv eller parquet"
                                        " / too many rows for Excel")
                p = out / "region.xlsx"
                with pd.ExcelWriter(p, engine="openpyxl") as xw:
                    for name, df in frames.items():
                        excel_frame(df).to_excel(xw, sheet_name=name, index=False)
                    excel_workbook(xw.book)  # no cell is a formula
                written.append(p)
        p = out / "truth.json"
        p.write_text(json.dumps(self.truth, ensure_ascii=False, indent=1), encoding="utf-8")
        written.append(p)
        return written

    def __repr__(self) -> str:
        sizes = ", ".join(f"{t}={len(df)}" for t, df in self.tables.items())
        return f"SynthRegion({sizes})"


# ----------------------------------------------------------------------------- frame building
def _int_col(values, dtype, na_mask=None):
    v = np.asarray(values)
    mask = np.zeros(v.shape, bool) if na_mask is None else np.asarray(na_mask, bool)
    v = np.where(mask, 0, np.nan_to_num(v.astype("float64"), nan=0)).astype("int32" if dtype == "Int32" else "int16")
    return pd.arrays.IntegerArray(v, mask)


def _cat_col(cb, col, idx):
    return pd.Categorical.from_codes(np.asarray(idx, dtype="int64"), categories=list(col.codes))


def _build(cb, table, data: dict, n: int) -> pd.DataFrame:
    """Assemble a table in codebook column order and store dtypes."""
    cols = {}
    for col in cb.columns(table):
        v = data.get(col.name)
        if col.type in ("id", "string", "text") and isinstance(v, (pa.Array, pa.ChunkedArray)):
            cols[col.name] = pd.array(v, dtype="string")
        elif col.type == "id":
            cols[col.name] = pd.array(v, dtype="string")
        elif col.type == "date":
            cols[col.name] = pd.Series(v).astype("datetime64[us]").to_numpy() if v is not None \
                else np.full(n, np.datetime64("NaT"), "datetime64[us]")
        elif col.type == "integer":
            dtype = "Int32" if col.is_money else "Int16"
            if v is None:
                cols[col.name] = _int_col(np.zeros(n), dtype, np.ones(n, bool))
            else:
                arr = np.asarray(v, dtype="float64")
                cols[col.name] = _int_col(arr, dtype, np.isnan(arr))
        elif col.type == "category":
            if v is None:
                cols[col.name] = pd.Categorical.from_codes(np.full(n, -1), categories=list(col.codes))
            else:
                cols[col.name] = _cat_col(cb, col, v)
        else:
            cols[col.name] = pd.array(v if v is not None else [pd.NA] * n, dtype="string")
    return pd.DataFrame(cols)


def _apply_x(cb, table, data: dict, rng, rate: float, skip=()):
    """Replace a few answers by X where the codebook allows X (MCAR)."""
    for col in cb.columns(table):
        if col.type == "integer" and "X" in col.missing and col.name in data and col.name not in skip:
            v = np.asarray(data[col.name], dtype="float64")
            hit = (rng.random(v.shape) < rate) & ~np.isnan(v)
            data[col.name] = np.where(hit, X_CODE, v)


def _age_band_index(age):
    return np.where(age <= 30, 0, np.where(age <= 50, 1, 2))


# ----------------------------------------------------------------------------- generator
def _horizon(end_year: int) -> np.datetime64:
    end = date(end_year, 12, 31)
    today = date.today()
    return np.datetime64(min(end, today), "D")


# ----------------------------------------------------------------------------- national region
#: Defaults of the national size distribution (see :func:`municipality_sizes`, docs/synthetic_data.md).
NATIONAL_SIGMA = 1.3
NATIONAL_FLOOR = 3
_NAME_STEMS = ("Al", "Björk", "Ed", "Fur", "Gran", "Hag", "Ild", "Jär", "Kvarn", "Lind", "Mo", "Nor", "Ox",
               "Pil", "Ran", "Sand", "Tall", "Ulv", "Val", "Vide", "Ås", "Äng", "Ör", "Berg", "Dal", "Ek", "Hassel",
               "Lo", "Rönn", "Sjö")
_NAME_ENDS = ("by", "sala", "hamn", "vik", "åker", "mora", "myra", "bo", "stad", "köping", "torp", "lunda",
              "ås", "fors", "näs", "holm", "berga", "ryd", "sjö", "landa")
_UNIT_TYPES = ("Vuxenenheten", "Beroendemottagningen", "Öppenvården")


def municipality_sizes(n_clients: int, n_municipalities: int, *, sigma: float = NATIONAL_SIGMA,
                       floor: int = NATIONAL_FLOOR, seed: int = 20261122) -> np.ndarray:
    """Clients per municipality of a national region: a seeded lognormal with a floor.

    Parameters
    ----------
    n_clients : int
        Clients in the whole target group.
    n_municipalities : int
    sigma : float, default 1.3
        SD of the log sizes (skew: the larger, the more small municipalities
        beside a few big cities).
    floor : int, default 3
        Every municipality has at least this many clients.
    seed : int

    Returns
    -------
    numpy.ndarray of int64
        Sizes, largest first, summing to ``n_clients``.

    Notes
    -----
    :math:`w_i \\sim \\mathrm{LogNormal}(0, \\sigma^2)` i.i.d., then
    :math:`n_i = f + \\lfloor (N - kf)\\, w_i / \\sum_j w_j \\rceil` with the
    remainder apportioned by largest fractional part (Hamilton), so
    :math:`\\sum n_i = N` exactly. The draws use their own stream
    (``numpy.random.default_rng([seed, 12])``). Why a lognormal:
    ``docs/synthetic_data.md``.

    Examples
    --------
    >>> s = municipality_sizes(350_000, 290, seed=1)
    >>> int(s.sum()), len(s), int(s.min()) >= 3, bool(s[0] > 20 * np.median(s))
    (350000, 290, True, True)
    """
    k, n = int(n_municipalities), int(n_clients)
    if k < 1:
        raise AsiInputError("minst en kommun / at least one municipality")
    if n < floor * k:
        raise AsiInputError(f"{n} klienter räcker inte till {k} kommuner med minst {floor} var "
                            "/ too few clients for the municipalities")
    w = np.random.default_rng([seed, 12]).lognormal(0.0, float(sigma), k)
    w = np.sort(w)[::-1]
    quota = (n - floor * k) * w / w.sum()
    base = np.floor(quota).astype(np.int64)
    rest = (n - floor * k) - int(base.sum())
    base[np.argsort(-(quota - base), kind="stable")[:rest]] += 1
    return base + floor


def municipality_names(k: int, seed: int = 20261122) -> list[str]:
    """``k`` invented, distinct Swedish-sounding municipality names (a seeded pick of stem + ending).

    Examples
    --------
    >>> municipality_names(3, seed=1)  # doctest: +SKIP
    ['Furfors', 'Örvik', 'Lindlunda']
    >>> len(set(municipality_names(290)))
    290
    """
    combos = [a + b for a in _NAME_STEMS for b in _NAME_ENDS]
    if k > len(combos):
        raise AsiInputError(f"högst {len(combos)} kommuner / at most {len(combos)} municipalities")
    pick = np.random.default_rng([seed, 13]).permutation(len(combos))[:k]
    return [combos[i].capitalize() for i in pick]


# ----------------------------------------------------------------------------- generation steps
def _layout(s, municipalities, sigma, floor) -> None:
    """Municipalities, their sizes, units and the clients' local numbers (``s.muni``, ``s.client_id``...)."""
    n_clients, rng = s.n_clients, s.rng
    if municipalities is None:  # the demo region
        names = [m[0] for m in MUNICIPALITIES]
        tiny = {k: min(v, max(1, n_clients // 50)) for k, v in TINY_COUNTS.items()}
        n_big = n_clients - sum(tiny.values())
        shares = np.array([m[1] or 0.0 for m in MUNICIPALITIES])
        counts = np.floor(shares / shares.sum() * n_big).astype(int)
        counts[0] += n_big - counts.sum()
        for i, nm in enumerate(names):
            if nm in tiny:
                counts[i] = tiny[nm]
        unit_names = [[f"{m[0]} {u}" for u in m[2]] for m in MUNICIPALITIES]
        no_routine = [NO_ROUTINE_MUNICIPALITY]
    else:  # a national region
        counts = municipality_sizes(n_clients, municipalities, sigma=sigma, floor=floor, seed=s.seed)
        names = municipality_names(len(counts), seed=s.seed)
        n_units = np.select([counts < 200, counts < 2000], [1, 2], 3)
        unit_names = [[f"{nm} {u}" for u in _UNIT_TYPES[:j]] for nm, j in zip(names, n_units)]
        lack = np.random.default_rng([s.seed, 14]).random(len(names)) < 0.05
        no_routine = [nm for nm, x in zip(names, lack) if x] or [names[len(names) // 2]]
    muni = np.repeat(np.arange(len(names)), counts)
    n = len(muni)
    unit_local = np.floor(rng.random(n) ** 1.3 * np.array([len(u) for u in unit_names])[muni]).astype(int)
    unit_offset = np.cumsum([0] + [len(u) for u in unit_names])[:-1]
    width = 2 if len(names) < 100 else 3
    local_no = np.arange(n) - np.repeat(np.cumsum(counts) - counts, counts) + 1
    s.names, s.counts, s.muni, s.n, s.unit_names, s.no_routine = names, counts, muni, n, unit_names, no_routine
    s.unit_all = [u for us in unit_names for u in us]
    s.unit_idx = unit_offset[muni] + unit_local
    s.client_id = pc.binary_join_element_wise(
        _strings([f"K{i + 1:0{width}d}" for i in range(len(names))], muni),
        pc.utf8_lpad(pc.cast(pa.array(local_no), pa.string()), 6, "0"), "-")


def _place(s, idx) -> dict:
    """client_id, municipality and unit of the clients idx."""
    return {"client_id": s.client_id.take(pa.array(idx)), "municipality": _strings(s.names, s.muni[idx]),
            "unit": _strings(s.unit_all, s.unit_idx[idx])}


def _clients(s) -> None:
    """Demographics and social situation of every target-group client."""
    n, rng, P, cb = s.n, s.rng, s.P, s.cb
    sub = _choice(list(P["substance_share"].values()), n, rng)
    sub_name = np.array(SUBSTANCES)[sub]
    female = rng.random(n) < np.array(list(P["female_share_by_substance"].values()))[sub]
    med = np.array(list(P["age_median_by_substance"].values()), float)[sub]
    age = np.minimum(80, np.floor(18 + np.exp(rng.normal(np.log(med - 18), 0.5)))).astype(int)
    young, old = age <= 30, age >= 51
    is_alc = sub_name == "alcohol"
    is_drug = ~np.isin(sub_name, ["alcohol", "other"])
    hard = np.isin(sub_name, ["opioids", "amphetamine", "several"])
    g = rng.normal(size=n)  # general severity

    # housing
    hc = list(cb.codelist("housing"))
    hs = np.zeros((n, len(hc)))
    hs[:, hc.index("own_home")] = 1.6 - 0.9 * g + 0.8 * is_alc + 0.6 * old - 0.8 * young
    hs[:, hc.index("secondary_lease")] = 0.0
    hs[:, hc.index("social_contract")] = -0.6 + 0.4 * g
    hs[:, hc.index("with_others")] = -0.8 + 1.6 * young
    hs[:, hc.index("institution")] = -2.6 + 0.6 * g
    hs[:, hc.index("temporary")] = -2.0 + 0.8 * g + 0.5 * is_drug
    hs[:, hc.index("homeless")] = -2.2 + 1.2 * g + 1.0 * hard
    hs[:, hc.index("other")] = -3.5
    housing = _gumbel_choice(hs, rng)
    homeless = np.isin(housing, [hc.index("homeless"), hc.index("temporary")])
    # income
    ic = list(cb.codelist("income"))
    iscore = np.zeros((n, len(ic)))
    iscore[:, ic.index("employment")] = 0.6 - 1.0 * g - 1.5 * homeless + 0.5 * is_alc
    iscore[:, ic.index("study")] = -3.0 + 2.0 * young
    iscore[:, ic.index("unemployment")] = -0.9
    iscore[:, ic.index("sickness")] = -0.6 + 0.3 * g + 0.9 * old
    iscore[:, ic.index("pension")] = np.where(age >= 65, 2.5, -6.0)
    iscore[:, ic.index("social_assistance")] = 0.0 + 0.8 * g + 1.0 * homeless
    iscore[:, ic.index("family")] = -1.8 + 0.8 * young
    iscore[:, ic.index("illegal")] = -3.5 + 1.0 * hard + 0.6 * g
    iscore[:, ic.index("other")] = -3.5
    income = _gumbel_choice(iscore, rng)
    employed = income == ic.index("employment")
    # living situation in the last 3 years
    lc = list(cb.codelist("living_situation"))
    ls = np.zeros((n, len(lc)))
    ls[:, lc.index("partner_children")] = -0.2 - 0.6 * g - 1.0 * young - 1.5 * homeless
    ls[:, lc.index("partner")] = -0.2 - 0.4 * g - 1.0 * homeless
    ls[:, lc.index("children")] = -2.5 + 1.8 * female
    ls[:, lc.index("parents")] = -2.0 + 2.2 * young
    ls[:, lc.index("family")] = -2.2
    ls[:, lc.index("friends")] = -2.0 + 0.6 * young
    ls[:, lc.index("alone")] = 0.7
    ls[:, lc.index("institution")] = -3.0 + 0.6 * g
    ls[:, lc.index("no_stable")] = -3.0 + 3.0 * homeless
    living = _gumbel_choice(ls, rng)
    has_partner = np.isin(living, [lc.index("partner_children"), lc.index("partner")])
    has_children = np.isin(living, [lc.index("partner_children"), lc.index("children")]) | (rng.random(n) < 0.25)
    s.__dict__.update(sub=sub, sub_name=sub_name, female=female, age=age, young=young, is_alc=is_alc, hard=hard,
                      g=g, hc=hc, hs=hs, housing=housing, homeless=homeless, income=income, employed=employed,
                      living=living, has_partner=has_partner, has_children=has_children)


def _severity(s) -> None:
    """Latent area severities, baseline targets, Grund bortfall, contact and birth dates."""
    n, rng, P, g, sub_name, age = s.n, s.rng, s.P, s.g, s.sub_name, s.age

    def z():
        return 0.5 * g + np.sqrt(0.75) * rng.normal(size=n)

    shock = rng.exponential(0.05, n)  # interviewed at their worst: a transient positive shock
    alc_a = np.select([s.is_alc, sub_name == "several", sub_name == "other"], [0.0, -1.2, -1.5], -3.0)
    s.t_alc = np.clip(0.95 * _expit(alc_a + 1.1 * z()) + shock, 0, 0.95)
    drug_a = np.select([s.is_alc, sub_name == "other", sub_name == "cannabis"], [-3.6, -1.8, -0.5], 0.2)
    s.t_drug = np.clip(0.45 * _expit(drug_a + 1.0 * z()) + 0.5 * shock, 0, 0.45)
    s.t_med = np.clip(_expit(-1.3 + 0.8 * z() + 0.03 * (age - 40)), 0, 1)
    s.t_emp = np.clip(_expit(0.6 + 0.9 * z() - 1.8 * s.employed + 0.8 * s.homeless), 0, 1)
    s.t_leg = np.clip(_expit(-2.3 + 1.1 * z() + 1.0 * s.hard + 0.5 * s.young - 0.6 * s.female), 0, 1)
    s.t_fam = np.clip(_expit(-1.3 + 0.9 * z()), 0, 1)
    s.t_psy = np.clip(_expit(-1.0 + 1.1 * z() + 0.4 * s.female + 0.5 * (sub_name == "benzodiazepines")), 0, 1)
    s.severe_psy = s.t_psy > 0.62
    s.gamb_rel = rng.random(n) < (0.02 + 0.04 * (~s.female) * s.young + 0.02 * (~s.female))
    s.t_gam = np.where(s.gamb_rel, np.clip(_expit(-0.5 + 0.8 * z()), 0, 1), 0.0)
    s.profile = np.array([_PROFILES[x] for x in SUBSTANCES])[s.sub]

    # Grund bortfall (target-group clients not interviewed)
    gb = P["grund_bortfall_logit"]
    s.sev_latent = np.maximum(s.t_alc, 2 * s.t_drug)
    p_gb = _expit(gb["intercept"] + gb["homeless"] * s.homeless + gb["severe_psychiatric"] * s.severe_psy
                  + gb["severity"] * s.sev_latent)
    s.grund_bf = rng.random(n) < p_gb
    s.contact = s.t0 + rng.integers(0, s.span, n).astype("timedelta64[D]")
    s.birth = s.contact - np.floor(age * 365.25 + rng.integers(0, 365, n)).astype(int).astype("timedelta64[D]")


def _age_at(s, d, idx):
    return np.floor((d - s.birth[idx]).astype(int) / 365.25).astype(int)


def _by_year(d):
    return d.astype("datetime64[Y]").astype(int) + 1970


def _area_items(s, idx, ts, rng_, table):
    """Items of all areas for clients idx given targets ts (dict area -> array)."""
    cb, asi = s.cb, s.asi
    k = len(idx)
    d = {}
    alc = _alcohol_items(ts["alcohol"], rng_)
    drg = _drug_items(ts["drugs"], s.profile[idx], rng_)
    for code, v in {**alc, **drg}.items():
        d[asi[code]] = v
    tm = ts["medical"]
    d[asi["M6"]], d[asi["M7"]], d[asi["M8"]] = _days(tm, rng_), _rating(tm, rng_), _rating(0.9 * tm, rng_)
    te = ts["employment"]
    emp = s.employed[idx]
    work_days = np.where(emp, _sround(np.clip(22 * (1 - 0.6 * te) + rng_.normal(0, 3, k), 0, 30), rng_),
                         _days(0.15 * (1 - te), rng_, 0.5))
    d[asi["E11"]] = work_days
    d[asi["E12"]] = np.round(work_days * rng_.lognormal(np.log(1100), 0.3, k), -2)
    lic = rng_.random(k) < 0.80 - 0.45 * te - 0.15 * s.young[idx]
    d[asi["E4"]] = lic.astype(float)
    d[asi["E5"]] = np.where(lic, (rng_.random(k) < 0.75 - 0.4 * te), N_CODE).astype(float)
    d[asi["E19"]], d[asi["E20"]], d[asi["E21"]] = _days(0.8 * te, rng_), _rating(0.8 * te, rng_), _rating(0.7 * te, rng_)
    tl = ts["legal"]
    d[asi["L24"]] = (rng_.random(k) < 0.04 + 0.5 * tl).astype(float)
    crime = _days(0.5 * tl, rng_, 0.6)
    d[asi["L27"]] = crime
    d[asi["E17"]] = np.where(crime > 0, np.round(crime * rng_.lognormal(np.log(700), 0.6, k), -2), 0.0)
    d[asi["L28"]], d[asi["L29"]] = _rating(tl, rng_), _rating(0.9 * tl, rng_)
    tf = ts["family"]
    age = s.age
    alive_m = rng_.random(k) < np.clip(1.25 - age[idx] / 80, 0.05, 0.98)
    alive_f = rng_.random(k) < np.clip(1.10 - age[idx] / 75, 0.05, 0.95)
    exists = {"F18": alive_m, "F19": alive_f, "F20": rng_.random(k) < 0.88, "F21": s.has_partner[idx],
              "F22": s.has_children[idx], "F23": rng_.random(k) < 0.95, "F24": rng_.random(k) < 0.85,
              "F25": ~s.homeless[idx] | (rng_.random(k) < 0.2), "F26": emp | (rng_.random(k) < 0.1)}
    base_p = {"F18": 0.5, "F19": 0.45, "F20": 0.35, "F21": 0.7, "F22": 0.4, "F23": 0.25, "F24": 0.3,
              "F25": 0.15, "F26": 0.2}
    for code, ex in exists.items():
        yes = rng_.random(k) < base_p[code] * tf * 1.3
        d[asi[code]] = np.where(ex, yes, N_CODE).astype(float)
    sat = _sround(2.0 * np.clip(1.05 - 1.2 * tf + rng_.normal(0, 0.15, k), 0, 1), rng_)
    d[asi["F3"]] = sat
    d[asi["F30"]], d[asi["F32"]], d[asi["F34"]] = _days(0.5 * tf, rng_), _rating(tf, rng_), _rating(0.8 * tf, rng_)
    tp = ts["psychiatric"]
    for code, w in (("P4", 0.9), ("P5", 1.0), ("P6", 0.15), ("P7", 0.6), ("P8", 0.25), ("P9", 0.35),
                    ("P10", 0.06), ("P11", 0.6)):
        d[asi[code]] = (rng_.random(k) < np.clip(w * tp, 0, 1)).astype(float)
    d[asi["P12"]], d[asi["P13"]], d[asi["P14"]] = _days(tp, rng_), _rating(tp, rng_), _rating(0.9 * tp, rng_)
    tg = ts["gambling"]
    rel = s.gamb_rel[idx]
    gdays = _days(tg, rng_)
    for code, v in (("G1", gdays), ("G2", np.round(gdays * rng_.lognormal(np.log(400), 0.7, k), -1)),
                    ("G3", _days(0.9 * tg, rng_)), ("G4", _rating(tg, rng_)), ("G5", _rating(0.8 * tg, rng_))):
        d[asi[code]] = np.where(rel, v, N_CODE)
    # composites of alcohol and drugs from the (complete) items
    c_alc = alcohol_composite(alc["D1"], alc["D2"], alc["D26"], alc["D28"], alc["D30"], alc["D23"])
    c_drg = drug_composite(np.column_stack([drg[c] for c in DRUG_ITEMS + ("D27",)]), drg["D29"], drg["D31"])
    # interviewer ratings 0-9 follow severity with noise
    sev = {"medical": 9 * tm, "employment": 8 * te, "alcohol": 12 * c_alc, "drugs": 18 * c_drg,
           "legal": 9 * tl, "family": 8 * tf, "psychiatric": 9 * tp, "gambling": 9 * tg}
    for area, sv in sev.items():
        r = np.clip(np.round(sv + 0.5 + rng_.normal(0, 0.8, k)), 0, 9)
        if area == "gambling":
            r = np.where(rel, r, N_CODE)
        d[cb.interviewer_rating(area)] = r
    miss_one = rng_.random(k) < 0.04
    which = rng_.integers(0, 7, k)
    for j, area in enumerate(("medical", "employment", "alcohol", "drugs", "legal", "family", "psychiatric")):
        col = cb.interviewer_rating(area)
        d[col] = np.where(miss_one & (which == j), np.nan, d[col])
    d["psychiatric_contact"] = (rng_.random(k) < 0.1 + 0.55 * tp).astype(float)
    d["longterm_physical_illness"] = (rng_.random(k) < 0.08 + 0.45 * tm).astype(float)
    _apply_x(cb, table, d, rng_, 0.005)
    return d, c_alc, c_drg


def _grund(s) -> pd.DataFrame:
    """Grund interviews of the clients not in Grund bortfall (``s.gi`` positions, ``s.gd`` dates)."""
    cb, rng = s.cb, s.rng
    s.gi = gi = np.flatnonzero(~s.grund_bf)
    s.ng = ng = len(gi)
    s.gd = gd = s.contact[gi]
    s.ts_g = {"alcohol": s.t_alc[gi], "drugs": s.t_drug[gi], "medical": s.t_med[gi], "employment": s.t_emp[gi],
              "legal": s.t_leg[gi], "family": s.t_fam[gi], "psychiatric": s.t_psy[gi], "gambling": s.t_gam[gi]}
    gdat, s.c0_alc, s.c0_drg = _area_items(s, gi, s.ts_g, rng, "grund")
    gdat.update(_place(s, gi))
    sex = list(cb.codelist("sex"))
    s.common = {"sex": s.female[gi].astype(int) * sex.index("female") + (~s.female[gi]).astype(int) * sex.index("male"),
                "main_substance": s.sub[gi], "housing": s.housing[gi], "income_source": s.income[gi]}
    gdat.update(s.common)
    gdat["interview_date"] = gd
    gdat["age"] = _age_at(s, gd, gi)
    gdat["birth_year"] = _by_year(s.birth[gi])
    gdat["living_situation_3y"] = s.living[gi]
    gdat["lifetime_addiction_treatment"] = (rng.random(ng) < 0.35 + 0.4 * s.sev_latent[gi]).astype(float)
    gdat["ever_injected"] = (rng.random(ng) < np.where(s.hard[gi], 0.55, 0.05)).astype(float)
    gdat["lifetime_psychiatric_care"] = (rng.random(ng) < 0.25 + 0.5 * s.t_psy[gi]).astype(float)
    _apply_x(cb, "grund", gdat, rng, 0.01, skip=set(s.asi.values()))
    comments = np.array(["Intervju med tolk", "Telefonintervju", "Klienten avbröt en stund, fortsatte sedan"], dtype=object)
    gdat["comment"] = _strings(comments, rng.integers(0, 3, ng), rng.random(ng) < 0.02)
    s.gdat = gdat
    return _build(cb, "grund", gdat, ng)


def _insatser(s) -> pd.DataFrame:
    """Interventions (UBÅT): the main one chosen on the OBSERVED baseline (trap a), a second for some."""
    cb, rng, P, gi, ng, gd, h = s.cb, s.rng, s.P, s.gi, s.ng, s.gd, s.h
    sev_obs = np.maximum(s.c0_alc, 2 * s.c0_drg)
    hl = s.homeless[gi].astype(float)
    unemployed = (~s.employed[gi]).astype(float)
    psy_c = np.nan_to_num(np.asarray(s.gdat["psychiatric_contact"], float).clip(0, 1))
    mrng = np.random.default_rng([s.seed, 7])
    muni_off = mrng.normal(0, 0.3, (len(s.names), len(INTERVENTIONS)))
    assign = {
        "mi_counselling": 1.0 - 3.0 * sev_obs,
        "relapse_prevention": 0.2 + 2.0 * s.c0_alc,
        "twelve_step": -0.8 + 2.5 * s.c0_alc,
        "cra": -0.9 + 2.0 * s.c0_alc,
        "residential": -3.2 + 6.0 * sev_obs,
        "housing_support": -1.8 + 3.0 * hl,
        "employment_support": -1.2 - 2.0 * sev_obs + 1.0 * unemployed,
        "contact_person": 0.0 + 0.0 * sev_obs,
        "case_management": -1.4 + 5.0 * s.c0_drg + 1.0 * psy_c,
        "other": -1.8 + 0.0 * sev_obs,
    }
    scores = np.column_stack([assign[k] for k in INTERVENTIONS]) + muni_off[s.muni[gi]]
    s.main_int = main_int = _gumbel_choice(scores, rng)
    main_start = gd + rng.integers(0, 31, ng).astype("timedelta64[D]")
    second = rng.random(ng) < P["second_intervention_share"]
    scores2 = scores.copy()
    scores2[np.arange(ng), main_int] = -np.inf
    second_int = _gumbel_choice(scores2, rng)
    second_start = main_start + rng.integers(14, 121, ng).astype("timedelta64[D]")
    dur_range = {"mi_counselling": (30, 120), "relapse_prevention": (60, 180), "twelve_step": (60, 120),
                 "cra": (90, 200), "residential": (30, 180), "housing_support": (180, 720),
                 "employment_support": (90, 365), "contact_person": (90, 365), "case_management": (180, 540),
                 "other": (30, 180)}
    lo = np.array([dur_range[k][0] for k in INTERVENTIONS])
    hi = np.array([dur_range[k][1] for k in INTERVENTIONS])
    ii = np.concatenate([np.arange(ng), np.flatnonzero(second)])
    itype = np.concatenate([main_int, second_int[second]])
    istart = np.concatenate([main_start, second_start[second]])
    m_ins = len(ii)
    iend = istart + (lo[itype] + rng.random(m_ins) * (hi[itype] - lo[itype])).astype(int).astype("timedelta64[D]")
    keep = istart <= h
    ongoing = iend > h
    p_comp = _expit(1.0 - 2.5 * sev_obs[ii] - 0.8 * hl[ii] + 0.3 * (itype == INTERVENTIONS.index("residential")))
    completed = rng.random(m_ins) < p_comp
    tr = list(cb.codelist("termination_reason"))
    tscore = np.zeros((m_ins, len(tr)))
    tscore[:, tr.index("client_dropout")] = 1.0
    tscore[:, tr.index("client_moved")] = -1.5 + 2.0 * hl[ii]
    tscore[:, tr.index("unit_ended")] = -1.0
    tscore[:, tr.index("other_care")] = -0.5 + 1.5 * sev_obs[ii]
    tscore[:, tr.index("relapse")] = -0.3 + 2.0 * sev_obs[ii]
    tscore[:, tr.index("other")] = -2.0
    term = np.where(completed | ongoing, -1, _gumbel_choice(tscore, rng))
    view = np.clip(_sround(np.where(completed, 4.2, 2.9) + rng.normal(0, 0.8, m_ins), rng), 1, 5)
    cwr = np.clip(_sround(np.where(completed, 4.0, 2.3) + rng.normal(0, 0.8, m_ins), rng), 1, 5)
    idat = {
        "intervention_type": itype, "start_date": istart,
        "end_date": np.where(ongoing, np.datetime64("NaT"), iend),
        "completed": np.where(ongoing, np.nan, completed.astype(float)),
        "termination_reason": term,
        "client_view": np.where(ongoing, np.nan, view), "caseworker_rating": np.where(ongoing, np.nan, cwr),
    }
    _apply_x(cb, "insatser", idat, rng, 0.03)
    idat = {k: np.asarray(v)[keep] for k, v in idat.items()}
    idat.update(_place(s, gi[ii][keep]))
    idat["comment"] = None
    s.n_insatser = int(keep.sum())
    s.main_completed = completed[:ng] & ~ongoing[:ng]
    return _build(cb, "insatser", idat, s.n_insatser)


def _uppfoljning(s) -> pd.DataFrame:
    """Who is followed up (trap d), when, and the follow-up interviews from the outcome model."""
    cb, rng, P, gi, ng, gd, h = s.cb, s.rng, s.P, s.gi, s.ng, s.gd, s.h
    hl = s.homeless[gi].astype(float)
    fl = P["followup_logit"]
    s.no_routine_mask = no_routine = np.isin(np.array(s.names)[s.muni[gi]], s.no_routine)
    p_fu = _expit(fl["intercept"] + fl["homeless"] * hl + fl["drug_composite"] * s.c0_drg
                  + fl["severe_psychiatric"] * s.severe_psy[gi] + fl["completed_main"] * s.main_completed
                  + fl["no_routine_municipality"] * no_routine)
    s.followed = followed = rng.random(ng) < p_fu
    kind = _choice([0.25, 0.35, 0.30, 0.10], ng, rng)
    delay = np.select([kind == 0, kind == 1, kind == 2],
                      [rng.integers(85, 111, ng), rng.integers(180, 241, ng), rng.integers(340, 401, ng)],
                      rng.integers(30, 900, ng))
    reakt = rng.random(ng) < 0.05
    delay = np.where(reakt, rng.integers(200, 700, ng), delay)
    fu_date = gd + delay.astype("timedelta64[D]")
    s.has_fu = has_fu = followed & (fu_date <= h)
    two = has_fu & (rng.random(ng) < 0.08)
    fu2_date = fu_date + rng.integers(150, 401, ng).astype("timedelta64[D]")
    two &= fu2_date <= h
    s.two = two

    om = P["outcome_model"]
    s.fi = fi = np.concatenate([np.flatnonzero(has_fu), np.flatnonzero(two)])  # positions in gi
    s.nf = nf = len(fi)
    fdate = np.concatenate([fu_date[has_fu], fu2_date[two]])
    s.ftype = ftype = np.concatenate([np.where(reakt[has_fu], 1, 0), np.zeros(two.sum(), int)])
    band = _age_band_index(s.gdat["age"][fi])
    band_keys = list(P["age_bands"])
    fem = s.female[gi][fi]

    def mu_of(area, c0):
        o = om[area]
        eff = np.array([P["effects"][area][k] for k in INTERVENTIONS])[s.main_int[fi]]
        return (o["intercept"] + o["slope_baseline"] * c0 + eff + o["female"] * fem
                + np.array([o["age_band"][b] for b in band_keys])[band])

    mu_alc, mu_drg = mu_of("alcohol", s.c0_alc[fi]), mu_of("drugs", s.c0_drg[fi])
    ts_f = {"alcohol": _mp_target(mu_alc, om["alcohol"]["cap"], om["alcohol"]["noise_sd"],
                                  om["alcohol"]["zero_prob_max"], rng),
            "drugs": _mp_target(mu_drg, om["drugs"]["cap"], om["drugs"]["noise_sd"],
                                om["drugs"]["zero_prob_max"], rng)}
    for area, a, b, sd in (("medical", 0.05, 0.7, 0.08), ("employment", 0.1, 0.75, 0.08), ("legal", 0.02, 0.55, 0.06),
                           ("family", 0.04, 0.6, 0.08), ("psychiatric", 0.05, 0.65, 0.08), ("gambling", 0.02, 0.6, 0.06)):
        ts_f[area] = _mp_target(a + b * s.ts_g[area][fi], 1.0, sd, 0.2, rng)
    fidx = gi[fi]
    fdat, _, _ = _area_items(s, fidx, ts_f, rng, "uppfoljning")
    hc, homeless = s.hc, s.homeless
    hous_fu = s.housing[fidx].copy()
    hs_support = s.main_int[fi] == INTERVENTIONS.index("housing_support")
    re = rng.random(nf) < np.where(homeless[fidx] & hs_support, 0.6, np.where(homeless[fidx], 0.25, 0.1))
    new_h = _gumbel_choice(s.hs[fidx] + np.where(homeless[fidx] & hs_support, 1.0, 0.0)[:, None]
                           * (np.arange(len(hc)) == hc.index("social_contract")), rng)
    hous_fu = np.where(re, new_h, hous_fu)
    fdat.update({"interview_date": fdate, "followup_type": ftype,
                 "sex": np.asarray(s.common["sex"])[fi], "birth_year": _by_year(s.birth[fidx]),
                 "age": _age_at(s, fdate, fidx), "main_substance": s.sub[fidx], "housing": hous_fu,
                 "income_source": s.income[fidx], "comment": None})
    _apply_x(cb, "uppfoljning", fdat, rng, 0.01, skip=set(s.asi.values()))
    fdat.update(_place(s, fidx))
    return _build(cb, "uppfoljning", fdat, nf)


def _bortfall(s) -> pd.DataFrame:
    """Grund bortfall and registered follow-up bortfall with reasons by situation."""
    cb, rng, P, gi, ng, gd, h = s.cb, s.rng, s.P, s.gi, s.ng, s.gd, s.h
    homeless, severe_psy = s.homeless, s.severe_psy
    rc = list(cb.codelist("bortfall_reason"))
    g_idx = np.flatnonzero(s.grund_bf)
    s.ngb = ngb = len(g_idx)
    gscore = np.full((ngb, len(rc)), -np.inf)
    gscore[:, rc.index("g_acute")] = -0.5 + 1.5 * homeless[g_idx] + 1.0 * s.sev_latent[g_idx]
    gscore[:, rc.index("g_mental_illness")] = -1.5 + 2.5 * severe_psy[g_idx]
    gscore[:, rc.index("g_declined")] = 0.5
    gscore[:, rc.index("g_staff_obstacle")] = 0.0
    gscore[:, rc.index("g_incomplete")] = -0.8
    g_reason = _gumbel_choice(gscore, rng)
    # follow-up bortfall: due (a year after Grund) but not followed up; most are registered
    due = gd + np.timedelta64(365, "D") <= h
    fub = due & ~s.followed & (rng.random(ng) < P["followup_bortfall_registered"])
    u_pos = np.flatnonzero(fub)
    s.nub = nub = len(u_pos)
    u_idx = gi[u_pos]
    uscore = np.full((nub, len(rc)), -np.inf)
    uscore[:, rc.index("u_unreachable")] = -0.2 + 2.0 * homeless[u_idx]
    uscore[:, rc.index("u_declined")] = 0.3 + 1.0 * severe_psy[u_idx]
    uscore[:, rc.index("u_staff_obstacle")] = 0.0
    uscore[:, rc.index("u_no_routine")] = -1.5 + 3.5 * s.no_routine_mask[u_pos]
    uscore[:, rc.index("u_incomplete")] = -1.5
    u_reason = _gumbel_choice(uscore, rng)
    u_date = np.minimum(gd[u_pos] + rng.integers(270, 541, nub).astype("timedelta64[D]"), h)
    b_idx = np.concatenate([g_idx, u_idx])
    b_date = np.concatenate([s.contact[g_idx], u_date])
    fc = list(cb.codelist("form"))
    sex_codes = list(cb.codelist("sex"))
    bdat = {"bortfall_date": b_date,
            "form": np.concatenate([np.full(ngb, fc.index("grund")), np.full(nub, fc.index("uppfoljning"))]),
            "bortfall_reason": np.concatenate([g_reason, u_reason]),
            "sex": np.where(s.female[b_idx], sex_codes.index("female"), sex_codes.index("male")),
            "birth_year": _by_year(s.birth[b_idx]), "age": _age_at(s, b_date, b_idx),
            "main_substance": s.sub[b_idx], "housing": s.housing[b_idx], "income_source": s.income[b_idx],
            "living_situation_3y": s.living[b_idx],
            "psychiatric_contact": (rng.random(len(b_idx)) < 0.1 + 0.55 * s.t_psy[b_idx]).astype(float),
            "longterm_physical_illness": (rng.random(len(b_idx)) < 0.08 + 0.45 * s.t_med[b_idx]).astype(float),
            "comment": None,
            }
    _apply_x(cb, "bortfall", bdat, rng, 0.04)
    bdat.update(_place(s, b_idx))
    return _build(cb, "bortfall", bdat, len(b_idx))


def _truth(s) -> dict:
    """True parameters and realised counts (JSON-serialisable)."""
    P, om = s.P, s.P["outcome_model"]
    fi, nf, has_fu, ftype = s.fi, s.nf, s.has_fu, s.ftype
    truth = true_parameters()
    first = np.zeros(nf, bool)
    first[: has_fu.sum()] = True
    first &= ftype == 0
    c0_alc, c0_drg = s.c0_alc, s.c0_drg
    truth.update({
        "seed": int(s.seed), "n_clients": int(s.n), "start_year": int(s.start_year), "end_year": int(s.end_year),
        "horizon": str(s.h),
        "municipalities": {nm: {"clients": int(c), "units": list(us)}
                           for nm, c, us in zip(s.names, s.counts, s.unit_names)},
        "no_routine_municipality": s.no_routine[0],
        "reference_intervention": P["null_intervention"],
        "effect_definition": (
            "Additive effect of the client's MAIN intervention (earliest start_date, 0-30 days after Grund) on "
            "the expected composite score (0-1) at the first ordinary follow-up, conditional on the observed "
            "baseline composite, sex and age band at Grund: E[c1] = intercept + slope_baseline*c0 + effect + "
            "female + age_band. Effects are absolute (no intervention = 0); contact_person has effect 0, so "
            "treatment contrasts against contact_person equal the effects. Second interventions, completion "
            "and time since Grund have no effect. Composites: ASI-5 formulas on the items (X/empty -> "
            "composite missing; alcohol money N or 0 -> term 0)."),
        "composite_formulas": {
            "alcohol": "(D1+D2+D26)/180 + (D28+D30)/24 + min(ln(D23/10), 44/6)/44 (ln only for D23>0)",
            "drugs": "(D3+D4+D5+D6+D7+D8+D9+D10+D11+D13+D27)/390 + (D29+D31)/52"},
        "rtm": {
            "mechanism": ("Baseline target = stable level + transient 'worst moment' shock (Exp, mean 0.05 "
                          "alcohol / 0.025 drugs); only slope_baseline of the observed baseline persists, so "
                          "without any intervention E[c1 - c0 | c0] = intercept - (1 - slope)*c0."),
            "expected_change_without_intervention_at_mean_baseline": {
                "alcohol": float(om["alcohol"]["intercept"] - (1 - om["alcohol"]["slope_baseline"])
                                 * c0_alc[fi][first].mean()) if first.any() else None,
                "drugs": float(om["drugs"]["intercept"] - (1 - om["drugs"]["slope_baseline"])
                               * c0_drg[fi][first].mean()) if first.any() else None},
        },
        "assignment_model": {"type": "multinomial logit (Gumbel-max) on observed baseline",
                             "severity_obs": "max(alcohol composite, 2*drug composite)",
                             "scores": {"mi_counselling": "1.0 - 3.0*sev", "relapse_prevention": "0.2 + 2.0*alc",
                                        "twelve_step": "-0.8 + 2.5*alc", "cra": "-0.9 + 2.0*alc",
                                        "residential": "-3.2 + 6.0*sev", "housing_support": "-1.8 + 3.0*homeless",
                                        "employment_support": "-1.2 - 2.0*sev + 1.0*unemployed",
                                        "contact_person": "0", "case_management": "-1.4 + 5.0*drug + 1.0*psychiatric_contact",
                                        "other": "-1.8"},
                             "municipality_offsets_sd": 0.3},
        "bortfall_model": {
            "grund": {"logit": P["grund_bortfall_logit"],
                      "reason_scores": {"g_acute": "-0.5 + 1.5*homeless + 1.0*severity",
                                        "g_mental_illness": "-1.5 + 2.5*severe_psychiatric",
                                        "g_declined": "0.5", "g_staff_obstacle": "0", "g_incomplete": "-0.8"}},
            "uppfoljning": {"logit_followed_up": P["followup_logit"],
                            "registered_share": P["followup_bortfall_registered"],
                            "due_after_days": 365,
                            "reason_scores": {"u_unreachable": "-0.2 + 2.0*homeless",
                                              "u_declined": "0.3 + 1.0*severe_psychiatric",
                                              "u_staff_obstacle": "0", "u_no_routine": "-1.5 + 3.5*no_routine_municipality",
                                              "u_incomplete": "-1.5"}},
            "definitions": {"homeless": "housing in {homeless, temporary} at Grund",
                            "severe_psychiatric": "latent psychiatric severity > 0.62",
                            "missing_mechanism": "MAR given baseline facts (not the follow-up outcome)"}},
        "counts": {"clients": int(s.n), "grund": int(s.ng), "grund_bortfall": int(s.ngb),
                   "followed_up_clients": int(has_fu.sum()), "uppfoljning_rows": int(nf),
                   "reactualisations": int((ftype == 1).sum()), "two_followups": int(s.two.sum()),
                   "followup_bortfall": int(s.nub), "insatser": s.n_insatser},
    })
    if s.national is not None:
        truth["national"] = {**s.national, "no_routine_municipalities": list(s.no_routine),
                             "size_distribution": ("n_i = floor + Hamilton apportionment of (N - k*floor) "
                                                   "proportional to w_i ~ LogNormal(0, sigma^2), seed stream "
                                                   "[seed, 12]")}
    return truth


def generate(n_clients: int = 3000, seed: int = 20261122, start_year: int = 2019,
             end_year: int = 2025, *, municipalities: int | None = None, size_sigma: float = NATIONAL_SIGMA,
             min_clients: int = NATIONAL_FLOOR) -> SynthRegion:
    """Generate a synthetic region.

    Parameters
    ----------
    n_clients : int, default 3000
        Clients in the target group (those with a Grund interview plus those
        registered as Grund bortfall). In the demo region two tiny
        municipalities always get 8 and 5 of them.
    seed : int
        Seed of the :class:`numpy.random.Generator`; same seed, same frames.
    start_year, end_year : int
        Interview dates fall from 1 January ``start_year`` to 31 December
        ``end_year`` (or today, whichever is earlier); nothing is dated later.
    municipalities : int, optional
        ``None`` (default): the demo region's ten municipalities. A number
        (e.g. 290, as in Sweden): a national region of that many invented
        municipalities whose sizes follow :func:`municipality_sizes`
        (lognormal, ``size_sigma``, at least ``min_clients`` each); about 5 %
        of them have no follow-up routine.
    size_sigma : float, default 1.3
        SD of the log sizes (national region only).
    min_clients : int, default 3
        Smallest municipality (national region only).

    Returns
    -------
    SynthRegion

    Notes
    -----
    The follow-up composite of area :math:`a` is generated as
    :math:`c_1 = \\alpha_a + \\beta_a c_0 + \\tau_{a,k} + \\gamma + \\varepsilon`
    with :math:`E[\\varepsilon]=0` (see the module docstring); all parameters
    are in ``truth["outcome_model"]`` and ``truth["effects"]``. The steps, in
    the order they draw from the generator: :func:`_layout` (municipalities,
    units), :func:`_clients` (demographics), :func:`_severity` (latent
    severities, Grund bortfall, dates), :func:`_grund`, :func:`_insatser`,
    :func:`_uppfoljning`, :func:`_bortfall`, :func:`_truth`. Assumptions and
    sources: ``docs/synthetic_data.md``.

    Examples
    --------
    >>> region = generate(n_clients=200, seed=1)
    >>> sorted(region.tables)
    ['bortfall', 'grund', 'insatser', 'uppfoljning']
    >>> region.tables["grund"]["client_id"].str.match(r"^K\\d{2}-\\d{6}$").all()
    np.True_
    >>> national = generate(n_clients=3000, seed=1, municipalities=40)
    >>> len(national.truth["municipalities"]), sum(m["clients"] for m in national.truth["municipalities"].values())
    (40, 3000)
    """
    from types import SimpleNamespace

    if int(n_clients) < 20:
        raise AsiInputError("n_clients måste vara minst 20 / n_clients must be at least 20")
    if start_year > end_year:
        raise AsiInputError("start_year efter end_year / start_year after end_year")
    cb = load_codebook()
    h = _horizon(end_year)
    t0 = np.datetime64(f"{start_year}-01-01", "D")
    if h <= t0:
        raise AsiInputError("inga dagar mellan start och slut / empty period")
    national = None if municipalities is None else {
        "municipalities": int(municipalities), "size_sigma": float(size_sigma), "min_clients": int(min_clients)}
    s = SimpleNamespace(n_clients=int(n_clients), seed=seed, start_year=start_year, end_year=end_year, cb=cb,
                        P=TRUE_PARAMS, rng=np.random.default_rng(seed), asi=cb.by_asi5("grund"), h=h, t0=t0,
                        span=int((h - t0).astype(int)) + 1, national=national)
    _layout(s, municipalities, size_sigma, min_clients)
    _clients(s)
    _severity(s)
    grund = _grund(s)
    insatser = _insatser(s)
    uppfoljning = _uppfoljning(s)
    bortfall = _bortfall(s)
    return SynthRegion(tables={"grund": grund, "uppfoljning": uppfoljning, "bortfall": bortfall,
                               "insatser": insatser}, truth=_truth(s))


# ----------------------------------------------------------------------------- CLI
def _cli(args) -> int:
    import time

    t = time.perf_counter()
    region = generate(n_clients=args.clients, seed=args.seed, start_year=args.start_year, end_year=args.end_year,
                      municipalities=args.municipalities, size_sigma=args.size_sigma, min_clients=args.min_clients)
    t_gen = time.perf_counter() - t
    paths = region.write(args.out, format=args.format)
    c = region.truth["counts"]
    print(f"Syntetisk region: {c['clients']} klienter, {c['grund']} Grund, {c['uppfoljning_rows']} uppföljningar, "
          f"{c['grund_bortfall'] + c['followup_bortfall']} bortfall, {c['insatser']} insatser, "
          f"{len(region.truth['municipalities'])} kommuner "
          f"({t_gen:.1f} s + skrivning {time.perf_counter() - t - t_gen:.1f} s)")
    for p in paths:
        print(f"  {p}")
    return 0


def register_cli(subparsers) -> None:
    """Add ``asi-kit synth``."""
    from .errors import output_dir_arg

    p = subparsers.add_parser("synth", help="skapa syntetiska demodata / generate a synthetic demo region")
    p.add_argument("--clients", type=int, default=3000, help="klienter i målgruppen (default 3000)")
    p.add_argument("--seed", type=int, default=20261122)
    p.add_argument("--start-year", type=int, default=2019)
    p.add_argument("--end-year", type=int, default=2025)
    p.add_argument("--municipalities", type=int, default=None, metavar="K",
                   help="nationell region med K påhittade kommuner (t.ex. 290), storlekar lognormalt "
                        "fördelade; standard: demoregionens tio")
    p.add_argument("--size-sigma", type=float, default=NATIONAL_SIGMA,
                   help=f"spridning (SD för log-storlek) med --municipalities (standard {NATIONAL_SIGMA})")
    p.add_argument("--min-clients", type=int, default=NATIONAL_FLOOR,
                   help=f"minsta antal klienter per kommun med --municipalities (standard {NATIONAL_FLOOR})")
    p.add_argument("--out", required=True, type=output_dir_arg, help="katalog att skriva till")
    p.add_argument("--format", choices=FORMATS, default="csv")
    p.set_defaults(func=_cli)
