"""The report's first page: 5–8 plain sentences written by rules from the *published* numbers.

:func:`summarise` reads only what a release publishes for a unit (and for the
region, as comparison): the strings of its tables, parsed back into numbers.
It never opens the store and never computes a new statistic; every number in
a sentence is a published cell shown as published ("15 %", "0,24"). A
sentence is written only when all the cells it needs are numbers: a hidden
cell (``..``, ``<5``), a cell that cannot be computed (``–``) or a row
marked *endast tendenser* (fewer than ten clients) silences that rule, and
the rule then says, where it matters, that the figure cannot be shown.

The rules, in the order of the sentences (documented in ``docs/reports.md``,
section "Sammanfattning"):

``who``
    Clients with ASI Grund (the unit's "Materialet i korthet", first row);
    the share of women and the most common main substance (Table 1,
    "Klientgruppen"), each next to the region's published share.
``heaviest``
    The life area with the highest composite mean ("Klientgruppen,
    medelvärden"), next to the region's mean of the same area; then the
    areas where the comparison with the other municipalities ("Jämfört med
    övriga") has a 95 % CI of the difference entirely above (heavier) or
    below (lighter) zero.
``change``
    From "Förändring per område", composite scores only: the area with the
    largest improvement whose CI lies below zero, with its baseline and
    follow-up means and CI, and how many areas improved or worsened beyond
    chance; the next sentence carries the regression-to-the-mean caveat and
    the follow-up bortfall (100 % − the published share followed up among
    due baselines) in the same sentence, stronger when the bortfall is at
    least :data:`LARGE_BORTFALL` %. No follow-up or nothing publishable: a
    sentence saying that no change can be shown, and why.
``complete``
    Grund bortfall (share of the target group not interviewed, k of n) and
    the share of due baselines followed up ("Materialet i korthet").
``look``
    At most two things to look into, in this order: follow-up coverage
    below :data:`LOW_FOLLOWUP` % (with the most common recorded reason,
    "Bortfallsorsaker uppföljning"); Grund bortfall above
    :data:`HIGH_GRUND_BORTFALL` % (with its most common reason); an area
    heavier than in the other municipalities; an area that worsened. None of
    them: measure again next period (PDSA).
``small``
    Under ten clients (the release's tendency flag) the rules above are not
    used for the unit: two sentences say what cannot be said and why, the
    region's ``heaviest`` and ``change`` sentences follow as context
    (labelled as the region's), and the last sentence points to pooling
    years or neighbouring municipalities.

Words come from :mod:`asi_lib.report_text` (``SUMMARY``), in Swedish or English.
"""
from __future__ import annotations

import re
from typing import NamedTuple

import numpy as np
import pandas as pd

from .report_text import SUMMARY, check_lang

__all__ = ["Sentence", "summarise", "summary_markdown", "LARGE_BORTFALL", "LOW_FOLLOWUP", "HIGH_GRUND_BORTFALL",
           "MAX_SENTENCES", "look_markdown", "example_release"]

#: Follow-up bortfall (%) from which the change sentence warns that the picture may be too bright.
LARGE_BORTFALL = 40.0
#: Follow-up coverage (%) under which the summary suggests looking at the follow-up routine.
LOW_FOLLOWUP = 70.0
#: Grund bortfall (%) over which the summary suggests looking at who is not interviewed.
HIGH_GRUND_BORTFALL = 20.0
#: The summary never has more sentences than this.
MAX_SENTENCES = 8


class Sentence(NamedTuple):
    """One sentence of the summary and the rule that wrote it."""

    rule: str
    text: str


# --------------------------------------------------------------------------- reading published cells
def _num(value) -> float:
    """A published cell as a number ("0,24", "−0,05", "3 005", "15 %"); markers and text → NaN."""
    s = str(value).replace("\u2212", "-").replace(",", ".").replace("%", "")
    s = re.sub(r"\s", "", s)
    try:
        return float(s)
    except ValueError:
        return float("nan")


def _col(frame: pd.DataFrame, *names: str) -> str | None:
    for n in names:
        if n in frame.columns:
            return n
    return None


def _heads(key: str) -> tuple[str, str]:
    from .publish import COLUMN_LABELS

    return COLUMN_LABELS[key]


def _usable(frame: pd.DataFrame) -> np.ndarray:
    """Rows that are not marked "endast tendenser" (the note column is empty)."""
    note = _col(frame, *_heads("tendens"))
    if note is None:
        return np.ones(len(frame), dtype=bool)
    return (frame[note].astype(str).str.strip() == "").to_numpy()


def _cell(frame: pd.DataFrame | None, row: int, *heads: str) -> tuple[float, str]:
    """(number, published text) of one cell; NaN when hidden, missing or a tendency row."""
    if frame is None or row is None or row >= len(frame):
        return float("nan"), ""
    col = _col(frame, *heads)
    note = _col(frame, *_heads("tendens"))   # _usable(frame)[row], for this row only (called per cell)
    if col is None or (note is not None and str(frame[note].iloc[row]).strip() != ""):
        return float("nan"), ""
    text = str(frame[col].iloc[row]).strip()
    return _num(text), text


def _rows_where(frame: pd.DataFrame | None, heads, value) -> list[int]:
    if frame is None:
        return []
    col = _col(frame, *heads)
    if col is None:
        return []
    return list(np.flatnonzero(frame[col].astype(str).to_numpy() == str(value)))


def _area_labels(lang: str) -> dict[str, str]:
    from .codebook import AREAS, load_codebook

    cb = load_codebook()
    return {a: cb.areas[a]["label_sv" if lang == "sv" else "label_en"] for a in AREAS}


def _lower(area: str, lang: str) -> str:
    return area[:1].lower() + area[1:] if lang == "sv" else area


# --------------------------------------------------------------------------- facts from the tables
def _overview(tabs, lang):
    o = tabs.get("Materialet i korthet")
    n, n_txt = _cell(o, 0, "Antal", "Number")
    gb_n, gb_n_txt = _cell(o, 1, "Antal", "Number")
    gb_k, gb_k_txt = _cell(o, 1, "Varav", "Of which")
    gb, gb_txt = _cell(o, 1, "Andel", "Share")
    due, due_txt = _cell(o, 2, "Antal", "Number")
    fu_k, fu_k_txt = _cell(o, 2, "Varav", "Of which")
    fu, fu_txt = _cell(o, 2, "Andel", "Share")
    return dict(n=n, n_txt=n_txt, gb_n=gb_n, gb_n_txt=gb_n_txt, gb_k=gb_k, gb_k_txt=gb_k_txt, gb=gb, gb_txt=gb_txt,
                due=due, due_txt=due_txt, fu_k=fu_k, fu_k_txt=fu_k_txt, fu=fu, fu_txt=fu_txt)


def _category_share(tabs, var: str, code: str | None, lang: str):
    """(label, share, text) of one category of Table 1, or of the largest published one (code None)."""
    from .publish import label_values, measure_label

    t1 = tabs.get("Klientgruppen")
    rows = _rows_where(t1, _heads("variable"), measure_label(var, lang))
    if not rows:
        return None
    cat_col = _col(t1, *_heads("category"))
    share_col = _col(t1, *_heads("share"))
    if cat_col is None or share_col is None:
        return None
    ok = _usable(t1)
    cands = [(t1[cat_col].iloc[r], _num(t1[share_col].iloc[r]), str(t1[share_col].iloc[r])) for r in rows if ok[r]]
    cands = [c for c in cands if np.isfinite(c[1])]
    if code is not None:
        want = str(label_values(pd.Series([code]), var, lang).iloc[0])
        cands = [c for c in cands if c[0] == want]
    if not cands:
        return None
    return max(cands, key=lambda c: c[1])


def _share_of(tabs, var: str, label: str, lang: str):
    from .publish import measure_label

    t1 = tabs.get("Klientgruppen")
    cat = _col(t1, *_heads("category")) if t1 is not None else None
    for r in _rows_where(t1, _heads("variable"), measure_label(var, lang)):
        if cat and t1[cat].iloc[r] == label:
            v, txt = _cell(t1, r, *_heads("share"))
            return (v, txt) if np.isfinite(v) else None
    return None


def _composite_means(tabs, lang) -> dict[str, tuple[float, str]]:
    from .publish import measure_label

    t = tabs.get("Klientgruppen, medelvärden")
    out = {}
    for code, area in _area_labels(lang).items():
        for r in _rows_where(t, _heads("variable"), measure_label(f"composite_{code}", lang)):
            v, txt = _cell(t, r, *_heads("mean"))
            if np.isfinite(v):
                out[area] = (v, txt)
    return out


def _comparison(tabs, lang) -> tuple[list[str], list[str]]:
    """Areas heavier / lighter than in the other municipalities (CI of the difference excludes 0)."""
    from .publish import measure_label

    t = tabs.get("Jämfört med övriga")
    heavier, lighter = [], []
    for code, area in _area_labels(lang).items():
        for r in _rows_where(t, _heads("measure"), measure_label(f"composite_{code}", lang)):
            lo, _ = _cell(t, r, *_heads("diff_ci_low"))
            hi, _ = _cell(t, r, *_heads("diff_ci_high"))
            if np.isfinite(lo) and np.isfinite(hi):
                if lo > 0:
                    heavier.append(area)
                elif hi < 0:
                    lighter.append(area)
    return heavier, lighter


def _changes(tabs, lang) -> list[dict]:
    """Composite rows of the change table with every cell a sentence needs published."""
    from .change import MEASURE_LABELS

    t = tabs.get("Förändring per område")
    if t is None:
        return []
    area_col, measure_col = _col(t, *_heads("area")), _col(t, *_heads("measure"))
    if area_col is None or measure_col is None:
        return []
    out = []
    for r in np.flatnonzero(t[measure_col].astype(str).to_numpy() == MEASURE_LABELS[lang]["composite"]):
        vals = {k: _cell(t, r, *_heads(k)) for k in ("n_pairs", "mean_0", "mean_1", "diff", "ci_low", "ci_high")}
        if all(np.isfinite(v[0]) for v in vals.values()):
            out.append({"area": str(t[area_col].iloc[r]), **{k: v[0] for k, v in vals.items()},
                        **{f"{k}_txt": v[1] for k, v in vals.items()}})
    return out


def _top_reason(tabs, key, lang):
    t = tabs.get(key)
    if t is None or not len(t):
        return None
    share_col = _col(t, *_heads("share"))
    if share_col is None:
        return None
    ok = _usable(t)
    vals = [(_num(t[share_col].iloc[r]), r) for r in range(len(t)) if ok[r]]
    vals = [v for v in vals if np.isfinite(v[0])]
    if not vals:
        return None
    _, r = max(vals)
    return str(t.iloc[r, 0]), str(t[share_col].iloc[r])


# --------------------------------------------------------------------------- the rules
def _rule_who(tabs, region, lang, is_region, S):
    o = _overview(tabs, lang)
    if not np.isfinite(o["n"]):
        return [Sentence("who", S["who_hidden"])]
    parts = [S["who_n"].format(n=o["n_txt"])]
    women = _category_share(tabs, "sex", "female", lang)
    if women:
        reg = None if is_region else _share_of(region, "sex", women[0], lang)
        parts.append((S["who_women_region"] if reg else S["who_women"]).format(share=women[2],
                                                                               region=reg[1] if reg else ""))
    sub = _category_share(tabs, "main_substance", None, lang)
    if sub:
        reg = None if is_region else _share_of(region, "main_substance", sub[0], lang)
        parts.append((S["who_substance_region"] if reg else S["who_substance"]).format(
            substance=_lower(sub[0], lang), share=sub[2], region=reg[1] if reg else ""))
    if not women and not sub:
        parts.append(S["who_mix_hidden"])
    return [Sentence("who", " ".join(parts))]


def _prefixed(prefix: str, text: str) -> str:
    return prefix + text[:1].lower() + text[1:] if prefix else text


def _rule_heaviest(tabs, region, lang, is_region, S, prefix=""):
    means = _composite_means(tabs, lang)
    if not means:
        return [Sentence("heaviest", S["heaviest_hidden"])]
    area, (v, txt) = max(means.items(), key=lambda kv: kv[1][0])
    reg = None if is_region else _composite_means(region, lang).get(area)
    out = [Sentence("heaviest", _prefixed(prefix, (S["heaviest_region"] if reg else S["heaviest"]).format(
        area=_lower(area, lang), mean=txt, region=reg[1] if reg else "")))]
    if not is_region:
        heavier, lighter = _comparison(tabs, lang)
        if heavier or lighter:
            bits = []
            if heavier:
                bits.append(S["cmp_heavier"].format(areas=_join([_lower(a, lang) for a in heavier], lang)))
            if lighter:
                bits.append(S["cmp_lighter"].format(areas=_join([_lower(a, lang) for a in lighter], lang)))
            out.append(Sentence("heaviest", S["cmp_sentence"].format(what=S["and"].join(bits))))
    return out


def _rule_change(tabs, lang, S, prefix=""):
    o = _overview(tabs, lang)
    rows = _changes(tabs, lang)
    bortfall = 100.0 - o["fu"] if np.isfinite(o["fu"]) else float("nan")
    if not rows:
        if np.isfinite(o["fu_k"]) and o["fu_k"] == 0:
            return [Sentence("change", _prefixed(prefix, S["change_none"]))]
        return [Sentence("change", _prefixed(prefix, S["change_hidden"]))]
    improved = [r for r in rows if r["ci_high"] < 0]
    worse = [r for r in rows if r["ci_low"] > 0]
    if improved:
        best = min(improved, key=lambda r: r["diff"])
        first = S["change_best"].format(area=_lower(best["area"], lang), m0=best["mean_0_txt"],
                                        m1=best["mean_1_txt"], lo=best["ci_low_txt"], hi=best["ci_high_txt"],
                                        n=best["n_pairs_txt"], k=len(improved), total=len(rows))
    else:
        first = S["change_flat"].format(total=len(rows))
    if worse:
        first += " " + S["change_worse"].format(areas=_join([_lower(r["area"], lang) for r in worse], lang))
    if not np.isfinite(bortfall):
        caveat = S["change_caveat_unknown"]
    elif bortfall >= LARGE_BORTFALL:
        caveat = S["change_caveat_large"].format(bortfall=_pct(bortfall, lang))
    else:
        caveat = S["change_caveat"].format(bortfall=_pct(bortfall, lang))
    return [Sentence("change", _prefixed(prefix, first)), Sentence("change", caveat)]


def _rule_complete(tabs, lang, S):
    o = _overview(tabs, lang)
    bits = []
    if np.isfinite(o["gb"]) and np.isfinite(o["gb_k"]) and np.isfinite(o["gb_n"]):
        bits.append(S["complete_grund"].format(share=o["gb_txt"], k=o["gb_k_txt"], n=o["gb_n_txt"]))
    if np.isfinite(o["fu"]):
        bits.append(S["complete_followup"].format(share=o["fu_txt"]))
    if not bits:
        return [Sentence("complete", S["complete_hidden"])]
    return [Sentence("complete", S["complete_sentence"].format(what=S["and"].join(bits)))]


def _rule_look(tabs, lang, is_region, S):
    o = _overview(tabs, lang)
    out = []
    if np.isfinite(o["fu"]) and o["fu"] < LOW_FOLLOWUP:
        reason = _top_reason(tabs, "Bortfallsorsaker uppföljning", lang)
        out.append(S["look_followup"].format(share=o["fu_txt"]) + (
            S["look_reason"].format(reason=_lower(reason[0], lang), share=reason[1]) if reason else "") + ".")
    if np.isfinite(o["gb"]) and o["gb"] > HIGH_GRUND_BORTFALL:
        reason = _top_reason(tabs, "Bortfallsorsaker Grund", lang)
        out.append(S["look_grund"].format(share=o["gb_txt"]) + (
            S["look_reason"].format(reason=_lower(reason[0], lang), share=reason[1]) if reason else "") + ".")
    if not is_region:
        heavier, _ = _comparison(tabs, lang)
        if heavier:
            out.append(S["look_heavier"].format(area=_lower(heavier[0], lang)))
    worse = [r for r in _changes(tabs, lang) if r["ci_low"] > 0]
    if worse:
        out.append(S["look_worse"].format(area=_lower(max(worse, key=lambda r: r["diff"])["area"], lang)))
    if not out:
        out.append(S["look_none"])
    return [Sentence("look", s) for s in out[:2]]


def _join(items: list[str], lang: str) -> str:
    word = " och " if lang == "sv" else " and "
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + word + items[-1]


def _pct(value: float, lang: str) -> str:
    """A percentage written as publish writes shares ("37 %"), so a sentence reads like the tables."""
    from .publish import _fmt_pct

    return str(_fmt_pct(np.array([value / 100.0]), lang)[0])


# --------------------------------------------------------------------------- a tiny example
def example_release(lang: str = "sv"):
    """A hand-made release of one municipality ("Exempelby") and the region, for examples and doctests.

    Its tables are written as a release publishes them (strings, ``..``
    where hidden), with only the cells the summary and figures read.

    Returns
    -------
    asi_lib.release.Release

    Examples
    --------
    >>> example_release().municipalities
    ['Exempelby']
    """
    from .codebook import AREAS
    from .publish import COLUMN_LABELS, measure_label
    from .release import REGION, Release

    i = 0 if lang == "sv" else 1
    h = {k: v[i] for k, v in COLUMN_LABELS.items()}
    yes = ("Ja", "Yes")[i]

    def frame(cols, rows):
        f = pd.DataFrame(rows, columns=cols).astype(object)
        f.attrs["asi"] = {"published": True}
        return f

    pct = "\u00a0%" if lang == "sv" else "%"

    def dec(x):
        return f"{x:.2f}".replace(".", ",").replace("-", "\u2212") if lang == "sv" else f"{x:.2f}"

    def unit(n, women, fu, shift):
        areas = [a for a in AREAS if a != "gambling"]
        from .change import MEASURE_LABELS

        return {
            "Materialet i korthet": frame(
                [h["label"], "Antal", "Varav", h["share"], h["tendens"]] if lang == "sv" else
                [h["label"], "Number", "Of which", h["share"], h["tendens"]],
                [["", n, "–", "–", ""], ["", "120", "20", f"17{pct}", ""], ["", "80", fu[0], fu[1] + pct, ""]]),
            "Klientgruppen": frame([h["variable"], h["category"], h["share"], h["tendens"]],
                                   [[measure_label("sex", lang), ("Kvinna", "Female")[i], women + pct, ""]]),
            "Klientgruppen, medelvärden": frame(
                [h["variable"], h["mean"], h["tendens"]],
                [[measure_label(f"composite_{a}", lang), dec(0.1 + 0.05 * k + shift), ""]
                 for k, a in enumerate(areas)]),
            "Förändring per område": frame(
                [h["area"], h["measure"], h["n_pairs"], h["mean_0"], h["mean_1"], h["diff"], h["ci_low"],
                 h["ci_high"], h["tendens"]],
                [[measure_label(a, lang), MEASURE_LABELS[lang]["composite"], "50", dec(0.3), dec(0.3 - d),
                  dec(-d), dec(-d - 0.03), dec(-d + 0.03), ""] for a, d in zip(areas, (0.05, 0.0, 0.1, 0.01,
                                                                                     0.04, 0.02, 0.06))]),
            "ASI-användning": frame(
                [h["period"], "n", "k", "b", h["share"], h["ci_low"], h["ci_high"], "u", "p", h["tendens"]],
                [["2025 H1", "60", "50", "10", f"83{pct}", f"72{pct}", f"91{pct}", "30", ("Nej", "No")[i], ""],
                 ["2025 H2", "60", "48", "12", f"80{pct}", f"68{pct}", f"88{pct}", "25", yes, ""]]),
        }

    region_name = ("Hela regionen", "The whole region")[i]
    manifest = {"reference_date": "2025-12-31", "period": "2025-01 – 2025-12",
                "parameters": {"min_cell": 5, "lang": lang},
                "units": [{"unit": REGION, "name": region_name, "clients": "400", "tendency": False},
                          {"unit": "Exempelby", "name": "Exempelby", "clients": "100", "tendency": False}]}
    region = unit("400", "35", ("52", "65"), 0.01)
    muni_col = measure_label("municipality", lang)
    region["Problem per kommun"] = frame(
        [muni_col, h["measure"], h["n"], h["mean"], h["ci_low"], h["ci_high"], h["tendens"]],
        [[g, measure_label(f"composite_{a}", lang), n, dec(m), dec(m - 0.04), dec(m + 0.04), ""]
         for g, n, off in (("Exempelby", "100", 0.0), (("Totalt", "Total")[i], "400", 0.02))
         for a, m in zip(AREAS, [0.1 + 0.05 * k + off for k in range(len(AREAS))])])
    return Release(manifest=manifest, published={REGION: region,
                                                 "Exempelby": unit("100", "40", ("50", "63"), 0.0)})


# --------------------------------------------------------------------------- entry points
def summarise(rel, municipality: str | None = None, lang: str = "sv") -> list[Sentence]:
    """The summary of one unit of a release: 5–8 sentences, each with the rule that wrote it.

    Parameters
    ----------
    rel : asi_lib.release.Release
        A built or loaded release (only its published tables are read).
    municipality : str, optional
        ``None`` = the whole region.
    lang : {"sv", "en"}
        Language of the sentences (the release's tables must be in the same language).

    Returns
    -------
    list of Sentence
        ``(rule, text)``; rules ``who``, ``heaviest``, ``change``,
        ``complete``, ``look`` for a unit with at least ten clients,
        ``small`` (+ the region's ``heaviest``/``change``) below that.

    Notes
    -----
    Only cells that parse as numbers are used; a hidden (``..``, ``<5``),
    uncomputable (``–``) or *endast tendenser* cell silences the rule that
    needs it. The follow-up bortfall beside the change is
    ``100 % − share followed up among due baselines`` (both published).
    Thresholds: :data:`LARGE_BORTFALL`, :data:`LOW_FOLLOWUP`,
    :data:`HIGH_GRUND_BORTFALL`. See the module docstring for every rule.

    References
    ----------
    Barnett, van der Pols & Dobson (2005), Regression to the mean: what it is
    and how to deal with it. Int J Epidemiol 34(1):215–220.

    Examples
    --------
    >>> for s in summarise(example_release(), "Exempelby")[:2]:
    ...     print(s.rule, "|", s.text)
    who | Rapporten bygger på 100 klienter med ASI Grund. 40\xa0% är kvinnor (hela regionen: 35\xa0%).
    heaviest | Tyngst är problemen inom psykisk hälsa (sammanvägt index 0,40 av 1; hela regionen: 0,41).
    """
    check_lang(lang)
    S = SUMMARY[lang]
    tabs = rel.tables(municipality)
    region = rel.tables(None)
    is_region = municipality is None
    _, tendency = rel.client_count(municipality)
    if tendency and not is_region:
        name = str(municipality)
        out = [Sentence("small", S["small_cannot"].format(name=name)),
               Sentence("small", S["small_why"])]
        out += _rule_heaviest(region, region, lang, True, S, prefix=S["region_prefix"])[:1]
        out += _rule_change(region, lang, S, prefix=S["region_prefix"])
        out.append(Sentence("small", S["small_pool"]))
        return out[:MAX_SENTENCES]
    out = (_rule_who(tabs, region, lang, is_region, S) + _rule_heaviest(tabs, region, lang, is_region, S)
           + _rule_change(tabs, lang, S) + _rule_complete(tabs, lang, S) + _rule_look(tabs, lang, is_region, S))
    return out[:MAX_SENTENCES]


def look_markdown(rel, municipality: str | None = None, lang: str = "sv") -> str:
    """The report's closing section: the ``look`` sentences of :func:`summarise` and the PDSA line.

    Examples
    --------
    >>> look_markdown(example_release(), "Exempelby", "sv").splitlines()[0]
    '## Att ta med till diskussionen'
    """
    from .report_text import t
    from .safe import markdown_text

    looks = [s for s in summarise(rel, municipality, lang) if s.rule in ("look", "small")]
    lines = [t("h_look", lang), ""] + [f"* {markdown_text(s.text)}" for s in looks]
    return "\n".join(lines + [f"* {t('look_pdsa', lang)}"])


def summary_markdown(rel, municipality: str | None = None, lang: str = "sv") -> str:
    """:func:`summarise` as Markdown: the heading and a bullet per sentence (names escaped).

    Parameters
    ----------
    rel : asi_lib.release.Release
    municipality : str, optional
    lang : {"sv", "en"}

    Returns
    -------
    str

    Examples
    --------
    >>> summary_markdown(example_release("en"), "Exempelby", "en").splitlines()[0]
    '## Summary'
    """
    from .report_text import t
    from .safe import markdown_text

    lines = [t("h_summary", lang), ""]
    lines += [f"* {markdown_text(s.text)}" for s in summarise(rel, municipality, lang)]
    lines += ["", t("summary_intro", lang)]
    return "\n".join(lines)
