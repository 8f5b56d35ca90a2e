"""LANG="en" renders the whole municipality report in English: no Swedish word except names.

A real run: a small demo store, an English release built from it and the
report notebook rendered by papermill for a large and a tiny municipality
(``render_reports(..., lang="en")``). What a reader sees (tags, styles and
embedded images removed) must hold no Swedish marker word and no å, ä, ö
once the names of the municipalities are taken out. The figures' words are
checked in tests/test_summary.py (labels drawn into a PNG cannot be read here).
"""
from __future__ import annotations

import html
import re

import pytest

from asi_lib import reports
from asi_lib.demo import build_demo_store
from asi_lib.release import load_release

AS_OF = "2026-06-30"
BIG, SMALL = "Älvstad", "Östermyra"
#: Words that are Swedish and not English (what a half-translated report would show).
SWEDISH = {"och", "för", "med", "av", "på", "är", "inte", "klienter", "kommun", "andel", "antal", "urval", "enhet",
           "baslinje", "baslinjen", "uppföljning", "bortfall", "sammanfattning", "bilaga", "totalt", "kvinnor",
           "kvinna", "som", "eller", "vid", "hela", "regionen", "saknas", "dolt", "endast", "tendenser", "okänd",
           "tabeller", "ja", "nej", "tyngst", "förändring", "medelvärde", "skillnad", "livsområde", "orsak",
           "preliminär", "anmärkning", "kommunrapport", "referensdatum", "materialet"}


def visible_words(path, names) -> list[str]:
    s = path.read_text(encoding="utf-8")
    s = re.sub(r"<style.*?</style>", " ", s, flags=re.S)
    s = re.sub(r"data:image/[a-z+]+;base64,[A-Za-z0-9+/=]+", " ", s)
    s = html.unescape(re.sub(r"<[^>]+>", " ", s))
    for n in sorted(names, key=len, reverse=True):
        s = s.replace(n, " ")
    return re.findall(r"\w+", s)


@pytest.fixture(scope="module")
def english(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("english")
    store = build_demo_store(tmp / "demo", n_clients=300, quiet=True, as_of=AS_OF)["store"]
    out = tmp / "reports"
    results = reports.render_reports(store, out, municipalities=[BIG, SMALL], workers=2, as_of=AS_OF,
                                     timeout=300, progress=False, lang="en")
    return out, {r.municipality: r for r in results}


def test_english_reports_render(english):
    _, res = english
    assert all(r.ok for r in res.values()), {m: r.error for m, r in res.items()}


@pytest.mark.parametrize("who", [BIG, SMALL])
def test_no_swedish_in_an_english_report_except_names(english, who):
    out, res = english
    names = load_release(out / "release").municipalities
    words = visible_words(res[who].html, names)
    assert len(words) > 200
    swedish = sorted({w for w in words if w.lower() in SWEDISH or re.search("[åäöÅÄÖ]", w)})
    assert not swedish, swedish
    text = " ".join(words)
    assert "Summary" in text and "ASI report" in text


def test_no_swedish_in_the_english_index_except_names(english):
    out, _ = english
    names = load_release(out / "release").municipalities
    words = visible_words(out / "index.html", names)
    assert len(words) > 40
    swedish = sorted({w for w in words if w.lower() in SWEDISH or re.search("[åäöÅÄÖ]", w)})
    assert not swedish, swedish
    assert "Reference date" in " ".join(words)


def test_the_checker_finds_swedish(english):   # the test can fail: the Swedish words are found
    out, res = english
    page = res[BIG].html.with_name("sv.html")
    page.write_text("<p>Sammanfattning: 40 % är kvinnor, Älvstad</p>", encoding="utf-8")
    words = visible_words(page, [BIG])
    assert {w for w in words if w.lower() in SWEDISH or re.search("[åäöÅÄÖ]", w)} == {"Sammanfattning", "är",
                                                                                     "kvinnor"}


def test_a_swedish_release_is_refused_for_an_english_report(english, tmp_path):
    from asi_lib import report_text
    from asi_lib.errors import AsiInputError

    out, _ = english
    rel = load_release(out / "release")
    assert report_text.check_release_lang(rel, "en") == "en"
    with pytest.raises(AsiInputError, match="--lang sv"):
        report_text.check_release_lang(rel, "sv")
