"""Every validation rule with an input that must fail it, plus parsing and masking."""
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).parent / "fixtures" / "ingest"))
from make_rows import make_pnr, valid_rows  # noqa: E402

from asi_lib.codebook import N_CODE, X_CODE, load_codebook
from asi_lib.io import RawTable
from asi_lib.validate import (PROBLEM_COLUMNS, RULES, error_rows, parse_dates, parse_integers, validate_frame)

AS_OF = "2025-06-01"


def raw_of(table, df):
    df = df.copy()
    df.index = pd.RangeIndex(2, 2 + len(df), name="row")
    return RawTable(table, "f.csv", None, df)


def run(table, df, **kw):
    return validate_frame(raw_of(table, df), as_of=AS_OF, **kw)


def rules_at(problems, row):
    return set(problems.loc[problems["row"] == row, "rule"])


@pytest.mark.parametrize("table", ["grund", "uppfoljning", "bortfall", "insatser"])
def test_valid_rows_have_no_errors(table):
    typed, problems = run(table, valid_rows(table, 30))
    assert not (problems["severity"] == "error").any(), problems.head().to_string()
    assert list(problems.columns) == PROBLEM_COLUMNS
    # store dtypes
    dt = load_codebook().dtypes(table)
    for c in typed.columns:
        if c != "client_id":
            assert str(typed[c].dtype) == dt[c], c


# (table, column, bad value, rule) -- each must fail exactly where it is put (row 3 = 2nd data row)
CASES = [
    ("grund", "alcohol_days", "abc", "type_number"),
    ("grund", "alcohol_days", "3,5", "integer_decimal"),
    ("grund", "interview_date", "2024-02-30", "type_date"),
    ("grund", "interview_date", "1 mars", "type_date"),
    ("grund", "sex", "other", "code"),
    ("grund", "psychiatric_contact", "2", "range"),      # yes/no: codes 0-1
    ("insatser", "client_view", "0", "range"),           # 1-5 scale
    ("grund", "alcohol_days", "31", "range"),
    ("grund", "medical_troubled", "-1", "range"),
    ("grund", "rating_alcohol", "10", "range"),
    ("grund", "main_substance", "", "required"),
    ("grund", "client_id", "  ", "required"),
    ("grund", "rating_alcohol", "X", "xn_not_allowed"),   # ratings take no X
    ("grund", "alcohol_days", "N", "xn_not_allowed"),      # alcohol_days takes X only
    ("grund", "sex", "X", "xn_not_allowed"),
    ("grund", "interview_date", "2025-06-02", "future_date"),
    ("grund", "unit", "U" * 81, "text_too_long"),
    ("grund", "comment", "x" * 501, "text_too_long"),
    ("grund", "comment", "ring 19811218-9876 i morgon", "pnr_in_text"),
    ("grund", "unit", "Enhet 8112189876", "pnr_in_text"),
    ("grund", "client_id", "811218-9875", "id_checksum"),
    ("grund", "age", "17", "under_18"),
    ("grund", "income_employment", "1200,50", "money_rounded"),
    ("grund", "rating_medical", "", "rating_missing"),
    ("insatser", "end_date", "2022-01-01", "end_before_start"),
    ("bortfall", "bortfall_reason", "u_unreachable", "bortfall_reason_form"),
    # identity numbers in other spellings (en dash, NBSP, em dash, fullwidth digits)
    ("grund", "comment", "ring 811218\u20139876 i morgon", "pnr_in_text"),
    ("grund", "unit", "Enhet 811218\u00a09876", "pnr_in_text"),
    ("grund", "comment", "19811218 \u2014 9876", "pnr_in_text"),
    ("grund", "comment", "\uff18\uff11\uff11\uff12\uff11\uff18-9876", "pnr_in_text"),
    ("grund", "client_id", "811218\u20139875", "id_checksum"),
    ("grund", "client_id", "811218\u00a09875", "id_checksum"),
    # unusable spellings are errors, never empty values (fullwidth digits, implausible dates)
    ("grund", "alcohol_days", "\uff11\uff12", "type_number"),
    ("grund", "income_employment", "\uff11\uff12\uff10\uff10", "type_number"),
    ("grund", "interview_date", "\uff12\uff10\uff12\uff13-03-01", "type_date"),
    ("grund", "interview_date", "\uff12\uff10\uff12\uff13\uff10\uff13\uff10\uff11", "type_date"),
    ("grund", "interview_date", "\u0664\u0665\u0663\u0665\u0662", "type_date"),  # Arabic-Indic Excel serial
    ("grund", "interview_date", "0001-01-01", "date_too_early"),
    ("grund", "interview_date", "1989-12-31", "date_too_early"),
    ("insatser", "start_date", "1900-01-01", "date_too_early"),
]


@pytest.mark.parametrize("table,column,value,rule", CASES)
def test_rule_fails(table, column, value, rule):
    df = valid_rows(table, 4, seed=3)
    if table == "bortfall":
        df["form"] = "grund"
        df["bortfall_reason"] = "g_acute"
    df.loc[1, column] = value
    typed, problems = run(table, df)
    assert rule in rules_at(problems, 3), problems.to_string()
    hit = problems[(problems["row"] == 3) & (problems["rule"] == rule)].iloc[0]
    assert hit["severity"] == RULES[rule][0]
    assert hit["message_sv"] and hit["message_en"] and hit["file"] == "f.csv"
    assert not (problems["row"] != 3).any() or set(problems.loc[problems["row"] != 3, "severity"]) <= {"warning"}
    if RULES[rule][0] == "error":
        assert list(error_rows(problems)) == [3]


def test_every_rule_has_a_test():
    tested = {c[3] for c in CASES} | {"duplicate", "followup_without_grund", "followup_before_grund",
                                      "intox_gt_alcohol", "termination_reason_unexpected",
                                      "termination_reason_missing", "age_birth_year", "unknown_column",
                                      "conflict_stored",  # conflict_stored: tests/test_ingest.py
                                      "short_row", "truncated", "formula_without_value",  # tests/test_io.py
                                      "mapping_value_skipped"}  # tests/test_mapping.py
    assert set(RULES) == tested


def test_intoxication_days_cross_field():
    df = valid_rows("grund", 3)
    df.loc[:, "alcohol_days"] = ["5", "5", "X"]
    df.loc[:, "alcohol_intox_days"] = ["5", "6", "9"]
    _, p = run("grund", df)
    bad = p[p["rule"] == "intox_gt_alcohol"]
    assert bad["row"].tolist() == [3]  # equal is fine; X alcohol days: no comparison


def test_termination_reason_rules():
    df = valid_rows("insatser", 3)
    df["completed"] = ["1", "0", "0"]
    df["termination_reason"] = ["relapse", "", "relapse"]
    _, p = run("insatser", df)
    assert p.loc[p["rule"] == "termination_reason_unexpected", "row"].tolist() == [2]
    assert p.loc[p["rule"] == "termination_reason_missing", "row"].tolist() == [3]


def test_age_birth_year_within_one_year():
    df = valid_rows("grund", 4)
    df["interview_date"] = "2024-06-01"
    df["age"] = ["40", "40", "40", "40"]
    df["birth_year"] = ["1984", "1983", "1985", "1982"]  # 2024-1984=40 ok, 41 ok (1 year), 39 ok, 42 -> error
    _, p = run("grund", df)
    assert p.loc[p["rule"] == "age_birth_year", "row"].tolist() == [5]


def test_under_18_from_personal_number_and_birth_year():
    df = valid_rows("grund", 3)
    df["interview_date"] = "2024-06-01"
    df["age"] = ""
    df["birth_year"] = ["", "", "2008"]  # 2024-2008 = 16: certainly under 18
    df["client_id"] = [make_pnr("20070602"), make_pnr("20060601"), "K3"]  # 16 (birthday tomorrow), 18 today
    _, p = run("grund", df)
    u = p[p["rule"] == "under_18"]
    assert u["row"].tolist() == [2, 4]
    assert u.loc[u["row"] == 2, "value"].iloc[0] in ("", "***")  # the id is never shown


def test_duplicates_within_batch_same_client_any_spelling():
    df = valid_rows("grund", 4)
    df["interview_date"] = "2024-01-10"
    df["client_id"] = [make_pnr("19800101", twelve=True), make_pnr("19800101"), "K3", "K3"]
    _, p = run("grund", df)
    d = p[p["rule"] == "duplicate"]
    assert d["row"].tolist() == [3, 5]
    assert d["message_sv"].str.endswith(" 2").iloc[0] and d["message_sv"].str.endswith(" 4").iloc[1]


def test_duplicate_not_flagged_for_other_date_or_municipality():
    df = valid_rows("grund", 3)
    df["client_id"] = "17"
    df["interview_date"] = ["2024-01-10", "2024-02-10", "2024-01-10"]
    df["municipality"] = ["Ale", "Ale", "Bjuv"]
    _, p = run("grund", df)
    assert "duplicate" not in set(p["rule"])


def test_followup_rules_with_baselines():
    df = valid_rows("uppfoljning", 3)
    df["client_id"] = ["K1", "K2", "K3"]
    df["interview_date"] = ["2024-06-01", "2024-06-01", "2024-06-01"]
    keys = pd.Series(["a", "b", "c"], index=pd.RangeIndex(2, 5))
    base = pd.DataFrame({"client_key": ["a", "b", "b"],
                         "interview_date": pd.to_datetime(["2024-01-01", "2024-06-01", "2024-07-01"])})
    _, p = run("uppfoljning", df, context={"client_key": keys, "baselines": base})
    assert p.loc[p["rule"] == "followup_before_grund", "row"].tolist() == [3]
    assert p.loc[p["rule"] == "followup_without_grund", "row"].tolist() == [4]
    # without baselines the rule is skipped (e.g. the scores command)
    _, p2 = run("uppfoljning", df)
    assert not p2["rule"].str.startswith("followup").any()


def test_unknown_column_is_a_header_warning():
    df = valid_rows("grund", 2)
    df["Handläggare"] = "AB"
    typed, p = run("grund", df)
    w = p[p["rule"] == "unknown_column"]
    assert w["row"].tolist() == [1] and w["severity"].tolist() == ["warning"]
    assert "Handläggare" not in typed.columns and len(error_rows(p)) == 0


def test_masking_of_ids_text_and_pnr_values():
    df = valid_rows("grund", 3)
    df.loc[0, "client_id"] = "811218-9875"        # id_checksum: id masked
    df.loc[1, "comment"] = "x" * 501                # text masked
    df.loc[2, "alcohol_days"] = "811218-9876"       # a pnr in a number column: masked too
    _, p = run("grund", df)
    assert set(p.loc[p["rule"].isin(["id_checksum", "text_too_long", "type_number"]), "value"]) == {"***"}
    assert not p["value"].str.contains("9876").any()
    assert not p["message_sv"].str.contains("9876").any()


def test_codes_labels_and_code_dash_label_accepted():
    df = valid_rows("grund", 6)
    df["sex"] = ["female", "KVINNA", "female – Kvinna", "Man", "male - Man", " Female "]
    df["psychiatric_contact"] = ["1", "Ja", "1 – Ja", "nej", "X", "X – Ej svar (vet ej / vill ej svara)"]
    df["main_substance"] = ["Alkohol", "amfetamin / centralstimulantia", "opioids", "Cannabis", "several", "Kokain"]
    typed, p = run("grund", df)
    assert not (p["severity"] == "error").any(), p.to_string()
    assert typed["sex"].tolist() == ["female"] * 3 + ["male"] * 2 + ["female"]
    assert typed["psychiatric_contact"].tolist() == [1, 1, 1, 0, X_CODE, X_CODE]
    assert typed["main_substance"].tolist() == ["alcohol", "amphetamine", "opioids", "cannabis", "several", "cocaine"]


def test_shared_bortfall_label_resolved_by_form():
    df = valid_rows("bortfall", 2)
    df["form"] = ["grund", "uppfoljning"]
    df["bortfall_reason"] = ["Klienten avböjer", "klienten avböjer"]
    typed, p = run("bortfall", df)
    assert not (p["severity"] == "error").any(), p.to_string()
    assert typed["bortfall_reason"].tolist() == ["g_declined", "u_declined"]


def test_x_and_n_become_sentinels_and_empty_stays_na():
    df = valid_rows("grund", 3)
    df["car_access"] = ["X", "n", ""]
    typed, _ = run("grund", df)
    assert typed["car_access"].iloc[0] == X_CODE and typed["car_access"].iloc[1] == N_CODE
    assert pd.isna(typed["car_access"].iloc[2])


def test_parse_dates_swedish_conventions():
    got = parse_dates(pd.Series(["2024-03-01", "20240301", "24-03-01", "1/3/2024", "01.03.2024", "45352",
                                 "2024-03-01 00:00:00", "99-12-31", "2024-3-1", "3/1", ""]), as_of="2025-01-01")
    exp = ["2024-03-01"] * 7 + ["1999-12-31", "2024-03-01", None, None]
    assert [None if pd.isna(x) else x.strftime("%Y-%m-%d") for x in got] == exp
    # Excel serial: 1899-12-30 + 45352 days, computed with the standard library
    import datetime as dt
    assert dt.date(1899, 12, 30) + dt.timedelta(days=45352) == dt.date(2024, 3, 1)


def test_parse_integers_money():
    r = parse_integers(pd.Series(["1 200", "1200,00", "1\u00a0200 kr", "99,50", "12.5", "abc", ""]), money=True)
    assert r["value"].tolist()[:5] == [1200.0, 1200.0, 1200.0, 100.0, 12.0]  # 99.5 and 12.5 round half to even
    assert r["rounded"].tolist() == [False, False, False, True, True, False, False]
    assert r["not_number"].tolist() == [False] * 5 + [True, False]


def test_validator_on_10000_rows():
    # scale, not speed: benchmarks/bench_ingest.py measures the time
    df = valid_rows("grund", 10000)
    typed, p = run("grund", df)
    assert len(typed) == 10000
    assert p.empty or not (p["severity"] == "error").any()


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.text(max_size=12), st.text(max_size=12), st.text(max_size=12), st.text(max_size=12)),
                min_size=1, max_size=8),
       st.sampled_from(["grund", "uppfoljning", "bortfall", "insatser"]))
def test_validator_never_crashes_on_arbitrary_strings(rows, table):
    cb = load_codebook()
    names = cb.column_names(table)
    rng = np.random.default_rng(len(rows))
    cols = list(rng.choice(names, 4, replace=False))
    df = pd.DataFrame(rows, columns=cols)
    for c in cb.required(table):
        if c not in df:
            df[c] = df[cols[0]]
    typed, problems = run(table, df)
    assert len(typed) == len(df)
    assert list(problems.columns) == PROBLEM_COLUMNS
    assert set(problems["rule"]) <= set(RULES)


def test_earliest_date_is_the_codebooks_and_1990_is_accepted():
    assert load_codebook().raw["earliest_date"] == "1990-01-01"
    df = valid_rows("grund", 2)
    df["interview_date"] = ["1990-01-01", "1989-12-31"]
    df["age"], df["birth_year"] = "", ""
    _, problems = run("grund", df)
    assert rules_at(problems, 2).isdisjoint({"date_too_early", "type_date"})
    assert "date_too_early" in rules_at(problems, 3)


_FULLWIDTH = str.maketrans("0123456789", "".join(chr(0xFF10 + i) for i in range(10)))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 30), st.dates(min_value=pd.Timestamp("1990-01-01").date(),
                                    max_value=pd.Timestamp("2024-12-31").date()),
       st.sets(st.integers(0, 7), min_size=1))
def test_fuzz_unicode_digits_are_errors_never_empty(days, date, where):
    """Any ASCII digit turned fullwidth makes an integer or date cell an error, never an empty value."""
    iso = date.isoformat()
    d = "".join(ch.translate(_FULLWIDTH) if i in where else ch for i, ch in enumerate(iso))
    n = "".join(ch.translate(_FULLWIDTH) if i in where else ch for i, ch in enumerate(str(days)))
    df = valid_rows("grund", 1)
    df["interview_date"], df["alcohol_days"], df["alcohol_intox_days"] = d, n, "0"
    typed, problems = run("grund", df)
    r = rules_at(problems, 2)
    assert ("type_date" in r) == (d != iso) and ("type_number" in r) == (n != str(days))
    if d == iso:
        assert typed.loc[2, "interview_date"] == pd.Timestamp(iso)
    if n == str(days):
        assert typed.loc[2, "alcohol_days"] == days


def test_header_holding_an_identity_number_is_masked_in_problems():
    df = valid_rows("grund", 1)
    df["Klient 811218\u20139876"] = "x"
    _, problems = run("grund", df)
    hdr = problems[problems["rule"] == "unknown_column"]
    assert len(hdr) == 1
    text = " ".join(hdr[["column", "value", "message_sv", "message_en"]].astype(str).to_numpy().ravel())
    assert "9876" not in text and "***" in text
