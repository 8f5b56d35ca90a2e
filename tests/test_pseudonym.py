"""Personal numbers, Luhn, ages and keyed pseudonyms, checked against hand-worked values."""
import hashlib
import hmac
import os
import stat
import sys
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import assume, given, settings
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


# ---------------------------------------------------------------- identity numbers in any spelling
SPELLINGS = ["-", "\u2013", "\u2014", "\u2212", "\u2011", " ", "\u00a0", "\u202f", "", " - ", " \u2013 ", "\uff0d"]


@pytest.mark.parametrize("sep", SPELLINGS)
def test_every_common_separator_is_the_same_person(sep):
    hyphen = pseudonymise_ids(pd.Series(["811218-9876"]), pd.Series(["Ale"]), KEY).iloc[0]
    for written in (f"811218{sep}9876", f"19811218{sep}9876", f" 811218{sep}9876\u00a0"):
        info = parse_personal_numbers(pd.Series([written]), ref_date="2024-01-01")
        assert info["valid"].iloc[0], repr(written)
        assert info["birth_date"].iloc[0] == pd.Timestamp("1981-12-18")
        # independent HMAC on the documented message: the same pseudonym as the hyphen spelling
        assert pseudonymise_ids(pd.Series([written]), pd.Series(["Bjuv"]), KEY).iloc[0] == hyphen == \
            hmac.new(KEY, b"pnr|198112189876", hashlib.sha256).hexdigest()


def test_coordination_number_and_plus_in_other_spellings():
    df = parse_personal_numbers(pd.Series(["701063\u20132391", "701063\u00a02391", "\uff17\uff10\uff11\uff10\uff16\uff13-2391",
                                           make_pnr("19200101", sep="\uff0b")]), ref_date="2024-06-01")
    assert df["valid"].all()
    assert df["coordination"].tolist() == [True, True, True, False]
    assert df["birth_date"].dt.year.tolist() == [1970, 1970, 1970, 1920]  # fullwidth plus: 100 or older


def test_wrong_check_digit_in_other_spelling_is_shaped_not_valid():
    df = parse_personal_numbers(pd.Series(["811218\u20139875", "811218\u00a09875"]))
    assert df["shaped"].all() and not df["valid"].any()


def test_age_derived_from_en_dash_spelling():
    df = pd.DataFrame({"client_id": [make_pnr("19900615", sep="\u2013"), make_pnr("19900615", sep="\u00a0")],
                       "municipality": ["Ale"] * 2, "interview_date": pd.to_datetime(["2024-06-14", "2024-06-15"]),
                       "age": pd.array([None, None], dtype="Int16")})
    assert pseudonymise_frame(df, KEY, table="grund")["age"].tolist() == [33, 34]


def test_mask_identifiers_every_spelling_and_local_numbers_untouched():
    from asi_lib.pseudonym import mask_identifiers
    for sep in SPELLINGS:
        for pnr in (f"811218{sep}9876", f"19811218{sep}9876", f"811218{sep}9875"):
            assert mask_identifiers(f"fil {pnr}.csv") == "fil ***.csv", repr(pnr)
    assert mask_identifiers("\uff18\uff11\uff11\uff12\uff11\uff18-\uff19\uff18\uff17\uff16") == "***"
    for keep in ("K-17", "2024-03-01", "A 1234", "tel 08-123 45", "12345678901234"):
        assert mask_identifiers(keep) == keep


_DIGITS = {"ascii": "0123456789", "fullwidth": "".join(chr(0xFF10 + i) for i in range(10))}


@settings(max_examples=150, deadline=None)
@given(st.dates(min_value=pd.Timestamp("1901-01-01").date(), max_value=pd.Timestamp("2005-12-31").date()),
       st.integers(0, 999), st.sampled_from(SPELLINGS + ["+"]), st.booleans(), st.booleans(),
       st.sampled_from(sorted(_DIGITS)))
def test_fuzz_spellings_give_one_pseudonym_and_are_masked(day, nnn, sep, twelve, coord, digits):
    from asi_lib.pseudonym import mask_identifiers
    ymd = day.strftime("%Y%m%d")
    if coord:
        ymd = ymd[:6] + f"{int(ymd[6:]) + 60:02d}"
    canon = make_pnr(ymd, nnn=f"{nnn:03d}", twelve=True, sep="")
    written = make_pnr(ymd, nnn=f"{nnn:03d}", twelve=twelve, sep=sep)
    written = written.translate(str.maketrans("0123456789", _DIGITS[digits]))
    if not twelve:  # 10 digits name one person only within the last 100 years ('+' = 100 or older)
        age_days = (pd.Timestamp.today() - pd.Timestamp(day)).days
        assume((sep == "+") == (age_days > 100 * 365.25 + 1))
        assume(abs(age_days - 100 * 365.25) > 2)
    p = pseudonymise_ids(pd.Series([written]), pd.Series(["Ale"]), KEY).iloc[0]
    assert p == hmac.new(KEY, f"pnr|{canon}".encode(), hashlib.sha256).hexdigest(), repr(written)
    assert mask_identifiers(f"x {written} y") == "x *** y"


def test_personal_number_parts_in_arrow_equal_python_regex():
    """The Arrow (RE2) extraction of the personal-number parts gives pandas' ``str.extract`` groups, NaN and all.

    Random identifiers of digits, dashes, plus, spaces, NBSP, letters and line breaks, normalised as
    the kit does; the reference is pandas' Python-regex ``str.extract`` written out here.
    """
    import numpy as np

    from asi_lib import pseudonym as ps
    rng = np.random.default_rng(3)
    chars = list("0123456789-+ \u2013\u00a0aZ\n")
    vals = ["811218-9876", "198112189876", "811218+9876", "８１１２１８＋９８７６", "", "A17", "811218-98761"]
    vals += ["".join(rng.choice(chars, size=rng.integers(0, 14))) for _ in range(3000)]
    vals += ["".join(rng.choice(list("0123456789"), size=k)) for k in (10, 12) for _ in range(500)]
    norm = ps.normalise_id_text(pd.Series(vals, dtype="str"))
    expected = norm.str.extract(r"^(?P<c>\d{2})?(?P<y>\d{2})(?P<m>\d{2})(?P<d>\d{2})(?P<sep>[-+])?(?P<n>\d{4})$")
    got = ps._extract_pnr(norm)
    pd.testing.assert_frame_equal(got, expected)
    assert got["y"].notna().sum() > 1000
