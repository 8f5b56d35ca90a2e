"""End-to-end ingest: accounting, idempotence, conflicts, corrections, forget, keys, CLI, privacy."""
import json
import re
import subprocess
import sys
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).parent / "fixtures" / "ingest"))
from make_rows import luhn_digit, make_pnr, valid_rows  # noqa: E402

from asi_lib.cli import main
from asi_lib.errors import AsiInputError
from asi_lib.ingest import ingest
from asi_lib.store import Store, load_store

AS_OF = "2025-06-01"


@pytest.fixture
def env(tmp_path):
    return {"store": tmp_path / "store", "key": tmp_path / "keys" / "k.key", "dir": tmp_path}


def grund_with_pnrs(n=6):
    df = valid_rows("grund", n, seed=7)
    df["client_id"] = [make_pnr(f"19{60 + i:02d}0{1 + i % 9}1{i % 9}", nnn=f"{100 + i}") for i in range(n)]
    df["age"] = ""
    df["birth_year"] = ""
    return df


def put(path, df, sep=","):
    df.to_csv(path, index=False, sep=sep)
    return path


def run_ingest(env, *paths, **kw):
    return ingest(list(paths), env["store"], key_path=env["key"], as_of=AS_OF, **kw)


def check_accounting(report):
    for f in report.files:
        if f.status == "ok":
            assert f.read == f.accepted_new + f.accepted_unchanged + f.corrected + f.quarantined


def test_first_ingest_idempotent_reingest_and_newer_export(env):
    g = grund_with_pnrs(6)
    p = put(env["dir"] / "g.csv", g.iloc[:4])
    r1 = run_ingest(env, p)
    check_accounting(r1)
    assert (r1.files[0].accepted_new, r1.exit_code) == (4, 0)
    before = (env["store"] / "grund.parquet").read_bytes()
    r2 = run_ingest(env, p)
    assert (r2.files[0].accepted_new, r2.files[0].accepted_unchanged, r2.exit_code) == (0, 4, 0)
    assert (env["store"] / "grund.parquet").read_bytes() == before  # nothing rewritten
    # a newer export: the same 4 (one written with the 12-digit number) + 2 new
    g2 = g.copy()
    g2.loc[0, "client_id"] = "19" + g2.loc[0, "client_id"].replace("-", "")
    r3 = run_ingest(env, put(env["dir"] / "g2.csv", g2, sep=";"))
    assert (r3.files[0].accepted_new, r3.files[0].accepted_unchanged) == (2, 4)
    ds = load_store(env["store"])
    assert len(ds.grund) == 6
    # age derived from the personal number (born 1960-01-10, interviewed in 2023)
    row0 = ds.grund.sort_values("interview_date")
    assert ds.grund["age"].notna().all()
    born = pd.Timestamp(1960, 1, 10)
    d0 = pd.Timestamp(g.loc[0, "interview_date"])
    exp = d0.year - born.year - ((d0.month, d0.day) < (born.month, born.day))
    pid0 = ds.grund["client_pid"].iloc[0]
    assert int(ds.grund.loc[ds.grund.client_pid == pid0, "age"].iloc[0]) == exp
    assert len(row0) == 6
    m = json.loads((env["store"] / "manifest.json").read_text())
    assert len(m["ingests"]) == 3 and m["ingests"][-1]["files"][0]["accepted_new"] == 2


def test_conflict_quarantined_then_accepted_as_correction(env):
    g = valid_rows("grund", 3)
    run_ingest(env, put(env["dir"] / "g.csv", g))
    g.loc[1, "alcohol_days"] = str((int(g.loc[1, "alcohol_days"]) + 1) % 30)
    g.loc[1, "alcohol_intox_days"] = "0"
    p = put(env["dir"] / "g_new.csv", g)
    r = run_ingest(env, p)
    f = r.files[0]
    assert (f.accepted_unchanged, f.conflicts, f.quarantined, r.exit_code) == (2, 1, 1, 1)
    assert r.problems.loc[r.problems.rule == "conflict_stored", "row"].tolist() == [3]
    q = Store(env["store"]).read_quarantine()
    assert q["rules"].tolist() == ["conflict_stored"]
    # same conflicting export again: reported again, not stored twice
    run_ingest(env, p)
    assert len(Store(env["store"]).read_quarantine()) == 1
    r2 = run_ingest(env, p, accept_corrections=True)
    assert (r2.files[0].corrected, r2.exit_code) == (1, 0)
    ds = load_store(env["store"])
    assert sorted(ds.grund["alcohol_days"].tolist()) == sorted(int(x) for x in g["alcohol_days"])
    m = json.loads((env["store"] / "manifest.json").read_text())
    assert len(m["corrections"]) == 1 and set(m["corrections"][0]["changes"]) == {"alcohol_days", "alcohol_intox_days"}


def test_followup_quarantined_then_released_when_baseline_arrives(env):
    g = valid_rows("grund", 3)
    u = valid_rows("uppfoljning", 3)  # same client ids K1..K3, dates 400 days later
    r1 = run_ingest(env, put(env["dir"] / "u.csv", u))
    assert r1.files[0].quarantined == 3 and set(r1.problems["rule"]) >= {"followup_without_grund"}
    r2 = run_ingest(env, put(env["dir"] / "g.csv", g.iloc[:2]))
    assert r2.released == 2
    ds = load_store(env["store"])
    assert len(ds.uppfoljning) == 2 and len(Store(env["store"]).read_quarantine()) == 1
    # and in one batch the order of files does not matter
    env2 = {**env, "store": env["dir"] / "store2"}
    r3 = run_ingest(env2, env["dir"] / "u.csv", put(env["dir"] / "g3.csv", g))
    assert r3.exit_code == 0 and r3.totals()["accepted_new"] == 6


def test_unusable_file_writes_nothing_but_others_go_through(env):
    good = put(env["dir"] / "g.csv", valid_rows("grund", 2))
    bad = env["dir"] / "bad.csv"
    bad.write_text("a,b\n1,2\n", encoding="utf-8")
    r = run_ingest(env, bad, good)
    assert r.exit_code == 2
    assert [f.status for f in r.files] == ["unusable", "ok"]
    assert "bad.csv" in r.files[0].error and r.files[1].accepted_new == 2
    assert "KAN INTE ANVÄNDAS" in r.summary_sv()


def test_other_key_refused(env):
    run_ingest(env, put(env["dir"] / "g.csv", valid_rows("grund", 2)))
    other = env["dir"] / "other.key"
    from asi_lib.pseudonym import load_key
    load_key(other)
    with pytest.raises(AsiInputError, match="annan nyckel"):
        ingest([env["dir"] / "g.csv"], env["store"], key_path=other, as_of=AS_OF)
    # a mistyped key path is not silently created for an existing store
    with pytest.raises(AsiInputError, match="finns inte"):
        ingest([env["dir"] / "g.csv"], env["store"], key_path=env["dir"] / "typo.key", as_of=AS_OF)
    assert not (env["dir"] / "typo.key").exists()


def test_xlsx_ingest(env):
    g, u = valid_rows("grund", 3), valid_rows("uppfoljning", 2)
    wb = openpyxl.Workbook()
    for i, (name, df) in enumerate((("grund", g), ("uppfoljning", u))):
        ws = wb.active if i == 0 else wb.create_sheet()
        ws.title = name
        ws.append(list(df.columns))
        for rec in df.itertuples(index=False):
            ws.append([int(v) if str(v).isdigit() and c not in ("client_id",) else v for c, v in zip(df.columns, rec)])
    wb.create_sheet("kodbok").append(["kolumn", "etikett"])
    p = env["dir"] / "w.xlsx"
    wb.save(p)
    r = run_ingest(env, p)
    assert r.exit_code == 0, r.summary_sv()
    assert [(f.sheet, f.accepted_new) for f in r.files] == [("grund", 3), ("uppfoljning", 2)]


def _luhn_ok(ten: str) -> bool:
    return luhn_digit(ten[:9]) == ten[9]


_TO_ASCII_DIGITS = str.maketrans({chr(0xFF10 + i): str(i) for i in range(10)})


def scan_for_identity_numbers(root: Path, raw_ids):
    """Every file under root: no Luhn-valid 10/12-digit number, no raw id."""
    found = []
    for f in root.rglob("*"):
        if not f.is_file():
            continue
        data = f.read_bytes()
        if f.suffix == ".parquet":
            tables = pd.read_parquet(f)
            text = tables.astype(str).to_csv()
        else:
            text = data.decode("utf-8", errors="replace")
        # any Unicode digits; hyphen, any dash/minus, plus or white space (NBSP too) before the last four
        text = text.translate(_TO_ASCII_DIGITS)
        for m in re.finditer(r"(?<![0-9a-f])(\d{2})?(\d{6})(?:\s?[-+\u2010-\u2015\u2212\ufe58\ufe63\uff0d\uff0b]\s?|\s)?"
                             r"(\d{4})(?![0-9a-f])", text):
            ten = m.group(2) + m.group(3)
            if _luhn_ok(ten):
                found.append((f.name, m.group(0)))
        for rid in raw_ids:
            if rid in text or rid.encode() in data:
                found.append((f.name, rid))
    return found


def test_no_identity_number_survives_into_store_or_report(env):
    g = grund_with_pnrs(5)
    g.loc[1, "comment"] = f"ringde från {g.loc[2, 'client_id']}"   # refused, and masked in quarantine
    g.loc[3, "alcohol_days"] = "99"                                  # quarantined row with a pnr id
    u = valid_rows("uppfoljning", 1)
    u["client_id"] = [make_pnr("19990101", nnn="555")]               # follow-up without baseline
    report = env["dir"] / "out" / "r.json"
    report.parent.mkdir()
    rc = main(["ingest", str(put(env["dir"] / "g.csv", g)), str(put(env["dir"] / "u.csv", u)),
               "--store", str(env["store"]), "--key", str(env["key"]), "--as-of", AS_OF, "--report", str(report)])
    assert rc == 1
    q = Store(env["store"]).read_quarantine()
    assert len(q) == 3
    raw_ids = list(g["client_id"]) + list(u["client_id"]) + [x.replace("-", "") for x in g["client_id"]]
    assert scan_for_identity_numbers(env["store"], raw_ids) == []
    assert scan_for_identity_numbers(report.parent, raw_ids) == []
    # the quarantined rows still carry their pseudonym and problems
    assert q["client_pid"].str.fullmatch(r"[0-9a-f]{64}").all()
    assert set(",".join(q["rules"]).split(",")) == {"pnr_in_text", "range", "followup_without_grund"}


def test_forget_cli(env, capsys):
    g = grund_with_pnrs(3)
    u = valid_rows("uppfoljning", 1)
    u["client_id"] = g.loc[0, "client_id"]
    u["interview_date"] = "2025-05-01"
    u["age"], u["birth_year"] = "", ""
    b = valid_rows("bortfall", 1)
    b["client_id"] = "19" + g.loc[0, "client_id"].replace("-", "")
    args = ["--store", str(env["store"]), "--key", str(env["key"])]
    assert main(["ingest", str(put(env["dir"] / "g.csv", g)), str(put(env["dir"] / "u.csv", u)),
                 str(put(env["dir"] / "b.csv", b)), *args, "--as-of", AS_OF]) == 0
    assert main(["forget", "--client", g.loc[0, "client_id"], *args]) == 0
    ds = load_store(env["store"])
    assert (len(ds.grund), len(ds.uppfoljning), len(ds.bortfall)) == (2, 0, 0)
    m = json.loads((env["store"] / "manifest.json").read_text())
    assert m["erasures"][-1]["records_removed"] == 3
    assert scan_for_identity_numbers(env["store"], [g.loc[0, "client_id"]]) == []
    # local client numbers need the municipality
    assert main(["forget", "--client", "K1", *args]) == 2
    assert "municipality" in capsys.readouterr().err


def test_exit_codes_via_cli(env):
    args = ["--store", str(env["store"]), "--key", str(env["key"]), "--as-of", AS_OF]
    good = put(env["dir"] / "g.csv", valid_rows("grund", 2))
    assert main(["ingest", str(good), *args]) == 0
    bad_rows = valid_rows("grund", 2)
    bad_rows.loc[0, "sex"] = "okänt"
    assert main(["ingest", str(put(env["dir"] / "b.csv", bad_rows)), *args]) == 1
    assert main(["ingest", str(env["dir"] / "missing.csv"), *args]) == 2
    assert main(["ingest", str(good), *args[:4], "--as-of", "igår"]) == 2


def test_cli_subprocess_no_traceback(env):
    p = put(env["dir"] / "g.csv", valid_rows("grund", 2))
    bad = env["dir"] / "bad.xlsx"
    bad.write_bytes(b"not a workbook")
    base = [sys.executable, "-m", "asi_lib", "ingest", "--store", str(env["store"]), "--key", str(env["key"]),
            "--as-of", AS_OF]
    res = subprocess.run([*base, str(p), str(bad), "--report", str(env["dir"] / "r.json")],
                         capture_output=True, text=True, check=False)
    assert res.returncode == 2
    assert "Traceback" not in res.stderr and "Traceback" not in res.stdout
    assert "bad.xlsx" in res.stdout and "g.csv" in res.stdout
    rep = json.loads((env["dir"] / "r.json").read_text())
    assert rep["exit_code"] == 2 and rep["totals"]["accepted_new"] == 2
    res2 = subprocess.run([*base, str(p), "--key", str(env["dir"] / "x.key")], capture_output=True, text=True,
                          check=False)
    assert res2.returncode == 2 and "Traceback" not in res2.stderr


def test_report_json_accounts_for_every_row(env):
    g = valid_rows("grund", 5)
    g.loc[0, "alcohol_days"] = "40"
    g.loc[1, "interview_date"] = g.loc[2, "interview_date"]
    g.loc[1, "client_id"] = g.loc[2, "client_id"]
    p = put(env["dir"] / "g.csv", g)
    out = env["dir"] / "r.json"
    assert main(["ingest", str(p), "--store", str(env["store"]), "--key", str(env["key"]), "--as-of", AS_OF,
                 "--report", str(out)]) == 1
    rep = json.loads(out.read_text())
    f = rep["files"][0]
    assert f["read"] == 5 and f["accepted"] == 3 and f["quarantined"] == 2
    assert {(p["row"], p["rule"]) for p in rep["problems"] if p["severity"] == "error"} == {(2, "range"), (4, "duplicate")}


def test_10000_grund_rows_in_one_file(env):
    # scale, not speed: benchmarks/bench_ingest.py measures the time
    p = put(env["dir"] / "g.csv", valid_rows("grund", 10000), sep=";")
    r = run_ingest(env, p)
    assert (r.files[0].read, r.files[0].accepted_new, r.exit_code) == (10000, 10000, 0)
    assert len(load_store(env["store"]).grund) == 10000


def test_ingest_log_and_quarantine_problems_for_the_analyst(env):
    g = valid_rows("grund", 4, seed=3)
    g.loc[1, "sex"] = "okänt"            # a code the codebook does not have
    g.loc[2, "rating_alcohol"] = "12"    # outside 0–9
    run_ingest(env, put(env["dir"] / "g.csv", g))
    run_ingest(env, put(env["dir"] / "g.csv", g))  # again: unchanged rows, same quarantine
    st = Store(env["store"])
    log = st.ingest_log()
    assert log["file"].tolist() == ["g.csv", "g.csv"]
    assert log[["read", "accepted_new", "accepted_unchanged", "quarantined"]].values.tolist() == \
        [[4, 2, 0, 2], [4, 0, 2, 2]]
    assert log["accounted"].all()
    probs = st.quarantine_problems()
    # rows are file lines (header = line 1): the 2nd and 3rd data rows are lines 3 and 4
    assert probs[["row", "column", "value", "rule"]].values.tolist() == \
        [[3, "sex", "okänt", "code"], [4, "rating_alcohol", "12", "range"]]
    assert probs["message"].str.contains("Kön|Intervjuarskattning").all()
    assert st.quarantine_problems(lang="en")["message"].str.contains("Sex|Interviewer").all()
    assert "client_pid" not in probs.columns


def test_ingest_while_the_store_is_locked_exits_2_without_traceback(env):
    g = valid_rows("grund", 3)
    p = put(env["dir"] / "g.csv", g)
    run_ingest(env, p)
    with Store(env["store"]).lock("ingest"):
        res = subprocess.run([sys.executable, "-m", "asi_lib", "ingest", str(p), "--store", str(env["store"]),
                              "--key", str(env["key"]), "--as-of", AS_OF], capture_output=True, text=True)
    assert res.returncode == 2, res.stderr
    assert "används av en annan körning" in res.stderr and "Traceback" not in res.stderr
    assert len(load_store(env["store"]).grund) == 3  # nothing changed


# ---------------------------------------------------------------- identity numbers in any spelling
def test_identity_numbers_in_any_spelling_never_leak_and_link(env, capsys):
    pnr = make_pnr("19811218", nnn="987")                      # 811218-9876
    dash, nbsp = pnr.replace("-", "\u2013"), pnr.replace("-", "\u00a0")
    g = valid_rows("grund", 5)
    g["client_id"] = [pnr, dash, nbsp, "19" + pnr.replace("-", " "), "K9"]
    g["interview_date"] = ["2023-01-10", "2023-02-10", "2023-03-10", "2023-04-10", "2023-05-10"]
    g["age"], g["birth_year"] = "", ""
    g.loc[4, "comment"] = f"ringde från {dash}"                  # free text with an en-dash number
    g.loc[4, "unit"] = f"Enhet {nbsp}"                           # and a unit with an NBSP number
    d = env["dir"] / f"klient {dash}"
    d.mkdir()
    csv = put(d / f"export_{nbsp}.csv", g)
    wb = openpyxl.Workbook()
    wb.active.title = f"g {pnr.replace('-', chr(0x2014))}"      # sheet named by a number (em dash)
    wb.active.append(list(g.columns))
    bad = g.iloc[[4]].copy()
    bad["interview_date"] = "2023-06-10"
    for r in bad.itertuples(index=False):
        wb.active.append(list(r))
    xlsx = d / f"{dash}.xlsx"
    wb.save(xlsx)
    missing = d / f"saknas {nbsp}.csv"                          # unusable file: error message names it
    out = env["dir"] / "out" / "r.json"
    out.parent.mkdir()
    rc = main(["ingest", str(csv), str(xlsx), str(missing), "--store", str(env["store"]), "--key", str(env["key"]),
               "--as-of", AS_OF, "--report", str(out)])
    stdout = capsys.readouterr().out
    assert rc == 2
    ds = load_store(env["store"])
    # four spellings of one person: one pseudonym, age from the number (41 in 2023 before 18 Dec)
    assert len(ds.grund) == 4 and ds.grund["client_pid"].nunique() == 1
    assert ds.grund["age"].tolist() == [41] * 4
    q = Store(env["store"]).read_quarantine()
    assert len(q) == 2 and set(",".join(q["rules"]).split(",")) == {"pnr_in_text"}
    raw = [pnr, dash, nbsp, pnr.replace("-", ""), dash.replace("\u2013", "")]
    assert scan_for_identity_numbers(env["store"], raw) == []
    assert scan_for_identity_numbers(out.parent, raw) == []
    (env["dir"] / "stdout").mkdir()
    (env["dir"] / "stdout" / "out.txt").write_text(stdout, encoding="utf-8")
    assert "saknas ***.csv" in stdout
    assert scan_for_identity_numbers(env["dir"] / "stdout", raw) == []
    assert set(q["file"]) == {"export_***.csv", "***.xlsx"} and set(q["sheet"].dropna()) == {"g ***"}
    rep = json.loads(out.read_text())
    assert {f["sheet"] for f in rep["files"]} == {None, "g ***"}


# ---------------------------------------------------------------- item-level error policy
def test_item_errors_mark_keeps_the_interview_and_invalidates_only_the_items(env):
    from asi_lib.scores import composite_scores
    g = valid_rows("grund", 4)
    g.loc[1, "alcohol_days"], g.loc[1, "alcohol_intox_days"] = "3", "9"   # more intoxication than drinking days
    g.loc[2, "cannabis_days"] = "99"                                       # out of range
    g.loc[3, "alcohol_days"], g.loc[3, "sex"] = "abc", "okänt"             # item error + a whole-row error
    p = put(env["dir"] / "g.csv", g)
    # default: the interviews with errors are quarantined
    st_q = {**env, "store": env["dir"] / "q"}
    rep = run_ingest(st_q, p)
    assert (rep.files[0].accepted_new, rep.files[0].quarantined) == (1, 3)
    # --item-errors=mark (CLI): rows 3 and 4 kept with those items empty; row 5 still quarantined
    out = env["dir"] / "r.json"
    rc = main(["ingest", str(p), "--store", str(env["store"]), "--key", str(env["key"]), "--as-of", AS_OF,
               "--item-errors", "mark", "--report", str(out)])
    assert rc == 1
    f = json.loads(out.read_text())["files"][0]
    assert (f["accepted_new"], f["quarantined"], f["items_marked_invalid"]) == (3, 1, 3)
    ds = load_store(env["store"])
    stored = ds.grund.set_index("interview_date").loc[pd.to_datetime(g["interview_date"][:3])]
    row3, row4 = stored.iloc[1], stored.iloc[2]
    assert pd.isna(row3["alcohol_days"]) and pd.isna(row3["alcohol_intox_days"])
    assert pd.isna(row4["cannabis_days"]) and row4["alcohol_days"] == int(g.loc[2, "alcohol_days"])
    q = Store(env["store"]).read_quarantine()
    assert len(q) == 1 and "code" in q["rules"].iloc[0]
    # only the scores that need an invalidated item can change: every other area's score is the same as for
    # the interview typed in with those items left empty
    blank = g.loc[[1, 2]].copy()
    blank.loc[1, ["alcohol_days", "alcohol_intox_days"]] = ""
    blank.loc[2, "cannabis_days"] = ""
    ref_store = {**env, "store": env["dir"] / "ref"}
    run_ingest(ref_store, put(env["dir"] / "blank.csv", blank))
    ref = load_store(ref_store["store"]).grund.sort_values("interview_date").reset_index(drop=True)
    got = stored.iloc[1:3].reset_index().sort_values("interview_date").reset_index(drop=True)
    pd.testing.assert_frame_equal(composite_scores(got), composite_scores(ref))


def test_item_errors_unknown_policy_is_a_user_error(env):
    with pytest.raises(AsiInputError, match="item-errors"):
        run_ingest(env, put(env["dir"] / "g.csv", valid_rows("grund", 1)), item_errors="drop")


from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_SEPS = ["-", "\u2013", "\u2014", "\u2212", " ", "\u00a0", "", "+"]


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(_SEPS), st.sampled_from(_SEPS), st.booleans(), st.sampled_from(["comment", "unit"]))
def test_fuzz_identity_spellings_end_to_end(tmp_path_factory, sep_id, sep_text, twelve, text_col):
    """Random spellings in client_id, free text and the file name: one pseudonym per person, nothing raw on disk."""
    d = tmp_path_factory.mktemp("fz")
    env = {"store": d / "store", "key": d / "k.key", "dir": d}
    born = "19601224"
    canon = make_pnr(born, nnn="345")
    spelled = make_pnr(born, nnn="345", sep=sep_id if sep_id != "+" else "-", twelve=twelve)
    g = valid_rows("grund", 3)
    g["client_id"] = [canon, spelled, "K3"]
    g["interview_date"] = ["2023-01-10", "2023-02-10", "2023-03-10"]
    g["age"], g["birth_year"] = "", ""
    g.loc[2, text_col] = f"x {make_pnr(born, nnn='345', sep=sep_text)} y"
    p = put(d / f"exp {make_pnr(born, nnn='345', sep=sep_text)}.csv", g)
    rep = run_ingest(env, p)
    assert (rep.files[0].accepted_new, rep.files[0].quarantined) == (2, 1)
    grund = load_store(env["store"]).grund
    assert grund["client_pid"].nunique() == 1 and grund["age"].tolist() == [62, 62]
    (d / "out").mkdir()
    rep.write_json(d / "out" / "r.json")
    raw = [canon, spelled, canon.replace("-", ""), make_pnr(born, nnn="345", sep=sep_text)]
    assert scan_for_identity_numbers(env["store"], raw) == []
    assert scan_for_identity_numbers(d / "out", raw) == []
    (d / "sum").mkdir()
    (d / "sum" / "s.txt").write_text(rep.summary_sv(), encoding="utf-8")
    assert scan_for_identity_numbers(d / "sum", raw) == []
