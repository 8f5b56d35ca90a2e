"""The analyst notebooks stay thin, parameterised, executed and private.

Rules (checked on the committed .ipynb files; the output rules on a fresh execution):

* thin: code cells hold no ``def``/``class``/``lambda``, no ``for``/``while``
  and no comprehensions (loops in disguise) — the logic lives in asi_lib;
* every table a cell shows is a ``publish(...)`` result: the last statement
  of a code cell, when it is an expression, is a call to ``publish``, a
  name whose last assignment in the cell is ``publish(...)``, ``print(...)``,
  or a plot (``so.``/``sns.``/``plt.`` call, or a kit helper ``plot_*``,
  e.g. ``reports.plot_profile``, ``plots.plot_change``); ``display`` only of publish;
* every ``publish`` call passes ``min_cell=MIN_CELL`` and ``lang=LANG``, so
  papermill parameters reach every table;
* one ``parameters``-tagged cell defines OUT, KOMMUN, LANG and MIN_CELL;
* the committed notebook is light (outputs only in ``# NBVAL_CHECK_OUTPUT``
  cells, see ``tools/lighten_notebooks.py``); executed now (nbclient, the
  project's kernel), it is error-free, shows no pseudonym or client id, and
  no count column of a shown table holds 1 … MIN_CELL − 1;
* notebooks 00–05 and their jupytext sources ``notebooks/NN_*.py`` (percent
  format, the source of truth) hold the same cells (types, sources, tags).

Run the notebooks themselves with nbval (see docs/notebooks.md).
"""
from __future__ import annotations

import ast
import functools
import re
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest

from asi_lib.publish import COLUMN_LABELS

ROOT = Path(__file__).resolve().parent.parent
NB_DIR = ROOT / "notebooks"
OWN = sorted(p for p in NB_DIR.glob("0[0-5]_*.ipynb"))
ALL = sorted(NB_DIR.glob("*.ipynb"))
MIN_CELL = 5  # the default of the parameters cell (checked below)

FORBIDDEN = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda, ast.For, ast.AsyncFor,
             ast.While, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
PLOT_ROOTS = {"so", "sns", "plt"}
PARAMETERS = {"OUT", "KOMMUN", "LANG", "MIN_CELL"}
#: Swedish headings of count columns (publish's own table of headings).
_COUNT_KEY = re.compile(r"^(n|k)$|^(n|k)_|_(n|k)$")
COUNT_HEADINGS = {sv for key, (sv, _en) in COLUMN_LABELS.items() if _COUNT_KEY.search(key)}


# --------------------------------------------------------------------------- static rules
def _root_name(node: ast.AST) -> str | None:
    """Leftmost name of a call chain: ``so.Plot(x).add(y)`` → ``so``."""
    while True:
        if isinstance(node, ast.Call):
            node = node.func
        elif isinstance(node, ast.Attribute):
            node = node.value
        elif isinstance(node, ast.Subscript):
            node = node.value
        elif isinstance(node, ast.Name):
            return node.id
        else:
            return None


def _is_kit_plot(node: ast.AST) -> bool:
    """A call of a kit plotting helper: ``reports.plot_profile(...)``, ``plots.plot_change(...)``."""
    if not isinstance(node, ast.Call):
        return False
    f = node.func
    name = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""
    return name.startswith("plot_")


def _is_publish(node: ast.AST) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "publish"


def cell_problems(src: str) -> list[str]:
    """Thinness problems of one code cell ([] when it follows the rules)."""
    lines = [ln for ln in src.splitlines() if not ln.lstrip().startswith(("%", "!"))]
    tree = ast.parse("\n".join(lines))
    problems = []
    for node in ast.walk(tree):
        if isinstance(node, FORBIDDEN):
            problems.append(f"{type(node).__name__} at line {node.lineno}: logic belongs in asi_lib")
        if _is_publish(node):
            kw = {k.arg: k.value for k in node.keywords}
            for arg, name in (("min_cell", "MIN_CELL"), ("lang", "LANG")):
                if not (isinstance(kw.get(arg), ast.Name) and kw[arg].id == name):
                    problems.append(f"publish(...) at line {node.lineno} without {arg}={name}")
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "display"
                and not all(_is_publish(a) for a in node.args)):
            problems.append(f"display(...) at line {node.lineno} of something that is not publish(...)")
    if not tree.body or not isinstance(tree.body[-1], ast.Expr):
        return problems
    last = tree.body[-1].value
    published = set()
    for stmt in tree.body[:-1]:
        if isinstance(stmt, ast.Assign):
            for t in stmt.targets:
                if isinstance(t, ast.Name):
                    (published.add if _is_publish(stmt.value) else published.discard)(t.id)
    ok = (_is_publish(last)
          or (isinstance(last, ast.Name) and last.id in published)
          or (isinstance(last, ast.Call) and _root_name(last) in PLOT_ROOTS | {"print", "display"})
          or _is_kit_plot(last))
    if not ok:
        problems.append(f"the cell shows `{ast.unparse(last)[:60]}`, which is not a publish(...) result")
    return problems


def _code_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


def _read(path: Path):
    return nbformat.read(path, as_version=4)


def test_checker_catches_what_it_should():
    bad = {
        "for x in range(3):\n    pass": "For",
        "def f():\n    return 1": "FunctionDef",
        "xs = [x for x in y]": "ListComp",
        "f = lambda x: x": "Lambda",
        "while True:\n    break": "While",
        "df.head()": "not a publish",
        "reports.profile_plot_data(p)": "not a publish",
        "frame": "not a publish",
        "p = publish(t, min_cell=MIN_CELL, lang=LANG)\np = t\np": "not a publish",
        "publish(t)": "without min_cell",
        "publish(t, min_cell=5, lang=LANG)": "without min_cell=MIN_CELL",
        "display(t)": "display",
    }
    for src, needle in bad.items():
        assert any(needle in p for p in cell_problems(src)), src
    good = [
        "publish(groups.profile(ds), min_cell=MIN_CELL, lang=LANG)",
        "p = publish(t, min_cell=MIN_CELL, lang=LANG)\np",
        "print(kommun)",
        "so.Plot(d, x='a').add(so.Dot())",
        "reports.plot_profile(p, min_cell=MIN_CELL, lang=LANG)",
        "plots.plot_change(c, min_cell=MIN_CELL, lang=LANG)",
        "import pandas as pd\nds = load_store(OUT)",
        "display(publish(t, min_cell=MIN_CELL, lang=LANG))",
    ]
    for src in good:
        assert cell_problems(src) == [], src


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.name)
def test_notebook_is_thin(path):
    problems = {i: cell_problems(c.source) for i, c in enumerate(_code_cells(_read(path)))}
    problems = {i: p for i, p in problems.items() if p}
    assert not problems, problems


# --------------------------------------------------------------------------- structure
@pytest.mark.parametrize("path", OWN, ids=lambda p: p.name)
def test_parameters_cell_and_kernel(path):
    nb = _read(path)
    assert nb.metadata["kernelspec"]["name"] == "asi-kit"
    tagged = [c for c in _code_cells(nb) if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1
    tree = ast.parse(tagged[0].source)
    values = {t.id: ast.literal_eval(s.value) for s in tree.body if isinstance(s, ast.Assign)
              for t in s.targets if isinstance(t, ast.Name)}
    assert PARAMETERS <= set(values), PARAMETERS - set(values)
    assert values["MIN_CELL"] == MIN_CELL and values["LANG"] == "sv"
    # the parameters come before any other code
    assert _code_cells(nb).index(tagged[0]) == 0


def _cells(nb):
    return [(c.cell_type, c.source, list(c.metadata.get("tags", []))) for c in nb.cells]


@pytest.mark.parametrize("path", OWN, ids=lambda p: p.name)
def test_notebook_and_its_text_source_do_not_drift(path):
    """The committed .ipynb holds exactly the cells of its jupytext source (docs/notebooks.md)."""
    import jupytext

    src = path.with_suffix(".py")
    assert src.is_file(), f"no jupytext source {src.name}: run `jupytext --set-formats ipynb,py:percent {path.name}`"
    text, committed = jupytext.read(src), jupytext.read(path)
    assert committed.metadata.get("jupytext", {}).get("formats") == "ipynb,py:percent"
    assert _cells(committed) == _cells(text), f"run `jupytext --sync notebooks/{src.name}` (or make notebooks)"
    assert committed.metadata["kernelspec"] == text.metadata["kernelspec"]


def test_drift_check_sees_a_changed_cell(tmp_path):
    """The comparison above fails when one side gains a cell or a cell's text changes."""
    import jupytext

    nb = jupytext.read(OWN[0])
    text = jupytext.reads(jupytext.writes(nb, fmt="py:percent"), fmt="py:percent")
    assert _cells(text) == _cells(nb)
    text.cells[-1].source += "\n# ändrad"
    assert _cells(text) != _cells(nb)
    text.cells.pop()
    assert _cells(text) != _cells(nb)
    assert not list((ROOT / "tools").glob("notebook_0*.py")), "the .py sources replace the generators"


# --------------------------------------------------------------------------- outputs
class _Tables(HTMLParser):
    """Rows of cell texts of every <table> in an HTML string."""

    def __init__(self):
        super().__init__()
        self.tables, self._row, self._cell = [], None, None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = ""

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._row is not None:
            self._row.append((self._cell or "").strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.tables[-1].append(self._row)
            self._row = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data


def _html_tables(nb):
    for c in _code_cells(nb):
        for o in c.get("outputs", []):
            html = o.get("data", {}).get("text/html")
            if html and "<table" in html:
                parser = _Tables()
                parser.feed(html)
                yield from parser.tables


def test_table_parser_reads_a_pandas_table():
    import pandas as pd

    html = pd.DataFrame({"Antal klienter": ["12", "<5"], "Andel": ["3 %", ".."]}).to_html()
    parser = _Tables()
    parser.feed(html)
    assert parser.tables == [[["", "Antal klienter", "Andel"], ["0", "12", "3 %"], ["1", "<5", ".."]]]


@functools.lru_cache(maxsize=None)
def _executed(path: Path):
    """The notebook executed now (in a copy, with the project's kernel and its defaults)."""
    from nbclient import NotebookClient

    from asi_lib.reports import ensure_kernel

    nb = _read(path)
    NotebookClient(nb, kernel_name=ensure_kernel(), timeout=600,
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    return nb


@pytest.mark.parametrize("path", OWN, ids=lambda p: p.name)
def test_committed_notebook_is_light(path):
    """Outputs only where nbval compares them; the rendered reports hold the rest."""
    nb = _read(path)
    assert path.stat().st_size < 50_000, path.stat().st_size
    heavy = [i for i, c in enumerate(_code_cells(nb)) if c.outputs and "NBVAL_CHECK_OUTPUT" not in c.source]
    assert not heavy, f"run tools/lighten_notebooks.py (cells {heavy} carry outputs)"


@pytest.mark.parametrize("path", OWN, ids=lambda p: p.name)
def test_outputs_are_executed_and_clean(path):
    nb = _executed(path)
    cells = _code_cells(nb)
    assert all(c.execution_count is not None for c in cells)
    errors = [o for c in cells for o in c.outputs if o.output_type == "error"]
    assert not errors, [e.ename for e in errors]
    checked = [c for c in cells if "NBVAL_CHECK_OUTPUT" in c.source]
    assert len(checked) >= 2 and all(c.outputs for c in checked)
    text = "\n".join(str(o) for c in cells for o in c.outputs)
    assert "client_pid" not in text and "client_id" not in text
    assert not re.search(r"\b[0-9a-f]{64}\b", text), "a pseudonym (HMAC hex) is visible"
    _no_small_count_is_visible(nb)  # the same execution (each notebook is run once per test run)


def _no_small_count_is_visible(nb):
    small = {str(i) for i in range(1, MIN_CELL)}
    tables = list(_html_tables(nb))
    assert tables, "no published table in the notebook"
    checked = 0
    for rows in tables:
        header = rows[0]
        cols = [j for j, h in enumerate(header) if h in COUNT_HEADINGS or h.startswith("Antal klienter")]
        checked += len(cols)
        leaks = [(r[0], header[j], r[j]) for r in rows[1:] for j in cols if j < len(r) and r[j] in small]
        assert not leaks, leaks
    assert checked > 0
