"""The codebook is the single source of truth: check it is complete and consistent."""
import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from asi_lib.codebook import AREAS, N_CODE, TABLES, X_CODE, load_codebook, missing_kind, numeric

# Written out from the scores issue (ASI-5 item codes of every composite), not from the code.
COMPOSITE_ITEMS = (
    "M6 M7 M8 "
    "E4 E5 E11 E12 "
    "D1 D2 D26 D28 D30 D23 "
    "D3 D4 D5 D6 D7 D8 D9 D10 D11 D13 D27 D29 D31 "
    "L24 L27 L28 L29 E17 "
    "F3 F18 F19 F20 F21 F22 F23 F24 F25 F26 F30 F32 F34 "
    "P4 P5 P6 P7 P8 P9 P10 P11 P12 P13 P14"
).split()


@pytest.fixture(scope="module")
def cb():
    return load_codebook()


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "asi_lib", *args], capture_output=True, text=True, check=False)


def test_cli_codebook_json_lists_all_columns_and_asi5_codes():
    res = run_cli("codebook", "--format", "json")
    assert res.returncode == 0, res.stderr
    records = json.loads(res.stdout)
    assert {r["table"] for r in records} == set(TABLES)
    for r in records:
        for key in ("table", "name", "type", "required", "label_sv", "label_en"):
            assert key in r, (r["name"], key)
        assert r["label_sv"] and r["label_en"]
    coded = {r["asi5_code"] for r in records if r.get("asi5_code")}
    missing = set(COMPOSITE_ITEMS) - coded
    assert not missing, f"composite items without ASI-5 code: {missing}"
    # every integer column states a range or codes
    for r in records:
        if r["type"] in ("integer", "category"):
            assert "range" in r or "codes" in r, r["name"]


@pytest.mark.parametrize("table", ["grund", "uppfoljning"])
def test_each_area_has_three_self_ratings_and_an_interviewer_rating(cb, table):
    for area in AREAS:
        for kind in ("days", "troubled", "importance"):
            col = cb.column(table, cb.self_rating(area, kind, table))
            assert col.range == ((0, 30) if kind == "days" else (0, 4))
        rating = cb.column(table, f"rating_{area}")
        assert rating.range == (0, 9)


def test_tables_carry_what_the_issue_asks(cb):
    grund = set(cb.column_names("grund"))
    for name in ("client_id", "municipality", "unit", "interview_date", "sex", "birth_year", "age",
                 "main_substance", "housing", "income_source", "living_situation_3y",
                 "psychiatric_contact", "longterm_physical_illness", "lifetime_addiction_treatment",
                 "ever_injected", "lifetime_psychiatric_care"):
        assert name in grund
    assert "followup_type" in cb.column_names("uppfoljning")
    assert set(cb.codelist("followup_type")) == {"ordinary", "reactualisation"}
    bortfall_fields = set(cb.column_names("bortfall"))
    # the fields of a bortfall record (DOMAIN.md) also exist in Grund, for comparison
    shared = {"age", "sex", "housing", "living_situation_3y", "income_source",
              "psychiatric_contact", "longterm_physical_illness", "main_substance"}
    assert shared <= bortfall_fields and shared <= grund
    ins = set(cb.column_names("insatser"))
    assert {"client_id", "intervention_type", "start_date", "end_date", "completed",
            "termination_reason", "client_view", "caseworker_rating"} <= ins


def test_bortfall_reasons_cover_both_forms(cb):
    reasons = cb.codelist("bortfall_reason")
    forms = {v["form"] for v in reasons.values()}
    assert forms == {"grund", "uppfoljning"}
    assert sum(v["form"] == "grund" for v in reasons.values()) == 5
    assert sum(v["form"] == "uppfoljning" for v in reasons.values()) == 5


def test_main_substances_match_domain(cb):
    assert set(cb.codelist("substance")) == {"alcohol", "cannabis", "amphetamine", "opioids",
                                             "benzodiazepines", "cocaine", "several", "other"}


def test_x_n_and_empty_stay_distinguishable():
    s = pd.Series([3, X_CODE, N_CODE, None], dtype="Int16")
    assert missing_kind(s).tolist() == ["value", "X", "N", "empty"]
    assert np.isnan(numeric(s)[1:]).all()
    out = numeric(s, n_as=0.0)
    assert out[0] == 3.0 and np.isnan(out[1]) and out[2] == 0.0 and np.isnan(out[3])


def test_unknown_table_is_a_user_error(cb):
    from asi_lib.errors import AsiInputError
    with pytest.raises(AsiInputError):
        cb.columns("nope")


def test_cli_without_command_prints_help():
    res = run_cli()
    assert res.returncode == 0
    assert "codebook" in res.stdout


def test_describe_is_the_codebook_in_words():
    cb = load_codebook()
    d = cb.describe("grund")
    assert d["Kolumn"].tolist() == cb.column_names("grund")
    row = d.set_index("Kolumn").loc["sex"]
    assert row["Tillåtna värden"] == "male = Man; female = Kvinna" and row["Obligatorisk"] == "ja"
    assert d.set_index("Kolumn").loc["medical_problem_days", "ASI-5"] == "M6"
    en = cb.describe("grund", lang="en").set_index("Column")
    assert en.loc["sex", "Allowed values"] == "male = Male; female = Female"
