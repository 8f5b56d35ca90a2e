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
    ("missing: {Q: [a]}\n", "X och N"),
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
