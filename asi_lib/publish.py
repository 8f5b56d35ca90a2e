"""The one layer every published table passes through.

Analysis functions return raw tidy frames for analysts. Anything shown to
people (reports, dashboards, Excel) goes through :func:`publish`, which

1. protects small numbers: a count with 0 < n < ``min_cell`` is shown as
   ``"<5"``; counts of a characteristic (``k``) are protected the same way,
   also through the complement n − k; every statistic of a protected cell is
   hidden (``".."``);
2. adds **secondary suppression** so no protected count can be recovered as
   "total − sum of the visible parts" (groups + their ``Totalt`` row,
   categories of one variable within a group, declared row sums);
3. flags groups under ``tendency_threshold`` clients ("Endast tendenser") and
   hides their p-values;
4. turns codes and column names into Swedish (or English) labels, merges
   label columns into their keys, drops technical columns and rounds per
   measure (decimal comma in Swedish); see ``docs/methods/protection.md``.

How a raw frame tells publish its structure (``frame.attrs["asi"]``)
--------------------------------------------------------------------
``group_cols``
    Grouping columns. A row whose group value is :data:`TOTAL`
    (``"__total__"``) is the total of the other groups.
``additive``
    True when the counts of the groups add up to the total row (each client
    in exactly one group), and, with ``category_col``, when ``k`` over the
    categories of one group (plus ``n_missing``, when there is one) adds up
    to that group's ``n``.
``category_col``
    Column of the categories of one variable (e.g. ``"category"``).
``row_sums``
    ``{total_col: [part_cols]}`` for counts that add up within a row, e.g.
    ``{"n_pairs": ["n_improved", "n_unchanged", "n_worse"]}``.
``row_sets``
    ``[{"key": col, "cols": [counts], "sets": {whole_row: [part_rows]}}]``:
    counts that add up between rows (e.g. ``Pairing.summary``), within each
    group of ``group_cols`` (or of an explicit ``"within": [cols]``).
``category_sets``
    ``{"by": "variable", "counts": [[k_x, n_x, n_missing_x or None]]}``:
    levels of one variable in rows of their own add up to ``n_x``.
``local_counts``
    ``{count: [stat columns]}``: a hidden count hides only these statistics
    (default: parts ``n_x`` of a row sum with a ``share_x`` column).
``linked_counts`` / ``row_denominators``
    Counts of one row that go together; shares whose denominator is another
    row's count.
``label_of`` / ``drop_cols``
    Which key a label column labels (None: a text column of its own);
    columns not shown to people.
``group_n``
    True when ``n`` is the group's client count on every row whatever the
    variable or measure (``groups.profile``/``category_profile``/``table1``):
    the rows of one group share one ``n`` cell.
``value_vars``
    ``{column: codebook column}`` when a key column holds the codes of a
    codebook column under another name (e.g. ``{"reason": "bortfall_reason"}``).
``column_labels``
    ``{column: (sv, en)}`` headings that override :data:`COLUMN_LABELS`.
``tendency``
    False for pure counting tables (no "Endast tendenser" flag).
``tendency_cols``
    The counts the row's statistics rest on (default: the smallest of the
    base counts ``n``, ``n_*``, ``*_n`` of the row), e.g. ``["n"]`` when a
    row also counts something small beside its share.
``count_cols`` / ``soft_count_cols`` / ``key_cols`` / ``percent_cols``
    Overrides of the name conventions below.

Name conventions: numeric columns named ``n``, ``k``, ``n_*``, ``k_*``,
``*_n``, ``*_k`` are counts of clients; a count whose name contains
``missing``/``empty``/``invalid``/``not_relevant`` is *soft* (protected
itself, but does not hide the row's statistics unless the number of valid
values n − n_missing is itself under ``min_cell``). Other numeric columns are
statistics; non-numeric columns are keys and labels.
"""
from __future__ import annotations

import re
from functools import lru_cache
from types import MappingProxyType

import numpy as np
import pandas as pd

from .codebook import TABLES, load_codebook
from .errors import AsiInputError

__all__ = ["publish", "TOTAL", "HIDDEN", "COLUMN_LABELS", "TENDENCY_NOTE", "label_values",
           "measure_label"]

#: Group value of a total row in raw frames (shown as "Totalt"/"Total").
TOTAL = "__total__"
#: Marker of a hidden value (secondary suppression, statistics of a protected cell).
HIDDEN = ".."
#: Marker of a value that could not be computed.
EMPTY = "–"
TENDENCY_NOTE = {
    "sv": "Endast tendenser (färre än {t} klienter)",
    "en": "Tendencies only (fewer than {t} clients)",
}
_TOTAL_LABEL = {"sv": "Totalt", "en": "Total"}
#: Group value of a missing group key (asi_lib.groups.UNKNOWN) and its label.
_UNKNOWN = "okänd"
_UNKNOWN_LABEL = {"sv": "okänd", "en": "unknown"}

#: Column name → (Swedish heading, English heading).
COLUMN_LABELS: dict[str, tuple[str, str]] = {
    "n": ("Antal klienter", "Clients"),
    "k": ("Antal med egenskapen", "Clients with the characteristic"),
    "n_missing": ("Saknar värde", "Missing"),
    "share": ("Andel", "Share"),
    "mean": ("Medelvärde", "Mean"),
    "sd": ("Standardavvikelse", "SD"),
    "median": ("Median", "Median"),
    "q1": ("Nedre kvartil", "Lower quartile"),
    "q3": ("Övre kvartil", "Upper quartile"),
    "ci_low": ("95 % KI, nedre", "95% CI, lower"),
    "ci_high": ("95 % KI, övre", "95% CI, upper"),
    "diff": ("Skillnad", "Difference"),
    "diff_ci_low": ("Skillnad, 95 % KI nedre", "Difference, 95% CI lower"),
    "diff_ci_high": ("Skillnad, 95 % KI övre", "Difference, 95% CI upper"),
    "p_value": ("p-värde", "p-value"),
    "p_adj": ("p-värde (justerat, FDR)", "p-value (FDR adjusted)"),
    "hedges_g": ("Effektstorlek (Hedges g)", "Effect size (Hedges' g)"),
    "smd": ("Standardiserad skillnad", "Standardised difference"),
    "measure": ("Mått", "Measure"),
    "variable": ("Variabel", "Variable"),
    "category": ("Kategori", "Category"),
    "area": ("Livsområde", "Life area"),
    "group": ("Grupp", "Group"),
    "age_band": ("Åldersgrupp", "Age group"),
    "grund_bortfall": ("Grundbortfall (ej intervjuade)", "Baseline attrition (not interviewed)"),
    "young_adults": ("Unga vuxna (18–30) / äldre", "Young adults (18–30) / older"),
    "year": ("År", "Year"),
    "half": ("Halvår", "Half-year"),
    "quarter": ("Kvartal", "Quarter"),
    "period": ("Period", "Period"),
    "row": ("Rad", "Row"),
    "col": ("Kolumn", "Column"),
    "pct_row": ("Radprocent", "Row per cent"),
    "pct_col": ("Kolumnprocent", "Column per cent"),
    "pct": ("Procent", "Per cent"),
    "tendens": ("Anmärkning", "Note"),
    "label": ("Benämning", "Label"),
    "test": ("Test", "Test"),
    "n_unit": ("Antal klienter (enheten)", "Clients (unit)"),
    "n_rest": ("Antal klienter (övriga)", "Clients (others)"),
    "n_region": ("Antal klienter (regionen)", "Clients (region)"),
    "mean_unit": ("Medelvärde (enheten)", "Mean (unit)"),
    "mean_rest": ("Medelvärde (övriga)", "Mean (others)"),
    "mean_region": ("Medelvärde (regionen)", "Mean (region)"),
    "sd_unit": ("Standardavvikelse (enheten)", "SD (unit)"),
    "sd_rest": ("Standardavvikelse (övriga)", "SD (others)"),
    "median_unit": ("Median (enheten)", "Median (unit)"),
    "median_rest": ("Median (övriga)", "Median (others)"),
    "share_women_unit": ("Andel kvinnor (enheten)", "Share women (unit)"),
    "share_women_rest": ("Andel kvinnor (övriga)", "Share women (others)"),
    "mean_age_unit": ("Medelålder (enheten)", "Mean age (unit)"),
    "mean_age_rest": ("Medelålder (övriga)", "Mean age (others)"),
    "share_alcohol_unit": ("Andel alkohol som huvudpreparat (enheten)", "Share alcohol as main substance (unit)"),
    "share_alcohol_rest": ("Andel alkohol som huvudpreparat (övriga)", "Share alcohol as main substance (others)"),
    "n_grund": ("Grundintervjuer", "Baseline interviews"),
    "n_uppfoljning": ("Uppföljningar", "Follow-ups"),
    "n_bortfall": ("Bortfall (Grund)", "Attrition (baseline)"),
    "n_target": ("Klienter i målgruppen", "Clients in the target group"),
    "n_due": ("Uppföljningar som förfaller", "Follow-ups falling due"),
    "n_eligible": ("Grundintervjuer vars uppföljningsfönster passerat", "Baselines whose follow-up window has passed"),
    "k_followed": ("Uppföljda med egenskapen", "Followed up with the characteristic"),
    "k_missed": ("Ej uppföljda med egenskapen", "Not followed up with the characteristic"),
    "value_followed": ("Värde, uppföljda", "Value, followed up"),
    "value_missed": ("Värde, ej uppföljda", "Value, not followed up"),
    "sd_followed": ("Standardavvikelse, uppföljda", "SD, followed up"),
    "sd_missed": ("Standardavvikelse, ej uppföljda", "SD, not followed up"),
    "n_interviewed": ("Intervjuade", "Interviewed"),
    "k_interviewed": ("Intervjuade med egenskapen", "Interviewed with the characteristic"),
    "k_bortfall": ("Bortfall med egenskapen", "Attrition with the characteristic"),
    "value_interviewed": ("Värde, intervjuade", "Value, interviewed"),
    "value_bortfall": ("Värde, bortfall", "Value, attrition"),
    "sd_interviewed": ("Standardavvikelse, intervjuade", "SD, interviewed"),
    "sd_bortfall": ("Standardavvikelse, bortfall", "SD, attrition"),
    "n_missing_interviewed": ("Saknar värde, intervjuade", "Missing, interviewed"),
    "n_missing_bortfall": ("Saknar värde, bortfall", "Missing, attrition"),
    "flag": ("Skillnad som spelar roll (|SMD| ≥ 0,2)", "Difference that matters (|SMD| ≥ 0.2)"),
    "level": ("Nivå", "Level"),
    "mean_0": ("Medelvärde vid baslinjen", "Mean at baseline"),
    "mean_1": ("Medelvärde vid uppföljningen", "Mean at follow-up"),
    "sd_diff": ("Standardavvikelse för förändringen", "SD of the change"),
    "p_wilcoxon": ("p-värde (Wilcoxon)", "p-value (Wilcoxon)"),
    "hl_estimate": ("Medianförändring (Hodges–Lehmann)", "Median change (Hodges–Lehmann)"),
    "hl_ci_low": ("Medianförändring, 95 % KI nedre", "Median change, 95% CI lower"),
    "hl_ci_high": ("Medianförändring, 95 % KI övre", "Median change, 95% CI upper"),
    "dz": ("Effektstorlek (dz)", "Effect size (dz)"),
    "dz_ci_low": ("Effektstorlek, 95 % KI nedre", "Effect size, 95% CI lower"),
    "dz_ci_high": ("Effektstorlek, 95 % KI övre", "Effect size, 95% CI upper"),
    "reliability": ("Reliabilitet (alfa)", "Reliability (alpha)"),
    "sd_ref": ("Standardavvikelse vid baslinjen (för RCI)", "SD at baseline (for the RCI)"),
    "s_diff": ("Mätfelets storlek för förändring (RCI)", "Standard error of the difference (RCI)"),
    "share_improved": ("Andel förbättrade", "Share improved"),
    "share_unchanged": ("Andel oförändrade", "Share unchanged"),
    "share_worse": ("Andel försämrade", "Share worse"),
    "estimate": ("Skattad skillnad", "Estimated difference"),
    "term": ("Variabel", "Variable"),
    "reference": ("Jämförs med", "Compared with"),
    "naive_diff": ("Naiv förändring", "Naive change"),
    "naive_ci_low": ("Naiv förändring, 95 % KI nedre", "Naive change, 95% CI lower"),
    "naive_ci_high": ("Naiv förändring, 95 % KI övre", "Naive change, 95% CI upper"),
    "adjusted": ("Justerad skillnad", "Adjusted difference"),
    "adjusted_ci_low": ("Justerad skillnad, 95 % KI nedre", "Adjusted difference, 95% CI lower"),
    "adjusted_ci_high": ("Justerad skillnad, 95 % KI övre", "Adjusted difference, 95% CI upper"),
    "sd_source": ("Standardavvikelse från", "SD taken from"),
    "ci_halfwidth": ("Osäkerhet (± 95 % KI)", "Uncertainty (± 95% CI)"),
    "min_detectable_change": ("Minsta påvisbara förändring", "Minimum detectable change"),
    "min_detectable_dz": ("Minsta påvisbara effektstorlek (dz)", "Minimum detectable effect size (dz)"),
    "target_change": ("Förändring att planera för", "Target change"),
    "n_needed": ("Par som behövs", "Pairs needed"),
    "text": ("Tolkning", "Interpretation"),
    "note": ("Kommentar", "Comment"),
    "why": ("Vanligaste saknade frågor", "Most often missing items"),
    "interviews": ("Antal intervjuer", "Interviews"),
    "table": ("Formulär", "Form"),
    "rating_missing_n": ("Intervjuarskattning saknas", "Interviewer rating missing"),
    "rating_missing_share": ("Andel utan intervjuarskattning", "Share without interviewer rating"),
    "rating_not_relevant_n": ("Intervjuarskattning ej relevant (N)", "Interviewer rating not relevant (N)"),
    "composite_missing_n": ("Index saknas", "Composite missing"),
    "composite_missing_share": ("Andel utan index", "Share without composite"),
    "missing_x_n": ("Saknas: X (ej svar)", "Missing: X (no answer)"),
    "missing_n_n": ("Saknas: N (ej relevant)", "Missing: N (not relevant)"),
    "missing_empty_n": ("Saknas: tom cell", "Missing: empty cell"),
    "missing_invalid_n": ("Saknas: ogiltigt värde", "Missing: invalid value"),
    "n_a": ("Antal klienter (A)", "Clients (A)"),
    "n_b": ("Antal klienter (B)", "Clients (B)"),
    "k_a": ("Antal med egenskapen (A)", "Clients with the characteristic (A)"),
    "k_b": ("Antal med egenskapen (B)", "Clients with the characteristic (B)"),
    "value_a": ("Värde (A)", "Value (A)"),
    "value_b": ("Värde (B)", "Value (B)"),
    "sd_a": ("Standardavvikelse (A)", "SD (A)"),
    "sd_b": ("Standardavvikelse (B)", "SD (B)"),
    "effect_size": ("Effektstorlek", "Effect size"),
    "effect_measure": ("Effektmått", "Effect measure"),
    "mean_rating": ("Intervjuarskattning, medelvärde", "Interviewer rating, mean"),
    "sd_rating": ("Intervjuarskattning, standardavvikelse", "Interviewer rating, SD"),
    "rating_ci_low": ("Intervjuarskattning, 95 % KI nedre", "Interviewer rating, 95% CI lower"),
    "rating_ci_high": ("Intervjuarskattning, 95 % KI övre", "Interviewer rating, 95% CI upper"),
    "bortfall_share": ("Bortfall (andel av förfallna)", "Attrition (share of due)"),
    "intervention": ("Insats", "Intervention"),
    "group_var": ("Indelning", "Grouping"),
    "days_median": ("Dagar efter Grund, median", "Days after baseline, median"),
    "days_q1": ("Dagar efter Grund, nedre kvartil", "Days after baseline, lower quartile"),
    "days_q3": ("Dagar efter Grund, övre kvartil", "Days after baseline, upper quartile"),
    "preliminary": ("Preliminär", "Preliminary"),
    # issue 13: questions, problem status (McNemar), two-group precision, unit comparison
    "question": ("Fråga som siffrorna svarar på", "Question the figures answer"),
    "source": ("Källa", "Source"),
    "criterion": ("Kriterium (Jacobson–Truax)", "Criterion (Jacobson–Truax)"),
    "cutoff": ("Gräns för kliniskt betydelsefull förändring", "Cut-off for clinically significant change"),
    "n_recovered": ("Återhämtade (reliabel förbättring förbi gränsen)", "Recovered (reliable improvement past the cut-off)"),
    "share_recovered": ("Andel återhämtade", "Share recovered"),
    "n_improved_only": ("Förbättrade, inte förbi gränsen", "Improved, not past the cut-off"),
    "share_improved_only": ("Andel förbättrade, inte förbi gränsen", "Share improved, not past the cut-off"),
    "criterion_source": ("Gränsens grund", "Basis of the cut-off"),
    "ps_p05": ("Propensity, gruppen, 5:e percentil", "Propensity, group, 5th percentile"),
    "ps_median": ("Propensity, gruppen, median", "Propensity, group, median"),
    "ps_p95": ("Propensity, gruppen, 95:e percentil", "Propensity, group, 95th percentile"),
    "rest_p05": ("Propensity, övriga, 5:e percentil", "Propensity, others, 5th percentile"),
    "rest_median": ("Propensity, övriga, median", "Propensity, others, median"),
    "rest_p95": ("Propensity, övriga, 95:e percentil", "Propensity, others, 95th percentile"),
    "support_share": ("Andel inom övrigas spann (gemensamt stöd)", "Share within the others' range (common support)"),
    "rubin_b": ("Rubins B (standardiserad skillnad)", "Rubin's B (standardised difference)"),
    "rubin_r": ("Rubins R (varianskvot)", "Rubin's R (variance ratio)"),
    "poor_overlap": ("Dålig överlappning", "Poor overlap"),
    "n_free_0": ("Problemfria vid baslinjen", "Problem-free at baseline"),
    "share_free_0": ("Andel problemfria vid baslinjen", "Share problem-free at baseline"),
    "share_free_0_ci_low": ("Andel problemfria vid baslinjen, 95 % KI nedre", "Share problem-free at baseline, 95% CI lower"),
    "share_free_0_ci_high": ("Andel problemfria vid baslinjen, 95 % KI övre", "Share problem-free at baseline, 95% CI upper"),
    "n_free_1": ("Problemfria vid uppföljningen", "Problem-free at follow-up"),
    "share_free_1": ("Andel problemfria vid uppföljningen", "Share problem-free at follow-up"),
    "share_free_1_ci_low": ("Andel problemfria vid uppföljningen, 95 % KI nedre",
                            "Share problem-free at follow-up, 95% CI lower"),
    "share_free_1_ci_high": ("Andel problemfria vid uppföljningen, 95 % KI övre",
                             "Share problem-free at follow-up, 95% CI upper"),
    "n_became_free": ("Blev problemfria", "Became problem-free"),
    "n_became_problem": ("Fick problem", "Developed a problem"),
    "p_mcnemar": ("p-värde (McNemar)", "p-value (McNemar)"),
    "mcnemar_method": ("McNemar, metod", "McNemar, method"),
    "n_cond_pairs": ("Med problem vid baslinjen", "With a problem at baseline"),
    "k_cond": ("Av dem problemfria vid uppföljningen", "Of them problem-free at follow-up"),
    "cond_share": ("Andel av dem problemfria vid uppföljningen", "Share of them problem-free at follow-up"),
    "rho": ("Korrelation baslinje–uppföljning", "Baseline–follow-up correlation"),
    "min_detectable_difference": ("Minsta upptäckbara skillnad", "Minimum detectable difference"),
    "target_difference": ("Skillnad att upptäcka", "Difference to detect"),
    "n_pairs_rest": ("Antal par hos övriga", "Pairs of the others"),
    "n_needed_equal": ("Par per grupp som behövs (två lika stora grupper)", "Pairs per group needed (two equal groups)"),
    "n_needed_vs_rest": ("Par som behövs mot övriga", "Pairs needed against the others"),
    "observed": ("Observerat vid uppföljningen", "Observed at follow-up"),
    "expected": ("Förväntat utifrån klienterna", "Expected from the case mix"),
    "excess": ("Observerat − förväntat (negativ = bättre)", "Observed − expected (negative = better)"),
    "limit95_low": ("Trattens 95 %-gräns, nedre", "Funnel 95% limit, lower"),
    "limit95_high": ("Trattens 95 %-gräns, övre", "Funnel 95% limit, upper"),
    "limit998_low": ("Trattens 99,8 %-gräns, nedre", "Funnel 99.8% limit, lower"),
    "limit998_high": ("Trattens 99,8 %-gräns, övre", "Funnel 99.8% limit, upper"),
    "outside95": ("Utanför 95 %-gränsen", "Outside the 95% limit"),
    "outside998": ("Utanför 99,8 %-gränsen", "Outside the 99.8% limit"),
    "shrunken": ("Krympt skattning (negativ = bättre)", "Shrunken estimate (negative = better)"),
    "shrinkage": ("Krympningsvikt", "Shrinkage weight"),
    "se": ("Standardfel", "Standard error"),
    "month": ("Månad", "Month"),
    "tendency": ("Endast tendens", "Tendency only"),
    "n_clients": ("Antal klienter (unika)", "Clients (distinct)"),
    "n_pairs": ("Antal par (Grund–uppföljning)", "Pairs (baseline–follow-up)"),
    "n_followed": ("Följda upp", "Followed up"),
    "n_missed": ("Ej uppföljda", "Not followed up"),
    "n_improved": ("Förbättrade", "Improved"),
    "n_unchanged": ("Oförändrade", "Unchanged"),
    "n_worse": ("Försämrade", "Worse"),
    "n_paired": ("Uppföljda totalt", "Followed up, all"),
    "reason": ("Orsak", "Reason"),
    "comparison": ("Jämförelse", "Comparison"),
    "groups_tested": ("Antal grupper i testet", "Groups tested"),
    "p_kruskal": ("p-värde (Kruskal–Wallis)", "p-value (Kruskal–Wallis)"),
    "p_anova": ("p-värde (ANOVA)", "p-value (ANOVA)"),
    "mean_a": ("Medelvärde (A)", "Mean (A)"),
    "mean_b": ("Medelvärde (B)", "Mean (B)"),
    "form": ("Formulär", "Form"),
}

#: Columns whose size sets the decimals of a row (composites 0–1: 2 decimals).
_SOFT = ("missing", "empty", "invalid", "not_relevant")
_PRIVATE = {"client_pid", "client_id", "personnummer", "pnr"}


# --------------------------------------------------------------------------- structure
def _is_numeric(s: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype)


def _count_cols(frame: pd.DataFrame, meta: dict) -> list[str]:
    if "count_cols" in meta:
        return [c for c in meta["count_cols"] if c in frame.columns]
    keys = set(meta.get("key_cols", ())) | set(meta.get("group_cols", ()))
    pat = re.compile(r"^(n|k)$|^(n|k)_|_(n|k)$")
    return [c for c in frame.columns
            if c not in keys and isinstance(c, str) and pat.search(c) and _is_numeric(frame[c])]


def _soft_cols(counts: list[str], meta: dict) -> set[str]:
    if "soft_count_cols" in meta:
        return set(meta["soft_count_cols"])
    return {c for c in counts if any(s in c for s in _SOFT)}


def _p_cols(cols) -> list[str]:
    return [c for c in cols if isinstance(c, str)
            and (c in ("p", "p_value", "q_value") or c.startswith("p_") or c.endswith("_p")
                 or c.endswith("_p_value") or c.endswith("_p_adj"))]


def _complements(counts: list[str], meta: dict) -> list[tuple[str, str]]:
    """(part, whole) pairs whose difference whole − part is a count too."""
    if "complements" in meta:
        return [(a, b) for a, b in dict(meta["complements"]).items() if a in counts and b in counts]
    cs = set(counts)
    out = []
    for c in counts:
        if c == "k" and "n" in cs:
            out.append(("k", "n"))
        elif c.startswith("k_") and "n_" + c[2:] in cs:
            out.append((c, "n_" + c[2:]))
        elif c == "n_missing" and "n" in cs:
            out.append((c, "n"))
        elif c.startswith("n_missing_") and "n_" + c[len("n_missing_"):] in cs:
            out.append((c, "n_" + c[len("n_missing_"):]))
    return out


def _key_frame(frame: pd.DataFrame, counts: list[str], stat_cols: list[str]) -> pd.DataFrame:
    keys = [c for c in frame.columns if c not in counts and c not in stat_cols]
    return frame[keys].astype("string").fillna("<NA>") if keys else pd.DataFrame(index=frame.index)


def _is_total(s: pd.Series) -> np.ndarray:
    return (s.astype("string") == TOTAL).fillna(False).to_numpy(dtype=bool)


def _category_groups(keyf: pd.DataFrame, meta: dict) -> np.ndarray:
    """Group number of each row of a category frame (all keys but the category)."""
    cat = meta.get("category_col")
    label_cols = set(meta.get("label_cols", ("label",)))
    gkeys = [c for c in keyf.columns if c != cat and c not in label_cols]
    if not gkeys:
        return np.zeros(len(keyf), dtype=int)
    return keyf.groupby(gkeys, sort=False, dropna=False).ngroup().to_numpy()


def _build_sets(frame, meta, counts, keyf, cell_id, vals) -> list[tuple[np.ndarray, np.ndarray]]:
    """Additive sets as (cell ids, signs) with sum(sign * value) = 0.

    Groups + their total row are used for every count column that is declared
    additive, and also for every other count column whose raw values do add
    up (an equation that holds can be used by a reader, declared or not).
    """
    sets: list[tuple[np.ndarray, np.ndarray]] = []
    group_cols = [g for g in meta.get("group_cols", ()) if g in frame.columns]
    cat = meta.get("category_col")
    nrow = len(frame)

    def add(parts: np.ndarray, totals: np.ndarray) -> None:
        parts, totals = np.unique(parts), np.unique(totals)
        parts = parts[~np.isin(parts, totals)]
        if len(parts) + len(totals) > 1:
            sets.append((np.concatenate([parts, totals]),
                         np.concatenate([np.ones(len(parts)), -np.ones(len(totals))])))

    # (a) categories of one variable within a group: sum k (+ n_missing) = n; the group's
    # n and n_missing repeat on every category row, equal to the first
    if meta.get("additive") and cat in frame.columns and "k" in counts and "n" in counts:
        ids = _category_groups(keyf, meta)
        has_k = frame["k"].notna().to_numpy()
        order = np.argsort(ids, kind="stable")
        order = order[has_k[order]]
        bounds = np.flatnonzero(np.diff(ids[order])) + 1
        miss = "n_missing" if "n_missing" in counts else None
        for rows in np.split(order, bounds):
            if len(rows):
                parts = cell_id["k"][rows]
                if miss:
                    parts = np.append(parts, cell_id[miss][rows[:1]])
                    for r in rows[1:]:
                        add(cell_id[miss][[r]], cell_id[miss][rows[:1]])
                add(parts, cell_id["n"][rows[:1]])
    # (b) groups of one grouping column + its total row; (c) all groups + grand total
    if group_cols:
        tot = {g: _is_total(frame[g]) for g in group_cols}
        any_tot = np.logical_or.reduce([tot[g] for g in group_cols])
        all_tot = np.logical_and.reduce([tot[g] for g in group_cols])
        declared = ([c for c in meta.get("additive_cols", counts) if c in counts]
                    if meta.get("additive") else [])
        plans = [(g, tot[g], np.ones(nrow, dtype=bool)) for g in group_cols]
        if len(group_cols) > 1:
            plans.append((None, all_tot, ~any_tot | all_tot))
        for g, is_tot, sel in plans:
            if not is_tot.any():
                continue
            others = [c for c in keyf.columns if c not in (group_cols if g is None else [g])]
            rows_sel = np.flatnonzero(sel)
            kf = keyf.iloc[rows_sel][others] if others else None
            ids = (kf.groupby(others, sort=False, dropna=False).ngroup().to_numpy()
                   if others else np.zeros(len(rows_sel), dtype=int))
            t_sel = is_tot[rows_sel]
            for c in counts:
                v = np.nan_to_num(vals[c][rows_sel], nan=0.0)
                if c in declared:
                    holds = np.ones(ids.max() + 1 if len(ids) else 0, dtype=bool)
                else:  # does sum(parts) == total hold in the data, per block?
                    part_sum = np.bincount(ids, weights=np.where(t_sel, 0.0, v))
                    tot_sum = np.bincount(ids, weights=np.where(t_sel, v, 0.0))
                    n_tot = np.bincount(ids, weights=t_sel.astype(float))
                    holds = (n_tot == 1) & np.isclose(part_sum, tot_sum) & (tot_sum > 0)
                if not holds.any():
                    continue
                keep = holds[ids]
                order = np.argsort(ids[keep], kind="stable")
                rows_k, ids_k, t_k = rows_sel[keep][order], ids[keep][order], t_sel[keep][order]
                bounds = np.flatnonzero(np.diff(ids_k)) + 1
                for rows, t in zip(np.split(rows_k, bounds), np.split(t_k, bounds)):
                    if t.any() and not t.all():
                        add(cell_id[c][rows[~t]], cell_id[c][rows[t]])
    # (f) levels of one variable in rows of their own (e.g. "housing=homeless"):
    # sum of k_x over the levels (+ n_missing_x) = n_x, used where it holds in the data
    cs = meta.get("category_sets")
    if cs and cs.get("by") in frame.columns:
        fam = frame[cs["by"]].astype("string").str.split("=", n=1).str[0]
        fam_id = pd.factorize(fam)[0]
        for k, n, miss in cs.get("counts", ()):
            if k not in counts or n not in counts:
                continue
            has_k = ~np.isnan(vals[k])
            for f in np.unique(fam_id[has_k]):
                rows = np.flatnonzero((fam_id == f) & has_k)
                nv = vals[n][rows]
                if len(rows) < 2 or not np.allclose(nv, nv[0]):
                    continue
                m = vals[miss][rows[0]] if miss in counts else 0.0
                if np.isclose(np.nansum(vals[k][rows]) + np.nan_to_num(m), nv[0]):
                    parts = cell_id[k][rows]
                    if miss in counts:
                        parts = np.append(parts, cell_id[miss][rows[0]])
                    add(parts, cell_id[n][rows[:1]])
                    for r in rows[1:]:   # the same n repeated on every level row
                        add(cell_id[n][[r]], cell_id[n][rows[:1]])
                        if miss in counts:
                            add(cell_id[miss][[r]], cell_id[miss][rows[:1]])
    # (d) declared row sums (within a row)
    for whole, parts in dict(meta.get("row_sums", {})).items():
        if whole in counts and all(c in counts for c in parts):
            P = np.stack([cell_id[c] for c in parts], axis=1)
            for r in range(nrow):
                add(P[r], cell_id[whole][r:r + 1])
    # (e) declared sums between rows: {"key": col, "cols": [counts], "sets": {whole: [parts]}}
    rsets = meta.get("row_sets") or []
    # The sums hold within each group (``within``, default the frame's group columns).
    for rs in ([rsets] if isinstance(rsets, dict) else rsets):
        if rs.get("key") not in frame.columns:
            continue
        within = [c for c in rs.get("within", meta.get("group_cols") or ())
                  if c in frame.columns and c != rs["key"]]
        gid = (frame[within].astype("string").fillna("\x00").agg("\x1f".join, axis=1) if within
               else pd.Series("", index=frame.index))
        keyvals = frame[rs["key"]].astype("string").tolist()
        for rows in gid.groupby(gid.to_numpy(), sort=False).indices.values():
            pos = {str(keyvals[i]): i for i in rows}
            for c in rs.get("cols", counts):
                if c not in counts:
                    continue
                for whole, parts in dict(rs["sets"]).items():
                    if whole in pos and all(p in pos for p in parts):
                        add(cell_id[c][[pos[p] for p in parts]], cell_id[c][[pos[whole]]])
    # one equation once (shared cells, e.g. a group's n under every measure, repeat sets)
    seen, unique = set(), []
    for m, sg in sets:
        o = np.argsort(m, kind="stable")
        key = (m[o].tobytes(), sg[o].tobytes())
        if key not in seen:
            seen.add(key)
            unique.append((m, sg))
    return unique


def _determined(sets, hidden: np.ndarray) -> np.ndarray:
    """Hidden cells whose value follows exactly from the visible ones.

    A hidden cell i is determined when the unit vector e_i lies in the row
    space of the additive equations restricted to the hidden cells, i.e. when
    every vector of their null space is 0 at i.
    """
    from scipy.linalg import qr

    touched = [(m, sg) for m, sg in sets if hidden[m].any()]
    if not touched:
        return np.zeros(0, dtype=int)
    hid = np.unique(np.concatenate([m[hidden[m]] for m, _ in touched]))
    pos = {c: j for j, c in enumerate(hid)}
    A = np.zeros((len(touched), len(hid)))
    for i, (m, sg) in enumerate(touched):
        h = hidden[m]
        A[i, [pos[c] for c in m[h]]] = sg[h]
    # the equations fall apart into independent blocks (one measure, one category...):
    # one small null space per connected block instead of one large SVD
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    r, c = np.nonzero(A)
    ne, nh = A.shape
    g = coo_matrix((np.ones(len(r)), (r, ne + c)), shape=(ne + nh, ne + nh))
    _, comp = connected_components(g, directed=False)
    out = []
    eq_comp, cell_comp = comp[:ne], comp[ne:]
    for k in np.unique(cell_comp):
        cols = np.flatnonzero(cell_comp == k)
        rows = np.flatnonzero(eq_comp == k)
        # e_i lies in the row space of B ⇔ the projector onto that space has P_ii = 1;
        # P = Q Qᵀ from a pivoted QR of Bᵀ (cheaper than the SVD behind a null space)
        B = A[np.ix_(rows, cols)]
        Q, R, _ = qr(B.T, mode="economic", pivoting=True)
        d = np.abs(np.diag(R))
        rank = int((d > max(B.shape) * np.finfo(float).eps * (d[0] if d.size else 0)).sum())
        p_ii = (Q[:, :rank] ** 2).sum(axis=1)
        out.append(hid[cols[p_ii > 1 - 1e-9]])
    return np.concatenate(out) if out else np.zeros(0, dtype=int)


def _secondary(values: np.ndarray, sup: np.ndarray, sets, penalty: np.ndarray | None = None,
               exact: bool = True, protect: np.ndarray | None = None) -> np.ndarray:
    """Hide more cells until no hidden cell can be derived from the sets.

    First the classic rule (no set with exactly one hidden cell: hide the
    cheapest non-zero visible cell of that set — its value, times one plus
    the number of other sets without a hidden cell that it would open), then
    an exact check with the
    null space of the equations (catches chains such as a "bridge" between two
    blocks of hidden cells); repeated until stable. ``exact=False`` skips the
    exact check (a release audits its whole system with integer programming
    instead, :func:`asi_lib.release.audit`). ``protect``: the hidden cells
    the classic rule guards (default every hidden cell); a release guards its
    small counts only and leaves the rest to its audit, so that a cell hidden
    for another reason (not shown at all, or a secondary cell) does not drag
    a chain of visible cells after it.
    """
    sec = np.zeros_like(sup)
    if not sets:
        return sec
    cost = values if penalty is None else values + penalty
    set_idx = np.concatenate([np.full(len(m), i) for i, (m, _) in enumerate(sets)])
    cells = np.concatenate([m for m, _ in sets])
    v = values[cells]
    vc = cost[cells]
    while True:
        while True:
            h = (sup | sec)[cells]
            cnt = np.bincount(set_idx, weights=h.astype(float), minlength=len(sets))
            cand = (cnt[set_idx] == 1) & ~h & (v > 0)
            if protect is not None:    # only sets whose one hidden cell is guarded
                guarded = np.bincount(set_idx, weights=(h & protect[cells]).astype(float), minlength=len(sets))
                cand &= guarded[set_idx] == 1
            if not cand.any():
                break
            # A cell that also sits in other sets with nothing hidden yet would open each of
            # them (one hidden cell → one more to hide, and so on): its cost is multiplied by
            # 1 + that number, so e.g. a total of its own set is hidden rather than a part
            # that is repeated elsewhere and drags a chain of cells with it.
            fresh = np.bincount(cells, weights=(cnt[set_idx] == 0).astype(float), minlength=len(values))
            # one pick at a time (the first open set, in order): a pick changes what the
            # other open sets need, and picking for all of them at once hid cells twice over
            first_set = set_idx[cand].min()
            m = cand & (set_idx == first_set)
            cost_m = vc[m] * (1.0 + fresh[cells[m]])
            sec[cells[m][np.lexsort((cells[m], cost_m))[0]]] = True
        if not exact:
            return sec
        det = _determined(sets, sup | sec)
        det = det[values[det] > 0]
        if det.size == 0:
            return sec
        # hide the smallest visible non-zero cell sharing a set with a derivable cell
        best = None
        for target in det:
            for m, _ in sets:
                if target in m:
                    c = m[~(sup | sec)[m] & (values[m] > 0)]
                    if c.size:
                        cand_c = c[np.argmin(cost[c])]
                        if best is None or cost[cand_c] < cost[best]:
                            best = cand_c
            if best is not None:
                break
        if best is None:  # nothing left to hide around any of them
            return sec
        sec[best] = True


# --------------------------------------------------------------------------- labels
def measure_label(name: str, lang: str = "sv") -> str:
    """Readable label of a measure/variable name.

    Parameters
    ----------
    name : str
        ``composite_<area>``, an area, a codebook column or a column of
        :data:`COLUMN_LABELS`.
    lang : {"sv", "en"}

    Returns
    -------
    str
        The name itself when nothing is known about it.

    Examples
    --------
    >>> measure_label("composite_alcohol")
    'Sammanvägt index: Alkohol'
    >>> measure_label("rating_drugs", "en")
    'Interviewer rating: drugs (0–9)'
    """
    if not isinstance(name, str):
        return name
    return _measure_label_cached(name, lang)


@lru_cache(maxsize=None)
def _measure_label_cached(name: str, lang: str) -> str:
    cb = load_codebook()
    if name == TOTAL:
        return _TOTAL_LABEL[lang]
    if name.startswith("composite_") and name[10:] in cb.areas:
        area = cb.areas[name[10:]]["label_sv" if lang == "sv" else "label_en"]
        return f"Sammanvägt index: {area}" if lang == "sv" else f"Composite score: {area}"
    if name in cb.areas:
        return cb.areas[name]["label_sv" if lang == "sv" else "label_en"]
    for t in TABLES:
        names = cb.column_names(t)
        if name in names:
            return cb.column(t, name).label(lang)
    if name in COLUMN_LABELS:
        return COLUMN_LABELS[name][0 if lang == "sv" else 1]
    return name


def _code_labels(var: str, lang: str):
    """Code → label of a codebook column (read-only, cached), None when it has no codes."""
    if not isinstance(var, str):
        return None
    return _code_labels_cached(var, lang)


@lru_cache(maxsize=None)
def _code_labels_cached(var: str, lang: str):
    cb = load_codebook()
    for t in TABLES:
        if var in cb.column_names(t):
            col = cb.column(t, var)
            if col.codes is None:
                return None
            lab = cb.labels(t, var, lang)
            return MappingProxyType({str(k): v for k, v in lab.items()})
    return None


def label_values(series: pd.Series, var: str | None = None, lang: str = "sv") -> pd.Series:
    """Codes → labels for one column (codebook codes, areas, measures, total).

    Parameters
    ----------
    series : pandas.Series
        Codes (or measure names, with ``var`` = "measure"/"variable"/"area").
    var : str, optional
        The codebook column the codes belong to.
    lang : {"sv", "en"}

    Returns
    -------
    pandas.Series of str
        Unknown values are kept as they are.

    Examples
    --------
    >>> label_values(pd.Series(["female", "__total__"]), "sex").tolist()
    ['Kvinna', 'Totalt']
    """
    return pd.Series(_label_array(series, var, lang), index=series.index, name=series.name, dtype="str")


def _label_array(series: pd.Series, var: str | None, lang: str) -> np.ndarray:
    """:func:`label_values` as an object array (``None`` for a missing code): no Series built."""
    s = series.astype("string")
    codes, uniq = pd.factorize(s)                 # the distinct codes, NA → -1
    mapping = {TOTAL: _TOTAL_LABEL[lang], _UNKNOWN: _UNKNOWN_LABEL[lang]}
    if var in ("measure", "variable", "area"):
        mapping.update({u: measure_label(u, lang) for u in uniq})
    elif var is not None:
        mapping.update(_code_labels(var, lang) or {})
    got = [mapping.get(u) for u in uniq]          # per distinct code, not per row; unknown codes stay
    lab = np.array([None, *(u if v is None or v != v else v for u, v in zip(uniq, got))], dtype=object)
    return lab[codes + 1]


def _heading(col: str, lang: str) -> str:
    if col in COLUMN_LABELS:
        return COLUMN_LABELS[col][0 if lang == "sv" else 1]
    lab = measure_label(col, lang)
    return lab if isinstance(lab, str) else str(col)


# --------------------------------------------------------------------------- formatting
def _fmt(values: np.ndarray, decimals, lang: str, suffix: str = "") -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    dec = np.broadcast_to(np.asarray(decimals), values.shape)
    fin = np.isfinite(values)
    out[~fin] = ""
    for d in np.unique(dec[fin]):
        d = int(d)
        m = (dec == d) & fin
        r = np.round(values[m], d) + 0.0          # no "−0,00"
        scaled = np.rint(np.abs(r) * 10 ** d).astype(np.int64)
        ip, fp = scaled // 10 ** d, scaled % 10 ** d
        txt = ip.astype(str).astype(object)
        if d:
            txt = txt + "." + np.char.zfill(fp.astype(str), d).astype(object)
        txt = np.where(r < 0, "-" + txt, txt)
        big = ip >= 1000                           # thousands separators: the few large values
        if big.any():
            txt[big] = [f"{x:,.{d}f}" for x in r[big]]
        out[m] = txt
    out = out.astype(str)
    if lang == "sv":
        out = np.char.replace(np.char.replace(np.char.replace(out, ",", "\u2009"), ".", ","), "-", "−")
    out = np.char.add(out, suffix).astype(object)
    out[~np.isfinite(values)] = EMPTY
    return out


def _fmt_p(values: np.ndarray, lang: str) -> np.ndarray:
    out = _fmt(values, 3, lang)
    small = np.isfinite(values) & (values < 0.001)
    out[small] = "<0,001" if lang == "sv" else "<0.001"
    return out


def _fmt_pct(values: np.ndarray, lang: str, points: bool = False) -> np.ndarray:
    """Shares 0–1 in whole per cent; one decimal for non-zero values under 1 %."""
    v = 100 * values
    dec = np.where(np.isfinite(v) & (np.abs(v) > 0) & (np.abs(v) < 0.95), 1, 0)
    suffix = (" %-enh." if lang == "sv" else " pp") if points else " %"
    return _fmt(v, dec, lang, suffix=suffix)


def _magnitude_decimals(v: np.ndarray) -> int:
    """Decimals from a column's typical size: ≤ 1.5 → 2, < 100 → 1, else 0."""
    f = np.abs(v[np.isfinite(v)])
    if f.size == 0:
        return 1
    m = float(np.median(f[f > 0])) if (f > 0).any() else 0.0
    return 2 if m <= 1.5 else (1 if m < 100 else 0)


def _name_decimals(name) -> int | None:
    """Decimals of a measure from its name (composites 2, ratings/days/age 1, SEK 0)."""
    if not isinstance(name, str) or name == TOTAL:
        return None
    return _name_decimals_cached(name)


@lru_cache(maxsize=None)
def _name_decimals_cached(name: str) -> int | None:
    if "composite" in name:
        return 2
    if any(t in name for t in ("rating", "self_days", "_days", "troubled", "importance", "age")):
        return 1
    cb = load_codebook()
    for t in TABLES:
        if name in cb.column_names(t):
            return 0 if cb.column(t, name).is_money else 1
    return None


def _row_measure_decimals(frame: pd.DataFrame) -> np.ndarray | None:
    """Per row: decimals from the row's measure (``column``, ``measure`` or ``variable`` key)."""
    out = np.full(len(frame), -1)
    for key in ("column", "measure", "variable"):
        if key in frame.columns and not _is_numeric(frame[key]):
            s = frame[key].astype("string")
            lut = {u: _name_decimals(u) for u in s.dropna().unique()}
            d = s.map(lambda u: lut.get(u) if lut.get(u) is not None else -1).fillna(-1).to_numpy(dtype=int)
            out = np.where(out < 0, d, out)
    return out if (out >= 0).any() else None


def _percent_cols(frame: pd.DataFrame, meta: dict, stat_cols: list[str]) -> list[str]:
    if "percent_cols" in meta:
        return list(meta["percent_cols"])
    return [c for c in stat_cols if isinstance(c, str) and (
        c.startswith(("share", "pct", "rate")) or c.endswith(("_share", "_rate", "_pct")))]


def _share_rows(frame: pd.DataFrame, meta: dict) -> np.ndarray:
    """Rows whose statistics describe a share (``kind == "share"``, or a ``share`` value)."""
    if "percent_cols" in meta:
        return np.zeros(len(frame), dtype=bool)
    if "kind" in frame.columns:
        return (frame["kind"].astype("string") == "share").fillna(False).to_numpy(dtype=bool)
    if "share" in frame.columns:
        return frame["share"].notna().to_numpy()
    return np.zeros(len(frame), dtype=bool)


#: Statistics without a unit (two decimals).
_UNITLESS = {"hedges_g", "smd", "g", "d", "cohen_d", "dz", "dz_ci_low", "dz_ci_high", "effect_size",
             "min_detectable_dz", "reliability", "r_squared"}
#: Statistics that follow a share in share rows (per cent).
_SHARE_FOLLOWERS = ("ci_low", "ci_high", "value_", "diff")
#: Columns never shown to people (technical detail kept in the raw frame).
_TECHNICAL = {"column", "wilcoxon_method", "kind", "tendency", "period_start", "period_end",
              "reliability_source"}
#: Free-text columns, shown last.
_TEXT = {"note", "text", "why", "interpretation"}
#: Labels of a few technical values.
_VALUE_LABELS = {
    "table": {"grund": ("Grund", "Baseline"), "uppfoljning": ("Uppföljning", "Follow-up"),
              "bortfall": ("Bortfall", "Attrition"), "insatser": ("Insatser", "Interventions")},
    "test": {"welch": ("Welch t-test", "Welch t-test"), "mannwhitney": ("Mann–Whitney U", "Mann–Whitney U"),
             "z": ("z-test för andelar", "z-test for proportions"),
             "fisher": ("Fishers exakta test", "Fisher's exact test")},
    "effect_measure": {"hedges_g": ("Hedges g", "Hedges' g"),
                       "smd": ("Standardiserad skillnad i andelar", "Standardised difference in proportions")},
}


def _label_columns(frame: pd.DataFrame, meta: dict) -> dict[str, str | None]:
    """Label column → the key column it labels (None: a text column of its own)."""
    out: dict[str, str | None] = {}
    declared = dict(meta.get("label_of", {}))
    cols = list(frame.columns)
    for i, c in enumerate(cols):
        if not isinstance(c, str) or _is_numeric(frame[c]):
            continue
        if c in declared:
            out[c] = declared[c] if declared[c] in frame.columns else None
        elif c.endswith("_label") and c[:-6] in frame.columns:
            out[c] = c[:-6]
        elif c.endswith("_label") and c[:-6] + "_type" in frame.columns:
            out[c] = c[:-6] + "_type"
        elif c == "label":
            prev = [p for p in cols[:i] if isinstance(p, str) and not _is_numeric(frame[p])
                    and not p.endswith("_label") and p not in _TECHNICAL]
            out[c] = prev[-1] if prev else None
    return out


# --------------------------------------------------------------------------- publish

class _Cells:
    """The count cells of one raw table and the equations between them (see :func:`table_cells`)."""

    def __init__(self, **kw):
        self.__dict__.update(kw)


def table_cells(frame: pd.DataFrame, *, min_cell: int = 5, lang: str = "sv", equations: bool = True) -> _Cells:
    """The count cells of a raw table, their primary protection and additive equations.

    The first half of :func:`publish`, exposed so that a release can protect
    many tables together (:mod:`asi_lib.release`): ``values`` (one per cell),
    ``primary`` (0 < v < min_cell), ``forced`` (primary and complement cells),
    ``sets`` (equations as (cell ids, signs) with sum(sign · value) = 0),
    ``cell_id`` (count column → cell of each row) and ``penalty``.

    Parameters
    ----------
    frame : pandas.DataFrame
        A raw result with ``attrs["asi"]`` (see the module docstring).
    min_cell : int, default 5
    lang : {"sv", "en"}
    equations : bool, default True
        Build ``sets``; False when the hidden cells are already decided
        (:func:`publish` with ``hidden=``), which needs no equations.

    Returns
    -------
    object
        Attributes as listed above, plus the frame and its structure.

    Examples
    --------
    >>> raw = pd.DataFrame({"sex": ["male", "female", "__total__"], "n": [40, 3, 43]})
    >>> raw.attrs["asi"] = {"group_cols": ["sex"], "additive": True}
    >>> c = table_cells(raw)
    >>> c.values.tolist(), c.primary.tolist(), len(c.sets)
    ([40.0, 3.0, 43.0], [False, True, False], 1)
    """
    if lang not in ("sv", "en"):
        raise AsiInputError(f"okänt språk '{lang}' (sv, en) / unknown language")
    if min_cell < 1:
        raise AsiInputError("min_cell måste vara minst 1 / min_cell must be at least 1")
    private = [c for c in frame.columns if isinstance(c, str) and c.lower() in _PRIVATE]
    if private:
        raise AsiInputError(f"en publicerad tabell får inte innehålla klient-id ({', '.join(private)}) "
                            "/ a published table must not hold client identifiers")
    meta = dict(frame.attrs.get("asi", {}))
    frame = frame.reset_index(drop=True)
    # meta is kept above; a frame without attrs is not deep-copied by pandas on every operation
    # (that copying was a fifth of a release's publishing time)
    frame.attrs = {}
    counts = _count_cols(frame, meta)
    if not counts:
        raise AsiInputError("tabellen saknar antal (n) och kan inte skyddas / table has no count column")
    soft = _soft_cols(counts, meta)
    keys_declared = set(meta.get("key_cols", ())) | set(meta.get("group_cols", ()))
    stat_cols = [c for c in frame.columns if c not in counts and c not in keys_declared
                 and _is_numeric(frame[c])]
    # the key columns as text: for a group's or a category's shared n cell, and for the equations
    needs_keys = equations or bool(meta.get("group_n")) or meta.get("category_col") in frame.columns
    keyf = _key_frame(frame, counts, stat_cols) if needs_keys else None
    nrow = len(frame)

    # ---- cells: one id per (row, count column); the n of one group is one cell
    # when the rows are categories of that group
    vals = {c: frame[c].to_numpy(dtype="float64", na_value=np.nan) for c in counts}
    cell_id: dict[str, np.ndarray] = {}
    values_list = []
    offset = 0
    cat = meta.get("category_col")
    group_n = [g for g in meta.get("group_cols", ()) if g in frame.columns]
    for c in counts:
        ids = None
        if c == "n" and meta.get("group_n"):
            # n is the group's clients on every row (profile, category_profile, table1):
            # one cell per group, whatever the variable or measure; equal values only,
            # so a cell never stands for two different numbers
            gk = keyf[group_n].copy() if group_n else pd.DataFrame(index=frame.index)
            gk["__n__"] = pd.Series(vals[c]).astype("string").fillna("<NA>").to_numpy()
            ids = gk.groupby(list(gk.columns), sort=False, dropna=False).ngroup().to_numpy()
        elif cat in frame.columns and (c == "n" or c in soft):
            ids = _category_groups(keyf, meta)
        if ids is None:
            cell_id[c] = offset + np.arange(nrow)
            values_list.append(vals[c])
            offset += nrow
        else:  # rows with the same id share one cell
            first = pd.Series(np.arange(nrow)).groupby(ids).transform("first").to_numpy()
            _, local = np.unique(first, return_inverse=True)
            cell_id[c] = offset + local
            uniq_rows = np.unique(first)
            values_list.append(vals[c][uniq_rows])
            offset += len(uniq_rows)
    values = np.concatenate(values_list) if values_list else np.zeros(0)
    vz = np.nan_to_num(values, nan=0.0)
    primary = (vz > 0) & (vz < min_cell)
    # complements: a visible part is hidden when whole − part is a small count
    comp = np.zeros_like(primary)
    for part, whole in _complements(counts, meta):
        rest = np.nan_to_num(vals[whole] - vals[part], nan=0.0)
        small = (rest > 0) & (rest < min_cell)
        comp[cell_id[part][small]] = True
    comp &= ~primary
    sets = _build_sets(frame, meta, counts, keyf, cell_id, vals) if equations else []
    penalty = np.zeros_like(vz)
    for whole in dict(meta.get("row_sums", {})):
        if whole in cell_id:
            penalty[cell_id[whole]] = 1e12
    links = [(a, b) for a, bs in dict(meta.get("linked_counts", {})).items() for b in bs
             if a in cell_id and b in cell_id]
    return _Cells(frame=frame, meta=meta, counts=counts, soft=soft, stat_cols=stat_cols, keyf=keyf,
                  vals=vals, cell_id=cell_id, values=vz, primary=primary, comp=comp, forced=primary | comp,
                  sets=sets, penalty=penalty, links=links, nrow=nrow)


def protect_cells(c: _Cells, forced=None) -> np.ndarray:
    """Hidden cells of one table: primary, complements and secondary suppression.

    Parameters
    ----------
    c : object
        From :func:`table_cells`.
    forced : numpy.ndarray of bool, optional
        Cells that must be hidden (default ``c.forced``).

    Returns
    -------
    numpy.ndarray of bool
        One flag per cell.
    """
    vz, sets, penalty, links, cell_id, vals = c.values, c.sets, c.penalty, c.links, c.cell_id, c.vals
    forced = (c.forced if forced is None else (np.asarray(forced, dtype=bool) | c.forced)).copy()
    hidden = forced
    for _ in range(4):
        secondary = _secondary(vz, forced, sets, penalty)
        hidden = forced | secondary
        grow = forced.copy()
        for a, b in links:
            both = hidden[cell_id[a]] | hidden[cell_id[b]]
            grow[cell_id[a][both & (vals[a] > 0)]] = True
            grow[cell_id[b][both & (vals[b] > 0)]] = True
        if (grow == forced).all():
            break
        forced = grow
    return hidden


def publish(frame: pd.DataFrame, *, min_cell: int = 5, tendency_threshold: int = 10,
            lang: str = "sv", labels: bool = True, hidden=None, one_marker: bool = False,
            cells=None) -> pd.DataFrame:
    """Protect small numbers, label and round a raw result table for people.

    Parameters
    ----------
    frame : pandas.DataFrame
        A raw tidy result (one row per group and measure) with at least one
        count column (``n``) and ``attrs["asi"]`` describing its structure.
    min_cell : int, default 5
        Smallest count that may be shown; 0 < count < min_cell is shown as
        ``"<5"`` and everything derived from it as ``".."``.
    tendency_threshold : int, default 10
        Groups with fewer clients are flagged "Endast tendenser" and get no
        p-value.
    lang : {"sv", "en"}
    labels : bool, default True
        Translate codes and column names; False keeps raw names (the values
        are still protected and formatted).
    hidden : numpy.ndarray of bool, optional
        The hidden count cells decided elsewhere (one flag per cell of
        :func:`table_cells`), e.g. by the joint protection of a release
        (:mod:`asi_lib.release`). Primary cells stay ``"<5"``; every other
        hidden cell is shown as ``".."``. Default: decided here, table by table.
    one_marker : bool, default False
        Show every suppressed count as ``".."``, small ones included (a
        release does: telling a reader which hidden cells are 1–4 pins sparse
        tables, see ``docs/methods/protection.md``).
    cells : object, optional
        :func:`table_cells` of this ``frame`` with this ``min_cell``, when
        already built (a release's joint protection built them); default
        built here.

    Returns
    -------
    pandas.DataFrame
        Strings ready to print. ``attrs["asi"]`` keeps the raw metadata plus
        ``min_cell``, ``tendency_threshold``, ``suppressed_primary``,
        ``suppressed_secondary``, ``hidden_statistics``, ``legend``.

    Raises
    ------
    AsiInputError
        No count column to protect, or a client identifier column present.

    Notes
    -----
    Primary: count cells with 0 < v < min_cell; for each (k, n) pair also k
    when 0 < n − k < min_cell. Secondary: in every additive set (groups + the
    total row, categories + their group's n, declared row sums) with exactly
    one hidden cell, the smallest non-zero visible cell is hidden too,
    repeated until no set has exactly one. All statistics of a row with a
    hidden (non-soft) count are hidden. See ``docs/methods/protection.md``.

    Examples
    --------
    >>> raw = pd.DataFrame({"sex": ["male", "female", "__total__"], "n": [40, 3, 43],
    ...                     "mean": [0.41, 0.52, 0.418]})
    >>> raw.attrs["asi"] = {"group_cols": ["sex"], "additive": True}
    >>> out = publish(raw)
    >>> out.iloc[:, :3].values.tolist()
    [['Man', '..', '..'], ['Kvinna', '<5', '..'], ['Totalt', '43', '0,42']]
    """
    c = cells if cells is not None else table_cells(frame, min_cell=min_cell, lang=lang, equations=hidden is None)
    if hidden is None:
        hidden = protect_cells(c)
    hidden = np.asarray(hidden, dtype=bool) | c.primary
    primary = c.primary
    secondary = hidden & ~primary
    frame, meta, counts, soft, stat_cols = c.frame, c.meta, c.counts, c.soft, c.stat_cols
    vals, cell_id, nrow = c.vals, c.cell_id, c.nrow

    local = _local_counts(frame, meta, counts)
    row_hide, col_hide = _statistics_hidden(frame, meta, counts, soft, local, vals, cell_id, hidden, nrow, min_cell)
    tendency = _tendency_rows(meta, counts, soft, local, vals, nrow, tendency_threshold)
    p_cols = _p_cols(stat_cols)
    # "endast tendenser": no p-value and no confidence interval either (an interval from 7 clients
    # reads as precision the row does not have)
    ci_cols = {c for c in stat_cols if isinstance(c, str) and ("ci_low" in c or "ci_high" in c)}

    # ---- format numbers
    out = {}   # column → formatted values; one DataFrame built at the end (not one insert per column)
    pct = set(_percent_cols(frame, meta, stat_cols))
    share_rows = _share_rows(frame, meta)
    row_dec = _row_measure_decimals(frame)
    marker = HIDDEN if one_marker else f"<{min_cell}"
    n_hidden_stats = 0
    for c in frame.columns:
        s = frame[c]
        if c in counts:
            txt = _fmt(vals[c], 0, lang)
            cid = cell_id[c]
            txt[secondary[cid]] = HIDDEN
            txt[primary[cid]] = marker
            out[c] = txt
        elif c in stat_cols:
            v = s.to_numpy(dtype="float64", na_value=np.nan)
            if c in p_cols:
                txt = _fmt_p(v, lang)
                txt[tendency & ~row_hide] = EMPTY
            elif c in pct:
                txt = _fmt_pct(v, lang)
            elif c in _UNITLESS or pd.api.types.is_integer_dtype(s.dtype):
                txt = _fmt(v, 2 if c in _UNITLESS else 0, lang)
            else:
                dec = _name_decimals(c)
                if dec is None:
                    dec = np.where(row_dec >= 0, row_dec, _magnitude_decimals(v)) if row_dec is not None \
                        else _magnitude_decimals(v)
                txt = _fmt(v, dec, lang)
                if share_rows.any() and c.startswith(_SHARE_FOLLOWERS):
                    txt[share_rows] = _fmt_pct(v[share_rows], lang, points=c.startswith("diff"))
            if c in ci_cols:
                txt[tendency] = EMPTY
            hide = row_hide | col_hide.get(c, False)
            n_hidden_stats += int((hide & np.isfinite(v)).sum())
            txt[hide] = HIDDEN
            out[c] = txt
        elif pd.api.types.is_bool_dtype(s.dtype):
            yes, no = ("Ja", "Nej") if lang == "sv" else ("Yes", "No")
            out[c] = np.where(s.fillna(False).to_numpy(dtype=bool), yes, no).astype(object)
        else:
            out[c] = s.astype("string").astype(object).where(s.notna(), EMPTY)
    note = TENDENCY_NOTE[lang].format(t=tendency_threshold)
    out["tendens"] = np.where(tendency, note, "").astype(object)
    out = pd.DataFrame(out, index=frame.index)
    if labels:
        out = _people(out, frame, meta, lang)

    legend = {
        "sv": f"{HIDDEN} = dolt: färre än {min_cell} klienter, eller dolt så att inget litet antal kan räknas fram; "
              f"{EMPTY} = kan inte beräknas. {note}: inga slutsatser, inget p-värde.",
        "en": f"{HIDDEN} = hidden: fewer than {min_cell} clients, or hidden so that no small count can be derived; "
              f"{EMPTY} = cannot be computed. {note}: no conclusions, no p-value.",
    }[lang] if one_marker else {
        "sv": f"{marker} = färre än {min_cell} klienter; {HIDDEN} = dolt för att skydda små tal; "
              f"{EMPTY} = kan inte beräknas. {note}: inga slutsatser, inget p-värde eller konfidensintervall.",
        "en": f"{marker} = fewer than {min_cell} clients; {HIDDEN} = hidden to protect small numbers; "
              f"{EMPTY} = cannot be computed. {note}: no conclusions, no p-value or confidence interval.",
    }[lang]
    out.attrs["asi"] = {
        **meta, "published": True, "lang": lang, "min_cell": min_cell,
        "tendency_threshold": tendency_threshold,
        "suppressed_primary": int(primary.sum()), "suppressed_secondary": int(secondary.sum()),
        "hidden_statistics": n_hidden_stats, "tendency_rows": int(tendency.sum()), "legend": legend,
    }
    return out


def _statistics_hidden(frame, meta, counts, soft, local, vals, cell_id, hidden, nrow: int, min_cell: int):
    """Which rows (``row_hide``) or columns of a row (``col_hide``: column → rows) lose their statistics."""
    row_hide = np.zeros(nrow, dtype=bool)
    col_hide: dict[str, np.ndarray] = {}
    for c in counts:
        if c in local:
            for sc in local[c]:
                col_hide[sc] = col_hide.get(sc, np.zeros(nrow, dtype=bool)) | hidden[cell_id[c]]
        elif c not in soft:
            row_hide |= hidden[cell_id[c]]
    # a share named after a count (x_n ↔ x_share, n_x ↔ share_x) is that count over the row's n:
    # it goes whenever the count goes, soft counts included (a visible 0,9 % of 444 is a 4)
    for c in counts:
        stem = c[:-2] if c.endswith("_n") else (c[2:] if c.startswith("n_") else None)
        for sc in ((f"{stem}_share", f"share_{stem}", f"{stem}_pct", f"pct_{stem}") if stem else ()):
            if sc in frame.columns and sc not in counts:
                col_hide[sc] = col_hide.get(sc, np.zeros(nrow, dtype=bool)) | hidden[cell_id[c]]
    # a share whose denominator is another row's count goes with that count:
    # {"key": col, "count": "n", "cols": [stats], "of": {row: denominator row}}
    den = meta.get("row_denominators")
    if den and den.get("key") in frame.columns and den.get("count") in cell_id:
        keyv = frame[den["key"]].astype("string").tolist()
        pos = {k: i for i, k in enumerate(keyv)}
        dh = hidden[cell_id[den["count"]]]
        for r, k in enumerate(keyv):
            d = dict(den["of"]).get(k)
            if d in pos and dh[pos[d]]:
                for sc in den.get("cols", ()):
                    col_hide[sc] = col_hide.get(sc, np.zeros(nrow, dtype=bool))
                    col_hide[sc][r] = True
    # n − n_missing < min_cell: the statistics rest on too few values
    for part, whole in _complements(counts, meta):
        if part in soft:
            valid = np.nan_to_num(vals[whole] - vals[part], nan=0.0)
            row_hide |= (valid > 0) & (valid < min_cell)

    return row_hide, col_hide


def _tendency_rows(meta, counts, soft, local, vals, nrow: int, tendency_threshold: int) -> np.ndarray:
    """Rows whose smallest base count is under the tendency threshold ("Endast tendenser")."""
    base_n = [c for c in counts if c not in soft and c not in local
              and (c == "n" or c.startswith("n_") or c.endswith("_n"))
              and not any(c == p for p, _ in _complements(counts, meta))]
    if not base_n:
        base_n = [c for c in counts if c not in soft]
    if meta.get("tendency_cols"):  # the counts a row's figures rest on, when declared
        base_n = [c for c in meta["tendency_cols"] if c in counts] or base_n
    nmin = np.nanmin(np.stack([vals[c] for c in base_n], axis=1), axis=1) if base_n else np.full(nrow, np.inf)
    # a row without any client (every base count 0) has nothing to interpret: no tendency note
    empty_row = (np.nanmax(np.stack([vals[c] for c in base_n], axis=1), axis=1) == 0) if base_n \
        else np.zeros(nrow, dtype=bool)
    nmin = np.where(np.isnan(nmin), 0, nmin)
    tendency = (nmin < tendency_threshold) & ~empty_row & bool(meta.get("tendency", True))
    return tendency


def _local_counts(frame: pd.DataFrame, meta: dict, counts: list[str]) -> dict[str, list[str]]:
    """Counts whose protection hides only their own statistics, not the row's.

    Declared as ``attrs["asi"]["local_counts"] = {count: [stat columns]}``;
    by default every part ``n_x`` of a declared row sum that has a ``share_x``
    column (e.g. the improved/unchanged/worse distribution of a change row,
    whose mean change rests on all pairs).
    """
    if "local_counts" in meta:
        return {c: [s for s in cols if s in frame.columns] for c, cols in dict(meta["local_counts"]).items()
                if c in counts}
    out = {}
    for parts in dict(meta.get("row_sums", {})).values():
        for p in parts:
            if p in counts and p.startswith("n_") and f"share_{p[2:]}" in frame.columns:
                out[p] = [f"share_{p[2:]}"]
    return out


def _people(out: pd.DataFrame, frame: pd.DataFrame, meta: dict, lang: str) -> pd.DataFrame:
    """Labels for people: codes → labels, label columns merged, technical columns dropped, headings."""
    li = 0 if lang == "sv" else 1
    cat = meta.get("category_col")
    value_vars = dict(meta.get("value_vars", {}))
    label_of = _label_columns(frame, meta)
    drop = set(_TECHNICAL) | set(meta.get("drop_cols", ())) | {c for c, k in label_of.items() if k}
    headings = {c: _heading(c, lang) for c in out.columns if isinstance(c, str)}
    # a constant grouping variable names the "group" column (change by group)
    if "group" in frame.columns and ("group_var" in frame.columns or meta.get("group_var")):
        gv = (frame["group_var"].astype("string").dropna().unique() if "group_var" in frame.columns
              else [meta["group_var"]])
        if len(gv) == 1:
            value_vars.setdefault("group", str(gv[0]))
            headings["group"] = measure_label(str(gv[0]), lang)
            drop.add("group_var")
    # a label column replaces the codes of its key
    labelled_by = {k: c for c, k in label_of.items() if k}
    for c in frame.columns:
        if c in drop or c == "tendens":
            continue
        s = frame[c]
        if pd.api.types.is_bool_dtype(s.dtype) or _is_numeric(s):
            continue
        # object arrays, None for a missing value: one Series per column costs more than the labels
        codes = s.astype("string")
        if c == (cat or "category") and "variable" in frame.columns:
            lab = codes.to_numpy(dtype=object, na_value=None).copy()
            var_codes, var_uniq = pd.factorize(frame["variable"].astype("string"))
            for i, v in enumerate(var_uniq):
                m = var_codes == i
                lab[m] = _label_array(s[m], v, lang)
        elif c == "comparison" and isinstance(meta.get("compared"), dict):
            lab = _comparison_labels(codes, meta["compared"].get("column"), lang).to_numpy(dtype=object,
                                                                                            na_value=None)
        elif c in _VALUE_LABELS:
            lab = codes.map({k: v[li] for k, v in _VALUE_LABELS[c].items()}).fillna(codes).to_numpy(
                dtype=object, na_value=None)
        elif c in ("term", "group_var"):
            lab = _label_array(s, "variable", lang)
        else:
            lab = _label_array(s, value_vars.get(c, c), lang)
        if c in labelled_by:
            own = frame[labelled_by[c]].astype("string").to_numpy(dtype=object, na_value=None)
            code = codes.to_numpy(dtype=object, na_value=None)
            use = ~pd.isna(own) & (code != TOTAL) & (own != code)
            lab = np.where(use, own, lab)
        out[c] = pd.Series(np.where(pd.isna(lab), EMPTY, lab), index=out.index, dtype=object)
    keep = [c for c in out.columns if c not in drop]
    text = [c for c in keep if c in _TEXT]
    keep = [c for c in keep if c not in _TEXT and c != "tendens"] + text + ["tendens"]
    out = out[keep]
    own = dict(meta.get("column_labels", {}))
    out.columns = [own[c][li] if c in own else headings.get(c, _heading(c, lang)) for c in out.columns]
    return out


def _comparison_labels(codes: pd.Series, var, lang: str) -> pd.Series:
    """"a vs b" comparisons → "A mot B" with code labels."""
    sep = " mot " if lang == "sv" else " vs "
    if var is None:
        return codes.str.replace(" vs ", sep, regex=False)
    mapping = {TOTAL: _TOTAL_LABEL[lang], **(_code_labels(var, lang) or {})}
    lut = {}
    for u in codes.dropna().unique():
        parts = str(u).split(" vs ")
        lut[u] = sep.join(mapping.get(p, p) for p in parts) if len(parts) == 2 else u
    return codes.map(lut)
