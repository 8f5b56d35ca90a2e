"""An independent attacker on a folder of published ASI outputs (issue 9).

Written **without** asi_lib's protection code: it reads only what a reader of
the published files has (the Excel workbooks and ``index.html``), builds every
linear relation between published *count* cells that a careful reader could
assume, and computes with integer programming (``scipy.optimize.milp``, HiGHS)
the feasible range of every hidden count.

Entry point: :func:`attack` ``(folder) -> DataFrame`` with one row per hidden
count cell: ``file, sheet, row, column, marker, lo, hi, recovered, narrowed``.

What a marker tells the reader
------------------------------
* a number: the exact count;
* ``"<m"`` (``m`` = min_cell, read from the marker): a count in 1..m-1;
* ``".."``: hidden. In asi_lib.publish a secondary-suppressed cell is always a
  non-zero count (``_secondary`` only picks cells with value > 0; linked counts
  only grow where the value is > 0), and a value 1..m-1 is always printed as
  ``"<m"`` (the primary marker is written last). But a ``k`` hidden through its
  complement (``n - k`` small) can be 0 when ``n`` itself is small. So the
  bound we can justify is ``".."`` in {0} ∪ [m, ∞), modelled with a binary;
  That bound is used only in a column that shows ``"<m"`` somewhere in the folder
  (a column publish protects as a count; the index's counts included); elsewhere
  ``".."`` is any value ≥ 0 (Kompletthet's "Antal intervjuer" is a count that
  publish treats as a statistic: its ".." hides 4 in the demo). A release
  (asi_lib.release) shows every hidden count as ``".."`` and no ``"<m"`` at all,
  so there every ``".."`` is any integer ≥ 0;
* ``"–"``: not computable; a free non-negative unknown (not reported).

Relations assumed (family names in ``attrs["families"]``)
---------------------------------------------------------
Within one file (one unit: a municipality or the region):

``t1_n``           every "Antal klienter" of Table 1 (both sheets) is the unit's N;
``t1_cats``        per variable of Table 1: sum of k over categories + missing = N;
                   "Saknar värde" is one number per variable (a release does not print
                   it: then it is an unknown ≥ 0 per variable, and per measure in the
                   means, that the relations below use like any hidden cell);
``prof_n``         profile tables ("Problem per …"): a group's n is the same on every
                   measure row; Totalt n = N;
``prof_sum``       sum of the groups' n + Table 1's missing of that variable = Totalt n;
                   when a group is no category of the variable (e.g. "okänd") it holds
                   the missing ones: Σ groups = Totalt n, Σ such groups = the missing;
``prof_t1``        a group's n = Table 1's k of the same category;
``presence``       a listed group has n ≥ 1; a Table 1 category of that variable that is
                   *not* listed has k = 0 (groups are listed when non-empty);
``prof_missing``   per measure: 0 ≤ Totalt missing − Σ groups' missing ≤ missing of the
                   grouping variable; Totalt missing = Table 1 "medelvärden" missing;
                   a group's missing ≤ its n;
``cmp_unit``       "Jämfört med övriga": n (enheten) = N − missing(measure);
``cmp_region``     n (enheten) + n (övriga) = region N − region missing(measure);
``kompl_reasons``  Kompletthet: each "Saknas: …" ≤ Index saknas ≤ Σ "Saknas: …" (an
                   interview can miss items for several reasons);
``kompl_t1``       Kompletthet Grund: Index saknas = T1 missing of the composite,
                   Intervjuarskattning saknas + ej relevant = T1 missing of the rating,
                   Antal klienter = N;
``kompl_fu``       Kompletthet Uppföljning: Antal intervjuer/klienter = "Uppföljningsintervjuer";
``use_row``        ASI-användning: Målgrupp = Grundintervjuer + Bortfall (Grund);
``use_region``     region row (kommun, year) = Σ of that municipality's own rows of the
                   year (the year itself or its half-years);
``use_total``      Σ over a municipality's periods: Grundintervjuer = Kompletthet Grund
                   "Antal intervjuer", Uppföljningar = Kompletthet Uppföljning "Antal
                   intervjuer", Bortfall (Grund) = Bortfallsorsaker Grund n;
``change_le``      Förändring: clients ≤ pairs ≤ "Uppföljd" baselines; clients ≤ "Uppföljd" clients;
``fu_sets``        Uppföljning och bortfall: baslinjer = uppföljd + ej uppföljd + ej aktuell,
                   passerat = uppföljd + ej uppföljd, bortfall = ej uppföljd,
                   uppföljningsintervjuer = använda + the five reasons (the first count
                   column only: a client can have several baselines);
``change_rci``     Förändring: Antal par = förbättrade + oförändrade + försämrade on rows that
                   show an RCI (a share that is a number, or a part "<m" or > 0; rows
                   without an RCI publish 0/0/0);
``bortfall_t1``    Bortfall Grund: n − k (per sex) = Table 1's k of that sex;
``reasons``        Bortfallsorsaker: one n; Σ k = n; Grund reasons' n = Σ Bortfall Grund k;
``insatser``       Insatser: "Alla insatser" = Σ of the interventions (n and k);
``k_le_n``         every k ≤ its row's n, every missing ≤ its row's n;
``region_kommun``  region "Problem per kommun": group n = that municipality's N, group
                   missing(measure) = that municipality's T1 missing(measure);
``index``          index.html count of a report = that file's N;
``overview``       "Materialet i korthet": clients = N; target group / its bortfall = Σ of the
                   municipality's "ASI-användning" Målgrupp / Bortfall (Grund); due baselines /
                   followed up = "Uppföljning och bortfall" (first count column);
``cross_sum:<sheet>:<column>``  a region cell = Σ over the municipality files of the same
                   sheet/row/column (clients are partitioned by the municipality of their
                   latest Grund); a row missing in a municipality's profile table counts 0,
                   elsewhere the instance is skipped.

Every family is checked on its instances whose cells are all visible; a family
with a violated instance is dropped (recorded in ``attrs["dropped"]``), so the
attacker never assumes something the published numbers contradict. All families
were also checked on the demo's *unprotected* tables (the same tables with
``min_cell=1``): every instance holds there, and tests/test_attack.py checks
that the true value of every hidden count lies in the range found.

Solving: cells declared equal are merged, interval propagation fixes what it
can (sound, integer-rounded), the rest is split into connected blocks; per
block a few feasible points from random objectives give inner bounds, and
an exact MILP min/max (HiGHS) is solved only where those do not reach the
propagated bounds (each optimum found widens the inner bounds of the others).
About 15–30 s for the demo's twelve workbooks. What is not
used: the HTML reports (their tables repeat the Excel sheets), statistics
(means, shares, CIs — a share times n could pin more; not attempted) and
sequences of releases.
"""
from __future__ import annotations

import re
from collections import defaultdict
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd

HIDDEN = ".."
EMPTY = "–"
_SPACES = dict.fromkeys(map(ord, "\u2009\u00a0\u202f "), None)
_COUNT_HEAD = re.compile(
    r"^(Antal|Saknar|Saknas|Index saknas|Intervjuarskattning saknas|Intervjuarskattning ej relevant|"
    r"Målgrupp|Grundintervjuer|Bortfall \(Grund\)|Uppföljningar$|Förbättrade$|Oförändrade$|Försämrade$|Varav$)")
TOTAL = "Totalt"
N_COL, K_COL, MISS_COL = "Antal klienter", "Antal med egenskapen", "Saknar värde"


# --------------------------------------------------------------------------- parsing
def parse_cell(text) -> tuple:
    """A published cell → ("v", int) | ("<", m) | ("..",) | ("–",) | ("x", None) (not a count).

    >>> parse_cell("3\u2009005"), parse_cell("<5"), parse_cell(".."), parse_cell("−2")
    (('v', 3005), ('<', 5), ('..',), ('v', -2))
    """
    if text is None:
        return ("x", None)
    s = str(text).translate(_SPACES).replace("−", "-")
    if re.fullmatch(r"-?\d+", s):
        return ("v", int(s))
    m = re.fullmatch(r"<(\d+)", s)
    if m:
        return ("<", int(m.group(1)))
    if s == HIDDEN:
        return ("..",)
    if s in (EMPTY, "-"):
        return ("–",)
    return ("x", None)


class Sheet:
    """One published table: header (row 4) and data rows up to the first empty row."""

    def __init__(self, file: str, unit: str, name: str, header: list[str], rows: list[list]):
        self.file, self.unit, self.name, self.header = file, unit, name, header
        self.rows = rows
        self.count_cols = [c for c in header if c and (_COUNT_HEAD.match(c) or any(
            str(r[header.index(c)]).startswith("<") for r in rows))]
        first_count = min((header.index(c) for c in self.count_cols), default=len(header))
        self.key_cols = [c for c in header[:first_count] if c]
        self.labels = [" | ".join(str(r[header.index(k)]) for k in self.key_cols) for r in rows]

    def col(self, name):
        return self.header.index(name) if name in self.header else None

    def key(self, r, name):
        return str(self.rows[r][self.header.index(name)])


def read_workbook(path: Path) -> list[Sheet]:
    import openpyxl

    wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    out = []
    for ws in wb.worksheets:
        vals = list(ws.iter_rows(values_only=True))
        if len(vals) < 4:
            continue
        title = str(vals[0][0] or "")
        unit = title.split(" – ")[0] if " – " in title else path.stem
        header = [str(h) if h is not None else "" for h in vals[3]]
        rows = []
        for row in vals[4:]:
            if row is None or all(v is None for v in row):
                break
            rows.append(["" if v is None else str(v) for v in row])
        out.append(Sheet(path.name, unit, ws.title, header, rows))
    wb.close()
    return out


class _IndexParser(HTMLParser):
    def __init__(self):
        super().__init__()
        self.rows, self._row, self._cell, self._href, self._in = [], None, None, [], False

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self._row, self._href = [], []
        elif tag == "td" and self._row is not None:
            self._cell = ""
        elif tag == "a" and self._row is not None:
            self._href.append(dict(attrs).get("href", ""))

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data

    def handle_endtag(self, tag):
        if tag == "td" and self._row is not None and self._cell is not None:
            self._row.append(self._cell.strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            if self._row:
                self.rows.append((self._row, self._href))
            self._row = None


def read_index(path: Path) -> list[tuple[str, str, str]]:
    """(name, excel file name, published client count) per index row."""
    from urllib.parse import unquote

    p = _IndexParser()
    p.feed(path.read_text(encoding="utf-8"))
    out = []
    for cells, hrefs in p.rows:
        xlsx = [unquote(h).split("/")[-1] for h in hrefs if unquote(h).endswith(".xlsx")]
        if len(cells) >= 4 and (xlsx or parse_cell(cells[3])[0] != "x"):
            out.append((cells[0], xlsx[0] if xlsx else None, cells[3]))   # a unit without tables too
    return out


# --------------------------------------------------------------------------- the model
class Model:
    """Count cells (visible or hidden) and linear relations lo ≤ Σ coef·x ≤ hi between them."""

    def __init__(self):
        self.cells: list[dict] = []
        self.where: dict[tuple, int] = {}
        self.rel: list[tuple[str, dict, float, float]] = []
        self.min_cell = 5
        self.unlisted: dict[tuple, tuple[int, set]] = {}   # (file, sheet) -> (unknown, listed names)

    def add_cell(self, file, sheet, row, label, column, text) -> int | None:
        p = parse_cell(text)
        if p[0] == "x":
            return None
        if p[0] == "<":
            self.min_cell = p[1]
        cid = len(self.cells)
        self.cells.append({"file": file, "sheet": sheet, "r": row, "row": label, "column": column,
                           "marker": str(text), "kind": p[0], "value": p[1] if p[0] in ("v", "<") else None})
        self.where[(file, sheet, row, column)] = cid
        return cid

    def unknown(self, file, sheet, row, label, column) -> int:
        """A count the reader knows exists but no file prints (e.g. missing values): an integer ≥ 0."""
        cid = self.add_cell(file, sheet, row, label, column, "..")
        self.cells[cid]["internal"] = True
        return cid

    def c(self, file, sheet, row, column):
        return self.where.get((file, sheet, row, column))

    def eq(self, family, terms, rhs=0.0):
        self.between(family, terms, rhs, rhs)

    def between(self, family, terms, lo, hi):
        coef = defaultdict(float)
        for cid, a in terms:
            if cid is None:
                return  # a cell that is not a count (or absent): no relation
            coef[cid] += a
        coef = {k: v for k, v in coef.items() if v != 0}
        if coef:
            self.rel.append((family, coef, lo, hi))


def _visible(model, cid):
    c = model.cells[cid]
    return c["value"] if c["kind"] == "v" else None


# --------------------------------------------------------------------------- relations
def _measure_rows(sh: Sheet, label_col: str) -> dict[str, int]:
    j = sh.col(label_col)
    return {} if j is None else {r[j]: i for i, r in enumerate(sh.rows)}


def _build(model: Model, files: dict[str, dict[str, Sheet]], index_rows, region_file: str | None):
    m = model
    N = {}      # file -> cell id of the unit's N
    t1miss = {}  # file -> {measure label: cell id} from "Klientgruppen, medelvärden"
    t1 = {}      # file -> {(variable, category): k cell}, {variable: missing cell}
    for f, sheets in files.items():
        sh = sheets.get("Klientgruppen")
        if sh is None or not sh.rows:
            continue
        N[f] = m.c(f, sh.name, 0, N_COL)
        ks, miss = {}, {}
        # a release does not print missing values: each variable still has some, unknown (≥ 0)
        printed = sh.col(MISS_COL) is not None
        for r in range(len(sh.rows)):
            m.eq("t1_n", [(m.c(f, sh.name, r, N_COL), 1), (N[f], -1)])
            var, cat = sh.key(r, "Variabel"), sh.key(r, "Kategori")
            ks[(var, cat)] = m.c(f, sh.name, r, K_COL)
            if var in miss:
                if printed:
                    m.eq("t1_cats", [(m.c(f, sh.name, r, MISS_COL), 1), (miss[var], -1)])
            else:
                miss[var] = m.c(f, sh.name, r, MISS_COL) if printed else m.unknown(f, sh.name, r, var, MISS_COL)
        for var, mc in miss.items():
            m.eq("t1_cats", [(k, 1) for (v, _), k in ks.items() if v == var] + [(mc, 1), (N[f], -1)])
        t1[f] = (ks, miss)
        shm = sheets.get("Klientgruppen, medelvärden")
        t1miss[f] = {}
        if shm is not None:
            for r in range(len(shm.rows)):
                m.eq("t1_n", [(m.c(f, shm.name, r, N_COL), 1), (N[f], -1)])
                t1miss[f][shm.key(r, "Variabel")] = m.c(f, shm.name, r, MISS_COL)
        if not any(v is not None for v in t1miss[f].values()):
            # a release does not repeat the missing values per measure in Table 1's means: a
            # composite's missing values are Kompletthet's "Index saknas" (Grund)
            k = sheets.get("Kompletthet")
            if k is not None and k.col("Index saknas") is not None:
                for r in range(len(k.rows)):
                    if k.key(r, "Formulär") == "Grund":
                        t1miss[f][f"Sammanvägt index: {k.key(r, 'Livsområde')}"] = m.c(f, k.name, r, "Index saknas")
            elif shm is not None:   # nor there: each measure's missing values are unknowns (≥ 0)
                for r in range(len(shm.rows)):
                    lab = shm.key(r, "Variabel")
                    t1miss[f][lab] = m.unknown(f, shm.name, r, lab, MISS_COL)

    for f, sheets in files.items():
        for sh in sheets.values():
            _within_sheet(m, f, sh, N.get(f), t1.get(f), t1miss.get(f, {}), files, N, t1miss, region_file)
        _kompletthet(m, f, sheets, N.get(f), t1miss.get(f, {}))
        _bortfall(m, f, sheets, t1.get(f))
        _overview(m, f, sheets, N.get(f), f == region_file)
    idx = {}     # unit name -> index cell (units without a workbook too)
    for name, xlsx, text in index_rows:
        cid = m.add_cell("index.html", "index", len(idx), name, "Antal klienter (Grund)", text)
        if cid is None:
            continue
        idx[name] = (cid, xlsx)
        if xlsx in N:
            m.eq("index", [(cid, 1), (N[xlsx], -1)])
    # the region's clients are the municipalities' (each client counts in the municipality of the
    # latest Grund): region row = Σ the other rows of the index
    reg_rows = [c for c, x in idx.values() if x is not None and x == region_file]
    if reg_rows:
        m.eq("index_sum", [(reg_rows[0], 1)] + [(c, -1) for c, x in idx.values() if x != region_file])
    for (f, s), (u, names) in m.unlisted.items():
        # the municipalities a table by municipality does not list: their clients (from the index)
        rest = [c for name, (c, x) in idx.items() if name not in names and x != region_file]
        m.eq("prof_sum", [(u, 1)] + [(c, -1) for c in rest])
    if region_file in files:
        _region_links(m, files, N, t1miss, region_file, idx)
        pk = files[region_file].get("Problem per kommun")
        listed = {pk.key(r, "Kommun") for r in range(len(pk.rows))} - {TOTAL} if pk is not None else set()
        # and the municipalities it leaves out: every unit of the index but the region
        listed |= {name for name, (_c, x) in idx.items() if x != region_file}
        # the region is the sum of the municipalities' tables, plus one unknown (≥ 0) per cell for
        # the municipalities that do not publish that table (their clients are in the index)
        if listed:
            _cross_sums(m, files, region_file, idx, listed)


def _within_sheet(m, f, sh, Nf, t1f, t1mf, files, N, t1miss, region_file):
    s = sh.name
    rows = range(len(sh.rows))
    # k ≤ n, missing ≤ n on every row
    for r in rows:
        for part in (K_COL, MISS_COL):
            if sh.col(part) is not None and sh.col(N_COL) is not None:
                m.between("k_le_n", [(m.c(f, s, r, N_COL), 1), (m.c(f, s, r, part), -1)], 0, np.inf)
    if s.startswith("Problem per") and sh.col("Mått") is not None:
        gcol = sh.key_cols[0]
        var = gcol
        groups = defaultdict(list)
        for r in rows:
            groups[sh.key(r, gcol)].append(r)
        tot = groups.get(TOTAL, [])
        for g, rs in groups.items():
            for r in rs[1:]:
                m.eq("prof_n", [(m.c(f, s, r, N_COL), 1), (m.c(f, s, rs[0], N_COL), -1)])
        if tot and Nf is not None:
            m.eq("prof_n", [(m.c(f, s, tot[0], N_COL), 1), (Nf, -1)])
        parts = [g for g in groups if g != TOTAL]
        for g in parts:
            m.between("presence", [(m.c(f, s, groups[g][0], N_COL), 1)], 1, np.inf)
        ks, miss = t1f if t1f else ({}, {})
        var_miss = miss.get(var)
        if tot:
            terms = [(m.c(f, s, groups[g][0], N_COL), 1) for g in parts] + [(m.c(f, s, tot[0], N_COL), -1)]
            # a group that is no category of the variable (e.g. "okänd") holds the clients without a value
            unknown = [g for g in parts if (var, g) not in ks]
            if var == "Kommun":
                # the region's table may leave a municipality out (under ten clients): its clients
                # are an unknown here, tied to the index below (_build)
                u = m.unknown(f, s, tot[0], "(ej listade kommuner)", N_COL + " (ej listade)")
                m.unlisted[(f, s)] = (u, set(parts))
                m.eq("prof_sum", terms + [(u, 1)])
            elif var_miss is not None and unknown:
                m.eq("prof_sum", terms)
                m.eq("prof_sum", [(m.c(f, s, groups[g][0], N_COL), 1) for g in unknown] + [(var_miss, -1)])
            elif var_miss is not None:
                m.eq("prof_sum", terms + [(var_miss, 1)])
        if var in miss:
            for (v, cat), kc in ks.items():
                if v != var:
                    continue
                if cat in groups:
                    m.eq("prof_t1", [(m.c(f, s, groups[cat][0], N_COL), 1), (kc, -1)])
                else:
                    m.eq("presence", [(kc, 1)])
        # per measure: missing
        by_measure = defaultdict(dict)
        for r in rows:
            by_measure[sh.key(r, "Mått")][sh.key(r, gcol)] = r
        for meas, rg in by_measure.items():
            if TOTAL not in rg:
                continue
            tm = m.c(f, s, rg[TOTAL], MISS_COL)
            terms = [(tm, 1)] + [(m.c(f, s, r, MISS_COL), -1) for g, r in rg.items() if g != TOTAL]
            if var == "Kommun":  # every client has a municipality
                m.eq("prof_missing", terms)
            else:
                m.between("prof_missing", terms, 0, np.inf)
                if var_miss is not None:  # the clients without a group are at most var's missing
                    m.between("prof_missing", terms + [(var_miss, -1)], -np.inf, 0)
            if meas in t1mf:
                m.eq("prof_missing", [(tm, 1), (t1mf[meas], -1)])
    if s == "Jämfört med övriga":
        cu, co = "Antal klienter (enheten)", "Antal klienter (övriga)"
        reg = files.get(region_file, {})
        for r in rows:
            meas = sh.key(r, "Mått")
            if Nf is not None and meas in t1mf:
                m.eq("cmp_unit", [(m.c(f, s, r, cu), 1), (Nf, -1), (t1mf[meas], 1)])
            if region_file in N and meas in t1miss.get(region_file, {}):
                m.eq("cmp_region", [(m.c(f, s, r, cu), 1), (m.c(f, s, r, co), 1), (N[region_file], -1),
                                    (t1miss[region_file][meas], 1)])
        del reg
    if s == "ASI-användning":
        for r in rows:
            m.eq("use_row", [(m.c(f, s, r, "Målgrupp (Grund + bortfall)"), 1),
                             (m.c(f, s, r, "Grundintervjuer"), -1), (m.c(f, s, r, "Bortfall (Grund)"), -1)])
    if s == "Uppföljning och bortfall":
        lab = {sh.key(r, sh.key_cols[0]): r for r in rows}
        sets = [("Baslinjer (Grund/återaktualisering)",
                 ["Uppföljd", "Ej uppföljd (fönstret passerat)", "Ej aktuell ännu (fönstret öppet)"]),
                ("Baslinjer där fönstret passerat eller uppföljda", ["Uppföljd", "Ej uppföljd (fönstret passerat)"]),
                ("Bortfall bland förfallna baslinjer", ["Ej uppföljd (fönstret passerat)"]),
                ("Uppföljningsintervjuer", ["Uppföljningar använda som utfall", "Ingen Grund för klienten",
                                            "Samma dag som eller före klientens Grund",
                                            "För tidig (före fönstrets början)", "För sen (efter fönstrets slut)",
                                            "Annan uppföljning vald enligt regeln"])]
        for col in sh.count_cols[:1]:  # the baselines/interviews; clients are not additive over rows
            for whole, ps in sets:
                if whole in lab and all(p in lab for p in ps):
                    m.eq(f"fu_sets:{col}:{whole[:12]}", [(m.c(f, s, lab[whole], col), 1)]
                         + [(m.c(f, s, lab[p], col), -1) for p in ps])
    if s == "Förändring per område":
        parts = ("Förbättrade", "Oförändrade", "Försämrade")
        shares = [j for j in (sh.col(f"Andel {p.lower()}") for p in parts) if j is not None]
        for r in rows:
            # only rows that show they have a reliable-change index: a share that is a number, or a
            # part that is not 0 (a row without an RCI publishes 0/0/0; a hidden ".." row is ambiguous)
            row = sh.rows[r]
            has_share = any(parse_cell(row[j])[0] == "x" and row[j] not in (HIDDEN, EMPTY, "") for j in shares)
            marks = [parse_cell(row[sh.col(p)]) for p in parts if sh.col(p) is not None]
            if not (has_share or any(k[0] == "<" or (k[0] == "v" and k[1] > 0) for k in marks)):
                continue
            m.eq("change_rci", [(m.c(f, s, r, "Antal par (Grund–uppföljning)"), 1),
                                (m.c(f, s, r, "Förbättrade"), -1), (m.c(f, s, r, "Oförändrade"), -1),
                                (m.c(f, s, r, "Försämrade"), -1)])
    if s == "ASI-användning":
        # Σ over the periods of a municipality = its interviews in Kompletthet (each interview has one period)
        kompl = files[f].get("Kompletthet")
        if kompl is not None:
            krow = {kompl.labels[r]: r for r in range(len(kompl.rows))}
            for kommun in {sh.key(r, "Kommun") for r in rows}:
                mine = [r for r in rows if sh.key(r, "Kommun") == kommun]
                for col, form, target in (("Grundintervjuer", "Grund", "Antal intervjuer"),
                                          ("Uppföljningar", "Uppföljning", "Antal intervjuer")):
                    if f != region_file and f"{form} | Fysisk hälsa" in krow:
                        m.eq(f"use_total:{col}", [(m.c(f, s, r, col), 1) for r in mine]
                             + [(m.c(f, kompl.name, krow[f"{form} | Fysisk hälsa"], target), -1)])
                rg = files[f].get("Bortfallsorsaker Grund")
                if rg is not None and rg.rows and f != region_file:
                    m.eq("use_total:Bortfall (Grund)", [(m.c(f, s, r, "Bortfall (Grund)"), 1) for r in mine]
                         + [(m.c(f, rg.name, 0, N_COL), -1)])
    if s == "Förändring per område":
        fu = files[f].get("Uppföljning och bortfall")
        lab = {fu.labels[r]: r for r in range(len(fu.rows))} if fu is not None else {}
        for r in rows:  # a client has at least one pair; pairs ≤ the followed-up baselines
            m.between("change_le", [(m.c(f, s, r, "Antal par (Grund–uppföljning)"), 1),
                                    (m.c(f, s, r, N_COL), -1)], 0, np.inf)
            if "Uppföljd" in lab and len(fu.count_cols) >= 2:
                m.between("change_le", [(m.c(f, fu.name, lab["Uppföljd"], fu.count_cols[0]), 1),
                                        (m.c(f, s, r, "Antal par (Grund–uppföljning)"), -1)], 0, np.inf)
                m.between("change_le", [(m.c(f, fu.name, lab["Uppföljd"], fu.count_cols[1]), 1),
                                        (m.c(f, s, r, N_COL), -1)], 0, np.inf)
    if s.startswith("Bortfallsorsaker"):
        for r in range(1, len(sh.rows)):
            m.eq("reasons", [(m.c(f, s, r, N_COL), 1), (m.c(f, s, 0, N_COL), -1)])
        if sh.rows:
            m.eq("reasons", [(m.c(f, s, r, K_COL), 1) for r in rows] + [(m.c(f, s, 0, N_COL), -1)])
    if s == "Insatser genomförda":
        lab = [sh.key(r, sh.key_cols[0]) for r in rows]
        if "Alla insatser" in lab:
            a = lab.index("Alla insatser")
            for col in (N_COL, K_COL):
                m.eq("insatser", [(m.c(f, s, a, col), 1)] + [(m.c(f, s, r, col), -1) for r in rows if r != a])


def _kompletthet(m, f, sheets, Nf, t1mf):
    sh = sheets.get("Kompletthet")
    if sh is None:
        return
    s = sh.name
    fu = sheets.get("Uppföljning och bortfall")
    fu_row = None
    if fu is not None:
        labs = [fu.key(r, fu.key_cols[0]) for r in range(len(fu.rows))]
        fu_row = labs.index("Uppföljningsintervjuer") if "Uppföljningsintervjuer" in labs else None
    reasons = [c for c in sh.header if c.startswith("Saknas:")]
    for r in range(len(sh.rows)):
        # an interview can have several reasons: missing index ≤ Σ reasons, each reason ≤ missing index
        idx = m.c(f, s, r, "Index saknas")
        m.between("kompl_reasons", [(idx, 1)] + [(m.c(f, s, r, c), -1) for c in reasons], -np.inf, 0)
        for c in reasons:
            m.between("kompl_reasons", [(idx, 1), (m.c(f, s, r, c), -1)], 0, np.inf)
        form, area = sh.key(r, "Formulär"), sh.key(r, "Livsområde")
        if form == "Grund":
            comp = f"Sammanvägt index: {area}"
            rating = [k for k in t1mf if k.startswith("Intervjuarskattning:") and area.lower() in k.lower()]
            if comp in t1mf:
                m.eq("kompl_t1", [(m.c(f, s, r, "Index saknas"), 1), (t1mf[comp], -1)])
            if len(rating) == 1:
                m.eq("kompl_t1", [(m.c(f, s, r, "Intervjuarskattning saknas"), 1),
                                  (m.c(f, s, r, "Intervjuarskattning ej relevant (N)"), 1), (t1mf[rating[0]], -1)])
            if Nf is not None:
                m.eq("kompl_t1", [(m.c(f, s, r, N_COL), 1), (Nf, -1)])
        elif form == "Uppföljning" and fu_row is not None:
            cols = fu.count_cols
            if len(cols) >= 2:
                m.eq("kompl_fu", [(m.c(f, s, r, "Antal intervjuer"), 1), (m.c(f, fu.name, fu_row, cols[0]), -1)])
                m.eq("kompl_fu", [(m.c(f, s, r, N_COL), 1), (m.c(f, fu.name, fu_row, cols[1]), -1)])


def _bortfall(m, f, sheets, t1f):
    sh = sheets.get("Bortfall Grund")
    if sh is None:
        return
    s = sh.name
    if t1f:
        ks, _ = t1f
        for r in range(len(sh.rows)):
            kc = ks.get(("Kön", sh.key(r, sh.key_cols[0])))
            m.eq("bortfall_t1", [(m.c(f, s, r, N_COL), 1), (m.c(f, s, r, K_COL), -1), (kc, -1)])
    rg = sheets.get("Bortfallsorsaker Grund")
    if rg is not None and rg.rows:
        m.eq("reasons", [(m.c(f, rg.name, 0, N_COL), 1)] + [(m.c(f, s, r, K_COL), -1) for r in range(len(sh.rows))])


def _overview(m, f, sheets, Nf, is_region):
    """ "Materialet i korthet": the unit's N, its target group and bortfall, its due baselines."""
    sh = sheets.get("Materialet i korthet")
    if sh is None:
        return
    s = sh.name
    lab = {sh.key(r, sh.key_cols[0]): r for r in range(len(sh.rows))}
    if "Klienter med ASI Grund" in lab and Nf is not None:
        m.eq("overview", [(m.c(f, s, lab["Klienter med ASI Grund"], "Antal"), 1), (Nf, -1)])
    use = sheets.get("ASI-användning")
    r = lab.get("Målgruppen: Grundbortfall (ej intervjuade)")
    if use is not None and r is not None and not is_region:  # the periods of one municipality partition it
        for col, src in (("Antal", "Målgrupp (Grund + bortfall)"), ("Varav", "Bortfall (Grund)")):
            m.eq("overview", [(m.c(f, s, r, col), 1)]
                 + [(m.c(f, use.name, i, src), -1) for i in range(len(use.rows))])
    fu = sheets.get("Uppföljning och bortfall")
    r = lab.get("Baslinjer där uppföljning förfallit: uppföljda")
    if fu is not None and r is not None and fu.count_cols:
        flab = {fu.labels[i]: i for i in range(len(fu.rows))}
        for col, src in (("Antal", "Baslinjer där fönstret passerat eller uppföljda"), ("Varav", "Uppföljd")):
            if src in flab:
                m.eq("overview", [(m.c(f, s, r, col), 1), (m.c(f, fu.name, flab[src], fu.count_cols[0]), -1)])


def _region_links(m, files, N, t1miss, region_file, idx=None):
    reg = files[region_file]
    by_unit = {sheets["Klientgruppen"].unit: f for f, sheets in files.items()
               if f != region_file and "Klientgruppen" in sheets}
    sh = reg.get("Problem per kommun")
    if sh is not None:
        for r in range(len(sh.rows)):
            f = by_unit.get(sh.key(r, "Kommun"))
            if f is None:
                if sh.key(r, "Kommun") in (idx or {}):     # no workbook: the index has its count
                    m.eq("region_kommun", [(m.c(region_file, sh.name, r, N_COL), 1),
                                           (idx[sh.key(r, "Kommun")][0], -1)])
                continue
            m.eq("region_kommun", [(m.c(region_file, sh.name, r, N_COL), 1), (N[f], -1)])
            meas = sh.key(r, "Mått")
            if meas in t1miss.get(f, {}):
                m.eq("region_kommun", [(m.c(region_file, sh.name, r, MISS_COL), 1), (t1miss[f][meas], -1)])
    use = reg.get("ASI-användning")
    if use is not None:
        for r in range(len(use.rows)):
            k, period = use.key(r, "Kommun"), use.key(r, "Period")
            f = by_unit.get(k)
            own = files.get(f, {}).get("ASI-användning") if f else None
            if own is None:
                continue
            mine = [i for i in range(len(own.rows)) if own.key(i, "Kommun") == k and
                    (own.key(i, "Period") == period or own.key(i, "Period").startswith(period + " "))]
            if not mine:
                continue
            for col in use.count_cols:
                m.eq(f"use_region:{col}", [(m.c(region_file, use.name, r, col), 1)]
                     + [(m.c(f, own.name, i, col), -1) for i in mine])


# Tables whose cells partition by municipality (a client counts in the municipality of the latest
# Grund, an interview in its own). Not "Uppföljning och bortfall" / "Förändring per område": the
# pairing of a baseline with a follow-up is done within each municipality, so a client who moves
# is paired differently in the region (the demo's own numbers contradict the sum there).
_CROSS = ("Klientgruppen", "Klientgruppen, medelvärden", "Problem per kön", "Problem per åldersgrupp",
          "Problem per huvudpreparat", "Kompletthet", "Bortfall Grund", "Bortfallsorsaker Grund",
          "Bortfallsorsaker uppföljning", "Insatser genomförda")


def _cross_sums(m, files, region_file, idx, listed):
    """Region cell = Σ the municipalities' cells (+ an unknown for those without the table).

    ``listed``: the region's municipalities; ``idx``: their index cells. A municipality
    whose workbook lacks the table (none at all, or one with only the material in brief)
    adds one unknown count ≥ 0 per region cell (not reported), at most their clients; in
    Table 1 and the profiles their "Antal klienter" is exactly their clients. A table some
    such municipality lacks and the index does not count is not summed.
    """
    reg = files[region_file]
    others = [f for f in files if f != region_file]
    unit_of = {f: next(iter(files[f].values())).unit for f in others if files[f]}
    for s in _CROSS:
        rsh = reg.get(s)
        if rsh is None:
            continue
        have = [f for f in others if s in files[f]]
        lacking = set(listed) - {unit_of.get(f) for f in have}
        if not all(u in idx for u in lacking):
            continue
        missing_n = [idx[u][0] for u in sorted(lacking)]
        profile = s.startswith("Problem per")
        lab_of = {f: {lab: i for i, lab in enumerate(files[f][s].labels)} for f in have}
        for r, lab in enumerate(rsh.labels):
            for col in rsh.count_cols:
                terms = [(m.c(region_file, s, r, col), 1)]
                if missing_n:
                    u = m.add_cell("(utan tabeller)", s, r, lab, col, "..")
                    m.cells[u]["internal"] = True
                    terms.append((u, -1))
                    rest = [(c, -1) for c in missing_n]
                    if col == N_COL and (s.startswith("Klientgruppen") or (profile and lab.startswith(TOTAL))):
                        m.eq("cross_missing_n", [(u, 1)] + rest)
                    elif s.startswith(("Klientgruppen", "Problem per")):   # their clients: at most N
                        m.between("cross_missing_le", [(u, 1)] + rest, -np.inf, 0.0)
                ok = True
                for f in have:
                    i = lab_of.get(f, {}).get(lab)
                    if i is None:
                        if profile:
                            continue  # the group is empty there: contributes 0
                        ok = False
                        break
                    terms.append((m.c(f, s, i, col), -1))
                if ok:
                    m.eq(f"cross_sum:{s}:{col}", terms)


# --------------------------------------------------------------------------- solving
def _check_families(model: Model) -> set[str]:
    bad = set()
    for fam, coef, lo, hi in model.rel:
        vals = [model.cells[c]["value"] if model.cells[c]["kind"] == "v" else None for c in coef]
        if any(v is None for v in vals):
            continue
        s = sum(a * v for a, v in zip(coef.values(), vals))
        if s < lo - 1e-9 or s > hi + 1e-9:
            bad.add(fam)
    return bad


class _UF:
    def __init__(self, n):
        self.p = list(range(n))

    def find(self, x):
        while self.p[x] != x:
            self.p[x] = self.p[self.p[x]]
            x = self.p[x]
        return x

    def union(self, a, b):
        self.p[self.find(a)] = self.find(b)


def _reduce(model: Model, bad: set, big: int):
    """Merge cells that relations declare equal; fix the classes holding a visible cell.

    Returns (class of each cell, class info, relations over the unknown classes,
    families contradicted after the substitution).
    """
    mc = model.min_cell
    rels = [r for r in model.rel if r[0] not in bad]
    uf = _UF(len(model.cells))
    for fam, coef, lo, hi in rels:
        if lo == hi == 0 and len(coef) == 2 and sorted(coef.values()) == [-1.0, 1.0]:
            a, b = coef
            uf.union(a, b)
    cls = {}
    info = {}
    for i, cell in enumerate(model.cells):
        r = uf.find(i)
        cls[i] = r
        d = info.setdefault(r, {"value": None, "lo": 0, "hi": big, "dot": False, "conflict": False})
        k = cell["kind"]
        if k == "v":
            if d["value"] is not None and d["value"] != cell["value"]:
                d["conflict"] = True
            d["value"] = cell["value"]
        elif k == "<":
            d["lo"], d["hi"] = max(d["lo"], 1), min(d["hi"], cell["value"] - 1)
        elif k == ".." and cell.get("protected", False):
            d["dot"] = True
    for d in info.values():
        if d["dot"] and d["hi"] < mc:  # ".." ∩ "<m": only 0 is left of {0} ∪ [m, ∞)
            d["hi"] = 0
            d["dot"] = False
    contradicted = set()
    hrels = []
    for fam, coef, lo, hi in rels:
        h = defaultdict(float)
        s = 0.0
        for c, a in coef.items():
            d = info[cls[c]]
            if d["value"] is not None:
                s += a * d["value"]
            else:
                h[cls[c]] += a
        h = {c: a for c, a in h.items() if a != 0}
        if not h:
            if s < lo - 1e-9 or s > hi + 1e-9:
                contradicted.add(fam)
            continue
        hrels.append((fam, h, lo - s, hi - s))
    return cls, info, hrels, contradicted


def _propagate(info, hrels, mc, passes: int = 100):
    """Interval propagation over the relations (sound, integer-rounded); fixes classes where lo == hi."""
    free = [c for c, d in info.items() if d["value"] is None]
    lo = {c: float(info[c]["lo"]) for c in free}
    hi = {c: float(info[c]["hi"]) for c in free}
    for _ in range(passes):
        changed = False
        for _, h, L, U in hrels:
            h = {c: a for c, a in h.items() if c in lo}
            mins = {c: a * (lo[c] if a > 0 else hi[c]) for c, a in h.items()}
            maxs = {c: a * (hi[c] if a > 0 else lo[c]) for c, a in h.items()}
            smin, smax = sum(mins.values()), sum(maxs.values())
            for c, a in h.items():
                top = U - (smin - mins[c])      # a·x ≤ top
                bot = L - (smax - maxs[c])      # a·x ≥ bot
                nlo, nhi = lo[c], hi[c]
                if a > 0:
                    if np.isfinite(top):
                        nhi = min(nhi, np.floor(top / a + 1e-9))
                    if np.isfinite(bot):
                        nlo = max(nlo, np.ceil(bot / a - 1e-9))
                else:
                    if np.isfinite(top):
                        nlo = max(nlo, np.ceil(top / a - 1e-9))
                    if np.isfinite(bot):
                        nhi = min(nhi, np.floor(bot / a + 1e-9))
                if info[c]["dot"]:  # {0} ∪ [m, ∞)
                    if nlo > 0:
                        nlo = max(nlo, mc)
                    if nhi < mc:
                        nhi = 0
                if nlo > lo[c] or nhi < hi[c]:
                    lo[c], hi[c] = nlo, nhi
                    changed = True
        if not changed:
            break
    for c in free:
        if lo[c] > hi[c]:
            continue  # contradiction: left to the MILP, which reports it
        info[c]["lo"], info[c]["hi"] = int(lo[c]), int(hi[c])
        if lo[c] == hi[c]:
            info[c]["value"] = int(lo[c])


def _substitute(hrels, info):
    out = []
    for fam, h, lo, hi in hrels:
        s = sum(a * info[c]["value"] for c, a in h.items() if info[c]["value"] is not None)
        h2 = {c: a for c, a in h.items() if info[c]["value"] is None}
        if h2:
            out.append((fam, h2, lo - s, hi - s))
    return out


def _components(nodes, rels):
    idx = {n: i for i, n in enumerate(nodes)}
    uf = _UF(len(nodes))
    for _, coef, _, _ in rels:
        hs = [idx[c] for c in coef]
        for a in hs[1:]:
            uf.union(a, hs[0])
    comp = defaultdict(list)
    for n in nodes:
        comp[uf.find(idx[n])].append(n)
    return list(comp.values())


class _Block:
    """One connected block of unknown classes as a MILP (scipy.optimize.milp, HiGHS)."""

    def __init__(self, comp, info, hrels, ks, mc, big):
        from scipy.optimize import Bounds, LinearConstraint
        from scipy.sparse import coo_matrix

        self.comp = comp
        self.pos = {c: i for i, c in enumerate(comp)}
        dots = [c for c in comp if info[c]["dot"]]
        self.nv = nv = len(comp) + len(dots)
        lb = np.array([info[c]["lo"] for c in comp] + [0] * len(dots), dtype=float)
        ub = np.array([info[c]["hi"] for c in comp] + [1] * len(dots), dtype=float)
        r_i, c_i, v_i, lo_a, hi_a = [], [], [], [], []
        row = 0
        for j, c in enumerate(dots):  # x = 0 or x ≥ m:  m·b ≤ x ≤ big·b
            b = len(comp) + j
            for coef_b, lo, hi in ((-mc, 0, np.inf), (-big, -np.inf, 0)):
                r_i += [row, row]
                c_i += [self.pos[c], b]
                v_i += [1.0, float(coef_b)]
                lo_a.append(lo), hi_a.append(hi)
                row += 1
        for k in ks:
            _, h, lo, hi = hrels[k]
            for c, a in h.items():
                r_i.append(row), c_i.append(self.pos[c]), v_i.append(a)
            lo_a.append(lo), hi_a.append(hi)
            row += 1
        A = coo_matrix((v_i, (r_i, c_i)), shape=(row, nv)).tocsr()
        self.cons = [LinearConstraint(A, lo_a, hi_a)] if row else []
        self.bounds = Bounds(lb, ub)

    def opt(self, obj):
        from scipy.optimize import milp

        r = milp(obj, constraints=self.cons, integrality=np.ones(self.nv), bounds=self.bounds,
                 options={"time_limit": 120})
        return r.x if r.status == 0 and r.x is not None else None

    def unit(self, c, sign):
        obj = np.zeros(self.nv)
        obj[self.pos[c]] = sign
        return obj


def solve(model: Model, big: int | None = None, seed: int = 0) -> pd.DataFrame:
    """Feasible range of every hidden count cell (MILP, min and max of each).

    Relations are checked on their fully known instances (a family with a
    violated instance is dropped). A connected block of unknown cells whose
    relations cannot all hold is repaired by dropping, one at a time, the
    family whose removal makes it feasible (recorded in ``attrs["dropped"]``).
    Cells declared equal are merged first; a few random objectives give
    feasible points (inner bounds), and an exact MILP min/max is solved only
    where those do not already reach the marker's own limits.
    """
    mc = model.min_cell
    visible_max = max([c["value"] for c in model.cells if c["kind"] == "v"] + [1])
    big = big or 4 * visible_max + 10
    bad = _check_families(model)
    infeasible = []
    while True:
        cls, info, hrels, contradicted = _reduce(model, bad, big)
        if contradicted:
            bad |= contradicted
            continue
        _propagate(info, hrels, mc)
        hrels = _substitute(hrels, info)
        unknown = sorted({cls[i] for i, c in enumerate(model.cells) if c["kind"] != "v"
                          and info[cls[i]]["value"] is None})
        by_cls = defaultdict(list)
        for k, (_, h, _, _) in enumerate(hrels):
            for c in h:
                by_cls[c].append(k)
        comps = _components(unknown, hrels)
        repaired = False
        blocks = {}
        for n_comp, comp in enumerate(comps):
            ks = sorted({k for c in comp for k in by_cls[c]})
            blk = _Block(comp, info, hrels, ks, mc, big)
            x0 = blk.opt(np.zeros(blk.nv))
            if x0 is not None:
                blocks[n_comp] = (blk, x0)
                continue
            fams = sorted({hrels[k][0] for k in ks}, key=lambda f: (not f.startswith("cross_sum"), f))
            for fam in fams:
                b2 = _Block(comp, info, hrels, [k for k in ks if hrels[k][0] != fam], mc, big)
                if b2.opt(np.zeros(b2.nv)) is not None:
                    bad.add(fam)
                    repaired = True
                    break
            if not repaired:
                infeasible.append(comp)
                blocks[n_comp] = (blk, None)
                continue
            break
        if not repaired:
            break
    rng = np.random.default_rng(seed)
    rng_of = {}
    for blk, x0 in blocks.values():
        if x0 is None:
            for c in blk.comp:
                rng_of[c] = (np.nan, np.nan)
            continue
        n = len(blk.comp)
        xs = [x0]
        for obj in (np.ones(n), -np.ones(n), *(rng.choice([-1.0, 1.0], n) for _ in range(4))):
            full = np.zeros(blk.nv)
            full[:n] = obj
            x = blk.opt(full)
            if x is not None:
                xs.append(x)
        X = np.round(np.array(xs)[:, :n])
        wlo, whi = X.min(axis=0), X.max(axis=0)
        exact_lo, exact_hi = np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
        for c in blk.comp:
            i = blk.pos[c]
            d = info[c]
            # every optimum found is one more feasible point: it widens the inner bounds of all cells
            if wlo[i] > d["lo"] and not exact_lo[i]:
                x = np.round(blk.opt(blk.unit(c, 1))[:n])
                wlo, whi = np.minimum(wlo, x), np.maximum(whi, x)
                exact_lo[i] = True
            if whi[i] < d["hi"] and not exact_hi[i]:
                x = np.round(blk.opt(blk.unit(c, -1))[:n])
                wlo, whi = np.minimum(wlo, x), np.maximum(whi, x)
                exact_hi[i] = True
        for c in blk.comp:
            i = blk.pos[c]
            hi = np.inf if whi[i] >= big - 1 else whi[i]  # reaching the artificial cap: unbounded
            rng_of[c] = (wlo[i], hi)
    out = []
    for i, cell in enumerate(model.cells):
        if cell["kind"] in ("v", "–") or cell.get("internal"):
            continue
        d = info[cls[i]]
        lo, hi = (d["value"], d["value"]) if d["value"] is not None else rng_of.get(cls[i], (d["lo"], d["hi"]))
        out.append({"file": cell["file"], "sheet": cell["sheet"], "row": cell["row"],
                    "column": cell["column"], "marker": cell["marker"], "lo": lo, "hi": hi})
    df = pd.DataFrame(out, columns=["file", "sheet", "row", "column", "marker", "lo", "hi"])
    df["lo"] = df["lo"].astype(float)
    df["hi"] = df["hi"].astype(float)
    df["recovered"] = (df["lo"] == df["hi"]).astype(bool)
    width = df["hi"] - df["lo"]
    small = df["marker"].str.startswith("<")
    # narrowed: a "<m" known better than 1..m-1; a ".." known to within fewer than m values
    df["narrowed"] = (small & ((df["lo"] > 1) | (df["hi"] < mc - 1))) | (~small & (width < mc - 1))
    df.attrs["dropped"] = sorted(bad)
    df.attrs["families"] = sorted({r[0] for r in model.rel if r[0] not in bad})
    df.attrs["infeasible"] = [[model.cells[j]["row"] for j, c in cls.items() if c in comp][:5]
                              for comp in infeasible]
    df.attrs["min_cell"] = mc
    return df


def read_folder(folder) -> tuple[Model, dict]:
    """All published files of an output folder into a :class:`Model` with its relations."""
    folder = Path(folder)
    files = {}
    model = Model()
    for path in sorted(folder.glob("*.xlsx")):
        sheets = {sh.name: sh for sh in read_workbook(path)}
        files[path.name] = sheets
        for sh in sheets.values():
            for r, row in enumerate(sh.rows):
                for col in sh.count_cols:
                    model.add_cell(path.name, sh.name, r, sh.labels[r], col, row[sh.header.index(col)])
    index_rows = read_index(folder / "index.html") if (folder / "index.html").exists() else []
    region = "region.xlsx" if "region.xlsx" in files else None
    _build(model, files, index_rows, region)
    # a ".." is a hidden count, never 1..m-1, only in a column that publish protects as a count
    # (one that shows "<m" somewhere, the index included); a column that never shows "<m" may be
    # a count that publish treats as a statistic (Kompletthet's "Antal intervjuer" is one), and a
    # release shows every hidden count as ".." with no "<m" at all: there ".." is any value ≥ 0
    protected = {(c["sheet"], c["column"]) for c in model.cells if c["kind"] == "<"}
    for c in model.cells:
        c["protected"] = (c["sheet"], c["column"]) in protected
    return model, files


def attack(folder) -> pd.DataFrame:
    """Every hidden count of the folder with its feasible range.

    Returns
    -------
    DataFrame
        ``file, sheet, row, column, marker, lo, hi, recovered, narrowed``;
        ``attrs``: ``families`` used, ``dropped`` (contradicted by visible
        numbers), ``infeasible`` components, ``min_cell``.
    """
    model, _ = read_folder(folder)
    return solve(model)
