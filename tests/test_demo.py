"""End to end: `asi-kit demo` as a user runs it, then audit everything it wrote."""
import json
import re
import subprocess
import sys

import openpyxl
import pandas as pd
import pytest

RAW_ID = re.compile(r"K\d\d-\d{6}|DEMO-FEL-\d+|K-10\d\d")
HEX = re.compile(r"(?<![0-9A-Za-z])[0-9a-f]{16,}(?![0-9A-Za-z])")
PNR = re.compile(r"(?<!\d)(\d{6}|\d{8})[-+]?\d{4}(?!\d)")
BASE64 = re.compile(r"[A-Za-z0-9+/=\\n]{400,}")


def luhn_ok(ten: str) -> bool:  # written out here, independent of asi_lib.pseudonym
    total = 0
    for i, ch in enumerate(ten):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    res = subprocess.run([sys.executable, "-m", "asi_lib", "demo", "--out", str(out), "--clients", "800",
                          "--as-of", "2026-06-30"], capture_output=True, text=True, timeout=600)
    return out, res


def test_demo_runs_and_says_where_results_are(demo):
    out, res = demo
    assert res.returncode == 0, res.stderr
    assert "Traceback" not in res.stderr
    assert str(out / "store") in res.stdout and "tabeller" in res.stdout
    assert (out / "tabeller" / "region.xlsx").exists()
    # where the PDFs are (or why there are none)
    from asi_lib.pdf import pdf_unavailable_reason

    line = next(x for x in res.stdout.splitlines() if "rapporter som PDF" in x)
    if pdf_unavailable_reason() is None:
        pdfs = sorted((out / "rapporter").glob("*.pdf"))
        assert len(pdfs) >= 4 and str(out / "rapporter") in line and any(p.name in line for p in pdfs)
        assert f"{len(pdfs)} filer" in line
    else:
        assert "inga skrivna" in line and "Chromium" in line or "playwright" in line


def test_every_row_is_accounted_for(demo):
    out, _ = demo
    manifest = json.loads((out / "store" / "manifest.json").read_text(encoding="utf-8"))
    for ingest in manifest["ingests"]:
        for f in ingest["files"]:
            assert f["read"] == f["accepted_new"] + f["accepted_unchanged"] + f["corrected"] + f["quarantined"]
    quarantined = sum(f["quarantined"] for i in manifest["ingests"] for f in i["files"])
    assert quarantined == 7  # the seven deliberately broken rows of grund_med_fel.csv


def _cells(path):
    wb = openpyxl.load_workbook(path, read_only=True)
    for ws in wb.worksheets:
        rows = list(ws.iter_rows(values_only=True))
        yield ws.title, rows


def test_published_workbooks_show_no_small_counts(demo):
    out, _ = demo
    books = sorted((out / "tabeller").glob("*.xlsx"))
    assert len(books) >= 10
    checked = 0
    for book in books:
        for title, rows in _cells(book):
            header = rows[3]
            for j, head in enumerate(header):
                if not (isinstance(head, str) and head.startswith("Antal")):
                    continue
                for row in rows[4:]:
                    if j >= len(row) or row[j] in (None, "", "<5", "..", "–"):
                        continue
                    value = int(str(row[j]).replace("\u00a0", "").replace(" ", ""))
                    checked += 1
                    assert not 0 < value < 5, (book.name, title, head, value)
    assert checked > 500


def test_no_identifier_reaches_any_output(demo):
    out, _ = demo
    texts = []
    for path in (out / "store").glob("*.parquet"):
        texts.append(pd.read_parquet(path).astype(str).to_csv())
    texts.append((out / "store" / "manifest.json").read_text(encoding="utf-8"))
    books = [*(out / "tabeller").glob("*.xlsx"), *(out / "rapporter").glob("*.xlsx")]
    for book in books:
        for _, rows in _cells(book):
            texts.append("\n".join("\t".join("" if v is None else str(v) for v in r) for r in rows))
    # the reports as delivered (HTML) and as kept (executed notebooks); embedded images are
    # base64, where a run of digits is chance
    pages = [*(out / "rapporter").glob("*.html"), *(out / "rapporter").rglob("*.ipynb")]
    assert len(pages) >= 4 and len(books) >= 4, (pages, books)
    for page in pages:
        texts.append(BASE64.sub("<img>", page.read_text(encoding="utf-8")))
    blob = "\n".join(texts)
    assert not RAW_ID.search(blob), RAW_ID.search(blob)
    # Pseudonyms, key fingerprints and file hashes are long hex strings; a run of
    # ten decimal digits inside one is chance, not an identity number.
    blob = HEX.sub("<hex>", blob)
    assert "<hex>" in blob
    for m in PNR.finditer(blob):
        digits = re.sub(r"\D", "", m.group(0))[-10:]
        month, day = int(digits[2:4]), int(digits[4:6])
        plausible_date = 1 <= month <= 12 and (1 <= day <= 31 or 61 <= day <= 91)
        assert not (plausible_date and luhn_ok(digits)), m.group(0)
