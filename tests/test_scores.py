"""Composite scores, rating bands, problem definitions, completeness.

Every expected number is worked out by hand (or by a formula written out in
the test from the ASI-5/VistA weights and the kit's SEK rule), never by
calling the code under test.
"""
import math

import numpy as np
import pandas as pd
import pytest
import yaml

from asi_lib.codebook import N_CODE, X_CODE, load_codebook
from asi_lib.errors import AsiInputError
from asi_lib.scores import (
    add_scores, completeness, completeness_items, composite_scores, load_spec, problem_status,
    rating_band, self_ratings,
)

X, N = X_CODE, N_CODE
CB = load_codebook()
COL = CB.by_asi5("grund")  # ASI-5 code -> column
AREAS8 = ["medical", "employment", "alcohol", "drugs", "legal", "family", "psychiatric", "gambling"]
ALL_CODES = (
    "M6 M7 M8 E4 E5 E11 E12 D1 D2 D26 D28 D30 D23 D3 D4 D5 D6 D7 D8 D9 D10 D11 D13 D27 D29 D31 "
    "L24 L27 L28 L29 E17 F3 F18 F19 F20 F21 F22 F23 F24 F25 F26 F30 F32 F34 "
    "P4 P5 P6 P7 P8 P9 P10 P11 P12 P13 P14 G1 G2 G3 G4 G5"
).split()
MONEY = {"E12", "D23", "E17", "G2"}
TOL = 2e-6  # float32 arithmetic


def frame(*rows):
    """Rows given as {ASI-5 code: stored value}; unspecified items are 0; None = empty cell."""
    data = {}
    for code in ALL_CODES:
        vals = [r.get(code, 0) for r in rows]
        data[COL[code]] = pd.array(vals, dtype="Int32" if code in MONEY else "Int16")
    return pd.DataFrame(data)


def score(area, *rows, **kw):
    return composite_scores(frame(*rows), areas=[area], **kw)[f"composite_{area}"].tolist()


def close(got, want):
    assert len(got) == len(want)
    for g, w in zip(got, want):
        if w is None or (isinstance(w, float) and math.isnan(w)):
            assert math.isnan(g), (got, want)
        else:
            assert abs(g - w) < TOL, (got, want)


# ------------------------------------------------------------------ all zeros, maxima
def test_all_zeros_by_hand():
    s = composite_scores(frame({}))
    # employment is reversed (1 - ...), family F3 stored 0 = "no" -> recoded 2 -> 2/10
    want = {"medical": 0, "employment": 1, "alcohol": 0, "drugs": 0, "legal": 0,
            "family": 0.2, "psychiatric": 0, "gambling": 0}
    assert list(s.columns) == [f"composite_{a}" for a in AREAS8]
    for a, w in want.items():
        close(s[f"composite_{a}"].tolist(), [w])


def test_maxima_equal_one_and_best_employment_is_zero():
    row = {"M6": 30, "M7": 4, "M8": 4,
           "E4": 1, "E5": 1, "E11": 30, "E12": 2_000_000,
           "D1": 30, "D2": 30, "D26": 30, "D28": 4, "D30": 4, "D23": 500_000,
           **{c: 30 for c in "D3 D4 D5 D6 D7 D8 D9 D10 D11 D13 D27".split()}, "D29": 4, "D31": 4,
           "L24": 1, "L27": 30, "L28": 4, "L29": 4, "E17": 2_000_000,
           "F3": 0, "F30": 30, "F32": 4, "F34": 4, **{f"F{i}": 1 for i in range(18, 27)},
           **{f"P{i}": 1 for i in range(4, 12)}, "P12": 30, "P13": 4, "P14": 4,
           "G1": 30, "G3": 30, "G4": 4, "G5": 4, "G2": 2_000_000}
    s = composite_scores(frame(row)).iloc[0]
    for a in AREAS8:
        want = 0.0 if a == "employment" else 1.0  # employment: 1 - (1/4+1/4+30/120+9/36) = 0
        assert abs(s[f"composite_{a}"] - want) < TOL, a


# ------------------------------------------------------------------ each area by hand
def test_medical_by_hand():
    # 9/90 + 0/12 + 3/12 = 0.1 + 0.25
    close(score("medical", {"M6": 9, "M7": 0, "M8": 3}, {"M6": X}, {"M8": None}, {"M6": N}),
          [0.35, None, None, None])


def test_employment_money_edges_by_hand():
    base = {"E4": 1, "E5": 0, "E11": 12}  # 1/4 + 0/4 + 12/120 = 0.35 before money
    rows = [
        {**base, "E12": 0},         # 0 kr -> term 0                         -> 0.65
        {**base, "E12": 1},         # 1 kr -> 0.1 "USD" <= 1 -> term 0        -> 0.65
        {**base, "E12": 10},        # 10 kr -> 1 -> ln 1 = 0                  -> 0.65
        {**base, "E12": 20_000},    # 2000 -> ln 7.6009024595 / 36 = 0.2111361794 -> 0.4388638206
        {**base, "E12": 1_000_000},  # 100000 -> ln 11.51 capped at 9 -> 0.25 -> 0.40
        {**base, "E12": N},         # N -> 0                                  -> 0.65
        {**base, "E12": X},         # X -> missing
        {**base, "E12": None},      # empty -> missing
        {"E4": 0, "E5": N, "E11": 0, "E12": 0},  # car access N -> 0         -> 1.0
        {"E4": N},                  # N not "no problem" for E4 -> missing
    ]
    close(score("employment", *rows),
          [0.65, 0.65, 0.65, 0.4388638206, 0.40, 0.65, None, None, 1.0, None])


def test_alcohol_by_hand():
    base = {"D1": 10, "D2": 5, "D26": 3, "D28": 2, "D30": 1}  # 18/180 + 3/24 = 0.225
    rows = [
        {**base, "D23": 1500},     # 150 -> ln 5.0106352941 / 44 = 0.1138780749 -> 0.3388780749
        {**base, "D23": 0},        # 0.225
        {**base, "D23": 1},        # 0.225
        {**base, "D23": 20_000},   # ln 2000 = 7.60 > 44/6 -> 1/6 -> 0.3916666667
        {**base, "D23": 500_000},  # capped -> 0.3916666667
        {**base, "D23": N},        # 0.225
        {**base, "D23": X},        # missing
        {**base, "D2": None},      # missing
    ]
    close(score("alcohol", *rows),
          [0.3388780749, 0.225, 0.225, 0.3916666667, 0.3916666667, 0.225, None, None])


def test_drugs_by_hand():
    # (5 + 20 + 15)/390 + (2 + 3)/52 = 0.1025641026 + 0.0961538462
    row = {"D3": 5, "D10": 20, "D27": 15, "D29": 2, "D31": 3}
    close(score("drugs", row, {**row, "D13": X}, {**row, "D31": N}), [0.1987179487, None, None])


def test_legal_by_hand():
    base = {"L24": 1, "L27": 3, "L28": 2, "L29": 1}  # 0.2 + 0.02 + 0.15 = 0.37
    rows = [
        {**base, "E17": 5000},       # 500 -> ln 6.2146080984 / 46 = 0.1351001761 -> 0.5051001761
        {**base, "E17": 2_000_000},  # 200000 -> ln 12.2 capped 9.2 -> 0.2 -> 0.57
        {**base, "E17": N},          # N -> 0 -> 0.37
        {**base, "E17": X},          # missing
    ]
    close(score("legal", *rows), [0.5051001761, 0.57, 0.37, None])


def test_family_f3_recoding_and_r_count_with_n():
    # F18 yes, F21 yes, F20 no, F19 and F22..F26 N (no such person = no problem): R = 2/9, R/5 = 2/45
    rel = {"F18": 1, "F21": 1, "F20": 0, "F19": N, **{f"F{i}": N for i in range(22, 27)}}
    base = {"F30": 15, "F32": 2, "F34": 1, **rel}  # 15/150 + 3/20 + 2/45 = 0.1 + 0.15 + 0.0444444444
    rows = [
        {**base, "F3": 0},   # no -> 2 -> 0.2  -> 0.4944444444
        {**base, "F3": 1},   # indifferent -> 1 -> 0.1 -> 0.3944444444
        {**base, "F3": 2},   # yes -> 0 -> 0.2944444444
        {**base, "F3": X},   # missing
        {**base, "F3": N},   # missing (N is not "no problem" for F3)
        {**base, "F3": 2, "F24": X},  # one relation X -> missing
        {**base, "F3": 2, **{f"F{i}": N for i in range(18, 27)}},  # R = 0 -> 0.25
    ]
    close(score("family", *rows),
          [0.4944444444, 0.3944444444, 0.2944444444, None, None, None, 0.25])


def test_psychiatric_by_hand():
    # 4 yes among P4..P11 -> 4/11, 10/330, (2+3)/44
    row = {"P4": 1, "P5": 1, "P9": 1, "P11": 1, "P12": 10, "P13": 2, "P14": 3}
    want = 4 / 11 + 10 / 330 + 5 / 44  # 0.3636363636 + 0.0303030303 + 0.1136363636
    close(score("psychiatric", row, {**row, "P10": X}), [0.5075757576, None])
    assert abs(want - 0.5075757576) < 1e-9


def test_gambling_by_hand():
    row = {"G1": 10, "G3": 5, "G4": 2, "G5": 1, "G2": 3000}
    # 15/120 + 3/24 + ln(300)/44 = 0.125 + 0.125 + 5.7037824747/44 (0.1296314199)
    all_n = {c: N for c in ("G1", "G2", "G3", "G4", "G5")}
    close(score("gambling", row, all_n, {**row, "G2": X}, {**row, "G4": None}),
          [0.3796314199, 0.0, None, None])


# ------------------------------------------------------------------ the min-share rule
def test_min_share_rule_by_hand():
    alc = {"D1": 10, "D2": 5, "D26": 3, "D28": 2, "D30": 1, "D23": X}
    # present max = 90/180 + 8/24 = 0.8333 of 1 >= 0.75 -> 0.225 / 0.8333333 = 0.27
    close(score("alcohol", alc, min_share=0.75), [0.27])
    close(score("alcohol", alc, min_share=0.9), [None])   # 0.833 < 0.9
    close(score("alcohol", alc), [None])                  # default: all items needed
    # drugs: D29, D31 X -> present 330/390 = 0.846 -> 40/390 / (330/390) = 40/330
    drg = {"D3": 5, "D10": 20, "D27": 15, "D29": X, "D31": X}
    close(score("drugs", drg, min_share=0.75), [40 / 330])
    # medical: M7, M8 X -> present 1/3 < 0.75
    close(score("medical", {"M6": 9, "M7": X, "M8": X}, min_share=0.75), [None])
    # employment (reversed): E12 X -> present 0.75 -> S = 0.35 / 0.75, score 1 - 0.4666667
    close(score("employment", {"E4": 1, "E5": 0, "E11": 12, "E12": X}, min_share=0.75), [1 - 0.35 / 0.75])
    # a complete row is unchanged by the rule
    close(score("medical", {"M6": 9, "M8": 3}, min_share=0.75), [0.35])
    # per area via a dict: only alcohol relaxed
    both = composite_scores(frame({**alc, "M6": 9, "M7": X, "M8": X}), areas=["alcohol", "medical"],
                            min_share={"alcohol": 0.75})
    close(both.iloc[0].tolist(), [0.27, float("nan")])


def test_min_share_from_a_spec_file(tmp_path):
    raw = yaml.safe_load(open(_spec_path(), encoding="utf-8"))
    raw["min_share"] = 0.75
    p = tmp_path / "spec.yaml"
    p.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    spec = load_spec(p)
    alc = {"D1": 10, "D2": 5, "D26": 3, "D28": 2, "D30": 1, "D23": X}
    close(composite_scores(frame(alc), spec=spec, areas=["alcohol"])["composite_alcohol"].tolist(), [0.27])


def _spec_path():
    from importlib import resources
    return str(resources.files("asi_lib").joinpath("data/composite_spec.yaml"))


# ------------------------------------------------------------------ robustness
def test_scores_stay_within_0_1_for_random_valid_and_extreme_values():
    rng = np.random.default_rng(3)
    n = 5000
    data = {}
    for code in ALL_CODES:
        col = CB.column("grund", COL[code])
        lo, hi = col.range
        vals = rng.integers(int(lo), int(hi) + 1, n)
        if code in MONEY:  # include the extremes 0, 1, at the cap and the range maximum
            vals[: 4] = [0, 1, 15_272, hi]
        sentinel = rng.random(n)
        if "X" in col.missing:
            vals[sentinel < 0.05] = X
        if "N" in col.missing:
            vals[(sentinel > 0.9)] = N
        data[COL[code]] = pd.array(vals, dtype="Int32" if code in MONEY else "Int16")
    s = composite_scores(pd.DataFrame(data)).to_numpy()
    ok = s[~np.isnan(s)]
    assert ok.size > n  # plenty computable
    assert ok.min() >= 0.0 and ok.max() <= 1.0


def test_alcohol_formula_written_out_on_random_data_and_small_chunks():
    rng = np.random.default_rng(11)
    n = 3001
    d1, d2, d26 = (rng.integers(0, 31, n) for _ in range(3))
    d28, d30 = (rng.integers(0, 5, n) for _ in range(2))
    d23 = np.where(rng.random(n) < 0.3, 0, rng.integers(0, 500_001, n))
    usd = d23 / 10
    ln = np.where(usd > 1, np.minimum(np.log(np.where(usd > 1, usd, 1)), 44 / 6), 0.0)
    want = (d1 + d2 + d26) / 180 + (d28 + d30) / 24 + ln / 44
    df = pd.DataFrame({COL["D1"]: d1, COL["D2"]: d2, COL["D26"]: d26, COL["D28"]: d28,
                       COL["D30"]: d30, COL["D23"]: d23})  # plain numpy int64 columns
    got = composite_scores(df, areas=["alcohol"], chunk_rows=97)["composite_alcohol"].to_numpy()
    assert np.max(np.abs(got - want)) < TOL


def test_float_and_string_inputs_and_index_alignment():
    df = pd.DataFrame({COL["M6"]: [9.0, np.nan, 2.5, -8.0], COL["M7"]: ["0", "1", "1", "1"],
                       COL["M8"]: [3, 3, 3, 3]}, index=[10, 20, 30, 40])
    s = composite_scores(df, areas=["medical"])
    assert list(s.index) == [10, 20, 30, 40]
    close(s["composite_medical"].tolist(), [0.35, None, None, None])  # 2.5 days is not a valid value


def test_arrow_backed_and_wider_integer_columns():
    df = pd.DataFrame({COL["M6"]: pd.array([9, None, -8], dtype="int16[pyarrow]"),
                       COL["M7"]: pd.array([0, 1, 1], dtype="int64[pyarrow]"),
                       COL["M8"]: pd.array([3, 3, 3], dtype="Int64")})
    close(composite_scores(df, areas=["medical"])["composite_medical"].tolist(), [0.35, None, None])


def test_out_of_range_is_missing():
    close(score("medical", {"M6": 31}, {"M7": 5}), [None, None])


def test_add_scores_keeps_input_and_replaces_old_scores():
    df = frame({"M6": 9, "M8": 3})
    df["composite_medical"] = 99.0
    out = add_scores(df)
    assert out.shape[1] == df.shape[1] + 7
    close(out["composite_medical"].tolist(), [0.35])
    assert "composite_medical" in df and df["composite_medical"].iloc[0] == 99.0  # input untouched


def test_missing_columns_and_bad_spec_raise(tmp_path):
    with pytest.raises(AsiInputError):
        composite_scores(pd.DataFrame({"x": [1]}))
    with pytest.raises(AsiInputError):
        composite_scores(frame({}), min_share=1.5)
    bad = {"areas": {"medical": {"terms": [{"items": ["M6"], "divisor": 10}]}}}  # 30/10 = 3 > 1
    p = tmp_path / "bad.yaml"
    p.write_text(yaml.safe_dump(bad))
    with pytest.raises(AsiInputError, match="1"):
        load_spec(p)
    p.write_text(yaml.safe_dump({"areas": {"medical": {"terms": [{"items": ["Q99"], "divisor": 90}]}}}))
    with pytest.raises(AsiInputError, match="Q99"):
        load_spec(p)


def test_spec_weights_match_the_vista_formulas():
    # Divisors written out from YSASCSB.m / YSASCSC.m, not read from the spec
    want = {
        "medical": {"M6": 90, "M7": 12, "M8": 12},
        "employment": {"E4": 4, "E5": 4, "E11": 120, "E12": 36},
        "alcohol": {"D1": 180, "D2": 180, "D26": 180, "D28": 24, "D30": 24, "D23": 44},
        "drugs": {**{c: 390 for c in "D3 D4 D5 D6 D7 D8 D9 D10 D11 D13 D27".split()}, "D29": 52, "D31": 52},
        "legal": {"L24": 5, "L27": 150, "L28": 20, "L29": 20, "E17": 46},
        "family": {"F3": 10, "F30": 150, "F32": 20, "F34": 20, **{f"F{i}": 45 for i in range(18, 27)}},
        "psychiatric": {**{f"P{i}": 11 for i in range(4, 12)}, "P12": 330, "P13": 44, "P14": 44},
    }
    w = load_spec().weight_matrix()
    for area, items in want.items():
        got = {r.split(":")[1]: 1 / v for r, v in w[area].items() if v > 0}
        assert got.keys() == {COL[c] for c in items}, area
        for code, div in items.items():
            assert abs(got[COL[code]] - div) < 1e-9, (area, code)


# ------------------------------------------------------------------ ratings and problems
def test_rating_bands():
    s = rating_band(pd.Series(pd.array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, None, N, 10], dtype="Int16")))
    assert s.cat.ordered
    assert list(s.cat.categories) == [
        "Inget problem, ingen hjälp behövs", "Lätt problem, hjälp behövs troligen inte",
        "Måttligt problem, viss hjälp indikerad", "Betydande problem, hjälp behövs",
        "Extremt problem, hjälp absolut nödvändig"]
    assert s.cat.codes.tolist() == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, -1, -1, -1]
    en = rating_band([6], lang="en")
    assert en.iloc[0] == "Considerable problem, help needed"


def test_problem_status_defaults_thresholds_and_n():
    df = pd.DataFrame({"rating_alcohol": pd.array([0, 1, 2, 3, 4, 5, 9, None], dtype="Int16"),
                       "rating_gambling": pd.array([N, 0, 8, None, N, 4, 1, 2], dtype="Int16")})
    st = problem_status(df)
    assert st["has_problem_alcohol"].tolist() == [False, False, False, False, True, True, True, pd.NA]
    assert st["problem_free_alcohol"].tolist() == [True, True, False, False, False, False, False, pd.NA]
    assert st["has_problem_gambling"].tolist() == [False, False, True, pd.NA, False, True, False, False]
    assert st["problem_free_gambling"].tolist() == [True, True, False, pd.NA, True, False, True, False]
    assert str(st["has_problem_alcohol"].dtype) == "boolean"
    st2 = problem_status(df, problem_min=6, free_max=3, n_as_no_problem=False)
    assert st2["has_problem_alcohol"].tolist() == [False] * 6 + [True, pd.NA]
    assert st2["problem_free_alcohol"].tolist() == [True] * 4 + [False] * 3 + [pd.NA]
    assert st2["has_problem_gambling"].tolist()[0] is pd.NA
    with pytest.raises(AsiInputError):
        problem_status(df, problem_min=1, free_max=1)


def test_self_ratings_from_codebook_roles():
    df = frame({"M6": 12, "M7": X, "M8": 4, "G3": N, "G4": N, "G5": None, "D26": 7})
    s = self_ratings(df)
    assert s.loc[0, "self_days_medical"] == 12
    assert math.isnan(s.loc[0, "self_troubled_medical"])
    assert s.loc[0, "self_importance_medical"] == 4
    assert s.loc[0, "self_days_alcohol"] == 7
    assert s.loc[0, "self_days_gambling"] == 0 and s.loc[0, "self_troubled_gambling"] == 0
    assert math.isnan(s.loc[0, "self_importance_gambling"])
    # employment self-ratings (E19-E21) are not composite items, so not in this frame: skipped
    assert s.shape[1] == 21 and "self_days_employment" not in s


# ------------------------------------------------------------------ completeness
def test_completeness_counts_and_why():
    rows = [
        {"D23": X},                  # alcohol missing: X on money
        {"D23": X, "D1": None},      # alcohol missing: X money + empty D1
        {"D1": 45},                  # alcohol missing: invalid value
        {},                          # complete
    ]
    df = frame(*rows)
    df["rating_alcohol"] = pd.array([3, None, 5, None], dtype="Int16")
    df["client_pid"] = ["a", "a", "b", "c"]
    c = completeness(df, lang="en").set_index("area")
    r = c.loc["alcohol"]
    assert (r["interviews"], r["n"]) == (4, 3)
    assert (r["rating_missing_n"], r["rating_missing_share"]) == (2, 0.5)
    assert (r["composite_missing_n"], r["composite_missing_share"]) == (3, 0.75)
    assert (r["missing_x_n"], r["missing_empty_n"], r["missing_invalid_n"]) == (2, 1, 1)
    assert r["why"] == "alcohol_days (2: empty 1, invalid 1); alcohol_money (2: X 2)"  # ties: spec order
    # areas without a rating column count every interview as missing the rating
    assert c.loc["medical", "rating_missing_n"] == 4 and c.loc["medical", "composite_missing_n"] == 0
    assert c.loc["medical", "why"] == ""
    items = completeness_items(df).set_index("item")
    assert items.loc["alcohol_money", "n_x"] == 2 and items.loc["alcohol_days", "n_missing"] == 2


def test_completeness_why_never_published():
    """``why`` carries raw per-item counts inside a string, out of the protection layer's reach."""
    from asi_lib.publish import publish
    df = frame({"D23": X}, {"D23": X}, {}, {}, {}, {}, {})
    df["client_pid"] = list("abcdefg")
    raw = completeness(df, lang="en")
    assert raw.set_index("area").loc["alcohol", "why"] == "alcohol_money (2: X 2)"  # the analyst sees it
    pub = publish(raw, lang="en")
    assert not any("alcohol_money" in str(v) or "(2:" in str(v) for v in pub.to_numpy().ravel())


def test_completeness_of_a_dataset_both_tables():
    from asi_lib.dataset import Dataset
    g = frame({}, {"M6": X})
    u = frame({"M6": None})
    empty = pd.DataFrame()
    ds = Dataset(grund=g, uppfoljning=u, bortfall=empty, insatser=empty)
    c = completeness(ds, table=None)
    med = c[c["area"] == "medical"].set_index("table")
    assert med.loc["grund", "composite_missing_n"] == 1 and med.loc["uppfoljning", "composite_missing_n"] == 1
    assert len(c) == 16
    assert "tomt" in med.loc["uppfoljning", "why"]


# ------------------------------------------------------------------ CLI
def _write_template_csv(path, rows, *, table="grund"):
    import csv
    cols = CB.column_names(table)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=cols, delimiter=";")
        w.writeheader()
        for r in rows:
            full = {c: "" for c in cols}
            full.update(municipality="Ale", unit="U1", interview_date="2024-03-01", sex="male",
                        main_substance="alcohol")
            if table == "uppfoljning":
                full.update(followup_type="ordinary")
            for c in CB.columns(table):
                if c.asi5_code:
                    full[c.name] = "0"
            full.update(r)
            w.writerow(full)


def test_cli_scores_in_input_order_pseudonymised_with_problem_rows(tmp_path):
    from asi_lib.cli import main
    from asi_lib.pseudonym import load_key
    key = tmp_path / "k.key"
    load_key(key)
    src = tmp_path / "g.csv"
    _write_template_csv(src, [
        {"client_id": "198501011236", "alcohol_days": "10", "alcohol_intox_days": "5", "alcohol_problem_days": "3",
         "alcohol_troubled": "2", "alcohol_importance": "1", "alcohol_money": "1500"},
        {"client_id": "A-17", "interview_date": "2024-13-01"},   # error row: listed, empty scores
        {"client_id": "A-18", "alcohol_money": "X", "relationship_satisfied": "2"},
    ])
    out = tmp_path / "s.csv"
    rc = main(["scores", str(src), "--out", str(out), "--key", str(key), "--as-of", "2024-12-31"])
    assert rc == 1  # one row with errors
    text = out.read_text(encoding="utf-8")
    assert "198501011236" not in text and "A-17" not in text and "A-18" not in text
    res = pd.read_csv(out, dtype={"problem": str})
    assert res["row"].tolist() == [2, 3, 4]
    assert list(res.columns) == (["row", "client_pid", "interview_date"]
                                 + [f"composite_{a}" for a in AREAS8] + ["problem"])
    assert res["client_pid"].str.fullmatch("[0-9a-f]{64}").all()
    # 18/180 + 3/24 + ln(150)/44, by hand = 0.3388780749
    assert abs(res.loc[0, "composite_alcohol"] - 0.338878) < 1e-6
    assert res.loc[1, ["composite_medical", "composite_alcohol"]].isna().all()
    assert res.loc[1, "problem"] == "interview_date: type_date"
    assert math.isnan(res.loc[2, "composite_alcohol"]) and res.loc[2, "composite_family"] == 0.0
    assert res["problem"].isna().tolist() == [True, False, True]


def test_cli_follow_up_file_exit_0_and_unusable_input_exit_2(tmp_path):
    import subprocess
    import sys
    from asi_lib.pseudonym import load_key
    key = tmp_path / "k.key"
    load_key(key)
    src = tmp_path / "u.csv"
    _write_template_csv(src, [{"client_id": "A-1", "medical_problem_days": "9", "medical_importance": "3"}],
                        table="uppfoljning")
    out = tmp_path / "s.csv"
    res = subprocess.run([sys.executable, "-m", "asi_lib", "scores", str(src), "--out", str(out), "--key", str(key),
                          "--table", "uppfoljning", "--as-of", "2024-12-31"], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert abs(pd.read_csv(out)["composite_medical"].iloc[0] - 0.35) < 1e-6
    res = subprocess.run([sys.executable, "-m", "asi_lib", "scores", str(tmp_path / "nope.csv"), "--out", str(out),
                          "--key", str(key)], capture_output=True, text=True)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    res = subprocess.run([sys.executable, "-m", "asi_lib", "scores", str(src), "--out", str(out),
                          "--key", str(tmp_path / "missing.key")], capture_output=True, text=True)
    assert res.returncode == 2 and "Traceback" not in res.stderr


def test_composites_equal_in_exact_arithmetic_are_stored_equal():
    # issue 13: float32 made equal medical scores distinct (e.g. 30/90 + 3/12 vs 3/12 + 4/12 = 105/180)
    from fractions import Fraction

    rows = [(d, t, i) for d in range(31) for t in range(5) for i in range(5)]
    df = pd.DataFrame(rows, columns=["medical_problem_days", "medical_troubled", "medical_importance"])
    c = composite_scores(df, areas=["medical"])["composite_medical"]
    assert c.dtype == np.float64
    exact = [Fraction(d, 90) + Fraction(t, 12) + Fraction(i, 12) for d, t, i in rows]
    by_exact = pd.Series(c.to_numpy()).groupby([float(e) for e in exact]).nunique()
    assert (by_exact == 1).all()
    assert np.allclose(c.to_numpy(), [float(e) for e in exact], atol=1e-12, rtol=0)
