"""Store integrity under faults: SIGKILL mid-commit, concurrent writers, lost manifest, lasting erasure,
corrections that move a record, and a quarantine that holds only what is unresolved (issue 8)."""
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).parent / "fixtures" / "ingest"))
from make_rows import make_pnr, valid_rows  # noqa: E402

from asi_lib.cli import main
from asi_lib.errors import AsiInputError
from asi_lib.ingest import ingest
from asi_lib import store as store_module
from asi_lib.store import Store, load_store

FAULT_ENV = getattr(store_module, "FAULT_ENV", "ASI_KIT_TEST_KILL_AFTER")  # (lets the file run on older code)

AS_OF = "2025-06-01"
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def env(tmp_path):
    return {"store": tmp_path / "store", "key": tmp_path / "k.key", "dir": tmp_path}


def put(path, df):
    df.to_csv(path, index=False)
    return path


def run_ingest(env, *paths, store=None, **kw):
    return ingest(list(paths), store or env["store"], key_path=env["key"], as_of=AS_OF, **kw)


def cli(env, *args, fault=None, store=None):
    """`asi-kit ingest` in a real child process (optionally killed with SIGKILL at a commit step)."""
    child_env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if fault:
        child_env[FAULT_ENV] = fault
    return subprocess.run([sys.executable, "-m", "asi_lib", "ingest", *map(str, args),
                           "--store", str(store or env["store"]), "--key", str(env["key"]), "--as-of", AS_OF],
                          capture_output=True, text=True, env=child_env, cwd=ROOT)


def state(store):
    """What a reader sees: every table sorted, the quarantine's qids, the number of ingests."""
    ds = load_store(store)
    tabs = {t: getattr(ds, t).drop(columns=[]).astype(str).sort_values(list(getattr(ds, t).columns))
            .reset_index(drop=True) for t in ("grund", "uppfoljning")}
    q = sorted(Store(store).read_quarantine()["qid"])
    return tabs, q, len(Store(store).manifest["ingests"])


def same_state(a, b):
    for t in a[0]:
        pd.testing.assert_frame_equal(a[0][t], b[0][t])
    assert a[1:] == b[1:]


def leftovers(store):
    return sorted(p.name for p in Path(store).iterdir()
                  if p.name.startswith((".txn-", ".journal")) or p.name.endswith(".tmp"))


# ---------------------------------------------------------------- SIGKILL between table writes
@pytest.mark.parametrize("point,completed", [("staged", False), ("grund.parquet", True),
                                             ("quarantine.parquet", True)])
def test_sigkill_mid_commit_leaves_a_consistent_store(env, point, completed):
    g, u = valid_rows("grund", 3), valid_rows("uppfoljning", 3)
    gp, up = put(env["dir"] / "g.csv", g), put(env["dir"] / "u.csv", u)
    # the case: follow-ups wait in quarantine for their baselines, which a later ingest brings
    assert run_ingest(env, up).exit_code == 1
    ref = env["dir"] / "ref"  # the same ingests without a fault
    assert run_ingest(env, up, store=ref).exit_code == 1
    assert run_ingest(env, gp, store=ref).exit_code == 0
    before, after = state(env["store"]), state(ref)
    res = cli(env, gp, fault=point)
    assert res.returncode == -9, res.stderr  # really killed by SIGKILL
    assert (env["store"] / ".journal.json").exists() == (point != "staged")
    # a reader (no lock, no repair) sees either the old or the new store, never a mix
    same_state(state(env["store"]), after if completed else before)
    # the next run repairs the store, says so, and leaves no temporary file
    rep = run_ingest(env, gp)
    assert rep.recovered == ("completed" if completed else "rolled_back")
    assert "avbröts" in rep.summary_sv()
    assert leftovers(env["store"]) == []
    final = state(env["store"])
    same_state((final[0], final[1], 0), (after[0], after[1], 0))
    assert final[2] == (3 if completed else 2)  # the killed ingest is logged only when it was committed
    ds = load_store(env["store"])
    assert (len(ds.grund), len(ds.uppfoljning), len(Store(env["store"]).read_quarantine())) == (3, 3, 0)


def test_leftover_temporary_files_of_an_old_crash_are_removed(env):
    run_ingest(env, put(env["dir"] / "g.csv", valid_rows("grund", 2)))
    (env["store"] / ".grund.parquet.4242.tmp").write_bytes(b"half")
    (env["store"] / ".txn-deadbeef").mkdir()
    (env["store"] / ".txn-deadbeef" / "grund.parquet").write_bytes(b"half")
    rep = run_ingest(env, env["dir"] / "g.csv")
    assert rep.recovered == "rolled_back" and leftovers(env["store"]) == []
    assert len(load_store(env["store"]).grund) == 2


# ---------------------------------------------------------------- concurrent writers
WORKER = r"""
import sys, time
from asi_lib.errors import AsiInputError
from asi_lib.ingest import ingest
start, path, store, key, as_of = float(sys.argv[1]), *sys.argv[2:]
while time.time() < start:  # every writer reaches the lock at the same moment
    pass
for attempt in range(600):
    try:
        print(ingest([path], store, key_path=key, as_of=as_of).exit_code)
        break
    except AsiInputError as exc:
        if "används av en annan körning" not in str(exc):
            raise
        time.sleep(0.05)
"""


def test_concurrent_writers_with_a_stale_lock_lose_no_accepted_row(env):
    # every writer starts at the same moment and finds a stale lock (a killed ingest):
    # takeover must not let two of them write at once
    n = 5
    first = put(env["dir"] / "g0.csv", valid_rows("grund", 2, municipality="M0"))
    run_ingest(env, first)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    import socket
    (env["store"] / ".lock").write_text(json.dumps({"pid": int(dead.stdout), "host": socket.gethostname(),
                                                    "time": "2025-01-01T00:00:00+00:00", "purpose": "ingest"}))
    files = [put(env["dir"] / f"g{i}.csv", valid_rows("grund", 6, seed=i, municipality=f"M{i}"))
             for i in range(1, n + 1)]
    start = time.time() + 8  # after the imports of every worker
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, str(start), str(f), str(env["store"]), str(env["key"]),
                               AS_OF],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=ROOT) for f in files]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [o[0].strip() for o in outs] == ["0"] * n, outs
    g = load_store(env["store"]).grund
    assert len(g) == 2 + 6 * n
    assert g.groupby("municipality", observed=True).size().to_dict() == {"M0": 2, **{f"M{i}": 6 for i in range(1, n + 1)}}
    m = json.loads((env["store"] / "manifest.json").read_text())
    assert len(m["ingests"]) == n + 1


def test_lock_is_released_when_the_holder_is_killed(env):
    # flock belongs to the process: SIGKILL while holding the store leaves nothing to clean by hand
    child = subprocess.Popen([sys.executable, "-c", "import sys, time; from asi_lib.store import Store\n"
                              "with Store(sys.argv[1]).lock('ingest'):\n    print('held', flush=True); time.sleep(60)",
                              str(env["store"])], stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert child.stdout.readline().strip() == "held"
    with pytest.raises(AsiInputError, match="används av en annan körning"):
        with Store(env["store"]).lock():
            pass
    # what a racing writer saw a moment ago (a dead process on this host) is no reason to take over:
    # only the kernel's lock decides
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    import socket
    (env["store"] / ".lock").write_text(json.dumps({"pid": int(dead.stdout), "host": socket.gethostname()}))
    with pytest.raises(AsiInputError, match="används av en annan körning"):
        with Store(env["store"]).lock():
            pass
    child.kill()
    child.wait()
    with Store(env["store"]).lock() as st:
        assert json.loads((st.path / ".lock").read_text())["pid"] == os.getpid()


# ---------------------------------------------------------------- lost manifest
def test_store_with_tables_but_no_manifest_is_refused_with_a_repair_hint(env, capsys):
    g = put(env["dir"] / "g.csv", valid_rows("grund", 2))
    run_ingest(env, g)
    (env["store"] / "manifest.json").unlink()
    with pytest.raises(AsiInputError, match="ingen manifest.json.*säkerhetskopian"):
        run_ingest(env, g)
    other = env["dir"] / "other.key"
    assert main(["ingest", str(g), "--store", str(env["store"]), "--key", str(other), "--as-of", AS_OF]) == 2
    err = capsys.readouterr().err
    assert "manifest.json" in err and "backup" in err and "Traceback" not in err
    assert not other.exists()  # no fresh key for a store that lost its manifest
    with pytest.raises(AsiInputError, match="ingen manifest.json"):
        load_store(env["store"])
    assert len(pd.read_parquet(env["store"] / "grund.parquet")) == 2  # nothing changed


# ---------------------------------------------------------------- forget lasts
def test_forgotten_client_is_refused_on_later_ingests_until_readmitted(env, capsys):
    g = valid_rows("grund", 3)
    g["client_id"] = [make_pnr(f"19{70 + i}0101", nnn=f"{200 + i}") for i in range(3)]
    g["age"], g["birth_year"] = "", ""
    p = put(env["dir"] / "g.csv", g)
    args = ["--store", str(env["store"]), "--key", str(env["key"])]
    assert main(["ingest", str(p), *args, "--as-of", AS_OF]) == 0
    assert main(["forget", "--client", g.loc[0, "client_id"], *args]) == 0
    capsys.readouterr()
    rep = run_ingest(env, p)  # the same export again
    f = rep.files[0]
    assert (f.read, f.accepted_unchanged, f.accepted_new, f.forgotten, f.quarantined) == (3, 2, 0, 1, 0)
    assert rep.exit_code == 0 and "1 avvisade" in rep.summary_sv()
    assert len(load_store(env["store"]).grund) == 2 and len(Store(env["store"]).read_quarantine()) == 0
    assert Store(env["store"]).ingest_log()["accounted"].all()
    m = json.loads((env["store"] / "manifest.json").read_text())
    assert len(m["tombstones"]) == 1
    pids = set(pd.read_parquet(env["store"] / "grund.parquet")["client_pid"])
    assert m["tombstones"][0] not in pids and g.loc[0, "client_id"] not in json.dumps(m)
    # explicit re-admission
    assert main(["readmit", "--client", g.loc[0, "client_id"], *args]) == 0
    assert "återtagen" in capsys.readouterr().out
    assert run_ingest(env, p).files[0].accepted_new == 1
    assert len(load_store(env["store"]).grund) == 3


def test_forget_is_one_transaction(env):
    g = valid_rows("grund", 2)
    u = valid_rows("uppfoljning", 2)
    args = ["--store", str(env["store"]), "--key", str(env["key"])]
    assert main(["ingest", str(put(env["dir"] / "g.csv", g)), str(put(env["dir"] / "u.csv", u)), *args,
                 "--as-of", AS_OF]) == 0
    res = subprocess.run([sys.executable, "-m", "asi_lib", "forget", "--client", "K1", "--municipality", "Ale", *args],
                         env={**os.environ, "PYTHONPATH": str(ROOT), FAULT_ENV: "grund.parquet"}, cwd=ROOT)
    assert res.returncode == -9
    ds = load_store(env["store"])  # reader: the erasure is committed, follow-up and baseline both gone
    assert (len(ds.grund), len(ds.uppfoljning)) == (1, 1)
    run_ingest(env, env["dir"] / "g.csv")
    assert leftovers(env["store"]) == []
    assert json.loads((env["store"] / "manifest.json").read_text())["erasures"][-1]["records_removed"] == 2


# ---------------------------------------------------------------- corrections that move a record
def test_corrected_interview_date_replaces_the_record(env):
    g = valid_rows("grund", 3)
    run_ingest(env, put(env["dir"] / "g.csv", g))
    g2 = g.copy()
    g2.loc[1, "interview_date"] = (pd.Timestamp(g.loc[1, "interview_date"]) + pd.Timedelta(days=7)).strftime("%Y-%m-%d")
    p2 = put(env["dir"] / "g2.csv", g2)
    r = run_ingest(env, p2)  # without --accept-corrections: a conflict, not a second record
    f = r.files[0]
    assert (f.accepted_unchanged, f.accepted_new, f.conflicts, f.quarantined) == (2, 0, 1, 1)
    assert len(load_store(env["store"]).grund) == 3
    assert Store(env["store"]).read_quarantine()["rules"].tolist() == ["conflict_stored"]
    r2 = run_ingest(env, p2, accept_corrections=True)
    assert (r2.files[0].corrected, r2.files[0].accepted_new, r2.exit_code, r2.resolved) == (1, 0, 0, 1)
    ds = load_store(env["store"])
    assert len(ds.grund) == 3
    assert sorted(ds.grund["interview_date"].dt.strftime("%Y-%m-%d")) == sorted(g2["interview_date"])
    assert len(Store(env["store"]).read_quarantine()) == 0  # the resolved conflict left the quarantine
    m = json.loads((env["store"] / "manifest.json").read_text())
    assert list(m["corrections"][-1]["changes"]) == ["interview_date"]
    assert run_ingest(env, p2).files[0].accepted_unchanged == 3  # and it stays one record


def test_corrected_municipality_of_a_local_client_number_replaces_the_record(env):
    g = valid_rows("grund", 3)  # local client numbers K1..K3 in Ale
    run_ingest(env, put(env["dir"] / "g.csv", g))
    g2 = g.copy()
    g2.loc[2, "municipality"] = "Bjuv"
    p2 = put(env["dir"] / "g2.csv", g2)
    f = run_ingest(env, p2).files[0]
    assert (f.accepted_unchanged, f.accepted_new, f.conflicts) == (2, 0, 1)
    assert len(load_store(env["store"]).grund) == 3
    r = run_ingest(env, p2, accept_corrections=True)
    assert (r.files[0].corrected, r.files[0].accepted_new, r.exit_code) == (1, 0, 0)
    ds = load_store(env["store"])
    assert len(ds.grund) == 3 and sorted(ds.grund["municipality"]) == ["Ale", "Ale", "Bjuv"]
    assert len(Store(env["store"]).read_quarantine()) == 0
    # a different client with the same local number in another municipality is still a new client
    g3 = valid_rows("grund", 1, seed=99, municipality="Bjuv")
    assert run_ingest(env, put(env["dir"] / "g3.csv", g3)).files[0].accepted_new == 1


def test_quarantine_holds_only_what_is_unresolved(env):
    g = valid_rows("grund", 40, seed=5)
    bad = g.copy()
    bad.loc[[3, 7, 11], "alcohol_days"] = "99"
    r1 = run_ingest(env, put(env["dir"] / "g.csv", bad))
    assert r1.files[0].quarantined == 3
    # rows 3 and 7 fixed at the source, 11 not; row 20 changed (a conflict)
    fixed = g.copy()
    fixed.loc[11, "alcohol_days"] = "99"
    fixed.loc[20, "rating_alcohol"] = str((int(g.loc[20, "rating_alcohol"]) + 1) % 10)
    p = put(env["dir"] / "g_fixed.csv", fixed)
    r2 = run_ingest(env, p)
    assert (r2.files[0].accepted_new, r2.files[0].quarantined, r2.resolved) == (2, 2, 2)
    q = Store(env["store"]).read_quarantine()
    assert sorted(q["rules"]) == ["conflict_stored", "range"] and len(q) == 2
    r3 = run_ingest(env, p, accept_corrections=True)
    assert r3.files[0].quarantined == 1 and r3.files[0].corrected == 1
    q = Store(env["store"]).read_quarantine()
    assert q["rules"].tolist() == ["range"]  # only what the source still gets wrong
    assert len(load_store(env["store"]).grund) == 39


def test_a_newer_version_of_a_quarantined_record_replaces_the_older_entry(env):
    g = valid_rows("grund", 3)
    run_ingest(env, put(env["dir"] / "g.csv", g))
    for days in (5, 6, 7):  # the source changes the same record three times: one conflict, not three
        g.loc[0, "alcohol_days"] = str(days)
        g.loc[0, "alcohol_intox_days"] = "0"
        r = run_ingest(env, put(env["dir"] / f"g{days}.csv", g))
        assert r.files[0].conflicts == 1
    q = Store(env["store"]).read_quarantine()
    assert len(q) == 1 and json.loads(q.loc[0, "data"])["alcohol_days"] == "7"
    run_ingest(env, env["dir"] / "g7.csv")  # the same newest version again: still the one entry
    assert len(Store(env["store"]).read_quarantine()) == 1
    bad = g.copy()
    bad.loc[1, "sex"] = "okänt"  # and an error row sent twice stays once
    run_ingest(env, put(env["dir"] / "bad.csv", bad))
    run_ingest(env, env["dir"] / "bad.csv")
    assert sorted(Store(env["store"]).read_quarantine()["rules"]) == ["code", "conflict_stored"]
