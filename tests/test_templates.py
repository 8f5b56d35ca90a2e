"""Data templates: committed files equal fresh ones; validations match the codebook."""
import subprocess
import sys
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from openpyxl.utils import column_index_from_string

from asi_lib.codebook import TABLES, load_codebook
from asi_lib.templates import MAX_ROW, WORKBOOK_NAME, build_workbook, write_templates

CB = load_codebook()
COMMITTED = Path(__file__).resolve().parents[1] / "data_templates"


@pytest.fixture(scope="module")
def fresh(tmp_path_factory):
    out = tmp_path_factory.mktemp("tpl")
    write_templates(out)
    return out


def dv_rules(ws):
    return sorted((str(dv.sqref), dv.type, dv.operator, dv.formula1, dv.formula2, bool(dv.allow_blank))
                  for dv in ws.data_validations.dataValidation)


def sheet_content(ws):
    cells = [[c.value for c in row] for row in ws.iter_rows()]
    comments = [(c.coordinate, c.comment.text) for row in ws.iter_rows() for c in row if c.comment]
    return cells, comments, ws.sheet_state


@pytest.mark.parametrize("table", TABLES)
def test_committed_csv_equals_fresh(fresh, table):
    assert (COMMITTED / f"{table}.csv").read_text(encoding="utf-8") == (fresh / f"{table}.csv").read_text(encoding="utf-8")


def test_committed_workbook_equals_fresh(fresh):
    a = openpyxl.load_workbook(COMMITTED / WORKBOOK_NAME)
    b = openpyxl.load_workbook(fresh / WORKBOOK_NAME)
    assert a.sheetnames == b.sheetnames
    for name in a.sheetnames:
        assert sheet_content(a[name]) == sheet_content(b[name]), name
        assert dv_rules(a[name]) == dv_rules(b[name]), name


@pytest.mark.parametrize("table", TABLES)
def test_csv_header_and_examples(fresh, table):
    df = pd.read_csv(fresh / f"{table}.csv", dtype=str, keep_default_na=False)
    assert list(df.columns) == CB.column_names(table)
    assert len(df) == 3
    for col in CB.columns(table):
        vals = set(df[col.name]) - {""}
        if col.codes is not None:
            allowed = {str(k) for k in col.codes} | set(col.missing)
            assert vals <= allowed, (col.name, vals)
        elif col.type == "integer":
            for v in vals:
                assert v in col.missing or col.range[0] <= int(v) <= col.range[1], (col.name, v)
        elif col.type == "date":
            assert all(pd.Timestamp(v) for v in vals)
    assert not df["client_id"].str.fullmatch(r"\d{6,8}-?\d{4}").any()  # no personal-number-like ids


def test_csv_templates_show_x_and_n(fresh):
    text = "".join((fresh / f"{t}.csv").read_text(encoding="utf-8") for t in TABLES)
    assert ",X," in text or ",X\n" in text
    assert ",N," in text or ",N\n" in text


def test_workbook_layout():
    wb = build_workbook()
    assert wb.sheetnames == ["grund", "uppfoljning", "bortfall", "insatser", "kodbok", "koder"]
    assert wb["koder"].sheet_state == "hidden"
    for t in TABLES:
        ws = wb[t]
        assert [c.value for c in ws[1]] == CB.column_names(t)
        assert ws.max_row == 1  # header only: ingest reads data from row 2
        for c in ws[1]:
            assert c.comment is not None and CB.column(t, c.value).label_sv in c.comment.text
    kb = wb["kodbok"]
    assert [c.value for c in kb[1]][:3] == ["kolumn", "tabell", "etikett"]
    assert kb.max_row - 1 == sum(len(CB.columns(t)) for t in TABLES)
    row = next(r for r in kb.iter_rows(min_row=2, values_only=True) if r[0] == "alcohol_days")
    assert row[6] == "D1" and row[5] == "0–30" and row[8] == "X"


def _resolve_list(wb, formula):
    sheet, ref = formula.split("!")
    ref = ref.replace("$", "")
    start, end = ref.split(":")
    col = "".join(ch for ch in start if ch.isalpha())
    r0, r1 = int(start[len(col):]), int(end[len(col):])
    ci = column_index_from_string(col)
    return [wb[sheet].cell(row=r, column=ci).value for r in range(r0, r1 + 1)]


@pytest.mark.parametrize("table", TABLES)
def test_validations_follow_codebook(table):
    wb = build_workbook()
    ws = wb[table]
    by_col = {}
    for dv in ws.data_validations.dataValidation:
        for rng in str(dv.sqref).split():
            col = "".join(ch for ch in rng.split(":")[0] if ch.isalpha())
            assert rng == f"{col}2:{col}{MAX_ROW}"
            by_col[ws[f"{col}1"].value] = dv
    for col in CB.columns(table):
        dv = by_col.get(col.name)
        if col.codes is not None:
            assert dv is not None and dv.type == "list", col.name
            assert "," not in dv.formula1 and dv.formula1.startswith("koder!")  # a range, not an inline list
            listed = _resolve_list(wb, dv.formula1)
            expected = list(col.codes) + [t for t in ("X", "N") if t in col.missing]
            assert listed == expected, col.name
        elif col.type == "date":
            assert dv is not None and dv.type == "date"
        elif col.type == "integer":
            lo, hi = col.range
            if col.missing:
                assert dv.type == "custom" and f">={lo}" in dv.formula1 and f"<={hi}" in dv.formula1
                for t in col.missing:
                    assert f'="{t}"' in dv.formula1
            else:
                assert (dv.type, dv.formula1, dv.formula2) == ("whole", str(lo), str(hi))
        else:
            assert dv is None, col.name


def test_cli_template(tmp_path):
    res = subprocess.run([sys.executable, "-m", "asi_lib", "template", "--out", str(tmp_path)],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([f"{t}.csv" for t in TABLES] + [WORKBOOK_NAME])


def test_csv_templates_ingest_together_without_quarantine(tmp_path):
    """The example rows belong to the same clients: a follow-up never lacks its Grund."""
    from asi_lib.ingest import ingest

    files = [COMMITTED / f"{t}.csv" for t in ("grund", "uppfoljning", "bortfall", "insatser")]
    report = ingest(files, tmp_path / "store", key=b"template-test-key", as_of="2026-01-01")
    totals = report.totals()
    assert report.exit_code == 0, report.summary_sv()
    assert totals["quarantined"] == 0 and totals["read"] == 12
