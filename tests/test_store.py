"""Store: dtypes, atomic writes, merge semantics, key check, erasure."""
import json

import pandas as pd
import pytest

from asi_lib.codebook import TABLES, load_codebook
from asi_lib.errors import AsiInputError
from asi_lib.store import Store, coerce_table, empty_table, load_store


def frame(pids, dates, alcohol):
    return coerce_table(pd.DataFrame({"client_pid": pids, "municipality": "Ale", "unit": "U",
                                      "interview_date": pd.to_datetime(dates), "sex": "female",
                                      "main_substance": "alcohol", "alcohol_days": alcohol}), "grund")


def test_empty_tables_have_store_dtypes():
    cb = load_codebook()
    for t in TABLES:
        df = empty_table(t)
        assert {c: str(df[c].dtype) for c in df} == cb.dtypes(t)


def test_write_read_roundtrip_atomic(tmp_path):
    st = Store(tmp_path / "s")
    df = frame(["a", "b"], ["2024-01-01", "2024-02-01"], [3, -8])
    st.write_table("grund", df)
    back = st.read_table("grund")
    pd.testing.assert_frame_equal(back, df.reset_index(drop=True))
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == ["grund.parquet"]  # no temp file left


def test_merge_added_unchanged_conflict_and_correction(tmp_path):
    st = Store(tmp_path)
    cur = frame(["a", "b"], ["2024-01-01", "2024-02-01"], [3, 4])
    new = frame(["a", "b", "c"], ["2024-01-01", "2024-02-01", "2024-03-01"], [3, 9, 5])
    new.index = [10, 11, 12]
    merged, r = st.merge("grund", cur, new)
    assert (r.added, r.unchanged, r.corrected, list(r.conflicts)) == (1, 1, 0, [11])
    assert sorted(merged["client_pid"]) == ["a", "b", "c"]
    assert merged.loc[merged.client_pid == "b", "alcohol_days"].item() == 4  # conflict not applied
    merged2, r2 = st.merge("grund", cur, new, accept_corrections=True)
    assert (r2.added, r2.unchanged, r2.corrected, len(r2.conflicts)) == (1, 1, 1, 0)
    assert merged2.loc[merged2.client_pid == "b", "alcohol_days"].item() == 9
    assert len(merged2) == 3
    assert r2.corrections[0]["changes"] == {"alcohol_days": ["4", "9"]}
    assert r2.corrections[0]["identity"] == {"interview_date": "2024-02-01 00:00:00"}


def test_key_check(tmp_path):
    st = Store(tmp_path / "s")
    st.check_key("aaaa")
    st.save_manifest()
    Store(tmp_path / "s").check_key("aaaa")
    with pytest.raises(AsiInputError, match="annan nyckel"):
        Store(tmp_path / "s").check_key("bbbb")


def test_refuses_foreign_directory_and_missing_store(tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(AsiInputError, match="inte ett lager"):
        Store(tmp_path).check_key("aaaa")
    with pytest.raises(AsiInputError, match="manifest"):
        load_store(tmp_path / "nothing")


def test_forget_removes_everywhere_and_audits_without_ids(tmp_path):
    st = Store(tmp_path / "s")
    st.check_key("aaaa")
    st.write_table("grund", frame(["a", "b"], ["2024-01-01", "2024-02-01"], [3, 4]))
    st.manifest["corrections"].append({"client_pid": "a", "changes": {}})
    st.save_manifest()
    removed = st.forget("a")
    assert removed["grund"] == 1 and removed["corrections"] == 1
    assert st.read_table("grund")["client_pid"].tolist() == ["b"]
    m = json.loads((tmp_path / "s" / "manifest.json").read_text())
    assert m["erasures"][-1]["records_removed"] == 2
    assert '"a"' not in json.dumps(m["erasures"])


def test_load_store_dataset(tmp_path):
    st = Store(tmp_path / "s")
    st.check_key("aaaa")
    st.write_table("grund", frame(["a"], ["2024-01-01"], [3]))
    st.save_manifest()
    ds = load_store(tmp_path / "s")
    assert len(ds.grund) == 1 and len(ds.insatser) == 0
    assert str(ds.grund["interview_date"].dtype) == "datetime64[us]"
    assert ds.meta["summary"]["records"]["grund"] == 1


def test_lock_refuses_a_second_writer_and_takes_over_a_stale_lock(tmp_path):
    import os
    import subprocess
    import sys

    st = Store(tmp_path / "s")
    with st.lock("ingest"):
        held = json.loads((tmp_path / "s" / ".lock").read_text())
        assert held["pid"] == os.getpid() and held["purpose"] == "ingest"
        with pytest.raises(AsiInputError, match="används av en annan körning"):
            with Store(tmp_path / "s").lock("forget"):
                pass
    assert (tmp_path / "s" / ".lock").read_text() == ""  # released: emptied, never removed (flock on one inode)
    # a lock whose process has ended (on this host) is stale and taken over
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    held["pid"] = int(dead.stdout)
    (tmp_path / "s" / ".lock").write_text(json.dumps(held))
    with st.lock("ingest"):
        assert json.loads((tmp_path / "s" / ".lock").read_text())["pid"] == os.getpid()
    # a lock from another host is never taken over
    (tmp_path / "s" / ".lock").write_text(json.dumps(held | {"host": "annan-server"}))
    with pytest.raises(AsiInputError, match="annan-server"):
        with st.lock("ingest"):
            pass


def test_merge_key_codes_equal_where_text_keys_equal():
    """Store.merge's int64 identity codes match exactly where the text keys (``_key_series``) match.

    Checked pairwise on random stored and incoming rows (client, category, date), against the text
    keys written out; keys with a missing part are all -1 (the text keys are all NaN there).
    """
    import numpy as np

    from asi_lib.store import _key_codes, _key_series
    rng = np.random.default_rng(7)

    def rows(n):
        return pd.DataFrame({
            "client_pid": pd.array(rng.choice(["a" * 64, "b" * 64, "c" * 64, None], n), dtype="string"),
            "form": pd.Categorical(rng.choice(["grund", "uppfoljning", None], n), categories=["grund", "uppfoljning", "x"]),
            "d": pd.to_datetime(rng.choice(["2024-01-01", "2024-01-02", "2023-12-31", None], n)).astype("datetime64[us]")})
    cur, new = rows(400), rows(250)
    cols = ["client_pid", "form", "d"]
    ck, nk = _key_codes(cur, new, cols)
    codes = np.concatenate([ck.to_numpy(), nk.to_numpy()])
    text = np.concatenate([_key_series(cur, cols).to_numpy(), _key_series(new, cols).to_numpy()])
    full = pd.concat([cur, new]).notna().all(axis=1).to_numpy()
    c, t = codes[full], text[full]
    assert ((c[:, None] == c[None, :]) == (t[:, None] == t[None, :])).all()
    assert (codes[~full] == -1).all() and pd.isna(text[~full]).all()
    assert ck.index.equals(cur.index) and nk.index.equals(new.index)
