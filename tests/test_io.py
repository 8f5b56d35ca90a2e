"""Reading every CSV dialect and real .xlsx workbooks, all as text with user row numbers."""
import datetime as dt

import openpyxl
import pandas as pd
import pytest

from asi_lib.errors import AsiInputError
from asi_lib.io import infer_table, read_file
from asi_lib.validate import parse_dates

HEADER = ["client_id", "municipality", "unit", "interview_date", "sex", "main_substance", "alcohol_days",
          "income_employment"]
ROWS = [["K1", "Åre", "Östra öppenvården", "2024-03-01", "female", "alcohol", "12", "1 200"],
        ["K2", "Älvdalen", "Mottagningen", "20240302", "male", "cannabis", "X", "1200,50"]]


def write_csv(path, rows, *, sep=",", encoding="utf-8", header=HEADER):
    lines = [sep.join(header)] + [sep.join(f'"{v}"' if sep in v else v for v in r) for r in rows]
    path.write_bytes(("\n".join(lines) + "\n").encode(encoding))
    return path


@pytest.mark.parametrize("encoding,sep", [("utf-8", ","), ("utf-8-sig", ","), ("cp1252", ";"), ("utf-8", ";"),
                                          ("cp1252", "\t")])
def test_csv_dialects(tmp_path, encoding, sep):
    p = write_csv(tmp_path / "g.csv", ROWS, sep=sep, encoding=encoding)
    raw = read_file(p)[0]
    assert raw.table == "grund"
    assert raw.delimiter == sep
    assert list(raw.data.columns) == HEADER  # the BOM does not stick to the first header
    assert raw.data.loc[2, "municipality"] == "Åre"
    assert raw.data.loc[3, "unit"] == "Mottagningen"
    assert raw.data.loc[3, "income_employment"] == "1200,50"  # decimal comma kept as text
    assert raw.data.index.tolist() == [2, 3]  # CSV line numbers


def test_row_numbers_are_csv_lines_and_blank_lines_dropped(tmp_path):
    p = tmp_path / "g.csv"
    p.write_text(",".join(HEADER) + "\n" + ",".join(ROWS[0]).replace("1 200", "5") + "\n\n"
                 + ",".join(ROWS[1]).replace("1200,50", "7") + "\n\n", encoding="utf-8")
    raw = read_file(p)[0]
    assert raw.data.index.tolist() == [2, 4]


def test_everything_is_text(tmp_path):
    p = write_csv(tmp_path / "g.csv", [["007", "Ale", "U", "2024-03-01", "female", "alcohol", "01", "NA"]])
    d = read_file(p)[0].data
    assert d.loc[2, "client_id"] == "007" and d.loc[2, "alcohol_days"] == "01" and d.loc[2, "income_employment"] == "NA"


def test_header_case_and_spaces(tmp_path):
    p = write_csv(tmp_path / "g.csv", ROWS, header=[f" {h.upper()} " for h in HEADER])
    assert list(read_file(p)[0].data.columns) == HEADER


def test_table_inference_and_override(tmp_path):
    assert infer_table(["client_id", "municipality", "unit", "bortfall_date", "form", "bortfall_reason", "sex",
                        "main_substance"]) == "bortfall"
    assert infer_table(["client_id", "municipality", "unit", "intervention_type", "start_date"]) == "insatser"
    p = write_csv(tmp_path / "g.csv", ROWS)
    with pytest.raises(AsiInputError, match="uppfoljning"):
        read_file(p, table="uppfoljning")  # followup_type missing


def test_missing_required_columns_named(tmp_path):
    p = write_csv(tmp_path / "x.csv", [["K1", "Ale"]], header=["client_id", "municipality"])
    with pytest.raises(AsiInputError) as e:
        read_file(p)
    msg = str(e.value)
    assert "x.csv" in msg and "saknas" in msg and "missing" in msg


@pytest.mark.parametrize("content,match", [(b"", "tom"), (b"\x00\x01\x02binary\x00", "text")])
def test_unusable_csv(tmp_path, content, match):
    p = tmp_path / "bad.csv"
    p.write_bytes(content)
    with pytest.raises(AsiInputError, match=match):
        read_file(p)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(AsiInputError, match="finns inte"):
        read_file(tmp_path / "nope.csv")
    with pytest.raises(AsiInputError, match="katalog"):
        read_file(tmp_path)


def test_duplicate_column(tmp_path):
    p = write_csv(tmp_path / "d.csv", [ROWS[0] + ["3"]], header=HEADER + ["alcohol_days"])
    with pytest.raises(AsiInputError, match="mer än en gång"):
        read_file(p)


def make_workbook(path, *, extra_sheets=True, serial_date=False):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "grund"
    ws.append(HEADER)
    ws.append(["K1", "Åre", "U", dt.datetime(2024, 3, 1), "female", "alcohol", 12, 1200.0])
    ws.append(["K2", "Ale", "U", 45352 if serial_date else "2024-03-02", "male", "cannabis", "X", 99.5])
    if extra_sheets:
        for name in ("kodbok", "Instruktioner"):
            wb.create_sheet(name).append(["whatever", "else"])
        up = wb.create_sheet("Uppfoljning")
        up.append(["client_id", "municipality", "unit", "interview_date", "followup_type"])
        up.append(["K1", "Åre", "U", dt.date(2024, 9, 1), "ordinary"])
        wb.create_sheet("bortfall")  # empty template sheet: skipped
    wb.save(path)
    return path


def test_xlsx_sheets_dates_and_numbers(tmp_path):
    p = make_workbook(tmp_path / "w.xlsx", serial_date=True)
    raws = read_file(p)
    assert [(r.table, r.sheet) for r in raws] == [("grund", "grund"), ("uppfoljning", "Uppfoljning")]
    g = raws[0].data
    assert g.index.tolist() == [2, 3]  # Excel row numbers
    assert g.loc[2, "interview_date"] == "2024-03-01"
    assert g.loc[2, "alcohol_days"] == "12" and g.loc[2, "income_employment"] == "1200"
    assert g.loc[3, "income_employment"] == "99.5"
    # an Excel serial number in a date column parses to the same day (1899-12-30 + 45352 days)
    assert g.loc[3, "interview_date"] == "45352"
    assert parse_dates(g["interview_date"]).tolist() == [pd.Timestamp("2024-03-01")] * 2
    assert raws[1].data.loc[2, "interview_date"] == "2024-09-01"


def test_xlsx_sheet_and_table_options(tmp_path):
    p = make_workbook(tmp_path / "w.xlsx")
    assert [r.table for r in read_file(p, sheet="GRUND")] == ["grund"]
    assert [r.sheet for r in read_file(p, table="uppfoljning")] == ["Uppfoljning"]
    with pytest.raises(AsiInputError, match="w.xlsx"):
        read_file(p, sheet="nope")


def test_xlsx_without_table_sheet(tmp_path):
    wb = openpyxl.Workbook()
    wb.active.title = "Blad1"
    wb.active.append(["a", "b"])
    wb.create_sheet("Blad2").append(["c"])
    p = tmp_path / "w.xlsx"
    wb.save(p)
    with pytest.raises(AsiInputError) as e:
        read_file(p)
    assert "w.xlsx" in str(e.value) and "blad" in str(e.value).lower()


def test_single_foreign_sheet_inferred_from_header(tmp_path):
    p = make_workbook(tmp_path / "w.xlsx", extra_sheets=False)
    wb = openpyxl.load_workbook(p)
    wb["grund"].title = "Export 2024"
    wb.save(p)
    assert read_file(p)[0].table == "grund"


def test_broken_xlsx(tmp_path):
    p = tmp_path / "broken.xlsx"
    p.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(AsiInputError, match="broken.xlsx"):
        read_file(p)
