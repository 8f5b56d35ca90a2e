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


# ---------------------------------------------------------------- damaged files are never accepted silently
def body(rows, sep=","):
    return "\n".join([sep.join(HEADER)] + [sep.join(r) for r in rows])


def test_truncated_last_value_is_a_row_error_naming_the_row(tmp_path):
    from asi_lib.validate import validate_frame
    p = tmp_path / "cut.csv"
    good = ["K1", "Ale", "U", "2024-03-01", "female", "alcohol", "12", "21200"]
    cut = ["K2", "Ale", "U", "2024-03-02", "male", "alcohol", "3", "212"]   # 21200 cut after three digits
    p.write_text(body([good, cut]), encoding="utf-8")
    raw = read_file(p)[0]
    assert raw.read_problems.index.tolist() == [3] and raw.read_problems["rule"].tolist() == ["truncated"]
    assert raw.read_problems["column"].tolist() == ["income_employment"]
    _, problems = validate_frame(raw, as_of="2025-01-01")
    err = problems[problems["severity"] == "error"]
    assert err[["row", "rule"]].values.tolist() == [[3, "truncated"]]
    assert "avkortad" in err["message_sv"].iloc[0] and "cut" in err["message_en"].iloc[0]
    # the same file with its final line break is fine
    p.write_text(body([good, cut]) + "\r\n", encoding="utf-8")
    assert read_file(p)[0].read_problems.empty


def test_short_rows_are_row_errors(tmp_path):
    from asi_lib.validate import validate_frame
    p = tmp_path / "short.csv"
    rows = [["K1", "Ale", "U", "2024-03-01", "female", "alcohol", "12", "5"],
            ["K2", "Ale", "U", "2024-03-02", "male"],                         # 5 of 8 fields
            ["K3", "Ale", "U", "2024-03-02", "male", "alcohol", "", ""],       # empty cells are not missing fields
            ["K4", "Ale", "U", "2024-03-02", "male", "alcohol", "12"]]         # 7 of 8
    p.write_text(body(rows, sep=";") + "\n\n", encoding="utf-8")
    raw = read_file(p)[0]
    rp = raw.read_problems
    assert rp.index.tolist() == [3, 5] and set(rp["rule"]) == {"short_row"}
    assert rp["column"].tolist() == ["main_substance", "income_employment"]  # first missing field
    _, problems = validate_frame(raw, as_of="2025-01-01")
    short = problems[problems["rule"] == "short_row"]
    assert short["row"].tolist() == [3, 5] and "7 fält, rubrikraden 8" in short["message_sv"].iloc[1]
    assert 4 not in set(problems.loc[problems["severity"] == "error", "row"])


def test_quoted_line_break_is_not_a_short_row(tmp_path):
    p = tmp_path / "q.csv"
    p.write_text(",".join(HEADER + ["comment"]) + "\n" + 'K1,Ale,U,2024-03-01,female,alcohol,12,5,"rad ett\nrad två"\n',
                 encoding="utf-8")
    raw = read_file(p)[0]
    assert raw.read_problems.empty and raw.data.loc[2, "comment"] == "rad ett\nrad två"


def test_one_bad_byte_in_a_utf8_file_refuses_the_file_naming_line_and_byte(tmp_path):
    text = body([["K1", "Älvstad", "U", "2024-03-01", "female", "alcohol", "12", "5"],
                 ["K2", "Älvstad", "U", "2024-03-02", "male", "alcohol", "3", "5"]]) + "\n"
    data = text.encode("utf-8")
    second = data.rindex("Älvstad".encode("utf-8"))
    bad = data[:second] + "Ä".encode("cp1252") + data[second + 2:]   # one cp1252 byte in a UTF-8 file
    p = tmp_path / "mixed.csv"
    p.write_bytes(bad)
    with pytest.raises(AsiInputError) as e:
        read_file(p)
    msg = str(e.value)
    assert "mixed.csv" in msg and "rad 3, byte 4" in msg and "line 3, byte 4" in msg and "0xC4" in msg
    # with a BOM the byte position is still the one in the file
    p.write_bytes(b"\xef\xbb\xbf" + bad)
    with pytest.raises(AsiInputError, match="rad 3, byte 4"):
        read_file(p)


def test_genuine_cp1252_file_still_read_and_undefined_bytes_refused(tmp_path):
    p = write_csv(tmp_path / "c.csv", ROWS, sep=";", encoding="cp1252")
    assert read_file(p)[0].data.loc[3, "municipality"] == "Älvdalen"
    data = p.read_bytes().replace("Älvdalen".encode("cp1252"), b"\x81lvdalen")  # 0x81: undefined in cp1252
    p.write_bytes(data)
    with pytest.raises(AsiInputError, match="varken UTF-8 eller cp1252: rad 3"):
        read_file(p)


def test_xlsx_formula_without_cached_value_is_an_error_not_empty(tmp_path):
    from asi_lib.validate import validate_frame
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "grund"
    ws.append(HEADER + ["okänd"])
    ws.append(["K1", "Ale", "U", dt.date(2024, 3, 1), "female", "alcohol", "=10+2", 1200, "=1"])  # openpyxl saves no values
    ws.append(["K2", "Ale", "U", dt.date(2024, 3, 2), "male", "alcohol", 3, "=G2*100", None])
    ws.append(["K3", "Ale", "U", dt.date(2024, 3, 3), "male", "alcohol", 4, 5, "=1"])  # formula in an unread column
    p = tmp_path / "f.xlsx"
    wb.save(p)
    raw = read_file(p)[0]
    assert raw.data.loc[2, "alcohol_days"] == ""  # what the old reader stored silently
    _, problems = validate_frame(raw, as_of="2025-01-01")
    f = problems[problems["rule"] == "formula_without_value"]
    assert f[["row", "column"]].values.tolist() == [[2, "alcohol_days"], [3, "income_employment"]]
    assert set(f["severity"]) == {"error"}
    assert 4 not in set(problems.loc[problems["severity"] == "error", "row"])


def test_xlsx_formula_with_cached_value_is_read(tmp_path):
    # a workbook saved by Excel keeps the computed value next to the formula: write the XML as Excel does
    import zipfile
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "grund"
    ws.append(HEADER)
    ws.append(["K1", "Ale", "U", "2024-03-01", "female", "alcohol", 7, 5])
    p = tmp_path / "c.xlsx"
    wb.save(p)
    q = tmp_path / "c2.xlsx"
    with zipfile.ZipFile(p) as zin, zipfile.ZipFile(q, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(b'<c r="G2" t="n"><v>7</v></c>', b'<c r="G2"><f>3+4</f><v>7</v></c>')
                assert b"<f>3+4</f>" in data
            zout.writestr(item, data)
    raw = read_file(q)[0]
    assert raw.data.loc[2, "alcohol_days"] == "7" and raw.read_problems.empty


# ---------------------------------------------------------------- fuzzing damaged files
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(min_value=1, max_value=400), st.sampled_from(["utf-8", "utf-8-sig", "cp1252"]),
       st.sampled_from([",", ";", "\t"]), st.booleans())
def test_fuzz_cut_files_are_refused_or_flagged_never_silently_shorter(tmp_path, cut, encoding, sep, bad_byte):
    """A valid export cut anywhere (and maybe hit by one foreign byte) either raises a clear
    AsiInputError or every row that lost data carries a read problem."""
    from asi_lib.validate import validate_frame
    rows = [["K1", "Åre", "Östra öppenvården", "2024-03-01", "female", "alcohol", "12", "21200"],
            ["K2", "Älvdalen", "Mottagningen", "20240302", "male", "cannabis", "X", "1200"],
            ["K3", "Ale", "Mottagningen", "2024-03-03", "male", "cannabis", "4", "3300"]]
    full = (sep.join(HEADER) + "\n" + "\n".join(sep.join(r) for r in rows) + "\n").encode(encoding)
    data = full[:min(cut, len(full))]
    if bad_byte and encoding != "cp1252" and len(data) > 60:
        data = data[:60] + b"\xe4" + data[61:]
    p = tmp_path / "fuzz.csv"
    p.write_bytes(data)
    try:
        raw = read_file(p)[0]
    except AsiInputError as exc:
        assert "fuzz.csv" in str(exc)
        return
    typed, problems = validate_frame(raw, as_of="2025-01-01")
    flagged = set(problems.loc[problems["severity"] == "error", "row"])
    text = data.decode(raw.encoding)
    for i, r in enumerate(rows):
        line = sep.join(r) + "\n"
        row = i + 2
        if row in raw.data.index and line not in text:  # this row lost something: it must not pass
            assert row in flagged, (row, raw.read_problems, problems)


def test_short_row_found_in_a_file_with_quoted_cells_too(tmp_path):
    p = tmp_path / "q.csv"
    p.write_text(",".join(HEADER) + "\n" + 'K1,"Ale, norra",U,2024-03-01,female,alcohol,12,"1,5"\n'
                 + 'K2,"Ale, norra",U\n', encoding="utf-8")
    rp = read_file(p)[0].read_problems
    assert rp.index.tolist() == [3] and rp["rule"].tolist() == ["short_row"] and rp["column"].tolist() == ["interview_date"]


# ---------------------------------------------------------------- chunks: pyarrow's reader against pandas'
def _chunk_frames(src, n):
    return [(c.data, c.read_problems) for c in src.chunks(n)]


HEAD = "client_id,municipality,unit,interview_date,sex,main_substance,comment"


@pytest.mark.parametrize("name, body, arrow", [
    ("plain", [f"A{i},Ale,Öst,2024-03-{i % 28 + 1:02d},female,alcohol,x" for i in range(23)], True),
    ("quoted", ['A1,Ale,Öst,2024-03-01,female,alcohol,"rad ett\nrad två, ""citat"""',
                'A2,"Ale",Öst,2024-03-02,male,"cannabis",ab"c', 'A3,Ale,Öst,2024-03-03,male,alcohol,""',
                ',,,,,,', 'A4,Ale, Öst ,2024-03-04,male,alcohol,"a\r\nb"'] * 3, True),
    ("short_row", ["A1,Ale,Öst,2024-03-01,female,alcohol,x", "A2,Ale,Öst", "A3,Ale,Öst,2024-03-03,male,alcohol,y"], False),
    ("blank_line", ["A1,Ale,Öst,2024-03-01,female,alcohol,x", "", "A3,Ale,Öst,2024-03-03,male,alcohol,y"], False),
    ("lone_cr", ["A1,Ale,Öst,2024-03-01,female,alcohol,x\rA2,Ale,Öst,2024-03-02,male,alcohol,y"], False),
])
@pytest.mark.parametrize("eol, bom, end", [("\n", "", "\n"), ("\r\n", "\ufeff", "\r\n"), ("\n", "", "")])
def test_arrow_chunks_equal_pandas_chunks(tmp_path, name, body, arrow, eol, bom, end):
    """The same RawTables (cells, row numbers, read problems) from pyarrow's CSV reader as from pandas', any chunk size."""
    import dataclasses

    from asi_lib.io import open_csv
    p = tmp_path / f"{name}.csv"
    p.write_bytes((bom + eol.join([HEAD, *body]) + end).encode("utf-8"))
    src = open_csv(p)
    assert src.arrow is arrow
    by_pandas = dataclasses.replace(src, arrow=False)
    for n in (1, 2, 4, 7, 1000):
        a, b = _chunk_frames(src, n), _chunk_frames(by_pandas, n)
        assert len(a) == len(b)
        for (da, pa_), (db, pb) in zip(a, b):
            pd.testing.assert_frame_equal(da, db)
            pd.testing.assert_frame_equal(pa_, pb)
    if name == "quoted":
        rows = pd.concat([d for d, _ in a])
        assert rows.loc[2, "comment"] == 'rad ett\nrad två, "citat"' and rows.loc[3, "comment"] == 'ab"c'


def test_arrow_chunks_fall_back_to_pandas_where_pyarrow_disagrees(tmp_path):
    """When pyarrow's records do not add up to the counting reader's (checked at the end), pandas reads the rest.

    The chunks already yielded are not read again; the last ones come from
    pandas, and together they equal pandas' chunks.
    """
    import dataclasses

    import numpy as np

    from asi_lib.io import open_csv
    p = tmp_path / "g.csv"
    p.write_text(HEAD + "\n" + "\n".join(f"A{i},Ale,Öst,2024-03-01,female,alcohol,x{i}" for i in range(10)) + "\n",
                 encoding="utf-8")
    src = open_csv(p)
    assert src.arrow
    wrong = dataclasses.replace(src, counts=np.append(src.counts, src.counts[0]))  # one record more than pyarrow finds
    a, b = _chunk_frames(wrong, 3), _chunk_frames(dataclasses.replace(src, arrow=False), 3)
    assert [d.index.tolist() for d, _ in a] == [[2, 3], [4, 5, 6], [7, 8, 9], [10, 11]]
    assert len(a) == len(b)
    for (da, _), (db, _) in zip(a, b):
        pd.testing.assert_frame_equal(da, db)
