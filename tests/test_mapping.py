"""Mapping files: foreign headers and values onto the codebook; the shipped example works."""
from pathlib import Path

import pandas as pd
import pytest

from asi_lib.codebook import N_CODE, X_CODE
from asi_lib.errors import AsiInputError
from asi_lib.io import RawTable, read_file
from asi_lib.mapping import apply_mapping, load_mapping
from asi_lib.validate import validate_frame

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "data_templates" / "example_case_system_export.csv"
MAPPING = ROOT / "data_templates" / "mapping_example.yaml"


def test_shipped_example_maps_without_errors():
    m = load_mapping(MAPPING)
    raw = apply_mapping(read_file(EXAMPLE, mapping=m)[0], m)
    assert raw.table == "grund"
    assert "Handläggare" not in raw.data.columns and "handläggare" not in raw.data.columns
    typed, problems = validate_frame(raw, as_of="2024-12-31")
    assert not (problems["severity"] == "error").any(), problems.to_string()
    # hand-read from the CSV: row 2 "04-03-2024;Man;52;Alkohol;...;3 500"
    assert typed.loc[2, "interview_date"] == pd.Timestamp("2024-03-04")
    assert typed.loc[2, "sex"] == "male" and typed.loc[2, "main_substance"] == "alcohol"
    assert typed.loc[2, "alcohol_money"] == 3500
    # row 3: "Blandmissbruk", "Ej aktuellt" -> N, "Vet ej" -> X, "Ja" -> 1
    assert typed.loc[3, "main_substance"] == "several"
    assert typed.loc[3, "alcohol_money"] == N_CODE
    assert typed.loc[3, "amphetamine_days"] == X_CODE
    assert typed.loc[3, "psychiatric_contact"] == 1
    # row 4: "Cannabis" is not in the mapping: the codebook label is accepted
    assert typed.loc[4, "main_substance"] == "cannabis"
    assert typed.loc[4, "housing"] == "with_others"


def test_column_values_win_over_global_and_case_insensitive(tmp_path):
    p = tmp_path / "m.yaml"
    p.write_text("columns:\n  KÖN: {name: sex, values: {K: female, M: male}}\n  Dagar: alcohol_days\n"
                 "values: {M: '3'}\nmissing: {X: [okänt]}\n", encoding="utf-8")
    m = load_mapping(p)
    raw = RawTable("grund", "f", None, pd.DataFrame(
        {"kön": ["k", "M"], "dagar": ["OKÄNT", "m"]}, index=pd.Index([2, 3], name="row")))
    out = apply_mapping(raw, m).data
    assert out["sex"].tolist() == ["female", "male"]
    assert out["alcohol_days"].tolist() == ["X", "3"]


def test_ids_and_text_never_recoded(tmp_path):
    p = tmp_path / "m.yaml"
    p.write_text("values: {Ja: 1}\n", encoding="utf-8")
    m = load_mapping(p)
    raw = RawTable("grund", "f", None, pd.DataFrame(
        {"client_id": ["Ja"], "comment": ["Ja"], "unit": ["Ja"], "psychiatric_contact": ["ja"]},
        index=pd.Index([2], name="row")))
    out = apply_mapping(raw, m).data.iloc[0].to_dict()
    assert out == {"client_id": "Ja", "comment": "Ja", "unit": "Ja", "psychiatric_contact": "1"}


def test_date_format_unparsed_left_for_validator(tmp_path):
    p = tmp_path / "m.yaml"
    p.write_text("date_format: '%d-%m-%Y'\n", encoding="utf-8")
    m = load_mapping(p)
    raw = RawTable("grund", "f", None, pd.DataFrame(
        {"interview_date": ["31-12-2023", "31-02-2023"]}, index=pd.Index([2, 3], name="row")))
    assert apply_mapping(raw, m).data["interview_date"].tolist() == ["2023-12-31", "31-02-2023"]


@pytest.mark.parametrize("text,match", [
    ("columns: {Kön: gender}\n", "gender"),
    ("colums: {}\n", "okända nycklar"),
    ("missing: {Q: [a]}\n", "X, N och empty"),
    ("columns: {A: sex, B: sex}\n", "flera"),
    ("table: nope\n", "okänd tabell"),
    ("columns: [unclosed\n", "YAML"),
    ("- just\n- a list\n", "ordlista"),
])
def test_bad_mapping_files(tmp_path, text, match):
    p = tmp_path / "m.yaml"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(AsiInputError, match=match):
        load_mapping(p)


def test_missing_mapping_file(tmp_path):
    with pytest.raises(AsiInputError, match="kan inte läsas"):
        load_mapping(tmp_path / "none.yaml")


# ---------------------------------------------------------------- mapping files that fail loudly
def _raw(df, table="grund"):
    return RawTable(table, "f.csv", None, df.set_axis(pd.Index(range(2, 2 + len(df)), name="row")))


def test_global_value_never_turns_a_columns_own_label_into_another_code(tmp_path):
    from asi_lib.codebook import load_codebook
    col = load_codebook().column("grund", "relationship_satisfied")
    ja = [k for k, v in col.codes.items() if v["sv"] == "Ja"]
    assert ja == [2]  # the codebook's meaning of "Ja" in this column, read independently
    p = tmp_path / "m.yaml"
    p.write_text("values: {Ja: 1, Nej: 0}\n", encoding="utf-8")
    m = load_mapping(p)
    raw = _raw(pd.DataFrame({"relationship_satisfied": ["Ja", "Nej"], "psychiatric_contact": ["Ja", "Nej"]}))
    mapped = apply_mapping(raw, m)
    assert mapped.data["psychiatric_contact"].tolist() == ["1", "0"]       # yes/no: the global map applies
    assert mapped.data["relationship_satisfied"].tolist() == ["Ja", "0"]  # Ja kept for the codebook (2); Nej = 0 agrees
    df = mapped.data.assign(client_id="K1", municipality="Ale", unit="U", interview_date="2024-03-01",
                            sex="female", main_substance="alcohol")
    typed, problems = validate_frame(mapped.with_data(df), as_of="2024-12-31")
    assert typed["relationship_satisfied"].tolist()[0] == 2
    warn = problems[problems["rule"] == "mapping_value_skipped"]
    assert warn["column"].tolist() == ["relationship_satisfied"] and set(warn["severity"]) == {"warning"}
    assert "'ja' betyder 2 här, inte 1" in warn["message_sv"].iloc[0]


def test_example_mapping_has_no_conflicting_global_values():
    from asi_lib.codebook import TABLES, load_codebook
    from asi_lib.validate import _code_lookup
    cb = load_codebook()
    m = load_mapping(MAPPING)
    for t in TABLES:
        for col in cb.columns(t):
            if col.codes:
                own, _ = _code_lookup(col, cb)
                clash = {k: v for k, v in {**m.missing, **m.values}.items() if k in own and own[k] != v}
                assert not clash, (t, col.name, clash)


def test_misspelt_mapping_header_is_an_error_naming_the_closest(tmp_path):
    text = EXAMPLE.read_text(encoding="utf-8")
    p = tmp_path / "m.yaml"
    p.write_text(MAPPING.read_text(encoding="utf-8").replace("  Alkohol dagar: alcohol_days",
                                                              "  Alkohol dagr: alcohol_days"), encoding="utf-8")
    m = load_mapping(p)
    e = tmp_path / "e.csv"
    e.write_text(text, encoding="utf-8")
    with pytest.raises(AsiInputError) as exc:
        read_file(e, mapping=m)
    msg = str(exc.value)
    assert "'Alkohol dagr' (alcohol_days); närmast i filen: 'Alkohol dagar'" in msg and "e.csv" in msg
    assert "closest in the file: 'Alkohol dagar'" in msg


def test_mapping_key_for_another_tables_column_is_not_an_error(tmp_path):
    p = tmp_path / "m.yaml"
    p.write_text("columns:\n  Typ av uppföljning: followup_type\n  Kön: sex\n", encoding="utf-8")
    m = load_mapping(p)
    e = tmp_path / "g.csv"
    e.write_text("client_id,municipality,unit,interview_date,Kön,main_substance\nK1,Ale,U,2024-03-01,Man,alcohol\n",
                 encoding="utf-8")
    assert read_file(e, mapping=m)[0].table == "grund"


def test_missing_groups_and_empty(tmp_path):
    p = tmp_path / "m.yaml"
    p.write_text("missing: {X: [Vet ej], empty: ['-']}\n"
                 "missing_groups:\n  - {areas: [alcohol], X: [Okänt], empty: [Ej frågat]}\n"
                 "  - {columns: [cannabis_days], N: [Okänt]}\n", encoding="utf-8")
    m = load_mapping(p)
    raw = _raw(pd.DataFrame({"alcohol_days": ["Okänt", "Ej frågat", "-", "vet ej"],
                             "cannabis_days": ["Okänt", "Ej frågat", "-", "Vet ej"]}))
    out = apply_mapping(raw, m).data
    assert out["alcohol_days"].tolist() == ["X", "", "", "X"]
    assert out["cannabis_days"].tolist() == ["N", "Ej frågat", "", "X"]  # group of its own, global still applies


@pytest.mark.parametrize("text,match", [
    ("missing: {Q: [a]}\n", "X, N och empty"),
    ("missing_groups:\n  - {areas: [alkohol], X: [a]}\n", "okända områden alkohol"),
    ("missing_groups:\n  - {columns: [nope], X: [a]}\n", "okända kolumner nope"),
    ("missing_groups:\n  - {X: [a]}\n", "columns eller areas"),
])
def test_bad_missing_groups(tmp_path, text, match):
    p = tmp_path / "m.yaml"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(AsiInputError, match=match):
        load_mapping(p)


def test_xn_not_allowed_says_in_words_what_is_allowed():
    df = pd.DataFrame({"client_id": ["K1", "K2"], "municipality": ["Ale"] * 2, "unit": ["U"] * 2,
                       "interview_date": ["2024-03-01", "2024-03-02"], "sex": ["female"] * 2,
                       "main_substance": ["alcohol"] * 2, "rating_alcohol": ["X", "3"], "alcohol_days": ["2", "N"]})
    _, problems = validate_frame(_raw(df), as_of="2024-12-31")
    xn = problems[problems["rule"] == "xn_not_allowed"].set_index("column")
    assert "varken X eller N" in xn.loc["rating_alcohol", "message_sv"]
    assert "bara X = ej svar" in xn.loc["alcohol_days", "message_sv"]
    assert "tillåtet: -" not in " ".join(problems["message_sv"])


def test_mapping_saved_as_cp1252_is_read_and_a_mixed_one_refused(tmp_path):
    p = tmp_path / "m.yaml"
    text = "columns:\n  Kön: sex\n  Tillgång till bil: car_access\n"
    p.write_bytes(text.encode("cp1252"))
    assert load_mapping(p).target("tillgång till bil") == "car_access"
    p.write_bytes(text.encode("utf-8").replace("Kön".encode("utf-8"), "Kön".encode("cp1252")))
    with pytest.raises(AsiInputError, match="rad 2"):
        load_mapping(p)
