"""The report's summary and figures, driven through their rules with small hand-made published tables.

Every table here is written by hand as a release publishes it (strings,
``..`` for hidden cells, ``–`` for what cannot be computed, a note on rows
with too few clients), so each rule is checked on a case whose right answer
is known without running the kit: the numbers a sentence may carry are the
published strings themselves.
"""
from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from asi_lib import figures, summary
from asi_lib.release import REGION, Release

AREAS_SV = ["Fysisk hälsa", "Arbete och försörjning", "Alkohol", "Narkotika", "Rättsliga problem",
            "Familj och umgänge", "Psykisk hälsa"]
AREAS_EN = ["Medical status", "Employment and support", "Alcohol", "Drugs", "Legal status",
            "Family and social relationships", "Psychiatric status"]


def pub(columns, rows):
    f = pd.DataFrame(rows, columns=columns).astype(object)
    f.attrs["asi"] = {"published": True, "selection": "senaste Grund per klient i perioden", "unit": "klienter",
                      "legend": ".. = dolt"}
    return f


def overview(n="200", gb=("250", "50", "20 %"), fu=("150", "95", "63 %"), en=False):
    cols = (["Material", "Number", "Of which", "Share", "95% CI, lower", "95% CI, upper", "Note"] if en else
            ["Materialet", "Antal", "Varav", "Andel", "95 % KI, nedre", "95 % KI, övre", "Anmärkning"])
    return pub(cols, [["Klienter", n, "–", "–", "–", "–", ""],
                      ["Målgruppen", gb[0], gb[1], gb[2], "..", "..", ""],
                      ["Baslinjer", fu[0], fu[1], fu[2], "..", "..", ""]])


def table1(women="40 %", alcohol="45 %", drugs="30 %", en=False):
    cols = (["Variable", "Category", "Clients", "Missing", "Clients with the characteristic", "Share",
             "95% CI, lower", "95% CI, upper", "Note"] if en else
            ["Variabel", "Kategori", "Antal klienter", "Saknar värde", "Antal med egenskapen", "Andel",
             "95 % KI, nedre", "95 % KI, övre", "Anmärkning"])
    sex, sub = ("Sex", "Main problem substance") if en else ("Kön", "Huvudsakligt problem / preparat")
    female, male = ("Female", "Male") if en else ("Kvinna", "Man")
    alc, dr = ("Alcohol", "Cannabis") if en else ("Alkohol", "Cannabis")
    return pub(cols, [[sex, male, "200", "0", "..", "..", "..", "..", ""],
                      [sex, female, "200", "0", "80", women, "..", "..", ""],
                      [sub, alc, "200", "0", "90", alcohol, "..", "..", ""],
                      [sub, dr, "200", "0", "60", drugs, "..", "..", ""]])


def means(values, en=False):
    cols = (["Variable", "Clients", "Missing", "Mean", "Standard deviation", "Median", "Note"] if en else
            ["Variabel", "Antal klienter", "Saknar värde", "Medelvärde", "Standardavvikelse", "Median", "Anmärkning"])
    prefix = "Composite score: " if en else "Sammanvägt index: "
    areas = AREAS_EN if en else AREAS_SV
    return pub(cols, [[prefix + a, "200", "0", v, "0,1", "0,2", ""] for a, v in zip(areas, values)])


def comparison(diffs):
    """diffs: per area (lo, hi) of the difference's CI as published strings."""
    cols = ["Mått", "Antal klienter (enheten)", "Medelvärde (enheten)", "Skillnad", "Skillnad, 95 % KI nedre",
            "Skillnad, 95 % KI övre", "Anmärkning"]
    return pub(cols, [["Sammanvägt index: " + a, "200", "0,3", "0,0", lo, hi, ""] for a, (lo, hi) in
                      zip(AREAS_SV, diffs)])


def change(rows, en=False):
    """rows: per area (n pairs, mean0, mean1, diff, lo, hi, note) as published strings."""
    cols = (["Life area", "Measure", "Clients", "Pairs (baseline–follow-up)", "Mean at baseline",
             "Mean at follow-up", "Difference", "95% CI, lower", "95% CI, upper", "Note"] if en else
            ["Livsområde", "Mått", "Antal klienter", "Antal par (Grund–uppföljning)", "Medelvärde vid baslinjen",
             "Medelvärde vid uppföljningen", "Skillnad", "95 % KI, nedre", "95 % KI, övre", "Anmärkning"])
    measure = "Composite score (0–1)" if en else "Sammanvägt index (0–1)"
    rating = "Interviewer rating (0–9)" if en else "Intervjuarskattning (0–9)"
    out = []
    for a, r in zip(AREAS_EN if en else AREAS_SV, rows):
        out.append([a, measure, r[0], *r])
        out.append([a, rating, "100", "100", "4,0", "1,0", "−3,0", "−3,5", "−2,5", ""])   # never used: ratings
    return pub(cols, out)


def reasons(rows):
    return pub(["Orsak", "Antal klienter", "Antal med egenskapen", "Andel", "95 % KI, nedre", "95 % KI, övre",
                "Anmärkning"], [[r, "55", k, s, "..", "..", ""] for r, k, s in rows])


def usage(rows):
    cols = ["Kommun", "Period", "Målgrupp (Grund + bortfall)", "Grundintervjuer", "Bortfall (Grund)",
            "Andel intervjuade", "95 % KI, nedre", "95 % KI, övre", "Uppföljningar", "Preliminär", "Anmärkning"]
    return pub(cols, rows)


GOOD_CHANGE = [("100", "0,30", "0,25", "−0,05", "−0,08", "−0,02", ""),
               ("100", "0,60", "0,59", "−0,01", "−0,04", "0,02", ""),
               ("100", "0,40", "0,22", "−0,18", "−0,22", "−0,14", ""),
               ("100", "0,15", "0,14", "−0,01", "−0,03", "0,01", ""),
               ("100", "0,10", "0,14", "0,04", "0,01", "0,07", ""),      # legal: worse beyond chance
               ("100", "0,20", "0,17", "−0,03", "−0,05", "−0,01", ""),
               ("100", "0,20", "0,18", "−0,02", "−0,05", "0,01", "")]


def unit_tables(**over):
    tabs = {"Materialet i korthet": overview(), "Klientgruppen": table1(),
            "Klientgruppen, medelvärden": means(["0,25", "0,58", "0,36", "0,13", "0,12", "0,18", "0,20"]),
            "Jämfört med övriga": comparison([("−0,02", "0,02")] * 2 + [("0,01", "0,06")] + [("−0,02", "0,02")] * 4),
            "Förändring per område": change(GOOD_CHANGE),
            "Bortfallsorsaker uppföljning": reasons([("Flyttat", "20", "36 %"), ("Avböjer", "25", "45 %")]),
            "Bortfallsorsaker Grund": reasons([("Akut", "30", "60 %"), ("Avböjer", "20", "40 %")]),
            "ASI-användning": usage([["Storby", "2024 H1", "100", "80", "20", "80 %", "71 %", "87 %", "40", "Nej", ""],
                                     ["Storby", "2024 H2", "..", "..", "<5", "..", "..", "..", "30", "Nej", ""],
                                     ["Storby", "2025 H1", "90", "70", "20", "78 %", "68 %", "85 %", "35", "Ja", ""]])}
    tabs.update(over)
    return tabs


def region_tables():
    return {"Materialet i korthet": overview(n="1 000", gb=("1 200", "200", "17 %"), fu=("800", "560", "70 %")),
            "Klientgruppen": table1(women="35 %", alcohol="41 %"),
            "Klientgruppen, medelvärden": means(["0,24", "0,59", "0,33", "0,13", "0,12", "0,18", "0,20"]),
            "Förändring per område": change(GOOD_CHANGE)}


def release(unit=None, *, tendency=False, lang="sv", region=None, name="Storby"):
    return Release(
        manifest={"reference_date": "2025-12-31", "period": "2019-01 – 2025-12",
                  "parameters": {"min_cell": 5, "lang": lang},
                  "units": [{"unit": REGION, "name": "Hela regionen" if lang == "sv" else "The whole region",
                             "clients": "1 000", "tendency": False},
                            {"unit": name, "name": name, "clients": ".." if tendency else "200",
                             "tendency": tendency}]},
        published={REGION: region or region_tables(), name: unit or unit_tables()})


def texts(rel, m="Storby", lang="sv"):
    return [s.text for s in summary.summarise(rel, m, lang)]


# --------------------------------------------------------------------------- the rules
def test_large_municipality_every_rule_speaks_with_the_published_numbers():
    s = summary.summarise(release(), "Storby")
    assert 5 <= len(s) <= 8
    assert [x.rule for x in s] == ["who", "heaviest", "heaviest", "change", "change", "complete", "look", "look"]
    who, heavy, cmp_, best, caveat, complete, look1, look2 = [x.text for x in s]
    assert who == ("Rapporten bygger på 200 klienter med ASI Grund. 40 % är kvinnor (hela regionen: 35 %). "
                   "Vanligaste huvudpreparat är alkohol (45 %; hela regionen: 41 %).")
    assert "arbete och försörjning (sammanvägt index 0,58 av 1; hela regionen: 0,59)" in heavy
    assert "tyngre inom alkohol" in cmp_ and "lättare" not in cmp_          # CI 0,01–0,06 lies above zero
    # the largest improvement whose CI lies below zero: alcohol −0,18; 3 of 7 areas improved (CI < 0:
    # medical, alcohol, family)
    assert "mest inom alkohol (index 0,40 vid baslinjen, 0,22 vid uppföljningen" in best
    assert "−0,22 till −0,14, n = 100 par); 3 av 7 områden" in best
    assert "Problemen ökade inom rättsliga problem" in best                  # CI 0,01–0,07 above zero
    # regression to the mean and the follow-up bortfall in the same sentence: 100 % − 63 % = 37 %
    assert "återgång mot medelvärdet" in caveat and "37 % av dem som borde ha följts upp" in caveat
    assert complete == ("Materialet: 20 % av målgruppen intervjuades inte vid Grund (50 av 250) och 63 % av de "
                        "baslinjer som borde ha följts upp följdes upp.")
    # follow-up 63 % < 70 %: the routine, with the most common reason (45 % > 36 %); Grund bortfall 20 % is
    # not above 20 %, so the second thing is the heavier area (alcohol)
    assert look1.startswith("Att titta på: rutinen för uppföljning") and "avböjer, 45 %" in look1
    assert look2.startswith("Att titta på: alkohol")


def test_ratings_never_used_for_the_change_sentence():
    # every rating row has a bigger improvement (−3,0) than any composite: none of it may appear
    assert not any("3,0" in x or "−3,5" in x for x in texts(release()))


def test_no_follow_ups_says_so_and_writes_no_change_or_caveat():
    empty = [("–", "–", "–", "–", "–", "–", "")] * 7
    rel = release(unit_tables(**{"Materialet i korthet": overview(fu=("150", "0", "0 %")),
                                 "Förändring per område": change(empty)}))
    s = summary.summarise(rel, "Storby")
    ch = [x.text for x in s if x.rule == "change"]
    assert ch == ["Någon förändring kan inte visas ännu: ingen av dem som borde ha följts upp har följts upp."]
    assert not any("återgång" in x.text for x in s)


def test_everything_suppressed_no_number_in_any_sentence():
    hidden = ("..", "..", "..")
    rel = release(unit_tables(**{
        "Materialet i korthet": overview(n="..", gb=hidden, fu=hidden),
        "Klientgruppen": table1(women="..", alcohol="..", drugs=".."),
        "Klientgruppen, medelvärden": means([".."] * 7),
        "Jämfört med övriga": comparison([("..", "..")] * 7),
        "Förändring per område": change([("..",) * 6 + ("",)] * 7),
        "Bortfallsorsaker uppföljning": reasons([("Flyttat", "..", "..")])}))
    s = summary.summarise(rel, "Storby")
    assert 5 <= len(s) <= 8
    assert not any(re.search(r"\d", x.text) for x in s), [x.text for x in s]
    assert {x.rule for x in s} == {"who", "heaviest", "change", "complete", "look"}
    assert any("dolt" in x.text or "dolda" in x.text for x in s)


def test_large_change_with_large_bortfall_carries_the_warning_in_the_same_sentence():
    big = [("40", "0,60", "0,20", "−0,40", "−0,50", "−0,30", "")] * 7
    rel = release(unit_tables(**{"Materialet i korthet": overview(fu=("150", "45", "30 %")),
                                 "Förändring per område": change(big)}))
    caveat = [x.text for x in summary.summarise(rel, "Storby") if x.rule == "change"][1]
    assert caveat.startswith("Läs förändringen med stor försiktighet: 70 %")   # 100 − 30
    assert "återgång mot medelvärdet" in caveat and "för ljus" in caveat
    # at exactly the threshold the strong wording starts (40 % → 60 % followed up)
    rel = release(unit_tables(**{"Materialet i korthet": overview(fu=("150", "90", "60 %"))}))
    assert "stor försiktighet" in [x.text for x in summary.summarise(rel, "Storby") if x.rule == "change"][1]


def test_tendency_rows_and_suppressed_cells_silence_their_rule():
    rows = list(GOOD_CHANGE)
    rows[0] = ("8", "0,90", "0,10", "−0,80", "–", "–", "Endast tendenser (färre än 10 klienter)")
    rows[2] = ("..", "0,40", "0,22", "−0,18", "−0,22", "−0,14", "")      # pairs hidden: the row is not used
    rel = release(unit_tables(**{"Förändring per område": change(rows)}))
    best = [x.text for x in summary.summarise(rel, "Storby") if x.rule == "change"][0]
    assert "−0,80" not in best and "alkohol" not in best
    assert "mest inom familj och umgänge" in best and "1 av 5 områden" in best


def test_tiny_municipality_says_what_cannot_be_said_and_uses_only_the_region():
    own = unit_tables(**{"Klientgruppen, medelvärden": means(["0,99"] * 7)})    # must never be shown
    s = summary.summarise(release(own, tendency=True), "Storby")
    text = " ".join(x.text for x in s)
    assert s[0].rule == "small" and s[0].text.startswith("Storby har färre än tio klienter")
    assert "0,99" not in text and "200" not in text and "40 %" not in text
    assert "I hela regionen: tyngst är problemen inom arbete och försörjning (sammanvägt index 0,59 av 1)." in text
    assert s[-1].rule == "small" and "slå ihop flera år" in s[-1].text
    assert 5 <= len(s) <= 8


def test_region_report_has_no_comparison_with_itself():
    s = texts(release(), None)
    assert s[0] == ("Rapporten bygger på 1 000 klienter med ASI Grund. 35 % är kvinnor. Vanligaste "
                    "huvudpreparat är alkohol (41 %).")
    assert not any("hela regionen:" in x for x in s)


def test_english_summary_from_english_tables():
    unit = {"Materialet i korthet": overview(en=True), "Klientgruppen": table1(en=True),
            "Klientgruppen, medelvärden": means(["0.25", "0.58", "0.36", "0.13", "0.12", "0.18", "0.20"], en=True),
            "Förändring per område": change([("100", "0.40", "0.22", "-0.18", "-0.22", "-0.14", "")] * 7, en=True)}
    region = {"Materialet i korthet": overview(en=True), "Klientgruppen": table1(women="35%", en=True),
              "Klientgruppen, medelvärden": means(["0.24", "0.59", "0.33", "0.13", "0.12", "0.18", "0.20"],
                                                  en=True)}
    s = texts(release(unit, lang="en", region=region), "Storby", "en")
    joined = " ".join(s)
    assert s[0].startswith("The report is based on 200 clients with an ASI baseline. 40 % are women "
                           "(the whole region: 35%).")
    assert "Problems are heaviest in Employment and support" in joined
    assert "regression to the mean" in joined
    assert not re.search(r"[åäöÅÄÖ]", joined), joined


def test_summary_markdown_escapes_names_and_has_the_heading():
    name = "<img src=x onerror=alert(1)>*by*"
    rel = release(tendency=True, name=name)
    out = summary.summary_markdown(rel, name)
    assert out.startswith("## Sammanfattning") and "<img" not in out


# --------------------------------------------------------------------------- figures
def test_change_figure_draws_only_published_rows_with_their_n():
    rows = list(GOOD_CHANGE)
    rows[1] = ("..", "..", "..", "..", "..", "..", "")
    fig = figures.change_figure(release(unit_tables(**{"Förändring per område": change(rows)})), "Storby")
    ax = fig.axes[0]
    labels = [tx.get_text() for tx in ax.get_yticklabels()]
    assert len(labels) == 6 and not any("Arbete" in x for x in labels)
    assert "Alkohol (n = 100 par)" in labels
    xs = sorted(round(float(c.lines[0].get_xdata()[0]), 2) for c in ax.containers)   # one errorbar per area
    assert xs == sorted([-0.05, -0.18, -0.01, 0.04, -0.03, -0.02])   # the published differences, nothing else
    ax.figure.canvas.draw()
    ticks = [tx.get_text() for tx in ax.get_xticklabels() if tx.get_text()]
    assert any("," in x for x in ticks) and not any("." in x for x in ticks)      # decimal commas
    assert any(x.startswith("\u2212") for x in ticks)


def test_change_figure_none_without_follow_ups():
    empty = [("–",) * 6 + ("",)] * 7
    assert figures.change_figure(release(unit_tables(**{"Förändring per område": change(empty)})), "Storby") is None
    assert figures.show(None, "sv").data.startswith("*För få")


def test_usage_and_coverage_leave_hidden_cells_out_and_say_n():
    rel = release()
    fig = figures.usage_figure(rel, "Storby")
    bars = [p for p in fig.axes[0].patches]
    heights = sorted(round(b.get_height()) for b in bars)
    assert heights == sorted([80, 20, 40, 30, 70, 20, 35])   # 2024 H2: Grund ".." and bortfall "<5" not drawn
    cov = figures.coverage_figure(rel, "Storby")
    ticks = [tx.get_text() for tx in cov.axes[0].get_xticklabels()]
    assert ticks == ["2024 H1 (n = 100)", "2024 H2 (n = ..)", "2025 H1 (n = 90)"]
    legend = [tx.get_text() for tx in cov.legends[0].get_texts()]
    assert any("63 %" in x for x in legend)     # the follow-up share as published


def test_figure_text_from_data_is_drawn_literally():
    name = "$\\frac{1}{0}$ & <b>"
    rel = release(name=name)
    fig = figures.change_figure(rel, name)
    title = fig.axes[0].get_title(loc="left")
    assert "\\$" in title            # mathtext escaped: drawn as the literal dollar signs
    fig.canvas.draw()                # and it renders without a mathtext error


def test_english_figure_labels():
    rel = release()
    fig = figures.usage_figure(rel, "Storby", "en")
    texts_ = [fig.axes[0].get_ylabel(), fig.axes[0].get_xlabel(), *[t.get_text() for t in fig.legends[0].get_texts()]]
    assert not any(re.search(r"[åäöÅÄÖ]", x) for x in texts_), texts_
    assert figures.number_formatter("en", 2)(0.5) == "0.50"
    assert np.isclose(summary._num("−0,05"), -0.05) and np.isnan(summary._num(".."))


@pytest.mark.parametrize("bad", ["de", "fi"])
def test_unknown_language_is_an_input_error(bad):
    from asi_lib.errors import AsiInputError

    with pytest.raises(AsiInputError):
        summary.summarise(release(), "Storby", bad)
