"""Data templates generated from the codebook (``asi-kit template --out DIR``).

Writes one CSV per table (header = codebook column names, then three example
rows from the synthetic generator, with ``X``/``N`` tokens shown) and one Excel
workbook :data:`WORKBOOK_NAME` for manual registration:

* a sheet per table (``grund``, ``uppfoljning``, ``bortfall``, ``insatser``):
  row 1 = codebook names (the Swedish label, type and allowed values in a cell
  comment), data from row 2, no example rows (ingest would read them);
* a dropdown for every coded column, listing the codes (and ``X``/``N`` where
  the codebook allows them) from a range on the hidden sheet ``koder`` -
  range references avoid Excel's 255-character limit for inline lists;
* date validation for date columns; whole-number validation with the range
  for integer columns without tokens, and a custom rule "whole number in
  range or X/N" for integer columns that accept tokens;
* a ``kodbok`` sheet in Swedish (column, table, label, type, codes with
  labels, range, ASI-5 code, required, X/N allowed).
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd
from openpyxl import Workbook
from openpyxl.comments import Comment
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from .codebook import TABLES, load_codebook
from .safe import csv_frame, excel_workbook

WORKBOOK_NAME = "asi_mall.xlsx"
MAX_ROW = 5001  # validations cover rows 2..MAX_ROW
EXAMPLE_SEED = 20261122
TYPE_SV = {"id": "id (text)", "string": "text", "text": "fritext", "date": "datum (ÅÅÅÅ-MM-DD)",
           "integer": "heltal", "category": "kod"}


def _tokens(col) -> list[str]:
    return [t for t in ("X", "N") if t in col.missing]


def _is_coded(col) -> bool:
    return col.codes is not None


def example_rows(table: str, n: int = 3) -> pd.DataFrame:
    """``n`` export-shaped example rows for ``table`` from a small synthetic region.

    Rows holding an ``X`` or ``N`` token are preferred so that the template
    shows them.

    Parameters
    ----------
    table : str
        ``grund``, ``uppfoljning``, ``bortfall`` or ``insatser``.
    n : int, default 3
        Number of rows (fewer if the region has fewer candidates).

    Returns
    -------
    pandas.DataFrame
        The codebook columns of ``table`` as a case system would export them
        (:meth:`asi_lib.synth.SynthRegion.to_export_frames`: synthetic
        ``client_id``, ISO date strings, ``"X"``/``"N"`` tokens). Grund,
        Uppföljning and insatser rows belong to the same few clients, so the
        templates ingest together; index 0..n-1.

    Notes
    -----
    Always the same rows: a 200-client region generated with
    :data:`EXAMPLE_SEED`.

    Examples
    --------
    >>> ex = example_rows("grund")
    >>> len(ex), (ex == "N").any().any()
    (3, np.True_)
    """
    from .synth import generate

    frames = generate(n_clients=200, seed=EXAMPLE_SEED).to_export_frames()

    def by_tokens(frame: pd.DataFrame) -> list:
        has_x = (frame == "X").any(axis=1)
        has_n = (frame == "N").any(axis=1)
        return list(frame.index[has_x & has_n]) + list(frame.index[has_x & ~has_n]) \
            + list(frame.index[~has_x & has_n]) + list(frame.index[~has_x & ~has_n])

    # The example rows of all four tables belong to the same clients, so the
    # templates ingest together without a follow-up lacking its Grund.
    grund = frames["grund"]
    linked = set(frames["uppfoljning"]["client_id"]) & set(frames["insatser"]["client_id"])
    candidates = grund.loc[grund["client_id"].isin(linked) & ~grund["client_id"].duplicated(keep=False)]
    clients = candidates.loc[by_tokens(candidates)[:n], "client_id"].tolist()
    frame = frames[table]
    if table != "bortfall":
        frame = frame.loc[frame["client_id"].isin(clients)]
    return frame.loc[by_tokens(frame)[:n]].reset_index(drop=True)


def _codes_text(cb, col) -> str:
    parts = [f"{k} – {v['sv']}" for k, v in (col.codes or {}).items()]
    parts += [f"{t} – {cb.raw['missing_tokens'][t]['label_sv']}" for t in _tokens(col)]
    return "; ".join(parts)


def _comment(cb, col) -> str:
    lines = [col.label_sv, f"Typ: {TYPE_SV.get(col.type, col.type)}"]
    if col.codes is not None:
        lines.append("Koder: " + _codes_text(cb, col))
    elif col.range is not None:
        tok = " eller " + "/".join(_tokens(col)) if _tokens(col) else ""
        lines.append(f"Intervall: {col.range[0]}–{col.range[1]}{tok}")
    if col.required:
        lines.append("Obligatorisk")
    return "\n".join(lines)


def build_workbook() -> Workbook:
    """The Excel template as an :class:`openpyxl.Workbook` (see module docstring).

    Returns
    -------
    openpyxl.Workbook
        Sheets ``grund``, ``uppfoljning``, ``bortfall``, ``insatser`` (header
        row with a comment per column, data validation on rows 2 to
        :data:`MAX_ROW`), ``kodbok`` and the hidden ``koder``; not saved.

    Examples
    --------
    >>> wb = build_workbook()
    >>> wb.sheetnames, wb["koder"].sheet_state
    (['grund', 'uppfoljning', 'bortfall', 'insatser', 'kodbok', 'koder'], 'hidden')
    >>> print(wb["grund"]["E1"].value, wb["grund"]["E1"].comment.text, sep="\\n")
    sex
    Kön
    Typ: kod
    Koder: male – Man; female – Kvinna
    Obligatorisk
    """
    cb = load_codebook()
    wb = Workbook()
    wb.remove(wb.active)
    bold = Font(bold=True)
    fill = PatternFill("solid", fgColor="DDEBF7")
    # hidden code lists: one column per coded column name (same list in every table)
    koder = {}
    for table in TABLES:
        for col in cb.columns(table):
            if _is_coded(col) and col.name not in koder:
                koder[col.name] = list(col.codes) + _tokens(col)  # integer codes stay numbers
    for table in TABLES:
        ws = wb.create_sheet(table)
        ws.freeze_panes = "A2"
        for j, col in enumerate(cb.columns(table), start=1):
            cell = ws.cell(row=1, column=j, value=col.name)
            cell.font, cell.fill = bold, fill
            cell.comment = Comment(_comment(cb, col), "asi-kit", width=320, height=160)
            letter = get_column_letter(j)
            ws.column_dimensions[letter].width = max(12, min(32, len(col.name) + 2))
            sqref = f"{letter}2:{letter}{MAX_ROW}"
            dv = None
            if _is_coded(col):
                k = list(koder).index(col.name) + 1
                kl = get_column_letter(k)
                dv = DataValidation(type="list", formula1=f"koder!${kl}$2:${kl}${len(koder[col.name]) + 1}",
                                    allow_blank=True)
                dv.error = "Välj en kod i listan (se bladet kodbok)."
            elif col.type == "date":
                dv = DataValidation(type="date", operator="between", formula1="DATE(1900,1,1)",
                                    formula2="DATE(2100,12,31)", allow_blank=True)
                dv.error = "Ange ett datum (ÅÅÅÅ-MM-DD)."
            elif col.type == "integer" and col.range is not None:
                lo, hi = col.range
                toks = _tokens(col)
                if toks:
                    c = f"{letter}2"
                    alt = ",".join(f'{c}="{t}"' for t in toks)
                    dv = DataValidation(type="custom", allow_blank=True, formula1=(
                        f"OR(AND(ISNUMBER({c}),{c}=INT({c}),{c}>={lo},{c}<={hi}),{alt})"))
                    dv.error = f"Heltal {lo}–{hi} eller {'/'.join(toks)}."
                else:
                    dv = DataValidation(type="whole", operator="between", formula1=str(lo), formula2=str(hi),
                                        allow_blank=True)
                    dv.error = f"Heltal {lo}–{hi}."
            if dv is not None:
                dv.errorTitle = "Ogiltigt värde"
                dv.showErrorMessage = True
                dv.add(sqref)
                ws.add_data_validation(dv)
    # kodbok (Swedish)
    ws = wb.create_sheet("kodbok")
    header = ["kolumn", "tabell", "etikett", "typ", "koder", "intervall", "ASI-5-kod", "obligatorisk",
              "X/N tillåtet"]
    ws.append(header)
    for c in ws[1]:
        c.font, c.fill = bold, fill
    for table in TABLES:
        for col in cb.columns(table):
            rng = f"{col.range[0]}–{col.range[1]}" if col.range is not None else ""
            ws.append([col.name, table, col.label_sv, TYPE_SV.get(col.type, col.type), _codes_text(cb, col), rng,
                       col.asi5_code or "", "Ja" if col.required else "Nej", "/".join(_tokens(col))])
    for letter, w in zip("ABCDEFGHI", (30, 12, 50, 18, 80, 12, 10, 12, 12)):
        ws.column_dimensions[letter].width = w
    ws.freeze_panes = "A2"
    # hidden code lists
    ws = wb.create_sheet("koder")
    for j, (name, values) in enumerate(koder.items(), start=1):
        ws.cell(row=1, column=j, value=name)
        for i, v in enumerate(values, start=2):
            ws.cell(row=i, column=j, value=v)
    ws.sheet_state = "hidden"
    excel_workbook(wb)  # codebook texts are written as text, never as formulas
    return wb


def write_templates(out_dir) -> list[Path]:
    """Write ``<table>.csv`` for every table and :data:`WORKBOOK_NAME` to ``out_dir``.

    The CSV files (UTF-8, comma, ``\\n`` line ends) hold the codebook header and
    :func:`example_rows`; the workbook is :func:`build_workbook`. Existing
    files of the same names are replaced.

    Parameters
    ----------
    out_dir : str or Path
        Directory; created when missing.

    Returns
    -------
    list of pathlib.Path
        The files written.

    Examples
    --------
    >>> import tempfile
    >>> [p.name for p in write_templates(tempfile.mkdtemp())]
    ['grund.csv', 'uppfoljning.csv', 'bortfall.csv', 'insatser.csv', 'asi_mall.xlsx']
    """
    cb = load_codebook()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for table in TABLES:
        ex = example_rows(table)[cb.column_names(table)]
        p = out / f"{table}.csv"
        csv_frame(ex).to_csv(p, index=False, encoding="utf-8", lineterminator="\n")
        paths.append(p)
    p = out / WORKBOOK_NAME
    build_workbook().save(p)
    paths.append(p)
    return paths


def _cli(args) -> int:
    for p in write_templates(args.out):
        print(p)
    return 0


def register_cli(subparsers) -> None:
    """Add ``asi-kit template``."""
    from .errors import output_dir_arg

    p = subparsers.add_parser("template", help="skriv datamallar (CSV och Excel) / write data templates")
    p.add_argument("--out", required=True, type=output_dir_arg, help="katalog att skriva till (t.ex. data_templates)")
    p.set_defaults(func=_cli)
