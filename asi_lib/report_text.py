"""Every user-facing string of the municipality report, in Swedish and English.

The report notebook (``notebooks/report/kommunrapport.ipynb``), its summary
(:mod:`asi_lib.summary`) and its figures (:mod:`asi_lib.figures`) take all
their words from here, so that ``LANG="en"`` renders the whole report in
English and a translation is one file. Numbers and names come from the
release (published strings) and are escaped where they are shown.

Also here: how a published table is shown in the report
(:func:`table_html`: heading, table, selection and legend) and the appendix
(:func:`appendix_html`), because both are mostly words around a table.
"""
from __future__ import annotations

import html
import re

import pandas as pd

from .errors import AsiInputError

__all__ = ["LANGS", "TEXT", "TABLE_TITLES", "t", "md", "table_title", "table_html", "appendix_html",
           "translate_note", "APPENDIX", "check_lang", "check_release_lang"]

LANGS = ("sv", "en")


def check_lang(lang: str) -> str:
    """``lang`` if it is a language of the report, else :class:`AsiInputError`."""
    if lang not in LANGS:
        raise AsiInputError(f"okänt språk '{lang}' (sv, en) / unknown language")
    return lang


def check_release_lang(rel, lang: str) -> str:
    """``lang`` if the release's tables are in it, else :class:`AsiInputError` (a clear message, no mixed report).

    A release is built in one language (``asi-kit release --lang``): its
    table labels are in that language, so a report in another language would
    be half translated.
    """
    check_lang(lang)
    built = rel.manifest.get("parameters", {}).get("lang", "sv")
    if built != lang:
        raise AsiInputError(f"utgåvan är byggd på '{built}', rapporten begärs på '{lang}'; bygg utgåvan med "
                            f"--lang {lang} / the release is in '{built}', build it with --lang {lang}")
    return lang


# --------------------------------------------------------------------------- table titles
#: Release table title (the key, always Swedish) → (Swedish, English) title and a one-line description.
TABLE_TITLES: dict[str, tuple[str, str, str, str]] = {
    "Materialet i korthet": (
        "Materialet i korthet", "The material in brief",
        "Klienter, Grundbortfall i målgruppen och uppföljning bland förfallna baslinjer.",
        "Clients, baseline attrition in the target group and follow-up among baselines that are due."),
    "Klientgruppen": (
        "Klientgruppen", "The client group",
        "Kön, ålder, huvudpreparat, boende och försörjning enligt senaste ASI Grund.",
        "Sex, age, main substance, housing and income according to the latest ASI baseline."),
    "Klientgruppen, medelvärden": (
        "Klientgruppen, medelvärden", "The client group, means",
        "Ålder, sammanvägda index och intervjuarens skattningar: medelvärde, spridning och median.",
        "Age, composite scores and interviewer ratings: mean, spread and median."),
    "Problem per kön": (
        "Problem per kön", "Problems by sex",
        "Sammanvägda index (0–1) och skattningar (0–9) per livsområde för kvinnor och män.",
        "Composite scores (0–1) and ratings (0–9) per life area for women and men."),
    "Problem per åldersgrupp": (
        "Problem per åldersgrupp", "Problems by age group",
        "Samma mått per åldersgrupp; små grupper ger fler dolda celler.",
        "The same measures per age group; small groups give more hidden cells."),
    "Problem per huvudpreparat": (
        "Problem per huvudpreparat", "Problems by main substance",
        "Samma mått per huvudsakligt problem eller preparat.",
        "The same measures per main problem or substance."),
    "Problem per kommun": (
        "Problem per kommun", "Problems by municipality",
        "Samma mått per kommun i regionen.",
        "The same measures per municipality of the region."),
    "Jämfört med övriga": (
        "Jämfört med övriga kommuner", "Compared with the other municipalities",
        "Kommunens klienter jämförda med övriga kommuners: skillnad, 95 % KI och effektstorlek.",
        "The municipality's clients compared with the other municipalities': difference, 95% CI, effect size."),
    "Klientgruppernas sammansättning": (
        "Klientgruppernas sammansättning", "Case mix",
        "Andel kvinnor, medelålder och andel med alkohol som huvudpreparat, kommunen och övriga.",
        "Share of women, mean age and share with alcohol as main substance, the municipality and the others."),
    "Kompletthet": (
        "Kompletthet", "Completeness",
        "Per livsområde: intervjuer utan intervjuarskattning eller utan sammanvägt index.",
        "Per life area: interviews without an interviewer rating or without a composite score."),
    "ASI-användning": (
        "ASI-användning", "Use of ASI",
        "Grundintervjuer, bortfall och uppföljningar per period; andel av målgruppen som intervjuades.",
        "Baseline interviews, attrition and follow-ups per period; share of the target group interviewed."),
    "Uppföljning och bortfall": (
        "Uppföljning och bortfall", "Follow-up and attrition",
        "Baslinjer som följts upp, vars fönster passerat utan uppföljning, eller som ännu inte är aktuella.",
        "Baselines followed up, whose window passed without follow-up, or not yet due."),
    "Förändring per område": (
        "Förändring per område, alla mått", "Change per area, all measures",
        "Skillnad uppföljning − baslinje per livsområde (negativ = förbättring), 95 % KI, antal par.",
        "Difference follow-up − baseline per life area (negative = improvement), 95% CI, number of pairs."),
    "Bortfall Grund": (
        "Bortfall vid Grund per kön", "Baseline attrition by sex",
        "Klienter i målgruppen som inte intervjuades, per kön.",
        "Clients in the target group who were not interviewed, by sex."),
    "Bortfallsorsaker Grund": (
        "Bortfallsorsaker vid Grund", "Reasons for baseline attrition",
        "Registrerade skäl till att en Grundintervju inte gjordes.",
        "Recorded reasons why a baseline interview was not done."),
    "Bortfallsorsaker uppföljning": (
        "Bortfallsorsaker vid uppföljning", "Reasons for follow-up attrition",
        "Registrerade skäl till att en uppföljning inte gjordes.",
        "Recorded reasons why a follow-up was not done."),
    "Insatser genomförda": (
        "Insatser genomförda enligt plan", "Interventions completed as planned",
        "Andel avslutade insatser som genomfördes enligt plan, per insats.",
        "Share of ended interventions completed as planned, per intervention."),
}

#: Tables of the appendix, in order (the main body shows figures, the summary and short tables).
APPENDIX = ["Klientgruppen", "Klientgruppen, medelvärden", "Problem per kön", "Problem per åldersgrupp",
            "Problem per huvudpreparat", "Problem per kommun", "Jämfört med övriga",
            "Klientgruppernas sammansättning", "Förändring per område", "Uppföljning och bortfall",
            "ASI-användning", "Kompletthet", "Bortfall Grund", "Bortfallsorsaker Grund",
            "Bortfallsorsaker uppföljning", "Insatser genomförda"]


def table_title(key: str, lang: str = "sv") -> str:
    """The shown title of a release table (its key is Swedish in every release).

    Examples
    --------
    >>> table_title("Förändring per område", "en")
    'Change per area, all measures'
    """
    row = TABLE_TITLES.get(key)
    if row is None:
        return key
    return row[0] if lang == "sv" else row[1]


# --------------------------------------------------------------------------- prose and labels
TEXT: dict[str, dict[str, str]] = {
    "sv": {
        # sections
        "h_summary": "## Sammanfattning",
        "summary_intro": "*Meningarna skrivs av regler ur de publicerade siffrorna i rapporten (se metodbeskrivningen); "
                         "de säger bara det som siffrorna visar.*",
        "how_to_read": (
            "## Så läser du rapporten\n\n"
            "Rapporten beskriver kommunens ASI-intervjuer (Addiction Severity Index) på **gruppnivå**, inga "
            "enskilda personer. **n** är antal klienter; ju färre, desto osäkrare. **`..`** = dolt för att skydda "
            "små tal (alla rapporter skyddas tillsammans). **`–`** = kan inte beräknas. **95 % KI** visar hur "
            "mycket en siffra kan variera av slumpen. **Bortfall** är klienter i målgruppen som inte intervjuats "
            "eller följts upp. Under tio klienter visas *endast tendenser*. Alla tabeller finns i bilagan och i "
            "Excelfilen. Data i demoversionen är **syntetiska**."),
        "h_compare": "## Klienternas problem jämfört med regionen",
        "h_compare_region": "## Klienternas problem",
        "compare_text": ("Sammanvägda index (0–1; högre = svårare problem de senaste 30 dagarna) per livsområde, "
                         "kommunen bredvid hela regionen, med 95 % KI. Överlappar intervallen kan skillnaden vara "
                         "slump."),
        "compare_text_region": ("Sammanvägda index (0–1; högre = svårare problem de senaste 30 dagarna) per "
                                "livsområde för kvinnor och män i hela regionen, med 95 % KI."),
        "h_change": "## Förändring mellan baslinje och uppföljning",
        "change_text": ("Skillnad mellan uppföljning och baslinje per livsområde (negativ = förbättring), med "
                        "95 % KI; n = antal par. Bara de som följdes upp ingår: läs förändringen tillsammans med "
                        "bortfallet nedan. En del av en förbättring är återgång mot medelvärdet, och en förändring "
                        "säger inte ensam att insatsen orsakat den."),
        "h_followup": "## Uppföljning, bortfall och ASI-användning över tid",
        "followup_text": ("Per period: andel av målgruppen som intervjuades vid Grund (resten är Grundbortfall) "
                          "och antal intervjuer. Den senaste perioden är preliminär, eftersom bortfall ofta "
                          "registreras i efterhand."),
        "h_material": "## Materialet i korthet",
        "h_look": "## Att ta med till diskussionen",
        "look_pdsa": ("Planera – gör – studera – agera (PDSA): bestäm vad ni vill ändra, mät igen nästa period "
                      "och jämför med den här rapporten."),
        "h_appendix": "## Bilaga: alla tabeller",
        "appendix_text": ("Alla tabeller i utgåvan för enheten, i samma form som i Excelfilen. Många små grupper "
                          "ger fler dolda celler (`..`): det är skyddet som arbetar, inte ett fel."),
        "no_figure": "*För få klienter för att visa en figur.*",
        "check_line": "{name}: {n} tabeller, alla skyddade för små tal: {ok}",
        "yes": "ja",
        "no": "NEJ",
        "title": "Kommunrapport ASI: {name}",
        # the tiny report
        "h_tiny_what": "## Det här kan visas",
        "tiny_what": ("Med färre än tio klienter visas bara materialets omfattning. Hur många som intervjuades, "
                      "inte intervjuades och följdes upp står i tabellen (dolda värden visas som `..`)."),
        "h_tiny_why": "## Varför inte mer?",
        "tiny_why": ("Andelar, medelvärden och förändringar för så få klienter skulle kunna peka ut enskilda "
                     "personer och säger inget säkert: slumpen är större än skillnaderna. Därför innehåller "
                     "rapporten inga tabeller över klientgruppen, problemen eller förändringen. Vill ni veta mer: "
                     "slå ihop flera år, redovisa tillsammans med grannkommuner, eller läs regionens siffror nedan."),
        "h_tiny_region": "## Regionen som jämförelse",
        "tiny_region": "Regionens klienter (alla kommuner tillsammans), som bakgrund: de säger inget om just er kommun.",
        # table notes
        "selection": "Urval",
        "unit": "Enhet",
        # figures
        "fig_area": "Livsområde",
        "fig_mean_ci": "Medelvärde med 95 % KI (0–1, högre = svårare)",
        "fig_diff_ci": "Förändring (uppföljning − baslinje) med 95 % KI\nnegativ = förbättring",
        "fig_change_title": "{name}: förändring per livsområde",
        "fig_compare_title": "{name} och hela regionen: sammanvägda index",
        "fig_sex_title": "{name}: sammanvägda index per kön",
        "fig_region": "Hela regionen",
        "fig_pairs": "n = {n} par",
        "fig_n": "n = {n}",
        "fig_group_n": "{group} (n = {n})",
        "fig_tendency": "endast tendenser: färre än {t} klienter",
        "fig_period": "Period",
        "fig_share_interviewed": "Andel av målgruppen",
        "fig_coverage_title": "{name}: intervjuade vid Grund och bortfall per period",
        "fig_interviewed": "Intervjuade vid Grund, andel med 95 % KI",
        "fig_followup_ref": "Uppföljda bland förfallna baslinjer, hela perioden: {share}",
        "fig_preliminary": "preliminär",
        "fig_usage_title": "{name}: ASI-intervjuer per period",
        "fig_count": "Antal",
        "fig_grund": "Grundintervjuer",
        "fig_bortfall": "Bortfall vid Grund",
        "fig_followups": "Uppföljningsintervjuer",
        "fig_total_n": "totalt n = {n}",
    },
    "en": {
        "h_summary": "## Summary",
        "summary_intro": "*These sentences are written by rules from the published figures of this report (see the "
                         "methods); they say only what the figures show.*",
        "how_to_read": (
            "## How to read this report\n\n"
            "The report describes the municipality's ASI interviews (Addiction Severity Index) at **group level**, "
            "no individual persons. **n** is the number of clients; the fewer, the less certain. **`..`** = hidden "
            "to protect small numbers (all reports are protected together). **`–`** = cannot be computed. "
            "**95% CI** shows how much a figure may vary by chance. **Attrition** means clients in the target "
            "group who were not interviewed or not followed up. Under ten clients only *tendencies* are shown. "
            "Every table is in the appendix and in the Excel file. The demo data are **synthetic**."),
        "h_compare": "## The clients' problems compared with the region",
        "h_compare_region": "## The clients' problems",
        "compare_text": ("Composite scores (0–1; higher = more severe problems in the last 30 days) per life area, "
                         "the municipality next to the whole region, with 95% CI. Where the intervals overlap the "
                         "difference may be chance."),
        "compare_text_region": ("Composite scores (0–1; higher = more severe problems in the last 30 days) per life "
                                "area for women and men in the whole region, with 95% CI."),
        "h_change": "## Change between baseline and follow-up",
        "change_text": ("Difference between follow-up and baseline per life area (negative = improvement), with "
                        "95% CI; n = number of pairs. Only those followed up are included: read the change "
                        "together with the attrition below. Part of an improvement is regression to the mean, "
                        "and a change alone does not show that the intervention caused it."),
        "h_followup": "## Follow-up, attrition and use of ASI over time",
        "followup_text": ("Per period: share of the target group interviewed at baseline (the rest is baseline "
                          "attrition) and the number of interviews. The latest period is preliminary, because "
                          "attrition is often recorded afterwards."),
        "h_material": "## The material in brief",
        "h_look": "## To take to the discussion",
        "look_pdsa": ("Plan – do – study – act (PDSA): decide what to change, measure again next period and "
                      "compare with this report."),
        "h_appendix": "## Appendix: all tables",
        "appendix_text": ("Every table of the release for this unit, as in the Excel file. Many small groups give "
                          "more hidden cells (`..`): that is the protection at work, not an error."),
        "no_figure": "*Too few clients to show a figure.*",
        "check_line": "{name}: {n} tables, all protected for small numbers: {ok}",
        "yes": "yes",
        "no": "NO",
        "title": "ASI report: {name}",
        "h_tiny_what": "## What can be shown",
        "tiny_what": ("With fewer than ten clients only the size of the material is shown. How many were "
                      "interviewed, not interviewed and followed up is in the table (hidden values show as `..`)."),
        "h_tiny_why": "## Why not more?",
        "tiny_why": ("Shares, means and changes for so few clients could identify individual persons and say "
                     "nothing certain: chance is larger than the differences. The report therefore has no tables "
                     "of the client group, the problems or the change. To learn more: pool several years, report "
                     "together with neighbouring municipalities, or read the region's figures below."),
        "h_tiny_region": "## The region for comparison",
        "tiny_region": "The region's clients (all municipalities together), as background: they say nothing about "
                       "your municipality in particular.",
        "selection": "Selection",
        "unit": "Unit",
        "fig_area": "Life area",
        "fig_mean_ci": "Mean with 95% CI (0–1, higher = more severe)",
        "fig_diff_ci": "Change (follow-up − baseline) with 95% CI\nnegative = improvement",
        "fig_change_title": "{name}: change per life area",
        "fig_compare_title": "{name} and the whole region: composite scores",
        "fig_sex_title": "{name}: composite scores by sex",
        "fig_region": "The whole region",
        "fig_pairs": "n = {n} pairs",
        "fig_n": "n = {n}",
        "fig_group_n": "{group} (n = {n})",
        "fig_tendency": "tendencies only: fewer than {t} clients",
        "fig_period": "Period",
        "fig_share_interviewed": "Share of the target group",
        "fig_coverage_title": "{name}: interviewed at baseline and attrition per period",
        "fig_interviewed": "Interviewed at baseline, share with 95% CI",
        "fig_followup_ref": "Followed up among due baselines, whole period: {share}",
        "fig_preliminary": "preliminary",
        "fig_usage_title": "{name}: ASI interviews per period",
        "fig_count": "Number",
        "fig_grund": "Baseline interviews",
        "fig_bortfall": "Baseline attrition",
        "fig_followups": "Follow-up interviews",
        "fig_total_n": "total n = {n}",
    },
}


def t(key: str, lang: str = "sv", **values) -> str:
    """One string of the report in ``lang``, with ``values`` filled in.

    Parameters
    ----------
    key : str
        A key of :data:`TEXT`.
    lang : {"sv", "en"}
    **values
        Filled into ``{name}`` fields (escape names for their medium first).

    Returns
    -------
    str

    Examples
    --------
    >>> t("fig_pairs", "en", n=12)
    'n = 12 pairs'
    """
    text = TEXT[check_lang(lang)][key]
    return text.format(**values) if values else text


def md(*keys: str, lang: str = "sv"):
    """Several strings of :data:`TEXT` as one Markdown display object (paragraphs).

    Examples
    --------
    >>> md("h_summary", lang="en").data
    '## Summary'
    """
    from IPython.display import Markdown

    return Markdown("\n\n".join(t(k, lang) for k in keys))


# --------------------------------------------------------------------------- tables
#: Swedish notes stored with the release's tables (selection, unit) → English, as regular expressions.
_NOTES_EN = [
    (r"senaste Grund per klient i perioden", "latest baseline per client in the period"),
    (r"senaste Grund per klient", "latest baseline per client"),
    (r"bortfall enligt registreringar", "attrition as recorded"),
    (r"uppföljning (\d+)–(\d+) dagar efter baslinjen", r"follow-up \1–\2 days after baseline"),
    (r"Baslinje = Grund eller återaktualisering", "Baseline = baseline interview or re-actualisation"),
    (r"uppföljning (\d+)–(\d+) dagar efter \(senaste i fönstret\)",
     r"follow-up \1–\2 days after (latest in the window)"),
    (r"status per (\d{4}-\d\d-\d\d)", r"status at \1"),
    (r"alla intervjuer i tabellen", "all interviews in the table"),
    (r"alla Grund- och Uppföljningsintervjuer och Grundbortfall per period",
     "all baseline and follow-up interviews and baseline attrition per period"),
    (r"målgrupp = klienter med Grundintervju eller Grundbortfall i perioden",
     "target group = clients with a baseline interview or baseline attrition in the period"),
    (r"bortfallsregistreringar \(grund\), senaste per klient", "attrition records (baseline), latest per client"),
    (r"bortfallsregistreringar \(uppfoljning\), senaste per klient",
     "attrition records (follow-up), latest per client"),
    (r"avslutade insatser med svar om genomförande, senaste per klient och insats",
     "ended interventions with an answer on completion, latest per client and intervention"),
    (r"^klienter / baslinjer$", "clients / baselines"),
    (r"^klienter$", "clients"),
    (r"^intervjuer$", "interviews"),
    (r"^baslinjer$", "baselines"),
]
_SWEDISH_LETTERS = re.compile(r"[åäöÅÄÖ]")


def translate_note(text: str, lang: str = "sv") -> str:
    """A table note (selection, unit) of the release in ``lang``; ``""`` when it has no translation.

    A release stores these notes in Swedish. For English the known phrases
    are translated; a note that would still be partly Swedish is left out
    rather than shown half translated.

    Examples
    --------
    >>> translate_note("senaste Grund per klient i perioden", "en")
    'latest baseline per client in the period'
    >>> translate_note("något okänt på svenska: å", "en")
    ''
    """
    text = str(text or "")
    if lang == "sv" or not text:
        return text
    for pattern, repl in _NOTES_EN:
        text = re.sub(pattern, repl, text)
    return "" if _SWEDISH_LETTERS.search(text) or re.search(r"\b(och|per klient|senaste|dagar)\b", text) else text


def table_html(frame: pd.DataFrame, key: str | None = None, *, lang: str = "sv", level: int = 3,
               description: bool = False) -> str:
    """A published table as report HTML: heading, the table, its selection, unit and legend.

    Refuses a frame that has not passed :func:`~asi_lib.publish.publish`.
    Every value is escaped.

    Parameters
    ----------
    frame : DataFrame
        A published table (``attrs["asi"]["published"]``).
    key : str, optional
        Its title in the release (the heading is :func:`table_title`).
    lang : {"sv", "en"}
    level : int, default 3
        Heading level.
    description : bool, default False
        Also the one-line description of :data:`TABLE_TITLES` under the heading.

    Returns
    -------
    str
        HTML.

    Examples
    --------
    >>> from asi_lib.publish import publish
    >>> raw = pd.DataFrame({"label": ["<b>x</b>"], "n": [12]})
    >>> raw.attrs["asi"] = {"unit": "klienter"}
    >>> "&lt;b&gt;" in table_html(publish(raw), "Kompletthet", lang="en")
    True
    """
    meta = frame.attrs.get("asi", {})
    if not meta.get("published"):
        raise AsiInputError("tabellen har inte passerat publish() / table not published")
    parts = []
    if key:
        parts.append(f"<h{level}>{html.escape(table_title(key, lang))}</h{level}>")
        if description and key in TABLE_TITLES:
            parts.append(f"<p>{html.escape(TABLE_TITLES[key][2 if lang == 'sv' else 3])}</p>")
    parts.append(frame.to_html(index=False, border=0, classes="asi-tabell", escape=True, na_rep=""))
    notes = []
    sel, unit = translate_note(meta.get("selection"), lang), translate_note(meta.get("unit"), lang)
    if sel:
        notes.append(f"{t('selection', lang)}: {sel}.")
    if unit:
        notes.append(f"{t('unit', lang)}: {unit}.")
    if meta.get("legend"):
        notes.append(str(meta["legend"]))
    if notes:
        parts.append(f'<p class="asi-not">{html.escape(" ".join(notes))}</p>')
    return "\n".join(parts)


def show_table(frame: pd.DataFrame, key: str | None = None, *, lang: str = "sv", level: int = 3):
    """:func:`table_html` as a display object for the notebook."""
    from IPython.display import HTML

    return HTML(table_html(frame, key, lang=lang, level=level))


def appendix_html(tables: dict, *, lang: str = "sv", keys=None) -> str:
    """Every table of a unit (default the :data:`APPENDIX` list, those the unit has) as one HTML block.

    Parameters
    ----------
    tables : dict of str to DataFrame
        ``Release.tables(unit)``.
    lang : {"sv", "en"}
    keys : list of str, optional
        Table titles to show, in order; default :data:`APPENDIX`.

    Returns
    -------
    str
        HTML: per table a heading, a one-line description, the table and its notes.
    """
    keys = APPENDIX if keys is None else keys
    return "\n".join(table_html(tables[k], k, lang=lang, description=True) for k in keys if k in tables)


__all__.append("show_table")


def check_line(tables: dict, name: str, lang: str = "sv") -> str:
    """The report's last line: how many tables the unit has and whether all passed the protection.

    Examples
    --------
    >>> from asi_lib.publish import publish
    >>> raw = pd.DataFrame({"n": [12]})
    >>> check_line({"a": publish(raw), "b": raw}, "Exempelby")
    'Exempelby: 2 tabeller, alla skyddade för små tal: NEJ'
    """
    ok = all(bool(f.attrs.get("asi", {}).get("published")) for f in tables.values())
    return t("check_line", lang, name=name, n=len(tables), ok=t("yes" if ok else "no", lang))


__all__.append("check_line")


# --------------------------------------------------------------------------- the summary's sentences
#: Sentence templates of :mod:`asi_lib.summary` (one rule each, documented there and in docs/reports.md).
SUMMARY: dict[str, dict[str, str]] = {
    "sv": {
        "and": " och ",
        "who_n": "Rapporten bygger på {n} klienter med ASI Grund.",
        "who_women": "{share} är kvinnor.",
        "who_women_region": "{share} är kvinnor (hela regionen: {region}).",
        "who_substance": "Vanligaste huvudpreparat är {substance} ({share}).",
        "who_substance_region": "Vanligaste huvudpreparat är {substance} ({share}; hela regionen: {region}).",
        "who_mix_hidden": "Könsfördelning och preparat kan inte visas här: de siffrorna är dolda för att skydda små "
                          "tal (se bilagan).",
        "who_hidden": "Antalet klienter kan inte visas: det är dolt för att skydda små tal.",
        "heaviest": "Tyngst är problemen inom {area} (sammanvägt index {mean} av 1).",
        "heaviest_region": "Tyngst är problemen inom {area} (sammanvägt index {mean} av 1; hela regionen: {region}).",
        "heaviest_hidden": "Vilka problem som är tyngst kan inte visas: medelvärdena är dolda för att skydda små tal.",
        "cmp_heavier": "tyngre inom {areas}",
        "cmp_lighter": "lättare inom {areas}",
        "cmp_sentence": "Jämfört med övriga kommuner är problemen {what}; skillnaden är större än slumpen (95 % KI), "
                        "men kan bero på att kommunerna har olika klientgrupper.",
        "change_best": "Bland dem som följts upp minskade problemen mest inom {area} (index {m0} vid baslinjen, "
                       "{m1} vid uppföljningen, 95 % KI för skillnaden {lo} till {hi}, n = {n} par); {k} av {total} "
                       "områden förbättrades mer än slumpen.",
        "change_flat": "Inget av de {total} områden som kan visas förändrades mer än slumpen mellan baslinje och "
                       "uppföljning.",
        "change_worse": "Problemen ökade inom {areas}.",
        "change_caveat": "En del av förbättringen är återgång mot medelvärdet (många intervjuas när det är som svårast) "
                         "och säger inte att insatsen orsakat den; {bortfall} av dem som borde ha följts upp saknar "
                         "uppföljning.",
        "change_caveat_large": "Läs förändringen med stor försiktighet: {bortfall} av dem som borde ha följts upp "
                               "saknar uppföljning, så bilden kan vara för ljus, och en del av förbättringen är "
                               "återgång mot medelvärdet.",
        "change_caveat_unknown": "En del av förbättringen är återgång mot medelvärdet, och bortfallet vid uppföljning "
                                 "kan inte visas, så förändringen ska läsas med försiktighet.",
        "change_none": "Någon förändring kan inte visas ännu: ingen av dem som borde ha följts upp har följts upp.",
        "change_hidden": "Förändringen mellan baslinje och uppföljning kan inte visas: för få uppföljda klienter, "
                         "eller siffrorna är dolda för att skydda små tal.",
        "complete_grund": "{share} av målgruppen intervjuades inte vid Grund ({k} av {n})",
        "complete_followup": "{share} av de baslinjer som borde ha följts upp följdes upp",
        "complete_sentence": "Materialet: {what}.",
        "complete_hidden": "Hur komplett materialet är kan inte visas: bortfallet är dolt för att skydda små tal.",
        "look_followup": "Att titta på: rutinen för uppföljning, eftersom bara {share} av de förfallna baslinjerna "
                         "följdes upp",
        "look_grund": "Att titta på: varför {share} av målgruppen inte intervjuas vid Grund",
        "look_reason": " (vanligaste registrerade orsak: {reason}, {share})",
        "look_heavier": "Att titta på: {area}, där kommunens klienter har tyngre problem än i övriga kommuner.",
        "look_worse": "Att titta på: {area}, där problemen ökade mellan baslinje och uppföljning.",
        "look_none": "Inget av måtten sticker ut; mät igen nästa period och jämför (PDSA).",
        "small_cannot": "{name} har färre än tio klienter med ASI Grund, så rapporten kan inte visa andelar, "
                        "medelvärden eller förändringar för kommunen.",
        "small_why": "Med så få klienter kan siffrorna peka ut enskilda personer och slumpen är större än "
                     "skillnaderna; därför visas bara materialets omfattning och regionens siffror som bakgrund.",
        "region_prefix": "I hela regionen: ",
        "small_pool": "För att kunna säga något om kommunen själv: slå ihop flera år, eller redovisa tillsammans med "
                      "grannkommuner.",
    },
    "en": {
        "and": " and ",
        "who_n": "The report is based on {n} clients with an ASI baseline.",
        "who_women": "{share} are women.",
        "who_women_region": "{share} are women (the whole region: {region}).",
        "who_substance": "The most common main substance is {substance} ({share}).",
        "who_substance_region": "The most common main substance is {substance} ({share}; the whole region: "
                                "{region}).",
        "who_mix_hidden": "Sex and substances cannot be shown here: those figures are hidden to protect small numbers "
                          "(see the appendix).",
        "who_hidden": "The number of clients cannot be shown: it is hidden to protect small numbers.",
        "heaviest": "Problems are heaviest in {area} (composite score {mean} of 1).",
        "heaviest_region": "Problems are heaviest in {area} (composite score {mean} of 1; the whole region: "
                           "{region}).",
        "heaviest_hidden": "Which problems are heaviest cannot be shown: the means are hidden to protect small "
                           "numbers.",
        "cmp_heavier": "heavier in {areas}",
        "cmp_lighter": "lighter in {areas}",
        "cmp_sentence": "Compared with the other municipalities, problems are {what}; the difference is larger than "
                        "chance (95% CI) but may reflect different client groups.",
        "change_best": "Among those followed up, problems decreased most in {area} (score {m0} at baseline, {m1} at "
                       "follow-up, 95% CI of the difference {lo} to {hi}, n = {n} pairs); {k} of {total} areas "
                       "improved beyond chance.",
        "change_flat": "None of the {total} areas that can be shown changed beyond chance between baseline and "
                       "follow-up.",
        "change_worse": "Problems increased in {areas}.",
        "change_caveat": "Part of the improvement is regression to the mean (many are interviewed when things are at "
                         "their worst) and does not show that the intervention caused it; {bortfall} of those due "
                         "for follow-up were not followed up.",
        "change_caveat_large": "Read the change with great caution: {bortfall} of those due for follow-up were not "
                               "followed up, so the picture may be too bright, and part of the improvement is "
                               "regression to the mean.",
        "change_caveat_unknown": "Part of the improvement is regression to the mean, and the follow-up attrition "
                                 "cannot be shown, so read the change with caution.",
        "change_none": "No change can be shown yet: none of those due for follow-up has been followed up.",
        "change_hidden": "The change between baseline and follow-up cannot be shown: too few clients followed up, "
                         "or the figures are hidden to protect small numbers.",
        "complete_grund": "{share} of the target group were not interviewed at baseline ({k} of {n})",
        "complete_followup": "{share} of the baselines due for follow-up were followed up",
        "complete_sentence": "The material: {what}.",
        "complete_hidden": "How complete the material is cannot be shown: the attrition is hidden to protect small "
                           "numbers.",
        "look_followup": "To look into: the follow-up routine, since only {share} of the due baselines were "
                         "followed up",
        "look_grund": "To look into: why {share} of the target group are not interviewed at baseline",
        "look_reason": " (most common recorded reason: {reason}, {share})",
        "look_heavier": "To look into: {area}, where the municipality's clients have heavier problems than in the "
                        "other municipalities.",
        "look_worse": "To look into: {area}, where problems increased between baseline and follow-up.",
        "look_none": "None of the measures stands out; measure again next period and compare (PDSA).",
        "small_cannot": "{name} has fewer than ten clients with an ASI baseline, so the report cannot show shares, "
                        "means or changes for the municipality.",
        "small_why": "With so few clients the figures could identify individual persons and chance is larger than "
                     "the differences; only the size of the material and the region's figures are shown, as "
                     "background.",
        "region_prefix": "In the whole region: ",
        "small_pool": "To say something about the municipality itself: pool several years, or report together with "
                      "neighbouring municipalities.",
    },
}
__all__.append("SUMMARY")
