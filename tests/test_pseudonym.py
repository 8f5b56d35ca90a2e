"""Personal numbers, Luhn, ages and keyed pseudonyms, checked against hand-worked values."""
import hashlib
import hmac
import os
import stat
import sys
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).parent / "fixtures" / "ingest"))
from make_rows import make_pnr  # noqa: E402

from asi_lib.errors import AsiInputError
from asi_lib.pseudonym import (age_at, client_keys, key_fingerprint, load_key, luhn_valid, parse_personal_numbers,
                               pseudonymise_frame, pseudonymise_ids)

KEY = b"0123456789abcdef0123456789abcdef"


def test_luhn_skatteverket_example_by_hand():
    # 811218-9876: digits x weights 2,1,2,1,...: 16->7, 1, 2, 2, 2, 8, 18->9, 8, 14->5, 6 ; sum 50
    assert 7 + 1 + 2 + 2 + 2 + 8 + 9 + 8 + 5 + 6 == 50
    assert luhn_valid("811218-9876")
    assert luhn_valid("198112189876")
    for wrong in ("811218-9875", "811218-9866", "811228-9876"):
        assert not luhn_valid(wrong)


def test_coordination_number_day_plus_60():
    # 701063-2391: Skatteverket's coordination number example (born 1970-10-03)
    df = parse_personal_numbers(pd.Series(["701063-2391", "19701063-2391"]), ref_date="2024-01-01")
    assert df["valid"].all() and df["coordination"].all()
    assert (df["birth_date"] == pd.Timestamp("1970-10-03")).all()
    assert df["normalised"].tolist() == ["197010632391"] * 2


def test_century_rules():
    ref = "2024-06-01"
    df = parse_personal_numbers(pd.Series([
        make_pnr("20100101"),           # 10 digits, 2010 is not in the future -> 2010
        make_pnr("19300101"),           # 300101: 2030 would be future -> 1930
        make_pnr("19200101", sep="+"),  # '+' = 100 or older -> 1920 (not 2020)
        make_pnr("20240701"),           # 240701 after ref date -> 1924
    ]), ref_date=ref)
    assert df["valid"].all()
    assert df["birth_date"].dt.year.tolist() == [2010, 1930, 1920, 1924]


def test_not_personal_numbers():
    df = parse_personal_numbers(pd.Series(["K-17", "12345", "", "811318-9876", "abcdefghij", "8112189876x"]))
    assert not df["valid"].any()
    # month 13 is not a date: not even shaped
    assert not df["shaped"].iloc[3]


def test_age_at_hand_worked():
    b = pd.Series(pd.to_datetime(["1981-12-18", "1981-12-18", "2000-02-29"]))
    r = pd.Series(pd.to_datetime(["2024-12-17", "2024-12-18", "2021-02-28"]))
    assert age_at(b, r).tolist() == [42, 43, 20]


def test_same_person_same_pid_in_any_spelling_and_municipality():
    ids = pd.Series(["19850101-1236", "8501011236", "850101-1236", "198501011236"])
    mun = pd.Series(["Ale", "Bjuv", "ale", "Örebro"])
    p = pseudonymise_ids(ids, mun, KEY)
    assert p.nunique() == 1
    # independent HMAC computation on the documented message
    expected = hmac.new(KEY, b"pnr|198501011236", hashlib.sha256).hexdigest()
    assert p.iloc[0] == expected


def test_local_numbers_namespaced_by_municipality():
    p = pseudonymise_ids(pd.Series(["17", "17", "17"]), pd.Series(["Ale", "Bjuv", " ALE "]), KEY)
    assert p.iloc[0] != p.iloc[1]
    assert p.iloc[0] == p.iloc[2]  # trimmed and case-folded municipality
    assert p.iloc[0] == hmac.new(KEY, b"ale|17", hashlib.sha256).hexdigest()


def test_other_key_other_pid_and_empty_id_is_na():
    ids, mun = pd.Series(["A1", ""]), pd.Series(["Ale", "Ale"])
    a, b = pseudonymise_ids(ids, mun, KEY), pseudonymise_ids(ids, mun, b"x" * 32)
    assert a.iloc[0] != b.iloc[0]
    assert pd.isna(a.iloc[1])


def test_client_keys_need_no_key():
    assert client_keys(pd.Series(["811218-9876"]), pd.Series(["Ale"])).iloc[0] == "pnr|198112189876"


def test_pseudonymise_frame_fills_age_and_drops_id():
    df = pd.DataFrame({"client_id": [make_pnr("19900615"), "K1", make_pnr("19900615")],
                       "municipality": ["Ale"] * 3,
                       "interview_date": pd.to_datetime(["2024-06-14", "2024-06-14", "2024-06-15"]),
                       "age": pd.array([None, None, 50], dtype="Int16")})
    out = pseudonymise_frame(df, KEY, table="grund")
    assert "client_id" not in out and out.columns[0] == "client_pid"
    assert out["age"].tolist()[0] == 33  # day before the 34th birthday
    assert pd.isna(out["age"].iloc[1])  # local number: nothing to derive
    assert out["age"].iloc[2] == 50     # given age is kept


def test_load_key_creates_0600_and_reuses(tmp_path, monkeypatch):
    p = tmp_path / "sub" / "k.key"
    k = load_key(p)
    assert len(k) == 32 and load_key(p) == k
    assert stat.S_IMODE(os.stat(p).st_mode) == 0o600
    monkeypatch.setenv("ASI_KIT_KEY_FILE", str(p))
    assert load_key() == k
    with pytest.raises(AsiInputError):
        load_key(tmp_path / "missing.key", create=False)
    bad = tmp_path / "bad.key"
    bad.write_text("not hex")
    with pytest.raises(AsiInputError):
        load_key(bad)


def test_default_key_path_outside_repo(tmp_path, monkeypatch):
    from asi_lib.pseudonym import default_key_path
    monkeypatch.delenv("ASI_KIT_KEY_FILE", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert default_key_path() == tmp_path / "asi-kit" / "pseudonym.key"


def test_fingerprint_is_not_the_key():
    fp = key_fingerprint(KEY)
    assert len(fp) == 16 and KEY.hex()[:16] != fp
    assert fp == hashlib.sha256(b"asi-kit key fingerprint" + KEY).hexdigest()[:16]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(max_size=20), min_size=1, max_size=20), st.text(max_size=10))
def test_pseudonymiser_never_crashes(ids, mun):
    s = pd.Series(ids)
    p = pseudonymise_ids(s, pd.Series([mun] * len(ids)), KEY)
    assert len(p) == len(ids)
    nonempty = s.str.strip() != ""
    assert p[nonempty].str.fullmatch(r"[0-9a-f]{64}").all()
    parse_personal_numbers(s)
